// SPDX-License-Identifier: BSD-2-Clause
/*
 * JSON plumbing for the policy parser: the JSON path stack, diagnostics at
 * a path, typed getters, and a strict syntax checker that pinpoints the
 * first fault (cJSON's own error pointer is only approximate: after a
 * trailing comma it points past the closing brace, in an unterminated string
 * at the string's start), so messages can say "line 14, column 5:
 * unexpected '}' (trailing comma?)".
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_int.h"

/* ---- path stack and diagnostics --------------------------------------- */

static size_t pc_append(struct pctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static size_t pc_append(struct pctx *c, const char *fmt, ...)
{
	size_t mark = c->plen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + c->plen, sizeof(c->path) - c->plen, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	c->plen += (size_t)n;
	if (c->plen >= sizeof(c->path))
		c->plen = sizeof(c->path) - 1;	/* truncated, still terminated */
	return mark;
}

size_t pc_push_key(struct pctx *c, const char *key)
{
	return c->plen ? pc_append(c, ".%s", key) : pc_append(c, "%s", key);
}

size_t pc_push_index(struct pctx *c, size_t index)
{
	return pc_append(c, "[%zu]", index);
}

void pc_pop(struct pctx *c, size_t mark)
{
	c->plen = mark;
	c->path[mark] = '\0';
}

static void pc_vreport(struct pctx *c, enum sg_severity sev, const char *key,
		       const char *fmt, va_list ap)
{
	size_t mark = c->plen;
	char *msg = NULL;

	if (key)
		pc_push_key(c, key);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (msg)
		sg_diag_add(c->diags, sev, c->file, c->path, "%s", msg);
	else
		sg_diag_add(c->diags, SG_ERROR, c->file, c->path, "out of memory");
	free(msg);
	pc_pop(c, mark);
}

void pc_err(struct pctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pc_vreport(c, SG_ERROR, NULL, fmt, ap);
	va_end(ap);
}

void pc_warn(struct pctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pc_vreport(c, SG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void pc_err_key(struct pctx *c, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pc_vreport(c, SG_ERROR, key, fmt, ap);
	va_end(ap);
}

void pc_warn_key(struct pctx *c, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pc_vreport(c, SG_WARNING, key, fmt, ap);
	va_end(ap);
}

int pc_oom(struct pctx *c)
{
	pc_err(c, "out of memory");
	return -ENOMEM;
}

int pc_origin(struct pctx *c, struct sg_origin *o)
{
	o->file = strdup(c->file);
	o->path = strdup(c->path);
	if (!o->file || !o->path) {
		free(o->file);
		free(o->path);
		o->file = o->path = NULL;
		return pc_oom(c);
	}
	return 0;
}

int grow_for(void **arr, size_t n, size_t sz)
{
	size_t cap = 4;
	void *p;

	/*
	 * Ask for the power-of-two capacity that holds n + 1 every time:
	 * when the block is already that big realloc returns it at once, and
	 * arrays allocated elsewhere (exact sizes) are still grown correctly.
	 */
	while (cap < n + 1) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	if (cap > SIZE_MAX / sz)
		return -ENOMEM;
	p = realloc(*arr, cap * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

/* ---- values and getters ----------------------------------------------- */

const char *pj_type_name(const cJSON *v)
{
	if (!v || cJSON_IsNull(v))
		return "null";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "an unknown value";
}

const char *pj_got(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		size_t n = strlen(s);

		if (n > 40)
			snprintf(buf, len, "\"%.37s...\"", s);
		else
			snprintf(buf, len, "\"%s\"", s);
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		if (d == floor(d) && fabs(d) < 1e15)
			snprintf(buf, len, "%.0f", d);
		else
			snprintf(buf, len, "%g", d);
	} else if (cJSON_IsTrue(v)) {
		snprintf(buf, len, "true");
	} else if (cJSON_IsFalse(v)) {
		snprintf(buf, len, "false");
	} else {
		snprintf(buf, len, "%s", v && cJSON_IsNull(v) ? "null" : pj_type_name(v));
	}
	return buf;
}

const cJSON *pj_item(const struct pctx *c, const cJSON *obj, const char *key)
{
	const cJSON *v;

	if (!cJSON_IsObject(obj))
		return NULL;
	v = c->ci_keys ? cJSON_GetObjectItem(obj, key) : cJSON_GetObjectItemCaseSensitive(obj, key);
	return v && !cJSON_IsNull(v) ? v : NULL;
}

/* Common lookup: the item, or 1 after reporting a missing required key. */
static const cJSON *lookup(struct pctx *c, const cJSON *obj, const char *key, bool required,
			   int *ret)
{
	const cJSON *v = pj_item(c, obj, key);

	*ret = 0;
	if (!v) {
		if (required)
			pc_err_key(c, key, "required but missing");
		*ret = 1;
	}
	return v;
}

static int type_error(struct pctx *c, const cJSON *v, const char *expected)
{
	char got[64];

	pc_err_key(c, v->string, "expected %s, got %s", expected, pj_got(v, got, sizeof(got)));
	return -EINVAL;
}

int pj_string(struct pctx *c, const cJSON *obj, const char *key, bool required,
	      const char **out)
{
	int ret;
	const cJSON *v = lookup(c, obj, key, required, &ret);

	if (!v)
		return ret;
	if (!cJSON_IsString(v))
		return type_error(c, v, "a string");
	*out = v->valuestring;
	return 0;
}

int pj_bool(struct pctx *c, const cJSON *obj, const char *key, bool required, bool *out)
{
	int ret;
	const cJSON *v = lookup(c, obj, key, required, &ret);

	if (!v)
		return ret;
	if (!cJSON_IsBool(v))
		return type_error(c, v, "true or false");
	*out = cJSON_IsTrue(v);
	return 0;
}

int pj_array(struct pctx *c, const cJSON *obj, const char *key, bool required,
	     const cJSON **out)
{
	int ret;
	const cJSON *v = lookup(c, obj, key, required, &ret);

	if (!v)
		return ret;
	if (!cJSON_IsArray(v))
		return type_error(c, v, "an array");
	*out = v;
	return 0;
}

int pj_object(struct pctx *c, const cJSON *obj, const char *key, bool required,
	      const cJSON **out)
{
	int ret;
	const cJSON *v = lookup(c, obj, key, required, &ret);

	if (!v)
		return ret;
	if (!cJSON_IsObject(v))
		return type_error(c, v, "an object");
	*out = v;
	return 0;
}

int pj_int_value(struct pctx *c, const cJSON *v, long lo, long hi, const char *what,
		 long *out)
{
	char got[64];
	double d;

	if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
		if (d == floor(d) && d >= (double)lo && d <= (double)hi) {
			*out = (long)d;
			return 0;
		}
	}
	pc_err(c, "expected %s in %ld..%ld, got %s", what, lo, hi, pj_got(v, got, sizeof(got)));
	return -EINVAL;
}

int pj_int(struct pctx *c, const cJSON *obj, const char *key, bool required,
	   long lo, long hi, const char *what, long *out)
{
	int ret;
	size_t mark;
	const cJSON *v = lookup(c, obj, key, required, &ret);

	if (!v)
		return ret;
	mark = pc_push_key(c, v->string);
	ret = pj_int_value(c, v, lo, hi, what, out);
	pc_pop(c, mark);
	return ret;
}

int pj_id_value(struct pctx *c, const cJSON *v, const char *prefix, char out[SG_ID_MAX])
{
	const char *noun = !strcmp(prefix, "sg-") ? "a security group id" :
			   !strcmp(prefix, "pl-") ? "a prefix list id" : "an id";
	char got[64];
	size_t plen = strlen(prefix), n;
	const char *s;

	if (!cJSON_IsString(v))
		goto bad;
	s = v->valuestring;
	n = strlen(s);
	if (n <= plen || n >= SG_ID_MAX || strncmp(s, prefix, plen))
		goto bad;
	for (size_t i = plen; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			goto bad;
	memcpy(out, s, n + 1);
	return 0;
bad:
	pc_err(c, "expected %s like \"%s0123456789abcdef0\" (at most %d characters), got %s",
	       noun, prefix, SG_ID_MAX - 1, pj_got(v, got, sizeof(got)));
	return -EINVAL;
}

int pj_id(struct pctx *c, const cJSON *obj, const char *key, bool required,
	  const char *prefix, char out[SG_ID_MAX])
{
	int ret;
	size_t mark;
	const cJSON *v = lookup(c, obj, key, required, &ret);

	if (!v)
		return ret;
	mark = pc_push_key(c, v->string);
	ret = pj_id_value(c, v, prefix, out);
	pc_pop(c, mark);
	return ret;
}

/* ---- strict syntax check ---------------------------------------------- */

#define SX_MAX_DEPTH 512

struct sx {
	const char *s;
	size_t len, pos;
	size_t err_off;
	char *msg;
	size_t msglen;
	int depth;
};

static int sx_fail(struct sx *x, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int sx_fail(struct sx *x, size_t off, const char *fmt, ...)
{
	va_list ap;

	x->err_off = off;
	va_start(ap, fmt);
	vsnprintf(x->msg, x->msglen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void offset_to_line_col(const char *s, size_t off, size_t *line, size_t *col)
{
	size_t l = 1, c = 1;

	for (size_t i = 0; i < off; i++) {
		if (s[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)s[i] & 0xc0) != 0x80) {
			c++;	/* count UTF-8 characters, not bytes */
		}
	}
	*line = l;
	*col = c;
}

static bool is_word(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

/* Describe the character at off for a message: '}' , end of input, byte 0x01. */
static const char *sx_char(struct sx *x, size_t off, char *buf, size_t len)
{
	unsigned char ch;

	if (off >= x->len)
		return "end of input";
	ch = (unsigned char)x->s[off];
	if (ch == '\'')
		snprintf(buf, len, "\"'\"");
	else if (ch > 0x20 && ch < 0x7f)
		snprintf(buf, len, "'%c'", ch);
	else if (ch == '\n')
		snprintf(buf, len, "end of line");
	else
		snprintf(buf, len, "byte 0x%02x", ch);
	return buf;
}

static void sx_ws(struct sx *x)
{
	while (x->pos < x->len && (x->s[x->pos] == ' ' || x->s[x->pos] == '\t' ||
				   x->s[x->pos] == '\n' || x->s[x->pos] == '\r'))
		x->pos++;
}

/* Last non-whitespace character before off, or 0. */
static char sx_prev(struct sx *x, size_t off)
{
	while (off > 0) {
		char ch = x->s[--off];

		if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
			return ch;
	}
	return 0;
}

static int sx_bare_word(struct sx *x)
{
	size_t start = x->pos, n = 0;

	while (start + n < x->len && is_word(x->s[start + n]) && n < 24)
		n++;
	return sx_fail(x, start, "unexpected word '%.*s' (missing quote? strings need double quotes; "
		       "literals are true, false and null)", (int)n, x->s + start);
}

static int sx_value(struct sx *x);

static int sx_string(struct sx *x)
{
	size_t start = x->pos;

	x->pos++;
	for (;;) {
		if (x->pos >= x->len)
			return sx_fail(x, start, "string not closed before the end of input "
				       "(missing quote?)");
		unsigned char ch = (unsigned char)x->s[x->pos];

		if (ch == '"') {
			x->pos++;
			return 0;
		}
		if (ch == '\n' || ch == '\r')
			return sx_fail(x, start, "string not closed before the end of the line "
				       "(missing quote?)");
		if (ch < 0x20)
			return sx_fail(x, x->pos, "control character 0x%02x in a string (write it "
				       "as \\u%04x)", ch, ch);
		if (ch == '\\') {
			char e = x->pos + 1 < x->len ? x->s[x->pos + 1] : 0;

			if (e == 'u') {
				for (int i = 2; i < 6; i++)
					if (x->pos + (size_t)i >= x->len ||
					    !isxdigit((unsigned char)x->s[x->pos + (size_t)i]))
						return sx_fail(x, x->pos, "invalid \\u escape in a "
							       "string (needs 4 hex digits)");
				x->pos += 6;
				continue;
			}
			if (!e || !strchr("\"\\/bfnrt", e))
				return sx_fail(x, x->pos, "invalid escape in a string "
					       "(valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
			x->pos += 2;
			continue;
		}
		x->pos++;
	}
}

static int sx_digits(struct sx *x)
{
	size_t start = x->pos;

	while (x->pos < x->len && isdigit((unsigned char)x->s[x->pos]))
		x->pos++;
	return x->pos > start ? 0 : -1;
}

static int sx_number(struct sx *x)
{
	size_t start = x->pos;

	if (x->s[x->pos] == '-')
		x->pos++;
	if (x->pos < x->len && x->s[x->pos] == '0') {
		x->pos++;
		if (x->pos < x->len && isdigit((unsigned char)x->s[x->pos]))
			return sx_fail(x, start, "invalid number (leading zeros are not allowed)");
	} else if (sx_digits(x)) {
		return sx_fail(x, start, "invalid number");
	}
	if (x->pos < x->len && x->s[x->pos] == '.') {
		x->pos++;
		if (sx_digits(x))
			return sx_fail(x, start, "invalid number (digits must follow '.')");
	}
	if (x->pos < x->len && (x->s[x->pos] == 'e' || x->s[x->pos] == 'E')) {
		x->pos++;
		if (x->pos < x->len && (x->s[x->pos] == '+' || x->s[x->pos] == '-'))
			x->pos++;
		if (sx_digits(x))
			return sx_fail(x, start, "invalid number (bad exponent)");
	}
	if (x->pos < x->len && is_word(x->s[x->pos]))
		return sx_fail(x, start, "invalid number");
	return 0;
}

static int sx_literal(struct sx *x)
{
	static const char *const lits[] = { "true", "false", "null" };

	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(lits[i]);

		if (x->len - x->pos >= n && !memcmp(x->s + x->pos, lits[i], n) &&
		    (x->pos + n == x->len || !is_word(x->s[x->pos + n]))) {
			x->pos += n;
			return 0;
		}
	}
	return sx_bare_word(x);
}

static int sx_unclosed(struct sx *x, size_t open)
{
	size_t line, col;

	offset_to_line_col(x->s, open, &line, &col);
	return sx_fail(x, x->len, "unexpected end of input: '%c' opened at line %zu, column %zu "
		       "is not closed", x->s[open], line, col);
}

static int sx_container(struct sx *x)
{
	size_t open = x->pos;
	bool object = x->s[open] == '{';
	char close = object ? '}' : ']';
	char b[32];
	int ret;

	if (++x->depth > SX_MAX_DEPTH)
		return sx_fail(x, open, "nesting deeper than %d levels", SX_MAX_DEPTH);
	x->pos++;
	sx_ws(x);
	if (x->pos < x->len && x->s[x->pos] == close) {
		x->pos++;
		x->depth--;
		return 0;
	}
	for (;;) {
		sx_ws(x);
		if (x->pos >= x->len)
			return sx_unclosed(x, open);
		if (object) {
			char ch = x->s[x->pos];
			size_t key_start = x->pos;

			if (ch == '}' && sx_prev(x, x->pos) == ',')
				return sx_fail(x, x->pos, "unexpected '}' (trailing comma?)");
			if (ch != '"')
				return sx_fail(x, x->pos, "expected a member name in double quotes, "
					       "got %s%s", sx_char(x, x->pos, b, sizeof(b)),
					       is_word(ch) || ch == '\'' ? " (missing quote?)" : "");
			ret = sx_string(x);
			if (ret)
				return ret;
			sx_ws(x);
			if (x->pos >= x->len)
				return sx_unclosed(x, open);
			if (x->s[x->pos] != ':') {
				bool hint = memchr(x->s + key_start, ':', x->pos - key_start) ||
					    is_word(x->s[x->pos]);

				return sx_fail(x, x->pos, "expected ':' after a member name, got %s%s",
					       sx_char(x, x->pos, b, sizeof(b)),
					       hint ? " (missing quote?)" : "");
			}
			x->pos++;
		} else if (x->s[x->pos] == ']' && sx_prev(x, x->pos) == ',') {
			return sx_fail(x, x->pos, "unexpected ']' (trailing comma?)");
		}
		ret = sx_value(x);
		if (ret)
			return ret;
		sx_ws(x);
		if (x->pos >= x->len)
			return sx_unclosed(x, open);
		if (x->s[x->pos] == ',') {
			x->pos++;
			continue;
		}
		if (x->s[x->pos] == close) {
			x->pos++;
			x->depth--;
			return 0;
		}
		return sx_fail(x, x->pos, "expected ',' or '%c' after %s, got %s%s", close,
			       object ? "a member" : "an element", sx_char(x, x->pos, b, sizeof(b)),
			       x->s[x->pos] == '"' || x->s[x->pos] == '{' || x->s[x->pos] == '[' ?
			       " (missing comma?)" : "");
	}
}

static int sx_value(struct sx *x)
{
	char b[32];
	char ch;

	sx_ws(x);
	if (x->pos >= x->len)
		return sx_fail(x, x->pos, "unexpected end of input, expected a value");
	ch = x->s[x->pos];
	switch (ch) {
	case '{':
	case '[':
		return sx_container(x);
	case '"':
		return sx_string(x);
	case '}':
	case ']':
		if (sx_prev(x, x->pos) == ',')
			return sx_fail(x, x->pos, "unexpected '%c' (trailing comma?)", ch);
		return sx_fail(x, x->pos, "unexpected '%c', expected a value", ch);
	case ',':
		return sx_fail(x, x->pos, "unexpected ',', expected a value (extra comma?)");
	case '\'':
		return sx_fail(x, x->pos, "unexpected \"'\": JSON strings need double quotes");
	default:
		break;
	}
	if (ch == '-' || isdigit((unsigned char)ch))
		return sx_number(x);
	if (is_word(ch))
		return sx_literal(x);
	return sx_fail(x, x->pos, "unexpected %s, expected a value", sx_char(x, x->pos, b, sizeof(b)));
}

int pj_syntax_check(const char *text, size_t len, size_t *offset, char *msg, size_t msglen)
{
	struct sx x = { .s = text, .len = len, .msg = msg, .msglen = msglen };
	char b[32];
	int ret;

	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		x.pos = 3;	/* UTF-8 byte order mark, as some editors write */
	sx_ws(&x);
	if (x.pos >= len) {
		ret = sx_fail(&x, x.pos, "the document is empty");
	} else {
		ret = sx_value(&x);
		if (!ret) {
			sx_ws(&x);
			if (x.pos < len)
				ret = sx_fail(&x, x.pos, "unexpected %s after the end of the document",
					      sx_char(&x, x.pos, b, sizeof(b)));
		}
	}
	if (ret)
		*offset = x.err_off;
	return ret;
}

/* Duplicate member names are ambiguous (parsers keep the first or the last). */
static void check_duplicate_keys(struct pctx *c, const cJSON *v)
{
	size_t mark, i = 0;

	if (cJSON_IsObject(v)) {
		for (const cJSON *a = v->child; a; a = a->next) {
			for (const cJSON *b = v->child; b != a; b = b->next)
				if (a->string && b->string && !strcmp(a->string, b->string)) {
					pc_err_key(c, a->string, "duplicate key \"%s\" in one object",
						   a->string);
					break;
				}
			mark = pc_push_key(c, a->string ? a->string : "?");
			check_duplicate_keys(c, a);
			pc_pop(c, mark);
		}
	} else if (cJSON_IsArray(v)) {
		for (const cJSON *a = v->child; a; a = a->next, i++) {
			mark = pc_push_index(c, i);
			check_duplicate_keys(c, a);
			pc_pop(c, mark);
		}
	}
}

cJSON *pj_parse(struct pctx *c, const char *text, size_t len, const char *what)
{
	size_t off, line, col, errors = c->diags->n_errors;
	char msg[256];
	cJSON *root;

	if (pj_syntax_check(text, len, &off, msg, sizeof(msg))) {
		offset_to_line_col(text, off, &line, &col);
		pc_err(c, "%s: line %zu, column %zu: %s", what, line, col, msg);
		return NULL;
	}
	root = cJSON_ParseWithLength(text, len);
	if (!root) {
		pc_err(c, "%s: cJSON could not parse it (out of memory?)", what);
		return NULL;
	}
	check_duplicate_keys(c, root);
	if (c->diags->n_errors != errors) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}
