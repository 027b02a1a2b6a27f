// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf stats: the datapath's counters per endpoint (ep_stats), per rule of
 * the policy in force (rule_stats of the active slot, traced to SG + rule
 * through the compiled policy) and per drop/allow reason (global_stats);
 * --watch S prints rates over each interval instead of totals.
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
		"usage: sgbpf stats [--endpoint NAME] [--watch S [--count N]] [--policy DIR]\n"
		"                   [--pin-dir P] [--socket PATH] [-o table|json]\n"
		"\n"
		"Counters since the maps were created:\n"
		"  per endpoint:    allowed and dropped packets/bytes per direction, drops by reason\n"
		"  per rule:        new flows (and their first packets' bytes) each rule of the\n"
		"                   policy in force admitted since that generation was applied,\n"
		"                   with its SG and the rule as written (needs the policy:\n"
		"                   sgbpfd's directory or --policy); rules that admitted\n"
		"                   nothing are left out\n"
		"  per reason:      drops and allows by reason over the whole node\n"
		"With --watch S: every S seconds, the rates (per second) over the last S seconds,\n"
		"until interrupted or N intervals (--count); -o json then prints one JSON object\n"
		"per line.\n"
		"\n"
		"  --endpoint NAME  only this endpoint (and its rules)\n"
		"  --watch S        print rates every S seconds\n"
		"  --count N        stop after N intervals\n"
		"  --policy DIR     the policy directory in force (default: ask sgbpfd)\n"
		LIVE_COMMON_HELP
		"\n"
		"Exit: 0 success, 1 no such endpoint, 2 usage or runtime error.\n");
}

struct snap {
	struct sgbpf_ep_stats *eps;     /* SGBPF_MAX_ENDPOINTS */
	struct sgbpf_rule_stats *rules; /* n_rules             */
	struct sgbpf_global_stats g;
	uint64_t t_ns;
};

static int snap_take(const struct sgbpf_inspect *ins, uint32_t n_rules, long only,
		     struct snap *s)
{
	int err;

	s->t_ns = sgbpf_mono_ns();
	for (uint32_t i = 0; i < SGBPF_MAX_ENDPOINTS; i++) {
		if (!sgbpf_inspect_record(ins, i) || (only >= 0 && i != only))
			continue;
		err = sgbpf_inspect_ep_stats(ins, i, &s->eps[i]);
		if (err)
			return err;
	}
	err = sgbpf_inspect_rule_stats(ins, ins->state.active_slot, n_rules, s->rules);
	if (!err)
		err = sgbpf_inspect_global_stats(ins, &s->g);
	return err;
}

/* Value or rate: (now - prev) / dt when prev is given. */
static void put(cJSON *o, const char *key, __u64 now, const __u64 *prev, double dt)
{
	if (prev)
		cJSON_AddNumberToObject(o, key, (double)(int64_t)(now - *prev) / dt);
	else
		live_add_u64(o, key, now);
}

#define P(field) (prev ? &prev->field : NULL)

static cJSON *build(const struct sgbpf_inspect *ins, const struct live_policy *lp,
		    uint32_t n_rules, long only, const struct snap *s, const struct snap *prev)
{
	static const char *dirs[SGBPF_DIR_MAX] = { "inbound", "outbound" };
	double dt = prev ? (s->t_ns - prev->t_ns) / 1e9 : 0;
	cJSON *doc = cJSON_CreateObject(), *arr, *by;

	live_add_u64(doc, "generation", ins->state.generation);
	if (prev)
		cJSON_AddNumberToObject(doc, "intervalSeconds", dt);
	cJSON_AddStringToObject(doc, "unit", prev ? "per-second" : "total");
	arr = cJSON_AddArrayToObject(doc, "endpoints");
	for (uint32_t i = 0; i < SGBPF_MAX_ENDPOINTS; i++) {
		const struct sgbpf_ep_stats *e = &s->eps[i];
		cJSON *o, *d;

		if (!sgbpf_inspect_record(ins, i) || (only >= 0 && i != only))
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", ins->recs[i].name);
		cJSON_AddNumberToObject(o, "epId", i);
		for (int k = 0; k < SGBPF_DIR_MAX; k++) {
			d = cJSON_AddObjectToObject(o, dirs[k]);
			put(d, "allowPackets", e->allow_packets[k], P(eps[i].allow_packets[k]), dt);
			put(d, "allowBytes", e->allow_bytes[k], P(eps[i].allow_bytes[k]), dt);
			put(d, "dropPackets", e->drop_packets[k], P(eps[i].drop_packets[k]), dt);
			put(d, "dropBytes", e->drop_bytes[k], P(eps[i].drop_bytes[k]), dt);
		}
		by = cJSON_AddObjectToObject(o, "dropsByReason");
		for (int r = 0; r < SGBPF_DROP_REASON_MAX; r++)
			put(by, sgbpf_drop_reason_name(r), e->drops_by_reason[r],
			    P(eps[i].drops_by_reason[r]), dt);
		by = cJSON_AddObjectToObject(o, "allowsByReason");
		for (int r = 0; r < SGBPF_ALLOW_REASON_MAX; r++)
			put(by, sgbpf_allow_reason_name(r), e->allows_by_reason[r],
			    P(eps[i].allows_by_reason[r]), dt);
		by = cJSON_AddObjectToObject(o, "probes");
		put(by, "allowed", e->allows_by_reason[SGBPF_ALLOW_PROBE],
		    P(eps[i].allows_by_reason[SGBPF_ALLOW_PROBE]), dt);
		put(by, "dropped", e->probe_drops, P(eps[i].probe_drops), dt);
		put(by, "steered", e->probe_steered, P(eps[i].probe_steered), dt);
		cJSON_AddItemToArray(arr, o);
	}
	arr = cJSON_AddArrayToObject(doc, "rules");
	for (uint32_t i = 0; i < n_rules; i++) {
		const struct sg_compiled_rule *cr = live_rule(lp, i);
		cJSON *o;
		char text[256];

		if (!s->rules[i].packets)
			continue;   /* rules that admitted nothing would drown the rest */
		if (only >= 0 && lp->ok) {
			const struct sg_compiled_endpoint *ce =
				sg_compiled_endpoint(&lp->c, ins->recs[only].name);
			bool mine = false;

			for (int d = 0; ce && d < SGBPF_DIR_MAX; d++)
				for (size_t k = 0; k < ce->n_rule_ids[d]; k++)
					mine |= ce->rule_ids[d][k] == i;
			if (!mine)
				continue;
		}
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "ruleId", i);
		if (cr) {
			cJSON_AddStringToObject(o, "securityGroup", cr->sg_id);
			cJSON_AddStringToObject(o, "direction", cr->src->egress ? "outbound" : "inbound");
			cJSON_AddStringToObject(o, "rule", sg_rule_describe(cr, text, sizeof(text)));
		} else {
			cJSON_AddNullToObject(o, "securityGroup");
			cJSON_AddNullToObject(o, "direction");
			cJSON_AddNullToObject(o, "rule");
		}
		put(o, "newFlows", s->rules[i].packets, P(rules[i].packets), dt);
		put(o, "bytes", s->rules[i].bytes, P(rules[i].bytes), dt);
		cJSON_AddItemToArray(arr, o);
	}
	by = cJSON_AddObjectToObject(doc, "dropsByReason");
	for (int r = 0; r < SGBPF_DROP_REASON_MAX; r++)
		put(by, sgbpf_drop_reason_name(r), s->g.drops_by_reason[r], P(g.drops_by_reason[r]), dt);
	by = cJSON_AddObjectToObject(doc, "allowsByReason");
	for (int r = 0; r < SGBPF_ALLOW_REASON_MAX; r++)
		put(by, sgbpf_allow_reason_name(r), s->g.allows_by_reason[r],
		    P(g.allows_by_reason[r]), dt);
	by = cJSON_AddObjectToObject(doc, "probes");
	put(by, "allowed", s->g.allows_by_reason[SGBPF_ALLOW_PROBE],
	    P(g.allows_by_reason[SGBPF_ALLOW_PROBE]), dt);
	put(by, "dropped", s->g.probe_drops, P(g.probe_drops), dt);
	put(by, "steered", s->g.probe_steered, P(g.probe_steered), dt);
	put(by, "unsteered", s->g.probe_unsteered, P(g.probe_unsteered), dt);
	by = cJSON_AddObjectToObject(doc, "other");
	put(by, "unknownInterfacePackets", s->g.unknown_iface, P(g.unknown_iface), dt);
	put(by, "conntrackNewCreated", s->g.ct_new_created, P(g.ct_new_created), dt);
	put(by, "conntrackEstablishedCreated", s->g.ct_est_created, P(g.ct_est_created), dt);
	put(by, "conntrackEstablishedFull", s->g.ct_est_full, P(g.ct_est_full), dt);
	return doc;
}

static const char *num(const cJSON *v, bool rate, char *buf, size_t len)
{
	if (rate)
		snprintf(buf, len, "%.1f/s", v->valuedouble);
	else
		snprintf(buf, len, "%.0f", v->valuedouble);
	return buf;
}

static void print_table(cJSON *doc)
{
	bool rate = cJSON_GetObjectItem(doc, "intervalSeconds") != NULL;
	cJSON *e, *x;
	char b[4][32];

	if (rate)
		printf("rates over the last %.1f s (generation %.0f)\n",
		       cJSON_GetObjectItem(doc, "intervalSeconds")->valuedouble,
		       cJSON_GetObjectItem(doc, "generation")->valuedouble);
	printf("%-28s %12s %12s %12s %12s  %s\n", "ENDPOINT", "IN-ALLOW", "IN-DROP", "OUT-ALLOW",
	       "OUT-DROP", "DROPS BY REASON");
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(doc, "endpoints")) {
		cJSON *in = cJSON_GetObjectItem(e, "inbound"), *out = cJSON_GetObjectItem(e, "outbound");
		bool first = true;

		printf("%-28s %12s %12s %12s %12s  ", cJSON_GetObjectItem(e, "name")->valuestring,
		       num(cJSON_GetObjectItem(in, "allowPackets"), rate, b[0], 32),
		       num(cJSON_GetObjectItem(in, "dropPackets"), rate, b[1], 32),
		       num(cJSON_GetObjectItem(out, "allowPackets"), rate, b[2], 32),
		       num(cJSON_GetObjectItem(out, "dropPackets"), rate, b[3], 32));
		cJSON_ArrayForEach(x, cJSON_GetObjectItem(e, "dropsByReason"))
			if (x->valuedouble) {
				printf("%s%s=%s", first ? "" : " ", x->string, num(x, rate, b[0], 32));
				first = false;
			}
		printf("%s\n", first ? "-" : "");
	}
	printf("\n%-5s %-22s %12s %12s  %s\n", "RULE", "SG", "NEW-FLOWS", "BYTES", "AS WRITTEN");
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(doc, "rules")) {
		cJSON *sg = cJSON_GetObjectItem(e, "securityGroup"), *r = cJSON_GetObjectItem(e, "rule");

		printf("%-5d %-22s %12s %12s  %s\n", cJSON_GetObjectItem(e, "ruleId")->valueint,
		       cJSON_IsString(sg) ? sg->valuestring : "?",
		       num(cJSON_GetObjectItem(e, "newFlows"), rate, b[0], 32),
		       num(cJSON_GetObjectItem(e, "bytes"), rate, b[1], 32),
		       cJSON_IsString(r) ? r->valuestring : "(policy unavailable)");
	}
	if (!cJSON_GetArraySize(cJSON_GetObjectItem(doc, "rules")))
		printf("(no rule admitted a new flow%s)\n", rate ? " in this interval" : "");
	printf("\n%-24s %12s    %-24s %12s\n", "DROP REASON", "PACKETS", "ALLOW REASON", "PACKETS");
	{
		cJSON *d = cJSON_GetObjectItem(doc, "dropsByReason")->child;
		cJSON *a = cJSON_GetObjectItem(doc, "allowsByReason")->child;

		while (d || a) {
			printf("%-24s %12s    %-24s %12s\n", d ? d->string : "",
			       d ? num(d, rate, b[0], 32) : "", a ? a->string : "",
			       a ? num(a, rate, b[1], 32) : "");
			d = d ? d->next : NULL;
			a = a ? a->next : NULL;
		}
	}
	x = cJSON_GetObjectItem(doc, "probes");
	printf("\nkubelet probes: allowed %s, dropped %s, steered to the node %s, unsteered %s\n",
	       num(cJSON_GetObjectItem(x, "allowed"), rate, b[0], 32),
	       num(cJSON_GetObjectItem(x, "dropped"), rate, b[1], 32),
	       num(cJSON_GetObjectItem(x, "steered"), rate, b[2], 32),
	       num(cJSON_GetObjectItem(x, "unsteered"), rate, b[3], 32));
	x = cJSON_GetObjectItem(doc, "other");
	printf("packets on unknown interfaces %s, conntrack entries created: new %s, "
	       "established %s\n", num(cJSON_GetObjectItem(x, "unknownInterfacePackets"), rate, b[0], 32),
	       num(cJSON_GetObjectItem(x, "conntrackNewCreated"), rate, b[1], 32),
	       num(cJSON_GetObjectItem(x, "conntrackEstablishedCreated"), rate, b[2], 32));
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		LIVE_LONGOPTS,
		{ "endpoint", required_argument, NULL, 'e' },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct snap s[2] = { 0 };
	struct live_opts lo;
	struct sgbpf_inspect ins;
	struct live_policy lp;
	const char *endpoint = NULL;
	double watch = 0;
	long count = 0, only = -1;
	uint32_t n_rules;
	int opt, rc = SG_EXIT_OK, cur = 0;
	char *end;

	live_opts_init(&lo, "sgbpf stats");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		int r = live_opt(&lo, opt, optarg);

		if (r < 0)
			return SG_EXIT_ERROR;
		if (r)
			continue;
		switch (opt) {
		case 'e':
			endpoint = optarg;
			break;
		case 'w':
			watch = strtod(optarg, &end);
			if (*end || watch < 0.1 || watch > 86400) {
				fprintf(stderr, "sgbpf stats: --watch wants seconds in 0.1..86400, got "
					"'%s'\n", optarg);
				return SG_EXIT_ERROR;
			}
			break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || count < 1) {
				fprintf(stderr, "sgbpf stats: --count wants a positive number, got '%s'\n",
					optarg);
				return SG_EXIT_ERROR;
			}
			break;
		case 'h':
			usage(stdout);
			return SG_EXIT_OK;
		default:
			usage(stderr);
			return SG_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sgbpf stats: unexpected argument '%s'\n", argv[optind]);
		return SG_EXIT_ERROR;
	}
	if (live_open(&lo, &ins, 0))
		return SG_EXIT_ERROR;
	if (endpoint) {
		only = sgbpf_inspect_ep_by_name(&ins, endpoint);
		if (only < 0) {
			fprintf(stderr, "sgbpf stats: no endpoint named '%s' in policy generation %llu\n",
				endpoint, (unsigned long long)ins.state.generation);
			sgbpf_inspect_close(&ins);
			return SG_EXIT_NO;
		}
	}
	if (live_policy_load(&lo, &ins, &lp, true) == -ENOENT)
		fprintf(stderr, "sgbpf stats: sgbpfd does not answer and no --policy: rules are shown "
			"by id only\n");
	if (lp.ok && lp.stale) {
		/* Rule ids of the directory are not the slot's: don't name them. */
		live_policy_free(&lp);
	}
	n_rules = ins.cfg.n_rules;
	for (int i = 0; i < 2; i++) {
		s[i].eps = calloc(SGBPF_MAX_ENDPOINTS, sizeof(*s[i].eps));
		s[i].rules = calloc(n_rules ? n_rules : 1, sizeof(*s[i].rules));
		if (!s[i].eps || !s[i].rules) {
			rc = SG_EXIT_ERROR;
			goto out;
		}
	}
	if (snap_take(&ins, n_rules, only, &s[cur])) {
		fprintf(stderr, "sgbpf stats: reading the counters failed: %m\n");
		rc = SG_EXIT_ERROR;
		goto out;
	}
	if (!watch) {
		cJSON *doc = build(&ins, &lp, n_rules, only, &s[cur], NULL);

		if (lo.json)
			rc = live_print_json(doc) ? SG_EXIT_ERROR : SG_EXIT_OK;
		else {
			print_table(doc);
			cJSON_Delete(doc);
		}
		goto out;
	}
	live_signals();
	for (long n = 0; !count || n < count; n++) {
		cJSON *doc;

		if (!live_sleep(watch))
			break;
		cur ^= 1;
		if (snap_take(&ins, n_rules, only, &s[cur])) {
			fprintf(stderr, "sgbpf stats: reading the counters failed: %m\n");
			rc = SG_EXIT_ERROR;
			break;
		}
		doc = build(&ins, &lp, n_rules, only, &s[cur], &s[cur ^ 1]);
		if (lo.json) {
			char *t = cJSON_PrintUnformatted(doc);

			printf("%s\n", t ? t : "{}");
			free(t);
		} else {
			print_table(doc);
			printf("\n");
		}
		fflush(stdout);
		cJSON_Delete(doc);
	}
out:
	for (int i = 0; i < 2; i++) {
		free(s[i].eps);
		free(s[i].rules);
	}
	live_policy_free(&lp);
	sgbpf_inspect_close(&ins);
	return rc;
}
