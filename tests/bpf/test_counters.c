// SPDX-License-Identifier: BSD-2-Clause
/*
 * Counters and events (per endpoint, per rule, per reason, global), fail
 * closed for an interface whose endpoint has no policy, unknown interfaces,
 * and conntrack pressure: a flood of new flows never evicts established ones
 * (spec 3.8).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "../lib/testlib.h"

static void test_counters_and_events(void)
{
	struct sgbpf_global_stats g0, g1;
	struct sgbpf_rule_stats rs;
	struct sgbpf_ep_stats st;
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th_res r;
	struct th t;
	uint64_t in_bytes = 0, out_bytes = 0, drop_bytes = 0;
	uint8_t buf[SG_PKT_MAX];
	uint32_t a, rx, ry;
	int n;

	tp_init(&p);
	tp_in(&p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_in(&p, "sg-a", 17, 53, 53, "10.0.0.0/8");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	rx = th_rule_id(&t, &p, "sg-a", 0, V4);
	ry = th_rule_id(&t, &p, "sg-a", 1, V4);
	th_global_stats(&t, &g0);

#define FRAME_LEN(s) (n = sg_pkt_build(&(s), buf, sizeof(buf)), (uint64_t)n)
	for (int i = 0; i < 3; i++) {
		th_tcp(&s, V4, "10.1.1.1", A4, (uint16_t)(40000 + i), 80, SG_TCP_SYN);
		r = TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
		in_bytes += FRAME_LEN(s);
		CU_ASSERT_EQUAL(r.ev.rule_id, rx);
		CU_ASSERT_EQUAL(r.ev.pkt_len, n);
	}
	for (int i = 0; i < 2; i++) {
		th_udp(&s, V4, "10.1.1.1", A4, (uint16_t)(50000 + i), 53);
		r = TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
		in_bytes += FRAME_LEN(s);
		CU_ASSERT_EQUAL(r.ev.rule_id, ry);
	}
	th_tcp(&s, V4, A4, "10.1.1.1", 80, 40000, SG_TCP_SYN | SG_TCP_ACK);
	r = TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	out_bytes += FRAME_LEN(s);
	CU_ASSERT_EQUAL(r.ev.rule_id, rx);
	for (int i = 0; i < 4; i++) {
		th_tcp(&s, V4, "192.168.1.1", A4, (uint16_t)(40000 + i), 22, SG_TCP_SYN);
		s.payload_len = (uint16_t)(10 * i);
		r = TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
		drop_bytes += FRAME_LEN(s);
		/* The drop event describes the packet. */
		CU_ASSERT_EQUAL(r.ev.rule_id, SGBPF_RULE_NONE);
		CU_ASSERT_EQUAL(r.ev.generation, t.gen);
		CU_ASSERT_EQUAL(r.ev.vlan_id, a + 1);
		CU_ASSERT_EQUAL(r.ev.verdict, SGBPF_VERDICT_DROP);
		CU_ASSERT_EQUAL(r.ev.family, V4);
		CU_ASSERT_EQUAL(r.ev.proto, 6);
		CU_ASSERT_EQUAL(r.ev.ct_state, SGBPF_CT_NEW);
		CU_ASSERT(!memcmp(r.ev.src, s.src, 4) && !memcmp(r.ev.dst, s.dst, 4));
		CU_ASSERT_EQUAL(ntohs(r.ev.sport), 40000 + i);
		CU_ASSERT_EQUAL(ntohs(r.ev.dport), 22);
		CU_ASSERT_EQUAL(r.ev.pkt_len, n);
	}
	th_icmp(&s, V4, "192.168.1.1", A4, 8, 0, 1);
	r = TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	CU_ASSERT_EQUAL(ntohs(r.ev.sport), 8 << 8);
	drop_bytes += FRAME_LEN(s);
	th_udp(&s, V4, "10.0.0.99", "10.1.1.1", 1, 2);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_SPOOF_SRC);
#undef FRAME_LEN

	th_ep_stats(&t, a, &st);
	CU_ASSERT_EQUAL(st.allow_packets[IN], 5);
	CU_ASSERT_EQUAL(st.allow_packets[OUT], 1);
	CU_ASSERT_EQUAL(st.drop_packets[IN], 5);
	CU_ASSERT_EQUAL(st.drop_packets[OUT], 1);
	CU_ASSERT_EQUAL(st.allow_bytes[IN], in_bytes);
	CU_ASSERT_EQUAL(st.allow_bytes[OUT], out_bytes);
	CU_ASSERT_EQUAL(st.drop_bytes[IN], drop_bytes);
	CU_ASSERT_EQUAL(st.allows_by_reason[SGBPF_ALLOW_RULE], 5);
	CU_ASSERT_EQUAL(st.allows_by_reason[SGBPF_ALLOW_TRACKED], 1);
	CU_ASSERT_EQUAL(st.drops_by_reason[SGBPF_DROP_NO_RULE], 5);
	CU_ASSERT_EQUAL(st.drops_by_reason[SGBPF_DROP_SPOOF_SRC], 1);
	th_rule_stats(&t, rx, &rs);
	CU_ASSERT_EQUAL(rs.packets, 3);
	th_rule_stats(&t, ry, &rs);
	CU_ASSERT_EQUAL(rs.packets, 2);
	th_global_stats(&t, &g1);
	CU_ASSERT_EQUAL(g1.allows_by_reason[SGBPF_ALLOW_RULE] - g0.allows_by_reason[SGBPF_ALLOW_RULE], 5);
	CU_ASSERT_EQUAL(g1.drops_by_reason[SGBPF_DROP_NO_RULE] - g0.drops_by_reason[SGBPF_DROP_NO_RULE], 5);
	CU_ASSERT_EQUAL(g1.ct_new_created - g0.ct_new_created, 5);
	/* Another endpoint's counters are untouched. */
	th_ep_stats(&t, a + 1, &st);
	CU_ASSERT_EQUAL(st.allow_packets[IN] + st.drop_packets[IN] + st.drop_packets[OUT], 0);

	/* Allow events off: drops still produce events, allows don't. */
	CU_ASSERT_EQUAL_FATAL(th_apply_flags(&t, &p, 0, SGBPF_CFG_EVENTS_ALLOW), 0);
	th_tcp(&s, V4, "10.1.1.1", A4, 41000, 80, SG_TCP_SYN);
	r = TH_ALLOW(&t, a, IN, &s, -1);
	CU_ASSERT_FALSE(r.has_ev);
	th_tcp(&s, V4, "10.1.1.1", A4, 41001, 81, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

/* Spec 6.1: an interface whose endpoint has no policy drops (except ARP/ND). */
static void test_fail_closed(void)
{
	struct sgbpf_global_stats g0, g1;
	struct sgbpf_ep_stats st;
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th_res r;
	struct th t;
	uint8_t buf[SG_PKT_MAX];
	int n;

	tp_init(&p);
	tp_in(&p, "sg-a", -1, -1, -1, "0.0.0.0/0");
	tp_out(&p, "sg-a", -1, -1, -1, "0.0.0.0/0");
	tp_endpoint(&p, "ns/a", "sg-a", A4, NULL);
	TH_SETUP(t, p);
	CU_ASSERT_EQUAL_FATAL(sgbpf_iface_set(t.h, 1, 100, 99, SGBPF_ROLE_NET_FACING), 0);
	CU_ASSERT_EQUAL_FATAL(sgbpf_iface_set(t.shadow, 1, 100, 99, SGBPF_ROLE_NET_FACING), 0);

	th_tcp(&s, V4, "10.1.1.1", "10.0.0.99", 40000, 80, SG_TCP_SYN);
	TH_DROP(&t, 99, IN, &s, SGBPF_DROP_NO_POLICY);
	th_tcp(&s, V4, "10.0.0.99", "10.1.1.1", 40000, 80, SG_TCP_SYN);
	TH_DROP(&t, 99, OUT, &s, SGBPF_DROP_NO_POLICY);
	/* Even what the exempt list would let through. */
	th_udp(&s, V4, "10.0.0.99", "169.254.169.254", 40000, 80);
	TH_DROP(&t, 99, OUT, &s, SGBPF_DROP_NO_POLICY);
	th_ep_stats(&t, 99, &st);
	CU_ASSERT_EQUAL(st.drops_by_reason[SGBPF_DROP_NO_POLICY], 3);
	/* ND too: it is only exempt from rules once the addresses pass. */
	th_icmp(&s, V6, "fe80::1", "ff02::1", 135, 0, 0);
	s.ttl = 255;
	TH_DROP(&t, 99, IN, &s, SGBPF_DROP_NO_POLICY);

	/* Unknown interface (VLAN nobody maps): passed and counted. */
	th_global_stats(&t, &g0);
	th_tcp(&s, V4, "10.1.1.1", "10.0.0.98", 40000, 80, SG_TCP_SYN);
	s.vlan_id = 200;
	n = sg_pkt_build(&s, buf, sizeof(buf));
	CU_ASSERT_EQUAL(th_run_frame(&t, SGBPF_PROG_TC_INGRESS, buf, (size_t)n, &r), 0);
	CU_ASSERT_TRUE(r.pass);
	th_global_stats(&t, &g1);
	CU_ASSERT_EQUAL(g1.unknown_iface - g0.unknown_iface, 1);

	th_close(&t);
	sg_policy_free(&p);
}

/* Removing an endpoint from the policy makes its interface fail closed. */
static void test_endpoint_removed_fails_closed(void)
{
	struct sg_policy p1, p2;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t b;

	tp_init(&p1);
	tp_in(&p1, "sg-a", -1, -1, -1, "0.0.0.0/0");
	tp_endpoint(&p1, "ns/a", "sg-a", A4, NULL);
	tp_endpoint(&p1, "ns/b", "sg-a", B4, NULL);
	tp_init(&p2);
	tp_in(&p2, "sg-a", -1, -1, -1, "0.0.0.0/0");
	tp_endpoint(&p2, "ns/a", "sg-a", A4, NULL);
	TH_SETUP(t, p1);
	b = th_ep(&t, "ns/b");
	th_udp(&s, V4, "10.1.1.1", B4, 1, 2);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_RULE);
	CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p2), 0);
	/* b's interface entry is still there; its ep_config is gone. */
	th_udp(&s, V4, "10.1.1.1", B4, 3, 4);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_NO_POLICY);
	th_close(&t);
	sg_policy_free(&p1);
	sg_policy_free(&p2);
}

/* Spec 3.8: fill ct_new well past its size; established flows survive. */
static void test_conntrack_pressure(void)
{
	enum { N_EST = 64, FLOOD = 300000 };
	struct sgbpf_ct_key k;
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th_res r;
	struct th t;
	uint8_t buf[SG_PKT_MAX];
	unsigned allowed = 0, lost = 0;
	uint32_t a;
	int n;

	tp_init(&p);
	tp_in(&p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_in(&p, "sg-a", 17, 0, 65535, "10.0.0.0/8");
	tp_out(&p, "sg-a", 17, 53, 53, "192.168.0.0/16");
	tp_endpoint(&p, "ns/a", "sg-a", A4, NULL);
	/* No shadow: 300k frames through one copy is enough work. */
	CU_ASSERT_EQUAL_FATAL(th_open(&t, false), 0);
	CU_ASSERT_EQUAL_FATAL(th_apply_flags(&t, &p, 0, SGBPF_CFG_EVENTS_ALLOW), 0);
	a = th_ep(&t, "ns/a");

	for (int i = 0; i < N_EST; i++) {
		uint16_t sp = (uint16_t)(20000 + i);

		th_tcp(&s, V4, "10.200.0.1", A4, sp, 80, SG_TCP_SYN);
		TH_ALLOW(&t, a, IN, &s, -1);
		th_tcp(&s, V4, A4, "10.200.0.1", 80, sp, SG_TCP_SYN | SG_TCP_ACK);
		TH_ALLOW(&t, a, OUT, &s, -1);
		th_tcp(&s, V4, "10.200.0.1", A4, sp, 80, SG_TCP_ACK);
		TH_ALLOW(&t, a, IN, &s, -1);
		th_udp(&s, V4, A4, "192.168.0.53", sp, 53);
		TH_ALLOW(&t, a, OUT, &s, -1);
		th_udp(&s, V4, "192.168.0.53", A4, 53, sp);
		TH_ALLOW(&t, a, IN, &s, -1);
	}
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_EST), 2 * N_EST);

	/* The flood: new UDP flows from distinct sources, each a ct_new entry. */
	th_udp(&s, V4, "10.0.0.1", A4, 1, 7);
	for (int i = 0; i < FLOOD; i++) {
		uint32_t src = 0x0a010000u + (uint32_t)i / 16;

		s.src[0] = src >> 24;
		s.src[1] = (src >> 16) & 0xff;
		s.src[2] = (src >> 8) & 0xff;
		s.src[3] = src & 0xff;
		s.sport = (uint16_t)(1024 + i % 16);
		s.vlan_id = (uint16_t)(a + 1);
		n = sg_pkt_build(&s, buf, sizeof(buf));
		if (th_run_frame(&t, SGBPF_PROG_TC_INGRESS, buf, (size_t)n, &r)) {
			CU_FAIL("test_run failed during the flood");
			break;
		}
		allowed += r.pass;
	}
	/* New flows may be refused when the table is full (spec 3.8), but
	 * ct_new is LRU so it should keep admitting; count what happened. */
	printf("\n    flood: %u of %d new flows admitted, ct_new %zu (max %u) ",
	       allowed, FLOOD, th_ct_count(&t, SGBPF_MAP_CT_NEW), SGBPF_CT_NEW_MAX);
	CU_ASSERT(th_ct_count(&t, SGBPF_MAP_CT_NEW) <= SGBPF_CT_NEW_MAX);

	for (int i = 0; i < N_EST; i++) {
		uint16_t sp = (uint16_t)(20000 + i);

		th_ct_key(&k, a, V4, 6, A4, "10.200.0.1", 80, sp);
		lost += !th_ct_in(&t, SGBPF_MAP_CT_EST, &k);
		th_ct_key(&k, a, V4, 17, A4, "192.168.0.53", sp, 53);
		lost += !th_ct_in(&t, SGBPF_MAP_CT_EST, &k);
		th_tcp(&s, V4, A4, "10.200.0.1", 80, sp, SG_TCP_ACK | SG_TCP_PSH);
		TH_ALLOW(&t, a, OUT, &s, -1);
		th_udp(&s, V4, "192.168.0.53", A4, 53, sp);
		TH_ALLOW(&t, a, IN, &s, -1);
	}
	th_check(lost == 0, "%u established flows were evicted by the flood", lost);
	th_close(&t);
	sg_policy_free(&p);
}

static CU_TestInfo counters_tests[] = {
	{ "counters_and_events", test_counters_and_events },
	{ "fail_closed", test_fail_closed },
	{ "endpoint_removed_fails_closed", test_endpoint_removed_fails_closed },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo pressure_tests[] = {
	{ "conntrack_pressure", test_conntrack_pressure },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-counters", NULL, NULL, counters_tests);
SGT_SUITE("bpf-ctpressure", NULL, NULL, pressure_tests);
