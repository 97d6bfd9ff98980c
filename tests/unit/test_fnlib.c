/*
 * test_fnlib: executor/fnlib.c, the function library loader. Opens the
 * example library (FAAS_EXAMPLES_LIB, set by make check) through its
 * manifest and through an explicit list, refuses bad libraries and lists
 * with a message, calls echo through the id table, and gives NULL for ids
 * out of range.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fnlib.h"

static const char *examples_lib(void)
{
	const char *path = getenv("FAAS_EXAMPLES_LIB");

	if (!path || !*path)
		fail_msg("FAAS_EXAMPLES_LIB is not set (run through make check)");
	return path;
}

static void test_manifest(void **state)
{
	struct fnlib *lib = NULL;
	char err[512] = "";

	if (fnlib_open(examples_lib(), NULL, &lib, err, sizeof(err)) != 0)
		fail_msg("fnlib_open: %s", err);
	/* ids follow the manifest's order */
	assert_int_equal(fnlib_count(lib), 4);
	assert_string_equal(fnlib_name(lib, 0), "noop");
	assert_string_equal(fnlib_name(lib, 1), "echo");
	assert_string_equal(fnlib_name(lib, 2), "blackscholes");
	assert_string_equal(fnlib_name(lib, 3), "sum64");
	for (unsigned i = 0; i < 4; i++)
		assert_non_null(fnlib_get(lib, i));
	assert_true(fnlib_get(lib, 0) != fnlib_get(lib, 1));
	fnlib_close(lib);
}

static void test_list(void **state)
{
	struct fnlib *lib = NULL;
	char err[512] = "";

	if (fnlib_open(examples_lib(), "echo,noop", &lib, err, sizeof(err)) != 0)
		fail_msg("fnlib_open: %s", err);
	/* ids follow the list's order, not the manifest's */
	assert_int_equal(fnlib_count(lib), 2);
	assert_string_equal(fnlib_name(lib, 0), "echo");
	assert_string_equal(fnlib_name(lib, 1), "noop");
	fnlib_close(lib);
	if (fnlib_open(examples_lib(), "sum64", &lib, err, sizeof(err)) != 0)
		fail_msg("fnlib_open: %s", err);
	assert_int_equal(fnlib_count(lib), 1);
	assert_string_equal(fnlib_name(lib, 0), "sum64");
	fnlib_close(lib);
}

static void test_call_echo(void **state)
{
	static const char msg[] = "hello, fnlib";
	struct fnlib *lib = NULL;
	char err[512] = "", out[64];
	size_t out_len = 12345;
	fnlib_fn *echo;

	if (fnlib_open(examples_lib(), "noop,echo", &lib, err, sizeof(err)) != 0)
		fail_msg("fnlib_open: %s", err);
	echo = fnlib_get(lib, 1);
	assert_non_null(echo);
	memset(out, 0, sizeof(out));
	assert_int_equal(echo(msg, sizeof(msg), out, sizeof(out), &out_len), 0);
	assert_int_equal(out_len, sizeof(msg));
	assert_memory_equal(out, msg, sizeof(msg));
	/* echo refuses an output that does not fit */
	assert_int_not_equal(echo(msg, sizeof(msg), out, 4, &out_len), 0);
	fnlib_close(lib);
}

static void test_out_of_range(void **state)
{
	struct fnlib *lib = NULL;
	char err[512] = "";

	if (fnlib_open(examples_lib(), "echo,noop", &lib, err, sizeof(err)) != 0)
		fail_msg("fnlib_open: %s", err);
	assert_null(fnlib_get(lib, 2));
	assert_null(fnlib_get(lib, 0xffff));
	assert_null(fnlib_get(lib, (unsigned)-1));
	assert_null(fnlib_name(lib, 2));
	assert_null(fnlib_name(lib, (unsigned)-1));
	fnlib_close(lib);
}

/* fnlib_open must fail with rc, leave *lib alone and name what in err. */
static void expect_open_error(const char *path, const char *names, int rc, const char *what)
{
	struct fnlib *lib = NULL;
	char err[512] = "";

	assert_int_equal(fnlib_open(path, names, &lib, err, sizeof(err)), rc);
	assert_null(lib);
	if (!strstr(err, what))
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
}

static void test_missing_file(void **state)
{
	expect_open_error("/nonexistent/faas_examples.so", NULL, -ENOENT,
			  "/nonexistent/faas_examples.so");
}

static void test_not_exported(void **state)
{
	expect_open_error(examples_lib(), "echo,nosuchfn", -ENOENT, "nosuchfn");
	/* names match exactly */
	expect_open_error(examples_lib(), "echo_", -ENOENT, "echo_");
	/* a libc function the library merely links against is not a function */
	expect_open_error(examples_lib(), "echo,memmove", -ENOENT, "memmove");
	expect_open_error(examples_lib(), "free", -ENOENT, "free");
}

static void test_duplicate(void **state)
{
	expect_open_error(examples_lib(), "echo,noop,echo", -EINVAL, "echo");
}

static void test_empty_name(void **state)
{
	expect_open_error(examples_lib(), "echo,,noop", -EINVAL, "1 to 63");
	expect_open_error(examples_lib(), ",echo", -EINVAL, "1 to 63");
}

static void test_long_name(void **state)
{
	char names[80];

	memset(names, 'a', 64);
	names[64] = '\0';
	expect_open_error(examples_lib(), names, -EINVAL, "1 to 63");
	/* 63 characters are allowed: the failure is then that it is not exported */
	names[63] = '\0';
	expect_open_error(examples_lib(), names, -ENOENT, "not exported");
}

static void test_empty_list(void **state)
{
	expect_open_error(examples_lib(), "", -ENOENT, "no functions");
}

static void test_no_manifest(void **state)
{
	const char *path = getenv("FAAS_TEST_LIB");

	if (!path || !*path)
		fail_msg("FAAS_TEST_LIB is not set (run through make check)");
	expect_open_error(path, NULL, -ENOENT, "faas_functions");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_manifest),	 cmocka_unit_test(test_list),
	    cmocka_unit_test(test_call_echo),	 cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_missing_file), cmocka_unit_test(test_not_exported),
	    cmocka_unit_test(test_duplicate),	 cmocka_unit_test(test_empty_name),
	    cmocka_unit_test(test_long_name),	 cmocka_unit_test(test_empty_list),
	    cmocka_unit_test(test_no_manifest),
	};

	return cmocka_run_group_tests_name("fnlib", tests, NULL, NULL);
}
