// SPDX-License-Identifier: BSD-2-Clause
/*
 * Source/destination check (spec 4.3, 6.3) and always-allowed traffic (spec
 * 4.1, 4.2): spoofed source address or MAC, wrong destination, forged
 * replies that must neither reach nor plant another pod's conntrack
 * entries; ARP, neighbour discovery, the exempt list, DHCP.
 */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "../lib/testlib.h"

#define MAC_A "0a:00:00:00:00:0a"

static void two_pods(struct sg_policy *p)
{
	tp_init(p);
	tp_in(p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_out(p, "sg-a", 17, 53, 53, "0.0.0.0/0");
	tp_out(p, "sg-a", 6, 443, 443, "::/0");
	tp_endpoint(p, "ns/a", "sg-a", A4 "," A6, MAC_A);
	tp_out(p, "sg-b", 17, 53, 53, "10.0.0.0/8");
	tp_endpoint(p, "ns/b", "sg-b", B4 "," B6, NULL);
}

static void set_mac(struct sg_pkt_spec *s, const uint8_t mac[6])
{
	memcpy(s->src_mac, mac, 6);
}

static const uint8_t mac_a[6] = { 0x0a, 0, 0, 0, 0, 0x0a };

static void test_spoofed_source(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a, b;

	two_pods(&p);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	b = th_ep(&t, "ns/b");

	th_udp(&s, V4, A4, "10.1.1.1", 33000, 53);
	set_mac(&s, mac_a);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, "10.0.0.99", "10.1.1.1", 33000, 53);
	set_mac(&s, mac_a);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	/* Another pod's address is not this pod's. */
	th_udp(&s, V4, B4, "10.1.1.1", 33000, 53);
	set_mac(&s, mac_a);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	th_udp(&s, V4, A4, "10.1.1.1", 33000, 53);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	th_tcp(&s, V6, "fd00::99", "2001:db8::1", 40000, 443, SG_TCP_SYN);
	set_mac(&s, mac_a);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	/* Spoofing to an exempt address is still spoofing (checked first). */
	th_tcp(&s, V4, "10.0.0.99", "169.254.169.254", 40000, 80, SG_TCP_SYN);
	set_mac(&s, mac_a);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_spoofed_mac(void)
{
	static const uint8_t other[6] = { 0x0a, 0, 0, 0, 0, 0x0b };
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a, b;

	two_pods(&p);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	b = th_ep(&t, "ns/b");
	CU_ASSERT_TRUE(t.comp.endpoints[0].val.flags & SGBPF_EP_HAS_MAC);

	th_tcp(&s, V6, A6, "2001:db8::1", 40000, 443, SG_TCP_SYN);
	set_mac(&s, other);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_SPOOF_MAC);
	set_mac(&s, mac_a);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	/* b has no MAC on record: any source MAC. */
	th_udp(&s, V4, B4, "10.1.1.1", 33000, 53);
	set_mac(&s, other);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_RULE);
	/* Inbound frames are not subject to the source-MAC check. */
	th_tcp(&s, V4, "10.1.1.1", A4, 40000, 80, SG_TCP_SYN);
	set_mac(&s, other);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_wrong_destination(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	two_pods(&p);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_tcp(&s, V4, "10.1.1.1", "10.0.0.99", 40000, 80, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_WRONG_DST);
	th_tcp(&s, V4, "10.1.1.1", B4, 40000, 80, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_WRONG_DST);
	th_tcp(&s, V6, "fd00:1::1", B6, 40000, 80, SG_TCP_SYN);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_WRONG_DST);
	/* From an exempt address, still to the wrong pod. */
	th_udp(&s, V4, "169.254.169.254", "10.0.0.99", 80, 40000);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_WRONG_DST);
	th_close(&t);
	sg_policy_free(&p);
}

/* Spec 6.3: forged packets can't reach or plant another pod's entries. */
static void test_no_conntrack_poisoning(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct sgbpf_ct_key k;
	struct th t;
	uint32_t a, b;
	size_t before;

	two_pods(&p);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	b = th_ep(&t, "ns/b");

	/* a has a tracked inbound flow 10.1.1.1:40000 -> a:80. */
	th_tcp(&s, V4, "10.1.1.1", A4, 40000, 80, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	before = th_ct_count(&t, SGBPF_MAP_CT_NEW) + th_ct_count(&t, SGBPF_MAP_CT_EST);
	/* b forges a's reply: dropped before conntrack, entry untouched. */
	th_tcp(&s, V4, A4, "10.1.1.1", 80, 40000, SG_TCP_SYN | SG_TCP_ACK);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	th_ct_key(&k, a, V4, 6, A4, "10.1.1.1", 80, 40000);
	{
		struct sgbpf_ct_val v;

		CU_ASSERT_NOT_EQUAL(th_ct_find(&t, &k, &v), TH_CT_NONE);
		CU_ASSERT_EQUAL(v.state, SGBPF_CT_SYN_SENT);
		CU_ASSERT_EQUAL(v.packets[OUT], 0);
	}
	/* A frame on b's interface addressed to a: wrong destination, even
	 * though it would be a tracked packet of a's flow. */
	th_tcp(&s, V4, "10.1.1.1", A4, 40000, 80, SG_TCP_ACK);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_WRONG_DST);

	/* b forges an outbound flow as a (a may send UDP 53 anywhere). */
	th_udp(&s, V4, A4, "192.168.1.1", 7777, 53);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW) + th_ct_count(&t, SGBPF_MAP_CT_EST),
			before);
	/* ... so the "reply" finds nothing planted. */
	th_udp(&s, V4, "192.168.1.1", A4, 53, 7777);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_NO_RULE);
	/* Entries are per endpoint: b's own DNS flow does not open a to the reply. */
	th_udp(&s, V4, B4, "10.1.1.1", 7000, 53);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_RULE);
	th_ct_key(&k, b, V4, 17, B4, "10.1.1.1", 7000, 53);
	CU_ASSERT_NOT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_NONE);
	th_ct_key(&k, a, V4, 17, B4, "10.1.1.1", 7000, 53);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_NONE);
	th_udp(&s, V4, "10.1.1.1", B4, 53, 7000);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_WRONG_DST);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_TRACKED);
	th_close(&t);
	sg_policy_free(&p);
}

static int arp_frame(uint8_t *f, uint16_t vlan)
{
	static const uint8_t hdr[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0a, 0, 0, 0, 0, 0x0a,
		0x81, 0x00, 0x00, 0x00, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,           /* request */
		0x0a, 0, 0, 0, 0, 0x0a, 10, 0, 0, 10,              /* sender  */
		0, 0, 0, 0, 0, 0, 10, 0, 0, 1,                     /* target  */
	};

	memcpy(f, hdr, sizeof(hdr));
	f[14] = (uint8_t)(vlan >> 8);
	f[15] = (uint8_t)vlan;
	return (int)sizeof(hdr);
}

static void test_arp_and_nd(void)
{
	static const int nd[] = { 133, 134, 135, 136, 137 };
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th_res r;
	struct th t;
	uint8_t f[64];
	uint32_t c;
	int n;

	/* An endpoint with no rules at all. */
	tp_init(&p);
	tp_group(&p, "sg-none");
	tp_endpoint(&p, "ns/c", "sg-none", "10.0.0.12,fd00::12", NULL);
	TH_SETUP(t, p);
	c = th_ep(&t, "ns/c");

	n = arp_frame(f, (uint16_t)(c + 1));
	CU_ASSERT_EQUAL(th_run_frame(&t, SGBPF_PROG_TC_INGRESS, f, (size_t)n, &r), 0);
	CU_ASSERT_TRUE(r.pass);
	CU_ASSERT_TRUE(r.has_ev && r.ev.reason == SGBPF_ALLOW_NEIGH);
	CU_ASSERT_EQUAL(th_run_frame(&t, SGBPF_PROG_TC_EGRESS, f, (size_t)n, &r), 0);
	CU_ASSERT_TRUE(r.pass);

	for (size_t i = 0; i < sizeof(nd) / sizeof(nd[0]); i++) {
		th_icmp(&s, V6, "fe80::1", "ff02::1:ff00:12", (uint8_t)nd[i], 0, 0);
		s.ttl = 255;
		TH_ALLOW(&t, c, IN, &s, SGBPF_ALLOW_NEIGH);
		th_icmp(&s, V6, "fe80::12", "ff02::2", (uint8_t)nd[i], 0, 0);
		s.ttl = 255;
		/* A pod is no router: no RA, no redirect. */
		if (nd[i] == 134 || nd[i] == 137)
			TH_DROP(&t, c, OUT, &s, SGBPF_DROP_ND_INVALID);
		else
			TH_ALLOW(&t, c, OUT, &s, SGBPF_ALLOW_NEIGH);
	}
	/* 138 (router renumbering) and echo are ordinary ICMPv6. */
	th_icmp(&s, V6, "fd00:1::1", "fd00::12", 138, 0, 0);
	TH_DROP(&t, c, IN, &s, SGBPF_DROP_NO_RULE);
	th_icmp(&s, V6, "fd00:1::1", "fd00::12", 128, 0, 1);
	TH_DROP(&t, c, IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_exempt_defaults(void)
{
	static const char *const v4[] = { "169.254.169.254", "169.254.169.123", "169.254.170.2",
					  "10.0.0.2", "10.0.0.1" };
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t c;

	tp_init(&p);
	tp_group(&p, "sg-none");
	tp_endpoint(&p, "ns/c", "sg-none", "10.0.5.12,fd00::12", NULL);
	p.node.vpc_cidrs = calloc(1, sizeof(*p.node.vpc_cidrs));
	p.node.vpc_cidrs[0] = tp_cidr("10.0.0.0/16");
	p.node.n_vpc_cidrs = 1;
	TH_SETUP(t, p);
	c = th_ep(&t, "ns/c");

	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		th_tcp(&s, V4, "10.0.5.12", v4[i], 40000, 80, SG_TCP_SYN);
		TH_ALLOW(&t, c, OUT, &s, SGBPF_ALLOW_EXEMPT);
		/* The reply belongs to the flow the pod opened. */
		th_tcp(&s, V4, v4[i], "10.0.5.12", 80, 40000, SG_TCP_SYN | SG_TCP_ACK);
		TH_ALLOW(&t, c, IN, &s, SGBPF_ALLOW_TRACKED);
		/* A flow the exempt address opens is judged by the rules. */
		th_tcp(&s, V4, v4[i], "10.0.5.12", 80, 40001, SG_TCP_SYN);
		TH_DROP(&t, c, IN, &s, SGBPF_DROP_NO_RULE);
	}
	th_udp(&s, V6, "fd00::12", "fd00:ec2::254", 40000, 80);
	TH_ALLOW(&t, c, OUT, &s, SGBPF_ALLOW_EXEMPT);
	/* Neighbours of exempt addresses are filtered. */
	th_tcp(&s, V4, "10.0.5.12", "169.254.169.1", 40000, 80, SG_TCP_SYN);
	TH_DROP(&t, c, OUT, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V4, "10.0.5.12", "10.0.0.4", 40000, 53);
	TH_DROP(&t, c, OUT, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V6, "fd00::12", "fd00:ec2::255", 40000, 80);
	TH_DROP(&t, c, OUT, &s, SGBPF_DROP_NO_RULE);
	/* One entry per exempt flow the pod opened (5 TCP, 1 UDP), none for
	 * what was dropped. */
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW) + th_ct_count(&t, SGBPF_MAP_CT_EST), 6);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_exempt_list_replaced(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t c;

	tp_init(&p);
	tp_group(&p, "sg-none");
	tp_endpoint(&p, "ns/c", "sg-none", "10.0.5.12,fd00::12", NULL);
	tp_exempt(&p, "192.0.2.0/24,2001:db8:e::/48");
	TH_SETUP(t, p);
	c = th_ep(&t, "ns/c");

	th_udp(&s, V4, "10.0.5.12", "192.0.2.77", 40000, 9);
	TH_ALLOW(&t, c, OUT, &s, SGBPF_ALLOW_EXEMPT);
	/* Inbound from an exempt address is not exempt (it has no flow). */
	th_udp(&s, V6, "2001:db8:e:1::1", "fd00::12", 9, 40000);
	TH_DROP(&t, c, IN, &s, SGBPF_DROP_NO_RULE);
	th_tcp(&s, V4, "10.0.5.12", "169.254.169.254", 40000, 80, SG_TCP_SYN);
	TH_DROP(&t, c, OUT, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_dhcp(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t c;

	tp_init(&p);
	tp_group(&p, "sg-none");
	tp_endpoint(&p, "ns/c", "sg-none", "10.0.5.12,fd00::12", NULL);
	tp_exempt(&p, "");
	/* The DHCP server is the node (a relay there, or the VPC router's
	 * stand-in): the exemption covers DHCP with servers on the link. */
	p.node.addrs = calloc(1, sizeof(*p.node.addrs));
	p.node.addrs[0] = tp_addr("10.0.0.1");
	p.node.n_addrs = 1;
	TH_SETUP(t, p);
	c = th_ep(&t, "ns/c");

	/* DISCOVER from 0.0.0.0 (before the pod has its address), OFFER back. */
	th_udp(&s, V4, "0.0.0.0", "255.255.255.255", 68, 67);
	TH_ALLOW(&t, c, OUT, &s, SGBPF_ALLOW_EXEMPT);
	th_udp(&s, V4, "10.0.5.12", "10.0.0.1", 68, 67);
	TH_ALLOW(&t, c, OUT, &s, SGBPF_ALLOW_EXEMPT);
	th_udp(&s, V4, "10.0.0.1", "10.0.5.12", 67, 68);
	TH_ALLOW(&t, c, IN, &s, SGBPF_ALLOW_EXEMPT);
	/* Other ports from 0.0.0.0 are spoofed. */
	th_udp(&s, V4, "0.0.0.0", "255.255.255.255", 68, 53);
	TH_DROP(&t, c, OUT, &s, SGBPF_DROP_SPOOF_SRC);

	/* exemptDhcp off: judged like anything else. */
	p.node.exempt_dhcp = false;
	CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p), 0);
	th_udp(&s, V4, "10.0.5.12", "10.0.0.1", 68, 67);
	TH_DROP(&t, c, OUT, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V4, "10.0.0.1", "10.0.5.12", 67, 68);
	TH_DROP(&t, c, IN, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

static CU_TestInfo srcdst_tests[] = {
	{ "spoofed_source", test_spoofed_source },
	{ "spoofed_mac", test_spoofed_mac },
	{ "wrong_destination", test_wrong_destination },
	{ "no_conntrack_poisoning", test_no_conntrack_poisoning },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo exempt_tests[] = {
	{ "arp_and_nd", test_arp_and_nd },
	{ "exempt_defaults", test_exempt_defaults },
	{ "exempt_list_replaced", test_exempt_list_replaced },
	{ "dhcp", test_dhcp },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-srcdst", NULL, NULL, srcdst_tests);
SGT_SUITE("bpf-exempt", NULL, NULL, exempt_tests);
