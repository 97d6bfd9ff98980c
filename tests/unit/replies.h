/*
 * replies: what a module under test answered, for unit tests. The node
 * agent (agent.h) and the controller (controller.h) answer each request
 * through a function of one shape, void fn(void *arg, uint64_t cookie,
 * const struct msg *reply), exactly once: replies_record is that function,
 * with arg a struct replies, and fails the test on a second answer. The
 * expect_* checks name the request and what it got instead. Include after
 * cmocka.h.
 */
#ifndef COLOC_TEST_REPLIES_H
#define COLOC_TEST_REPLIES_H

#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLIES_MAX 64

struct reply {
	uint64_t cookie;
	enum msg_type type;
	char code[32]; /* an error's */
	char message[MSG_TEXT_MAX];
	char id[64];			 /* a grant's lease id */
	char *lease;			 /* a grant's document */
	char cred[MSG_CRED_MAX];	 /* a grant's credential */
	bool sign;			 /* to be signed by colocd ... */
	uint8_t reply_to[MSG_NONCE_LEN]; /* ... bound to this nonce */
	enum msg_query what;		 /* a result's */
	char *items;			 /* a result's items */
};

struct replies {
	unsigned n;
	struct reply r[REPLIES_MAX];
};

static inline const struct reply *replies_find(const struct replies *rs, uint64_t cookie)
{
	for (unsigned i = 0; i < rs->n; i++)
		if (rs->r[i].cookie == cookie)
			return &rs->r[i];
	return NULL;
}

static inline char *replies_strdup(const char *s)
{
	char *copy = s ? strdup(s) : NULL;

	assert_non_null(copy);
	return copy;
}

static inline void replies_record(void *arg, uint64_t cookie, const struct msg *m)
{
	struct replies *rs = arg;
	struct reply *r;

	if (replies_find(rs, cookie))
		fail_msg("request %llu was answered twice", (unsigned long long)cookie);
	assert_true(rs->n < REPLIES_MAX);
	r = &rs->r[rs->n++];
	memset(r, 0, sizeof(*r));
	r->cookie = cookie;
	r->type = m->type;
	r->sign = m->sign;
	memcpy(r->reply_to, m->reply_to, sizeof(r->reply_to));
	if (m->type == MSG_ERROR) {
		snprintf(r->code, sizeof(r->code), "%s", m->u.error.code);
		snprintf(r->message, sizeof(r->message), "%s", m->u.error.message);
	} else if (m->type == MSG_LEASE_GRANT) {
		snprintf(r->id, sizeof(r->id), "%s", m->u.grant.id);
		snprintf(r->cred, sizeof(r->cred), "%s", m->cred);
		r->lease = replies_strdup(m->u.grant.lease);
	} else if (m->type == MSG_RESULT) {
		r->what = m->u.result.what;
		assert_int_equal(msg_result_json(m, &r->items), 0);
	}
}

static inline void replies_free(struct replies *rs)
{
	for (unsigned i = 0; i < rs->n; i++) {
		free(rs->r[i].lease);
		free(rs->r[i].items);
	}
	rs->n = 0;
}

/* Forgets the last reply (one a test has read). */
static inline void replies_drop_last(struct replies *rs)
{
	assert_true(rs->n > 0);
	rs->n--;
	free(rs->r[rs->n].lease);
	free(rs->r[rs->n].items);
}

static inline void assert_no_reply(const struct replies *rs, uint64_t cookie)
{
	const struct reply *r = replies_find(rs, cookie);

	if (r)
		fail_msg("request %llu was answered already (type %d %s %s)",
			 (unsigned long long)cookie, (int)r->type, r->code, r->message);
}

/* The reply to cookie, which must be of type t. */
static inline const struct reply *expect_reply(const struct replies *rs, uint64_t cookie,
					       enum msg_type t)
{
	const struct reply *r = replies_find(rs, cookie);

	if (!r)
		fail_msg("request %llu is not answered", (unsigned long long)cookie);
	if (r->type != t)
		fail_msg("request %llu: type %s %s: %s, not %s", (unsigned long long)cookie,
			 msg_type_name(r->type), r->code, r->message, msg_type_name(t));
	return r;
}

static inline void expect_ok(const struct replies *rs, uint64_t cookie)
{
	expect_reply(rs, cookie, MSG_OK);
}

/* The error reply to cookie, with code and a message holding what. */
static inline void expect_error(const struct replies *rs, uint64_t cookie, const char *code,
				const char *what)
{
	const struct reply *r = expect_reply(rs, cookie, MSG_ERROR);

	if (strcmp(r->code, code) != 0 || !strstr(r->message, what))
		fail_msg("request %llu: %s \"%s\", not %s \"...%s...\"", (unsigned long long)cookie,
			 r->code, r->message, code, what);
}

#endif
