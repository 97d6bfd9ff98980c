/*
 * test_worker: executor/worker.c, the executor's per-core event loop, over
 * mock_transport.c. The test plays the clients: it queues HELLO/BYE
 * messages and request puts (written into the slot region the worker
 * registered), steps the loop with worker_step (no thread), and checks the
 * WELCOMEs and reply puts the worker sends: slot ownership, cookies,
 * statuses, the reply address and immediate, and dropping clients whose
 * replies fail. Functions come from the example library (FAAS_EXAMPLES_LIB)
 * and from testfns.so (FAAS_TEST_LIB).
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mock_transport.h"
#include "worker.h"

#define SLOTS 4
#define SLOT_SIZE 256
#define MAX_DEPTH 2
#define WORKER_INDEX 3
#define PAYLOAD_MAX (SLOT_SIZE - WIRE_REQ_LEN)
#define REPLY_KEY 0x77
#define REPLY_ADDR(tag) (0x5000u + (tag))

static const uint8_t good_token[WIRE_TOKEN_LEN] = {1, 2,  3,  4,  5,  6,  7,  8,
						   9, 10, 11, 12, 13, 14, 15, 16};

static struct fnlib *examples, *testfns;

struct fixture {
	struct worker_config cfg;
	atomic_bool stop;
	struct worker *w;
	char *region;
	struct transport_mr *out_mr;
};

/* A welcomed client, as the test remembers it. */
struct client {
	uint64_t peer;
	uint32_t base, depth, cookie;
};

static int lib_id(const struct fnlib *lib, const char *name)
{
	for (unsigned i = 0; i < fnlib_count(lib); i++)
		if (strcmp(fnlib_name(lib, i), name) == 0)
			return (int)i;
	fail_msg("function %s is not in the library", name);
	return -1;
}

/* ---- fixtures -------------------------------------------------------------- */

static const char *env_path(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		fail_msg("%s is not set (run through make check)", name);
	return v;
}

static int group_setup(void **state)
{
	char err[512] = "";

	if (fnlib_open(env_path("FAAS_EXAMPLES_LIB"), NULL, &examples, err, sizeof(err)) != 0 ||
	    fnlib_open(env_path("FAAS_TEST_LIB"), "bigout,fail,failmsg,commnop:comm", &testfns, err,
		       sizeof(err)) != 0) {
		fprintf(stderr, "test_worker: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	fnlib_close(examples);
	fnlib_close(testfns);
	return 0;
}

static int setup_lib(void **state, const struct fnlib *lib)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct transport_mr *region_mr;
	char err[512] = "";

	assert_non_null(f);
	mock_reset();
	f->cfg.lib = lib;
	memcpy(f->cfg.token, good_token, WIRE_TOKEN_LEN);
	f->cfg.slot_size = SLOT_SIZE;
	f->cfg.slots = SLOTS;
	f->cfg.max_depth = MAX_DEPTH;
	f->cfg.mode = WORKER_WARM;
	f->cfg.hot_poll_us = 100;
	f->cfg.stop = &f->stop;
	if (worker_create(&f->cfg, WORKER_INDEX, -1, &f->w, err, sizeof(err)) != 0)
		fail_msg("worker_create: %s", err);
	region_mr = mock_mr_find(true, 0);
	assert_non_null(region_mr);
	assert_null(mock_mr_find(true, 1));
	f->region = mock_mr_buf(region_mr);
	f->out_mr = mock_mr_find(false, 0);
	assert_non_null(f->out_mr);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_lib(state, examples);
}

static int setup_testfns(void **state)
{
	return setup_lib(state, testfns);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	worker_destroy(f->w);
	/* no reply buffer was rewritten while the fabric could still read it */
	assert_int_equal(mock.reuse_errors, 0);
	/* everything registered was deregistered, the endpoint closed */
	assert_int_equal(mock_mrs_live(), 0);
	assert_int_equal(mock.closes, mock.opens);
	free(f);
	return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

/* Steps the worker until it has nothing left to do; returns the events handled. */
static int drain(struct fixture *f)
{
	int n, total = 0;

	for (int i = 0; (n = worker_step(f->w, 0)) > 0; i++) {
		total += n;
		if (i == 100)
			fail_msg("the worker never runs out of events");
	}
	assert_int_equal(mock_queued(), 0);
	return total;
}

/* Queues a HELLO from name and runs one step; returns the peer the worker
 * added for it (the one its answer goes to). */
static uint64_t say_hello(struct fixture *f, const char *name, const uint8_t *token, uint32_t depth)
{
	struct wire_msg m = {.type = WIRE_HELLO};
	uint8_t buf[WIRE_MSG_MAX];
	unsigned peers = mock.npeers;

	memcpy(m.u.hello.token, token, WIRE_TOKEN_LEN);
	m.u.hello.depth = depth;
	m.u.hello.index = 40 + WORKER_INDEX; /* the client's numbering, echoed back */
	m.u.hello.name_len = (uint32_t)strlen(name);
	memcpy(m.u.hello.name, name, m.u.hello.name_len);
	mock_queue_msg(buf, wire_msg_encode(&m, buf));
	assert_int_equal(drain(f), 1);
	assert_int_equal(mock.npeers, peers + 1);
	assert_memory_equal(mock.peers[peers].name, name, strlen(name));
	return MOCK_PEER_BASE + peers;
}

/* The latest message sent, which must be a WELCOME to peer. */
static struct wire_msg last_welcome(uint64_t peer)
{
	const struct mock_msg *sent;
	struct wire_msg m;

	assert_true(mock.nmsgs > 0);
	sent = &mock.msgs[mock.nmsgs - 1];
	assert_true(sent->peer == peer);
	assert_int_equal(wire_msg_decode(sent->data, sent->len, &m), 0);
	assert_int_equal(m.type, WIRE_WELCOME);
	assert_int_equal(m.u.welcome.worker, 40 + WORKER_INDEX); /* HELLO.index */
	return m;
}

static struct client connect_client(struct fixture *f, const char *name, uint32_t depth)
{
	struct client c;
	struct wire_msg m;

	c.peer = say_hello(f, name, good_token, depth);
	m = last_welcome(c.peer);
	assert_int_equal(m.u.welcome.status, 0);
	c.base = m.u.welcome.base;
	c.depth = m.u.welcome.depth;
	c.cookie = m.u.welcome.cookie;
	assert_true(c.base + c.depth <= SLOTS);
	return c;
}

static void send_bye_token(struct fixture *f, uint32_t cookie, const uint8_t *token)
{
	struct wire_msg m = {.type = WIRE_BYE};
	uint8_t buf[WIRE_MSG_MAX];

	m.u.bye.cookie = cookie;
	memcpy(m.u.bye.token, token, WIRE_TOKEN_LEN);
	mock_queue_msg(buf, wire_msg_encode(&m, buf));
	assert_int_equal(drain(f), 1);
}

static void send_bye(struct fixture *f, uint32_t cookie)
{
	send_bye_token(f, cookie, good_token);
}

/* Writes [wire_req | payload] into slot, as the client's put does. */
static void write_request(struct fixture *f, uint32_t slot, uint32_t cookie, int fn, uint32_t tag,
			  const void *payload, uint32_t len, uint64_t out_cap)
{
	struct wire_req req = {
	    .cookie = cookie,
	    .reply_tag = tag,
	    .fn = (uint16_t)fn,
	    .in_len = len,
	    .reply_addr = REPLY_ADDR(tag),
	    .reply_key = REPLY_KEY,
	    .out_cap = out_cap,
	};
	char *at = f->region + (size_t)slot * SLOT_SIZE;

	assert_true(slot < SLOTS);
	assert_true(len <= PAYLOAD_MAX);
	wire_req_encode(&req, at);
	if (len)
		memcpy(at + WIRE_REQ_LEN, payload, len);
}

/* A request and the put event that delivers it. */
static void request(struct fixture *f, uint32_t slot, uint32_t cookie, int fn, uint32_t tag,
		    const void *payload, uint32_t len, uint64_t out_cap)
{
	write_request(f, slot, cookie, fn, tag, payload, len, out_cap);
	mock_queue_put(slot);
	assert_true(drain(f) >= 1);
}

/* Put i must be the reply to (peer, tag) with status; returns its header,
 * and its output in out (when not NULL). */
static struct wire_reply check_reply(struct fixture *f, unsigned i, uint64_t peer, uint32_t tag,
				     enum wire_status status, void *out)
{
	const struct mock_put *p;
	struct wire_reply rep;

	assert_true(i < mock.nputs);
	p = &mock.puts[i];
	assert_true(p->peer == peer);
	assert_true(p->addr == REPLY_ADDR(tag));
	assert_true(p->key == REPLY_KEY);
	assert_true(p->mr == f->out_mr);
	assert_true(transport_mr_contains(p->mr, p->src, p->len));
	assert_int_equal(p->imm, wire_reply_imm(tag, status));
	assert_int_equal(wire_reply_decode(p->data, p->len, &rep),
			 status == WIRE_OUTSIZE ? -EMSGSIZE : 0);
	assert_int_equal(rep.reply_tag, tag);
	/* WIRE_OUTSIZE: out_len is the size needed, and nothing follows */
	if (status == WIRE_OUTSIZE)
		assert_int_equal(p->len, WIRE_REPLY_LEN);
	else
		assert_int_equal(p->len, WIRE_REPLY_LEN + rep.out_len);
	if (out && status != WIRE_OUTSIZE)
		memcpy(out, p->data + WIRE_REPLY_LEN, rep.out_len);
	return rep;
}

static struct wire_reply last_reply(struct fixture *f, uint64_t peer, uint32_t tag,
				    enum wire_status status, void *out)
{
	assert_true(mock.nputs > 0);
	return check_reply(f, mock.nputs - 1, peer, tag, status, out);
}

/* ---- creation and handshake --------------------------------------------------- */

static void test_create(void **state)
{
	struct fixture *f = *state;
	struct worker_info info;

	assert_int_equal(mock.opens, 1);
	assert_int_equal(mock_mr_len(mock_mr_find(true, 0)), SLOTS * SLOT_SIZE);
	/* the reply buffer holds a header and a slot's worth of output */
	assert_true(mock_mr_len(f->out_mr) >= WIRE_REPLY_LEN + SLOT_SIZE);
	assert_true(mock.opts.max_put >= WIRE_REPLY_LEN + SLOT_SIZE);
	assert_true(mock.opts.waitable); /* a warm worker sleeps on the CQ */
	worker_info(f->w, &info);
	assert_int_equal(info.addr_len, strlen(MOCK_NAME));
	assert_memory_equal(info.addr, MOCK_NAME, info.addr_len);
	/* the slot address the lease publishes is the region's start */
	assert_true(info.slot_addr == 0);
	assert_true(info.slot_key == MOCK_KEY_BASE);
	assert_string_equal(info.provider, "mock");
	/* nothing was sent and nothing is pending */
	assert_int_equal(worker_step(f->w, 0), 0);
	assert_int_equal(mock.nmsgs, 0);
	assert_int_equal(mock.nputs, 0);
}

static void test_hello_welcome(void **state)
{
	struct fixture *f = *state;
	struct client a, b;

	a = connect_client(f, "client-a", 2);
	assert_int_equal(a.base, 0);
	assert_int_equal(a.depth, 2);
	b = connect_client(f, "client-b", 1);
	assert_int_equal(b.base, 2);
	assert_int_equal(b.depth, 1);
	assert_true(a.peer != b.peer);
	assert_int_equal(mock.nmsgs, 2);
	assert_false(mock_peer(a.peer)->removed);
}

static void test_hello_depth_capped(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "greedy", 1000);

	assert_int_equal(a.depth, MAX_DEPTH);
}

/* issue 11: a hello with a wrong token is not answered: the worker sends
 * nothing to an address nobody vouches for (it would reflect traffic to any
 * address a user names), and the refusal holds no slot */
static void test_hello_wrong_token(void **state)
{
	struct fixture *f = *state;
	struct wire_msg m = {.type = WIRE_HELLO};
	uint8_t buf[WIRE_MSG_MAX];
	unsigned peers = mock.npeers, msgs = mock.nmsgs;
	struct client a, b;

	memcpy(m.u.hello.token, good_token, WIRE_TOKEN_LEN);
	m.u.hello.token[WIRE_TOKEN_LEN - 1] ^= 0x80;
	m.u.hello.depth = 2;
	m.u.hello.name_len = 8;
	memcpy(m.u.hello.name, "intruder", 8);
	for (int i = 0; i < 3; i++)
		mock_queue_msg(buf, wire_msg_encode(&m, buf));
	assert_int_equal(drain(f), 3);
	assert_int_equal(mock.npeers, peers);
	assert_int_equal(mock.nmsgs, msgs);
	/* it holds no slots: two clients still get all four */
	a = connect_client(f, "client-a", 2);
	b = connect_client(f, "client-b", 2);
	assert_int_equal(a.base, 0);
	assert_int_equal(b.base, 2);
}

static void test_enospc(void **state)
{
	struct fixture *f = *state;
	struct wire_msg m;
	uint64_t peer;

	connect_client(f, "client-a", 2);
	connect_client(f, "client-b", 2);
	peer = say_hello(f, "client-c", good_token, 1);
	m = last_welcome(peer);
	assert_int_equal(m.u.welcome.status, -ENOSPC);
	assert_int_equal(m.u.welcome.depth, 0);
	assert_true(mock_peer(peer)->removed);
}

static void test_bye_frees_slots(void **state)
{
	struct fixture *f = *state;
	struct client a, b, c;
	struct wire_msg m;
	uint64_t peer;

	a = connect_client(f, "client-a", 2);
	b = connect_client(f, "client-b", 2);
	/* a BYE with a's cookie but not the lease's token frees nothing
	 * (issue 11: a 32-bit cookie alone dropped another's client) */
	{
		uint8_t bad[WIRE_TOKEN_LEN];

		memcpy(bad, good_token, sizeof(bad));
		bad[0] ^= 1;
		send_bye_token(f, a.cookie, bad);
		assert_false(mock_peer(a.peer)->removed);
	}
	/* a BYE with a cookie nobody holds frees nothing */
	send_bye(f, ~(a.cookie ^ b.cookie));
	peer = say_hello(f, "client-c", good_token, 2);
	m = last_welcome(peer);
	assert_int_equal(m.u.welcome.status, -ENOSPC);
	send_bye(f, a.cookie);
	assert_true(mock_peer(a.peer)->removed);
	assert_false(mock_peer(b.peer)->removed);
	c = connect_client(f, "client-c", 2);
	assert_int_equal(c.base, a.base);
	/* a's old cookie no longer gets a reply from those slots */
	if (a.cookie != c.cookie) {
		request(f, c.base, a.cookie, lib_id(examples, "noop"), 1, "", 0, 0);
		assert_int_equal(mock.nputs, 0);
	}
}

static void test_hello_again_replaces(void **state)
{
	struct fixture *f = *state;
	struct wire_msg hello = {.type = WIRE_HELLO}, again;
	uint8_t buf[WIRE_MSG_MAX];
	struct client a1, a3, b;
	unsigned peers;

	a1 = connect_client(f, "client-a", 2);
	/* a resent hello (its welcome was slow): the same welcome, to the
	 * same peer, with the same slots and cookie, so that calls sent with
	 * the first still land */
	memcpy(hello.u.hello.token, good_token, WIRE_TOKEN_LEN);
	hello.u.hello.depth = 2;
	hello.u.hello.index = 40 + WORKER_INDEX;
	hello.u.hello.name_len = (uint32_t)strlen("client-a");
	memcpy(hello.u.hello.name, "client-a", hello.u.hello.name_len);
	peers = mock.npeers;
	mock_queue_msg(buf, wire_msg_encode(&hello, buf));
	assert_int_equal(drain(f), 1);
	assert_int_equal(mock.npeers, peers);
	again = last_welcome(a1.peer);
	assert_false(mock_peer(a1.peer)->removed);
	assert_int_equal(again.u.welcome.status, 0);
	assert_int_equal(again.u.welcome.base, a1.base);
	assert_int_equal(again.u.welcome.cookie, a1.cookie);
	/* another depth: a new client at the address, which replaces the
	 * entry (its peer and slots) */
	a3 = connect_client(f, "client-a", 1);
	assert_true(mock_peer(a1.peer)->removed);
	assert_false(mock_peer(a3.peer)->removed);
	assert_int_equal(a3.base, 0);
	b = connect_client(f, "client-b", 2);
	assert_int_equal(b.base, 1);
	/* a hello right after its first call: one resent before its welcome
	 * arrived, overtaken by the call: ignored (no new peer, no welcome),
	 * its slots and cookie kept */
	request(f, a3.base, a3.cookie, lib_id(examples, "echo"), 9, "x", 1, 1);
	hello.u.hello.depth = 1;
	peers = mock.npeers;
	mock_queue_msg(buf, wire_msg_encode(&hello, buf));
	drain(f);
	assert_int_equal(mock.npeers, peers);
	assert_false(mock_peer(a3.peer)->removed);
	/* later, a hello from its address is a new process there: a new
	 * entry, the old peer (a stale connection) gone */
	usleep((WORKER_HELLO_LATE_MS + 100) * 1000);
	a1 = connect_client(f, "client-a", 1);
	assert_true(mock_peer(a3.peer)->removed);
	assert_false(mock_peer(a1.peer)->removed);
	assert_true(a1.cookie != a3.cookie || a1.peer != a3.peer);
}

/* ---- invocations --------------------------------------------------------------- */

static void test_echo(void **state)
{
	static const char payload[] = "the quick brown fox";
	struct fixture *f = *state;
	struct client a, b;
	struct wire_reply rep;
	char out[SLOT_SIZE];

	a = connect_client(f, "client-a", 2);
	b = connect_client(f, "client-b", 2);
	request(f, b.base + 1, b.cookie, lib_id(examples, "echo"), 0x0abcdef, payload,
		sizeof(payload), 64);
	assert_int_equal(mock.nputs, 1);
	rep = last_reply(f, b.peer, 0x0abcdef, WIRE_OK, out);
	assert_int_equal(rep.out_len, sizeof(payload));
	assert_int_equal(rep.fn_rc, 0);
	assert_memory_equal(out, payload, sizeof(payload));
	/* and the other client, in its first slot */
	request(f, a.base, a.cookie, lib_id(examples, "echo"), 5, "x", 1, 1);
	assert_int_equal(mock.nputs, 2);
	rep = last_reply(f, a.peer, 5, WIRE_OK, out);
	assert_int_equal(rep.out_len, 1);
	assert_int_equal(out[0], 'x');
}

static void test_full_slot(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "client-a", 1);
	static char payload[PAYLOAD_MAX], out[PAYLOAD_MAX];
	struct wire_reply rep;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)(i * 7);
	/* an out_cap beyond the slot size is capped, not trusted */
	request(f, a.base, a.cookie, lib_id(examples, "echo"), 9, payload, PAYLOAD_MAX, UINT64_MAX);
	rep = last_reply(f, a.peer, 9, WIRE_OK, out);
	assert_int_equal(rep.out_len, PAYLOAD_MAX);
	assert_memory_equal(out, payload, PAYLOAD_MAX);
}

static void test_unknown_function(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "client-a", 1);
	struct wire_reply rep;

	request(f, a.base, a.cookie, (int)fnlib_count(examples), 2, "abc", 3, 64);
	assert_int_equal(mock.nputs, 1);
	rep = last_reply(f, a.peer, 2, WIRE_NOFUNC, NULL);
	assert_int_equal(rep.out_len, 0);
	request(f, a.base, a.cookie, 0xffff, 3, "abc", 3, 64);
	last_reply(f, a.peer, 3, WIRE_NOFUNC, NULL);
}

static void test_function_fails(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "client-a", 1);
	struct wire_reply rep;

	/* the example echo returns 1 when its output does not fit */
	request(f, a.base, a.cookie, lib_id(examples, "echo"), 4, "abcdef", 6, 5);
	assert_int_equal(mock.nputs, 1);
	rep = last_reply(f, a.peer, 4, WIRE_FUNC, NULL);
	assert_int_equal(rep.fn_rc, 1);
	assert_int_equal(rep.out_len, 0);
}

static void test_fn_rc_carried(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "client-a", 1);
	struct wire_reply rep;

	request(f, a.base, a.cookie, lib_id(testfns, "fail"), 11, "in", 2, 64);
	rep = last_reply(f, a.peer, 11, WIRE_FUNC, NULL);
	assert_int_equal(rep.fn_rc, 7);
	assert_int_equal(rep.out_len, 0);
}

static void test_outsize(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "client-a", 1);
	struct wire_reply rep;

	/* the size the function needed reaches the client, not its bytes */
	request(f, a.base, a.cookie, lib_id(testfns, "bigout"), 12, "in", 2, 32);
	rep = last_reply(f, a.peer, 12, WIRE_OUTSIZE, NULL);
	assert_int_equal(rep.out_len, 33);
	assert_int_equal(rep.fn_rc, 0);
	/* also when the client's out_cap exceeds the slot: the function had
	 * the slot's room */
	request(f, a.base, a.cookie, lib_id(testfns, "bigout"), 13, "in", 2, UINT64_MAX);
	rep = last_reply(f, a.peer, 13, WIRE_OUTSIZE, NULL);
	assert_int_equal(rep.out_len, SLOT_SIZE + 1);
}

static void test_fn_message(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "client-a", 1);
	char out[WIRE_FUNC_MSG_MAX];
	struct wire_reply rep;

	/* the message follows the header, with the function's code */
	request(f, a.base, a.cookie, lib_id(testfns, "failmsg"), 14, "bad input", 9, 64);
	rep = last_reply(f, a.peer, 14, WIRE_FUNC, out);
	assert_int_equal(rep.fn_rc, 9);
	assert_int_equal(rep.out_len, 9);
	assert_memory_equal(out, "bad input", 9);
	/* capped to the client's out_cap ... */
	request(f, a.base, a.cookie, lib_id(testfns, "failmsg"), 15, "bad input", 9, 4);
	rep = last_reply(f, a.peer, 15, WIRE_FUNC, out);
	assert_int_equal(rep.out_len, 4);
	assert_memory_equal(out, "bad ", 4);
	/* ... and to the room the function had (and WIRE_FUNC_MSG_MAX) */
	request(f, a.base, a.cookie, lib_id(testfns, "failmsg"), 16, "", 0, UINT64_MAX);
	rep = last_reply(f, a.peer, 16, WIRE_FUNC, out);
	assert_true(rep.out_len == SLOT_SIZE && rep.out_len <= WIRE_FUNC_MSG_MAX);
	/* out_cap 0: no room, no message */
	request(f, a.base, a.cookie, lib_id(testfns, "failmsg"), 17, "x", 1, 0);
	rep = last_reply(f, a.peer, 17, WIRE_FUNC, NULL);
	assert_int_equal(rep.out_len, 0);
}

static void test_wrong_cookie(void **state)
{
	struct fixture *f = *state;
	struct client a, b;

	a = connect_client(f, "client-a", 2);
	b = connect_client(f, "client-b", 2);
	request(f, a.base, a.cookie + 1, lib_id(examples, "echo"), 1, "x", 1, 8);
	assert_int_equal(mock.nputs, 0);
	/* a client cannot use another's slot with its own cookie */
	if (a.cookie != b.cookie) {
		request(f, b.base, a.cookie, lib_id(examples, "echo"), 1, "x", 1, 8);
		assert_int_equal(mock.nputs, 0);
	}
	assert_int_equal(mock.nmsgs, 2); /* the welcomes, nothing else */
}

static void test_unheld_slot(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "client-a", 2);

	request(f, SLOTS - 1, a.cookie, lib_id(examples, "echo"), 1, "x", 1, 8);
	assert_int_equal(mock.nputs, 0);
	/* an immediate beyond the region */
	mock_queue_put(SLOTS);
	mock_queue_put(UINT32_MAX);
	assert_int_equal(drain(f), 2);
	assert_int_equal(mock.nputs, 0);
}

static void test_malformed_header(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "client-a", 1);
	char *slot = f->region + (size_t)a.base * SLOT_SIZE;
	struct wire_req req = {
	    .cookie = a.cookie,
	    .reply_tag = 1,
	    .fn = (uint16_t)lib_id(examples, "echo"),
	    .in_len = PAYLOAD_MAX + 1,
	    .reply_addr = REPLY_ADDR(1),
	    .reply_key = REPLY_KEY,
	    .out_cap = 8,
	};

	/* in_len larger than the slot: the header is otherwise valid, so the
	 * owner is told (WIRE_TOOBIG) instead of waiting for its timeout */
	wire_req_encode(&req, slot);
	mock_queue_put(a.base);
	assert_int_equal(drain(f), 1);
	assert_int_equal(mock.nputs, 1);
	last_reply(f, a.peer, 1, WIRE_TOOBIG, NULL);
	/* flags beyond the session operations: malformed, no reply address
	 * to trust */
	req.in_len = 1;
	req.flags = WIRE_OP_MAX + 1;
	wire_req_encode(&req, slot);
	mock_queue_put(a.base);
	assert_int_equal(drain(f), 1);
	assert_int_equal(mock.nputs, 1);
	/* a call in a session this client never opened: WIRE_NOSESSION */
	req.flags = WIRE_OP_CALL;
	req.session = 42;
	req.reply_tag = 3;
	req.reply_addr = REPLY_ADDR(3);
	wire_req_encode(&req, slot);
	mock_queue_put(a.base);
	assert_int_equal(drain(f), 1);
	assert_int_equal(mock.nputs, 2);
	last_reply(f, a.peer, 3, WIRE_NOSESSION, NULL);
	/* the slot still serves a good request afterwards */
	request(f, a.base, a.cookie, lib_id(examples, "echo"), 2, "y", 1, 8);
	assert_int_equal(mock.nputs, 3);
	last_reply(f, a.peer, 2, WIRE_OK, NULL);
}

/* A request whose input is in the client's memory (RMA_IN, len bytes) and
 * whose output beyond the slot goes to out_rma (RMA_OUT when out_cap says). */
static void request_rma(struct fixture *f, uint32_t slot, uint32_t cookie, int fn, uint32_t tag,
			uint64_t len, uint64_t out_cap)
{
	struct wire_req req = {
	    .cookie = cookie,
	    .reply_tag = tag,
	    .fn = (uint16_t)fn,
	    .flags = WIRE_REQ_RMA_IN | (out_cap > SLOT_SIZE ? WIRE_REQ_RMA_OUT : 0),
	    .reply_addr = REPLY_ADDR(tag),
	    .reply_key = REPLY_KEY,
	    .out_cap = out_cap,
	    .in_rma = {.addr = 0x5000, .key = 77, .len = len},
	    .out_rma = {.addr = 0x9000, .key = 78},
	};

	wire_req_encode(&req, f->region + (size_t)slot * SLOT_SIZE);
	mock_queue_put(slot);
	assert_int_equal(drain(f), 1);
}

/* Without a staging budget a large call is refused, saying what it needed;
 * over WIRE_RMA_MAX it is too big; nothing is read either way. */
static void test_large_refused(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "client-a", 2);
	const struct mock_put *p;
	struct wire_reply rep;

	request_rma(f, a.base, a.cookie, lib_id(examples, "echo"), 3, 100000, 64);
	assert_int_equal(mock.nputs, 1);
	p = &mock.puts[0];
	assert_int_equal(p->imm, wire_reply_imm(3, WIRE_NOSTAGE));
	assert_int_equal(p->len, WIRE_REPLY_LEN);
	assert_int_equal(wire_reply_decode(p->data, p->len, &rep), -EMSGSIZE);
	assert_int_equal(rep.out_len, 100000);
	request_rma(f, a.base, a.cookie, lib_id(examples, "echo"), 4, WIRE_RMA_MAX + 1, 64);
	last_reply(f, a.peer, 4, WIRE_TOOBIG, NULL);
	assert_int_equal(mock.nrmas, 0);
}

/* A rank of a job (a comm function) reads its header and input in its
 * slot: one whose input is in the client's memory is refused as too big,
 * before a byte is read or staging taken, even within the budget. */
static void test_large_comm_refused(void **state)
{
	struct fixture *f = *state;
	atomic_size_t used = 0;
	struct client a;

	f->cfg.staging_used = &used;
	f->cfg.staging_max = 1 << 20;
	a = connect_client(f, "client-a", 2);
	request_rma(f, a.base, a.cookie, lib_id(testfns, "commnop"), 7, 3 * SLOT_SIZE, 64);
	last_reply(f, a.peer, 7, WIRE_TOOBIG, NULL);
	assert_int_equal(mock.nrmas, 0);
	assert_int_equal(used, 0);
}

/* Within the budget: the input is read into staging (from the client's
 * descriptor), the output beyond the slot written to out_rma, and the
 * reply carries only its length; the budget is given back afterwards. */
static void test_large_in_out(void **state)
{
	struct fixture *f = *state;
	atomic_size_t used = 0;
	struct client a;
	const struct mock_put *p;
	struct wire_reply rep;
	const size_t len = 3 * SLOT_SIZE;

	f->cfg.staging_used = &used;
	f->cfg.staging_max = 2 * len + 4096; /* staging comes in pages */
	a = connect_client(f, "client-a", 2);
	mock.rma_fill = 0x42;
	request_rma(f, a.base, a.cookie, lib_id(examples, "echo"), 5, len, len);
	assert_int_equal(mock.nrmas, 2); /* read the input, write the output */
	assert_int_equal(mock.rma_last.addr, 0x9000);
	assert_int_equal(mock.rma_last.key, 78);
	assert_int_equal(mock.rma_last.len, len);
	assert_int_equal(mock.rma_data[0], 0x42);
	assert_int_equal(mock.rma_data[(len < MOCK_DATA_MAX ? len : MOCK_DATA_MAX) - 1], 0x42);
	p = &mock.puts[mock.nputs - 1];
	assert_int_equal(p->imm, wire_reply_imm(5, WIRE_OK));
	assert_int_equal(p->len, WIRE_REPLY_LEN);
	assert_int_equal(wire_reply_decode(p->data, p->len, &rep), -EMSGSIZE);
	assert_int_equal(rep.out_len, len);
	assert_true(used >= 2 * len && used <= f->cfg.staging_max);
	/* a client gone mid-transfer: dropped without a reply */
	mock.rma_rc = -ECONNRESET;
	request_rma(f, a.base, a.cookie, lib_id(examples, "echo"), 6, len, 64);
	assert_int_equal(mock.puts[mock.nputs - 1].imm, wire_reply_imm(5, WIRE_OK));
	assert_true(mock.peers[a.peer - MOCK_PEER_BASE].removed);
	worker_destroy(f->w);
	f->w = NULL;
	assert_int_equal(used, 0);
}

/* A session request of op (wire_op) in session id from the client that
 * holds slot, as its latest put; returns that reply's status. */
static enum wire_status session_op(struct fixture *f, uint32_t slot, uint32_t cookie, int op,
				   uint64_t id, uint32_t tag, const void *payload, uint32_t len)
{
	char *at = f->region + (size_t)slot * SLOT_SIZE;
	struct wire_req req;
	unsigned before = mock.nputs;

	write_request(f, slot, cookie, lib_id(examples, "echo"), tag, payload, len, 64);
	assert_int_equal(wire_req_decode(at, SLOT_SIZE, &req), 0);
	req.flags = (uint16_t)op;
	req.session = id;
	wire_req_encode(&req, at);
	mock_queue_put(slot);
	assert_true(drain(f) >= 1);
	assert_int_equal(mock.nputs, before + 1);
	assert_true(mock.puts[before].addr == REPLY_ADDR(tag));
	return wire_reply_imm_status(mock.puts[before].imm);
}

/* A session belongs to the connection that opened it: another client of the
 * same lease naming its id (a guess, or a leak) can neither call in it nor
 * close it; the owner's goodbye frees it. */
static void test_session_bound_to_connection(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "client-a", 1);
	struct client b = connect_client(f, "client-b", 1);
	uint8_t open[40] = {0};
	uint64_t id, cap = 64;

	memcpy(open, &cap, 8); /* state_cap; swap address, key, len 0, tag 0 */
	assert_int_equal(session_op(f, a.base, a.cookie, WIRE_OP_OPEN, 0, 1, open, sizeof(open)),
			 WIRE_OK);
	memcpy(&id, mock.puts[mock.nputs - 1].data + WIRE_REPLY_LEN, 8);
	assert_true(id != 0);
	assert_int_equal(session_op(f, a.base, a.cookie, WIRE_OP_CALL, id, 2, "x", 1), WIRE_OK);
	/* b, with a's id */
	assert_int_equal(session_op(f, b.base, b.cookie, WIRE_OP_CALL, id, 3, "x", 1),
			 WIRE_NOSESSION);
	assert_int_equal(session_op(f, b.base, b.cookie, WIRE_OP_CLOSE, id, 4, NULL, 0),
			 WIRE_NOSESSION);
	assert_int_equal(session_op(f, b.base, b.cookie, WIRE_OP_SAVE, id, 5, NULL, 0),
			 WIRE_NOSESSION);
	/* a's session is untouched */
	assert_int_equal(session_op(f, a.base, a.cookie, WIRE_OP_CALL, id, 6, "x", 1), WIRE_OK);
	/* a state_cap of 0 or above the limit is refused with a reason */
	cap = 0;
	memcpy(open, &cap, 8);
	assert_int_equal(session_op(f, a.base, a.cookie, WIRE_OP_OPEN, 0, 7, open, sizeof(open)),
			 WIRE_FUNC);
	/* a malformed open (short payload) too */
	assert_int_equal(session_op(f, a.base, a.cookie, WIRE_OP_OPEN, 0, 8, open, 8), WIRE_FUNC);
	/* closed by its owner, the id is gone */
	assert_int_equal(session_op(f, a.base, a.cookie, WIRE_OP_CLOSE, id, 9, NULL, 0), WIRE_OK);
	assert_int_equal(session_op(f, a.base, a.cookie, WIRE_OP_CALL, id, 10, "x", 1),
			 WIRE_NOSESSION);
}

/* A worker told to stop runs no new call: it hands each back (WIRE_EVICTED)
 * so that the client can run it on another worker. */
static void test_stopping_hands_back(void **state)
{
	struct fixture *f = *state;
	struct client a = connect_client(f, "client-a", 1);

	atomic_store(&f->stop, true);
	request(f, a.base, a.cookie, lib_id(examples, "echo"), 5, "late", 4, 8);
	assert_int_equal(mock.nputs, 1);
	last_reply(f, a.peer, 5, WIRE_EVICTED, NULL);
	atomic_store(&f->stop, false);
}

/* ---- reply failures and the reply buffer ------------------------------------------ */

static void test_put_failure_drops_client(void **state)
{
	struct fixture *f = *state;
	struct client a, b, c;

	a = connect_client(f, "client-a", 2);
	b = connect_client(f, "client-b", 2);
	mock.put_rc = -ECONNRESET;
	request(f, a.base, a.cookie, lib_id(examples, "echo"), 1, "x", 1, 8);
	assert_int_equal(mock.nputs, 1); /* it was tried */
	mock.put_rc = 0;
	assert_true(mock_peer(a.peer)->removed);
	assert_false(mock_peer(b.peer)->removed);
	/* a's slots are free again */
	c = connect_client(f, "client-c", 2);
	assert_int_equal(c.base, a.base);
	/* and b is still served */
	request(f, b.base, b.cookie, lib_id(examples, "echo"), 2, "y", 1, 8);
	last_reply(f, b.peer, 2, WIRE_OK, NULL);
}

static void test_tx_error_drops_client(void **state)
{
	struct fixture *f = *state;
	struct client a, b, c;

	a = connect_client(f, "client-a", 2);
	b = connect_client(f, "client-b", 2);
	mock.put_rc = 1; /* not injected: the completion comes later */
	request(f, a.base, a.cookie, lib_id(examples, "echo"), 1, "x", 1, 8);
	mock.put_rc = 0;
	/* an error without a context names no client */
	mock_queue_event(TRANSPORT_EV_TX_ERROR, -EIO, NULL);
	assert_int_equal(drain(f), 1);
	assert_false(mock_peer(a.peer)->removed);
	mock_complete(0, -EIO);
	assert_true(drain(f) >= 1);
	assert_true(mock_peer(a.peer)->removed);
	assert_false(mock_peer(b.peer)->removed);
	c = connect_client(f, "client-c", 2);
	assert_int_equal(c.base, a.base);
}

/* Replies that were not injected stay with the fabric until their completion:
 * a batch of requests must not reuse a reply buffer in flight (the mock
 * counts any put whose source overlaps an outstanding one). */
static void test_pipelined_replies(void **state)
{
	struct fixture *f = *state;
	struct client c[2];
	char payload[16], out[16];

	c[0] = connect_client(f, "client-a", 2);
	c[1] = connect_client(f, "client-b", 2);
	mock.put_rc = 1;
	for (unsigned round = 0; round < 3; round++) {
		unsigned first = mock.nputs;

		for (unsigned k = 0; k < 4; k++) {
			const struct client *to = &c[k / 2];

			snprintf(payload, sizeof(payload), "round %u call %u", round, k);
			write_request(f, to->base + k % 2, to->cookie, lib_id(examples, "echo"),
				      round * 4 + k, payload, sizeof(payload), sizeof(out));
			mock_queue_put(to->base + k % 2);
		}
		assert_true(drain(f) >= 4);
		assert_int_equal(mock.nputs, first + 4);
		for (unsigned k = 0; k < 4; k++) {
			snprintf(payload, sizeof(payload), "round %u call %u", round, k);
			check_reply(f, first + k, c[k / 2].peer, round * 4 + k, WIRE_OK, out);
			assert_memory_equal(out, payload, sizeof(payload));
		}
		assert_int_equal(mock.reuse_errors, 0);
		/* the fabric completes them (some may have been flushed already) */
		for (unsigned i = first; i < mock.nputs; i++)
			if (mock.puts[i].outstanding)
				mock_complete(i, 0);
		drain(f);
	}
	mock.put_rc = 0;
	assert_false(mock_peer(c[0].peer)->removed);
	assert_false(mock_peer(c[1].peer)->removed);
}

/* ---- malformed control messages ---------------------------------------------------- */

static void test_malformed_control(void **state)
{
	struct fixture *f = *state;
	struct wire_msg m = {.type = WIRE_HELLO};
	uint8_t buf[WIRE_MSG_MAX], junk[40];
	size_t len;
	unsigned queued = 0;

	memset(junk, 0xa5, sizeof(junk));
	mock_queue_msg(junk, 0);
	mock_queue_msg(junk, 3);
	mock_queue_msg(junk, sizeof(junk));
	queued += 3;
	/* a HELLO with depth 0, one with a truncated name, one with bad magic */
	memcpy(m.u.hello.token, good_token, WIRE_TOKEN_LEN);
	m.u.hello.name_len = 4;
	memcpy(m.u.hello.name, "abcd", 4);
	len = wire_msg_encode(&m, buf);
	mock_queue_msg(buf, len);
	m.u.hello.depth = 1;
	len = wire_msg_encode(&m, buf);
	mock_queue_msg(buf, len - 1);
	buf[0] ^= 0xff;
	mock_queue_msg(buf, len);
	queued += 3;
	/* messages only a client should get */
	m.type = WIRE_WELCOME;
	mock_queue_msg(buf, wire_msg_encode(&m, buf));
	m.type = WIRE_EVICT;
	mock_queue_msg(buf, wire_msg_encode(&m, buf));
	queued += 2;
	assert_int_equal(drain(f), queued);
	assert_int_equal(mock.nmsgs, 0);
	assert_int_equal(mock.npeers, 0);
	assert_int_equal(mock.nputs, 0);
	/* the worker still welcomes a proper client into the first slots */
	assert_int_equal(connect_client(f, "client-a", 2).base, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hello_welcome, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hello_depth_capped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hello_wrong_token, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enospc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bye_frees_slots, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hello_again_replaces, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_slot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_function, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_function_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fn_rc_carried, setup_testfns, teardown),
	    cmocka_unit_test_setup_teardown(test_fn_message, setup_testfns, teardown),
	    cmocka_unit_test_setup_teardown(test_outsize, setup_testfns, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_cookie, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unheld_slot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_bound_to_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stopping_hands_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_failure_drops_client, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tx_error_drops_client, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_replies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_control, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_in_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_comm_refused, setup_testfns, teardown),
	};

	return cmocka_run_group_tests_name("worker", tests, group_setup, group_teardown);
}
