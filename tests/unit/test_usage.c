/*
 * test_usage: colocd/usage.c, the usage records. What users rely on:
 *   - core-, GB- and GPU-seconds follow from what the lease held and how
 *     long;
 *   - a user sees only their own leases, and the leases on the cores of a
 *     host job they own when they ask for it; root sees all;
 *   - summaries by user, host job (a lease's share on each job's PUs),
 *     node and lease add up; --since narrows them;
 *   - records are appended one line each, and read back by a query, a
 *     broken line skipped.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "usage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct msg_usage record(const char *id, uint32_t uid, const char *user,
			       const char *host_jobs, uint32_t cores, int64_t end)
{
	struct msg_usage u = {.uid = uid, .cores = cores, .mem = 2ull << 30, .calls = 10};

	snprintf(u.id, sizeof(u.id), "%s", id);
	snprintf(u.user, sizeof(u.user), "%s", user);
	snprintf(u.host_jobs, sizeof(u.host_jobs), "%s", host_jobs);
	snprintf(u.node, sizeof(u.node), "node%u", uid % 2);
	snprintf(u.pus, sizeof(u.pus), "0-%u", cores - 1);
	snprintf(u.state, sizeof(u.state), "released");
	usage_account(&u, (end - 100) * 1000, end * 1000);
	return u;
}

static const struct msg_row_usage *group(const struct msg *res, const char *name)
{
	for (uint32_t i = 0; i < res->u.result.nrows; i++)
		if (strcmp(res->u.result.rows[i].usage.group, name) == 0)
			return &res->u.result.rows[i].usage;
	fail_msg("no group %s", name);
	return NULL;
}

static void test_account(void **state)
{
	struct msg_usage u = {.cores = 4, .mem = 3ull << 29, .gpus = 2};

	(void)state;
	usage_account(&u, 1000000, 1090500); /* 90.5 s */
	assert_int_equal(u.start, 1000);
	assert_int_equal(u.end, 1090);
	assert_int_equal(u.core_seconds, 362);
	assert_int_equal(u.gb_seconds, 136); /* 1.5 GiB x 90.5 s = 135.75 */
	assert_int_equal(u.gpu_seconds, 181);
	usage_account(&u, 5000, 4000); /* a clock stepped back: nothing, not a wrap */
	assert_int_equal(u.core_seconds, 0);
}

static void test_host_jobs(void **state)
{
	struct host_job jobs[2] = {{.job_id = 40, .uid = 1001}, {.job_id = 41, .uid = 1002}};
	struct cpumask pus;
	char out[64];

	(void)state;
	cpumask_parse("0-3", &jobs[0].pus);
	cpumask_parse("4-7", &jobs[1].pus);
	cpumask_parse("2-4,9", &pus);
	usage_host_jobs(jobs, 2, &pus, out, sizeof(out));
	assert_string_equal(out, "40:1001:2,41:1002:1");
	usage_host_jobs(jobs, 2, &pus, out, 12); /* what does not fit is left out */
	assert_string_equal(out, "40:1001:2");
	cpumask_parse("9", &pus);
	usage_host_jobs(jobs, 2, &pus, out, sizeof(out));
	assert_string_equal(out, "");
}

static void test_visible(void **state)
{
	struct msg_usage u = record("lease-1", 1000, "alice", "40:1001:2,41:1002:1", 4, 5000);
	struct msg_usage_filter none = {0}, on40 = {.host_job = 40}, on41 = {.host_job = 41};

	(void)state;
	assert_true(usage_visible(&u, &none, 0, true));
	assert_true(usage_visible(&u, &none, 1000, false));  /* the owner */
	assert_false(usage_visible(&u, &none, 1001, false)); /* a host job's owner ... */
	assert_true(usage_visible(&u, &on40, 1001, false));  /* ... asking for their job */
	assert_false(usage_visible(&u, &on41, 1001, false)); /* not someone else's job */
	assert_false(usage_visible(&u, &on40, 1002, false));
	assert_false(usage_visible(&u, &none, 65534, false));
}

static void test_sum(void **state)
{
	struct msg_usage a = record("lease-1", 1000, "alice", "40:1001:2,41:1002:1", 4, 5000);
	struct msg_usage b = record("lease-2", 1001, "", "", 2, 6000);
	struct msg_usage_filter f = {.by = MSG_BY_USER};
	struct msg res = {.type = MSG_RESULT, .u.result.what = MSG_QUERY_USAGE};

	(void)state;
	assert_int_equal(usage_sum(&res, &a, &f), 0);
	assert_int_equal(usage_sum(&res, &b, &f), 0);
	assert_int_equal(usage_sum(&res, &a, &f), 0);
	assert_int_equal(res.u.result.nrows, 2);
	assert_int_equal(group(&res, "alice")->leases, 2);
	assert_int_equal(group(&res, "alice")->core_seconds, 800);
	assert_int_equal(group(&res, "alice")->calls, 20);
	assert_int_equal(group(&res, "1001")->core_seconds, 200); /* no name: the uid */
	msg_free(&res);

	/* by host job: each job its share, the rest unallocated */
	res = (struct msg){.type = MSG_RESULT, .u.result.what = MSG_QUERY_USAGE};
	f.by = MSG_BY_HOST_JOB;
	assert_int_equal(usage_sum(&res, &a, &f), 0);
	assert_int_equal(usage_sum(&res, &b, &f), 0);
	assert_int_equal(group(&res, "40")->core_seconds, 200);
	assert_int_equal(group(&res, "41")->core_seconds, 100);
	assert_int_equal(group(&res, "(unallocated)")->core_seconds, 100 + 200);
	assert_int_equal(group(&res, "40")->gb_seconds, 100); /* 2 GiB x 100 s x 2/4 */
	msg_free(&res);

	/* one host job: only what ran on its PUs */
	res = (struct msg){.type = MSG_RESULT, .u.result.what = MSG_QUERY_USAGE};
	f = (struct msg_usage_filter){.by = MSG_BY_NODE, .host_job = 41};
	assert_int_equal(usage_sum(&res, &a, &f), 0);
	assert_int_equal(res.u.result.nrows, 1);
	assert_int_equal(group(&res, "node0")->core_seconds, 100);
	msg_free(&res);
}

/* More groups than a frame carries: the rest in "(other)". */
static void test_sum_other(void **state)
{
	struct msg res = {.type = MSG_RESULT, .u.result.what = MSG_QUERY_USAGE};
	struct msg_usage_filter f = {.by = MSG_BY_LEASE};

	(void)state;
	for (unsigned i = 0; i < USAGE_ROWS_MAX + 10; i++) {
		char id[32];
		struct msg_usage u;

		snprintf(id, sizeof(id), "lease-%u", i);
		u = record(id, 1000, "alice", "", 1, 5000);
		assert_int_equal(usage_sum(&res, &u, &f), 0);
	}
	assert_int_equal(res.u.result.nrows, USAGE_ROWS_MAX);
	assert_int_equal(group(&res, "(other)")->leases, 11);
	msg_free(&res);
}

static void test_since(void **state)
{
	int64_t t = 0;
	struct tm tm = {.tm_year = 126, .tm_mon = 11, .tm_mday = 1, .tm_hour = 10, .tm_isdst = -1};

	(void)state;
	assert_int_equal(usage_since_parse("7d", 1000000, &t), 0);
	assert_int_equal(t, 1000000 - 7 * 86400);
	assert_int_equal(usage_since_parse("90s", 1000, &t), 0);
	assert_int_equal(t, 910);
	assert_int_equal(usage_since_parse("2w", 2000000, &t), 0);
	assert_int_equal(t, 2000000 - 14 * 86400);
	assert_int_equal(usage_since_parse("2026-12-01T10:00", 0, &t), 0);
	assert_int_equal(t, (int64_t)mktime(&tm));
	assert_int_equal(usage_since_parse("2026-12-01 10:00:00", 0, &t), 0);
	assert_int_equal(t, (int64_t)mktime(&tm));
	assert_int_equal(usage_since_parse("2026-12-01", 0, &t), 0);
	assert_int_equal(usage_since_parse("7x", 0, &t), -EINVAL);
	assert_int_equal(usage_since_parse("yesterday", 0, &t), -EINVAL);
	assert_int_equal(usage_since_parse("2026-12-01T", 0, &t), -EINVAL);
	assert_int_equal(usage_since_parse("", 0, &t), -EINVAL);
}

/* Appended records come back from a query, as the asker may see them. */
static void test_file(void **state)
{
	char dir[] = "test_usage.XXXXXX", path[64], err[512];
	struct msg_usage a = record("lease-1", 1000, "alice", "40:1001:2", 4, 5000);
	struct msg_usage b = record("lease-2", 1002, "bob", "", 2, 9000);
	struct msg_usage_filter f = {.by = MSG_BY_USER};
	struct usage_book book = {0};
	struct msg res;
	FILE *out;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(usage_query(dir, MSG_QUERY_USAGE, &f, 0, true, &res, err, sizeof(err)), 0);
	assert_int_equal(res.u.result.nrows, 0); /* nothing yet */
	msg_free(&res);
	assert_int_equal(usage_book_append(&book, dir, &a, err, sizeof(err)), 0);
	assert_int_equal(usage_book_append(&book, dir, &a, err, sizeof(err)), 1); /* once */
	snprintf(path, sizeof(path), "%s/" USAGE_CLUSTER_FILE, dir);
	out = fopen(path, "a");
	fputs("{\"broken\n", out); /* skipped */
	fclose(out);
	assert_int_equal(usage_append(dir, USAGE_CLUSTER_FILE, &b, false, err, sizeof(err)), 0);

	assert_int_equal(usage_query(dir, MSG_QUERY_USAGE, &f, 0, true, &res, err, sizeof(err)), 0);
	assert_int_equal(res.u.result.nrows, 2);
	assert_int_equal(group(&res, "alice")->leases, 1);
	msg_free(&res);
	/* bob sees bob's */
	assert_int_equal(usage_query(dir, MSG_QUERY_USAGE, &f, 1002, false, &res, err, sizeof(err)),
			 0);
	assert_int_equal(res.u.result.nrows, 1);
	assert_int_equal(group(&res, "bob")->leases, 1);
	msg_free(&res);
	/* host job 40's owner sees what ran there, as records */
	f.host_job = 40;
	assert_int_equal(
	    usage_query(dir, MSG_QUERY_RECORDS, &f, 1001, false, &res, err, sizeof(err)), 0);
	assert_int_equal(res.u.result.nrows, 1);
	assert_string_equal(res.u.result.rows[0].record.id, "lease-1");
	msg_free(&res);
	/* since */
	f = (struct msg_usage_filter){.since = 6000};
	assert_int_equal(usage_query(dir, MSG_QUERY_RECORDS, &f, 0, true, &res, err, sizeof(err)),
			 0);
	assert_int_equal(res.u.result.nrows, 1);
	assert_string_equal(res.u.result.rows[0].record.id, "lease-2");
	msg_free(&res);

	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_account),   cmocka_unit_test(test_host_jobs),
	    cmocka_unit_test(test_visible),   cmocka_unit_test(test_sum),
	    cmocka_unit_test(test_sum_other), cmocka_unit_test(test_since),
	    cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
