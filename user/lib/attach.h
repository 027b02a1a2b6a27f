/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Attaching the datapath programs to an interface, replacing them in place
 * (a restart or upgrade never leaves a gap), and detaching them.
 *
 * Modes (an RX packet is judged by exactly one program):
 *   SGBPF_ATTACH_TC   RX = TC clsact ingress, TX = TC clsact egress (default)
 *   SGBPF_ATTACH_XDP  RX = XDP (bpf_link, pinned), TX = TC clsact egress
 * TC filters use a fixed handle and priority and BPF_TC_F_REPLACE, so
 * attaching again swaps the program atomically. XDP uses a bpf_link pinned
 * at <pin_dir>/links/xdp-<ifindex> so it outlives the daemon; attaching
 * again updates the link's program (bpf_link_update) atomically.
 */
#ifndef SGBPF_ATTACH_H
#define SGBPF_ATTACH_H

#include <stdbool.h>

#include "loader.h"

enum sgbpf_attach_mode {
	SGBPF_ATTACH_TC = 0,
	SGBPF_ATTACH_XDP = 1,
};

/* Fixed TC filter identity of sgbpf's programs (both hooks). */
#define SGBPF_TC_HANDLE   0x5b9f
#define SGBPF_TC_PRIORITY 0x5b9

/* "tc" / "xdp" ("both" = xdp: XDP for RX, TC for TX). Return 0 or -EINVAL. */
int sgbpf_attach_mode_parse(const char *text, enum sgbpf_attach_mode *mode);
const char *sgbpf_attach_mode_name(enum sgbpf_attach_mode mode);

/*
 * Attach (or atomically replace) the programs on ifindex in mode, then take
 * away the other mode's RX program if one is there (after, so there is no
 * gap). link_dir: bpffs directory for pinned XDP links (required for XDP;
 * NULL means no XDP links can be found or removed).
 * Returns 0 or -errno with a message on stderr naming the interface.
 */
int sgbpf_attach(struct sgbpf *h, int ifindex, enum sgbpf_attach_mode mode,
		 const char *link_dir);

/*
 * Remove sgbpf's programs from ifindex (both modes). Missing programs and a
 * vanished interface are not errors (the kernel already dropped them); a
 * pinned XDP link of the interface is unpinned in every case.
 */
int sgbpf_detach(int ifindex, const char *link_dir);

/* Whether sgbpf's TX program (present in both modes) is on ifindex. */
bool sgbpf_attached(int ifindex);

/*
 * XDP alone (a trunk's front line, sgbpfd --trunk): the XDP program through
 * a pinned link as in SGBPF_ATTACH_XDP (atomically updated when one is
 * pinned), and no TC program of sgbpf's on either hook: what leaves by the
 * trunk was judged where it entered the node, and a TX program there would
 * judge the pods' outbound traffic a second time. Returns 0 or -errno with
 * a message on stderr naming the interface.
 */
int sgbpf_attach_xdp_only(struct sgbpf *h, int ifindex, const char *link_dir);

/* Whether the XDP link pinned in link_dir drives ifindex. */
bool sgbpf_xdp_attached(int ifindex, const char *link_dir);

/* Path of the pinned XDP link of ifindex into buf. Returns buf. */
char *sgbpf_xdp_link_path(const char *link_dir, int ifindex, char *buf, size_t len);

#endif
