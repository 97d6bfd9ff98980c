/*
 * test_placement: colocd/placement.c, where the controller puts a lease.
 * Within a node it prefers unallocated PUs, then PUs away from the host's
 * running steps, and never hands out a leased or non-lendable PU; across
 * nodes it spreads or packs as asked; it respects each gap's time limit,
 * memory, GPUs, drain state and a per-node worker cap; it places all
 * workers or none and says why; releases and gap updates give capacity back.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "placement.h"

#define G (1ull << 30)
#define NOW 1728000000 /* 2024-10-04 00:00:00 UTC */

static void set_range(struct cpumask *m, unsigned from, unsigned to)
{
	for (unsigned c = from; c <= to; c++)
		cpumask_set(m, c);
}

/* A node lending PUs 0..npus-1, of which the first nunalloc are unallocated,
 * with plenty of memory and time and no GPUs. */
static struct place_node node_make(uint32_t id, unsigned npus, unsigned nunalloc)
{
	struct place_node n;

	memset(&n, 0, sizeof(n));
	n.id = id;
	snprintf(n.name, sizeof(n.name), "node%u", id);
	set_range(&n.lendable, 0, npus - 1);
	if (nunalloc)
		set_range(&n.unallocated, 0, nunalloc - 1);
	n.mem_free = 64 * G;
	n.until = INT64_MAX;
	return n;
}

static struct place_request req(unsigned workers, enum place_mode mode)
{
	struct place_request r = {.workers = workers,
				  .mem_per_worker = 1 * G,
				  .now = NOW,
				  .duration_s = 3600,
				  .mode = mode};
	return r;
}

static int setup(void **state)
{
	*state = placement_create(16);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	placement_destroy(*state);
	return 0;
}

/* Same gap, field by field (padding bytes are not compared). */
static void assert_node_equal(const struct place_node *a, const struct place_node *b)
{
	assert_int_equal(a->id, b->id);
	assert_string_equal(a->name, b->name);
	assert_true(cpumask_equal(&a->lendable, &b->lendable));
	assert_true(cpumask_equal(&a->unallocated, &b->unallocated));
	assert_true(cpumask_equal(&a->near_host, &b->near_host));
	assert_true(cpumask_equal(&a->leased, &b->leased));
	assert_true(a->mem_free == b->mem_free);
	assert_int_equal(a->gpus_free, b->gpus_free);
	assert_true(a->until == b->until);
	assert_int_equal(a->drained, b->drained);
}

static unsigned workers_on(const struct place_assignment *a, unsigned n, uint32_t node)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i].node == node)
			return cpumask_count(&a[i].pus);
	return 0;
}

static unsigned total_workers(const struct place_assignment *a, unsigned n)
{
	unsigned t = 0;

	for (unsigned i = 0; i < n; i++)
		t += cpumask_count(&a[i].pus);
	return t;
}

/* ---- within a node --------------------------------------------------------- */

static void test_prefers_unallocated_then_far(void **state)
{
	struct placement *p = *state;
	struct place_node n = node_make(0, 16, 0);
	struct place_request r = req(6, PLACE_PACK);
	struct place_assignment out[4];
	struct cpumask want;
	unsigned cnt;

	set_range(&n.unallocated, 8, 11);
	set_range(&n.near_host, 0, 3);
	set_range(&n.near_host, 8, 9);
	assert_int_equal(placement_update(p, &n), 0);
	/* unallocated and away from the host, unallocated near it, then
	 * allocated-but-idle away from the host, by number */
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	assert_int_equal(cnt, 1);
	cpumask_clear(&want);
	set_range(&want, 8, 11);
	set_range(&want, 4, 5);
	assert_true(cpumask_equal(&out[0].pus, &want));
	assert_true(out[0].mem == 6 * G);
	/* what is left near the host goes last */
	r.workers = 6;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	cpumask_clear(&want);
	set_range(&want, 6, 7);
	set_range(&want, 12, 15);
	assert_true(cpumask_equal(&out[0].pus, &want));
	r.workers = 4;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	cpumask_clear(&want);
	set_range(&want, 0, 3);
	assert_true(cpumask_equal(&out[0].pus, &want));
}

static void test_never_leased_or_not_lendable(void **state)
{
	struct placement *p = *state;
	struct place_node n = node_make(0, 1, 0), got;
	struct place_request r = req(13, PLACE_PACK);
	struct place_assignment out[4];
	struct cpumask want;
	unsigned cnt;
	char err[256];

	cpumask_clear(&n.lendable);
	for (unsigned c = 0; c < 32; c += 2)
		cpumask_set(&n.lendable, c);
	set_range(&n.unallocated, 0, 31); /* odd ones are not lendable: ignored */
	cpumask_set(&n.leased, 0);
	cpumask_set(&n.leased, 2);
	cpumask_set(&n.leased, 4);
	cpumask_set(&n.lendable, 700); /* a high PU, also free */
	assert_int_equal(placement_update(p, &n), 0);
	r.workers = 14;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	cpumask_andnot(&want, &n.lendable, &n.leased);
	assert_true(cpumask_equal(&out[0].pus, &want));
	assert_int_equal(placement_get(p, 0, &got), 0);
	assert_true(cpumask_equal(&got.leased, &got.lendable));
	r.workers = 1;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, err, sizeof(err)), -ENOSPC);
	assert_int_equal(cnt, 0);
}

/* ---- across nodes ------------------------------------------------------------ */

static void three_nodes(struct placement *p)
{
	struct place_node a = node_make(0, 16, 8), b = node_make(1, 16, 4), c = node_make(2, 16, 6);

	assert_int_equal(placement_update(p, &a), 0);
	assert_int_equal(placement_update(p, &b), 0);
	assert_int_equal(placement_update(p, &c), 0);
}

static void test_spread(void **state)
{
	struct placement *p = *state;
	struct place_request r = req(3, PLACE_SPREAD);
	struct place_assignment out[8];
	unsigned cnt;

	three_nodes(p);
	assert_int_equal(placement_place(p, &r, out, 8, &cnt, NULL, 0), 0);
	assert_int_equal(cnt, 3);
	for (uint32_t id = 0; id < 3; id++) {
		assert_int_equal(workers_on(out, cnt, id), 1);
	}
	/* most free unallocated first */
	assert_int_equal(out[0].node, 0);
	assert_int_equal(out[1].node, 2);
	assert_int_equal(out[2].node, 1);
	/* more workers than nodes: round robin */
	r.workers = 7;
	assert_int_equal(placement_place(p, &r, out, 8, &cnt, NULL, 0), 0);
	assert_int_equal(cnt, 3);
	assert_int_equal(total_workers(out, cnt), 7);
	for (uint32_t id = 0; id < 3; id++) {
		assert_in_range(workers_on(out, cnt, id), 2, 3);
	}
	/* max_out bounds the nodes used: two nodes share the workers */
	r.workers = 4;
	assert_int_equal(placement_place(p, &r, out, 2, &cnt, NULL, 0), 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(cpumask_count(&out[0].pus), 2);
	assert_int_equal(cpumask_count(&out[1].pus), 2);
}

/* max_out bounds the nodes; the last one taken completes the request, even
 * when a more preferred node does not (the controller places a lease on
 * one node). */
static void test_max_out_takes_a_node_that_fits(void **state)
{
	struct placement *p = *state;
	struct place_node preferred = node_make(0, 4, 4), roomy = node_make(1, 16, 0);
	struct place_assignment out[1];
	struct place_request r;
	unsigned cnt;

	preferred.gpus_free = 0x1;
	roomy.gpus_free = 0x3;
	assert_int_equal(placement_update(p, &preferred), 0);
	assert_int_equal(placement_update(p, &roomy), 0);
	r = req(6, PLACE_SPREAD);
	assert_int_equal(placement_place(p, &r, out, 1, &cnt, NULL, 0), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(out[0].node, roomy.id);
	assert_int_equal(cpumask_count(&out[0].pus), 6);
	/* one worker, two GPUs: where both are free */
	r = req(1, PLACE_PACK);
	r.gpus = 2;
	assert_int_equal(placement_place(p, &r, out, 1, &cnt, NULL, 0), 0);
	assert_int_equal(out[0].node, roomy.id);
	assert_int_equal(out[0].gpus, 0x3);
	/* the preferred node still comes first where it holds the request */
	r = req(4, PLACE_SPREAD);
	assert_int_equal(placement_place(p, &r, out, 1, &cnt, NULL, 0), 0);
	assert_int_equal(out[0].node, preferred.id);
}

static void test_pack(void **state)
{
	struct placement *p = *state;
	struct place_request r = req(6, PLACE_PACK);
	struct place_assignment out[8];
	unsigned cnt;

	three_nodes(p);
	assert_int_equal(placement_place(p, &r, out, 8, &cnt, NULL, 0), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(out[0].node, 0);
	assert_int_equal(cpumask_count(&out[0].pus), 6);
	/* node 2 now has the most free unallocated PUs (6 against 2 and 4) */
	r.workers = 20;
	assert_int_equal(placement_place(p, &r, out, 8, &cnt, NULL, 0), 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(out[0].node, 2);
	assert_int_equal(cpumask_count(&out[0].pus), 16);
	assert_int_equal(out[1].node, 1);
	assert_int_equal(cpumask_count(&out[1].pus), 4);
}

static void test_max_workers_per_node(void **state)
{
	struct placement *p = *state;
	struct place_request r = req(8, PLACE_PACK);
	struct place_assignment out[8];
	unsigned cnt;
	char err[256];

	three_nodes(p);
	r.max_workers_per_node = 3;
	assert_int_equal(placement_place(p, &r, out, 8, &cnt, NULL, 0), 0);
	assert_int_equal(cnt, 3);
	assert_int_equal(workers_on(out, cnt, 0), 3);
	assert_int_equal(workers_on(out, cnt, 2), 3);
	assert_int_equal(workers_on(out, cnt, 1), 2);
	r.workers = 10; /* 3 nodes x 3 at most */
	assert_int_equal(placement_place(p, &r, out, 8, &cnt, err, sizeof(err)), -ENOSPC);
}

static void test_until_excludes_node(void **state)
{
	struct placement *p = *state;
	struct place_node a = node_make(0, 16, 16), b = node_make(1, 4, 0);
	struct place_request r = req(1, PLACE_SPREAD);
	struct place_assignment out[4];
	unsigned cnt;

	a.until = NOW + 600; /* the host job ends in 10 min */
	b.until = NOW + 7200;
	assert_int_equal(placement_update(p, &a), 0);
	assert_int_equal(placement_update(p, &b), 0);
	r.duration_s = 3600;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	assert_int_equal(out[0].node, 1);
	r.duration_s = 600; /* ends exactly when the gap does: fine */
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	assert_int_equal(out[0].node, 0);
	r.duration_s = 7201;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), -ENOSPC);
}

static void test_memory_limit(void **state)
{
	struct placement *p = *state;
	struct place_node a = node_make(0, 16, 16), b = node_make(1, 16, 0), got;
	struct place_request r = req(4, PLACE_PACK);
	struct place_assignment out[4];
	unsigned cnt;

	a.mem_free = 2 * G + G / 2; /* room for two 1G workers */
	b.mem_free = 8 * G;
	assert_int_equal(placement_update(p, &a), 0);
	assert_int_equal(placement_update(p, &b), 0);
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(out[0].node, 0);
	assert_int_equal(cpumask_count(&out[0].pus), 2);
	assert_true(out[0].mem == 2 * G);
	assert_int_equal(cpumask_count(&out[1].pus), 2);
	assert_int_equal(placement_get(p, 0, &got), 0);
	assert_true(got.mem_free == G / 2);
	assert_int_equal(placement_get(p, 1, &got), 0);
	assert_true(got.mem_free == 6 * G);
	/* node 0 has free PUs but no memory for one more worker */
	r.workers = 1;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	assert_int_equal(out[0].node, 1);
	r.mem_per_worker = 7 * G;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), -ENOSPC);
}

static void test_gpu_limit(void **state)
{
	struct placement *p = *state;
	struct place_node a = node_make(0, 16, 16), b = node_make(1, 16, 0), got;
	struct place_request r = req(1, PLACE_SPREAD);
	struct place_assignment out[4];
	unsigned cnt;

	b.gpus_free = 0x5; /* GPUs 0 and 2 */
	assert_int_equal(placement_update(p, &a), 0);
	assert_int_equal(placement_update(p, &b), 0);
	r.gpus = 1;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(out[0].node, 1); /* the only node with a GPU */
	assert_int_equal(out[0].gpus, 0x1);
	assert_int_equal(placement_get(p, 1, &got), 0);
	assert_int_equal(got.gpus_free, 0x4);
	r.gpus = 2; /* one GPU left anywhere */
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), -ENOSPC);
	/* without GPUs the preferred node is used again */
	r.gpus = 0;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	assert_int_equal(out[0].node, 0);
	assert_int_equal(out[0].gpus, 0);
}

/* ---- all or nothing ------------------------------------------------------------ */

static void test_all_or_nothing(void **state)
{
	struct placement *p = *state;
	struct place_node a = node_make(0, 4, 4), b = node_make(1, 6, 0), before[2], after;
	struct place_request r = req(8, PLACE_SPREAD);
	struct place_assignment out[8];
	unsigned cnt = 99;
	char err[256];

	snprintf(b.name, sizeof(b.name), "node17");
	b.mem_free = 12 * G;
	b.until = 20000 * 86400ll + 14 * 3600 + 5 * 60; /* 14:05 UTC */
	r.now = b.until - 7200;
	assert_int_equal(placement_update(p, &a), 0);
	assert_int_equal(placement_update(p, &b), 0);
	assert_int_equal(placement_get(p, 0, &before[0]), 0);
	assert_int_equal(placement_get(p, 1, &before[1]), 0);
	for (int mode = PLACE_SPREAD; mode <= PLACE_PACK; mode++) {
		r.mode = (enum place_mode)mode;
		r.workers = 11; /* 10 free PUs in all */
		assert_int_equal(placement_place(p, &r, out, 8, &cnt, err, sizeof(err)), -ENOSPC);
		assert_int_equal(cnt, 0);
		assert_string_equal(err, "largest gap: 6 cores, 12G on node17 until 14:05 UTC; "
					 "asked 11 workers x 1G for 1h00m");
		for (uint32_t id = 0; id < 2; id++) {
			assert_int_equal(placement_get(p, id, &after), 0);
			assert_node_equal(&after, &before[id]);
		}
	}
	/* 10 fit */
	r.workers = 10;
	assert_int_equal(placement_place(p, &r, out, 8, &cnt, err, sizeof(err)), 0);
	assert_int_equal(total_workers(out, cnt), 10);
	/* nothing left at all */
	r.workers = 1;
	r.gpus = 2;
	assert_int_equal(placement_place(p, &r, out, 8, &cnt, err, sizeof(err)), -ENOSPC);
	assert_string_equal(err, "no node has a free GPU; asked 1 worker x 1G, 2 GPUs for 1h00m");
}

static void test_release_returns_capacity(void **state)
{
	struct placement *p = *state;
	struct place_node a = node_make(0, 4, 2), got;
	struct place_request r = req(4, PLACE_PACK);
	struct place_assignment out[4], again[4];
	unsigned cnt, cnt2;

	a.gpus_free = 0x3;
	assert_int_equal(placement_update(p, &a), 0);
	r.gpus = 2;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	r.gpus = 0;
	r.workers = 1;
	assert_int_equal(placement_place(p, &r, again, 4, &cnt2, NULL, 0), -ENOSPC);
	assert_int_equal(placement_release(p, out, cnt), 0);
	assert_int_equal(placement_get(p, 0, &got), 0);
	assert_node_equal(&got, &a);
	r.workers = 4;
	r.gpus = 2;
	assert_int_equal(placement_place(p, &r, again, 4, &cnt2, NULL, 0), 0);
	assert_true(cpumask_equal(&again[0].pus, &out[0].pus));
	assert_int_equal(again[0].gpus, 0x3);
	/* an unknown node is reported, the rest still given back */
	again[1] = again[0];
	again[1].node = 9;
	assert_int_equal(placement_release(p, again, 2), -ENOENT);
	assert_int_equal(placement_get(p, 0, &got), 0);
	assert_node_equal(&got, &a);
}

static void test_update_replaces_gap(void **state)
{
	struct placement *p = *state;
	struct place_node a = node_make(0, 4, 4), got;
	struct place_request r = req(4, PLACE_PACK);
	struct place_assignment out[4], more[4];
	unsigned cnt, cnt2;

	assert_int_equal(placement_update(p, &a), 0);
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	/* the node agent reports a bigger gap, the lease already gone */
	a = node_make(0, 8, 0);
	a.mem_free = 5 * G;
	assert_int_equal(placement_update(p, &a), 0);
	r.workers = 8;
	assert_int_equal(placement_place(p, &r, more, 4, &cnt2, NULL, 0), -ENOSPC); /* 5G */
	r.workers = 5;
	assert_int_equal(placement_place(p, &r, more, 4, &cnt2, NULL, 0), 0);
	/* giving the new lease back restores the reported gap */
	assert_int_equal(placement_release(p, more, cnt2), 0);
	assert_int_equal(placement_get(p, 0, &got), 0);
	assert_node_equal(&got, &a);
	/* the old lease's PUs are not leased in the reported gap: the node
	 * agent already gave them back, so no memory is counted twice */
	assert_int_equal(placement_release(p, out, cnt), 0);
	assert_int_equal(placement_get(p, 0, &got), 0);
	assert_true(got.mem_free == 5 * G);
	/* a drained report takes the node out */
	a.drained = true;
	assert_int_equal(placement_update(p, &a), 0);
	r.workers = 1;
	assert_int_equal(placement_place(p, &r, more, 4, &cnt2, NULL, 0), -ENOSPC);
	/* and removing it forgets it */
	assert_int_equal(placement_remove(p, 0), 0);
	assert_int_equal(placement_get(p, 15, &got), -ENOENT);
	assert_int_equal(placement_remove(p, 0), -ENOENT);
}

static void test_drained_skipped(void **state)
{
	struct placement *p = *state;
	struct place_node a = node_make(0, 64, 64), b = node_make(1, 2, 0);
	struct place_request r = req(2, PLACE_PACK);
	struct place_assignment out[4];
	unsigned cnt;
	char err[256];

	a.drained = true;
	assert_int_equal(placement_update(p, &a), 0);
	assert_int_equal(placement_update(p, &b), 0);
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, NULL, 0), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(out[0].node, 1);
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "no node has a gap"));
}

/* Many random leases on random gaps whose time limits change: no PU is
 * ever given twice or outside its node's lendable set, no lease outlives
 * its nodes' gaps, memory adds up, and giving every lease back restores
 * every gap exactly. */
static void test_random_leases_restore(void **state)
{
	struct placement *p = *state;
	static struct place_assignment held[64][8];
	unsigned nheld[64] = {0}, placed = 0;
	struct place_node init[16], got;
	uint64_t s = 42;

	for (uint32_t id = 0; id < 16; id++) {
		init[id] = node_make(id, 1, 0);
		cpumask_clear(&init[id].lendable);
		for (int w = 0; w < 2; w++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			init[id].lendable.bits[w] = s;
			init[id].unallocated.bits[w] = s & (s >> 17);
			init[id].near_host.bits[w] = s & ~(s >> 17) & (s >> 29);
		}
		init[id].mem_free = (8 + id) * G;
		init[id].gpus_free = id % 3 ? 0 : 0x3;
		init[id].until = NOW + 3600 + 600 * id;
		init[id].drained = id == 5;
		assert_int_equal(placement_update(p, &init[id]), 0);
	}
	for (int step = 0; step < 2000; step++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		struct place_request r =
		    req(1 + (unsigned)(s >> 33) % 12, (s >> 40) & 1 ? PLACE_PACK : PLACE_SPREAD);
		unsigned k = (unsigned)(s >> 45) % 64;

		r.mem_per_worker = ((s >> 50) % 4) * G / 2;
		r.gpus = (s >> 52) % 8 == 0;
		r.duration_s = 60 + (int64_t)((s >> 20) % 7200);
		r.max_workers_per_node = (s >> 55) % 4;
		if (step % 7 == 0) { /* the node agent reports a new time limit */
			uint32_t id = (uint32_t)(s >> 24) % 16;

			assert_int_equal(placement_get(p, id, &got), 0);
			got.until = init[id].until = NOW + (int64_t)((s >> 8) % 9000);
			assert_int_equal(placement_update(p, &got), 0);
		}
		if (nheld[k]) {
			assert_int_equal(placement_release(p, held[k], nheld[k]), 0);
			nheld[k] = 0;
		} else if (placement_place(p, &r, held[k], 8, &nheld[k], NULL, 0) == 0) {
			unsigned total = 0;

			for (unsigned i = 0; i < nheld[k]; i++) {
				struct cpumask bad;
				uint32_t id = held[k][i].node;

				assert_true(id < 16 && id != 5);
				assert_true(init[id].until >= r.now + r.duration_s);
				cpumask_andnot(&bad, &held[k][i].pus, &init[id].lendable);
				assert_true(cpumask_empty(&bad));
				total += cpumask_count(&held[k][i].pus);
				assert_true(held[k][i].mem ==
					    cpumask_count(&held[k][i].pus) * r.mem_per_worker);
				if (r.max_workers_per_node)
					assert_true(cpumask_count(&held[k][i].pus) <=
						    r.max_workers_per_node);
			}
			assert_int_equal(total, r.workers);
			placed++;
		}
		/* leased PUs in the registry = the union of the held leases, disjoint */
		for (uint32_t id = 0; id < 16; id++) {
			struct cpumask uni, both;
			uint64_t mem = 0;

			cpumask_clear(&uni);
			for (unsigned l = 0; l < 64; l++)
				for (unsigned i = 0; i < nheld[l]; i++)
					if (held[l][i].node == id) {
						cpumask_and(&both, &uni, &held[l][i].pus);
						assert_true(cpumask_empty(&both));
						cpumask_or(&uni, &uni, &held[l][i].pus);
						mem += held[l][i].mem;
					}
			assert_int_equal(placement_get(p, id, &got), 0);
			assert_true(cpumask_equal(&got.leased, &uni));
			assert_true(got.mem_free + mem == init[id].mem_free);
		}
	}
	assert_true(placed > 500);
	for (unsigned k = 0; k < 64; k++)
		assert_int_equal(placement_release(p, held[k], nheld[k]), 0);
	for (uint32_t id = 0; id < 16; id++) {
		assert_int_equal(placement_get(p, id, &got), 0);
		assert_node_equal(&got, &init[id]);
	}
}

/* A memory lease: memory alone, on the node with the most, no PU; a
 * compute lease cannot take that memory again; drained and short gaps are
 * skipped; ENOSPC names the most memory lent. */
static void test_memory_lease(void **state)
{
	struct placement *p = *state;
	struct place_node a = node_make(0, 16, 16), b = node_make(1, 1, 0),
			  c = node_make(2, 16, 16), got;
	struct place_request r = req(1, PLACE_PACK);
	struct place_assignment out[2];
	char err[256] = "";
	unsigned cnt;

	a.mem_free = 4 * G;
	cpumask_clear(&b.lendable); /* lends memory, no core */
	b.mem_free = 10 * G;
	c.mem_free = 20 * G;
	c.drained = true;
	assert_int_equal(placement_update(p, &a), 0);
	assert_int_equal(placement_update(p, &b), 0);
	assert_int_equal(placement_update(p, &c), 0);
	assert_int_equal(placement_place_memory(p, 6 * G, NOW, 3600, out, err, sizeof(err)), 0);
	assert_int_equal(out[0].node, 1);
	assert_true(out[0].mem == 6 * G);
	assert_true(cpumask_empty(&out[0].pus));
	assert_int_equal(out[0].gpus, 0);
	assert_int_equal(placement_get(p, 1, &got), 0);
	assert_true(got.mem_free == 4 * G);
	assert_true(cpumask_empty(&got.leased));
	/* the next goes where most is left: node 0 (4G) ties node 1; 3G fits */
	assert_int_equal(placement_place_memory(p, 3 * G, NOW, 3600, out, err, sizeof(err)), 0);
	assert_true(out[0].node == 0 || out[0].node == 1);
	/* what a memory lease took, a compute lease cannot book again */
	r.mem_per_worker = 4 * G + 1;
	assert_int_equal(placement_place(p, &r, out, 2, &cnt, NULL, 0), -ENOSPC);
	assert_int_equal(placement_place_memory(p, 5 * G, NOW, 3600, out, err, sizeof(err)),
			 -ENOSPC);
	assert_non_null(strstr(err, "the most memory headroom lent: 4G on node"));
	assert_non_null(strstr(err, "asked a memory lease of 5G"));
	/* a gap ending before the lease would is skipped */
	a.until = NOW + 60;
	a.mem_free = 32 * G;
	assert_int_equal(placement_update(p, &a), 0);
	assert_int_equal(placement_place_memory(p, 16 * G, NOW, 3600, out, err, sizeof(err)),
			 -ENOSPC);
	assert_int_equal(placement_place_memory(p, 16 * G, NOW, 30, out, err, sizeof(err)), 0);
	assert_int_equal(out[0].node, 0);
	assert_int_equal(placement_place_memory(p, 0, NOW, 30, out, err, sizeof(err)), -EINVAL);
	assert_int_equal(placement_place_memory(p, G, NOW, 0, out, err, sizeof(err)), -EINVAL);
}

static void test_invalid_requests(void **state)
{
	struct placement *p = *state;
	struct place_node a = node_make(0, 8, 8), big = node_make(16, 8, 8),
			  bad = node_make(1u << 28, 8, 8), got;
	struct place_request r = req(1, PLACE_SPREAD);
	struct place_assignment out[4];
	unsigned cnt;
	char err[256];

	assert_int_equal(placement_update(p, &a), 0);
	/* the registry grows past its first size, up to 2^28 nodes */
	assert_int_equal(placement_update(p, &big), 0);
	assert_int_equal(placement_get(p, 16, &got), 0);
	assert_int_equal(placement_get(p, 15, &got), -ENOENT);
	assert_int_equal(placement_remove(p, 16), 0);
	assert_int_equal(placement_update(p, &bad), -EINVAL);
	r.workers = 0;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, err, sizeof(err)), -EINVAL);
	r.workers = PLACE_MAX_WORKERS + 1;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, err, sizeof(err)), -EINVAL);
	r.workers = 1;
	r.duration_s = 0;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, err, sizeof(err)), -EINVAL);
	r.duration_s = -5;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, err, sizeof(err)), -EINVAL);
	r.duration_s = 60;
	assert_int_equal(placement_place(p, &r, out, 0, &cnt, err, sizeof(err)), -EINVAL);
	/* a far-future end does not overflow */
	r.now = INT64_MAX - 10;
	assert_int_equal(placement_place(p, &r, out, 4, &cnt, err, sizeof(err)), 0);
	assert_null(placement_create(0));
	placement_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_prefers_unallocated_then_far, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_never_leased_or_not_lendable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spread, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_out_takes_a_node_that_fits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_workers_per_node, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_until_excludes_node, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpu_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_release_returns_capacity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_replaces_gap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drained_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_leases_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_lease, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
