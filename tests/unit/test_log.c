/*
 * test_log: the log module's sinks and rate limits. A rate limit lets one
 * line through per interval and counts the rest, which the next line or
 * a flush reports (issue 11 defect 4: a connection flood wrote 115,000
 * warnings in 14 s). Standard error and the file sink are read back
 * through a temporary file; a file moved away (logrotate) is replaced
 * when it is opened again.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static char dir[] = "/tmp/coloc-test-log.XXXXXX";

/* Runs fn with standard error sent to a file; returns what it wrote. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	char path[64];
	static char out[8192];
	int fd, saved = dup(STDERR_FILENO);
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, STDERR_FILENO);
	fn(arg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	assert_true(n >= 0);
	out[n] = '\0';
	return out;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_pass_counts_and_reports(void **state)
{
	struct log_limit l = LOG_LIMIT_INIT(1000, "things");
	unsigned long held = 99;

	(void)state;
	/* the first passes, at any clock value, reporting nothing held */
	assert_true(log_limit_pass(&l, 5000, &held));
	assert_int_equal(held, 0);
	/* within the interval: held back and counted */
	for (int i = 0; i < 1000; i++)
		assert_false(log_limit_pass(&l, 5000 + i, &held));
	assert_int_equal(l.suppressed, 1000);
	/* the first after it passes and reports the count, which restarts */
	assert_true(log_limit_pass(&l, 6000, &held));
	assert_int_equal(held, 1000);
	assert_false(log_limit_pass(&l, 6999, &held));
	assert_true(log_limit_pass(&l, 7000, &held));
	assert_int_equal(held, 1);
	/* a quiet stretch, then one: nothing held */
	assert_true(log_limit_pass(&l, 60000, &held));
	assert_int_equal(held, 0);
}

static void test_pass_at_clock_zero(void **state)
{
	struct log_limit l = LOG_LIMIT_INIT(100, NULL);
	unsigned long held;

	(void)state;
	assert_true(log_limit_pass(&l, 0, &held));
	assert_false(log_limit_pass(&l, 50, &held));
	assert_true(log_limit_pass(&l, 100, &held));
	assert_int_equal(held, 1);
}

static void flood(void *arg)
{
	struct log_limit *l = arg;

	for (int i = 0; i < 10000; i++)
		log_limited(l, LOG_LEVEL_WARNING, "refused a connection from 10.0.0.%d", i % 250);
}

static void test_flood_writes_one_line(void **state)
{
	struct log_limit l = LOG_LIMIT_INIT(3600 * 1000, "refused connections");
	char *out;

	(void)state;
	out = capture_stderr(flood, &l);
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "test: warning: refused a connection from 10.0.0.0\n"));
	assert_int_equal(l.suppressed, 9999);
}

static void after_interval(void *arg)
{
	struct log_limit *l = arg;

	l->next_ms = 0; /* the interval is over */
	log_limited(l, LOG_LEVEL_WARNING, "refused a connection from %s", "10.0.0.9");
}

static void test_next_line_says_how_many(void **state)
{
	struct log_limit l = LOG_LIMIT_INIT(3600 * 1000, "refused connections");
	char *out;

	(void)state;
	l.last_ms = 1;
	l.suppressed = 41;
	out = capture_stderr(after_interval, &l);
	assert_non_null(strstr(out, "refused a connection from 10.0.0.9 (41 more like it in the "
				    "last "));
	assert_int_equal(count_lines(out), 1);
	assert_int_equal(l.suppressed, 0);
}

static void flush_now(void *arg)
{
	struct log_limit *l = arg;

	assert_false(log_limit_flush(l, l->next_ms - 1)); /* not before the interval ends */
	assert_true(log_limit_flush(l, l->next_ms));
	assert_false(log_limit_flush(l, l->next_ms + 1000000)); /* once */
}

static void test_flush_reports_a_burst(void **state)
{
	struct log_limit l = LOG_LIMIT_INIT(5000, "refused connections");
	unsigned long held;
	char *out;

	(void)state;
	l.level = LOG_LEVEL_WARNING;
	assert_true(log_limit_pass(&l, 10000, &held));
	for (int i = 0; i < 7; i++)
		assert_false(log_limit_pass(&l, 11000, &held));
	out = capture_stderr(flush_now, &l);
	assert_string_equal(out, "test: warning: 7 more refused connections in the last 5 s\n");
}

static void test_flush_without_burst(void **state)
{
	struct log_limit l = LOG_LIMIT_INIT(5000, "x");
	unsigned long held;

	(void)state;
	assert_false(log_limit_flush(&l, 100000)); /* nothing ever held */
	assert_true(log_limit_pass(&l, 100000, &held));
	assert_false(log_limit_flush(&l, 200000));
}

static void below_threshold(void *arg)
{
	log_limited(arg, LOG_LEVEL_DEBUG, "not shown");
}

static void test_below_threshold_not_counted(void **state)
{
	struct log_limit l = LOG_LIMIT_INIT(5000, "x");

	(void)state;
	assert_string_equal(capture_stderr(below_threshold, &l), "");
	assert_int_equal(l.suppressed, 0);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void quiet(void *arg)
{
	(void)arg;
	log_warning("only in the file");
}

static void test_file_sink_and_reopen(void **state)
{
	char path[64], moved[64], *s;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/colocd.log", dir);
	snprintf(moved, sizeof(moved), "%s/colocd.log.1", dir);
	assert_int_equal(log_open_file(path), 0);
	log_set_sinks(LOG_SINK_FILE);
	assert_string_equal(capture_stderr(quiet, NULL), "");
	s = slurp(path);
	/* 2026-11-23T10:00:00.123+0000 test[PID]: warning: ... */
	assert_true(strlen(s) > 30 && s[4] == '-' && s[10] == 'T' && s[19] == '.');
	assert_non_null(strstr(s, " test["));
	assert_non_null(strstr(s, "]: warning: only in the file\n"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* logrotate: moved away, opened again */
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(log_open_file(path), 0);
	log_info("after the rotation");
	assert_non_null(strstr(slurp(path), "info: after the rotation\n"));
	assert_null(strstr(slurp(moved), "after the rotation"));
	/* a symbolic link is not followed */
	unlink(moved);
	assert_int_equal(symlink(path, moved), 0);
	assert_true(log_open_file(moved) < 0);
	log_set_sinks(LOG_SINK_STDERR);
}

static int group_setup(void **state)
{
	(void)state;
	log_init("test", LOG_LEVEL_INFO);
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pass_counts_and_reports),
	    cmocka_unit_test(test_pass_at_clock_zero),
	    cmocka_unit_test(test_flood_writes_one_line),
	    cmocka_unit_test(test_next_line_says_how_many),
	    cmocka_unit_test(test_flush_reports_a_burst),
	    cmocka_unit_test(test_flush_without_burst),
	    cmocka_unit_test(test_below_threshold_not_counted),
	    cmocka_unit_test(test_file_sink_and_reopen),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
