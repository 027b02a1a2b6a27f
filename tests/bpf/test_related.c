// SPDX-License-Identifier: BSD-2-Clause
/*
 * ICMP/ICMPv6 errors about tracked flows (spec 3.6) and IPv4/IPv6
 * fragments (spec 3.7).
 */
#include <CUnit/CUnit.h>

#include "harness.h"
#include "../lib/testlib.h"

#define SRV4 "203.0.113.5"
#define SRV6 "2001:db8::5"
#define RTR4 "198.51.100.1"
#define RTR6 "2001:db8:ffff::1"

/* An unrelated error is dropped; which reason says so is the datapath's. */
static void expect_unrelated_drop(struct th *t, uint32_t ep, enum sgbpf_dir dir,
				  struct sg_pkt_spec *s)
{
	struct th_res r = TH_DROP(t, ep, dir, s, -1);

	th_check(r.has_ev && (r.ev.reason == SGBPF_DROP_ICMP_UNRELATED ||
			      r.ev.reason == SGBPF_DROP_NO_RULE),
		 "unrelated ICMP error: drop reason %u, expected icmp-unrelated or no-rule",
		 r.ev.reason);
}

static void related_policy(struct sg_policy *p)
{
	tp_init(p);
	tp_out(p, "sg-a", 6, 443, 443, "0.0.0.0/0");
	tp_out(p, "sg-a", 17, 443, 443, "::/0");
	tp_in(p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_endpoint(p, "ns/a", "sg-a", A4 "," A6, NULL);
}

static void test_frag_needed_and_ptb(void)
{
	struct sg_policy p;
	struct sg_pkt_spec in, s;
	struct th t;
	uint32_t a;

	related_policy(&p);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	/* Outbound TCP flow, then "fragmentation needed" from a router. */
	th_tcp(&in, V4, A4, SRV4, 40000, 443, SG_TCP_SYN);
	TH_ALLOW(&t, a, OUT, &in, SGBPF_ALLOW_RULE);
	in.payload_len = 1400;
	th_icmp(&s, V4, RTR4, A4, 3, 4, 0);
	s.icmp_seq = 1300;
	s.inner = &in;
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RELATED);
	/* Time exceeded about the same flow: related too. */
	s.icmp_type = 11;
	s.icmp_code = 0;
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RELATED);
	/* About a flow that was never seen (other source port): denied. */
	in.sport = 40001;
	s.icmp_type = 3;
	s.icmp_code = 4;
	expect_unrelated_drop(&t, a, IN, &s);

	/* IPv6: UDP flow out, packet too big back. */
	th_udp(&in, V6, A6, SRV6, 33000, 443);
	TH_ALLOW(&t, a, OUT, &in, SGBPF_ALLOW_RULE);
	th_icmp(&s, V6, RTR6, A6, 2, 0, 0);
	s.icmp_seq = 1280;
	s.inner = &in;
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RELATED);
	in.dport = 444;
	expect_unrelated_drop(&t, a, IN, &s);

	/* An inbound flow; the pod reports an error about it (outbound). */
	th_tcp(&in, V4, "10.1.1.1", A4, 40002, 80, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &in, SGBPF_ALLOW_RULE);
	th_icmp(&s, V4, A4, "10.1.1.1", 3, 3, 0);
	s.inner = &in;
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RELATED);
	in.sport = 40003;
	expect_unrelated_drop(&t, a, OUT, &s);
	th_close(&t);
	sg_policy_free(&p);
}

/* Option off (EC2's own behaviour): errors are judged by the rules. */
static void test_related_option_off(void)
{
	struct sg_policy p;
	struct sg_pkt_spec in, s;
	struct th t;
	uint32_t a;

	related_policy(&p);
	p.node.icmp_related = false;
	tp_in(&p, "sg-a", 1, 3, 4, "198.51.100.0/24");
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	CU_ASSERT_FALSE(t.comp.config.flags & SGBPF_CFG_ICMP_RELATED);

	th_tcp(&in, V4, A4, SRV4, 40000, 443, SG_TCP_SYN);
	TH_ALLOW(&t, a, OUT, &in, SGBPF_ALLOW_RULE);
	th_icmp(&s, V4, RTR4, A4, 3, 4, 0);
	s.inner = &in;
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE); /* by the explicit icmp 3/4 rule */
	th_icmp(&s, V4, "192.0.2.1", A4, 3, 4, 0);
	s.inner = &in;
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_icmp(&s, V4, RTR4, A4, 11, 0, 0);
	s.inner = &in;
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void frag_policy(struct sg_policy *p)
{
	tp_init(p);
	tp_in(p, "sg-a", 17, 5000, 5000, "10.0.0.0/8");
	tp_in(p, "sg-a", 17, 5000, 5000, "fd00::/8");
	tp_out(p, "sg-a", 17, 53, 53, "10.0.0.2/32");
	tp_endpoint(p, "ns/a", "sg-a", A4 "," A6, NULL);
}

static void frag(struct sg_pkt_spec *s, uint8_t fam, const char *src, const char *dst,
		 uint16_t dport, uint32_t id, uint16_t off, bool more)
{
	th_udp(s, fam, src, dst, 40000, dport);
	s->ip_id = id;
	s->frag_offset = off;
	s->more_frags = more;
	s->payload_len = 64;
}

static void test_fragments_follow_first(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct sgbpf_ep_stats st;
	struct th t;
	uint32_t a;

	frag_policy(&p);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	frag(&s, V4, "10.1.1.1", A4, 5000, 77, 0, true);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	frag(&s, V4, "10.1.1.1", A4, 5000, 77, 72, true);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_FRAG);
	frag(&s, V4, "10.1.1.1", A4, 5000, 77, 144, false);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_FRAG);

	/* A denied first fragment: its followers are denied too. */
	frag(&s, V4, "10.1.1.1", A4, 5001, 78, 0, true);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	frag(&s, V4, "10.1.1.1", A4, 5001, 78, 72, false);
	TH_DROP(&t, a, IN, &s, -1);

	/* Unknown: no first fragment with this (src, dst, proto, id). */
	frag(&s, V4, "10.1.1.1", A4, 5000, 79, 72, false);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_FRAG_UNKNOWN);
	frag(&s, V4, "10.1.1.2", A4, 5000, 77, 72, false);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_FRAG_UNKNOWN);
	th_ep_stats(&t, a, &st);
	CU_ASSERT_EQUAL(st.drops_by_reason[SGBPF_DROP_FRAG_UNKNOWN], 2);

	/* Fragments of a tracked reply follow it. */
	th_udp(&s, V4, A4, "10.0.0.2", 33000, 53);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, "10.0.0.2", A4, 53, 33000);
	s.ip_id = 500;
	s.more_frags = true;
	s.payload_len = 64;
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	s.frag_offset = 72;
	s.more_frags = false;
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_FRAG);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_ipv6_fragments(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	frag_policy(&p);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	frag(&s, V6, "fd00:1::1", A6, 5000, 0x10001, 0, true);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	frag(&s, V6, "fd00:1::1", A6, 5000, 0x10001, 72, false);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_FRAG);
	frag(&s, V6, "fd00:1::1", A6, 5000, 0x10002, 72, false);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_FRAG_UNKNOWN);
	frag(&s, V6, "2001:db8::1", A6, 5000, 0x10003, 0, true);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	frag(&s, V6, "2001:db8::1", A6, 5000, 0x10003, 72, false);
	TH_DROP(&t, a, IN, &s, -1);
	th_close(&t);
	sg_policy_free(&p);
}

static CU_TestInfo related_tests[] = {
	{ "frag_needed_and_ptb", test_frag_needed_and_ptb },
	{ "related_option_off", test_related_option_off },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo frag_tests[] = {
	{ "fragments_follow_first", test_fragments_follow_first },
	{ "ipv6_fragments", test_ipv6_fragments },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-icmp-related", NULL, NULL, related_tests);
SGT_SUITE("bpf-frags", NULL, NULL, frag_tests);
