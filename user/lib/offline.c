// SPDX-License-Identifier: BSD-2-Clause
/* Offline evaluation through the real programs; see offline.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "names.h"
#include "offline.h"
#include "parse.h"

#define OFFLINE_IFINDEX 1       /* loopback: where test_run without ctx runs */

static const uint8_t default_local_mac[6] = { 0x02, 0x53, 0x47, 0x00, 0x00, 0x01 };
static const uint8_t default_remote_mac[6] = { 0x02, 0x53, 0x47, 0x00, 0x00, 0x02 };

static const char *const allow_text[SGBPF_ALLOW_REASON_MAX] = {
	[SGBPF_ALLOW_RULE]      = "a new flow matched a rule",
	[SGBPF_ALLOW_TRACKED]   = "part of a connection already tracked",
	[SGBPF_ALLOW_UNTRACKED] = "allowed by a rule, untracked (/0 rules both ways: replies pass by the reverse rule)",
	[SGBPF_ALLOW_RELATED]   = "an ICMP error about a tracked connection",
	[SGBPF_ALLOW_EXEMPT]    = "the remote address is on the exempt list (never filtered)",
	[SGBPF_ALLOW_NEIGH]     = "ARP / IPv6 neighbour discovery is not subject to rules",
	[SGBPF_ALLOW_FRAG]      = "a fragment of an allowed first fragment",
	[SGBPF_ALLOW_NOT_IP]    = "not IP: security groups do not apply",
	[SGBPF_ALLOW_UNMANAGED] = "node or same-node pod traffic is not enforced in standard mode",
	[SGBPF_ALLOW_PROBE]     = "a kubelet probe handled by sgbpf",
};

static const char *const drop_text[SGBPF_DROP_REASON_MAX] = {
	[SGBPF_DROP_NO_RULE]        = "no rule of the endpoint's security groups allows this new flow",
	[SGBPF_DROP_NO_POLICY]      = "the endpoint has no policy in force (fail closed)",
	[SGBPF_DROP_SPOOF_SRC]      = "the source address is not one of the endpoint's",
	[SGBPF_DROP_SPOOF_MAC]      = "the source MAC is not the endpoint's",
	[SGBPF_DROP_WRONG_DST]      = "the destination address is not one of the endpoint's",
	[SGBPF_DROP_MALFORMED]      = "truncated or inconsistent headers",
	[SGBPF_DROP_FRAG_UNKNOWN]   = "a non-first fragment whose first fragment was not seen",
	[SGBPF_DROP_CT_FULL]        = "the connection-tracking table is full",
	[SGBPF_DROP_CT_INVALID]     = "a TCP packet invalid for its connection's state",
	[SGBPF_DROP_EXTHDR_LIMIT]   = "more IPv6 extension headers than the datapath walks",
	[SGBPF_DROP_ICMP_UNRELATED] = "an ICMP error about no tracked connection",
	[SGBPF_DROP_STRICT_REEVAL]  = "a tracked connection the rules no longer allow (strict re-evaluation)",
};

static int on_event(void *arg, void *data, size_t size)
{
	struct sg_offline *ctx = arg;
	const struct sgbpf_event *ev = data;

	ctx->n_events++;
	if (size < sizeof(*ev))
		return 0;
	/* Keep the event of the frame just run (the datapath is private, so
	 * no other traffic emits any; the check guards against stale ones). */
	if (ev->ep_id == ctx->want_ep && ev->dir == ctx->want_dir) {
		ctx->last_event = *ev;
		ctx->has_match = true;
	}
	return 0;
}

void sg_offline_drain(struct sg_offline *ctx)
{
	ctx->want_ep = SGBPF_RULE_NONE;
	ctx->want_dir = 0xff;
	if (ctx->rb)
		ring_buffer__consume(ctx->rb);
	ctx->n_events = 0;
	ctx->has_match = false;
}

static int offline_load(struct sg_offline *ctx, const struct sg_offline_opts *opts,
			struct sg_diags *diags)
{
	int err;

	err = sg_compile(&ctx->policy, NULL, &ctx->compiled, diags);
	if (err) {
		if (!diags->n_errors)
			sg_diag_add(diags, SG_ERROR, NULL, NULL,
				    "compiling the policy failed: %s", strerror(-err));
		return err;
	}
	if (opts->events_allow)
		ctx->compiled.config.flags |= SGBPF_CFG_EVENTS_ALLOW;
	else
		ctx->compiled.config.flags &= ~SGBPF_CFG_EVENTS_ALLOW;

	err = sgbpf_open(&ctx->h);
	if (err) {
		sg_diag_add(diags, SG_ERROR, NULL, NULL,
			    "loading the BPF datapath failed: %s%s", strerror(-err),
			    err == -EPERM || err == -EACCES ?
			    " (BPF needs root or CAP_BPF+CAP_NET_ADMIN; run as root)" : "");
		ctx->h = NULL;
		return err;
	}
	err = sgbpf_apply(ctx->h, &ctx->compiled, 1, NULL);
	if (err) {
		sg_diag_add(diags, SG_ERROR, NULL, NULL,
			    "writing the compiled policy into the datapath failed: %s",
			    strerror(-err));
		return err;
	}
	for (size_t i = 0; i < ctx->compiled.n_endpoints; i++) {
		const struct sg_compiled_endpoint *ep = &ctx->compiled.endpoints[i];

		err = sgbpf_iface_set(ctx->h, OFFLINE_IFINDEX, (uint16_t)(ep->ep_id + 1),
				      ep->ep_id, SGBPF_ROLE_NET_FACING);
		if (err) {
			sg_diag_add(diags, SG_ERROR, NULL, NULL,
				    "mapping endpoint %s to virtual VLAN %u failed: %s",
				    ep->src ? ep->src->name : "?", ep->ep_id + 1, strerror(-err));
			return err;
		}
	}
	ctx->rb = ring_buffer__new(sgbpf_map_fd(ctx->h, SGBPF_MAP_EVENTS), on_event, ctx, NULL);
	if (!ctx->rb) {
		err = -errno;
		sg_diag_add(diags, SG_ERROR, NULL, NULL,
			    "opening the events ring buffer failed: %s", strerror(-err));
		return err ? err : -EIO;
	}
	sg_offline_drain(ctx);
	return 0;
}

int sg_offline_open_policy(struct sg_policy *policy, const struct sg_offline_opts *opts,
			   struct sg_offline **out, struct sg_diags *diags)
{
	static const struct sg_offline_opts defaults = { .events_allow = true };
	struct sg_offline *ctx;
	int err;

	*out = NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		sg_diag_add(diags, SG_ERROR, NULL, NULL, "out of memory");
		return -ENOMEM;
	}
	/* Move the policy: its arrays stay where they are, so the compiled
	 * rules' pointers into it remain valid. */
	ctx->policy = *policy;
	sg_policy_init(policy);
	err = offline_load(ctx, opts ? opts : &defaults, diags);
	if (err) {
		sg_offline_close(ctx);
		return err;
	}
	*out = ctx;
	return 0;
}

int sg_offline_open(const char *dir, struct sg_offline **out, struct sg_diags *diags)
{
	struct sg_policy policy;
	int err;

	*out = NULL;
	sg_policy_init(&policy);
	err = sg_policy_load_dir(&policy, dir, diags);
	if (!err && diags->n_errors)
		err = -EINVAL;
	if (err) {
		sg_policy_free(&policy);
		return err;
	}
	return sg_offline_open_policy(&policy, NULL, out, diags);
}

void sg_offline_close(struct sg_offline *ctx)
{
	if (!ctx)
		return;
	ring_buffer__free(ctx->rb);
	if (ctx->h)
		sgbpf_close(ctx->h);
	sg_compiled_free(&ctx->compiled);
	sg_policy_free(&ctx->policy);
	free(ctx);
}

const struct sg_compiled_endpoint *sg_offline_endpoint(const struct sg_offline *ctx,
						       const char *name)
{
	return sg_compiled_endpoint(&ctx->compiled, name);
}

const struct sg_compiled_endpoint *sg_offline_endpoint_by_addr(const struct sg_offline *ctx,
							       const struct sg_addr *addr)
{
	size_t alen = addr->family == SGBPF_AF_V4 ? 4 : 16;

	for (size_t i = 0; i < ctx->compiled.n_endpoints; i++) {
		const struct sg_compiled_endpoint *ep = &ctx->compiled.endpoints[i];

		for (size_t j = 0; ep->src && j < ep->src->n_addrs; j++) {
			const struct sg_addr *a = &ep->src->addrs[j];

			if (a->family == addr->family && !memcmp(a->addr, addr->addr, alen))
				return ep;
		}
	}
	return NULL;
}

const struct sg_addr *sg_offline_endpoint_addr(const struct sg_compiled_endpoint *ep,
					       uint8_t family)
{
	for (size_t j = 0; ep->src && j < ep->src->n_addrs; j++)
		if (ep->src->addrs[j].family == family)
			return &ep->src->addrs[j];
	return NULL;
}

enum sgbpf_prog sg_offline_prog(enum sgbpf_dir dir)
{
	return dir == SGBPF_DIR_IN ? SGBPF_PROG_TC_INGRESS : SGBPF_PROG_TC_EGRESS;
}

int sg_offline_frame(const struct sg_compiled_endpoint *ep, enum sgbpf_dir dir,
		     const struct sg_l2_view *view, uint8_t *out, size_t cap)
{
	bool ep_mac = ep->val.flags & SGBPF_EP_HAS_MAC;
	uint16_t vlan = (uint16_t)((ep->ep_id + 1) & 0xfff);
	size_t len = 18 + view->payload_len;

	if (len > cap)
		return -ENOSPC;
	if (view->has_macs) {
		memcpy(out, view->dst_mac, 6);
		memcpy(out + 6, view->src_mac, 6);
	} else if (dir == SGBPF_DIR_OUT) {
		/* No MACs in the capture (raw IP, cooked): the pod sent it. */
		memcpy(out, default_remote_mac, 6);
		memcpy(out + 6, ep_mac ? ep->val.mac : default_local_mac, 6);
	} else {
		memcpy(out, ep_mac ? ep->val.mac : default_local_mac, 6);
		memcpy(out + 6, default_remote_mac, 6);
	}
	out[12] = 0x81;
	out[13] = 0x00;
	out[14] = (uint8_t)(vlan >> 8);
	out[15] = (uint8_t)vlan;
	out[16] = (uint8_t)(view->ethertype >> 8);
	out[17] = (uint8_t)view->ethertype;
	if (view->payload_len)
		memcpy(out + 18, view->payload, view->payload_len);
	return (int)len;
}

int sg_offline_run_frame(struct sg_offline *ctx, const struct sg_compiled_endpoint *ep,
			 enum sgbpf_dir dir, const uint8_t *frame, size_t len,
			 struct sg_offline_verdict *v)
{
	enum sgbpf_prog prog = sg_offline_prog(dir);
	int err;

	memset(v, 0, sizeof(*v));
	sg_offline_drain(ctx);
	ctx->want_ep = ep->ep_id;
	ctx->want_dir = (uint8_t)dir;
	err = sgbpf_run(ctx->h, prog, frame, len, 0, &v->action);
	if (err)
		return err;
	v->allow = sgbpf_action_passes(prog, v->action);
	err = ring_buffer__consume(ctx->rb);
	if (err < 0)
		fprintf(stderr, "sgbpf: reading the events ring buffer failed: %s; "
			"verdict reasons will show as unknown\n", strerror(-err));
	/* The event only explains the verdict; one that contradicts the
	 * program's action explains nothing, so it is not used. */
	if (ctx->has_match &&
	    (ctx->last_event.verdict == SGBPF_VERDICT_ALLOW) == v->allow) {
		v->has_event = true;
		v->event = ctx->last_event;
	}
	ctx->want_ep = SGBPF_RULE_NONE;
	return 0;
}

int sg_offline_run(struct sg_offline *ctx, const struct sg_compiled_endpoint *ep,
		   enum sgbpf_dir dir, const struct sg_l2_view *view,
		   struct sg_offline_verdict *v)
{
	int len = sg_offline_frame(ep, dir, view, ctx->frame, sizeof(ctx->frame));

	if (len < 0) {
		memset(v, 0, sizeof(*v));
		return len;
	}
	return sg_offline_run_frame(ctx, ep, dir, ctx->frame, (size_t)len, v);
}

const char *sg_offline_reason_name(const struct sg_offline_verdict *v)
{
	const char *name;

	if (!v->has_event)
		return "unknown";
	name = v->allow ? sgbpf_allow_reason_name(v->event.reason) :
			  sgbpf_drop_reason_name(v->event.reason);
	return name ? name : "unknown";
}

const char *sg_offline_reason_text(const struct sg_offline_verdict *v)
{
	unsigned r = v->event.reason;
	const char *text = NULL;

	if (!v->has_event)
		return "the program emitted no event for this packet, so the reason is unknown";
	if (v->allow && r < SGBPF_ALLOW_REASON_MAX)
		text = allow_text[r];
	else if (!v->allow && r < SGBPF_DROP_REASON_MAX)
		text = drop_text[r];
	return text ? text : "a reason this build of sgbpf has no words for";
}

const struct sg_compiled_rule *sg_offline_rule(const struct sg_offline *ctx,
					       const struct sg_offline_verdict *v)
{
	if (!v->has_event || v->event.rule_id == SGBPF_RULE_NONE ||
	    v->event.rule_id >= ctx->compiled.n_rules)
		return NULL;
	return &ctx->compiled.rules[v->event.rule_id];
}
