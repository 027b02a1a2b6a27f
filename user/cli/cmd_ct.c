// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf ct list | ct flush: the conntrack table (ct_est: confirmed flows,
 * never evicted; ct_new: unconfirmed flows, LRU), filtered by endpoint,
 * protocol and address. flush deletes the matching entries: the only state
 * change besides `apply` that the CLI makes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "names.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sgbpf ct list  [--endpoint NAME] [--proto P] [--addr A[/N]] [-o table|json]\n"
		"       sgbpf ct flush [--endpoint NAME] [--proto P] [--addr A[/N]] [--all]\n"
		"\n"
		"list: every tracked flow: its endpoint, protocol, local (pod) and remote\n"
		"address and port (ICMP echo: the echo id as local port), state, which table\n"
		"holds it (established = ct_est, confirmed and never evicted; new = ct_new,\n"
		"unconfirmed, LRU), the direction of its first packet, the rule that admitted\n"
		"it (its id in the policy generation of that moment), age, idle time, time to expiry (idle timeout of its state minus idle time;\n"
		"an expired entry is deleted when next touched) and packets and bytes per\n"
		"direction (in = towards the pod).\n"
		"Untracked flows (allowed by /0 rules both ways, spec 3.4) have no entries: they\n"
		"show up in 'sgbpf stats' (allowed, reason untracked), not here.\n"
		"\n"
		"flush: delete the matching entries and print how many. Without a filter it\n"
		"needs --all. A flushed flow's next packet is judged as a new flow by the\n"
		"rules in force (a reply with no rule allowing it is then dropped).\n"
		"\n"
		"  --endpoint NAME  only this endpoint's flows\n"
		"  --proto P        tcp, udp, icmp, icmpv6 or a protocol number\n"
		"  --addr A[/N]     local or remote address in A/N (default: exactly A)\n"
		"  --all            (flush) every entry\n"
		"  --pin-dir P      sgbpfd's pin directory (default " SGBPF_PIN_DIR_DEFAULT ")\n"
		"  -o table|json    (list) output for people (default) or machines\n"
		"\n"
		"Exit: 0 success, 1 no such endpoint, 2 usage or runtime error.\n");
}

struct ct_ctx {
	const struct sgbpf_inspect *ins;
	long ep_id;                 /* -1: any */
	int proto;                  /* -1: any */
	bool have_addr;
	struct sg_cidr addr;
	bool flush, json;
	cJSON *arr;
	long matched;
};

static bool matches(const struct ct_ctx *x, const struct sgbpf_ct_key *k)
{
	struct sg_addr a = { .family = k->family };

	if (x->ep_id >= 0 && k->ep_id != (uint32_t)x->ep_id)
		return false;
	if (x->proto >= 0 && k->proto != x->proto)
		return false;
	if (!x->have_addr)
		return true;
	memcpy(a.addr, k->local_addr, 16);
	if (sg_cidr_contains(&x->addr, &a))
		return true;
	memcpy(a.addr, k->remote_addr, 16);
	return sg_cidr_contains(&x->addr, &a);
}

static bool is_icmp(const struct sgbpf_ct_key *k)
{
	return (k->family == SGBPF_AF_V4 && k->proto == 1) ||
	       (k->family == SGBPF_AF_V6 && k->proto == 58);
}

static const char *endpoint_text(const struct sgbpf_inspect *ins, uint32_t ep, char *buf,
				 size_t len)
{
	return live_ep_name(ins, ep, buf, len);
}

static cJSON *entry_json(const struct ct_ctx *x, const struct sgbpf_ct_entry *e)
{
	cJSON *o = cJSON_CreateObject(), *d;
	char buf[128];

	cJSON_AddStringToObject(o, "endpoint", endpoint_text(x->ins, e->key.ep_id, buf, sizeof(buf)));
	cJSON_AddNumberToObject(o, "epId", e->key.ep_id);
	cJSON_AddStringToObject(o, "family", sgbpf_family_name(e->key.family));
	cJSON_AddStringToObject(o, "protocol", live_proto(e->key.proto, buf, sizeof(buf)));
	cJSON_AddNumberToObject(o, "protocolNumber", e->key.proto);
	cJSON_AddStringToObject(o, "localAddress",
				sgbpf_addr_text(e->key.family, e->key.local_addr, buf, sizeof(buf)));
	cJSON_AddNumberToObject(o, "localPort", ntohs(e->key.local_port));
	cJSON_AddStringToObject(o, "remoteAddress",
				sgbpf_addr_text(e->key.family, e->key.remote_addr, buf, sizeof(buf)));
	cJSON_AddNumberToObject(o, "remotePort", ntohs(e->key.remote_port));
	cJSON_AddStringToObject(o, "state", sgbpf_ct_state_name(e->val.state));
	cJSON_AddBoolToObject(o, "tracked", true);
	cJSON_AddStringToObject(o, "table", e->established_map ? "established" : "new");
	cJSON_AddStringToObject(o, "originDirection", sgbpf_dir_name(e->val.origin_dir));
	cJSON_AddBoolToObject(o, "seenReply", e->val.seen_reply);
	if (e->val.rule_id == SGBPF_RULE_NONE)
		cJSON_AddNullToObject(o, "ruleId");
	else
		cJSON_AddNumberToObject(o, "ruleId", e->val.rule_id);
	cJSON_AddNumberToObject(o, "ageSeconds", e->age_ns / 1e9);
	cJSON_AddNumberToObject(o, "idleSeconds", e->idle_ns / 1e9);
	cJSON_AddNumberToObject(o, "timeoutSeconds", e->timeout_s);
	cJSON_AddNumberToObject(o, "expiresInSeconds", e->expires_in_ns / 1e9);
	for (int dir = 0; dir < SGBPF_DIR_MAX; dir++) {
		d = cJSON_AddObjectToObject(o, dir == SGBPF_DIR_IN ? "in" : "out");
		live_add_u64(d, "packets", e->val.packets[dir]);
		live_add_u64(d, "bytes", e->val.bytes[dir]);
	}
	return o;
}

static void print_entry(const struct ct_ctx *x, const struct sgbpf_ct_entry *e)
{
	char ep[64], proto[16], l[64], r[64], lp[80], rp[80], age[16], idle[16], exp[24], rule[12];

	sgbpf_addr_text(e->key.family, e->key.local_addr, l, sizeof(l));
	sgbpf_addr_text(e->key.family, e->key.remote_addr, r, sizeof(r));
	if (is_icmp(&e->key)) {
		snprintf(lp, sizeof(lp), "%s id %u", l, ntohs(e->key.local_port));
		snprintf(rp, sizeof(rp), "%s", r);
	} else if (e->key.proto == 6 || e->key.proto == 17) {
		snprintf(lp, sizeof(lp), e->key.family == SGBPF_AF_V6 ? "[%s]:%u" : "%s:%u", l,
			 ntohs(e->key.local_port));
		snprintf(rp, sizeof(rp), e->key.family == SGBPF_AF_V6 ? "[%s]:%u" : "%s:%u", r,
			 ntohs(e->key.remote_port));
	} else {
		snprintf(lp, sizeof(lp), "%s", l);
		snprintf(rp, sizeof(rp), "%s", r);
	}
	if (e->expires_in_ns < 0)
		snprintf(exp, sizeof(exp), "expired");
	else
		live_duration(e->expires_in_ns, exp, sizeof(exp));
	if (e->val.rule_id == SGBPF_RULE_NONE)
		snprintf(rule, sizeof(rule), "-");
	else
		snprintf(rule, sizeof(rule), "%u", e->val.rule_id);
	printf("%-20s %-6s %-28s %-28s %-11s %-5s %-3s %-5s %8s %8s %8s %8llu/%-8llu %llu/%llu\n",
	       endpoint_text(x->ins, e->key.ep_id, ep, sizeof(ep)),
	       live_proto(e->key.proto, proto, sizeof(proto)), lp, rp,
	       sgbpf_ct_state_name(e->val.state), e->established_map ? "est" : "new",
	       sgbpf_dir_name(e->val.origin_dir), rule,
	       live_duration(e->age_ns, age, sizeof(age)), live_duration(e->idle_ns, idle, sizeof(idle)),
	       exp, (unsigned long long)e->val.packets[SGBPF_DIR_IN],
	       (unsigned long long)e->val.packets[SGBPF_DIR_OUT],
	       (unsigned long long)e->val.bytes[SGBPF_DIR_IN],
	       (unsigned long long)e->val.bytes[SGBPF_DIR_OUT]);
}

static int on_entry(const struct sgbpf_ct_entry *e, void *ctx)
{
	struct ct_ctx *x = ctx;

	if (!matches(x, &e->key))
		return 0;
	x->matched++;
	if (x->json)
		cJSON_AddItemToArray(x->arr, entry_json(x, e));
	else
		print_entry(x, e);
	return 0;
}

/* flush: the keys to delete, collected in one walk (ct.h). */
static bool flush_match(const struct sgbpf_ct_key *k, void *ctx)
{
	struct ct_ctx *x = ctx;

	if (!matches(x, k))
		return false;
	x->matched++;
	return true;
}

/* Delete the matching entries and print how many. */
static int flush(struct ct_ctx *x, const struct live_opts *lo)
{
	size_t deleted = 0;
	/* Matched but not deleted by us: expired and deleted by the datapath
	 * between the walk and the delete (or seen twice by a walk restarted
	 * when its key expired under it). */
	long gone;
	int err = sgbpf_ct_delete_if(&x->ins->ct, flush_match, x, &deleted);

	if (err) {
		fprintf(stderr, "%s: deleting the matching conntrack entries failed (%zu deleted): "
			"%s%s\n", lo->verb, deleted, strerror(-err),
			err == -EAGAIN ? " (the tables changed too fast under the walk); run it "
			"again" : "");
		return SG_EXIT_ERROR;
	}
	gone = x->matched > (long)deleted ? x->matched - (long)deleted : 0;
	if (x->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "flushed", deleted);
		cJSON_AddNumberToObject(o, "alreadyGone", gone);
		live_print_json(o);
	} else {
		printf("flushed %zu conntrack entr%s\n", deleted, deleted == 1 ? "y" : "ies");
	}
	return SG_EXIT_OK;
}

int cmd_ct(int argc, char **argv)
{
	static const struct option opts[] = {
		LIVE_LONGOPTS,
		{ "endpoint", required_argument, NULL, 'e' },
		{ "proto", required_argument, NULL, 'p' },
		{ "addr", required_argument, NULL, 'a' },
		{ "all", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	struct ct_ctx x = { .ep_id = -1, .proto = -1 };
	const char *endpoint = NULL, *sub;
	struct live_opts lo;
	struct sgbpf_inspect ins;
	bool all = false;
	int opt, rc;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return SG_EXIT_OK;
	}
	if (argc < 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "flush"))) {
		fprintf(stderr, "sgbpf ct: expected 'list' or 'flush'; see 'sgbpf ct --help'\n");
		return SG_EXIT_ERROR;
	}
	sub = argv[1];
	x.flush = !strcmp(sub, "flush");
	live_opts_init(&lo, x.flush ? "sgbpf ct flush" : "sgbpf ct list");
	optind = 1;
	argc--;
	argv++;
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
		case 'p':
			x.proto = live_proto_parse(optarg);
			if (x.proto < 0) {
				fprintf(stderr, "%s: unknown protocol '%s'; use tcp, udp, icmp, icmpv6 "
					"or a number 0..255\n", lo.verb, optarg);
				return SG_EXIT_ERROR;
			}
			break;
		case 'a': {
			struct sg_addr a;
			bool host;

			x.have_addr = true;
			if (strchr(optarg, '/')) {
				if (sg_cidr_parse(optarg, &x.addr, &host))
					goto bad_addr;
			} else {
				if (sg_addr_parse(optarg, &a))
					goto bad_addr;
				x.addr.family = a.family;
				x.addr.plen = a.family == SGBPF_AF_V6 ? 128 : 32;
				memcpy(x.addr.addr, a.addr, 16);
			}
			break;
bad_addr:
			fprintf(stderr, "%s: --addr wants an IPv4 or IPv6 address or CIDR, got '%s'\n",
				lo.verb, optarg);
			return SG_EXIT_ERROR;
		}
		case 'A':
			all = true;
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
		fprintf(stderr, "%s: unexpected argument '%s'\n", lo.verb, argv[optind]);
		return SG_EXIT_ERROR;
	}
	if (x.flush && !all && !endpoint && x.proto < 0 && !x.have_addr) {
		fprintf(stderr, "sgbpf ct flush: no filter given; pass --endpoint/--proto/--addr, or "
			"--all to delete every entry\n");
		return SG_EXIT_ERROR;
	}
	if (live_open(&lo, &ins, x.flush ? SGBPF_INSPECT_CT_WRITE : 0))
		return SG_EXIT_ERROR;
	x.ins = &ins;
	x.json = lo.json;
	if (endpoint) {
		x.ep_id = sgbpf_inspect_ep_by_name(&ins, endpoint);
		if (x.ep_id < 0) {
			fprintf(stderr, "%s: no endpoint named '%s' in policy generation %llu\n",
				lo.verb, endpoint, (unsigned long long)ins.state.generation);
			sgbpf_inspect_close(&ins);
			return SG_EXIT_NO;
		}
	}
	if (x.flush) {
		rc = flush(&x, &lo);
		sgbpf_inspect_close(&ins);
		return rc;
	}
	if (x.json)
		x.arr = cJSON_CreateArray();
	else
		printf("%-20s %-6s %-28s %-28s %-11s %-5s %-3s %-5s %8s %8s %8s %17s %s\n",
		       "ENDPOINT", "PROTO", "LOCAL", "REMOTE", "STATE", "TABLE", "DIR", "RULE", "AGE",
		       "IDLE", "EXPIRES", "PKTS IN/OUT", "BYTES IN/OUT");
	rc = sgbpf_inspect_ct_foreach(&ins, on_entry, &x);
	if (rc) {
		fprintf(stderr, "%s: walking the conntrack maps failed: %s\n", lo.verb,
			strerror(-rc));
		cJSON_Delete(x.arr);
		sgbpf_inspect_close(&ins);
		return SG_EXIT_ERROR;
	}
	if (x.json) {
		cJSON *o = cJSON_CreateObject();

		live_add_u64(o, "generation", ins.state.generation);
		cJSON_AddItemToObject(o, "flows", x.arr);
		live_print_json(o);
	} else if (!x.matched) {
		printf("(no tracked flows match)\n");
	}
	sgbpf_inspect_close(&ins);
	return SG_EXIT_OK;
}
