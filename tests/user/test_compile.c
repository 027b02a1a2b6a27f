// SPDX-License-Identifier: BSD-2-Clause
/*
 * The compiler against a brute-force evaluation of the raw rules: random
 * policies (both families, nested prefixes, referenced groups, prefix lists,
 * -1 rules, ICMP wildcards, duplicates) and random packets, evaluated once by
 * iterating every rule of the endpoint's SGs and once by simulating the
 * datapath's lookups over the compiled tables, in both orders (specific set
 * first, base set first).
 * Reproduce a failure with SGBPF_TEST_SEED=<seed printed>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "../lib/testlib.h"
#include "test_compile_util.h"

#define N_POLICIES 400
#define N_PACKETS  250

static const int v4_plens[] = { 0, 8, 16, 22, 23, 24, 25, 26, 28, 30, 31, 32, 32, 32 };
static const int v6_plens[] = { 0, 8, 16, 64, 100, 112, 116, 120, 124, 126, 127, 128, 128 };
#define PICK(s, arr) (arr[tc_rand(s) % (sizeof(arr) / sizeof(arr[0]))])

static void rand_v4(uint64_t *s, char *buf, size_t len)
{
	if (tc_rand(s) % 10 == 0)
		snprintf(buf, len, "192.168.%u.%u", tc_rand(s) % 2, tc_rand(s) % 256);
	else
		snprintf(buf, len, "10.0.%u.%u", tc_rand(s) % 4, tc_rand(s) % 256);
}

static void rand_v6(uint64_t *s, char *buf, size_t len)
{
	if (tc_rand(s) % 10 == 0)
		snprintf(buf, len, "2001:db8::%x", tc_rand(s) % 256);
	else
		snprintf(buf, len, "fd00::%x:%x", tc_rand(s) % 4, tc_rand(s) % 256);
}

static void rand_cidr(uint64_t *s, int family, char *buf, size_t len)
{
	char a[64];

	if (family == SGBPF_AF_V4) {
		rand_v4(s, a, sizeof(a));
		snprintf(buf, len, "%s/%d", a, PICK(s, v4_plens));
	} else {
		rand_v6(s, a, sizeof(a));
		snprintf(buf, len, "%s/%d", a, PICK(s, v6_plens));
	}
}

static int rand_port(uint64_t *s)
{
	switch (tc_rand(s) % 8) {
	case 0:
		return 65535;
	case 1:
		return 1000 + (int)(tc_rand(s) % 8);
	default:
		return (int)(tc_rand(s) % 24);
	}
}

static const char *const group_ids[] = { "sg-a", "sg-b", "sg-c", "sg-d", "sg-e", "sg-f" };

static void rand_rule(uint64_t *s, struct sg_group *g, int n_groups)
{
	static const int icmp_types[] = { -1, 0, 3, 8, 11 };
	static const int icmp_codes[] = { -1, -1, 0, 1, 4 };
	bool egress = tc_rand(s) % 2;
	int proto, from = -1, to = -1, fam = tc_rand(s) % 2, k = tc_rand(s) % 20;
	char src[80];
	struct sg_rule *r;

	if (k < 6)
		proto = 6;
	else if (k < 10)
		proto = 17;
	else if (k < 12)
		proto = 1;
	else if (k < 14)
		proto = 58;
	else if (k < 17)
		proto = -1;
	else
		proto = k == 17 ? 50 : 132;
	if (proto == 6 || proto == 17) {
		if (tc_rand(s) % 8 == 0) {
			from = 0;
			to = 65535;
		} else {
			from = rand_port(s);
			to = from + (int)(tc_rand(s) % 12);
			if (to > 65535)
				to = 65535;
		}
	} else if (proto == 1 || proto == 58) {
		from = PICK(s, icmp_types);
		to = from < 0 ? -1 : PICK(s, icmp_codes);
	}
	k = tc_rand(s) % 10;
	if (k < 6)
		rand_cidr(s, fam, src, sizeof(src));
	else if (k < 8)
		snprintf(src, sizeof(src), "%s", (const char *[]){ "pl-v4a", "pl-v4b", "pl-v6a" }[tc_rand(s) % 3]);
	else if (k < 9)
		snprintf(src, sizeof(src), "%s", group_ids[tc_rand(s) % n_groups]);
	else
		snprintf(src, sizeof(src), "%s", tc_rand(s) % 3 ? group_ids[tc_rand(s) % n_groups] : "sg-undefined");
	r = tc_rule(g, egress, proto, from, to, src);
	if (tc_rand(s) % 3 == 0)
		r->description = strdup(tc_rand(s) % 2 ? "one" : "two");
}

static bool used_addr(const struct sg_policy *p, const char *text)
{
	struct sg_addr a;

	sg_addr_parse(text, &a);
	for (size_t i = 0; i < p->n_endpoints; i++)
		for (size_t j = 0; j < p->endpoints[i].n_addrs; j++)
			if (!memcmp(&p->endpoints[i].addrs[j], &a, sizeof(a)))
				return true;
	return false;
}

static void rand_policy(uint64_t *s, struct sg_policy *p)
{
	int n_groups = 2 + (int)(tc_rand(s) % 5), n_eps = 2 + (int)(tc_rand(s) % 5);
	char buf[80];

	sg_policy_init(p);
	for (int i = 0; i < n_groups; i++)
		tc_group(p, group_ids[i]);
	for (int i = 0; i < n_groups; i++) {
		int n = (int)(tc_rand(s) % 14);

		for (int j = 0; j < n; j++) {
			rand_rule(s, &p->groups[i], n_groups);
			/* exact duplicates must collapse */
			if (tc_rand(s) % 12 == 0) {
				/* copy first: tc_rule may move the rules array */
				struct sg_rule r = p->groups[i].rules[p->groups[i].n_rules - 1];
				struct sg_rule *d;
				char src[80];

				if (r.kind == SG_SRC_CIDR)
					sg_cidr_format(&r.cidr, src, sizeof(src));
				else
					snprintf(src, sizeof(src), "%s", r.ref_id);
				d = tc_rule(&p->groups[i], r.egress, r.proto, r.port_from, r.port_to, src);
				if (r.description)
					d->description = strdup(r.description);
			}
		}
	}
	/* many rules on one prefix (the compiler's general sweep path) */
	if (tc_rand(s) % 3 == 0) {
		struct sg_group *g = &p->groups[tc_rand(s) % n_groups];
		int n = 9 + (int)(tc_rand(s) % 8), fam = tc_rand(s) % 2;
		bool egress = tc_rand(s) % 2;

		rand_cidr(s, fam, buf, sizeof(buf));
		for (int j = 0; j < n; j++) {
			int from = rand_port(s), proto = j % 4 == 3 ? 17 : 6;
			int to = from + (int)(tc_rand(s) % 6);

			tc_rule(g, egress, proto, from, to > 65535 ? 65535 : to, buf);
		}
		if (tc_rand(s) % 2)
			tc_rule(g, egress, -1, -1, -1, buf);
	}
	for (int f = 0; f < 3; f++) {
		struct sg_prefix_list *pl = tc_pl(p, (const char *[]){ "pl-v4a", "pl-v4b", "pl-v6a" }[f],
						  f < 2 ? SGBPF_AF_V4 : SGBPF_AF_V6);
		int n = 1 + (int)(tc_rand(s) % 4);

		for (int j = 0; j < n; j++) {
			rand_cidr(s, pl->family, buf, sizeof(buf));
			tc_pl_add(pl, buf);
		}
	}
	for (int i = 0; i < n_eps; i++) {
		struct sg_endpoint *ep;
		int n;

		snprintf(buf, sizeof(buf), "ns/pod-%d", i);
		ep = tc_ep(p, buf);
		n = 1 + (int)(tc_rand(s) % 3);
		for (int j = 0; j < n; j++)
			tc_ep_sg(ep, group_ids[tc_rand(s) % n_groups]);
		n = 1 + (int)(tc_rand(s) % 3);
		for (int j = 0; j < n; j++) {
			if (j == 2 || tc_rand(s) % 3 == 0)
				rand_v6(s, buf, sizeof(buf));
			else
				rand_v4(s, buf, sizeof(buf));
			if (!used_addr(p, buf))
				tc_ep_addr(&p->endpoints[i], buf);
		}
	}
	for (int i = 0, n = (int)(tc_rand(s) % 4); i < n; i++) {
		/* members of defined groups, and of a group known only by members */
		struct sg_member *m = tc_member(p, tc_rand(s) % 4 ? group_ids[tc_rand(s) % n_groups]
							      : "sg-undefined");

		rand_v4(s, buf, sizeof(buf));
		tc_member_addr(m, buf);
		rand_v6(s, buf, sizeof(buf));
		tc_member_addr(m, buf);
	}
}

static void rand_remote(uint64_t *s, const struct sg_policy *p, int family, uint8_t out[16])
{
	char buf[80];
	struct sg_addr a;

	memset(out, 0, 16);
	if (tc_rand(s) % 5 < 2) {
		/* an endpoint's or member's own address, so group references hit */
		const struct sg_addr *list;
		size_t n;

		if (p->n_members && tc_rand(s) % 3 == 0) {
			const struct sg_member *m = &p->members[tc_rand(s) % p->n_members];

			list = m->addrs;
			n = m->n_addrs;
		} else {
			const struct sg_endpoint *ep = &p->endpoints[tc_rand(s) % p->n_endpoints];

			list = ep->addrs;
			n = ep->n_addrs;
		}
		for (size_t i = 0; i < n; i++)
			if (list[i].family == family) {
				memcpy(out, list[i].addr, 16);
				return;
			}
	}
	if (family == SGBPF_AF_V4)
		rand_v4(s, buf, sizeof(buf));
	else
		rand_v6(s, buf, sizeof(buf));
	sg_addr_parse(buf, &a);
	memcpy(out, a.addr, 16);
}

static void rand_packet(uint64_t *s, const struct sg_policy *p, const struct sg_compiled *c,
			struct tc_pkt *pkt, uint32_t *ep_id)
{
	static const int protos[] = { 6, 6, 6, 17, 17, -1, -1, 50, 132, 47 };
	static const int types[] = { 0, 3, 8, 11, 5 };
	static const int codes[] = { 0, 1, 4, 7 };
	size_t e = tc_rand(s) % p->n_endpoints;

	memset(pkt, 0, sizeof(*pkt));
	pkt->ep = &p->endpoints[e];
	*ep_id = c->endpoints[e].ep_id;
	pkt->dir = tc_rand(s) % 2;
	pkt->family = tc_rand(s) % 2;
	rand_remote(s, p, pkt->family, pkt->remote);
	pkt->proto = PICK(s, protos);
	if (pkt->proto < 0)
		pkt->proto = pkt->family == SGBPF_AF_V4 ? 1 : 58;
	pkt->port = rand_port(s);
	pkt->icmp_type = PICK(s, types);
	pkt->icmp_code = PICK(s, codes);
}

static void describe_pkt(const struct tc_pkt *pkt, char *buf, size_t len)
{
	struct sg_addr a = { .family = (uint8_t)pkt->family };
	char text[64];

	memcpy(a.addr, pkt->remote, 16);
	sg_addr_format(&a, text, sizeof(text));
	snprintf(buf, len, "%s %s remote %s proto %d port %d icmp %d/%d", pkt->ep->name,
		 pkt->dir ? "out" : "in", text, pkt->proto, pkt->port, pkt->icmp_type,
		 pkt->icmp_code);
}

static bool same_rule(const struct sg_rule *a, const struct sg_rule *b)
{
	return a->egress == b->egress && a->proto == b->proto && a->port_from == b->port_from &&
	       a->port_to == b->port_to && a->kind == b->kind &&
	       (a->kind == SG_SRC_CIDR ? !memcmp(&a->cidr, &b->cidr, sizeof(a->cidr))
				       : !strcmp(a->ref_id, b->ref_id)) &&
	       !strcmp(a->description ? a->description : "", b->description ? b->description : "");
}

static bool ep_has_sg(const struct sg_endpoint *ep, const char *sg)
{
	for (size_t i = 0; i < ep->n_sgs; i++)
		if (!strcmp(ep->sgs[i], sg))
			return true;
	return false;
}

/* Spec 3.4: the family whose whole address space (0.0.0.0/0 or ::/0) a raw
 * rule's remote covers, written as a CIDR or as a prefix-list entry; -1 if none. */
static int raw_zero_family(const struct sg_policy *p, const struct sg_rule *r)
{
	if (r->kind == SG_SRC_CIDR)
		return r->cidr.plen == 0 ? r->cidr.family : -1;
	for (size_t l = 0; r->kind == SG_SRC_PREFIX_LIST && l < p->n_prefix_lists; l++) {
		const struct sg_prefix_list *pl = &p->prefix_lists[l];

		if (strcmp(pl->id, r->ref_id))
			continue;
		for (size_t c = 0; c < pl->n_cidrs; c++)
			if (pl->cidrs[c].plen == 0)
				return pl->cidrs[c].family;
	}
	return -1;
}

/* A base-set rule in this family: its remote covers the whole family. */
static bool is_base_rule(const struct sg_policy *p, const struct sg_rule *r, int family)
{
	if (r->kind == SG_SRC_CIDR)
		return r->cidr.plen == 0 && r->cidr.family == family;
	for (size_t l = 0; r->kind == SG_SRC_PREFIX_LIST && l < p->n_prefix_lists; l++) {
		const struct sg_prefix_list *pl = &p->prefix_lists[l];

		for (size_t c = 0; !strcmp(pl->id, r->ref_id) && c < pl->n_cidrs; c++)
			if (pl->cidrs[c].plen == 0 && pl->cidrs[c].family == family)
				return true;
	}
	return false;
}

/* Does a non-base rule of the endpoint allow pkt? */
static bool specific_allows(const struct sg_policy *p, const struct sg_compiled_endpoint *ce,
			    const struct sg_compiled *c, const struct tc_pkt *pkt)
{
	for (size_t i = 0; i < ce->n_rule_ids[pkt->dir]; i++) {
		const struct sg_rule *r = c->rules[ce->rule_ids[pkt->dir][i]].src;
		bool z;

		if (!is_base_rule(p, r, pkt->family) && tc_rule_allows(p, r, pkt, &z))
			return true;
	}
	return false;
}

/* Effective rule lists and untracked bits against the raw policy. */
static int check_endpoints(const struct sg_policy *p, const struct sg_compiled *c,
			   unsigned seed, int iter)
{
	int bad = 0;

	for (size_t e = 0; e < c->n_endpoints; e++) {
		const struct sg_compiled_endpoint *ce = &c->endpoints[e];
		const struct sg_endpoint *ep = ce->src;
		uint32_t untrack = 0;

		for (int d = 0; d < SGBPF_DIR_MAX; d++) {
			size_t distinct = 0;

			for (size_t g = 0; g < p->n_groups; g++) {
				const struct sg_group *grp = &p->groups[g];

				if (!ep_has_sg(ep, grp->id))
					continue;
				for (size_t i = 0; i < grp->n_rules; i++) {
					const struct sg_rule *r = &grp->rules[i];
					bool dup = false;

					if (r->egress != (d == SGBPF_DIR_OUT))
						continue;
					for (size_t j = 0; j < i; j++)
						dup |= same_rule(&grp->rules[j], r);
					distinct += !dup;
					int fam = raw_zero_family(p, r);

					if (fam >= 0) {
						int opp = 1 - d;

						if (r->proto == -1)
							untrack |= SGBPF_EP_UNTRACK_BIT(opp, fam, 0) |
								   SGBPF_EP_UNTRACK_BIT(opp, fam, 1);
						else if ((r->proto == 6 || r->proto == 17) &&
							 r->port_from == 0 && r->port_to == 65535)
							untrack |= SGBPF_EP_UNTRACK_BIT(opp, fam, r->proto == 17);
					}
				}
			}
			if (distinct != ce->n_rule_ids[d]) {
				printf("\nseed %u policy %d: %s dir %d has %zu effective rules, expected %zu\n",
				       seed, iter, ep->name, d, ce->n_rule_ids[d], distinct);
				bad++;
			}
			for (size_t i = 0; i < ce->n_rule_ids[d]; i++) {
				const struct sg_compiled_rule *cr = &c->rules[ce->rule_ids[d][i]];

				if (!ep_has_sg(ep, cr->sg_id) || cr->src->egress != (d == SGBPF_DIR_OUT) ||
				    (i && ce->rule_ids[d][i - 1] >= ce->rule_ids[d][i])) {
					printf("\nseed %u policy %d: %s dir %d: rule %u does not belong\n",
					       seed, iter, ep->name, d, cr->rule_id);
					bad++;
				}
			}
		}
		if ((ce->val.flags & ~SGBPF_EP_HAS_MAC) != untrack) {
			printf("\nseed %u policy %d: %s untracked bits 0x%x, expected 0x%x\n", seed, iter,
			       ep->name, ce->val.flags, untrack);
			bad++;
		}
	}
	return bad;
}

static void test_random_vs_brute(void)
{
	unsigned seed = sgt_seed();
	uint64_t s = 0x9e3779b97f4a7c15ull ^ seed;
	long cases = 0, allowed = 0, zeros = 0, both = 0, failures = 0;

	for (int iter = 0; iter < N_POLICIES && failures < 5; iter++) {
		struct sg_policy p;
		struct sg_compiled c;
		struct sg_diags d;
		int err;

		rand_policy(&s, &p);
		sg_diags_init(&d);
		err = sg_compile(&p, NULL, &c, &d);
		if (err) {
			printf("\nseed %u policy %d: sg_compile failed: %d\n", seed, iter, err);
			sg_diags_print(&d, stdout);
			failures++;
			sg_diags_free(&d);
			sg_policy_free(&p);
			continue;
		}
		failures += check_endpoints(&p, &c, seed, iter);
		if (tc_tables_unsorted(&c)) {
			printf("\nseed %u policy %d: %s not sorted\n", seed, iter, tc_tables_unsorted(&c));
			failures++;
		}
		if (tc_trie_malformed(&c)) {
			printf("\nseed %u policy %d: %s\n", seed, iter, tc_trie_malformed(&c));
			failures++;
		}
		for (int k = 0; k < N_PACKETS && failures < 5; k++) {
			const struct sg_compiled_endpoint *ce;
			struct tc_pkt pkt;
			uint32_t ep_id;
			bool zero, want;
			char text[200];

			rand_packet(&s, &p, &c, &pkt, &ep_id);
			ce = &c.endpoints[pkt.ep - p.endpoints];
			want = tc_brute(&p, &pkt, &zero);
			cases++;
			allowed += want;
			zeros += want && zero;
			describe_pkt(&pkt, text, sizeof(text));
			/* both lookup orders: specific first (every verdict), base
			 * first (the untracked check of TCP/UDP) */
			for (int base_first = 0; base_first < 2; base_first++) {
				uint32_t rid = 0, flags = 0;
				bool got, from_base, z;

				got = tc_sim(&c, ep_id, &pkt, base_first, &rid, &flags);
				/* both sets allow it: the order decides the answer */
				both += base_first && got && zero && specific_allows(&p, ce, &c, &pkt);
				if (want != got) {
					printf("\nseed %u policy %d: %s: brute force %s, compiled %s (%s first)\n",
					       seed, iter, text, want ? "allow" : "deny",
					       got ? "allow" : "deny", base_first ? "base" : "specific");
					failures++;
					break;
				}
				if (!got)
					continue;
				from_base = flags & SGBPF_PORT_ZERO_PREFIX;
				if (rid >= c.n_rules || !ep_has_sg(pkt.ep, c.rules[rid].sg_id) ||
				    !tc_rule_allows(&p, c.rules[rid].src, &pkt, &z) ||
				    is_base_rule(&p, c.rules[rid].src, pkt.family) != from_base) {
					printf("\nseed %u policy %d: %s: rule %u does not allow it from the %s set\n",
					       seed, iter, text, rid, from_base ? "base" : "specific");
					failures++;
					break;
				}
				/* the lowest allowing rule of the set that answered, and
				 * the other set answers only when the first can't */
				for (size_t i = 0; i < ce->n_rule_ids[pkt.dir]; i++) {
					uint32_t other = ce->rule_ids[pkt.dir][i];
					bool other_base = is_base_rule(&p, c.rules[other].src, pkt.family);

					if (!tc_rule_allows(&p, c.rules[other].src, &pkt, &z))
						continue;
					if ((other_base == from_base && other < rid) ||
					    (other_base != from_base && other_base == (bool)base_first)) {
						printf("\nseed %u policy %d: %s: got rule %u (%s set, %s first) but %u allows it too\n",
						       seed, iter, text, rid, from_base ? "base" : "specific",
						       base_first ? "base" : "specific", other);
						failures++;
						break;
					}
				}
				/* base first: the /0 flag says whether any /0 rule allows it */
				if (base_first && from_base != zero) {
					printf("\nseed %u policy %d: %s: zero-prefix flag %d, expected %d\n",
					       seed, iter, text, from_base, zero);
					failures++;
				}
			}
		}
		sg_compiled_free(&c);
		sg_diags_free(&d);
		sg_policy_free(&p);
	}
	printf("\n    %ld random cases (%ld allowed, %ld via /0, %ld by both sets), seed %u\n",
	       cases, allowed, zeros, both, seed);
	CU_ASSERT_EQUAL(failures, 0);
	CU_ASSERT(cases >= N_POLICIES * N_PACKETS / 2);
	/* the generator must exercise both outcomes and the /0 flag */
	CU_ASSERT(allowed > cases / 20 && allowed < cases - cases / 20);
	CU_ASSERT(zeros > 0);
	CU_ASSERT(both > 0);
}

static CU_TestInfo random_tests[] = {
	{ "random policies vs brute force", test_random_vs_brute },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("compile-random", NULL, NULL, random_tests);
