/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Diagnostics: errors and warnings collected while reading and compiling a
 * policy, each naming the file and the JSON path of the fault:
 *   sg.json: SecurityGroups[2].IpPermissions[0].FromPort: expected an integer in 0..65535, got "http"
 */
#ifndef SGBPF_DIAG_H
#define SGBPF_DIAG_H

#include <stddef.h>
#include <stdio.h>

enum sg_severity {
	SG_WARNING = 0,
	SG_ERROR = 1,
};

struct sg_diag {
	enum sg_severity severity;
	char *file;                /* may be NULL for whole-policy messages */
	char *path;                /* JSON path; may be NULL or ""          */
	char *message;
};

struct sg_diags {
	struct sg_diag *items;
	size_t n, cap;
	size_t n_errors, n_warnings;
};

void sg_diags_init(struct sg_diags *d);
void sg_diags_free(struct sg_diags *d);
/* Append a message; fmt is printf-style. Never fails silently: on OOM the
 * message is replaced by a fixed "out of memory" error. */
void sg_diag_add(struct sg_diags *d, enum sg_severity sev, const char *file,
		 const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* "file: path: message" (parts omitted when absent), "warning: " prefix for warnings. */
void sg_diag_print(const struct sg_diag *diag, FILE *out);
void sg_diags_print(const struct sg_diags *d, FILE *out);

#endif
