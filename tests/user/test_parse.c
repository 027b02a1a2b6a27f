// SPDX-License-Identifier: BSD-2-Clause
/*
 * The policy front end: AWS examples, equivalence of the two group formats,
 * kind detection, defaults, podEni, CIDRs, protocols, and directory loading.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sgbpf/layout.h>

#include "parse.h"
#include "test_parse_util.h"
#include "../lib/testlib.h"

static char cbuf[64];

static const char *cidr_str(const struct sg_cidr *c)
{
	return sg_cidr_format(c, cbuf, sizeof(cbuf));
}

/* ---- AWS's published examples ------------------------------------------ */

static void test_aws_describe_security_groups(void)
{
	struct sg_policy p;
	struct sg_diags d;
	const struct sg_group *g;
	const struct sg_rule *r;
	char *text;

	CU_ASSERT_EQUAL_FATAL(tp_load_fixture_dir(&p, &d, "aws/sg"), 0);
	CU_ASSERT_EQUAL(d.n_errors, 0);
	/* The group references itself and has no members here. */
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "warning: describe-security-groups.json: SecurityGroups[0]."
		       "IpPermissions[0].UserIdGroupPairs[0]: group sg-903004f8 has no endpoints "
		       "or members in this policy; the rule matches nobody\n", "aws sg warnings");
	free(text);
	CU_ASSERT_EQUAL_FATAL(p.n_groups, 1);
	g = sg_policy_group(&p, "sg-903004f8");
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_STRING_EQUAL(g->name, "MySecurityGroup");
	CU_ASSERT_STRING_EQUAL(g->origin.file, "describe-security-groups.json");
	CU_ASSERT_STRING_EQUAL(g->origin.path, "SecurityGroups[0]");
	CU_ASSERT_EQUAL_FATAL(g->n_rules, 3);

	r = &g->rules[0];	/* all traffic from the group itself */
	CU_ASSERT_FALSE(r->egress);
	CU_ASSERT_EQUAL(r->proto, -1);
	CU_ASSERT_EQUAL(r->port_from, -1);
	CU_ASSERT_EQUAL(r->port_to, -1);
	CU_ASSERT_EQUAL(r->kind, SG_SRC_GROUP);
	CU_ASSERT_STRING_EQUAL(r->ref_id, "sg-903004f8");
	CU_ASSERT_PTR_NULL(r->description);
	CU_ASSERT_PTR_NULL(r->rule_id);

	r = &g->rules[1];	/* SSH from the NY office */
	CU_ASSERT_FALSE(r->egress);
	CU_ASSERT_EQUAL(r->proto, 6);
	CU_ASSERT_EQUAL(r->port_from, 22);
	CU_ASSERT_EQUAL(r->port_to, 22);
	CU_ASSERT_EQUAL(r->kind, SG_SRC_CIDR);
	CU_ASSERT_EQUAL(r->cidr.family, SGBPF_AF_V4);
	CU_ASSERT_STRING_EQUAL(cidr_str(&r->cidr), "203.0.113.0/24");
	CU_ASSERT_STRING_EQUAL(r->description, "Access from NY office");
	CU_ASSERT_STRING_EQUAL(r->origin.path, "SecurityGroups[0].IpPermissions[1].IpRanges[0]");

	r = &g->rules[2];	/* the default egress rule */
	CU_ASSERT_TRUE(r->egress);
	CU_ASSERT_EQUAL(r->proto, -1);
	CU_ASSERT_EQUAL(r->kind, SG_SRC_CIDR);
	CU_ASSERT_STRING_EQUAL(cidr_str(&r->cidr), "0.0.0.0/0");
	sg_policy_free(&p);
	sg_diags_free(&d);

	/* The EC2-Classic example: one rule, no egress. */
	CU_ASSERT_EQUAL_FATAL(tp_load_fixture_dir(&p, &d, "aws/classic"), 0);
	CU_ASSERT_EQUAL(d.n, 0);
	CU_ASSERT_EQUAL_FATAL(p.n_groups, 1);
	CU_ASSERT_EQUAL_FATAL(p.groups[0].n_rules, 1);
	CU_ASSERT_EQUAL(p.groups[0].rules[0].proto, 6);
	CU_ASSERT_STRING_EQUAL(cidr_str(&p.groups[0].rules[0].cidr), "203.0.113.0/24");
	sg_policy_free(&p);
	sg_diags_free(&d);
}

static void test_aws_describe_security_group_rules(void)
{
	struct sg_policy p;
	struct sg_diags d;
	const struct sg_group *g;
	const struct sg_rule *r;

	CU_ASSERT_EQUAL_FATAL(tp_load_fixture_dir(&p, &d, "aws/rules"), 0);
	CU_ASSERT_EQUAL(d.n_errors, 0);
	CU_ASSERT_EQUAL(d.n_warnings, 1);	/* self reference, no members */
	CU_ASSERT_EQUAL_FATAL(p.n_groups, 1);
	g = &p.groups[0];
	CU_ASSERT_STRING_EQUAL(g->id, "sg-1234567890abcdef0");
	CU_ASSERT_PTR_NULL(g->name);
	CU_ASSERT_EQUAL_FATAL(g->n_rules, 3);

	r = &g->rules[0];
	CU_ASSERT_FALSE(r->egress);
	CU_ASSERT_EQUAL(r->proto, -1);
	CU_ASSERT_EQUAL(r->port_from, -1);
	CU_ASSERT_EQUAL(r->port_to, -1);
	CU_ASSERT_EQUAL(r->kind, SG_SRC_GROUP);
	CU_ASSERT_STRING_EQUAL(r->ref_id, "sg-1234567890abcdef0");
	CU_ASSERT_STRING_EQUAL(r->rule_id, "sgr-abcdef01234567890");
	CU_ASSERT_STRING_EQUAL(r->origin.path, "SecurityGroupRules[0]");

	r = &g->rules[1];
	CU_ASSERT_TRUE(r->egress);
	CU_ASSERT_EQUAL(r->kind, SG_SRC_CIDR);
	CU_ASSERT_EQUAL(r->cidr.family, SGBPF_AF_V6);
	CU_ASSERT_STRING_EQUAL(cidr_str(&r->cidr), "::/0");
	CU_ASSERT_STRING_EQUAL(r->rule_id, "sgr-bcdef01234567890a");

	r = &g->rules[2];
	CU_ASSERT_TRUE(r->egress);
	CU_ASSERT_EQUAL(r->cidr.family, SGBPF_AF_V4);
	CU_ASSERT_STRING_EQUAL(cidr_str(&r->cidr), "0.0.0.0/0");
	sg_policy_free(&p);
	sg_diags_free(&d);
}

/* ---- the two formats describe the same model --------------------------- */

static int rule_qcmp(const void *a, const void *b)
{
	return tp_rule_cmp(a, b);
}

static void test_equivalence(void)
{
	struct sg_policy a, b;
	struct sg_diags da, db;
	size_t total = 0;

	CU_ASSERT_EQUAL_FATAL(tp_load_fixture_dir(&a, &da, "equiv/groups"), 0);
	CU_ASSERT_EQUAL_FATAL(tp_load_fixture_dir(&b, &db, "equiv/rules"), 0);
	CU_ASSERT_EQUAL(da.n, 0);
	CU_ASSERT_EQUAL(db.n, 0);
	CU_ASSERT_EQUAL_FATAL(a.n_groups, 3);
	CU_ASSERT_EQUAL_FATAL(b.n_groups, a.n_groups);

	for (size_t i = 0; i < a.n_groups; i++) {
		const struct sg_group *ga = &a.groups[i];
		const struct sg_group *gb = sg_policy_group(&b, ga->id);
		struct sg_rule *ra, *rb;

		CU_ASSERT_PTR_NOT_NULL_FATAL(gb);
		CU_ASSERT_EQUAL_FATAL(ga->n_rules, gb->n_rules);
		ra = malloc(ga->n_rules * sizeof(*ra));
		rb = malloc(gb->n_rules * sizeof(*rb));
		CU_ASSERT_FATAL(ra && rb);
		memcpy(ra, ga->rules, ga->n_rules * sizeof(*ra));
		memcpy(rb, gb->rules, gb->n_rules * sizeof(*rb));
		qsort(ra, ga->n_rules, sizeof(*ra), rule_qcmp);
		qsort(rb, gb->n_rules, sizeof(*rb), rule_qcmp);
		for (size_t k = 0; k < ga->n_rules; k++) {
			if (tp_rule_cmp(&ra[k], &rb[k]))
				fprintf(stderr, "\nrule differs: %s vs %s\n", ra[k].origin.path,
					rb[k].origin.path);
			CU_ASSERT_EQUAL(tp_rule_cmp(&ra[k], &rb[k]), 0);
			/* Only the rules format knows the sgr- id. */
			CU_ASSERT_PTR_NULL(ra[k].rule_id);
			CU_ASSERT_PTR_NOT_NULL(rb[k].rule_id);
		}
		total += ga->n_rules;
		free(ra);
		free(rb);
	}
	CU_ASSERT_EQUAL(total, 21);
	CU_ASSERT_EQUAL(a.n_prefix_lists, 2);
	CU_ASSERT_EQUAL(b.n_prefix_lists, 2);
	CU_ASSERT_EQUAL(a.n_endpoints, 3);
	CU_ASSERT_EQUAL(b.n_endpoints, 3);
	CU_ASSERT_EQUAL(a.n_members, 1);
	sg_policy_free(&a);
	sg_policy_free(&b);
	sg_diags_free(&da);
	sg_diags_free(&db);
}

/* The same rule written both ways gives the same sg_rule, port quirks included. */
static void test_format_quirks(void)
{
	static const struct {
		const char *sg_perm, *rule;
		int proto, from, to;
	} cases[] = {
		/* tcp all ports: 0..65535 vs EC2's -1/-1 */
		{ "\"IpProtocol\":\"tcp\",\"FromPort\":0,\"ToPort\":65535",
		  "\"IpProtocol\":\"tcp\",\"FromPort\":-1,\"ToPort\":-1", 6, 0, 65535 },
		{ "\"IpProtocol\":\"udp\",\"FromPort\":-1,\"ToPort\":-1",
		  "\"IpProtocol\":\"17\",\"FromPort\":0,\"ToPort\":65535", 17, 0, 65535 },
		/* icmpv6 without ports = all types and codes */
		{ "\"IpProtocol\":\"icmpv6\"",
		  "\"IpProtocol\":\"58\",\"FromPort\":-1,\"ToPort\":-1", 58, -1, -1 },
		/* type -1 forces code -1 */
		{ "\"IpProtocol\":\"icmp\",\"FromPort\":-1,\"ToPort\":3",
		  "\"IpProtocol\":\"1\",\"FromPort\":-1,\"ToPort\":-1", 1, -1, -1 },
		{ "\"IpProtocol\":\"icmp\",\"FromPort\":8,\"ToPort\":0",
		  "\"IpProtocol\":\"icmp\",\"FromPort\":8,\"ToPort\":0", 1, 8, 0 },
		/* other protocols: ports ignored even when present (and odd) */
		{ "\"IpProtocol\":\"50\",\"FromPort\":\"x\",\"ToPort\":99999",
		  "\"IpProtocol\":\"50\",\"FromPort\":-1,\"ToPort\":-1", 50, -1, -1 },
		{ "\"IpProtocol\":\"all\",\"FromPort\":1,\"ToPort\":2",
		  "\"IpProtocol\":\"-1\",\"FromPort\":-1,\"ToPort\":-1", -1, -1, -1 },
		{ "\"IpProtocol\":\"TCP\",\"FromPort\":80,\"ToPort\":80",
		  "\"IpProtocol\":\"6\",\"FromPort\":80,\"ToPort\":80", 6, 80, 80 },
	};
	char doc[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sg_policy a, b;
		struct sg_diags da, db;

		snprintf(doc, sizeof(doc), "{\"SecurityGroups\":[{\"GroupId\":\"sg-1\","
			 "\"IpPermissions\":[{%s,\"IpRanges\":[{\"CidrIp\":\"10.0.0.0/8\"}]}]}]}",
			 cases[i].sg_perm);
		CU_ASSERT_EQUAL(tp_parse_text(&a, &da, "a.json", doc), 0);
		snprintf(doc, sizeof(doc), "{\"SecurityGroupRules\":[{\"GroupId\":\"sg-1\","
			 "\"IsEgress\":false,%s,\"CidrIpv4\":\"10.0.0.0/8\"}]}", cases[i].rule);
		CU_ASSERT_EQUAL(tp_parse_text(&b, &db, "b.json", doc), 0);
		CU_ASSERT_EQUAL(da.n + db.n, 0);
		if (a.n_groups == 1 && b.n_groups == 1 && a.groups[0].n_rules == 1 &&
		    b.groups[0].n_rules == 1) {
			const struct sg_rule *r = &a.groups[0].rules[0];

			CU_ASSERT_EQUAL(r->proto, cases[i].proto);
			CU_ASSERT_EQUAL(r->port_from, cases[i].from);
			CU_ASSERT_EQUAL(r->port_to, cases[i].to);
			CU_ASSERT_EQUAL(tp_rule_cmp(r, &b.groups[0].rules[0]), 0);
		} else {
			CU_FAIL("expected one rule in each format");
		}
		sg_policy_free(&a);
		sg_policy_free(&b);
		sg_diags_free(&da);
		sg_diags_free(&db);
	}
}

/* ---- kinds ------------------------------------------------------------- */

static void test_kind_detection(void)
{
	struct sg_policy p;
	struct sg_diags d;
	char *text;

	CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "g.json", "{\"SecurityGroups\":[],"
				      "\"NextToken\":\"abc\"}"), 0);
	CU_ASSERT_EQUAL(p.n_groups + p.n_prefix_lists + p.n_endpoints, 0);
	CU_ASSERT_FALSE(p.has_endpoints_doc);
	sg_policy_free(&p);
	sg_diags_free(&d);

	CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "r.json", "{\"SecurityGroupRules\":[{\"GroupId\":"
				      "\"sg-1\",\"IsEgress\":true,\"IpProtocol\":\"-1\","
				      "\"CidrIpv4\":\"0.0.0.0/0\"}]}"), 0);
	CU_ASSERT_EQUAL(p.n_groups, 1);
	sg_policy_free(&p);
	sg_diags_free(&d);

	CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "pl.json", "{\"PrefixListId\":\"pl-1\","
				      "\"Entries\":[{\"Cidr\":\"fd00::/8\"}]}"), 0);
	CU_ASSERT_EQUAL_FATAL(p.n_prefix_lists, 1);
	/* No AddressFamily: taken from the entries. */
	CU_ASSERT_EQUAL(p.prefix_lists[0].family, SGBPF_AF_V6);
	CU_ASSERT_PTR_NOT_NULL(sg_policy_prefix_list(&p, "pl-1"));
	sg_policy_free(&p);
	sg_diags_free(&d);

	/* Any of endpoints / node / members makes the endpoints document. */
	static const char *const ep_docs[] = { "{\"endpoints\":[]}", "{\"node\":{}}",
					       "{\"members\":[]}" };
	for (size_t i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "e.json", ep_docs[i]), 0);
		CU_ASSERT_TRUE(p.has_endpoints_doc);
		CU_ASSERT_STRING_EQUAL(p.endpoints_doc_file, "e.json");
		sg_policy_free(&p);
		sg_diags_free(&d);
	}

	CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "arr.json", "[1, 2]"), -EINVAL);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "arr.json: expected a JSON object (a policy document), got an "
		       "array\n", "top-level array");
	free(text);
	sg_policy_free(&p);
	sg_diags_free(&d);

	CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "empty.json", "{}"), -EINVAL);
	text = tp_diag_text(&d);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "not a policy document") &&
			       strstr(text, "found an empty object"));
	free(text);
	sg_policy_free(&p);
	sg_diags_free(&d);

	/* Duplicate keys are ambiguous: refused. */
	CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "dup.json", "{\"SecurityGroups\":[],"
				      "\"SecurityGroups\":[]}"), -EINVAL);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "dup.json: SecurityGroups: duplicate key \"SecurityGroups\" in one "
		       "object\n", "duplicate key");
	free(text);
	sg_policy_free(&p);
	sg_diags_free(&d);
}

/* ---- defaults and the node --------------------------------------------- */

static void test_defaults(void)
{
	static const uint32_t want[SGBPF_TO_MAX] = { 432000, 60, 120, 10, 30, 180, 60, 600, 30 };
	struct sg_policy p;
	struct sg_diags d;

	CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "e.json", "{\"endpoints\":[]}"), 0);
	CU_ASSERT_EQUAL(memcmp(p.node.timeouts_s, want, sizeof(want)), 0);
	CU_ASSERT_EQUAL(p.node.timeouts_s[SGBPF_TO_TCP_ESTABLISHED], 432000);
	CU_ASSERT_EQUAL(p.node.timeouts_s[SGBPF_TO_UDP], 30);
	CU_ASSERT_EQUAL(p.node.timeouts_s[SGBPF_TO_UDP_STREAM], 180);
	CU_ASSERT_EQUAL(p.node.timeouts_s[SGBPF_TO_OTHER], 600);
	CU_ASSERT_EQUAL(p.node.mode, SG_MODE_STRICT);
	CU_ASSERT_TRUE(p.node.icmp_related);
	CU_ASSERT_FALSE(p.node.strict_reevaluation);
	CU_ASSERT_TRUE(p.node.exempt_dhcp);
	CU_ASSERT_FALSE(p.node.events_allow);
	CU_ASSERT_FALSE(p.node.has_exempt);
	CU_ASSERT_EQUAL(p.node.n_exempt, 0);
	CU_ASSERT_EQUAL(p.node.n_vpc_cidrs, 0);
	CU_ASSERT_EQUAL(p.node.n_addrs, 0);
	sg_policy_free(&p);
	sg_diags_free(&d);

	/* sg_policy_free leaves a reusable, default policy. */
	CU_ASSERT_EQUAL(memcmp(p.node.timeouts_s, want, sizeof(want)), 0);
	CU_ASSERT_EQUAL(p.n_groups, 0);
	CU_ASSERT_PTR_NULL(p.endpoints_doc_file);
}

static void test_node_settings(void)
{
	static const struct {
		const char *key;
		int index;
		uint32_t value;
	} keys[] = {
		{ "TcpEstablishedTimeout", SGBPF_TO_TCP_ESTABLISHED, 3600 },
		{ "TcpSynTimeout", SGBPF_TO_TCP_SYN, 11 },
		{ "TcpFinTimeout", SGBPF_TO_TCP_FIN, 12 },
		{ "TcpClosedTimeout", SGBPF_TO_TCP_CLOSED, 13 },
		{ "UdpTimeout", SGBPF_TO_UDP, 45 },
		{ "UdpStreamTimeout", SGBPF_TO_UDP_STREAM, 61 },
		{ "IcmpTimeout", SGBPF_TO_ICMP, 14 },
		{ "OtherTimeout", SGBPF_TO_OTHER, 15 },
		{ "FragmentTimeout", SGBPF_TO_FRAG, 16 },
	};
	char doc[2048], *text;
	size_t used;
	struct sg_policy p;
	struct sg_diags d;

	used = (size_t)snprintf(doc, sizeof(doc), "{\"node\":{\"ipv4\":[\"10.0.1.10\"],"
				"\"ipv6\":[\"fd00:10::10\"],\"enforcingMode\":\"standard\","
				"\"exempt\":[\"169.254.169.254/32\",\"10.0.0.9/24\"],"
				"\"vpcCidrs\":[\"10.0.0.0/16\"],\"icmpRelated\":false,"
				"\"strictReevaluation\":true,\"exemptDhcp\":false,"
				"\"allowEvents\":true,\"conntrack\":{");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		used += (size_t)snprintf(doc + used, sizeof(doc) - used, "%s\"%s\":%u",
					 i ? "," : "", keys[i].key, keys[i].value);
	snprintf(doc + used, sizeof(doc) - used, "}}}");

	CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "node.json", doc), 0);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "warning: node.json: node.exempt[1]: CIDR \"10.0.0.9/24\" has host "
		       "bits set; using 10.0.0.0/24\n", "node warnings");
	free(text);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CU_ASSERT_EQUAL(p.node.timeouts_s[keys[i].index], keys[i].value);
	CU_ASSERT_EQUAL(p.node.mode, SG_MODE_STANDARD);
	CU_ASSERT_FALSE(p.node.icmp_related);
	CU_ASSERT_TRUE(p.node.strict_reevaluation);
	CU_ASSERT_FALSE(p.node.exempt_dhcp);
	CU_ASSERT_TRUE(p.node.events_allow);
	CU_ASSERT_TRUE(p.node.has_exempt);
	CU_ASSERT_EQUAL_FATAL(p.node.n_exempt, 2);
	CU_ASSERT_STRING_EQUAL(cidr_str(&p.node.exempt[1]), "10.0.0.0/24");
	CU_ASSERT_EQUAL_FATAL(p.node.n_vpc_cidrs, 1);
	CU_ASSERT_EQUAL_FATAL(p.node.n_addrs, 2);
	CU_ASSERT_EQUAL(p.node.addrs[0].family, SGBPF_AF_V4);
	CU_ASSERT_EQUAL(p.node.addrs[1].family, SGBPF_AF_V6);
	sg_policy_free(&p);
	sg_diags_free(&d);

	/* "exempt": [] still replaces the defaults (with nothing). */
	CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "e.json", "{\"node\":{\"exempt\":[]}}"), 0);
	CU_ASSERT_TRUE(p.node.has_exempt);
	CU_ASSERT_EQUAL(p.node.n_exempt, 0);
	sg_policy_free(&p);
	sg_diags_free(&d);

	/* Our own document: a misspelt key is pointed out. */
	CU_ASSERT_EQUAL(tp_parse_text(&p, &d, "e.json", "{\"node\":{\"enforcingmode\":"
				      "\"standard\",\"conntrack\":{\"UdpTimeOut\":40}}}"), 0);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "warning: e.json: node.enforcingmode: unknown key ignored\n"
		       "warning: e.json: node.conntrack.UdpTimeOut: unknown key ignored\n",
		       "unknown keys");
	free(text);
	CU_ASSERT_EQUAL(p.node.mode, SG_MODE_STRICT);
	sg_policy_free(&p);
	sg_diags_free(&d);
}

/* ---- endpoints and podEni ---------------------------------------------- */

static bool ep_has_addr(const struct sg_endpoint *ep, const char *text)
{
	struct sg_addr a;

	if (sg_addr_parse(text, &a))
		return false;
	for (size_t i = 0; i < ep->n_addrs; i++)
		if (ep->addrs[i].family == a.family && !memcmp(ep->addrs[i].addr, a.addr, 16))
			return true;
	return false;
}

static void test_endpoint_fields(void)
{
	struct sg_policy p;
	struct sg_diags d;
	const struct sg_endpoint *ep;
	static const uint8_t mac[6] = { 0x06, 0x74, 0x5b, 0x7b, 0x54, 0x3a };

	CU_ASSERT_EQUAL_FATAL(tp_parse_text(&p, &d, "e.json",
		"{\"endpoints\":[{\"name\":\"default/web-0\",\"interface\":\"vlan3a1b2c\","
		"\"vlanID\":3,\"mac\":\"06:74:5B:7b:54:3a\",\"ipv4\":[\"10.0.1.23\"],"
		"\"ipv6\":[\"2600:1f14::23\"],\"securityGroups\":[\"sg-0123\",\"sg-0456\"],"
		"\"probePorts\":[8080,9090]}],"
		"\"members\":[{\"securityGroup\":\"sg-node\",\"ipv4\":[\"10.0.1.10\"],\"ipv6\":[]}]}"),
		0);
	CU_ASSERT_EQUAL(d.n, 0);
	ep = sg_policy_endpoint(&p, "default/web-0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ep);
	CU_ASSERT_STRING_EQUAL(ep->interface, "vlan3a1b2c");
	CU_ASSERT_EQUAL(ep->vlan_id, 3);
	CU_ASSERT_TRUE(ep->has_mac);
	CU_ASSERT_EQUAL(memcmp(ep->mac, mac, 6), 0);
	CU_ASSERT_EQUAL(ep->n_addrs, 2);
	CU_ASSERT_TRUE(ep_has_addr(ep, "10.0.1.23"));
	CU_ASSERT_TRUE(ep_has_addr(ep, "2600:1f14::23"));
	CU_ASSERT_EQUAL_FATAL(ep->n_sgs, 2);
	CU_ASSERT_STRING_EQUAL(ep->sgs[1], "sg-0456");
	CU_ASSERT_EQUAL_FATAL(ep->n_probe_ports, 2);
	CU_ASSERT_EQUAL(ep->probe_ports[0], 8080);
	CU_ASSERT_STRING_EQUAL(ep->origin.path, "endpoints[0]");
	CU_ASSERT_EQUAL_FATAL(p.n_members, 1);
	CU_ASSERT_STRING_EQUAL(p.members[0].sg, "sg-node");
	CU_ASSERT_EQUAL(p.members[0].n_addrs, 1);
	CU_ASSERT_PTR_NULL(sg_policy_endpoint(&p, "default/web-1"));
	sg_policy_free(&p);
	sg_diags_free(&d);
}

static void check_pod_eni_endpoint(const struct sg_policy *p, const char *name, int vlan)
{
	static const uint8_t mac[6] = { 0x06, 0x74, 0x5b, 0x7b, 0x54, 0x3a };
	const struct sg_endpoint *ep = sg_policy_endpoint(p, name);

	CU_ASSERT_PTR_NOT_NULL_FATAL(ep);
	CU_ASSERT_EQUAL(ep->vlan_id, vlan);
	CU_ASSERT_TRUE(ep->has_mac);
	CU_ASSERT_EQUAL(memcmp(ep->mac, mac, 6), 0);
	CU_ASSERT_TRUE(ep_has_addr(ep, "10.105.49.186"));
}

static void test_pod_eni(void)
{
	struct sg_policy p;
	struct sg_diags d;
	const struct sg_endpoint *ep;

	CU_ASSERT_EQUAL_FATAL(tp_parse_text(&p, &d, "e.json", "{\"endpoints\":["
		/* the annotation as a JSON array, spec 1.4's example */
		"{\"name\":\"ns/array\",\"securityGroups\":[\"sg-1\"],\"podEni\":"
		"[{\"eniId\":\"eni-05fea37c9708913d7\",\"ifAddress\":\"06:74:5b:7b:54:3a\","
		"\"privateIp\":\"10.105.49.186\",\"vlanId\":2,\"subnetCidr\":\"10.105.49.128/26\"}]},"
		/* the annotation's string value, with the VPC CNI's vlanID spelling */
		"{\"name\":\"ns/string\",\"securityGroups\":[\"sg-1\"],\"podEni\":"
		"\"[{\\\"eniId\\\":\\\"eni-1\\\",\\\"ifAddress\\\":\\\"06:74:5b:7b:54:3a\\\","
		"\\\"privateIp\\\":\\\"10.105.49.186\\\",\\\"ipv6Addr\\\":\\\"2600::1\\\","
		"\\\"vlanID\\\":7,\\\"associationID\\\":\\\"x\\\"}]\"},"
		/* keys in any case; agreeing values given twice are fine */
		"{\"name\":\"ns/agree\",\"vlanId\":9,\"ipv4\":[\"10.105.49.186\"],"
		"\"securityGroups\":[\"sg-1\"],\"podEni\":[{\"VLANID\":9,\"IfAddress\":"
		"\"06:74:5b:7b:54:3a\",\"PrivateIP\":\"10.105.49.186\",\"ipv6Addr\":\"\"}]}"
		"]}"), 0);
	CU_ASSERT_EQUAL(d.n, 0);
	check_pod_eni_endpoint(&p, "ns/array", 2);
	check_pod_eni_endpoint(&p, "ns/string", 7);
	check_pod_eni_endpoint(&p, "ns/agree", 9);
	ep = sg_policy_endpoint(&p, "ns/string");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ep);
	CU_ASSERT_EQUAL(ep->n_addrs, 2);
	CU_ASSERT_TRUE(ep_has_addr(ep, "2600::1"));
	ep = sg_policy_endpoint(&p, "ns/agree");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ep);
	CU_ASSERT_EQUAL(ep->n_addrs, 1);

	/* The cross checks see the shared address (and the undefined sg-1). */
	CU_ASSERT_EQUAL(sg_policy_check(&p, &d), -EINVAL);
	CU_ASSERT_EQUAL(d.n_errors, 3 + 2);
	sg_policy_free(&p);
	sg_diags_free(&d);
}

/* ---- CIDRs and addresses ------------------------------------------------ */

static void test_cidr_canonicalisation(void)
{
	struct sg_policy p;
	struct sg_diags d;
	char *text;

	CU_ASSERT_EQUAL_FATAL(tp_parse_text(&p, &d, "sg.json", "{\"SecurityGroups\":[{"
		"\"GroupId\":\"sg-1\",\"IpPermissions\":[{\"IpProtocol\":\"tcp\",\"FromPort\":1,"
		"\"ToPort\":2,\"IpRanges\":[{\"CidrIp\":\"10.0.0.18/18\"}],"
		"\"Ipv6Ranges\":[{\"CidrIpv6\":\"2001:db8::1/32\"}]}]}]}"), 0);
	CU_ASSERT_EQUAL(d.n_errors, 0);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text,
		       "warning: sg.json: SecurityGroups[0].IpPermissions[0].IpRanges[0].CidrIp: "
		       "CIDR \"10.0.0.18/18\" has host bits set; using 10.0.0.0/18\n"
		       "warning: sg.json: SecurityGroups[0].IpPermissions[0].Ipv6Ranges[0].CidrIpv6: "
		       "CIDR \"2001:db8::1/32\" has host bits set; using 2001:db8::/32\n",
		       "canonicalisation warnings");
	free(text);
	CU_ASSERT_EQUAL_FATAL(p.groups[0].n_rules, 2);
	CU_ASSERT_STRING_EQUAL(cidr_str(&p.groups[0].rules[0].cidr), "10.0.0.0/18");
	CU_ASSERT_STRING_EQUAL(cidr_str(&p.groups[0].rules[1].cidr), "2001:db8::/32");
	sg_policy_free(&p);
	sg_diags_free(&d);
}

static void test_cidr_parse(void)
{
	static const struct {
		const char *in, *out;
		bool host_bits;
	} good[] = {
		{ "10.0.0.0/16", "10.0.0.0/16", false },
		{ "10.0.0.18/18", "10.0.0.0/18", true },
		{ "10.0.255.255/17", "10.0.128.0/17", true },
		{ "0.0.0.0/0", "0.0.0.0/0", false },
		{ "1.2.3.4/0", "0.0.0.0/0", true },
		{ "255.255.255.255/32", "255.255.255.255/32", false },
		{ "::/0", "::/0", false },
		{ "fd00:ec2::254/128", "fd00:ec2::254/128", false },
		{ "2001:db8:1:2::/63", "2001:db8:1:2::/63", false },
		{ "2001:db8:1:3::/63", "2001:db8:1:2::/63", true },
		{ "::ffff:10.0.0.1/120", "::ffff:10.0.0.0/120", true },
	};
	static const char *const bad[] = {
		"", "10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8",
		"10.0.0.0/08", "10.0.0/8", "10.0.0.256/8", "010.0.0.0/8", " 10.0.0.0/8",
		"10.0.0.0/8 ", "::/129", "fd00::g/8", "fd00::/8/8", "/8", "10.0.0.0/1000",
		"abc", "fd00:::1/64",
	};
	struct sg_cidr c;
	bool hb;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		hb = !good[i].host_bits;
		CU_ASSERT_EQUAL_FATAL(sg_cidr_parse(good[i].in, &c, &hb), 0);
		CU_ASSERT_EQUAL(hb, good[i].host_bits);
		if (strcmp(cidr_str(&c), good[i].out))
			fprintf(stderr, "\n%s -> %s, want %s\n", good[i].in, cbuf, good[i].out);
		CU_ASSERT_STRING_EQUAL(cidr_str(&c), good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sg_cidr_parse(bad[i], &c, &hb) != -EINVAL)
			fprintf(stderr, "\naccepted bad CIDR \"%s\"\n", bad[i]);
		CU_ASSERT_EQUAL(sg_cidr_parse(bad[i], &c, &hb), -EINVAL);
	}
	CU_ASSERT_EQUAL(sg_cidr_parse(NULL, &c, &hb), -EINVAL);
	/* host_bits_set may be NULL. */
	CU_ASSERT_EQUAL(sg_cidr_parse("10.1.2.3/8", &c, NULL), 0);
}

static void test_addr_and_cover(void)
{
	struct sg_cidr a, b;
	struct sg_addr x;
	char buf[64];

	CU_ASSERT_EQUAL(sg_addr_parse("10.0.1.23", &x), 0);
	CU_ASSERT_EQUAL(x.family, SGBPF_AF_V4);
	CU_ASSERT_STRING_EQUAL(sg_addr_format(&x, buf, sizeof(buf)), "10.0.1.23");
	CU_ASSERT_EQUAL(x.addr[4], 0);	/* rest zero */
	CU_ASSERT_EQUAL(sg_addr_parse("2600:1F14::23", &x), 0);
	CU_ASSERT_EQUAL(x.family, SGBPF_AF_V6);
	CU_ASSERT_STRING_EQUAL(sg_addr_format(&x, buf, sizeof(buf)), "2600:1f14::23");
	CU_ASSERT_EQUAL(sg_addr_parse("10.0.1.23/32", &x), -EINVAL);
	CU_ASSERT_EQUAL(sg_addr_parse("10.0.1", &x), -EINVAL);
	CU_ASSERT_EQUAL(sg_addr_parse("", &x), -EINVAL);

	sg_cidr_parse("10.0.0.0/16", &a, NULL);
	sg_cidr_parse("10.0.5.0/24", &b, NULL);
	CU_ASSERT_TRUE(sg_cidr_covers(&a, &b));
	CU_ASSERT_FALSE(sg_cidr_covers(&b, &a));
	CU_ASSERT_TRUE(sg_cidr_covers(&a, &a));
	sg_cidr_parse("10.1.0.0/24", &b, NULL);
	CU_ASSERT_FALSE(sg_cidr_covers(&a, &b));
	sg_cidr_parse("0.0.0.0/0", &a, NULL);
	CU_ASSERT_TRUE(sg_cidr_covers(&a, &b));
	sg_cidr_parse("::/0", &a, NULL);
	CU_ASSERT_FALSE(sg_cidr_covers(&a, &b));	/* families differ */

	sg_cidr_parse("10.0.1.16/28", &a, NULL);
	sg_addr_parse("10.0.1.31", &x);
	CU_ASSERT_TRUE(sg_cidr_contains(&a, &x));
	sg_addr_parse("10.0.1.32", &x);
	CU_ASSERT_FALSE(sg_cidr_contains(&a, &x));
	sg_cidr_parse("fd00::/8", &a, NULL);
	sg_addr_parse("fdff::1", &x);
	CU_ASSERT_TRUE(sg_cidr_contains(&a, &x));
	sg_addr_parse("fe00::1", &x);
	CU_ASSERT_FALSE(sg_cidr_contains(&a, &x));
	sg_addr_parse("10.0.0.1", &x);
	CU_ASSERT_FALSE(sg_cidr_contains(&a, &x));
}

/* ---- protocols ------------------------------------------------------------ */

static void test_protocols(void)
{
	static const struct {
		const char *in;
		int proto;
	} good[] = {
		{ "tcp", 6 }, { "TCP", 6 }, { "6", 6 }, { "udp", 17 }, { "17", 17 },
		{ "icmp", 1 }, { "1", 1 }, { "icmpv6", 58 }, { "ICMPv6", 58 }, { "58", 58 },
		{ "-1", -1 }, { "all", -1 }, { "50", 50 }, { "132", 132 }, { "0", 0 },
		{ "255", 255 },
	};
	static const char *const bad[] = { "256", "-2", "", "htp", "6a", " 6", "1000", "+6",
					   "icmp6", "-" };
	char buf[16];
	int proto;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		proto = 999;
		CU_ASSERT_EQUAL(sg_protocol_parse(good[i].in, &proto), 0);
		CU_ASSERT_EQUAL(proto, good[i].proto);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(sg_protocol_parse(bad[i], &proto), -EINVAL);
	CU_ASSERT_STRING_EQUAL(sg_protocol_name(6, buf, sizeof(buf)), "tcp");
	CU_ASSERT_STRING_EQUAL(sg_protocol_name(17, buf, sizeof(buf)), "udp");
	CU_ASSERT_STRING_EQUAL(sg_protocol_name(1, buf, sizeof(buf)), "icmp");
	CU_ASSERT_STRING_EQUAL(sg_protocol_name(58, buf, sizeof(buf)), "icmpv6");
	CU_ASSERT_STRING_EQUAL(sg_protocol_name(-1, buf, sizeof(buf)), "all");
	CU_ASSERT_STRING_EQUAL(sg_protocol_name(132, buf, sizeof(buf)), "132");
}

/* ---- directories ---------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static void remove_file(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void test_load_dir_order(void)
{
	char tmpl[] = "/tmp/sgbpf-parse-XXXXXX", *dir = mkdtemp(tmpl);
	struct sg_policy p;
	struct sg_diags d;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	/* Written out of order; only visible *.json count, in name order. */
	write_file(dir, "b.json", "{\"SecurityGroups\":[{\"GroupId\":\"sg-b\"}]}");
	write_file(dir, "a.json", "{\"SecurityGroups\":[{\"GroupId\":\"sg-a\"}]}");
	write_file(dir, "c.json", "{\"SecurityGroupRules\":[{\"GroupId\":\"sg-c\","
		   "\"IsEgress\":true,\"IpProtocol\":\"-1\",\"CidrIpv4\":\"0.0.0.0/0\"}]}");
	write_file(dir, ".hidden.json", "not json");
	write_file(dir, "notes.txt", "not json");
	write_file(dir, "x.json.bak", "not json");
	sg_policy_init(&p);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_policy_load_dir(&p, dir, &d), 0);
	CU_ASSERT_EQUAL(d.n, 0);
	CU_ASSERT_EQUAL_FATAL(p.n_groups, 3);
	CU_ASSERT_STRING_EQUAL(p.groups[0].id, "sg-a");
	CU_ASSERT_STRING_EQUAL(p.groups[1].id, "sg-b");
	CU_ASSERT_STRING_EQUAL(p.groups[2].id, "sg-c");
	CU_ASSERT_STRING_EQUAL(p.groups[2].origin.file, "c.json");
	sg_policy_free(&p);
	sg_diags_free(&d);

	/* Errors in several documents are all reported, cross checks skipped. */
	write_file(dir, "d.json", "{\"SecurityGroups\":[{\"GroupId\":\"sg-d\",}]}");
	write_file(dir, "e.json", "{\"endpoints\":[{\"name\":\"x\",\"ipv4\":[\"10.0.0.1\"],"
		   "\"securityGroups\":[\"sg-undefined\"],\"vlanId\":-1}]}");
	sg_policy_init(&p);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_policy_load_dir(&p, dir, &d), -EINVAL);
	char *text = tp_diag_text(&d);

	TP_EXPECT_TEXT(text, "d.json: not valid JSON: line 1, column 38: unexpected '}' "
		       "(trailing comma?)\n"
		       "e.json: endpoints[0].vlanId: expected a VLAN id in 0..4094, got -1\n",
		       "several documents");
	free(text);
	sg_policy_free(&p);
	sg_diags_free(&d);

	static const char *const names[] = { "a.json", "b.json", "c.json", "d.json", "e.json",
					     ".hidden.json", "notes.txt", "x.json.bak" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		remove_file(dir, names[i]);
	rmdir(dir);
}

static void test_demo_policy(void)
{
	struct sg_policy p;
	struct sg_diags d;
	char path[512];
	const struct sg_endpoint *ep;
	const struct sg_group *g;
	char *text;

	/* policies/ sits next to tests/ */
	snprintf(path, sizeof(path), "%s/../../../policies/demo", sgt_fixture("aws"));
	sg_policy_init(&p);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_policy_load_dir(&p, path, &d), 0);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "", "demo policy diagnostics");
	free(text);
	CU_ASSERT_EQUAL(p.n_groups, 3);
	CU_ASSERT_EQUAL(p.n_prefix_lists, 2);
	CU_ASSERT_EQUAL(p.n_endpoints, 3);
	ep = sg_policy_endpoint(&p, "default/web-0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ep);
	CU_ASSERT_STRING_EQUAL(ep->interface, "sgb-web0");
	CU_ASSERT_TRUE(ep_has_addr(ep, "10.0.1.23"));
	CU_ASSERT_TRUE(ep_has_addr(ep, "fd00:10::23"));
	CU_ASSERT_EQUAL(ep->n_probe_ports, 1);
	g = sg_policy_group(&p, "sg-0web00000000000a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_EQUAL(g->n_rules, 8);
	g = sg_policy_group(&p, "sg-0client0000000a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_EQUAL(g->n_rules, 2);
	CU_ASSERT_STRING_EQUAL(g->origin.file, "client-rules.json");
	sg_policy_free(&p);
	sg_diags_free(&d);
}

/* ---- diagnostics ------------------------------------------------------------ */

static void test_diag_format(void)
{
	struct sg_diags d;
	char *text;

	sg_diags_init(&d);
	sg_diag_add(&d, SG_ERROR, "sg.json", "SecurityGroups[2].IpPermissions[0].FromPort",
		    "expected an integer in %d..%d, got \"%s\"", 0, 65535, "http");
	sg_diag_add(&d, SG_WARNING, "sg.json", "", "whole %s", "file");
	sg_diag_add(&d, SG_ERROR, NULL, NULL, "no *.json policy documents in %s", "/x");
	sg_diag_add(&d, SG_WARNING, NULL, "a.b", "no file");
	CU_ASSERT_EQUAL(d.n, 4);
	CU_ASSERT_EQUAL(d.n_errors, 2);
	CU_ASSERT_EQUAL(d.n_warnings, 2);
	CU_ASSERT_PTR_NULL(d.items[1].path);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text,
		       "sg.json: SecurityGroups[2].IpPermissions[0].FromPort: expected an integer "
		       "in 0..65535, got \"http\"\n"
		       "warning: sg.json: whole file\n"
		       "no *.json policy documents in /x\n"
		       "warning: a.b: no file\n", "diag format");
	free(text);
	/* Many messages: the array grows. */
	for (int i = 0; i < 1000; i++)
		sg_diag_add(&d, SG_WARNING, "f", "p", "w%d", i);
	CU_ASSERT_EQUAL(d.n, 1004);
	CU_ASSERT_STRING_EQUAL(d.items[1003].message, "w999");
	sg_diags_free(&d);
	CU_ASSERT_EQUAL(d.n, 0);
	CU_ASSERT_PTR_NULL(d.items);
}

static CU_TestInfo parse_tests[] = {
	{ "aws_describe_security_groups", test_aws_describe_security_groups },
	{ "aws_describe_security_group_rules", test_aws_describe_security_group_rules },
	{ "equivalence", test_equivalence },
	{ "format_quirks", test_format_quirks },
	{ "kind_detection", test_kind_detection },
	{ "defaults", test_defaults },
	{ "node_settings", test_node_settings },
	{ "endpoint_fields", test_endpoint_fields },
	{ "pod_eni", test_pod_eni },
	{ "cidr_canonicalisation", test_cidr_canonicalisation },
	{ "cidr_parse", test_cidr_parse },
	{ "addr_and_cover", test_addr_and_cover },
	{ "protocols", test_protocols },
	{ "load_dir_order", test_load_dir_order },
	{ "demo_policy", test_demo_policy },
	{ "diag_format", test_diag_format },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("parse", NULL, NULL, parse_tests);
