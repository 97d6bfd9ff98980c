/*
 * cred_check: common/cred.c against a real munged (started by cred.sh on a
 * private socket with its own key). TAP. Checks what the controller relies
 * on: a credential proves the caller's uid and gid; a replayed, forged or
 * expired one is refused; AuthType=none round trips but is refused by a
 * MUNGE verifier; a dead munged gives an error that names munged.
 * Usage: cred_check SOCKET
 */
#include "config.h"

#include "cred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned n, failed;

static void check(int ok, const char *what, const char *err)
{
	n++;
	if (ok) {
		printf("ok %u - %s\n", n, what);
	} else {
		failed++;
		printf("not ok %u - %s # %s\n", n, what, err && *err ? err : "");
	}
}

int main(int argc, char **argv)
{
	struct cred_opts munge = {.socket = argc > 1 ? argv[1] : NULL};
	struct cred_opts none = {.none = true};
	struct cred_opts dead = {.socket = "/nonexistent/munge.socket"};
	struct cred_opts short_ttl = munge;
	uint32_t uid = 99, gid = 99;
	char err[512] = "", *c = NULL;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: cred_check SOCKET\n");
		return 2;
	}
	rc = cred_create(&munge, &c, err, sizeof(err));
	check(rc == 0 && c, "munged issues a credential", err);
	rc = c ? cred_verify(&munge, c, &uid, &gid, err, sizeof(err)) : -1;
	check(rc == 0 && uid == getuid() && gid == getgid(),
	      "the credential proves the caller's uid and gid", err);
	err[0] = '\0';
	rc = c ? cred_verify(&munge, c, &uid, &gid, err, sizeof(err)) : 0;
	check(rc != 0 && strstr(err, "eplayed"), "a replayed credential is refused", err);
	free(c);
	c = NULL;

	cred_create(&munge, &c, err, sizeof(err));
	if (c && strlen(c) > 40)
		c[30] = c[30] == 'A' ? 'B' : 'A';
	err[0] = '\0';
	rc = c ? cred_verify(&munge, c, &uid, &gid, err, sizeof(err)) : 0;
	check(rc != 0 && *err, "a forged (altered) credential is refused", err);
	free(c);
	c = NULL;

	short_ttl.ttl_s = 1;
	cred_create(&short_ttl, &c, err, sizeof(err));
	sleep(3);
	err[0] = '\0';
	rc = c ? cred_verify(&munge, c, &uid, &gid, err, sizeof(err)) : 0;
	check(rc != 0 && strstr(err, "xpired"), "an expired credential is refused", err);
	free(c);
	c = NULL;

	rc = cred_create(&none, &c, err, sizeof(err));
	uid = gid = 99;
	rc = rc ? rc : cred_verify(&none, c, &uid, &gid, err, sizeof(err));
	check(rc == 0 && uid == getuid() && gid == getgid(), "AuthType=none round trips", err);
	err[0] = '\0';
	rc = c ? cred_verify(&munge, c, &uid, &gid, err, sizeof(err)) : 0;
	check(rc != 0 && strstr(err, "AuthType"),
	      "an AuthType=none credential is refused by a MUNGE verifier", err);
	free(c);
	c = NULL;
	err[0] = '\0';
	rc = cred_verify(&none, "none:12x", &uid, &gid, err, sizeof(err));
	check(rc != 0 && *err, "a malformed AuthType=none credential is refused", err);
	err[0] = '\0';
	rc = cred_verify(&munge, "", &uid, &gid, err, sizeof(err));
	check(rc != 0 && *err, "an empty credential is refused", err);

	err[0] = '\0';
	rc = cred_create(&dead, &c, err, sizeof(err));
	check(rc != 0 && strstr(err, "munged"), "with munged down the error names munged", err);
	free(c);
	printf("1..%u\n", n);
	return failed ? 1 : 0;
}
