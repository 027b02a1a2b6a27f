// SPDX-License-Identifier: BSD-2-Clause
/* Building policies in code for the tests; see policy_build.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_build.h"

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "test: out of memory\n");
		abort();
	}
	return p;
}

/* Append one element, reallocating to the exact new size: safe on arrays of
 * any origin (glibc grows large blocks in place with mremap). */
#define GROW(arr, n) \
	((void)((arr) = xrealloc((arr), ((n) + 1) * sizeof(*(arr)))), &(arr)[(n)++])

struct sg_cidr tc_cidr(const char *text)
{
	struct sg_cidr c;
	bool host;

	if (sg_cidr_parse(text, &c, &host)) {
		fprintf(stderr, "test: bad CIDR %s in a test policy\n", text);
		abort();
	}
	return c;
}

struct sg_addr tc_addr(const char *text)
{
	struct sg_addr a;

	if (sg_addr_parse(text, &a)) {
		fprintf(stderr, "test: bad address %s in a test policy\n", text);
		abort();
	}
	return a;
}

struct sg_group *tc_group(struct sg_policy *p, const char *id)
{
	struct sg_group *g = GROW(p->groups, p->n_groups);

	memset(g, 0, sizeof(*g));
	snprintf(g->id, sizeof(g->id), "%s", id);
	g->origin.file = strdup("test.json");
	g->origin.path = strdup("SecurityGroups[0]");
	return g;
}

struct sg_rule *tc_rule(struct sg_group *g, bool egress, int proto, int from, int to,
			const char *src)
{
	struct sg_rule *r = GROW(g->rules, g->n_rules);
	char path[64];

	memset(r, 0, sizeof(*r));
	r->egress = egress;
	r->proto = proto;
	r->port_from = from;
	r->port_to = to;
	if (!strncmp(src, "pl-", 3)) {
		r->kind = SG_SRC_PREFIX_LIST;
		snprintf(r->ref_id, sizeof(r->ref_id), "%s", src);
	} else if (!strncmp(src, "sg-", 3)) {
		r->kind = SG_SRC_GROUP;
		snprintf(r->ref_id, sizeof(r->ref_id), "%s", src);
	} else {
		r->kind = SG_SRC_CIDR;
		r->cidr = tc_cidr(src);
	}
	snprintf(path, sizeof(path), "SecurityGroups[0].IpPermissions[%zu]", g->n_rules - 1);
	r->origin.file = strdup("test.json");
	r->origin.path = strdup(path);
	return r;
}

struct sg_prefix_list *tc_pl(struct sg_policy *p, const char *id, int family)
{
	struct sg_prefix_list *pl = GROW(p->prefix_lists, p->n_prefix_lists);

	memset(pl, 0, sizeof(*pl));
	snprintf(pl->id, sizeof(pl->id), "%s", id);
	pl->family = (uint8_t)family;
	return pl;
}

void tc_pl_add(struct sg_prefix_list *pl, const char *text)
{
	*GROW(pl->cidrs, pl->n_cidrs) = tc_cidr(text);
}

struct sg_endpoint *tc_ep(struct sg_policy *p, const char *name)
{
	struct sg_endpoint *ep = GROW(p->endpoints, p->n_endpoints);

	memset(ep, 0, sizeof(*ep));
	ep->name = strdup(name);
	ep->origin.file = strdup("endpoints.json");
	ep->origin.path = strdup("endpoints[0]");
	return ep;
}

void tc_ep_sg(struct sg_endpoint *ep, const char *sg)
{
	snprintf(*GROW(ep->sgs, ep->n_sgs), SG_ID_MAX, "%s", sg);
}

void tc_ep_addr(struct sg_endpoint *ep, const char *text)
{
	*GROW(ep->addrs, ep->n_addrs) = tc_addr(text);
}

void tc_ep_probe_port(struct sg_endpoint *ep, uint16_t port)
{
	*GROW(ep->probe_ports, ep->n_probe_ports) = port;
}

struct sg_member *tc_member(struct sg_policy *p, const char *sg)
{
	struct sg_member *m = GROW(p->members, p->n_members);

	memset(m, 0, sizeof(*m));
	snprintf(m->sg, sizeof(m->sg), "%s", sg);
	return m;
}

void tc_member_addr(struct sg_member *m, const char *text)
{
	*GROW(m->addrs, m->n_addrs) = tc_addr(text);
}

void tc_node_addr(struct sg_policy *p, const char *text)
{
	*GROW(p->node.addrs, p->node.n_addrs) = tc_addr(text);
}

void tc_vpc_cidr(struct sg_policy *p, const char *text)
{
	*GROW(p->node.vpc_cidrs, p->node.n_vpc_cidrs) = tc_cidr(text);
}

void tc_exempt(struct sg_policy *p, const char *text)
{
	p->node.has_exempt = true;
	*GROW(p->node.exempt, p->node.n_exempt) = tc_cidr(text);
}
