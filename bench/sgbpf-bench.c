// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf-bench: replay a capture through the real programs with
 * BPF_PROG_TEST_RUN, statefully, with a policy directory, and report what
 * each class of packet costs against a parse-only baseline measured in the
 * same run.
 *
 * Method (see bench/README.md):
 *  - Every packet is mapped to its endpoint(s) as `sgbpf replay` does, via
 *    the offline layer (user/lib/offline.h): source endpoint -> outbound leg
 *    through TC egress, destination endpoint -> inbound leg through TC
 *    ingress, or with --hook xdp through the XDP program (XDP sees only
 *    what a device receives, so outbound legs stay on TC egress). Frames
 *    are built once, before timing. Each leg's baseline is the parse-only
 *    program of its hook.
 *  - A classification pass (conntrack empty) runs every leg once and reads
 *    global_stats around it, so each leg gets the reason the datapath gave
 *    (tracked = established, rule = new flow, no-rule = denied, ...).
 *  - A batch replays the whole capture in order, each leg with repeat 1 (a
 *    repeated frame would hit the conntrack entry its first run created, so
 *    only repeat 1 keeps the replay stateful), on a conntrack emptied
 *    before the batch (and refilled with --ct-fill entries). Right after
 *    each leg the same frame runs once through the parse-only program and
 *    once through a two-instruction program of its hook ("null"): the kernel's duration
 *    of a repeat-1 run includes test_run's own timer cost, and null measures
 *    exactly that, so net = prog - null. The three are interleaved packet
 *    by packet, so they see the same caches and machine load.
 *  - ns/packet of a class = sum of net ns / legs in the batch; the figure is
 *    the median over the batches. Mpps per core = 1000 / net ns.
 *  - One syscall per packet leaves caches colder than a NAPI batch would.
 *    A last "hot" pass replays the capture once more and repeats every
 *    established leg HOT_REPEAT times in place (duplicates of a tracked
 *    packet leave its flow as it was; the verdicts of the rest of the
 *    capture are checked against the classification to prove it), through
 *    the real program and the parse-only one: est-hot.
 * Needs root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <netlink/netlink.h>
#include <netlink/route/link/veth.h>

#include <sgbpf/layout.h>

#include "ct.h"
#include "names.h"
#include "offline.h"
#include "parse.h"

#define MAX_BATCHES 31
#define HOT_REPEAT 100

enum cls { C_EST, C_NEW, C_DENY, C_OTHER, C_MAX };
static const char *const cls_name[C_MAX] = { "established", "new-flow", "denied", "other" };

struct leg {
	enum sgbpf_prog prog;
	uint32_t ep_id;
	uint16_t len;                  /* frames lie end to end in the arena */
	bool allow;                    /* classification pass verdict */
	int8_t cls;
	int16_t reason;                /* allow: reason; drop: 100 + reason */
};

static struct {
	unsigned batches, ct_fill;
	bool maps, xdp;                /* xdp: inbound legs through the XDP program */
} opt = { .batches = 5 };

static bool is_xdp(enum sgbpf_prog prog)
{
	return prog == SGBPF_PROG_XDP || prog == SGBPF_PROG_XDP_PARSE_ONLY;
}

/* The parse-only baseline of a leg's program: the same hook's. */
static enum sgbpf_prog baseline_of(enum sgbpf_prog prog)
{
	return is_xdp(prog) ? SGBPF_PROG_XDP_PARSE_ONLY : SGBPF_PROG_TC_PARSE_ONLY;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A program that only returns pass: TC_ACT_OK (0) or XDP_PASS (2). */
static int load_null_prog(bool xdp)
{
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = xdp ? 2 : 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(xdp ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS,
			       xdp ? "sgbench_nullx" : "sgbench_null", "GPL", insns, 2, NULL);

	if (fd < 0)
		fprintf(stderr, "sgbpf-bench: loading the %s null program failed: %s\n",
			xdp ? "XDP" : "TC", strerror(errno));
	return fd < 0 ? -errno : fd;
}

static int run_null(int fd, const void *frame, size_t len, uint32_t *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
		    .repeat = 1);

	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*ns = o.duration;
	return 0;
}

/*
 * BPF_PROG_TEST_RUN of an XDP program with repeat > 1 adds the program to
 * the kernel's XDP dispatcher for the run and takes it out after: each
 * change rebuilds the dispatcher and waits for an RCU grace period (~16 ms
 * a call: the hot pass took 5 minutes) and leaves the next runs cold (XDP
 * parse-only read 53 ns instead of 24). A program attached to a device
 * stays in the dispatcher, and test_run then only counts a user. So with
 * --hook xdp the bench moves to a network namespace of its own (whose
 * loopback is ifindex 1 too, as the offline layer's endpoint mapping
 * expects) and attaches both XDP programs to a veth pair there, which
 * vanishes with the process.
 */
static int xdp_keep_in_dispatcher(struct sg_offline *ctx)
{
	static const char *const names[2] = { "sgbx0", "sgbx1" };
	static const enum sgbpf_prog progs[2] = { SGBPF_PROG_XDP, SGBPF_PROG_XDP_PARSE_ONLY };
	struct nl_sock *sk;
	int err;

	if (unshare(CLONE_NEWNET)) {
		err = -errno;
		fprintf(stderr, "sgbpf-bench: --hook xdp: a network namespace of its own "
			"(unshare) failed: %s\n", strerror(-err));
		return err;
	}
	sk = nl_socket_alloc();
	if (!sk) {
		fprintf(stderr, "sgbpf-bench: --hook xdp: no memory for a netlink socket\n");
		return -ENOMEM;
	}
	err = nl_connect(sk, NETLINK_ROUTE);
	err = err ?: rtnl_link_veth_add(sk, names[0], names[1], getpid());
	nl_socket_free(sk);
	if (err) {
		fprintf(stderr, "sgbpf-bench: --hook xdp: creating veth %s/%s failed: %s\n",
			names[0], names[1], nl_geterror(err));
		return -EIO;
	}
	for (int i = 0; i < 2; i++) {
		int idx = (int)if_nametoindex(names[i]), fd = sgbpf_prog_fd(ctx->h, progs[i]);

		err = idx ? bpf_xdp_attach(idx, fd, XDP_FLAGS_DRV_MODE, NULL) : -ENODEV;
		if (err) {
			fprintf(stderr, "sgbpf-bench: --hook xdp: attaching %s to %s failed: %s\n",
				sgbpf_prog_name(progs[i]), names[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Per-CPU sum of global_stats' verdict counters into allows[], drops[]. */
static int read_global(struct sg_offline *ctx, uint64_t *allows, uint64_t *drops)
{
	static struct sgbpf_global_stats *v;
	static int ncpu;
	uint32_t key = 0;

	if (!v) {
		ncpu = libbpf_num_possible_cpus();
		v = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*v)) : NULL;
		if (!v)
			return -ENOMEM;
	}
	if (bpf_map_lookup_elem(sgbpf_map_fd(ctx->h, SGBPF_MAP_GLOBAL_STATS), &key, v))
		return -errno;
	memset(allows, 0, sizeof(uint64_t) * SGBPF_ALLOW_REASON_MAX);
	memset(drops, 0, sizeof(uint64_t) * SGBPF_DROP_REASON_MAX);
	for (int c = 0; c < ncpu; c++) {
		for (int r = 0; r < SGBPF_ALLOW_REASON_MAX; r++)
			allows[r] += v[c].allows_by_reason[r];
		for (int r = 0; r < SGBPF_DROP_REASON_MAX; r++)
			drops[r] += v[c].drops_by_reason[r];
	}
	return 0;
}

/* Empty a hash map (the datapath is private: every entry is the bench's). */
static int empty_map(int fd, size_t key_size, uint32_t cap)
{
	uint8_t *keys = malloc((size_t)cap * key_size), *prev = NULL;
	uint32_t n = 0, count;
	int err = 0;

	if (!keys)
		return -ENOMEM;
	while (n < cap && !bpf_map_get_next_key(fd, prev, keys + (size_t)n * key_size)) {
		prev = keys + (size_t)n * key_size;
		n++;
	}
	count = n;
	if (n && bpf_map_delete_batch(fd, keys, &count, NULL)) {
		/* Older kernels: one by one. */
		for (uint32_t i = 0; i < n; i++)
			bpf_map_delete_elem(fd, keys + (size_t)i * key_size);
	}
	free(keys);
	return err;
}

static int reset_ct(struct sg_offline *ctx)
{
	struct sgbpf_ct_maps ct;
	int err;

	sgbpf_ct_maps_of(ctx->h, &ct);
	err = sgbpf_ct_delete_if(&ct, NULL, NULL, NULL);
	err = err ?: empty_map(sgbpf_map_fd(ctx->h, SGBPF_MAP_FRAGS),
			       sizeof(struct sgbpf_frag_key), 65536);
	if (err)
		fprintf(stderr, "sgbpf-bench: emptying conntrack failed: %s\n", strerror(-err));
	return err;
}

/*
 * Fill the est table with n established TCP entries of the first endpoint from
 * remotes 10.204.0.0/16, which the generated traffic never uses: they only
 * load the table (bucket occupancy, cache footprint) for the timed flows.
 */
static int fill_ct(struct sg_offline *ctx, unsigned n)
{
	const struct sg_compiled_endpoint *ep = &ctx->compiled.endpoints[0];
	const struct sg_addr *a = sg_offline_endpoint_addr(ep, SGBPF_AF_V4);
	struct sgbpf_ct_maps ct;
	struct sgbpf_ct_key *keys;
	struct sgbpf_ct_val *vals;
	struct timespec ts;
	uint32_t count = n;
	int err = 0;

	if (!n)
		return 0;
	if (!a) {
		fprintf(stderr, "sgbpf-bench: --ct-fill needs an IPv4 address on the first endpoint\n");
		return -EINVAL;
	}
	keys = calloc(n, sizeof(*keys));
	vals = calloc(n, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (unsigned i = 0; i < n; i++) {
		keys[i].ep_id = ep->ep_id;
		keys[i].family = SGBPF_AF_V4;
		keys[i].proto = 6;
		memcpy(keys[i].local_addr, a->addr, 4);
		keys[i].remote_addr[0] = 10;
		keys[i].remote_addr[1] = 204;
		keys[i].remote_addr[2] = (uint8_t)(i >> 16);
		keys[i].remote_addr[3] = (uint8_t)(i >> 8);
		keys[i].local_port = htons(80);
		keys[i].remote_port = htons((uint16_t)(1024 + (i & 0xff)));
		vals[i].created_ns = vals[i].last_seen_ns =
			(uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		vals[i].state = SGBPF_CT_ESTABLISHED;
		vals[i].seen_reply = 1;
		vals[i].rule_id = SGBPF_RULE_NONE;
	}
	sgbpf_ct_maps_of(ctx->h, &ct);
	err = sgbpf_ct_update_batch(&ct, SGBPF_CT_TABLE_EST, keys, vals, &count);
	if (err) {
		fprintf(stderr, "sgbpf-bench: filling the conntrack table with %u entries failed after %u: %s\n",
			n, count, strerror(-err));
	}
out:
	free(keys);
	free(vals);
	return err;
}

/* Map memory from /proc/self/fdinfo: memlock and, for hash maps, entries used. */
static void print_maps(struct sg_offline *ctx)
{
	uint64_t total = 0;

	printf("\nmaps (memlock from fdinfo; entries = keys present now)\n");
	printf("%14s %10s %12s %10s\n", "map", "max", "memlock KiB", "entries");
	for (int m = 0; m < SGBPF_MAP_MAX; m++) {
		int fd = sgbpf_map_fd(ctx->h, (enum sgbpf_map)m);
		char path[64], line[256];
		uint64_t memlock = 0, max = 0, entries = 0;
		struct bpf_map_info info = { 0 };
		uint32_t ilen = sizeof(info);
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			sscanf(line, "memlock: %lu", &memlock);
			sscanf(line, "max_entries: %lu", &max);
		}
		if (f)
			fclose(f);
		if (!bpf_obj_get_info_by_fd(fd, &info, &ilen) &&
		    (info.type == BPF_MAP_TYPE_HASH || info.type == BPF_MAP_TYPE_LPM_TRIE ||
		     info.type == BPF_MAP_TYPE_LRU_HASH)) {
			uint8_t k[2][64];
			void *prev = NULL;

			while (info.key_size <= 64 &&
			       !bpf_map_get_next_key(fd, prev, k[entries & 1])) {
				prev = k[entries & 1];
				entries++;
			}
		}
		total += memlock;
		printf("%14s %10lu %12.1f %10lu\n", sgbpf_map_name((enum sgbpf_map)m), max,
		       memlock / 1024.0, entries);
	}
	printf("%14s %10s %12.1f\n", "total", "", total / 1024.0);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sgbpf-bench --policy DIR FILE.pcap [--hook tc|xdp] [--batches N] [--ct-fill N] [--maps]\n"
		"  --policy DIR   policy directory (e.g. written by gen-policy)\n"
		"  --hook H       tc (default): every leg through TC; xdp: inbound legs through\n"
		"                 the XDP program, outbound ones through TC egress\n"
		"  --batches N    replays of the whole capture, the median is kept (default 5)\n"
		"  --ct-fill N    before each batch, fill conntrack with N idle established IPv4 TCP\n"
		"                 entries (ct4t_est) of the first endpoint\n"
		"  --maps         also print each map's memlock and entries after the replay\n"
		"FILE: pcap or pcapng; Ethernet, 802.1Q, raw IP or Linux cooked.\n"
		"Needs root (BPF_PROG_TEST_RUN). Method: see the top of bench/sgbpf-bench.c.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "batches", required_argument, NULL, 'b' },
		{ "ct-fill", required_argument, NULL, 'c' },
		{ "maps", no_argument, NULL, 'm' },
		{ "hook", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *dir = NULL, *file = NULL;
	struct sg_offline_opts oo = { .events_allow = false };
	struct sg_offline *ctx = NULL;
	struct sg_policy policy;
	struct sg_diags diags;
	struct sg_pcap *pcap = NULL;
	struct sg_pcap_pkt pkt;
	struct leg *legs = NULL;
	uint8_t *arena = NULL;
	size_t n_legs = 0, cap_legs = 0, arena_len = 0, arena_cap = 0;
	unsigned long packets = 0, foreign = 0, mismatches = 0;
	unsigned long reasons[SGBPF_ALLOW_REASON_MAX + 100 + SGBPF_DROP_REASON_MAX] = { 0 };
	unsigned long n_cls[C_MAX] = { 0 };
	double sg_ns[C_MAX][MAX_BATCHES], po_ns[C_MAX][MAX_BATCHES], gross[MAX_BATCHES];
	double null_ns[MAX_BATCHES];
	unsigned long n_xdp = 0;
	char err[512];
	int o, rc = 2, null_fd[2] = { -1, -1 }, e;   /* [is_xdp] */

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'p': dir = optarg; break;
		case 'b': opt.batches = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': opt.ct_fill = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': opt.maps = true; break;
		case 'k':
			if (strcmp(optarg, "tc") && strcmp(optarg, "xdp")) {
				fprintf(stderr, "sgbpf-bench: --hook takes tc or xdp, not '%s'\n",
					optarg);
				return 2;
			}
			opt.xdp = !strcmp(optarg, "xdp");
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (!dir || !file || optind < argc || !opt.batches || opt.batches > MAX_BATCHES ||
	    opt.ct_fill > SGBPF_CT_EST_MAX) {
		fprintf(stderr, "sgbpf-bench: need --policy DIR and one capture; --batches 1..%d, "
			"--ct-fill at most %d\n", MAX_BATCHES, SGBPF_CT_EST_MAX);
		usage(stderr);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "sgbpf-bench: needs root (loads BPF programs, BPF_PROG_TEST_RUN)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sg_diags_init(&diags);
	sg_policy_init(&policy);
	e = sg_policy_load_dir(&policy, dir, &diags);
	if (!e && diags.n_errors)
		e = -EINVAL;
	e = e ?: sg_offline_open_policy(&policy, &oo, &ctx, &diags);
	if (e) {
		sg_diags_print(&diags, stderr);
		fprintf(stderr, "sgbpf-bench: loading the policy in %s failed: %s\n", dir,
			strerror(-e));
		goto out;
	}
	null_fd[0] = load_null_prog(false);
	null_fd[1] = opt.xdp ? load_null_prog(true) : -1;
	if (null_fd[0] < 0 || (opt.xdp && null_fd[1] < 0))
		goto out;
	if (opt.xdp && xdp_keep_in_dispatcher(ctx))
		goto out;

	/* Build every leg's frame once. */
	e = sg_pcap_open(file, &pcap, err, sizeof(err));
	if (e) {
		fprintf(stderr, "sgbpf-bench: %s\n", err);
		goto out;
	}
	while ((e = sg_pcap_next(pcap, &pkt, err, sizeof(err))) == 1) {
		const struct sg_compiled_endpoint *eps[2] = { NULL, NULL };
		struct sg_addr src, dst;

		packets++;
		if (!pkt.decode_err && !sg_l2_view_addrs(&pkt.view, &src, &dst)) {
			eps[0] = sg_offline_endpoint_by_addr(ctx, &src);
			eps[1] = sg_offline_endpoint_by_addr(ctx, &dst);
		}
		if (!eps[0] && !eps[1]) {
			foreign++;
			continue;
		}
		for (int d = 0; d < 2; d++) {
			enum sgbpf_dir dir_ = d ? SGBPF_DIR_IN : SGBPF_DIR_OUT;
			int len;

			if (!eps[d])
				continue;
			if (n_legs == cap_legs) {
				cap_legs = cap_legs ? cap_legs * 2 : 4096;
				legs = realloc(legs, cap_legs * sizeof(*legs));
			}
			if (arena_cap - arena_len < SG_PKT_MAX + 64) {
				arena_cap = arena_cap ? arena_cap * 2 : 1 << 20;
				arena = realloc(arena, arena_cap);
			}
			if (!legs || !arena) {
				fprintf(stderr, "sgbpf-bench: out of memory\n");
				goto out;
			}
			len = sg_offline_frame(eps[d], dir_, &pkt.view, arena + arena_len,
					       arena_cap - arena_len);
			if (len < 0 || arena_len + (size_t)len > 0xffffffffu) {
				fprintf(stderr, "sgbpf-bench: packet %zu: frame too large\n", pkt.index);
				goto out;
			}
			legs[n_legs] = (struct leg){ .prog = sg_offline_prog(dir_),
						     .ep_id = eps[d]->ep_id,
						     .len = (uint16_t)len };
			if (opt.xdp && dir_ == SGBPF_DIR_IN) {
				legs[n_legs].prog = SGBPF_PROG_XDP;
				n_xdp++;
			}
			arena_len += (size_t)len;
			n_legs++;
		}
	}
	if (e < 0) {
		fprintf(stderr, "sgbpf-bench: %s\n", err);
		goto out;
	}
	if (!n_legs) {
		fprintf(stderr, "sgbpf-bench: no packet of %s belongs to an endpoint of %s\n",
			file, dir);
		goto out;
	}

	/* Classification pass on an empty conntrack. */
	if (reset_ct(ctx) || fill_ct(ctx, opt.ct_fill))
		goto out;
	{
		uint64_t a0[SGBPF_ALLOW_REASON_MAX], d0[SGBPF_DROP_REASON_MAX];
		uint64_t a1[SGBPF_ALLOW_REASON_MAX], d1[SGBPF_DROP_REASON_MAX];
		size_t off = 0;

		if (read_global(ctx, a0, d0))
			goto stats_err;
		for (size_t i = 0; i < n_legs; i++) {
			struct leg *l = &legs[i];
			int action;

			if (sgbpf_run(ctx->h, l->prog, arena + off, l->len, 0, &action) ||
			    read_global(ctx, a1, d1))
				goto stats_err;
			off += l->len;
			l->allow = sgbpf_action_passes(l->prog, action);
			l->reason = -1;
			for (int r = 0; r < SGBPF_ALLOW_REASON_MAX; r++)
				if (a1[r] != a0[r])
					l->reason = (int16_t)r;
			for (int r = 0; r < SGBPF_DROP_REASON_MAX; r++)
				if (d1[r] != d0[r])
					l->reason = (int16_t)(100 + r);
			memcpy(a0, a1, sizeof(a0));
			memcpy(d0, d1, sizeof(d0));
			l->cls = l->reason == SGBPF_ALLOW_TRACKED ? C_EST :
				 l->reason == SGBPF_ALLOW_RULE ? C_NEW :
				 l->reason == 100 + SGBPF_DROP_NO_RULE ? C_DENY : C_OTHER;
			n_cls[l->cls]++;
			if (l->reason >= 0)
				reasons[l->reason]++;
			if (i % 4096 == 4095)
				sg_offline_drain(ctx);
		}
	}

	/* Timed batches. */
	for (unsigned b = 0; b < opt.batches; b++) {
		double sum_sg[C_MAX] = { 0 }, sum_po[C_MAX] = { 0 }, sum_null = 0, sum_gross = 0;
		size_t off = 0;

		sg_offline_drain(ctx);
		if (reset_ct(ctx) || fill_ct(ctx, opt.ct_fill))
			goto out;
		for (size_t i = 0; i < n_legs; i++) {
			struct leg *l = &legs[i];
			const uint8_t *f = arena + off;
			uint32_t t_sg = 0, t_po = 0, t_null = 0;
			int action, a2;

			e = sgbpf_run_repeat(ctx->h, l->prog, f, l->len, 0, 1, &action, &t_sg);
			e = e ?: sgbpf_run_repeat(ctx->h, baseline_of(l->prog), f, l->len, 0, 1,
						  &a2, &t_po);
			e = e ?: run_null(null_fd[is_xdp(l->prog)], f, l->len, &t_null);
			if (e) {
				fprintf(stderr, "sgbpf-bench: test_run failed: %s\n", strerror(-e));
				goto out;
			}
			off += l->len;
			if (sgbpf_action_passes(l->prog, action) != l->allow)
				mismatches++;
			sum_sg[l->cls] += (double)t_sg - t_null;
			sum_po[l->cls] += (double)t_po - t_null;
			sum_null += t_null;
			sum_gross += t_sg;
			if (i % 4096 == 4095)
				sg_offline_drain(ctx);
		}
		for (int c = 0; c < C_MAX; c++) {
			sg_ns[c][b] = n_cls[c] ? sum_sg[c] / n_cls[c] : 0;
			po_ns[c][b] = n_cls[c] ? sum_po[c] / n_cls[c] : 0;
		}
		null_ns[b] = sum_null / n_legs;
		gross[b] = sum_gross / n_legs;
	}

	printf("sgbpf-bench: %s with %s: %lu packets, %zu legs (%lu not of an endpoint), "
	       "%u batches%s\n", file, dir, packets, n_legs, foreign, opt.batches,
	       opt.ct_fill ? "" : ", conntrack emptied before each");
	if (opt.xdp)
		printf("hook xdp: %lu inbound legs through sgbpf_xdp (baseline sgbpf_xdp_parse_only), "
		       "%zu outbound through sgbpf_tc_egress (baseline sgbpf_tc_parse_only)\n",
		       n_xdp, n_legs - n_xdp);
	if (opt.ct_fill)
		printf("  conntrack emptied, then %u idle established entries added, before each "
		       "batch\n", opt.ct_fill);
	printf("verdicts by reason:");
	for (int r = 0; r < SGBPF_ALLOW_REASON_MAX; r++)
		if (reasons[r])
			printf(" allow/%s %lu", sgbpf_allow_reason_name((unsigned)r), reasons[r]);
	for (int r = 0; r < SGBPF_DROP_REASON_MAX; r++)
		if (reasons[100 + r])
			printf(" drop/%s %lu", sgbpf_drop_reason_name((unsigned)r), reasons[100 + r]);
	printf("\n");
	if (mismatches)
		printf("WARNING: %lu legs got another verdict in a batch than in classification\n",
		       mismatches);
	for (int c = 0; c < C_MAX; c++) {
		qsort(sg_ns[c], opt.batches, sizeof(double), cmp_dbl);
		qsort(po_ns[c], opt.batches, sizeof(double), cmp_dbl);
	}
	qsort(null_ns, opt.batches, sizeof(double), cmp_dbl);
	qsort(gross, opt.batches, sizeof(double), cmp_dbl);
	printf("test_run fixed cost (null program, repeat 1): %.1f ns/leg, subtracted below; "
	       "gross sgbpf %.1f ns/leg\n", null_ns[opt.batches / 2], gross[opt.batches / 2]);
	printf("%12s %8s | %9s %9s %6s %7s\n", "class", "legs", "sgbpf ns", "parse ns", "ratio",
	       "Mpps");
	{
		double all_sg = 0, all_po = 0;
		unsigned long all = 0;

		for (int c = 0; c < C_MAX; c++) {
			double s = sg_ns[c][opt.batches / 2], p = po_ns[c][opt.batches / 2];

			if (!n_cls[c])
				continue;
			all_sg += s * n_cls[c];
			all_po += p * n_cls[c];
			all += n_cls[c];
			printf("%12s %8lu | %9.1f %9.1f %6.2f %7.2f\n", cls_name[c], n_cls[c], s, p,
			       p > 0 ? s / p : 0, s > 0 ? 1e3 / s : 0);
		}
		printf("%12s %8lu | %9.1f %9.1f %6.2f %7.2f\n", "all", all, all_sg / all,
		       all_po / all, all_po > 0 ? all_sg / all_po : 0, all_sg > 0 ? 1e3 * all / all_sg : 0);
	}
	/* Hot pass: in order again, and every established leg then repeated
	 * HOT_REPEAT times in place (a duplicate of that packet: it finds the
	 * same entry and leaves the flow's state as it was), so its code and
	 * data stay in cache as in a NAPI batch. */
	{
		double hk_sg[2] = { 0 }, hk_po[2] = { 0 }, hot_sg, hot_po;   /* [is_xdp] */
		unsigned long hot_mis = 0, hk_n[2] = { 0 }, hot_n;
		size_t off = 0;

		sg_offline_drain(ctx);
		if (reset_ct(ctx) || fill_ct(ctx, opt.ct_fill))
			goto out;
		for (size_t i = 0; i < n_legs; i++) {
			struct leg *l = &legs[i];
			const uint8_t *f = arena + off;
			uint32_t t_sg = 0, t_po = 0;
			int action, a2;

			off += l->len;
			e = sgbpf_run(ctx->h, l->prog, f, l->len, 0, &action);
			if (!e && sgbpf_action_passes(l->prog, action) != l->allow)
				hot_mis++;
			if (!e && l->cls == C_EST) {
				e = sgbpf_run_repeat(ctx->h, l->prog, f, l->len, 0, HOT_REPEAT, &action,
						     &t_sg);
				e = e ?: sgbpf_run_repeat(ctx->h, baseline_of(l->prog), f, l->len, 0,
							  HOT_REPEAT, &a2, &t_po);
				if (!e && !sgbpf_action_passes(l->prog, action))
					hot_mis++;
				hk_sg[is_xdp(l->prog)] += t_sg;
				hk_po[is_xdp(l->prog)] += t_po;
				hk_n[is_xdp(l->prog)]++;
			}
			if (e) {
				fprintf(stderr, "sgbpf-bench: test_run failed: %s\n", strerror(-e));
				goto out;
			}
			if (i % 4096 == 4095)
				sg_offline_drain(ctx);
		}
		hot_sg = hk_sg[0] + hk_sg[1];
		hot_po = hk_po[0] + hk_po[1];
		hot_n = hk_n[0] + hk_n[1];
		if (hot_n)
			printf("%12s %8lu | %9.1f %9.1f %6.2f %7.2f   (each repeated %d times in place, "
			       "mean)\n", "est-hot", hot_n, hot_sg / hot_n, hot_po / hot_n,
			       hot_sg / hot_po, 1e3 * hot_n / hot_sg, HOT_REPEAT);
		/* With --hook xdp, the same by hook: the two baselines differ. */
		for (int x = 1; opt.xdp && x >= 0; x--)
			if (hk_n[x])
				printf("%12s %8lu | %9.1f %9.1f %6.2f %7.2f\n",
				       x ? "est-hot xdp" : "est-hot tc", hk_n[x], hk_sg[x] / hk_n[x],
				       hk_po[x] / hk_n[x], hk_sg[x] / hk_po[x], 1e3 * hk_n[x] / hk_sg[x]);
		if (hot_mis) {
			printf("WARNING: %lu legs got another verdict in the hot pass\n", hot_mis);
			mismatches += hot_mis;
		}
	}
	if (opt.maps)
		print_maps(ctx);
	rc = mismatches ? 1 : 0;
	goto out;
stats_err:
	fprintf(stderr, "sgbpf-bench: classification pass failed: %s\n", strerror(errno));
out:
	for (int i = 0; i < 2; i++)
		if (null_fd[i] >= 0)
			close(null_fd[i]);
	sg_pcap_close(pcap);
	sg_offline_close(ctx);
	sg_policy_free(&policy);
	sg_diags_free(&diags);
	free(legs);
	free(arena);
	return rc;
}
