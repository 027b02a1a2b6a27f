/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The conntrack tables, family-agnostic. The datapath keeps each table
 * (confirmed flows: est, never evicted; unconfirmed: new, LRU) as one map
 * per family: IPv4 flows under the compact struct sgbpf_ct4_key (ct4_est,
 * ct4_new), IPv6 flows under the wide struct sgbpf_ct_key (ct_est, ct_new);
 * confirmed TCP flows and confirmed IPv6 UDP flows in short-key tables,
 * under struct sgbpf_ct4t_key (ct4t_est) and struct sgbpf_ct6t_key
 * (ct6t_est, ct6u_est), which leave the endpoint to the entry
 * (sgbpf_ct_val.ep_id); see layout.h. Everything here takes and gives the
 * wide key, whichever map holds the entry, so callers never see the split:
 * this file is the only userspace code that knows it. In a short-key table
 * an entry whose ep_id is not the wide key's is another key's: lookups miss it, deletes leave it, and writes
 * fill ep_id from the key.
 *
 * Functions return 0 or -errno (-ENOENT: no such entry / end of a walk;
 * -EINVAL: a key no map can hold, e.g. family not IPv4 or IPv6).
 */
#ifndef SGBPF_CT_H
#define SGBPF_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sgbpf/layout.h>

#include "loader.h"

enum sgbpf_ct_table {
	SGBPF_CT_TABLE_EST = 0,      /* confirmed flows, never evicted */
	SGBPF_CT_TABLE_NEW,          /* unconfirmed flows, LRU         */
	SGBPF_CT_TABLE_MAX,
};

/* The short-key tables, all of table est. */
enum sgbpf_ct_short {
	SGBPF_CT_SHORT_TCP4 = 0,     /* ct4t_est */
	SGBPF_CT_SHORT_TCP6,         /* ct6t_est */
	SGBPF_CT_SHORT_UDP6,         /* ct6u_est */
	SGBPF_CT_SHORT_MAX,
};

/* The map fds of every table and family; -1 skips that map (walks and
 * counts pass over it, lookups find nothing, writes fail with -ENOENT). */
struct sgbpf_ct_maps {
	int fd[SGBPF_CT_TABLE_MAX][SGBPF_AF_MAX];
	int fd_short[SGBPF_CT_SHORT_MAX];  /* table est's short-key tables */
};

/* A short-key table's map and the family of its flows. */
enum sgbpf_map sgbpf_ct_short_map(enum sgbpf_ct_short s);
uint8_t sgbpf_ct_short_family(enum sgbpf_ct_short s);

/* The map that holds table t's flows of family (SGBPF_AF_V4 / _V6), but
 * for those of a short-key table (see sgbpf_ct_maps_in). */
enum sgbpf_map sgbpf_ct_map(enum sgbpf_ct_table t, uint8_t family);

/* Every map holding table t's flows of family, into out; returns how many
 * (est: ct4_est and ct4t_est; ct_est, ct6t_est and ct6u_est), 0 for no
 * such table or family. */
#define SGBPF_CT_FAMILY_MAPS 3
int sgbpf_ct_maps_in(enum sgbpf_ct_table t, uint8_t family,
		     enum sgbpf_map out[SGBPF_CT_FAMILY_MAPS]);

/* The maps of a loaded datapath. */
void sgbpf_ct_maps_of(const struct sgbpf *h, struct sgbpf_ct_maps *m);
/* The maps out of fds indexed by enum sgbpf_map (-1: none). */
void sgbpf_ct_maps_from(struct sgbpf_ct_maps *m, const int fd[SGBPF_MAP_MAX]);
/* -EPROTO after a message when a map's key or value size is not this
 * build's (pinned maps of another build). */
int sgbpf_ct_maps_check(const struct sgbpf_ct_maps *m);

/* Wide key <-> IPv4 key. sgbpf_ct4_key_of: -EINVAL unless k is IPv4 with
 * an ep_id that fits the compact key. */
int sgbpf_ct4_key_of(struct sgbpf_ct4_key *k4, const struct sgbpf_ct_key *k);
void sgbpf_ct_key_of4(struct sgbpf_ct_key *k, const struct sgbpf_ct4_key *k4);

int sgbpf_ct_lookup(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		    const struct sgbpf_ct_key *k, struct sgbpf_ct_val *v);
/* flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST. */
int sgbpf_ct_update(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		    const struct sgbpf_ct_key *k, const struct sgbpf_ct_val *v, uint64_t flags);
int sgbpf_ct_delete(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		    const struct sgbpf_ct_key *k);
/* Delete k and return the exact value removed (BPF_MAP_LOOKUP_AND_DELETE_ELEM;
 * kernels < 5.14 fail with -EINVAL or -EOPNOTSUPP/-ENOTSUPP). */
int sgbpf_ct_lookup_and_delete(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
			       const struct sgbpf_ct_key *k, struct sgbpf_ct_val *v);
/* Insert *count entries of one table (batched per map); on failure *count
 * says how many went in. */
int sgbpf_ct_update_batch(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
			  const struct sgbpf_ct_key *keys, const struct sgbpf_ct_val *vals,
			  uint32_t *count);

/*
 * The key after cur in table t (cur NULL: the first): the IPv4 maps' keys
 * (est: ct4_est's, then ct4t_est's), then the IPv6 maps' (est: ct_est's,
 * ct6t_est's, ct6u_est's). Like BPF_MAP_GET_NEXT_KEY, a cur no longer
 * present restarts from the first key of its map. -ENOENT after the last;
 * -EAGAIN when a short-key table's entries (whose endpoint is read from the
 * value) kept vanishing under the walk.
 */
int sgbpf_ct_next_key(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		      const struct sgbpf_ct_key *cur, struct sgbpf_ct_key *next);

/* Entries of table t (both families), or -errno. */
long sgbpf_ct_count(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t);

/* cb for every entry of table t; entries deleted under the walk are
 * skipped. cb returning non-zero stops the walk and is returned. With
 * SGBPF_CT_WALK_KEYS in flags, v is NULL (one syscall an entry, not two). */
#define SGBPF_CT_WALK_KEYS (1u << 0)
typedef int (*sgbpf_ct_walk_cb)(enum sgbpf_ct_table t, const struct sgbpf_ct_key *k,
				const struct sgbpf_ct_val *v, void *ctx);
int sgbpf_ct_foreach(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t, unsigned flags,
		     sgbpf_ct_walk_cb cb, void *ctx);

/* Delete every entry of both tables whose key match() accepts (match NULL:
 * every entry): one walk per map collects the keys, then they are deleted
 * (batched), so the cost is linear in the table size. match() sees each
 * key once, more only when the walk restarted (its key vanished under it);
 * keys gone by the time of the delete are skipped. *deleted (may be NULL)
 * counts the deletions. On failure the other maps are still done and the
 * first error returned (-EAGAIN: a walk restarted past its step limit;
 * running it again finishes the job). */
int sgbpf_ct_delete_if(const struct sgbpf_ct_maps *m,
		       bool (*match)(const struct sgbpf_ct_key *k, void *ctx), void *ctx,
		       size_t *deleted);

#endif
