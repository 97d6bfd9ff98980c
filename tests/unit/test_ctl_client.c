/*
 * test_ctl_client: the controller's client against a fake controller, a
 * thread listening on 127.0.0.1 that reads one real frame, decodes it and
 * answers as each test tells it (a reply, silence, garbage, a close).
 * Credentials are real AuthType=none ones (no munged needed). Checks what
 * colocctl, libfaas and the plugin rely on: the request arrives whole with
 * a credential bound to it and to the controller, every kind of reply
 * comes back, a lease grant is taken only with root's credential bound to
 * it and to the request (issue 11 defect 1: a user holding the
 * controller's port must not hand out lease documents), and every failure
 * (refused, silent, garbage, closed) is an error naming the controller's
 * address within the timeout. The lease round trip they share
 * (ctl_lease_acquire, ctl_lease_release): a request at lease_rules.h's
 * limits goes out as given, one past them never leaves, the controller's
 * refusal comes back as one errno with its message; and the one parser of
 * FAAS_CONTROLLER_TIMEOUT_MS.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "clock.h"
#include "cred.h"
#include "ctl_client.h"
#include "frame.h"
#include "fake_controller.h"
#include "msg.h"

/* The request arrived with the caller's credential, bound to it and to
 * the controller. */
static void expect_own_cred(const struct msg *got)
{
	struct cred_opts none = {.none = true};
	struct cred_id who;
	char err[256] = "";

	if (auth_check(&none, got, AUTH_DEST_CONTROLLER, NULL, &who, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(who.uid, getuid());
	assert_int_equal(who.gid, getgid());
}

/* ---- tests ----------------------------------------------------------------- */

static void test_acquire_grant(void **state)
{
	static const char doc[] = "{\"v\":1,\"type\":\"lease\",\"id\":\"L1\",\"provider\":\"tcp\"}";
	struct fake *f = *state;
	struct coloc_config cfg;
	struct msg req = {.type = MSG_LEASE_ACQUIRE}, reply;
	char err[512] = "";

	req.u.acquire.workers = 4;
	strcpy(req.u.acquire.lib, "/opt/fns/libbs.so");
	req.u.acquire.mem = 512u << 20;
	req.u.acquire.gpus = 1;
	req.u.acquire.time = 600;
	req.u.acquire.pack = true;
	req.u.acquire.job = 77;
	f->reply.type = MSG_LEASE_GRANT;
	strcpy(f->reply.u.grant.id, "L1");
	f->reply.u.grant.lease = strdup(doc);
	fake_config(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), 0);
	fake_join(f);

	/* what the controller saw */
	assert_int_equal(f->got_rc, 0);
	assert_int_equal(f->got.type, MSG_LEASE_ACQUIRE);
	expect_own_cred(&f->got);
	assert_int_equal(f->got.u.acquire.workers, 4);
	assert_string_equal(f->got.u.acquire.lib, "/opt/fns/libbs.so");
	assert_int_equal(f->got.u.acquire.mem, 512u << 20);
	assert_int_equal(f->got.u.acquire.gpus, 1);
	assert_int_equal(f->got.u.acquire.time, 600);
	assert_true(f->got.u.acquire.pack);
	assert_int_equal(f->got.u.acquire.job, 77);
	/* what the client got */
	assert_int_equal(reply.type, MSG_LEASE_GRANT);
	assert_string_equal(reply.u.grant.id, "L1");
	assert_string_equal(reply.u.grant.lease, doc);
	msg_free(&reply);
}

static void test_query_result(void **state)
{
	struct fake *f = *state;
	struct coloc_config cfg;
	struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_LEASES}, reply;
	char err[512] = "";

	f->reply.type = MSG_RESULT;
	f->reply.u.result.what = MSG_QUERY_LEASES;
	for (uint32_t i = 0; i < 2; i++) {
		union msg_row *row = msg_result_add(&f->reply);

		assert_non_null(row);
		snprintf(row->lease.id, sizeof(row->lease.id), "L%u", i + 1);
		row->lease.uid = i ? 0 : 1000;
		snprintf(row->lease.state, sizeof(row->lease.state), "ready");
		snprintf(row->lease.node, sizeof(row->lease.node), "n1");
	}
	fake_config(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), 0);
	fake_join(f);
	assert_int_equal(f->got_rc, 0);
	assert_int_equal(f->got.type, MSG_QUERY);
	assert_int_equal(f->got.u.query, MSG_QUERY_LEASES);
	expect_own_cred(&f->got);
	assert_int_equal(reply.type, MSG_RESULT);
	assert_int_equal(reply.u.result.what, MSG_QUERY_LEASES);
	assert_int_equal(reply.u.result.nrows, 2);
	assert_string_equal(reply.u.result.rows[0].lease.id, "L1");
	assert_int_equal(reply.u.result.rows[0].lease.uid, 1000);
	assert_string_equal(reply.u.result.rows[1].lease.id, "L2");
	assert_int_equal(reply.u.result.rows[1].lease.uid, 0);
	msg_free(&reply);
}

static void test_release_ok(void **state)
{
	struct fake *f = *state;
	struct coloc_config cfg;
	struct msg req = {.type = MSG_LEASE_RELEASE}, reply;
	char err[512] = "";

	strcpy(req.u.release.id, "L9");
	f->reply.type = MSG_OK;
	fake_config(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), 0);
	fake_join(f);
	assert_int_equal(f->got_rc, 0);
	assert_int_equal(f->got.type, MSG_LEASE_RELEASE);
	assert_string_equal(f->got.u.release.id, "L9");
	expect_own_cred(&f->got);
	assert_int_equal(reply.type, MSG_OK);
}

static void test_error_reply(void **state)
{
	struct fake *f = *state;
	struct coloc_config cfg;
	struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_NODES}, reply;
	char err[512] = "";

	msg_error(&f->reply, "ENOSPC", "only 2 cores are idle; ask for fewer workers");
	fake_config(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), 0);
	fake_join(f);
	assert_int_equal(reply.type, MSG_ERROR);
	assert_string_equal(reply.u.error.code, "ENOSPC");
	assert_string_equal(reply.u.error.message, "only 2 cores are idle; ask for fewer workers");
}

static void test_refused(void **state)
{
	struct coloc_config cfg;
	struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_GAPS}, reply;
	char err[512] = "", want[64];
	uint16_t port = fake_closed_port(AF_INET, "127.0.0.1");
	int64_t t0;

	(void)state;
	assert_int_not_equal(port, 0);
	fake_config(&cfg, "127.0.0.1", port);
	t0 = clock_ms();
	assert_int_equal(ctl_request(&cfg, &req, &reply, 2000, err, sizeof(err)), -ECONNREFUSED);
	assert_true(clock_ms() - t0 < 2000);
	snprintf(want, sizeof(want), "colocd is not running on 127.0.0.1:%u", (unsigned)port);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "ControllerHost/ControllerPort"));
}

static void test_refused_ipv6(void **state)
{
	struct coloc_config cfg;
	struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_GAPS}, reply;
	char err[512] = "", want[64];
	uint16_t port = fake_closed_port(AF_INET6, "::1");

	(void)state;
	if (!port)
		skip(); /* no IPv6 loopback here */
	fake_config(&cfg, "::1", port);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 2000, err, sizeof(err)), -ECONNREFUSED);
	snprintf(want, sizeof(want), "colocd is not running on [::1]:%u", (unsigned)port);
	assert_non_null(strstr(err, want));
}

static void test_silent_server(void **state)
{
	struct fake *f = *state;
	struct coloc_config cfg;
	struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_EXECUTORS}, reply;
	char err[512] = "", want[64];
	int64_t t0, took;

	fake_config(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_SILENT);
	t0 = clock_ms();
	assert_int_equal(ctl_request(&cfg, &req, &reply, 300, err, sizeof(err)), -ETIMEDOUT);
	took = clock_ms() - t0;
	fake_join(f);
	assert_true(took >= 290);
	assert_true(took < 300 + 1000);
	assert_int_equal(f->got_rc, 0); /* the request did arrive */
	snprintf(want, sizeof(want), "colocd on 127.0.0.1:%u did not answer within 300 ms",
		 (unsigned)f->port);
	assert_non_null(strstr(err, want));
}

static void test_garbage_json(void **state)
{
	struct fake *f = *state;
	struct coloc_config cfg;
	struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_NODES}, reply;
	char err[512] = "";

	fake_config(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_BAD_JSON);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), -EPROTO);
	fake_join(f);
	assert_non_null(strstr(err, "malformed reply"));
	assert_null(reply.u.result.rows);
}

static void test_garbage_bytes(void **state)
{
	struct fake *f = *state;
	struct coloc_config cfg;
	struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_NODES}, reply;
	char err[512] = "", want[64];

	fake_config(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_BAD_BYTES);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), -EPROTO);
	fake_join(f);
	snprintf(want, sizeof(want), "127.0.0.1:%u sent a malformed frame", (unsigned)f->port);
	assert_non_null(strstr(err, want));
}

static void test_closed_without_answer(void **state)
{
	struct fake *f = *state;
	struct coloc_config cfg;
	struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_NODES}, reply;
	char err[512] = "";

	fake_config(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_CLOSE);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), -ECONNRESET);
	fake_join(f);
	assert_non_null(strstr(err, "closed the connection without answering"));
}

/* No credential, no request: the error is munged's, and nothing is sent
 * (the port is closed, so a connection attempt would say "refused"). */
static void test_no_credential(void **state)
{
	struct coloc_config cfg;
	struct msg req = {.type = MSG_LEASE_RELEASE}, reply;
	char err[512] = "";

	(void)state;
	strcpy(req.u.release.id, "L1");
	fake_config(&cfg, "127.0.0.1", fake_closed_port(AF_INET, "127.0.0.1"));
	cfg.auth = COLOC_AUTH_MUNGE;
	strcpy(cfg.munge_socket, "/nonexistent/munge.socket");
	assert_int_equal(ctl_request(&cfg, &req, &reply, 2000, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "is munged running"));
}

/* issue 11 defect 1: a user who holds the controller's port (colocd down)
 * answers a lease_acquire with a lease document of its own. Each forged
 * grant is refused with an error that says so; nothing reaches the
 * caller. */
static void test_forged_grants(void **state)
{
	static const struct {
		enum fake_grant grant;
		const char *why;
	} cases[] = {
	    {GRANT_UNSIGNED, "it carries no credential"},
	    {GRANT_USER, "uid 1000's, not root's"},
	    {GRANT_OTHER_REQUEST, "answers another request"},
	    {GRANT_REQUEST_CRED, "made for controller, not reply"},
	    {GRANT_OTHER_LEASE, "made for another message"},
	};
	struct fake *f = *state;
	struct coloc_config cfg;
	char err[1024], want[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct msg req = {.type = MSG_LEASE_ACQUIRE}, reply;

		req.u.acquire.workers = 1;
		strcpy(req.u.acquire.lib, "/opt/fns/libbs.so");
		req.u.acquire.time = 60;
		msg_free(&f->got);
		msg_free(&f->reply);
		memset(&f->reply, 0, sizeof(f->reply));
		f->reply.type = MSG_LEASE_GRANT;
		strcpy(f->reply.u.grant.id, "L1");
		f->reply.u.grant.lease = strdup("{\"v\":1,\"id\":\"L1\",\"token\":\"forged\"}");
		f->grant = cases[i].grant;
		fake_config(&cfg, "127.0.0.1", f->port);
		fake_start(f, FAKE_REPLY);
		err[0] = '\0';
		assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), -EACCES);
		fake_join(f);
		if (!strstr(err, cases[i].why))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].why);
		snprintf(want, sizeof(want), "refused the lease grant from 127.0.0.1:%u",
			 (unsigned)f->port);
		assert_non_null(strstr(err, want));
		assert_non_null(strstr(err, "ControllerHost/ControllerPort"));
		assert_null(reply.u.grant.lease);
	}
}

/* A grant to a request that carried no credential (a host job report, on
 * the node agent's socket) is never believed either. */
static void test_grant_to_report(void **state)
{
	struct fake *f = *state;
	struct coloc_config cfg;
	struct msg req = {.type = MSG_JOB_END, .u.job_end = 7}, reply;
	char err[1024] = "";

	f->reply.type = MSG_LEASE_GRANT;
	strcpy(f->reply.u.grant.id, "L1");
	f->reply.u.grant.lease = strdup("{\"v\":1}");
	fake_config(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), -EACCES);
	fake_join(f);
	assert_non_null(strstr(err, "never granted a lease"));
}

/* ---- the lease round trip: ctl_lease_acquire, ctl_lease_release ----------- */

static void lease_request_for(struct lease_request *r)
{
	memset(r, 0, sizeof(*r));
	r->workers = 2;
	strcpy(r->lib, "/opt/fns/libbs.so");
}

/* The request as lease_rules.h allows it at every limit arrives as it was
 * given; a time of 0 becomes DefaultLeaseTime; the grant comes back. */
static void test_lease_acquire(void **state)
{
	static const char doc[] = "{\"v\":1,\"type\":\"lease\",\"id\":\"L7\"}";
	struct fake *f = *state;
	struct coloc_config cfg;
	struct lease_request r;
	struct msg reply = {.type = MSG_LEASE_GRANT}, grant;
	char err[512] = "";

	strcpy(reply.u.grant.id, "L7");
	reply.u.grant.lease = strdup(doc);
	fake_answer(f, &reply);
	fake_config(&cfg, "127.0.0.1", f->port);
	cfg.default_lease_s = 1234;
	lease_request_for(&r);
	r.workers = LEASE_MAX_WORKERS;
	r.mem = LEASE_MAX_MEM;
	r.gpus = LEASE_MAX_GPUS;
	r.pack = true;
	r.job = 42;
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_lease_acquire(&cfg, &r, 5000, &grant, err, sizeof(err)), 0);
	fake_join(f);
	assert_int_equal(f->got_rc, 0);
	assert_int_equal(f->got.type, MSG_LEASE_ACQUIRE);
	expect_own_cred(&f->got);
	assert_int_equal(f->got.u.acquire.workers, 4096);
	assert_true(f->got.u.acquire.mem == 1ull << 50);
	assert_int_equal(f->got.u.acquire.gpus, 64);
	assert_int_equal(f->got.u.acquire.time, 1234); /* DefaultLeaseTime */
	assert_string_equal(f->got.u.acquire.lib, "/opt/fns/libbs.so");
	assert_true(f->got.u.acquire.pack);
	assert_int_equal(f->got.u.acquire.job, 42);
	assert_int_equal(grant.type, MSG_LEASE_GRANT);
	assert_string_equal(grant.u.grant.id, "L7");
	assert_string_equal(grant.u.grant.lease, doc);
	msg_free(&grant);

	/* the longest time is sent as given */
	reply = (struct msg){.type = MSG_LEASE_GRANT};
	strcpy(reply.u.grant.id, "L8");
	reply.u.grant.lease = strdup(doc);
	fake_answer(f, &reply);
	r.time = 366 * 86400;
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_lease_acquire(&cfg, &r, 5000, &grant, err, sizeof(err)), 0);
	fake_join(f);
	assert_int_equal(f->got.u.acquire.time, 366 * 86400);
	msg_free(&grant);
}

/* One past each limit: refused here, naming the field, the limit and the
 * fix, and nothing is sent (the port is closed: a connection would say
 * "refused"). */
static void test_lease_acquire_rules(void **state)
{
	static const struct {
		const char *field;
		const char *want;
	} cases[] = {
	    {"workers 0", "a lease has 1 to 4096 workers; ask for at least one"},
	    {"workers 4097", "a lease has 1 to 4096 workers; ask for fewer"},
	    {"mem", "at most 1125899906842624 bytes (1024T) each; ask for less"},
	    {"gpus 65", "a lease has 0 to 64 GPUs; ask for fewer"},
	    {"time 31622401 s", "a lease lasts 1 s to 366 days (31622400 s); ask for a shorter"},
	    {"lib \"fns.so\"", "must be given by an absolute path"},
	};
	struct coloc_config cfg;
	struct lease_request r;
	struct msg grant;
	char err[512];

	(void)state;
	fake_config(&cfg, "127.0.0.1", fake_closed_port(AF_INET, "127.0.0.1"));
	cfg.default_lease_s = 60;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lease_request_for(&r);
		switch (i) {
		case 0:
			r.workers = 0;
			break;
		case 1:
			r.workers = LEASE_MAX_WORKERS + 1;
			break;
		case 2:
			r.mem = LEASE_MAX_MEM + 1;
			break;
		case 3:
			r.gpus = LEASE_MAX_GPUS + 1;
			break;
		case 4:
			r.time = LEASE_MAX_TIME_S + 1;
			break;
		case 5:
			strcpy(r.lib, "fns.so");
			break;
		}
		err[0] = '\0';
		assert_int_equal(ctl_lease_acquire(&cfg, &r, 2000, &grant, err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, cases[i].field) || !strstr(err, cases[i].want))
			fail_msg("case %zu: \"%s\" does not say \"%s\" and \"%s\"", i, err,
				 cases[i].field, cases[i].want);
		assert_null(grant.u.grant.lease);
	}
}

/* The controller's refusal comes back as the errno its code names, with
 * its message; an answer of the wrong type is -EPROTO; a forged grant
 * -EACCES. The caller gets no grant in each case. */
static void test_lease_acquire_refused(void **state)
{
	static const struct {
		const char *code;
		int rc;
	} cases[] = {
	    {"ENOSPC", -ENOSPC}, {"EDQUOT", -EDQUOT},	    {"EBUSY", -EBUSY},
	    {"EPERM", -EPERM},	 {"EWHATEVER", -EREMOTEIO},
	};
	struct fake *f = *state;
	struct coloc_config cfg;
	struct lease_request r;
	struct msg reply, grant;
	char err[1024];

	fake_config(&cfg, "127.0.0.1", f->port);
	lease_request_for(&r);
	r.time = 60;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg_error(&reply, cases[i].code, "only 2 cores are idle");
		fake_answer(f, &reply);
		fake_start(f, FAKE_REPLY);
		err[0] = '\0';
		assert_int_equal(ctl_lease_acquire(&cfg, &r, 5000, &grant, err, sizeof(err)),
				 cases[i].rc);
		fake_join(f);
		assert_int_equal(f->got_rc, 0);
		assert_int_equal(grant.type, 0);
		snprintf(reply.u.error.message, sizeof(reply.u.error.message),
			 "the controller refused the lease_acquire request: %s: only 2 cores are "
			 "idle",
			 cases[i].code);
		assert_string_equal(err, reply.u.error.message);
	}

	reply = (struct msg){.type = MSG_OK};
	fake_answer(f, &reply);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_lease_acquire(&cfg, &r, 5000, &grant, err, sizeof(err)), -EPROTO);
	fake_join(f);
	assert_non_null(strstr(err, "answered a lease_acquire request with ok, not lease_grant"));

	reply = (struct msg){.type = MSG_LEASE_GRANT};
	strcpy(reply.u.grant.id, "L1");
	reply.u.grant.lease = strdup("{\"v\":1,\"id\":\"L1\",\"token\":\"forged\"}");
	fake_answer(f, &reply);
	f->grant = GRANT_USER;
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_lease_acquire(&cfg, &r, 5000, &grant, err, sizeof(err)), -EACCES);
	fake_join(f);
	assert_non_null(strstr(err, "uid 1000's, not root's"));
	assert_null(grant.u.grant.lease);
}

static void test_lease_release(void **state)
{
	struct fake *f = *state;
	struct coloc_config cfg;
	struct msg reply = {.type = MSG_OK};
	char err[512] = "", id[80];

	fake_config(&cfg, "127.0.0.1", f->port);
	fake_answer(f, &reply);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_lease_release(&cfg, "L9", 5000, err, sizeof(err)), 0);
	fake_join(f);
	assert_int_equal(f->got.type, MSG_LEASE_RELEASE);
	assert_string_equal(f->got.u.release.id, "L9");
	expect_own_cred(&f->got);

	msg_error(&reply, "ENOENT", "no lease L9");
	fake_answer(f, &reply);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_lease_release(&cfg, "L9", 5000, err, sizeof(err)), -ENOENT);
	fake_join(f);
	assert_string_equal(err, "the controller refused the lease_release request: ENOENT: no "
				 "lease L9");

	/* not an id: nothing is sent */
	fake_config(&cfg, "127.0.0.1", fake_closed_port(AF_INET, "127.0.0.1"));
	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	assert_int_equal(ctl_lease_release(&cfg, "", 2000, err, sizeof(err)), -EINVAL);
	assert_int_equal(ctl_lease_release(&cfg, id, 2000, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not a lease id"));
}

/* ---- FAAS_CONTROLLER_TIMEOUT_MS ------------------------------------------------ */

static void test_timeout_env(void **state)
{
	static const struct {
		const char *v;
		int ms;
	} good[] = {{NULL, 30000}, {"", 30000},	  {"1", 1},
		    {"250", 250},  {"0100", 100}, {"3600000", 3600000}};
	static const char *const bad[] = {"0",	"3600001", "-1",  "+5",	  " 5",
					  "5 ", "5ms",	   "1e3", "0x10", "99999999999999999999",
					  "abc"};
	char err[256], want[160];
	int ms;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (good[i].v)
			setenv("FAAS_CONTROLLER_TIMEOUT_MS", good[i].v, 1);
		else
			unsetenv("FAAS_CONTROLLER_TIMEOUT_MS");
		ms = -1;
		assert_int_equal(ctl_timeout_from_env(&ms, err, sizeof(err)), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("FAAS_CONTROLLER_TIMEOUT_MS", bad[i], 1);
		ms = -1;
		assert_int_equal(ctl_timeout_from_env(&ms, err, sizeof(err)), -EINVAL);
		assert_int_equal(ms, -1);
		snprintf(want, sizeof(want),
			 "FAAS_CONTROLLER_TIMEOUT_MS=%s: expected a whole number of milliseconds "
			 "from 1 to 3600000 (unset: 30000)",
			 bad[i]);
		assert_string_equal(err, want);
	}
	unsetenv("FAAS_CONTROLLER_TIMEOUT_MS");
}

/* ---- a kept connection and its session ---------------------------------------------------- */

/* A controller that serves several requests on one connection, as colocd
 * does: the first node_state must propose a session key, the next ones
 * carry session credentials under it, a growing counter each. */
struct kept_server {
	struct fake *f;
	int served, sessions, refuse_session; /* refuse_session: answer EACCES to the n-th */
	int stale; /* answer ESTALE to the n-th (taking its credential), 0: none */
	uint8_t key[CRED_KEY_LEN];
	uint64_t counter;
	char why[256];
};

static void *kept_serve(void *arg)
{
	struct kept_server *k = arg;
	static const struct cred_opts none = {.none = true};
	int fd = accept(k->f->lfd, NULL, NULL);

	for (int i = 0; fd >= 0 && i < 4; i++) {
		struct msg req, reply = {.type = MSG_OK};
		char *text = NULL, err[256] = "";
		struct cred_id who;
		uint64_t c = 0;
		size_t len;

		if (frame_recv(fd, &text, &len, 5000) != 0 || msg_decode(text, &req, err, 256)) {
			free(text);
			break;
		}
		free(text);
		text = NULL;
		if (auth_is_session(req.cred)) {
			if (k->refuse_session == i ||
			    auth_session_check(k->key, k->counter, &req, AUTH_DEST_CONTROLLER, &c,
					       err, sizeof(err)) != 0) {
				msg_error(&reply, "EACCES", "session refused");
			} else {
				k->counter = c;
				k->sessions++;
			}
		} else if (auth_check(&none, &req, AUTH_DEST_CONTROLLER, NULL, &who, err,
				      sizeof(err)) != 0 ||
			   !who.b.has_key) {
			snprintf(k->why, sizeof(k->why), "request %d: %s (no key?)", i, err);
		} else {
			memcpy(k->key, who.b.key, sizeof(k->key));
			k->counter = 0;
		}
		if (k->stale == i + 1)
			msg_error(&reply, "ESTALE", "send the whole node_state");
		k->served++;
		msg_free(&req);
		if (msg_encode(&reply, &text) == 0)
			frame_send(fd, text, strlen(text), 1000);
		free(text);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Node n1's agent sends reports of types[0..n-1] (node_state or heartbeat,
 * generation 7) on one kept connection, with a session, to k; got[i] is
 * the i-th reply's type, or its error code. */
static void kept_reports(struct kept_server *k, const enum msg_type *types, int n,
			 struct ctl_session *s, char (*got)[32])
{
	struct coloc_config cfg;
	pthread_t t;
	int fd = -1;

	fake_config(&cfg, "127.0.0.1", k->f->port);
	assert_int_equal(pthread_create(&t, NULL, kept_serve, k), 0);
	for (int i = 0; i < n; i++) {
		struct msg m = {.type = types[i]}, reply;
		char err[512] = "";

		snprintf(m.u.node.node, sizeof(m.u.node.node), "n1");
		m.u.node.port = 864;
		m.u.node.gen = 7;
		snprintf(m.u.node.pus, sizeof(m.u.node.pus), "0-7");
		snprintf(m.u.node.cgroup, sizeof(m.u.node.cgroup), "/coloc");
		if (ctl_request_kept(&cfg, "127.0.0.1", k->f->port, "ControllerPort",
				     AUTH_DEST_CONTROLLER, &fd, s, &m, &reply, 5000, err,
				     sizeof(err)) != 0)
			fail_msg("a kept %s: %s", msg_type_name(types[i]), err);
		assert_true(fd >= 0); /* one connection for them all */
		snprintf(got[i], sizeof(got[i]), "%s",
			 reply.type == MSG_ERROR ? reply.u.error.code : msg_type_name(reply.type));
		msg_free(&reply);
	}
	close(fd);
	pthread_join(t, NULL);
	if (k->why[0])
		fail_msg("%s", k->why);
}

static void test_kept_session(void **state)
{
	static const enum msg_type types[] = {MSG_NODE_STATE, MSG_NODE_STATE, MSG_NODE_STATE};
	struct kept_server k = {.f = *state, .refuse_session = 2};
	struct ctl_session s = {0};
	char got[3][32];

	kept_reports(&k, types, 3, &s, got);
	for (int i = 0; i < 3; i++)
		assert_string_equal(got[i], "ok");
	/* a proposal, a session request, one refused (then a new proposal) */
	assert_int_equal(k.served, 4);
	assert_int_equal(k.sessions, 1);
	assert_true(s.on);
}

/* A node agent's heartbeat goes on the session too; one that proposes the
 * key and is answered ESTALE (the controller took the credential, not the
 * heartbeat) still starts the session. */
static void test_kept_heartbeat(void **state)
{
	static const enum msg_type types[] = {MSG_HEARTBEAT, MSG_NODE_STATE, MSG_HEARTBEAT};
	struct kept_server k = {.f = *state, .refuse_session = -1, .stale = 1};
	struct ctl_session s = {0};
	char got[3][32];

	kept_reports(&k, types, 3, &s, got);
	assert_string_equal(got[0], "ESTALE");
	assert_string_equal(got[1], "ok");
	assert_string_equal(got[2], "ok");
	assert_true(s.on);
	/* the proposal, then two on the session: no new proposal */
	assert_int_equal(k.served, 3);
	assert_int_equal(k.sessions, 2);
}

/* ---- a query's pages -------------------------------------------------------------------- */

/* A controller answering a nodes query in three pages (next 3, 5, none):
 * streamed on one connection, or, as an older controller, refusing
 * "stream" and answering one request per page. */
struct pages_server {
	struct fake *f;
	bool old; /* refuses stream */
	int connections, requests;
	bool streamed;	  /* the first request asked for a stream */
	uint64_t from[4]; /* each request's */
	char why[256];
};

static void send_page(int fd, uint64_t from)
{
	struct msg m = {.type = MSG_RESULT, .u.result.what = MSG_QUERY_NODES};
	union msg_row *row = msg_result_add(&m);
	char *text = NULL;

	assert_non_null(row);
	snprintf(row->node.name, sizeof(row->node.name), "n%llu", (unsigned long long)from);
	snprintf(row->node.state, sizeof(row->node.state), "up");
	m.u.result.next = from == 0 ? 3 : from == 3 ? 5 : 0;
	if (msg_encode(&m, &text) == 0)
		frame_send(fd, text, strlen(text), 1000);
	free(text);
	msg_free(&m);
}

static void *pages_serve(void *arg)
{
	struct pages_server *p = arg;

	while (p->requests < (p->old ? 4 : 1)) {
		int fd = accept(p->f->lfd, NULL, NULL);
		struct msg req;
		char *text = NULL, err[256] = "";
		size_t len;

		if (fd < 0)
			break;
		p->connections++;
		if (frame_recv(fd, &text, &len, 5000) != 0 ||
		    msg_decode(text, &req, err, sizeof(err)) != 0) {
			snprintf(p->why, sizeof(p->why), "request %d: %s", p->requests, err);
			free(text);
			close(fd);
			break;
		}
		free(text);
		if (p->requests == 0)
			p->streamed = req.filter.stream;
		p->from[p->requests++] = req.filter.from;
		if (p->old && req.filter.stream) {
			struct msg e;

			msg_error(&e, "EPROTO", "query message: unknown field \"stream\"");
			if (msg_encode(&e, &text) == 0)
				frame_send(fd, text, strlen(text), 1000);
			free(text);
		} else if (req.filter.stream) {
			for (uint64_t from = 0;;) {
				send_page(fd, from);
				if (from == 5)
					break;
				from = from == 0 ? 3 : 5;
			}
		} else {
			send_page(fd, req.filter.from);
		}
		close(fd);
	}
	return NULL;
}

static int count_pages(void *arg, const struct msg *page)
{
	char(*names)[MSG_NODE_MAX] = arg;
	int i = 0;

	if (page->type != MSG_RESULT || page->u.result.nrows != 1)
		return 1;
	while (names[i][0])
		i++;
	snprintf(names[i], sizeof(names[i]), "%s", page->u.result.rows[0].node.name);
	return 0;
}

/* Every page of a query in one request on one connection; from an older
 * controller, that refuses "stream", page by page. */
static void test_query_pages(void **state)
{
	for (int old = 0; old < 2; old++) {
		struct pages_server p = {.f = *state, .old = old};
		struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_NODES};
		char names[4][MSG_NODE_MAX] = {{0}}, err[512] = "";
		struct coloc_config cfg;
		pthread_t t;

		fake_config(&cfg, "127.0.0.1", p.f->port);
		assert_int_equal(pthread_create(&t, NULL, pages_serve, &p), 0);
		if (ctl_query_pages(&cfg, &req, 5000, count_pages, names, err, sizeof(err)) != 0)
			fail_msg("%s", err);
		pthread_join(t, NULL);
		if (p.why[0])
			fail_msg("%s", p.why);
		assert_string_equal(names[0], "n0");
		assert_string_equal(names[1], "n3");
		assert_string_equal(names[2], "n5");
		assert_string_equal(names[3], "");
		assert_true(p.streamed);
		assert_int_equal(p.connections, old ? 4 : 1);
		if (old) { /* then from 0, 3 and 5, a request each */
			assert_int_equal(p.from[1], 0);
			assert_int_equal(p.from[2], 3);
			assert_int_equal(p.from[3], 5);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_acquire_grant, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_kept_session, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_kept_heartbeat, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_query_result, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_query_pages, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_release_ok, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_error_reply, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_refused, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_refused_ipv6, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_silent_server, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_json, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_bytes, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_closed_without_answer, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_no_credential, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_forged_grants, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_grant_to_report, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_lease_acquire, fake_setup, fake_teardown),
	    cmocka_unit_test(test_lease_acquire_rules),
	    cmocka_unit_test_setup_teardown(test_lease_acquire_refused, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_lease_release, fake_setup, fake_teardown),
	    cmocka_unit_test(test_timeout_env),
	};

	return cmocka_run_group_tests_name("ctl_client", tests, NULL, NULL);
}
