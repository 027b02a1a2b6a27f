// SPDX-License-Identifier: BSD-2-Clause
/*
 * Incremental policy swap (loader.c): both slots stay populated and each
 * swap writes only the difference against what the inactive slot holds.
 *  - random policies applied one after another (seeded by sgt_seed()):
 *    after each, the active slot of every slotted map holds exactly the
 *    compiled tables, the inactive slot exactly the previous policy's, and
 *    sample new flows get the verdict of tests/bpf/ref_model.c;
 *  - a compiled table too big for its map fails mid-write: the policy in
 *    force stays (entries, generation, verdicts), the half-written slot is
 *    emptied, and the next apply is exact;
 *  - maps taken over from pins (slot contents unknown) are walked and
 *    rewritten in full once per slot, then swaps are incremental again:
 *    re-applying the policy the inactive slot holds writes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <bpf/bpf.h>

#include "diag.h"
#include "harness.h"
#include "pin.h"
#include "ref_model.h"
#include "../lib/testlib.h"

#define N_EP   3
#define N_SG   4
#define ROUNDS 30
#define FLOWS  40

static unsigned rnd_state;

static unsigned rnd(unsigned n)
{
	return sgt_rand(&rnd_state, n);
}

static const char *const ep_v4[N_EP] = { "10.0.0.10", "10.0.0.11", "10.0.1.12" };
static const char *const ep_v6[N_EP] = { "fd00::10", "fd00::11", "fd00:0:0:1::12" };
static const char *const ep_extra[N_EP] = { "10.0.0.20", "fd00::21", "10.0.1.22" };

static const char *const pool_v4[] = {
	"10.0.0.10", "10.0.5.7", "10.1.2.3", "10.200.1.1", "192.168.1.1", "192.168.50.2",
	"203.0.113.9", "8.8.8.8", "172.16.0.5", "169.254.169.254",
};
static const char *const pool_v6[] = {
	"fd00::11", "fd00:1::1", "fd00:1:2::3", "2001:db8::1", "2001:db8:5::9", "2600::1",
	"fd00:ec2::254",
};
#define NPOOL4 (sizeof(pool_v4) / sizeof(pool_v4[0]))
#define NPOOL6 (sizeof(pool_v6) / sizeof(pool_v6[0]))

/* ---- random policies ---------------------------------------------------- */

/* A random prefix of a pool address, so prefixes nest and recur. */
static void rand_cidr(char *buf, size_t len, uint8_t fam)
{
	static const int l4[] = { 0, 8, 16, 24, 32 };
	static const int l6[] = { 0, 16, 48, 64, 128 };
	struct sg_cidr c;
	char tmp[80];

	if (fam == V4)
		snprintf(tmp, sizeof(tmp), "%s/%d", pool_v4[rnd(NPOOL4)], l4[rnd(5)]);
	else
		snprintf(tmp, sizeof(tmp), "%s/%d", pool_v6[rnd(NPOOL6)], l6[rnd(5)]);
	c = tp_cidr(tmp);
	sg_cidr_format(&c, buf, len);
}

static void rand_rule(struct sg_policy *p, const char *sg)
{
	static const int protos[] = { 6, 6, 17, 17, 1, 58, -1, 47 };
	static const int ranges[][2] = { { 80, 80 }, { 0, 65535 }, { 1000, 2000 }, { 53, 53 },
					 { 443, 443 }, { 20000, 40000 } };
	int proto = protos[rnd(8)], from = -1, to = -1;
	uint8_t fam = rnd(2) ? V6 : V4;
	unsigned k = rnd(10);
	char src[80];

	if (proto == 6 || proto == 17) {
		from = ranges[rnd(6)][0];
		to = ranges[rnd(6)][1];
		if (from > to) {
			int x = from;

			from = to;
			to = x;
		}
	} else if (proto == 1 || proto == 58) {
		fam = proto == 1 ? V4 : V6;
		from = rnd(2) ? 8 : -1;
		to = -1;
	}
	if (k < 7)
		rand_cidr(src, sizeof(src), fam);
	else if (k < 8)
		snprintf(src, sizeof(src), "%s", fam == V4 ? "pl-4" : "pl-6");
	else
		snprintf(src, sizeof(src), "sg-%u", rnd(N_SG));
	tp_rule(p, sg, rnd(2), proto, from, to, src);
}

/* *present gets which endpoints the policy has (ns/e0 always). */
static void rand_policy(struct sg_policy *p, bool present[N_EP])
{
	char name[16], sg[16], sgs[40], addrs[200], c1[80], c2[80];

	tp_init(p);
	for (unsigned g = 0; g < N_SG; g++) {
		unsigned n = rnd(7);

		snprintf(sg, sizeof(sg), "sg-%u", g);
		tp_group(p, sg);
		for (unsigned i = 0; i < n; i++)
			rand_rule(p, sg);
	}
	rand_cidr(c1, sizeof(c1), V4);
	rand_cidr(c2, sizeof(c2), V4);
	snprintf(addrs, sizeof(addrs), "%s,%s", c1, c2);
	tp_plist(p, "pl-4", addrs);
	rand_cidr(c1, sizeof(c1), V6);
	tp_plist(p, "pl-6", c1);
	for (unsigned e = 0; e < N_EP; e++) {
		unsigned a = rnd(N_SG), b = rnd(N_SG);

		present[e] = e == 0 || rnd(4);
		if (!present[e])
			continue;
		snprintf(name, sizeof(name), "ns/e%u", e);
		if (a == b)
			snprintf(sgs, sizeof(sgs), "sg-%u", a);
		else
			snprintf(sgs, sizeof(sgs), "sg-%u,sg-%u", a, b);
		snprintf(addrs, sizeof(addrs), "%s,%s", ep_v4[e], ep_v6[e]);
		if (rnd(2)) {
			size_t l = strlen(addrs);

			snprintf(addrs + l, sizeof(addrs) - l, ",%s", ep_extra[e]);
		}
		tp_endpoint(p, name, sgs, addrs, NULL);
	}
	if (rnd(2))
		tp_member(p, "sg-1", rnd(2) ? "10.0.5.7,fd00:1::1" : "10.1.2.3");
	switch (rnd(3)) {
	case 0:
		break;                          /* the default exempt list */
	case 1:
		tp_exempt(p, "169.254.169.254/32,fd00:ec2::254/128");
		break;
	default:
		rand_cidr(c1, sizeof(c1), V4);
		tp_exempt(p, c1);
		break;
	}
	if (rnd(2)) {
		p->node.addrs = calloc(2, sizeof(*p->node.addrs));
		CU_ASSERT_PTR_NOT_NULL_FATAL(p->node.addrs);
		p->node.addrs[0] = tp_addr(rnd(2) ? "10.0.0.1" : "10.0.0.2");
		p->node.addrs[1] = tp_addr("fd00::1");
		p->node.n_addrs = 1 + rnd(2);
	}
	p->node.exempt_dhcp = false;
}

/* ---- map contents -------------------------------------------------------- */

struct table_desc {
	enum sgbpf_map map;
	size_t key_size, val_size, slot_off, slot_size;
};

static const struct table_desc tables[] = {
	{ SGBPF_MAP_EP_CONFIG, sizeof(struct sgbpf_ep_key), sizeof(struct sgbpf_ep_val),
	  offsetof(struct sgbpf_ep_key, slot), 4 },
	{ SGBPF_MAP_EP_ADDRS, sizeof(struct sgbpf_addr_key), sizeof(struct sgbpf_addr_val),
	  offsetof(struct sgbpf_addr_key, slot), 4 },
	{ SGBPF_MAP_NODE_ADDRS, sizeof(struct sgbpf_addr_key), sizeof(struct sgbpf_addr_val),
	  offsetof(struct sgbpf_addr_key, slot), 4 },
	{ SGBPF_MAP_RULE_TRIE, sizeof(struct sgbpf_rule_key), sizeof(struct sgbpf_rule_val),
	  offsetof(struct sgbpf_rule_key, slot), 1 },
	{ SGBPF_MAP_PORT_TRIE, sizeof(struct sgbpf_port_key), sizeof(struct sgbpf_port_val),
	  offsetof(struct sgbpf_port_key, slot), 1 },
	{ SGBPF_MAP_EXEMPT, sizeof(struct sgbpf_exempt_key), sizeof(struct sgbpf_exempt_val),
	  offsetof(struct sgbpf_exempt_key, slot), 1 },
};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

/* One table's entries: key || value records, slot field 0, sorted. */
struct dump {
	uint8_t *rec;
	size_t n, rec_size;
};

struct slot_dump {
	struct dump t[N_TABLES];
};

static void slot_dump_free(struct slot_dump *d)
{
	for (size_t i = 0; i < N_TABLES; i++)
		free(d->t[i].rec);
	memset(d, 0, sizeof(*d));
}

static size_t g_key_size;

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, g_key_size);
}

static uint32_t key_slot(const struct table_desc *td, const uint8_t *key)
{
	uint32_t s = 0;

	if (td->slot_size == 1)
		return key[td->slot_off];
	memcpy(&s, key + td->slot_off, 4);
	return s;
}

/* Every entry of one slot of one map, slot field cleared, sorted by key. */
static int dump_table(struct sgbpf *h, const struct table_desc *td, uint32_t slot,
		      struct dump *out)
{
	int fd = sgbpf_map_fd(h, td->map);
	size_t rs = td->key_size + td->val_size, cap = 64;
	uint8_t key[64], next[64];
	bool first = true;

	out->rec_size = rs;
	out->n = 0;
	out->rec = malloc(cap * rs);
	if (!out->rec)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, first ? NULL : key, next)) {
		first = false;
		memcpy(key, next, td->key_size);
		if (key_slot(td, key) != slot)
			continue;
		if (out->n == cap) {
			uint8_t *r = realloc(out->rec, 2 * cap * rs);

			if (!r)
				return -ENOMEM;
			out->rec = r;
			cap *= 2;
		}
		memcpy(out->rec + out->n * rs, key, td->key_size);
		memset(out->rec + out->n * rs + td->slot_off, 0, td->slot_size);
		if (bpf_map_lookup_elem(fd, key, out->rec + out->n * rs + td->key_size))
			return -errno;
		out->n++;
	}
	g_key_size = td->key_size;
	qsort(out->rec, out->n, rs, cmp_key);
	return 0;
}

static int dump_slot(struct sgbpf *h, uint32_t slot, struct slot_dump *d)
{
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < N_TABLES; i++) {
		int err = dump_table(h, &tables[i], slot, &d->t[i]);

		if (err)
			return err;
	}
	return 0;
}

/* The compiled tables in dump form. */
static void compiled_dump(const struct sg_compiled *c, struct slot_dump *d)
{
	const void *k[N_TABLES] = { c->ep_keys, c->addr_keys, c->node_keys, c->rule_keys,
				    c->port_keys, c->exempt_keys };
	const void *v[N_TABLES] = { c->ep_vals, c->addr_vals, c->node_vals, c->rule_vals,
				    c->port_vals, c->exempt_vals };
	size_t n[N_TABLES] = { c->n_ep, c->n_addr, c->n_node, c->n_rule_entries,
			       c->n_port_entries, c->n_exempt };

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < N_TABLES; i++) {
		const struct table_desc *td = &tables[i];
		size_t rs = td->key_size + td->val_size;

		d->t[i].rec_size = rs;
		d->t[i].n = n[i];
		d->t[i].rec = malloc(n[i] * rs + 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d->t[i].rec);
		for (size_t j = 0; j < n[i]; j++) {
			memcpy(d->t[i].rec + j * rs, (const uint8_t *)k[i] + j * td->key_size,
			       td->key_size);
			memcpy(d->t[i].rec + j * rs + td->key_size,
			       (const uint8_t *)v[i] + j * td->val_size, td->val_size);
		}
	}
}

/* Equal dumps; otherwise a message naming the first difference. */
static bool dumps_equal(const struct slot_dump *a, const struct slot_dump *b, const char *what,
			unsigned seed, int round)
{
	for (size_t i = 0; i < N_TABLES; i++) {
		const struct dump *x = &a->t[i], *y = &b->t[i];
		size_t j;

		for (j = 0; j < x->n && j < y->n; j++)
			if (memcmp(x->rec + j * x->rec_size, y->rec + j * y->rec_size, x->rec_size))
				break;
		if (x->n != y->n || j < x->n) {
			printf("\n    round %d: %s: map %s has %zu entries, want %zu; first "
			       "difference at entry %zu (seed %u)\n", round, what,
			       sgbpf_map_name(tables[i].map), x->n, y->n, j, seed);
			return false;
		}
	}
	return true;
}

static bool slot_empty(struct sgbpf *h, uint32_t slot)
{
	struct slot_dump d;
	size_t n = 0;

	CU_ASSERT_EQUAL_FATAL(dump_slot(h, slot, &d), 0);
	for (size_t i = 0; i < N_TABLES; i++)
		n += d.t[i].n;
	slot_dump_free(&d);
	return n == 0;
}

static uint64_t state_generation(struct sgbpf *h)
{
	struct sgbpf_state st = { 0 };
	uint32_t zero = 0;

	bpf_map_lookup_elem(sgbpf_map_fd(h, SGBPF_MAP_STATE), &zero, &st);
	return st.generation;
}

/* ---- sample verdicts ------------------------------------------------------ */

static uint16_t g_sport = 1024;

/* New flows (each its own 5-tuple) of present endpoints against a fresh
 * reference model of p. Returns the number of mismatches. */
static unsigned check_verdicts(struct th *t, const struct sg_policy *p, const bool present[N_EP],
			       unsigned seed, int round)
{
	static const uint16_t dports[] = { 80, 443, 53, 1500, 30000, 22 };
	struct ref_model *m = ref_new(p);
	unsigned bad = 0;

	for (int i = 0; i < FLOWS; i++) {
		unsigned e = rnd(N_EP), pi;
		uint8_t fam = rnd(2) ? V6 : V4, proto = rnd(2) ? 6 : 17;
		bool out = rnd(2);
		const char *local = fam == V4 ? ep_v4[e] : ep_v6[e];
		const char *remote = fam == V4 ? pool_v4[rnd(NPOOL4)] : pool_v6[rnd(NPOOL6)];
		uint16_t dport = dports[rnd(6)], sport = g_sport++;
		struct sg_pkt_spec s;
		struct ref_pkt k = { 0 };
		struct ref_verdict want;
		struct th_res got;
		char name[16];

		if (g_sport < 1024)
			g_sport = 1024;
		if (!present[e])
			continue;
		/* ref_pkt.ep is the endpoint's index in the policy. */
		snprintf(name, sizeof(name), "ns/e%u", e);
		for (pi = 0; pi < p->n_endpoints; pi++)
			if (!strcmp(p->endpoints[pi].name, name))
				break;
		if (proto == 6)
			th_tcp(&s, fam, out ? local : remote, out ? remote : local, sport, dport,
			       SG_TCP_SYN);
		else
			th_udp(&s, fam, out ? local : remote, out ? remote : local, sport, dport);
		k.ep = pi;
		k.dir = out ? OUT : IN;
		k.family = fam;
		k.proto = proto;
		memcpy(k.src, s.src, 16);
		memcpy(k.dst, s.dst, 16);
		k.sport = sport;
		k.dport = dport;
		k.tcp_flags = proto == 6 ? SG_TCP_SYN : 0;
		ref_eval(m, &k, &want);
		if (th_send(t, th_ep(t, name), k.dir, &s, &got)) {
			CU_FAIL("test run failed");
			bad++;
			break;
		}
		if (got.pass != want.allow) {
			printf("\n    round %d: %s %s %s %s -> %s port %u: datapath %s, reference "
			       "%s (seed %u)\n", round, name, out ? "out" : "in",
			       proto == 6 ? "tcp" : "udp", out ? local : remote,
			       out ? remote : local, dport, got.pass ? "allows" : "drops",
			       want.allow ? "allows" : "drops", seed);
			bad++;
		}
	}
	ref_free(m);
	return bad;
}

/* ---- tests ------------------------------------------------------------------ */

/* Applies a sequence of random policies; checks both slots and verdicts. */
static void test_random_sequence(void)
{
	unsigned seed = sgt_seed(), bad = 0;
	struct slot_dump prev = { 0 };
	bool have_prev = false;
	struct th t;

	rnd_state = seed ? seed : 1;
	CU_ASSERT_EQUAL_FATAL(th_open(&t, true), 0);
	for (int round = 0; round < ROUNDS && !bad; round++) {
		struct slot_dump want, act, inact;
		bool present[N_EP];
		struct sg_policy p;
		uint32_t slot;

		rand_policy(&p, present);
		if (th_apply(&t, &p)) {
			th_check(0, "round %d: applying a random policy failed (seed %u)", round,
				 seed);
			sg_policy_free(&p);
			break;
		}
		slot = th_active_slot(&t);
		compiled_dump(&t.comp, &want);
		CU_ASSERT_EQUAL_FATAL(dump_slot(t.h, slot, &act), 0);
		CU_ASSERT_EQUAL_FATAL(dump_slot(t.h, 1 - slot, &inact), 0);
		if (!dumps_equal(&act, &want, "active slot vs compiled tables", seed, round))
			bad++;
		if (have_prev && !dumps_equal(&inact, &prev, "inactive slot vs previous policy",
					      seed, round))
			bad++;
		bad += check_verdicts(&t, &p, present, seed, round);
		slot_dump_free(&prev);
		slot_dump_free(&inact);
		slot_dump_free(&want);
		prev = act;
		have_prev = true;
		sg_policy_free(&p);
	}
	th_check(bad == 0, "%u mismatches in the random swap sequence (seed %u)", bad, seed);
	slot_dump_free(&prev);
	th_close(&t);
}

/* tbl 1 (ep_addrs) or 5 (exempt): n sorted IPv6 entries, beyond the map. */
static void oversized_table(struct sg_compiled *bad, int tbl, size_t n, void **keys, void **vals)
{
	if (tbl == 1) {
		struct sgbpf_addr_key *k = calloc(n, sizeof(*k));
		struct sgbpf_addr_val *v = calloc(n, sizeof(*v));

		CU_ASSERT_FATAL(k && v);
		for (size_t i = 0; i < n; i++) {
			k[i].family = V6;
			k[i].addr[0] = 0xfd;
			k[i].addr[1] = 0x99;
			k[i].addr[13] = (uint8_t)(i >> 16);
			k[i].addr[14] = (uint8_t)(i >> 8);
			k[i].addr[15] = (uint8_t)i;
		}
		bad->addr_keys = k;
		bad->addr_vals = v;
		bad->n_addr = n;
		*keys = k;
		*vals = v;
	} else {
		struct sgbpf_exempt_key *k = calloc(n, sizeof(*k));
		struct sgbpf_exempt_val *v = calloc(n, sizeof(*v));

		CU_ASSERT_FATAL(k && v);
		for (size_t i = 0; i < n; i++) {
			k[i].prefixlen = SGBPF_EXEMPT_KEY_FIXED_BITS + 128;
			k[i].family = V6;
			k[i].addr[0] = 0xfd;
			k[i].addr[1] = 0x98;
			k[i].addr[14] = (uint8_t)(i >> 8);
			k[i].addr[15] = (uint8_t)i;
		}
		bad->exempt_keys = k;
		bad->exempt_vals = v;
		bad->n_exempt = n;
		*keys = k;
		*vals = v;
	}
}

/*
 * A compiled table larger than its map fails part-way through the write
 * (after the tables before it were brought up to date): the policy in force
 * stays, the inactive slot ends up empty, and the following applies are exact.
 */
static void test_failure_mid_write(void)
{
	static const struct { int tbl; size_t n; } cases[] = {
		{ 5, SGBPF_MAX_EXEMPT + 100 },     /* last table: five written before */
		{ 1, SGBPF_MAX_EP_ADDRS + 100 },
	};
	unsigned seed = sgt_seed();
	struct th t;

	rnd_state = (seed ? seed : 1) ^ 0x5a5a5a5a;
	CU_ASSERT_EQUAL_FATAL(th_open(&t, true), 0);
	for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		struct slot_dump want, act, act2;
		struct sg_policy p1, p2, p3;
		bool pr1[N_EP], pr2[N_EP], pr3[N_EP];
		struct sg_compiled bad;
		void *keys = NULL, *vals = NULL;
		uint64_t gen;
		uint32_t slot;

		rand_policy(&p1, pr1);
		rand_policy(&p2, pr2);
		CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p1), 0);
		CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p2), 0);
		/* The inactive slot now holds p1: the failing write starts by
		 * merging that against the bad tables. */
		slot = th_active_slot(&t);
		gen = state_generation(t.h);
		compiled_dump(&t.comp, &want);

		bad = t.comp;
		oversized_table(&bad, cases[ci].tbl, cases[ci].n, &keys, &vals);
		CU_ASSERT_NOT_EQUAL(sgbpf_apply(t.h, &bad, gen + 1, NULL), 0);
		free(keys);
		free(vals);

		CU_ASSERT_EQUAL(th_active_slot(&t), slot);
		CU_ASSERT_EQUAL(state_generation(t.h), gen);
		CU_ASSERT_EQUAL_FATAL(dump_slot(t.h, slot, &act), 0);
		th_check(dumps_equal(&act, &want, "after the failed apply", seed, (int)ci),
			 "the policy in force changed in a failed apply (seed %u)", seed);
		th_check(slot_empty(t.h, 1 - slot),
			 "the half-written slot was not emptied (seed %u)", seed);
		th_check(check_verdicts(&t, &p2, pr2, seed, (int)ci) == 0,
			 "verdicts after the failed apply differ from the policy in force");

		/* The next applies: into the emptied slot, then the merged one. */
		rand_policy(&p3, pr3);
		CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p3), 0);
		slot_dump_free(&want);
		compiled_dump(&t.comp, &want);
		CU_ASSERT_EQUAL_FATAL(dump_slot(t.h, th_active_slot(&t), &act2), 0);
		th_check(dumps_equal(&act2, &want, "apply after the failure", seed, (int)ci),
			 "the apply after a failure is not exact (seed %u)", seed);
		th_check(check_verdicts(&t, &p3, pr3, seed, (int)ci) == 0,
			 "verdicts after recovering from a failed apply are wrong");
		slot_dump_free(&act2);
		CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p1), 0);
		slot_dump_free(&want);
		compiled_dump(&t.comp, &want);
		CU_ASSERT_EQUAL_FATAL(dump_slot(t.h, th_active_slot(&t), &act2), 0);
		th_check(dumps_equal(&act2, &want, "second apply after the failure", seed,
				     (int)ci), "merging into the slot in force before is not exact");
		th_check(check_verdicts(&t, &p1, pr1, seed, (int)ci) == 0,
			 "verdicts after the second apply are wrong");
		slot_dump_free(&act2);
		slot_dump_free(&act);
		slot_dump_free(&want);
		sg_policy_free(&p1);
		sg_policy_free(&p2);
		sg_policy_free(&p3);
	}
	th_close(&t);
}

static int compile_plain(const struct sg_policy *p, struct sg_compiled *c)
{
	struct sg_diags d;
	int err;

	sg_diags_init(&d);
	err = sg_compile(p, NULL, c, &d);
	if (err)
		sg_diags_print(&d, stderr);
	sg_diags_free(&d);
	return err;
}

/* Apply c, then compare the active slot with it; returns the stats. */
static void apply_exact(struct sgbpf *h, struct sg_compiled *c, uint64_t gen,
			struct sgbpf_swap_stats *st, const char *what)
{
	struct slot_dump want, act;
	struct sgbpf_state s = { 0 };
	uint32_t zero = 0;

	memset(st, 0, sizeof(*st));
	CU_ASSERT_EQUAL_FATAL(sgbpf_apply(h, c, gen, st), 0);
	CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(sgbpf_map_fd(h, SGBPF_MAP_STATE), &zero, &s), 0);
	CU_ASSERT_EQUAL(s.active_slot, st->slot);
	CU_ASSERT_EQUAL(s.generation, gen);
	compiled_dump(c, &want);
	CU_ASSERT_EQUAL_FATAL(dump_slot(h, s.active_slot, &act), 0);
	th_check(dumps_equal(&act, &want, what, sgt_seed(), (int)gen), "%s: slot not exact", what);
	slot_dump_free(&act);
	slot_dump_free(&want);
}

/*
 * Pinned maps taken over by a new handle: both slots' contents are unknown,
 * so each is walked and rewritten in full once; after that swaps merge, and
 * re-applying the policy the inactive slot holds writes nothing.
 */
static void test_pinned_takeover(void)
{
	char pin[64];
	struct sg_policy p[4];
	struct sg_compiled c[4];
	struct sgbpf_swap_stats st;
	struct sgbpf *h = NULL;
	bool present[N_EP];
	unsigned seed = sgt_seed();

	rnd_state = (seed ? seed : 1) ^ 0x3c3c3c3c;
	for (int i = 0; i < 4; i++) {
		rand_policy(&p[i], present);
		CU_ASSERT_EQUAL_FATAL(compile_plain(&p[i], &c[i]), 0);
	}
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/sgbpf-test-swap-%d", (int)getpid());
	sgbpf_pin_remove(pin);
	CU_ASSERT_EQUAL_FATAL(sgbpf_open_pinned(pin, 0, &h), 0);
	CU_ASSERT_FALSE(sgbpf_reused(h));
	apply_exact(h, &c[0], 1, &st, "fresh pins, first apply");
	CU_ASSERT_FALSE(st.full_rewrite);
	CU_ASSERT_EQUAL(st.entries_deleted, 0);
	apply_exact(h, &c[1], 2, &st, "fresh pins, second apply");
	CU_ASSERT_FALSE(st.full_rewrite);
	sgbpf_close(h);
	h = NULL;

	CU_ASSERT_EQUAL_FATAL(sgbpf_open_pinned(pin, SGBPF_PIN_REUSE_ONLY, &h), 0);
	CU_ASSERT_TRUE(sgbpf_reused(h));
	/* Unknown: the slot holding c[0] is walked, emptied, rewritten. */
	apply_exact(h, &c[2], 3, &st, "takeover, first apply");
	CU_ASSERT_TRUE(st.full_rewrite);
	CU_ASSERT_EQUAL(st.entries_deleted, 0);
	{
		struct slot_dump want, inact;

		compiled_dump(&c[1], &want);
		CU_ASSERT_EQUAL_FATAL(dump_slot(h, 1 - st.slot, &inact), 0);
		th_check(dumps_equal(&inact, &want, "takeover: slot in force before", seed, 3),
			 "the policy in force at takeover was touched by the first apply");
		slot_dump_free(&inact);
		slot_dump_free(&want);
	}
	apply_exact(h, &c[3], 4, &st, "takeover, second apply");
	CU_ASSERT_TRUE(st.full_rewrite);
	/* Both slots known now: c[2] again is a merge against c[2]. */
	apply_exact(h, &c[2], 5, &st, "re-apply of the inactive slot's policy");
	CU_ASSERT_FALSE(st.full_rewrite);
	CU_ASSERT_EQUAL(st.entries_written, 0);
	CU_ASSERT_EQUAL(st.entries_deleted, 0);
	CU_ASSERT_EQUAL(st.cleanup_ns, 0);
	/* c[1] over c[3]: writes at most c[1]'s entries, deletes at most c[3]'s. */
	apply_exact(h, &c[1], 6, &st, "merge of two random policies");
	CU_ASSERT_FALSE(st.full_rewrite);
	CU_ASSERT(st.entries_written <= c[1].n_ep + c[1].n_addr + c[1].n_node +
		  c[1].n_rule_entries + c[1].n_port_entries + c[1].n_exempt);
	CU_ASSERT(st.entries_deleted <= c[3].n_ep + c[3].n_addr + c[3].n_node +
		  c[3].n_rule_entries + c[3].n_port_entries + c[3].n_exempt);
	sgbpf_close(h);
	CU_ASSERT_EQUAL(sgbpf_pin_remove(pin), 0);
	for (int i = 0; i < 4; i++) {
		sg_compiled_free(&c[i]);
		sg_policy_free(&p[i]);
	}
}

static CU_TestInfo loader_swap_tests[] = {
	{ "random_sequence", test_random_sequence },
	{ "failure_mid_write", test_failure_mid_write },
	{ "pinned_takeover", test_pinned_takeover },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-loader-swap", NULL, NULL, loader_swap_tests);
