// SPDX-License-Identifier: BSD-2-Clause
/*
 * Tests of capture reading (pcapio), the offline layer, `sgbpf replay` and
 * `sgbpf check`. Captures are generated here from packet.h frames (pcap via
 * libpcap's pcap_dump; pcapng hand-crafted, as libpcap 1.10 cannot write it)
 * and replayed against tests/fixtures/replay/, a two-pod policy:
 *   web-0 10.0.1.23 fd00:10::23 (MAC 06:00:00:00:01:23): in tcp 80 from
 *     10.0.0.0/16 + fd00::/8, in icmp echo from 10.0.0.0/16, out tcp 5432 to db;
 *   db-0 10.0.1.24: in tcp 5432 from web, no outbound rule.
 * The committed tests/fixtures/pcap/ files are the generated ones
 * (SGBPF_REGEN_FIXTURES=1 rewrites them; a test checks they are current).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sgbpf/layout.h>

#include "names.h"
#include "offline.h"
#include "packet.h"
#include "pcapio.h"
#include "../lib/testlib.h"

#define WEB_SG "sg-0aaa0000000000001"
#define DB_SG  "sg-0bbb0000000000002"
#define WEB_MAC "\x06\x00\x00\x00\x01\x23"

enum want { W_ALLOW, W_DENY, W_FOREIGN };

struct scen {
	uint8_t family, proto;
	const char *src, *dst;
	uint16_t sport, dport;
	uint8_t flags;
	uint8_t icmp_type;
	bool web_mac;          /* source MAC = web-0's (its outbound frames) */
	uint16_t payload;
	enum want want;
	unsigned reason;       /* allow or drop reason per want            */
	const char *rule_sg;   /* SG of the rule reported, NULL: none checked */
};

/* The main scenario, in capture order. Conntrack carries across it. */
static const struct scen scenario[] = {
	/* 1-5: a TCP connection from the VPC to web:80 */
	{ SGBPF_AF_V4, 6, "10.0.2.50", "10.0.1.23", 40000, 80, SG_TCP_SYN, 0, false, 0,
	  W_ALLOW, SGBPF_ALLOW_RULE, WEB_SG },
	{ SGBPF_AF_V4, 6, "10.0.1.23", "10.0.2.50", 80, 40000, SG_TCP_SYN | SG_TCP_ACK, 0, true, 0,
	  W_ALLOW, SGBPF_ALLOW_TRACKED, NULL },
	{ SGBPF_AF_V4, 6, "10.0.2.50", "10.0.1.23", 40000, 80, SG_TCP_ACK, 0, false, 0,
	  W_ALLOW, SGBPF_ALLOW_TRACKED, NULL },
	{ SGBPF_AF_V4, 6, "10.0.2.50", "10.0.1.23", 40000, 80, SG_TCP_ACK | SG_TCP_PSH, 0, false, 100,
	  W_ALLOW, SGBPF_ALLOW_TRACKED, NULL },
	{ SGBPF_AF_V4, 6, "10.0.1.23", "10.0.2.50", 80, 40000, SG_TCP_ACK, 0, true, 0,
	  W_ALLOW, SGBPF_ALLOW_TRACKED, NULL },
	/* 6: ssh to web: no rule */
	{ SGBPF_AF_V4, 6, "10.0.2.50", "10.0.1.23", 40001, 22, SG_TCP_SYN, 0, false, 0,
	  W_DENY, SGBPF_DROP_NO_RULE, NULL },
	/* 7-8: pod to pod, web -> db:5432 (out for web, in for db) */
	{ SGBPF_AF_V4, 6, "10.0.1.23", "10.0.1.24", 50000, 5432, SG_TCP_SYN, 0, true, 0,
	  W_ALLOW, SGBPF_ALLOW_RULE, DB_SG },
	{ SGBPF_AF_V4, 6, "10.0.1.24", "10.0.1.23", 5432, 50000, SG_TCP_SYN | SG_TCP_ACK, 0, false, 0,
	  W_ALLOW, SGBPF_ALLOW_TRACKED, NULL },
	/* 9: neither end is an endpoint */
	{ SGBPF_AF_V4, 6, "10.0.9.1", "10.0.9.2", 1234, 80, SG_TCP_SYN, 0, false, 0,
	  W_FOREIGN, 0, NULL },
	/* 10: db has no outbound rule */
	{ SGBPF_AF_V4, 6, "10.0.1.24", "10.0.2.50", 41000, 443, SG_TCP_SYN, 0, false, 0,
	  W_DENY, SGBPF_DROP_NO_RULE, NULL },
	/* 11: ping to web */
	{ SGBPF_AF_V4, 1, "10.0.2.50", "10.0.1.23", 0, 0, 0, 8, false, 0,
	  W_ALLOW, SGBPF_ALLOW_RULE, WEB_SG },
	/* 12: IPv6 http to web */
	{ SGBPF_AF_V6, 6, "fd00:20::50", "fd00:10::23", 40002, 80, SG_TCP_SYN, 0, false, 0,
	  W_ALLOW, SGBPF_ALLOW_RULE, WEB_SG },
	/* 13: web -> DNS: no udp rule out */
	{ SGBPF_AF_V4, 17, "10.0.1.23", "10.0.2.50", 53000, 53, 0, 0, true, 20,
	  W_DENY, SGBPF_DROP_NO_RULE, NULL },
	/* 14: web's address, someone else's MAC */
	{ SGBPF_AF_V4, 6, "10.0.1.23", "10.0.2.50", 50001, 5432, SG_TCP_SYN, 0, false, 0,
	  W_DENY, SGBPF_DROP_SPOOF_MAC, NULL },
};
#define N_SCEN (sizeof(scenario) / sizeof(scenario[0]))

/* Packets 1, 2, 3 and 6 again, for the tagged, raw-IP and pcapng captures. */
static const size_t short_idx[] = { 0, 1, 2, 5, 11 };
#define N_SHORT (sizeof(short_idx) / sizeof(short_idx[0]))

static char tmpdir[256];
static char sgbpf_bin[4096];

static int build_scen(const struct scen *s, uint8_t *buf, size_t cap)
{
	struct sg_pkt_spec spec;

	sg_pkt_init(&spec, s->family, s->proto);
	if (sg_pkt_set_addrs(&spec, s->src, s->dst))
		return -EINVAL;
	spec.sport = s->sport;
	spec.dport = s->dport;
	spec.tcp_flags = s->flags;
	spec.seq = 1000;
	spec.ack = s->flags & SG_TCP_ACK ? 2000 : 0;
	spec.icmp_type = s->icmp_type;
	spec.icmp_id = 77;
	spec.icmp_seq = 1;
	spec.payload_len = s->payload;
	if (s->web_mac)
		memcpy(spec.src_mac, WEB_MAC, 6);
	return sg_pkt_build(&spec, buf, cap);
}

static const char *want_name(enum want w)
{
	return w == W_ALLOW ? "allow" : w == W_DENY ? "deny" : "foreign";
}

static const char *want_reason(const struct scen *s)
{
	if (s->want == W_ALLOW)
		return sgbpf_allow_reason_name(s->reason);
	if (s->want == W_DENY)
		return sgbpf_drop_reason_name(s->reason);
	return "not-an-endpoint";
}

/* ---- capture writers ------------------------------------------------- */

enum cap_kind { CAP_ETH, CAP_VLAN, CAP_RAW, CAP_PCAPNG };

/* Transform an untagged Ethernet frame for the capture kind. */
static size_t cap_frame(enum cap_kind kind, const uint8_t *in, size_t len, uint8_t *out)
{
	switch (kind) {
	case CAP_VLAN:
		memcpy(out, in, 12);
		out[12] = 0x81; out[13] = 0x00; out[14] = 0x00; out[15] = 7;
		memcpy(out + 16, in + 12, len - 12);
		return len + 4;
	case CAP_RAW:
		memcpy(out, in + 14, len - 14);
		return len - 14;
	default:
		memcpy(out, in, len);
		return len;
	}
}

static void put32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); }
static void put16(FILE *f, uint16_t v) { fwrite(&v, 2, 1, f); }

/* Write the scenario packets idx[0..n) as a capture of the given kind. */
static int write_capture(const char *path, enum cap_kind kind, const size_t *idx, size_t n)
{
	uint8_t frame[SG_PKT_MAX], out[SG_PKT_MAX + 4];
	pcap_dumper_t *d = NULL;
	pcap_t *p = NULL;
	FILE *f = NULL;

	if (kind == CAP_PCAPNG) {
		/* Section header, one Ethernet interface, enhanced packet blocks
		 * (host byte order, which the byte-order magic declares). */
		f = fopen(path, "wb");
		if (!f)
			return -errno;
		put32(f, 0x0A0D0D0A); put32(f, 28); put32(f, 0x1A2B3C4D);
		put16(f, 1); put16(f, 0); put32(f, 0xffffffff); put32(f, 0xffffffff); put32(f, 28);
		put32(f, 1); put32(f, 20); put16(f, DLT_EN10MB); put16(f, 0); put32(f, 65535);
		put32(f, 20);
	} else {
		p = pcap_open_dead(kind == CAP_RAW ? DLT_RAW : DLT_EN10MB, 65535);
		d = p ? pcap_dump_open(p, path) : NULL;
		if (!d) {
			if (p)
				pcap_close(p);
			return -EIO;
		}
	}
	for (size_t i = 0; i < n; i++) {
		int len = build_scen(&scenario[idx[i]], frame, sizeof(frame));
		size_t olen;

		if (len < 0)
			return len;
		olen = cap_frame(kind, frame, (size_t)len, out);
		if (f) {
			uint64_t ts = (1700000000ull + i) * 1000000ull;
			uint32_t pad = (uint32_t)((4 - olen % 4) % 4), zero = 0;

			put32(f, 6); put32(f, (uint32_t)(32 + olen + pad)); put32(f, 0);
			put32(f, (uint32_t)(ts >> 32)); put32(f, (uint32_t)ts);
			put32(f, (uint32_t)olen); put32(f, (uint32_t)olen);
			fwrite(out, 1, olen, f);
			fwrite(&zero, 1, pad, f);
			put32(f, (uint32_t)(32 + olen + pad));
		} else {
			struct pcap_pkthdr h = { .ts = { .tv_sec = 1700000000 + (long)i },
						 .caplen = (bpf_u_int32)olen, .len = (bpf_u_int32)olen };

			pcap_dump((u_char *)d, &h, out);
		}
	}
	if (f)
		return fclose(f) ? -errno : 0;
	pcap_dump_close(d);
	pcap_close(p);
	return 0;
}

static size_t all_idx[N_SCEN];

static const char *cap_path(const char *name)
{
	static char path[4][512];
	static int slot;

	slot = (slot + 1) % 4;
	snprintf(path[slot], sizeof(path[slot]), "%s/%s", tmpdir, name);
	return path[slot];
}

static int replay_init(void)
{
	char exe[4096];
	ssize_t n;

	for (size_t i = 0; i < N_SCEN; i++)
		all_idx[i] = i;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sgbpf-replay-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	if (write_capture(cap_path("main.pcap"), CAP_ETH, all_idx, N_SCEN) ||
	    write_capture(cap_path("vlan.pcap"), CAP_VLAN, short_idx, N_SHORT) ||
	    write_capture(cap_path("raw.pcap"), CAP_RAW, short_idx, N_SHORT) ||
	    write_capture(cap_path("main.pcapng"), CAP_PCAPNG, all_idx, N_SCEN))
		return -1;
	/* build/tests/test_bpf -> build/sgbpf */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	snprintf(sgbpf_bin, sizeof(sgbpf_bin), "%s/../sgbpf", dirname(exe));
	return 0;
}

static int replay_clean(void)
{
	char cmd[300];

	if (tmpdir[0] && strncmp(tmpdir, "/tmp/sgbpf-replay-", 18) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "test_replay: could not remove %s\n", tmpdir);
	}
	return 0;
}

/* Run build/sgbpf with args; stdout/stderr into *out / *err (caller frees).
 * Returns the exit status, or -1 when it did not exit normally. uid >= 0
 * drops to that uid first. */
static int run_cli_as(int uid, const char *const *args, char **out, char **err)
{
	char opath[300], epath[300];
	const char *argv[32];
	size_t n = 0;
	int status;
	pid_t pid;

	argv[n++] = sgbpf_bin;
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	snprintf(opath, sizeof(opath), "%s/cli.out", tmpdir);
	snprintf(epath, sizeof(epath), "%s/cli.err", tmpdir);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fo = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		int fe = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0666);

		if (fo < 0 || fe < 0)
			_exit(126);
		dup2(fo, 1);
		dup2(fe, 2);
		if (uid >= 0 && setuid((uid_t)uid))
			_exit(125);
		execv(sgbpf_bin, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	*out = sgt_read_file(opath, NULL);
	*err = sgt_read_file(epath, NULL);
	if (!*out)
		*out = strdup("");
	if (!*err)
		*err = strdup("");
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_cli(const char *const *args, char **out, char **err)
{
	return run_cli_as(-1, args, out, err);
}

static const char *policy_dir(void)
{
	static char dir[4096];

	snprintf(dir, sizeof(dir), "%s", sgt_fixture("replay"));
	return dir;
}

/* ---- suite replay-pcap: decoding and reading captures (no BPF) -------- */

static void test_decode_ethernet(void)
{
	uint8_t frame[SG_PKT_MAX];
	struct sg_l2_view v;
	struct sg_addr s, d;
	int len = build_scen(&scenario[0], frame, sizeof(frame));

	CU_ASSERT_FATAL(len >= 54);
	CU_ASSERT_EQUAL_FATAL(sg_pcap_decode(DLT_EN10MB, frame, (size_t)len, &v), 0);
	CU_ASSERT_TRUE(v.has_macs);
	CU_ASSERT_FALSE(v.has_outer_tag);
	CU_ASSERT_EQUAL(v.ethertype, 0x0800);
	CU_ASSERT_EQUAL(v.l3_type, 0x0800);
	CU_ASSERT_PTR_EQUAL(v.payload, frame + 14);
	CU_ASSERT_EQUAL(v.payload_len, (size_t)len - 14);
	CU_ASSERT_EQUAL(memcmp(v.src_mac, frame + 6, 6), 0);
	CU_ASSERT_EQUAL_FATAL(sg_l2_view_addrs(&v, &s, &d), 0);
	CU_ASSERT_EQUAL(s.family, SGBPF_AF_V4);
	CU_ASSERT_EQUAL(memcmp(s.addr, "\x0a\x00\x02\x32", 4), 0);
	CU_ASSERT_EQUAL(memcmp(d.addr, "\x0a\x00\x01\x17", 4), 0);
	/* Too short for Ethernet, or for its IP header. */
	CU_ASSERT_EQUAL(sg_pcap_decode(DLT_EN10MB, frame, 13, &v), -EINVAL);
	CU_ASSERT_EQUAL(sg_pcap_decode(DLT_EN10MB, frame, 30, &v), 0);
	CU_ASSERT_EQUAL(sg_l2_view_addrs(&v, &s, &d), -EINVAL);
}

static void test_decode_vlan(void)
{
	uint8_t frame[SG_PKT_MAX], tagged[SG_PKT_MAX + 8];
	int len = build_scen(&scenario[11], frame, sizeof(frame));   /* IPv6 */
	struct sg_l2_view v;
	struct sg_addr s, d;
	size_t tl;

	CU_ASSERT_FATAL(len > 0);
	tl = cap_frame(CAP_VLAN, frame, (size_t)len, tagged);
	CU_ASSERT_EQUAL_FATAL(sg_pcap_decode(DLT_EN10MB, tagged, tl, &v), 0);
	CU_ASSERT_TRUE(v.has_outer_tag);
	CU_ASSERT_EQUAL(v.outer_vlan, 7);
	CU_ASSERT_EQUAL(v.ethertype, 0x86dd);
	CU_ASSERT_EQUAL(v.l3_type, 0x86dd);
	CU_ASSERT_EQUAL(v.payload_len, (size_t)len - 14);
	CU_ASSERT_EQUAL_FATAL(sg_l2_view_addrs(&v, &s, &d), 0);
	CU_ASSERT_EQUAL(s.family, SGBPF_AF_V6);
	CU_ASSERT_EQUAL(d.addr[15], 0x23);

	/* 802.1ad outer + 802.1Q inner: only the outer tag is taken off. */
	memcpy(tagged, frame, 12);
	memcpy(tagged + 12, "\x88\xa8\x00\x0b\x81\x00\x00\x05", 8);
	memcpy(tagged + 20, frame + 12, (size_t)len - 12);
	CU_ASSERT_EQUAL_FATAL(sg_pcap_decode(DLT_EN10MB, tagged, (size_t)len + 8, &v), 0);
	CU_ASSERT_EQUAL(v.outer_vlan, 11);
	CU_ASSERT_EQUAL(v.ethertype, 0x8100);
	CU_ASSERT_EQUAL(v.l3_type, 0x86dd);
	CU_ASSERT_EQUAL(v.payload_len, (size_t)len - 14 + 4);
	CU_ASSERT_EQUAL(v.l3_len, (size_t)len - 14);
	/* A tag cut short. */
	CU_ASSERT_EQUAL(sg_pcap_decode(DLT_EN10MB, tagged, 16, &v), -EINVAL);
}

static void test_decode_raw_and_cooked(void)
{
	uint8_t frame[SG_PKT_MAX], buf[SG_PKT_MAX + 32];
	int len4 = build_scen(&scenario[0], frame, sizeof(frame));
	struct sg_l2_view v;
	struct sg_addr s, d;

	CU_ASSERT_FATAL(len4 > 0);
	CU_ASSERT_EQUAL_FATAL(sg_pcap_decode(DLT_RAW, frame + 14, (size_t)len4 - 14, &v), 0);
	CU_ASSERT_FALSE(v.has_macs);
	CU_ASSERT_EQUAL(v.ethertype, 0x0800);
	CU_ASSERT_EQUAL(v.payload_len, (size_t)len4 - 14);
	CU_ASSERT_EQUAL(sg_pcap_decode(DLT_IPV4, frame + 14, (size_t)len4 - 14, &v), 0);
	CU_ASSERT_EQUAL(sg_pcap_decode(DLT_IPV6, frame + 14, (size_t)len4 - 14, &v), -EINVAL);
	CU_ASSERT_EQUAL(sg_pcap_decode(DLT_RAW, frame, 1, &v), -EINVAL); /* 0xff: not IP */
	CU_ASSERT_EQUAL(sg_pcap_decode(DLT_RAW, frame, 0, &v), -EINVAL);

	/* Linux cooked v1: 16-byte header ending in the protocol. */
	memset(buf, 0, 16);
	buf[14] = 0x08;
	memcpy(buf + 16, frame + 14, (size_t)len4 - 14);
	CU_ASSERT_EQUAL_FATAL(sg_pcap_decode(DLT_LINUX_SLL, buf, (size_t)len4 + 2, &v), 0);
	CU_ASSERT_EQUAL(v.ethertype, 0x0800);
	CU_ASSERT_EQUAL_FATAL(sg_l2_view_addrs(&v, &s, &d), 0);
	CU_ASSERT_EQUAL(memcmp(d.addr, "\x0a\x00\x01\x17", 4), 0);
	/* Linux cooked v2: 20-byte header starting with the protocol. */
	memset(buf, 0, 20);
	buf[0] = 0x08;
	memcpy(buf + 20, frame + 14, (size_t)len4 - 14);
	CU_ASSERT_EQUAL_FATAL(sg_pcap_decode(DLT_LINUX_SLL2, buf, (size_t)len4 + 6, &v), 0);
	CU_ASSERT_EQUAL(v.ethertype, 0x0800);
	CU_ASSERT_EQUAL(v.payload_len, (size_t)len4 - 14);
	CU_ASSERT_EQUAL(sg_pcap_decode(DLT_LINUX_SLL2, buf, 19, &v), -EINVAL);
	CU_ASSERT_FALSE(sg_pcap_linktype_supported(DLT_PPP));
	CU_ASSERT_EQUAL(sg_pcap_decode(DLT_PPP, buf, 100, &v), -EINVAL);
}

static void test_addrs_arp_and_other(void)
{
	/* ARP request 10.0.1.23 -> who has 10.0.1.1 */
	uint8_t arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x06, 0, 0, 0, 1, 0x23, 0x08, 0x06,
			    0, 1, 0x08, 0, 6, 4, 0, 1, 0x06, 0, 0, 0, 1, 0x23, 10, 0, 1, 23,
			    0, 0, 0, 0, 0, 0, 10, 0, 1, 1 };
	struct sg_l2_view v;
	struct sg_addr s, d;

	CU_ASSERT_EQUAL_FATAL(sg_pcap_decode(DLT_EN10MB, arp, sizeof(arp), &v), 0);
	CU_ASSERT_EQUAL(v.l3_type, 0x0806);
	CU_ASSERT_EQUAL_FATAL(sg_l2_view_addrs(&v, &s, &d), 0);
	CU_ASSERT_EQUAL(memcmp(s.addr, "\x0a\x00\x01\x17", 4), 0);
	CU_ASSERT_EQUAL(memcmp(d.addr, "\x0a\x00\x01\x01", 4), 0);
	CU_ASSERT_EQUAL(sg_pcap_decode(DLT_EN10MB, arp, 40, &v), 0);
	CU_ASSERT_EQUAL(sg_l2_view_addrs(&v, &s, &d), -EINVAL);
	arp[12] = 0x88; arp[13] = 0xcc;   /* LLDP: no addresses */
	CU_ASSERT_EQUAL(sg_pcap_decode(DLT_EN10MB, arp, sizeof(arp), &v), 0);
	CU_ASSERT_EQUAL(sg_l2_view_addrs(&v, &s, &d), -ENOENT);
}

/* Read a capture back and compare every packet with what was written. */
static void check_readback(const char *path, enum cap_kind kind, const size_t *idx, size_t n,
			   int want_dlt)
{
	uint8_t frame[SG_PKT_MAX], want[SG_PKT_MAX + 4];
	struct sg_pcap_pkt pkt;
	struct sg_pcap *p = NULL;
	char err[512];
	size_t i = 0;
	int rc;

	CU_ASSERT_EQUAL_FATAL(sg_pcap_open(path, &p, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sg_pcap_linktype(p), want_dlt);
	while ((rc = sg_pcap_next(p, &pkt, err, sizeof(err))) == 1) {
		int len;
		size_t wl;

		if (i >= n) {
			CU_FAIL("more packets read than written");
			break;
		}
		len = build_scen(&scenario[idx[i]], frame, sizeof(frame));
		wl = cap_frame(kind, frame, (size_t)len, want);
		CU_ASSERT_EQUAL(pkt.index, i + 1);
		CU_ASSERT_EQUAL(pkt.caplen, wl);
		CU_ASSERT_EQUAL(pkt.ts_us, (1700000000ull + i) * 1000000ull);
		CU_ASSERT(pkt.caplen == wl && memcmp(pkt.data, want, wl) == 0);
		CU_ASSERT_EQUAL(pkt.decode_err, 0);
		/* Every kind decodes to the same bytes after the outer tag. */
		CU_ASSERT_EQUAL(pkt.view.payload_len, (size_t)len - 14);
		CU_ASSERT(memcmp(pkt.view.payload, frame + 14, (size_t)len - 14) == 0);
		i++;
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(i, n);
	sg_pcap_close(p);
}

static void test_read_captures(void)
{
	check_readback(cap_path("main.pcap"), CAP_ETH, all_idx, N_SCEN, DLT_EN10MB);
	check_readback(cap_path("vlan.pcap"), CAP_VLAN, short_idx, N_SHORT, DLT_EN10MB);
	check_readback(cap_path("raw.pcap"), CAP_RAW, short_idx, N_SHORT, DLT_RAW);
	check_readback(cap_path("main.pcapng"), CAP_PCAPNG, all_idx, N_SCEN, DLT_EN10MB);
}

static void test_open_errors(void)
{
	const char *missing = cap_path("does-not-exist.pcap");
	const char *junk = cap_path("junk.pcap");
	const char *ppp = cap_path("ppp.pcap");
	struct sg_pcap *p = NULL;
	char err[512];
	FILE *f;
	pcap_t *pd;
	pcap_dumper_t *d;

	CU_ASSERT_EQUAL(sg_pcap_open(missing, &p, err, sizeof(err)), -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, missing));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));

	f = fopen(junk, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("this is not a capture file, just some text\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(sg_pcap_open(junk, &p, err, sizeof(err)), -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, junk));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read capture"));

	pd = pcap_open_dead(DLT_PPP, 65535);
	d = pcap_dump_open(pd, ppp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	pcap_dump_close(d);
	pcap_close(pd);
	CU_ASSERT_EQUAL(sg_pcap_open(ppp, &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not supported"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "PPP"));
}

static void test_offline_frame(void)
{
	struct sg_compiled_endpoint ep = { .ep_id = 4 };
	uint8_t frame[SG_PKT_MAX], tagged[SG_PKT_MAX + 8], out[SG_PKT_MAX + 32];
	int len = build_scen(&scenario[1], frame, sizeof(frame)), olen;
	struct sg_l2_view v;
	size_t tl;

	CU_ASSERT_FATAL(len > 0);
	ep.val.flags = SGBPF_EP_HAS_MAC;
	memcpy(ep.val.mac, "\x06\x01\x02\x03\x04\x05", 6);

	/* Tagged capture: the outer tag becomes VLAN ep_id + 1, MACs kept. */
	tl = cap_frame(CAP_VLAN, frame, (size_t)len, tagged);
	CU_ASSERT_EQUAL_FATAL(sg_pcap_decode(DLT_EN10MB, tagged, tl, &v), 0);
	olen = sg_offline_frame(&ep, SGBPF_DIR_OUT, &v, out, sizeof(out));
	CU_ASSERT_EQUAL_FATAL(olen, (int)tl);
	CU_ASSERT_EQUAL(memcmp(out, tagged, 12), 0);
	CU_ASSERT_EQUAL(memcmp(out + 12, "\x81\x00\x00\x05", 4), 0);
	CU_ASSERT_EQUAL(memcmp(out + 16, tagged + 16, tl - 16), 0);

	/* Raw IP outbound: source MAC = the endpoint's, Ethernet added. */
	CU_ASSERT_EQUAL_FATAL(sg_pcap_decode(DLT_RAW, frame + 14, (size_t)len - 14, &v), 0);
	olen = sg_offline_frame(&ep, SGBPF_DIR_OUT, &v, out, sizeof(out));
	CU_ASSERT_EQUAL_FATAL(olen, len + 4);
	CU_ASSERT_EQUAL(memcmp(out + 6, ep.val.mac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(out + 12, "\x81\x00\x00\x05\x08\x00", 6), 0);
	CU_ASSERT_EQUAL(memcmp(out + 18, frame + 14, (size_t)len - 14), 0);
	/* Inbound: the endpoint's MAC is the destination. */
	olen = sg_offline_frame(&ep, SGBPF_DIR_IN, &v, out, sizeof(out));
	CU_ASSERT_EQUAL(memcmp(out, ep.val.mac, 6), 0);
	/* Too small a buffer. */
	CU_ASSERT_EQUAL(sg_offline_frame(&ep, SGBPF_DIR_IN, &v, out, 20), -ENOSPC);
}

/* The committed captures are the generated ones. */
static void test_fixtures_current(void)
{
	static const struct {
		const char *name;
		enum cap_kind kind;
		bool all;
	} fx[] = {
		{ "replay-eth.pcap", CAP_ETH, true },
		{ "replay-vlan.pcap", CAP_VLAN, false },
		{ "replay-raw.pcap", CAP_RAW, false },
		{ "replay-eth.pcapng", CAP_PCAPNG, true },
	};
	bool regen = getenv("SGBPF_REGEN_FIXTURES") != NULL;

	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		const size_t *idx = fx[i].all ? all_idx : short_idx;
		size_t n = fx[i].all ? N_SCEN : N_SHORT, la = 0, lb = 0;
		char committed[4096];
		const char *fresh = cap_path("fresh.cap");
		char *a, *b;

		snprintf(committed, sizeof(committed), "%s", sgt_fixture("pcap"));
		snprintf(committed + strlen(committed), sizeof(committed) - strlen(committed),
			 "/%s", fx[i].name);
		if (regen)
			CU_ASSERT_EQUAL(write_capture(committed, fx[i].kind, idx, n), 0);
		CU_ASSERT_EQUAL_FATAL(write_capture(fresh, fx[i].kind, idx, n), 0);
		a = sgt_read_file(committed, &la);
		b = sgt_read_file(fresh, &lb);
		if (!a || la != lb || memcmp(a, b, la))
			fprintf(stderr, "\n%s differs from the generated capture; "
				"rerun with SGBPF_REGEN_FIXTURES=1 to rewrite it\n", committed);
		CU_ASSERT(a && b && la == lb && memcmp(a, b, la) == 0);
		free(a);
		free(b);
	}
}

static CU_TestInfo pcap_tests[] = {
	{ "decode-ethernet", test_decode_ethernet },
	{ "decode-vlan", test_decode_vlan },
	{ "decode-raw-and-cooked", test_decode_raw_and_cooked },
	{ "addrs-arp-and-other", test_addrs_arp_and_other },
	{ "read-captures", test_read_captures },
	{ "open-errors", test_open_errors },
	{ "offline-frame", test_offline_frame },
	{ "fixtures-current", test_fixtures_current },
	CU_TEST_INFO_NULL,
};
SGT_SUITE("replay-pcap", replay_init, replay_clean, pcap_tests);

/* ---- suite replay: the offline layer and `sgbpf replay` --------------- */

/* The offline API directly: each scenario packet, its verdict, reason and rule. */
static void test_offline_scenario(void)
{
	struct sg_offline *ctx = NULL;
	struct sg_diags diags;
	uint8_t frame[SG_PKT_MAX];
	int err;

	sg_diags_init(&diags);
	err = sg_offline_open(policy_dir(), &ctx, &diags);
	if (err)
		sg_diags_print(&diags, stderr);
	sg_diags_free(&diags);
	CU_ASSERT_EQUAL_FATAL(err, 0);
	CU_ASSERT_PTR_NOT_NULL(sg_offline_endpoint(ctx, "default/web-0"));
	CU_ASSERT_PTR_NULL(sg_offline_endpoint(ctx, "default/nobody"));

	for (size_t i = 0; i < N_SCEN; i++) {
		const struct scen *s = &scenario[i];
		const struct sg_compiled_endpoint *src_ep, *dst_ep;
		struct sg_offline_verdict v = { 0 };
		struct sg_l2_view view;
		struct sg_addr sa, da;
		int len = build_scen(s, frame, sizeof(frame));
		bool allow = true;

		CU_ASSERT_FATAL(len > 0);
		CU_ASSERT_EQUAL_FATAL(sg_pcap_decode(DLT_EN10MB, frame, (size_t)len, &view), 0);
		CU_ASSERT_EQUAL_FATAL(sg_l2_view_addrs(&view, &sa, &da), 0);
		src_ep = sg_offline_endpoint_by_addr(ctx, &sa);
		dst_ep = sg_offline_endpoint_by_addr(ctx, &da);
		if (s->want == W_FOREIGN) {
			CU_ASSERT(!src_ep && !dst_ep);
			continue;
		}
		if (src_ep) {
			CU_ASSERT_EQUAL_FATAL(sg_offline_run(ctx, src_ep, SGBPF_DIR_OUT, &view, &v), 0);
			allow = v.allow;
		}
		if (allow && dst_ep) {
			CU_ASSERT_EQUAL_FATAL(sg_offline_run(ctx, dst_ep, SGBPF_DIR_IN, &view, &v), 0);
			allow = v.allow;
		}
		if (allow != (s->want == W_ALLOW) || !v.has_event ||
		    strcmp(sg_offline_reason_name(&v), want_reason(s)))
			fprintf(stderr, "\npacket %zu: got %s %s, want %s %s\n", i + 1,
				allow ? "allow" : "deny", sg_offline_reason_name(&v),
				want_name(s->want), want_reason(s));
		CU_ASSERT_EQUAL(allow, s->want == W_ALLOW);
		CU_ASSERT_TRUE(v.has_event);
		CU_ASSERT_STRING_EQUAL(sg_offline_reason_name(&v), want_reason(s));
		if (s->rule_sg) {
			const struct sg_compiled_rule *r = sg_offline_rule(ctx, &v);

			CU_ASSERT_PTR_NOT_NULL(r);
			if (r)
				CU_ASSERT_STRING_EQUAL(r->sg_id, s->rule_sg);
		}
		if (!allow && s->reason == SGBPF_DROP_NO_RULE)
			CU_ASSERT_PTR_NULL(sg_offline_rule(ctx, &v));
	}
	sg_offline_close(ctx);
}

/* Replay a capture with --verdicts -o json and compare with scenario idx[]. */
static void check_replay_json(const char *capture, const size_t *idx, size_t n)
{
	const char *args[] = { "replay", "--policy", policy_dir(), capture, "--verdicts",
			       "-o", "json", NULL };
	unsigned long want_allow = 0, want_deny = 0, want_foreign = 0;
	char *out = NULL, *err = NULL;
	cJSON *root, *verdicts, *reasons;
	int rc = run_cli(args, &out, &err);

	if (rc != 0)
		fprintf(stderr, "\nreplay %s: exit %d: %s\n", capture, rc, err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	root = cJSON_Parse(out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	verdicts = cJSON_GetObjectItem(root, "verdicts");
	reasons = cJSON_GetObjectItem(root, "reasons");
	CU_ASSERT_FATAL(cJSON_IsArray(verdicts) && cJSON_IsObject(reasons));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(verdicts), (int)n);
	for (size_t i = 0; i < n && i < (size_t)cJSON_GetArraySize(verdicts); i++) {
		const struct scen *s = &scenario[idx[i]];
		cJSON *o = cJSON_GetArrayItem(verdicts, (int)i);
		const char *vd = cJSON_GetStringValue(cJSON_GetObjectItem(o, "verdict"));
		const char *rs = cJSON_GetStringValue(cJSON_GetObjectItem(o, "reason"));

		CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "index")), (double)(i + 1));
		if (!vd || !rs || strcmp(vd, want_name(s->want)) || strcmp(rs, want_reason(s)))
			fprintf(stderr, "\n%s packet %zu: got %s %s, want %s %s\n", capture, i + 1,
				vd, rs, want_name(s->want), want_reason(s));
		CU_ASSERT(vd && !strcmp(vd, want_name(s->want)));
		CU_ASSERT(rs && !strcmp(rs, want_reason(s)));
		want_allow += s->want == W_ALLOW;
		want_deny += s->want == W_DENY;
		want_foreign += s->want == W_FOREIGN;
	}
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(root, "packets")), (double)n);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(root, "allow")), (double)want_allow);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(root, "deny")), (double)want_deny);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(root, "foreign")),
			(double)want_foreign);
	/* Reason totals add up to the packet count and match the scenario. */
	{
		double sum = 0;
		cJSON *it;

		cJSON_ArrayForEach(it, reasons)
			sum += cJSON_GetNumberValue(it);
		CU_ASSERT_EQUAL(sum, (double)n);
		for (size_t i = 0; i < n; i++) {
			const char *name = want_reason(&scenario[idx[i]]);
			double want = 0;

			for (size_t j = 0; j < n; j++)
				want += !strcmp(want_reason(&scenario[idx[j]]), name);
			CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(reasons, name)), want);
		}
	}
	cJSON_Delete(root);
	free(out);
	free(err);
}

static void test_replay_ethernet(void)
{
	check_replay_json(cap_path("main.pcap"), all_idx, N_SCEN);
}

static void test_replay_vlan(void)
{
	check_replay_json(cap_path("vlan.pcap"), short_idx, N_SHORT);
}

static void test_replay_raw(void)
{
	check_replay_json(cap_path("raw.pcap"), short_idx, N_SHORT);
}

static void test_replay_pcapng(void)
{
	check_replay_json(cap_path("main.pcapng"), all_idx, N_SCEN);
}

/* The text form: exact per-packet lines, then the totals. */
static void test_replay_text(void)
{
	const char *args[] = { "replay", "--policy", policy_dir(), cap_path("main.pcap"),
			       "--verdicts", NULL };
	char *out = NULL, *err = NULL, want[128], *line, *save = NULL;
	int rc = run_cli(args, &out, &err);
	size_t i = 0;

	CU_ASSERT_EQUAL_FATAL(rc, 0);
	for (line = strtok_r(out, "\n", &save); line && i < N_SCEN;
	     line = strtok_r(NULL, "\n", &save), i++) {
		snprintf(want, sizeof(want), "%zu %s %s", i + 1, want_name(scenario[i].want),
			 want_reason(&scenario[i]));
		if (strcmp(line, want))
			fprintf(stderr, "\nline %zu: '%s', want '%s'\n", i + 1, line, want);
		CU_ASSERT_STRING_EQUAL(line, want);
	}
	CU_ASSERT_EQUAL(i, N_SCEN);
	CU_ASSERT_PTR_NOT_NULL(line);
	if (line)
		CU_ASSERT_STRING_EQUAL(line, "packets: 14");
	free(out);
	free(err);

	/* Without --verdicts: totals only. */
	args[4] = NULL;
	rc = run_cli(args, &out, &err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(strncmp(out, "packets: 14\nallow:   9\ndeny:    4\nforeign: 1\n", 45), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  not-an-endpoint      1\n"));
	free(out);
	free(err);
}

static void test_replay_errors(void)
{
	const char *missing = cap_path("missing.pcap");
	const char *a1[] = { "replay", "--policy", policy_dir(), missing, NULL };
	char bad[4096];
	const char *a2[] = { "replay", "--policy", bad, cap_path("main.pcap"), NULL };
	const char *a3[] = { "replay", cap_path("main.pcap"), NULL };
	const char *a4[] = { "replay", "--policy", policy_dir(), cap_path("main.pcap"), "-o",
			     "yaml", NULL };
	const char *a5[] = { "replay", "--help", NULL };
	char *out = NULL, *err = NULL;

	snprintf(bad, sizeof(bad), "%s", sgt_fixture("replay/bad"));
	CU_ASSERT_EQUAL(run_cli(a1, &out, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, missing));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
	CU_ASSERT_STRING_EQUAL(out, "");
	free(out);
	free(err);
	CU_ASSERT_EQUAL(run_cli(a2, &out, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "sg-0ccc0000000000009"));  /* the diag */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is invalid"));
	free(out);
	free(err);
	CU_ASSERT_EQUAL(run_cli(a3, &out, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--policy"));
	free(out);
	free(err);
	CU_ASSERT_EQUAL(run_cli(a4, &out, &err), 2);
	free(out);
	free(err);
	CU_ASSERT_EQUAL(run_cli(a5, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage: sgbpf replay"));
	free(out);
	free(err);
}

static CU_TestInfo replay_tests[] = {
	{ "offline-scenario", test_offline_scenario },
	{ "ethernet", test_replay_ethernet },
	{ "vlan", test_replay_vlan },
	{ "raw-ip", test_replay_raw },
	{ "pcapng", test_replay_pcapng },
	{ "text", test_replay_text },
	{ "errors", test_replay_errors },
	CU_TEST_INFO_NULL,
};
SGT_SUITE("replay", replay_init, replay_clean, replay_tests);

/* ---- suite replay-check: `sgbpf check` -------------------------------- */

/* Run check with extra args and -o json; returns the exit code, *root the JSON. */
static int check_json(const char *const *extra, cJSON **root)
{
	const char *args[32] = { "check", "--policy", policy_dir() };
	size_t n = 3;
	char *out = NULL, *err = NULL;
	int rc;

	for (; *extra; extra++)
		args[n++] = *extra;
	args[n++] = "-o";
	args[n++] = "json";
	args[n] = NULL;
	rc = run_cli(args, &out, &err);
	*root = cJSON_Parse(out);
	if (!*root)
		fprintf(stderr, "\ncheck: exit %d, stdout '%s', stderr '%s'\n", rc, out, err);
	free(out);
	free(err);
	return rc;
}

static const char *jstr(cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));

	return s ? s : "(missing)";
}

static void test_check_allow_rule(void)
{
	const char *in80[] = { "--endpoint", "default/web-0", "--in", "--proto", "tcp",
			       "--remote", "10.0.2.50", "--port", "80", NULL };
	const char *text[] = { "check", "--policy", policy_dir(), "--endpoint", "default/web-0",
			       "--in", "--proto", "tcp", "--remote", "10.0.2.50", "--port", "80",
			       NULL };
	cJSON *root, *rule;
	char *out = NULL, *err = NULL;

	CU_ASSERT_EQUAL(check_json(in80, &root), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	CU_ASSERT_STRING_EQUAL(jstr(root, "verdict"), "allow");
	CU_ASSERT_STRING_EQUAL(jstr(root, "reason"), sgbpf_allow_reason_name(SGBPF_ALLOW_RULE));
	rule = cJSON_GetObjectItem(root, "rule");
	CU_ASSERT_PTR_NOT_NULL_FATAL(rule);
	CU_ASSERT_STRING_EQUAL(jstr(rule, "security_group"), WEB_SG);
	CU_ASSERT_STRING_EQUAL(jstr(rule, "file"), "groups.json");
	CU_ASSERT_STRING_EQUAL(jstr(rule, "path"), "SecurityGroups[0].IpPermissions[0].IpRanges[0]");
	CU_ASSERT_STRING_EQUAL(jstr(rule, "description"), "http from the VPC");
	cJSON_Delete(root);

	/* Text: the verdict alone on the first line, then the rule's origin. */
	CU_ASSERT_EQUAL(run_cli(text, &out, &err), 0);
	CU_ASSERT_EQUAL(strncmp(out, "allow\n", 6), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "groups.json: SecurityGroups[0].IpPermissions[0].IpRanges[0]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, WEB_SG));
	free(out);
	free(err);
}

static void test_check_other_allows(void)
{
	const char *v6[] = { "--endpoint", "default/web-0", "--in", "--proto", "tcp",
			     "--remote", "fd00:20::50", "--port", "80", NULL };
	const char *ping[] = { "--endpoint", "default/web-0", "--in", "--proto", "icmp",
			       "--remote", "10.0.2.50", NULL };
	const char *out_db[] = { "--endpoint", "default/web-0", "--out", "--proto", "tcp",
				 "--remote", "10.0.1.24", "--port", "5432", NULL };
	const char *in_db[] = { "--endpoint", "default/db-0", "--in", "--proto", "tcp",
				"--remote", "10.0.1.23", "--port", "5432", NULL };
	const char *const *cases[] = { v6, ping, out_db, in_db };
	const char *sgs[] = { WEB_SG, WEB_SG, WEB_SG, DB_SG };
	const char *paths[] = { "SecurityGroups[0].IpPermissions[0].Ipv6Ranges[0]",
				"SecurityGroups[0].IpPermissions[1].IpRanges[0]",
				"SecurityGroups[0].IpPermissionsEgress[0].UserIdGroupPairs[0]",
				"SecurityGroups[1].IpPermissions[0].UserIdGroupPairs[0]" };

	for (size_t i = 0; i < 4; i++) {
		cJSON *root, *rule;

		CU_ASSERT_EQUAL(check_json(cases[i], &root), 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(root);
		CU_ASSERT_STRING_EQUAL(jstr(root, "verdict"), "allow");
		rule = cJSON_GetObjectItem(root, "rule");
		CU_ASSERT_STRING_EQUAL(jstr(rule, "security_group"), sgs[i]);
		CU_ASSERT_STRING_EQUAL(jstr(rule, "path"), paths[i]);
		cJSON_Delete(root);
	}
}

static void test_check_deny(void)
{
	const char *ssh[] = { "--endpoint", "default/web-0", "--in", "--proto", "tcp",
			      "--remote", "10.0.2.50", "--port", "22", NULL };
	const char *ping6[] = { "--endpoint", "default/web-0", "--in", "--proto", "icmpv6",
				"--remote", "fd00:20::50", NULL };
	const char *db_out[] = { "--endpoint", "default/db-0", "--out", "--proto", "udp",
				 "--remote", "10.0.2.50", "--port", "53", NULL };
	/* Not web's address as --local: the source check drops it first. */
	const char *spoof[] = { "--endpoint", "default/web-0", "--out", "--proto", "tcp",
				"--remote", "10.0.1.24", "--port", "5432", "--local",
				"10.0.1.99", NULL };
	const char *const *cases[] = { ssh, ping6, db_out, spoof };
	unsigned reasons[] = { SGBPF_DROP_NO_RULE, SGBPF_DROP_NO_RULE, SGBPF_DROP_NO_RULE,
			       SGBPF_DROP_SPOOF_SRC };
	const char *text[] = { "check", "--policy", policy_dir(), "--endpoint", "default/web-0",
			       "--in", "--proto", "tcp", "--remote", "10.0.2.50", "--port", "22",
			       NULL };
	char *out = NULL, *err = NULL;

	for (size_t i = 0; i < 4; i++) {
		cJSON *root;

		CU_ASSERT_EQUAL(check_json(cases[i], &root), 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(root);
		CU_ASSERT_STRING_EQUAL(jstr(root, "verdict"), "deny");
		CU_ASSERT_STRING_EQUAL(jstr(root, "reason"), sgbpf_drop_reason_name(reasons[i]));
		CU_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(root, "rule")));
		cJSON_Delete(root);
	}
	CU_ASSERT_EQUAL(run_cli(text, &out, &err), 1);
	CU_ASSERT_EQUAL(strncmp(out, "deny\n", 5), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, sgbpf_drop_reason_name(SGBPF_DROP_NO_RULE)));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "no rule of the endpoint's security groups"));
	free(out);
	free(err);
}

static void test_check_errors(void)
{
	char bad[4096];
	const char *base = policy_dir();
	const char *unknown_ep[] = { "check", "--policy", base, "--endpoint", "default/nobody",
				     "--in", "--proto", "tcp", "--remote", "10.0.2.50", "--port",
				     "80", NULL };
	const char *no_port[] = { "check", "--policy", base, "--endpoint", "default/web-0",
				  "--in", "--proto", "tcp", "--remote", "10.0.2.50", NULL };
	const char *both_dirs[] = { "check", "--policy", base, "--endpoint", "default/web-0",
				    "--in", "--out", "--proto", "udp", "--remote", "10.0.2.50",
				    "--port", "53", NULL };
	const char *bad_proto[] = { "check", "--policy", base, "--endpoint", "default/web-0",
				    "--in", "--proto", "bogus", "--remote", "10.0.2.50", NULL };
	const char *bad_addr[] = { "check", "--policy", base, "--endpoint", "default/web-0",
				   "--in", "--proto", "udp", "--remote", "10.0.2", "--port", "53",
				   NULL };
	const char *icmp_v6[] = { "check", "--policy", base, "--endpoint", "default/web-0",
				  "--in", "--proto", "icmp", "--remote", "fd00::1", NULL };
	const char *no_v6[] = { "check", "--policy", base, "--endpoint", "default/db-0",
				"--in", "--proto", "tcp", "--remote", "fd00::1", "--port", "1", NULL };
	const char *bad_pol[] = { "check", "--policy", bad, "--endpoint", "default/web-0",
				  "--in", "--proto", "tcp", "--remote", "10.0.2.50", "--port", "80",
				  NULL };
	const char *help[] = { "check", "--help", NULL };
	const struct {
		const char *const *args;
		int rc;
		const char *in_err;
	} cases[] = {
		{ unknown_ep, 2, "no endpoint named 'default/nobody'" },
		{ no_port, 2, "--port is required" },
		{ both_dirs, 2, "--in" },
		{ bad_proto, 2, "--proto 'bogus'" },
		{ bad_addr, 2, "--remote '10.0.2'" },
		{ icmp_v6, 2, "icmpv6" },
		{ no_v6, 2, "has no IPv6 address" },
		{ bad_pol, 2, "sg-0ccc0000000000009" },
		{ help, 0, "" },
	};

	snprintf(bad, sizeof(bad), "%s", sgt_fixture("replay/bad"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL, *err = NULL;
		int rc = run_cli(cases[i].args, &out, &err);

		if (rc != cases[i].rc || !strstr(err, cases[i].in_err))
			fprintf(stderr, "\ncase %zu: exit %d (want %d), stderr '%s' (want '%s')\n",
				i, rc, cases[i].rc, err, cases[i].in_err);
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].in_err));
		if (cases[i].rc == 2)
			CU_ASSERT_STRING_EQUAL(out, "");
		free(out);
		free(err);
	}
}

/* Without root the programs cannot be loaded: exit 2 with the cause. */
static void test_check_not_root(void)
{
	const char *args[] = { "check", "--policy", policy_dir(), "--endpoint", "default/web-0",
			       "--in", "--proto", "tcp", "--remote", "10.0.2.50", "--port", "80",
			       NULL };
	char *out = NULL, *err = NULL;
	int rc;

	CU_ASSERT_EQUAL_FATAL(geteuid(), 0);
	rc = run_cli_as(65534, args, &out, &err);
	CU_ASSERT_EQUAL(rc, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "needs root"));
	free(out);
	free(err);
}

static CU_TestInfo check_tests[] = {
	{ "allow-rule", test_check_allow_rule },
	{ "other-allows", test_check_other_allows },
	{ "deny", test_check_deny },
	{ "errors", test_check_errors },
	{ "not-root", test_check_not_root },
	CU_TEST_INFO_NULL,
};
SGT_SUITE("replay-check", replay_init, replay_clean, check_tests);
