// SPDX-License-Identifier: BSD-2-Clause
/*
 * `sgbpf ct flush` with a filter on a big table, run as the CLI against
 * pinned maps: the matching keys are collected in one walk and deleted
 * after it. Deleting inside the walk restarts it from the first key at
 * every delete (a vanished key has no next key), which made a filtered
 * flush quadratic: ~MATCH/2 full walks here, and with a million entries
 * the walk's step limit stopped it midway.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <bpf/bpf.h>
#include <cjson/cJSON.h>

#include "ct.h"
#include "harness.h"
#include "pin.h"
#include "../lib/testlib.h"

#define FILL  50000     /* entries in the tables                        */
#define EVERY 50        /* every 50th entry is endpoint ns/a's: 1000    */
#define MATCH (FILL / EVERY)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Entry i: ns/a's when i % EVERY == 0, else ns/b's; every 4th one an IPv6
 * flow in the new table, the rest IPv4 flows in the est table, so the
 * flush crosses both families and both tables. */
static void fill_key(struct sgbpf_ct_key *k, uint32_t i, uint32_t a, uint32_t b)
{
	uint32_t remote = htonl(0x0a640000u + i);   /* 10.100.0.0 + i */

	memset(k, 0, sizeof(*k));
	k->ep_id = i % EVERY ? b : a;
	k->family = i % 4 == 3 ? V6 : V4;
	k->proto = i % 8 == 1 ? 17 : 6;
	if (k->family == V6) {
		k->local_addr[0] = 0xfd;
		k->remote_addr[0] = 0xfd;
		k->remote_addr[1] = 0x64;
		memcpy(k->remote_addr + 12, &remote, 4);
	} else {
		k->local_addr[0] = 10;
		memcpy(k->remote_addr, &remote, 4);
	}
	k->local_port = htons(80);
	k->remote_port = htons(40000 + i % 20000);
}

static int fill(const struct sgbpf_ct_maps *m, uint32_t a, uint32_t b)
{
	struct sgbpf_ct_key *keys[SGBPF_CT_TABLE_MAX];
	struct sgbpf_ct_val *vals[SGBPF_CT_TABLE_MAX];
	uint32_t n[SGBPF_CT_TABLE_MAX] = { 0 };
	int err = 0;

	for (int t = 0; t < SGBPF_CT_TABLE_MAX; t++) {
		keys[t] = calloc(FILL, sizeof(*keys[t]));
		vals[t] = calloc(FILL, sizeof(*vals[t]));
		if (!keys[t] || !vals[t])
			err = -ENOMEM;
	}
	for (uint32_t i = 0; i < FILL && !err; i++) {
		struct sgbpf_ct_key k;
		enum sgbpf_ct_table t;

		fill_key(&k, i, a, b);
		t = k.family == V6 ? SGBPF_CT_TABLE_NEW : SGBPF_CT_TABLE_EST;
		vals[t][n[t]].state = t == SGBPF_CT_TABLE_EST ? SGBPF_CT_ESTABLISHED : SGBPF_CT_NEW;
		keys[t][n[t]++] = k;
	}
	for (int t = 0; t < SGBPF_CT_TABLE_MAX && !err; t++)
		err = sgbpf_ct_update_batch(m, t, keys[t], vals[t], &n[t]);
	for (int t = 0; t < SGBPF_CT_TABLE_MAX; t++) {
		free(keys[t]);
		free(vals[t]);
	}
	return err;
}

/* Run build/sgbpf (next to build/tests/test_bpf) with args; its stdout in
 * out (NUL-terminated). Returns the exit status, -1 when it did not exit. */
static int run_sgbpf(const char *args, char *out, size_t len)
{
	char exe[4096], cmd[8192];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t got = 0;
	FILE *f;
	int st;

	if (n < 0)
		return -1;
	exe[n] = 0;
	snprintf(cmd, sizeof(cmd), "'%s/../sgbpf' %s", dirname(exe), args);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (got + 1 < len && (n = fread(out + got, 1, len - 1 - got, f)) > 0)
		got += n;
	out[got] = 0;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct ep_count {
	uint32_t ep;
	long n;
};

static int count_ep(enum sgbpf_ct_table t, const struct sgbpf_ct_key *k,
		    const struct sgbpf_ct_val *v, void *ctx)
{
	struct ep_count *c = ctx;

	c->n += k->ep_id == c->ep;
	return 0;
}

static long entries_of(const struct sgbpf_ct_maps *m, uint32_t ep)
{
	struct ep_count c = { .ep = ep };

	for (int t = 0; t < SGBPF_CT_TABLE_MAX; t++)
		if (sgbpf_ct_foreach(m, t, SGBPF_CT_WALK_KEYS, count_ep, &c))
			return -1;
	return c.n;
}

/* Pinned datapath under pin with endpoints ns/a and ns/b in force and
 * named in ep_records, as sgbpfd leaves it. */
static int setup(const char *pin, struct sgbpf **h, uint32_t *a, uint32_t *b)
{
	struct sgbpf_ep_record *recs = calloc(SGBPF_MAX_ENDPOINTS, sizeof(*recs));
	struct sgbpf_state st;
	struct sg_compiled c = { 0 };
	struct sg_policy p;
	struct sg_diags d;
	uint32_t zero = 0;
	int err, rfd = -1;

	tp_init(&p);
	tp_in(&p, "sg-a", 6, 80, 80, "10.0.0.0/8");
	tp_endpoint(&p, "ns/a", "sg-a", A4 "," A6, NULL);
	tp_endpoint(&p, "ns/b", "sg-a", B4 "," B6, NULL);
	sg_diags_init(&d);
	err = recs ? sg_compile(&p, NULL, &c, &d) : -ENOMEM;
	sg_diags_free(&d);
	if (!err)
		err = sgbpf_open_pinned(pin, 0, h);
	if (!err)
		err = sgbpf_apply(*h, &c, 1, NULL);
	if (!err && bpf_map_lookup_elem(sgbpf_map_fd(*h, SGBPF_MAP_STATE), &zero, &st))
		err = -errno;
	if (!err) {
		for (size_t i = 0; i < c.n_endpoints; i++) {
			struct sgbpf_ep_record *r = &recs[c.endpoints[i].ep_id];

			r->generation = 1;
			r->flags = SGBPF_EP_REC_USED;
			snprintf(r->name, sizeof(r->name), "%s", c.endpoints[i].src->name);
			if (!strcmp(r->name, "ns/a"))
				*a = c.endpoints[i].ep_id;
			else
				*b = c.endpoints[i].ep_id;
		}
		rfd = sgbpf_ep_records_open(pin);
		err = rfd < 0 ? rfd : sgbpf_ep_records_write(rfd, st.active_slot & 1, recs);
	}
	if (rfd >= 0)
		close(rfd);
	free(recs);
	sg_compiled_free(&c);
	sg_policy_free(&p);
	return err;
}

static void test_flush_filtered_big_table(void)
{
	char pin[64], args[256], out[4096];
	struct sgbpf_ct_maps m;
	struct sgbpf *h = NULL;
	uint64_t t0, walk_ns, flush_ns, bound_ns;
	uint32_t a = 0, b = 0;
	cJSON *doc;
	int rc;

	snprintf(pin, sizeof(pin), "/sys/fs/bpf/sgbpf-test-ctflush-%d", (int)getpid());
	sgbpf_pin_remove(pin);
	if (setup(pin, &h, &a, &b)) {
		CU_FAIL("setting up the pinned datapath failed");
		goto out;
	}
	sgbpf_ct_maps_of(h, &m);
	CU_ASSERT_EQUAL_FATAL(fill(&m, a, b), 0);
	/* One walk of the whole table: what a linear flush costs, give or
	 * take; the quadratic one costs ~MATCH/2 of them. */
	t0 = now_ns();
	CU_ASSERT_EQUAL_FATAL(entries_of(&m, a), MATCH);
	walk_ns = now_ns() - t0;
	CU_ASSERT_EQUAL(entries_of(&m, b), FILL - MATCH);

	snprintf(args, sizeof(args), "ct flush --pin-dir '%s' --endpoint ns/a -o json", pin);
	t0 = now_ns();
	rc = run_sgbpf(args, out, sizeof(out));
	flush_ns = now_ns() - t0;
	CU_ASSERT_EQUAL(rc, 0);
	doc = cJSON_Parse(out);
	th_check(doc != NULL, "ct flush -o json printed no JSON: %s", out);
	if (doc) {
		th_check(cJSON_GetObjectItem(doc, "flushed") &&
			 cJSON_GetObjectItem(doc, "flushed")->valuedouble == MATCH,
			 "ct flush --endpoint ns/a: %s, want flushed %d", out, MATCH);
		th_check(cJSON_GetObjectItem(doc, "alreadyGone") &&
			 cJSON_GetObjectItem(doc, "alreadyGone")->valuedouble == 0,
			 "ct flush --endpoint ns/a: %s, want alreadyGone 0", out);
		cJSON_Delete(doc);
	}
	CU_ASSERT_EQUAL(entries_of(&m, a), 0);
	CU_ASSERT_EQUAL(entries_of(&m, b), FILL - MATCH);
	/* Linear: a walk, the deletes and the process start. 40 walks is far
	 * above that and far below the ~500 the quadratic flush takes. */
	bound_ns = 500000000ull + 40 * walk_ns;
	th_check(flush_ns < bound_ns, "ct flush of %d of %d entries took %.2fs, over %.2fs "
		 "(one walk of the table: %.3fs): deleting inside the walk again?", MATCH, FILL,
		 flush_ns / 1e9, bound_ns / 1e9, walk_ns / 1e9);

	/* The text output, with an address and a protocol filter: the IPv4
	 * tcp entries among 10.100.0.1..31 (all ns/b's; 0 was ns/a's). */
	snprintf(args, sizeof(args), "ct flush --pin-dir '%s' --addr 10.100.0.0/27 --proto tcp",
		 pin);
	rc = run_sgbpf(args, out, sizeof(out));
	CU_ASSERT_EQUAL(rc, 0);
	{
		long want = 0;

		for (uint32_t i = 1; i < 32; i++) {
			struct sgbpf_ct_key k;

			fill_key(&k, i, a, b);
			want += k.family == V4 && k.proto == 6 && k.ep_id == b;
		}
		snprintf(args, sizeof(args), "flushed %ld conntrack entries\n", want);
		th_check(!strcmp(out, args), "ct flush --addr 10.100.0.0/27 --proto tcp printed "
			 "'%s', want '%s'", out, args);
		CU_ASSERT_EQUAL(entries_of(&m, b), FILL - MATCH - want);
	}
out:
	sgbpf_close(h);
	CU_ASSERT_EQUAL(sgbpf_pin_remove(pin), 0);
}

static CU_TestInfo ct_flush_tests[] = {
	{ "flush_filtered_big_table", test_flush_filtered_big_table },
	CU_TEST_INFO_NULL,
};

SGT_SUITE("bpf-ct-flush", NULL, NULL, ct_flush_tests);
