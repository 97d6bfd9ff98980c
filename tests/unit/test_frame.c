/*
 * test_frame: the control plane's framing over real socketpairs: round
 * trips, a frame split across many writes, and every malformed input a
 * peer can send (zero or oversized length, NUL in the text, end of file
 * mid-frame, silence past the timeout) refused without a crash or a hang.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"

static int pair[2];

static int setup(void **state)
{
	(void)state;
	return socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
}

static int teardown(void **state)
{
	(void)state;
	close(pair[0]);
	close(pair[1]);
	return 0;
}

static void put_head(int fd, uint32_t len)
{
	uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			(uint8_t)len};

	assert_int_equal(write(fd, h, 4), 4);
}

static void test_round_trip(void **state)
{
	const char *msg = "{\"v\":1,\"type\":\"ping\"}";
	char *got = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(frame_send(pair[0], msg, strlen(msg), 1000), 0);
	assert_int_equal(frame_recv(pair[1], &got, &len, 1000), 0);
	assert_int_equal(len, strlen(msg));
	assert_string_equal(got, msg);
	free(got);
}

static void test_largest(void **state)
{
	char *big = malloc(FRAME_MAX), *got = NULL;
	size_t len = 0;
	pid_t pid;

	(void)state;
	memset(big, 'x', FRAME_MAX);
	pid = fork();
	if (pid == 0) /* the socket buffer is smaller than a frame: write from a child */
		_exit(frame_send(pair[0], big, FRAME_MAX, 5000) == 0 ? 0 : 1);
	assert_int_equal(frame_recv(pair[1], &got, &len, 5000), 0);
	assert_int_equal(len, FRAME_MAX);
	assert_memory_equal(got, big, FRAME_MAX);
	free(got);
	free(big);
}

static void test_send_limits(void **state)
{
	static char big[FRAME_MAX + 1];

	(void)state;
	assert_int_equal(frame_send(pair[0], "x", 0, 100), -EMSGSIZE);
	assert_int_equal(frame_send(pair[0], big, sizeof(big), 100), -EMSGSIZE);
}

static void test_bad_lengths(void **state)
{
	char *got = NULL;
	size_t len;

	(void)state;
	put_head(pair[0], 0);
	assert_int_equal(frame_recv(pair[1], &got, &len, 1000), -EMSGSIZE);
	put_head(pair[0], FRAME_MAX + 1);
	assert_int_equal(frame_recv(pair[1], &got, &len, 1000), -EMSGSIZE);
	put_head(pair[0], 0xffffffffu);
	assert_int_equal(frame_recv(pair[1], &got, &len, 1000), -EMSGSIZE);
	assert_null(got);
}

static void test_nul_in_text(void **state)
{
	char *got = NULL;
	size_t len;

	(void)state;
	put_head(pair[0], 3);
	assert_int_equal(write(pair[0], "a\0b", 3), 3);
	assert_int_equal(frame_recv(pair[1], &got, &len, 1000), -EPROTO);
	assert_null(got);
}

static void test_eof_mid_frame(void **state)
{
	char *got = NULL;
	size_t len;

	(void)state;
	put_head(pair[0], 10);
	assert_int_equal(write(pair[0], "abc", 3), 3);
	close(pair[0]);
	pair[0] = -1;
	assert_int_equal(frame_recv(pair[1], &got, &len, 1000), -ECONNRESET);
	assert_null(got);
}

static void test_timeout(void **state)
{
	struct timespec a, b;
	char *got = NULL;
	size_t len;
	double ms;

	(void)state;
	put_head(pair[0], 10); /* a peer that stops sending */
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(frame_recv(pair[1], &got, &len, 200), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
	assert_true(ms >= 150 && ms < 5000);
	assert_null(got);
}

/* A daemon's reader, fed one byte at a time, delivers two frames in order. */
static void test_reader_bytewise(void **state)
{
	const char *a = "{\"type\":\"a\"}", *b = "{\"type\":\"bb\"}";
	struct frame_reader r;
	char *got = NULL;
	size_t len = 0;
	int frames = 0;
	char wire[64];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 2; i++) {
		const char *m = i ? b : a;
		uint32_t l = (uint32_t)strlen(m);

		wire[n++] = (char)(l >> 24);
		wire[n++] = (char)(l >> 16);
		wire[n++] = (char)(l >> 8);
		wire[n++] = (char)l;
		memcpy(wire + n, m, l);
		n += l;
	}
	frame_reader_init(&r);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(write(pair[0], wire + i, 1), 1);
		int rc = frame_reader_feed(&r, pair[1], &got, &len);

		assert_true(rc == 0 || rc == 1);
		if (rc == 1) {
			assert_string_equal(got, frames ? b : a);
			free(got);
			frames++;
		}
	}
	assert_int_equal(frames, 2);
	/* nothing more: the reader waits instead of failing */
	assert_int_equal(frame_reader_feed(&r, pair[1], &got, &len), 0);
	frame_reader_fini(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_largest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_send_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_lengths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nul_in_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eof_mid_frame, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_bytewise, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
