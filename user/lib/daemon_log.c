// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpfd logging: one line per event on stderr, key=value or JSON, always
 * with ts, level and event. Each line is written with one write(2) so lines
 * from a restarting daemon never interleave mid-line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "daemon_int.h"

static enum sgd_level log_level = SGD_INFO;
static enum sgd_format log_fmt = SGD_FMT_KV;
static int log_fd = 2;
static int capture_fd = -1, saved_fd = -1;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

uint64_t sgd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void sgd_log_setup(enum sgd_level level, enum sgd_format fmt)
{
	log_level = level;
	log_fmt = fmt;
}

bool sgd_log_enabled(enum sgd_level level)
{
	return level >= log_level;
}

static void put(struct sgd_log *l, const char *s, size_t n)
{
	/* Leave room for the closing "}\n". */
	if (l->len + n + 3 > sizeof(l->buf))
		n = sizeof(l->buf) > l->len + 3 ? sizeof(l->buf) - l->len - 3 : 0;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct sgd_log *l, const char *s)
{
	put(l, s, strlen(s));
}

/* A value: JSON string, or kv value quoted when it has spaces/quotes/=. */
static void put_value(struct sgd_log *l, const char *v, bool force_quote)
{
	bool quote = force_quote || !*v;
	char esc[8];

	for (const char *p = v; *p && !quote; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20)
			quote = true;
	if (quote)
		put(l, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = *p;
			put(l, esc, 2);
		} else if (*p == '\n') {
			put(l, "\\n", 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			puts_(l, esc);
		} else {
			put(l, (const char *)p, 1);
		}
	}
	if (quote)
		put(l, "\"", 1);
}

static void put_key(struct sgd_log *l, const char *key)
{
	if (l->fmt == SGD_FMT_JSON) {
		put(l, ",\"", 2);
		puts_(l, key);
		put(l, "\":", 2);
	} else {
		put(l, " ", 1);
		puts_(l, key);
		put(l, "=", 1);
	}
}

bool sgd_log_begin(struct sgd_log *l, enum sgd_level level, const char *event)
{
	struct timespec ts;
	struct tm tm;
	char tbuf[64];

	l->len = 0;
	l->fmt = log_fmt;
	l->on = sgd_log_enabled(level);
	if (!l->on)
		return false;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(tbuf, sizeof(tbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	if (l->fmt == SGD_FMT_JSON) {
		puts_(l, "{\"ts\":\"");
		puts_(l, tbuf);
		puts_(l, "\"");
	} else {
		puts_(l, "ts=");
		puts_(l, tbuf);
	}
	sgd_log_str(l, "level", level_names[level]);
	sgd_log_str(l, "event", event);
	return true;
}

void sgd_log_str(struct sgd_log *l, const char *key, const char *val)
{
	if (!l->on)
		return;
	put_key(l, key);
	put_value(l, val ? val : "", l->fmt == SGD_FMT_JSON);
}

static void put_raw(struct sgd_log *l, const char *key, const char *num)
{
	if (!l->on)
		return;
	put_key(l, key);
	puts_(l, num);
}

void sgd_log_u64(struct sgd_log *l, const char *key, uint64_t val)
{
	char b[32];

	snprintf(b, sizeof(b), "%llu", (unsigned long long)val);
	put_raw(l, key, b);
}

void sgd_log_i64(struct sgd_log *l, const char *key, int64_t val)
{
	char b[32];

	snprintf(b, sizeof(b), "%lld", (long long)val);
	put_raw(l, key, b);
}

void sgd_log_ms(struct sgd_log *l, const char *key, uint64_t ns)
{
	char b[32];

	snprintf(b, sizeof(b), "%.3f", ns / 1e6);
	put_raw(l, key, b);
}

void sgd_log_end(struct sgd_log *l)
{
	ssize_t w;

	if (!l->on)
		return;
	if (l->fmt == SGD_FMT_JSON)
		l->buf[l->len++] = '}';
	l->buf[l->len++] = '\n';
	for (size_t off = 0; off < l->len; off += w) {
		w = write(log_fd, l->buf + off, l->len - off);
		if (w < 0 && errno == EINTR) {
			w = 0;
			continue;
		}
		if (w <= 0)
			break;
	}
}

void sgd_logm(enum sgd_level level, const char *event, const char *fmt, ...)
{
	struct sgd_log l;
	char msg[2048];
	va_list ap;

	if (!sgd_log_begin(&l, level, event))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sgd_log_str(&l, "msg", msg);
	sgd_log_end(&l);
}

void sgd_log_diags(const struct sg_diags *diags, const char *dir)
{
	for (size_t i = 0; i < diags->n; i++) {
		const struct sg_diag *g = &diags->items[i];
		bool err = g->severity == SG_ERROR;
		struct sgd_log l;

		if (!sgd_log_begin(&l, err ? SGD_ERROR : SGD_WARN,
				   err ? "policy_error" : "policy_warning"))
			continue;
		sgd_log_str(&l, "dir", dir);
		if (g->file)
			sgd_log_str(&l, "file", g->file);
		if (g->path && *g->path)
			sgd_log_str(&l, "path", g->path);
		sgd_log_str(&l, "msg", g->message);
		sgd_log_end(&l);
	}
}

void sgd_capture_begin(void)
{
	if (capture_fd >= 0)
		return;
	capture_fd = memfd_create("sgbpfd-stderr", MFD_CLOEXEC);
	if (capture_fd < 0)
		return;
	fflush(stderr);
	saved_fd = dup(2);
	if (saved_fd < 0) {
		close(capture_fd);
		capture_fd = -1;
		return;
	}
	log_fd = saved_fd;
	dup2(capture_fd, 2);
}

void sgd_capture_end(enum sgd_level level, const char *event)
{
	char buf[16384], *line, *save = NULL;
	ssize_t n;

	if (capture_fd < 0)
		return;
	fflush(stderr);
	dup2(saved_fd, 2);
	close(saved_fd);
	saved_fd = -1;
	log_fd = 2;
	n = pread(capture_fd, buf, sizeof(buf) - 1, 0);
	close(capture_fd);
	capture_fd = -1;
	if (n <= 0)
		return;
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "sgbpf: ", 7))
			line += 7;
		if (*line)
			sgd_logm(level, event, "%s", line);
	}
}
