// SPDX-License-Identifier: BSD-2-Clause
/*
 * The endpoints document: node settings, the pods (endpoints) this node
 * enforces and which SGs apply to them, and extra SG members. An endpoint
 * may carry the vpc.amazonaws.com/pod-eni annotation ("podEni"), which
 * fills in VLAN id, MAC and addresses it lacks and must agree with the ones
 * it has.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sgbpf/layout.h>

#include "parse_int.h"

#define MAX_SGS_PER_ENDPOINT 16
#define IFNAME_MAX 15		/* IFNAMSIZ - 1 */

static const char *const doc_keys[] = { "node", "endpoints", "members", NULL };
static const char *const node_keys[] = { "ipv4", "ipv6", "enforcingMode", "conntrack", "exempt",
					 "vpcCidrs", "icmpRelated", "strictReevaluation",
					 "exemptDhcp", "allowEvents", NULL };
static const char *const endpoint_keys[] = { "name", "interface", "vlanId", "vlanID", "mac",
					     "ipv4", "ipv6", "securityGroups", "probePorts",
					     "podEni", NULL };
static const char *const member_keys[] = { "securityGroup", "ipv4", "ipv6", NULL };

/* conntrack keys -> enum sgbpf_timeout, with EC2's ranges where EC2 has one. */
static const struct {
	const char *key;
	int index;
	long lo, hi;
} timeout_keys[] = {
	{ "TcpEstablishedTimeout", SGBPF_TO_TCP_ESTABLISHED, 60, 432000 },
	{ "UdpTimeout", SGBPF_TO_UDP, 30, 60 },
	{ "UdpStreamTimeout", SGBPF_TO_UDP_STREAM, 60, 180 },
	{ "TcpSynTimeout", SGBPF_TO_TCP_SYN, 1, 432000 },
	{ "TcpFinTimeout", SGBPF_TO_TCP_FIN, 1, 432000 },
	{ "TcpClosedTimeout", SGBPF_TO_TCP_CLOSED, 1, 432000 },
	{ "IcmpTimeout", SGBPF_TO_ICMP, 1, 432000 },
	{ "OtherTimeout", SGBPF_TO_OTHER, 1, 432000 },
	{ "FragmentTimeout", SGBPF_TO_FRAG, 1, 432000 },
};

/* Our own documents: a misspelt key would silently change nothing, so say so. */
static void warn_unknown_keys(struct pctx *c, const cJSON *obj, const char *const *known)
{
	const cJSON *k;

	cJSON_ArrayForEach(k, obj) {
		size_t i;

		for (i = 0; known[i]; i++)
			if (!strcmp(k->string, known[i]))
				break;
		if (!known[i])
			pc_warn_key(c, k->string, "unknown key ignored");
	}
}

static const char *const addr_like[] = { "an IPv4 address like 10.0.1.23",
					 "an IPv6 address like 2600:1f14::23" };

static bool has_addr(const struct sg_addr *addrs, size_t n, const struct sg_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (addrs[i].family == a->family && !memcmp(addrs[i].addr, a->addr, 16))
			return true;
	return false;
}

static int push_addr(struct pctx *c, struct sg_addr **addrs, size_t *n, const struct sg_addr *a)
{
	if (grow_for((void **)addrs, *n, sizeof(**addrs)))
		return pc_oom(c);
	(*addrs)[(*n)++] = *a;
	return 0;
}

int parse_addr_list(struct pctx *c, const cJSON *obj, const char *key, int family,
		    struct sg_addr **addrs, size_t *n)
{
	const cJSON *arr = NULL, *v;
	size_t kmark, mark, i = 0;
	char got[64];
	int ret;

	ret = pj_array(c, obj, key, false, &arr);
	if (ret)
		return ret < 0 ? -EINVAL : 0;
	kmark = pc_push_key(c, key);
	cJSON_ArrayForEach(v, arr) {
		struct sg_addr a;

		mark = pc_push_index(c, i++);
		if (!cJSON_IsString(v) || sg_addr_parse(v->valuestring, &a) || a.family != family) {
			pc_err(c, "expected %s, got %s", addr_like[family], pj_got(v, got, sizeof(got)));
			ret = -EINVAL;
		} else if (has_addr(*addrs, *n, &a)) {
			pc_warn(c, "address %s is listed twice", v->valuestring);
		} else if (push_addr(c, addrs, n, &a)) {
			ret = -ENOMEM;
		}
		pc_pop(c, mark);
	}
	pc_pop(c, kmark);
	return ret ? -EINVAL : 0;
}

int parse_mac(const char *text, uint8_t mac[6])
{
	uint8_t m[6];

	if (strlen(text) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *p = text + i * 3;
		char hex[3] = { p[0], p[1], 0 };

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			return -EINVAL;
		m[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	/* A pod's own address: unicast and not all zero. */
	if ((m[0] & 1) || !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
		return -EINVAL;
	memcpy(mac, m, 6);
	return 0;
}

static int mac_value(struct pctx *c, const cJSON *v, uint8_t mac[6])
{
	char got[64];

	if (cJSON_IsString(v) && !parse_mac(v->valuestring, mac))
		return 0;
	pc_err(c, "expected a unicast MAC address like 06:74:5b:7b:54:3a, got %s",
	       pj_got(v, got, sizeof(got)));
	return -EINVAL;
}

static int parse_cidr_list(struct pctx *c, const cJSON *obj, const char *key,
			   struct sg_cidr **cidrs, size_t *n, bool *present)
{
	const cJSON *arr = NULL, *v;
	size_t kmark, mark, i = 0;
	int ret;

	ret = pj_array(c, obj, key, false, &arr);
	if (ret)
		return ret < 0 ? -EINVAL : 0;
	if (present)
		*present = true;
	kmark = pc_push_key(c, key);
	cJSON_ArrayForEach(v, arr) {
		struct sg_cidr cidr;

		mark = pc_push_index(c, i++);
		if (parse_cidr_value(c, v, -1, NULL, &cidr)) {
			ret = -EINVAL;
		} else if (grow_for((void **)cidrs, *n, sizeof(**cidrs))) {
			ret = pc_oom(c);
		} else {
			(*cidrs)[(*n)++] = cidr;
		}
		pc_pop(c, mark);
	}
	pc_pop(c, kmark);
	return ret ? -EINVAL : 0;
}

static int parse_node(struct pctx *c, const cJSON *node)
{
	struct sg_node *n = &c->pol->node;
	const cJSON *ct = NULL;
	const char *mode = NULL;
	size_t mark;
	int ret = 0, r;

	warn_unknown_keys(c, node, node_keys);
	ret |= parse_addr_list(c, node, "ipv4", SGBPF_AF_V4, &n->addrs, &n->n_addrs);
	ret |= parse_addr_list(c, node, "ipv6", SGBPF_AF_V6, &n->addrs, &n->n_addrs);

	r = pj_string(c, node, "enforcingMode", false, &mode);
	if (r < 0) {
		ret = -EINVAL;
	} else if (mode) {
		if (!strcmp(mode, "strict")) {
			n->mode = SG_MODE_STRICT;
		} else if (!strcmp(mode, "standard")) {
			n->mode = SG_MODE_STANDARD;
		} else {
			pc_err_key(c, "enforcingMode", "unknown enforcing mode \"%s\"; expected "
				   "\"strict\" or \"standard\"", mode);
			ret = -EINVAL;
		}
	}

	r = pj_object(c, node, "conntrack", false, &ct);
	if (r < 0)
		ret = -EINVAL;
	if (ct) {
		const char *known[sizeof(timeout_keys) / sizeof(timeout_keys[0]) + 1] = { 0 };

		for (size_t i = 0; i < sizeof(timeout_keys) / sizeof(timeout_keys[0]); i++)
			known[i] = timeout_keys[i].key;
		mark = pc_push_key(c, "conntrack");
		warn_unknown_keys(c, ct, known);
		for (size_t i = 0; i < sizeof(timeout_keys) / sizeof(timeout_keys[0]); i++) {
			long v;

			r = pj_int(c, ct, timeout_keys[i].key, false, timeout_keys[i].lo,
				   timeout_keys[i].hi, "a timeout in seconds", &v);
			if (r < 0)
				ret = -EINVAL;
			else if (r == 0)
				n->timeouts_s[timeout_keys[i].index] = (uint32_t)v;
		}
		pc_pop(c, mark);
	}

	ret |= parse_cidr_list(c, node, "exempt", &n->exempt, &n->n_exempt, &n->has_exempt);
	ret |= parse_cidr_list(c, node, "vpcCidrs", &n->vpc_cidrs, &n->n_vpc_cidrs, NULL);
	if (pj_bool(c, node, "icmpRelated", false, &n->icmp_related) < 0 ||
	    pj_bool(c, node, "strictReevaluation", false, &n->strict_reevaluation) < 0 ||
	    pj_bool(c, node, "exemptDhcp", false, &n->exempt_dhcp) < 0 ||
	    pj_bool(c, node, "allowEvents", false, &n->events_allow) < 0)
		ret = -EINVAL;
	return ret ? -EINVAL : 0;
}

/* What the endpoint said itself, so podEni can fill gaps and catch conflicts. */
struct ep_given {
	bool vlan, v4, v6;
};

static int pod_eni_addr(struct pctx *c, const cJSON *eni, const char *key, int family,
			bool given, struct sg_endpoint *ep)
{
	const char *text = NULL;
	struct sg_addr a;
	size_t mark;
	char got[64];
	int ret = 0;

	if (pj_string(c, eni, key, false, &text) < 0)
		return -EINVAL;
	if (!text || !*text)
		return 0;	/* writers leave unused fields empty */
	mark = pc_push_key(c, pj_item(c, eni, key)->string);
	if (sg_addr_parse(text, &a) || a.family != family) {
		pc_err(c, "expected %s, got %s", addr_like[family],
		       pj_got(pj_item(c, eni, key), got, sizeof(got)));
		ret = -EINVAL;
	} else if (given) {
		if (!has_addr(ep->addrs, ep->n_addrs, &a)) {
			pc_err(c, "%s is not among the endpoint's %s addresses", text,
			       family == SGBPF_AF_V4 ? "ipv4" : "ipv6");
			ret = -EINVAL;
		}
	} else if (!has_addr(ep->addrs, ep->n_addrs, &a)) {
		ret = push_addr(c, &ep->addrs, &ep->n_addrs, &a);
	}
	pc_pop(c, mark);
	return ret;
}

static int parse_pod_eni_entry(struct pctx *c, const cJSON *eni, struct sg_endpoint *ep,
			       struct ep_given *given)
{
	const cJSON *v;
	uint8_t mac[6];
	size_t mark;
	long vlan;
	int ret = 0;

	v = pj_item(c, eni, "vlanId");
	if (v) {
		mark = pc_push_key(c, v->string);
		if (pj_int_value(c, v, 0, 4094, "a VLAN id", &vlan)) {
			ret = -EINVAL;
		} else if (given->vlan && vlan != ep->vlan_id) {
			pc_err(c, "%ld conflicts with the endpoint's vlanId %d", vlan, ep->vlan_id);
			ret = -EINVAL;
		} else {
			ep->vlan_id = (int)vlan;
			given->vlan = true;
		}
		pc_pop(c, mark);
	}

	v = pj_item(c, eni, "ifAddress");
	if (v && !(cJSON_IsString(v) && !*v->valuestring)) {
		mark = pc_push_key(c, v->string);
		if (mac_value(c, v, mac)) {
			ret = -EINVAL;
		} else if (ep->has_mac && memcmp(ep->mac, mac, 6)) {
			pc_err(c, "%s conflicts with the endpoint's mac %02x:%02x:%02x:%02x:%02x:%02x",
			       v->valuestring, ep->mac[0], ep->mac[1], ep->mac[2], ep->mac[3],
			       ep->mac[4], ep->mac[5]);
			ret = -EINVAL;
		} else {
			memcpy(ep->mac, mac, 6);
			ep->has_mac = true;
		}
		pc_pop(c, mark);
	}

	ret |= pod_eni_addr(c, eni, "privateIp", SGBPF_AF_V4, given->v4, ep);
	ret |= pod_eni_addr(c, eni, "ipv6Addr", SGBPF_AF_V6, given->v6, ep);
	return ret ? -EINVAL : 0;
}

static int parse_pod_eni(struct pctx *c, const cJSON *v, struct sg_endpoint *ep,
			 struct ep_given *given)
{
	cJSON *owned = NULL;
	const cJSON *arr = v, *eni;
	size_t mark, i = 0;
	char got[64];
	int ret = 0;

	/* The annotation's value is a string holding the JSON array. */
	if (cJSON_IsString(v)) {
		owned = pj_parse(c, v->valuestring, strlen(v->valuestring),
				 "annotation string is not valid JSON");
		if (!owned)
			return -EINVAL;
		arr = owned;
	}
	if (!cJSON_IsArray(arr)) {
		pc_err(c, "expected the vpc.amazonaws.com/pod-eni annotation (an array of "
		       "{eniId, ifAddress, privateIp, vlanId, ...}, or that array as a JSON "
		       "string), got %s", pj_got(arr, got, sizeof(got)));
		cJSON_Delete(owned);
		return -EINVAL;
	}
	if (!cJSON_GetArraySize(arr))
		pc_warn(c, "empty: the annotation names no branch ENI");

	/* The VPC CNI reads it with Go's encoding/json: keys match in any case. */
	c->ci_keys = true;
	cJSON_ArrayForEach(eni, arr) {
		mark = pc_push_index(c, i++);
		if (!cJSON_IsObject(eni)) {
			pc_err(c, "expected an object, got %s", pj_got(eni, got, sizeof(got)));
			ret = -EINVAL;
		} else if (parse_pod_eni_entry(c, eni, ep, given)) {
			ret = -EINVAL;
		}
		pc_pop(c, mark);
	}
	c->ci_keys = false;
	cJSON_Delete(owned);
	return ret;
}

static int parse_sgs(struct pctx *c, const cJSON *e, struct sg_endpoint *ep)
{
	const cJSON *arr = NULL, *v;
	size_t kmark, mark, i = 0;
	int n, ret;

	ret = pj_array(c, e, "securityGroups", true, &arr);
	if (ret)
		return -EINVAL;
	n = cJSON_GetArraySize(arr);
	if (n < 1 || n > MAX_SGS_PER_ENDPOINT) {
		pc_err_key(c, "securityGroups", "expected 1..%d security groups, got %d%s",
			   MAX_SGS_PER_ENDPOINT, n,
			   n ? " (EC2 allows at most 16 per network interface)" : "");
		return -EINVAL;
	}
	kmark = pc_push_key(c, "securityGroups");
	cJSON_ArrayForEach(v, arr) {
		char id[SG_ID_MAX];

		mark = pc_push_index(c, i++);
		if (pj_id_value(c, v, "sg-", id)) {
			ret = -EINVAL;
		} else {
			for (size_t k = 0; k < ep->n_sgs; k++)
				if (!strcmp(ep->sgs[k], id)) {
					pc_warn(c, "security group %s is listed twice", id);
					break;
				}
			/* Kept even when repeated so indexes match the document. */
			if (grow_for((void **)&ep->sgs, ep->n_sgs, sizeof(*ep->sgs)))
				ret = pc_oom(c);
			else
				memcpy(ep->sgs[ep->n_sgs++], id, SG_ID_MAX);
		}
		pc_pop(c, mark);
	}
	pc_pop(c, kmark);
	return ret ? -EINVAL : 0;
}

static int parse_probe_ports(struct pctx *c, const cJSON *e, struct sg_endpoint *ep)
{
	const cJSON *arr = NULL, *v;
	size_t kmark, mark, i = 0;
	int ret;

	ret = pj_array(c, e, "probePorts", false, &arr);
	if (ret)
		return ret < 0 ? -EINVAL : 0;
	kmark = pc_push_key(c, "probePorts");
	cJSON_ArrayForEach(v, arr) {
		long port;

		mark = pc_push_index(c, i++);
		if (pj_int_value(c, v, 1, 65535, "a port", &port))
			ret = -EINVAL;
		else if (grow_for((void **)&ep->probe_ports, ep->n_probe_ports,
				  sizeof(*ep->probe_ports)))
			ret = pc_oom(c);
		else
			ep->probe_ports[ep->n_probe_ports++] = (uint16_t)port;
		pc_pop(c, mark);
	}
	pc_pop(c, kmark);
	return ret ? -EINVAL : 0;
}

static void free_endpoint(struct sg_endpoint *ep)
{
	free(ep->name);
	free(ep->interface);
	free(ep->addrs);
	free(ep->sgs);
	free(ep->probe_ports);
	free(ep->origin.file);
	free(ep->origin.path);
	memset(ep, 0, sizeof(*ep));
}

static int parse_endpoint(struct pctx *c, const cJSON *e, struct sg_endpoint *ep)
{
	struct ep_given given = { 0 };
	const char *name = NULL, *ifname = NULL;
	const cJSON *v, *v2;
	size_t mark;
	char got[64];
	int ret = 0;
	long vlan;

	warn_unknown_keys(c, e, endpoint_keys);
	if (!pj_string(c, e, "name", true, &name)) {
		if (!*name) {
			pc_err_key(c, "name", "expected a non-empty name like \"namespace/pod\", "
				   "got \"\"");
			ret = -EINVAL;
		} else if (!(ep->name = strdup(name))) {
			return pc_oom(c);
		}
	} else {
		ret = -EINVAL;
	}

	v = pj_item(c, e, "interface");
	if (v) {
		mark = pc_push_key(c, "interface");
		ifname = cJSON_IsString(v) ? v->valuestring : NULL;
		if (!ifname || !*ifname || strlen(ifname) > IFNAME_MAX ||
		    strpbrk(ifname, "/: \t\n")) {
			pc_err(c, "expected an interface name of 1..%d characters without '/', ':' "
			       "or spaces, got %s", IFNAME_MAX, pj_got(v, got, sizeof(got)));
			ret = -EINVAL;
		} else if (!(ep->interface = strdup(ifname))) {
			ret = pc_oom(c);
		}
		pc_pop(c, mark);
	}

	/* "vlanId", also spelt "vlanID" as in the VPC CNI's own structs. */
	v = pj_item(c, e, "vlanId");
	v2 = pj_item(c, e, "vlanID");
	if (v && v2 && !(cJSON_IsNumber(v) && cJSON_IsNumber(v2) &&
			 v->valuedouble == v2->valuedouble)) {
		pc_err_key(c, "vlanID", "conflicts with vlanId; give one of them");
		ret = -EINVAL;
	} else if (v || v2) {
		if (!v)
			v = v2;
		mark = pc_push_key(c, v->string);
		if (pj_int_value(c, v, 0, 4094, "a VLAN id", &vlan)) {
			ret = -EINVAL;
		} else {
			ep->vlan_id = (int)vlan;
			given.vlan = true;
		}
		pc_pop(c, mark);
	}

	v = pj_item(c, e, "mac");
	if (v) {
		mark = pc_push_key(c, "mac");
		if (mac_value(c, v, ep->mac))
			ret = -EINVAL;
		else
			ep->has_mac = true;
		pc_pop(c, mark);
	}

	ret |= parse_addr_list(c, e, "ipv4", SGBPF_AF_V4, &ep->addrs, &ep->n_addrs);
	ret |= parse_addr_list(c, e, "ipv6", SGBPF_AF_V6, &ep->addrs, &ep->n_addrs);
	for (size_t i = 0; i < ep->n_addrs; i++) {
		given.v4 |= ep->addrs[i].family == SGBPF_AF_V4;
		given.v6 |= ep->addrs[i].family == SGBPF_AF_V6;
	}
	ret |= parse_sgs(c, e, ep);
	ret |= parse_probe_ports(c, e, ep);

	v = pj_item(c, e, "podEni");
	if (v) {
		mark = pc_push_key(c, "podEni");
		ret |= parse_pod_eni(c, v, ep, &given);
		pc_pop(c, mark);
	}

	if (!ret && !ep->n_addrs) {
		pc_err(c, "no addresses: give ipv4 and/or ipv6 (or podEni with privateIp)");
		ret = -EINVAL;
	}
	if (!ret && pc_origin(c, &ep->origin))
		ret = -ENOMEM;
	return ret ? -EINVAL : 0;
}

static int parse_member(struct pctx *c, const cJSON *m, struct sg_member *mem)
{
	int ret = 0;

	warn_unknown_keys(c, m, member_keys);
	if (pj_id(c, m, "securityGroup", true, "sg-", mem->sg))
		ret = -EINVAL;
	ret |= parse_addr_list(c, m, "ipv4", SGBPF_AF_V4, &mem->addrs, &mem->n_addrs);
	ret |= parse_addr_list(c, m, "ipv6", SGBPF_AF_V6, &mem->addrs, &mem->n_addrs);
	if (!ret && !mem->n_addrs)
		pc_warn(c, "no addresses: this entry adds no member to %s", mem->sg);
	if (!ret && pc_origin(c, &mem->origin))
		ret = -ENOMEM;
	return ret ? -EINVAL : 0;
}

int parse_endpoints_doc(struct pctx *c, const cJSON *root)
{
	struct sg_policy *pol = c->pol;
	const cJSON *node = NULL, *arr = NULL, *list, *v;
	size_t kmark, mark, i;
	char got[64];
	int ret = 0, r;

	if (pol->has_endpoints_doc) {
		pc_err(c, "a second endpoints document: a policy directory holds at most one, "
		       "and %s is one already", pol->endpoints_doc_file);
		return -EINVAL;
	}
	pol->has_endpoints_doc = true;
	pol->endpoints_doc_file = strdup(c->file);
	if (!pol->endpoints_doc_file)
		return pc_oom(c);
	warn_unknown_keys(c, root, doc_keys);

	r = pj_object(c, root, "node", false, &node);
	if (r < 0) {
		ret = -EINVAL;
	} else if (node) {
		kmark = pc_push_key(c, "node");
		ret |= parse_node(c, node);
		pc_pop(c, kmark);
	}

	r = pj_array(c, root, "endpoints", false, &arr);
	if (r < 0)
		ret = -EINVAL;
	kmark = pc_push_key(c, "endpoints");
	i = 0;
	list = r == 0 ? arr : NULL;
	cJSON_ArrayForEach(v, list) {
		struct sg_endpoint ep;

		memset(&ep, 0, sizeof(ep));
		mark = pc_push_index(c, i++);
		if (!cJSON_IsObject(v)) {
			pc_err(c, "expected an object, got %s", pj_got(v, got, sizeof(got)));
			ret = -EINVAL;
		} else if (parse_endpoint(c, v, &ep)) {
			free_endpoint(&ep);
			ret = -EINVAL;
		} else if (grow_for((void **)&pol->endpoints, pol->n_endpoints,
				    sizeof(*pol->endpoints))) {
			free_endpoint(&ep);
			ret = pc_oom(c);
		} else {
			pol->endpoints[pol->n_endpoints++] = ep;
		}
		pc_pop(c, mark);
	}
	pc_pop(c, kmark);

	arr = NULL;
	r = pj_array(c, root, "members", false, &arr);
	if (r < 0)
		ret = -EINVAL;
	kmark = pc_push_key(c, "members");
	i = 0;
	list = r == 0 ? arr : NULL;
	cJSON_ArrayForEach(v, list) {
		struct sg_member mem;

		memset(&mem, 0, sizeof(mem));
		mark = pc_push_index(c, i++);
		if (!cJSON_IsObject(v)) {
			pc_err(c, "expected an object, got %s", pj_got(v, got, sizeof(got)));
			ret = -EINVAL;
		} else if (parse_member(c, v, &mem) ||
			   (grow_for((void **)&pol->members, pol->n_members, sizeof(*pol->members)) &&
			    pc_oom(c))) {
			free(mem.addrs);
			free(mem.origin.file);
			free(mem.origin.path);
			ret = -EINVAL;
		} else {
			pol->members[pol->n_members++] = mem;
		}
		pc_pop(c, mark);
	}
	pc_pop(c, kmark);
	return ret ? -EINVAL : 0;
}
