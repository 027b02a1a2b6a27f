/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * An independent reference evaluator of the security-group spec
 * (/work/shared/spec/security-groups.md sections 2-4), for the tests only.
 *
 * It reads the raw rules of a struct sg_policy -- never the compiler's
 * tables -- and keeps its own conntrack dictionary, so the datapath can be
 * checked against it packet by packet (tests/bpf/test_diff.c).
 *
 * Covered: neighbour discovery (RFC 4861 validity: hop limit 255, on-link
 * addresses, no router messages from a pod), the source/destination check
 * (addresses and MAC), the exempt list (what the pod sends; its replies are
 * tracked), conntrack keyed per endpoint (TCP/UDP 5-tuple, ICMP
 * echo by id, other protocols by address pair), untracked /0 flows, rule
 * union per direction and family, referenced groups, prefix lists, strict
 * re-evaluation, replies of untracked flows untracked too. ICMP state starts with an echo request only: an echo reply
 * or other ICMP message with no entry is judged by the rules and opens
 * nothing. A /0 for the untracked rule (spec 3.4) is a /0 CIDR or a prefix
 * list holding a /0 entry, on either side. Not covered (the dedicated suites test them): time,
 * fragments, ICMP errors, DHCP, standard mode.
 */
#ifndef SGBPF_TEST_REF_MODEL_H
#define SGBPF_TEST_REF_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include <sgbpf/layout.h>

#include "model.h"

struct ref_pkt {
	uint32_t ep;               /* index into policy->endpoints            */
	uint8_t dir;               /* SGBPF_DIR_IN / SGBPF_DIR_OUT            */
	uint8_t family;
	uint8_t proto;
	uint8_t src[16], dst[16];
	uint8_t src_mac[6];
	uint16_t sport, dport;     /* TCP/UDP                                  */
	uint8_t tcp_flags;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;
	uint8_t hop_limit;         /* IPv6 hop limit (ND must have 255)        */
};

struct ref_verdict {
	bool allow;
	int reason;                /* enum sgbpf_allow_reason / sgbpf_drop_reason */
};

struct ref_model;

/* p must stay valid until ref_free or the next ref_set_policy. */
struct ref_model *ref_new(const struct sg_policy *p);
/* A policy change: conntrack is kept. The new policy must list the same
 * endpoints in the same order (they are identified by index). */
void ref_set_policy(struct ref_model *m, const struct sg_policy *p);
/* Judge one packet and update conntrack as the spec says. */
void ref_eval(struct ref_model *m, const struct ref_pkt *pkt, struct ref_verdict *v);
/* Forget every conntrack entry. */
void ref_forget(struct ref_model *m);
void ref_free(struct ref_model *m);
size_t ref_ct_count(const struct ref_model *m);

/* Does rule r (of one of endpoint pkt->ep's groups) allow pkt as a new flow
 * in pkt->dir? Used to check the rule an event names. */
bool ref_rule_allows(const struct sg_policy *p, const struct sg_rule *r,
		     const struct ref_pkt *pkt);

#endif
