// SPDX-License-Identifier: BSD-2-Clause
/*
 * Loading the datapath and swapping policies into it (see loader.h).
 *
 * Every map and program is reached through the enum tables below (name ->
 * fd), never through skeleton fields, so pinned objects can later stand in
 * for the skeleton's without touching the rest of this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <limits.h>
#include <unistd.h>
#include <sys/resource.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "ct.h"
#include "pin.h"
#include "sgbpf.skel.h"

static const char *const prog_names[SGBPF_PROG_MAX] = {
	[SGBPF_PROG_XDP]            = "sgbpf_xdp",
	[SGBPF_PROG_TC_INGRESS]     = "sgbpf_tc_ingress",
	[SGBPF_PROG_TC_EGRESS]      = "sgbpf_tc_egress",
	[SGBPF_PROG_XDP_PARSE_ONLY] = "sgbpf_xdp_parse_only",
	[SGBPF_PROG_TC_PARSE_ONLY]  = "sgbpf_tc_parse_only",
};

static const char *const map_names[SGBPF_MAP_MAX] = {
	[SGBPF_MAP_STATE]        = "state",
	[SGBPF_MAP_SLOT_CONFIG]  = "slot_config",
	[SGBPF_MAP_IFACES]       = "ifaces",
	[SGBPF_MAP_EP_CONFIG]    = "ep_config",
	[SGBPF_MAP_EP_ADDRS]     = "ep_addrs",
	[SGBPF_MAP_NODE_ADDRS]   = "node_addrs",
	[SGBPF_MAP_RULE_TRIE]    = "rule_trie",
	[SGBPF_MAP_PORT_TRIE]    = "port_trie",
	[SGBPF_MAP_EXEMPT]       = "exempt",
	[SGBPF_MAP_CT_NEW]       = "ct_new",
	[SGBPF_MAP_CT_EST]       = "ct_est",
	[SGBPF_MAP_FRAGS]        = "frags",
	[SGBPF_MAP_EP_STATS]     = "ep_stats",
	[SGBPF_MAP_RULE_STATS]   = "rule_stats",
	[SGBPF_MAP_GLOBAL_STATS] = "global_stats",
	[SGBPF_MAP_EVENTS]       = "events",
	[SGBPF_MAP_RCU_BARRIER]  = "rcu_barrier",
	[SGBPF_MAP_PROBE_PORTS]  = "probe_ports",
	[SGBPF_MAP_PROBE_TARGET] = "probe_target",
	[SGBPF_MAP_CT4_NEW]      = "ct4_new",
	[SGBPF_MAP_CT4_EST]      = "ct4_est",
	[SGBPF_MAP_CT4T_EST]     = "ct4t_est",
	[SGBPF_MAP_CT6T_EST]     = "ct6t_est",
	[SGBPF_MAP_CT6U_EST]     = "ct6u_est",
};

#define SLOTTED_TABLES 7

/*
 * What one policy slot holds, as far as this handle knows. Known: exactly
 * the entries below, copies of the compiled tables last written there (slot
 * field 0, sorted by key bytes; none for a fresh map), so the next write
 * into the slot is a merge of them against the new tables. Unknown (taken
 * over from pinned maps, or a write and its rollback failed half-way): the
 * next write walks every key of each map (bpf_map_get_next_key) to delete
 * the slot's entries, then writes in full.
 */
struct slot_record {
	bool known;
	void *keys[SLOTTED_TABLES];
	void *vals[SLOTTED_TABLES];
	size_t n[SLOTTED_TABLES];
};

struct sgbpf {
	struct sgbpf_bpf *skel;
	int prog_fd[SGBPF_PROG_MAX];
	int map_fd[SGBPF_MAP_MAX];
	int rcu_inner_fd;           /* value written into rcu_barrier[0]     */
	int ncpus;
	struct slot_record rec[SGBPF_NUM_SLOTS];
	uint32_t slot_rules[SGBPF_NUM_SLOTS]; /* rule_stats ids in use per slot */
	bool need_grace;            /* a flip went without its grace period  */
	bool reused;                /* maps taken over from pin_dir          */
};

/* One slotted table of a compiled policy: where its slot field is. */
struct slot_table {
	enum sgbpf_map map;
	const void *keys;
	const void *vals;
	size_t n;
	size_t key_size;
	size_t val_size;
	size_t slot_off;
	size_t slot_size;           /* 1 or 4 bytes */
};

const char *sgbpf_prog_name(enum sgbpf_prog prog)
{
	return (unsigned)prog < SGBPF_PROG_MAX ? prog_names[prog] : "?";
}

const char *sgbpf_map_name(enum sgbpf_map map)
{
	return (unsigned)map < SGBPF_MAP_MAX ? map_names[map] : "?";
}

int sgbpf_prog_fd(const struct sgbpf *h, enum sgbpf_prog prog)
{
	if (!h || (unsigned)prog >= SGBPF_PROG_MAX)
		return -EINVAL;
	return h->prog_fd[prog];
}

int sgbpf_map_fd(const struct sgbpf *h, enum sgbpf_map map)
{
	if (!h || (unsigned)map >= SGBPF_MAP_MAX)
		return -EINVAL;
	return h->map_fd[map];
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint32_t map_capacity(const struct sgbpf *h, enum sgbpf_map map)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(h->map_fd[map], &info, &len))
		return 0;
	return info.max_entries;
}

static void record_reset(struct slot_record *r, bool known)
{
	int i;

	for (i = 0; i < SLOTTED_TABLES; i++) {
		free(r->keys[i]);
		free(r->vals[i]);
		r->keys[i] = NULL;
		r->vals[i] = NULL;
		r->n[i] = 0;
	}
	r->known = known;
}

void sgbpf_close(struct sgbpf *h)
{
	int i;

	if (!h)
		return;
	for (i = 0; i < SGBPF_NUM_SLOTS; i++)
		record_reset(&h->rec[i], false);
	if (h->rcu_inner_fd >= 0)
		close(h->rcu_inner_fd);
	sgbpf_bpf__destroy(h->skel);
	free(h);
}

static int write_state(struct sgbpf *h, uint32_t slot, uint64_t generation)
{
	struct sgbpf_state st = {
		.active_slot = slot,
		.layout_version = SGBPF_LAYOUT_VERSION,
		.generation = generation,
	};
	uint32_t zero = 0;

	if (bpf_map_update_elem(h->map_fd[SGBPF_MAP_STATE], &zero, &st, BPF_ANY))
		return -errno;
	return 0;
}

/* ---- fault injection (loader.h) ---------------------------------------- */

static struct {
	int parsed;                 /* 0: env not read yet, 1: inert, 2: armed */
	unsigned swap, point;       /* SGBPF_FAULT_KILL="swap:point[:+usec]"   */
	unsigned long delay_us;
	unsigned cur_swap, cur_point;
} fault;

static void fault_parse(void)
{
	const char *env = getenv("SGBPF_FAULT_KILL");
	int n = 0;

	fault.parsed = 1;
	if (!env || !*env)
		return;
	if (sscanf(env, "%u:%u%n", &fault.swap, &fault.point, &n) != 2 || !fault.swap ||
	    !fault.point || (env[n] && sscanf(env + n, ":+%lu", &fault.delay_us) != 1)) {
		fprintf(stderr, "sgbpf: ignoring SGBPF_FAULT_KILL='%s': want SWAP:POINT or "
			"SWAP:POINT:+USEC (positive integers)\n", env);
		return;
	}
	fault.parsed = 2;
}

void sgbpf_fault_swap_begin(void)
{
	if (!fault.parsed)
		fault_parse();
	fault.cur_swap++;
	fault.cur_point = 0;
}

void sgbpf_fault_point(const char *what)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGKILL };
	struct itimerspec its = { 0 };
	const char *path = getenv("SGBPF_FAULT_LOG");
	char line[256];
	timer_t timer;
	int fd, n;

	if (!fault.parsed)
		fault_parse();
	if (fault.parsed != 2 || fault.cur_swap != fault.swap || ++fault.cur_point != fault.point)
		return;
	n = snprintf(line, sizeof(line), "sgbpf: fault injection: SIGKILL %s%lu us after swap "
		     "%u point %u (%s)\n", fault.delay_us ? "" : "now, ", fault.delay_us,
		     fault.swap, fault.point, what);
	/* sgbpfd captures stderr around a swap: SGBPF_FAULT_LOG names a file
	 * the line survives in. */
	fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : 2;
	if (fd >= 0 && n > 0 && write(fd, line, (size_t)n) < 0)
		n = 0;
	if (path && fd >= 0)
		close(fd);
	if (!fault.delay_us)
		kill(getpid(), SIGKILL);
	its.it_value.tv_sec = fault.delay_us / 1000000;
	its.it_value.tv_nsec = (long)(fault.delay_us % 1000000) * 1000;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) || timer_settime(timer, 0, &its, NULL))
		kill(getpid(), SIGKILL);
}

/* ---- pinned state ------------------------------------------------------ */

/*
 * The pinned state map's layout version: 0 when nothing is pinned (or only
 * a half-pinned directory without state), -EPROTO after a message when it
 * can't be read as this build's struct sgbpf_state.
 */
static int pinned_layout_version(const char *pin_dir, uint32_t *version)
{
	char path[PATH_MAX];
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info), zero = 0;
	uint8_t buf[256] = {};
	int fd, err;

	*version = 0;
	err = sgbpf_pin_path(path, sizeof(path), pin_dir, "maps", map_names[SGBPF_MAP_STATE]);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_MAP_TYPE_ARRAY ||
	    info.value_size < 8 || info.value_size > sizeof(buf) ||
	    bpf_map_lookup_elem(fd, &zero, buf)) {
		close(fd);
		fprintf(stderr, "sgbpf: pinned map %s is not a state map this build can read; "
			"it was written by an incompatible sgbpf: stop sgbpfd and remove %s to "
			"start afresh (this drops conntrack state)\n", path, pin_dir);
		return -EPROTO;
	}
	close(fd);
	/* layout_version is the second __u32 of every struct sgbpf_state. */
	memcpy(version, buf + offsetof(struct sgbpf_state, layout_version), sizeof(*version));
	if (*version != SGBPF_LAYOUT_VERSION ||
	    info.value_size != sizeof(struct sgbpf_state)) {
		fprintf(stderr, "sgbpf: pinned state in %s has layout version %u, this build "
			"uses layout version %u; refusing to mix them. Run the sgbpfd that "
			"wrote it, or stop sgbpfd and remove %s to start afresh (this drops "
			"conntrack state: established connections then need rules allowing "
			"them)\n", pin_dir, *version, SGBPF_LAYOUT_VERSION, pin_dir);
		return -EPROTO;
	}
	return 0;
}

/* Hand every pinned datapath map to the skeleton before it loads. */
static int reuse_pinned_maps(struct sgbpf *h, const char *pin_dir)
{
	char path[PATH_MAX];
	int i, fd, err;

	for (i = 0; i < SGBPF_MAP_MAX; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(h->skel->obj, map_names[i]);
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);

		if (!m)
			return -ENOENT;
		err = sgbpf_pin_path(path, sizeof(path), pin_dir, "maps", map_names[i]);
		if (err)
			return err;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = -errno;
			fprintf(stderr, "sgbpf: pinned state in %s is incomplete: map %s: %s; stop "
				"sgbpfd and remove %s to start afresh (drops conntrack state)\n",
				pin_dir, map_names[i], strerror(-err), pin_dir);
			return -EPROTO;
		}
		if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    info.type != bpf_map__type(m) || info.key_size != bpf_map__key_size(m) ||
		    info.value_size != bpf_map__value_size(m) ||
		    info.max_entries != bpf_map__max_entries(m) ||
		    info.map_flags != bpf_map__map_flags(m)) {
			fprintf(stderr, "sgbpf: pinned map %s/maps/%s (type %u key %u value %u "
				"entries %u flags %#x) does not match this build's (type %u key %u "
				"value %u entries %u flags %#x) although both say layout version %u; "
				"stop sgbpfd and remove %s to start afresh (drops conntrack state)\n",
				pin_dir, map_names[i], info.type, info.key_size, info.value_size,
				info.max_entries, info.map_flags, bpf_map__type(m),
				bpf_map__key_size(m), bpf_map__value_size(m), bpf_map__max_entries(m),
				bpf_map__map_flags(m), SGBPF_LAYOUT_VERSION, pin_dir);
			close(fd);
			return -EPROTO;
		}
		err = bpf_map__reuse_fd(m, fd);
		close(fd);      /* reuse_fd dup()s it */
		if (err) {
			fprintf(stderr, "sgbpf: reusing pinned map %s failed: %s\n", map_names[i],
				strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Pin a freshly loaded map or program at path, replacing a stale pin. */
static int pin_fd(int fd, const char *path)
{
	int err;

	unlink(path);
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		fprintf(stderr, "sgbpf: pinning %s failed: %s\n", path, strerror(-err));
		return err;
	}
	return 0;
}

static int pin_all(struct sgbpf *h, const char *pin_dir)
{
	char path[PATH_MAX];
	int i, err;

	for (i = 0; i < SGBPF_PROG_MAX; i++) {
		err = sgbpf_pin_path(path, sizeof(path), pin_dir, "progs", prog_names[i]);
		if (!err)
			err = pin_fd(h->prog_fd[i], path);
		if (err)
			return err;
	}
	if (h->reused)
		return 0;
	/* state last: its presence marks a complete set. */
	for (i = SGBPF_MAP_MAX - 1; i >= 0; i--) {
		err = sgbpf_pin_path(path, sizeof(path), pin_dir, "maps", map_names[i]);
		if (!err)
			err = pin_fd(h->map_fd[i], path);
		if (err)
			return err;
	}
	return 0;
}

bool sgbpf_reused(const struct sgbpf *h)
{
	return h && h->reused;
}

static int open_common(const char *pin_dir, unsigned flags, struct sgbpf **out);

int sgbpf_open(struct sgbpf **out)
{
	return open_common(NULL, 0, out);
}

int sgbpf_open_pinned(const char *pin_dir, unsigned flags, struct sgbpf **out)
{
	return open_common(pin_dir, flags, out);
}

static int open_common(const char *pin_dir, unsigned flags, struct sgbpf **out)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct sgbpf *h;
	uint32_t version = 0;
	int err, i;

	*out = NULL;
	if (pin_dir) {
		err = sgbpf_pin_prepare(pin_dir);
		if (err)
			return err;
		err = pinned_layout_version(pin_dir, &version);
		if (err)
			return err;
		if (!version && (flags & SGBPF_PIN_REUSE_ONLY)) {
			fprintf(stderr, "sgbpf: nothing is pinned in %s; start sgbpfd first\n",
				pin_dir);
			return -ENOENT;
		}
	}
	/* Kernels >= 5.11 charge BPF memory to the cgroup; older ones need this. */
	setrlimit(RLIMIT_MEMLOCK, &rl);

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->rcu_inner_fd = -1;

	h->skel = sgbpf_bpf__open();
	if (!h->skel) {
		err = -errno;
		fprintf(stderr, "sgbpf: opening the embedded BPF object failed: %s\n",
			strerror(-err));
		goto fail;
	}
	if (version) {
		err = reuse_pinned_maps(h, pin_dir);
		if (err)
			goto fail;
		h->reused = true;
	}
	err = sgbpf_bpf__load(h->skel);
	if (err) {
		fprintf(stderr,
			"sgbpf: loading the datapath into the kernel failed: %s "
			"(needs root or CAP_BPF+CAP_NET_ADMIN and a kernel with BTF; "
			"a verifier log above, if any, says which program was refused)\n",
			strerror(-err));
		goto fail;
	}

	for (i = 0; i < SGBPF_PROG_MAX; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(h->skel->obj,
									 prog_names[i]);

		h->prog_fd[i] = p ? bpf_program__fd(p) : -1;
		if (h->prog_fd[i] < 0) {
			fprintf(stderr, "sgbpf: program %s missing from the BPF object; "
				"rebuild build/sgbpf.bpf.o\n", prog_names[i]);
			err = -ENOENT;
			goto fail;
		}
	}
	for (i = 0; i < SGBPF_MAP_MAX; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(h->skel->obj, map_names[i]);

		h->map_fd[i] = m ? bpf_map__fd(m) : -1;
		if (h->map_fd[i] < 0) {
			fprintf(stderr, "sgbpf: map %s missing from the BPF object; "
				"rebuild build/sgbpf.bpf.o\n", map_names[i]);
			err = -ENOENT;
			goto fail;
		}
	}

	h->ncpus = libbpf_num_possible_cpus();
	if (h->ncpus <= 0) {
		err = h->ncpus < 0 ? h->ncpus : -EINVAL;
		fprintf(stderr, "sgbpf: cannot count possible CPUs: %s\n", strerror(-err));
		goto fail;
	}

	/* The map swapped into rcu_barrier[0] after each flip. */
	h->rcu_inner_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sgbpf_rcu_in", sizeof(uint32_t),
					 sizeof(uint32_t), 1, NULL);
	if (h->rcu_inner_fd < 0) {
		err = -errno;
		fprintf(stderr, "sgbpf: creating the rcu_barrier inner map failed: %s\n",
			strerror(-err));
		goto fail;
	}

	if (h->reused) {
		/* Taken-over slots: contents unknown (a swap may have been cut
		 * short), so the next apply walks them; rule_stats ids in use
		 * come from each slot's config. */
		for (i = 0; i < SGBPF_NUM_SLOTS; i++) {
			struct sgbpf_slot_config sc;
			uint32_t k = i;

			if (!bpf_map_lookup_elem(h->map_fd[SGBPF_MAP_SLOT_CONFIG], &k, &sc))
				h->slot_rules[i] = sc.n_rules;
		}
	} else {
		/* Freshly created maps: both slots known to be empty. */
		h->rec[0].known = true;
		h->rec[1].known = true;

		err = write_state(h, 0, 0);
		if (err) {
			fprintf(stderr, "sgbpf: writing the initial state map failed: %s\n",
				strerror(-err));
			goto fail;
		}
	}
	if (pin_dir) {
		err = pin_all(h, pin_dir);
		if (err)
			goto fail;
	}
	*out = h;
	return 0;
fail:
	sgbpf_close(h);
	return err;
}

/* ---- slotted tables ---------------------------------------------------- */

static void fill_tables(const struct sg_compiled *c, struct slot_table *t)
{
	t[0] = (struct slot_table){ SGBPF_MAP_EP_CONFIG, c->ep_keys, c->ep_vals, c->n_ep,
		sizeof(struct sgbpf_ep_key), sizeof(struct sgbpf_ep_val),
		offsetof(struct sgbpf_ep_key, slot), 4 };
	t[1] = (struct slot_table){ SGBPF_MAP_EP_ADDRS, c->addr_keys, c->addr_vals, c->n_addr,
		sizeof(struct sgbpf_addr_key), sizeof(struct sgbpf_addr_val),
		offsetof(struct sgbpf_addr_key, slot), 4 };
	t[2] = (struct slot_table){ SGBPF_MAP_NODE_ADDRS, c->node_keys, c->node_vals, c->n_node,
		sizeof(struct sgbpf_addr_key), sizeof(struct sgbpf_addr_val),
		offsetof(struct sgbpf_addr_key, slot), 4 };
	t[3] = (struct slot_table){ SGBPF_MAP_RULE_TRIE, c->rule_keys, c->rule_vals,
		c->n_rule_entries, sizeof(struct sgbpf_rule_key), sizeof(struct sgbpf_rule_val),
		offsetof(struct sgbpf_rule_key, slot), 1 };
	t[4] = (struct slot_table){ SGBPF_MAP_PORT_TRIE, c->port_keys, c->port_vals,
		c->n_port_entries, sizeof(struct sgbpf_port_key), sizeof(struct sgbpf_port_val),
		offsetof(struct sgbpf_port_key, slot), 1 };
	t[5] = (struct slot_table){ SGBPF_MAP_EXEMPT, c->exempt_keys, c->exempt_vals,
		c->n_exempt, sizeof(struct sgbpf_exempt_key), sizeof(struct sgbpf_exempt_val),
		offsetof(struct sgbpf_exempt_key, slot), 1 };
	t[6] = (struct slot_table){ SGBPF_MAP_PROBE_PORTS, c->probe_keys, c->probe_vals,
		c->n_probe, sizeof(struct sgbpf_probe_key), sizeof(struct sgbpf_probe_val),
		offsetof(struct sgbpf_probe_key, slot), 4 };
}

static void slot_set(void *key, size_t off, size_t size, uint32_t slot)
{
	if (size == 1)
		((uint8_t *)key)[off] = slot;
	else
		memcpy((uint8_t *)key + off, &slot, sizeof(slot));
}

static uint32_t slot_get(const void *key, size_t off, size_t size)
{
	uint32_t slot;

	if (size == 1)
		return ((const uint8_t *)key)[off];
	memcpy(&slot, (const uint8_t *)key + off, sizeof(slot));
	return slot;
}

/* Copy of the table's keys with slot stamped in. NULL when n == 0 or OOM. */
static void *stamp_keys(const struct slot_table *t, uint32_t slot)
{
	uint8_t *keys;
	size_t i;

	if (!t->n)
		return NULL;
	keys = malloc(t->n * t->key_size);
	if (!keys)
		return NULL;
	memcpy(keys, t->keys, t->n * t->key_size);
	for (i = 0; i < t->n; i++)
		slot_set(keys + i * t->key_size, t->slot_off, t->slot_size, slot);
	return keys;
}

static bool batch_unsupported(int err)
{
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUP || err == -524;
}

/*
 * Write n entries, batched when the map supports it. *done gets how many
 * were written (on failure: the entries before the failing one).
 */
static int write_entries(int fd, const void *keys, const void *vals, size_t n,
			 size_t key_size, size_t val_size, size_t *done)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	uint32_t count = n;
	size_t i;
	int err;

	*done = 0;
	if (!n)
		return 0;
	err = bpf_map_update_batch(fd, keys, vals, &count, &opts);
	if (!err) {
		*done = n;
		return 0;
	}
	err = -errno;
	if (!batch_unsupported(err)) {
		*done = count;
		return err;
	}
	/* No batch support (or a batch refused as a whole): one at a time. */
	for (i = 0; i < n; i++) {
		if (bpf_map_update_elem(fd, (const uint8_t *)keys + i * key_size,
					(const uint8_t *)vals + i * val_size, BPF_ANY)) {
			*done = i;
			return -errno;
		}
	}
	*done = n;
	return 0;
}

/*
 * Delete n keys, batched where the map supports it. Keys already gone (the
 * datapath expires conntrack entries concurrently; rollback deletes keys
 * that were never written) are skipped. Returns 0 or the first other error
 * (every key is still tried).
 */
static int delete_entries(int fd, const void *keys, size_t n, size_t key_size)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	const uint8_t *k = keys;
	size_t i = 0;
	int err = 0;

	while (i < n) {
		uint32_t count = n - i;

		if (!bpf_map_delete_batch(fd, k + i * key_size, &count, &opts))
			return err;
		if (errno != ENOENT && batch_unsupported(-errno) && count == 0)
			break;
		/* Key i + count failed (usually ENOENT): skip it, go on. */
		i += count;
		if (i >= n)
			break;
		if (bpf_map_delete_elem(fd, k + i * key_size) && errno != ENOENT && !err)
			err = -errno;
		i++;
	}
	for (; i < n; i++)
		if (bpf_map_delete_elem(fd, k + i * key_size) && errno != ENOENT && !err)
			err = -errno;
	return err;
}

/*
 * Collect every key of map fd for which match() holds. The map may change
 * under us (the datapath inserts and expires conntrack entries), so the walk
 * is bounded and a key seen twice is harmless (deleting it again fails with
 * ENOENT, which callers ignore).
 */
static int collect_keys(int fd, size_t key_size, uint32_t max_entries,
			bool (*match)(const void *key, const void *arg), const void *arg,
			uint8_t **out, size_t *n_out)
{
	size_t cap = 256, n = 0, steps = 0, limit = 2 * (size_t)max_entries + 16;
	uint8_t *keys, *prev = NULL, *cur;
	uint8_t *kbuf;

	*out = NULL;
	*n_out = 0;
	keys = malloc(cap * key_size);
	kbuf = malloc(2 * key_size);
	if (!keys || !kbuf) {
		free(keys);
		free(kbuf);
		return -ENOMEM;
	}
	cur = kbuf;
	while (steps++ < limit) {
		if (bpf_map_get_next_key(fd, prev, cur)) {
			if (errno == ENOENT)
				break;
			free(keys);
			free(kbuf);
			return -errno;
		}
		if (match(cur, arg)) {
			if (n == cap) {
				uint8_t *k = realloc(keys, 2 * cap * key_size);

				if (!k) {
					free(keys);
					free(kbuf);
					return -ENOMEM;
				}
				keys = k;
				cap *= 2;
			}
			memcpy(keys + n * key_size, cur, key_size);
			n++;
		}
		prev = cur;
		cur = cur == kbuf ? kbuf + key_size : kbuf;
	}
	free(kbuf);
	*out = keys;
	*n_out = n;
	return 0;
}

struct slot_match {
	size_t off, size;
	uint32_t slot;
};

static bool match_slot(const void *key, const void *arg)
{
	const struct slot_match *m = arg;

	return slot_get(key, m->off, m->size) == m->slot;
}

/* Delete every entry of one slot from one slotted table. */
static int purge_slot(struct sgbpf *h, const struct slot_table *t, uint32_t slot)
{
	struct slot_match m = { t->slot_off, t->slot_size, slot };
	int fd = h->map_fd[t->map];
	uint8_t *keys;
	size_t n;
	int err;

	err = collect_keys(fd, t->key_size, map_capacity(h, t->map), match_slot, &m,
			   &keys, &n);
	if (err)
		return err;
	err = delete_entries(fd, keys, n, t->key_size);
	free(keys);
	return err;
}

static int purge_slot_all(struct sgbpf *h, const struct slot_table *t, uint32_t slot)
{
	int i, err, ret = 0;

	for (i = 0; i < SLOTTED_TABLES; i++) {
		err = purge_slot(h, &t[i], slot);
		if (err) {
			fprintf(stderr, "sgbpf: clearing slot %u of map %s failed: %s\n", slot,
				map_names[t[i].map], strerror(-err));
			ret = err;
		}
	}
	return ret;
}

static void report_write_error(struct sgbpf *h, const struct slot_table *t, int err,
			       size_t done)
{
	uint32_t cap = map_capacity(h, t->map);

	if (err == -E2BIG || err == -ENOSPC)
		fprintf(stderr,
			"sgbpf: map %s is full: it holds %u entries for both policy slots "
			"and the new policy needs %zu (written %zu before it filled); "
			"shrink the policy (fewer rules, prefixes or endpoints)\n",
			map_names[t->map], cap, t->n, done);
	else
		fprintf(stderr,
			"sgbpf: writing %zu entries into map %s failed after %zu: %s; "
			"the policy in force is unchanged\n",
			t->n, map_names[t->map], done, strerror(-err));
}

/* Zero rule_stats[slot * MAX + 0 .. n-1]. */
static int zero_rule_stats(struct sgbpf *h, uint32_t slot, uint32_t n)
{
	size_t vsz = ((sizeof(struct sgbpf_rule_stats) + 7) & ~7ul) * h->ncpus;
	uint32_t *keys, i;
	void *vals;
	size_t done;
	int err;

	if (!n)
		return 0;
	keys = malloc(n * sizeof(*keys));
	vals = calloc(n, vsz);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		keys[i] = slot * SGBPF_MAX_RULES + i;
	err = write_entries(h->map_fd[SGBPF_MAP_RULE_STATS], keys, vals, n, sizeof(*keys),
			    vsz, &done);
	free(keys);
	free(vals);
	return err;
}

/* Strictly increasing by key bytes: what a merge against the record needs. */
static bool table_sorted(const struct slot_table *t)
{
	const uint8_t *k = t->keys;
	size_t i;

	for (i = 1; i < t->n; i++)
		if (memcmp(k + (i - 1) * t->key_size, k + i * t->key_size, t->key_size) >= 0)
			return false;
	return true;
}

/* What one table of a slot needs so that it holds the new table. */
struct table_diff {
	uint8_t *upd_keys;          /* new or changed entries, slot stamped  */
	uint8_t *upd_vals;
	size_t n_upd;
	uint8_t *del_keys;          /* entries no longer present, stamped    */
	size_t n_del;
};

static void diff_free(struct table_diff *d)
{
	free(d->upd_keys);
	free(d->upd_vals);
	free(d->del_keys);
	memset(d, 0, sizeof(*d));
}

static void *dup_bytes(const void *p, size_t len)
{
	void *q = malloc(len ? len : 1);

	if (q && len)
		memcpy(q, p, len);
	return q;
}

/*
 * Merge the slot's record (ok/ov, on entries) against the new table t, both
 * sorted by key bytes: keys only in the record are deleted, keys only in t
 * or with another value are written, equal entries are left alone. Without
 * merge (t not sorted) every old key is deleted and every new entry written.
 */
static int diff_table(const struct slot_table *t, const uint8_t *ok, const uint8_t *ov,
		      size_t on, bool merge, uint32_t slot, struct table_diff *d)
{
	const uint8_t *nk = t->keys, *nv = t->vals;
	size_t ks = t->key_size, vs = t->val_size, i = 0, j = 0, x;

	memset(d, 0, sizeof(*d));
	d->upd_keys = malloc((t->n ? t->n : 1) * ks);
	d->upd_vals = malloc((t->n ? t->n : 1) * vs);
	d->del_keys = malloc((on ? on : 1) * ks);
	if (!d->upd_keys || !d->upd_vals || !d->del_keys) {
		diff_free(d);
		return -ENOMEM;
	}
	if (!merge) {
		memcpy(d->del_keys, ok, on * ks);
		d->n_del = on;
		memcpy(d->upd_keys, nk, t->n * ks);
		memcpy(d->upd_vals, nv, t->n * vs);
		d->n_upd = t->n;
	}
	while (merge && (i < on || j < t->n)) {
		int c = i == on ? 1 : j == t->n ? -1 : memcmp(ok + i * ks, nk + j * ks, ks);

		if (c < 0) {
			memcpy(d->del_keys + d->n_del++ * ks, ok + i++ * ks, ks);
			continue;
		}
		if (c > 0 || memcmp(ov + i * vs, nv + j * vs, vs)) {
			memcpy(d->upd_keys + d->n_upd * ks, nk + j * ks, ks);
			memcpy(d->upd_vals + d->n_upd * vs, nv + j * vs, vs);
			d->n_upd++;
		}
		if (c == 0)
			i++;
		j++;
	}
	for (x = 0; x < d->n_upd; x++)
		slot_set(d->upd_keys + x * ks, t->slot_off, t->slot_size, slot);
	for (x = 0; x < d->n_del; x++)
		slot_set(d->del_keys + x * ks, t->slot_off, t->slot_size, slot);
	return 0;
}

/* Delete every entry a known record says the slot holds. */
static int delete_record(struct sgbpf *h, const struct slot_table *t,
			 const struct slot_record *r, uint32_t slot)
{
	int w, err, ret = 0;

	for (w = 0; w < SLOTTED_TABLES; w++) {
		struct slot_table rt = t[w];
		void *keys;

		rt.keys = r->keys[w];
		rt.n = r->n[w];
		if (!rt.n)
			continue;
		keys = stamp_keys(&rt, slot);
		if (!keys)
			return -ENOMEM;
		err = delete_entries(h->map_fd[t[w].map], keys, rt.n, t[w].key_size);
		free(keys);
		if (err && !ret)
			ret = err;
	}
	return ret;
}

/* Updating a map-in-map makes the kernel synchronize_rcu(): after it, no
 * program run that read the slot in force before the flip is still going. */
static int rcu_grace(struct sgbpf *h)
{
	uint32_t zero = 0;

	if (bpf_map_update_elem(h->map_fd[SGBPF_MAP_RCU_BARRIER], &zero, &h->rcu_inner_fd,
				BPF_ANY))
		return -errno;
	return 0;
}

int sgbpf_apply(struct sgbpf *h, const struct sg_compiled *c, uint64_t generation,
		struct sgbpf_swap_stats *stats)
{
	struct table_diff d[SLOTTED_TABLES] = {};
	void *nkeys[SLOTTED_TABLES] = {}, *nvals[SLOTTED_TABLES] = {};
	struct slot_table t[SLOTTED_TABLES];
	struct sgbpf_slot_config cfg;
	struct slot_record *r;
	struct sgbpf_state st;
	uint32_t zero = 0, s, old, n_zero;
	uint64_t t0, t1, t2, written = 0, deleted = 0;
	bool sorted = true, full;
	size_t done;
	int w, err;

	if (!h || !c)
		return -EINVAL;
	if (c->n_rules > SGBPF_MAX_RULES) {
		fprintf(stderr, "sgbpf: policy has %zu rules, the datapath holds %u per slot\n",
			c->n_rules, SGBPF_MAX_RULES);
		return -E2BIG;
	}
	if (bpf_map_lookup_elem(h->map_fd[SGBPF_MAP_STATE], &zero, &st)) {
		err = -errno;
		fprintf(stderr, "sgbpf: reading map state failed: %s\n", strerror(-err));
		return err;
	}
	old = st.active_slot & 1;
	s = 1 - old;
	r = &h->rec[s];
	fill_tables(c, t);

	sgbpf_fault_point("apply: nothing written yet");
	t0 = now_ns();
	/* Slot s was in force until the last flip: packets may read it until
	 * a grace period has passed. */
	if (h->need_grace) {
		err = rcu_grace(h);
		if (err) {
			fprintf(stderr, "sgbpf: rcu_barrier update failed (%s); slot %u may "
				"still be read by packets, so it is not rewritten and the policy "
				"in force stays\n", strerror(-err), s);
			return err;
		}
		h->need_grace = false;
	}
	full = !r->known;
	if (full) {
		err = purge_slot_all(h, t, s);
		if (err)
			return err;     /* r stays unknown */
		record_reset(r, true);
		sgbpf_fault_point("inactive slot purged");
	}

	/* Stage everything before the first write, so running out of memory
	 * leaves the slot as it is. */
	for (w = 0; w < SLOTTED_TABLES; w++) {
		bool merge = table_sorted(&t[w]);

		sorted &= merge;
		err = diff_table(&t[w], r->keys[w], r->vals[w], r->n[w], merge, s, &d[w]);
		nkeys[w] = dup_bytes(t[w].keys, t[w].n * t[w].key_size);
		nvals[w] = dup_bytes(t[w].vals, t[w].n * t[w].val_size);
		if (err || !nkeys[w] || !nvals[w]) {
			err = -ENOMEM;
			fprintf(stderr, "sgbpf: no memory to stage %zu entries of map %s\n",
				t[w].n, map_names[t[w].map]);
			goto out;
		}
	}

	/* Deletions first: they make room in maps shared by both slots, and
	 * an LPM key may differ from a deleted one only beyond its prefix. */
	for (w = 0; w < SLOTTED_TABLES; w++) {
		int fd = h->map_fd[t[w].map];
		char what[64];

		err = delete_entries(fd, d[w].del_keys, d[w].n_del, t[w].key_size);
		if (err) {
			fprintf(stderr, "sgbpf: deleting %zu entries of slot %u from map %s "
				"failed: %s; the policy in force is unchanged\n", d[w].n_del, s,
				map_names[t[w].map], strerror(-err));
			goto rollback;
		}
		deleted += d[w].n_del;
		snprintf(what, sizeof(what), "deleted from %s", map_names[t[w].map]);
		sgbpf_fault_point(what);
		err = write_entries(fd, d[w].upd_keys, d[w].upd_vals, d[w].n_upd,
				    t[w].key_size, t[w].val_size, &done);
		if (err) {
			report_write_error(h, &t[w], err, done);
			goto rollback;
		}
		written += d[w].n_upd;
		snprintf(what, sizeof(what), "wrote %s", map_names[t[w].map]);
		sgbpf_fault_point(what);
	}

	cfg = c->config;
	cfg.generation = generation;
	cfg.n_rules = c->n_rules;
	if (bpf_map_update_elem(h->map_fd[SGBPF_MAP_SLOT_CONFIG], &s, &cfg, BPF_ANY)) {
		err = -errno;
		fprintf(stderr, "sgbpf: writing slot_config[%u] failed: %s\n", s, strerror(-err));
		goto rollback;
	}
	sgbpf_fault_point("wrote slot_config");
	n_zero = c->n_rules > h->slot_rules[s] ? c->n_rules : h->slot_rules[s];
	err = zero_rule_stats(h, s, n_zero);
	if (err) {
		fprintf(stderr, "sgbpf: zeroing rule_stats of slot %u failed: %s\n", s,
			strerror(-err));
		goto rollback;
	}
	h->slot_rules[s] = c->n_rules;
	sgbpf_fault_point("zeroed rule_stats");

	/* The flip: one array update; each packet reads the slot once. */
	t1 = now_ns();
	err = write_state(h, s, generation);
	if (err) {
		fprintf(stderr, "sgbpf: flipping map state to slot %u failed: %s\n", s,
			strerror(-err));
		goto rollback;
	}
	sgbpf_fault_point("flipped state.active_slot");
	err = rcu_grace(h);
	if (err) {
		/* The swap itself took effect; only the next write into the
		 * old slot has to wait for the grace period. */
		fprintf(stderr, "sgbpf: warning: rcu_barrier update failed (%s); the next "
			"policy swap waits for it before rewriting slot %u\n", strerror(-err),
			old);
		h->need_grace = true;
		err = 0;
	}
	sgbpf_fault_point("rcu grace period");
	t2 = now_ns();

	/* Slot s now holds exactly the new tables; the old slot keeps its
	 * entries (and its record) for the next swap to merge against. */
	for (w = 0; w < SLOTTED_TABLES; w++) {
		free(r->keys[w]);
		free(r->vals[w]);
		r->keys[w] = nkeys[w];
		r->vals[w] = nvals[w];
		r->n[w] = t[w].n;
		nkeys[w] = nvals[w] = NULL;
	}
	r->known = sorted;
	if (stats) {
		stats->write_ns = t1 - t0;
		stats->flip_ns = t2 - t1;
		stats->cleanup_ns = 0;
		stats->slot = s;
		stats->generation = generation;
		stats->entries_written = written;
		stats->entries_deleted = deleted;
		stats->full_rewrite = full;
	}
	goto out;

rollback:
	/* Slot s holds some entries of its record and some of the new ones
	 * (written ones are in d[].upd_keys): deleting both empties it. */
	{
		int rb = delete_record(h, t, r, s);

		for (w = 0; w < SLOTTED_TABLES; w++) {
			int e = delete_entries(h->map_fd[t[w].map], d[w].upd_keys, d[w].n_upd,
					       t[w].key_size);

			if (e && !rb)
				rb = e;
		}
		if (rb)
			fprintf(stderr, "sgbpf: warning: clearing the half-written slot %u failed "
				"(%s); it is cleared before its next use\n", s, strerror(-rb));
		record_reset(r, rb == 0);
	}
out:
	for (w = 0; w < SLOTTED_TABLES; w++) {
		diff_free(&d[w]);
		free(nkeys[w]);
		free(nvals[w]);
	}
	return err;
}

/* ---- interfaces and endpoints ----------------------------------------- */

int sgbpf_iface_set(struct sgbpf *h, uint32_t ifindex, uint16_t vlan_id, uint32_t ep_id,
		    enum sgbpf_role role)
{
	struct sgbpf_iface_key k = { .ifindex = ifindex, .vlan_id = vlan_id };
	struct sgbpf_iface_val v = { .ep_id = ep_id, .role = role };
	int err;

	if (!h || ep_id >= SGBPF_MAX_ENDPOINTS || vlan_id > 4095 ||
	    (role != SGBPF_ROLE_POD_FACING && role != SGBPF_ROLE_NET_FACING)) {
		fprintf(stderr, "sgbpf: bad interface entry (ifindex %u vlan %u ep %u role %d): "
			"ep must be < %u, vlan <= 4095\n", ifindex, vlan_id, ep_id, role,
			SGBPF_MAX_ENDPOINTS);
		return -EINVAL;
	}
	if (bpf_map_update_elem(h->map_fd[SGBPF_MAP_IFACES], &k, &v, BPF_ANY)) {
		err = -errno;
		if (err == -E2BIG)
			fprintf(stderr, "sgbpf: ifaces map full (%u entries); cannot add "
				"ifindex %u vlan %u: detach unused interfaces\n",
				SGBPF_MAX_IFACES, ifindex, vlan_id);
		else
			fprintf(stderr, "sgbpf: writing ifaces entry (ifindex %u vlan %u) "
				"failed: %s\n", ifindex, vlan_id, strerror(-err));
		return err;
	}
	return 0;
}

int sgbpf_probe_target_set(struct sgbpf *h, const struct sgbpf_probe_target *t)
{
	struct sgbpf_probe_target none = {};
	uint32_t zero = 0;
	int err;

	if (!h)
		return -EINVAL;
	if (bpf_map_update_elem(h->map_fd[SGBPF_MAP_PROBE_TARGET], &zero, t ? t : &none,
				BPF_ANY)) {
		err = -errno;
		fprintf(stderr, "sgbpf: writing probe_target (ifindex %u) failed: %s\n",
			t ? t->ifindex : 0, strerror(-err));
		return err;
	}
	return 0;
}

int sgbpf_probe_target_get(const struct sgbpf *h, struct sgbpf_probe_target *t)
{
	uint32_t zero = 0;

	if (!h || !t)
		return -EINVAL;
	if (bpf_map_lookup_elem(h->map_fd[SGBPF_MAP_PROBE_TARGET], &zero, t))
		return -errno;
	return 0;
}

int sgbpf_iface_del(struct sgbpf *h, uint32_t ifindex, uint16_t vlan_id)
{
	struct sgbpf_iface_key k = { .ifindex = ifindex, .vlan_id = vlan_id };

	int err;

	if (!h)
		return -EINVAL;
	if (bpf_map_delete_elem(h->map_fd[SGBPF_MAP_IFACES], &k)) {
		err = -errno;
		/* -ENOENT (nothing attached there) is for the caller to judge. */
		if (err != -ENOENT)
			fprintf(stderr, "sgbpf: deleting ifaces entry (ifindex %u vlan %u) "
				"failed: %s\n", ifindex, vlan_id, strerror(-err));
		return err;
	}
	return 0;
}

static bool match_frag_ep(const void *key, const void *arg)
{
	const struct sgbpf_frag_key *k = key;

	return k->ep_id == *(const uint32_t *)arg;
}

static bool match_ct_ep(const struct sgbpf_ct_key *k, void *arg)
{
	return k->ep_id == *(const uint32_t *)arg;
}

int sgbpf_ep_forget(struct sgbpf *h, uint32_t ep_id)
{
	struct sgbpf_ct_maps ct;
	size_t vsz, n;
	uint8_t *keys;
	void *zeros;
	int err, ret = 0, fd;

	if (!h || ep_id >= SGBPF_MAX_ENDPOINTS)
		return -EINVAL;
	sgbpf_ct_maps_of(h, &ct);
	err = sgbpf_ct_delete_if(&ct, match_ct_ep, &ep_id, NULL);
	if (err) {
		fprintf(stderr, "sgbpf: deleting the conntrack entries of endpoint %u failed: %s\n",
			ep_id, strerror(-err));
		ret = err;
	}
	fd = h->map_fd[SGBPF_MAP_FRAGS];
	err = collect_keys(fd, sizeof(struct sgbpf_frag_key), map_capacity(h, SGBPF_MAP_FRAGS),
			   match_frag_ep, &ep_id, &keys, &n);
	if (err) {
		fprintf(stderr, "sgbpf: walking map frags for endpoint %u failed: %s\n", ep_id,
			strerror(-err));
		ret = err;
	} else {
		delete_entries(fd, keys, n, sizeof(struct sgbpf_frag_key));
		free(keys);
	}

	vsz = ((sizeof(struct sgbpf_ep_stats) + 7) & ~7ul) * h->ncpus;
	zeros = calloc(1, vsz);
	if (!zeros)
		return -ENOMEM;
	if (bpf_map_update_elem(h->map_fd[SGBPF_MAP_EP_STATS], &ep_id, zeros, BPF_ANY)) {
		err = -errno;
		fprintf(stderr, "sgbpf: zeroing ep_stats[%u] failed: %s\n", ep_id, strerror(-err));
		ret = err;
	}
	free(zeros);
	return ret;
}

/* ---- test runs --------------------------------------------------------- */

static bool prog_is_xdp(enum sgbpf_prog prog)
{
	return prog == SGBPF_PROG_XDP || prog == SGBPF_PROG_XDP_PARSE_ONLY;
}

int sgbpf_run_repeat(struct sgbpf *h, enum sgbpf_prog prog, const void *frame, size_t len,
		     uint32_t ifindex, uint32_t repeat, int *action, uint32_t *duration_ns)
{
	struct xdp_md xctx = { .data_end = len, .ingress_ifindex = ifindex };
	struct __sk_buff sctx = { .ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err;

	if (!h || (unsigned)prog >= SGBPF_PROG_MAX || !frame)
		return -EINVAL;
	if (len < ETH_HLEN || len > UINT32_MAX) {
		fprintf(stderr, "sgbpf: a test frame needs at least %d bytes (an Ethernet "
			"header), got %zu\n", ETH_HLEN, len);
		return -EINVAL;
	}
	opts.data_in = frame;
	opts.data_size_in = len;
	opts.repeat = repeat ? repeat : 1;
	if (ifindex) {
		if (prog_is_xdp(prog)) {
			opts.ctx_in = &xctx;
			opts.ctx_size_in = sizeof(xctx);
		} else {
			opts.ctx_in = &sctx;
			opts.ctx_size_in = sizeof(sctx);
		}
	}
	if (bpf_prog_test_run_opts(h->prog_fd[prog], &opts)) {
		err = -errno;
		fprintf(stderr, "sgbpf: test run of %s on a %zu-byte frame failed: %s%s\n",
			prog_names[prog], len, strerror(-err),
			err == -EINVAL && prog_is_xdp(prog) && len > 3000 ?
			" (XDP test runs take frames up to about a page minus headroom)" :
			err == -ENODEV ? " (no interface with that ifindex)" : "");
		return err;
	}
	if (action)
		*action = (int)opts.retval;
	if (duration_ns)
		*duration_ns = opts.duration;
	return 0;
}

int sgbpf_run(struct sgbpf *h, enum sgbpf_prog prog, const void *frame, size_t len,
	      uint32_t ifindex, int *action)
{
	return sgbpf_run_repeat(h, prog, frame, len, ifindex, 1, action, NULL);
}

bool sgbpf_action_passes(enum sgbpf_prog prog, int action)
{
	if (prog_is_xdp(prog))
		return action == XDP_PASS;
	/* TC_ACT_REDIRECT: an allowed probe reply steered to the node. */
	return action == TC_ACT_OK || action == TC_ACT_UNSPEC || action == TC_ACT_REDIRECT;
}
