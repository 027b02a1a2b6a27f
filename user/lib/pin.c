// SPDX-License-Identifier: BSD-2-Clause
/* Pinned state in bpffs besides the datapath maps (see pin.h). */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <linux/magic.h>
#include <bpf/bpf.h>

#include "pin.h"

int sgbpf_pin_path(char *buf, size_t len, const char *pin_dir, const char *sub,
		   const char *name)
{
	int n;

	if (name)
		n = snprintf(buf, len, "%s/%s/%s", pin_dir, sub, name);
	else
		n = snprintf(buf, len, "%s/%s", pin_dir, sub);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool under(const char *path, const char *root)
{
	size_t n = strlen(root);

	return !strncmp(path, root, n) && (path[n] == '/' || path[n] == 0);
}

int sgbpf_pin_prepare(const char *pin_dir)
{
	static const char *const subs[] = { "maps", "progs", "links" };
	char path[PATH_MAX];
	int err;

	if (!pin_dir || pin_dir[0] != '/') {
		fprintf(stderr, "sgbpf: pin directory '%s' must be an absolute path in a bpf "
			"filesystem (default %s)\n", pin_dir ? pin_dir : "", SGBPF_PIN_DIR_DEFAULT);
		return -EINVAL;
	}
	if (under(pin_dir, SGBPF_BPFFS_ROOT) && !on_bpffs(SGBPF_BPFFS_ROOT)) {
		mkdir_p(SGBPF_BPFFS_ROOT, 0755);
		if (mount("bpf", SGBPF_BPFFS_ROOT, "bpf", 0, "mode=0700")) {
			err = -errno;
			fprintf(stderr, "sgbpf: mounting bpffs at %s failed: %s; mount it with "
				"'mount -t bpf bpf %s' (a container needs it from the host, "
				"mounted with mountPropagation: Bidirectional)\n",
				SGBPF_BPFFS_ROOT, strerror(-err), SGBPF_BPFFS_ROOT);
			return err;
		}
	}
	err = mkdir_p(pin_dir, 0700);
	if (err) {
		fprintf(stderr, "sgbpf: creating pin directory %s failed: %s\n", pin_dir,
			strerror(-err));
		return err;
	}
	if (!on_bpffs(pin_dir)) {
		fprintf(stderr, "sgbpf: pin directory %s is not in a bpf filesystem; pick one "
			"under %s or mount one with 'mount -t bpf bpf DIR'\n", pin_dir,
			SGBPF_BPFFS_ROOT);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		err = sgbpf_pin_path(path, sizeof(path), pin_dir, subs[i], NULL);
		if (!err && mkdir(path, 0700) && errno != EEXIST)
			err = -errno;
		if (err) {
			fprintf(stderr, "sgbpf: creating %s/%s failed: %s\n", pin_dir, subs[i],
				strerror(-err));
			return err;
		}
	}
	return 0;
}

int sgbpf_ep_records_open(const char *pin_dir)
{
	char path[PATH_MAX];
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	int fd, err;

	err = sgbpf_pin_path(path, sizeof(path), pin_dir, "maps", "ep_records");
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    info.type == BPF_MAP_TYPE_ARRAY && info.key_size == sizeof(uint32_t) &&
		    info.value_size == sizeof(struct sgbpf_ep_record) &&
		    info.max_entries == SGBPF_NUM_SLOTS * SGBPF_MAX_ENDPOINTS)
			return fd;
		close(fd);
		fprintf(stderr, "sgbpf: pinned map %s has another shape than this build's "
			"endpoint records (value %u bytes, %u entries; want %zu, %u); the "
			"pinned state was written by another sgbpf version: stop sgbpfd and "
			"remove %s to start afresh (drops conntrack state)\n", path,
			info.value_size, info.max_entries, sizeof(struct sgbpf_ep_record),
			SGBPF_NUM_SLOTS * SGBPF_MAX_ENDPOINTS, pin_dir);
		return -EPROTO;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sgbpf_ep_recs", sizeof(uint32_t),
			    sizeof(struct sgbpf_ep_record), SGBPF_NUM_SLOTS * SGBPF_MAX_ENDPOINTS,
			    NULL);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "sgbpf: creating the endpoint record map failed: %s\n",
			strerror(-err));
		return err;
	}
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		fprintf(stderr, "sgbpf: pinning the endpoint record map at %s failed: %s\n",
			path, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

int sgbpf_ep_records_read(int fd, uint32_t slot, struct sgbpf_ep_record *recs)
{
	for (uint32_t i = 0; i < SGBPF_MAX_ENDPOINTS; i++) {
		uint32_t key = (slot & 1) * SGBPF_MAX_ENDPOINTS + i;

		if (bpf_map_lookup_elem(fd, &key, &recs[i]))
			return -errno;
		recs[i].name[SGBPF_EP_NAME_MAX - 1] = 0;
		recs[i].ifname[sizeof(recs[i].ifname) - 1] = 0;
	}
	return 0;
}

int sgbpf_ep_records_write(int fd, uint32_t slot, const struct sgbpf_ep_record *recs)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	uint32_t keys[SGBPF_MAX_ENDPOINTS], count = SGBPF_MAX_ENDPOINTS;

	for (uint32_t i = 0; i < SGBPF_MAX_ENDPOINTS; i++)
		keys[i] = (slot & 1) * SGBPF_MAX_ENDPOINTS + i;
	if (!bpf_map_update_batch(fd, keys, recs, &count, &opts))
		return 0;
	for (uint32_t i = 0; i < SGBPF_MAX_ENDPOINTS; i++)
		if (bpf_map_update_elem(fd, &keys[i], &recs[i], BPF_ANY))
			return -errno;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(path) && errno != ENOENT ? -1 : 0;
}

int sgbpf_pin_remove(const char *pin_dir)
{
	if (nftw(pin_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		return -errno;
	return 0;
}
