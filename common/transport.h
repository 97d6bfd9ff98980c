/*
 * transport: the only module that uses libfabric. One struct transport is
 * one reliable-datagram endpoint (FI_EP_RDM) with its own fabric, domain,
 * completion queue and address vector, driven by one thread at a time.
 *
 * It offers two operations to its peers:
 *   - put: a one-sided write of len bytes into a peer's registered memory,
 *     delivered at the target as a TRANSPORT_EV_PUT event carrying a 32-bit
 *     immediate. On providers with write-with-data this is one fi_writedata;
 *     the capability ladder (transport_rung) falls back to write + notify
 *     send, then to a send that the target copies into place.
 *   - msg: a small control message (<= WIRE_MSG_MAX bytes), copied.
 *
 * Memory registration follows the provider's mr_mode: local descriptors
 * (FI_MR_LOCAL), virtual addresses or offsets (FI_MR_VIRT_ADDR), provider
 * or application keys (FI_MR_PROV_KEY), endpoint binding (FI_MR_ENDPOINT).
 * transport_mr_remote() gives the (address, key) pair a peer uses. Receives
 * are pre-posted and re-posted, which also covers FI_RX_CQ_DATA.
 */
#ifndef COLOC_TRANSPORT_H
#define COLOC_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct transport;
struct transport_mr;

enum transport_rung {
	TRANSPORT_RUNG_AUTO = 0,
	TRANSPORT_RUNG_WRITEDATA,    /* fi_writedata with 32-bit remote CQ data */
	TRANSPORT_RUNG_WRITE_NOTIFY, /* fi_write, then a send carrying the immediate */
	TRANSPORT_RUNG_SEND	     /* a send of the data, copied into place by the target */
};

struct transport_opts {
	const char *provider; /* libfabric provider name; NULL = FAAS_PROVIDER, else ranking */
	const char *src_addr; /* local address (node) with FI_SOURCE; NULL = FAAS_ADDR, else any */
	bool waitable;	      /* CQ with a wait object, so transport_wait can block */
	enum transport_rung rung; /* AUTO = FAAS_TRANSPORT_RUNG, else the best the provider has */
	size_t max_put;		  /* largest put; the SEND rung sizes its receive buffers by it */
	unsigned rx_depth;	  /* receives kept posted; 0 = 64 */
	unsigned in_flight;	  /* messages and puts peers may have in flight to us at once
				     (sizes the provider's receive queue, at least 1024); 0 = 1024 */
	int busy_timeout_ms;	  /* longest wait for the provider to take a post; 0 = 2000 */
	const int *wake_fd; /* readable: transport_wait returns at once (a stop); NULL = none */
};

enum transport_event_type {
	TRANSPORT_EV_PUT = 1, /* a peer's put landed: imm */
	TRANSPORT_EV_MSG,     /* a control message: data, len (valid until the next poll) */
	TRANSPORT_EV_TX_DONE, /* a put with a context completed: ctx */
	TRANSPORT_EV_TX_ERROR /* a put or msg failed: ctx (NULL for transport_msg), err (-errno) */
};

struct transport_event {
	enum transport_event_type type;
	uint32_t imm;
	const void *data;
	size_t len;
	void *ctx;
	int err;
};

/* Opens the endpoint. On failure returns -errno and writes a message naming
 * the provider and the remedy into err. */
int transport_open(const struct transport_opts *opts, struct transport **t, char *err,
		   size_t errlen);
/* Loads and initialises libfabric's providers now, so that a later
 * transport_open does not pay for it (the first fi_getinfo of a process
 * took about 90 ms here): for processes started ahead of their work, such
 * as spare executors. provider: the one to ask (NULL: FAAS_PROVIDER, else
 * any). Errors are left to transport_open. */
void transport_preinit(const char *provider);

/* The libfabric settings coloc's own programs run with, each unless the
 * user set it: rxm's FI_OFI_RXM_MSG_RX_SIZE=64 (the receives it keeps
 * posted) and, for a tcp provider (provider, else FAAS_PROVIDER) on
 * libfabric older than 1.20, FI_OFI_RXM_BUFFER_SIZE=544 (coloc's largest
 * message), which take an endpoint's bounce buffers from
 * 68 MB to about 1 MB, with FI_OFI_RXM_EAGER_LIMIT=16384 (rxm's default,
 * which every peer must share); shm keeps CMA, which large payloads' RMA
 * needs. Its first call also removes shm regions a killed process with
 * this pid left in /dev/shm. Call it from main(), before
 * any thread starts and before libfabric is used; libfaas never calls it,
 * since a library must not change its caller's environment (faas(3) tells
 * clients what they may set). */
void transport_env_defaults(const char *provider);
/* Closes everything; memory regions must be deregistered first. NULL is a no-op. */
void transport_close(struct transport *t);

const char *transport_provider(const struct transport *t);
enum transport_rung transport_rung(const struct transport *t);
const char *transport_rung_name(enum transport_rung rung);
/* Parses "writedata", "write-notify", "send" (or "auto"); -EINVAL otherwise. */
int transport_rung_parse(const char *name, enum transport_rung *rung);
/* Bytes a put can carry without a local completion (inject size). */
size_t transport_inject_size(const struct transport *t);

/* The endpoint's fabric address, for peers' transport_peer_add. */
int transport_name(struct transport *t, void *buf, size_t *len);
int transport_peer_add(struct transport *t, const void *name, size_t len, uint64_t *peer);
int transport_peer_remove(struct transport *t, uint64_t peer);
/* False when the peer's process is known to have exited: on shm, whose
 * addresses name the process, a pidfd watches it (one poll(2) per call);
 * elsewhere (and for shm addresses without a process id) always true, and
 * a dead peer shows as a failed message (TRANSPORT_EV_TX_ERROR). */
bool transport_peer_alive(struct transport *t, uint64_t peer);

/* Registers [buf, buf+len). remote: peers may put into it. */
int transport_mr_reg(struct transport *t, void *buf, size_t len, bool remote,
		     struct transport_mr **mr);
void transport_mr_dereg(struct transport_mr *mr);
/* The address and key a peer passes to transport_put for ptr inside mr. */
void transport_mr_remote(const struct transport_mr *mr, const void *ptr, uint64_t *addr,
			 uint64_t *key);
/* True when [ptr, ptr+len) lies inside mr. */
bool transport_mr_contains(const struct transport_mr *mr, const void *ptr, size_t len);

/* Writes src[0..len) (inside mr) to the peer's (addr, key) and raises a PUT
 * event there with imm. Returns 0 when src may be reused at once (inject),
 * 1 when src must stay untouched until TX_DONE(ctx) or TX_ERROR(ctx), or
 * -errno (-EMSGSIZE above max_put, -ETIMEDOUT when the provider stays busy). */
int transport_put(struct transport *t, uint64_t peer, const void *src, size_t len,
		  struct transport_mr *mr, uint64_t addr, uint64_t key, uint32_t imm, void *ctx);
/* Sends a control message (copied; at most WIRE_MSG_MAX bytes). -EPIPE,
 * without posting anything, to a peer known to be dead. */
int transport_msg(struct transport *t, uint64_t peer, const void *buf, size_t len);
/* As transport_msg; when the message fails, its TRANSPORT_EV_TX_ERROR
 * carries ctx (a liveness probe: a peer whose process is gone refuses it). */
int transport_msg_ctx(struct transport *t, uint64_t peer, const void *buf, size_t len, void *ctx);
/* As transport_msg_ctx, but one attempt: -EAGAIN at once when the provider
 * cannot take the message now. rxm (libfabric 1.17) never fails a send to
 * a peer whose process is gone; it says -EAGAIN while it tries to connect
 * again, and a connected peer takes a small message at once: so a probe
 * that keeps getting -EAGAIN names a peer that is gone. */
int transport_probe(struct transport *t, uint64_t peer, const void *buf, size_t len, void *ctx);

/* Large payloads: one-sided transfers that raise no event at the peer.
 * READ copies len bytes of the peer's registered memory at (addr, key)
 * into buf (fi_read); WRITE copies buf to it (fi_write). buf lies inside
 * mr (local descriptors for FI_MR_LOCAL providers). Blocks until every
 * byte has moved, in chunks of 16 MiB (at most the provider's
 * max_msg_size) with 8 in flight; events that arrive meanwhile are kept
 * for the next poll. A completed WRITE is in the peer's memory before any
 * put that follows it. Returns 0; -ENOTSUP on the SEND rung (no RMA);
 * -EPIPE when the peer's process is known to be gone; -ETIMEDOUT when no
 * chunk completed for stall_ms (a peer that does not progress: over tcp
 * its side of the copy runs only in its own fi_cq_read); or the error of
 * a failed chunk. After an error chunks may
 * still be with the provider: buf must stay mapped and registered until
 * transport_rma_busy() says false (its pages may be given back with
 * madvise: a late chunk lands in fresh zero pages). A peer removed while
 * chunks are pending leaves the address vector after them (on shm a dead
 * peer's never complete: its entry stays). */
enum transport_rma_dir { TRANSPORT_RMA_READ, TRANSPORT_RMA_WRITE };
int transport_rma(struct transport *t, enum transport_rma_dir dir, uint64_t peer, void *buf,
		  size_t len, struct transport_mr *mr, uint64_t addr, uint64_t key, int stall_ms);
/* The same, asynchronous: start posts one fi_read/fi_write of len bytes
 * (1 to the provider's max_msg_size, else -EMSGSIZE; -ETIMEDOUT when the
 * provider takes no post for busy_timeout_ms) and returns its handle;
 * test progresses the endpoint and says 0 (done), -EINPROGRESS, or the
 * transfer's error; release frees the handle (one still pending is freed
 * by its completion: buf must stay registered until transport_rma_busy()
 * is false). Many may be in flight. */
struct rma_xfer;
int transport_rma_start(struct transport *t, enum transport_rma_dir dir, uint64_t peer, void *buf,
			size_t len, struct transport_mr *mr, uint64_t addr, uint64_t key,
			struct rma_xfer **x);
int transport_rma_test(struct transport *t, struct rma_xfer *x);
void transport_rma_release(struct rma_xfer *x);
/* Progresses the endpoint; true while chunks of any transport_rma are
 * with the provider. */
bool transport_rma_busy(struct transport *t);

/* Progresses the endpoint and returns up to max events (0 if none). */
int transport_poll(struct transport *t, struct transport_event *ev, int max);
/* As transport_poll, but blocks up to timeout_ms for the first event. */
int transport_wait(struct transport *t, struct transport_event *ev, int max, int timeout_ms);
/* Progresses until every put with a context has completed (their events are
 * kept for the next poll), or timeout_ms passes (-ETIMEDOUT). */
int transport_flush(struct transport *t, int timeout_ms);

#endif
