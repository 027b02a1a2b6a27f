/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Verdict accounting: per-endpoint and global counters (per-CPU, so plain
 * increments), per-rule counters for admitted new flows, and the event ring
 * buffer (every drop; allows too with SGBPF_CFG_EVENTS_ALLOW).
 */
#ifndef SGBPF_BPF_EVENTS_H
#define SGBPF_BPF_EVENTS_H

/* Everything an accounted verdict needs, filled in as the core goes. */
struct sg_verdict {
	__u32 ifindex;
	__u32 ep_id;               /* 0xffffffff: no endpoint (L2 runt)     */
	__u32 rule_id;             /* SGBPF_RULE_NONE when none             */
	__u32 pkt_len;
	__u32 slot;
	__u16 vlan_id;
	__u8  dir;
	__u8  verdict;             /* enum sgbpf_verdict                    */
	__u8  reason;
	__u8  ct_state;
	__u8  record_frag;         /* first fragment: remember the verdict  */
	__u8  probe;               /* kubelet probe traffic (SGBPF_EVENT_F_PROBE) */
	__u64 generation;
	__u32 cfg_flags;
	__u8  steer_ok;            /* TC RX of a pod-facing interface: the pod's
				    * packets can be redirected to the node */
	__u8  steered;             /* this one is (an allowed probe reply)  */
	__u8  front;               /* SGBPF_IFACE_F_FRONT_LINE entry: drops
				    * only, allows unaccounted, no state    */
	__u8  pad2;
};

static __always_inline void sg_count(const struct sg_verdict *v)
{
	struct sgbpf_global_stats *g = sg_gstats();
	struct sgbpf_ep_stats *s;
	__u32 ep = v->ep_id;
	__u8 dir = v->dir & 1;

	s = bpf_map_lookup_elem(&ep_stats, &ep);
	if (v->verdict == SGBPF_VERDICT_ALLOW) {
		if (s) {
			s->allow_packets[dir]++;
			s->allow_bytes[dir] += v->pkt_len;
			if (v->reason < SGBPF_ALLOW_REASON_MAX)
				s->allows_by_reason[v->reason]++;
		}
		if (g && v->reason < SGBPF_ALLOW_REASON_MAX)
			g->allows_by_reason[v->reason]++;
	} else {
		if (s) {
			s->drop_packets[dir]++;
			s->drop_bytes[dir] += v->pkt_len;
			if (v->reason < SGBPF_DROP_REASON_MAX)
				s->drops_by_reason[v->reason]++;
			if (v->probe)
				s->probe_drops++;
		}
		if (g && v->reason < SGBPF_DROP_REASON_MAX)
			g->drops_by_reason[v->reason]++;
		if (g && v->probe)
			g->probe_drops++;
	}
}

/* A probe reply about to be redirected to the node's stack (steered), or
 * passed to the routes because no target is configured. */
static __always_inline void sg_count_steer(__u32 ep_id, bool steered)
{
	struct sgbpf_global_stats *g = sg_gstats();
	struct sgbpf_ep_stats *s;

	if (!steered) {
		if (g)
			g->probe_unsteered++;
		return;
	}
	if (g)
		g->probe_steered++;
	s = bpf_map_lookup_elem(&ep_stats, &ep_id);
	if (s)
		s->probe_steered++;
}

/* A new flow (or untracked packet) admitted by rule_id in slot. */
static __always_inline void sg_count_rule(__u32 slot, __u32 rule_id, __u32 len)
{
	struct sgbpf_rule_stats *r;
	__u32 idx;

	if (rule_id >= SGBPF_MAX_RULES)
		return;
	idx = (slot & 1) * SGBPF_MAX_RULES + rule_id;
	r = bpf_map_lookup_elem(&rule_stats, &idx);
	if (r) {
		r->packets++;
		r->bytes += len;
	}
}

static __always_inline void sg_emit(const struct sg_verdict *v, const struct sg_pkt *p)
{
	struct sgbpf_event *e;

	if (v->verdict == SGBPF_VERDICT_ALLOW && !(v->cfg_flags & SGBPF_CFG_EVENTS_ALLOW))
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;  /* ring full: the counters still have it */
	e->ts_ns = bpf_ktime_get_ns();
	e->generation = v->generation;
	e->ep_id = v->ep_id;
	e->ifindex = v->ifindex;
	e->rule_id = v->rule_id;
	e->pkt_len = v->pkt_len;
	e->vlan_id = v->vlan_id;
	e->dir = v->dir;
	e->verdict = v->verdict;
	e->reason = v->reason;
	e->family = p->family;
	e->proto = p->proto;
	e->ct_state = v->ct_state;
	__builtin_memcpy(e->src, p->src, 16);
	__builtin_memcpy(e->dst, p->dst, 16);
	if (sg_is_icmp(p->family, p->proto)) {
		e->sport = bpf_htons(((__u16)p->icmp_type << 8) | p->icmp_code);
		e->dport = 0;
	} else {
		e->sport = p->sport;
		e->dport = p->dport;
	}
	e->flags = v->probe ? SGBPF_EVENT_F_PROBE : 0;
	if (v->steered)
		e->flags |= SGBPF_EVENT_F_STEERED;
	e->pad[0] = e->pad[1] = e->pad[2] = 0;
	bpf_ringbuf_submit(e, 0);
}

#endif /* SGBPF_BPF_EVENTS_H */
