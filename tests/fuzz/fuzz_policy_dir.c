// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer harness 2: a whole policy directory from one input.
 * The input is split at NUL bytes (never valid inside JSON text) into up to
 * six documents (the demo policy has five), named in the order
 * sg_policy_load_dir reads them; the last takes the rest. Each is
 * parsed in memory, then, when every one parsed, the policy is checked and
 * compiled twice (the two compilations must agree byte for byte).
 * Seeds: tests/fixtures/fuzz-corpus/policy-dir/ (fixture directories joined
 * with NULs by tests/fuzz/make-seeds.sh).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"

static const char *const doc_names[] = {
	"policy-1.json", "policy-2.json", "policy-3.json",
	"policy-4.json", "policy-5.json", "policy-6.json",
};
#define N_DOCS (sizeof(doc_names) / sizeof(doc_names[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct sg_policy pol;
	struct sg_diags d;
	size_t n_docs = 0, errors = 0;

	sg_policy_init(&pol);
	sg_diags_init(&d);
	while (n_docs < N_DOCS) {
		const char *sep = n_docs + 1 < N_DOCS ? memchr(text, '\0', size) : NULL;
		size_t len = sep ? (size_t)(sep - text) : size;
		size_t first = d.n, errs = d.n_errors;
		const char *file = doc_names[n_docs++];
		int err;

		err = sg_parse_document(&pol, file, text, len, &d);
		fz_check_stage("sg_parse_document", err, &d, first, errs, &file, 1);
		errors += err != 0;
		if (!sep)
			break;
		text = sep + 1;
		size -= len + 1;
	}
	/* Like sg_policy_load_dir: cross-check only a policy that parsed. */
	if (!errors)
		fz_check_and_compile(&pol, &d, doc_names, n_docs, 1);
	sg_diags_print(&d, fz_null);
	sg_policy_free(&pol);
	sg_diags_free(&d);
	return 0;
}
