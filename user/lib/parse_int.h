/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Internals shared by parse.c, parse_json.c, parse_groups.c and
 * parse_endpoints.c: the per-document context (file name, current JSON path)
 * and typed accessors that report every fault at its JSON path.
 */
#ifndef SGBPF_PARSE_INT_H
#define SGBPF_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "diag.h"
#include "model.h"

#define PC_PATH_MAX 1024

struct pctx {
	struct sg_policy *pol;
	struct sg_diags *diags;
	const char *file;
	char path[PC_PATH_MAX];
	size_t plen;
	bool ci_keys;		/* match keys case-insensitively (pod-eni annotation) */
};

/* Path stack: push returns a mark for pc_pop. */
size_t pc_push_key(struct pctx *c, const char *key);
size_t pc_push_index(struct pctx *c, size_t index);
void pc_pop(struct pctx *c, size_t mark);

/* Report at the current path, or at path + "." + key. */
void pc_err(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pc_warn(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pc_err_key(struct pctx *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pc_warn_key(struct pctx *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Report an allocation failure at the current path; returns -ENOMEM. */
int pc_oom(struct pctx *c);

/* Render a JSON value for "got ...": "http" quoted, 70000, true, an object. */
const char *pj_got(const cJSON *v, char *buf, size_t len);
const char *pj_type_name(const cJSON *v);

/*
 * Look up key in obj (case-insensitively when c->ci_keys). JSON null counts
 * as absent. Returns the item or NULL.
 */
const cJSON *pj_item(const struct pctx *c, const cJSON *obj, const char *key);

/*
 * Typed getters. Each returns 0 when the key is present and valid, 1 when
 * it is absent (an error is reported first when required), -EINVAL when it
 * is present but invalid (reported).
 */
int pj_string(struct pctx *c, const cJSON *obj, const char *key, bool required,
	      const char **out);
int pj_bool(struct pctx *c, const cJSON *obj, const char *key, bool required, bool *out);
int pj_array(struct pctx *c, const cJSON *obj, const char *key, bool required,
	     const cJSON **out);
int pj_object(struct pctx *c, const cJSON *obj, const char *key, bool required,
	      const cJSON **out);
/* Integer in lo..hi; what names it in the message ("an integer", "a VLAN id"). */
int pj_int(struct pctx *c, const cJSON *obj, const char *key, bool required,
	   long lo, long hi, const char *what, long *out);
/* Same check on a value already in hand, reported at the current path. */
int pj_int_value(struct pctx *c, const cJSON *v, long lo, long hi, const char *what,
		 long *out);
/* An id such as "sg-..." or "pl-...": prefix, length < SG_ID_MAX, [A-Za-z0-9_-]. */
int pj_id(struct pctx *c, const cJSON *obj, const char *key, bool required,
	  const char *prefix, char out[SG_ID_MAX]);
int pj_id_value(struct pctx *c, const cJSON *v, const char *prefix, char out[SG_ID_MAX]);

/*
 * Parse text as JSON. Syntax errors are located precisely ("line L, column
 * C: unexpected '}' (trailing comma?)") and reported as
 * "<what>: line L, column C: ..." at the current path. NULL on error.
 */
cJSON *pj_parse(struct pctx *c, const char *text, size_t len, const char *what);

/*
 * Strict RFC 8259 syntax check. Returns 0, or -EINVAL with *offset set to
 * the byte offset of the fault and msg filled with the reason.
 */
int pj_syntax_check(const char *text, size_t len, size_t *offset, char *msg, size_t msglen);

/* Document kinds (parse_groups.c, parse_endpoints.c). */
int parse_security_groups(struct pctx *c, const cJSON *root);
int parse_security_group_rules(struct pctx *c, const cJSON *root);
int parse_prefix_list(struct pctx *c, const cJSON *root);
int parse_endpoints_doc(struct pctx *c, const cJSON *root);

/* Helpers shared by the document parsers. */
int pc_origin(struct pctx *c, struct sg_origin *o);
/*
 * A CIDR value at the current path, of family (-1: either); wrong_family
 * completes "IPv6 CIDR \"...\" in %s". Host bits: canonicalised + warning.
 */
int parse_cidr_value(struct pctx *c, const cJSON *v, int family, const char *wrong_family,
		     struct sg_cidr *out);
int parse_addr_list(struct pctx *c, const cJSON *obj, const char *key, int family,
		    struct sg_addr **addrs, size_t *n);
int parse_mac(const char *text, uint8_t mac[6]);
/* Make room for element n of *arr (element size sz) when it holds n. 0 or -ENOMEM. */
int grow_for(void **arr, size_t n, size_t sz);

#endif
