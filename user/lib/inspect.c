// SPDX-License-Identifier: BSD-2-Clause
/*
 * Read-only access to a live node's pinned maps (see inspect.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "inspect.h"
#include "parse.h"

#define NSEC_PER_SEC 1000000000ull

uint64_t sgbpf_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

uint64_t sgbpf_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

int sgbpf_inspect_require_root(const char *who)
{
	/* BPF_OBJ_GET on bpffs pins and reading BPF maps need root (or
	 * CAP_BPF + CAP_SYS_ADMIN); say so instead of a bare EPERM later. */
	if (geteuid() == 0)
		return 0;
	fprintf(stderr, "%s: needs root (reads the pinned BPF maps under bpffs); run it with sudo "
		"or as root\n", who);
	return -EPERM;
}

/* BPF_OBJ_GET, read-only unless writable. */
static int obj_get(const char *path, bool writable)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = writable ? 0 : BPF_F_RDONLY);

	return bpf_obj_get_opts(path, &opts);
}

int sgbpf_inspect_open(struct sgbpf_inspect *ins, const char *pin_dir, unsigned flags,
		       const char *who)
{
	char path[PATH_MAX];
	uint32_t zero = 0;
	int err;

	memset(ins, 0, sizeof(*ins));
	ins->rec_fd = -1;
	for (int m = 0; m < SGBPF_MAP_MAX; m++)
		ins->fd[m] = -1;
	memset(&ins->ct, 0xff, sizeof(ins->ct));        /* every fd -1 */
	err = sgbpf_inspect_require_root(who);
	if (err)
		return err;
	snprintf(ins->pin_dir, sizeof(ins->pin_dir), "%s", pin_dir);
	ins->ncpus = libbpf_num_possible_cpus();
	if (ins->ncpus <= 0) {
		fprintf(stderr, "%s: cannot count the possible CPUs: %s\n", who, strerror(-ins->ncpus));
		return ins->ncpus ? ins->ncpus : -EINVAL;
	}
	for (int m = 0; m < SGBPF_MAP_MAX; m++) {
		bool w = ((flags & SGBPF_INSPECT_CT_WRITE) &&
			  (m == SGBPF_MAP_CT_NEW || m == SGBPF_MAP_CT_EST ||
			   m == SGBPF_MAP_CT4_NEW || m == SGBPF_MAP_CT4_EST ||
			   m == SGBPF_MAP_CT4T_EST || m == SGBPF_MAP_CT6T_EST ||
			   m == SGBPF_MAP_CT6U_EST)) ||
			 ((flags & SGBPF_INSPECT_EVENTS) && m == SGBPF_MAP_EVENTS);

		/* rcu_barrier is the loader's tool, never read here. */
		if (m == SGBPF_MAP_RCU_BARRIER)
			continue;
		if (sgbpf_pin_path(path, sizeof(path), pin_dir, "maps", sgbpf_map_name(m)))
			return -ENAMETOOLONG;
		ins->fd[m] = obj_get(path, w);
		if (ins->fd[m] < 0) {
			err = -errno;
			ins->fd[m] = -1;
			if (err == -ENOENT && m != SGBPF_MAP_STATE)
				continue;   /* reported by whoever needs it */
			if (err == -ENOENT)
				fprintf(stderr, "%s: no sgbpf datapath pinned at %s (is sgbpfd running? "
					"--pin-dir sets another directory)\n", who, pin_dir);
			else
				fprintf(stderr, "%s: opening pinned map %s: %s\n", who, path,
					strerror(-err));
			sgbpf_inspect_close(ins);
			return err;
		}
	}
	sgbpf_ct_maps_from(&ins->ct, ins->fd);
	if (bpf_map_lookup_elem(ins->fd[SGBPF_MAP_STATE], &zero, &ins->state)) {
		err = -errno;
		fprintf(stderr, "%s: reading %s/maps/state: %s\n", who, pin_dir, strerror(-err));
		sgbpf_inspect_close(ins);
		return err;
	}
	if (ins->state.layout_version != SGBPF_LAYOUT_VERSION) {
		fprintf(stderr, "%s: %s holds layout version %u, this sgbpf reads layout version %u; "
			"use the sgbpf that matches the running sgbpfd\n", who, pin_dir,
			ins->state.layout_version, SGBPF_LAYOUT_VERSION);
		sgbpf_inspect_close(ins);
		return -EPROTO;
	}
	if (ins->fd[SGBPF_MAP_SLOT_CONFIG] >= 0) {
		uint32_t slot = ins->state.active_slot & 1;

		bpf_map_lookup_elem(ins->fd[SGBPF_MAP_SLOT_CONFIG], &slot, &ins->cfg);
	}
	ins->recs = calloc(SGBPF_MAX_ENDPOINTS, sizeof(*ins->recs));
	if (!ins->recs) {
		sgbpf_inspect_close(ins);
		return -ENOMEM;
	}
	if (!sgbpf_pin_path(path, sizeof(path), pin_dir, "maps", "ep_records")) {
		ins->rec_fd = obj_get(path, false);
		if (ins->rec_fd < 0)
			ins->rec_fd = -1;
		else if (sgbpf_ep_records_read(ins->rec_fd, ins->state.active_slot, ins->recs))
			memset(ins->recs, 0, SGBPF_MAX_ENDPOINTS * sizeof(*ins->recs));
	}
	return 0;
}

void sgbpf_inspect_close(struct sgbpf_inspect *ins)
{
	for (int m = 0; m < SGBPF_MAP_MAX; m++) {
		if (ins->fd[m] >= 0)
			close(ins->fd[m]);
		ins->fd[m] = -1;
	}
	memset(&ins->ct, 0xff, sizeof(ins->ct));
	if (ins->rec_fd >= 0)
		close(ins->rec_fd);
	ins->rec_fd = -1;
	free(ins->recs);
	ins->recs = NULL;
}

uint32_t sgbpf_inspect_max_entries(const struct sgbpf_inspect *ins, enum sgbpf_map map)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);

	if (ins->fd[map] < 0 || bpf_obj_get_info_by_fd(ins->fd[map], &info, &len))
		return 0;
	return info.max_entries;
}

static uint32_t key_size(int fd)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.key_size;
}

/* Walk every key of a map; slot_off >= 0 counts only keys of that slot. */
static long count_keys(int fd, int slot_off, int slot_width, uint32_t slot)
{
	uint32_t ksz = key_size(fd);
	uint8_t *cur, *next;
	long n = 0;
	void *prev = NULL;

	if (!ksz)
		return -errno ? -errno : -EINVAL;
	cur = calloc(2, ksz);
	if (!cur)
		return -ENOMEM;
	next = cur + ksz;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		uint32_t s = 0;

		if (slot_off < 0) {
			n++;
		} else {
			memcpy(&s, next + slot_off, slot_width);
			n += s == slot;
		}
		memcpy(cur, next, ksz);
		prev = cur;
	}
	if (errno != ENOENT)
		n = -errno;
	free(cur);
	return n;
}

long sgbpf_inspect_count(const struct sgbpf_inspect *ins, enum sgbpf_map map)
{
	if (ins->fd[map] < 0)
		return -ENOENT;
	return count_keys(ins->fd[map], -1, 0, 0);
}

long sgbpf_inspect_count_slot(const struct sgbpf_inspect *ins, enum sgbpf_map map,
			      uint32_t slot)
{
	int off, width;

	switch (map) {
	case SGBPF_MAP_EP_CONFIG:
	case SGBPF_MAP_EP_ADDRS:
	case SGBPF_MAP_NODE_ADDRS:
		off = 0, width = 4;
		break;
	case SGBPF_MAP_RULE_TRIE:
	case SGBPF_MAP_PORT_TRIE:
	case SGBPF_MAP_EXEMPT:
		off = 4, width = 1;     /* after the LPM prefixlen */
		break;
	default:
		return -EINVAL;
	}
	if (ins->fd[map] < 0)
		return -ENOENT;
	return count_keys(ins->fd[map], off, width, slot);
}

/* Sum a per-CPU value made of u64 counters into out (size bytes). */
static int percpu_sum(const struct sgbpf_inspect *ins, int fd, uint32_t key, void *out,
		      size_t size)
{
	size_t n64 = size / 8, stride = (size + 7) / 8 * 8;
	uint8_t *vals;
	uint64_t *sum = out;

	if (fd < 0)
		return -ENOENT;
	vals = calloc(ins->ncpus, stride);
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals)) {
		int err = -errno;

		free(vals);
		return err;
	}
	memset(out, 0, size);
	for (int c = 0; c < ins->ncpus; c++) {
		const uint64_t *v = (const uint64_t *)(vals + c * stride);

		for (size_t i = 0; i < n64; i++)
			sum[i] += v[i];
	}
	free(vals);
	return 0;
}

int sgbpf_inspect_ep_stats(const struct sgbpf_inspect *ins, uint32_t ep_id,
			   struct sgbpf_ep_stats *out)
{
	return percpu_sum(ins, ins->fd[SGBPF_MAP_EP_STATS], ep_id, out, sizeof(*out));
}

int sgbpf_inspect_global_stats(const struct sgbpf_inspect *ins, struct sgbpf_global_stats *out)
{
	return percpu_sum(ins, ins->fd[SGBPF_MAP_GLOBAL_STATS], 0, out, sizeof(*out));
}

int sgbpf_inspect_rule_stats(const struct sgbpf_inspect *ins, uint32_t slot, uint32_t n,
			     struct sgbpf_rule_stats *out)
{
	for (uint32_t i = 0; i < n && i < SGBPF_MAX_RULES; i++) {
		int err = percpu_sum(ins, ins->fd[SGBPF_MAP_RULE_STATS],
				     (slot & 1) * SGBPF_MAX_RULES + i, &out[i], sizeof(out[i]));

		if (err)
			return err;
	}
	return 0;
}

const struct sgbpf_ep_record *sgbpf_inspect_record(const struct sgbpf_inspect *ins,
						   uint32_t ep_id)
{
	if (ep_id >= SGBPF_MAX_ENDPOINTS || !(ins->recs[ep_id].flags & SGBPF_EP_REC_USED))
		return NULL;
	return &ins->recs[ep_id];
}

int sgbpf_inspect_ep_by_name(const struct sgbpf_inspect *ins, const char *name)
{
	for (uint32_t i = 0; i < SGBPF_MAX_ENDPOINTS; i++)
		if (sgbpf_inspect_record(ins, i) && !strcmp(ins->recs[i].name, name))
			return (int)i;
	return -ENOENT;
}

int sgbpf_inspect_ep_addrs(const struct sgbpf_inspect *ins, uint32_t ep_id,
			   struct sg_addr *out, int max)
{
	struct sgbpf_addr_key k, prev;
	struct sgbpf_addr_val v;
	int fd = ins->fd[SGBPF_MAP_EP_ADDRS], n = 0;
	bool first = true;

	if (fd < 0)
		return -ENOENT;
	while (!bpf_map_get_next_key(fd, first ? NULL : &prev, &k)) {
		first = false;
		prev = k;
		if (k.slot != (ins->state.active_slot & 1) || bpf_map_lookup_elem(fd, &k, &v) ||
		    v.ep_id != ep_id)
			continue;
		if (n < max) {
			out[n].family = k.family;
			memcpy(out[n].addr, k.addr, 16);
		}
		n++;
	}
	return n < max ? n : max;
}

int sgbpf_inspect_ep_config(const struct sgbpf_inspect *ins, uint32_t ep_id,
			    struct sgbpf_ep_val *out)
{
	struct sgbpf_ep_key k = { .slot = ins->state.active_slot & 1, .ep_id = ep_id };

	if (ins->fd[SGBPF_MAP_EP_CONFIG] < 0)
		return -ENOENT;
	return bpf_map_lookup_elem(ins->fd[SGBPF_MAP_EP_CONFIG], &k, out) ? -errno : 0;
}

struct ct_walk {
	const struct sgbpf_inspect *ins;
	sgbpf_ct_cb cb;
	void *ctx;
};

static int ct_entry(enum sgbpf_ct_table t, const struct sgbpf_ct_key *k,
		    const struct sgbpf_ct_val *v, void *arg)
{
	const struct ct_walk *w = arg;
	const struct sgbpf_slot_config *cfg = &w->ins->cfg;
	struct sgbpf_ct_entry e = { .key = *k, .val = *v };
	/* The datapath's clock, so "expired" here is its verdict. */
	uint64_t now = sgbpf_gc_now_ns();

	e.established_map = t == SGBPF_CT_TABLE_EST;
	e.timeout_s = sgbpf_ct_entry_timeout_s(cfg, k, v);
	e.age_ns = now > v->created_ns ? now - v->created_ns : 0;
	e.idle_ns = now > v->last_seen_ns ? now - v->last_seen_ns : 0;
	e.expires_in_ns = sgbpf_ct_expires_in_ns(cfg, k, v, now);
	return w->cb(&e, w->ctx);
}

int sgbpf_inspect_ct_foreach(const struct sgbpf_inspect *ins, sgbpf_ct_cb cb, void *ctx)
{
	struct ct_walk w = { .ins = ins, .cb = cb, .ctx = ctx };
	int rc = sgbpf_ct_foreach(&ins->ct, SGBPF_CT_TABLE_EST, 0, ct_entry, &w);

	return rc ? rc : sgbpf_ct_foreach(&ins->ct, SGBPF_CT_TABLE_NEW, 0, ct_entry, &w);
}

int sgbpf_inspect_compile(const struct sgbpf_inspect *ins, const char *dir,
			  struct sg_policy *pol, struct sg_compiled *c,
			  struct sg_diags *diags, bool *stale)
{
	struct sg_ep_ids prev = { 0 };
	size_t n = 0;
	int err;

	*stale = false;
	sg_policy_init(pol);
	err = sg_policy_load_dir(pol, dir, diags);
	if (err)
		return err;
	prev.names = calloc(SGBPF_MAX_ENDPOINTS, sizeof(char *));
	prev.ids = calloc(SGBPF_MAX_ENDPOINTS, sizeof(uint32_t));
	if (!prev.names || !prev.ids) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < SGBPF_MAX_ENDPOINTS; i++) {
		if (!sgbpf_inspect_record(ins, i))
			continue;
		prev.names[n] = ins->recs[i].name;
		prev.ids[n++] = i;
	}
	prev.n = n;
	err = sg_compile(pol, &prev, c, diags);
	if (err)
		goto out;
	/* The directory may have changed since the daemon applied it. */
	if (c->n_rules != ins->cfg.n_rules || c->n_endpoints != n)
		*stale = true;
	for (size_t i = 0; !*stale && i < c->n_endpoints; i++) {
		const struct sgbpf_ep_record *r = sgbpf_inspect_record(ins, c->endpoints[i].ep_id);

		if (!r || strcmp(r->name, c->endpoints[i].src->name))
			*stale = true;
	}
out:
	free(prev.names);
	free(prev.ids);
	if (err)
		sg_policy_free(pol);
	return err;
}

char *sgbpf_addr_text(uint8_t family, const uint8_t *addr, char *buf, size_t len)
{
	if (!inet_ntop(family == SGBPF_AF_V6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}
