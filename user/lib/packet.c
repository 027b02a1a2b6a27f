// SPDX-License-Identifier: BSD-2-Clause
/*
 * Test-frame synthesis (see packet.h). Frames are built front to back into
 * the caller's buffer; every length and checksum field is computed from what
 * was actually written, so a frame is always self-consistent unless the spec
 * asks for something the wire format can't express (-EINVAL).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <sgbpf/layout.h>

#include "packet.h"

#define ETH_HLEN_       14
#define VLAN_HLEN_      4
#define IPV4_HLEN_      20
#define IPV6_HLEN_      40
#define IPV6_EXT_LEN_   8
#define TCP_HLEN_       20
#define UDP_HLEN_       8
#define ICMP_HLEN_      8
/* Depth of nested ICMP errors; one level is what real stacks emit. */
#define INNER_DEPTH_MAX 2

static const uint8_t default_src_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t default_dst_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

void sg_pkt_init(struct sg_pkt_spec *spec, uint8_t family, uint8_t proto)
{
	memset(spec, 0, sizeof(*spec));
	spec->family = family;
	spec->proto = proto;
	spec->ttl = 64;
	memcpy(spec->src_mac, default_src_mac, 6);
	memcpy(spec->dst_mac, default_dst_mac, 6);
}

int sg_pkt_set_addrs(struct sg_pkt_spec *spec, const char *src, const char *dst)
{
	int af = spec->family == SGBPF_AF_V6 ? AF_INET6 : AF_INET;
	uint8_t s[16] = { 0 }, d[16] = { 0 };

	if (!src || !dst || inet_pton(af, src, s) != 1 || inet_pton(af, dst, d) != 1)
		return -EINVAL;
	memcpy(spec->src, s, 16);
	memcpy(spec->dst, d, 16);
	return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* One's-complement sum of big-endian 16-bit words, unfolded. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pseudo_sum(const struct sg_pkt_spec *s, uint32_t l4_len)
{
	uint8_t tail[8] = { 0 };
	uint32_t sum;

	if (s->family == SGBPF_AF_V4) {
		sum = csum_add(0, s->src, 4);
		sum = csum_add(sum, s->dst, 4);
		tail[1] = s->proto;
		put16(tail + 2, (uint16_t)l4_len);
		return csum_add(sum, tail, 4);
	}
	sum = csum_add(0, s->src, 16);
	sum = csum_add(sum, s->dst, 16);
	put32(tail, l4_len);
	tail[7] = s->proto;
	return csum_add(sum, tail, 8);
}

static bool is_first_fragment(const struct sg_pkt_spec *s)
{
	return s->frag_offset == 0;
}

static bool is_fragment(const struct sg_pkt_spec *s)
{
	return s->frag_offset || s->more_frags;
}

static int build_ip(const struct sg_pkt_spec *s, uint8_t *buf, size_t cap, int depth);

/* Length of the L4 header we emit for a first fragment / whole packet. */
static size_t l4_hdr_len(const struct sg_pkt_spec *s)
{
	switch (s->proto) {
	case 6:
		return TCP_HLEN_;
	case 17:
		return UDP_HLEN_;
	case 1:
	case 58:
		return ICMP_HLEN_;
	default:
		/* Other protocols (ESP, SCTP, ...) are matched on addresses
		 * and protocol only, so they carry payload bytes alone. */
		return 0;
	}
}

/*
 * Write the L4 part (header, quoted inner packet, payload) at p; returns its
 * length or a negative errno. The checksum is filled in afterwards by the
 * caller, which knows the pseudo-header.
 */
static int build_l4(const struct sg_pkt_spec *s, uint8_t *p, size_t cap, int depth)
{
	size_t hlen = is_first_fragment(s) ? l4_hdr_len(s) : 0;
	size_t len = hlen;
	int n;

	if (hlen > cap)
		return -ENOSPC;
	memset(p, 0, hlen);
	if (hlen) {
		switch (s->proto) {
		case 6:
			put16(p, s->sport);
			put16(p + 2, s->dport);
			put32(p + 4, s->seq);
			put32(p + 8, s->ack);
			p[12] = (TCP_HLEN_ / 4) << 4;
			p[13] = s->tcp_flags;
			put16(p + 14, 65535);
			break;
		case 17:
			put16(p, s->sport);
			put16(p + 2, s->dport);
			break;
		default: /* ICMP / ICMPv6 */
			p[0] = s->icmp_type;
			p[1] = s->icmp_code;
			/* Echo id/seq; for errors the caller may put e.g. the
			 * next-hop MTU (frag-needed) in icmp_seq, or leave 0. */
			put16(p + 4, s->icmp_id);
			put16(p + 6, s->icmp_seq);
			break;
		}
	}
	if (s->inner) {
		uint8_t tmp[SG_PKT_MAX];
		size_t quote;

		if (!hlen || (s->proto != 1 && s->proto != 58))
			return -EINVAL;
		if (s->inner->family != s->family || depth >= INNER_DEPTH_MAX)
			return -EINVAL;
		n = build_ip(s->inner, tmp, sizeof(tmp), depth + 1);
		if (n < 0)
			return n;
		/* Quote the network header(s) and 8 bytes of L4, as routers do. */
		quote = (size_t)n;
		if (s->inner->family == SGBPF_AF_V4) {
			if (quote > IPV4_HLEN_ + 8)
				quote = IPV4_HLEN_ + 8;
		} else {
			size_t nh = IPV6_HLEN_ + (size_t)s->inner->n_ext_hdrs * IPV6_EXT_LEN_ +
				    (is_fragment(s->inner) ? IPV6_EXT_LEN_ : 0);

			if (quote > nh + 8)
				quote = nh + 8;
		}
		if (len + quote > cap)
			return -ENOSPC;
		memcpy(p + len, tmp, quote);
		len += quote;
	}
	if (len + s->payload_len > cap)
		return -ENOSPC;
	memset(p + len, 0, s->payload_len);
	len += s->payload_len;
	return (int)len;
}

static void fill_l4_csum(const struct sg_pkt_spec *s, uint8_t *p, size_t len)
{
	uint32_t sum;
	uint16_t c;

	if (!is_first_fragment(s))
		return;
	switch (s->proto) {
	case 6:
		sum = csum_add(pseudo_sum(s, (uint32_t)len), p, len);
		put16(p + 16, csum_fold(sum));
		break;
	case 17:
		put16(p + 4, (uint16_t)len);
		sum = csum_add(pseudo_sum(s, (uint32_t)len), p, len);
		c = csum_fold(sum);
		put16(p + 6, c ? c : 0xffff);
		break;
	case 1:
		put16(p + 2, csum_fold(csum_add(0, p, len)));
		break;
	case 58:
		sum = csum_add(pseudo_sum(s, (uint32_t)len), p, len);
		put16(p + 2, csum_fold(sum));
		break;
	default:
		break;
	}
}

/* Build the IP packet (no L2) into buf; returns its length or -errno. */
static int build_ip(const struct sg_pkt_spec *s, uint8_t *buf, size_t cap, int depth)
{
	size_t nh_len, off;
	uint8_t next;
	int l4;

	if (s->frag_offset % 8)
		return -EINVAL;
	if (s->family == SGBPF_AF_V4) {
		if (s->n_ext_hdrs || s->frag_offset > 0xfff8)
			return -EINVAL;
		nh_len = IPV4_HLEN_;
	} else if (s->family == SGBPF_AF_V6) {
		if (s->n_ext_hdrs > sizeof(s->ext_hdrs))
			return -EINVAL;
		nh_len = IPV6_HLEN_ + (size_t)s->n_ext_hdrs * IPV6_EXT_LEN_ +
			 (is_fragment(s) ? IPV6_EXT_LEN_ : 0);
	} else {
		return -EINVAL;
	}
	if (nh_len > cap)
		return -ENOSPC;
	l4 = build_l4(s, buf + nh_len, cap - nh_len, depth);
	if (l4 < 0)
		return l4;
	if (nh_len + (size_t)l4 > 65535 + (s->family == SGBPF_AF_V6 ? IPV6_HLEN_ : 0))
		return -EINVAL;
	fill_l4_csum(s, buf + nh_len, (size_t)l4);

	memset(buf, 0, nh_len);
	if (s->family == SGBPF_AF_V4) {
		uint16_t frag = s->frag_offset / 8 | (s->more_frags ? 0x2000 : 0);

		buf[0] = 0x45;
		put16(buf + 2, (uint16_t)(nh_len + l4));
		put16(buf + 4, (uint16_t)s->ip_id);
		put16(buf + 6, frag);
		buf[8] = s->ttl ? s->ttl : 64;
		buf[9] = s->proto;
		memcpy(buf + 12, s->src, 4);
		memcpy(buf + 16, s->dst, 4);
		put16(buf + 10, csum_fold(csum_add(0, buf, IPV4_HLEN_)));
		return (int)(nh_len + l4);
	}

	buf[0] = 0x60;
	put16(buf + 4, (uint16_t)(nh_len - IPV6_HLEN_ + l4));
	buf[7] = s->ttl ? s->ttl : 64;
	memcpy(buf + 8, s->src, 16);
	memcpy(buf + 24, s->dst, 16);
	/* Chain: header -> ext_hdrs[0] -> ... -> [Fragment] -> L4. */
	next = s->n_ext_hdrs ? s->ext_hdrs[0] : (is_fragment(s) ? 44 : s->proto);
	buf[6] = next;
	off = IPV6_HLEN_;
	for (unsigned i = 0; i < s->n_ext_hdrs; i++) {
		uint8_t *e = buf + off;
		uint8_t type = s->ext_hdrs[i];

		e[0] = i + 1 < s->n_ext_hdrs ? s->ext_hdrs[i + 1] :
		       (is_fragment(s) ? 44 : s->proto);
		e[1] = 0; /* 8 bytes (for AH too: (0 + 2) * 4) */
		if (type == 0 || type == 60) {
			e[2] = 1; /* PadN covering the remaining 4 bytes */
			e[3] = 4;
		} else if (type == 43) {
			e[2] = 0; /* routing type 0, segments left 0: ignored */
			e[3] = 0;
		}
		off += IPV6_EXT_LEN_;
	}
	if (is_fragment(s)) {
		uint8_t *f = buf + off;

		f[0] = s->proto;
		put16(f + 2, (uint16_t)(s->frag_offset | (s->more_frags ? 1 : 0)));
		put32(f + 4, s->ip_id);
	}
	return (int)(nh_len + l4);
}

int sg_pkt_build(const struct sg_pkt_spec *spec, uint8_t *buf, size_t cap)
{
	size_t l2;
	uint16_t etype;
	int n;

	if (!spec || !buf)
		return -EINVAL;
	l2 = ETH_HLEN_ + (spec->vlan_id ? VLAN_HLEN_ : 0);
	etype = spec->family == SGBPF_AF_V6 ? 0x86dd : 0x0800;
	if (spec->vlan_id > 4095)
		return -EINVAL;
	if (cap < l2)
		return -ENOSPC;
	n = build_ip(spec, buf + l2, cap - l2, 0);
	if (n < 0)
		return n;
	memcpy(buf, spec->dst_mac, 6);
	memcpy(buf + 6, spec->src_mac, 6);
	if (spec->vlan_id) {
		put16(buf + 12, 0x8100);
		put16(buf + 14, spec->vlan_id);
		put16(buf + 16, etype);
	} else {
		put16(buf + 12, etype);
	}
	return (int)(l2 + (size_t)n);
}
