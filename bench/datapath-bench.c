// SPDX-License-Identifier: BSD-2-Clause
/*
 * datapath-bench: what a packet costs in the real programs, measured by the
 * kernel (BPF_PROG_TEST_RUN repeat, mean ns per run; median of several runs)
 * for one endpoint whose security group has R distinct CIDR/port rules.
 *
 *   (a) established flow (TCP ACK of a flow in conntrack) vs parse-only
 *   (b) new flows vs R: denied at the deepest prefix, denied with no
 *       matching prefix, allowed new UDP flows (entry created each packet)
 *   (c) established cost at R = 10 vs R = 1000 (and 10000)
 *
 * Policies are written as AWS JSON to a temporary directory and go through
 * the parser, compiler and loader like any other. See bench/README.md.
 * Needs root (BPF).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sgbpf/layout.h>

#include "offline.h"
#include "packet.h"
#include "parse.h"

#define POD_ADDR   "10.250.0.5"
#define DEEP_ADDR  "10.200.7.9"     /* inside /16, /24 and /32 rules     */
#define POD_ADDR6  "fd00:250::5"
#define PEER_ADDR6 "fd00:200::9"    /* the /128 rule's remote            */
#define NONE_ADDR  "192.0.2.1"      /* covered by no rule                */
#define EST_PORT   2002             /* the /32 rule's port               */
#define DENY_PORT  9                /* no rule allows it                 */
#define UDP_BASE   5000             /* udp 5000-5999 from the /16        */
#define FIXED_RULES 5              /* the chain, the UDP range, the IPv6 /128 */
#define MAX_RS     8
#define MAX_RUNS   15

struct result {
	unsigned rules;
	double compile_ms, apply_ms;
	double est_tc, est_xdp, parse_tc, parse_xdp;
	double est6_tc, parse6_tc;  /* the same flow over IPv6 (wide key)  */
	double deny_deep, deny_none, new_udp, udp_repeat;
	double parse1;             /* parse-only at repeat 1: test_run's fixed cost */
	size_t n_rules, n_prefixes, n_port_blocks;
};

static unsigned opt_repeat = 100000, opt_runs = 5, opt_flows = 2000;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Write the policy: one SG, R inbound rules, each a distinct CIDR and port. */
static int write_policy(const char *dir, unsigned rules)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/groups.json", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "{\"SecurityGroups\":[{\"GroupId\":\"sg-0be0c000000000001\",\"GroupName\":\"bench\","
		"\"IpPermissions\":[\n");
	/* The nested chain the deep-prefix packets hit, and the UDP range. */
	fprintf(f, "{\"IpProtocol\":\"tcp\",\"FromPort\":2000,\"ToPort\":2000,"
		"\"IpRanges\":[{\"CidrIp\":\"10.200.0.0/16\"}]},\n");
	fprintf(f, "{\"IpProtocol\":\"tcp\",\"FromPort\":2001,\"ToPort\":2001,"
		"\"IpRanges\":[{\"CidrIp\":\"10.200.7.0/24\"}]},\n");
	fprintf(f, "{\"IpProtocol\":\"tcp\",\"FromPort\":%d,\"ToPort\":%d,"
		"\"IpRanges\":[{\"CidrIp\":\"" DEEP_ADDR "/32\"}]},\n", EST_PORT, EST_PORT);
	fprintf(f, "{\"IpProtocol\":\"udp\",\"FromPort\":%d,\"ToPort\":%d,"
		"\"IpRanges\":[{\"CidrIp\":\"10.200.0.0/16\"}]},\n", UDP_BASE, UDP_BASE + 999);
	fprintf(f, "{\"IpProtocol\":\"tcp\",\"FromPort\":%d,\"ToPort\":%d,"
		"\"Ipv6Ranges\":[{\"CidrIpv6\":\"" PEER_ADDR6 "/128\"}]}", EST_PORT, EST_PORT);
	/* The rest: distinct /24s under 10.1.0.0-10.199.255.0, distinct ports. */
	for (unsigned i = 0; i + FIXED_RULES < rules; i++)
		fprintf(f, ",\n{\"IpProtocol\":\"tcp\",\"FromPort\":%u,\"ToPort\":%u,"
			"\"IpRanges\":[{\"CidrIp\":\"10.%u.%u.0/24\"}]}",
			10000 + i % 50000, 10000 + i % 50000, 1 + i / 256, i % 256);
	fprintf(f, "\n],\"IpPermissionsEgress\":[]}]}\n");
	if (fclose(f))
		return -errno;

	snprintf(path, sizeof(path), "%s/endpoints.json", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "{\"node\":{\"ipv4\":[\"10.250.0.1\"]},\"endpoints\":[{\"name\":\"bench/pod-0\","
		"\"ipv4\":[\"" POD_ADDR "\"],\"ipv6\":[\"" POD_ADDR6 "\"],\"securityGroups\":[\"sg-0be0c000000000001\"]}]}\n");
	return fclose(f) ? -errno : 0;
}

/* A tagged frame for the endpoint: remote -> pod (IN) or pod -> remote (OUT);
 * IPv6 when the remote is an IPv6 address. */
static int frame(const struct sg_compiled_endpoint *ep, bool in, uint8_t proto,
		 const char *remote, uint16_t rport, uint16_t lport, uint8_t flags,
		 uint8_t *buf, size_t cap)
{
	bool v6 = strchr(remote, ':') != NULL;
	const char *pod = v6 ? POD_ADDR6 : POD_ADDR;
	struct sg_pkt_spec s;

	sg_pkt_init(&s, v6 ? SGBPF_AF_V6 : SGBPF_AF_V4, proto);
	if (sg_pkt_set_addrs(&s, in ? remote : pod, in ? pod : remote))
		return -EINVAL;
	s.sport = in ? rport : lport;
	s.dport = in ? lport : rport;
	s.tcp_flags = flags;
	s.seq = 1;
	s.ack = flags & SG_TCP_ACK ? 1 : 0;
	s.vlan_id = (uint16_t)(ep->ep_id + 1);
	return sg_pkt_build(&s, buf, cap);
}

/* Open remote:40000 -> pod:EST_PORT (SYN in, SYN-ACK out, ACK in) and leave
 * the last ACK in f: a frame of an established flow. Returns its length. */
static int handshake(struct sg_offline *ctx, const struct sg_compiled_endpoint *ep,
		     const char *remote, uint8_t *f, size_t cap)
{
	static const struct { bool in; uint8_t flags; } legs[] = {
		{ true, SG_TCP_SYN }, { false, SG_TCP_SYN | SG_TCP_ACK }, { true, SG_TCP_ACK },
	};
	struct sg_offline_verdict v;
	int len = -EINVAL, err;

	for (size_t i = 0; i < sizeof(legs) / sizeof(legs[0]); i++) {
		len = frame(ep, legs[i].in, 6, remote, 40000, EST_PORT, legs[i].flags, f, cap);
		err = len < 0 ? len : sg_offline_run_frame(ctx, ep, legs[i].in ? SGBPF_DIR_IN :
							     SGBPF_DIR_OUT, f, (size_t)len, &v);
		if (err || !v.allow) {
			fprintf(stderr, "datapath-bench: the TCP handshake from %s to the benchmark "
				"pod was %s\n", remote,
				err ? strerror(-err) : "dropped (datapath or compiler bug?)");
			return err ? err : -EPROTO;
		}
	}
	return len;
}

/* Median over opt_runs of the kernel's mean ns per run. */
static int measure(struct sg_offline *ctx, enum sgbpf_prog prog, const uint8_t *f, int len,
		   unsigned repeat, bool want_pass, double *ns)
{
	uint32_t d[MAX_RUNS];
	int action, err;

	for (unsigned r = 0; r < opt_runs; r++) {
		/* Drops emit events; empty the ring so every run can emit them all. */
		sg_offline_drain(ctx);
		err = sgbpf_run_repeat(ctx->h, prog, f, (size_t)len, 0, repeat, &action, &d[r]);
		if (err) {
			fprintf(stderr, "datapath-bench: test_run of %s failed: %s\n",
				sgbpf_prog_name(prog), strerror(-err));
			return err;
		}
		if (sgbpf_action_passes(prog, action) != want_pass) {
			fprintf(stderr, "datapath-bench: %s %s a frame it should %s; the measurement "
				"would be of the wrong path\n", sgbpf_prog_name(prog),
				want_pass ? "dropped" : "passed", want_pass ? "pass" : "drop");
			return -EPROTO;
		}
	}
	qsort(d, opt_runs, sizeof(d[0]), cmp_u32);
	*ns = d[opt_runs / 2];
	return 0;
}

/* Sum over CPUs of global_stats allows/drops by reason. */
static uint64_t global_count(struct sg_offline *ctx, bool allow, unsigned reason)
{
	int ncpu = libbpf_num_possible_cpus(), fd = sgbpf_map_fd(ctx->h, SGBPF_MAP_GLOBAL_STATS);
	struct sgbpf_global_stats *v;
	uint32_t key = 0;
	uint64_t sum = 0;

	if (ncpu <= 0)
		return 0;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (v && bpf_map_lookup_elem(fd, &key, v) == 0)
		for (int c = 0; c < ncpu; c++)
			sum += allow ? v[c].allows_by_reason[reason] : v[c].drops_by_reason[reason];
	free(v);
	return sum;
}

static int run_one(unsigned rules, struct result *res)
{
	char dir[] = "/tmp/sgbpf-bench-XXXXXX", cmd[64];
	const struct sg_compiled_endpoint *ep;
	struct sg_offline_opts opts = { .events_allow = false };
	struct sg_offline *ctx = NULL;
	struct sg_diags diags;
	struct sg_policy policy;
	uint8_t f[256];
	uint32_t *per_flow = NULL, *per_base = NULL;
	double t0;
	uint64_t before;
	int len, err, action;

	memset(res, 0, sizeof(*res));
	res->rules = rules;
	if (!mkdtemp(dir))
		return -errno;
	err = write_policy(dir, rules);
	sg_diags_init(&diags);
	sg_policy_init(&policy);
	if (!err) {
		t0 = now_ms();
		err = sg_policy_load_dir(&policy, dir, &diags);
		if (!err) {
			err = sg_offline_open_policy(&policy, &opts, &ctx, &diags);
			res->compile_ms = now_ms() - t0;
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "datapath-bench: could not remove %s\n", dir);
	if (err) {
		sg_diags_print(&diags, stderr);
		fprintf(stderr, "datapath-bench: setting up the %u-rule policy failed: %s\n", rules,
			strerror(-err));
		goto out;
	}
	ep = &ctx->compiled.endpoints[0];
	res->n_rules = ep->n_rule_ids[SGBPF_DIR_IN];
	res->n_prefixes = ctx->compiled.n_rule_entries;
	res->n_port_blocks = ctx->compiled.n_port_entries;
	if (res->n_rules != rules) {
		fprintf(stderr, "datapath-bench: the endpoint has %zu inbound rules, not %u\n",
			res->n_rules, rules);
		err = -EPROTO;
		goto out;
	}

	/* (a) establish DEEP_ADDR:40000 -> pod:2002, then time its ACKs. */
	len = handshake(ctx, ep, DEEP_ADDR, f, sizeof(f));
	if (len < 0) {
		err = len;
		goto out;
	}
	before = global_count(ctx, true, SGBPF_ALLOW_TRACKED);
	err = measure(ctx, SGBPF_PROG_TC_INGRESS, f, len, opt_repeat, true, &res->est_tc);
	/* Prove the timed path was the tracked one. */
	if (!err && global_count(ctx, true, SGBPF_ALLOW_TRACKED) - before <
	    (uint64_t)opt_repeat * opt_runs) {
		fprintf(stderr, "datapath-bench: the established-flow frame was not judged as "
			"tracked traffic\n");
		err = -EPROTO;
	}
	err = err ?: measure(ctx, SGBPF_PROG_XDP, f, len, opt_repeat, true, &res->est_xdp);
	err = err ?: measure(ctx, SGBPF_PROG_TC_PARSE_ONLY, f, len, opt_repeat, true, &res->parse_tc);
	err = err ?: measure(ctx, SGBPF_PROG_XDP_PARSE_ONLY, f, len, opt_repeat, true,
			     &res->parse_xdp);
	if (err)
		goto out;
	/* The same over IPv6: its confirmed TCP flows are keyed by 36 bytes
	 * (ct6t_est). */
	len = handshake(ctx, ep, PEER_ADDR6, f, sizeof(f));
	if (len < 0) {
		err = len;
		goto out;
	}
	before = global_count(ctx, true, SGBPF_ALLOW_TRACKED);
	err = measure(ctx, SGBPF_PROG_TC_INGRESS, f, len, opt_repeat, true, &res->est6_tc);
	if (!err && global_count(ctx, true, SGBPF_ALLOW_TRACKED) - before <
	    (uint64_t)opt_repeat * opt_runs) {
		fprintf(stderr, "datapath-bench: the established IPv6 frame was not judged as "
			"tracked traffic\n");
		err = -EPROTO;
	}
	err = err ?: measure(ctx, SGBPF_PROG_TC_PARSE_ONLY, f, len, opt_repeat, true,
			     &res->parse6_tc);
	if (err)
		goto out;

	/* (b) denied new flows: deepest prefix (/32 inside /24 inside /16, port
	 * and ANY lookups both miss) and no prefix at all. Each drop emits an
	 * event, so the repeat stays below what the ring buffer holds. */
	{
		unsigned rep = opt_repeat < 20000 ? opt_repeat : 20000;

		before = global_count(ctx, false, SGBPF_DROP_NO_RULE);
		len = frame(ep, true, 6, DEEP_ADDR, 40001, DENY_PORT, SG_TCP_SYN, f, sizeof(f));
		err = len < 0 ? len : measure(ctx, SGBPF_PROG_TC_INGRESS, f, len, rep, false,
					      &res->deny_deep);
		if (!err && global_count(ctx, false, SGBPF_DROP_NO_RULE) - before <
		    (uint64_t)rep * opt_runs) {
			fprintf(stderr, "datapath-bench: the denied frame was not dropped for "
				"no-rule\n");
			err = -EPROTO;
		}
		len = frame(ep, true, 6, NONE_ADDR, 40001, EST_PORT, SG_TCP_SYN, f, sizeof(f));
		err = err ?: (len < 0 ? len : measure(ctx, SGBPF_PROG_TC_INGRESS, f, len, rep,
						      false, &res->deny_none));
		if (err)
			goto out;
	}

	/* Allowed new UDP flows: a distinct flow per run (repeat 1), so every
	 * timed run evaluates the rules and creates a conntrack entry. */
	per_flow = calloc(opt_flows, sizeof(*per_flow));
	per_base = calloc(opt_flows, sizeof(*per_base));
	if (!per_flow || !per_base) {
		err = -ENOMEM;
		goto out;
	}
	before = global_count(ctx, true, SGBPF_ALLOW_RULE);
	for (unsigned k = 0; k < opt_flows; k++) {
		len = frame(ep, true, 17, DEEP_ADDR, (uint16_t)(20000 + k),
			    (uint16_t)(UDP_BASE + k % 1000), 0, f, sizeof(f));
		/* The same frame through parse-only first: what a repeat-1
		 * test_run costs by itself (timer, RCU, the parse). */
		err = len < 0 ? len : sgbpf_run_repeat(ctx->h, SGBPF_PROG_TC_PARSE_ONLY, f,
						       (size_t)len, 0, 1, &action, &per_base[k]);
		err = err ?: sgbpf_run_repeat(ctx->h, SGBPF_PROG_TC_INGRESS, f, (size_t)len, 0, 1,
					      &action, &per_flow[k]);
		if (!err && !sgbpf_action_passes(SGBPF_PROG_TC_INGRESS, action))
			err = -EPROTO;
		if (err) {
			fprintf(stderr, "datapath-bench: new UDP flow %u: %s\n", k,
				err == -EPROTO ? "dropped, should be allowed" : strerror(-err));
			goto out;
		}
	}
	if (global_count(ctx, true, SGBPF_ALLOW_RULE) - before != opt_flows) {
		fprintf(stderr, "datapath-bench: the new UDP flows were not each allowed by a rule\n");
		err = -EPROTO;
		goto out;
	}
	qsort(per_flow, opt_flows, sizeof(*per_flow), cmp_u32);
	res->new_udp = per_flow[opt_flows / 2];
	qsort(per_base, opt_flows, sizeof(*per_base), cmp_u32);
	res->parse1 = per_base[opt_flows / 2];
	/* The same UDP packet repeated: the entry is created on the first run
	 * only; every later run finds it (unconfirmed, in ct_new). */
	len = frame(ep, true, 17, DEEP_ADDR, 19999, UDP_BASE, 0, f, sizeof(f));
	err = len < 0 ? len : measure(ctx, SGBPF_PROG_TC_INGRESS, f, len, opt_repeat, true,
				      &res->udp_repeat);
out:
	free(per_flow);
	free(per_base);
	sg_offline_close(ctx);
	sg_policy_free(&policy);
	sg_diags_free(&diags);
	return err;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: datapath-bench [--rules N,N,...] [--repeat N] [--runs N] [--flows N]\n"
		"  --rules    rule counts to measure (default 10,100,1000,10000)\n"
		"  --repeat   test_run repeat per measurement (default 100000)\n"
		"  --runs     measurements per figure, the median is kept (default 5, max %d)\n"
		"  --flows    distinct new UDP flows timed one by one (default 2000)\n"
		"Needs root: it loads the BPF programs and runs them with BPF_PROG_TEST_RUN.\n",
		MAX_RUNS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "repeat", required_argument, NULL, 'n' },
		{ "runs", required_argument, NULL, 'k' },
		{ "flows", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned rs[MAX_RS] = { 10, 100, 1000, 10000 }, n_rs = 4;
	struct result res[MAX_RS];
	int opt, i10 = -1, i1000 = -1, i_max = 0;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r': {
			char *s = optarg, *end;

			n_rs = 0;
			while (*s && n_rs < MAX_RS) {
				unsigned long v = strtoul(s, &end, 10);

				if (end == s || v < FIXED_RULES || v > 100000) {
					fprintf(stderr, "datapath-bench: --rules '%s': expected "
						"comma-separated counts %d..100000\n", optarg,
						FIXED_RULES);
					return 2;
				}
				rs[n_rs++] = (unsigned)v;
				s = *end == ',' ? end + 1 : end;
			}
			break;
		}
		case 'n': opt_repeat = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': opt_runs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'f': opt_flows = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!opt_repeat || !opt_runs || opt_runs > MAX_RUNS || !opt_flows || opt_flows > 100000) {
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		fprintf(stderr, "datapath-bench: needs root: it loads the BPF programs and runs them "
			"with BPF_PROG_TEST_RUN; run it as root (sudo ./bench/run.sh)\n");
		return 2;
	}

	printf("datapath-bench: kernel-reported mean ns per run (BPF_PROG_TEST_RUN), median of %u;"
	       " repeat %u (denied flows: %u)\n\n", opt_runs, opt_repeat,
	       opt_repeat < 20000 ? opt_repeat : 20000);
	for (unsigned i = 0; i < n_rs; i++) {
		int err = run_one(rs[i], &res[i]);

		if (err) {
			fprintf(stderr, "datapath-bench: R=%u failed: %s\n", rs[i], strerror(-err));
			return 1;
		}
		if (rs[i] == 10)
			i10 = (int)i;
		if (rs[i] == 1000)
			i1000 = (int)i;
		if (rs[i] > rs[i_max])
			i_max = (int)i;
	}
	printf("policies (one endpoint, one SG, R inbound rules)\n");
	printf("%8s | %8s %9s %11s %17s\n", "rules", "eff.rules", "prefixes", "port blocks",
	       "parse+compile+load");
	for (unsigned i = 0; i < n_rs; i++)
		printf("%8u | %8zu %9zu %11zu %14.0f ms\n", res[i].rules, res[i].n_rules,
		       res[i].n_prefixes, res[i].n_port_blocks, res[i].compile_ms);
	printf("\n");

	printf("(a) established TCP flow vs parse-only baseline (same frame)\n");
	printf("%8s | %9s %9s %6s %7s | %9s %9s %6s %7s\n", "rules", "parse TC",
	       "est TC", "ratio", "Mpps", "parse XDP", "est XDP", "ratio", "Mpps");
	for (unsigned i = 0; i < n_rs; i++) {
		struct result *r = &res[i];

		printf("%8u | %9.0f %9.0f %6.2f %7.2f | %9.0f %9.0f %6.2f %7.2f\n",
		       r->rules, r->parse_tc, r->est_tc, r->est_tc / r->parse_tc,
		       1e3 / r->est_tc, r->parse_xdp, r->est_xdp, r->est_xdp / r->parse_xdp,
		       1e3 / r->est_xdp);
	}
	printf("\n(a6) the same flow over IPv6 (TC)\n");
	printf("%8s | %9s %9s %6s %7s\n", "rules", "parse TC", "est TC", "ratio", "Mpps");
	for (unsigned i = 0; i < n_rs; i++)
		printf("%8u | %9.0f %9.0f %6.2f %7.2f\n", res[i].rules, res[i].parse6_tc,
		       res[i].est6_tc, res[i].est6_tc / res[i].parse6_tc, 1e3 / res[i].est6_tc);
	printf("\n(b) new flows vs rules (ns/pkt; ratio = vs the smallest R)\n");
	printf("%8s | %9s %6s %7s | %9s | %9s %9s %9s %6s | %9s\n", "rules", "deny deep",
	       "ratio", "Mpps", "deny none", "new UDP", "parse@1", "UDP net", "ratio",
	       "UDP again");
	for (unsigned i = 0; i < n_rs; i++) {
		struct result *r = &res[i];
		double net = r->new_udp - r->parse1, net0 = res[0].new_udp - res[0].parse1;

		printf("%8u | %9.0f %6.2f %7.2f | %9.0f | %9.0f %9.0f %9.0f %6.2f | %9.0f\n",
		       r->rules, r->deny_deep, r->deny_deep / res[0].deny_deep, 1e3 / r->deny_deep,
		       r->deny_none, r->new_udp, r->parse1, net, net / net0, r->udp_repeat);
	}
	printf("\n(c) established cost against rule count (TC)\n");
	printf("%8s | %9s %7s\n", "rules", "ns/pkt", "vs R0");
	for (unsigned i = 0; i < n_rs; i++)
		printf("%8u | %9.0f %7.3f\n", res[i].rules, res[i].est_tc,
		       res[i].est_tc / res[0].est_tc);

	printf("\ntargets:\n");
	{
		double worst = 0, worst6 = 0;

		for (unsigned i = 0; i < n_rs; i++) {
			if (res[i].est_tc / res[i].parse_tc > worst)
				worst = res[i].est_tc / res[i].parse_tc;
			if (res[i].est6_tc / res[i].parse6_tc > worst6)
				worst6 = res[i].est6_tc / res[i].parse6_tc;
		}
		printf("  established within 2x of parse-only (TC, IPv4): worst ratio %.2f  %s\n",
		       worst, worst <= 2.0 ? "MET" : "MISSED");
		printf("  established within 2x of parse-only (TC, IPv6): worst ratio %.2f  %s\n",
		       worst6, worst6 <= 2.0 ? "MET" : "MISSED");
	}
	if (i10 >= 0 && i1000 >= 0) {
		double q = res[i1000].est_tc / res[i10].est_tc;

		printf("  established R=10 vs R=1000 within 10%%: %.0f vs %.0f ns (%+.1f%%)  %s\n",
		       res[i10].est_tc, res[i1000].est_tc, (q - 1) * 100,
		       q <= 1.10 && q >= 0.90 ? "MET" : "MISSED");
	}
	if (i_max > 0) {
		double grow = res[i_max].deny_deep / res[0].deny_deep;
		/* "At most logarithmic": cost(Rmax)/cost(R0) <= log(Rmax)/log(R0). */
		double bound = log((double)res[i_max].rules) / log((double)res[0].rules);

		printf("  new flow (deny deep) at most logarithmic: R=%u -> R=%u costs x%.2f "
		       "(log bound x%.2f)  %s\n", res[0].rules, res[i_max].rules, grow, bound,
		       grow <= bound ? "MET" : "MISSED");
	}
	return 0;
}
