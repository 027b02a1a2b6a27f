// SPDX-License-Identifier: BSD-2-Clause
/* Shared plumbing of the live-node verbs; see live.h. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "daemon.h"
#include "live.h"
#include "parse.h"

void live_opts_init(struct live_opts *o, const char *verb)
{
	memset(o, 0, sizeof(*o));
	o->verb = verb;
	o->pin_dir = SGBPF_PIN_DIR_DEFAULT;
	o->socket = SGD_SOCKET_DEFAULT;
}

int live_opt(struct live_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 0x101:
		o->pin_dir = arg;
		return 1;
	case 0x102:
		o->socket = arg;
		return 1;
	case 0x103:
		o->policy = arg;
		return 1;
	case 'o':
		if (!strcmp(arg, "json")) {
			o->json = true;
		} else if (!strcmp(arg, "table")) {
			o->json = false;
		} else {
			fprintf(stderr, "%s: unknown output format '%s'; use -o table or -o json\n",
				o->verb, arg);
			return -1;
		}
		return 1;
	}
	return 0;
}

int live_open(const struct live_opts *o, struct sgbpf_inspect *ins, unsigned flags)
{
	return sgbpf_inspect_open(ins, o->pin_dir, flags, o->verb) ? SG_EXIT_ERROR : SG_EXIT_OK;
}

cJSON *live_daemon_status(const struct live_opts *o)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *reply = NULL;
	cJSON *a;
	int fd;

	if (!o->socket[0] || strlen(o->socket) >= sizeof(sa.sun_path))
		return NULL;
	/* Probe first: a daemon that is down is an answer here, not an error
	 * worth sgd_ctl_call's message. */
	strcpy(sa.sun_path, o->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return NULL;
	}
	close(fd);
	if (sgd_ctl_call(o->socket, "{\"cmd\":\"status\"}", &reply, 5))
		return NULL;
	a = cJSON_Parse(reply);
	free(reply);
	if (a && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "ok"))) {
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

char *live_daemon_policy_dir(const char *verb, const char *how, const char *socket)
{
	struct live_opts o;
	cJSON *st;
	const char *d;
	char *dir = NULL;

	live_opts_init(&o, verb);
	if (socket)
		o.socket = socket;
	st = live_daemon_status(&o);
	d = st ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "dir")) : NULL;
	if (d && *d)
		dir = strdup(d);
	else
		fprintf(stderr, "%s: no policy directory given and sgbpfd does not answer at %s; "
			"give %s, or --socket PATH of the running daemon\n", verb, o.socket, how);
	cJSON_Delete(st);
	return dir;
}

int live_policy_load(const struct live_opts *o, const struct sgbpf_inspect *ins,
		     struct live_policy *lp, bool quiet_missing)
{
	struct sg_diags diags;
	int err;

	memset(lp, 0, sizeof(*lp));
	if (o->policy) {
		snprintf(lp->dir, sizeof(lp->dir), "%s", o->policy);
	} else {
		cJSON *st = live_daemon_status(o);
		const char *d = st ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "dir"))
				   : NULL;

		if (!d || !*d) {
			cJSON_Delete(st);
			if (!quiet_missing)
				fprintf(stderr, "%s: sgbpfd does not answer at %s, so the policy "
					"directory is unknown; pass --policy DIR\n", o->verb, o->socket);
			return -ENOENT;
		}
		snprintf(lp->dir, sizeof(lp->dir), "%s", d);
		cJSON_Delete(st);
	}
	sg_diags_init(&diags);
	err = sgbpf_inspect_compile(ins, lp->dir, &lp->pol, &lp->c, &diags, &lp->stale);
	if (err) {
		/* Warnings are the validator's business; errors explain the failure. */
		sg_diags_print(&diags, stderr);
		fprintf(stderr, "%s: cannot compile the policy in %s (%s); rules and SGs are "
			"unavailable\n", o->verb, lp->dir,
			err == -EINVAL || err == -E2BIG ? "invalid policy" : strerror(-err));
	} else {
		lp->ok = true;
		if (lp->stale)
			fprintf(stderr, "%s: warning: %s changed since sgbpfd applied it (generation "
				"%llu); rules shown are the directory's, not necessarily the ones in "
				"force\n", o->verb, lp->dir,
				(unsigned long long)ins->state.generation);
	}
	sg_diags_free(&diags);
	return err;
}

void live_policy_free(struct live_policy *lp)
{
	if (!lp->ok)
		return;
	sg_compiled_free(&lp->c);
	sg_policy_free(&lp->pol);
	lp->ok = false;
}

const struct sg_compiled_rule *live_rule(const struct live_policy *lp, uint32_t rule_id)
{
	if (!lp->ok || rule_id >= lp->c.n_rules)
		return NULL;
	return &lp->c.rules[rule_id];
}

int live_print_json(cJSON *doc)
{
	char *text = doc ? cJSON_Print(doc) : NULL;

	cJSON_Delete(doc);
	if (!text)
		return -ENOMEM;
	printf("%s\n", text);
	free(text);
	fflush(stdout);
	return 0;
}

cJSON *live_add_u64(cJSON *obj, const char *key, uint64_t v)
{
	return cJSON_AddNumberToObject(obj, key, (double)v);
}

char *live_duration(uint64_t ns, char *buf, size_t len)
{
	uint64_t s = ns / 1000000000ull;

	if (s >= 86400)
		snprintf(buf, len, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else if (s >= 1)
		snprintf(buf, len, "%.1fs", ns / 1e9);
	else
		snprintf(buf, len, "%llums", (unsigned long long)(ns / 1000000));
	return buf;
}

const char *live_proto(uint8_t proto, char *buf, size_t len)
{
	return sg_protocol_name(proto, buf, len);
}

int live_proto_parse(const char *text)
{
	static const struct { const char *name; int num; } names[] = {
		{ "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "icmpv6", 58 },
	};
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(text, names[i].name))
			return names[i].num;
	v = strtol(text, &end, 10);
	if (!*text || *end || v < 0 || v > 255)
		return -1;
	return (int)v;
}

const char *live_ep_name(const struct sgbpf_inspect *ins, uint32_t ep_id, char *buf,
			 size_t len)
{
	const struct sgbpf_ep_record *r = sgbpf_inspect_record(ins, ep_id);

	if (r)
		return r->name;
	if (ep_id == SGD_EP_UNASSIGNED)
		snprintf(buf, len, "ep-%u (unassigned)", ep_id);
	else
		snprintf(buf, len, "ep-%u", ep_id);
	return buf;
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	stop_flag = 1;
}

void live_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* No SA_RESTART: a blocking poll returns EINTR at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

bool live_stopped(void)
{
	return stop_flag;
}

bool live_sleep(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9) };

	while (!stop_flag && nanosleep(&ts, &ts) && errno == EINTR)
		;
	return !stop_flag;
}
