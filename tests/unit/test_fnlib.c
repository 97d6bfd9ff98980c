/*
 * test_fnlib: executor/fnlib.c, the function library loader. Opens the
 * example library (FAAS_EXAMPLES_LIB, set by make check) through its
 * manifest and through an explicit list, refuses bad libraries and lists
 * with a message, calls echo through the id table, and gives NULL for ids
 * out of range. testmap.so (FAAS_MAP_LIB) maps names to symbols of other
 * names and has per-worker hooks.
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

/* A test library's path, from the environment make check sets. */
static const char *lib_env(const char *var)
{
	const char *path = getenv(var);

	if (!path || !*path)
		fail_msg("%s is not set (run through make check)", var);
	return path;
}

static const char *examples_lib(void)
{
	return lib_env("FAAS_EXAMPLES_LIB");
}

static const char *map_lib(void)
{
	return lib_env("FAAS_MAP_LIB");
}

/* Opens path with names (NULL: the manifest), or fails the test. */
static struct fnlib *open_ok(const char *path, const char *names)
{
	struct fnlib *lib = NULL;
	char err[512] = "";

	if (fnlib_open(path, names, &lib, err, sizeof(err)) != 0)
		fail_msg("fnlib_open(%s): %s", names ? names : "manifest", err);
	return lib;
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

/* Calls function id of lib, which returns one unsigned. */
static unsigned call_unsigned(const struct fnlib *lib, unsigned id)
{
	unsigned v = 0;
	size_t len = 0;

	assert_non_null(fnlib_get(lib, id));
	assert_int_equal(fnlib_get(lib, id)(NULL, 0, &v, sizeof(v), &len), 0);
	assert_int_equal(len, sizeof(v));
	return v;
}

/* "compress=testmap_compress": clients call compress, the library defines
 * testmap_compress; even a name a dependency defines (free) maps. */
static void test_manifest_maps_symbols(void **state)
{
	struct fnlib *lib = open_ok(map_lib(), NULL);

	assert_int_equal(fnlib_count(lib), 4);
	assert_string_equal(fnlib_name(lib, 0), "compress");
	assert_string_equal(fnlib_name(lib, 1), "free");
	assert_string_equal(fnlib_name(lib, 2), "whoami");
	assert_int_equal(call_unsigned(lib, 0), 1);
	assert_int_equal(call_unsigned(lib, 1), 2);
	fnlib_close(lib);
}

static void test_list_maps_symbols(void **state)
{
	struct fnlib *lib = open_ok(map_lib(), "zip=testmap_compress,whoami,z2=testmap_compress");

	assert_int_equal(fnlib_count(lib), 3);
	assert_string_equal(fnlib_name(lib, 0), "zip");
	assert_string_equal(fnlib_name(lib, 1), "whoami");
	assert_string_equal(fnlib_name(lib, 2), "z2"); /* one symbol, two names */
	assert_int_equal(call_unsigned(lib, 0), 1);
	assert_int_equal(call_unsigned(lib, 2), 1);
	fnlib_close(lib);
}

static void test_bad_mappings(void **state)
{
	static const struct {
		const char *names;
		int rc;
		const char *what;
	} cases[] = {
	    /* a plain name is its own symbol: names only a dependency has, or
	     * none, stay refused */
	    {"free", -ENOENT, "free"},
	    {"compress", -ENOENT, "compress"},
	    /* the symbol must exist in the library itself */
	    {"zip=nosuchsym", -ENOENT, "nosuchsym"},
	    {"zip=free", -ENOENT, "free"},
	    /* names: a charset, a length; symbols: not empty, one '=' */
	    {"a b=whoami", -EINVAL, "letters"},
	    {"a/b=whoami", -EINVAL, "letters"},
	    {"=whoami", -EINVAL, "1 to 63"},
	    {"zip=", -EINVAL, "name=symbol"},
	    {"zip=a=b", -EINVAL, "name=symbol"},
	    {"zip=who ami", -EINVAL, "printable"},
	    /* duplicates are names, whatever their symbols */
	    {"zip=whoami,zip=testmap_compress", -EINVAL, "twice"},
	    {"whoami,whoami=testmap_compress", -EINVAL, "twice"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_open_error(map_lib(), cases[i].names, cases[i].rc, cases[i].what);
}

static void test_hooks(void **state)
{
	struct fnlib *lib = open_ok(map_lib(), NULL);

	assert_non_null(fnlib_worker_init(lib));
	assert_non_null(fnlib_worker_fini(lib));
	/* init sets this thread's state, which whoami returns */
	assert_int_equal(fnlib_worker_init(lib)(3), 0);
	assert_int_equal(call_unsigned(lib, 2), 103);
	assert_int_equal(fnlib_worker_init(lib)(99), 5);
	fnlib_worker_fini(lib)(7);
	assert_int_equal(call_unsigned(lib, 3), 7);
	fnlib_close(lib);
	/* a library without hooks */
	lib = open_ok(examples_lib(), NULL);
	assert_null(fnlib_worker_init(lib));
	assert_null(fnlib_worker_fini(lib));
	fnlib_close(lib);
}

static void test_no_manifest(void **state)
{
	expect_open_error(lib_env("FAAS_TEST_LIB"), NULL, -ENOENT, "faas_functions");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_manifest),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_call_echo),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_not_exported),
	    cmocka_unit_test(test_duplicate),
	    cmocka_unit_test(test_empty_name),
	    cmocka_unit_test(test_long_name),
	    cmocka_unit_test(test_empty_list),
	    cmocka_unit_test(test_no_manifest),
	    cmocka_unit_test(test_manifest_maps_symbols),
	    cmocka_unit_test(test_list_maps_symbols),
	    cmocka_unit_test(test_bad_mappings),
	    cmocka_unit_test(test_hooks),
	};

	return cmocka_run_group_tests_name("fnlib", tests, NULL, NULL);
}
