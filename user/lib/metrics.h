/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sgbpfd --metrics: the Prometheus text exposition (format 0.0.4) of a
 * snapshot of the daemon's counters, a conntrack entry counter that works in
 * bounded batches, and a small non-blocking HTTP/1.1 server meant to be
 * driven from the daemon's poll() loop. Nothing here blocks: the server reads
 * and writes only what the sockets take, and the counter does one batch per
 * call. See docs/daemon.md, "Metrics".
 */
#ifndef SGBPF_METRICS_H
#define SGBPF_METRICS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sgbpf/layout.h>

#include "ct.h"

/* The build's version for sgbpf_build_info; a build may pass its own. */
#ifndef SGBPF_VERSION
#define SGBPF_VERSION "dev"
#endif

/* ---- growable text buffer --------------------------------------------- */
struct sgbpf_metrics_buf {
	char *p;
	size_t len, cap;
	bool failed;                 /* an allocation failed: contents cut short */
};

void sgbpf_metrics_printf(struct sgbpf_metrics_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sgbpf_metrics_buf_free(struct sgbpf_metrics_buf *b);

/* ---- the exposition ---------------------------------------------------- */
enum { SGBPF_METRICS_CT_NEW = 0, SGBPF_METRICS_CT_EST = 1, SGBPF_METRICS_CT_MAX };

/* The conntrack maps the counter walks, in its order: [table][family]
 * (table * SGBPF_AF_MAX + family), then each short-key table. */
#define SGBPF_METRICS_CT_WALKS (SGBPF_METRICS_CT_MAX * SGBPF_AF_MAX + SGBPF_CT_SHORT_MAX)

struct sgbpf_metrics_endpoint {
	const char *name;            /* label value, escaped when rendered       */
	struct sgbpf_ep_stats st;    /* summed over CPUs                         */
};

struct sgbpf_metrics_snapshot {
	const char *version;
	unsigned layout;
	uint64_t generation;         /* policy generation in force               */
	uint64_t swaps;              /* successful swaps by this process         */
	uint64_t swaps_rejected;     /* policy refused (invalid)                 */
	uint64_t swap_errors;        /* runtime failures                         */
	double last_swap_s;          /* write + flip of the last swap, 0 = none  */
	uint64_t attach_errors;
	uint64_t attached;           /* interfaces with sgbpf's programs         */
	const struct sgbpf_metrics_endpoint *eps;
	size_t n_eps;
	struct sgbpf_global_stats g; /* summed over CPUs                         */
	/* Conntrack per table and family (SGBPF_AF_*): each is its own map
	 * (ct.h), and one family's map fills while the other's is empty. */
	bool ct_known;               /* ct_entries hold a completed count        */
	uint64_t ct_entries[SGBPF_METRICS_CT_MAX][SGBPF_AF_MAX];
	double ct_count_age_s;       /* how old that count is                    */
	uint64_t ct_capacity[SGBPF_METRICS_CT_MAX][SGBPF_AF_MAX];
	/* The same per map: a family's est table is several maps (ct.h), each
	 * of which fills on its own. entries is valid when ct_known. */
	struct sgbpf_metrics_ct_map {
		const char *name;
		uint64_t entries, capacity;
	} ct_maps[SGBPF_METRICS_CT_WALKS];
	size_t n_ct_maps;
	uint64_t gc_deleted_est, gc_deleted_new, gc_deleted_frags;
};

/* Append the exposition of s to out. Returns 0 or -ENOMEM. */
int sgbpf_metrics_render(const struct sgbpf_metrics_snapshot *s, struct sgbpf_metrics_buf *out);

/* ---- conntrack entry counter ------------------------------------------- */
/*
 * Counts the entries of each conntrack map (new and est table, IPv4 and
 * IPv6) with BPF_MAP_LOOKUP_BATCH, one
 * batch per step, so a million entries never hold up the caller's loop for
 * more than one batch. The batch cursor of a hash map is a bucket index, so
 * entries deleted or added between steps never restart the walk; the count
 * is that of a walk, not of an instant.
 */
struct sgbpf_ct_count {
	/* Each table is one map per family (ct.h); -1: none. */
	int fd[SGBPF_METRICS_CT_MAX][SGBPF_AF_MAX];
	int fd_short[SGBPF_CT_SHORT_MAX]; /* short-key tables: est, their family */
	uint32_t batch;
	void *keys, *vals, *tok_in, *tok_out;
	bool running, have_tok;
	int walk;                    /* map being walked: table * AF_MAX + family,
				      * then each short-key table */
	uint64_t partial[SGBPF_METRICS_CT_WALKS];  /* per map, this pass */
	/* Of the last completed pass, per map and (their sums) per table and
	 * family: */
	uint64_t map_entries[SGBPF_METRICS_CT_WALKS];
	uint64_t entries[SGBPF_METRICS_CT_MAX][SGBPF_AF_MAX];
	uint64_t done_ns;            /* CLOCK_MONOTONIC when it ended, 0 = never */
	int err;                     /* 0, or -errno: entries not valid          */
	uint64_t pass_ns;            /* loop time the pass took (sum of steps)   */
};

/* fds stay the caller's (fd[SGBPF_METRICS_CT_*][family], fd_short: table
 * est's short-key tables, enum sgbpf_ct_short; -1 = none). batch: entries
 * per step. Returns 0 or -errno. */
int sgbpf_ct_count_init(struct sgbpf_ct_count *c, const int fd[SGBPF_METRICS_CT_MAX][SGBPF_AF_MAX],
			const int fd_short[SGBPF_CT_SHORT_MAX], uint32_t batch);
void sgbpf_ct_count_free(struct sgbpf_ct_count *c);
/* The map walk w of the counter is (SGBPF_MAP_MAX for none), and the
 * SGBPF_METRICS_CT_* table and family its entries count in. */
enum sgbpf_map sgbpf_ct_count_map(int walk, int *table, int *family);
void sgbpf_ct_count_start(struct sgbpf_ct_count *c);
/* One batch. Returns 1 when the pass ended (c->err says how), else 0. */
int sgbpf_ct_count_step(struct sgbpf_ct_count *c);

/* ---- HTTP/1.1 server ---------------------------------------------------- */
#define SGBPF_HTTP_MAX_CLIENTS 8
#define SGBPF_HTTP_MAX_REQUEST 8192  /* request line + headers            */
#define SGBPF_HTTP_MAX_PATH    256
#define SGBPF_HTTP_POLLFDS     (1 + SGBPF_HTTP_MAX_CLIENTS)

struct sgbpf_http_reply {
	int status;                  /* 200, 404, 503, ...                     */
	const char *content_type;    /* NULL: text/plain; charset=utf-8        */
	struct sgbpf_metrics_buf body;
};

/*
 * Answer GET/HEAD path (query string stripped) into r (status preset to
 * 200). Return 0, or -EAGAIN to answer later: the client waits until
 * sgbpf_http_retry() gets another answer, or its time runs out (503).
 */
typedef int (*sgbpf_http_handler)(void *ctx, const char *path, struct sgbpf_http_reply *r);

struct sgbpf_http;

/*
 * Listen on addr ("host:port", "[v6]:port" or ":port" for every address,
 * IPv6 and IPv4). idle_ms: a client making no progress that long is closed;
 * none lives longer than 6 x idle_ms. Returns 0 or -errno with a message
 * on stderr.
 */
int sgbpf_http_open(const char *addr, unsigned idle_ms, sgbpf_http_handler handler, void *ctx,
		    struct sgbpf_http **out);
void sgbpf_http_close(struct sgbpf_http *s);
/* The bound address (for ":0" in tests, and the log). */
int sgbpf_http_local(const struct sgbpf_http *s, struct sockaddr_storage *ss, socklen_t *len);
/* Fill p[0..SGBPF_HTTP_POLLFDS-1] (unused entries have fd -1). */
void sgbpf_http_pollfds(const struct sgbpf_http *s, struct pollfd *p);
/* Handle the events poll() left in p, and clients whose time ran out. */
void sgbpf_http_serve(struct sgbpf_http *s, const struct pollfd *p);
/* Ask the handler again for every waiting client. */
void sgbpf_http_retry(struct sgbpf_http *s);
/* CLOCK_MONOTONIC ns of the next client timeout, UINT64_MAX when none. */
uint64_t sgbpf_http_deadline(const struct sgbpf_http *s);
/* Clients connected now. */
int sgbpf_http_clients(const struct sgbpf_http *s);

/*
 * Split addr into host ("" for ":port") and port. Returns 0, or -EINVAL
 * with a message on stderr prefixed by who.
 */
int sgbpf_http_addr_split(const char *addr, char *host, size_t host_len, uint16_t *port,
			  const char *who);

/*
 * Parse a request head in buf[0..len). Returns 0 while incomplete, 200 for
 * a GET or HEAD (*head set, path without query), or the status to answer:
 * 400 malformed, 405 another method, 414 path too long, 505 not HTTP/1.x.
 */
int sgbpf_http_parse_request(const char *buf, size_t len, bool *head, char *path,
			     size_t path_len);
const char *sgbpf_http_status_text(int status);

#endif
