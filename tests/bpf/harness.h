/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Shared machinery of the BPF test suites: building policies in code,
 * loading the real datapath, sending frames through the real programs with
 * BPF_PROG_TEST_RUN, and reading back events, counters and conntrack.
 *
 * Offline convention: endpoint E is mapped to iface {1, VLAN E + 1},
 * NET_FACING; inbound frames run through TC ingress, outbound through TC
 * egress. Every harness also loads a second, "shadow" copy of the datapath
 * that gets the same policy and the same frames, but judges inbound frames
 * with the XDP program: every inbound verdict of XDP and TC must agree
 * (th->xdp_mismatch counts disagreements; th_run_frame asserts on them).
 *
 * Loading costs seconds of verifier time, so both copies are loaded once per
 * process; th_open() resets their conntrack, fragment, interface and counter
 * state and pending events, and the test's th_apply() replaces the policy.
 */
#ifndef SGBPF_TEST_HARNESS_H
#define SGBPF_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include <sgbpf/layout.h>

#include "compile.h"
#include "loader.h"
#include "model.h"
#include "packet.h"

struct ring_buffer;

#define TH_MAX_EVENTS 16

struct th {
	struct sgbpf *h;             /* primary: TC for both directions      */
	struct sgbpf *shadow;        /* XDP for inbound; NULL when disabled  */
	struct ring_buffer *rb;
	struct sgbpf_event ev[TH_MAX_EVENTS];
	size_t n_ev;                 /* events of the last frame (primary)   */
	size_t ev_lost;              /* events beyond TH_MAX_EVENTS          */
	struct sg_compiled comp;
	bool have_comp;
	uint64_t gen;
	/* Ids of the last compile, so endpoints keep them across applies. */
	char **id_names;
	uint32_t *id_vals;
	size_t n_ids;
	/* Applied after compiling, before sgbpf_apply (0 = keep). */
	uint32_t timeout_override[SGBPF_TO_MAX];
	unsigned xdp_mismatch;
};

/* Result of one frame. */
struct th_res {
	bool pass;
	int action;
	bool has_ev;
	struct sgbpf_event ev;       /* the frame's event, when has_ev       */
};

/* ---- policies built in code (every allocation owned by the policy) ---- */
void tp_init(struct sg_policy *p);
/* src: a CIDR ("10.0.0.0/8", "::/0"), "pl-..." or "sg-...". Ports as in
 * model.h (tcp/udp from..to; icmp type/code with -1; others -1, -1). */
void tp_rule(struct sg_policy *p, const char *sg, bool egress, int proto, int from, int to,
	     const char *src);
#define tp_in(p, sg, proto, from, to, src)  tp_rule(p, sg, false, proto, from, to, src)
#define tp_out(p, sg, proto, from, to, src) tp_rule(p, sg, true, proto, from, to, src)
/* A group with no rules (so an endpoint may name it). */
void tp_group(struct sg_policy *p, const char *sg);
/* Comma-separated lists; family of a prefix list from its first entry. */
void tp_plist(struct sg_policy *p, const char *id, const char *cidrs);
void tp_endpoint(struct sg_policy *p, const char *name, const char *sgs, const char *addrs,
		 const char *mac);
void tp_member(struct sg_policy *p, const char *sg, const char *addrs);
/* Replace the default exempt list. */
void tp_exempt(struct sg_policy *p, const char *cidrs);
/* Parse helpers that abort the test binary on bad literals (test bugs). */
struct sg_addr tp_addr(const char *text);
struct sg_cidr tp_cidr(const char *text);

/* ---- the datapath ---------------------------------------------------- */
int th_open(struct th *t, bool shadow);
void th_close(struct th *t);
/* Compile p (keeping endpoint ids), force allow events on, apply to both
 * copies, map every endpoint. Returns 0 or -errno (message on stderr). */
int th_apply(struct th *t, const struct sg_policy *p);
/* Same with a tweak of the compiled slot config (flags set/cleared). */
int th_apply_flags(struct th *t, const struct sg_policy *p, uint32_t set, uint32_t clear);
uint32_t th_ep(const struct th *t, const char *name);
/* Rule id of group sg's rule #idx (family fam); SGBPF_RULE_NONE if absent. */
uint32_t th_rule_id(const struct th *t, const struct sg_policy *p, const char *sg, size_t idx,
		    uint8_t fam);

/* Run spec as endpoint ep's traffic in dir (tags it with VLAN ep+1). */
int th_send(struct th *t, uint32_t ep, enum sgbpf_dir dir, struct sg_pkt_spec *s,
	    struct th_res *r);
/* Run a raw frame through prog on both copies (XDP on the shadow for
 * TC ingress). */
int th_run_frame(struct th *t, enum sgbpf_prog prog, const uint8_t *frame, size_t len,
		 struct th_res *r);
/* Read pending events into t->ev. */
void th_drain(struct th *t);

/* Assert a verdict (and reason, unless reason < 0) with a message naming
 * the caller's line. Returns the result for further checks. */
struct th_res th_expect_(struct th *t, uint32_t ep, enum sgbpf_dir dir, struct sg_pkt_spec *s,
			 bool pass, int reason, const char *file, int line);
#define th_expect(t, ep, dir, s, pass, reason) \
	th_expect_(t, ep, dir, s, pass, reason, __FILE__, __LINE__)
#define TH_ALLOW(t, ep, dir, s, reason) th_expect(t, ep, dir, s, true, reason)
#define TH_DROP(t, ep, dir, s, reason)  th_expect(t, ep, dir, s, false, reason)

/* Assert with a formatted message at the caller's line. */
void th_check_(bool cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define th_check(cond, ...) th_check_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* ---- frames ------------------------------------------------------------ */
void th_tcp(struct sg_pkt_spec *s, uint8_t fam, const char *src, const char *dst,
	    uint16_t sport, uint16_t dport, uint8_t flags);
void th_udp(struct sg_pkt_spec *s, uint8_t fam, const char *src, const char *dst,
	    uint16_t sport, uint16_t dport);
/* ICMP (fam V4) or ICMPv6 (V6) with type/code and echo id. */
void th_icmp(struct sg_pkt_spec *s, uint8_t fam, const char *src, const char *dst,
	     uint8_t type, uint8_t code, uint16_t id);
void th_ipproto(struct sg_pkt_spec *s, uint8_t fam, uint8_t proto, const char *src,
		const char *dst);

/* An inbound TCP connection remote:rport -> local:lport of endpoint ep
 * through its handshake: the SYN allowed by a rule, the rest tracked. */
void th_tcp_handshake(struct th *t, uint32_t ep, uint8_t fam, const char *remote,
		      uint16_t rport, const char *local, uint16_t lport);

/* ---- state ------------------------------------------------------------- */
void th_ep_stats(const struct th *t, uint32_t ep, struct sgbpf_ep_stats *out);
void th_global_stats(const struct th *t, struct sgbpf_global_stats *out);
void th_rule_stats(const struct th *t, uint32_t rule_id, struct sgbpf_rule_stats *out);
uint32_t th_active_slot(const struct th *t);

enum th_ct_where { TH_CT_NONE = 0, TH_CT_EST = 1, TH_CT_NEW = 2 };
void th_ct_key(struct sgbpf_ct_key *k, uint32_t ep, uint8_t fam, uint8_t proto,
	       const char *local, const char *remote, uint16_t lport, uint16_t rport);
/* Which conntrack table holds k (primary copy); *val filled when found. */
enum th_ct_where th_ct_find(const struct th *t, const struct sgbpf_ct_key *k,
			    struct sgbpf_ct_val *val);
/* Is k in that one table (SGBPF_MAP_CT_NEW / SGBPF_MAP_CT_EST: the table,
 * whichever family's map holds k; see ct.h)? */
bool th_ct_in(const struct th *t, enum sgbpf_map map, const struct sgbpf_ct_key *k);
/* Entries of that table (SGBPF_MAP_CT_NEW / _CT_EST), both families. */
size_t th_ct_count(const struct th *t, enum sgbpf_map map);
/* Move last_seen_ns of k back by ns (both copies). Returns 0 or -ENOENT. */
int th_ct_age(struct th *t, const struct sgbpf_ct_key *k, uint64_t ns);
size_t th_map_count(const struct th *t, enum sgbpf_map map);

/* ---- conveniences for the suites ------------------------------------ */
#define A4 "10.0.0.10"
#define A6 "fd00::10"
#define B4 "10.0.0.11"
#define B6 "fd00::11"
#define V4 SGBPF_AF_V4
#define V6 SGBPF_AF_V6
#define IN SGBPF_DIR_IN
#define OUT SGBPF_DIR_OUT

/* Open the datapath (with the XDP shadow) and apply p; on failure the test
 * fails and returns. */
#define TH_SETUP(t, p)                                                    \
	do {                                                              \
		CU_ASSERT_EQUAL_FATAL(th_open(&(t), true), 0);            \
		if (th_apply(&(t), &(p))) {                               \
			CU_FAIL("applying the test policy failed");       \
			th_close(&(t));                                   \
			sg_policy_free(&(p));                             \
			return;                                           \
		}                                                         \
	} while (0)

#endif
