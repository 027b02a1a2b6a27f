// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sgbpf datapath: EC2 security groups per pod, enforced at XDP and TC.
 * Thin entry points around sg_core() (verdict.h); see the headers for the
 * parsing (parse.h), lookups (policy.h), conntrack (conntrack.h),
 * accounting (events.h) and probe steering (steer.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <sgbpf/layout.h>

#include "maps.h"
#include "parse.h"
#include "policy.h"
#include "conntrack.h"
#include "events.h"
#include "verdict.h"
#include "steer.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int sg_xdp(struct xdp_md *ctx, bool parse_only)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	/* (XDP is never asked to steer: see sg_core) */
	if (sg_core(ctx, data, data_end, (__u32)(data_end - data), ctx->ingress_ifindex,
		    -1, false, false, parse_only) == SGBPF_VERDICT_DROP)
		return XDP_DROP;
	return XDP_PASS;
}

static __always_inline int sg_tc(struct __sk_buff *skb, bool egress, bool parse_only)
{
	int hw_vlan = skb->vlan_present ? (int)(skb->vlan_tci & 0x0fff) : -1;
	void *data, *data_end;
	int ret;

	/* No up-front bpf_skb_pull_data(): it un-clones the skb (TCP egress
	 * skbs are clones) on every packet. sg_core() pulls only when the
	 * headers turn out not to be in the linear area. */
	sg_skb_data(skb, &data, &data_end);
	ret = sg_core(skb, data, data_end, skb->len, skb->ifindex, hw_vlan, true, egress,
		      parse_only);
	if (ret == SGBPF_VERDICT_DROP)
		return TC_ACT_SHOT;
	if (ret == SG_RET_STEER)
		return sg_steer(skb);
	return TC_ACT_OK;
}

SEC("xdp")
int sgbpf_xdp(struct xdp_md *ctx)
{
	return sg_xdp(ctx, false);
}

SEC("tc")
int sgbpf_tc_ingress(struct __sk_buff *skb)
{
	return sg_tc(skb, false, false);
}

SEC("tc")
int sgbpf_tc_egress(struct __sk_buff *skb)
{
	return sg_tc(skb, true, false);
}

SEC("xdp")
int sgbpf_xdp_parse_only(struct xdp_md *ctx)
{
	return sg_xdp(ctx, true);
}

SEC("tc")
int sgbpf_tc_parse_only(struct __sk_buff *skb)
{
	return sg_tc(skb, false, true);
}
