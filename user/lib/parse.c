// SPDX-License-Identifier: BSD-2-Clause
/*
 * Reading a policy: one document (kind detected by its keys), a directory
 * of them, and the cross-reference checks that need the whole policy.
 * The document kinds themselves are in parse_groups.c and
 * parse_endpoints.c; JSON plumbing in parse_json.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sgbpf/layout.h>

#include "parse.h"
#include "parse_int.h"

#define MAX_DOCUMENT_BYTES (256u << 20)

int sg_protocol_parse(const char *text, int *proto)
{
	static const struct {
		const char *name;
		int proto;
	} names[] = {
		{ "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "icmpv6", 58 },
		{ "all", -1 }, { "-1", -1 },
	};
	size_t n;
	int v = 0;

	if (!text)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(text, names[i].name)) {
			*proto = names[i].proto;
			return 0;
		}
	n = strlen(text);
	if (n == 0 || n > 3)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -EINVAL;
		v = v * 10 + (text[i] - '0');
	}
	if (v > 255)
		return -EINVAL;
	*proto = v;
	return 0;
}

const char *sg_protocol_name(int proto, char *buf, size_t len)
{
	switch (proto) {
	case -1:
		return "all";
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 58:
		return "icmpv6";
	default:
		snprintf(buf, len, "%d", proto);
		return buf;
	}
}

enum doc_kind {
	DOC_GROUPS,
	DOC_RULES,
	DOC_PREFIX_LIST,
	DOC_ENDPOINTS,
	DOC_KINDS,
};

static const char *const kind_keys[DOC_KINDS] = {
	[DOC_GROUPS] = "SecurityGroups",
	[DOC_RULES] = "SecurityGroupRules",
	[DOC_PREFIX_LIST] = "PrefixListId/Entries",
	[DOC_ENDPOINTS] = "endpoints/node/members",
};

static void report_unknown_kind(struct pctx *c, const cJSON *root)
{
	char found[256] = "";
	size_t used = 0, shown = 0;
	const cJSON *k;

	cJSON_ArrayForEach(k, root) {
		if (shown == 6) {
			snprintf(found + used, sizeof(found) - used, ", ...");
			break;
		}
		int n = snprintf(found + used, sizeof(found) - used, "%s%s", shown ? ", " : "",
				 k->string);

		if (n < 0 || (size_t)n >= sizeof(found) - used)
			break;
		used += (size_t)n;
		shown++;
	}
	pc_err(c, "not a policy document: expected the key SecurityGroups "
	       "(describe-security-groups output), SecurityGroupRules "
	       "(describe-security-group-rules output), PrefixListId and Entries (a prefix "
	       "list), or endpoints, node or members (the endpoints document); %s%s",
	       shown ? "found keys: " : "found an empty object", found);
}

int sg_parse_document(struct sg_policy *policy, const char *file, const char *text,
		      size_t len, struct sg_diags *diags)
{
	struct pctx c = { .pol = policy, .diags = diags, .file = file ? file : "-" };
	size_t errors = diags->n_errors;
	bool kinds[DOC_KINDS] = { false };
	int n_kinds = 0, first = -1, second = -1;
	cJSON *root;
	char got[64];

	root = pj_parse(&c, text, len, "not valid JSON");
	if (!root)
		return -EINVAL;
	if (!cJSON_IsObject(root)) {
		pc_err(&c, "expected a JSON object (a policy document), got %s",
		       pj_got(root, got, sizeof(got)));
		cJSON_Delete(root);
		return -EINVAL;
	}
	kinds[DOC_GROUPS] = cJSON_HasObjectItem(root, "SecurityGroups");
	kinds[DOC_RULES] = cJSON_HasObjectItem(root, "SecurityGroupRules");
	kinds[DOC_PREFIX_LIST] = cJSON_HasObjectItem(root, "PrefixListId") ||
				 cJSON_HasObjectItem(root, "Entries");
	kinds[DOC_ENDPOINTS] = cJSON_HasObjectItem(root, "endpoints") ||
			       cJSON_HasObjectItem(root, "node") ||
			       cJSON_HasObjectItem(root, "members");
	for (int k = 0; k < DOC_KINDS; k++)
		if (kinds[k]) {
			n_kinds++;
			if (first < 0)
				first = k;
			else if (second < 0)
				second = k;
		}

	if (n_kinds == 0)
		report_unknown_kind(&c, root);
	else if (n_kinds > 1)
		pc_err(&c, "mixes document kinds (%s and %s): put each kind in its own file",
		       kind_keys[first], kind_keys[second]);
	else if (first == DOC_GROUPS)
		parse_security_groups(&c, root);
	else if (first == DOC_RULES)
		parse_security_group_rules(&c, root);
	else if (first == DOC_PREFIX_LIST)
		parse_prefix_list(&c, root);
	else
		parse_endpoints_doc(&c, root);

	cJSON_Delete(root);
	return diags->n_errors != errors ? -EINVAL : 0;
}

/* ---- cross references ---------------------------------------------------- */

struct addr_owner {
	struct sg_addr addr;
	size_t ep;
};

static int cmp_owner(const void *a, const void *b)
{
	const struct addr_owner *x = a, *y = b;
	int r = (int)x->addr.family - (int)y->addr.family;

	if (!r)
		r = memcmp(x->addr.addr, y->addr.addr, sizeof(x->addr.addr));
	if (!r)
		r = x->ep < y->ep ? -1 : x->ep > y->ep;
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Endpoint indexes sorted by name, then index (so the first is reported as first). */
static const struct sg_policy *sort_policy;

static int cmp_ep_name(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int r = strcmp(sort_policy->endpoints[x].name, sort_policy->endpoints[y].name);

	return r ? r : (x < y ? -1 : x > y);
}

static void ep_diag(struct sg_diags *d, enum sg_severity sev, const struct sg_endpoint *ep,
		    const char *suffix, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A diagnostic at the endpoint's origin path + suffix. */
static void ep_diag(struct sg_diags *d, enum sg_severity sev, const struct sg_endpoint *ep,
		    const char *suffix, const char *fmt, ...)
{
	char path[512], *msg = NULL;
	va_list ap;

	snprintf(path, sizeof(path), "%s%s", ep->origin.path ? ep->origin.path : "",
		 suffix ? suffix : "");
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	sg_diag_add(d, msg ? sev : SG_ERROR, ep->origin.file, path, "%s",
		    msg ? msg : "out of memory");
	free(msg);
}

static int check_endpoints(const struct sg_policy *pol, struct sg_diags *d)
{
	struct addr_owner *owners = NULL;
	size_t *order = NULL, n_owners = 0, n = pol->n_endpoints;
	char abuf[64], suffix[64];

	for (size_t i = 0; i < n; i++) {
		const struct sg_endpoint *ep = &pol->endpoints[i];

		for (size_t k = 0; k < ep->n_sgs; k++)
			if (!sg_policy_group(pol, ep->sgs[k])) {
				snprintf(suffix, sizeof(suffix), ".securityGroups[%zu]", k);
				ep_diag(d, SG_ERROR, ep, suffix, "security group %s is not "
					"defined in any document", ep->sgs[k]);
			}
		for (size_t j = 0; j < i; j++) {
			const struct sg_endpoint *o = &pol->endpoints[j];

			if (ep->interface && o->interface && !strcmp(ep->interface, o->interface) &&
			    ep->vlan_id == o->vlan_id)
				ep_diag(d, SG_ERROR, ep, ".interface", "interface %s (with the same "
					"vlanId) is also the interface of endpoint %s (%s)",
					ep->interface, o->name, o->origin.path);
		}
		for (size_t a = 0; a < ep->n_addrs; a++)
			for (size_t m = 0; m < pol->node.n_addrs; m++)
				if (ep->addrs[a].family == pol->node.addrs[m].family &&
				    !memcmp(ep->addrs[a].addr, pol->node.addrs[m].addr, 16))
					ep_diag(d, SG_ERROR, ep, NULL, "address %s of endpoint %s is "
						"also a node address",
						sg_addr_format(&ep->addrs[a], abuf, sizeof(abuf)),
						ep->name);
	}

	/* Duplicate names and addresses: sort, then compare neighbours. */
	order = calloc(n ? n : 1, sizeof(*order));
	for (size_t i = 0; i < n; i++)
		n_owners += pol->endpoints[i].n_addrs;
	owners = calloc(n_owners ? n_owners : 1, sizeof(*owners));
	if (!order || !owners) {
		free(order);
		free(owners);
		sg_diag_add(d, SG_ERROR, NULL, NULL, "out of memory while checking endpoints");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	sort_policy = pol;
	qsort(order, n, sizeof(*order), cmp_ep_name);
	for (size_t i = 1; i < n; i++) {
		const struct sg_endpoint *a = &pol->endpoints[order[i - 1]];
		const struct sg_endpoint *b = &pol->endpoints[order[i]];

		if (!strcmp(a->name, b->name))
			ep_diag(d, SG_ERROR, b, ".name", "endpoint name \"%s\" is used twice: first "
				"in %s (%s)", b->name, a->origin.file, a->origin.path);
	}

	n_owners = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t a = 0; a < pol->endpoints[i].n_addrs; a++)
			owners[n_owners++] = (struct addr_owner){ pol->endpoints[i].addrs[a], i };
	qsort(owners, n_owners, sizeof(*owners), cmp_owner);
	for (size_t i = 1; i < n_owners; i++) {
		const struct addr_owner *x = &owners[i - 1], *y = &owners[i];
		const struct sg_endpoint *a = &pol->endpoints[x->ep], *b = &pol->endpoints[y->ep];
		char msg[512];

		if (x->addr.family != y->addr.family ||
		    memcmp(x->addr.addr, y->addr.addr, 16) || x->ep == y->ep)
			continue;
		snprintf(msg, sizeof(msg), "%s (%s) and %s (%s)", a->name, a->origin.path,
			 b->name, b->origin.path);
		ep_diag(d, SG_ERROR, b, NULL, "address %s belongs to two endpoints: %s",
			sg_addr_format(&y->addr, abuf, sizeof(abuf)), msg);
	}
	free(order);
	free(owners);
	return 0;
}

/* Sorted ids of every group some endpoint or member belongs to. */
static int member_groups(const struct sg_policy *pol, char (**ids)[SG_ID_MAX], size_t *n)
{
	size_t total = pol->n_members, k = 0;

	for (size_t i = 0; i < pol->n_endpoints; i++)
		total += pol->endpoints[i].n_sgs;
	*ids = calloc(total ? total : 1, SG_ID_MAX);
	if (!*ids)
		return -ENOMEM;
	for (size_t i = 0; i < pol->n_endpoints; i++)
		for (size_t j = 0; j < pol->endpoints[i].n_sgs; j++)
			memcpy((*ids)[k++], pol->endpoints[i].sgs[j], SG_ID_MAX);
	for (size_t i = 0; i < pol->n_members; i++)
		memcpy((*ids)[k++], pol->members[i].sg, SG_ID_MAX);
	qsort(*ids, k, SG_ID_MAX, cmp_id);
	*n = k;
	return 0;
}

static int check_rules(const struct sg_policy *pol, struct sg_diags *d)
{
	char (*members)[SG_ID_MAX] = NULL;
	size_t n_members = 0;

	if (member_groups(pol, &members, &n_members)) {
		sg_diag_add(d, SG_ERROR, NULL, NULL, "out of memory while checking rules");
		return -ENOMEM;
	}
	for (size_t g = 0; g < pol->n_groups; g++) {
		const struct sg_group *grp = &pol->groups[g];

		for (size_t r = 0; r < grp->n_rules; r++) {
			const struct sg_rule *rule = &grp->rules[r];

			if (rule->kind == SG_SRC_PREFIX_LIST &&
			    !sg_policy_prefix_list(pol, rule->ref_id))
				sg_diag_add(d, SG_ERROR, rule->origin.file, rule->origin.path,
					    "prefix list %s is not defined in any document",
					    rule->ref_id);
			if (rule->kind != SG_SRC_GROUP ||
			    bsearch(rule->ref_id, members, n_members, SG_ID_MAX, cmp_id))
				continue;
			if (sg_policy_group(pol, rule->ref_id))
				sg_diag_add(d, SG_WARNING, rule->origin.file, rule->origin.path,
					    "group %s has no endpoints or members in this policy; "
					    "the rule matches nobody", rule->ref_id);
			else
				sg_diag_add(d, SG_WARNING, rule->origin.file, rule->origin.path,
					    "group %s is defined in no document and has no members; "
					    "the rule matches nobody", rule->ref_id);
		}
	}
	free(members);
	return 0;
}

int sg_policy_check(const struct sg_policy *policy, struct sg_diags *diags)
{
	size_t errors = diags->n_errors;

	if (check_endpoints(policy, diags) || check_rules(policy, diags))
		return -ENOMEM;
	return diags->n_errors != errors ? -EINVAL : 0;
}

/* ---- directories -------------------------------------------------------- */

static int read_document(const char *dir, const char *name, char **text, size_t *len,
			 struct sg_diags *d)
{
	char *path = NULL, *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd = -1, err = 0;

	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		sg_diag_add(d, SG_ERROR, name, NULL, "out of memory");
		return -ENOMEM;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		err = errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		sg_diag_add(d, SG_ERROR, name, NULL, "not a regular file; policy documents are "
			    "files (rename it if it is not one)");
		err = EISDIR;
		goto out;
	}
	if ((unsigned long long)st.st_size > MAX_DOCUMENT_BYTES) {
		sg_diag_add(d, SG_ERROR, name, NULL, "too large (%lld bytes; the limit is %u)",
			    (long long)st.st_size, MAX_DOCUMENT_BYTES);
		err = EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = ENOMEM;
		goto fail;
	}
	for (;;) {
		ssize_t r;

		if (got == (size_t)st.st_size + 1) {
			/* The file grew while we read it: read what was there. */
			got--;
			break;
		}
		r = read(fd, buf + got, (size_t)st.st_size + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno;
			goto fail;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	buf = NULL;
	goto out;
fail:
	sg_diag_add(d, SG_ERROR, name, NULL, "cannot read %s: %s", path, strerror(err));
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return -err;
}

static bool is_json_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

int sg_policy_load_dir(struct sg_policy *policy, const char *dir, struct sg_diags *diags)
{
	size_t errors = diags->n_errors, n = 0;
	char **names = NULL;
	struct dirent *de;
	DIR *dp;
	int err = 0;

	dp = opendir(dir);
	if (!dp) {
		err = errno;
		sg_diag_add(diags, SG_ERROR, NULL, NULL, "cannot read policy directory %s: %s",
			    dir, strerror(err));
		return -err;
	}
	for (;;) {
		errno = 0;
		de = readdir(dp);
		if (!de) {
			err = errno;
			break;
		}
		if (!is_json_name(de->d_name))
			continue;
		if (grow_for((void **)&names, n, sizeof(*names)) ||
		    !(names[n] = strdup(de->d_name))) {
			err = ENOMEM;
			break;
		}
		n++;
	}
	closedir(dp);
	if (err) {
		sg_diag_add(diags, SG_ERROR, NULL, NULL, "cannot read policy directory %s: %s",
			    dir, strerror(err));
		goto out;
	}
	if (n == 0) {
		sg_diag_add(diags, SG_ERROR, NULL, NULL, "no *.json policy documents in %s", dir);
		err = ENOENT;
		goto out;
	}
	/* Name order, so ids, duplicates and messages do not depend on readdir. */
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *text = NULL;
		size_t len = 0;

		if (read_document(dir, names[i], &text, &len, diags) == -ENOMEM) {
			err = ENOMEM;
			goto out;
		}
		if (text)
			sg_parse_document(policy, names[i], text, len, diags);
		free(text);
	}
	if (diags->n_errors == errors)
		sg_policy_check(policy, diags);
	if (diags->n_errors != errors)
		err = EINVAL;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return -err;
}
