/*
 * worker: the executor's per-core event loop.
 *
 * Data structures (owned by the worker's thread once started):
 *   - region: slots x slot_size bytes, registered for remote writes; slot s
 *     holds [wire_req | payload] of the latest request into it.
 *   - owner[s]: 1 + the index of the client holding slot s, 0 when free.
 *   - clients[]: welcomed clients {peer, fabric address, base, depth,
 *     cookie}; a client holds depth consecutive slots.
 *   - outs[]: one registered reply buffer [wire_reply | output] per slot, in one
 *     region; a reply that was not injected keeps its buffer busy until its
 *     own TX_DONE/TX_ERROR (the put's context is the buffer), so replies
 *     to pipelined requests leave back to back.
 *   - backlog: events that arrived while waiting for a free reply buffer,
 *     handled first by the next worker_step (messages copied).
 *   - stage: registered staging memory for payloads beyond the slot (input
 *     fi_read from the client, output fi_write'n to it), reserved from the
 *     executor's staging budget (cfg->staging_used/max), kept for the next
 *     large call and given back after STAGE_KEEP_MS without one.
 *   - abandoned[]: staging of failed transfers whose chunks are still with
 *     the provider (a client that died mid-transfer): its pages are given
 *     back at once (madvise), its mapping and registration once the
 *     provider lets go.
 * Modes: hot spins on the CQ; warm blocks on it; hybrid spins and goes warm
 * after hot_poll_us without an event, and back to hot on the next one.
 * The library's faas_worker_init runs first in the thread (worker_start
 * waits for it), faas_worker_fini last, after the eviction.
 */
#include "config.h"

#include "worker.h"
#include "clock.h"
#include "session.h"
#include "comm.h"
#include "faas.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#define WARM_WAIT_MS 10 /* how long a warm worker sleeps before checking stop */
#define EVENTS 16
#define BACKLOG 256
#define OUT_WAIT_MS 1000      /* longest wait for a reply buffer before dropping a reply */
#define HELLO_REPEAT_MS 60000 /* a client's resent hellos: within its connect timeout */
#define STAGE_KEEP_MS 1000    /* staging kept this long after the last large call */
#define RMA_STALL_MS 5000     /* a transfer that moves nothing this long has failed */

struct wclient {
	bool used;
	uint64_t peer;
	uint8_t addr[WIRE_NAME_MAX];
	size_t addr_len;
	uint32_t base, depth, cookie;
	bool called; /* a request of its came: a hello from its address now is
		      * another client (a new process that got the address) */
	int64_t welcomed_ms;
};

struct wreply {
	char *buf;
	bool busy;
	struct wclient *client; /* who the reply in flight goes to ... */
	uint32_t cookie;	/* ... if the entry still holds that client */
};

struct pending_event {
	struct transport_event ev;
	uint8_t data[WIRE_MSG_MAX]; /* a copied MSG */
};

struct worker {
	const struct worker_config *cfg;
	unsigned index;
	int cpu;
	pthread_t thread;
	bool started;
	struct transport *t;
	char *region;
	struct transport_mr *region_mr;
	char *out; /* slots x out_size */
	size_t out_size;
	struct transport_mr *out_mr;
	struct wreply *outs; /* as many as slots: every request in flight can
			      * have its reply in flight too */
	unsigned nouts, next_out;
	struct pending_event *backlog;
	unsigned backlog_head, backlog_len;
	uint32_t *owner;
	struct wclient *clients;
	unsigned nclients; /* capacity: one per slot at most */
	bool hot;
	struct timespec last_event;
	unsigned long served, refused;
	atomic_ulong calls_ok, calls_failed; /* read by worker_calls from the main thread */
	sem_t init_done;		     /* posted by the thread once faas_worker_init ran */
	int init_rc;			     /* what it returned (0 without a hook) */
	struct log_limit refusals;	     /* wrong tokens: logged at most once a second */
	char *stage;			     /* staging memory (mmap), NULL when none */
	size_t stage_len;		     /* its size, reserved from the budget */
	struct transport_mr *stage_mr;
	int64_t stage_used_ms; /* when the last large call ended */
	bool stage_busy;       /* a large call is being served */
	struct abandoned {
		char *buf;
		size_t len;
		struct transport_mr *mr;
	} * abandoned;
	unsigned nabandoned;
	struct comm *comm;		/* messaging among the lease's workers */
	struct session_table *sessions; /* session.h: state kept between calls */
	struct wreply swap_ctx;		/* the context of the sessions' swap puts */
};

static long elapsed_us(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000000L + (now.tv_nsec - since->tv_nsec) / 1000;
}

/* ---- clients ----------------------------------------------------------- */

static void client_drop(struct worker *w, struct wclient *c)
{
	for (uint32_t s = c->base; s < c->base + c->depth; s++)
		w->owner[s] = 0;
	session_drop_client(w->sessions, (unsigned)(c - w->clients), c->cookie);
	transport_peer_remove(w->t, c->peer);
	c->used = false;
}

/* First fit of depth free consecutive slots; -1 when none. */
static long slots_find(const struct worker *w, uint32_t depth)
{
	uint32_t run = 0;

	for (uint32_t s = 0; s < w->cfg->slots; s++) {
		run = w->owner[s] ? 0 : run + 1;
		if (run == depth)
			return (long)(s + 1 - depth);
	}
	return -1;
}

static void send_welcome(struct worker *w, uint64_t peer, uint32_t index, int status,
			 const struct wclient *c)
{
	struct wire_msg m = {.type = WIRE_WELCOME};
	uint8_t buf[WIRE_MSG_MAX];

	m.u.welcome.status = status;
	m.u.welcome.worker = index;
	if (c) {
		m.u.welcome.base = c->base;
		m.u.welcome.depth = c->depth;
		m.u.welcome.cookie = c->cookie;
	}
	if (transport_msg(w->t, peer, buf, wire_msg_encode(&m, buf)) != 0)
		log_warning("worker %u: cannot answer a client's hello; it will time out",
			    w->index);
}

static void on_hello(struct worker *w, const struct wire_msg *m)
{
	uint32_t depth = m->u.hello.depth;
	struct wclient *c = NULL;
	uint64_t peer;
	long base;

	if (!wire_token_equal(m->u.hello.token, w->cfg->token)) {
		/* no answer: the address came with a message nobody vouches for */
		w->refused++;
		log_limited(&w->refusals, LOG_LEVEL_WARNING,
			    "worker %u: refused a client with a wrong lease token (not answered)",
			    w->index);
		return;
	}
	/* The same address again: a client resends its hello until the
	 * welcome arrives (a loaded machine may take longer than the resend
	 * interval), so a repeat with the same depth, before any call and
	 * within HELLO_REPEAT_MS, gets the same welcome: a second entry with
	 * a new cookie would make the calls the client sends with the first
	 * one land nowhere (its hellos come before its calls). A hello the
	 * client sent before its welcome arrived can also come after its
	 * first calls (sends and RMA writes are not ordered with each
	 * other): within WORKER_HELLO_LATE_MS of the last welcome it is ignored, as
	 * the client has its welcome (replacing the entry would drop its
	 * calls and sessions). Otherwise it is a new client at that address
	 * (a new process got it; the old one is gone; it resends until
	 * answered): it replaces the entry, whose peer goes first, since the
	 * address vector may hand back the same peer for the same address
	 * and the provider's connection to the old process is stale. */
	for (unsigned i = 0; i < w->nclients; i++) {
		struct wclient *o = &w->clients[i];
		uint32_t want = depth > w->cfg->max_depth ? w->cfg->max_depth : depth;

		if (!o->used || o->addr_len != m->u.hello.name_len ||
		    memcmp(o->addr, m->u.hello.name, o->addr_len) != 0)
			continue;
		if (o->depth == want && !o->called &&
		    clock_ms() - o->welcomed_ms < HELLO_REPEAT_MS) {
			o->welcomed_ms = clock_ms();
			send_welcome(w, o->peer, m->u.hello.index, 0, o);
			return;
		}
		if (o->depth == want && o->called &&
		    clock_ms() - o->welcomed_ms < WORKER_HELLO_LATE_MS) {
			log_debug("worker %u: a client's late hello, after its calls: ignored",
				  w->index);
			return;
		}
		client_drop(w, o);
	}
	if (transport_peer_add(w->t, m->u.hello.name, m->u.hello.name_len, &peer) != 0) {
		log_warning("worker %u: a hello carried an unusable fabric address; ignored",
			    w->index);
		return;
	}
	if (depth > w->cfg->max_depth)
		depth = w->cfg->max_depth;
	base = slots_find(w, depth);
	if (base < 0) {
		/* clients that died without a goodbye (killed) give theirs back,
		 * where the fabric can tell (shm watches their processes) */
		for (unsigned i = 0; i < w->nclients; i++)
			if (w->clients[i].used && !transport_peer_alive(w->t, w->clients[i].peer))
				client_drop(w, &w->clients[i]);
		base = slots_find(w, depth);
	}
	for (unsigned i = 0; base >= 0 && i < w->nclients && !c; i++)
		if (!w->clients[i].used)
			c = &w->clients[i];
	if (!c) {
		log_warning("worker %u: no free slots for another client (%u slots, %u per "
			    "client, held by clients that have not said goodbye)",
			    w->index, w->cfg->slots, depth);
		send_welcome(w, peer, m->u.hello.index, -ENOSPC, NULL);
		transport_peer_remove(w->t, peer);
		return;
	}
	*c = (struct wclient){.used = true,
			      .peer = peer,
			      .addr_len = m->u.hello.name_len,
			      .base = (uint32_t)base,
			      .depth = depth,
			      .welcomed_ms = clock_ms()};
	memcpy(c->addr, m->u.hello.name, c->addr_len);
	if (getrandom(&c->cookie, sizeof(c->cookie), 0) != sizeof(c->cookie))
		c->cookie = (uint32_t)(base * 2654435761u) ^ (uint32_t)peer;
	for (uint32_t s = c->base; s < c->base + depth; s++)
		w->owner[s] = (uint32_t)(c - w->clients) + 1;
	log_debug("worker %u: welcomed a client into slots %u..%u", w->index, c->base,
		  c->base + depth - 1);
	send_welcome(w, peer, m->u.hello.index, 0, c);
}

static void on_msg(struct worker *w, const void *data, size_t len)
{
	struct wire_msg m;

	if (wire_msg_decode(data, len, &m) != 0) {
		log_warning("worker %u: dropped a malformed control message (%zu bytes)", w->index,
			    len);
		return;
	}
	switch (m.type) {
	case WIRE_HELLO:
		on_hello(w, &m);
		break;
	case WIRE_PING:
		break; /* a client's liveness probe: arriving is all it asks */
	case WIRE_BYE:
		if (!wire_token_equal(m.u.bye.token, w->cfg->token)) {
			log_limited(&w->refusals, LOG_LEVEL_WARNING,
				    "worker %u: ignored a bye with a wrong lease token", w->index);
			break;
		}
		for (unsigned i = 0; i < w->nclients; i++)
			if (w->clients[i].used && w->clients[i].cookie == m.u.bye.cookie)
				client_drop(w, &w->clients[i]);
		break;
	default:
		log_warning("worker %u: dropped an unexpected control message (type %u)", w->index,
			    m.type);
	}
}

/* ---- invocations ------------------------------------------------------- */

static void backlog_push(struct worker *w, const struct transport_event *ev)
{
	struct pending_event *p;

	/* a comm message goes to the communicator at once: a job that the
	 * backlog starts must find the messages that came before it */
	if (ev->type == TRANSPORT_EV_MSG && comm_on_msg(w->comm, ev->data, ev->len))
		return;
	if (w->backlog_len == BACKLOG) {
		log_warning("worker %u: too many requests while replies are stuck; dropping one",
			    w->index);
		return;
	}
	p = &w->backlog[(w->backlog_head + w->backlog_len++) % BACKLOG];
	p->ev = *ev;
	if (ev->type == TRANSPORT_EV_MSG) {
		size_t len = ev->len < sizeof(p->data) ? ev->len : sizeof(p->data);

		memcpy(p->data, ev->data, len);
		p->ev.data = p->data;
		p->ev.len = len;
	}
}

static void on_tx_done(struct worker *w, const struct transport_event *ev)
{
	struct wreply *r = ev->ctx;

	if (!r)
		return;
	r->busy = false;
	if (ev->type == TRANSPORT_EV_TX_ERROR && r->client && r->client->used &&
	    r->client->cookie == r->cookie) {
		log_warning("worker %u: a reply failed (%s); dropping that client", w->index,
			    strerror(-ev->err));
		client_drop(w, r->client);
	}
}

/* A free reply buffer; waits (bounded) for one, keeping other events. */
static struct wreply *out_get(struct worker *w)
{
	struct transport_event ev[EVENTS];
	int64_t deadline = 0;

	for (;;) {
		for (unsigned n = 0; n < w->nouts; n++) {
			struct wreply *r = &w->outs[(w->next_out + n) % w->nouts];

			if (!r->busy) {
				w->next_out = (unsigned)(r - w->outs) + 1;
				return r;
			}
		}
		if (!deadline) {
			deadline = clock_ms() + OUT_WAIT_MS;
		} else if (clock_ms() > deadline) {
			log_warning("worker %u: replies stuck in the fabric for %d ms", w->index,
				    OUT_WAIT_MS);
			return NULL;
		}
		int n = transport_poll(w->t, ev, EVENTS);

		for (int i = 0; i < n; i++) {
			if (ev[i].type == TRANSPORT_EV_TX_DONE ||
			    ev[i].type == TRANSPORT_EV_TX_ERROR)
				on_tx_done(w, &ev[i]);
			else
				backlog_push(w, &ev[i]);
		}
	}
}

static void reply(struct worker *w, struct wreply *r, struct wclient *c, const struct wire_req *req,
		  enum wire_status status, int32_t fn_rc, size_t out_len)
{
	struct wire_reply rep = {.out_len = out_len, .fn_rc = fn_rc, .reply_tag = req->reply_tag};
	int rc;

	/* out_len is a size for OUTSIZE and NOSTAGE; an output beyond the
	 * inline capacity was written to the client's memory already */
	bool sent = status != WIRE_OUTSIZE && status != WIRE_NOSTAGE &&
		    out_len <= w->out_size - WIRE_REPLY_LEN;

	wire_reply_encode(&rep, r->buf);
	r->client = c;
	r->cookie = c->cookie;
	rc = transport_put(w->t, c->peer, r->buf, WIRE_REPLY_LEN + (sent ? out_len : 0), w->out_mr,
			   req->reply_addr, req->reply_key, wire_reply_imm(req->reply_tag, status),
			   r);
	if (rc < 0) {
		log_warning("worker %u: cannot reply to a client (%s); dropping it", w->index,
			    strerror(-rc));
		client_drop(w, c);
		return;
	}
	r->busy = rc == 1;
	w->served++;
	atomic_fetch_add_explicit(status == WIRE_OK ? &w->calls_ok : &w->calls_failed, 1,
				  memory_order_relaxed);
}

/* ---- staging for large payloads ------------------------------------------ */

static void stage_release(struct worker *w)
{
	if (!w->stage)
		return;
	transport_mr_dereg(w->stage_mr);
	munmap(w->stage, w->stage_len);
	atomic_fetch_sub(w->cfg->staging_used, w->stage_len);
	w->stage = NULL;
	w->stage_mr = NULL;
	w->stage_len = 0;
}

/* Unmaps abandoned staging (after the endpoint, or once nothing pends). */
static void abandoned_free(struct worker *w)
{
	while (w->nabandoned) {
		struct abandoned *a = &w->abandoned[--w->nabandoned];

		transport_mr_dereg(a->mr);
		munmap(a->buf, a->len);
	}
}

/* Gives back idle staging after STAGE_KEEP_MS, and abandoned staging once
 * the provider has let go of it. */
static void stage_tidy(struct worker *w)
{
	if (w->stage && clock_ms() - w->stage_used_ms > STAGE_KEEP_MS)
		stage_release(w);
	if (w->nabandoned && !transport_rma_busy(w->t))
		abandoned_free(w);
}

/* A failed transfer left chunks with the provider: the staging's memory
 * goes back now (budget and pages; a late chunk lands in fresh zero
 * pages), its mapping once they are done. */
static void stage_abandon(struct worker *w)
{
	struct abandoned *n = realloc(w->abandoned, (w->nabandoned + 1) * sizeof(*n));

	if (!n)
		return; /* kept as the staging: the next large call fails at once */
	w->abandoned = n;
	madvise(w->stage, w->stage_len, MADV_DONTNEED);
	atomic_fetch_sub(w->cfg->staging_used, w->stage_len);
	n[w->nabandoned++] = (struct abandoned){w->stage, w->stage_len, w->stage_mr};
	w->stage = NULL;
	w->stage_mr = NULL;
	w->stage_len = 0;
}

/* Staging of at least need bytes: 0, or -ENOSPC (*avail: what the budget
 * had free), -ENOMEM. */
static int stage_get(struct worker *w, size_t need, size_t *avail)
{
	size_t len = (need + 4095) & ~(size_t)4095, used;

	*avail = 0;
	w->stage_busy = true; /* handle() notes when the call ended */
	if (w->stage && w->stage_len >= need)
		return 0;
	stage_release(w);
	if (!w->cfg->staging_used)
		return -ENOSPC;
	used = atomic_load(w->cfg->staging_used);
	do {
		if (used > w->cfg->staging_max || len > w->cfg->staging_max - used) {
			*avail = used < w->cfg->staging_max ? w->cfg->staging_max - used : 0;
			return -ENOSPC;
		}
	} while (!atomic_compare_exchange_weak(w->cfg->staging_used, &used, used + len));
	w->stage = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->stage == MAP_FAILED) {
		w->stage = NULL;
		atomic_fetch_sub(w->cfg->staging_used, len);
		return -ENOMEM;
	}
	w->stage_len = len;
	if (transport_mr_reg(w->t, w->stage, len, false, &w->stage_mr) != 0) {
		w->stage_mr = NULL;
		stage_release(w);
		return -ENOMEM;
	}
	return 0;
}

static void reply(struct worker *w, struct wreply *r, struct wclient *c, const struct wire_req *req,
		  enum wire_status status, int32_t fn_rc, size_t out_len);

/* One transfer between the staging and the client. On failure the staging
 * waits for the provider (stage_tidy), and the client hears WIRE_XFER with
 * the errno in fn_rc: for a bad descriptor, and for a transfer that moved
 * nothing for RMA_STALL_MS (a client that does not progress: its
 * connection is sound, and without a reply it would wait out its call
 * timeout); or, when the fabric lost it (gone, connection closed), is
 * dropped: rxm (libfabric 1.17) crashed on a reply sent after such a
 * failure. */
static int stage_move(struct worker *w, struct wreply *r, struct wclient *c,
		      const struct wire_req *req, enum transport_rma_dir dir, char *buf,
		      const struct wire_rma *rma, size_t len)
{
	int rc = transport_rma(w->t, dir, c->peer, buf, len, w->stage_mr, rma->addr, rma->key,
			       RMA_STALL_MS);

	if (rc) {
		log_warning("worker %u: cannot %s %zu bytes %s the client's memory (%s); the "
			    "call fails",
			    w->index, dir == TRANSPORT_RMA_READ ? "read" : "write", len,
			    dir == TRANSPORT_RMA_READ ? "from" : "to", strerror(-rc));
		if (transport_rma_busy(w->t))
			stage_abandon(w);
		if (rc == -EACCES || rc == -EFAULT || rc == -EINVAL || rc == -ENOKEY ||
		    rc == -EMSGSIZE || rc == -ETIMEDOUT)
			reply(w, r, c, req, WIRE_XFER, -rc, 0);
		else
			client_drop(w, c);
	}
	return rc;
}

static struct session_env session_env(struct worker *w)
{
	return (struct session_env){.t = w->t, .tx_ctx = &w->swap_ctx, .chunk = w->cfg->slot_size};
}

/* A session's request (session.h), or a stateful function called
 * outside a session (WIRE_NOSESSION). */
static void on_session(struct worker *w, struct wreply *r, struct wclient *c,
		       const struct wire_req *req, const char *in)
{
	struct session_client who = {
	    .index = (unsigned)(c - w->clients), .cookie = c->cookie, .peer = c->peer};
	struct session_env env = session_env(w);
	size_t cap = w->out_size - WIRE_REPLY_LEN, out_len = 0;
	enum wire_status st;
	int32_t fn_rc = 0;

	if (req->out_cap < cap)
		cap = req->out_cap;
	if (wire_req_op(req) == WIRE_OP_PLAIN)
		st = WIRE_NOSESSION;
	else
		st = session_request(w->sessions, &env, w->cfg->lib, &who, req, in,
				     r->buf + WIRE_REPLY_LEN, cap, &out_len, &fn_rc);
	reply(w, r, c, req, st, fn_rc, out_len);
}
static void reply_result(struct worker *w, struct wreply *r, struct wclient *c,
			 const struct wire_req *req, int rc, char *out, size_t out_len, size_t cap,
			 size_t inline_cap);
static void run_comm(struct worker *w, struct wreply *r, struct wclient *c,
		     const struct wire_req *req, fnlib_comm_fn *fn, const char *in, size_t in_len,
		     char *out, size_t cap, size_t inline_cap);

/* ---- invocations (continued) ------------------------------------------------ */

static void on_put(struct worker *w, uint32_t slot)
{
	const struct fnlib *lib = w->cfg->lib;
	size_t inline_cap, cap, out_len = 0, in_len, need_in = 0, need_out = 0, out_at, avail;
	struct wire_req req;
	struct wclient *c;
	struct wreply *r;
	const char *in;
	char *out;
	fnlib_comm_fn *comm_fn;
	fnlib_fn *fn;
	int rc;

	if (slot >= w->cfg->slots || !w->owner[slot]) {
		log_warning("worker %u: dropped a request into slot %u, which no client holds",
			    w->index, slot);
		return;
	}
	c = &w->clients[w->owner[slot] - 1];
	in = w->region + (size_t)slot * w->cfg->slot_size;
	rc = wire_req_decode(in, w->cfg->slot_size, &req);
	if (rc != 0 && rc != -EMSGSIZE) {
		/* Without a valid header there is no reply address: drop. */
		log_warning("worker %u: dropped a malformed request in slot %u", w->index, slot);
		return;
	}
	if (req.cookie != c->cookie) {
		/* not the slot's owner: a reply could land anywhere */
		log_warning("worker %u: dropped a request with a wrong cookie in slot %u", w->index,
			    slot);
		return;
	}
	c->called = true;
	r = out_get(w);
	if (!r)
		return; /* the client's call times out */
	if (rc == -EMSGSIZE) {
		reply(w, r, c, &req, WIRE_TOOBIG, 0, 0);
		return;
	}
	if (atomic_load_explicit(w->cfg->stop, memory_order_relaxed)) {
		/* stopping: a call not started yet is handed back, so the
		 * client runs it on another worker of its lease */
		reply(w, r, c, &req, WIRE_EVICTED, 0, 0);
		return;
	}
	if (wire_req_op(&req) != WIRE_OP_PLAIN || fnlib_stateful(lib, req.fn)) {
		/* a session's input is read in the slot: libfaas refuses a
		 * larger one before sending it */
		if (req.flags & WIRE_REQ_RMA_IN)
			reply(w, r, c, &req, WIRE_TOOBIG, 0, 0);
		else
			on_session(w, r, c, &req, in + wire_req_head_len(req.flags));
		return;
	}
	fn = fnlib_get(lib, req.fn);
	comm_fn = fnlib_get_comm(lib, req.fn);
	if (!fn && !comm_fn) {
		reply(w, r, c, &req, WIRE_NOFUNC, 0, 0);
		return;
	}
	in += wire_req_head_len(req.flags);
	in_len = req.in_len;
	inline_cap = w->out_size - WIRE_REPLY_LEN;
	if (req.out_cap < inline_cap)
		inline_cap = req.out_cap;
	cap = inline_cap;
	out = r->buf + WIRE_REPLY_LEN;
	if (comm_fn && (req.flags & WIRE_REQ_RMA_IN)) {
		/* a rank reads its comm header at the start of its input, in the
		 * slot: libfaas refuses such a job before sending it */
		log_warning("worker %u: a job's input (%llu bytes) does not fit the slot; refused",
			    w->index, (unsigned long long)req.in_rma.len);
		reply(w, r, c, &req, WIRE_TOOBIG, 0, 0);
		return;
	}
	/* the lengths are the client's word: bounded by WIRE_RMA_MAX and the
	 * budget before a byte of memory is taken */
	if (req.flags & WIRE_REQ_RMA_IN)
		need_in = req.in_rma.len;
	if ((req.flags & WIRE_REQ_RMA_OUT) && req.out_cap > inline_cap)
		need_out = req.out_cap < WIRE_RMA_MAX ? req.out_cap : WIRE_RMA_MAX;
	/* the output starts 64-byte aligned after the input, as a function's
	 * buffers in the slot are aligned */
	out_at = need_out ? (need_in + 63) & ~(size_t)63 : need_in;
	if (out_at + need_out) {
		rc = stage_get(w, out_at + need_out, &avail);
		if (rc == -ENOSPC || rc == -ENOMEM) {
			log_warning("worker %u: a call needs %zu bytes of staging, the lease's "
				    "budget has %zu free; refused",
				    w->index, out_at + need_out, avail);
			reply(w, r, c, &req, WIRE_NOSTAGE, 0, out_at + need_out);
			return;
		}
		if (rc) {
			reply(w, r, c, &req, WIRE_XFER, 0, 0);
			return;
		}
		if (need_in && stage_move(w, r, c, &req, TRANSPORT_RMA_READ, w->stage, &req.in_rma,
					  need_in) != 0)
			return;
		if (need_in) {
			in = w->stage;
			in_len = need_in;
		}
		if (need_out) {
			out = w->stage + out_at;
			cap = need_out;
		}
		if (atomic_load_explicit(w->cfg->stop, memory_order_relaxed)) {
			/* stopped while the input moved: the client runs it elsewhere */
			reply(w, r, c, &req, WIRE_EVICTED, 0, 0);
			return;
		}
	}
	if (comm_fn) {
		run_comm(w, r, c, &req, comm_fn, in, in_len, out, cap, inline_cap);
		return;
	}
	rc = fn(in, in_len, out, cap, &out_len);
	reply_result(w, r, c, &req, rc, out, out_len, cap, inline_cap);
}

/* The reply for a function that returned rc with out_len bytes of output
 * (or of its message) in out, cap being what out holds: r's buffer, whose
 * capacity is inline_cap, or the staging, whose output beyond inline_cap
 * is written into the client's memory (out_rma) before the reply. */
static void reply_result(struct worker *w, struct wreply *r, struct wclient *c,
			 const struct wire_req *req, int rc, char *out, size_t out_len, size_t cap,
			 size_t inline_cap)
{
	if (rc != 0) {
		/* out[0..out_len) may hold the function's message */
		size_t msg = out_len < cap ? out_len : cap;

		if (msg > WIRE_FUNC_MSG_MAX)
			msg = WIRE_FUNC_MSG_MAX;
		if (msg > inline_cap)
			msg = inline_cap;
		if (out != r->buf + WIRE_REPLY_LEN)
			memcpy(r->buf + WIRE_REPLY_LEN, out, msg);
		reply(w, r, c, req, WIRE_FUNC, rc, msg);
	} else if (out_len > cap) { /* out_len: the size needed; nothing follows */
		reply(w, r, c, req, WIRE_OUTSIZE, 0, out_len);
	} else if (out_len <= inline_cap) {
		if (out != r->buf + WIRE_REPLY_LEN && out_len)
			memcpy(r->buf + WIRE_REPLY_LEN, out, out_len);
		reply(w, r, c, req, WIRE_OK, 0, out_len);
	} else if (stage_move(w, r, c, req, TRANSPORT_RMA_WRITE, out, &req->out_rma, out_len) !=
		   0) {
		return;
	} else {
		reply(w, r, c, req, WIRE_OK, 0, out_len); /* the output is there already */
	}
}

/* A rank of a job (faas_invoke_all): the function runs with the worker's
 * communicator, its output going to out (as for a plain call: r's buffer,
 * or the staging when the client's capacity exceeds the slot). A job ended
 * by an eviction answers WIRE_EVICTED on every rank; one ended by a gone
 * rank or the timeout answers WIRE_FUNC with that FAAS_E* code, whatever
 * the function returned. */
static void run_comm(struct worker *w, struct wreply *r, struct wclient *c,
		     const struct wire_req *req, fnlib_comm_fn *fn, const char *in, size_t in_len,
		     char *out, size_t cap, size_t inline_cap)
{
	int fn_rc = 0, job_status = 0;
	size_t out_len = 0;
	char err[WIRE_FUNC_MSG_MAX];
	int rc = comm_run(w->comm, fn, in, in_len, out, cap, &out_len, &fn_rc, &job_status, err,
			  sizeof(err));

	if (rc) {
		log_warning("worker %u: a job did not start: %s", w->index, err);
		out_len = strlen(err) < cap ? strlen(err) : cap;
		memcpy(out, err, out_len);
		reply_result(w, r, c, req, FAAS_EINVAL, out, out_len, cap, inline_cap);
	} else if (job_status == FAAS_EEVICTED) {
		reply(w, r, c, req, WIRE_EVICTED, 0, 0);
	} else if (job_status) {
		reply_result(w, r, c, req, job_status, out, 0, cap, inline_cap);
	} else {
		reply_result(w, r, c, req, fn_rc, out, out_len, cap, inline_cap);
	}
}

static void handle(struct worker *w, const struct transport_event *ev)
{
	switch (ev->type) {
	case TRANSPORT_EV_PUT:
		on_put(w, ev->imm);
		if (w->stage_busy) { /* kept STAGE_KEEP_MS from the end of a large call */
			w->stage_busy = false;
			w->stage_used_ms = clock_ms();
		}
		break;
	case TRANSPORT_EV_MSG:
		if (!comm_on_msg(w->comm, ev->data, ev->len))
			on_msg(w, ev->data, ev->len);
		break;
	case TRANSPORT_EV_TX_DONE:
	case TRANSPORT_EV_TX_ERROR:
		on_tx_done(w, ev);
		break;
	}
}

/* An event a comm function's wait read that is not the job's. */
static void defer_event(void *arg, const struct transport_event *ev)
{
	backlog_push(arg, ev);
}

int worker_step(struct worker *w, int wait_ms)
{
	struct transport_event ev[EVENTS];
	int n, done = 0;

	while (w->backlog_len) {
		struct pending_event p = w->backlog[w->backlog_head];

		if (p.ev.type == TRANSPORT_EV_MSG)
			p.ev.data = p.data;
		w->backlog_head = (w->backlog_head + 1) % BACKLOG;
		w->backlog_len--;
		handle(w, &p.ev);
		done++;
	}
	if (done)
		return done;
	n = wait_ms ? transport_wait(w->t, ev, EVENTS, wait_ms) : transport_poll(w->t, ev, EVENTS);
	for (int i = 0; i < n; i++) {
		if (ev[i].type == TRANSPORT_EV_PUT) {
			/* a call may run a comm job, which polls the endpoint
			 * (reusing the buffers of this batch's messages): the
			 * rest of the batch waits in the backlog, copied, ahead
			 * of what the job reads */
			for (int j = i + 1; j < n; j++)
				backlog_push(w, &ev[j]);
			handle(w, &ev[i]);
			return i + 1; /* the rest: from the backlog, next */
		}
		handle(w, &ev[i]);
	}
	return n < 0 ? 0 : n;
}

static void evict_clients(struct worker *w)
{
	struct wire_msg m = {.type = WIRE_EVICT};
	uint8_t buf[WIRE_MSG_MAX];

	memcpy(m.u.bye.token, w->cfg->token, WIRE_TOKEN_LEN);
	for (unsigned i = 0; i < w->nclients; i++) {
		if (!w->clients[i].used)
			continue;
		m.u.bye.cookie = w->clients[i].cookie;
		transport_msg(w->t, w->clients[i].peer, buf, wire_msg_encode(&m, buf));
	}
	transport_flush(w->t, 100);
}

/* After stop: hands back the requests already queued (WIRE_EVICTED), then
 * tells every client the worker is going (EVICT). */
static void drain_queued(struct worker *w)
{
	int64_t deadline = clock_ms() + 100; /* bounded even if a client keeps sending */

	while (worker_step(w, 0) > 0 && clock_ms() < deadline)
		;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	fnlib_init_fn *init = fnlib_worker_init(w->cfg->lib);
	fnlib_fini_fn *fini = fnlib_worker_fini(w->cfg->lib);
	unsigned idle = 0, turns = 0;

	/* the library's hook, in this thread, before the first call;
	 * worker_start waits for its verdict */
	w->init_rc = init ? init(w->index) : 0;
	sem_post(&w->init_done);
	if (w->init_rc)
		return NULL;

	w->hot = w->cfg->mode != WORKER_WARM;
	clock_gettime(CLOCK_MONOTONIC, &w->last_event);
	while (!atomic_load_explicit(w->cfg->stop, memory_order_relaxed)) {
		if ((w->stage || w->nabandoned) && (!w->hot || ++turns % 64 == 0))
			stage_tidy(w);
		if (worker_step(w, w->hot ? 0 : WARM_WAIT_MS) > 0) {
			idle = 0;
			if (w->cfg->mode == WORKER_HYBRID) {
				w->hot = true;
				clock_gettime(CLOCK_MONOTONIC, &w->last_event);
			}
		} else if (w->hot && w->cfg->mode == WORKER_HYBRID && ++idle % 1024 == 0 &&
			   elapsed_us(&w->last_event) >= w->cfg->hot_poll_us) {
			w->hot = false;
			log_debug("worker %u: idle for %ld us, going warm", w->index,
				  w->cfg->hot_poll_us);
		}
	}
	drain_queued(w);
	if (session_count(w->sessions)) {
		struct session_env env = session_env(w);

		/* swap, not loss: the states go back to their clients first */
		session_swap_all(w->sessions, &env,
				 w->cfg->swap_ms ? w->cfg->swap_ms : SESSION_SWAP_MS);
	}
	evict_clients(w);
	if (fini)
		fini(w->index); /* after the last call, in this thread */
	log_info("worker %u: stopping after %lu invocations (%lu clients refused)", w->index,
		 w->served, w->refused);
	return NULL;
}

/* ---- lifecycle -------------------------------------------------------- */

int worker_create(const struct worker_config *cfg, unsigned index, int cpu, struct worker **out,
		  char *err, size_t errlen)
{
	size_t region_len = (size_t)cfg->slots * cfg->slot_size;
	struct transport_opts topts = cfg->transport;
	struct worker *w;
	int rc;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = cfg;
	w->index = index;
	w->refusals = (struct log_limit)LOG_LIMIT_INIT(1000, "refused hellos and byes");
	w->cpu = cpu;
	w->nclients = cfg->slots;
	w->out_size = WIRE_REPLY_LEN + cfg->slot_size;
	w->owner = calloc(cfg->slots, sizeof(*w->owner));
	w->clients = calloc(w->nclients, sizeof(*w->clients));
	/* mapped, not allocated: the kernel's zeroed pages, resident (and
	 * charged to the lease's memory limit) only once a call uses them */
	w->region =
	    mmap(NULL, region_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->region == MAP_FAILED)
		w->region = NULL;
	w->nouts = cfg->slots;
	w->outs = calloc(w->nouts, sizeof(*w->outs));
	w->out = aligned_alloc(4096, ((size_t)w->nouts * w->out_size + 4095) & ~4095ul);
	w->backlog = calloc(BACKLOG, sizeof(*w->backlog));
	if (session_table_create(cfg->sessions ? cfg->sessions : cfg->slots, cfg->session_max_state,
				 &w->sessions) != 0)
		w->sessions = NULL;
	if (!w->sessions || !w->owner || !w->clients || !w->region || !w->out || !w->outs ||
	    !w->backlog) {
		snprintf(err, errlen, "out of memory for worker %u", index);
		rc = -ENOMEM;
		goto err;
	}
	topts.waitable = cfg->mode != WORKER_HOT;
	topts.wake_fd = cfg->wake_fd;
	topts.max_put = w->out_size > cfg->slot_size ? w->out_size : cfg->slot_size;
	topts.in_flight = cfg->slots + cfg->slots / 2; /* calls, and their clients' messages */
	rc = transport_open(&topts, &w->t, err, errlen);
	if (rc)
		goto err;
	rc = transport_mr_reg(w->t, w->region, region_len, true, &w->region_mr);
	if (!rc)
		rc = transport_mr_reg(w->t, w->out, (size_t)w->nouts * w->out_size, false,
				      &w->out_mr);
	if (rc) {
		snprintf(err, errlen, "worker %u: cannot register %zu bytes of slots: %s", index,
			 region_len, strerror(-rc));
		goto err;
	}
	for (unsigned i = 0; i < w->nouts; i++)
		w->outs[i].buf = w->out + (size_t)i * w->out_size;
	w->comm = comm_create(&(struct comm_env){.t = w->t,
						 .token = cfg->token,
						 .stop = cfg->stop,
						 .yield = cfg->shared_cores,
						 .worker = index,
						 .defer = defer_event,
						 .arg = w});
	if (!w->comm) {
		snprintf(err, errlen, "out of memory for worker %u", index);
		rc = -ENOMEM;
		goto err;
	}
	*out = w;
	return 0;
err:
	worker_destroy(w);
	return rc;
}

void worker_calls(const struct worker *w, uint64_t *ok, uint64_t *failed)
{
	*ok = atomic_load_explicit(&w->calls_ok, memory_order_relaxed);
	*failed = atomic_load_explicit(&w->calls_failed, memory_order_relaxed);
}

void worker_info(const struct worker *w, struct worker_info *info)
{
	info->addr_len = sizeof(info->addr);
	if (transport_name(w->t, info->addr, &info->addr_len) != 0)
		info->addr_len = 0;
	transport_mr_remote(w->region_mr, w->region, &info->slot_addr, &info->slot_key);
	info->provider = transport_provider(w->t);
	info->rung = transport_rung(w->t);
}

int worker_start(struct worker *w, char *err, size_t errlen)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int rc;

	if (sem_init(&w->init_done, 0, 0) != 0) {
		rc = errno;
		snprintf(err, errlen, "cannot start worker %u: %s", w->index, strerror(rc));
		return -rc;
	}

	pthread_attr_init(&attr);
	if (w->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	rc = pthread_create(&w->thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (rc) {
		sem_destroy(&w->init_done);
		snprintf(err, errlen, "cannot start worker %u: %s", w->index, strerror(rc));
		return -rc;
	}
	w->started = true;
	while (sem_wait(&w->init_done) != 0 && errno == EINTR)
		;
	if (w->init_rc) {
		snprintf(err, errlen, "faas_worker_init(%u) returned %d", w->index, w->init_rc);
		return -ECANCELED;
	}
	return 0;
}

unsigned long worker_join(struct worker *w)
{
	if (w->started) {
		pthread_join(w->thread, NULL);
		sem_destroy(&w->init_done);
		w->started = false;
	}
	return w->served;
}

void worker_destroy(struct worker *w)
{
	if (!w)
		return;
	worker_join(w);
	session_table_destroy(w->sessions); /* its regions before the endpoint */
	transport_mr_dereg(w->stage_mr);    /* its memory goes after the endpoint */
	for (unsigned i = 0; i < w->nabandoned; i++) {
		transport_mr_dereg(w->abandoned[i].mr);
		w->abandoned[i].mr = NULL;
	}
	comm_destroy(w->comm);
	transport_mr_dereg(w->out_mr);
	transport_mr_dereg(w->region_mr);
	transport_close(w->t);
	if (w->stage) {
		munmap(w->stage, w->stage_len);
		atomic_fetch_sub(w->cfg->staging_used, w->stage_len);
	}
	abandoned_free(w);
	free(w->abandoned);
	free(w->out);
	free(w->outs);
	free(w->backlog);
	if (w->region)
		munmap(w->region, (size_t)w->cfg->slots * w->cfg->slot_size);
	free(w->clients);
	free(w->owner);
	free(w);
}
