/*
 * test_gaps: colocd/gaps.c, the gap set (design.md section 3). On synthetic
 * nodes: unallocated resources are lent only when the site allows it; a
 * consenting job lends what its running steps (and its batch step's cores)
 * leave idle, a non-consenting job nothing; no lent PU shares a core with a
 * running step; memory comes from headroom only; GPUs follow the same rules;
 * MaxLendFraction keeps unallocated, then cache-distant PUs; the gap ends
 * with the earliest host job it borrows from; an inconsistent ledger is
 * refused; reclaim evicts exactly the lent PUs wanted back.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gaps.h"
#include "topo_helpers.h"

#define GIB (1024ull * 1024 * 1024)
#define NODE_MEM (64 * GIB)
#define BATCH_STEP 0xfffffffbu /* Slurm's SLURM_BATCH_SCRIPT step id */

/* 2 packages, each an L3 over 4 cores with private L2s, 2 PUs per core:
 * core i = PUs 2i and 2i+1; package 0 = PUs 0-7, package 1 = PUs 8-15. */
static const char *const node_shape = "package:2 l3:1 l2:4 core:1 pu:2";

static int setup(void **state)
{
	struct topology *t = NULL;
	char err[256];

	if (topology_synthetic(node_shape, NODE_MEM, &t, err, sizeof(err)) != 0) {
		print_error("%s\n", err);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	topology_destroy(*state);
	return 0;
}

static const struct gap_policy lend_all = {
    .lend_unallocated = true,
    .batch_step_cores = 1,
    .memory_margin = 0,
    .max_lend_fraction = 1.0,
};

static struct gap_policy policy(bool lend_unallocated, double fraction)
{
	struct gap_policy p = lend_all;

	p.lend_unallocated = lend_unallocated;
	p.max_lend_fraction = fraction;
	return p;
}

/* A job holding pus and mem, consenting or not, ending at end. */
static struct host_job job(uint32_t id, const char *pus, uint64_t mem, bool consent, int64_t end)
{
	struct host_job j;

	memset(&j, 0, sizeof(j));
	j.job_id = id;
	j.uid = 1000 + id;
	j.pus = mask(pus);
	j.mem_bytes = mem;
	j.consent = consent;
	j.end_time = end;
	return j;
}

static void add_step(struct host_job *j, uint32_t id, const char *pus, uint32_t gpus)
{
	struct host_step *s = &j->steps[j->nsteps++];

	s->step_id = id;
	s->pus = mask(pus);
	s->gpus = gpus;
}

/* The batch step as the ledger holds it: a step with no PUs, and the flag. */
static void run_batch(struct host_job *j)
{
	add_step(j, BATCH_STEP, "", 0);
	j->batch_running = true;
}

static struct node_gap compute(const struct topology *t, uint32_t node_gpus,
			       const struct host_job *jobs, unsigned njobs,
			       const struct gap_policy *p)
{
	struct node_gap g;
	int rc = gaps_compute(t, NODE_MEM, node_gpus, jobs, njobs, p, &g);

	if (rc != 0)
		fail_msg("gaps_compute: %d", rc);
	return g;
}

/* ---- unallocated resources ---------------------------------------------- */

static void test_empty_node_lend_unallocated(void **state)
{
	struct gap_policy p = lend_all;
	struct node_gap g;

	p.memory_margin = 2 * GIB;
	g = compute(*state, 0xf, NULL, 0, &p);
	assert_mask(&g.lendable, "0-15");
	assert_mask(&g.unallocated, "0-15");
	assert_mask(&g.host_busy, "");
	assert_true(g.mem_lendable == NODE_MEM - 2 * GIB);
	assert_int_equal(g.gpus_lendable, 0xf);
	assert_true(g.until == INT64_MAX);
}

static void test_empty_node_keep_unallocated(void **state)
{
	struct gap_policy p = policy(false, 1.0);
	struct node_gap g = compute(*state, 0xf, NULL, 0, &p);

	assert_mask(&g.lendable, "");
	assert_mask(&g.unallocated, "");
	assert_true(g.mem_lendable == 0);
	assert_int_equal(g.gpus_lendable, 0);
	assert_true(g.until == INT64_MAX);
}

/* ---- host jobs and steps ------------------------------------------------ */

static void test_batch_only_job(void **state)
{
	struct gap_policy p = policy(false, 1.0);
	struct host_job j = job(1, "0-15", 32 * GIB, true, 5000);
	struct node_gap g;

	run_batch(&j);
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.lendable, "2-15"); /* all but core 0 */
	assert_mask(&g.host_busy, "0-1");
	assert_mask(&g.unallocated, "");
	assert_true(g.until == 5000);

	p.batch_step_cores = 3;
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.lendable, "6-15");
	assert_mask(&g.host_busy, "0-5");

	/* the batch step has ended: everything idle is lent */
	j.batch_running = false;
	j.nsteps = 0;
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.lendable, "0-15");
	assert_mask(&g.host_busy, "");
}

static void test_batch_cores_are_the_jobs_lowest_free(void **state)
{
	struct gap_policy p = policy(false, 1.0);
	struct host_job j = job(1, "4-15", 32 * GIB, true, 5000);
	struct node_gap g;

	/* the job starts at core 2; a step holds core 2, so the batch step is on core 3 */
	run_batch(&j);
	add_step(&j, 0, "4-5", 0);
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.host_busy, "4-7");
	assert_mask(&g.lendable, "8-15");

	/* a job holding one PU of core 0: the batch step uses that PU only,
	 * and the unallocated sibling is not lent next to it */
	j = job(1, "1-5", 8 * GIB, true, 5000);
	run_batch(&j);
	p.lend_unallocated = true;
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.host_busy, "1");
	assert_mask(&g.lendable, "2-15");
	assert_mask(&g.unallocated, "6-15");
}

static void test_batch_cores_whole_cores(void **state)
{
	/* Linux numbering: core i = PUs i and i+4 */
	struct topology *t = NULL;
	struct gap_policy p = policy(false, 1.0);
	struct host_job j = job(1, "0-7", 8 * GIB, true, 5000);
	struct node_gap g;
	char err[256];

	assert_int_equal(topology_synthetic("core:4 pu:2(indexes=0,4,1,5,2,6,3,7)", 16 * GIB, &t,
					    err, sizeof(err)),
			 0);
	run_batch(&j);
	p.batch_step_cores = 2;
	g = compute(t, 0, &j, 1, &p);
	assert_mask(&g.host_busy, "0-1,4-5");
	assert_mask(&g.lendable, "2-3,6-7");

	/* a step on one PU of core 2 takes the whole core from the gap */
	add_step(&j, 0, "2", 0);
	g = compute(t, 0, &j, 1, &p);
	assert_mask(&g.host_busy, "0-2,4-5");
	assert_mask(&g.lendable, "3,7");
	topology_destroy(t);
}

static void test_running_step_never_lent(void **state)
{
	struct gap_policy p = lend_all;
	struct host_job j = job(1, "0-11", 32 * GIB, true, 5000);
	struct node_gap g;

	add_step(&j, 0, "2-5", 0);
	add_step(&j, 1, "9", 0); /* one hyperthread of core 4 */
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.host_busy, "2-5,9");
	/* core 4's other PU (8) is idle but shares the core with a step */
	assert_mask(&g.lendable, "0-1,6-7,10-15");
	assert_mask(&g.unallocated, "12-15");
}

static void test_step_next_to_unallocated(void **state)
{
	/* the job holds one PU of core 0 and runs a step there: the unallocated
	 * sibling is not lent */
	struct gap_policy p = lend_all;
	struct host_job j = job(1, "0", GIB, true, 5000);
	struct node_gap g;

	add_step(&j, 0, "0", 0);
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.lendable, "2-15");
	assert_mask(&g.unallocated, "2-15");
	assert_true(g.until == INT64_MAX); /* nothing of the job is lent */
}

static void test_non_consenting_job(void **state)
{
	struct gap_policy p = lend_all;
	struct host_job j = job(1, "0-7", 32 * GIB, false, 5000);
	struct node_gap g;

	j.gpus = 0x1;
	add_step(&j, 0, "0-1", 0);
	g = compute(*state, 0x3, &j, 1, &p);
	assert_mask(&g.lendable, "8-15");
	assert_mask(&g.unallocated, "8-15");
	assert_mask(&g.host_busy, "0-1"); /* its steps are still to be avoided */
	assert_int_equal(g.gpus_lendable, 0x2);
	assert_true(g.until == INT64_MAX);

	p.lend_unallocated = false;
	g = compute(*state, 0x3, &j, 1, &p);
	assert_mask(&g.lendable, "");
	assert_int_equal(g.gpus_lendable, 0);
	assert_true(g.mem_lendable == 0);
}

/* ---- memory and GPUs ---------------------------------------------------- */

static void test_memory_headroom(void **state)
{
	struct gap_policy p = lend_all;
	struct host_job jobs[3] = {
	    job(1, "0-3", 32 * GIB, true, 5000),
	    job(2, "4-7", 16 * GIB, false, 5000),
	    job(3, "8-9", 4 * GIB, true, 5000),
	};
	struct node_gap g;

	p.memory_margin = 2 * GIB;
	jobs[0].mem_need = 8 * GIB;  /* keeps 8 of its 32 */
	jobs[1].mem_need = 4 * GIB;  /* does not consent: keeps all 16 */
	jobs[2].mem_need = 10 * GIB; /* needs more than it holds: keeps its 4 */
	g = compute(*state, 0, jobs, 3, &p);
	assert_true(g.mem_lendable == (64 - 8 - 16 - 4 - 2) * GIB);

	/* without LendUnallocated, only what consenting jobs leave: 24 GiB */
	p.lend_unallocated = false;
	g = compute(*state, 0, jobs, 3, &p);
	assert_true(g.mem_lendable == 24 * GIB);

	/* no declared need: a job keeps its whole allocation */
	jobs[0].mem_need = 0;
	p.lend_unallocated = true;
	g = compute(*state, 0, jobs, 3, &p);
	assert_true(g.mem_lendable == (64 - 32 - 16 - 4 - 2) * GIB);
}

static void test_memory_margin_over_headroom(void **state)
{
	struct gap_policy p = lend_all;
	struct host_job j = job(1, "0-15", 60 * GIB, true, 5000);
	struct node_gap g;

	p.memory_margin = 8 * GIB;
	g = compute(*state, 0, &j, 1, &p);
	assert_true(g.mem_lendable == 0);

	/* jobs holding more than the node (an odd ledger) lend nothing either */
	j.mem_bytes = 100 * GIB;
	p.memory_margin = 0;
	g = compute(*state, 0, &j, 1, &p);
	assert_true(g.mem_lendable == 0);
}

static void test_gpus(void **state)
{
	struct gap_policy p = lend_all;
	struct host_job jobs[2] = {
	    job(1, "0-3", GIB, true, 5000),
	    job(2, "4-7", GIB, false, 6000),
	};
	struct node_gap g;

	jobs[0].gpus = 0x3;
	add_step(&jobs[0], 0, "0-3", 0x1); /* uses all its cores and GPU 0 */
	jobs[1].gpus = 0x4;
	g = compute(*state, 0xf, jobs, 2, &p);
	assert_int_equal(g.gpus_lendable, 0x2 | 0x8);
	/* GPU 1 is job 1's: the gap ends with it although no PU of job 1 is lent */
	assert_mask(&g.lendable, "8-15");
	assert_true(g.until == 5000);

	p.lend_unallocated = false;
	g = compute(*state, 0xf, jobs, 2, &p);
	assert_int_equal(g.gpus_lendable, 0x2);
	assert_true(g.until == 5000);

	/* the batch step uses no GPU of its own */
	jobs[0].nsteps = 0;
	run_batch(&jobs[0]);
	g = compute(*state, 0xf, jobs, 2, &p);
	assert_int_equal(g.gpus_lendable, 0x3);
}

/* ---- MaxLendFraction ---------------------------------------------------- */

static void test_fraction_cap(void **state)
{
	/* job 1 holds cores 0-5 and runs a step on core 0 (package 0 shares
	 * its L3); PUs 12-15 are unallocated; candidates are 2-15 */
	struct host_job j = job(1, "0-11", 32 * GIB, true, 5000);
	struct gap_policy p;
	struct node_gap g;

	add_step(&j, 0, "0-1", 0);

	p = policy(true, 1.0);
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.lendable, "2-15");

	p = policy(true, 0.25); /* 4 PUs: the unallocated ones */
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.lendable, "12-15");
	assert_mask(&g.unallocated, "12-15");
	assert_true(g.until == INT64_MAX);

	p = policy(true, 0.5); /* 8: then those away from the step's L3 */
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.lendable, "8-15");
	assert_true(g.until == 5000);

	p = policy(true, 0.625); /* 10: then by PU number */
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.lendable, "2-3,8-15");

	p = policy(true, 0.3); /* floor(4.8) */
	g = compute(*state, 0, &j, 1, &p);
	assert_int_equal(cpumask_count(&g.lendable), 4);

	p = policy(false, 0.25); /* no unallocated: the cache-distant ones */
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.lendable, "8-11");

	p = policy(true, 0.0);
	g = compute(*state, 0, &j, 1, &p);
	assert_mask(&g.lendable, "");
	assert_true(g.until == INT64_MAX);
}

static void test_fraction_invalid(void **state)
{
	struct gap_policy p = lend_all;
	struct node_gap g;

	p.max_lend_fraction = 1.5;
	assert_int_equal(gaps_compute(*state, NODE_MEM, 0, NULL, 0, &p, &g), -EINVAL);
	p.max_lend_fraction = -0.1;
	assert_int_equal(gaps_compute(*state, NODE_MEM, 0, NULL, 0, &p, &g), -EINVAL);
	p.max_lend_fraction = NAN;
	assert_int_equal(gaps_compute(*state, NODE_MEM, 0, NULL, 0, &p, &g), -EINVAL);
}

/* ---- deadline ----------------------------------------------------------- */

static void test_until_earliest_end(void **state)
{
	struct gap_policy p = policy(false, 1.0);
	struct host_job jobs[3] = {
	    job(1, "0-7", 8 * GIB, true, 2000), job(2, "8-13", 8 * GIB, true, 1000),
	    job(3, "14-15", 8 * GIB, true, 0), /* no time limit */
	};
	struct node_gap g;

	g = compute(*state, 0, jobs, 3, &p);
	assert_true(g.until == 1000);
	{
		struct host_job reversed[3] = {jobs[2], jobs[1], jobs[0]};

		g = compute(*state, 0, reversed, 3, &p);
		assert_true(g.until == 1000);
	}

	/* job 2 lends nothing any more: the gap lasts until job 1 ends */
	add_step(&jobs[1], 0, "8-13", 0);
	g = compute(*state, 0, jobs, 3, &p);
	assert_mask(&g.lendable, "0-7,14-15");
	assert_true(g.until == 2000);

	/* a job whose PUs the cap leaves out does not bound the gap */
	jobs[1].nsteps = 0;
	add_step(&jobs[0], 0, "0-1", 0); /* package 0 is now near a step */
	p.max_lend_fraction = 0.25;
	g = compute(*state, 0, jobs, 3, &p);
	assert_mask(&g.lendable, "8-11");
	assert_true(g.until == 1000);
	p.max_lend_fraction = 0.5; /* 8-15: jobs 2 and 3 */
	jobs[1].end_time = 3000;
	g = compute(*state, 0, jobs, 3, &p);
	assert_mask(&g.lendable, "8-15");
	assert_true(g.until == 3000);
}

/* ---- invalid ledgers ---------------------------------------------------- */

static void expect_einval(const struct topology *t, uint32_t node_gpus, const struct host_job *jobs,
			  unsigned njobs)
{
	struct node_gap g;

	memset(&g, 0xa5, sizeof(g));
	assert_int_equal(gaps_compute(t, NODE_MEM, node_gpus, jobs, njobs, &lend_all, &g), -EINVAL);
	/* nothing half-computed is left to lend */
	assert_mask(&g.lendable, "");
	assert_int_equal(g.gpus_lendable, 0);
	assert_true(g.mem_lendable == 0);
}

static void test_invalid_ledger(void **state)
{
	struct host_job jobs[2] = {
	    job(1, "0-7", GIB, true, 1000),
	    job(2, "6-11", GIB, true, 1000),
	};
	struct node_gap g;

	expect_einval(*state, 0, jobs, 2); /* PUs 6-7 held twice */

	jobs[1].pus = mask("8-11");
	jobs[0].gpus = 0x1;
	jobs[1].gpus = 0x3;
	expect_einval(*state, 0x3, jobs, 2); /* GPU 0 held twice */

	jobs[1].gpus = 0x2;
	expect_einval(*state, 0x1, jobs, 2); /* GPU 1 not on the node */

	jobs[1].gpus = 0;
	add_step(&jobs[1], 0, "7-8", 0);
	expect_einval(*state, 0x1, jobs, 2); /* step outside its job */

	jobs[1].steps[0].pus = mask("8");
	jobs[1].steps[0].gpus = 0x1;
	expect_einval(*state, 0x1, jobs, 2); /* step GPU outside its job */

	jobs[1].steps[0].gpus = 0;
	jobs[1].pus = mask("8-11,16");
	expect_einval(*state, 0x1, jobs, 2); /* PU 16 is not on the node */

	jobs[1].pus = mask("8-11");
	jobs[1].nsteps = GAPS_MAX_STEPS + 1;
	expect_einval(*state, 0x1, jobs, 2);

	/* and the same ledger, repaired, is fine */
	jobs[1].nsteps = 1;
	assert_int_equal(gaps_compute(*state, NODE_MEM, 0x1, jobs, 2, &lend_all, &g), 0);
	assert_int_equal(gaps_compute(NULL, NODE_MEM, 0x1, jobs, 2, &lend_all, &g), -EINVAL);
	assert_int_equal(gaps_compute(*state, NODE_MEM, 0x1, NULL, 2, &lend_all, &g), -EINVAL);
	assert_int_equal(gaps_compute(*state, NODE_MEM, 0x1, jobs, 2, NULL, &g), -EINVAL);
	assert_int_equal(gaps_compute(*state, NODE_MEM, 0x1, jobs, 2, &lend_all, NULL), -EINVAL);
}

/* ---- reclaim ------------------------------------------------------------ */

static void test_reclaim(void **state)
{
	struct cpumask lent = mask("4-11"), wanted = mask("0-5"), evict;

	gaps_reclaim(&lent, &wanted, &evict);
	assert_mask(&evict, "4-5");

	wanted = mask("0-3,12-15");
	gaps_reclaim(&lent, &wanted, &evict);
	assert_mask(&evict, "");

	wanted = mask("0-15");
	gaps_reclaim(&lent, &wanted, &wanted);
	assert_mask(&wanted, "4-11");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_node_lend_unallocated),
	    cmocka_unit_test(test_empty_node_keep_unallocated),
	    cmocka_unit_test(test_batch_only_job),
	    cmocka_unit_test(test_batch_cores_are_the_jobs_lowest_free),
	    cmocka_unit_test(test_batch_cores_whole_cores),
	    cmocka_unit_test(test_running_step_never_lent),
	    cmocka_unit_test(test_step_next_to_unallocated),
	    cmocka_unit_test(test_non_consenting_job),
	    cmocka_unit_test(test_memory_headroom),
	    cmocka_unit_test(test_memory_margin_over_headroom),
	    cmocka_unit_test(test_gpus),
	    cmocka_unit_test(test_fraction_cap),
	    cmocka_unit_test(test_fraction_invalid),
	    cmocka_unit_test(test_until_earliest_end),
	    cmocka_unit_test(test_invalid_ledger),
	    cmocka_unit_test(test_reclaim),
	};

	return cmocka_run_group_tests_name("gaps", tests, setup, teardown);
}
