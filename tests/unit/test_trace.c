/*
 * test_trace: faas-trace-replay's traces (tests/bench/trace.c). The SWF
 * reader keeps every job that held nodes, whatever its status (counted by
 * status), with its fields, -1 where the trace does not know them; skips
 * comments and jobs without a run time or processors; sorts by submit
 * time; keeps the MaxNodes and MaxProcs header (the machine's shape) and
 * refuses a bad one; and refuses a trace with a malformed line, naming
 * every bad line. Usage samples attach to their jobs in time order. The
 * synthetic trace is the same for the same seed, differs for another, keeps
 * to its documented distributions and offered load, and reads back from SWF.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trace.h"

/* Parses text as SWF; errors go to *errs (the caller frees it). */
static int parse_text(const char *text, size_t max_jobs, struct trace *t, char **errs)
{
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	size_t len = 0;
	FILE *err = open_memstream(errs, &len);
	int rc;

	assert_non_null(in);
	assert_non_null(err);
	rc = trace_parse_swf(in, "t.swf", max_jobs, t, err);
	fclose(in);
	fclose(err);
	return rc;
}

static const char good[] = "; Version: 2.2\n"
			   "; Note: MaxProcs: 7 (not a header: the first key on a line counts)\n"
			   ";   MaxProcs: 1152\n"
			   ";MaxNodes:32\n"
			   "\n"
			   "2 100 5 3600 72 3000.5 1024 72 7200 -1 1 7 1 -1 1 -1 -1 -1\n"
			   "1 50 0 60 36 -1 -1 36 600 -1 1 3 1 -1 1 -1 -1 -1\n"
			   "3 120 0 10 36 -1 -1 36 600 -1 0 3 1 -1 1 -1 -1 -1\n"
			   "4 130 0 10 36 -1 -1 36 600 -1 5 3 1 -1 1 -1 -1 -1\n"
			   "  5\t140 0 -1 36 -1 -1 36 600 -1 1 3 1 -1 1 -1 -1 -1  \n"
			   "6 150 -1 20 8 -1 -1 -1 -1 -1 3 -1 -1 -1 -1 -1 -1 -1\n"
			   "7 160 -1 0 8 -1 -1 -1 -1 -1 5 -1 -1 -1 -1 -1 -1 -1\n"
			   "8 170 -1 30 -1 -1 -1 -1 -1 -1 0 -1 -1 -1 -1 -1 -1 -1\n";

static void test_swf_fields(void **state)
{
	struct trace t;
	char *errs = NULL;

	(void)state;
	assert_int_equal(parse_text(good, 0, &t, &errs), 0);
	assert_string_equal(errs, "");
	/* every job that held nodes, whatever its status */
	assert_int_equal(t.njobs, 5);
	assert_int_equal(t.by_status[TRACE_COMPLETED], 2);
	assert_int_equal(t.by_status[TRACE_FAILED], 1);
	assert_int_equal(t.by_status[TRACE_CANCELLED], 1);
	assert_int_equal(t.by_status[TRACE_OTHER], 1); /* 3: partial */
	assert_int_equal(t.skipped, 3);		       /* run -1, run 0, procs -1 */
	assert_int_equal(t.max_procs, 1152);
	assert_int_equal(t.max_nodes, 32);
	/* sorted by submit time */
	assert_int_equal(t.jobs[0].id, 1);
	assert_int_equal(t.jobs[1].id, 2);
	assert_int_equal(t.jobs[1].submit, 100);
	assert_int_equal(t.jobs[1].wait, 5);
	assert_int_equal(t.jobs[1].run, 3600);
	assert_int_equal(t.jobs[1].procs, 72);
	assert_true(t.jobs[1].cpu_time == 3000.5);
	assert_true(t.jobs[1].mem_kib == 1024);
	assert_int_equal(t.jobs[1].req_time, 7200);
	assert_int_equal(t.jobs[1].status, 1);
	assert_true(t.jobs[1].mem_fraction < 0);
	assert_int_equal(t.jobs[2].id, 3);
	assert_int_equal(t.jobs[2].status, 0);
	assert_int_equal(t.jobs[3].status, 5);
	/* -1: unknown, kept as -1 (the replay schedules a job without a wait) */
	assert_int_equal(t.jobs[4].id, 6);
	assert_int_equal(t.jobs[4].wait, -1);
	assert_true(t.jobs[4].cpu_time == -1);
	assert_true(t.jobs[4].mem_kib == -1);
	assert_int_equal(t.jobs[4].req_time, -1);
	assert_int_equal(t.jobs[4].run, 20);
	assert_int_equal(t.jobs[4].procs, 8);
	trace_fini(&t);
	free(errs);

	assert_int_equal(parse_text(good, 1, &t, &errs), 0);
	assert_int_equal(t.njobs, 1);
	assert_int_equal(t.jobs[0].id, 1);
	assert_int_equal(t.by_status[TRACE_COMPLETED], 1);
	assert_int_equal(t.by_status[TRACE_FAILED], 0);
	trace_fini(&t);
	free(errs);

	/* no header: no shape (the program then asks for --nodes and --cores) */
	assert_int_equal(
	    parse_text("1 0 -1 60 8 -1 -1 -1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1\n", 0, &t, &errs), 0);
	assert_int_equal(t.max_nodes, 0);
	assert_int_equal(t.max_procs, 0);
	trace_fini(&t);
	free(errs);
}

static void test_swf_refuses_bad_header(void **state)
{
	static const char *const bad[] = {"; MaxNodes: many\n", "; MaxNodes: 0\n",
					  "; MaxProcs: -8\n", "; MaxProcs: 12 cores\n",
					  "; MaxNodes:\n"};
	struct trace t;
	char *errs = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];

		snprintf(text, sizeof(text), "; Version: 2.2\n%s%s", bad[i],
			 "1 0 -1 60 8 -1 -1 -1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1\n");
		assert_int_equal(parse_text(text, 0, &t, &errs), -EINVAL);
		assert_int_equal(t.njobs, 0);
		if (!strstr(errs, "t.swf:2: header Max") || !strstr(errs, "a whole number") ||
		    !strstr(errs, "1 bad line; the trace is refused"))
			fail_msg("%s: got \"%s\"", bad[i], errs);
		free(errs);
	}
}

static void test_usage_samples(void **state)
{
	static const char usage[] = "# job seconds idle\n"
				    "2 600 0.25\n"
				    "2 0 0.5\n"
				    "99 0 0.1\n" /* not in the trace */
				    "\n"
				    "1 0 0\n";
	static const char bad_usage[] = "1 0 0.5\n1 60 1.5\n1 x 0\n";
	struct trace t;
	char *errs = NULL;
	size_t len = 0;
	FILE *in, *err;

	(void)state;
	assert_int_equal(parse_text(good, 0, &t, &errs), 0);
	free(errs);
	in = fmemopen((void *)usage, strlen(usage), "r");
	err = open_memstream(&errs, &len);
	assert_int_equal(trace_parse_usage(in, "u.txt", &t, err), 0);
	fclose(in);
	fclose(err);
	assert_string_equal(errs, "");
	free(errs);
	assert_int_equal(t.nusage, 3);
	assert_int_equal(t.usage_unmatched, 1);
	/* job 2 (jobs[1]): its two samples in time order */
	assert_int_equal(t.jobs[1].nusage, 2);
	assert_int_equal(t.usage[t.jobs[1].usage_first].at, 0);
	assert_true(t.usage[t.jobs[1].usage_first].idle == 0.5);
	assert_int_equal(t.usage[t.jobs[1].usage_first + 1].at, 600);
	assert_int_equal(t.usage[t.jobs[1].usage_first + 1].job_id, 2);
	assert_int_equal(t.jobs[0].nusage, 1);
	assert_int_equal(t.jobs[2].nusage, 0);

	/* a bad line: named, and the samples refused */
	in = fmemopen((void *)bad_usage, strlen(bad_usage), "r");
	err = open_memstream(&errs, &len);
	assert_int_equal(trace_parse_usage(in, "u.txt", &t, err), -EINVAL);
	fclose(in);
	fclose(err);
	assert_non_null(strstr(errs, "u.txt:2: SECONDS must be 0 or more and IDLE_FRACTION"));
	assert_non_null(strstr(errs, "u.txt:3: expected JOB_ID SECONDS IDLE_FRACTION"));
	assert_non_null(strstr(errs, "2 bad lines; the samples are refused"));
	assert_int_equal(t.nusage, 3); /* the samples read before are kept */
	free(errs);
	trace_fini(&t);
}

static void test_swf_refuses_bad_lines(void **state)
{
	static const char bad[] =
	    "; a trace\n"
	    "1 50 0 60 36 -1 -1 36 600 -1 1 3 1 -1 1 -1 -1\n"	    /* 17 */
	    "2 50 0 60 36 -1 -1 36 600 -1 1 3 1 -1 1 -1 -1 -1\n"    /* good */
	    "3 50 0 6x 36 -1 -1 36 600 -1 1 3 1 -1 1 -1 -1 -1\n"    /* junk */
	    "4 50 0 60.5 36 -1 -1 36 600 -1 1 3 1 -1 1 -1 -1 -1\n"  /* decimal */
	    "5 50 0 60 -2 -1 -1 36 600 -1 1 3 1 -1 1 -1 -1 -1\n"    /* < -1 */
	    "6 50 0 60 36 -1 -1 36 600 -1 1 3 1 -1 1 -1 -1 -1 9\n"; /* 19 */
	struct trace t;
	char *errs = NULL;

	(void)state;
	assert_int_equal(parse_text(bad, 0, &t, &errs), -EINVAL);
	assert_int_equal(t.njobs, 0);
	assert_null(t.jobs);
	assert_non_null(strstr(errs, "t.swf:2: 17 fields, expected 18"));
	assert_null(strstr(errs, "t.swf:3:"));
	assert_non_null(strstr(errs, "t.swf:4: field 4 \"6x\" is not a number"));
	assert_non_null(strstr(errs, "t.swf:5: field 4 is 60.5, not a whole number"));
	assert_non_null(strstr(errs, "t.swf:6: field 5 is -2, below -1"));
	assert_non_null(strstr(errs, "t.swf:7: more than 18 fields"));
	assert_non_null(strstr(errs, "5 bad lines; the trace is refused"));
	free(errs);

	/* decimals are fine where SWF has them (CPU time, memory) */
	assert_int_equal(
	    parse_text("1 0 0 60 36 1.5 2.25 36 600 3.5 1 3 1 -1 1 -1 -1 -1\n", 0, &t, &errs), 0);
	assert_int_equal(t.njobs, 1);
	trace_fini(&t);
	free(errs);
}

static const struct trace_synth synth = {
    .seed = 42, .nodes = 64, .cores = 36, .days = 10, .load = 0.9, .max_job_nodes = 8};

static void test_synthetic_reproducible(void **state)
{
	struct trace a, b, c;
	struct trace_synth other = synth;

	(void)state;
	assert_int_equal(trace_synthetic(&synth, &a), 0);
	assert_int_equal(trace_synthetic(&synth, &b), 0);
	assert_true(a.njobs > 100);
	assert_int_equal(a.njobs, b.njobs);
	assert_memory_equal(a.jobs, b.jobs, a.njobs * sizeof(*a.jobs));
	other.seed = 43;
	assert_int_equal(trace_synthetic(&other, &c), 0);
	assert_true(c.njobs != a.njobs || memcmp(a.jobs, c.jobs, a.njobs * sizeof(*a.jobs)) != 0);
	/* a fixed value: the generator is the same on every machine */
	assert_int_equal(a.jobs[0].run, b.jobs[0].run);
	trace_fini(&a);
	trace_fini(&b);
	trace_fini(&c);
}

static void test_synthetic_distributions(void **state)
{
	struct trace t;
	double work = 0, mem = 0;
	size_t one = 0, runs_below_median = 0;

	(void)state;
	assert_int_equal(trace_synthetic(&synth, &t), 0);
	for (size_t i = 0; i < t.njobs; i++) {
		const struct trace_job *j = &t.jobs[i];
		int64_t nodes = j->procs / synth.cores;

		assert_int_equal(j->procs % synth.cores, 0);
		assert_true(nodes >= 1 && nodes <= synth.max_job_nodes);
		assert_int_equal(nodes & (nodes - 1), 0); /* a power of two */
		assert_true(j->run >= 60 && j->run <= 86400);
		assert_true(j->req_time >= j->run && j->req_time <= 86400);
		assert_true(j->mem_fraction >= 0.05 && j->mem_fraction <= 0.35);
		assert_int_equal(j->status, 1);
		if (i)
			assert_true(j->submit >= t.jobs[i - 1].submit);
		assert_true(j->submit < synth.days * 86400);
		one += nodes == 1;
		runs_below_median += j->run < 3600;
		work += (double)nodes * (double)j->run;
		mem += j->mem_fraction;
	}
	/* half the jobs on one node, half the runs under an hour, mean memory 20 % */
	assert_true(fabs((double)one / t.njobs - 0.5) < 0.05);
	assert_true(fabs((double)runs_below_median / t.njobs - 0.5) < 0.05);
	assert_true(fabs(mem / t.njobs - 0.2) < 0.02);
	/* the offered load, within sampling noise */
	work /= synth.days * 86400 * synth.nodes;
	assert_true(work > 0.75 * synth.load && work < 1.25 * synth.load);
	trace_fini(&t);

	struct trace_synth bad = synth;

	bad.load = 0;
	assert_int_equal(trace_synthetic(&bad, &t), -EINVAL);
}

static void test_synthetic_swf_round_trip(void **state)
{
	struct trace a, b;
	char *buf = NULL, *errs = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(trace_synthetic(&synth, &a), 0);
	f = open_memstream(&buf, &len);
	assert_int_equal(trace_write_swf(&a, f), 0);
	fclose(f);
	assert_int_equal(parse_text(buf, 0, &b, &errs), 0);
	assert_int_equal(b.njobs, a.njobs);
	assert_int_equal(b.max_procs, a.max_procs);
	assert_int_equal(b.max_nodes, synth.nodes);
	for (size_t i = 0; i < a.njobs; i++) {
		assert_int_equal(b.jobs[i].id, a.jobs[i].id);
		assert_int_equal(b.jobs[i].submit, a.jobs[i].submit);
		assert_int_equal(b.jobs[i].run, a.jobs[i].run);
		assert_int_equal(b.jobs[i].procs, a.jobs[i].procs);
		assert_int_equal(b.jobs[i].req_time, a.jobs[i].req_time);
	}
	trace_fini(&a);
	trace_fini(&b);
	free(buf);
	free(errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_swf_fields),
	    cmocka_unit_test(test_swf_refuses_bad_lines),
	    cmocka_unit_test(test_swf_refuses_bad_header),
	    cmocka_unit_test(test_usage_samples),
	    cmocka_unit_test(test_synthetic_reproducible),
	    cmocka_unit_test(test_synthetic_distributions),
	    cmocka_unit_test(test_synthetic_swf_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
