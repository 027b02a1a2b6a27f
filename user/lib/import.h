/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sgbpf import: the endpoints document for one node, built from Kubernetes
 * objects as kubectl prints them (-o json):
 *   pods       kubectl get pods -A -o json          (required)
 *   sgps       kubectl get securitygrouppolicies -A -o json (required)
 *   nodes      kubectl get nodes -o json            (node addresses, optional)
 *   sas        kubectl get serviceaccounts -A -o json (needed when an SGP uses
 *              spec.serviceAccountSelector)
 *   enis       aws ec2 describe-network-interfaces  (optional: the branch
 *              ENIs' own SGs, which win over the SGPs)
 * A pod is imported when it is on the node, Running (or Pending), and carries
 * the vpc.amazonaws.com/pod-eni annotation, which the endpoints parser reads
 * (VLAN id, MAC, addresses). The annotation does not name SGs: they are the
 * union of the SecurityGroupPolicies in the pod's namespace that select it,
 * as the VPC resource controller computes them when it creates the branch
 * ENI, or the ENI's groups from `enis` when given.
 */
#ifndef SGBPF_IMPORT_H
#define SGBPF_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "model.h"

/* One input document: name (used in messages) and its text. text NULL = absent. */
struct sg_import_doc {
	const char *name;
	char *text;
	size_t len;
};

struct sg_import_docs {
	struct sg_import_doc pods, sgps, nodes, sas, enis;
};

struct sg_import_opts {
	const char *node;                /* spec.nodeName of the pods to take (required) */
	enum sg_enforcing_mode mode;     /* node.enforcingMode and the veth prefix       */
	const char *veth_prefix;         /* standard mode's prefix; NULL = "eni"          */
	const struct sg_addr *node_addrs;/* added to the node's InternalIPs               */
	size_t n_node_addrs;
	/* The node's own SGs: written as "members" holding the node's addresses,
	 * so pod rules that reference them (kubelet probes) match the node. */
	const char *const *node_sgs;
	size_t n_node_sgs;
};

/*
 * Build the endpoints document. On success *doc holds it as JSON text
 * (endpoints sorted by name, deterministic; caller frees) and 0 is returned.
 * Errors and warnings go to diags, naming the input, the object
 * (namespace/name) and the JSON path. Returns -EINVAL when any input had
 * errors (*doc NULL), -ENOMEM on allocation failure.
 */
int sg_import(const struct sg_import_docs *docs, const struct sg_import_opts *opts,
	      char **doc, struct sg_diags *diags);

/* Read a whole file into doc (name = path). 0 or -errno (reported in diags). */
int sg_import_read(const char *path, struct sg_import_doc *doc, struct sg_diags *diags);
void sg_import_docs_free(struct sg_import_docs *docs);

/*
 * The VPC CNI's host-side veth name of a pod: prefix + the first 11 hex
 * digits of sha1("namespace.name"). out holds 16 bytes. 0, or -EINVAL when
 * prefix makes the name longer than 15 characters.
 */
int sg_pod_veth_name(const char *prefix, const char *ns, const char *name, char out[16]);

/* SHA-1 of len bytes (FIPS 180-4). */
void sg_sha1(const void *data, size_t len, uint8_t digest[20]);

#endif
