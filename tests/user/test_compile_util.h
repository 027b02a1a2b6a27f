/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers for the compiler tests: building policies in code, a reference
 * (brute-force) evaluation of the raw rules, and a simulation of the
 * datapath's LPM lookups over the compiled entry arrays.
 */
#ifndef SGBPF_TEST_COMPILE_UTIL_H
#define SGBPF_TEST_COMPILE_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "compile.h"
#include "model.h"
#include "../lib/policy_build.h"

/* ---- a packet as the rules see it ---- */
struct tc_pkt {
	const struct sg_endpoint *ep;
	int dir;                   /* SGBPF_DIR_* */
	int family;
	uint8_t remote[16];
	int proto;                 /* IP protocol */
	int port;                  /* tcp/udp destination port */
	int icmp_type, icmp_code;
};

/* Does raw rule r (of an SG on the endpoint) allow pkt? *zero: a /0 prefix matched. */
bool tc_rule_allows(const struct sg_policy *pol, const struct sg_rule *r,
		    const struct tc_pkt *pkt, bool *zero);

/* Reference verdict: iterate every rule of the endpoint's SGs. */
bool tc_brute(const struct sg_policy *pol, const struct tc_pkt *pkt, bool *zero);

/*
 * The datapath's lookups over c's tables (bpf/policy.h sg_rule_lookup): the
 * rule_trie, then the specific and the base set, each (proto, port) then
 * (ANY, 0); base_first: the base set first (the untracked check). Aborts
 * beyond four port_trie lookups. Returns allowed; fills rule id and flags
 * (SGBPF_PORT_ZERO_PREFIX: the base set answered).
 */
bool tc_sim(const struct sg_compiled *c, uint32_t ep_id, const struct tc_pkt *pkt,
	    bool base_first, uint32_t *rule_id, uint32_t *flags);

/* Structural checks of rule_trie and port_trie around base sets (quadratic:
 * small policies only); what is wrong, or NULL. */
const char *tc_trie_malformed(const struct sg_compiled *c);

/* memcmp every table of a and b; returns the name of the first that differs or NULL. */
const char *tc_tables_differ(const struct sg_compiled *a, const struct sg_compiled *b);

/* Name of the first table not strictly sorted by key bytes, or NULL. */
const char *tc_tables_unsorted(const struct sg_compiled *c);

/* xorshift PRNG for reproducible random policies. */
static inline uint32_t tc_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 11);
}

double tc_now_ms(void);

#endif
