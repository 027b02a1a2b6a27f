/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Internals of the policy compiler shared by compile.c (driver, tables) and
 * compile_sets.c (prefix walk and port-set construction). Not a public API.
 */
#ifndef SGBPF_COMPILE_INT_H
#define SGBPF_COMPILE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "compile.h"

/* A canonical (masked) prefix; IPv4 uses the first 4 bytes. */
struct cc_pfx {
	uint8_t addr[16];
	uint8_t plen;
	uint8_t pad[3];
};

/* A tagged port interval of one protocol (0..255 or SGBPF_PROTO_ANY). */
struct cc_iv {
	uint16_t proto;
	uint16_t lo;
	uint16_t hi;
	uint16_t pad;
	uint32_t rule_id;
	uint32_t flags;               /* SGBPF_PORT_* */
};

/* What one rule allows, port-wise: one protocol and one interval. */
struct cc_ports {
	uint16_t proto;
	uint16_t lo;
	uint16_t hi;
};

/* The prefixes a rule's remote expands to in one family. */
struct cc_expansion {
	const struct cc_pfx *p;
	uint32_t n;
};

/* One rule_trie entry before it gets its endpoint, direction and family.
 * set_id and base_set_id may be SGBPF_SET_NONE. */
struct cc_emit {
	struct cc_pfx p;
	uint32_t set_id;
	uint32_t base_set_id;
};

/* Deduplicated port sets: set i is ivs[off[i] .. off[i] + len[i]). */
struct cc_sets {
	struct cc_iv *ivs;
	size_t n_ivs, cap_ivs;
	size_t *off;
	uint32_t *len;
	uint64_t *hash;
	size_t n_sets, cap_sets;
	uint32_t *slots;              /* open addressing: set id + 1, 0 = empty */
	size_t n_slots;
};

struct cc_item {
	struct cc_pfx p;
	uint32_t rule_id;
};

struct cc_event {
	uint32_t pos;
	uint32_t idx;
	uint32_t start;
};

struct cc_engine {
	const struct cc_expansion (*exp)[SGBPF_AF_MAX];   /* per rule id */
	const struct cc_ports *ports;                     /* per rule id */
	struct cc_sets sets;
	/* scratch, reused between calls */
	struct cc_item *items, *items2, *base;
	size_t cap_items, cap_items2, cap_base;
	size_t (*hist)[256];              /* radix sort of items */
	struct cc_iv *work, *sweep, *out, *own;
	size_t cap_work, cap_sweep, cap_out, cap_own;
	struct cc_event *ev;
	size_t cap_ev;
	uint32_t *heap;
	uint8_t *removed;
	size_t cap_heap;
	struct cc_stack {
		struct cc_pfx p;
		uint32_t set_id;
	} stack[130];
};

void cc_engine_init(struct cc_engine *e, const struct cc_expansion (*exp)[SGBPF_AF_MAX],
		    const struct cc_ports *ports);
void cc_engine_free(struct cc_engine *e);

/*
 * Compute the rule_trie entries for one effective rule list (sorted rule ids
 * of one endpoint and direction) in one family. Rules with a /0 expansion in
 * that family form the base set, interned once; every distinct expanded
 * prefix of the other rules gets the id of its (deduplicated) specific set,
 * and every entry carries the base set id. With base rules there is also a
 * /0 entry (specific set SGBPF_SET_NONE) so every address finds the base set.
 * Appends to *out. Returns 0 or -ENOMEM.
 */
int cc_compute(struct cc_engine *e, const uint32_t *rule_ids, size_t n, int family,
	       struct cc_emit **out, size_t *n_out, size_t *cap_out);

/* Mask addr to plen bits (16-byte address). */
void cc_mask(uint8_t addr[16], unsigned plen);
/* a covers b: a->plen <= b->plen and b's first a->plen bits equal a's. */
int cc_covers(const struct cc_pfx *a, const struct cc_pfx *b);

/* Grow *ptr to hold at least need elements of size sz. 0 or -ENOMEM. */
int cc_reserve(void **ptr, size_t *cap, size_t need, size_t sz);

/* compile_small.c: the small tables, capacity messages, sorting. */
int cc_too_big(struct sg_diags *diags, const char *table, size_t count, size_t limit,
	       const char *what);
int cc_build_addrs(const struct sg_policy *pol, struct sg_compiled *out, struct sg_diags *diags);
int cc_build_exempt(const struct sg_node *node, struct sg_compiled *out, struct sg_diags *diags);
int cc_build_probes(struct sg_compiled *out, struct sg_diags *diags);
int cc_check_vlans(const struct sg_compiled *out, struct sg_diags *diags);
void cc_build_slot_config(const struct sg_node *node, struct sg_compiled *out);
int cc_sort_ep_entries(struct sgbpf_ep_key *keys, struct sgbpf_ep_val *vals, size_t n);

/* Model values -> canonical prefixes. */
static inline unsigned fam_bits(unsigned family)
{
	return family == SGBPF_AF_V6 ? 128 : 32;
}

static inline void addr_to_pfx(const struct sg_addr *a, struct cc_pfx *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->addr, a->addr, a->family == SGBPF_AF_V6 ? 16 : 4);
	p->plen = (uint8_t)fam_bits(a->family);
}

static inline void cidr_to_pfx(const struct sg_cidr *c, struct cc_pfx *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->addr, c->addr, c->family == SGBPF_AF_V6 ? 16 : 4);
	p->plen = c->plen;
	cc_mask(p->addr, p->plen);
}

static inline int cidr_ok(const struct sg_cidr *c)
{
	return c->family < SGBPF_AF_MAX && c->plen <= fam_bits(c->family);
}


#endif
