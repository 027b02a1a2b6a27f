/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Building policies in code for the tests (compiler and BPF suites alike).
 * Every append reallocates to the exact new size, so these work on arrays
 * that came from the parser or from a test too. Pointers stay valid until
 * the next call adding the same kind of object to the same parent. Bad
 * literals abort: they are bugs in the test, not inputs under test.
 */
#ifndef SGBPF_POLICY_BUILD_H
#define SGBPF_POLICY_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

struct sg_addr tc_addr(const char *text);
struct sg_cidr tc_cidr(const char *text);   /* host bits canonicalised */

struct sg_group *tc_group(struct sg_policy *p, const char *id);
/* src: a CIDR ("10.0.0.0/8", "::/0"), "pl-..." or "sg-..." */
struct sg_rule *tc_rule(struct sg_group *g, bool egress, int proto, int from, int to,
			const char *src);
struct sg_prefix_list *tc_pl(struct sg_policy *p, const char *id, int family);
void tc_pl_add(struct sg_prefix_list *pl, const char *cidr);
struct sg_endpoint *tc_ep(struct sg_policy *p, const char *name);
void tc_ep_sg(struct sg_endpoint *ep, const char *sg);
void tc_ep_addr(struct sg_endpoint *ep, const char *addr);
void tc_ep_probe_port(struct sg_endpoint *ep, uint16_t port);
struct sg_member *tc_member(struct sg_policy *p, const char *sg);
void tc_member_addr(struct sg_member *m, const char *addr);
void tc_node_addr(struct sg_policy *p, const char *addr);
void tc_vpc_cidr(struct sg_policy *p, const char *cidr);
void tc_exempt(struct sg_policy *p, const char *cidr);

#endif
