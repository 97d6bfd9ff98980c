/*
 * test_spares: colocd/spares.c, the node agent's pool of spare executors,
 * with fake_sandbox.c starting children that behave as spares (each exits
 * when its channel closes). The pool keeps SpareExecutors started; a lease
 * takes the one started first and the slot refills at once; a spare that dies unused is
 * replaced after 1 s, then 2 s, doubling; lowering the number retires the
 * extra spares; spares_stop leaves no child behind. Time is the pool's
 * now_ms argument, so back-offs are checked without waiting; only a
 * child's death is waited for, in a bounded loop.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "clock.h"
#include "fake_sandbox.h"
#include "spares.h"

#define WAIT_MS 30000 /* bounded waits: a hang, not a loaded machine */

static int setup(void **state)
{
	struct spares *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	spares_init(p, "/fake/faas-executor", "tcp", 2);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	spares_stop(*state);
	fake_sandbox_reset();
	free(*state);
	return 0;
}

/* Ticks the pool at now_ms until slot i is empty (its process reaped). */
static void tick_until_reaped(struct spares *p, unsigned i, int64_t now_ms)
{
	int64_t end = clock_ms() + WAIT_MS;

	while (p->slot[i].pid != 0) {
		if (clock_ms() > end)
			fail_msg("spare %d in slot %u is not reaped after %d ms",
				 (int)p->slot[i].pid, i, WAIT_MS);
		spares_tick(p, now_ms);
		clock_sleep_ms(1);
	}
}

/* pid is no child of ours any more: it was reaped. */
static void assert_reaped(pid_t pid)
{
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_tick_starts_want(void **state)
{
	struct spares *p = *state;

	spares_tick(p, 0);
	assert_int_equal(fake_sandbox_spares_started(), 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_true(p->slot[i].pid > 0);
		assert_true(p->slot[i].chan >= 0);
		assert_true(p->slot[i].output >= 0);
	}
	assert_int_equal(p->slot[2].pid, 0);
	spares_tick(p, 1);
	assert_int_equal(fake_sandbox_spares_started(), 2);
}

static void test_no_executor_no_spares(void **state)
{
	struct spares *p = *state;
	struct spare_exec x;
	char err[256] = "";

	spares_init(p, NULL, NULL, 2);
	spares_tick(p, 0);
	assert_int_equal(fake_sandbox_spares_started(), 0);
	assert_false(spares_take(p, 0, &x));
	assert_int_equal(spares_start_one(p, &x, err, sizeof(err)), -ENOENT);
	assert_true(err[0] != '\0');
}

static void test_take_refills(void **state)
{
	struct spares *p = *state;
	struct spare_exec x, y, z;
	pid_t pid;

	spares_tick(p, 1000);
	pid = p->slot[0].pid;
	assert_true(spares_take(p, 1000, &x));
	assert_int_equal(x.pid, pid);
	assert_true(x.chan >= 0 && x.output >= 0);
	assert_int_equal(p->slot[0].pid, 0);
	assert_int_equal(p->slot[0].chan, -1); /* the caller owns them now */
	assert_true(spares_take(p, 1000, &y));
	assert_false(spares_take(p, 1000, &z));

	/* both slots refill at once: a lease does not wait for a back-off */
	spares_tick(p, 1000);
	assert_int_equal(fake_sandbox_spares_started(), 4);
	assert_true(p->slot[0].pid > 0 && p->slot[0].pid != x.pid);

	spares_discard(&x);
	spares_discard(&y);
	assert_int_equal(x.pid, 0);
	assert_int_equal(x.chan, -1);
	assert_reaped(pid);
}

/* A lease takes the spare started first: the likeliest to be ready. */
static void test_take_oldest(void **state)
{
	struct spares *p = *state;
	struct spare_exec x, y;
	pid_t older;

	spares_tick(p, 1000);
	older = p->slot[1].pid;
	assert_true(spares_take(p, 1000, &x)); /* slot 0 */
	spares_tick(p, 2000);		       /* slot 0 again, younger */
	assert_true(p->slot[0].pid > 0);
	assert_true(spares_take(p, 2000, &y));
	assert_int_equal(y.pid, older);
	spares_discard(&x);
	spares_discard(&y);
}

/* Slot 0's spare dies unused at now_ms: another starts delay_ms later, not
 * sooner. */
static void expect_replaced_after(struct spares *p, int64_t now_ms, int64_t delay_ms)
{
	unsigned started = fake_sandbox_spares_started();

	kill(p->slot[0].pid, SIGKILL);
	tick_until_reaped(p, 0, now_ms);
	spares_tick(p, now_ms + delay_ms - 1);
	assert_int_equal(fake_sandbox_spares_started(), started);
	spares_tick(p, now_ms + delay_ms);
	assert_int_equal(fake_sandbox_spares_started(), started + 1);
}

static void test_dead_spare_replaced_after_backoff(void **state)
{
	struct spares *p = *state;
	struct spare_exec x;

	p->want = 1;
	spares_tick(p, 0);
	assert_int_equal(fake_sandbox_spares_started(), 1);
	/* it dies unused: another in 1 s; that one dies too: 2 s */
	expect_replaced_after(p, 0, 1000);
	expect_replaced_after(p, 1000, 2000);

	/* a spare a lease took resets the back-off to 1 s */
	assert_true(spares_take(p, 3000, &x));
	spares_tick(p, 3000);
	assert_int_equal(fake_sandbox_spares_started(), 4);
	expect_replaced_after(p, 3000, 1000);
	spares_discard(&x);
}

static void test_want_lowered_retires(void **state)
{
	struct spares *p = *state;
	pid_t kept, retired;

	spares_tick(p, 0);
	kept = p->slot[0].pid;
	retired = p->slot[1].pid;
	p->want = 1;
	/* its channel closes and it exits, as a spare without a lease does */
	tick_until_reaped(p, 1, 0);
	assert_reaped(retired);
	spares_tick(p, 600000);
	assert_int_equal(fake_sandbox_spares_started(), 2);
	assert_int_equal(p->slot[0].pid, kept);
	assert_int_equal(p->slot[1].pid, 0);
}

static void test_stop_leaves_no_child(void **state)
{
	struct spares *p = *state;
	pid_t pids[2];

	spares_tick(p, 0);
	pids[0] = p->slot[0].pid;
	pids[1] = p->slot[1].pid;
	spares_stop(p);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(p->slot[i].pid, 0);
		assert_int_equal(p->slot[i].chan, -1);
		assert_int_equal(p->slot[i].output, -1);
		assert_reaped(pids[i]);
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_tick_starts_want),
	    T(test_no_executor_no_spares),
	    T(test_take_refills),
	    T(test_take_oldest),
	    T(test_dead_spare_replaced_after_backoff),
	    T(test_want_lowered_retires),
	    T(test_stop_leaves_no_child),
	};
#undef T

	return cmocka_run_group_tests_name("spares", tests, NULL, NULL);
}
