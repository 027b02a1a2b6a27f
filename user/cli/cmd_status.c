// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf status: is sgbpfd up, what is attached where, which policy
 * generation is in force, how full the maps are, and recent drops.
 * Read-only: opens the pinned maps, asks sgbpfd {"cmd":"status"}.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "attach.h"
#include "live.h"
#include "names.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sgbpf status [--interval S] [--pin-dir P] [--socket PATH] [-o table|json]\n"
		"\n"
		"The node's enforcement state: whether sgbpfd answers on its control socket,\n"
		"the policy generation in force (and its directory, from sgbpfd), the programs\n"
		"attached per interface (TC ingress/egress, XDP) and whether they are the\n"
		"pinned (current) ones, the trunk (sgbpfd --trunk: its XDP front line and how\n"
		"many VLANs it knows), map fill levels against their capacities, conntrack\n"
		"occupancy, and drops: the total since the maps were created and the drops\n"
		"counted during a sampling window of --interval seconds (default 1; 0 skips\n"
		"it). sgbpf keeps no history, so the window is the sample, not the last minute.\n"
		"Run it in the network namespace sgbpfd runs in (interface names are resolved\n"
		"there).\n"
		"\n"
		"  --interval S    drop-rate sampling window in seconds (default 1)\n"
		LIVE_COMMON_HELP
		"\n"
		"Exit: 0 sgbpfd answers and the datapath is pinned, 1 the datapath is pinned\n"
		"but sgbpfd does not answer (enforcement goes on with the policy in force),\n"
		"2 nothing pinned, usage or runtime error.\n");
}

/* Id of the program pinned at <pin_dir>/progs/<name>, 0 if none. */
static uint32_t pinned_prog_id(const char *pin_dir, const char *name)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	if (sgbpf_pin_path(path, sizeof(path), pin_dir, "progs", name))
		return 0;
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

static const char *prog_name_by_id(uint32_t id, char *buf, size_t len)
{
	struct bpf_prog_info info = { 0 };
	uint32_t ilen = sizeof(info);
	int fd = id ? bpf_prog_get_fd_by_id(id) : -1;

	buf[0] = 0;
	if (fd >= 0) {
		if (!bpf_obj_get_info_by_fd(fd, &info, &ilen))
			snprintf(buf, len, "%s", info.name);
		close(fd);
	}
	return buf;
}

static uint32_t tc_prog_id(int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SGBPF_TC_HANDLE,
			    .priority = SGBPF_TC_PRIORITY);

	libbpf_print_fn_t print;
	int err;

	/* No filter of ours on a hook (the trunk's, an XDP-mode RX) is an
	 * answer, not an error for libbpf to print. */
	print = libbpf_set_print(NULL);
	err = bpf_tc_query(&hook, &opts);
	libbpf_set_print(print);
	return err ? 0 : opts.prog_id;
}

static uint32_t xdp_prog_id(int ifindex)
{
	uint32_t id = 0;

	if (bpf_xdp_query_id(ifindex, 0, &id))
		return 0;
	return id;
}

struct hook {
	const char *name;
	uint32_t id;
};

/* The trunk of an attachment row (sgbpfd --trunk: front-line VLAN entries),
 * found or added in trunks. */
static cJSON *trunk_of(cJSON *trunks, cJSON *row)
{
	int ifindex = cJSON_GetObjectItem(row, "ifindex")->valueint;
	cJSON *t;

	cJSON_ArrayForEach(t, trunks)
		if (cJSON_GetObjectItem(t, "ifindex")->valueint == ifindex)
			return t;
	t = cJSON_CreateObject();
	cJSON_AddNumberToObject(t, "ifindex", ifindex);
	cJSON_AddStringToObject(t, "interface",
				cJSON_GetObjectItem(row, "interface")->valuestring);
	cJSON_AddItemToObject(t, "xdp", cJSON_Duplicate(cJSON_GetObjectItem(row, "xdp"), true));
	cJSON_AddItemToObject(t, "tcIngress",
			      cJSON_Duplicate(cJSON_GetObjectItem(row, "tcIngress"), true));
	cJSON_AddItemToObject(t, "tcEgress",
			      cJSON_Duplicate(cJSON_GetObjectItem(row, "tcEgress"), true));
	cJSON_AddItemToObject(t, "vlans", cJSON_CreateArray());
	cJSON_AddItemToArray(trunks, t);
	return t;
}

static cJSON *hook_json(const struct hook *h, const uint32_t *current)
{
	cJSON *o = cJSON_CreateObject();
	char name[64];
	bool cur = false;

	for (int p = 0; p < SGBPF_PROG_MAX; p++)
		cur |= h->id && h->id == current[p];
	cJSON_AddNumberToObject(o, "progId", h->id);
	cJSON_AddStringToObject(o, "program", prog_name_by_id(h->id, name, sizeof(name)));
	cJSON_AddBoolToObject(o, "current", cur);
	return o;
}

/* Map fill: name, entries, capacity. Arrays are full by construction and left out. */
static const enum sgbpf_map fill_maps[] = {
	SGBPF_MAP_IFACES, SGBPF_MAP_EP_CONFIG, SGBPF_MAP_EP_ADDRS, SGBPF_MAP_NODE_ADDRS,
	SGBPF_MAP_RULE_TRIE, SGBPF_MAP_PORT_TRIE, SGBPF_MAP_EXEMPT, SGBPF_MAP_CT4_NEW,
	SGBPF_MAP_CT4_EST, SGBPF_MAP_CT4T_EST, SGBPF_MAP_CT_NEW, SGBPF_MAP_CT_EST,
	SGBPF_MAP_CT6T_EST, SGBPF_MAP_CT6U_EST, SGBPF_MAP_FRAGS, SGBPF_MAP_PROBE_PORTS,
};

static double fill_percent(long n, uint32_t max)
{
	return max ? (double)(int)(n * 1000.0 / max) / 10 : 0;
}

/*
 * conntrack: entries and capacity per table, both families together (keys
 * established, establishedMax, new, newMax) and per family under
 * families.ipv4 / families.ipv6: each family's flows fill only its own
 * maps (ct.h; est: ct4_est and ct4t_est; ct_est, ct6t_est and ct6u_est;
 * summed). count: the fill_maps' entries (-errno: unknown, null).
 */
static void conntrack_json(cJSON *d, const struct sgbpf_inspect *ins, const long *count)
{
	static const struct { enum sgbpf_ct_table t; const char *n, *max; } tab[] = {
		{ SGBPF_CT_TABLE_EST, "established", "establishedMax" },
		{ SGBPF_CT_TABLE_NEW, "new", "newMax" },
	};
	long n[SGBPF_CT_TABLE_MAX] = { 0 };
	uint64_t max[SGBPF_CT_TABLE_MAX] = { 0 };
	cJSON *fams = cJSON_CreateObject();

	for (int f = 0; f < SGBPF_AF_MAX; f++) {
		cJSON *o = cJSON_AddObjectToObject(fams, sgbpf_family_name(f));

		for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
			enum sgbpf_map mp[SGBPF_CT_FAMILY_MAPS];
			int k = sgbpf_ct_maps_in(tab[i].t, f, mp);
			uint64_t cap = 0;
			long c = 0;

			for (int j = 0; j < k; j++) {
				cap += sgbpf_inspect_max_entries(ins, mp[j]);
				if (c >= 0)
					c = count[mp[j]] < 0 ? count[mp[j]] : c + count[mp[j]];
			}
			if (c >= 0)
				cJSON_AddNumberToObject(o, tab[i].n, c);
			else
				cJSON_AddNullToObject(o, tab[i].n);
			cJSON_AddNumberToObject(o, tab[i].max, (double)cap);
			n[tab[i].t] += c > 0 ? c : 0;
			max[tab[i].t] += cap;
		}
	}
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		cJSON_AddNumberToObject(d, tab[i].n, n[tab[i].t]);
		cJSON_AddNumberToObject(d, tab[i].max, (double)max[tab[i].t]);
	}
	cJSON_AddItemToObject(d, "families", fams);
}

/* "12 of 131072 (0.0%)" from a families.<family> object's key and key"Max". */
static const char *occupancy(const cJSON *o, const char *key, char *buf, size_t len)
{
	char mk[32];
	const cJSON *n = cJSON_GetObjectItem(o, key);
	double max;

	snprintf(mk, sizeof(mk), "%sMax", key);
	max = cJSON_GetObjectItem(o, mk)->valuedouble;
	if (!cJSON_IsNumber(n))
		snprintf(buf, len, "? of %.0f (not readable)", max);
	else
		snprintf(buf, len, "%.0f of %.0f (%.1f%%)", n->valuedouble, max,
			 fill_percent((long)n->valuedouble, (uint32_t)max));
	return buf;
}

static uint64_t drops_total(const struct sgbpf_global_stats *g)
{
	uint64_t n = 0;

	for (int r = 0; r < SGBPF_DROP_REASON_MAX; r++)
		n += g->drops_by_reason[r];
	return n;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		LIVE_LONGOPTS,
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct sgbpf_global_stats g0, g1;
	struct live_opts lo;
	struct sgbpf_inspect ins;
	double interval = 1;
	uint32_t current[SGBPF_PROG_MAX] = { 0 };
	long count[SGBPF_MAP_MAX];      /* of the fill_maps, -errno when unknown */
	cJSON *doc, *d, *daemon, *atts, *trunks, *maps, *drops, *by;
	int opt, rc;
	char *end;

	live_opts_init(&lo, "sgbpf status");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		int r = live_opt(&lo, opt, optarg);

		if (r < 0)
			return SG_EXIT_ERROR;
		if (r)
			continue;
		switch (opt) {
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || interval < 0 || interval > 3600) {
				fprintf(stderr, "sgbpf status: --interval wants seconds in 0..3600, "
					"got '%s'\n", optarg);
				return SG_EXIT_ERROR;
			}
			break;
		case 'h':
			usage(stdout);
			return SG_EXIT_OK;
		default:
			usage(stderr);
			return SG_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sgbpf status: unexpected argument '%s'; see 'sgbpf status --help'\n",
			argv[optind]);
		return SG_EXIT_ERROR;
	}
	if (live_open(&lo, &ins, 0))
		return SG_EXIT_ERROR;
	if (sgbpf_inspect_global_stats(&ins, &g0))
		memset(&g0, 0, sizeof(g0));

	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "pinDir", lo.pin_dir);
	daemon = cJSON_AddObjectToObject(doc, "daemon");
	cJSON_AddStringToObject(daemon, "socket", lo.socket);
	d = live_daemon_status(&lo);
	cJSON_AddBoolToObject(daemon, "running", d != NULL);
	if (d) {
		const char *keys[] = { "dir", "generation", "endpoints", "interfaces", "appliedAt",
				       "attach", "links" };

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			cJSON *v = cJSON_GetObjectItemCaseSensitive(d, keys[i]);

			if (v)
				cJSON_AddItemToObject(daemon, keys[i], cJSON_Duplicate(v, true));
		}
	}
	rc = d ? SG_EXIT_OK : SG_EXIT_NO;
	cJSON_Delete(d);

	d = cJSON_AddObjectToObject(doc, "policy");
	live_add_u64(d, "generation", ins.state.generation);
	cJSON_AddNumberToObject(d, "activeSlot", ins.state.active_slot);
	cJSON_AddNumberToObject(d, "layoutVersion", ins.state.layout_version);
	cJSON_AddNumberToObject(d, "rules", ins.cfg.n_rules);
	{
		int n = 0;

		for (uint32_t i = 0; i < SGBPF_MAX_ENDPOINTS; i++)
			n += sgbpf_inspect_record(&ins, i) != NULL;
		cJSON_AddNumberToObject(d, "endpoints", n);
	}
	cJSON_AddBoolToObject(d, "allowEvents", !!(ins.cfg.flags & SGBPF_CFG_EVENTS_ALLOW));
	cJSON_AddStringToObject(d, "enforcingMode",
				ins.cfg.flags & SGBPF_CFG_MODE_STANDARD ? "standard" : "strict");
	{
		struct sgbpf_probe_target t = {};
		uint32_t zero = 0;
		char name[IF_NAMESIZE] = "";
		cJSON *ps = cJSON_AddObjectToObject(d, "probeSteering");

		if (ins.fd[SGBPF_MAP_PROBE_TARGET] >= 0)
			bpf_map_lookup_elem(ins.fd[SGBPF_MAP_PROBE_TARGET], &zero, &t);
		cJSON_AddBoolToObject(ps, "probePorts", !!(ins.cfg.flags & SGBPF_CFG_PROBES));
		cJSON_AddNumberToObject(ps, "ifindex", t.ifindex);
		if (t.ifindex && if_indextoname(t.ifindex, name))
			cJSON_AddStringToObject(ps, "interface", name);
		else
			cJSON_AddNullToObject(ps, "interface");
	}

	/* Attachments: every ifaces entry, what the kernel has on its hooks. */
	for (int p = 0; p < SGBPF_PROG_MAX; p++)
		current[p] = pinned_prog_id(lo.pin_dir, sgbpf_prog_name(p));
	atts = cJSON_AddArrayToObject(doc, "attachments");
	trunks = cJSON_AddArrayToObject(doc, "trunks");
	if (ins.fd[SGBPF_MAP_IFACES] >= 0) {
		struct sgbpf_iface_key k, prev;
		struct sgbpf_iface_val v;
		bool first = true;

		while (!bpf_map_get_next_key(ins.fd[SGBPF_MAP_IFACES], first ? NULL : &prev, &k)) {
			char ifname[IF_NAMESIZE] = "", nb[64];
			struct hook hooks[3] = {
				{ "tcIngress", tc_prog_id(k.ifindex, BPF_TC_INGRESS) },
				{ "tcEgress", tc_prog_id(k.ifindex, BPF_TC_EGRESS) },
				{ "xdp", xdp_prog_id(k.ifindex) },
			};
			cJSON *a;

			first = false;
			prev = k;
			if (bpf_map_lookup_elem(ins.fd[SGBPF_MAP_IFACES], &k, &v))
				continue;
			a = cJSON_CreateObject();
			cJSON_AddNumberToObject(a, "ifindex", k.ifindex);
			cJSON_AddStringToObject(a, "interface",
						if_indextoname(k.ifindex, ifname) ? ifname : "");
			cJSON_AddNumberToObject(a, "vlan", k.vlan_id);
			cJSON_AddNumberToObject(a, "epId", v.ep_id);
			cJSON_AddStringToObject(a, "endpoint", live_ep_name(&ins, v.ep_id, nb, sizeof(nb)));
			cJSON_AddStringToObject(a, "role", v.role == SGBPF_ROLE_NET_FACING ? "net" : "pod");
			cJSON_AddBoolToObject(a, "frontLine", v.flags & SGBPF_IFACE_F_FRONT_LINE);
			for (int h = 0; h < 3; h++)
				if (hooks[h].id)
					cJSON_AddItemToObject(a, hooks[h].name, hook_json(&hooks[h], current));
				else
					cJSON_AddNullToObject(a, hooks[h].name);
			cJSON_AddItemToArray(atts, a);
			if (v.flags & SGBPF_IFACE_F_FRONT_LINE)
				cJSON_AddItemToArray(cJSON_GetObjectItem(trunk_of(trunks, a), "vlans"),
						     cJSON_CreateNumber(k.vlan_id));
		}
	}

	maps = cJSON_AddArrayToObject(doc, "maps");
	for (int m = 0; m < SGBPF_MAP_MAX; m++)
		count[m] = -ENOENT;
	for (size_t i = 0; i < sizeof(fill_maps) / sizeof(fill_maps[0]); i++) {
		enum sgbpf_map m = fill_maps[i];
		long n = count[m] = sgbpf_inspect_count(&ins, m);
		uint32_t max = sgbpf_inspect_max_entries(&ins, m);
		cJSON *o;

		if (n < 0)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", sgbpf_map_name(m));
		cJSON_AddNumberToObject(o, "entries", n);
		cJSON_AddNumberToObject(o, "maxEntries", max);
		cJSON_AddNumberToObject(o, "percent", fill_percent(n, max));
		cJSON_AddItemToArray(maps, o);
	}
	d = cJSON_AddObjectToObject(doc, "conntrack");
	conntrack_json(d, &ins, count);
	live_add_u64(d, "newCreated", g0.ct_new_created);
	live_add_u64(d, "establishedCreated", g0.ct_est_created);
	live_add_u64(d, "establishedFull", g0.ct_est_full);
	live_add_u64(d, "dropsTableFull", g0.drops_by_reason[SGBPF_DROP_CT_FULL]);

	if (interval > 0) {
		live_signals();
		live_sleep(interval);
	}
	if (sgbpf_inspect_global_stats(&ins, &g1))
		g1 = g0;
	drops = cJSON_AddObjectToObject(doc, "drops");
	live_add_u64(drops, "total", drops_total(&g1));
	cJSON_AddNumberToObject(drops, "windowSeconds", interval);
	if (interval > 0)
		live_add_u64(drops, "inWindow", drops_total(&g1) - drops_total(&g0));
	else
		cJSON_AddNullToObject(drops, "inWindow");
	by = cJSON_AddObjectToObject(drops, "byReason");
	for (int r = 0; r < SGBPF_DROP_REASON_MAX; r++)
		live_add_u64(by, sgbpf_drop_reason_name(r), g1.drops_by_reason[r]);
	live_add_u64(drops, "unknownInterfacePackets", g1.unknown_iface);

	if (lo.json) {
		if (live_print_json(doc))
			rc = SG_EXIT_ERROR;
		sgbpf_inspect_close(&ins);
		return rc;
	}

	/* Table: the same document, for people. */
	daemon = cJSON_GetObjectItem(doc, "daemon");
	if (cJSON_IsTrue(cJSON_GetObjectItem(daemon, "running"))) {
		const char *at = cJSON_GetStringValue(cJSON_GetObjectItem(daemon, "appliedAt"));
		const char *mode = cJSON_GetStringValue(cJSON_GetObjectItem(daemon, "attach"));

		printf("sgbpfd:       running (socket %s, policy dir %s, attach mode %s)\n",
		       lo.socket, cJSON_GetStringValue(cJSON_GetObjectItem(daemon, "dir")) ?: "?",
		       mode ?: "?");
		printf("applied:      %s\n", at ? at : "before this sgbpfd started (taken over)");
	} else
		printf("sgbpfd:       NOT answering on %s (the datapath keeps enforcing the policy "
		       "in force)\n", lo.socket);
	printf("policy:       generation %llu in slot %u, %u rules, %d endpoints, mode %s, "
	       "allow events %s\n", (unsigned long long)ins.state.generation,
	       ins.state.active_slot, ins.cfg.n_rules,
	       cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "policy"), "endpoints")->valueint,
	       ins.cfg.flags & SGBPF_CFG_MODE_STANDARD ? "standard" : "strict",
	       ins.cfg.flags & SGBPF_CFG_EVENTS_ALLOW ? "on" : "off");
	{
		cJSON *ps = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "policy"), "probeSteering");
		const char *ifn = cJSON_GetStringValue(cJSON_GetObjectItem(ps, "interface"));
		int ifx = cJSON_GetObjectItem(ps, "ifindex")->valueint;

		printf("probes:       %s; replies steered %s%s\n",
		       cJSON_IsTrue(cJSON_GetObjectItem(ps, "probePorts")) ?
		       "endpoints list probe ports" : "no endpoint lists probe ports",
		       ifx ? "to the node via " : "nowhere (they follow the routes)",
		       ifx ? (ifn ? ifn : "?") : "");
	}
	{
		cJSON *t;

		cJSON_ArrayForEach(t, trunks) {
			cJSON *x = cJSON_GetObjectItem(t, "xdp");

			printf("trunk:        %s (ifindex %d): XDP %s, front line for %d VLANs "
			       "(the pods' own interfaces decide what it passes)\n",
			       cJSON_GetObjectItem(t, "interface")->valuestring,
			       cJSON_GetObjectItem(t, "ifindex")->valueint,
			       cJSON_IsNull(x) ? "NOT attached" :
			       cJSON_IsTrue(cJSON_GetObjectItem(x, "current")) ? "attached" :
			       "attached (stale program)",
			       cJSON_GetArraySize(cJSON_GetObjectItem(t, "vlans")));
		}
	}
	printf("pinned at:    %s\n\nattachments:\n", lo.pin_dir);
	if (!cJSON_GetArraySize(atts)) {
		printf("  (none)\n");
	} else {
		cJSON *a;

		printf("  %-16s %-7s %-5s %-4s %-28s %-14s %-14s %s\n", "INTERFACE", "IFINDEX",
		       "VLAN", "ROLE", "ENDPOINT", "TC-INGRESS", "TC-EGRESS", "XDP");
		cJSON_ArrayForEach(a, atts) {
			char hb[3][32];
			const char *hn[3] = { "tcIngress", "tcEgress", "xdp" };

			for (int h = 0; h < 3; h++) {
				cJSON *x = cJSON_GetObjectItem(a, hn[h]);

				if (cJSON_IsNull(x))
					snprintf(hb[h], sizeof(hb[h]), "-");
				else
					snprintf(hb[h], sizeof(hb[h]), "%d%s",
						 cJSON_GetObjectItem(x, "progId")->valueint,
						 cJSON_IsTrue(cJSON_GetObjectItem(x, "current")) ? "" :
						 " (stale)");
			}
			printf("  %-16s %-7d %-5d %-4s %-28s %-14s %-14s %s\n",
			       cJSON_GetObjectItem(a, "interface")->valuestring,
			       cJSON_GetObjectItem(a, "ifindex")->valueint,
			       cJSON_GetObjectItem(a, "vlan")->valueint,
			       cJSON_GetObjectItem(a, "role")->valuestring,
			       cJSON_GetObjectItem(a, "endpoint")->valuestring, hb[0], hb[1], hb[2]);
		}
	}
	printf("\nmaps:\n  %-14s %10s %10s %7s\n", "MAP", "ENTRIES", "MAX", "FILL");
	{
		cJSON *m;

		cJSON_ArrayForEach(m, maps)
			printf("  %-14s %10.0f %10.0f %6.1f%%\n",
			       cJSON_GetObjectItem(m, "name")->valuestring,
			       cJSON_GetObjectItem(m, "entries")->valuedouble,
			       cJSON_GetObjectItem(m, "maxEntries")->valuedouble,
			       cJSON_GetObjectItem(m, "percent")->valuedouble);
	}
	d = cJSON_GetObjectItem(doc, "conntrack");
	/* Per family: each has its own maps, and one fills while the other
	 * is empty. */
	for (int f = 0; f < SGBPF_AF_MAX; f++) {
		cJSON *o = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "families"),
					       sgbpf_family_name(f));
		char est[48], new[48];

		printf("%s%s: %s established, %s new\n", f ? "              " : "\nconntrack:    ",
		       f == SGBPF_AF_V4 ? "IPv4" : "IPv6", occupancy(o, "established", est, sizeof(est)),
		       occupancy(o, "new", new, sizeof(new)));
	}
	printf("              %llu could not be promoted, %llu new flows dropped (table full)\n",
	       (unsigned long long)g0.ct_est_full,
	       (unsigned long long)g0.drops_by_reason[SGBPF_DROP_CT_FULL]);
	if (interval > 0)
		printf("drops:        %llu in the last %gs (sampled now), %llu since the maps were "
		       "created\n", (unsigned long long)(drops_total(&g1) - drops_total(&g0)),
		       interval, (unsigned long long)drops_total(&g1));
	else
		printf("drops:        %llu since the maps were created\n",
		       (unsigned long long)drops_total(&g1));
	for (int r = 0; r < SGBPF_DROP_REASON_MAX; r++)
		if (g1.drops_by_reason[r])
			printf("  %-22s %llu\n", sgbpf_drop_reason_name(r),
			       (unsigned long long)g1.drops_by_reason[r]);
	cJSON_Delete(doc);
	sgbpf_inspect_close(&ins);
	return rc;
}
