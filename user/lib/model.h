/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The policy model: what a policy directory says, after parsing and before
 * compilation. Parsers (json_*.c) fill it; the compiler (compile.c) reads it.
 * All strings are owned by the model and freed by sg_policy_free().
 */
#ifndef SGBPF_MODEL_H
#define SGBPF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define SG_ID_MAX 64

struct sg_cidr {
	uint8_t family;            /* SGBPF_AF_V4 / SGBPF_AF_V6 */
	uint8_t plen;
	uint8_t addr[16];          /* network order; IPv4 in the first 4 bytes, rest 0 */
};

/* An address with family (prefix length implied: 32 or 128). */
struct sg_addr {
	uint8_t family;
	uint8_t addr[16];
};

enum sg_source_kind {
	SG_SRC_CIDR = 0,           /* IpRanges / Ipv6Ranges / CidrIpv4 / CidrIpv6 */
	SG_SRC_PREFIX_LIST,        /* PrefixListIds / PrefixListId                */
	SG_SRC_GROUP,              /* UserIdGroupPairs / ReferencedGroupInfo      */
};

/* Where a thing came from, for messages and for tracing a verdict back. */
struct sg_origin {
	char *file;                /* base name of the JSON file  */
	char *path;                /* JSON path, e.g. SecurityGroups[0].IpPermissions[1].IpRanges[0] */
};

/*
 * One rule: one source entry of one IpPermission (or one SecurityGroupRule).
 * proto: -1 = all protocols, else 0..255 (names mapped: tcp 6, udp 17,
 * icmp 1, icmpv6 58).
 * For tcp/udp: [port_from, port_to] destination ports, 0..65535.
 * For icmp/icmpv6: port_from = type (-1 any), port_to = code (-1 any);
 *   type -1 forces code -1.
 * For every other protocol (and -1): ports are ignored; both set to -1.
 */
struct sg_rule {
	bool egress;
	int proto;
	int port_from;
	int port_to;
	enum sg_source_kind kind;
	struct sg_cidr cidr;           /* SG_SRC_CIDR                          */
	char ref_id[SG_ID_MAX];        /* pl-... or sg-... for the other kinds */
	char *description;             /* may be NULL                          */
	char *rule_id;                 /* sgr-... when known, else NULL        */
	struct sg_origin origin;
};

struct sg_group {
	char id[SG_ID_MAX];
	char *name;                    /* may be NULL */
	struct sg_rule *rules;
	size_t n_rules;
	struct sg_origin origin;
};

struct sg_prefix_list {
	char id[SG_ID_MAX];
	uint8_t family;
	struct sg_cidr *cidrs;
	size_t n_cidrs;
	struct sg_origin origin;
};

struct sg_endpoint {
	char *name;                    /* "namespace/pod"                      */
	char *interface;               /* host-side interface name; may be NULL */
	int vlan_id;                   /* 0 when none                          */
	bool has_mac;
	uint8_t mac[6];
	struct sg_addr *addrs;         /* both families                        */
	size_t n_addrs;
	char (*sgs)[SG_ID_MAX];
	size_t n_sgs;
	uint16_t *probe_ports;
	size_t n_probe_ports;
	struct sg_origin origin;
};

struct sg_member {
	char sg[SG_ID_MAX];
	struct sg_addr *addrs;
	size_t n_addrs;
	struct sg_origin origin;
};

enum sg_enforcing_mode {
	SG_MODE_STRICT = 0,
	SG_MODE_STANDARD = 1,
};

struct sg_node {
	struct sg_addr *addrs;         /* node.ipv4 + node.ipv6 */
	size_t n_addrs;
	enum sg_enforcing_mode mode;
	uint32_t timeouts_s[9];        /* indexed by enum sgbpf_timeout        */
	bool icmp_related;             /* default true                         */
	bool strict_reevaluation;      /* default false                        */
	bool exempt_dhcp;              /* default true                         */
	bool events_allow;             /* default false                        */
	bool has_exempt;               /* "exempt" key present: replaces defaults */
	struct sg_cidr *exempt;
	size_t n_exempt;
	struct sg_cidr *vpc_cidrs;     /* node.vpcCidrs: adds base+0..3 reserved */
	size_t n_vpc_cidrs;
};

struct sg_policy {
	struct sg_group *groups;
	size_t n_groups;
	struct sg_prefix_list *prefix_lists;
	size_t n_prefix_lists;
	struct sg_endpoint *endpoints;
	size_t n_endpoints;
	struct sg_member *members;
	size_t n_members;
	struct sg_node node;
	bool has_endpoints_doc;
	char *endpoints_doc_file;      /* base name of the endpoints document, NULL when none */
};

/* Fill node with the defaults (EC2 timeouts, icmp_related, exempt_dhcp). */
void sg_node_defaults(struct sg_node *node);
void sg_policy_init(struct sg_policy *policy);
void sg_policy_free(struct sg_policy *policy);

/* Lookups by id; NULL when absent. */
const struct sg_group *sg_policy_group(const struct sg_policy *policy, const char *id);
const struct sg_prefix_list *sg_policy_prefix_list(const struct sg_policy *policy, const char *id);
const struct sg_endpoint *sg_policy_endpoint(const struct sg_policy *policy, const char *name);

/*
 * Address helpers. Parse "a.b.c.d/n" or "x::y/n". On host bits set the CIDR is
 * canonicalised and *host_bits_set is true (callers warn). Return 0 or -EINVAL.
 */
int sg_cidr_parse(const char *text, struct sg_cidr *out, bool *host_bits_set);
int sg_addr_parse(const char *text, struct sg_addr *out);
/* Format into buf (at least 64 bytes). Returns buf. */
char *sg_cidr_format(const struct sg_cidr *cidr, char *buf, size_t len);
char *sg_addr_format(const struct sg_addr *addr, char *buf, size_t len);
bool sg_cidr_contains(const struct sg_cidr *cidr, const struct sg_addr *addr);
/* a contains b: same family, a->plen <= b->plen and b's network inside a. */
bool sg_cidr_covers(const struct sg_cidr *a, const struct sg_cidr *b);

#endif
