// SPDX-License-Identifier: BSD-2-Clause
/*
 * AWS documents: describe-security-groups, describe-security-group-rules and
 * prefix lists. Both group formats fill sg_rule identically (same kind,
 * cidr, ref_id, ports, description) so they compile to the same tables;
 * only rule_id (sgr-...) and the origin differ.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <sgbpf/layout.h>

#include "parse.h"
#include "parse_int.h"

/* Protocol and ports of one IpPermission or SecurityGroupRule. */
struct perm {
	int proto;
	int from, to;
};

static void free_rule(struct sg_rule *r)
{
	free(r->description);
	free(r->rule_id);
	free(r->origin.file);
	free(r->origin.path);
}

static void free_group(struct sg_group *g)
{
	for (size_t i = 0; i < g->n_rules; i++)
		free_rule(&g->rules[i]);
	free(g->rules);
	free(g->name);
	free(g->origin.file);
	free(g->origin.path);
	memset(g, 0, sizeof(*g));
}

/* A port (tcp/udp) or ICMP type/code value, reported at obj.key. */
static int port_value(struct pctx *c, const cJSON *v, long lo, long hi, const char *what,
		      int *out)
{
	size_t mark = pc_push_key(c, v->string);
	long val = 0;
	int ret = pj_int_value(c, v, lo, hi, what, &val);

	pc_pop(c, mark);
	*out = (int)val;
	return ret;
}

/*
 * IpProtocol, FromPort and ToPort of obj (the current path) into p, by the
 * rules of spec 1.1. Returns 0 or -EINVAL (reported).
 */
static int parse_perm(struct pctx *c, const cJSON *obj, struct perm *p)
{
	const char *text = NULL;
	const cJSON *from, *to;
	const char *pname;
	char pbuf[16];
	int ret = 0;

	if (pj_string(c, obj, "IpProtocol", true, &text))
		return -EINVAL;
	if (sg_protocol_parse(text, &p->proto)) {
		pc_err_key(c, "IpProtocol", "unknown protocol \"%s\"; expected tcp, udp, icmp, "
			   "icmpv6, -1 (all) or a protocol number 0..255", text);
		return -EINVAL;
	}
	p->from = p->to = -1;
	from = pj_item(c, obj, "FromPort");
	to = pj_item(c, obj, "ToPort");
	pname = sg_protocol_name(p->proto, pbuf, sizeof(pbuf));

	switch (p->proto) {
	case 6:
	case 17:
		/* describe-security-group-rules writes -1/-1 for all ports. */
		if (from && to && cJSON_IsNumber(from) && cJSON_IsNumber(to) &&
		    from->valuedouble == -1 && to->valuedouble == -1) {
			p->from = 0;
			p->to = 65535;
			return 0;
		}
		if (!from) {
			pc_err_key(c, "FromPort", "required for %s rules but missing "
				   "(0 and 65535 allow every port)", pname);
			ret = -EINVAL;
		} else {
			ret |= port_value(c, from, 0, 65535, "an integer", &p->from);
		}
		if (!to) {
			pc_err_key(c, "ToPort", "required for %s rules but missing "
				   "(0 and 65535 allow every port)", pname);
			ret = -EINVAL;
		} else {
			ret |= port_value(c, to, 0, 65535, "an integer", &p->to);
		}
		if (ret)
			return -EINVAL;
		if (p->from > p->to) {
			pc_err(c, "FromPort %d is greater than ToPort %d: the port range is empty",
			       p->from, p->to);
			return -EINVAL;
		}
		return 0;
	case 1:
	case 58:
		if (!from && !to && p->proto == 58)
			return 0;	/* icmpv6 without ports: every type and code */
		if (!from) {
			pc_err_key(c, "FromPort", "required for %s rules but missing "
				   "(the ICMP type; -1 means any)", pname);
			ret = -EINVAL;
		} else {
			ret |= port_value(c, from, -1, 255, "an ICMP type", &p->from);
		}
		if (!to && p->proto == 1) {
			pc_err_key(c, "ToPort", "required for %s rules but missing "
				   "(the ICMP code; -1 means any)", pname);
			ret = -EINVAL;
		} else if (to) {
			ret |= port_value(c, to, -1, 255, "an ICMP code", &p->to);
		}
		if (ret)
			return -EINVAL;
		if (p->from == -1)
			p->to = -1;	/* any type means any code */
		return 0;
	default:
		/* Other protocols and -1 allow every port; EC2 ignores the ports. */
		return 0;
	}
}

int parse_cidr_value(struct pctx *c, const cJSON *v, int family, const char *wrong_family,
		     struct sg_cidr *out)
{
	static const char *const like[] = { "an IPv4 CIDR like 10.0.0.0/16",
					     "an IPv6 CIDR like 2001:db8::/32" };
	char got[64], canon[64];
	bool host_bits = false;

	if (!cJSON_IsString(v) || sg_cidr_parse(v->valuestring, out, &host_bits)) {
		pc_err(c, "expected %s, got %s",
		       family < 0 ? "a CIDR like 10.0.0.0/16 or 2001:db8::/32" : like[family],
		       pj_got(v, got, sizeof(got)));
		return -EINVAL;
	}
	if (family >= 0 && out->family != family) {
		pc_err(c, "%s CIDR \"%s\" in %s", out->family == SGBPF_AF_V4 ? "IPv4" : "IPv6",
		       v->valuestring, wrong_family);
		return -EINVAL;
	}
	if (host_bits)
		pc_warn(c, "CIDR \"%s\" has host bits set; using %s", v->valuestring,
			sg_cidr_format(out, canon, sizeof(canon)));
	return 0;
}

/* The CIDR at obj.key (required), as parse_cidr_value. */
static int parse_cidr_key(struct pctx *c, const cJSON *obj, const char *key, int family,
			  const char *wrong_family, struct sg_cidr *out)
{
	const cJSON *v = pj_item(c, obj, key);
	size_t mark;
	int ret;

	if (!v) {
		pc_err_key(c, key, "required but missing");
		return -EINVAL;
	}
	mark = pc_push_key(c, v->string);
	ret = parse_cidr_value(c, v, family, wrong_family, out);
	pc_pop(c, mark);
	return ret;
}

/* Optional "Description" of obj; empty counts as none so both formats agree. */
static int parse_description(struct pctx *c, const cJSON *obj, const char **out)
{
	*out = NULL;
	if (pj_string(c, obj, "Description", false, out) < 0)
		return -EINVAL;
	if (*out && !**out)
		*out = NULL;
	return 0;
}

/* Append a rule whose origin is the current path. */
static int push_rule(struct pctx *c, struct sg_group *g, const struct sg_rule *tmpl,
		     const char *desc, const char *rule_id)
{
	struct sg_rule r = *tmpl;

	r.description = desc ? strdup(desc) : NULL;
	r.rule_id = rule_id ? strdup(rule_id) : NULL;
	if ((desc && !r.description) || (rule_id && !r.rule_id) || pc_origin(c, &r.origin) ||
	    grow_for((void **)&g->rules, g->n_rules, sizeof(*g->rules))) {
		free_rule(&r);
		return pc_oom(c);
	}
	g->rules[g->n_rules++] = r;
	return 0;
}

/* One source array of an IpPermission: one rule per entry. */
static int parse_sources(struct pctx *c, const cJSON *perm, const char *key,
			 enum sg_source_kind kind, int family, const struct perm *p,
			 bool egress, bool perm_ok, struct sg_group *g)
{
	const cJSON *arr = NULL, *e;
	size_t mark, kmark, i = 0;
	int ret = 0;

	ret = pj_array(c, perm, key, false, &arr);
	if (ret)
		return ret < 0 ? -EINVAL : 0;
	kmark = pc_push_key(c, key);
	cJSON_ArrayForEach(e, arr) {
		struct sg_rule r = { .egress = egress, .proto = p->proto, .port_from = p->from,
				     .port_to = p->to, .kind = kind };
		const char *desc = NULL;
		int bad = 0;

		mark = pc_push_index(c, i++);
		if (!cJSON_IsObject(e)) {
			char got[64];

			pc_err(c, "expected an object, got %s", pj_got(e, got, sizeof(got)));
			ret = -EINVAL;
			pc_pop(c, mark);
			continue;
		}
		switch (kind) {
		case SG_SRC_CIDR:
			if (family == SGBPF_AF_V4)
				bad = parse_cidr_key(c, e, "CidrIp", SGBPF_AF_V4,
						     "IpRanges; IPv6 ranges go in Ipv6Ranges (CidrIpv6)",
						     &r.cidr);
			else
				bad = parse_cidr_key(c, e, "CidrIpv6", SGBPF_AF_V6,
						     "Ipv6Ranges; IPv4 ranges go in IpRanges (CidrIp)",
						     &r.cidr);
			break;
		case SG_SRC_PREFIX_LIST:
			bad = pj_id(c, e, "PrefixListId", true, "pl-", r.ref_id) ? -EINVAL : 0;
			break;
		case SG_SRC_GROUP:
			bad = pj_id(c, e, "GroupId", true, "sg-", r.ref_id) ? -EINVAL : 0;
			break;
		}
		bad |= parse_description(c, e, &desc);
		if (bad)
			ret = -EINVAL;
		else if (perm_ok && !ret)
			ret = push_rule(c, g, &r, desc, NULL);
		pc_pop(c, mark);
	}
	pc_pop(c, kmark);
	return ret;
}

static int parse_permissions(struct pctx *c, const cJSON *sg, const char *key, bool egress,
			     struct sg_group *g)
{
	const cJSON *arr = NULL, *perm;
	size_t kmark, mark, i = 0;
	int ret = 0;

	ret = pj_array(c, sg, key, false, &arr);
	if (ret)
		return ret < 0 ? -EINVAL : 0;
	kmark = pc_push_key(c, key);
	cJSON_ArrayForEach(perm, arr) {
		struct perm p;
		bool ok;

		mark = pc_push_index(c, i++);
		if (!cJSON_IsObject(perm)) {
			char got[64];

			pc_err(c, "expected an object, got %s", pj_got(perm, got, sizeof(got)));
			ret = -EINVAL;
			pc_pop(c, mark);
			continue;
		}
		ok = parse_perm(c, perm, &p) == 0;
		if (!ok)
			ret = -EINVAL;
		/* Walk the sources even after a bad protocol, to report their faults too. */
		ret |= parse_sources(c, perm, "IpRanges", SG_SRC_CIDR, SGBPF_AF_V4, &p, egress, ok, g);
		ret |= parse_sources(c, perm, "Ipv6Ranges", SG_SRC_CIDR, SGBPF_AF_V6, &p, egress, ok, g);
		ret |= parse_sources(c, perm, "PrefixListIds", SG_SRC_PREFIX_LIST, -1, &p, egress,
				     ok, g);
		ret |= parse_sources(c, perm, "UserIdGroupPairs", SG_SRC_GROUP, -1, &p, egress, ok, g);
		pc_pop(c, mark);
	}
	pc_pop(c, kmark);
	return ret ? -EINVAL : 0;
}

static ssize_t find_group(const struct sg_policy *pol, const char *id)
{
	for (size_t i = 0; i < pol->n_groups; i++)
		if (!strcmp(pol->groups[i].id, id))
			return (ssize_t)i;
	return -1;
}

static void report_group_twice(struct pctx *c, const struct sg_group *first, const char *id)
{
	pc_err(c, "group %s is defined twice: first in %s (%s)", id, first->origin.file,
	       first->origin.path);
}

int parse_security_groups(struct pctx *c, const cJSON *root)
{
	const cJSON *arr = NULL, *sg;
	size_t kmark, mark, i = 0;
	int ret = 0;

	if (pj_array(c, root, "SecurityGroups", true, &arr))
		return -EINVAL;
	kmark = pc_push_key(c, "SecurityGroups");
	cJSON_ArrayForEach(sg, arr) {
		struct sg_group g;
		const char *name = NULL;
		bool ok = true;
		ssize_t dup;

		memset(&g, 0, sizeof(g));
		mark = pc_push_index(c, i++);
		if (!cJSON_IsObject(sg)) {
			char got[64];

			pc_err(c, "expected an object, got %s", pj_got(sg, got, sizeof(got)));
			ret = -EINVAL;
			pc_pop(c, mark);
			continue;
		}
		if (pj_id(c, sg, "GroupId", true, "sg-", g.id))
			ok = false;
		if (pj_string(c, sg, "GroupName", false, &name) < 0)
			ok = false;
		if (ok && (dup = find_group(c->pol, g.id)) >= 0) {
			size_t m = pc_push_key(c, "GroupId");

			report_group_twice(c, &c->pol->groups[dup], g.id);
			pc_pop(c, m);
			ok = false;
		}
		if (parse_permissions(c, sg, "IpPermissions", false, &g))
			ok = false;
		if (parse_permissions(c, sg, "IpPermissionsEgress", true, &g))
			ok = false;
		if (ok && ((name && !(g.name = strdup(name))) || pc_origin(c, &g.origin) ||
			   grow_for((void **)&c->pol->groups, c->pol->n_groups,
				    sizeof(*c->pol->groups)))) {
			pc_oom(c);
			ok = false;
		}
		if (ok) {
			c->pol->groups[c->pol->n_groups++] = g;
		} else {
			free_group(&g);
			ret = -EINVAL;
		}
		pc_pop(c, mark);
	}
	pc_pop(c, kmark);
	return ret;
}

/* The one source of a SecurityGroupRule into r. */
static int parse_rule_source(struct pctx *c, const cJSON *rule, struct sg_rule *r)
{
	static const char *const keys[] = { "CidrIpv4", "CidrIpv6", "PrefixListId",
					    "ReferencedGroupInfo" };
	const char *found[4];
	const cJSON *ref = NULL;
	size_t n = 0, mark;
	int ret;

	for (size_t k = 0; k < 4; k++)
		if (pj_item(c, rule, keys[k]))
			found[n++] = keys[k];
	if (n != 1) {
		if (n == 0)
			pc_err(c, "expected exactly one of CidrIpv4, CidrIpv6, PrefixListId or "
			       "ReferencedGroupInfo, found none");
		else
			pc_err(c, "expected exactly one of CidrIpv4, CidrIpv6, PrefixListId or "
			       "ReferencedGroupInfo, found %s and %s", found[0], found[1]);
		return -EINVAL;
	}
	if (!strcmp(found[0], "CidrIpv4")) {
		r->kind = SG_SRC_CIDR;
		return parse_cidr_key(c, rule, "CidrIpv4", SGBPF_AF_V4,
				      "CidrIpv4; IPv6 ranges go in CidrIpv6", &r->cidr);
	}
	if (!strcmp(found[0], "CidrIpv6")) {
		r->kind = SG_SRC_CIDR;
		return parse_cidr_key(c, rule, "CidrIpv6", SGBPF_AF_V6,
				      "CidrIpv6; IPv4 ranges go in CidrIpv4", &r->cidr);
	}
	if (!strcmp(found[0], "PrefixListId")) {
		r->kind = SG_SRC_PREFIX_LIST;
		return pj_id(c, rule, "PrefixListId", true, "pl-", r->ref_id) ? -EINVAL : 0;
	}
	r->kind = SG_SRC_GROUP;
	if (pj_object(c, rule, "ReferencedGroupInfo", true, &ref))
		return -EINVAL;
	mark = pc_push_key(c, "ReferencedGroupInfo");
	ret = pj_id(c, ref, "GroupId", true, "sg-", r->ref_id) ? -EINVAL : 0;
	pc_pop(c, mark);
	return ret;
}

int parse_security_group_rules(struct pctx *c, const cJSON *root)
{
	const cJSON *arr = NULL, *rule;
	size_t kmark, mark, i = 0;
	/* Groups seen in this document: appended to, never redefined. */
	char (*reported)[SG_ID_MAX] = NULL;
	size_t n_reported = 0;
	ssize_t last = -1;
	int ret = 0;

	if (pj_array(c, root, "SecurityGroupRules", true, &arr))
		return -EINVAL;
	kmark = pc_push_key(c, "SecurityGroupRules");
	cJSON_ArrayForEach(rule, arr) {
		struct sg_rule r;
		struct perm p;
		char gid[SG_ID_MAX];
		const char *desc = NULL, *rid = NULL;
		bool ok = true, egress = false;
		ssize_t gi = -1;

		memset(&r, 0, sizeof(r));
		mark = pc_push_index(c, i++);
		if (!cJSON_IsObject(rule)) {
			char got[64];

			pc_err(c, "expected an object, got %s", pj_got(rule, got, sizeof(got)));
			ret = -EINVAL;
			pc_pop(c, mark);
			continue;
		}
		if (pj_id(c, rule, "GroupId", true, "sg-", gid))
			ok = false;
		if (pj_bool(c, rule, "IsEgress", true, &egress))
			ok = false;
		if (parse_perm(c, rule, &p))
			ok = false;
		if (parse_rule_source(c, rule, &r))
			ok = false;
		if (parse_description(c, rule, &desc))
			ok = false;
		if (pj_string(c, rule, "SecurityGroupRuleId", false, &rid) < 0)
			ok = false;
		if (rid && !*rid)
			rid = NULL;

		if (ok) {
			/* Rules usually come grouped by GroupId: try the last group first. */
			if (last >= 0 && !strcmp(c->pol->groups[last].id, gid))
				gi = last;
			else
				gi = find_group(c->pol, gid);
			if (gi >= 0) {
				const struct sg_group *g = &c->pol->groups[gi];

				/* Same document, rules format: more rules of that group. */
				if (strcmp(g->origin.file, c->file) ||
				    strncmp(g->origin.path, "SecurityGroupRules[", 19)) {
					bool seen = false;

					for (size_t k = 0; k < n_reported; k++)
						seen |= !strcmp(reported[k], gid);
					if (!seen) {
						size_t m = pc_push_key(c, "GroupId");

						report_group_twice(c, g, gid);
						pc_pop(c, m);
						if (!grow_for((void **)&reported, n_reported,
							      sizeof(*reported)))
							memcpy(reported[n_reported++], gid, SG_ID_MAX);
					}
					ok = false;
				}
			} else {
				struct sg_group ng;

				memset(&ng, 0, sizeof(ng));
				memcpy(ng.id, gid, sizeof(ng.id));
				if (pc_origin(c, &ng.origin) ||
				    grow_for((void **)&c->pol->groups, c->pol->n_groups,
					     sizeof(*c->pol->groups))) {
					free_group(&ng);
					pc_oom(c);
					ok = false;
				} else {
					gi = (ssize_t)c->pol->n_groups;
					c->pol->groups[c->pol->n_groups++] = ng;
				}
			}
		}
		if (ok) {
			r.egress = egress;
			r.proto = p.proto;
			r.port_from = p.from;
			r.port_to = p.to;
			if (push_rule(c, &c->pol->groups[gi], &r, desc, rid))
				ok = false;
			last = gi;
		}
		if (!ok)
			ret = -EINVAL;
		pc_pop(c, mark);
	}
	pc_pop(c, kmark);
	free(reported);
	return ret;
}

int parse_prefix_list(struct pctx *c, const cJSON *root)
{
	struct sg_prefix_list pl;
	const cJSON *entries = NULL, *e;
	const char *af = NULL;
	bool ok = true, have_family = false;
	size_t kmark, mark, i = 0;
	const struct sg_prefix_list *dup;

	memset(&pl, 0, sizeof(pl));
	if (!pj_item(c, root, "PrefixListId")) {
		pc_err_key(c, "PrefixListId", "required but missing: get-managed-prefix-list-entries "
			   "output does not name its list; add \"PrefixListId\": \"pl-...\" next to "
			   "\"Entries\"");
		ok = false;
	} else if (pj_id(c, root, "PrefixListId", true, "pl-", pl.id)) {
		ok = false;
	}
	if (pj_string(c, root, "AddressFamily", false, &af) < 0) {
		ok = false;
	} else if (af) {
		if (!strcasecmp(af, "IPv4")) {
			pl.family = SGBPF_AF_V4;
			have_family = true;
		} else if (!strcasecmp(af, "IPv6")) {
			pl.family = SGBPF_AF_V6;
			have_family = true;
		} else {
			pc_err_key(c, "AddressFamily", "expected \"IPv4\" or \"IPv6\", got \"%s\"", af);
			ok = false;
		}
	}
	if (ok && (dup = sg_policy_prefix_list(c->pol, pl.id))) {
		pc_err_key(c, "PrefixListId", "prefix list %s is defined twice: first in %s", pl.id,
			   dup->origin.file);
		ok = false;
	}
	if (pj_array(c, root, "Entries", true, &entries))
		return -EINVAL;

	kmark = pc_push_key(c, "Entries");
	cJSON_ArrayForEach(e, entries) {
		struct sg_cidr cidr;
		char hint[96];

		mark = pc_push_index(c, i++);
		if (!cJSON_IsObject(e)) {
			char got[64];

			pc_err(c, "expected an object, got %s", pj_got(e, got, sizeof(got)));
			ok = false;
		} else {
			if (af)
				snprintf(hint, sizeof(hint), "an %s prefix list (AddressFamily); a "
					 "prefix list holds one address family",
					 pl.family == SGBPF_AF_V4 ? "IPv4" : "IPv6");
			else
				snprintf(hint, sizeof(hint), "a prefix list whose first entry is %s; "
					 "a prefix list holds one address family",
					 pl.family == SGBPF_AF_V4 ? "IPv4" : "IPv6");
			if (parse_cidr_key(c, e, "Cidr", have_family ? pl.family : -1, hint,
					   &cidr)) {
				ok = false;
			} else {
				if (!have_family) {
					pl.family = cidr.family;
					have_family = true;
				}
				if (grow_for((void **)&pl.cidrs, pl.n_cidrs, sizeof(*pl.cidrs))) {
					pc_oom(c);
					ok = false;
				} else {
					pl.cidrs[pl.n_cidrs++] = cidr;
				}
			}
		}
		pc_pop(c, mark);
	}
	pc_pop(c, kmark);

	if (ok && (pc_origin(c, &pl.origin) ||
		   grow_for((void **)&c->pol->prefix_lists, c->pol->n_prefix_lists,
			    sizeof(*c->pol->prefix_lists)))) {
		pc_oom(c);
		ok = false;
	}
	if (!ok) {
		free(pl.cidrs);
		free(pl.origin.file);
		free(pl.origin.path);
		return -EINVAL;
	}
	c->pol->prefix_lists[c->pol->n_prefix_lists++] = pl;
	return 0;
}
