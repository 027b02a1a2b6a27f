// SPDX-License-Identifier: BSD-2-Clause
/* Capture reading for `sgbpf replay`; see pcapio.h. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sgbpf/layout.h>

#include "pcapio.h"

/* LINKTYPE_RAW (101) is what pcap files store; libpcap maps it to DLT_RAW
 * when reading, but pcapng readers of other origins may hand it through. */
#define SG_LINKTYPE_RAW 101

#define ETH_P_8021Q  0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_IPV4   0x0800
#define ETH_P_IPV6   0x86dd
#define ETH_P_ARP    0x0806

struct sg_pcap {
	pcap_t *pc;
	int dlt;
	size_t index;
	char *path;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool is_tag(uint16_t et)
{
	return et == ETH_P_8021Q || et == ETH_P_8021AD;
}

bool sg_pcap_linktype_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_RAW:
	case SG_LINKTYPE_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
		return true;
	default:
		return false;
	}
}

/* Fill the tag fields of view from the EtherType and bytes after the MACs. */
static int decode_tags(struct sg_l2_view *v, uint16_t et, const uint8_t *p, size_t len)
{
	if (is_tag(et)) {
		if (len < 4)
			return -EINVAL;
		v->has_outer_tag = true;
		v->outer_vlan = rd16(p) & 0xfff;
		et = rd16(p + 2);
		p += 4;
		len -= 4;
	}
	v->ethertype = et;
	v->payload = p;
	v->payload_len = len;
	/* Inner tags (802.1ad + 802.1Q) before the L3 header. */
	for (int i = 0; i < SGBPF_MAX_VLAN_TAGS && is_tag(et); i++) {
		if (len < 4)
			return -EINVAL;
		et = rd16(p + 2);
		p += 4;
		len -= 4;
	}
	v->l3_type = et;
	v->l3 = p;
	v->l3_len = len;
	return 0;
}

static int decode_raw_ip(struct sg_l2_view *v, const uint8_t *data, size_t len)
{
	uint16_t et;

	if (len < 1)
		return -EINVAL;
	switch (data[0] >> 4) {
	case 4:
		et = ETH_P_IPV4;
		break;
	case 6:
		et = ETH_P_IPV6;
		break;
	default:
		return -EINVAL;
	}
	return decode_tags(v, et, data, len);
}

int sg_pcap_decode(int dlt, const uint8_t *data, size_t len, struct sg_l2_view *v)
{
	memset(v, 0, sizeof(*v));
	switch (dlt) {
	case DLT_EN10MB:
		if (len < 14)
			return -EINVAL;
		v->has_macs = true;
		memcpy(v->dst_mac, data, 6);
		memcpy(v->src_mac, data + 6, 6);
		return decode_tags(v, rd16(data + 12), data + 14, len - 14);
	case DLT_RAW:
	case SG_LINKTYPE_RAW:
		return decode_raw_ip(v, data, len);
	case DLT_IPV4:
		if (len < 1 || data[0] >> 4 != 4)
			return -EINVAL;
		return decode_tags(v, ETH_P_IPV4, data, len);
	case DLT_IPV6:
		if (len < 1 || data[0] >> 4 != 6)
			return -EINVAL;
		return decode_tags(v, ETH_P_IPV6, data, len);
	case DLT_LINUX_SLL:
		/* type(2) arphrd(2) halen(2) addr(8) protocol(2) */
		if (len < 16)
			return -EINVAL;
		return decode_tags(v, rd16(data + 14), data + 16, len - 16);
	case DLT_LINUX_SLL2:
		/* protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8) */
		if (len < 20)
			return -EINVAL;
		return decode_tags(v, rd16(data), data + 20, len - 20);
	default:
		return -EINVAL;
	}
}

int sg_l2_view_addrs(const struct sg_l2_view *v, struct sg_addr *src, struct sg_addr *dst)
{
	const uint8_t *p = v->l3;

	memset(src, 0, sizeof(*src));
	memset(dst, 0, sizeof(*dst));
	switch (v->l3_type) {
	case ETH_P_IPV4:
		if (v->l3_len < 20)
			return -EINVAL;
		src->family = dst->family = SGBPF_AF_V4;
		memcpy(src->addr, p + 12, 4);
		memcpy(dst->addr, p + 16, 4);
		return 0;
	case ETH_P_IPV6:
		if (v->l3_len < 40)
			return -EINVAL;
		src->family = dst->family = SGBPF_AF_V6;
		memcpy(src->addr, p + 8, 16);
		memcpy(dst->addr, p + 24, 16);
		return 0;
	case ETH_P_ARP:
		/* Ethernet/IPv4 ARP only: sender at 14, target at 24. */
		if (v->l3_len < 28 || rd16(p + 2) != ETH_P_IPV4 || p[4] != 6 || p[5] != 4)
			return -EINVAL;
		src->family = dst->family = SGBPF_AF_V4;
		memcpy(src->addr, p + 14, 4);
		memcpy(dst->addr, p + 24, 4);
		return 0;
	default:
		return -ENOENT;
	}
}

int sg_pcap_open(const char *path, struct sg_pcap **out, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct sg_pcap *p;
	pcap_t *pc;
	int dlt;

	pc = pcap_open_offline(path, ebuf);
	if (!pc) {
		snprintf(err, errlen, "%s: cannot read capture: %s", path, ebuf);
		return -EIO;
	}
	dlt = pcap_datalink(pc);
	if (!sg_pcap_linktype_supported(dlt)) {
		const char *name = pcap_datalink_val_to_name(dlt);

		snprintf(err, errlen,
			 "%s: link type %d (%s) is not supported; replay reads Ethernet, "
			 "raw IP and Linux cooked (SLL) captures", path, dlt, name ? name : "unknown");
		pcap_close(pc);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(path))) {
		free(p);
		pcap_close(pc);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	p->pc = pc;
	p->dlt = dlt;
	*out = p;
	return 0;
}

int sg_pcap_next(struct sg_pcap *p, struct sg_pcap_pkt *pkt, char *err, size_t errlen)
{
	struct pcap_pkthdr *hdr;
	const u_char *data;
	int rc;

	rc = pcap_next_ex(p->pc, &hdr, &data);
	if (rc == PCAP_ERROR_BREAK)
		return 0;
	if (rc != 1) {
		snprintf(err, errlen, "%s: reading packet %zu: %s", p->path, p->index + 1,
			 pcap_geterr(p->pc));
		return -EIO;
	}
	memset(pkt, 0, sizeof(*pkt));
	pkt->index = ++p->index;
	pkt->ts_us = (uint64_t)hdr->ts.tv_sec * 1000000u + (uint64_t)hdr->ts.tv_usec;
	pkt->caplen = hdr->caplen;
	pkt->wirelen = hdr->len;
	pkt->data = data;
	pkt->decode_err = sg_pcap_decode(p->dlt, data, hdr->caplen, &pkt->view);
	return 1;
}

int sg_pcap_linktype(const struct sg_pcap *p)
{
	return p->dlt;
}

void sg_pcap_close(struct sg_pcap *p)
{
	if (!p)
		return;
	pcap_close(p->pc);
	free(p->path);
	free(p);
}
