/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Policy lookups, all in one policy slot: addresses (source/destination
 * check, standard mode), the exempt list, and rules. A rule lookup costs one
 * LPM lookup in rule_trie and at most four in port_trie, whatever the number
 * of rules (see the layout of those tries in sgbpf/layout.h).
 */
#ifndef SGBPF_BPF_POLICY_H
#define SGBPF_BPF_POLICY_H

static __always_inline struct sgbpf_addr_val *
sg_addr_lookup(void *map, __u32 slot, __u8 family, const __u8 *addr)
{
	struct sgbpf_addr_key k;

	/* addr is a 16-byte field, zero past the family's length (sg_pkt,
	 * conntrack keys), so the key is built without a memset or branch. */
	k.slot = slot;
	k.family = family;
	k.pad[0] = k.pad[1] = k.pad[2] = 0;
	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(map, &k);
}

static __always_inline bool sg_exempt(__u32 slot, __u8 family, const __u8 *remote)
{
	struct sgbpf_exempt_key k = {};

	k.slot = slot;
	k.family = family;
	if (family == SGBPF_AF_V4) {
		k.prefixlen = SGBPF_EXEMPT_KEY_FIXED_BITS + 32;
		__builtin_memcpy(k.addr, remote, 4);
	} else {
		k.prefixlen = SGBPF_EXEMPT_KEY_FIXED_BITS + 128;
		__builtin_memcpy(k.addr, remote, 16);
	}
	return bpf_map_lookup_elem(&exempt, &k) != NULL;
}

/* Standard mode: the node itself or a pod on this node. */
static __always_inline bool sg_unmanaged(__u32 slot, __u8 family, const __u8 *remote)
{
	return sg_addr_lookup(&node_addrs, slot, family, remote) ||
	       sg_addr_lookup(&ep_addrs, slot, family, remote);
}

/*
 * Kubelet probe traffic (spec 5.3): a TCP connection the node opens from one
 * of its addresses (remote) to one of the endpoint's probe ports (local_port,
 * network order). Only the node's side decides: a pod sending from a probe
 * port opens no probe.
 */
static __always_inline bool sg_probe_flow(__u32 slot, __u32 ep_id, __u8 family,
					  const __u8 *remote, __be16 local_port)
{
	struct sgbpf_probe_key k;

	k.slot = slot;
	k.ep_id = ep_id;
	k.port = bpf_ntohs(local_port);
	k.pad = 0;
	return bpf_map_lookup_elem(&probe_ports, &k) &&
	       sg_addr_lookup(&node_addrs, slot, family, remote);
}

/*
 * The port-trie "port" of a new flow: the destination port for TCP/UDP,
 * type << 8 | code for ICMP/ICMPv6, 0 for everything else.
 */
static __always_inline __u16 sg_rule_port(__u8 family, __u8 proto, __be16 dport,
					  __u8 icmp_type, __u8 icmp_code)
{
	if (proto == SG_IPPROTO_TCP || proto == SG_IPPROTO_UDP)
		return bpf_ntohs(dport);
	if (sg_is_icmp(family, proto))
		return ((__u16)icmp_type << 8) | icmp_code;
	return 0;
}

/*
 * One port set's answer for proto/port: the protocol's block, else the "all
 * protocols" block (ANY rules are folded into the protocol's blocks where it
 * has some of its own). At most two port_trie lookups; none for
 * SGBPF_SET_NONE.
 */
static __always_inline struct sgbpf_port_val *
sg_set_lookup(__u32 slot, __u32 set_id, __u8 proto, __u16 port)
{
	struct sgbpf_port_key pk = {};
	struct sgbpf_port_val *pv;

	if (set_id == SGBPF_SET_NONE)
		return NULL;
	pk.prefixlen = SGBPF_PORT_KEY_FIXED_BITS + 16;
	pk.slot = slot;
	pk.proto = bpf_htons(proto);
	pk.set_id = bpf_htonl(set_id);
	pk.port = bpf_htons(port);
	pv = bpf_map_lookup_elem(&port_trie, &pk);
	if (pv)
		return pv;
	pk.proto = bpf_htons(SGBPF_PROTO_ANY);
	pk.port = 0;
	return bpf_map_lookup_elem(&port_trie, &pk);
}

/*
 * A rule of endpoint ep_id (direction dir) that allows proto/port from or to
 * remote: the lowest rule of the set that answered. Returns the port-trie
 * value or NULL when no rule allows it. One rule_trie lookup gives the
 * address's specific set and the (ep, dir, family)'s base set -- the rules
 * open to the whole family (/0) -- then at most four port_trie lookups.
 * With zero != NULL (a new TCP/UDP flow of an endpoint whose other direction
 * has an all-ports /0 rule) the base set goes first, so *zero tells whether
 * ANY rule allowing the packet has a /0 remote (spec 3.4: untracked).
 * Otherwise the specific set goes first (its rules are usually the narrower,
 * more telling answer); the order changes only which allowing rule is named.
 */
static __always_inline struct sgbpf_port_val *
sg_rule_lookup(__u32 slot, __u8 dir, __u8 family, __u32 ep_id, const __u8 *remote,
	       __u8 proto, __u16 port, bool *zero)
{
	struct sgbpf_rule_key rk = {};
	struct sgbpf_port_val *pv;
	struct sgbpf_rule_val *rv;
	__u32 first, second;

	rk.slot = slot;
	rk.dir = dir;
	rk.family = family;
	rk.ep_id = ep_id;  /* host order, as layout.h says */
	if (family == SGBPF_AF_V4) {
		rk.prefixlen = SGBPF_RULE_KEY_FIXED_BITS + 32;
		__builtin_memcpy(rk.addr, remote, 4);
	} else {
		rk.prefixlen = SGBPF_RULE_KEY_FIXED_BITS + 128;
		__builtin_memcpy(rk.addr, remote, 16);
	}
	rv = bpf_map_lookup_elem(&rule_trie, &rk);
	if (!rv) {
		if (zero)
			*zero = false;
		return NULL;
	}
	first = rv->set_id;
	second = rv->base_set_id;
	if (zero) {
		first = rv->base_set_id;
		second = rv->set_id;
	}
	pv = sg_set_lookup(slot, first, proto, port);
	if (!pv)
		pv = sg_set_lookup(slot, second, proto, port);
	/* base-set blocks, and only they, carry the /0 flag */
	if (zero)
		*zero = pv && (pv->flags & SGBPF_PORT_ZERO_PREFIX);
	return pv;
}

#endif /* SGBPF_BPF_POLICY_H */
