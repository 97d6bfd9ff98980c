/*
 * fuzz_worker: a worker of faas-executor (executor/worker.c) serving what
 * clients send it: HELLO, BYE and any other control message, and request
 * headers written into its slots (the data plane's untrusted input, as the
 * executor decodes it). The transport is tests/unit/mock_transport.c and
 * the function library a fake one (no dlopen), so that everything runs in
 * this process and the worker's state can be checked after each step.
 *
 * Input: one byte of configuration (slots, max depth, slot size), then
 * operations, each an opcode byte and its operands:
 *   HELLO  token good/bad, depth, a name of 1..8 bytes
 *   MSG    up to WIRE_MSG_MAX raw bytes
 *   BYE    the cookie of a welcomed client, or raw bytes; the token good
 *          or bad
 *   PUT    the immediate (a slot number, or raw), then bytes written at the
 *          start of the slot, the cookie optionally set to its owner's
 * Properties: after every step, slot ownership and the clients' records
 * agree; WELCOMEs grant at most max depth slots; replies go to the slot's
 * owner, carry the request's tag and fit the reply buffer; no reply buffer
 * is rewritten while in flight; a HELLO with a wrong token is not answered
 * and adds no peer (no reflection), a BYE with a wrong token drops nobody.
 */
#include "config.h"

#include "faas.h"
#include "fuzz.h"

#include "log.h"
/* the module under test and its mock transport, compiled in: the checks
 * read the worker's private state */
#include "mock_transport.c"
#include "worker.c"

#define OPS_MAX 48 /* each sends at most one message or put: below MOCK_MAX */
#define NAME_MAX_LEN 8

static const uint8_t token[WIRE_TOKEN_LEN] = {0xc0, 0x10, 0xc0, 1, 2,  3,  4,  5,
					      6,    7,	  8,	9, 10, 11, 12, 13};

/* ---- a fake function library ------------------------------------------------ */

static int fn_echo(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len)
{
	if (in_len <= out_cap)
		memcpy(out, in, in_len);
	*out_len = in_len; /* more than out_cap: the worker answers OUTSIZE */
	return 0;
}

static int fn_fill(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len)
{
	memset(out, 0xa5, out_cap);
	*out_len = out_cap;
	return 0;
}

static int fn_fail(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len)
{
	return 42;
}

static fnlib_session_fn fn_count;

fnlib_fn *fnlib_get(const struct fnlib *lib, unsigned id)
{
	static fnlib_fn *const fns[] = {fn_echo, fn_fill, fn_fail};

	if (id == 3) /* fn_count, through fnlib_get_session; non-NULL as fnlib.c's */
		return (fnlib_fn *)(void (*)(void))fn_count;
	return id < sizeof(fns) / sizeof(fns[0]) ? fns[id] : NULL;
}

/* A stateful function (id 3): counts its calls in the session's state. */
static int fn_count(struct faas_state *st, const void *in, size_t in_len, void *out, size_t out_cap,
		    size_t *out_len)
{
	if (st->cap < 1)
		return 1;
	((unsigned char *)st->data)[0]++;
	st->len = 1;
	*out_len = 0;
	return 0;
}

bool fnlib_stateful(const struct fnlib *lib, unsigned id)
{
	return id == 3;
}

fnlib_session_fn *fnlib_get_session(const struct fnlib *lib, unsigned id)
{
	return id == 3 ? fn_count : NULL;
}

/* No per-worker hooks: defined here, as fnlib_get, so that fnlib.c (and its
 * fnlib_get) is not linked in from libexecutor. */
fnlib_init_fn *fnlib_worker_init(const struct fnlib *lib)
{
	return NULL;
}

fnlib_fini_fn *fnlib_worker_fini(const struct fnlib *lib)
{
	return NULL;
}

/* No function with a communicator (faas_invoke_all's). */
fnlib_comm_fn *fnlib_get_comm(const struct fnlib *lib, unsigned id)
{
	return NULL;
}

/* ---- the input -------------------------------------------------------------- */

struct input {
	const uint8_t *p, *end;
};

static bool more(const struct input *in)
{
	return in->p < in->end;
}

static uint8_t byte(struct input *in)
{
	return in->p < in->end ? *in->p++ : 0;
}

static uint32_t u32(struct input *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | byte(in);
	return v;
}

/* ---- checks ----------------------------------------------------------------- */

static void check_state(const struct worker *w)
{
	for (uint32_t s = 0; s < w->cfg->slots; s++) {
		uint32_t o = w->owner[s];
		const struct wclient *c;

		if (!o)
			continue;
		FUZZ_CHECK(o - 1 < w->nclients, "slot %u owned by client %u of %u", s, o - 1,
			   w->nclients);
		c = &w->clients[o - 1];
		FUZZ_CHECK(c->used && s >= c->base && s - c->base < c->depth,
			   "slot %u owned by client %u, which holds %u..+%u (used %d)", s, o - 1,
			   c->base, c->depth, c->used);
	}
	for (unsigned i = 0; i < w->nclients; i++) {
		const struct wclient *c = &w->clients[i];

		if (!c->used)
			continue;
		FUZZ_CHECK(c->depth >= 1 && c->depth <= w->cfg->max_depth &&
			       c->base + c->depth <= w->cfg->slots,
			   "client %u holds %u..+%u of %u slots", i, c->base, c->depth,
			   w->cfg->slots);
		for (uint32_t s = c->base; s < c->base + c->depth; s++)
			FUZZ_CHECK(w->owner[s] == i + 1, "client %u holds slot %u, owned by %u", i,
				   s, w->owner[s]);
	}
	FUZZ_CHECK(mock.reuse_errors == 0, "a reply buffer was rewritten while in flight");
}

/* Checks what the worker sent since the counts in *msgs and *puts. */
static void check_sent(const struct worker *w, unsigned *msgs, unsigned *puts,
		       const struct wire_req *req, int slot)
{
	for (; *msgs < mock.nmsgs; (*msgs)++) {
		const struct mock_msg *s = &mock.msgs[*msgs];
		struct wire_msg m;

		FUZZ_CHECK(wire_msg_decode(s->data, s->len, &m) == 0 && m.type == WIRE_WELCOME,
			   "the worker sent a message that is not a WELCOME");
		if (m.u.welcome.status == 0)
			FUZZ_CHECK(m.u.welcome.depth >= 1 &&
				       m.u.welcome.depth <= w->cfg->max_depth &&
				       m.u.welcome.base + m.u.welcome.depth <= w->cfg->slots,
				   "a WELCOME grants %u..+%u", m.u.welcome.base, m.u.welcome.depth);
	}
	for (; *puts < mock.nputs; (*puts)++) {
		const struct mock_put *p = &mock.puts[*puts];
		const struct wclient *c;

		FUZZ_CHECK(req && slot >= 0 && w->owner[slot], "a reply without a request");
		c = &w->clients[w->owner[slot] - 1];
		FUZZ_CHECK(p->peer == c->peer, "a reply to peer %llu, not the slot's owner's %llu",
			   (unsigned long long)p->peer, (unsigned long long)c->peer);
		FUZZ_CHECK(p->len >= WIRE_REPLY_LEN && p->len <= w->out_size,
			   "a reply of %zu bytes (buffers are %zu)", p->len, w->out_size);
		FUZZ_CHECK(wire_reply_imm_tag(p->imm) == (req->reply_tag & 0x0fffffffu) &&
			       p->addr == req->reply_addr && p->key == req->reply_key,
			   "a reply that does not answer the request");
	}
}

/* The cookie of the client holding slot s, 0 when none. */
static uint32_t cookie_of(const struct worker *w, uint32_t s)
{
	return s < w->cfg->slots && w->owner[s] ? w->clients[w->owner[s] - 1].cookie : 0;
}

static void drain(struct worker *w)
{
	for (int i = 0; i < 8 && worker_step(w, 0) > 0; i++)
		;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz_worker", LOG_LEVEL_ERROR); /* a warning per bad message: quiet */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, data + size};
	struct worker_config cfg = {0};
	atomic_bool stop = false;
	unsigned msgs = 0, puts = 0;
	struct worker *w;
	char err[256];
	uint8_t conf;

	if (size < 1)
		return 0;
	mock_reset();
	conf = byte(&in);
	memcpy(cfg.token, token, sizeof(token));
	cfg.slots = 1 + (conf & 7);
	cfg.max_depth = 1 + ((conf >> 3) & 3);
	cfg.slot_size = conf & 0x20 ? 256 : WIRE_REQ_LEN + 8;
	cfg.mode = WORKER_WARM;
	cfg.stop = &stop;
	if (worker_create(&cfg, 0, -1, &w, err, sizeof(err)) != 0)
		abort();
	for (int op = 0; op < OPS_MAX && more(&in); op++) {
		uint8_t code = byte(&in), buf[WIRE_MSG_MAX];
		unsigned msgs_before = mock.nmsgs, peers_before = mock.npeers, used_before = 0;
		bool bad_token = false;
		struct wire_msg m = {0};
		struct wire_req req = {0};
		size_t n;
		int slot = -1;

		for (unsigned i = 0; i < w->nclients; i++)
			used_before |= (unsigned)w->clients[i].used << i;

		switch (code % 4) {
		case 0: /* HELLO */
			m.type = WIRE_HELLO;
			memcpy(m.u.hello.token, token, sizeof(token));
			bad_token = code & 4;
			if (bad_token)
				m.u.hello.token[code % WIRE_TOKEN_LEN] ^= 1;
			m.u.hello.depth = code & 8 ? u32(&in) : byte(&in);
			m.u.hello.index = byte(&in);
			m.u.hello.name_len = 1 + (byte(&in) % NAME_MAX_LEN);
			for (uint32_t i = 0; i < m.u.hello.name_len; i++)
				m.u.hello.name[i] = byte(&in);
			n = wire_msg_encode(&m, buf);
			mock_queue_msg(buf, n);
			break;
		case 1: /* any message */
			n = byte(&in);
			if (code & 4)
				n += 256;
			for (size_t i = 0; i < n && i < sizeof(buf); i++)
				buf[i] = byte(&in);
			mock_queue_msg(buf, n < sizeof(buf) ? n : sizeof(buf));
			break;
		case 2: /* BYE */
			m.type = WIRE_BYE;
			m.u.bye.cookie = code & 4 ? u32(&in) : cookie_of(w, byte(&in) % cfg.slots);
			memcpy(m.u.bye.token, token, sizeof(token));
			bad_token = code & 8;
			if (bad_token)
				m.u.bye.token[code % WIRE_TOKEN_LEN] ^= 0x80;
			mock_queue_msg(buf, wire_msg_encode(&m, buf));
			break;
		default: { /* PUT */
			uint32_t imm = code & 4 ? u32(&in) : byte(&in) % (cfg.slots + 1);
			char *dst;

			n = byte(&in);
			if (imm < cfg.slots) {
				dst = w->region + (size_t)imm * cfg.slot_size;
				for (size_t i = 0; i < n && i < cfg.slot_size; i++)
					dst[i] = (char)byte(&in);
				if (code & 8) { /* as the slot's owner would */
					uint32_t cookie = htole32(cookie_of(w, imm));

					memcpy(dst, &cookie, sizeof(cookie));
				}
				wire_req_decode(dst, cfg.slot_size, &req);
				slot = (int)imm;
			}
			mock_queue_put(imm);
			break;
		}
		}
		drain(w);
		check_sent(w, &msgs, &puts, slot >= 0 ? &req : NULL, slot);
		check_state(w);
		if (bad_token && code % 4 == 0)
			FUZZ_CHECK(mock.nmsgs == msgs_before && mock.npeers == peers_before,
				   "a HELLO with a wrong token was answered or added a peer");
		if (bad_token)
			for (unsigned i = 0; i < w->nclients; i++)
				FUZZ_CHECK(w->clients[i].used == (bool)(used_before >> i & 1),
					   "a message with a wrong token dropped client %u", i);
	}
	worker_destroy(w);
	FUZZ_CHECK(mock_mrs_live() == 0 && mock.closes == mock.opens,
		   "the worker left registrations");
	return 0;
}
