/*
 * test_faas_opts: spank-plugin/faas_opts.c, the values of spank_faas.so's
 * --faas-* options, their FAAS_* environment variables and the plugin's
 * plugstack.conf arguments, without Slurm. Every option takes the forms
 * spank_faas(8) promises and refuses the rest with a sentence naming the
 * option (or the variable), the value and what is accepted, leaving what was
 * set before untouched; the environment fills only what the command line
 * did not give; faas_opts_check refuses the options that make no sense
 * alone; plugstack.conf arguments other than conf=/abs and
 * host_default=yes|no are refused; Slurm's GPU index lists become the
 * bitmask the node agent gets. The --faas-lib files live in a private
 * temporary directory.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "faas_opts.h"

#define ERRLEN 512
#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)
#define DAY 86400u

static char tmpdir[] = "/tmp/test_faas_opts.XXXXXX";
static char realdir[PATH_MAX];	/* tmpdir with its symbolic links resolved */
static char lib[PATH_MAX + 32]; /* realdir/libfns.so, a readable file */

/* ---- helpers ------------------------------------------------------------ */

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'", haystack, needle);
}

static void assert_not_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle))
		fail_msg("'%s' contains '%s'", haystack, needle);
}

static void write_file(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs("not really a library\n", f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Parses one command-line value into a fresh *f; returns the rc. */
static int parse1(struct faas_opts *f, enum faas_opt o, const char *v, char *err)
{
	memset(f, 0, sizeof(*f));
	err[0] = '\0';
	return faas_opt_parse(f, o, v, err, ERRLEN);
}

/* v is accepted for o. */
static void accepted(enum faas_opt o, const char *v, struct faas_opts *f)
{
	char err[ERRLEN];
	int rc = parse1(f, o, v, err);

	if (rc != 0)
		fail_msg("--%s=%s refused: %s", faas_opt_name(o), v ? v : "(flag)", err);
	assert_true(faas_opts_has(f, o == FAAS_OPT_NO_HOST ? FAAS_OPT_HOST : o));
}

/* v is refused for o, with a message that starts with "--NAME=v: " and
 * says what is accepted; nothing is set and the values stay as they were. */
static void refused(enum faas_opt o, const char *v, const char *what)
{
	struct faas_opts f, before;
	char err[ERRLEN], prefix[PATH_MAX + 64];

	memset(&f, 0, sizeof(f));
	f.workers = 7;
	f.gpus = 3;
	f.mem = 5;
	f.time_s = 11;
	f.host_mem = 13;
	snprintf(f.lib, sizeof(f.lib), "/previous");
	before = f;
	err[0] = '\0';
	assert_int_equal(faas_opt_parse(&f, o, v, err, ERRLEN), -EINVAL);
	snprintf(prefix, sizeof(prefix), "--%s=%s: ", faas_opt_name(o), v);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("'%s' does not start with '%s'", err, prefix);
	assert_contains(err, "expected ");
	assert_contains(err, what);
	assert_int_equal(f.set, 0);
	assert_memory_equal(&f, &before, sizeof(f));
}

/* A fake environment: NULL-terminated pairs of name and value. */
struct env {
	const char *const *vars;
	unsigned asked_other; /* lookups of a variable that is not FAAS_* */
};

static const char *env_get(void *ctx, const char *name)
{
	struct env *e = ctx;

	if (strncmp(name, "FAAS_", 5) != 0)
		e->asked_other++;
	for (const char *const *p = e->vars; p[0]; p += 2)
		if (strcmp(p[0], name) == 0)
			return p[1];
	return NULL;
}

static int from_env(struct faas_opts *f, const char *const *vars, char *err)
{
	struct env e = {vars, 0};
	int rc;

	err[0] = '\0';
	rc = faas_opts_from_env(f, env_get, &e, err, ERRLEN);
	assert_int_equal(e.asked_other, 0);
	return rc;
}

/* ---- setup -------------------------------------------------------------- */

static int setup(void **state)
{
	char path[PATH_MAX + 32];

	(void)state;
	if (!mkdtemp(tmpdir) || !realpath(tmpdir, realdir))
		return -1;
	snprintf(lib, sizeof(lib), "%s/libfns.so", realdir);
	write_file(lib, 0644);
	snprintf(path, sizeof(path), "%s/unreadable.so", realdir);
	write_file(path, 0);
	snprintf(path, sizeof(path), "%s/dir.so", realdir);
	return mkdir(path, 0755);
}

static int teardown(void **state)
{
	char path[PATH_MAX + 32];

	(void)state;
	unlink(lib);
	snprintf(path, sizeof(path), "%s/unreadable.so", realdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dir.so", realdir);
	rmdir(path);
	return rmdir(tmpdir);
}

/* ---- names -------------------------------------------------------------- */

static void test_names(void **state)
{
	static const char *const names[][2] = {
	    [FAAS_OPT_WORKERS] = {"faas-workers", "FAAS_WORKERS"},
	    [FAAS_OPT_LIB] = {"faas-lib", "FAAS_LIB"},
	    [FAAS_OPT_MEM] = {"faas-mem", "FAAS_MEM"},
	    [FAAS_OPT_GPUS] = {"faas-gpus", "FAAS_GPUS"},
	    [FAAS_OPT_TIME] = {"faas-time", "FAAS_TIME"},
	    [FAAS_OPT_HOST] = {"faas-host", "FAAS_HOST"},
	    [FAAS_OPT_NO_HOST] = {"no-faas-host", "FAAS_HOST"},
	    [FAAS_OPT_HOST_MEM] = {"faas-host-mem", "FAAS_HOST_MEM"},
	    [FAAS_OPT_REMOTE_MEM] = {"faas-remote-mem", "FAAS_REMOTE_MEM"},
	};
	struct faas_opts f;
	char err[ERRLEN];

	(void)state;
	for (int o = FAAS_OPT_WORKERS; o < FAAS_OPT_COUNT; o++) {
		assert_string_equal(faas_opt_name((enum faas_opt)o), names[o][0]);
		assert_string_equal(faas_opt_env((enum faas_opt)o), names[o][1]);
	}
	assert_string_equal(faas_opt_name((enum faas_opt)0), "?");
	assert_string_equal(faas_opt_env(FAAS_OPT_COUNT), "?");
	assert_int_equal(parse1(&f, (enum faas_opt)0, "1", err), -EINVAL);
	assert_contains(err, "unknown option 0");
	assert_int_equal(parse1(&f, FAAS_OPT_COUNT, "1", err), -EINVAL);
	assert_contains(err, "unknown option");
	assert_int_equal(f.set, 0);
}

/* ---- each option -------------------------------------------------------- */

static void test_workers(void **state)
{
	static const char *const bad[] = {"0", "4097", "-1", "abc", " 4",   "4 ",
					  "",  "+4",   "4x", "1e3", "0x10", "99999999999999999999"};
	struct faas_opts f;

	(void)state;
	accepted(FAAS_OPT_WORKERS, "1", &f);
	assert_int_equal(f.workers, 1);
	accepted(FAAS_OPT_WORKERS, "4", &f);
	assert_int_equal(f.workers, 4);
	accepted(FAAS_OPT_WORKERS, "4096", &f);
	assert_int_equal(f.workers, 4096);
	accepted(FAAS_OPT_WORKERS, "010", &f);
	assert_int_equal(f.workers, 10); /* decimal, not octal */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(FAAS_OPT_WORKERS, bad[i], "a whole number from 1 to 4096");
}

static void test_lib(void **state)
{
	struct faas_opts f;
	char err[ERRLEN], path[PATH_MAX + 64], cwd[PATH_MAX];

	(void)state;
	accepted(FAAS_OPT_LIB, lib, &f);
	assert_string_equal(f.lib, lib);

	/* missing */
	snprintf(path, sizeof(path), "%s/missing.so", realdir);
	refused(FAAS_OPT_LIB, path, "the path of a readable function library");
	assert_int_equal(parse1(&f, FAAS_OPT_LIB, path, err), -EINVAL);
	assert_contains(err, strerror(ENOENT));
	assert_contains(err, "missing.so");

	/* a directory */
	snprintf(path, sizeof(path), "%s/dir.so", realdir);
	refused(FAAS_OPT_LIB, path, "the path of a readable function library");
	assert_int_equal(parse1(&f, FAAS_OPT_LIB, path, err), -EINVAL);
	assert_contains(err, "not a regular file");

	/* empty */
	refused(FAAS_OPT_LIB, "", "the path of a readable function library");
	assert_int_equal(parse1(&f, FAAS_OPT_LIB, "", err), -EINVAL);
	assert_contains(err, "no path");

	/* unreadable: root's access() says yes whatever the mode */
	snprintf(path, sizeof(path), "%s/unreadable.so", realdir);
	if (getuid() != 0) {
		refused(FAAS_OPT_LIB, path, "the path of a readable function library");
		assert_int_equal(parse1(&f, FAAS_OPT_LIB, path, err), -EINVAL);
		assert_contains(err, "not readable");
	}

	/* relative paths are made absolute (resolved against the cwd) */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	accepted(FAAS_OPT_LIB, "libfns.so", &f);
	assert_string_equal(f.lib, lib);
	accepted(FAAS_OPT_LIB, "./dir.so/../libfns.so", &f);
	assert_string_equal(f.lib, lib);
	refused(FAAS_OPT_LIB, "nosuch.so", "the path of a readable function library");
	assert_int_equal(chdir(cwd), 0);
}

static void test_mem(void **state)
{
	static const char *const bad[] = {"0",
					  "0M",
					  "junk",
					  "-1",
					  "2X",
					  " 512M",
					  "512M ",
					  "1.5G",
					  "",
					  "1025T",
					  "M512",
					  "512MiBs",
					  "1125899906842625", /* 1 PiB + 1 */
					  "64KB",
					  "16777215"}; /* below a worker's least */
	struct faas_opts f;

	(void)state;
	accepted(FAAS_OPT_MEM, "512M", &f);
	assert_int_equal(f.mem, 512 * MIB);
	accepted(FAAS_OPT_MEM, "2GiB", &f);
	assert_int_equal(f.mem, 2 * GIB);
	accepted(FAAS_OPT_MEM, "2g", &f);
	assert_int_equal(f.mem, 2 * GIB);
	accepted(FAAS_OPT_MEM, "16M", &f); /* the least: a worker's endpoint and slots */
	assert_int_equal(f.mem, 16 * MIB);
	accepted(FAAS_OPT_MEM, "16777216", &f);
	assert_int_equal(f.mem, 16 * MIB);
	accepted(FAAS_OPT_MEM, "1024T", &f); /* the largest: 1 PiB */
	assert_int_equal(f.mem, 1024 * TIB);
	accepted(FAAS_OPT_MEM, "1125899906842624", &f);
	assert_int_equal(f.mem, 1024 * TIB);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(FAAS_OPT_MEM, bad[i],
			"a size per worker like 512M or 2G (K, M, G, T: powers "
			"of 1024), at least 16M and at most 1024T");
}

static void test_gpus(void **state)
{
	struct faas_opts f;

	(void)state;
	accepted(FAAS_OPT_GPUS, "0", &f);
	assert_int_equal(f.gpus, 0);
	assert_true(faas_opts_has(&f, FAAS_OPT_GPUS));
	accepted(FAAS_OPT_GPUS, "64", &f);
	assert_int_equal(f.gpus, 64);
	refused(FAAS_OPT_GPUS, "65", "a whole number from 0 to 64");
	refused(FAAS_OPT_GPUS, "-1", "a whole number from 0 to 64");
	refused(FAAS_OPT_GPUS, "two", "a whole number from 0 to 64");
}

static void test_time(void **state)
{
	static const char *const bad[] = {"0",	     "0:00",	     "367-00:00:00", "367d",
					  "366d 1s", "junk",	     "-5",	     "1:2:3:4",
					  "",	     "366-00:00:01", "527041",	     "31622401s"};
	struct faas_opts f;

	(void)state;
	accepted(FAAS_OPT_TIME, "30", &f); /* a bare number is minutes */
	assert_int_equal(f.time_s, 30 * 60);
	accepted(FAAS_OPT_TIME, "1:00:00", &f);
	assert_int_equal(f.time_s, 3600);
	accepted(FAAS_OPT_TIME, "2-00:00:00", &f);
	assert_int_equal(f.time_s, 2 * DAY);
	accepted(FAAS_OPT_TIME, "1-12", &f); /* D-HH */
	assert_int_equal(f.time_s, DAY + 12 * 3600);
	accepted(FAAS_OPT_TIME, "5:30", &f); /* MM:SS */
	assert_int_equal(f.time_s, 330);
	accepted(FAAS_OPT_TIME, "90s", &f);
	assert_int_equal(f.time_s, 90);
	accepted(FAAS_OPT_TIME, "2h", &f);
	assert_int_equal(f.time_s, 7200);
	accepted(FAAS_OPT_TIME, "366-00:00:00", &f); /* the longest */
	assert_int_equal(f.time_s, 366 * DAY);
	accepted(FAAS_OPT_TIME, "527040", &f); /* the longest, in minutes */
	assert_int_equal(f.time_s, 366 * DAY);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(FAAS_OPT_TIME, bad[i], "at most 366 days");
	refused(FAAS_OPT_TIME, "0", "minutes, [D-]HH:MM[:SS]");
}

static void test_host_flags(void **state)
{
	struct faas_opts f;
	char err[ERRLEN];

	(void)state;
	accepted(FAAS_OPT_HOST, NULL, &f);
	assert_true(f.host);
	assert_int_equal(f.set, 1u << FAAS_OPT_HOST);

	/* --no-faas-host sets the same value, to no */
	accepted(FAAS_OPT_NO_HOST, NULL, &f);
	assert_false(f.host);
	assert_true(faas_opts_has(&f, FAAS_OPT_HOST));
	assert_false(faas_opts_has(&f, FAAS_OPT_NO_HOST));

	/* the last one given wins */
	memset(&f, 0, sizeof(f));
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_HOST, NULL, err, ERRLEN), 0);
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_NO_HOST, NULL, err, ERRLEN), 0);
	assert_false(f.host);
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_HOST, NULL, err, ERRLEN), 0);
	assert_true(f.host);

	/* slurmstepd hands the flags over with an empty value */
	accepted(FAAS_OPT_HOST, "", &f);
	assert_true(f.host);
	accepted(FAAS_OPT_NO_HOST, "", &f);
	assert_false(f.host);

	/* srun inside a batch job gets sbatch's flags back as "(null)": a
	 * flag's value never counts on the command line */
	accepted(FAAS_OPT_HOST, "(null)", &f);
	assert_true(f.host);
	accepted(FAAS_OPT_NO_HOST, "(null)", &f);
	assert_false(f.host);
	accepted(FAAS_OPT_HOST, "no", &f);
	assert_true(f.host);
}

static void test_host_mem(void **state)
{
	struct faas_opts f;

	(void)state;
	accepted(FAAS_OPT_HOST_MEM, "4G", &f);
	assert_int_equal(f.host_mem, 4 * GIB);
	assert_int_equal(f.set, 1u << FAAS_OPT_HOST_MEM);
	refused(FAAS_OPT_HOST_MEM, "0", "the memory the job itself needs");
	refused(FAAS_OPT_HOST_MEM, "lots", "a size like 4G");
}

/* --faas-remote-mem: a memory lease, alone or with --faas-time; its
 * errors say whether the value is not a size, too small or too large. */
static void test_remote_mem(void **state)
{
	struct faas_opts f;
	char err[ERRLEN];

	(void)state;
	accepted(FAAS_OPT_REMOTE_MEM, "4G", &f);
	assert_true(f.remote_mem == 4 * GIB);
	assert_int_equal(faas_opts_check(&f, err, ERRLEN), 0);
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_TIME, "10", err, ERRLEN), 0);
	assert_int_equal(faas_opts_check(&f, err, ERRLEN), 0);
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_WORKERS, "1", err, ERRLEN), 0);
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_LIB, lib, err, ERRLEN), 0);
	assert_int_equal(faas_opts_check(&f, err, ERRLEN), -EINVAL);
	assert_contains(err, "a step has one: give one of them");
	memset(&f, 0, sizeof(f));
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_REMOTE_MEM, "lots", err, ERRLEN), -EINVAL);
	assert_contains(err, "--faas-remote-mem=lots: \"lots\" is not a size");
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_REMOTE_MEM, "1K", err, ERRLEN), -EINVAL);
	assert_contains(err, "1K is too small: give a size");
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_REMOTE_MEM, "1025T", err, ERRLEN), -EINVAL);
	assert_contains(err, "1025T is too large");
	assert_int_equal(f.set, 0);
}

/* ---- the environment ---------------------------------------------------- */

static void test_env_fills_all(void **state)
{
	const char *const vars[] = {
	    "FAAS_WORKERS",  "8",  "FAAS_LIB",	   lib,	      "FAAS_MEM",  "1G",
	    "FAAS_GPUS",     "2",  "FAAS_TIME",	   "1:00:00", "FAAS_HOST", "yes",
	    "FAAS_HOST_MEM", "4G", "FAAS_NO_HOST", "yes",     NULL};
	const char *const none[] = {NULL};
	struct faas_opts f;
	char err[ERRLEN];

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(from_env(&f, none, err), 0);
	assert_int_equal(f.set, 0);

	assert_int_equal(from_env(&f, vars, err), 0);
	assert_int_equal(f.workers, 8);
	assert_string_equal(f.lib, lib);
	assert_int_equal(f.mem, GIB);
	assert_int_equal(f.gpus, 2);
	assert_int_equal(f.time_s, 3600);
	assert_true(faas_opts_has(&f, FAAS_OPT_HOST));
	assert_true(f.host);
	assert_int_equal(f.host_mem, 4 * GIB);
	assert_false(faas_opts_has(&f, FAAS_OPT_NO_HOST));
	assert_int_equal(faas_opts_check(&f, err, ERRLEN), 0);
}

static void test_env_command_line_wins(void **state)
{
	/* values that would be refused: the command line's are kept and the
	 * variables are not even parsed */
	const char *const vars[] = {"FAAS_WORKERS", "abc",	 "FAAS_MEM", "junk", "FAAS_HOST",
				    "yes",	    "FAAS_GPUS", "1",	     NULL};
	struct faas_opts f;
	char err[ERRLEN];

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_WORKERS, "4", err, ERRLEN), 0);
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_MEM, "512M", err, ERRLEN), 0);
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_NO_HOST, NULL, err, ERRLEN), 0);
	assert_int_equal(from_env(&f, vars, err), 0);
	assert_int_equal(f.workers, 4);
	assert_int_equal(f.mem, 512 * MIB);
	assert_false(f.host);	     /* --no-faas-host beats FAAS_HOST=yes */
	assert_int_equal(f.gpus, 1); /* not given on the command line */
	assert_true(faas_opts_has(&f, FAAS_OPT_GPUS));
}

static void test_env_bad_value_names_variable(void **state)
{
	static const struct {
		const char *var, *value, *what;
	} bad[] = {
	    {"FAAS_WORKERS", "0", "a whole number from 1 to 4096"},
	    {"FAAS_LIB", "/nonexistent/lib.so", "readable function library"},
	    {"FAAS_MEM", "junk", "512M or 2G"},
	    {"FAAS_GPUS", "65", "from 0 to 64"},
	    {"FAAS_TIME", "367d", "at most 366 days"},
	    {"FAAS_HOST", "maybe", "yes or no"},
	    {"FAAS_HOST_MEM", "0", "a size like 4G"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *vars[] = {bad[i].var, bad[i].value, NULL};
		char err[ERRLEN], prefix[128];
		struct faas_opts f;

		memset(&f, 0, sizeof(f));
		assert_int_equal(from_env(&f, vars, err), -EINVAL);
		snprintf(prefix, sizeof(prefix), "%s=%s: ", bad[i].var, bad[i].value);
		if (strncmp(err, prefix, strlen(prefix)) != 0)
			fail_msg("'%s' does not start with '%s'", err, prefix);
		assert_contains(err, bad[i].what);
		assert_not_contains(err, "--faas");
		assert_int_equal(f.set, 0);
	}
}

static void test_env_host_no_and_empty(void **state)
{
	const char *const no[] = {"FAAS_HOST", "no", NULL};
	const char *const empty[] = {"FAAS_HOST", "", "FAAS_WORKERS", "", NULL};
	struct faas_opts f;
	char err[ERRLEN];

	(void)state;
	memset(&f, 0, sizeof(f));
	f.host = true;
	assert_int_equal(from_env(&f, no, err), 0);
	assert_true(faas_opts_has(&f, FAAS_OPT_HOST));
	assert_false(f.host);

	/* an empty variable is as good as none */
	memset(&f, 0, sizeof(f));
	assert_int_equal(from_env(&f, empty, err), 0);
	assert_int_equal(f.set, 0);
}

/* ---- what goes together ------------------------------------------------- */

static void test_check(void **state)
{
	static const enum faas_opt need_workers[] = {FAAS_OPT_LIB, FAAS_OPT_MEM, FAAS_OPT_GPUS,
						     FAAS_OPT_TIME};
	static const char *const values[] = {
	    [FAAS_OPT_MEM] = "1G", [FAAS_OPT_GPUS] = "1", [FAAS_OPT_TIME] = "10"};
	struct faas_opts f;
	char err[ERRLEN];

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(faas_opts_check(&f, err, ERRLEN), 0);

	/* workers without a library */
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_WORKERS, "4", err, ERRLEN), 0);
	err[0] = '\0';
	assert_int_equal(faas_opts_check(&f, err, ERRLEN), -EINVAL);
	assert_contains(err, "--faas-workers needs --faas-lib=PATH (or FAAS_LIB)");
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_LIB, lib, err, ERRLEN), 0);
	assert_int_equal(faas_opts_check(&f, err, ERRLEN), 0);

	/* lib, mem, gpus, time without workers */
	for (size_t i = 0; i < sizeof(need_workers) / sizeof(need_workers[0]); i++) {
		enum faas_opt o = need_workers[i];
		char want[128];

		memset(&f, 0, sizeof(f));
		assert_int_equal(
		    faas_opt_parse(&f, o, o == FAAS_OPT_LIB ? lib : values[o], err, ERRLEN), 0);
		err[0] = '\0';
		assert_int_equal(faas_opts_check(&f, err, ERRLEN), -EINVAL);
		snprintf(want, sizeof(want), "--%s has no use without --faas-workers=N",
			 faas_opt_name(o));
		assert_contains(err, want);
		assert_contains(err, "FAAS_WORKERS");
		/* with workers (and a library) it is fine */
		assert_int_equal(faas_opt_parse(&f, FAAS_OPT_WORKERS, "1", err, ERRLEN), 0);
		assert_int_equal(faas_opt_parse(&f, FAAS_OPT_LIB, lib, err, ERRLEN), 0);
		assert_int_equal(faas_opts_check(&f, err, ERRLEN), 0);
	}

	/* the host options stand alone */
	memset(&f, 0, sizeof(f));
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_HOST, NULL, err, ERRLEN), 0);
	assert_int_equal(faas_opt_parse(&f, FAAS_OPT_HOST_MEM, "8G", err, ERRLEN), 0);
	assert_int_equal(faas_opts_check(&f, err, ERRLEN), 0);
}

/* ---- plugstack.conf arguments ------------------------------------------- */

static int plugin_args(struct faas_plugin_args *a, char *err, int ac, ...)
{
	char *av[8] = {NULL};
	va_list ap;

	assert_true(ac <= 8);
	va_start(ap, ac);
	for (int i = 0; i < ac; i++)
		av[i] = va_arg(ap, char *);
	va_end(ap);
	memset(a, 0xa5, sizeof(*a)); /* whatever was there is reset */
	err[0] = '\0';
	return faas_plugin_args_parse(ac, av, a, err, ERRLEN);
}

static void test_plugin_args(void **state)
{
	struct faas_plugin_args a;
	char err[ERRLEN], longconf[PATH_MAX + 16];

	(void)state;
	assert_int_equal(plugin_args(&a, err, 0), 0);
	assert_string_equal(a.conf, "");
	assert_false(a.host_default);

	assert_int_equal(plugin_args(&a, err, 1, "conf=/etc/slurm/coloc.conf"), 0);
	assert_string_equal(a.conf, "/etc/slurm/coloc.conf");
	assert_false(a.host_default);

	assert_int_equal(plugin_args(&a, err, 2, "host_default=yes", "conf=/c.conf"), 0);
	assert_true(a.host_default);
	assert_string_equal(a.conf, "/c.conf");
	assert_int_equal(plugin_args(&a, err, 1, "host_default=no"), 0);
	assert_false(a.host_default);
	assert_string_equal(a.conf, "");

	/* conf must be absolute (slurmd and srun run in other directories) */
	assert_int_equal(plugin_args(&a, err, 1, "conf=coloc.conf"), -EINVAL);
	assert_contains(err, "plugstack.conf");
	assert_contains(err, "conf=coloc.conf");
	assert_contains(err, "an absolute path to coloc.conf");
	assert_int_equal(plugin_args(&a, err, 1, "conf="), -EINVAL);
	assert_contains(err, "absolute path");
	memset(longconf, 'x', sizeof(longconf) - 1);
	longconf[sizeof(longconf) - 1] = '\0';
	memcpy(longconf, "conf=/", 6);
	assert_int_equal(plugin_args(&a, err, 1, longconf), -EINVAL);

	assert_int_equal(plugin_args(&a, err, 1, "host_default=maybe"), -EINVAL);
	assert_contains(err, "host_default=maybe");
	assert_contains(err, "expected host_default=yes or host_default=no");

	/* unknown keys are refused, listing the accepted ones */
	assert_int_equal(plugin_args(&a, err, 2, "conf=/c.conf", "hostdefault=yes"), -EINVAL);
	assert_contains(err, "unknown argument \"hostdefault=yes\"");
	assert_contains(err, "accepted: conf=PATH, host_default=yes|no");
	assert_int_equal(plugin_args(&a, err, 1, "conf"), -EINVAL);
	assert_contains(err, "unknown argument \"conf\"");
}

/* SLURM_JOB_GPUS and SLURM_STEP_GPUS as the bitmask job_start and
 * step_start carry. */
static void test_gpu_mask(void **state)
{
	(void)state;
	assert_int_equal(faas_gpu_mask(NULL), 0);
	assert_int_equal(faas_gpu_mask(""), 0);
	assert_int_equal(faas_gpu_mask("0"), 0x1);
	assert_int_equal(faas_gpu_mask("0,2-3"), 0xd);
	assert_int_equal(faas_gpu_mask("1-1,5"), 0x22);
	assert_int_equal(faas_gpu_mask("31"), 0x80000000u);
	assert_int_equal(faas_gpu_mask("30-40"), 0xc0000000u); /* 32 and up left out */
	/* the one cpu-list syntax (cpumask.h): anything else lends no GPU */
	assert_int_equal(faas_gpu_mask("0-1023"), 0xffffffffu);
	assert_int_equal(faas_gpu_mask("0-18446744073709551615"), 0);
	assert_int_equal(faas_gpu_mask("NoDevFiles"), 0);
	assert_int_equal(faas_gpu_mask("1,x,3"), 0);
	assert_int_equal(faas_gpu_mask("3-1"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_workers),
	    cmocka_unit_test(test_lib),
	    cmocka_unit_test(test_mem),
	    cmocka_unit_test(test_gpus),
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_host_flags),
	    cmocka_unit_test(test_host_mem),
	    cmocka_unit_test(test_remote_mem),
	    cmocka_unit_test(test_env_fills_all),
	    cmocka_unit_test(test_env_command_line_wins),
	    cmocka_unit_test(test_env_bad_value_names_variable),
	    cmocka_unit_test(test_env_host_no_and_empty),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_plugin_args),
	    cmocka_unit_test(test_gpu_mask),
	};

	return cmocka_run_group_tests_name("faas_opts", tests, setup, teardown);
}
