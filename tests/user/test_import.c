// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf import: SHA-1 and the VPC CNI's veth names, the endpoints document
 * built from captured-style kubectl output (tests/fixtures/k8s/), SGP
 * selector semantics, the ENI cross-check, order independence, every refusal
 * with its exact message, and the imported document passing the policy
 * loader together with SG JSON.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "compile.h"
#include "import.h"
#include "parse.h"
#include "test_parse_util.h"
#include "../lib/testlib.h"

#define NODE "ip-10-0-1-10.us-west-2.compute.internal"

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha1_vectors(void)
{
	static const struct {
		const char *in;
		const char *want;
	} v[] = {
		{ "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
		{ "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
	};
	uint8_t d[20];
	char got[41];
	char *million = malloc(1000000);

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sg_sha1(v[i].in, strlen(v[i].in), d);
		hex(d, 20, got);
		CU_ASSERT_STRING_EQUAL(got, v[i].want);
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(million);
	memset(million, 'a', 1000000);
	sg_sha1(million, 1000000, d);
	hex(d, 20, got);
	CU_ASSERT_STRING_EQUAL(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	free(million);
}

/* Random lengths around the block and padding edges, against coreutils. */
static void test_sha1_matches_sha1sum(void)
{
	unsigned seed = sgt_seed(), st = seed ? seed : 1;
	char path[] = "/tmp/sgbpf-sha1-XXXXXX", cmd[128], want[64], got[41];
	uint8_t buf[300], d[20];
	int fd = mkstemp(path);

	CU_ASSERT_TRUE_FATAL(fd >= 0);
	close(fd);
	for (int iter = 0; iter < 60; iter++) {
		size_t len = iter < 8 ? (size_t)(52 + iter * 2) : sgt_rand(&st, sizeof(buf) + 1);
		FILE *f = fopen(path, "wb"), *p;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)sgt_rand(&st, 256);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT_EQUAL(fwrite(buf, 1, len, f), len);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "sha1sum %s", path);
		p = popen(cmd, "r");
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT_PTR_NOT_NULL(fgets(want, sizeof(want), p));
		pclose(p);
		want[40] = '\0';
		sg_sha1(buf, len, d);
		hex(d, 20, got);
		if (strcmp(got, want)) {
			fprintf(stderr, "\nsha1 of %zu bytes: got %s, sha1sum %s (seed %u)\n", len,
				got, want, seed);
			CU_FAIL("sha1 differs from sha1sum");
			break;
		}
	}
	unlink(path);
}

static void test_veth_names(void)
{
	char name[16];

	/* The vector of a published veth-name test (Calico's prefix). */
	CU_ASSERT_EQUAL(sg_pod_veth_name("cali", "default", "client-b6989bf87-2bgtc", name), 0);
	CU_ASSERT_STRING_EQUAL(name, "calic95a4947e07");
	CU_ASSERT_EQUAL(sg_pod_veth_name("vlan", "default", "web-7d4b9c8f6-x2x9q", name), 0);
	CU_ASSERT_STRING_EQUAL(name, "vlana21ac33bcaa");
	CU_ASSERT_EQUAL(sg_pod_veth_name("eni", "default", "web-7d4b9c8f6-x2x9q", name), 0);
	CU_ASSERT_STRING_EQUAL(name, "enia21ac33bcaa");
	CU_ASSERT_EQUAL(sg_pod_veth_name("veth5", "default", "web", name), -EINVAL);
}

/* ---- fixtures ------------------------------------------------------------ */

/* Read tests/fixtures/<rel>; its base name names it in messages. */
static void fixture_doc(struct sg_import_doc *doc, const char *rel)
{
	const char *base = strrchr(rel, '/');

	doc->name = base ? base + 1 : rel;
	doc->text = sgt_read_file(sgt_fixture(rel), &doc->len);
	if (!doc->text)
		fprintf(stderr, "cannot read fixture %s\n", rel);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc->text);
}

static void text_doc(struct sg_import_doc *doc, const char *name, const char *json)
{
	doc->name = name;
	doc->text = strdup(json);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc->text);
	doc->len = strlen(json);
}

/* The fixture cluster: pods, SGPs, nodes, service accounts. */
static void cluster_docs(struct sg_import_docs *docs)
{
	memset(docs, 0, sizeof(*docs));
	fixture_doc(&docs->pods, "k8s/pods.json");
	fixture_doc(&docs->sgps, "k8s/sgps.json");
	fixture_doc(&docs->nodes, "k8s/nodes.json");
	fixture_doc(&docs->sas, "k8s/serviceaccounts.json");
}

static const char sgp_warnings[] =
	"warning: sgps.json: items[2].spec.podSelector.matchExpressions[0].operator: \"Equals\" is not a label selector operator (In, NotIn, Exists, DoesNotExist): the VPC resource controller ignores SecurityGroupPolicy default/typo-operator; fix the operator\n"
	"warning: sgps.json: items[3].spec: SecurityGroupPolicy default/no-groups has no securityGroups.groupIds: the VPC resource controller ignores it\n"
	"warning: pods.json: items[5]: pod default/legacy-web-0 is selected by SecurityGroupPolicy web, baseline of its namespace but has no vpc.amazonaws.com/pod-eni annotation (created before the policy, or ENABLE_POD_ENI is off): it has no branch ENI and is not imported; recreate the pod\n";

static const char admin_warning[] =
	"warning: pods.json: items[9].spec.containers[0].startupProbe.httpGet.port: pod payments/ledger-0: port \"admin\" is not among the container's named ports: kubelet cannot probe it either; not a probe port\n";

static char *concat3(const char *a, const char *b, const char *c)
{
	char *s = NULL;

	CU_ASSERT_TRUE_FATAL(asprintf(&s, "%s%s%s", a, b, c) >= 0);
	return s;
}

static void test_import_fixture_cluster(void)
{
	struct sg_import_opts opts = { .node = NODE, .mode = SG_MODE_STRICT };
	struct sg_import_docs docs;
	struct sg_diags d;
	char *doc = NULL, *want, *text, *want_diags;
	size_t len;

	cluster_docs(&docs);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL_FATAL(sg_import(&docs, &opts, &doc, &d), 0);
	want = sgt_read_file(sgt_fixture("k8s/expected/endpoints.json"), &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	CU_ASSERT_TRUE_FATAL(len > 0 && want[len - 1] == '\n');
	want[len - 1] = '\0';	/* the CLI ends the file with a newline */
	TP_EXPECT_TEXT(doc, want, "imported endpoints document");

	text = tp_diag_text(&d);
	want_diags = concat3(sgp_warnings,
		"warning: pods.json: items[9]: pod payments/ledger-0: SecurityGroupPolicy payments/ledger was written at 2024-05-03T16:20:00Z, after the pod's branch ENI was annotated at 2024-05-01T08:00:01Z: the ENI keeps the groups it was created with, which may differ from the ones imported; recreate the pod, or give --enis to read the ENI's groups\n",
		admin_warning);
	TP_EXPECT_TEXT(text, want_diags, "import diagnostics");
	free(text);
	free(want_diags);
	free(want);
	free(doc);
	sg_diags_free(&d);
	sg_import_docs_free(&docs);
}

/* Parse an imported document back into a policy (for field checks). */
static void reparse(const char *doc, struct sg_policy *p)
{
	struct sg_diags d;

	sg_policy_init(p);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_parse_document(p, "imported.json", doc, strlen(doc), &d), 0);
	CU_ASSERT_EQUAL(d.n, 0);
	sg_diags_free(&d);
}

static void test_import_enis_win(void)
{
	struct sg_import_opts opts = { .node = NODE, .mode = SG_MODE_STRICT };
	struct sg_import_docs docs;
	const struct sg_endpoint *ep;
	struct sg_policy p;
	struct sg_diags d;
	char *doc = NULL, *text, *want;

	cluster_docs(&docs);
	fixture_doc(&docs.enis, "k8s/enis.json");
	sg_diags_init(&d);
	CU_ASSERT_EQUAL_FATAL(sg_import(&docs, &opts, &doc, &d), 0);
	/* Only the ledger's ENI disagrees with its policies; the others agree. */
	text = tp_diag_text(&d);
	want = concat3(sgp_warnings,
		"warning: pods.json: items[9]: pod payments/ledger-0: its branch ENI has sg-0ledgerold000001 but the SecurityGroupPolicies that select it now (ledger) give sg-0ledger000000001: importing the ENI's groups, which EC2 enforces; recreate the pod to apply the policies\n",
		admin_warning);
	TP_EXPECT_TEXT(text, want, "import diagnostics with --enis");
	reparse(doc, &p);
	ep = sg_policy_endpoint(&p, "payments/ledger-0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ep);
	CU_ASSERT_EQUAL_FATAL(ep->n_sgs, 1);
	CU_ASSERT_STRING_EQUAL(ep->sgs[0], "sg-0ledgerold000001");
	ep = sg_policy_endpoint(&p, "default/web-7d4b9c8f6-x2x9q");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ep);
	CU_ASSERT_EQUAL(ep->n_sgs, 3);
	sg_policy_free(&p);
	free(text);
	free(want);
	free(doc);
	sg_diags_free(&d);
	sg_import_docs_free(&docs);
}

/* The imported document plus SG JSON is a valid policy directory. */
static void test_import_loads_with_sg_json(void)
{
	static const char *const node_sg[] = { "sg-0node00000000001" };
	struct sg_import_opts opts = { .node = NODE, .mode = SG_MODE_STRICT,
				       .node_sgs = node_sg, .n_node_sgs = 1 };
	char dir[] = "/tmp/sgbpf-import-XXXXXX", path[256];
	struct sg_import_docs docs;
	struct sg_compiled compiled;
	const struct sg_endpoint *ep;
	struct sg_policy p;
	struct sg_diags d;
	char *doc = NULL, *sg, *text;
	size_t sglen;
	FILE *f;

	cluster_docs(&docs);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL_FATAL(sg_import(&docs, &opts, &doc, &d), 0);
	sg_diags_free(&d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/endpoints.json", dir);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(doc, f);
	fclose(f);
	sg = sgt_read_file(sgt_fixture("k8s/sg/describe-security-groups.json"), &sglen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sg);
	snprintf(path, sizeof(path), "%s/groups.json", dir);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(sg, 1, sglen, f), sglen);
	fclose(f);

	sg_policy_init(&p);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_policy_load_dir(&p, dir, &d), 0);
	text = tp_diag_text(&d);
	/* The node's group, which pod rules reference, has the node as member. */
	TP_EXPECT_TEXT(text, "", "policy load diagnostics");
	CU_ASSERT_EQUAL_FATAL(p.n_members, 1);
	CU_ASSERT_STRING_EQUAL(p.members[0].sg, "sg-0node00000000001");
	CU_ASSERT_EQUAL(p.members[0].n_addrs, 2);
	CU_ASSERT_EQUAL(p.n_endpoints, 4);
	CU_ASSERT_EQUAL(p.node.n_addrs, 2);
	ep = sg_policy_endpoint(&p, "default/web-7d4b9c8f6-x2x9q");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ep);
	CU_ASSERT_STRING_EQUAL(ep->interface, "vlana21ac33bcaa");
	CU_ASSERT_EQUAL(ep->vlan_id, 3);
	CU_ASSERT_TRUE(ep->has_mac && ep->mac[0] == 0x06 && ep->mac[5] == 0x3a);
	CU_ASSERT_EQUAL_FATAL(ep->n_probe_ports, 4);
	CU_ASSERT_EQUAL(ep->probe_ports[0], 2021);
	CU_ASSERT_EQUAL(ep->probe_ports[3], 15021);
	ep = sg_policy_endpoint(&p, "payments/api-6f9c7b5d4-qwert");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ep);
	CU_ASSERT_EQUAL(ep->vlan_id, 11);	/* spelt vlanID in its annotation */
	CU_ASSERT_EQUAL_FATAL(ep->n_addrs, 1);
	CU_ASSERT_EQUAL(ep->addrs[0].family, SGBPF_AF_V6);
	CU_ASSERT_EQUAL(sg_compile(&p, NULL, &compiled, &d), 0);
	CU_ASSERT_EQUAL(compiled.n_endpoints, 4);
	sg_compiled_free(&compiled);

	sg_policy_free(&p);
	sg_diags_free(&d);
	free(text);
	free(sg);
	free(doc);
	sg_import_docs_free(&docs);
	unlink(path);
	snprintf(path, sizeof(path), "%s/endpoints.json", dir);
	unlink(path);
	rmdir(dir);
}

/* Shuffle the items of a List document in place (text re-printed). */
static void shuffle_items(struct sg_import_doc *doc, unsigned *st)
{
	cJSON *root = cJSON_Parse(doc->text), *items, *arr[64];
	int n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	items = cJSON_GetObjectItem(root, "items");
	n = cJSON_GetArraySize(items);
	CU_ASSERT_TRUE_FATAL(n <= 64);
	for (int i = n - 1; i >= 0; i--)
		arr[i] = cJSON_DetachItemFromArray(items, i);
	for (int i = n - 1; i > 0; i--) {
		int j = (int)sgt_rand(st, (unsigned)i + 1);
		cJSON *t = arr[i];

		arr[i] = arr[j];
		arr[j] = t;
	}
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(items, arr[i]);
	free(doc->text);
	doc->text = cJSON_PrintUnformatted(root);
	doc->len = strlen(doc->text);
	cJSON_Delete(root);
}

static void test_import_order_independent(void)
{
	struct sg_import_opts opts = { .node = NODE, .mode = SG_MODE_STRICT };
	unsigned seed = sgt_seed(), st = seed ? seed : 1;
	struct sg_import_docs docs;
	struct sg_diags d;
	char *first = NULL, *doc = NULL;

	cluster_docs(&docs);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL_FATAL(sg_import(&docs, &opts, &first, &d), 0);
	sg_diags_free(&d);
	for (int iter = 0; iter < 10; iter++) {
		shuffle_items(&docs.pods, &st);
		shuffle_items(&docs.sgps, &st);
		shuffle_items(&docs.sas, &st);
		sg_diags_init(&d);
		CU_ASSERT_EQUAL(sg_import(&docs, &opts, &doc, &d), 0);
		sg_diags_free(&d);
		if (!doc || strcmp(doc, first)) {
			fprintf(stderr, "\nimport output depends on input order (seed %u)\n", seed);
			CU_FAIL("output depends on input order");
			free(doc);
			break;
		}
		free(doc);
		doc = NULL;
	}
	free(first);
	sg_import_docs_free(&docs);
}

static void test_import_modes_and_node_options(void)
{
	struct sg_addr extra[2];
	struct sg_import_opts opts = { .node = NODE, .mode = SG_MODE_STANDARD,
				       .node_addrs = extra, .n_node_addrs = 2 };
	struct sg_import_docs docs;
	struct sg_policy p;
	struct sg_diags d;
	char *doc = NULL, *text;

	CU_ASSERT_EQUAL(sg_addr_parse("10.0.1.10", &extra[0]), 0);
	CU_ASSERT_EQUAL(sg_addr_parse("10.0.1.11", &extra[1]), 0);
	cluster_docs(&docs);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL_FATAL(sg_import(&docs, &opts, &doc, &d), 0);
	sg_diags_free(&d);
	reparse(doc, &p);
	CU_ASSERT_EQUAL(p.node.mode, SG_MODE_STANDARD);
	CU_ASSERT_EQUAL(p.node.n_addrs, 3);	/* 10.0.1.10 once, .11, the IPv6 InternalIP */
	CU_ASSERT_STRING_EQUAL(sg_policy_endpoint(&p, "payments/ledger-0")->interface,
			       "eni47e53c5df16");
	sg_policy_free(&p);
	free(doc);

	/* The CNI's AWS_VPC_K8S_CNI_VETHPREFIX, and no nodes document. */
	free(docs.nodes.text);
	docs.nodes.text = NULL;
	opts.veth_prefix = "cali";
	opts.n_node_addrs = 1;
	sg_diags_init(&d);
	CU_ASSERT_EQUAL_FATAL(sg_import(&docs, &opts, &doc, &d), 0);
	sg_diags_free(&d);
	reparse(doc, &p);
	CU_ASSERT_EQUAL(p.node.n_addrs, 1);
	CU_ASSERT_STRING_EQUAL(sg_policy_endpoint(&p, "payments/ledger-0")->interface,
			       "cali47e53c5df16");
	sg_policy_free(&p);
	free(doc);

	/* Strict mode without node addresses: imported, with a warning. */
	opts.mode = SG_MODE_STRICT;
	opts.n_node_addrs = 0;
	sg_diags_init(&d);
	CU_ASSERT_EQUAL_FATAL(sg_import(&docs, &opts, &doc, &d), 0);
	text = tp_diag_text(&d);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "warning: no node addresses (give --nodes, or "
					    "--node-ipv4/--node-ipv6)"));
	free(text);
	sg_diags_free(&d);
	free(doc);

	/* A prefix that makes the name longer than IFNAMSIZ - 1. */
	opts.mode = SG_MODE_STANDARD;
	opts.veth_prefix = "longer";
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_import(&docs, &opts, &doc, &d), -EINVAL);
	CU_ASSERT_PTR_NULL(doc);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "veth prefix \"longer\" must have 1..4 characters (the VPC CNI's "
		       "AWS_VPC_K8S_CNI_VETHPREFIX)\n", "veth prefix refusal");
	free(text);
	sg_diags_free(&d);

	/* A node SG that is not an SG id. */
	{
		static const char *const bad_sg[] = { "node-sg" };

		opts.veth_prefix = NULL;
		opts.node_sgs = bad_sg;
		opts.n_node_sgs = 1;
		sg_diags_init(&d);
		CU_ASSERT_EQUAL(sg_import(&docs, &opts, &doc, &d), -EINVAL);
		text = tp_diag_text(&d);
		TP_EXPECT_TEXT(text, "node security group: expected a security group id like "
			       "\"sg-0123456789abcdef0\" (at most 63 characters), got \"node-sg\"\n",
			       "node SG refusal");
		free(text);
		sg_diags_free(&d);
		opts.n_node_sgs = 0;
	}

	/* A node no pod runs on: an empty document and a warning naming it. */
	opts.node = "ip-10-9-9-9.ec2.internal";
	opts.veth_prefix = NULL;
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_import(&docs, &opts, &doc, &d), 0);
	text = tp_diag_text(&d);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "warning: pods.json: no pod has spec.nodeName "
					    "ip-10-9-9-9.ec2.internal: check --node\n"));
	reparse(doc, &p);
	CU_ASSERT_EQUAL(p.n_endpoints, 0);
	sg_policy_free(&p);
	free(text);
	free(doc);
	sg_diags_free(&d);
	sg_import_docs_free(&docs);
}

/* ---- selector semantics ----------------------------------------------- */

static const char one_pod[] =
	"{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"p\", "
	"\"namespace\": \"ns\", \"labels\": %s, \"annotations\": {\"vpc.amazonaws.com/pod-eni\": "
	"\"[{\\\"eniId\\\":\\\"eni-0123\\\",\\\"ifAddress\\\":\\\"06:00:00:00:00:01\\\","
	"\\\"privateIp\\\":\\\"10.0.0.5\\\",\\\"vlanId\\\":1}]\"}}, \"spec\": {\"nodeName\": \"n\", "
	"\"serviceAccountName\": \"sa\"}, \"status\": {\"phase\": \"Running\", \"podIPs\": "
	"[{\"ip\": \"10.0.0.5\"}]}}";
static const char one_sgp[] =
	"{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"apiVersion\": "
	"\"vpcresources.k8s.aws/v1beta1\", \"kind\": \"SecurityGroupPolicy\", \"metadata\": "
	"{\"name\": \"g\", \"namespace\": \"%s\"}, \"spec\": {%s, \"securityGroups\": "
	"{\"groupIds\": [\"sg-0aaa0000000000001\"]}}}]}";
static const char one_sa[] =
	"{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"apiVersion\": \"v1\", "
	"\"kind\": \"ServiceAccount\", \"metadata\": {\"name\": \"sa\", \"namespace\": \"ns\", "
	"\"labels\": %s}}]}";

static void test_selector_semantics(void)
{
	static const struct {
		const char *labels, *sa_labels, *sgp_ns, *selectors;
		bool match;
	} c[] = {
		{ "{\"app\": \"a\"}", "{}", "ns", "\"podSelector\": {}", true },
		{ "{\"app\": \"a\"}", "{}", "other", "\"podSelector\": {}", false },
		{ "{\"app\": \"a\"}", "{}", "ns", "\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}", true },
		{ "{\"app\": \"b\"}", "{}", "ns", "\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}", false },
		{ "{\"App\": \"a\"}", "{}", "ns", "\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}", false },
		{ "{\"app\": \"b\"}", "{}", "ns", "\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"In\", \"values\": [\"a\", \"b\"]}]}", true },
		{ "{}", "{}", "ns", "\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"In\", \"values\": [\"a\"]}]}", false },
		{ "{}", "{}", "ns", "\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"NotIn\", \"values\": [\"a\"]}]}", true },
		{ "{\"app\": \"a\"}", "{}", "ns", "\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"NotIn\", \"values\": [\"a\"]}]}", false },
		{ "{}", "{}", "ns", "\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"Exists\"}]}", false },
		{ "{\"app\": \"\"}", "{}", "ns", "\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"Exists\"}]}", true },
		{ "{}", "{}", "ns", "\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"DoesNotExist\"}]}", true },
		{ "{\"app\": \"a\", \"tier\": \"y\"}", "{}", "ns", "\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}, \"matchExpressions\": [{\"key\": \"tier\", \"operator\": \"In\", \"values\": [\"x\"]}]}", false },
		{ "{\"app\": \"a\"}", "{\"team\": \"t\"}", "ns", "\"serviceAccountSelector\": {\"matchLabels\": {\"team\": \"t\"}}", true },
		{ "{\"app\": \"a\"}", "{\"team\": \"u\"}", "ns", "\"serviceAccountSelector\": {\"matchLabels\": {\"team\": \"t\"}}", false },
		{ "{\"app\": \"a\"}", "{\"team\": \"t\"}", "ns", "\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}, \"serviceAccountSelector\": {}", false },
		{ "{\"app\": \"a\"}", "{\"team\": \"t\"}", "ns", "\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"serviceAccountSelector\": {}", true },
		{ "{\"app\": \"a\"}", "{}", "ns", "\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"in\", \"values\": [\"a\"]}]}", false },
		{ "{\"app\": \"a\"}", "{}", "ns", "\"podSelector\": null", false },
	};
	struct sg_import_opts opts = { .node = "n", .mode = SG_MODE_STRICT };

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct sg_import_docs docs = { 0 };
		char *pods = NULL, *sgps = NULL, *sas = NULL, *doc = NULL;
		struct sg_diags d;
		int ret;

		CU_ASSERT_TRUE_FATAL(asprintf(&pods, one_pod, c[i].labels) > 0);
		CU_ASSERT_TRUE_FATAL(asprintf(&sgps, one_sgp, c[i].sgp_ns, c[i].selectors) > 0);
		CU_ASSERT_TRUE_FATAL(asprintf(&sas, one_sa, c[i].sa_labels) > 0);
		text_doc(&docs.pods, "pods.json", pods);
		text_doc(&docs.sgps, "sgps.json", sgps);
		text_doc(&docs.sas, "sas.json", sas);
		sg_diags_init(&d);
		ret = sg_import(&docs, &opts, &doc, &d);
		if ((ret == 0) != c[i].match || (!c[i].match && !d.n_errors)) {
			fprintf(stderr, "\ncase %zu: pod labels %s, SA labels %s, SGP in %s with "
				"%s: expected %s, import returned %d\n", i, c[i].labels,
				c[i].sa_labels, c[i].sgp_ns, c[i].selectors,
				c[i].match ? "a match" : "no match", ret);
			sg_diags_print(&d, stderr);
			CU_FAIL("selector semantics");
		}
		CU_ASSERT_TRUE(!doc || strstr(doc, "sg-0aaa0000000000001"));
		free(doc);
		free(pods);
		free(sgps);
		free(sas);
		sg_diags_free(&d);
		sg_import_docs_free(&docs);
	}
}

/* `kubectl get pod NAME -o json` prints the one object, not a List. */
static void test_single_object_documents(void)
{
	struct sg_import_opts opts = { .node = "n", .mode = SG_MODE_STRICT };
	struct sg_import_docs docs = { 0 };
	struct sg_diags d;
	char *pods = NULL, *doc = NULL, *text;

	CU_ASSERT_TRUE_FATAL(asprintf(&pods, one_pod, "{\"app\": \"a\"}") > 0);
	text_doc(&docs.pods, "pod.json", pods);
	text_doc(&docs.sgps, "sgp.json",
		 "{\"apiVersion\": \"vpcresources.k8s.aws/v1beta1\", \"kind\": "
		 "\"SecurityGroupPolicy\", \"metadata\": {\"name\": \"g\", \"namespace\": \"ns\"}, "
		 "\"spec\": {\"podSelector\": {}, \"securityGroups\": {\"groupIds\": "
		 "[\"sg-0aaa0000000000001\"]}}}");
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_import(&docs, &opts, &doc, &d), 0);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "warning: no node addresses (give --nodes, or --node-ipv4/"
		       "--node-ipv6): in strict mode kubelet's probes come from them and the "
		       "pods' SGs must allow them\n", "single-object import");
	free(text);
	CU_ASSERT_PTR_NOT_NULL(doc && strstr(doc, "\"ns/p\""));
	free(doc);
	free(pods);
	sg_diags_free(&d);
	sg_import_docs_free(&docs);
}

/* ---- refusals ------------------------------------------------------------ */

static void test_refusals(void)
{
	static const struct {
		const char *pods, *sgps, *nodes, *sas, *enis, *node;
		const char *want;
	} c[] = {
		{ "k8s/bad/pods-malformed.json", "k8s/bad/sgps-ok.json", NULL, NULL, NULL, "node-a",
		  "pods-malformed.json: items[0].metadata.annotations[\"vpc.amazonaws.com/pod-eni\"]: pod shop/trailing-comma: annotation string is not valid JSON: line 1, column 47: unexpected '}' (trailing comma?)\n"
		  "pods-malformed.json: items[1].metadata.annotations[\"vpc.amazonaws.com/pod-eni\"]: pod shop/annotation-object: expected the annotation's JSON text (a string), got an object\n"
		  "pods-malformed.json: items[2].status.podIPs[0].ip: pod shop/bad-ip: expected an IPv4 or IPv6 address, got \"10.0.1.300\"\n"
		  "pods-malformed.json: items[3].spec.containers[0].livenessProbe.tcpSocket.port: pod shop/probe-out-of-range: expected a port in 1..65535 or a named port, got 70000\n"
		  "pods-malformed.json: items[3].spec.containers[0].readinessProbe.grpc.port: pod shop/probe-out-of-range: expected a port in 1..65535 (grpc probes take a number), got \"http\"\n"
		  "pods-malformed.json: items[3].spec.containers[0].startupProbe.httpGet.port: pod shop/probe-out-of-range: required but missing\n"
		  "pods-malformed.json: items[4].metadata.namespace: required but missing\n"
		  "pods-malformed.json: items[5].metadata.annotations[\"vpc.amazonaws.com/pod-eni\"][0].privateIp: pod shop/ip-conflict: 10.0.1.99 is not among the endpoint's ipv4 addresses\n"
		  "pods-malformed.json: items[6]: pod shop/unselected has a branch ENI (vpc.amazonaws.com/pod-eni) but no SecurityGroupPolicy in namespace shop selects it, and the annotation does not name its SGs: restore the policy, give --enis (aws ec2 describe-network-interfaces), or recreate the pod\n"
		  "pods-malformed.json: items[8]: pod shop/twice is listed twice (first at items[7]): give each pod once\n"
		  "warning: pods-malformed.json: items[9].metadata.annotations[\"vpc.amazonaws.com/pod-eni\"]: pod shop/no-vlan: empty: the annotation names no branch ENI\n"
		  "warning: pods-malformed.json: items[9]: pod shop/no-vlan: the vpc.amazonaws.com/pod-eni annotation names no VLAN id, so no branch ENI is wired yet; not imported (import again once it has one)\n"
		  "pods-malformed.json: items[10]: pod shop/pending-no-ip: no addresses: give ipv4 and/or ipv6 (or podEni with privateIp)\n" },
		{ "k8s/pods.json", "k8s/bad/sgps-malformed.json", NULL, NULL, NULL, NODE,
		  "sgps-malformed.json: items[0].spec.podSelector.matchLabels.replicas: expected a label value (a string), got 3\n"
		  "sgps-malformed.json: items[0].spec.securityGroups.groupIds[1]: expected a security group id like \"sg-0123456789abcdef0\" (at most 63 characters), got \"sg_0bad\"\n"
		  "sgps-malformed.json: items[1].spec.podSelector: expected an object, got \"app=shop\"\n"
		  "sgps-malformed.json: items[2].spec.podSelector.matchExpressions[0].values[1]: expected a label value (a string), got 7\n"
		  "warning: sgps-malformed.json: items[2].spec.podSelector.matchExpressions[1]: operator In needs values: the VPC resource controller ignores SecurityGroupPolicy shop/expressions; fix the expression\n"
		  "sgps-malformed.json: items[2].spec.podSelector.matchExpressions[2].key: required but missing\n"
		  "warning: sgps-malformed.json: items[3].apiVersion: SecurityGroupPolicy shop/old-api is vpcresources.k8s.aws/v1alpha1; this importer reads vpcresources.k8s.aws/v1beta1 and may misread it\n"
		  "sgps-malformed.json: items[4].kind: a ConfigMap where a SecurityGroupPolicy was expected: is this the right file?\n"
		  "sgps-malformed.json: items[5].metadata.name: required but missing\n" },
		{ "k8s/bad/trailing-comma.json", "k8s/sgps.json", NULL, NULL, NULL, NODE,
		  "trailing-comma.json: not valid JSON: line 5, column 3: unexpected ']' (trailing comma?)\n" },
		{ "k8s/pods.json", "k8s/bad/configmap.json", NULL, NULL, NULL, NODE,
		  "configmap.json: expected the output of `kubectl get securitygrouppolicies -A -o json` (a List with \"items\", or one SecurityGroupPolicy), got a ConfigMap\n" },
		{ "k8s/sgps.json", "k8s/pods.json", NULL, NULL, NULL, NODE,
		  "pods.json: items[0] is a Pod: expected the output of `kubectl get securitygrouppolicies -A -o json`; is this the right file?\n" },
		{ "k8s/pods.json", "k8s/sgps.json", "k8s/nodes.json", "k8s/serviceaccounts.json",
		  "k8s/bad/enis-wrong.json", "ip-10-0-3-30.us-west-2.compute.internal",
		  "warning: sgps.json: items[2].spec.podSelector.matchExpressions[0].operator: \"Equals\" is not a label selector operator (In, NotIn, Exists, DoesNotExist): the VPC resource controller ignores SecurityGroupPolicy default/typo-operator; fix the operator\n"
		  "warning: sgps.json: items[3].spec: SecurityGroupPolicy default/no-groups has no securityGroups.groupIds: the VPC resource controller ignores it\n"
		  "nodes.json: node ip-10-0-3-30.us-west-2.compute.internal is not among its 2 nodes: give --node as the pods' spec.nodeName spells it, or a nodes file from the same cluster\n"
		  "enis-wrong.json: expected the output of `aws ec2 describe-network-interfaces` (an object with \"NetworkInterfaces\")\n" },
		/* serviceAccountSelector without the service accounts */
		{ "k8s/pods.json", "k8s/sgps.json", NULL, NULL, NULL, NODE,
		  "warning: sgps.json: items[2].spec.podSelector.matchExpressions[0].operator: \"Equals\" is not a label selector operator (In, NotIn, Exists, DoesNotExist): the VPC resource controller ignores SecurityGroupPolicy default/typo-operator; fix the operator\n"
		  "warning: sgps.json: items[3].spec: SecurityGroupPolicy default/no-groups has no securityGroups.groupIds: the VPC resource controller ignores it\n"
		  "warning: pods.json: items[5]: pod default/legacy-web-0 is selected by SecurityGroupPolicy web, baseline of its namespace but has no vpc.amazonaws.com/pod-eni annotation (created before the policy, or ENABLE_POD_ENI is off): it has no branch ENI and is not imported; recreate the pod\n"
		  "sgps.json: items[4].spec.serviceAccountSelector: SecurityGroupPolicy payments/by-service-account selects pods by their ServiceAccount's labels, which the pods document does not hold: give --service-accounts (kubectl get serviceaccounts -A -o json)\n"
		  "sgps.json: items[5].spec.serviceAccountSelector: SecurityGroupPolicy payments/ledger selects pods by their ServiceAccount's labels, which the pods document does not hold: give --service-accounts (kubectl get serviceaccounts -A -o json)\n" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct sg_import_opts opts = { .node = c[i].node, .mode = SG_MODE_STRICT };
		struct sg_import_docs docs = { 0 };
		struct sg_diags d;
		char *doc = NULL, *text, what[64];

		fixture_doc(&docs.pods, c[i].pods);
		fixture_doc(&docs.sgps, c[i].sgps);
		if (c[i].nodes)
			fixture_doc(&docs.nodes, c[i].nodes);
		if (c[i].sas)
			fixture_doc(&docs.sas, c[i].sas);
		if (c[i].enis)
			fixture_doc(&docs.enis, c[i].enis);
		sg_diags_init(&d);
		CU_ASSERT_EQUAL(sg_import(&docs, &opts, &doc, &d), -EINVAL);
		CU_ASSERT_PTR_NULL(doc);
		text = tp_diag_text(&d);
		snprintf(what, sizeof(what), "refusal case %zu", i);
		TP_EXPECT_TEXT(text, c[i].want, what);
		free(text);
		sg_diags_free(&d);
		sg_import_docs_free(&docs);
	}
}

/* The pod's ServiceAccount is missing from the service accounts document. */
static void test_refusal_service_account_not_listed(void)
{
	struct sg_import_opts opts = { .node = "n", .mode = SG_MODE_STRICT };
	struct sg_import_docs docs = { 0 };
	struct sg_diags d;
	char *pods = NULL, *sgps = NULL, *doc = NULL, *text;

	CU_ASSERT_TRUE_FATAL(asprintf(&pods, one_pod, "{}") > 0);
	CU_ASSERT_TRUE_FATAL(asprintf(&sgps, one_sgp, "ns", "\"serviceAccountSelector\": {}") > 0);
	text_doc(&docs.pods, "pods.json", pods);
	text_doc(&docs.sgps, "sgps.json", sgps);
	text_doc(&docs.sas, "sas.json", "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": []}");
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_import(&docs, &opts, &doc, &d), -EINVAL);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text,
		"pods.json: pod ns/p: its ServiceAccount ns/sa is not in sas.json, so "
		"SecurityGroupPolicy ns/g cannot be evaluated: capture pods and service accounts "
		"at the same time\n", "missing service account");
	free(text);
	free(pods);
	free(sgps);
	sg_diags_free(&d);
	sg_import_docs_free(&docs);
}

static CU_TestInfo import_tests[] = {
	{ "sha1 vectors", test_sha1_vectors },
	{ "sha1 matches sha1sum", test_sha1_matches_sha1sum },
	{ "veth names", test_veth_names },
	{ "fixture cluster", test_import_fixture_cluster },
	{ "enis win over policies", test_import_enis_win },
	{ "loads with SG JSON", test_import_loads_with_sg_json },
	{ "order independent", test_import_order_independent },
	{ "modes and node options", test_import_modes_and_node_options },
	{ "selector semantics", test_selector_semantics },
	{ "single-object documents", test_single_object_documents },
	{ "refusals", test_refusals },
	{ "service account not listed", test_refusal_service_account_not_listed },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("import", NULL, NULL, import_tests);
