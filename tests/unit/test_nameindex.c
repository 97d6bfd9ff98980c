/*
 * test_nameindex: colocd/nameindex.c, the hash index of the controller's
 * registry. Every name added is found under its id and no other; removal
 * (which shifts probe runs back) never loses another name; the index grows
 * past its first size without a limit of its own.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nameindex.h"

#define N 20000

static char names[N][24];

static const char *key(const void *ctx, uint32_t id)
{
	(void)ctx;
	return names[id];
}

static void expect_found(const struct nameindex *x, uint32_t id)
{
	uint32_t got = UINT32_MAX;

	assert_int_equal(nameindex_find(x, names[id], &got), 0);
	assert_int_equal(got, id);
}

static void test_add_find_remove(void **state)
{
	struct nameindex *x = nameindex_create(key, NULL);
	uint32_t id;

	(void)state;
	assert_non_null(x);
	for (uint32_t i = 0; i < N; i++)
		snprintf(names[i], sizeof(names[i]), "nid%05u", i);
	assert_int_equal(nameindex_find(x, "nid00000", &id), -ENOENT);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(nameindex_add(x, i), 0);
	assert_int_equal(nameindex_count(x), N);
	assert_int_equal(nameindex_add(x, 7), -EEXIST);
	for (uint32_t i = 0; i < N; i++)
		expect_found(x, i);
	assert_int_equal(nameindex_find(x, "nid", &id), -ENOENT);
	assert_int_equal(nameindex_find(x, "", &id), -ENOENT);

	/* every other one goes: the rest are still found */
	for (uint32_t i = 0; i < N; i += 2)
		assert_int_equal(nameindex_remove(x, i), 0);
	assert_int_equal(nameindex_remove(x, 0), -ENOENT);
	assert_int_equal(nameindex_count(x), N / 2);
	for (uint32_t i = 0; i < N; i++) {
		if (i % 2)
			expect_found(x, i);
		else
			assert_int_equal(nameindex_find(x, names[i], &id), -ENOENT);
	}
	/* and come back */
	for (uint32_t i = 0; i < N; i += 2)
		assert_int_equal(nameindex_add(x, i), 0);
	for (uint32_t i = 0; i < N; i++)
		expect_found(x, i);
	nameindex_destroy(x);
	nameindex_destroy(NULL);
}

/* A name that moved (a removed record's slot reused by another name) is
 * found under the new record only. */
static void test_reuse(void **state)
{
	struct nameindex *x = nameindex_create(key, NULL);
	uint32_t id;

	(void)state;
	snprintf(names[0], sizeof(names[0]), "old");
	snprintf(names[1], sizeof(names[1]), "other");
	assert_int_equal(nameindex_add(x, 0), 0);
	assert_int_equal(nameindex_add(x, 1), 0);
	assert_int_equal(nameindex_remove(x, 0), 0);
	snprintf(names[0], sizeof(names[0]), "new");
	assert_int_equal(nameindex_add(x, 0), 0);
	assert_int_equal(nameindex_find(x, "old", &id), -ENOENT);
	expect_found(x, 0);
	expect_found(x, 1);
	nameindex_destroy(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_find_remove),
	    cmocka_unit_test(test_reuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
