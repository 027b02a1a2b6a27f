// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf sg ID: one security group of the policy in force: its compiled rules
 * (with the new flows each admitted on this node), the endpoints that use it,
 * and the addresses a rule referencing it resolves to (spec 2.5).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "names.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sgbpf sg ID [--policy DIR] [--pin-dir P] [--socket PATH] [-o table|json]\n"
		"\n"
		"A security group of the policy in force: its rules as compiled (one line per\n"
		"rule and address family it expanded to), the new flows each admitted on this\n"
		"node, the endpoints using it (with their endpoint ids in force), and its\n"
		"membership: the private addresses a rule that references this group matches\n"
		"(its endpoints' addresses plus declared extra members).\n"
		"\n"
		"  --policy DIR    the policy directory in force (default: ask sgbpfd)\n"
		LIVE_COMMON_HELP
		"\n"
		"Exit: 0 success, 1 no such group in the policy, 2 usage or runtime error.\n");
}

static bool has_sg(const struct sg_endpoint *ep, const char *id)
{
	for (size_t i = 0; i < ep->n_sgs; i++)
		if (!strcmp(ep->sgs[i], id))
			return true;
	return false;
}

int cmd_sg(int argc, char **argv)
{
	static const struct option opts[] = { LIVE_LONGOPTS, { NULL, 0, NULL, 0 } };
	struct sgbpf_rule_stats *rs = NULL;
	const struct sg_group *g;
	struct live_opts lo;
	struct sgbpf_inspect ins;
	struct live_policy lp;
	const char *id = NULL;
	cJSON *doc, *rules, *eps, *addrs, *x;
	int opt, rc = SG_EXIT_OK;
	char buf[128];

	live_opts_init(&lo, "sgbpf sg");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		int r = live_opt(&lo, opt, optarg);

		if (r < 0)
			return SG_EXIT_ERROR;
		if (r)
			continue;
		if (opt == 'h') {
			usage(stdout);
			return SG_EXIT_OK;
		}
		usage(stderr);
		return SG_EXIT_ERROR;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "sgbpf sg: one security group id expected; usage: sgbpf sg ID\n");
		return SG_EXIT_ERROR;
	}
	id = argv[optind];
	if (live_open(&lo, &ins, 0))
		return SG_EXIT_ERROR;
	if (live_policy_load(&lo, &ins, &lp, false)) {
		sgbpf_inspect_close(&ins);
		return SG_EXIT_ERROR;
	}
	g = sg_policy_group(&lp.pol, id);
	if (!g) {
		fprintf(stderr, "sgbpf sg: no security group %s in %s\n", id, lp.dir);
		rc = SG_EXIT_NO;
		goto out;
	}
	if (!lp.stale && lp.c.n_rules) {
		rs = calloc(lp.c.n_rules, sizeof(*rs));
		if (rs && sgbpf_inspect_rule_stats(&ins, ins.state.active_slot, lp.c.n_rules, rs)) {
			free(rs);
			rs = NULL;
		}
	}
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "groupId", g->id);
	if (g->name)
		cJSON_AddStringToObject(doc, "groupName", g->name);
	else
		cJSON_AddNullToObject(doc, "groupName");
	cJSON_AddStringToObject(doc, "policy", lp.dir);
	rules = cJSON_AddArrayToObject(doc, "rules");
	for (size_t i = 0; i < lp.c.n_rules; i++) {
		const struct sg_compiled_rule *cr = &lp.c.rules[i];
		cJSON *r;

		if (strcmp(cr->sg_id, id))
			continue;
		r = rules_rule_json(cr, cr->src->egress ? SGBPF_DIR_OUT : SGBPF_DIR_IN);
		if (rs) {
			live_add_u64(r, "newFlows", rs[i].packets);
			live_add_u64(r, "newFlowBytes", rs[i].bytes);
		}
		cJSON_AddItemToArray(rules, r);
	}
	eps = cJSON_AddArrayToObject(doc, "endpoints");
	addrs = cJSON_AddArrayToObject(doc, "memberAddresses");
	for (size_t i = 0; i < lp.pol.n_endpoints; i++) {
		const struct sg_endpoint *ep = &lp.pol.endpoints[i];
		int ep_id;

		if (!has_sg(ep, id))
			continue;
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "name", ep->name);
		ep_id = sgbpf_inspect_ep_by_name(&ins, ep->name);
		if (ep_id >= 0)
			cJSON_AddNumberToObject(x, "epId", ep_id);
		else
			cJSON_AddNullToObject(x, "epId");
		cJSON_AddStringToObject(x, "interface", ep->interface ? ep->interface : "");
		cJSON_AddItemToArray(eps, x);
		for (size_t a = 0; a < ep->n_addrs; a++) {
			x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "address", sg_addr_format(&ep->addrs[a], buf,
									     sizeof(buf)));
			cJSON_AddStringToObject(x, "source", ep->name);
			cJSON_AddItemToArray(addrs, x);
		}
	}
	for (size_t i = 0; i < lp.pol.n_members; i++) {
		const struct sg_member *m = &lp.pol.members[i];

		if (strcmp(m->sg, id))
			continue;
		for (size_t a = 0; a < m->n_addrs; a++) {
			x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "address", sg_addr_format(&m->addrs[a], buf,
									     sizeof(buf)));
			snprintf(buf, sizeof(buf), "member (%s)", m->origin.file ? m->origin.file : "?");
			cJSON_AddStringToObject(x, "source", buf);
			cJSON_AddItemToArray(addrs, x);
		}
	}
	if (lo.json) {
		rc = live_print_json(doc) ? SG_EXIT_ERROR : SG_EXIT_OK;
		goto out;
	}
	printf("security group %s%s%s%s\n", g->id, g->name ? " (" : "", g->name ? g->name : "",
	       g->name ? ")" : "");
	printf("\nrules (%d):\n", cJSON_GetArraySize(rules));
	if (cJSON_GetArraySize(rules))
		printf("  %-5s %-8s %-10s %s\n", "RULE", "DIR", "NEW-FLOWS", "DESCRIPTION");
	for (size_t i = 0; i < lp.c.n_rules; i++) {
		const struct sg_compiled_rule *cr = &lp.c.rules[i];
		char text[256], nf[24] = "-";

		if (strcmp(cr->sg_id, id))
			continue;
		if (rs)
			snprintf(nf, sizeof(nf), "%llu", (unsigned long long)rs[i].packets);
		printf("  %-5u %-8s %-10s %s\n", cr->rule_id,
		       cr->src->egress ? "outbound" : "inbound", nf,
		       sg_rule_describe(cr, text, sizeof(text)));
	}
	printf("\nendpoints using it (%d):\n", cJSON_GetArraySize(eps));
	cJSON_ArrayForEach(x, eps) {
		cJSON *e = cJSON_GetObjectItem(x, "epId");

		printf("  %-28s ep %-5s %s\n", cJSON_GetObjectItem(x, "name")->valuestring,
		       cJSON_IsNumber(e) ? (snprintf(buf, sizeof(buf), "%d", e->valueint), buf) : "-",
		       cJSON_GetObjectItem(x, "interface")->valuestring);
	}
	printf("\nmembership: a rule referencing %s matches (%d):\n", id, cJSON_GetArraySize(addrs));
	cJSON_ArrayForEach(x, addrs)
		printf("  %-40s %s\n", cJSON_GetObjectItem(x, "address")->valuestring,
		       cJSON_GetObjectItem(x, "source")->valuestring);
	cJSON_Delete(doc);
out:
	free(rs);
	live_policy_free(&lp);
	sgbpf_inspect_close(&ins);
	return rc;
}
