// SPDX-License-Identifier: BSD-2-Clause
/*
 * The early-drop front line (SGBPF_IFACE_F_FRONT_LINE, sgbpfd --trunk): XDP
 * on the trunk, keyed by VLAN id, in front of the endpoint's own hook (TC
 * egress of its host veth), which stays the authority. The front line
 * drops and counts what the authority would drop as a new flow, passes the
 * rest without counting it, and writes no conntrack or fragment state.
 *
 * Offline stand-ins: {1, VLAN a+1} is the trunk entry of endpoint a
 * (NET_FACING, front line; XDP, tagged frames) and {1, 0} is a's host veth
 * (POD_FACING; TC egress, untagged frames: inbound).
 */
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <CUnit/CUnit.h>

#include "harness.h"
#include "../lib/testlib.h"

#define REMOTE_OK  "10.1.1.1"     /* inside the rules' 10.0.0.0/8 */
#define REMOTE_BAD "192.168.1.1"

struct front {
	struct th t;
	struct sg_policy p;
	uint32_t a, b;
};

static int set_iface(struct th *t, uint32_t ifindex, uint16_t vlan, uint32_t ep, uint8_t role,
		     uint8_t flags)
{
	struct sgbpf_iface_key k = { .ifindex = ifindex, .vlan_id = vlan };
	struct sgbpf_iface_val v = { .ep_id = ep, .role = role, .flags = flags };

	return bpf_map_update_elem(sgbpf_map_fd(t->h, SGBPF_MAP_IFACES), &k, &v, BPF_ANY);
}

/* a: TCP 80 and UDP 53 from 10/8; b: TCP 22 from 10/8. Both may send anywhere. */
static int front_setup(struct front *f)
{
	tp_init(&f->p);
	tp_in(&f->p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_in(&f->p, "sg-a", 17, 53, 53, "10.0.0.0/8");
	tp_out(&f->p, "sg-a", -1, -1, -1, "0.0.0.0/0");
	tp_in(&f->p, "sg-b", 6, 22, 22, "10.0.0.0/8");
	tp_endpoint(&f->p, "ns/a", "sg-a", A4 "," A6, NULL);
	tp_endpoint(&f->p, "ns/b", "sg-b", B4 "," B6, NULL);
	if (th_open(&f->t, false) || th_apply(&f->t, &f->p))
		return -1;
	f->a = th_ep(&f->t, "ns/a");
	f->b = th_ep(&f->t, "ns/b");
	if (set_iface(&f->t, 1, (uint16_t)(f->a + 1), f->a, SGBPF_ROLE_NET_FACING,
		      SGBPF_IFACE_F_FRONT_LINE) ||
	    set_iface(&f->t, 1, (uint16_t)(f->b + 1), f->b, SGBPF_ROLE_NET_FACING,
		      SGBPF_IFACE_F_FRONT_LINE) ||
	    set_iface(&f->t, 1, 0, f->a, SGBPF_ROLE_POD_FACING, 0))
		return -1;
	return 0;
}

static void front_teardown(struct front *f)
{
	th_close(&f->t);
	sg_policy_free(&f->p);
}

/* Run s through the front line on VLAN vlan (XDP), or untagged through the
 * authority (TC egress of the host veth) when vlan is 0. */
static struct th_res run(struct front *f, struct sg_pkt_spec *s, uint16_t vlan)
{
	uint8_t buf[SG_PKT_MAX];
	struct th_res r = { 0 };
	int n;

	s->vlan_id = vlan;
	n = sg_pkt_build(s, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL_FATAL(th_run_frame(&f->t, vlan ? SGBPF_PROG_XDP : SGBPF_PROG_TC_EGRESS,
					   buf, (size_t)n, &r), 0);
	return r;
}

static uint64_t allows_in(const struct th *t, uint32_t ep)
{
	struct sgbpf_ep_stats st;

	th_ep_stats(t, ep, &st);
	return st.allow_packets[IN];
}

static uint64_t drops_in(const struct th *t, uint32_t ep, int reason)
{
	struct sgbpf_ep_stats st;

	th_ep_stats(t, ep, &st);
	return reason < 0 ? st.drop_packets[IN] : st.drops_by_reason[reason];
}

/* A new flow the rules allow: passed uncounted and untracked by the front
 * line; the authority then counts it once and creates the flow's one entry,
 * which every later packet advances once: at the authority only. */
static void test_allow_counted_once(void)
{
	struct sgbpf_rule_stats rs0, rs1;
	struct sgbpf_ct_val cv;
	struct sgbpf_ct_key k;
	struct sg_pkt_spec s;
	struct th_res r;
	struct front f;
	uint32_t rule;
	uint64_t a0;

	CU_ASSERT_EQUAL_FATAL(front_setup(&f), 0);
	rule = th_rule_id(&f.t, &f.p, "sg-a", 0, V4);
	th_rule_stats(&f.t, rule, &rs0);
	a0 = allows_in(&f.t, f.a);
	th_ct_key(&k, f.a, V4, 6, A4, REMOTE_OK, 80, 40000);

	th_tcp(&s, V4, REMOTE_OK, A4, 40000, 80, SG_TCP_SYN);
	r = run(&f, &s, (uint16_t)(f.a + 1));
	th_check(r.pass, "the front line dropped a SYN the rules allow");
	th_check(!r.has_ev, "the front line emitted an event for a pass (reason %u)", r.ev.reason);
	CU_ASSERT_EQUAL(allows_in(&f.t, f.a), a0);
	CU_ASSERT_EQUAL(th_ct_find(&f.t, &k, NULL), TH_CT_NONE);
	th_rule_stats(&f.t, rule, &rs1);
	CU_ASSERT_EQUAL(rs1.packets, rs0.packets);

	r = run(&f, &s, 0);
	th_check(r.pass && r.has_ev && r.ev.reason == SGBPF_ALLOW_RULE,
		 "the authority did not allow the SYN by its rule");
	CU_ASSERT_EQUAL(allows_in(&f.t, f.a), a0 + 1);
	th_rule_stats(&f.t, rule, &rs1);
	CU_ASSERT_EQUAL(rs1.packets, rs0.packets + 1);
	CU_ASSERT_EQUAL_FATAL(th_ct_find(&f.t, &k, &cv), TH_CT_NEW);
	CU_ASSERT_EQUAL(cv.packets[IN], 1);

	/* The pod answers (its outbound: TC ingress of the host veth). */
	th_tcp(&s, V4, A4, REMOTE_OK, 80, 40000, SG_TCP_SYN | SG_TCP_ACK);
	{
		uint8_t buf[SG_PKT_MAX];
		int n = sg_pkt_build(&s, buf, sizeof(buf));

		CU_ASSERT_EQUAL_FATAL(th_run_frame(&f.t, SGBPF_PROG_TC_INGRESS, buf, (size_t)n,
						   &r), 0);
		th_check(r.pass, "the pod's SYN+ACK was dropped");
	}
	/* Three ACKs through both: each advances the entry once. */
	for (int i = 0; i < 3; i++) {
		th_tcp(&s, V4, REMOTE_OK, A4, 40000, 80, SG_TCP_ACK);
		s.seq = 1;
		s.ack = 1;
		r = run(&f, &s, (uint16_t)(f.a + 1));
		th_check(r.pass && !r.has_ev, "ACK %d: the front line did not pass it quietly", i);
		r = run(&f, &s, 0);
		th_check(r.pass && r.ev.reason == SGBPF_ALLOW_TRACKED,
			 "ACK %d: the authority did not pass it as tracked", i);
	}
	CU_ASSERT_NOT_EQUAL_FATAL(th_ct_find(&f.t, &k, &cv), TH_CT_NONE);
	CU_ASSERT_EQUAL(cv.packets[IN], 4);
	CU_ASSERT_EQUAL(cv.packets[OUT], 1);
	CU_ASSERT_EQUAL(allows_in(&f.t, f.a), a0 + 4);
	front_teardown(&f);
}

/* What the authority would drop as a new flow is dropped and counted at the
 * front line (once: it never reaches the authority), against the VLAN's
 * endpoint, with the VLAN in the event; no state is written. */
static void test_drops(void)
{
	struct sgbpf_ct_key k;
	struct sg_pkt_spec s;
	struct th_res r;
	struct front f;
	uint64_t d0, w0, m0;
	uint16_t va, vb;

	CU_ASSERT_EQUAL_FATAL(front_setup(&f), 0);
	va = (uint16_t)(f.a + 1);
	vb = (uint16_t)(f.b + 1);
	d0 = drops_in(&f.t, f.a, SGBPF_DROP_NO_RULE);
	th_tcp(&s, V4, REMOTE_BAD, A4, 40001, 80, SG_TCP_SYN);
	r = run(&f, &s, va);
	th_check(!r.pass && r.has_ev && r.ev.reason == SGBPF_DROP_NO_RULE,
		 "a SYN from outside the rules was not dropped no-rule");
	CU_ASSERT_EQUAL(r.ev.vlan_id, va);
	CU_ASSERT_EQUAL(r.ev.ep_id, f.a);
	CU_ASSERT_EQUAL(r.ev.dir, IN);
	CU_ASSERT_EQUAL(drops_in(&f.t, f.a, SGBPF_DROP_NO_RULE), d0 + 1);
	th_ct_key(&k, f.a, V4, 6, A4, REMOTE_BAD, 80, 40001);
	CU_ASSERT_EQUAL(th_ct_find(&f.t, &k, NULL), TH_CT_NONE);

	/* The same port on b's VLAN is b's to judge: b allows 22, not 80. */
	th_tcp(&s, V4, REMOTE_OK, B4, 40002, 80, SG_TCP_SYN);
	r = run(&f, &s, vb);
	th_check(!r.pass && r.ev.ep_id == f.b && r.ev.reason == SGBPF_DROP_NO_RULE,
		 "port 80 on b's VLAN was not dropped as b's no-rule");
	th_tcp(&s, V4, REMOTE_OK, B4, 40002, 22, SG_TCP_SYN);
	r = run(&f, &s, vb);
	th_check(r.pass && !r.has_ev, "port 22 on b's VLAN was not passed quietly");

	/* a's address on b's VLAN: not b's, wrong destination. */
	w0 = drops_in(&f.t, f.b, SGBPF_DROP_WRONG_DST);
	th_tcp(&s, V4, REMOTE_OK, A4, 40003, 80, SG_TCP_SYN);
	r = run(&f, &s, vb);
	th_check(!r.pass && r.ev.reason == SGBPF_DROP_WRONG_DST, "a's address on b's VLAN passed");
	CU_ASSERT_EQUAL(drops_in(&f.t, f.b, SGBPF_DROP_WRONG_DST), w0 + 1);

	/* Truncated TCP header. */
	m0 = drops_in(&f.t, f.a, SGBPF_DROP_MALFORMED);
	{
		uint8_t buf[SG_PKT_MAX];
		int n;

		th_tcp(&s, V4, REMOTE_OK, A4, 40004, 80, SG_TCP_SYN);
		s.vlan_id = va;
		n = sg_pkt_build(&s, buf, sizeof(buf));
		CU_ASSERT_EQUAL_FATAL(th_run_frame(&f.t, SGBPF_PROG_XDP, buf, (size_t)n - 12, &r),
				      0);
		CU_ASSERT_FALSE(r.pass);
	}
	CU_ASSERT_EQUAL(drops_in(&f.t, f.a, SGBPF_DROP_MALFORMED), m0 + 1);
	front_teardown(&f);
}

/* Replies of the pod's own flows (no inbound rule allows them), later
 * fragments and ICMP errors are the authority's to judge: passed quietly,
 * the entry untouched. An unknown VLAN is not a pod's: passed, counted as
 * an unknown interface, on no endpoint. */
static void test_passes(void)
{
	struct sgbpf_global_stats g0, g1;
	struct sgbpf_ct_val cv0, cv1;
	struct sg_pkt_spec s, inner;
	struct sgbpf_ct_key k;
	struct th_res r;
	struct front f;
	uint64_t d0, a0;
	uint16_t va;

	CU_ASSERT_EQUAL_FATAL(front_setup(&f), 0);
	va = (uint16_t)(f.a + 1);
	/* The pod connects out to 192.168.1.1:443 (host veth TC ingress). */
	th_tcp(&s, V4, A4, REMOTE_BAD, 41000, 443, SG_TCP_SYN);
	{
		uint8_t buf[SG_PKT_MAX];
		int n = sg_pkt_build(&s, buf, sizeof(buf));

		CU_ASSERT_EQUAL_FATAL(th_run_frame(&f.t, SGBPF_PROG_TC_INGRESS, buf, (size_t)n,
						   &r), 0);
		CU_ASSERT_TRUE_FATAL(r.pass);
	}
	th_ct_key(&k, f.a, V4, 6, A4, REMOTE_BAD, 41000, 443);
	CU_ASSERT_NOT_EQUAL_FATAL(th_ct_find(&f.t, &k, &cv0), TH_CT_NONE);
	d0 = drops_in(&f.t, f.a, -1);
	a0 = allows_in(&f.t, f.a);
	th_tcp(&s, V4, REMOTE_BAD, A4, 443, 41000, SG_TCP_SYN | SG_TCP_ACK);
	r = run(&f, &s, va);
	th_check(r.pass && !r.has_ev, "the reply of the pod's flow was not passed quietly");
	CU_ASSERT_NOT_EQUAL_FATAL(th_ct_find(&f.t, &k, &cv1), TH_CT_NONE);
	CU_ASSERT_EQUAL(cv1.packets[IN], cv0.packets[IN]);
	CU_ASSERT_EQUAL(cv1.state, cv0.state);
	CU_ASSERT_EQUAL(cv1.last_seen_ns, cv0.last_seen_ns);

	/* A later fragment from outside the rules, no first fragment seen. */
	th_udp(&s, V4, REMOTE_BAD, A4, 5000, 53);
	s.ip_id = 77;
	s.frag_offset = 1480;
	r = run(&f, &s, va);
	th_check(r.pass && !r.has_ev, "a later fragment was not left to the authority");
	r = run(&f, &s, 0);
	th_check(!r.pass && r.ev.reason == SGBPF_DROP_FRAG_UNKNOWN,
		 "the authority did not drop the unknown fragment");

	/* An ICMP error about the pod's flow. */
	th_tcp(&inner, V4, A4, REMOTE_BAD, 41000, 443, SG_TCP_SYN);
	th_icmp(&s, V4, "10.9.9.9", A4, 3, 4, 0);
	s.inner = &inner;
	r = run(&f, &s, va);
	th_check(r.pass && !r.has_ev, "an ICMP error was not left to the authority");
	CU_ASSERT_EQUAL(allows_in(&f.t, f.a), a0);
	CU_ASSERT_EQUAL(drops_in(&f.t, f.a, -1), d0 + 1);   /* the fragment, at the authority */

	/* A VLAN no endpoint has (and no untagged entry for the trunk). */
	th_global_stats(&f.t, &g0);
	th_tcp(&s, V4, REMOTE_BAD, A4, 40005, 22, SG_TCP_SYN);
	s.vlan_id = 3000;
	{
		uint8_t buf[SG_PKT_MAX];
		int n = sg_pkt_build(&s, buf, sizeof(buf));
		struct sgbpf_iface_key key = { .ifindex = 1, .vlan_id = 0 };
		int fd = sgbpf_map_fd(f.t.h, SGBPF_MAP_IFACES);

		/* The host veth stand-in {1, 0} would catch it: remove it. */
		CU_ASSERT_EQUAL(bpf_map_delete_elem(fd, &key), 0);
		CU_ASSERT_EQUAL_FATAL(th_run_frame(&f.t, SGBPF_PROG_XDP, buf, (size_t)n, &r), 0);
	}
	th_global_stats(&f.t, &g1);
	th_check(r.pass && !r.has_ev, "a frame of an unknown VLAN was not passed");
	CU_ASSERT_EQUAL(g1.unknown_iface, g0.unknown_iface + 1);
	CU_ASSERT_EQUAL(drops_in(&f.t, f.a, -1), d0 + 1);
	CU_ASSERT_EQUAL(allows_in(&f.t, f.a), a0);
	front_teardown(&f);
}

/*
 * Randomised: for new flows (a fresh tuple each), the front line drops
 * exactly what the authority drops, for the same reason, but for no-rule
 * packets that can't open a flow (left to the authority: see
 * test_nat_reply), and passes the rest without a trace. Protocols, remotes inside and outside the rules,
 * allowed and other ports, the endpoint's or another address, IPv4/IPv6.
 */
static void test_agrees_with_authority(void)
{
	static const char *const rem4[] = { REMOTE_OK, REMOTE_BAD, "10.200.0.1" };
	static const char *const rem6[] = { "fd00:1::1", "2001:db8::1" };
	static const uint16_t ports[] = { 80, 53, 22, 8080 };
	unsigned seed = sgt_seed(), st = seed ? seed : 1, bad = 0;
	struct sg_pkt_spec s;
	struct th_res fr, ar;
	struct front f;
	bool opens;

	CU_ASSERT_EQUAL_FATAL(front_setup(&f), 0);
	tp_in(&f.p, "sg-a", 6, 1000, 2000, "fd00:1::/64");
	tp_in(&f.p, "sg-a", 1, 8, -1, "10.0.0.0/8");
	CU_ASSERT_EQUAL_FATAL(th_apply(&f.t, &f.p), 0);
	CU_ASSERT_EQUAL_FATAL(set_iface(&f.t, 1, (uint16_t)(f.a + 1), f.a, SGBPF_ROLE_NET_FACING,
					SGBPF_IFACE_F_FRONT_LINE), 0);
	CU_ASSERT_EQUAL_FATAL(set_iface(&f.t, 1, 0, f.a, SGBPF_ROLE_POD_FACING, 0), 0);
	for (unsigned i = 0; i < 400; i++) {
		bool v6 = sgt_rand(&st, 3) == 0, other = sgt_rand(&st, 6) == 0;
		uint8_t fam = v6 ? V6 : V4;
		const char *rem = v6 ? rem6[sgt_rand(&st, 2)] : rem4[sgt_rand(&st, 3)];
		const char *dst = v6 ? (other ? B6 : A6) : (other ? B4 : A4);
		uint16_t sport = (uint16_t)(20000 + i), dport = ports[sgt_rand(&st, 4)];

		if (v6 && sgt_rand(&st, 2))
			dport = (uint16_t)(900 + sgt_rand(&st, 1200));
		switch (sgt_rand(&st, 4)) {
		case 0:
			th_udp(&s, fam, rem, dst, sport, dport);
			break;
		case 1:
			th_icmp(&s, fam, rem, dst, v6 ? 128 : 8, 0, (uint16_t)i);
			break;
		default:
			th_tcp(&s, fam, rem, dst, sport, dport,
			       sgt_rand(&st, 4) ? SG_TCP_SYN : SG_TCP_ACK);
			break;
		}
		fr = run(&f, &s, (uint16_t)(f.a + 1));
		ar = run(&f, &s, 0);
		/* A no-rule packet that doesn't open a flow (UDP, a TCP
		 * non-SYN) may be a NATed reply: the front line leaves it to
		 * the authority. */
		opens = (s.proto == 6 && s.tcp_flags == SG_TCP_SYN) || s.proto == 1 ||
			s.proto == 58;
		if (!opens && !ar.pass && ar.ev.reason == SGBPF_DROP_NO_RULE) {
			if (!fr.pass || fr.has_ev) {
				if (!bad++)
					fprintf(stderr, "\nfront line dropped a no-rule non-opening "
						"packet (seed %u, frame %u)\n", seed, i);
			}
			continue;
		}
		if (fr.pass != ar.pass || (!fr.pass && fr.ev.reason != ar.ev.reason) ||
		    (fr.pass && fr.has_ev)) {
			if (!bad++)
				fprintf(stderr, "\nfront line disagrees (seed %u, frame %u: %s -> %s "
					"proto %u port %u): front %s/%u, authority %s/%u\n", seed,
					i, rem, dst, s.proto, dport, fr.pass ? "pass" : "drop",
					fr.ev.reason, ar.pass ? "pass" : "drop", ar.ev.reason);
		}
	}
	th_check(bad == 0, "%u of 400 new flows judged differently (seed %u)", bad, seed);
	front_teardown(&f);
}

/*
 * A Service: the pod sends to a ClusterIP (its host veth tracks the flow
 * under that address, before netfilter's DNAT), the backend answers from
 * its own address, which reaches the trunk before netfilter rewrites it
 * back. The front line must leave such a reply to the authority, whatever
 * the rules say about the backend's address; a SYN from there it drops.
 * An entry past its timeout is the authority's to delete: the front line
 * leaves it in place.
 */
static void test_nat_reply_and_stale_entries(void)
{
	struct sgbpf_ct_key k;
	struct sg_pkt_spec s;
	struct th_res r;
	struct front f;
	uint64_t d0;
	uint16_t va;

	CU_ASSERT_EQUAL_FATAL(front_setup(&f), 0);
	va = (uint16_t)(f.a + 1);
	d0 = drops_in(&f.t, f.a, -1);
	/* The backend's UDP answer and TCP segments, from outside a's rules. */
	th_udp(&s, V4, REMOTE_BAD, A4, 53, 33000);
	r = run(&f, &s, va);
	th_check(r.pass && !r.has_ev, "a UDP reply from a Service backend was dropped at the front");
	th_tcp(&s, V4, REMOTE_BAD, A4, 443, 41001, SG_TCP_SYN | SG_TCP_ACK);
	r = run(&f, &s, va);
	th_check(r.pass && !r.has_ev, "a SYN+ACK from a Service backend was dropped at the front");
	th_tcp(&s, V4, REMOTE_BAD, A4, 443, 41001, SG_TCP_ACK);
	r = run(&f, &s, va);
	th_check(r.pass && !r.has_ev, "an ACK from a Service backend was dropped at the front");
	CU_ASSERT_EQUAL(drops_in(&f.t, f.a, -1), d0);
	/* What only opens a flow is dropped there. */
	th_icmp(&s, V4, REMOTE_BAD, A4, 8, 0, 7);
	r = run(&f, &s, va);
	th_check(!r.pass && r.ev.reason == SGBPF_DROP_NO_RULE, "an echo request passed the front");

	/* An expired entry of a's (the flow from 10.1.1.1 to port 80). */
	th_tcp(&s, V4, REMOTE_OK, A4, 40100, 80, SG_TCP_SYN);
	r = run(&f, &s, 0);
	CU_ASSERT_TRUE_FATAL(r.pass);
	th_ct_key(&k, f.a, V4, 6, A4, REMOTE_OK, 80, 40100);
	CU_ASSERT_EQUAL_FATAL(th_ct_age(&f.t, &k, 3600ull * 1000000000ull), 0);
	r = run(&f, &s, va);
	th_check(r.pass && !r.has_ev, "a SYN the rules allow was not passed quietly");
	th_check(th_ct_find(&f.t, &k, NULL) != TH_CT_NONE,
		 "the front line deleted an expired entry (the authority's to delete)");
	front_teardown(&f);
}

static CU_TestInfo front_tests[] = {
	{ "allow_counted_once", test_allow_counted_once },
	{ "drops", test_drops },
	{ "passes", test_passes },
	{ "agrees_with_authority", test_agrees_with_authority },
	{ "nat_reply_and_stale_entries", test_nat_reply_and_stale_entries },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-front", NULL, NULL, front_tests);
