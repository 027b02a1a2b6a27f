// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpfd interfaces: a libnl route/link cache kept current by RTNLGRP_LINK
 * notifications (nl_cache_mngr), and what follows from it:
 *   - an endpoint's interface appears: ifaces entry first, then attach
 *     (a packet never meets the program without its entry), log the time
 *     from appearance to enforcement;
 *   - an interface matching --iface-glob appears before its endpoint is
 *     known: entry -> SGD_EP_UNASSIGNED (no ep_config: new flows dropped,
 *     fail closed), re-pointed when the endpoint shows up;
 *   - an interface once managed stays attached while it exists: when its
 *     endpoint leaves the policy (or no endpoint names it any more, also
 *     after a restart) its entry -> SGD_EP_UNASSIGNED, fail closed;
 *   - an interface vanishes: detach, ifaces entry, the endpoint's
 *     conntrack/fragment state and counters go;
 *   - reconcile (start and every --reconcile-interval): interfaces gone
 *     while we were down or while notifications were lost, ifaces entries
 *     of unknown interfaces, state of endpoint ids no longer in force,
 *     programs removed behind our back, orphan XDP links;
 *   - --trunk: the trunk gets XDP alone and one entry {trunk, vlanId} per
 *     endpoint with a VLAN id (front line, see docs/daemon.md "Trunk"),
 *     kept to the policy in force after every swap and reconcile, and
 *     followed when the trunk appears, goes or comes back as a new ifindex.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "ct.h"
#include "daemon_int.h"

static struct sgd_link *link_find(struct sgd *d, int ifindex)
{
	for (size_t i = 0; i < d->n_links; i++)
		if (d->links[i].ifindex == ifindex)
			return &d->links[i];
	return NULL;
}

static struct sgd_link *link_add(struct sgd *d, int ifindex, const char *name)
{
	struct sgd_link *l;

	if (d->n_links == d->cap_links) {
		size_t cap = d->cap_links ? 2 * d->cap_links : 64;
		struct sgd_link *nl = realloc(d->links, cap * sizeof(*nl));

		if (!nl)
			return NULL;
		d->links = nl;
		d->cap_links = cap;
	}
	l = &d->links[d->n_links++];
	memset(l, 0, sizeof(*l));
	l->ifindex = ifindex;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->ep_id = SGD_NONE;
	l->seen_ns = sgd_now_ns();
	return l;
}

static bool glob_match(const struct sgd *d, const char *name)
{
	for (int i = 0; i < d->cfg->n_globs; i++)
		if (!fnmatch(d->cfg->globs[i], name, 0))
			return true;
	return false;
}

static const char *ep_name_of(const struct sgd *d, uint32_t id)
{
	for (size_t i = 0; i < d->n_eps; i++)
		if (d->eps[i].id == id)
			return d->eps[i].name;
	return NULL;
}

static bool ep_in_force(const struct sgd *d, uint32_t id)
{
	return ep_name_of(d, id) != NULL;
}

static bool ep_has_link(const struct sgd *d, uint32_t id, int except_ifindex)
{
	for (size_t i = 0; i < d->n_links; i++)
		if (d->links[i].ep_id == id && d->links[i].ifindex != except_ifindex)
			return true;
	return false;
}

/* Delete an endpoint's conntrack, fragment and counter state. */
static void forget_ep(struct sgd *d, uint32_t id, const char *why)
{
	struct sgd_log l;
	int err;

	if (id >= SGD_EP_UNASSIGNED)
		return;
	sgd_capture_begin();
	err = sgbpf_ep_forget(d->h, id);
	sgd_capture_end(SGD_ERROR, "forget_failed");
	if (sgd_log_begin(&l, err ? SGD_ERROR : SGD_INFO, "endpoint_state_deleted")) {
		sgd_log_u64(&l, "ep_id", id);
		sgd_log_str(&l, "reason", why);
		if (err)
			sgd_log_str(&l, "error", strerror(-err));
		sgd_log_u64(&l, "generation", d->generation);
		sgd_log_end(&l);
	}
}

static void log_link(enum sgd_level level, const char *event, const struct sgd *d,
		     const struct sgd_link *lk, const char *extra_key, const char *extra)
{
	const char *ep = lk->ep_id < SGD_EP_UNASSIGNED ? ep_name_of(d, lk->ep_id) : NULL;
	struct sgd_log l;

	if (!sgd_log_begin(&l, level, event))
		return;
	sgd_log_str(&l, "iface", lk->name);
	sgd_log_u64(&l, "ifindex", lk->ifindex);
	if (ep)
		sgd_log_str(&l, "endpoint", ep);
	if (lk->ep_id != SGD_NONE)
		sgd_log_u64(&l, "ep_id", lk->ep_id);
	if (extra_key)
		sgd_log_str(&l, extra_key, extra);
	sgd_log_u64(&l, "generation", d->generation);
	sgd_log_end(&l);
}

/* An ifaces entry for the interface, written by an earlier sgbpfd run: it
 * was managed before this process started. */
static bool pinned_entry(const struct sgd *d, int ifindex)
{
	struct sgbpf_iface_key k = { .ifindex = ifindex };
	struct sgbpf_iface_val v;

	return !bpf_map_lookup_elem(sgbpf_map_fd(d->h, SGBPF_MAP_IFACES), &k, &v);
}

/* ---- the trunk (--trunk) ---------------------------------------------- */

static bool is_trunk(const struct sgd *d, const char *name)
{
	return d->cfg->trunk[0] && !strcmp(d->cfg->trunk, name);
}

static void log_trunk(enum sgd_level level, const char *event, const struct sgd *d,
		      int ifindex, const char *key, uint64_t val, const char *msg)
{
	struct sgd_log l;

	if (!sgd_log_begin(&l, level, event))
		return;
	sgd_log_str(&l, "iface", d->cfg->trunk);
	sgd_log_u64(&l, "ifindex", ifindex);
	if (key)
		sgd_log_u64(&l, key, val);
	if (msg)
		sgd_log_str(&l, "msg", msg);
	sgd_log_u64(&l, "generation", d->generation);
	sgd_log_end(&l);
}

/* Delete every ifaces entry of ifindex that carries a VLAN id (a trunk's),
 * and its untagged one too with untagged; keep[vlan] != 0 spares that one.
 * Returns how many went. */
static unsigned vlan_entries_prune(struct sgd *d, int ifindex, const uint16_t *keep,
				   bool untagged)
{
	int fd = sgbpf_map_fd(d->h, SGBPF_MAP_IFACES);
	struct sgbpf_iface_key keys[SGBPF_MAX_IFACES], k, *prev = NULL;
	unsigned n = 0, gone = 0;

	while (n < SGBPF_MAX_IFACES && !bpf_map_get_next_key(fd, prev, &k)) {
		keys[n] = k;
		prev = &keys[n++];
	}
	for (unsigned i = 0; i < n; i++) {
		if ((int)keys[i].ifindex != ifindex || (!keys[i].vlan_id && !untagged) ||
		    (keep && keys[i].vlan_id && keys[i].vlan_id < 4096 && keep[keys[i].vlan_id]))
			continue;
		if (!bpf_map_delete_elem(fd, &keys[i]))
			gone++;
	}
	return gone;
}

/*
 * The trunk's entries, brought to the policy in force: {trunk, vlanId} ->
 * endpoint, NET_FACING, front line, for every endpoint with a VLAN id;
 * every other entry of the trunk goes. Never {trunk, 0}: frames of a VLAN
 * no endpoint has (and untagged ones) find no entry and pass, counted as
 * an unknown interface's - they are not a pod's. A VLAN id two endpoints
 * claim gets no entry either (logged): its frames then reach the pods'
 * own hooks unfiltered by the front line, which is safe, as they decide.
 */
static void trunk_sync(struct sgd *d)
{
	static uint16_t want[4096];   /* ep id + 1; UINT16_MAX: claimed twice */
	int fd = sgbpf_map_fd(d->h, SGBPF_MAP_IFACES);
	unsigned added = 0, changed = 0, removed, failed = 0, n = 0;
	bool log_conflicts = d->trunk_conflict_gen != d->generation;
	struct sgd_log l;

	memset(want, 0, sizeof(want));
	for (size_t i = 0; i < d->n_eps; i++) {
		const struct sgd_ep *ep = &d->eps[i];
		uint16_t v = ep->vlan_id;

		if (log_conflicts && is_trunk(d, ep->ifname))
			sgd_logm(SGD_WARN, "trunk_misnamed", "endpoint %s names the trunk %s as "
				 "its interface; the trunk is only ever attached as the trunk",
				 ep->name, d->cfg->trunk);
		if (!v || v > 4094)
			continue;
		if (want[v] && want[v] != ep->id + 1) {
			if (log_conflicts && want[v] != UINT16_MAX)
				sgd_logm(SGD_ERROR, "trunk_vlan_conflict", "VLAN %u is claimed by "
					 "endpoint %s and another endpoint; no front line for it "
					 "(the pods' own interfaces still judge its traffic): give "
					 "each endpoint its own vlanId", v, ep->name);
			want[v] = UINT16_MAX;
			continue;
		}
		want[v] = (uint16_t)(ep->id + 1);
	}
	for (unsigned v = 1; v < 4096; v++)
		if (want[v] == UINT16_MAX)
			want[v] = 0;
	d->trunk_conflict_gen = d->generation;

	/* Update in place (each entry flips atomically), then prune. */
	for (unsigned v = 1; v < 4096; v++) {
		struct sgbpf_iface_key k = { .ifindex = d->trunk_ifindex, .vlan_id = v };
		struct sgbpf_iface_val cur, nv = { .role = SGBPF_ROLE_NET_FACING,
						   .flags = SGBPF_IFACE_F_FRONT_LINE };
		bool had;

		if (!want[v])
			continue;
		n++;
		nv.ep_id = want[v] - 1u;
		had = !bpf_map_lookup_elem(fd, &k, &cur);
		if (had && !memcmp(&cur, &nv, sizeof(nv)))
			continue;
		if (bpf_map_update_elem(fd, &k, &nv, BPF_ANY)) {
			if (!failed++)
				sgd_logm(SGD_ERROR, "iface_entry_failed", "writing the entry of "
					 "trunk %s VLAN %u failed: %s", d->cfg->trunk, v,
					 strerror(errno));
			d->attach_errors++;
			continue;
		}
		if (had)
			changed++;
		else
			added++;
	}
	/* With the untagged entry a run without --trunk may have left (the
	 * interface matched a glob): it would judge every frame of an unknown
	 * VLAN with full authority. */
	removed = vlan_entries_prune(d, d->trunk_ifindex, want, true);
	if (!added && !changed && !removed && !failed)
		return;
	if (sgd_log_begin(&l, failed ? SGD_ERROR : SGD_INFO, "trunk_vlans")) {
		sgd_log_str(&l, "iface", d->cfg->trunk);
		sgd_log_u64(&l, "ifindex", d->trunk_ifindex);
		sgd_log_u64(&l, "vlans", n - failed);
		sgd_log_u64(&l, "added", added);
		sgd_log_u64(&l, "changed", changed);
		sgd_log_u64(&l, "removed", removed);
		if (failed)
			sgd_log_u64(&l, "failed", failed);
		sgd_log_u64(&l, "generation", d->generation);
		sgd_log_end(&l);
	}
}

/* The trunk went (or was renamed, or came back as another ifindex): its
 * entries and XDP link go. The pods' state stays: their own interfaces
 * hold it, and they judge their traffic alone meanwhile. */
static void trunk_gone(struct sgd *d, const char *why)
{
	int ifindex = d->trunk_ifindex;

	if (!ifindex)
		return;
	vlan_entries_prune(d, ifindex, NULL, false);
	sgd_capture_begin();
	sgbpf_detach(ifindex, d->link_dir);
	sgd_capture_end(SGD_DEBUG, "detach_message");
	log_trunk(SGD_INFO, "trunk_gone", d, ifindex, NULL, 0, why);
	d->trunk_ifindex = 0;
	d->trunk_attached = false;
}

/* The trunk is there as ifindex: entries first (the program passes frames
 * of VLANs it has no entry for), then XDP alone. */
static void trunk_update(struct sgd *d, int ifindex)
{
	int err;

	if (d->trunk_ifindex && d->trunk_ifindex != ifindex)
		trunk_gone(d, "re-created with another ifindex");
	if (d->trunk_ifindex != ifindex) {
		d->trunk_ifindex = ifindex;
		d->trunk_attached = false;
		d->trunk_seen_ns = sgd_now_ns();
	}
	trunk_sync(d);
	if (d->trunk_attached)
		return;
	sgd_capture_begin();
	err = sgbpf_attach_xdp_only(d->h, ifindex, d->link_dir);
	sgd_capture_end(SGD_ERROR, "attach_failed");
	if (err) {
		/* Retried at every sync: say it once per interface. */
		d->attach_errors++;
		if (d->trunk_failed_ifindex != ifindex)
			log_trunk(SGD_ERROR, "trunk_attach_failed", d, ifindex, NULL, 0,
				  strerror(-err));
		d->trunk_failed_ifindex = ifindex;
		return;
	}
	d->trunk_failed_ifindex = 0;
	d->trunk_attached = true;
	log_trunk(SGD_INFO, "trunk_attached", d, ifindex, "since_appeared_us",
		  (sgd_now_ns() - d->trunk_seen_ns) / 1000, "XDP front line, keyed by VLAN id");
}

/* Bring one interface to what the policy in force wants of it. */
void sgd_link_update(struct sgd *d, int ifindex, const char *name)
{
	struct sgd_link *lk = link_find(d, ifindex);
	const struct sgd_ep *ep;
	uint32_t want, was;
	int err;

	if (is_trunk(d, name)) {
		if (lk)     /* an interface we managed, renamed to the trunk's name */
			sgd_link_gone(d, ifindex);
		trunk_update(d, ifindex);
		return;
	}
	if (ifindex == d->trunk_ifindex)
		trunk_gone(d, "renamed");
	if (!lk) {
		lk = link_add(d, ifindex, name);
		if (!lk) {
			sgd_logm(SGD_ERROR, "out_of_memory", "tracking interface %s", name);
			return;
		}
		sgd_logm(SGD_DEBUG, "interface_seen", "%s ifindex %d", name, ifindex);
	} else if (strcmp(lk->name, name)) {
		snprintf(lk->name, sizeof(lk->name), "%s", name);
	}

	/*
	 * An interface once managed stays managed until it disappears: when
	 * no endpoint names it any more (its endpoint left the policy, was
	 * renamed, or names another interface now) it is kept attached, fail
	 * closed, never detached - a pod interface without programs would run
	 * unfiltered. "Once managed" covers earlier sgbpfd runs: their ifaces
	 * entry is pinned.
	 */
	ep = sgd_ep_by_ifname(d, name);
	if (ep)
		want = ep->id;
	else if (glob_match(d, name))
		want = SGD_EP_UNASSIGNED;
	else if (lk->ep_id != SGD_NONE || pinned_entry(d, ifindex))
		want = SGD_EP_UNASSIGNED;
	else
		return;
	if (lk->ep_id == want && lk->attached)
		return;
	was = lk->ep_id;

	/* Entry before program: the program passes packets of interfaces
	 * it has no entry for. */
	sgd_capture_begin();
	err = sgbpf_iface_set(d->h, ifindex, 0, want, d->cfg->role);
	sgd_capture_end(SGD_ERROR, "iface_entry_failed");
	if (err) {
		d->attach_errors++;
		return;
	}
	if (lk->ep_id != want)
		lk->enforced = false;
	lk->ep_id = want;
	if (!lk->attached) {
		sgd_capture_begin();
		err = sgbpf_attach(d->h, ifindex, d->cfg->attach, d->link_dir);
		sgd_capture_end(SGD_ERROR, "attach_failed");
		if (err) {
			d->attach_errors++;
			log_link(SGD_ERROR, "attach_failed", d, lk, "error", strerror(-err));
			return;
		}
		lk->attached = true;
		log_link(SGD_INFO, "attached", d, lk, "mode",
			 sgbpf_attach_mode_name(d->cfg->attach));
	}
	if (want == SGD_EP_UNASSIGNED) {
		if (was == SGD_EP_UNASSIGNED)
			return;     /* only re-attached */
		if (glob_match(d, name) && was == SGD_NONE)
			log_link(SGD_INFO, "fail_closed", d, lk, "msg",
				 "no endpoint names this interface yet: new flows are dropped");
		else
			log_link(SGD_WARN, "fail_closed", d, lk, "msg",
				 "no endpoint of the policy in force names this interface any "
				 "more: kept attached, new flows are dropped until it goes");
		return;
	}
	if (!lk->enforced) {
		struct sgd_log l;

		lk->enforced = true;
		if (sgd_log_begin(&l, SGD_INFO, "enforced")) {
			sgd_log_str(&l, "iface", lk->name);
			sgd_log_u64(&l, "ifindex", ifindex);
			sgd_log_str(&l, "endpoint", ep->name);
			sgd_log_u64(&l, "ep_id", want);
			sgd_log_ms(&l, "since_appeared_ms", sgd_now_ns() - lk->seen_ns);
			sgd_log_u64(&l, "generation", d->generation);
			sgd_log_end(&l);
		}
	}
}

void sgd_link_gone(struct sgd *d, int ifindex)
{
	struct sgd_link *lk = link_find(d, ifindex);
	uint32_t id;

	if (ifindex == d->trunk_ifindex)
		trunk_gone(d, "interface gone");
	if (!lk)
		return;
	id = lk->ep_id;
	if (id != SGD_NONE) {
		sgd_capture_begin();
		/* TC filters went with the device; the pinned XDP link stays
		 * (defunct) until unpinned. */
		sgbpf_detach(ifindex, d->link_dir);
		sgbpf_iface_del(d->h, ifindex, 0);
		sgd_capture_end(SGD_DEBUG, "detach_message");
		log_link(SGD_INFO, "interface_gone", d, lk, NULL, NULL);
		if (!ep_has_link(d, id, ifindex))
			forget_ep(d, id, "interface gone");
	}
	*lk = d->links[--d->n_links];
}

void sgd_ep_removed(struct sgd *d, uint32_t ep_id, const char *name)
{
	sgd_logm(SGD_INFO, "endpoint_removed", "%s (ep_id %u) left the policy", name, ep_id);
	for (size_t i = 0; i < d->n_links; i++) {
		struct sgd_link *lk = &d->links[i];

		int err;

		if (lk->ep_id != ep_id)
			continue;
		/*
		 * The pod may still be running: keep its interface attached
		 * and closed, never open, whether or not it matches
		 * --iface-glob, until the interface itself goes. Should the
		 * entry update fail, it still names ep_id, which has no
		 * ep_config in the slot now in force: closed too.
		 */
		sgd_capture_begin();
		err = sgbpf_iface_set(d->h, lk->ifindex, 0, SGD_EP_UNASSIGNED, d->cfg->role);
		sgd_capture_end(SGD_ERROR, "iface_entry_failed");
		lk->ep_id = SGD_EP_UNASSIGNED;
		lk->enforced = false;
		log_link(err ? SGD_ERROR : SGD_INFO, "fail_closed", d, lk, "msg",
			 "its endpoint left the policy: kept attached, new flows are dropped "
			 "until the interface goes");
	}
	forget_ep(d, ep_id, "endpoint removed");
}

/* ---- netlink ------------------------------------------------------------ */

static void on_link(struct nl_cache *cache, struct nl_object *obj, int action, void *arg)
{
	struct rtnl_link *link = (struct rtnl_link *)obj;
	struct sgd *d = arg;
	const char *name = rtnl_link_get_name(link);
	int ifindex = rtnl_link_get_ifindex(link);

	if (ifindex <= 0)
		return;
	if (action == NL_ACT_DEL)
		sgd_link_gone(d, ifindex);
	else if (name)
		sgd_link_update(d, ifindex, name);
	/* The node interface may be the one that changed (gone, new MAC), or
	 * the one steering still waits for: re-resolve the target then, not
	 * on every pod interface's event (each costs an address dump). Not
	 * for the initial dump (cache NULL), before any policy named the
	 * node's addresses. */
	if (cache && d->probe_target_known &&
	    (!d->probe_target.ifindex || ifindex == (int)d->probe_target.ifindex))
		sgd_probe_target_refresh(d, NULL);
}

static void on_cached(struct nl_object *obj, void *arg)
{
	on_link(NULL, obj, NL_ACT_NEW, arg);
}

int sgd_links_open(struct sgd *d)
{
	struct nl_cache_mngr *mngr = NULL;
	struct nl_cache *cache = NULL;
	int err;

	err = nl_cache_mngr_alloc(NULL, NETLINK_ROUTE, NL_AUTO_PROVIDE, &mngr);
	if (!err)
		err = nl_cache_mngr_add(mngr, "route/link", on_link, d, &cache);
	if (err) {
		sgd_logm(SGD_ERROR, "netlink_failed", "subscribing to link notifications failed: "
			 "%s", nl_geterror(err));
		if (mngr)
			nl_cache_mngr_free(mngr);
		return -EIO;
	}
	d->nl_mngr = mngr;
	d->nl_cache = cache;
	return 0;
}

void sgd_links_close(struct sgd *d)
{
	if (d->nl_mngr)
		nl_cache_mngr_free(d->nl_mngr);
	d->nl_mngr = NULL;
	d->nl_cache = NULL;
}

int sgd_links_fd(const struct sgd *d)
{
	return d->nl_mngr ? nl_cache_mngr_get_fd(d->nl_mngr) : -1;
}

void sgd_links_ready(struct sgd *d)
{
	int err = nl_cache_mngr_data_ready(d->nl_mngr);

	if (err >= 0)
		return;
	/* Lost notifications (buffer overrun) or a broken socket: start
	 * over from a fresh dump and reconcile against it. */
	sgd_logm(SGD_WARN, "netlink_resync", "link notifications failed (%s); resyncing",
		 nl_geterror(err));
	sgd_links_close(d);
	if (sgd_links_open(d))
		return;
	sgd_reconcile(d);
}

void sgd_links_sync_all(struct sgd *d)
{
	if (d->nl_cache)
		nl_cache_foreach(d->nl_cache, on_cached, d);
}

/* ---- reconcile ---------------------------------------------------------- */

/* Collect which endpoint ids own fragment or conntrack entries. */
static void frag_ids(int fd, uint8_t *present)
{
	struct sgbpf_frag_key a, b, *prev = NULL, *cur = &a;
	size_t steps = 0;

	while (steps++ < 4u * SGBPF_FRAG_MAX && !bpf_map_get_next_key(fd, prev, cur)) {
		if (cur->ep_id < SGBPF_MAX_ENDPOINTS)
			present[cur->ep_id] = 1;
		prev = cur;
		cur = cur == &a ? &b : &a;
	}
}

static int ct_id(enum sgbpf_ct_table t, const struct sgbpf_ct_key *k,
		 const struct sgbpf_ct_val *v, void *present)
{
	if (k->ep_id < SGBPF_MAX_ENDPOINTS)
		((uint8_t *)present)[k->ep_id] = 1;
	return 0;
}

static void reconcile_ifaces(struct sgd *d)
{
	int fd = sgbpf_map_fd(d->h, SGBPF_MAP_IFACES);
	struct sgbpf_iface_key keys[SGBPF_MAX_IFACES], k, *prev = NULL;
	size_t n = 0;

	while (n < SGBPF_MAX_IFACES && !bpf_map_get_next_key(fd, prev, &k)) {
		keys[n] = k;
		prev = &keys[n++];
	}
	for (size_t i = 0; i < n; i++) {
		struct sgd_link *lk = link_find(d, keys[i].ifindex);
		struct sgbpf_iface_val v;

		/* The trunk's entries are trunk_sync's. */
		if (d->trunk_ifindex && (int)keys[i].ifindex == d->trunk_ifindex)
			continue;
		if (bpf_map_lookup_elem(fd, &keys[i], &v))
			continue;
		if (lk && lk->ep_id != SGD_NONE && keys[i].vlan_id == 0) {
			if (v.ep_id != lk->ep_id)
				sgbpf_iface_set(d->h, lk->ifindex, 0, lk->ep_id, d->cfg->role);
			continue;
		}
		/* An entry for an interface we don't manage (gone while we
		 * were down, or no longer wanted). */
		bpf_map_delete_elem(fd, &keys[i]);
		sgd_logm(SGD_INFO, "stale_iface_removed", "ifindex %u vlan %u -> ep_id %u",
			 keys[i].ifindex, keys[i].vlan_id, v.ep_id);
		if (!lk || lk->ep_id == SGD_NONE)
			sgbpf_detach(keys[i].ifindex, d->link_dir);
		/* A trunk's entry (a trunk gone while we were down, or no
		 * --trunk any more) held no state of the pod's. */
		if (keys[i].vlan_id == 0 && v.ep_id < SGD_EP_UNASSIGNED &&
		    !ep_has_link(d, v.ep_id, -1))
			forget_ep(d, v.ep_id, "its interface is gone");
	}
}

static void reconcile_xdp_links(struct sgd *d)
{
	DIR *dp = opendir(d->link_dir);
	struct dirent *de;

	if (!dp)
		return;
	while ((de = readdir(dp))) {
		struct sgd_link *lk;
		int ifindex;

		if (sscanf(de->d_name, "xdp-%d", &ifindex) != 1)
			continue;
		if (ifindex == d->trunk_ifindex && d->trunk_attached)
			continue;
		lk = link_find(d, ifindex);
		if (lk && lk->ep_id != SGD_NONE && d->cfg->attach == SGBPF_ATTACH_XDP)
			continue;
		/* Not ours to keep: the interface is gone or unmanaged. */
		sgbpf_detach(ifindex, d->link_dir);
		sgd_logm(SGD_INFO, "stale_xdp_link_removed", "ifindex %d", ifindex);
	}
	closedir(dp);
}

void sgd_reconcile(struct sgd *d)
{
	uint8_t present[SGBPF_MAX_ENDPOINTS] = { 0 };
	struct sgbpf_ct_maps ct;
	char name[IF_NAMESIZE];
	uint64_t t0 = sgd_now_ns();
	struct sgd_log l;

	/* Interfaces that vanished without a notification we saw. */
	for (size_t i = 0; i < d->n_links;) {
		if (!if_indextoname(d->links[i].ifindex, name) && errno == ENXIO) {
			sgd_link_gone(d, d->links[i].ifindex);
			continue;
		}
		i++;
	}
	if (d->trunk_ifindex && !if_indextoname(d->trunk_ifindex, name) && errno == ENXIO)
		trunk_gone(d, "interface gone");
	/* Its XDP link taken away behind our back (the pin removed). */
	if (d->trunk_attached && !sgbpf_xdp_attached(d->trunk_ifindex, d->link_dir)) {
		log_trunk(SGD_WARN, "reattach", d, d->trunk_ifindex, NULL, 0,
			  "the trunk's XDP link was removed");
		d->trunk_attached = false;
	}
	sgd_links_sync_all(d);
	/* Programs taken off behind our back (e.g. tc qdisc del). */
	for (size_t i = 0; i < d->n_links; i++) {
		struct sgd_link *lk = &d->links[i];

		if (lk->ep_id != SGD_NONE && lk->attached && !sgbpf_attached(lk->ifindex)) {
			log_link(SGD_WARN, "reattach", d, lk, "msg", "sgbpf's programs were removed");
			lk->attached = false;
			sgd_link_update(d, lk->ifindex, lk->name);
		}
	}
	reconcile_ifaces(d);
	reconcile_xdp_links(d);
	/* State of ids no longer in force (a crash between a swap and its
	 * cleanup, or endpoints removed while we were down). */
	sgbpf_ct_maps_of(d->h, &ct);
	for (int t = 0; t < SGBPF_CT_TABLE_MAX; t++)
		sgbpf_ct_foreach(&ct, t, SGBPF_CT_WALK_KEYS, ct_id, present);
	frag_ids(sgbpf_map_fd(d->h, SGBPF_MAP_FRAGS), present);
	for (uint32_t id = 0; id < SGBPF_MAX_ENDPOINTS; id++)
		if (present[id] && !ep_in_force(d, id))
			forget_ep(d, id, "endpoint id not in force");
	if (sgd_log_begin(&l, SGD_DEBUG, "reconciled")) {
		sgd_log_u64(&l, "links", d->n_links);
		sgd_log_u64(&l, "endpoints", d->n_eps);
		sgd_log_ms(&l, "took_ms", sgd_now_ns() - t0);
		sgd_log_end(&l);
	}
}

/* Delete every conntrack and fragment entry (all endpoints). */
void sgd_forget_all_state(struct sgd *d)
{
	int fd = sgbpf_map_fd(d->h, SGBPF_MAP_FRAGS);
	struct sgbpf_frag_key key;
	struct sgbpf_ct_maps ct;
	size_t n = 0, steps = 0;

	sgbpf_ct_maps_of(d->h, &ct);
	sgbpf_ct_delete_if(&ct, NULL, NULL, &n);
	/* Always take the first key: each deletion makes the next first. */
	while (steps++ < 4u * SGBPF_FRAG_MAX && !bpf_map_get_next_key(fd, NULL, &key))
		if (!bpf_map_delete_elem(fd, &key))
			n++;
	sgd_logm(SGD_WARN, "all_state_deleted", "%zu conntrack and fragment entries deleted", n);
}
