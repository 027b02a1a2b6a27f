// SPDX-License-Identifier: BSD-2-Clause
/*
 * The heart of the compiler: for one effective rule list and family, walk the
 * distinct expanded prefixes in pre-order (sorted by address, then length, a
 * prefix comes right before everything it contains) with a stack of enclosing
 * prefixes. A prefix's port set is its parent's set combined with its own
 * rules, so every rule whose prefix covers P lands in P's set without ever
 * comparing P against all rules. Rules open to the whole family (a /0) are
 * kept out of that walk: they form one base set per list and family, which
 * the datapath consults besides the prefix's set. Sets are interned (hashed)
 * so identical sets across the whole policy share one id. See
 * docs/compiled-form.md.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "compile_int.h"

int cc_reserve(void **ptr, size_t *cap, size_t need, size_t sz)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*ptr, ncap * sz);
	if (!p)
		return -ENOMEM;
	*ptr = p;
	*cap = ncap;
	return 0;
}

#define RESERVE(arr, cap, need) cc_reserve((void **)&(arr), &(cap), (need), sizeof(*(arr)))

void cc_mask(uint8_t addr[16], unsigned plen)
{
	for (unsigned i = 0; i < 16; i++) {
		if (plen >= 8) {
			plen -= 8;
			continue;
		}
		addr[i] &= (uint8_t)(0xff00u >> plen);
		plen = 0;
	}
}

int cc_covers(const struct cc_pfx *a, const struct cc_pfx *b)
{
	unsigned full = a->plen / 8, rem = a->plen % 8;

	if (a->plen > b->plen)
		return 0;
	if (memcmp(a->addr, b->addr, full))
		return 0;
	if (rem && ((a->addr[full] ^ b->addr[full]) & (uint8_t)(0xff00u >> rem)))
		return 0;
	return 1;
}

void cc_engine_init(struct cc_engine *e, const struct cc_expansion (*exp)[SGBPF_AF_MAX],
		    const struct cc_ports *ports)
{
	memset(e, 0, sizeof(*e));
	e->exp = exp;
	e->ports = ports;
}

void cc_engine_free(struct cc_engine *e)
{
	free(e->sets.ivs);
	free(e->sets.off);
	free(e->sets.len);
	free(e->sets.hash);
	free(e->sets.slots);
	free(e->items);
	free(e->items2);
	free(e->base);
	free(e->hist);
	free(e->work);
	free(e->sweep);
	free(e->out);
	free(e->own);
	free(e->ev);
	free(e->heap);
	free(e->removed);
	memset(e, 0, sizeof(*e));
}

/* ---- set interning ------------------------------------------------------ */

static uint64_t ivs_hash(const struct cc_iv *iv, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;

	for (size_t i = 0; i < n; i++) {
		uint64_t w[2];

		memcpy(w, &iv[i], sizeof(w));
		h = (h ^ w[0]) * 0x100000001b3ull;
		h ^= h >> 29;
		h = (h ^ w[1]) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	return h;
}

static int sets_grow_slots(struct cc_sets *s)
{
	size_t n = s->n_slots ? s->n_slots * 2 : 1024;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t id = 0; id < s->n_sets; id++) {
		size_t i = s->hash[id] & (n - 1);

		while (slots[i])
			i = (i + 1) & (n - 1);
		slots[i] = (uint32_t)id + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->n_slots = n;
	return 0;
}

/* Id of the set equal to iv[0..n), adding it when new; negative errno. */
static long sets_intern(struct cc_sets *s, const struct cc_iv *iv, size_t n)
{
	uint64_t h = ivs_hash(iv, n);
	size_t i;
	int err;

	if ((s->n_sets + 1) * 2 > s->n_slots) {
		err = sets_grow_slots(s);
		if (err)
			return err;
	}
	for (i = h & (s->n_slots - 1); s->slots[i]; i = (i + 1) & (s->n_slots - 1)) {
		size_t id = s->slots[i] - 1;

		if (s->hash[id] == h && s->len[id] == n &&
		    !memcmp(&s->ivs[s->off[id]], iv, n * sizeof(*iv)))
			return (long)id;
	}
	if (s->n_sets >= s->cap_sets) {
		size_t cap = s->cap_sets ? s->cap_sets * 2 : 256;
		size_t *off = realloc(s->off, cap * sizeof(*off));

		if (!off)
			return -ENOMEM;
		s->off = off;
		uint32_t *len = realloc(s->len, cap * sizeof(*len));

		if (!len)
			return -ENOMEM;
		s->len = len;
		uint64_t *hash = realloc(s->hash, cap * sizeof(*hash));

		if (!hash)
			return -ENOMEM;
		s->hash = hash;
		s->cap_sets = cap;
	}
	if (RESERVE(s->ivs, s->cap_ivs, s->n_ivs + n))
		return -ENOMEM;
	memcpy(&s->ivs[s->n_ivs], iv, n * sizeof(*iv));
	s->off[s->n_sets] = s->n_ivs;
	s->len[s->n_sets] = (uint32_t)n;
	s->hash[s->n_sets] = h;
	s->n_ivs += n;
	s->slots[i] = (uint32_t)s->n_sets + 1;
	return (long)s->n_sets++;
}

/* ---- interval sweep ----------------------------------------------------- */

static int ev_cmp(const void *a, const void *b)
{
	const struct cc_event *x = a, *y = b;

	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Heap of item indexes ordered by (rule_id, index): the top is the lowest rule. */
static int heap_less(const struct cc_iv *in, uint32_t a, uint32_t b)
{
	if (in[a].rule_id != in[b].rule_id)
		return in[a].rule_id < in[b].rule_id;
	return a < b;
}

static void heap_push(uint32_t *heap, size_t *n, const struct cc_iv *in, uint32_t v)
{
	size_t i = (*n)++;

	heap[i] = v;
	while (i && heap_less(in, heap[i], heap[(i - 1) / 2])) {
		uint32_t t = heap[i];

		heap[i] = heap[(i - 1) / 2];
		heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static void heap_pop(uint32_t *heap, size_t *n, const struct cc_iv *in)
{
	size_t i = 0;

	heap[0] = heap[--(*n)];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < *n && heap_less(in, heap[l], heap[m]))
			m = l;
		if (r < *n && heap_less(in, heap[r], heap[m]))
			m = r;
		if (m == i)
			break;
		uint32_t t = heap[i];

		heap[i] = heap[m];
		heap[m] = t;
		i = m;
	}
}

static int out_append(struct cc_engine *e, size_t *n_out, uint16_t proto, uint32_t lo,
		      uint32_t hi, uint32_t rule_id, uint32_t flags)
{
	struct cc_iv *last = *n_out ? &e->out[*n_out - 1] : NULL;

	/* adjacent intervals with equal tags are one interval */
	if (last && last->proto == proto && (uint32_t)last->hi + 1 == lo &&
	    last->rule_id == rule_id && last->flags == flags) {
		last->hi = (uint16_t)hi;
		return 0;
	}
	if (RESERVE(e->out, e->cap_out, *n_out + 1))
		return -ENOMEM;
	e->out[(*n_out)++] = (struct cc_iv){ .proto = proto, .lo = (uint16_t)lo,
					     .hi = (uint16_t)hi, .rule_id = rule_id,
					     .flags = flags };
	return 0;
}

/*
 * Split the (possibly overlapping) intervals in[0..k) into disjoint ones, each
 * tagged with the lowest covering rule id and the OR of the covering flags;
 * append them to e->out as protocol proto. For a specific protocol, only
 * ports its own items cover are emitted: "all protocols" items take part in
 * the tags there but add no coverage (elsewhere the datapath's ANY retry
 * finds the same answer, so coverage there would only cost blocks).
 */
static int sweep(struct cc_engine *e, size_t *n_out, uint16_t proto,
		 const struct cc_iv *in, size_t k)
{
	size_t hn = 0, nev = 2 * k, i;
	int zc = 0, spec = 0;

	/* a lone item is always the protocol's own (ANY items come with one) */
	if (k == 1)
		return out_append(e, n_out, proto, in[0].lo, in[0].hi, in[0].rule_id,
				  in[0].flags);
	if (RESERVE(e->ev, e->cap_ev, nev))
		return -ENOMEM;
	if (k > e->cap_heap) {
		uint32_t *heap = realloc(e->heap, k * sizeof(*heap));

		if (!heap)
			return -ENOMEM;
		e->heap = heap;
		uint8_t *removed = realloc(e->removed, k);

		if (!removed)
			return -ENOMEM;
		e->removed = removed;
		e->cap_heap = k;
	}
	memset(e->removed, 0, k);
	for (i = 0; i < k; i++) {
		e->ev[2 * i] = (struct cc_event){ in[i].lo, (uint32_t)i, 1 };
		e->ev[2 * i + 1] = (struct cc_event){ (uint32_t)in[i].hi + 1, (uint32_t)i, 0 };
	}
	if (nev <= 32) {
		/* small and mostly ordered already: insertion sort beats qsort */
		for (i = 1; i < nev; i++) {
			struct cc_event t = e->ev[i];
			size_t j = i;

			for (; j > 0 && e->ev[j - 1].pos > t.pos; j--)
				e->ev[j] = e->ev[j - 1];
			e->ev[j] = t;
		}
	} else {
		qsort(e->ev, nev, sizeof(*e->ev), ev_cmp);
	}
	for (i = 0; i < nev;) {
		uint32_t pos = e->ev[i].pos, next;

		for (; i < nev && e->ev[i].pos == pos; i++) {
			uint32_t t = e->ev[i].idx;
			int zero = !!(in[t].flags & SGBPF_PORT_ZERO_PREFIX);
			int own = proto == SGBPF_PROTO_ANY || in[t].proto != SGBPF_PROTO_ANY;

			if (e->ev[i].start) {
				heap_push(e->heap, &hn, in, t);
				zc += zero;
				spec += own;
			} else {
				e->removed[t] = 1;
				zc -= zero;
				spec -= own;
			}
		}
		while (hn && e->removed[e->heap[0]])
			heap_pop(e->heap, &hn, in);
		if (!hn || !spec || pos > 65535)
			continue;
		/* an active item always has its end event still ahead */
		next = e->ev[i].pos;
		if (out_append(e, n_out, proto, pos, next - 1, in[e->heap[0]].rule_id,
			       zc ? SGBPF_PORT_ZERO_PREFIX : 0))
			return -ENOMEM;
	}
	return 0;
}

static int iv_cmp(const void *a, const void *b)
{
	const struct cc_iv *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return (x->rule_id > y->rule_id) - (x->rule_id < y->rule_id);
}

/* Above this many own items of one protocol at one prefix, use the sweep. */
#define OVERLAY_MAX 8

/*
 * Overlay one item [lo, hi] (rule_id, flags) onto the sorted disjoint list
 * src[0..n): covered parts take the lower rule and both flags, gaps inside
 * [lo, hi] take the item's tag. Writes dst (room for 2n + 2); returns its size.
 */
static size_t overlay(struct cc_iv *dst, const struct cc_iv *src, size_t n, uint32_t lo,
		      uint32_t hi, uint32_t rule_id, uint32_t flags)
{
	uint32_t cur = lo;
	size_t k = 0;

#define PUT(l, h, r, f) (dst[k++] = (struct cc_iv){ .lo = (uint16_t)(l), .hi = (uint16_t)(h), \
						  .rule_id = (r), .flags = (f) })
	for (size_t i = 0; i < n; i++) {
		const struct cc_iv *iv = &src[i];

		if (iv->hi < lo) {
			dst[k++] = *iv;
			continue;
		}
		if (iv->lo > hi) {
			if (cur <= hi)
				PUT(cur, hi, rule_id, flags);
			cur = hi + 1;
			dst[k++] = *iv;
			continue;
		}
		if (iv->lo < lo)
			PUT(iv->lo, lo - 1, iv->rule_id, iv->flags);
		if (cur < iv->lo)
			PUT(cur, iv->lo - 1, rule_id, flags);
		PUT(iv->lo > lo ? iv->lo : lo, iv->hi < hi ? iv->hi : hi,
		    iv->rule_id < rule_id ? iv->rule_id : rule_id, iv->flags | flags);
		cur = (uint32_t)(iv->hi < hi ? iv->hi : hi) + 1;
		if (iv->hi > hi)
			PUT(hi + 1, iv->hi, iv->rule_id, iv->flags);
	}
	if (cur <= hi)
		PUT(cur, hi, rule_id, flags);
#undef PUT
	return k;
}

/*
 * Port set of a prefix = its parent's set (already the union of every
 * enclosing prefix's rules) plus the rules expanded exactly to it.
 * "All protocols" items are folded into the ports each specific protocol
 * covers, so the datapath's first lookup (the packet's protocol) yields the
 * lowest rule and the right /0 flag; ports a protocol does not cover miss
 * and the ANY retry answers them. ANY items always span every port, so all
 * of them together act as one tag (lowest rule, OR of flags).
 * Usually a prefix adds one or two rules to its parent's set, so each is
 * overlaid on the parent's (sorted, disjoint) intervals in linear time; many
 * rules on one prefix go through the general sweep.
 */
static int combine(struct cc_engine *e, const struct cc_iv *parent, size_t pn,
		   const struct cc_item *own, size_t on, uint32_t own_flags, size_t *n_out)
{
	size_t a = 0, b = 0, pend = pn, mend = on;
	uint32_t any_rule = UINT32_MAX, any_flags = 0;
	bool has_any = false;
	struct cc_iv *mine;

	if (RESERVE(e->own, e->cap_own, on))
		return -ENOMEM;
	mine = e->own;
	for (size_t i = 0; i < on; i++) {
		const struct cc_ports *pt = &e->ports[own[i].rule_id];
		struct cc_iv iv = { .proto = pt->proto, .lo = pt->lo, .hi = pt->hi,
				    .rule_id = own[i].rule_id, .flags = own_flags };
		size_t j = i;

		/* usually one or two: insertion; many rules on one prefix: qsort below */
		if (on > 16) {
			mine[i] = iv;
			continue;
		}
		for (; j > 0 && iv_cmp(&mine[j - 1], &iv) > 0; j--)
			mine[j] = mine[j - 1];
		mine[j] = iv;
	}
	if (on > 16)
		qsort(mine, on, sizeof(*mine), iv_cmp);
	/* ANY sorts last in both lists */
	for (; pend > 0 && parent[pend - 1].proto == SGBPF_PROTO_ANY; pend--) {
		has_any = true;
		any_rule = parent[pend - 1].rule_id < any_rule ? parent[pend - 1].rule_id : any_rule;
		any_flags |= parent[pend - 1].flags;
	}
	for (; mend > 0 && mine[mend - 1].proto == SGBPF_PROTO_ANY; mend--) {
		has_any = true;
		any_rule = mine[mend - 1].rule_id < any_rule ? mine[mend - 1].rule_id : any_rule;
		any_flags |= mine[mend - 1].flags;
	}

	*n_out = 0;
	while (a < pend || b < mend) {
		uint16_t proto = a < pend ? parent[a].proto : SGBPF_PROTO_ANY;
		size_t a2 = a, b2 = b, n;

		if (b < mend && mine[b].proto < proto)
			proto = mine[b].proto;
		while (a2 < pend && parent[a2].proto == proto)
			a2++;
		while (b2 < mend && mine[b2].proto == proto)
			b2++;
		if (b2 - b > OVERLAY_MAX) {
			n = (a2 - a) + (b2 - b) + has_any;
			if (RESERVE(e->work, e->cap_work, n))
				return -ENOMEM;
			/* parent is NULL for a root set: no &parent[a] then (UB) */
			if (a2 > a)
				memcpy(e->work, &parent[a], (a2 - a) * sizeof(*parent));
			memcpy(e->work + (a2 - a), &mine[b], (b2 - b) * sizeof(*mine));
			if (has_any)
				e->work[n - 1] = (struct cc_iv){ .proto = SGBPF_PROTO_ANY, .hi = 65535,
								 .rule_id = any_rule, .flags = any_flags };
			if (sweep(e, n_out, proto, e->work, n))
				return -ENOMEM;
			a = a2;
			b = b2;
			continue;
		}
		n = a2 - a;
		if (RESERVE(e->work, e->cap_work, 2 * (n + (b2 - b)) + 2) ||
		    RESERVE(e->sweep, e->cap_sweep, 2 * (n + (b2 - b)) + 2))
			return -ENOMEM;
		if (n)
			memcpy(e->work, &parent[a], n * sizeof(*parent));
		for (size_t i = b; i < b2; i++) {
			struct cc_iv *t = e->work;
			size_t cap = e->cap_work;

			/* boundaries grow by two per item: 2 * (n + items) bounds the pieces */
			n = overlay(e->sweep, e->work, n, mine[i].lo, mine[i].hi, mine[i].rule_id,
				    mine[i].flags);
			e->work = e->sweep;
			e->cap_work = e->cap_sweep;
			e->sweep = t;
			e->cap_sweep = cap;
		}
		for (size_t i = 0; i < n; i++) {
			const struct cc_iv *iv = &e->work[i];
			uint32_t rule_id = iv->rule_id, flags = iv->flags;

			if (has_any) {
				rule_id = any_rule < rule_id ? any_rule : rule_id;
				flags |= any_flags;
			}
			if (out_append(e, n_out, proto, iv->lo, iv->hi, rule_id, flags))
				return -ENOMEM;
		}
		a = a2;
		b = b2;
	}
	if (has_any && out_append(e, n_out, SGBPF_PROTO_ANY, 0, 65535, any_rule, any_flags))
		return -ENOMEM;
	return 0;
}

/* Digit d (0 = least significant) of an item's sort key (addr, plen, rule_id). */
static inline uint8_t item_digit(const struct cc_item *it, unsigned d)
{
	if (d < 4)
		return (uint8_t)(it->rule_id >> (8 * d));
	if (d == 4)
		return it->p.plen;
	return it->p.addr[15 - (d - 5)];
}

#define ITEM_DIGITS 21

/*
 * Sort items by (address, prefix length, rule id): LSD radix sort, skipping
 * digits equal in every item (IPv4's 12 zero bytes, high rule id bytes).
 */
static int sort_items(struct cc_engine *e, size_t n)
{
	size_t (*hist)[256];
	struct cc_item *a = e->items, *b;

	if (n < 2)
		return 0;
	if (RESERVE(e->items2, e->cap_items2, n))
		return -ENOMEM;
	if (!e->hist && !(e->hist = malloc(ITEM_DIGITS * sizeof(*e->hist))))
		return -ENOMEM;
	hist = e->hist;
	b = e->items2;
	memset(hist, 0, ITEM_DIGITS * sizeof(*hist));
	for (size_t i = 0; i < n; i++)
		for (unsigned d = 0; d < ITEM_DIGITS; d++)
			hist[d][item_digit(&a[i], d)]++;
	for (unsigned d = 0; d < ITEM_DIGITS; d++) {
		size_t pos[256], sum = 0;
		struct cc_item *t;

		if (hist[d][item_digit(&a[0], d)] == n)
			continue;
		for (int c = 0; c < 256; c++) {
			pos[c] = sum;
			sum += hist[d][c];
		}
		for (size_t i = 0; i < n; i++)
			b[pos[item_digit(&a[i], d)]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	if (a != e->items) {
		/* the sorted run ended in the second buffer: swap the buffers */
		size_t cap = e->cap_items;

		e->items2 = e->items;
		e->cap_items = e->cap_items2;
		e->cap_items2 = cap;
		e->items = a;
	}
	return 0;
}

static int same_pfx(const struct cc_pfx *a, const struct cc_pfx *b)
{
	return a->plen == b->plen && !memcmp(a->addr, b->addr, 16);
}

int cc_compute(struct cc_engine *e, const uint32_t *rule_ids, size_t n, int family,
	       struct cc_emit **out, size_t *n_out, size_t *cap_out)
{
	size_t ni = 0, nb = 0, depth = 0, i, j;
	uint32_t base_id = SGBPF_SET_NONE;

	for (i = 0; i < n; i++)
		ni += e->exp[rule_ids[i]][family].n;
	if (!ni)
		return 0;
	if (RESERVE(e->items, e->cap_items, ni) || RESERVE(e->base, e->cap_base, n))
		return -ENOMEM;
	/*
	 * A rule with a /0 expansion matches every address of the family: it
	 * goes into the base set only, and none of its prefixes (the /0 covers
	 * them all) enter the trie. Copying it into every specific set is what
	 * used to fill the port_trie.
	 */
	ni = 0;
	for (i = 0; i < n; i++) {
		const struct cc_expansion *x = &e->exp[rule_ids[i]][family];
		bool zero = false;

		for (j = 0; j < x->n && !zero; j++)
			zero = x->p[j].plen == 0;
		if (zero) {
			e->base[nb++] = (struct cc_item){ .rule_id = rule_ids[i] };
			continue;
		}
		for (j = 0; j < x->n; j++)
			e->items[ni++] = (struct cc_item){ .p = x->p[j], .rule_id = rule_ids[i] };
	}
	if (nb) {
		size_t nres;
		long id;

		if (combine(e, NULL, 0, e->base, nb, SGBPF_PORT_ZERO_PREFIX, &nres))
			return -ENOMEM;
		id = sets_intern(&e->sets, e->out, nres);
		if (id < 0)
			return (int)id;
		base_id = (uint32_t)id;
		/* the /0 entry: addresses no specific prefix covers still find
		 * the base set (it sorts first: all-zero address, length 0) */
		if (cc_reserve((void **)out, cap_out, *n_out + 1, sizeof(**out)))
			return -ENOMEM;
		(*out)[(*n_out)++] = (struct cc_emit){ .set_id = SGBPF_SET_NONE,
						       .base_set_id = base_id };
	}
	if (sort_items(e, ni))
		return -ENOMEM;

	for (i = 0; i < ni; i = j) {
		const struct cc_pfx *p = &e->items[i].p;
		const struct cc_iv *parent = NULL;
		size_t pn = 0, nres;
		long id;

		for (j = i + 1; j < ni && same_pfx(&e->items[j].p, p); j++)
			;
		while (depth && !cc_covers(&e->stack[depth - 1].p, p))
			depth--;
		if (depth) {
			uint32_t pid = e->stack[depth - 1].set_id;

			parent = &e->sets.ivs[e->sets.off[pid]];
			pn = e->sets.len[pid];
		}
		/* no specific prefix is a /0, so no specific block has the flag */
		if (combine(e, parent, pn, &e->items[i], j - i, 0, &nres))
			return -ENOMEM;
		id = sets_intern(&e->sets, e->out, nres);
		if (id < 0)
			return (int)id;
		/* depth <= plen <= 128: each stacked prefix strictly contains the next */
		e->stack[depth].p = *p;
		e->stack[depth].set_id = (uint32_t)id;
		depth++;
		if (cc_reserve((void **)out, cap_out, *n_out + 1, sizeof(**out)))
			return -ENOMEM;
		(*out)[(*n_out)++] = (struct cc_emit){ .p = *p, .set_id = (uint32_t)id,
						       .base_set_id = base_id };
	}
	return 0;
}
