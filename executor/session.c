/*
 * session: a worker's sessions (see session.h for the requests and the
 * swap). Data structures: a fixed table of `max` entries, each with its
 * owner (client entry + cookie + peer), a random 64-bit id, and its state
 * region [16-byte trailer | cap bytes] (mmap'ed, registered for local use
 * by puts). Owned by the worker's thread; no locking.
 */
#include "config.h"

#include "session.h"
#include "clock.h"
#include "faas.h"
#include "log.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#define TRAILER WIRE_REPLY_LEN

struct session {
	bool used;
	uint64_t id;
	struct session_client owner;
	char *region; /* [trailer | cap] */
	size_t region_len;
	struct transport_mr *mr;
	struct faas_state state;
	size_t restored; /* bytes of the initial state received so far ... */
	size_t initial;	 /* ... of its length: calls wait until they are equal */
	uint64_t swap_addr, swap_key;
	uint32_t tag;
	bool unsettled; /* a swap's puts may still read the region: it is never
			 * unmapped (the worker is ending, or a save failed) */
};

struct session_table {
	unsigned max, used;
	size_t max_state;
	struct session *s;
};

static uint64_t get_u64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static void put_u64(char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

int session_table_create(unsigned max, size_t max_state, struct session_table **out)
{
	struct session_table *t = calloc(1, sizeof(*t));

	if (!t || !(t->s = calloc(max ? max : 1, sizeof(*t->s)))) {
		free(t);
		return -ENOMEM;
	}
	t->max = max;
	t->max_state = max_state ? max_state : SESSION_MAX_STATE;
	*out = t;
	return 0;
}

static void session_free(struct session_table *t, struct session *s)
{
	if (!s->unsettled) {
		transport_mr_dereg(s->mr);
		if (s->region)
			munmap(s->region, s->region_len);
	}
	memset(s, 0, sizeof(*s));
	t->used--;
}

void session_table_destroy(struct session_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->max; i++)
		if (t->s[i].used)
			session_free(t, &t->s[i]);
	free(t->s);
	free(t);
}

unsigned session_count(const struct session_table *t)
{
	return t->used;
}

void session_drop_client(struct session_table *t, unsigned index, uint32_t cookie)
{
	for (unsigned i = 0; i < t->max; i++)
		if (t->s[i].used && t->s[i].owner.index == index && t->s[i].owner.cookie == cookie)
			session_free(t, &t->s[i]);
}

/* The session id names, if the client asking owns it. */
static struct session *session_find(struct session_table *t, const struct session_client *c,
				    uint64_t id)
{
	for (unsigned i = 0; i < t->max; i++) {
		struct session *s = &t->s[i];

		if (s->used && s->id == id && s->owner.index == c->index &&
		    s->owner.cookie == c->cookie)
			return s;
	}
	return NULL;
}

/* An error reply: fn_rc = rc, the message as output. */
static enum wire_status fail(int rc, void *out, size_t cap, size_t *out_len, int32_t *fn_rc,
			     const char *msg)
{
	size_t len = strlen(msg);

	if (len > cap)
		len = cap;
	memcpy(out, msg, len);
	*out_len = len;
	*fn_rc = rc;
	return WIRE_FUNC;
}

static enum wire_status open_session(struct session_table *t, const struct session_env *env,
				     const struct session_client *c, const struct wire_req *req,
				     const char *in, void *out, size_t cap, size_t *out_len,
				     int32_t *fn_rc)
{
	struct session *s = NULL;
	uint64_t state_cap, len;
	size_t first;
	char msg[160];

	if (req->in_len < SESSION_OPEN_LEN || cap < 8)
		return fail(-EINVAL, out, cap, out_len, fn_rc, "malformed session open");
	state_cap = get_u64(in);
	len = get_u64(in + 24);
	first = req->in_len - SESSION_OPEN_LEN;
	if (state_cap == 0 || len > state_cap || first > len)
		return fail(-EINVAL, out, cap, out_len, fn_rc,
			    "session open: the state's length exceeds its capacity");
	if (state_cap > t->max_state) {
		snprintf(msg, sizeof(msg),
			 "session state of %llu bytes is above this executor's limit of %zu bytes "
			 "(faas-executor --session-max-state)",
			 (unsigned long long)state_cap, t->max_state);
		return fail(-E2BIG, out, cap, out_len, fn_rc, msg);
	}
	for (unsigned i = 0; i < t->max && !s; i++)
		if (!t->s[i].used)
			s = &t->s[i];
	if (!s) {
		snprintf(msg, sizeof(msg),
			 "this worker holds %u sessions already; close one (faas_session_close)",
			 t->max);
		return fail(-ENOSPC, out, cap, out_len, fn_rc, msg);
	}
	s->region_len = TRAILER + state_cap;
	/* mapped: resident, and charged to the lease's memory, as it is used */
	s->region =
	    mmap(NULL, s->region_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->region == MAP_FAILED) {
		s->region = NULL;
		return fail(-ENOMEM, out, cap, out_len, fn_rc,
			    "no memory for the session's state on the worker");
	}
	if (transport_mr_reg(env->t, s->region, s->region_len, false, &s->mr) != 0) {
		munmap(s->region, s->region_len);
		memset(s, 0, sizeof(*s));
		return fail(-ENOMEM, out, cap, out_len, fn_rc,
			    "cannot register the session's state with the fabric");
	}
	s->used = true;
	t->used++;
	s->owner = *c;
	if (getrandom(&s->id, sizeof(s->id), 0) != sizeof(s->id) || !s->id)
		s->id = (uint64_t)clock_ns() ^ ((uint64_t)(s - t->s) << 48) ^ 1;
	s->state = (struct faas_state){.data = s->region + TRAILER, .len = len, .cap = state_cap};
	s->swap_addr = get_u64(in + 8);
	s->swap_key = get_u64(in + 16);
	s->tag = (uint32_t)get_u64(in + 32) & 0x0fffffffu;
	memcpy(s->state.data, in + SESSION_OPEN_LEN, first);
	s->restored = first;
	s->initial = len;
	put_u64(out, s->id);
	*out_len = 8;
	return WIRE_OK;
}

static enum wire_status restore(struct session *s, const struct wire_req *req, const char *in,
				void *out, size_t cap, size_t *out_len, int32_t *fn_rc)
{
	uint64_t off;
	size_t n;

	if (req->in_len < SESSION_RESTORE_LEN)
		return fail(-EINVAL, out, cap, out_len, fn_rc, "malformed state restore");
	off = get_u64(in);
	n = req->in_len - SESSION_RESTORE_LEN;
	if (off > s->initial || n > s->initial - off || n > s->initial - s->restored)
		return fail(-EINVAL, out, cap, out_len, fn_rc,
			    "state restore beyond the state's length");
	memcpy((char *)s->state.data + off, in + SESSION_RESTORE_LEN, n);
	s->restored += n;
	return WIRE_OK;
}

/* Puts the state to its owner; true when all of it was sent before
 * deadline (clock_ms), else the owner is told it is lost. */
static bool swap_out(struct session *s, const struct session_env *env, int64_t deadline)
{
	size_t len = s->state.len, chunk = env->chunk, chunks = 0, tlen;
	struct wire_reply trailer = {.out_len = len, .reply_tag = s->tag};
	enum wire_status end = WIRE_SWAP_END;
	int rc = 0;

	for (size_t off = 0; off < len && rc >= 0; off += chunk, chunks++) {
		size_t n = len - off < chunk ? len - off : chunk;

		if (clock_ms() > deadline)
			rc = -ETIMEDOUT;
		else
			rc = transport_put(env->t, s->owner.peer, s->region + TRAILER + off, n,
					   s->mr, s->swap_addr + TRAILER + off, s->swap_key,
					   wire_reply_imm(s->tag, WIRE_SWAP), env->tx_ctx);
	}
	if (rc >= 0) {
		int64_t left = deadline - clock_ms();

		rc = left > 0 ? transport_flush(env->t, (int)left) : -ETIMEDOUT;
	}
	if (rc < 0) {
		log_warning("session %016llx: its state (%zu bytes) could not be written back "
			    "in time (%s); its client is told it is lost",
			    (unsigned long long)s->id, len, strerror(-rc));
		end = WIRE_SWAP_LOST;
		chunks = 0;
		s->unsettled = true;
	}
	trailer.fn_rc = (int32_t)chunks;
	wire_reply_encode(&trailer, s->region);
	/* The trailer goes with the state's first bytes again (the same bytes,
	 * or unused room after len) so that it is longer than the provider's
	 * inject size: then it completes here, and the flush below waits until
	 * it has left, before the worker goes on to exit (an injected put may
	 * still sit in rxm's queue when the process ends). */
	tlen = transport_inject_size(env->t) + 1;
	if (tlen < TRAILER)
		tlen = TRAILER;
	if (tlen > s->region_len)
		tlen = s->region_len;
	if (tlen > TRAILER + chunk)
		tlen = TRAILER + chunk; /* at most one slot, the largest put */
	if (transport_put(env->t, s->owner.peer, s->region, tlen, s->mr, s->swap_addr, s->swap_key,
			  wire_reply_imm(s->tag, end), env->tx_ctx) >= 0) {
		int64_t left = deadline - clock_ms();

		transport_flush(env->t, left > 200 ? (int)left : 200);
	}
	return end == WIRE_SWAP_END;
}

enum wire_status session_request(struct session_table *t, const struct session_env *env,
				 const struct fnlib *lib, const struct session_client *c,
				 const struct wire_req *req, const void *in, void *out, size_t cap,
				 size_t *out_len, int32_t *fn_rc)
{
	struct session *s;
	size_t before;
	int rc;

	*out_len = 0;
	*fn_rc = 0;
	if (req->flags == WIRE_OP_OPEN)
		return open_session(t, env, c, req, in, out, cap, out_len, fn_rc);
	s = session_find(t, c, req->session);
	if (!s)
		return WIRE_NOSESSION; /* unknown, or another connection's */
	switch (req->flags) {
	case WIRE_OP_CLOSE:
		session_free(t, s);
		return WIRE_OK;
	case WIRE_OP_RESTORE:
		return restore(s, req, in, out, cap, out_len, fn_rc);
	case WIRE_OP_SAVE:
		if (cap < 8)
			return fail(-EINVAL, out, cap, out_len, fn_rc, "no room for the reply");
		if (!swap_out(s, env, clock_ms() + SESSION_SWAP_MS))
			return fail(-ETIMEDOUT, out, cap, out_len, fn_rc,
				    "the state could not be written back in time");
		put_u64(out, s->state.len);
		*out_len = 8;
		return WIRE_OK;
	case WIRE_OP_CALL:
		break;
	default:
		return WIRE_BADHDR;
	}
	if (s->restored < s->initial)
		return fail(-EAGAIN, out, cap, out_len, fn_rc,
			    "the session's state is not all restored yet");
	if (!fnlib_get(lib, req->fn))
		return WIRE_NOFUNC;
	if (!fnlib_stateful(lib, req->fn)) {
		rc = fnlib_get(lib, req->fn)(in, req->in_len, out, cap, out_len);
	} else {
		before = s->state.len;
		rc = fnlib_get_session(lib, req->fn)(&s->state, in, req->in_len, out, cap, out_len);
		if (s->state.len > s->region_len - TRAILER ||
		    s->state.data != s->region + TRAILER ||
		    s->state.cap != s->region_len - TRAILER) {
			s->state.len = before;
			s->state.data = s->region + TRAILER;
			s->state.cap = s->region_len - TRAILER;
			return fail(-EFAULT, out, cap, out_len, fn_rc,
				    "the function set the state's length beyond its capacity "
				    "or moved its data; the length is as before the call");
		}
	}
	if (rc != 0) {
		*fn_rc = rc;
		if (*out_len > cap)
			*out_len = cap;
		if (*out_len > WIRE_FUNC_MSG_MAX)
			*out_len = WIRE_FUNC_MSG_MAX;
		return WIRE_FUNC;
	}
	if (*out_len > cap) {
		return WIRE_OUTSIZE;
	}
	return WIRE_OK;
}

unsigned session_swap_all(struct session_table *t, const struct session_env *env, int budget_ms)
{
	int64_t deadline = clock_ms() + budget_ms;
	unsigned lost = 0, n = 0;

	for (unsigned i = 0; i < t->max; i++) {
		if (!t->s[i].used)
			continue;
		n++;
		lost += !swap_out(&t->s[i], env, deadline);
	}
	if (n)
		log_info("swapped out %u sessions (%u lost)", n - lost, lost);
	return lost;
}
