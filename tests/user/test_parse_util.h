/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers for the parser tests (test_parse*.c). */
#ifndef SGBPF_TEST_PARSE_UTIL_H
#define SGBPF_TEST_PARSE_UTIL_H

#include <stddef.h>

#include "diag.h"
#include "model.h"

/* Every diagnostic as sg_diags_print writes it. Caller frees. */
char *tp_diag_text(const struct sg_diags *d);

/* Compare texts; on mismatch print both with what, and fail the test. */
#define TP_EXPECT_TEXT(got, want, what) \
	CU_ASSERT_TRUE_FATAL(tp_expect_text((got), (want), (what), __FILE__, __LINE__))
int tp_expect_text(const char *got, const char *want, const char *what, const char *file,
		   int line);

/* Parse JSON text as document `file` into a fresh p/d (caller frees both). */
int tp_parse_text(struct sg_policy *p, struct sg_diags *d, const char *file, const char *json);
/* Parse tests/fixtures/<rel> (one document); the file name in messages is its base name. */
int tp_parse_fixture(struct sg_policy *p, struct sg_diags *d, const char *rel);
/* sg_policy_load_dir on tests/fixtures/<rel>. */
int tp_load_fixture_dir(struct sg_policy *p, struct sg_diags *d, const char *rel);

/* Rules equal field by field, ignoring rule_id and origin. */
int tp_rule_cmp(const struct sg_rule *a, const struct sg_rule *b);

#endif
