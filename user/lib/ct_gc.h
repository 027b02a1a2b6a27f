/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Conntrack and fragment garbage collection, and the expiry rule it shares
 * with the datapath (bpf/conntrack.h) and `sgbpf ct list`.
 *
 * ct_est is a plain hash (a confirmed flow is never evicted), so expired
 * entries stay until someone deletes them: the datapath does only when a
 * packet of the same tuple comes back. The collector walks both conntrack
 * tables (through ct.h, every family's map) and frags and deletes an entry only when it is expired judged from its own
 * last_seen_ns read right before the delete (spec 6.2), never from a
 * snapshot. The delete itself is BPF_MAP_LOOKUP_AND_DELETE_ELEM, which
 * returns the exact value removed: when a packet refreshed the entry in the
 * microseconds between the read and the delete, that value is put back
 * (BPF_NOEXIST, so an entry the datapath created meanwhile wins). See
 * docs/daemon.md for the windows that remain.
 *
 * Clock: the datapath stamps last_seen_ns with bpf_ktime_get_coarse_ns(),
 * which is CLOCK_MONOTONIC_COARSE; sgbpf_gc_now_ns() reads that clock.
 */
#ifndef SGBPF_CT_GC_H
#define SGBPF_CT_GC_H

#include <stdbool.h>
#include <stdint.h>

#include <sgbpf/layout.h>

#include "ct.h"
#include "loader.h"

/* Idle timeout (seconds) the datapath applies to an entry of this family,
 * protocol and state under cfg (sg_ct_timeout_idx + sg_timeout_ns). */
uint32_t sgbpf_ct_timeout_s(const struct sgbpf_slot_config *cfg, uint8_t family,
			    uint8_t proto, uint8_t state);
/* The timeout of this entry, the one sg_ct_expired() applies: as above,
 * but an unanswered mid-stream pickup (SGBPF_CT_F_PICKUP) lives as briefly
 * as an unanswered SYN. */
uint32_t sgbpf_ct_entry_timeout_s(const struct sgbpf_slot_config *cfg,
				  const struct sgbpf_ct_key *k, const struct sgbpf_ct_val *v);
/* Same for fragment memory (SGBPF_TO_FRAG). */
uint32_t sgbpf_frag_timeout_s(const struct sgbpf_slot_config *cfg);

/* ns until the entry expires at now (< 0: expired, exactly when the
 * datapath's sg_ct_expired() says so: last_seen + timeout < now). */
int64_t sgbpf_ct_expires_in_ns(const struct sgbpf_slot_config *cfg,
			       const struct sgbpf_ct_key *k, const struct sgbpf_ct_val *v,
			       uint64_t now_ns);
bool sgbpf_ct_expired(const struct sgbpf_slot_config *cfg, const struct sgbpf_ct_key *k,
		      const struct sgbpf_ct_val *v, uint64_t now_ns);
bool sgbpf_frag_expired(const struct sgbpf_slot_config *cfg, const struct sgbpf_frag_val *v,
			uint64_t now_ns);

/* CLOCK_MONOTONIC_COARSE in ns: the datapath's clock. */
uint64_t sgbpf_gc_now_ns(void);

/* Counts of one collection (all three maps), and per map. */
struct sgbpf_ct_gc_stats {
	uint64_t scanned;            /* entries read                                 */
	uint64_t expired;            /* judged expired from a fresh read             */
	uint64_t deleted;            /* deleted (expired in the value removed, too)  */
	uint64_t kept_refreshed;     /* refreshed between read and delete: put back  */
	uint64_t lost_refreshed;     /* refreshed, but putting it back failed (table
				      * full): the flow's next packet starts anew   */
	uint64_t deleted_est, deleted_new, deleted_frags;
	uint64_t restarts;           /* walks restarted (a key vanished under us)    */
	uint64_t duration_ns;
};

/* Map fds the collector works on (any may be -1 to skip that map but
 * state and slot_config, which give the active slot's timeouts). */
struct sgbpf_ct_gc_maps {
	int state, slot_config, frags;
	struct sgbpf_ct_maps ct;
};

/* Test hook: called after an entry was judged expired and right before its
 * delete. map: SGBPF_MAP_FRAGS with a struct sgbpf_frag_key, or
 * SGBPF_MAP_CT_EST/_CT_NEW naming the conntrack table (either family, see
 * ct.h) with the wide struct sgbpf_ct_key. */
typedef void (*sgbpf_ct_gc_hook)(enum sgbpf_map map, const void *key, void *ctx);

struct sgbpf_ct_gc_opts {
	sgbpf_ct_gc_hook before_delete;
	void *ctx;
	/* Force plain delete (no lookup-and-delete), as on kernels < 5.14. */
	bool plain_delete;
};

/* One pass over ct_est, ct_new and frags. st (required) is zeroed first.
 * Returns 0 or -errno (counts up to the failure are kept in st). */
int sgbpf_ct_gc_run(const struct sgbpf_ct_gc_maps *m, const struct sgbpf_ct_gc_opts *opts,
		    struct sgbpf_ct_gc_stats *st);
int sgbpf_ct_gc(struct sgbpf *h, struct sgbpf_ct_gc_stats *st);

#endif
