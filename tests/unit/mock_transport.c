/*
 * mock_transport: the in-memory transport of the unit tests (see
 * mock_transport.h). Implements every function of common/transport.h;
 * nothing here touches libfabric. Single-threaded, global state in mock.
 */
#include "config.h"

#include "mock_transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct transport {
	unsigned id;
};

struct transport_mr {
	void *buf;
	size_t len;
	bool remote, live;
	unsigned index;
};

struct queued {
	struct transport_event ev;
	uint8_t data[WIRE_MSG_MAX];
};

struct mock_state mock;

static struct transport_mr mrs[MOCK_MAX];
static unsigned nmrs;
static struct queued queue[MOCK_MAX];
static unsigned qhead, qtail;
static struct queued delivered[MOCK_MAX]; /* the latest poll's events, for their data */

void mock_reset(void)
{
	memset(&mock, 0, sizeof(mock));
	memset(mrs, 0, sizeof(mrs));
	nmrs = 0;
	qhead = qtail = 0;
}

static struct queued *enqueue(enum transport_event_type type)
{
	struct queued *q;

	if (qtail == MOCK_MAX) {
		/* compact: the delivered head is gone */
		memmove(queue, queue + qhead, (qtail - qhead) * sizeof(queue[0]));
		qtail -= qhead;
		qhead = 0;
	}
	if (qtail == MOCK_MAX) {
		fprintf(stderr, "mock_transport: event queue full\n");
		abort();
	}
	q = &queue[qtail++];
	memset(q, 0, sizeof(*q));
	q->ev.type = type;
	return q;
}

void mock_queue_put(uint32_t imm)
{
	enqueue(TRANSPORT_EV_PUT)->ev.imm = imm;
}

void mock_queue_msg(const void *data, size_t len)
{
	struct queued *q = enqueue(TRANSPORT_EV_MSG);

	if (len > sizeof(q->data)) {
		fprintf(stderr, "mock_transport: queued message too long\n");
		abort();
	}
	memcpy(q->data, data, len);
	q->ev.len = len;
}

void mock_queue_event(enum transport_event_type type, int err, void *ctx)
{
	struct queued *q = enqueue(type);

	q->ev.err = err;
	q->ev.ctx = ctx;
}

void mock_complete(unsigned i, int err)
{
	if (i >= mock.nputs || !mock.puts[i].outstanding) {
		fprintf(stderr, "mock_transport: put %u is not outstanding\n", i);
		abort();
	}
	mock_queue_event(err < 0 ? TRANSPORT_EV_TX_ERROR : TRANSPORT_EV_TX_DONE, err,
			 mock.puts[i].ctx);
}

/* A completion for ctx was delivered: its oldest outstanding put is done. */
static void completed(void *ctx)
{
	for (unsigned i = 0; ctx && i < mock.nputs; i++) {
		if (mock.puts[i].outstanding && mock.puts[i].ctx == ctx) {
			mock.puts[i].outstanding = false;
			return;
		}
	}
}

static bool overlaps(const void *a, size_t alen, const void *b, size_t blen)
{
	const char *x = a, *y = b;

	return alen && blen && x < y + blen && y < x + alen;
}

unsigned mock_queued(void)
{
	return qtail - qhead;
}

struct transport_mr *mock_mr_find(bool remote, unsigned nth)
{
	for (unsigned i = 0; i < nmrs; i++)
		if (mrs[i].live && mrs[i].remote == remote && nth-- == 0)
			return &mrs[i];
	return NULL;
}

void *mock_mr_buf(const struct transport_mr *mr)
{
	return mr->buf;
}

size_t mock_mr_len(const struct transport_mr *mr)
{
	return mr->len;
}

unsigned mock_mrs_live(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nmrs; i++)
		n += mrs[i].live;
	return n;
}

void *mock_translate(uint64_t addr, uint64_t key, size_t len)
{
	struct transport_mr *mr;

	if (key < MOCK_KEY_BASE || key - MOCK_KEY_BASE >= nmrs)
		return NULL;
	mr = &mrs[key - MOCK_KEY_BASE];
	if (!mr->live || !mr->remote || addr > mr->len || len > mr->len - addr)
		return NULL;
	return (char *)mr->buf + addr;
}

const struct mock_peer *mock_peer(uint64_t peer)
{
	if (peer < MOCK_PEER_BASE || peer - MOCK_PEER_BASE >= mock.npeers)
		return NULL;
	return &mock.peers[peer - MOCK_PEER_BASE];
}

/* ---- transport.h ------------------------------------------------------- */

int transport_open(const struct transport_opts *opts, struct transport **t, char *err,
		   size_t errlen)
{
	mock.opts = *opts;
	if (mock.open_rc) {
		snprintf(err, errlen, "mock transport: open fails (%d)", mock.open_rc);
		return mock.open_rc;
	}
	*t = calloc(1, sizeof(**t));
	if (!*t)
		return -ENOMEM;
	(*t)->id = ++mock.opens;
	return 0;
}

void transport_close(struct transport *t)
{
	if (!t)
		return;
	mock.closes++;
	free(t);
}

const char *transport_provider(const struct transport *t)
{
	return "mock";
}

enum transport_rung transport_rung(const struct transport *t)
{
	return TRANSPORT_RUNG_WRITEDATA;
}

size_t transport_inject_size(const struct transport *t)
{
	return 64;
}

int transport_name(struct transport *t, void *buf, size_t *len)
{
	size_t n = sizeof(MOCK_NAME) - 1;

	if (*len < n) {
		*len = n;
		return -EOVERFLOW;
	}
	memcpy(buf, MOCK_NAME, n);
	*len = n;
	return 0;
}

int transport_peer_add(struct transport *t, const void *name, size_t len, uint64_t *peer)
{
	struct mock_peer *p;

	if (len == 0 || len > WIRE_NAME_MAX || mock.npeers == MOCK_MAX)
		return -EADDRNOTAVAIL;
	p = &mock.peers[mock.npeers];
	memcpy(p->name, name, len);
	p->len = len;
	p->removed = false;
	*peer = MOCK_PEER_BASE + mock.npeers++;
	return 0;
}

int transport_peer_remove(struct transport *t, uint64_t peer)
{
	struct mock_peer *p = (struct mock_peer *)mock_peer(peer);

	if (!p || p->removed)
		return -ENOENT;
	p->removed = true;
	return 0;
}

/* Every mock peer lives: the tests play dead peers through messages. */
bool transport_peer_alive(struct transport *t, uint64_t peer)
{
	(void)t;
	(void)peer;
	return true;
}

int transport_mr_reg(struct transport *t, void *buf, size_t len, bool remote,
		     struct transport_mr **mr)
{
	if (nmrs == MOCK_MAX)
		return -ENOMEM;
	mrs[nmrs] = (struct transport_mr){
	    .buf = buf, .len = len, .remote = remote, .live = true, .index = nmrs};
	*mr = &mrs[nmrs++];
	return 0;
}

void transport_mr_dereg(struct transport_mr *mr)
{
	if (mr)
		mr->live = false;
}

void transport_mr_remote(const struct transport_mr *mr, const void *ptr, uint64_t *addr,
			 uint64_t *key)
{
	*addr = (uint64_t)((const char *)ptr - (const char *)mr->buf);
	*key = MOCK_KEY_BASE + mr->index;
}

bool transport_mr_contains(const struct transport_mr *mr, const void *ptr, size_t len)
{
	const char *p = ptr, *b = mr->buf;

	return p >= b && p <= b + mr->len && len <= mr->len - (size_t)(p - b);
}

int transport_put(struct transport *t, uint64_t peer, const void *src, size_t len,
		  struct transport_mr *mr, uint64_t addr, uint64_t key, uint32_t imm, void *ctx)
{
	struct mock_put *p;

	if (mock.nputs == MOCK_MAX) {
		fprintf(stderr, "mock_transport: too many puts\n");
		abort();
	}
	for (unsigned i = 0; i < mock.nputs; i++)
		if (mock.puts[i].outstanding &&
		    overlaps(src, len, mock.puts[i].src, mock.puts[i].len))
			mock.reuse_errors++;
	p = &mock.puts[mock.nputs++];
	memset(p, 0, sizeof(*p));
	p->peer = peer;
	p->src = src;
	p->len = len;
	memcpy(p->data, src, len < sizeof(p->data) ? len : sizeof(p->data));
	p->mr = mr;
	p->addr = addr;
	p->key = key;
	p->imm = imm;
	p->ctx = ctx;
	p->rc = mock.put_rc;
	if (mock.put_rc < 0)
		return mock.put_rc;
	p->outstanding = mock.put_rc == 1 && ctx;
	if (mock.on_put)
		mock.on_put(p);
	return mock.put_rc;
}

int transport_msg(struct transport *t, uint64_t peer, const void *buf, size_t len)
{
	struct mock_msg *m;

	if (mock.nmsgs == MOCK_MAX) {
		fprintf(stderr, "mock_transport: too many messages\n");
		abort();
	}
	if (len > WIRE_MSG_MAX)
		return -EMSGSIZE;
	m = &mock.msgs[mock.nmsgs++];
	m->peer = peer;
	memcpy(m->data, buf, len);
	m->len = len;
	if (mock.msg_rc)
		return mock.msg_rc;
	if (mock.on_msg)
		mock.on_msg(peer, buf, len);
	return 0;
}

int transport_poll(struct transport *t, struct transport_event *ev, int max)
{
	int n = 0;

	while (n < max && qhead < qtail) {
		delivered[n] = queue[qhead++];
		ev[n] = delivered[n].ev;
		if (ev[n].type == TRANSPORT_EV_MSG)
			ev[n].data = delivered[n].data;
		if (ev[n].type == TRANSPORT_EV_TX_DONE || ev[n].type == TRANSPORT_EV_TX_ERROR)
			completed(ev[n].ctx);
		n++;
	}
	return n;
}

int transport_wait(struct transport *t, struct transport_event *ev, int max, int timeout_ms)
{
	return transport_poll(t, ev, max);
}

int transport_flush(struct transport *t, int timeout_ms)
{
	mock.flushes++;
	if (mock.flush_rc)
		return mock.flush_rc;
	for (unsigned i = 0; i < mock.nputs; i++) {
		if (mock.puts[i].outstanding) {
			mock.puts[i].outstanding = false;
			mock_queue_event(TRANSPORT_EV_TX_DONE, 0, mock.puts[i].ctx);
		}
	}
	return 0;
}

int transport_msg_ctx(struct transport *t, uint64_t peer, const void *buf, size_t len, void *ctx)
{
	(void)ctx;
	return transport_msg(t, peer, buf, len);
}

int transport_probe(struct transport *t, uint64_t peer, const void *buf, size_t len, void *ctx)
{
	return transport_msg_ctx(t, peer, buf, len, ctx);
}
