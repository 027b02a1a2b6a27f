// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf: the command-line tool. Each verb lives in its own cmd_*.c file.
 * Exit codes: 0 success, 1 a negative answer (deny, validation failed),
 * 2 usage or runtime error.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct sg_cli_cmd commands[] = {
	{ "validate", cmd_validate, "validate DIR                 check a policy directory" },
	{ "rules",    cmd_rules,    "rules DIR [--endpoint NAME] [-o json]  effective rules per endpoint" },
	{ "check",    cmd_check,    "check --policy DIR --endpoint NAME --in|--out --proto P --remote ADDR [--port N] [--icmp T/C]" },
	{ "replay",   cmd_replay,   "replay --policy DIR FILE.pcap [--verdicts] [-o json]" },
	{ "apply",    cmd_apply,    "apply [DIR] [--socket PATH]  ask the running sgbpfd to reload" },
	{ "status",   cmd_status,   "status [-o json]             daemon, attachments, policy, map fill, drops" },
	{ "endpoints", cmd_endpoints, "endpoints [-o json]          live endpoints: interfaces, addresses, SGs, counters" },
	{ "endpoint", cmd_endpoint, "endpoint NAME [-o json]      one endpoint with its effective rules" },
	{ "sg",       cmd_sg,       "sg ID [-o json]              a group's rules, endpoints and member addresses" },
	{ "ct",       cmd_ct,       "ct list|flush [--endpoint NAME] [--proto P] [--addr A]  conntrack table" },
	{ "stats",    cmd_stats,    "stats [--watch S] [-o json]  counters per endpoint, rule and drop reason" },
	{ "import",   cmd_import,   "import --pods F --sgp F [--node N] [--nodes F] [-o FILE]  endpoints document from kubectl output" },
	{ "monitor",  cmd_monitor,  "monitor [--endpoint NAME] [--drops-only] [--probes-only] [--format text|json|flowlog]" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: sgbpf COMMAND [ARGS]   (sgbpf COMMAND --help for details)\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n", commands[i].summary);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? SG_EXIT_ERROR : SG_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "sgbpf: unknown command '%s'; run 'sgbpf --help' for the list\n", argv[1]);
	return SG_EXIT_ERROR;
}
