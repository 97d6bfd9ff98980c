/*
 * test_table: colocctl's tables from a query's rows: preferred columns
 * first (names that are no field skipped), then the other fields in wire
 * order; aligned cells; numbers, booleans, times (local dates, "-" for
 * none) and empty strings; the header
 * alone when there are no rows; a message that is not a result refused.
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
#include <time.h>

#include <cmocka.h>

#include "msg.h"
#include "table.h"

/* Prints m into a string (malloc'd) and returns table_print's result. */
static int print(const struct msg *m, const char *const *cols, char **text)
{
	size_t len = 0;
	FILE *f = open_memstream(text, &len);
	int rc;

	assert_non_null(f);
	rc = table_print(m, cols, f);
	fclose(f);
	return rc;
}

static void add_lease(struct msg *m, const char *id, uint32_t uid, uint32_t workers,
		      const char *state, const char *why)
{
	union msg_row *row = msg_result_add(m);

	assert_non_null(row);
	snprintf(row->lease.id, sizeof(row->lease.id), "%s", id);
	row->lease.uid = uid;
	snprintf(row->lease.state, sizeof(row->lease.state), "%s", state);
	snprintf(row->lease.node, sizeof(row->lease.node), "n1");
	row->lease.workers = workers;
	snprintf(row->lease.cpus, sizeof(row->lease.cpus), "%s", workers ? "4-7" : "");
	row->lease.mem = workers * 1024u;
	snprintf(row->lease.gpus, sizeof(row->lease.gpus), "%s", workers ? "1" : "");
	row->lease.expires = 1795457874;
	snprintf(row->lease.why, sizeof(row->lease.why), "%s", why);
}

static void test_columns_and_alignment(void **state)
{
	static const char *const cols[] = {"id", "uid", "no_such_field", "workers", NULL};
	struct msg m = {.type = MSG_RESULT, .u.result.what = MSG_QUERY_LEASES};
	char *t = NULL;

	(void)state;
	add_lease(&m, "L1", 1000, 4, "ready", "");
	add_lease(&m, "lease-22", 0, 0, "expired", "its time ran out");
	assert_int_equal(print(&m, cols, &t), 0);
	assert_string_equal(
	    t,
	    "ID        UID   WORKERS  STATE    NODE  CPUS  MEM   GPUS  EXPIRES              WHY\n"
	    "L1        1000  4        ready    n1    4-7   4096  1     2026-11-23 18:17:54  \n"
	    "lease-22  0     0        expired  n1          0           2026-11-23 18:17:54  its time "
	    "ran out\n");
	free(t);
	msg_free(&m);
}

static void test_values(void **state)
{
	struct msg m = {.type = MSG_RESULT, .u.result.what = MSG_QUERY_GAPS};
	union msg_row *row;
	char *t = NULL;

	(void)state;
	row = msg_result_add(&m);
	assert_non_null(row);
	snprintf(row->gap.node, sizeof(row->gap.node), "n2");
	snprintf(row->gap.lendable, sizeof(row->gap.lendable), "0-3");
	row->gap.mem = 18446744073709551615ull; /* printed unsigned */
	row->gap.gpus = 2;
	row->gap.drained = true;
	assert_int_equal(print(&m, NULL, &t), 0);
	assert_string_equal(
	    t, "NODE  LENDABLE  UNALLOCATED  MEM                   GPUS  UNTIL  DRAINED\n"
	       "n2    0-3                    18446744073709551615  2     -      yes\n");
	free(t);
	msg_free(&m);
}

static void test_empty(void **state)
{
	static const char *const cols[] = {"name", "pus", NULL};
	struct msg m = {.type = MSG_RESULT, .u.result.what = MSG_QUERY_NODES};
	char *t = NULL;

	(void)state;
	assert_int_equal(print(&m, cols, &t), 0);
	assert_string_equal(t, "NAME  PUS  STATE  MEM  GPUS  JOBS  DRAINED\n");
	free(t);
}

static void test_refused(void **state)
{
	struct msg m = {.type = MSG_OK};
	char *t = NULL;

	(void)state;
	assert_int_equal(print(&m, NULL, &t), -EINVAL);
	free(t);
	t = NULL;
	m.type = MSG_RESULT; /* what is no query */
	assert_int_equal(print(&m, NULL, &t), -EINVAL);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_columns_and_alignment),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_refused),
	};

	/* times print in local time: this one's */
	if (setenv("TZ", "UTC", 1) != 0)
		return 1;
	tzset();
	return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
