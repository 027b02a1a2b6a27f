/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Offline evaluation: load a policy into a private copy of the real datapath
 * (nothing attached, nothing pinned) and run frames through the real
 * programs with BPF_PROG_TEST_RUN. Used by `sgbpf check`, `sgbpf replay`,
 * the tests and the bench.
 *
 * Convention (shared with the BPF tests): test_run without a context runs on
 * loopback (ifindex 1), so every compiled endpoint E is mapped to the
 * interface key {1, VLAN E.ep_id + 1} with role NET_FACING, and a frame for
 * E is re-tagged with that VLAN. Inbound frames go through the TC ingress
 * program, outbound through TC egress.
 *
 * The verdict is the program's return code and nothing else; the ring-buffer
 * event the program emits (allow events are switched on) only explains it.
 */
#ifndef SGBPF_OFFLINE_H
#define SGBPF_OFFLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sgbpf/layout.h>

#include "compile.h"
#include "diag.h"
#include "loader.h"
#include "model.h"
#include "packet.h"
#include "pcapio.h"

struct ring_buffer;

struct sg_offline {
	struct sg_policy policy;
	struct sg_compiled compiled;
	struct sgbpf *h;
	struct ring_buffer *rb;
	/* Events read by the last consume (filled by the ring-buffer callback). */
	struct sgbpf_event last_event;
	size_t n_events;
	bool has_match;                 /* last_event is for the frame just run */
	uint32_t want_ep;               /* which event the callback keeps       */
	uint8_t want_dir;
	uint8_t frame[SG_PKT_MAX + 64];
};

struct sg_offline_opts {
	bool events_allow;              /* emit allow events (the bench turns them off) */
};

/*
 * Parse and compile the policy directory dir, load the datapath privately,
 * apply the policy (allow events on) and map every endpoint to its virtual
 * VLAN. Policy errors, and a failure to load the datapath, are added to
 * diags (one line each, saying what to do). Returns 0, -EINVAL when the
 * policy is invalid, or the loader's -errno (-EPERM: not root).
 */
int sg_offline_open(const char *dir, struct sg_offline **out, struct sg_diags *diags);

/* Same, from a policy built in memory. Takes over policy's contents (the
 * caller's struct is left empty, ready for sg_policy_free). opts may be NULL. */
int sg_offline_open_policy(struct sg_policy *policy, const struct sg_offline_opts *opts,
			   struct sg_offline **out, struct sg_diags *diags);

void sg_offline_close(struct sg_offline *ctx);

const struct sg_compiled_endpoint *sg_offline_endpoint(const struct sg_offline *ctx,
						       const char *name);
/* The endpoint that owns addr, or NULL. */
const struct sg_compiled_endpoint *sg_offline_endpoint_by_addr(const struct sg_offline *ctx,
							       const struct sg_addr *addr);
/* First address of the endpoint in family, or NULL. */
const struct sg_addr *sg_offline_endpoint_addr(const struct sg_compiled_endpoint *ep,
					       uint8_t family);

/* The program that judges direction dir: TC ingress for IN, TC egress for OUT. */
enum sgbpf_prog sg_offline_prog(enum sgbpf_dir dir);

/*
 * Build into out the frame the programs see for ep in dir: view's MACs (or,
 * without any, the endpoint's MAC as source for OUT / destination for IN),
 * one 802.1Q tag with VLAN ep_id + 1 in place of view's outer tag, then the
 * rest of the frame. Returns its length or -ENOSPC.
 */
int sg_offline_frame(const struct sg_compiled_endpoint *ep, enum sgbpf_dir dir,
		     const struct sg_l2_view *view, uint8_t *out, size_t cap);

struct sg_offline_verdict {
	bool allow;                     /* sgbpf_action_passes(prog, action)   */
	int action;                     /* the program's return code            */
	bool has_event;                 /* event below explains this verdict    */
	struct sgbpf_event event;
};

/* Run view as ep's traffic in dir through the real program. Returns 0 or
 * -errno (test_run failed; message on stderr). */
int sg_offline_run(struct sg_offline *ctx, const struct sg_compiled_endpoint *ep,
		   enum sgbpf_dir dir, const struct sg_l2_view *view,
		   struct sg_offline_verdict *v);
/* Same for a frame that already carries the endpoint's virtual tag. */
int sg_offline_run_frame(struct sg_offline *ctx, const struct sg_compiled_endpoint *ep,
			 enum sgbpf_dir dir, const uint8_t *frame, size_t len,
			 struct sg_offline_verdict *v);

/* Read and discard pending ring-buffer events. */
void sg_offline_drain(struct sg_offline *ctx);

/* names.h name of the verdict's reason, "unknown" without an event. */
const char *sg_offline_reason_name(const struct sg_offline_verdict *v);
/* The reason in words, e.g. "no rule of the endpoint's security groups allows this new flow". */
const char *sg_offline_reason_text(const struct sg_offline_verdict *v);
/* The compiled rule the event names (the one that admitted the flow), or NULL. */
const struct sg_compiled_rule *sg_offline_rule(const struct sg_offline *ctx,
					       const struct sg_offline_verdict *v);

#endif
