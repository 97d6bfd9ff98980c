/*
 * session: libfaas's sessions (faas.h, "Sessions"): calls pinned to one
 * worker, where the session's state lives, and that state's swap back to
 * the client when the worker is evicted (executor/session.h has the
 * requests and the swap's puts).
 *
 * Data structures, owned by the client (one thread at a time):
 *   - registry: up to MAX_SESSIONS sessions per client, by slot; a
 *     session's tag (what the worker's swap puts carry) is its slot | a
 *     generation << 12, so a put for a closed session is dropped.
 *   - per session: its worker and id, and a swap buffer [16-byte trailer |
 *     state_cap], registered for the worker's puts. A swap round is
 *     complete when the trailer came (WIRE_SWAP_END) and as many chunks as
 *     it names; a chunk after a complete round starts the next one (the
 *     buffer is being overwritten: no state until it completes); a round
 *     the worker gave up on (WIRE_SWAP_LOST) stays lost.
 */
#include "config.h"

#include "faas.h"
#include "internal.h"
#include "clock.h"

#include "transport.h"
#include "wire.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_SESSIONS 4096 /* 12 bits of the tag */
#define TRAILER WIRE_REPLY_LEN
#define OPEN_LEN 40   /* executor/session.h: SESSION_OPEN_LEN */
#define RESTORE_LEN 8 /* SESSION_RESTORE_LEN */
#define DEFAULT_SWAP_MS 30000

struct session_registry {
	struct faas_session *s[MAX_SESSIONS];
	uint32_t gen[MAX_SESSIONS];
	struct faas_session *retired; /* closed while a swap may still write
				       * into their buffers: freed with the client */
};

struct faas_session {
	struct faas_client *c;
	unsigned worker, slot;
	uint32_t tag;
	uint64_t id;
	size_t cap;
	char *swap; /* [trailer | cap], mapped */
	size_t swap_len;
	struct transport_mr *mr;
	bool open;	    /* on its worker */
	bool gone;	    /* its worker was evicted or died */
	int64_t wait_until; /* gone: how long a swap in progress is waited for */
	/* the swap round */
	unsigned chunks;
	bool ended, complete, lost;
	uint64_t len; /* the trailer's: the state's length */
	struct faas_session *next_retired;
};

static void put_u64(char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static int swap_timeout_ms(void)
{
	const char *v = getenv("FAAS_SWAP_TIMEOUT_MS");
	long n = v ? strtol(v, NULL, 10) : 0;

	return n > 0 && n <= 3600000 ? (int)n : DEFAULT_SWAP_MS;
}

static struct faas_session *by_tag(struct faas_client *c, uint32_t tag)
{
	struct session_registry *r = *client_sessions(c);
	unsigned slot = tag & (MAX_SESSIONS - 1);

	if (!r || !r->s[slot] || r->gen[slot] != tag >> 12)
		return NULL;
	return r->s[slot];
}

void session_on_swap(struct faas_client *c, uint32_t imm)
{
	struct faas_session *s = by_tag(c, wire_reply_imm_tag(imm));
	size_t chunk = client_slot_size(c);
	struct wire_reply rep;

	if (!s)
		return;
	if (s->complete) {
		/* a new round (the eviction's, after a save): the buffer is
		 * being overwritten. A lost round stays lost: what comes after
		 * its verdict is a straggler (faas_session_save starts over) */
		s->chunks = 0;
		s->ended = s->complete = s->lost = false;
	}
	switch (wire_reply_imm_status(imm)) {
	case WIRE_SWAP:
		s->chunks++;
		break;
	case WIRE_SWAP_END:
		s->ended = true;
		/* out_len counts the state after the trailer */
		if (wire_reply_decode(s->swap, s->swap_len, &rep) != 0 || rep.reply_tag != s->tag ||
		    rep.out_len > s->cap ||
		    (uint64_t)rep.fn_rc != (rep.out_len + chunk - 1) / chunk) {
			s->lost = true; /* a trailer that does not add up: no state */
			return;
		}
		s->len = rep.out_len;
		break;
	case WIRE_SWAP_LOST:
		s->ended = s->lost = true;
		return;
	default:
		return;
	}
	if (s->ended && !s->lost && s->chunks == (s->len + chunk - 1) / chunk)
		s->complete = true;
}

void session_call_ran(struct faas_session *s)
{
	if (!s)
		return;
	s->chunks = 0;
	s->ended = s->complete = s->lost = false;
}

void session_worker_gone(struct faas_client *c, unsigned wi, bool dead)
{
	struct session_registry *r = *client_sessions(c);

	for (unsigned i = 0; r && i < MAX_SESSIONS; i++) {
		struct faas_session *s = r->s[i];

		if (!s || s->worker != wi || s->gone)
			continue;
		s->gone = true;
		s->open = false;
		/* evicted: the worker writes the state back before it says so,
		 * and may still be at it; dead: nothing more comes */
		s->wait_until = clock_ns() + (dead ? 0 : (int64_t)swap_timeout_ms() * 1000000);
	}
}

static void session_free(struct faas_session *s)
{
	transport_mr_dereg(s->mr);
	if (s->swap)
		munmap(s->swap, s->swap_len);
	free(s);
}

void session_registry_free(struct session_registry *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < MAX_SESSIONS; i++)
		if (r->s[i])
			session_free(r->s[i]);
	while (r->retired) {
		struct faas_session *s = r->retired;

		r->retired = s->next_retired;
		session_free(s);
	}
	free(r);
}

/* A session record with its swap buffer, in the client's registry. */
static int session_new(struct faas_client *c, size_t cap, struct faas_session **out)
{
	struct session_registry **rp = client_sessions(c);
	struct faas_session *s;
	unsigned slot;

	if (!*rp && !(*rp = calloc(1, sizeof(**rp))))
		return FAAS_ENOMEM;
	for (slot = 0; slot < MAX_SESSIONS && (*rp)->s[slot]; slot++)
		;
	if (slot == MAX_SESSIONS) {
		client_note(c, "this client has 4096 sessions open; close one first");
		return FAAS_EBUSY;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return FAAS_ENOMEM;
	s->c = c;
	s->cap = cap;
	s->swap_len = TRAILER + cap;
	s->swap =
	    mmap(NULL, s->swap_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->swap == MAP_FAILED) {
		free(s);
		return FAAS_ENOMEM;
	}
	if (transport_mr_reg(client_transport(c), s->swap, s->swap_len, true, &s->mr) != 0) {
		munmap(s->swap, s->swap_len);
		free(s);
		return FAAS_ETRANSPORT;
	}
	s->slot = slot;
	(*rp)->gen[slot] = ((*rp)->gen[slot] + 1) & 0xffff;
	s->tag = slot | (*rp)->gen[slot] << 12;
	(*rp)->s[slot] = s;
	*out = s;
	return FAAS_OK;
}

static void session_forget(struct faas_session *s)
{
	struct session_registry *r = *client_sessions(s->c);

	r->s[s->slot] = NULL;
	if (!s->complete && (s->chunks || s->lost || s->gone)) {
		/* a swap that did not complete may have writes on their way
		 * into the buffer: it stays registered until the client goes */
		s->next_retired = r->retired;
		r->retired = s;
		return;
	}
	session_free(s);
}

/* A session operation's failure (WIRE_FUNC with -errno) as the API's. */
static int op_error(struct faas_client *c, int rc)
{
	if (rc != FAAS_EFUNC)
		return rc;
	switch (faas_last_fn_rc(c)) {
	case -ENOSPC:
		return FAAS_EBUSY;
	case -E2BIG:
		return FAAS_ETOOBIG;
	case -ENOMEM:
		return FAAS_ENOMEM;
	case -ETIMEDOUT:
		return FAAS_ESTATELOST;
	default:
		return FAAS_EPROTO;
	}
}

/* The rest of the initial state (from first to len), a slot at a time,
 * pipelined over the client's depth on the session's worker (each request
 * names its offset, so their order does not matter); req: room bytes of
 * scratch (the input is copied when a request is sent). */
static int restore(struct faas_client *c, struct faas_session *s, const char *state, size_t first,
		   size_t len, char *req, size_t room)
{
	struct faas_call *fifo[16];
	unsigned window = client_depth(c) < 16 ? client_depth(c) : 16, head = 0, n = 0;
	int rc = FAAS_OK, wrc;

	for (size_t off = first; off < len || n;) {
		if (!rc && off < len && n < window) {
			size_t k = len - off < room - RESTORE_LEN ? len - off : room - RESTORE_LEN;

			put_u64(req, off);
			memcpy(req + RESTORE_LEN, state + off, k);
			rc = client_send_on(c, s->worker, WIRE_OP_RESTORE, s->id, 0, req,
					    RESTORE_LEN + k, NULL, 0, NULL, &fifo[(head + n) % 16]);
			if (!rc) {
				n++;
				off += k;
				continue;
			}
		}
		if (!n)
			break;
		/* the oldest in flight; the first error wins */
		wrc = faas_wait(c, fifo[head], NULL);
		rc = rc ? rc : wrc;
		head = (head + 1) % 16;
		n--;
		if (rc && off < len)
			off = len; /* stop sending; collect the rest */
	}
	return rc;
}

int faas_session_open_with(struct faas_client *c, int worker, size_t state_cap, const void *state,
			   size_t len, struct faas_session **out)
{
	size_t room, first, slot_size;
	struct faas_session *s;
	char *req, reply[16];
	size_t got;
	uint64_t addr, key;
	int rc, wi;

	if (!c || !out || state_cap == 0 || state_cap > ((size_t)1 << 40) || len > state_cap ||
	    (len && !state))
		return FAAS_EINVAL;
	wi = client_pick_worker(c, worker);
	if (wi < 0)
		return wi;
	slot_size = client_slot_size(c);
	room = slot_size - WIRE_REQ_LEN;
	if (room <= OPEN_LEN)
		return FAAS_ETOOBIG;
	req = malloc(room);
	if (!req)
		return FAAS_ENOMEM;
	rc = session_new(c, state_cap, &s);
	if (rc) {
		free(req);
		return rc;
	}
	s->worker = (unsigned)wi;
	transport_mr_remote(s->mr, s->swap, &addr, &key);
	first = len < room - OPEN_LEN ? len : room - OPEN_LEN;
	put_u64(req, state_cap);
	put_u64(req + 8, addr);
	put_u64(req + 16, key);
	put_u64(req + 24, len);
	put_u64(req + 32, s->tag);
	if (first)
		memcpy(req + OPEN_LEN, state, first);
	rc = client_call_on(c, s->worker, WIRE_OP_OPEN, 0, 0, req, OPEN_LEN + first, reply,
			    sizeof(reply), NULL, &got);
	if (!rc && got != 8)
		rc = FAAS_EPROTO;
	if (!rc) {
		uint64_t id;

		memcpy(&id, reply, 8);
		s->id = le64toh(id);
		s->open = true;
	}
	if (!rc && first < len)
		rc = restore(c, s, state, first, len, req, room);
	free(req);
	if (rc) {
		rc = op_error(c, rc);
		if (s->open)
			client_call_on(c, s->worker, WIRE_OP_CLOSE, s->id, 0, NULL, 0, NULL, 0,
				       NULL, NULL);
		session_forget(s);
		return rc;
	}
	*out = s;
	return FAAS_OK;
}

int faas_session_open(struct faas_client *c, int worker, size_t state_cap,
		      struct faas_session **out)
{
	return faas_session_open_with(c, worker, state_cap, NULL, 0, out);
}

int faas_session_invoke(struct faas_session *s, int fn, const void *in, size_t in_len, void *out,
			size_t out_cap, size_t *out_len)
{
	if (!s || fn < 0 || (in_len && !in) || (out_cap && !out))
		return FAAS_EINVAL;
	if (!s->open) {
		if (out_len)
			*out_len = 0;
		return s->gone ? FAAS_EEVICTED : FAAS_ENOSESSION;
	}
	return client_call_on(s->c, s->worker, WIRE_OP_CALL, s->id, fn, in, in_len, out, out_cap, s,
			      out_len);
}

/* Waits (bounded) for the swap round in progress to complete or fail. */
static int swap_wait(struct faas_session *s, int64_t until)
{
	while (!s->complete && !s->lost) {
		if (clock_ns() > until)
			return FAAS_ETIMEDOUT;
		client_progress(s->c);
	}
	return s->complete ? FAAS_OK : FAAS_ESTATELOST;
}

int faas_session_save(struct faas_session *s)
{
	char reply[16];
	size_t got;
	int rc;

	if (!s)
		return FAAS_EINVAL;
	if (!s->open)
		return s->gone ? FAAS_EEVICTED : FAAS_ENOSESSION;
	/* the round this save starts replaces whatever the buffer held */
	s->chunks = 0;
	s->ended = s->complete = s->lost = false;
	rc = client_call_on(s->c, s->worker, WIRE_OP_SAVE, s->id, 0, NULL, 0, reply, sizeof(reply),
			    NULL, &got);
	if (rc)
		return op_error(s->c, rc);
	/* the reply left after the chunks and the trailer completed at the
	 * worker; their events may still be on their way here */
	return swap_wait(s, clock_ns() + (int64_t)client_timeout_ms(s->c) * 1000000);
}

int faas_session_state(struct faas_session *s, const void **state, size_t *len)
{
	if (!s || !state || !len)
		return FAAS_EINVAL;
	if (!s->complete && !s->lost)
		client_progress(s->c);
	if (s->complete) {
		*state = s->swap + TRAILER;
		*len = s->len;
		return FAAS_OK;
	}
	if (s->lost)
		return FAAS_ESTATELOST;
	if (!s->gone)
		return s->ended || s->chunks ? FAAS_EINPROGRESS : FAAS_ENOSESSION;
	if (clock_ns() > s->wait_until) {
		s->lost = s->ended = true; /* never a partial copy */
		client_note(s->c, "the session's state did not come back before "
				  "FAAS_SWAP_TIMEOUT_MS: its worker was evicted and could not "
				  "write it back in time");
		return FAAS_ESTATELOST;
	}
	return FAAS_EINPROGRESS;
}

int faas_session_resume(struct faas_client *c, int worker, struct faas_session *old,
			struct faas_session **out)
{
	int64_t until = clock_ns() + (int64_t)swap_timeout_ms() * 1000000;
	const void *state;
	size_t len;
	int rc;

	if (!c || !old || !out)
		return FAAS_EINVAL;
	/* bounded even while the old worker, not yet gone, is still at it */
	while ((rc = faas_session_state(old, &state, &len)) == FAAS_EINPROGRESS &&
	       clock_ns() < until)
		;
	if (rc == FAAS_EINPROGRESS)
		rc = FAAS_ESTATELOST;
	if (rc)
		return rc;
	return faas_session_open_with(c, worker, old->cap, state, len, out);
}

int faas_session_worker(const struct faas_session *s)
{
	return s ? (int)s->worker : FAAS_EINVAL;
}

void faas_session_close(struct faas_session *s)
{
	if (!s)
		return;
	if (s->open)
		client_call_on(s->c, s->worker, WIRE_OP_CLOSE, s->id, 0, NULL, 0, NULL, 0, NULL,
			       NULL);
	session_forget(s);
}
