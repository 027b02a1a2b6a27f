// SPDX-License-Identifier: BSD-2-Clause
/*
 * JSON syntax errors: each located at its line and column with a reason,
 * and a seeded mutation test: damaged documents never crash the parser,
 * errors and return codes agree, and whatever the strict checker accepts
 * cJSON parses too.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "parse_int.h"
#include "test_parse_util.h"
#include "../lib/testlib.h"

static const struct {
	const char *in;
	const char *want;	/* after "t.json: not valid JSON: " */
} syntax_cases[] = {
	{ "", "line 1, column 1: the document is empty" },
	{ "{\"SecurityGroups\": [",
	  "line 1, column 21: unexpected end of input: '[' opened at line 1, column 20 is not "
	  "closed" },
	{ "{\"a\": 1 \"b\": 2}", "line 1, column 9: expected ',' or '}' after a member, got '\"' "
	  "(missing comma?)" },
	{ "{'a': 1}", "line 1, column 2: expected a member name in double quotes, got \"'\" "
	  "(missing quote?)" },
	{ "{\"a\": tru}", "line 1, column 7: unexpected word 'tru' (missing quote? strings need "
	  "double quotes; literals are true, false and null)" },
	{ "{\"a\": 01}", "line 1, column 7: invalid number (leading zeros are not allowed)" },
	{ "{\"a\": \"x\ty\"}", "line 1, column 9: control character 0x09 in a string (write it "
	  "as \\u0009)" },
	{ "{\"a\": \"\\q\"}", "line 1, column 8: invalid escape in a string (valid: \\\" \\\\ \\/ "
	  "\\b \\f \\n \\r \\t \\uXXXX)" },
	{ "{\"a\": 1}}", "line 1, column 9: unexpected '}' after the end of the document" },
	{ "{\n  \"\xc3\xa9\": \"\xc3\xbc\", x}", "line 2, column 13: expected a member name in "
	  "double quotes, got 'x' (missing quote?)" },
	{ "{\"a\": [1 2]}", "line 1, column 10: expected ',' or ']' after an element, got '2'" },
	{ "{\"a\": [1, 2,\n\n   ]}", "line 3, column 4: unexpected ']' (trailing comma?)" },
	{ "{\"a\": 1.}", "line 1, column 7: invalid number (digits must follow '.')" },
	{ "{\"a\":,}", "line 1, column 6: unexpected ',', expected a value (extra comma?)" },
	{ "{\"a\": \"abc", "line 1, column 7: string not closed before the end of input "
	  "(missing quote?)" },
	{ "{\"a\": \"\\u12g4\"}", "line 1, column 8: invalid \\u escape in a string (needs 4 hex "
	  "digits)" },
	{ "{a: 1}", "line 1, column 2: expected a member name in double quotes, got 'a' "
	  "(missing quote?)" },
	{ "{\"a\"}", "line 1, column 5: expected ':' after a member name, got '}'" },
};

static void test_syntax_messages(void)
{
	for (size_t i = 0; i < sizeof(syntax_cases) / sizeof(syntax_cases[0]); i++) {
		struct sg_policy p;
		struct sg_diags d;
		char want[512], *text;

		snprintf(want, sizeof(want), "t.json: not valid JSON: %s\n", syntax_cases[i].want);
		CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "t.json", syntax_cases[i].in), -EINVAL);
		text = tp_diag_text(&d);
		TP_EXPECT_TEXT(text, want, syntax_cases[i].in);
		free(text);
		sg_policy_free(&p);
		sg_diags_free(&d);
	}
}

/* A NUL inside the buffer is a fault, not the end of the document. */
static void test_embedded_nul_and_bom(void)
{
	static const char doc[] = "{\"SecurityGroups\":[]}\0{";
	static const char bom[] = "\xef\xbb\xbf{\"SecurityGroups\":[]}";
	struct sg_policy p;
	struct sg_diags d;
	char *text;

	sg_policy_init(&p);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_parse_document(&p, "t.json", doc, sizeof(doc) - 1, &d), -EINVAL);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "t.json: not valid JSON: line 1, column 22: unexpected byte 0x00 "
		       "after the end of the document\n", "embedded NUL");
	free(text);
	sg_diags_free(&d);

	/* Only len bytes are read: no NUL terminator needed. */
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_parse_document(&p, "t.json", doc, 21, &d), 0);
	CU_ASSERT_EQUAL(d.n, 0);
	sg_diags_free(&d);

	/* A UTF-8 byte order mark is skipped. */
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_parse_document(&p, "t.json", bom, sizeof(bom) - 1, &d), 0);
	CU_ASSERT_EQUAL(d.n, 0);
	sg_diags_free(&d);
	sg_policy_free(&p);
}

static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 16);
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 1;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

/*
 * Mutate real documents byte by byte. Every outcome must be consistent:
 * 0 exactly when no error was reported, syntax errors inside the text, and
 * anything the strict checker accepts must be parseable by cJSON.
 */
static void test_mutations(void)
{
	static const char *const fixtures[] = { "equiv/groups/groups.json",
						"equiv/rules/rules.json",
						"equiv/groups/endpoints.json",
						"equiv/groups/prefix-list-corp.json" };
	static const char alphabet[] = "{}[],:\"\\ \n-0123456789.eE+tfnul/xsg";
	unsigned seed = sgt_seed();
	uint64_t s = seed * 2654435761u + 1;
	size_t accepted = 0, rejected = 0;

	for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
		size_t len = 0;
		char *orig = sgt_read_file(sgt_fixture(fixtures[f]), &len);

		CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
		for (int iter = 0; iter < 600; iter++) {
			char *buf = malloc(len + 8);
			size_t n = len, pos, off, line, lines;
			int muts = 1 + (int)(rnd(&s) % 3), ret;
			struct sg_policy p;
			struct sg_diags d;
			char msg[256];
			bool ok = true;

			CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
			memcpy(buf, orig, len);
			for (int m = 0; m < muts && n > 1; m++) {
				pos = rnd(&s) % n;
				switch (rnd(&s) % 3) {
				case 0:	/* delete */
					memmove(buf + pos, buf + pos + 1, n - pos - 1);
					n--;
					break;
				case 1:	/* insert */
					memmove(buf + pos + 1, buf + pos, n - pos);
					buf[pos] = alphabet[rnd(&s) % (sizeof(alphabet) - 1)];
					n++;
					break;
				default: /* replace */
					buf[pos] = alphabet[rnd(&s) % (sizeof(alphabet) - 1)];
				}
			}
			sg_policy_init(&p);
			sg_diags_init(&d);
			ret = sg_parse_document(&p, "m.json", buf, n, &d);
			ok &= ret == 0 || ret == -EINVAL;
			ok &= (ret == 0) == (d.n_errors == 0);
			if (pj_syntax_check(buf, n, &off, msg, sizeof(msg)) == 0) {
				cJSON *j = cJSON_ParseWithLength(buf, n);

				ok &= j != NULL;
				cJSON_Delete(j);
			} else {
				lines = count_lines(buf, n);
				ok &= off <= n && d.n_errors == 1 && d.items[0].message &&
				      sscanf(d.items[0].message, "not valid JSON: line %zu", &line) == 1 &&
				      line >= 1 && line <= lines;
			}
			if (!ok) {
				fprintf(stderr, "\nmutation test failed (seed %u, %s, iteration %d): "
					"ret %d\n", seed, fixtures[f], iter, ret);
				sg_diags_print(&d, stderr);
			}
			CU_ASSERT_TRUE(ok);
			if (ret == 0)
				accepted++;
			else
				rejected++;
			sg_policy_free(&p);
			sg_diags_free(&d);
			free(buf);
		}
		free(orig);
	}
	/* Both outcomes must occur, or the test exercises nothing. */
	CU_ASSERT_TRUE(accepted > 0);
	CU_ASSERT_TRUE(rejected > 0);
}

static CU_TestInfo json_tests[] = {
	{ "syntax_messages", test_syntax_messages },
	{ "embedded_nul_and_bom", test_embedded_nul_and_bom },
	{ "mutations", test_mutations },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("parse-json", NULL, NULL, json_tests);
