/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Invariants shared by the libFuzzer harnesses of the policy front end.
 * A broken invariant prints what broke to stderr and abort()s, which
 * libFuzzer reports as a crash and saves the input (crash-<sha1>).
 *
 *   - every stage returns 0 or one of the errnos its header documents;
 *   - a refusal adds at least one error diagnostic; a parse or check
 *     refusal (-EINVAL) names the file it is about, and every file a new
 *     diagnostic names is one that stage was given (no dangling or invented
 *     names: a document's messages name that document);
 *   - success adds no error diagnostic;
 *   - compiled tables are sorted by key bytes and compiling the same policy
 *     twice gives byte-identical tables (compile.h promises both).
 */
#ifndef SGBPF_FUZZ_COMMON_H
#define SGBPF_FUZZ_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "diag.h"
#include "model.h"
#include "parse.h"

static FILE *fz_null;

static void fz_fail(const char *stage, const char *what, const struct sg_diags *d)
{
	fprintf(stderr, "fuzz invariant broken in %s: %s\n", stage, what);
	if (d) {
		fprintf(stderr, "diagnostics so far (%zu):\n", d->n);
		sg_diags_print(d, stderr);
	}
	abort();
}

static void fz_init(void)
{
	if (!fz_null)
		fz_null = fopen("/dev/null", "w");
	if (!fz_null) {
		perror("fuzz: cannot open /dev/null for diagnostics output");
		abort();
	}
}

static int fz_known_file(const char *file, const char *const *files, size_t n_files)
{
	for (size_t i = 0; i < n_files; i++)
		if (!strcmp(file, files[i]))
			return 1;
	return 0;
}

/*
 * Check what stage added to d (entries from index first, errors counted
 * from errors_before) against its return value err.
 */
static void fz_check_stage(const char *stage, int err, const struct sg_diags *d, size_t first,
			   size_t errors_before, const char *const *files, size_t n_files)
{
	size_t new_errors = 0, named_errors = 0, errs = 0, warns = 0;

	if (d->n < first || d->n > d->cap || d->n_errors < errors_before)
		fz_fail(stage, "diagnostic counters went backwards or past capacity", d);
	for (size_t i = 0; i < d->n; i++) {
		const struct sg_diag *g = &d->items[i];

		if (g->severity == SG_ERROR)
			errs++;
		else if (g->severity == SG_WARNING)
			warns++;
		else
			fz_fail(stage, "diagnostic with an unknown severity", d);
		if (!g->message || !g->message[0])
			fz_fail(stage, "diagnostic without a message", d);
		if (i < first)
			continue;
		if (g->file && !fz_known_file(g->file, files, n_files))
			fz_fail(stage, "diagnostic names a file this stage was not given", d);
		if (g->severity != SG_ERROR)
			continue;
		new_errors++;
		if (g->file)
			named_errors++;
	}
	if (errs != d->n_errors || warns != d->n_warnings)
		fz_fail(stage, "n_errors/n_warnings disagree with the diagnostics", d);
	if (d->n_errors - errors_before != new_errors)
		fz_fail(stage, "error count grew by a different amount than error entries", d);

	if (!err) {
		if (new_errors)
			fz_fail(stage, "returned 0 but reported errors", d);
		return;
	}
	if (err != -EINVAL && err != -ENOMEM && err != -E2BIG)
		fz_fail(stage, "returned an undocumented error code", d);
	if (!new_errors)
		fz_fail(stage, "refused the input without an error diagnostic", d);
	/* Capacity and memory refusals are about the whole policy; the rest
	 * are about something in a file and must say which. */
	if (err == -EINVAL && !named_errors)
		fz_fail(stage, "refused the input (-EINVAL) without naming a file", d);
}

/* Tables are "sorted by key bytes" (compile.h): strictly, keys are unique. */
static void fz_check_sorted(const char *table, const void *keys, size_t n, size_t sz,
			    const struct sg_diags *d)
{
	const unsigned char *k = keys;
	char what[96];

	for (size_t i = 1; i < n; i++)
		if (memcmp(k + (i - 1) * sz, k + i * sz, sz) >= 0) {
			snprintf(what, sizeof(what), "%s keys not strictly sorted at %zu", table, i);
			fz_fail("sg_compile", what, d);
		}
}

static void fz_same(const char *table, const void *a, const void *b, size_t n, size_t sz,
		    const struct sg_diags *d)
{
	char what[96];

	if (n && memcmp(a, b, n * sz)) {
		snprintf(what, sizeof(what), "%s differs between two compilations", table);
		fz_fail("sg_compile", what, d);
	}
}

#define FZ_TABLE(c, k, v, n) \
	{ #k, (c)->k, (c)->v, (c)->n, sizeof(*(c)->k), sizeof(*(c)->v) }

struct fz_table {
	const char *name;
	const void *keys, *vals;
	size_t n, key_sz, val_sz;
};

static size_t fz_tables(const struct sg_compiled *c, struct fz_table t[6])
{
	struct fz_table all[6] = {
		FZ_TABLE(c, ep_keys, ep_vals, n_ep),
		FZ_TABLE(c, addr_keys, addr_vals, n_addr),
		FZ_TABLE(c, node_keys, node_vals, n_node),
		FZ_TABLE(c, rule_keys, rule_vals, n_rule_entries),
		FZ_TABLE(c, port_keys, port_vals, n_port_entries),
		FZ_TABLE(c, exempt_keys, exempt_vals, n_exempt),
	};

	memcpy(t, all, sizeof(all));
	return 6;
}

/*
 * Check then compile a parsed policy, as sg_policy_load_dir and the loader
 * do. With twice, compile a second time and require identical tables.
 */
static void fz_check_and_compile(struct sg_policy *pol, struct sg_diags *d,
				 const char *const *files, size_t n_files, int twice)
{
	struct sg_compiled c1, c2;
	struct fz_table t1[6], t2[6];
	size_t first = d->n, errors = d->n_errors;
	int err;

	err = sg_policy_check(pol, d);
	fz_check_stage("sg_policy_check", err, d, first, errors, files, n_files);
	if (err)
		return;

	first = d->n;
	errors = d->n_errors;
	memset(&c1, 0, sizeof(c1));
	err = sg_compile(pol, NULL, &c1, d);
	fz_check_stage("sg_compile", err, d, first, errors, files, n_files);
	if (err)
		return;
	if (c1.n_endpoints != pol->n_endpoints)
		fz_fail("sg_compile", "compiled endpoint count differs from the policy's", d);
	fz_tables(&c1, t1);
	for (size_t i = 0; i < 6; i++)
		fz_check_sorted(t1[i].name, t1[i].keys, t1[i].n, t1[i].key_sz, d);
	for (size_t i = 0; i < c1.n_rules; i++) {
		char buf[256];

		sg_rule_describe(&c1.rules[i], buf, sizeof(buf));
	}

	if (twice) {
		memset(&c2, 0, sizeof(c2));
		first = d->n;
		errors = d->n_errors;
		err = sg_compile(pol, NULL, &c2, d);
		fz_check_stage("sg_compile (second)", err, d, first, errors, files, n_files);
		if (err)
			fz_fail("sg_compile", "second compilation of the same policy failed", d);
		fz_tables(&c2, t2);
		for (size_t i = 0; i < 6; i++) {
			if (t1[i].n != t2[i].n)
				fz_fail("sg_compile", "table sizes differ between two compilations", d);
			fz_same(t1[i].name, t1[i].keys, t2[i].keys, t1[i].n, t1[i].key_sz, d);
			fz_same(t1[i].name, t1[i].vals, t2[i].vals, t1[i].n, t1[i].val_sz, d);
		}
		if (memcmp(&c1.config, &c2.config, sizeof(c1.config)))
			fz_fail("sg_compile", "slot config differs between two compilations", d);
		sg_compiled_free(&c2);
	}
	sg_compiled_free(&c1);
}

#endif
