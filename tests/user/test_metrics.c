// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpfd --metrics (user/lib/metrics.c): the Prometheus text rendering
 * (every family with HELP and TYPE, counters named _total, samples under
 * their family, label escaping, values), the HTTP request parser and
 * address syntax, and the server itself over loopback, driven by poll() as
 * the daemon drives it: answers, 404, HEAD, deferred answers, refusals of
 * malformed and oversized requests, idle clients closed, the client limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "metrics.h"
#include "names.h"
#include "../lib/testlib.h"

/* ---- rendering ---------------------------------------------------------- */

static const struct { const char *name, *type; } families[] = {
	{ "sgbpf_build_info", "gauge" },
	{ "sgbpf_policy_generation", "gauge" },
	{ "sgbpf_policy_swaps_total", "counter" },
	{ "sgbpf_policy_swap_failures_total", "counter" },
	{ "sgbpf_last_swap_duration_seconds", "gauge" },
	{ "sgbpf_attached_interfaces", "gauge" },
	{ "sgbpf_attach_errors_total", "counter" },
	{ "sgbpf_drops_total", "counter" },
	{ "sgbpf_allows_total", "counter" },
	{ "sgbpf_endpoint_packets_total", "counter" },
	{ "sgbpf_endpoint_bytes_total", "counter" },
	{ "sgbpf_node_drops_total", "counter" },
	{ "sgbpf_node_allows_total", "counter" },
	{ "sgbpf_unknown_iface_packets_total", "counter" },
	{ "sgbpf_conntrack_entries", "gauge" },
	{ "sgbpf_conntrack_count_age_seconds", "gauge" },
	{ "sgbpf_conntrack_capacity", "gauge" },
	{ "sgbpf_conntrack_map_entries", "gauge" },
	{ "sgbpf_conntrack_map_capacity", "gauge" },
	{ "sgbpf_conntrack_est_full_total", "counter" },
	{ "sgbpf_conntrack_created_total", "counter" },
	{ "sgbpf_conntrack_gc_deleted_total", "counter" },
};
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

#define WEIRD "we\"ird\\na\nme"        /* ", \ and a newline */
#define WEIRD_ESCAPED "we\\\"ird\\\\na\\nme"

static void snapshot(struct sgbpf_metrics_snapshot *s, struct sgbpf_metrics_endpoint *eps,
		     bool ct_known)
{
	memset(eps, 0, 2 * sizeof(*eps));
	eps[0].name = "ns/web-0";
	eps[1].name = WEIRD;
	for (int e = 0; e < 2; e++) {
		for (int r = 0; r < SGBPF_DROP_REASON_MAX; r++)
			eps[e].st.drops_by_reason[r] = 1000 * (e + 1) + r;
		for (int r = 0; r < SGBPF_ALLOW_REASON_MAX; r++)
			eps[e].st.allows_by_reason[r] = 2000 * (e + 1) + r;
		for (int d = 0; d < SGBPF_DIR_MAX; d++) {
			eps[e].st.allow_packets[d] = 10 * (e + 1) + d;
			eps[e].st.drop_packets[d] = 20 * (e + 1) + d;
			eps[e].st.allow_bytes[d] = 30 * (e + 1) + d;
			eps[e].st.drop_bytes[d] = 40 * (e + 1) + d;
		}
	}
	memset(s, 0, sizeof(*s));
	s->version = "1.2.3";
	s->layout = 7;
	s->generation = 42;
	s->swaps = 5;
	s->swaps_rejected = 2;
	s->swap_errors = 1;
	s->last_swap_s = 0.0125;
	s->attach_errors = 3;
	s->attached = 9;
	s->eps = eps;
	s->n_eps = 2;
	for (int r = 0; r < SGBPF_DROP_REASON_MAX; r++)
		s->g.drops_by_reason[r] = 3000 + r;
	s->g.unknown_iface = 77;
	s->g.ct_est_full = 88;
	s->g.ct_new_created = 101;
	s->g.ct_est_created = 102;
	s->ct_known = ct_known;
	/* An IPv4-only node: ct4_new full, the IPv6 maps empty. */
	s->ct_entries[SGBPF_METRICS_CT_NEW][SGBPF_AF_V4] = 131072;
	s->ct_entries[SGBPF_METRICS_CT_NEW][SGBPF_AF_V6] = 0;
	s->ct_entries[SGBPF_METRICS_CT_EST][SGBPF_AF_V4] = 34;
	s->ct_entries[SGBPF_METRICS_CT_EST][SGBPF_AF_V6] = 5;
	s->ct_count_age_s = 0.5;
	s->ct_capacity[SGBPF_METRICS_CT_NEW][SGBPF_AF_V4] = 131072;
	s->ct_capacity[SGBPF_METRICS_CT_NEW][SGBPF_AF_V6] = 131073;
	s->ct_capacity[SGBPF_METRICS_CT_EST][SGBPF_AF_V4] = 1048576;
	s->ct_capacity[SGBPF_METRICS_CT_EST][SGBPF_AF_V6] = 1048577;
	/* Per map: ct4t_est full, which its family's sum (34 of 2097152
	 * here, were it real) would hide. */
	s->ct_maps[0] = (struct sgbpf_metrics_ct_map){ "ct4_est", 34, 1048576 };
	s->ct_maps[1] = (struct sgbpf_metrics_ct_map){ "ct4t_est", 1048576, 1048576 };
	s->n_ct_maps = 2;
	s->gc_deleted_est = 55;
	s->gc_deleted_new = 66;
	s->gc_deleted_frags = 4;
}

static char *render(bool ct_known)
{
	struct sgbpf_metrics_endpoint eps[2];
	struct sgbpf_metrics_snapshot s;
	struct sgbpf_metrics_buf b = { 0 };

	snapshot(&s, eps, ct_known);
	CU_ASSERT_EQUAL_FATAL(sgbpf_metrics_render(&s, &b), 0);
	CU_ASSERT_FATAL(b.p != NULL);
	return b.p;
}

/* The line is in text, whole. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static int count_prefix(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += !strncmp(p, prefix, strlen(prefix));
	return n;
}

/* Walk the exposition: HELP then TYPE per family, samples only under the
 * family whose TYPE came last, each family once, counters end in _total. */
static void test_render_structure(void)
{
	char *text = render(true), *save = NULL, *line, *copy = strdup(text);
	char cur[128] = "";
	int seen[N_FAMILIES] = { 0 }, samples = 0;
	bool help_pending = false;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], type[32];

		if (!strncmp(line, "# HELP ", 7)) {
			CU_ASSERT_FALSE(help_pending);
			CU_ASSERT_EQUAL(sscanf(line + 7, "%127s", name), 1);
			snprintf(cur, sizeof(cur), "%s", name);
			help_pending = true;
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			size_t f;

			CU_ASSERT_TRUE(help_pending);
			help_pending = false;
			CU_ASSERT_EQUAL(sscanf(line + 7, "%127s %31s", name, type), 2);
			CU_ASSERT_STRING_EQUAL(name, cur);
			for (f = 0; f < N_FAMILIES; f++)
				if (!strcmp(families[f].name, name))
					break;
			CU_ASSERT_TRUE(f < N_FAMILIES);
			if (f == N_FAMILIES) {
				fprintf(stderr, "unexpected family %s\n", name);
				continue;
			}
			seen[f]++;
			CU_ASSERT_STRING_EQUAL(type, families[f].type);
			/* Counters, and only counters, are named _total. */
			CU_ASSERT_EQUAL(!strcmp(type, "counter"),
					strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total"));
			continue;
		}
		CU_ASSERT_NOT_EQUAL(line[0], '#');
		/* A sample: its metric name is the current family's. */
		CU_ASSERT_FALSE(help_pending);
		CU_ASSERT_TRUE(!strncmp(line, cur, strlen(cur)) &&
			       (line[strlen(cur)] == '{' || line[strlen(cur)] == ' '));
		CU_ASSERT_PTR_NOT_NULL(strrchr(line, ' '));
		samples++;
	}
	for (size_t f = 0; f < N_FAMILIES; f++) {
		if (seen[f] != 1)
			fprintf(stderr, "family %s seen %d times\n", families[f].name, seen[f]);
		CU_ASSERT_EQUAL(seen[f], 1);
	}
	/* Every endpoint x reason, direction x verdict is there. */
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_drops_total{"), 2 * SGBPF_DROP_REASON_MAX);
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_allows_total{"), 2 * SGBPF_ALLOW_REASON_MAX);
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_endpoint_packets_total{"), 2 * 2 * 2);
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_endpoint_bytes_total{"), 2 * 2 * 2);
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_node_drops_total{"), SGBPF_DROP_REASON_MAX);
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_node_allows_total{"), SGBPF_ALLOW_REASON_MAX);
	CU_ASSERT_TRUE(samples > 100);
	free(copy);
	free(text);
}

static void test_render_values(void)
{
	char *text = render(true), want[256];

	CU_ASSERT_TRUE(has_line(text, "sgbpf_build_info{version=\"1.2.3\",layout=\"7\"} 1"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_policy_generation 42"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_policy_swaps_total 5"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_policy_swap_failures_total{reason=\"rejected\"} 2"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_policy_swap_failures_total{reason=\"error\"} 1"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_last_swap_duration_seconds 0.0125"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_attached_interfaces 9"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_attach_errors_total 3"));
	snprintf(want, sizeof(want), "sgbpf_drops_total{endpoint=\"ns/web-0\",reason=\"%s\"} %d",
		 sgbpf_drop_reason_name(SGBPF_DROP_NO_RULE), 1000 + SGBPF_DROP_NO_RULE);
	CU_ASSERT_TRUE(has_line(text, want));
	snprintf(want, sizeof(want), "sgbpf_allows_total{endpoint=\"ns/web-0\",reason=\"%s\"} %d",
		 sgbpf_allow_reason_name(SGBPF_ALLOW_TRACKED), 2000 + SGBPF_ALLOW_TRACKED);
	CU_ASSERT_TRUE(has_line(text, want));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_endpoint_packets_total{endpoint=\"ns/web-0\","
				"direction=\"in\",verdict=\"allow\"} 10"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_endpoint_packets_total{endpoint=\"ns/web-0\","
				"direction=\"out\",verdict=\"drop\"} 21"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_endpoint_bytes_total{endpoint=\"ns/web-0\","
				"direction=\"out\",verdict=\"allow\"} 31"));
	snprintf(want, sizeof(want), "sgbpf_node_drops_total{reason=\"%s\"} %d",
		 sgbpf_drop_reason_name(SGBPF_DROP_CT_FULL), 3000 + SGBPF_DROP_CT_FULL);
	CU_ASSERT_TRUE(has_line(text, want));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_unknown_iface_packets_total 77"));
	/* Per table and family: the full ct4_new shows as full, not as half
	 * of both families' capacity. */
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_entries{table=\"new\",family=\"ipv4\"} 131072"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_entries{table=\"new\",family=\"ipv6\"} 0"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_entries{table=\"est\",family=\"ipv4\"} 34"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_entries{table=\"est\",family=\"ipv6\"} 5"));
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_conntrack_entries{"), 4);
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_count_age_seconds 0.5"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_capacity{table=\"new\",family=\"ipv4\"} 131072"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_capacity{table=\"new\",family=\"ipv6\"} 131073"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_capacity{table=\"est\",family=\"ipv4\"} 1048576"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_capacity{table=\"est\",family=\"ipv6\"} 1048577"));
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_conntrack_capacity{"), 4);
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_map_entries{map=\"ct4t_est\"} 1048576"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_map_capacity{map=\"ct4t_est\"} 1048576"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_map_entries{map=\"ct4_est\"} 34"));
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_conntrack_map_entries{"), 2);
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_conntrack_map_capacity{"), 2);
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_est_full_total 88"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_created_total{table=\"est\"} 102"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_gc_deleted_total{table=\"est\"} 55"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_gc_deleted_total{table=\"new\"} 66"));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_gc_deleted_total{table=\"frags\"} 4"));
	free(text);
}

/* Label values escape \ " and newline, so a name can't break out of its
 * label or start a line of its own. */
static void test_render_escaping(void)
{
	char *text = render(true), want[256];

	snprintf(want, sizeof(want), "sgbpf_drops_total{endpoint=\"" WEIRD_ESCAPED
		 "\",reason=\"%s\"} %d", sgbpf_drop_reason_name(SGBPF_DROP_SPOOF_SRC),
		 2000 + SGBPF_DROP_SPOOF_SRC);
	CU_ASSERT_TRUE(has_line(text, want));
	CU_ASSERT_TRUE(has_line(text, "sgbpf_endpoint_packets_total{endpoint=\"" WEIRD_ESCAPED
				"\",direction=\"in\",verdict=\"drop\"} 40"));
	/* The raw name appears nowhere: no line starts with "me\"". */
	CU_ASSERT_PTR_NULL(strstr(text, WEIRD));
	CU_ASSERT_EQUAL(count_prefix(text, "me\""), 0);
	free(text);
}

/* No completed count: the family is declared, no sample is made up. */
static void test_render_ct_unknown(void)
{
	char *text = render(false);

	CU_ASSERT_TRUE(has_line(text, "# TYPE sgbpf_conntrack_entries gauge"));
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_conntrack_entries{"), 0);
	CU_ASSERT_EQUAL(count_prefix(text, "sgbpf_conntrack_count_age_seconds "), 0);
	CU_ASSERT_TRUE(has_line(text, "sgbpf_conntrack_capacity{table=\"est\",family=\"ipv6\"} 1048577"));
	free(text);
}

static void test_buf_growth(void)
{
	struct sgbpf_metrics_buf b = { 0 };
	char big[10000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	for (int i = 0; i < 50; i++)
		sgbpf_metrics_printf(&b, "%d:%s\n", i, big);
	CU_ASSERT_FALSE(b.failed);
	CU_ASSERT_EQUAL(b.len, strlen(b.p));
	CU_ASSERT_EQUAL(b.len, 10 * 2 + 40 * 3 + 50 * (sizeof(big) - 1 + 1));
	CU_ASSERT_EQUAL(strncmp(b.p + b.len - 10003, "49:", 3), 0);
	sgbpf_metrics_buf_free(&b);
}

/* ---- request parsing and addresses -------------------------------------- */

static void test_parse_request(void)
{
	static const struct { const char *req; int want; bool head; const char *path; } cases[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, "/metrics" },
		{ "HEAD /healthz HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", 200, true, "/healthz" },
		{ "GET /metrics?name[]=x HTTP/1.1\r\nhost: x\r\n\r\n", 200, false, "/metrics" },
		{ "GET http://node:9464/metrics HTTP/1.1\r\nHost: node\r\n\r\n", 200, false,
		  "/metrics" },
		{ "GET /metrics HTTP/1.0\n\n", 200, false, "/metrics" },   /* bare LFs, no Host */
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", 0, false, NULL },     /* incomplete */
		{ "GET /metr", 0, false, NULL },
		{ "GET /metrics HTTP/1.1\r\n\r\n", 400, false, NULL },           /* no Host */
		{ "GARBAGE\r\n\r\n", 400, false, NULL },
		{ "GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400, false, NULL },
		{ "GET metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400, false, NULL },
		{ "GET /met rics HTTP/1.1\r\nHost: x\r\n\r\n", 400, false, NULL },
		{ "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", 400, false, NULL },
		{ "GET /metrics HTTP/1.1\r\n folded: x\r\n\r\n", 400, false, NULL },
		{ "G(T /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400, false, NULL },
		{ "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405, false, NULL },
		{ "GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", 505, false, NULL },
		{ "GET /metrics FTP/1.1\r\nHost: x\r\n\r\n", 400, false, NULL },
	};
	char path[SGBPF_HTTP_MAX_PATH], longreq[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool head = !cases[i].head;
		int st;

		path[0] = 0;
		st = sgbpf_http_parse_request(cases[i].req, strlen(cases[i].req), &head, path,
					      sizeof(path));
		if (st != cases[i].want)
			fprintf(stderr, "request %zu: got %d, wanted %d\n", i, st, cases[i].want);
		CU_ASSERT_EQUAL(st, cases[i].want);
		if (st == 200 && cases[i].want == 200) {
			CU_ASSERT_EQUAL(head, cases[i].head);
			CU_ASSERT_STRING_EQUAL(path, cases[i].path);
		}
	}
	/* A path longer than the buffer: 414, never truncated. */
	snprintf(longreq, sizeof(longreq), "GET /%0*d HTTP/1.1\r\nHost: x\r\n\r\n",
		 SGBPF_HTTP_MAX_PATH, 0);
	CU_ASSERT_EQUAL(sgbpf_http_parse_request(longreq, strlen(longreq), &(bool){ 0 }, path,
						 sizeof(path)), 414);
	/* A NUL inside the head. */
	CU_ASSERT_EQUAL(sgbpf_http_parse_request("GET /m\0 HTTP/1.1\r\nHost: x\r\n\r\n", 30,
						 &(bool){ 0 }, path, sizeof(path)), 400);
}

static void test_addr_split(void)
{
	static const struct { const char *addr; int ok; const char *host; unsigned port; } cases[] = {
		{ ":9464", 1, "", 9464 },
		{ "127.0.0.1:80", 1, "127.0.0.1", 80 },
		{ "[::1]:9464", 1, "::1", 9464 },
		{ "[fd00::1]:0", 1, "fd00::1", 0 },
		{ "localhost:9464", 1, "localhost", 9464 },
		{ "1.2.3.4", 0, NULL, 0 },
		{ "::1:9464", 0, NULL, 0 },
		{ "[::1]", 0, NULL, 0 },
		{ "[::1:9464", 0, NULL, 0 },
		{ ":65536", 0, NULL, 0 },
		{ ":-1", 0, NULL, 0 },
		{ "host:", 0, NULL, 0 },
		{ "host:80x", 0, NULL, 0 },
	};
	char host[64];
	uint16_t port;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = sgbpf_http_addr_split(cases[i].addr, host, sizeof(host), &port, "test");

		if ((rc == 0) != cases[i].ok)
			fprintf(stderr, "address '%s': got %d\n", cases[i].addr, rc);
		CU_ASSERT_EQUAL(rc == 0, cases[i].ok);
		if (!rc && cases[i].ok) {
			CU_ASSERT_STRING_EQUAL(host, cases[i].host);
			CU_ASSERT_EQUAL(port, cases[i].port);
		}
	}
}

/* ---- the server over loopback --------------------------------------------- */

struct srv_ctx {
	int calls;
	bool ready;                 /* "/slow" answers once set */
};

static int handler(void *ctx, const char *path, struct sgbpf_http_reply *r)
{
	struct srv_ctx *c = ctx;

	c->calls++;
	if (!strcmp(path, "/metrics")) {
		r->content_type = "text/plain; version=0.0.4; charset=utf-8";
		sgbpf_metrics_printf(&r->body, "x_total 1\n");
	} else if (!strcmp(path, "/slow") || !strcmp(path, "/never")) {
		if (!c->ready || !strcmp(path, "/never"))
			return -EAGAIN;
		sgbpf_metrics_printf(&r->body, "late\n");
	} else {
		r->status = 404;
		sgbpf_metrics_printf(&r->body, "nope\n");
	}
	return 0;
}

static struct sgbpf_http *srv;
static struct srv_ctx sctx;
static uint16_t srv_port;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static void pump(int ms)
{
	struct pollfd p[SGBPF_HTTP_POLLFDS];

	sgbpf_http_pollfds(srv, p);
	poll(p, SGBPF_HTTP_POLLFDS, ms);
	sgbpf_http_serve(srv, p);
}

static int dial(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(srv_port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Pump the server until fd reads EOF (or ms pass); the bytes read, or NULL
 * when the connection stayed open. */
static char *drain(int fd, int ms, bool *eof)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	uint64_t end = now_ms() + ms;

	*eof = false;
	while (now_ms() < end) {
		ssize_t r;

		pump(5);
		while ((r = read(fd, buf + len, cap - 1 - len)) > 0)
			len += r;
		if (r == 0 || (r < 0 && errno != EAGAIN)) {
			*eof = true;
			break;
		}
	}
	buf[len] = 0;
	return buf;
}

/* Pump until no client is left (each closes after its answer). */
static int settle(void)
{
	for (int i = 0; i < 50 && sgbpf_http_clients(srv); i++)
		pump(10);
	return sgbpf_http_clients(srv);
}

static char *exchange(const char *req, size_t len)
{
	int fd = dial();
	bool eof;
	char *out;

	CU_ASSERT_EQUAL(write(fd, req, len), (ssize_t)len);
	out = drain(fd, 2000, &eof);
	CU_ASSERT_TRUE(eof);
	close(fd);
	return out;
}

static int server_up(void)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&sctx, 0, sizeof(sctx));
	if (sgbpf_http_open("127.0.0.1:0", 200, handler, &sctx, &srv) ||
	    sgbpf_http_local(srv, &ss, &len))
		return 1;
	srv_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static int server_down(void)
{
	sgbpf_http_close(srv);
	srv = NULL;
	return 0;
}

static const char GET_METRICS[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";

static void test_server_answers(void)
{
	char *r = exchange(GET_METRICS, strlen(GET_METRICS));

	CU_ASSERT_PTR_NOT_NULL(strstr(r, "HTTP/1.1 200 OK\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "Content-Length: 10\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "\r\n\r\nx_total 1\n"));
	free(r);
	r = exchange("GET /other HTTP/1.1\r\nHost: t\r\n\r\n", 33);
	CU_ASSERT_EQUAL(strncmp(r, "HTTP/1.1 404 Not Found\r\n", 24), 0);
	free(r);
	/* HEAD: the headers of GET, no body. */
	r = exchange("HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n", 35);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "Content-Length: 10\r\n"));
	CU_ASSERT_PTR_NULL(strstr(r, "x_total"));
	free(r);
	CU_ASSERT_EQUAL(settle(), 0);
}

static void test_server_refusals(void)
{
	char big[SGBPF_HTTP_MAX_REQUEST + 1000], *r;
	int calls = sctx.calls;

	r = exchange("GARBAGE\r\n\r\n", 11);
	CU_ASSERT_EQUAL(strncmp(r, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
	free(r);
	r = exchange("DELETE /metrics HTTP/1.1\r\nHost: t\r\n\r\n", 38);
	CU_ASSERT_EQUAL(strncmp(r, "HTTP/1.1 405 ", 13), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "Allow: GET, HEAD\r\n"));
	free(r);
	/* A head that never ends within the limit. */
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	memset(big + 26, 'a', sizeof(big) - 26);
	r = exchange(big, sizeof(big));
	CU_ASSERT_EQUAL(strncmp(r, "HTTP/1.1 431 ", 13), 0);
	free(r);
	CU_ASSERT_EQUAL(sctx.calls, calls);     /* the handler never saw them */
	/* And it still serves. */
	r = exchange(GET_METRICS, strlen(GET_METRICS));
	CU_ASSERT_EQUAL(strncmp(r, "HTTP/1.1 200 OK\r\n", 17), 0);
	free(r);
}

/* A deferred answer comes after retry; one never ready gets 503 in time. */
static void test_server_deferred(void)
{
	const char slow[] = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n";
	const char never[] = "GET /never HTTP/1.1\r\nHost: t\r\n\r\n";
	int fd = dial(), fd2 = dial();
	bool eof;
	char *r;

	sctx.ready = false;
	CU_ASSERT_EQUAL(write(fd, slow, strlen(slow)), (ssize_t)strlen(slow));
	CU_ASSERT_EQUAL(write(fd2, never, strlen(never)), (ssize_t)strlen(never));
	r = drain(fd, 100, &eof);
	CU_ASSERT_FALSE(eof);
	CU_ASSERT_EQUAL(r[0], 0);
	free(r);
	CU_ASSERT_EQUAL(sgbpf_http_clients(srv), 2);
	sctx.ready = true;
	sgbpf_http_retry(srv);
	r = drain(fd, 1000, &eof);
	CU_ASSERT_TRUE(eof);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "\r\n\r\nlate\n"));
	free(r);
	/* Clients live at most 6 x idle (1.2 s here). */
	r = drain(fd2, 3000, &eof);
	CU_ASSERT_TRUE(eof);
	CU_ASSERT_EQUAL(strncmp(r, "HTTP/1.1 503 ", 13), 0);
	free(r);
	close(fd);
	close(fd2);
}

/* Idle clients are closed; with every slot taken, the next connection waits
 * in the backlog and is served once a slot frees up. */
static void test_server_idle_and_limit(void)
{
	int idle[SGBPF_HTTP_MAX_CLIENTS], fd;
	uint64_t t0;
	bool eof;
	char *r;

	for (int i = 0; i < SGBPF_HTTP_MAX_CLIENTS; i++)
		idle[i] = dial();
	for (int i = 0; i < 10 && sgbpf_http_clients(srv) < SGBPF_HTTP_MAX_CLIENTS; i++)
		pump(10);
	CU_ASSERT_EQUAL(sgbpf_http_clients(srv), SGBPF_HTTP_MAX_CLIENTS);
	t0 = now_ms();
	fd = dial();
	CU_ASSERT_EQUAL(write(fd, GET_METRICS, strlen(GET_METRICS)), (ssize_t)strlen(GET_METRICS));
	r = drain(fd, 50, &eof);
	CU_ASSERT_FALSE(eof);                  /* all slots busy */
	free(r);
	r = drain(fd, 2000, &eof);
	CU_ASSERT_TRUE(eof);
	CU_ASSERT_EQUAL(strncmp(r, "HTTP/1.1 200 OK\r\n", 17), 0);
	CU_ASSERT_TRUE(now_ms() - t0 >= 150);  /* only after the idle ones went */
	free(r);
	for (int i = 0; i < SGBPF_HTTP_MAX_CLIENTS; i++) {
		char c;

		CU_ASSERT_EQUAL(read(idle[i], &c, 1), 0);   /* closed by the server */
		close(idle[i]);
	}
	close(fd);
	CU_ASSERT_EQUAL(settle(), 0);
}

static void test_server_bad_addr(void)
{
	struct sgbpf_http *s = NULL;

	CU_ASSERT_EQUAL(sgbpf_http_open("127.0.0.1", 100, handler, NULL, &s), -EINVAL);
	CU_ASSERT_PTR_NULL(s);
	/* The port is taken. */
	{
		char addr[32];

		snprintf(addr, sizeof(addr), "127.0.0.1:%u", srv_port);
		CU_ASSERT_EQUAL(sgbpf_http_open(addr, 100, handler, NULL, &s), -EADDRINUSE);
		CU_ASSERT_PTR_NULL(s);
	}
}

static CU_TestInfo render_tests[] = {
	{ "structure", test_render_structure },
	{ "values", test_render_values },
	{ "escaping", test_render_escaping },
	{ "conntrack count unknown", test_render_ct_unknown },
	{ "buffer growth", test_buf_growth },
	{ "request parsing", test_parse_request },
	{ "address syntax", test_addr_split },
	CU_TEST_INFO_NULL,
};
SGT_SUITE("metrics", NULL, NULL, render_tests);

static CU_TestInfo server_tests[] = {
	{ "answers", test_server_answers },
	{ "refusals", test_server_refusals },
	{ "deferred", test_server_deferred },
	{ "idle clients and limit", test_server_idle_and_limit },
	{ "bad address", test_server_bad_addr },
	CU_TEST_INFO_NULL,
};
SGT_SUITE("metrics-http", server_up, server_down, server_tests);
