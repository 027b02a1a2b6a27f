// SPDX-License-Identifier: BSD-2-Clause
/*
 * Conntrack split per family (layout.h, user/lib/ct.h): the datapath keeps
 * IPv4 flows under the compact key in ct4_*, IPv6 flows under the wide key
 * in ct_*, confirmed TCP flows under the 12-byte key in ct4t_est and the
 * 36-byte key in ct6t_est, confirmed IPv6 UDP flows under the 36-byte key
 * in ct6u_est (the short-key tables: the endpoint in the entry), and the
 * userspace API shows all under the wide key: key conversion, lookups,
 * walks, counts, batched inserts, conditional deletes (sgbpf_ep_forget) and
 * the map shape check. A short-key table's entry serves only its own
 * endpoint: an address that moved to another endpoint doesn't take the
 * flow with it, and that endpoint's promotion replaces the stale entry.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <bpf/bpf.h>

#include "ct.h"
#include "harness.h"
#include "metrics.h"
#include "../lib/testlib.h"

#define R4 "10.1.1.1"
#define R6 "fd00:1::1"

static void test_key_conversion(void)
{
	struct sgbpf_ct_key k, back;
	struct sgbpf_ct4_key k4;

	th_ct_key(&k, 1000, V4, 17, A4, R4, 53, 40000);
	CU_ASSERT_EQUAL_FATAL(sgbpf_ct4_key_of(&k4, &k), 0);
	CU_ASSERT_EQUAL(k4.ep_id, 1000);
	CU_ASSERT_EQUAL(k4.proto, 17);
	CU_ASSERT_EQUAL(k4.pad, 0);
	CU_ASSERT_EQUAL(memcmp(k4.local_addr, k.local_addr, 4), 0);
	CU_ASSERT_EQUAL(memcmp(k4.remote_addr, k.remote_addr, 4), 0);
	CU_ASSERT_EQUAL(k4.local_port, htons(53));
	CU_ASSERT_EQUAL(k4.remote_port, htons(40000));
	sgbpf_ct_key_of4(&back, &k4);
	CU_ASSERT_EQUAL(memcmp(&back, &k, sizeof(k)), 0);

	/* Keys the compact form can't hold. */
	th_ct_key(&k, 1, V6, 6, A6, R6, 80, 40000);
	CU_ASSERT_EQUAL(sgbpf_ct4_key_of(&k4, &k), -EINVAL);
	th_ct_key(&k, 70000, V4, 6, A4, R4, 80, 40000);
	CU_ASSERT_EQUAL(sgbpf_ct4_key_of(&k4, &k), -EINVAL);

	CU_ASSERT_EQUAL(sgbpf_ct_map(SGBPF_CT_TABLE_EST, V4), SGBPF_MAP_CT4_EST);
	CU_ASSERT_EQUAL(sgbpf_ct_map(SGBPF_CT_TABLE_NEW, V4), SGBPF_MAP_CT4_NEW);
	CU_ASSERT_EQUAL(sgbpf_ct_map(SGBPF_CT_TABLE_EST, V6), SGBPF_MAP_CT_EST);
	CU_ASSERT_EQUAL(sgbpf_ct_map(SGBPF_CT_TABLE_NEW, V6), SGBPF_MAP_CT_NEW);
	CU_ASSERT_EQUAL(sgbpf_ct_map(SGBPF_CT_TABLE_MAX, V4), SGBPF_MAP_MAX);
	CU_ASSERT_EQUAL(sgbpf_ct_map(SGBPF_CT_TABLE_EST, SGBPF_AF_MAX), SGBPF_MAP_MAX);
	{
		enum sgbpf_map mp[SGBPF_CT_FAMILY_MAPS];

		CU_ASSERT_EQUAL(sgbpf_ct_maps_in(SGBPF_CT_TABLE_EST, V4, mp), 2);
		CU_ASSERT(mp[0] == SGBPF_MAP_CT4_EST && mp[1] == SGBPF_MAP_CT4T_EST);
		CU_ASSERT_EQUAL(sgbpf_ct_maps_in(SGBPF_CT_TABLE_NEW, V4, mp), 1);
		CU_ASSERT_EQUAL(mp[0], SGBPF_MAP_CT4_NEW);
		CU_ASSERT_EQUAL(sgbpf_ct_maps_in(SGBPF_CT_TABLE_EST, V6, mp), 3);
		CU_ASSERT(mp[0] == SGBPF_MAP_CT_EST && mp[1] == SGBPF_MAP_CT6T_EST &&
			  mp[2] == SGBPF_MAP_CT6U_EST);
		CU_ASSERT_EQUAL(sgbpf_ct_maps_in(SGBPF_CT_TABLE_NEW, V6, mp), 1);
		CU_ASSERT_EQUAL(mp[0], SGBPF_MAP_CT_NEW);
		CU_ASSERT_EQUAL(sgbpf_ct_maps_in(SGBPF_CT_TABLE_MAX, V4, mp), 0);
	}
	CU_ASSERT_EQUAL(sgbpf_ct_short_map(SGBPF_CT_SHORT_TCP4), SGBPF_MAP_CT4T_EST);
	CU_ASSERT_EQUAL(sgbpf_ct_short_map(SGBPF_CT_SHORT_TCP6), SGBPF_MAP_CT6T_EST);
	CU_ASSERT_EQUAL(sgbpf_ct_short_map(SGBPF_CT_SHORT_UDP6), SGBPF_MAP_CT6U_EST);
	CU_ASSERT_EQUAL(sgbpf_ct_short_family(SGBPF_CT_SHORT_TCP6), V6);
	CU_ASSERT_EQUAL(sgbpf_ct_short_map(SGBPF_CT_SHORT_MAX), SGBPF_MAP_MAX);
}

static void two_family_policy(struct sg_policy *p)
{
	tp_init(p);
	tp_in(p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_in(p, "sg-a", 6, 80, 80, "fd00::/16");
	tp_in(p, "sg-a", 17, 53, 53, "10.0.0.0/8");
	tp_in(p, "sg-a", 17, 53, 53, "fd00::/16");
	tp_endpoint(p, "ns/a", "sg-a", A4 "," A6, NULL);
	tp_endpoint(p, "ns/b", "sg-a", B4 "," B6, NULL);
}

/* A confirmed flow's raw entry in short-key map mp under raw (its key's
 * last 12 or 36 bytes): established, owned by ep. */
static void check_short_entry(struct th *t, enum sgbpf_map mp, const void *raw, uint32_t ep)
{
	struct sgbpf_ct_val v = { 0 };

	th_check(bpf_map_lookup_elem(sgbpf_map_fd(t->h, mp), raw, &v) == 0,
		 "no raw entry in %s", sgbpf_map_name(mp));
	th_check(v.state == SGBPF_CT_ESTABLISHED && v.ep_id == ep,
		 "%s entry: state %u, ep_id %u; want established, %u", sgbpf_map_name(mp),
		 v.state, v.ep_id, ep);
}

/* The datapath writes each family's flows into its own maps, in the key
 * shape userspace converts to. */
static void test_datapath_family_maps(void)
{
	struct sgbpf_ct_key k4w, k6, k4u, k6u;
	struct sgbpf_ct4_key k4;
	struct sgbpf_ct_val v;
	struct sg_pkt_spec s;
	struct sg_policy p;
	struct th t;
	uint32_t a;

	two_family_policy(&p);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	th_tcp_handshake(&t, a, V4, R4, 40000, A4, 80);
	th_tcp_handshake(&t, a, V6, R6, 40000, A6, 80);
	th_udp(&s, V4, R4, A4, 5000, 53);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	/* A UDP stream: confirmed, but not TCP, so in ct4_est. */
	th_udp(&s, V4, R4, A4, 5001, 53);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, A4, R4, 53, 5001);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_udp(&s, V6, R6, A6, 5001, 53);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V6, A6, R6, 53, 5001);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);

	CU_ASSERT_EQUAL(th_map_count(&t, SGBPF_MAP_CT4T_EST), 1);
	CU_ASSERT_EQUAL(th_map_count(&t, SGBPF_MAP_CT4_EST), 1);
	CU_ASSERT_EQUAL(th_map_count(&t, SGBPF_MAP_CT6T_EST), 1);
	CU_ASSERT_EQUAL(th_map_count(&t, SGBPF_MAP_CT6U_EST), 1);
	CU_ASSERT_EQUAL(th_map_count(&t, SGBPF_MAP_CT_EST), 0);
	CU_ASSERT_EQUAL(th_map_count(&t, SGBPF_MAP_CT4_NEW), 1);
	CU_ASSERT_EQUAL(th_map_count(&t, SGBPF_MAP_CT_NEW), 0);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_EST), 4);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW), 1);

	/* Raw reads: the TCP flows under the 12- and 36-byte keys in
	 * ct4t_est and ct6t_est with their endpoint in the entry, the IPv4
	 * UDP stream under the compact key in ct4_est, the IPv6 one under the
	 * 36-byte key in ct6u_est. */
	th_ct_key(&k4w, a, V4, 6, A4, R4, 80, 40000);
	CU_ASSERT_EQUAL_FATAL(sgbpf_ct4_key_of(&k4, &k4w), 0);
	check_short_entry(&t, SGBPF_MAP_CT4T_EST, k4.local_addr, a);
	CU_ASSERT_NOT_EQUAL(bpf_map_lookup_elem(sgbpf_map_fd(t.h, SGBPF_MAP_CT4_EST), &k4, &v), 0);
	CU_ASSERT_NOT_EQUAL(bpf_map_lookup_elem(sgbpf_map_fd(t.h, SGBPF_MAP_CT_EST), &k4w, &v), 0);
	th_ct_key(&k4u, a, V4, 17, A4, R4, 53, 5001);
	CU_ASSERT_EQUAL_FATAL(sgbpf_ct4_key_of(&k4, &k4u), 0);
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(sgbpf_map_fd(t.h, SGBPF_MAP_CT4_EST), &k4, &v), 0);
	th_ct_key(&k6, a, V6, 6, A6, R6, 80, 40000);
	check_short_entry(&t, SGBPF_MAP_CT6T_EST, k6.local_addr, a);
	CU_ASSERT_NOT_EQUAL(bpf_map_lookup_elem(sgbpf_map_fd(t.h, SGBPF_MAP_CT_EST), &k6, &v), 0);
	th_ct_key(&k6u, a, V6, 17, A6, R6, 53, 5001);
	check_short_entry(&t, SGBPF_MAP_CT6U_EST, k6u.local_addr, a);
	CU_ASSERT_NOT_EQUAL(bpf_map_lookup_elem(sgbpf_map_fd(t.h, SGBPF_MAP_CT_EST), &k6u, &v), 0);
	th_ct_key(&k4u, a, V4, 17, A4, R4, 53, 5000);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k4u, &v), TH_CT_NEW);
	CU_ASSERT_EQUAL(v.state, SGBPF_CT_NEW);

	/* Packets of the confirmed flows find their entries through the
	 * short keys. */
	th_tcp(&s, V4, R4, A4, 40000, 80, SG_TCP_ACK);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_tcp(&s, V6, A6, R6, 80, 40000, SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_udp(&s, V6, R6, A6, 5001, 53);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	th_close(&t);
	sg_policy_free(&p);
}

struct seen {
	const struct sgbpf_ct_key *keys;
	const enum sgbpf_ct_table *tabs;
	size_t n;
	unsigned *hits;
	unsigned strays;
	int last_family;
	bool order_ok;
};

static int on_entry(enum sgbpf_ct_table t, const struct sgbpf_ct_key *k,
		    const struct sgbpf_ct_val *v, void *ctx)
{
	struct seen *s = ctx;
	size_t i;

	/* IPv4 map first, then IPv6. */
	if (k->family < s->last_family)
		s->order_ok = false;
	s->last_family = k->family;
	for (i = 0; i < s->n; i++)
		if (s->tabs[i] == t && !memcmp(&s->keys[i], k, sizeof(*k)))
			break;
	if (i == s->n || v->created_ns != i + 1) {
		s->strays++;
		return 0;
	}
	s->hits[i]++;
	return 0;
}

static bool ep_is(const struct sgbpf_ct_key *k, void *ctx)
{
	return k->ep_id == *(const uint32_t *)ctx;
}

#define N_API 64

/* Random keys of both families in both tables, through every API call. */
static void test_api(void)
{
	static struct sgbpf_ct_key keys[N_API];
	static enum sgbpf_ct_table tabs[N_API];
	static unsigned hits[N_API];
	static const struct sgbpf_ct_val zeros[N_API];
	unsigned seed = sgt_seed(), st = seed ? seed : 1;
	size_t n_tab[SGBPF_CT_TABLE_MAX] = { 0 }, n_ep3 = 0, deleted = 0;
	struct sgbpf_ct_maps m;
	struct sgbpf_ct_val v;
	struct seen seen;
	struct th t;
	uint32_t ep3 = 3, count;
	bool ok = true;

	CU_ASSERT_EQUAL_FATAL(th_open(&t, false), 0);
	sgbpf_ct_maps_of(t.h, &m);
	CU_ASSERT_EQUAL(sgbpf_ct_maps_check(&m), 0);
	memset(hits, 0, sizeof(hits));
	for (size_t i = 0; i < N_API; i++) {
		struct sgbpf_ct_key *k = &keys[i];
		struct sgbpf_ct_val val = { .created_ns = i + 1, .state = SGBPF_CT_ESTABLISHED };
		char a[48], b[48];
		uint8_t fam = sgt_rand(&st, 2);

		snprintf(a, sizeof(a), fam == V4 ? "10.9.%zu.%u" : "fd00:9::%zx:%x", i,
			 sgt_rand(&st, 200) + 1);
		snprintf(b, sizeof(b), fam == V4 ? "10.8.0.%u" : "fd00:8::%x",
			 sgt_rand(&st, 200) + 1);
		th_ct_key(k, sgt_rand(&st, 5), fam, sgt_rand(&st, 2) ? 6 : 17, a, b,
			  sgt_rand(&st, 65535) + 1, sgt_rand(&st, 65535) + 1);
		tabs[i] = sgt_rand(&st, 2) ? SGBPF_CT_TABLE_EST : SGBPF_CT_TABLE_NEW;
		n_tab[tabs[i]]++;
		n_ep3 += k->ep_id == ep3;
		ok &= sgbpf_ct_update(&m, tabs[i], k, &val, BPF_NOEXIST) == 0;
	}
	th_check(ok, "inserting %d random entries failed (seed %u)", N_API, seed);
	for (int tb = 0; tb < SGBPF_CT_TABLE_MAX; tb++)
		th_check(sgbpf_ct_count(&m, tb) == (long)n_tab[tb],
			 "table %d: count %ld, inserted %zu (seed %u)", tb,
			 sgbpf_ct_count(&m, tb), n_tab[tb], seed);

	/* Every entry exactly once, under its own table, IPv4 first. */
	seen = (struct seen){ .keys = keys, .tabs = tabs, .n = N_API, .hits = hits,
			      .order_ok = true };
	for (int tb = 0; tb < SGBPF_CT_TABLE_MAX; tb++) {
		seen.last_family = 0;
		CU_ASSERT_EQUAL(sgbpf_ct_foreach(&m, tb, 0, on_entry, &seen), 0);
	}
	for (size_t i = 0; i < N_API; i++)
		ok &= hits[i] == 1;
	th_check(ok && !seen.strays && seen.order_ok,
		 "walk: every entry once %d, strays %u, IPv4 map first %d (seed %u)", ok,
		 seen.strays, seen.order_ok, seed);

	/* Lookups find each entry in its table only; a key whose ep_id the
	 * compact key can't hold is in no map. */
	for (size_t i = 0; i < N_API; i++) {
		ok &= sgbpf_ct_lookup(&m, tabs[i], &keys[i], &v) == 0 && v.created_ns == i + 1;
		ok &= sgbpf_ct_lookup(&m, !tabs[i], &keys[i], &v) == -ENOENT;
		ok &= sgbpf_ct_update(&m, !tabs[i], &keys[i], &v, BPF_EXIST) == -ENOENT;
	}
	th_check(ok, "lookups by wide key (seed %u)", seed);
	{
		struct sgbpf_ct_key big = keys[0];

		big.family = V4;
		big.ep_id = 70000;
		CU_ASSERT_EQUAL(sgbpf_ct_lookup(&m, SGBPF_CT_TABLE_EST, &big, &v), -ENOENT);
		CU_ASSERT_EQUAL(sgbpf_ct_update(&m, SGBPF_CT_TABLE_EST, &big, &v, BPF_ANY),
				-EINVAL);
		/* The same for confirmed IPv6 TCP and UDP flows (short-key
		 * entries name a 16-bit endpoint). */
		big.family = V6;
		for (int proto = 6; proto <= 17; proto += 11) {
			big.proto = proto;
			CU_ASSERT_EQUAL(sgbpf_ct_update(&m, SGBPF_CT_TABLE_EST, &big, &v, BPF_ANY),
					-EINVAL);
			CU_ASSERT_EQUAL(sgbpf_ct_lookup(&m, SGBPF_CT_TABLE_EST, &big, &v), -ENOENT);
		}
	}

	/* Take one out with its value, then it is gone. */
	CU_ASSERT_EQUAL(sgbpf_ct_lookup_and_delete(&m, tabs[0], &keys[0], &v), 0);
	CU_ASSERT_EQUAL(v.created_ns, 1);
	CU_ASSERT_EQUAL(sgbpf_ct_delete(&m, tabs[0], &keys[0]), -ENOENT);
	n_tab[tabs[0]]--;
	n_ep3 -= keys[0].ep_id == ep3;

	/* Conditional delete: exactly one endpoint's entries, both tables and
	 * families. */
	CU_ASSERT_EQUAL(sgbpf_ct_delete_if(&m, ep_is, &ep3, &deleted), 0);
	th_check(deleted == n_ep3, "delete_if: %zu deleted, %zu of ep 3 (seed %u)", deleted,
		 n_ep3, seed);
	ok = true;
	for (size_t i = 1; i < N_API; i++)
		ok &= (sgbpf_ct_lookup(&m, tabs[i], &keys[i], &v) == 0) == (keys[i].ep_id != ep3);
	th_check(ok, "delete_if kept the others (seed %u)", seed);

	/* Batched insert of both families at once, then everything goes. */
	CU_ASSERT_EQUAL(sgbpf_ct_delete_if(&m, NULL, NULL, NULL), 0);
	count = N_API;
	CU_ASSERT_EQUAL(sgbpf_ct_update_batch(&m, SGBPF_CT_TABLE_NEW, keys, zeros, &count), 0);
	CU_ASSERT_EQUAL(count, N_API);
	CU_ASSERT_EQUAL(sgbpf_ct_count(&m, SGBPF_CT_TABLE_NEW), N_API);
	CU_ASSERT_EQUAL(sgbpf_ct_count(&m, SGBPF_CT_TABLE_EST), 0);
	CU_ASSERT_EQUAL(sgbpf_ct_delete_if(&m, NULL, NULL, &deleted), 0);
	CU_ASSERT_EQUAL(deleted, N_API);
	CU_ASSERT_EQUAL(sgbpf_ct_count(&m, SGBPF_CT_TABLE_NEW), 0);

	/* Maps of the wrong shape are refused. */
	{
		struct sgbpf_ct_maps bad = m;

		for (int sh = 0; sh < SGBPF_CT_SHORT_MAX; sh++) {
			bad = m;
			bad.fd_short[sh] = m.fd[SGBPF_CT_TABLE_EST][sgbpf_ct_short_family(sh)];
			th_check(sgbpf_ct_maps_check(&bad) == -EPROTO,
				 "short-key table %d: a map of the wide shape passed the check", sh);
		}
	}
	m.fd[SGBPF_CT_TABLE_EST][V6] = m.fd[SGBPF_CT_TABLE_EST][V4];
	CU_ASSERT_EQUAL(sgbpf_ct_maps_check(&m), -EPROTO);
	th_close(&t);
}

/* One tuple, two endpoints in a short-key table (ct4t_est, ct6t_est,
 * ct6u_est by fam and proto) through the wide-key API: each key sees only
 * its own endpoint's entry. */
static void api_owner(uint8_t fam, uint8_t proto)
{
	const char *local = fam == V4 ? A4 : A6, *remote = fam == V4 ? R4 : R6;
	struct sgbpf_ct_val va = { .created_ns = 1, .state = SGBPF_CT_ESTABLISHED };
	struct sgbpf_ct_val vb = { .created_ns = 2, .state = SGBPF_CT_ESTABLISHED }, v;
	struct sgbpf_ct_key ka, kb, next;
	struct sgbpf_ct_maps m;
	struct th t;
	uint32_t one = 1;

	CU_ASSERT_EQUAL_FATAL(th_open(&t, false), 0);
	sgbpf_ct_maps_of(t.h, &m);
	th_ct_key(&ka, 1, fam, proto, local, remote, 80, 40000);
	th_ct_key(&kb, 2, fam, proto, local, remote, 80, 40000);
	va.ep_id = 7;   /* filled from the key */
	CU_ASSERT_EQUAL(sgbpf_ct_update(&m, SGBPF_CT_TABLE_EST, &ka, &va, BPF_NOEXIST), 0);
	CU_ASSERT_EQUAL(th_map_count(&t, fam == V4 ? SGBPF_MAP_CT4T_EST :
					 proto == 6 ? SGBPF_MAP_CT6T_EST : SGBPF_MAP_CT6U_EST), 1);
	CU_ASSERT_EQUAL(sgbpf_ct_update(&m, SGBPF_CT_TABLE_EST, &ka, &va, BPF_NOEXIST), -EEXIST);
	CU_ASSERT_EQUAL(sgbpf_ct_lookup(&m, SGBPF_CT_TABLE_EST, &ka, &v), 0);
	CU_ASSERT_EQUAL(v.ep_id, 1);
	CU_ASSERT_EQUAL(sgbpf_ct_lookup(&m, SGBPF_CT_TABLE_EST, &kb, &v), -ENOENT);
	CU_ASSERT_EQUAL(sgbpf_ct_update(&m, SGBPF_CT_TABLE_EST, &kb, &vb, BPF_EXIST), -ENOENT);
	CU_ASSERT_EQUAL(sgbpf_ct_delete(&m, SGBPF_CT_TABLE_EST, &kb), -ENOENT);
	CU_ASSERT_EQUAL(sgbpf_ct_lookup_and_delete(&m, SGBPF_CT_TABLE_EST, &kb, &v), -ENOENT);
	CU_ASSERT_EQUAL(sgbpf_ct_delete_if(&m, ep_is, &(uint32_t){ 2 }, NULL), 0);
	CU_ASSERT_EQUAL(sgbpf_ct_lookup(&m, SGBPF_CT_TABLE_EST, &ka, &v), 0);
	CU_ASSERT_EQUAL(v.created_ns, 1);
	/* The walk gives the wide key with the entry's endpoint. */
	CU_ASSERT_EQUAL(sgbpf_ct_next_key(&m, SGBPF_CT_TABLE_EST, NULL, &next), 0);
	CU_ASSERT_EQUAL(memcmp(&next, &ka, sizeof(ka)), 0);
	CU_ASSERT_EQUAL(sgbpf_ct_next_key(&m, SGBPF_CT_TABLE_EST, &next, &next), -ENOENT);
	/* NOEXIST for b replaces a's entry (stale: its address moved). */
	CU_ASSERT_EQUAL(sgbpf_ct_update(&m, SGBPF_CT_TABLE_EST, &kb, &vb, BPF_NOEXIST), 0);
	CU_ASSERT_EQUAL(sgbpf_ct_lookup(&m, SGBPF_CT_TABLE_EST, &ka, &v), -ENOENT);
	CU_ASSERT_EQUAL(sgbpf_ct_lookup(&m, SGBPF_CT_TABLE_EST, &kb, &v), 0);
	CU_ASSERT_EQUAL(v.created_ns, 2);
	CU_ASSERT_EQUAL(sgbpf_ct_count(&m, SGBPF_CT_TABLE_EST), 1);
	CU_ASSERT_EQUAL(sgbpf_ct_delete_if(&m, ep_is, &one, NULL), 0);
	CU_ASSERT_EQUAL(sgbpf_ct_lookup(&m, SGBPF_CT_TABLE_EST, &kb, &v), 0);
	CU_ASSERT_EQUAL(sgbpf_ct_update(&m, SGBPF_CT_TABLE_EST, &kb, &va, BPF_EXIST), 0);
	CU_ASSERT_EQUAL(sgbpf_ct_lookup_and_delete(&m, SGBPF_CT_TABLE_EST, &kb, &v), 0);
	CU_ASSERT_EQUAL(v.created_ns, 1);
	CU_ASSERT_EQUAL(sgbpf_ct_count(&m, SGBPF_CT_TABLE_EST), 0);
	th_close(&t);
}

static void test_api_tcp4_owner(void)
{
	api_owner(V4, 6);
}

static void test_api_tcp6_owner(void)
{
	api_owner(V6, 6);
}

static void test_api_udp6_owner(void)
{
	api_owner(V6, 17);
}

/* a's flow R:40000 -> A:port of family fam and protocol proto (TCP: port
 * 80, UDP: 53), confirmed: in a short-key table; then a swap gives A4 and
 * A6 to b (ids kept; a gets other addresses) with b's rules allowing proto
 * on the flow's port (b_ok) or the next one. */
struct moved {
	struct th t;
	struct sg_policy p, q;
	uint8_t fam, proto;
	uint16_t port;                  /* the flow's local port */
	const char *local, *remote;     /* A, R of fam */
	uint32_t a, b;
	struct sgbpf_ct_key ka, kb;     /* the flow under a's and b's key */
};

/* A packet of the flow: inbound (R -> A) or outbound; TCP: an ACK. */
static void moved_pkt(const struct moved *m, struct sg_pkt_spec *s, bool in)
{
	const char *src = in ? m->remote : m->local, *dst = in ? m->local : m->remote;
	uint16_t sp = in ? 40000 : m->port, dp = in ? m->port : 40000;

	if (m->proto == 6)
		th_tcp(s, m->fam, src, dst, sp, dp, SG_TCP_ACK);
	else
		th_udp(s, m->fam, src, dst, sp, dp);
}

/* The short-key table the flow is confirmed in. */
static enum sgbpf_map moved_map(const struct moved *m)
{
	if (m->fam == V4)
		return SGBPF_MAP_CT4T_EST;
	return m->proto == 6 ? SGBPF_MAP_CT6T_EST : SGBPF_MAP_CT6U_EST;
}

/* Returns 0, or -1 after failing the test (nothing left open). */
static int moved_setup(struct moved *m, uint8_t fam, uint8_t proto, bool b_ok)
{
	uint16_t b_port;

	m->fam = fam;
	m->proto = proto;
	m->port = proto == 6 ? 80 : 53;
	b_port = b_ok ? m->port : m->port + 1;
	m->local = fam == V4 ? A4 : A6;
	m->remote = fam == V4 ? R4 : R6;
	two_family_policy(&m->p);
	if (th_open(&m->t, true) || th_apply(&m->t, &m->p)) {
		CU_FAIL("opening the datapath or applying the test policy failed");
		th_close(&m->t);
		sg_policy_free(&m->p);
		return -1;
	}
	m->a = th_ep(&m->t, "ns/a");
	m->b = th_ep(&m->t, "ns/b");
	if (proto == 6) {
		th_tcp_handshake(&m->t, m->a, fam, m->remote, 40000, m->local, m->port);
	} else {
		struct sg_pkt_spec s;

		moved_pkt(m, &s, true);
		TH_ALLOW(&m->t, m->a, IN, &s, SGBPF_ALLOW_RULE);
		moved_pkt(m, &s, false);
		TH_ALLOW(&m->t, m->a, OUT, &s, SGBPF_ALLOW_TRACKED);
	}
	th_ct_key(&m->ka, m->a, fam, proto, m->local, m->remote, m->port, 40000);
	th_ct_key(&m->kb, m->b, fam, proto, m->local, m->remote, m->port, 40000);
	CU_ASSERT_EQUAL(th_ct_find(&m->t, &m->ka, NULL), TH_CT_EST);
	CU_ASSERT_EQUAL(th_map_count(&m->t, moved_map(m)), 1);

	tp_init(&m->q);
	tp_in(&m->q, "sg-a", proto, m->port, m->port, "10.0.0.0/8");
	tp_in(&m->q, "sg-a", proto, m->port, m->port, "fd00::/16");
	tp_in(&m->q, "sg-b", proto, b_port, b_port, "10.0.0.0/8");
	tp_in(&m->q, "sg-b", proto, b_port, b_port, "fd00::/16");
	tp_endpoint(&m->q, "ns/a", "sg-a", "10.0.0.12,fd00::12", NULL);
	tp_endpoint(&m->q, "ns/b", "sg-b", A4 "," A6, NULL);
	CU_ASSERT_EQUAL(th_apply(&m->t, &m->q), 0);
	CU_ASSERT_EQUAL(th_ep(&m->t, "ns/b"), m->b);
	return 0;
}

static void moved_done(struct moved *m)
{
	th_close(&m->t);
	sg_policy_free(&m->q);
	sg_policy_free(&m->p);
}

/* a's confirmed flow must not serve b once b owns its address: the tuple
 * names the flow, the entry's endpoint decides whose it is. Were the hit
 * taken, b's packet would pass as tracked (the entry passes b's source
 * check now) though b's rules deny the port. */
static void moved_address_not_served(uint8_t fam, uint8_t proto)
{
	struct sgbpf_ct_val v;
	struct sg_pkt_spec s;
	struct moved m;

	if (moved_setup(&m, fam, proto, false))
		return;
	moved_pkt(&m, &s, true);
	TH_DROP(&m.t, m.b, IN, &s, SGBPF_DROP_NO_RULE);
	moved_pkt(&m, &s, false);
	TH_DROP(&m.t, m.b, OUT, &s, SGBPF_DROP_NO_RULE);
	/* a's entry is left as it was (the collector ages it out); b has none. */
	CU_ASSERT_EQUAL(th_ct_find(&m.t, &m.ka, &v), TH_CT_EST);
	CU_ASSERT_EQUAL(v.ep_id, m.a);
	CU_ASSERT_EQUAL(th_ct_find(&m.t, &m.kb, NULL), TH_CT_NONE);
	CU_ASSERT_EQUAL(th_map_count(&m.t, moved_map(&m)), 1);
	CU_ASSERT_EQUAL(th_map_count(&m.t, fam == V4 ? SGBPF_MAP_CT4_NEW : SGBPF_MAP_CT_NEW), 0);
	moved_done(&m);
}

static void test_moved_address_not_served(void)
{
	moved_address_not_served(V4, 6);
}

static void test_moved_address_not_served6(void)
{
	moved_address_not_served(V6, 6);
}

static void test_moved_address_not_served6_udp(void)
{
	moved_address_not_served(V6, 17);
}

/* b's own flow on the moved tuple: allowed by b's rules (TCP: picked up),
 * confirmed by b's answer, and promoted over a's stale entry. */
static void promotion_replaces_stale(uint8_t fam, uint8_t proto)
{
	struct sgbpf_global_stats g0, g1;
	struct sgbpf_ct_val v;
	struct sg_pkt_spec s;
	struct moved m;

	if (moved_setup(&m, fam, proto, true))
		return;
	th_global_stats(&m.t, &g0);
	moved_pkt(&m, &s, true);
	TH_ALLOW(&m.t, m.b, IN, &s, SGBPF_ALLOW_RULE);      /* b's rule */
	CU_ASSERT_EQUAL(th_ct_find(&m.t, &m.kb, NULL), TH_CT_NEW);
	moved_pkt(&m, &s, false);
	TH_ALLOW(&m.t, m.b, OUT, &s, SGBPF_ALLOW_TRACKED);  /* answered: promoted */
	th_global_stats(&m.t, &g1);
	CU_ASSERT_EQUAL(g1.ct_est_created - g0.ct_est_created, 1);
	CU_ASSERT_EQUAL(g1.ct_est_full, g0.ct_est_full);
	CU_ASSERT_EQUAL(th_ct_find(&m.t, &m.kb, &v), TH_CT_EST);
	CU_ASSERT_EQUAL(v.ep_id, m.b);
	CU_ASSERT_EQUAL(th_ct_find(&m.t, &m.ka, NULL), TH_CT_NONE);
	CU_ASSERT_EQUAL(th_map_count(&m.t, moved_map(&m)), 1);
	CU_ASSERT_EQUAL(th_map_count(&m.t, fam == V4 ? SGBPF_MAP_CT4_NEW : SGBPF_MAP_CT_NEW), 0);
	moved_pkt(&m, &s, true);
	TH_ALLOW(&m.t, m.b, IN, &s, SGBPF_ALLOW_TRACKED);
	/* Within this generation b's entry vouches for b only: a's packet on
	 * the tuple takes the full check (the address is b's now). */
	TH_DROP(&m.t, m.a, IN, &s, SGBPF_DROP_WRONG_DST);
	moved_done(&m);
}

static void test_promotion_replaces_stale(void)
{
	promotion_replaces_stale(V4, 6);
}

static void test_promotion_replaces_stale6(void)
{
	promotion_replaces_stale(V6, 6);
}

static void test_promotion_replaces_stale6_udp(void)
{
	promotion_replaces_stale(V6, 17);
}

/* sgbpf_ep_forget: every entry of the endpoint, in every map, and no other. */
static void test_ep_forget(void)
{
	struct sgbpf_ct_key k;
	struct sg_policy p;
	struct th t;
	uint32_t a, b;

	two_family_policy(&p);
	TH_SETUP(t, p);
	a = th_ep(&t, "ns/a");
	b = th_ep(&t, "ns/b");
	th_tcp_handshake(&t, a, V4, R4, 40000, A4, 80);
	th_tcp_handshake(&t, a, V6, R6, 40000, A6, 80);
	th_tcp_handshake(&t, b, V4, R4, 40000, B4, 80);
	th_tcp_handshake(&t, b, V6, R6, 40000, B6, 80);
	for (uint16_t port = 41000; port < 41003; port++) {
		struct sg_pkt_spec s;

		th_udp(&s, V4, R4, A4, port, 53);
		TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
		th_udp(&s, V6, R6, B6, port, 53);
		TH_ALLOW(&t, b, IN, &s, SGBPF_ALLOW_RULE);
	}
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_EST), 4);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW), 6);

	CU_ASSERT_EQUAL(sgbpf_ep_forget(t.h, a), 0);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_EST), 2);
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW), 3);
	th_ct_key(&k, a, V4, 6, A4, R4, 80, 40000);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_NONE);
	th_ct_key(&k, b, V4, 6, B4, R4, 80, 40000);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_EST);
	th_ct_key(&k, b, V6, 6, B6, R6, 80, 40000);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_EST);
	th_ct_key(&k, b, V6, 17, B6, R6, 53, 41002);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k, NULL), TH_CT_NEW);
	th_close(&t);
	sg_policy_free(&p);
}

/* sgbpfd's batched counter (metrics.h) counts each table per family: an
 * IPv4-only node's full ct4_new must not read as half of both families. */
static void test_metrics_count_per_family(void)
{
	/* Entries per [metrics table][family]; ipv6 new stays empty. */
	static const unsigned want[SGBPF_METRICS_CT_MAX][SGBPF_AF_MAX] = {
		[SGBPF_METRICS_CT_NEW] = { [SGBPF_AF_V4] = 7, [SGBPF_AF_V6] = 0 },
		[SGBPF_METRICS_CT_EST] = { [SGBPF_AF_V4] = 5, [SGBPF_AF_V6] = 3 },
	};
	int fds[SGBPF_METRICS_CT_MAX][SGBPF_AF_MAX];
	struct sgbpf_ct_count c;
	long est4t, est6;
	struct sgbpf_ct_maps m;
	struct th t;
	int steps = 0;

	CU_ASSERT_EQUAL_FATAL(th_open(&t, false), 0);
	sgbpf_ct_maps_of(t.h, &m);
	for (int mt = 0; mt < SGBPF_METRICS_CT_MAX; mt++) {
		enum sgbpf_ct_table tb = mt == SGBPF_METRICS_CT_NEW ? SGBPF_CT_TABLE_NEW :
								       SGBPF_CT_TABLE_EST;

		for (int f = 0; f < SGBPF_AF_MAX; f++) {
			fds[mt][f] = m.fd[tb][f];
			for (unsigned i = 0; i < want[mt][f]; i++) {
				struct sgbpf_ct_val v = { .state = SGBPF_CT_ESTABLISHED };
				struct sgbpf_ct_key k;

				/* TCP and UDP: est spans ct4_est and ct4t_est,
				 * ct6t_est and ct6u_est. */
				th_ct_key(&k, 1, f, i % 2 ? 17 : 6, f == V4 ? A4 : A6,
					  f == V4 ? R4 : R6, 80, 40000 + i);
				CU_ASSERT_EQUAL(sgbpf_ct_update(&m, tb, &k, &v, BPF_NOEXIST), 0);
			}
		}
	}
	/* Batches of 2: several steps per map, and a map ending mid-batch. */
	est4t = th_map_count(&t, SGBPF_MAP_CT4T_EST);
	CU_ASSERT(est4t > 0 && est4t < want[SGBPF_METRICS_CT_EST][V4]);
	est6 = th_map_count(&t, SGBPF_MAP_CT6T_EST);
	CU_ASSERT(est6 > 0 && est6 < want[SGBPF_METRICS_CT_EST][V6]);
	est6 += th_map_count(&t, SGBPF_MAP_CT6U_EST);
	CU_ASSERT_EQUAL(est6, want[SGBPF_METRICS_CT_EST][V6]);
	CU_ASSERT_EQUAL_FATAL(sgbpf_ct_count_init(&c, fds, m.fd_short, 2), 0);
	sgbpf_ct_count_start(&c);
	while (!sgbpf_ct_count_step(&c) && steps < 100)
		steps++;
	CU_ASSERT_EQUAL(c.err, 0);
	CU_ASSERT_FALSE(c.running);
	for (int mt = 0; mt < SGBPF_METRICS_CT_MAX; mt++)
		for (int f = 0; f < SGBPF_AF_MAX; f++)
			th_check(c.entries[mt][f] == want[mt][f], "counter: table %d family %d: "
				 "%llu entries, want %u", mt, f,
				 (unsigned long long)c.entries[mt][f], want[mt][f]);
	/* And per map: each walk's count is its own map's. */
	for (int w = 0, tb, f; w < SGBPF_METRICS_CT_WALKS; w++) {
		enum sgbpf_map mp = sgbpf_ct_count_map(w, &tb, &f);

		th_check(mp != SGBPF_MAP_MAX && c.map_entries[w] == (uint64_t)th_map_count(&t, mp),
			 "counter: walk %d (%s): %llu entries, the map holds %zu", w,
			 sgbpf_map_name(mp), (unsigned long long)c.map_entries[w],
			 th_map_count(&t, mp));
	}
	{
		int tb, f;

		CU_ASSERT_EQUAL(sgbpf_ct_count_map(SGBPF_METRICS_CT_WALKS, &tb, &f), SGBPF_MAP_MAX);
	}
	sgbpf_ct_count_free(&c);
	th_close(&t);
}

static CU_TestInfo ct_tests[] = {
	{ "key_conversion", test_key_conversion },
	{ "datapath_family_maps", test_datapath_family_maps },
	{ "api", test_api },
	{ "api_tcp4_owner", test_api_tcp4_owner },
	{ "api_tcp6_owner", test_api_tcp6_owner },
	{ "api_udp6_owner", test_api_udp6_owner },
	{ "moved_address_not_served", test_moved_address_not_served },
	{ "moved_address_not_served6", test_moved_address_not_served6 },
	{ "moved_address_not_served6_udp", test_moved_address_not_served6_udp },
	{ "promotion_replaces_stale", test_promotion_replaces_stale },
	{ "promotion_replaces_stale6", test_promotion_replaces_stale6 },
	{ "promotion_replaces_stale6_udp", test_promotion_replaces_stale6_udp },
	{ "ep_forget", test_ep_forget },
	{ "metrics_count_per_family", test_metrics_count_per_family },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-ct", NULL, NULL, ct_tests);
