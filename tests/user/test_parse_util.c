// SPDX-License-Identifier: BSD-2-Clause
/* Helpers for the parser tests. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "test_parse_util.h"
#include "../lib/testlib.h"

char *tp_diag_text(const struct sg_diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return strdup("(open_memstream failed)");
	sg_diags_print(d, f);
	fclose(f);
	return buf;
}

int tp_expect_text(const char *got, const char *want, const char *what, const char *file,
		   int line)
{
	if (got && want && !strcmp(got, want))
		return 1;
	fprintf(stderr, "\n%s:%d: %s: got:\n%s--- want:\n%s---\n", file, line, what,
		got ? got : "(null)", want ? want : "(null)");
	return 0;
}

int tp_parse_text(struct sg_policy *p, struct sg_diags *d, const char *file, const char *json)
{
	sg_policy_init(p);
	sg_diags_init(d);
	return sg_parse_document(p, file, json, strlen(json), d);
}

int tp_parse_fixture(struct sg_policy *p, struct sg_diags *d, const char *rel)
{
	const char *base = strrchr(rel, '/');
	size_t len = 0;
	char *text = sgt_read_file(sgt_fixture(rel), &len);
	int ret;

	sg_policy_init(p);
	sg_diags_init(d);
	if (!text) {
		fprintf(stderr, "cannot read fixture %s\n", rel);
		return -ENOENT;
	}
	ret = sg_parse_document(p, base ? base + 1 : rel, text, len, d);
	free(text);
	return ret;
}

int tp_load_fixture_dir(struct sg_policy *p, struct sg_diags *d, const char *rel)
{
	char *dir = strdup(sgt_fixture(rel));
	int ret;

	sg_policy_init(p);
	sg_diags_init(d);
	ret = sg_policy_load_dir(p, dir, d);
	free(dir);
	return ret;
}

static int cmp_str(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

int tp_rule_cmp(const struct sg_rule *a, const struct sg_rule *b)
{
	int r;

	if (a->egress != b->egress)
		return a->egress - b->egress;
	if (a->proto != b->proto)
		return a->proto - b->proto;
	if (a->port_from != b->port_from)
		return a->port_from - b->port_from;
	if (a->port_to != b->port_to)
		return a->port_to - b->port_to;
	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	if (a->kind == SG_SRC_CIDR) {
		if (a->cidr.family != b->cidr.family)
			return a->cidr.family - b->cidr.family;
		if (a->cidr.plen != b->cidr.plen)
			return a->cidr.plen - b->cidr.plen;
		r = memcmp(a->cidr.addr, b->cidr.addr, sizeof(a->cidr.addr));
		if (r)
			return r;
	} else {
		r = strcmp(a->ref_id, b->ref_id);
		if (r)
			return r;
	}
	return cmp_str(a->description, b->description);
}
