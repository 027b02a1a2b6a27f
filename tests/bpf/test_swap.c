// SPDX-License-Identifier: BSD-2-Clause
/*
 * Atomic policy swap under fire (spec 6.4). P1 allows tcp 80 from 10/8, P2
 * allows tcp 443 from 192.168/16. A packet judged by a mix of the two (the
 * remote lookup of one and the port lookup of the other) would admit
 * 10.x -> 443 or 192.168.x -> 80, which neither policy allows. One thread
 * applies P1 and P2 alternately while this one sends all four kinds of new
 * flows: no mixed packet may ever pass, and every verdict must be the one
 * of the policy whose generation the packet's event reports.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <CUnit/CUnit.h>

#include "diag.h"
#include "harness.h"
#include "ref_model.h"
#include "../lib/testlib.h"

struct swapper {
	struct sgbpf *h;
	const struct sg_compiled *c[2];   /* [0] = P2 (even gens), [1] = P1 (odd) */
	_Atomic uint64_t gen;             /* last generation applied */
	atomic_bool stop;
	atomic_int err;
	unsigned swaps;
};

static void *swap_thread(void *arg)
{
	struct swapper *sw = arg;

	while (!atomic_load(&sw->stop)) {
		uint64_t g = atomic_load(&sw->gen) + 1;
		int err = sgbpf_apply(sw->h, sw->c[g & 1], g, NULL);

		if (err) {
			atomic_store(&sw->err, err);
			break;
		}
		atomic_store(&sw->gen, g);
		sw->swaps++;
	}
	return NULL;
}

static int compile(const struct sg_policy *p, struct sg_compiled *c)
{
	struct sg_diags d;
	int err;

	sg_diags_init(&d);
	err = sg_compile(p, NULL, c, &d);
	if (err)
		sg_diags_print(&d, stderr);
	sg_diags_free(&d);
	c->config.flags |= SGBPF_CFG_EVENTS_ALLOW;
	return err;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_swap_under_fire(void)
{
	struct sg_policy p1, p2;
	struct sg_compiled c1, c2;
	struct swapper sw;
	struct th t;
	pthread_t thr;
	unsigned mixed = 0, wrong_gen = 0, no_event = 0, bad_rule = 0;
	unsigned allowed[2] = { 0, 0 }, sent = 0;
	double t0;

	tp_init(&p1);
	tp_in(&p1, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_endpoint(&p1, "ns/a", "sg-a", A4, NULL);
	tp_init(&p2);
	/* An extra rule that sorts first, so rule ids differ between P1 and P2. */
	tp_in(&p2, "sg-a", 1, 13, 0, "203.0.113.0/24");
	tp_in(&p2, "sg-a", 6, 443, 443, "192.168.0.0/16");
	tp_endpoint(&p2, "ns/a", "sg-a", A4, NULL);
	CU_ASSERT_EQUAL_FATAL(compile(&p1, &c1), 0);
	CU_ASSERT_EQUAL_FATAL(compile(&p2, &c2), 0);
	CU_ASSERT_EQUAL_FATAL(c1.endpoints[0].ep_id, c2.endpoints[0].ep_id);

	CU_ASSERT_EQUAL_FATAL(th_open(&t, false), 0);
	memset(&sw, 0, sizeof(sw));
	sw.h = t.h;
	sw.c[0] = &c2;
	sw.c[1] = &c1;
	CU_ASSERT_EQUAL_FATAL(sgbpf_apply(t.h, &c1, 1, NULL), 0);
	atomic_store(&sw.gen, 1);
	CU_ASSERT_EQUAL_FATAL(sgbpf_iface_set(t.h, 1, 1, 0, SGBPF_ROLE_NET_FACING), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&thr, NULL, swap_thread, &sw), 0);

	t0 = now_s();
	for (unsigned i = 0; (now_s() - t0 < 3.0 || sw.swaps < 50) && now_s() - t0 < 30.0; i++) {
		/* kind 0: P1's flow, 1: P2's flow, 2 and 3: the mixes. */
		static const char *const srcs[4] = { "10.1.0.0", "192.168.0.0", "10.1.0.0",
						     "192.168.0.0" };
		static const uint16_t ports[4] = { 80, 443, 443, 80 };
		unsigned kind = i & 3;
		struct sg_pkt_spec s;
		struct th_res r;

		th_tcp(&s, V4, srcs[kind], A4, (uint16_t)(1024 + (i / 4) % 60000), ports[kind],
		       SG_TCP_SYN);
		s.src[2] = (uint8_t)(i / 4 / 60000);   /* every flow new */
		if (th_send(&t, 0, IN, &s, &r)) {
			CU_FAIL("test_run failed during the swap");
			break;
		}
		sent++;
		if (!r.has_ev) {
			no_event++;
			continue;
		}
		if (kind >= 2) {
			mixed += r.pass;
			continue;
		}
		/* kind 0 passes exactly under P1 (odd generations), kind 1 under P2. */
		if (r.pass != ((r.ev.generation & 1) == (kind == 0 ? 1 : 0)))
			wrong_gen++;
		if (r.pass) {
			const struct sg_compiled *c = kind == 0 ? &c1 : &c2;
			const struct sg_policy *p = kind == 0 ? &p1 : &p2;
			struct ref_pkt k = { .ep = 0, .dir = IN, .family = V4, .proto = 6,
					     .sport = s.sport, .dport = s.dport };

			memcpy(k.src, s.src, 4);
			memcpy(k.dst, s.dst, 4);
			allowed[kind]++;
			if (r.ev.rule_id >= c->n_rules ||
			    !ref_rule_allows(p, c->rules[r.ev.rule_id].src, &k))
				bad_rule++;
		}
	}
	atomic_store(&sw.stop, true);
	pthread_join(thr, NULL);
	printf("\n    %u packets, %u swaps, allowed %u under P1 and %u under P2 ", sent,
	       sw.swaps, allowed[0], allowed[1]);

	CU_ASSERT_EQUAL(atomic_load(&sw.err), 0);
	th_check(mixed == 0, "%u mixed packets passed", mixed);
	th_check(wrong_gen == 0, "%u verdicts disagree with the generation in their event",
		 wrong_gen);
	th_check(bad_rule == 0, "%u events name a rule that doesn't allow the packet", bad_rule);
	th_check(no_event == 0, "%u packets without an event", no_event);
	th_check(sw.swaps >= 50, "only %u swaps happened", sw.swaps);
	th_check(allowed[0] > 0 && allowed[1] > 0, "one of the policies was never seen in force");
	th_close(&t);
	sg_compiled_free(&c1);
	sg_compiled_free(&c2);
	sg_policy_free(&p1);
	sg_policy_free(&p2);
}

static CU_TestInfo swap_tests[] = {
	{ "swap_under_fire", test_swap_under_fire },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-swap", NULL, NULL, swap_tests);
