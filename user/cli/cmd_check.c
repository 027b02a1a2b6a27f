// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf check: would this packet pass? Synthesises one packet, runs it
 * through the real programs (offline.h) and explains the verdict.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "live.h"
#include "offline.h"
#include "parse.h"

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_ICMP_ 1
#define IPPROTO_ICMPV6_ 58

static void check_usage(FILE *out)
{
	fprintf(out,
		"usage: sgbpf check [--policy DIR] --endpoint NAME --in|--out --proto P --remote ADDR\n"
		"                   [--port N] [--icmp TYPE/CODE] [--local ADDR] [--sport N] [-o json]\n"
		"\n"
		"Runs one synthesised packet through the real BPF programs (loaded privately,\n"
		"nothing attached) with the policy in DIR, and says whether it passes and why.\n"
		"\n"
		"  --policy DIR       policy directory (as for 'sgbpf validate'); default: the one\n"
		"                     the running sgbpfd enforces\n"
		"  --socket PATH      sgbpfd's control socket (default /run/sgbpf/sgbpfd.sock)\n"
		"  --endpoint NAME    endpoint (\"namespace/pod\") whose traffic this is\n"
		"  --in | --out       towards the pod (remote = source) or from it (remote = destination)\n"
		"  --proto P          tcp, udp, icmp, icmpv6 or a protocol number\n"
		"  --remote ADDR      the other end, IPv4 or IPv6\n"
		"  --port N           destination port (tcp/udp; required for them)\n"
		"  --icmp TYPE/CODE   ICMP type and code (default: echo request, 8/0 or 128/0)\n"
		"  --local ADDR       the pod's address (default: its first of the remote's family)\n"
		"  --sport N          source port (tcp/udp; default 49152)\n"
		"  -o json            machine-readable output\n"
		"\n"
		"A tcp packet is a SYN, icmp a request of the given type. Needs root (BPF).\n"
		"Exit: 0 allow, 1 deny, 2 error.\n");
}

static int parse_uint(const char *text, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || *end || v > max || text[0] == '-')
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

struct check_args {
	const char *policy, *endpoint, *remote, *local, *proto_text, *output, *socket;
	int dir;                 /* -1 unset */
	int proto;
	int port, sport;         /* -1 unset */
	int icmp_type, icmp_code;
};

__attribute__((format(printf, 1, 2)))
static int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sgbpf check: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return SG_EXIT_ERROR;
}

static int check_parse_args(int argc, char **argv, struct check_args *a)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 'S' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "in", no_argument, NULL, 'I' },
		{ "out", no_argument, NULL, 'O' },
		{ "proto", required_argument, NULL, 'P' },
		{ "remote", required_argument, NULL, 'r' },
		{ "port", required_argument, NULL, 'd' },
		{ "icmp", required_argument, NULL, 'i' },
		{ "local", required_argument, NULL, 'l' },
		{ "sport", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned u, t, c;
	int opt;

	memset(a, 0, sizeof(*a));
	a->dir = a->port = a->sport = a->icmp_type = a->icmp_code = -1;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': a->policy = optarg; break;
		case 'S': a->socket = optarg; break;
		case 'e': a->endpoint = optarg; break;
		case 'r': a->remote = optarg; break;
		case 'l': a->local = optarg; break;
		case 'P': a->proto_text = optarg; break;
		case 'o': a->output = optarg; break;
		case 'I':
		case 'O':
			if (a->dir != -1)
				return fail("give one of --in and --out, once");
			a->dir = opt == 'I' ? SGBPF_DIR_IN : SGBPF_DIR_OUT;
			break;
		case 'd':
			if (parse_uint(optarg, 65535, &u))
				return fail("--port '%s': expected a port number 0..65535", optarg);
			a->port = (int)u;
			break;
		case 's':
			if (parse_uint(optarg, 65535, &u))
				return fail("--sport '%s': expected a port number 0..65535", optarg);
			a->sport = (int)u;
			break;
		case 'i': {
			char buf[32], *slash;

			snprintf(buf, sizeof(buf), "%s", optarg);
			slash = strchr(buf, '/');
			if (slash)
				*slash = '\0';
			if (parse_uint(buf, 255, &t) || (slash && parse_uint(slash + 1, 255, &c)))
				return fail("--icmp '%s': expected TYPE/CODE, each 0..255 (e.g. 8/0)",
					    optarg);
			a->icmp_type = (int)t;
			a->icmp_code = slash ? (int)c : 0;
			break;
		}
		case 'h':
			check_usage(stdout);
			exit(SG_EXIT_OK);
		case ':':
			return fail("%s needs a value; see 'sgbpf check --help'", argv[optind - 1]);
		default:
			return fail("unknown option '%s'; see 'sgbpf check --help'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail("unexpected argument '%s'; see 'sgbpf check --help'", argv[optind]);
	if (!a->endpoint || a->dir == -1 || !a->proto_text || !a->remote)
		return fail("--endpoint, --in or --out, --proto and --remote are required; "
			    "see 'sgbpf check --help'");
	if (a->output && strcmp(a->output, "json"))
		return fail("-o '%s': the only output format is json", a->output);
	if (sg_protocol_parse(a->proto_text, &a->proto) || a->proto < 0)
		return fail("--proto '%s': expected tcp, udp, icmp, icmpv6 or a protocol number "
			    "0..255 (one protocol: a packet has one)", a->proto_text);
	if (a->proto == IPPROTO_TCP_ || a->proto == IPPROTO_UDP_) {
		if (a->port < 0)
			return fail("--port is required for %s", a->proto_text);
		if (a->icmp_type >= 0)
			return fail("--icmp applies to icmp and icmpv6, not %s", a->proto_text);
	} else {
		if (a->port >= 0 || a->sport >= 0)
			return fail("--port and --sport apply to tcp and udp, not %s", a->proto_text);
		if (a->icmp_type >= 0 && a->proto != IPPROTO_ICMP_ && a->proto != IPPROTO_ICMPV6_)
			return fail("--icmp applies to icmp and icmpv6, not %s", a->proto_text);
	}
	return 0;
}

/* Build the packet the arguments describe, as an untagged Ethernet frame. */
static int check_build(const struct check_args *a, const struct sg_compiled_endpoint *ep,
		       const struct sg_addr *local, const struct sg_addr *remote,
		       struct sg_pkt_spec *spec, uint8_t *buf, size_t cap)
{
	bool out = a->dir == SGBPF_DIR_OUT;

	sg_pkt_init(spec, remote->family, (uint8_t)a->proto);
	memcpy(spec->src, out ? local->addr : remote->addr, 16);
	memcpy(spec->dst, out ? remote->addr : local->addr, 16);
	if (ep->val.flags & SGBPF_EP_HAS_MAC)
		memcpy(out ? spec->src_mac : spec->dst_mac, ep->val.mac, 6);
	switch (a->proto) {
	case IPPROTO_TCP_:
		spec->tcp_flags = SG_TCP_SYN;
		spec->seq = 1;
		/* fallthrough */
	case IPPROTO_UDP_:
		spec->sport = (uint16_t)(a->sport >= 0 ? a->sport : 49152);
		spec->dport = (uint16_t)a->port;
		break;
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_:
		if (a->icmp_type >= 0) {
			spec->icmp_type = (uint8_t)a->icmp_type;
			spec->icmp_code = (uint8_t)a->icmp_code;
		} else {
			spec->icmp_type = a->proto == IPPROTO_ICMP_ ? 8 : 128;
			spec->icmp_code = 0;
		}
		spec->icmp_id = 0x5347;
		spec->icmp_seq = 1;
		break;
	default:
		spec->payload_len = 8;
		break;
	}
	return sg_pkt_build(spec, buf, cap);
}

static void describe_packet(const struct check_args *a, const struct sg_pkt_spec *spec,
			    char *buf, size_t len)
{
	struct sg_addr s = { .family = spec->family }, d = { .family = spec->family };
	char sb[64], db[64], pb[16];
	const char *pname = sg_protocol_name(a->proto, pb, sizeof(pb));

	memcpy(s.addr, spec->src, 16);
	memcpy(d.addr, spec->dst, 16);
	sg_addr_format(&s, sb, sizeof(sb));
	sg_addr_format(&d, db, sizeof(db));
	if (a->proto == IPPROTO_TCP_ || a->proto == IPPROTO_UDP_)
		snprintf(buf, len, "%s %s port %u -> %s port %u%s", pname, sb, spec->sport, db,
			 spec->dport, a->proto == IPPROTO_TCP_ ? " (SYN)" : "");
	else if (a->proto == IPPROTO_ICMP_ || a->proto == IPPROTO_ICMPV6_)
		snprintf(buf, len, "%s %s -> %s type %u code %u", pname, sb, db,
			 spec->icmp_type, spec->icmp_code);
	else
		snprintf(buf, len, "%s %s -> %s", pname, sb, db);
}

static int print_json(const struct sg_offline *ctx, const struct check_args *a,
		      const struct sg_compiled_endpoint *ep, const struct sg_pkt_spec *spec,
		      const struct sg_offline_verdict *v, const char *pkt_text)
{
	const struct sg_compiled_rule *rule = sg_offline_rule(ctx, v);
	cJSON *root = cJSON_CreateObject(), *pkt, *sgs, *r;
	char buf[256];
	char *text;

	if (!root)
		return -ENOMEM;
	cJSON_AddStringToObject(root, "verdict", v->allow ? "allow" : "deny");
	cJSON_AddStringToObject(root, "reason", sg_offline_reason_name(v));
	cJSON_AddStringToObject(root, "explanation", sg_offline_reason_text(v));
	cJSON_AddStringToObject(root, "endpoint", ep->src->name);
	cJSON_AddStringToObject(root, "direction", a->dir == SGBPF_DIR_IN ? "in" : "out");
	pkt = cJSON_AddObjectToObject(root, "packet");
	if (pkt) {
		struct sg_addr s = { .family = spec->family }, d = { .family = spec->family };

		memcpy(s.addr, spec->src, 16);
		memcpy(d.addr, spec->dst, 16);
		cJSON_AddNumberToObject(pkt, "protocol", a->proto);
		cJSON_AddStringToObject(pkt, "src", sg_addr_format(&s, buf, sizeof(buf)));
		cJSON_AddStringToObject(pkt, "dst", sg_addr_format(&d, buf, sizeof(buf)));
		if (a->proto == IPPROTO_TCP_ || a->proto == IPPROTO_UDP_) {
			cJSON_AddNumberToObject(pkt, "sport", spec->sport);
			cJSON_AddNumberToObject(pkt, "dport", spec->dport);
		} else if (a->proto == IPPROTO_ICMP_ || a->proto == IPPROTO_ICMPV6_) {
			cJSON_AddNumberToObject(pkt, "icmp_type", spec->icmp_type);
			cJSON_AddNumberToObject(pkt, "icmp_code", spec->icmp_code);
		}
		cJSON_AddStringToObject(pkt, "text", pkt_text);
	}
	if (rule) {
		r = cJSON_AddObjectToObject(root, "rule");
		if (r) {
			cJSON_AddNumberToObject(r, "id", rule->rule_id);
			cJSON_AddStringToObject(r, "security_group", rule->sg_id);
			cJSON_AddStringToObject(r, "text", sg_rule_describe(rule, buf, sizeof(buf)));
			if (rule->src && rule->src->description)
				cJSON_AddStringToObject(r, "description", rule->src->description);
			if (rule->src && rule->src->origin.file)
				cJSON_AddStringToObject(r, "file", rule->src->origin.file);
			if (rule->src && rule->src->origin.path)
				cJSON_AddStringToObject(r, "path", rule->src->origin.path);
		}
	} else {
		cJSON_AddNullToObject(root, "rule");
	}
	sgs = cJSON_AddArrayToObject(root, "security_groups");
	for (size_t i = 0; sgs && i < ep->src->n_sgs; i++)
		cJSON_AddItemToArray(sgs, cJSON_CreateString(ep->src->sgs[i]));
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return -ENOMEM;
	puts(text);
	free(text);
	return 0;
}

static void print_text(const struct sg_offline *ctx, const struct check_args *a,
		       const struct sg_compiled_endpoint *ep, const struct sg_offline_verdict *v,
		       const char *pkt_text)
{
	const struct sg_compiled_rule *rule = sg_offline_rule(ctx, v);
	char buf[256];

	printf("%s\n", v->allow ? "allow" : "deny");
	printf("  reason:   %s: %s\n", sg_offline_reason_name(v), sg_offline_reason_text(v));
	if (rule) {
		printf("  rule:     %s (rule %u)\n", sg_rule_describe(rule, buf, sizeof(buf)),
		       rule->rule_id);
		if (rule->src && rule->src->description)
			printf("  note:     %s\n", rule->src->description);
		if (rule->src && rule->src->origin.file)
			printf("  origin:   %s: %s\n", rule->src->origin.file,
			       rule->src->origin.path ? rule->src->origin.path : "");
	}
	printf("  packet:   %s %s, endpoint %s\n", a->dir == SGBPF_DIR_IN ? "inbound" : "outbound",
	       pkt_text, ep->src->name);
	if (!v->allow && v->has_event && v->event.reason == SGBPF_DROP_NO_RULE) {
		printf("  groups:  ");
		for (size_t i = 0; i < ep->src->n_sgs; i++)
			printf(" %s", ep->src->sgs[i]);
		printf(" (%zu %s rules in effect)\n", ep->n_rule_ids[a->dir],
		       a->dir == SGBPF_DIR_IN ? "inbound" : "outbound");
	}
}

int cmd_check(int argc, char **argv)
{
	const struct sg_compiled_endpoint *ep;
	struct sg_offline *ctx = NULL;
	struct sg_offline_verdict v;
	struct sg_addr remote, local_buf;
	const struct sg_addr *local;
	struct sg_pkt_spec spec;
	struct sg_l2_view view;
	struct check_args a;
	struct sg_diags diags;
	uint8_t frame[SG_PKT_MAX];
	char pkt_text[256];
	int rc, len, err;

	rc = check_parse_args(argc, argv, &a);
	if (rc)
		return rc;
	if (!a.policy) {
		/* The live node's policy; the process ends soon after, so it is not freed. */
		a.policy = live_daemon_policy_dir("sgbpf check", "--policy DIR", a.socket);
		if (!a.policy)
			return SG_EXIT_ERROR;
	}
	if (sg_addr_parse(a.remote, &remote))
		return fail("--remote '%s': expected an IPv4 or IPv6 address", a.remote);
	if (a.proto == IPPROTO_ICMP_ && remote.family != SGBPF_AF_V4)
		return fail("icmp is IPv4's; for the IPv6 remote %s use --proto icmpv6", a.remote);
	if (a.proto == IPPROTO_ICMPV6_ && remote.family != SGBPF_AF_V6)
		return fail("icmpv6 is IPv6's; for the IPv4 remote %s use --proto icmp", a.remote);
	if (a.local) {
		if (sg_addr_parse(a.local, &local_buf))
			return fail("--local '%s': expected an IPv4 or IPv6 address", a.local);
		if (local_buf.family != remote.family)
			return fail("--local %s and --remote %s are of different families", a.local,
				    a.remote);
	}
	if (geteuid() != 0)
		return fail("needs root: it loads the BPF programs to run the packet through them; "
			    "run it as root (sudo sgbpf check ...)");

	sg_diags_init(&diags);
	err = sg_offline_open(a.policy, &ctx, &diags);
	if (err) {
		sg_diags_print(&diags, stderr);
		if (diags.n_errors && err == -EINVAL)
			fprintf(stderr, "sgbpf check: policy %s is invalid (%zu errors above); "
				"fix them ('sgbpf validate %s')\n", a.policy, diags.n_errors, a.policy);
		else
			fprintf(stderr, "sgbpf check: cannot evaluate with policy %s: %s\n", a.policy,
				strerror(-err));
		sg_diags_free(&diags);
		return SG_EXIT_ERROR;
	}
	/* Warnings (e.g. a referenced group defined nowhere) still matter. */
	sg_diags_print(&diags, stderr);
	sg_diags_free(&diags);

	rc = SG_EXIT_ERROR;
	ep = sg_offline_endpoint(ctx, a.endpoint);
	if (!ep) {
		fprintf(stderr, "sgbpf check: no endpoint named '%s' in %s (endpoints:",
			a.endpoint, a.policy);
		for (size_t i = 0; i < ctx->compiled.n_endpoints; i++)
			fprintf(stderr, " %s", ctx->compiled.endpoints[i].src->name);
		fprintf(stderr, ")\n");
		goto out;
	}
	local = a.local ? &local_buf : sg_offline_endpoint_addr(ep, remote.family);
	if (!local) {
		fprintf(stderr, "sgbpf check: endpoint %s has no %s address; give one with --local\n",
			a.endpoint, remote.family == SGBPF_AF_V4 ? "IPv4" : "IPv6");
		goto out;
	}
	len = check_build(&a, ep, local, &remote, &spec, frame, sizeof(frame));
	if (len < 0) {
		fprintf(stderr, "sgbpf check: building the packet failed: %s\n", strerror(-len));
		goto out;
	}
	if (sg_pcap_decode(DLT_EN10MB, frame, (size_t)len, &view)) {
		fprintf(stderr, "sgbpf check: the packet builder produced a frame too short to decode\n");
		goto out;
	}
	err = sg_offline_run(ctx, ep, (enum sgbpf_dir)a.dir, &view, &v);
	if (err) {
		fprintf(stderr, "sgbpf check: running the packet through the datapath failed: %s\n",
			strerror(-err));
		goto out;
	}
	describe_packet(&a, &spec, pkt_text, sizeof(pkt_text));
	if (a.output) {
		if (print_json(ctx, &a, ep, &spec, &v, pkt_text)) {
			fprintf(stderr, "sgbpf check: out of memory formatting JSON\n");
			goto out;
		}
	} else {
		print_text(ctx, &a, ep, &v, pkt_text);
	}
	rc = v.allow ? SG_EXIT_OK : SG_EXIT_NO;
out:
	sg_offline_close(ctx);
	return rc;
}
