// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf rules DIR [--endpoint NAME] [-o json]: the effective rules of each
 * endpoint per direction (the union of its SGs' rules, after the compiler's
 * canonicalisation), each traced back to its SG, its rule as written, its
 * origin (file + JSON path) and how many addresses its remote expanded to.
 * The JSON keys are documented in docs/compiled-form.md and are stable.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compile.h"
#include "live.h"
#include "names.h"
#include "parse.h"

static void rules_usage(FILE *out)
{
	fprintf(out,
		"usage: sgbpf rules [DIR] [--endpoint NAME] [-o table|json] [--socket PATH]\n"
		"\n"
		"Shows the effective rules of each endpoint of the policy in DIR, per direction:\n"
		"the union of the rules of all its security groups, exact duplicates merged.\n"
		"Each rule is traced to its SG, protocol, ports and remote as written, the file\n"
		"and JSON path it came from, and how many prefixes/addresses its remote expanded\n"
		"to (prefix-list entries, members of a referenced SG).\n"
		"\n"
		"Without DIR: the directory the running sgbpfd enforces (asked over --socket,\n"
		"default /run/sgbpf/sgbpfd.sock).\n"
		"\n"
		"  --endpoint NAME   only this endpoint (\"namespace/pod\")\n"
		"  -o table|json     output for people (default) or machines (keys: see\n"
		"                    docs/compiled-form.md)\n"
		"\n"
		"Exit: 0 success, 1 invalid policy, 2 usage or I/O error or unknown endpoint.\n");
}

static const char *proto_text(int proto, char *buf, size_t len)
{
	return sg_protocol_name(proto, buf, len);
}

/* Ports as written: "80", "1000-2000", "all"; ICMP "8/0", "8/any", "all". */
static const char *ports_text(const struct sg_rule *r, char *buf, size_t len)
{
	if (r->proto == 6 || r->proto == 17) {
		if (r->port_from < 0 || (r->port_from == 0 && r->port_to == 65535))
			snprintf(buf, len, "all");
		else if (r->port_from == r->port_to)
			snprintf(buf, len, "%d", r->port_from);
		else
			snprintf(buf, len, "%d-%d", r->port_from, r->port_to);
	} else if (r->proto == 1 || r->proto == 58) {
		if (r->port_from < 0)
			snprintf(buf, len, "all");
		else if (r->port_to < 0)
			snprintf(buf, len, "%d/any", r->port_from);
		else
			snprintf(buf, len, "%d/%d", r->port_from, r->port_to);
	} else {
		snprintf(buf, len, "all");
	}
	return buf;
}

static const char *remote_kind(const struct sg_rule *r)
{
	switch (r->kind) {
	case SG_SRC_CIDR:
		return "cidr";
	case SG_SRC_PREFIX_LIST:
		return "prefix-list";
	case SG_SRC_GROUP:
		return "security-group";
	}
	return "unknown";
}

static const char *remote_text(const struct sg_rule *r, char *buf, size_t len)
{
	if (r->kind == SG_SRC_CIDR)
		return sg_cidr_format(&r->cidr, buf, len);
	snprintf(buf, len, "%s", r->ref_id);
	return buf;
}

cJSON *rules_rule_json(const struct sg_compiled_rule *cr, int dir)
{
	const struct sg_rule *r = cr->src;
	cJSON *o = cJSON_CreateObject(), *remote, *origin, *addrs;
	char pbuf[32], buf[96];

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "ruleId", cr->rule_id);
	cJSON_AddStringToObject(o, "securityGroup", cr->sg_id);
	cJSON_AddStringToObject(o, "direction", sgbpf_dir_name(dir));
	cJSON_AddStringToObject(o, "protocol", proto_text(r->proto, pbuf, sizeof(pbuf)));
	cJSON_AddNumberToObject(o, "protocolNumber", r->proto);
	cJSON_AddNumberToObject(o, "fromPort", r->port_from);
	cJSON_AddNumberToObject(o, "toPort", r->port_to);
	cJSON_AddStringToObject(o, "ports", ports_text(r, buf, sizeof(buf)));
	remote = cJSON_AddObjectToObject(o, "remote");
	if (remote) {
		cJSON_AddStringToObject(remote, "kind", remote_kind(r));
		cJSON_AddStringToObject(remote, "value", remote_text(r, buf, sizeof(buf)));
	}
	if (r->description)
		cJSON_AddStringToObject(o, "description", r->description);
	else
		cJSON_AddNullToObject(o, "description");
	if (r->rule_id)
		cJSON_AddStringToObject(o, "securityGroupRuleId", r->rule_id);
	else
		cJSON_AddNullToObject(o, "securityGroupRuleId");
	origin = cJSON_AddObjectToObject(o, "origin");
	if (origin) {
		cJSON_AddStringToObject(origin, "file", r->origin.file ? r->origin.file : "");
		cJSON_AddStringToObject(origin, "path", r->origin.path ? r->origin.path : "");
	}
	addrs = cJSON_AddObjectToObject(o, "addresses");
	if (addrs) {
		cJSON_AddNumberToObject(addrs, "ipv4", cr->n_prefixes[SGBPF_AF_V4]);
		cJSON_AddNumberToObject(addrs, "ipv6", cr->n_prefixes[SGBPF_AF_V6]);
	}
	return o;
}

cJSON *rules_endpoint_json(const struct sg_compiled *c, const struct sg_compiled_endpoint *ce)
{
	static const char *const keys[SGBPF_DIR_MAX] = { "inbound", "outbound" };
	const struct sg_endpoint *ep = ce->src;
	cJSON *o = cJSON_CreateObject(), *sgs;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", ep->name ? ep->name : "");
	cJSON_AddNumberToObject(o, "epId", ce->ep_id);
	sgs = cJSON_AddArrayToObject(o, "securityGroups");
	for (size_t i = 0; sgs && i < ep->n_sgs; i++)
		cJSON_AddItemToArray(sgs, cJSON_CreateString(ep->sgs[i]));
	for (int d = 0; d < SGBPF_DIR_MAX; d++) {
		cJSON *arr = cJSON_AddArrayToObject(o, keys[d]);

		for (size_t i = 0; arr && i < ce->n_rule_ids[d]; i++) {
			cJSON *r = rules_rule_json(&c->rules[ce->rule_ids[d][i]], d);

			if (!r) {
				cJSON_Delete(o);
				return NULL;
			}
			cJSON_AddItemToArray(arr, r);
		}
	}
	return o;
}

static int print_json(const char *dir, const struct sg_compiled *c,
		      const struct sg_compiled_endpoint *only)
{
	cJSON *root = cJSON_CreateObject(), *eps;
	char *text;

	if (!root)
		return -ENOMEM;
	cJSON_AddStringToObject(root, "policy", dir);
	cJSON_AddNumberToObject(root, "rules", (double)c->n_rules);
	eps = cJSON_AddArrayToObject(root, "endpoints");
	for (size_t i = 0; eps && i < c->n_endpoints; i++) {
		cJSON *e;

		if (only && only != &c->endpoints[i])
			continue;
		e = rules_endpoint_json(c, &c->endpoints[i]);
		if (!e) {
			cJSON_Delete(root);
			return -ENOMEM;
		}
		cJSON_AddItemToArray(eps, e);
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return -ENOMEM;
	printf("%s\n", text);
	free(text);
	return 0;
}

void rules_print_table(const struct sg_compiled *c, const struct sg_compiled_endpoint *only)
{
	static const char *const names[SGBPF_DIR_MAX] = { "inbound", "outbound" };
	bool first = true;

	for (size_t i = 0; i < c->n_endpoints; i++) {
		const struct sg_compiled_endpoint *ce = &c->endpoints[i];
		const struct sg_endpoint *ep = ce->src;

		if (only && only != ce)
			continue;
		printf("%sendpoint %s (ep %u; SGs", first ? "" : "\n", ep->name ? ep->name : "?",
		       ce->ep_id);
		for (size_t j = 0; j < ep->n_sgs; j++)
			printf(" %s", ep->sgs[j]);
		printf(")\n");
		first = false;
		for (int d = 0; d < SGBPF_DIR_MAX; d++) {
			if (!ce->n_rule_ids[d]) {
				printf("  %s: no rules (no new %s flow is allowed)\n", names[d], names[d]);
				continue;
			}
			printf("  %s: %zu rule%s\n", names[d], ce->n_rule_ids[d],
			       ce->n_rule_ids[d] == 1 ? "" : "s");
			printf("    %-5s %-22s %-7s %-11s %-28s %-6s %s\n", "RULE", "SG", "PROTO",
			       "PORTS", d == SGBPF_DIR_IN ? "SOURCE" : "DESTINATION", "ADDRS",
			       "ORIGIN");
			for (size_t k = 0; k < ce->n_rule_ids[d]; k++) {
				const struct sg_compiled_rule *cr = &c->rules[ce->rule_ids[d][k]];
				const struct sg_rule *r = cr->src;
				char pbuf[32], ports[32], remote[96], where[16];

				snprintf(where, sizeof(where), "%u",
					 cr->n_prefixes[SGBPF_AF_V4] + cr->n_prefixes[SGBPF_AF_V6]);
				printf("    %-5u %-22s %-7s %-11s %-28s %-6s %s: %s\n", cr->rule_id, cr->sg_id,
				       proto_text(r->proto, pbuf, sizeof(pbuf)),
				       ports_text(r, ports, sizeof(ports)),
				       remote_text(r, remote, sizeof(remote)), where,
				       r->origin.file ? r->origin.file : "?",
				       r->origin.path ? r->origin.path : "");
			}
		}
	}
}

int cmd_rules(int argc, char **argv)
{
	const char *dir = NULL, *endpoint = NULL, *output = "table", *socket = NULL;
	char *live_dir = NULL;
	const struct sg_compiled_endpoint *only = NULL;
	struct sg_policy policy;
	struct sg_compiled compiled;
	struct sg_diags diags;
	int err, rc = SG_EXIT_OK;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			rules_usage(stdout);
			return SG_EXIT_OK;
		} else if (!strcmp(a, "--socket") && i + 1 < argc) {
			socket = argv[++i];
		} else if (!strcmp(a, "--endpoint") || !strcmp(a, "-o") || !strcmp(a, "--output")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "sgbpf rules: %s needs a value; see 'sgbpf rules --help'\n", a);
				return SG_EXIT_ERROR;
			}
			if (!strcmp(a, "--endpoint"))
				endpoint = argv[++i];
			else
				output = argv[++i];
		} else if (!strncmp(a, "--endpoint=", 11)) {
			endpoint = a + 11;
		} else if (!strncmp(a, "--output=", 9)) {
			output = a + 9;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "sgbpf rules: unknown option '%s'; see 'sgbpf rules --help'\n", a);
			return SG_EXIT_ERROR;
		} else if (dir) {
			fprintf(stderr, "sgbpf rules: one policy directory expected, got '%s' and '%s'\n",
				dir, a);
			return SG_EXIT_ERROR;
		} else {
			dir = a;
		}
	}
	if (strcmp(output, "table") && strcmp(output, "json")) {
		fprintf(stderr, "sgbpf rules: unknown output format '%s'; use -o table or -o json\n",
			output);
		return SG_EXIT_ERROR;
	}
	if (!dir) {
		dir = live_dir = live_daemon_policy_dir("sgbpf rules", "DIR", socket);
		if (!dir)
			return SG_EXIT_ERROR;
	}

	sg_policy_init(&policy);
	sg_diags_init(&diags);
	err = sg_policy_load_dir(&policy, dir, &diags);
	if (!err)
		err = sg_compile(&policy, NULL, &compiled, &diags);
	sg_diags_print(&diags, stderr);
	if (err) {
		rc = (err == -EINVAL || err == -E2BIG) ? SG_EXIT_NO : SG_EXIT_ERROR;
		if (rc == SG_EXIT_NO)
			fprintf(stderr, "%s: invalid policy; fix the errors above ('sgbpf validate %s')\n",
				dir, dir);
		goto out;
	}
	if (endpoint) {
		only = sg_compiled_endpoint(&compiled, endpoint);
		if (!only) {
			fprintf(stderr, "sgbpf rules: no endpoint named '%s' in %s\n", endpoint, dir);
			rc = SG_EXIT_ERROR;
			goto out_compiled;
		}
	}
	if (!strcmp(output, "json")) {
		if (print_json(dir, &compiled, only)) {
			fprintf(stderr, "sgbpf rules: out of memory building the JSON output\n");
			rc = SG_EXIT_ERROR;
		}
	} else {
		rules_print_table(&compiled, only);
	}
out_compiled:
	sg_compiled_free(&compiled);
out:
	sg_diags_free(&diags);
	sg_policy_free(&policy);
	free(live_dir);
	return rc;
}
