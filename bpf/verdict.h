/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The core, shared by every entry point: sg_core() (inlined into each entry
 * point) parses and finds the endpoint, sg_judge() (one BPF subprogram,
 * see why above it) decides and accounts. Order per packet (task notes /
 * spec sections 2-4):
 *   parse -> interface -> policy slot (read once) -> ARP / not IP / malformed
 *   -> conntrack READ (an established flow whose entry vouches for this
 *   generation's source check stops here) -> source and destination check,
 *   endpoint policy (fail closed) and MAC (before any conntrack or fragment
 *   write; ND and on-link DHCP may use a local address the pod does not
 *   own) -> neighbour discovery (hop limit 255, on-link) -> DHCP (server on
 *   the link) -> conntrack (tracked traffic stops here) -> exempt (outbound
 *   only, tracked) / standard mode -> later fragments -> ICMP errors (outer
 *   destination = embedded source) -> rules (replies of untracked flows
 *   untracked) -> new flow (always unconfirmed, in ct_new).
 * sg_decide() only decides; sg_account() counts, remembers first-fragment
 * verdicts and emits the event, once, at the end.
 */
#ifndef SGBPF_BPF_VERDICT_H
#define SGBPF_BPF_VERDICT_H

/* sg_judge()/sg_core(): allowed, and to be steered to the node (sg_steer). */
#define SG_RET_STEER 2

/* TC: bytes made linear when the headers run past the skb's linear area. */
#define SG_PULL_MAX (SG_MAX_L4_OFF + 256)

/* (Re)load skb->data/data_end, e.g. after bpf_skb_pull_data(). The verifier
 * only accepts ctx loads at a constant offset from the ctx pointer itself;
 * barrier_var() stops clang from keeping &skb->data in another register. */
static __always_inline void sg_skb_data(struct __sk_buff *skb, void **data,
					void **data_end)
{
	barrier_var(skb);
	*data = (void *)(long)skb->data;
	barrier_var(skb);
	*data_end = (void *)(long)skb->data_end;
}

static __always_inline int sg_allow(struct sg_verdict *v, __u8 reason)
{
	v->verdict = SGBPF_VERDICT_ALLOW;
	v->reason = reason;
	return 0;
}

static __always_inline int sg_drop(struct sg_verdict *v, __u8 reason)
{
	v->verdict = SGBPF_VERDICT_DROP;
	v->reason = reason;
	return 0;
}

static __always_inline bool sg_mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] &&
	       a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

/* DHCP client <-> server: v4 68 -> 67 / 67 -> 68, v6 546 -> 547 / 547 -> 546. */
static __always_inline bool sg_is_dhcp(const struct sg_pkt *p, __u8 dir)
{
	__u16 client = p->family == SGBPF_AF_V4 ? 68 : 546;
	__u16 server = p->family == SGBPF_AF_V4 ? 67 : 547;
	__u16 sp = bpf_ntohs(p->sport), dp = bpf_ntohs(p->dport);

	if (p->proto != SG_IPPROTO_UDP || !p->has_l4)
		return false;
	if (dir == SGBPF_DIR_OUT)
		return sp == client && dp == server;
	return sp == server && dp == client;
}

static __always_inline bool sg_v6_link_local(const __u8 *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/* ff02::/16: link-scope multicast (all-nodes, all-routers, solicited-node,
 * All_DHCP_Relay_Agents_and_Servers). */
static __always_inline bool sg_v6_mcast_link(const __u8 *a)
{
	return a[0] == 0xff && a[1] == 0x02;
}

static __always_inline bool sg_addr_zero(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return (w[0] | w[1] | w[2] | w[3]) == 0;
}

/* Byte-wise: one side may be sg_pkt's unaligned inner_src. */
static __always_inline bool sg_addr_eq(const __u8 *a, const __u8 *b)
{
	__u8 d = 0;
	int i;

#pragma unroll
	for (i = 0; i < 16; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static __always_inline bool sg_v4_bcast(const __u8 *a)
{
	return a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255;
}

/* A DHCP client's address when it is not (yet) its own: the source 0.0.0.0
 * of a DISCOVER/REQUEST, the broadcast destination of an OFFER/ACK; for v6
 * its link-local address either way. local: the packet's local address. */
static __always_inline bool sg_dhcp_client_addr(__u8 family, __u8 dir, const __u8 *a)
{
	if (family == SGBPF_AF_V4)
		return dir == SGBPF_DIR_OUT ? sg_addr_zero(a) : sg_v4_bcast(a);
	return sg_v6_link_local(a);
}

/*
 * Is the DHCP exemption's other end a DHCP server (or relay) on this link?
 * v4: the client sends to the broadcast address, a node address or an
 * exempt address; servers answer from a link-local, node or exempt address.
 * v6: the client sends to ff02::1:2, servers answer from link-local. DHCP
 * to or from anywhere else is ordinary traffic, judged by the rules.
 */
static __always_inline bool sg_dhcp_peer_ok(__u32 slot, __u8 family, __u8 dir,
					    const __u8 *remote)
{
	if (family == SGBPF_AF_V6) {
		if (dir == SGBPF_DIR_IN)
			return sg_v6_link_local(remote);
		/* ff02::1:2 */
		return sg_v6_mcast_link(remote) && remote[13] == 1 && remote[15] == 2 &&
		       !(remote[2] | remote[3] | remote[4] | remote[5] | remote[6] |
			 remote[7] | remote[8] | remote[9] | remote[10] | remote[11] |
			 remote[12] | remote[14]);
	}
	if (dir == SGBPF_DIR_OUT ? sg_v4_bcast(remote) :
				   remote[0] == 169 && remote[1] == 254)
		return true;
	return sg_addr_lookup(&node_addrs, slot, family, remote) ||
	       sg_exempt(slot, family, remote);
}

/* ICMPv6 133-137: router/neighbour solicitation and advertisement, redirect. */
static __always_inline bool sg_is_nd(const struct sg_pkt *p)
{
	return p->family == SGBPF_AF_V6 && p->proto == SG_IPPROTO_ICMPV6 && p->has_l4 &&
	       p->icmp_type >= 133 && p->icmp_type <= 137;
}

/* ND's local address when the pod does not own it: its link-local address;
 * outbound also :: (RS, and NS for duplicate address detection); inbound
 * also link-scope multicast (solicited-node, all-nodes). */
static __always_inline bool sg_nd_local_ok(const struct sg_pkt *p, __u8 dir,
					   const __u8 *local)
{
	if (sg_v6_link_local(local))
		return true;
	if (dir == SGBPF_DIR_OUT)
		return (p->icmp_type == 133 || p->icmp_type == 135) && sg_addr_zero(local);
	return sg_v6_mcast_link(local);
}

/*
 * ND is not subject to rules (spec 4.2), but only real ND: hop limit 255
 * (RFC 4861: never forwarded), its other end on this link (link-local,
 * link-scope multicast, the node, or :: for DAD inbound), and no router
 * messages (RA, redirect) from a pod. Anything else would be a channel past
 * the rules.
 */
static __always_inline bool sg_nd_ok(__u32 slot, const struct sg_pkt *p, __u8 dir,
				     const __u8 *remote)
{
	if (p->hop_limit != 255)
		return false;
	if (dir == SGBPF_DIR_OUT) {
		if (p->icmp_type == 134 || p->icmp_type == 137)
			return false;
		if (sg_v6_link_local(remote) || sg_v6_mcast_link(remote))
			return true;
	} else if (sg_v6_link_local(remote) || sg_addr_zero(remote)) {
		return true;
	}
	return sg_addr_lookup(&node_addrs, slot, SGBPF_AF_V6, remote) != NULL;
}

/* Can this packet only open a flow, never answer one? A bare TCP SYN, an
 * ICMP/ICMPv6 echo request. */
static __always_inline bool sg_opens_flow(const struct sg_pkt *p)
{
	if (!p->has_l4)
		return false;
	if (p->proto == SG_IPPROTO_TCP)
		return (p->tcp_flags & (SG_TCP_SYN | SG_TCP_ACK | SG_TCP_RST)) == SG_TCP_SYN;
	return sg_is_icmp(p->family, p->proto) && sg_icmp_is_echo_request(p->family, p->icmp_type);
}

/* The port the flow's first packet was judged on (strict re-evaluation),
 * from a packet of the flow going dir: the origin's destination port. */
static __always_inline __u16 sg_origin_port(const struct sg_pkt *p, __u8 dir,
					    const struct sgbpf_ct_val *cv)
{
	if (p->proto == SG_IPPROTO_TCP || p->proto == SG_IPPROTO_UDP)
		return bpf_ntohs(cv->origin_dir == dir ? p->dport : p->sport);
	if (sg_is_icmp(p->family, p->proto))
		return (__u16)(p->family == SGBPF_AF_V4 ? SG_ICMP_ECHO_REQUEST :
							  SG_ICMPV6_ECHO_REQUEST) << 8;
	return 0;
}

/* The endpoint's settings in this slot; NULL when its policy is not in place. */
static __always_inline struct sgbpf_ep_val *sg_ep_config(__u32 slot, __u32 ep_id)
{
	struct sgbpf_ep_key ek = { .slot = slot, .ep_id = ep_id };

	return bpf_map_lookup_elem(&ep_config, &ek);
}

/*
 * Does the flow's entry prove that this packet passes the source/destination
 * check, endpoint-policy check and MAC check of the policy in force?
 *
 * Conntrack keys carry the endpoint (short-key tables: their entries do, and
 * sg_ct_get() takes only the packet's endpoint's) and its local address, so
 * an entry of ep_id with local address X stands for a packet that passed
 * ep_id's check with X. That proof is only as fresh as the policy it was made under: a
 * swap can take X from ep_id, change its MAC, or drop its policy. So an entry
 * vouches only for the generation it was checked in (checked_gen, written
 * when a packet passed the full check: sg_ct_vouch). After a swap, each flow's
 * next packet takes the full check once (and a flow of an endpoint that lost
 * the address or its policy is dropped like any spoofed packet: fail closed).
 * Generations are unique per swap (the daemon, tests and the offline layer
 * all count up); a caller reusing one would only make entries vouch across
 * that swap, i.e. the checks of the entry's creation. Entries of a removed
 * endpoint are deleted by the daemon (sgbpf_ep_forget).
 *
 * Within a generation ep_addrs and ep_config don't change, and what the
 * checks before conntrack decide is fixed by the flow's tuple (the owner of
 * its local address, DHCP ports) except the outbound source MAC, which is
 * compared here per packet.
 */
static __always_inline bool sg_ct_vouches(const struct sgbpf_ct_val *cv, __u64 gen,
					  __u8 dir, const __u8 *eth_src)
{
	if (cv->checked_gen != gen || !(cv->check_flags & SGBPF_CT_CHECKED))
		return false;
	return dir != SGBPF_DIR_OUT || !(cv->check_flags & SGBPF_CT_CHECKED_MAC) ||
	       sg_mac_eq(eth_src, cv->ep_mac);
}

/*
 * A packet of a tracked flow (cv, found under the packet's key *ck; in_est:
 * in ct_est). ep: the endpoint's settings when the packet just passed the
 * full checks (the entry then vouches for them, see sg_ct_vouches), NULL
 * when the entry already does. Returns 1 when decided, 0 when the flow is
 * over and the packet (a SYN reusing the tuple) must be judged as a new flow.
 */
static __always_inline int sg_tracked(const struct sg_pkt *p, struct sg_verdict *v,
				      const struct sgbpf_slot_config *cfg,
				      const struct sg_ct_key *ck, struct sgbpf_ct_val *cv,
				      bool in_est, __u64 now, const struct sgbpf_ep_val *ep)
{
	__u32 slot = v->slot, flags = cfg->flags;
	__u8 dir = v->dir, state;
	const __u8 *remote = dir == SGBPF_DIR_OUT ? p->dst : p->src;
	int res;

	v->rule_id = cv->rule_id;
	if (unlikely(flags & SGBPF_CFG_STRICT_REEVAL) &&
	    !sg_rule_lookup(slot, cv->origin_dir & 1, p->family, v->ep_id, remote, p->proto,
			    sg_origin_port(p, dir, cv), NULL)) {
		/* Traffic the exempt list (or standard mode) allows needs no rule.
		 * The exempt list covers what the pod sends: only flows the pod
		 * opened. */
		if (cv->origin_dir == SGBPF_DIR_OUT && sg_exempt(slot, p->family, remote))
			return sg_allow(v, SGBPF_ALLOW_EXEMPT) + 1;
		if ((flags & SGBPF_CFG_MODE_STANDARD) &&
		    sg_unmanaged(slot, p->family, remote))
			return sg_allow(v, SGBPF_ALLOW_UNMANAGED) + 1;
		v->ct_state = cv->state;
		return sg_drop(v, SGBPF_DROP_STRICT_REEVAL) + 1;
	}
	res = sg_ct_advance(cv, p, dir);
	if (res == SG_CT_INVALID) {
		v->ct_state = cv->state;
		return sg_drop(v, SGBPF_DROP_CT_INVALID) + 1;
	}
	if (likely(res == SG_CT_PASS)) {
		/* Before a promotion, which copies the entry. */
		if (ep)
			sg_ct_vouch(cv, v->generation, ep);
		sg_ct_account(cv, dir, v->pkt_len, now);
		state = cv->state;
		v->ct_state = state;
		if (!in_est && sg_ct_confirmed(ck->proto, cv))
			sg_ct_promote(ck, cv);
		return sg_allow(v, SGBPF_ALLOW_TRACKED) + 1;
	}
	/* SG_CT_RENEW: forget the old connection; the SYN is judged as a new
	 * flow. */
	sg_ct_del(ck, in_est);
	v->rule_id = SGBPF_RULE_NONE;
	return 0;
}

/*
 * Order (spec 4.3, 6.3, 3, 4.1, 2): conntrack read, then the source /
 * destination check before any rule and any conntrack write, then the flow's
 * entry. An established flow whose entry vouches for this generation's
 * checks (sg_ct_vouches) costs one conntrack lookup and nothing else; any
 * other packet takes the full check first, as if the read had not happened.
 * The exempt list, standard mode, fragments, ICMP errors and the rules only
 * run for packets of no tracked flow. Outbound exempt traffic creates an
 * entry (rule SGBPF_RULE_NONE) so its replies pass as tracked; unmanaged
 * traffic never does.
 */
static __always_inline int sg_decide(const struct sg_pkt *p, struct sg_verdict *v,
				     const struct sgbpf_slot_config *cfg, __u64 now)
{
	struct sg_ct_key ck;
	struct sgbpf_ep_val *ep = NULL;
	struct sgbpf_addr_val *av;
	struct sgbpf_port_val *pv;
	struct sgbpf_ct_val *cv = NULL;
	__u32 slot = v->slot, ep_id = v->ep_id, flags = cfg->flags;
	__u8 dir = v->dir, state, stale = 0, reason, ctf = 0;
	bool dhcp, nd, icmp_err = false, eligible, in_est = false, zero = false, want_zero;
	const __u8 *local, *remote;
	__u16 port;

	switch (p->status) {
	case SG_PARSE_ARP:
		return sg_allow(v, SGBPF_ALLOW_NEIGH);
	case SG_PARSE_NOT_IP:
		return sg_allow(v, SGBPF_ALLOW_NOT_IP);
	case SG_PARSE_EXTHDR_LIMIT:
		return sg_drop(v, SGBPF_DROP_EXTHDR_LIMIT);
	case SG_PARSE_IP:
		break;
	default:
		return sg_drop(v, SGBPF_DROP_MALFORMED);
	}

	if (dir == SGBPF_DIR_OUT) {
		local = p->src;
		remote = p->dst;
	} else {
		local = p->dst;
		remote = p->src;
	}

	/* Established traffic: the flow's entry, keyed once and only read
	 * here. Non-first fragments have no ports (they follow their first
	 * fragment below). */
	eligible = p->frag != SG_FRAG_LATER && sg_ct_eligible(p);
	v->record_frag = p->frag == SG_FRAG_FIRST && !v->front;
	if (likely(eligible)) {
		sg_ct_key_of(&ck, p, ep_id, local, remote, dir);
		cv = sg_ct_find(cfg, &ck, now, &in_est, &stale);
		/* A front line leaves every tracked flow to the authority
		 * behind it, which advances the entry (once). */
		if (unlikely(v->front) && cv)
			return sg_allow(v, SGBPF_ALLOW_TRACKED);
		if (likely(cv) && sg_ct_vouches(cv, v->generation, dir, p->eth_src)) {
			/* The checks are proven: writes are allowed. */
			if (unlikely(stale))
				sg_ct_drop_stale(&ck, stale);
			v->probe = cv->ct_flags & SGBPF_CT_F_PROBE;
			if (sg_tracked(p, v, cfg, &ck, cv, in_est, now, NULL))
				return 0;
			/* A SYN renewing a closed tuple: entry gone, judged
			 * as a new flow after the full checks. */
			v->probe = 0;
			cv = NULL;
			stale = 0;
		}
	}

	/* Source/destination check: before any rule is evaluated and before
	 * any conntrack or fragment state is written (or read, but for the
	 * flow lookup above), so a pod can't act under another pod's address.
	 * ep_addrs and ep_config of a slot come from the same compiled
	 * endpoint list and are written before the slot goes live, so an
	 * address of ep_id in this slot means ep_id's policy is in place; any
	 * other outcome looks ep_config up, and a missing one fails closed
	 * (NO_POLICY) whatever the addresses say. */
	/* DHCP with a server on this link and neighbour discovery are the
	 * only traffic whose local address may be one the pod does not own
	 * (a client's 0.0.0.0, link-local, ...): see sg_dhcp_client_addr and
	 * sg_nd_local_ok. */
	dhcp = (flags & SGBPF_CFG_EXEMPT_DHCP) && sg_is_dhcp(p, dir) &&
	       sg_dhcp_peer_ok(slot, p->family, dir, remote);
	nd = sg_is_nd(p);
	av = sg_addr_lookup(&ep_addrs, slot, p->family, local);
	if (unlikely(!av || av->ep_id != ep_id)) {
		ep = sg_ep_config(slot, ep_id);
		if (!ep)
			return sg_drop(v, SGBPF_DROP_NO_POLICY);
		if (!(dhcp && sg_dhcp_client_addr(p->family, dir, local)) &&
		    !(nd && sg_nd_local_ok(p, dir, local)))
			return sg_drop(v, dir == SGBPF_DIR_OUT ? SGBPF_DROP_SPOOF_SRC :
							    SGBPF_DROP_WRONG_DST);
	}
	if (dir == SGBPF_DIR_OUT) {
		if (!ep)
			ep = sg_ep_config(slot, ep_id);
		if (!ep)
			return sg_drop(v, SGBPF_DROP_NO_POLICY);
		if ((ep->flags & SGBPF_EP_HAS_MAC) && !sg_mac_eq(p->eth_src, ep->mac))
			return sg_drop(v, SGBPF_DROP_SPOOF_MAC);
	}
	/* Neighbour discovery (spec 4.2), once the addresses passed: never
	 * conntrack material, so nothing above read an entry for it. */
	if (nd) {
		if (!sg_nd_ok(slot, p, dir, remote))
			return sg_drop(v, SGBPF_DROP_ND_INVALID);
		return sg_allow(v, SGBPF_ALLOW_NEIGH);
	}
	/* DHCP is exempt before anything uses conntrack under its (possibly
	 * unassigned) client address. No entry of an exempt DHCP tuple is
	 * ever vouched for while the exemption is on: all its packets stop
	 * here. */
	if (dhcp)
		return sg_allow(v, SGBPF_ALLOW_EXEMPT);

	/* Tracked traffic the fast path could not take (the flow's first
	 * packet since a policy swap): it passed the checks, so its entry now
	 * vouches for them. That needs the endpoint's settings (its MAC, for
	 * outbound packets), even for an inbound packet. (A front line writes
	 * nothing: the authority deletes the stale entries.) */
	if (unlikely(stale) && !v->front)
		sg_ct_drop_stale(&ck, stale);
	if (cv) {
		if (!ep)
			ep = sg_ep_config(slot, ep_id);
		if (!ep)
			return sg_drop(v, SGBPF_DROP_NO_POLICY);
		/* A probe stays one only while the policy in force still has
		 * its port and the node's address (this is the flow's first
		 * packet since a swap). */
		if (unlikely(cv->ct_flags & SGBPF_CT_F_PROBE) &&
		    !((flags & SGBPF_CFG_PROBES) &&
		      sg_probe_flow(slot, ep_id, p->family, remote,
				    dir == SGBPF_DIR_IN ? p->dport : p->sport)))
			cv->ct_flags &= ~SGBPF_CT_F_PROBE;
		v->probe = cv->ct_flags & SGBPF_CT_F_PROBE;
		if (sg_tracked(p, v, cfg, &ck, cv, in_est, now, ep))
			return 0;
		v->probe = 0;
	}

	/* The exempt list is where the pod may always send (spec 4.1); what
	 * comes back is a reply of that tracked flow, and anything else from
	 * those addresses is judged like any other traffic. */
	if (dir == SGBPF_DIR_OUT && sg_exempt(slot, p->family, remote)) {
		/* (ep is set for outbound packets; the verifier can't tell) */
		if (!ep)
			return sg_drop(v, SGBPF_DROP_NO_POLICY);
		reason = SGBPF_ALLOW_EXEMPT;
		goto track;
	}
	/* Kubelet probes (spec 5.3): a TCP connection the node opens (a bare
	 * SYN: a reply or a mid-stream pickup proves nothing about who opened
	 * it, and probes are short) to a probe port. Its entry is marked so that every later packet, the
	 * pod's replies above all, is known as a probe without a lookup, and
	 * only replies of a marked entry are ever steered: probes are always
	 * tracked. Standard mode doesn't enforce node traffic (but tracks
	 * probes); strict mode judges them by the rules like any flow. */
	if ((flags & SGBPF_CFG_PROBES) && dir == SGBPF_DIR_IN &&
	    p->proto == SG_IPPROTO_TCP && p->has_l4 &&
	    (p->tcp_flags & (SG_TCP_SYN | SG_TCP_ACK | SG_TCP_RST)) == SG_TCP_SYN &&
	    sg_probe_flow(slot, ep_id, p->family, remote, p->dport)) {
		v->probe = 1;
		ctf = SGBPF_CT_F_PROBE;
	}
	if (flags & SGBPF_CFG_MODE_STANDARD) {
		if (v->probe) {
			if (!ep)
				ep = sg_ep_config(slot, ep_id);
			if (!ep)
				return sg_drop(v, SGBPF_DROP_NO_POLICY);
			reason = SGBPF_ALLOW_PROBE;
			goto track;
		}
		if (sg_unmanaged(slot, p->family, remote))
			return sg_allow(v, SGBPF_ALLOW_UNMANAGED);
	}

	/* Non-first fragments carry no L4 header: they follow the verdict of
	 * their first fragment, recorded by sg_account(). */
	if (p->frag == SG_FRAG_LATER) {
		struct sgbpf_frag_key fk = {};
		struct sgbpf_frag_val *fv;

		/* First-fragment verdicts are the authority's (it may see
		 * the datagram reassembled): a front line passes. */
		if (v->front)
			return sg_allow(v, SGBPF_ALLOW_FRAG);
		fk.ep_id = ep_id;
		fk.frag_id = p->frag_id;
		fk.family = p->family;
		fk.proto = p->proto;
		fk.dir = dir;
		__builtin_memcpy(fk.src, p->src, 16);
		__builtin_memcpy(fk.dst, p->dst, 16);
		fv = bpf_map_lookup_elem(&frags, &fk);
		if (!fv || fv->last_seen_ns + sg_timeout_ns(cfg, SGBPF_TO_FRAG) < now)
			return sg_drop(v, SGBPF_DROP_FRAG_UNKNOWN);
		fv->last_seen_ns = now;
		v->rule_id = fv->rule_id;
		if (fv->verdict == SGBPF_VERDICT_ALLOW)
			return sg_allow(v, SGBPF_ALLOW_FRAG);
		return sg_drop(v, fv->reason);
	}

	/* ICMP errors about a tracked flow of this endpoint are related
	 * traffic (PMTUD); with the flag off they are judged by the rules. */
	if (p->has_l4 && sg_is_icmp(p->family, p->proto) &&
	    sg_icmp_is_error(p->family, p->icmp_type)) {
		/* Related or not is the authority's call (its lookup may
		 * delete an expired entry; a front line writes nothing). */
		if (v->front)
			return sg_allow(v, SGBPF_ALLOW_RELATED);
		icmp_err = true;
		/* As nf_conntrack_inet_error: the error goes back to whoever
		 * sent the packet it quotes (outer destination == embedded
		 * source), so it can't carry a tracked tuple anywhere else. */
		if ((flags & SGBPF_CFG_ICMP_RELATED) && p->inner_ok &&
		    sg_addr_eq(p->dst, p->inner_src) &&
		    sg_ct_key_of_icmp_error(p, ep_id, dir, &ck) == 0) {
			/* ck is free: an ICMP error is no conntrack material
			 * of its own (not eligible), and the stack is tight. */
			cv = sg_ct_lookup(cfg, &ck, now, &in_est);
			if (cv) {
				v->rule_id = cv->rule_id;
				v->ct_state = cv->state;
				return sg_allow(v, SGBPF_ALLOW_RELATED);
			}
		}
	}

	/* A new flow: the rules, then (if tracked) a conntrack entry. */
	if (!ep)
		ep = sg_ep_config(slot, ep_id);
	if (!ep)
		return sg_drop(v, SGBPF_DROP_NO_POLICY);
	want_zero = (p->proto == SG_IPPROTO_TCP || p->proto == SG_IPPROTO_UDP) &&
		    (ep->flags & SGBPF_EP_UNTRACK_BIT(dir, p->family,
						      p->proto == SG_IPPROTO_UDP));
	port = sg_rule_port(p->family, p->proto, p->dport, p->icmp_type, p->icmp_code);
	pv = sg_rule_lookup(slot, dir, p->family, ep_id, remote, p->proto, port,
			    want_zero ? &zero : NULL);
	if (!pv)
		return sg_drop(v, icmp_err && (flags & SGBPF_CFG_ICMP_RELATED) ?
				  SGBPF_DROP_ICMP_UNRELATED : SGBPF_DROP_NO_RULE);
	v->rule_id = pv->rule_id;

	/* /0 rule here and an all-ports /0 rule the other way: untracked
	 * (but a probe: see above). */
	if (want_zero && zero && !v->probe)
		return sg_allow(v, SGBPF_ALLOW_UNTRACKED);
	/* The reply of such a TCP flow (e.g. the pod's SYN+ACK to an untracked
	 * SYN) is untracked too (spec 3.4: the reverse rule allows it): this
	 * direction has an all-ports /0 rule, and a /0 rule the other way
	 * allows the packet turned around. An entry here would outlive the
	 * rules that make the flow untracked. A bare SYN is never a reply: it
	 * opens a flow of this direction, tracked unless the test above said
	 * otherwise (else PMTUD and the flow's survival of rule changes would
	 * depend on an unrelated rule the other way). UDP can't tell a reply
	 * from a new flow, so it keeps its (unconfirmed, LRU) entry. */
	if (p->proto == SG_IPPROTO_TCP &&
	    (p->tcp_flags & (SG_TCP_SYN | SG_TCP_ACK)) != SG_TCP_SYN &&
	    (ep->flags & SGBPF_EP_UNTRACK_BIT(dir ^ 1, p->family, 0))) {
		zero = false;
		if (sg_rule_lookup(slot, dir ^ 1, p->family, ep_id, remote, p->proto,
				   bpf_ntohs(p->sport), &zero) && zero)
			return sg_allow(v, SGBPF_ALLOW_UNTRACKED);
	}
	reason = SGBPF_ALLOW_RULE;

track:
	/* Allowed as a new flow: the authority behind a front line creates
	 * the entry when the packet reaches it. */
	if (!eligible || v->front)
		return sg_allow(v, reason);
	if (p->proto == SG_IPPROTO_TCP) {
		__u8 fl = p->tcp_flags;

		/* An allowed RST has no connection to track. */
		if (fl & SG_TCP_RST)
			return sg_allow(v, reason);
		/* Bare SYN opens; anything else is a connection that predates
		 * us (restart, policy attached late): picked up, but only
		 * confirmed (ct_est) once the other side answers. */
		if ((fl & (SG_TCP_SYN | SG_TCP_ACK)) == SG_TCP_SYN) {
			state = SGBPF_CT_SYN_SENT;
		} else {
			state = SGBPF_CT_ESTABLISHED;
			ctf |= SGBPF_CT_F_PICKUP;
		}
	} else if (sg_is_icmp(p->family, p->proto)) {
		/* Only an echo request opens an echo flow. */
		if (!sg_icmp_is_echo_request(p->family, p->icmp_type))
			return sg_allow(v, reason);
		state = SGBPF_CT_NEW;
	} else {
		state = SGBPF_CT_NEW;
	}
	if (sg_ct_create(&ck, p, state, ctf, dir, v->rule_id, v->pkt_len, now, v->generation,
			 ep)) {
		/* Standard mode doesn't enforce probes: allowed, unsteered. */
		if (reason == SGBPF_ALLOW_PROBE)
			return sg_allow(v, reason);
		return sg_drop(v, SGBPF_DROP_CT_FULL);
	}
	v->ct_state = state;
	return sg_allow(v, reason);
}

static __always_inline void sg_account(struct sg_verdict *v, const struct sg_pkt *p,
				       __u64 now)
{
	/* A front line's allow is no verdict yet: the authority counts it. */
	if (v->front && v->verdict == SGBPF_VERDICT_ALLOW)
		return;
	if (v->verdict == SGBPF_VERDICT_ALLOW &&
	    (v->reason == SGBPF_ALLOW_RULE || v->reason == SGBPF_ALLOW_UNTRACKED))
		sg_count_rule(v->slot, v->rule_id, v->pkt_len);
	/* Allowed probe traffic is counted apart, whatever admitted it (the
	 * rule keeps its count above; the event keeps the rule id). */
	if (v->probe && v->verdict == SGBPF_VERDICT_ALLOW)
		v->reason = SGBPF_ALLOW_PROBE;
	sg_count(v);
	if (v->record_frag) {
		struct sgbpf_frag_key fk = {};
		struct sgbpf_frag_val fv = {};

		fk.ep_id = v->ep_id;
		fk.frag_id = p->frag_id;
		fk.family = p->family;
		fk.proto = p->proto;
		fk.dir = v->dir;
		__builtin_memcpy(fk.src, p->src, 16);
		__builtin_memcpy(fk.dst, p->dst, 16);
		fv.last_seen_ns = now;
		fv.rule_id = v->rule_id;
		fv.verdict = v->verdict;
		fv.reason = v->reason;
		bpf_map_update_elem(&frags, &fk, &fv, BPF_ANY);
	}
	sg_emit(v, p);
}

/*
 * The coarse clock (bpf_ktime_get_coarse_ns(): jiffy resolution is plenty
 * for idle timeouts of seconds, and costs a fraction of bpf_ktime_get_ns(),
 * a clock read, ~25 ns on KVM). The coarse clock only moves on a tick, so
 * its value is cached per CPU for the current jiffy: bpf_jiffies64() is
 * inlined (a load), the helper call is not (~2 ns a packet). The value may
 * lag the clock by the tick that is being processed: harmless at this
 * resolution. ns is written before jiffies, so a program that interrupts
 * the update sees either the old jiffy (and reads the clock itself) or a
 * complete entry.
 */
static __always_inline __u64 sg_now(void)
{
	__u64 j = bpf_jiffies64(), now;
	struct sg_clock *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&clock_cache, &zero);
	if (likely(c) && c->jiffies == j)
		return c->ns;
	now = bpf_ktime_get_coarse_ns();
	if (c) {
		c->ns = now;
		barrier();
		c->jiffies = j;
	}
	return now;
}

/*
 * Judge a parsed packet for the endpoint, direction and slot in *v, and
 * account for the verdict. A global (non-inlined) function on purpose: the
 * verifier checks it once per program with *p unknown, instead of once for
 * every distinct parser outcome (VLAN tags x IPv4/IPv6 x extension headers x
 * fragments x L4 ...), which inlined cost ~700k of the 1M instructions the
 * verifier allows. It reads no packet bytes (the parser extracted all it
 * needs), so XDP and TC share it. Returns SGBPF_VERDICT_ALLOW, _DROP or
 * SG_RET_STEER.
 */
__noinline int sg_judge(struct sg_pkt *p, struct sg_verdict *v)
{
	struct sgbpf_slot_config *cfg;
	__u32 slot;
	__u64 now;

	if (!p || !v)
		return SGBPF_VERDICT_DROP;
	slot = v->slot & 1;
	cfg = bpf_map_lookup_elem(&slot_config, &slot);
	if (!cfg)
		return SGBPF_VERDICT_DROP;
	now = sg_now();
	v->slot = slot;
	v->dir &= 1;
	v->rule_id = SGBPF_RULE_NONE;
	v->generation = cfg->generation;
	v->cfg_flags = cfg->flags;

	sg_decide(p, v, cfg, now);
	/* A front line drops for want of a rule only packets that open a flow.
	 * Anything else may be the reply of a flow the authority tracks under
	 * other addresses: netfilter rewrites a Service (DNAT) reply's source
	 * after the trunk and before the pod's host veth. It goes on to the
	 * authority, unaccounted. */
	if (unlikely(v->front) && v->verdict == SGBPF_VERDICT_DROP &&
	    v->reason == SGBPF_DROP_NO_RULE && !sg_opens_flow(p))
		sg_allow(v, SGBPF_ALLOW_RULE);
	/* The pod's allowed packets of a probe connection (the node opened
	 * it: v->probe comes from its marked entry) go straight to the node's
	 * stack (sg_steer) when a target is set. A bare SYN opens nothing the
	 * node asked for. */
	if (v->probe && v->dir == SGBPF_DIR_OUT && v->verdict == SGBPF_VERDICT_ALLOW) {
		if (v->steer_ok && (p->tcp_flags & (SG_TCP_SYN | SG_TCP_ACK)) != SG_TCP_SYN) {
			struct sgbpf_probe_target *t;
			__u32 zero = 0;

			t = bpf_map_lookup_elem(&probe_target, &zero);
			v->steered = t && t->ifindex;
		}
		sg_count_steer(v->ep_id, v->steered);
	}
	sg_account(v, p, now);
	if (v->verdict != SGBPF_VERDICT_ALLOW)
		return SGBPF_VERDICT_DROP;
	return v->steered ? SG_RET_STEER : SGBPF_VERDICT_ALLOW;
}

/*
 * Shared by every entry point: parse, find the interface's endpoint and
 * direction, read the policy slot once, judge. ctx is the skb for TC
 * (is_tc), used only to pull headers into the linear area. hw_vlan: the tag
 * the NIC/stack already removed (-1: none). egress: TC egress hook
 * (direction inverted). Returns SGBPF_VERDICT_ALLOW, SGBPF_VERDICT_DROP or
 * SG_RET_STEER (allowed; redirect it to the node's stack).
 */
static __always_inline int sg_core(void *ctx, void *data, void *data_end, __u32 pkt_len,
				   __u32 ifindex, int hw_vlan, bool is_tc, bool egress,
				   bool parse_only)
{
	struct sgbpf_iface_key ik = {};
	struct sgbpf_global_stats *g;
	struct sgbpf_iface_val *iv;
	struct sg_verdict v = {};
	struct sgbpf_state *st;
	struct sg_pkt p = {};
	__u32 zero = 0;

	sg_parse(data, data_end, pkt_len, &p);
	if (is_tc && p.status == SG_PARSE_MALFORMED &&
	    (__u64)(data_end - data) < pkt_len) {
		struct __sk_buff *skb = ctx;

		/* Headers run past the linear area: pull more and re-parse.
		 * Anything still truncated is really truncated (or beyond
		 * SG_PULL_MAX): MALFORMED. */
		bpf_skb_pull_data(skb, pkt_len < SG_PULL_MAX ? pkt_len : SG_PULL_MAX);
		sg_skb_data(skb, &data, &data_end);
		__builtin_memset(&p, 0, sizeof(p));
		sg_parse(data, data_end, pkt_len, &p);
	}

	ik.ifindex = ifindex;
	ik.vlan_id = hw_vlan >= 0 ? (__u16)hw_vlan : p.vlan_id;
	v.vlan_id = ik.vlan_id;
	iv = bpf_map_lookup_elem(&ifaces, &ik);
	if (!iv && ik.vlan_id) {
		ik.vlan_id = 0;
		iv = bpf_map_lookup_elem(&ifaces, &ik);
	}
	if (parse_only) {
		/* Keep the parse result alive so the baseline pays for the
		 * same parsing as the enforcing programs. */
		asm volatile("" : : "r"(&p), "r"(iv) : "memory");
		return SGBPF_VERDICT_ALLOW;
	}
	if (!iv && !p.l2_bad) {
		g = sg_gstats();
		if (g)
			g->unknown_iface++;
		return SGBPF_VERDICT_ALLOW;
	}

	/* The policy slot is read once: the whole packet is judged by it. */
	st = bpf_map_lookup_elem(&state, &zero);
	if (!st)
		return SGBPF_VERDICT_DROP;
	v.slot = *(volatile __u32 *)&st->active_slot & 1;
	v.ifindex = ifindex;
	v.pkt_len = pkt_len;
	if (iv && iv->ep_id < SGBPF_MAX_ENDPOINTS) {
		v.ep_id = iv->ep_id;
		v.dir = (iv->role == SGBPF_ROLE_POD_FACING) != egress ? SGBPF_DIR_OUT :
									SGBPF_DIR_IN;
		v.front = !!(iv->flags & SGBPF_IFACE_F_FRONT_LINE);
		/* Only TC can redirect into a stack, and only on the pod's
		 * side is the packet still ahead of the routing that drops
		 * probe replies. A tagged frame from a pod is no probe reply
		 * (it would reach the node's VLAN device of that id). */
		v.steer_ok = is_tc && !egress && iv->role == SGBPF_ROLE_POD_FACING &&
			     hw_vlan < 0 && !p.vlan_id;
	} else {
		/* A runt whose VLAN tag (or Ethernet header) is cut: which
		 * endpoint it is for can't be known, and passing it would
		 * fail open. Dropped MALFORMED, on no endpoint's account. An
		 * entry naming no valid endpoint (conntrack keys hold ids of
		 * SGBPF_MAX_ENDPOINTS' width) is no one's either: fail closed. */
		v.ep_id = SGBPF_RULE_NONE;
		v.dir = egress ? SGBPF_DIR_OUT : SGBPF_DIR_IN;
	}
	return sg_judge(&p, &v);
}

#endif /* SGBPF_BPF_VERDICT_H */
