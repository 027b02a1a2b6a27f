// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpfd core: take over (or create) the pinned datapath, apply the policy
 * directory, watch it, and run the event loop (inotify, netlink, control
 * socket, signals, reconcile timer). Link handling is in daemon_links.c,
 * the control socket in daemon_ctl.c. See docs/daemon.md.
 *
 * Endpoint ids: an endpoint keeps its id while it stays in the policy (its
 * conntrack keys carry the id). A new endpoint never takes an id that was
 * in force in the previous generation: a removed endpoint's id is free
 * only after the swap that removed it and the deletion of its state, so no
 * new pod inherits another pod's connections. SGD_EP_UNASSIGNED is never
 * given out. The assignment in force is kept in the pinned ep_records map
 * (pin.h), written into the slot the swap is about to make active.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stddef.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "compile.h"
#include "daemon_int.h"
#include "parse.h"

/* ---- endpoints in force ----------------------------------------------- */

static int ep_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sgd_ep *)a)->name, ((const struct sgd_ep *)b)->name);
}

static const struct sgd_ep *ep_by_name(const struct sgd_ep *eps, size_t n, const char *name)
{
	struct sgd_ep key = { .name = (char *)name };

	return n ? bsearch(&key, eps, n, sizeof(*eps), ep_cmp) : NULL;
}

const struct sgd_ep *sgd_ep_by_ifname(const struct sgd *d, const char *ifname)
{
	for (size_t i = 0; i < d->n_eps; i++)
		if (d->eps[i].ifname[0] && !strcmp(d->eps[i].ifname, ifname))
			return &d->eps[i];
	return NULL;
}

static void eps_free(struct sgd_ep *eps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(eps[i].name);
	free(eps);
}

/* The endpoints in force after a restart: the active slot's records. */
static int eps_from_records(struct sgd *d, uint32_t slot)
{
	struct sgbpf_ep_record *recs;
	size_t n = 0;
	int err;

	recs = calloc(SGBPF_MAX_ENDPOINTS, sizeof(*recs));
	d->eps = calloc(SGBPF_MAX_ENDPOINTS, sizeof(*d->eps));
	if (!recs || !d->eps) {
		free(recs);
		return -ENOMEM;
	}
	err = sgbpf_ep_records_read(d->rec_fd, slot, recs);
	for (uint32_t id = 0; !err && id < SGBPF_MAX_ENDPOINTS; id++) {
		if (!(recs[id].flags & SGBPF_EP_REC_USED) || id == SGD_EP_UNASSIGNED)
			continue;
		d->eps[n].name = strdup(recs[id].name);
		if (!d->eps[n].name) {
			err = -ENOMEM;
			break;
		}
		memcpy(d->eps[n].ifname, recs[id].ifname, sizeof(d->eps[n].ifname));
		d->eps[n].vlan_id = recs[id].vlan_id;
		d->eps[n].id = id;
		n++;
	}
	free(recs);
	d->n_eps = n;
	qsort(d->eps, n, sizeof(*d->eps), ep_cmp);
	return err;
}

/* ---- policy directory ----------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Hash of the directory's path and every *.json (name and bytes): an event
 * for an editor's swap file or an unchanged rewrite needs no swap. */
static int hash_dir(const char *dir, uint64_t *out)
{
	char **names = NULL, path[PATH_MAX], buf[65536];
	size_t n = 0, cap = 0;
	uint64_t h = fnv(0xcbf29ce484222325ull, dir, strlen(dir) + 1);
	struct dirent *de;
	DIR *dp = opendir(dir);

	if (!dp)
		return -errno;
	while ((de = readdir(dp))) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") || de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 32) * sizeof(*names));

			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(dp);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		ssize_t r;
		int fd;

		h = fnv(h, names[i], strlen(names[i]) + 1);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			h = fnv(h, "?", 1);
		} else {
			while ((r = read(fd, buf, sizeof(buf))) > 0)
				h = fnv(h, buf, r);
			close(fd);
		}
		free(names[i]);
	}
	free(names);
	*out = h;
	return 0;
}

void sgd_watch_policy(struct sgd *d)
{
	if (d->ino_fd < 0)
		return;
	if (d->ino_wd >= 0)
		inotify_rm_watch(d->ino_fd, d->ino_wd);
	/* Editors write a temp file and rename it; Kubernetes ConfigMaps swap
	 * a ..data symlink: both arrive as moves or creates in the dir. */
	d->ino_wd = inotify_add_watch(d->ino_fd, d->policy_dir,
				      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
				      IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
	if (d->ino_wd < 0)
		sgd_logm(SGD_ERROR, "watch_failed", "cannot watch policy directory %s: %s; "
			 "retrying at each reconcile", d->policy_dir, strerror(errno));
}

void sgd_reload_result_free(struct sgd_reload_result *res)
{
	sg_diags_free(&res->diags);
}

/* Ids for the new policy (see top of file). prev gets every endpoint. */
static int steer_ids(struct sgd *d, const struct sg_policy *pol, struct sg_ep_ids *prev,
		     struct sg_diags *diags)
{
	uint8_t used[SGBPF_MAX_ENDPOINTS] = { 0 };
	uint32_t next = 0;

	used[SGD_EP_UNASSIGNED] = 1;
	for (size_t i = 0; i < d->n_eps; i++)
		used[d->eps[i].id] = 1;
	prev->names = calloc(pol->n_endpoints + 1, sizeof(char *));
	prev->ids = calloc(pol->n_endpoints + 1, sizeof(uint32_t));
	prev->n = 0;
	if (!prev->names || !prev->ids)
		return -ENOMEM;
	for (size_t i = 0; i < pol->n_endpoints; i++) {
		const struct sg_endpoint *ep = &pol->endpoints[i];
		const struct sgd_ep *old = ep_by_name(d->eps, d->n_eps, ep->name);
		uint32_t id;

		if (strlen(ep->name) >= SGBPF_EP_NAME_MAX ||
		    (ep->interface && strlen(ep->interface) >= IF_NAMESIZE)) {
			sg_diag_add(diags, SG_ERROR, ep->origin.file, ep->origin.path,
				    "endpoint %.40s...: name must be shorter than %d bytes and "
				    "interface shorter than %d", ep->name, SGBPF_EP_NAME_MAX,
				    IF_NAMESIZE);
			return -EINVAL;
		}
		if (old) {
			id = old->id;
		} else {
			while (next < SGBPF_MAX_ENDPOINTS && used[next])
				next++;
			if (next == SGBPF_MAX_ENDPOINTS) {
				sg_diag_add(diags, SG_ERROR, ep->origin.file, ep->origin.path,
					    "too many endpoints: %zu in the policy, %zu in force; "
					    "the node holds %d (one id is reserved, and ids of "
					    "endpoints removed by this change are free only "
					    "after it): apply the removals first",
					    pol->n_endpoints, d->n_eps, SGBPF_MAX_ENDPOINTS - 1);
				return -EINVAL;
			}
			id = next;
			used[next] = 1;
		}
		prev->names[prev->n] = ep->name;
		prev->ids[prev->n++] = id;
	}
	return 0;
}

/*
 * Load, compile and swap in dir. The policy in force stays on any failure.
 * res->status: SGD_EXIT_OK, SGD_EXIT_INVALID (policy refused, diags say
 * why) or SGD_EXIT_ERROR (runtime failure, res->error).
 */
int sgd_reload(struct sgd *d, const char *dir, bool force, struct sgd_reload_result *res)
{
	struct sg_ep_ids prev = { 0 };
	struct sgbpf_ep_record *recs = NULL;
	struct sgbpf_swap_stats st = { 0 };
	struct sg_compiled c;
	struct sg_policy pol;
	struct sgbpf_state state;
	struct sgd_ep *neps = NULL, *oeps;
	size_t n_oeps;
	uint64_t t0 = sgd_now_ns(), t1, t2, hash = 0, gen;
	uint32_t zero = 0, slot;
	bool compiled = false, have_hash;
	struct sgd_log l;
	int err;

	memset(res, 0, sizeof(*res));
	sg_diags_init(&res->diags);
	sg_policy_init(&pol);
	have_hash = hash_dir(dir, &hash) == 0;
	if (!force && have_hash && d->have_hash && hash == d->last_hash &&
	    !strcmp(dir, d->policy_dir)) {
		res->skipped = true;
		res->status = SGD_EXIT_OK;
		res->generation = d->generation;
		sgd_logm(SGD_DEBUG, "policy_unchanged", "%s: no *.json changed", dir);
		return 0;
	}

	sgbpf_fault_swap_begin();   /* fault tests only (loader.h) */
	err = sg_policy_load_dir(&pol, dir, &res->diags);
	sgbpf_fault_point("policy parsed");
	if (!err)
		err = steer_ids(d, &pol, &prev, &res->diags);
	if (!err) {
		err = sg_compile(&pol, &prev, &c, &res->diags);
		compiled = !err;
		sgbpf_fault_point("policy compiled");
	}
	t1 = sgd_now_ns();
	res->compile_ns = t1 - t0;
	if (err) {
		/* An unreadable directory is an error, a bad document a refusal. */
		res->status = err == -EINVAL || err == -E2BIG ? SGD_EXIT_INVALID : SGD_EXIT_ERROR;
		snprintf(res->error, sizeof(res->error), "%s: %s", dir,
			 res->status == SGD_EXIT_INVALID ? "policy refused" : strerror(-err));
		sgd_log_diags(&res->diags, dir);
		if (sgd_log_begin(&l, SGD_ERROR, "policy_rejected")) {
			sgd_log_str(&l, "dir", dir);
			sgd_log_u64(&l, "errors", res->diags.n_errors);
			sgd_log_u64(&l, "generation", d->generation);
			sgd_log_str(&l, "msg", "the policy in force stays in force");
			sgd_log_end(&l);
		}
		goto out;
	}
	sgd_log_diags(&res->diags, dir);   /* warnings */

	/* The records the swap commits: written into the slot it makes active. */
	recs = calloc(SGBPF_MAX_ENDPOINTS, sizeof(*recs));
	neps = calloc(c.n_endpoints + 1, sizeof(*neps));
	if (!recs || !neps) {
		err = -ENOMEM;
		goto runtime_fail;
	}
	if (bpf_map_lookup_elem(sgbpf_map_fd(d->h, SGBPF_MAP_STATE), &zero, &state)) {
		err = -errno;
		goto runtime_fail;
	}
	gen = (state.generation > d->generation ? state.generation : d->generation) + 1;
	slot = 1 - (state.active_slot & 1);
	for (size_t i = 0; i < c.n_endpoints; i++) {
		const struct sg_endpoint *ep = c.endpoints[i].src;
		struct sgbpf_ep_record *r = &recs[c.endpoints[i].ep_id];

		r->generation = gen;
		r->flags = SGBPF_EP_REC_USED;
		r->vlan_id = ep->vlan_id;
		snprintf(r->name, sizeof(r->name), "%s", ep->name);
		if (ep->interface)
			snprintf(r->ifname, sizeof(r->ifname), "%s", ep->interface);
		neps[i].name = strdup(ep->name);
		if (!neps[i].name) {
			err = -ENOMEM;
			goto runtime_fail;
		}
		memcpy(neps[i].ifname, r->ifname, sizeof(neps[i].ifname));
		neps[i].vlan_id = ep->vlan_id;
		neps[i].id = c.endpoints[i].ep_id;
	}
	err = sgbpf_ep_records_write(d->rec_fd, slot, recs);
	if (err)
		goto runtime_fail;
	sgbpf_fault_point("wrote ep_records");

	sgd_capture_begin();
	err = sgbpf_apply(d->h, &c, gen, &st);
	sgd_capture_end(err ? SGD_ERROR : SGD_WARN, "swap_message");
	if (err)
		goto runtime_fail;
	t2 = sgd_now_ns();
	res->swap_ns = st.write_ns + st.flip_ns;

	/* In force now. */
	oeps = d->eps;
	n_oeps = d->n_eps;
	qsort(neps, c.n_endpoints, sizeof(*neps), ep_cmp);
	d->eps = neps;
	d->n_eps = c.n_endpoints;
	neps = NULL;
	d->generation = gen;
	d->applied_real_ns = (uint64_t)time(NULL) * 1000000000ull;
	res->generation = gen;
	res->status = SGD_EXIT_OK;
	if (strcmp(d->policy_dir, dir)) {
		snprintf(d->policy_dir, sizeof(d->policy_dir), "%s", dir);
		sgd_watch_policy(d);
	}
	d->last_hash = hash;
	d->have_hash = have_hash;

	if (sgd_log_begin(&l, SGD_INFO, "policy_applied")) {
		sgd_log_u64(&l, "generation", gen);
		sgd_log_str(&l, "dir", dir);
		sgd_log_u64(&l, "endpoints", c.n_endpoints);
		sgd_log_u64(&l, "rules", c.n_rules);
		sgd_log_u64(&l, "slot", st.slot);
		sgd_log_ms(&l, "compile_ms", res->compile_ns);
		sgd_log_ms(&l, "swap_ms", res->swap_ns);
		sgd_log_ms(&l, "write_ms", st.write_ns);
		sgd_log_ms(&l, "flip_ms", st.flip_ns);
		sgd_log_ms(&l, "cleanup_ms", st.cleanup_ns);
		sgd_log_ms(&l, "total_ms", t2 - t0);
		sgd_log_u64(&l, "warnings", res->diags.n_warnings);
		sgd_log_end(&l);
	}

	if (d->records_lost) {
		/* Which id meant which pod before is unknown: no connection
		 * may carry over to a pod that might not own it. */
		sgd_forget_all_state(d);
		d->records_lost = false;
	}
	/* Endpoints gone from the policy: their interfaces and state go. */
	for (size_t i = 0; i < n_oeps; i++)
		if (!ep_by_name(d->eps, d->n_eps, oeps[i].name))
			sgd_ep_removed(d, oeps[i].id, oeps[i].name);
	eps_free(oeps, n_oeps);
	/* New endpoints, moved interfaces, fail-closed ones now known. */
	sgd_links_sync_all(d);
	sgd_probe_target_refresh(d, &pol.node);
	goto out;

runtime_fail:
	res->status = SGD_EXIT_ERROR;
	snprintf(res->error, sizeof(res->error), "applying %s failed: %s", dir, strerror(-err));
	if (sgd_log_begin(&l, SGD_ERROR, "policy_apply_failed")) {
		sgd_log_str(&l, "dir", dir);
		sgd_log_str(&l, "error", strerror(-err));
		sgd_log_u64(&l, "generation", d->generation);
		sgd_log_str(&l, "msg", "the policy in force stays in force");
		sgd_log_end(&l);
	}
out:
	if (res->status == SGD_EXIT_OK) {
		d->swaps++;
		d->last_swap_ns = res->swap_ns;
	} else if (res->status == SGD_EXIT_INVALID) {
		d->swaps_rejected++;
	} else {
		d->swap_errors++;
	}
	if (neps)
		eps_free(neps, c.n_endpoints);
	free(recs);
	free(prev.names);
	free(prev.ids);
	if (compiled)
		sg_compiled_free(&c);
	sg_policy_free(&pol);
	/* A large policy's parse and compile peak is transient: hand it back
	 * instead of keeping it resident until the next change. */
	malloc_trim(0);
	return res->status == SGD_EXIT_OK ? 0 : -EINVAL;
}

/* ---- conntrack garbage collection --------------------------------------- */

/* One collector pass (ct_gc.h); a line when it deleted or put back anything. */
void sgd_gc(struct sgd *d)
{
	struct sgbpf_ct_gc_stats *st = &d->gc_last, *tot = &d->gc_total;
	enum sgd_level level;
	struct sgd_log l;
	int err;

	sgd_capture_begin();
	err = sgbpf_ct_gc(d->h, st);
	sgd_capture_end(SGD_WARN, "gc_message");
	d->gc_runs++;
	if (err)
		d->gc_failures++;
	tot->scanned += st->scanned;
	tot->expired += st->expired;
	tot->deleted += st->deleted;
	tot->kept_refreshed += st->kept_refreshed;
	tot->lost_refreshed += st->lost_refreshed;
	tot->deleted_est += st->deleted_est;
	tot->deleted_new += st->deleted_new;
	tot->deleted_frags += st->deleted_frags;
	tot->restarts += st->restarts;
	tot->duration_ns += st->duration_ns;
	level = err ? SGD_WARN : st->deleted || st->kept_refreshed || st->lost_refreshed ?
		SGD_INFO : SGD_DEBUG;
	if (!sgd_log_begin(&l, level, "ct_gc"))
		return;
	sgd_log_u64(&l, "scanned", st->scanned);
	sgd_log_u64(&l, "expired", st->expired);
	sgd_log_u64(&l, "deleted", st->deleted);
	sgd_log_u64(&l, "deleted_est", st->deleted_est);
	sgd_log_u64(&l, "deleted_new", st->deleted_new);
	sgd_log_u64(&l, "deleted_frags", st->deleted_frags);
	sgd_log_u64(&l, "kept_refreshed", st->kept_refreshed);
	sgd_log_u64(&l, "lost_refreshed", st->lost_refreshed);
	sgd_log_ms(&l, "took_ms", st->duration_ns);
	if (err)
		sgd_log_str(&l, "error", strerror(-err));
	sgd_log_end(&l);
}

/* ---- the event loop ----------------------------------------------------- */

/*
 * One daemon per pin directory (per network namespace): an abstract unix
 * socket named after the pin dir is the lock. The kernel drops it when the
 * process dies, however it dies, so a kill -9 never leaves a stale lock.
 */
static int take_lock(const char *pin_dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd, n;

	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "sgbpfd:%s", pin_dir);
	if (n >= (int)sizeof(sa.sun_path) - 1)
		n = sizeof(sa.sun_path) - 2;
	len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;

	enum sgd_level lvl = level == LIBBPF_WARN ? SGD_WARN : SGD_DEBUG;

	if (level == LIBBPF_DEBUG || !sgd_log_enabled(SGD_DEBUG < lvl ? SGD_DEBUG : lvl))
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	/* bpf_tc_hook_create() on an existing clsact qdisc: expected. */
	if (strstr(buf, "Exclusivity flag on"))
		lvl = SGD_DEBUG;
	sgd_logm(lvl, "libbpf", "%s", buf);
	return 0;
}

static void drain_inotify(struct sgd *d)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	uint64_t now = sgd_now_ns();
	bool relevant = false;
	ssize_t n;

	while ((n = read(d->ino_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
				if (ev->wd == d->ino_wd) {
					sgd_logm(SGD_WARN, "watch_lost", "policy directory %s went "
						 "away; the policy in force stays; watching again "
						 "at the next reconcile", d->policy_dir);
					inotify_rm_watch(d->ino_fd, d->ino_wd);
					d->ino_wd = -1;
				}
				continue;
			}
			relevant = true;
		}
	}
	if (!relevant)
		return;
	if (!d->reload_due_ns)
		d->reload_first_ns = now;
	/* Debounce: wait for the burst to end, but never longer than 10x. */
	d->reload_due_ns = now + d->cfg->debounce_ms * 1000000ull;
	if (d->reload_due_ns > d->reload_first_ns + 10ull * d->cfg->debounce_ms * 1000000ull)
		d->reload_due_ns = d->reload_first_ns + 10ull * d->cfg->debounce_ms * 1000000ull;
}

static void drain_signals(struct sgd *d)
{
	struct signalfd_siginfo si;

	while (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			sgd_logm(SGD_INFO, "sighup", "reloading %s", d->policy_dir);
			d->reload_due_ns = sgd_now_ns();
			d->have_hash = false;
			continue;
		}
		sgd_logm(SGD_INFO, "exiting", "signal %u: leaving programs attached and maps "
			 "pinned in %s; enforcement goes on", si.ssi_signo, d->cfg->pin_dir);
		d->stop = true;
	}
}

static int loop(struct sgd *d)
{
	struct pollfd p[4 + SGD_METRICS_POLLFDS];
	struct sgd_reload_result res;

	while (!d->stop) {
		uint64_t now = sgd_now_ns(), due = UINT64_MAX;
		int timeout;

		if (d->cfg->reconcile_s)
			due = d->next_reconcile_ns;
		if (d->cfg->gc_s && d->next_gc_ns < due)
			due = d->next_gc_ns;
		if (d->reload_due_ns && d->reload_due_ns < due)
			due = d->reload_due_ns;
		if (sgd_metrics_due(d) < due)
			due = sgd_metrics_due(d);
		timeout = due == UINT64_MAX ? -1 :
			  due <= now ? 0 : (int)((due - now + 999999) / 1000000);
		p[0] = (struct pollfd){ .fd = d->sig_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = sgd_links_fd(d), .events = POLLIN };
		p[2] = (struct pollfd){ .fd = d->ino_fd, .events = POLLIN };
		p[3] = (struct pollfd){ .fd = d->ctl_fd, .events = POLLIN };
		if (poll(p, 4 + sgd_metrics_pollfds(d, p + 4), timeout) < 0 && errno != EINTR) {
			sgd_logm(SGD_ERROR, "poll_failed", "%s", strerror(errno));
			return SGD_EXIT_ERROR;
		}
		if (p[0].revents)
			drain_signals(d);
		if (d->stop)
			break;
		if (p[1].revents)
			sgd_links_ready(d);
		if (p[2].revents)
			drain_inotify(d);
		if (p[3].revents)
			sgd_ctl_serve(d);
		sgd_metrics_serve(d, p + 4);
		now = sgd_now_ns();
		if (d->reload_due_ns && d->reload_due_ns <= now) {
			d->reload_due_ns = 0;
			sgd_reload(d, d->policy_dir, false, &res);
			sgd_reload_result_free(&res);
		}
		if (d->cfg->reconcile_s && now >= d->next_reconcile_ns) {
			if (d->ino_wd < 0) {
				sgd_watch_policy(d);
				if (d->ino_wd >= 0)
					d->reload_due_ns = now;
			}
			sgd_reconcile(d);
			sgd_probe_target_refresh(d, NULL);
			d->next_reconcile_ns = sgd_now_ns() + d->cfg->reconcile_s * 1000000000ull;
		}
		if (d->cfg->gc_s && now >= d->next_gc_ns) {
			sgd_gc(d);
			d->next_gc_ns = sgd_now_ns() + d->cfg->gc_s * 1000000000ull;
		}
	}
	return SGD_EXIT_OK;
}

/* Does the policy slot hold any endpoint? (Both slots stay populated
 * between swaps, so only the slot in force counts.) */
static bool slot_has_endpoints(int ep_config_fd, uint32_t slot)
{
	struct sgbpf_ep_key k, next;
	bool first = true;

	while (!bpf_map_get_next_key(ep_config_fd, first ? NULL : &k, &next)) {
		if (next.slot == slot)
			return true;
		k = next;
		first = false;
	}
	return false;
}

int sgd_run(const struct sgd_config *cfg)
{
	struct sgd_reload_result res;
	struct sgbpf_state state;
	struct sgd d = { 0 };
	struct sgd_log l;
	uint32_t zero = 0;
	sigset_t mask;
	int err, rc = SGD_EXIT_ERROR, lock_fd = -1;

	d.cfg = cfg;
	d.rec_fd = d.ino_fd = d.ino_wd = d.ctl_fd = d.sig_fd = -1;
	sgd_log_setup(cfg->log_level, cfg->log_format);
	libbpf_set_print(libbpf_log);
	if (!realpath(cfg->policy_dir, d.policy_dir))
		snprintf(d.policy_dir, sizeof(d.policy_dir), "%s", cfg->policy_dir);
	if (sgbpf_pin_path(d.link_dir, sizeof(d.link_dir), cfg->pin_dir, "links", NULL)) {
		sgd_logm(SGD_ERROR, "config_invalid", "--pin-dir %s is too long", cfg->pin_dir);
		return SGD_EXIT_ERROR;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	lock_fd = take_lock(cfg->pin_dir);
	if (lock_fd < 0) {
		sgd_logm(SGD_ERROR, "already_running", "another sgbpfd in this network namespace "
			 "uses pin directory %s (%s); stop it first, or give this one another "
			 "--pin-dir", cfg->pin_dir, strerror(-lock_fd));
		goto out;
	}
	sgd_capture_begin();
	err = sgbpf_open_pinned(cfg->pin_dir, 0, &d.h);
	sgd_capture_end(SGD_ERROR, "load_failed");
	if (err)
		goto out;
	d.rec_fd = sgbpf_ep_records_open(cfg->pin_dir);
	if (d.rec_fd < 0)
		goto out;
	if (bpf_map_lookup_elem(sgbpf_map_fd(d.h, SGBPF_MAP_STATE), &zero, &state)) {
		sgd_logm(SGD_ERROR, "load_failed", "reading the state map failed: %s",
			 strerror(errno));
		goto out;
	}
	d.generation = state.generation;
	if (sgbpf_reused(d.h) && state.generation) {
		err = eps_from_records(&d, state.active_slot & 1);
		if (err) {
			sgd_logm(SGD_ERROR, "load_failed", "reading the endpoint records in %s "
				 "failed: %s", cfg->pin_dir, strerror(-err));
			goto out;
		}
		/* A policy in force with no records (ep_records removed by
		 * hand): endpoint ids can't be matched to pods again. */
		if (!d.n_eps && state.generation &&
		    slot_has_endpoints(sgbpf_map_fd(d.h, SGBPF_MAP_EP_CONFIG),
				       state.active_slot & 1)) {
			d.records_lost = true;
			sgd_logm(SGD_WARN, "records_lost", "%s/maps/ep_records has no endpoint "
				 "of the policy in force; conntrack state is dropped at the "
				 "first swap so no pod inherits another's connections",
				 cfg->pin_dir);
		}
	}
	if (sgd_log_begin(&l, SGD_INFO, "datapath_ready")) {
		sgd_log_str(&l, "pin_dir", cfg->pin_dir);
		sgd_log_str(&l, "takeover", sgbpf_reused(d.h) ? "yes" : "no");
		sgd_log_u64(&l, "generation", d.generation);
		sgd_log_u64(&l, "endpoints", d.n_eps);
		sgd_log_u64(&l, "layout_version", SGBPF_LAYOUT_VERSION);
		sgd_log_str(&l, "attach", sgbpf_attach_mode_name(cfg->attach));
		sgd_log_end(&l);
	}

	/* Links first, so none appearing during the first apply is missed. */
	err = sgd_links_open(&d);
	if (err)
		goto out;
	d.ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d.ino_fd < 0) {
		sgd_logm(SGD_ERROR, "watch_failed", "inotify_init1: %s", strerror(errno));
		goto out;
	}
	sgd_watch_policy(&d);

	sgd_reload(&d, d.policy_dir, true, &res);
	rc = res.status;
	sgd_reload_result_free(&res);
	/* Attach to what exists (also after a refused policy: the policy in
	 * force, if any, and fail-closed interfaces), then clean up. */
	sgd_links_sync_all(&d);
	sgd_reconcile(&d);
	if (cfg->once) {
		sgd_logm(SGD_INFO, "once_done", "exit %d; programs stay attached, maps pinned in "
			 "%s", rc, cfg->pin_dir);
		goto out;
	}
	if ((cfg->socket_path[0] && sgd_ctl_open(&d)) || sgd_metrics_open(&d)) {
		rc = SGD_EXIT_ERROR;
		goto out;
	}
	d.next_reconcile_ns = sgd_now_ns() + cfg->reconcile_s * 1000000000ull;
	d.next_gc_ns = sgd_now_ns() + cfg->gc_s * 1000000000ull;
	sgd_logm(SGD_INFO, "running", "watching %s", d.policy_dir);
	rc = loop(&d);
out:
	sgd_metrics_close(&d);
	sgd_ctl_close(&d);
	sgd_links_close(&d);
	if (d.ino_fd >= 0)
		close(d.ino_fd);
	if (d.sig_fd >= 0)
		close(d.sig_fd);
	if (d.rec_fd >= 0)
		close(d.rec_fd);
	eps_free(d.eps, d.n_eps);
	free(d.links);
	sgbpf_close(d.h);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
