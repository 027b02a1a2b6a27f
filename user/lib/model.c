// SPDX-License-Identifier: BSD-2-Clause
/* The policy model: defaults, teardown, lookups and address helpers. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sgbpf/layout.h>

#include "model.h"

void sg_node_defaults(struct sg_node *node)
{
	/* EC2's conntrack defaults plus our [choice] values; see layout.h. */
	static const uint32_t timeouts[SGBPF_TO_MAX] = {
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

	_Static_assert(sizeof(node->timeouts_s) == sizeof(timeouts),
		       "sg_node.timeouts_s must have SGBPF_TO_MAX entries");
	memset(node, 0, sizeof(*node));
	node->mode = SG_MODE_STRICT;
	memcpy(node->timeouts_s, timeouts, sizeof(timeouts));
	node->icmp_related = true;
	node->strict_reevaluation = false;
	node->exempt_dhcp = true;
	node->events_allow = false;
}

void sg_policy_init(struct sg_policy *policy)
{
	memset(policy, 0, sizeof(*policy));
	sg_node_defaults(&policy->node);
}

static void origin_free(struct sg_origin *o)
{
	free(o->file);
	free(o->path);
	o->file = o->path = NULL;
}

void sg_policy_free(struct sg_policy *policy)
{
	size_t i, j;

	for (i = 0; i < policy->n_groups; i++) {
		struct sg_group *g = &policy->groups[i];

		for (j = 0; j < g->n_rules; j++) {
			free(g->rules[j].description);
			free(g->rules[j].rule_id);
			origin_free(&g->rules[j].origin);
		}
		free(g->rules);
		free(g->name);
		origin_free(&g->origin);
	}
	free(policy->groups);

	for (i = 0; i < policy->n_prefix_lists; i++) {
		free(policy->prefix_lists[i].cidrs);
		origin_free(&policy->prefix_lists[i].origin);
	}
	free(policy->prefix_lists);

	for (i = 0; i < policy->n_endpoints; i++) {
		struct sg_endpoint *ep = &policy->endpoints[i];

		free(ep->name);
		free(ep->interface);
		free(ep->addrs);
		free(ep->sgs);
		free(ep->probe_ports);
		origin_free(&ep->origin);
	}
	free(policy->endpoints);

	for (i = 0; i < policy->n_members; i++) {
		free(policy->members[i].addrs);
		origin_free(&policy->members[i].origin);
	}
	free(policy->members);

	free(policy->node.addrs);
	free(policy->node.exempt);
	free(policy->node.vpc_cidrs);
	free(policy->endpoints_doc_file);

	sg_policy_init(policy);
}

const struct sg_group *sg_policy_group(const struct sg_policy *policy, const char *id)
{
	for (size_t i = 0; i < policy->n_groups; i++)
		if (!strcmp(policy->groups[i].id, id))
			return &policy->groups[i];
	return NULL;
}

const struct sg_prefix_list *sg_policy_prefix_list(const struct sg_policy *policy,
						   const char *id)
{
	for (size_t i = 0; i < policy->n_prefix_lists; i++)
		if (!strcmp(policy->prefix_lists[i].id, id))
			return &policy->prefix_lists[i];
	return NULL;
}

const struct sg_endpoint *sg_policy_endpoint(const struct sg_policy *policy, const char *name)
{
	for (size_t i = 0; i < policy->n_endpoints; i++)
		if (policy->endpoints[i].name && !strcmp(policy->endpoints[i].name, name))
			return &policy->endpoints[i];
	return NULL;
}

static unsigned family_bits(uint8_t family)
{
	return family == SGBPF_AF_V4 ? 32 : 128;
}

/* Clear every bit of addr beyond plen; true if any was set. */
static bool mask_host_bits(uint8_t *addr, unsigned plen, unsigned bits)
{
	bool set = false;

	for (unsigned i = 0; i < bits / 8; i++) {
		unsigned first = i * 8;
		uint8_t keep;

		if (first >= plen)
			keep = 0;
		else if (first + 8 <= plen)
			keep = 0xff;
		else
			keep = (uint8_t)(0xff << (8 - (plen - first)));
		if (addr[i] & ~keep)
			set = true;
		addr[i] &= keep;
	}
	return set;
}

int sg_addr_parse(const char *text, struct sg_addr *out)
{
	struct sg_addr a;

	memset(&a, 0, sizeof(a));
	if (!text)
		return -EINVAL;
	if (inet_pton(AF_INET, text, a.addr) == 1) {
		a.family = SGBPF_AF_V4;
	} else if (strchr(text, ':') && inet_pton(AF_INET6, text, a.addr) == 1) {
		a.family = SGBPF_AF_V6;
	} else {
		return -EINVAL;
	}
	*out = a;
	return 0;
}

int sg_cidr_parse(const char *text, struct sg_cidr *out, bool *host_bits_set)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct sg_addr a;
	struct sg_cidr c;
	const char *slash;
	unsigned long plen = 0;
	size_t alen, i;

	if (!text)
		return -EINVAL;
	slash = strchr(text, '/');
	if (!slash)
		return -EINVAL;
	alen = (size_t)(slash - text);
	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	if (sg_addr_parse(buf, &a))
		return -EINVAL;
	/* Decimal prefix length only: no sign, spaces or leading zeros. */
	slash++;
	if (!*slash || strlen(slash) > 3 || (slash[0] == '0' && slash[1]))
		return -EINVAL;
	for (i = 0; slash[i]; i++) {
		if (slash[i] < '0' || slash[i] > '9')
			return -EINVAL;
		plen = plen * 10 + (unsigned long)(slash[i] - '0');
	}
	if (plen > family_bits(a.family))
		return -EINVAL;

	memset(&c, 0, sizeof(c));
	c.family = a.family;
	c.plen = (uint8_t)plen;
	memcpy(c.addr, a.addr, sizeof(c.addr));
	bool set = mask_host_bits(c.addr, c.plen, family_bits(c.family));

	if (host_bits_set)
		*host_bits_set = set;
	*out = c;
	return 0;
}

char *sg_addr_format(const struct sg_addr *addr, char *buf, size_t len)
{
	if (!inet_ntop(addr->family == SGBPF_AF_V4 ? AF_INET : AF_INET6, addr->addr, buf,
		       (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

char *sg_cidr_format(const struct sg_cidr *cidr, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(cidr->family == SGBPF_AF_V4 ? AF_INET : AF_INET6, cidr->addr, a,
		       sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, cidr->plen);
	return buf;
}

/* First plen bits of a and b equal. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;

	if (memcmp(a, b, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));

	return (a[full] & mask) == (b[full] & mask);
}

bool sg_cidr_contains(const struct sg_cidr *cidr, const struct sg_addr *addr)
{
	return cidr->family == addr->family && cidr->plen <= family_bits(cidr->family) &&
	       prefix_equal(cidr->addr, addr->addr, cidr->plen);
}

bool sg_cidr_covers(const struct sg_cidr *a, const struct sg_cidr *b)
{
	return a->family == b->family && a->plen <= b->plen &&
	       a->plen <= family_bits(a->family) && prefix_equal(a->addr, b->addr, a->plen);
}
