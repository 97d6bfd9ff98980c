/*
 * test_client: libfaas/client.c, the public client API, over
 * mock_transport.c. The test plays the workers of a two-worker lease: the
 * mock's hooks answer HELLO with WELCOME and answer request puts by
 * writing [wire_reply | output] where the request header says (through the
 * mock's registry of regions) and raising the reply event. Covers lease
 * parsing errors, faas_strerror, the handshake outcomes, argument checks
 * that must not reach the fabric, results and statuses of calls, replies
 * to an earlier use of a call record, eviction and zero-copy outputs.
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
#include <time.h>

#include <cmocka.h>

#include "faas.h"
#include "lease_doc.h"
#include "mock_transport.h"

#define WORKERS 2
#define SLOTS 4
#define SLOT_SIZE 256
#define DEPTH 2
#define SLOT_ADDR(w) (0x10000u * ((w) + 1))
#define SLOT_KEY(w) (0x900u + (w))
#define COOKIE(w) (0xc00c1e00u + (w))
#define FN_NOOP 0
#define FN_ECHO 1
#define FN_SUM 2

static const uint8_t lease_token[WIRE_TOKEN_LEN] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,
						    5,	  6,	7,    8,    9, 10, 11, 12};

/* ---- the fake workers ------------------------------------------------------ */

enum answer {
	ANSWER_NONE,	     /* never reply */
	ANSWER_ECHO,	     /* reply WIRE_OK with the payload */
	ANSWER_STATUS,	     /* reply with status, no output */
	ANSWER_STALE,	     /* echo, with the tag of another use of the call record */
	ANSWER_EVICT,	     /* the worker says it is going */
	ANSWER_FORGED_EVICT, /* someone without the token says the worker is going, then echo */
	ANSWER_EVICT_ONCE,   /* the first worker asked says it is going, then ECHO */
	ANSWER_FUNC_MSG,     /* WIRE_FUNC, fn_rc 22, the payload as its message */
	ANSWER_OUTSIZE,	     /* WIRE_OUTSIZE, out_len = fake.needed, nothing follows */
	ANSWER_SESSION	     /* executor/session.c's part (below) */
};

/* How the fake worker swaps a session's state out (SAVE). */
enum swap_mode { SWAP_GOOD, SWAP_MISCOUNT, SWAP_LOSE };

static struct {
	bool welcome;		     /* answer HELLOs */
	int welcome_status[WORKERS]; /* status of each worker's WELCOME */
	unsigned hellos[WORKERS];
	enum answer answer;
	enum wire_status status;
	struct wire_req last_req; /* the latest request a worker got */
	unsigned requests[WORKERS];
	bool bad_request; /* a request a worker would have dropped */
	int evicted;	  /* the worker ANSWER_EVICT_ONCE evicted, or -1 */
	uint64_t needed;  /* ANSWER_OUTSIZE */
	/* ANSWER_SESSION: the session's swap buffer and its state here */
	uint64_t swap_addr, swap_key, session_cap;
	uint32_t tag;
	char state[600];
	size_t state_len;
	enum swap_mode swap;
} fake;

#define SESSION_ID 0x5e55104e0000001ull

static void fake_reply(const struct wire_req *req, uint32_t tag, enum wire_status status,
		       const void *out, size_t out_len);

/* The worker's side of a session: OPEN answers SESSION_ID, CALL echoes,
 * SAVE puts fake.state in chunks of SLOT_SIZE into the swap buffer, then
 * the trailer, then the reply. */
static void fake_session(const struct wire_req *req, const char *in)
{
	uint64_t id = SESSION_ID, len = fake.state_len, chunks = 0;
	struct wire_reply trailer = {.reply_tag = 0};
	char *buf;

	switch (req->flags) {
	case WIRE_OP_OPEN:
		assert_true(req->in_len >= 40);
		memcpy(&fake.session_cap, in, 8);
		memcpy(&fake.swap_addr, in + 8, 8);
		memcpy(&fake.swap_key, in + 16, 8);
		memcpy(&fake.tag, in + 32, 4);
		fake_reply(req, req->reply_tag, WIRE_OK, &id, 8);
		return;
	case WIRE_OP_CALL:
		assert_true(req->session == SESSION_ID);
		fake_reply(req, req->reply_tag, WIRE_OK, in, req->in_len);
		return;
	case WIRE_OP_SAVE:
		buf = mock_translate(fake.swap_addr, fake.swap_key, WIRE_REPLY_LEN + len);
		assert_non_null(buf);
		for (uint64_t off = 0; off < len && fake.swap != SWAP_LOSE; off += SLOT_SIZE) {
			memcpy(buf + WIRE_REPLY_LEN + off, fake.state + off,
			       len - off < SLOT_SIZE ? len - off : SLOT_SIZE);
			mock_queue_put(wire_reply_imm(fake.tag, WIRE_SWAP));
			chunks++;
		}
		trailer.out_len = len;
		trailer.fn_rc = (int32_t)(chunks + (fake.swap == SWAP_MISCOUNT));
		trailer.reply_tag = fake.tag;
		wire_reply_encode(&trailer, buf);
		mock_queue_put(wire_reply_imm(fake.tag, fake.swap == SWAP_LOSE ? WIRE_SWAP_LOST
									       : WIRE_SWAP_END));
		fake_reply(req, req->reply_tag, WIRE_OK, &len, 8);
		return;
	default:
		fake_reply(req, req->reply_tag, WIRE_OK, NULL, 0);
	}
}

static unsigned worker_of(uint64_t peer)
{
	assert_true(peer >= MOCK_PEER_BASE && peer < MOCK_PEER_BASE + WORKERS);
	return (unsigned)(peer - MOCK_PEER_BASE);
}

static void queue_msg(const struct wire_msg *m)
{
	uint8_t buf[WIRE_MSG_MAX];

	mock_queue_msg(buf, wire_msg_encode(m, buf));
}

static void fake_on_msg(uint64_t peer, const void *buf, size_t len)
{
	struct wire_msg in, out = {.type = WIRE_WELCOME};
	unsigned w = worker_of(peer);

	assert_int_equal(wire_msg_decode(buf, len, &in), 0);
	if (in.type != WIRE_HELLO)
		return;
	fake.hellos[w]++;
	assert_memory_equal(in.u.hello.token, lease_token, WIRE_TOKEN_LEN);
	assert_int_equal(in.u.hello.name_len, strlen(MOCK_NAME));
	assert_memory_equal(in.u.hello.name, MOCK_NAME, strlen(MOCK_NAME));
	if (!fake.welcome)
		return;
	out.u.welcome.status = fake.welcome_status[w];
	assert_int_equal(in.u.hello.index, w); /* the client numbers workers as its lease does */
	out.u.welcome.worker = in.u.hello.index;
	if (out.u.welcome.status == 0) {
		out.u.welcome.base = w * DEPTH; /* 0 and 2: the slots' numbers differ */
		out.u.welcome.depth = in.u.hello.depth;
		out.u.welcome.cookie = COOKIE(w);
	}
	queue_msg(&out);
}

static void fake_reply(const struct wire_req *req, uint32_t tag, enum wire_status status,
		       const void *out, size_t out_len)
{
	struct wire_reply rep = {.out_len = out_len, .fn_rc = 0, .reply_tag = tag};
	char *at = mock_translate(req->reply_addr, req->reply_key, WIRE_REPLY_LEN + out_len);

	assert_non_null(at);
	assert_true(out_len <= req->out_cap);
	wire_reply_encode(&rep, at);
	if (out_len) /* out may be NULL then: memcpy's arguments must not be */
		memcpy(at + WIRE_REPLY_LEN, out, out_len);
	mock_queue_put(wire_reply_imm(tag, status));
}

static void fake_on_put(const struct mock_put *p)
{
	unsigned w = worker_of(p->peer);
	struct wire_msg evict = {.type = WIRE_EVICT};
	struct wire_req req;
	uint32_t slot;

	/* where a request must land: a slot the worker granted this client */
	slot = p->imm;
	if (p->key != SLOT_KEY(w) || slot < w * DEPTH || slot >= w * DEPTH + DEPTH ||
	    p->addr != SLOT_ADDR(w) + (uint64_t)slot * SLOT_SIZE || p->len > SLOT_SIZE ||
	    wire_req_decode(p->data, p->len, &req) != 0 || req.cookie != COOKIE(w)) {
		fake.bad_request = true;
		return;
	}
	fake.last_req = req;
	fake.requests[w]++;
	switch (fake.answer) {
	case ANSWER_NONE:
		break;
	case ANSWER_ECHO:
		fake_reply(&req, req.reply_tag, WIRE_OK, p->data + WIRE_REQ_LEN, req.in_len);
		break;
	case ANSWER_STATUS:
		fake_reply(&req, req.reply_tag, fake.status, NULL, 0);
		break;
	case ANSWER_FUNC_MSG: {
		struct wire_reply rep = {
		    .out_len = req.in_len, .fn_rc = 22, .reply_tag = req.reply_tag};
		char *at =
		    mock_translate(req.reply_addr, req.reply_key, WIRE_REPLY_LEN + req.in_len);

		/* as sent: a lying executor may exceed out_cap */
		assert_non_null(at);
		wire_reply_encode(&rep, at);
		memcpy(at + WIRE_REPLY_LEN, p->data + WIRE_REQ_LEN, req.in_len);
		mock_queue_put(wire_reply_imm(req.reply_tag, WIRE_FUNC));
		break;
	}
	case ANSWER_OUTSIZE: {
		struct wire_reply rep = {.out_len = fake.needed, .reply_tag = req.reply_tag};
		char *at = mock_translate(req.reply_addr, req.reply_key, WIRE_REPLY_LEN);

		assert_non_null(at);
		wire_reply_encode(&rep, at);
		mock_queue_put(wire_reply_imm(req.reply_tag, WIRE_OUTSIZE));
		break;
	}
	case ANSWER_SESSION:
		fake_session(&req, (const char *)p->data + WIRE_REQ_LEN);
		break;
	case ANSWER_STALE:
		fake_reply(&req, req.reply_tag ^ (1u << 16), WIRE_OK, p->data + WIRE_REQ_LEN,
			   req.in_len);
		break;
	case ANSWER_EVICT_ONCE:
		fake.answer = ANSWER_ECHO;
		fake.evicted = (int)w;
		/* fall through */
	case ANSWER_EVICT:
		evict.u.bye.cookie = COOKIE(w);
		memcpy(evict.u.bye.token, lease_token, WIRE_TOKEN_LEN);
		queue_msg(&evict);
		break;
	case ANSWER_FORGED_EVICT: /* right cookie, wrong token */
		evict.u.bye.cookie = COOKIE(w);
		memcpy(evict.u.bye.token, lease_token, WIRE_TOKEN_LEN);
		evict.u.bye.token[0] ^= 1;
		queue_msg(&evict);
		fake_reply(&req, req.reply_tag, WIRE_OK, p->data + WIRE_REQ_LEN, req.in_len);
		break;
	}
}

/* ---- lease and client ---------------------------------------------------- */

static char *lease_json(void)
{
	static const char *const names[] = {"noop", "echo", "sum64"};
	struct lease_doc *doc = lease_doc_new(3, WORKERS);
	char *json;

	assert_non_null(doc);
	snprintf(doc->id, sizeof(doc->id), "test-lease");
	snprintf(doc->provider, sizeof(doc->provider), "mock");
	snprintf(doc->rung, sizeof(doc->rung), "writedata");
	memcpy(doc->token, lease_token, WIRE_TOKEN_LEN);
	doc->slot_size = SLOT_SIZE;
	for (unsigned i = 0; i < 3; i++) {
		snprintf(doc->functions[i].name, sizeof(doc->functions[i].name), "%s", names[i]);
		doc->functions[i].id = i;
	}
	for (unsigned i = 0; i < WORKERS; i++) {
		doc->workers[i].index = i;
		doc->workers[i].cpu = (int)i;
		doc->workers[i].addr_len = 3;
		memcpy(doc->workers[i].addr, i ? "wk1" : "wk0", 3);
		doc->workers[i].slot_addr = SLOT_ADDR(i);
		doc->workers[i].slot_key = SLOT_KEY(i);
		doc->workers[i].slots = SLOTS;
	}
	assert_int_equal(lease_doc_encode(doc, &json), 0);
	lease_doc_free(doc);
	return json;
}

struct fixture {
	struct faas_lease *lease;
	struct faas_client *c;
};

static const struct faas_client_options default_opts = {
    .timeout_ms = 500,
    .connect_timeout_ms = 500,
    .depth = DEPTH,
};

static int setup_lease(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256] = "", *json = lease_json();

	assert_non_null(f);
	mock_reset();
	memset(&fake, 0, sizeof(fake));
	mock.on_msg = fake_on_msg;
	mock.on_put = fake_on_put;
	fake.welcome = true;
	if (faas_lease_from_json(json, &f->lease, err, sizeof(err)) != FAAS_OK)
		fail_msg("lease refused: %s", err);
	free(json);
	*state = f;
	return 0;
}

static void connect_with(struct fixture *f, const struct faas_client_options *opts)
{
	int rc = faas_client_create(f->lease, opts, &f->c);

	if (rc != FAAS_OK)
		fail_msg("faas_client_create: %s", faas_strerror(rc));
	assert_int_equal(faas_client_workers(f->c), WORKERS);
	assert_false(fake.bad_request);
}

static int setup_client(void **state)
{
	setup_lease(state);
	connect_with(*state, &default_opts);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	faas_client_destroy(f->c);
	faas_lease_destroy(f->lease);
	/* no registration or endpoint left behind */
	assert_int_equal(mock_mrs_live(), 0);
	assert_int_equal(mock.closes, mock.opens);
	assert_false(fake.bad_request);
	free(f);
	return 0;
}

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

/* ---- leases and errors --------------------------------------------------------- */

static void expect_lease_error(const char *json, const char *field)
{
	struct faas_lease *lease = NULL;
	char err[256] = "";

	assert_int_equal(faas_lease_from_json(json, &lease, err, sizeof(err)), FAAS_ELEASE);
	assert_null(lease);
	if (!strstr(err, field))
		fail_msg("error \"%s\" does not name %s", err, field);
	/* without room for a message too */
	assert_int_equal(faas_lease_from_json(json, &lease, NULL, 0), FAAS_ELEASE);
	assert_null(lease);
}

static char *replace(const char *json, const char *from, const char *to)
{
	const char *at = strstr(json, from);
	char *out;

	assert_non_null(at);
	out = malloc(strlen(json) + strlen(to) + 1);
	assert_non_null(out);
	sprintf(out, "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
	return out;
}

static void test_lease_errors(void **state)
{
	char *json = lease_json(), *bad;

	expect_lease_error("{\"v\":", "JSON");
	expect_lease_error("[]", "object");
	bad = replace(json, "\"rung\":\"writedata\"", "\"rung\":\"teleport\"");
	expect_lease_error(bad, "rung");
	free(bad);
	bad = replace(json, "\"v\":1", "\"v\":2");
	expect_lease_error(bad, "\"v\"");
	free(bad);
	bad = replace(json, "\"slot_size\":256", "\"slot_size\":8");
	expect_lease_error(bad, "slot_size");
	free(bad);
	free(json);
}

static void test_lease_accessors(void **state)
{
	struct fixture *f = *state;
	struct faas_lease *lease = NULL;

	assert_int_equal(faas_lease_workers(f->lease), WORKERS);
	assert_string_equal(faas_lease_id(f->lease), "test-lease");
	assert_string_equal(faas_lease_provider(f->lease), "mock");
	assert_int_equal(faas_lease_max_payload(f->lease), SLOT_SIZE - WIRE_REQ_LEN);
	assert_int_equal(faas_lease_from_json(NULL, &lease, NULL, 0), FAAS_EINVAL);
	assert_int_equal(faas_lease_workers(NULL), FAAS_EINVAL);
	assert_int_equal(faas_lease_max_payload(NULL), 0);
	/* nothing was opened for a lease */
	assert_int_equal(mock.opens, 0);
}

static void test_strerror(void **state)
{
	static const int codes[] = {
	    FAAS_OK,	     FAAS_EINVAL,  FAAS_ENOMEM,	  FAAS_ELEASE,
	    FAAS_ENOFUNC,    FAAS_ETOOBIG, FAAS_EOUTSIZE, FAAS_EFUNC,
	    FAAS_ETIMEDOUT,  FAAS_EAUTH,   FAAS_EEVICTED, FAAS_EUNAVAIL,
	    FAAS_ETRANSPORT, FAAS_EPROTO,  FAAS_EBUSY,	  FAAS_EINPROGRESS,
	};
	const size_t n = sizeof(codes) / sizeof(codes[0]);
	const char *unknown = faas_strerror(-1000);

	assert_non_null(unknown);
	assert_true(*unknown);
	assert_string_equal(faas_strerror(1), unknown);
	for (size_t i = 0; i < n; i++) {
		const char *s = faas_strerror(codes[i]);

		assert_non_null(s);
		assert_true(*s);
		if (strcmp(s, unknown) == 0)
			fail_msg("code %d has no message of its own", codes[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(s, faas_strerror(codes[j])) == 0)
				fail_msg("codes %d and %d share \"%s\"", codes[i], codes[j], s);
	}
}

/* ---- handshake ----------------------------------------------------------------- */

static void test_connect(void **state)
{
	struct fixture *f = *state;
	unsigned byes[WORKERS] = {0};

	connect_with(f, &default_opts);
	for (unsigned w = 0; w < WORKERS; w++) {
		/* one HELLO each, to the address the lease names */
		assert_true(fake.hellos[w] >= 1);
		assert_int_equal(mock_peer(MOCK_PEER_BASE + w)->len, 3);
		assert_memory_equal(mock_peer(MOCK_PEER_BASE + w)->name, w ? "wk1" : "wk0", 3);
	}
	/* destroy says goodbye to each worker with its cookie */
	faas_client_destroy(f->c);
	f->c = NULL;
	for (unsigned i = 0; i < mock.nmsgs; i++) {
		struct wire_msg m;

		assert_int_equal(wire_msg_decode(mock.msgs[i].data, mock.msgs[i].len, &m), 0);
		if (m.type != WIRE_BYE)
			continue;
		assert_int_equal(m.u.bye.cookie, COOKIE(worker_of(mock.msgs[i].peer)));
		byes[worker_of(mock.msgs[i].peer)]++;
	}
	assert_int_equal(byes[0], 1);
	assert_int_equal(byes[1], 1);
}

static void test_connect_refused(void **state)
{
	struct fixture *f = *state;

	fake.welcome_status[1] = WIRE_AUTH;
	assert_int_equal(faas_client_create(f->lease, &default_opts, &f->c), FAAS_EAUTH);
	assert_null(f->c);
}

static void test_connect_unavailable(void **state)
{
	struct faas_client_options opts = default_opts;
	struct fixture *f = *state;
	struct timespec t0;

	fake.welcome = false;
	opts.connect_timeout_ms = 50;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(faas_client_create(f->lease, &opts, &f->c), FAAS_EUNAVAIL);
	assert_true(elapsed_ms(&t0) >= 50);
	assert_null(f->c);
	assert_true(fake.hellos[0] >= 1 && fake.hellos[1] >= 1);
}

static void test_connect_no_slots(void **state)
{
	struct fixture *f = *state;

	fake.welcome_status[0] = -ENOSPC;
	fake.welcome_status[1] = -ENOSPC;
	assert_int_equal(faas_client_create(f->lease, &default_opts, &f->c), FAAS_EBUSY);
	assert_null(f->c);
}

static void test_connect_one_of_two(void **state)
{
	struct fixture *f = *state;
	char out[8];
	size_t out_len = 0;

	/* a worker without room is left out; the other serves every call */
	fake.welcome_status[0] = -ENOSPC;
	fake.answer = ANSWER_ECHO;
	assert_int_equal(faas_client_create(f->lease, &default_opts, &f->c), FAAS_OK);
	assert_int_equal(faas_client_workers(f->c), 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(faas_invoke(f->c, FN_ECHO, "abc", 3, out, sizeof(out), &out_len),
				 FAAS_OK);
	assert_int_equal(fake.requests[0], 0);
	assert_int_equal(fake.requests[1], 4);
}

/* ---- invocations ----------------------------------------------------------------- */

static void test_function_names(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(faas_function(f->c, "noop"), FN_NOOP);
	assert_int_equal(faas_function(f->c, "echo"), FN_ECHO);
	assert_int_equal(faas_function(f->c, "sum64"), FN_SUM);
	assert_int_equal(faas_function(f->c, "blackscholes"), FAAS_ENOFUNC);
	assert_int_equal(faas_function(f->c, ""), FAAS_ENOFUNC);
	assert_int_equal(faas_function(NULL, "echo"), FAAS_EINVAL);
}

static void test_invoke_echo(void **state)
{
	static const char msg[] = "hello, worker";
	struct fixture *f = *state;
	char out[64];
	size_t out_len = 0;

	fake.answer = ANSWER_ECHO;
	memset(out, 0, sizeof(out));
	assert_int_equal(faas_invoke(f->c, FN_ECHO, msg, sizeof(msg), out, sizeof(out), &out_len),
			 FAAS_OK);
	assert_int_equal(out_len, sizeof(msg));
	assert_memory_equal(out, msg, sizeof(msg));
	/* what the worker got */
	assert_int_equal(fake.last_req.fn, FN_ECHO);
	assert_int_equal(fake.last_req.in_len, sizeof(msg));
	assert_true(fake.last_req.out_cap == sizeof(out));
	assert_int_equal(fake.last_req.flags, 0);
	/* a second call goes through as well (the other worker, round robin) */
	assert_int_equal(faas_invoke(f->c, FN_ECHO, "x", 1, out, sizeof(out), &out_len), FAAS_OK);
	assert_int_equal(out_len, 1);
	assert_int_equal(out[0], 'x');
	assert_int_equal(fake.requests[0], 1);
	assert_int_equal(fake.requests[1], 1);
	assert_int_equal(faas_inflight(f->c), 0);
}

static void test_invoke_max_payload(void **state)
{
	struct fixture *f = *state;
	size_t max = faas_lease_max_payload(f->lease), out_len = 0;
	unsigned puts = mock.nputs, msgs = mock.nmsgs;
	char *in = calloc(1, max + 1), *out = calloc(1, max + 1);

	assert_non_null(in);
	assert_non_null(out);
	fake.answer = ANSWER_ECHO;
	assert_int_equal(faas_invoke(f->c, FN_ECHO, in, max + 1, out, max + 1, &out_len),
			 FAAS_ETOOBIG);
	/* refused before anything reached the fabric */
	assert_int_equal(mock.nputs, puts);
	assert_int_equal(mock.nmsgs, msgs);
	assert_int_equal(mock_queued(), 0);
	/* exactly the maximum goes */
	memset(in, 0x5a, max);
	assert_int_equal(faas_invoke(f->c, FN_ECHO, in, max, out, max, &out_len), FAAS_OK);
	assert_int_equal(out_len, max);
	assert_memory_equal(out, in, max);
	free(in);
	free(out);
}

static void test_invoke_unknown_function(void **state)
{
	struct fixture *f = *state;
	unsigned puts = mock.nputs;
	char out[8];

	fake.answer = ANSWER_ECHO;
	assert_int_equal(faas_invoke(f->c, 3, "x", 1, out, sizeof(out), NULL), FAAS_ENOFUNC);
	assert_int_equal(faas_invoke(f->c, 0xffff, "x", 1, out, sizeof(out), NULL), FAAS_ENOFUNC);
	assert_int_equal(faas_invoke(f->c, -1, "x", 1, out, sizeof(out), NULL), FAAS_EINVAL);
	assert_int_equal(mock.nputs, puts);
	/* and the worker's own verdict */
	fake.answer = ANSWER_STATUS;
	fake.status = WIRE_NOFUNC;
	assert_int_equal(faas_invoke(f->c, FN_SUM, "x", 1, out, sizeof(out), NULL), FAAS_ENOFUNC);
}

static void test_invoke_statuses(void **state)
{
	static const struct {
		enum wire_status status;
		int want;
	} cases[] = {
	    {WIRE_FUNC, FAAS_EFUNC}, {WIRE_OUTSIZE, FAAS_EOUTSIZE}, {WIRE_TOOBIG, FAAS_ETOOBIG},
	    {WIRE_AUTH, FAAS_EAUTH}, {WIRE_BADHDR, FAAS_EPROTO},
	};
	struct fixture *f = *state;
	size_t out_len = 99;
	char out[8];

	fake.answer = ANSWER_STATUS;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake.status = cases[i].status;
		assert_int_equal(faas_invoke(f->c, FN_ECHO, "x", 1, out, sizeof(out), &out_len),
				 cases[i].want);
	}
	/* WIRE_EVICTED hands the call back unstarted: it moves to the other
	 * worker, which hands it back too; then nothing is left */
	fake.status = WIRE_EVICTED;
	assert_int_equal(faas_invoke(f->c, FN_ECHO, "x", 1, out, sizeof(out), &out_len),
			 FAAS_EEVICTED);
	assert_int_equal(faas_client_retries(f->c), 1);
	assert_int_equal(fake.requests[0] + fake.requests[1], sizeof(cases) / sizeof(cases[0]) + 2);
	assert_int_equal(faas_client_workers(f->c), 0);
}

/* What the caller learns of a function's failure: its code and message
 * (sanitized), the size it needed; "" after a success. */
static void test_last_error(void **state)
{
	static const char msg[] = "bad\tinput\n\x01x";
	struct fixture *f = *state;
	char out[32], big[SLOT_SIZE];
	size_t out_len = 99;

	assert_string_equal(faas_last_error(f->c), "");
	assert_int_equal(faas_last_fn_rc(f->c), 0);
	fake.answer = ANSWER_FUNC_MSG;
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(
	    faas_invoke(f->c, FN_ECHO, msg, sizeof(msg) - 1, out, sizeof(out), &out_len),
	    FAAS_EFUNC);
	assert_int_equal(out_len, 0);
	assert_int_equal(faas_last_fn_rc(f->c), 22);
	assert_string_equal(faas_last_error(f->c), "function echo returned 22: bad?input??x");
	/* the message ends at a NUL */
	assert_int_equal(faas_invoke(f->c, FN_ECHO, "oops\0hidden", 11, out, sizeof(out), NULL),
			 FAAS_EFUNC);
	assert_string_equal(faas_last_error(f->c), "function echo returned 22: oops");
	/* a message longer than out_cap (or WIRE_FUNC_MSG_MAX) is a protocol error */
	memset(big, 'm', sizeof(big));
	assert_int_equal(faas_invoke(f->c, FN_ECHO, big, sizeof(out) + 1, out, sizeof(out), NULL),
			 FAAS_EPROTO);
	assert_int_equal(faas_last_fn_rc(f->c), 0);
	assert_non_null(strstr(faas_last_error(f->c), "worker"));

	fake.answer = ANSWER_OUTSIZE;
	fake.needed = 1000;
	out_len = 0;
	assert_int_equal(faas_invoke(f->c, FN_ECHO, "x", 1, out, sizeof(out), &out_len),
			 FAAS_EOUTSIZE);
	assert_int_equal(out_len, 1000);
	assert_int_equal(faas_last_fn_rc(f->c), 0);
	assert_string_equal(faas_last_error(f->c),
			    "function echo needed 1000 bytes of output, out_cap was 32");

	fake.answer = ANSWER_ECHO;
	assert_int_equal(faas_invoke(f->c, FN_ECHO, "x", 1, out, sizeof(out), &out_len), FAAS_OK);
	assert_string_equal(faas_last_error(f->c), "");
	/* a call that could not start says why too */
	assert_int_equal(faas_invoke(f->c, FN_ECHO, big, SLOT_SIZE, out, sizeof(out), NULL),
			 FAAS_ETOOBIG);
	assert_non_null(strstr(faas_last_error(f->c), "at most"));
}

static void test_stale_reply_times_out(void **state)
{
	struct faas_client_options opts = default_opts;
	struct fixture *f = *state;
	char out[16] = "untouched";
	size_t out_len = 99;
	struct timespec t0;

	opts.timeout_ms = 50;
	connect_with(f, &opts);
	fake.answer = ANSWER_STALE;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(faas_invoke(f->c, FN_ECHO, "stale", 5, out, sizeof(out), &out_len),
			 FAAS_ETIMEDOUT);
	assert_true(elapsed_ms(&t0) >= 50);
	assert_int_equal(out_len, 0);
	assert_string_equal(out, "untouched");
	/* the client goes on: later calls are answered */
	fake.answer = ANSWER_ECHO;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(faas_invoke(f->c, FN_ECHO, "fresh", 5, out, sizeof(out), &out_len),
				 FAAS_OK);
		assert_int_equal(out_len, 5);
		assert_memory_equal(out, "fresh", 5);
	}
}

static void test_no_reply_times_out(void **state)
{
	struct faas_client_options opts = default_opts;
	struct fixture *f = *state;
	char out[16];

	opts.timeout_ms = 30;
	connect_with(f, &opts);
	fake.answer = ANSWER_NONE;
	assert_int_equal(faas_invoke(f->c, FN_NOOP, NULL, 0, out, sizeof(out), NULL),
			 FAAS_ETIMEDOUT);
	assert_int_equal(faas_inflight(f->c), 0);
}

static void test_evicted(void **state)
{
	struct fixture *f = *state;
	char out[16];
	size_t out_len = 0;
	unsigned gone, other;

	/* the worker running the call is evicted: the call moves to the other
	 * worker and succeeds there */
	fake.evicted = -1;
	fake.answer = ANSWER_EVICT_ONCE;
	assert_int_equal(faas_invoke(f->c, FN_ECHO, "x", 1, out, sizeof(out), &out_len), FAAS_OK);
	assert_int_equal(out_len, 1);
	assert_int_equal(out[0], 'x');
	assert_int_equal(faas_client_retries(f->c), 1);
	assert_true(fake.evicted == 0 || fake.evicted == 1);
	gone = (unsigned)fake.evicted;
	other = 1 - gone;
	assert_int_equal(fake.requests[gone], 1);
	assert_int_equal(fake.requests[other], 1);
	assert_int_equal(faas_client_workers(f->c), WORKERS - 1);
	assert_int_equal(faas_inflight(f->c), 0);
	/* the other worker serves everything from now on */
	for (int i = 0; i < 3; i++)
		assert_int_equal(faas_invoke(f->c, FN_ECHO, "y", 1, out, sizeof(out), &out_len),
				 FAAS_OK);
	assert_int_equal(fake.requests[gone], 1);
	assert_int_equal(fake.requests[other], 4);
	/* until it goes too: nowhere left to move the call */
	fake.answer = ANSWER_EVICT;
	assert_int_equal(faas_invoke(f->c, FN_ECHO, "z", 1, out, sizeof(out), &out_len),
			 FAAS_EEVICTED);
	assert_int_equal(faas_client_workers(f->c), 0);
	assert_int_equal(faas_client_retries(f->c), 1);
	fake.answer = ANSWER_ECHO;
	assert_int_equal(faas_invoke(f->c, FN_ECHO, "z", 1, out, sizeof(out), &out_len),
			 FAAS_EEVICTED);
}

/* Sessions: calls carry the session, state comes back whole or is lost
 * (never a miscounted copy), and an evicted session's calls are not moved. */
static void test_session(void **state)
{
	struct fixture *f = *state;
	struct faas_session *s;
	const void *st;
	char out[16];
	size_t out_len = 0, len;
	int rc;

	fake.answer = ANSWER_SESSION;
	assert_int_equal(faas_session_open(f->c, 1, 1000, &s), FAAS_OK);
	assert_int_equal(faas_session_worker(s), 1);
	assert_true(fake.session_cap == 1000);
	assert_int_equal(faas_session_invoke(s, FN_ECHO, "ab", 2, out, sizeof(out), &out_len),
			 FAAS_OK);
	assert_int_equal(out_len, 2);
	assert_int_equal(fake.last_req.flags, WIRE_OP_CALL);
	assert_true(fake.last_req.session == SESSION_ID);
	assert_int_equal(faas_session_state(s, &st, &len), FAAS_ENOSESSION); /* none yet */
	/* a state of three chunks comes back */
	for (size_t i = 0; i < sizeof(fake.state); i++)
		fake.state[i] = (char)(i * 3);
	fake.state_len = 600;
	fake.swap = SWAP_GOOD;
	assert_int_equal(faas_session_save(s), FAAS_OK);
	assert_int_equal(faas_session_state(s, &st, &len), FAAS_OK);
	assert_int_equal(len, 600);
	assert_memory_equal(st, fake.state, 600);
	/* a trailer that names one chunk more than came: lost, not stale */
	fake.swap = SWAP_MISCOUNT;
	assert_int_equal(faas_session_save(s), FAAS_ESTATELOST);
	assert_int_equal(faas_session_state(s, &st, &len), FAAS_ESTATELOST);
	/* the worker gives up */
	fake.swap = SWAP_LOSE;
	assert_int_equal(faas_session_save(s), FAAS_ESTATELOST);
	fake.swap = SWAP_GOOD;
	assert_int_equal(faas_session_save(s), FAAS_OK);
	/* a call that ran makes it stale */
	assert_int_equal(faas_session_invoke(s, FN_ECHO, "c", 1, out, sizeof(out), &out_len),
			 FAAS_OK);
	assert_int_equal(faas_session_state(s, &st, &len), FAAS_ENOSESSION);
	/* evicted: the call is not moved to worker 0, and nothing more comes */
	setenv("FAAS_SWAP_TIMEOUT_MS", "1", 1);
	fake.answer = ANSWER_EVICT;
	assert_int_equal(faas_session_invoke(s, FN_ECHO, "c", 1, out, sizeof(out), &out_len),
			 FAAS_EEVICTED);
	assert_int_equal(faas_client_retries(f->c), 0);
	assert_int_equal(fake.requests[0], 0);
	/* the copy saved before that call is stale now: with nothing swapped
	 * back within FAAS_SWAP_TIMEOUT_MS (1 ms), the state is lost */
	for (int i = 0; i < 1000000 && (rc = faas_session_state(s, &st, &len)) == FAAS_EINPROGRESS;
	     i++)
		;
	assert_int_equal(rc, FAAS_ESTATELOST);
	assert_int_equal(faas_session_invoke(s, FN_ECHO, "c", 1, out, sizeof(out), &out_len),
			 FAAS_EEVICTED);
	unsetenv("FAAS_SWAP_TIMEOUT_MS");
	faas_session_close(s);
	/* a session on a worker that is gone cannot open */
	assert_int_equal(faas_session_open(f->c, 1, 1000, &s), FAAS_EEVICTED);
	assert_int_equal(faas_session_open(f->c, 2, 1000, &s), FAAS_EINVAL);
	assert_int_equal(faas_session_open(f->c, 0, 0, &s), FAAS_EINVAL);
}

/* An async call moved by an eviction is collected through the handle the
 * caller got, by faas_wait_any as by faas_wait. */
/* issue 11: an EVICT without the lease's token (anyone who learnt a
 * client's address and cookie) changes nothing */
static void test_forged_evict_ignored(void **state)
{
	struct fixture *f = *state;
	char out[16];
	size_t out_len = 0;

	fake.answer = ANSWER_FORGED_EVICT;
	for (int i = 0; i < 2 * WORKERS; i++)
		assert_int_equal(faas_invoke(f->c, FN_ECHO, "x", 1, out, sizeof(out), &out_len),
				 FAAS_OK);
	assert_int_equal(faas_client_workers(f->c), WORKERS);
	assert_int_equal(faas_client_retries(f->c), 0);
}

static void test_evicted_async(void **state)
{
	struct fixture *f = *state;
	struct faas_call *a, *b, *done;
	char out_a[16], out_b[16];
	size_t len = 0;

	fake.evicted = -1;
	fake.answer = ANSWER_EVICT_ONCE;
	assert_int_equal(faas_invoke_async(f->c, FN_ECHO, "a", 1, out_a, sizeof(out_a), &a),
			 FAAS_OK);
	assert_int_equal(faas_invoke_async(f->c, FN_ECHO, "b", 1, out_b, sizeof(out_b), &b),
			 FAAS_OK);
	assert_int_equal(faas_wait_any(f->c, &done, &len), FAAS_OK);
	assert_true(done == a || done == b);
	assert_int_equal(len, 1);
	assert_int_equal(faas_wait(f->c, done == a ? b : a, &len), FAAS_OK);
	assert_int_equal(out_a[0], 'a');
	assert_int_equal(out_b[0], 'b');
	assert_true(faas_client_retries(f->c) >= 1);
	assert_int_equal(faas_inflight(f->c), 0);
}

static void test_zero_copy(void **state)
{
	static const char msg[] = "straight into the buffer";
	struct fixture *f = *state;
	size_t out_len = 0;
	char *out;

	out = faas_buffer_alloc(f->c, 64);
	assert_non_null(out);
	fake.answer = ANSWER_ECHO;
	assert_int_equal(faas_invoke(f->c, FN_ECHO, msg, sizeof(msg), out, 64, &out_len), FAAS_OK);
	assert_int_equal(out_len, sizeof(msg));
	assert_memory_equal(out, msg, sizeof(msg));
	/* the worker was told to write the reply header just before out */
	assert_true(mock_translate(fake.last_req.reply_addr, fake.last_req.reply_key,
				   WIRE_REPLY_LEN) == out - WIRE_REPLY_LEN);
	faas_buffer_free(f->c, out);
}

static void test_async(void **state)
{
	struct fixture *f = *state;
	struct faas_call *a, *b;
	char out_a[8], out_b[8];
	size_t len = 0;

	fake.answer = ANSWER_ECHO;
	assert_int_equal(faas_invoke_async(f->c, FN_ECHO, "aa", 2, out_a, sizeof(out_a), &a),
			 FAAS_OK);
	assert_int_equal(faas_invoke_async(f->c, FN_ECHO, "bbb", 3, out_b, sizeof(out_b), &b),
			 FAAS_OK);
	assert_int_equal(faas_inflight(f->c), 2);
	assert_int_equal(faas_wait(f->c, b, &len), FAAS_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(out_b, "bbb", 3);
	assert_int_equal(faas_inflight(f->c), 1);
	assert_int_equal(faas_wait(f->c, a, &len), FAAS_OK);
	assert_int_equal(len, 2);
	assert_memory_equal(out_a, "aa", 2);
	assert_int_equal(faas_inflight(f->c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lease_errors),
	    cmocka_unit_test_setup_teardown(test_lease_accessors, setup_lease, teardown),
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test_setup_teardown(test_connect, setup_lease, teardown),
	    cmocka_unit_test_setup_teardown(test_connect_refused, setup_lease, teardown),
	    cmocka_unit_test_setup_teardown(test_connect_unavailable, setup_lease, teardown),
	    cmocka_unit_test_setup_teardown(test_connect_no_slots, setup_lease, teardown),
	    cmocka_unit_test_setup_teardown(test_connect_one_of_two, setup_lease, teardown),
	    cmocka_unit_test_setup_teardown(test_function_names, setup_client, teardown),
	    cmocka_unit_test_setup_teardown(test_invoke_echo, setup_client, teardown),
	    cmocka_unit_test_setup_teardown(test_invoke_max_payload, setup_client, teardown),
	    cmocka_unit_test_setup_teardown(test_invoke_unknown_function, setup_client, teardown),
	    cmocka_unit_test_setup_teardown(test_invoke_statuses, setup_client, teardown),
	    cmocka_unit_test_setup_teardown(test_last_error, setup_client, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_reply_times_out, setup_lease, teardown),
	    cmocka_unit_test_setup_teardown(test_no_reply_times_out, setup_lease, teardown),
	    cmocka_unit_test_setup_teardown(test_evicted, setup_client, teardown),
	    cmocka_unit_test_setup_teardown(test_evicted_async, setup_client, teardown),
	    cmocka_unit_test_setup_teardown(test_session, setup_client, teardown),
	    cmocka_unit_test_setup_teardown(test_forged_evict_ignored, setup_client, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_copy, setup_client, teardown),
	    cmocka_unit_test_setup_teardown(test_async, setup_client, teardown),
	};

	return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
