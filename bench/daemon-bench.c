// SPDX-License-Identifier: BSD-2-Clause
/*
 * daemon-bench: time from a policy file changing to enforcement, for E
 * endpoints x R rules each (default 100 x 1000), and sgbpfd's memory.
 *
 *   (1) in process, the steps sgbpfd takes per change: read the directory
 *       (sg_policy_load_dir), compile (sg_compile), swap (sgbpf_apply:
 *       bring the inactive slot up to date + flip + RCU grace period), and
 *       how many slotted entries the swap wrote and deleted;
 *   (2) the real daemon: build/sgbpfd watching the directory; each round
 *       renames a changed groups file in (as editors do) and waits for the
 *       daemon's policy_applied log line; reports the wall time from the
 *       rename to that line and the daemon's own compile_ms/swap_ms, then
 *       VmRSS / VmHWM of the daemon;
 *   (3) packets through those swaps: while (2) runs, a thread sends frames
 *       of endpoint bench/pod-0 through the daemon's pinned TC programs
 *       (BPF_PROG_TEST_RUN) in a loop: an established TCP flow, new UDP
 *       flows and new TCP flows that a rule no round changes allows, and a
 *       SYN no rule allows. Any allowed frame dropped is lost, any denied
 *       frame passed is leaked: both must be 0.
 *
 * Every endpoint has its own security group of R distinct rules (v4 and v6
 * CIDRs, TCP/UDP port ranges, ICMP), the worst case for the tables. The
 * daemon runs in this network namespace with a private pin directory and
 * an interface glob that matches nothing, so it attaches nowhere.
 * -s N gives the endpoints N distinct SGs instead (endpoint i gets SG i % N).
 * Each round changes one rule's port; -f changes every rule instead (ports
 * and addresses shift), so no table entry survives from round to round.
 * Needs root (BPF). Usage: daemon-bench [-e ENDPOINTS] [-r RULES] [-n ROUNDS] [-s N] [-f]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>

#include "compile.h"
#include "loader.h"
#include "packet.h"
#include "parse.h"
#include "pin.h"

static unsigned opt_eps = 100, opt_rules = 1000, opt_rounds = 7;
static unsigned opt_sgs;         /* distinct SGs; 0 = one per endpoint */
static bool opt_full;            /* every rule changes each round */

static unsigned n_sgs(void)
{
	return opt_sgs && opt_sgs < opt_eps ? opt_sgs : opt_eps;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n ? v[n / 2] : 0;
}

/* groups.json: one SG per endpoint, R rules each; variant shifts one port
 * (with -f: every port and address) so each round is a real change. */
static int write_groups(const char *dir, unsigned variant)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.groups.json.tmp", dir);
	snprintf(path, sizeof(path), "%s/groups.json", dir);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "{\"SecurityGroups\":[\n");
	for (unsigned e = 0; e < n_sgs(); e++) {
		fprintf(f, "%s{\"GroupId\":\"sg-%017x\",\"IpPermissions\":[", e ? ",\n" : "", e + 1);
		for (unsigned r = 0; r < opt_rules; r++) {
			unsigned kind = r % 4, port = 1000 + (r * 7 + e) % 60000;
			unsigned a = opt_full ? variant : 0;    /* address shift */
			const char *sep = r ? "," : "";

			if ((e == 0 && r == 0) || opt_full)
				port += variant;
			if (kind == 0)
				fprintf(f, "%s{\"IpProtocol\":\"tcp\",\"FromPort\":%u,\"ToPort\":%u,"
					"\"IpRanges\":[{\"CidrIp\":\"10.%u.%u.0/24\"}]}", sep, port,
					port + r % 16, (r / 256 + a) % 256, r % 256);
			else if (kind == 1)
				fprintf(f, "%s{\"IpProtocol\":\"udp\",\"FromPort\":%u,\"ToPort\":%u,"
					"\"IpRanges\":[{\"CidrIp\":\"172.%u.%u.%u/32\"}]}", sep, port,
					port, 16 + r % 16, (e + a) % 256, r % 256);
			else if (kind == 2)
				fprintf(f, "%s{\"IpProtocol\":\"tcp\",\"FromPort\":%u,\"ToPort\":%u,"
					"\"Ipv6Ranges\":[{\"CidrIpv6\":\"2600:1f14:%x:%x::/64\"}]}", sep,
					port, port, (e + a) % 0x10000, r);
			else
				fprintf(f, "%s{\"IpProtocol\":\"icmp\",\"FromPort\":8,\"ToPort\":-1,"
					"\"IpRanges\":[{\"CidrIp\":\"192.168.%u.%u/32\"}]}", sep,
					(e + a) % 256, r % 256);
		}
		fprintf(f, "],\"IpPermissionsEgress\":[{\"IpProtocol\":\"-1\",\"IpRanges\":"
			"[{\"CidrIp\":\"0.0.0.0/0\"}]}]}");
	}
	fprintf(f, "\n]}\n");
	if (fclose(f))
		return -errno;
	return rename(tmp, path) ? -errno : 0;
}

static int write_endpoints(const char *dir)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/endpoints.json", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "{\"node\":{\"ipv4\":[\"10.255.0.1\"]},\"endpoints\":[\n");
	for (unsigned e = 0; e < opt_eps; e++)
		fprintf(f, "%s{\"name\":\"bench/pod-%u\",\"interface\":\"sgbench%u\","
			"\"ipv4\":[\"10.254.%u.%u\"],\"ipv6\":[\"fd00:254::%x\"],"
			"\"securityGroups\":[\"sg-%017x\"]}", e ? ",\n" : "", e, e, e / 250,
			e % 250 + 1, e + 1, e % n_sgs() + 1);
	fprintf(f, "]}\n");
	return fclose(f) ? -errno : 0;
}

static int in_process(const char *dir)
{
	double load[32], comp[32], swap[32], flip[32], clean[32], total[32], wr[32], del[32];
	struct sg_ep_ids prev = { 0 };
	struct sgbpf *h;
	size_t rules = 0, prefixes = 0, blocks = 0;
	unsigned n = opt_rounds < 32 ? opt_rounds : 32;
	int err;

	err = sgbpf_open(&h);
	if (err)
		return err;
	for (unsigned i = 0; i < n; i++) {
		struct sgbpf_swap_stats st;
		struct sg_diags diags;
		struct sg_policy pol;
		struct sg_compiled c;
		double t0, t1, t2, t3;

		write_groups(dir, i + 1);
		sg_diags_init(&diags);
		sg_policy_init(&pol);
		t0 = now_ms();
		err = sg_policy_load_dir(&pol, dir, &diags);
		t1 = now_ms();
		if (!err)
			err = sg_compile(&pol, i ? &prev : NULL, &c, &diags);
		t2 = now_ms();
		if (err) {
			sg_diags_print(&diags, stderr);
			sg_policy_free(&pol);
			sg_diags_free(&diags);
			break;
		}
		if (!i) {
			/* Later rounds keep these ids, as the daemon does. */
			prev.n = c.n_endpoints;
			prev.names = calloc(prev.n, sizeof(char *));
			prev.ids = calloc(prev.n, sizeof(uint32_t));
			for (size_t k = 0; prev.names && prev.ids && k < prev.n; k++) {
				prev.names[k] = strdup(c.endpoints[k].src->name);
				prev.ids[k] = c.endpoints[k].ep_id;
			}
		}
		err = sgbpf_apply(h, &c, i + 1, &st);
		t3 = now_ms();
		rules = c.n_rules;
		prefixes = c.n_rule_entries;
		blocks = c.n_port_entries;
		sg_compiled_free(&c);
		sg_policy_free(&pol);
		sg_diags_free(&diags);
		if (err)
			break;
		load[i] = t1 - t0;
		comp[i] = t2 - t1;
		swap[i] = (st.write_ns + st.flip_ns) / 1e6;
		flip[i] = st.flip_ns / 1e6;
		clean[i] = st.cleanup_ns / 1e6;
		wr[i] = st.entries_written;
		del[i] = st.entries_deleted;
		total[i] = t1 - t0 + t2 - t1 + swap[i];
		(void)t3;
	}
	for (size_t k = 0; k < prev.n && prev.names; k++)
		free(prev.names[k]);
	free(prev.names);
	free(prev.ids);
	sgbpf_close(h);
	if (err)
		return err;
	printf("policy: %u endpoints x %u rules (%u distinct SGs) = %zu compiled rules, "
	       "%zu rule-trie entries, %zu port blocks\n", opt_eps, opt_rules, n_sgs(), rules,
	       prefixes, blocks);
	printf("(1) in process, median of %u changes:\n", n);
	printf("    read+parse dir   %8.1f ms\n", median(load, n));
	printf("    compile          %8.1f ms\n", median(comp, n));
	printf("    swap (write+flip)%8.1f ms\n", median(swap, n));
	printf("      of which flip  %8.1f ms   (state update + RCU grace period)\n",
	       median(flip, n));
	printf("    = to enforcement %8.1f ms   (target < 100 ms)\n", median(total, n));
	printf("    old-slot cleanup %8.1f ms   (after enforcement)\n", median(clean, n));
	printf("    entries written  %8.0f, deleted %.0f (inactive slot brought up to date)\n",
	       median(wr, n), median(del, n));
	return 0;
}

static long status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			kb = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* Read log lines from fd until one contains want (or timeout). */
static int wait_line(int fd, const char *want, char *out, size_t len, int timeout_ms)
{
	static char buf[1 << 16];
	static size_t have;
	double end = now_ms() + timeout_ms;

	for (;;) {
		char *nl;

		while ((nl = memchr(buf, '\n', have))) {
			size_t l = nl - buf + 1;
			bool hit;

			*nl = 0;
			hit = strstr(buf, want) != NULL;
			if (hit)
				snprintf(out, len, "%s", buf);
			memmove(buf, buf + l, have - l);
			have -= l;
			if (hit)
				return 0;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(end - now_ms());
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -ETIMEDOUT;
		r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r <= 0)
			return -EPIPE;
		have += r;
	}
}

static double field(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? atof(p + strlen(key)) : -1;
}

/*
 * (3) Traffic through the swaps. Endpoint bench/pod-0 (ep_id 0, the first
 * endpoint of the first compile) is mapped to {lo, VLAN 1}, NET_FACING, so
 * TC ingress is its inbound and TC egress its outbound. Its SG's rule 4
 * (tcp 1028-1032 from 10.0.4.0/24) and rule 1 (udp 1007 from 172.17.0.1)
 * are the same in every round; only rule 0's port moves.
 */
struct traffic {
	int ingress, egress;             /* pinned program fds            */
	volatile bool stop;
	int err;
	unsigned long est, est_lost, udp, udp_lost, tcp, tcp_lost, deny, deny_leaked;
};

static int run_frame(int prog, struct sg_pkt_spec *s, bool *pass)
{
	uint8_t buf[SG_PKT_MAX];
	int n;
	LIBBPF_OPTS(bpf_test_run_opts, o);

	s->vlan_id = 1;
	n = sg_pkt_build(s, buf, sizeof(buf));
	if (n < 0)
		return n;
	o.data_in = buf;
	o.data_size_in = (uint32_t)n;
	o.repeat = 1;
	if (bpf_prog_test_run_opts(prog, &o))
		return -errno;
	*pass = o.retval == TC_ACT_OK;
	return 0;
}

static void tcp_spec(struct sg_pkt_spec *s, const char *src, const char *dst, uint16_t sp,
		     uint16_t dp, uint8_t flags)
{
	memset(s, 0, sizeof(*s));
	s->family = SGBPF_AF_V4;
	s->proto = 6;
	inet_pton(AF_INET, src, s->src);
	inet_pton(AF_INET, dst, s->dst);
	s->sport = sp;
	s->dport = dp;
	s->tcp_flags = flags;
}

#define POD0 "10.254.0.1"
#define TCP_OK_PORT 1028

static void *traffic_main(void *arg)
{
	struct traffic *t = arg;
	struct sg_pkt_spec s;
	uint32_t i = 0;
	bool pass;
	int err;

	/* The established flow: handshake once (the daemon's first policy). */
	tcp_spec(&s, "10.0.4.9", POD0, 40000, TCP_OK_PORT, SG_TCP_SYN);
	s.seq = 100;
	err = run_frame(t->ingress, &s, &pass);
	if (!err && pass) {
		tcp_spec(&s, POD0, "10.0.4.9", TCP_OK_PORT, 40000, SG_TCP_SYN | SG_TCP_ACK);
		s.seq = 900;
		s.ack = 101;
		err = run_frame(t->egress, &s, &pass);
	}
	if (!err && !pass)
		err = -EPROTO;
	while (!err && !t->stop) {
		uint16_t sp = (uint16_t)(20000 + i % 40000);

		tcp_spec(&s, "10.0.4.9", POD0, 40000, TCP_OK_PORT, SG_TCP_ACK);
		s.seq = 101;
		s.ack = 901;
		if ((err = run_frame(t->ingress, &s, &pass)))
			break;
		t->est++;
		t->est_lost += !pass;
		memset(&s, 0, sizeof(s));
		s.family = SGBPF_AF_V4;
		s.proto = 17;
		inet_pton(AF_INET, "172.17.0.1", s.src);
		inet_pton(AF_INET, POD0, s.dst);
		s.sport = sp;
		s.dport = 1007;
		if ((err = run_frame(t->ingress, &s, &pass)))
			break;
		t->udp++;
		t->udp_lost += !pass;
		tcp_spec(&s, "10.0.4.77", POD0, sp, TCP_OK_PORT + 1, SG_TCP_SYN);
		if ((err = run_frame(t->ingress, &s, &pass)))
			break;
		t->tcp++;
		t->tcp_lost += !pass;
		tcp_spec(&s, "10.0.4.9", POD0, sp, 9, SG_TCP_SYN);
		if ((err = run_frame(t->ingress, &s, &pass)))
			break;
		t->deny++;
		t->deny_leaked += pass;
		i++;
	}
	t->err = err;
	return NULL;
}

/* Map pod-0 and open the daemon's programs. */
static int traffic_open(const char *pin, struct traffic *t)
{
	struct sgbpf_iface_key k = { .ifindex = 1, .vlan_id = 1 };
	struct sgbpf_iface_val v = { .ep_id = 0, .role = SGBPF_ROLE_NET_FACING };
	char path[PATH_MAX];
	int fd, err = 0;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/maps/ifaces", pin);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		err = -errno;
	close(fd);
	snprintf(path, sizeof(path), "%s/progs/%s", pin, sgbpf_prog_name(SGBPF_PROG_TC_INGRESS));
	t->ingress = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/progs/%s", pin, sgbpf_prog_name(SGBPF_PROG_TC_EGRESS));
	t->egress = bpf_obj_get(path);
	if (!err && (t->ingress < 0 || t->egress < 0))
		err = -errno;
	return err;
}

static int with_daemon(const char *self, const char *dir)
{
	char sgbpfd[PATH_MAX], pin[64], line[1 << 16], *slash;
	double wall[32], comp[32], swp[32];
	unsigned n = opt_rounds < 32 ? opt_rounds : 32;
	int pfd[2], err = 0, st;
	struct traffic tr = { .ingress = -1, .egress = -1 };
	bool have_thr = false;
	pthread_t thr;
	pid_t pid;

	snprintf(sgbpfd, sizeof(sgbpfd), "%s", self);
	slash = strrchr(sgbpfd, '/');
	snprintf(slash ? slash + 1 : sgbpfd, sizeof(sgbpfd) - (slash ? slash + 1 - sgbpfd : 0),
		 "../sgbpfd");
	if (access(sgbpfd, X_OK)) {
		fprintf(stderr, "daemon-bench: %s not found; build it with 'make build/sgbpfd'\n",
			sgbpfd);
		return -ENOENT;
	}
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/sgbpf-bench-%d", getpid());
	if (pipe(pfd))
		return -errno;
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execl(sgbpfd, "sgbpfd", "--policy", dir, "--pin-dir", pin, "--socket", "",
		      "--iface-glob", "sgbpf-bench-no-such-iface", "--reconcile-interval", "0",
		      "--debounce-ms", "0", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if (wait_line(pfd[0], "event=running", line, sizeof(line), 60000)) {
		fprintf(stderr, "daemon-bench: sgbpfd did not start\n");
		err = -EIO;
		goto out;
	}
	err = traffic_open(pin, &tr);
	if (!err && (err = -pthread_create(&thr, NULL, traffic_main, &tr)) == 0)
		have_thr = true;
	if (err) {
		fprintf(stderr, "daemon-bench: starting the traffic through %s failed: %s\n", pin,
			strerror(-err));
		goto out;
	}
	usleep(50000);
	for (unsigned i = 0; i < n; i++) {
		double t0 = now_ms();

		write_groups(dir, 100 + i);
		if (wait_line(pfd[0], "event=policy_applied", line, sizeof(line), 30000)) {
			fprintf(stderr, "daemon-bench: no policy_applied from sgbpfd\n");
			err = -EIO;
			goto out;
		}
		wall[i] = now_ms() - t0;
		comp[i] = field(line, "compile_ms=");
		swp[i] = field(line, "swap_ms=");
		usleep(100000);
	}
	printf("(2) sgbpfd (inotify, --debounce-ms 0), median of %u file changes:\n", n);
	printf("    rename -> policy_applied logged %8.1f ms (incl. cleanup and logging)\n",
	       median(wall, n));
	printf("    daemon compile_ms (read+parse+compile) %8.1f ms\n", median(comp, n));
	printf("    daemon swap_ms (write+flip)            %8.1f ms\n", median(swp, n));
	printf("    default --debounce-ms 50 adds 50 ms to the first of a burst of writes\n");
	printf("    sgbpfd memory: VmRSS %ld kB, VmHWM (peak) %ld kB\n", status_kb(pid, "VmRSS:"),
	       status_kb(pid, "VmHWM:"));
	tr.stop = true;
	pthread_join(thr, NULL);
	have_thr = false;
	if (tr.err) {
		fprintf(stderr, "daemon-bench: traffic through the swaps failed: %s\n",
			strerror(-tr.err));
		err = tr.err;
		goto out;
	}
	printf("(3) frames of bench/pod-0 through sgbpfd's programs during those %u swaps:\n", n);
	printf("    established TCP  %9lu sent, %lu dropped\n", tr.est, tr.est_lost);
	printf("    UDP, 40000 flows %9lu sent, %lu dropped (new, then tracked)\n", tr.udp, tr.udp_lost);
	printf("    TCP SYNs, 40000  %9lu sent, %lu dropped (new, then tracked)\n", tr.tcp, tr.tcp_lost);
	printf("    denied SYNs      %9lu sent, %lu passed\n", tr.deny, tr.deny_leaked);
	printf("    packets lost: %lu, leaked: %lu   (target 0 and 0)\n",
	       tr.est_lost + tr.udp_lost + tr.tcp_lost, tr.deny_leaked);
	if (tr.est_lost + tr.udp_lost + tr.tcp_lost + tr.deny_leaked)
		err = -EPROTO;
out:
	if (have_thr) {
		tr.stop = true;
		pthread_join(thr, NULL);
	}
	if (tr.ingress > 0)
		close(tr.ingress);
	if (tr.egress > 0)
		close(tr.egress);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	close(pfd[0]);
	sgbpf_pin_remove(pin);
	return err;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/sgbpf-daemon-bench.XXXXXX";
	int opt, err;

	while ((opt = getopt(argc, argv, "e:r:n:s:fh")) != -1) {
		switch (opt) {
		case 'e':
			opt_eps = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			opt_rules = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			opt_rounds = strtoul(optarg, NULL, 10);
			break;
		case 's':
			opt_sgs = strtoul(optarg, NULL, 10);
			break;
		case 'f':
			opt_full = true;
			break;
		default:
			fprintf(stderr, "usage: daemon-bench [-e ENDPOINTS] [-r RULES] [-n ROUNDS] "
				"[-s DISTINCT_SGS] [-f]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!opt_eps || opt_eps > 1000 || !opt_rules || !opt_rounds) {
		fprintf(stderr, "daemon-bench: need 1..1000 endpoints, rules > 0, rounds > 0\n");
		return 2;
	}
	if (!mkdtemp(dir)) {
		perror("daemon-bench: mkdtemp");
		return 2;
	}
	err = write_endpoints(dir);
	if (!err)
		err = write_groups(dir, 0);
	if (!err)
		err = in_process(dir);
	if (!err)
		err = with_daemon(argv[0], dir);
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "daemon-bench: could not remove %s\n", dir);
	}
	if (err) {
		fprintf(stderr, "daemon-bench: failed: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
