// SPDX-License-Identifier: BSD-2-Clause
/*
 * Stable kebab-case names for the shared enums. These strings are part of the
 * CLI and JSON output contract: never rename one, only add.
 */
#include <sgbpf/layout.h>

#include "names.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const drop_names[] = {
	[SGBPF_DROP_NO_RULE] = "no-rule",
	[SGBPF_DROP_NO_POLICY] = "no-policy",
	[SGBPF_DROP_SPOOF_SRC] = "spoofed-source",
	[SGBPF_DROP_SPOOF_MAC] = "spoofed-mac",
	[SGBPF_DROP_WRONG_DST] = "wrong-destination",
	[SGBPF_DROP_MALFORMED] = "malformed",
	[SGBPF_DROP_FRAG_UNKNOWN] = "fragment-unknown",
	[SGBPF_DROP_CT_FULL] = "conntrack-full",
	[SGBPF_DROP_CT_INVALID] = "conntrack-invalid",
	[SGBPF_DROP_EXTHDR_LIMIT] = "ipv6-exthdr-limit",
	[SGBPF_DROP_ICMP_UNRELATED] = "icmp-unrelated",
	[SGBPF_DROP_STRICT_REEVAL] = "strict-reevaluation",
	[SGBPF_DROP_ND_INVALID] = "nd-invalid",
};

static const char *const allow_names[] = {
	[SGBPF_ALLOW_RULE] = "rule",
	[SGBPF_ALLOW_TRACKED] = "tracked",
	[SGBPF_ALLOW_UNTRACKED] = "untracked",
	[SGBPF_ALLOW_RELATED] = "related",
	[SGBPF_ALLOW_EXEMPT] = "exempt",
	[SGBPF_ALLOW_NEIGH] = "neighbour",
	[SGBPF_ALLOW_FRAG] = "fragment",
	[SGBPF_ALLOW_NOT_IP] = "not-ip",
	[SGBPF_ALLOW_UNMANAGED] = "unmanaged",
	[SGBPF_ALLOW_PROBE] = "probe",
};

static const char *const ct_names[] = {
	[SGBPF_CT_NEW] = "new",
	[SGBPF_CT_SYN_SENT] = "syn-sent",
	[SGBPF_CT_SYN_RECV] = "syn-recv",
	[SGBPF_CT_ESTABLISHED] = "established",
	[SGBPF_CT_FIN_WAIT] = "fin-wait",
	[SGBPF_CT_CLOSING] = "closing",
	[SGBPF_CT_CLOSED] = "closed",
};

static const char *const dir_names[] = {
	[SGBPF_DIR_IN] = "in",
	[SGBPF_DIR_OUT] = "out",
};

static const char *const family_names[] = {
	[SGBPF_AF_V4] = "ipv4",
	[SGBPF_AF_V6] = "ipv6",
};

/* A new enum value without a name here fails to compile rather than print "unknown". */
_Static_assert(ARRAY_SIZE(drop_names) == SGBPF_DROP_REASON_MAX, "drop reason names");
_Static_assert(ARRAY_SIZE(allow_names) == SGBPF_ALLOW_REASON_MAX, "allow reason names");
_Static_assert(ARRAY_SIZE(ct_names) == SGBPF_CT_STATE_MAX, "ct state names");
_Static_assert(ARRAY_SIZE(dir_names) == SGBPF_DIR_MAX, "direction names");
_Static_assert(ARRAY_SIZE(family_names) == SGBPF_AF_MAX, "family names");

static const char *lookup(const char *const *names, unsigned n, unsigned v)
{
	return v < n && names[v] ? names[v] : "unknown";
}

const char *sgbpf_drop_reason_name(unsigned reason)
{
	return lookup(drop_names, ARRAY_SIZE(drop_names), reason);
}

const char *sgbpf_allow_reason_name(unsigned reason)
{
	return lookup(allow_names, ARRAY_SIZE(allow_names), reason);
}

const char *sgbpf_ct_state_name(unsigned state)
{
	return lookup(ct_names, ARRAY_SIZE(ct_names), state);
}

const char *sgbpf_dir_name(unsigned dir)
{
	return lookup(dir_names, ARRAY_SIZE(dir_names), dir);
}

const char *sgbpf_family_name(unsigned family)
{
	return lookup(family_names, ARRAY_SIZE(family_names), family);
}
