/*
 * colocd_send: sends one control message (JSON text, argv) to colocd over
 * TCP or its unix socket and prints the reply, for the integration tests.
 * With --lease-out FILE, a lease_grant's lease document is written to FILE
 * (what FAAS_LEASE takes); with --extra TEXT, TEXT follows the frame on the
 * connection (bytes colocd must not read); with --source ADDR, the TCP
 * connection comes from ADDR (any of 127.0.0.0/8 on lo).
 *
 * Credentials: a message whose "cred" is "none:UID:GID" is sent with an
 * AuthType=none credential claiming that uid, bound to the message and to
 * DEST (--to; "controller" unless given, "agent:NODE" for a node agent); a
 * "cred" of "munge" gets the caller's own MUNGE credential (--munge names
 * munged's socket). --raw sends the text as it is. --repeat N sends the
 * same frame N times, one connection each, printing every reply (a
 * replayed credential is refused from the second on).
 *
 * Usage: colocd_send (--tcp PORT | --unix PATH) [--source ADDR] [--to DEST]
 *                    [--munge SOCKET] [--raw] [--repeat N] [--lease-out FILE]
 *                    [--extra TEXT] JSON
 * Exit: 0 reply ok/grant/result, 3 an error reply (printed), 1 no reply;
 * with --repeat, the last reply's.
 *
 * Two peers that misbehave, for tests/integration/flood.sh; both end by
 * themselves after SEC seconds:
 *   --flood N --seconds SEC: keeps N idle TCP connections open, opening
 *     again (at most 20 every 10 ms) those colocd closes; prints
 *     "flood: N connections for SEC s: C connects, K closed by colocd".
 *   --slowloris --seconds SEC: announces a 1000-byte frame and sends one
 *     byte of it every 500 ms; prints "slowloris: closed by colocd after
 *     MS ms, B bytes sent" and exits 0, or exits 1 if still open at SEC.
 */
#include "config.h"

#include "auth.h"
#include "clock.h"
#include "frame.h"
#include "msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A TCP socket to 127.0.0.1:port from source (NULL: any); nonblock: the
 * connect may still be under way. The fd, or -1. */
static int tcp_socket(const char *port, const char *source, bool nonblock)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -1;
	if (source) {
		struct sockaddr_in b = {.sin_family = AF_INET};

		if (inet_pton(AF_INET, source, &b.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&b, sizeof(b)) != 0) {
			close(fd);
			return -1;
		}
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ||
	    (nonblock && errno == EINPROGRESS))
		return fd;
	close(fd);
	return -1;
}

static int connect_to(const char *tcp, const char *path, const char *source)
{
	int fd;

	if (path) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
		fd = -1;
	} else {
		fd = tcp_socket(tcp, source, false);
	}
	if (fd < 0)
		perror("colocd_send: connect");
	return fd;
}

#define FLOOD_MAX 4096

static int flood(const char *port, const char *source, int n, int seconds)
{
	static struct pollfd p[FLOOD_MAX];
	int64_t end = clock_ms() + seconds * 1000;
	unsigned long connects = 0, closed = 0;
	char buf[256];

	if (n < 1 || n > FLOOD_MAX)
		return 2;
	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){.fd = -1, .events = POLLIN};
	while (clock_ms() < end) {
		int64_t next = clock_ms() + 10; /* at most 20 connects per 10 ms */
		int opened = 0;

		for (int i = 0; i < n && opened < 20; i++) {
			if (p[i].fd >= 0)
				continue;
			p[i].fd = tcp_socket(port, source, true);
			opened++;
			connects += p[i].fd >= 0;
		}
		if (poll(p, (nfds_t)n, 10) <= 0)
			continue;
		if (clock_ms() < next)
			clock_sleep_ms((unsigned)(next - clock_ms()));
		for (int i = 0; i < n; i++) {
			ssize_t got;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			got = recv(p[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (got > 0 || (got < 0 && errno == EAGAIN))
				continue;
			close(p[i].fd);
			p[i].fd = -1;
			closed++;
		}
	}
	printf("flood: %d connections for %d s: %lu connects, %lu closed by colocd\n", n, seconds,
	       connects, closed);
	return 0;
}

static int slowloris(const char *port, const char *source, int seconds)
{
	const uint8_t head[4] = {0, 0, 0x03, 0xe8}; /* 1000 bytes, never all sent */
	int64_t start = clock_ms(), end = start + seconds * 1000;
	int fd = tcp_socket(port, source, false), sent = 0;

	if (fd < 0 || send(fd, head, sizeof(head), MSG_NOSIGNAL) != sizeof(head)) {
		perror("colocd_send: slowloris");
		return 2;
	}
	while (clock_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char b;

		if (poll(&p, 1, 500) > 0 && recv(fd, &b, 1, MSG_DONTWAIT) <= 0)
			break; /* closed (end of file or reset) */
		if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
			break;
		sent++;
	}
	close(fd);
	if (clock_ms() >= end) {
		printf("slowloris: still open after %d s, %d bytes sent\n", seconds, sent);
		return 1;
	}
	printf("slowloris: closed by colocd after %ld ms, %d bytes sent\n",
	       (long)(clock_ms() - start), sent + 4);
	return 0;
}

/* json with its placeholder credential ("none:UID:GID" or "munge")
 * replaced by one bound to it and dest (malloc'd text), or a copy of json
 * when it has none or does not decode (a test of bad input). NULL on
 * failure, said on stderr. */
static char *signed_text(const char *json, const char *dest, const char *munge)
{
	struct cred_opts o = {.socket = munge};
	char err[512] = "", *text = NULL;
	unsigned uid, gid;
	struct msg m;
	int used = 0;

	if (msg_decode(json, &m, err, sizeof(err)) != 0)
		return strdup(json);
	if (sscanf(m.cred, "none:%u:%u%n", &uid, &gid, &used) == 2 && !m.cred[used])
		o = (struct cred_opts){.none = true, .claim = true, .uid = uid, .gid = gid};
	else if (strcmp(m.cred, "munge") != 0) {
		msg_free(&m);
		return strdup(json);
	}
	if (auth_sign(&o, &m, dest, NULL, NULL, err, sizeof(err)) != 0 ||
	    msg_encode(&m, &text) != 0) {
		fprintf(stderr, "colocd_send: cannot sign the message: %s\n", err);
		text = NULL;
	}
	msg_free(&m);
	return text;
}

/* Sends text once (extra after it) and prints the reply: 0, 3 (an error
 * reply) or 1. */
static int send_once(const char *tcp, const char *path, const char *source, const char *text,
		     const char *extra, const char *lease_out)
{
	char *reply = NULL, err[512] = "";
	struct msg m;
	size_t len;
	int fd, rc;

	fd = connect_to(tcp, path, source);
	if (fd < 0)
		return 1;
	rc = frame_send(fd, text, strlen(text), 5000);
	if (rc == 0 && extra && send(fd, extra, strlen(extra), MSG_NOSIGNAL) < 0)
		rc = -errno;
	if (rc == 0)
		rc = frame_recv(fd, &reply, &len, 30000);
	close(fd);
	if (rc) {
		fprintf(stderr, "colocd_send: no reply: %s\n", strerror(-rc));
		return 1;
	}
	printf("%s\n", reply);
	rc = msg_decode(reply, &m, err, sizeof(err));
	free(reply);
	if (rc) {
		fprintf(stderr, "colocd_send: malformed reply: %s\n", err);
		return 1;
	}
	if (m.type == MSG_LEASE_GRANT && lease_out) {
		FILE *f = fopen(lease_out, "w");

		if (!f || fprintf(f, "%s\n", m.u.grant.lease) < 0 || fclose(f) != 0) {
			perror("colocd_send: lease-out");
			return 1;
		}
	}
	rc = m.type == MSG_ERROR ? 3 : 0;
	msg_free(&m);
	return rc;
}

int main(int argc, char **argv)
{
	const char *tcp = NULL, *path = NULL, *lease_out = NULL, *json = NULL, *source = NULL;
	const char *extra = NULL, *dest = AUTH_DEST_CONTROLLER, *munge = NULL;
	int rc = 1, flood_n = 0, seconds = 0, repeat = 1;
	bool loris = false, raw = false;
	char *text;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tcp") == 0 && i + 1 < argc)
			tcp = argv[++i];
		else if (strcmp(argv[i], "--unix") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--lease-out") == 0 && i + 1 < argc)
			lease_out = argv[++i];
		else if (strcmp(argv[i], "--source") == 0 && i + 1 < argc)
			source = argv[++i];
		else if (strcmp(argv[i], "--extra") == 0 && i + 1 < argc)
			extra = argv[++i];
		else if (strcmp(argv[i], "--flood") == 0 && i + 1 < argc)
			flood_n = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--slowloris") == 0)
			loris = true;
		else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			dest = argv[++i];
		else if (strcmp(argv[i], "--munge") == 0 && i + 1 < argc)
			munge = argv[++i];
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (strcmp(argv[i], "--raw") == 0)
			raw = true;
		else
			json = argv[i];
	}
	if (tcp && (flood_n || loris) && seconds > 0 && seconds <= 600)
		return loris ? slowloris(tcp, source, seconds)
			     : flood(tcp, source, flood_n, seconds);
	if ((!tcp == !path) || !json || repeat < 1) {
		fprintf(stderr,
			"usage: colocd_send (--tcp PORT | --unix PATH) [--source ADDR] [--to DEST] "
			"[--munge SOCKET] [--raw] [--repeat N] [--lease-out FILE] [--extra TEXT] "
			"JSON\n"
			"       colocd_send --tcp PORT [--source ADDR] (--flood N | --slowloris) "
			"--seconds SEC\n");
		return 2;
	}
	text = raw ? strdup(json) : signed_text(json, dest, munge);
	if (!text)
		return 1;
	for (int i = 0; i < repeat; i++)
		rc = send_once(tcp, path, source, text, extra, lease_out);
	free(text);
	return rc;
}
