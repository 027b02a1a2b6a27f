// SPDX-License-Identifier: BSD-2-Clause
/*
 * Every bad-input case of the policy front end, each with its exact
 * messages (file + JSON path): one document per file under
 * tests/fixtures/bad/, and directories for the cross-reference checks.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"
#include "test_parse_util.h"
#include "../lib/testlib.h"

static const struct {
	const char *fixture;
	const char *want;
} bad_documents[] = {
	{ "bad/bad-cidr.json",
	  "bad-cidr.json: SecurityGroups[0].IpPermissions[0].IpRanges[0].CidrIp: expected an IPv4 CIDR like 10.0.0.0/16, got \"10.0.0.300/16\"\n"
	  "bad-cidr.json: SecurityGroups[0].IpPermissions[0].IpRanges[1].CidrIp: expected an IPv4 CIDR like 10.0.0.0/16, got \"10.0.0.0/33\"\n"
	  "bad-cidr.json: SecurityGroups[0].IpPermissions[0].IpRanges[2].CidrIp: expected an IPv4 CIDR like 10.0.0.0/16, got \"10.0.0.1\"\n"
	  "bad-cidr.json: SecurityGroups[0].IpPermissions[0].IpRanges[3].CidrIp: required but missing\n"
	  "bad-cidr.json: SecurityGroups[0].IpPermissions[0].Ipv6Ranges[0].CidrIpv6: expected an IPv6 CIDR like 2001:db8::/32, got \"fd00::g/8\"\n" },
	{ "bad/endpoint-fields.json",
	  "endpoint-fields.json: node.ipv4[1]: expected an IPv4 address like 10.0.1.23, got \"fd00::10\"\n"
	  "endpoint-fields.json: node.enforcingMode: unknown enforcing mode \"loose\"; expected \"strict\" or \"standard\"\n"
	  "endpoint-fields.json: node.conntrack.TcpEstablishedTimeout: expected a timeout in seconds in 60..432000, got 30\n"
	  "endpoint-fields.json: node.conntrack.UdpTimeout: expected a timeout in seconds in 30..60, got 10\n"
	  "endpoint-fields.json: node.conntrack.UdpStreamTimeout: expected a timeout in seconds in 60..180, got 181\n"
	  "endpoint-fields.json: node.conntrack.IcmpTimeout: expected a timeout in seconds in 1..432000, got 0\n"
	  "endpoint-fields.json: endpoints[0].interface: expected an interface name of 1..15 characters without '/', ':' or spaces, got \"a-very-long-interface-name\"\n"
	  "endpoint-fields.json: endpoints[0].vlanId: expected a VLAN id in 0..4094, got 4095\n"
	  "endpoint-fields.json: endpoints[0].mac: expected a unicast MAC address like 06:74:5b:7b:54:3a, got \"06:74:5b:7b:54\"\n"
	  "endpoint-fields.json: endpoints[0].ipv4[0]: expected an IPv4 address like 10.0.1.23, got \"10.0.1.300\"\n"
	  "endpoint-fields.json: endpoints[0].ipv6[0]: expected an IPv6 address like 2600:1f14::23, got \"10.0.1.23\"\n"
	  "endpoint-fields.json: endpoints[0].securityGroups: expected 1..16 security groups, got 17 (EC2 allows at most 16 per network interface)\n"
	  "endpoint-fields.json: endpoints[1].mac: expected a unicast MAC address like 06:74:5b:7b:54:3a, got \"07:74:5b:7b:54:3a\"\n"
	  "endpoint-fields.json: endpoints[1].ipv4[0]: expected an IPv4 address like 10.0.1.23, got \"10.0.1.24/32\"\n"
	  "endpoint-fields.json: endpoints[1].securityGroups: expected 1..16 security groups, got 0\n" },
	{ "bad/missing-quote-key.json",
	  "missing-quote-key.json: not valid JSON: line 4, column 24: expected ':' after a member name, got 's' (missing quote?)\n" },
	{ "bad/missing-quote.json",
	  "missing-quote.json: not valid JSON: line 7, column 35: string not closed before the end of the line (missing quote?)\n" },
	{ "bad/mixed-kinds.json",
	  "mixed-kinds.json: mixes document kinds (SecurityGroups and endpoints/node/members): put each kind in its own file\n" },
	{ "bad/not-json.json",
	  "not-json.json: not valid JSON: line 1, column 1: unexpected word 'this' (missing quote? strings need double quotes; literals are true, false and null)\n" },
	{ "bad/podeni-conflict.json",
	  "podeni-conflict.json: endpoints[0].podEni[0].vlanID: 5 conflicts with the endpoint's vlanId 3\n"
	  "podeni-conflict.json: endpoints[0].podEni[0].ifAddress: 06:74:5b:7b:54:3b conflicts with the endpoint's mac 06:74:5b:7b:54:3a\n"
	  "podeni-conflict.json: endpoints[0].podEni[0].privateIp: 10.0.1.99 is not among the endpoint's ipv4 addresses\n"
	  "podeni-conflict.json: endpoints[1].podEni: annotation string is not valid JSON: line 1, column 86: unexpected '}' (trailing comma?)\n" },
	{ "bad/ports.json",
	  "ports.json: SecurityGroups[0].IpPermissions[0].ToPort: expected an integer in 0..65535, got 70000\n"
	  "ports.json: SecurityGroups[0].IpPermissions[1].FromPort: expected an integer in 0..65535, got -1\n"
	  "ports.json: SecurityGroups[1].IpPermissions[0]: FromPort 8080 is greater than ToPort 80: the port range is empty\n"
	  "ports.json: SecurityGroups[1].IpPermissions[1].FromPort: expected an integer in 0..65535, got 80.5\n"
	  "ports.json: SecurityGroups[1].IpPermissions[1].ToPort: required for tcp rules but missing (0 and 65535 allow every port)\n"
	  "ports.json: SecurityGroups[2].IpPermissions[0].FromPort: expected an integer in 0..65535, got \"http\"\n"
	  "ports.json: SecurityGroups[2].IpPermissions[1].FromPort: expected an ICMP type in -1..255, got 256\n"
	  "ports.json: SecurityGroups[2].IpPermissions[1].ToPort: expected an ICMP code in -1..255, got -2\n"
	  "ports.json: SecurityGroups[2].IpPermissions[2].ToPort: required for icmp rules but missing (the ICMP code; -1 means any)\n" },
	{ "bad/prefix-list-family.json",
	  "prefix-list-family.json: Entries[1].Cidr: IPv6 CIDR \"fd00::/8\" in an IPv4 prefix list (AddressFamily); a prefix list holds one address family\n" },
	{ "bad/prefix-list-no-id.json",
	  "prefix-list-no-id.json: PrefixListId: required but missing: get-managed-prefix-list-entries output does not name its list; add \"PrefixListId\": \"pl-...\" next to \"Entries\"\n" },
	{ "bad/rule-sources.json",
	  "rule-sources.json: SecurityGroupRules[0]: expected exactly one of CidrIpv4, CidrIpv6, PrefixListId or ReferencedGroupInfo, found none\n"
	  "rule-sources.json: SecurityGroupRules[1]: expected exactly one of CidrIpv4, CidrIpv6, PrefixListId or ReferencedGroupInfo, found CidrIpv4 and PrefixListId\n"
	  "rule-sources.json: SecurityGroupRules[2].IsEgress: expected true or false, got \"no\"\n"
	  "rule-sources.json: SecurityGroupRules[2].CidrIpv6: IPv4 CIDR \"10.0.0.0/16\" in CidrIpv6; IPv4 ranges go in CidrIpv4\n"
	  "rule-sources.json: SecurityGroupRules[3].ReferencedGroupInfo.GroupId: required but missing\n" },
	{ "bad/trailing-comma.json",
	  "trailing-comma.json: not valid JSON: line 12, column 21: unexpected ']' (trailing comma?)\n" },
	{ "bad/unknown-kind.json",
	  "unknown-kind.json: not a policy document: expected the key SecurityGroups (describe-security-groups output), SecurityGroupRules (describe-security-group-rules output), PrefixListId and Entries (a prefix list), or endpoints, node or members (the endpoints document); found keys: Reservations, NextToken\n" },
	{ "bad/unknown-protocol.json",
	  "unknown-protocol.json: SecurityGroups[0].IpPermissions[0].IpProtocol: unknown protocol \"htp\"; expected tcp, udp, icmp, icmpv6, -1 (all) or a protocol number 0..255\n"
	  "unknown-protocol.json: SecurityGroups[0].IpPermissions[1].IpProtocol: unknown protocol \"256\"; expected tcp, udp, icmp, icmpv6, -1 (all) or a protocol number 0..255\n" },
	{ "bad/wrong-family.json",
	  "wrong-family.json: SecurityGroups[0].IpPermissions[0].IpRanges[0].CidrIp: IPv6 CIDR \"2001:db8::/32\" in IpRanges; IPv6 ranges go in Ipv6Ranges (CidrIpv6)\n"
	  "wrong-family.json: SecurityGroups[0].IpPermissions[0].Ipv6Ranges[0].CidrIpv6: IPv4 CIDR \"10.0.0.0/8\" in Ipv6Ranges; IPv4 ranges go in IpRanges (CidrIp)\n" },
	{ "bad/wrong-types.json",
	  "wrong-types.json: SecurityGroups[0].GroupName: expected a string, got 5\n"
	  "wrong-types.json: SecurityGroups[0].IpPermissions: expected an array, got an object\n"
	  "wrong-types.json: SecurityGroups[0].IpPermissionsEgress[0].IpProtocol: expected a string, got 6\n"
	  "wrong-types.json: SecurityGroups[0].IpPermissionsEgress[1].IpRanges: expected an array, got \"10.0.0.0/16\"\n"
	  "wrong-types.json: SecurityGroups[0].IpPermissionsEgress[1].Ipv6Ranges[0]: expected an object, got \"fd00::/8\"\n"
	  "wrong-types.json: SecurityGroups[1].GroupId: expected a security group id like \"sg-0123456789abcdef0\" (at most 63 characters), got 12345\n"
	  "wrong-types.json: SecurityGroups[2]: expected an object, got \"sg-0a1b2c3d4e5f60003\"\n" },
	{ "aws/broken/describe-security-groups.json",
	  "describe-security-groups.json: not valid JSON: line 53, column 9: unexpected '}' (trailing comma?)\n" },
};

/* Each bad document is refused with exactly its messages, and only errors. */
static void test_bad_documents(void)
{
	for (size_t i = 0; i < sizeof(bad_documents) / sizeof(bad_documents[0]); i++) {
		struct sg_policy p;
		struct sg_diags d;
		int ret = tp_parse_fixture(&p, &d, bad_documents[i].fixture);
		char *text = tp_diag_text(&d);

		CU_ASSERT_EQUAL(ret, -EINVAL);
		CU_ASSERT_EQUAL(d.n_warnings, 0);
		CU_ASSERT_TRUE(d.n_errors > 0);
		TP_EXPECT_TEXT(text, bad_documents[i].want, bad_documents[i].fixture);
		free(text);
		sg_policy_free(&p);
		sg_diags_free(&d);
	}
}

/* The fixed copy of the same AWS example parses cleanly. */
static void test_aws_broken_vs_fixed(void)
{
	struct sg_policy p;
	struct sg_diags d;

	CU_ASSERT_EQUAL(tp_parse_fixture(&p, &d, "aws/sg/describe-security-groups.json"), 0);
	CU_ASSERT_EQUAL(d.n_errors, 0);
	CU_ASSERT_EQUAL(p.n_groups, 1);
	sg_policy_free(&p);
	sg_diags_free(&d);
}

static const struct {
	const char *dir;
	int ret;
	const char *want;
} bad_dirs[] = {
	{ "bad/undefined-sg", -EINVAL,
	  "endpoints.json: endpoints[0].securityGroups[1]: security group sg-0missing00000000 "
	  "is not defined in any document\n" },
	{ "bad/dup-endpoint", -EINVAL,
	  "endpoints.json: endpoints[3]: address 10.0.1.10 of endpoint default/web-3 is also a "
	  "node address\n"
	  "endpoints.json: endpoints[2].name: endpoint name \"default/web-0\" is used twice: "
	  "first in endpoints.json (endpoints[0])\n"
	  "endpoints.json: endpoints[3]: address fd00::24 belongs to two endpoints: "
	  "default/web-1 (endpoints[1]) and default/web-3 (endpoints[3])\n" },
	{ "bad/group-twice", -EINVAL,
	  "b-rules.json: SecurityGroupRules[0].GroupId: group sg-0a1b2c3d4e5f60001 is defined "
	  "twice: first in a-groups.json (SecurityGroups[0])\n"
	  "c-groups.json: SecurityGroups[1].GroupId: group sg-0a1b2c3d4e5f60002 is defined "
	  "twice: first in c-groups.json (SecurityGroups[0])\n" },
	{ "bad/undefined-prefix-list", -EINVAL,
	  "groups.json: SecurityGroups[0].IpPermissionsEgress[0].PrefixListIds[0]: prefix list "
	  "pl-0missing00000000 is not defined in any document\n" },
	/* A warning only: the policy loads, the rule matches nobody. */
	{ "bad/undefined-ref-group", 0,
	  "warning: groups.json: SecurityGroups[0].IpPermissions[0].UserIdGroupPairs[0]: group "
	  "sg-0ghost0000000000 is defined in no document and has no members; the rule matches "
	  "nobody\n" },
	{ "bad/two-endpoint-docs", -EINVAL,
	  "b-node.json: a second endpoints document: a policy directory holds at most one, and "
	  "a-endpoints.json is one already\n" },
};

static void test_bad_dirs(void)
{
	for (size_t i = 0; i < sizeof(bad_dirs) / sizeof(bad_dirs[0]); i++) {
		struct sg_policy p;
		struct sg_diags d;
		int ret = tp_load_fixture_dir(&p, &d, bad_dirs[i].dir);
		char *text = tp_diag_text(&d);

		CU_ASSERT_EQUAL(ret, bad_dirs[i].ret);
		TP_EXPECT_TEXT(text, bad_dirs[i].want, bad_dirs[i].dir);
		free(text);
		sg_policy_free(&p);
		sg_diags_free(&d);
	}
}

static void test_missing_and_empty_dir(void)
{
	char tmpl[] = "/tmp/sgbpf-parse-XXXXXX", *dir, want[256], path[300];
	struct sg_policy p;
	struct sg_diags d;
	char *text;
	FILE *f;

	sg_policy_init(&p);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_policy_load_dir(&p, "/nonexistent/sgbpf-policy", &d), -ENOENT);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "cannot read policy directory /nonexistent/sgbpf-policy: No such "
		       "file or directory\n", "missing dir");
	free(text);
	sg_diags_free(&d);

	/* A file where a directory is expected. */
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_policy_load_dir(&p, "/etc/hostname", &d), -ENOTDIR);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "cannot read policy directory /etc/hostname: Not a directory\n",
		       "not a dir");
	free(text);
	sg_diags_free(&d);

	dir = mkdtemp(tmpl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("{}", f);
	fclose(f);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_policy_load_dir(&p, dir, &d), -ENOENT);
	CU_ASSERT_EQUAL(d.n_errors, 1);
	snprintf(want, sizeof(want), "no *.json policy documents in %s\n", dir);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, want, "empty dir");
	free(text);
	sg_diags_free(&d);

	/* A directory named like a document is reported, not read. */
	snprintf(path, sizeof(path), "%s/sub.json", dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
	sg_diags_init(&d);
	CU_ASSERT_EQUAL(sg_policy_load_dir(&p, dir, &d), -EINVAL);
	text = tp_diag_text(&d);
	TP_EXPECT_TEXT(text, "sub.json: not a regular file; policy documents are files (rename "
		       "it if it is not one)\n", "dir named .json");
	free(text);
	sg_diags_free(&d);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	unlink(path);
	rmdir(dir);
	sg_policy_free(&p);
}

static CU_TestInfo bad_tests[] = {
	{ "documents", test_bad_documents },
	{ "aws_broken_vs_fixed", test_aws_broken_vs_fixed },
	{ "directories", test_bad_dirs },
	{ "missing_and_empty_dir", test_missing_and_empty_dir },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("parse-bad", NULL, NULL, bad_tests);
