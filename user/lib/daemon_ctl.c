// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpfd control socket: a unix stream socket, one JSON request line and one
 * JSON answer line per connection.
 *   {"cmd":"apply"}                 reload the policy directory in use
 *   {"cmd":"apply","dir":"/abs"}    reload from /abs and watch it from now on
 *   {"cmd":"status"}                generation, dir, appliedAt (UTC, null when
 *                                   not applied by this process), attach mode,
 *                                   links: the interfaces sgbpfd manages,
 *                                   gc: conntrack GC counts (last, total)
 * Answers: {"ok":true,"generation":N,"compile_ms":..,"swap_ms":..}, or
 * {"ok":false,"invalid":true,"errors":[{"file","path","message"}...]} for a
 * refused policy, or {"ok":false,"error":"..."} otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cjson/cJSON.h>

#include "daemon_int.h"

static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(dir, 0755);
		*p = '/';
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int sun_set(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int sgd_ctl_open(struct sgd *d)
{
	const char *path = d->cfg->socket_path;
	struct sockaddr_un sa;
	int fd, err;

	err = sun_set(&sa, path);
	if (!err)
		err = mkdir_parent(path);
	if (err) {
		sgd_logm(SGD_ERROR, "socket_failed", "control socket %s: %s", path, strerror(-err));
		return err;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket file left by a killed daemon: nobody answers on it. */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 8)) {
		err = -errno;
		sgd_logm(SGD_ERROR, "socket_failed", "binding control socket %s failed: %s", path,
			 strerror(-err));
		close(fd);
		return err;
	}
	d->ctl_fd = fd;
	return 0;
}

void sgd_ctl_close(struct sgd *d)
{
	if (d->ctl_fd < 0)
		return;
	close(d->ctl_fd);
	d->ctl_fd = -1;
	unlink(d->cfg->socket_path);
}

/* Read one line (up to len-1 bytes) within timeout_ms. */
static int read_line(int fd, char *buf, size_t len, int timeout_ms)
{
	size_t n = 0;

	while (n < len - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		r = read(fd, buf + n, len - 1 - n);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		n += r;
		if (memchr(buf + n - r, '\n', r))
			break;
	}
	buf[n] = 0;
	return n ? (int)n : -EPIPE;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= w;
	}
}

static cJSON *answer_reload(struct sgd *d, const char *dir)
{
	struct sgd_reload_result res;
	cJSON *a = cJSON_CreateObject();

	sgd_reload(d, dir, true, &res);
	cJSON_AddBoolToObject(a, "ok", res.status == SGD_EXIT_OK);
	cJSON_AddStringToObject(a, "dir", dir);
	if (res.status == SGD_EXIT_OK) {
		cJSON_AddNumberToObject(a, "generation", (double)res.generation);
		cJSON_AddNumberToObject(a, "compile_ms", res.compile_ns / 1e6);
		cJSON_AddNumberToObject(a, "swap_ms", res.swap_ns / 1e6);
	} else {
		cJSON *errs = cJSON_AddArrayToObject(a, "errors");

		cJSON_AddBoolToObject(a, "invalid", res.status == SGD_EXIT_INVALID);
		cJSON_AddStringToObject(a, "error", res.error);
		cJSON_AddNumberToObject(a, "generation_in_force", (double)d->generation);
		for (size_t i = 0; i < res.diags.n; i++) {
			const struct sg_diag *g = &res.diags.items[i];
			cJSON *e;

			if (g->severity != SG_ERROR)
				continue;
			e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "file", g->file ? g->file : "");
			cJSON_AddStringToObject(e, "path", g->path ? g->path : "");
			cJSON_AddStringToObject(e, "message", g->message ? g->message : "");
			cJSON_AddItemToArray(errs, e);
		}
	}
	sgd_reload_result_free(&res);
	return a;
}

/* Conntrack GC counts: the last pass and totals since sgbpfd started. */
static void gc_counts(cJSON *o, const struct sgbpf_ct_gc_stats *st)
{
	cJSON_AddNumberToObject(o, "scanned", (double)st->scanned);
	cJSON_AddNumberToObject(o, "expired", (double)st->expired);
	cJSON_AddNumberToObject(o, "deleted", (double)st->deleted);
	cJSON_AddNumberToObject(o, "deletedEstablished", (double)st->deleted_est);
	cJSON_AddNumberToObject(o, "deletedNew", (double)st->deleted_new);
	cJSON_AddNumberToObject(o, "deletedFragments", (double)st->deleted_frags);
	cJSON_AddNumberToObject(o, "keptRefreshed", (double)st->kept_refreshed);
	cJSON_AddNumberToObject(o, "lostRefreshed", (double)st->lost_refreshed);
	cJSON_AddNumberToObject(o, "ms", st->duration_ns / 1e6);
}

static void status_gc(const struct sgd *d, cJSON *a)
{
	cJSON *gc = cJSON_AddObjectToObject(a, "gc");

	if (!gc)
		return;
	cJSON_AddNumberToObject(gc, "intervalSeconds", d->cfg->gc_s);
	cJSON_AddNumberToObject(gc, "runs", (double)d->gc_runs);
	cJSON_AddNumberToObject(gc, "failures", (double)d->gc_failures);
	gc_counts(cJSON_AddObjectToObject(gc, "last"), &d->gc_last);
	gc_counts(cJSON_AddObjectToObject(gc, "total"), &d->gc_total);
}

/* For `sgbpf status`: when the policy took, and what sgbpfd attached. */
static void status_more(const struct sgd *d, cJSON *a)
{
	cJSON *links = cJSON_CreateArray();
	char when[32];
	time_t t = d->applied_real_ns / 1000000000ull;
	struct tm tm;

	if (d->applied_real_ns && gmtime_r(&t, &tm) &&
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		cJSON_AddStringToObject(a, "appliedAt", when);
	else
		cJSON_AddNullToObject(a, "appliedAt");
	cJSON_AddStringToObject(a, "attach", sgbpf_attach_mode_name(d->cfg->attach));
	for (size_t i = 0; i < d->n_links; i++) {
		const struct sgd_link *l = &d->links[i];
		cJSON *o;

		if (!l->attached && l->ep_id == SGD_NONE)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "interface", l->name);
		cJSON_AddNumberToObject(o, "ifindex", l->ifindex);
		if (l->ep_id == SGD_NONE)
			cJSON_AddNullToObject(o, "epId");
		else
			cJSON_AddNumberToObject(o, "epId", l->ep_id);
		cJSON_AddBoolToObject(o, "attached", l->attached);
		cJSON_AddBoolToObject(o, "enforced", l->enforced);
		cJSON_AddItemToArray(links, o);
	}
	cJSON_AddItemToObject(a, "links", links);
	status_gc(d, a);
}

static cJSON *answer(struct sgd *d, const char *line)
{
	cJSON *req = cJSON_Parse(line), *a;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	const cJSON *dir = cJSON_GetObjectItemCaseSensitive(req, "dir");

	if (cJSON_IsString(cmd) && !strcmp(cmd->valuestring, "apply")) {
		if (dir && (!cJSON_IsString(dir) || dir->valuestring[0] != '/')) {
			a = cJSON_CreateObject();
			cJSON_AddBoolToObject(a, "ok", false);
			cJSON_AddStringToObject(a, "error", "\"dir\" must be an absolute path");
		} else {
			char *target = strdup(dir ? dir->valuestring : d->policy_dir);

			a = target ? answer_reload(d, target) : NULL;
			free(target);
		}
	} else if (cJSON_IsString(cmd) && !strcmp(cmd->valuestring, "status")) {
		a = cJSON_CreateObject();
		cJSON_AddBoolToObject(a, "ok", true);
		cJSON_AddNumberToObject(a, "generation", (double)d->generation);
		cJSON_AddStringToObject(a, "dir", d->policy_dir);
		cJSON_AddNumberToObject(a, "endpoints", (double)d->n_eps);
		cJSON_AddNumberToObject(a, "interfaces", (double)d->n_links);
		status_more(d, a);
	} else {
		a = cJSON_CreateObject();
		cJSON_AddBoolToObject(a, "ok", false);
		cJSON_AddStringToObject(a, "error", "unknown request; send {\"cmd\":\"apply\"[,"
					"\"dir\":\"/abs/dir\"]} or {\"cmd\":\"status\"}");
	}
	cJSON_Delete(req);
	return a;
}

void sgd_ctl_serve(struct sgd *d)
{
	char line[PATH_MAX + 256];
	int fd;

	while ((fd = accept4(d->ctl_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		cJSON *a = NULL;
		char *out;

		if (read_line(fd, line, sizeof(line), 1000) > 0) {
			a = answer(d, line);
			sgd_logm(SGD_DEBUG, "control_request", "%s", strtok(line, "\n"));
		}
		out = a ? cJSON_PrintUnformatted(a) : NULL;
		if (out) {
			write_all(fd, out, strlen(out));
			write_all(fd, "\n", 1);
		}
		free(out);
		cJSON_Delete(a);
		close(fd);
	}
}

int sgd_ctl_call(const char *socket_path, const char *request, char **reply,
		 unsigned timeout_s)
{
	struct sockaddr_un sa;
	char buf[1 << 16];
	int fd, err, n;

	*reply = NULL;
	err = sun_set(&sa, socket_path);
	if (err) {
		fprintf(stderr, "sgbpf: control socket path %s is too long\n", socket_path);
		return err;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		fprintf(stderr, "sgbpf: cannot reach sgbpfd at %s: %s (is sgbpfd running? "
			"--socket sets another path)\n", socket_path, strerror(-err));
		close(fd);
		return err;
	}
	write_all(fd, request, strlen(request));
	write_all(fd, "\n", 1);
	n = read_line(fd, buf, sizeof(buf), timeout_s * 1000);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "sgbpf: sgbpfd at %s gave no answer within %u s\n", socket_path,
			timeout_s);
		return n ? n : -EPIPE;
	}
	*reply = strdup(buf);
	return *reply ? 0 : -ENOMEM;
}
