/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared plumbing of the live-node verbs (status, endpoints, sg, ct, stats,
 * monitor): common options, the daemon's status, the policy in force. */
#ifndef SGBPF_CLI_LIVE_H
#define SGBPF_CLI_LIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "compile.h"
#include "inspect.h"

struct live_opts {
	const char *verb;            /* "sgbpf status", for messages          */
	const char *pin_dir;
	const char *socket;
	const char *policy;          /* --policy DIR, NULL: ask sgbpfd        */
	bool json;
};

/* The options every live verb takes (getopt_long values 0x100..0x1ff). */
#define LIVE_LONGOPTS                                          \
	{ "pin-dir", required_argument, NULL, 0x101 },         \
	{ "socket", required_argument, NULL, 0x102 },          \
	{ "policy", required_argument, NULL, 0x103 },          \
	{ "output", required_argument, NULL, 'o' },            \
	{ "help", no_argument, NULL, 'h' }
#define LIVE_COMMON_HELP \
	"  --pin-dir P     sgbpfd's pin directory (default " SGBPF_PIN_DIR_DEFAULT ")\n" \
	"  --socket PATH   sgbpfd's control socket (default /run/sgbpf/sgbpfd.sock)\n"   \
	"  -o table|json   output for people (default) or machines\n"

void live_opts_init(struct live_opts *o, const char *verb);
/* Handle a common option; 1 when it was one, 0 when not, -1 on a bad value
 * (message printed). */
int live_opt(struct live_opts *o, int opt, const char *arg);

/* Open the pinned maps; returns SG_EXIT_OK or SG_EXIT_ERROR (message printed). */
int live_open(const struct live_opts *o, struct sgbpf_inspect *ins, unsigned flags);

/* Ask sgbpfd for {"cmd":"status"}; NULL when it does not answer (no message). */
cJSON *live_daemon_status(const struct live_opts *o);

/* The policy in force, compiled with the live endpoint ids: from --policy, or
 * the directory sgbpfd reports. Returns 0, or -errno after a message (when
 * quiet_missing, no message when no directory can be found: -ENOENT). */
struct live_policy {
	char dir[4096];
	struct sg_policy pol;
	struct sg_compiled c;
	bool stale;                  /* dir changed since it was applied      */
	bool ok;
};
int live_policy_load(const struct live_opts *o, const struct sgbpf_inspect *ins,
		     struct live_policy *lp, bool quiet_missing);
void live_policy_free(struct live_policy *lp);
const struct sg_compiled_rule *live_rule(const struct live_policy *lp, uint32_t rule_id);

/* For the offline verbs (validate, rules, check, replay) run without a policy
 * directory: the directory sgbpfd enforces, asked over its control socket
 * (socket NULL: the default). Returns the directory (malloc'd; caller frees),
 * or NULL after a one-line message naming the socket and what to do (how:
 * how the verb takes a directory, "DIR" or "--policy DIR"). */
char *live_daemon_policy_dir(const char *verb, const char *how, const char *socket);

/* Print a cJSON document (pretty) and free it. Returns 0 or -ENOMEM. */
int live_print_json(cJSON *doc);
/* cJSON number for a u64 counter (exact up to 2^53). */
cJSON *live_add_u64(cJSON *obj, const char *key, uint64_t v);

/* "1d02h", "3m12s", "850ms" */
char *live_duration(uint64_t ns, char *buf, size_t len);
/* Protocol name: "tcp", "udp", "icmp", "icmpv6", else the number. */
const char *live_proto(uint8_t proto, char *buf, size_t len);
/* Parse "tcp"/"udp"/"icmp"/"icmpv6"/number. -1 on error. */
int live_proto_parse(const char *text);
/* Endpoint display name for ep_id ("e2e/web-0", "ep-1023 (no endpoint)"). */
const char *live_ep_name(const struct sgbpf_inspect *ins, uint32_t ep_id, char *buf,
			 size_t len);
/* Sleep s seconds (fractions allowed), returning early on SIGINT/SIGTERM;
 * false when interrupted. live_signals() installs the handlers. */
void live_signals(void);
bool live_sleep(double s);
bool live_stopped(void);

#endif
