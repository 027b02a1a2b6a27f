// SPDX-License-Identifier: BSD-2-Clause
/* The probe steering target: the node interface holding the node's address. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_arp.h>

#include "probe_target.h"

/* ifindex and (Ethernet) MAC of ifname. */
static int iface_target(const char *ifname, struct sgbpf_probe_target *out)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	memset(out, 0, sizeof(*out));
	out->ifindex = if_nametoindex(ifname);
	if (!out->ifindex)
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		err = -errno;
	} else {
		switch (ifr.ifr_hwaddr.sa_family) {
		case ARPHRD_ETHER:
		case ARPHRD_LOOPBACK:   /* Ethernet framing, address 00:..:00 */
			memcpy(out->mac, ifr.ifr_hwaddr.sa_data, 6);
			out->has_mac = 1;
			break;
		case ARPHRD_NONE:       /* L3 devices: the stack drops the header */
		case ARPHRD_RAWIP:
			break;
		default:
			/* A frame addressed to no MAC of the device would be
			 * taken for another host's and dropped. */
			err = -EOPNOTSUPP;
		}
	}
	close(fd);
	return err;
}

static bool ifa_holds(const struct ifaddrs *ifa, const struct sg_addr *a)
{
	const struct sockaddr *sa = ifa->ifa_addr;

	if (!sa)
		return false;
	if (a->family == SGBPF_AF_V4 && sa->sa_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)sa)->sin_addr, a->addr, 4);
	if (a->family == SGBPF_AF_V6 && sa->sa_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, a->addr, 16);
	return false;
}

int sgbpf_probe_target_find(const char *ifname, const struct sg_node *node,
			    struct sgbpf_probe_target *out, char *ifname_out, size_t ifname_len,
			    char *why, size_t why_len)
{
	struct ifaddrs *all = NULL, *ifa;
	char found[IF_NAMESIZE] = "", text[INET6_ADDRSTRLEN] = "";
	int err;

	memset(out, 0, sizeof(*out));
	if (ifname && *ifname) {
		err = iface_target(ifname, out);
		if (err)
			snprintf(why, why_len, "node interface %s: %s", ifname,
				 err == -ENODEV ? "no such interface" :
				 err == -EOPNOTSUPP ? "not an Ethernet, loopback or IP-only device; "
				 "name the node's Ethernet interface" : strerror(-err));
		else
			snprintf(ifname_out, ifname_len, "%s", ifname);
		return err;
	}
	if (!node || !node->n_addrs) {
		snprintf(why, why_len, "the endpoints document lists no node address "
			 "(node.ipv4/node.ipv6): set one, or pass --node-iface");
		return -ENOENT;
	}
	if (getifaddrs(&all) < 0) {
		err = -errno;
		snprintf(why, why_len, "listing interface addresses: %s", strerror(-err));
		return err;
	}
	/* IPv4 first, then IPv6: the address list is in document order. */
	for (int fam = SGBPF_AF_V4; fam < SGBPF_AF_MAX && !found[0]; fam++)
		for (size_t i = 0; i < node->n_addrs && !found[0]; i++) {
			if (node->addrs[i].family != fam)
				continue;
			for (ifa = all; ifa; ifa = ifa->ifa_next)
				if (ifa->ifa_name && ifa_holds(ifa, &node->addrs[i])) {
					snprintf(found, sizeof(found), "%s", ifa->ifa_name);
					break;
				}
		}
	freeifaddrs(all);
	if (!found[0]) {
		const struct sg_addr *a = &node->addrs[0];

		inet_ntop(a->family == SGBPF_AF_V4 ? AF_INET : AF_INET6, a->addr, text,
			  sizeof(text));
		snprintf(why, why_len, "no interface in this network namespace holds the node "
			 "address %s%s: run sgbpfd in the node's network namespace, or pass "
			 "--node-iface", text, node->n_addrs > 1 ? " (or the others listed)" : "");
		return -ENOENT;
	}
	err = iface_target(found, out);
	if (err)
		snprintf(why, why_len, "node interface %s (holds the node address): %s; pass "
			 "--node-iface", found,
			 err == -EOPNOTSUPP ? "not an Ethernet, loopback or IP-only device" :
			 strerror(-err));
	else
		snprintf(ifname_out, ifname_len, "%s", found);
	return err;
}
