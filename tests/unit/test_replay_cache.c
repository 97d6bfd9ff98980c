/*
 * test_replay_cache: common/replay_cache.c, the nonces a daemon has
 * accepted. A nonce is refused while remembered and accepted again once
 * its credential has expired; the cache never holds more than its
 * capacity: when full, the oldest is forgotten early (and counted), never
 * the newest; many nonces sharing a prefix still work; expired entries
 * behind an unexpired one are dropped in turn; bad capacities are refused.
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

#include "replay_cache.h"

/* Nonce number i: the same 12 bytes, then i (big-endian). */
static void nonce(uint32_t i, uint8_t n[REPLAY_NONCE_LEN])
{
	memset(n, 0xab, REPLAY_NONCE_LEN);
	n[12] = (uint8_t)(i >> 24);
	n[13] = (uint8_t)(i >> 16);
	n[14] = (uint8_t)(i >> 8);
	n[15] = (uint8_t)i;
}

static void test_replay_refused(void **state)
{
	struct replay_cache *c = replay_cache_create(8);
	uint8_t a[REPLAY_NONCE_LEN], b[REPLAY_NONCE_LEN];

	(void)state;
	assert_non_null(c);
	nonce(1, a);
	nonce(2, b);
	assert_int_equal(replay_cache_add(c, a, 1300, 1000), 0);
	assert_int_equal(replay_cache_add(c, a, 1300, 1000), -EALREADY);
	assert_int_equal(replay_cache_add(c, a, 1300, 1299), -EALREADY); /* until it expires */
	assert_int_equal(replay_cache_add(c, b, 1300, 1001), 0);
	assert_int_equal(replay_cache_count(c), 2);
	assert_int_equal(replay_cache_evicted(c), 0);
	replay_cache_destroy(c);
}

static void test_expiry_forgets(void **state)
{
	struct replay_cache *c = replay_cache_create(8);
	uint8_t a[REPLAY_NONCE_LEN], b[REPLAY_NONCE_LEN];

	(void)state;
	nonce(1, a);
	nonce(2, b);
	assert_int_equal(replay_cache_add(c, a, 1300, 1000), 0);
	assert_int_equal(replay_cache_add(c, b, 1600, 1100), 0);
	/* at 1300 a's credential has expired (the verifier refuses it as
	 * such): its nonce is forgotten, b's is kept */
	assert_int_equal(replay_cache_add(c, a, 1700, 1300), 0);
	assert_int_equal(replay_cache_count(c), 2);
	assert_int_equal(replay_cache_add(c, b, 1600, 1300), -EALREADY);
	replay_cache_destroy(c);
}

/* Expired entries behind an unexpired head go once the head does. */
static void test_expiry_out_of_order(void **state)
{
	struct replay_cache *c = replay_cache_create(8);
	uint8_t n[REPLAY_NONCE_LEN];

	(void)state;
	nonce(1, n);
	assert_int_equal(replay_cache_add(c, n, 2000, 1000), 0); /* lives long */
	for (uint32_t i = 2; i <= 5; i++) {
		nonce(i, n);
		assert_int_equal(replay_cache_add(c, n, 1100, 1000), 0);
	}
	nonce(6, n);
	assert_int_equal(replay_cache_add(c, n, 2500, 1500), 0);
	assert_int_equal(replay_cache_count(c), 6); /* 2-5 wait behind 1 */
	nonce(7, n);
	assert_int_equal(replay_cache_add(c, n, 3000, 2000), 0);
	assert_int_equal(replay_cache_count(c), 2); /* 1 expired: 2-5 went with it */
	assert_int_equal(replay_cache_evicted(c), 0);
	replay_cache_destroy(c);
}

/* Full of unexpired nonces: the oldest is forgotten, never the newest, and
 * the count stays at the capacity. */
static void test_bounded(void **state)
{
	struct replay_cache *c = replay_cache_create(4);
	uint8_t n[REPLAY_NONCE_LEN];

	(void)state;
	for (uint32_t i = 0; i < 10; i++) {
		nonce(i, n);
		assert_int_equal(replay_cache_add(c, n, 9999, 1000 + i), 0);
		assert_true(replay_cache_count(c) <= 4);
	}
	assert_int_equal(replay_cache_count(c), 4);
	assert_int_equal(replay_cache_evicted(c), 6);
	for (uint32_t i = 6; i < 10; i++) { /* the 4 newest are still refused */
		nonce(i, n);
		assert_int_equal(replay_cache_add(c, n, 9999, 1100), -EALREADY);
	}
	nonce(0, n); /* the oldest was forgotten */
	assert_int_equal(replay_cache_add(c, n, 9999, 1100), 0);
	replay_cache_destroy(c);
}

/* Many nonces, all sharing their first 12 bytes, in a cache a third full:
 * each is found again and a new one is not. */
static void test_many(void **state)
{
	struct replay_cache *c = replay_cache_create(30000);
	uint8_t n[REPLAY_NONCE_LEN];

	(void)state;
	assert_non_null(c);
	for (uint32_t i = 0; i < 10000; i++) {
		nonce(i, n);
		assert_int_equal(replay_cache_add(c, n, 5000, 1000), 0);
	}
	for (uint32_t i = 0; i < 10000; i++) {
		nonce(i, n);
		assert_int_equal(replay_cache_add(c, n, 5000, 1000), -EALREADY);
	}
	nonce(10000, n);
	assert_int_equal(replay_cache_add(c, n, 5000, 1000), 0);
	assert_int_equal(replay_cache_count(c), 10001);
	/* all expire at once */
	nonce(10001, n);
	assert_int_equal(replay_cache_add(c, n, 9000, 5000), 0);
	assert_int_equal(replay_cache_count(c), 1);
	replay_cache_destroy(c);
}

/* Wrapping the ring many times keeps the index consistent. */
static void test_wraps(void **state)
{
	struct replay_cache *c = replay_cache_create(3);
	uint8_t n[REPLAY_NONCE_LEN];

	(void)state;
	for (uint32_t i = 0; i < 100; i++) {
		nonce(i, n);
		assert_int_equal(replay_cache_add(c, n, 10 + i, i), 0);
		assert_int_equal(replay_cache_add(c, n, 10 + i, i), -EALREADY);
	}
	assert_int_equal(replay_cache_count(c), 3);
	replay_cache_destroy(c);
}

static void test_bad_capacity(void **state)
{
	(void)state;
	errno = 0;
	assert_null(replay_cache_create(0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(replay_cache_create((1u << 24) + 1));
	assert_int_equal(errno, EINVAL);
	replay_cache_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replay_refused),
	    cmocka_unit_test(test_expiry_forgets),
	    cmocka_unit_test(test_expiry_out_of_order),
	    cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_many),
	    cmocka_unit_test(test_wraps),
	    cmocka_unit_test(test_bad_capacity),
	};

	return cmocka_run_group_tests_name("replay_cache", tests, NULL, NULL);
}
