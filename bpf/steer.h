/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Probe steering (spec 5.3, issue 6). With the VPC CNI's strict-mode wiring
 * a kubelet probe leaves the node by its main interface and reaches the pod
 * through the branch; the pod's reply enters the host veth, early demux
 * attaches the kubelet's socket, the per-VLAN `ip rule` routes the packet to
 * be forwarded out the branch, and forwarding drops any packet that carries
 * a socket. Unless net.ipv4.tcp_early_demux=0 (for every TCP connection of
 * the node), probes fail.
 *
 * Instead, the pod's allowed probe packets to the node are handed to the
 * stack as if received on the interface the probe left by: the
 * destination MAC becomes that interface's (so the stack takes the frame
 * as its own) and the skb is redirected into its ingress. Routing then
 * finds the node's address local, early demux's socket is the right one,
 * and the connection has one consistent path. Only probe traffic takes it;
 * everything else keeps the CNI's routes.
 */
#ifndef SGBPF_BPF_STEER_H
#define SGBPF_BPF_STEER_H

#ifndef TC_ACT_OK
#define TC_ACT_OK   0
#define TC_ACT_SHOT 2
#endif

/* TC verdict for a packet sg_core() returned SG_RET_STEER for. Without a
 * target (removed since sg_judge looked) the packet takes the routes. */
static __always_inline int sg_steer(struct __sk_buff *skb)
{
	struct sgbpf_probe_target *t;
	__u32 zero = 0;

	t = bpf_map_lookup_elem(&probe_target, &zero);
	/* The frame starts at the Ethernet header on a TC hook. */
	if (!t || !t->ifindex || (t->has_mac && bpf_skb_store_bytes(skb, 0, t->mac, 6, 0))) {
		struct sgbpf_global_stats *g = sg_gstats();

		/* Counted steered a moment ago (target cleared since, or the
		 * frame is not writable): say so. */
		if (g)
			g->probe_unsteered++;
		return TC_ACT_OK;
	}
	return bpf_redirect(t->ifindex, BPF_F_INGRESS);
}

#endif /* SGBPF_BPF_STEER_H */
