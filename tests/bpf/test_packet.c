// SPDX-License-Identifier: BSD-2-Clause
/*
 * The frame builder (user/lib/packet.c), checked byte by byte against the
 * wire formats: every length field, the header chain, and every checksum
 * verified by summing the covered bytes (a correct checksum makes the
 * one's-complement sum 0xffff).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sgbpf/layout.h>

#include "packet.h"
#include "../lib/testlib.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Sum of L4 bytes plus pseudo-header; 0xffff when the checksum is right. */
static uint16_t l4_sum(int family, const uint8_t *ip, const uint8_t *l4, size_t len, uint8_t proto)
{
	uint32_t sum = 0;

	if (family == SGBPF_AF_V4) {
		sum = sum16(sum, ip + 12, 8);
		sum += proto + (uint32_t)len;
	} else {
		sum = sum16(sum, ip + 8, 32);
		sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + proto;
	}
	return fold(sum16(sum, l4, len));
}

static void test_v4_tcp_tagged(void)
{
	struct sg_pkt_spec s;
	uint8_t b[SG_PKT_MAX];
	int n;

	sg_pkt_init(&s, SGBPF_AF_V4, 6);
	CU_ASSERT_EQUAL(sg_pkt_set_addrs(&s, "10.1.2.3", "10.0.0.5"), 0);
	s.vlan_id = 7;
	s.sport = 40000;
	s.dport = 80;
	s.tcp_flags = SG_TCP_SYN;
	s.seq = 0x01020304;
	s.payload_len = 5;
	n = sg_pkt_build(&s, b, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(n, 18 + 20 + 20 + 5);
	CU_ASSERT_EQUAL(rd16(b + 12), 0x8100);
	CU_ASSERT_EQUAL(rd16(b + 14), 7);
	CU_ASSERT_EQUAL(rd16(b + 16), 0x0800);
	CU_ASSERT_EQUAL(b[6] & 1, 0); /* unicast source MAC */
	const uint8_t *ip = b + 18, *tcp = ip + 20;
	CU_ASSERT_EQUAL(ip[0], 0x45);
	CU_ASSERT_EQUAL(rd16(ip + 2), 45);
	CU_ASSERT_EQUAL(ip[8], 64);
	CU_ASSERT_EQUAL(ip[9], 6);
	CU_ASSERT_EQUAL(rd16(ip + 6), 0);
	CU_ASSERT_EQUAL(fold(sum16(0, ip, 20)), 0xffff);
	CU_ASSERT(memcmp(ip + 12, (uint8_t[]){ 10, 1, 2, 3, 10, 0, 0, 5 }, 8) == 0);
	CU_ASSERT_EQUAL(rd16(tcp), 40000);
	CU_ASSERT_EQUAL(rd16(tcp + 2), 80);
	CU_ASSERT_EQUAL(rd32(tcp + 4), 0x01020304);
	CU_ASSERT_EQUAL(tcp[12] >> 4, 5);
	CU_ASSERT_EQUAL(tcp[13], SG_TCP_SYN);
	CU_ASSERT_EQUAL(l4_sum(SGBPF_AF_V4, ip, tcp, 25, 6), 0xffff);
}

static void test_v6_udp_untagged(void)
{
	struct sg_pkt_spec s;
	uint8_t b[SG_PKT_MAX];
	int n;

	sg_pkt_init(&s, SGBPF_AF_V6, 17);
	CU_ASSERT_EQUAL(sg_pkt_set_addrs(&s, "2001:db8::1", "fd00::2"), 0);
	s.sport = 53;
	s.dport = 33333;
	s.payload_len = 3;
	s.ttl = 9;
	n = sg_pkt_build(&s, b, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(n, 14 + 40 + 8 + 3);
	CU_ASSERT_EQUAL(rd16(b + 12), 0x86dd);
	const uint8_t *ip = b + 14, *udp = ip + 40;
	CU_ASSERT_EQUAL(ip[0] >> 4, 6);
	CU_ASSERT_EQUAL(rd16(ip + 4), 11);
	CU_ASSERT_EQUAL(ip[6], 17);
	CU_ASSERT_EQUAL(ip[7], 9);
	CU_ASSERT_EQUAL(ip[8], 0x20);
	CU_ASSERT_EQUAL(ip[39], 2);
	CU_ASSERT_EQUAL(rd16(udp), 53);
	CU_ASSERT_EQUAL(rd16(udp + 2), 33333);
	CU_ASSERT_EQUAL(rd16(udp + 4), 11);
	CU_ASSERT_NOT_EQUAL(rd16(udp + 6), 0);
	CU_ASSERT_EQUAL(l4_sum(SGBPF_AF_V6, ip, udp, 11, 17), 0xffff);
}

static void test_icmp_echo_both_families(void)
{
	struct sg_pkt_spec s;
	uint8_t b[SG_PKT_MAX];
	int n;

	sg_pkt_init(&s, SGBPF_AF_V4, 1);
	sg_pkt_set_addrs(&s, "10.0.0.1", "10.0.0.2");
	s.icmp_type = 8;
	s.icmp_id = 0x1234;
	s.icmp_seq = 7;
	s.payload_len = 1; /* odd length exercises the checksum tail */
	n = sg_pkt_build(&s, b, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(n, 14 + 20 + 8 + 1);
	CU_ASSERT_EQUAL(b[14 + 20], 8);
	CU_ASSERT_EQUAL(rd16(b + 14 + 24), 0x1234);
	CU_ASSERT_EQUAL(rd16(b + 14 + 26), 7);
	CU_ASSERT_EQUAL(fold(sum16(0, b + 34, 9)), 0xffff);

	sg_pkt_init(&s, SGBPF_AF_V6, 58);
	sg_pkt_set_addrs(&s, "fd00::1", "fd00::2");
	s.icmp_type = 129;
	s.icmp_id = 99;
	n = sg_pkt_build(&s, b, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(n, 14 + 40 + 8);
	CU_ASSERT_EQUAL(b[54], 129);
	CU_ASSERT_EQUAL(rd16(b + 58), 99);
	CU_ASSERT_EQUAL(l4_sum(SGBPF_AF_V6, b + 14, b + 54, 8, 58), 0xffff);
}

static void test_other_protocol_has_no_l4_header(void)
{
	struct sg_pkt_spec s;
	uint8_t b[SG_PKT_MAX];

	sg_pkt_init(&s, SGBPF_AF_V4, 50);
	sg_pkt_set_addrs(&s, "10.0.0.1", "10.0.0.2");
	s.payload_len = 16;
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, sizeof(b)), 14 + 20 + 16);
	CU_ASSERT_EQUAL(b[23], 50);
	CU_ASSERT_EQUAL(rd16(b + 16), 36);
}

static void test_v4_fragments(void)
{
	struct sg_pkt_spec s;
	uint8_t b[SG_PKT_MAX];
	int n;

	sg_pkt_init(&s, SGBPF_AF_V4, 17);
	sg_pkt_set_addrs(&s, "10.0.0.1", "10.0.0.2");
	s.sport = 1;
	s.dport = 2;
	s.ip_id = 0xbeef;
	s.more_frags = true;
	s.payload_len = 24;
	n = sg_pkt_build(&s, b, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(n, 14 + 20 + 8 + 24);
	CU_ASSERT_EQUAL(rd16(b + 18), 0xbeef);
	CU_ASSERT_EQUAL(rd16(b + 20), 0x2000);
	CU_ASSERT_EQUAL(rd16(b + 34 + 2), 2);

	s.more_frags = false;
	s.frag_offset = 32;
	n = sg_pkt_build(&s, b, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(n, 14 + 20 + 24); /* no UDP header */
	CU_ASSERT_EQUAL(rd16(b + 20), 4);
	CU_ASSERT_EQUAL(fold(sum16(0, b + 14, 20)), 0xffff);

	s.frag_offset = 12; /* not a multiple of 8 */
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, sizeof(b)), -EINVAL);
}

static void test_v6_ext_and_fragment_chain(void)
{
	struct sg_pkt_spec s;
	uint8_t b[SG_PKT_MAX];
	int n;

	sg_pkt_init(&s, SGBPF_AF_V6, 6);
	sg_pkt_set_addrs(&s, "fd00::1", "fd00::2");
	s.ext_hdrs[0] = 0;
	s.ext_hdrs[1] = 43;
	s.ext_hdrs[2] = 60;
	s.n_ext_hdrs = 3;
	s.more_frags = true;
	s.ip_id = 0xa1b2c3d4;
	s.sport = 5;
	s.dport = 443;
	s.tcp_flags = SG_TCP_SYN;
	n = sg_pkt_build(&s, b, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(n, 14 + 40 + 4 * 8 + 20);
	const uint8_t *ip = b + 14;
	CU_ASSERT_EQUAL(rd16(ip + 4), 4 * 8 + 20);
	CU_ASSERT_EQUAL(ip[6], 0);
	CU_ASSERT_EQUAL(ip[40], 43);
	CU_ASSERT_EQUAL(ip[41], 0);
	CU_ASSERT_EQUAL(ip[48], 60);
	CU_ASSERT_EQUAL(ip[56], 44);
	CU_ASSERT_EQUAL(ip[64], 6);                 /* fragment header: next = TCP */
	CU_ASSERT_EQUAL(rd16(ip + 66), 1);          /* offset 0, M */
	CU_ASSERT_EQUAL(rd32(ip + 68), 0xa1b2c3d4);
	CU_ASSERT_EQUAL(rd16(ip + 72 + 2), 443);
	CU_ASSERT_EQUAL(l4_sum(SGBPF_AF_V6, ip, ip + 72, 20, 6), 0xffff);

	s.n_ext_hdrs = 0;
	s.more_frags = false;
	s.frag_offset = 1280;
	s.payload_len = 8;
	n = sg_pkt_build(&s, b, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(n, 14 + 40 + 8 + 8);
	CU_ASSERT_EQUAL(b[14 + 6], 44);
	CU_ASSERT_EQUAL(rd16(b + 54 + 2), 1280);

	/* IPv4 has no extension headers. */
	sg_pkt_init(&s, SGBPF_AF_V4, 6);
	s.n_ext_hdrs = 1;
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, sizeof(b)), -EINVAL);
	sg_pkt_init(&s, SGBPF_AF_V6, 6);
	s.n_ext_hdrs = 17;
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, sizeof(b)), -EINVAL);
}

static void test_icmp_error_quotes_inner(void)
{
	struct sg_pkt_spec in, s;
	uint8_t b[SG_PKT_MAX], ib[SG_PKT_MAX];
	int n, ni;

	sg_pkt_init(&in, SGBPF_AF_V4, 6);
	sg_pkt_set_addrs(&in, "10.0.0.5", "192.0.2.9");
	in.sport = 40000;
	in.dport = 443;
	in.seq = 77;
	in.tcp_flags = SG_TCP_ACK;
	in.payload_len = 1400;
	ni = sg_pkt_build(&in, ib, sizeof(ib));
	CU_ASSERT_EQUAL_FATAL(ni, 14 + 20 + 20 + 1400);

	sg_pkt_init(&s, SGBPF_AF_V4, 1);
	sg_pkt_set_addrs(&s, "198.51.100.1", "10.0.0.5");
	s.icmp_type = 3;
	s.icmp_code = 4;
	s.icmp_seq = 1300; /* next-hop MTU */
	s.inner = &in;
	s.vlan_id = 1;
	n = sg_pkt_build(&s, b, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(n, 18 + 20 + 8 + 28);
	CU_ASSERT_EQUAL(rd16(b + 38 + 6), 1300);
	CU_ASSERT(memcmp(b + 46, ib + 14, 28) == 0);
	CU_ASSERT_EQUAL(rd16(b + 46 + 2), 1440); /* inner's original total length */
	CU_ASSERT_EQUAL(fold(sum16(0, b + 38, 36)), 0xffff);

	/* ICMPv6 packet-too-big quoting an IPv6 UDP packet. */
	sg_pkt_init(&in, SGBPF_AF_V6, 17);
	sg_pkt_set_addrs(&in, "fd00::5", "2001:db8::9");
	in.sport = 1000;
	in.dport = 53;
	sg_pkt_init(&s, SGBPF_AF_V6, 58);
	sg_pkt_set_addrs(&s, "2001:db8::1", "fd00::5");
	s.icmp_type = 2;
	s.icmp_seq = 1280;
	s.inner = &in;
	n = sg_pkt_build(&s, b, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(n, 14 + 40 + 8 + 48);
	CU_ASSERT_EQUAL(b[62 + 6], 17);
	CU_ASSERT_EQUAL(rd16(b + 62 + 40 + 2), 53);
	CU_ASSERT_EQUAL(l4_sum(SGBPF_AF_V6, b + 14, b + 54, 56, 58), 0xffff);

	/* Family mismatch and inner on a non-ICMP packet are refused. */
	s.family = SGBPF_AF_V4;
	s.proto = 1;
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, sizeof(b)), -EINVAL);
	s.family = SGBPF_AF_V6;
	s.proto = 17;
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, sizeof(b)), -EINVAL);
}

static void test_errors(void)
{
	struct sg_pkt_spec s;
	uint8_t b[SG_PKT_MAX];

	sg_pkt_init(&s, SGBPF_AF_V4, 6);
	CU_ASSERT_EQUAL(sg_pkt_set_addrs(&s, "10.0.0.1", "fd00::1"), -EINVAL);
	CU_ASSERT_EQUAL(sg_pkt_set_addrs(&s, "10.0.0.256", "10.0.0.1"), -EINVAL);
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, 14 + 20 + 19), -ENOSPC);
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, 14 + 20 + 20), 54);
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, 10), -ENOSPC);
	s.payload_len = 65535;
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, sizeof(b)), -ENOSPC);
	s.payload_len = 0;
	s.vlan_id = 4096;
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, sizeof(b)), -EINVAL);
	s.vlan_id = 0;
	s.family = 7;
	CU_ASSERT_EQUAL(sg_pkt_build(&s, b, sizeof(b)), -EINVAL);
}

static CU_TestInfo packet_tests[] = {
	{ "v4_tcp_tagged", test_v4_tcp_tagged },
	{ "v6_udp_untagged", test_v6_udp_untagged },
	{ "icmp_echo_both_families", test_icmp_echo_both_families },
	{ "other_protocol_has_no_l4_header", test_other_protocol_has_no_l4_header },
	{ "v4_fragments", test_v4_fragments },
	{ "v6_ext_and_fragment_chain", test_v6_ext_and_fragment_chain },
	{ "icmp_error_quotes_inner", test_icmp_error_quotes_inner },
	{ "errors", test_errors },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-packet", NULL, NULL, packet_tests);
