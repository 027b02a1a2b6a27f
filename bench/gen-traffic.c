// SPDX-License-Identifier: BSD-2-Clause
/*
 * gen-traffic: write a pcap of N flows between the endpoints of a policy
 * directory and remotes, following the address plan of bench/gen-policy.c:
 * allowed remotes in 10.200.0.0/16 / fd00:200::/32, denied ones in
 * 10.203.0.0/16 / fd00:203::/32.
 *
 * Flows (chosen with a seeded PRNG, so a seed always gives the same file):
 *   TCP   SYN, SYN-ACK, ACK, D x (data, ACK), FIN, FIN-ACK, ACK
 *   UDP   D x (request, response)
 *   ICMP  D x (echo request, echo reply)  (ICMPv6 for IPv6 flows)
 * A quarter of the allowed flows are opened by the pod (outbound), the rest
 * by the remote. A denied flow is its opening packet sent twice (a SYN and
 * its retransmission, a request, an echo request), never answered.
 * Flows are interleaved: W flows are open at a time and their packets
 * alternate, so conntrack holds many flows at once, as on a busy node.
 * Frames: Ethernet (optionally one 802.1Q tag) or raw IP (DLT_RAW).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sgbpf/layout.h>

#include "diag.h"
#include "model.h"
#include "packet.h"
#include "parse.h"

enum kind { K_TCP, K_UDP, K_ICMP };

struct flow {
	const struct sg_addr *local;   /* the endpoint's address          */
	uint8_t remote[16];
	uint8_t family;
	enum kind kind;
	bool denied, outbound;
	uint16_t lport, rport;         /* TCP/UDP: the server's port is lport for inbound */
	uint16_t icmp_id;
	unsigned step, n_steps;
};

static struct {
	unsigned long flows, data, window, payload;
	double deny, v6, udp, icmp;
	unsigned long seed;
	int vlan;                      /* -1: untagged */
	bool raw;
} opt = { .flows = 1000, .data = 4, .window = 64, .payload = 64, .deny = 0.1, .v6 = 0.25,
	  .udp = 0.3, .icmp = 0.1, .seed = 1, .vlan = -1 };

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: fast, seedable, good enough to spread addresses. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static double rndf(void)
{
	return rnd() / 4294967296.0;
}

static unsigned steps_of(const struct flow *f)
{
	if (f->denied)
		return 2;
	if (f->kind == K_TCP)
		return 6 + 2 * (unsigned)opt.data;
	return 2 * (unsigned)opt.data;
}

static void new_flow(struct flow *f, const struct sg_endpoint *eps, size_t n_eps, unsigned long k)
{
	const struct sg_endpoint *ep = &eps[rnd() % n_eps];
	double r = rndf();
	uint32_t host = rnd();

	memset(f, 0, sizeof(*f));
	f->family = rndf() < opt.v6 ? SGBPF_AF_V6 : SGBPF_AF_V4;
	for (size_t j = 0; j < ep->n_addrs; j++)
		if (ep->addrs[j].family == f->family) {
			f->local = &ep->addrs[j];
			break;
		}
	if (!f->local) {                /* endpoint has one family only */
		f->local = &ep->addrs[0];
		f->family = f->local->family;
	}
	f->denied = rndf() < opt.deny;
	f->kind = r < opt.icmp ? K_ICMP : r < opt.icmp + opt.udp ? K_UDP : K_TCP;
	f->outbound = !f->denied && rnd() % 4 == 0;
	if (f->family == SGBPF_AF_V4) {
		f->remote[0] = 10;
		f->remote[1] = f->denied ? 203 : 200;
		f->remote[2] = (uint8_t)(host >> 8);
		f->remote[3] = (uint8_t)(host | 1);
	} else {
		f->remote[0] = 0xfd;
		f->remote[3] = f->denied ? 0x03 : 0x00;
		f->remote[2] = 0x02;
		memcpy(&f->remote[12], &host, 4);
		f->remote[15] |= 1;
	}
	/* Server port inside the allowed ranges; client port ephemeral. The
	 * flow number makes 5-tuples distinct. */
	f->lport = (uint16_t)(f->kind == K_UDP ? 5000 + rnd() % 1000 : 1000 + rnd() % 1000);
	f->rport = (uint16_t)(32768 + k % 28000);
	f->icmp_id = (uint16_t)(k + 1);
	f->n_steps = steps_of(f);
}

/* Build flow f's next packet into spec. */
static void flow_packet(struct flow *f, struct sg_pkt_spec *s)
{
	unsigned st = f->step++;
	bool from_client = true;       /* the side that opened the flow */
	bool client_is_pod = f->outbound;
	bool from_pod;
	uint8_t proto;

	if (f->kind == K_TCP)
		proto = 6;
	else if (f->kind == K_UDP)
		proto = 17;
	else
		proto = f->family == SGBPF_AF_V4 ? 1 : 58;
	sg_pkt_init(s, f->family, proto);
	if (f->denied) {
		st = 0;                /* the opening packet, again */
	} else if (f->kind == K_TCP) {
		/* 0 SYN, 1 SYN-ACK, 2 ACK, data pairs, then FIN, FIN-ACK, ACK. */
		unsigned last = f->n_steps - 3;

		if (st == 1 || (st >= 3 && st < last && (st - 3) % 2 == 1) || st == last + 1)
			from_client = false;
	} else {
		from_client = st % 2 == 0;
	}
	from_pod = from_client == client_is_pod;
	memcpy(s->src, from_pod ? f->local->addr : f->remote, 16);
	memcpy(s->dst, from_pod ? f->remote : f->local->addr, 16);
	/* The server's port is lport for inbound flows, rport for outbound. */
	{
		uint16_t server = f->lport, client = f->rport;

		s->sport = from_client ? client : server;
		s->dport = from_client ? server : client;
	}
	if (f->kind == K_TCP) {
		unsigned last = f->n_steps - 3;
		uint32_t cseq = 1000, sseq = 5000;

		if (st == 0) {
			s->tcp_flags = SG_TCP_SYN;
			s->seq = cseq;
		} else if (st == 1) {
			s->tcp_flags = SG_TCP_SYN | SG_TCP_ACK;
			s->seq = sseq;
			s->ack = cseq + 1;
		} else if (st < last) {
			s->tcp_flags = SG_TCP_ACK | (from_client && st > 2 ? SG_TCP_PSH : 0);
			s->seq = from_client ? cseq + 1 : sseq + 1;
			s->ack = from_client ? sseq + 1 : cseq + 1;
			if (from_client && st > 2)
				s->payload_len = (uint16_t)opt.payload;
		} else {
			s->tcp_flags = st == last + 2 ? SG_TCP_ACK : SG_TCP_FIN | SG_TCP_ACK;
			s->seq = from_client ? cseq + 1 : sseq + 1;
			s->ack = from_client ? sseq + 1 : cseq + 1;
		}
	} else if (f->kind == K_UDP) {
		s->payload_len = (uint16_t)opt.payload;
	} else {
		bool v4 = f->family == SGBPF_AF_V4;

		s->icmp_type = from_client ? (v4 ? 8 : 128) : (v4 ? 0 : 129);
		s->icmp_id = f->icmp_id;
		s->icmp_seq = (uint16_t)(st / 2 + 1);
		s->payload_len = (uint16_t)opt.payload;
	}
	if (opt.vlan >= 0)
		s->vlan_id = (uint16_t)opt.vlan;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gen-traffic --policy DIR --out FILE.pcap [options]\n"
		"  --flows N      flows to write (default 1000)\n"
		"  --deny F       share of flows no rule allows, 0..1 (default 0.1)\n"
		"  --v6 F         share of IPv6 flows (default 0.25)\n"
		"  --udp F        share of UDP flows (default 0.3)\n"
		"  --icmp F       share of ICMP echo flows (default 0.1; the rest is TCP)\n"
		"  --data N       data exchanges per flow (default 4)\n"
		"  --payload N    payload bytes of data packets (default 64)\n"
		"  --window N     flows open at a time, interleaved (default 64)\n"
		"  --vlan ID      tag every frame with 802.1Q VLAN ID (default: untagged)\n"
		"  --raw          raw IP link type (DLT_RAW) instead of Ethernet\n"
		"  --seed N       PRNG seed (default 1)\n"
		"DIR is a gen-policy directory (its endpoints and address plan).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'P' }, { "out", required_argument, NULL, 'o' },
		{ "flows", required_argument, NULL, 'n' }, { "deny", required_argument, NULL, 'd' },
		{ "v6", required_argument, NULL, '6' }, { "udp", required_argument, NULL, 'u' },
		{ "icmp", required_argument, NULL, 'i' }, { "data", required_argument, NULL, 'D' },
		{ "payload", required_argument, NULL, 'L' },
		{ "window", required_argument, NULL, 'w' }, { "vlan", required_argument, NULL, 'V' },
		{ "raw", no_argument, NULL, 'R' }, { "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *dir = NULL, *out = NULL;
	struct sg_policy policy;
	struct sg_diags diags;
	struct flow *win = NULL;
	pcap_t *pd = NULL;
	pcap_dumper_t *dump = NULL;
	uint8_t buf[SG_PKT_MAX];
	unsigned long started = 0, packets = 0, open = 0;
	uint64_t ts_us = 1700000000ULL * 1000000;
	int o, rc = 1;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'P': dir = optarg; break;
		case 'o': out = optarg; break;
		case 'n': opt.flows = strtoul(optarg, NULL, 10); break;
		case 'd': opt.deny = atof(optarg); break;
		case '6': opt.v6 = atof(optarg); break;
		case 'u': opt.udp = atof(optarg); break;
		case 'i': opt.icmp = atof(optarg); break;
		case 'D': opt.data = strtoul(optarg, NULL, 10); break;
		case 'L': opt.payload = strtoul(optarg, NULL, 10); break;
		case 'w': opt.window = strtoul(optarg, NULL, 10); break;
		case 'V': opt.vlan = atoi(optarg); break;
		case 'R': opt.raw = true; break;
		case 's': opt.seed = strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!dir || !out || !opt.flows || !opt.data || !opt.window || opt.payload > 1400 ||
	    opt.deny < 0 || opt.deny > 1 || opt.v6 < 0 || opt.v6 > 1 || opt.udp < 0 ||
	    opt.icmp < 0 || opt.udp + opt.icmp > 1 || opt.vlan > 4094 || (opt.raw && opt.vlan >= 0)) {
		fprintf(stderr, "gen-traffic: bad arguments (shares are 0..1, udp+icmp <= 1, "
			"--vlan 0..4094 and not with --raw)\n");
		usage(stderr);
		return 2;
	}
	rng_state = opt.seed * 0x9E3779B97F4A7C15ULL + 1;
	sg_diags_init(&diags);
	sg_policy_init(&policy);
	if (sg_policy_load_dir(&policy, dir, &diags) || diags.n_errors) {
		sg_diags_print(&diags, stderr);
		fprintf(stderr, "gen-traffic: cannot read the policy in %s; write one with "
			"gen-policy --out %s\n", dir, dir);
		goto out;
	}
	if (!policy.n_endpoints) {
		fprintf(stderr, "gen-traffic: the policy in %s has no endpoints\n", dir);
		goto out;
	}
	for (size_t i = 0; i < policy.n_endpoints; i++)
		if (!policy.endpoints[i].n_addrs) {
			fprintf(stderr, "gen-traffic: endpoint %s has no address\n",
				policy.endpoints[i].name);
			goto out;
		}
	pd = pcap_open_dead(opt.raw ? DLT_RAW : DLT_EN10MB, 65535);
	dump = pd ? pcap_dump_open(pd, out) : NULL;
	if (!dump) {
		fprintf(stderr, "gen-traffic: cannot write %s: %s\n", out,
			pd ? pcap_geterr(pd) : "pcap_open_dead failed");
		goto out;
	}
	win = calloc(opt.window, sizeof(*win));
	if (!win) {
		fprintf(stderr, "gen-traffic: out of memory\n");
		goto out;
	}
	/* Round-robin over the window; a finished flow's slot takes the next. */
	for (unsigned long i = 0; i < opt.window && started < opt.flows; i++, open++)
		new_flow(&win[i], policy.endpoints, policy.n_endpoints, started++);
	while (open) {
		for (unsigned long i = 0; i < opt.window; i++) {
			struct flow *f = &win[i];
			struct sg_pkt_spec s;
			struct pcap_pkthdr h;
			int len, skip;

			if (f->step >= f->n_steps)
				continue;
			flow_packet(f, &s);
			len = sg_pkt_build(&s, buf, sizeof(buf));
			if (len < 0) {
				fprintf(stderr, "gen-traffic: building packet %lu failed: %s\n", packets,
					strerror(-len));
				goto out;
			}
			skip = opt.raw ? 14 : 0;
			ts_us += 10;
			h.ts.tv_sec = (time_t)(ts_us / 1000000);
			h.ts.tv_usec = (suseconds_t)(ts_us % 1000000);
			h.caplen = h.len = (bpf_u_int32)(len - skip);
			pcap_dump((u_char *)dump, &h, buf + skip);
			packets++;
			if (f->step >= f->n_steps) {
				if (started < opt.flows)
					new_flow(f, policy.endpoints, policy.n_endpoints, started++);
				else
					open--;
			}
		}
	}
	if (pcap_dump_flush(dump)) {
		fprintf(stderr, "gen-traffic: writing %s failed\n", out);
		goto out;
	}
	fprintf(stderr, "gen-traffic: %lu flows, %lu packets -> %s\n", opt.flows, packets, out);
	rc = 0;
out:
	if (dump)
		pcap_dump_close(dump);
	if (pd)
		pcap_close(pd);
	free(win);
	sg_policy_free(&policy);
	sg_diags_free(&diags);
	return rc;
}
