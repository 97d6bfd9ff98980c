/*
 * rmem: libfaas's memory leases (faas_rmem_*; see faas.h). One struct
 * faas_rmem is one endpoint connected to the lease's memory executor
 * (executor/rmem.c): a HELLO with the lease token, answered by REGION
 * with the region's address and key (wire.h). Reads and writes are
 * transport_rma() straight between the caller's registered memory (or a
 * registered bounce buffer, BOUNCE_LEN at a time) and the region.
 * Control messages (EVICT) are collected when the caller polls
 * (faas_rmem_evicting) and when an access fails, so the data path pays
 * nothing for them. Registered buffers: a short list, searched per access.
 * One thread at a time per handle.
 */
#include "config.h"

#include "faas.h"
#include "internal.h"

#include "clock.h"
#include "lease_doc.h"
#include "transport.h"
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOUNCE_LEN (1u << 20)
#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_CONNECT_MS 5000
#define HELLO_RESEND_MS 250

struct rbuf {
	struct rbuf *next;
	char *buf;
	size_t len;
	struct transport_mr *mr;
};

enum rmem_state { RMEM_LIVE = 0, RMEM_EVICTING, RMEM_GONE };

struct faas_rmem {
	const struct lease_doc *doc;
	struct transport *t;
	uint64_t peer;
	uint64_t addr, key, size;
	uint32_t cookie;
	int timeout_ms;
	enum rmem_state state;
	bool connected;
	char *bounce;
	struct transport_mr *bounce_mr;
	struct rbuf *bufs;
	struct faas_rmem_op *ops; /* started, not yet collected */
};

struct faas_rmem_op {
	struct faas_rmem_op *next, **prev;
	struct rma_xfer *x;
	int64_t deadline_ns;
};

uint64_t faas_lease_remote_mem(const struct faas_lease *lease)
{
	return lease ? lease_doc_of(lease)->remote_mem : 0;
}

/* Handles the control messages that arrived. */
static void rmem_progress(struct faas_rmem *rm, int timeout_ms)
{
	struct transport_event ev[8];
	struct wire_msg m;
	int n =
	    timeout_ms ? transport_wait(rm->t, ev, 8, timeout_ms) : transport_poll(rm->t, ev, 8);

	for (int i = 0; i < n; i++) {
		if (ev[i].type != TRANSPORT_EV_MSG || wire_msg_decode(ev[i].data, ev[i].len, &m))
			continue;
		if (m.type == WIRE_REGION && !rm->connected) {
			rm->addr = m.u.region.addr;
			rm->key = m.u.region.key;
			rm->size = m.u.region.size;
			rm->cookie = m.u.region.cookie;
			rm->connected = true;
		} else if (m.type == WIRE_EVICT && rm->connected && m.u.bye.cookie == rm->cookie &&
			   wire_token_equal(m.u.bye.token, rm->doc->token) &&
			   rm->state == RMEM_LIVE) {
			rm->state = RMEM_EVICTING;
		}
	}
}

static int handshake(struct faas_rmem *rm, int timeout_ms)
{
	struct wire_msg m = {.type = WIRE_HELLO};
	uint8_t buf[WIRE_MSG_MAX];
	size_t name_len = sizeof(m.u.hello.name);
	int64_t deadline = clock_ns() + (int64_t)timeout_ms * 1000000, resend = 0;

	if (transport_name(rm->t, m.u.hello.name, &name_len) != 0)
		return FAAS_ETRANSPORT;
	memcpy(m.u.hello.token, rm->doc->token, WIRE_TOKEN_LEN);
	m.u.hello.depth = 1;
	m.u.hello.name_len = (uint32_t)name_len;
	while (!rm->connected && clock_ns() < deadline) {
		if (clock_ns() >= resend) {
			if (!transport_peer_alive(rm->t, rm->peer))
				return FAAS_EUNAVAIL;
			/* an executor still starting may drop the first */
			transport_msg(rm->t, rm->peer, buf, wire_msg_encode(&m, buf));
			resend = clock_ns() + (int64_t)HELLO_RESEND_MS * 1000000;
		}
		rmem_progress(rm, 0);
	}
	if (!rm->connected)
		return FAAS_EUNAVAIL;
	if (rm->size != rm->doc->remote_mem) {
		fprintf(stderr,
			"libfaas: memory lease %s: the executor serves %llu bytes, the document "
			"says %llu\n",
			rm->doc->id, (unsigned long long)rm->size,
			(unsigned long long)rm->doc->remote_mem);
		return FAAS_EPROTO;
	}
	return FAAS_OK;
}

int faas_rmem_open(const struct faas_lease *lease, const struct faas_client_options *opts,
		   struct faas_rmem **out)
{
	struct faas_client_options o = {0};
	struct transport_opts topts = {0};
	struct faas_rmem *rm;
	char err[512];
	int rc;

	if (!lease || !out)
		return FAAS_EINVAL;
	if (opts)
		o = *opts;
	if (o.timeout_ms < 0 || o.connect_timeout_ms < 0)
		return FAAS_EINVAL;
	if (!lease_doc_of(lease)->remote_mem) {
		fprintf(stderr,
			"libfaas: lease %s is not a memory lease (no \"remote_mem\"); "
			"call its functions with faas_client_create\n",
			lease_doc_of(lease)->id);
		return FAAS_EINVAL;
	}
	rm = calloc(1, sizeof(*rm));
	if (!rm)
		return FAAS_ENOMEM;
	rm->doc = lease_doc_of(lease);
	rm->timeout_ms = o.timeout_ms ? o.timeout_ms : DEFAULT_TIMEOUT_MS;
	topts.provider = rm->doc->provider;
	topts.src_addr = o.src_addr;
	topts.busy_timeout_ms = rm->timeout_ms / 4 + 1;
	rc = transport_open(&topts, &rm->t, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "libfaas: %s\n", err);
		rc = FAAS_ETRANSPORT;
		goto err;
	}
	rc = FAAS_ENOMEM;
	rm->bounce = aligned_alloc(4096, BOUNCE_LEN);
	if (!rm->bounce)
		goto err;
	rc = FAAS_ETRANSPORT;
	if (transport_mr_reg(rm->t, rm->bounce, BOUNCE_LEN, false, &rm->bounce_mr) != 0)
		goto err;
	/* shm refuses the address of another user's executor here */
	rc = FAAS_EUNAVAIL;
	if (transport_peer_add(rm->t, rm->doc->workers[0].addr, rm->doc->workers[0].addr_len,
			       &rm->peer) != 0) {
		fprintf(stderr,
			"libfaas: memory lease %s: cannot reach its executor's %s address\n",
			rm->doc->id, rm->doc->provider);
		goto err;
	}
	rc = handshake(rm, o.connect_timeout_ms ? o.connect_timeout_ms : DEFAULT_CONNECT_MS);
	if (rc)
		goto err;
	*out = rm;
	return FAAS_OK;
err:
	faas_rmem_close(rm);
	return rc;
}

static void op_release(struct faas_rmem_op *op)
{
	*op->prev = op->next;
	if (op->next)
		op->next->prev = op->prev;
	transport_rma_release(op->x);
	free(op);
}

void faas_rmem_close(struct faas_rmem *rm)
{
	struct wire_msg m = {.type = WIRE_BYE};
	uint8_t buf[WIRE_MSG_MAX];

	if (!rm)
		return;
	if (rm->connected && rm->state != RMEM_GONE) {
		m.u.bye.cookie = rm->cookie;
		memcpy(m.u.bye.token, rm->doc->token, WIRE_TOKEN_LEN);
		transport_msg(rm->t, rm->peer, buf, wire_msg_encode(&m, buf));
		transport_flush(rm->t, 100);
	}
	while (rm->ops) /* abandoned: freed by their completions */
		op_release(rm->ops);
	/* a chunk of a failed access may still be with the provider: its
	 * memory stays registered until it is done (or 10 s passed) */
	for (int i = 0; rm->t && i < 10000 && transport_rma_busy(rm->t); i++)
		rmem_progress(rm, 1);
	while (rm->bufs) {
		struct rbuf *b = rm->bufs;

		rm->bufs = b->next;
		transport_mr_dereg(b->mr);
		free(b);
	}
	transport_mr_dereg(rm->bounce_mr);
	transport_close(rm->t);
	free(rm->bounce);
	free(rm);
}

uint64_t faas_rmem_size(const struct faas_rmem *rm)
{
	return rm ? rm->size : 0;
}

int faas_rmem_register(struct faas_rmem *rm, void *buf, size_t len)
{
	struct rbuf *b;

	if (!rm || !buf || len == 0)
		return FAAS_EINVAL;
	for (b = rm->bufs; b; b = b->next)
		if (b->buf == buf)
			return FAAS_EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return FAAS_ENOMEM;
	if (transport_mr_reg(rm->t, buf, len, false, &b->mr) != 0) {
		free(b);
		return FAAS_ETRANSPORT;
	}
	b->buf = buf;
	b->len = len;
	b->next = rm->bufs;
	rm->bufs = b;
	return FAAS_OK;
}

int faas_rmem_unregister(struct faas_rmem *rm, void *buf)
{
	struct rbuf **pp;

	if (!rm)
		return FAAS_EINVAL;
	if (transport_rma_busy(rm->t))
		return FAAS_EBUSY; /* a failed access's chunk may still use it */
	for (pp = &rm->bufs; *pp; pp = &(*pp)->next) {
		struct rbuf *b = *pp;

		if (b->buf != buf)
			continue;
		*pp = b->next;
		transport_mr_dereg(b->mr);
		free(b);
		return FAAS_OK;
	}
	return FAAS_EINVAL;
}

int faas_rmem_evicting(struct faas_rmem *rm)
{
	if (!rm)
		return FAAS_EINVAL;
	if (rm->state != RMEM_GONE)
		rmem_progress(rm, 0);
	if (rm->state == RMEM_EVICTING && !transport_peer_alive(rm->t, rm->peer))
		rm->state = RMEM_GONE;
	return rm->state == RMEM_GONE ? FAAS_EEVICTED : rm->state == RMEM_EVICTING;
}

/* A failed access: after the notice, or with the executor gone, the
 * region is lost for good. */
static int access_failed(struct faas_rmem *rm, int rc)
{
	rmem_progress(rm, 0);
	if (rm->state == RMEM_EVICTING || rc == -EPIPE || !transport_peer_alive(rm->t, rm->peer)) {
		rm->state = RMEM_GONE;
		return FAAS_EEVICTED;
	}
	return rc == -ETIMEDOUT ? FAAS_ETIMEDOUT : FAAS_ETRANSPORT;
}

static int rmem_access(struct faas_rmem *rm, enum transport_rma_dir dir, uint64_t off, char *buf,
		       size_t len)
{
	struct rbuf *b;
	int rc, stall_ms;

	if (!rm || !buf || len == 0 || off > rm->size || len > rm->size - off)
		return FAAS_EINVAL;
	if (rm->state == RMEM_GONE)
		return FAAS_EEVICTED;
	/* a large access is one chunk that completes at once: its bound
	 * grows by 1 ms per 64 KiB (at least 64 MB/s) */
	stall_ms = rm->timeout_ms + (int)((len < BOUNCE_LEN ? len : BOUNCE_LEN) >> 16);
	for (b = rm->bufs; b; b = b->next)
		if (transport_mr_contains(b->mr, buf, len))
			break;
	if (b) {
		rc = transport_rma(rm->t, dir, rm->peer, buf, len, b->mr, rm->addr + off, rm->key,
				   rm->timeout_ms +
				       (int)((len >> 16) > 3600000 ? 3600000 : len >> 16));
		return rc ? access_failed(rm, rc) : FAAS_OK;
	}
	for (size_t done = 0; done < len;) {
		size_t n = len - done < BOUNCE_LEN ? len - done : BOUNCE_LEN;

		if (dir == TRANSPORT_RMA_WRITE)
			memcpy(rm->bounce, buf + done, n);
		rc = transport_rma(rm->t, dir, rm->peer, rm->bounce, n, rm->bounce_mr,
				   rm->addr + off + done, rm->key, stall_ms);
		if (rc)
			return access_failed(rm, rc);
		if (dir == TRANSPORT_RMA_READ)
			memcpy(buf + done, rm->bounce, n);
		done += n;
	}
	return FAAS_OK;
}

int faas_rmem_read(struct faas_rmem *rm, uint64_t off, void *buf, size_t len)
{
	return rmem_access(rm, TRANSPORT_RMA_READ, off, buf, len);
}

int faas_rmem_write(struct faas_rmem *rm, uint64_t off, const void *buf, size_t len)
{
	return rmem_access(rm, TRANSPORT_RMA_WRITE, off, (char *)buf, len);
}

/* ---- asynchronous accesses ------------------------------------------------ */

static int rmem_start(struct faas_rmem *rm, enum transport_rma_dir dir, uint64_t off, void *buf,
		      size_t len, struct faas_rmem_op **out)
{
	struct faas_rmem_op *op;
	struct rbuf *b;
	int rc;

	if (!rm || !buf || !out || len == 0 || off > rm->size || len > rm->size - off)
		return FAAS_EINVAL;
	if (rm->state == RMEM_GONE)
		return FAAS_EEVICTED;
	for (b = rm->bufs; b; b = b->next)
		if (transport_mr_contains(b->mr, buf, len))
			break;
	if (!b)
		return FAAS_EINVAL; /* zero copy only: faas_rmem_register it */
	op = calloc(1, sizeof(*op));
	if (!op)
		return FAAS_ENOMEM;
	rc = transport_rma_start(rm->t, dir, rm->peer, buf, len, b->mr, rm->addr + off, rm->key,
				 &op->x);
	if (rc) {
		free(op);
		return rc == -EMSGSIZE ? FAAS_ETOOBIG : access_failed(rm, rc);
	}
	op->deadline_ns = clock_ns() + ((int64_t)rm->timeout_ms + (int64_t)(len >> 16)) * 1000000;
	op->next = rm->ops;
	if (rm->ops)
		rm->ops->prev = &op->next;
	op->prev = &rm->ops;
	rm->ops = op;
	*out = op;
	return FAAS_OK;
}

int faas_rmem_read_async(struct faas_rmem *rm, uint64_t off, void *buf, size_t len,
			 struct faas_rmem_op **op)
{
	return rmem_start(rm, TRANSPORT_RMA_READ, off, buf, len, op);
}

int faas_rmem_write_async(struct faas_rmem *rm, uint64_t off, const void *buf, size_t len,
			  struct faas_rmem_op **op)
{
	return rmem_start(rm, TRANSPORT_RMA_WRITE, off, (void *)buf, len, op);
}

int faas_rmem_test(struct faas_rmem *rm, struct faas_rmem_op *op)
{
	int rc;

	if (!rm || !op)
		return FAAS_EINVAL;
	rc = transport_rma_test(rm->t, op->x);
	if (rc == -EINPROGRESS && clock_ns() < op->deadline_ns)
		return FAAS_EINPROGRESS;
	op_release(op);
	if (rc == -EINPROGRESS)
		rc = -ETIMEDOUT;
	return rc ? access_failed(rm, rc) : FAAS_OK;
}

int faas_rmem_wait(struct faas_rmem *rm, struct faas_rmem_op *op)
{
	int rc;

	while ((rc = faas_rmem_test(rm, op)) == FAAS_EINPROGRESS)
		;
	return rc;
}
