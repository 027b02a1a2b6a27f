/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef SGBPF_CLI_H
#define SGBPF_CLI_H

enum { SG_EXIT_OK = 0, SG_EXIT_NO = 1, SG_EXIT_ERROR = 2 };

struct sg_cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);  /* argv[0] is the verb */
	const char *summary;
};

int cmd_validate(int argc, char **argv);  /* cmd_validate.c */
int cmd_rules(int argc, char **argv);     /* cmd_rules.c    */
int cmd_check(int argc, char **argv);     /* cmd_check.c    */
int cmd_replay(int argc, char **argv);    /* cmd_replay.c   */
int cmd_apply(int argc, char **argv);     /* cmd_apply.c    */
int cmd_status(int argc, char **argv);    /* cmd_status.c   */
int cmd_endpoints(int argc, char **argv); /* cmd_endpoints.c */
int cmd_endpoint(int argc, char **argv);  /* cmd_endpoints.c */
int cmd_sg(int argc, char **argv);        /* cmd_sg.c       */
int cmd_ct(int argc, char **argv);        /* cmd_ct.c       */
int cmd_stats(int argc, char **argv);     /* cmd_stats.c    */
int cmd_monitor(int argc, char **argv);   /* cmd_monitor.c  */
int cmd_import(int argc, char **argv);    /* cmd_import.c   */

/* Shared with the live verbs: `sgbpf rules` formatting (cmd_rules.c). */
struct sg_compiled;
struct sg_compiled_rule;
struct sg_compiled_endpoint;
struct cJSON;
struct cJSON *rules_rule_json(const struct sg_compiled_rule *cr, int dir);
struct cJSON *rules_endpoint_json(const struct sg_compiled *c,
				  const struct sg_compiled_endpoint *ce);
void rules_print_table(const struct sg_compiled *c, const struct sg_compiled_endpoint *only);

#endif
