// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf validate DIR: parse and compile a policy directory without touching
 * the datapath; every error and warning goes to stderr, a one-line summary
 * of the compiled tables to stdout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compile.h"
#include "live.h"
#include "parse.h"

static void validate_usage(FILE *out)
{
	fprintf(out,
		"usage: sgbpf validate [DIR] [--socket PATH]\n"
		"\n"
		"Reads every *.json in DIR (describe-security-groups, describe-security-group-rules,\n"
		"prefix lists, the endpoints document), checks cross references and compiles the\n"
		"policy into the datapath's tables, without loading anything.\n"
		"Errors and warnings go to stderr (\"FILE: JSON-PATH: message\"); a valid policy\n"
		"prints one summary line to stdout.\n"
		"Without DIR: the directory the running sgbpfd enforces (asked over --socket,\n"
		"default /run/sgbpf/sgbpfd.sock).\n"
		"\n"
		"Exit: 0 valid, 1 invalid (errors, or a table over capacity), 2 usage or I/O error.\n");
}

int cmd_validate(int argc, char **argv)
{
	struct sg_policy policy;
	struct sg_compiled compiled;
	struct sg_diags diags;
	const char *dir = NULL, *socket = NULL;
	char *live_dir = NULL;
	int err, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			validate_usage(stdout);
			return SG_EXIT_OK;
		}
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			socket = argv[++i];
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "sgbpf validate: unknown option '%s'; see 'sgbpf validate --help'\n",
				argv[i]);
			return SG_EXIT_ERROR;
		}
		if (dir) {
			fprintf(stderr, "sgbpf validate: one policy directory expected, got '%s' and '%s'\n",
				dir, argv[i]);
			return SG_EXIT_ERROR;
		}
		dir = argv[i];
	}
	if (!dir) {
		dir = live_dir = live_daemon_policy_dir("sgbpf validate", "DIR", socket);
		if (!dir)
			return SG_EXIT_ERROR;
	}

	sg_policy_init(&policy);
	sg_diags_init(&diags);
	err = sg_policy_load_dir(&policy, dir, &diags);
	if (!err)
		err = sg_compile(&policy, NULL, &compiled, &diags);
	sg_diags_print(&diags, stderr);
	if (!err) {
		printf("%s: valid: %zu groups, %zu rules, %zu endpoints, %zu prefixes, "
		       "%zu port blocks, %zu port sets, %zu exempt prefixes%s\n",
		       dir, policy.n_groups, compiled.n_rules, compiled.n_endpoints,
		       compiled.n_rule_entries, compiled.n_port_entries, compiled.n_sets,
		       compiled.n_exempt, diags.n_warnings ? " (see warnings)" : "");
		sg_compiled_free(&compiled);
		rc = SG_EXIT_OK;
	} else if (err == -EINVAL || err == -E2BIG) {
		fprintf(stderr, "%s: invalid: %zu error%s\n", dir, diags.n_errors,
			diags.n_errors == 1 ? "" : "s");
		rc = SG_EXIT_NO;
	} else {
		/* the diags already say what could not be read */
		if (!diags.n)
			fprintf(stderr, "sgbpf validate: %s: %s\n", dir, strerror(-err));
		rc = SG_EXIT_ERROR;
	}
	sg_diags_free(&diags);
	sg_policy_free(&policy);
	free(live_dir);
	return rc;
}
