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
 * address within the timeout.
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
#include "msg.h"

/* ---- the fake controller --------------------------------------------------- */

enum fake_mode { FAKE_REPLY, FAKE_SILENT, FAKE_BAD_JSON, FAKE_BAD_BYTES, FAKE_CLOSE };

/* How the fake signs a lease_grant it answers with. */
enum fake_grant {
	GRANT_ROOT,	     /* as colocd: root's credential, bound to it and the request */
	GRANT_UNSIGNED,	     /* no credential */
	GRANT_USER,	     /* bound right, but a user's (uid 1000) */
	GRANT_OTHER_REQUEST, /* root's, bound to another request's nonce */
	GRANT_REQUEST_CRED,  /* the request's own credential, sent back */
	GRANT_OTHER_LEASE,   /* root's for another lease document, sent with this one */
};

struct fake {
	int lfd;
	uint16_t port;
	pthread_t thread;
	enum fake_mode mode;
	enum fake_grant grant;
	struct msg reply; /* FAKE_REPLY: what to answer */
	int got_rc;	  /* msg_decode of the request, -1 if none arrived */
	struct msg got;
};

/* Signs f->reply, a lease_grant, as f->grant says, for the request f->got. */
static void fake_sign(struct fake *f)
{
	struct cred_opts as = {.none = true, .claim = true};
	struct cred_opts plain = {.none = true};
	uint8_t nonce[MSG_NONCE_LEN];
	struct cred_id req;
	char err[256];
	char *lease;

	if (f->reply.type != MSG_LEASE_GRANT || f->grant == GRANT_UNSIGNED ||
	    cred_decode(&plain, f->got.cred, &req, err, sizeof(err)) != 0)
		return;
	memcpy(nonce, req.b.nonce, sizeof(nonce));
	switch (f->grant) {
	case GRANT_USER:
		as.uid = as.gid = 1000;
		break;
	case GRANT_OTHER_REQUEST:
		nonce[0] ^= 1;
		break;
	case GRANT_REQUEST_CRED:
		memcpy(f->reply.cred, f->got.cred, sizeof(f->reply.cred));
		return;
	case GRANT_OTHER_LEASE:
		lease = f->reply.u.grant.lease;
		f->reply.u.grant.lease = strdup("{\"v\":1,\"id\":\"L1\",\"token\":\"another\"}");
		auth_sign(&as, &f->reply, AUTH_DEST_REPLY, nonce, NULL, err, sizeof(err));
		free(f->reply.u.grant.lease);
		f->reply.u.grant.lease = lease;
		return;
	default:
		break;
	}
	auth_sign(&as, &f->reply, AUTH_DEST_REPLY, nonce, NULL, err, sizeof(err));
}

static void *fake_serve(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = {.fd = f->lfd, .events = POLLIN};
	char *text = NULL, *answer = NULL, err[256], buf[64];
	size_t len;
	int fd;

	f->got_rc = -1;
	if (poll(&p, 1, 5000) != 1)
		return NULL;
	fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (frame_recv(fd, &text, &len, 5000) == 0)
		f->got_rc = msg_decode(text, &f->got, err, sizeof(err));
	free(text);
	switch (f->mode) {
	case FAKE_REPLY:
		if (f->got_rc == 0)
			fake_sign(f);
		if (msg_encode(&f->reply, &answer) == 0)
			frame_send(fd, answer, strlen(answer), 5000);
		free(answer);
		break;
	case FAKE_SILENT: {
		/* Hold the connection until the client gives up and closes it. */
		struct pollfd q = {.fd = fd, .events = POLLIN};

		while (poll(&q, 1, 10000) == 1 && recv(fd, buf, sizeof(buf), 0) > 0)
			;
		break;
	}
	case FAKE_BAD_JSON:
		frame_send(fd, "this is not {json", 17, 5000);
		break;
	case FAKE_BAD_BYTES:
		/* An HTTP server on the controller's port: its first 4 bytes
		 * read as a length far above FRAME_MAX. */
		(void)!write(fd, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
		break;
	case FAKE_CLOSE:
		break;
	}
	close(fd);
	return NULL;
}

static int fake_listen(struct fake *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);

	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(f->lfd, 4) != 0 || getsockname(f->lfd, (struct sockaddr *)&a, &al) != 0)
		return -1;
	f->port = ntohs(a.sin_port);
	return 0;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f || fake_listen(f) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	msg_free(&f->got);
	msg_free(&f->reply);
	close(f->lfd);
	free(f);
	return 0;
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
	f->mode = mode;
	assert_int_equal(pthread_create(&f->thread, NULL, fake_serve, f), 0);
}

static void fake_join(struct fake *f)
{
	assert_int_equal(pthread_join(f->thread, NULL), 0);
}

static void config_for(struct coloc_config *cfg, const char *host, uint16_t port)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->controller_host, sizeof(cfg->controller_host), "%s", host);
	cfg->controller_port = port;
	cfg->auth = COLOC_AUTH_NONE;
}

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
	config_for(&cfg, "127.0.0.1", f->port);
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
	config_for(&cfg, "127.0.0.1", f->port);
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
	config_for(&cfg, "127.0.0.1", f->port);
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
	config_for(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), 0);
	fake_join(f);
	assert_int_equal(reply.type, MSG_ERROR);
	assert_string_equal(reply.u.error.code, "ENOSPC");
	assert_string_equal(reply.u.error.message, "only 2 cores are idle; ask for fewer workers");
}

/* A port nobody listens on: bound, then closed. */
static uint16_t closed_port(int family, const char *addr)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint16_t port = 0;

	if (fd < 0)
		return 0;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &a->sin_addr);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &a->sin6_addr);
		sl = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					       : ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return port;
}

static void test_refused(void **state)
{
	struct coloc_config cfg;
	struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_GAPS}, reply;
	char err[512] = "", want[64];
	uint16_t port = closed_port(AF_INET, "127.0.0.1");
	int64_t t0;

	(void)state;
	assert_int_not_equal(port, 0);
	config_for(&cfg, "127.0.0.1", port);
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
	uint16_t port = closed_port(AF_INET6, "::1");

	(void)state;
	if (!port)
		skip(); /* no IPv6 loopback here */
	config_for(&cfg, "::1", port);
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

	config_for(&cfg, "127.0.0.1", f->port);
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

	config_for(&cfg, "127.0.0.1", f->port);
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

	config_for(&cfg, "127.0.0.1", f->port);
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

	config_for(&cfg, "127.0.0.1", f->port);
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
	config_for(&cfg, "127.0.0.1", closed_port(AF_INET, "127.0.0.1"));
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
		config_for(&cfg, "127.0.0.1", f->port);
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
	config_for(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), -EACCES);
	fake_join(f);
	assert_non_null(strstr(err, "never granted a lease"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_acquire_grant, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_result, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_release_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_ipv6, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_silent_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_closed_without_answer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_credential, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forged_grants, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grant_to_report, setup, teardown),
	};

	return cmocka_run_group_tests_name("ctl_client", tests, NULL, NULL);
}
