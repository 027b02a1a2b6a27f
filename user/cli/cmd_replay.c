// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf replay: run a capture through the real programs, in order, with one
 * loaded datapath for the whole run so conntrack carries across packets.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "live.h"
#include "offline.h"

static void replay_usage(FILE *out)
{
	fprintf(out,
		"usage: sgbpf replay [--policy DIR] FILE.pcap [--verdicts] [-o json] [--socket PATH]\n"
		"\n"
		"Runs every packet of a capture (pcap or pcapng; Ethernet, 802.1Q-tagged, raw IP\n"
		"or Linux cooked) through the real BPF programs loaded privately with the policy\n"
		"in DIR, in order and statefully (conntrack carries across packets).\n"
		"A packet whose source is an endpoint's address is that endpoint's outbound\n"
		"traffic, one whose destination is, its inbound; pod-to-pod packets run outbound\n"
		"for the source then inbound for the destination (denied if either denies).\n"
		"Others are 'foreign' (reason not-an-endpoint; undecodable when the link or IP\n"
		"header is cut short). The reason is the one the last program run reported.\n"
		"Connection timeouts follow the wall clock of the replay, not capture times.\n"
		"\n"
		"  --policy DIR   policy directory; default: the one the running sgbpfd enforces\n"
		"  --socket PATH  sgbpfd's control socket (default /run/sgbpf/sgbpfd.sock)\n"
		"  --verdicts     first print one line per packet: INDEX allow|deny|foreign REASON\n"
		"  -o json        {\"packets\",\"allow\",\"deny\",\"foreign\",\"reasons\",\"verdicts\"}\n"
		"\n"
		"Needs root (BPF). Exit 0 when the capture was replayed (denies included), 2 on errors.\n");
}

struct reason_count {
	const char *name;
	unsigned long count;
};

struct replay_totals {
	unsigned long packets, allow, deny, foreign;
	struct reason_count reasons[SGBPF_ALLOW_REASON_MAX + SGBPF_DROP_REASON_MAX + 4];
	size_t n_reasons;
};

static void count_reason(struct replay_totals *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n_reasons; i++)
		if (!strcmp(t->reasons[i].name, name))
			break;
	if (i == t->n_reasons) {
		if (t->n_reasons == sizeof(t->reasons) / sizeof(t->reasons[0]))
			return;
		t->reasons[t->n_reasons++] = (struct reason_count){ .name = name };
	}
	t->reasons[i].count++;
}

static int cmp_reason(const void *a, const void *b)
{
	return strcmp(((const struct reason_count *)a)->name, ((const struct reason_count *)b)->name);
}

struct leg {
	const struct sg_compiled_endpoint *ep;
	enum sgbpf_dir dir;
	struct sg_offline_verdict v;
};

static cJSON *leg_json(const struct leg *l)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "endpoint", l->ep->src->name);
	cJSON_AddStringToObject(o, "direction", l->dir == SGBPF_DIR_IN ? "in" : "out");
	cJSON_AddStringToObject(o, "verdict", l->v.allow ? "allow" : "deny");
	cJSON_AddStringToObject(o, "reason", sg_offline_reason_name(&l->v));
	if (l->v.has_event && l->v.event.rule_id != SGBPF_RULE_NONE)
		cJSON_AddNumberToObject(o, "rule_id", l->v.event.rule_id);
	return o;
}

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 'S' },
		{ "verdicts", no_argument, NULL, 'v' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *policy = NULL, *file = NULL, *output = NULL, *socket = NULL;
	bool verdicts = false, json;
	struct replay_totals t = { 0 };
	struct sg_offline *ctx = NULL;
	struct sg_pcap *pcap = NULL;
	cJSON *root = NULL, *jv = NULL, *jr;
	struct sg_diags diags;
	struct sg_pcap_pkt pkt;
	char err[512];
	int opt, rc = SG_EXIT_ERROR, n;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': policy = optarg; break;
		case 'S': socket = optarg; break;
		case 'v': verdicts = true; break;
		case 'o': output = optarg; break;
		case 'h':
			replay_usage(stdout);
			return SG_EXIT_OK;
		case ':':
			fprintf(stderr, "sgbpf replay: %s needs a value; see 'sgbpf replay --help'\n",
				argv[optind - 1]);
			return SG_EXIT_ERROR;
		default:
			fprintf(stderr, "sgbpf replay: unknown option '%s'; see 'sgbpf replay --help'\n",
				argv[optind - 1]);
			return SG_EXIT_ERROR;
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (!file || optind < argc) {
		fprintf(stderr, "sgbpf replay: give exactly one capture file; "
			"see 'sgbpf replay --help'\n");
		return SG_EXIT_ERROR;
	}
	if (output && strcmp(output, "json")) {
		fprintf(stderr, "sgbpf replay: -o '%s': the only output format is json\n", output);
		return SG_EXIT_ERROR;
	}
	/* No --policy: the live node's; the process ends soon after, so it is not freed. */
	if (!policy && !(policy = live_daemon_policy_dir("sgbpf replay", "--policy DIR", socket)))
		return SG_EXIT_ERROR;
	json = output != NULL;
	if (geteuid() != 0) {
		fprintf(stderr, "sgbpf replay: needs root: it loads the BPF programs to run the "
			"capture through them; run it as root\n");
		return SG_EXIT_ERROR;
	}
	if (sg_pcap_open(file, &pcap, err, sizeof(err))) {
		fprintf(stderr, "sgbpf replay: %s\n", err);
		return SG_EXIT_ERROR;
	}
	sg_diags_init(&diags);
	n = sg_offline_open(policy, &ctx, &diags);
	if (n) {
		sg_diags_print(&diags, stderr);
		if (diags.n_errors && n == -EINVAL)
			fprintf(stderr, "sgbpf replay: policy %s is invalid (%zu errors above); "
				"fix them ('sgbpf validate %s')\n", policy, diags.n_errors, policy);
		else
			fprintf(stderr, "sgbpf replay: cannot evaluate with policy %s: %s\n", policy,
				strerror(-n));
		sg_diags_free(&diags);
		sg_pcap_close(pcap);
		return SG_EXIT_ERROR;
	}
	/* Warnings (e.g. a referenced group defined nowhere) still matter. */
	sg_diags_print(&diags, stderr);
	sg_diags_free(&diags);
	if (json) {
		root = cJSON_CreateObject();
		if (!root || (verdicts && !(jv = cJSON_CreateArray())))
			goto oom;
	}

	while ((n = sg_pcap_next(pcap, &pkt, err, sizeof(err))) == 1) {
		const struct sg_compiled_endpoint *src_ep = NULL, *dst_ep = NULL;
		struct leg legs[2];
		size_t n_legs = 0;
		const char *verdict, *reason;
		struct sg_addr sa, da;
		int e;

		t.packets++;
		if (pkt.decode_err) {
			reason = "undecodable";
		} else if ((e = sg_l2_view_addrs(&pkt.view, &sa, &da))) {
			reason = e == -ENOENT ? "not-an-endpoint" : "undecodable";
		} else {
			src_ep = sg_offline_endpoint_by_addr(ctx, &sa);
			dst_ep = sg_offline_endpoint_by_addr(ctx, &da);
			reason = "not-an-endpoint";
		}
		if (src_ep)
			legs[n_legs++] = (struct leg){ .ep = src_ep, .dir = SGBPF_DIR_OUT };
		if (dst_ep)
			legs[n_legs++] = (struct leg){ .ep = dst_ep, .dir = SGBPF_DIR_IN };

		verdict = "foreign";
		for (size_t i = 0; i < n_legs; i++) {
			e = sg_offline_run(ctx, legs[i].ep, legs[i].dir, &pkt.view, &legs[i].v);
			if (e) {
				fprintf(stderr, "sgbpf replay: %s: packet %zu: running it through the "
					"datapath failed: %s\n", file, pkt.index, strerror(-e));
				goto out;
			}
			verdict = legs[i].v.allow ? "allow" : "deny";
			reason = sg_offline_reason_name(&legs[i].v);
			if (!legs[i].v.allow) {
				/* Dropped on the way out: it never reaches the peer. */
				n_legs = i + 1;
				break;
			}
		}
		if (!n_legs)
			t.foreign++;
		else if (!strcmp(verdict, "allow"))
			t.allow++;
		else
			t.deny++;
		count_reason(&t, reason);

		if (verdicts && !json) {
			printf("%zu %s %s\n", pkt.index, verdict, reason);
		} else if (verdicts) {
			cJSON *o = cJSON_CreateObject(), *jl;

			if (!o)
				goto oom;
			cJSON_AddItemToArray(jv, o);
			cJSON_AddNumberToObject(o, "index", (double)pkt.index);
			cJSON_AddStringToObject(o, "verdict", verdict);
			cJSON_AddStringToObject(o, "reason", reason);
			jl = cJSON_AddArrayToObject(o, "legs");
			for (size_t i = 0; jl && i < n_legs; i++)
				cJSON_AddItemToArray(jl, leg_json(&legs[i]));
		}
	}
	if (n < 0) {
		fprintf(stderr, "sgbpf replay: %s\n", err);
		goto out;
	}

	qsort(t.reasons, t.n_reasons, sizeof(t.reasons[0]), cmp_reason);
	if (json) {
		char *text;

		cJSON_AddNumberToObject(root, "packets", (double)t.packets);
		cJSON_AddNumberToObject(root, "allow", (double)t.allow);
		cJSON_AddNumberToObject(root, "deny", (double)t.deny);
		cJSON_AddNumberToObject(root, "foreign", (double)t.foreign);
		jr = cJSON_AddObjectToObject(root, "reasons");
		for (size_t i = 0; jr && i < t.n_reasons; i++)
			cJSON_AddNumberToObject(jr, t.reasons[i].name, (double)t.reasons[i].count);
		if (jv) {
			cJSON_AddItemToObject(root, "verdicts", jv);
			jv = NULL;
		}
		text = cJSON_Print(root);
		if (!text)
			goto oom;
		puts(text);
		free(text);
	} else {
		printf("packets: %lu\nallow:   %lu\ndeny:    %lu\nforeign: %lu\nreasons:\n",
		       t.packets, t.allow, t.deny, t.foreign);
		for (size_t i = 0; i < t.n_reasons; i++)
			printf("  %-20s %lu\n", t.reasons[i].name, t.reasons[i].count);
	}
	rc = SG_EXIT_OK;
	goto out;
oom:
	fprintf(stderr, "sgbpf replay: out of memory building the JSON output\n");
out:
	cJSON_Delete(jv);
	cJSON_Delete(root);
	sg_offline_close(ctx);
	sg_pcap_close(pcap);
	return rc;
}
