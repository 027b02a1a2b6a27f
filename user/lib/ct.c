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
#define CT_WALK_STEPS (4ull * (SGBPF_CT_EST_MAX + SGBPF_CT_NEW_MAX))

/* A key in the shape of its family's maps. */
union ct_raw {
	struct sgbpf_ct4_key v4;
	struct sgbpf_ct_key v6;
};

static const enum sgbpf_map ct_maps[SGBPF_CT_TABLE_MAX][SGBPF_AF_MAX] = {
	[SGBPF_CT_TABLE_EST] = { [SGBPF_AF_V4] = SGBPF_MAP_CT4_EST, [SGBPF_AF_V6] = SGBPF_MAP_CT_EST },
	[SGBPF_CT_TABLE_NEW] = { [SGBPF_AF_V4] = SGBPF_MAP_CT4_NEW, [SGBPF_AF_V6] = SGBPF_MAP_CT_NEW },
};

enum sgbpf_map sgbpf_ct_map(enum sgbpf_ct_table t, uint8_t family)
{
	if ((unsigned)t >= SGBPF_CT_TABLE_MAX || family >= SGBPF_AF_MAX)
		return SGBPF_MAP_MAX;
	return ct_maps[t][family];
}

void sgbpf_ct_maps_of(const struct sgbpf *h, struct sgbpf_ct_maps *m)
{
	for (int t = 0; t < SGBPF_CT_TABLE_MAX; t++)
		for (int f = 0; f < SGBPF_AF_MAX; f++)
			m->fd[t][f] = sgbpf_map_fd(h, ct_maps[t][f]);
}

static size_t key_size(uint8_t family)
{
	return family == SGBPF_AF_V4 ? sizeof(struct sgbpf_ct4_key) : sizeof(struct sgbpf_ct_key);
}

int sgbpf_ct_maps_check(const struct sgbpf_ct_maps *m)
{
	for (int t = 0; t < SGBPF_CT_TABLE_MAX; t++) {
		for (int f = 0; f < SGBPF_AF_MAX; f++) {
			struct bpf_map_info info = { 0 };
			uint32_t len = sizeof(info);
			int fd = m->fd[t][f];

			if (fd < 0)
				continue;
			if (bpf_obj_get_info_by_fd(fd, &info, &len))
				return -errno;
			if (info.key_size == key_size(f) &&
			    info.value_size == sizeof(struct sgbpf_ct_val))
				continue;
			fprintf(stderr, "sgbpf: conntrack map %s has key/value size %u/%u, this "
				"build expects %zu/%zu: the maps are of another build; restart "
				"sgbpfd with this build's maps\n", sgbpf_map_name(ct_maps[t][f]),
				info.key_size, info.value_size, key_size(f),
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

/* k in the shape of its family's map in table t: that map's fd in *fd. */
static int raw_of(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		  const struct sgbpf_ct_key *k, union ct_raw *r, int *fd)
{
	int err = 0;

	if ((unsigned)t >= SGBPF_CT_TABLE_MAX || k->family >= SGBPF_AF_MAX)
		return -EINVAL;
	if (k->family == SGBPF_AF_V4)
		err = sgbpf_ct4_key_of(&r->v4, k);
	else
		r->v6 = *k;
	*fd = m->fd[t][k->family];
	if (!err && *fd < 0)
		err = -ENOENT;
	return err;
}

static void wide_of(uint8_t family, const union ct_raw *r, struct sgbpf_ct_key *k)
{
	if (family == SGBPF_AF_V4)
		sgbpf_ct_key_of4(k, &r->v4);
	else
		*k = r->v6;
}

int sgbpf_ct_lookup(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		    const struct sgbpf_ct_key *k, struct sgbpf_ct_val *v)
{
	union ct_raw r;
	int fd, err = raw_of(m, t, k, &r, &fd);

	if (err)
		return err == -EINVAL ? -ENOENT : err;  /* no map can hold it */
	return bpf_map_lookup_elem(fd, &r, v) ? -errno : 0;
}

int sgbpf_ct_update(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		    const struct sgbpf_ct_key *k, const struct sgbpf_ct_val *v, uint64_t flags)
{
	union ct_raw r;
	int fd, err = raw_of(m, t, k, &r, &fd);

	if (err)
		return err;
	return bpf_map_update_elem(fd, &r, v, flags) ? -errno : 0;
}

int sgbpf_ct_delete(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		    const struct sgbpf_ct_key *k)
{
	union ct_raw r;
	int fd, err = raw_of(m, t, k, &r, &fd);

	if (err)
		return err == -EINVAL ? -ENOENT : err;
	return bpf_map_delete_elem(fd, &r) ? -errno : 0;
}

int sgbpf_ct_lookup_and_delete(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
			       const struct sgbpf_ct_key *k, struct sgbpf_ct_val *v)
{
	union ct_raw r;
	int fd, err = raw_of(m, t, k, &r, &fd);

	if (err)
		return err == -EINVAL ? -ENOENT : err;
	return bpf_map_lookup_and_delete_elem(fd, &r, v) ? -errno : 0;
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
	/* One batch per family, each packed in its map's key size. */
	for (int f = 0; f < SGBPF_AF_MAX && !err; f++) {
		size_t ksz = key_size(f);
		uint32_t k = 0, c;

		for (uint32_t i = 0; i < n; i++) {
			union ct_raw one;
			int fd;

			if (keys[i].family != f)
				continue;
			err = raw_of(m, t, &keys[i], &one, &fd);
			if (err)
				goto out;
			memcpy((uint8_t *)r + (size_t)k * ksz, &one, ksz);
			v[k++] = vals[i];
		}
		if (!k)
			continue;
		c = k;
		if (bpf_map_update_batch(m->fd[t][f], r, v, &c, NULL))
			err = -errno;
		done += c;
	}
out:
	*count = done;
	free(r);
	free(v);
	return err;
}

int sgbpf_ct_next_key(const struct sgbpf_ct_maps *m, enum sgbpf_ct_table t,
		      const struct sgbpf_ct_key *cur, struct sgbpf_ct_key *next)
{
	union ct_raw rc, rn;
	int f = SGBPF_AF_V4, fd, err;

	if ((unsigned)t >= SGBPF_CT_TABLE_MAX)
		return -EINVAL;
	if (cur) {
		err = raw_of(m, t, cur, &rc, &fd);
		if (err)
			return err;
		f = cur->family;
	}
	for (; f < SGBPF_AF_MAX; f++, cur = NULL) {
		fd = m->fd[t][f];
		if (fd < 0)
			continue;
		if (!bpf_map_get_next_key(fd, cur ? &rc : NULL, &rn)) {
			wide_of(f, &rn, next);
			return 0;
		}
		if (errno != ENOENT)
			return -errno;
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
 * until then are deleted all the same. */
static int delete_if_in(int fd, uint8_t family,
			bool (*match)(const struct sgbpf_ct_key *k, void *ctx), void *ctx,
			size_t *deleted)
{
	size_t ksz = key_size(family), cap = 1024, n = 0;
	union ct_raw rk[2];
	uint64_t steps = 0;
	uint8_t *keys;
	long done;
	int i = 0, err = 0;

	keys = malloc(cap * ksz);
	if (!keys)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, steps ? &rk[i ^ 1] : NULL, &rk[i])) {
		struct sgbpf_ct_key k;

		if (++steps > CT_WALK_STEPS) {
			err = -EAGAIN;
			break;
		}
		wide_of(family, &rk[i], &k);
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
		for (int f = 0; f < SGBPF_AF_MAX; f++) {
			int r;

			if (m->fd[t][f] < 0)
				continue;
			r = delete_if_in(m->fd[t][f], f, match, ctx, &n);
			if (r && !err)
				err = r;
		}
	}
	if (deleted)
		*deleted = n;
	return err;
}
