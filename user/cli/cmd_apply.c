// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf apply [DIR] [--socket PATH]: ask the running sgbpfd to reload its
 * policy (from DIR, which it then watches, or from its own directory).
 * Exit 0 when the new policy took, 1 when it was refused (the errors are
 * printed, the policy in force stays), 2 when sgbpfd can't be reached.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "daemon.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sgbpf apply [DIR] [--socket PATH] [--timeout S]\n"
		"Ask the running sgbpfd to reload DIR (it then watches DIR) or, without DIR,\n"
		"the directory it watches. Exit 0: applied, 1: refused (errors printed,\n"
		"the policy in force stays), 2: sgbpfd unreachable or failed.\n"
		"  --socket PATH   sgbpfd's control socket (default " SGD_SOCKET_DEFAULT ")\n"
		"  --timeout S     seconds to wait for the answer (default 30)\n");
}

int cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = SGD_SOCKET_DEFAULT, *dir = NULL;
	char abs[PATH_MAX], *req, *reply = NULL;
	unsigned timeout = 30;
	cJSON *r, *a;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 't':
			timeout = (unsigned)strtoul(optarg, NULL, 10);
			if (!timeout)
				timeout = 1;
			break;
		case 'h':
			usage(stdout);
			return SG_EXIT_OK;
		default:
			usage(stderr);
			return SG_EXIT_ERROR;
		}
	}
	if (optind < argc)
		dir = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "sgbpf apply: one directory at most, got '%s' too\n", argv[optind]);
		return SG_EXIT_ERROR;
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "cmd", "apply");
	if (dir) {
		/* The daemon resolves nothing relative to our cwd. */
		if (!realpath(dir, abs)) {
			fprintf(stderr, "sgbpf apply: policy directory %s: %m\n", dir);
			cJSON_Delete(r);
			return SG_EXIT_ERROR;
		}
		cJSON_AddStringToObject(r, "dir", abs);
	}
	req = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	if (!req)
		return SG_EXIT_ERROR;
	rc = sgd_ctl_call(sock, req, &reply, timeout);
	free(req);
	if (rc)
		return SG_EXIT_ERROR;

	a = cJSON_Parse(reply);
	if (!a) {
		fprintf(stderr, "sgbpf apply: unreadable answer from sgbpfd: %s\n", reply);
		free(reply);
		return SG_EXIT_ERROR;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "ok"))) {
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(a, "generation");
		const cJSON *cm = cJSON_GetObjectItemCaseSensitive(a, "compile_ms");
		const cJSON *sm = cJSON_GetObjectItemCaseSensitive(a, "swap_ms");

		printf("applied generation %.0f (compile %.1f ms, swap %.1f ms)\n",
		       cJSON_IsNumber(g) ? g->valuedouble : 0.0,
		       cJSON_IsNumber(cm) ? cm->valuedouble : 0.0,
		       cJSON_IsNumber(sm) ? sm->valuedouble : 0.0);
		rc = SG_EXIT_OK;
	} else {
		const cJSON *errs = cJSON_GetObjectItemCaseSensitive(a, "errors"), *e;
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(a, "error");
		const cJSON *gif = cJSON_GetObjectItemCaseSensitive(a, "generation_in_force");
		bool invalid = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "invalid"));

		cJSON_ArrayForEach(e, errs) {
			const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "file"));
			const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "path"));
			const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));

			fprintf(stderr, "%s%s%s%s%s\n", f && *f ? f : "", f && *f ? ": " : "",
				p && *p ? p : "", p && *p ? ": " : "", m ? m : "");
		}
		fprintf(stderr, "sgbpf apply: %s%s", cJSON_IsString(msg) ? msg->valuestring :
			"refused", invalid ? "; the policy in force stays" : "");
		if (cJSON_IsNumber(gif))
			fprintf(stderr, " (generation %.0f)", gif->valuedouble);
		fprintf(stderr, "\n");
		rc = invalid ? SG_EXIT_NO : SG_EXIT_ERROR;
	}
	cJSON_Delete(a);
	free(reply);
	return rc;
}
