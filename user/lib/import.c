// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf import: the endpoints document of one node from `kubectl get -o
 * json` output (see import.h). Each pod's vpc.amazonaws.com/pod-eni
 * annotation goes through the endpoints parser itself (parse_endpoints_doc),
 * so the importer and `sgbpf validate` can never read it differently; its
 * messages are moved to the pod's JSON path in the pods document.
 *
 * SecurityGroupPolicy matching follows the VPC resource controller
 * (pkg/utils/helper.go, filterPodSecurityGroups): only SGPs in the pod's
 * namespace; an SGP without a selector or without groups is ignored; each
 * selector that is set must match (podSelector against the pod's labels,
 * serviceAccountSelector against its ServiceAccount's labels); a selector
 * that does not convert (bad operator, In without values) matches nothing;
 * the groups of every matching SGP are unioned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sgbpf/layout.h>

#include "import.h"
#include "parse.h"
#include "parse_int.h"

#define POD_ENI "vpc.amazonaws.com/pod-eni"
#define POD_ENI_PATH "metadata.annotations[\"" POD_ENI "\"]"
#define SGP_API "vpcresources.k8s.aws/v1beta1"
#define MAX_SGS 16
#define IFNAME_MAX 15

/* ---- SHA-1 (FIPS 180-4), for the VPC CNI's veth names ------------------- */

static uint32_t rol32(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f, k, t;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = rol32(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol32(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void sg_sha1(const void *data, size_t len, uint8_t digest[20])
{
	uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
	const uint8_t *p = data;
	uint64_t bits = (uint64_t)len * 8;
	uint8_t tail[128] = { 0 };
	size_t n = len, end;

	for (; n >= 64; n -= 64, p += 64)
		sha1_block(h, p);
	if (n)
		memcpy(tail, p, n);
	tail[n] = 0x80;
	end = n < 56 ? 64 : 128;	/* room for the 8-byte length after 0x80 */
	for (int i = 0; i < 8; i++)
		tail[end - 1 - i] = (uint8_t)(bits >> (8 * i));
	sha1_block(h, tail);
	if (end == 128)
		sha1_block(h, tail + 64);
	for (int i = 0; i < 5; i++) {
		digest[4 * i] = (uint8_t)(h[i] >> 24);
		digest[4 * i + 1] = (uint8_t)(h[i] >> 16);
		digest[4 * i + 2] = (uint8_t)(h[i] >> 8);
		digest[4 * i + 3] = (uint8_t)h[i];
	}
}

int sg_pod_veth_name(const char *prefix, const char *ns, const char *name, char out[16])
{
	uint8_t digest[20];
	char *key = NULL;
	int n;

	if (strlen(prefix) + 11 > IFNAME_MAX)
		return -EINVAL;
	/* amazon-vpc-cni-k8s GeneratePodHostVethName: sha1("<namespace>.<name>")[:11] */
	n = asprintf(&key, "%s.%s", ns, name);
	if (n < 0)
		return -ENOMEM;
	sg_sha1(key, (size_t)n, digest);
	free(key);
	n = snprintf(out, 16, "%s", prefix);
	for (int i = 0; i < 6; i++)
		snprintf(out + n + 2 * i, 16 - n - 2 * i, "%02x", digest[i]);
	out[n + 11] = '\0';
	return 0;
}

/* ---- input documents ---------------------------------------------------- */

int sg_import_read(const char *path, struct sg_import_doc *doc, struct sg_diags *diags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f, *mem;
	char chunk[65536];
	size_t r;
	int err = 0;

	doc->name = path;
	f = fopen(path, "rb");
	if (!f) {
		err = errno;
		sg_diag_add(diags, SG_ERROR, path, NULL, "cannot open: %s", strerror(err));
		return -err;
	}
	mem = open_memstream(&buf, &len);
	if (!mem) {
		fclose(f);
		sg_diag_add(diags, SG_ERROR, path, NULL, "out of memory");
		return -ENOMEM;
	}
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (fwrite(chunk, 1, r, mem) != r)
			err = ENOMEM;
	if (ferror(f))
		err = errno ? errno : EIO;
	fclose(f);
	if (fclose(mem) && !err)
		err = ENOMEM;
	if (err) {
		free(buf);
		sg_diag_add(diags, SG_ERROR, path, NULL, "cannot read: %s", strerror(err));
		return -err;
	}
	doc->text = buf;
	doc->len = len;
	return 0;
}

void sg_import_docs_free(struct sg_import_docs *docs)
{
	free(docs->pods.text);
	free(docs->sgps.text);
	free(docs->nodes.text);
	free(docs->sas.text);
	free(docs->enis.text);
	memset(docs, 0, sizeof(*docs));
}

/*
 * The objects of `kubectl get KIND -o json`: a List's items, or one object
 * of that kind (kubectl prints a single object when given a name).
 */
struct klist {
	const char *kind;
	const cJSON *root;
	bool single;
	size_t n;
};

static int klist_init(struct pctx *c, const cJSON *root, const char *kind, const char *how,
		      struct klist *l)
{
	const cJSON *items = NULL, *k = pj_item(c, root, "kind");
	char got[64];

	memset(l, 0, sizeof(*l));
	l->kind = kind;
	if (cJSON_IsObject(root) && pj_item(c, root, "items")) {
		if (pj_array(c, root, "items", true, &items))
			return -EINVAL;
		l->root = items;
		l->n = (size_t)cJSON_GetArraySize(items);
		/* A whole file of the wrong kind: say it once. */
		k = pj_item(c, cJSON_GetArrayItem(items, 0), "kind");
		if (cJSON_IsString(k) && strcmp(k->valuestring, kind)) {
			pc_err(c, "items[0] is a %s: expected the output of `%s`; is this the "
			       "right file?", k->valuestring, how);
			return -EINVAL;
		}
		return 0;
	}
	if (cJSON_IsObject(root) && cJSON_IsString(k) && !strcmp(k->valuestring, kind)) {
		l->root = root;
		l->single = true;
		l->n = 1;
		return 0;
	}
	if (cJSON_IsString(k))
		pc_err(c, "expected the output of `%s` (a List with \"items\", or one %s), got "
		       "a %s", how, kind, k->valuestring);
	else
		pc_err(c, "expected the output of `%s` (a List with \"items\", or one %s), got %s",
		       how, kind, pj_got(root, got, sizeof(got)));
	return -EINVAL;
}

/* Object i, with the path pushed (items[i]); *mark restores it. */
static const cJSON *klist_at(struct pctx *c, const struct klist *l, size_t i, size_t *mark)
{
	*mark = c->plen;
	if (l->single)
		return l->root;
	pc_push_key(c, "items");
	pc_push_index(c, i);
	return cJSON_GetArrayItem(l->root, (int)i);
}

/* An item's metadata: namespace (when namespaced) and name; checks its kind. */
static int kmeta(struct pctx *c, const struct klist *l, const cJSON *obj, bool namespaced,
		 const char **ns, const char **name)
{
	const cJSON *meta = NULL, *k = pj_item(c, obj, "kind");
	char got[64];
	size_t mark;
	int ret = 0;

	if (!cJSON_IsObject(obj)) {
		pc_err(c, "expected a %s object, got %s", l->kind, pj_got(obj, got, sizeof(got)));
		return -EINVAL;
	}
	if (cJSON_IsString(k) && strcmp(k->valuestring, l->kind)) {
		pc_err_key(c, "kind", "a %s where a %s was expected: is this the right file?",
			   k->valuestring, l->kind);
		return -EINVAL;
	}
	if (pj_object(c, obj, "metadata", true, &meta))
		return -EINVAL;
	mark = pc_push_key(c, "metadata");
	if (pj_string(c, meta, "name", true, name) || !**name) {
		if (*name && !**name)
			pc_err_key(c, "name", "empty");
		ret = -EINVAL;
	}
	if (namespaced && (pj_string(c, meta, "namespace", true, ns) || !**ns)) {
		if (*ns && !**ns)
			pc_err_key(c, "namespace", "empty");
		ret = -EINVAL;
	}
	pc_pop(c, mark);
	return ret;
}

/* A value at path keys[0].keys[1]...; NULL when any step is absent. */
static const cJSON *dig(const cJSON *obj, const char *const *keys)
{
	for (size_t i = 0; keys[i] && obj; i++)
		obj = cJSON_GetObjectItemCaseSensitive(obj, keys[i]);
	return obj;
}

/*
 * The latest time a managedFields entry of meta wrote the field at fields
 * (fieldsV1 keys, e.g. {"f:spec"}). The API server writes RFC 3339 UTC with
 * second precision, so strcmp orders them. NULL when unknown.
 */
static const char *managed_time(const cJSON *meta, const char *const *fields)
{
	const cJSON *e, *mf = cJSON_GetObjectItemCaseSensitive(meta, "managedFields");
	const char *best = NULL;

	cJSON_ArrayForEach(e, (cJSON_IsArray(mf) ? mf : NULL)) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "time");
		const cJSON *f = dig(cJSON_GetObjectItemCaseSensitive(e, "fieldsV1"), fields);

		if (f && cJSON_IsString(t) && (!best || strcmp(t->valuestring, best) > 0))
			best = t->valuestring;
	}
	return best;
}

static const char *later(const char *a, const char *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return strcmp(a, b) >= 0 ? a : b;
}

/* ---- label selectors ---------------------------------------------------- */

enum sel_op { SEL_IN, SEL_NOT_IN, SEL_EXISTS, SEL_NOT_EXISTS };

struct lreq {
	const char *key;
	enum sel_op op;
	const char *value;	/* matchLabels: the one value */
	const cJSON *values;	/* matchExpressions: array of strings */
};

struct lsel {
	bool set;		/* present and not null */
	bool valid;		/* converts to a selector (else matches nothing) */
	struct lreq *reqs;
	size_t n;
};

static bool value_in(const struct lreq *r, const char *val)
{
	const cJSON *v;

	if (r->value)
		return !strcmp(r->value, val);
	cJSON_ArrayForEach(v, r->values)
		if (!strcmp(v->valuestring, val))
			return true;
	return false;
}

static bool sel_matches(const struct lsel *s, const cJSON *labels)
{
	if (!s->valid)
		return false;
	for (size_t i = 0; i < s->n; i++) {
		const struct lreq *r = &s->reqs[i];
		const cJSON *l = cJSON_IsObject(labels) ?
				 cJSON_GetObjectItemCaseSensitive(labels, r->key) : NULL;
		const char *val = cJSON_IsString(l) ? l->valuestring : NULL;
		bool ok;

		switch (r->op) {
		case SEL_IN:
			ok = val && value_in(r, val);
			break;
		case SEL_NOT_IN:
			ok = !val || !value_in(r, val);
			break;
		case SEL_EXISTS:
			ok = val != NULL;
			break;
		default:
			ok = val == NULL;
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

static int push_req(struct pctx *c, struct lsel *s, const struct lreq *r)
{
	if (grow_for((void **)&s->reqs, s->n, sizeof(*s->reqs)))
		return pc_oom(c);
	s->reqs[s->n++] = *r;
	return 0;
}

static int parse_expression(struct pctx *c, const cJSON *e, struct lsel *s, const char *sgp_id)
{
	static const char *const ops[] = { "In", "NotIn", "Exists", "DoesNotExist" };
	struct lreq r = { 0 };
	const cJSON *values = NULL, *v;
	const char *op = NULL;
	size_t mark, i = 0;
	int nvals, k, ret = 0;
	char got[64];

	if (!cJSON_IsObject(e)) {
		pc_err(c, "expected a {key, operator, values} object, got %s",
		       pj_got(e, got, sizeof(got)));
		return -EINVAL;
	}
	if (pj_string(c, e, "key", true, &r.key) || pj_string(c, e, "operator", true, &op))
		return -EINVAL;
	if (pj_array(c, e, "values", false, &values) < 0)
		return -EINVAL;
	mark = pc_push_key(c, "values");
	cJSON_ArrayForEach(v, values) {
		size_t m = pc_push_index(c, i++);

		if (!cJSON_IsString(v)) {
			pc_err(c, "expected a label value (a string), got %s",
			       pj_got(v, got, sizeof(got)));
			ret = -EINVAL;
		}
		pc_pop(c, m);
	}
	pc_pop(c, mark);
	if (ret)
		return ret;
	r.values = values;
	nvals = values ? cJSON_GetArraySize(values) : 0;
	for (k = 0; k < 4 && strcmp(op, ops[k]); k++)
		;
	/* Where metav1.LabelSelectorAsSelector fails, the controller skips the SGP. */
	if (k == 4) {
		pc_warn_key(c, "operator", "\"%s\" is not a label selector operator (In, NotIn, "
			    "Exists, DoesNotExist): the VPC resource controller ignores "
			    "SecurityGroupPolicy %s; fix the operator", op, sgp_id);
		s->valid = false;
		return 0;
	}
	if ((k <= SEL_NOT_IN && !nvals) || (k > SEL_NOT_IN && nvals)) {
		pc_warn(c, "operator %s %s values: the VPC resource controller ignores "
			"SecurityGroupPolicy %s; fix the expression", op,
			k <= SEL_NOT_IN ? "needs" : "takes no", sgp_id);
		s->valid = false;
		return 0;
	}
	r.op = (enum sel_op)k;
	return push_req(c, s, &r);
}

static int parse_selector(struct pctx *c, const cJSON *spec, const char *key, struct lsel *s,
			  const char *sgp_id)
{
	const cJSON *sel = NULL, *labels = NULL, *exprs = NULL, *v;
	size_t mark, kmark, i = 0;
	char got[64];
	int ret = 0;

	memset(s, 0, sizeof(*s));
	if (pj_object(c, spec, key, false, &sel))
		return pj_item(c, spec, key) ? -EINVAL : 0;
	s->set = s->valid = true;
	kmark = pc_push_key(c, key);
	if (pj_object(c, sel, "matchLabels", false, &labels) < 0)
		ret = -EINVAL;
	mark = pc_push_key(c, "matchLabels");
	cJSON_ArrayForEach(v, labels) {
		struct lreq r = { .key = v->string, .op = SEL_IN };

		if (!cJSON_IsString(v)) {
			pc_err_key(c, v->string, "expected a label value (a string), got %s",
				   pj_got(v, got, sizeof(got)));
			ret = -EINVAL;
			continue;
		}
		r.value = v->valuestring;
		if (push_req(c, s, &r))
			ret = -ENOMEM;
	}
	pc_pop(c, mark);
	if (pj_array(c, sel, "matchExpressions", false, &exprs) < 0)
		ret = -EINVAL;
	mark = pc_push_key(c, "matchExpressions");
	cJSON_ArrayForEach(v, exprs) {
		size_t m = pc_push_index(c, i++);

		if (parse_expression(c, v, s, sgp_id))
			ret = -EINVAL;
		pc_pop(c, m);
	}
	pc_pop(c, mark);
	pc_pop(c, kmark);
	return ret;
}

/* ---- SecurityGroupPolicies ---------------------------------------------- */

struct sgp {
	const char *ns, *name;
	char sa_path[PC_PATH_MAX + 32];	/* its serviceAccountSelector, for messages */
	struct lsel pod, sa;
	char (*groups)[SG_ID_MAX];
	size_t n_groups;
	bool usable;			/* a selector and groups: the controller applies it */
	bool sa_missing_reported;
	const char *written;		/* when its spec was last written, NULL if unknown */
};

struct imp {
	const struct sg_import_docs *docs;
	const struct sg_import_opts *opts;
	struct sg_diags *diags;
	cJSON *pods, *sgp_root, *nodes, *sas, *enis;
	struct klist pod_list, sa_list;
	const cJSON *eni_list;		/* NetworkInterfaces[] */
	struct sgp *sgps;
	size_t n_sgps;
	struct sg_policy out;		/* the imported endpoints and node addresses */
	size_t pods_on_node;
};

static void pctx_init(struct pctx *c, struct imp *im, const struct sg_import_doc *doc)
{
	memset(c, 0, sizeof(*c));
	c->diags = im->diags;
	c->file = doc->name;
}

static cJSON *parse_doc(struct imp *im, const struct sg_import_doc *doc)
{
	struct pctx c;

	if (!doc->text)
		return NULL;
	pctx_init(&c, im, doc);
	return pj_parse(&c, doc->text, doc->len, "not valid JSON");
}

static int parse_groups(struct pctx *c, const cJSON *spec, struct sgp *p)
{
	const cJSON *sgs = NULL, *ids = NULL, *v;
	size_t mark, m, i = 0;
	int ret = 0;

	if (pj_object(c, spec, "securityGroups", false, &sgs))
		return pj_item(c, spec, "securityGroups") ? -EINVAL : 0;
	mark = pc_push_key(c, "securityGroups");
	if (pj_array(c, sgs, "groupIds", false, &ids) < 0)
		ret = -EINVAL;
	m = pc_push_key(c, "groupIds");
	cJSON_ArrayForEach(v, ids) {
		size_t im = pc_push_index(c, i++);

		if (grow_for((void **)&p->groups, p->n_groups, sizeof(*p->groups)))
			ret = pc_oom(c);
		else if (pj_id_value(c, v, "sg-", p->groups[p->n_groups]))
			ret = -EINVAL;
		else
			p->n_groups++;
		pc_pop(c, im);
	}
	pc_pop(c, m);
	pc_pop(c, mark);
	return ret;
}

static int parse_sgp(struct pctx *c, const cJSON *obj, struct sgp *p, const struct klist *l)
{
	static const char *const spec_field[] = { "f:spec", NULL };
	const cJSON *spec = NULL, *api = pj_item(c, obj, "apiVersion"), *meta;
	const char *created = NULL;
	char id[512];
	size_t mark;
	int ret;

	if (kmeta(c, l, obj, true, &p->ns, &p->name))
		return -EINVAL;
	snprintf(p->sa_path, sizeof(p->sa_path), "%s%sspec.serviceAccountSelector", c->path,
		 c->plen ? "." : "");
	snprintf(id, sizeof(id), "%s/%s", p->ns, p->name);
	if (cJSON_IsString(api) && strcmp(api->valuestring, SGP_API))
		pc_warn_key(c, "apiVersion", "SecurityGroupPolicy %s is %s; this importer reads "
			    "%s and may misread it", id, api->valuestring, SGP_API);
	if (pj_object(c, obj, "spec", true, &spec))
		return -EINVAL;
	mark = pc_push_key(c, "spec");
	ret = parse_selector(c, spec, "podSelector", &p->pod, id);
	ret |= parse_selector(c, spec, "serviceAccountSelector", &p->sa, id);
	ret |= parse_groups(c, spec, p);
	if (!ret && !p->pod.set && !p->sa.set)
		pc_warn(c, "SecurityGroupPolicy %s has neither podSelector nor "
			"serviceAccountSelector: the VPC resource controller ignores it", id);
	else if (!ret && !p->n_groups)
		pc_warn(c, "SecurityGroupPolicy %s has no securityGroups.groupIds: the VPC "
			"resource controller ignores it", id);
	pc_pop(c, mark);
	p->usable = !ret && (p->pod.set || p->sa.set) && p->n_groups;
	meta = pj_item(c, obj, "metadata");
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(meta, "creationTimestamp")))
		created = cJSON_GetObjectItemCaseSensitive(meta, "creationTimestamp")->valuestring;
	p->written = later(created, managed_time(meta, spec_field));
	return ret ? -EINVAL : 0;
}

static int load_sgps(struct imp *im)
{
	const struct sg_import_doc *doc = &im->docs->sgps;
	struct klist l;
	struct pctx c;
	int ret = 0;

	pctx_init(&c, im, doc);
	if (klist_init(&c, im->sgp_root, "SecurityGroupPolicy",
		       "kubectl get securitygrouppolicies -A -o json", &l))
		return -EINVAL;
	im->sgps = calloc(l.n ? l.n : 1, sizeof(*im->sgps));
	if (!im->sgps)
		return pc_oom(&c);
	for (size_t i = 0; i < l.n; i++) {
		size_t mark;
		const cJSON *obj = klist_at(&c, &l, i, &mark);

		if (parse_sgp(&c, obj, &im->sgps[im->n_sgps++], &l))
			ret = -EINVAL;
		pc_pop(&c, mark);
	}
	return ret;
}

static void free_sgps(struct imp *im)
{
	for (size_t i = 0; i < im->n_sgps; i++) {
		free(im->sgps[i].pod.reqs);
		free(im->sgps[i].sa.reqs);
		free(im->sgps[i].groups);
	}
	free(im->sgps);
}

/* ---- node addresses ----------------------------------------------------- */

static int add_node_addr(struct imp *im, const struct sg_addr *a)
{
	struct sg_node *n = &im->out.node;

	for (size_t i = 0; i < n->n_addrs; i++)
		if (n->addrs[i].family == a->family && !memcmp(n->addrs[i].addr, a->addr, 16))
			return 0;
	if (grow_for((void **)&n->addrs, n->n_addrs, sizeof(*n->addrs)))
		return -ENOMEM;
	n->addrs[n->n_addrs++] = *a;
	return 0;
}

static int node_addrs_from(struct imp *im, struct pctx *c, const cJSON *node)
{
	const cJSON *addrs = NULL, *v;
	size_t mark, i = 0;
	char got[64];
	int ret = 0;

	mark = pc_push_key(c, "status");
	if (pj_array(c, pj_item(c, node, "status"), "addresses", false, &addrs) < 0) {
		pc_pop(c, mark);
		return -EINVAL;
	}
	pc_push_key(c, "addresses");
	cJSON_ArrayForEach(v, addrs) {
		size_t m = pc_push_index(c, i++);
		const char *type = NULL, *text = NULL;
		struct sg_addr a;

		if (pj_string(c, v, "type", true, &type) || pj_string(c, v, "address", true, &text)) {
			ret = -EINVAL;
		} else if (!strcmp(type, "InternalIP")) {
			if (sg_addr_parse(text, &a)) {
				pc_err_key(c, "address", "expected an IPv4 or IPv6 address, got %s",
					   pj_got(pj_item(c, v, "address"), got, sizeof(got)));
				ret = -EINVAL;
			} else if (add_node_addr(im, &a)) {
				ret = pc_oom(c);
			}
		}
		pc_pop(c, m);
	}
	pc_pop(c, mark);
	return ret;
}

static int load_node(struct imp *im)
{
	const struct sg_import_doc *doc = &im->docs->nodes;
	struct klist l;
	struct pctx c;
	bool found = false;
	int ret = 0;

	for (size_t i = 0; i < im->opts->n_node_addrs; i++)
		if (add_node_addr(im, &im->opts->node_addrs[i]))
			return -ENOMEM;
	if (!im->nodes)
		return 0;
	pctx_init(&c, im, doc);
	if (klist_init(&c, im->nodes, "Node", "kubectl get nodes -o json", &l))
		return -EINVAL;
	for (size_t i = 0; i < l.n; i++) {
		const char *name = NULL;
		size_t mark;
		const cJSON *obj = klist_at(&c, &l, i, &mark);

		if (kmeta(&c, &l, obj, false, NULL, &name))
			ret = -EINVAL;
		else if (!strcmp(name, im->opts->node)) {
			found = true;
			ret |= node_addrs_from(im, &c, obj);
		}
		pc_pop(&c, mark);
	}
	if (!ret && !found) {
		pc_err(&c, "node %s is not among its %zu nodes: give --node as the pods' "
		       "spec.nodeName spells it, or a nodes file from the same cluster",
		       im->opts->node, l.n);
		ret = -EINVAL;
	}
	return ret ? -EINVAL : 0;
}

/* ---- service accounts and ENIs ------------------------------------------ */

/* Check every ServiceAccount's metadata once, so lookups need not report. */
static int load_sas(struct imp *im)
{
	struct pctx c;
	int ret = 0;

	if (!im->sas)
		return 0;
	pctx_init(&c, im, &im->docs->sas);
	if (klist_init(&c, im->sas, "ServiceAccount", "kubectl get serviceaccounts -A -o json",
		       &im->sa_list))
		return -EINVAL;
	for (size_t i = 0; i < im->sa_list.n; i++) {
		const char *ns = NULL, *name = NULL;
		size_t mark;
		const cJSON *obj = klist_at(&c, &im->sa_list, i, &mark);

		if (kmeta(&c, &im->sa_list, obj, true, &ns, &name))
			ret = -EINVAL;
		pc_pop(&c, mark);
	}
	return ret;
}

/* ServiceAccount ns/name (checked by load_sas), or NULL when it is not listed. */
static const cJSON *find_sa(struct imp *im, const char *ns, const char *name)
{
	static const char *const ns_key[] = { "metadata", "namespace", NULL };
	static const char *const name_key[] = { "metadata", "name", NULL };
	struct pctx c = { 0 };

	for (size_t i = 0; i < im->sa_list.n; i++) {
		size_t mark;
		const cJSON *obj = klist_at(&c, &im->sa_list, i, &mark);

		if (!strcmp(dig(obj, ns_key)->valuestring, ns) &&
		    !strcmp(dig(obj, name_key)->valuestring, name))
			return obj;
	}
	return NULL;
}

/*
 * The groups of ENI id from describe-network-interfaces; 1 when the ENI is
 * not listed. Faults are reported at the ENI's path.
 */
static int eni_groups(struct imp *im, const char *id, char (**sgs)[SG_ID_MAX], size_t *n)
{
	const cJSON *eni, *groups = NULL, *g;
	struct pctx c;
	size_t i = 0, j = 0, mark, gm;
	int ret = 0;

	pctx_init(&c, im, &im->docs->enis);
	mark = pc_push_key(&c, "NetworkInterfaces");
	cJSON_ArrayForEach(eni, im->eni_list) {
		const cJSON *eid = cJSON_GetObjectItemCaseSensitive(eni, "NetworkInterfaceId");

		if (cJSON_IsString(eid) && !strcmp(eid->valuestring, id))
			break;
		i++;
	}
	if (!eni) {
		pc_pop(&c, mark);
		return 1;
	}
	pc_push_index(&c, i);
	if (pj_array(&c, eni, "Groups", true, &groups)) {
		pc_pop(&c, mark);
		return -EINVAL;
	}
	gm = pc_push_key(&c, "Groups");
	cJSON_ArrayForEach(g, groups) {
		size_t m = pc_push_index(&c, j++);
		char gid[SG_ID_MAX];

		if (pj_id(&c, g, "GroupId", true, "sg-", gid)) {
			ret = -EINVAL;
		} else if (grow_for((void **)sgs, *n, sizeof(**sgs))) {
			ret = pc_oom(&c);
		} else {
			memcpy((*sgs)[(*n)++], gid, SG_ID_MAX);
		}
		pc_pop(&c, m);
	}
	pc_pop(&c, gm);
	pc_pop(&c, mark);
	return ret;
}

static int load_enis(struct imp *im)
{
	struct pctx c;

	if (!im->enis)
		return 0;
	pctx_init(&c, im, &im->docs->enis);
	if (!cJSON_IsObject(im->enis) || !pj_item(&c, im->enis, "NetworkInterfaces")) {
		pc_err(&c, "expected the output of `aws ec2 describe-network-interfaces` "
		       "(an object with \"NetworkInterfaces\")");
		return -EINVAL;
	}
	return pj_array(&c, im->enis, "NetworkInterfaces", true, &im->eni_list) ? -EINVAL : 0;
}

/* ---- one pod ------------------------------------------------------------ */

static bool has_sg(char (*sgs)[SG_ID_MAX], size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(sgs[i], id))
			return true;
	return false;
}

static int add_sgs(char (**sgs)[SG_ID_MAX], size_t *n, char (*add)[SG_ID_MAX], size_t n_add)
{
	for (size_t i = 0; i < n_add; i++) {
		if (has_sg(*sgs, *n, add[i]))
			continue;
		if (grow_for((void **)sgs, *n, sizeof(**sgs)))
			return -ENOMEM;
		memcpy((*sgs)[(*n)++], add[i], SG_ID_MAX);
	}
	return 0;
}

static int cmp_sg(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Same groups (both sorted and without repeats). */
static bool same_sgs(char (*a)[SG_ID_MAX], size_t na, char (*b)[SG_ID_MAX], size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

/* "sg-a, sg-b" for messages. */
static void sg_list_text(char (*sgs)[SG_ID_MAX], size_t n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", sgs[i]);
	if (!n)
		snprintf(buf, len, "none");
}

struct pod {
	const cJSON *obj, *meta, *spec, *labels;
	const char *ns, *name, *phase, *sa;
	char id[512];
	/* SGP matching */
	char (*sgp_sgs)[SG_ID_MAX];
	size_t n_sgp_sgs;
	char matched[1024];		/* names of the SGPs that select it */
	const char *newest_sgp, *newest_sgp_time;
};

/*
 * The SGPs that select the pod. strict: a serviceAccountSelector that cannot
 * be evaluated is an error; otherwise it just does not match.
 */
static int match_sgps(struct imp *im, struct pctx *c, struct pod *p, bool strict)
{
	static const char *const labels_key[] = { "metadata", "labels", NULL };
	const cJSON *sa = NULL;
	bool sa_looked = false;
	size_t off = 0;
	int ret = 0;

	for (size_t i = 0; i < im->n_sgps; i++) {
		struct sgp *g = &im->sgps[i];

		if (!g->usable || strcmp(g->ns, p->ns))
			continue;
		if (g->pod.set && !sel_matches(&g->pod, p->labels))
			continue;
		if (g->sa.set) {
			if (!im->sas) {
				if (strict && !g->sa_missing_reported) {
					sg_diag_add(im->diags, SG_ERROR, im->docs->sgps.name,
						    g->sa_path, "SecurityGroupPolicy %s/%s selects pods "
						    "by their ServiceAccount's labels, which the pods "
						    "document does not hold: give --service-accounts "
						    "(kubectl get serviceaccounts -A -o json)",
						    g->ns, g->name);
					g->sa_missing_reported = true;
				}
				ret = strict ? -EINVAL : ret;
				continue;
			}
			if (!sa_looked) {
				sa_looked = true;
				sa = find_sa(im, p->ns, p->sa);
				if (!sa && strict) {
					pc_err(c, "pod %s: its ServiceAccount %s/%s is not in %s, so "
					       "SecurityGroupPolicy %s/%s cannot be evaluated: capture "
					       "pods and service accounts at the same time", p->id,
					       p->ns, p->sa, im->docs->sas.name, g->ns, g->name);
					ret = -EINVAL;
				}
			}
			if (!sa || !sel_matches(&g->sa, dig(sa, labels_key)))
				continue;
		}
		if (add_sgs(&p->sgp_sgs, &p->n_sgp_sgs, g->groups, g->n_groups))
			return pc_oom(c);
		if (off < sizeof(p->matched))
			off += (size_t)snprintf(p->matched + off, sizeof(p->matched) - off, "%s%s",
						off ? ", " : "", g->name);
		if (g->written && later(g->written, p->newest_sgp_time) == g->written) {
			p->newest_sgp_time = g->written;
			p->newest_sgp = g->name;
		}
	}
	return ret;
}

/* The annotation's branch ENI ids (already checked by the endpoints parser). */
static int annotation_eni_sgs(struct imp *im, struct pctx *c, struct pod *p, const char *ann,
			      char (**sgs)[SG_ID_MAX], size_t *n, bool *known)
{
	cJSON *arr = cJSON_Parse(ann);
	const cJSON *e;
	int ret = 0;

	*known = true;
	cJSON_ArrayForEach(e, (cJSON_IsArray(arr) ? arr : NULL)) {
		const cJSON *id = cJSON_GetObjectItem(e, "eniId");	/* any case, as the CNI */
		int r;

		if (!cJSON_IsString(id)) {
			*known = false;
			continue;
		}
		r = eni_groups(im, id->valuestring, sgs, n);
		if (r == 1) {
			pc_warn(c, "pod %s: branch ENI %s is not in %s: its SGs come from the "
				"SecurityGroupPolicies; capture the ENIs after the pods", p->id,
				id->valuestring, im->docs->enis.name);
			*known = false;
		} else if (r) {
			ret = r;
		}
	}
	cJSON_Delete(arr);
	return ret;
}

/* Decide the pod's SGs: the ENIs' own when known, else the SGPs'. */
static int pod_sgs(struct imp *im, struct pctx *c, struct pod *p, const char *ann,
		   char (**sgs)[SG_ID_MAX], size_t *n)
{
	static const char *const ann_field[] = { "f:metadata", "f:annotations", "f:" POD_ENI, NULL };
	char a[1024], b[1024];
	bool known = false;
	const char *ann_time;
	int ret;

	ret = match_sgps(im, c, p, true);
	if (ret)
		return ret;
	if (im->eni_list) {
		ret = annotation_eni_sgs(im, c, p, ann, sgs, n, &known);
		if (ret)
			return ret;
	}
	if (known && *n) {
		qsort(*sgs, *n, sizeof(**sgs), cmp_sg);
		qsort(p->sgp_sgs, p->n_sgp_sgs, sizeof(*p->sgp_sgs), cmp_sg);
		if (!same_sgs(*sgs, *n, p->sgp_sgs, p->n_sgp_sgs)) {
			sg_list_text(*sgs, *n, a, sizeof(a));
			sg_list_text(p->sgp_sgs, p->n_sgp_sgs, b, sizeof(b));
			pc_warn(c, "pod %s: its branch ENI has %s but the SecurityGroupPolicies "
				"that select it now (%s) give %s: importing the ENI's groups, which "
				"EC2 enforces; recreate the pod to apply the policies", p->id, a,
				*p->matched ? p->matched : "none", b);
		}
		return 0;
	}
	free(*sgs);
	*sgs = NULL;
	*n = 0;
	if (!p->n_sgp_sgs) {
		pc_err(c, "pod %s has a branch ENI (%s) but no SecurityGroupPolicy in namespace "
		       "%s selects it, and the annotation does not name its SGs: restore the "
		       "policy, give --enis (aws ec2 describe-network-interfaces), or recreate "
		       "the pod", p->id, POD_ENI, p->ns);
		return -EINVAL;
	}
	/* The controller picks SGs when it creates the ENI; later SGP edits miss it. */
	ann_time = managed_time(p->meta, ann_field);
	if (ann_time && p->newest_sgp_time && strcmp(p->newest_sgp_time, ann_time) > 0)
		pc_warn(c, "pod %s: SecurityGroupPolicy %s/%s was written at %s, after the pod's "
			"branch ENI was annotated at %s: the ENI keeps the groups it was created "
			"with, which may differ from the ones imported; recreate the pod, or give "
			"--enis to read the ENI's groups", p->id, p->ns, p->newest_sgp,
			p->newest_sgp_time, ann_time);
	if (add_sgs(sgs, n, p->sgp_sgs, p->n_sgp_sgs))
		return pc_oom(c);
	return 0;
}

/* One pod address at obj.key into ep's ipv4 or ipv6. */
static int pod_ip(struct pctx *c, struct pod *p, const cJSON *obj, const char *key,
		  bool required, cJSON *v4, cJSON *v6)
{
	const char *ip = NULL;
	struct sg_addr a;
	char got[64];
	int r = pj_string(c, obj, key, required, &ip);

	if (r)
		return r < 0 || required ? -EINVAL : 0;
	if (!*ip && !required)
		return 0;
	if (sg_addr_parse(ip, &a)) {
		pc_err_key(c, key, "pod %s: expected an IPv4 or IPv6 address, got %s", p->id,
			   pj_got(pj_item(c, obj, key), got, sizeof(got)));
		return -EINVAL;
	}
	cJSON_AddItemToArray(a.family == SGBPF_AF_V4 ? v4 : v6, cJSON_CreateString(ip));
	return 0;
}

/* status.podIPs (Pending pods have none yet: the annotation has them). */
static int pod_ips(struct pctx *c, struct pod *p, cJSON *ep)
{
	const cJSON *status = pj_item(c, p->obj, "status"), *ips = NULL, *v;
	cJSON *v4 = cJSON_AddArrayToObject(ep, "ipv4"), *v6 = cJSON_AddArrayToObject(ep, "ipv6");
	size_t mark, i = 0;
	int ret = 0;

	if (!v4 || !v6)
		return pc_oom(c);
	mark = pc_push_key(c, "status");
	if (pj_array(c, status, "podIPs", false, &ips) < 0) {
		ret = -EINVAL;
	} else if (ips) {
		pc_push_key(c, "podIPs");
		cJSON_ArrayForEach(v, ips) {
			size_t m = pc_push_index(c, i++);

			ret |= pod_ip(c, p, v, "ip", true, v4, v6);
			pc_pop(c, m);
		}
	} else {
		/* before dual-stack support only status.podIP */
		ret = pod_ip(c, p, status, "podIP", false, v4, v6);
	}
	pc_pop(c, mark);
	return ret ? -EINVAL : 0;
}

/*
 * Run the endpoints parser on {name, addresses, SGs, podEni} into tmp (the
 * caller frees it) and move its messages to the pod: endpoints[0].podEni ->
 * <pod>.metadata.annotations[...], endpoints[0] -> <pod>. On success
 * tmp->endpoints[0] is the pod's endpoint.
 */
static int parse_pod_endpoint(struct imp *im, struct pctx *c, struct pod *p, cJSON *epj,
			      struct sg_policy *tmp)
{
	static const char ep0[] = "endpoints[0]", eni0[] = "endpoints[0].podEni";
	struct sg_diags d;
	struct pctx pc = { 0 };
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	int ret;

	if (!root || !arr) {
		cJSON_Delete(root);
		cJSON_Delete(arr);
		return pc_oom(c);
	}
	cJSON_AddItemToObject(root, "endpoints", arr);
	cJSON_AddItemReferenceToArray(arr, epj);
	sg_diags_init(&d);
	pc.pol = tmp;
	pc.diags = &d;
	pc.file = c->file;
	ret = parse_endpoints_doc(&pc, root);
	cJSON_Delete(root);
	for (size_t i = 0; i < d.n; i++) {
		const struct sg_diag *x = &d.items[i];
		const char *path = x->path ? x->path : "";
		char *np = NULL;
		int r;

		if (!strncmp(path, eni0, sizeof(eni0) - 1))
			r = asprintf(&np, "%s." POD_ENI_PATH "%s", c->path, path + sizeof(eni0) - 1);
		else if (!strncmp(path, ep0, sizeof(ep0) - 1))
			r = asprintf(&np, "%s%s", c->path, path + sizeof(ep0) - 1);
		else
			r = asprintf(&np, "%s", c->path);
		sg_diag_add(im->diags, x->severity, c->file, r < 0 ? c->path : np, "pod %s: %s",
			    p->id, x->message);
		free(r < 0 ? NULL : np);
	}
	sg_diags_free(&d);
	return !ret && tmp->n_endpoints != 1 ? -EINVAL : ret;
}

static int add_port(struct sg_endpoint *ep, long port)
{
	size_t i;

	for (i = 0; i < ep->n_probe_ports && ep->probe_ports[i] < port; i++)
		;
	if (i < ep->n_probe_ports && ep->probe_ports[i] == port)
		return 0;
	if (grow_for((void **)&ep->probe_ports, ep->n_probe_ports, sizeof(*ep->probe_ports)))
		return -ENOMEM;
	memmove(ep->probe_ports + i + 1, ep->probe_ports + i,
		(ep->n_probe_ports - i) * sizeof(*ep->probe_ports));
	ep->probe_ports[i] = (uint16_t)port;
	ep->n_probe_ports++;
	return 0;
}

/* A named port: the container's ports[].name, as kubelet's findPortByName. */
static int named_port(struct pctx *c, const cJSON *container, const char *name, long *port)
{
	const cJSON *ports = pj_item(c, container, "ports"), *v;

	cJSON_ArrayForEach(v, (cJSON_IsArray(ports) ? ports : NULL)) {
		const cJSON *n = pj_item(c, v, "name"), *cp = pj_item(c, v, "containerPort");

		if (cJSON_IsString(n) && !strcmp(n->valuestring, name) && cJSON_IsNumber(cp) &&
		    cp->valuedouble >= 1 && cp->valuedouble <= 65535 &&
		    cp->valuedouble == (double)(long)cp->valuedouble) {
			*port = (long)cp->valuedouble;
			return 0;
		}
	}
	return -ENOENT;
}

static int probe_port(struct pctx *c, struct pod *p, const cJSON *container, const cJSON *h,
		      bool grpc, struct sg_endpoint *ep)
{
	const cJSON *v;
	const char *host = NULL;
	char *end, got[64];
	long port;
	size_t mark;
	int ret = 0;

	/* A probe sent to another host does not reach the pod. */
	if (pj_string(c, h, "host", false, &host) < 0)
		return -EINVAL;
	if (host && *host)
		return 0;
	v = pj_item(c, h, "port");
	if (!v) {
		pc_err_key(c, "port", "pod %s: required but missing", p->id);
		return -EINVAL;
	}
	mark = pc_push_key(c, "port");
	if (cJSON_IsString(v) && !grpc) {
		/* kubelet's extractPort: a name first, then a number written as a string */
		if (named_port(c, container, v->valuestring, &port)) {
			port = strtol(v->valuestring, &end, 10);
			if (!*v->valuestring || *end || port < 1 || port > 65535) {
				pc_warn(c, "pod %s: port \"%s\" is not among the container's named "
					"ports: kubelet cannot probe it either; not a probe port",
					p->id, v->valuestring);
				port = 0;
			}
		}
	} else if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 65535 ||
		   v->valuedouble != (double)(long)v->valuedouble) {
		pc_err(c, "pod %s: expected a port in 1..65535%s, got %s", p->id,
		       grpc ? " (grpc probes take a number)" : " or a named port",
		       pj_got(v, got, sizeof(got)));
		ret = -EINVAL;
		port = 0;
	} else {
		port = (long)v->valuedouble;
	}
	if (port && add_port(ep, port))
		ret = pc_oom(c);
	pc_pop(c, mark);
	return ret;
}

/* obj.key as an object: 0 with the path pushed (*mark restores it), 1 absent, -EINVAL. */
static int push_object(struct pctx *c, const cJSON *obj, const char *key, const cJSON **out,
		       size_t *mark)
{
	int r = pj_object(c, obj, key, false, out);

	if (!r)
		*mark = pc_push_key(c, key);
	return r;
}

static int pod_probe_ports(struct pctx *c, struct pod *p, struct sg_endpoint *ep)
{
	static const char *const lists[] = { "initContainers", "containers" };
	static const char *const probes[] = { "livenessProbe", "readinessProbe", "startupProbe" };
	static const char *const handlers[] = { "tcpSocket", "httpGet", "grpc" };
	size_t mark = pc_push_key(c, "spec");
	int ret = 0;

	for (size_t l = 0; l < 2; l++) {
		const cJSON *arr = NULL, *ct;
		size_t i = 0, lm;

		if (pj_array(c, p->spec, lists[l], false, &arr) < 0) {
			ret = -EINVAL;
			continue;
		}
		lm = pc_push_key(c, lists[l]);
		cJSON_ArrayForEach(ct, arr) {
			size_t cm = pc_push_index(c, i++);

			for (size_t k = 0; k < 3; k++) {
				const cJSON *probe = NULL;
				size_t pm = 0;
				int r = push_object(c, ct, probes[k], &probe, &pm);

				ret |= r < 0 ? -EINVAL : 0;
				for (size_t h = 0; !r && h < 3; h++) {
					const cJSON *hd = NULL;
					size_t hm = 0;
					int rh = push_object(c, probe, handlers[h], &hd, &hm);

					ret |= rh < 0 ? -EINVAL : 0;
					if (rh)
						continue;
					ret |= probe_port(c, p, ct, hd, h == 2, ep);
					pc_pop(c, hm);
				}
				if (!r)
					pc_pop(c, pm);
			}
			pc_pop(c, cm);
		}
		pc_pop(c, lm);
	}
	pc_pop(c, mark);
	return ret ? -EINVAL : 0;
}

/* Move *ep into the output (on success the caller no longer owns it). */
static int keep_endpoint(struct imp *im, struct pctx *c, struct sg_endpoint *ep)
{
	for (size_t i = 0; i < im->out.n_endpoints; i++)
		if (!strcmp(im->out.endpoints[i].name, ep->name)) {
			pc_err(c, "pod %s is listed twice (first at %s): give each pod once",
			       ep->name, im->out.endpoints[i].origin.path);
			return -EINVAL;
		}
	if (grow_for((void **)&im->out.endpoints, im->out.n_endpoints,
		     sizeof(*im->out.endpoints)))
		return pc_oom(c);
	im->out.endpoints[im->out.n_endpoints++] = *ep;
	return 0;
}

/* A pod with the annotation: its endpoint, or -EINVAL after saying why not. */
static int import_annotated(struct imp *im, struct pctx *c, struct pod *p, const char *ann)
{
	char (*sgs)[SG_ID_MAX] = NULL;
	struct sg_endpoint *ep;
	struct sg_policy tmp;
	size_t n_sgs = 0;
	cJSON *epj, *arr;
	char ifname[16];
	int ret;

	ret = pod_sgs(im, c, p, ann, &sgs, &n_sgs);
	if (!ret && n_sgs > MAX_SGS) {
		pc_err(c, "pod %s: %zu security groups from %s; EC2 allows %d per network "
		       "interface: the controller cannot have created this ENI; check the "
		       "policies", p->id, n_sgs, *p->matched ? p->matched : "its ENI", MAX_SGS);
		ret = -EINVAL;
	}
	if (ret) {
		free(sgs);
		return ret;
	}
	epj = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(epj, "securityGroups");
	if (!epj || !arr || !cJSON_AddStringToObject(epj, "name", p->id) ||
	    !cJSON_AddItemToObject(epj, "podEni", cJSON_CreateStringReference(ann))) {
		cJSON_Delete(epj);
		free(sgs);
		return pc_oom(c);
	}
	for (size_t i = 0; i < n_sgs; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(sgs[i]));
	free(sgs);
	sg_policy_init(&tmp);
	ret = pod_ips(c, p, epj);
	if (!ret)
		ret = parse_pod_endpoint(im, c, p, epj, &tmp);
	cJSON_Delete(epj);
	if (ret)
		goto out;
	ep = &tmp.endpoints[0];
	/* The controller hands out VLAN ids from 1; none means no branch ENI yet. */
	if (!ep->vlan_id) {
		pc_warn(c, "pod %s: the %s annotation names no VLAN id, so no branch ENI is wired "
			"yet; not imported (import again once it has one)", p->id, POD_ENI);
		goto out;
	}
	qsort(ep->sgs, ep->n_sgs, sizeof(*ep->sgs), cmp_sg);
	if (sg_pod_veth_name(im->opts->mode == SG_MODE_STRICT ? "vlan" :
			     im->opts->veth_prefix ? im->opts->veth_prefix : "eni",
			     p->ns, p->name, ifname) ||
	    !(ep->interface = strdup(ifname))) {
		ret = pc_oom(c);
		goto out;
	}
	ret = pod_probe_ports(c, p, ep);
	if (!ret) {
		free(ep->origin.path);
		ep->origin.path = strdup(c->path);
		if (!ep->origin.path)
			ret = pc_oom(c);
	}
	if (!ret && !(ret = keep_endpoint(im, c, ep)))
		tmp.n_endpoints = 0;	/* moved to the output */
out:
	sg_policy_free(&tmp);
	return ret;
}

static int import_pod(struct imp *im, struct pctx *c, const cJSON *obj)
{
	const cJSON *status, *anns, *ann, *host;
	const char *node = NULL, *sa = NULL;
	struct pod p;
	int ret = 0;

	memset(&p, 0, sizeof(p));
	p.obj = obj;
	if (kmeta(c, &im->pod_list, obj, true, &p.ns, &p.name))
		return -EINVAL;
	snprintf(p.id, sizeof(p.id), "%s/%s", p.ns, p.name);
	p.meta = pj_item(c, obj, "metadata");
	if (pj_object(c, obj, "spec", true, &p.spec))
		return -EINVAL;
	{
		size_t m = pc_push_key(c, "spec");

		ret = pj_string(c, p.spec, "nodeName", false, &node) < 0 ||
		      pj_string(c, p.spec, "serviceAccountName", false, &sa) < 0;
		pc_pop(c, m);
	}
	if (ret)
		return -EINVAL;
	if (!node || strcmp(node, im->opts->node))
		return 0;
	im->pods_on_node++;
	status = pj_item(c, obj, "status");
	{
		size_t m = pc_push_key(c, "status");

		ret = pj_string(c, status, "phase", false, &p.phase);
		pc_pop(c, m);
	}
	if (ret < 0)
		return -EINVAL;
	host = pj_item(c, p.spec, "hostNetwork");
	if (!p.phase || (strcmp(p.phase, "Running") && strcmp(p.phase, "Pending")) ||
	    cJSON_IsTrue(host))
		return 0;
	/* The ServiceAccount admission plugin fills in "default". */
	p.sa = sa && *sa ? sa : "default";
	p.labels = pj_item(c, p.meta, "labels");
	anns = pj_item(c, p.meta, "annotations");
	ann = cJSON_IsObject(anns) ? cJSON_GetObjectItemCaseSensitive(anns, POD_ENI) : NULL;
	if (!ann || cJSON_IsNull(ann)) {
		/* Running, no branch ENI: say so when a policy wanted one. */
		if (!strcmp(p.phase, "Running") && !match_sgps(im, c, &p, false) && p.n_sgp_sgs)
			pc_warn(c, "pod %s is selected by SecurityGroupPolicy %s of its namespace but "
				"has no %s annotation (created before the policy, or ENABLE_POD_ENI is off): "
				"it has no branch ENI and is not imported; recreate the pod",
				p.id, p.matched, POD_ENI);
		free(p.sgp_sgs);
		return 0;
	}
	if (!cJSON_IsString(ann)) {
		size_t m = pc_push_key(c, POD_ENI_PATH);
		char got[64];

		pc_err(c, "pod %s: expected the annotation's JSON text (a string), got %s",
		       p.id, pj_got(ann, got, sizeof(got)));
		pc_pop(c, m);
		return -EINVAL;
	}
	ret = import_annotated(im, c, &p, ann->valuestring);
	free(p.sgp_sgs);
	return ret;
}

static int load_pods(struct imp *im)
{
	struct pctx c;
	int ret = 0;

	pctx_init(&c, im, &im->docs->pods);
	if (klist_init(&c, im->pods, "Pod", "kubectl get pods -A -o json", &im->pod_list))
		return -EINVAL;
	for (size_t i = 0; i < im->pod_list.n; i++) {
		size_t mark;
		const cJSON *obj = klist_at(&c, &im->pod_list, i, &mark);
		int r = import_pod(im, &c, obj);

		if (r == -ENOMEM)
			return r;
		if (r)
			ret = -EINVAL;
		pc_pop(&c, mark);
	}
	if (!ret && !im->pods_on_node)
		sg_diag_add(im->diags, SG_WARNING, im->docs->pods.name, NULL,
			    "no pod has spec.nodeName %s: check --node", im->opts->node);
	else if (!ret && !im->out.n_endpoints)
		sg_diag_add(im->diags, SG_WARNING, im->docs->pods.name, NULL,
			    "no pod on node %s carries the %s annotation: the document has no "
			    "endpoints", im->opts->node, POD_ENI);
	return ret;
}

/* ---- output ------------------------------------------------------------- */

static int cmp_endpoint(const void *a, const void *b)
{
	return strcmp(((const struct sg_endpoint *)a)->name, ((const struct sg_endpoint *)b)->name);
}

static cJSON *addr_array(cJSON *obj, const char *key, const struct sg_addr *addrs, size_t n,
			 int family, bool always)
{
	cJSON *arr = cJSON_CreateArray();
	char buf[64];

	for (size_t i = 0; arr && i < n; i++)
		if (addrs[i].family == family)
			cJSON_AddItemToArray(arr, cJSON_CreateString(sg_addr_format(&addrs[i], buf,
										   sizeof(buf))));
	if (arr && (always || cJSON_GetArraySize(arr)))
		cJSON_AddItemToObject(obj, key, arr);
	else
		cJSON_Delete(arr);
	return obj;
}

static char *render(struct imp *im)
{
	const struct sg_node *n = &im->out.node;
	cJSON *root = cJSON_CreateObject(), *node, *eps;
	char *text = NULL, mac[18];

	node = cJSON_AddObjectToObject(root, "node");
	eps = cJSON_AddArrayToObject(root, "endpoints");
	if (!node || !eps)
		goto out;
	addr_array(node, "ipv4", n->addrs, n->n_addrs, SGBPF_AF_V4, true);
	addr_array(node, "ipv6", n->addrs, n->n_addrs, SGBPF_AF_V6, true);
	cJSON_AddStringToObject(node, "enforcingMode",
				im->opts->mode == SG_MODE_STRICT ? "strict" : "standard");
	if (im->opts->n_node_sgs) {
		cJSON *members = cJSON_AddArrayToObject(root, "members");

		for (size_t i = 0; members && i < im->opts->n_node_sgs; i++) {
			cJSON *m = cJSON_CreateObject();

			if (!m)
				goto out;
			cJSON_AddItemToArray(members, m);
			cJSON_AddStringToObject(m, "securityGroup", im->opts->node_sgs[i]);
			addr_array(m, "ipv4", n->addrs, n->n_addrs, SGBPF_AF_V4, false);
			addr_array(m, "ipv6", n->addrs, n->n_addrs, SGBPF_AF_V6, false);
		}
	}
	for (size_t i = 0; i < im->out.n_endpoints; i++) {
		const struct sg_endpoint *ep = &im->out.endpoints[i];
		cJSON *e = cJSON_CreateObject(), *sgs, *ports;

		if (!e)
			goto out;
		cJSON_AddItemToArray(eps, e);
		cJSON_AddStringToObject(e, "name", ep->name);
		cJSON_AddStringToObject(e, "interface", ep->interface);
		cJSON_AddNumberToObject(e, "vlanId", ep->vlan_id);
		if (ep->has_mac) {
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", ep->mac[0],
				 ep->mac[1], ep->mac[2], ep->mac[3], ep->mac[4], ep->mac[5]);
			cJSON_AddStringToObject(e, "mac", mac);
		}
		addr_array(e, "ipv4", ep->addrs, ep->n_addrs, SGBPF_AF_V4, false);
		addr_array(e, "ipv6", ep->addrs, ep->n_addrs, SGBPF_AF_V6, false);
		sgs = cJSON_AddArrayToObject(e, "securityGroups");
		for (size_t j = 0; sgs && j < ep->n_sgs; j++)
			cJSON_AddItemToArray(sgs, cJSON_CreateString(ep->sgs[j]));
		if (!ep->n_probe_ports)
			continue;
		ports = cJSON_AddArrayToObject(e, "probePorts");
		for (size_t j = 0; ports && j < ep->n_probe_ports; j++)
			cJSON_AddItemToArray(ports, cJSON_CreateNumber(ep->probe_ports[j]));
	}
	text = cJSON_Print(root);
out:
	cJSON_Delete(root);
	return text;
}

/* The document must read back as the daemon will read it. */
static int self_check(struct imp *im, const char *text)
{
	struct sg_policy chk;
	int ret;

	sg_policy_init(&chk);
	ret = sg_parse_document(&chk, "imported endpoints document", text, strlen(text),
				im->diags);
	sg_policy_free(&chk);
	return ret;
}

int sg_import(const struct sg_import_docs *docs, const struct sg_import_opts *opts,
	      char **doc, struct sg_diags *diags)
{
	struct imp im = { .docs = docs, .opts = opts, .diags = diags };
	size_t errors = diags->n_errors;
	char *text = NULL;
	int ret = 0;

	*doc = NULL;
	sg_policy_init(&im.out);
	if (!opts->node || !*opts->node) {
		sg_diag_add(diags, SG_ERROR, NULL, NULL, "no node name: give the node whose pods "
			    "to import (its spec.nodeName)");
		return -EINVAL;
	}
	if (opts->mode == SG_MODE_STANDARD && opts->veth_prefix &&
	    (!*opts->veth_prefix || strlen(opts->veth_prefix) + 11 > IFNAME_MAX)) {
		sg_diag_add(diags, SG_ERROR, NULL, NULL, "veth prefix \"%s\" must have 1..4 "
			    "characters (the VPC CNI's AWS_VPC_K8S_CNI_VETHPREFIX)",
			    opts->veth_prefix);
		return -EINVAL;
	}
	for (size_t i = 0; i < opts->n_node_sgs; i++) {
		struct pctx c = { .diags = diags, .file = "node security group" };
		cJSON *v = cJSON_CreateStringReference(opts->node_sgs[i]);
		char id[SG_ID_MAX];

		if (!v || pj_id_value(&c, v, "sg-", id))
			ret = -EINVAL;
		cJSON_Delete(v);
	}
	if (ret)
		return ret;
	if (!docs->pods.text || !docs->sgps.text) {
		sg_diag_add(diags, SG_ERROR, NULL, NULL, "both the pods and the "
			    "SecurityGroupPolicies documents are required");
		return -EINVAL;
	}
	im.pods = parse_doc(&im, &docs->pods);
	im.sgp_root = parse_doc(&im, &docs->sgps);
	im.nodes = parse_doc(&im, &docs->nodes);
	im.sas = parse_doc(&im, &docs->sas);
	im.enis = parse_doc(&im, &docs->enis);
	if (diags->n_errors != errors)
		goto out;
	ret = load_sas(&im);
	ret |= load_sgps(&im);
	ret |= load_node(&im);
	ret |= load_enis(&im);
	if (ret == -ENOMEM || diags->n_errors != errors)
		goto out;
	ret = load_pods(&im);
	if (ret == -ENOMEM || diags->n_errors != errors)
		goto out;
	if (!im.out.node.n_addrs && opts->mode == SG_MODE_STRICT)
		sg_diag_add(diags, SG_WARNING, NULL, NULL, "no node addresses (give --nodes, or "
			    "--node-ipv4/--node-ipv6): in strict mode kubelet's probes come from "
			    "them and the pods' SGs must allow them");
	qsort(im.out.endpoints, im.out.n_endpoints, sizeof(*im.out.endpoints), cmp_endpoint);
	text = render(&im);
	if (!text) {
		sg_diag_add(diags, SG_ERROR, NULL, NULL, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	if (self_check(&im, text)) {
		free(text);
		text = NULL;
	}
out:
	cJSON_Delete(im.pods);
	cJSON_Delete(im.sgp_root);
	cJSON_Delete(im.nodes);
	cJSON_Delete(im.sas);
	cJSON_Delete(im.enis);
	free_sgps(&im);
	sg_policy_free(&im.out);
	if (ret == -ENOMEM)
		return ret;
	if (diags->n_errors != errors || !text) {
		free(text);
		return -EINVAL;
	}
	*doc = text;
	return 0;
}
