/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading a live node's pinned datapath state (pin.h layout) for the CLI's
 * inspection verbs. Maps are opened by path with BPF_OBJ_GET, read-only
 * unless a flag asks otherwise; no program is ever loaded or attached.
 *
 * Clocks: the datapath stamps conntrack entries with bpf_ktime_get_coarse_ns()
 * and events with bpf_ktime_get_ns(), CLOCK_MONOTONIC_COARSE and
 * CLOCK_MONOTONIC; conntrack ages and expiries are computed against the
 * former (sgbpf_gc_now_ns(), ct_gc.h), everything else the latter.
 */
#ifndef SGBPF_INSPECT_H
#define SGBPF_INSPECT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <sgbpf/layout.h>

#include "compile.h"
#include "ct.h"
#include "ct_gc.h"
#include "diag.h"
#include "loader.h"
#include "model.h"
#include "pin.h"

#define SGBPF_INSPECT_CT_WRITE (1u << 0)  /* ct_new/ct_est writable (ct flush)    */
#define SGBPF_INSPECT_EVENTS   (1u << 1)  /* events writable: a ring buffer consumer
					   * must advance the consumer position   */

struct sgbpf_inspect {
	char pin_dir[PATH_MAX];
	int fd[SGBPF_MAP_MAX];          /* -1 when that map is not pinned        */
	int rec_fd;                     /* ep_records, -1 when not pinned        */
	int ncpus;                      /* possible CPUs (per-CPU values)        */
	struct sgbpf_state state;
	struct sgbpf_slot_config cfg;   /* of the active slot                    */
	struct sgbpf_ep_record *recs;   /* active slot, SGBPF_MAX_ENDPOINTS      */
	struct sgbpf_ct_maps ct;        /* the conntrack maps of fd[] (ct.h)     */
};

/*
 * Open the pinned state under pin_dir. Returns 0, or -errno with a one-line
 * message on stderr prefixed by who (e.g. "sgbpf status") saying what to do
 * (-ENOENT: nothing pinned there; -EPERM: not root).
 */
int sgbpf_inspect_open(struct sgbpf_inspect *ins, const char *pin_dir, unsigned flags,
		       const char *who);
void sgbpf_inspect_close(struct sgbpf_inspect *ins);

/* 0 when running with CAP_SYS_ADMIN / CAP_BPF-capable root, else -EPERM
 * after a message on stderr naming who. */
int sgbpf_inspect_require_root(const char *who);

/* Current CLOCK_MONOTONIC and CLOCK_REALTIME in ns. */
uint64_t sgbpf_mono_ns(void);
uint64_t sgbpf_real_ns(void);

/* max_entries of a pinned map (0 if unknown). */
uint32_t sgbpf_inspect_max_entries(const struct sgbpf_inspect *ins, enum sgbpf_map map);
/* Entries in a hash/LPM map (walks the keys); -errno on failure. */
long sgbpf_inspect_count(const struct sgbpf_inspect *ins, enum sgbpf_map map);
/* Entries of a slot-keyed table (ep_config, ep_addrs, node_addrs, rule_trie,
 * port_trie, exempt) that belong to slot; -EINVAL for other maps. */
long sgbpf_inspect_count_slot(const struct sgbpf_inspect *ins, enum sgbpf_map map,
			      uint32_t slot);

/* Per-CPU counters summed over CPUs. */
int sgbpf_inspect_ep_stats(const struct sgbpf_inspect *ins, uint32_t ep_id,
			   struct sgbpf_ep_stats *out);
int sgbpf_inspect_global_stats(const struct sgbpf_inspect *ins, struct sgbpf_global_stats *out);
/* n rules of slot starting at rule 0 into out[0..n-1]. */
int sgbpf_inspect_rule_stats(const struct sgbpf_inspect *ins, uint32_t slot, uint32_t n,
			     struct sgbpf_rule_stats *out);

/* Endpoint id of a used record of the active slot named name, or -ENOENT. */
int sgbpf_inspect_ep_by_name(const struct sgbpf_inspect *ins, const char *name);
/* The record of ep_id in the active slot, NULL when unused. */
const struct sgbpf_ep_record *sgbpf_inspect_record(const struct sgbpf_inspect *ins,
						   uint32_t ep_id);

/* Addresses of ep_id in the active slot's ep_addrs (at most max). */
int sgbpf_inspect_ep_addrs(const struct sgbpf_inspect *ins, uint32_t ep_id,
			   struct sg_addr *out, int max);

/* The ep_config value of ep_id in the active slot; -ENOENT when none. */
int sgbpf_inspect_ep_config(const struct sgbpf_inspect *ins, uint32_t ep_id,
			    struct sgbpf_ep_val *out);

/* A conntrack entry with its times, as of now (CLOCK_MONOTONIC). */
struct sgbpf_ct_entry {
	struct sgbpf_ct_key key;
	struct sgbpf_ct_val val;
	bool established_map;          /* in the est table (else new)           */
	uint32_t timeout_s;            /* idle timeout of its state             */
	uint64_t age_ns;               /* since created                         */
	uint64_t idle_ns;              /* since last seen                       */
	int64_t expires_in_ns;         /* < 0: expired, deleted on next touch   */
};

/* Idle timeouts and expiry: sgbpf_ct_timeout_s() and friends in ct_gc.h,
 * shared with the collector (one copy of the datapath's rule). */

/* Call cb for every entry of the est table then the new one; cb returning non-zero stops
 * the walk and is returned. */
typedef int (*sgbpf_ct_cb)(const struct sgbpf_ct_entry *e, void *ctx);
int sgbpf_inspect_ct_foreach(const struct sgbpf_inspect *ins, sgbpf_ct_cb cb, void *ctx);

/*
 * Load and compile the policy directory dir with the endpoint ids of the
 * active slot's records, so endpoint ids (and rule ids, which depend only
 * on the policy) are those of the policy in force when dir is unchanged.
 * *stale is set when the result disagrees with the active slot (rule count
 * or endpoint set): dir changed since it was applied. Diagnostics go to
 * diags. Returns 0 or -errno (-EINVAL: invalid policy).
 */
int sgbpf_inspect_compile(const struct sgbpf_inspect *ins, const char *dir,
			  struct sg_policy *pol, struct sg_compiled *c,
			  struct sg_diags *diags, bool *stale);

/* "10.0.0.1" / "fd00::1" of a 16-byte address of family. */
char *sgbpf_addr_text(uint8_t family, const uint8_t *addr, char *buf, size_t len);

#endif
