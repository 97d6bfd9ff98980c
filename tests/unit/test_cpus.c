/*
 * test_cpus: executor_parse_cpus (executor/executor.c), the --cpus list of
 * faas-executor. Single cpus, ranges and lists give exactly the cpus named;
 * malformed lists are refused with -EINVAL.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "executor.h"

/* list parses into exactly the count cpus in want. */
static void expect_cpus(const char *list, const int *want, int count)
{
	cpu_set_t set;

	if (executor_parse_cpus(list, &set) != 0)
		fail_msg("\"%s\" was refused", list);
	assert_int_equal(CPU_COUNT(&set), count);
	for (int i = 0; i < count; i++)
		if (!CPU_ISSET(want[i], &set))
			fail_msg("\"%s\" lacks cpu %d", list, want[i]);
}

static void test_single(void **state)
{
	static const int zero[] = {0}, last[] = {CPU_SETSIZE - 1};

	expect_cpus("0", zero, 1);
	expect_cpus("1023", last, 1);
}

static void test_range_and_list(void **state)
{
	static const int a[] = {0, 1, 2, 3, 8}, b[] = {1, 3}, c[] = {5}, d[] = {2, 3, 4, 6};

	expect_cpus("0-3,8", a, 5);
	expect_cpus("1,3", b, 2);
	expect_cpus("5-5", c, 1);
	expect_cpus("2-4,3,6", d, 4); /* overlaps are fine */
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
	    "",
	    "a",
	    "3-1",
	    "0-",
	    ",",
	    "1,",
	    "99999",
	    "1-2-3",
	    "-1",
	    "1024",
	    "0-1024",
	    " 1",
	    "1,,2",
	    "1;2",
	    "0x1",
	    "1-a",
	    "99999999999999999999",
	};
	cpu_set_t set;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (executor_parse_cpus(bad[i], &set) != -EINVAL)
			fail_msg("\"%s\" was not refused with -EINVAL", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single),
	    cmocka_unit_test(test_range_and_list),
	    cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests_name("cpus", tests, NULL, NULL);
}
