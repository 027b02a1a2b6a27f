// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf endpoints / sgbpf endpoint NAME: the endpoints of the policy in force
 * as the datapath has them (ep_records and ep_addrs of the active slot,
 * ep_stats), with their SGs and effective rules from the compiled policy.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "names.h"

#define MAX_ADDRS 64

static void usage(FILE *out, bool one)
{
	if (one)
		fprintf(out,
			"usage: sgbpf endpoint NAME [--policy DIR] [--pin-dir P] [--socket PATH] "
			"[-o table|json]\n"
			"\n"
			"One endpoint of the policy in force: endpoint id, interface, VLAN id, MAC,\n"
			"addresses (as the datapath holds them), security groups and the effective\n"
			"rules per direction (as 'sgbpf rules' shows them, with the new flows each\n"
			"rule admitted), and its counters: allowed and dropped packets and bytes per\n"
			"direction, drops and allows by reason.\n");
	else
		fprintf(out,
			"usage: sgbpf endpoints [--policy DIR] [--pin-dir P] [--socket PATH] "
			"[-o table|json]\n"
			"\n"
			"Every endpoint of the policy in force: endpoint id, interface, VLAN id,\n"
			"addresses, security groups and counters (allowed/dropped packets per\n"
			"direction).\n");
	fprintf(out,
		"\n"
		"SGs and rules come from the policy directory: sgbpfd's (asked on its control\n"
		"socket) or --policy DIR, compiled with the endpoint ids in force.\n"
		"\n"
		"  --policy DIR    the policy directory in force (default: ask sgbpfd)\n"
		LIVE_COMMON_HELP
		"\n"
		"Exit: 0 success, 1 no such endpoint, 2 usage or runtime error.\n");
}

static const char *dir_keys[SGBPF_DIR_MAX] = { "inbound", "outbound" };

static cJSON *counters_json(const struct sgbpf_ep_stats *s)
{
	cJSON *o = cJSON_CreateObject(), *by;

	for (int d = 0; d < SGBPF_DIR_MAX; d++) {
		cJSON *x = cJSON_AddObjectToObject(o, dir_keys[d]);

		live_add_u64(x, "allowPackets", s->allow_packets[d]);
		live_add_u64(x, "allowBytes", s->allow_bytes[d]);
		live_add_u64(x, "dropPackets", s->drop_packets[d]);
		live_add_u64(x, "dropBytes", s->drop_bytes[d]);
	}
	by = cJSON_AddObjectToObject(o, "dropsByReason");
	for (int r = 0; r < SGBPF_DROP_REASON_MAX; r++)
		live_add_u64(by, sgbpf_drop_reason_name(r), s->drops_by_reason[r]);
	by = cJSON_AddObjectToObject(o, "allowsByReason");
	for (int r = 0; r < SGBPF_ALLOW_REASON_MAX; r++)
		live_add_u64(by, sgbpf_allow_reason_name(r), s->allows_by_reason[r]);
	return o;
}

/* The live facts of one endpoint (no rules). */
static cJSON *endpoint_live_json(const struct sgbpf_inspect *ins, const struct live_policy *lp,
				 uint32_t ep_id)
{
	const struct sgbpf_ep_record *r = sgbpf_inspect_record(ins, ep_id);
	struct sg_addr addrs[MAX_ADDRS];
	struct sgbpf_ep_stats st;
	struct sgbpf_ep_val ev;
	cJSON *o = cJSON_CreateObject(), *a;
	int n = sgbpf_inspect_ep_addrs(ins, ep_id, addrs, MAX_ADDRS);
	char buf[64];

	cJSON_AddStringToObject(o, "name", r->name);
	cJSON_AddNumberToObject(o, "epId", ep_id);
	cJSON_AddStringToObject(o, "interface", r->ifname);
	cJSON_AddNumberToObject(o, "ifindex", r->ifname[0] ? if_nametoindex(r->ifname) : 0);
	cJSON_AddNumberToObject(o, "vlan", r->vlan_id);
	if (!sgbpf_inspect_ep_config(ins, ep_id, &ev) && (ev.flags & SGBPF_EP_HAS_MAC)) {
		snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", ev.mac[0], ev.mac[1],
			 ev.mac[2], ev.mac[3], ev.mac[4], ev.mac[5]);
		cJSON_AddStringToObject(o, "mac", buf);
	} else {
		cJSON_AddNullToObject(o, "mac");
	}
	cJSON_AddBoolToObject(o, "policyInPlace", !sgbpf_inspect_ep_config(ins, ep_id, &ev));
	a = cJSON_AddArrayToObject(o, "addresses");
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(sgbpf_addr_text(addrs[i].family,
							     addrs[i].addr, buf, sizeof(buf))));
	if (lp->ok) {
		const struct sg_compiled_endpoint *ce = sg_compiled_endpoint(&lp->c, r->name);

		a = cJSON_AddArrayToObject(o, "securityGroups");
		for (size_t i = 0; ce && i < ce->src->n_sgs; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(ce->src->sgs[i]));
	} else {
		cJSON_AddNullToObject(o, "securityGroups");
	}
	if (sgbpf_inspect_ep_stats(ins, ep_id, &st))
		memset(&st, 0, sizeof(st));
	cJSON_AddItemToObject(o, "counters", counters_json(&st));
	return o;
}

static int parse(int argc, char **argv, struct live_opts *lo, bool one, const char **name)
{
	static const struct option opts[] = { LIVE_LONGOPTS, { NULL, 0, NULL, 0 } };
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		int r = live_opt(lo, opt, optarg);

		if (r < 0)
			return SG_EXIT_ERROR;
		if (r)
			continue;
		if (opt == 'h') {
			usage(stdout, one);
			return -1;
		}
		usage(stderr, one);
		return SG_EXIT_ERROR;
	}
	if (one && optind < argc)
		*name = argv[optind++];
	if (one && !*name) {
		fprintf(stderr, "%s: missing endpoint name; usage: sgbpf endpoint NAME\n", lo->verb);
		return SG_EXIT_ERROR;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", lo->verb, argv[optind]);
		return SG_EXIT_ERROR;
	}
	return 0;
}

static void print_row(cJSON *e)
{
	cJSON *c = cJSON_GetObjectItem(e, "counters"), *x, *sgs = cJSON_GetObjectItem(e, "securityGroups");
	char addrs[256] = "", sgtext[256] = "";
	size_t n = 0;

	cJSON_ArrayForEach(x, cJSON_GetObjectItem(e, "addresses"))
		n += snprintf(addrs + n, n < sizeof(addrs) ? sizeof(addrs) - n : 0, "%s%s",
			      n ? "," : "", x->valuestring);
	n = 0;
	if (cJSON_IsNull(sgs))
		snprintf(sgtext, sizeof(sgtext), "?");
	cJSON_ArrayForEach(x, sgs)
		n += snprintf(sgtext + n, n < sizeof(sgtext) ? sizeof(sgtext) - n : 0, "%s%s",
			      n ? "," : "", x->valuestring);
	printf("%-4d %-24s %-12s %-4d %-34s %-40s %9.0f %9.0f %9.0f %9.0f\n",
	       cJSON_GetObjectItem(e, "epId")->valueint, cJSON_GetObjectItem(e, "name")->valuestring,
	       cJSON_GetObjectItem(e, "interface")->valuestring[0] ?
	       cJSON_GetObjectItem(e, "interface")->valuestring : "-",
	       cJSON_GetObjectItem(e, "vlan")->valueint, addrs[0] ? addrs : "-", sgtext,
	       cJSON_GetObjectItem(cJSON_GetObjectItem(c, "inbound"), "allowPackets")->valuedouble,
	       cJSON_GetObjectItem(cJSON_GetObjectItem(c, "inbound"), "dropPackets")->valuedouble,
	       cJSON_GetObjectItem(cJSON_GetObjectItem(c, "outbound"), "allowPackets")->valuedouble,
	       cJSON_GetObjectItem(cJSON_GetObjectItem(c, "outbound"), "dropPackets")->valuedouble);
}

int cmd_endpoints(int argc, char **argv)
{
	struct live_opts lo;
	struct sgbpf_inspect ins;
	struct live_policy lp;
	const char *name = NULL;
	cJSON *doc, *arr, *e;
	int rc;

	live_opts_init(&lo, "sgbpf endpoints");
	rc = parse(argc, argv, &lo, false, &name);
	if (rc)
		return rc < 0 ? SG_EXIT_OK : rc;
	if (live_open(&lo, &ins, 0))
		return SG_EXIT_ERROR;
	if (live_policy_load(&lo, &ins, &lp, true) == -ENOENT)
		fprintf(stderr, "sgbpf endpoints: sgbpfd does not answer and no --policy: SGs not "
			"shown\n");
	doc = cJSON_CreateObject();
	live_add_u64(doc, "generation", ins.state.generation);
	if (lp.ok)
		cJSON_AddStringToObject(doc, "policy", lp.dir);
	else
		cJSON_AddNullToObject(doc, "policy");
	arr = cJSON_AddArrayToObject(doc, "endpoints");
	for (uint32_t i = 0; i < SGBPF_MAX_ENDPOINTS; i++)
		if (sgbpf_inspect_record(&ins, i))
			cJSON_AddItemToArray(arr, endpoint_live_json(&ins, &lp, i));
	if (lo.json) {
		rc = live_print_json(doc) ? SG_EXIT_ERROR : SG_EXIT_OK;
	} else {
		printf("%-4s %-24s %-12s %-4s %-34s %-40s %9s %9s %9s %9s\n", "EP", "NAME", "INTERFACE",
		       "VLAN", "ADDRESSES", "SGS", "IN-ALLOW", "IN-DROP", "OUT-ALLOW", "OUT-DROP");
		cJSON_ArrayForEach(e, arr)
			print_row(e);
		if (!cJSON_GetArraySize(arr))
			printf("(no endpoints in policy generation %llu)\n",
			       (unsigned long long)ins.state.generation);
		cJSON_Delete(doc);
		rc = SG_EXIT_OK;
	}
	live_policy_free(&lp);
	sgbpf_inspect_close(&ins);
	return rc;
}

/* Add each rule's admitted-flow counter to the rules_endpoint_json arrays. */
static void add_rule_counters(cJSON *o, const struct sgbpf_inspect *ins, const struct live_policy *lp)
{
	struct sgbpf_rule_stats *rs;
	uint32_t n = lp->c.n_rules;

	if (lp->stale || !n)
		return;     /* ids would not match the slot's counters */
	rs = calloc(n, sizeof(*rs));
	if (!rs || sgbpf_inspect_rule_stats(ins, ins->state.active_slot, n, rs)) {
		free(rs);
		return;
	}
	for (int d = 0; d < SGBPF_DIR_MAX; d++) {
		cJSON *r;

		cJSON_ArrayForEach(r, cJSON_GetObjectItem(o, dir_keys[d])) {
			int id = cJSON_GetObjectItem(r, "ruleId")->valueint;

			if (id >= 0 && (uint32_t)id < n) {
				live_add_u64(r, "newFlows", rs[id].packets);
				live_add_u64(r, "newFlowBytes", rs[id].bytes);
			}
		}
	}
	free(rs);
}

int cmd_endpoint(int argc, char **argv)
{
	const struct sg_compiled_endpoint *ce = NULL;
	struct live_opts lo;
	struct sgbpf_inspect ins;
	struct live_policy lp;
	const char *name = NULL;
	cJSON *o, *c, *x;
	int rc, id;

	live_opts_init(&lo, "sgbpf endpoint");
	rc = parse(argc, argv, &lo, true, &name);
	if (rc)
		return rc < 0 ? SG_EXIT_OK : rc;
	if (live_open(&lo, &ins, 0))
		return SG_EXIT_ERROR;
	id = sgbpf_inspect_ep_by_name(&ins, name);
	if (id < 0) {
		fprintf(stderr, "sgbpf endpoint: no endpoint named '%s' in policy generation %llu "
			"('sgbpf endpoints' lists them)\n", name,
			(unsigned long long)ins.state.generation);
		sgbpf_inspect_close(&ins);
		return SG_EXIT_NO;
	}
	live_policy_load(&lo, &ins, &lp, false);
	o = endpoint_live_json(&ins, &lp, id);
	if (lp.ok)
		ce = sg_compiled_endpoint(&lp.c, name);
	if (ce) {
		cJSON *r = rules_endpoint_json(&lp.c, ce);

		add_rule_counters(r, &ins, &lp);
		for (int d = 0; d < SGBPF_DIR_MAX; d++)
			cJSON_AddItemToObject(o, dir_keys[d],
					      cJSON_DetachItemFromObject(r, dir_keys[d]));
		cJSON_Delete(r);
	} else {
		for (int d = 0; d < SGBPF_DIR_MAX; d++)
			cJSON_AddNullToObject(o, dir_keys[d]);
	}
	if (lo.json) {
		rc = live_print_json(o) ? SG_EXIT_ERROR : SG_EXIT_OK;
		goto out;
	}
	printf("endpoint %s (ep %d)\n", name, id);
	printf("  interface:   %s (vlan %d)\n",
	       cJSON_GetObjectItem(o, "interface")->valuestring[0] ?
	       cJSON_GetObjectItem(o, "interface")->valuestring : "-",
	       cJSON_GetObjectItem(o, "vlan")->valueint);
	x = cJSON_GetObjectItem(o, "mac");
	printf("  mac:         %s\n", cJSON_IsString(x) ? x->valuestring : "- (not enforced)");
	printf("  policy:      %s\n", cJSON_IsTrue(cJSON_GetObjectItem(o, "policyInPlace")) ?
	       "in place" : "NOT in place (new flows dropped: no-policy)");
	printf("  addresses:  ");
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(o, "addresses"))
		printf(" %s", x->valuestring);
	printf("\n");
	c = cJSON_GetObjectItem(o, "counters");
	for (int d = 0; d < SGBPF_DIR_MAX; d++) {
		cJSON *k = cJSON_GetObjectItem(c, dir_keys[d]);

		printf("  %-9s    allowed %.0f pkts / %.0f bytes, dropped %.0f pkts / %.0f bytes\n",
		       dir_keys[d], cJSON_GetObjectItem(k, "allowPackets")->valuedouble,
		       cJSON_GetObjectItem(k, "allowBytes")->valuedouble,
		       cJSON_GetObjectItem(k, "dropPackets")->valuedouble,
		       cJSON_GetObjectItem(k, "dropBytes")->valuedouble);
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(c, "dropsByReason"))
		if (x->valuedouble)
			printf("  dropped      %-22s %.0f\n", x->string, x->valuedouble);
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(c, "allowsByReason"))
		if (x->valuedouble)
			printf("  allowed      %-22s %.0f\n", x->string, x->valuedouble);
	printf("\n");
	if (ce)
		rules_print_table(&lp.c, ce);
	else
		printf("(effective rules unavailable: %s)\n", lp.ok ? "endpoint not in the policy "
		       "directory" : "no policy directory");
	cJSON_Delete(o);
	rc = SG_EXIT_OK;
out:
	live_policy_free(&lp);
	sgbpf_inspect_close(&ins);
	return rc;
}
