/*
 * test_ctl_client: the controller's client against a fake controller, a
 * thread listening on 127.0.0.1 that reads one real frame, decodes it and
 * answers as each test tells it (a reply, silence, garbage, a close). The
 * credential module is faked at its boundary (cred_create below). Checks
 * what colocctl, libfaas and the plugin rely on: the request arrives whole
 * with a credential, every kind of reply comes back, and every failure
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

#include "clock.h"
#include "cred.h"
#include "ctl_client.h"
#include "frame.h"
#include "msg.h"

/* ---- the fake credential module ------------------------------------------ */

static int cred_calls;
static bool cred_saw_none;
static bool cred_fail;

void cred_opts_from_config(struct cred_opts *o, const struct coloc_config *c)
{
	*o = (struct cred_opts){.none = c->auth == COLOC_AUTH_NONE};
}

int cred_create(const struct cred_opts *o, char **cred, char *err, size_t errlen)
{
	cred_calls++;
	cred_saw_none = o->none;
	if (cred_fail) {
		snprintf(err, errlen, "fake: munged is not running");
		return -EIO;
	}
	return asprintf(cred, "none:%u:%u", (unsigned)getuid(), (unsigned)getgid()) < 0 ? -ENOMEM
											: 0;
}

/* ---- the fake controller --------------------------------------------------- */

enum fake_mode { FAKE_REPLY, FAKE_SILENT, FAKE_BAD_JSON, FAKE_BAD_BYTES, FAKE_CLOSE };

struct fake {
	int lfd;
	uint16_t port;
	pthread_t thread;
	enum fake_mode mode;
	struct msg reply; /* FAKE_REPLY: what to answer */
	int got_rc;	  /* msg_decode of the request, -1 if none arrived */
	struct msg got;
};

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
	cred_calls = 0;
	cred_saw_none = false;
	cred_fail = false;
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

static void expect_own_cred(const char *cred)
{
	char want[64];

	snprintf(want, sizeof(want), "none:%u:%u", (unsigned)getuid(), (unsigned)getgid());
	assert_string_equal(cred, want);
	assert_int_equal(cred_calls, 1);
	assert_true(cred_saw_none);
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
	expect_own_cred(f->got.cred);
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
	static const char items[] = "[{\"id\":\"L1\",\"uid\":1000},{\"id\":\"L2\",\"uid\":0}]";
	struct fake *f = *state;
	struct coloc_config cfg;
	struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_LEASES}, reply;
	char err[512] = "";

	f->reply.type = MSG_RESULT;
	f->reply.u.result.what = MSG_QUERY_LEASES;
	f->reply.u.result.items = strdup(items);
	config_for(&cfg, "127.0.0.1", f->port);
	fake_start(f, FAKE_REPLY);
	assert_int_equal(ctl_request(&cfg, &req, &reply, 5000, err, sizeof(err)), 0);
	fake_join(f);
	assert_int_equal(f->got_rc, 0);
	assert_int_equal(f->got.type, MSG_QUERY);
	assert_int_equal(f->got.u.query, MSG_QUERY_LEASES);
	expect_own_cred(f->got.cred);
	assert_int_equal(reply.type, MSG_RESULT);
	assert_int_equal(reply.u.result.what, MSG_QUERY_LEASES);
	assert_string_equal(reply.u.result.items, items);
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
	expect_own_cred(f->got.cred);
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
	assert_null(reply.u.result.items);
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
	cred_fail = true;
	assert_int_equal(ctl_request(&cfg, &req, &reply, 2000, err, sizeof(err)), -EIO);
	assert_false(cred_saw_none);
	assert_string_equal(err, "fake: munged is not running");
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
	};

	return cmocka_run_group_tests_name("ctl_client", tests, NULL, NULL);
}
