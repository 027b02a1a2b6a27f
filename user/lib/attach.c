// SPDX-License-Identifier: BSD-2-Clause
/*
 * Attaching the datapath to interfaces (see attach.h). libbpf 1.1 has no
 * tcx API, so TC programs go through a clsact qdisc with a fixed
 * handle/priority; BPF_TC_F_REPLACE makes re-attaching atomic.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>

#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"

int sgbpf_attach_mode_parse(const char *text, enum sgbpf_attach_mode *mode)
{
	if (!strcmp(text, "tc"))
		*mode = SGBPF_ATTACH_TC;
	else if (!strcmp(text, "xdp") || !strcmp(text, "both"))
		*mode = SGBPF_ATTACH_XDP;
	else
		return -EINVAL;
	return 0;
}

const char *sgbpf_attach_mode_name(enum sgbpf_attach_mode mode)
{
	return mode == SGBPF_ATTACH_XDP ? "xdp" : "tc";
}

char *sgbpf_xdp_link_path(const char *link_dir, int ifindex, char *buf, size_t len)
{
	snprintf(buf, len, "%s/xdp-%d", link_dir, ifindex);
	return buf;
}

static const char *ifname_of(int ifindex, char *buf)
{
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "#%d", ifindex);
	return buf;
}

static int tc_attach(int prog_fd, int ifindex, enum bpf_tc_attach_point point)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = SGBPF_TC_HANDLE,
			    .priority = SGBPF_TC_PRIORITY, .flags = BPF_TC_F_REPLACE);
	char name[IF_NAMESIZE];
	int err;

	/* Creates the clsact qdisc (both hooks); it may already be there. */
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		fprintf(stderr, "sgbpf: creating the clsact qdisc on %s failed: %s\n",
			ifname_of(ifindex, name), strerror(-err));
		return err;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		fprintf(stderr, "sgbpf: attaching the TC %s program to %s failed: %s\n",
			point == BPF_TC_INGRESS ? "ingress" : "egress", ifname_of(ifindex, name),
			strerror(-err));
		return err;
	}
	return 0;
}

static int tc_detach(int ifindex, enum bpf_tc_attach_point point)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SGBPF_TC_HANDLE,
			    .priority = SGBPF_TC_PRIORITY);
	char name[IF_NAMESIZE];
	int err;

	err = bpf_tc_detach(&hook, &opts);
	/* Gone already: no filter, no qdisc, or no interface. */
	if (!err || err == -ENOENT || err == -ENODEV || err == -EINVAL)
		return 0;
	fprintf(stderr, "sgbpf: removing the TC %s program from %s failed: %s\n",
		point == BPF_TC_INGRESS ? "ingress" : "egress", ifname_of(ifindex, name),
		strerror(-err));
	return err;
}

/* The pinned XDP link of ifindex if it still drives that interface, else -ENOENT
 * (a defunct link, whose interface went away, is unpinned). */
static int xdp_link_get(const char *link_dir, int ifindex)
{
	struct bpf_link_info info;
	uint32_t len = sizeof(info);
	char path[512];
	int fd;

	if (!link_dir)
		return -ENOENT;
	sgbpf_xdp_link_path(link_dir, ifindex, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -ENOENT;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_LINK_TYPE_XDP ||
	    (int)info.xdp.ifindex != ifindex) {
		close(fd);
		unlink(path);
		return -ENOENT;
	}
	return fd;
}

static int xdp_attach(struct sgbpf *h, int ifindex, const char *link_dir)
{
	int prog_fd = sgbpf_prog_fd(h, SGBPF_PROG_XDP);
	char path[512], name[IF_NAMESIZE];
	int fd, err;

	if (!link_dir) {
		fprintf(stderr, "sgbpf: XDP attach needs a bpffs directory for its link\n");
		return -EINVAL;
	}
	fd = xdp_link_get(link_dir, ifindex);
	if (fd >= 0) {
		/* A previous run's link: swap the program under it, no gap. */
		err = bpf_link_update(fd, prog_fd, NULL);
		close(fd);
		if (err) {
			err = -errno;
			fprintf(stderr, "sgbpf: replacing the XDP program on %s failed: %s\n",
				ifname_of(ifindex, name), strerror(-err));
		}
		return err;
	}
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, NULL);
	if (fd < 0 && errno != EBUSY && errno != EPERM) {
		/* The driver refused native XDP (e.g. an MTU above what its XDP
		 * supports, as ENA with 9001): generic XDP judges the same
		 * frames, after the skb is built. */
		LIBBPF_OPTS(bpf_link_create_opts, o, .flags = XDP_FLAGS_SKB_MODE);
		int native = errno;

		fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &o);
		if (fd >= 0)
			fprintf(stderr, "sgbpf: %s refused native XDP (%s); attached in generic "
				"(skb) mode, which costs more per packet\n",
				ifname_of(ifindex, name), strerror(native));
		else
			errno = native;
	}
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "sgbpf: attaching the XDP program to %s failed: %s%s\n",
			ifname_of(ifindex, name), strerror(-err),
			err == -EBUSY ? " (another XDP program is attached; remove it with "
					"'ip link set dev IF xdp off' or use --attach tc)" : "");
		return err;
	}
	sgbpf_xdp_link_path(link_dir, ifindex, path, sizeof(path));
	unlink(path);
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		fprintf(stderr, "sgbpf: pinning the XDP link of %s at %s failed: %s\n",
			ifname_of(ifindex, name), path, strerror(-err));
		close(fd);      /* detaches: an unpinned link would die with us */
		return err;
	}
	close(fd);
	return 0;
}

static void xdp_detach(const char *link_dir, int ifindex)
{
	char path[512];
	int fd;

	if (!link_dir)
		return;
	fd = xdp_link_get(link_dir, ifindex);
	if (fd >= 0) {
		/* Detach now even if someone else still holds the link. */
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(sgbpf_xdp_link_path(link_dir, ifindex, path, sizeof(path)));
}

int sgbpf_attach(struct sgbpf *h, int ifindex, enum sgbpf_attach_mode mode,
		 const char *link_dir)
{
	int err;

	if (!h || ifindex <= 0)
		return -EINVAL;
	/* TX first: it is the same in both modes. */
	err = tc_attach(sgbpf_prog_fd(h, SGBPF_PROG_TC_EGRESS), ifindex, BPF_TC_EGRESS);
	if (err)
		return err;
	if (mode == SGBPF_ATTACH_XDP) {
		err = xdp_attach(h, ifindex, link_dir);
		if (err)
			return err;
		return tc_detach(ifindex, BPF_TC_INGRESS);
	}
	err = tc_attach(sgbpf_prog_fd(h, SGBPF_PROG_TC_INGRESS), ifindex, BPF_TC_INGRESS);
	if (err)
		return err;
	xdp_detach(link_dir, ifindex);
	return 0;
}

int sgbpf_detach(int ifindex, const char *link_dir)
{
	int err, ret = 0;

	xdp_detach(link_dir, ifindex);
	err = tc_detach(ifindex, BPF_TC_INGRESS);
	if (err)
		ret = err;
	err = tc_detach(ifindex, BPF_TC_EGRESS);
	if (err)
		ret = err;
	return ret;
}

bool sgbpf_attached(int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SGBPF_TC_HANDLE,
			    .priority = SGBPF_TC_PRIORITY);

	return bpf_tc_query(&hook, &opts) == 0;
}

int sgbpf_attach_xdp_only(struct sgbpf *h, int ifindex, const char *link_dir)
{
	int err;

	if (!h || ifindex <= 0)
		return -EINVAL;
	err = xdp_attach(h, ifindex, link_dir);
	if (err)
		return err;
	err = tc_detach(ifindex, BPF_TC_INGRESS);
	if (!err)
		err = tc_detach(ifindex, BPF_TC_EGRESS);
	return err;
}

bool sgbpf_xdp_attached(int ifindex, const char *link_dir)
{
	int fd = xdp_link_get(link_dir, ifindex);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}
