/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading captures for `sgbpf replay`: pcap and pcapng files via libpcap,
 * with link types Ethernet (802.1Q / 802.1ad tags included), raw IP
 * (DLT_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6) and Linux cooked captures
 * (SLL, SLL2). Each packet is decoded to an "L2 view": the MACs when the
 * link layer has them, the outer VLAN tag, and the bytes after that tag, so
 * the offline layer can put its own tag on the frame. Addresses are read
 * here only to decide which endpoint a packet belongs to; verdicts come from
 * the BPF programs.
 */
#ifndef SGBPF_PCAPIO_H
#define SGBPF_PCAPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

/*
 * A frame as the offline layer needs it: MACs (when known), the outer
 * 802.1Q/802.1ad tag (when present) and everything after the outer tag,
 * starting with its EtherType (which may be an inner tag).
 */
struct sg_l2_view {
	bool has_macs;
	uint8_t dst_mac[6], src_mac[6];
	bool has_outer_tag;
	uint16_t outer_vlan;           /* VLAN id of the outer tag           */
	uint16_t ethertype;            /* EtherType after the outer tag      */
	const uint8_t *payload;        /* bytes after that EtherType         */
	size_t payload_len;
	/* After every tag (at most SGBPF_MAX_VLAN_TAGS + 1 are skipped). */
	uint16_t l3_type;              /* 0x0800, 0x86dd, 0x0806, ...        */
	const uint8_t *l3;
	size_t l3_len;
};

struct sg_pcap_pkt {
	size_t index;                  /* 1-based position in the file       */
	uint64_t ts_us;                /* capture time, microseconds         */
	uint32_t caplen, wirelen;
	const uint8_t *data;           /* valid until the next sg_pcap_next  */
	int decode_err;                /* 0, or -EINVAL when the link layer
					  could not be decoded (view unset)  */
	struct sg_l2_view view;
};

struct sg_pcap;

/*
 * Open a pcap or pcapng file ("-" = stdin). On failure returns -errno
 * (-EINVAL for an unsupported link type) and writes a one-line message
 * naming the file into err.
 */
int sg_pcap_open(const char *path, struct sg_pcap **out, char *err, size_t errlen);
/* Next packet: 1 when *pkt is filled, 0 at the end, -EIO on a read error
 * (message in err). */
int sg_pcap_next(struct sg_pcap *p, struct sg_pcap_pkt *pkt, char *err, size_t errlen);
int sg_pcap_linktype(const struct sg_pcap *p);
void sg_pcap_close(struct sg_pcap *p);

/* True when sg_pcap_decode understands this DLT_ value. */
bool sg_pcap_linktype_supported(int dlt);

/* Decode one captured frame of link type dlt. Returns 0 or -EINVAL when it
 * is too short for its link layer or the link type is not supported. */
int sg_pcap_decode(int dlt, const uint8_t *data, size_t len, struct sg_l2_view *view);

/*
 * Source and destination addresses of the frame: IPv4/IPv6 header, or the
 * ARP sender/target protocol addresses. Returns 0, -ENOENT for other
 * EtherTypes, -EINVAL when the header is truncated.
 */
int sg_l2_view_addrs(const struct sg_l2_view *view, struct sg_addr *src, struct sg_addr *dst);

#endif
