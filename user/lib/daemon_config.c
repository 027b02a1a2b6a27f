// SPDX-License-Identifier: BSD-2-Clause
/* sgbpfd configuration: flags, and a "key = value" file read before them. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "metrics.h"
#include "pin.h"

enum {
	OPT_POLICY = 256, OPT_PIN_DIR, OPT_ATTACH, OPT_ROLE, OPT_GLOB, OPT_PREFIX,
	OPT_LOG_LEVEL, OPT_LOG_FORMAT, OPT_ONCE, OPT_RECONCILE, OPT_SOCKET, OPT_CONFIG,
	OPT_DEBOUNCE, OPT_GC, OPT_NODE_IFACE, OPT_METRICS, OPT_TRUNK, OPT_HELP,
};

static const struct option options[] = {
	{ "policy",             required_argument, NULL, OPT_POLICY },
	{ "pin-dir",            required_argument, NULL, OPT_PIN_DIR },
	{ "attach",             required_argument, NULL, OPT_ATTACH },
	{ "iface-role",         required_argument, NULL, OPT_ROLE },
	{ "iface-glob",         required_argument, NULL, OPT_GLOB },
	{ "iface-prefix",       required_argument, NULL, OPT_PREFIX },
	{ "log-level",          required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-format",         required_argument, NULL, OPT_LOG_FORMAT },
	{ "once",               no_argument,       NULL, OPT_ONCE },
	{ "reconcile-interval", required_argument, NULL, OPT_RECONCILE },
	{ "socket",             required_argument, NULL, OPT_SOCKET },
	{ "config",             required_argument, NULL, OPT_CONFIG },
	{ "debounce-ms",        required_argument, NULL, OPT_DEBOUNCE },
	{ "gc-interval",        required_argument, NULL, OPT_GC },
	{ "node-iface",         required_argument, NULL, OPT_NODE_IFACE },
	{ "metrics",            required_argument, NULL, OPT_METRICS },
	{ "trunk",              required_argument, NULL, OPT_TRUNK },
	{ "help",               no_argument,       NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

void sgd_usage(FILE *out)
{
	fprintf(out,
"usage: sgbpfd --policy DIR [options]\n"
"Enforces the EC2 security groups of the policy directory on this node's pod\n"
"interfaces; hot-swaps on every change of DIR. See docs/daemon.md.\n\n"
"  --policy DIR              policy directory (required)\n"
"  --pin-dir P               bpffs directory for maps, programs, links\n"
"                            (default " SGBPF_PIN_DIR_DEFAULT ")\n"
"  --attach tc|xdp|both      tc: TC ingress+egress (default); xdp (= both):\n"
"                            XDP for RX, TC egress for TX\n"
"  --iface-role pod|net      endpoints' interfaces face the pod (host veth,\n"
"                            default) or the network (VLAN device)\n"
"  --iface-glob GLOB         interfaces matching GLOB are attached fail closed\n"
"                            as soon as they appear (repeatable;\n"
"                            default 'vlan[0-9a-f]*', the VPC CNI's host veths)\n"
"  --iface-prefix P          same as --iface-glob 'P*'\n"
"  --log-level debug|info|warn   (default info)\n"
"  --log-format kv|json      (default kv)\n"
"  --once                    apply, attach, reconcile and exit:\n"
"                            0 ok, 1 policy invalid, 2 error\n"
"  --reconcile-interval S    reconcile every S seconds (default 30, 0 = only\n"
"                            at start)\n"
"  --debounce-ms MS          wait this long after a policy file change\n"
"                            (default 50)\n"
"  --gc-interval S           delete expired conntrack and fragment entries\n"
"                            every S seconds (default 10, 0 = never)\n"
"  --node-iface NAME         where the pods' kubelet-probe replies are steered\n"
"                            (default: the interface holding node.ipv4/ipv6)\n"
"  --socket PATH             control socket for 'sgbpf apply'\n"
"                            (default " SGD_SOCKET_DEFAULT ", '' = none)\n"
"  --metrics ADDR            serve Prometheus /metrics and /healthz over HTTP\n"
"                            on ADDR: host:port, [ipv6]:port or :port (every\n"
"                            address); default: off, nothing listens\n"
"  --trunk IFACE             the node's trunk ENI: XDP on it drops, by the\n"
"                            frame's 802.1Q VLAN id, what the pod of that\n"
"                            VLAN would drop as a new flow, before the stack\n"
"                            (an early-drop front line; the pods' own\n"
"                            interfaces stay attached and decide the rest)\n"
"  --config FILE             'key = value' lines, keys as the long flags;\n"
"                            flags override it\n"
"On SIGTERM/SIGINT sgbpfd exits leaving programs attached and maps pinned;\n"
"the next start takes over without dropping connections.\n");
}

void sgd_config_defaults(struct sgd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->pin_dir, sizeof(cfg->pin_dir), "%s", SGBPF_PIN_DIR_DEFAULT);
	snprintf(cfg->socket_path, sizeof(cfg->socket_path), "%s", SGD_SOCKET_DEFAULT);
	cfg->attach = SGBPF_ATTACH_TC;
	cfg->role = SGBPF_ROLE_POD_FACING;
	cfg->log_level = SGD_INFO;
	cfg->log_format = SGD_FMT_KV;
	cfg->reconcile_s = 30;
	cfg->debounce_ms = 50;
	cfg->gc_s = 10;
}

void sgd_config_free(struct sgd_config *cfg)
{
	for (int i = 0; i < cfg->n_globs; i++)
		free(cfg->globs[i]);
	cfg->n_globs = 0;
}

static int copy_path(char *dst, size_t len, const char *src, const char *what)
{
	if (strlen(src) >= len) {
		fprintf(stderr, "sgbpfd: %s '%.60s...' is too long (max %zu bytes)\n", what, src,
			len - 1);
		return -EINVAL;
	}
	strcpy(dst, src);
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max) {
		fprintf(stderr, "sgbpfd: %s: expected a number in 0..%u, got '%s'\n", what, max, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int add_glob(struct sgd_config *cfg, const char *glob, bool prefix)
{
	size_t n = strlen(glob);
	char *g;

	if (cfg->n_globs == SGD_MAX_GLOBS) {
		fprintf(stderr, "sgbpfd: at most %d --iface-glob/--iface-prefix patterns\n",
			SGD_MAX_GLOBS);
		return -EINVAL;
	}
	g = malloc(n + 2);
	if (!g)
		return -ENOMEM;
	memcpy(g, glob, n + 1);
	if (prefix)
		strcpy(g + n, "*");
	cfg->globs[cfg->n_globs++] = g;
	return 0;
}

/* Apply one option (from a flag or the config file). */
static int set_opt(struct sgd_config *cfg, int opt, const char *arg)
{
	unsigned v;

	switch (opt) {
	case OPT_POLICY:
		return copy_path(cfg->policy_dir, sizeof(cfg->policy_dir), arg, "--policy");
	case OPT_PIN_DIR:
		return copy_path(cfg->pin_dir, sizeof(cfg->pin_dir), arg, "--pin-dir");
	case OPT_SOCKET:
		return copy_path(cfg->socket_path, sizeof(cfg->socket_path), arg, "--socket");
	case OPT_ATTACH:
		if (sgbpf_attach_mode_parse(arg, &cfg->attach)) {
			fprintf(stderr, "sgbpfd: --attach: expected tc, xdp or both, got '%s'\n", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_ROLE:
		if (!strcmp(arg, "pod"))
			cfg->role = SGBPF_ROLE_POD_FACING;
		else if (!strcmp(arg, "net"))
			cfg->role = SGBPF_ROLE_NET_FACING;
		else {
			fprintf(stderr, "sgbpfd: --iface-role: expected pod or net, got '%s'\n", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_GLOB:
		return add_glob(cfg, arg, false);
	case OPT_PREFIX:
		return add_glob(cfg, arg, true);
	case OPT_LOG_LEVEL:
		if (!strcmp(arg, "debug"))
			cfg->log_level = SGD_DEBUG;
		else if (!strcmp(arg, "info"))
			cfg->log_level = SGD_INFO;
		else if (!strcmp(arg, "warn"))
			cfg->log_level = SGD_WARN;
		else {
			fprintf(stderr, "sgbpfd: --log-level: expected debug, info or warn, got '%s'\n",
				arg);
			return -EINVAL;
		}
		return 0;
	case OPT_LOG_FORMAT:
		if (!strcmp(arg, "kv"))
			cfg->log_format = SGD_FMT_KV;
		else if (!strcmp(arg, "json"))
			cfg->log_format = SGD_FMT_JSON;
		else {
			fprintf(stderr, "sgbpfd: --log-format: expected kv or json, got '%s'\n", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_ONCE:
		cfg->once = !arg || !strcmp(arg, "true") || !strcmp(arg, "1") || !strcmp(arg, "yes");
		return 0;
	case OPT_RECONCILE:
		if (parse_uint(arg, 86400, &v, "--reconcile-interval"))
			return -EINVAL;
		cfg->reconcile_s = v;
		return 0;
	case OPT_DEBOUNCE:
		if (parse_uint(arg, 10000, &v, "--debounce-ms"))
			return -EINVAL;
		cfg->debounce_ms = v;
		return 0;
	case OPT_GC:
		if (parse_uint(arg, 86400, &v, "--gc-interval"))
			return -EINVAL;
		cfg->gc_s = v;
		return 0;
	case OPT_NODE_IFACE:
		return copy_path(cfg->node_iface, sizeof(cfg->node_iface), arg, "--node-iface");
	case OPT_TRUNK:
		/* '' turns it off (over a config file's trunk key). */
		return copy_path(cfg->trunk, sizeof(cfg->trunk), arg, "--trunk");
	case OPT_METRICS: {
		char host[128];
		uint16_t port;

		/* '' turns it off (over a config file's metrics key). */
		if (*arg && sgbpf_http_addr_split(arg, host, sizeof(host), &port, "sgbpfd --metrics"))
			return -EINVAL;
		return copy_path(cfg->metrics_addr, sizeof(cfg->metrics_addr), arg, "--metrics");
	}
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static int read_config_file(struct sgd_config *cfg, const char *path)
{
	char line[PATH_MAX + 64];
	int lineno = 0, err = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		err = -errno;
		fprintf(stderr, "sgbpfd: cannot read config file %s: %s\n", path, strerror(-err));
		return err;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq, *key, *val;
		const struct option *o;

		lineno++;
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		key = s;
		val = NULL;
		if (eq) {
			*eq = 0;
			val = trim(eq + 1);
			/* Optional quotes around the value. */
			if (*val == '"' && strlen(val) >= 2 && val[strlen(val) - 1] == '"') {
				val[strlen(val) - 1] = 0;
				val++;
			}
		}
		key = trim(key);
		for (o = options; o->name; o++)
			if (!strcmp(o->name, key))
				break;
		if (!o->name || o->val == OPT_CONFIG || o->val == OPT_HELP ||
		    (o->has_arg == required_argument && !val)) {
			fprintf(stderr, "sgbpfd: %s:%d: %s '%s'; keys are the long flag names "
				"(policy, pin-dir, attach, ...), written 'key = value'\n", path,
				lineno, o->name ? "missing value for" : "unknown key", key);
			err = -EINVAL;
			break;
		}
		err = set_opt(cfg, o->val, val);
		if (err) {
			fprintf(stderr, "sgbpfd: (in %s:%d)\n", path, lineno);
			break;
		}
	}
	fclose(f);
	return err;
}

int sgd_config_parse(struct sgd_config *cfg, int argc, char **argv)
{
	int opt, err;

	/* Pass 1: --config and --help only. */
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == OPT_HELP || opt == 'h') {
			sgd_usage(stdout);
			return 1;
		}
		if (opt == OPT_CONFIG) {
			err = read_config_file(cfg, optarg);
			if (err)
				return err;
		}
	}
	/* Pass 2: every flag, overriding the file. */
	opterr = 1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			fprintf(stderr, "sgbpfd: run 'sgbpfd --help' for the options\n");
			return -EINVAL;
		}
		if (opt == OPT_CONFIG)
			continue;
		err = set_opt(cfg, opt, optarg);
		if (err)
			return err;
	}
	if (optind < argc) {
		fprintf(stderr, "sgbpfd: unexpected argument '%s'; run 'sgbpfd --help'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (!cfg->policy_dir[0]) {
		fprintf(stderr, "sgbpfd: --policy DIR is required (the policy directory to "
			"enforce and watch)\n");
		return -EINVAL;
	}
	if (!cfg->n_globs) {
		err = add_glob(cfg, "vlan[0-9a-f]*", false);
		if (err)
			return err;
	}
	return 0;
}
