/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Loading the datapath (bpf/sgbpf.bpf.c, via its libbpf skeleton) and
 * swapping policies into it atomically.
 *
 * Atomic swap: every policy table's key carries a slot (0/1). A swap brings
 * the inactive slot to exactly the new policy, flips state.active_slot with
 * one array update (each packet reads the slot once, so it is judged wholly
 * by one policy), and waits for an RCU grace period (an update of the
 * map-in-map "rcu_barrier" makes the kernel synchronize_rcu(), so no packet
 * still reads the old slot). Both slots stay populated: the handle remembers
 * what it wrote into each, so the next swap merges that record (the policy
 * of two generations ago) against the new compiled tables and writes only
 * entries that are new or changed and deletes only those that are gone.
 * A slot whose content the handle doesn't know (maps taken over from pins,
 * a failed rollback) is walked and emptied, then written in full.
 */
#ifndef SGBPF_LOADER_H
#define SGBPF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sgbpf/layout.h>

#include "compile.h"

/* The programs in the object, by role. */
enum sgbpf_prog {
	SGBPF_PROG_XDP = 0,          /* "sgbpf_xdp": RX of branch or trunk (VLAN-keyed) */
	SGBPF_PROG_TC_INGRESS,       /* "sgbpf_tc_ingress"                              */
	SGBPF_PROG_TC_EGRESS,        /* "sgbpf_tc_egress"                               */
	SGBPF_PROG_XDP_PARSE_ONLY,   /* "sgbpf_xdp_parse_only": bench baseline          */
	SGBPF_PROG_TC_PARSE_ONLY,    /* "sgbpf_tc_parse_only":  bench baseline          */
	SGBPF_PROG_MAX,
};

/* The maps, by role (names as in bpf/maps.h). */
enum sgbpf_map {
	SGBPF_MAP_STATE = 0,         /* "state"        */
	SGBPF_MAP_SLOT_CONFIG,       /* "slot_config"  */
	SGBPF_MAP_IFACES,            /* "ifaces"       */
	SGBPF_MAP_EP_CONFIG,         /* "ep_config"    */
	SGBPF_MAP_EP_ADDRS,          /* "ep_addrs"     */
	SGBPF_MAP_NODE_ADDRS,        /* "node_addrs"   */
	SGBPF_MAP_RULE_TRIE,         /* "rule_trie"    */
	SGBPF_MAP_PORT_TRIE,         /* "port_trie"    */
	SGBPF_MAP_EXEMPT,            /* "exempt"       */
	SGBPF_MAP_CT_NEW,            /* "ct_new"       */
	SGBPF_MAP_CT_EST,            /* "ct_est"       */
	SGBPF_MAP_FRAGS,             /* "frags"        */
	SGBPF_MAP_EP_STATS,          /* "ep_stats"     */
	SGBPF_MAP_RULE_STATS,        /* "rule_stats"   */
	SGBPF_MAP_GLOBAL_STATS,      /* "global_stats" */
	SGBPF_MAP_EVENTS,            /* "events"       */
	SGBPF_MAP_RCU_BARRIER,       /* "rcu_barrier"  */
	SGBPF_MAP_PROBE_PORTS,       /* "probe_ports"  */
	SGBPF_MAP_PROBE_TARGET,      /* "probe_target" */
	/* Conntrack is one map per family and table; ct_new/ct_est above
	 * hold the IPv6 flows. Go through ct.h, which hides the split. */
	SGBPF_MAP_CT4_NEW,           /* "ct4_new"      */
	SGBPF_MAP_CT4_EST,           /* "ct4_est"      */
	/* Confirmed TCP and IPv6 UDP flows (not in ct4_est / ct_est), keyed
	 * without the endpoint; ct.h hides them too. */
	SGBPF_MAP_CT4T_EST,          /* "ct4t_est"     */
	SGBPF_MAP_CT6T_EST,          /* "ct6t_est"     */
	SGBPF_MAP_CT6U_EST,          /* "ct6u_est"     */
	SGBPF_MAP_MAX,
};

const char *sgbpf_prog_name(enum sgbpf_prog prog);
const char *sgbpf_map_name(enum sgbpf_map map);

struct sgbpf;                    /* an open, loaded datapath */

/* Load the programs and maps privately (nothing pinned, nothing attached):
 * for `sgbpf check`, `sgbpf replay`, the tests and the bench.
 * Returns 0 or -errno with a message on stderr saying what failed. */
int sgbpf_open(struct sgbpf **out);
void sgbpf_close(struct sgbpf *h);

/*
 * Load the datapath with every map and program pinned under pin_dir (maps/,
 * progs/; see pin.h), for the daemon. Mounts bpffs at /sys/fs/bpf when
 * pin_dir is under it and nothing is mounted there.
 *  - pin_dir holds pinned maps whose state[0].layout_version is this
 *    build's SGBPF_LAYOUT_VERSION: they are reused, so conntrack, counters,
 *    the policy in force and the event ring buffer carry over; programs are
 *    loaded fresh against them and re-pinned (attach them again to replace
 *    the old ones atomically).
 *  - another layout version, or maps of another shape: refused (-EPROTO)
 *    with a message naming both versions and what to do. Never mixed.
 *  - nothing pinned: loaded fresh and pinned (state last, so a half-pinned
 *    directory is recognised as empty next time).
 * flags: SGBPF_PIN_REUSE_ONLY refuses (-ENOENT) when nothing is pinned.
 * Closing the handle leaves the pins. Returns 0 or -errno.
 */
#define SGBPF_PIN_REUSE_ONLY (1u << 0)
int sgbpf_open_pinned(const char *pin_dir, unsigned flags, struct sgbpf **out);

/* True when the handle took over pinned maps written by an earlier load. */
bool sgbpf_reused(const struct sgbpf *h);

int sgbpf_prog_fd(const struct sgbpf *h, enum sgbpf_prog prog);
int sgbpf_map_fd(const struct sgbpf *h, enum sgbpf_map map);

struct sgbpf_swap_stats {
	uint64_t write_ns;           /* bringing the inactive slot up to date */
	uint64_t flip_ns;            /* flip + grace period         */
	uint64_t cleanup_ns;         /* always 0: the old slot is kept for the next swap */
	uint32_t slot;               /* slot now in force           */
	uint64_t generation;
	uint64_t entries_written;    /* slotted entries new or changed */
	uint64_t entries_deleted;    /* slotted entries no longer present */
	bool full_rewrite;           /* slot content was unknown: walked, emptied, rewritten */
};

/*
 * Swap compiled policy in atomically (see top of file). On failure before the
 * flip the policy in force is untouched and the half-written slot is emptied
 * (or, if even that fails, marked unknown so the next swap walks it).
 * Returns 0 or -errno. stats may be NULL.
 */
int sgbpf_apply(struct sgbpf *h, const struct sg_compiled *c, uint64_t generation,
		struct sgbpf_swap_stats *stats);

/* Tell the datapath which endpoint an interface (or trunk+VLAN) serves. */
int sgbpf_iface_set(struct sgbpf *h, uint32_t ifindex, uint16_t vlan_id,
		    uint32_t ep_id, enum sgbpf_role role);
int sgbpf_iface_del(struct sgbpf *h, uint32_t ifindex, uint16_t vlan_id);
/* Where the pod's probe replies are steered (bpf/steer.h); NULL or ifindex
 * 0 turns steering off. Not part of a policy slot: it is the node's. */
int sgbpf_probe_target_set(struct sgbpf *h, const struct sgbpf_probe_target *t);
int sgbpf_probe_target_get(const struct sgbpf *h, struct sgbpf_probe_target *t);

/* Delete every conntrack, fragment and stats entry of an endpoint. */
int sgbpf_ep_forget(struct sgbpf *h, uint32_t ep_id);

/* Run one frame (starting at the Ethernet header) through a program with
 * BPF_PROG_TEST_RUN. ifindex 0 = loopback. *action gets the program's return
 * (XDP_PASS/XDP_DROP, TC_ACT_OK/TC_ACT_SHOT). Returns 0 or -errno. */
int sgbpf_run(struct sgbpf *h, enum sgbpf_prog prog, const void *frame, size_t len,
	      uint32_t ifindex, int *action);
/* Same, repeat times (bench); *duration_ns = mean per run as the kernel reports. */
int sgbpf_run_repeat(struct sgbpf *h, enum sgbpf_prog prog, const void *frame, size_t len,
		     uint32_t ifindex, uint32_t repeat, int *action, uint32_t *duration_ns);

/* True when the program's return value lets the frame through. */
bool sgbpf_action_passes(enum sgbpf_prog prog, int action);

/*
 * Fault injection for the fault tests (tests/e2e/test_faults.sh, see
 * docs/reliability.md). Compiled in, inert unless the environment has
 * SGBPF_FAULT_KILL="S:N" (SIGKILL this process at fault point N, 1-based, of
 * its S-th swap) or "S:N:+USEC" (at that point arm a timer that SIGKILLs it
 * USEC microseconds later, landing anywhere in what follows, e.g. mid-compile).
 * A point names itself first ("sgbpf: fault injection: ...") on stderr, or
 * appended to the file SGBPF_FAULT_LOG names (sgbpfd captures stderr during
 * a swap, so the line would die with it).
 * sgbpf_fault_swap_begin() starts the count of a swap (sgbpfd: each reload
 * that reads the policy directory); sgbpf_apply() calls sgbpf_fault_point()
 * before its first and after each of its map writes.
 */
void sgbpf_fault_swap_begin(void);
void sgbpf_fault_point(const char *what);

#endif
