/*
 * client: libfaas's client side (the public API of faas.h).
 *
 * Data structures, owned by struct faas_client, one thread at a time:
 *   - workers[]: per worker of the lease, its fabric peer, the slots it
 *     granted (base, depth, cookie) and whether it is usable.
 *   - calls[]: depth call records per worker; call i targets worker
 *     i / depth, slot base + i % depth. Each has a request buffer
 *     [wire_req | payload] and a reply bounce buffer [wire_reply | output]
 *     inside two registered regions.
 *   - buffers: faas_buffer_alloc'd regions; an output that starts at one
 *     receives [wire_reply | output] at out - WIRE_REPLY_LEN (zero copy);
 *     and the caller's faas_buffer_register'd ones.
 * Payloads beyond the slot (up to WIRE_RMA_MAX) are not copied: the
 * request carries descriptors of the caller's input and output memory,
 * which the worker reads and writes one-sided. Memory inside a registered
 * buffer is used as it is; other memory is registered for the call and
 * deregistered when the call is collected or expires (rma_mr[], held by
 * the caller's handle), so a late write after a timeout is refused.
 * A call's reply tag is its index | generation << 16, so a reply to a call
 * that timed out (state ORPHAN) is recognised and only frees the record.
 *
 * Dead workers: while a worker has calls in flight, watch() (every
 * WATCH_MS, from the loops that already read the clock) asks the transport
 * whether its process is alive (shm watches it) and, once it has been
 * quiet for PROBE_MS, sends it a PING, one at a time, every PROBE_MS
 * for the first QUICK_MS of silence, then every SLOW_PROBE_MS (a worker
 * busy in a long function does not read them: they wait in its queue):
 * a process that is gone makes the fabric refuse them. A worker found gone is treated as evicted:
 * its calls move to the lease's other workers and nothing is sent to it again. Why the most
 * recently collected call failed (faas_last_error) is kept in the client: a record carries the
 * function's code and message (heap, sanitized) from its reply until it is collected.
 */
#include "config.h"

#include "faas.h"
#include "internal.h"
#include "clock.h"

#include "lease_doc.h"
#include "transport.h"
#include "wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_CONNECT_MS 5000
#define BUF_HEADROOM 64 /* before a faas buffer: holds the reply header */
#define HELLO_RESEND_MS 250
#define GEN_MASK 0xfffu
#define WATCH_MS 10	   /* how often busy workers are checked */
#define PROBE_MS 20	   /* a busy worker's silence before the first probe */
#define QUICK_MS 1000	   /* silence probed every PROBE_MS, then ... */
#define SLOW_PROBE_MS 1000 /* ... every SLOW_PROBE_MS */
#define DRAIN_EMPTY 8	   /* empty reads in a row: a dead worker's queue is read */
#define UNREACHABLE_MS 10  /* probes refused (-EAGAIN) this long: gone */

struct faas_lease {
	struct lease_doc *doc;
	enum transport_rung rung;
	char *conf; /* coloc.conf of faas_lease_acquire, or NULL */
};

enum call_state { CALL_FREE = 0, CALL_INFLIGHT, CALL_DONE, CALL_ORPHAN };

struct faas_call {
	unsigned index;
	unsigned worker;
	uint32_t gen;
	enum call_state state;
	bool tx_pending; /* the request buffer is still with the fabric */
	int status;
	size_t out_len; /* FAAS_EOUTSIZE: the size the function needed */
	int fn_rc;	/* FAAS_EFUNC: the function's return code ... */
	char *msg;	/* ... and its message, or NULL */
	void *out;
	size_t out_cap;
	bool zero_copy;
	char *req;
	char *bounce;
	int64_t deadline;
	int fn;
	size_t in_len;
	const void *in;			/* where the input is (for a retry) */
	uint16_t flags;			/* WIRE_REQ_RMA_* of the request */
	size_t stage_need;		/* WIRE_NOSTAGE: the staging the call needed */
	struct transport_mr *rma_mr[2]; /* input and output registered for the call */
	uint16_t op;			/* enum wire_op: a session's calls are never moved */
	uint64_t session;		/* ... and name their session (libfaas/session.c), */
	struct faas_session *owner;	/* whose state a CALL may change */
	bool pinned; /* a rank of faas_invoke_all: never moved to another worker */
	/* After an eviction a call moves to a record of another worker: the
	 * caller's handle (origin) then points at its carrier (proxy), and
	 * the carrier back at the handle (origin). */
	struct faas_call *origin, *proxy;
};

struct cworker {
	uint64_t peer;
	bool connected, evicted;
	bool dead;	     /* found gone (a kind of eviction): its process exited */
	bool probing;	     /* a PING is with the fabric */
	unsigned heard;	     /* replies and messages from it, counted */
	unsigned heard_seen; /* heard at the last watch */
	int64_t quiet_since; /* when it was last heard from, while busy */
	int64_t next_probe;
	int64_t unreachable_since; /* the first of the probes refused in a row */
	int64_t probe_sent;
	int refused; /* WELCOME status when refused */
	uint32_t base, depth, cookie;
	uint64_t slot_addr, slot_key;
	unsigned suspect; /* calls that timed out without a late reply yet */
};

struct fbuf {
	char *base;
	size_t size; /* usable bytes after BUF_HEADROOM */
	bool owned;  /* faas_buffer_alloc'd (else faas_buffer_register'd: base, size) */
	struct transport_mr *mr;
	struct fbuf *next;
};

struct faas_client {
	const struct faas_lease *lease;
	struct transport *t;
	int timeout_ms;
	bool blocking;
	unsigned nworkers, depth, ncalls;
	struct cworker *workers;
	struct faas_call *calls;
	size_t slot_size;
	char *req_region, *bounce_region;
	struct transport_mr *req_mr, *bounce_mr;
	struct fbuf *bufs;
	unsigned next_worker;
	int inflight;	/* calls submitted and not yet collected */
	unsigned ndone; /* of which completed (CALL_DONE) */
	unsigned scan;	/* where faas_wait_any looks first */
	long retries;	/* calls moved to another worker after an eviction */
	int64_t next_watch;
	int last_fn_rc; /* faas_last_fn_rc */
	char last_error[512];
	struct session_registry *sessions; /* session.c's; NULL until the first */
};

static void rma_release(struct faas_call *call);

const char *faas_strerror(int err)
{
	switch (err) {
	case FAAS_OK:
		return "success";
	case FAAS_EINVAL:
		return "invalid argument";
	case FAAS_ENOMEM:
		return "out of memory";
	case FAAS_ELEASE:
		return "malformed lease document";
	case FAAS_ENOFUNC:
		return "no such function in the lease's library";
	case FAAS_ETOOBIG:
		return "payload larger than a call may carry (FAAS_MAX_PAYLOAD), or than the "
		       "staging memory the lease's executor has free";
	case FAAS_EOUTSIZE:
		return "the function's output is larger than the output buffer";
	case FAAS_EFUNC:
		return "the function returned an error";
	case FAAS_ETIMEDOUT:
		return "no reply within the call timeout (executor slow, dead or unreachable)";
	case FAAS_EAUTH:
		return "the executor refused the lease token";
	case FAAS_EEVICTED:
		return "the executor was evicted: its cores or memory were reclaimed by their owner";
	case FAAS_EUNAVAIL:
		return "no executor of the lease answered (gone, unreachable, or the lease "
		       "document's token is not its own)";
	case FAAS_ETRANSPORT:
		return "fabric (libfabric) error";
	case FAAS_EPROTO:
		return "malformed reply from the executor";
	case FAAS_EBUSY:
		return "busy: every slot of the lease has a call in flight, or (when connecting) "
		       "other clients of the lease hold the workers' slots, or (when acquiring a "
		       "lease) no node has that much idle now";
	case FAAS_EINPROGRESS:
		return "the call is still in progress";
	case FAAS_ENOSESSION:
		return "no such session on this connection (closed, never opened here, or a "
		       "stateful function called outside a session)";
	case FAAS_ESTATELOST:
		return "the session's state was lost: its worker was evicted and could not write "
		       "it back in time";
	default:
		return "unknown error";
	}
}

/* ---- leases ------------------------------------------------------------ */

int faas_lease_from_json(const char *json, struct faas_lease **out, char *err, size_t errlen)
{
	struct faas_lease *l;
	char dummy[8];

	if (!json || !out)
		return FAAS_EINVAL;
	if (!err) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return FAAS_ENOMEM;
	if (lease_doc_decode(json, &l->doc, err, errlen) != 0) {
		free(l);
		return FAAS_ELEASE;
	}
	if (transport_rung_parse(l->doc->rung, &l->rung) != 0) {
		snprintf(err, errlen, "lease document: \"rung\" \"%s\" is not a transport rung",
			 l->doc->rung);
		faas_lease_destroy(l);
		return FAAS_ELEASE;
	}
	*out = l;
	return FAAS_OK;
}

int faas_lease_from_env(struct faas_lease **out, char *err, size_t errlen)
{
	const char *v = getenv("FAAS_LEASE");
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (!v || !*v) {
		if (err)
			snprintf(err, errlen,
				 "FAAS_LEASE is not set; export the lease document (or the path "
				 "of the file faas-executor --publish wrote)");
		return FAAS_EINVAL;
	}
	if (v[0] == '{')
		return faas_lease_from_json(v, out, err, errlen);
	f = fopen(v, "re");
	if (!f) {
		if (err)
			snprintf(err, errlen,
				 "FAAS_LEASE=%s is neither a JSON document nor a "
				 "readable file: %s",
				 v, strerror(errno));
		return FAAS_EINVAL;
	}
	text = calloc(1, 1 << 20);
	if (text)
		len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	if (!text)
		return FAAS_ENOMEM;
	text[len] = '\0';
	rc = faas_lease_from_json(text, out, err, errlen);
	free(text);
	return rc;
}

void faas_lease_destroy(struct faas_lease *lease)
{
	if (!lease)
		return;
	lease_doc_free(lease->doc);
	free(lease->conf);
	free(lease);
}

int lease_set_conf(struct faas_lease *lease, const char *conf)
{
	free(lease->conf);
	lease->conf = conf ? strdup(conf) : NULL;
	return conf && !lease->conf ? FAAS_ENOMEM : FAAS_OK;
}

const char *lease_conf(const struct faas_lease *lease)
{
	return lease->conf;
}

const struct lease_doc *lease_doc_of(const struct faas_lease *lease)
{
	return lease->doc;
}

int faas_lease_workers(const struct faas_lease *lease)
{
	return lease ? (int)lease->doc->nworkers : FAAS_EINVAL;
}

const char *faas_lease_id(const struct faas_lease *lease)
{
	return lease ? lease->doc->id : NULL;
}

const char *faas_lease_provider(const struct faas_lease *lease)
{
	return lease ? lease->doc->provider : NULL;
}

size_t faas_lease_max_payload(const struct faas_lease *lease)
{
	return lease ? lease->doc->slot_size - WIRE_REQ_LEN : 0;
}

/* ---- event processing --------------------------------------------------- */

/* A call stays counted in c->inflight from submit until it is collected
 * (or expires): a DONE record still holds its slot. */
static void call_finish(struct faas_client *c, struct faas_call *call, int status)
{
	struct faas_call *origin = call->origin;

	if (origin) {
		/* a carrier: the result belongs to the caller's handle */
		origin->out_len = call->out_len;
		origin->fn_rc = call->fn_rc;
		free(origin->msg);
		origin->msg = call->msg;
		call->msg = NULL;
		origin->proxy = NULL;
		call->origin = NULL;
		call->state = CALL_FREE;
		call = origin;
	}
	call->status = status;
	call->state = CALL_DONE;
	c->ndone++;
}

static int status_to_error(enum wire_status s)
{
	switch (s) {
	case WIRE_OK:
		return FAAS_OK;
	case WIRE_NOFUNC:
		return FAAS_ENOFUNC;
	case WIRE_TOOBIG:
		return FAAS_ETOOBIG;
	case WIRE_OUTSIZE:
		return FAAS_EOUTSIZE;
	case WIRE_FUNC:
		return FAAS_EFUNC;
	case WIRE_AUTH:
		return FAAS_EAUTH;
	case WIRE_EVICTED:
		return FAAS_EEVICTED;
	case WIRE_NOSTAGE:
		return FAAS_ETOOBIG;
	case WIRE_XFER:
		return FAAS_ETRANSPORT;
	case WIRE_NOSESSION:
		return FAAS_ENOSESSION;
	default:
		return FAAS_EPROTO;
	}
}

static void retry(struct faas_client *c, struct faas_call *call);

/* A FAAS_EFUNC reply: keeps the function's code and its message (text of
 * len bytes, at most the request's capacity and WIRE_FUNC_MSG_MAX, cut at a
 * NUL, other bytes outside printable ASCII shown as '?'). */
static int take_message(struct faas_call *call, const char *text, size_t cap,
			const struct wire_reply *rep)
{
	size_t len = rep->out_len, i;

	if (len > cap || len > call->out_cap || len > WIRE_FUNC_MSG_MAX)
		return FAAS_EPROTO;
	call->fn_rc = rep->fn_rc;
	free(call->msg);
	call->msg = len ? malloc(len + 1) : NULL; /* none when out of memory */
	for (i = 0; call->msg && i < len && text[i]; i++)
		call->msg[i] = text[i] >= ' ' && text[i] <= '~' ? text[i] : '?';
	if (call->msg)
		call->msg[i] = '\0';
	return FAAS_EFUNC;
}

static void on_reply(struct faas_client *c, uint32_t imm)
{
	uint32_t tag = wire_reply_imm_tag(imm);
	unsigned index = tag & 0xffff;
	struct wire_reply rep;
	struct faas_call *call;
	const char *where;
	size_t cap;
	int status, rc;

	if (index >= c->ncalls)
		return;
	call = &c->calls[index];
	c->workers[call->worker].heard++;
	if (call->gen != tag >> 16)
		return; /* a reply to an earlier use of this record */
	if (call->state == CALL_ORPHAN) {
		/* the late reply to a timed-out call: the record is free again */
		call->state = CALL_FREE;
		c->workers[call->worker].suspect--;
		return;
	}
	if (call->state != CALL_INFLIGHT)
		return;
	where = call->zero_copy ? (const char *)call->out - WIRE_REPLY_LEN : call->bounce;
	cap = call->zero_copy ? call->out_cap : c->slot_size;
	status = status_to_error(wire_reply_imm_status(imm));
	if (call->proxy) {
		/* moved to another worker when this one was found gone, and
		 * its reply, sent before it went, came after all */
		struct faas_call *carrier = call->proxy;

		if (status == FAAS_EEVICTED)
			return;	    /* handed back: the carrier runs it */
		call->proxy = NULL; /* the carrier's reply is late now */
		carrier->origin = NULL;
		carrier->state = CALL_ORPHAN;
		c->workers[carrier->worker].suspect++;
	}
	if (call->op == WIRE_OP_CALL && status != FAAS_EEVICTED)
		/* it ran: the session's last copy is stale (before anything
		 * the worker sends after this reply, such as an eviction's swap) */
		session_call_ran(call->owner);
	if (status == FAAS_EEVICTED) {
		/* the worker is stopping and handed the call back unstarted */
		c->workers[call->worker].evicted = true;
		session_worker_gone(c, call->worker, false);
		retry(c, call);
		return;
	}
	rc = wire_reply_decode(where, WIRE_REPLY_LEN + cap, &rep);
	/* an output beyond the inline capacity was written to out (RMA_OUT) */
	bool written = status == FAAS_OK && (call->flags & WIRE_REQ_RMA_OUT) &&
		       rep.out_len > (c->slot_size < call->out_cap ? c->slot_size : call->out_cap);
	if ((rc != 0 && !(rc == -EMSGSIZE && (status == FAAS_EOUTSIZE || written ||
					      wire_reply_imm_status(imm) == WIRE_NOSTAGE))) ||
	    rep.reply_tag != tag) {
		call_finish(c, call, FAAS_EPROTO);
		return;
	}
	call->out_len = 0;
	call->stage_need = 0;
	if (status == FAAS_OK) {
		if (rep.out_len > call->out_cap) {
			status = FAAS_EPROTO;
		} else {
			call->out_len = rep.out_len;
			if (!call->zero_copy && !written && rep.out_len)
				memcpy(call->out, call->bounce + WIRE_REPLY_LEN, rep.out_len);
		}
	} else if (wire_reply_imm_status(imm) == WIRE_NOSTAGE) {
		call->stage_need = rep.out_len;
	} else if (status == FAAS_EOUTSIZE) {
		call->out_len = rep.out_len; /* the size needed; nothing was sent */
	} else if (status == FAAS_EFUNC) {
		status = take_message(call, where + WIRE_REPLY_LEN, cap, &rep);
	} else if (wire_reply_imm_status(imm) == WIRE_XFER) {
		call->fn_rc = rep.fn_rc; /* the worker's errno, for faas_last_error */
	}
	call_finish(c, call, status);
}

static struct cworker *worker_by_cookie(struct faas_client *c, uint32_t cookie)
{
	for (unsigned i = 0; i < c->nworkers; i++)
		if (c->workers[i].connected && c->workers[i].cookie == cookie)
			return &c->workers[i];
	return NULL;
}

static struct faas_call *pick_call(struct faas_client *c);
static int send_call(struct faas_client *c, struct faas_call *call, struct faas_call *owner, int fn,
		     const void *in, size_t in_len, void *out, size_t out_cap, int64_t deadline);

/* Moves an in-flight call of an evicted worker to a free record of another
 * worker; FAAS_EEVICTED when there is none. */
static void retry(struct faas_client *c, struct faas_call *call)
{
	struct faas_call *origin = call->origin ? call->origin : call;
	struct faas_call *carrier;

	if (origin->pinned || origin->op != WIRE_OP_PLAIN) {
		/* a rank of faas_invoke_all, or a session's call (its state is
		 * there): it needs that worker */
		call_finish(c, origin,
			    c->workers[call->worker].dead ? FAAS_EUNAVAIL : FAAS_EEVICTED);
		return;
	}
	if (call->origin) { /* a carrier evicted in turn */
		call->origin = NULL;
		call->state = CALL_FREE;
		origin->proxy = NULL;
	}
	carrier = pick_call(c);
	if (carrier)
		carrier->op = WIRE_OP_PLAIN;
	if (carrier && send_call(c, carrier, origin, origin->fn, origin->in, origin->in_len,
				 origin->out, origin->out_cap, origin->deadline) == FAAS_OK) {
		carrier->origin = origin;
		origin->proxy = carrier;
		c->retries++;
		return;
	}
	call_finish(c, origin, c->workers[call->worker].dead ? FAAS_EUNAVAIL : FAAS_EEVICTED);
}

/* No usable worker left: FAAS_EUNAVAIL when they all died, else (some were
 * evicted) FAAS_EEVICTED. */
static int none_left(const struct faas_client *c)
{
	for (unsigned i = 0; i < c->nworkers; i++)
		if (c->workers[i].connected && !c->workers[i].dead)
			return FAAS_EEVICTED;
	return FAAS_EUNAVAIL;
}

static void on_evict(struct faas_client *c, struct cworker *w)
{
	unsigned wi = (unsigned)(w - c->workers);

	w->evicted = true;
	/* a swap may be on its way unless the process is known to be gone:
	 * over tcp "dead" is a guess (probes refused while the connection is
	 * full, as it is during a large swap) */
	session_worker_gone(c, wi, w->dead && !transport_peer_alive(c->t, w->peer));
	for (unsigned i = wi * c->depth; i < (wi + 1) * c->depth; i++) {
		struct faas_call *call = &c->calls[i];

		if (call->state == CALL_INFLIGHT)
			retry(c, call);
		else if (call->state == CALL_ORPHAN)
			call->state = CALL_FREE;
	}
	w->suspect = 0;
}

static void on_msg(struct faas_client *c, const void *data, size_t len)
{
	struct wire_msg m;
	struct cworker *w;

	if (wire_msg_decode(data, len, &m) != 0)
		return;
	if (m.type == WIRE_WELCOME) {
		if (m.u.welcome.worker >= c->nworkers)
			return;
		w = &c->workers[m.u.welcome.worker];
		if (m.u.welcome.status != 0) {
			w->refused = m.u.welcome.status;
			return;
		}
		if (m.u.welcome.depth < c->depth ||
		    (uint64_t)m.u.welcome.base + m.u.welcome.depth >
			c->lease->doc->workers[m.u.welcome.worker].slots) {
			w->refused = -ENOSPC;
			return;
		}
		w->base = m.u.welcome.base;
		w->cookie = m.u.welcome.cookie;
		w->connected = true;
	} else if (m.type == WIRE_EVICT) {
		/* only from who holds the lease's token */
		w = wire_token_equal(m.u.bye.token, c->lease->doc->token)
			? worker_by_cookie(c, m.u.bye.cookie)
			: NULL;
		if (w)
			on_evict(c, w);
	}
}

/* The worker is gone (its process exited, or the fabric refused it). */
static void worker_lost(struct faas_client *c, struct cworker *w)
{
	if (w->evicted)
		return;
	w->dead = true;
	on_evict(c, w);
}

/* A probe's context is its worker's record; a put's is its call's. */
static struct cworker *probe_of(struct faas_client *c, void *ctx)
{
	struct cworker *w = ctx;

	return w >= c->workers && w < c->workers + c->nworkers ? w : NULL;
}

static void on_event(struct faas_client *c, const struct transport_event *ev)
{
	struct faas_call *call = ev->ctx;
	struct cworker *prober = probe_of(c, ev->ctx);

	if (prober) { /* a HELLO or a PING */
		prober->probing = false;
		if (ev->type != TRANSPORT_EV_TX_ERROR)
			return;
		if (prober->connected)
			worker_lost(c, prober);
		else if (!prober->refused)
			prober->refused = -EHOSTDOWN; /* it will not answer */
		return;
	}

	switch (ev->type) {
	case TRANSPORT_EV_PUT:
		if (wire_reply_imm_status(ev->imm) >= WIRE_SWAP &&
		    wire_reply_imm_status(ev->imm) <= WIRE_SWAP_LOST)
			session_on_swap(c, ev->imm); /* a session's state coming back */
		else
			on_reply(c, ev->imm);
		break;
	case TRANSPORT_EV_MSG:
		on_msg(c, ev->data, ev->len);
		break;
	case TRANSPORT_EV_TX_DONE:
		if (call)
			call->tx_pending = false;
		break;
	case TRANSPORT_EV_TX_ERROR:
		if (!call)
			break;
		call->tx_pending = false;
		/* the fabric could not reach the worker: it is gone, and its
		 * calls (this one too) move to the others */
		if (call->state == CALL_INFLIGHT || call->state == CALL_ORPHAN)
			worker_lost(c, &c->workers[call->worker]);
		break;
	}
}

/* Handles what is ready; with wait_ms > 0 (blocking clients) sleeps on the
 * CQ for at most that long when nothing is. */
static int progress(struct faas_client *c, int wait_ms)
{
	struct transport_event ev[16];
	int n = wait_ms > 0 && c->blocking ? transport_wait(c->t, ev, 16, wait_ms)
					   : transport_poll(c->t, ev, 16);

	for (int i = 0; i < n; i++)
		on_event(c, &ev[i]);
	return n;
}

/* Whether worker wi has a call running (timed-out ones are not waited for). */
static bool worker_busy(const struct faas_client *c, unsigned wi)
{
	for (unsigned i = wi * c->depth; i < (wi + 1) * c->depth; i++)
		if (c->calls[i].state == CALL_INFLIGHT)
			return true;
	return false;
}

/* Whether a request to worker wi is still with the fabric (a full socket
 * to a worker that is busy, not gone, can hold a probe back too). */
static bool worker_sending(const struct faas_client *c, unsigned wi)
{
	for (unsigned i = wi * c->depth; i < (wi + 1) * c->depth; i++)
		if (c->calls[i].tx_pending)
			return true;
	return false;
}

/* Whether worker wi runs a rank of a faas_invoke_all job now. */
static bool worker_in_job(const struct faas_client *c, unsigned wi)
{
	for (unsigned k = 0; k < c->depth; k++) {
		const struct faas_call *call = &c->calls[wi * c->depth + k];

		if (call->state == CALL_INFLIGHT && call->pinned)
			return true;
	}
	return false;
}

static void probe(struct faas_client *c, struct cworker *w, int64_t now)
{
	struct wire_msg m = {.type = WIRE_PING};
	uint8_t buf[WIRE_MSG_MAX];
	int rc;

	memcpy(m.u.bye.token, c->lease->doc->token, WIRE_TOKEN_LEN);
	m.u.bye.cookie = w->cookie;
	rc = transport_probe(c->t, w->peer, buf, wire_msg_encode(&m, buf), w);
	if (rc == 0) {
		w->probing = true;
		w->probe_sent = now;
		w->unreachable_since = 0;
	} else if (rc != -EAGAIN) {
		worker_lost(c, w);
	} else if (!w->unreachable_since) {
		w->unreachable_since = now;
	} else if (now - w->unreachable_since >= (int64_t)UNREACHABLE_MS * 1000000) {
		worker_lost(c, w);
	}
}

/* Finds busy workers that are gone (see the top of this file); now: clock_ns(). */
static void watch(struct faas_client *c, int64_t now)
{
	if (now < c->next_watch)
		return;
	c->next_watch = now + (int64_t)WATCH_MS * 1000000;
	for (unsigned wi = 0; wi < c->nworkers; wi++) {
		struct cworker *w = &c->workers[wi];

		if (!w->connected || w->evicted)
			continue;
		if (!worker_busy(c, wi)) {
			w->quiet_since = 0;
			continue;
		}
		if (!transport_peer_alive(c->t, w->peer)) {
			/* what it sent before it exited comes first (its
			 * replies, its hand-backs and EVICT): the exit is seen
			 * out of band, ahead of them. Nothing more can come, so
			 * the queue is read until it stays empty: one read can
			 * yield no event (a batch of send completions) with
			 * the worker's last messages behind it */
			for (int i = 0, empty = 0; i < 256 && empty < DRAIN_EMPTY; i++)
				empty = progress(c, 0) > 0 ? 0 : empty + 1;
			if (!w->evicted && worker_busy(c, wi))
				worker_lost(c, w);
			continue;
		}
		/* a rank of a job: its peers flood its receive queue (a probe
		 * refused for that is no sign of death); the job ends by its
		 * own timeout, and a process exit is seen above */
		if (worker_in_job(c, wi))
			continue;
		if (!w->quiet_since || w->heard != w->heard_seen) {
			w->heard_seen = w->heard;
			w->quiet_since = now;
			w->next_probe = now + (int64_t)PROBE_MS * 1000000;
			continue;
		}
		/* a probe neither taken nor refused, with nothing else of ours
		 * in the way, went down with the connection (rxm drops it) */
		if (w->probing && now - w->probe_sent > (int64_t)2 * PROBE_MS * 1000000 &&
		    !worker_sending(c, wi))
			w->probing = false;
		if ((now >= w->next_probe || w->unreachable_since) && !w->probing) {
			probe(c, w, now);
			w->next_probe =
			    now + (int64_t)(now - w->quiet_since < (int64_t)QUICK_MS * 1000000
						? PROBE_MS
						: SLOW_PROBE_MS) *
				      1000000;
		}
	}
}

/* ---- clients -------------------------------------------------------------- */

static int send_hello(struct faas_client *c, unsigned wi, const uint8_t *name, size_t name_len)
{
	struct wire_msg m = {.type = WIRE_HELLO};
	uint8_t buf[WIRE_MSG_MAX];

	memcpy(m.u.hello.token, c->lease->doc->token, WIRE_TOKEN_LEN);
	m.u.hello.depth = c->depth;
	m.u.hello.index = wi; /* comes back in WELCOME.worker */
	m.u.hello.name_len = (uint32_t)name_len;
	memcpy(m.u.hello.name, name, name_len);
	/* the worker's record as context: a refusal ends the wait for it */
	return transport_msg_ctx(c->t, c->workers[wi].peer, buf, wire_msg_encode(&m, buf),
				 &c->workers[wi]);
}

/* Says hello to every worker and waits for their welcomes. */
static int handshake(struct faas_client *c, int timeout_ms)
{
	uint8_t name[WIRE_NAME_MAX];
	size_t name_len = sizeof(name);
	int64_t deadline = clock_ns() + (int64_t)timeout_ms * 1000000;
	int64_t resend = 0;
	unsigned answered, connected = 0, refused_auth = 0;

	if (transport_name(c->t, name, &name_len) != 0 || name_len > WIRE_NAME_MAX)
		return FAAS_ETRANSPORT;
	for (;;) {
		answered = 0;
		for (unsigned i = 0; i < c->nworkers; i++)
			answered += c->workers[i].connected || c->workers[i].refused;
		if (answered == c->nworkers || clock_ns() > deadline)
			break;
		if (clock_ns() >= resend) {
			/* (re)send to those that have not answered: an executor that
			 * is still starting drops the first hello */
			for (unsigned i = 0; i < c->nworkers; i++) {
				struct cworker *w = &c->workers[i];

				if (w->connected || w->refused)
					continue;
				if (!transport_peer_alive(c->t, w->peer))
					w->refused = -ESRCH; /* its process is gone */
				else
					send_hello(c, i, name, name_len);
			}
			resend = clock_ns() + (int64_t)HELLO_RESEND_MS * 1000000;
		}
		progress(c, 1);
	}
	for (unsigned i = 0; i < c->nworkers; i++) {
		connected += c->workers[i].connected;
		refused_auth += c->workers[i].refused == WIRE_AUTH;
	}
	if (refused_auth)
		return FAAS_EAUTH;
	if (connected == 0) {
		for (unsigned i = 0; i < c->nworkers; i++) {
			if (c->workers[i].refused != -ENOSPC)
				continue;
			fprintf(stderr,
				"libfaas: worker %u of lease %s has no free slots for %u calls: "
				"other clients of the lease hold them, or a previous client has "
				"not said goodbye yet; wait for it (faas_client_destroy), ask for "
				"a smaller depth, or start faas-executor with more --slots\n",
				i, c->lease->doc->id, c->depth);
			return FAAS_EBUSY;
		}
		return FAAS_EUNAVAIL;
	}
	return FAAS_OK;
}

static int env_int(const char *name, int fallback)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return fallback;
	n = strtol(v, &end, 10);
	return (*end || n <= 0 || n > 86400000) ? fallback : (int)n;
}

static int alloc_calls(struct faas_client *c)
{
	size_t bounce_len = WIRE_REPLY_LEN + c->slot_size;
	size_t req_total = (size_t)c->ncalls * c->slot_size;
	size_t bounce_total = (size_t)c->ncalls * bounce_len;

	c->calls = calloc(c->ncalls, sizeof(*c->calls));
	c->req_region = aligned_alloc(4096, (req_total + 4095) & ~4095ul);
	c->bounce_region = aligned_alloc(4096, (bounce_total + 4095) & ~4095ul);
	if (!c->calls || !c->req_region || !c->bounce_region)
		return FAAS_ENOMEM;
	if (transport_mr_reg(c->t, c->req_region, req_total, false, &c->req_mr) != 0 ||
	    transport_mr_reg(c->t, c->bounce_region, bounce_total, true, &c->bounce_mr) != 0)
		return FAAS_ETRANSPORT;
	for (unsigned i = 0; i < c->ncalls; i++) {
		c->calls[i].index = i;
		c->calls[i].worker = i / c->depth;
		c->calls[i].req = c->req_region + (size_t)i * c->slot_size;
		c->calls[i].bounce = c->bounce_region + (size_t)i * bounce_len;
	}
	return FAAS_OK;
}

int faas_client_create(const struct faas_lease *lease, const struct faas_client_options *opts,
		       struct faas_client **out)
{
	const struct lease_doc *doc;
	struct faas_client_options o = {0};
	struct transport_opts topts = {0};
	struct faas_client *c;
	char err[512];
	int rc, connect_ms;

	if (!lease || !out)
		return FAAS_EINVAL;
	if (opts)
		o = *opts;
	if (o.timeout_ms < 0 || o.connect_timeout_ms < 0 || o.depth < 0 || o.depth > 1024)
		return FAAS_EINVAL;
	doc = lease->doc;
	if (doc->remote_mem) {
		fprintf(stderr,
			"libfaas: lease %s is a memory lease, which serves no calls; open "
			"it with faas_rmem_open\n",
			doc->id);
		return FAAS_EINVAL;
	}
	connect_ms = o.connect_timeout_ms ? o.connect_timeout_ms : DEFAULT_CONNECT_MS;
	c = calloc(1, sizeof(*c));
	if (!c)
		return FAAS_ENOMEM;
	c->lease = lease;
	c->timeout_ms =
	    o.timeout_ms ? o.timeout_ms : env_int("FAAS_TIMEOUT_MS", DEFAULT_TIMEOUT_MS);
	c->blocking = o.blocking;
	c->nworkers = doc->nworkers;
	c->slot_size = doc->slot_size;
	c->depth = o.depth ? (unsigned)o.depth
			   : (c->nworkers <= 4	  ? 16
			      : c->nworkers <= 16 ? 4
						  : 2);
	if (c->depth > doc->max_depth)
		c->depth = doc->max_depth; /* what a worker grants one client */
	for (unsigned i = 0; i < doc->nworkers; i++)
		if (c->depth > doc->workers[i].slots)
			c->depth = doc->workers[i].slots;
	c->ncalls = c->nworkers * c->depth;
	if (c->ncalls > 0xffff) {
		rc = FAAS_EINVAL; /* the reply tag has 16 bits for the call index */
		goto err;
	}
	topts.provider = doc->provider;
	topts.src_addr = o.src_addr;
	topts.waitable = o.blocking;
	topts.rung = lease->rung;
	/* a busy or unreachable peer must not hold a call past its timeout */
	topts.busy_timeout_ms = (c->timeout_ms < connect_ms ? c->timeout_ms : connect_ms) / 4 + 1;
	topts.max_put = WIRE_REPLY_LEN + c->slot_size; /* replies are the largest puts we receive */
	topts.in_flight = c->ncalls + c->nworkers;     /* a reply per call, a message per worker */
	rc = transport_open(&topts, &c->t, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "libfaas: %s\n", err);
		rc = FAAS_ETRANSPORT;
		goto err;
	}
	c->workers = calloc(c->nworkers, sizeof(*c->workers));
	if (!c->workers) {
		rc = FAAS_ENOMEM;
		goto err;
	}
	for (unsigned i = 0; i < c->nworkers; i++) {
		struct cworker *w = &c->workers[i];

		w->slot_addr = doc->workers[i].slot_addr;
		w->slot_key = doc->workers[i].slot_key;
		if (transport_peer_add(c->t, doc->workers[i].addr, doc->workers[i].addr_len,
				       &w->peer) != 0) {
			rc = FAAS_ELEASE;
			goto err;
		}
	}
	rc = alloc_calls(c);
	if (rc)
		goto err;
	rc = handshake(c, connect_ms);
	if (rc)
		goto err;
	*out = c;
	return FAAS_OK;
err:
	faas_client_destroy(c);
	return rc;
}

void faas_client_destroy(struct faas_client *c)
{
	struct wire_msg m = {.type = WIRE_BYE};
	uint8_t buf[WIRE_MSG_MAX];

	if (!c)
		return;
	if (c->lease)
		memcpy(m.u.bye.token, c->lease->doc->token, WIRE_TOKEN_LEN);
	for (unsigned i = 0; c->workers && i < c->nworkers; i++) {
		if (!c->workers[i].connected || c->workers[i].evicted)
			continue;
		m.u.bye.cookie = c->workers[i].cookie;
		transport_msg(c->t, c->workers[i].peer, buf, wire_msg_encode(&m, buf));
	}
	if (c->t)
		transport_flush(c->t, 200);
	session_registry_free(c->sessions);
	for (unsigned i = 0; c->calls && i < c->ncalls; i++) {
		rma_release(&c->calls[i]);
		free(c->calls[i].msg);
	}
	while (c->bufs) {
		struct fbuf *b = c->bufs;

		c->bufs = b->next;
		transport_mr_dereg(b->mr);
		if (b->owned)
			free(b->base);
		free(b);
	}
	transport_mr_dereg(c->bounce_mr);
	transport_mr_dereg(c->req_mr);
	transport_close(c->t);
	free(c->bounce_region);
	free(c->req_region);
	free(c->calls);
	free(c->workers);
	free(c);
}

int faas_client_workers(const struct faas_client *c)
{
	unsigned n = 0;

	if (!c)
		return FAAS_EINVAL;
	for (unsigned i = 0; i < c->nworkers; i++)
		n += c->workers[i].connected && !c->workers[i].evicted;
	return (int)n;
}

int faas_function(const struct faas_client *c, const char *name)
{
	int id;

	if (!c || !name)
		return FAAS_EINVAL;
	id = lease_doc_function(c->lease->doc, name);
	return id < 0 ? FAAS_ENOFUNC : id;
}

/* ---- buffers -------------------------------------------------------------- */

void *faas_buffer_alloc(struct faas_client *c, size_t size)
{
	struct fbuf *b;

	if (!c || size == 0 || size > ((size_t)1 << 40))
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->size = size;
	b->owned = true;
	b->base = aligned_alloc(4096, (BUF_HEADROOM + size + 4095) & ~4095ul);
	if (!b->base || transport_mr_reg(c->t, b->base, BUF_HEADROOM + size, true, &b->mr) != 0) {
		free(b->base);
		free(b);
		return NULL;
	}
	b->next = c->bufs;
	c->bufs = b;
	return b->base + BUF_HEADROOM;
}

void faas_buffer_free(struct faas_client *c, void *buffer)
{
	struct fbuf **pp;

	if (!c || !buffer)
		return;
	for (pp = &c->bufs; *pp; pp = &(*pp)->next) {
		struct fbuf *b = *pp;

		if (b->owned && b->base + BUF_HEADROOM == buffer) {
			*pp = b->next;
			transport_mr_dereg(b->mr);
			free(b->base);
			free(b);
			return;
		}
	}
}

int faas_buffer_register(struct faas_client *c, void *buffer, size_t size)
{
	struct fbuf *b;

	if (!c || !buffer || size == 0 || size > WIRE_RMA_MAX)
		return FAAS_EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return FAAS_ENOMEM;
	b->base = buffer;
	b->size = size;
	if (transport_mr_reg(c->t, buffer, size, true, &b->mr) != 0) {
		free(b);
		return FAAS_ETRANSPORT;
	}
	b->next = c->bufs;
	c->bufs = b;
	return FAAS_OK;
}

int faas_buffer_unregister(struct faas_client *c, void *buffer)
{
	if (!c || !buffer)
		return FAAS_EINVAL;
	for (struct fbuf **pp = &c->bufs; *pp; pp = &(*pp)->next) {
		struct fbuf *b = *pp;

		if (b->owned || b->base != buffer)
			continue;
		for (unsigned i = 0; i < c->ncalls; i++) {
			const struct faas_call *call = &c->calls[i];

			/* a worker may still read or write it */
			if ((call->state == CALL_INFLIGHT || call->state == CALL_ORPHAN) &&
			    (transport_mr_contains(b->mr, call->in, 1) ||
			     transport_mr_contains(b->mr, call->out, 1)))
				return FAAS_EBUSY;
		}
		*pp = b->next;
		transport_mr_dereg(b->mr);
		free(b);
		return FAAS_OK;
	}
	return FAAS_EINVAL;
}

static struct fbuf *find_buffer(struct faas_client *c, const void *out, size_t out_cap)
{
	for (struct fbuf *b = c->bufs; b; b = b->next)
		if (b->owned && b->base + BUF_HEADROOM == out && out_cap <= b->size)
			return b;
	return NULL;
}

/* The registration that covers [p, p+len) for a worker's one-sided access:
 * a registered buffer, owner's registration for the call, or a new one
 * that owner keeps (slot 0 input, 1 output). NULL when it cannot be made. */
static struct transport_mr *rma_region(struct faas_client *c, struct faas_call *owner, int slot,
				       const void *p, size_t len)
{
	for (struct fbuf *b = c->bufs; b; b = b->next)
		if (transport_mr_contains(b->mr, p, len))
			return b->mr;
	if (owner->rma_mr[slot] && transport_mr_contains(owner->rma_mr[slot], p, len))
		return owner->rma_mr[slot];
	transport_mr_dereg(owner->rma_mr[slot]);
	owner->rma_mr[slot] = NULL;
	if (transport_mr_reg(c->t, (void *)p, len, true, &owner->rma_mr[slot]) != 0)
		owner->rma_mr[slot] = NULL;
	return owner->rma_mr[slot];
}

/* Gives back what rma_region registered for call (collected or expired). */
static void rma_release(struct faas_call *call)
{
	for (int i = 0; i < 2; i++) {
		transport_mr_dereg(call->rma_mr[i]);
		call->rma_mr[i] = NULL;
	}
}

/* ---- invocation ----------------------------------------------------------- */

/* A free call record, round robin over usable workers, preferring workers
 * without timed-out calls. NULL when none is free right now. */
static struct faas_call *pick_call(struct faas_client *c)
{
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned n = 0; n < c->nworkers; n++) {
			unsigned wi = (c->next_worker + n) % c->nworkers;
			struct cworker *w = &c->workers[wi];

			if (!w->connected || w->evicted || (pass == 0 && w->suspect))
				continue;
			for (unsigned k = 0; k < c->depth; k++) {
				struct faas_call *call = &c->calls[wi * c->depth + k];

				if (call->state == CALL_FREE && !call->tx_pending) {
					c->next_worker = wi + 1;
					return call;
				}
			}
		}
	}
	return NULL;
}

static bool any_usable(const struct faas_client *c)
{
	for (unsigned i = 0; i < c->nworkers; i++)
		if (c->workers[i].connected && !c->workers[i].evicted)
			return true;
	return false;
}

/* Writes the request of call (a free record) to its worker; owner is the
 * caller's handle (call itself, or the call a retry carries). */
static int send_call(struct faas_client *c, struct faas_call *call, struct faas_call *owner, int fn,
		     const void *in, size_t in_len, void *out, size_t out_cap, int64_t deadline)
{
	struct cworker *w;
	struct wire_req req = {0};
	struct transport_mr *mr;
	struct fbuf *zc;
	size_t head;
	uint32_t slot;
	int rc;

	w = &c->workers[call->worker];
	slot = w->base + call->index % c->depth;
	call->gen = (call->gen + 1) & GEN_MASK;
	call->out = out;
	call->out_cap = out_cap;
	call->out_len = 0;
	call->fn_rc = 0;
	zc = out_cap ? find_buffer(c, out, out_cap) : NULL;
	call->zero_copy = zc != NULL;
	req.cookie = w->cookie;
	req.reply_tag = call->index | call->gen << 16;
	req.fn = (uint16_t)fn;
	req.in_len = (uint32_t)in_len;
	req.flags = call->op;
	req.session = call->session;
	if (zc) {
		transport_mr_remote(zc->mr, (char *)out - WIRE_REPLY_LEN, &req.reply_addr,
				    &req.reply_key);
		req.out_cap = out_cap;
	} else {
		transport_mr_remote(c->bounce_mr, call->bounce, &req.reply_addr, &req.reply_key);
		req.out_cap = out_cap < c->slot_size ? out_cap : c->slot_size;
	}
	if (out_cap > c->slot_size) {
		/* an output beyond the slot is written straight into out */
		mr = rma_region(c, owner, 1, out, out_cap);
		if (!mr)
			return FAAS_ETRANSPORT;
		req.flags |= WIRE_REQ_RMA_OUT;
		req.out_cap = out_cap < WIRE_RMA_MAX ? out_cap : WIRE_RMA_MAX;
		transport_mr_remote(mr, out, &req.out_rma.addr, &req.out_rma.key);
	}
	if (in_len > c->slot_size - wire_req_head_len(req.flags)) {
		/* an input beyond the slot is read from in by the worker */
		mr = rma_region(c, owner, 0, in, in_len);
		if (!mr)
			return FAAS_ETRANSPORT;
		req.flags |= WIRE_REQ_RMA_IN;
		req.in_len = 0;
		req.in_rma.len = in_len;
		transport_mr_remote(mr, in, &req.in_rma.addr, &req.in_rma.key);
	}
	head = wire_req_encode(&req, call->req);
	if (req.in_len)
		memcpy(call->req + head, in, in_len);
	call->deadline = deadline;
	call->fn = fn;
	call->in_len = in_len;
	call->in = req.in_len ? call->req + head : in;
	call->flags = req.flags;
	call->pinned = false;
	rc = transport_put(c->t, w->peer, call->req, head + req.in_len, c->req_mr,
			   w->slot_addr + (uint64_t)slot * c->slot_size, w->slot_key, slot, call);
	if (rc < 0)
		return rc == -ETIMEDOUT ? FAAS_ETIMEDOUT : FAAS_ETRANSPORT;
	call->tx_pending = rc == 1;
	call->state = CALL_INFLIGHT;
	return FAAS_OK;
}

static int submit(struct faas_client *c, int fn, const void *in, size_t in_len, void *out,
		  size_t out_cap, struct faas_call **out_call)
{
	int64_t deadline;
	struct faas_call *call;
	int rc;

	if (!c || fn < 0 || (in_len && !in) || (out_cap && !out))
		return FAAS_EINVAL;
	if ((unsigned)fn >= c->lease->doc->nfunctions)
		return FAAS_ENOFUNC;
	if (in_len > WIRE_RMA_MAX ||
	    (in_len > c->slot_size - WIRE_REQ_LEN && transport_rung(c->t) == TRANSPORT_RUNG_SEND))
		return FAAS_ETOOBIG;
	deadline = clock_ns() + (int64_t)c->timeout_ms * 1000000;
	while (!(call = pick_call(c))) {
		unsigned running = 0, done = 0, pending = 0;

		if (!any_usable(c))
			return none_left(c);
		for (unsigned i = 0; i < c->ncalls; i++) {
			running += c->calls[i].state == CALL_INFLIGHT;
			done += c->calls[i].state == CALL_DONE;
			pending += c->calls[i].tx_pending;
		}
		if (!running && !pending && done)
			/* only the caller can free these: by collecting them */
			return FAAS_EBUSY;
		/* otherwise calls in flight, or late replies to timed-out calls,
		 * free a record: wait for them until the deadline */
		int64_t now = clock_ns();

		if (now > deadline)
			return FAAS_EBUSY;
		watch(c, now);
		progress(c, 1);
	}
	call->op = WIRE_OP_PLAIN;
	call->session = 0;
	call->owner = NULL;
	rc = send_call(c, call, call, fn, in, in_len, out, out_cap, deadline);
	if (rc) {
		rma_release(call);
		return rc;
	}
	c->inflight++;
	*out_call = call;
	return FAAS_OK;
}

int client_submit_to(struct faas_client *c, unsigned wi, int fn, const void *in, size_t in_len,
		     void *out, size_t out_cap, struct faas_call **out_call)
{
	struct cworker *w = &c->workers[wi];
	struct faas_call *call = NULL;
	int rc;

	if ((unsigned)fn >= c->lease->doc->nfunctions)
		return FAAS_ENOFUNC;
	if (in_len > c->slot_size - WIRE_REQ_LEN)
		return FAAS_ETOOBIG;
	if (!w->connected || w->evicted)
		return w->dead || !w->connected ? FAAS_EUNAVAIL : FAAS_EEVICTED;
	for (unsigned k = 0; k < c->depth && !call; k++)
		if (c->calls[wi * c->depth + k].state == CALL_FREE &&
		    !c->calls[wi * c->depth + k].tx_pending)
			call = &c->calls[wi * c->depth + k];
	if (!call)
		return FAAS_EBUSY;
	rc = send_call(c, call, call, fn, in, in_len, out, out_cap,
		       clock_ns() + (int64_t)c->timeout_ms * 1000000);
	if (rc) {
		rma_release(call);
		return rc;
	}
	call->pinned = true;
	c->inflight++;
	*out_call = call;
	return FAAS_OK;
}

int client_send_msg(struct faas_client *c, unsigned wi, const void *buf, size_t len)
{
	struct cworker *w = &c->workers[wi];

	if (!w->connected || w->evicted)
		return FAAS_EUNAVAIL;
	return transport_msg(c->t, w->peer, buf, len) == 0 ? FAAS_OK : FAAS_ETRANSPORT;
}

const struct lease_doc *client_lease_doc(const struct faas_client *c)
{
	return c->lease->doc;
}

int client_timeout_ms(const struct faas_client *c)
{
	return c->timeout_ms;
}

void client_note(struct faas_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
	va_end(ap);
	c->last_fn_rc = 0;
}

/* The name of function id fn, for messages. */
static const char *fn_name(const struct faas_client *c, int fn, char *buf, size_t len)
{
	const struct lease_doc *doc = c->lease->doc;

	for (unsigned i = 0; fn >= 0 && i < doc->nfunctions; i++)
		if (doc->functions[i].id == (unsigned)fn)
			return doc->functions[i].name;
	snprintf(buf, len, "#%d", fn);
	return buf;
}

/* Records why a call of fn failed, for faas_last_error/faas_last_fn_rc:
 * call (NULL before one was sent) gives what its reply said. */
static void note(struct faas_client *c, int fn, const struct faas_call *call, int status)
{
	char *e = c->last_error, num[16];
	size_t len = sizeof(c->last_error);
	const char *name = fn_name(c, fn, num, sizeof(num));

	c->last_fn_rc = status == FAAS_EFUNC && call ? call->fn_rc : 0;
	if (status == FAAS_OK)
		e[0] = '\0';
	else if (status == FAAS_EFUNC && call)
		snprintf(e, len, "function %s returned %d%s%s", name, call->fn_rc,
			 call->msg ? ": " : "", call->msg ? call->msg : "");
	else if (status == FAAS_EOUTSIZE && call && call->out_len > call->out_cap)
		snprintf(e, len, "function %s needed %zu bytes of output, out_cap was %zu", name,
			 call->out_len, call->out_cap);
	else if (status == FAAS_EOUTSIZE && call && call->out_len)
		snprintf(e, len,
			 "function %s needed %zu bytes of output, more than an executor "
			 "returns (%zu bytes); out_cap was %zu",
			 name, call->out_len,
			 call->out_cap > c->slot_size ? (size_t)WIRE_RMA_MAX : c->slot_size,
			 call->out_cap);
	else if (status == FAAS_ETOOBIG && call && call->stage_need)
		snprintf(e, len,
			 "function %s: the call needs %zu bytes of staging for its input and "
			 "output on worker %u, more than the lease's executor has free (its "
			 "memory limit, faas-executor --staging-max); ask for more memory per "
			 "worker or send smaller calls",
			 name, call->stage_need, call->worker);
	else if (status == FAAS_EOUTSIZE && call)
		snprintf(e, len, "function %s needed more than out_cap (%zu bytes) of output", name,
			 call->out_cap);
	else if (status == FAAS_ETRANSPORT && call && call->fn_rc == ETIMEDOUT)
		snprintf(e, len,
			 "function %s: worker %u could not move the call's data beyond the slot: "
			 "nothing moved for its stall bound. Over providers that move data only "
			 "while the client polls (tcp;ofi_rxm), keep calling faas_wait, "
			 "faas_test or faas_wait_any while such a call runs",
			 name, call->worker);
	else if (status == FAAS_ETRANSPORT && call && call->fn_rc > 0)
		snprintf(e, len,
			 "function %s: worker %u could not read the call's input or write its "
			 "output in the client's memory (%s)",
			 name, call->worker, strerror(call->fn_rc));
	else if (status == FAAS_ETIMEDOUT && call)
		snprintf(e, len, "%s: function %s on worker %u, after %d ms", faas_strerror(status),
			 name, call->worker, c->timeout_ms);
	else if (status == FAAS_EUNAVAIL && call)
		snprintf(e, len,
			 "function %s did not run: worker %u is gone (its executor exited or "
			 "cannot be reached) and no other worker of the lease is left",
			 name, call->worker);
	else if (call)
		snprintf(e, len, "%s: function %s on worker %u", faas_strerror(status), name,
			 call->worker);
	else if (status == FAAS_ETOOBIG)
		snprintf(e, len, "%s: function %s takes at most %llu bytes of input%s",
			 faas_strerror(status), name,
			 transport_rung(c->t) == TRANSPORT_RUNG_SEND
			     ? (unsigned long long)(c->slot_size - WIRE_REQ_LEN)
			     : (unsigned long long)WIRE_RMA_MAX,
			 transport_rung(c->t) == TRANSPORT_RUNG_SEND
			     ? " on the send rung (no RMA for larger ones)"
			     : "");
	else
		snprintf(e, len, "%s: function %s", faas_strerror(status), name);
}

/* Gives the result of a DONE call and frees its record. */
static int collect(struct faas_client *c, struct faas_call *call, size_t *out_len)
{
	int status = call->status;

	note(c, call->fn, call, status);
	rma_release(call);
	free(call->msg);
	call->msg = NULL;
	if (out_len)
		*out_len = call->out_len;
	call->state = CALL_FREE;
	c->inflight--;
	c->ndone--;
	return status;
}

/* A call past its deadline becomes an orphan: its record stays taken until
 * a late reply (or an eviction) frees it. */
static int expire(struct faas_client *c, struct faas_call *call, size_t *out_len)
{
	struct faas_call *orphan = call->proxy ? call->proxy : call;

	if (call->proxy) {
		/* the carrier waits for its late reply; the handle's own record
		 * belongs to an evicted worker and is never used again */
		call->proxy->origin = NULL;
		call->proxy = NULL;
		call->state = CALL_FREE;
	}
	orphan->state = CALL_ORPHAN;
	rma_release(call); /* a late write into the caller's memory is refused */
	c->inflight--;
	c->workers[orphan->worker].suspect++;
	note(c, call->fn, orphan, FAAS_ETIMEDOUT);
	if (out_len)
		*out_len = 0;
	return FAAS_ETIMEDOUT;
}

int faas_invoke_async(struct faas_client *c, int fn, const void *in, size_t in_len, void *out,
		      size_t out_cap, struct faas_call **call)
{
	int rc;

	if (!call)
		return FAAS_EINVAL;
	rc = submit(c, fn, in, in_len, out, out_cap, call);
	if (rc && c)
		note(c, fn, NULL, rc);
	return rc;
}

int faas_test(struct faas_client *c, struct faas_call *call, size_t *out_len)
{
	if (!c || !call || call < c->calls || call >= c->calls + c->ncalls)
		return FAAS_EINVAL;
	if (call->state == CALL_INFLIGHT)
		progress(c, 0);
	if (call->state == CALL_DONE)
		return collect(c, call, out_len);
	if (call->state != CALL_INFLIGHT)
		return FAAS_EINVAL;
	int64_t now = clock_ns();

	if (now > call->deadline)
		return expire(c, call, out_len);
	watch(c, now);
	if (call->state == CALL_DONE) /* its worker was gone: moved or failed */
		return collect(c, call, out_len);
	return FAAS_EINPROGRESS;
}

int faas_wait(struct faas_client *c, struct faas_call *call, size_t *out_len)
{
	if (!c || !call || call < c->calls || call >= c->calls + c->ncalls)
		return FAAS_EINVAL;
	/* The hot loop: one CQ read per turn, the clock every 64 turns. */
	for (unsigned turn = 1; call->state == CALL_INFLIGHT; turn++) {
		progress(c, 1);
		if (turn % 64 == 0 && call->state == CALL_INFLIGHT) {
			int64_t now = clock_ns();

			if (now > call->deadline)
				break;
			watch(c, now);
		}
	}
	return faas_test(c, call, out_len);
}

int faas_wait_any(struct faas_client *c, struct faas_call **done, size_t *out_len)
{
	if (!c || !done)
		return FAAS_EINVAL;
	for (unsigned turn = 0;; turn++) {
		if (c->inflight == 0)
			return FAAS_EINVAL;
		if (!c->ndone)
			progress(c, c->blocking ? 1 : 0);
		if (c->ndone) {
			/* round robin, so no call waits behind luckier ones */
			for (unsigned n = 0; n < c->ncalls; n++) {
				struct faas_call *call = &c->calls[(c->scan + n) % c->ncalls];

				if (call->state == CALL_DONE) {
					c->scan = call->index + 1;
					*done = call;
					return collect(c, call, out_len);
				}
			}
		}
		if (turn % 64 == 63 || c->blocking) {
			int64_t now = clock_ns();

			watch(c, now);
			for (unsigned i = 0; i < c->ncalls; i++) {
				struct faas_call *call = &c->calls[i];

				if (call->state == CALL_INFLIGHT && !call->origin &&
				    now > call->deadline) {
					*done = call;
					return expire(c, call, out_len);
				}
			}
		}
	}
}

int faas_invoke(struct faas_client *c, int fn, const void *in, size_t in_len, void *out,
		size_t out_cap, size_t *out_len)
{
	struct faas_call *call;
	int rc = submit(c, fn, in, in_len, out, out_cap, &call);

	if (rc) {
		if (c)
			note(c, fn, NULL, rc);
		return rc;
	}
	return faas_wait(c, call, out_len);
}

int faas_last_fn_rc(const struct faas_client *c)
{
	return c ? c->last_fn_rc : 0;
}

const char *faas_last_error(const struct faas_client *c)
{
	return c ? c->last_error : "";
}

long faas_client_retries(const struct faas_client *c)
{
	return c ? c->retries : FAAS_EINVAL;
}

int faas_inflight(const struct faas_client *c)
{
	return c ? c->inflight : FAAS_EINVAL;
}

/* ---- for libfaas/session.c (internal.h) ------------------------------------ */

struct transport *client_transport(struct faas_client *c)
{
	return c->t;
}

size_t client_slot_size(const struct faas_client *c)
{
	return c->slot_size;
}

struct session_registry **client_sessions(struct faas_client *c)
{
	return &c->sessions;
}

void client_progress(struct faas_client *c)
{
	watch(c, clock_ns());
	progress(c, 1);
}

int client_pick_worker(struct faas_client *c, int worker)
{
	if (worker >= (int)c->nworkers || worker < -1)
		return FAAS_EINVAL;
	if (worker >= 0)
		return c->workers[worker].connected && !c->workers[worker].evicted ? worker
										   : none_left(c);
	for (unsigned n = 0; n < c->nworkers; n++) {
		unsigned wi = (c->next_worker + n) % c->nworkers;

		if (c->workers[wi].connected && !c->workers[wi].evicted) {
			c->next_worker = wi + 1;
			return (int)wi;
		}
	}
	return none_left(c);
}

unsigned client_depth(const struct faas_client *c)
{
	return c->depth;
}

int client_send_on(struct faas_client *c, unsigned wi, uint16_t op, uint64_t session, int fn,
		   const void *in, size_t in_len, void *out, size_t out_cap,
		   struct faas_session *owner, struct faas_call **sent)
{
	int64_t deadline = clock_ns() + (int64_t)c->timeout_ms * 1000000;
	struct faas_call *call = NULL;
	int rc;

	if (in_len > c->slot_size - WIRE_REQ_LEN)
		rc = FAAS_ETOOBIG;
	else if ((unsigned)fn >= c->lease->doc->nfunctions)
		rc = FAAS_ENOFUNC;
	else
		rc = FAAS_OK;
	while (!rc && !call) {
		struct cworker *w = &c->workers[wi];

		if (!w->connected || w->evicted) {
			rc = w->dead ? FAAS_EUNAVAIL : FAAS_EEVICTED;
			break;
		}
		for (unsigned k = 0; k < c->depth && !call; k++) {
			struct faas_call *r = &c->calls[wi * c->depth + k];

			if (r->state == CALL_FREE && !r->tx_pending)
				call = r;
		}
		if (call)
			break;
		if (clock_ns() > deadline)
			rc = FAAS_EBUSY;
		else
			client_progress(c);
	}
	if (!rc) {
		call->op = op;
		call->session = session;
		call->owner = owner;
		/* a session's reply comes back in the slot's reply area: no
		 * output descriptor */
		rc = send_call(c, call, call, fn, in, in_len, out,
			       out_cap < c->slot_size ? out_cap : c->slot_size, deadline);
	}
	if (rc) {
		note(c, fn, NULL, rc);
		return rc;
	}
	c->inflight++;
	*sent = call;
	return FAAS_OK;
}

int client_call_on(struct faas_client *c, unsigned wi, uint16_t op, uint64_t session, int fn,
		   const void *in, size_t in_len, void *out, size_t out_cap,
		   struct faas_session *owner, size_t *out_len)
{
	struct faas_call *call;
	int rc;

	if (out_len)
		*out_len = 0;
	rc = client_send_on(c, wi, op, session, fn, in, in_len, out, out_cap, owner, &call);
	return rc ? rc : faas_wait(c, call, out_len);
}
