/*
 * test_lease: libfaas/lease.c, faas_lease_acquire and faas_lease_release,
 * against the fake controller (fake_controller.c) named by a coloc.conf in
 * a private temporary directory. faas_lease_acquire takes every limit of
 * lease_rules.h and refuses one past each before anything is sent (the
 * same rules as colocctl, the SPANK plugin and the controller's decoder),
 * fills the request (minutes, DefaultLeaseTime, SLURM_JOB_ID, the
 * library's absolute path), refuses a bad FAAS_CONTROLLER_TIMEOUT_MS, and
 * maps the controller's answers to FAAS_E* codes. The lease document is
 * client.c's: faked here (struct faas_lease keeps the document's text).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "faas.h"
#include "fake_controller.h"
#include "internal.h"
#include "lease_rules.h"

#define ERRLEN 1024

/* ---- client.c's lease document, faked ---------------------------------------- */

struct faas_lease {
	char *json;
	char *conf;
};

int faas_lease_from_json(const char *json, struct faas_lease **out, char *err, size_t errlen)
{
	struct faas_lease *l = calloc(1, sizeof(*l));

	if (strstr(json, "malformed")) {
		snprintf(err, errlen, "\"workers\" must be an array");
		free(l);
		return FAAS_ELEASE;
	}
	assert_non_null(l);
	l->json = strdup(json);
	*out = l;
	return FAAS_OK;
}

void faas_lease_destroy(struct faas_lease *lease)
{
	if (!lease)
		return;
	free(lease->json);
	free(lease->conf);
	free(lease);
}

const char *faas_lease_id(const struct faas_lease *lease)
{
	return strstr(lease->json, "\"L1\"") ? "L1" : "";
}

int lease_set_conf(struct faas_lease *lease, const char *conf)
{
	lease->conf = conf ? strdup(conf) : NULL;
	return FAAS_OK;
}

const char *lease_conf(const struct faas_lease *lease)
{
	return lease->conf;
}

/* ---- fixtures ------------------------------------------------------------------ */

static char tmpdir[] = "/tmp/test_lease.XXXXXX";
static char conf[PATH_MAX], lib[PATH_MAX];

/* A fake controller and a coloc.conf naming it (DefaultLeaseTime 7 min). */
static int setup(void **state)
{
	struct fake *f;
	FILE *c;

	if (fake_setup(state) != 0)
		return -1;
	f = *state;
	snprintf(conf, sizeof(conf), "%s/coloc.conf", tmpdir);
	c = fopen(conf, "w");
	if (!c)
		return -1;
	fprintf(c,
		"ControllerHost=127.0.0.1\nControllerPort=%u\nAuthType=none\n"
		"DefaultLeaseTime=7\n",
		(unsigned)f->port);
	fclose(c);
	unsetenv("FAAS_CONTROLLER_TIMEOUT_MS");
	unsetenv("SLURM_JOB_ID");
	return 0;
}

static int group_setup(void **state)
{
	char path[PATH_MAX + 32];
	FILE *f;

	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof(path), "%s/libfns.so", tmpdir);
	f = fopen(path, "w");
	if (!f || !realpath(path, lib))
		return -1;
	fclose(f);
	return 0;
}

static int group_teardown(void **state)
{
	char path[PATH_MAX + 32];

	(void)state;
	snprintf(path, sizeof(path), "%s/libfns.so", tmpdir);
	unlink(path);
	unlink(conf);
	rmdir(tmpdir);
	return 0;
}

static void request_for(struct faas_lease_request *r)
{
	memset(r, 0, sizeof(*r));
	r->workers = 1;
	r->lib = lib;
	r->conf = conf;
}

static void answer_error(struct fake *f, const char *code)
{
	struct msg m;

	msg_error(&m, code, "no");
	fake_answer(f, &m);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'", haystack, needle);
}

/* ---- tests ----------------------------------------------------------------------- */

/* Every limit at its edge goes out as asked. */
static void test_edges_accepted(void **state)
{
	struct fake *f = *state;
	struct faas_lease_request r;
	struct faas_lease *lease = (struct faas_lease *)&r;
	char err[ERRLEN] = "";

	request_for(&r);
	r.workers = 4096;
	r.gpus = 64;
	r.minutes = 527040;
	r.mem_per_worker = (size_t)1 << 50;
	r.pack = 1;
	setenv("SLURM_JOB_ID", "123", 1);
	answer_error(f, "ENOSPC");
	fake_start(f, FAKE_REPLY);
	assert_int_equal(faas_lease_acquire(&r, &lease, err, sizeof(err)), FAAS_EBUSY);
	fake_join(f);
	assert_null(lease);
	assert_contains(err, "the controller refused the lease_acquire request: ENOSPC: no");
	assert_int_equal(f->got_rc, 0);
	assert_int_equal(f->got.u.acquire.workers, LEASE_MAX_WORKERS);
	assert_int_equal(f->got.u.acquire.gpus, LEASE_MAX_GPUS);
	assert_int_equal(f->got.u.acquire.time, LEASE_MAX_TIME_S);
	assert_true(f->got.u.acquire.mem == LEASE_MAX_MEM);
	assert_true(f->got.u.acquire.pack);
	assert_int_equal(f->got.u.acquire.job, 123);
	assert_string_equal(f->got.u.acquire.lib, lib);

	/* minutes 0: DefaultLeaseTime of the coloc.conf */
	request_for(&r);
	answer_error(f, "ENOSPC");
	fake_start(f, FAKE_REPLY);
	assert_int_equal(faas_lease_acquire(&r, &lease, err, sizeof(err)), FAAS_EBUSY);
	fake_join(f);
	assert_int_equal(f->got.u.acquire.time, 7 * 60);
	assert_int_equal(f->got.u.acquire.workers, 1);
	assert_int_equal(f->got.u.acquire.gpus, 0);
}

/* One past each limit: FAAS_EINVAL naming it, and nothing sent (a request
 * sent would wait for the silent fake and fail FAAS_EUNAVAIL). */
static void test_edges_refused(void **state)
{
	static const struct {
		const char *want;
	} cases[] = {
	    {"workers 4097: a lease has 1 to 4096 workers"},
	    {"workers 0: a lease has 1 to 4096 workers"},
	    {"gpus 65: a lease has 0 to 64 GPUs"},
	    {"time 31622460 s: a lease lasts 1 s to 366 days"},
	    {"mem 1125899906842625 bytes: a lease's workers have at most"},
	    {"workers, gpus and minutes of 0 or more (workers -1, gpus 0, minutes 0)"},
	    {"workers, gpus and minutes of 0 or more (workers 1, gpus -1, minutes 0)"},
	    {"workers, gpus and minutes of 0 or more (workers 1, gpus 0, minutes -1)"},
	    {"needs a function library"},
	};
	struct fake *f = *state;
	struct faas_lease_request r;
	struct faas_lease *lease;
	struct pollfd p = {.fd = f->lfd, .events = POLLIN};
	char err[ERRLEN];

	setenv("FAAS_CONTROLLER_TIMEOUT_MS", "200", 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		request_for(&r);
		switch (i) {
		case 0:
			r.workers = 4097;
			break;
		case 1:
			r.workers = 0;
			break;
		case 2:
			r.gpus = 65;
			break;
		case 3:
			r.minutes = 527041;
			break;
		case 4:
			r.mem_per_worker = ((size_t)1 << 50) + 1;
			break;
		case 5:
			r.workers = -1;
			break;
		case 6:
			r.gpus = -1;
			break;
		case 7:
			r.minutes = -1;
			break;
		case 8:
			r.lib = "";
			break;
		}
		err[0] = '\0';
		lease = (struct faas_lease *)&r;
		assert_int_equal(faas_lease_acquire(&r, &lease, err, sizeof(err)), FAAS_EINVAL);
		assert_null(lease);
		if (!strstr(err, "faas_lease_acquire: ") || !strstr(err, cases[i].want))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].want);
		assert_int_equal(poll(&p, 1, 0), 0); /* no connection came */
	}
	/* minutes far past the limit do not wrap around */
	request_for(&r);
	r.minutes = INT32_MAX;
	assert_int_equal(faas_lease_acquire(&r, &lease, err, sizeof(err)), FAAS_EINVAL);
	assert_contains(err, "time 4294967295 s");
}

/* FAAS_CONTROLLER_TIMEOUT_MS is strict, in both calls. */
static void test_timeout_env(void **state)
{
	struct fake *f = *state;
	struct faas_lease_request r;
	struct faas_lease *lease, fake_lease = {.json = (char *)"{\"id\":\"L1\"}", .conf = conf};
	struct pollfd p = {.fd = f->lfd, .events = POLLIN};
	char err[ERRLEN];

	request_for(&r);
	setenv("FAAS_CONTROLLER_TIMEOUT_MS", "30s", 1);
	assert_int_equal(faas_lease_acquire(&r, &lease, err, sizeof(err)), FAAS_EINVAL);
	assert_string_equal(err, "FAAS_CONTROLLER_TIMEOUT_MS=30s: expected a whole number of "
				 "milliseconds from 1 to 3600000 (unset: 30000)");
	err[0] = '\0';
	assert_int_equal(faas_lease_release(&fake_lease, err, sizeof(err)), FAAS_EINVAL);
	assert_contains(err, "FAAS_CONTROLLER_TIMEOUT_MS=30s: expected");
	setenv("FAAS_CONTROLLER_TIMEOUT_MS", "3600001", 1);
	assert_int_equal(faas_lease_acquire(&r, &lease, err, sizeof(err)), FAAS_EINVAL);
	assert_contains(err, "FAAS_CONTROLLER_TIMEOUT_MS=3600001");
	assert_int_equal(poll(&p, 1, 0), 0);

	/* a good one bounds the wait */
	setenv("FAAS_CONTROLLER_TIMEOUT_MS", "200", 1);
	fake_start(f, FAKE_SILENT);
	assert_int_equal(faas_lease_acquire(&r, &lease, err, sizeof(err)), FAAS_EUNAVAIL);
	fake_join(f);
	assert_contains(err, "did not answer within 200 ms");
}

/* A grant becomes the lease; release sends its id to the same controller. */
static void test_grant_and_release(void **state)
{
	struct fake *f = *state;
	struct faas_lease_request r;
	struct faas_lease *lease = NULL;
	struct msg reply = {.type = MSG_LEASE_GRANT};
	char err[ERRLEN] = "";

	request_for(&r);
	strcpy(reply.u.grant.id, "L1");
	reply.u.grant.lease = strdup("{\"id\":\"L1\"}");
	fake_answer(f, &reply);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(faas_lease_acquire(&r, &lease, err, sizeof(err)), FAAS_OK);
	fake_join(f);
	assert_non_null(lease);
	assert_string_equal(lease->json, "{\"id\":\"L1\"}");
	assert_string_equal(lease_conf(lease), conf);

	reply = (struct msg){.type = MSG_OK};
	fake_answer(f, &reply);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(faas_lease_release(lease, err, sizeof(err)), FAAS_OK);
	fake_join(f);
	assert_int_equal(f->got.type, MSG_LEASE_RELEASE);
	assert_string_equal(f->got.u.release.id, "L1");

	answer_error(f, "ENOENT");
	fake_start(f, FAKE_REPLY);
	assert_int_equal(faas_lease_release(lease, err, sizeof(err)), FAAS_EINVAL);
	fake_join(f);
	assert_contains(err, "faas_lease_release: the controller refused the lease_release "
			     "request: ENOENT: no");
	faas_lease_destroy(lease);
}

/* The controller's answers as FAAS_E* codes. */
static void test_error_codes(void **state)
{
	static const struct {
		const char *code;
		int rc;
	} cases[] = {
	    {"ENOSPC", FAAS_EBUSY},    {"EBUSY", FAAS_EBUSY},	 {"EAGAIN", FAAS_EBUSY},
	    {"EINVAL", FAAS_EINVAL},   {"E2BIG", FAAS_EINVAL},	 {"EPERM", FAAS_EAUTH},
	    {"EACCES", FAAS_EAUTH},    {"ENOMEM", FAAS_ENOMEM},	 {"EPROTO", FAAS_EPROTO},
	    {"EDQUOT", FAAS_EUNAVAIL}, {"EWHAT", FAAS_EUNAVAIL},
	};
	struct fake *f = *state;
	struct faas_lease_request r;
	struct faas_lease *lease;
	struct msg reply;
	char err[ERRLEN];

	request_for(&r);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		answer_error(f, cases[i].code);
		fake_start(f, FAKE_REPLY);
		if (faas_lease_acquire(&r, &lease, err, sizeof(err)) != cases[i].rc)
			fail_msg("%s: not %d (%s)", cases[i].code, cases[i].rc, err);
		fake_join(f);
	}
	/* a forged grant */
	reply = (struct msg){.type = MSG_LEASE_GRANT};
	strcpy(reply.u.grant.id, "L1");
	reply.u.grant.lease = strdup("{\"id\":\"L1\"}");
	fake_answer(f, &reply);
	f->grant = GRANT_UNSIGNED;
	fake_start(f, FAKE_REPLY);
	assert_int_equal(faas_lease_acquire(&r, &lease, err, sizeof(err)), FAAS_EAUTH);
	fake_join(f);
	assert_contains(err, "it carries no credential");
	/* a malformed document */
	reply = (struct msg){.type = MSG_LEASE_GRANT};
	strcpy(reply.u.grant.id, "L2");
	reply.u.grant.lease = strdup("{\"id\":\"malformed\"}");
	fake_answer(f, &reply);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(faas_lease_acquire(&r, &lease, err, sizeof(err)), FAAS_ELEASE);
	fake_join(f);
	assert_contains(err, "granted lease L2 with a malformed document");
	/* nobody there */
	fake_start(f, FAKE_CLOSE);
	assert_int_equal(faas_lease_acquire(&r, &lease, err, sizeof(err)), FAAS_EUNAVAIL);
	fake_join(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_edges_accepted, setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_edges_refused, setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_env, setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_grant_and_release, setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_error_codes, setup, fake_teardown),
	};

	return cmocka_run_group_tests_name("lease", tests, group_setup, group_teardown);
}
