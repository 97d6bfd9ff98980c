/*
 * test_replay: faas-trace-replay's simulation (tests/bench/replay.c) on a
 * small synthetic cluster, through colocd's real gap computation and
 * placement. Its core-hours add up (used + idle = allocated, functions
 * within the gaps, completed + lost = served); LendUnallocated=no lends
 * nothing unallocated; jobs that do not consent lend nothing; a larger
 * idle fraction lends more; runs are reproducible; bad parameters are
 * refused.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "replay.h"

#define GIB (1ull << 30)

static struct trace tr;

static int setup(void **state)
{
	struct trace_synth s = {
	    .seed = 7, .nodes = 16, .cores = 8, .days = 3, .load = 0.9, .max_job_nodes = 4};

	(void)state;
	return trace_synthetic(&s, &tr);
}

static int teardown(void **state)
{
	(void)state;
	trace_fini(&tr);
	return 0;
}

static struct replay_params params(void)
{
	return (struct replay_params){.nodes = 16,
				      .cores = 8,
				      .node_mem = 32 * GIB,
				      .seed = 7,
				      .window_start = 86400,
				      .window_end = 3 * 86400,
				      .policy = {.lend_unallocated = true,
						 .batch_step_cores = 1,
						 .memory_margin = GIB,
						 .max_lend_fraction = 0.5},
				      .consent = 1,
				      .mem_need_factor = 1.5,
				      .idle_median = 0.0346,
				      .idle_sigma = 1.18,
				      .phase_mean_s = 540,
				      .fn_workers = 2,
				      .fn_seconds = 300,
				      .fn_mem = GIB,
				      .mode = PLACE_SPREAD};
}

static void run(const struct replay_params *p, struct replay_result *r)
{
	char err[256] = "";

	assert_int_equal(replay_run(&tr, p, r, err, sizeof(err)), 0);
}

static void test_core_hours_add_up(void **state)
{
	struct replay_params p = params();
	struct replay_result r;
	double served;

	(void)state;
	run(&p, &r);
	served = r.fn_on_idle + r.fn_on_unalloc;
	assert_true(r.total == 16.0 * 8 * 2 * 86400);
	assert_true(r.allocated > 0.5 * r.total && r.allocated <= r.total);
	assert_true(r.idle_in_alloc > 0 && r.idle_in_alloc < r.allocated);
	assert_true(fabs(r.unallocated + r.allocated - r.total) < 1e-6 * r.total);
	assert_true(served > 0 && served <= r.lendable + 1e-6);
	assert_true(r.fn_on_idle <= r.idle_in_alloc);
	assert_true(r.fn_on_unalloc <= 0.5 * r.unallocated + 1e-6); /* MaxLendFraction */
	assert_true(fabs(r.fn_completed + r.fn_lost - served) < 1e-6 * served);
	assert_true(r.leases >= r.completions);
	assert_true(r.jobs_started > 0 && r.nsamples == 2 * 144 + 1);
}

static void test_lend_unallocated(void **state)
{
	struct replay_params p = params();
	struct replay_result yes, no;

	(void)state;
	run(&p, &yes);
	p.policy.lend_unallocated = false;
	run(&p, &no);
	assert_true(yes.fn_on_unalloc > 0 && yes.lendable_unalloc > 0);
	assert_true(no.fn_on_unalloc == 0 && no.lendable_unalloc == 0);
	assert_true(no.fn_on_idle > 0);
	/* the host side does not change with the policy */
	assert_true(yes.allocated == no.allocated && yes.idle_in_alloc == no.idle_in_alloc);
}

static void test_consent_and_idle(void **state)
{
	struct replay_params p = params();
	struct replay_result none, base, more;

	(void)state;
	p.policy.lend_unallocated = false;
	run(&p, &base);
	p.consent = 0;
	run(&p, &none);
	assert_true(none.lendable == 0 && none.leases == 0 && none.fn_completed == 0);
	p.consent = 1;
	p.idle_median = 0.3;
	run(&p, &more);
	assert_true(more.idle_in_alloc > 2 * base.idle_in_alloc);
	assert_true(more.lendable > 2 * base.lendable);
}

static void test_reproducible(void **state)
{
	struct replay_params p = params();
	struct replay_result a, b, c;

	(void)state;
	run(&p, &a);
	run(&p, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	p.seed = 8;
	run(&p, &c);
	assert_true(c.idle_in_alloc != a.idle_in_alloc);
	/* reusing gaps for identical ledgers changes nothing */
	p.seed = 7;
	p.no_gap_cache = true;
	run(&p, &c);
	c.gap_computations = a.gap_computations;
	assert_memory_equal(&a, &c, sizeof(a));
}

static void test_bad_params(void **state)
{
	struct replay_params p = params();
	struct replay_result r;
	char err[256];

	(void)state;
	p.cores = 7;
	assert_int_equal(replay_run(&tr, &p, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cores"));
	p = params();
	p.window_end = p.window_start;
	assert_int_equal(replay_run(&tr, &p, &r, err, sizeof(err)), -EINVAL);
	p = params();
	p.fn_workers = 0;
	assert_int_equal(replay_run(&tr, &p, &r, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_core_hours_add_up), cmocka_unit_test(test_lend_unallocated),
	    cmocka_unit_test(test_consent_and_idle),  cmocka_unit_test(test_reproducible),
	    cmocka_unit_test(test_bad_params),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
