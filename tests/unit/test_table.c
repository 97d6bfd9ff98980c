/*
 * test_table: colocctl's tables from a query's items: preferred columns
 * first and only when some item has them, then the other keys; aligned
 * cells; booleans, null, missing keys and nested values; refusals of what
 * is not an array of objects.
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

#include "table.h"

/* Prints items into a string (malloc'd) and returns table_print's result. */
static int print(const char *items, const char *const *cols, char **text)
{
	size_t len = 0;
	FILE *f = open_memstream(text, &len);
	int rc;

	assert_non_null(f);
	rc = table_print(items, cols, f);
	fclose(f);
	return rc;
}

static void test_columns_and_alignment(void **state)
{
	static const char *const cols[] = {"id", "uid", "state", "workers", "expires", NULL};
	char *t = NULL;

	(void)state;
	assert_int_equal(print("[{\"uid\":1000,\"id\":\"L1\",\"workers\":4,\"node\":\"n1\"},"
			       "{\"id\":\"lease-22\",\"uid\":0,\"workers\":12,\"extra\":true}]",
			       cols, &t),
			 0);
	assert_string_equal(t, "ID        UID   WORKERS  NODE  EXTRA\n"
			       "L1        1000  4        n1    -\n"
			       "lease-22  0     12       -     yes\n");
	free(t);
}

static void test_values(void **state)
{
	char *t = NULL;

	(void)state;
	assert_int_equal(
	    print("[{\"a\":null,\"b\":false,\"c\":[1,2],\"d\":{\"x\":1},\"e\":0.5}]", NULL, &t), 0);
	assert_string_equal(t, "A  B   C      D        E\n"
			       "-  no  [1,2]  {\"x\":1}  0.5\n");
	free(t);
}

static void test_empty(void **state)
{
	static const char *const cols[] = {"name", "pus", NULL};
	char *t = NULL;

	(void)state;
	assert_int_equal(print("[]", cols, &t), 0);
	assert_string_equal(t, "NAME  PUS\n");
	free(t);
}

static void test_refused(void **state)
{
	char *t = NULL;

	(void)state;
	assert_int_equal(print("{\"a\":1}", NULL, &t), -EINVAL);
	free(t);
	t = NULL;
	assert_int_equal(print("[1,2]", NULL, &t), -EINVAL);
	free(t);
	t = NULL;
	assert_int_equal(print("not json", NULL, &t), -EINVAL);
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

	return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
