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
static int gc_delete(struct gc_ctx *g, enum sgbpf_map map, int fd, const void *key,
		     uint64_t now)
{
	uint8_t dval[GC_VAL_MAX] __attribute__((aligned(8)));
	struct sgbpf_ct_gc_stats *st = g->st;

	if (g->opts && g->opts->before_delete)
		g->opts->before_delete(map, key, g->opts->ctx);
	if (!g->plain_delete) {
		if (!bpf_map_lookup_and_delete_elem(fd, key, dval))
			goto deleted;
		if (errno == ENOENT)
			return 0;   /* the datapath deleted it first */
		if (errno != EINVAL && errno != ENOTSUPP && errno != EOPNOTSUPP)
			return -errno;
		/* Kernel < 5.14: hash maps have no lookup-and-delete. */
		g->plain_delete = true;
	}
	if (bpf_map_delete_elem(fd, key))
		return errno == ENOENT ? 0 : -errno;
	st->deleted++;
	goto count;

deleted:
	if (!is_expired(g, map, key, dval, now)) {
		/* Refreshed between our read and the delete: put it back
		 * unless the datapath already created the tuple anew. */
		if (!bpf_map_update_elem(fd, key, dval, BPF_NOEXIST) || errno == EEXIST)
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
 * Walk one map. The next key is fetched before the current one may be
 * deleted (get_next_key of a missing key restarts from the first key); a
 * key that vanished under us still restarts the walk, so the steps are
 * bounded.
 */
static int gc_map(struct gc_ctx *g, enum sgbpf_map map, int fd, size_t ksz, size_t vsz)
{
	uint8_t cur[GC_KEY_MAX] __attribute__((aligned(8)));
	uint8_t next[GC_KEY_MAX] __attribute__((aligned(8)));
	uint8_t val[GC_VAL_MAX] __attribute__((aligned(8)));
	struct bpf_map_info info = { 0 };
	uint32_t ilen = sizeof(info);
	uint64_t steps = 0, limit;
	bool have;
	int err;

	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	if (info.key_size != ksz || info.value_size != vsz) {
		fprintf(stderr, "sgbpf: conntrack gc: map %s has key/value size %u/%u, expected "
			"%zu/%zu; the pinned maps are of another build\n", sgbpf_map_name(map),
			info.key_size, info.value_size, ksz, vsz);
		return -EPROTO;
	}
	limit = 4ull * info.max_entries + 1024;
	have = !bpf_map_get_next_key(fd, NULL, cur);
	if (!have)
		return errno == ENOENT ? 0 : -errno;
	while (have && steps++ < limit) {
		bool have_next = !bpf_map_get_next_key(fd, cur, next);
		uint64_t now;

		if (!have_next && errno != ENOENT)
			return -errno;
		if (g->cfg_read_ns + GC_CFG_REFRESH_NS < mono_ns()) {
			err = read_cfg(g);
			if (err)
				return err;
		}
		/* Clock first: judged against an earlier now, never later. */
		now = sgbpf_gc_now_ns();
		if (bpf_map_lookup_elem(fd, cur, val)) {
			if (errno != ENOENT)
				return -errno;
			/* Gone before we read it: next is the first key again. */
			if (have_next)
				g->st->restarts++;
		} else {
			g->st->scanned++;
			if (is_expired(g, map, cur, val, now)) {
				g->st->expired++;
				err = gc_delete(g, map, fd, cur, now);
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
	err = gc_map(&g, SGBPF_MAP_CT_EST, m->ct_est, sizeof(struct sgbpf_ct_key),
		     sizeof(struct sgbpf_ct_val));
	if (!err)
		err = gc_map(&g, SGBPF_MAP_CT_NEW, m->ct_new, sizeof(struct sgbpf_ct_key),
			     sizeof(struct sgbpf_ct_val));
	if (!err)
		err = gc_map(&g, SGBPF_MAP_FRAGS, m->frags, sizeof(struct sgbpf_frag_key),
			     sizeof(struct sgbpf_frag_val));
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
		.ct_est = sgbpf_map_fd(h, SGBPF_MAP_CT_EST),
		.ct_new = sgbpf_map_fd(h, SGBPF_MAP_CT_NEW),
		.frags = sgbpf_map_fd(h, SGBPF_MAP_FRAGS),
	};

	return sgbpf_ct_gc_run(&m, NULL, st);
}
