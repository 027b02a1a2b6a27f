// SPDX-License-Identifier: BSD-2-Clause
/*
 * The conntrack tables behind one family-agnostic API (see ct.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "ct.h"

/* A walk restarts when its key vanishes under it (the datapath expires
 * entries concurrently); this bounds the steps per map. */
#define CT_WALK_STEPS (4ull * (2 * SGBPF_CT_EST_MAX + SGBPF_CT_NEW_MAX))

/* A key in the shape of its map's. */
union ct_raw {
	struct sgbpf_ct4_key v4;
	struct sgbpf_ct4t_key v4t;
	struct sgbpf_ct_key v6;
	struct sgbpf_ct6t_key v6t;
};

static const enum sgbpf_map ct_maps[SGBPF_CT_TABLE_MAX][SGBPF_AF_MAX] = {
	[SGBPF_CT_TABLE_EST] = { [SGBPF_AF_V4] = SGBPF_MAP_CT4_EST, [SGBPF_AF_V6] = SGBPF_MAP_CT_EST },
	[SGBPF_CT_TABLE_NEW] = { [SGBPF_AF_V4] = SGBPF_MAP_CT4_NEW, [SGBPF_AF_V6] = SGBPF_MAP_CT_NEW },
};

#define CT_IPPROTO_TCP 6
#define CT_IPPROTO_UDP 17

/* The maps of a table, in walk order: IPv4, IPv4 TCP (est only), IPv6,
 * IPv6 TCP and UDP (est only). K_V4T, K_V6T and K_V6U are the short-key
 * tables (ct_short). */
enum ct_kind { K_V4, K_V4T, K_V6, K_V6T, K_V6U, K_MAX };

/* The short-key tables (all of table est): their kind, map, and the family
 * and protocol of the confirmed flows they hold, as the datapath's
 * sg_ct_short() decides. */
static const struct {
	int kind;
	enum sgbpf_map map;
	uint8_t family, proto;
} ct_short[SGBPF_CT_SHORT_MAX] = {
	[SGBPF_CT_SHORT_TCP4] = { K_V4T, SGBPF_MAP_CT4T_EST, SGBPF_AF_V4, CT_IPPROTO_TCP },
	[SGBPF_CT_SHORT_TCP6] = { K_V6T, SGBPF_MAP_CT6T_EST, SGBPF_AF_V6, CT_IPPROTO_TCP },
	[SGBPF_CT_SHORT_UDP6] = { K_V6U, SGBPF_MAP_CT6U_EST, SGBPF_AF_V6, CT_IPPROTO_UDP },
};

/* Short-key table entries that vanished before their endpoint was read: a
 * walk step gives up after this many in a row. */
#define CT_NEXT_TRIES 64

/* The short-key table a kind is, or -1. */
static int kind_short(int kind)
{
	for (int s = 0; s < SGBPF_CT_SHORT_MAX; s++)
		if (ct_short[s].kind == kind)
			return s;
	return -1;
}

static uint8_t kind_family(int kind)
{
	if (kind_short(kind) >= 0)
		return ct_short[kind_short(kind)].family;
	return kind == K_V6 ? SGBPF_AF_V6 : SGBPF_AF_V4;
}

static size_t kind_key_size(int kind)
{
	switch (kind) {
	case K_V4:	return sizeof(struct sgbpf_ct4_key);
	case K_V4T:	return sizeof(struct sgbpf_ct4t_key);
	case K_V6T:
	case K_V6U:	return sizeof(struct sgbpf_ct6t_key);
	default:	return sizeof(struct sgbpf_ct_key);
	}
}

static enum sgbpf_map kind_map(enum sgbpf_ct_table t, int kind)
{
	int s = kind_short(kind);

	if (s >= 0)
		return t == SGBPF_CT_TABLE_EST ? ct_short[s].map : SGBPF_MAP_MAX;
	return ct_maps[t][kind_family(kind)];
}

static int kind_fd(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t, int kind)
{
	int s = kind_short(kind);

	if (s >= 0)
		return t == SGBPF_CT_TABLE_EST ? m->fd_short[s] : -1;
	return m->fd[t][kind_family(kind)];
}

/* Which map of table t holds k (t and k->family valid). */
static int kind_of(enum sgbpf_ct_table t, const struct sgbpf_ct_key *k)
{
	for (int s = 0; s < SGBPF_CT_SHORT_MAX && t == SGBPF_CT_TABLE_EST; s++)
		if (ct_short[s].family == k->family && ct_short[s].proto == k->proto)
			return ct_short[s].kind;
	return k->family == SGBPF_AF_V6 ? K_V6 : K_V4;
}

/* A map whose entries name their endpoint. */
static bool kind_owned(int kind)
{
	return kind_short(kind) >= 0;
}

enum sgbpf_map sgbpf_ct_short_map(enum sgbpf_ct_short s)
{
	return (unsigned)s < SGBPF_CT_SHORT_MAX ? ct_short[s].map : SGBPF_MAP_MAX;
}

uint8_t sgbpf_ct_short_family(enum sgbpf_ct_short s)
{
	return (unsigned)s < SGBPF_CT_SHORT_MAX ? ct_short[s].family : SGBPF_AF_MAX;
}

enum sgbpf_map sgbpf_ct_map(enum sgbpf_ct_table t, uint8_t family)
{
	if ((unsigned)t >= SGBPF_CT_TABLE_MAX || family >= SGBPF_AF_MAX)
		return SGBPF_MAP_MAX;
	return ct_maps[t][family];
}

int sgbpf_ct_maps_in(enum sgbpf_ct_table t, uint8_t family,
		     enum sgbpf_map out[SGBPF_CT_FAMILY_MAPS])
{
	int n = 0;

	if ((unsigned)t >= SGBPF_CT_TABLE_MAX || family >= SGBPF_AF_MAX)
		return 0;
	out[n++] = ct_maps[t][family];
	for (int s = 0; s < SGBPF_CT_SHORT_MAX && t == SGBPF_CT_TABLE_EST; s++)
		if (ct_short[s].family == family)
			out[n++] = ct_short[s].map;
	return n;
}

void sgbpf_ct_maps_from(struct sgbpf_ct_maps *m, const int fd[SGBPF_MAP_MAX])
{
	for (int t = 0; t < SGBPF_CT_TABLE_MAX; t++)
		for (int f = 0; f < SGBPF_AF_MAX; f++)
			m->fd[t][f] = fd[ct_maps[t][f]];
	for (int s = 0; s < SGBPF_CT_SHORT_MAX; s++)
		m->fd_short[s] = fd[ct_short[s].map];
}

void sgbpf_ct_maps_of(const struct sgbpf *h, struct sgbpf_ct_maps *m)
{
	int fd[SGBPF_MAP_MAX];

	for (int i = 0; i < SGBPF_MAP_MAX; i++)
		fd[i] = sgbpf_map_fd(h, i);
	sgbpf_ct_maps_from(m, fd);
}

int sgbpf_ct_maps_check(const struct sgbpf_ct_maps *m)
{
	for (int t = 0; t < SGBPF_CT_TABLE_MAX; t++) {
		for (int kind = 0; kind < K_MAX; kind++) {
			struct bpf_map_info info = { 0 };
			uint32_t len = sizeof(info);
			int fd = kind_fd(m, t, kind);

			if (fd < 0)
				continue;
			if (bpf_obj_get_info_by_fd(fd, &info, &len))
				return -errno;
			if (info.key_size == kind_key_size(kind) &&
			    info.value_size == sizeof(struct sgbpf_ct_val))
				continue;
			fprintf(stderr, "sgbpf: conntrack map %s has key/value size %u/%u, this "
				"build expects %zu/%zu: the maps are of another build; restart "
				"sgbpfd with this build's maps\n", sgbpf_map_name(kind_map(t, kind)),
				info.key_size, info.value_size, kind_key_size(kind),
				sizeof(struct sgbpf_ct_val));
			return -EPROTO;
		}
	}
	return 0;
}

int sgbpf_ct4_key_of(struct sgbpf_ct4_key *k4, const struct sgbpf_ct_key *k)
{
	if (k->family != SGBPF_AF_V4 || k->ep_id > UINT16_MAX)
		return -EINVAL;
	memset(k4, 0, sizeof(*k4));
	k4->ep_id = (uint16_t)k->ep_id;
	k4->proto = k->proto;
	memcpy(k4->local_addr, k->local_addr, 4);
	memcpy(k4->remote_addr, k->remote_addr, 4);
	k4->local_port = k->local_port;
	k4->remote_port = k->remote_port;
	return 0;
}

void sgbpf_ct_key_of4(struct sgbpf_ct_key *k, const struct sgbpf_ct4_key *k4)
{
	memset(k, 0, sizeof(*k));
	k->ep_id = k4->ep_id;
	k->family = SGBPF_AF_V4;
	k->proto = k4->proto;
	memcpy(k->local_addr, k4->local_addr, 4);
	memcpy(k->remote_addr, k4->remote_addr, 4);
	k->local_port = k4->local_port;
	k->remote_port = k4->remote_port;
}

/* k in the shape of its map in table t: that map's fd in *fd, which map in
 * *kind. */
static int raw_of(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		  const struct sgbpf_ct_key *k, union ct_raw *r, int *fd, int *kind)
{
	int err = 0;

	if ((unsigned)t >= SGBPF_CT_TABLE_MAX || k->family >= SGBPF_AF_MAX)
		return -EINVAL;
	*kind = kind_of(t, k);
	if (*kind == K_V6) {
		r->v6 = *k;
	} else if (*kind == K_V6T || *kind == K_V6U) {
		/* The entry's ep_id is 16 bits, like the compact key's. */
		if (k->ep_id > UINT16_MAX)
			return -EINVAL;
		memcpy(&r->v6t, k->local_addr, sizeof(r->v6t));
	} else {
		struct sgbpf_ct4_key k4;

		err = sgbpf_ct4_key_of(&k4, k);
		if (err)
			return err;
		if (*kind == K_V4T)
			memcpy(&r->v4t, k4.local_addr, sizeof(r->v4t));
		else
			r->v4 = k4;
	}
	*fd = kind_fd(m, t, *kind);
	if (!err && *fd < 0)
		err = -ENOENT;
	return err;
}

/* The wide key of a raw one; ep_id: a short-key table entry's (from its
 * value). */
static void wide_of(int kind, const union ct_raw *r, uint16_t ep_id, struct sgbpf_ct_key *k)
{
	switch (kind) {
	case K_V4:
		sgbpf_ct_key_of4(k, &r->v4);
		break;
	case K_V4T:
		memset(k, 0, sizeof(*k));
		k->ep_id = ep_id;
		k->family = SGBPF_AF_V4;
		k->proto = CT_IPPROTO_TCP;
		memcpy(k->local_addr, r->v4t.local_addr, 4);
		memcpy(k->remote_addr, r->v4t.remote_addr, 4);
		k->local_port = r->v4t.local_port;
		k->remote_port = r->v4t.remote_port;
		break;
	case K_V6T:
	case K_V6U:
		memset(k, 0, sizeof(*k));
		k->ep_id = ep_id;
		k->family = SGBPF_AF_V6;
		k->proto = ct_short[kind_short(kind)].proto;
		memcpy(k->local_addr, &r->v6t, sizeof(r->v6t));
		break;
	default:
		*k = r->v6;
	}
}

int sgbpf_ct_lookup(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		    const struct sgbpf_ct_key *k, struct sgbpf_ct_val *v)
{
	struct sgbpf_ct_val got;
	union ct_raw r;
	int fd, kind, err = raw_of(m, t, k, &r, &fd, &kind);

	if (err)
		return err == -EINVAL ? -ENOENT : err;  /* no map can hold it */
	if (bpf_map_lookup_elem(fd, &r, &got))
		return -errno;
	/* Short-key table: the entry of another endpoint is another key's. */
	if (kind_owned(kind) && got.ep_id != k->ep_id)
		return -ENOENT;
	*v = got;
	return 0;
}

/* Short-key table: write v as k's entry (v->ep_id = k's). The flags as in
 * the wide-key view: an entry of another endpoint is absent there. */
static int update_owned(int fd, const union ct_raw *r, const struct sgbpf_ct_key *k,
		       const struct sgbpf_ct_val *v, uint64_t flags)
{
	struct sgbpf_ct_val own = *v, cur;
	uint64_t how = flags & (BPF_NOEXIST | BPF_EXIST);

	own.ep_id = (uint16_t)k->ep_id;
	if (how == BPF_ANY)
		return bpf_map_update_elem(fd, r, &own, flags) ? -errno : 0;
	if (bpf_map_lookup_elem(fd, r, &cur)) {
		if (errno != ENOENT)
			return -errno;
		if (how == BPF_EXIST)
			return -ENOENT;
		return bpf_map_update_elem(fd, r, &own, flags) ? -errno : 0;
	}
	if (cur.ep_id == own.ep_id && how == BPF_NOEXIST)
		return -EEXIST;
	if (cur.ep_id != own.ep_id && how == BPF_EXIST)
		return -ENOENT;
	/* k's own entry (EXIST), or a stale one of another endpoint under the
	 * same tuple (NOEXIST), replaced as the datapath's promotion does. */
	return bpf_map_update_elem(fd, r, &own, (flags & ~how) | BPF_EXIST) ? -errno : 0;
}

int sgbpf_ct_update(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		    const struct sgbpf_ct_key *k, const struct sgbpf_ct_val *v, uint64_t flags)
{
	union ct_raw r;
	int fd, kind, err = raw_of(m, t, k, &r, &fd, &kind);

	if (err)
		return err;
	if (kind_owned(kind))
		return update_owned(fd, &r, k, v, flags);
	return bpf_map_update_elem(fd, &r, v, flags) ? -errno : 0;
}

int sgbpf_ct_delete(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		    const struct sgbpf_ct_key *k)
{
	struct sgbpf_ct_val cur;
	union ct_raw r;
	int fd, kind, err = raw_of(m, t, k, &r, &fd, &kind);

	if (err)
		return err == -EINVAL ? -ENOENT : err;
	/* Short-key table: only k's own entry. (Another endpoint's promotion may
	 * replace it between the two calls: that flow's next packet is then
	 * judged as a new one, which fails safe.) */
	if (kind_owned(kind)) {
		if (bpf_map_lookup_elem(fd, &r, &cur))
			return -errno;
		if (cur.ep_id != k->ep_id)
			return -ENOENT;
	}
	return bpf_map_delete_elem(fd, &r) ? -errno : 0;
}

int sgbpf_ct_lookup_and_delete(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
			       const struct sgbpf_ct_key *k, struct sgbpf_ct_val *v)
{
	struct sgbpf_ct_val got;
	union ct_raw r;
	int fd, kind, err = raw_of(m, t, k, &r, &fd, &kind);

	if (err)
		return err == -EINVAL ? -ENOENT : err;
	if (bpf_map_lookup_and_delete_elem(fd, &r, &got))
		return -errno;
	if (kind_owned(kind) && got.ep_id != k->ep_id) {
		/* Another endpoint's: not k's to take. Back it goes, unless
		 * the datapath created the tuple anew meanwhile. */
		bpf_map_update_elem(fd, &r, &got, BPF_NOEXIST);
		return -ENOENT;
	}
	*v = got;
	return 0;
}

int sgbpf_ct_update_batch(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
			  const struct sgbpf_ct_key *keys, const struct sgbpf_ct_val *vals,
			  uint32_t *count)
{
	uint32_t n = *count, done = 0;
	struct sgbpf_ct_val *v = NULL;
	union ct_raw *r = NULL;
	int err = 0;

	*count = 0;
	if ((unsigned)t >= SGBPF_CT_TABLE_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (keys[i].family >= SGBPF_AF_MAX)
			return -EINVAL;
	if (!n)
		return 0;
	r = malloc((size_t)n * sizeof(*r));
	v = malloc((size_t)n * sizeof(*v));
	if (!r || !v) {
		err = -ENOMEM;
		goto out;
	}
	/* One batch per map, each packed in its map's key size. */
	for (int kind = 0; kind < K_MAX && !err; kind++) {
		size_t ksz = kind_key_size(kind);
		uint32_t k = 0, c;
		int fd = -1;

		for (uint32_t i = 0; i < n; i++) {
			union ct_raw one;
			int kd;

			if (keys[i].family != kind_family(kind) || kind_of(t, &keys[i]) != kind)
				continue;
			err = raw_of(m, t, &keys[i], &one, &fd, &kd);
			if (err)
				goto out;
			memcpy((uint8_t *)r + (size_t)k * ksz, &one, ksz);
			v[k] = vals[i];
			if (kind_owned(kind))
				v[k].ep_id = (uint16_t)keys[i].ep_id;
			k++;
		}
		if (!k)
			continue;
		c = k;
		if (bpf_map_update_batch(fd, r, v, &c, NULL))
			err = -errno;
		done += c;
	}
out:
	*count = done;
	free(r);
	free(v);
	return err;
}

/* The key after cur (NULL: the first) in one map, as a wide key. */
static int next_in(int fd, int kind, const union ct_raw *cur, struct sgbpf_ct_key *next)
{
	union ct_raw rn, gone;

	for (int tries = 0; tries < CT_NEXT_TRIES; tries++) {
		struct sgbpf_ct_val v;

		if (bpf_map_get_next_key(fd, cur, &rn))
			return -errno;
		if (!kind_owned(kind)) {
			wide_of(kind, &rn, 0, next);
			return 0;
		}
		/* Short-key table: the endpoint is in the value. */
		if (!bpf_map_lookup_elem(fd, &rn, &v)) {
			wide_of(kind, &rn, v.ep_id, next);
			return 0;
		}
		if (errno != ENOENT)
			return -errno;
		gone = rn;      /* its next: the map's first key again */
		cur = &gone;
	}
	return -EAGAIN;
}

int sgbpf_ct_next_key(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		      const struct sgbpf_ct_key *cur, struct sgbpf_ct_key *next)
{
	union ct_raw rc;
	int kind = K_V4, fd, err;

	if ((unsigned)t >= SGBPF_CT_TABLE_MAX)
		return -EINVAL;
	if (cur) {
		err = raw_of(m, t, cur, &rc, &fd, &kind);
		if (err)
			return err;
	}
	for (; kind < K_MAX; kind++, cur = NULL) {
		fd = kind_fd(m, t, kind);
		if (fd < 0)
			continue;
		err = next_in(fd, kind, cur ? &rc : NULL, next);
		if (err != -ENOENT)
			return err;
	}
	return -ENOENT;
}

static int count_one(enum sgbpf_ct_table t, const struct sgbpf_ct_key *k,
		     const struct sgbpf_ct_val *v, void *ctx)
{
	(*(long *)ctx)++;
	return 0;
}

long sgbpf_ct_count(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t)
{
	long n = 0;
	int err = sgbpf_ct_foreach(m, t, SGBPF_CT_WALK_KEYS, count_one, &n);

	return err ? err : n;
}

int sgbpf_ct_foreach(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t, unsigned flags,
		     sgbpf_ct_walk_cb cb, void *ctx)
{
	bool keys = flags & SGBPF_CT_WALK_KEYS;
	struct sgbpf_ct_key k[2];
	struct sgbpf_ct_val v;
	uint64_t steps = 0;
	int err, rc, i = 0;

	while (!(err = sgbpf_ct_next_key(m, t, steps ? &k[i ^ 1] : NULL, &k[i]))) {
		if (++steps > 2 * CT_WALK_STEPS)
			return -EAGAIN;
		if (keys || !sgbpf_ct_lookup(m, t, &k[i], &v)) {
			rc = cb(t, &k[i], keys ? NULL : &v, ctx);
			if (rc)
				return rc;
		}
		i ^= 1;
	}
	return err == -ENOENT ? 0 : err;
}

/* Delete n raw keys of fd, batched where the kernel can; keys already gone
 * are skipped. Returns how many were deleted, or -errno. */
static long delete_raw(int fd, const uint8_t *keys, uint32_t n, size_t ksz)
{
	uint32_t count = n;
	long done = 0;

	if (!n || !bpf_map_delete_batch(fd, keys, &count, NULL))
		return n;
	/* Stopped at a key that is gone (or no batch support): one by one. */
	done = count;
	for (uint32_t i = count; i < n; i++) {
		if (!bpf_map_delete_elem(fd, keys + (size_t)i * ksz))
			done++;
		else if (errno != ENOENT)
			return -errno;
	}
	return done;
}

/* Collect the raw keys of one map that match, then delete them: deleting
 * during the walk would restart it at every delete. Adds the deletions to
 * *deleted; -EAGAIN when keys vanishing under the walk (the datapath's
 * expiries) kept restarting it past the step limit: the keys collected
 * until then are deleted all the same. (Short-key tables: an entry replaced by
 * another endpoint's between the walk and the delete goes too; that flow's
 * next packet is judged as a new one, which fails safe.) */
static int delete_if_in(int fd, int kind,
			bool (*match)(const struct sgbpf_ct_key *k, void *ctx), void *ctx,
			size_t *deleted)
{
	size_t ksz = kind_key_size(kind), cap = 1024, n = 0;
	union ct_raw rk[2];
	uint64_t steps = 0;
	uint8_t *keys;
	long done;
	int i = 0, err = 0;

	keys = malloc(cap * ksz);
	if (!keys)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, steps ? &rk[i ^ 1] : NULL, &rk[i])) {
		struct sgbpf_ct_val v = { 0 };
		struct sgbpf_ct_key k;

		if (++steps > CT_WALK_STEPS) {
			err = -EAGAIN;
			break;
		}
		/* Short-key table: the endpoint is in the value; gone: nothing
		 * to delete. */
		if (kind_owned(kind) && match && bpf_map_lookup_elem(fd, &rk[i], &v)) {
			if (errno != ENOENT) {
				err = -errno;
				break;
			}
			i ^= 1;
			continue;
		}
		wide_of(kind, &rk[i], v.ep_id, &k);
		if (!match || match(&k, ctx)) {
			if (n == cap) {
				uint8_t *more = realloc(keys, 2 * cap * ksz);

				if (!more) {
					free(keys);
					return -ENOMEM;
				}
				keys = more;
				cap *= 2;
			}
			memcpy(keys + n++ * ksz, &rk[i], ksz);
		}
		i ^= 1;
	}
	if (!err && errno != ENOENT)
		err = -errno;
	done = delete_raw(fd, keys, n, ksz);
	free(keys);
	if (done < 0)
		return err ? err : (int)done;
	*deleted += done;
	return err;
}

int sgbpf_ct_delete_if(const struct sgbpf_ct_maps *m,
		       bool (*match)(const struct sgbpf_ct_key *k, void *ctx), void *ctx,
		       size_t *deleted)
{
	size_t n = 0;
	int err = 0;

	for (int t = 0; t < SGBPF_CT_TABLE_MAX; t++) {
		for (int kind = 0; kind < K_MAX; kind++) {
			int fd = kind_fd(m, t, kind), r;

			if (fd < 0)
				continue;
			r = delete_if_in(fd, kind, match, ctx, &n);
			if (r && !err)
				err = r;
		}
	}
	if (deleted)
		*deleted = n;
	return err;
}
