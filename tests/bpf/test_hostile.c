// SPDX-License-Identifier: BSD-2-Clause
/*
 * Hostile traffic from the security review of the datapath: one test per
 * finding, each a reproducer that the old datapath let through and the
 * fixed one refuses, plus the legitimate traffic next to it that must still
 * pass (so a fix that just drops everything fails too).
 *
 *   1 neighbour discovery: only after the source check, hop limit 255,
 *     on-link addresses, no RA/redirect from a pod
 *   2 DHCP: only with a server on the link
 *   3 ICMP errors: outer destination = embedded source
 *   5 mid-stream pickups unconfirmed; replies of untracked flows untracked
 *   6 exempt list: outbound only, tracked
 *   7 blind RST: sequence number must be plausible
 *   9 struct sg_pkt 8-byte aligned (word copies of its addresses)
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "../lib/testlib.h"

/* bpf/parse.h in userspace, for its struct's layout (finding 9). */
#define bpf_ntohs(x) ntohs(x)
#define bpf_ntohl(x) ntohl(x)
#define bpf_htons(x) htons(x)
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#include "../../bpf/parse.h"
#pragma GCC diagnostic pop

#define REMOTE4 "10.9.9.5"
#define INET4   "203.0.113.66"
#define INET6   "2001:db8::66"
#define RTR4    "198.51.100.1"
#define NODE6   "fd00:ff::1"

#define SEC_NS 1000000000ull

/* ep a: A4/A6; ep b: B4/B6 plus a second IPv4 address, may only send
 * TCP/443 to REMOTE4; the node owns NODE6. */
static void base_policy(struct sg_policy *p)
{
	tp_init(p);
	tp_in(p, "sg-a", 6, 443, 443, "0.0.0.0/0");
	tp_out(p, "sg-a", -1, -1, -1, "0.0.0.0/0");
	tp_endpoint(p, "ns/a", "sg-a", A4 "," A6, NULL);
	tp_out(p, "sg-b", 6, 443, 443, REMOTE4 "/32");
	tp_endpoint(p, "ns/b", "sg-b", B4 ",10.0.0.21," B6, NULL);
	p->node.addrs = calloc(1, sizeof(*p->node.addrs));
	p->node.addrs[0] = tp_addr(NODE6);
	p->node.n_addrs = 1;
}

static void nd(struct sg_pkt_spec *s, const char *src, const char *dst, uint8_t type,
	       uint8_t hop)
{
	th_icmp(s, V6, src, dst, type, 0, 0);
	s->ttl = hop;
}

/* Finding 1: ND was allowed before the source check, from any address,
 * with any hop limit: a covert channel past every rule. */
static void test_nd_after_source_check(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t b;

	base_policy(&p);
	TH_SETUP(t, p);
	b = th_ep(&t, "ns/b");

	/* Another pod's address, a global destination. */
	nd(&s, A6, INET6, 135, 255);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	/* Its own address, but off the link. */
	nd(&s, B6, INET6, 135, 255);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_ND_INVALID);
	/* A 1000-byte "redirect" from the internet (routed: hop limit < 255). */
	nd(&s, INET6, B6, 137, 64);
	s.payload_len = 1000;
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_ND_INVALID);
	nd(&s, INET6, B6, 136, 255);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_ND_INVALID);
	/* Link-local but routed. */
	nd(&s, "fe80::1", "ff02::1:ff00:11", 135, 254);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_ND_INVALID);
	/* A pod is no router. */
	nd(&s, "fe80::11", "ff02::1", 134, 255);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_ND_INVALID);
	nd(&s, "fe80::11", "fe80::1", 137, 255);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_ND_INVALID);
	/* Only RS and DAD come from ::. */
	nd(&s, "::", "ff02::1", 136, 255);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	/* Inbound to someone else's global address. */
	nd(&s, "fe80::1", A6, 135, 255);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_WRONG_DST);

	/* Real ND still passes, whatever the rules. */
	nd(&s, "fe80::11", "ff02::1:ff00:1", 135, 255);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_NEIGH);
	nd(&s, "::", "ff02::1:ff00:11", 135, 255);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_NEIGH);
	nd(&s, "fe80::11", "ff02::2", 133, 255);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_NEIGH);
	nd(&s, B6, "fe80::1", 136, 255);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_NEIGH);
	nd(&s, B6, NODE6, 136, 255);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_NEIGH);
	nd(&s, "fe80::1", "ff02::1:ff00:11", 135, 255);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_NEIGH);
	nd(&s, NODE6, B6, 135, 255);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_NEIGH);
	nd(&s, "fe80::1", "ff02::1", 134, 255);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_NEIGH);
	nd(&s, "::", "ff02::1:ff00:11", 135, 255);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_NEIGH);

	/* An endpoint without its policy fails closed for ND too. */
	CU_ASSERT_EQUAL_FATAL(sgbpf_iface_set(t.h, 1, 100, 99, SGBPF_ROLE_NET_FACING), 0);
	CU_ASSERT_EQUAL_FATAL(sgbpf_iface_set(t.shadow, 1, 100, 99, SGBPF_ROLE_NET_FACING), 0);
	nd(&s, "fe80::1", "ff02::1", 135, 255);
	TH_DROP(&t, 99, IN, &s, SGBPF_DROP_NO_POLICY);
	th_close(&t);
	sg_policy_free(&p);
}

/* Finding 2: UDP 68->67 / 67->68 was exempt to and from anywhere. */
static void test_dhcp_only_on_link(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t b;

	base_policy(&p);
	TH_SETUP(t, p);
	b = th_ep(&t, "ns/b");
	CU_ASSERT_TRUE(t.comp.config.flags & SGBPF_CFG_EXEMPT_DHCP);

	th_udp(&s, V4, B4, INET4, 68, 67);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V4, INET4, B4, 67, 68);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_NO_RULE);
	/* Not a client's address: 255.255.255.255 is no source. */
	th_udp(&s, V4, "255.255.255.255", INET4, 68, 67);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	th_udp(&s, V4, "255.255.255.255", "255.255.255.255", 68, 67);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	th_udp(&s, V4, "0.0.0.0", INET4, 68, 67);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_SPOOF_SRC);
	th_udp(&s, V4, INET4, "255.255.255.255", 67, 68);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_WRONG_DST);
	th_udp(&s, V6, B6, INET6, 546, 547);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V6, INET6, B6, 547, 546);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V6, "fe80::11", "ff02::1:3", 546, 547);
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_SPOOF_SRC);

	/* DHCP with the link's server. */
	th_udp(&s, V4, "0.0.0.0", "255.255.255.255", 68, 67);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_EXEMPT);
	th_udp(&s, V4, "169.254.1.1", "255.255.255.255", 67, 68);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_EXEMPT);
	th_udp(&s, V4, B4, "255.255.255.255", 68, 67);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_EXEMPT);
	th_udp(&s, V6, "fe80::11", "ff02::1:2", 546, 547);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_EXEMPT);
	th_udp(&s, V6, "fe80::1", "fe80::11", 547, 546);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_EXEMPT);
	th_udp(&s, V6, "fe80::1", B6, 547, 546);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_EXEMPT);
	/* None of it left conntrack state. */
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW) + th_ct_count(&t, SGBPF_MAP_CT_EST), 0);
	th_close(&t);
	sg_policy_free(&p);
}

/* Finding 3: an ICMP error quoting a tracked flow went anywhere. */
static void test_icmp_error_outer_addresses(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s, in;
	struct th t;
	uint32_t b;

	base_policy(&p);
	TH_SETUP(t, p);
	b = th_ep(&t, "ns/b");

	th_tcp(&s, V4, B4, REMOTE4, 40000, 443, SG_TCP_SYN);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_RULE);

	/* Outbound: an error about the remote's packet, sent elsewhere. */
	th_tcp(&in, V4, REMOTE4, B4, 443, 40000, SG_TCP_ACK);
	in.payload_len = 1000;
	th_icmp(&s, V4, B4, INET4, 3, 3, 0);
	s.inner = &in;
	TH_DROP(&t, b, OUT, &s, SGBPF_DROP_ICMP_UNRELATED);
	/* ... and to the remote itself: related. */
	th_icmp(&s, V4, B4, REMOTE4, 3, 3, 0);
	s.inner = &in;
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_RELATED);

	/* Inbound: from a router on the path, about the pod's packet: fine. */
	th_tcp(&in, V4, B4, REMOTE4, 40000, 443, SG_TCP_SYN);
	th_icmp(&s, V4, RTR4, B4, 3, 4, 0);
	s.inner = &in;
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_RELATED);
	/* ... but delivered to another address of the pod than the one that
	 * sent the quoted packet. */
	th_icmp(&s, V4, RTR4, "10.0.0.21", 3, 4, 0);
	s.inner = &in;
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_ICMP_UNRELATED);
	th_close(&t);
	sg_policy_free(&p);
}

/* Finding 5a: one non-SYN packet made a never-evicted ct_est entry. */
static void test_pickup_unconfirmed(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct sgbpf_ct_key k;
	struct sgbpf_ct_val v;
	struct th t;
	uint32_t c;

	tp_init(&p);
	tp_in(&p, "sg-c", 6, 80, 80, "10.0.0.0/8");
	tp_endpoint(&p, "ns/c", "sg-c", "10.0.0.12", NULL);
	TH_SETUP(t, p);
	c = th_ep(&t, "ns/c");

	th_tcp(&s, V4, "10.1.1.1", "10.0.0.12", 40000, 80, SG_TCP_ACK | SG_TCP_PSH);
	TH_ALLOW(&t, c, IN, &s, SGBPF_ALLOW_RULE);
	th_ct_key(&k, c, V4, 6, "10.0.0.12", "10.1.1.1", 80, 40000);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, &v), TH_CT_NEW);
	CU_ASSERT_TRUE(v.ct_flags & SGBPF_CT_F_PICKUP);
	/* More from the same side confirms nothing. */
	TH_ALLOW(&t, c, IN, &s, SGBPF_ALLOW_TRACKED);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_NEW);
	/* It lives as long as an unanswered SYN (60 s), not 5 days. */
	CU_ASSERT_EQUAL(th_ct_age(&t, &k, 61 * SEC_NS), 0);
	th_tcp(&s, V4, "10.0.0.12", "10.1.1.1", 80, 40000, SG_TCP_ACK);
	TH_DROP(&t, c, OUT, &s, SGBPF_DROP_NO_RULE);

	/* An answered pickup is a connection. */
	th_tcp(&s, V4, "10.1.1.1", "10.0.0.12", 40001, 80, SG_TCP_ACK);
	TH_ALLOW(&t, c, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, V4, "10.0.0.12", "10.1.1.1", 80, 40001, SG_TCP_ACK);
	TH_ALLOW(&t, c, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_ct_key(&k, c, V4, 6, "10.0.0.12", "10.1.1.1", 80, 40001);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, &v), TH_CT_EST);
	CU_ASSERT_FALSE(v.ct_flags & SGBPF_CT_F_PICKUP);
	th_close(&t);
	sg_policy_free(&p);
}

/* Finding 5b: the pod's reply to an untracked flow made a (mid-stream
 * pickup) entry that outlived the rules. */
static void test_untracked_replies(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th t;
	uint32_t a;

	base_policy(&p);
	tp_in(&p, "sg-a", 17, 53, 53, "0.0.0.0/0");
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	th_tcp(&s, V4, "198.51.100.9", A4, 40000, 443, SG_TCP_SYN);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_UNTRACKED);
	th_tcp(&s, V4, A4, "198.51.100.9", 443, 40000, SG_TCP_SYN | SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_UNTRACKED);
	th_tcp(&s, V4, A4, "198.51.100.9", 443, 40000, SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_UNTRACKED);
	th_udp(&s, V4, "198.51.100.9", A4, 5353, 53);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_UNTRACKED);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW) + th_ct_count(&t, SGBPF_MAP_CT_EST), 0);
	/* A UDP datagram can't be told from a new flow: the pod's answer is
	 * tracked, in the LRU table only (unconfirmed). */
	th_udp(&s, V4, A4, "198.51.100.9", 53, 5353);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW), 1);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_EST), 0);

	/* Not a reply of an untracked flow (no inbound rule for 8080):
	 * tracked as before. */
	th_tcp(&s, V4, A4, "198.51.100.9", 8080, 40000, SG_TCP_SYN);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW), 2);
	/* A bare SYN the pod sends from a port an inbound /0 rule allows is a
	 * new outbound flow, never a "reply": tracked (review: PMTUD and
	 * rule-change survival must not depend on the inbound rule). */
	th_tcp(&s, V4, A4, "198.51.100.9", 443, 40003, SG_TCP_SYN);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_RULE);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW), 3);
	th_close(&t);
	sg_policy_free(&p);
}

/* Finding 6: anything from an exempt address passed, on any port. */
static void test_exempt_outbound_only(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct sgbpf_ct_key k;
	struct sgbpf_ct_val v;
	struct th t;
	uint32_t b;

	base_policy(&p);
	TH_SETUP(t, p);
	b = th_ep(&t, "ns/b");

	th_tcp(&s, V4, "169.254.169.254", B4, 80, 22, SG_TCP_SYN);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_NO_RULE);
	th_udp(&s, V6, "fd00:ec2::254", B6, 53, 9999);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_NO_RULE);

	/* What the pod sends there is exempt, and tracked for its replies. */
	th_udp(&s, V4, B4, "169.254.169.254", 40000, 80);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_EXEMPT);
	th_ct_key(&k, b, V4, 17, B4, "169.254.169.254", 40000, 80);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, &v), TH_CT_NEW);
	CU_ASSERT_EQUAL(v.rule_id, SGBPF_RULE_NONE);
	th_udp(&s, V4, "169.254.169.254", B4, 80, 40000);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_TRACKED);
	/* Answered, yet still in the LRU table: exempt flows (every DNS query
	 * to the resolver) must not fill the never-evicted one. */
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, &v), TH_CT_NEW);
	CU_ASSERT_EQUAL(v.state, SGBPF_CT_ESTABLISHED);
	th_tcp(&s, V4, B4, "169.254.169.254", 40001, 80, SG_TCP_SYN);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_EXEMPT);
	th_tcp(&s, V4, "169.254.169.254", B4, 80, 40001, SG_TCP_SYN | SG_TCP_ACK);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_TRACKED);
	th_close(&t);
	sg_policy_free(&p);
}

static void tcp_seg(struct sg_pkt_spec *s, const char *src, const char *dst, uint16_t sport,
		    uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t len)
{
	th_tcp(s, V4, src, dst, sport, dport, flags);
	s->seq = seq;
	s->ack = ack;
	s->payload_len = len;
}

/* Finding 7: any RST closed a flow (10 s to expiry). */
static void test_blind_rst(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct sgbpf_ep_stats st;
	struct sgbpf_ct_key k;
	struct sgbpf_ct_val v;
	struct th t;
	uint32_t b;

	base_policy(&p);
	TH_SETUP(t, p);
	b = th_ep(&t, "ns/b");

	tcp_seg(&s, B4, REMOTE4, 40000, 443, SG_TCP_SYN, 1000, 0, 0);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_RULE);
	tcp_seg(&s, REMOTE4, B4, 443, 40000, SG_TCP_SYN | SG_TCP_ACK, 5000, 1001, 0);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_TRACKED);
	tcp_seg(&s, B4, REMOTE4, 40000, 443, SG_TCP_ACK, 1001, 5001, 0);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_TRACKED);
	tcp_seg(&s, REMOTE4, B4, 443, 40000, SG_TCP_ACK, 5001, 1001, 100);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_TRACKED);
	tcp_seg(&s, B4, REMOTE4, 40000, 443, SG_TCP_ACK, 1001, 5101, 0);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_ct_key(&k, b, V4, 6, B4, REMOTE4, 40000, 443);

	/* Blind RSTs, with and without ACK: dropped, counted, no effect. */
	tcp_seg(&s, REMOTE4, B4, 443, 40000, SG_TCP_RST, 0x80005000u, 0, 0);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_CT_INVALID);
	tcp_seg(&s, REMOTE4, B4, 443, 40000, SG_TCP_RST | SG_TCP_ACK, 5101 + 200000, 1001, 0);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_CT_INVALID);
	th_ep_stats(&t, b, &st);
	CU_ASSERT_EQUAL(st.drops_by_reason[SGBPF_DROP_CT_INVALID], 2);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, &v), TH_CT_EST);
	CU_ASSERT_EQUAL(v.state, SGBPF_CT_ESTABLISHED);
	/* Idle past the closed timeout: the flow is still alive. */
	CU_ASSERT_EQUAL(th_ct_age(&t, &k, 11 * SEC_NS), 0);
	tcp_seg(&s, REMOTE4, B4, 443, 40000, SG_TCP_ACK, 5101, 1001, 10);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_TRACKED);

	/* The remote's real RST (seq near what the pod acknowledged) closes. */
	tcp_seg(&s, REMOTE4, B4, 443, 40000, SG_TCP_RST, 5111, 0, 0);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_TRACKED);
	CU_ASSERT_NOT_EQUAL(th_ct_find(&t, &k, &v), TH_CT_NONE);
	CU_ASSERT_EQUAL(v.state, SGBPF_CT_CLOSED);

	/* A refused connection: RST+ACK acknowledging the pod's SYN. */
	tcp_seg(&s, B4, REMOTE4, 40002, 443, SG_TCP_SYN, 7000, 0, 0);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_RULE);
	tcp_seg(&s, REMOTE4, B4, 443, 40002, SG_TCP_RST | SG_TCP_ACK, 0, 9999, 0);
	TH_DROP(&t, b, IN, &s, SGBPF_DROP_CT_INVALID);
	tcp_seg(&s, REMOTE4, B4, 443, 40002, SG_TCP_RST | SG_TCP_ACK, 0, 7001, 0);
	TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_TRACKED);
	th_ct_key(&k, b, V4, 6, B4, REMOTE4, 40002, 443);
	CU_ASSERT_NOT_EQUAL(th_ct_find(&t, &k, &v), TH_CT_NONE);
	CU_ASSERT_EQUAL(v.state, SGBPF_CT_CLOSED);

	/* The pod may always reset its own connection. */
	tcp_seg(&s, B4, REMOTE4, 40003, 443, SG_TCP_SYN, 100, 0, 0);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_RULE);
	tcp_seg(&s, B4, REMOTE4, 40003, 443, SG_TCP_RST, 123456, 0, 0);
	TH_ALLOW(&t, b, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_close(&t);
	sg_policy_free(&p);
}

/* Finding 9: conntrack keys copy sg_pkt's addresses as 8-byte words
 * (sg_addr_copy), so the struct must be 8-byte aligned, not 4. */
static void test_sg_pkt_aligned(void)
{
	CU_ASSERT_EQUAL(_Alignof(struct sg_pkt), 8);
	CU_ASSERT_EQUAL(offsetof(struct sg_pkt, src) % 8, 0);
	CU_ASSERT_EQUAL(offsetof(struct sg_pkt, dst) % 8, 0);
	CU_ASSERT_EQUAL(sizeof(struct sg_pkt) % 8, 0);
}

static CU_TestInfo hostile_tests[] = {
	{ "nd_after_source_check", test_nd_after_source_check },
	{ "dhcp_only_on_link", test_dhcp_only_on_link },
	{ "icmp_error_outer_addresses", test_icmp_error_outer_addresses },
	{ "pickup_unconfirmed", test_pickup_unconfirmed },
	{ "untracked_replies", test_untracked_replies },
	{ "exempt_outbound_only", test_exempt_outbound_only },
	{ "blind_rst", test_blind_rst },
	{ "sg_pkt_aligned", test_sg_pkt_aligned },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-hostile", NULL, NULL, hostile_tests);
