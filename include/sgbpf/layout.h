/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sgbpf shared layout: every map key, map value, constant and enum that both
 * the BPF programs (bpf/) and userspace (user/) touch lives here and only here.
 *
 * Included from BPF code after vmlinux.h (which defines __VMLINUX_H__ and the
 * __u8.. types) and from userspace after <linux/types.h>.
 *
 * Bump SGBPF_LAYOUT_VERSION whenever a struct below changes size or meaning:
 * the daemon refuses (or migrates) pinned state written with another version.
 */
#ifndef SGBPF_LAYOUT_H
#define SGBPF_LAYOUT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SGBPF_LAYOUT_VERSION 7

/* ---- capacities (map max_entries) ------------------------------------- */
#define SGBPF_MAX_ENDPOINTS   1024     /* endpoint ids are 0..MAX-1          */
#define SGBPF_MAX_IFACES      4096     /* (ifindex, vlan) attachments         */
#define SGBPF_MAX_RULES       131072   /* compiled rules per policy slot      */
#define SGBPF_MAX_PREFIXES    1048576  /* rule-trie entries, both slots       */
#define SGBPF_MAX_PORT_BLOCKS 1048576  /* port-trie entries, both slots       */
#define SGBPF_MAX_EP_ADDRS    16384    /* endpoint addresses, both slots      */
#define SGBPF_MAX_EXEMPT      1024     /* exempt prefixes, both slots         */
#define SGBPF_MAX_PROBE_PORTS 16384    /* endpoint probe ports, both slots    */
#define SGBPF_CT_EST_MAX      1048576  /* confirmed flows (never evicted), per family */
#define SGBPF_CT_NEW_MAX      131072   /* unconfirmed flows (LRU), per family:
					* preallocated, so the two families
					* together cost what one table of 262144
					* did before the split */
#define SGBPF_FRAG_MAX        16384    /* IPv4/IPv6 first-fragment verdicts   */
#define SGBPF_EVENTS_BYTES    (1u << 22)
#define SGBPF_NUM_SLOTS       2        /* policy double buffer                */

/* Upper bounds the parser walks; see bpf/parse.h. */
#define SGBPF_MAX_VLAN_TAGS   2
#define SGBPF_MAX_IPV6_EXTHDR 8

/* ---- enums ------------------------------------------------------------- */
enum sgbpf_dir {
	SGBPF_DIR_IN  = 0,   /* towards the pod: remote = source      */
	SGBPF_DIR_OUT = 1,   /* from the pod:    remote = destination */
	SGBPF_DIR_MAX = 2,
};

enum sgbpf_family {
	SGBPF_AF_V4 = 0,
	SGBPF_AF_V6 = 1,
	SGBPF_AF_MAX = 2,
};

/*
 * Which way an attached interface faces. On a POD_FACING interface (the
 * host side of the pod's veth) received frames come from the pod, so RX is
 * the pod's outbound direction. On a NET_FACING interface (the VLAN device,
 * or the trunk keyed by VLAN id) received frames go to the pod: RX = inbound.
 */
enum sgbpf_role {
	SGBPF_ROLE_POD_FACING = 0,
	SGBPF_ROLE_NET_FACING = 1,
};

/* "All protocols" pseudo-protocol in the port trie (IP protocols are 0..255). */
#define SGBPF_PROTO_ANY 256

enum sgbpf_verdict {
	SGBPF_VERDICT_ALLOW = 0,
	SGBPF_VERDICT_DROP  = 1,
};

/* Why a packet was allowed (event.reason when verdict == ALLOW). */
enum sgbpf_allow_reason {
	SGBPF_ALLOW_RULE = 0,        /* new flow matched rule event.rule_id   */
	SGBPF_ALLOW_TRACKED,         /* part of a tracked connection          */
	SGBPF_ALLOW_UNTRACKED,       /* /0 rules both ways: rule, no ct entry */
	SGBPF_ALLOW_RELATED,         /* ICMP error about a tracked flow       */
	SGBPF_ALLOW_EXEMPT,          /* remote address on the exempt list     */
	SGBPF_ALLOW_NEIGH,           /* ARP / IPv6 neighbour discovery        */
	SGBPF_ALLOW_FRAG,            /* fragment of an allowed first fragment */
	SGBPF_ALLOW_NOT_IP,          /* non-IP ethertype (not subject to SGs) */
	SGBPF_ALLOW_UNMANAGED,       /* node mode "standard": node/local pod  */
	SGBPF_ALLOW_PROBE,           /* kubelet probe handled by sgbpf        */
	SGBPF_ALLOW_REASON_MAX,
};

/* Why a packet was dropped (event.reason when verdict == DROP). */
enum sgbpf_drop_reason {
	SGBPF_DROP_NO_RULE = 0,      /* no rule allows this new flow          */
	SGBPF_DROP_NO_POLICY,        /* interface known, endpoint policy not in place (fail closed) */
	SGBPF_DROP_SPOOF_SRC,        /* outbound source address not the pod's */
	SGBPF_DROP_SPOOF_MAC,        /* outbound source MAC not the pod's     */
	SGBPF_DROP_WRONG_DST,        /* inbound destination not the pod's     */
	SGBPF_DROP_MALFORMED,        /* truncated or inconsistent headers     */
	SGBPF_DROP_FRAG_UNKNOWN,     /* non-first fragment, no first seen     */
	SGBPF_DROP_CT_FULL,          /* conntrack table full for a new flow   */
	SGBPF_DROP_CT_INVALID,       /* TCP packet invalid for the flow state */
	SGBPF_DROP_EXTHDR_LIMIT,     /* IPv6 extension chain beyond the bound */
	SGBPF_DROP_ICMP_UNRELATED,   /* ICMP error about no tracked flow      */
	SGBPF_DROP_STRICT_REEVAL,    /* tracked flow no longer allowed (strict re-evaluation) */
	SGBPF_DROP_ND_INVALID,       /* ICMPv6 133-137 not valid ND (hop limit, addresses) or a router message from a pod */
	SGBPF_DROP_REASON_MAX,
};

/* Conntrack states. UDP/ICMP/other use NEW -> ESTABLISHED ("stream"). */
enum sgbpf_ct_state {
	SGBPF_CT_NEW = 0,            /* UDP/other seen one way, ICMP echo sent */
	SGBPF_CT_SYN_SENT,
	SGBPF_CT_SYN_RECV,
	SGBPF_CT_ESTABLISHED,        /* TCP established, UDP stream           */
	SGBPF_CT_FIN_WAIT,           /* one side sent FIN                     */
	SGBPF_CT_CLOSING,            /* both sides sent FIN / TIME_WAIT       */
	SGBPF_CT_CLOSED,             /* RST seen                              */
	SGBPF_CT_STATE_MAX,
};

/* Timeouts in the slot config, seconds; index by this enum. */
enum sgbpf_timeout {
	SGBPF_TO_TCP_ESTABLISHED = 0,  /* 432000 (EC2 60..432000)   */
	SGBPF_TO_TCP_SYN,              /* 60                        */
	SGBPF_TO_TCP_FIN,              /* 120                       */
	SGBPF_TO_TCP_CLOSED,           /* 10                        */
	SGBPF_TO_UDP,                  /* 30  (EC2 30..60)          */
	SGBPF_TO_UDP_STREAM,           /* 180 (EC2 60..180)         */
	SGBPF_TO_ICMP,                 /* 60                        */
	SGBPF_TO_OTHER,                /* 600                       */
	SGBPF_TO_FRAG,                 /* 30: first-fragment memory */
	SGBPF_TO_MAX,
};

/* slot_config.flags */
#define SGBPF_CFG_ICMP_RELATED     (1u << 0) /* allow ICMP errors of tracked flows (default on) */
#define SGBPF_CFG_MODE_STANDARD    (1u << 1) /* node <-> pod traffic not enforced               */
#define SGBPF_CFG_EVENTS_ALLOW     (1u << 2) /* emit allow events too, not only drops           */
#define SGBPF_CFG_EXEMPT_DHCP      (1u << 3) /* UDP 67/68 is exempt (default on)                */
#define SGBPF_CFG_STRICT_REEVAL    (1u << 4) /* re-check tracked flows against current rules    */
#define SGBPF_CFG_PROBES           (1u << 5) /* steer kubelet probe traffic (issue 6)           */

/* ep_config.flags: bit (UNTRACK_BASE + dir*4 + family*2 + (udp?1:0)) set when
 * the direction OPPOSITE to dir has a /0 rule allowing every port of that
 * protocol in that family; with a /0 rule in dir that makes the flow untracked. */
#define SGBPF_EP_HAS_MAC           (1u << 0)
#define SGBPF_EP_UNTRACK_BASE      8
#define SGBPF_EP_UNTRACK_BIT(dir, fam, is_udp) \
	(1u << (SGBPF_EP_UNTRACK_BASE + (dir) * 4 + (fam) * 2 + ((is_udp) ? 1 : 0)))

/* port_val.flags */
#define SGBPF_PORT_ZERO_PREFIX     (1u << 0) /* block of a base set: its rules are /0 */

/* ---- maps not tied to a policy slot ---------------------------------- */

/* state[0]: which policy slot is in force. Written only by the loader. */
struct sgbpf_state {
	__u32 active_slot;         /* 0 or 1                                 */
	__u32 layout_version;      /* SGBPF_LAYOUT_VERSION of the writer     */
	__u64 generation;          /* policy generation in force             */
};

/* ifaces: which endpoint an attached interface (or trunk + VLAN) serves. */
struct sgbpf_iface_key {
	__u32 ifindex;
	__u16 vlan_id;             /* 0 = untagged / not a trunk             */
	__u16 pad;
};

struct sgbpf_iface_val {
	__u32 ep_id;
	__u8  role;                /* enum sgbpf_role                        */
	__u8  flags;               /* SGBPF_IFACE_F_*                        */
	__u8  pad[2];
};

/*
 * iface_val.flags. FRONT_LINE: an early-drop front line ahead of the
 * endpoint's own hooks, which stay the authority (sgbpfd --trunk: the
 * trunk's XDP, keyed by VLAN id, in front of the pod's host veth). It drops
 * and counts only what the authority would drop as a new flow (no rule for
 * a packet that only opens a flow: a NATed reply's source is rewritten
 * after the trunk; wrong destination, no policy, malformed, invalid ND),
 * passes everything
 * else unaccounted (packets of tracked flows, later fragments, ICMP errors,
 * what the rules allow), and writes no conntrack or fragment state: each
 * packet is counted once and each flow's entry advanced once per packet,
 * by whichever hook decides it.
 */
#define SGBPF_IFACE_F_FRONT_LINE   (1u << 0)

/*
 * Conntrack keys, oriented from the endpoint that owns them (never normalised
 * across endpoints, so one pod can't plant or reach another pod's entries).
 * TCP/UDP: ports. ICMP echo: local_port = echo id, remote_port = 0.
 * Other protocols: both ports 0.
 *
 * Each conntrack table is one map per family: IPv4 flows are keyed by the
 * compact sgbpf_ct4_key (maps ct4_est, ct4_new), IPv6 flows by the wide
 * sgbpf_ct_key (ct_est, ct_new); confirmed TCP flows, the bulk of
 * established traffic, by keys without the endpoint and protocol:
 * sgbpf_ct4t_key (ct4t_est) instead of ct4_est, sgbpf_ct6t_key (ct6t_est)
 * instead of ct_est; confirmed IPv6 UDP flows likewise (ct6u_est). The
 * kernel hashes and compares the whole key on every lookup, and a 16-byte
 * key costs one jhash round where the 44-byte one costs three (about a
 * third of the established fast path).
 * Userspace sees every entry under the wide key (user/lib/ct.h); there an
 * IPv4 address uses the first 4 bytes of the wide key's, the rest zero.
 */
struct sgbpf_ct_key {
	__u32 ep_id;
	__u8  family;              /* enum sgbpf_family                      */
	__u8  proto;
	__u16 pad;
	__u8  local_addr[16];
	__u8  remote_addr[16];
	__be16 local_port;
	__be16 remote_port;
};

/* IPv4 flows. ep_id fits 16 bits (SGBPF_MAX_ENDPOINTS). */
struct sgbpf_ct4_key {
	__u16 ep_id;
	__u8  proto;
	__u8  pad;
	__u8  local_addr[4];
	__u8  remote_addr[4];
	__be16 local_port;
	__be16 remote_port;
};
_Static_assert(SGBPF_MAX_ENDPOINTS <= 65536, "sgbpf_ct4_key.ep_id is 16 bits");

/*
 * Confirmed IPv4 TCP flows (map ct4t_est, the established fast path's
 * table): addresses and ports only, 12 bytes, which the kernel hashes with
 * no mixing round. The endpoint is in the entry (sgbpf_ct_val.ep_id): an
 * address has one owner per policy slot, so the tuple names one endpoint,
 * but addresses move between endpoints across swaps, so a hit counts only
 * when the entry's ep_id is the packet's endpoint (else it is absent, and
 * a promotion replaces it). Laid out as the last 12 bytes of sgbpf_ct4_key.
 */
struct sgbpf_ct4t_key {
	__u8  local_addr[4];
	__u8  remote_addr[4];
	__be16 local_port;
	__be16 remote_port;
};
_Static_assert(sizeof(struct sgbpf_ct4t_key) == 12, "a 12-byte key: jhash2 of 3 words");

/*
 * Confirmed IPv6 TCP flows (map ct6t_est) and UDP flows (map ct6u_est), the
 * same way: addresses and ports, 36 bytes (two jhash rounds where the wide
 * key takes three), the endpoint in the entry and checked on every hit.
 * Laid out as the last 36 bytes of sgbpf_ct_key.
 */
struct sgbpf_ct6t_key {
	__u8  local_addr[16];
	__u8  remote_addr[16];
	__be16 local_port;
	__be16 remote_port;
};
_Static_assert(sizeof(struct sgbpf_ct6t_key) == 36, "a 36-byte key: jhash2 of 9 words");

struct sgbpf_ct_val {
	__u64 created_ns;
	__u64 last_seen_ns;        /* bpf_ktime_get_ns() of last packet     */
	__u64 packets[SGBPF_DIR_MAX];
	__u64 bytes[SGBPF_DIR_MAX];
	__u32 rule_id;             /* rule that admitted the flow           */
	__u8  state;               /* enum sgbpf_ct_state                   */
	__u8  origin_dir;          /* enum sgbpf_dir of the first packet    */
	__u8  seen_reply;          /* a packet went the other way           */
	__u8  fin_seen;            /* bit per dir that sent FIN             */
	/* The established fast path (bpf/verdict.h) trusts a hit only for the
	 * policy generation in which the flow last passed the source and
	 * destination check, and compares the MAC it had then. */
	__u64 checked_gen;
	__u8  ep_mac[6];
	__u8  check_flags;         /* SGBPF_CT_CHECKED*                    */
	__u8  pad;
	/* TCP: per direction, the sequence number after the last segment sent
	 * that way and the last acknowledgement number sent that way, so an
	 * RST towards the pod is accepted only near what the pod expects. */
	__u32 seq_next[SGBPF_DIR_MAX];
	__u32 ack_last[SGBPF_DIR_MAX];
	__u8  seq_known;           /* SGBPF_CT_SEQ_KNOWN / _ACK_KNOWN bits  */
	__u8  ct_flags;            /* SGBPF_CT_F_*                          */
	/* The endpoint that owns the flow. Authoritative in ct4t_est,
	 * ct6t_est and ct6u_est, whose keys have none; elsewhere a copy of
	 * the key's (the datapath writes it at creation and promotion). */
	__u16 ep_id;
	__u8  pad2[4];
};
#define SGBPF_CT_CHECKED         (1u << 0) /* checked_gen is valid             */
#define SGBPF_CT_CHECKED_MAC     (1u << 1) /* the endpoint had a MAC: ep_mac   */
#define SGBPF_CT_SEQ_KNOWN(dir)  (1u << ((dir) & 1))       /* seq_next[dir] set */
#define SGBPF_CT_ACK_KNOWN(dir)  (1u << (2 + ((dir) & 1))) /* ack_last[dir] set */
/* A TCP flow picked up mid-stream (first packet not a bare SYN) that the
 * other side has not answered yet: it stays in ct_new with the TCP_SYN
 * timeout, whatever its state says, and moves to ct_est on the answer. */
#define SGBPF_CT_F_PICKUP        (1u << 0)
/* A kubelet probe connection (node address <-> probe port): its packets
 * count as probe traffic and the pod's are steered to the node's stack. */
#define SGBPF_CT_F_PROBE         (1u << 1)

/* frags: first-fragment verdicts, so later fragments follow them. */
struct sgbpf_frag_key {
	__u32 ep_id;
	__u32 frag_id;             /* IPv4 id (16 bits) or IPv6 frag id     */
	__u8  family;
	__u8  proto;
	__u8  dir;
	__u8  pad;
	__u8  src[16];
	__u8  dst[16];
};

struct sgbpf_frag_val {
	__u64 last_seen_ns;
	__u32 rule_id;
	__u8  verdict;             /* enum sgbpf_verdict                    */
	__u8  reason;
	__u16 pad;
};

/* ep_stats (per-CPU array indexed by ep_id). */
struct sgbpf_ep_stats {
	__u64 allow_packets[SGBPF_DIR_MAX];
	__u64 allow_bytes[SGBPF_DIR_MAX];
	__u64 drop_packets[SGBPF_DIR_MAX];
	__u64 drop_bytes[SGBPF_DIR_MAX];
	__u64 drops_by_reason[SGBPF_DROP_REASON_MAX];
	__u64 allows_by_reason[SGBPF_ALLOW_REASON_MAX];
	/* Probe traffic (allowed probe packets are allows_by_reason[PROBE]). */
	__u64 probe_drops;         /* probe packets dropped, any reason     */
	__u64 probe_steered;       /* pod -> node packets steered           */
};

/* rule_stats (per-CPU array indexed by slot * SGBPF_MAX_RULES + rule_id). */
struct sgbpf_rule_stats {
	__u64 packets;             /* new flows admitted                    */
	__u64 bytes;
};

/* global_stats (per-CPU array, one entry). */
struct sgbpf_global_stats {
	__u64 drops_by_reason[SGBPF_DROP_REASON_MAX];
	__u64 allows_by_reason[SGBPF_ALLOW_REASON_MAX];
	__u64 unknown_iface;       /* packets on interfaces with no entry   */
	__u64 ct_est_full;         /* confirmed flow could not be promoted  */
	__u64 ct_new_created;
	__u64 ct_est_created;
	__u64 probe_drops;         /* as in sgbpf_ep_stats                  */
	__u64 probe_steered;
	__u64 probe_unsteered;     /* probe reply passed unsteered: no target */
};

/* events ring buffer record. */
struct sgbpf_event {
	__u64 ts_ns;
	__u64 generation;
	__u32 ep_id;
	__u32 ifindex;
	__u32 rule_id;             /* SGBPF_RULE_NONE when none            */
	__u32 pkt_len;
	__u16 vlan_id;
	__u8  dir;
	__u8  verdict;
	__u8  reason;              /* allow or drop reason per verdict     */
	__u8  family;
	__u8  proto;
	__u8  ct_state;
	__u8  src[16];
	__u8  dst[16];
	__be16 sport;              /* ICMP: type << 8 | code in sport      */
	__be16 dport;
	__u8  flags;               /* SGBPF_EVENT_F_*                       */
	__u8  pad[3];
};
#define SGBPF_EVENT_F_PROBE      (1u << 0) /* kubelet probe traffic          */
#define SGBPF_EVENT_F_STEERED    (1u << 1) /* delivered to the node's stack  */

#define SGBPF_RULE_NONE 0xffffffffu

/* ---- maps whose keys carry a policy slot (the double buffer) --------- */

/* slot_config (array indexed by slot). */
struct sgbpf_slot_config {
	__u64 generation;
	__u32 flags;               /* SGBPF_CFG_*                          */
	__u32 timeouts_s[SGBPF_TO_MAX];
	__u32 n_rules;
};

/* ep_config: an endpoint's settings in one slot. Missing = fail closed. */
struct sgbpf_ep_key {
	__u32 slot;
	__u32 ep_id;
};

struct sgbpf_ep_val {
	__u32 flags;               /* SGBPF_EP_*                           */
	__u8  mac[6];              /* enforced on outbound when HAS_MAC    */
	__u16 vlan_id;
};

/* ep_addrs: every address an endpoint owns, in one slot. */
struct sgbpf_addr_key {
	__u32 slot;
	__u8  family;
	__u8  pad[3];
	__u8  addr[16];
};

struct sgbpf_addr_val {
	__u32 ep_id;
};

/* node_addrs: the node's own addresses, in one slot (probes, standard mode). */
/* (same key/value as ep_addrs; value.ep_id unused, set to SGBPF_RULE_NONE) */

/*
 * rule_trie (LPM): remote prefix -> port sets. Per (endpoint, direction,
 * family) the rules whose remote covers the whole family (a /0 CIDR, or a
 * prefix list holding a /0 of that family) form the BASE set, stored once;
 * the value at each other prefix is the SPECIFIC set: the union of every
 * non-base rule whose prefix covers it. One longest-prefix lookup yields
 * both sets, which together hold every rule that can match a remote address.
 * When base rules exist a /0 entry is present, so every address hits.
 * prefixlen = SGBPF_RULE_KEY_FIXED_BITS + address prefix length.
 */
struct sgbpf_rule_key {
	__u32 prefixlen;
	__u8  slot;
	__u8  dir;
	__u8  family;
	__u8  pad;
	__u32 ep_id;               /* host order: always matched in full    */
	__u8  addr[16];
};
#define SGBPF_RULE_KEY_FIXED_BITS 64

struct sgbpf_rule_val {
	__u32 set_id;              /* specific port set, or SGBPF_SET_NONE  */
	__u32 base_set_id;         /* base (/0) port set, or SGBPF_SET_NONE;
				    * equal in every entry of one (ep, dir,
				    * family). Sets are deduplicated per slot. */
};
#define SGBPF_SET_NONE 0xffffffffu /* no such set: skip its port lookups  */

/*
 * port_trie (LPM): (set, protocol, destination port) -> lowest matching rule
 * of that set.
 * A set's port ranges are split into disjoint intervals, each stored as
 * aligned power-of-two blocks. ICMP/ICMPv6 use port = type << 8 | code.
 * Protocols without ports use one block covering every port; the datapath
 * looks up port 0 for them. "All protocols" rules use proto SGBPF_PROTO_ANY.
 * prefixlen = SGBPF_PORT_KEY_FIXED_BITS + port prefix length (0..16).
 */
struct sgbpf_port_key {
	__u32 prefixlen;
	__u8  slot;
	__u8  pad;
	__be16 proto;              /* 0..255 or SGBPF_PROTO_ANY             */
	__be32 set_id;
	__be16 port;
	__u16 pad2;                /* never part of a prefix                */
};
#define SGBPF_PORT_KEY_FIXED_BITS 64

struct sgbpf_port_val {
	__u32 rule_id;             /* lowest rule id of the set covering it */
	__u32 flags;               /* SGBPF_PORT_*                          */
};

/* exempt (LPM): remote prefixes never filtered (metadata, DNS, ...). */
struct sgbpf_exempt_key {
	__u32 prefixlen;           /* SGBPF_EXEMPT_KEY_FIXED_BITS + plen    */
	__u8  slot;
	__u8  family;
	__u8  pad[2];
	__u8  addr[16];
};
#define SGBPF_EXEMPT_KEY_FIXED_BITS 32

struct sgbpf_exempt_val {
	__u32 flags;
};

/*
 * probe_ports: an endpoint's kubelet probe ports (TCP), in one slot. TCP
 * between a node address and one of these ports of the endpoint is probe
 * traffic: counted apart, and its packets from the pod to the node steered
 * to the node's stack (probe_target) instead of the VPC CNI's per-VLAN
 * routing, which with tcp_early_demux=1 drops them (spec 5.3).
 */
struct sgbpf_probe_key {
	__u32 slot;
	__u32 ep_id;
	__u16 port;                /* host order                            */
	__u16 pad;
};

struct sgbpf_probe_val {
	__u32 flags;
};

/* ---- node settings, not tied to a policy slot -------------------------- */

/*
 * probe_target[0]: where the pod's probe replies are delivered: the ingress
 * of the node's interface that holds its address (the one the probe left
 * by), with that interface's MAC as the frame's destination so the stack
 * takes it as its own. ifindex 0: no steering (probes follow the routes).
 */
struct sgbpf_probe_target {
	__u32 ifindex;
	__u8  mac[6];
	__u8  has_mac;             /* 0: the interface has no MAC (no rewrite) */
	__u8  pad;
};

#endif /* SGBPF_LAYOUT_H */
