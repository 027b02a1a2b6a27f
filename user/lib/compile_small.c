// SPDX-License-Identifier: BSD-2-Clause
/*
 * The compiler's small tables -- ep_addrs, node_addrs, exempt, slot_config --
 * the built-in defaults, capacity messages and key-byte sorting helpers.
 * See docs/compiled-form.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "compile_int.h"

const char *const sg_default_exempt[] = {
	"169.254.169.254/32",   /* instance metadata        */
	"169.254.169.123/32",   /* Time Sync Service        */
	"169.254.169.253/32",   /* Route 53 Resolver (link-local) */
	"169.254.170.2/32",     /* ECS task metadata        */
	"fd00:ec2::254/128",    /* instance metadata, IPv6  */
	"fd00:ec2::123/128",    /* Time Sync, IPv6          */
	"fd00:ec2::253/128",    /* Route 53 Resolver, IPv6  */
	NULL,
};

const uint32_t sg_default_timeouts_s[SGBPF_TO_MAX] = {
	[SGBPF_TO_TCP_ESTABLISHED] = 432000,
	[SGBPF_TO_TCP_SYN] = 60,
	[SGBPF_TO_TCP_FIN] = 120,
	[SGBPF_TO_TCP_CLOSED] = 10,
	[SGBPF_TO_UDP] = 30,
	[SGBPF_TO_UDP_STREAM] = 180,
	[SGBPF_TO_ICMP] = 60,
	[SGBPF_TO_OTHER] = 600,
	[SGBPF_TO_FRAG] = 30,
};

int cc_too_big(struct sg_diags *diags, const char *table, size_t count, size_t limit,
	       const char *what)
{
	sg_diag_add(diags, SG_ERROR, NULL, NULL,
		    "%s: the policy needs %zu entries but a policy slot holds at most %zu; %s",
		    table, count, limit, what);
	return -E2BIG;
}

/*
 * Sort parallel key/value arrays by key bytes (memcmp order). LSD radix sort
 * over the key bytes, skipping byte positions that are equal in every key
 * (padding, slot, high bytes of prefixlen): a few linear passes instead of an
 * O(n log n) memcmp sort. One instance per table so record copies have a
 * constant size. (rule_trie and port_trie need no sort: compile.c writes
 * them in key-byte order.)
 */
#define DEFINE_SORT_PAIRS(name, ktype, vtype)                                    \
static int name(ktype *keys, vtype *vals, size_t n)                             \
{                                                                               \
	struct rec { ktype k; vtype v; } *a, *b, *t;                            \
	size_t (*hist)[256];                                                    \
                                                                                \
	if (n < 2)                                                              \
		return 0;                                                       \
	a = malloc(n * sizeof(*a));                                             \
	b = malloc(n * sizeof(*b));                                             \
	hist = calloc(sizeof(ktype), sizeof(*hist));                            \
	if (!a || !b || !hist) {                                                \
		free(a);                                                        \
		free(b);                                                        \
		free(hist);                                                     \
		return -ENOMEM;                                                 \
	}                                                                       \
	for (size_t i = 0; i < n; i++) {                                        \
		const uint8_t *kb = (const uint8_t *)&keys[i];                  \
                                                                                \
		a[i].k = keys[i];                                               \
		a[i].v = vals[i];                                               \
		for (size_t j = 0; j < sizeof(ktype); j++)                      \
			hist[j][kb[j]]++;                                       \
	}                                                                       \
	for (size_t j = sizeof(ktype); j-- > 0;) {                              \
		size_t pos[256], sum = 0;                                       \
                                                                                \
		if (hist[j][((const uint8_t *)&a[0].k)[j]] == n)                \
			continue; /* every key has the same byte here */        \
		for (int c = 0; c < 256; c++) {                                 \
			pos[c] = sum;                                           \
			sum += hist[j][c];                                      \
		}                                                               \
		for (size_t i = 0; i < n; i++)                                  \
			b[pos[((const uint8_t *)&a[i].k)[j]]++] = a[i];         \
		t = a;                                                          \
		a = b;                                                          \
		b = t;                                                          \
	}                                                                       \
	for (size_t i = 0; i < n; i++) {                                        \
		keys[i] = a[i].k;                                               \
		vals[i] = a[i].v;                                               \
	}                                                                       \
	free(a);                                                                \
	free(b);                                                                \
	free(hist);                                                             \
	return 0;                                                               \
}

DEFINE_SORT_PAIRS(sort_addr_entries, struct sgbpf_addr_key, struct sgbpf_addr_val)
DEFINE_SORT_PAIRS(sort_exempt_entries, struct sgbpf_exempt_key, struct sgbpf_exempt_val)

DEFINE_SORT_PAIRS(sort_ep_entries_, struct sgbpf_ep_key, struct sgbpf_ep_val)
DEFINE_SORT_PAIRS(sort_probe_entries, struct sgbpf_probe_key, struct sgbpf_probe_val)

/* Drop the repeats from n sorted keys of size bytes each, keeping the first
 * of each run (the tables using it have one value for every key, so values
 * need no moving). Returns how many keys remain. */
static size_t dedup_sorted_keys(void *keys, size_t n, size_t size)
{
	uint8_t *k = keys;
	size_t w = 0;

	for (size_t i = 1; i < n; i++)
		if (memcmp(k + w * size, k + i * size, size))
			memcpy(k + ++w * size, k + i * size, size);
	return n ? w + 1 : 0;
}

int cc_sort_ep_entries(struct sgbpf_ep_key *keys, struct sgbpf_ep_val *vals, size_t n)
{
	return sort_ep_entries_(keys, vals, n);
}

/* Text CIDR -> sg_cidr for the built-in lists (no dependency on the parser). */
static int cidr_from_text(const char *text, struct sg_cidr *out)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : 0;

	memset(out, 0, sizeof(*out));
	if (!slash || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = SGBPF_AF_V4;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = SGBPF_AF_V6;
	else
		return -EINVAL;
	out->plen = (uint8_t)atoi(slash + 1);
	return cidr_ok(out) ? 0 : -EINVAL;
}

static const struct sg_endpoint *ep_by_id(const struct sg_compiled *out, uint32_t id)
{
	for (size_t i = 0; i < out->n_endpoints; i++)
		if (out->endpoints[i].ep_id == id)
			return out->endpoints[i].src;
	return NULL;
}

int cc_build_addrs(const struct sg_policy *pol, struct sg_compiled *out, struct sg_diags *diags)
{
	size_t total = 0, k = 0;

	for (size_t i = 0; i < pol->n_endpoints; i++)
		total += pol->endpoints[i].n_addrs;
	out->addr_keys = calloc(total ? total : 1, sizeof(*out->addr_keys));
	out->addr_vals = calloc(total ? total : 1, sizeof(*out->addr_vals));
	if (!out->addr_keys || !out->addr_vals)
		return -ENOMEM;
	for (size_t i = 0; i < pol->n_endpoints; i++) {
		const struct sg_endpoint *ep = &pol->endpoints[i];

		for (size_t j = 0; j < ep->n_addrs; j++) {
			if (ep->addrs[j].family >= SGBPF_AF_MAX)
				continue;
			out->addr_keys[k].family = ep->addrs[j].family;
			memcpy(out->addr_keys[k].addr, ep->addrs[j].addr,
			       ep->addrs[j].family == SGBPF_AF_V6 ? 16 : 4);
			out->addr_vals[k].ep_id = out->endpoints[i].ep_id;
			k++;
		}
	}
	if (sort_addr_entries(out->addr_keys, out->addr_vals, k))
		return -ENOMEM;
	if (k) {
		/* an address listed twice by one endpoint is one entry; by two, an error */
		size_t w = 0;

		for (size_t i = 1; i < k; i++) {
			if (memcmp(&out->addr_keys[w], &out->addr_keys[i], sizeof(*out->addr_keys))) {
				w++;
				out->addr_keys[w] = out->addr_keys[i];
				out->addr_vals[w] = out->addr_vals[i];
				continue;
			}
			if (out->addr_vals[w].ep_id != out->addr_vals[i].ep_id) {
				const struct sg_endpoint *a = ep_by_id(out, out->addr_vals[w].ep_id);
				const struct sg_endpoint *b = ep_by_id(out, out->addr_vals[i].ep_id);
				char buf[INET6_ADDRSTRLEN];

				inet_ntop(out->addr_keys[i].family == SGBPF_AF_V6 ? AF_INET6 : AF_INET,
					  out->addr_keys[i].addr, buf, sizeof(buf));
				sg_diag_add(diags, SG_ERROR, b->origin.file, b->origin.path,
					    "address %s belongs to both endpoint %s and endpoint %s; an address has one owner",
					    buf, a->name ? a->name : "?", b->name ? b->name : "?");
				return -EINVAL;
			}
		}
		k = w + 1;
	}
	out->n_addr = k;
	if (k > SGBPF_MAX_EP_ADDRS / SGBPF_NUM_SLOTS)
		return cc_too_big(diags, "ep_addrs", k, SGBPF_MAX_EP_ADDRS / SGBPF_NUM_SLOTS,
				  "fewer endpoint addresses per node (SGBPF_MAX_EP_ADDRS)");

	/* node_addrs */
	total = pol->node.n_addrs;
	out->node_keys = calloc(total ? total : 1, sizeof(*out->node_keys));
	out->node_vals = calloc(total ? total : 1, sizeof(*out->node_vals));
	if (!out->node_keys || !out->node_vals)
		return -ENOMEM;
	k = 0;
	for (size_t i = 0; i < total; i++) {
		const struct sg_addr *a = &pol->node.addrs[i];

		if (a->family >= SGBPF_AF_MAX)
			continue;
		out->node_keys[k].family = a->family;
		memcpy(out->node_keys[k].addr, a->addr, a->family == SGBPF_AF_V6 ? 16 : 4);
		out->node_vals[k].ep_id = SGBPF_RULE_NONE;
		k++;
	}
	if (sort_addr_entries(out->node_keys, out->node_vals, k))
		return -ENOMEM;
	k = dedup_sorted_keys(out->node_keys, k, sizeof(*out->node_keys));
	out->n_node = k;
	if (k > SGBPF_MAX_EP_ADDRS / SGBPF_NUM_SLOTS)
		return cc_too_big(diags, "node_addrs", k, SGBPF_MAX_EP_ADDRS / SGBPF_NUM_SLOTS,
				  "list fewer node addresses");
	return 0;
}

/* A VLAN id names one branch ENI, so one pod, on the node's trunk (sgbpfd
 * --trunk keys the trunk's entries by it): two endpoints with one id is a
 * stale or mixed-up endpoints document. (n <= SGBPF_MAX_ENDPOINTS: pairs.) */
int cc_check_vlans(const struct sg_compiled *out, struct sg_diags *diags)
{
	for (size_t i = 0; i < out->n_endpoints; i++) {
		const struct sg_endpoint *a = out->endpoints[i].src;

		if (a->vlan_id <= 0)
			continue;
		for (size_t j = i + 1; j < out->n_endpoints; j++) {
			const struct sg_endpoint *b = out->endpoints[j].src;

			if (b->vlan_id != a->vlan_id)
				continue;
			sg_diag_add(diags, SG_ERROR, b->origin.file, b->origin.path,
				    "VLAN id %d belongs to both endpoint %s and endpoint %s; a branch "
				    "ENI's VLAN id names one pod on the trunk", a->vlan_id,
				    a->name ? a->name : "?", b->name ? b->name : "?");
			return -EINVAL;
		}
	}
	return 0;
}

/* probe_ports: every endpoint's kubelet probe ports, deduplicated. */
int cc_build_probes(struct sg_compiled *out, struct sg_diags *diags)
{
	size_t total = 0, k = 0;

	for (size_t i = 0; i < out->n_endpoints; i++)
		total += out->endpoints[i].src->n_probe_ports;
	out->probe_keys = calloc(total ? total : 1, sizeof(*out->probe_keys));
	out->probe_vals = calloc(total ? total : 1, sizeof(*out->probe_vals));
	if (!out->probe_keys || !out->probe_vals)
		return -ENOMEM;
	for (size_t i = 0; i < out->n_endpoints; i++) {
		const struct sg_compiled_endpoint *ce = &out->endpoints[i];

		for (size_t j = 0; j < ce->src->n_probe_ports; j++) {
			out->probe_keys[k].ep_id = ce->ep_id;
			out->probe_keys[k].port = ce->src->probe_ports[j];
			k++;
		}
	}
	if (sort_probe_entries(out->probe_keys, out->probe_vals, k))
		return -ENOMEM;
	k = dedup_sorted_keys(out->probe_keys, k, sizeof(*out->probe_keys));
	out->n_probe = k;
	if (k > SGBPF_MAX_PROBE_PORTS / SGBPF_NUM_SLOTS)
		return cc_too_big(diags, "probe_ports", k, SGBPF_MAX_PROBE_PORTS / SGBPF_NUM_SLOTS,
				  "list fewer probe ports per node (SGBPF_MAX_PROBE_PORTS)");
	return 0;
}

int cc_build_exempt(const struct sg_node *node, struct sg_compiled *out, struct sg_diags *diags)
{
	size_t n_def = 0, cap, k = 0;

	while (sg_default_exempt[n_def])
		n_def++;
	cap = (node->has_exempt ? node->n_exempt : n_def) + 4 * node->n_vpc_cidrs;
	out->exempt_keys = calloc(cap ? cap : 1, sizeof(*out->exempt_keys));
	out->exempt_vals = calloc(cap ? cap : 1, sizeof(*out->exempt_vals));
	if (!out->exempt_keys || !out->exempt_vals)
		return -ENOMEM;

	for (size_t i = 0; i < (node->has_exempt ? node->n_exempt : n_def); i++) {
		struct sg_cidr c;
		struct cc_pfx p;

		if (node->has_exempt) {
			c = node->exempt[i];
		} else if (cidr_from_text(sg_default_exempt[i], &c)) {
			sg_diag_add(diags, SG_ERROR, NULL, NULL,
				    "built-in exempt entry \"%s\" is not a CIDR", sg_default_exempt[i]);
			return -EINVAL;
		}
		if (!cidr_ok(&c)) {
			sg_diag_add(diags, SG_ERROR, NULL, "node.exempt",
				    "entry %zu is not a valid CIDR (family %u, length %u)",
				    i, c.family, c.plen);
			return -EINVAL;
		}
		cidr_to_pfx(&c, &p);
		out->exempt_keys[k].prefixlen = SGBPF_EXEMPT_KEY_FIXED_BITS + p.plen;
		out->exempt_keys[k].family = c.family;
		memcpy(out->exempt_keys[k].addr, p.addr, 16);
		k++;
	}
	/* VPC reserved addresses: network, router, DNS (base+2), future use (base+3) */
	for (size_t i = 0; i < node->n_vpc_cidrs; i++) {
		const struct sg_cidr *c = &node->vpc_cidrs[i];
		struct cc_pfx base;
		unsigned last;

		if (!cidr_ok(c)) {
			sg_diag_add(diags, SG_ERROR, NULL, "node.vpcCidrs",
				    "entry %zu is not a valid CIDR (family %u, length %u)",
				    i, c->family, c->plen);
			return -EINVAL;
		}
		cidr_to_pfx(c, &base);
		last = c->family == SGBPF_AF_V6 ? 15 : 3;
		for (unsigned off = 0; off < 4; off++) {
			struct sgbpf_exempt_key *key = &out->exempt_keys[k++];

			key->prefixlen = SGBPF_EXEMPT_KEY_FIXED_BITS + fam_bits(c->family);
			key->family = c->family;
			memcpy(key->addr, base.addr, 16);
			/* base has at least 2 host bits in any sane VPC; add with carry anyway */
			for (int b = (int)last, carry = (int)off; b >= 0 && carry; b--) {
				int v = key->addr[b] + carry;

				key->addr[b] = (uint8_t)v;
				carry = v >> 8;
			}
		}
	}
	if (sort_exempt_entries(out->exempt_keys, out->exempt_vals, k))
		return -ENOMEM;
	k = dedup_sorted_keys(out->exempt_keys, k, sizeof(*out->exempt_keys));
	out->n_exempt = k;
	if (k > SGBPF_MAX_EXEMPT / SGBPF_NUM_SLOTS)
		return cc_too_big(diags, "exempt", k, SGBPF_MAX_EXEMPT / SGBPF_NUM_SLOTS,
				  "shorten node.exempt / node.vpcCidrs");
	return 0;
}

void cc_build_slot_config(const struct sg_node *node, struct sg_compiled *out)
{
	struct sgbpf_slot_config *cfg = &out->config;

	cfg->generation = 0;
	for (int i = 0; i < SGBPF_TO_MAX; i++)
		/* 0 = unset (a model built without sg_node_defaults): EC2 default */
		cfg->timeouts_s[i] = node->timeouts_s[i] ? node->timeouts_s[i] : sg_default_timeouts_s[i];
	if (node->icmp_related)
		cfg->flags |= SGBPF_CFG_ICMP_RELATED;
	if (node->mode == SG_MODE_STANDARD)
		cfg->flags |= SGBPF_CFG_MODE_STANDARD;
	if (node->events_allow)
		cfg->flags |= SGBPF_CFG_EVENTS_ALLOW;
	if (node->exempt_dhcp)
		cfg->flags |= SGBPF_CFG_EXEMPT_DHCP;
	if (node->strict_reevaluation)
		cfg->flags |= SGBPF_CFG_STRICT_REEVAL;
	cfg->n_rules = (uint32_t)out->n_rules;
}
