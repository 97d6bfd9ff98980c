/*
 * test_lease_rules: common/lease_rules.c, the one statement of what a
 * lease request may ask for. lease_rules_check takes every limit and
 * refuses one past it, naming the field, the limit and the fix; the
 * parsers of --time/--faas-time and --mem/--faas-mem take the edges and
 * refuse one past them. The installed header faas.h and the man pages
 * cannot include lease_rules.h: this test reads them (COLOC_TOP_SRCDIR,
 * tests/unit/lease_rules.am) and checks that they state the same numbers.
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

#include "coloc_config.h"
#include "ctl_client.h"
#include "lease_rules.h"

#define DAY 86400u

/* A request within every rule. */
static void valid(struct lease_request *r)
{
	memset(r, 0, sizeof(*r));
	r->workers = 1;
	strcpy(r->lib, "/opt/fns/libfns.so");
	r->time = 60;
}

static void accepted(const struct lease_request *r)
{
	char err[512] = "";

	if (lease_rules_check(r, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
}

static void refused(const struct lease_request *r, const char *want)
{
	char err[512] = "";

	assert_int_equal(lease_rules_check(r, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("\"%s\" does not say \"%s\"", err, want);
}

/* ---- lease_rules_check ------------------------------------------------------ */

static void test_workers(void **state)
{
	struct lease_request r;

	(void)state;
	valid(&r);
	r.workers = LEASE_MAX_WORKERS;
	accepted(&r);
	assert_int_equal(r.workers, 4096);
	r.workers = LEASE_MAX_WORKERS + 1;
	refused(&r, "workers 4097: a lease has 1 to 4096 workers; ask for fewer");
	r.workers = 0;
	refused(&r, "workers 0: a lease has 1 to 4096 workers; ask for at least one");
}

static void test_mem(void **state)
{
	struct lease_request r;

	(void)state;
	valid(&r);
	r.mem = 0; /* the site default */
	accepted(&r);
	r.mem = LEASE_MAX_MEM;
	accepted(&r);
	assert_true(r.mem == 1ull << 50);
	r.mem = LEASE_MIN_MEM;
	accepted(&r);
	assert_true(r.mem == 16ull << 20);
	r.mem = LEASE_MIN_MEM - 1;
	refused(&r, "mem 16777215 bytes: a worker needs at least 16777216 bytes (16M) for its "
		    "fabric endpoint and its slots, plus what the function allocates; ask for "
		    "more, or 0 for the site default");
	r.mem = 1;
	refused(&r, "mem 1 bytes: a worker needs at least 16777216 bytes (16M)");
	r.mem = LEASE_MAX_MEM + 1;
	refused(&r, "mem 1125899906842625 bytes: a lease's workers have at most "
		    "1125899906842624 bytes (1024T) each; ask for less, or 0 for the site default");
}

static void test_gpus(void **state)
{
	struct lease_request r;

	(void)state;
	valid(&r);
	r.gpus = LEASE_MAX_GPUS;
	accepted(&r);
	assert_int_equal(r.gpus, 64);
	r.gpus = LEASE_MAX_GPUS + 1;
	refused(&r, "gpus 65: a lease has 0 to 64 GPUs; ask for fewer");
}

static void test_time(void **state)
{
	struct lease_request r;

	(void)state;
	valid(&r);
	r.time = 1;
	accepted(&r);
	r.time = LEASE_MAX_TIME_S;
	accepted(&r);
	assert_int_equal(r.time, 366 * DAY);
	r.time = LEASE_MAX_TIME_S + 1;
	refused(&r, "time 31622401 s: a lease lasts 1 s to 366 days (31622400 s); ask for a "
		    "shorter time");
	r.time = 0; /* ctl_lease_acquire puts DefaultLeaseTime there first */
	refused(&r, "time 0 s: a lease lasts 1 s to 366 days (31622400 s); ask for at least 1 s");
}

static void test_lib(void **state)
{
	struct lease_request r;

	(void)state;
	valid(&r);
	r.lib[0] = '\0';
	refused(&r, "lib \"\": the function library must be given by an absolute path");
	strcpy(r.lib, "libfns.so");
	refused(&r, "lib \"libfns.so\": the function library must be given by an absolute path");
	memset(r.lib, 'a', sizeof(r.lib)); /* no NUL */
	r.lib[0] = '/';
	refused(&r, "must be given by an absolute path of at most 4095 bytes");
}

/* ---- the parsers of user-given values ----------------------------------------- */

static void test_parse_time(void **state)
{
	static const struct {
		const char *s;
		uint32_t seconds;
	} good[] = {
	    {"1", 60},
	    {"1s", 1},
	    {"1ms", 1}, /* rounded up */
	    {"30", 1800},
	    {"1:00:00", 3600},
	    {"527040", 366 * DAY}, /* minutes */
	    {"366d", 366 * DAY},
	    {"366-00:00:00", 366 * DAY},
	    {"31622400s", 366 * DAY},
	};
	static const char *const bad[] = {"0",	       "0s",   "527041", "367d", "366-00:00:01",
					  "31622401s", "junk", "-5",	 "",	 " 30"};
	uint32_t s;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		s = 0;
		if (lease_rules_parse_time(good[i].s, &s) != 0)
			fail_msg("\"%s\" refused", good[i].s);
		assert_int_equal(s, good[i].seconds);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = 7;
		if (lease_rules_parse_time(bad[i], &s) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(s, 7);
	}
	assert_int_equal(lease_rules_parse_time(NULL, &s), -EINVAL);
}

/* --remote-mem: a size from 4K to 1024T; each refusal says why. */
static void test_remote_mem(void **state)
{
	struct lease_request r = {.time = 60, .remote_mem = LEASE_MIN_REMOTE_MEM};
	char err[512];
	uint64_t b;

	(void)state;
	assert_int_equal(lease_rules_parse_remote_mem("4K", &b, err, sizeof(err)), 0);
	assert_true(b == LEASE_MIN_REMOTE_MEM);
	assert_int_equal(
	    lease_rules_parse_remote_mem(LEASE_MAX_REMOTE_MEM_TEXT, &b, err, sizeof(err)), 0);
	assert_true(b == LEASE_MAX_REMOTE_MEM);
	b = 7;
	assert_int_equal(lease_rules_parse_remote_mem("4095", &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "4095 is too small: give a size"));
	assert_int_equal(lease_rules_parse_remote_mem("1025T", &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "1025T is too large"));
	assert_int_equal(lease_rules_parse_remote_mem("lots", &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "\"lots\" is not a size"));
	assert_int_equal(lease_rules_parse_remote_mem(NULL, &b, err, sizeof(err)), -EINVAL);
	assert_true(b == 7);
	/* a memory lease asks for nothing of a compute lease */
	assert_int_equal(lease_rules_check(&r, err, sizeof(err)), 0);
	r.remote_mem = LEASE_MAX_REMOTE_MEM + 1;
	assert_int_equal(lease_rules_check(&r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ask for less"));
	r.remote_mem = 1;
	assert_int_equal(lease_rules_check(&r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ask for more"));
	r.remote_mem = LEASE_MIN_REMOTE_MEM;
	r.workers = 1;
	assert_int_equal(lease_rules_check(&r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "has no workers"));
	r.workers = 0;
	r.time = 0;
	assert_int_equal(lease_rules_check(&r, err, sizeof(err)), -EINVAL);
}

static void test_parse_mem(void **state)
{
	static const char *const bad[] = {"0",	  "0M", "1025T", "1125899906842625", "junk", "",
					  "1.5G", "1",	"15M",	 "16777215"};
	uint64_t b;

	(void)state;
	assert_int_equal(lease_rules_parse_mem(LEASE_MIN_MEM_TEXT, &b), 0);
	assert_true(b == LEASE_MIN_MEM);
	assert_int_equal(lease_rules_parse_mem("16777216", &b), 0);
	assert_true(b == LEASE_MIN_MEM);
	assert_int_equal(lease_rules_parse_mem("512M", &b), 0);
	assert_true(b == 512ull << 20);
	assert_int_equal(lease_rules_parse_mem(LEASE_MAX_MEM_TEXT, &b), 0);
	assert_true(b == LEASE_MAX_MEM);
	assert_int_equal(lease_rules_parse_mem("1125899906842624", &b), 0);
	assert_true(b == LEASE_MAX_MEM);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = 7;
		if (lease_rules_parse_mem(bad[i], &b) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(b == 7);
	}
	assert_int_equal(lease_rules_parse_mem(NULL, &b), -EINVAL);
}

/* The texts of the messages state the same numbers. */
static void test_accepted_texts(void **state)
{
	(void)state;
	assert_string_equal(LEASE_ACCEPT_WORKERS, "a whole number from 1 to 4096");
	assert_string_equal(LEASE_ACCEPT_GPUS, "a whole number from 0 to 64");
	assert_non_null(strstr(LEASE_ACCEPT_MEM, "at least 16M and at most 1024T"));
	assert_non_null(strstr(LEASE_ACCEPT_TIME, "at most 366 days"));
	assert_true(LEASE_MAX_TIME_S == 31622400u);
}

/* ---- what the public header and the docs say ---------------------------------- */

/* The file top_srcdir/rel, malloc'd. */
static char *slurp(const char *rel)
{
	char path[4096];
	FILE *f;
	char *text;
	long n;

	snprintf(path, sizeof(path), "%s/%s", COLOC_TOP_SRCDIR, rel);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

/* text (of the file rel) says phrase on the first line that has key; a
 * NULL key: anywhere. */
static void says(const char *rel, const char *text, const char *key, const char *phrase)
{
	char line[512] = "";
	const char *at = text;

	if (key) {
		at = strstr(text, key);
		if (!at)
			fail_msg("%s has no line with \"%s\"", rel, key);
		while (at > text && at[-1] != '\n')
			at--;
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(at, "\n"), at);
		at = line;
	}
	if (!strstr(at, phrase))
		fail_msg("%s does not say \"%s\"%s%s (lease_rules.h)", rel, phrase,
			 key ? " on the line: " : "", line);
}

/* Each file, on the line with key (NULL: anywhere), states the limit. */
static const struct {
	const char *file, *key, *phrase;
} statements[] = {
    {"libfaas/faas.h", "int workers;", "/* 1.." LEASE_MAX_WORKERS_TEXT " */"},
    {"libfaas/faas.h", "int gpus;", "/* 0.." LEASE_MAX_GPUS_TEXT " */"},
    {"libfaas/faas.h", "int minutes;", "/* 1..527040;"},
    {"libfaas/faas.h", "size_t mem_per_worker;",
     "/* bytes, " LEASE_MIN_MEM_TEXT "..2^50 (" LEASE_MAX_MEM_TEXT ");"},
    {"libfaas/faas.h", "most FAAS_CONTROLLER_TIMEOUT_MS", "(1..3600000, default 30000)"},
    {"docs/man/faas.3", "int workers;", "/* 1.." LEASE_MAX_WORKERS_TEXT " */"},
    {"docs/man/faas.3", "int gpus;", "/* 0.." LEASE_MAX_GPUS_TEXT " */"},
    {"docs/man/faas.3", "int minutes;",
     "/* 1..527040 (" LEASE_MAX_DAYS_TEXT " days); 0 = DefaultLeaseTime */"},
    {"docs/man/faas.3", "size_t mem_per_worker;",
     "/* bytes, " LEASE_MIN_MEM_TEXT "..2^50 (" LEASE_MAX_MEM_TEXT "); 0 = the site default */"},
    {"docs/man/faas.3", NULL, "(digits only, 1 to 3600000)"},
    {"docs/man/colocctl.1", NULL, "one lent core each; 1 to " LEASE_MAX_WORKERS_TEXT "."},
    {"docs/man/colocctl.1", NULL, "at least " LEASE_MIN_MEM_TEXT " (what a worker needs"},
    {"docs/man/colocctl.1", NULL, "and at most " LEASE_MAX_MEM_TEXT " (1 PiB)"},
    {"docs/man/colocctl.1", NULL, "GPUs, 0 to " LEASE_MAX_GPUS_TEXT ";"},
    {"docs/man/colocctl.1", NULL, "1 second to " LEASE_MAX_DAYS_TEXT " days."},
    {"docs/man/spank_faas.8", NULL, LEASE_ACCEPT_WORKERS "."},
    {"docs/man/spank_faas.8", NULL, "at least " LEASE_MIN_MEM_TEXT " (what a worker needs"},
    {"docs/man/spank_faas.8", NULL, "and at most 1 PiB (" LEASE_MAX_MEM_TEXT ")"},
    {"docs/man/coloc.conf.5", NULL,
     "at least " LEASE_MIN_MEM_TEXT " and at most " LEASE_MAX_MEM_TEXT},
    {"docs/man/spank_faas.8", NULL, LEASE_ACCEPT_GPUS "."},
    {"docs/man/spank_faas.8", NULL, "above 0 and at most " LEASE_MAX_DAYS_TEXT " days;"},
    {"docs/man/spank_faas.8", NULL, "digits only, 1 to 3600000."},
    {"docs/man/coloc.conf.5", NULL, "whole seconds from 1 second to " LEASE_MAX_DAYS_TEXT " days"},
    {"docs/man/coloc.conf.5", NULL, "and at most " LEASE_MAX_DAYS_TEXT " days."},
};

/* faas.h and the man pages state lease_rules.h's limits (and
 * ctl_client.h's FAAS_CONTROLLER_TIMEOUT_MS range). */
static void test_docs(void **state)
{
	char *t;

	(void)state;
	/* the numbers the table writes out */
	assert_int_equal(LEASE_MAX_TIME_S / 60, 527040);
	assert_true(LEASE_MAX_MEM == (uint64_t)1 << 50);
	assert_true(LEASE_MIN_MEM == (uint64_t)16 << 20);
	assert_int_equal(CTL_TIMEOUT_MAX_MS, 3600000);
	assert_int_equal(CTL_TIMEOUT_DEFAULT_MS, 30000);
	for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
		t = slurp(statements[i].file);
		says(statements[i].file, t, statements[i].key, statements[i].phrase);
		free(t);
	}
}

/* DefaultLeaseTime's default is LEASE_DEFAULT_TIME_S, which coloc.conf(5)
 * states in minutes. */
static void test_default_time(void **state)
{
	const char *rel = "docs/man/coloc.conf.5";
	struct coloc_config c;
	char *t = slurp(rel), phrase[64];

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.default_lease_s, LEASE_DEFAULT_TIME_S);
	assert_true(c.max_lease_s <= LEASE_MAX_TIME_S);
	snprintf(phrase, sizeof(phrase), "Default:\n.B %d\n(minutes).", LEASE_DEFAULT_TIME_S / 60);
	says(rel, t, NULL, phrase);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_workers),    cmocka_unit_test(test_mem),
	    cmocka_unit_test(test_gpus),       cmocka_unit_test(test_time),
	    cmocka_unit_test(test_lib),	       cmocka_unit_test(test_parse_time),
	    cmocka_unit_test(test_parse_mem),  cmocka_unit_test(test_accepted_texts),
	    cmocka_unit_test(test_docs),       cmocka_unit_test(test_default_time),
	    cmocka_unit_test(test_remote_mem),
	};

	return cmocka_run_group_tests_name("lease_rules", tests, NULL, NULL);
}
