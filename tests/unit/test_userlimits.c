/*
 * test_userlimits: the limits a login would get (common/userlimits.c).
 * /proc/PID/limits parsing (a copy of a real /proc/1/limits, this process's
 * own, malformed rows); limits.conf's domains, precedence (user > group >
 * wildcard in any order, the last of equal standing winning), types, units,
 * unlimited spellings, "<domain> -" lines, malformed lines skipped with
 * their file:line, and random text; apply() in forked children (so that the
 * runner keeps its limits); load() for nobody against a temporary
 * /etc/security.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "userlimits.h"

#define INF RLIM_INFINITY
#define NOFILE RLIMIT_NOFILE
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A real /proc/1/limits (systemd on Linux 6), trailing blanks included. */
static const char PROC_TEXT[] =
    "Limit                     Soft Limit           Hard Limit           Units     \n"
    "Max cpu time              unlimited            unlimited            seconds   \n"
    "Max file size             unlimited            unlimited            bytes     \n"
    "Max data size             unlimited            unlimited            bytes     \n"
    "Max stack size            8388608              unlimited            bytes     \n"
    "Max core file size        0                    unlimited            bytes     \n"
    "Max resident set          unlimited            unlimited            bytes     \n"
    "Max processes             96367                96367                processes \n"
    "Max open files            65536                65536                files     \n"
    "Max locked memory         unlimited            unlimited            bytes     \n"
    "Max address space         unlimited            unlimited            bytes     \n"
    "Max file locks            unlimited            unlimited            locks     \n"
    "Max pending signals       96367                96367                signals   \n"
    "Max msgqueue size         819200               819200               bytes     \n"
    "Max nice priority         0                    0                    \n"
    "Max realtime priority     0                    0                    \n"
    "Max realtime timeout      unlimited            unlimited            us        \n";

/* alice: uid 1000, primary group alice (1000), also in sudo and hpc. */
static const struct userlimits_group GROUPS[] = {{1000, "alice"}, {27, "sudo"}, {2000, "hpc"}};
static const struct userlimits_who ALICE = {"alice", 1000, 1000, GROUPS, 3};

/* Parses text as file "t.conf" for alice into u (zeroed first when fresh). */
static int conf(const char *text, struct userlimits *u, bool fresh, char *err, size_t errlen)
{
	if (fresh)
		memset(u, 0, sizeof(*u));
	err[0] = '\0';
	return userlimits_parse_conf(text, "t.conf", &ALICE, u, err, errlen);
}

/* Parses, as conf() into a fresh u, the text that fmt and its arguments make. */
static int conf_fmt(struct userlimits *u, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int conf_fmt(struct userlimits *u, char *err, size_t errlen, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return conf(text, u, true, err, errlen);
}

static void expect_limit(const struct userlimits *u, int r, rlim_t soft, int soft_src, rlim_t hard,
			 int hard_src)
{
	if (u->lim[r].rlim_cur != soft || u->soft_src[r] != soft_src ||
	    u->lim[r].rlim_max != hard || u->hard_src[r] != hard_src)
		fail_msg("limit %d: expected soft %llu (source %d), hard %llu (source %d); got "
			 "%llu (%d), %llu (%d)",
			 r, (unsigned long long)soft, soft_src, (unsigned long long)hard, hard_src,
			 (unsigned long long)u->lim[r].rlim_cur, u->soft_src[r],
			 (unsigned long long)u->lim[r].rlim_max, u->hard_src[r]);
}

static void test_proc_canned(void **state)
{
	struct userlimits u;
	char err[256] = "";

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_int_equal(userlimits_parse_proc(PROC_TEXT, &u, err, sizeof(err)), 0);
	expect_limit(&u, RLIMIT_CPU, INF, USERLIMITS_BASELINE, INF, USERLIMITS_BASELINE);
	expect_limit(&u, RLIMIT_STACK, 8388608, USERLIMITS_BASELINE, INF, USERLIMITS_BASELINE);
	expect_limit(&u, RLIMIT_CORE, 0, USERLIMITS_BASELINE, INF, USERLIMITS_BASELINE);
	expect_limit(&u, RLIMIT_NPROC, 96367, USERLIMITS_BASELINE, 96367, USERLIMITS_BASELINE);
	expect_limit(&u, NOFILE, 65536, USERLIMITS_BASELINE, 65536, USERLIMITS_BASELINE);
	expect_limit(&u, RLIMIT_MSGQUEUE, 819200, USERLIMITS_BASELINE, 819200, USERLIMITS_BASELINE);
	expect_limit(&u, RLIMIT_NICE, 0, USERLIMITS_BASELINE, 0, USERLIMITS_BASELINE);
	expect_limit(&u, RLIMIT_RTPRIO, 0, USERLIMITS_BASELINE, 0, USERLIMITS_BASELINE);
	expect_limit(&u, RLIMIT_RTTIME, INF, USERLIMITS_BASELINE, INF, USERLIMITS_BASELINE);
	for (int r = 0; r < RLIMIT_NLIMITS; r++)
		assert_int_equal(u.soft_src[r], USERLIMITS_BASELINE);
	assert_false(u.no_limits);
}

/* This process's own /proc/self/limits says what getrlimit says. */
static void test_proc_self(void **state)
{
	static char text[8192];
	struct userlimits u;
	char err[256] = "";
	FILE *f = fopen("/proc/self/limits", "r");
	size_t n;

	(void)state;
	if (!f)
		skip();
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	memset(&u, 0, sizeof(u));
	assert_int_equal(userlimits_parse_proc(text, &u, err, sizeof(err)), 0);
	for (int r = 0; r < RLIMIT_NLIMITS; r++) {
		struct rlimit now;

		assert_int_equal(getrlimit(r, &now), 0);
		expect_limit(&u, r, now.rlim_cur, USERLIMITS_BASELINE, now.rlim_max,
			     USERLIMITS_BASELINE);
	}
}

static void test_proc_malformed(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
	    {"Max open files  abc  10  files\n", "line 1 of the limits text"},
	    {"Limit\nMax open files  10\n", "line 2 of the limits text"},
	    {"Max open files  1 2 files extra\n", "'Max open files SOFT HARD [UNITS]'"},
	    {"Max open files  99999999999999999999999 1 files\n", "is it really"},
	    {"Max open files  -1 1 files\n", "is it really"},
	    {"hello\n", "lists no limit"},
	    {"", "lists no limit"},
	    {"Max open filesX 1 2\n", "lists no limit"},
	};
	struct userlimits u, before;
	char err[256];

	(void)state;
	memset(&u, 0, sizeof(u));
	u.lim[NOFILE].rlim_cur = 7;
	before = u;
	for (size_t i = 0; i < COUNT(bad); i++) {
		err[0] = '\0';
		assert_int_equal(userlimits_parse_proc(bad[i].text, &u, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].msg))
			fail_msg("'%s': expected '%s' in '%s'", bad[i].text, bad[i].msg, err);
		assert_memory_equal(&u, &before, sizeof(u));
	}
	/* rows of limits this libc does not know are passed over */
	assert_int_equal(userlimits_parse_proc("Max widgets  1  2  things\n"
					       "Max open files  3  4  files",
					       &u, err, sizeof(err)),
			 0);
	expect_limit(&u, NOFILE, 3, USERLIMITS_BASELINE, 4, USERLIMITS_BASELINE);
	/* every prefix of a real text parses or is refused, without a crash */
	for (size_t n = 0; n < sizeof(PROC_TEXT); n++) {
		char *copy = strndup(PROC_TEXT, n);
		int rc;

		assert_non_null(copy);
		rc = userlimits_parse_proc(copy, &u, err, sizeof(err));
		assert_true(rc == 0 || rc == -EINVAL);
		free(copy);
	}
}

/* Each kind of domain, matched against alice. */
static void test_domains(void **state)
{
	static const struct {
		const char *domain;
		int source;
	} cases[] = {
	    {"alice", USERLIMITS_USER},
	    {"bob", USERLIMITS_UNSET},
	    {"Alice", USERLIMITS_UNSET},
	    {"*", USERLIMITS_WILDCARD},
	    {"@sudo", USERLIMITS_GROUP},  /* a supplementary group */
	    {"@alice", USERLIMITS_GROUP}, /* the primary group */
	    {"@wheel", USERLIMITS_UNSET},
	    {"@", USERLIMITS_UNSET},
	    {"%hpc", USERLIMITS_UNSET}, /* maxlogins only */
	    {"%", USERLIMITS_UNSET},
	    {"%:2000", USERLIMITS_UNSET},
	    {"1000:", USERLIMITS_USER},
	    {"1001:", USERLIMITS_UNSET},
	    {"500:1000", USERLIMITS_USER},
	    {"1001:2000", USERLIMITS_UNSET},
	    {"0:4294967295", USERLIMITS_USER},
	    {":1000", USERLIMITS_USER}, /* exact, as in pam_limits */
	    {":999", USERLIMITS_UNSET},
	    {":1001", USERLIMITS_UNSET},
	    {"@1000:", USERLIMITS_GROUP}, /* gid ranges look at the primary gid */
	    {"@999:1000", USERLIMITS_GROUP},
	    {"@1001:", USERLIMITS_UNSET},
	    {"@2000:3000", USERLIMITS_UNSET}, /* hpc is supplementary */
	    {"@:2000", USERLIMITS_GROUP},     /* "@:gid" looks at every group */
	    {"@:27", USERLIMITS_GROUP},
	    {"@:1000", USERLIMITS_GROUP},
	    {"@:3000", USERLIMITS_UNSET},
	};
	struct userlimits u;
	char err[256];

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		assert_int_equal(
		    conf_fmt(&u, err, sizeof(err), "%s hard nofile 42\n", cases[i].domain), 0);
		if (u.hard_src[NOFILE] != cases[i].source)
			fail_msg("domain '%s': source %d, expected %d", cases[i].domain,
				 u.hard_src[NOFILE], cases[i].source);
		assert_int_equal(u.lim[NOFILE].rlim_max, cases[i].source ? 42 : 0);
		assert_int_equal(u.soft_src[NOFILE], USERLIMITS_UNSET);
	}
}

/* user > group > wildcard, whatever the order of the lines. */
static void test_precedence(void **state)
{
	static const char *const lines[] = {"alice - nofile 10\n", "@hpc - nofile 20\n",
					    "* - nofile 30\n"};
	static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
					 {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
	struct userlimits u;
	char err[256];

	(void)state;
	for (int o = 0; o < 6; o++) {
		assert_int_equal(conf_fmt(&u, err, sizeof(err), "%s%s%s", lines[orders[o][0]],
					  lines[orders[o][1]], lines[orders[o][2]]),
				 0);
		expect_limit(&u, NOFILE, 10, USERLIMITS_USER, 10, USERLIMITS_USER);
		/* without the user's line, the group's */
		assert_int_equal(
		    conf_fmt(&u, err, sizeof(err), "%s%s", lines[1 + o % 2], lines[2 - o % 2]), 0);
		expect_limit(&u, NOFILE, 20, USERLIMITS_GROUP, 20, USERLIMITS_GROUP);
	}
	/* soft and hard are ranked apart */
	assert_int_equal(conf("alice soft nofile 1\n* - nofile 2\n@sudo hard nofile 3\n", &u, true,
			      err, sizeof(err)),
			 0);
	expect_limit(&u, NOFILE, 1, USERLIMITS_USER, 3, USERLIMITS_GROUP);
	/* any entry beats the baseline */
	assert_int_equal(userlimits_parse_proc(PROC_TEXT, &u, err, sizeof(err)), 0);
	assert_int_equal(conf("* soft core 1\n", &u, false, err, sizeof(err)), 0);
	expect_limit(&u, RLIMIT_CORE, 1024, USERLIMITS_WILDCARD, INF, USERLIMITS_BASELINE);
}

/* Among entries of equal standing the last one read wins, across files. */
static void test_later_wins(void **state)
{
	struct userlimits u;
	char err[256];

	(void)state;
	assert_int_equal(conf("* soft nofile 1\n* soft nofile 2\n", &u, true, err, sizeof(err)), 0);
	expect_limit(&u, NOFILE, 2, USERLIMITS_WILDCARD, 0, USERLIMITS_UNSET);
	/* a uid range is an entry for the user, as the name is */
	assert_int_equal(
	    conf("alice hard nofile 5\n:1000 hard nofile 6\n", &u, true, err, sizeof(err)), 0);
	expect_limit(&u, NOFILE, 0, USERLIMITS_UNSET, 6, USERLIMITS_USER);
	assert_int_equal(
	    conf("@1000: hard nofile 7\n@sudo hard nofile 8\n", &u, true, err, sizeof(err)), 0);
	expect_limit(&u, NOFILE, 0, USERLIMITS_UNSET, 8, USERLIMITS_GROUP);
	/* limits.conf, then limits.d: the later file wins within a class only */
	assert_int_equal(conf("* soft nofile 3\n@sudo hard nofile 5\n", &u, true, err, sizeof(err)),
			 0);
	assert_int_equal(conf("* soft nofile 4\n* hard nofile 6\n", &u, false, err, sizeof(err)),
			 0);
	expect_limit(&u, NOFILE, 4, USERLIMITS_WILDCARD, 5, USERLIMITS_GROUP);
}

static void test_types(void **state)
{
	struct userlimits u;
	char err[256];

	(void)state;
	assert_int_equal(conf("alice - stack 8\n", &u, true, err, sizeof(err)), 0);
	expect_limit(&u, RLIMIT_STACK, 8192, USERLIMITS_USER, 8192, USERLIMITS_USER);
	assert_int_equal(conf("alice soft stack 8\n", &u, true, err, sizeof(err)), 0);
	expect_limit(&u, RLIMIT_STACK, 8192, USERLIMITS_USER, 0, USERLIMITS_UNSET);
	assert_int_equal(conf("alice hard stack 8\n", &u, true, err, sizeof(err)), 0);
	expect_limit(&u, RLIMIT_STACK, 0, USERLIMITS_UNSET, 8192, USERLIMITS_USER);
	/* type, item and value are read without regard to case, as pam_limits does */
	assert_int_equal(
	    conf("alice SOFT NoFile 9\nalice Hard NOFILE Unlimited\n", &u, true, err, sizeof(err)),
	    0);
	expect_limit(&u, NOFILE, 9, USERLIMITS_USER, INF, USERLIMITS_USER);
	/* blanks and tabs, leading and trailing, and comments */
	assert_int_equal(
	    conf("  \talice\t\tsoft   nproc\t12   # twelve\r\n#alice soft nproc 13\n\n   \n", &u,
		 true, err, sizeof(err)),
	    0);
	expect_limit(&u, RLIMIT_NPROC, 12, USERLIMITS_USER, 0, USERLIMITS_UNSET);
	assert_string_equal(err, "");
}

/* KB, minutes and nice values become the kernel's bytes, seconds and 20 - n. */
static void test_units(void **state)
{
	static const struct {
		const char *line;
		int r;
		rlim_t v;
	} cases[] = {
	    {"core 1", RLIMIT_CORE, 1024},
	    {"data 2", RLIMIT_DATA, 2048},
	    {"fsize 3", RLIMIT_FSIZE, 3072},
	    {"memlock 64", RLIMIT_MEMLOCK, 65536},
	    {"rss 5", RLIMIT_RSS, 5120},
	    {"stack 8192", RLIMIT_STACK, 8388608},
	    {"as 1048576", RLIMIT_AS, 1073741824},
	    {"as 18014398509481982", RLIMIT_AS, 18014398509481982ull * 1024},
	    {"as 18014398509481983", RLIMIT_AS, INF}, /* saturates, as in pam_limits */
	    {"cpu 2", RLIMIT_CPU, 120},
	    {"cpu 307445734561825861", RLIMIT_CPU, INF},
	    {"nofile 4096", NOFILE, 4096},
	    {"nproc 100", RLIMIT_NPROC, 100},
	    {"locks 7", RLIMIT_LOCKS, 7},
	    {"sigpending 8", RLIMIT_SIGPENDING, 8},
	    {"msgqueue 819200", RLIMIT_MSGQUEUE, 819200},
	    {"rtprio 50", RLIMIT_RTPRIO, 50},
	    {"rttime 1000000", RLIMIT_RTTIME, 1000000},
	    {"nice 0", RLIMIT_NICE, 20},
	    {"nice 19", RLIMIT_NICE, 1},
	    {"nice -20", RLIMIT_NICE, 40},
	    {"nice -1", RLIMIT_NICE, 21}, /* a number, not unlimited */
	    {"nice +5", RLIMIT_NICE, 15},
	    {"nice 25", RLIMIT_NICE, 1}, /* clamped to -20..19 */
	    {"nice -30", RLIMIT_NICE, 40},
	    {"nofile 0", NOFILE, 0},
	};
	struct userlimits u;
	char err[256];

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		assert_int_equal(conf_fmt(&u, err, sizeof(err), "alice - %s\n", cases[i].line), 0);
		if (u.lim[cases[i].r].rlim_cur != cases[i].v)
			fail_msg("'%s': %llu, expected %llu", cases[i].line,
				 (unsigned long long)u.lim[cases[i].r].rlim_cur,
				 (unsigned long long)cases[i].v);
		expect_limit(&u, cases[i].r, cases[i].v, USERLIMITS_USER, cases[i].v,
			     USERLIMITS_USER);
	}
}

static void test_unlimited(void **state)
{
	static const char *const spellings[] = {
	    "unlimited", "infinity", "-1", "-", "UNLIMITED", "Infinity", "18446744073709551615"};
	struct userlimits u;
	char err[256];

	(void)state;
	for (size_t i = 0; i < COUNT(spellings); i++) {
		assert_int_equal(conf_fmt(&u, err, sizeof(err),
					  "alice - nofile %s\nalice - core %s\n", spellings[i],
					  spellings[i]),
				 0);
		expect_limit(&u, NOFILE, INF, USERLIMITS_USER, INF, USERLIMITS_USER);
		expect_limit(&u, RLIMIT_CORE, INF, USERLIMITS_USER, INF, USERLIMITS_USER);
	}
	/* nice has no unlimited */
	assert_int_equal(conf("alice - nice unlimited\n", &u, true, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "t.conf:1: the value 'unlimited' of nice"));
	assert_int_equal(u.soft_src[RLIMIT_NICE], USERLIMITS_UNSET);
}

/* Each malformed line is skipped with a message naming file:line; the lines
 * around it still count. */
static void test_malformed(void **state)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
	    {"alice soft nofile", "it has 3 words"},
	    {"alice", "it has 1 words"},
	    {"alice soft nofile 10 20", "it has 5 words"},
	    {"alice soft", "it has 2 words"},
	    {"alice medium nofile 10", "its type is 'medium'; write soft, hard or -"},
	    {"alice soft nofiles 10", "'nofiles' is not an item of limits.conf(5)"},
	    {"alice soft nofile ten", "the value 'ten' of nofile is not a whole number"},
	    {"alice soft nofile 10x", "the value '10x' of nofile"},
	    {"alice soft nofile -5", "the value '-5' of nofile"},
	    {"alice soft nofile +5", "the value '+5' of nofile"},
	    {"alice soft nofile 18446744073709551616", "at most 18446744073709551615"},
	    {"alice soft nofile 99999999999999999999999999", "at most 18446744073709551615"},
	    {"alice soft nice 99999999999999999999999", "a nice value from -20 to 19"},
	    {"alice soft nice --1", "a nice value"},
	    {"alice soft nice -", "a nice value"},
	    {"1x:2 soft nofile 10", "'1x:2' is not a uid or gid range"},
	    {"@: soft nofile 10", "'@:' is not a uid or gid range"},
	    {": soft nofile 10", "':' is not a uid or gid range"},
	    {":5:6 soft nofile 10", "':5:6' is not"},
	    {"4294967296: soft nofile 10", "is not a uid or gid range"},
	    {"@1:4294967296 soft nofile 10", "is not a uid or gid range"},
	    {"-1: soft nofile 10", "is not a uid or gid range"},
	    {"bob soft nofile ten", "the value 'ten'"}, /* checked for everyone */
	};
	struct userlimits u;
	char err[1024], want[64];

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		if (conf_fmt(&u, err, sizeof(err), "alice soft nproc 1\n%s\nalice hard nproc 2\n",
			     cases[i].line) != 1 ||
		    !strstr(err, cases[i].msg) || !strstr(err, "t.conf:2: ") ||
		    !strstr(err, "the line is skipped"))
			fail_msg("'%s': expected one skipped line with '%s', got '%s'",
				 cases[i].line, cases[i].msg, err);
		expect_limit(&u, RLIMIT_NPROC, 1, USERLIMITS_USER, 2, USERLIMITS_USER);
		assert_int_equal(u.soft_src[NOFILE], USERLIMITS_UNSET);
	}
	/* messages pile up, one a line; the count goes on when err is full */
	assert_int_equal(conf("a\nb b\nc c c\n", &u, true, err, sizeof(err)), 3);
	assert_non_null(strstr(err, "t.conf:1: it has 1 words"));
	assert_non_null(strstr(err, "\nt.conf:2: it has 2 words"));
	assert_non_null(strstr(err, "\nt.conf:3: it has 3 words"));
	assert_int_equal(conf("a\nb b\nc c c\n", &u, true, err, 8), 3);
	assert_int_equal(strlen(err), 7);
	/* an over-long line, even a comment */
	snprintf(want, sizeof(want), "longer than %d characters", USERLIMITS_LINE_MAX);
	{
		char *text2 = malloc(USERLIMITS_LINE_MAX + 64);

		assert_non_null(text2);
		memset(text2, ' ', USERLIMITS_LINE_MAX + 1);
		memcpy(text2, "alice - nproc 3", 15);
		strcpy(text2 + USERLIMITS_LINE_MAX + 1, "\nalice soft nofile 4\n");
		assert_int_equal(conf(text2, &u, true, err, sizeof(err)), 1);
		assert_non_null(strstr(err, "t.conf:1: the line is longer than"));
		assert_non_null(strstr(err, want));
		assert_int_equal(u.soft_src[RLIMIT_NPROC], USERLIMITS_UNSET);
		assert_int_equal(u.lim[NOFILE].rlim_cur, 4);
		text2[USERLIMITS_LINE_MAX] = '\n'; /* exactly the most: read */
		assert_int_equal(conf(text2, &u, true, err, sizeof(err)), 0);
		expect_limit(&u, RLIMIT_NPROC, 3, USERLIMITS_USER, 3, USERLIMITS_USER);
		free(text2);
	}
}

/* Items that are not resource limits, and %domains, change nothing. */
static void test_ignored(void **state)
{
	struct userlimits u, zero;
	char err[256];

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(conf("alice - maxlogins 4\n@sudo hard maxsyslogins 10\n"
			      "alice - priority -5\n@hpc - nonewprivs 1\nalice - chroot /srv\n"
			      "% hard nofile 5\n%hpc - nofile 6\n%:2000 - nofile 7\n"
			      "alice x maxlogins 4\n",
			      &u, true, err, sizeof(err)),
			 0);
	assert_memory_equal(&u, &zero, sizeof(u));
	assert_string_equal(err, "");
}

/* "<domain> -": no limits for the user, as pam_limits stops there. */
static void test_no_limits(void **state)
{
	static const struct {
		const char *domain;
		bool applies;
	} cases[] = {
	    {"alice", true},   {"@sudo", true},	 {":1000", true}, {"900:", true},
	    {"@:27", true},    {"@1000:", true}, {"*", false},	  {"bob", false},
	    {"@wheel", false}, {"1001:", false}, {"%hpc", false}, {"@2000:", false},
	};
	struct userlimits u;
	char err[256];

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		assert_int_equal(conf_fmt(&u, err, sizeof(err),
					  "alice soft nofile 1\n%s -\nalice hard nofile 2\n",
					  cases[i].domain),
				 0);
		if (u.no_limits != cases[i].applies)
			fail_msg("'%s -': no_limits is %d", cases[i].domain, u.no_limits);
		/* what follows is not read once it applies */
		assert_int_equal(u.hard_src[NOFILE],
				 cases[i].applies ? USERLIMITS_UNSET : USERLIMITS_USER);
		assert_int_equal(u.soft_src[NOFILE], USERLIMITS_USER);
	}
	/* and later files change nothing */
	assert_int_equal(conf("alice -\n", &u, true, err, sizeof(err)), 0);
	assert_int_equal(conf("alice - nofile 3\nbogus\n", &u, false, err, sizeof(err)), 0);
	assert_int_equal(u.soft_src[NOFILE], USERLIMITS_UNSET);
	assert_string_equal(err, "");
}

/* pam_limits' "-" entry that may not replace the soft half leaves the hard
 * half alone too: kept, since logins get it. */
static void test_dash_after_soft(void **state)
{
	struct userlimits u;
	char err[256];

	(void)state;
	assert_int_equal(conf("alice soft nofile 100\n* - nofile 50\n", &u, true, err, sizeof(err)),
			 0);
	expect_limit(&u, NOFILE, 100, USERLIMITS_USER, 0, USERLIMITS_UNSET);
	assert_int_equal(conf("alice hard nofile 100\n* - nofile 50\n", &u, true, err, sizeof(err)),
			 0);
	expect_limit(&u, NOFILE, 50, USERLIMITS_WILDCARD, 100, USERLIMITS_USER);
}

static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random text made of limits.conf's pieces: never a crash, err always a
 * string within its size, sources within range. */
static void test_random_text(void **state)
{
	static const char *const pieces[] = {
	    "alice",
	    "*",
	    "@sudo",
	    "@",
	    "%",
	    ":",
	    "1000",
	    "-",
	    "soft",
	    "hard",
	    "-1",
	    "nofile",
	    "nice",
	    "core",
	    "cpu",
	    "unlimited",
	    " ",
	    "\t",
	    "\n",
	    "#",
	    "99999999999999999999999",
	    "4294967295",
	    "\r",
	    "\xff",
	    "@:",
	    "maxlogins",
	    "+",
	    "0",
	    "18446744073709551615",
	};
	static const size_t errlens[] = {1, 2, 9, 100, 4096};
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	char text[2048], err[4096];
	struct userlimits u;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = 0, errlen = errlens[round % 5];
		unsigned n = (unsigned)(next_random(&seed) % 200);
		int rc;

		for (unsigned i = 0; i < n; i++) {
			const char *p = pieces[next_random(&seed) % (COUNT(pieces))];
			size_t pl = strlen(p);

			if (len + pl >= sizeof(text))
				break;
			memcpy(text + len, p, pl);
			len += pl;
		}
		text[len] = '\0';
		memset(err, 'x', sizeof(err));
		err[0] = '\0';
		memset(&u, 0, sizeof(u));
		rc = userlimits_parse_conf(text, "r.conf", &ALICE, &u, err, errlen);
		assert_true(rc >= 0);
		assert_non_null(memchr(err, '\0', errlen));
		for (int r = 0; r < RLIMIT_NLIMITS; r++)
			assert_true(u.soft_src[r] <= USERLIMITS_USER &&
				    u.hard_src[r] <= USERLIMITS_USER);
		rc = userlimits_parse_proc(text, &u, err, errlen);
		assert_true(rc == 0 || rc == -EINVAL);
		assert_non_null(memchr(err, '\0', errlen));
	}
}

/* ---- apply, in children ------------------------------------------------- */

#define CHILD_CHECK(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "child: %s:%d: %s is false\n", __FILE__, __LINE__, #cond); \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

/* Runs fn in a child and expects it to exit 0. */
static void in_child(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void set_both(struct userlimits *u, int r, rlim_t soft, rlim_t hard)
{
	u->lim[r] = (struct rlimit){soft, hard};
	u->soft_src[r] = u->hard_src[r] = USERLIMITS_USER;
}

/* Lowers nofile's soft limit only; limits not set stay as they are. */
static void lower_soft(void)
{
	struct rlimit before, core_before, now;
	struct userlimits u;
	char err[256];

	CHILD_CHECK(getrlimit(NOFILE, &before) == 0 && getrlimit(RLIMIT_CORE, &core_before) == 0);
	CHILD_CHECK(before.rlim_cur >= 32);
	memset(&u, 0, sizeof(u));
	u.lim[NOFILE].rlim_cur = before.rlim_cur / 2;
	u.soft_src[NOFILE] = USERLIMITS_USER;
	CHILD_CHECK(userlimits_apply(&u, err, sizeof(err)) == 0);
	CHILD_CHECK(getrlimit(NOFILE, &now) == 0);
	CHILD_CHECK(now.rlim_cur == before.rlim_cur / 2 && now.rlim_max == before.rlim_max);
	CHILD_CHECK(getrlimit(RLIMIT_CORE, &now) == 0);
	CHILD_CHECK(now.rlim_cur == core_before.rlim_cur && now.rlim_max == core_before.rlim_max);
	CHILD_CHECK(err[0] == '\0');
}

static void test_apply_lower_soft(void **state)
{
	(void)state;
	in_child(lower_soft);
}

/* A soft limit over its hard one is lowered to it. */
static void soft_over_hard(void)
{
	struct userlimits u;
	struct rlimit now;
	char err[256];

	memset(&u, 0, sizeof(u));
	set_both(&u, NOFILE, 200, 100);
	set_both(&u, RLIMIT_CORE, 0, 0);
	CHILD_CHECK(userlimits_apply(&u, err, sizeof(err)) == 0);
	CHILD_CHECK(getrlimit(NOFILE, &now) == 0 && now.rlim_cur == 100 && now.rlim_max == 100);
	CHILD_CHECK(getrlimit(RLIMIT_CORE, &now) == 0 && now.rlim_cur == 0 && now.rlim_max == 0);
}

static void test_apply_soft_over_hard(void **state)
{
	(void)state;
	in_child(soft_over_hard);
}

/* Without CAP_SYS_RESOURCE a hard limit stays, the soft one fits under it,
 * and the count says so; other limits are still set. */
static void no_capability(void)
{
	struct rlimit now, start = {64, 128};
	struct userlimits u;
	char err[512];

	if (geteuid() == 0)
		CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0); /* drops every capability */
	CHILD_CHECK(setrlimit(NOFILE, &start) == 0);
	memset(&u, 0, sizeof(u));
	set_both(&u, NOFILE, 1000, 2000);
	set_both(&u, RLIMIT_CORE, 0, 0);
	CHILD_CHECK(userlimits_apply(&u, err, sizeof(err)) == 1);
	CHILD_CHECK(strstr(err, "the hard nofile limit stays at 128, not 2000") != NULL);
	CHILD_CHECK(strstr(err, "CAP_SYS_RESOURCE") != NULL);
	CHILD_CHECK(getrlimit(NOFILE, &now) == 0 && now.rlim_cur == 128 && now.rlim_max == 128);
	CHILD_CHECK(getrlimit(RLIMIT_CORE, &now) == 0 && now.rlim_cur == 0 && now.rlim_max == 0);
	/* a soft limit under the kept hard one is kept as asked */
	set_both(&u, NOFILE, 100, 2000);
	CHILD_CHECK(userlimits_apply(&u, err, sizeof(err)) == 1);
	CHILD_CHECK(getrlimit(NOFILE, &now) == 0 && now.rlim_cur == 100 && now.rlim_max == 128);
}

static void test_apply_without_capability(void **state)
{
	(void)state;
	in_child(no_capability);
}

/* nofile unlimited means /proc/sys/fs/nr_open: set where the process may
 * raise its hard limit (CAP_SYS_RESOURCE), named in the message where not. */
static void nofile_unlimited(void)
{
	struct rlimit before, now;
	struct userlimits u;
	char err[256], want[64];
	unsigned long long most = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");
	int rc;

	CHILD_CHECK(f && fscanf(f, "%llu", &most) == 1);
	fclose(f);
	CHILD_CHECK(getrlimit(NOFILE, &before) == 0);
	memset(&u, 0, sizeof(u));
	set_both(&u, NOFILE, RLIM_INFINITY, RLIM_INFINITY);
	rc = userlimits_apply(&u, err, sizeof(err));
	CHILD_CHECK(getrlimit(NOFILE, &now) == 0);
	if (rc == 0) {
		CHILD_CHECK(now.rlim_cur == most && now.rlim_max == most);
		return;
	}
	snprintf(want, sizeof(want),
		 "stays at %llu, not %llu:", (unsigned long long)before.rlim_max, most);
	CHILD_CHECK(rc == 1 && strstr(err, want) != NULL);
	CHILD_CHECK(now.rlim_cur == before.rlim_max && now.rlim_max == before.rlim_max);
}

static void test_apply_nofile_unlimited(void **state)
{
	(void)state;
	in_child(nofile_unlimited);
}

/* ---- load ------------------------------------------------------------------ */

static char tmpdir[] = "/tmp/test_userlimits.XXXXXX";

static void write_file(const char *rel, const char *text, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_text(const char *rel, const char *text)
{
	write_file(rel, text, strlen(text));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Empties tmpdir. */
static int clean_tmpdir(void)
{
	char path[600];
	int rc;

	snprintf(path, sizeof(path), "%s/limits.d", tmpdir);
	rc = nftw(path, remove_one, 8, FTW_DEPTH | FTW_PHYS);
	if (rc != 0 && errno != ENOENT)
		return -1;
	snprintf(path, sizeof(path), "%s/limits.conf", tmpdir);
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int setup_tmpdir(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
	(void)state;
	return clean_tmpdir() == 0 ? rmdir(tmpdir) : -1;
}

static struct passwd *nobody(void)
{
	struct passwd *pw = getpwnam("nobody");

	if (!pw)
		skip();
	return pw;
}

static void baseline(struct userlimits *b)
{
	static char text[8192];
	char err[256];
	FILE *f = fopen("/proc/1/limits", "r");
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	memset(b, 0, sizeof(*b));
	assert_int_equal(userlimits_parse_proc(text, b, err, sizeof(err)), 0);
}

/* Baseline, then limits.conf, then limits.d's *.conf in name order. */
static void test_load_nobody(void **state)
{
	struct passwd *pw = nobody();
	struct group *gr = getgrgid(pw->pw_gid);
	struct userlimits u, want;
	char text[512], err[1024], dir[600];
	int rc;

	(void)state;
	assert_int_equal(clean_tmpdir(), 0);
	snprintf(text, sizeof(text),
		 "# limits.conf\n"
		 "*          soft  nofile  512\n"
		 "*          hard  nofile  1024\n"
		 "nobody     soft  core    1    # KB\n"
		 "@%s hard  nproc   77\n"
		 "bogus line\n"
		 "root       -     nofile  9\n",
		 gr ? gr->gr_name : "no-such-group");
	write_text("limits.conf", text);
	snprintf(dir, sizeof(dir), "%s/limits.d", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_text("limits.d/b.conf", "* soft nofile 600\n");
	write_text("limits.d/a.conf", "* soft nofile 700\nnobody - stack 100\n");
	write_text("limits.d/README", "nobody - cpu 1\n");
	write_text("limits.d/.hidden.conf", "nobody - cpu 2\n");
	write_text("limits.d/c.conf.rpmsave", "nobody - cpu 3\n");
	snprintf(dir, sizeof(dir), "%s/limits.d/d.conf", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);

	rc = userlimits_load(pw->pw_uid, tmpdir, &u, err, sizeof(err));
	if (rc != 2)
		fail_msg("load: %d, '%s'", rc, err);
	assert_non_null(strstr(err, "/limits.conf:6: it has 2 words"));
	assert_non_null(strstr(err, "/limits.d/d.conf is not a regular file"));

	baseline(&want);
	set_both(&want, NOFILE, 600, 1024); /* b.conf after a.conf */
	want.soft_src[NOFILE] = want.hard_src[NOFILE] = USERLIMITS_WILDCARD;
	want.lim[RLIMIT_CORE].rlim_cur = 1024;
	want.soft_src[RLIMIT_CORE] = USERLIMITS_USER;
	if (gr) {
		want.lim[RLIMIT_NPROC].rlim_max = 77;
		want.hard_src[RLIMIT_NPROC] = USERLIMITS_GROUP;
	}
	set_both(&want, RLIMIT_STACK, 102400, 102400);
	for (int r = 0; r < RLIMIT_NLIMITS; r++)
		expect_limit(&u, r, want.lim[r].rlim_cur, want.soft_src[r], want.lim[r].rlim_max,
			     want.hard_src[r]);
	assert_false(u.no_limits);
}

/* "nobody -" in limits.d: the baseline alone, and later files unread. */
static void test_load_no_limits(void **state)
{
	struct passwd *pw = nobody();
	struct userlimits u, want;
	char err[256], dir[600];

	(void)state;
	assert_int_equal(clean_tmpdir(), 0);
	write_text("limits.conf", "* hard nofile 10\n");
	snprintf(dir, sizeof(dir), "%s/limits.d", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_text("limits.d/a.conf", "nobody -\n");
	write_text("limits.d/b.conf", "nobody hard nofile 5\nbogus\n");
	assert_int_equal(userlimits_load(pw->pw_uid, tmpdir, &u, err, sizeof(err)), 0);
	assert_true(u.no_limits);
	baseline(&want);
	want.no_limits = true;
	assert_memory_equal(&u, &want, sizeof(u));
	/* no directory at all: the baseline */
	assert_int_equal(userlimits_load(pw->pw_uid, "/nonexistent/security", &u, err, sizeof(err)),
			 0);
	want.no_limits = false;
	assert_memory_equal(&u, &want, sizeof(u));
	assert_string_equal(err, "");
}

static void test_load_errors(void **state)
{
	struct passwd *pw = nobody();
	uid_t stranger = 3999999999u;
	struct userlimits u;
	char err[512], want[128], *big;
	size_t size = USERLIMITS_FILE_MAX;

	(void)state;
	assert_int_equal(clean_tmpdir(), 0);
	while (getpwuid(stranger))
		stranger--;
	assert_int_equal(userlimits_load(stranger, tmpdir, &u, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "uid %u has no account on this node; create it",
		 (unsigned)stranger);
	assert_non_null(strstr(err, want));

	/* exactly the most bytes, in comment lines of the most characters */
	big = malloc(size + 1);
	assert_non_null(big);
	memset(big, '#', size + 1);
	for (size_t i = USERLIMITS_LINE_MAX; i < size; i += USERLIMITS_LINE_MAX + 1)
		big[i] = '\n';
	write_file("limits.conf", big, size);
	assert_int_equal(userlimits_load(pw->pw_uid, tmpdir, &u, err, sizeof(err)), 0);
	write_file("limits.conf", big, size + 1);
	assert_int_equal(userlimits_load(pw->pw_uid, tmpdir, &u, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "limits.conf is larger than 1048576 bytes"));
	free(big);

	/* a NUL byte ends the text, with a warning */
	write_file("limits.conf", "nobody - nofile 5\n\0nobody - core 1\n", 35);
	assert_int_equal(userlimits_load(pw->pw_uid, tmpdir, &u, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "limits.conf:2: a NUL byte"));
	assert_int_equal(u.lim[NOFILE].rlim_max, 5);
	assert_int_not_equal(u.soft_src[RLIMIT_CORE], USERLIMITS_USER);

	/* an unreadable limits.conf fails, as a login would (root reads anything) */
	if (geteuid() != 0) {
		char path[600];

		snprintf(path, sizeof(path), "%s/limits.conf", tmpdir);
		assert_int_equal(chmod(path, 0), 0);
		assert_int_equal(userlimits_load(pw->pw_uid, tmpdir, &u, err, sizeof(err)),
				 -EACCES);
		assert_non_null(strstr(err, "cannot read"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_proc_canned),
	    cmocka_unit_test(test_proc_self),
	    cmocka_unit_test(test_proc_malformed),
	    cmocka_unit_test(test_domains),
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_later_wins),
	    cmocka_unit_test(test_types),
	    cmocka_unit_test(test_units),
	    cmocka_unit_test(test_unlimited),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_ignored),
	    cmocka_unit_test(test_no_limits),
	    cmocka_unit_test(test_dash_after_soft),
	    cmocka_unit_test(test_random_text),
	    cmocka_unit_test(test_apply_lower_soft),
	    cmocka_unit_test(test_apply_soft_over_hard),
	    cmocka_unit_test(test_apply_without_capability),
	    cmocka_unit_test(test_apply_nofile_unlimited),
	    cmocka_unit_test(test_load_nobody),
	    cmocka_unit_test(test_load_no_limits),
	    cmocka_unit_test(test_load_errors),
	};

	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
