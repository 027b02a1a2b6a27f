// SPDX-License-Identifier: BSD-2-Clause
/*
 * Kubelet probes (spec 5.2-5.3, issue 6): TCP between a node address and an
 * endpoint's probe port is probe traffic. Strict mode judges it by the
 * rules, standard mode doesn't enforce it; either way it is counted apart
 * and the pod's allowed packets to the node are steered (TC_ACT_REDIRECT
 * into the probe target) from the TC hook on the pod's side only. Anything
 * else from the node, and anything from elsewhere to a probe port, is
 * ordinary traffic.
 *
 * The endpoint is mapped POD_FACING here, as sgbpfd attaches it by default,
 * on untagged frames of interface 1 (a host veth carries no tags): frames
 * from the pod (OUT) run through TC ingress (XDP on the shadow copy, which
 * never steers but must agree on pass/drop), frames to it through TC egress.
 */
#include <stdlib.h>
#include <string.h>

#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "../lib/policy_build.h"
#include "../lib/testlib.h"

#define NODE4 "10.1.0.5"
#define NODE6 "fd01::5"
#define PROBE_OK   8080   /* probe port the SG allows from the node      */
#define PROBE_DENY 9090   /* probe port the SG does not allow            */

static const struct sgbpf_probe_target target = {
	.ifindex = 42, .mac = { 0x02, 0, 0, 0, 0, 0x42 }, .has_mac = 1,
};

static void probe_policy(struct sg_policy *p, bool standard)
{
	struct sg_endpoint *ep;

	tp_init(p);
	tp_in(p, "sg-pod", 6, PROBE_OK, PROBE_OK, NODE4 "/32");
	tp_in(p, "sg-pod", 6, PROBE_OK, PROBE_OK, NODE6 "/128");
	tp_in(p, "sg-pod", 6, 80, 80, "10.0.0.0/8");          /* node included */
	tp_in(p, "sg-pod", 6, PROBE_OK, PROBE_OK, "10.2.0.0/16");
	tp_endpoint(p, "ns/pod", "sg-pod", A4 "," A6, NULL);
	ep = &p->endpoints[p->n_endpoints - 1];
	tc_ep_probe_port(ep, PROBE_OK);
	tc_ep_probe_port(ep, PROBE_DENY);
	tc_node_addr(p, NODE4);
	tc_node_addr(p, NODE6);
	p->node.mode = standard ? SG_MODE_STANDARD : SG_MODE_STRICT;
}

/* Map ep POD_FACING for untagged frames on both copies (the harness maps
 * NET_FACING per VLAN). */
static int pod_facing(struct th *t, uint32_t ep)
{
	int err = sgbpf_iface_set(t->h, 1, 0, ep, SGBPF_ROLE_POD_FACING);

	if (!err && t->shadow)
		err = sgbpf_iface_set(t->shadow, 1, 0, ep, SGBPF_ROLE_POD_FACING);
	return err;
}

static int set_target(struct th *t, const struct sgbpf_probe_target *tg)
{
	int err = sgbpf_probe_target_set(t->h, tg);

	if (!err && t->shadow)
		err = sgbpf_probe_target_set(t->shadow, tg);
	return err;
}

/* Open the datapath with p applied, ep = endpoint ns/pod, mapped pod-facing
 * (facing) and the probe target set (tgt); on failure the test returns. */
#define PROBE_SETUP(t, p, ep, facing, tgt)                                     \
	do {                                                                   \
		TH_SETUP(t, p);                                                \
		(ep) = th_ep(&(t), "ns/pod");                                  \
		if (facing)                                                    \
			CU_ASSERT_EQUAL_FATAL(pod_facing(&(t), ep), 0);        \
		if (tgt)                                                       \
			CU_ASSERT_EQUAL_FATAL(set_target(&(t), &target), 0);   \
	} while (0)

/* One untagged frame of ep's traffic in dir through the pod-facing hooks. */
static struct th_res pod_send_(struct th *t, uint32_t ep, enum sgbpf_dir dir,
			       struct sg_pkt_spec *s, int want_action, int reason,
			       uint8_t want_flags, const char *file, int line)
{
	uint8_t buf[SG_PKT_MAX];
	struct th_res r;
	int n;

	(void)ep;   /* the untagged mapping names it (pod_facing) */
	n = sg_pkt_build(s, buf, sizeof(buf));
	th_check_(n > 0, file, line, "building the frame failed");
	memset(&r, 0, sizeof(r));
	if (n <= 0 || th_run_frame(t, dir == SGBPF_DIR_OUT ? SGBPF_PROG_TC_INGRESS :
				   SGBPF_PROG_TC_EGRESS, buf, (size_t)n, &r)) {
		th_check_(false, file, line, "running the frame failed");
		return r;
	}
	th_check_(r.action == want_action, file, line, "TC action %d, expected %d", r.action,
		  want_action);
	th_check_(r.has_ev, file, line, "no event for the frame");
	if (r.has_ev) {
		th_check_(r.ev.reason == reason, file, line, "reason %u, expected %d",
			  r.ev.reason, reason);
		th_check_(r.ev.flags == want_flags, file, line, "event flags %#x, expected %#x",
			  r.ev.flags, want_flags);
	}
	return r;
}
#define pod_send(t, ep, dir, s, act, reason, flags) \
	pod_send_(t, ep, dir, s, act, reason, flags, __FILE__, __LINE__)

#define PROBE   SGBPF_EVENT_F_PROBE
#define STEERED (SGBPF_EVENT_F_PROBE | SGBPF_EVENT_F_STEERED)

/* A probe's handshake, request, response and close, both families. */
static void probe_conversation(struct th *t, uint32_t ep, uint8_t fam, const char *node,
			       const char *pod, uint16_t port)
{
	struct sg_pkt_spec s;

	th_tcp(&s, fam, node, pod, 40000, port, SG_TCP_SYN);
	s.seq = 1000;
	pod_send(t, ep, IN, &s, TC_ACT_OK, SGBPF_ALLOW_PROBE, PROBE);
	th_tcp(&s, fam, pod, node, port, 40000, SG_TCP_SYN | SG_TCP_ACK);
	s.seq = 5000;
	s.ack = 1001;
	pod_send(t, ep, OUT, &s, TC_ACT_REDIRECT, SGBPF_ALLOW_PROBE, STEERED);
	th_tcp(&s, fam, node, pod, 40000, port, SG_TCP_ACK | SG_TCP_PSH);
	s.seq = 1001;
	s.ack = 5001;
	s.payload_len = 20;
	pod_send(t, ep, IN, &s, TC_ACT_OK, SGBPF_ALLOW_PROBE, PROBE);
	th_tcp(&s, fam, pod, node, port, 40000, SG_TCP_ACK | SG_TCP_PSH | SG_TCP_FIN);
	s.seq = 5001;
	s.ack = 1021;
	s.payload_len = 40;
	pod_send(t, ep, OUT, &s, TC_ACT_REDIRECT, SGBPF_ALLOW_PROBE, STEERED);
	th_tcp(&s, fam, node, pod, 40000, port, SG_TCP_ACK | SG_TCP_FIN);
	s.seq = 1021;
	s.ack = 5042;
	pod_send(t, ep, IN, &s, TC_ACT_OK, SGBPF_ALLOW_PROBE, PROBE);
	th_tcp(&s, fam, pod, node, port, 40000, SG_TCP_ACK);
	s.seq = 5042;
	s.ack = 1022;
	pod_send(t, ep, OUT, &s, TC_ACT_REDIRECT, SGBPF_ALLOW_PROBE, STEERED);
}

static void test_strict_allowed_probe_is_steered(void)
{
	struct sgbpf_global_stats g;
	struct sgbpf_ep_stats es;
	struct sgbpf_rule_stats rs;
	struct sgbpf_ct_key k;
	struct sgbpf_ct_val cv;
	struct sg_policy p;
	struct th t;
	uint32_t ep;

	probe_policy(&p, false);
	PROBE_SETUP(t, p, ep, true, true);

	probe_conversation(&t, ep, V4, NODE4, A4, PROBE_OK);
	probe_conversation(&t, ep, V6, NODE6, A6, PROBE_OK);

	/* The flow's entry says it is a probe: later packets need no lookup. */
	th_ct_key(&k, ep, V4, 6, A4, NODE4, PROBE_OK, 40000);
	CU_ASSERT_NOT_EQUAL(th_ct_find(&t, &k, &cv), TH_CT_NONE);
	CU_ASSERT(cv.ct_flags & SGBPF_CT_F_PROBE);

	th_ep_stats(&t, ep, &es);
	CU_ASSERT_EQUAL(es.allows_by_reason[SGBPF_ALLOW_PROBE], 12);
	CU_ASSERT_EQUAL(es.allows_by_reason[SGBPF_ALLOW_TRACKED], 0);
	CU_ASSERT_EQUAL(es.allows_by_reason[SGBPF_ALLOW_RULE], 0);
	CU_ASSERT_EQUAL(es.probe_steered, 6);
	CU_ASSERT_EQUAL(es.probe_drops, 0);
	th_global_stats(&t, &g);
	CU_ASSERT_EQUAL(g.probe_steered, 6);
	CU_ASSERT_EQUAL(g.probe_unsteered, 0);
	/* The rule that admitted each probe keeps its count. */
	th_rule_stats(&t, th_rule_id(&t, &p, "sg-pod", 0, V4), &rs);
	CU_ASSERT_EQUAL(rs.packets, 1);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_strict_probe_not_allowed_is_dropped(void)
{
	struct sgbpf_global_stats g;
	struct sgbpf_ep_stats es;
	struct sg_pkt_spec s;
	struct sg_policy p;
	struct th t;
	uint32_t ep;

	probe_policy(&p, false);
	PROBE_SETUP(t, p, ep, true, true);

	th_tcp(&s, V4, NODE4, A4, 40001, PROBE_DENY, SG_TCP_SYN);
	pod_send(&t, ep, IN, &s, TC_ACT_SHOT, SGBPF_DROP_NO_RULE, PROBE);
	th_tcp(&s, V6, NODE6, A6, 40001, PROBE_DENY, SG_TCP_SYN);
	pod_send(&t, ep, IN, &s, TC_ACT_SHOT, SGBPF_DROP_NO_RULE, PROBE);
	/* The pod answering anyway (no entry, no outbound rule): dropped, and
	 * no probe: only the node's SYN opens one. */
	th_tcp(&s, V4, A4, NODE4, PROBE_DENY, 40001, SG_TCP_SYN | SG_TCP_ACK);
	pod_send(&t, ep, OUT, &s, TC_ACT_SHOT, SGBPF_DROP_NO_RULE, 0);
	/* Neither is the node's mid-stream packet (no SYN seen). */
	th_tcp(&s, V4, NODE4, A4, 40002, PROBE_DENY, SG_TCP_ACK);
	pod_send(&t, ep, IN, &s, TC_ACT_SHOT, SGBPF_DROP_NO_RULE, 0);

	th_ep_stats(&t, ep, &es);
	CU_ASSERT_EQUAL(es.probe_drops, 2);
	CU_ASSERT_EQUAL(es.allows_by_reason[SGBPF_ALLOW_PROBE], 0);
	th_global_stats(&t, &g);
	CU_ASSERT_EQUAL(g.probe_drops, 2);
	CU_ASSERT_EQUAL(g.probe_steered, 0);
	th_close(&t);
	sg_policy_free(&p);
}

/* Not probes: the node on another port, anyone else on a probe port. */
static void test_other_traffic_is_not_a_probe(void)
{
	struct sgbpf_ep_stats es;
	struct sg_pkt_spec s;
	struct sg_policy p;
	struct th t;
	uint32_t ep;

	probe_policy(&p, false);
	PROBE_SETUP(t, p, ep, true, true);

	th_tcp(&s, V4, NODE4, A4, 40002, 80, SG_TCP_SYN);
	pod_send(&t, ep, IN, &s, TC_ACT_OK, SGBPF_ALLOW_RULE, 0);
	th_tcp(&s, V4, A4, NODE4, 80, 40002, SG_TCP_SYN | SG_TCP_ACK);
	s.ack = 1;
	pod_send(&t, ep, OUT, &s, TC_ACT_OK, SGBPF_ALLOW_TRACKED, 0);
	/* The node on a port no rule opens: judged and dropped, not a probe. */
	th_tcp(&s, V4, NODE4, A4, 40003, 22, SG_TCP_SYN);
	pod_send(&t, ep, IN, &s, TC_ACT_SHOT, SGBPF_DROP_NO_RULE, 0);

	th_tcp(&s, V4, "10.2.3.4", A4, 40004, PROBE_OK, SG_TCP_SYN);
	pod_send(&t, ep, IN, &s, TC_ACT_OK, SGBPF_ALLOW_RULE, 0);
	th_tcp(&s, V4, A4, "10.2.3.4", PROBE_OK, 40004, SG_TCP_SYN | SG_TCP_ACK);
	s.ack = 1;
	pod_send(&t, ep, OUT, &s, TC_ACT_OK, SGBPF_ALLOW_TRACKED, 0);
	/* UDP to a probe port from the node is no TCP probe. */
	th_udp(&s, V4, NODE4, A4, 40005, PROBE_OK);
	pod_send(&t, ep, IN, &s, TC_ACT_SHOT, SGBPF_DROP_NO_RULE, 0);

	th_ep_stats(&t, ep, &es);
	CU_ASSERT_EQUAL(es.allows_by_reason[SGBPF_ALLOW_PROBE], 0);
	CU_ASSERT_EQUAL(es.probe_steered, 0);
	CU_ASSERT_EQUAL(es.probe_drops, 0);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_standard_mode_probes_unenforced_and_steered(void)
{
	struct sgbpf_ep_stats es;
	struct sg_pkt_spec s;
	struct sg_policy p;
	struct th t;
	uint32_t ep;

	probe_policy(&p, true);
	PROBE_SETUP(t, p, ep, true, true);

	/* No rule allows the node on PROBE_DENY: standard mode doesn't ask. */
	probe_conversation(&t, ep, V4, NODE4, A4, PROBE_DENY);
	probe_conversation(&t, ep, V6, NODE6, A6, PROBE_DENY);
	/* Unmanaged node traffic that is not a probe: allowed, not steered. */
	th_tcp(&s, V4, NODE4, A4, 40006, 22, SG_TCP_SYN);
	pod_send(&t, ep, IN, &s, TC_ACT_OK, SGBPF_ALLOW_UNMANAGED, 0);
	th_tcp(&s, V4, A4, NODE4, 22, 40006, SG_TCP_SYN | SG_TCP_ACK);
	pod_send(&t, ep, OUT, &s, TC_ACT_OK, SGBPF_ALLOW_UNMANAGED, 0);

	/* Probes are tracked (their entries say who opened them); other
	 * node traffic is not. */
	CU_ASSERT_EQUAL(th_ct_count(&t, SGBPF_MAP_CT_NEW) + th_ct_count(&t, SGBPF_MAP_CT_EST),
			2);
	th_ep_stats(&t, ep, &es);
	CU_ASSERT_EQUAL(es.allows_by_reason[SGBPF_ALLOW_PROBE], 12);
	CU_ASSERT_EQUAL(es.probe_steered, 6);
	th_close(&t);
	sg_policy_free(&p);
}

/* No target (sgbpfd found no node interface): probes pass, unsteered. */
static void test_no_target_passes_unsteered(void)
{
	struct sgbpf_global_stats g;
	struct sg_pkt_spec s;
	struct sg_policy p;
	struct th t;
	uint32_t ep;

	probe_policy(&p, false);
	PROBE_SETUP(t, p, ep, true, false);

	th_tcp(&s, V4, NODE4, A4, 40007, PROBE_OK, SG_TCP_SYN);
	pod_send(&t, ep, IN, &s, TC_ACT_OK, SGBPF_ALLOW_PROBE, PROBE);
	th_tcp(&s, V4, A4, NODE4, PROBE_OK, 40007, SG_TCP_SYN | SG_TCP_ACK);
	s.ack = 1;
	pod_send(&t, ep, OUT, &s, TC_ACT_OK, SGBPF_ALLOW_PROBE, PROBE);
	th_global_stats(&t, &g);
	CU_ASSERT_EQUAL(g.probe_steered, 0);
	CU_ASSERT_EQUAL(g.probe_unsteered, 1);
	th_close(&t);
	sg_policy_free(&p);
}

/* On a network-facing interface the pod's packets have been routed
 * already: nothing to steer (TC egress there is the pod's outbound). */
static void test_net_facing_never_steers(void)
{
	struct sg_pkt_spec s;
	struct sg_policy p;
	struct th_res r;
	struct th t;
	uint32_t ep;

	probe_policy(&p, false);
	PROBE_SETUP(t, p, ep, false, true);

	th_tcp(&s, V4, NODE4, A4, 40008, PROBE_OK, SG_TCP_SYN);
	TH_ALLOW(&t, ep, IN, &s, SGBPF_ALLOW_PROBE);
	th_tcp(&s, V4, A4, NODE4, PROBE_OK, 40008, SG_TCP_SYN | SG_TCP_ACK);
	s.ack = 1;
	r = TH_ALLOW(&t, ep, OUT, &s, SGBPF_ALLOW_PROBE);
	CU_ASSERT_EQUAL(r.action, TC_ACT_OK);
	CU_ASSERT_EQUAL(r.ev.flags, SGBPF_EVENT_F_PROBE);
	th_close(&t);
	sg_policy_free(&p);
}

/* A probe connection open across a policy swap stays a probe (its entry
 * carries the mark through the full re-check after the swap). */
static void test_probe_survives_swap(void)
{
	struct sg_pkt_spec s;
	struct sg_policy p;
	struct th t;
	uint32_t ep;

	probe_policy(&p, false);
	PROBE_SETUP(t, p, ep, true, true);

	th_tcp(&s, V4, NODE4, A4, 40009, PROBE_OK, SG_TCP_SYN);
	pod_send(&t, ep, IN, &s, TC_ACT_OK, SGBPF_ALLOW_PROBE, PROBE);
	CU_ASSERT_EQUAL_FATAL(th_apply(&t, &p), 0);
	CU_ASSERT_EQUAL_FATAL(pod_facing(&t, ep), 0);
	th_tcp(&s, V4, A4, NODE4, PROBE_OK, 40009, SG_TCP_SYN | SG_TCP_ACK);
	s.ack = 1;
	pod_send(&t, ep, OUT, &s, TC_ACT_REDIRECT, SGBPF_ALLOW_PROBE, STEERED);
	th_close(&t);
	sg_policy_free(&p);
}

/* A pod connecting FROM a probe port to the node opens no probe: judged by
 * its rules, never steered (else a pod could reach the node's stack past
 * the VPC and the node's SG from any port it likes). */
static void pod_opened_flows(bool standard)
{
	int out_reason = standard ? SGBPF_ALLOW_UNMANAGED : SGBPF_ALLOW_RULE;
	int later_reason = standard ? SGBPF_ALLOW_UNMANAGED : SGBPF_ALLOW_TRACKED;
	struct sgbpf_ep_stats es;
	struct sg_pkt_spec s;
	struct sg_policy p;
	struct th t;
	uint32_t ep;

	probe_policy(&p, standard);
	tp_out(&p, "sg-pod", 6, 0, 65535, "10.1.0.0/16");
	PROBE_SETUP(t, p, ep, true, true);

	th_tcp(&s, V4, A4, NODE4, PROBE_OK, 22, SG_TCP_SYN);
	pod_send(&t, ep, OUT, &s, TC_ACT_OK, out_reason, 0);
	th_tcp(&s, V4, NODE4, A4, 22, PROBE_OK, SG_TCP_SYN | SG_TCP_ACK);
	s.ack = 1;
	pod_send(&t, ep, IN, &s, TC_ACT_OK, later_reason, 0);
	th_tcp(&s, V4, A4, NODE4, PROBE_OK, 22, SG_TCP_ACK);
	s.seq = 1;
	s.ack = 1;
	pod_send(&t, ep, OUT, &s, TC_ACT_OK, later_reason, 0);
	/* Mid-stream from a probe port (no SYN seen): not a probe either. */
	th_tcp(&s, V4, A4, NODE4, PROBE_DENY, 10250, SG_TCP_ACK);
	pod_send(&t, ep, OUT, &s, TC_ACT_OK, out_reason, 0);
	th_ep_stats(&t, ep, &es);
	CU_ASSERT_EQUAL(es.probe_steered, 0);
	CU_ASSERT_EQUAL(es.allows_by_reason[SGBPF_ALLOW_PROBE], 0);
	th_close(&t);
	sg_policy_free(&p);
}

static void test_pod_opened_strict(void)
{
	pod_opened_flows(false);
}

static void test_pod_opened_standard(void)
{
	pod_opened_flows(true);
}

/* A swap that takes the probe port away ends the steering of a probe
 * connection already open: it is an ordinary tracked flow from then on. */
static void test_swap_removing_probe_port(void)
{
	struct sg_pkt_spec s;
	struct sg_policy p, q;
	struct th t;
	uint32_t ep;

	probe_policy(&p, false);
	PROBE_SETUP(t, p, ep, true, true);

	th_tcp(&s, V4, NODE4, A4, 40010, PROBE_OK, SG_TCP_SYN);
	pod_send(&t, ep, IN, &s, TC_ACT_OK, SGBPF_ALLOW_PROBE, PROBE);

	probe_policy(&q, false);
	{
		struct sg_endpoint *e = &q.endpoints[q.n_endpoints - 1];

		free(e->probe_ports);
		e->probe_ports = NULL;
		e->n_probe_ports = 0;
	}
	CU_ASSERT_EQUAL_FATAL(th_apply(&t, &q), 0);
	CU_ASSERT_EQUAL_FATAL(pod_facing(&t, ep), 0);
	th_tcp(&s, V4, A4, NODE4, PROBE_OK, 40010, SG_TCP_SYN | SG_TCP_ACK);
	s.ack = 1;
	pod_send(&t, ep, OUT, &s, TC_ACT_OK, SGBPF_ALLOW_TRACKED, 0);
	th_close(&t);
	sg_policy_free(&p);
	sg_policy_free(&q);
}

/* The steered frame: the target's MAC as destination, TC_ACT_REDIRECT. A
 * frame the pod tags itself is never steered (it would reach the node's
 * VLAN device of that id). */
static void test_steered_frame_and_tagged_frames(void)
{
	uint8_t buf[SG_PKT_MAX], out[SG_PKT_MAX];
	struct sg_pkt_spec s;
	struct sg_policy p;
	struct th t;
	uint32_t ep;
	int n;

	probe_policy(&p, false);
	PROBE_SETUP(t, p, ep, true, true);

	th_tcp(&s, V4, NODE4, A4, 40011, PROBE_OK, SG_TCP_SYN);
	pod_send(&t, ep, IN, &s, TC_ACT_OK, SGBPF_ALLOW_PROBE, PROBE);
	/* Tagged: judged (the untagged entry is the fallback), not steered. */
	th_tcp(&s, V4, A4, NODE4, PROBE_OK, 40011, SG_TCP_SYN | SG_TCP_ACK);
	s.ack = 1;
	s.vlan_id = 99;
	pod_send(&t, ep, OUT, &s, TC_ACT_OK, SGBPF_ALLOW_PROBE, PROBE);

	/* Primary copy only, to read the frame back. */
	th_tcp(&s, V4, A4, NODE4, PROBE_OK, 40011, SG_TCP_ACK);
	s.seq = 1;
	s.ack = 1;
	n = sg_pkt_build(&s, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 0);
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (uint32_t)n,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		CU_ASSERT_EQUAL_FATAL(bpf_prog_test_run_opts(sgbpf_prog_fd(t.h,
					SGBPF_PROG_TC_INGRESS), &o), 0);
		CU_ASSERT_EQUAL(o.retval, TC_ACT_REDIRECT);
		CU_ASSERT_EQUAL(o.data_size_out, (uint32_t)n);
		CU_ASSERT(!memcmp(out, target.mac, 6));
		CU_ASSERT(!memcmp(out + 6, buf + 6, (size_t)n - 6));
	}
	th_close(&t);
	sg_policy_free(&p);
}

static CU_TestInfo probe_tests[] = {
	{ "strict_allowed_probe_is_steered", test_strict_allowed_probe_is_steered },
	{ "strict_probe_not_allowed_is_dropped", test_strict_probe_not_allowed_is_dropped },
	{ "other_traffic_is_not_a_probe", test_other_traffic_is_not_a_probe },
	{ "standard_mode_probes_unenforced_and_steered",
	  test_standard_mode_probes_unenforced_and_steered },
	{ "no_target_passes_unsteered", test_no_target_passes_unsteered },
	{ "net_facing_never_steers", test_net_facing_never_steers },
	{ "probe_survives_swap", test_probe_survives_swap },
	{ "pod_opened_strict", test_pod_opened_strict },
	{ "pod_opened_standard", test_pod_opened_standard },
	{ "swap_removing_probe_port", test_swap_removing_probe_port },
	{ "steered_frame_and_tagged_frames", test_steered_frame_and_tagged_frames },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-probes", NULL, NULL, probe_tests);
