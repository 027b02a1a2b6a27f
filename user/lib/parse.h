/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading a policy directory: every *.json in it, kind detected by content:
 *   SecurityGroups[]            describe-security-groups output
 *   SecurityGroupRules[]        describe-security-group-rules output
 *   PrefixListId + Entries[]    a managed prefix list
 *   endpoints / node / members  the endpoints document (at most one)
 * Endpoints may carry "podEni": the vpc.amazonaws.com/pod-eni annotation
 * (array, or the annotation's JSON string) giving vlanId, MAC and address.
 */
#ifndef SGBPF_PARSE_H
#define SGBPF_PARSE_H

#include "diag.h"
#include "model.h"

/*
 * Parse one JSON document held in text (len bytes) named file (used in
 * messages) into policy. Errors and warnings go to diags.
 * Returns 0, or -EINVAL when the document had errors (policy keeps whatever
 * was parsed before the fault; callers discard it on error).
 */
int sg_parse_document(struct sg_policy *policy, const char *file,
		      const char *text, size_t len, struct sg_diags *diags);

/*
 * Read every *.json file of dir (sorted by name, so results are stable) into
 * policy, then check cross references (endpoint SGs defined, prefix lists
 * defined and of the right family, duplicate ids and endpoint addresses,
 * referenced groups: warning when undefined).
 * Returns 0, -EINVAL when any document had errors, or -errno when the
 * directory cannot be read (a diag names the directory and the cause).
 */
int sg_policy_load_dir(struct sg_policy *policy, const char *dir,
		       struct sg_diags *diags);

/* Cross-reference checks alone (called by sg_policy_load_dir). */
int sg_policy_check(const struct sg_policy *policy, struct sg_diags *diags);

/* Map a protocol as written in IpProtocol to -1..255; -EINVAL if unknown. */
int sg_protocol_parse(const char *text, int *proto);
/* Name for messages: "tcp", "udp", "icmp", "icmpv6", "all", or the number. */
const char *sg_protocol_name(int proto, char *buf, size_t len);

#endif
