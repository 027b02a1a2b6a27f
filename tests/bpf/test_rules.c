// SPDX-License-Identifier: BSD-2-Clause
/*
 * Rule semantics (spec section 2) through the real programs: allow per
 * direction, remote address + destination port, families, icmp vs icmpv6,
 * ICMP type/code wildcards, protocol numbers, -1, referenced groups, prefix
 * lists, the union of groups, endpoints without inbound rules, a policy
 * read from a fixture directory, and the POD_FACING interface role.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "diag.h"
#include "harness.h"
#include "parse.h"
#include "../lib/testlib.h"

static void test_inbound_port_and_remote(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th_res r;
	struct th t;
	uint32_t a, r80, r1000;

	tp_init(&p);
	tp_in(&p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_in(&p, "sg-a", 6, 1000, 2000, "192.168.0.0/16");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	r80 = th_rule_id(&t, &p, "sg-a", 0, V4);
	r1000 = th_rule_id(&t, &p, "sg-a", 1, V4);
	CU_ASSERT_NOT_EQUAL(r80, SGBPF_RULE_NONE);

	th_tcp(&s, V4, "10.1.1.1", A4, 40000, 80, SG_TCP_SYN);
	r = TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	CU_ASSERT_EQUAL(r.ev.rule_id, r80);
	th_tcp(&s, V4, "10.1.1.1", A4, 40001, 81, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_tcp(&s, V4, "192.168.1.1", A4, 40002, 80, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	/* The source port is not the destination port (spec 2.3). */
	th_tcp(&s, V4, "10.1.1.1", A4, 80, 5555, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	/* UDP to the TCP port: protocol must match. */
	th_udp(&s, V4, "10.1.1.1", A4, 40003, 80);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);

	/* Inclusive range edges. */
	for (int port = 998; port <= 2002; port++) {
		bool in = port >= 1000 && port <= 2000;

		if (port > 1002 && port < 1998)
			continue;
		th_tcp(&s, V4, "192.168.7.7", A4, 30000, (uint16_t)port, SG_TCP_SYN);
		r = th_expect(&t, a, IN, &s, in, in ? SGBPF_ALLOW_RULE : SGBPF_DROP_NO_RULE);
		if (in)
			CU_ASSERT_EQUAL(r.ev.rule_id, r1000);
	}
	/* Prefix edges of 10.0.0.0/8. */
	th_tcp(&s, V4, "10.255.255.255", A4, 40010, 80, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "11.0.0.0", A4, 40011, 80, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_tcp(&s, V4, "9.255.255.255", A4, 40012, 80, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	/* No outbound rule at all: outbound new flows are denied. */
	th_tcp(&s, V4, A4, "10.1.1.1", 5000, 80, SG_TCP_SYN);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_outbound_dest_port(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_out(&p, "sg-a", 6, 443, 443, "203.0.113.0/24");
	tp_out(&p, "sg-a", 17, 53, 53, "10.0.0.2/32");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_tcp(&s, V4, A4, "203.0.113.5", 40000, 443, SG_TCP_SYN);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, A4, "203.0.113.5", 40001, 80, SG_TCP_SYN);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);
	th_tcp(&s, V4, A4, "198.51.100.1", 40002, 443, SG_TCP_SYN);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);
	/* Local port 443 to remote port 80: rules match the destination. */
	th_tcp(&s, V4, A4, "203.0.113.5", 443, 80, SG_TCP_SYN);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V4, A4, "10.0.0.2", 40003, 53);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, A4, "10.0.0.3", 40004, 53);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);
	/* Outbound rules don't admit inbound flows. */
	th_tcp(&s, V4, "203.0.113.5", A4, 40005, 443, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_per_family(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_in(&p, "sg-a", 6, 80, 80, "0.0.0.0/0");
	tp_in(&p, "sg-a", 6, 443, 443, "fd00:1::/32");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_tcp(&s, V4, "198.51.100.7", A4, 40000, 80, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	/* An IPv4 /0 rule does not match IPv6 (spec 2.4). */
	th_tcp(&s, V6, "2001:db8::7", A6, 40000, 80, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_tcp(&s, V6, "fd00:1::7", A6, 40001, 443, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V6, "fd00:2::7", A6, 40002, 443, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	/* The IPv6 rule does not match IPv4 sources. */
	th_tcp(&s, V4, "10.1.1.1", A4, 40003, 443, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_icmp_vs_icmpv6(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_in(&p, "sg-a", 1, -1, -1, "0.0.0.0/0");
	tp_in(&p, "sg-a", 1, -1, -1, "::/0");   /* icmp with an IPv6 source: no ICMPv6 */
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	tp_in(&p, "sg-b", 58, -1, -1, "::/0");
	tp_endpoint(&p, "ns/b", "sg-b", B4 "," B6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_icmp(&s, V4, "198.51.100.1", A4, 8, 0, 1);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_icmp(&s, V6, "2001:db8::1", A6, 128, 0, 1);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	/* icmpv6 rule: ICMPv6 allowed, ICMP (v4) not. */
	th_icmp(&s, V6, "2001:db8::1", B6, 128, 0, 2);
	TH_ALLOW(&t, th_ep(&t, "ns/b"), IN, &s, SGBPF_ALLOW_RULE);
	th_icmp(&s, V4, "198.51.100.1", B4, 8, 0, 2);
	TH_DROP(&t, th_ep(&t, "ns/b"), IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_icmp_type_code(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;
	static const struct { int fam, type, code; bool allow; } cases[] = {
		{ V4, 8, 0, true }, { V4, 8, 7, true },     /* type 8, any code     */
		{ V4, 13, 0, true }, { V4, 13, 1, false },  /* type 13 code 0 only  */
		{ V4, 14, 0, false }, { V4, 0, 0, false },
		{ V6, 128, 0, true }, { V6, 128, 1, false },/* icmpv6 128 code 0    */
		{ V6, 139, 0, false }, { V6, 129, 0, false },
	};

	tp_init(&p);
	tp_in(&p, "sg-a", 1, 8, -1, "0.0.0.0/0");
	tp_in(&p, "sg-a", 1, 13, 0, "0.0.0.0/0");
	tp_in(&p, "sg-a", 58, 128, 0, "::/0");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	/* b: every type and code (icmpv6 "no ports" = all). */
	tp_in(&p, "sg-b", 58, -1, -1, "::/0");
	tp_in(&p, "sg-b", 1, -1, -1, "0.0.0.0/0");
	tp_endpoint(&p, "ns/b", "sg-b", B4 "," B6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool v6 = cases[i].fam == V6;

		th_icmp(&s, (uint8_t)cases[i].fam, v6 ? "2001:db8::1" : "198.51.100.1",
			v6 ? A6 : A4, (uint8_t)cases[i].type, (uint8_t)cases[i].code,
			(uint16_t)(100 + i));
		th_expect(&t, a, IN, &s, cases[i].allow,
			  cases[i].allow ? SGBPF_ALLOW_RULE : SGBPF_DROP_NO_RULE);
		th_icmp(&s, (uint8_t)cases[i].fam, v6 ? "2001:db8::1" : "198.51.100.1",
			v6 ? B6 : B4, (uint8_t)cases[i].type, (uint8_t)cases[i].code,
			(uint16_t)(200 + i));
		TH_ALLOW(&t, th_ep(&t, "ns/b"), IN, &s, SGBPF_ALLOW_RULE);
	}
	th_close(&t);
	sg_policy_free(&p);
}

static void test_protocol_numbers(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_in(&p, "sg-a", 50, -1, -1, "10.0.0.0/8");
	tp_in(&p, "sg-a", 132, -1, -1, "fd00:1::/32");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_ipproto(&s, V4, 50, "10.1.1.1", A4);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_ipproto(&s, V4, 51, "10.1.1.1", A4);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_ipproto(&s, V4, 132, "10.1.1.1", A4);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_ipproto(&s, V4, 50, "192.168.1.1", A4);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_ipproto(&s, V6, 132, "fd00:1::9", A6);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_ipproto(&s, V6, 50, "fd00:1::9", A6);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_all_protocols(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_in(&p, "sg-a", -1, -1, -1, "192.168.0.0/16");
	tp_in(&p, "sg-a", 6, 22, 22, "10.0.0.0/8");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_tcp(&s, V4, "192.168.3.3", A4, 1, 65535, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "192.168.3.3", A4, 2, 0, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, "192.168.3.3", A4, 3, 9999);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_icmp(&s, V4, "192.168.3.3", A4, 13, 0, 4);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_ipproto(&s, V4, 47, "192.168.3.3", A4);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	/* 10/8 only has tcp 22. */
	th_tcp(&s, V4, "10.3.3.3", A4, 5, 22, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "10.3.3.3", A4, 6, 23, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_ipproto(&s, V4, 47, "10.3.3.3", A4);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	/* -1 with an IPv4 CIDR: not IPv6. */
	th_udp(&s, V6, "2001:db8::3", A6, 7, 9999);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_referenced_groups(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_in(&p, "sg-a", 6, 5432, 5432, "sg-b");
	tp_in(&p, "sg-a", 6, 9000, 9000, "sg-undefined");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	tp_group(&p, "sg-b");
	tp_endpoint(&p, "ns/b", "sg-b", B4 "," B6, NULL);
	tp_endpoint(&p, "ns/c", "sg-a", "10.0.0.12", NULL);
	tp_member(&p, "sg-b", "10.9.9.9,fd00:9::9");
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	/* Members of sg-b: endpoint b (both families) and the declared members. */
	th_tcp(&s, V4, B4, A4, 40000, 5432, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V6, B6, A6, 40000, 5432, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "10.9.9.9", A4, 40001, 5432, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V6, "fd00:9::9", A6, 40001, 5432, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	/* Not members: c is in sg-a, 10.9.9.8 is next door. */
	th_tcp(&s, V4, "10.0.0.12", A4, 40002, 5432, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_tcp(&s, V4, "10.9.9.8", A4, 40003, 5432, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_tcp(&s, V4, B4, A4, 40004, 5433, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	/* An undefined referenced group matches nobody. */
	th_tcp(&s, V4, B4, A4, 40005, 9000, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_prefix_lists(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	tp_init(&p);
	tp_plist(&p, "pl-v4", "10.5.0.0/16,172.16.1.0/24");
	tp_plist(&p, "pl-v6", "2001:db8:1::/48");
	tp_in(&p, "sg-a", 6, 22, 22, "pl-v4");
	tp_in(&p, "sg-a", 6, 22, 22, "pl-v6");
	tp_out(&p, "sg-a", 17, 53, 53, "pl-v4");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_tcp(&s, V4, "10.5.200.1", A4, 40000, 22, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "172.16.1.255", A4, 40001, 22, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "172.16.2.1", A4, 40002, 22, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_tcp(&s, V4, "10.6.0.1", A4, 40003, 22, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_tcp(&s, V6, "2001:db8:1:ffff::1", A6, 40004, 22, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V6, "2001:db8:2::1", A6, 40005, 22, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V4, A4, "10.5.0.2", 40006, 53);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, A4, "10.7.0.2", 40007, 53);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_union_and_no_inbound(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a, c;

	tp_init(&p);
	tp_in(&p, "sg-web", 6, 80, 80, "10.0.0.0/8");
	tp_in(&p, "sg-ssh", 6, 22, 22, "192.168.0.0/16");
	tp_endpoint(&p, "ns/a", "sg-web,sg-ssh", A4 "," A6, NULL);
	tp_out(&p, "sg-egress", -1, -1, -1, "0.0.0.0/0");
	tp_out(&p, "sg-egress", -1, -1, -1, "::/0");
	tp_endpoint(&p, "ns/c", "sg-egress", "10.0.0.12,fd00::12", NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	c = th_ep(&t, "ns/c");

	th_tcp(&s, V4, "10.1.1.1", A4, 40000, 80, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "192.168.1.1", A4, 40001, 22, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	/* No cross product: 80 only from 10/8, 22 only from 192.168/16. */
	th_tcp(&s, V4, "192.168.1.1", A4, 40002, 80, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_tcp(&s, V4, "10.1.1.1", A4, 40003, 22, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);

	/* c has no inbound rules: no new inbound flow of any kind (spec 2.2). */
	th_tcp(&s, V4, "10.1.1.1", "10.0.0.12", 40004, 80, SG_TCP_SYN);
	TH_DROP(&t, c, IN, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V6, "2001:db8::1", "fd00::12", 40005, 53);
	TH_DROP(&t, c, IN, &s, SGBPF_DROP_NO_RULE);
	th_icmp(&s, V4, "10.1.1.1", "10.0.0.12", 8, 0, 9);
	TH_DROP(&t, c, IN, &s, SGBPF_DROP_NO_RULE);
	th_ipproto(&s, V4, 50, "10.1.1.1", "10.0.0.12");
	TH_DROP(&t, c, IN, &s, SGBPF_DROP_NO_RULE);
	/* ... while its outbound is open. */
	th_udp(&s, V6, "fd00::12", "2001:db8::1", 40006, 53);
	TH_ALLOW(&t, c, OUT, &s, SGBPF_ALLOW_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

/* The fixture under tests/fixtures/bpf/basic, read by the real parser. */
static void test_fixture_policy(void)
{
	struct sg_policy p;
	struct sg_diags d;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t web, db;
	int err;

	sg_policy_init(&p);
	sg_diags_init(&d);
	err = sg_policy_load_dir(&p, sgt_fixture("bpf/basic"), &d);
	if (err)
		sg_diags_print(&d, stderr);
	sg_diags_free(&d);
	CU_ASSERT_EQUAL_FATAL(err, 0);
	TH_SETUP(t, p);
	web = th_ep(&t, "default/web-0");
	db = th_ep(&t, "default/db-0");

	th_tcp(&s, V4, "10.0.9.9", "10.0.1.23", 40000, 80, SG_TCP_SYN);
	TH_ALLOW(&t, web, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V6, "fd00:20::50", "fd00:10::23", 40000, 80, SG_TCP_SYN);
	TH_ALLOW(&t, web, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "172.31.0.1", "10.0.1.23", 40001, 80, SG_TCP_SYN);
	TH_DROP(&t, web, IN, &s, SGBPF_DROP_NO_RULE);
	/* web -> db: web's egress to sg-db, db's ingress from sg-web. */
	th_tcp(&s, V4, "10.0.1.23", "10.0.1.24", 40002, 5432, SG_TCP_SYN);
	TH_ALLOW(&t, web, OUT, &s, SGBPF_ALLOW_RULE);
	TH_ALLOW(&t, db, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "10.0.1.25", "10.0.1.24", 40003, 5432, SG_TCP_SYN);
	TH_DROP(&t, db, IN, &s, SGBPF_DROP_NO_RULE);
	/* Prefix list pl-dns (10.0.0.2/32): web may resolve. */
	th_udp(&s, V4, "10.0.1.23", "10.0.0.2", 40004, 53);
	TH_ALLOW(&t, web, OUT, &s, -1);
	th_udp(&s, V4, "10.0.1.23", "10.0.0.3", 40005, 53);
	TH_DROP(&t, web, OUT, &s, SGBPF_DROP_NO_RULE);
	/* db has no egress rules (describe-security-group-rules document). */
	th_tcp(&s, V4, "10.0.1.24", "10.0.9.9", 40006, 443, SG_TCP_SYN);
	TH_DROP(&t, db, OUT, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

/* A POD_FACING interface (host side of the veth, untagged): RX = outbound. */
static void test_pod_facing_role(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th_res r;
	struct th t;
	uint8_t buf[SG_PKT_MAX];
	uint32_t a;
	int n;

	tp_init(&p);
	tp_out(&p, "sg-a", 6, 443, 443, "0.0.0.0/0");
	tp_in(&p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	CU_ASSERT_EQUAL(sgbpf_iface_set(t.h, 1, 0, a, SGBPF_ROLE_POD_FACING), 0);
	CU_ASSERT_EQUAL(sgbpf_iface_set(t.shadow, 1, 0, a, SGBPF_ROLE_POD_FACING), 0);

	/* Received from the pod (TC ingress / XDP): judged as outbound. */
	th_tcp(&s, V4, A4, "198.51.100.1", 40000, 443, SG_TCP_SYN);
	n = sg_pkt_build(&s, buf, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(th_run_frame(&t, SGBPF_PROG_TC_INGRESS, buf, (size_t)n, &r), 0);
	CU_ASSERT_TRUE(r.pass);
	CU_ASSERT_TRUE(r.has_ev && r.ev.dir == OUT && r.ev.reason == SGBPF_ALLOW_RULE);
	/* Spoofed source from the pod: dropped. */
	th_tcp(&s, V4, "10.0.0.99", "198.51.100.1", 40001, 443, SG_TCP_SYN);
	n = sg_pkt_build(&s, buf, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(th_run_frame(&t, SGBPF_PROG_TC_INGRESS, buf, (size_t)n, &r), 0);
	CU_ASSERT_FALSE(r.pass);
	CU_ASSERT_TRUE(r.has_ev && r.ev.reason == SGBPF_DROP_SPOOF_SRC);
	/* Sent to the pod (TC egress): inbound. */
	th_tcp(&s, V4, "10.1.1.1", A4, 40002, 80, SG_TCP_SYN);
	n = sg_pkt_build(&s, buf, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(th_run_frame(&t, SGBPF_PROG_TC_EGRESS, buf, (size_t)n, &r), 0);
	CU_ASSERT_TRUE(r.pass);
	CU_ASSERT_TRUE(r.has_ev && r.ev.dir == IN && r.ev.reason == SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "10.1.1.1", A4, 40003, 81, SG_TCP_SYN);
	n = sg_pkt_build(&s, buf, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(th_run_frame(&t, SGBPF_PROG_TC_EGRESS, buf, (size_t)n, &r), 0);
	CU_ASSERT_FALSE(r.pass);
	/* The reply of the outbound flow comes back through TC egress. */
	th_tcp(&s, V4, "198.51.100.1", A4, 443, 40000, SG_TCP_SYN | SG_TCP_ACK);
	n = sg_pkt_build(&s, buf, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(th_run_frame(&t, SGBPF_PROG_TC_EGRESS, buf, (size_t)n, &r), 0);
	CU_ASSERT_TRUE(r.pass);
	CU_ASSERT_TRUE(r.has_ev && r.ev.reason == SGBPF_ALLOW_TRACKED);
	th_close(&t);
	sg_policy_free(&p);
}

static CU_TestInfo rules_tests[] = {
	{ "inbound_port_and_remote", test_inbound_port_and_remote },
	{ "outbound_dest_port", test_outbound_dest_port },
	{ "per_family", test_per_family },
	{ "icmp_vs_icmpv6", test_icmp_vs_icmpv6 },
	{ "icmp_type_code", test_icmp_type_code },
	{ "protocol_numbers", test_protocol_numbers },
	{ "all_protocols", test_all_protocols },
	{ "referenced_groups", test_referenced_groups },
	{ "prefix_lists", test_prefix_lists },
	{ "union_and_no_inbound", test_union_and_no_inbound },
	{ "fixture_policy", test_fixture_policy },
	{ "pod_facing_role", test_pod_facing_role },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-rules", NULL, NULL, rules_tests);
