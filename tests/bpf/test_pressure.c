// SPDX-License-Identifier: BSD-2-Clause
/*
 * Conntrack table pressure (issue 9, spec 3.8) through the real programs
 * with BPF_PROG_TEST_RUN.
 *
 * syn_flood: SGBPF_PRESSURE_FLOWS (default 1000000; `make stress`: 4000000)
 * SYNs from distinct spoofed addresses and ports against an endpoint that
 * accepts tcp/80 from anywhere, while established TCP streams exchange
 * segments both ways every 4096 flood packets. Every stream segment must
 * pass, each stream's entry must stay in ct_est; ct_new (LRU) fills to its
 * capacity and recycles (the flood's first entries are gone); a handshake
 * that completes within 1000 flood packets gets in during the flood, and
 * new flows get in after it; global_stats shows the pressure.
 *
 * est_full: ct_est (confirmed flows, never evicted) filled to capacity from
 * userspace. Established flows still pass; a new handshake still passes,
 * staying unconfirmed in ct_new while ct_est_full counts the failed
 * promotions; once room is made its next packet promotes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <CUnit/CUnit.h>

#include "ct.h"
#include "harness.h"
#include "../lib/testlib.h"

#define SRV     A4                 /* the endpoint, 10.0.0.10           */
#define N_STREAMS 16
#define STREAM_EVERY 4096          /* flood packets between stream rounds */

struct stream {
	char cli[24];
	uint16_t cport;
	uint32_t cseq, sseq;           /* next sequence number of each side */
};

/* The endpoint accepts tcp/80 from anywhere and may only send tcp/443 into
 * 10/8: its flows are tracked (no all-ports /0 rule the other way). */
static void pressure_policy(struct sg_policy *p)
{
	tp_init(p);
	tp_in(p, "sg-srv", 6, 80, 80, "0.0.0.0/0");
	tp_out(p, "sg-srv", 6, 443, 443, "10.0.0.0/8");
	tp_endpoint(p, "ns/srv", "sg-srv", SRV, NULL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool tcp_pass(struct th *t, uint32_t ep, enum sgbpf_dir dir, const char *src,
		     const char *dst, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
		     uint32_t ack, uint16_t payload)
{
	struct sg_pkt_spec s;
	struct th_res r;

	th_tcp(&s, V4, src, dst, sport, dport, flags);
	s.seq = seq;
	s.ack = ack;
	s.payload_len = payload;
	return !th_send(t, ep, dir, &s, &r) && r.pass;
}

/* SYN in, SYN-ACK out, ACK in: true when all three pass. */
static bool handshake(struct th *t, uint32_t ep, struct stream *st)
{
	bool ok;

	ok = tcp_pass(t, ep, IN, st->cli, SRV, st->cport, 80, SG_TCP_SYN, st->cseq, 0, 0);
	st->cseq++;
	return ok && tcp_pass(t, ep, OUT, SRV, st->cli, 80, st->cport, SG_TCP_SYN | SG_TCP_ACK,
			      st->sseq++, st->cseq, 0) &&
	       tcp_pass(t, ep, IN, st->cli, SRV, st->cport, 80, SG_TCP_ACK, st->cseq, st->sseq, 0);
}

/* One data segment each way; true when both pass. */
static bool exchange(struct th *t, uint32_t ep, struct stream *st)
{
	bool ok;

	ok = tcp_pass(t, ep, IN, st->cli, SRV, st->cport, 80, SG_TCP_ACK | SG_TCP_PSH, st->cseq,
		      st->sseq, 100);
	st->cseq += 100;
	ok &= tcp_pass(t, ep, OUT, SRV, st->cli, 80, st->cport, SG_TCP_ACK | SG_TCP_PSH,
		       st->sseq, st->cseq, 200);
	st->sseq += 200;
	return ok;
}

static void stream_key(struct sgbpf_ct_key *k, uint32_t ep, const struct stream *st)
{
	th_ct_key(k, ep, V4, 6, SRV, st->cli, 80, st->cport);
}

static void stream_init(struct stream *st, unsigned i, unsigned *rng)
{
	snprintf(st->cli, sizeof(st->cli), "192.168.%u.%u", 1 + i / 200, 1 + i % 200);
	st->cport = (uint16_t)(30000 + i);
	st->cseq = sgt_rand(rng, 0xffffffffu);
	st->sseq = sgt_rand(rng, 0xffffffffu);
}

/* The i-th spoofed source: distinct (address, port) for every i < 2^22. */
static void flood_src(unsigned i, char *addr, size_t len, uint16_t *port)
{
	uint32_t a = 0x64400000u + (i & 0x3fffffu);     /* 100.64.0.0/10 */

	snprintf(addr, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	*port = (uint16_t)(1024 + (i * 7919u) % 64000u);
}

/* Open the datapath (no XDP shadow) with the pressure policy, without
 * allow events (millions of them would only fill the ring buffer), and open
 * n streams. *ep: the endpoint's id. Returns 0 or -1 after a failure. */
static int pressure_open(struct th *t, struct sg_policy *p, uint32_t *ep,
			 struct stream *st, unsigned n, unsigned *rng)
{
	pressure_policy(p);
	if (th_open(t, false) || th_apply_flags(t, p, 0, SGBPF_CFG_EVENTS_ALLOW)) {
		CU_FAIL("loading the datapath with the pressure policy failed");
		return -1;
	}
	*ep = th_ep(t, "ns/srv");
	for (unsigned i = 0; i < n; i++) {
		stream_init(&st[i], i, rng);
		th_check(handshake(t, *ep, &st[i]), "stream %u: handshake failed", i);
		th_check(exchange(t, *ep, &st[i]), "stream %u: first segments dropped", i);
	}
	return 0;
}

static unsigned long env_ul(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 10) : dflt;
}

static void test_syn_flood(void)
{
	unsigned long n = env_ul("SGBPF_PRESSURE_FLOWS", 1000000);
	unsigned seed = sgt_seed(), rng = seed ? seed : 1;
	struct sgbpf_global_stats g0, g1;
	struct stream st[N_STREAMS], mid, after[8];
	struct sgbpf_ct_key k;
	struct sg_policy p;
	struct th t;
	unsigned long seg_sent = 0, seg_lost = 0, flood_dropped = 0;
	size_t n_new, n_est;
	bool mid_syn = false, mid_ok = false;
	unsigned after_ok = 0, lost_est = 0;
	uint32_t ep;
	double t0, dt;
	char src[24];
	uint16_t sport;

	if (pressure_open(&t, &p, &ep, st, N_STREAMS, &rng))
		goto out;
	th_global_stats(&t, &g0);

	t0 = now_s();
	for (unsigned long i = 0; i < n; i++) {
		flood_src((unsigned)i, src, sizeof(src), &sport);
		if (!tcp_pass(&t, ep, IN, src, SRV, sport, 80, SG_TCP_SYN, (uint32_t)i * 2654435761u,
			      0, 0))
			flood_dropped++;
		if (i % STREAM_EVERY == STREAM_EVERY - 1) {
			for (unsigned s = 0; s < N_STREAMS; s++) {
				seg_sent += 2;
				seg_lost += !exchange(&t, ep, &st[s]);
			}
		}
		/* Mid-flood, a legitimate client: SYN, then 1000 flood SYNs
		 * later the SYN-ACK and ACK. */
		if (i == n / 2) {
			snprintf(mid.cli, sizeof(mid.cli), "198.51.100.7");
			mid.cport = 45000;
			mid.cseq = 1000;
			mid.sseq = 5000;
			mid_syn = tcp_pass(&t, ep, IN, mid.cli, SRV, mid.cport, 80, SG_TCP_SYN,
					   mid.cseq++, 0, 0);
		}
		if (i == n / 2 + 1000)
			mid_ok = tcp_pass(&t, ep, OUT, SRV, mid.cli, 80, mid.cport,
					  SG_TCP_SYN | SG_TCP_ACK, mid.sseq++, mid.cseq, 0) &&
				 tcp_pass(&t, ep, IN, mid.cli, SRV, mid.cport, 80, SG_TCP_ACK,
					  mid.cseq, mid.sseq, 0);
	}
	dt = now_s() - t0;

	/* After the flood: the streams still pass, new clients get in. */
	for (unsigned s = 0; s < N_STREAMS; s++) {
		seg_sent += 2;
		seg_lost += !exchange(&t, ep, &st[s]);
		stream_key(&k, ep, &st[s]);
		lost_est += !th_ct_in(&t, SGBPF_MAP_CT_EST, &k);
	}
	for (unsigned i = 0; i < 8; i++) {
		stream_init(&after[i], 400 + i, &rng);
		after_ok += handshake(&t, ep, &after[i]) && exchange(&t, ep, &after[i]);
	}
	th_global_stats(&t, &g1);
	n_new = th_ct_count(&t, SGBPF_MAP_CT_NEW);
	n_est = th_ct_count(&t, SGBPF_MAP_CT_EST);
	flood_src(0, src, sizeof(src), &sport);
	th_ct_key(&k, ep, V4, 6, SRV, src, 80, sport);

	printf("\n    %lu spoofed SYNs in %.1f s (%.0f/s); %u streams, %lu segments, %lu lost; "
	       "ct_new %zu/%u, ct_est %zu; ct_new_created +%llu, ct_est_full +%llu, "
	       "drops conntrack-full +%llu, flood SYNs dropped %lu; after: %u/8 new flows in ",
	       n, dt, n / dt, N_STREAMS, seg_sent, seg_lost, n_new, SGBPF_CT_NEW_MAX, n_est,
	       (unsigned long long)(g1.ct_new_created - g0.ct_new_created),
	       (unsigned long long)(g1.ct_est_full - g0.ct_est_full),
	       (unsigned long long)(g1.drops_by_reason[SGBPF_DROP_CT_FULL] -
				    g0.drops_by_reason[SGBPF_DROP_CT_FULL]),
	       flood_dropped, after_ok);

	th_check(seg_lost == 0, "%lu of %lu established-stream segments dropped during the flood "
		 "(seed %u)", seg_lost, seg_sent, seed);
	th_check(lost_est == 0, "%u of %u established streams lost their ct_est entry", lost_est,
		 N_STREAMS);
	th_check(mid_syn && mid_ok, "a handshake completing within 1000 flood packets did not get "
		 "in mid-flood (SYN %s, SYN-ACK/ACK %s)", mid_syn ? "passed" : "dropped",
		 mid_ok ? "passed" : "dropped");
	th_check(after_ok == 8, "only %u of 8 new flows got in after the flood", after_ok);
	th_check(flood_dropped == 0, "%lu flood SYNs dropped: the rule allows them and ct_new is "
		 "an LRU", flood_dropped);
	th_check(g1.ct_new_created - g0.ct_new_created >= n,
		 "ct_new_created grew by %llu, want >= %lu (one per spoofed flow)",
		 (unsigned long long)(g1.ct_new_created - g0.ct_new_created), n);
	th_check(g1.ct_est_full == g0.ct_est_full, "ct_est_full grew: a flood of SYNs must never "
		 "reach ct_est");
	th_check(n_est == N_STREAMS + 1 + 8, "ct_est holds %zu entries, want exactly the %u "
		 "confirmed flows", n_est, N_STREAMS + 1 + 8);
	if (n > SGBPF_CT_NEW_MAX) {
		th_check(n_new >= SGBPF_CT_NEW_MAX * 9 / 10 && n_new <= SGBPF_CT_NEW_MAX,
			 "ct_new holds %zu entries after %lu new flows, want it (nearly) full: %u",
			 n_new, n, SGBPF_CT_NEW_MAX);
		th_check(th_ct_find(&t, &k, NULL) == TH_CT_NONE,
			 "the flood's first entry is still in ct_new: the LRU did not recycle");
	}
out:
	th_close(&t);
	sg_policy_free(&p);
}

#define FILL_BATCH 8192
static struct sgbpf_ct_key fill_keys[FILL_BATCH];
static struct sgbpf_ct_val fill_vals[FILL_BATCH];

/* Filler entries base.. of endpoint id ep (one the policy does not have). */
static void fill_batch(uint32_t ep, uint32_t base)
{
	for (uint32_t i = 0; i < FILL_BATCH; i++) {
		uint32_t x = base + i;

		memset(&fill_keys[i], 0, sizeof(fill_keys[i]));
		fill_keys[i].ep_id = ep;
		fill_keys[i].family = V4;
		fill_keys[i].proto = 6;
		memcpy(fill_keys[i].remote_addr, &x, sizeof(x));
		fill_keys[i].local_port = 80;
		memset(&fill_vals[i], 0, sizeof(fill_vals[i]));
		fill_vals[i].state = SGBPF_CT_ESTABLISHED;
	}
}

/* Fill the IPv4 confirmed-flow table (the streams' family) to capacity
 * with filler entries of endpoint id ep. Returns how many went in. */
static size_t fill_ct_est(struct th *t, uint32_t ep)
{
	struct sgbpf_ct_maps m;
	size_t total = 0;

	sgbpf_ct_maps_of(t->h, &m);
	for (uint32_t base = 0;; base += FILL_BATCH) {
		uint32_t count = FILL_BATCH;
		int err;

		fill_batch(ep, base);
		err = sgbpf_ct_update_batch(&m, SGBPF_CT_TABLE_EST, fill_keys, fill_vals, &count);
		total += count;
		if (err) {
			if (err != -E2BIG)
				fprintf(stderr, "filling ct_est failed after %zu entries: %s\n", total,
					strerror(-err));
			return total;   /* E2BIG: full */
		}
	}
}

/* Delete the filler (a million entries: in batches here rather than key by
 * key in the next suite's th_open()). The filler is confirmed IPv4 TCP: it
 * lives in ct4t_est under the 12-byte key, the compact key's last 12 bytes. */
static void unfill_ct_est(struct th *t, uint32_t ep)
{
	static struct sgbpf_ct4t_key keys4[FILL_BATCH];
	int fd = sgbpf_map_fd(t->h, SGBPF_MAP_CT4T_EST);

	for (uint32_t base = 0; base < SGBPF_CT_EST_MAX + FILL_BATCH; base += FILL_BATCH) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		uint32_t count = FILL_BATCH;

		fill_batch(ep, base);
		for (uint32_t i = 0; i < FILL_BATCH; i++) {
			struct sgbpf_ct4_key k4;

			sgbpf_ct4_key_of(&k4, &fill_keys[i]);
			memcpy(&keys4[i], k4.local_addr, sizeof(keys4[i]));
		}
		/* Stops at the first missing key; the rest one by one. */
		if (bpf_map_delete_batch(fd, keys4, &count, &opts))
			for (uint32_t i = count; i < FILL_BATCH; i++)
				bpf_map_delete_elem(fd, &keys4[i]);
	}
}

static void test_est_full(void)
{
	unsigned seed = sgt_seed(), rng = seed ? seed : 7;
	struct sgbpf_global_stats g0, g1;
	struct stream st[4], nw;
	struct sgbpf_ct_key k;
	struct sgbpf_ct_val v;
	struct sg_policy p;
	struct th t;
	size_t filled, n_est;
	uint32_t ep;
	bool ok;

	if (pressure_open(&t, &p, &ep, st, 4, &rng))
		goto out;
	filled = fill_ct_est(&t, ep + 1);
	n_est = th_ct_count(&t, SGBPF_MAP_CT_EST);
	th_check(n_est == SGBPF_CT_EST_MAX, "ct_est holds %zu entries after filling %zu, want "
		 "its capacity %u", n_est, filled, SGBPF_CT_EST_MAX);
	th_global_stats(&t, &g0);

	for (unsigned i = 0; i < 4; i++)
		th_check(exchange(&t, ep, &st[i]), "stream %u dropped with ct_est full", i);
	/* A new handshake: every packet passes, the flow stays unconfirmed. */
	stream_init(&nw, 300, &rng);
	ok = handshake(&t, ep, &nw) && exchange(&t, ep, &nw);
	th_check(ok, "a new flow's handshake was dropped with ct_est full");
	stream_key(&k, ep, &nw);
	th_check(th_ct_find(&t, &k, &v) == TH_CT_NEW && v.state == SGBPF_CT_ESTABLISHED,
		 "the new flow should wait, established, in ct_new");
	th_global_stats(&t, &g1);
	th_check(g1.ct_est_full > g0.ct_est_full, "ct_est_full did not count the failed "
		 "promotions");
	printf("\n    ct_est full (%zu): 4 streams pass, new handshake passes unconfirmed, "
	       "ct_est_full +%llu ", n_est, (unsigned long long)(g1.ct_est_full - g0.ct_est_full));

	/* Room again: the next packet promotes it. */
	{
		struct sgbpf_ct_key fk = { .ep_id = ep + 1, .family = V4, .proto = 6,
					   .local_port = 80 };
		struct sgbpf_ct_maps m;

		sgbpf_ct_maps_of(t.h, &m);
		CU_ASSERT_EQUAL(sgbpf_ct_delete(&m, SGBPF_CT_TABLE_EST, &fk), 0);
	}
	th_check(exchange(&t, ep, &nw), "the new flow was dropped once ct_est had room");
	th_check(th_ct_in(&t, SGBPF_MAP_CT_EST, &k), "the new flow was not promoted once ct_est "
		 "had room");
	unfill_ct_est(&t, ep + 1);
	th_check(th_map_count(&t, SGBPF_MAP_CT4T_EST) < 100,
		 "the filler was not deleted: ct4t_est still holds %zu entries",
		 th_map_count(&t, SGBPF_MAP_CT4T_EST));
out:
	th_close(&t);
	sg_policy_free(&p);
}

static CU_TestInfo pressure_tests[] = {
	{ "syn_flood", test_syn_flood },
	{ "est_full", test_est_full },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-pressure", NULL, NULL, pressure_tests);
