// SPDX-License-Identifier: BSD-2-Clause
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

#define SGT_MAX_SUITES 128

static CU_SuiteInfo suites[SGT_MAX_SUITES + 1];
static size_t n_suites;

void sgt_register_suite(const char *name, CU_InitializeFunc init,
			CU_CleanupFunc clean, CU_TestInfo *tests)
{
	if (n_suites == SGT_MAX_SUITES) {
		fprintf(stderr, "testlib: more than %d suites; raise SGT_MAX_SUITES\n",
			SGT_MAX_SUITES);
		exit(2);
	}
	suites[n_suites++] = (CU_SuiteInfo){ .pName = (char *)name, .pInitFunc = init,
					     .pCleanupFunc = clean, .pTests = tests };
}

unsigned sgt_seed(void)
{
	const char *s = getenv("SGBPF_TEST_SEED");

	return s ? (unsigned)strtoul(s, NULL, 0) : 20261125u;
}

const char *sgt_fixture(const char *rel)
{
	static char path[4096];
	const char *roots[] = { "tests/fixtures", "../tests/fixtures", "../../tests/fixtures" };

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", roots[i], rel);
		if (access(path, R_OK) == 0)
			return path;
	}
	snprintf(path, sizeof(path), "tests/fixtures/%s", rel);
	return path;
}

char *sgt_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)size + 1);
		if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size) {
			buf[size] = '\0';
			if (len)
				*len = (size_t)size;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	unsigned passed, failed, suites_failed;
	CU_pSuite suite;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "testlib: registering suites: %s\n", CU_get_error_msg());
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (argc > 1) {
		suite = CU_get_suite(argv[1]);
		if (!suite) {
			fprintf(stderr, "testlib: no suite named '%s'\n", argv[1]);
			return 2;
		}
		if (argc > 2) {
			CU_pTest test = CU_get_test(suite, argv[2]);

			if (!test) {
				fprintf(stderr, "testlib: no test '%s' in suite '%s'\n", argv[2], argv[1]);
				return 2;
			}
			CU_basic_run_test(suite, test);
		} else {
			CU_basic_run_suite(suite);
		}
	} else {
		CU_basic_run_tests();
	}
	failed = CU_get_number_of_tests_failed();
	suites_failed = CU_get_number_of_suites_failed();
	passed = CU_get_number_of_tests_run() - failed;
	CU_cleanup_registry();
	printf("%u passed, %u failed\n", passed, failed + suites_failed);
	return (failed || suites_failed) ? 1 : 0;
}
