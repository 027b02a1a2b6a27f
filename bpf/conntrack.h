/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking. Keys are oriented from the endpoint that owns them
 * (ep_id, local, remote) and never normalised across endpoints, so a pod can
 * neither plant nor reach another pod's entries; the caller has already run
 * the source/destination check before any function here is called.
 *
 * Unconfirmed flows live in ct_new (LRU), confirmed ones in ct_est (never
 * evicted). Lookup order: ct_est, then ct_new. Expiry is decided from the
 * entry's own last_seen_ns at lookup time. Each table is one map per family
 * (maps.h), and the bulk of confirmed flows have short-key tables of their
 * own (TCP: ct4t_est, ct6t_est; IPv6 UDP: ct6u_est), keyed without the
 * endpoint, which their entries carry: a packet's key (struct
 * sg_ct_key) is built once, in the shape of its family's maps, and
 * sg_ct_get/put/del pick the map.
 *
 * The one exception to "source check first": sg_ct_find() READS the tables
 * before the check (it writes nothing), so an established flow whose entry
 * vouches for the check (see sg_ct_vouches() in verdict.h) needs no address
 * lookup. Every write (create, update, delete, promote) still follows a
 * passed check.
 */
#ifndef SGBPF_BPF_CONNTRACK_H
#define SGBPF_BPF_CONNTRACK_H

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define SG_NSEC_PER_SEC 1000000000ull

#define SG_ICMP_ECHO_REPLY     0
#define SG_ICMP_ECHO_REQUEST   8
#define SG_ICMPV6_ECHO_REQUEST 128
#define SG_ICMPV6_ECHO_REPLY   129

static __always_inline struct sgbpf_global_stats *sg_gstats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&global_stats, &zero);
}

static __always_inline bool sg_icmp_is_echo(__u8 family, __u8 type)
{
	if (family == SGBPF_AF_V4)
		return type == SG_ICMP_ECHO_REQUEST || type == SG_ICMP_ECHO_REPLY;
	return type == SG_ICMPV6_ECHO_REQUEST || type == SG_ICMPV6_ECHO_REPLY;
}

static __always_inline bool sg_icmp_is_echo_request(__u8 family, __u8 type)
{
	return family == SGBPF_AF_V4 ? type == SG_ICMP_ECHO_REQUEST :
				       type == SG_ICMPV6_ECHO_REQUEST;
}

/* Default idle timeouts (seconds), used when a slot config leaves one at 0. */
static __always_inline __u32 sg_default_timeout(__u32 idx)
{
	switch (idx) {
	case SGBPF_TO_TCP_ESTABLISHED:	return 432000;
	case SGBPF_TO_TCP_SYN:		return 60;
	case SGBPF_TO_TCP_FIN:		return 120;
	case SGBPF_TO_TCP_CLOSED:	return 10;
	case SGBPF_TO_UDP:		return 30;
	case SGBPF_TO_UDP_STREAM:	return 180;
	case SGBPF_TO_ICMP:		return 60;
	case SGBPF_TO_FRAG:		return 30;
	default:			return 600;
	}
}

static __always_inline __u64 sg_timeout_ns(const struct sgbpf_slot_config *cfg, __u32 idx)
{
	__u32 s = 0;

	if (idx < SGBPF_TO_MAX)
		s = cfg->timeouts_s[idx];
	if (!s)
		s = sg_default_timeout(idx);
	return (__u64)s * SG_NSEC_PER_SEC;
}

static __always_inline __u32 sg_ct_timeout_idx(__u8 family, __u8 proto, __u8 state)
{
	if (proto == SG_IPPROTO_TCP) {
		switch (state) {
		case SGBPF_CT_ESTABLISHED:	return SGBPF_TO_TCP_ESTABLISHED;
		case SGBPF_CT_FIN_WAIT:
		case SGBPF_CT_CLOSING:		return SGBPF_TO_TCP_FIN;
		case SGBPF_CT_CLOSED:		return SGBPF_TO_TCP_CLOSED;
		default:			return SGBPF_TO_TCP_SYN;
		}
	}
	if (proto == SG_IPPROTO_UDP)
		return state == SGBPF_CT_ESTABLISHED ? SGBPF_TO_UDP_STREAM : SGBPF_TO_UDP;
	if (sg_is_icmp(family, proto))
		return SGBPF_TO_ICMP;
	return SGBPF_TO_OTHER;
}

/*
 * A flow's conntrack key as its family's maps take it: the compact IPv4 key
 * or the wide one. family, proto and ep_id sit outside the union so that
 * code above the maps reads them without caring which key is in use. A
 * confirmed flow's key in a short-key table is the compact / wide key's last
 * 12 / 36 bytes (v4t.k / v6t.k): no copy.
 */
struct sg_ct_key {
	union {
		struct sgbpf_ct4_key v4;
		struct sgbpf_ct_key v6;
		struct {
			__u32 hdr;         /* v4's ep_id, proto, pad */
			struct sgbpf_ct4t_key k;
		} v4t;
		struct {
			__u64 hdr;         /* v6's ep_id, family, proto, pad */
			struct sgbpf_ct6t_key k;
		} v6t;
	};
	__u8 family;               /* which member (and maps): enum sgbpf_family */
	__u8 proto;
	__u16 ep_id;               /* the endpoint (short-key maps: checked in the entry) */
} __attribute__((aligned(8)));
_Static_assert(__builtin_offsetof(struct sg_ct_key, v4t.k) ==
	       __builtin_offsetof(struct sg_ct_key, v4.local_addr) &&
	       sizeof(struct sgbpf_ct4_key) == 4 + sizeof(struct sgbpf_ct4t_key),
	       "ct4t key = the compact IPv4 key without its first word");
_Static_assert(__builtin_offsetof(struct sg_ct_key, v6t.k) ==
	       __builtin_offsetof(struct sg_ct_key, v6.local_addr) &&
	       sizeof(struct sgbpf_ct_key) == 8 + sizeof(struct sgbpf_ct6t_key),
	       "ct6t key = the wide key without its first 8 bytes");

static __always_inline bool sg_ct_expired(const struct sgbpf_slot_config *cfg,
					  const struct sg_ct_key *k,
					  const struct sgbpf_ct_val *v, __u64 now)
{
	/* An unanswered pickup is one packet's word: it lives as briefly as
	 * an unanswered SYN. */
	__u32 idx = unlikely(v->ct_flags & SGBPF_CT_F_PICKUP) ? SGBPF_TO_TCP_SYN :
			sg_ct_timeout_idx(k->family, k->proto, v->state);

	return v->last_seen_ns + sg_timeout_ns(cfg, idx) < now;
}

/* A confirmed flow belongs in ct_est: both sides have spoken. Flows to the
 * exempt list (no rule: SGBPF_RULE_NONE) stay in the LRU table whatever
 * their state: every DNS query to the VPC resolver is one, and they must not
 * fill the table that protects established flows from floods (spec 3.8). */
static __always_inline bool sg_ct_confirmed(__u8 proto, const struct sgbpf_ct_val *v)
{
	__u8 state = v->state;

	if (v->rule_id == SGBPF_RULE_NONE)
		return false;
	if (proto == SG_IPPROTO_TCP)
		return !(v->ct_flags & SGBPF_CT_F_PICKUP) &&
		       (state == SGBPF_CT_ESTABLISHED || state == SGBPF_CT_FIN_WAIT ||
			state == SGBPF_CT_CLOSING);
	return state == SGBPF_CT_ESTABLISHED;
}

/*
 * RST plausibility (RFC 5961 in spirit, the window fixed): a blind attacker
 * must guess a sequence number within +-SG_CT_RST_WIN of what the receiver
 * expects, i.e. ~2^15 tries instead of one packet. A legitimate RST that
 * falls outside (its sender had more than the window in flight) is dropped
 * and the pod's next segment draws an exact one (seq = the pod's ack).
 */
#define SG_CT_RST_WIN 65536u

static __always_inline bool sg_seq_near(__u32 seq, __u32 ref)
{
	return seq - ref + SG_CT_RST_WIN <= 2 * SG_CT_RST_WIN;
}

/*
 * May this RST (going dir) close the flow? From the pod (outbound): always,
 * the pod owns its connections. Towards the pod: once the pod acknowledged
 * something, the RST's sequence number must be near that (the pod's
 * rcv_nxt). Before (the pod sent only a SYN, RFC 793 SYN-SENT), a RST must
 * acknowledge exactly the pod's SYN, or, while nothing came from the pod at
 * all (an inbound SYN not yet answered), be near the remote's own sequence
 * number. Only the pod's packets write the pod's values, so a remote
 * attacker can't steer them.
 */
static __always_inline bool sg_ct_rst_ok(const struct sgbpf_ct_val *v,
					 const struct sg_pkt *p, __u8 dir)
{
	__u8 known = v->seq_known;

	if (dir == SGBPF_DIR_OUT)
		return true;
	if (known & SGBPF_CT_ACK_KNOWN(SGBPF_DIR_OUT))
		return sg_seq_near(p->tcp_seq, v->ack_last[SGBPF_DIR_OUT]);
	if (known & SGBPF_CT_SEQ_KNOWN(SGBPF_DIR_OUT))
		return (p->tcp_flags & SG_TCP_ACK) && p->tcp_ack == v->seq_next[SGBPF_DIR_OUT];
	return (known & SGBPF_CT_SEQ_KNOWN(SGBPF_DIR_IN)) &&
	       sg_seq_near(p->tcp_seq, v->seq_next[SGBPF_DIR_IN]);
}

/* Remember the sequence numbers of a TCP segment that went dir. */
static __always_inline void sg_ct_seq_update(struct sgbpf_ct_val *v, const struct sg_pkt *p,
					     __u8 dir)
{
	__u32 next = p->tcp_seq + p->tcp_seg_len;
	bool ack = p->tcp_flags & SG_TCP_ACK;

	/* Constant indexes: with a variable one clang turns the stack
	 * address arithmetic into an OR, which the verifier refuses. */
	if (dir == SGBPF_DIR_OUT) {
		v->seq_next[SGBPF_DIR_OUT] = next;
		if (ack)
			v->ack_last[SGBPF_DIR_OUT] = p->tcp_ack;
	} else {
		v->seq_next[SGBPF_DIR_IN] = next;
		if (ack)
			v->ack_last[SGBPF_DIR_IN] = p->tcp_ack;
	}
	v->seq_known |= SGBPF_CT_SEQ_KNOWN(dir) | (ack ? SGBPF_CT_ACK_KNOWN(dir) : 0);
}

/*
 * Is this packet conntrack material? TCP/UDP with a header, ICMP echo, and
 * protocols without ports. Other ICMP (errors, timestamps, MLD, ...) is not
 * tracked: rules decide it each time.
 */
static __always_inline bool sg_ct_eligible(const struct sg_pkt *p)
{
	if (p->proto == SG_IPPROTO_TCP || p->proto == SG_IPPROTO_UDP)
		return p->has_l4;
	if (sg_is_icmp(p->family, p->proto))
		return p->has_l4 && sg_icmp_is_echo(p->family, p->icmp_type);
	return true;
}

/* Words that may alias any type, for copying addresses. */
typedef __u64 __attribute__((may_alias)) sg_word;
typedef __u32 __attribute__((may_alias)) sg_word32;

/*
 * Copy a 16-byte address as two words. Both sides must be 8-byte aligned:
 * sg_pkt keeps src/dst first for that (and its instances sit on the stack
 * at 8-byte alignment), and keys built with it are declared aligned(8). Not
 * knowing the alignment, __builtin_memcpy() copies byte by byte: ~45 BPF
 * instructions an address, a quarter of the established fast path.
 */
static __always_inline void sg_addr_copy(__u8 *dst, const __u8 *src)
{
	((sg_word *)dst)[0] = ((const sg_word *)src)[0];
	((sg_word *)dst)[1] = ((const sg_word *)src)[1];
}

/* Fill k from its parts: the compact key for IPv4, the wide one for IPv6.
 * Every byte of the key in use is written (no memset first). Addresses are
 * 16-byte fields (IPv4 in the first 4 bytes); with aligned set, both are
 * 8-byte aligned (see sg_addr_copy), else they are copied byte-wise. */
/* sg_ct_key_set() stores these words whole. */
_Static_assert(__builtin_offsetof(struct sgbpf_ct4_key, local_addr) == 4 &&
	       __builtin_offsetof(struct sgbpf_ct4_key, local_port) % 4 == 0 &&
	       __builtin_offsetof(struct sgbpf_ct4_key, remote_port) ==
	       __builtin_offsetof(struct sgbpf_ct4_key, local_port) + 2,
	       "sgbpf_ct4_key: a 4-byte header word, the ports in one aligned word");
_Static_assert(__builtin_offsetof(struct sgbpf_ct_key, local_addr) == 8 &&
	       __builtin_offsetof(struct sgbpf_ct_key, local_port) % 4 == 0 &&
	       __builtin_offsetof(struct sgbpf_ct_key, remote_port) ==
	       __builtin_offsetof(struct sgbpf_ct_key, local_port) + 2,
	       "sgbpf_ct_key: an 8-byte header word, the ports in one aligned word");

static __always_inline void sg_ct_key_set(struct sg_ct_key *k, __u32 ep_id, __u8 family,
					  __u8 proto, const __u8 *local, const __u8 *remote,
					  __be16 local_port, __be16 remote_port, bool aligned)
{
	/* The map's hash and compare read the key back right away, in 4- and
	 * 8-byte words. A word put together from narrower stores can't be
	 * forwarded from the store buffer: the load waits for the stores to
	 * retire (~11 ns a packet on the IPv6 key). So each word is built in
	 * a register and stored whole. */
	union {
		struct {
			__be16 local, remote;
		};
		__u32 word;
	} ports = { .local = local_port, .remote = remote_port };

	k->family = family;
	k->proto = proto;
	/* < SGBPF_MAX_ENDPOINTS, or SGBPF_RULE_NONE (no endpoint), which no
	 * entry holds. */
	k->ep_id = (__u16)ep_id;
	if (family == SGBPF_AF_V4) {
		/* ep_id < SGBPF_MAX_ENDPOINTS (the loader checks ifaces'). */
		union {
			struct {
				__u16 ep_id;
				__u8 proto, pad;
			};
			__u32 word;
		} hdr = { .ep_id = (__u16)ep_id, .proto = proto };

		*(sg_word32 *)&k->v4 = hdr.word;
		if (aligned) {
			*(sg_word32 *)k->v4.local_addr = *(const sg_word32 *)local;
			*(sg_word32 *)k->v4.remote_addr = *(const sg_word32 *)remote;
		} else {
			__builtin_memcpy(k->v4.local_addr, local, 4);
			__builtin_memcpy(k->v4.remote_addr, remote, 4);
		}
		*(sg_word32 *)&k->v4.local_port = ports.word;
		return;
	}
	{
		union {
			struct {
				__u32 ep_id;
				__u8 family, proto;
				__u16 pad;
			};
			__u64 word;
		} hdr = { .ep_id = ep_id, .family = family, .proto = proto };

		*(sg_word *)&k->v6 = hdr.word;
	}
	if (aligned) {
		sg_addr_copy(k->v6.local_addr, local);
		sg_addr_copy(k->v6.remote_addr, remote);
	} else {
		__builtin_memcpy(k->v6.local_addr, local, 16);
		__builtin_memcpy(k->v6.remote_addr, remote, 16);
	}
	*(sg_word32 *)&k->v6.local_port = ports.word;
}

/* Key of the packet's flow from endpoint ep_id's point of view (local and
 * remote: the packet's addresses oriented by dir, both 8-byte aligned). */
static __always_inline void sg_ct_key_of(struct sg_ct_key *k, const struct sg_pkt *p,
					 __u32 ep_id, const __u8 *local, const __u8 *remote,
					 __u8 dir)
{
	__be16 lp = 0, rp = 0;

	if (p->proto == SG_IPPROTO_TCP || p->proto == SG_IPPROTO_UDP) {
		lp = dir == SGBPF_DIR_OUT ? p->sport : p->dport;
		rp = dir == SGBPF_DIR_OUT ? p->dport : p->sport;
	} else if (sg_is_icmp(p->family, p->proto)) {
		lp = p->icmp_id;
	}
	sg_ct_key_set(k, ep_id, p->family, p->proto, local, remote, lp, rp, true);
}

/*
 * Key of the flow an ICMP error is about (its embedded packet, see
 * sg_parse_icmp_inner), from this endpoint's view: inbound errors are about
 * a packet the pod sent (local = embedded source), outbound errors about one
 * it received (local = embedded destination). Returns 0 when the embedded
 * packet names a trackable flow.
 */
static __always_inline int sg_ct_key_of_icmp_error(const struct sg_pkt *p, __u32 ep_id,
						   __u8 dir, struct sg_ct_key *k)
{
	bool in = dir == SGBPF_DIR_IN;

	if (!p->inner_ok)
		return -1;
	if (sg_is_icmp(p->family, p->inner_proto)) {
		if (!sg_icmp_is_echo(p->family, p->inner_icmp_type))
			return -1;
		/* echo id, whichever side sent it */
		sg_ct_key_set(k, ep_id, p->family, p->inner_proto,
			      in ? p->inner_src : p->inner_dst, in ? p->inner_dst : p->inner_src,
			      p->inner_sport, 0, false);
		return 0;
	}
	sg_ct_key_set(k, ep_id, p->family, p->inner_proto,
		      in ? p->inner_src : p->inner_dst, in ? p->inner_dst : p->inner_src,
		      in ? p->inner_sport : p->inner_dport, in ? p->inner_dport : p->inner_sport,
		      false);
	return 0;
}

/* Does k's flow live in a short-key table (ct4t_est, ct6t_est, ct6u_est)
 * when confirmed (est)? IPv4 UDP stays in ct4_est: its 16-byte key already
 * hashes in one round. */
#define sg_ct_short(k, est)							\
	((est) && ((k)->proto == SG_IPPROTO_TCP ||				\
		   ((k)->proto == SG_IPPROTO_UDP && (k)->family == SGBPF_AF_V6)))

/*
 * helper(map, key, ...) on k's family's map of a table (est: ct_est, else
 * ct_new; short-key est: ct4t_est, ct6t_est, ct6u_est), with k in that
 * map's key shape.
 *
 * The verifier inlines a hash lookup (and calls update/delete directly)
 * only at a call site that only ever sees one map. clang merges helper calls
 * that differ in nothing but the map into one call fed by either map, which
 * made the established packet's lookup an indirect call through the generic
 * helper (~5 ns). So the IPv4 branch ends with barrier_var(), which the
 * IPv6 one lacks: calls followed by different code are never merged. The
 * short-key branches end with an asm of their own text for the same reason.
 */
#define sg_ct_call(k, est, helper, ...)						\
	({									\
		typeof(helper(&ct_est, &(k)->v6, ##__VA_ARGS__)) __r;		\
										\
		if (sg_ct_short(k, est)) {					\
			if ((k)->family == SGBPF_AF_V4) {			\
				__r = helper(&ct4t_est, &(k)->v4t.k, ##__VA_ARGS__);	\
				asm volatile("/* ct4t */" : "+r"(__r));		\
			} else if ((k)->proto == SG_IPPROTO_TCP) {		\
				__r = helper(&ct6t_est, &(k)->v6t.k, ##__VA_ARGS__);	\
				asm volatile("/* ct6t */" : "+r"(__r));		\
			} else {						\
				__r = helper(&ct6u_est, &(k)->v6t.k, ##__VA_ARGS__);	\
				asm volatile("/* ct6u */" : "+r"(__r));		\
			}							\
		} else if ((k)->family == SGBPF_AF_V4) {			\
			__r = (est) ? helper(&ct4_est, &(k)->v4, ##__VA_ARGS__) :	\
				      helper(&ct4_new, &(k)->v4, ##__VA_ARGS__);	\
			barrier_var(__r);					\
		} else {							\
			__r = (est) ? helper(&ct_est, &(k)->v6, ##__VA_ARGS__) :	\
				      helper(&ct_new, &(k)->v6, ##__VA_ARGS__);	\
		}								\
		__r;								\
	})

/* k's entry in a table. In a short-key table an entry of another endpoint
 * (its address has moved since) is absent: the tuple alone must not let
 * one pod reach another's flow. */
static __always_inline struct sgbpf_ct_val *sg_ct_get(const struct sg_ct_key *k, bool est)
{
	struct sgbpf_ct_val *v;

	/* Apart from sg_ct_call's, so that the check stays on these branches. */
	if (sg_ct_short(k, est)) {
		if (k->family == SGBPF_AF_V4) {
			v = bpf_map_lookup_elem(&ct4t_est, &k->v4t.k);
			asm volatile("/* ct4t get */" : "+r"(v));
		} else if (k->proto == SG_IPPROTO_TCP) {
			v = bpf_map_lookup_elem(&ct6t_est, &k->v6t.k);
			asm volatile("/* ct6t get */" : "+r"(v));
		} else {
			v = bpf_map_lookup_elem(&ct6u_est, &k->v6t.k);
			asm volatile("/* ct6u get */" : "+r"(v));
		}
		if (v && unlikely(v->ep_id != k->ep_id))
			return NULL;
		return v;
	}
	return sg_ct_call(k, est, bpf_map_lookup_elem);
}

static __always_inline long sg_ct_put(const struct sg_ct_key *k, bool est,
				      const struct sgbpf_ct_val *v, __u64 flags)
{
	return sg_ct_call(k, est, bpf_map_update_elem, v, flags);
}

static __always_inline long sg_ct_del(const struct sg_ct_key *k, bool est)
{
	return sg_ct_call(k, est, bpf_map_delete_elem);
}

#define SG_CT_STALE_EST 1
#define SG_CT_STALE_NEW 2

/*
 * Live entry for k, or NULL, writing nothing: it runs before the source
 * check. Expired entries are treated as absent and reported in *stale
 * (SG_CT_STALE_*) for sg_ct_drop_stale() once the packet passed the check.
 */
static __always_inline struct sgbpf_ct_val *
sg_ct_find(const struct sgbpf_slot_config *cfg, const struct sg_ct_key *k,
	   __u64 now, bool *in_est, __u8 *stale)
{
	struct sgbpf_ct_val *v;

	*stale = 0;
	v = sg_ct_get(k, true);
	if (likely(v)) {
		if (likely(!sg_ct_expired(cfg, k, v, now))) {
			*in_est = true;
			return v;
		}
		*stale = SG_CT_STALE_EST;
	}
	v = sg_ct_get(k, false);
	if (v) {
		if (!sg_ct_expired(cfg, k, v, now)) {
			*in_est = false;
			return v;
		}
		*stale |= SG_CT_STALE_NEW;
	}
	return NULL;
}

/* Delete the expired entries sg_ct_find() saw. A stale ct_est entry left
 * behind would make the flow's later promotion fail with EEXIST. */
static __always_inline void sg_ct_drop_stale(const struct sg_ct_key *k, __u8 stale)
{
	if (stale & SG_CT_STALE_EST)
		sg_ct_del(k, true);
	if (stale & SG_CT_STALE_NEW)
		sg_ct_del(k, false);
}

/* Live entry for k, or NULL. Expired entries are deleted and treated as absent. */
static __always_inline struct sgbpf_ct_val *
sg_ct_lookup(const struct sgbpf_slot_config *cfg, const struct sg_ct_key *k,
	     __u64 now, bool *in_est)
{
	struct sgbpf_ct_val *v;
	__u8 stale;

	v = sg_ct_find(cfg, k, now, in_est, &stale);
	if (unlikely(stale))
		sg_ct_drop_stale(k, stale);
	return v;
}

enum sg_ct_result {
	SG_CT_PASS = 0,            /* packet belongs to the flow            */
	SG_CT_INVALID,             /* TCP packet impossible in this state   */
	SG_CT_RENEW,               /* new connection reusing a closed tuple */
};

/* Advance the flow's state for a packet going dir (state machine of the
 * task notes: SYN_SENT -> SYN_RECV -> ESTABLISHED -> FIN_WAIT/CLOSING,
 * plausible RST -> CLOSED; non-TCP: a packet against the origin confirms;
 * a pickup is confirmed by any non-RST answer). */
static __always_inline int sg_ct_advance(struct sgbpf_ct_val *v, const struct sg_pkt *p,
					 __u8 dir)
{
	bool from_origin = dir == v->origin_dir;
	__u8 fl = p->tcp_flags, st = v->state;

	if (p->proto != SG_IPPROTO_TCP) {
		if (!from_origin) {
			v->seen_reply = 1;
			v->state = SGBPF_CT_ESTABLISHED;
		}
		return SG_CT_PASS;
	}

	/* The common case first, straight-line: a segment of an established
	 * connection that changes no state (no SYN, FIN or RST). */
	if (likely(st == SGBPF_CT_ESTABLISHED &&
		   !(fl & (SG_TCP_SYN | SG_TCP_FIN | SG_TCP_RST)))) {
		if (!from_origin) {
			v->seen_reply = 1;
			v->ct_flags &= ~SGBPF_CT_F_PICKUP;
		}
		sg_ct_seq_update(v, p, dir);
		return SG_CT_PASS;
	}
	if (fl & SG_TCP_RST) {
		/* A blind RST changes nothing (the caller counts it). */
		if (!sg_ct_rst_ok(v, p, dir))
			return SG_CT_INVALID;
		v->state = SGBPF_CT_CLOSED;
		return SG_CT_PASS;
	}
	/* A bare SYN on a closing or closed tuple opens a new connection: it
	 * must pass the rules again like any new flow. */
	if ((fl & (SG_TCP_SYN | SG_TCP_ACK)) == SG_TCP_SYN &&
	    (st == SGBPF_CT_FIN_WAIT || st == SGBPF_CT_CLOSING || st == SGBPF_CT_CLOSED))
		return SG_CT_RENEW;

	if (st == SGBPF_CT_SYN_SENT) {
		if (!from_origin) {
			if ((fl & (SG_TCP_SYN | SG_TCP_ACK)) == (SG_TCP_SYN | SG_TCP_ACK))
				st = SGBPF_CT_SYN_RECV;
			else if (!(fl & SG_TCP_SYN))
				/* Only SYN+ACK (or a simultaneous-open SYN)
				 * can answer a SYN. */
				return SG_CT_INVALID;
		}
	} else if (st == SGBPF_CT_SYN_RECV) {
		if (from_origin && (fl & (SG_TCP_SYN | SG_TCP_ACK)) == SG_TCP_ACK)
			st = SGBPF_CT_ESTABLISHED;
	}
	if ((fl & SG_TCP_FIN) &&
	    (st == SGBPF_CT_ESTABLISHED || st == SGBPF_CT_FIN_WAIT || st == SGBPF_CT_CLOSING)) {
		v->fin_seen |= 1 << (dir & 1);
		st = v->fin_seen == 3 ? SGBPF_CT_CLOSING : SGBPF_CT_FIN_WAIT;
	}
	if (!from_origin) {
		v->seen_reply = 1;
		/* The other side answered a pickup: a real connection. */
		v->ct_flags &= ~SGBPF_CT_F_PICKUP;
	}
	v->state = st;
	sg_ct_seq_update(v, p, dir);
	return SG_CT_PASS;
}

static __always_inline void sg_ct_account(struct sgbpf_ct_val *v, __u8 dir, __u32 len,
					  __u64 now)
{
	/* Plain adds: a flow's direction is handled by one CPU at a time in
	 * practice (one queue / one veth), and a lost increment in a rare race
	 * costs less than two locked adds (~7 ns) on every packet. */
	v->packets[dir & 1]++;
	v->bytes[dir & 1] += len;
	v->last_seen_ns = now;
}

/* Record that a packet of the flow passed the source/destination check
 * (and MAC check) of policy generation gen, where the endpoint's settings
 * were ep (never NULL: the caller looked them up). */
static __always_inline void sg_ct_vouch(struct sgbpf_ct_val *v, __u64 gen,
					const struct sgbpf_ep_val *ep)
{
	v->checked_gen = gen;
	if (ep->flags & SGBPF_EP_HAS_MAC) {
		__builtin_memcpy(v->ep_mac, ep->mac, 6);
		v->check_flags = SGBPF_CT_CHECKED | SGBPF_CT_CHECKED_MAC;
	} else {
		v->check_flags = SGBPF_CT_CHECKED;
	}
}

/* Move a confirmed flow from ct_new to ct_est. If ct_est is full the flow
 * stays in ct_new (retried on its next packet) and ct_est_full counts it.
 * In a short-key table an entry of another endpoint under the same tuple
 * is stale (its address moved to this endpoint across a swap): it is
 * replaced. */
static __always_inline void sg_ct_promote(const struct sg_ct_key *k,
					  struct sgbpf_ct_val *v)
{
	struct sgbpf_global_stats *g = sg_gstats();
	long err;

	v->ep_id = k->ep_id;
	err = sg_ct_put(k, true, v, BPF_NOEXIST);
	if (err == -17 && sg_ct_short(k, true)) {
		struct sgbpf_ct_val *o = sg_ct_call(k, true, bpf_map_lookup_elem);

		if (o && o->ep_id != k->ep_id)
			err = sg_ct_put(k, true, v, BPF_ANY);
	}
	if (err == 0 || err == -17 /* EEXIST: another CPU promoted it */) {
		sg_ct_del(k, false);
		if (g && err == 0)
			g->ct_est_created++;
	} else if (g) {
		g->ct_est_full++;
	}
}

/*
 * Create the entry of a new, allowed flow (it passed the checks of
 * generation gen, with endpoint settings ep). Every new flow starts in
 * ct_new, unconfirmed: one packet never earns a never-evicted ct_est entry
 * (a mid-stream TCP pickup carries SGBPF_CT_F_PICKUP until answered).
 * Returns 0 or a negative errno when the table did not take it.
 */
static __always_inline int sg_ct_create(const struct sg_ct_key *k, const struct sg_pkt *p,
					__u8 state, __u8 ct_flags, __u8 dir, __u32 rule_id,
					__u32 len, __u64 now, __u64 gen,
					const struct sgbpf_ep_val *ep)
{
	struct sgbpf_global_stats *g = sg_gstats();
	struct sgbpf_ct_val *v;
	__u32 zero = 0;
	long err;

	v = bpf_map_lookup_elem(&ct_scratch, &zero);
	if (!v)
		return -12; /* ENOMEM */
	__builtin_memset(v, 0, sizeof(*v));
	v->created_ns = now;
	v->last_seen_ns = now;
	if (dir == SGBPF_DIR_OUT) {
		v->packets[SGBPF_DIR_OUT] = 1;
		v->bytes[SGBPF_DIR_OUT] = len;
	} else {
		v->packets[SGBPF_DIR_IN] = 1;
		v->bytes[SGBPF_DIR_IN] = len;
	}
	v->rule_id = rule_id;
	v->state = state;
	v->origin_dir = dir;
	v->ct_flags = ct_flags;
	v->ep_id = k->ep_id;
	if (k->proto == SG_IPPROTO_TCP)
		sg_ct_seq_update(v, p, dir);
	sg_ct_vouch(v, gen, ep);

	err = sg_ct_put(k, false, v, BPF_ANY);
	if (err)
		return err;
	if (g)
		g->ct_new_created++;
	return 0;
}

#endif /* SGBPF_BPF_CONNTRACK_H */
