/*
 * test_auth: common/auth.c, credentials bound to control messages (issue
 * 11 defect 1), with AuthType=none credentials so that no munged is
 * needed (the binding is the same for MUNGE). A signed request passes
 * auth_check after a real encode and decode; the same credential on an
 * altered message, at another receiver, or as a reply is refused; a
 * signed reply passes only for the request whose nonce it names.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"

#define ERRLEN 512

static const struct cred_opts none = {.none = true};

static void contains(const char *s, const char *part)
{
	if (!strstr(s, part))
		fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

/* m encoded and decoded, as a receiver has it. */
static struct msg received(const struct msg *m)
{
	char *text = NULL, err[ERRLEN] = "";
	struct msg out;

	assert_int_equal(msg_encode(m, &text), 0);
	if (msg_decode(text, &out, err, ERRLEN) != 0)
		fail_msg("%s: %s", text, err);
	free(text);
	return out;
}

static struct msg acquire(const char *lib)
{
	struct msg m = {.type = MSG_LEASE_ACQUIRE};

	m.u.acquire.workers = 2;
	snprintf(m.u.acquire.lib, sizeof(m.u.acquire.lib), "%s", lib);
	m.u.acquire.time = 60;
	return m;
}

static void test_request(void **state)
{
	struct msg m = acquire("/opt/f.so"), got;
	uint8_t nonce[MSG_NONCE_LEN];
	char err[ERRLEN] = "";
	struct cred_id who;

	(void)state;
	assert_int_equal(auth_sign(&none, &m, AUTH_DEST_CONTROLLER, NULL, nonce, err, ERRLEN), 0);
	assert_int_equal(strncmp(m.cred, "none:", 5), 0);
	got = received(&m);
	assert_int_equal(auth_check(&none, &got, AUTH_DEST_CONTROLLER, NULL, &who, err, ERRLEN), 0);
	assert_int_equal(who.uid, getuid());
	assert_memory_equal(who.b.nonce, nonce, MSG_NONCE_LEN);
	assert_false(who.b.reply);
}

/* What a user who captured the credential on the way can do with it. */
static void test_replayed_elsewhere(void **state)
{
	struct msg m = acquire("/opt/f.so"), other = acquire("/tmp/evil.so"), got;
	uint8_t nonce[MSG_NONCE_LEN];
	char err[ERRLEN] = "", dest[CRED_DEST_MAX];
	struct cred_id who;

	(void)state;
	assert_int_equal(auth_sign(&none, &m, AUTH_DEST_CONTROLLER, NULL, nonce, err, ERRLEN), 0);
	/* another library */
	memcpy(other.cred, m.cred, sizeof(m.cred));
	got = received(&other);
	assert_int_equal(auth_check(&none, &got, AUTH_DEST_CONTROLLER, NULL, &who, err, ERRLEN),
			 -EACCES);
	contains(err, "made for another message");
	/* another receiver */
	got = received(&m);
	auth_agent_dest("node1", dest);
	assert_string_equal(dest, "agent:node1");
	assert_int_equal(auth_check(&none, &got, dest, NULL, &who, err, ERRLEN), -EACCES);
	contains(err, "made for controller, not agent:node1");
	/* as the reply to itself */
	assert_int_equal(auth_check(&none, &got, AUTH_DEST_REPLY, nonce, &who, err, ERRLEN),
			 -EACCES);
	/* another type with the same fields is another message */
	other = m;
	other.type = MSG_EXEC_START;
	memset(&other.u, 0, sizeof(other.u));
	snprintf(other.u.exec.id, sizeof(other.u.exec.id), "L1");
	snprintf(other.u.exec.pus, sizeof(other.u.exec.pus), "0");
	snprintf(other.u.exec.lib, sizeof(other.u.exec.lib), "/tmp/evil.so");
	other.u.exec.uid = other.u.exec.workers = 1;
	got = received(&other);
	assert_int_equal(auth_check(&none, &got, AUTH_DEST_CONTROLLER, NULL, &who, err, ERRLEN),
			 -EACCES);
	contains(err, "made for another message");
}

static void test_reply(void **state)
{
	struct msg g = {.type = MSG_LEASE_GRANT}, got;
	struct cred_opts root = {.none = true, .claim = true};
	uint8_t req[MSG_NONCE_LEN], other[MSG_NONCE_LEN];
	char err[ERRLEN] = "";
	struct cred_id who;

	(void)state;
	memset(req, 0x31, sizeof(req));
	memset(other, 0x32, sizeof(other));
	snprintf(g.u.grant.id, sizeof(g.u.grant.id), "L1");
	g.u.grant.lease = strdup("{\"v\":1,\"id\":\"L1\"}");
	assert_int_equal(auth_sign(&root, &g, AUTH_DEST_REPLY, req, NULL, err, ERRLEN), 0);
	got = received(&g);
	assert_int_equal(auth_check(&none, &got, AUTH_DEST_REPLY, req, &who, err, ERRLEN), 0);
	assert_int_equal(who.uid, 0);
	assert_true(who.b.reply);
	assert_int_equal(auth_check(&none, &got, AUTH_DEST_REPLY, other, &who, err, ERRLEN),
			 -EACCES);
	contains(err, "answers another request");
	assert_int_equal(auth_check(&none, &got, AUTH_DEST_CONTROLLER, NULL, &who, err, ERRLEN),
			 -EACCES);
	msg_free(&got);
	/* another lease document under the same credential */
	free(g.u.grant.lease);
	g.u.grant.lease = strdup("{\"v\":1,\"id\":\"L1\",\"token\":\"forged\"}");
	got = received(&g);
	assert_int_equal(auth_check(&none, &got, AUTH_DEST_REPLY, req, &who, err, ERRLEN), -EACCES);
	contains(err, "another message");
	msg_free(&got);
	msg_free(&g);
}

static void test_sign_fails(void **state)
{
	struct cred_opts dead = {.socket = "/nonexistent/munge.socket"};
	struct msg m = acquire("/opt/f.so"), bad = {.type = MSG_LEASE_GRANT};
	char err[ERRLEN] = "";

	(void)state;
	assert_int_equal(auth_sign(&dead, &m, AUTH_DEST_CONTROLLER, NULL, NULL, err, ERRLEN), -EIO);
	contains(err, "munged");
	/* a grant without a lease document cannot be encoded, so not signed */
	assert_int_equal(auth_sign(&none, &bad, AUTH_DEST_REPLY,
				   (const uint8_t *)"0123456789abcdef", NULL, err, ERRLEN),
			 -EINVAL);
	contains(err, "cannot encode");
}

/* Sessions: a credential proposing a key carries it to the receiver; the
 * session credentials made with it pass for their message, receiver and a
 * growing counter only. */
static void test_session(void **state)
{
	struct msg m = acquire("/opt/f.so"), got, other = acquire("/tmp/evil.so");
	uint8_t key[CRED_KEY_LEN], wrong[CRED_KEY_LEN];
	char err[ERRLEN] = "";
	struct cred_id who;
	uint64_t counter = 0;

	(void)state;
	for (unsigned i = 0; i < CRED_KEY_LEN; i++) {
		key[i] = (uint8_t)(i * 7 + 1);
		wrong[i] = key[i] ^ (i == 5);
	}
	/* proposed in a credential's binding */
	assert_int_equal(auth_sign_keyed(&none, &m, AUTH_DEST_CONTROLLER, key, NULL, err, ERRLEN),
			 0);
	got = received(&m);
	assert_int_equal(auth_check(&none, &got, AUTH_DEST_CONTROLLER, NULL, &who, err, ERRLEN), 0);
	assert_true(who.b.has_key);
	assert_memory_equal(who.b.key, key, CRED_KEY_LEN);
	assert_int_equal(auth_sign(&none, &m, AUTH_DEST_CONTROLLER, NULL, NULL, err, ERRLEN), 0);
	got = received(&m);
	assert_int_equal(auth_check(&none, &got, AUTH_DEST_CONTROLLER, NULL, &who, err, ERRLEN), 0);
	assert_false(who.b.has_key);

	/* then used */
	assert_int_equal(auth_session_sign(key, 1, &m, AUTH_DEST_CONTROLLER, err, ERRLEN), 0);
	assert_true(auth_is_session(m.cred));
	got = received(&m);
	assert_int_equal(
	    auth_session_check(key, 0, &got, AUTH_DEST_CONTROLLER, &counter, err, ERRLEN), 0);
	assert_int_equal(counter, 1);
	/* replayed: its counter is not above the last one's */
	assert_int_equal(
	    auth_session_check(key, 1, &got, AUTH_DEST_CONTROLLER, &counter, err, ERRLEN), -EACCES);
	contains(err, "replayed");
	/* another key, another receiver, another message */
	assert_int_equal(
	    auth_session_check(wrong, 0, &got, AUTH_DEST_CONTROLLER, &counter, err, ERRLEN),
	    -EACCES);
	assert_int_equal(auth_session_check(key, 0, &got, "agent:n1", &counter, err, ERRLEN),
			 -EACCES);
	memcpy(other.cred, m.cred, sizeof(other.cred));
	got = received(&other);
	assert_int_equal(
	    auth_session_check(key, 0, &got, AUTH_DEST_CONTROLLER, &counter, err, ERRLEN), -EACCES);
	contains(err, "not this session's");
	/* malformed */
	snprintf(got.cred, sizeof(got.cred), "session:12:zz");
	assert_int_equal(
	    auth_session_check(key, 0, &got, AUTH_DEST_CONTROLLER, &counter, err, ERRLEN), -EACCES);
	snprintf(got.cred, sizeof(got.cred), "session::");
	assert_int_equal(
	    auth_session_check(key, 0, &got, AUTH_DEST_CONTROLLER, &counter, err, ERRLEN), -EACCES);
	/* a session credential is no credential */
	assert_int_equal(auth_session_sign(key, 2, &m, AUTH_DEST_CONTROLLER, err, ERRLEN), 0);
	got = received(&m);
	assert_int_equal(auth_check(&none, &got, AUTH_DEST_CONTROLLER, NULL, &who, err, ERRLEN),
			 -EACCES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request), cmocka_unit_test(test_replayed_elsewhere),
	    cmocka_unit_test(test_reply),   cmocka_unit_test(test_sign_fails),
	    cmocka_unit_test(test_session),
	};

	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
