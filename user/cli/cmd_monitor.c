// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf monitor: a live stream of verdict events from the pinned events ring
 * buffer. Every drop is an event; allows only when the policy's
 * node.allowEvents is true (SGBPF_CFG_EVENTS_ALLOW). Events older than the
 * start of the monitor (left in the ring) are skipped.
 *
 * A BPF ring buffer has one consumer position: two monitors at once split
 * the stream between them (each event goes to one), so run one at a time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "live.h"
#include "names.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sgbpf monitor [--endpoint NAME] [--drops-only] [--probes-only]\n"
		"                     [--format text|json|flowlog]\n"
		"                     [--count N] [--duration S] [--flow-interval S]\n"
		"                     [--account-id ID] [--policy DIR] [--pin-dir P] [--socket PATH]\n"
		"\n"
		"Streams the datapath's verdict events: time, endpoint, direction, 5-tuple,\n"
		"verdict, and the rule (SG + rule, when the policy is known) or the reason.\n"
		"Every dropped packet is an event. Allowed packets are events only when the\n"
		"policy sets node.allowEvents to true ('sgbpf status' shows it); otherwise\n"
		"only drops appear. When the ring buffer is full the datapath drops events\n"
		"(the counters in 'sgbpf stats' still count every packet). The ring buffer\n"
		"has a single reader position: two monitors running at once split the events\n"
		"between them, so run one at a time.\n"
		"\n"
		"  --endpoint NAME     only this endpoint's events\n"
		"  --drops-only        only drops\n"
		"  --probes-only       only kubelet probe traffic (node <-> probe port), tagged\n"
		"                      [probe] and, when steered to the node, [... steered]\n"
		"  --format text       one line per event (default)\n"
		"           json       one JSON object per line\n"
		"           flowlog    VPC Flow Logs version 2 records, aggregated per flow\n"
		"                      (endpoint, 5-tuple, action) and --flow-interval:\n"
		"                      version account-id interface-id srcaddr dstaddr srcport\n"
		"                      dstport protocol packets bytes start end action log-status\n"
		"                      (interface-id is the endpoint's interface; ICMP ports 0)\n"
		"  --count N           stop after N events (matching the filters)\n"
		"  --duration S        stop after S seconds\n"
		"  --flow-interval S   flowlog aggregation interval (default 60)\n"
		"  --account-id ID     flowlog account-id field (default '-')\n"
		"  --policy DIR        the policy directory, to name rules (default: ask sgbpfd)\n"
		"  --pin-dir P         sgbpfd's pin directory (default " SGBPF_PIN_DIR_DEFAULT ")\n"
		"  --socket PATH       sgbpfd's control socket (default /run/sgbpf/sgbpfd.sock)\n"
		"\n"
		"Exit: 0 success (interrupted, --count or --duration reached), 1 no such\n"
		"endpoint, 2 usage or runtime error.\n");
}

enum fmt { FMT_TEXT, FMT_JSON, FMT_FLOWLOG };

struct flow {
	uint32_t ep_id;
	uint8_t family, proto, verdict, pad;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint64_t packets, bytes;
	uint64_t start_s, end_s;
};

struct mon {
	const struct sgbpf_inspect *ins;
	const struct live_policy *lp;
	enum fmt fmt;
	long ep_id;
	bool drops_only;
	bool probes_only;
	long count, seen;
	uint64_t start_mono;
	int64_t mono_to_real;           /* add to a CLOCK_MONOTONIC stamp */
	const char *account;
	struct flow *flows;
	size_t n_flows, cap_flows;
	int err;
};

static bool is_icmp(uint8_t family, uint8_t proto)
{
	return (family == SGBPF_AF_V4 && proto == 1) || (family == SGBPF_AF_V6 && proto == 58);
}

static const char *ifname_of(const struct mon *m, const struct sgbpf_event *e, char *buf,
			     size_t len)
{
	const struct sgbpf_ep_record *r = sgbpf_inspect_record(m->ins, e->ep_id);

	if (r && r->ifname[0])
		return r->ifname;
	if (if_indextoname(e->ifindex, buf))
		return buf;
	snprintf(buf, len, "ifindex-%u", e->ifindex);
	return buf;
}

static const char *why(const struct mon *m, const struct sgbpf_event *e, char *buf, size_t len)
{
	const struct sg_compiled_rule *cr;
	char text[200];

	if (e->verdict == SGBPF_VERDICT_DROP) {
		snprintf(buf, len, "%s", sgbpf_drop_reason_name(e->reason));
		return buf;
	}
	cr = e->rule_id != SGBPF_RULE_NONE && e->generation == m->ins->state.generation ?
	     live_rule(m->lp, e->rule_id) : NULL;
	if (cr)
		snprintf(buf, len, "%s rule %u: %s", sgbpf_allow_reason_name(e->reason), e->rule_id,
			 sg_rule_describe(cr, text, sizeof(text)));
	else if (e->rule_id != SGBPF_RULE_NONE)
		snprintf(buf, len, "%s rule %u", sgbpf_allow_reason_name(e->reason), e->rule_id);
	else
		snprintf(buf, len, "%s", sgbpf_allow_reason_name(e->reason));
	return buf;
}

static void ports(const struct sgbpf_event *e, unsigned *sp, unsigned *dp)
{
	*sp = ntohs(e->sport);
	*dp = ntohs(e->dport);
}

static void print_text(const struct mon *m, const struct sgbpf_event *e)
{
	char ts[64], ep[64], s[64], d[64], pbuf[16], w[300];
	const char *proto;
	uint64_t real = e->ts_ns + m->mono_to_real;
	time_t sec = real / 1000000000ull;
	unsigned sp, dp;
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	sgbpf_addr_text(e->family, e->src, s, sizeof(s));
	sgbpf_addr_text(e->family, e->dst, d, sizeof(d));
	proto = live_proto(e->proto, pbuf, sizeof(pbuf));
	ports(e, &sp, &dp);
	printf("%s.%06llu %-20s %-3s ", ts, (unsigned long long)(real / 1000 % 1000000),
	       live_ep_name(m->ins, e->ep_id, ep, sizeof(ep)), sgbpf_dir_name(e->dir));
	if (is_icmp(e->family, e->proto))
		printf("%s %s -> %s type %u code %u", proto, s, d, sp >> 8, sp & 0xff);
	else if (e->proto == 6 || e->proto == 17)
		printf(e->family == SGBPF_AF_V6 ? "%s [%s]:%u -> [%s]:%u" : "%s %s:%u -> %s:%u",
		       proto, s, sp, d, dp);
	else
		printf("%s %s -> %s", proto, s, d);
	printf(" %s %s (%u bytes)%s\n", e->verdict == SGBPF_VERDICT_DROP ? "DROP" : "ALLOW",
	       why(m, e, w, sizeof(w)), e->pkt_len,
	       e->flags & SGBPF_EVENT_F_STEERED ? " [probe, steered to the node]" :
	       e->flags & SGBPF_EVENT_F_PROBE ? " [probe]" : "");
}

static void print_json(const struct mon *m, const struct sgbpf_event *e)
{
	cJSON *o = cJSON_CreateObject();
	char buf[300];
	unsigned sp, dp;
	uint64_t real = e->ts_ns + m->mono_to_real;
	const struct sg_compiled_rule *cr = NULL;
	char *t;

	ports(e, &sp, &dp);
	cJSON_AddNumberToObject(o, "time", real / 1e9);
	cJSON_AddStringToObject(o, "endpoint", live_ep_name(m->ins, e->ep_id, buf, sizeof(buf)));
	cJSON_AddNumberToObject(o, "epId", e->ep_id);
	cJSON_AddStringToObject(o, "interface", ifname_of(m, e, buf, sizeof(buf)));
	cJSON_AddNumberToObject(o, "ifindex", e->ifindex);
	cJSON_AddNumberToObject(o, "vlan", e->vlan_id);
	cJSON_AddStringToObject(o, "direction", sgbpf_dir_name(e->dir));
	cJSON_AddStringToObject(o, "family", sgbpf_family_name(e->family));
	cJSON_AddStringToObject(o, "protocol", live_proto(e->proto, buf, sizeof(buf)));
	cJSON_AddNumberToObject(o, "protocolNumber", e->proto);
	cJSON_AddStringToObject(o, "srcAddr", sgbpf_addr_text(e->family, e->src, buf, sizeof(buf)));
	cJSON_AddStringToObject(o, "dstAddr", sgbpf_addr_text(e->family, e->dst, buf, sizeof(buf)));
	if (is_icmp(e->family, e->proto)) {
		cJSON_AddNumberToObject(o, "icmpType", sp >> 8);
		cJSON_AddNumberToObject(o, "icmpCode", sp & 0xff);
	} else {
		cJSON_AddNumberToObject(o, "srcPort", sp);
		cJSON_AddNumberToObject(o, "dstPort", dp);
	}
	cJSON_AddStringToObject(o, "verdict", e->verdict == SGBPF_VERDICT_DROP ? "drop" : "allow");
	cJSON_AddStringToObject(o, "reason", e->verdict == SGBPF_VERDICT_DROP ?
				sgbpf_drop_reason_name(e->reason) : sgbpf_allow_reason_name(e->reason));
	if (e->rule_id == SGBPF_RULE_NONE) {
		cJSON_AddNullToObject(o, "ruleId");
	} else {
		cJSON_AddNumberToObject(o, "ruleId", e->rule_id);
		if (e->generation == m->ins->state.generation)
			cr = live_rule(m->lp, e->rule_id);
	}
	if (cr) {
		cJSON_AddStringToObject(o, "securityGroup", cr->sg_id);
		cJSON_AddStringToObject(o, "rule", sg_rule_describe(cr, buf, sizeof(buf)));
	}
	cJSON_AddBoolToObject(o, "probe", !!(e->flags & SGBPF_EVENT_F_PROBE));
	cJSON_AddBoolToObject(o, "steered", !!(e->flags & SGBPF_EVENT_F_STEERED));
	cJSON_AddStringToObject(o, "ctState", sgbpf_ct_state_name(e->ct_state));
	cJSON_AddNumberToObject(o, "length", e->pkt_len);
	live_add_u64(o, "generation", e->generation);
	t = cJSON_PrintUnformatted(o);
	printf("%s\n", t ? t : "{}");
	free(t);
	cJSON_Delete(o);
}

/* Flow-log aggregation: one record per (endpoint, 5-tuple, action). */
static int flow_add(struct mon *m, const struct sgbpf_event *e)
{
	uint64_t sec = (e->ts_ns + m->mono_to_real) / 1000000000ull;
	struct flow k = { .ep_id = e->ep_id, .family = e->family, .proto = e->proto,
			  .verdict = e->verdict };
	unsigned sp, dp;

	memcpy(k.src, e->src, 16);
	memcpy(k.dst, e->dst, 16);
	if (!is_icmp(e->family, e->proto)) {
		ports(e, &sp, &dp);
		k.sport = sp;
		k.dport = dp;
	}
	for (size_t i = 0; i < m->n_flows; i++) {
		struct flow *f = &m->flows[i];

		if (f->ep_id == k.ep_id && f->family == k.family && f->proto == k.proto &&
		    f->verdict == k.verdict && f->sport == k.sport && f->dport == k.dport &&
		    !memcmp(f->src, k.src, 16) && !memcmp(f->dst, k.dst, 16)) {
			f->packets++;
			f->bytes += e->pkt_len;
			f->end_s = sec;
			return 0;
		}
	}
	if (m->n_flows == m->cap_flows) {
		size_t cap = m->cap_flows ? m->cap_flows * 2 : 64;
		struct flow *nf = realloc(m->flows, cap * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		m->flows = nf;
		m->cap_flows = cap;
	}
	k.packets = 1;
	k.bytes = e->pkt_len;
	k.start_s = k.end_s = sec;
	m->flows[m->n_flows++] = k;
	return 0;
}

static void flow_flush(struct mon *m)
{
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct flow *f = &m->flows[i];
		const struct sgbpf_ep_record *r = sgbpf_inspect_record(m->ins, f->ep_id);
		char s[64], d[64], ifn[32];

		if (r && r->ifname[0])
			snprintf(ifn, sizeof(ifn), "%s", r->ifname);
		else
			snprintf(ifn, sizeof(ifn), "ep-%u", f->ep_id);
		printf("2 %s %s %s %s %u %u %u %llu %llu %llu %llu %s OK\n", m->account, ifn,
		       sgbpf_addr_text(f->family, f->src, s, sizeof(s)),
		       sgbpf_addr_text(f->family, f->dst, d, sizeof(d)), f->sport, f->dport, f->proto,
		       (unsigned long long)f->packets, (unsigned long long)f->bytes,
		       (unsigned long long)f->start_s, (unsigned long long)f->end_s,
		       f->verdict == SGBPF_VERDICT_DROP ? "REJECT" : "ACCEPT");
	}
	m->n_flows = 0;
	fflush(stdout);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct mon *m = ctx;
	const struct sgbpf_event *e = data;

	if (size < sizeof(*e) || e->ts_ns < m->start_mono)
		return 0;   /* left in the ring before we started */
	if (m->ep_id >= 0 && e->ep_id != (uint32_t)m->ep_id)
		return 0;
	if (m->drops_only && e->verdict != SGBPF_VERDICT_DROP)
		return 0;
	if (m->probes_only && !(e->flags & SGBPF_EVENT_F_PROBE))
		return 0;
	if (m->count && m->seen >= m->count)
		return 0;
	m->seen++;
	switch (m->fmt) {
	case FMT_TEXT:
		print_text(m, e);
		break;
	case FMT_JSON:
		print_json(m, e);
		break;
	case FMT_FLOWLOG:
		m->err = flow_add(m, e);
		break;
	}
	if (m->fmt != FMT_FLOWLOG)
		fflush(stdout);
	return m->err;
}

int cmd_monitor(int argc, char **argv)
{
	static const struct option opts[] = {
		LIVE_LONGOPTS,
		{ "endpoint", required_argument, NULL, 'e' },
		{ "drops-only", no_argument, NULL, 'D' },
		{ "probes-only", no_argument, NULL, 'P' },
		{ "format", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "flow-interval", required_argument, NULL, 'F' },
		{ "account-id", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct mon m = { .ep_id = -1, .account = "-" };
	struct ring_buffer *rb = NULL;
	const char *endpoint = NULL;
	double duration = 0, flow_iv = 60;
	struct live_opts lo;
	struct sgbpf_inspect ins;
	struct live_policy lp;
	uint64_t deadline = 0, next_flush;
	int opt, rc = SG_EXIT_OK;
	char *end;

	live_opts_init(&lo, "sgbpf monitor");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		int r = live_opt(&lo, opt, optarg);

		if (r < 0)
			return SG_EXIT_ERROR;
		if (r) {
			if (opt == 'o')
				m.fmt = lo.json ? FMT_JSON : FMT_TEXT;
			continue;
		}
		switch (opt) {
		case 'e':
			endpoint = optarg;
			break;
		case 'D':
			m.drops_only = true;
			break;
		case 'P':
			m.probes_only = true;
			break;
		case 'f':
			if (!strcmp(optarg, "text"))
				m.fmt = FMT_TEXT;
			else if (!strcmp(optarg, "json"))
				m.fmt = FMT_JSON;
			else if (!strcmp(optarg, "flowlog"))
				m.fmt = FMT_FLOWLOG;
			else {
				fprintf(stderr, "sgbpf monitor: unknown format '%s'; use text, json or "
					"flowlog\n", optarg);
				return SG_EXIT_ERROR;
			}
			break;
		case 'c':
			m.count = strtol(optarg, &end, 10);
			if (*end || m.count < 1) {
				fprintf(stderr, "sgbpf monitor: --count wants a positive number, got "
					"'%s'\n", optarg);
				return SG_EXIT_ERROR;
			}
			break;
		case 'd':
		case 'F': {
			double v = strtod(optarg, &end);

			if (*end || v <= 0 || v > 31 * 86400.0) {
				fprintf(stderr, "sgbpf monitor: --%s wants a positive number of seconds, "
					"got '%s'\n", opt == 'd' ? "duration" : "flow-interval", optarg);
				return SG_EXIT_ERROR;
			}
			*(opt == 'd' ? &duration : &flow_iv) = v;
			break;
		}
		case 'a':
			m.account = optarg;
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
		fprintf(stderr, "sgbpf monitor: unexpected argument '%s'\n", argv[optind]);
		return SG_EXIT_ERROR;
	}
	if (live_open(&lo, &ins, SGBPF_INSPECT_EVENTS))
		return SG_EXIT_ERROR;
	if (ins.fd[SGBPF_MAP_EVENTS] < 0) {
		fprintf(stderr, "sgbpf monitor: no events ring buffer pinned under %s/maps\n",
			lo.pin_dir);
		sgbpf_inspect_close(&ins);
		return SG_EXIT_ERROR;
	}
	if (endpoint) {
		m.ep_id = sgbpf_inspect_ep_by_name(&ins, endpoint);
		if (m.ep_id < 0) {
			fprintf(stderr, "sgbpf monitor: no endpoint named '%s' in policy generation "
				"%llu\n", endpoint, (unsigned long long)ins.state.generation);
			sgbpf_inspect_close(&ins);
			return SG_EXIT_NO;
		}
	}
	live_policy_load(&lo, &ins, &lp, true);
	if (lp.ok && lp.stale)
		live_policy_free(&lp);
	m.ins = &ins;
	m.lp = &lp;
	m.start_mono = sgbpf_mono_ns();
	m.mono_to_real = (int64_t)sgbpf_real_ns() - (int64_t)m.start_mono;
	rb = ring_buffer__new(ins.fd[SGBPF_MAP_EVENTS], on_event, &m, NULL);
	if (!rb) {
		fprintf(stderr, "sgbpf monitor: opening the events ring buffer %s/maps/events: %m\n",
			lo.pin_dir);
		rc = SG_EXIT_ERROR;
		goto out;
	}
	if (!(ins.cfg.flags & SGBPF_CFG_EVENTS_ALLOW) && !m.drops_only && m.fmt == FMT_TEXT)
		fprintf(stderr, "sgbpf monitor: the policy in force emits drop events only "
			"(node.allowEvents is false)\n");
	live_signals();
	if (duration)
		deadline = m.start_mono + (uint64_t)(duration * 1e9);
	next_flush = m.start_mono + (uint64_t)(flow_iv * 1e9);
	while (!live_stopped() && (!m.count || m.seen < m.count)) {
		uint64_t now = sgbpf_mono_ns();
		int n;

		if (deadline && now >= deadline)
			break;
		n = ring_buffer__poll(rb, 100);
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "sgbpf monitor: reading the events ring buffer failed: %s\n",
				strerror(-n));
			rc = SG_EXIT_ERROR;
			break;
		}
		if (m.err) {
			fprintf(stderr, "sgbpf monitor: %s\n", strerror(-m.err));
			rc = SG_EXIT_ERROR;
			break;
		}
		if (m.fmt == FMT_FLOWLOG && sgbpf_mono_ns() >= next_flush) {
			flow_flush(&m);
			next_flush += (uint64_t)(flow_iv * 1e9);
		}
	}
	if (m.fmt == FMT_FLOWLOG)
		flow_flush(&m);
out:
	ring_buffer__free(rb);
	free(m.flows);
	live_policy_free(&lp);
	sgbpf_inspect_close(&ins);
	return rc;
}
