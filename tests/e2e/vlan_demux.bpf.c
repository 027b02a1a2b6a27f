// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Stand-in for the kernel's 802.1Q VLAN devices in tests/e2e/test_trunk.sh
 * (the e2e kernel is built without CONFIG_VLAN_8021Q). On the trunk's TC
 * ingress, after sgbpf's XDP and after the stack moved the tag into the
 * skb: a frame tagged VID loses its tag and is received on demux[VID] (the
 * test's vlan.eth.VID), as the VLAN device would receive it; a VID with no
 * device is dropped, as the stack drops it. Untagged frames go on.
 * Built and loaded by the test (clang, bpftool, tc).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);           /* ifindex of vlan.eth.VID, 0 = none */
} demux SEC(".maps");

SEC("tc")
int vlan_demux(struct __sk_buff *skb)
{
	__u32 vid, *ifindex;

	if (!skb->vlan_present)
		return TC_ACT_OK;
	vid = skb->vlan_tci & 0x0fff;
	ifindex = bpf_map_lookup_elem(&demux, &vid);
	if (!ifindex || !*ifindex || bpf_skb_vlan_pop(skb))
		return TC_ACT_SHOT;
	return bpf_redirect(*ifindex, BPF_F_INGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
