/*
 * fake_controller: a fake of colocd's controller for unit tests of its
 * clients (ctl_client, libfaas's lease calls): a thread listening on
 * 127.0.0.1 that reads one real frame, decodes it and answers as the test
 * tells it (a reply, silence, garbage, a close). A lease_grant reply is
 * signed with real AuthType=none credentials (no munged needed): as colocd
 * signs it (root's, bound to it and the request), or forged in one of the
 * ways a client must refuse.
 *
 * One request per fake_start; the test owns the struct fake, and reads
 * what arrived (got_rc, got) after fake_join.
 */
#ifndef COLOC_TEST_FAKE_CONTROLLER_H
#define COLOC_TEST_FAKE_CONTROLLER_H

#include "coloc_config.h"
#include "msg.h"

#include <pthread.h>
#include <stdint.h>

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

/* cmocka setup and teardown: *state becomes a struct fake listening on
 * 127.0.0.1 (a port of its own), and is closed and freed. */
int fake_setup(void **state);
int fake_teardown(void **state);

/* Serves one request in a thread, as mode says; fake_join waits for it. */
void fake_start(struct fake *f, enum fake_mode mode);
void fake_join(struct fake *f);

/* f answers its next request (FAKE_REPLY) with reply, signed as colocd
 * signs a grant; f owns what reply owns from here on. Forgets the request
 * it got before. */
void fake_answer(struct fake *f, const struct msg *reply);

/* A coloc.conf that names the controller host:port, AuthType=none. */
void fake_config(struct coloc_config *cfg, const char *host, uint16_t port);

/* A port nobody listens on (bound, then closed) of family's addr; 0 if
 * none can be had. */
uint16_t fake_closed_port(int family, const char *addr);

#endif
