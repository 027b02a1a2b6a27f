/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing shared by every entry point (XDP and TC, enforcing and
 * parse-only): Ethernet, up to SGBPF_MAX_VLAN_TAGS 802.1Q/802.1ad tags,
 * IPv4 / IPv6 (extension headers bounded by SGBPF_MAX_IPV6_EXTHDR), and the
 * first bytes of TCP, UDP, ICMP and ICMPv6.
 *
 * Offsets into the packet are kept as scalars that are explicitly bounded
 * (SG_MAX_L4_OFF) so the verifier can check every variable-offset access;
 * each access is preceded by a "ptr + len > data_end" test.
 */
#ifndef SGBPF_BPF_PARSE_H
#define SGBPF_BPF_PARSE_H

#define SG_ETH_HLEN        14
#define SG_ETH_P_IP        0x0800
#define SG_ETH_P_ARP       0x0806
#define SG_ETH_P_8021Q     0x8100
#define SG_ETH_P_8021AD    0x88A8
#define SG_ETH_P_IPV6      0x86DD

#define SG_IPPROTO_HOPOPTS  0
#define SG_IPPROTO_ICMP     1
#define SG_IPPROTO_TCP      6
#define SG_IPPROTO_UDP      17
#define SG_IPPROTO_ROUTING  43
#define SG_IPPROTO_FRAGMENT 44
#define SG_IPPROTO_AH       51
#define SG_IPPROTO_ICMPV6   58
#define SG_IPPROTO_DSTOPTS  60

#define SG_TCP_FIN 0x01
#define SG_TCP_SYN 0x02
#define SG_TCP_RST 0x04
#define SG_TCP_ACK 0x10

/*
 * Largest L3 offset (Ethernet + tags) and largest L4 offset we accept. An
 * IPv6 extension header can be 2 KiB; headers beyond SG_MAX_L4_OFF bytes
 * are refused as MALFORMED (fail closed) rather than read.
 */
#define SG_MAX_L4_OFF      1024

enum sg_parse_status {
	SG_PARSE_IP = 0,           /* IPv4/IPv6 parsed                       */
	SG_PARSE_ARP,
	SG_PARSE_NOT_IP,           /* other ethertype                        */
	SG_PARSE_MALFORMED,        /* truncated or inconsistent              */
	SG_PARSE_EXTHDR_LIMIT,     /* IPv6 extension chain beyond the bound  */
};

enum sg_frag_kind {
	SG_FRAG_NONE = 0,
	SG_FRAG_FIRST,             /* offset 0, more fragments follow        */
	SG_FRAG_LATER,             /* offset != 0: no L4 header              */
};

struct sg_pkt {
	/* Addresses first, and the struct 8-byte aligned (below), so building
	 * keys from them copies whole words (sg_addr_copy) safely. */
	__u8  src[16];             /* IPv4 in the first 4 bytes, rest zero   */
	__u8  dst[16];
	__u32 frag_id;             /* IPv4 id or IPv6 fragment id            */
	__u16 vlan_id;             /* outer in-packet tag's VID, 0 untagged  */
	__u8  status;              /* enum sg_parse_status                   */
	__u8  family;              /* enum sgbpf_family                      */
	__u8  proto;               /* IP protocol (upper layer)              */
	__u8  has_l4;              /* L4 header present and parsed           */
	__u8  frag;                /* enum sg_frag_kind                      */
	__u8  tcp_flags;
	__u8  icmp_type;
	__u8  icmp_code;
	__be16 sport;              /* TCP/UDP                                */
	__be16 dport;
	__be16 icmp_id;            /* ICMP/ICMPv6 echo identifier            */
	__u8  eth_src[6];
	/* ICMP errors: the packet they embed (its IP header and the first
	 * 8 bytes of its L4 header), when both are present and readable. */
	__u8  inner_ok;
	__u8  inner_proto;
	__be16 inner_sport;        /* TCP/UDP ports; ICMP echo: id in sport  */
	__be16 inner_dport;
	__u8  inner_icmp_type;
	__u8  l2_bad;              /* Ethernet header or a VLAN tag cut short */
	__u8  inner_src[16];
	__u8  inner_dst[16];
	__u8  hop_limit;           /* IPv4 TTL / IPv6 hop limit (ND: 255)    */
	__u8  pad;
	__u16 tcp_seg_len;         /* sequence space used: payload+SYN+FIN,
				    * capped at 65535 (RST check: +-64 KiB) */
	__u32 tcp_seq;             /* TCP: host order                        */
	__u32 tcp_ack;
} __attribute__((aligned(8)));

static __always_inline bool sg_is_ipv6_ext(__u8 nh)
{
	return nh == SG_IPPROTO_HOPOPTS || nh == SG_IPPROTO_ROUTING ||
	       nh == SG_IPPROTO_FRAGMENT || nh == SG_IPPROTO_DSTOPTS ||
	       nh == SG_IPPROTO_AH;
}

static __always_inline bool sg_is_icmp(__u8 family, __u8 proto)
{
	return (family == SGBPF_AF_V4 && proto == SG_IPPROTO_ICMP) ||
	       (family == SGBPF_AF_V6 && proto == SG_IPPROTO_ICMPV6);
}

/* ICMP errors (v4 3,4,5,11,12; v6 1,2,3,4): they embed the packet they are about. */
static __always_inline bool sg_icmp_is_error(__u8 family, __u8 type)
{
	if (family == SGBPF_AF_V4)
		return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/*
 * The packet an ICMP error embeds, right after the 8-byte ICMP header at
 * off. Not finding it is not an error: the ICMP packet is then judged like
 * any other, only relatedness can't be established.
 */
static __always_inline void sg_parse_icmp_inner(void *data, void *data_end, __u32 off,
						struct sg_pkt *p)
{
	__u32 l4off;
	__u8 *l4;

	if (off > SG_MAX_L4_OFF)
		return;
	if (p->family == SGBPF_AF_V4) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > data_end)
			return;
		/* A non-first embedded fragment has no L4 header. */
		if (ip->ihl < 5 || (ip->frag_off & bpf_htons(0x1fff)))
			return;
		p->inner_proto = ip->protocol;
		__builtin_memcpy(p->inner_src, &ip->saddr, 4);
		__builtin_memcpy(p->inner_dst, &ip->daddr, 4);
		l4off = off + ip->ihl * 4;
	} else {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > data_end)
			return;
		/* Embedded extension headers are not walked. */
		p->inner_proto = ip6->nexthdr;
		__builtin_memcpy(p->inner_src, &ip6->saddr, 16);
		__builtin_memcpy(p->inner_dst, &ip6->daddr, 16);
		l4off = off + sizeof(*ip6);
	}
	l4 = data + l4off;
	if ((void *)(l4 + 8) > data_end)
		return;
	if (sg_is_icmp(p->family, p->inner_proto)) {
		p->inner_icmp_type = l4[0];
		p->inner_sport = *(__be16 *)(l4 + 4);
	} else if (p->inner_proto == SG_IPPROTO_TCP || p->inner_proto == SG_IPPROTO_UDP) {
		p->inner_sport = *(__be16 *)l4;
		p->inner_dport = *(__be16 *)(l4 + 2);
	}
	p->inner_ok = 1;
}

/* L4: the fixed bytes we need of TCP, UDP, ICMP, ICMPv6. Others: nothing.
 * l3_end: where the IP packet ends (Ethernet padding may follow). */
static __always_inline int sg_parse_l4(void *data, void *data_end, __u32 off,
				       __u32 l3_end, struct sg_pkt *p)
{
	__u32 need = 0;
	__u8 *l4;

	if (off > SG_MAX_L4_OFF)
		return SG_PARSE_MALFORMED;
	l4 = data + off;
	if (p->proto == SG_IPPROTO_TCP)
		need = sizeof(struct tcphdr);
	else if (p->proto == SG_IPPROTO_UDP || sg_is_icmp(p->family, p->proto))
		need = 8;
	if (off + need > l3_end)
		return SG_PARSE_MALFORMED;

	if (p->proto == SG_IPPROTO_TCP) {
		struct tcphdr *th = (void *)l4;

		if ((void *)(th + 1) > data_end)
			return SG_PARSE_MALFORMED;
		if (th->doff < 5)
			return SG_PARSE_MALFORMED;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = l4[13];
		p->tcp_seq = bpf_ntohl(th->seq);
		p->tcp_ack = bpf_ntohl(th->ack_seq);
		/* off + doff * 4 <= l3_end is not guaranteed by a hostile
		 * header: clamp the payload at 0. */
		need = th->doff * 4;
		need = off + need < l3_end ? l3_end - off - need : 0;
		need += (p->tcp_flags & SG_TCP_SYN ? 1 : 0) + (p->tcp_flags & SG_TCP_FIN ? 1 : 0);
		p->tcp_seg_len = need < 0xffff ? need : 0xffff;
	} else if (p->proto == SG_IPPROTO_UDP) {
		struct udphdr *uh = (void *)l4;

		if ((void *)(uh + 1) > data_end)
			return SG_PARSE_MALFORMED;
		p->sport = uh->source;
		p->dport = uh->dest;
	} else if (sg_is_icmp(p->family, p->proto)) {
		/* type, code, checksum, then id/seq (echo) or unused/MTU (errors):
		 * 8 bytes in every case. */
		if ((void *)(l4 + 8) > data_end)
			return SG_PARSE_MALFORMED;
		p->icmp_type = l4[0];
		p->icmp_code = l4[1];
		p->icmp_id = *(__be16 *)(l4 + 4);
		if (sg_icmp_is_error(p->family, p->icmp_type))
			sg_parse_icmp_inner(data, data_end, off + 8, p);
	} else {
		return SG_PARSE_IP;
	}
	p->has_l4 = 1;
	return SG_PARSE_IP;
}

static __always_inline int sg_parse_ipv4(void *data, void *data_end, __u32 pkt_len,
					 __u32 off, struct sg_pkt *p)
{
	struct iphdr *ip = data + off;
	__u32 hlen, tot;
	__u16 frag;

	if ((void *)(ip + 1) > data_end)
		return SG_PARSE_MALFORMED;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (hlen < sizeof(*ip) || tot < hlen)
		return SG_PARSE_MALFORMED;
	/* Against the packet's length, not data_end: in TC the payload may
	 * be outside the linear area. */
	if (off + tot > pkt_len)
		return SG_PARSE_MALFORMED;

	p->family = SGBPF_AF_V4;
	p->proto = ip->protocol;
	p->hop_limit = ip->ttl;
	__builtin_memcpy(p->src, &ip->saddr, 4);
	__builtin_memcpy(p->dst, &ip->daddr, 4);

	frag = bpf_ntohs(ip->frag_off);
	if (frag & 0x1fff)
		p->frag = SG_FRAG_LATER;
	else if (frag & 0x2000)
		p->frag = SG_FRAG_FIRST;
	p->frag_id = bpf_ntohs(ip->id);
	if (p->frag == SG_FRAG_LATER)
		return SG_PARSE_IP;
	return sg_parse_l4(data, data_end, off + hlen, off + tot, p);
}

static __always_inline int sg_parse_ipv6(void *data, void *data_end, __u32 pkt_len,
					 __u32 off, struct sg_pkt *p)
{
	struct ipv6hdr *ip6 = data + off;
	__u32 l3_end;
	__u8 nh;
	int i;

	if ((void *)(ip6 + 1) > data_end)
		return SG_PARSE_MALFORMED;
	l3_end = off + sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	if (l3_end > pkt_len)
		return SG_PARSE_MALFORMED;

	p->family = SGBPF_AF_V6;
	p->hop_limit = ip6->hop_limit;
	__builtin_memcpy(p->src, &ip6->saddr, 16);
	__builtin_memcpy(p->dst, &ip6->daddr, 16);
	nh = ip6->nexthdr;
	off += sizeof(*ip6);

	/* Unrolled: the verifier needs a constant trip count, and each step
	 * re-checks off against SG_MAX_L4_OFF so the next access stays a
	 * bounded variable offset. */
#pragma unroll
	for (i = 0; i < SGBPF_MAX_IPV6_EXTHDR; i++) {
		__u8 *h;

		if (!sg_is_ipv6_ext(nh))
			break;
		if (off > SG_MAX_L4_OFF)
			return SG_PARSE_MALFORMED;
		h = data + off;
		if ((void *)(h + 8) > data_end)
			return SG_PARSE_MALFORMED;
		if (nh == SG_IPPROTO_FRAGMENT) {
			__u16 fo = bpf_ntohs(*(__be16 *)(h + 2));

			p->frag_id = bpf_ntohl(*(__be32 *)(h + 4));
			if (fo & 0xfff8)
				p->frag = SG_FRAG_LATER;
			else if (fo & 1)
				p->frag = SG_FRAG_FIRST;
			nh = h[0];
			off += 8;
			/* What follows a non-first fragment header is payload:
			 * nh names the upper layer, there is nothing to walk. */
			if (p->frag == SG_FRAG_LATER)
				break;
		} else if (nh == SG_IPPROTO_AH) {
			nh = h[0];
			off += ((__u32)h[1] + 2) * 4;
		} else {
			nh = h[0];
			off += ((__u32)h[1] + 1) * 8;
		}
	}
	p->proto = nh;
	if (p->frag == SG_FRAG_LATER)
		return SG_PARSE_IP;
	if (sg_is_ipv6_ext(nh))
		return SG_PARSE_EXTHDR_LIMIT;
	return sg_parse_l4(data, data_end, off, l3_end, p);
}

/* Fills *p (which must be zeroed) and sets p->status. pkt_len: the whole
 * packet's length (data_end may end earlier: a TC skb's linear area). */
static __always_inline void sg_parse(void *data, void *data_end, __u32 pkt_len,
				     struct sg_pkt *p)
{
	struct ethhdr *eth = data;
	__u32 off = SG_ETH_HLEN;
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > data_end) {
		p->status = SG_PARSE_MALFORMED;
		p->l2_bad = 1;
		return;
	}
	__builtin_memcpy(p->eth_src, eth->h_source, 6);
	proto = bpf_ntohs(eth->h_proto);

#pragma unroll
	for (i = 0; i < SGBPF_MAX_VLAN_TAGS; i++) {
		__u8 *tag;

		if (proto != SG_ETH_P_8021Q && proto != SG_ETH_P_8021AD)
			break;
		tag = data + off;
		if ((void *)(tag + 4) > data_end) {
			p->status = SG_PARSE_MALFORMED;
			p->l2_bad = 1;
			return;
		}
		if (i == 0)
			p->vlan_id = bpf_ntohs(*(__be16 *)tag) & 0x0fff;
		proto = bpf_ntohs(*(__be16 *)(tag + 2));
		off += 4;
	}

	switch (proto) {
	case SG_ETH_P_IP:
		p->status = sg_parse_ipv4(data, data_end, pkt_len, off, p);
		break;
	case SG_ETH_P_IPV6:
		p->status = sg_parse_ipv6(data, data_end, pkt_len, off, p);
		break;
	case SG_ETH_P_ARP:
		p->status = SG_PARSE_ARP;
		break;
	case SG_ETH_P_8021Q:
	case SG_ETH_P_8021AD:
		/* More tags than we walk: refuse rather than let an IP packet
		 * hide behind a third tag as "not IP". */
		p->status = SG_PARSE_MALFORMED;
		break;
	default:
		p->status = SG_PARSE_NOT_IP;
		break;
	}
}

#endif /* SGBPF_BPF_PARSE_H */
