// SPDX-License-Identifier: BSD-2-Clause
/* Diagnostics: collected errors and warnings, printed "file: path: message". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

/* Stands in for a message that could not be allocated; never freed. */
static char oom_message[] = "out of memory while recording a diagnostic";

void sg_diags_init(struct sg_diags *d)
{
	memset(d, 0, sizeof(*d));
}

static void diag_release(struct sg_diag *diag)
{
	free(diag->file);
	free(diag->path);
	if (diag->message != oom_message)
		free(diag->message);
	memset(diag, 0, sizeof(*diag));
}

void sg_diags_free(struct sg_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		diag_release(&d->items[i]);
	free(d->items);
	sg_diags_init(d);
}

static void count(struct sg_diags *d, enum sg_severity sev)
{
	if (sev == SG_ERROR)
		d->n_errors++;
	else
		d->n_warnings++;
}

void sg_diag_add(struct sg_diags *d, enum sg_severity sev, const char *file,
		 const char *path, const char *fmt, ...)
{
	struct sg_diag *diag;
	va_list ap;
	int ret;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct sg_diag *items = realloc(d->items, cap * sizeof(*items));

		if (!items) {
			/* No room for another entry: the last one becomes the
			 * OOM error so the failure is still visible. */
			count(d, SG_ERROR);
			if (d->n) {
				diag = &d->items[d->n - 1];
				if (diag->severity == SG_ERROR)
					d->n_errors--;
				else
					d->n_warnings--;
				diag_release(diag);
				diag->severity = SG_ERROR;
				diag->message = oom_message;
			} else {
				fprintf(stderr, "sgbpf: %s\n", oom_message);
			}
			return;
		}
		d->items = items;
		d->cap = cap;
	}

	diag = &d->items[d->n++];
	memset(diag, 0, sizeof(*diag));
	diag->severity = sev;
	va_start(ap, fmt);
	ret = vasprintf(&diag->message, fmt, ap);
	va_end(ap);
	diag->file = file ? strdup(file) : NULL;
	diag->path = path && *path ? strdup(path) : NULL;
	if (ret < 0 || (file && !diag->file) || (path && *path && !diag->path)) {
		if (ret >= 0)
			free(diag->message);
		free(diag->file);
		free(diag->path);
		diag->file = NULL;
		diag->path = NULL;
		diag->severity = SG_ERROR;
		diag->message = oom_message;
		sev = SG_ERROR;
	}
	count(d, sev);
}

void sg_diag_print(const struct sg_diag *diag, FILE *out)
{
	if (diag->severity == SG_WARNING)
		fputs("warning: ", out);
	if (diag->file)
		fprintf(out, "%s: ", diag->file);
	if (diag->path && *diag->path)
		fprintf(out, "%s: ", diag->path);
	fprintf(out, "%s\n", diag->message ? diag->message : oom_message);
}

void sg_diags_print(const struct sg_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++)
		sg_diag_print(&d->items[i], out);
}
