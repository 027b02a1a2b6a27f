// SPDX-License-Identifier: BSD-2-Clause
/*
 * Conntrack and fragment garbage collection (user/lib/ct_gc.c) against the
 * real maps: the expiry rule per state equals the datapath's (distinct small
 * timeouts in the slot config, last_seen_ns moved back), live entries stay,
 * an entry refreshed by a packet between the collector's read and its delete
 * is kept (with that packet counted), counts, fragments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <CUnit/CUnit.h>

#include "ct_gc.h"
#include "harness.h"
#include "../lib/testlib.h"

#define R4 "10.1.1.1"
#define R6 "fd00:1::1"
#define NS_PER_S 1000000000ull
#define HALF_S (NS_PER_S / 2)

/* Distinct timeouts: a collector using the wrong one for a state deletes
 * too early (aged T - 0.5 s) or too late (aged T + 0.5 s). */
static const uint32_t tos[SGBPF_TO_MAX] = {
	[SGBPF_TO_TCP_ESTABLISHED] = 20,
	[SGBPF_TO_TCP_SYN] = 5,
	[SGBPF_TO_TCP_FIN] = 6,
	[SGBPF_TO_TCP_CLOSED] = 3,
	[SGBPF_TO_UDP] = 4,
	[SGBPF_TO_UDP_STREAM] = 11,
	[SGBPF_TO_ICMP] = 8,
	[SGBPF_TO_OTHER] = 9,
	[SGBPF_TO_FRAG] = 10,
};

static void gc_policy(struct sg_policy *p)
{
	tp_init(p);
	tp_in(p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_in(p, "sg-a", 17, 53, 53, "10.0.0.0/8");
	tp_in(p, "sg-a", 1, -1, -1, "10.0.0.0/8");
	tp_in(p, "sg-a", 58, -1, -1, "fd00::/8");
	tp_in(p, "sg-a", 47, -1, -1, "10.0.0.0/8");
	tp_endpoint(p, "ns/a", "sg-a", A4 "," A6, NULL);
}

/* No XDP shadow: the collector runs on the primary copy only, and later
 * frames must meet the same state in every copy. */
static int setup(struct th *t, struct sg_policy *p)
{
	int err = th_open(t, false);

	if (err)
		return err;
	memcpy(t->timeout_override, tos, sizeof(tos));
	return th_apply(t, p);
}

static struct sgbpf_ct_gc_maps maps_of(const struct th *t)
{
	struct sgbpf_ct_gc_maps m = {
		.state = sgbpf_map_fd(t->h, SGBPF_MAP_STATE),
		.slot_config = sgbpf_map_fd(t->h, SGBPF_MAP_SLOT_CONFIG),
		.frags = sgbpf_map_fd(t->h, SGBPF_MAP_FRAGS),
	};

	sgbpf_ct_maps_of(t->h, &m.ct);
	return m;
}

static void tcp_handshake(struct th *t, uint32_t a, uint16_t rport)
{
	th_tcp_handshake(t, a, V4, R4, rport, A4, 80);
}

struct flow {
	const char *what;
	struct sgbpf_ct_key k;
	enum th_ct_where where;
	uint8_t state;
	unsigned to_idx;
};

/* One entry of every state and protocol class; returns how many. */
static size_t make_flows(struct th *t, uint32_t a, struct flow *f)
{
	struct sg_pkt_spec s;
	size_t n = 0;

	th_tcp(&s, V4, R4, A4, 40001, 80, SG_TCP_SYN);
	TH_ALLOW(t, a, IN, &s, SGBPF_ALLOW_RULE);
	f[n] = (struct flow){ "tcp syn", {}, TH_CT_NEW, SGBPF_CT_SYN_SENT, SGBPF_TO_TCP_SYN };
	th_ct_key(&f[n++].k, a, V4, 6, A4, R4, 80, 40001);

	tcp_handshake(t, a, 40002);
	f[n] = (struct flow){ "tcp established", {}, TH_CT_EST, SGBPF_CT_ESTABLISHED,
			      SGBPF_TO_TCP_ESTABLISHED };
	th_ct_key(&f[n++].k, a, V4, 6, A4, R4, 80, 40002);

	tcp_handshake(t, a, 40003);
	th_tcp(&s, V4, R4, A4, 40003, 80, SG_TCP_FIN | SG_TCP_ACK);
	TH_ALLOW(t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	f[n] = (struct flow){ "tcp fin", {}, TH_CT_EST, SGBPF_CT_FIN_WAIT, SGBPF_TO_TCP_FIN };
	th_ct_key(&f[n++].k, a, V4, 6, A4, R4, 80, 40003);

	tcp_handshake(t, a, 40004);
	th_tcp(&s, V4, R4, A4, 40004, 80, SG_TCP_RST);
	TH_ALLOW(t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	f[n] = (struct flow){ "tcp closed", {}, TH_CT_EST, SGBPF_CT_CLOSED, SGBPF_TO_TCP_CLOSED };
	th_ct_key(&f[n++].k, a, V4, 6, A4, R4, 80, 40004);

	th_udp(&s, V4, R4, A4, 5000, 53);
	TH_ALLOW(t, a, IN, &s, SGBPF_ALLOW_RULE);
	f[n] = (struct flow){ "udp one-way", {}, TH_CT_NEW, SGBPF_CT_NEW, SGBPF_TO_UDP };
	th_ct_key(&f[n++].k, a, V4, 17, A4, R4, 53, 5000);

	th_udp(&s, V4, R4, A4, 5001, 53);
	TH_ALLOW(t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, A4, R4, 53, 5001);
	TH_ALLOW(t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	f[n] = (struct flow){ "udp stream", {}, TH_CT_EST, SGBPF_CT_ESTABLISHED,
			      SGBPF_TO_UDP_STREAM };
	th_ct_key(&f[n++].k, a, V4, 17, A4, R4, 53, 5001);

	th_icmp(&s, V4, R4, A4, 8, 0, 7);
	TH_ALLOW(t, a, IN, &s, SGBPF_ALLOW_RULE);
	f[n] = (struct flow){ "icmp echo", {}, TH_CT_NEW, SGBPF_CT_NEW, SGBPF_TO_ICMP };
	th_ct_key(&f[n++].k, a, V4, 1, A4, R4, 7, 0);

	th_icmp(&s, V6, R6, A6, 128, 0, 9);
	TH_ALLOW(t, a, IN, &s, SGBPF_ALLOW_RULE);
	f[n] = (struct flow){ "icmpv6 echo", {}, TH_CT_NEW, SGBPF_CT_NEW, SGBPF_TO_ICMP };
	th_ct_key(&f[n++].k, a, V6, 58, A6, R6, 9, 0);

	th_ipproto(&s, V4, 47, R4, A4);
	TH_ALLOW(t, a, IN, &s, SGBPF_ALLOW_RULE);
	f[n] = (struct flow){ "other (gre)", {}, TH_CT_NEW, SGBPF_CT_NEW, SGBPF_TO_OTHER };
	th_ct_key(&f[n++].k, a, V4, 47, A4, R4, 0, 0);
	return n;
}

static void test_expiry_per_state(void)
{
	struct sgbpf_ct_gc_maps m;
	struct sgbpf_ct_gc_stats st;
	struct sg_policy p;
	struct flow f[16];
	struct sgbpf_ct_val v;
	size_t n, n_est = 0;
	struct th t;
	uint32_t a;

	gc_policy(&p);
	CU_ASSERT_EQUAL_FATAL(setup(&t, &p), 0);
	a = th_ep(&t, "ns/a");
	m = maps_of(&t);
	n = make_flows(&t, a, f);
	for (size_t i = 0; i < n; i++) {
		enum th_ct_where w = th_ct_find(&t, &f[i].k, &v);

		th_check(w == f[i].where && v.state == f[i].state,
			 "%s: entry in table %d state %u, expected table %d state %u", f[i].what,
			 w, v.state, f[i].where, f[i].state);
		n_est += f[i].where == TH_CT_EST;
	}
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_EST) + th_ct_count(&t, SGBPF_MAP_CT_NEW), n);

	/* Half a second short of each entry's own timeout: all live. */
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(th_ct_age(&t, &f[i].k, tos[f[i].to_idx] * NS_PER_S - HALF_S), 0);
	CU_ASSERT_EQUAL(sgbpf_ct_gc_run(&m, NULL, &st), 0);
	CU_ASSERT_EQUAL(st.scanned, n);
	CU_ASSERT_EQUAL(st.expired, 0);
	CU_ASSERT_EQUAL(st.deleted, 0);
	for (size_t i = 0; i < n; i++)
		th_check(th_ct_find(&t, &f[i].k, NULL) == f[i].where,
			 "%s: deleted %.1f s short of its %u s timeout", f[i].what,
			 (double)HALF_S / NS_PER_S, tos[f[i].to_idx]);

	/* Half a second past: all collected, each from its own map. */
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(th_ct_age(&t, &f[i].k, NS_PER_S), 0);
	CU_ASSERT_EQUAL(sgbpf_ct_gc_run(&m, NULL, &st), 0);
	CU_ASSERT_EQUAL(st.scanned, n);
	CU_ASSERT_EQUAL(st.expired, n);
	CU_ASSERT_EQUAL(st.deleted, n);
	CU_ASSERT_EQUAL(st.deleted_est, n_est);
	CU_ASSERT_EQUAL(st.deleted_new, n - n_est);
	CU_ASSERT_EQUAL(st.kept_refreshed, 0);
	for (size_t i = 0; i < n; i++)
		th_check(th_ct_find(&t, &f[i].k, NULL) == TH_CT_NONE,
			 "%s: kept 0.5 s past its %u s timeout", f[i].what, tos[f[i].to_idx]);
	th_close(&t);
	sg_policy_free(&p);
}

/* The collector's verdict is the datapath's: at the same age a reply with
 * no rule of its own passes exactly when the collector keeps the entry. */
static void test_agrees_with_datapath(void)
{
	struct sgbpf_ct_gc_maps m;
	struct sgbpf_ct_gc_stats st;
	struct sgbpf_ct_key k1, k2;
	struct sg_pkt_spec s;
	struct sg_policy p;
	struct th t;
	uint32_t a;

	gc_policy(&p);
	CU_ASSERT_EQUAL_FATAL(setup(&t, &p), 0);
	a = th_ep(&t, "ns/a");
	m = maps_of(&t);
	th_udp(&s, V4, R4, A4, 6001, 53);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, R4, A4, 6002, 53);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_ct_key(&k1, a, V4, 17, A4, R4, 53, 6001);
	th_ct_key(&k2, a, V4, 17, A4, R4, 53, 6002);
	CU_ASSERT_EQUAL(th_ct_age(&t, &k1, tos[SGBPF_TO_UDP] * NS_PER_S - HALF_S), 0);
	CU_ASSERT_EQUAL(th_ct_age(&t, &k2, tos[SGBPF_TO_UDP] * NS_PER_S + HALF_S), 0);
	/* The datapath first: k1 live, k2 gone (a reply has no rule). */
	th_udp(&s, V4, A4, R4, 53, 6001);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_udp(&s, V4, A4, R4, 53, 6002);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);

	/* Same ages again, now judged by the collector. */
	th_udp(&s, V4, R4, A4, 6003, 53);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_udp(&s, V4, R4, A4, 6004, 53);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	th_ct_key(&k1, a, V4, 17, A4, R4, 53, 6003);
	th_ct_key(&k2, a, V4, 17, A4, R4, 53, 6004);
	CU_ASSERT_EQUAL(th_ct_age(&t, &k1, tos[SGBPF_TO_UDP] * NS_PER_S - HALF_S), 0);
	CU_ASSERT_EQUAL(th_ct_age(&t, &k2, tos[SGBPF_TO_UDP] * NS_PER_S + HALF_S), 0);
	CU_ASSERT_EQUAL(sgbpf_ct_gc_run(&m, NULL, &st), 0);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k1, NULL), TH_CT_NEW);
	CU_ASSERT_EQUAL(th_ct_find(&t, &k2, NULL), TH_CT_NONE);
	th_udp(&s, V4, A4, R4, 53, 6003);
	TH_ALLOW(&t, a, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_udp(&s, V4, A4, R4, 53, 6004);
	TH_DROP(&t, a, OUT, &s, SGBPF_DROP_NO_RULE);
	th_close(&t);
	sg_policy_free(&p);
}

/* Hook: a packet refreshes the entry after the collector read it expired.
 * The packet found it live (it was judged a moment earlier), which the hook
 * stages by stamping last_seen with the datapath's clock first. */
struct refresh_ctx {
	struct th *t;
	uint32_t ep;
	const struct sgbpf_ct_key *keys[4];
	struct sg_pkt_spec *pkts[4];
	size_t n;
	unsigned calls;
};

static void refresh_hook(enum sgbpf_map map, const void *key, void *ctx)
{
	struct refresh_ctx *rc = ctx;
	enum sgbpf_ct_table tab = map == SGBPF_MAP_CT_EST ? SGBPF_CT_TABLE_EST : SGBPF_CT_TABLE_NEW;
	struct sgbpf_ct_maps m;

	sgbpf_ct_maps_of(rc->t->h, &m);
	for (size_t i = 0; i < rc->n; i++) {
		struct sgbpf_ct_val v;
		struct th_res r;

		if (map == SGBPF_MAP_FRAGS || memcmp(key, rc->keys[i], sizeof(*rc->keys[i])))
			continue;
		rc->calls++;
		CU_ASSERT_EQUAL_FATAL(sgbpf_ct_lookup(&m, tab, key, &v), 0);
		v.last_seen_ns = sgbpf_gc_now_ns();
		CU_ASSERT_EQUAL_FATAL(sgbpf_ct_update(&m, tab, key, &v, BPF_EXIST), 0);
		CU_ASSERT_EQUAL(th_send(rc->t, rc->ep, IN, rc->pkts[i], &r), 0);
		CU_ASSERT(r.pass && r.ev.reason == SGBPF_ALLOW_TRACKED);
	}
}

static void test_refreshed_before_delete_is_kept(void)
{
	struct sgbpf_ct_gc_opts o = { .before_delete = refresh_hook };
	struct sgbpf_ct_gc_maps m;
	struct sgbpf_ct_gc_stats st;
	struct sgbpf_ct_key ku, kt;
	struct sgbpf_ct_val vu0, vt0, v;
	struct sg_pkt_spec su, stcp;
	struct refresh_ctx rc = { 0 };
	struct sg_policy p;
	struct th t;
	uint32_t a;

	gc_policy(&p);
	CU_ASSERT_EQUAL_FATAL(setup(&t, &p), 0);
	a = th_ep(&t, "ns/a");
	m = maps_of(&t);
	th_udp(&su, V4, R4, A4, 7001, 53);
	TH_ALLOW(&t, a, IN, &su, SGBPF_ALLOW_RULE);
	tcp_handshake(&t, a, 7002);
	th_tcp(&stcp, V4, R4, A4, 7002, 80, SG_TCP_ACK);
	th_ct_key(&ku, a, V4, 17, A4, R4, 53, 7001);
	th_ct_key(&kt, a, V4, 6, A4, R4, 80, 7002);
	CU_ASSERT_EQUAL(th_ct_age(&t, &ku, tos[SGBPF_TO_UDP] * NS_PER_S + HALF_S), 0);
	CU_ASSERT_EQUAL(th_ct_age(&t, &kt, tos[SGBPF_TO_TCP_ESTABLISHED] * NS_PER_S + HALF_S), 0);
	CU_ASSERT_EQUAL_FATAL(th_ct_find(&t, &ku, &vu0), TH_CT_NEW);
	CU_ASSERT_EQUAL_FATAL(th_ct_find(&t, &kt, &vt0), TH_CT_EST);

	rc = (struct refresh_ctx){ .t = &t, .ep = a, .keys = { &ku, &kt },
				   .pkts = { &su, &stcp }, .n = 2 };
	o.ctx = &rc;
	CU_ASSERT_EQUAL(sgbpf_ct_gc_run(&m, &o, &st), 0);
	CU_ASSERT_EQUAL(rc.calls, 2);
	CU_ASSERT_EQUAL(st.expired, 2);
	CU_ASSERT_EQUAL(st.deleted, 0);
	CU_ASSERT_EQUAL(st.kept_refreshed, 2);
	CU_ASSERT_EQUAL(st.lost_refreshed, 0);
	/* Put back as the packet left it: its count, fresh last_seen. */
	CU_ASSERT_EQUAL(th_ct_find(&t, &ku, &v), TH_CT_NEW);
	CU_ASSERT_EQUAL(v.packets[IN], vu0.packets[IN] + 1);
	CU_ASSERT(!sgbpf_ct_expired(&t.comp.config, &ku, &v, sgbpf_gc_now_ns()));
	CU_ASSERT_EQUAL(th_ct_find(&t, &kt, &v), TH_CT_EST);
	CU_ASSERT_EQUAL(v.packets[IN], vt0.packets[IN] + 1);
	CU_ASSERT_EQUAL(v.state, SGBPF_CT_ESTABLISHED);
	/* And the flow goes on: a reply with no rule of its own passes. */
	th_tcp(&stcp, V4, A4, R4, 80, 7002, SG_TCP_ACK);
	TH_ALLOW(&t, a, OUT, &stcp, SGBPF_ALLOW_TRACKED);

	/* Kernels without lookup-and-delete on hash maps: plain delete, the
	 * refresh inside the window is not seen (documented window). */
	CU_ASSERT_EQUAL(th_ct_age(&t, &ku, tos[SGBPF_TO_UDP] * NS_PER_S + HALF_S), 0);
	rc.n = 1;
	rc.calls = 0;
	o.plain_delete = true;
	CU_ASSERT_EQUAL(sgbpf_ct_gc_run(&m, &o, &st), 0);
	CU_ASSERT_EQUAL(rc.calls, 1);
	CU_ASSERT_EQUAL(st.deleted, 1);
	CU_ASSERT_EQUAL(st.deleted_new, 1);
	CU_ASSERT_EQUAL(th_ct_find(&t, &ku, NULL), TH_CT_NONE);
	CU_ASSERT_EQUAL(th_ct_find(&t, &kt, NULL), TH_CT_EST);
	th_close(&t);
	sg_policy_free(&p);
}

/* Many flows, a random part of them past their timeout: exact counts, the
 * right ones gone, and a second pass finds nothing to do. */
static void test_counts_random(void)
{
	enum { N_UDP = 300, N_TCP = 40 };
	unsigned seed = sgt_seed(), rs = seed;
	struct sgbpf_ct_gc_maps m;
	struct sgbpf_ct_gc_stats st;
	struct sg_pkt_spec s;
	struct sgbpf_ct_key k;
	struct sg_policy p;
	bool past[N_UDP + N_TCP];
	size_t n_past_new = 0, n_past_est = 0, bad = 0;
	struct th t;
	uint32_t a;

	gc_policy(&p);
	CU_ASSERT_EQUAL_FATAL(setup(&t, &p), 0);
	a = th_ep(&t, "ns/a");
	m = maps_of(&t);
	for (int i = 0; i < N_UDP + N_TCP; i++) {
		bool udp = i < N_UDP;
		uint16_t port = 10000 + i;
		uint64_t to = (udp ? tos[SGBPF_TO_UDP] : tos[SGBPF_TO_TCP_ESTABLISHED]) * NS_PER_S;

		if (udp) {
			th_udp(&s, V4, R4, A4, port, 53);
			TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
		} else {
			tcp_handshake(&t, a, port);
		}
		th_ct_key(&k, a, V4, udp ? 17 : 6, A4, R4, udp ? 53 : 80, port);
		past[i] = rand_r(&rs) & 1;
		CU_ASSERT_EQUAL(th_ct_age(&t, &k, past[i] ? to + HALF_S : to - HALF_S), 0);
		if (past[i])
			*(udp ? &n_past_new : &n_past_est) += 1;
	}
	CU_ASSERT_EQUAL(sgbpf_ct_gc_run(&m, NULL, &st), 0);
	th_check(st.scanned == N_UDP + N_TCP && st.deleted == n_past_new + n_past_est &&
		 st.expired == st.deleted && st.deleted_new == n_past_new &&
		 st.deleted_est == n_past_est,
		 "seed %u: scanned %lu deleted %lu (new %lu est %lu) expired %lu, expected "
		 "%d, %zu (%zu, %zu)", seed, (unsigned long)st.scanned,
		 (unsigned long)st.deleted, (unsigned long)st.deleted_new,
		 (unsigned long)st.deleted_est, (unsigned long)st.expired, N_UDP + N_TCP,
		 n_past_new + n_past_est, n_past_new, n_past_est);
	for (int i = 0; i < N_UDP + N_TCP; i++) {
		bool udp = i < N_UDP;

		th_ct_key(&k, a, V4, udp ? 17 : 6, A4, R4, udp ? 53 : 80, 10000 + i);
		bad += (th_ct_find(&t, &k, NULL) == TH_CT_NONE) != past[i];
	}
	th_check(bad == 0, "seed %u: %zu flows kept/deleted against their age", seed, bad);
	CU_ASSERT_EQUAL(sgbpf_ct_gc_run(&m, NULL, &st), 0);
	CU_ASSERT_EQUAL(st.scanned, N_UDP + N_TCP - n_past_new - n_past_est);
	CU_ASSERT_EQUAL(st.deleted, 0);
	th_close(&t);
	sg_policy_free(&p);
}

static void frag_first(struct sg_pkt_spec *s, uint32_t id)
{
	th_udp(s, V4, R4, A4, 40000, 53);
	s->ip_id = id;
	s->more_frags = true;
	s->payload_len = 64;
}

static void frag_later(struct sg_pkt_spec *s, uint32_t id)
{
	frag_first(s, id);
	s->frag_offset = 72;
	s->more_frags = false;
}

/* Move every frags entry's last_seen back by ns. */
static void frags_age(struct th *t, uint64_t ns)
{
	int fd = sgbpf_map_fd(t->h, SGBPF_MAP_FRAGS);
	struct sgbpf_frag_key k, prev;
	struct sgbpf_frag_val v;
	bool first = true;

	while (!bpf_map_get_next_key(fd, first ? NULL : &prev, &k)) {
		first = false;
		prev = k;
		CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(fd, &k, &v), 0);
		v.last_seen_ns -= ns;
		CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(fd, &k, &v, BPF_EXIST), 0);
	}
}

static void test_frags(void)
{
	uint64_t to = tos[SGBPF_TO_FRAG] * NS_PER_S;
	struct sgbpf_ct_gc_maps m;
	struct sgbpf_ct_gc_stats st;
	struct sg_pkt_spec s;
	struct sg_policy p;
	struct th t;
	uint32_t a;

	gc_policy(&p);
	CU_ASSERT_EQUAL_FATAL(setup(&t, &p), 0);
	a = th_ep(&t, "ns/a");
	m = maps_of(&t);
	/* Only the fragment tables matter here. */
	memset(&m.ct, 0xff, sizeof(m.ct));     /* every conntrack fd -1 */
	frag_first(&s, 901);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_RULE);
	frag_first(&s, 902);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_TRACKED);
	CU_ASSERT_EQUAL_FATAL(th_map_count(&t, SGBPF_MAP_FRAGS), 2);

	frags_age(&t, to - HALF_S);
	CU_ASSERT_EQUAL(sgbpf_ct_gc_run(&m, NULL, &st), 0);
	CU_ASSERT_EQUAL(st.scanned, 2);
	CU_ASSERT_EQUAL(st.deleted, 0);
	CU_ASSERT_EQUAL(th_map_count(&t, SGBPF_MAP_FRAGS), 2);
	/* A later fragment refreshes its first fragment's memory. */
	frag_later(&s, 901);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_FRAG);

	frags_age(&t, NS_PER_S);
	CU_ASSERT_EQUAL(sgbpf_ct_gc_run(&m, NULL, &st), 0);
	CU_ASSERT_EQUAL(st.scanned, 2);
	CU_ASSERT_EQUAL(st.expired, 1);
	CU_ASSERT_EQUAL(st.deleted, 1);
	CU_ASSERT_EQUAL(st.deleted_frags, 1);
	CU_ASSERT_EQUAL(th_map_count(&t, SGBPF_MAP_FRAGS), 1);
	frag_later(&s, 901);
	TH_ALLOW(&t, a, IN, &s, SGBPF_ALLOW_FRAG);
	frag_later(&s, 902);
	TH_DROP(&t, a, IN, &s, SGBPF_DROP_FRAG_UNKNOWN);
	th_close(&t);
	sg_policy_free(&p);
}

/* The rule itself: index per family/protocol/state, defaults for 0, and the
 * boundary (expired strictly after last_seen + timeout). */
static void test_timeout_rule(void)
{
	struct sgbpf_slot_config cfg = { 0 };
	struct sgbpf_ct_key k = { .family = V4, .proto = 6 };
	struct sgbpf_ct_val v = { .state = SGBPF_CT_ESTABLISHED, .last_seen_ns = 1000 * NS_PER_S };
	struct sgbpf_frag_val fv = { .last_seen_ns = 1000 * NS_PER_S };
	uint64_t edge;

	/* 0 in the slot config: the datapath's defaults (EC2's). */
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V4, 47, SGBPF_CT_NEW), 600);
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V4, 6, SGBPF_CT_ESTABLISHED), 432000);
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V4, 6, SGBPF_CT_SYN_SENT), 60);
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V4, 6, SGBPF_CT_FIN_WAIT), 120);
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V4, 6, SGBPF_CT_CLOSED), 10);
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V4, 17, SGBPF_CT_NEW), 30);
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V4, 17, SGBPF_CT_ESTABLISHED), 180);
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V4, 1, SGBPF_CT_NEW), 60);
	CU_ASSERT_EQUAL(sgbpf_frag_timeout_s(&cfg), 30);
	memcpy(cfg.timeouts_s, tos, sizeof(tos));
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V4, 6, SGBPF_CT_SYN_RECV), tos[SGBPF_TO_TCP_SYN]);
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V6, 6, SGBPF_CT_CLOSING), tos[SGBPF_TO_TCP_FIN]);
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V6, 17, SGBPF_CT_ESTABLISHED),
			tos[SGBPF_TO_UDP_STREAM]);
	/* ICMP numbers count only in their own family. */
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V6, 58, SGBPF_CT_NEW), tos[SGBPF_TO_ICMP]);
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V4, 58, SGBPF_CT_NEW), tos[SGBPF_TO_OTHER]);
	CU_ASSERT_EQUAL(sgbpf_ct_timeout_s(&cfg, V6, 1, SGBPF_CT_NEW), tos[SGBPF_TO_OTHER]);
	CU_ASSERT_EQUAL(sgbpf_frag_timeout_s(&cfg), tos[SGBPF_TO_FRAG]);
	/* An unanswered pickup: the SYN timeout, whatever its state. */
	CU_ASSERT_EQUAL(sgbpf_ct_entry_timeout_s(&cfg, &k, &v), tos[SGBPF_TO_TCP_ESTABLISHED]);
	v.ct_flags = SGBPF_CT_F_PICKUP;
	CU_ASSERT_EQUAL(sgbpf_ct_entry_timeout_s(&cfg, &k, &v), tos[SGBPF_TO_TCP_SYN]);
	CU_ASSERT_TRUE(sgbpf_ct_expired(&cfg, &k, &v,
					v.last_seen_ns + tos[SGBPF_TO_TCP_SYN] * NS_PER_S + 1));
	v.ct_flags = 0;
	edge = v.last_seen_ns + tos[SGBPF_TO_TCP_ESTABLISHED] * NS_PER_S;
	CU_ASSERT_FALSE(sgbpf_ct_expired(&cfg, &k, &v, edge));
	CU_ASSERT_EQUAL(sgbpf_ct_expires_in_ns(&cfg, &k, &v, edge), 0);
	CU_ASSERT_TRUE(sgbpf_ct_expired(&cfg, &k, &v, edge + 1));
	CU_ASSERT_EQUAL(sgbpf_ct_expires_in_ns(&cfg, &k, &v, edge + 1), -1);
	CU_ASSERT_EQUAL(sgbpf_ct_expires_in_ns(&cfg, &k, &v, v.last_seen_ns), (int64_t)(edge -
			v.last_seen_ns));
	edge = fv.last_seen_ns + tos[SGBPF_TO_FRAG] * NS_PER_S;
	CU_ASSERT_FALSE(sgbpf_frag_expired(&cfg, &fv, edge));
	CU_ASSERT_TRUE(sgbpf_frag_expired(&cfg, &fv, edge + 1));
}

static CU_TestInfo gc_tests[] = {
	{ "timeout_rule", test_timeout_rule },
	{ "expiry_per_state", test_expiry_per_state },
	{ "agrees_with_datapath", test_agrees_with_datapath },
	{ "refreshed_before_delete_is_kept", test_refreshed_before_delete_is_kept },
	{ "counts_random", test_counts_random },
	{ "frags", test_frags },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-gc", NULL, NULL, gc_tests);
