/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The policy compiler: sg_policy (model.h) -> the exact table entries the
 * datapath reads (include/sgbpf/layout.h). See docs/compiled-form.md.
 *
 * Compiled entries carry slot 0; the loader stamps the slot it writes into.
 * Compilation is deterministic: the same policy, in either AWS format, gives
 * byte-identical entry arrays (rules are put in a canonical order first).
 */
#ifndef SGBPF_COMPILE_H
#define SGBPF_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include <sgbpf/layout.h>

#include "diag.h"
#include "model.h"

/* A compiled rule, for tracing a verdict back to its source. */
struct sg_compiled_rule {
	uint32_t rule_id;               /* index in sg_compiled.rules          */
	const struct sg_rule *src;      /* points into the policy (not owned)  */
	char sg_id[SG_ID_MAX];
	uint8_t family;                 /* which family this expansion is for  */
					/* (SGBPF_AF_MAX: a referenced group, both families) */
	uint32_t n_prefixes[SGBPF_AF_MAX]; /* prefixes the remote expanded to   */
};

struct sg_compiled_endpoint {
	uint32_t ep_id;
	const struct sg_endpoint *src;  /* points into the policy              */
	struct sgbpf_ep_val val;
	/* Effective rules per direction and family (rule ids, sorted). */
	uint32_t *rule_ids[SGBPF_DIR_MAX];
	size_t n_rule_ids[SGBPF_DIR_MAX];
};

struct sg_compiled {
	struct sgbpf_slot_config config;

	struct sg_compiled_endpoint *endpoints;
	size_t n_endpoints;

	struct sg_compiled_rule *rules;
	size_t n_rules;

	/* Table entries, slot 0, sorted by key bytes. */
	struct sgbpf_ep_key *ep_keys;        struct sgbpf_ep_val *ep_vals;       size_t n_ep;
	struct sgbpf_addr_key *addr_keys;    struct sgbpf_addr_val *addr_vals;   size_t n_addr;
	struct sgbpf_addr_key *node_keys;    struct sgbpf_addr_val *node_vals;   size_t n_node;
	struct sgbpf_rule_key *rule_keys;    struct sgbpf_rule_val *rule_vals;   size_t n_rule_entries;
	struct sgbpf_port_key *port_keys;    struct sgbpf_port_val *port_vals;   size_t n_port_entries;
	struct sgbpf_exempt_key *exempt_keys; struct sgbpf_exempt_val *exempt_vals; size_t n_exempt;
	size_t n_sets;                       /* distinct port sets             */
	struct sgbpf_probe_key *probe_keys;  struct sgbpf_probe_val *probe_vals; size_t n_probe;
};

/*
 * Endpoint ids: endpoints keep the id they had in prev (matched by name) so
 * conntrack and counters survive a policy swap; new endpoints take the lowest
 * free id. prev may be NULL (ids 0.. in document order).
 */
struct sg_ep_ids {
	char **names;
	uint32_t *ids;
	size_t n;
};

/*
 * Compile policy. Returns 0 or a negative errno: -EINVAL on policy errors,
 * -E2BIG when a table would exceed its capacity (a diag says which and by
 * how much), -ENOMEM. out is valid only on success; free with sg_compiled_free.
 */
int sg_compile(const struct sg_policy *policy, const struct sg_ep_ids *prev,
	       struct sg_compiled *out, struct sg_diags *diags);
void sg_compiled_free(struct sg_compiled *c);

/* Find a compiled endpoint by name (NULL if absent). */
const struct sg_compiled_endpoint *sg_compiled_endpoint(const struct sg_compiled *c,
							const char *name);

/* Human-readable one-line form of a rule: "sg-0123 inbound tcp 443 from 10.0.0.0/16". */
char *sg_rule_describe(const struct sg_compiled_rule *rule, char *buf, size_t len);

/* Default exempt list (spec 4.1) and the EC2 default timeouts. */
extern const char *const sg_default_exempt[];
extern const uint32_t sg_default_timeouts_s[SGBPF_TO_MAX];

#endif
