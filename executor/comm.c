/*
 * comm: the worker's communicator (comm.h).
 *
 * Data structures (the worker thread's alone):
 *   - in: comm messages received and not yet taken, in order of arrival
 *     (first chunk); each {job, src, tag, seq, total, got, data}. A message
 *     is assembled from its chunks (the fabric delivers one sender's
 *     messages in order; chunks are placed by offset). At most
 *     COMM_BUFFER_MAX bytes are kept; more is dropped, and the job waiting
 *     for it ends by its timeout.
 *   - finished[]: the last jobs that ended here: their late messages are
 *     dropped on arrival. aborts[]: jobs aborted by a rank (also before
 *     they began here).
 *   - peers: fabric address -> address-vector entry, kept across jobs
 *     (adding a peer costs a connection on rxm).
 *   - the running job: its id, deadline, status and each rank's peer.
 * First contact: rxm (libfabric 1.17) can stall for seconds when two
 * endpoints that never talked send to each other at the same moment (both
 * connect). So when a job pairs two workers for the first time here, the
 * lower rank sends the higher a HELLO (an empty message with an internal
 * tag) at once, and the higher rank's first send to the lower waits (at
 * most HELLO_WAIT_MS) until something from it arrived.
 * Waits poll the endpoint; they end with the job's status when a rank
 * aborts it, with FAAS_EEVICTED when the worker is told to stop (and the
 * other ranks are told: ABORT), FAAS_EUNAVAIL when a rank's process is
 * gone (shm tells), FAAS_ETIMEDOUT at the job's deadline.
 */
#include "config.h"

#include "comm.h"
#include "clock.h"
#include "comm_ops.h"
#include "comm_wire.h"

#include "log.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMM_BUFFER_MAX (256u << 20)
#define FINISHED 64
#define ABORTS 16
#define PEERS_MAX 4096
#define ALIVE_CHECK_MS 10
#define EVENTS 16
#define HELLO_WAIT_MS 500
#define ABORT_POST_MS 100 /* longest wait to post one ABORT */
#define STALE_MS 600000	  /* messages of a job that did not start here by then go */
#define YIELD_POLLS 16	  /* empty polls in a row before a sched_yield */

struct inmsg {
	uint64_t job;
	int64_t arrived_ms; /* its first chunk */
	int32_t src, tag;
	uint32_t seq, total, got;
	char *data;
	struct inmsg *next;
};

struct cpeer {
	uint8_t addr[WIRE_NAME_MAX];
	size_t len;
	uint64_t peer;
};

struct comm {
	struct faas_comm pub; /* first: the functions' handle */
	struct comm_env env;
	struct inmsg *in, **in_tail;
	size_t buffered;
	uint64_t finished[FINISHED];
	unsigned next_finished;
	struct {
		uint64_t job;
		int status;
	} aborts[ABORTS];
	unsigned next_abort;
	struct cpeer *peers;
	unsigned npeers;
	struct comm_hdr *hdr;
	/* the running job */
	bool active;
	uint64_t job;
	int64_t deadline_ms, next_alive_ms;
	int status;
	uint64_t *rank_peer;
	uint32_t *send_seq;
	bool *heard;	     /* something from rank r arrived in this job */
	uint8_t *need_hello; /* first contact with r: 1 wait for heard[r] before the first
			      * send to r (a lower rank), 2 send r a HELLO (a higher one) */
	struct log_limit drops;
	unsigned idle_polls; /* empty polls in a row, while waiting */
};

static int comm_send(struct faas_comm *pub, int dst, int tag, const void *buf, size_t len);
static int comm_recv(struct faas_comm *pub, int src, int tag, void *buf, size_t cap, size_t *len);

static const struct faas_comm_ops ops = {.send = comm_send, .recv = comm_recv};

struct comm *comm_create(const struct comm_env *env)
{
	struct comm *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->hdr = calloc(1, sizeof(*c->hdr));
	c->peers = calloc(PEERS_MAX, sizeof(*c->peers));
	if (!c->hdr || !c->peers) {
		comm_destroy(c);
		errno = ENOMEM;
		return NULL;
	}
	c->pub.ops = &ops;
	c->env = *env;
	c->in_tail = &c->in;
	c->drops = (struct log_limit)LOG_LIMIT_INIT(1000, "dropped comm messages");
	return c;
}

static void inmsg_free(struct comm *c, struct inmsg *m)
{
	c->buffered -= m->total;
	free(m->data);
	free(m);
}

/* Removes the messages of job, those older than STALE_MS (of a job that
 * never started here: its rank's call failed), or all of them. */
static void purge(struct comm *c, uint64_t job, bool all)
{
	int64_t stale = clock_ms() - STALE_MS;
	struct inmsg **p = &c->in;

	while (*p) {
		struct inmsg *m = *p;

		if (all || m->job == job || m->arrived_ms < stale) {
			*p = m->next;
			inmsg_free(c, m);
		} else {
			p = &m->next;
		}
	}
	c->in_tail = &c->in;
	for (struct inmsg *m = c->in; m; m = m->next)
		c->in_tail = &m->next;
}

void comm_destroy(struct comm *c)
{
	if (!c)
		return;
	purge(c, 0, true);
	for (unsigned i = 0; i < c->npeers; i++)
		transport_peer_remove(c->env.t, c->peers[i].peer);
	free(c->rank_peer);
	free(c->send_seq);
	free(c->heard);
	free(c->need_hello);
	free(c->peers);
	free(c->hdr);
	free(c);
}

static bool job_finished(const struct comm *c, uint64_t job)
{
	for (unsigned i = 0; i < FINISHED; i++)
		if (c->finished[i] == job && job)
			return true;
	return false;
}

static int abort_status(const struct comm *c, uint64_t job)
{
	for (unsigned i = 0; i < ABORTS; i++)
		if (c->aborts[i].job == job && job)
			return c->aborts[i].status;
	return 0;
}

/* A DATA chunk: into the message it belongs to, which is created by its
 * first chunk. */
static void on_chunk(struct comm *c, const struct comm_msg *m)
{
	struct inmsg *e = NULL;

	for (struct inmsg *x = c->in; x && !e; x = x->next)
		if (x->job == m->job && x->src == m->src && x->seq == m->seq)
			e = x;
	if (!e) {
		if (c->buffered + m->total > COMM_BUFFER_MAX) {
			log_limited(&c->drops, LOG_LEVEL_WARNING,
				    "worker %u: dropped a %u-byte comm message: %u bytes wait "
				    "already (the receiving function does not take them)",
				    c->env.worker, m->total, (unsigned)c->buffered);
			return;
		}
		e = calloc(1, sizeof(*e));
		if (!e || !(e->data = malloc(m->total ? m->total : 1))) {
			free(e);
			log_limited(&c->drops, LOG_LEVEL_WARNING,
				    "worker %u: out of memory for a comm message", c->env.worker);
			return;
		}
		*e = (struct inmsg){.job = m->job,
				    .arrived_ms = clock_ms(),
				    .src = m->src,
				    .tag = m->tag,
				    .seq = m->seq,
				    .total = m->total,
				    .data = e->data};
		c->buffered += e->total;
		*c->in_tail = e;
		c->in_tail = &e->next;
	}
	if (m->total != e->total || m->chunk_len > e->total - e->got) {
		log_limited(&c->drops, LOG_LEVEL_WARNING,
			    "worker %u: dropped an inconsistent comm chunk", c->env.worker);
		return;
	}
	memcpy(e->data + m->offset, m->chunk, m->chunk_len);
	e->got += m->chunk_len;
	if (c->active && m->job == c->job && m->src < c->pub.size)
		c->heard[m->src] = true;
}

static void note_abort(struct comm *c, uint64_t job, int status)
{
	if (abort_status(c, job))
		return;
	c->aborts[c->next_abort].job = job;
	c->aborts[c->next_abort].status = status;
	c->next_abort = (c->next_abort + 1) % ABORTS;
	if (c->active && c->job == job && !c->status)
		c->status = status;
}

bool comm_on_msg(struct comm *c, const void *data, size_t len)
{
	struct comm_msg m;

	if (!comm_msg_is(data, len))
		return false;
	if (comm_msg_decode(data, len, &m) != 0) {
		log_limited(&c->drops, LOG_LEVEL_WARNING,
			    "worker %u: dropped a malformed comm message (%zu bytes)",
			    c->env.worker, len);
		return true;
	}
	if (!wire_token_equal(m.token, c->env.token)) {
		log_limited(&c->drops, LOG_LEVEL_WARNING,
			    "worker %u: dropped a comm message with a wrong lease token",
			    c->env.worker);
		return true;
	}
	log_debug("worker %u: comm message kind %u job %016llx from %d tag %d seq %u",
		  c->env.worker, m.kind, (unsigned long long)m.job, m.src, m.tag, m.seq);
	if (job_finished(c, m.job) || m.job == 0)
		return true; /* late: its job ended here */
	if (m.kind == COMM_ABORT) {
		int st = m.status;

		if (st != FAAS_EEVICTED && st != FAAS_EUNAVAIL && st != FAAS_ETIMEDOUT)
			st = FAAS_EUNAVAIL;
		note_abort(c, m.job, st);
		return true;
	}
	if (m.src < 0 || m.src >= COMM_SIZE_MAX)
		return true;
	on_chunk(c, &m);
	return true;
}

/* ---- the running job -------------------------------------------------- */

/* Progresses the endpoint once: comm messages are taken, the rest goes
 * back to the worker. Returns the events read. */
static int pump(struct comm *c)
{
	struct transport_event ev[EVENTS];
	int n = transport_poll(c->env.t, ev, EVENTS);

	/* Nothing came for a while: let another thread of this core run
	 * (ranks that share a core, as when a lease has more workers than
	 * cores, otherwise wait for each other's time slices: 36 ms a
	 * barrier with 4 ranks on 2 cores). Only then: on a loaded machine a
	 * yield hands the core to another process for its time slice. */
	if (n == 0 && c->env.yield && ++c->idle_polls % YIELD_POLLS == 0)
		sched_yield();
	else if (n > 0)
		c->idle_polls = 0;

	for (int i = 0; i < n; i++) {
		if (ev[i].type == TRANSPORT_EV_MSG && comm_on_msg(c, ev[i].data, ev[i].len))
			continue;
		if ((ev[i].type == TRANSPORT_EV_TX_ERROR || ev[i].type == TRANSPORT_EV_TX_DONE) &&
		    !ev[i].ctx)
			continue; /* a comm message's: nobody waits on it */
		c->env.defer(c->env.arg, &ev[i]);
	}
	return n;
}

static int check(struct comm *c, int waiting_for);

/* Sends one comm message to rank dst. While the provider cannot take it
 * (the peer's receive queue is full), it takes what arrives, so that two
 * ranks sending each other long messages drain each other's queues, until
 * the job ends (-ETIMEDOUT; an ABORT waits at most ABORT_POST_MS). */
static int post(struct comm *c, int dst, struct comm_msg *m)
{
	uint8_t buf[WIRE_MSG_MAX];
	int64_t abort_until;
	size_t len;
	int rc;

	memcpy(m->token, c->env.token, WIRE_TOKEN_LEN);
	m->job = c->job;
	m->src = c->pub.rank;
	len = comm_msg_encode(m, buf);
	abort_until = clock_ms() + ABORT_POST_MS;
	while ((rc = transport_probe(c->env.t, c->rank_peer[dst], buf, len, NULL)) == -EAGAIN) {
		pump(c);
		if (m->kind == COMM_DATA && check(c, -1))
			return -ETIMEDOUT;
		if (m->kind == COMM_ABORT && clock_ms() > abort_until)
			return -ETIMEDOUT; /* an evicted worker must go: the rank ends by its
					      timeout */
	}
	return rc;
}

/* Ends the job with status on every rank (best effort: a rank that does
 * not hear it ends by the timeout). */
static int job_abort(struct comm *c, int status)
{
	struct comm_msg m = {.kind = COMM_ABORT, .status = status};

	if (c->status)
		return c->status;
	c->status = status;
	for (int r = 0; r < c->pub.size; r++)
		if (r != c->pub.rank)
			post(c, r, &m);
	log_info("worker %u: job %016llx aborted (%s)", c->env.worker, (unsigned long long)c->job,
		 status == FAAS_EEVICTED    ? "evicted"
		 : status == FAAS_ETIMEDOUT ? "past its timeout"
					    : "a rank is gone");
	return status;
}

/* The job's state before a wait goes on: 0 to go on, else why it ended. */
static int check(struct comm *c, int waiting_for)
{
	int64_t now;

	if (c->status)
		return c->status;
	if (atomic_load_explicit(c->env.stop, memory_order_relaxed))
		return job_abort(c, FAAS_EEVICTED);
	now = clock_ms();
	if (now > c->deadline_ms)
		return job_abort(c, FAAS_ETIMEDOUT);
	if (waiting_for >= 0 && waiting_for != c->pub.rank && now >= c->next_alive_ms) {
		c->next_alive_ms = now + ALIVE_CHECK_MS;
		if (!transport_peer_alive(c->env.t, c->rank_peer[waiting_for])) {
			/* what it sent before it exited comes first (an ABORT:
			 * its executor was evicted): the exit is seen out of
			 * band, ahead of it, so its queue is read out first */
			for (int i = 0, empty = 0; i < 256 && empty < 8 && !c->status; i++)
				empty = pump(c) ? 0 : empty + 1;
			return c->status ? c->status : job_abort(c, FAAS_EUNAVAIL);
		}
	}
	return 0;
}

static int comm_send(struct faas_comm *pub, int dst, int tag, const void *buf, size_t len)
{
	struct comm *c = (struct comm *)pub;
	struct comm_msg m = {.kind = COMM_DATA, .tag = tag, .total = (uint32_t)len};
	size_t off = 0;
	int rc = check(c, -1);

	if (rc)
		return rc;
	if (c->need_hello[dst] == 1) {
		int64_t until = clock_ms() + HELLO_WAIT_MS;

		while (!c->heard[dst] && clock_ms() < until && !(rc = check(c, dst)))
			pump(c);
		if (rc)
			return rc;
		c->need_hello[dst] = 0;
	}
	m.seq = c->send_seq[dst]++;
	if (dst == pub->rank) { /* to itself: straight into the queue */
		for (;;) {
			m.job = c->job;
			m.src = pub->rank;
			m.offset = (uint32_t)off;
			m.chunk_len =
			    (uint32_t)(len - off < COMM_CHUNK_MAX ? len - off : COMM_CHUNK_MAX);
			m.chunk = (const char *)buf + off;
			on_chunk(c, &m);
			off += m.chunk_len;
			if (off >= len)
				return FAAS_OK;
		}
	}
	do {
		m.offset = (uint32_t)off;
		m.chunk_len = (uint32_t)(len - off < COMM_CHUNK_MAX ? len - off : COMM_CHUNK_MAX);
		m.chunk = (const char *)buf + off;
		rc = post(c, dst, &m);
		log_debug("worker %u: sent job %016llx to %d tag %d seq %u: %d", c->env.worker,
			  (unsigned long long)c->job, dst, tag, m.seq, rc);
		if (rc) {
			log_warning("worker %u: cannot send to rank %d of job %016llx: %s",
				    c->env.worker, dst, (unsigned long long)c->job, strerror(-rc));
			return job_abort(c, rc == -ETIMEDOUT ? FAAS_ETIMEDOUT : FAAS_EUNAVAIL);
		}
		off += m.chunk_len;
		/* take what the others send meanwhile: two ranks sending each
		 * other long messages would otherwise fill each other's
		 * receive queues (the transport keeps what it reads while a
		 * send waits, and reposts those receives only at a poll) */
		pump(c);
		if ((off / COMM_CHUNK_MAX) % 64 == 0 && (rc = check(c, -1)) != 0)
			return rc;
	} while (off < len);
	return FAAS_OK;
}

static struct inmsg *find(struct comm *c, int src, int tag, struct inmsg ***link)
{
	for (struct inmsg **p = &c->in; *p; p = &(*p)->next) {
		struct inmsg *m = *p;

		if (m->job == c->job && m->src == src && m->tag == tag) {
			*link = p;
			return m;
		}
	}
	return NULL;
}

/* What a wait that ended saw: for a post-mortem with --log-level debug. */
static void log_debug_queue(const struct comm *c, int src, int tag)
{
	log_debug("worker %u: rank %d of job %016llx waited for rank %d, tag %d", c->env.worker,
		  c->pub.rank, (unsigned long long)c->job, src, tag);
	for (const struct inmsg *m = c->in; m; m = m->next)
		log_debug("worker %u:   queued: job %016llx from %d tag %d seq %u, %u of %u bytes",
			  c->env.worker, (unsigned long long)m->job, m->src, m->tag, m->seq, m->got,
			  m->total);
}

static int comm_recv(struct faas_comm *pub, int src, int tag, void *buf, size_t cap, size_t *len)
{
	struct comm *c = (struct comm *)pub;
	struct inmsg *m, **link;
	int rc;

	for (;;) {
		m = find(c, src, tag, &link);
		if (m && m->got == m->total)
			break;
		rc = check(c, src);
		if (rc) {
			log_debug_queue(c, src, tag);
			return rc;
		}
		pump(c);
	}
	*link = m->next;
	if (c->in_tail == &m->next)
		c->in_tail = link;
	if (len)
		*len = m->total;
	rc = m->total > cap ? FAAS_EOUTSIZE : FAAS_OK;
	if (rc == FAAS_OK && m->total)
		memcpy(buf, m->data, m->total);
	inmsg_free(c, m);
	return rc;
}

/* The peer for a fabric address, added to the address vector once. */
static int peer_of(struct comm *c, const uint8_t *addr, size_t len, uint64_t *peer, bool *added)
{
	int rc;

	for (unsigned i = 0; i < c->npeers; i++) {
		if (c->peers[i].len == len && memcmp(c->peers[i].addr, addr, len) == 0) {
			*peer = c->peers[i].peer;
			*added = false;
			return 0;
		}
	}
	if (c->npeers == PEERS_MAX)
		return -ENOSPC;
	rc = transport_peer_add(c->env.t, addr, len, peer);
	if (rc)
		return rc;
	memcpy(c->peers[c->npeers].addr, addr, len);
	c->peers[c->npeers].len = len;
	c->peers[c->npeers++].peer = *peer;
	*added = true;
	return 0;
}

static int job_begin(struct comm *c, char *err, size_t errlen)
{
	const struct comm_hdr *h = c->hdr;
	uint64_t *rank_peer;
	uint32_t *seq;

	if (job_finished(c, h->job) || h->job == 0) {
		snprintf(err, errlen, "job %016llx ran here already", (unsigned long long)h->job);
		return -EINVAL;
	}
	rank_peer = realloc(c->rank_peer, h->size * sizeof(*rank_peer));
	if (rank_peer)
		c->rank_peer = rank_peer;
	seq = realloc(c->send_seq, h->size * sizeof(*seq));
	if (seq)
		c->send_seq = seq;
	free(c->heard);
	free(c->need_hello);
	c->heard = calloc(h->size, sizeof(*c->heard));
	c->need_hello = calloc(h->size, sizeof(*c->need_hello));
	if (!rank_peer || !seq || !c->heard || !c->need_hello) {
		snprintf(err, errlen, "out of memory for a job of %u ranks", h->size);
		return -ENOMEM;
	}
	memset(seq, 0, h->size * sizeof(*seq));
	for (unsigned r = 0; r < h->size; r++) {
		bool added = false;
		int rc = r == h->rank
			     ? 0
			     : peer_of(c, h->addr[r], h->addr_len[r], &rank_peer[r], &added);

		if (rc) {
			snprintf(err, errlen, "rank %u's fabric address is unusable: %s", r,
				 strerror(-rc));
			return -EINVAL;
		}
		c->need_hello[r] = !added ? 0 : r < h->rank ? 1 : 2;
	}
	for (struct inmsg *m = c->in; m; m = m->next)
		if (m->job == h->job && m->src >= 0 && (uint32_t)m->src < h->size)
			c->heard[m->src] = true;
	c->pub.rank = (int)h->rank;
	c->pub.size = (int)h->size;
	c->job = h->job;
	c->deadline_ms = clock_ms() + h->timeout_ms;
	c->next_alive_ms = 0;
	c->status = abort_status(c, h->job);
	c->active = true;
	for (unsigned r = h->rank + 1; r < h->size; r++) {
		struct comm_msg m = {.kind = COMM_DATA, .tag = COMM_TAG_HELLO};

		if (c->need_hello[r] != 2)
			continue;
		m.seq = c->send_seq[r]++;
		post(c, (int)r, &m);
	}
	return 0;
}

static void job_end(struct comm *c)
{
	c->finished[c->next_finished] = c->job;
	c->next_finished = (c->next_finished + 1) % FINISHED;
	purge(c, c->job, false);
	c->active = false;
}

int comm_run(struct comm *c, fnlib_comm_fn *fn, const void *in, size_t in_len, void *out,
	     size_t out_cap, size_t *out_len, int *fn_rc, int *job_status, char *err, size_t errlen)
{
	int rc = comm_hdr_decode(in, in_len, c->hdr);

	*job_status = 0;
	if (rc == -EPROTO) {
		snprintf(err, errlen,
			 "this function takes a communicator: start it with faas_invoke_all");
		return -EINVAL;
	}
	if (rc) {
		snprintf(err, errlen,
			 "malformed comm header (a client older or newer than "
			 "this executor?)");
		return -EINVAL;
	}
	rc = job_begin(c, err, errlen);
	if (rc)
		return rc;
	*fn_rc = fn(&c->pub, (const char *)in + c->hdr->len, in_len - c->hdr->len, out, out_cap,
		    out_len);
	*job_status = c->status;
	job_end(c);
	return 0;
}
