// SPDX-License-Identifier: BSD-2-Clause
/*
 * gen-policy: write a benchmark policy directory: E endpoints sharing one
 * security group of R inbound rules, built from CIDRs (IPv4 and IPv6), a
 * prefix list and a referenced group, as AWS JSON (describe-security-groups,
 * a prefix-list document) plus the sgbpf endpoints document.
 *
 * The addresses follow a fixed plan that bench/gen-traffic relies on (see
 * bench/README.md, "Generated policies and traffic"):
 *   endpoints      10.250.H.L (i = H*250 + L-2) and fd00:250::i+2
 *   allowed        10.200.0.0/16, fd00:200::/32: tcp 1000-1999, udp
 *                  5000-5999, ICMP / ICMPv6 echo, both directions
 *   prefix list    10.202.k.0/24 (P entries): tcp 80 inbound
 *   referenced     sg-peer, members 10.201.0.0/24: tcp 443 inbound
 *   filler         distinct 10.X.Y.0/24 and fd00:1:N::/48, one tcp port each
 *   middle rule    10.206.0.0/16 udp 5000-5999 inbound, rule R/2 (inside
 *                  the filler): where a linear rule list (nftables) finds,
 *                  on average, traffic spread evenly over the rules
 *   last rule      10.205.0.0/16 udp 5000-5999 inbound, after the filler, so
 *                  a linear rule list reaches it last
 *   denied         10.203.0.0/16 and fd00:203::/32 (no rule covers them)
 * R counts rules as EC2 quotas do: the prefix list counts its entries.
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SG_APP  "sg-0be0c0000000000a1"
#define SG_PEER "sg-0be0c0000000000b2"
#define PL_ID   "pl-0be0c0000000000c3"
#define MIDDLE_RULE "\"IpRanges\":[{\"CidrIp\":\"10.206.0.0/16\"}]"
#define FIXED_RULES 9       /* 8 CIDR rules of the address plan + the group reference */

static int open_out(const char *dir, const char *name, FILE **f)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*f = fopen(path, "w");
	if (!*f) {
		fprintf(stderr, "gen-policy: cannot write %s: %s\n", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int close_out(const char *dir, const char *name, FILE *f)
{
	if (fclose(f)) {
		fprintf(stderr, "gen-policy: writing %s/%s failed: %s\n", dir, name, strerror(errno));
		return -errno;
	}
	return 0;
}

static void perm(FILE *f, bool *first, const char *proto, int from, int to, const char *src)
{
	fprintf(f, "%s\n    {\"IpProtocol\":\"%s\",\"FromPort\":%d,\"ToPort\":%d,%s}",
		*first ? "" : ",", proto, from, to, src);
	*first = false;
}

static int write_groups(const char *dir, unsigned rules, unsigned plist)
{
	unsigned filler = rules - FIXED_RULES - plist;
	/* The middle rule is rule R/2 (1-based) of the inbound list: 7 + P
	 * rules precede the filler. */
	unsigned before_filler = 7 + plist;
	unsigned filler_before_middle =
		rules / 2 > before_filler + 1 ? rules / 2 - before_filler - 1 : 0;
	bool first = true;

	if (filler_before_middle > filler)
		filler_before_middle = filler;
	FILE *f;
	int err;

	if ((err = open_out(dir, "groups.json", &f)))
		return err;
	fprintf(f, "{\"SecurityGroups\":[\n  {\"GroupId\":\"" SG_APP "\",\"GroupName\":\"bench-app\","
		"\"IpPermissions\":[");
	perm(f, &first, "tcp", 1000, 1999, "\"IpRanges\":[{\"CidrIp\":\"10.200.0.0/16\"}]");
	perm(f, &first, "udp", 5000, 5999, "\"IpRanges\":[{\"CidrIp\":\"10.200.0.0/16\"}]");
	perm(f, &first, "icmp", 8, -1, "\"IpRanges\":[{\"CidrIp\":\"10.200.0.0/16\"}]");
	perm(f, &first, "tcp", 1000, 1999, "\"Ipv6Ranges\":[{\"CidrIpv6\":\"fd00:200::/32\"}]");
	perm(f, &first, "udp", 5000, 5999, "\"Ipv6Ranges\":[{\"CidrIpv6\":\"fd00:200::/32\"}]");
	perm(f, &first, "icmpv6", 128, -1, "\"Ipv6Ranges\":[{\"CidrIpv6\":\"fd00:200::/32\"}]");
	if (plist)
		perm(f, &first, "tcp", 80, 80, "\"PrefixListIds\":[{\"PrefixListId\":\"" PL_ID "\"}]");
	perm(f, &first, "tcp", 443, 443, "\"UserIdGroupPairs\":[{\"GroupId\":\"" SG_PEER "\"}]");
	/* Filler: every 4th an IPv6 /48, the rest IPv4 /24s; one port each. */
	for (unsigned i = 0; i < filler; i++) {
		char src[128];
		unsigned port = 10000 + i % 50000;

		if (i == filler_before_middle)
			perm(f, &first, "udp", 5000, 5999, MIDDLE_RULE);

		if (i % 4 == 3)
			snprintf(src, sizeof(src), "\"Ipv6Ranges\":[{\"CidrIpv6\":\"fd00:1:%x::/48\"}]",
				 i);
		else
			snprintf(src, sizeof(src), "\"IpRanges\":[{\"CidrIp\":\"10.%u.%u.0/24\"}]",
				 1 + i / 256 % 199, i % 256);
		perm(f, &first, "tcp", (int)port, (int)port, src);
	}
	if (filler_before_middle == filler)
		perm(f, &first, "udp", 5000, 5999, MIDDLE_RULE);
	perm(f, &first, "udp", 5000, 5999, "\"IpRanges\":[{\"CidrIp\":\"10.205.0.0/16\"}]");
	fprintf(f, "\n  ],\n  \"IpPermissionsEgress\":[");
	first = true;
	perm(f, &first, "tcp", 1000, 1999, "\"IpRanges\":[{\"CidrIp\":\"10.200.0.0/16\"}]");
	perm(f, &first, "udp", 5000, 5999, "\"IpRanges\":[{\"CidrIp\":\"10.200.0.0/16\"}]");
	perm(f, &first, "icmp", 8, -1, "\"IpRanges\":[{\"CidrIp\":\"10.200.0.0/16\"}]");
	perm(f, &first, "tcp", 1000, 1999, "\"Ipv6Ranges\":[{\"CidrIpv6\":\"fd00:200::/32\"}]");
	perm(f, &first, "udp", 5000, 5999, "\"Ipv6Ranges\":[{\"CidrIpv6\":\"fd00:200::/32\"}]");
	perm(f, &first, "icmpv6", 128, -1, "\"Ipv6Ranges\":[{\"CidrIpv6\":\"fd00:200::/32\"}]");
	fprintf(f, "\n  ]},\n  {\"GroupId\":\"" SG_PEER "\",\"GroupName\":\"bench-peer\","
		"\"IpPermissions\":[],\"IpPermissionsEgress\":[]}\n]}\n");
	return close_out(dir, "groups.json", f);
}

static int write_plist(const char *dir, unsigned plist)
{
	FILE *f;
	int err;

	if (!plist)
		return 0;
	if ((err = open_out(dir, "prefix-list.json", &f)))
		return err;
	fprintf(f, "{\"PrefixListId\":\"" PL_ID "\",\"AddressFamily\":\"IPv4\",\"Entries\":[");
	for (unsigned k = 0; k < plist; k++)
		fprintf(f, "%s\n  {\"Cidr\":\"10.202.%u.0/24\"}", k ? "," : "", k);
	fprintf(f, "\n]}\n");
	return close_out(dir, "prefix-list.json", f);
}

static int write_endpoints(const char *dir, unsigned eps)
{
	FILE *f;
	int err;

	if ((err = open_out(dir, "endpoints.json", &f)))
		return err;
	fprintf(f, "{\"node\":{\"ipv4\":[\"10.250.255.1\"],\"ipv6\":[\"fd00:250::1\"],"
		"\"enforcingMode\":\"strict\",\"allowEvents\":false},\n\"endpoints\":[");
	for (unsigned i = 0; i < eps; i++)
		fprintf(f, "%s\n  {\"name\":\"bench/pod-%u\",\"interface\":\"sgb-b%u\","
			"\"ipv4\":[\"10.250.%u.%u\"],\"ipv6\":[\"fd00:250::%x\"],"
			"\"securityGroups\":[\"" SG_APP "\"]}",
			i ? "," : "", i, i, i / 250, i % 250 + 2, i + 2);
	fprintf(f, "\n],\n\"members\":[{\"securityGroup\":\"" SG_PEER "\",\"ipv4\":[");
	for (unsigned k = 0; k < 16; k++)
		fprintf(f, "%s\"10.201.0.%u\"", k ? "," : "", k + 1);
	fprintf(f, "]}]}\n");
	return close_out(dir, "endpoints.json", f);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gen-policy --out DIR [--endpoints E] [--rules R] [--prefix-list P]\n"
		"  --out          directory to write (created; existing files of the same name replaced)\n"
		"  --endpoints    endpoints sharing the security group (default 1, max 62500)\n"
		"  --rules        inbound rules per endpoint as EC2 counts them (default 10, min %d)\n"
		"  --prefix-list  entries of the prefix list (default: R/10, at most 256)\n"
		"Address plan: see the comment at the top of bench/gen-policy.c.\n", FIXED_RULES + 1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "endpoints", required_argument, NULL, 'e' },
		{ "rules", required_argument, NULL, 'r' },
		{ "prefix-list", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long eps = 1, rules = 10, plist = (unsigned long)-1;
	const char *dir = NULL;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': dir = optarg; break;
		case 'e': eps = strtoul(optarg, NULL, 10); break;
		case 'r': rules = strtoul(optarg, NULL, 10); break;
		case 'p': plist = strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (plist == (unsigned long)-1)
		plist = rules / 10 > 256 ? 256 : rules / 10;
	if (!dir || !eps || eps > 62500 || rules <= FIXED_RULES || rules > 200000 || plist > 256 ||
	    plist > rules - FIXED_RULES) {
		fprintf(stderr, "gen-policy: need --out, 1..62500 endpoints, %d..200000 rules and a "
			"prefix list of at most 256 entries that fits in the rules\n",
			FIXED_RULES + 1);
		usage(stderr);
		return 2;
	}
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "gen-policy: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	err = write_groups(dir, (unsigned)rules, (unsigned)plist);
	err = err ?: write_plist(dir, (unsigned)plist);
	err = err ?: write_endpoints(dir, (unsigned)eps);
	return err ? 1 : 0;
}
