/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Building test frames: Ethernet (optionally 802.1Q-tagged), IPv4/IPv6,
 * TCP/UDP/ICMP/ICMPv6/other, fragments and ICMP errors that embed another
 * packet. Used by `sgbpf check`, the tests and the bench. Checksums are
 * filled in. This is packet *synthesis*; verdicts come only from the BPF
 * programs.
 */
#ifndef SGBPF_PACKET_H
#define SGBPF_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SG_PKT_MAX 9216

/* TCP flag bits as on the wire. */
#define SG_TCP_FIN 0x01
#define SG_TCP_SYN 0x02
#define SG_TCP_RST 0x04
#define SG_TCP_PSH 0x08
#define SG_TCP_ACK 0x10

struct sg_pkt_spec {
	uint8_t family;            /* SGBPF_AF_V4 / SGBPF_AF_V6                */
	uint8_t proto;             /* IP protocol (6, 17, 1, 58, 50, ...)       */
	uint8_t src[16], dst[16];  /* network order; IPv4 in the first 4 bytes  */
	uint16_t sport, dport;     /* host order (TCP/UDP)                      */
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id, icmp_seq;/* echo request/reply                        */
	uint16_t vlan_id;          /* 0 = untagged                              */
	uint8_t src_mac[6], dst_mac[6];
	uint16_t payload_len;      /* zero bytes of payload after L4            */
	uint8_t ttl;               /* 0 = 64                                    */
	/* Fragmentation (IPv4 header fields; IPv6 adds a Fragment header when
	 * frag_offset || more_frags). frag_offset in bytes, a multiple of 8.
	 * A non-first fragment carries payload bytes only, no L4 header. */
	uint32_t ip_id;
	uint16_t frag_offset;
	bool more_frags;
	/* IPv6 extension headers to insert before L4 (Hop-by-Hop=0, Routing=43,
	 * Destination options=60), each 8 bytes. */
	uint8_t ext_hdrs[16];
	uint8_t n_ext_hdrs;
	/* ICMP/ICMPv6 error: the embedded packet (its IP header + 8 bytes of L4). */
	const struct sg_pkt_spec *inner;
};

/* Zero a spec and set sane defaults (MACs, ttl). */
void sg_pkt_init(struct sg_pkt_spec *spec, uint8_t family, uint8_t proto);

/* Fill src/dst from text ("10.0.0.1", "2001:db8::1"). Return 0 or -EINVAL. */
int sg_pkt_set_addrs(struct sg_pkt_spec *spec, const char *src, const char *dst);

/* Build the frame into buf. Returns its length, or a negative errno
 * (-ENOSPC when cap is too small, -EINVAL for an inconsistent spec). */
int sg_pkt_build(const struct sg_pkt_spec *spec, uint8_t *buf, size_t cap);

#endif
