// SPDX-License-Identifier: BSD-2-Clause
/* Shared machinery of the BPF test suites; see harness.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ct.h"
#include "diag.h"
#include "harness.h"
#include "names.h"
#include "../lib/policy_build.h"

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "harness: out of memory\n");
		abort();
	}
	return p;
}

static void *xrealloc(void *p, size_t n, size_t size)
{
	p = realloc(p, (n ? n : 1) * size);
	if (!p) {
		fprintf(stderr, "harness: out of memory\n");
		abort();
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

/* ---- policies built in code (on tests/lib/policy_build.h) ---------------- */

struct sg_addr tp_addr(const char *text)
{
	return tc_addr(text);
}

struct sg_cidr tp_cidr(const char *text)
{
	return tc_cidr(text);
}

void tp_init(struct sg_policy *p)
{
	sg_policy_init(p);
	p->has_endpoints_doc = true;
}

static struct sg_group *group_get(struct sg_policy *p, const char *sg)
{
	for (size_t i = 0; i < p->n_groups; i++)
		if (!strcmp(p->groups[i].id, sg))
			return &p->groups[i];
	return tc_group(p, sg);
}

void tp_group(struct sg_policy *p, const char *sg)
{
	group_get(p, sg);
}

void tp_rule(struct sg_policy *p, const char *sg, bool egress, int proto, int from, int to,
	     const char *src)
{
	tc_rule(group_get(p, sg), egress, proto, from, to, src);
}

/* Split a comma-separated list; calls fn for each item. */
static void each_item(const char *csv, void (*fn)(void *ctx, const char *item), void *ctx)
{
	char buf[256];
	const char *s = csv;

	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n >= sizeof(buf))
			abort();
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (n)
			fn(ctx, buf);
		s = e ? e + 1 : NULL;
	}
}

static void add_plist_cidr(void *ctx, const char *item)
{
	struct sg_prefix_list *pl = ctx;

	tc_pl_add(pl, item);
	pl->family = pl->cidrs[0].family;   /* a list holds its first entry's family */
}

void tp_plist(struct sg_policy *p, const char *id, const char *cidrs)
{
	each_item(cidrs, add_plist_cidr, tc_pl(p, id, 0));
}

static void add_ep_addr(void *ctx, const char *item)
{
	tc_ep_addr(ctx, item);
}

static void add_ep_sg(void *ctx, const char *item)
{
	tc_ep_sg(ctx, item);
}

void tp_endpoint(struct sg_policy *p, const char *name, const char *sgs, const char *addrs,
		 const char *mac)
{
	struct sg_endpoint *ep = tc_ep(p, name);

	each_item(sgs, add_ep_sg, ep);
	each_item(addrs, add_ep_addr, ep);
	if (mac) {
		unsigned m[6];

		if (sscanf(mac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4],
			   &m[5]) != 6)
			abort();
		for (int i = 0; i < 6; i++)
			ep->mac[i] = (uint8_t)m[i];
		ep->has_mac = true;
	}
}

static void add_member_addr(void *ctx, const char *item)
{
	tc_member_addr(ctx, item);
}

void tp_member(struct sg_policy *p, const char *sg, const char *addrs)
{
	each_item(addrs, add_member_addr, tc_member(p, sg));
}

static void add_exempt(void *ctx, const char *item)
{
	tc_exempt(ctx, item);
}

void tp_exempt(struct sg_policy *p, const char *cidrs)
{
	free(p->node.exempt);
	p->node.exempt = NULL;
	p->node.n_exempt = 0;
	p->node.has_exempt = true;
	each_item(cidrs, add_exempt, p);
}

/* ---- the datapath ------------------------------------------------------ */

/*
 * Loading the datapath costs seconds of verifier time, so the process keeps
 * one primary and one shadow copy and every th_open() resets their state
 * (conntrack, fragments, interfaces, counters, pending events) instead.
 */
static struct sgbpf *g_h, *g_shadow;
static struct ring_buffer *g_rb;
static struct th *g_cur;            /* harness the events belong to */

static int on_event(void *ctx, void *data, size_t size)
{
	struct th *t = g_cur;

	if (!t || size < sizeof(struct sgbpf_event))
		return 0;
	if (t->n_ev < TH_MAX_EVENTS)
		memcpy(&t->ev[t->n_ev++], data, sizeof(struct sgbpf_event));
	else
		t->ev_lost++;
	return 0;
}

static void close_all(void)
{
	if (g_rb)
		ring_buffer__free(g_rb);
	if (g_h)
		sgbpf_close(g_h);
	if (g_shadow)
		sgbpf_close(g_shadow);
	g_rb = NULL;
	g_h = g_shadow = NULL;
}

/* Delete every entry of a hash-type map: collect the keys, then delete. */
static int map_clear(int fd)
{
	struct bpf_map_info info = { 0 };
	uint32_t info_len = sizeof(info);
	uint8_t *keys = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return -errno;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			keys = xrealloc(keys, cap, info.key_size);
		}
		if (bpf_map_get_next_key(fd, n ? keys + (n - 1) * info.key_size : NULL,
					 keys + n * info.key_size))
			break;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, keys + i * info.key_size) && errno != ENOENT)
			err = -errno;
	free(keys);
	return err;
}

static int percpu_zero(int fd, uint32_t n_entries, size_t value_size)
{
	size_t stride = (value_size + 7) & ~(size_t)7;
	void *zeros = xcalloc((size_t)libbpf_num_possible_cpus(), stride);
	int err = 0;

	for (uint32_t k = 0; k < n_entries && !err; k++)
		if (bpf_map_update_elem(fd, &k, zeros, BPF_ANY))
			err = -errno;
	free(zeros);
	return err;
}

static int reset_instance(struct sgbpf *h)
{
	static const enum sgbpf_map hashes[] = { SGBPF_MAP_IFACES, SGBPF_MAP_FRAGS };
	struct sgbpf_ct_maps ct;
	int err;

	sgbpf_ct_maps_of(h, &ct);
	err = sgbpf_ct_delete_if(&ct, NULL, NULL, NULL);
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]) && !err; i++)
		err = map_clear(sgbpf_map_fd(h, hashes[i]));
	if (!err)
		err = percpu_zero(sgbpf_map_fd(h, SGBPF_MAP_EP_STATS), SGBPF_MAX_ENDPOINTS,
				  sizeof(struct sgbpf_ep_stats));
	if (!err)
		err = percpu_zero(sgbpf_map_fd(h, SGBPF_MAP_GLOBAL_STATS), 1,
				  sizeof(struct sgbpf_global_stats));
	if (!err)
		err = sgbpf_probe_target_set(h, NULL);
	if (err)
		fprintf(stderr, "harness: resetting the datapath state failed: %s\n",
			strerror(-err));
	return err;
}

int th_open(struct th *t, bool shadow)
{
	int err;

	memset(t, 0, sizeof(*t));
	if (!g_h) {
		err = sgbpf_open(&g_h);
		if (err) {
			fprintf(stderr, "harness: sgbpf_open failed: %s\n", strerror(-err));
			return err;
		}
		atexit(close_all);
		g_rb = ring_buffer__new(sgbpf_map_fd(g_h, SGBPF_MAP_EVENTS), on_event, NULL, NULL);
		if (!g_rb) {
			err = -errno;
			fprintf(stderr, "harness: ring_buffer__new on the events map failed: %s\n",
				strerror(errno));
			return err;
		}
	}
	if (shadow && !g_shadow) {
		err = sgbpf_open(&g_shadow);
		if (err) {
			fprintf(stderr, "harness: sgbpf_open (XDP shadow) failed: %s\n",
				strerror(-err));
			return err;
		}
	}
	t->h = g_h;
	t->shadow = shadow ? g_shadow : NULL;
	t->rb = g_rb;
	err = reset_instance(t->h);
	if (!err && t->shadow)
		err = reset_instance(t->shadow);
	if (err)
		return err;
	g_cur = t;
	th_drain(t);
	return 0;
}

static void ids_free(struct th *t)
{
	for (size_t i = 0; i < t->n_ids; i++)
		free(t->id_names[i]);
	free(t->id_names);
	free(t->id_vals);
	t->id_names = NULL;
	t->id_vals = NULL;
	t->n_ids = 0;
}

/* The shared copies stay loaded; the next th_open resets them. */
void th_close(struct th *t)
{
	if (t->have_comp)
		sg_compiled_free(&t->comp);
	ids_free(t);
	if (g_cur == t)
		g_cur = NULL;
	memset(t, 0, sizeof(*t));
}

int th_apply_flags(struct th *t, const struct sg_policy *p, uint32_t set, uint32_t clear)
{
	struct sg_ep_ids prev = { .names = t->id_names, .ids = t->id_vals, .n = t->n_ids };
	struct sg_compiled c;
	struct sg_diags d;
	int err;

	sg_diags_init(&d);
	memset(&c, 0, sizeof(c));
	err = sg_compile(p, t->n_ids ? &prev : NULL, &c, &d);
	if (err) {
		fprintf(stderr, "harness: sg_compile failed (%s):\n", strerror(-err));
		sg_diags_print(&d, stderr);
		sg_diags_free(&d);
		return err;
	}
	sg_diags_free(&d);
	c.config.flags |= SGBPF_CFG_EVENTS_ALLOW | set;
	c.config.flags &= ~clear;
	for (int i = 0; i < SGBPF_TO_MAX; i++)
		if (t->timeout_override[i])
			c.config.timeouts_s[i] = t->timeout_override[i];
	t->gen++;
	err = sgbpf_apply(t->h, &c, t->gen, NULL);
	if (!err && t->shadow)
		err = sgbpf_apply(t->shadow, &c, t->gen, NULL);
	if (err) {
		fprintf(stderr, "harness: sgbpf_apply failed: %s\n", strerror(-err));
		sg_compiled_free(&c);
		return err;
	}
	for (size_t i = 0; i < c.n_endpoints && !err; i++) {
		uint32_t id = c.endpoints[i].ep_id;

		err = sgbpf_iface_set(t->h, 1, (uint16_t)(id + 1), id, SGBPF_ROLE_NET_FACING);
		if (!err && t->shadow)
			err = sgbpf_iface_set(t->shadow, 1, (uint16_t)(id + 1), id,
					      SGBPF_ROLE_NET_FACING);
	}
	if (err) {
		fprintf(stderr, "harness: sgbpf_iface_set failed: %s\n", strerror(-err));
		sg_compiled_free(&c);
		return err;
	}
	if (t->have_comp)
		sg_compiled_free(&t->comp);
	t->comp = c;
	t->have_comp = true;
	ids_free(t);
	t->id_names = xcalloc(c.n_endpoints, sizeof(char *));
	t->id_vals = xcalloc(c.n_endpoints, sizeof(uint32_t));
	for (size_t i = 0; i < c.n_endpoints; i++) {
		t->id_names[i] = xstrdup(c.endpoints[i].src->name);
		t->id_vals[i] = c.endpoints[i].ep_id;
	}
	t->n_ids = c.n_endpoints;
	th_drain(t);
	return 0;
}

int th_apply(struct th *t, const struct sg_policy *p)
{
	return th_apply_flags(t, p, 0, 0);
}

uint32_t th_ep(const struct th *t, const char *name)
{
	for (size_t i = 0; i < t->n_ids; i++)
		if (!strcmp(t->id_names[i], name))
			return t->id_vals[i];
	fprintf(stderr, "harness: no endpoint '%s' in the applied policy\n", name);
	abort();
}

uint32_t th_rule_id(const struct th *t, const struct sg_policy *p, const char *sg, size_t idx,
		    uint8_t fam)
{
	const struct sg_group *g = sg_policy_group(p, sg);

	if (!g || idx >= g->n_rules || !t->have_comp)
		return SGBPF_RULE_NONE;
	for (size_t i = 0; i < t->comp.n_rules; i++)
		if (t->comp.rules[i].src == &g->rules[idx] && t->comp.rules[i].family == fam)
			return t->comp.rules[i].rule_id;
	return SGBPF_RULE_NONE;
}

void th_drain(struct th *t)
{
	g_cur = t;
	t->n_ev = 0;
	t->ev_lost = 0;
	ring_buffer__consume(t->rb);
	t->n_ev = 0;
	t->ev_lost = 0;
}

static enum sgbpf_prog shadow_prog(enum sgbpf_prog prog)
{
	if (prog == SGBPF_PROG_TC_INGRESS)
		return SGBPF_PROG_XDP;
	if (prog == SGBPF_PROG_XDP)
		return SGBPF_PROG_TC_INGRESS;
	return prog;
}

int th_run_frame(struct th *t, enum sgbpf_prog prog, const uint8_t *frame, size_t len,
		 struct th_res *r)
{
	int err, sact;

	memset(r, 0, sizeof(*r));
	th_drain(t);
	err = sgbpf_run(t->h, prog, frame, len, 0, &r->action);
	if (err) {
		fprintf(stderr, "harness: sgbpf_run(%s, %zu bytes) failed: %s\n",
			sgbpf_prog_name(prog), len, strerror(-err));
		return err;
	}
	r->pass = sgbpf_action_passes(prog, r->action);
	ring_buffer__consume(t->rb);
	if (t->n_ev) {
		r->has_ev = true;
		r->ev = t->ev[t->n_ev - 1];
	}
	if (t->shadow) {
		enum sgbpf_prog sp = shadow_prog(prog);

		err = sgbpf_run(t->shadow, sp, frame, len, 0, &sact);
		if (err) {
			fprintf(stderr, "harness: sgbpf_run(%s, %zu bytes) on the shadow failed: %s\n",
				sgbpf_prog_name(sp), len, strerror(-err));
			return err;
		}
		if (sgbpf_action_passes(sp, sact) != r->pass) {
			char msg[160];

			t->xdp_mismatch++;
			snprintf(msg, sizeof(msg), "%s %s but %s %s the same %zu-byte frame",
				 sgbpf_prog_name(prog), r->pass ? "passes" : "drops",
				 sgbpf_prog_name(sp), r->pass ? "drops" : "passes", len);
			CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
		}
	}
	return 0;
}

int th_send(struct th *t, uint32_t ep, enum sgbpf_dir dir, struct sg_pkt_spec *s,
	    struct th_res *r)
{
	uint8_t buf[SG_PKT_MAX];
	int n;

	s->vlan_id = (uint16_t)(ep + 1);
	n = sg_pkt_build(s, buf, sizeof(buf));
	if (n < 0) {
		fprintf(stderr, "harness: sg_pkt_build failed: %s\n", strerror(-n));
		return n;
	}
	return th_run_frame(t, dir == SGBPF_DIR_IN ? SGBPF_PROG_TC_INGRESS :
			    SGBPF_PROG_TC_EGRESS, buf, (size_t)n, r);
}

static const char *reason_name(bool pass, int reason)
{
	return pass ? sgbpf_allow_reason_name((unsigned)reason) :
		      sgbpf_drop_reason_name((unsigned)reason);
}

void th_check_(bool cond, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (cond) {
		CU_assertImplementation(CU_TRUE, (unsigned)line, "", file, "", CU_FALSE);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	CU_assertImplementation(CU_FALSE, (unsigned)line, msg, file, "", CU_FALSE);
}

struct th_res th_expect_(struct th *t, uint32_t ep, enum sgbpf_dir dir, struct sg_pkt_spec *s,
			 bool pass, int reason, const char *file, int line)
{
	struct th_res r;
	int err = th_send(t, ep, dir, s, &r);

	th_check_(err == 0, file, line, "test_run failed: %s", strerror(-err));
	if (err)
		return r;
	th_check_(r.pass == pass, file, line, "ep %u %s: expected %s (%s), got %s (event: %s %s)",
		  ep, sgbpf_dir_name(dir), pass ? "allow" : "drop",
		  reason >= 0 ? reason_name(pass, reason) : "any reason",
		  r.pass ? "allow" : "drop",
		  r.has_ev ? (r.ev.verdict == SGBPF_VERDICT_ALLOW ? "allow" : "drop") : "none",
		  r.has_ev ? reason_name(r.ev.verdict == SGBPF_VERDICT_ALLOW, r.ev.reason) : "");
	if (reason >= 0) {
		th_check_(r.has_ev, file, line, "ep %u %s: no event for the frame", ep,
			  sgbpf_dir_name(dir));
		if (r.has_ev) {
			bool ev_pass = r.ev.verdict == SGBPF_VERDICT_ALLOW;

			th_check_(ev_pass == r.pass && r.ev.reason == reason, file, line,
				  "ep %u %s: expected reason %s, event says %s %s", ep,
				  sgbpf_dir_name(dir), reason_name(pass, reason),
				  ev_pass ? "allow" : "drop", reason_name(ev_pass, r.ev.reason));
		}
	}
	if (r.has_ev)
		th_check_(r.ev.ep_id == ep && r.ev.dir == dir, file, line,
			  "event names ep %u dir %u, frame was ep %u dir %u", r.ev.ep_id,
			  r.ev.dir, ep, dir);
	return r;
}

/* ---- frames ------------------------------------------------------------ */

static void set_addrs(struct sg_pkt_spec *s, const char *src, const char *dst)
{
	if (sg_pkt_set_addrs(s, src, dst)) {
		fprintf(stderr, "harness: bad frame addresses '%s' -> '%s'\n", src, dst);
		abort();
	}
}

void th_tcp(struct sg_pkt_spec *s, uint8_t fam, const char *src, const char *dst,
	    uint16_t sport, uint16_t dport, uint8_t flags)
{
	sg_pkt_init(s, fam, 6);
	set_addrs(s, src, dst);
	s->sport = sport;
	s->dport = dport;
	s->tcp_flags = flags;
	s->seq = 1000;
	s->ack = (flags & SG_TCP_ACK) ? 2000 : 0;
}

void th_udp(struct sg_pkt_spec *s, uint8_t fam, const char *src, const char *dst,
	    uint16_t sport, uint16_t dport)
{
	sg_pkt_init(s, fam, 17);
	set_addrs(s, src, dst);
	s->sport = sport;
	s->dport = dport;
	s->payload_len = 16;
}

void th_icmp(struct sg_pkt_spec *s, uint8_t fam, const char *src, const char *dst,
	     uint8_t type, uint8_t code, uint16_t id)
{
	sg_pkt_init(s, fam, fam == SGBPF_AF_V4 ? 1 : 58);
	set_addrs(s, src, dst);
	s->icmp_type = type;
	s->icmp_code = code;
	s->icmp_id = id;
	s->icmp_seq = 1;
}

void th_ipproto(struct sg_pkt_spec *s, uint8_t fam, uint8_t proto, const char *src,
		const char *dst)
{
	sg_pkt_init(s, fam, proto);
	set_addrs(s, src, dst);
	s->payload_len = 32;
}

/* ---- state ------------------------------------------------------------- */

/* Sum a per-CPU value made of __u64 counters. */
static void percpu_sum(int fd, uint32_t key, void *out, size_t size)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t stride = (size + 7) & ~(size_t)7;
	uint8_t *vals = xcalloc((size_t)ncpu, stride);
	uint64_t *o = out;

	memset(out, 0, size);
	if (bpf_map_lookup_elem(fd, &key, vals) == 0) {
		for (int c = 0; c < ncpu; c++) {
			const uint64_t *v = (const uint64_t *)(vals + (size_t)c * stride);

			for (size_t i = 0; i < size / 8; i++)
				o[i] += v[i];
		}
	}
	free(vals);
}

void th_ep_stats(const struct th *t, uint32_t ep, struct sgbpf_ep_stats *out)
{
	percpu_sum(sgbpf_map_fd(t->h, SGBPF_MAP_EP_STATS), ep, out, sizeof(*out));
}

void th_global_stats(const struct th *t, struct sgbpf_global_stats *out)
{
	percpu_sum(sgbpf_map_fd(t->h, SGBPF_MAP_GLOBAL_STATS), 0, out, sizeof(*out));
}

uint32_t th_active_slot(const struct th *t)
{
	struct sgbpf_state st = { 0 };
	uint32_t zero = 0;

	bpf_map_lookup_elem(sgbpf_map_fd(t->h, SGBPF_MAP_STATE), &zero, &st);
	return st.active_slot;
}

void th_rule_stats(const struct th *t, uint32_t rule_id, struct sgbpf_rule_stats *out)
{
	percpu_sum(sgbpf_map_fd(t->h, SGBPF_MAP_RULE_STATS),
		   th_active_slot(t) * SGBPF_MAX_RULES + rule_id, out, sizeof(*out));
}

void th_tcp_handshake(struct th *t, uint32_t ep, uint8_t fam, const char *remote,
		      uint16_t rport, const char *local, uint16_t lport)
{
	struct sg_pkt_spec s;

	th_tcp(&s, fam, remote, local, rport, lport, SG_TCP_SYN);
	TH_ALLOW(t, ep, IN, &s, SGBPF_ALLOW_RULE);
	th_tcp(&s, fam, local, remote, lport, rport, SG_TCP_SYN | SG_TCP_ACK);
	TH_ALLOW(t, ep, OUT, &s, SGBPF_ALLOW_TRACKED);
	th_tcp(&s, fam, remote, local, rport, lport, SG_TCP_ACK);
	TH_ALLOW(t, ep, IN, &s, SGBPF_ALLOW_TRACKED);
}

void th_ct_key(struct sgbpf_ct_key *k, uint32_t ep, uint8_t fam, uint8_t proto,
	       const char *local, const char *remote, uint16_t lport, uint16_t rport)
{
	int af = fam == SGBPF_AF_V4 ? AF_INET : AF_INET6;

	memset(k, 0, sizeof(*k));
	k->ep_id = ep;
	k->family = fam;
	k->proto = proto;
	if (inet_pton(af, local, k->local_addr) != 1 || inet_pton(af, remote, k->remote_addr) != 1)
		abort();
	k->local_port = htons(lport);
	k->remote_port = htons(rport);
}

static struct sgbpf_ct_maps ct_maps(const struct sgbpf *h)
{
	struct sgbpf_ct_maps m;

	sgbpf_ct_maps_of(h, &m);
	return m;
}

static enum sgbpf_ct_table ct_table(enum sgbpf_map map)
{
	if (map == SGBPF_MAP_CT_EST)
		return SGBPF_CT_TABLE_EST;
	if (map == SGBPF_MAP_CT_NEW)
		return SGBPF_CT_TABLE_NEW;
	fprintf(stderr, "harness: %s is not a conntrack table (SGBPF_MAP_CT_EST/_CT_NEW)\n",
		sgbpf_map_name(map));
	abort();
}

static enum th_ct_where ct_find_in(struct sgbpf *h, const struct sgbpf_ct_key *k,
				   struct sgbpf_ct_val *val)
{
	struct sgbpf_ct_maps m = ct_maps(h);
	struct sgbpf_ct_val v;

	if (sgbpf_ct_lookup(&m, SGBPF_CT_TABLE_EST, k, &v) == 0) {
		if (val)
			*val = v;
		return TH_CT_EST;
	}
	if (sgbpf_ct_lookup(&m, SGBPF_CT_TABLE_NEW, k, &v) == 0) {
		if (val)
			*val = v;
		return TH_CT_NEW;
	}
	return TH_CT_NONE;
}

enum th_ct_where th_ct_find(const struct th *t, const struct sgbpf_ct_key *k,
			    struct sgbpf_ct_val *val)
{
	return ct_find_in(t->h, k, val);
}

bool th_ct_in(const struct th *t, enum sgbpf_map map, const struct sgbpf_ct_key *k)
{
	struct sgbpf_ct_maps m = ct_maps(t->h);
	struct sgbpf_ct_val v;

	return sgbpf_ct_lookup(&m, ct_table(map), k, &v) == 0;
}

size_t th_ct_count(const struct th *t, enum sgbpf_map map)
{
	struct sgbpf_ct_maps m = ct_maps(t->h);
	long n = sgbpf_ct_count(&m, ct_table(map));

	return n > 0 ? (size_t)n : 0;
}

static int ct_age_in(struct sgbpf *h, const struct sgbpf_ct_key *k, uint64_t ns)
{
	struct sgbpf_ct_maps m = ct_maps(h);
	struct sgbpf_ct_val v;
	enum th_ct_where w = ct_find_in(h, k, &v);

	if (w == TH_CT_NONE)
		return -ENOENT;
	v.last_seen_ns = v.last_seen_ns > ns ? v.last_seen_ns - ns : 0;
	v.created_ns = v.created_ns > ns ? v.created_ns - ns : 0;
	return sgbpf_ct_update(&m, w == TH_CT_EST ? SGBPF_CT_TABLE_EST : SGBPF_CT_TABLE_NEW, k, &v,
			       BPF_EXIST);
}

int th_ct_age(struct th *t, const struct sgbpf_ct_key *k, uint64_t ns)
{
	int err = ct_age_in(t->h, k, ns);

	if (!err && t->shadow)
		err = ct_age_in(t->shadow, k, ns);
	return err;
}

size_t th_map_count(const struct th *t, enum sgbpf_map map)
{
	struct bpf_map_info info = { 0 };
	uint32_t info_len = sizeof(info);
	int fd = sgbpf_map_fd(t->h, map);
	uint8_t *key, *next;
	size_t n = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return 0;
	key = xcalloc(1, info.key_size);
	next = xcalloc(1, info.key_size);
	if (bpf_map_get_next_key(fd, NULL, next) == 0) {
		do {
			n++;
			memcpy(key, next, info.key_size);
		} while (bpf_map_get_next_key(fd, key, next) == 0);
	}
	free(key);
	free(next);
	return n;
}
