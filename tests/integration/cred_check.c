/*
 * cred_check: common/cred.c against a real munged (started by cred.sh on a
 * private socket with its own key). TAP. Checks what the daemons rely on:
 * a credential proves the caller's uid and gid and carries its binding
 * (issue 11 defect 1); it is refused for another message or receiver,
 * when replayed, forged or expired; credentials made the old way (no
 * payload), valid for too long, or with a payload that is not a binding
 * are refused; AuthType=none round trips but is refused by a MUNGE
 * verifier; a dead munged gives an error that names munged.
 * Usage: cred_check SOCKET UNBOUND LONG JUNK, the last three credentials
 * made by munge(1): no payload, --ttl=3600, and the payload "hello".
 */
#include "config.h"

#include "cred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* A binding to dest for the message whose digest is all byte. */
static struct cred_binding binding(const char *dest, unsigned char byte)
{
	struct cred_binding b = {0};

	snprintf(b.dest, sizeof(b.dest), "%s", dest);
	memset(b.digest, byte, sizeof(b.digest));
	return b;
}

/* A fresh credential for b (the caller frees it), or NULL. */
static char *make(const struct cred_opts *o, struct cred_binding *b, char *err, size_t errlen)
{
	char *c = NULL;

	return cred_create(o, b, &c, err, errlen) == 0 ? c : NULL;
}

static void refused(const struct cred_opts *o, const char *cred, const struct cred_binding *want,
		    const char *why, const char *what)
{
	char err[512] = "";
	struct cred_id who;
	int rc = cred ? cred_verify(o, cred, want, &who, err, sizeof(err)) : 0;

	check(rc != 0 && strstr(err, why), what, err);
}

int main(int argc, char **argv)
{
	struct cred_opts munge = {.socket = argc > 1 ? argv[1] : NULL};
	struct cred_opts none = {.none = true};
	struct cred_opts dead = {.socket = "/nonexistent/munge.socket"};
	struct cred_opts short_ttl = munge;
	struct cred_binding b = binding("agent:node1", 0x42), want;
	char err[512] = "", *c;
	struct cred_id who;
	int rc;

	if (argc != 5) {
		fprintf(stderr, "usage: cred_check SOCKET UNBOUND LONG JUNK\n");
		return 2;
	}
	c = make(&munge, &b, err, sizeof(err));
	check(c != NULL, "munged issues a credential bound to a message", err);
	rc = c ? cred_verify(&munge, c, &b, &who, err, sizeof(err)) : -1;
	check(rc == 0 && who.uid == getuid() && who.gid == getgid() &&
		  memcmp(who.b.nonce, b.nonce, sizeof(b.nonce)) == 0 &&
		  strcmp(who.b.dest, "agent:node1") == 0 && who.expires > time(NULL) &&
		  who.expires <= time(NULL) + CRED_TTL_S,
	      "it proves the caller's uid and gid, and carries its binding and lifetime", err);
	refused(&munge, c, &b, "eplayed", "a replayed credential is refused (munged's own check)");
	free(c);

	c = make(&munge, &b, err, sizeof(err));
	want = binding("agent:node1", 0x43);
	refused(&munge, c, &want, "another message",
		"issue 11 defect 1: a credential is refused for another message");
	free(c);
	c = make(&munge, &b, err, sizeof(err));
	want = binding("controller", 0x42);
	refused(&munge, c, &want, "made for agent:node1, not controller",
		"issue 11 defect 1: a credential is refused by another receiver");
	free(c);

	c = make(&munge, &b, err, sizeof(err));
	if (c && strlen(c) > 40)
		c[30] = c[30] == 'A' ? 'B' : 'A';
	refused(&munge, c, &b, "MUNGE credential refused",
		"a forged (altered) credential is refused");
	free(c);

	short_ttl.ttl_s = 1;
	c = make(&short_ttl, &b, err, sizeof(err));
	sleep(3);
	refused(&munge, c, &b, "xpired", "an expired credential is refused");
	free(c);

	want = binding("controller", 0);
	refused(&munge, argv[2], &want, "bound to no message",
		"issue 11 defect 1: a MUNGE credential without a binding (coloc before the fix) is "
		"refused");
	refused(&munge, argv[3], &want, "valid for 3600 s",
		"a MUNGE credential valid for longer than coloc's replay cache keeps nonces is "
		"refused");
	refused(&munge, argv[4], &want, "binding is malformed",
		"a MUNGE credential whose payload is not a binding is refused");

	c = make(&none, &b, err, sizeof(err));
	rc = c ? cred_verify(&none, c, &b, &who, err, sizeof(err)) : -1;
	check(rc == 0 && who.uid == getuid() && who.gid == getgid(),
	      "AuthType=none round trips, bound the same way", err);
	refused(&munge, c, &b, "AuthType",
		"an AuthType=none credential is refused by a MUNGE verifier");
	free(c);
	refused(&munge, "", &b, "no credential", "an empty credential is refused");

	err[0] = '\0';
	c = make(&dead, &b, err, sizeof(err));
	check(!c && strstr(err, "munged"), "with munged down the error names munged", err);
	free(c);
	printf("1..%u\n", n);
	return failed ? 1 : 0;
}
