/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Pinned state in bpffs, besides the datapath's own maps (loader.h):
 *
 *   <pin_dir>/maps/<name>     every datapath map (sgbpf_open_pinned)
 *   <pin_dir>/progs/<name>    every program
 *   <pin_dir>/links/xdp-<ifindex>  XDP links (attach.h)
 *   <pin_dir>/maps/ep_records the endpoint name -> id assignment (below)
 *
 * ep_records lives in bpffs (not a file under /run) so it has exactly the
 * lifetime of the conntrack state whose keys it explains, even when the
 * daemon's container loses its own filesystem. It is double-buffered like
 * the policy: entry slot * SGBPF_MAX_ENDPOINTS + ep_id describes endpoint
 * ep_id of policy slot `slot`. The daemon writes the inactive slot before
 * each swap; the swap's flip of state.active_slot commits it, so after a
 * crash at any point the active slot's records match the policy in force.
 */
#ifndef SGBPF_PIN_H
#define SGBPF_PIN_H

#include <stdbool.h>
#include <stdint.h>

#include <sgbpf/layout.h>

#define SGBPF_PIN_DIR_DEFAULT "/sys/fs/bpf/sgbpf"
#define SGBPF_BPFFS_ROOT      "/sys/fs/bpf"

#define SGBPF_EP_NAME_MAX 464     /* with the NUL; k8s "ns/pod" needs <= 317 */
#define SGBPF_EP_REC_USED (1u << 0)

struct sgbpf_ep_record {
	uint64_t generation;       /* policy generation that wrote it   */
	uint32_t flags;            /* SGBPF_EP_REC_*                    */
	uint16_t vlan_id;
	uint16_t pad;
	char ifname[16];           /* host-side interface, "" if none   */
	char name[SGBPF_EP_NAME_MAX];
};

/*
 * Make sure pin_dir can hold pins: mounts bpffs at /sys/fs/bpf when pin_dir
 * is under it and nothing is mounted there, then creates pin_dir and its
 * maps/, progs/ and links/ subdirectories. Returns 0 or -errno with a
 * message on stderr saying what to do.
 */
int sgbpf_pin_prepare(const char *pin_dir);

/* "<pin_dir>/<sub>/<name>" into buf; -ENAMETOOLONG if it does not fit. */
int sgbpf_pin_path(char *buf, size_t len, const char *pin_dir, const char *sub,
		   const char *name);

/* Open (creating and pinning when absent) <pin_dir>/maps/ep_records.
 * Returns its fd or -errno. */
int sgbpf_ep_records_open(const char *pin_dir);

/* Read the n = SGBPF_MAX_ENDPOINTS records of slot into recs. */
int sgbpf_ep_records_read(int fd, uint32_t slot, struct sgbpf_ep_record *recs);

/* Replace every record of slot with recs (SGBPF_MAX_ENDPOINTS of them). */
int sgbpf_ep_records_write(int fd, uint32_t slot, const struct sgbpf_ep_record *recs);

/* Remove pin_dir and everything pinned under it (used by tests and the
 * bench for their private pin directories). */
int sgbpf_pin_remove(const char *pin_dir);

#endif
