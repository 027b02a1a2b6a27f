// SPDX-License-Identifier: BSD-2-Clause
/*
 * Malformed frames: truncation at every byte (so at every header boundary:
 * Ethernet, VLAN, IPv4/IPv6, IPv6 extension headers, L4), bad IHL, lying
 * total/payload lengths, too-long or bogus IPv6 extension chains, zero-length
 * L4, and random bytes. A malformed frame is never allowed where the policy
 * denies, and never makes BPF_PROG_TEST_RUN fail.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "names.h"
#include "../lib/testlib.h"

#define L3 18   /* Ethernet + one 802.1Q tag */

static void policy(struct sg_policy *p)
{
	tp_init(p);
	tp_in(p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_in(p, "sg-a", 6, 80, 80, "fd00::/8");
	tp_endpoint(p, "ns/a", "sg-a", A4 "," A6, NULL);
	tp_group(p, "sg-none");
	tp_endpoint(p, "ns/z", "sg-none", "10.0.0.26,fd00::26", NULL);
	tp_exempt(p, "");
	p->node.exempt_dhcp = false;
}

struct case_frame {
	const char *what;
	enum sgbpf_dir dir;
	bool allowed;              /* the intact frame is allowed */
	uint8_t f[SG_PKT_MAX];
	int len;
};

static int build_cases(uint32_t a, struct case_frame *c)
{
	struct sg_pkt_spec s, in;
	int n = 0;

#define ADD(desc, d, allow)                                                     \
	do {                                                                    \
		s.vlan_id = (uint16_t)(a + 1);                                  \
		c[n].what = desc;                                               \
		c[n].dir = d;                                                   \
		c[n].allowed = allow;                                           \
		c[n].len = sg_pkt_build(&s, c[n].f, sizeof(c[n].f));            \
		if (c[n].len > 0)                                               \
			n++;                                                    \
	} while (0)

	th_tcp(&s, V4, "192.168.1.1", A4, 40000, 22, SG_TCP_SYN);
	ADD("v4 tcp denied", IN, false);
	th_udp(&s, V4, "10.1.1.1", A4, 40000, 53);
	ADD("v4 udp denied", IN, false);
	th_icmp(&s, V4, "10.1.1.1", A4, 8, 0, 7);
	ADD("v4 icmp echo denied", IN, false);
	th_tcp(&s, V6, "fd00:1::1", A6, 40000, 22, SG_TCP_SYN);
	s.ext_hdrs[0] = 0;
	s.ext_hdrs[1] = 60;
	s.n_ext_hdrs = 2;
	ADD("v6 tcp + 2 ext denied", IN, false);
	th_udp(&s, V6, "fd00:1::1", A6, 40000, 53);
	s.more_frags = true;
	s.ip_id = 9;
	ADD("v6 udp first fragment denied", IN, false);
	th_icmp(&s, V6, "fd00:1::1", A6, 128, 0, 7);
	ADD("v6 icmpv6 echo denied", IN, false);
	th_tcp(&in, V4, A4, "203.0.113.1", 40000, 443, SG_TCP_SYN);
	th_icmp(&s, V4, "198.51.100.1", A4, 3, 4, 0);
	s.inner = &in;
	ADD("v4 icmp error, unrelated, denied", IN, false);
	th_tcp(&s, V4, A4, "203.0.113.1", 40000, 443, SG_TCP_SYN);
	ADD("v4 tcp outbound denied", OUT, false);
	th_tcp(&s, V4, "10.1.1.1", A4, 40000, 80, SG_TCP_SYN);
	ADD("v4 tcp allowed", IN, true);
	th_tcp(&s, V6, "fd00:1::1", A6, 40000, 80, SG_TCP_SYN);
	s.ext_hdrs[0] = 0;
	s.ext_hdrs[1] = 43;
	s.ext_hdrs[2] = 60;
	s.n_ext_hdrs = 3;
	ADD("v6 tcp + 3 ext allowed", IN, true);
#undef ADD
	return n;
}

static enum sgbpf_prog prog_of(enum sgbpf_dir dir)
{
	return dir == IN ? SGBPF_PROG_TC_INGRESS : SGBPF_PROG_TC_EGRESS;
}

/* Every proper prefix of every frame past the VLAN tag is dropped as
 * malformed (the IP length fields then lie). */
static void test_truncation(void)
{
	static struct case_frame cases[16];
	struct sg_policy p;
	struct th_res r;
	struct th t;
	int n;

	policy(&p);
	TH_SETUP(t, p);
	n = build_cases(th_ep(&t, "ns/a"), cases);
	CU_ASSERT_EQUAL_FATAL(n, 10);
	for (int i = 0; i < n; i++) {
		struct case_frame *c = &cases[i];

		/* The intact frame first: the expected verdict. */
		CU_ASSERT_EQUAL_FATAL(th_run_frame(&t, prog_of(c->dir), c->f, (size_t)c->len, &r), 0);
		th_check(r.pass == c->allowed, "%s: intact frame %s", c->what,
			 r.pass ? "allowed" : "dropped");
		for (int cut = L3; cut < c->len; cut++) {
			int err = th_run_frame(&t, prog_of(c->dir), c->f, (size_t)cut, &r);

			th_check(err == 0, "%s cut at %d: test_run failed (%d)", c->what, cut, err);
			if (err)
				continue;
			th_check(!r.pass, "%s cut at %d of %d bytes: allowed (%s)", c->what, cut,
				 c->len, r.has_ev ? sgbpf_allow_reason_name(r.ev.reason) : "no event");
			if (!r.pass)
				th_check(r.has_ev && r.ev.reason == SGBPF_DROP_MALFORMED,
					 "%s cut at %d: drop reason %s, expected malformed", c->what,
					 cut, r.has_ev ? sgbpf_drop_reason_name(r.ev.reason) : "none");
		}
	}
	th_close(&t);
	sg_policy_free(&p);
}

/* A runt whose 802.1Q tag is cut short can't be anybody's legitimate
 * traffic: it must not pass (the tag names the endpoint it was sent to). */
static void test_vlan_runt(void)
{
	static struct case_frame cases[16];
	struct sg_policy p;
	struct th_res r;
	struct th t;
	int n;

	policy(&p);
	TH_SETUP(t, p);
	n = build_cases(th_ep(&t, "ns/a"), cases);
	CU_ASSERT_EQUAL_FATAL(n, 10);
	for (int i = 0; i < n; i++) {
		int passed = 0, errors = 0;
		const char *why = "";

		for (int cut = 14; cut < L3; cut++) {
			if (th_run_frame(&t, prog_of(cases[i].dir), cases[i].f, (size_t)cut, &r)) {
				errors++;
			} else if (r.pass) {
				passed++;
				why = r.has_ev ? sgbpf_allow_reason_name(r.ev.reason) : "no event";
			}
		}
		th_check(errors == 0, "%s cut inside the VLAN tag: %d test_run errors",
			 cases[i].what, errors);
		th_check(passed == 0, "%s cut inside the VLAN tag (14..17 bytes): %d of 4 allowed (%s)",
			 cases[i].what, passed, why);
	}
	th_close(&t);
	sg_policy_free(&p);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void fix_ip4_csum(uint8_t *ip)
{
	unsigned hl = (ip[0] & 15) * 4u;
	uint32_t sum = 0;

	ip[10] = ip[11] = 0;
	for (unsigned i = 0; i < hl && i < 60; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, (uint16_t)~sum);
}

static struct th_res run(struct th *t, enum sgbpf_dir dir, const uint8_t *f, int len)
{
	struct th_res r;

	memset(&r, 0, sizeof(r));
	th_check(th_run_frame(t, prog_of(dir), f, (size_t)len, &r) == 0, "test_run failed");
	return r;
}

#define EXPECT_MALFORMED(r, what)                                                      \
	th_check(!(r).pass && (r).has_ev && (r).ev.reason == SGBPF_DROP_MALFORMED,      \
		 "%s: expected drop malformed, got %s %s", what, (r).pass ? "allow" : "drop", \
		 (r).has_ev ? ((r).pass ? sgbpf_allow_reason_name((r).ev.reason) :       \
			       sgbpf_drop_reason_name((r).ev.reason)) : "(no event)")

static void test_ipv4_header_lies(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th_res r;
	struct th t;
	uint8_t f[SG_PKT_MAX], g[SG_PKT_MAX];
	uint32_t a;
	int n;

	policy(&p);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	th_tcp(&s, V4, "10.1.1.1", A4, 40000, 80, SG_TCP_SYN);
	s.vlan_id = (uint16_t)(a + 1);
	n = sg_pkt_build(&s, f, sizeof(f));
	CU_ASSERT_EQUAL_FATAL(n, L3 + 40);
	r = run(&t, IN, f, n);
	CU_ASSERT_TRUE(r.pass);

	/* IHL below 5, and IHL pointing past the packet. */
	memcpy(g, f, (size_t)n);
	g[L3] = 0x44;
	fix_ip4_csum(g + L3);
	r = run(&t, IN, g, n);
	EXPECT_MALFORMED(r, "IHL 4");
	g[L3] = 0x4f;
	fix_ip4_csum(g + L3);
	r = run(&t, IN, g, n);
	EXPECT_MALFORMED(r, "IHL 15");
	/* Version 6 inside an IPv4 ethertype, from a denied source: whether or
	 * not the version is checked, it must not pass as "not IP". */
	memcpy(g, f, (size_t)n);
	g[L3] = 0x65;
	g[L3 + 12] = 192;
	r = run(&t, IN, g, n);
	th_check(!r.pass, "IPv4 ethertype with version 6 from a denied source allowed");

	/* IHL 6 with 4 bytes of options: valid, L4 after the options. */
	memcpy(g, f, L3 + 20);
	memset(g + L3 + 20, 1, 4);                     /* NOP options */
	memcpy(g + L3 + 24, f + L3 + 20, 20);
	put16(g + L3 + 24, 40123);                     /* a new flow */
	g[L3] = 0x46;
	put16(g + L3 + 2, 44);
	fix_ip4_csum(g + L3);
	r = run(&t, IN, g, n + 4);
	th_check(r.pass && r.has_ev && r.ev.reason == SGBPF_ALLOW_RULE,
		 "IHL 6 with options: expected allow rule");
	th_check(r.has_ev && ntohs(r.ev.dport) == 80, "IHL 6: L4 read at the wrong offset");

	/* Total length longer than the frame, shorter than the header,
	 * exactly the header (zero-length TCP), and half a TCP header. */
	static const struct { uint16_t tl; const char *what; } lies[] = {
		{ 41, "total length 41 > 40" }, { 19, "total length 19 < IHL" },
		{ 0, "total length 0" }, { 20, "zero-length TCP" }, { 30, "10-byte TCP" },
	};
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		memcpy(g, f, (size_t)n);
		put16(g + L3 + 2, lies[i].tl);
		fix_ip4_csum(g + L3);
		r = run(&t, IN, g, n);
		EXPECT_MALFORMED(r, lies[i].what);
	}
	/* Zero-length UDP and ICMP. */
	for (int proto = 0; proto < 2; proto++) {
		memcpy(g, f, L3 + 20);
		g[L3 + 9] = proto ? 1 : 17;
		put16(g + L3 + 2, 20);
		fix_ip4_csum(g + L3);
		r = run(&t, IN, g, L3 + 20);
		EXPECT_MALFORMED(r, proto ? "zero-length ICMP" : "zero-length UDP");
	}
	/* Zero-length ESP is just an ESP packet: judged by rules (none). */
	memcpy(g, f, L3 + 20);
	g[L3 + 9] = 50;
	put16(g + L3 + 2, 20);
	fix_ip4_csum(g + L3);
	r = run(&t, IN, g, L3 + 20);
	th_check(!r.pass, "zero-length ESP allowed with no ESP rule");

	/* Ethernet padding after a short packet is not a lie. */
	memcpy(g, f, (size_t)n);
	memset(g + n, 0, 6);
	r = run(&t, IN, g, n + 6);
	th_check(r.pass && r.has_ev && r.ev.reason == SGBPF_ALLOW_TRACKED,
		 "padded frame of a tracked flow: expected allow tracked");
	th_tcp(&s, V4, "192.168.1.1", A4, 40000, 80, SG_TCP_SYN);
	s.vlan_id = (uint16_t)(a + 1);
	n = sg_pkt_build(&s, g, sizeof(g));
	memset(g + n, 0, 6);
	r = run(&t, IN, g, n + 6);
	th_check(!r.pass && r.has_ev && r.ev.reason == SGBPF_DROP_NO_RULE,
		 "padded denied frame: expected drop no-rule");
	th_close(&t);
	sg_policy_free(&p);
}

static void test_ipv6_lies_and_ext_chains(void)
{
	struct sg_policy p;
	struct sg_pkt_spec s;
	struct th_res r;
	struct th t;
	uint8_t f[SG_PKT_MAX];
	uint32_t a;
	int n;

	policy(&p);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");

	/* SGBPF_MAX_IPV6_EXTHDR headers are walked; one more is refused. */
	th_tcp(&s, V6, "fd00:1::1", A6, 40000, 80, SG_TCP_SYN);
	s.vlan_id = (uint16_t)(a + 1);
	for (int i = 0; i < SGBPF_MAX_IPV6_EXTHDR; i++)
		s.ext_hdrs[i] = 60;
	s.n_ext_hdrs = SGBPF_MAX_IPV6_EXTHDR;
	n = sg_pkt_build(&s, f, sizeof(f));
	r = run(&t, IN, f, n);
	th_check(r.pass && r.has_ev && r.ev.reason == SGBPF_ALLOW_RULE,
		 "%d extension headers: expected allow rule", SGBPF_MAX_IPV6_EXTHDR);
	for (int extra = 1; extra <= 16 - SGBPF_MAX_IPV6_EXTHDR; extra += 7) {
		s.sport++;
		s.n_ext_hdrs = (uint8_t)(SGBPF_MAX_IPV6_EXTHDR + extra);
		for (int i = 0; i < s.n_ext_hdrs; i++)
			s.ext_hdrs[i] = 60;
		n = sg_pkt_build(&s, f, sizeof(f));
		r = run(&t, IN, f, n);
		th_check(!r.pass && r.has_ev && r.ev.reason == SGBPF_DROP_EXTHDR_LIMIT,
			 "%u extension headers: expected drop ipv6-exthdr-limit, got %s",
			 s.n_ext_hdrs, r.pass ? "allow" : "drop");
	}

	/* An extension header whose length runs past the packet. */
	th_tcp(&s, V6, "fd00:1::1", A6, 40001, 80, SG_TCP_SYN);
	s.vlan_id = (uint16_t)(a + 1);
	s.ext_hdrs[0] = 0;
	s.ext_hdrs[1] = 60;
	s.n_ext_hdrs = 2;
	n = sg_pkt_build(&s, f, sizeof(f));
	f[L3 + 48 + 1] = 255;                 /* dest opts: 2048 bytes */
	r = run(&t, IN, f, n);
	EXPECT_MALFORMED(r, "extension header longer than the packet");

	/* Payload length lies: too long, and zero with a TCP next header. */
	th_tcp(&s, V6, "fd00:1::1", A6, 40002, 80, SG_TCP_SYN);
	s.vlan_id = (uint16_t)(a + 1);
	n = sg_pkt_build(&s, f, sizeof(f));
	put16(f + L3 + 4, 21);
	r = run(&t, IN, f, n);
	EXPECT_MALFORMED(r, "IPv6 payload length 21 > 20");
	put16(f + L3 + 4, 0);
	r = run(&t, IN, f, L3 + 40);
	EXPECT_MALFORMED(r, "zero-length TCP over IPv6");
	put16(f + L3 + 4, 8);
	r = run(&t, IN, f, L3 + 48);
	EXPECT_MALFORMED(r, "8-byte TCP over IPv6");
	th_close(&t);
	sg_policy_free(&p);
}

static uint16_t ethertype_after_tags(const uint8_t *f, int len)
{
	int off = 12;

	while (off + 2 <= len) {
		uint16_t et = (uint16_t)(f[off] << 8 | f[off + 1]);

		if (et != 0x8100 && et != 0x88a8)
			return et;
		off += 4;
	}
	return 0;
}

/* Random bytes and random mutations on an endpoint with no rules, no exempt
 * list and no DHCP: only ARP/ND and non-IP frames may pass. */
static void test_random_bytes(void)
{
	static struct case_frame cases[16];
	unsigned seed = sgt_seed(), bad = 0;
	struct sg_policy p;
	struct th_res r;
	struct th t;
	uint8_t f[512];
	uint32_t z;
	int nc;

	policy(&p);
	TH_SETUP(t, p);
	z = th_ep(&t, "ns/z");
	nc = build_cases(z, cases);
	srand(seed);
	for (int i = 0; i < 20000; i++) {
		enum sgbpf_dir dir = (i & 1) ? OUT : IN;
		int len;

		if (i % 2 == 0 || nc == 0) {
			/* z's VLAN tag, then random bytes (runts: see vlan_runt). */
			len = L3 + rand() % 200;
			memcpy(f, cases[0].f, 16);
			for (int j = 16; j < len; j++)
				f[j] = (uint8_t)rand();
			if (rand() % 2) {      /* often a plausible IP ethertype */
				put16(f + 16, rand() % 2 ? 0x0800 : 0x86dd);
				if (len > 18)
					f[18] = (uint8_t)((f[16] == 0x08 ? 0x40 : 0x60) | (f[18] & 15));
			}
		} else {
			/* A valid frame with 1..4 bytes changed after the tag. */
			const struct case_frame *c = &cases[rand() % nc];

			len = c->len;
			memcpy(f, c->f, (size_t)len);
			for (int k = 1 + rand() % 4; k > 0; k--)
				f[16 + rand() % (len - 16)] = (uint8_t)rand();
		}
		if (th_run_frame(&t, prog_of(dir), f, (size_t)len, &r)) {
			th_check(0, "random frame %d (%d bytes): test_run failed, seed %u", i, len,
				 seed);
			bad++;
		} else if (r.pass) {
			uint16_t et = ethertype_after_tags(f, len);
			bool ok = r.has_ev &&
				  ((r.ev.reason == SGBPF_ALLOW_NOT_IP && et != 0x0800 && et != 0x86dd) ||
				   (r.ev.reason == SGBPF_ALLOW_NEIGH && (et == 0x0806 || et == 0x86dd)));

			if (!ok) {
				th_check(0, "random frame %d (%d bytes, ethertype %#x) allowed (%s) "
					 "on an endpoint that allows nothing; seed %u", i, len, et,
					 r.has_ev ? sgbpf_allow_reason_name(r.ev.reason) : "no event",
					 seed);
				bad++;
			}
		}
		if (bad > 10)
			break;
	}
	th_close(&t);
	sg_policy_free(&p);
}

static CU_TestInfo malformed_tests[] = {
	{ "truncation", test_truncation },
	{ "vlan_runt", test_vlan_runt },
	{ "ipv4_header_lies", test_ipv4_header_lies },
	{ "ipv6_lies_and_ext_chains", test_ipv6_lies_and_ext_chains },
	{ "random_bytes", test_random_bytes },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-malformed", NULL, NULL, malformed_tests);
