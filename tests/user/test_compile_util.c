// SPDX-License-Identifier: BSD-2-Clause
/* Helpers for the compiler tests; see test_compile_util.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_compile_util.h"

/* ---- reference evaluation ---- */

static bool prefix_has(const uint8_t *net, unsigned plen, const uint8_t *a)
{
	for (unsigned i = 0; i < plen; i++) {
		unsigned byte = i / 8, bit = 7 - i % 8;

		if (((net[byte] >> bit) & 1) != ((a[byte] >> bit) & 1))
			return false;
	}
	return true;
}

static bool cidr_has(const struct sg_cidr *c, int family, const uint8_t *a)
{
	return c->family == family && prefix_has(c->addr, c->plen, a);
}

static bool addrs_have(const struct sg_addr *addrs, size_t n, int family, const uint8_t *a)
{
	for (size_t i = 0; i < n; i++)
		if (addrs[i].family == family &&
		    !memcmp(addrs[i].addr, a, family == SGBPF_AF_V6 ? 16 : 4))
			return true;
	return false;
}

static bool remote_matches(const struct sg_policy *pol, const struct sg_rule *r,
			   const struct tc_pkt *pkt, bool *zero)
{
	*zero = false;
	switch (r->kind) {
	case SG_SRC_CIDR:
		*zero = r->cidr.plen == 0;
		return cidr_has(&r->cidr, pkt->family, pkt->remote);
	case SG_SRC_PREFIX_LIST: {
		bool hit = false;

		for (size_t i = 0; i < pol->n_prefix_lists; i++) {
			const struct sg_prefix_list *pl = &pol->prefix_lists[i];

			if (strcmp(pl->id, r->ref_id))
				continue;
			for (size_t j = 0; j < pl->n_cidrs; j++)
				if (cidr_has(&pl->cidrs[j], pkt->family, pkt->remote)) {
					hit = true;
					if (pl->cidrs[j].plen == 0)
						*zero = true;
				}
		}
		return hit;
	}
	case SG_SRC_GROUP: {
		/* members: endpoints carrying the group, plus "members" entries,
		 * whether or not the group itself is defined */
		for (size_t i = 0; i < pol->n_endpoints; i++) {
			const struct sg_endpoint *ep = &pol->endpoints[i];

			for (size_t j = 0; j < ep->n_sgs; j++)
				if (!strcmp(ep->sgs[j], r->ref_id) &&
				    addrs_have(ep->addrs, ep->n_addrs, pkt->family, pkt->remote))
					return true;
		}
		for (size_t i = 0; i < pol->n_members; i++)
			if (!strcmp(pol->members[i].sg, r->ref_id) &&
			    addrs_have(pol->members[i].addrs, pol->members[i].n_addrs, pkt->family,
				       pkt->remote))
				return true;
		return false;
	}
	}
	return false;
}

bool tc_rule_allows(const struct sg_policy *pol, const struct sg_rule *r,
		    const struct tc_pkt *pkt, bool *zero)
{
	*zero = false;
	if (r->egress != (pkt->dir == SGBPF_DIR_OUT))
		return false;
	if (r->proto != -1 && r->proto != pkt->proto)
		return false;
	if (r->proto == 6 || r->proto == 17) {
		if (r->port_from >= 0 && (pkt->port < r->port_from || pkt->port > r->port_to))
			return false;
	} else if (r->proto == 1 || r->proto == 58) {
		if (r->port_from >= 0 && pkt->icmp_type != r->port_from)
			return false;
		if (r->port_from >= 0 && r->port_to >= 0 && pkt->icmp_code != r->port_to)
			return false;
	}
	return remote_matches(pol, r, pkt, zero);
}

bool tc_brute(const struct sg_policy *pol, const struct tc_pkt *pkt, bool *zero)
{
	bool allowed = false;

	*zero = false;
	for (size_t s = 0; s < pkt->ep->n_sgs; s++)
		for (size_t g = 0; g < pol->n_groups; g++) {
			if (strcmp(pol->groups[g].id, pkt->ep->sgs[s]))
				continue;
			for (size_t i = 0; i < pol->groups[g].n_rules; i++) {
				bool z;

				if (tc_rule_allows(pol, &pol->groups[g].rules[i], pkt, &z)) {
					allowed = true;
					*zero |= z;
				}
			}
		}
	return allowed;
}

/* ---- datapath simulation ---- */

/* Kernel LPM semantics: the entry with the longest prefixlen whose first
 * prefixlen data bits equal the lookup key's (up to the lookup's prefixlen). */
static long lpm(const void *keys, size_t n, size_t ksz, const void *lookup)
{
	const uint8_t *k = keys, *want = lookup;
	uint32_t max, best_len = 0;
	long best = -1;

	memcpy(&max, want, 4);
	for (size_t i = 0; i < n; i++) {
		uint32_t plen;

		memcpy(&plen, k + i * ksz, 4);
		if (plen > max || (best >= 0 && plen <= best_len))
			continue;
		if (prefix_has(k + i * ksz + 4, plen, want + 4)) {
			best = (long)i;
			best_len = plen;
		}
	}
	return best;
}

/* One port set's answer: the protocol's block, else the ANY block. */
static long set_lookup(const struct sg_compiled *c, uint32_t set_id, int proto, int port,
		       int *lookups)
{
	struct sgbpf_port_key pk = { 0 };
	long i;

	if (set_id == SGBPF_SET_NONE)
		return -1;
	pk.prefixlen = SGBPF_PORT_KEY_FIXED_BITS + 16;
	pk.proto = htons((uint16_t)proto);
	pk.set_id = htonl(set_id);
	pk.port = htons((uint16_t)port);
	(*lookups)++;
	i = lpm(c->port_keys, c->n_port_entries, sizeof(pk), &pk);
	if (i >= 0)
		return i;
	pk.proto = htons(SGBPF_PROTO_ANY);
	pk.port = 0;
	(*lookups)++;
	return lpm(c->port_keys, c->n_port_entries, sizeof(pk), &pk);
}

bool tc_sim(const struct sg_compiled *c, uint32_t ep_id, const struct tc_pkt *pkt,
	    bool base_first, uint32_t *rule_id, uint32_t *flags)
{
	struct sgbpf_rule_key rk = { 0 };
	uint32_t first, second;
	int port = 0, lookups = 0;
	long i;

	rk.prefixlen = SGBPF_RULE_KEY_FIXED_BITS + (pkt->family == SGBPF_AF_V6 ? 128 : 32);
	rk.dir = (uint8_t)pkt->dir;
	rk.family = (uint8_t)pkt->family;
	rk.ep_id = ep_id;
	memcpy(rk.addr, pkt->remote, pkt->family == SGBPF_AF_V6 ? 16 : 4);
	i = lpm(c->rule_keys, c->n_rule_entries, sizeof(rk), &rk);
	if (i < 0)
		return false;
	if (pkt->proto == 6 || pkt->proto == 17)
		port = pkt->port;
	else if ((pkt->proto == 1 && pkt->family == SGBPF_AF_V4) ||
		 (pkt->proto == 58 && pkt->family == SGBPF_AF_V6))
		port = pkt->icmp_type << 8 | pkt->icmp_code;
	first = base_first ? c->rule_vals[i].base_set_id : c->rule_vals[i].set_id;
	second = base_first ? c->rule_vals[i].set_id : c->rule_vals[i].base_set_id;
	i = set_lookup(c, first, pkt->proto, port, &lookups);
	if (i < 0)
		i = set_lookup(c, second, pkt->proto, port, &lookups);
	if (lookups > 4) {
		fprintf(stderr, "test: %d port_trie lookups, the datapath allows 4\n", lookups);
		abort();
	}
	if (i < 0)
		return false;
	*rule_id = c->port_vals[i].rule_id;
	*flags = c->port_vals[i].flags;
	return true;
}

const char *tc_trie_malformed(const struct sg_compiled *c)
{
	const char *bad = NULL;
	bool *is_base;

	for (size_t i = 0; i < c->n_rule_entries; i++) {
		const struct sgbpf_rule_key *k = &c->rule_keys[i];
		const struct sgbpf_rule_val *v = &c->rule_vals[i];
		bool zero_entry = false;

		if (v->set_id == SGBPF_SET_NONE && v->base_set_id == SGBPF_SET_NONE)
			return "a rule_trie entry with neither set";
		if ((v->set_id != SGBPF_SET_NONE && v->set_id >= c->n_sets) ||
		    (v->base_set_id != SGBPF_SET_NONE && v->base_set_id >= c->n_sets))
			return "a rule_trie entry names a set that does not exist";
		if ((v->set_id == SGBPF_SET_NONE) != (k->prefixlen == SGBPF_RULE_KEY_FIXED_BITS))
			return "only the /0 entry has no specific set";
		/* the same base set across the (ep, dir, family), and a /0 entry */
		for (size_t j = 0; j < c->n_rule_entries; j++) {
			const struct sgbpf_rule_key *o = &c->rule_keys[j];

			if (o->ep_id != k->ep_id || o->dir != k->dir || o->family != k->family)
				continue;
			if (c->rule_vals[j].base_set_id != v->base_set_id)
				return "base set differs within one endpoint, direction and family";
			zero_entry |= o->prefixlen == SGBPF_RULE_KEY_FIXED_BITS;
		}
		if (v->base_set_id != SGBPF_SET_NONE && !zero_entry)
			return "base set without a /0 entry";
	}
	/* base blocks, and only they, carry the /0 flag */
	is_base = calloc(c->n_sets ? c->n_sets : 1, sizeof(*is_base));
	if (!is_base)
		return "out of memory";
	for (size_t j = 0; j < c->n_rule_entries; j++)
		if (c->rule_vals[j].base_set_id != SGBPF_SET_NONE)
			is_base[c->rule_vals[j].base_set_id] = true;
	for (size_t i = 0; i < c->n_port_entries && !bad; i++) {
		uint32_t id = ntohl(c->port_keys[i].set_id);

		if (id >= c->n_sets ||
		    is_base[id] != !!(c->port_vals[i].flags & SGBPF_PORT_ZERO_PREFIX))
			bad = "the /0 flag does not mark exactly the base sets' blocks";
	}
	free(is_base);
	return bad;
}

#define DIFF(field, n, name)                                                  \
	do {                                                                  \
		if (a->n != b->n || (a->n && memcmp(a->field, b->field, a->n * sizeof(*a->field)))) \
			return name;                                          \
	} while (0)

const char *tc_tables_differ(const struct sg_compiled *a, const struct sg_compiled *b)
{
	if (memcmp(&a->config, &b->config, sizeof(a->config)))
		return "slot_config";
	DIFF(ep_keys, n_ep, "ep_config keys");
	DIFF(ep_vals, n_ep, "ep_config values");
	DIFF(addr_keys, n_addr, "ep_addrs keys");
	DIFF(addr_vals, n_addr, "ep_addrs values");
	DIFF(node_keys, n_node, "node_addrs keys");
	DIFF(node_vals, n_node, "node_addrs values");
	DIFF(rule_keys, n_rule_entries, "rule_trie keys");
	DIFF(rule_vals, n_rule_entries, "rule_trie values");
	DIFF(port_keys, n_port_entries, "port_trie keys");
	DIFF(port_vals, n_port_entries, "port_trie values");
	DIFF(exempt_keys, n_exempt, "exempt keys");
	DIFF(exempt_vals, n_exempt, "exempt values");
	if (a->n_sets != b->n_sets || a->n_rules != b->n_rules)
		return "counts";
	return NULL;
}

static bool sorted(const void *keys, size_t n, size_t ksz)
{
	const uint8_t *k = keys;

	for (size_t i = 1; i < n; i++)
		if (memcmp(k + (i - 1) * ksz, k + i * ksz, ksz) >= 0)
			return false;
	return true;
}

const char *tc_tables_unsorted(const struct sg_compiled *c)
{
	if (!sorted(c->ep_keys, c->n_ep, sizeof(*c->ep_keys)))
		return "ep_config";
	if (!sorted(c->addr_keys, c->n_addr, sizeof(*c->addr_keys)))
		return "ep_addrs";
	if (!sorted(c->node_keys, c->n_node, sizeof(*c->node_keys)))
		return "node_addrs";
	if (!sorted(c->rule_keys, c->n_rule_entries, sizeof(*c->rule_keys)))
		return "rule_trie";
	if (!sorted(c->port_keys, c->n_port_entries, sizeof(*c->port_keys)))
		return "port_trie";
	if (!sorted(c->exempt_keys, c->n_exempt, sizeof(*c->exempt_keys)))
		return "exempt";
	return NULL;
}

double tc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
