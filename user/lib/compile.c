// SPDX-License-Identifier: BSD-2-Clause
/*
 * The policy compiler: sg_policy -> the datapath's table entries.
 * The steps follow docs/compiled-form.md: canonical rules, endpoint ids,
 * effective rules, remote expansion, prefix/port-set construction with
 * /0 rules kept apart in one base set per endpoint, direction and family
 * (compile_sets.c), rule_trie and port_trie written in key-byte order,
 * ep_config, then the small tables (compile_small.c), with capacity checks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "compile_int.h"
#include "parse.h"

#define RESERVE(arr, cap, need) cc_reserve((void **)&(arr), &(cap), (need), sizeof(*(arr)))

/* A group and its canonical rule ranges per direction. */
struct grp_info {
	const struct sg_group *g;
	size_t first[SGBPF_DIR_MAX], end[SGBPF_DIR_MAX];
};

/*
 * A group id that has members: the endpoints carrying it plus "members"
 * entries. Membership does not need the group's own definition (the node's
 * SG is typically known only through its members); a referenced id with no
 * members matches nobody.
 */
struct mem_info {
	const char *id;
	struct cc_pfx *mem[SGBPF_AF_MAX];
	size_t n_mem[SGBPF_AF_MAX], cap_mem[SGBPF_AF_MAX];
};

struct pl_info {
	const struct sg_prefix_list *pl;
	struct cc_pfx *p[SGBPF_AF_MAX];
	size_t n[SGBPF_AF_MAX];
};

struct canon {
	const struct sg_group *g;
	const struct sg_rule *r;
};

/* Results of cc_compute for one effective rule list, shared by endpoints. */
struct list_result {
	const uint32_t *ids;
	size_t n;
	uint64_t hash;
	size_t off[SGBPF_AF_MAX], cnt[SGBPF_AF_MAX];
};

struct cctx {
	const struct sg_policy *pol;
	struct sg_diags *diags;
	struct grp_info *gi;
	size_t n_gi;
	struct pl_info *pi;
	size_t n_pi;
	struct mem_info *mi;
	size_t n_mi;
	struct canon *canon;
	size_t n_canon;
	struct cc_pfx *cidr_pfx;
	struct cc_expansion (*exp)[SGBPF_AF_MAX];
	struct cc_ports *ports;
	struct cc_engine eng;
	struct cc_emit *emits;
	size_t n_emits, cap_emits;
	struct list_result *lr;
	size_t n_lr, cap_lr;
	uint32_t *lr_slots;           /* open addressing: index + 1 */
	size_t n_lr_slots;
	uint32_t (*ep_lr)[SGBPF_DIR_MAX];   /* per compiled endpoint */
};

/* ---- small helpers ------------------------------------------------------ */

static int cmp_int(long a, long b)
{
	return (a > b) - (a < b);
}

static int pfx_cmp(const void *a, const void *b)
{
	const struct cc_pfx *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	return c ? c : cmp_int(x->plen, y->plen);
}

static size_t pfx_sort_unique(struct cc_pfx *p, size_t n)
{
	size_t k = 0;

	if (!n)
		return 0;
	qsort(p, n, sizeof(*p), pfx_cmp);
	for (size_t i = 1; i < n; i++)
		if (pfx_cmp(&p[k], &p[i]))
			p[++k] = p[i];
	return k + 1;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* ---- groups, prefix lists, canonical rules ----------------------------- */

static int gi_cmp(const void *a, const void *b)
{
	return strcmp(((const struct grp_info *)a)->g->id, ((const struct grp_info *)b)->g->id);
}

static int gi_key_cmp(const void *key, const void *b)
{
	return strcmp(key, ((const struct grp_info *)b)->g->id);
}

static struct grp_info *find_group(struct cctx *x, const char *id)
{
	return bsearch(id, x->gi, x->n_gi, sizeof(*x->gi), gi_key_cmp);
}

static int pi_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pl_info *)a)->pl->id, ((const struct pl_info *)b)->pl->id);
}

static int pi_key_cmp(const void *key, const void *b)
{
	return strcmp(key, ((const struct pl_info *)b)->pl->id);
}

static struct pl_info *find_pl(struct cctx *x, const char *id)
{
	return bsearch(id, x->pi, x->n_pi, sizeof(*x->pi), pi_key_cmp);
}

/* The canonical rule order; equal means an exact duplicate. */
static int canon_cmp(const void *a, const void *b)
{
	const struct canon *x = a, *y = b;
	const struct sg_rule *r = x->r, *s = y->r;
	int c = strcmp(x->g->id, y->g->id);

	if (c)
		return c;
	if ((c = cmp_int(r->egress, s->egress)) || (c = cmp_int(r->proto, s->proto)) ||
	    (c = cmp_int(r->port_from, s->port_from)) || (c = cmp_int(r->port_to, s->port_to)) ||
	    (c = cmp_int(r->kind, s->kind)))
		return c;
	if (r->kind == SG_SRC_CIDR) {
		if ((c = cmp_int(r->cidr.family, s->cidr.family)) ||
		    (c = memcmp(r->cidr.addr, s->cidr.addr, 16)) ||
		    (c = cmp_int(r->cidr.plen, s->cidr.plen)))
			return c;
	} else if ((c = strcmp(r->ref_id, s->ref_id))) {
		return c;
	}
	return strcmp(r->description ? r->description : "", s->description ? s->description : "");
}

static int build_groups(struct cctx *x)
{
	const struct sg_policy *pol = x->pol;
	size_t total = 0, k;

	x->gi = calloc(pol->n_groups ? pol->n_groups : 1, sizeof(*x->gi));
	if (!x->gi)
		return -ENOMEM;
	for (size_t i = 0; i < pol->n_groups; i++) {
		x->gi[i].g = &pol->groups[i];
		total += pol->groups[i].n_rules;
	}
	x->n_gi = pol->n_groups;
	qsort(x->gi, x->n_gi, sizeof(*x->gi), gi_cmp);
	for (size_t i = 1; i < x->n_gi; i++)
		if (!strcmp(x->gi[i - 1].g->id, x->gi[i].g->id)) {
			sg_diag_add(x->diags, SG_ERROR, x->gi[i].g->origin.file,
				    x->gi[i].g->origin.path,
				    "security group %s is defined twice (also in %s); keep one definition",
				    x->gi[i].g->id,
				    x->gi[i - 1].g->origin.file ? x->gi[i - 1].g->origin.file : "the policy");
			return -EINVAL;
		}

	x->canon = malloc((total ? total : 1) * sizeof(*x->canon));
	if (!x->canon)
		return -ENOMEM;
	k = 0;
	for (size_t i = 0; i < pol->n_groups; i++)
		for (size_t j = 0; j < pol->groups[i].n_rules; j++)
			x->canon[k++] = (struct canon){ &pol->groups[i], &pol->groups[i].rules[j] };
	qsort(x->canon, k, sizeof(*x->canon), canon_cmp);
	if (k) {
		size_t u = 0;

		for (size_t i = 1; i < k; i++)
			if (canon_cmp(&x->canon[u], &x->canon[i]))
				x->canon[++u] = x->canon[i];
		k = u + 1;
	}
	x->n_canon = k;
	if (k > SGBPF_MAX_RULES)
		return cc_too_big(x->diags, "rules", k, SGBPF_MAX_RULES,
				  "merge or remove rules (SGBPF_MAX_RULES)");

	/* each group's rules of one direction are contiguous in canonical order */
	for (size_t i = 0; i < k;) {
		struct grp_info *g = find_group(x, x->canon[i].g->id);
		int dir = x->canon[i].r->egress ? SGBPF_DIR_OUT : SGBPF_DIR_IN;
		size_t j = i;

		while (j < k && x->canon[j].g == x->canon[i].g &&
		       x->canon[j].r->egress == x->canon[i].r->egress)
			j++;
		g->first[dir] = i;
		g->end[dir] = j;
		i = j;
	}
	return 0;
}

static int build_prefix_lists(struct cctx *x)
{
	const struct sg_policy *pol = x->pol;

	x->pi = calloc(pol->n_prefix_lists ? pol->n_prefix_lists : 1, sizeof(*x->pi));
	if (!x->pi)
		return -ENOMEM;
	x->n_pi = pol->n_prefix_lists;
	for (size_t i = 0; i < x->n_pi; i++) {
		const struct sg_prefix_list *pl = &pol->prefix_lists[i];
		struct pl_info *p = &x->pi[i];

		p->pl = pl;
		for (int f = 0; f < SGBPF_AF_MAX; f++) {
			p->p[f] = malloc((pl->n_cidrs ? pl->n_cidrs : 1) * sizeof(*p->p[f]));
			if (!p->p[f])
				return -ENOMEM;
		}
		for (size_t j = 0; j < pl->n_cidrs; j++) {
			const struct sg_cidr *c = &pl->cidrs[j];

			if (!cidr_ok(c)) {
				sg_diag_add(x->diags, SG_ERROR, pl->origin.file, pl->origin.path,
					    "prefix list %s: entry %zu is not a valid CIDR (family %u, length %u)",
					    pl->id, j, c->family, c->plen);
				return -EINVAL;
			}
			cidr_to_pfx(c, &p->p[c->family][p->n[c->family]++]);
		}
		for (int f = 0; f < SGBPF_AF_MAX; f++)
			p->n[f] = pfx_sort_unique(p->p[f], p->n[f]);
	}
	qsort(x->pi, x->n_pi, sizeof(*x->pi), pi_cmp);
	return 0;
}

static int mi_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mem_info *)a)->id, ((const struct mem_info *)b)->id);
}

static int mi_key_cmp(const void *key, const void *b)
{
	return strcmp(key, ((const struct mem_info *)b)->id);
}

static struct mem_info *find_members(struct cctx *x, const char *id)
{
	return bsearch(id, x->mi, x->n_mi, sizeof(*x->mi), mi_key_cmp);
}

static int add_member(struct mem_info *m, const struct sg_addr *addrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned f = addrs[i].family;

		if (f >= SGBPF_AF_MAX)
			continue;
		if (RESERVE(m->mem[f], m->cap_mem[f], m->n_mem[f] + 1))
			return -ENOMEM;
		addr_to_pfx(&addrs[i], &m->mem[f][m->n_mem[f]++]);
	}
	return 0;
}

/* Referenced group -> private addresses of its members (spec 2.5). */
static int build_members(struct cctx *x)
{
	const struct sg_policy *pol = x->pol;
	size_t n = pol->n_members, k = 0;

	for (size_t i = 0; i < pol->n_endpoints; i++)
		n += pol->endpoints[i].n_sgs;
	x->mi = calloc(n ? n : 1, sizeof(*x->mi));
	if (!x->mi)
		return -ENOMEM;
	for (size_t i = 0; i < pol->n_endpoints; i++)
		for (size_t j = 0; j < pol->endpoints[i].n_sgs; j++)
			x->mi[k++].id = pol->endpoints[i].sgs[j];
	for (size_t i = 0; i < pol->n_members; i++)
		x->mi[k++].id = pol->members[i].sg;
	qsort(x->mi, k, sizeof(*x->mi), mi_cmp);
	if (k) {
		size_t u = 0;

		for (size_t i = 1; i < k; i++)
			if (strcmp(x->mi[u].id, x->mi[i].id))
				x->mi[++u].id = x->mi[i].id;
		k = u + 1;
	}
	x->n_mi = k;
	for (size_t i = 0; i < pol->n_endpoints; i++) {
		const struct sg_endpoint *ep = &pol->endpoints[i];

		for (size_t j = 0; j < ep->n_sgs; j++)
			if (add_member(find_members(x, ep->sgs[j]), ep->addrs, ep->n_addrs))
				return -ENOMEM;
	}
	for (size_t i = 0; i < pol->n_members; i++)
		if (add_member(find_members(x, pol->members[i].sg), pol->members[i].addrs,
			       pol->members[i].n_addrs))
			return -ENOMEM;
	for (size_t i = 0; i < x->n_mi; i++)
		for (int f = 0; f < SGBPF_AF_MAX; f++)
			x->mi[i].n_mem[f] = pfx_sort_unique(x->mi[i].mem[f], x->mi[i].n_mem[f]);
	return 0;
}

/*
 * What a rule allows port-wise. Ports outside the model's ranges (the parser
 * refuses them; models built in code might not) are an error rather than
 * silently widened: -EINVAL.
 */
static int rule_ports(const struct sg_rule *r, struct cc_ports *p)
{
	p->lo = 0;
	p->hi = 65535;
	if (r->proto < 0) {
		p->proto = SGBPF_PROTO_ANY;
		return 0;
	}
	if (r->proto > 255)
		return -EINVAL;
	p->proto = (uint16_t)r->proto;
	if (r->proto == 6 || r->proto == 17) {
		if (r->port_from == -1 && r->port_to == -1)
			return 0;   /* the rules format's "all ports" */
		if (r->port_from < 0 || r->port_to < r->port_from || r->port_to > 65535)
			return -EINVAL;
		p->lo = (uint16_t)r->port_from;
		p->hi = (uint16_t)r->port_to;
	} else if (r->proto == 1 || r->proto == 58) {
		/* port = type << 8 | code; -1 is a wildcard, type -1 forces code -1 */
		if (r->port_from < -1 || r->port_from > 255 || r->port_to < -1 || r->port_to > 255)
			return -EINVAL;
		if (r->port_from >= 0) {
			p->lo = (uint16_t)(r->port_from << 8);
			p->hi = (uint16_t)(r->port_from << 8 | 255);
			if (r->port_to >= 0)
				p->lo = p->hi = (uint16_t)(r->port_from << 8 | r->port_to);
		}
	}
	return 0;
}

static int build_expansions(struct cctx *x, struct sg_compiled *out)
{
	size_t n = x->n_canon ? x->n_canon : 1;

	x->cidr_pfx = calloc(n, sizeof(*x->cidr_pfx));
	x->exp = calloc(n, sizeof(*x->exp));
	x->ports = calloc(n, sizeof(*x->ports));
	out->rules = calloc(n, sizeof(*out->rules));
	if (!x->cidr_pfx || !x->exp || !x->ports || !out->rules)
		return -ENOMEM;
	out->n_rules = x->n_canon;
	for (size_t i = 0; i < x->n_canon; i++) {
		const struct sg_rule *r = x->canon[i].r;
		struct sg_compiled_rule *cr = &out->rules[i];

		cr->rule_id = (uint32_t)i;
		cr->src = r;
		snprintf(cr->sg_id, sizeof(cr->sg_id), "%s", x->canon[i].g->id);
		if (rule_ports(r, &x->ports[i])) {
			sg_diag_add(x->diags, SG_ERROR, r->origin.file, r->origin.path,
				    "rule of %s: protocol %d with ports %d..%d is out of range; tcp/udp take 0..65535, icmp type and code -1..255",
				    cr->sg_id, r->proto, r->port_from, r->port_to);
			return -EINVAL;
		}
		switch (r->kind) {
		case SG_SRC_CIDR:
			if (!cidr_ok(&r->cidr)) {
				sg_diag_add(x->diags, SG_ERROR, r->origin.file, r->origin.path,
					    "rule of %s has an invalid CIDR (family %u, length %u)",
					    cr->sg_id, r->cidr.family, r->cidr.plen);
				return -EINVAL;
			}
			cidr_to_pfx(&r->cidr, &x->cidr_pfx[i]);
			x->exp[i][r->cidr.family] = (struct cc_expansion){ &x->cidr_pfx[i], 1 };
			cr->family = r->cidr.family;
			break;
		case SG_SRC_PREFIX_LIST: {
			struct pl_info *p = find_pl(x, r->ref_id);

			if (!p) {
				sg_diag_add(x->diags, SG_ERROR, r->origin.file, r->origin.path,
					    "prefix list %s is not defined; add its get-managed-prefix-list-entries document",
					    r->ref_id);
				return -EINVAL;
			}
			for (int f = 0; f < SGBPF_AF_MAX; f++)
				x->exp[i][f] = (struct cc_expansion){ p->p[f], (uint32_t)p->n[f] };
			cr->family = p->pl->family;
			break;
		}
		case SG_SRC_GROUP: {
			struct mem_info *m = find_members(x, r->ref_id);

			/* a group nobody is a member of matches nobody */
			for (int f = 0; m && f < SGBPF_AF_MAX; f++)
				x->exp[i][f] = (struct cc_expansion){ m->mem[f], (uint32_t)m->n_mem[f] };
			cr->family = SGBPF_AF_MAX;
			break;
		}
		default:
			sg_diag_add(x->diags, SG_ERROR, r->origin.file, r->origin.path,
				    "rule of %s has an unknown source kind %d", cr->sg_id, r->kind);
			return -EINVAL;
		}
		for (int f = 0; f < SGBPF_AF_MAX; f++)
			cr->n_prefixes[f] = x->exp[i][f].n;
	}
	return 0;
}

/* ---- endpoints ---------------------------------------------------------- */

struct name_idx {
	const char *name;
	size_t idx;
};

static int name_idx_cmp(const void *a, const void *b)
{
	const struct name_idx *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : cmp_int((long)x->idx, (long)y->idx);
}

static int assign_ep_ids(struct cctx *x, const struct sg_ep_ids *prev, struct sg_compiled *out)
{
	const struct sg_policy *pol = x->pol;
	size_t n = pol->n_endpoints, np = prev ? prev->n : 0;
	uint8_t used[SGBPF_MAX_ENDPOINTS] = { 0 };
	struct name_idx *names, *pn = NULL;
	uint32_t next = 0;
	int err = 0;

	names = calloc(n ? n : 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		names[i] = (struct name_idx){ pol->endpoints[i].name ? pol->endpoints[i].name : "", i };
		out->endpoints[i].ep_id = SGBPF_RULE_NONE;
		out->endpoints[i].src = &pol->endpoints[i];
	}
	qsort(names, n, sizeof(*names), name_idx_cmp);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(names[i - 1].name, names[i].name)) {
			const struct sg_endpoint *ep = &pol->endpoints[names[i].idx];

			sg_diag_add(x->diags, SG_ERROR, ep->origin.file, ep->origin.path,
				    "endpoint name \"%s\" is used twice; endpoint names must be unique",
				    names[i].name);
			err = -EINVAL;
			goto out;
		}
	if (np) {
		pn = calloc(np, sizeof(*pn));
		if (!pn) {
			err = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < np; i++)
			pn[i] = (struct name_idx){ prev->names[i] ? prev->names[i] : "", i };
		qsort(pn, np, sizeof(*pn), name_idx_cmp);
		/* keep previous ids (first claim wins if prev is inconsistent) */
		for (size_t i = 0; i < n; i++) {
			struct name_idx key = { pol->endpoints[i].name ? pol->endpoints[i].name : "", 0 };
			size_t lo = 0, hi = np;

			while (lo < hi) {
				size_t mid = (lo + hi) / 2;

				if (strcmp(pn[mid].name, key.name) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < np && !strcmp(pn[lo].name, key.name)) {
				uint32_t id = prev->ids[pn[lo].idx];

				if (id < SGBPF_MAX_ENDPOINTS && !used[id]) {
					used[id] = 1;
					out->endpoints[i].ep_id = id;
				}
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (out->endpoints[i].ep_id != SGBPF_RULE_NONE)
			continue;
		while (next < SGBPF_MAX_ENDPOINTS && used[next])
			next++;
		/* n <= SGBPF_MAX_ENDPOINTS was checked, so an id is always free */
		used[next] = 1;
		out->endpoints[i].ep_id = next;
	}
out:
	free(names);
	free(pn);
	return err;
}

static int build_endpoint_rules(struct cctx *x, struct sg_compiled *out)
{
	const struct sg_policy *pol = x->pol;

	for (size_t i = 0; i < pol->n_endpoints; i++) {
		const struct sg_endpoint *ep = &pol->endpoints[i];
		struct sg_compiled_endpoint *ce = &out->endpoints[i];
		size_t cnt[SGBPF_DIR_MAX] = { 0 };

		for (size_t j = 0; j < ep->n_sgs; j++) {
			struct grp_info *g = find_group(x, ep->sgs[j]);

			if (!g) {
				sg_diag_add(x->diags, SG_ERROR, ep->origin.file, ep->origin.path,
					    "endpoint %s: security group %s is not defined; add its describe-security-groups output",
					    ep->name ? ep->name : "?", ep->sgs[j]);
				return -EINVAL;
			}
			for (int d = 0; d < SGBPF_DIR_MAX; d++)
				cnt[d] += g->end[d] - g->first[d];
		}
		for (int d = 0; d < SGBPF_DIR_MAX; d++) {
			size_t k = 0;

			ce->rule_ids[d] = malloc((cnt[d] ? cnt[d] : 1) * sizeof(uint32_t));
			if (!ce->rule_ids[d])
				return -ENOMEM;
			for (size_t j = 0; j < ep->n_sgs; j++) {
				struct grp_info *g = find_group(x, ep->sgs[j]);

				for (size_t r = g->first[d]; r < g->end[d]; r++)
					ce->rule_ids[d][k++] = (uint32_t)r;
			}
			qsort(ce->rule_ids[d], k, sizeof(uint32_t), u32_cmp);
			if (k) {
				size_t u = 0;

				for (size_t r = 1; r < k; r++)
					if (ce->rule_ids[d][r] != ce->rule_ids[d][u])
						ce->rule_ids[d][++u] = ce->rule_ids[d][r];
				k = u + 1;
			}
			ce->n_rule_ids[d] = k;
		}
	}
	return 0;
}

/* Untracked bits (spec 3.4): the OPPOSITE direction has a /0 CIDR rule allowing
 * every port of tcp (udp), or all protocols, in that family. */
/*
 * The family a rule's remote covers entirely (0.0.0.0/0 or ::/0), either as
 * its CIDR or as an entry of its prefix list; -1 when it covers neither.
 * (A prefix list holds one family; a referenced group never covers /0.)
 */
static int zero_prefix_family(const struct cctx *x, const struct sg_rule *r)
{
	const struct sg_prefix_list *pl;

	if (r->kind == SG_SRC_CIDR)
		return r->cidr.plen == 0 && r->cidr.family < SGBPF_AF_MAX ? r->cidr.family : -1;
	if (r->kind != SG_SRC_PREFIX_LIST)
		return -1;
	pl = sg_policy_prefix_list(x->pol, r->ref_id);
	for (size_t i = 0; pl && i < pl->n_cidrs; i++)
		if (pl->cidrs[i].plen == 0 && pl->cidrs[i].family < SGBPF_AF_MAX)
			return pl->cidrs[i].family;
	return -1;
}

static uint32_t untrack_flags(const struct cctx *x, const struct sg_compiled_endpoint *ce)
{
	uint32_t flags = 0;

	for (int d = 0; d < SGBPF_DIR_MAX; d++) {
		int opp = 1 - d;

		for (size_t i = 0; i < ce->n_rule_ids[opp]; i++) {
			const struct sg_rule *r = x->canon[ce->rule_ids[opp][i]].r;
			const struct cc_ports *p = &x->ports[ce->rule_ids[opp][i]];
			int fam = zero_prefix_family(x, r);

			if (fam < 0)
				continue;
			if (p->proto == SGBPF_PROTO_ANY) {
				flags |= SGBPF_EP_UNTRACK_BIT(d, fam, 0) | SGBPF_EP_UNTRACK_BIT(d, fam, 1);
			} else if ((p->proto == 6 || p->proto == 17) && p->lo == 0 && p->hi == 65535) {
				flags |= SGBPF_EP_UNTRACK_BIT(d, fam, p->proto == 17);
			}
		}
	}
	return flags;
}

/* ---- prefixes and port sets ----------------------------------------------- */

static uint64_t ids_hash(const uint32_t *ids, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ n;

	for (size_t i = 0; i < n; i++) {
		h = (h ^ ids[i]) * 0x100000001b3ull;
		h ^= h >> 32;
	}
	return h;
}

static int lr_grow(struct cctx *x)
{
	size_t n = x->n_lr_slots ? x->n_lr_slots * 2 : 256;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < x->n_lr; i++) {
		size_t s = x->lr[i].hash & (n - 1);

		while (slots[s])
			s = (s + 1) & (n - 1);
		slots[s] = (uint32_t)i + 1;
	}
	free(x->lr_slots);
	x->lr_slots = slots;
	x->n_lr_slots = n;
	return 0;
}

/* Result index for an effective rule list, computing it on first sight. */
static long list_result(struct cctx *x, const uint32_t *ids, size_t n)
{
	uint64_t h = ids_hash(ids, n);
	struct list_result *lr;
	size_t s;
	int err;

	if ((x->n_lr + 1) * 2 > x->n_lr_slots && (err = lr_grow(x)))
		return err;
	for (s = h & (x->n_lr_slots - 1); x->lr_slots[s]; s = (s + 1) & (x->n_lr_slots - 1)) {
		lr = &x->lr[x->lr_slots[s] - 1];
		if (lr->hash == h && lr->n == n && !memcmp(lr->ids, ids, n * sizeof(*ids)))
			return (long)(x->lr_slots[s] - 1);
	}
	if (RESERVE(x->lr, x->cap_lr, x->n_lr + 1))
		return -ENOMEM;
	lr = &x->lr[x->n_lr];
	*lr = (struct list_result){ .ids = ids, .n = n, .hash = h };
	for (int f = 0; f < SGBPF_AF_MAX; f++) {
		lr->off[f] = x->n_emits;
		err = cc_compute(&x->eng, ids, n, f, &x->emits, &x->n_emits, &x->cap_emits);
		if (err)
			return err;
		lr->cnt[f] = x->n_emits - lr->off[f];
	}
	x->lr_slots[s] = (uint32_t)x->n_lr + 1;
	return (long)x->n_lr++;
}

struct ep_order {
	uint32_t key;                 /* ep_id byte-swapped: compares like its key bytes */
	size_t idx;
};

static int ep_order_cmp(const void *a, const void *b)
{
	const struct ep_order *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

#define RULE_BUCKET(plen, dir, fam) ((size_t)(plen) * 4 + (size_t)(dir) * 2 + (size_t)(fam))
#define RULE_BUCKETS (129 * 4)

static int build_rule_trie(struct cctx *x, struct sg_compiled *out)
{
	size_t n_ep = out->n_endpoints, total = 0, pos[RULE_BUCKETS] = { 0 };
	struct ep_order *order;

	x->ep_lr = calloc(n_ep ? n_ep : 1, sizeof(*x->ep_lr));
	if (!x->ep_lr)
		return -ENOMEM;
	cc_engine_init(&x->eng, (const struct cc_expansion (*)[SGBPF_AF_MAX])x->exp, x->ports);
	for (size_t i = 0; i < n_ep; i++)
		for (int d = 0; d < SGBPF_DIR_MAX; d++) {
			const struct sg_compiled_endpoint *ce = &out->endpoints[i];
			long id = list_result(x, ce->rule_ids[d], ce->n_rule_ids[d]);

			if (id < 0)
				return (int)id;
			x->ep_lr[i][d] = (uint32_t)id;
			for (int f = 0; f < SGBPF_AF_MAX; f++)
				total += x->lr[id].cnt[f];
		}
	if (total > SGBPF_MAX_PREFIXES / SGBPF_NUM_SLOTS)
		return cc_too_big(x->diags, "rule_trie", total, SGBPF_MAX_PREFIXES / SGBPF_NUM_SLOTS,
				  "use fewer distinct remote prefixes per endpoint (SGBPF_MAX_PREFIXES)");
	out->rule_keys = calloc(total ? total : 1, sizeof(*out->rule_keys));
	out->rule_vals = calloc(total ? total : 1, sizeof(*out->rule_vals));
	order = malloc((n_ep ? n_ep : 1) * sizeof(*order));
	if (!out->rule_keys || !out->rule_vals || !order) {
		free(order);
		return -ENOMEM;
	}
	/*
	 * Emit straight into key-byte order, no sort: a stable counting pass by
	 * (prefixlen, dir, family) -- the leading varying key bytes -- over
	 * entries generated in (ep_id bytes, address) order, which is the order
	 * of the remaining bytes (ep_id is little-endian: compare it byte-swapped;
	 * each list is sorted by address).
	 */
	for (size_t i = 0; i < n_ep; i++)
		order[i] = (struct ep_order){ __builtin_bswap32(out->endpoints[i].ep_id), i };
	qsort(order, n_ep, sizeof(*order), ep_order_cmp);
	for (size_t i = 0; i < n_ep; i++)
		for (int d = 0; d < SGBPF_DIR_MAX; d++) {
			const struct list_result *lr = &x->lr[x->ep_lr[i][d]];

			for (int f = 0; f < SGBPF_AF_MAX; f++)
				for (size_t j = 0; j < lr->cnt[f]; j++)
					pos[RULE_BUCKET(x->emits[lr->off[f] + j].p.plen, d, f)]++;
		}
	for (size_t b = 0, sum = 0; b < RULE_BUCKETS; b++) {
		size_t c = pos[b];

		pos[b] = sum;
		sum += c;
	}
	for (size_t o = 0; o < n_ep; o++) {
		size_t i = order[o].idx;

		for (int d = 0; d < SGBPF_DIR_MAX; d++) {
			const struct list_result *lr = &x->lr[x->ep_lr[i][d]];

			for (int f = 0; f < SGBPF_AF_MAX; f++)
				for (size_t j = 0; j < lr->cnt[f]; j++) {
					const struct cc_emit *em = &x->emits[lr->off[f] + j];
					size_t k = pos[RULE_BUCKET(em->p.plen, d, f)]++;
					struct sgbpf_rule_key *key = &out->rule_keys[k];

					key->prefixlen = SGBPF_RULE_KEY_FIXED_BITS + em->p.plen;
					key->dir = (uint8_t)d;
					key->family = (uint8_t)f;
					key->ep_id = out->endpoints[i].ep_id;
					memcpy(key->addr, em->p.addr, 16);
					out->rule_vals[k].set_id = em->set_id;
					out->rule_vals[k].base_set_id = em->base_set_id;
				}
		}
	}
	free(order);
	out->n_rule_entries = total;
	out->n_sets = x->eng.sets.n_sets;
	return 0;
}

/* The largest aligned power-of-two block starting at lo that ends by hi. */
static inline uint32_t block_size(uint32_t lo, uint32_t hi)
{
	uint32_t size = lo ? (lo & -lo) : 65536;

	while (lo + size - 1 > hi)
		size >>= 1;
	return size;
}

/* port_trie key bytes vary first in (prefixlen, proto): counting-sort buckets */
#define PORT_BUCKET(bits, proto) ((size_t)(16 - (bits)) * (SGBPF_PROTO_ANY + 1) + (proto))
#define PORT_BUCKETS (17 * (SGBPF_PROTO_ANY + 1))

static int build_port_trie(struct cctx *x, struct sg_compiled *out)
{
	const struct cc_sets *s = &x->eng.sets;
	size_t total = 0, *pos;

	pos = calloc(PORT_BUCKETS, sizeof(*pos));
	if (!pos)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_ivs; i++)
		for (uint32_t lo = s->ivs[i].lo, size; lo <= s->ivs[i].hi; lo += size) {
			size = block_size(lo, s->ivs[i].hi);
			pos[PORT_BUCKET(__builtin_ctz(size), s->ivs[i].proto)]++;
			total++;
		}
	if (total > SGBPF_MAX_PORT_BLOCKS / SGBPF_NUM_SLOTS) {
		free(pos);
		return cc_too_big(x->diags, "port_trie", total, SGBPF_MAX_PORT_BLOCKS / SGBPF_NUM_SLOTS,
				  "use fewer distinct port ranges (SGBPF_MAX_PORT_BLOCKS)");
	}
	out->port_keys = calloc(total ? total : 1, sizeof(*out->port_keys));
	out->port_vals = calloc(total ? total : 1, sizeof(*out->port_vals));
	if (!out->port_keys || !out->port_vals) {
		free(pos);
		return -ENOMEM;
	}
	for (size_t b = 0, sum = 0; b < PORT_BUCKETS; b++) {
		size_t c = pos[b];

		pos[b] = sum;
		sum += c;
	}
	/*
	 * Generated in (set id, protocol, port) order; a stable counting pass by
	 * (prefixlen, protocol) then gives key-byte order (prefixlen, proto,
	 * set_id, port), all big-endian or single bytes, without sorting.
	 */
	for (size_t id = 0; id < s->n_sets; id++)
		for (size_t j = 0; j < s->len[id]; j++) {
			const struct cc_iv *iv = &s->ivs[s->off[id] + j];

			for (uint32_t lo = iv->lo, size; lo <= iv->hi; lo += size) {
				unsigned bits;
				size_t k;

				size = block_size(lo, iv->hi);
				bits = (unsigned)__builtin_ctz(size);
				k = pos[PORT_BUCKET(bits, iv->proto)]++;
				out->port_keys[k].prefixlen = SGBPF_PORT_KEY_FIXED_BITS + 16 - bits;
				out->port_keys[k].proto = htons(iv->proto);
				out->port_keys[k].set_id = htonl((uint32_t)id);
				out->port_keys[k].port = htons((uint16_t)lo);
				out->port_vals[k].rule_id = iv->rule_id;
				out->port_vals[k].flags = iv->flags;
			}
		}
	free(pos);
	out->n_port_entries = total;
	return 0;
}

/* ---- the small tables --------------------------------------------------- */

static int build_ep_config(struct cctx *x, struct sg_compiled *out)
{
	size_t n = out->n_endpoints;
	bool probes = false;

	out->ep_keys = calloc(n ? n : 1, sizeof(*out->ep_keys));
	out->ep_vals = calloc(n ? n : 1, sizeof(*out->ep_vals));
	if (!out->ep_keys || !out->ep_vals)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct sg_compiled_endpoint *ce = &out->endpoints[i];
		const struct sg_endpoint *ep = ce->src;

		memset(&ce->val, 0, sizeof(ce->val));
		if (ep->has_mac) {
			ce->val.flags |= SGBPF_EP_HAS_MAC;
			memcpy(ce->val.mac, ep->mac, 6);
		}
		ce->val.vlan_id = (uint16_t)(ep->vlan_id > 0 ? ep->vlan_id : 0);
		ce->val.flags |= untrack_flags(x, ce);
		out->ep_keys[i].ep_id = ce->ep_id;
		out->ep_vals[i] = ce->val;
		if (ep->n_probe_ports)
			probes = true;
	}
	out->n_ep = n;
	if (probes)
		out->config.flags |= SGBPF_CFG_PROBES;
	return cc_sort_ep_entries(out->ep_keys, out->ep_vals, n);
}

/* ---- entry points ------------------------------------------------------- */

static void cctx_free(struct cctx *x)
{
	for (size_t i = 0; x->mi && i < x->n_mi; i++)
		for (int f = 0; f < SGBPF_AF_MAX; f++)
			free(x->mi[i].mem[f]);
	free(x->mi);
	for (size_t i = 0; x->pi && i < x->n_pi; i++)
		for (int f = 0; f < SGBPF_AF_MAX; f++)
			free(x->pi[i].p[f]);
	free(x->gi);
	free(x->pi);
	free(x->canon);
	free(x->cidr_pfx);
	free(x->exp);
	free(x->ports);
	cc_engine_free(&x->eng);
	free(x->emits);
	free(x->lr);
	free(x->lr_slots);
	free(x->ep_lr);
}

int sg_compile(const struct sg_policy *policy, const struct sg_ep_ids *prev,
	       struct sg_compiled *out, struct sg_diags *diags)
{
	struct sg_diags local;
	struct cctx x = { .pol = policy, .diags = diags ? diags : &local };
	int err;

	memset(out, 0, sizeof(*out));
	if (!diags)
		sg_diags_init(&local);
	if (diags && diags->n_errors) {
		err = -EINVAL;
		goto out;
	}
	if (policy->n_endpoints > SGBPF_MAX_ENDPOINTS) {
		err = cc_too_big(x.diags, "endpoints", policy->n_endpoints, SGBPF_MAX_ENDPOINTS,
				 "split the endpoints across nodes (SGBPF_MAX_ENDPOINTS)");
		goto out;
	}
	out->endpoints = calloc(policy->n_endpoints ? policy->n_endpoints : 1,
				sizeof(*out->endpoints));
	if (!out->endpoints) {
		err = -ENOMEM;
		goto out;
	}
	out->n_endpoints = policy->n_endpoints;

	if ((err = build_groups(&x)) || (err = build_prefix_lists(&x)) ||
	    (err = build_members(&x)) || (err = build_expansions(&x, out)) ||
	    (err = assign_ep_ids(&x, prev, out)) || (err = build_endpoint_rules(&x, out)) ||
	    (err = build_rule_trie(&x, out)) || (err = build_port_trie(&x, out)) ||
	    (err = cc_check_vlans(out, x.diags)) || (err = cc_build_addrs(policy, out, x.diags)) || (err = cc_build_exempt(&policy->node, out, x.diags)) ||
	    (err = build_ep_config(&x, out)) || (err = cc_build_probes(out, x.diags)))
		goto out;
	cc_build_slot_config(&policy->node, out);
out:
	if (err == -ENOMEM)
		sg_diag_add(x.diags, SG_ERROR, NULL, NULL,
			    "out of memory while compiling the policy");
	cctx_free(&x);
	if (err)
		sg_compiled_free(out);
	if (!diags)
		sg_diags_free(&local);
	return err;
}

void sg_compiled_free(struct sg_compiled *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->endpoints && i < c->n_endpoints; i++)
		for (int d = 0; d < SGBPF_DIR_MAX; d++)
			free(c->endpoints[i].rule_ids[d]);
	free(c->endpoints);
	free(c->rules);
	free(c->ep_keys);
	free(c->ep_vals);
	free(c->addr_keys);
	free(c->addr_vals);
	free(c->node_keys);
	free(c->node_vals);
	free(c->rule_keys);
	free(c->rule_vals);
	free(c->port_keys);
	free(c->port_vals);
	free(c->exempt_keys);
	free(c->exempt_vals);
	free(c->probe_keys);
	free(c->probe_vals);
	memset(c, 0, sizeof(*c));
}

const struct sg_compiled_endpoint *sg_compiled_endpoint(const struct sg_compiled *c,
							const char *name)
{
	for (size_t i = 0; i < c->n_endpoints; i++)
		if (c->endpoints[i].src && c->endpoints[i].src->name &&
		    !strcmp(c->endpoints[i].src->name, name))
			return &c->endpoints[i];
	return NULL;
}

char *sg_rule_describe(const struct sg_compiled_rule *rule, char *buf, size_t len)
{
	const struct sg_rule *r = rule->src;
	char pbuf[32], ports[48] = "", remote[80];
	const char *proto = sg_protocol_name(r->proto, pbuf, sizeof(pbuf));

	if (r->proto == 6 || r->proto == 17) {
		if (r->port_from < 0 || (r->port_from == 0 && r->port_to == 65535))
			snprintf(ports, sizeof(ports), " all ports");
		else if (r->port_from == r->port_to)
			snprintf(ports, sizeof(ports), " %d", r->port_from);
		else
			snprintf(ports, sizeof(ports), " %d-%d", r->port_from, r->port_to);
	} else if (r->proto == 1 || r->proto == 58) {
		if (r->port_from < 0)
			snprintf(ports, sizeof(ports), " all types");
		else if (r->port_to < 0)
			snprintf(ports, sizeof(ports), " type %d", r->port_from);
		else
			snprintf(ports, sizeof(ports), " type %d code %d", r->port_from, r->port_to);
	}
	if (r->kind == SG_SRC_CIDR)
		sg_cidr_format(&r->cidr, remote, sizeof(remote));
	else
		snprintf(remote, sizeof(remote), "%s", r->ref_id);
	snprintf(buf, len, "%s %s %s%s %s %s", rule->sg_id, r->egress ? "outbound" : "inbound",
		 proto, ports, r->egress ? "to" : "from", remote);
	return buf;
}
