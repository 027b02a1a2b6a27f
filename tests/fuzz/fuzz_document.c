// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer harness 1: one policy document from arbitrary bytes.
 * sg_parse_document, then (when it parsed) sg_policy_check and sg_compile,
 * under ASan + UBSan + LeakSanitizer, with the invariants of fuzz_common.h.
 * The document kind is detected from content, so the file name only shows
 * in messages; it rotates over the names each kind usually has so every
 * kind's messages are built with a realistic name.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

static const char *const doc_names[] = {
	"describe-security-groups.json",
	"describe-security-group-rules.json",
	"prefix-list.json",
	"endpoints.json",
};
#define N_NAMES (sizeof(doc_names) / sizeof(doc_names[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *file = doc_names[size % N_NAMES];
	struct sg_policy pol;
	struct sg_diags d;
	int err;

	sg_policy_init(&pol);
	sg_diags_init(&d);
	/* data is not NUL-terminated: the parser must honour len (ASan checks). */
	err = sg_parse_document(&pol, file, (const char *)data, size, &d);
	fz_check_stage("sg_parse_document", err, &d, 0, 0, &file, 1);
	if (!err)
		fz_check_and_compile(&pol, &d, &file, 1, 0);
	sg_diags_print(&d, fz_null);
	sg_policy_free(&pol);
	sg_diags_free(&d);
	return 0;
}
