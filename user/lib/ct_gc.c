// SPDX-License-Identifier: BSD-2-Clause
/*
 * Conntrack and fragment garbage collection (see ct_gc.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "compile.h"
#include "ct_gc.h"

#define NSEC_PER_SEC 1000000000ull
/* Timeouts of the active slot are re-read at most this often during a pass,
 * so a policy swap that changes them is honoured within a pass. */
#define GC_CFG_REFRESH_NS 10000000ull
#define GC_KEY_MAX 64
#define GC_VAL_MAX 128
#ifndef ENOTSUPP
#define ENOTSUPP 524            /* kernel-internal, seen by BPF syscalls */
#endif

static uint32_t timeout_of(const struct sgbpf_slot_config *cfg, unsigned idx)
{
	/* A slot config leaving a timeout at 0 means the default, as in
	 * sg_timeout_ns(). */
	if (idx >= SGBPF_TO_MAX)
		return 600;
	return cfg->timeouts_s[idx] ? cfg->timeouts_s[idx] : sg_default_timeouts_s[idx];
}

uint32_t sgbpf_ct_timeout_s(const struct sgbpf_slot_config *cfg, uint8_t family,
			    uint8_t proto, uint8_t state)
{
	unsigned idx;

	/* Mirrors sg_ct_timeout_idx() in bpf/conntrack.h. */
	if (proto == 6) {
		switch (state) {
		case SGBPF_CT_ESTABLISHED:
			idx = SGBPF_TO_TCP_ESTABLISHED;
			break;
		case SGBPF_CT_FIN_WAIT:
		case SGBPF_CT_CLOSING:
			idx = SGBPF_TO_TCP_FIN;
			break;
		case SGBPF_CT_CLOSED:
			idx = SGBPF_TO_TCP_CLOSED;
			break;
		default:
			idx = SGBPF_TO_TCP_SYN;
		}
	} else if (proto == 17) {
		idx = state == SGBPF_CT_ESTABLISHED ? SGBPF_TO_UDP_STREAM : SGBPF_TO_UDP;
	} else if ((family == SGBPF_AF_V4 && proto == 1) || (family == SGBPF_AF_V6 && proto == 58)) {
		idx = SGBPF_TO_ICMP;
	} else {
		idx = SGBPF_TO_OTHER;
	}
	return timeout_of(cfg, idx);
}

uint32_t sgbpf_ct_entry_timeout_s(const struct sgbpf_slot_config *cfg,
				  const struct sgbpf_ct_key *k, const struct sgbpf_ct_val *v)
{
	if (v->ct_flags & SGBPF_CT_F_PICKUP)
		return timeout_of(cfg, SGBPF_TO_TCP_SYN);
	return sgbpf_ct_timeout_s(cfg, k->family, k->proto, v->state);
}

uint32_t sgbpf_frag_timeout_s(const struct sgbpf_slot_config *cfg)
{
	return timeout_of(cfg, SGBPF_TO_FRAG);
}

int64_t sgbpf_ct_expires_in_ns(const struct sgbpf_slot_config *cfg,
			       const struct sgbpf_ct_key *k, const struct sgbpf_ct_val *v,
			       uint64_t now_ns)
{
	uint64_t to = (uint64_t)sgbpf_ct_entry_timeout_s(cfg, k, v) * NSEC_PER_SEC;

	/* Expired when last_seen + to < now, so exactly at now it is not. */
	return (int64_t)(v->last_seen_ns + to - now_ns);
}

bool sgbpf_ct_expired(const struct sgbpf_slot_config *cfg, const struct sgbpf_ct_key *k,
		      const struct sgbpf_ct_val *v, uint64_t now_ns)
{
	uint64_t to = (uint64_t)sgbpf_ct_entry_timeout_s(cfg, k, v) * NSEC_PER_SEC;

	return v->last_seen_ns + to < now_ns;
}

bool sgbpf_frag_expired(const struct sgbpf_slot_config *cfg, const struct sgbpf_frag_val *v,
			uint64_t now_ns)
{
	return v->last_seen_ns + (uint64_t)sgbpf_frag_timeout_s(cfg) * NSEC_PER_SEC < now_ns;
}

uint64_t sgbpf_gc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

struct gc_ctx {
	const struct sgbpf_ct_gc_maps *m;
	const struct sgbpf_ct_gc_opts *opts;
	struct sgbpf_ct_gc_stats *st;
	struct sgbpf_slot_config cfg;
	uint64_t cfg_read_ns;
	bool plain_delete;
};

/* The active slot's config, as the datapath reads it per packet. */
static int read_cfg(struct gc_ctx *g)
{
	struct sgbpf_state state;
	uint32_t zero = 0, slot;

	if (bpf_map_lookup_elem(g->m->state, &zero, &state))
		return -errno;
	slot = state.active_slot & 1;
	if (bpf_map_lookup_elem(g->m->slot_config, &slot, &g->cfg))
		return -errno;
	g->cfg_read_ns = mono_ns();
	return 0;
}

/* The table a pass walks: frags, or a conntrack table (SGBPF_MAP_CT_EST /
 * _CT_NEW) through ct.h under the wide key, every family's map in turn. */
static enum sgbpf_ct_table ct_table(enum sgbpf_map map)
{
	return map == SGBPF_MAP_CT_EST ? SGBPF_CT_TABLE_EST : SGBPF_CT_TABLE_NEW;
}

/* Map operations on the table, 0 or -errno. */
static int tab_next(const struct gc_ctx *g, enum sgbpf_map map, const void *cur, void *next)
{
	if (map != SGBPF_MAP_FRAGS)
		return sgbpf_ct_next_key(&g->m->ct, ct_table(map), cur, next);
	return bpf_map_get_next_key(g->m->frags, cur, next) ? -errno : 0;
}

static int tab_lookup(const struct gc_ctx *g, enum sgbpf_map map, const void *k, void *v)
{
	if (map != SGBPF_MAP_FRAGS)
		return sgbpf_ct_lookup(&g->m->ct, ct_table(map), k, v);
	return bpf_map_lookup_elem(g->m->frags, k, v) ? -errno : 0;
}

static int tab_take(const struct gc_ctx *g, enum sgbpf_map map, const void *k, void *v)
{
	if (map != SGBPF_MAP_FRAGS)
		return sgbpf_ct_lookup_and_delete(&g->m->ct, ct_table(map), k, v);
	return bpf_map_lookup_and_delete_elem(g->m->frags, k, v) ? -errno : 0;
}

static int tab_delete(const struct gc_ctx *g, enum sgbpf_map map, const void *k)
{
	if (map != SGBPF_MAP_FRAGS)
		return sgbpf_ct_delete(&g->m->ct, ct_table(map), k);
	return bpf_map_delete_elem(g->m->frags, k) ? -errno : 0;
}

static int tab_put_back(const struct gc_ctx *g, enum sgbpf_map map, const void *k,
			const void *v)
{
	if (map != SGBPF_MAP_FRAGS)
		return sgbpf_ct_update(&g->m->ct, ct_table(map), k, v, BPF_NOEXIST);
	return bpf_map_update_elem(g->m->frags, k, v, BPF_NOEXIST) ? -errno : 0;
}

static bool is_expired(const struct gc_ctx *g, enum sgbpf_map map, const void *k,
		       const void *v, uint64_t now)
{
	if (map == SGBPF_MAP_FRAGS)
		return sgbpf_frag_expired(&g->cfg, v, now);
	return sgbpf_ct_expired(&g->cfg, k, v, now);
}

/*
 * Delete key, expired as judged from val (read just now). With
 * lookup-and-delete the value actually removed is judged again: a packet
 * may have refreshed the entry in place since the read, and then it goes
 * back. Returns 0 or -errno.
 */
static int gc_delete(struct gc_ctx *g, enum sgbpf_map map, const void *key, uint64_t now)
{
	uint8_t dval[GC_VAL_MAX] __attribute__((aligned(8)));
	struct sgbpf_ct_gc_stats *st = g->st;
	int err;

	if (g->opts && g->opts->before_delete)
		g->opts->before_delete(map, key, g->opts->ctx);
	if (!g->plain_delete) {
		err = tab_take(g, map, key, dval);
		if (!err)
			goto deleted;
		if (err == -ENOENT)
			return 0;   /* the datapath deleted it first */
		if (err != -EINVAL && err != -ENOTSUPP && err != -EOPNOTSUPP)
			return err;
		/* Kernel < 5.14: hash maps have no lookup-and-delete. */
		g->plain_delete = true;
	}
	err = tab_delete(g, map, key);
	if (err)
		return err == -ENOENT ? 0 : err;
	st->deleted++;
	goto count;

deleted:
	if (!is_expired(g, map, key, dval, now)) {
		/* Refreshed between our read and the delete: put it back
		 * unless the datapath already created the tuple anew. */
		err = tab_put_back(g, map, key, dval);
		if (!err || err == -EEXIST)
			st->kept_refreshed++;
		else
			st->lost_refreshed++;
		return 0;
	}
	st->deleted++;
count:
	if (map == SGBPF_MAP_CT_EST)
		st->deleted_est++;
	else if (map == SGBPF_MAP_CT_NEW)
		st->deleted_new++;
	else
		st->deleted_frags++;
	return 0;
}

/*
 * Walk one table. The next key is fetched before the current one may be
 * deleted (get_next_key of a missing key restarts from the first key); a
 * key that vanished under us still restarts the walk, so the steps are
 * bounded by limit.
 */
static int gc_map(struct gc_ctx *g, enum sgbpf_map map, size_t ksz, uint64_t limit)
{
	uint8_t cur[GC_KEY_MAX] __attribute__((aligned(8)));
	uint8_t next[GC_KEY_MAX] __attribute__((aligned(8)));
	uint8_t val[GC_VAL_MAX] __attribute__((aligned(8)));
	uint64_t steps = 0;
	bool have;
	int err;

	err = tab_next(g, map, NULL, cur);
	if (err)
		return err == -ENOENT ? 0 : err;
	have = true;
	while (have && steps++ < limit) {
		bool have_next;
		uint64_t now;

		err = tab_next(g, map, cur, next);
		if (err && err != -ENOENT)
			return err;
		have_next = !err;
		if (g->cfg_read_ns + GC_CFG_REFRESH_NS < mono_ns()) {
			err = read_cfg(g);
			if (err)
				return err;
		}
		/* Clock first: judged against an earlier now, never later. */
		now = sgbpf_gc_now_ns();
		err = tab_lookup(g, map, cur, val);
		if (err) {
			if (err != -ENOENT)
				return err;
			/* Gone before we read it: next is the first key again. */
			if (have_next)
				g->st->restarts++;
		} else {
			g->st->scanned++;
			if (is_expired(g, map, cur, val, now)) {
				g->st->expired++;
				err = gc_delete(g, map, cur, now);
				if (err)
					return err;
			}
		}
		if (!have_next)
			break;
		memcpy(cur, next, ksz);
	}
	return 0;
}

/* Bound on a table's walk steps: a few times its capacity. */
static uint64_t walk_limit(int fd)
{
	struct bpf_map_info info = { 0 };
	uint32_t ilen = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return 0;
	return 4ull * info.max_entries + 1024;
}

static uint64_t ct_walk_limit(const struct sgbpf_ct_gc_maps *m, enum sgbpf_ct_table t)
{
	uint64_t n = walk_limit(m->ct.fd[t][SGBPF_AF_V4]) + walk_limit(m->ct.fd[t][SGBPF_AF_V6]);

	for (int s = 0; s < SGBPF_CT_SHORT_MAX && t == SGBPF_CT_TABLE_EST; s++)
		n += walk_limit(m->ct.fd_short[s]);
	return n;
}

/* -EPROTO after a message when frags is not this build's map. */
static int check_frags(int fd)
{
	struct bpf_map_info info = { 0 };
	uint32_t ilen = sizeof(info);

	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	if (info.key_size == sizeof(struct sgbpf_frag_key) &&
	    info.value_size == sizeof(struct sgbpf_frag_val))
		return 0;
	fprintf(stderr, "sgbpf: conntrack gc: map frags has key/value size %u/%u, expected "
		"%zu/%zu; the pinned maps are of another build\n", info.key_size,
		info.value_size, sizeof(struct sgbpf_frag_key), sizeof(struct sgbpf_frag_val));
	return -EPROTO;
}

int sgbpf_ct_gc_run(const struct sgbpf_ct_gc_maps *m, const struct sgbpf_ct_gc_opts *opts,
		    struct sgbpf_ct_gc_stats *st)
{
	struct gc_ctx g = { .m = m, .opts = opts, .st = st };
	uint64_t t0 = mono_ns();
	int err;

	memset(st, 0, sizeof(*st));
	g.plain_delete = opts && opts->plain_delete;
	err = read_cfg(&g);
	if (err) {
		fprintf(stderr, "sgbpf: conntrack gc: reading the active slot's timeouts "
			"(state, slot_config maps) failed: %s\n", strerror(-err));
		return err;
	}
	err = sgbpf_ct_maps_check(&m->ct);
	if (!err)
		err = check_frags(m->frags);
	if (!err)
		err = gc_map(&g, SGBPF_MAP_CT_EST, sizeof(struct sgbpf_ct_key),
			     ct_walk_limit(m, SGBPF_CT_TABLE_EST));
	if (!err)
		err = gc_map(&g, SGBPF_MAP_CT_NEW, sizeof(struct sgbpf_ct_key),
			     ct_walk_limit(m, SGBPF_CT_TABLE_NEW));
	if (!err && m->frags >= 0)
		err = gc_map(&g, SGBPF_MAP_FRAGS, sizeof(struct sgbpf_frag_key),
			     walk_limit(m->frags));
	st->duration_ns = mono_ns() - t0;
	if (err && err != -EPROTO)
		fprintf(stderr, "sgbpf: conntrack gc: walking the conntrack/fragment maps "
			"failed: %s (the next pass starts over)\n", strerror(-err));
	return err;
}

int sgbpf_ct_gc(struct sgbpf *h, struct sgbpf_ct_gc_stats *st)
{
	struct sgbpf_ct_gc_maps m = {
		.state = sgbpf_map_fd(h, SGBPF_MAP_STATE),
		.slot_config = sgbpf_map_fd(h, SGBPF_MAP_SLOT_CONFIG),
		.frags = sgbpf_map_fd(h, SGBPF_MAP_FRAGS),
	};

	sgbpf_ct_maps_of(h, &m.ct);
	return sgbpf_ct_gc_run(&m, NULL, st);
}
