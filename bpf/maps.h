/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map of the datapath. Names are the ones user/lib/loader.h lists in
 * enum sgbpf_map; key/value types and capacities come from sgbpf/layout.h.
 */
#ifndef SGBPF_BPF_MAPS_H
#define SGBPF_BPF_MAPS_H

/* ---- control ---------------------------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_state);
} state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SGBPF_NUM_SLOTS);
	__type(key, __u32);
	__type(value, struct sgbpf_slot_config);
} slot_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SGBPF_MAX_IFACES);
	__type(key, struct sgbpf_iface_key);
	__type(value, struct sgbpf_iface_val);
} ifaces SEC(".maps");

/* ---- slotted policy tables (the double buffer) ------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SGBPF_NUM_SLOTS * SGBPF_MAX_ENDPOINTS);
	__type(key, struct sgbpf_ep_key);
	__type(value, struct sgbpf_ep_val);
} ep_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SGBPF_MAX_EP_ADDRS);
	__type(key, struct sgbpf_addr_key);
	__type(value, struct sgbpf_addr_val);
} ep_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SGBPF_MAX_EP_ADDRS);
	__type(key, struct sgbpf_addr_key);
	__type(value, struct sgbpf_addr_val);
} node_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SGBPF_MAX_PROBE_PORTS);
	__type(key, struct sgbpf_probe_key);
	__type(value, struct sgbpf_probe_val);
} probe_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_probe_target);
} probe_target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SGBPF_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sgbpf_rule_key);
	__type(value, struct sgbpf_rule_val);
} rule_trie SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SGBPF_MAX_PORT_BLOCKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sgbpf_port_key);
	__type(value, struct sgbpf_port_val);
} port_trie SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SGBPF_MAX_EXEMPT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sgbpf_exempt_key);
	__type(value, struct sgbpf_exempt_val);
} exempt SEC(".maps");

/* ---- connection tracking ---------------------------------------------- */

/*
 * Each table is one map per family (layout.h): ct4_* keyed by the compact
 * IPv4 key, ct_* by the wide key (IPv6 flows only); confirmed TCP flows
 * are in ct4t_est / ct6t_est instead of ct4_est / ct_est, confirmed IPv6
 * UDP flows in ct6u_est. Capacities are per
 * family: a node's pods are mostly of one family (EKS clusters are IPv4 or
 * IPv6), which must not get half the table.
 *
 * Unconfirmed flows: LRU, so a flood of new (or half-open) flows only evicts
 * other unconfirmed flows, never a confirmed one (those live in *_est).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SGBPF_CT_NEW_MAX);
	__type(key, struct sgbpf_ct4_key);
	__type(value, struct sgbpf_ct_val);
} ct4_new SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SGBPF_CT_NEW_MAX);
	__type(key, struct sgbpf_ct_key);
	__type(value, struct sgbpf_ct_val);
} ct_new SEC(".maps");

/* Confirmed flows. Plain hash, never LRU: when full, inserts fail (the flow
 * stays in *_new and global_stats.ct_est_full counts it) instead of
 * evicting a live connection. Not preallocated: 1M preallocated entries
 * would pin ~150 MB per loaded instance (tests, check, replay). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SGBPF_CT_EST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sgbpf_ct4_key);
	__type(value, struct sgbpf_ct_val);
} ct4_est SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SGBPF_CT_EST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sgbpf_ct_key);
	__type(value, struct sgbpf_ct_val);
} ct_est SEC(".maps");

/* Confirmed IPv4 TCP flows, out of ct4_est: a 12-byte key (no endpoint,
 * no protocol; the entry names the endpoint), one hash round less on the
 * established fast path. Capacity of its own, like each family's. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SGBPF_CT_EST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sgbpf_ct4t_key);
	__type(value, struct sgbpf_ct_val);
} ct4t_est SEC(".maps");

/* Confirmed IPv6 TCP flows, out of ct_est, the same way: a 36-byte key (two
 * hash rounds where the 44-byte one takes three). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SGBPF_CT_EST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sgbpf_ct6t_key);
	__type(value, struct sgbpf_ct_val);
} ct6t_est SEC(".maps");

/* Confirmed IPv6 UDP flows, out of ct_est, under the same 36-byte key (a
 * table apart from TCP's: the key has no protocol). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SGBPF_CT_EST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sgbpf_ct6t_key);
	__type(value, struct sgbpf_ct_val);
} ct6u_est SEC(".maps");

/* Where sg_ct_create() builds a new entry: the value no longer fits the
 * 512-byte stack beside the rest of sg_judge(). Per CPU, one entry, no
 * state kept across packets (not pinned, not in the loader's map list). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_ct_val);
} ct_scratch SEC(".maps");

/* sg_now()'s per-CPU cache of the coarse clock: its value for one jiffy.
 * Private like ct_scratch (not pinned, not in the loader's map list). */
struct sg_clock {
	__u64 jiffies;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sg_clock);
} clock_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SGBPF_FRAG_MAX);
	__type(key, struct sgbpf_frag_key);
	__type(value, struct sgbpf_frag_val);
} frags SEC(".maps");

/* ---- counters and events ---------------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SGBPF_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct sgbpf_ep_stats);
} ep_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SGBPF_NUM_SLOTS * SGBPF_MAX_RULES);
	__type(key, __u32);
	__type(value, struct sgbpf_rule_stats);
} rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_global_stats);
} global_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SGBPF_EVENTS_BYTES);
} events SEC(".maps");

/* ---- policy swap grace period ----------------------------------------- */

/* Never read by the programs. The loader updates slot 0 after flipping
 * state.active_slot: updating a map-in-map makes the kernel
 * synchronize_rcu() before the syscall returns, so no program run that
 * could have read the old slot is still in flight afterwards. */
struct sgbpf_rcu_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct sgbpf_rcu_inner);
} rcu_barrier SEC(".maps");

#endif /* SGBPF_BPF_MAPS_H */
