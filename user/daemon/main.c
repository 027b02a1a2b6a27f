// SPDX-License-Identifier: BSD-2-Clause
/* sgbpfd: the node daemon (user/lib/daemon*.c). Exit codes: 0 ok, 1 policy
 * invalid (--once), 2 error. */
#include "daemon.h"

int main(int argc, char **argv)
{
	struct sgd_config cfg;
	int rc;

	sgd_config_defaults(&cfg);
	rc = sgd_config_parse(&cfg, argc, argv);
	if (rc) {
		sgd_config_free(&cfg);
		return rc > 0 ? SGD_EXIT_OK : SGD_EXIT_ERROR;
	}
	rc = sgd_run(&cfg);
	sgd_config_free(&cfg);
	return rc;
}
