// SPDX-License-Identifier: BSD-2-Clause
/*
 * swap_probe: new-flow probes through a live sgbpfd's pinned programs while
 * it swaps policies (tests/e2e/test_load.sh). Run it in the daemon's network
 * namespace: each probe is a TCP SYN towards the endpoint behind IFINDEX
 * (a pod-facing interface: its TC egress program judges traffic to the pod),
 * run with BPF_PROG_TEST_RUN through <pin>/progs/sgbpf_tc_egress, so it is
 * judged by exactly the maps the daemon swaps.
 *
 * Policy A allows tcp/7001 from 10.210.0.0/16, policy B tcp/7002 from
 * 10.211.0.0/16 (and has another rule, so the rule counts RULES_A and RULES_B
 * in slot_config tell them apart). Probe kinds, every flow new (distinct
 * source address and port): 0 = 10.210.x -> 7001 (A only), 1 = 10.211.x ->
 * 7002 (B only), 2 and 3 = the mixes, which neither allows: a packet judged
 * by A's prefixes and B's ports (or the reverse) would pass them.
 *
 * Before and after each probe the state map is read; when the generation
 * did not change in between, the slot in force during the probe is known and
 * its slot_config (read while in force: a slot is never written then) says
 * which policy judged it; its verdict must be that policy's.
 *
 * Prints one line of counts; exit 0 when no mix passed, no verdict
 * disagreed with the policy in force, and both policies were seen judging.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>

#include <sgbpf/layout.h>

#include "packet.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int pinned(const char *pin, const char *sub, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", pin, sub, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "swap_probe: opening %s failed: %s (is sgbpfd running with this "
			"--pin-dir?)\n", path, strerror(errno));
		exit(2);
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const uint16_t ports[4] = { 7001, 7002, 7002, 7001 };
	unsigned long probes = 0, pass_a = 0, pass_b = 0, mixed = 0, wrong = 0, judged = 0;
	unsigned long unknown = 0, gens = 0;
	uint32_t ifindex, rules_a, rules_b, zero = 0;
	struct sgbpf_state st0, st1;
	struct sgbpf_slot_config cfg;
	int prog, state, slot_cfg;
	uint64_t last_gen = 0;
	double secs, t0;

	if (argc != 7) {
		fprintf(stderr, "usage: swap_probe PIN_DIR IFINDEX POD_IPV4 SECONDS RULES_A "
			"RULES_B\n");
		return 2;
	}
	ifindex = strtoul(argv[2], NULL, 10);
	secs = strtod(argv[4], NULL);
	rules_a = strtoul(argv[5], NULL, 10);
	rules_b = strtoul(argv[6], NULL, 10);
	if (rules_a == rules_b) {
		fprintf(stderr, "swap_probe: policies A and B need different rule counts\n");
		return 2;
	}
	prog = pinned(argv[1], "progs", "sgbpf_tc_egress");
	state = pinned(argv[1], "maps", "state");
	slot_cfg = pinned(argv[1], "maps", "slot_config");

	t0 = now_s();
	for (uint32_t i = 0; now_s() - t0 < secs; i++) {
		struct __sk_buff ctx = { .ifindex = ifindex };
		LIBBPF_OPTS(bpf_test_run_opts, opts);
		unsigned kind = i & 3, flow = i >> 2;
		struct sg_pkt_spec s;
		uint8_t buf[256];
		bool pass, is_a;
		int n;

		sg_pkt_init(&s, SGBPF_AF_V4, 6);
		if (sg_pkt_set_addrs(&s, kind == 0 || kind == 2 ? "10.210.0.0" : "10.211.0.0",
				     argv[3])) {
			fprintf(stderr, "swap_probe: bad pod address '%s'\n", argv[3]);
			return 2;
		}
		s.src[2] = (uint8_t)(flow >> 24 ^ flow >> 8);
		s.src[3] = (uint8_t)flow;
		s.sport = (uint16_t)(1024 + (flow >> 8) % 64000);
		s.dport = ports[kind];
		s.tcp_flags = SG_TCP_SYN;
		s.seq = flow;
		n = sg_pkt_build(&s, buf, sizeof(buf));
		if (n < 0)
			return 2;
		opts.data_in = buf;
		opts.data_size_in = (uint32_t)n;
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);

		if (bpf_map_lookup_elem(state, &zero, &st0))
			return 2;
		if (bpf_map_lookup_elem(slot_cfg, &st0.active_slot, &cfg))
			return 2;
		if (bpf_prog_test_run_opts(prog, &opts)) {
			fprintf(stderr, "swap_probe: test run on ifindex %u failed: %s\n", ifindex,
				strerror(errno));
			return 2;
		}
		if (bpf_map_lookup_elem(state, &zero, &st1))
			return 2;
		probes++;
		pass = opts.retval == TC_ACT_OK || opts.retval == TC_ACT_UNSPEC;
		if (st1.generation != last_gen) {
			gens++;
			last_gen = st1.generation;
		}
		if (kind >= 2) {
			mixed += pass;
		} else if (st0.generation != st1.generation || cfg.generation != st0.generation ||
			   (cfg.n_rules != rules_a && cfg.n_rules != rules_b)) {
			unknown++;      /* a swap in between: either verdict is right */
		} else {
			is_a = cfg.n_rules == rules_a;
			judged++;
			wrong += pass != (is_a == (kind == 0));
		}
		if (pass && kind == 0)
			pass_a++;
		if (pass && kind == 1)
			pass_b++;
		/* Leave the CPUs to sgbpfd and the streams: ~30k probes/s. */
		if (i % 64 == 63)
			usleep(2000);
	}
	printf("probes=%lu judged=%lu unknown=%lu pass_a=%lu pass_b=%lu mixed_pass=%lu "
	       "wrong=%lu generations=%lu\n", probes, judged, unknown, pass_a, pass_b, mixed,
	       wrong, gens);
	return mixed == 0 && wrong == 0 && pass_a > 0 && pass_b > 0 ? 0 : 1;
}
