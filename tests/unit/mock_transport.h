/*
 * mock_transport: an in-memory stand-in for common/transport.c, linked
 * into the unit tests of the modules above the transport (worker, client).
 * It records every message and put with a copy of its data, hands out the
 * events the test queued, and translates the (addr, key) pairs of
 * transport_mr_remote back to pointers so a test can play the peer.
 *
 * Addresses: transport_mr_remote gives the offset of ptr inside its region
 * and the key MOCK_KEY_BASE + the region's registration index.
 * Peers: transport_peer_add gives MOCK_PEER_BASE, MOCK_PEER_BASE + 1, ...
 */
#ifndef COLOC_TESTS_MOCK_TRANSPORT_H
#define COLOC_TESTS_MOCK_TRANSPORT_H

#include "transport.h"
#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOCK_KEY_BASE 0x1000u
#define MOCK_PEER_BASE 100u
#define MOCK_MAX 64	   /* records of each kind */
#define MOCK_DATA_MAX 4096 /* bytes copied per put */
#define MOCK_NAME "mock-endpoint"

struct mock_put {
	uint64_t peer;
	const void *src;
	size_t len;
	uint8_t data[MOCK_DATA_MAX]; /* copy of src[0..min(len, MOCK_DATA_MAX)) */
	struct transport_mr *mr;
	uint64_t addr, key;
	uint32_t imm;
	void *ctx;
	int rc;		  /* what transport_put returned */
	bool outstanding; /* rc was 1 and no completion was delivered yet */
};

struct mock_msg {
	uint64_t peer;
	uint8_t data[WIRE_MSG_MAX];
	size_t len;
};

struct mock_peer {
	uint8_t name[WIRE_NAME_MAX];
	size_t len;
	bool removed;
};

/* Hooks a test may set; they run inside transport_msg / transport_put,
 * after the call was recorded (and only when it succeeds). */
typedef void mock_msg_hook(uint64_t peer, const void *buf, size_t len);
typedef void mock_put_hook(const struct mock_put *put);

struct mock_state {
	unsigned opens, closes, flushes;
	struct transport_opts opts; /* of the latest transport_open */
	int open_rc, flush_rc;
	int put_rc; /* returned by the next puts (0 = injected) */
	int msg_rc; /* returned by the next messages */
	/* puts whose source overlapped that of an outstanding put: the caller
	 * rewrote memory the fabric may still be reading */
	unsigned reuse_errors;
	unsigned nputs;
	struct mock_put puts[MOCK_MAX];
	unsigned nmsgs;
	struct mock_msg msgs[MOCK_MAX];
	unsigned npeers;
	struct mock_peer peers[MOCK_MAX];
	mock_msg_hook *on_msg;
	mock_put_hook *on_put;
};

extern struct mock_state mock;

/* Forgets everything (regions must have been deregistered). */
void mock_reset(void);

/* Events the next transport_poll/transport_wait return, in order; data is copied. */
void mock_queue_put(uint32_t imm);
void mock_queue_msg(const void *data, size_t len);
void mock_queue_event(enum transport_event_type type, int err, void *ctx);
/* Queues the completion of put i: TX_DONE, or TX_ERROR when err < 0. The put
 * stops being outstanding when the event is polled, or at transport_flush,
 * which queues TX_DONE for every outstanding put (as the real one keeps
 * their events for the next poll). */
void mock_complete(unsigned i, int err);
unsigned mock_queued(void);

/* The nth registration (0 = first) that is still registered with the given
 * remote flag, or NULL; its buffer and length. */
struct transport_mr *mock_mr_find(bool remote, unsigned nth);
void *mock_mr_buf(const struct transport_mr *mr);
size_t mock_mr_len(const struct transport_mr *mr);
unsigned mock_mrs_live(void);

/* The memory a peer's put to (addr, key) of len bytes lands in, or NULL
 * when it is outside every live registration. */
void *mock_translate(uint64_t addr, uint64_t key, size_t len);

/* Peer records, by the value transport_peer_add gave. */
const struct mock_peer *mock_peer(uint64_t peer);

#endif
