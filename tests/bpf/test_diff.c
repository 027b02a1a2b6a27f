// SPDX-License-Identifier: BSD-2-Clause
/*
 * Differential test: random policies (both families, nested prefixes,
 * referenced groups, prefix lists, icmp, protocol numbers, -1, untracked /0
 * combinations) and random stateful packet sequences (new flows, replies,
 * TCP flag sequences, UDP replies, ICMP echo, spoofed sources and MACs,
 * exempt and ND traffic, a policy change mid-sequence) through the real
 * programs, checked packet by packet against tests/bpf/ref_model.c.
 * Seeded by sgt_seed() (SGBPF_TEST_SEED); every failure prints the seed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "names.h"
#include "ref_model.h"
#include "../lib/testlib.h"

#define ROUNDS      24
#define PER_ROUND   500
#define N_EP        3
#define N_SG        5
#define MAX_FLOWS   256

static unsigned rnd_state;

static unsigned rnd(unsigned n)
{
	return sgt_rand(&rnd_state, n);
}

static const char *const ep_v4[N_EP] = { "10.0.0.10", "10.0.0.11", "10.0.1.12" };
static const char *const ep_v6[N_EP] = { "fd00::10", "fd00::11", "fd00:0:0:1::12" };
static const uint8_t ep0_mac[6] = { 0x0a, 0, 0, 0, 0, 0x10 };

static const char *const pool_v4[] = {
	"10.0.0.10", "10.0.0.11", "10.0.1.12", "10.0.5.7", "10.1.2.3", "10.200.1.1",
	"192.168.1.1", "192.168.50.2", "203.0.113.9", "8.8.8.8", "172.16.0.5", "169.254.169.254",
};
static const char *const pool_v6[] = {
	"fd00::10", "fd00::11", "fd00:0:0:1::12", "fd00:1::1", "fd00:1:2::3", "2001:db8::1",
	"2001:db8:5::9", "2600::1", "fd00:ec2::254",
};
#define NPOOL4 (sizeof(pool_v4) / sizeof(pool_v4[0]))
#define NPOOL6 (sizeof(pool_v6) / sizeof(pool_v6[0]))

/* A random prefix of a pool address: prefixes nest and overlap by design. */
static void rand_cidr(char *buf, size_t len, uint8_t fam)
{
	static const int l4[] = { 0, 8, 16, 24, 32, 32 };
	static const int l6[] = { 0, 16, 32, 48, 64, 128, 128 };
	struct sg_cidr c;
	char tmp[80];

	if (fam == V4)
		snprintf(tmp, sizeof(tmp), "%s/%d", pool_v4[rnd(NPOOL4)], l4[rnd(6)]);
	else
		snprintf(tmp, sizeof(tmp), "%s/%d", pool_v6[rnd(NPOOL6)], l6[rnd(7)]);
	c = tp_cidr(tmp);                 /* canonicalises host bits */
	sg_cidr_format(&c, buf, len);
}

static void rand_rule(struct sg_policy *p, const char *sg)
{
	static const int protos[] = { 6, 6, 6, 17, 17, 1, 58, -1, 50, 132 };
	static const int ranges[][2] = { { 80, 80 }, { 0, 65535 }, { 1000, 2000 }, { 53, 53 },
					 { 443, 443 }, { 20000, 40000 } };
	static const int t4[] = { -1, 8, 0, 3, 13 }, t6[] = { -1, 128, 129, 2 };
	int proto = protos[rnd(10)], from = -1, to = -1;
	bool egress = rnd(2);
	uint8_t fam = rnd(2) ? V6 : V4;
	char src[80];
	unsigned k = rnd(20);

	if (proto == 6 || proto == 17) {
		unsigned r = rnd(6);

		from = ranges[r][0];
		to = ranges[r][1];
	} else if (proto == 1) {
		from = t4[rnd(5)];
		to = from == -1 ? -1 : (rnd(2) ? -1 : 0);
		fam = V4;
	} else if (proto == 58) {
		from = t6[rnd(4)];
		to = from == -1 ? -1 : (rnd(2) ? -1 : 0);
		fam = V6;
	}
	if (k < 14)
		rand_cidr(src, sizeof(src), fam);
	else if (k < 17)
		snprintf(src, sizeof(src), "%s", fam == V4 ? "pl-4a" : "pl-6a");
	else
		snprintf(src, sizeof(src), "sg-%u", rnd(N_SG + 1)); /* sg-5 is undefined */
	tp_rule(p, sg, egress, proto, from, to, src);
}

static void rand_policy(struct sg_policy *p)
{
	char name[32], sg[16], addrs[200], sgs[64];
	char c1[80], c2[80];

	tp_init(p);
	for (unsigned g = 0; g < N_SG; g++) {
		unsigned n = rnd(9);

		snprintf(sg, sizeof(sg), "sg-%u", g);
		tp_group(p, sg);
		for (unsigned i = 0; i < n; i++)
			rand_rule(p, sg);
	}
	/* Untracked combinations: /0 both ways, for one protocol and family. */
	if (rnd(3) == 0) {
		bool v6 = rnd(2);
		int proto = rnd(3) == 0 ? -1 : (rnd(2) ? 6 : 17);
		const char *zero = v6 ? "::/0" : "0.0.0.0/0";

		snprintf(sg, sizeof(sg), "sg-%u", rnd(N_SG));
		tp_rule(p, sg, false, proto, proto == -1 ? -1 : (rnd(2) ? 0 : 80),
			proto == -1 ? -1 : 65535, zero);
		snprintf(sg, sizeof(sg), "sg-%u", rnd(N_SG));
		tp_rule(p, sg, true, proto, proto == -1 ? -1 : 0, proto == -1 ? -1 : 65535, zero);
	}
	rand_cidr(c1, sizeof(c1), V4);
	rand_cidr(c2, sizeof(c2), V4);
	snprintf(addrs, sizeof(addrs), "%s,%s", c1, c2);
	tp_plist(p, "pl-4a", addrs);
	rand_cidr(c1, sizeof(c1), V6);
	tp_plist(p, "pl-6a", c1);
	for (unsigned e = 0; e < N_EP; e++) {
		unsigned a = rnd(N_SG), b = rnd(N_SG);

		snprintf(name, sizeof(name), "ns/e%u", e);
		if (a == b)
			snprintf(sgs, sizeof(sgs), "sg-%u", a);
		else
			snprintf(sgs, sizeof(sgs), "sg-%u,sg-%u", a, b);
		snprintf(addrs, sizeof(addrs), "%s,%s", ep_v4[e], ep_v6[e]);
		tp_endpoint(p, name, sgs, addrs, e == 0 ? "0a:00:00:00:00:10" : NULL);
	}
	tp_member(p, "sg-2", "10.0.5.7,fd00:1::1");
	tp_exempt(p, "169.254.169.254/32,fd00:ec2::254/128");
	p->node.exempt_dhcp = false;
}

struct flow {
	uint32_t ep;
	uint8_t dir, fam, proto;
	uint8_t local[16], remote[16];
	uint16_t lport, rport, id;
	int stage;                 /* TCP: 0 SYN sent, 1 SYN+ACK seen, 2 open */
	int next_stage;            /* taken when the packet just built passes */
	bool opened;               /* the first packet passed */
	bool done;
};

static void rand_addr(uint8_t fam, uint8_t *out)
{
	struct sg_addr a = tp_addr(fam == V4 ? pool_v4[rnd(NPOOL4)] : pool_v6[rnd(NPOOL6)]);

	memcpy(out, a.addr, 16);
}

static uint16_t rand_port(void)
{
	static const uint16_t common[] = { 80, 443, 53, 1000, 2000, 20000, 40000, 0, 65535 };

	switch (rnd(3)) {
	case 0:
		return common[rnd(9)];
	case 1:
		return (uint16_t)(1000 + rnd(1001));
	default:
		return (uint16_t)(1024 + rnd(64000));
	}
}

static void new_flow(struct flow *f)
{
	static const uint8_t protos[] = { 6, 6, 6, 17, 17, 1, 50, 132 };
	struct sg_addr own;

	memset(f, 0, sizeof(*f));
	f->ep = rnd(N_EP);
	f->dir = rnd(2) ? OUT : IN;
	f->fam = rnd(2) ? V6 : V4;
	f->proto = protos[rnd(8)];
	if (f->proto == 1 && f->fam == V6)
		f->proto = 58;
	own = tp_addr(f->fam == V4 ? ep_v4[f->ep] : ep_v6[f->ep]);
	memcpy(f->local, own.addr, 16);
	if (rnd(25) == 0)
		rand_addr(f->fam, f->local);  /* spoofed / wrong destination */
	rand_addr(f->fam, f->remote);
	f->lport = rand_port();
	f->rport = rand_port();
	/* DHCP is covered by its own test; keep it out of the comparison. */
	if (f->lport == 67 || f->lport == 68)
		f->lport = 69;
	if (f->rport == 67 || f->rport == 68)
		f->rport = 69;
	f->id = (uint16_t)rnd(65536);
}

/* Build the next packet of f (orig = in the flow's own direction). */
static void flow_packet(struct flow *f, bool orig, struct sg_pkt_spec *s, struct ref_pkt *k)
{
	uint8_t dir = orig ? f->dir : (uint8_t)!f->dir;
	const uint8_t *src = dir == OUT ? f->local : f->remote;
	const uint8_t *dst = dir == OUT ? f->remote : f->local;
	uint16_t sport = dir == OUT ? f->lport : f->rport;
	uint16_t dport = dir == OUT ? f->rport : f->lport;
	bool icmp = f->proto == 1 || f->proto == 58;

	sg_pkt_init(s, f->fam, f->proto);
	memcpy(s->src, src, 16);
	memcpy(s->dst, dst, 16);
	if (f->proto == 6 || f->proto == 17) {
		s->sport = sport;
		s->dport = dport;
	}
	/* TCP moves on only when the packet passes (see commit_packet), and
	 * only along valid handshakes: the datapath may refuse invalid state
	 * transitions, which the reference does not model. */
	f->next_stage = f->stage;
	if (f->proto == 6) {
		if (f->stage == 0) {
			s->tcp_flags = orig ? SG_TCP_SYN : SG_TCP_SYN | SG_TCP_ACK;
			if (!orig)
				f->next_stage = 1;
		} else if (f->stage == 1) {
			s->tcp_flags = orig ? SG_TCP_ACK : SG_TCP_SYN | SG_TCP_ACK;
			if (orig)
				f->next_stage = 2;
		} else {
			unsigned r = rnd(20);

			s->tcp_flags = SG_TCP_ACK | SG_TCP_PSH;
			if (r == 0) {
				s->tcp_flags = SG_TCP_RST;
				f->done = true;
			} else if (r == 1) {
				s->tcp_flags = SG_TCP_FIN | SG_TCP_ACK;
				f->done = true;
			}
			s->payload_len = (uint16_t)rnd(200);
		}
	}
	if (icmp) {
		bool v6 = f->fam == V6;

		s->icmp_type = orig ? (v6 ? 128 : 8) : (v6 ? 129 : 0);
		s->icmp_id = f->id;
		s->icmp_seq = (uint16_t)rnd(100);
	}
	if (f->proto == 17 || f->proto == 50 || f->proto == 132)
		s->payload_len = (uint16_t)rnd(100);
	if (dir == OUT && f->ep == 0 && rnd(30))
		memcpy(s->src_mac, ep0_mac, 6);

	memset(k, 0, sizeof(*k));
	k->ep = f->ep;
	k->dir = dir;
	k->family = f->fam;
	k->proto = f->proto;
	memcpy(k->src, s->src, 16);
	memcpy(k->dst, s->dst, 16);
	memcpy(k->src_mac, s->src_mac, 6);
	k->sport = s->sport;
	k->dport = s->dport;
	k->tcp_flags = s->tcp_flags;
	k->icmp_type = s->icmp_type;
	k->icmp_code = s->icmp_code;
	k->icmp_id = s->icmp_id;
	k->hop_limit = s->ttl;
}

/* Neighbour discovery with a random mix of valid and invalid hop limits
 * and addresses (link-local, link multicast, ::, global). */
static void nd_packet(struct sg_pkt_spec *s, struct ref_pkt *k)
{
	static const char *const locals[] = { NULL, "fe80::10", "::", "ff02::1:ff00:10" };
	static const char *const remotes[] = { NULL, "fe80::1", "ff02::1", "ff02::2", "::" };
	const char *l = locals[rnd(4)], *r = remotes[rnd(5)];
	uint8_t *ls = k->dir == OUT ? s->src : s->dst, *rs = k->dir == OUT ? s->dst : s->src;

	s->icmp_type = k->icmp_type = (uint8_t)(133 + rnd(5));
	if (l)
		memcpy(ls, tp_addr(l).addr, 16);
	if (r)
		memcpy(rs, tp_addr(r).addr, 16);
	s->ttl = rnd(4) ? 255 : 64;
	memcpy(k->src, s->src, 16);
	memcpy(k->dst, s->dst, 16);
	k->hop_limit = s->ttl;
}

static void describe(const struct ref_pkt *k, char *buf, size_t len)
{
	struct sg_addr a = { .family = k->family }, b = { .family = k->family };
	char sa[64], sb[64];

	memcpy(a.addr, k->src, 16);
	memcpy(b.addr, k->dst, 16);
	snprintf(buf, len, "ep %u %s proto %u %s:%u -> %s:%u flags %#x icmp %u/%u id %u",
		 k->ep, k->dir == OUT ? "out" : "in", k->proto, sg_addr_format(&a, sa, sizeof(sa)),
		 k->sport, sg_addr_format(&b, sb, sizeof(sb)), k->dport, k->tcp_flags,
		 k->icmp_type, k->icmp_code, k->icmp_id);
}

static const char *rname(bool allow, int reason)
{
	return allow ? sgbpf_allow_reason_name((unsigned)reason) :
		       sgbpf_drop_reason_name((unsigned)reason);
}

/* SGBPF_DIFF_TRACE=N prints round N's policy and every packet of it. */
static int trace_round(void)
{
	const char *s = getenv("SGBPF_DIFF_TRACE");

	return s ? atoi(s) : -1;
}

static void print_policy(const struct sg_policy *p)
{
	char buf[80];

	for (size_t g = 0; g < p->n_groups; g++)
		for (size_t i = 0; i < p->groups[g].n_rules; i++) {
			const struct sg_rule *r = &p->groups[g].rules[i];

			printf("  %s %s proto %d %d..%d %s\n", p->groups[g].id,
			       r->egress ? "out" : "in", r->proto, r->port_from, r->port_to,
			       r->kind == SG_SRC_CIDR ? sg_cidr_format(&r->cidr, buf, sizeof(buf)) :
			       r->ref_id);
		}
	for (size_t e = 0; e < p->n_endpoints; e++) {
		printf("  endpoint %zu:", e);
		for (size_t i = 0; i < p->endpoints[e].n_sgs; i++)
			printf(" %s", p->endpoints[e].sgs[i]);
		printf("\n");
	}
	for (size_t l = 0; l < p->n_prefix_lists; l++) {
		printf("  %s:", p->prefix_lists[l].id);
		for (size_t i = 0; i < p->prefix_lists[l].n_cidrs; i++)
			printf(" %s", sg_cidr_format(&p->prefix_lists[l].cidrs[i], buf, sizeof(buf)));
		printf("\n");
	}
}

static void test_differential(void)
{
	unsigned seed = sgt_seed(), mismatches = 0, packets = 0, allowed = 0, swaps = 0;
	struct flow *flows = calloc(MAX_FLOWS, sizeof(*flows));
	size_t n_flows = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(flows);
	rnd_state = seed ? seed : 1;
	for (int round = 0; round < ROUNDS && mismatches < 8; round++) {
		struct sg_policy p, p2;
		struct ref_model *m;
		uint32_t ep_ids[N_EP];
		bool have_p2 = false;
		struct th t;

		rand_policy(&p);
		CU_ASSERT_EQUAL_FATAL(th_open(&t, true), 0);
		if (th_apply(&t, &p)) {
			th_check(0, "round %d: applying the random policy failed; seed %u", round,
				 seed);
			th_close(&t);
			sg_policy_free(&p);
			break;
		}
		for (unsigned e = 0; e < N_EP; e++) {
			char name[16];

			snprintf(name, sizeof(name), "ns/e%u", e);
			ep_ids[e] = th_ep(&t, name);
		}
		m = ref_new(&p);
		n_flows = 0;
		if (round == trace_round()) {
			printf("\nround %d policy:\n", round);
			print_policy(&p);
		}

		for (int i = 0; i < PER_ROUND && mismatches < 8; i++) {
			struct sg_pkt_spec s;
			struct ref_pkt k;
			struct ref_verdict want;
			struct th_res got;
			struct flow *f = NULL;
			unsigned what = rnd(100);
			char desc[256];

			/* Mid-round policy change: conntrack must carry over. */
			if (i == PER_ROUND / 2 && rnd(3) == 0) {
				rand_policy(&p2);
				if (th_apply(&t, &p2)) {
					th_check(0, "round %d: swapping policies failed; seed %u",
						 round, seed);
					sg_policy_free(&p2);
					break;
				}
				ref_set_policy(m, &p2);
				have_p2 = true;
				if (round == trace_round()) {
					printf("round %d policy after the swap:\n", round);
					print_policy(&p2);
				}
				swaps++;
			}
			if (what < 40 || n_flows == 0) {
				if (n_flows == MAX_FLOWS)
					n_flows = 0;
				f = &flows[n_flows++];
				new_flow(f);
				flow_packet(f, true, &s, &k);
			} else if (what < 95) {
				f = &flows[rnd((unsigned)n_flows)];
				if (f->done) {
					new_flow(f);
					flow_packet(f, true, &s, &k);
				} else {
					/* A refused TCP opening is only retried. */
					flow_packet(f, (f->proto == 6 && !f->opened) || rnd(2), &s, &k);
				}
			} else {
				/* Neighbour discovery, or traffic with an exempt address. */
				struct flow nd;

				new_flow(&nd);
				nd.fam = V6;
				nd.proto = 58;
				memcpy(nd.local, tp_addr(ep_v6[nd.ep]).addr, 16);
				flow_packet(&nd, true, &s, &k);
				if (rnd(2)) {
					nd_packet(&s, &k);
				} else {
					memcpy(k.dir == OUT ? s.dst : s.src,
					       tp_addr("fd00:ec2::254").addr, 16);
					memcpy(k.dir == OUT ? k.dst : k.src,
					       tp_addr("fd00:ec2::254").addr, 16);
				}
			}
			ref_eval(m, &k, &want);
			if (th_send(&t, ep_ids[k.ep], k.dir, &s, &got)) {
				th_check(0, "test_run failed; seed %u", seed);
				mismatches++;
				continue;
			}
			packets++;
			allowed += got.pass;
			if (f && got.pass) {
				f->stage = f->next_stage;
				f->opened = true;
			}
			describe(&k, desc, sizeof(desc));
			if (round == trace_round())
				printf("  %3d %s: %s %s / ref %s %s\n", i, desc,
				       got.pass ? "allow" : "drop",
				       got.has_ev ? rname(got.pass, got.ev.reason) : "-",
				       want.allow ? "allow" : "drop", rname(want.allow, want.reason));
			if (got.pass != want.allow ||
			    (got.has_ev && got.ev.reason != want.reason) || !got.has_ev) {
				mismatches++;
				th_check(0, "round %d packet %d: %s: datapath %s (%s), reference %s (%s); "
					 "seed %u", round, i, desc, got.pass ? "allow" : "drop",
					 got.has_ev ? rname(got.pass, got.ev.reason) : "no event",
					 want.allow ? "allow" : "drop", rname(want.allow, want.reason),
					 seed);
				continue;
			}
			/* The rule an event names must itself allow the packet. */
			if (got.pass && (got.ev.reason == SGBPF_ALLOW_RULE ||
					 got.ev.reason == SGBPF_ALLOW_UNTRACKED)) {
				const struct sg_policy *cur = have_p2 ? &p2 : &p;
				bool ok = got.ev.rule_id < t.comp.n_rules &&
					  ref_rule_allows(cur, t.comp.rules[got.ev.rule_id].src, &k);

				if (!ok) {
					mismatches++;
					th_check(0, "round %d packet %d: %s: event names rule %u, which "
						 "does not allow it; seed %u", round, i, desc,
						 got.ev.rule_id, seed);
				}
			}
		}
		ref_free(m);
		th_close(&t);
		sg_policy_free(&p);
		if (have_p2)
			sg_policy_free(&p2);
	}
	printf("\n    %u packets (%u allowed), %u mid-round swaps, seed %u ", packets, allowed,
	       swaps, seed);
	th_check(packets >= ROUNDS * PER_ROUND || mismatches, "only %u packets ran", packets);
	th_check(allowed > packets / 10 && allowed < packets, "degenerate mix: %u of %u allowed",
		 allowed, packets);
	free(flows);
}

static CU_TestInfo diff_tests[] = {
	{ "differential", test_differential },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-diff", NULL, NULL, diff_tests);
