// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpfd: keep the probe steering target (bpf/steer.h) pointing at the node
 * interface holding the node's address: set after every policy apply (the
 * node's addresses come with the endpoints document) and re-checked at every
 * reconcile (the interface may come later, or be re-created).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_int.h"
#include "probe_target.h"

static void keep_node_addrs(struct sgd *d, const struct sg_node *node)
{
	size_t n = node->n_addrs < SGD_MAX_NODE_ADDRS ? node->n_addrs : SGD_MAX_NODE_ADDRS;

	memcpy(d->node_addrs, node->addrs, n * sizeof(*node->addrs));
	d->n_node_addrs = n;
}

void sgd_probe_target_refresh(struct sgd *d, const struct sg_node *node)
{
	struct sgbpf_probe_target t;
	struct sg_node kept = {};
	char ifname[IF_NAMESIZE] = "", why[256] = "";
	struct sgd_log l;
	int err;

	if (node)
		keep_node_addrs(d, node);
	kept.addrs = d->node_addrs;
	kept.n_addrs = d->n_node_addrs;
	err = sgbpf_probe_target_find(d->cfg->node_iface, &kept, &t, ifname, sizeof(ifname),
				      why, sizeof(why));
	if (err)
		memset(&t, 0, sizeof(t));
	if (d->probe_target_known && !memcmp(&t, &d->probe_target, sizeof(t)))
		return;
	if (sgbpf_probe_target_set(d->h, &t))
		return;  /* the loader said why; retried at the next reconcile */
	d->probe_target = t;
	d->probe_target_known = true;
	if (err) {
		if (sgd_log_begin(&l, SGD_WARN, "probe_steering_off")) {
			sgd_log_str(&l, "reason", why);
			sgd_log_str(&l, "msg", "kubelet probes follow the routes (they need "
				    "tcp_early_demux=0 with the VPC CNI's strict-mode wiring)");
			sgd_log_end(&l);
		}
		return;
	}
	if (d->cfg->attach == SGBPF_ATTACH_XDP && d->cfg->role == SGBPF_ROLE_POD_FACING &&
	    sgd_log_begin(&l, SGD_WARN, "probe_steering_needs_tc")) {
		/* XDP can't hand a frame to another interface's stack. */
		sgd_log_str(&l, "msg", "with --attach xdp the pods' packets are judged by XDP, "
			    "which can't steer probe replies; use --attach tc (the default) so "
			    "probes work with tcp_early_demux=1");
		sgd_log_end(&l);
	}
	if (sgd_log_begin(&l, SGD_INFO, "probe_steering")) {
		char mac[18] = "none";

		if (t.has_mac)
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", t.mac[0],
				 t.mac[1], t.mac[2], t.mac[3], t.mac[4], t.mac[5]);
		sgd_log_str(&l, "iface", ifname);
		sgd_log_u64(&l, "ifindex", t.ifindex);
		sgd_log_str(&l, "mac", mac);
		sgd_log_end(&l);
	}
}
