// SPDX-License-Identifier: BSD-2-Clause
/*
 * sgbpf import: write the endpoints document of one node from Kubernetes
 * objects (kubectl get ... -o json); the work is in user/lib/import.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sgbpf/layout.h>

#include "cli.h"
#include "import.h"

static void import_usage(FILE *out)
{
	fprintf(out,
		"usage: sgbpf import --pods PODS.json --sgp SGP.json [--node NAME] [--nodes NODES.json]\n"
		"                    [--node-ipv4 ADDR]... [--node-ipv6 ADDR]... [--node-sg SG-ID]...\n"
		"                    [--service-accounts SA.json] [--enis ENIS.json]\n"
		"                    [--mode strict|standard] [--veth-prefix PREFIX] [-o FILE]\n"
		"\n"
		"Builds the endpoints document (the pods this node enforces) from:\n"
		"  --pods              kubectl get pods -A -o json\n"
		"  --sgp               kubectl get securitygrouppolicies -A -o json\n"
		"  --nodes             kubectl get nodes -o json (the node's InternalIP addresses)\n"
		"  --node-ipv4/-ipv6   node addresses to add (repeatable)\n"
		"  --node-sg           the node's own SG (repeatable): the node's addresses become\n"
		"                      its members, so pod rules referencing it (kubelet probes) match\n"
		"  --service-accounts  kubectl get serviceaccounts -A -o json (needed when a\n"
		"                      policy uses spec.serviceAccountSelector)\n"
		"  --enis              aws ec2 describe-network-interfaces: the branch ENIs' own\n"
		"                      groups, which win over the policies (a warning says where\n"
		"                      they differ)\n"
		"Pods taken: spec.nodeName = --node (default $NODE_NAME), Running or Pending, with\n"
		"the vpc.amazonaws.com/pod-eni annotation (VLAN id, MAC, addresses). SGs: the\n"
		"SecurityGroupPolicies of the pod's namespace that select it. Probe ports: the\n"
		"containers' liveness/readiness/startup tcpSocket, httpGet and grpc ports.\n"
		"Interface: the VPC CNI's host veth, \"vlan\" (strict) or --veth-prefix (standard,\n"
		"default \"eni\") + 11 hex digits of sha1(\"namespace.pod\").\n"
		"--mode sets node.enforcingMode (default strict, as the VPC CNI's\n"
		"POD_SECURITY_GROUP_ENFORCING_MODE). Output: -o FILE (replaced atomically) or stdout.\n"
		"\n"
		"Exit: 0 written, 1 an input was refused (messages on stderr), 2 usage or I/O error.\n");
}

static int add_addr(struct sg_addr **addrs, size_t *n, const char *text, int family,
		    const char *opt)
{
	struct sg_addr a, *p;

	if (sg_addr_parse(text, &a) || a.family != family) {
		fprintf(stderr, "sgbpf import: %s: expected an %s address, got '%s'\n", opt,
			family == SGBPF_AF_V4 ? "IPv4" : "IPv6", text);
		return -EINVAL;
	}
	p = realloc(*addrs, (*n + 1) * sizeof(**addrs));
	if (!p)
		return -ENOMEM;
	*addrs = p;
	p[(*n)++] = a;
	return 0;
}

/* Write text to path through a temporary file, so a reader never sees half. */
static int write_atomic(const char *path, const char *text)
{
	char *tmp = NULL;
	FILE *f;
	int err = 0;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	f = fopen(tmp, "w");
	if (!f) {
		err = errno;
	} else {
		if (fputs(text, f) < 0 || fputc('\n', f) < 0 || fflush(f) || fsync(fileno(f)))
			err = errno ? errno : EIO;
		if (fclose(f) && !err)
			err = errno;
		if (!err && rename(tmp, path))
			err = errno;
		if (err)
			unlink(tmp);
	}
	if (err)
		fprintf(stderr, "sgbpf import: cannot write %s: %s\n", path, strerror(err));
	free(tmp);
	return -err;
}

int cmd_import(int argc, char **argv)
{
	struct sg_import_docs docs = { 0 };
	struct sg_import_opts opts = { .mode = SG_MODE_STRICT };
	const char *paths[5] = { 0 }, *out = NULL;
	struct sg_import_doc *slots[5] = { &docs.pods, &docs.sgps, &docs.nodes, &docs.sas,
					   &docs.enis };
	static const char *const file_opts[5] = { "--pods", "--sgp", "--nodes",
						   "--service-accounts", "--enis" };
	struct sg_addr *addrs = NULL;
	const char **node_sgs = NULL;
	size_t n_addrs = 0;
	struct sg_diags diags;
	char *doc = NULL;
	int rc = SG_EXIT_ERROR, err;

	opts.node = getenv("NODE_NAME");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int k;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			import_usage(stdout);
			free(addrs);
			return SG_EXIT_OK;
		}
		for (k = 0; k < 5 && strcmp(a, file_opts[k]); k++)
			;
		if (!v && (k < 5 || a[0] == '-')) {
			fprintf(stderr, "sgbpf import: %s needs a value; see 'sgbpf import --help'\n", a);
			goto out;
		}
		i++;
		if (k < 5) {
			paths[k] = v;
		} else if (!strcmp(a, "--node")) {
			opts.node = v;
		} else if (!strcmp(a, "--node-ipv4") || !strcmp(a, "--node-ipv6")) {
			if (add_addr(&addrs, &n_addrs, v, a[10] == '4' ? SGBPF_AF_V4 : SGBPF_AF_V6, a))
				goto out;
		} else if (!strcmp(a, "--mode") && (!strcmp(v, "strict") || !strcmp(v, "standard"))) {
			opts.mode = !strcmp(v, "strict") ? SG_MODE_STRICT : SG_MODE_STANDARD;
		} else if (!strcmp(a, "--node-sg")) {
			const char **p = realloc(node_sgs, (opts.n_node_sgs + 1) * sizeof(*p));

			if (!p)
				goto out;
			node_sgs = p;
			node_sgs[opts.n_node_sgs++] = v;
			opts.node_sgs = node_sgs;
		} else if (!strcmp(a, "--veth-prefix")) {
			opts.veth_prefix = v;
		} else if (!strcmp(a, "-o")) {
			out = v;
		} else {
			fprintf(stderr, "sgbpf import: %s '%s'; see 'sgbpf import --help'\n",
				strcmp(a, "--mode") ? "unknown option" : "--mode is strict or standard, not",
				strcmp(a, "--mode") ? a : v);
			goto out;
		}
	}
	if (!paths[0] || !paths[1]) {
		fprintf(stderr, "sgbpf import: --pods and --sgp are required; see 'sgbpf import --help'\n");
		goto out;
	}
	if (!opts.node || !*opts.node) {
		fprintf(stderr, "sgbpf import: give --node NAME (the pods' spec.nodeName), or set "
			"NODE_NAME (a DaemonSet gets it from spec.nodeName by the downward API)\n");
		goto out;
	}
	opts.node_addrs = addrs;
	opts.n_node_addrs = n_addrs;

	sg_diags_init(&diags);
	for (int k = 0; k < 5; k++)
		if (paths[k] && sg_import_read(paths[k], slots[k], &diags)) {
			sg_diags_print(&diags, stderr);
			sg_diags_free(&diags);
			goto out;
		}
	err = sg_import(&docs, &opts, &doc, &diags);
	sg_diags_print(&diags, stderr);
	if (err == -EINVAL) {
		fprintf(stderr, "sgbpf import: refused: %zu error%s; nothing written\n",
			diags.n_errors, diags.n_errors == 1 ? "" : "s");
		rc = SG_EXIT_NO;
	} else if (err) {
		fprintf(stderr, "sgbpf import: %s\n", strerror(-err));
	} else if (out) {
		rc = write_atomic(out, doc) ? SG_EXIT_ERROR : SG_EXIT_OK;
	} else {
		rc = printf("%s\n", doc) < 0 || fflush(stdout) ? SG_EXIT_ERROR : SG_EXIT_OK;
	}
	sg_diags_free(&diags);
out:
	free(doc);
	free(addrs);
	free(node_sgs);
	sg_import_docs_free(&docs);
	return rc;
}
