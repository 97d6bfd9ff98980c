/*
 * test_spare: the assignment colocd hands a spare executor (common/spare.c):
 * round trips, what the encoder refuses, and every malformed assignment a
 * spare may read (each prefix of a valid one, a wrong version, bad numbers,
 * root as the owner, too many or empty strings, trailing bytes) refused
 * with a message; and identity_drop, in a child that leads its session
 * already, as root.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "spare.h"

static char *const ARGV[] = {
    "/usr/libexec/coloc/faas-executor", "--lib", "/home/u/f.so", "--workers", "2", NULL};
static char *const ENVP[] = {"FAAS_TOKEN=00112233445566778899aabbccddeeff", "PATH=/usr/bin:/bin",
			     "CUDA_VISIBLE_DEVICES=1", NULL};

static long encode_default(char *buf, size_t size)
{
	return spare_encode(1000, 100, ARGV, ENVP, buf, size);
}

static void test_round_trip(void **state)
{
	struct spare_assignment a;
	char buf[4096], err[256] = "";
	long len = encode_default(buf, sizeof(buf));

	(void)state;
	assert_true(len > 0);
	assert_int_equal(spare_decode(buf, (size_t)len, &a, err, sizeof(err)), 0);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 100);
	assert_int_equal(a.argc, 5);
	for (unsigned i = 0; i < a.argc; i++)
		assert_string_equal(a.argv[i], ARGV[i]);
	assert_null(a.argv[5]);
	assert_int_equal(a.envc, 3);
	for (unsigned i = 0; i < a.envc; i++)
		assert_string_equal(a.envp[i], ENVP[i]);
	assert_null(a.envp[3]);
}

static void test_no_environment(void **state)
{
	struct spare_assignment a;
	char buf[4096], err[256] = "";
	long len = spare_encode(4294967294u, 0, ARGV, NULL, buf, sizeof(buf));

	(void)state;
	assert_true(len > 0);
	assert_int_equal(spare_decode(buf, (size_t)len, &a, err, sizeof(err)), 0);
	assert_int_equal(a.uid, 4294967294u);
	assert_int_equal(a.gid, 0);
	assert_int_equal(a.envc, 0);
	assert_null(a.envp[0]);
}

static void test_encode_refuses(void **state)
{
	char *many[SPARE_ARGS_MAX + 2], *empty[] = {"/x", "", NULL}, *none[] = {NULL};
	char buf[4096], *big = malloc(SPARE_MSG_MAX + 16);

	(void)state;
	assert_int_equal(spare_encode(0, 0, ARGV, ENVP, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(spare_encode(1000, 100, none, ENVP, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(spare_encode(1000, 100, NULL, ENVP, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(spare_encode(1000, 100, empty, ENVP, buf, sizeof(buf)), -EINVAL);
	for (int i = 0; i < SPARE_ARGS_MAX + 1; i++)
		many[i] = "x";
	many[SPARE_ARGS_MAX + 1] = NULL;
	assert_int_equal(spare_encode(1000, 100, many, NULL, buf, sizeof(buf)), -EINVAL);
	many[SPARE_ARGS_MAX] = NULL; /* exactly the most */
	assert_true(spare_encode(1000, 100, many, NULL, buf, sizeof(buf)) > 0);
	assert_int_equal(spare_encode(1000, 100, ARGV, ENVP, buf, 40), -E2BIG);
	/* one argument larger than an assignment may be */
	assert_non_null(big);
	memset(big, 'a', SPARE_MSG_MAX + 8);
	big[SPARE_MSG_MAX + 8] = '\0';
	many[0] = "/x";
	many[1] = big;
	many[2] = NULL;
	{
		char *out = malloc(SPARE_MSG_MAX * 2);

		assert_non_null(out);
		assert_int_equal(spare_encode(1000, 100, many, NULL, out, SPARE_MSG_MAX * 2),
				 -E2BIG);
		free(out);
	}
	free(big);
}

/* Every proper prefix of a valid assignment is refused, with a message. */
static void test_every_prefix(void **state)
{
	struct spare_assignment a;
	char buf[4096], copy[4096], err[256];
	long len = encode_default(buf, sizeof(buf));

	(void)state;
	assert_true(len > 0);
	for (long n = 0; n < len; n++) {
		memcpy(copy, buf, (size_t)n);
		err[0] = '\0';
		assert_int_equal(spare_decode(copy, (size_t)n, &a, err, sizeof(err)), -EINVAL);
		assert_true(err[0] != '\0');
	}
}

/* Builds an assignment from strings joined by '|' (each becomes NUL-ended). */
static size_t build(char *buf, const char *text)
{
	size_t n = strlen(text) + 1;

	memcpy(buf, text, n);
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '|')
			buf[i] = '\0';
	return n;
}

static void expect_refused(const char *text, const char *msg)
{
	struct spare_assignment a;
	char buf[1024], err[256] = "";
	size_t n = build(buf, text);

	assert_int_equal(spare_decode(buf, n, &a, err, sizeof(err)), -EINVAL);
	if (!strstr(err, msg))
		fail_msg("'%s': expected a message with '%s', got '%s'", text, msg, err);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"coloc-spare 2|1000|100|1|/x|0", "does not start with \"coloc-spare 1\""},
	    {"hello", "does not start with"},
	    {SPARE_MAGIC "|0|100|1|/x|0", "its uid is 0"},
	    {SPARE_MAGIC "|-5|100|1|/x|0", "its uid is '-5'"},
	    {SPARE_MAGIC "|+5|100|1|/x|0", "its uid is '+5'"},
	    {SPARE_MAGIC "|12a|100|1|/x|0", "its uid is '12a'"},
	    {SPARE_MAGIC "||100|1|/x|0", "its uid is ''"},
	    {SPARE_MAGIC "|99999999999|100|1|/x|0", "not a number from 0 to"},
	    {SPARE_MAGIC "|1000|4294967295|1|/x|0", "its gid is '4294967295'"},
	    {SPARE_MAGIC "|1000|100|65|/x|0", "its arguments is '65'"},
	    {SPARE_MAGIC "|1000|100|0|0", "it has no arguments"},
	    {SPARE_MAGIC "|1000|100|2|/x||0", "entry 1 of its arguments is empty"},
	    {SPARE_MAGIC "|1000|100|1|/x|1|", "entry 0 of its environment is empty"},
	    {SPARE_MAGIC "|1000|100|1|/x|0|junk", "5 bytes follow its last string"},
	    {SPARE_MAGIC "|1000|100|3|/x|0", "ends inside its arguments (2 of 3)"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].text, cases[i].msg);
}

static void test_oversized(void **state)
{
	struct spare_assignment a;
	char err[256] = "", *buf = calloc(1, SPARE_MSG_MAX + 2);

	(void)state;
	assert_non_null(buf);
	assert_int_equal(spare_decode(buf, SPARE_MSG_MAX + 1, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than 65536"));
	free(buf);
}

/* As root: a child drops to nobody, loses its groups, cannot regain root. */
static void test_identity_drop(void **state)
{
	int status, e = 0;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char cwd[8];
		int step;

		/* a session leader already, as a spare executor is */
		if (setsid() < 0)
			_exit(4);
		step = identity_drop(65534, 65534, &e);

		if (step)
			_exit(10 + step);
		if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534 ||
		    getgroups(0, NULL) != 0 || setuid(0) == 0 || getsid(0) != getpid() ||
		    !getcwd(cwd, sizeof(cwd)) || strcmp(cwd, "/") != 0)
			_exit(2);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(identity_steps[3], "set its uid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),	   cmocka_unit_test(test_no_environment),
	    cmocka_unit_test(test_encode_refuses), cmocka_unit_test(test_every_prefix),
	    cmocka_unit_test(test_malformed),	   cmocka_unit_test(test_oversized),
	    cmocka_unit_test(test_identity_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
