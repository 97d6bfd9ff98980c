/*
 * comm_wire: the data-plane formats of messaging among a lease's workers
 * (faas_invoke_all and a function's communicator, see faas(3)).
 *
 * Sequence (one job = one faas_invoke_all; ranks 0..size-1 are workers):
 *
 *   client                     worker rank r                 worker rank q
 *     | -- put [wire_req | comm header | input] --> |                  |
 *     |      header: {job, rank r, size, timeout,   |  peers added to  |
 *     |               every rank's fabric address}  |  the AV          |
 *     |                                             | -- COMM DATA --> |  token and job
 *     |                                             |   {token, job,   |  checked; chunks
 *     |                                             |    src, tag, seq,|  assembled
 *     |                                             |    total, offset}|
 *     |                                             | <- COMM ABORT -- |  (q evicted or
 *     |                                             |   {status}       |   saw a rank die)
 *     | <-- put [wire_reply | output] (per rank) -- |                  |
 *
 * Comm messages travel as the transport's control messages (at most
 * WIRE_MSG_MAX bytes) and start with COMM_MAGIC, which no wire.h message
 * starts with. Every one carries the lease token: a worker drops a comm
 * message whose token is not its lease's, so a process without the token
 * (another user's) cannot inject data into, or abort, a lease's job.
 */
#ifndef COLOC_COMM_WIRE_H
#define COLOC_COMM_WIRE_H

#include "wire.h"

#include <stddef.h>
#include <stdint.h>

#define COMM_MAGIC 0x4d4f4346u /* "FCOM" little-endian */
#define COMM_VERSION 1
#define COMM_SIZE_MAX 1024 /* ranks of one job */
#define COMM_HDR_FIXED 32  /* comm header before the addresses */

/* The header in front of a comm function's input (one per rank). */
struct comm_hdr {
	uint32_t rank, size;
	uint64_t job;	     /* random per faas_invoke_all */
	uint32_t timeout_ms; /* the call's timeout: every wait of the job ends by it */
	uint32_t len;	     /* header bytes, addresses included */
	/* addresses of ranks 0..size-1, decoded in place (point into the buffer) */
	const uint8_t *addr[COMM_SIZE_MAX];
	uint16_t addr_len[COMM_SIZE_MAX];
};

/* Bytes comm_hdr_encode writes for these address lengths. */
size_t comm_hdr_size(unsigned size, const size_t *addr_len);
/* Encodes h (addr/addr_len of size ranks) into buf (comm_hdr_size bytes);
 * returns the length written. */
size_t comm_hdr_encode(const struct comm_hdr *h, void *buf);
/* Decodes from len bytes; -EPROTO when it is not a comm header (no magic),
 * -EINVAL when a field is out of range or an address runs past len. */
int comm_hdr_decode(const void *buf, size_t len, struct comm_hdr *h);

enum comm_kind { COMM_DATA = 1, COMM_ABORT = 2 };

#define COMM_MSG_HDR 56
#define COMM_CHUNK_MAX (WIRE_MSG_MAX - COMM_MSG_HDR)

struct comm_msg {
	uint8_t kind;
	uint8_t token[WIRE_TOKEN_LEN];
	uint64_t job;
	int32_t src; /* rank of the sender */
	int32_t tag;
	uint32_t seq;	 /* message number from src to this rank, in the job */
	uint32_t total;	 /* message bytes */
	uint32_t offset; /* of this chunk */
	int32_t status;	 /* ABORT: why (a FAAS_E* code) */
	uint32_t chunk_len;
	const void *chunk; /* decode: points into the buffer */
};

/* True when buf starts with COMM_MAGIC (a comm message, not a wire.h one). */
bool comm_msg_is(const void *buf, size_t len);
/* Encodes m and chunk_len bytes of m->chunk; returns the length (<= WIRE_MSG_MAX). */
size_t comm_msg_encode(const struct comm_msg *m, void *buf);
/* 0, or -EPROTO for a short or inconsistent message. */
int comm_msg_decode(const void *buf, size_t len, struct comm_msg *m);

#endif
