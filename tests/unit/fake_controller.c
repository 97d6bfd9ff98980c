/*
 * fake_controller: see fake_controller.h. The serving thread owns the
 * struct fake between fake_start and fake_join; the test, before and
 * after.
 */
#include "config.h"

#include "fake_controller.h"

#include "auth.h"
#include "cred.h"
#include "frame.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

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

int fake_setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f || fake_listen(f) != 0)
		return -1;
	*state = f;
	return 0;
}

int fake_teardown(void **state)
{
	struct fake *f = *state;

	msg_free(&f->got);
	msg_free(&f->reply);
	close(f->lfd);
	free(f);
	return 0;
}

void fake_start(struct fake *f, enum fake_mode mode)
{
	f->mode = mode;
	assert_int_equal(pthread_create(&f->thread, NULL, fake_serve, f), 0);
}

void fake_join(struct fake *f)
{
	assert_int_equal(pthread_join(f->thread, NULL), 0);
}

void fake_answer(struct fake *f, const struct msg *reply)
{
	msg_free(&f->got);
	msg_free(&f->reply);
	f->reply = *reply;
	f->grant = GRANT_ROOT;
}

void fake_config(struct coloc_config *cfg, const char *host, uint16_t port)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->controller_host, sizeof(cfg->controller_host), "%s", host);
	cfg->controller_port = port;
	cfg->auth = COLOC_AUTH_NONE;
}

uint16_t fake_closed_port(int family, const char *addr)
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
