// SPDX-License-Identifier: BSD-2-Clause
/*
 * Prometheus exposition, batched conntrack counting and the HTTP/1.1 server
 * of sgbpfd --metrics (see metrics.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "metrics.h"
#include "names.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- buffer ------------------------------------------------------------- */

static bool buf_reserve(struct sgbpf_metrics_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void buf_put(struct sgbpf_metrics_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void sgbpf_metrics_printf(struct sgbpf_metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!buf_reserve(b, 128))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		if (!buf_reserve(b, n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += n;
}

void sgbpf_metrics_buf_free(struct sgbpf_metrics_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- exposition ---------------------------------------------------------- */

/* Label values escape \, " and newline; HELP text \ and newline. */
static void escaped(struct sgbpf_metrics_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_put(b, "\\\\", 2);
		else if (*s == '\n')
			buf_put(b, "\\n", 2);
		else if (*s == '"' && quote)
			buf_put(b, "\\\"", 2);
		else
			buf_put(b, s, 1);
	}
}

static void family(struct sgbpf_metrics_buf *b, const char *name, const char *type,
		   const char *help)
{
	sgbpf_metrics_printf(b, "# HELP %s ", name);
	escaped(b, help, false);
	sgbpf_metrics_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* name{k1="v1",...} v: n label pairs (key, value) follow n. */
static void sample_u64(struct sgbpf_metrics_buf *b, const char *name, uint64_t v, int n, ...)
{
	va_list ap;

	buf_put(b, name, strlen(name));
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *key = va_arg(ap, const char *), *val = va_arg(ap, const char *);

		sgbpf_metrics_printf(b, "%s%s=\"", i ? "," : "{", key);
		escaped(b, val, true);
		buf_put(b, "\"", 1);
	}
	va_end(ap);
	sgbpf_metrics_printf(b, "%s %" PRIu64 "\n", n ? "}" : "", v);
}

static const char *const ct_table[SGBPF_METRICS_CT_MAX] = { "new", "est" };

/* Per endpoint and reason: the u64 array at offset field of ep_stats. */
static void per_reason(struct sgbpf_metrics_buf *b, const struct sgbpf_metrics_snapshot *s,
		       const char *name, const char *help, size_t field, unsigned n,
		       const char *(*reason)(unsigned))
{
	family(b, name, "counter", help);
	for (size_t i = 0; i < s->n_eps; i++) {
		const uint64_t *v = (const uint64_t *)((const char *)&s->eps[i].st + field);

		for (unsigned r = 0; r < n; r++)
			sample_u64(b, name, v[r], 2, "endpoint", s->eps[i].name, "reason", reason(r));
	}
}

/* Per endpoint, direction and verdict: the per-direction arrays at
 * offsets allow and drop of ep_stats. */
static void per_verdict(struct sgbpf_metrics_buf *b, const struct sgbpf_metrics_snapshot *s,
			const char *name, const char *help, size_t allow, size_t drop)
{
	static const char *const verdicts[] = { "allow", "drop" };

	family(b, name, "counter", help);
	for (size_t i = 0; i < s->n_eps; i++)
		for (unsigned d = 0; d < SGBPF_DIR_MAX; d++)
			for (unsigned v = 0; v < 2; v++) {
				const uint64_t *a = (const uint64_t *)((const char *)&s->eps[i].st +
								       (v ? drop : allow));

				sample_u64(b, name, a[d], 3, "endpoint", s->eps[i].name,
					   "direction", sgbpf_dir_name(d), "verdict", verdicts[v]);
			}
}

static void render_endpoints(const struct sgbpf_metrics_snapshot *s, struct sgbpf_metrics_buf *b)
{
	per_reason(b, s, "sgbpf_drops_total",
		   "Packets dropped per endpoint and reason (ep_stats, summed over CPUs).",
		   offsetof(struct sgbpf_ep_stats, drops_by_reason), SGBPF_DROP_REASON_MAX,
		   sgbpf_drop_reason_name);
	per_reason(b, s, "sgbpf_allows_total",
		   "Packets allowed per endpoint and reason (ep_stats, summed over CPUs).",
		   offsetof(struct sgbpf_ep_stats, allows_by_reason), SGBPF_ALLOW_REASON_MAX,
		   sgbpf_allow_reason_name);
	per_verdict(b, s, "sgbpf_endpoint_packets_total",
		    "Packets judged per endpoint, direction (in: towards the pod) and verdict.",
		    offsetof(struct sgbpf_ep_stats, allow_packets),
		    offsetof(struct sgbpf_ep_stats, drop_packets));
	per_verdict(b, s, "sgbpf_endpoint_bytes_total",
		    "Bytes judged per endpoint, direction and verdict.",
		    offsetof(struct sgbpf_ep_stats, allow_bytes),
		    offsetof(struct sgbpf_ep_stats, drop_bytes));
}

static void render_node(const struct sgbpf_metrics_snapshot *s, struct sgbpf_metrics_buf *b)
{
	family(b, "sgbpf_node_drops_total", "counter",
	       "Packets dropped on the node per reason, endpoint known or not.");
	for (unsigned r = 0; r < SGBPF_DROP_REASON_MAX; r++)
		sample_u64(b, "sgbpf_node_drops_total", s->g.drops_by_reason[r], 1, "reason",
			   sgbpf_drop_reason_name(r));
	family(b, "sgbpf_node_allows_total", "counter",
	       "Packets allowed on the node per reason, endpoint known or not.");
	for (unsigned r = 0; r < SGBPF_ALLOW_REASON_MAX; r++)
		sample_u64(b, "sgbpf_node_allows_total", s->g.allows_by_reason[r], 1, "reason",
			   sgbpf_allow_reason_name(r));
	family(b, "sgbpf_unknown_iface_packets_total", "counter",
	       "Packets seen on interfaces with no ifaces entry (passed unjudged).");
	sample_u64(b, "sgbpf_unknown_iface_packets_total", s->g.unknown_iface, 0);
}

/* One sample per conntrack table and family. */
static void per_table_family(struct sgbpf_metrics_buf *b, const char *name,
			     const uint64_t v[SGBPF_METRICS_CT_MAX][SGBPF_AF_MAX])
{
	for (int t = 0; t < SGBPF_METRICS_CT_MAX; t++)
		for (int f = 0; f < SGBPF_AF_MAX; f++)
			sample_u64(b, name, v[t][f], 2, "table", ct_table[t], "family",
				   sgbpf_family_name(f));
}

static void render_conntrack(const struct sgbpf_metrics_snapshot *s, struct sgbpf_metrics_buf *b)
{
	family(b, "sgbpf_conntrack_entries", "gauge",
	       "Conntrack entries per table (new: unconfirmed, LRU; est: confirmed) and "
	       "family, each its own map; counted in batches, see "
	       "sgbpf_conntrack_count_age_seconds.");
	if (s->ct_known)
		per_table_family(b, "sgbpf_conntrack_entries", s->ct_entries);
	family(b, "sgbpf_conntrack_count_age_seconds", "gauge",
	       "Age of the count in sgbpf_conntrack_entries.");
	if (s->ct_known)
		sgbpf_metrics_printf(b, "sgbpf_conntrack_count_age_seconds %.9g\n", s->ct_count_age_s);
	family(b, "sgbpf_conntrack_capacity", "gauge",
	       "Conntrack capacity (max_entries) per table and family: a family's flows "
	       "can only use its own maps'.");
	per_table_family(b, "sgbpf_conntrack_capacity", s->ct_capacity);
	/* Per map: an est table is several maps, and each fills on its own
	 * (its flows' protocol decides which), so a full one can hide in its
	 * family's sum. Alert on these. */
	family(b, "sgbpf_conntrack_map_entries", "gauge",
	       "Entries of each conntrack map (same count as sgbpf_conntrack_entries).");
	for (size_t i = 0; s->ct_known && i < s->n_ct_maps; i++)
		sample_u64(b, "sgbpf_conntrack_map_entries", s->ct_maps[i].entries, 1, "map",
			   s->ct_maps[i].name);
	family(b, "sgbpf_conntrack_map_capacity", "gauge",
	       "Capacity (max_entries) of each conntrack map: it is full when its entries "
	       "reach this, whatever the other maps hold.");
	for (size_t i = 0; i < s->n_ct_maps; i++)
		sample_u64(b, "sgbpf_conntrack_map_capacity", s->ct_maps[i].capacity, 1, "map",
			   s->ct_maps[i].name);
	family(b, "sgbpf_conntrack_est_full_total", "counter",
	       "Confirmed flows that could not be promoted because the established table "
	       "was full (EC2 conntrack_allowance_exceeded).");
	sample_u64(b, "sgbpf_conntrack_est_full_total", s->g.ct_est_full, 0);
	family(b, "sgbpf_conntrack_created_total", "counter", "Conntrack entries created per table.");
	sample_u64(b, "sgbpf_conntrack_created_total", s->g.ct_new_created, 1, "table", "new");
	sample_u64(b, "sgbpf_conntrack_created_total", s->g.ct_est_created, 1, "table", "est");
	family(b, "sgbpf_conntrack_gc_deleted_total", "counter",
	       "Expired entries the collector deleted per table, since sgbpfd started.");
	sample_u64(b, "sgbpf_conntrack_gc_deleted_total", s->gc_deleted_est, 1, "table", "est");
	sample_u64(b, "sgbpf_conntrack_gc_deleted_total", s->gc_deleted_new, 1, "table", "new");
	sample_u64(b, "sgbpf_conntrack_gc_deleted_total", s->gc_deleted_frags, 1, "table", "frags");
}

int sgbpf_metrics_render(const struct sgbpf_metrics_snapshot *s, struct sgbpf_metrics_buf *b)
{
	char layout[16];

	snprintf(layout, sizeof(layout), "%u", s->layout);
	family(b, "sgbpf_build_info", "gauge", "sgbpf build: version and BPF map layout version.");
	sample_u64(b, "sgbpf_build_info", 1, 2, "version", s->version, "layout", layout);
	family(b, "sgbpf_policy_generation", "gauge", "Policy generation in force.");
	sample_u64(b, "sgbpf_policy_generation", s->generation, 0);
	family(b, "sgbpf_policy_swaps_total", "counter",
	       "Policies swapped in by this sgbpfd process.");
	sample_u64(b, "sgbpf_policy_swaps_total", s->swaps, 0);
	family(b, "sgbpf_policy_swap_failures_total", "counter",
	       "Policy changes not swapped in (rejected: invalid policy; error: runtime "
	       "failure); the policy in force stayed.");
	sample_u64(b, "sgbpf_policy_swap_failures_total", s->swaps_rejected, 1, "reason", "rejected");
	sample_u64(b, "sgbpf_policy_swap_failures_total", s->swap_errors, 1, "reason", "error");
	family(b, "sgbpf_last_swap_duration_seconds", "gauge",
	       "Write and flip time of the last policy swap (0 before the first).");
	sgbpf_metrics_printf(b, "sgbpf_last_swap_duration_seconds %.9g\n", s->last_swap_s);
	family(b, "sgbpf_attached_interfaces", "gauge",
	       "Interfaces with sgbpf's programs attached by this sgbpfd.");
	sample_u64(b, "sgbpf_attached_interfaces", s->attached, 0);
	family(b, "sgbpf_attach_errors_total", "counter",
	       "Failures to attach to an interface or write its ifaces entry.");
	sample_u64(b, "sgbpf_attach_errors_total", s->attach_errors, 0);
	render_endpoints(s, b);
	render_node(s, b);
	render_conntrack(s, b);
	return b->failed ? -ENOMEM : 0;
}

/* ---- conntrack counting -------------------------------------------------- */

static int map_sizes(int fd, uint32_t *ksz, uint32_t *vsz)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*ksz = info.key_size;
	*vsz = info.value_size;
	return 0;
}

/* Every (table, family) map, then each short-key table (est, its
 * family's). */
#define CT_WALK_SHORT (SGBPF_METRICS_CT_MAX * SGBPF_AF_MAX)
#define CT_WALKS SGBPF_METRICS_CT_WALKS

enum sgbpf_map sgbpf_ct_count_map(int walk, int *table, int *family)
{
	if (walk < 0 || walk >= CT_WALKS)
		return SGBPF_MAP_MAX;
	if (walk >= CT_WALK_SHORT) {
		*table = SGBPF_METRICS_CT_EST;
		*family = sgbpf_ct_short_family(walk - CT_WALK_SHORT);
		return sgbpf_ct_short_map(walk - CT_WALK_SHORT);
	}
	*table = walk / SGBPF_AF_MAX;
	*family = walk % SGBPF_AF_MAX;
	return sgbpf_ct_map(*table == SGBPF_METRICS_CT_EST ? SGBPF_CT_TABLE_EST :
							     SGBPF_CT_TABLE_NEW, *family);
}

static int walk_fd(const struct sgbpf_ct_count *c, int walk)
{
	if (walk >= CT_WALK_SHORT)
		return c->fd_short[walk - CT_WALK_SHORT];
	return c->fd[walk / SGBPF_AF_MAX][walk % SGBPF_AF_MAX];
}


int sgbpf_ct_count_init(struct sgbpf_ct_count *c, const int fd[SGBPF_METRICS_CT_MAX][SGBPF_AF_MAX],
			const int fd_short[SGBPF_CT_SHORT_MAX], uint32_t batch)
{
	uint32_t kmax = 8, vmax = 8;

	memset(c, 0, sizeof(*c));
	memcpy(c->fd, fd, sizeof(c->fd));
	memcpy(c->fd_short, fd_short, sizeof(c->fd_short));
	c->batch = batch ? batch : 1;
	for (int w = 0; w < CT_WALKS; w++) {
		uint32_t k = 0, v = 0;
		int err;

		if (walk_fd(c, w) < 0)
			continue;
		err = map_sizes(walk_fd(c, w), &k, &v);
		if (err)
			return err;
		kmax = k > kmax ? k : kmax;
		vmax = v > vmax ? v : vmax;
	}
	c->keys = calloc(c->batch, kmax);
	c->vals = calloc(c->batch, vmax);
	/* The batch cursor is a bucket index for hash maps, a key otherwise. */
	c->tok_in = calloc(1, kmax);
	c->tok_out = calloc(1, kmax);
	if (!c->keys || !c->vals || !c->tok_in || !c->tok_out) {
		sgbpf_ct_count_free(c);
		return -ENOMEM;
	}
	return 0;
}

void sgbpf_ct_count_free(struct sgbpf_ct_count *c)
{
	free(c->keys);
	free(c->vals);
	free(c->tok_in);
	free(c->tok_out);
	c->keys = c->vals = c->tok_in = c->tok_out = NULL;
	c->running = false;
}

void sgbpf_ct_count_start(struct sgbpf_ct_count *c)
{
	if (c->running)
		return;
	c->running = true;
	c->have_tok = false;
	c->walk = 0;
	c->pass_ns = 0;
	memset(c->partial, 0, sizeof(c->partial));
}

static int pass_end(struct sgbpf_ct_count *c, int err)
{
	c->running = false;
	c->err = err;
	if (!err) {
		memcpy(c->map_entries, c->partial, sizeof(c->map_entries));
		memset(c->entries, 0, sizeof(c->entries));
		for (int w = 0, t, f; w < CT_WALKS; w++)
			if (sgbpf_ct_count_map(w, &t, &f) != SGBPF_MAP_MAX)
				c->entries[t][f] += c->map_entries[w];
	}
	c->done_ns = mono_ns();
	return 1;
}

int sgbpf_ct_count_step(struct sgbpf_ct_count *c)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint64_t t0 = mono_ns();
	uint32_t n = c->batch;
	void *tmp;
	int err;

	if (!c->running)
		return 1;
	while (c->walk < CT_WALKS && walk_fd(c, c->walk) < 0)
		c->walk++;
	if (c->walk == CT_WALKS)
		return pass_end(c, 0);
	err = bpf_map_lookup_batch(walk_fd(c, c->walk), c->have_tok ? c->tok_in : NULL,
				   c->tok_out, c->keys, c->vals, &n, &opts);
	err = err ? -errno : 0;
	c->pass_ns += mono_ns() - t0;
	if (err && err != -ENOENT)
		return pass_end(c, err);
	c->partial[c->walk] += n;
	if (err == -ENOENT) {            /* this map is done */
		c->have_tok = false;
		if (++c->walk == CT_WALKS)
			return pass_end(c, 0);
		return 0;
	}
	tmp = c->tok_in;
	c->tok_in = c->tok_out;
	c->tok_out = tmp;
	c->have_tok = true;
	return 0;
}

/* ---- HTTP ---------------------------------------------------------------- */

enum client_state { C_FREE = 0, C_READ, C_WAIT, C_WRITE, C_DRAIN };

struct client {
	int fd;
	enum client_state state;
	bool head;
	char path[SGBPF_HTTP_MAX_PATH];
	char req[SGBPF_HTTP_MAX_REQUEST];
	size_t req_len;
	char *out;
	size_t out_len, out_off;
	uint64_t idle_at, expire_at;     /* CLOCK_MONOTONIC ns deadlines */
};

struct sgbpf_http {
	int lfd;
	uint64_t idle_ns;
	sgbpf_http_handler handler;
	void *ctx;
	struct client c[SGBPF_HTTP_MAX_CLIENTS];
};

const char *sgbpf_http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

int sgbpf_http_addr_split(const char *addr, char *host, size_t host_len, uint16_t *port,
			  const char *who)
{
	const char *colon, *h = addr;
	size_t hl;
	char *end;
	unsigned long p;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			goto bad;
		h = addr + 1;
		hl = close - h;
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', colon - addr))
			goto bad;     /* no port, or a bare IPv6 address */
		hl = colon - addr;
	}
	if (hl >= host_len)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = 0;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p > 65535 || colon[1] == '-' || colon[1] == '+')
		goto bad;
	*port = p;
	return 0;
bad:
	fprintf(stderr, "%s: metrics address '%s' is not host:port, [ipv6]:port or :port "
		"(e.g. 127.0.0.1:9464, [::1]:9464, :9464)\n", who, addr);
	return -EINVAL;
}

/* Socket address for host ("" = every address) and port. */
static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai;
	char ps[8];
	int rc;

	memset(ss, 0, sizeof(*ss));
	if (!host[0]) {
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	snprintf(ps, sizeof(ps), "%u", port);
	rc = getaddrinfo(host, ps, &hints, &ai);
	if (rc) {
		fprintf(stderr, "sgbpfd: metrics address: cannot resolve '%s': %s; give an IP "
			"address\n", host, gai_strerror(rc));
		return -EINVAL;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int sgbpf_http_open(const char *addr, unsigned idle_ms, sgbpf_http_handler handler, void *ctx,
		    struct sgbpf_http **out)
{
	struct sockaddr_storage ss;
	struct sgbpf_http *s;
	char host[256], text[INET6_ADDRSTRLEN];
	socklen_t len;
	uint16_t port;
	int fd, one = 1, zero = 0, err;

	*out = NULL;
	err = sgbpf_http_addr_split(addr, host, sizeof(host), &port, "sgbpfd");
	if (!err)
		err = resolve(host, port, &ss, &len);
	if (err)
		return err;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && !host[0] && errno == EAFNOSUPPORT) {
		/* ":port" on a node without IPv6: every IPv4 address. */
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		memset(&ss, 0, sizeof(ss));
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof(*s4);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "sgbpfd: metrics socket: %s\n", strerror(-err));
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6 && !host[0])
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16)) {
		err = -errno;
		fprintf(stderr, "sgbpfd: cannot listen for metrics on %s (%s): %s; pick a free "
			"address with --metrics\n", addr,
			inet_ntop(ss.ss_family, ss.ss_family == AF_INET6 ?
				  (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr :
				  (void *)&((struct sockaddr_in *)&ss)->sin_addr, text, sizeof(text)) ?
			text : "?", strerror(-err));
		close(fd);
		return err;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->lfd = fd;
	s->idle_ns = (uint64_t)(idle_ms ? idle_ms : 1) * 1000000ull;
	s->handler = handler;
	s->ctx = ctx;
	for (int i = 0; i < SGBPF_HTTP_MAX_CLIENTS; i++)
		s->c[i].fd = -1;
	*out = s;
	return 0;
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->state = C_FREE;
}

void sgbpf_http_close(struct sgbpf_http *s)
{
	if (!s)
		return;
	for (int i = 0; i < SGBPF_HTTP_MAX_CLIENTS; i++)
		client_close(&s->c[i]);
	close(s->lfd);
	free(s);
}

int sgbpf_http_local(const struct sgbpf_http *s, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	return getsockname(s->lfd, (struct sockaddr *)ss, len) ? -errno : 0;
}

int sgbpf_http_clients(const struct sgbpf_http *s)
{
	int n = 0;

	for (int i = 0; i < SGBPF_HTTP_MAX_CLIENTS; i++)
		n += s->c[i].state != C_FREE;
	return n;
}

void sgbpf_http_pollfds(const struct sgbpf_http *s, struct pollfd *p)
{
	bool room = sgbpf_http_clients(s) < SGBPF_HTTP_MAX_CLIENTS;

	/* When every slot is taken, new connections wait in the backlog. */
	p[0] = (struct pollfd){ .fd = room ? s->lfd : -1, .events = POLLIN };
	for (int i = 0; i < SGBPF_HTTP_MAX_CLIENTS; i++) {
		const struct client *c = &s->c[i];
		short ev = c->state == C_WRITE ? POLLOUT :
			   c->state == C_READ || c->state == C_DRAIN ? POLLIN : 0;

		p[1 + i] = (struct pollfd){ .fd = c->state ? c->fd : -1, .events = ev };
	}
}

uint64_t sgbpf_http_deadline(const struct sgbpf_http *s)
{
	uint64_t t = UINT64_MAX;

	for (int i = 0; i < SGBPF_HTTP_MAX_CLIENTS; i++) {
		const struct client *c = &s->c[i];
		uint64_t d;

		if (!c->state)
			continue;
		d = c->state == C_WAIT || c->idle_at > c->expire_at ? c->expire_at : c->idle_at;
		t = d < t ? d : t;
	}
	return t;
}

static bool is_token(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 127 ||
		    strchr("()<>@,;:\\\"/[]?={}", s[i]))
			return false;
	return true;
}

int sgbpf_http_parse_request(const char *buf, size_t len, bool *head, char *path,
			     size_t path_len)
{
	const char *end = NULL, *line, *eol, *sp1, *sp2, *t, *tend, *h;
	bool http11, host = false;
	size_t n;

	/* The head ends with an empty line (CRLF CRLF, or bare LFs); end is
	 * just past it. */
	for (size_t i = 0; i + 1 < len && !end; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			end = buf + i + 2;
		else if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			end = buf + i + 3;
	}
	if (!end)
		return 0;
	if (memchr(buf, 0, end - buf))
		return 400;
	line = buf;
	eol = memchr(line, '\n', end - line);
	n = eol - line - (eol > line && eol[-1] == '\r');
	sp1 = memchr(line, ' ', n);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', line + n - sp1 - 1) : NULL;
	if (!sp1 || !sp2 || memchr(sp2 + 1, ' ', line + n - sp2 - 1) || !is_token(line, sp1 - line))
		return 400;
	n = line + n - (sp2 + 1);
	if (n != 8 || strncmp(sp2 + 1, "HTTP/", 5))
		return 400;
	if (strncmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1'))
		return 505;
	http11 = sp2[8] == '1';

	/* Target: origin form, or absolute form (http://authority/path). */
	t = sp1 + 1;
	tend = sp2;
	if (tend - t > 7 && !strncasecmp(t, "http://", 7)) {
		t = memchr(t + 7, '/', tend - t - 7);
		if (!t)
			return 400;
	}
	if (t >= tend || *t != '/')
		return 400;
	for (const char *q = t; q < tend; q++) {
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 127)
			return 400;
		if (*q == '?' || *q == '#') {
			tend = q;
			break;
		}
	}
	/* Headers: "name: value" lines; HTTP/1.1 requires Host. */
	for (h = eol + 1; h < end; h = eol + 1) {
		const char *colon;

		eol = memchr(h, '\n', end - h);
		n = eol - h - (eol > h && eol[-1] == '\r');
		if (!n)
			break;
		colon = memchr(h, ':', n);
		if (!colon || !is_token(h, colon - h))
			return 400;
		host |= colon - h == 4 && !strncasecmp(h, "host", 4);
	}
	if (http11 && !host)
		return 400;
	if (sp1 - line == 3 && !memcmp(line, "GET", 3))
		*head = false;
	else if (sp1 - line == 4 && !memcmp(line, "HEAD", 4))
		*head = true;
	else
		return 405;
	if ((size_t)(tend - t) >= path_len)
		return 414;
	memcpy(path, t, tend - t);
	path[tend - t] = 0;
	return 200;
}

/* Queue a complete response and switch to writing it. */
static void respond(struct sgbpf_http *s, struct client *c, int status, const char *ctype,
		    const char *body, size_t body_len)
{
	struct sgbpf_metrics_buf b = { 0 };

	sgbpf_metrics_printf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			     "%sConnection: close\r\n\r\n", status, sgbpf_http_status_text(status),
			     ctype ? ctype : "text/plain; charset=utf-8", body_len,
			     status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!c->head)
		buf_put(&b, body, body_len);
	if (b.failed) {
		sgbpf_metrics_buf_free(&b);
		client_close(c);
		return;
	}
	free(c->out);
	c->out = b.p;
	c->out_len = b.len;
	c->out_off = 0;
	c->state = C_WRITE;
	c->idle_at = mono_ns() + s->idle_ns;
}

static void respond_text(struct sgbpf_http *s, struct client *c, int status, const char *text)
{
	respond(s, c, status, NULL, text, strlen(text));
}

/* Ask the handler; stay waiting on -EAGAIN. */
static void dispatch(struct sgbpf_http *s, struct client *c)
{
	struct sgbpf_http_reply r = { .status = 200 };
	int err = s->handler(s->ctx, c->path, &r);

	if (err == -EAGAIN) {
		sgbpf_metrics_buf_free(&r.body);
		c->state = C_WAIT;
		return;
	}
	if (err || r.body.failed)
		respond_text(s, c, 500, "sgbpfd: could not build the answer; see its log\n");
	else
		respond(s, c, r.status, r.content_type, r.body.p ? r.body.p : "", r.body.len);
	sgbpf_metrics_buf_free(&r.body);
}

static const char *refusal(int status)
{
	switch (status) {
	case 405: return "only GET and HEAD are served\n";
	case 414: return "path too long\n";
	case 505: return "HTTP/1.0 or HTTP/1.1 only\n";
	}
	return "malformed request\n";
}

static void on_readable(struct sgbpf_http *s, struct client *c)
{
	ssize_t r;
	int st;

	r = read(c->fd, c->req + c->req_len, sizeof(c->req) - c->req_len);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		client_close(c);         /* gone before asking anything */
		return;
	}
	c->req_len += r;
	c->idle_at = mono_ns() + s->idle_ns;
	st = sgbpf_http_parse_request(c->req, c->req_len, &c->head, c->path, sizeof(c->path));
	if (st == 200) {
		dispatch(s, c);
	} else if (st) {
		c->head = false;
		respond_text(s, c, st, refusal(st));
	} else if (c->req_len == sizeof(c->req)) {
		c->head = false;
		respond_text(s, c, 431, "request head larger than 8 KiB\n");
	}
}

static void on_writable(struct sgbpf_http *s, struct client *c)
{
	/* No SIGPIPE when the client left: a library can't rely on its
	 * caller ignoring it. */
	ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (w <= 0) {
		client_close(c);
		return;
	}
	c->out_off += w;
	c->idle_at = mono_ns() + s->idle_ns;
	if (c->out_off < c->out_len)
		return;
	/* Done: half-close and read what the client still sends until it
	 * closes, so unread request bytes don't turn our close into a reset
	 * that could destroy the answer in flight. */
	shutdown(c->fd, SHUT_WR);
	free(c->out);
	c->out = NULL;
	c->state = C_DRAIN;
	c->idle_at = mono_ns() + 1000000000ull;
}

static void on_drain(struct client *c)
{
	char junk[4096];
	ssize_t r;

	while ((r = read(c->fd, junk, sizeof(junk))) > 0)
		;
	if (r == 0 || (errno != EAGAIN && errno != EINTR))
		client_close(c);
}

static void accept_clients(struct sgbpf_http *s)
{
	uint64_t now = mono_ns();

	for (int i = 0; i < SGBPF_HTTP_MAX_CLIENTS; i++) {
		struct client *c = &s->c[i];
		int fd;

		if (c->state)
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c->fd = fd;
		c->state = C_READ;
		c->head = false;
		c->req_len = 0;
		c->out = NULL;
		c->idle_at = now + s->idle_ns;
		c->expire_at = now + 6 * s->idle_ns;
	}
}

void sgbpf_http_serve(struct sgbpf_http *s, const struct pollfd *p)
{
	uint64_t now;

	for (int i = 0; i < SGBPF_HTTP_MAX_CLIENTS; i++) {
		struct client *c = &s->c[i];
		short re = p[1 + i].fd == c->fd ? p[1 + i].revents : 0;

		if (!c->state || !re)
			continue;
		if (c->state == C_READ)
			on_readable(s, c);
		else if (c->state == C_WRITE)
			on_writable(s, c);
		else if (c->state == C_DRAIN)
			on_drain(c);
		else if (re & (POLLERR | POLLHUP))
			client_close(c);     /* waiting, and gone */
	}
	if (p[0].fd >= 0 && (p[0].revents & POLLIN))
		accept_clients(s);
	now = mono_ns();
	for (int i = 0; i < SGBPF_HTTP_MAX_CLIENTS; i++) {
		struct client *c = &s->c[i];

		if (c->state == C_WAIT && now >= c->expire_at)
			respond_text(s, c, 503, "sgbpfd: the answer was not ready in time\n");
		else if (c->state && c->state != C_WAIT && (now >= c->idle_at || now >= c->expire_at))
			client_close(c);         /* idle, or too slow */
	}
}

void sgbpf_http_retry(struct sgbpf_http *s)
{
	for (int i = 0; i < SGBPF_HTTP_MAX_CLIENTS; i++)
		if (s->c[i].state == C_WAIT)
			dispatch(s, &s->c[i]);
}
