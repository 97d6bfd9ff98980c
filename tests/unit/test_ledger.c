/*
 * test_ledger: colocd/ledger.c, the node agent's record of host jobs and
 * steps, on a synthetic node. What the plugin reports is recorded (a job's
 * allocation and consent, its steps, its batch step); reports that come
 * again, out of order or after a missed job_end leave a ledger the gap can
 * be computed from; a report naming cores the node lacks, or past the
 * ledger's bounds, is refused with the errno the plugin logs and changes
 * nothing; core indexes map to every PU of their cores.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger.h"
#include "report_msgs.h"
#include "topo_helpers.h"

#define GIB (1024ull * 1024 * 1024)

/* 8 cores, 2 PUs each, numbered as Linux does on x86: core i = PUs i and
 * i + 8, so that a core's PUs are not neighbours. */
static const char *const node_shape = "core:8 pu:2(indexes=0,8,1,9,2,10,3,11,4,12,5,13,6,14,7,15)";

struct fixture {
	struct topology *topo;
	struct ledger *lg, *before; /* large: on the heap */
	const char *code;
	char err[256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->topo = synthetic(node_shape, 64 * GIB);
	f->lg = calloc(1, sizeof(*f->lg));
	f->before = calloc(1, sizeof(*f->before));
	assert_non_null(f->lg);
	assert_non_null(f->before);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	topology_destroy(f->topo);
	free(f->lg);
	free(f->before);
	free(f);
	return 0;
}

static void apply_ok(struct fixture *f, struct msg m)
{
	f->code = NULL;
	f->err[0] = '\0';
	if (ledger_apply(f->lg, f->topo, &m, &f->code, f->err, sizeof(f->err)) != 0)
		fail_msg("report (type %d) refused: %s: %s", (int)m.type, f->code, f->err);
}

/* m is refused with code, and the ledger is exactly as it was. */
static void apply_refused(struct fixture *f, struct msg m, const char *code)
{
	*f->before = *f->lg;
	f->code = NULL;
	f->err[0] = '\0';
	assert_int_equal(ledger_apply(f->lg, f->topo, &m, &f->code, f->err, sizeof(f->err)), -1);
	assert_non_null(f->code);
	assert_string_equal(f->code, code);
	assert_true(f->err[0] != '\0');
	assert_memory_equal(f->lg, f->before, sizeof(*f->lg));
}

/* m is taken and changes nothing. */
static void apply_no_change(struct fixture *f, struct msg m)
{
	*f->before = *f->lg;
	apply_ok(f, m);
	assert_memory_equal(f->lg, f->before, sizeof(*f->lg));
}

static struct host_job *find(struct fixture *f, uint32_t job)
{
	struct host_job *j = ledger_find(f->lg, job);

	if (!j)
		fail_msg("job %u is not in the ledger", job);
	return j;
}

/* ---- jobs ----------------------------------------------------------------- */

static void test_job_start_adds(void **state)
{
	struct fixture *f = *state;
	struct msg m = job_start_msg(5, "1-2", 4 * GIB, true);
	struct host_job *j;

	m.u.job_start.mem_need = GIB;
	m.u.job_start.gpus = 0x3;
	m.u.job_start.end = 1700000000;
	apply_ok(f, m);
	assert_int_equal(f->lg->njobs, 1);
	j = find(f, 5);
	assert_int_equal(j->uid, 1005);
	assert_mask(&j->pus, "1-2,9-10");
	assert_true(j->mem_bytes == 4 * GIB);
	assert_true(j->mem_need == GIB);
	assert_int_equal(j->gpus, 0x3);
	assert_true(j->consent);
	assert_true(j->end_time == 1700000000);
	assert_int_equal(j->nsteps, 0);
	assert_false(j->batch_running);
	assert_null(ledger_find(f->lg, 6));
}

static void test_job_start_again_keeps_steps(void **state)
{
	struct fixture *f = *state;
	struct host_job *j;

	apply_ok(f, job_start_msg(1, "0-1", 8 * GIB, true));
	apply_ok(f, step_msg(MSG_STEP_START, 1, 0, "1"));
	apply_ok(f, step_msg(MSG_STEP_START, 1, MSG_STEP_BATCH, ""));

	/* each step reports its job again: allocation and consent follow the
	 * newest report, the running steps stay */
	apply_ok(f, job_start_msg(1, "0-3", 2 * GIB, false));
	assert_int_equal(f->lg->njobs, 1);
	j = find(f, 1);
	assert_mask(&j->pus, "0-3,8-11");
	assert_true(j->mem_bytes == 2 * GIB);
	assert_false(j->consent);
	assert_int_equal(j->nsteps, 1);
	assert_int_equal(j->steps[0].step_id, 0);
	assert_mask(&j->steps[0].pus, "1,9");
	assert_true(j->batch_running);
}

static void test_job_on_stale_jobs_pus_replaces_them(void **state)
{
	struct fixture *f = *state;

	for (uint32_t id = 1; id <= 4; id++) {
		char cores[8];

		snprintf(cores, sizeof(cores), "%u", id - 1);
		apply_ok(f, job_start_msg(id, cores, GIB, true));
	}
	/* job 5 holds cores 0 and 2: Slurm gave them to it, so jobs 1 and 3
	 * ended without a job_end reaching the agent */
	apply_ok(f, job_start_msg(5, "0,2", GIB, true));
	assert_int_equal(f->lg->njobs, 3);
	assert_null(ledger_find(f->lg, 1));
	assert_null(ledger_find(f->lg, 3));
	assert_mask(&find(f, 2)->pus, "1,9");
	assert_mask(&find(f, 4)->pus, "3,11");
	assert_mask(&find(f, 5)->pus, "0,2,8,10");
}

static void test_job_end(void **state)
{
	struct fixture *f = *state;

	apply_ok(f, job_start_msg(1, "0", GIB, true));
	apply_ok(f, job_start_msg(2, "1", GIB, true));
	apply_ok(f, job_end_msg(1));
	assert_int_equal(f->lg->njobs, 1);
	assert_null(ledger_find(f->lg, 1));
	assert_mask(&find(f, 2)->pus, "1,9");

	/* a job_end that came twice, or of a job never reported */
	apply_no_change(f, job_end_msg(1));
	apply_no_change(f, job_end_msg(77));
}

static void test_ledger_full(void **state)
{
	struct fixture *f = *state;

	/* jobs without cores on this node (Slurm reports an empty list for a
	 * job whose cores are elsewhere) do not overlap */
	for (uint32_t id = 1; id <= LEDGER_MAX_JOBS; id++)
		apply_ok(f, job_start_msg(id, "", GIB, true));
	assert_int_equal(f->lg->njobs, LEDGER_MAX_JOBS);
	apply_refused(f, job_start_msg(LEDGER_MAX_JOBS + 1, "", GIB, true), "EBUSY");
	/* a known job is still updated */
	apply_ok(f, job_start_msg(7, "4", GIB, true));
	assert_mask(&find(f, 7)->pus, "4,12");
}

/* ---- steps ---------------------------------------------------------------- */

static void test_step_start_end(void **state)
{
	struct fixture *f = *state;
	struct msg m = step_msg(MSG_STEP_START, 1, 0, "0-1");
	struct host_job *j;

	apply_ok(f, job_start_msg(1, "0-3", 8 * GIB, true));
	m.u.step.mem = 2 * GIB;
	m.u.step.gpus = 0x1;
	apply_ok(f, m);
	apply_ok(f, step_msg(MSG_STEP_START, 1, 1, "3"));
	j = find(f, 1);
	assert_int_equal(j->nsteps, 2);
	assert_int_equal(j->steps[0].step_id, 0);
	assert_mask(&j->steps[0].pus, "0-1,8-9");
	assert_true(j->steps[0].mem_bytes == 2 * GIB);
	assert_int_equal(j->steps[0].gpus, 0x1);
	assert_false(j->batch_running);

	apply_ok(f, step_msg(MSG_STEP_END, 1, 0, ""));
	assert_int_equal(j->nsteps, 1);
	assert_int_equal(j->steps[0].step_id, 1);
	assert_mask(&j->steps[0].pus, "3,11");

	/* ends of steps and jobs the ledger does not know change nothing */
	apply_no_change(f, step_msg(MSG_STEP_END, 1, 0, ""));
	apply_no_change(f, step_msg(MSG_STEP_END, 9, 0, ""));
}

static void test_batch_step(void **state)
{
	struct fixture *f = *state;
	struct host_job *j;

	apply_ok(f, job_start_msg(1, "0-3", 8 * GIB, true));
	apply_ok(f, step_msg(MSG_STEP_START, 1, MSG_STEP_BATCH, "0-3"));
	j = find(f, 1);
	/* its cores are BatchStepCores of the job's, not what it reports */
	assert_true(j->batch_running);
	assert_int_equal(j->nsteps, 0);

	apply_ok(f, step_msg(MSG_STEP_END, 1, MSG_STEP_BATCH, ""));
	assert_false(j->batch_running);
}

static void test_step_of_unreported_job(void **state)
{
	struct fixture *f = *state;

	apply_ok(f, job_start_msg(1, "0", GIB, true));
	apply_refused(f, step_msg(MSG_STEP_START, 2, 0, "1"), "ENOENT");
	assert_non_null(strstr(f->err, "job 2"));
	apply_refused(f, step_msg(MSG_STEP_START, 2, MSG_STEP_BATCH, ""), "ENOENT");
}

static void test_steps_full(void **state)
{
	struct fixture *f = *state;

	apply_ok(f, job_start_msg(1, "0-7", 8 * GIB, true));
	for (uint32_t s = 0; s < GAPS_MAX_STEPS; s++)
		apply_ok(f, step_msg(MSG_STEP_START, 1, s, "0"));
	apply_refused(f, step_msg(MSG_STEP_START, 1, GAPS_MAX_STEPS, "1"), "EBUSY");
	/* the batch step takes no entry: it is never refused */
	apply_ok(f, step_msg(MSG_STEP_START, 1, MSG_STEP_BATCH, ""));
	assert_true(find(f, 1)->batch_running);
}

/* ---- core lists ------------------------------------------------------------ */

static void test_cores_the_node_lacks(void **state)
{
	static const char *const bad[] = {"8", "0-8", "x", "1,,2", "3-1", "-1", "99999"};
	struct fixture *f = *state;

	apply_ok(f, job_start_msg(1, "0-1", GIB, true));
	apply_ok(f, step_msg(MSG_STEP_START, 1, 0, "0"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* a new job, the known job again, a step */
		apply_refused(f, job_start_msg(2, bad[i], GIB, true), "EINVAL");
		apply_refused(f, job_start_msg(1, bad[i], GIB, false), "EINVAL");
		apply_refused(f, step_msg(MSG_STEP_START, 1, 1, bad[i]), "EINVAL");
	}
	assert_non_null(strstr(f->err, "0-7")); /* the message says which cores exist */
}

static void test_cores_to_pus(void **state)
{
	struct fixture *f = *state;
	struct cpumask pus;

	assert_int_equal(ledger_cores_to_pus(f->topo, "0,3", &pus), 0);
	assert_mask(&pus, "0,3,8,11");
	assert_int_equal(ledger_cores_to_pus(f->topo, "7", &pus), 0);
	assert_mask(&pus, "7,15");
	assert_int_equal(ledger_cores_to_pus(f->topo, "0-7", &pus), 0);
	assert_mask(&pus, "0-15");
	assert_int_equal(ledger_cores_to_pus(f->topo, "", &pus), 0);
	assert_mask(&pus, "");
	assert_int_equal(ledger_cores_to_pus(f->topo, "8", &pus), -1);
	assert_int_equal(ledger_cores_to_pus(f->topo, "a", &pus), -1);
}

static void test_cores_to_pus_packed_numbering(void **state)
{
	/* hwloc's own numbering: core i = PUs 2i and 2i + 1 */
	struct topology *t = synthetic("package:2 core:2 pu:2", 8 * GIB);
	struct cpumask pus;

	(void)state;
	assert_int_equal(ledger_cores_to_pus(t, "1-2", &pus), 0);
	assert_mask(&pus, "2-5");
	assert_int_equal(ledger_cores_to_pus(t, "4", &pus), -1);
	topology_destroy(t);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_job_start_adds),
	    T(test_job_start_again_keeps_steps),
	    T(test_job_on_stale_jobs_pus_replaces_them),
	    T(test_job_end),
	    T(test_ledger_full),
	    T(test_step_start_end),
	    T(test_batch_step),
	    T(test_step_of_unreported_job),
	    T(test_steps_full),
	    T(test_cores_the_node_lacks),
	    T(test_cores_to_pus),
	    cmocka_unit_test(test_cores_to_pus_packed_numbering),
	};
#undef T

	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
