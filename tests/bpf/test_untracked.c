// SPDX-License-Identifier: BSD-2-Clause
/*
 * Untracked flows and rule changes (spec 3.4, 3.5): /0 both ways creates no
 * conntrack entry and replies pass by the reverse rule; narrowing a rule
 * stops an untracked flow at once; tracked flows survive a swap; the strict
 * re-evaluation option drops them.
 */
#include <CUnit/CUnit.h>

#include "harness.h"
#include "../lib/testlib.h"

static void test_no_ct_entry(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	/* The EC2 example: inbound TCP 22 from 0.0.0.0/0, outbound all to /0. */
	tp_init(&p);
	tp_in(&p, "sg-a", 6, 22, 22, "0.0.0.0/0");
	tp_in(&p, "sg-a", 17, 0, 65535, "::/0");
	tp_in(&p, "sg-a", 6, 8080, 8080, "10.0.0.0/8");
	tp_out(&p, "sg-a", -1, -1, -1, "0.0.0.0/0");
	tp_out(&p, "sg-a", 17, 0, 65535, "::/0");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_tcp(&s, V4, "198.51.100.9", A4, 40000, 22, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_UNTRACKED);
	th_tcp(&s, V4, "198.51.100.9", A4, 40000, 22, SG_TCP_ACK);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_UNTRACKED);
	th_udp(&s, V6, "2001:db8::9", A6, 5000, 5001);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_UNTRACKED);
	th_udp(&s, V6, A6, "2001:db8::9", 5001, 5000);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_UNTRACKED);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW), 0);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_EST), 0);

	/* Not a /0 source: tracked although outbound is open. */
	th_tcp(&s, V4, "10.1.1.1", A4, 40001, 8080, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW) + th_ct_count(&t, SGBPF_MAP_CT_EST), 1);
	/* ICMP is always tracked (spec 3.4), even with -1 to /0. */
	th_icmp(&s, V4, A4, "198.51.100.9", 8, 0, 4);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW) + th_ct_count(&t, SGBPF_MAP_CT_EST), 2);
	th_close(&t);
	sg_policy_free(&p);
}

/* Reverse rule present but not for every port, or not /0: tracked. */
static void test_tracked_when_reverse_is_narrow(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a, b;

	tp_init(&p);
	tp_in(&p, "sg-a", 6, 22, 22, "0.0.0.0/0");
	tp_out(&p, "sg-a", 6, 443, 443, "0.0.0.0/0");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	tp_in(&p, "sg-b", 6, 22, 22, "0.0.0.0/0");
	tp_out(&p, "sg-b", 6, 0, 65535, "10.0.0.0/8");
	tp_out(&p, "sg-b", 6, 0, 65535, "::/0"); /* other family's /0 */
	tp_endpoint(&p, "ns/b", "sg-b", B4 "," B6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	b = th_ep(&t, "ns/b");

	th_tcp(&s, V4, "198.51.100.9", A4, 40000, 22, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "198.51.100.9", B4, 40000, 22, SG_TCP_SYN);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_RULE);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW) + th_ct_count(&t, SGBPF_MAP_CT_EST), 2);
	th_close(&t);
	sg_policy_free(&p);
}

/* Spec 3.4 speaks of rules that cover 0.0.0.0/0; a prefix list holding
 * 0.0.0.0/0 covers it just as a CIDR does, on either side. */
static void test_prefix_list_zero(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a, b;

	tp_init(&p);
	tp_plist(&p, "pl-zero", "0.0.0.0/0");
	/* a: the allowing rule's /0 comes from the prefix list. */
	tp_in(&p, "sg-a", 6, 22, 22, "pl-zero");
	tp_out(&p, "sg-a", 6, 0, 65535, "0.0.0.0/0");
	tp_endpoint(&p, "ns/a", "sg-a", A4, NULL);
	/* b: the reverse rule's /0 comes from the prefix list. */
	tp_in(&p, "sg-b", 6, 22, 22, "0.0.0.0/0");
	tp_out(&p, "sg-b", 6, 0, 65535, "pl-zero");
	tp_endpoint(&p, "ns/b", "sg-b", B4, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	b = th_ep(&t, "ns/b");

	th_tcp(&s, V4, "198.51.100.9", A4, 40000, 22, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_UNTRACKED);
	th_tcp(&s, V4, "198.51.100.9", B4, 40000, 22, SG_TCP_SYN);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_UNTRACKED);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW) + th_ct_count(&t, SGBPF_MAP_CT_EST), 0);
	th_close(&t);
	sg_policy_free(&p);
}

static void both_ways_policy(struct sg_policy *p, const char *in_src)
{
	tp_init(p);
	tp_in(p, "sg-a", 6, 0, 65535, in_src);
	tp_out(p, "sg-a", 6, 0, 65535, "0.0.0.0/0");
	tp_endpoint(p, "ns/a", "sg-a", A4 "," A6, NULL);
}

static void test_narrowing_stops_untracked(void)
{
	struct sg_policy p1, p2;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	both_ways_policy(&p1, "0.0.0.0/0");
	both_ways_policy(&p2, "10.0.0.0/8");
	TH_SETUP(t, p1);
	a = th_ep(&t, "ns/a");

	th_tcp(&s, V4, "192.168.1.1", A4, 40000, 22, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_UNTRACKED);
	th_tcp(&s, V4, A4, "192.168.1.1", 22, 40000, SG_TCP_SYN | SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_UNTRACKED);
	th_tcp(&s, V4, "192.168.1.1", A4, 40000, 22, SG_TCP_ACK);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_UNTRACKED);

	CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p2), 0);
	/* The very next packet of the flow is judged by the narrowed rule. */
	th_tcp(&s, V4, "192.168.1.1", A4, 40000, 22, SG_TCP_ACK | SG_TCP_PSH);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	/* The pod's side still leaves by the unchanged /0 outbound rule. */
	th_tcp(&s, V4, A4, "192.168.1.1", 22, 40000, SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, -1);
	th_tcp(&s, V4, "10.1.1.1", A4, 40001, 22, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE); /* 10/8 is not /0: tracked now */
	th_close(&t);
	sg_policy_free(&p1);
	sg_policy_free(&p2);
}

static void tracked_policy(struct sg_policy *p, bool keep_80)
{
	tp_init(p);
	if (keep_80)
		tp_in(p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_in(p, "sg-a", 6, 443, 443, "10.0.0.0/8");
	tp_out(p, "sg-a", 17, 53, 53, "10.0.0.2/32");
	tp_endpoint(p, "ns/a", "sg-a", A4 "," A6, NULL);
}

static void open_flows(struct th *t, uint32_t a)
{
	struct sg_pkt_spec s;

	th_tcp(&s, V4, "10.1.1.1", A4, 40000, 80, SG_TCP_SYN);
	TH_ALLOW(t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, A4, "10.1.1.1", 80, 40000, SG_TCP_SYN | SG_TCP_ACK);
	TH_ALLOW(t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_tcp(&s, V4, "10.1.1.1", A4, 40000, 80, SG_TCP_ACK);
	TH_ALLOW(t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_tcp(&s, V4, "10.1.1.1", A4, 40001, 443, SG_TCP_SYN);
	TH_ALLOW(t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, A4, "10.1.1.1", 443, 40001, SG_TCP_SYN | SG_TCP_ACK);
	TH_ALLOW(t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_udp(&s, V4, A4, "10.0.0.2", 33000, 53);
	TH_ALLOW(t, a, OUT, &s, SGBPF_ALLOW_RULE);
}

static void test_tracked_survive_swap(void)
{
	struct sg_policy p1, p2;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	tracked_policy(&p1, true);
	tracked_policy(&p2, false);
	TH_SETUP(t, p1);
	a = th_ep(&t, "ns/a");
	open_flows(&t, a);
	CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p2), 0);
	CU_ASSERT_EQUAL(th_ep(&t, "ns/a"), a); /* same id across the swap */

	/* Established on port 80 goes on; new flows to 80 are refused. */
	th_tcp(&s, V4, "10.1.1.1", A4, 40000, 80, SG_TCP_ACK | SG_TCP_PSH);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_tcp(&s, V4, A4, "10.1.1.1", 80, 40000, SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_tcp(&s, V4, "10.1.1.1", A4, 40002, 80, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V4, "10.0.0.2", A4, 53, 33000);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_close(&t);
	sg_policy_free(&p1);
	sg_policy_free(&p2);
}

static void test_strict_reevaluation(void)
{
	struct sg_policy p1, p2;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	tracked_policy(&p1, true);
	tracked_policy(&p2, false);
	p2.node.strict_reevaluation = true;
	TH_SETUP(t, p1);
	a = th_ep(&t, "ns/a");
	open_flows(&t, a);
	CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p2), 0);

	/* The port-80 flow is no longer allowed: dropped in both directions. */
	th_tcp(&s, V4, "10.1.1.1", A4, 40000, 80, SG_TCP_ACK | SG_TCP_PSH);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_STRICT_REEVAL);
	th_tcp(&s, V4, A4, "10.1.1.1", 80, 40000, SG_TCP_ACK);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_STRICT_REEVAL);
	/* Flows the new policy still allows go on, in both directions. */
	th_tcp(&s, V4, "10.1.1.1", A4, 40001, 443, SG_TCP_ACK);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_tcp(&s, V4, A4, "10.1.1.1", 443, 40001, SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_udp(&s, V4, "10.0.0.2", A4, 53, 33000);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_close(&t);
	sg_policy_free(&p1);
	sg_policy_free(&p2);
}

static CU_TestInfo untracked_tests[] = {
	{ "no_ct_entry", test_no_ct_entry },
	{ "tracked_when_reverse_is_narrow", test_tracked_when_reverse_is_narrow },
	{ "prefix_list_zero", test_prefix_list_zero },
	{ "narrowing_stops_untracked", test_narrowing_stops_untracked },
	{ "tracked_survive_swap", test_tracked_survive_swap },
	{ "strict_reevaluation", test_strict_reevaluation },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-untracked", NULL, NULL, untracked_tests);
