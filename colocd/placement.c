/*
 * placement: the controller's registry of node gaps and where new leases go
 * (policy in placement.h).
 *
 * Data structures: nodes[] holds each node's gap as last reported plus the
 * leases placed since; hot[] holds, per node, what a decision reads (until,
 * free memory, free GPUs, free PU counts by class) in a compact array, and
 * links the node into one of NBUCKETS doubly linked lists by its preference
 * key (bucket_of: tier of its best free PUs, then how many, counting at most
 * one PU per MEM_QUANTUM of free memory). A bitmap of non-empty buckets finds
 * the best bucket in a few word tests, so a decision visits only the nodes
 * it uses plus those it rejects for time, memory or GPUs, never a cpumask of
 * a node it does not use; each bucket keeps upper bounds of its nodes'
 * time limits and free memory, so a decision also skips whole buckets that
 * cannot serve it. Nodes with a free GPU are also in a second set of buckets
 * (IX_GPU), which requests for GPUs walk instead, and every node is in a
 * third (IX_SIZE) keyed by free PUs alone, which names the largest gap when
 * a request cannot be placed. Drained nodes and nodes with no free PU are in
 * no bucket. Costs: a decision is O(nodes used + nodes rejected in the
 * buckets it walks + 64 bitmap words); update and release are O(cpumask). The arrays grow (double)
 * as node ids come that do not fit.
 *
 * Locking: none; the owner serializes calls.
 */
#include "config.h"

#include "placement.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONE UINT32_MAX
#define TIER_SPAN (CPUMASK_MAX + 1)
#define NBUCKETS (4 * TIER_SPAN)
#define BITMAP_WORDS ((NBUCKETS + 63) / 64)
#define MAX_NODES_LIMIT (1u << 28)
#define MEM_QUANTUM (256ull << 20) /* a node ranks by at most one PU per 256 MiB free */

/* Bucket indexes: all nodes by preference; nodes with a free GPU by
 * preference; all nodes by free PUs (for the -ENOSPC message). */
enum { IX_ALL, IX_GPU, IX_SIZE, NINDEX };

/* PU classes in order of preference. */
enum { C_UNALLOC_FAR, C_UNALLOC_NEAR, C_FAR, C_NEAR, NCLASSES };

struct node_hot {
	int64_t until;
	uint64_t mem_free;
	uint32_t gpus_free;
	uint32_t prev[NINDEX], next[NINDEX]; /* bucket list links */
	uint16_t nfree;			     /* free PUs */
	uint16_t nclass[NCLASSES];	     /* free PUs by class */
	uint16_t bucket[NINDEX];	     /* 0: in no bucket */
	uint8_t present;
};

struct bucket_index {
	uint32_t head[NBUCKETS], tail[NBUCKETS];
	uint64_t nonempty[BITMAP_WORDS];
	/* upper bounds of until and mem_free over each bucket's nodes: raised
	 * when a node comes in, made exact when a decision walks the whole
	 * bucket, so that a decision skips buckets that cannot serve it */
	int64_t max_until[NBUCKETS];
	uint64_t max_mem[NBUCKETS];
};

struct placement {
	unsigned max_nodes;
	struct place_node *nodes;
	struct node_hot *hot;
	struct bucket_index ix[NINDEX];
	/* a decision's plan, before anything changes */
	uint32_t plan_node[PLACE_MAX_WORKERS];
	uint32_t plan_cap[PLACE_MAX_WORKERS];
	uint32_t plan_workers[PLACE_MAX_WORKERS];
	uint32_t plan_gpus[PLACE_MAX_WORKERS];
};

/* ---- per-node counts and buckets ------------------------------------------ */

/* Word i of the free PUs of class c: lendable, not leased, in that class. */
static uint64_t class_word(const struct place_node *n, int c, size_t i)
{
	uint64_t free = n->lendable.bits[i] & ~n->leased.bits[i];
	uint64_t u = n->unallocated.bits[i], near = n->near_host.bits[i];

	switch (c) {
	case C_UNALLOC_FAR:
		return free & u & ~near;
	case C_UNALLOC_NEAR:
		return free & u & near;
	case C_FAR:
		return free & ~u & ~near;
	default:
		return free & ~u & near;
	}
}

static unsigned popcount_gpus(uint32_t g)
{
	return (unsigned)__builtin_popcount(g);
}

/* Bucket of a node, higher first: tier 3 when it has free unallocated PUs
 * (keyed by how many), tier 2 when it has free PUs away from the host
 * (keyed by how many), tier 1 for the rest (keyed by free PUs), each count
 * capped at one PU per MEM_QUANTUM of free memory; tier 0 for nodes with
 * less than that (keyed by free PUs). 0: no bucket. */
static unsigned bucket_of(const struct place_node *n, const struct node_hot *h)
{
	unsigned u = h->nclass[C_UNALLOC_FAR] + h->nclass[C_UNALLOC_NEAR], tier, v;
	uint64_t mcap = h->mem_free / MEM_QUANTUM;

	if (n->drained || h->nfree == 0)
		return 0;
	if (mcap == 0)
		return h->nfree;
	if (u) {
		tier = 3;
		v = u;
	} else if (h->nclass[C_FAR]) {
		tier = 2;
		v = h->nclass[C_FAR];
	} else {
		tier = 1;
		v = h->nfree;
	}
	if (mcap < v)
		v = (unsigned)mcap;
	return tier * TIER_SPAN + v;
}

static void bucket_unlink(struct placement *p, int x, uint32_t id)
{
	struct bucket_index *ix = &p->ix[x];
	struct node_hot *h = &p->hot[id];
	unsigned b = h->bucket[x];

	if (!b)
		return;
	if (h->prev[x] != NONE)
		p->hot[h->prev[x]].next[x] = h->next[x];
	else
		ix->head[b] = h->next[x];
	if (h->next[x] != NONE)
		p->hot[h->next[x]].prev[x] = h->prev[x];
	else
		ix->tail[b] = h->prev[x];
	if (ix->head[b] == NONE)
		ix->nonempty[b / 64] &= ~(1ull << (b % 64));
	h->bucket[x] = 0;
	h->prev[x] = h->next[x] = NONE;
}

/* Appends node id to bucket b (0: none) of index x. */
static void bucket_link(struct placement *p, int x, uint32_t id, unsigned b)
{
	struct bucket_index *ix = &p->ix[x];
	struct node_hot *h = &p->hot[id];

	h->bucket[x] = (uint16_t)b;
	h->prev[x] = h->next[x] = NONE;
	if (!b)
		return;
	h->prev[x] = ix->tail[b];
	if (ix->tail[b] != NONE) {
		p->hot[ix->tail[b]].next[x] = id;
	} else {
		ix->head[b] = id;
		ix->max_until[b] = INT64_MIN;
		ix->max_mem[b] = 0;
	}
	ix->tail[b] = id;
	ix->nonempty[b / 64] |= 1ull << (b % 64);
}

/* Copies a node's scalars into hot[] and moves it to its buckets; its
 * free PU counts are up to date. */
static void node_rebucket(struct placement *p, uint32_t id)
{
	const struct place_node *n = &p->nodes[id];
	struct node_hot *h = &p->hot[id];
	unsigned b;

	h->until = n->until;
	h->mem_free = n->mem_free;
	h->gpus_free = n->gpus_free;
	for (int x = 0; x < NINDEX; x++) {
		struct bucket_index *ix = &p->ix[x];

		b = bucket_of(n, h);
		if (x == IX_GPU && !h->gpus_free)
			b = 0;
		if (x == IX_SIZE && b)
			b = h->nfree;
		if (b != h->bucket[x]) {
			bucket_unlink(p, x, id);
			bucket_link(p, x, id, b);
		}
		if (b && ix->max_until[b] < h->until)
			ix->max_until[b] = h->until;
		if (b && ix->max_mem[b] < h->mem_free)
			ix->max_mem[b] = h->mem_free;
	}
}

/* Recomputes a node's cached counts from its gap and moves it to its buckets. */
static void node_refresh(struct placement *p, uint32_t id)
{
	const struct place_node *n = &p->nodes[id];
	struct node_hot *h = &p->hot[id];
	unsigned total = 0;

	for (int c = 0; c < NCLASSES; c++) {
		unsigned k = 0;

		for (size_t i = 0; i < CPUMASK_MAX / 64; i++)
			k += (unsigned)__builtin_popcountll(class_word(n, c, i));
		h->nclass[c] = (uint16_t)k;
		total += k;
	}
	h->nfree = (uint16_t)total;
	node_rebucket(p, id);
}

/* Highest non-empty bucket of ix <= from, or 0. */
static unsigned bucket_prev(const struct bucket_index *ix, unsigned from)
{
	int w = (int)(from / 64);
	uint64_t bits = ix->nonempty[w] & (from % 64 == 63 ? ~0ull : (2ull << (from % 64)) - 1);

	for (;;) {
		if (bits)
			return (unsigned)(w * 64 + 63 - __builtin_clzll(bits));
		if (--w < 0)
			return 0;
		bits = ix->nonempty[w];
	}
}

/* ---- registry ------------------------------------------------------------- */

struct placement *placement_create(unsigned max_nodes)
{
	struct placement *p;

	if (max_nodes == 0 || max_nodes > MAX_NODES_LIMIT) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto fail;
	p->max_nodes = max_nodes;
	p->nodes = calloc(max_nodes, sizeof(*p->nodes));
	if (!p->nodes)
		goto fail_nodes;
	p->hot = calloc(max_nodes, sizeof(*p->hot));
	if (!p->hot)
		goto fail_hot;
	for (unsigned i = 0; i < max_nodes; i++)
		for (int x = 0; x < NINDEX; x++)
			p->hot[i].prev[x] = p->hot[i].next[x] = NONE;
	for (int x = 0; x < NINDEX; x++)
		for (unsigned b = 0; b < NBUCKETS; b++)
			p->ix[x].head[b] = p->ix[x].tail[b] = NONE;
	return p;

fail_hot:
	free(p->nodes);
fail_nodes:
	free(p);
fail:
	errno = ENOMEM;
	return NULL;
}

void placement_destroy(struct placement *p)
{
	if (!p)
		return;
	free(p->hot);
	free(p->nodes);
	free(p);
}

/* Makes room for node ids up to id (at most MAX_NODES_LIMIT): the arrays
 * double; bucket links are ids, so they survive the move. */
static int grow_to(struct placement *p, uint32_t id)
{
	unsigned n = p->max_nodes;
	struct place_node *nodes;
	struct node_hot *hot;

	if (id >= MAX_NODES_LIMIT)
		return -EINVAL;
	while (n <= id)
		n = n * 2 < MAX_NODES_LIMIT ? n * 2 : MAX_NODES_LIMIT;
	nodes = realloc(p->nodes, (size_t)n * sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	p->nodes = nodes;
	hot = realloc(p->hot, (size_t)n * sizeof(*hot));
	if (!hot)
		return -ENOMEM;
	p->hot = hot;
	memset(nodes + p->max_nodes, 0, (size_t)(n - p->max_nodes) * sizeof(*nodes));
	memset(hot + p->max_nodes, 0, (size_t)(n - p->max_nodes) * sizeof(*hot));
	for (unsigned i = p->max_nodes; i < n; i++)
		for (int x = 0; x < NINDEX; x++)
			hot[i].prev[x] = hot[i].next[x] = NONE;
	p->max_nodes = n;
	return 0;
}

int placement_update(struct placement *p, const struct place_node *n)
{
	int rc;

	if (!p || !n)
		return -EINVAL;
	if (n->id >= p->max_nodes && (rc = grow_to(p, n->id)) != 0)
		return rc;
	p->nodes[n->id] = *n;
	p->nodes[n->id].name[sizeof(n->name) - 1] = '\0';
	p->hot[n->id].present = 1;
	node_refresh(p, n->id);
	return 0;
}

int placement_remove(struct placement *p, uint32_t node)
{
	if (!p || node >= p->max_nodes || !p->hot[node].present)
		return -ENOENT;
	for (int x = 0; x < NINDEX; x++)
		bucket_unlink(p, x, node);
	memset(&p->nodes[node], 0, sizeof(p->nodes[node]));
	memset(&p->hot[node], 0, sizeof(p->hot[node]));
	for (int x = 0; x < NINDEX; x++)
		p->hot[node].prev[x] = p->hot[node].next[x] = NONE;
	return 0;
}

int placement_get(const struct placement *p, uint32_t node, struct place_node *out)
{
	if (!p || node >= p->max_nodes || !p->hot[node].present)
		return -ENOENT;
	*out = p->nodes[node];
	return 0;
}

/* ---- decisions ---------------------------------------------------------- */

/* Workers node h can take for r (0: not eligible). */
static unsigned node_capacity(const struct node_hot *h, const struct place_request *r, int64_t end)
{
	unsigned cap = h->nfree;

	if (h->until < end || h->mem_free < r->mem_per_worker)
		return 0;
	if (r->gpus && !h->gpus_free)
		return 0;
	if (r->mem_per_worker && h->mem_free / r->mem_per_worker < cap)
		cap = (unsigned)(h->mem_free / r->mem_per_worker);
	if (r->max_workers_per_node && r->max_workers_per_node < cap)
		cap = r->max_workers_per_node;
	return cap;
}

/* Is gap a larger than gap b (for the -ENOSPC message)? */
static bool gap_larger(const struct node_hot *a, const struct node_hot *b)
{
	if (a->nfree != b->nfree)
		return a->nfree > b->nfree;
	return a->mem_free > b->mem_free;
}

static void fmt_bytes(char *buf, size_t len, uint64_t v)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	while (v >= 1024 && v % 1024 == 0 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u < 5 && v >= 1024) { /* not a whole number of the next unit */
		double d = (double)v;
		int du = u;

		while (d >= 1024 && du < 5) {
			d /= 1024;
			du++;
		}
		snprintf(buf, len, "%.1f%c", d, units[du]);
		return;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64 "B", v);
	else
		snprintf(buf, len, "%" PRIu64 "%c", v, units[u]);
}

static void fmt_duration(char *buf, size_t len, int64_t s)
{
	if (s >= 3600)
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	else
		snprintf(buf, len, "%" PRId64 "s", s);
}

static void explain_enospc(const struct placement *p, const struct place_request *r, uint32_t best,
			   char *err, size_t errlen)
{
	char asked[160], mem[32], dur[32];
	int k;

	if (!err || errlen == 0)
		return;
	fmt_bytes(mem, sizeof(mem), r->mem_per_worker);
	fmt_duration(dur, sizeof(dur), r->duration_s);
	k = snprintf(asked, sizeof(asked), "asked %u worker%s x %s", r->workers,
		     r->workers == 1 ? "" : "s", mem);
	if (r->gpus && k > 0 && (size_t)k < sizeof(asked))
		k += snprintf(asked + k, sizeof(asked) - (size_t)k, ", %u GPU%s", r->gpus,
			      r->gpus == 1 ? "" : "s");
	if (k > 0 && (size_t)k < sizeof(asked))
		snprintf(asked + k, sizeof(asked) - (size_t)k, " for %s", dur);
	if (best == NONE) {
		snprintf(err, errlen, "no node has a %s; %s", r->gpus ? "free GPU" : "gap", asked);
		return;
	}
	const struct place_node *n = &p->nodes[best];
	const struct node_hot *h = &p->hot[best];
	char until[48], gpus[32] = "";

	if (h->until == INT64_MAX) {
		snprintf(until, sizeof(until), "with no time limit");
	} else {
		time_t t = (time_t)h->until;
		struct tm tm;

		if (gmtime_r(&t, &tm))
			snprintf(until, sizeof(until), "until %02d:%02d UTC", tm.tm_hour,
				 tm.tm_min);
		else
			snprintf(until, sizeof(until), "until %" PRId64, h->until);
	}
	if (r->gpus)
		snprintf(gpus, sizeof(gpus), ", %u GPU%s", popcount_gpus(h->gpus_free),
			 popcount_gpus(h->gpus_free) == 1 ? "" : "s");
	fmt_bytes(mem, sizeof(mem), h->mem_free);
	snprintf(err, errlen, "largest gap: %u core%s, %s%s on %s %s; %s", h->nfree,
		 h->nfree == 1 ? "" : "s", mem, gpus, n->name[0] ? n->name : "(unnamed)", until,
		 asked);
}

/* Largest gap among the nodes in the buckets of index x, or NONE. */
static uint32_t largest_gap(const struct placement *p, int x)
{
	const struct bucket_index *ix = &p->ix[x];
	uint32_t best = NONE;

	for (unsigned b = bucket_prev(ix, NBUCKETS - 1); b; b = bucket_prev(ix, b - 1)) {
		for (uint32_t id = ix->head[b]; id != NONE; id = p->hot[id].next[x])
			if (best == NONE || gap_larger(&p->hot[id], &p->hot[best]))
				best = id;
	}
	return best;
}

/* Takes the k best free PUs of node n into *pus (classes in order, then by
 * number), counting in taken[] how many of each class; the node has at
 * least k free. */
static void take_pus(const struct place_node *n, unsigned k, struct cpumask *pus,
		     unsigned taken[NCLASSES])
{
	cpumask_clear(pus);
	for (int c = 0; c < NCLASSES; c++) {
		taken[c] = 0;
		for (size_t i = 0; i < CPUMASK_MAX / 64 && k; i++) {
			uint64_t w = class_word(n, c, i);

			while (w && k) {
				pus->bits[i] |= w & -w;
				w &= w - 1;
				k--;
				taken[c]++;
			}
		}
	}
}

static uint32_t take_gpus(uint32_t free, unsigned k)
{
	uint32_t g = 0;

	while (free && k--) {
		g |= free & -free;
		free &= free - 1;
	}
	return g;
}

int placement_place(struct placement *p, const struct place_request *r,
		    struct place_assignment *out, unsigned max_out, unsigned *n, char *err,
		    size_t errlen)
{
	unsigned max_nodes, ncand = 0, sum_cap = 0, sum_gpus = 0, left;
	uint32_t best = NONE;
	bool exhausted = true;
	struct bucket_index *ix;
	int64_t end;
	int x;

	if (n)
		*n = 0;
	if (err && errlen)
		err[0] = '\0';
	if (!p || !r || !out || !n || max_out == 0 || r->workers == 0 ||
	    r->workers > PLACE_MAX_WORKERS || r->duration_s <= 0 ||
	    (r->mode != PLACE_SPREAD && r->mode != PLACE_PACK)) {
		if (err && errlen)
			snprintf(err, errlen, "invalid request: %s",
				 !r || r->workers == 0 || r->workers > PLACE_MAX_WORKERS
				     ? "workers must be 1 to " LEASE_MAX_WORKERS_TEXT
				 : r->duration_s <= 0 ? "duration must be positive"
						      : "bad mode or output");
		return -EINVAL;
	}
	if (__builtin_add_overflow(r->now, r->duration_s, &end))
		end = INT64_MAX;
	max_nodes = r->workers < max_out ? r->workers : max_out;
	x = r->gpus ? IX_GPU : IX_ALL;
	ix = &p->ix[x];

	/* Gather candidates in preference order until they can hold the
	 * request (PACK) or there is one per worker (SPREAD). */
	for (unsigned b = bucket_prev(ix, NBUCKETS - 1); b && exhausted;
	     b = bucket_prev(ix, b - 1)) {
		int64_t max_until = INT64_MIN;
		uint64_t max_mem = 0;
		uint32_t id;

		if (ix->max_until[b] < end || ix->max_mem[b] < r->mem_per_worker)
			continue;
		for (id = ix->head[b]; id != NONE; id = p->hot[id].next[x]) {
			const struct node_hot *h = &p->hot[id];
			unsigned cap = node_capacity(h, r, end);

			if (max_until < h->until)
				max_until = h->until;
			if (max_mem < h->mem_free)
				max_mem = h->mem_free;
			if (!cap)
				continue;
			/* the last node it may use must complete the request:
			 * a less preferred node that does is taken instead */
			if (ncand + 1 == max_nodes &&
			    (sum_cap + cap < r->workers ||
			     sum_gpus + popcount_gpus(h->gpus_free) < r->gpus))
				continue;
			p->plan_node[ncand] = id;
			p->plan_cap[ncand] = cap;
			ncand++;
			sum_cap += cap;
			sum_gpus += popcount_gpus(h->gpus_free);
			if (ncand == max_nodes || (r->mode == PLACE_PACK && sum_cap >= r->workers &&
						   sum_gpus >= r->gpus)) {
				exhausted = false;
				break;
			}
		}
		if (id == NONE) { /* walked it all: the bounds are exact */
			ix->max_until[b] = max_until;
			ix->max_mem[b] = max_mem;
		}
	}
	if (sum_cap < r->workers || sum_gpus < r->gpus)
		goto enospc;

	/* Workers: one per candidate, then round robin (SPREAD) or in order
	 * (PACK) up to each one's capacity. */
	for (unsigned i = 0; i < ncand; i++) {
		p->plan_workers[i] = 1;
		p->plan_gpus[i] = 0;
	}
	left = r->workers - ncand;
	if (r->mode == PLACE_SPREAD) {
		while (left) {
			for (unsigned i = 0; i < ncand && left; i++)
				if (p->plan_workers[i] < p->plan_cap[i]) {
					p->plan_workers[i]++;
					left--;
				}
		}
	} else {
		for (unsigned i = 0; i < ncand && left; i++) {
			unsigned more = p->plan_cap[i] - p->plan_workers[i];

			if (more > left)
				more = left;
			p->plan_workers[i] += more;
			left -= more;
		}
	}
	/* GPUs on the same nodes: round robin (SPREAD) or in order (PACK). */
	left = r->gpus;
	if (r->mode == PLACE_SPREAD) {
		while (left) {
			for (unsigned i = 0; i < ncand && left; i++)
				if (p->plan_gpus[i] <
				    popcount_gpus(p->hot[p->plan_node[i]].gpus_free)) {
					p->plan_gpus[i]++;
					left--;
				}
		}
	} else {
		for (unsigned i = 0; i < ncand && left; i++) {
			unsigned more = popcount_gpus(p->hot[p->plan_node[i]].gpus_free);

			if (more > left)
				more = left;
			p->plan_gpus[i] = more;
			left -= more;
		}
	}

	/* Commit. */
	for (unsigned i = 0; i < ncand; i++) {
		uint32_t id = p->plan_node[i];
		struct place_node *node = &p->nodes[id];
		struct node_hot *h = &p->hot[id];
		struct place_assignment *a = &out[i];
		unsigned taken[NCLASSES];

		a->node = id;
		take_pus(node, p->plan_workers[i], &a->pus, taken);
		a->mem = (uint64_t)p->plan_workers[i] * r->mem_per_worker;
		a->gpus = take_gpus(node->gpus_free, p->plan_gpus[i]);
		cpumask_or(&node->leased, &node->leased, &a->pus);
		node->mem_free -= a->mem;
		node->gpus_free &= ~a->gpus;
		for (int c = 0; c < NCLASSES; c++)
			h->nclass[c] = (uint16_t)(h->nclass[c] - taken[c]);
		h->nfree = (uint16_t)(h->nfree - p->plan_workers[i]);
		node_rebucket(p, id);
	}
	*n = ncand;
	return 0;

enospc:
	best = p->ix[IX_SIZE].head[bucket_prev(&p->ix[IX_SIZE], NBUCKETS - 1)];
	if (x == IX_GPU)
		best = largest_gap(p, IX_GPU);
	explain_enospc(p, r, best, err, errlen);
	return -ENOSPC;
}

int placement_place_memory(struct placement *p, uint64_t bytes, int64_t now, int64_t duration_s,
			   struct place_assignment *out, char *err, size_t errlen)
{
	uint32_t best = NONE, roomiest = NONE;
	char asked[32], mem[32], dur[32];

	if (!p || !out || bytes == 0 || duration_s <= 0)
		return -EINVAL;
	for (uint32_t id = 0; id < p->max_nodes; id++) {
		const struct place_node *n = &p->nodes[id];

		if (!p->hot[id].present || n->drained || n->until < now + duration_s)
			continue;
		if (roomiest == NONE || n->mem_free > p->nodes[roomiest].mem_free)
			roomiest = id;
		if (n->mem_free >= bytes && (best == NONE || n->mem_free > p->nodes[best].mem_free))
			best = id;
	}
	if (best == NONE) {
		if (err && errlen) {
			fmt_bytes(asked, sizeof(asked), bytes);
			fmt_duration(dur, sizeof(dur), duration_s);
			if (roomiest == NONE) {
				snprintf(err, errlen,
					 "no node lends memory for %s; asked a memory lease of %s",
					 dur, asked);
			} else {
				fmt_bytes(mem, sizeof(mem), p->nodes[roomiest].mem_free);
				snprintf(
				    err, errlen,
				    "the most memory headroom lent: %s on %s; asked a memory "
				    "lease of %s (its region and the executor's margin) for %s",
				    mem, p->nodes[roomiest].name, asked, dur);
			}
		}
		return -ENOSPC;
	}
	memset(out, 0, sizeof(*out));
	out->node = best;
	out->mem = bytes;
	p->nodes[best].mem_free -= bytes;
	node_rebucket(p, best);
	return 0;
}

int placement_release(struct placement *p, const struct place_assignment *a, unsigned n)
{
	int rc = 0;

	if (!p || (!a && n))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		struct place_node *node;
		struct cpumask still;

		if (a[i].node >= p->max_nodes || !p->hot[a[i].node].present) {
			rc = -ENOENT;
			continue;
		}
		node = &p->nodes[a[i].node];
		cpumask_and(&still, &node->leased, &a[i].pus);
		if (cpumask_empty(&still) && !cpumask_empty(&a[i].pus))
			continue; /* the node agent's report already gave it back */
		cpumask_andnot(&node->leased, &node->leased, &a[i].pus);
		node->mem_free += a[i].mem;
		node->gpus_free |= a[i].gpus;
		node_refresh(p, a[i].node);
	}
	return rc;
}
