// SPDX-License-Identifier: BSD-2-Clause
/*
 * Reference evaluator written from the spec text (see ref_model.h). It is
 * deliberately naive: every packet walks every rule of every group of the
 * endpoint, and conntrack is a flat array searched linearly. Its value is
 * that it shares no logic or data structure with the compiler or datapath.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_model.h"

struct ref_ct {
	uint32_t ep;
	uint8_t family, proto;
	uint8_t local[16], remote[16];
	uint16_t lport, rport;
	struct ref_pkt first;      /* the packet that created the entry     */
};

struct ref_model {
	const struct sg_policy *p;
	struct ref_ct *ct;
	size_t n_ct, cap_ct;
};

static size_t alen(uint8_t family)
{
	return family == SGBPF_AF_V4 ? 4 : 16;
}

/* Spec 4.1 defaults, used when the policy does not replace the list. */
static const char *const spec_exempt[] = {
	"169.254.169.254/32", "169.254.169.123/32", "169.254.170.2/32", "fd00:ec2::254/128",
};

struct ref_model *ref_new(const struct sg_policy *p)
{
	struct ref_model *m = calloc(1, sizeof(*m));

	if (!m)
		abort();
	m->p = p;
	return m;
}

void ref_set_policy(struct ref_model *m, const struct sg_policy *p)
{
	m->p = p;
}

void ref_forget(struct ref_model *m)
{
	m->n_ct = 0;
}

void ref_free(struct ref_model *m)
{
	if (!m)
		return;
	free(m->ct);
	free(m);
}

size_t ref_ct_count(const struct ref_model *m)
{
	return m->n_ct;
}

static bool prefix_has(uint8_t family, const uint8_t *net, unsigned plen, const uint8_t *addr)
{
	unsigned bits = (unsigned)alen(family) * 8;

	if (plen > bits)
		return false;
	for (unsigned i = 0; i < plen; i++) {
		unsigned byte = i / 8, bit = 7 - i % 8;

		if (((net[byte] >> bit) & 1) != ((addr[byte] >> bit) & 1))
			return false;
	}
	return true;
}

static bool cidr_has(const struct sg_cidr *c, uint8_t family, const uint8_t *addr)
{
	return c->family == family && prefix_has(family, c->addr, c->plen, addr);
}

static bool addr_eq(const struct sg_addr *a, uint8_t family, const uint8_t *addr)
{
	return a->family == family && !memcmp(a->addr, addr, alen(family));
}

static bool ep_in_group(const struct sg_endpoint *ep, const char *sg)
{
	for (size_t i = 0; i < ep->n_sgs; i++)
		if (!strcmp(ep->sgs[i], sg))
			return true;
	return false;
}

/* Spec 2.5: a referenced group matches its members' private addresses. */
static bool group_has(const struct sg_policy *p, const char *sg, uint8_t family,
		      const uint8_t *addr)
{
	for (size_t i = 0; i < p->n_endpoints; i++) {
		const struct sg_endpoint *ep = &p->endpoints[i];

		if (!ep_in_group(ep, sg))
			continue;
		for (size_t j = 0; j < ep->n_addrs; j++)
			if (addr_eq(&ep->addrs[j], family, addr))
				return true;
	}
	for (size_t i = 0; i < p->n_members; i++) {
		if (strcmp(p->members[i].sg, sg))
			continue;
		for (size_t j = 0; j < p->members[i].n_addrs; j++)
			if (addr_eq(&p->members[i].addrs[j], family, addr))
				return true;
	}
	return false;
}

static bool remote_matches(const struct sg_policy *p, const struct sg_rule *r, uint8_t family,
			   const uint8_t *remote)
{
	switch (r->kind) {
	case SG_SRC_CIDR:
		return cidr_has(&r->cidr, family, remote);
	case SG_SRC_PREFIX_LIST:
		for (size_t i = 0; i < p->n_prefix_lists; i++) {
			const struct sg_prefix_list *pl = &p->prefix_lists[i];

			if (strcmp(pl->id, r->ref_id))
				continue;
			for (size_t j = 0; j < pl->n_cidrs; j++)
				if (cidr_has(&pl->cidrs[j], family, remote))
					return true;
		}
		return false;
	case SG_SRC_GROUP:
		return group_has(p, r->ref_id, family, remote);
	}
	return false;
}

static bool is_echo(const struct ref_pkt *k)
{
	if (k->family == SGBPF_AF_V4 && k->proto == 1)
		return k->icmp_type == 8 || k->icmp_type == 0;
	if (k->family == SGBPF_AF_V6 && k->proto == 58)
		return k->icmp_type == 128 || k->icmp_type == 129;
	return false;
}

static bool is_echo_request(const struct ref_pkt *k)
{
	return is_echo(k) && (k->icmp_type == 8 || k->icmp_type == 128);
}

/* Spec 2.3/2.4 and 1.1: protocol, destination port / ICMP type+code. */
static bool ports_match(const struct sg_rule *r, const struct ref_pkt *k)
{
	if (r->proto == -1)
		return true;
	if (r->proto != k->proto)
		return false;
	switch (r->proto) {
	case 6:
	case 17:
		return k->dport >= r->port_from && k->dport <= r->port_to;
	case 1:
	case 58:
		if (r->port_from == -1)
			return true;
		if (k->icmp_type != r->port_from)
			return false;
		return r->port_to == -1 || k->icmp_code == r->port_to;
	default:
		return true;
	}
}

static const uint8_t *remote_of(const struct ref_pkt *k)
{
	return k->dir == SGBPF_DIR_IN ? k->src : k->dst;
}

static const uint8_t *local_of(const struct ref_pkt *k)
{
	return k->dir == SGBPF_DIR_IN ? k->dst : k->src;
}

bool ref_rule_allows(const struct sg_policy *p, const struct sg_rule *r,
		     const struct ref_pkt *pkt)
{
	if (r->egress != (pkt->dir == SGBPF_DIR_OUT))
		return false;
	return ports_match(r, pkt) && remote_matches(p, r, pkt->family, remote_of(pkt));
}

/* Calls fn for every rule of the endpoint's groups in direction dir; stops
 * when fn returns true. Spec 2.2: groups are unioned. */
static bool each_rule(const struct sg_policy *p, uint32_t ep, bool egress,
		      bool (*fn)(const struct sg_rule *r, void *ctx), void *ctx)
{
	const struct sg_endpoint *e = &p->endpoints[ep];

	for (size_t i = 0; i < e->n_sgs; i++) {
		for (size_t g = 0; g < p->n_groups; g++) {
			const struct sg_group *grp = &p->groups[g];

			if (strcmp(grp->id, e->sgs[i]))
				continue;
			for (size_t j = 0; j < grp->n_rules; j++)
				if (grp->rules[j].egress == egress && fn(&grp->rules[j], ctx))
					return true;
		}
	}
	return false;
}

struct match_ctx {
	const struct sg_policy *p;
	const struct ref_pkt *k;
	bool any;
	bool zero;                 /* an allowing rule's remote is a /0     */
};

/* Does the rule's remote cover all of 0.0.0.0/0 (::/0)? A CIDR /0, or a
 * prefix list holding a /0 entry; a group never does. */
static bool covers_zero(const struct sg_policy *p, const struct sg_rule *r, uint8_t family)
{
	if (r->kind == SG_SRC_CIDR)
		return r->cidr.family == family && r->cidr.plen == 0;
	if (r->kind != SG_SRC_PREFIX_LIST)
		return false;
	for (size_t i = 0; i < p->n_prefix_lists; i++) {
		const struct sg_prefix_list *pl = &p->prefix_lists[i];

		if (strcmp(pl->id, r->ref_id))
			continue;
		for (size_t j = 0; j < pl->n_cidrs; j++)
			if (pl->cidrs[j].family == family && pl->cidrs[j].plen == 0)
				return true;
	}
	return false;
}

static bool match_fn(const struct sg_rule *r, void *ctx)
{
	struct match_ctx *mc = ctx;

	if (!ref_rule_allows(mc->p, r, mc->k))
		return false;
	mc->any = true;
	if (covers_zero(mc->p, r, mc->k->family))
		mc->zero = true;
	return false;
}

struct reverse_ctx {
	const struct sg_policy *p;
	uint8_t family, proto;
};

/* Spec 3.4: the other direction allows every port of the protocol to/from /0. */
static bool reverse_fn(const struct sg_rule *r, void *ctx)
{
	struct reverse_ctx *rc = ctx;

	if (!covers_zero(rc->p, r, rc->family))
		return false;
	if (r->proto == -1)
		return true;
	return r->proto == rc->proto && r->port_from == 0 && r->port_to == 65535;
}

static void ct_key_of(const struct ref_pkt *k, struct ref_ct *c)
{
	memset(c, 0, sizeof(*c));
	c->ep = k->ep;
	c->family = k->family;
	c->proto = k->proto;
	memcpy(c->local, local_of(k), alen(k->family));
	memcpy(c->remote, remote_of(k), alen(k->family));
	if (k->proto == 6 || k->proto == 17) {
		c->lport = k->dir == SGBPF_DIR_IN ? k->dport : k->sport;
		c->rport = k->dir == SGBPF_DIR_IN ? k->sport : k->dport;
	} else if (is_echo(k)) {
		c->lport = k->icmp_id;
	}
}

static struct ref_ct *ct_find(struct ref_model *m, const struct ref_ct *key)
{
	for (size_t i = 0; i < m->n_ct; i++) {
		struct ref_ct *c = &m->ct[i];

		if (c->ep == key->ep && c->family == key->family && c->proto == key->proto &&
		    !memcmp(c->local, key->local, 16) && !memcmp(c->remote, key->remote, 16) &&
		    c->lport == key->lport && c->rport == key->rport)
			return c;
	}
	return NULL;
}

static bool exempt_has(const struct sg_policy *p, uint8_t family, const uint8_t *remote)
{
	if (p->node.has_exempt) {
		for (size_t i = 0; i < p->node.n_exempt; i++)
			if (cidr_has(&p->node.exempt[i], family, remote))
				return true;
	} else {
		for (size_t i = 0; i < sizeof(spec_exempt) / sizeof(spec_exempt[0]); i++) {
			struct sg_cidr c;
			bool hb;

			if (!sg_cidr_parse(spec_exempt[i], &c, &hb) && cidr_has(&c, family, remote))
				return true;
		}
	}
	/* Spec 4.1: the VPC router's reserved addresses, base + 0..3 (DNS = +2). */
	for (size_t i = 0; i < p->node.n_vpc_cidrs; i++) {
		const struct sg_cidr *v = &p->node.vpc_cidrs[i];
		uint8_t a[16];
		size_t n = alen(v->family);

		if (v->family != family)
			continue;
		memcpy(a, v->addr, 16);
		for (int d = 0; d < 4; d++) {
			a[n - 1] = (uint8_t)(v->addr[n - 1] + d);
			if (!memcmp(a, remote, n))
				return true;
		}
	}
	return false;
}

static bool ep_owns(const struct sg_endpoint *e, uint8_t family, const uint8_t *addr)
{
	for (size_t i = 0; i < e->n_addrs; i++)
		if (addr_eq(&e->addrs[i], family, addr))
			return true;
	return false;
}

static bool v6_link_local(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static bool v6_mcast_link(const uint8_t *a)
{
	return a[0] == 0xff && a[1] == 0x02;
}

static bool v6_unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, 16);
}

static bool node_owns(const struct sg_policy *p, uint8_t family, const uint8_t *addr)
{
	for (size_t i = 0; i < p->node.n_addrs; i++)
		if (addr_eq(&p->node.addrs[i], family, addr))
			return true;
	return false;
}

static void set(struct ref_verdict *v, bool allow, int reason)
{
	v->allow = allow;
	v->reason = reason;
}

void ref_eval(struct ref_model *m, const struct ref_pkt *k, struct ref_verdict *v)
{
	const struct sg_policy *p = m->p;
	const struct sg_endpoint *e = &p->endpoints[k->ep];
	struct match_ctx mc = { .p = p, .k = k };
	struct ref_ct key, *c;

	bool nd = k->family == SGBPF_AF_V6 && k->proto == 58 && k->icmp_type >= 133 &&
		  k->icmp_type <= 137;

	/* Spec 4.2 with RFC 4861: neighbour discovery is not subject to rules,
	 * but it is link-local traffic: the pod's end may be its link-local
	 * address (or :: for RS / DAD, a link multicast group inbound); the
	 * other end must be on the link (link-local, link multicast, the node;
	 * :: inbound); hop limit 255; a pod sends no RA (134) or redirect (137). */
	if (nd) {
		const uint8_t *local = local_of(k), *remote = remote_of(k);
		bool out = k->dir == SGBPF_DIR_OUT, local_ok, remote_ok;

		local_ok = ep_owns(e, k->family, local) || v6_link_local(local) ||
			   (out ? (k->icmp_type == 133 || k->icmp_type == 135) &&
				  v6_unspecified(local) : v6_mcast_link(local));
		if (!local_ok) {
			set(v, false, out ? SGBPF_DROP_SPOOF_SRC : SGBPF_DROP_WRONG_DST);
			return;
		}
		if (out && e->has_mac && memcmp(e->mac, k->src_mac, 6)) {
			set(v, false, SGBPF_DROP_SPOOF_MAC);
			return;
		}
		remote_ok = v6_link_local(remote) || node_owns(p, k->family, remote) ||
			    (out ? v6_mcast_link(remote) : v6_unspecified(remote));
		if (k->hop_limit != 255 || !remote_ok ||
		    (out && (k->icmp_type == 134 || k->icmp_type == 137))) {
			set(v, false, SGBPF_DROP_ND_INVALID);
			return;
		}
		set(v, true, SGBPF_ALLOW_NEIGH);
		return;
	}
	/* Spec 4.3: source/destination check before anything else (6.3). */
	if (k->dir == SGBPF_DIR_OUT) {
		if (!ep_owns(e, k->family, k->src)) {
			set(v, false, SGBPF_DROP_SPOOF_SRC);
			return;
		}
		if (e->has_mac && memcmp(e->mac, k->src_mac, 6)) {
			set(v, false, SGBPF_DROP_SPOOF_MAC);
			return;
		}
	} else if (!ep_owns(e, k->family, k->dst)) {
		set(v, false, SGBPF_DROP_WRONG_DST);
		return;
	}
	/* Spec 3.1/3.2: replies (and later packets) of a tracked flow. */
	ct_key_of(k, &key);
	c = ct_find(m, &key);
	if (c) {
		if (p->node.strict_reevaluation) {
			struct match_ctx oc = { .p = p, .k = &c->first };

			each_rule(p, k->ep, c->first.dir == SGBPF_DIR_OUT, match_fn, &oc);
			/* A flow the pod opened to an exempt address needs no rule. */
			if (!oc.any && c->first.dir == SGBPF_DIR_OUT &&
			    exempt_has(p, k->family, remote_of(&c->first))) {
				set(v, true, SGBPF_ALLOW_EXEMPT);
				return;
			}
			if (!oc.any) {
				set(v, false, SGBPF_DROP_STRICT_REEVAL);
				return;
			}
		}
		set(v, true, SGBPF_ALLOW_TRACKED);
		return;
	}
	/* Spec 4.1: the pod may always send to the exempt list; the flow is
	 * tracked so its replies come back. Inbound from those addresses is
	 * judged like anything else. */
	if (k->dir == SGBPF_DIR_OUT && exempt_has(p, k->family, remote_of(k))) {
		set(v, true, SGBPF_ALLOW_EXEMPT);
		goto track;
	}
	/* Spec 2.1-2.5: a new flow needs a rule of its direction. */
	each_rule(p, k->ep, k->dir == SGBPF_DIR_OUT, match_fn, &mc);
	if (!mc.any) {
		set(v, false, SGBPF_DROP_NO_RULE);
		return;
	}
	/* Spec 3.4: untracked when a /0 rule allows it and the other direction
	 * allows every port of the protocol to/from /0. */
	if ((k->proto == 6 || k->proto == 17) && mc.zero) {
		struct reverse_ctx rc = { .p = p, .family = k->family, .proto = k->proto };

		if (each_rule(p, k->ep, k->dir != SGBPF_DIR_OUT, reverse_fn, &rc)) {
			set(v, true, SGBPF_ALLOW_UNTRACKED);
			return;
		}
	}
	/* Spec 3.4, the replies: the packet turned around would be a flow the
	 * other way allowed by a /0 rule, and this direction allows every port
	 * of the protocol to /0 -- it answers an untracked flow, and is
	 * untracked too. Only TCP, whose bare SYN opens a flow and is never a
	 * reply; a UDP datagram can't be told from a new flow, so it is
	 * tracked. */
	if (k->proto == 6 && (k->tcp_flags & 0x12) != 0x02) {
		struct ref_pkt r = *k;
		struct match_ctx rm = { .p = p, .k = &r };
		struct reverse_ctx rc = { .p = p, .family = k->family, .proto = k->proto };

		r.dir = !k->dir;
		memcpy(r.src, k->dst, 16);
		memcpy(r.dst, k->src, 16);
		r.sport = k->dport;
		r.dport = k->sport;
		each_rule(p, k->ep, r.dir == SGBPF_DIR_OUT, match_fn, &rm);
		if (rm.zero && each_rule(p, k->ep, k->dir == SGBPF_DIR_OUT, reverse_fn, &rc)) {
			set(v, true, SGBPF_ALLOW_UNTRACKED);
			return;
		}
	}
	set(v, true, SGBPF_ALLOW_RULE);
track:
	/* A flow starts with its first packet; an ICMP message other than an
	 * echo request (an unsolicited echo reply, a timestamp, ...) is allowed
	 * but opens nothing that could admit a later request; nor does a RST. */
	if ((k->proto == 1 || k->proto == 58) && !is_echo_request(k))
		return;
	if (k->proto == 6 && (k->tcp_flags & 0x04))
		return;
	if (m->n_ct == m->cap_ct) {
		m->cap_ct = m->cap_ct ? m->cap_ct * 2 : 256;
		m->ct = realloc(m->ct, m->cap_ct * sizeof(*m->ct));
		if (!m->ct)
			abort();
	}
	key.first = *k;
	m->ct[m->n_ct++] = key;
}
