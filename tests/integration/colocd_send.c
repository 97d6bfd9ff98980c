/*
 * colocd_send: sends one control message (JSON text, argv) to colocd over
 * TCP or its unix socket and prints the reply, for tests/integration/
 * colocd.sh. With --lease-out FILE, a lease_grant's lease document is
 * written to FILE (what FAAS_LEASE takes).
 * Usage: colocd_send (--tcp PORT | --unix PATH) [--lease-out FILE] JSON
 * Exit: 0 reply ok/grant/result, 3 an error reply (printed), 1 no reply.
 */
#include "config.h"

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

int main(int argc, char **argv)
{
	const char *tcp = NULL, *path = NULL, *lease_out = NULL, *json = NULL;
	char *reply = NULL, err[512] = "";
	struct msg m;
	size_t len;
	int fd, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tcp") == 0 && i + 1 < argc)
			tcp = argv[++i];
		else if (strcmp(argv[i], "--unix") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--lease-out") == 0 && i + 1 < argc)
			lease_out = argv[++i];
		else
			json = argv[i];
	}
	if ((!tcp == !path) || !json) {
		fprintf(stderr, "usage: colocd_send (--tcp PORT | --unix PATH) [--lease-out FILE] "
				"JSON\n");
		return 2;
	}
	fd = connect_to(tcp, path);
	if (fd < 0)
		return 1;
	rc = frame_send(fd, json, strlen(json), 5000);
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
