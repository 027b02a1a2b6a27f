/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * CUnit glue: each test file declares its suite with SGT_SUITE and the one
 * main (tests/lib/cunit_main.c) runs every suite linked into the binary.
 *
 *   static void test_x(void) { CU_ASSERT_EQUAL(1, 1); }
 *   static CU_TestInfo parse_tests[] = { { "x", test_x }, CU_TEST_INFO_NULL };
 *   SGT_SUITE("parse", NULL, NULL, parse_tests);
 *
 * The binary prints "N passed, N failed" last and exits non-zero on failure.
 * Usage: test_xxx [SUITE [TEST]] to run a subset.
 */
#ifndef SGBPF_TESTLIB_H
#define SGBPF_TESTLIB_H

#include <CUnit/CUnit.h>

void sgt_register_suite(const char *name, CU_InitializeFunc init,
			CU_CleanupFunc clean, CU_TestInfo *tests);

#define SGT_CONCAT_(a, b) a##b
#define SGT_CONCAT(a, b) SGT_CONCAT_(a, b)
#define SGT_SUITE(name, init, clean, tests)                                   \
	__attribute__((constructor)) static void SGT_CONCAT(sgt_reg_, __LINE__)(void) \
	{ sgt_register_suite(name, init, clean, tests); }

/* Seed for randomised tests: SGBPF_TEST_SEED in the environment, else fixed.
 * Failing randomised tests print the seed so a run can be reproduced. */
unsigned sgt_seed(void);

/* xorshift32 step of *state (never 0): a value in 0..n-1 (0 when n is 0).
 * Our own generator, so a seed means the same run on every libc. */
static inline unsigned sgt_rand(unsigned *state, unsigned n)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return n ? *state % n : 0;
}

/* Path of a fixture under tests/fixtures (from the repo root or build dir). */
const char *sgt_fixture(const char *rel);

/* Read a whole file; NULL on error. *len gets its size. Caller frees. */
char *sgt_read_file(const char *path, size_t *len);

#endif
