/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sgbpfd, the node daemon, as library code (the main in user/daemon/ is a
 * thin wrapper). See docs/daemon.md.
 */
#ifndef SGBPF_DAEMON_H
#define SGBPF_DAEMON_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sgbpf/layout.h>

#include "attach.h"

#define SGD_SOCKET_DEFAULT "/run/sgbpf/sgbpfd.sock"
#define SGD_MAX_GLOBS 16
/* Endpoint id of interfaces whose endpoint is not known: it never has an
 * ep_config, so the datapath drops their new flows (fail closed). */
#define SGD_EP_UNASSIGNED (SGBPF_MAX_ENDPOINTS - 1)

enum sgd_level { SGD_DEBUG = 0, SGD_INFO, SGD_WARN, SGD_ERROR };
enum sgd_format { SGD_FMT_KV = 0, SGD_FMT_JSON };

/* Exit codes of sgbpfd and of `sgbpf apply`. */
enum { SGD_EXIT_OK = 0, SGD_EXIT_INVALID = 1, SGD_EXIT_ERROR = 2 };

struct sgd_config {
	char policy_dir[PATH_MAX];
	char pin_dir[PATH_MAX];
	char socket_path[PATH_MAX];  /* "" = no control socket          */
	enum sgbpf_attach_mode attach;
	enum sgbpf_role role;        /* of the endpoints' interfaces     */
	/* Interfaces matching one of these (fnmatch) are attached fail
	 * closed as soon as they appear, before their endpoint is known. */
	char *globs[SGD_MAX_GLOBS];
	int n_globs;
	enum sgd_level log_level;
	enum sgd_format log_format;
	bool once;
	unsigned reconcile_s;        /* 0 = only at start               */
	unsigned debounce_ms;
	unsigned gc_s;               /* conntrack GC period, 0 = never   */
	char node_iface[IF_NAMESIZE]; /* probe steering target; "" = the
				       * interface holding the node address */
	char metrics_addr[128];      /* --metrics ADDR, "" = no listener  */
	char trunk[IF_NAMESIZE];     /* --trunk: XDP front line keyed by
				      * VLAN id; "" = none               */
};

void sgd_config_defaults(struct sgd_config *cfg);
void sgd_config_free(struct sgd_config *cfg);
/*
 * Flags, with --config FILE (lines "key = value", keys are the long flag
 * names without "--", '#' comments) read first so flags override it.
 * Returns 0, 1 after printing --help, or -EINVAL after a message on stderr.
 */
int sgd_config_parse(struct sgd_config *cfg, int argc, char **argv);
void sgd_usage(FILE *out);

/* Run the daemon (or --once). Returns an exit code (SGD_EXIT_*). */
int sgd_run(const struct sgd_config *cfg);

/*
 * Control socket client: send one request line to the daemon and return its
 * one-line JSON answer in *reply (malloc'd). Returns 0, or -errno when the
 * daemon can't be reached (message on stderr).
 */
int sgd_ctl_call(const char *socket_path, const char *request, char **reply,
		 unsigned timeout_s);

#endif
