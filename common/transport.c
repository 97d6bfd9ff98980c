/*
 * transport: libfabric RDM endpoint, memory registration, puts with a 32-bit
 * immediate and small control messages (see transport.h).
 *
 * Data structures, all owned by struct transport and touched by one thread:
 *   - ops[]: a pool of operation contexts (struct op, holding the
 *     fi_context libfabric needs) for receives and for transmits that expect
 *     a completion; free transmit ops sit on a singly linked free list.
 *   - rx buffers: rx_depth receive buffers of buf_size bytes, always posted
 *     except while a MSG event that points into one is with the caller
 *     (then the op waits on the repost list until the next poll).
 *   - tx buffers: for messages and for the send-based rungs, a stack of free
 *     indexes.
 *   - stash: events reaped while waiting for resources inside put/msg/flush,
 *     handed out first by the next poll.
 *   - mrs: registered regions, so the SEND rung can place a put by key.
 * Every send carries a 32-byte transport header {type, imm, addr, key, len}
 * so that messages, notifications and copied puts share the receives.
 */
#include "config.h"

#include "transport.h"
#include "clock.h"
#include "wire.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>

#define TH_LEN 32
#define TX_BUFS 64
#define RX_DEPTH 64 /* receives kept posted unless transport_opts says */
/* The provider's receive queue, at least. Not smaller: shm (libfabric
 * 1.17) rounds its shared region up to a power of two and zero-fills it
 * from the endpoint's name to the end (a strncpy), so a region of 8 MiB of
 * fixed SAR buffers plus 1024 x 4352 bytes of queue touches 3.8 MiB, and
 * a shorter queue touches more (7.7 MiB at 64). */
#define RX_QUEUE_MIN 1024
#define RX_QUEUE_MAX 65536
#define RXM_BUFFER_SIZE 544   /* TH_LEN + WIRE_MSG_MAX: the largest message */
#define RXM_EAGER_LIMIT 16384 /* rxm's default, which peers must share */
#define TRANSPORT_STR_(x) #x
#define TRANSPORT_STR(x) TRANSPORT_STR_(x)
_Static_assert(RXM_BUFFER_SIZE == TH_LEN + WIRE_MSG_MAX, "rxm's buffers hold one message");
#define TX_OPS 256
#define STASH_MAX 4096
#define BUSY_TIMEOUT_MS 2000 /* default bound on waiting for the provider */
#define CHAIN_STALL_MS 2000  /* a chain of injects: the receiver took the first */
/* The largest fi_read/fi_write of a transport_rma (and the provider's
 * max_msg_size). A chunk's completion is the only progress a provider
 * shows, and a transfer with no completion for stall_ms fails: a whole
 * 1 GiB transfer over tcp;ofi_rxm took longer than that on a loaded CI
 * machine and failed while it moved. */
#define RMA_CHUNK (16u << 20)
#define RMA_WINDOW 8 /* chunks in flight */

enum th_type { TH_MSG = 1, TH_NOTIFY = 2, TH_PUT = 3 };
enum op_kind { OP_RX, OP_PUT, OP_SEND, OP_RMA };

/* One transport_rma: its chunks' op->ctx. A failed transfer whose chunks
 * are still with the provider is abandoned: the last completion frees it. */
struct rma_xfer {
	unsigned pending;
	unsigned long done; /* chunks completed */
	int err;	    /* the first failed chunk's, 0 when none */
	bool abandoned;
	struct transport *t;
	struct rma_xfer *next; /* in t->abandoned while abandoned */
};

struct op {
	struct fi_context2 fctx; /* first: libfabric hands &fctx back */
	enum op_kind kind;
	int buf;   /* rx or tx buffer index, -1 when none */
	void *ctx; /* caller's context for OP_PUT and a probe's OP_SEND */
	struct op *next;
};

struct stashed {
	struct transport_event ev;
	struct op *rx; /* receive to re-post once the event is handed out */
};

/* A peer whose process can be watched (shm names endpoints by process id):
 * a pidfd that becomes readable when that process exits. */
struct peer_watch {
	uint64_t peer;
	int pidfd;
};

struct transport_mr {
	struct transport *t;
	struct fid_mr *mr;
	char *buf;
	size_t len;
	bool remote;
	uint64_t key;
	void *desc;
	struct transport_mr *next;
};

struct transport {
	struct rma_xfer *abandoned; /* freed by their last completion, or at close */
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_cq *cq;
	struct fid_av *av;
	struct fid_ep *ep;
	char provider[64];
	enum transport_rung rung;
	uint64_t mr_mode;
	bool rx_cq_data;
	int wait_fd; /* the CQ's wait object, -1 when it has none */
	int wake_fd; /* the caller's "stop waiting" fd, -1 when none */
	size_t inject;
	bool chunked; /* shm: puts above inject size go as a chain of injects */
	size_t max_put;
	int busy_timeout_ms;
	size_t buf_size; /* TH_LEN + the largest message or copied put */
	uint64_t next_key;

	unsigned rx_depth;
	char *rx_bufs;
	struct transport_mr *rx_mr;
	struct op *rx_ops;
	struct op *repost; /* rx ops to post again */

	char *tx_bufs;
	struct transport_mr *tx_mr;
	int tx_free[TX_BUFS];
	int tx_nfree;

	struct op ops[TX_OPS];
	struct op *op_free;
	unsigned tx_pending; /* ops in flight */

	struct stashed *stash;
	unsigned stash_head, stash_len;
	unsigned long stash_dropped;

	struct transport_mr *mrs;

	struct peer_watch *watches;
	unsigned nwatches, watch_cap;

	unsigned rma_pending; /* transport_rma chunks with the provider, all transfers */
	size_t rma_chunk;
	uint64_t *deferred; /* peers removed while chunks were pending */
	unsigned ndeferred, deferred_cap;
};

/* ---- small helpers --------------------------------------------------- */

static int fi_to_errno(ssize_t rc)
{
	return rc < 0 ? (int)rc : -EIO;
}

static void th_encode(void *buf, enum th_type type, uint32_t imm, uint64_t addr, uint64_t key,
		      uint32_t len)
{
	uint8_t *p = buf;
	uint32_t v32;
	uint64_t v64;

	memset(p, 0, TH_LEN);
	p[0] = (uint8_t)type;
	v32 = htole32(imm);
	memcpy(p + 4, &v32, 4);
	v64 = htole64(addr);
	memcpy(p + 8, &v64, 8);
	v64 = htole64(key);
	memcpy(p + 16, &v64, 8);
	v32 = htole32(len);
	memcpy(p + 24, &v32, 4);
}

static void th_decode(const void *buf, uint8_t *type, uint32_t *imm, uint64_t *addr, uint64_t *key,
		      uint32_t *len)
{
	const uint8_t *p = buf;
	uint32_t v32;
	uint64_t v64;

	*type = p[0];
	memcpy(&v32, p + 4, 4);
	*imm = le32toh(v32);
	memcpy(&v64, p + 8, 8);
	*addr = le64toh(v64);
	memcpy(&v64, p + 16, 8);
	*key = le64toh(v64);
	memcpy(&v32, p + 24, 4);
	*len = le32toh(v32);
}

const char *transport_provider(const struct transport *t)
{
	return t->provider;
}

enum transport_rung transport_rung(const struct transport *t)
{
	return t->rung;
}

size_t transport_inject_size(const struct transport *t)
{
	return t->rung == TRANSPORT_RUNG_WRITEDATA ? t->inject : 0;
}

/* ---- stash of events reaped while waiting for resources --------------- */

static void stash_push(struct transport *t, const struct transport_event *ev, struct op *rx)
{
	struct stashed *s;

	if (t->stash_len == STASH_MAX) {
		/* A peer flooding us: drop rather than grow without bound. */
		t->stash_dropped++;
		if (rx) {
			rx->next = t->repost;
			t->repost = rx;
		}
		return;
	}
	s = &t->stash[(t->stash_head + t->stash_len) % STASH_MAX];
	s->ev = *ev;
	s->rx = rx;
	t->stash_len++;
}

/* ---- receives -------------------------------------------------------- */

static char *rx_buf(struct transport *t, const struct op *op)
{
	return t->rx_bufs + (size_t)op->buf * t->buf_size;
}

static int rx_post(struct transport *t, struct op *op)
{
	ssize_t rc =
	    fi_recv(t->ep, rx_buf(t, op), t->buf_size, t->rx_mr->desc, FI_ADDR_UNSPEC, &op->fctx);

	return rc == 0 ? 0 : fi_to_errno(rc);
}

/* Posts every receive waiting on the repost list; keeps those the provider
 * cannot take yet. */
static void rx_repost_all(struct transport *t)
{
	while (t->repost) {
		struct op *op = t->repost;

		if (rx_post(t, op) != 0)
			return;
		t->repost = op->next;
	}
}

static void rx_defer(struct transport *t, struct op *op)
{
	op->next = t->repost;
	t->repost = op;
}

static bool is_rx_op(const struct transport *t, const struct op *op)
{
	return op >= t->rx_ops && op < t->rx_ops + t->rx_depth;
}

/* ---- transmit ops and buffers ---------------------------------------- */

static void op_put_back(struct transport *t, struct op *op)
{
	if (op->buf >= 0)
		t->tx_free[t->tx_nfree++] = op->buf;
	op->buf = -1;
	op->next = t->op_free;
	t->op_free = op;
	t->tx_pending--;
}

static int progress(struct transport *t, struct transport_event *ev, int max, bool stash_all);

/* Waits (bounded) until an op, and a tx buffer when need_buf, are free. */
static struct op *op_get(struct transport *t, bool need_buf)
{
	int64_t deadline = 0;
	struct op *op;

	while (!t->op_free || (need_buf && t->tx_nfree == 0)) {
		if (!deadline)
			deadline = clock_ms() + t->busy_timeout_ms;
		else if (clock_ms() > deadline)
			return NULL;
		progress(t, NULL, 0, true);
	}
	op = t->op_free;
	t->op_free = op->next;
	op->buf = need_buf ? t->tx_free[--t->tx_nfree] : -1;
	op->ctx = NULL;
	t->tx_pending++;
	return op;
}

static char *tx_buf(struct transport *t, const struct op *op)
{
	return t->tx_bufs + (size_t)op->buf * t->buf_size;
}

/* Retries a libfabric post while it says -FI_EAGAIN, progressing meanwhile. */
#define POST_RETRY(t, rc, call)                                                                    \
	do {                                                                                       \
		int64_t deadline_ = 0;                                                             \
		for (;;) {                                                                         \
			(rc) = (call);                                                             \
			if ((rc) != -FI_EAGAIN)                                                    \
				break;                                                             \
			if (!deadline_)                                                            \
				deadline_ = clock_ms() + (t)->busy_timeout_ms;                     \
			else if (clock_ms() > deadline_)                                           \
				break;                                                             \
			progress((t), NULL, 0, true);                                              \
		}                                                                                  \
	} while (0)

/* Sends [header | body] through a tx buffer; the buffer returns on completion. */
static int send_framed(struct transport *t, uint64_t peer, enum th_type type, uint32_t imm,
		       uint64_t addr, uint64_t key, const void *body, size_t len, void *ctx,
		       bool once)
{
	struct op *op;
	ssize_t rc;

	if (TH_LEN + len > t->buf_size)
		return -EMSGSIZE;
	op = op_get(t, true);
	if (!op)
		return -ETIMEDOUT;
	op->kind = OP_SEND;
	op->ctx = ctx;
	th_encode(tx_buf(t, op), type, imm, addr, key, (uint32_t)len);
	if (len)
		memcpy(tx_buf(t, op) + TH_LEN, body, len);
	if (once) {
		rc = fi_send(t->ep, tx_buf(t, op), TH_LEN + len, t->tx_mr->desc, peer, &op->fctx);
		if (rc == -FI_EAGAIN)
			progress(t, NULL, 0, true); /* e.g. the provider's connecting */
	} else {
		POST_RETRY(
		    t, rc,
		    fi_send(t->ep, tx_buf(t, op), TH_LEN + len, t->tx_mr->desc, peer, &op->fctx));
	}
	if (rc) {
		op_put_back(t, op);
		return rc == -FI_EAGAIN ? (once ? -EAGAIN : -ETIMEDOUT) : fi_to_errno(rc);
	}
	return 0;
}

static int msg_send(struct transport *t, uint64_t peer, const void *buf, size_t len, void *ctx,
		    bool once)
{
	if (len > WIRE_MSG_MAX)
		return -EMSGSIZE;
	/* a dead shm peer may have died holding its region's lock, on which
	 * the provider would spin: never post to it */
	if (!transport_peer_alive(t, peer))
		return -EPIPE;
	return send_framed(t, peer, TH_MSG, 0, 0, 0, buf, len, ctx, once);
}

int transport_msg_ctx(struct transport *t, uint64_t peer, const void *buf, size_t len, void *ctx)
{
	return msg_send(t, peer, buf, len, ctx, false);
}

int transport_msg(struct transport *t, uint64_t peer, const void *buf, size_t len)
{
	return msg_send(t, peer, buf, len, NULL, false);
}

int transport_probe(struct transport *t, uint64_t peer, const void *buf, size_t len, void *ctx)
{
	return msg_send(t, peer, buf, len, ctx, true);
}

/* A put above the inject size as injects (shm): the receiver's queue runs
 * them in order, so the last one, which carries imm, lands after the data.
 * Nothing stays pending at the provider, so a peer that dies mid-put
 * cannot leave a transfer behind that blocks the endpoint's later ones
 * (shm's segmented copies wait for the receiver, in order). */
static ssize_t put_chunked(struct transport *t, uint64_t peer, const char *src, size_t len,
			   uint64_t addr, uint64_t key, uint32_t imm)
{
	int busy_ms = t->busy_timeout_ms;
	ssize_t rc = 0;

	for (unsigned n = 0; len > t->inject; n++) {
		if (n % 64 == 0 && !transport_peer_alive(t, peer))
			break; /* it would never take the rest */
		POST_RETRY(t, rc, fi_inject_write(t->ep, src, t->inject, peer, addr, key));
		if (rc)
			break;
		/* once it takes the first, the receiver is there and drains its
		 * queue as it progresses: a stall now is a busy receiver (a
		 * loaded machine), which gets CHAIN_STALL_MS; a dead one is seen
		 * every 64 injects */
		if (t->busy_timeout_ms < CHAIN_STALL_MS)
			t->busy_timeout_ms = CHAIN_STALL_MS;
		src += t->inject;
		addr += t->inject;
		len -= t->inject;
	}
	if (len <= t->inject && rc == 0)
		POST_RETRY(t, rc, fi_inject_writedata(t->ep, src, len, imm, peer, addr, key));
	else if (rc == 0)
		rc = -EPIPE;
	t->busy_timeout_ms = busy_ms;
	return rc;
}

int transport_put(struct transport *t, uint64_t peer, const void *src, size_t len,
		  struct transport_mr *mr, uint64_t addr, uint64_t key, uint32_t imm, void *ctx)
{
	struct op *op;
	ssize_t rc;

	if (len > t->max_put)
		return -EMSGSIZE;
	switch (t->rung) {
	case TRANSPORT_RUNG_WRITEDATA:
		if (len <= t->inject || t->chunked) {
			if (len <= t->inject)
				POST_RETRY(
				    t, rc,
				    fi_inject_writedata(t->ep, src, len, imm, peer, addr, key));
			else
				rc = put_chunked(t, peer, src, len, addr, key, imm);
			return rc == 0 ? 0 : rc == -FI_EAGAIN ? -ETIMEDOUT : fi_to_errno(rc);
		}
		op = op_get(t, false);
		if (!op)
			return -ETIMEDOUT;
		op->kind = OP_PUT;
		op->ctx = ctx;
		POST_RETRY(
		    t, rc,
		    fi_writedata(t->ep, src, len, mr->desc, imm, peer, addr, key, &op->fctx));
		break;
	case TRANSPORT_RUNG_WRITE_NOTIFY:
		op = op_get(t, false);
		if (!op)
			return -ETIMEDOUT;
		op->kind = OP_PUT;
		op->ctx = ctx;
		POST_RETRY(t, rc, fi_write(t->ep, src, len, mr->desc, peer, addr, key, &op->fctx));
		if (rc == 0) {
			/* FI_ORDER_SAW: the notification lands after the data. */
			int nrc = send_framed(t, peer, TH_NOTIFY, imm, 0, 0, NULL, 0, NULL, false);

			if (nrc)
				return nrc;
		}
		break;
	default: /* TRANSPORT_RUNG_SEND: the data travels in the send, copied */
		rc = send_framed(t, peer, TH_PUT, imm, addr, key, src, len, NULL, false);
		return (int)rc;
	}
	if (rc) {
		op_put_back(t, op);
		return rc == -FI_EAGAIN ? -ETIMEDOUT : fi_to_errno(rc);
	}
	return 1;
}

/* ---- one-sided transfers (large payloads) ------------------------------ */

static void peer_remove_now(struct transport *t, uint64_t peer);

/* A new transfer of t's, or NULL without memory. */
static struct rma_xfer *rma_xfer_new(struct transport *t)
{
	struct rma_xfer *x = calloc(1, sizeof(*x));

	if (x)
		x->t = t;
	return x;
}

/* A transfer whose chunks are still with the provider is handed over:
 * freed by its last completion, or by transport_close when none comes. */
static void rma_abandon(struct rma_xfer *x)
{
	x->abandoned = true;
	x->next = x->t->abandoned;
	x->t->abandoned = x;
}

static void rma_free_abandoned(struct rma_xfer *x)
{
	struct rma_xfer **p = &x->t->abandoned;

	while (*p && *p != x)
		p = &(*p)->next;
	if (*p)
		*p = x->next;
	free(x);
}

/* A chunk completed (err 0) or failed. Peers removed meanwhile leave the
 * address vector once no chunk is pending: shm progresses a pending
 * transfer through its peer's mapping, which the removal unmaps. */
static void rma_done(struct transport *t, struct op *op, int err)
{
	struct rma_xfer *x = op->ctx;

	op_put_back(t, op);
	t->rma_pending--;
	x->pending--;
	x->done++;
	if (err && !x->err)
		x->err = err;
	if (x->abandoned && x->pending == 0)
		rma_free_abandoned(x);
	while (t->rma_pending == 0 && t->ndeferred)
		peer_remove_now(t, t->deferred[--t->ndeferred]);
}

bool transport_rma_busy(struct transport *t)
{
	if (t->rma_pending)
		progress(t, NULL, 0, true);
	return t->rma_pending != 0;
}

/* Posts one chunk; -EAGAIN when the provider cannot take it now. */
static int rma_post(struct transport *t, struct rma_xfer *x, enum transport_rma_dir dir,
		    uint64_t peer, char *buf, size_t len, struct transport_mr *mr, uint64_t addr,
		    uint64_t key)
{
	struct op *op;
	ssize_t rc;

	if (!t->op_free)
		return -EAGAIN;
	/* a dead shm peer may have died holding its region's lock, on which
	 * the provider would spin (as in msg_send) */
	if (!transport_peer_alive(t, peer))
		return -EPIPE;
	op = op_get(t, false);
	op->kind = OP_RMA;
	op->ctx = x;
	rc = dir == TRANSPORT_RMA_READ
		 ? fi_read(t->ep, buf, len, mr->desc, peer, addr, key, &op->fctx)
		 : fi_write(t->ep, buf, len, mr->desc, peer, addr, key, &op->fctx);
	if (rc) {
		op_put_back(t, op);
		return rc == -FI_EAGAIN ? -EAGAIN : fi_to_errno(rc);
	}
	t->rma_pending++;
	x->pending++;
	return 0;
}

/* Moves the transfer's chunks; 0 or -errno (the chunks may be pending). */
static int rma_run(struct transport *t, struct rma_xfer *x, enum transport_rma_dir dir,
		   uint64_t peer, char *buf, size_t len, struct transport_mr *mr, uint64_t addr,
		   uint64_t key, int stall_ms)
{
	int64_t stall_at = clock_ms() + stall_ms;
	unsigned turn = 0;
	size_t off = 0;
	int rc;

	while (off < len || x->pending) {
		unsigned long done = x->done;
		size_t posted = off;

		while (off < len && x->pending < RMA_WINDOW) {
			size_t n = len - off < t->rma_chunk ? len - off : t->rma_chunk;

			rc = rma_post(t, x, dir, peer, buf + off, n, mr, addr + off, key);
			if (rc == -EAGAIN)
				break;
			if (rc)
				return rc;
			off += n;
		}
		progress(t, NULL, 0, true);
		if (x->err)
			return x->err;
		if (x->done != done || off != posted)
			stall_at = clock_ms() + stall_ms;
		else if (clock_ms() > stall_at)
			return -ETIMEDOUT;
		/* a dead shm peer never serves its side of the copy */
		if (++turn % 256 == 0 && !transport_peer_alive(t, peer))
			return -EPIPE;
	}
	return 0;
}

int transport_rma(struct transport *t, enum transport_rma_dir dir, uint64_t peer, void *buf,
		  size_t len, struct transport_mr *mr, uint64_t addr, uint64_t key, int stall_ms)
{
	struct rma_xfer *x;
	int rc;

	if (t->rung == TRANSPORT_RUNG_SEND || !(t->info->caps & FI_RMA))
		return -ENOTSUP;
	if (!transport_mr_contains(mr, buf, len))
		return -EFAULT;
	x = rma_xfer_new(t);
	if (!x)
		return -ENOMEM;
	rc = rma_run(t, x, dir, peer, buf, len, mr, addr, key, stall_ms);
	if (x->pending)
		rma_abandon(x);
	else
		free(x);
	return rc;
}

/* ---- completion processing ------------------------------------------ */

/* Places a copied put (SEND rung) into the registered region named by key. */
static int place_put(struct transport *t, uint64_t addr, uint64_t key, const void *data, size_t len)
{
	for (struct transport_mr *m = t->mrs; m; m = m->next) {
		uint64_t off;

		if (!m->remote || m->key != key)
			continue;
		off = (t->mr_mode & FI_MR_VIRT_ADDR) ? addr - (uint64_t)(uintptr_t)m->buf : addr;
		if (off > m->len || len > m->len - off)
			return -EFAULT;
		memcpy(m->buf + off, data, len);
		return 0;
	}
	return -ENOKEY;
}

/* Turns a received buffer into an event; returns 1 if ev was filled. The
 * receive is re-posted unless the event points into it (MSG). */
static int on_recv(struct transport *t, struct op *op, size_t len, struct transport_event *ev,
		   bool *keep)
{
	const char *buf = rx_buf(t, op);
	uint8_t type;
	uint32_t imm, blen;
	uint64_t addr, key;

	*keep = false;
	if (len < TH_LEN)
		return 0; /* not ours: drop */
	th_decode(buf, &type, &imm, &addr, &key, &blen);
	if (blen != len - TH_LEN)
		return 0;
	switch (type) {
	case TH_MSG:
		*ev = (struct transport_event){
		    .type = TRANSPORT_EV_MSG, .data = buf + TH_LEN, .len = blen};
		*keep = true;
		return 1;
	case TH_NOTIFY:
		*ev = (struct transport_event){.type = TRANSPORT_EV_PUT, .imm = imm};
		return 1;
	case TH_PUT:
		if (place_put(t, addr, key, buf + TH_LEN, blen) != 0)
			return 0; /* a put outside our memory is dropped */
		*ev = (struct transport_event){.type = TRANSPORT_EV_PUT, .imm = imm, .len = blen};
		return 1;
	default:
		return 0;
	}
}

/* Handles one completion entry; returns 1 and fills ev when it is an event
 * for the caller, and sets *rx to a receive that must wait for re-posting
 * until the event is consumed. */
static int on_completion(struct transport *t, const struct fi_cq_data_entry *e,
			 struct transport_event *ev, struct op **rx)
{
	struct op *op = e->op_context;
	bool keep;
	int n;

	*rx = NULL;
	if ((e->flags & FI_REMOTE_WRITE) ||
	    ((e->flags & FI_REMOTE_CQ_DATA) && !(e->flags & FI_MSG))) {
		/* A remote write with data; with FI_RX_CQ_DATA it used a receive. */
		if (op && is_rx_op(t, op))
			rx_defer(t, op);
		*ev = (struct transport_event){
		    .type = TRANSPORT_EV_PUT, .imm = (uint32_t)e->data, .len = e->len};
		return 1;
	}
	if (!op)
		return 0;
	if (is_rx_op(t, op)) {
		n = on_recv(t, op, e->len, ev, &keep);
		if (keep)
			*rx = op;
		else
			rx_defer(t, op);
		return n;
	}
	/* a local transmit completion */
	if (op->kind == OP_RMA) {
		rma_done(t, op, 0);
		return 0;
	}
	if (op->kind == OP_PUT || op->ctx) {
		*ev = (struct transport_event){.type = TRANSPORT_EV_TX_DONE, .ctx = op->ctx};
		op_put_back(t, op);
		return 1;
	}
	op_put_back(t, op);
	return 0;
}

static int on_error(struct transport *t, struct transport_event *ev)
{
	struct fi_cq_err_entry err = {0};
	struct op *op;

	if (fi_cq_readerr(t->cq, &err, 0) != 1)
		return 0;
	op = err.op_context;
	if (!op)
		return 0;
	if (is_rx_op(t, op)) {
		rx_defer(t, op); /* truncated or cancelled receive: reuse the buffer */
		return 0;
	}
	if (op->kind == OP_RMA) {
		rma_done(t, op, err.err ? -(int)err.err : -EIO);
		return 0;
	}
	*ev = (struct transport_event){
	    .type = TRANSPORT_EV_TX_ERROR, .ctx = op->ctx, .err = err.err ? -(int)err.err : -EIO};
	op_put_back(t, op);
	return 1;
}

/* Reads the CQ once. Events go to ev[0..max) first; the rest (all of them
 * when stash_all) go to the stash. Returns the number written to ev. */
static int progress(struct transport *t, struct transport_event *ev, int max, bool stash_all)
{
	struct fi_cq_data_entry ent[16];
	struct transport_event one;
	struct op *rx;
	ssize_t n;
	int out = 0;

	n = fi_cq_read(t->cq, ent, 16);
	if (n == -FI_EAVAIL) {
		if (on_error(t, &one)) {
			if (!stash_all && out < max)
				ev[out++] = one;
			else
				stash_push(t, &one, NULL);
		}
		return out;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (!on_completion(t, &ent[i], &one, &rx))
			continue;
		if (!stash_all && out < max) {
			ev[out++] = one;
			if (rx)
				rx_defer(t, rx);
		} else {
			stash_push(t, &one, rx);
		}
	}
	return out;
}

int transport_poll(struct transport *t, struct transport_event *ev, int max)
{
	int out = 0;

	rx_repost_all(t);
	while (t->stash_len && out < max) {
		struct stashed *s = &t->stash[t->stash_head];

		ev[out++] = s->ev;
		if (s->rx)
			rx_defer(t, s->rx);
		t->stash_head = (t->stash_head + 1) % STASH_MAX;
		t->stash_len--;
	}
	if (out < max)
		out += progress(t, ev + out, max - out, false);
	return out;
}

int transport_wait(struct transport *t, struct transport_event *ev, int max, int timeout_ms)
{
	int64_t deadline = clock_ms() + timeout_ms;
	int n;

	for (;;) {
		n = transport_poll(t, ev, max);
		if (n)
			return n;
		int left = (int)(deadline - clock_ms());
		if (left <= 0)
			return 0;
		struct pollfd pfd[2] = {{.fd = t->wait_fd, .events = POLLIN},
					{.fd = t->wake_fd, .events = POLLIN}};

		if (t->wake_fd >= 0 && poll(&pfd[1], 1, 0) == 1)
			return 0; /* the caller is told to stop */
		if (t->wait_fd >= 0) {
			struct fid *fids[1] = {&t->cq->fid};

			/* trywait says whether sleeping is safe (nothing pending) */
			if (fi_trywait(t->fabric, fids, 1) == FI_SUCCESS &&
			    poll(pfd, t->wake_fd >= 0 ? 2 : 1, left) > 0 && pfd[1].revents)
				return 0;
		} else {
			sched_yield();
		}
	}
}

int transport_flush(struct transport *t, int timeout_ms)
{
	int64_t deadline = clock_ms() + timeout_ms;

	while (t->tx_pending) {
		if (clock_ms() > deadline)
			return -ETIMEDOUT;
		progress(t, NULL, 0, true);
	}
	return 0;
}

/* ---- addresses ------------------------------------------------------- */

int transport_name(struct transport *t, void *buf, size_t *len)
{
	int rc = fi_getname(&t->ep->fid, buf, len);

	return rc ? fi_to_errno(rc) : 0;
}

/* The process id in a shm address ("fi_shm://PID", "fi_shm://PID:..." or
 * coloc's "fi_shm://PID.NONCE:..."),
 * 0 when the address does not name one (an address given with FAAS_ADDR). */
static pid_t shm_name_pid(const char *name, size_t len)
{
	static const char prefix[] = "fi_shm://";
	size_t i = sizeof(prefix) - 1;
	long pid = 0;

	if (len <= i || memcmp(name, prefix, i) != 0)
		return 0;
	for (; i < len && name[i] >= '0' && name[i] <= '9' && pid < 1L << 22; i++)
		pid = pid * 10 + (name[i] - '0');
	if (i == sizeof(prefix) - 1 ||
	    (i < len && name[i] != ':' && name[i] != '.' && name[i] != '\0'))
		return 0;
	return (pid_t)pid;
}

static struct peer_watch *watch_find(struct transport *t, uint64_t peer)
{
	for (unsigned i = 0; i < t->nwatches; i++)
		if (t->watches[i].peer == peer)
			return &t->watches[i];
	return NULL;
}

static void watch_drop(struct transport *t, uint64_t peer)
{
	struct peer_watch *w = watch_find(t, peer);

	if (w) {
		close(w->pidfd);
		*w = t->watches[--t->nwatches];
	}
}

/* shm: watches the peer's process, so that a dead peer is known without a
 * timeout. Best effort: without a pidfd the peer is simply not watched. */
static void watch_add(struct transport *t, uint64_t peer, const void *name, size_t len)
{
	pid_t pid = strncmp(t->provider, "shm", 3) == 0 ? shm_name_pid(name, len) : 0;
	int fd;

	if (pid <= 0)
		return;
	watch_drop(t, peer); /* the same address again */
	if (t->nwatches == t->watch_cap) {
		unsigned cap = t->watch_cap ? 2 * t->watch_cap : 16;
		struct peer_watch *n = realloc(t->watches, cap * sizeof(*n));

		if (!n)
			return;
		t->watches = n;
		t->watch_cap = cap;
	}
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return;
	t->watches[t->nwatches++] = (struct peer_watch){.peer = peer, .pidfd = fd};
}

int transport_peer_add(struct transport *t, const void *name, size_t len, uint64_t *peer)
{
	fi_addr_t addr = FI_ADDR_UNSPEC;

	if (fi_av_insert(t->av, name, 1, &addr, 0, NULL) != 1)
		return -EADDRNOTAVAIL;
	*peer = addr;
	watch_add(t, addr, name, len);
	return 0;
}

static void peer_remove_now(struct transport *t, uint64_t peer)
{
	fi_addr_t addr = peer;

	fi_av_remove(t->av, &addr, 1, 0);
}

int transport_peer_remove(struct transport *t, uint64_t peer)
{
	watch_drop(t, peer);
	if (t->rma_pending) {
		/* later (rma_done): a pending transfer may still use it */
		if (t->ndeferred == t->deferred_cap) {
			unsigned cap = t->deferred_cap ? 2 * t->deferred_cap : 8;
			uint64_t *n = realloc(t->deferred, cap * sizeof(*n));

			if (!n)
				return -ENOMEM; /* kept: a stale entry, not a crash */
			t->deferred = n;
			t->deferred_cap = cap;
		}
		t->deferred[t->ndeferred++] = peer;
		return 0;
	}
	peer_remove_now(t, peer);
	return 0;
}

bool transport_peer_alive(struct transport *t, uint64_t peer)
{
	struct peer_watch *w = watch_find(t, peer);
	struct pollfd pfd;

	if (!w)
		return true;
	pfd = (struct pollfd){.fd = w->pidfd, .events = POLLIN};
	return poll(&pfd, 1, 0) == 0;
}

/* ---- memory registration -------------------------------------------- */

int transport_mr_reg(struct transport *t, void *buf, size_t len, bool remote,
		     struct transport_mr **out)
{
	uint64_t access = FI_SEND | FI_RECV | FI_READ | FI_WRITE;
	struct transport_mr *m;
	int rc;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (remote)
		access |= FI_REMOTE_WRITE | FI_REMOTE_READ;
	for (int tries = 0;; tries++) {
		uint64_t key = (t->mr_mode & FI_MR_PROV_KEY) ? 0 : t->next_key++;

		if (t->info->domain_attr->mr_key_size < 8)
			key &= (1ull << (8 * t->info->domain_attr->mr_key_size)) - 1;
		rc = fi_mr_reg(t->domain, buf, len, access, 0, key, 0, &m->mr, NULL);
		if (rc != -FI_ENOKEY || tries > 8)
			break;
	}
	if (rc)
		goto err_free;
	if (t->mr_mode & FI_MR_ENDPOINT) {
		rc = fi_mr_bind(m->mr, &t->ep->fid, 0);
		if (!rc)
			rc = fi_mr_enable(m->mr);
		if (rc)
			goto err_close;
	}
	m->t = t;
	m->buf = buf;
	m->len = len;
	m->remote = remote;
	m->key = fi_mr_key(m->mr);
	m->desc = fi_mr_desc(m->mr);
	m->next = t->mrs;
	t->mrs = m;
	*out = m;
	return 0;

err_close:
	fi_close(&m->mr->fid);
err_free:
	free(m);
	return fi_to_errno(rc);
}

void transport_mr_dereg(struct transport_mr *m)
{
	struct transport_mr **pp;

	if (!m)
		return;
	for (pp = &m->t->mrs; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	fi_close(&m->mr->fid);
	free(m);
}

void transport_mr_remote(const struct transport_mr *m, const void *ptr, uint64_t *addr,
			 uint64_t *key)
{
	if (m->t->mr_mode & FI_MR_VIRT_ADDR)
		*addr = (uint64_t)(uintptr_t)ptr;
	else
		*addr = (uint64_t)((const char *)ptr - m->buf);
	*key = m->key;
}

bool transport_mr_contains(const struct transport_mr *m, const void *ptr, size_t len)
{
	const char *p = ptr;

	return p >= m->buf && p <= m->buf + m->len && len <= (size_t)(m->buf + m->len - p);
}

/* ---- open / close ---------------------------------------------------- */

static const char *env_or(const char *value, const char *name)
{
	return value ? value : getenv(name);
}

/* Picks the rung: the asked one if the provider can, else the best it has. */
static int choose_rung(struct transport *t, enum transport_rung want, char *err, size_t errlen)
{
	const struct fi_info *fi = t->info;
	bool rma = fi->caps & FI_RMA;
	bool data = rma && fi->domain_attr->cq_data_size >= 4;
	bool saw = rma && (fi->tx_attr->msg_order & FI_ORDER_SAW);

	switch (want) {
	case TRANSPORT_RUNG_AUTO:
		t->rung = data	? TRANSPORT_RUNG_WRITEDATA
			  : saw ? TRANSPORT_RUNG_WRITE_NOTIFY
				: TRANSPORT_RUNG_SEND;
		return 0;
	case TRANSPORT_RUNG_WRITEDATA:
		if (!data)
			break;
		t->rung = want;
		return 0;
	case TRANSPORT_RUNG_WRITE_NOTIFY:
		if (!saw)
			break;
		t->rung = want;
		return 0;
	case TRANSPORT_RUNG_SEND:
		t->rung = want;
		return 0;
	}
	snprintf(err, errlen,
		 "provider %s cannot do the %s rung (RMA %s, CQ data %zu bytes, send-after-write "
		 "order %s); unset FAAS_TRANSPORT_RUNG to let coloc choose",
		 t->provider, transport_rung_name(want), rma ? "yes" : "no",
		 fi->domain_attr->cq_data_size, saw ? "yes" : "no");
	return -ENOTSUP;
}

static struct fi_info *pick_info(struct fi_info *list, const char *provider)
{
	for (struct fi_info *fi = list; fi; fi = fi->next) {
		/* sockets is deprecated and hangs or fails RMA here: only on request. */
		if (!provider && strcmp(fi->fabric_attr->prov_name, "sockets") == 0)
			continue;
		return fi;
	}
	return NULL;
}

static int open_pools(struct transport *t)
{
	int rc;

	t->rx_bufs = aligned_alloc(4096, ((size_t)t->rx_depth * t->buf_size + 4095) & ~4095ul);
	t->tx_bufs = aligned_alloc(4096, ((size_t)TX_BUFS * t->buf_size + 4095) & ~4095ul);
	t->rx_ops = calloc(t->rx_depth, sizeof(*t->rx_ops));
	t->stash = calloc(STASH_MAX, sizeof(*t->stash));
	if (!t->rx_bufs || !t->tx_bufs || !t->rx_ops || !t->stash)
		return -ENOMEM;
	rc = transport_mr_reg(t, t->rx_bufs, (size_t)t->rx_depth * t->buf_size, false, &t->rx_mr);
	if (!rc)
		rc = transport_mr_reg(t, t->tx_bufs, (size_t)TX_BUFS * t->buf_size, false,
				      &t->tx_mr);
	if (rc)
		return rc;
	for (int i = 0; i < TX_BUFS; i++)
		t->tx_free[i] = i;
	t->tx_nfree = TX_BUFS;
	for (int i = TX_OPS - 1; i >= 0; i--) {
		t->ops[i].kind = OP_SEND;
		t->ops[i].buf = -1;
		t->ops[i].next = t->op_free;
		t->op_free = &t->ops[i];
	}
	for (unsigned i = 0; i < t->rx_depth; i++) {
		t->rx_ops[i].kind = OP_RX;
		t->rx_ops[i].buf = (int)i;
		rc = rx_post(t, &t->rx_ops[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static const int guarded_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGINT, SIGTERM};
#define NGUARDED (sizeof(guarded_signals) / sizeof(guarded_signals[0]))

static void save_signals(struct sigaction *saved)
{
	for (size_t i = 0; i < NGUARDED; i++)
		sigaction(guarded_signals[i], NULL, &saved[i]);
}

static void restore_signals(const struct sigaction *saved)
{
	for (size_t i = 0; i < NGUARDED; i++)
		sigaction(guarded_signals[i], &saved[i], NULL);
}

/* libfabric's shm names a process's regions "PID:UID:EP" in /dev/shm
 * (coloc's endpoints "PID.NONCE:UID:EP": shm_unique_name) and removes them
 * at exit, but not after SIGKILL (an evicted executor past its grace): a
 * later process given the same pid could then not open its shm endpoint
 * (EBUSY), and the regions stay in memory. Before this process opens any,
 * a region named with its pid is a dead process's: removed. */
static void shm_remove_stale(void)
{
	char prefix[32];
	struct dirent *e;
	DIR *dir = opendir("/dev/shm");
	int n = snprintf(prefix, sizeof(prefix), "%d", (int)getpid());

	if (!dir)
		return;
	while ((e = readdir(dir)) != NULL)
		if (strncmp(e->d_name, prefix, (size_t)n) == 0 &&
		    (e->d_name[n] == ':' || e->d_name[n] == '.'))
			unlinkat(dirfd(dir), e->d_name, 0);
	closedir(dir);
}

/* Names the shm endpoint "fi_shm://PID.NONCE" (shm appends ":UID:EP"),
 * where shm would name it "fi_shm://PID": a region a killed process with
 * this pid left behind (which a library such as libfaas may not remove:
 * it could be another part of its process's) can then never make the
 * endpoint fail with EBUSY. The pid stays first: peers watch it. */
static int shm_unique_name(struct fi_info *info)
{
	uint64_t nonce;
	char name[64];

	if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce))
		nonce = (uint64_t)clock_ns() * 2654435761u;
	snprintf(name, sizeof(name), "fi_shm://%d.%016llx", (int)getpid(),
		 (unsigned long long)nonce);
	free(info->src_addr);
	info->src_addr = strdup(name);
	if (!info->src_addr) {
		info->src_addrlen = 0;
		return -ENOMEM;
	}
	info->src_addrlen = strlen(name) + 1;
	return 0;
}

void transport_env_defaults(const char *provider)
{
	static bool cleaned;

	/* once, before this program opens an endpoint (its first call) */
	if (!cleaned)
		shm_remove_stale();
	cleaned = true;
	provider = env_or(provider, "FAAS_PROVIDER");
	/* shm keeps CMA: FI_SHM_DISABLE_CMA=1 was set here (shm's copy
	 * through its shared buffers beat CMA from 4 to 64 KiB) until puts
	 * above shm's inject size became chains of injects: it now only
	 * slows large payloads' fi_read/fi_write (SAR ran 3x slower than CMA
	 * here) and lets a peer that exits mid-transfer wedge the endpoint's
	 * later transfers (docs/performance.md, notes on shm). */
	/* rxm (tcp;ofi_rxm) keeps bounce buffers of FI_OFI_RXM_BUFFER_SIZE
	 * bytes (default 16 KiB) in pools of 1024, two per endpoint, and
	 * posts FI_OFI_RXM_MSG_RX_SIZE of them (default 4096, so four pools)
	 * to the shared receive queue: 68 MB touched per endpoint, and about
	 * 60 ms to create. coloc sends rxm only control messages (puts are
	 * RMA writes, which rxm hands to tcp with the caller's buffer): its
	 * largest message is the bound of the buffers, and as many receives as
	 * the transport keeps posted. The send rung's bigger puts go eager
	 * into buffers rxm allocates for them, or by its rendezvous above
	 * the eager limit. */
	setenv("FI_OFI_RXM_MSG_RX_SIZE", TRANSPORT_STR(RX_DEPTH), 0);
	/* rxm refuses a connection from a peer with another eager limit,
	 * which is the buffer size unless set: keep rxm's default (16 KiB),
	 * which clients that set nothing have. Over tcp a message above the
	 * buffer size lands in a buffer allocated for it (rxm's dynamic
	 * receive buffers). rxm reads FI_OFI_RXM_EAGER_LIMIT only over a
	 * provider with dynamic receive buffers (tcp), and libfabric 1.20
	 * and later not at all: elsewhere the eager limit is the buffer size,
	 * so the buffers keep their default size, or clients that set nothing
	 * could not connect (verbs;ofi_rxm; Debian 13's libfabric 2.x). The
	 * provider must be named (--provider, FAAS_PROVIDER) for it. */
	if (provider && strncmp(provider, "tcp", 3) == 0 &&
	    FI_VERSION_LT(fi_version(), FI_VERSION(1, 20)))
		setenv("FI_OFI_RXM_BUFFER_SIZE", TRANSPORT_STR(RXM_BUFFER_SIZE), 0);
	setenv("FI_OFI_RXM_EAGER_LIMIT", TRANSPORT_STR(RXM_EAGER_LIMIT), 0);
}

/* The provider's receive queue: every message and put peers may have in
 * flight to us, at least RX_QUEUE_MIN and the receives we keep posted; a
 * power of two, as shm rounds it. */
static size_t rx_queue_size(const struct transport_opts *o)
{
	size_t want = o->in_flight ? o->in_flight : RX_QUEUE_MIN, size = RX_QUEUE_MIN;

	if (want < (o->rx_depth ? o->rx_depth : RX_DEPTH))
		want = o->rx_depth ? o->rx_depth : RX_DEPTH;
	while (size < want && size < RX_QUEUE_MAX)
		size *= 2;
	return size;
}

void transport_preinit(const char *provider)
{
	struct sigaction saved[NGUARDED];
	struct fi_info *hints = fi_allocinfo(), *list = NULL;

	save_signals(saved);
	provider = env_or(provider, "FAAS_PROVIDER");
	if (hints) {
		hints->ep_attr->type = FI_EP_RDM;
		if (provider && *provider)
			hints->fabric_attr->prov_name = strdup(provider);
	}
	if (fi_getinfo(FI_VERSION(1, 10), NULL, NULL, 0, hints, &list) == 0)
		fi_freeinfo(list);
	fi_freeinfo(hints);
	restore_signals(saved);
}

int transport_open(const struct transport_opts *o, struct transport **out, char *err, size_t errlen)
{
	struct sigaction saved[NGUARDED];
	const char *provider = env_or(o->provider, "FAAS_PROVIDER");
	const char *src = env_or(o->src_addr, "FAAS_ADDR");
	enum transport_rung want = o->rung;
	struct fi_info *hints, *list = NULL;
	struct transport *t;
	int rc;

	/* Some providers (psm2, loaded by fi_getinfo) install handlers for
	 * fatal signals that turn a crash into exit(1) and a backtrace file:
	 * the host program's own handlers come back once we are open. */
	save_signals(saved);

	if (want == TRANSPORT_RUNG_AUTO && getenv("FAAS_TRANSPORT_RUNG") &&
	    transport_rung_parse(getenv("FAAS_TRANSPORT_RUNG"), &want) != 0) {
		snprintf(err, errlen,
			 "FAAS_TRANSPORT_RUNG=%s is not a rung; use writedata, write-notify, send "
			 "or auto",
			 getenv("FAAS_TRANSPORT_RUNG"));
		return -EINVAL;
	}
	if (provider && !*provider)
		provider = NULL;
	if (src && !*src)
		src = NULL;
	t = calloc(1, sizeof(*t));
	hints = fi_allocinfo();
	if (t) {
		t->wait_fd = -1;
		t->wake_fd = o->wake_fd ? *o->wake_fd : -1;
	}
	if (!t || !hints) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory opening the fabric");
		goto err_free;
	}
	hints->ep_attr->type = FI_EP_RDM;
	hints->caps = FI_MSG | (want == TRANSPORT_RUNG_SEND ? 0 : FI_RMA);
	hints->mode = FI_CONTEXT | FI_CONTEXT2 | FI_RX_CQ_DATA;
	hints->domain_attr->mr_mode =
	    FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_ENDPOINT;
	hints->domain_attr->threading = FI_THREAD_DOMAIN;
	if (want == TRANSPORT_RUNG_WRITE_NOTIFY)
		hints->tx_attr->msg_order = FI_ORDER_SAW;
	/* Queue depths from what peers can have in flight (rxm's default
	 * is 2048 receive entries; its transmit side 2048, shm's 1024). */
	hints->rx_attr->size = rx_queue_size(o);
	hints->tx_attr->size = TX_OPS;
	if (provider)
		hints->fabric_attr->prov_name = strdup(provider);
	rc = fi_getinfo(FI_VERSION(1, 10), src, NULL, src ? FI_SOURCE : 0, hints, &list);
	if (!rc && src && pick_info(list, provider) &&
	    pick_info(list, provider)->addr_format == FI_ADDR_STR) {
		/* A host address means nothing to string-addressed providers
		 * (shm names endpoints by process): ask again without it. */
		fi_freeinfo(list);
		list = NULL;
		src = NULL;
		rc = fi_getinfo(FI_VERSION(1, 10), NULL, NULL, 0, hints, &list);
	}
	if (rc || !pick_info(list, provider)) {
		snprintf(
		    err, errlen,
		    "no libfabric provider %s%s%s offers reliable datagram endpoints%s%s (%s); "
		    "check `fi_info -t FI_EP_RDM` and FAAS_PROVIDER/FAAS_ADDR",
		    provider ? "\"" : "", provider ? provider : "", provider ? "\"" : "",
		    src ? " on address " : "", src ? src : "", rc ? fi_strerror(-rc) : "none");
		rc = rc ? rc : -ENODEV;
		goto err_free;
	}
	t->info = fi_dupinfo(pick_info(list, provider));
	fi_freeinfo(list);
	list = NULL;
	snprintf(t->provider, sizeof(t->provider), "%s", t->info->fabric_attr->prov_name);
	if (!src && strcmp(t->provider, "shm") == 0 && t->info->addr_format == FI_ADDR_STR &&
	    shm_unique_name(t->info) != 0) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory naming the shm endpoint");
		goto err_free;
	}
	rc = choose_rung(t, want, err, errlen);
	if (rc)
		goto err_free;
	t->mr_mode = t->info->domain_attr->mr_mode;
	t->rx_cq_data = t->info->mode & FI_RX_CQ_DATA;
	t->inject = t->info->tx_attr->inject_size;
	t->chunked = strncmp(t->provider, "shm", 3) == 0 && t->inject >= 64;
	t->max_put = o->max_put ? o->max_put : 65536;
	t->rma_chunk =
	    t->info->ep_attr->max_msg_size < RMA_CHUNK ? t->info->ep_attr->max_msg_size : RMA_CHUNK;
	t->buf_size = TH_LEN + WIRE_MSG_MAX;
	if (t->rung == TRANSPORT_RUNG_SEND && TH_LEN + t->max_put > t->buf_size)
		t->buf_size = TH_LEN + t->max_put;
	t->rx_depth = o->rx_depth ? o->rx_depth : RX_DEPTH;
	t->busy_timeout_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : BUSY_TIMEOUT_MS;
	if (getrandom(&t->next_key, sizeof(t->next_key), 0) != sizeof(t->next_key))
		t->next_key = (uint64_t)clock_ms() * 2654435761u;
	t->next_key &= ~0xffffull;

	rc = fi_fabric(t->info->fabric_attr, &t->fabric, NULL);
	if (!rc)
		rc = fi_domain(t->fabric, t->info, &t->domain, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot open the %s fabric domain: %s", t->provider,
			 fi_strerror(-rc));
		goto err_close;
	}
	/* A file descriptor wait object, slept on with poll(): fi_cq_sread on
	 * some providers (shm in libfabric 1.17) ignores its timeout. */
	struct fi_cq_attr cqa = {.size = t->rx_depth + TX_OPS + 64,
				 .format = FI_CQ_FORMAT_DATA,
				 .wait_obj = o->waitable ? FI_WAIT_FD : FI_WAIT_NONE};
	rc = fi_cq_open(t->domain, &cqa, &t->cq, NULL);
	if (rc && o->waitable) {
		cqa.wait_obj = FI_WAIT_NONE; /* no wait objects: transport_wait yields */
		rc = fi_cq_open(t->domain, &cqa, &t->cq, NULL);
	} else if (!rc && o->waitable &&
		   fi_control(&t->cq->fid, FI_GETWAIT, &t->wait_fd) != FI_SUCCESS) {
		t->wait_fd = -1;
	}
	struct fi_av_attr ava = {.type = t->info->domain_attr->av_type != FI_AV_UNSPEC
					     ? t->info->domain_attr->av_type
					     : FI_AV_MAP};
	if (!rc)
		rc = fi_av_open(t->domain, &ava, &t->av, NULL);
	if (!rc)
		rc = fi_endpoint(t->domain, t->info, &t->ep, NULL);
	if (!rc)
		rc = fi_ep_bind(t->ep, &t->av->fid, 0);
	if (!rc)
		rc = fi_ep_bind(t->ep, &t->cq->fid, FI_TRANSMIT | FI_RECV);
	if (!rc)
		rc = fi_enable(t->ep);
	if (rc) {
		snprintf(err, errlen, "cannot open a %s endpoint: %s", t->provider,
			 fi_strerror(-rc));
		goto err_close;
	}
	rc = open_pools(t);
	if (rc) {
		snprintf(err, errlen, "cannot register buffers with %s: %s", t->provider,
			 strerror(-rc));
		goto err_close;
	}
	fi_freeinfo(hints);
	restore_signals(saved);
	*out = t;
	return 0;

err_close:
	transport_close(t);
	t = NULL;
err_free:
	fi_freeinfo(list);
	fi_freeinfo(hints);
	free(t);
	restore_signals(saved);
	return rc < 0 ? rc : -EIO;
}

void transport_close(struct transport *t)
{
	if (!t)
		return;
	/* endpoint first: it holds the posted receives and the MR bindings */
	if (t->ep)
		fi_close(&t->ep->fid);
	transport_mr_dereg(t->tx_mr);
	transport_mr_dereg(t->rx_mr);
	while (t->mrs) /* the caller's, if it forgot them */
		transport_mr_dereg(t->mrs);
	if (t->av)
		fi_close(&t->av->fid);
	if (t->cq)
		fi_close(&t->cq->fid);
	if (t->domain)
		fi_close(&t->domain->fid);
	if (t->fabric)
		fi_close(&t->fabric->fid);
	fi_freeinfo(t->info);
	free(t->rx_bufs);
	free(t->tx_bufs);
	free(t->rx_ops);
	free(t->stash);
	while (t->nwatches)
		close(t->watches[--t->nwatches].pidfd);
	free(t->watches);
	free(t->deferred);
	while (t->abandoned) { /* their completions will not come now */
		struct rma_xfer *x = t->abandoned;

		t->abandoned = x->next;
		free(x);
	}
	free(t);
}

/* ---- asynchronous one-sided transfers --------------------------------- */

int transport_rma_start(struct transport *t, enum transport_rma_dir dir, uint64_t peer, void *buf,
			size_t len, struct transport_mr *mr, uint64_t addr, uint64_t key,
			struct rma_xfer **out)
{
	int64_t deadline = clock_ms() + t->busy_timeout_ms;
	struct rma_xfer *x;
	int rc;

	if (t->rung == TRANSPORT_RUNG_SEND || !(t->info->caps & FI_RMA))
		return -ENOTSUP;
	if (len == 0 || len > t->rma_chunk)
		return -EMSGSIZE;
	if (!transport_mr_contains(mr, buf, len))
		return -EFAULT;
	x = rma_xfer_new(t);
	if (!x)
		return -ENOMEM;
	/* a full transmit queue drains as earlier transfers complete */
	while ((rc = rma_post(t, x, dir, peer, buf, len, mr, addr, key)) == -EAGAIN &&
	       clock_ms() < deadline)
		progress(t, NULL, 0, true);
	if (rc) {
		free(x);
		return rc == -EAGAIN ? -ETIMEDOUT : rc;
	}
	*out = x;
	return 0;
}

int transport_rma_test(struct transport *t, struct rma_xfer *x)
{
	if (x->pending)
		progress(t, NULL, 0, true);
	if (x->err)
		return x->err;
	return x->pending ? -EINPROGRESS : 0;
}

void transport_rma_release(struct rma_xfer *x)
{
	if (!x)
		return;
	if (x->pending)
		rma_abandon(x);
	else
		free(x);
}
