// SPDX-License-Identifier: BSD-2-Clause
/*
 * live-udp: UDP load for bench/live-nft.sh. Sends COUNT datagrams from SRC
 * to DST over FLOWS flows (source ports SPORT.., destination ports cycling
 * over DPORT..DPORT+NDPORTS-1), in sendmmsg batches of 64, then prints one
 * line: "sent N cpu_ns C wall_ns W", where C is this process's user+system
 * CPU time. The kernel has no IRQ time accounting here, so the softirq work
 * a send triggers in this context (veth, forwarding, filtering, delivery
 * into the pod) is in C; live-nft.sh adds ksoftirqd's share.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_SOCKS 256

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: live-udp --src IP --dst IP [--sport P] [--socks N] [--dport P] [--ndports N]\n"
		"                [--count N] [--size BYTES]\n"
		"  flows = socks (source ports sport..sport+N-1) x ndports (dport..); defaults:\n"
		"  sport 40000, socks 16, dport 5000, ndports 64, count 1000000, size 64\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "src", required_argument, NULL, 's' }, { "dst", required_argument, NULL, 'd' },
		{ "sport", required_argument, NULL, 'S' }, { "socks", required_argument, NULL, 'n' },
		{ "dport", required_argument, NULL, 'D' },
		{ "ndports", required_argument, NULL, 'N' },
		{ "count", required_argument, NULL, 'c' }, { "size", required_argument, NULL, 'z' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *src = NULL, *dst = NULL;
	unsigned long sport = 40000, socks = 16, dport = 5000, ndports = 64, count = 1000000;
	unsigned long size = 64, sent = 0;
	struct sockaddr_in sa = { .sin_family = AF_INET }, da[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	static char payload[1472];
	int fds[MAX_SOCKS], o;
	uint64_t c0, w0;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 's': src = optarg; break;
		case 'd': dst = optarg; break;
		case 'S': sport = strtoul(optarg, NULL, 10); break;
		case 'n': socks = strtoul(optarg, NULL, 10); break;
		case 'D': dport = strtoul(optarg, NULL, 10); break;
		case 'N': ndports = strtoul(optarg, NULL, 10); break;
		case 'c': count = strtoul(optarg, NULL, 10); break;
		case 'z': size = strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!src || !dst || !socks || socks > MAX_SOCKS || !ndports || sport + socks > 65536 ||
	    dport + ndports > 65536 || size > sizeof(payload) || !count) {
		fprintf(stderr, "live-udp: need --src and --dst; 1..%d socks, ports in range, "
			"size <= %zu\n", MAX_SOCKS, sizeof(payload));
		usage(stderr);
		return 2;
	}
	if (inet_pton(AF_INET, src, &sa.sin_addr) != 1) {
		fprintf(stderr, "live-udp: --src '%s' is not an IPv4 address\n", src);
		return 2;
	}
	for (unsigned long i = 0; i < BATCH; i++) {
		da[i] = (struct sockaddr_in){ .sin_family = AF_INET };
		if (inet_pton(AF_INET, dst, &da[i].sin_addr) != 1) {
			fprintf(stderr, "live-udp: --dst '%s' is not an IPv4 address\n", dst);
			return 2;
		}
	}
	for (unsigned long i = 0; i < socks; i++) {
		int one = 1;

		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		sa.sin_port = htons((uint16_t)(sport + i));
		if (fds[i] < 0 || setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(fds[i], (struct sockaddr *)&sa, sizeof(sa))) {
			fprintf(stderr, "live-udp: binding %s:%lu failed: %s\n", src, sport + i,
				strerror(errno));
			return 1;
		}
	}
	iov.iov_base = payload;
	iov.iov_len = size;
	c0 = cpu_ns();
	w0 = mono_ns();
	for (unsigned long b = 0; sent < count; b++) {
		int fd = fds[b % socks];
		unsigned n = count - sent < BATCH ? (unsigned)(count - sent) : BATCH;
		int r;

		for (unsigned i = 0; i < n; i++) {
			/* Cycle destination ports so each socket feeds ndports flows. */
			da[i].sin_port = htons((uint16_t)(dport + (b / socks * BATCH + i) % ndports));
			msgs[i].msg_hdr = (struct msghdr){ .msg_name = &da[i],
							   .msg_namelen = sizeof(da[i]),
							   .msg_iov = &iov, .msg_iovlen = 1 };
		}
		r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			/* A dropped datagram may come back as an error on the
			 * socket (EPERM from a filter, ECONNREFUSED): keep sending. */
			if (errno == EPERM || errno == ECONNREFUSED || errno == ENOBUFS ||
			    errno == EAGAIN) {
				sent += n;
				continue;
			}
			fprintf(stderr, "live-udp: sendmmsg failed after %lu datagrams: %s\n", sent,
				strerror(errno));
			return 1;
		}
		sent += (unsigned)r;
	}
	printf("sent %lu cpu_ns %lu wall_ns %lu\n", sent, (unsigned long)(cpu_ns() - c0),
	       (unsigned long)(mono_ns() - w0));
	return 0;
}
