// SPDX-License-Identifier: BSD-2-Clause
/*
 * Connection tracking (spec section 3): replies pass regardless of rules,
 * TCP states as seen in ct_new / ct_est, UDP one-way vs stream, ICMP echo by
 * id, other protocols by address pair, expiry (patched timestamps and a real
 * sleep), mid-stream pickup.
 */
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "../lib/testlib.h"

#define R4 "10.1.1.1"
#define NS_PER_S 1000000000ull

static void check_state(struct th *t, const struct sgbpf_ct_key *k, enum th_ct_where where,
			int state, const char *what)
{
	struct sgbpf_ct_val v;
	enum th_ct_where w = th_ct_find(t, k, &v);

	th_check(w == where, "%s: entry in %s, expected %s", what,
		 w == TH_CT_EST ? "ct_est" : w == TH_CT_NEW ? "ct_new" : "no table",
		 where == TH_CT_EST ? "ct_est" : where == TH_CT_NEW ? "ct_new" : "no table");
	if (w != TH_CT_NONE && state >= 0)
		th_check(v.state == state, "%s: state %u, expected %d", what, v.state, state);
}

static void test_tcp_states(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct sgbpf_ct_key k;
	struct sgbpf_ct_val v;
	struct th_res r;
	struct th t;
	uint32_t a, rule;

	tp_init(&p);
	tp_in(&p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	rule = th_rule_id(&t, &p, "sg-a", 0, V4);
	th_ct_key(&k, a, V4, 6, A4, R4, 80, 40000);

	th_tcp(&s, V4, R4, A4, 40000, 80, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	check_state(&t, &k, TH_CT_NEW, SGBPF_CT_SYN_SENT, "after SYN");
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, &v), TH_CT_NEW);
	CU_ASSERT_EQUAL(v.origin_dir, IN);
	CU_ASSERT_EQUAL(v.rule_id, rule);
	/* SYN retransmit: same flow. */
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	/* The reply passes with no outbound rule at all (spec 3.1). */
	th_tcp(&s, V4, A4, R4, 80, 40000, SG_TCP_SYN | SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	check_state(&t, &k, TH_CT_NEW, SGBPF_CT_SYN_RECV, "after SYN+ACK");
	th_tcp(&s, V4, R4, A4, 40000, 80, SG_TCP_ACK);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	check_state(&t, &k, TH_CT_EST, SGBPF_CT_ESTABLISHED, "after handshake");
	/* Confirmed: moved, not copied. */
	CU_ASSERT_FALSE(th_ct_in(&t, SGBPF_MAP_CT_NEW, &k));
	for (int i = 0; i < 3; i++) {
		th_tcp(&s, V4, A4, R4, 80, 40000, SG_TCP_ACK | SG_TCP_PSH);
		s.payload_len = 100;
		r = TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
		CU_ASSERT_EQUAL(r.ev.rule_id, rule);
		th_tcp(&s, V4, R4, A4, 40000, 80, SG_TCP_ACK);
		TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	}
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, &v), TH_CT_EST);
	CU_ASSERT(v.packets[IN] >= 5 && v.packets[OUT] >= 4);
	CU_ASSERT(v.seen_reply);
	/* An unrelated outbound flow is still judged by (absent) rules. */
	th_tcp(&s, V4, A4, R4, 80, 40001, SG_TCP_SYN | SG_TCP_ACK);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);

	/* Close: FIN from the pod, FIN from the remote, last ACK. */
	th_tcp(&s, V4, A4, R4, 80, 40000, SG_TCP_FIN | SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	check_state(&t, &k, TH_CT_EST, SGBPF_CT_FIN_WAIT, "after one FIN");
	th_tcp(&s, V4, R4, A4, 40000, 80, SG_TCP_FIN | SG_TCP_ACK);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	check_state(&t, &k, TH_CT_EST, SGBPF_CT_CLOSING, "after both FINs");
	th_tcp(&s, V4, A4, R4, 80, 40000, SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);

	/* A second flow, reset by the remote after the handshake. */
	th_ct_key(&k, a, V4, 6, A4, R4, 80, 40002);
	th_tcp(&s, V4, R4, A4, 40002, 80, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, A4, R4, 80, 40002, SG_TCP_SYN | SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_tcp(&s, V4, R4, A4, 40002, 80, SG_TCP_ACK);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_tcp(&s, V4, R4, A4, 40002, 80, SG_TCP_RST);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	CU_ASSERT_NOT_EQUAL(th_ct_find(&t, &k, &v), TH_CT_NONE);
	CU_ASSERT_EQUAL(v.state, SGBPF_CT_CLOSED);

	/* IPv6 handshake lands in ct_est too. */
	th_ct_key(&k, a, V6, 6, A6, "fd00:1::1", 80, 40003);
	th_tcp(&s, V6, "fd00:1::1", A6, 40003, 80, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE); /* the rule is IPv4 only */
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_NONE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_udp_one_way_and_stream(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct sgbpf_ct_key k;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_out(&p, "sg-a", 17, 53, 53, "10.0.0.0/8");
	tp_out(&p, "sg-a", 17, 53, 53, "fd00::/8");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_ct_key(&k, a, V4, 17, A4, R4, 33000, 53);
	th_udp(&s, V4, A4, R4, 33000, 53);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	check_state(&t, &k, TH_CT_NEW, SGBPF_CT_NEW, "UDP one way");
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	check_state(&t, &k, TH_CT_NEW, SGBPF_CT_NEW, "UDP one way, twice");
	th_udp(&s, V4, R4, A4, 53, 33000);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	check_state(&t, &k, TH_CT_EST, SGBPF_CT_ESTABLISHED, "UDP stream");
	CU_ASSERT_FALSE(th_ct_in(&t, SGBPF_MAP_CT_NEW, &k));
	/* Another remote port / local port is another flow: denied inbound. */
	th_udp(&s, V4, R4, A4, 54, 33000);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V4, R4, A4, 53, 33001);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V4, "10.1.1.2", A4, 53, 33000);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);

	th_ct_key(&k, a, V6, 17, A6, "fd00:1::1", 33002, 53);
	th_udp(&s, V6, A6, "fd00:1::1", 33002, 53);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V6, "fd00:1::1", A6, 53, 33002);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	check_state(&t, &k, TH_CT_EST, SGBPF_CT_ESTABLISHED, "UDPv6 stream");
	th_close(&t);
	sg_policy_free(&p);
}

static void test_icmp_echo_by_id(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct sgbpf_ct_key k;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_out(&p, "sg-a", 1, 8, -1, "0.0.0.0/0");
	tp_out(&p, "sg-a", 58, 128, -1, "::/0");
	tp_in(&p, "sg-a", 1, 8, 0, "192.168.0.0/16");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_icmp(&s, V4, A4, R4, 8, 0, 77);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_ct_key(&k, a, V4, 1, A4, R4, 77, 0);
	CU_ASSERT_NOT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_NONE);
	th_icmp(&s, V4, R4, A4, 0, 0, 77);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_EST);
	th_icmp(&s, V4, R4, A4, 0, 0, 78);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_icmp(&s, V4, "10.1.1.2", A4, 0, 0, 77);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);

	th_icmp(&s, V6, A6, "2001:db8::1", 128, 0, 5);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_icmp(&s, V6, "2001:db8::1", A6, 129, 0, 5);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_icmp(&s, V6, "2001:db8::1", A6, 129, 0, 6);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);

	/* Inbound ping allowed by rule; the pod's reply is tracked. */
	th_icmp(&s, V4, "192.168.1.1", A4, 8, 0, 9);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_icmp(&s, V4, A4, "192.168.1.1", 0, 0, 9);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_other_protocols_by_address_pair(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct sgbpf_ct_key k;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_in(&p, "sg-a", 50, -1, -1, "10.0.0.0/8");
	tp_out(&p, "sg-a", 132, -1, -1, "fd00::/8");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_ipproto(&s, V4, 50, R4, A4);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_ct_key(&k, a, V4, 50, A4, R4, 0, 0);
	CU_ASSERT_NOT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_NONE);
	th_ipproto(&s, V4, 50, A4, R4);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_EST);
	/* Another address, another protocol: not this flow. */
	th_ipproto(&s, V4, 50, A4, "10.1.1.2");
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);
	th_ipproto(&s, V4, 47, A4, R4);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);

	th_ipproto(&s, V6, 132, A6, "fd00:1::1");
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_ipproto(&s, V6, 132, "fd00:1::1", A6);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_ipproto(&s, V6, 132, "fd00:1::2", A6);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

/* Expiry by patched last_seen: an entry past its timeout is absent. */
static void test_expired_entries_absent(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct sgbpf_ct_key k;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_out(&p, "sg-a", 6, 443, 443, "0.0.0.0/0");
	tp_out(&p, "sg-a", 17, 53, 53, "0.0.0.0/0");
	tp_out(&p, "sg-a", 1, 8, -1, "0.0.0.0/0");
	tp_out(&p, "sg-a", 47, -1, -1, "0.0.0.0/0");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	CU_ASSERT_EQUAL_FATAL(th_open(&t, true), 0);
	t.timeout_override[SGBPF_TO_TCP_ESTABLISHED] = 60;
	CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p), 0);
	a = th_ep(&t, "ns/a");

	/* TCP established, idle 61 s > 60 s. */
	th_tcp(&s, V4, A4, R4, 40000, 443, SG_TCP_SYN);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, R4, A4, 443, 40000, SG_TCP_SYN | SG_TCP_ACK);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_tcp(&s, V4, A4, R4, 40000, 443, SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_ct_key(&k, a, V4, 6, A4, R4, 40000, 443);
	CU_ASSERT_EQUAL(th_ct_age(&t, &k, 59 * NS_PER_S), 0);
	th_tcp(&s, V4, R4, A4, 443, 40000, SG_TCP_ACK);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED); /* 59 s: alive, refreshed */
	CU_ASSERT_EQUAL(th_ct_age(&t, &k, 61 * NS_PER_S), 0);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	/* The pod's next packet is a new (picked-up) flow judged by rules. */
	th_tcp(&s, V4, A4, R4, 40000, 443, SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);

	/* UDP one way: 30 s default. */
	th_udp(&s, V4, A4, R4, 33000, 53);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_ct_key(&k, a, V4, 17, A4, R4, 33000, 53);
	CU_ASSERT_EQUAL(th_ct_age(&t, &k, 31 * NS_PER_S), 0);
	th_udp(&s, V4, R4, A4, 53, 33000);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	/* UDP stream: 180 s, so 31 s idle is fine. */
	th_udp(&s, V4, A4, R4, 33001, 53);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, R4, A4, 53, 33001);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_ct_key(&k, a, V4, 17, A4, R4, 33001, 53);
	CU_ASSERT_EQUAL(th_ct_age(&t, &k, 31 * NS_PER_S), 0);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	CU_ASSERT_EQUAL(th_ct_age(&t, &k, 181 * NS_PER_S), 0);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);

	/* ICMP echo: 60 s. */
	th_icmp(&s, V4, A4, R4, 8, 0, 3);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_ct_key(&k, a, V4, 1, A4, R4, 3, 0);
	CU_ASSERT_EQUAL(th_ct_age(&t, &k, 61 * NS_PER_S), 0);
	th_icmp(&s, V4, R4, A4, 0, 0, 3);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);

	/* Other protocols: 600 s. */
	th_ipproto(&s, V4, 47, A4, R4);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_ct_key(&k, a, V4, 47, A4, R4, 0, 0);
	CU_ASSERT_EQUAL(th_ct_age(&t, &k, 599 * NS_PER_S), 0);
	th_ipproto(&s, V4, 47, R4, A4);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	CU_ASSERT_EQUAL(th_ct_age(&t, &k, 601 * NS_PER_S), 0);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

/* Expiry in real time: a 1 s UDP timeout in the slot config, then sleep. */
static void test_expiry_real_time(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_out(&p, "sg-a", 17, 53, 53, "0.0.0.0/0");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	CU_ASSERT_EQUAL_FATAL(th_open(&t, true), 0);
	t.timeout_override[SGBPF_TO_UDP] = 1;
	CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p), 0);
	a = th_ep(&t, "ns/a");

	th_udp(&s, V4, A4, R4, 33000, 53);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, A4, R4, 33001, 53);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, R4, A4, 53, 33001);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED); /* becomes a stream: 180 s */
	usleep(2100 * 1000);
	th_udp(&s, V4, R4, A4, 53, 33000);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V4, R4, A4, 53, 33001);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_close(&t);
	sg_policy_free(&p);
}

/* A flow that predates the policy (or a restart): non-SYN TCP is picked up. */
static void test_mid_stream_pickup(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct sgbpf_ct_key k;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_in(&p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_tcp(&s, V4, R4, A4, 40000, 80, SG_TCP_ACK | SG_TCP_PSH);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_ct_key(&k, a, V4, 6, A4, R4, 80, 40000);
	/* Unconfirmed until the pod answers (one packet earns no ct_est). */
	check_state(&t, &k, TH_CT_NEW, SGBPF_CT_ESTABLISHED, "picked-up flow");
	th_tcp(&s, V4, A4, R4, 80, 40000, SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	check_state(&t, &k, TH_CT_EST, SGBPF_CT_ESTABLISHED, "answered pickup");
	/* A picked-up flow the rules don't allow stays denied. */
	th_tcp(&s, V4, R4, A4, 40001, 81, SG_TCP_ACK);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_ct_key(&k, a, V4, 6, A4, R4, 81, 40001);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_NONE);
	/* A pod answering a flow nobody allowed: no rule, no entry. */
	th_tcp(&s, V4, A4, R4, 81, 40001, SG_TCP_ACK);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static CU_TestInfo conntrack_tests[] = {
	{ "tcp_states", test_tcp_states },
	{ "udp_one_way_and_stream", test_udp_one_way_and_stream },
	{ "icmp_echo_by_id", test_icmp_echo_by_id },
	{ "other_protocols_by_address_pair", test_other_protocols_by_address_pair },
	{ "expired_entries_absent", test_expired_entries_absent },
	{ "expiry_real_time", test_expiry_real_time },
	{ "mid_stream_pickup", test_mid_stream_pickup },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-conntrack", NULL, NULL, conntrack_tests);
