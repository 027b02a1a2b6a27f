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

#endif
