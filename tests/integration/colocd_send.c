/*
 * colocd_send: sends one control message (JSON text, argv) to colocd over
 * TCP or its unix socket and prints the reply, for tests/integration/
 * colocd.sh. With --lease-out FILE, a lease_grant's lease document is
 * written to FILE (what FAAS_LEASE takes).
 *
 * Credentials: a message whose "cred" is "none:UID:GID" is sent with an
 * AuthType=none credential claiming that uid, bound to the message and to
 * DEST (--to; "controller" unless given, "agent:NODE" for a node agent); a
 * "cred" of "munge" gets the caller's own MUNGE credential (--munge names
 * munged's socket). --raw sends the text as it is. --repeat N sends the
 * same frame N times, one connection each, printing every reply (a
 * replayed credential is refused from the second on).
 *
 * Usage: colocd_send (--tcp PORT | --unix PATH) [--to DEST] [--munge SOCKET]
 *                    [--raw] [--repeat N] [--lease-out FILE] JSON
 * Exit: 0 reply ok/grant/result, 3 an error reply (printed), 1 no reply;
 * with --repeat, the last reply's.
 */
#include "config.h"

#include "auth.h"
#include "frame.h"
#include "msg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int connect_to(const char *tcp, const char *path)
{
	int fd = socket(path ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (path) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)atoi(tcp))};

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
	}
	perror("colocd_send: connect");
	close(fd);
	return -1;
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

/* Sends text once and prints the reply: 0, 3 (an error reply) or 1. */
static int send_once(const char *tcp, const char *path, const char *text, const char *lease_out)
{
	char *reply = NULL, err[512] = "";
	struct msg m;
	size_t len;
	int fd, rc;

	fd = connect_to(tcp, path);
	if (fd < 0)
		return 1;
	rc = frame_send(fd, text, strlen(text), 5000);
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
	const char *tcp = NULL, *path = NULL, *lease_out = NULL, *json = NULL;
	const char *dest = AUTH_DEST_CONTROLLER, *munge = NULL;
	int repeat = 1, raw = 0, rc = 1;
	char *text;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tcp") == 0 && i + 1 < argc)
			tcp = argv[++i];
		else if (strcmp(argv[i], "--unix") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--lease-out") == 0 && i + 1 < argc)
			lease_out = argv[++i];
		else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			dest = argv[++i];
		else if (strcmp(argv[i], "--munge") == 0 && i + 1 < argc)
			munge = argv[++i];
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (strcmp(argv[i], "--raw") == 0)
			raw = 1;
		else
			json = argv[i];
	}
	if ((!tcp == !path) || !json || repeat < 1) {
		fprintf(stderr, "usage: colocd_send (--tcp PORT | --unix PATH) [--to DEST] "
				"[--munge SOCKET] [--raw] [--repeat N] [--lease-out FILE] JSON\n");
		return 2;
	}
	text = raw ? strdup(json) : signed_text(json, dest, munge);
	if (!text)
		return 1;
	for (int i = 0; i < repeat; i++)
		rc = send_once(tcp, path, text, lease_out);
	free(text);
	return rc;
}
