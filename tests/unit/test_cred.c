/*
 * test_cred: common/cred.c's binding of a credential to one message (issue
 * 11 defect 1: a credential valid for any message to any daemon). The
 * binding's text round trips and is parsed strictly; cred_binding_check
 * refuses another destination, another message (digest), a request's
 * credential on a reply, a reply to another request, each with a message
 * naming it; AuthType=none credentials carry the same binding and are
 * refused when expired, from the future, unbound (the old form) or
 * malformed; nonces differ; a MUNGE credential cannot claim a uid. No
 * munged is needed: MUNGE itself is tested by tests/integration/cred.sh.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cred.h"

#define ERRLEN 512

static const struct cred_opts none = {.none = true};

static void contains(const char *s, const char *part)
{
	if (!strstr(s, part))
		fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

static struct cred_binding binding(const char *dest, uint8_t digest_byte)
{
	struct cred_binding b = {0};

	snprintf(b.dest, sizeof(b.dest), "%s", dest);
	memset(b.digest, digest_byte, sizeof(b.digest));
	b.reply = strcmp(dest, "reply") == 0;
	return b;
}

static void same_binding(const struct cred_binding *a, const struct cred_binding *b)
{
	assert_string_equal(a->dest, b->dest);
	assert_memory_equal(a->digest, b->digest, CRED_DIGEST_LEN);
	assert_memory_equal(a->nonce, b->nonce, CRED_NONCE_LEN);
	assert_int_equal(a->reply, b->reply);
	assert_memory_equal(a->reply_to, b->reply_to, CRED_NONCE_LEN);
	assert_true(a->time == b->time);
}

static void test_text_round_trip(void **state)
{
	struct cred_binding b = binding("agent:node-1.a_b", 0x5a), r = binding("reply", 0x01), got;
	char text[CRED_TEXT_MAX], err[ERRLEN] = "";

	(void)state;
	memset(b.nonce, 0xc3, sizeof(b.nonce));
	b.time = 1700000000;
	assert_int_equal(cred_binding_format(&b, text), 0);
	assert_string_equal(text,
			    "coloc1 dest=agent:node-1.a_b nonce=c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3 "
			    "digest=5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
			    "5a5a5a5a time=1700000000 reply_to=-");
	assert_int_equal(cred_binding_parse(text, &got, err, ERRLEN), 0);
	same_binding(&got, &b);

	for (unsigned i = 0; i < CRED_NONCE_LEN; i++)
		r.reply_to[i] = (uint8_t)i;
	r.time = 5;
	assert_int_equal(cred_binding_format(&r, text), 0);
	assert_non_null(strstr(text, " reply_to=000102030405060708090a0b0c0d0e0f"));
	assert_int_equal(cred_binding_parse(text, &got, err, ERRLEN), 0);
	same_binding(&got, &r);
}

static void test_text_strict(void **state)
{
	static const char *const bad[] = {
	    "",
	    "coloc2 dest=controller nonce=00000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=1 reply_to=-",
	    "coloc1 dest=evil nonce=00000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=1 reply_to=-",
	    "coloc1 dest=agent:../etc nonce=00000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=1 reply_to=-",
	    "coloc1 dest=agent: nonce=00000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=1 reply_to=-",
	    "coloc1 dest=controller nonce=0000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=1 reply_to=-",
	    "coloc1 dest=controller nonce=0000000000000000000000000000000A digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=1 reply_to=-",
	    "coloc1 dest=controller nonce=00000000000000000000000000000000 digest="
	    "000000000000000000000000000000000000000000000000000000000000000 time=1 reply_to=-",
	    "coloc1 dest=controller nonce=00000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=x reply_to=-",
	    "coloc1 dest=controller nonce=00000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=-1 reply_to=-",
	    "coloc1 dest=controller nonce=00000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=1",
	    "coloc1 dest=controller nonce=00000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=1 reply_to=- ",
	    /* a request with a reply_to, a reply without one */
	    "coloc1 dest=controller nonce=00000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=1 "
	    "reply_to=00000000000000000000000000000000",
	    "coloc1 dest=reply nonce=00000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=1 reply_to=-",
	    "coloc1  dest=controller nonce=00000000000000000000000000000000 digest="
	    "0000000000000000000000000000000000000000000000000000000000000000 time=1 reply_to=-",
	};
	struct cred_binding b;
	char err[ERRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (cred_binding_parse(bad[i], &b, err, ERRLEN) != -EPROTO)
			fail_msg("accepted \"%s\"", bad[i]);
		contains(err, "binding is malformed");
		contains(err, "same version");
	}
}

static void test_format_refuses(void **state)
{
	struct cred_binding b = binding("agent:a/b", 0);
	char text[CRED_TEXT_MAX];

	(void)state;
	assert_int_equal(cred_binding_format(&b, text), -EINVAL);
	b = binding("controller", 0);
	b.reply = true; /* a reply must be for "reply" */
	assert_int_equal(cred_binding_format(&b, text), -EINVAL);
	b = binding("reply", 0);
	b.reply = false;
	assert_int_equal(cred_binding_format(&b, text), -EINVAL);
}

static void test_check(void **state)
{
	struct cred_binding want = binding("agent:node1", 0x11), got = want;
	char err[ERRLEN] = "";

	(void)state;
	assert_int_equal(cred_binding_check(&got, &want, err, ERRLEN), 0);

	got = binding("controller", 0x11);
	assert_int_equal(cred_binding_check(&got, &want, err, ERRLEN), -EACCES);
	contains(err, "made for controller, not agent:node1");

	got = binding("agent:node1", 0x12);
	assert_int_equal(cred_binding_check(&got, &want, err, ERRLEN), -EACCES);
	contains(err, "made for another message");

	want = binding("reply", 0x11);
	memset(want.reply_to, 7, sizeof(want.reply_to));
	got = want;
	assert_int_equal(cred_binding_check(&got, &want, err, ERRLEN), 0);
	got.reply_to[3] ^= 1;
	assert_int_equal(cred_binding_check(&got, &want, err, ERRLEN), -EACCES);
	contains(err, "answers another request");

	/* a request's credential where a reply's is wanted, and the reverse */
	got = binding("reply", 0x11);
	got.reply = false;
	assert_int_equal(cred_binding_check(&got, &want, err, ERRLEN), -EACCES);
	contains(err, "carries a request's credential");
	got = want;
	want.reply = false;
	assert_int_equal(cred_binding_check(&got, &want, err, ERRLEN), -EACCES);
	contains(err, "belongs to a reply");
}

static void test_none_round_trip(void **state)
{
	struct cred_binding b = binding("controller", 0x42), b2 = b;
	char *c = NULL, *c2 = NULL, err[ERRLEN] = "", prefix[64];
	struct cred_id who;
	int64_t t0 = (int64_t)time(NULL);

	(void)state;
	assert_int_equal(cred_create(&none, &b, &c, err, ERRLEN), 0);
	snprintf(prefix, sizeof(prefix), "none:%u:%u:coloc1 dest=controller ", (unsigned)getuid(),
		 (unsigned)getgid());
	assert_int_equal(strncmp(c, prefix, strlen(prefix)), 0);
	assert_true(b.time >= t0 && b.time <= t0 + 2);
	assert_int_equal(cred_verify(&none, c, &b, &who, err, ERRLEN), 0);
	assert_int_equal(who.uid, getuid());
	assert_int_equal(who.gid, getgid());
	assert_memory_equal(who.b.nonce, b.nonce, CRED_NONCE_LEN);
	assert_true(who.expires == b.time + CRED_TTL_S);
	/* a fresh nonce each time */
	assert_int_equal(cred_create(&none, &b2, &c2, err, ERRLEN), 0);
	assert_memory_not_equal(b.nonce, b2.nonce, CRED_NONCE_LEN);
	/* the same credential is refused for another message or receiver */
	b2 = binding("controller", 0x43);
	assert_int_equal(cred_verify(&none, c, &b2, &who, err, ERRLEN), -EACCES);
	contains(err, "another message");
	b2 = binding("agent:n1", 0x42);
	assert_int_equal(cred_verify(&none, c, &b2, &who, err, ERRLEN), -EACCES);
	contains(err, "made for controller, not agent:n1");
	free(c);
	free(c2);
}

static void test_none_claim(void **state)
{
	struct cred_opts as = {.none = true, .claim = true, .uid = 0, .gid = 0};
	struct cred_opts munge_as = {.claim = true, .uid = 0};
	struct cred_binding b = binding("agent:n1", 1);
	char *c = NULL, err[ERRLEN] = "";
	struct cred_id who;

	(void)state;
	assert_int_equal(cred_create(&as, &b, &c, err, ERRLEN), 0);
	assert_int_equal(cred_verify(&none, c, &b, &who, err, ERRLEN), 0);
	assert_int_equal(who.uid, 0);
	free(c);
	assert_int_equal(cred_create(&munge_as, &b, &c, err, ERRLEN), -EINVAL);
	assert_null(c);
	contains(err, "own uid");
}

/* An AuthType=none credential with binding text written by hand. */
static char *none_cred(int64_t t)
{
	struct cred_binding b = binding("controller", 0x42);
	char text[CRED_TEXT_MAX], *c = NULL;

	b.time = t;
	assert_int_equal(cred_binding_format(&b, text), 0);
	assert_true(asprintf(&c, "none:1000:1000:%s", text) > 0);
	return c;
}

static void test_none_time(void **state)
{
	struct cred_binding want = binding("controller", 0x42);
	int64_t now = (int64_t)time(NULL);
	char *c, err[ERRLEN] = "";
	struct cred_id who;

	(void)state;
	c = none_cred(now - CRED_TTL_S - 5);
	assert_int_equal(cred_verify(&none, c, &want, &who, err, ERRLEN), -EACCES);
	contains(err, "has expired");
	free(c);
	c = none_cred(now + CRED_TTL_S + 5);
	assert_int_equal(cred_verify(&none, c, &want, &who, err, ERRLEN), -EACCES);
	contains(err, "comes from the future");
	free(c);
	c = none_cred(now - 10); /* made a little earlier: fine */
	assert_int_equal(cred_verify(&none, c, &want, &who, err, ERRLEN), 0);
	assert_int_equal(who.uid, 1000);
	assert_true(who.expires == now - 10 + CRED_TTL_S);
	free(c);
}

static void test_refused_forms(void **state)
{
	static const struct {
		bool munge;
		const char *cred, *why;
	} cases[] = {
	    {false, "none:1000:1000", "bound to no message"}, /* coloc before issue 11 */
	    {false, "none:12x", "malformed AuthType=none"},
	    {false, "none:1:2:coloc1 dest=controller", "binding is malformed"},
	    {false, "MUNGE:AAAA", "a MUNGE credential reached a program using AuthType=none"},
	    {false, "", "carries no credential"},
	    {true, "none:0:0:coloc1", "an AuthType=none credential reached a program using MUNGE"},
	    {true, "", "carries no credential"},
	};
	struct cred_opts munge = {.socket = "/nonexistent/munge.socket"};
	struct cred_binding want = binding("controller", 0);
	char err[ERRLEN];
	struct cred_id who;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(cred_verify(cases[i].munge ? &munge : &none, cases[i].cred, &want,
					     &who, err, ERRLEN),
				 -EACCES);
		contains(err, cases[i].why);
	}
	assert_int_equal(cred_verify(&none, NULL, &want, &who, err, ERRLEN), -EACCES);
}

static void test_munged_down(void **state)
{
	struct cred_opts dead = {.socket = "/nonexistent/munge.socket"};
	struct cred_binding b = binding("controller", 0);
	char *c = NULL, err[ERRLEN] = "";

	(void)state;
	assert_int_equal(cred_create(&dead, &b, &c, err, ERRLEN), -EIO);
	assert_null(c);
	contains(err, "munged");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_round_trip), cmocka_unit_test(test_text_strict),
	    cmocka_unit_test(test_format_refuses),  cmocka_unit_test(test_check),
	    cmocka_unit_test(test_none_round_trip), cmocka_unit_test(test_none_claim),
	    cmocka_unit_test(test_none_time),	    cmocka_unit_test(test_refused_forms),
	    cmocka_unit_test(test_munged_down),
	};

	return cmocka_run_group_tests_name("cred", tests, NULL, NULL);
}
