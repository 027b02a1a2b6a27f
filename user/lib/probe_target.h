/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where the datapath steers the pod's probe replies (bpf/steer.h): the
 * node interface that holds the node's address, i.e. the one a probe from
 * the kubelet leaves by.
 */
#ifndef SGBPF_PROBE_TARGET_H
#define SGBPF_PROBE_TARGET_H

#include <stddef.h>

#include <sgbpf/layout.h>

#include "model.h"

/*
 * Fill *out for the interface ifname, or (ifname NULL or "") for the
 * interface of this network namespace that holds one of node's addresses
 * (IPv4 first). Returns 0, -ENOENT when no interface holds a node address
 * (or the node lists none), -ENODEV when ifname does not exist, or another
 * negative errno; why gets a sentence saying what was looked for.
 */
int sgbpf_probe_target_find(const char *ifname, const struct sg_node *node,
			    struct sgbpf_probe_target *out, char *ifname_out, size_t ifname_len,
			    char *why, size_t why_len);

#endif
