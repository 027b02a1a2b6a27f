// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpfd --metrics ADDR: Prometheus /metrics and /healthz served from the
 * event loop (metrics.h has the server and the exposition).
 *
 * Counters are read at each scrape through the CLI's inspection code
 * (inspect.h: ep_stats and global_stats summed over CPUs) from the pinned
 * maps; the daemon's own counts (swaps, attach errors, GC) come from struct
 * sgd. Conntrack occupancy is not read at each scrape: walking a million
 * entries takes ~a second, so it is counted in batches of SGD_CT_BATCH
 * entries, one batch per loop turn, and the result is cached. A scrape
 * finding the cached count older than SGD_CT_MAX_AGE_NS starts a new count
 * and is answered when it ends (other events are served in between); all
 * scrapes arriving meanwhile share that count.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>

#include "ct.h"
#include "daemon_int.h"
#include "inspect.h"

#define SGD_CT_BATCH 4096
#define SGD_CT_MAX_AGE_NS 1000000000ull
#define SGD_HTTP_IDLE_MS 5000
/* Label of the fail-closed id SGD_EP_UNASSIGNED: interfaces no endpoint
 * names yet or any more. */
#define SGD_UNASSIGNED_LABEL "(unassigned)"

struct sgd_metrics {
	struct sgbpf_http *http;
	struct sgbpf_inspect ins;
	struct sgbpf_ct_count ct;
	bool ct_ok;                   /* the counter could be set up        */
	int last_ct_err;              /* logged once per change             */
};

/* /healthz: 200 with the policy in force and programs loaded, else 503. */
static void healthz(struct sgd *d, struct sgbpf_http_reply *r)
{
	enum sgbpf_prog rx = d->cfg->attach == SGBPF_ATTACH_TC ? SGBPF_PROG_TC_INGRESS :
			     SGBPF_PROG_XDP;
	struct sgbpf_state st;
	uint32_t zero = 0;
	size_t attached = 0;

	for (size_t i = 0; i < d->n_links; i++)
		attached += d->links[i].attached;
	r->status = 503;
	if (sgbpf_prog_fd(d->h, rx) < 0 || sgbpf_prog_fd(d->h, SGBPF_PROG_TC_EGRESS) < 0)
		sgbpf_metrics_printf(&r->body, "unhealthy: the datapath programs are not loaded\n");
	else if (bpf_map_lookup_elem(sgbpf_map_fd(d->h, SGBPF_MAP_STATE), &zero, &st))
		sgbpf_metrics_printf(&r->body, "unhealthy: reading the state map in %s failed: %s\n",
				     d->cfg->pin_dir, strerror(errno));
	else if (!st.generation)
		sgbpf_metrics_printf(&r->body, "unhealthy: no policy in force; %s was not applied "
				     "(see the policy_rejected log lines)\n", d->policy_dir);
	else {
		r->status = 200;
		sgbpf_metrics_printf(&r->body, "ok: policy generation %llu in force, %zu endpoints, "
				     "%zu interfaces attached\n",
				     (unsigned long long)st.generation, d->n_eps, attached);
	}
}

static int metrics(struct sgd *d, struct sgbpf_http_reply *r)
{
	struct sgd_metrics *m = d->metrics;
	struct sgbpf_metrics_snapshot s = {
		.version = SGBPF_VERSION,
		.layout = SGBPF_LAYOUT_VERSION,
		.generation = d->generation,
		.swaps = d->swaps,
		.swaps_rejected = d->swaps_rejected,
		.swap_errors = d->swap_errors,
		.last_swap_s = d->last_swap_ns / 1e9,
		.attach_errors = d->attach_errors,
		.gc_deleted_est = d->gc_total.deleted_est,
		.gc_deleted_new = d->gc_total.deleted_new,
		.gc_deleted_frags = d->gc_total.deleted_frags,
	};
	struct sgbpf_metrics_endpoint *eps;
	uint64_t now = sgd_now_ns();
	int err;

	if (m->ct_ok && (m->ct.running || !m->ct.done_ns ||
			 now - m->ct.done_ns > SGD_CT_MAX_AGE_NS)) {
		sgbpf_ct_count_start(&m->ct);
		return -EAGAIN;
	}
	eps = calloc(d->n_eps + 1, sizeof(*eps));
	if (!eps)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_eps; i++) {
		eps[i].name = d->eps[i].name;
		err = sgbpf_inspect_ep_stats(&m->ins, d->eps[i].id, &eps[i].st);
		if (err)
			goto out;
	}
	eps[d->n_eps].name = SGD_UNASSIGNED_LABEL;
	err = sgbpf_inspect_ep_stats(&m->ins, SGD_EP_UNASSIGNED, &eps[d->n_eps].st);
	if (!err)
		err = sgbpf_inspect_global_stats(&m->ins, &s.g);
	if (err)
		goto out;
	s.eps = eps;
	s.n_eps = d->n_eps + 1;
	for (size_t i = 0; i < d->n_links; i++)
		s.attached += d->links[i].attached;
	s.ct_known = m->ct_ok && !m->ct.err && m->ct.done_ns;
	if (s.ct_known) {
		memcpy(s.ct_entries, m->ct.entries, sizeof(s.ct_entries));
		s.ct_count_age_s = (now - m->ct.done_ns) / 1e9;
	}
	/* Each conntrack map's capacity, and a table's for a family: the sum
	 * over its maps (est: ct4_est and ct4t_est; ct_est, ct6t_est and
	 * ct6u_est). */
	for (int w = 0, t, f; w < SGBPF_METRICS_CT_WALKS; w++) {
		enum sgbpf_map mp = sgbpf_ct_count_map(w, &t, &f);
		struct sgbpf_metrics_ct_map *cm = &s.ct_maps[s.n_ct_maps];

		if (mp == SGBPF_MAP_MAX)
			continue;
		cm->name = sgbpf_map_name(mp);
		cm->capacity = sgbpf_inspect_max_entries(&m->ins, mp);
		cm->entries = m->ct.map_entries[w];
		s.ct_capacity[t][f] += cm->capacity;
		s.n_ct_maps++;
	}
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	err = sgbpf_metrics_render(&s, &r->body);
out:
	if (err)
		sgd_logm(SGD_WARN, "metrics_failed", "reading the counters in %s failed: %s",
			 d->cfg->pin_dir, strerror(-err));
	free(eps);
	return err;
}

static int handle(void *ctx, const char *path, struct sgbpf_http_reply *r)
{
	struct sgd *d = ctx;

	if (!strcmp(path, "/metrics"))
		return metrics(d, r);
	if (!strcmp(path, "/healthz")) {
		healthz(d, r);
		return 0;
	}
	r->status = 404;
	sgbpf_metrics_printf(&r->body, "not found: sgbpfd serves /metrics and /healthz\n");
	return 0;
}

int sgd_metrics_open(struct sgd *d)
{
	struct sockaddr_storage ss;
	struct sgd_metrics *m;
	char host[64] = "?";
	socklen_t len;
	int err;

	if (!d->cfg->metrics_addr[0])
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	d->metrics = m;
	sgd_capture_begin();
	err = sgbpf_inspect_open(&m->ins, d->cfg->pin_dir, 0, "sgbpfd --metrics");
	if (!err)
		err = sgbpf_http_open(d->cfg->metrics_addr, SGD_HTTP_IDLE_MS, handle, d, &m->http);
	sgd_capture_end(SGD_ERROR, "metrics_failed");
	if (err) {
		sgd_metrics_close(d);
		return err;
	}
	{
		int fds[SGBPF_METRICS_CT_MAX][SGBPF_AF_MAX];

		for (int f = 0; f < SGBPF_AF_MAX; f++) {
			fds[SGBPF_METRICS_CT_NEW][f] =
				m->ins.fd[sgbpf_ct_map(SGBPF_CT_TABLE_NEW, f)];
			fds[SGBPF_METRICS_CT_EST][f] =
				m->ins.fd[sgbpf_ct_map(SGBPF_CT_TABLE_EST, f)];
		}
		err = sgbpf_ct_count_init(&m->ct, fds, m->ins.ct.fd_short, SGD_CT_BATCH);
	}
	m->ct_ok = !err;
	if (err)
		sgd_logm(SGD_WARN, "metrics_failed", "cannot count conntrack entries (%s): "
			 "sgbpf_conntrack_entries is left out", strerror(-err));
	else
		sgbpf_ct_count_start(&m->ct);
	if (!sgbpf_http_local(m->http, &ss, &len))
		getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	sgd_logm(SGD_INFO, "metrics_listening", "%s (bound to %s port %u): GET /metrics, /healthz",
		 d->cfg->metrics_addr, host, ntohs(ss.ss_family == AF_INET6 ?
		 ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port));
	return 0;
}

void sgd_metrics_close(struct sgd *d)
{
	struct sgd_metrics *m = d->metrics;

	if (!m)
		return;
	sgbpf_http_close(m->http);
	sgbpf_ct_count_free(&m->ct);
	sgbpf_inspect_close(&m->ins);
	free(m);
	d->metrics = NULL;
}

int sgd_metrics_pollfds(struct sgd *d, struct pollfd *p)
{
	if (!d->metrics)
		return 0;
	sgbpf_http_pollfds(d->metrics->http, p);
	return SGD_METRICS_POLLFDS;
}

uint64_t sgd_metrics_due(const struct sgd *d)
{
	const struct sgd_metrics *m = d->metrics;

	if (!m)
		return UINT64_MAX;
	/* A count in progress takes its next batch right away. */
	return m->ct.running ? 0 : sgbpf_http_deadline(m->http);
}

void sgd_metrics_serve(struct sgd *d, const struct pollfd *p)
{
	struct sgd_metrics *m = d->metrics;

	if (!m)
		return;
	sgbpf_http_serve(m->http, p);
	if (!m->ct.running || !sgbpf_ct_count_step(&m->ct))
		return;
	if (m->ct.err && m->ct.err != m->last_ct_err)
		sgd_logm(SGD_WARN, "metrics_failed", "counting conntrack entries failed: %s; "
			 "sgbpf_conntrack_entries is left out until it works",
			 strerror(-m->ct.err));
	m->last_ct_err = m->ct.err;
	sgd_logm(SGD_DEBUG, "ct_counted", "new_ipv4=%llu new_ipv6=%llu est_ipv4=%llu "
		 "est_ipv6=%llu took_ms=%.3f",
		 (unsigned long long)m->ct.entries[SGBPF_METRICS_CT_NEW][SGBPF_AF_V4],
		 (unsigned long long)m->ct.entries[SGBPF_METRICS_CT_NEW][SGBPF_AF_V6],
		 (unsigned long long)m->ct.entries[SGBPF_METRICS_CT_EST][SGBPF_AF_V4],
		 (unsigned long long)m->ct.entries[SGBPF_METRICS_CT_EST][SGBPF_AF_V6],
		 m->ct.pass_ns / 1e6);
	sgbpf_http_retry(m->http);
}
