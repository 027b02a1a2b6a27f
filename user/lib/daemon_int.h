/* SPDX-License-Identifier: BSD-2-Clause */
/* sgbpfd internals shared by the user/lib/daemon*.c files. */
#ifndef SGBPF_DAEMON_INT_H
#define SGBPF_DAEMON_INT_H

#include <net/if.h>

#include "ct_gc.h"
#include "daemon.h"
#include "diag.h"
#include "loader.h"
#include "metrics.h"
#include "pin.h"

#define SGD_NONE UINT32_MAX           /* link not managed by sgbpfd */

/* ---- logging (daemon_log.c): one line per event, kv or JSON ---------- */
struct sgd_log {
	char buf[8192];
	size_t len;
	bool on;
	enum sgd_format fmt;
};

void sgd_log_setup(enum sgd_level level, enum sgd_format fmt);
bool sgd_log_enabled(enum sgd_level level);
bool sgd_log_begin(struct sgd_log *l, enum sgd_level level, const char *event);
void sgd_log_str(struct sgd_log *l, const char *key, const char *val);
void sgd_log_u64(struct sgd_log *l, const char *key, uint64_t val);
void sgd_log_i64(struct sgd_log *l, const char *key, int64_t val);
void sgd_log_ms(struct sgd_log *l, const char *key, uint64_t ns);
void sgd_log_end(struct sgd_log *l);
/* event with msg=<printf>. */
void sgd_logm(enum sgd_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Each diagnostic as its own event with file, path and message. */
void sgd_log_diags(const struct sg_diags *diags, const char *dir);
/*
 * Library calls report failures on stderr ("sgbpf: ..."). Between
 * capture_begin and capture_end stderr goes to a memory file; capture_end
 * logs each captured line as event=<event> at level. Not nestable.
 */
void sgd_capture_begin(void);
void sgd_capture_end(enum sgd_level level, const char *event);
uint64_t sgd_now_ns(void);

/* ---- the daemon ------------------------------------------------------- */
struct sgd_ep {                       /* an endpoint of the policy in force */
	char *name;
	char ifname[IF_NAMESIZE];
	uint16_t vlan_id;
	uint32_t id;
};

struct sgd_link {                     /* an interface of the node netns */
	int ifindex;
	char name[IF_NAMESIZE];
	uint32_t ep_id;               /* SGD_NONE, SGD_EP_UNASSIGNED or an endpoint */
	bool attached;
	uint64_t seen_ns;             /* when it appeared                    */
	bool enforced;                /* its endpoint's policy is in place   */
};

struct sgd_reload_result {
	int status;                   /* SGD_EXIT_*                          */
	bool skipped;                 /* unchanged since the last attempt    */
	uint64_t generation;
	uint64_t compile_ns, swap_ns;
	struct sg_diags diags;        /* errors and warnings                 */
	char error[256];              /* runtime failure, if any             */
};

#define SGD_MAX_NODE_ADDRS 8

struct sgd {
	const struct sgd_config *cfg;
	char policy_dir[PATH_MAX];
	char link_dir[PATH_MAX];
	struct sgbpf *h;
	int rec_fd;
	uint64_t generation;
	struct sgd_ep *eps;           /* in force, sorted by name            */
	size_t n_eps;
	struct sgd_link *links;
	size_t n_links, cap_links;
	void *nl_mngr;                /* struct nl_cache_mngr *              */
	void *nl_cache;               /* struct nl_cache * (route/link)      */
	int ino_fd, ino_wd;
	int ctl_fd;
	int sig_fd;
	uint64_t reload_due_ns;       /* debounce deadline, 0 = none         */
	uint64_t reload_first_ns;
	uint64_t last_hash;
	bool have_hash;
	uint64_t next_reconcile_ns;
	bool records_lost;            /* policy pinned, its endpoint ids not */
	bool stop;
	uint64_t applied_real_ns;     /* CLOCK_REALTIME of the last apply, 0 = none by us */
	/* Conntrack GC (--gc-interval): last pass, and totals since start. */
	uint64_t next_gc_ns;
	uint64_t gc_runs, gc_failures;
	struct sgbpf_ct_gc_stats gc_last, gc_total;
	/* Probe steering (daemon_probe.c): the node's addresses of the
	 * policy in force and the target last written. */
	struct sg_addr node_addrs[SGD_MAX_NODE_ADDRS];
	size_t n_node_addrs;
	struct sgbpf_probe_target probe_target;
	bool probe_target_known;
	/* Counts since start, for --metrics (daemon_metrics.c). */
	uint64_t swaps, swaps_rejected, swap_errors, last_swap_ns;
	uint64_t attach_errors;
	struct sgd_metrics *metrics;  /* NULL without --metrics         */
	/* --trunk (daemon_links.c): the trunk while it exists. */
	int trunk_ifindex;            /* 0: not there, or no --trunk      */
	bool trunk_attached;
	uint64_t trunk_seen_ns;       /* when this ifindex appeared       */
	uint64_t trunk_conflict_gen;  /* generation whose VLAN conflicts were logged */
	int trunk_failed_ifindex;     /* XDP attach failed there (logged once) */
};

/* daemon.c */
int sgd_reload(struct sgd *d, const char *dir, bool force, struct sgd_reload_result *res);
/* Point probe steering at the interface holding the node's address (node:
 * the policy just applied; NULL: the last one's). Logs changes only. */
void sgd_probe_target_refresh(struct sgd *d, const struct sg_node *node);
void sgd_gc(struct sgd *d);
void sgd_reload_result_free(struct sgd_reload_result *res);
void sgd_watch_policy(struct sgd *d);
const struct sgd_ep *sgd_ep_by_ifname(const struct sgd *d, const char *ifname);

/* daemon_links.c: netlink link tracking, attach/detach, reconcile */
int sgd_links_open(struct sgd *d);
void sgd_links_close(struct sgd *d);
int sgd_links_fd(const struct sgd *d);
void sgd_links_ready(struct sgd *d);
void sgd_links_sync_all(struct sgd *d);
void sgd_link_update(struct sgd *d, int ifindex, const char *name);
void sgd_link_gone(struct sgd *d, int ifindex);
void sgd_ep_removed(struct sgd *d, uint32_t ep_id, const char *name);
void sgd_reconcile(struct sgd *d);
void sgd_forget_all_state(struct sgd *d);

/* daemon_metrics.c: --metrics (Prometheus /metrics and /healthz) */
#define SGD_METRICS_POLLFDS SGBPF_HTTP_POLLFDS
int sgd_metrics_open(struct sgd *d);
void sgd_metrics_close(struct sgd *d);
/* Fill p[0..SGD_METRICS_POLLFDS-1]; returns how many (0 without --metrics). */
int sgd_metrics_pollfds(struct sgd *d, struct pollfd *p);
/* Serve the events in p; count conntrack entries one batch per call. */
void sgd_metrics_serve(struct sgd *d, const struct pollfd *p);
/* sgd_now_ns() by which sgd_metrics_serve wants to run, UINT64_MAX = none. */
uint64_t sgd_metrics_due(const struct sgd *d);

/* daemon_ctl.c: control socket */
int sgd_ctl_open(struct sgd *d);
void sgd_ctl_close(struct sgd *d);
void sgd_ctl_serve(struct sgd *d);

#endif
