/*
 * wire: the data-plane formats between libfaas (client) and faas-executor
 * workers. Every field is fixed-width little-endian; encode/decode never
 * trust a length they did not check.
 *
 * Sequence (per worker; the transport carries "messages" and "puts"):
 *
 *   client                                        worker w
 *     | -- msg HELLO {token, depth, index, name} --> |  token checked,
 *     |                                              |  client added to the AV,
 *     | <-- msg WELCOME {status, base slot, depth,    |  depth slots reserved
 *     |                  cookie} ------------------- |
 *     | -- put [request header | payload] ---------> |  into slot base+k,
 *     |        imm = slot index                      |  header checked,
 *     |                                              |  fn(in, out) runs
 *     | <-- put [reply header | output] ------------ |  into the reply address
 *     |        imm = reply tag | status << 28        |  named by the request
 *
 * Payloads beyond the slot (up to WIRE_RMA_MAX each way) move one-sided:
 *
 *     | -- put [request header | descriptors] -----> |  flags RMA_IN/RMA_OUT
 *     | <== fi_read of the input (RMA_IN) ========== |  into the lease's staging
 *     |                                              |  fn(in, out) runs
 *     | <== fi_write of the output (RMA_OUT) ======= |  when it exceeds the
 *     | <-- put [reply header] --------------------- |  inline capacity
 *     | -- msg PING {cookie, token} ---------------> |  ignored: the fabric's
 *     |        (calls in flight, nothing heard)      |  error says "gone"
 *     | -- msg BYE {cookie, token} ----------------> |  slots freed
 *     | <-- msg EVICT {cookie, token} (stopping) --- |
 *
 * A memory lease's executor (faas-executor --remote-mem) serves no calls;
 * the client reads and writes its region one-sided, once the token showed:
 *
 *     | -- msg HELLO {token, depth 1, index, name} -> |  token checked
 *     | <-- msg REGION {cookie, addr, key, size} ---- |  the region's address
 *     | <== fi_read / fi_write at (addr + off, key) = |  and key: no event,
 *     |                                              |  no call on the node
 *     | <-- msg EVICT {cookie, token} (reclaimed) --- |  EvictGrace to read
 *     | -- msg BYE {cookie, token} ----------------> |  back, then it is gone
 *
 * A HELLO with a wrong token gets no answer: a worker never sends anything
 * to an address that came from a message it could not authenticate (it
 * would serve as a reflector), and refusals are logged at a bounded rate.
 * BYE and EVICT carry the lease token besides the client's 32-bit cookie,
 * so that nobody without the token can drop another's client or make a
 * client believe its worker went away.
 *
 * The reply tag is chosen by the client (call index and generation); the
 * worker copies it back untouched, so a late reply to a timed-out call is
 * recognised and dropped.
 */
#ifndef COLOC_WIRE_H
#define COLOC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC 0x53414146u /* "FAAS" little-endian */
#define WIRE_VERSION 2	       /* 2: BYE and EVICT carry the token */
#define WIRE_TOKEN_LEN 16
#define WIRE_NAME_MAX 256 /* fabric address bytes */
#define WIRE_MSG_MAX 512  /* largest control message */

/* Invocation status, 4 bits in the reply immediate. */
enum wire_status {
	WIRE_OK = 0,
	WIRE_NOFUNC = 1,  /* unknown function id */
	WIRE_TOOBIG = 2,  /* payload larger than the slot */
	WIRE_OUTSIZE = 3, /* output larger than the client's capacity */
	WIRE_FUNC = 4,	  /* the function returned non-zero */
	WIRE_AUTH = 5,	  /* slot not owned by this client (bad cookie) */
	WIRE_BADHDR = 6,  /* malformed request header */
	WIRE_EVICTED = 7, /* the worker is stopping */
	/* sessions (executor/session.h) */
	WIRE_NOSESSION = 8,  /* no such session on this connection */
	WIRE_SWAP = 9,	     /* a chunk of a session's state landed (tag: the session's) */
	WIRE_SWAP_END = 10,  /* the state's trailer landed: all of it was sent */
	WIRE_SWAP_LOST = 11, /* the worker could not write the state back in time */
	/* payloads beyond the slot */
	WIRE_NOSTAGE = 12, /* the lease's staging budget cannot hold the transfer;
			    * out_len: the bytes the call needed */
	WIRE_XFER = 13,	   /* reading the input or writing the output failed */
	WIRE_STATUS_MAX = 15
};

/* Request header, at the start of the slot, followed by the descriptors
 * its flags name (in this order) and then the inline payload. */
#define WIRE_REQ_LEN 48
#define WIRE_REQ_OP_MASK 0xffu	  /* enum wire_op */
#define WIRE_REQ_RMA_IN 0x100u	  /* the input is in the client's memory: in_rma */
#define WIRE_REQ_RMA_OUT 0x200u	  /* an output beyond the inline capacity goes to out_rma */
#define WIRE_RMA_IN_LEN 24	  /* {addr u64, key u64, len u64} */
#define WIRE_RMA_OUT_LEN 16	  /* {addr u64, key u64}; its length is out_cap */
#define WIRE_RMA_MAX (1ull << 30) /* the largest input and output of a call */
struct wire_rma {
	uint64_t addr; /* transport_mr_remote()'s address and key */
	uint64_t key;
	uint64_t len;
};
struct wire_req {
	uint32_t cookie;     /* from WELCOME: proves the slot is the sender's */
	uint32_t reply_tag;  /* echoed in the reply immediate (low 28 bits) */
	uint16_t fn;	     /* function id */
	uint16_t flags;	     /* enum wire_op in WIRE_REQ_OP_MASK | WIRE_REQ_RMA_*; others 0 */
	uint32_t in_len;     /* inline payload bytes after the descriptors (0 with RMA_IN) */
	uint64_t reply_addr; /* where the reply (header + inline output) goes */
	uint64_t reply_key;
	uint64_t out_cap;	 /* output bytes the client can take */
	uint64_t session;	 /* the session (WIRE_OP_CALL..WIRE_OP_SAVE), else 0 */
	struct wire_rma in_rma;	 /* RMA_IN: 1..WIRE_RMA_MAX bytes to read */
	struct wire_rma out_rma; /* RMA_OUT: where an output above the inline
				  * capacity is written (len = out_cap) */
};

/* What a request asks (the low byte of wire_req.flags: wire_req_op());
 * the session operations are executor/session.h's, their payloads are
 * described there. */
enum wire_op {
	WIRE_OP_PLAIN = 0,   /* a stateless call */
	WIRE_OP_CALL = 1,    /* a call in session `session` */
	WIRE_OP_OPEN = 2,    /* opens a session; the reply carries its id */
	WIRE_OP_CLOSE = 3,   /* frees session `session` */
	WIRE_OP_RESTORE = 4, /* a chunk of a resumed session's state */
	WIRE_OP_SAVE = 5,    /* writes session `session`'s state back now */
	WIRE_OP_MAX = 5
};

/* Reply header, followed by the output, at reply_addr. By status:
 *   WIRE_OK       out_len output bytes follow;
 *   WIRE_FUNC     fn_rc is the function's return code, and out_len (at most
 *                 WIRE_FUNC_MSG_MAX and the request's out_cap) bytes of its
 *                 message follow (text, untrusted: the client sanitizes it);
 *   WIRE_OUTSIZE  out_len is the output size the function needed; nothing
 *                 follows;
 *   others        out_len is 0.
 * (Older executors sent out_len 0 for WIRE_FUNC and WIRE_OUTSIZE: a client
 * reads that as "no message" and "size unknown".) */
#define WIRE_REPLY_LEN 16
#define WIRE_FUNC_MSG_MAX 256
struct wire_reply {
	uint64_t out_len; /* output bytes that follow; see above */
	int32_t fn_rc;	  /* the function's return code */
	uint32_t reply_tag;
};

/* Control messages. */
enum wire_msg_type {
	WIRE_HELLO = 1,
	WIRE_WELCOME = 2,
	WIRE_BYE = 3,
	WIRE_EVICT = 4,
	WIRE_PING = 5,	/* liveness probe, never answered (see libfaas/client.c) */
	WIRE_REGION = 6 /* a memory lease's region, to a client that showed the token */
};

struct wire_msg {
	uint8_t type;
	union {
		struct {
			uint8_t token[WIRE_TOKEN_LEN];
			uint32_t depth; /* slots asked for */
			uint32_t index; /* the worker's position in the client's lease:
					 * echoed as WELCOME.worker (a lease may join
					 * the workers of several executors) */
			uint32_t name_len;
			uint8_t name[WIRE_NAME_MAX]; /* client's fabric address */
		} hello;
		struct {
			int32_t status; /* 0, or WIRE_AUTH / WIRE_BADHDR / -ENOSPC */
			uint32_t base;	/* first slot index */
			uint32_t depth; /* slots granted */
			uint32_t cookie;
			uint32_t worker; /* HELLO.index, echoed */
		} welcome;
		struct {
			uint32_t cookie;
			uint8_t token[WIRE_TOKEN_LEN]; /* the lease's */
		} bye; /* also EVICT (the cookie names the client's worker) and PING */
		struct {
			uint32_t cookie; /* for BYE */
			uint64_t addr;	 /* transport_mr_remote()'s address of byte 0 */
			uint64_t key;
			uint64_t size; /* bytes */
		} region;
	} u;
};

/* Reply immediate: tag (28 bits) | status (4 bits). */
static inline uint32_t wire_reply_imm(uint32_t tag, enum wire_status status)
{
	return (tag & 0x0fffffffu) | ((uint32_t)status << 28);
}
static inline uint32_t wire_reply_imm_tag(uint32_t imm)
{
	return imm & 0x0fffffffu;
}
static inline enum wire_status wire_reply_imm_status(uint32_t imm)
{
	return (enum wire_status)(imm >> 28);
}

/* Whether two lease tokens are equal, in time that does not depend on
 * where they differ. */
bool wire_token_equal(const uint8_t a[WIRE_TOKEN_LEN], const uint8_t b[WIRE_TOKEN_LEN]);

/* Bytes of a request before its inline payload: the header and the
 * descriptors its flags name. */
size_t wire_req_head_len(uint16_t flags);
/* The operation a request asks (enum wire_op). */
static inline unsigned wire_req_op(const struct wire_req *req)
{
	return req->flags & WIRE_REQ_OP_MASK;
}
/* Encode into buf (at least wire_req_head_len(req->flags) / WIRE_REPLY_LEN
 * bytes); wire_req_encode returns where the inline payload starts. */
size_t wire_req_encode(const struct wire_req *req, void *buf);
void wire_reply_encode(const struct wire_reply *rep, void *buf);
/* Decode from len bytes; -EPROTO when too short or fields are invalid;
 * wire_req_decode gives -EMSGSIZE (with every other field decoded) when
 * in_len runs past len or in_rma.len past WIRE_RMA_MAX (0 is -EPROTO), and
 * wire_reply_decode (every field decoded) when out_len does: an error but
 * for WIRE_OUTSIZE, whose out_len is a size. */
int wire_req_decode(const void *buf, size_t len, struct wire_req *req);
int wire_reply_decode(const void *buf, size_t len, struct wire_reply *rep);

/* Control messages: encode returns the length written (<= WIRE_MSG_MAX),
 * decode returns 0 or -EPROTO for a short, unknown or inconsistent message. */
size_t wire_msg_encode(const struct wire_msg *msg, void *buf);
int wire_msg_decode(const void *buf, size_t len, struct wire_msg *msg);

#endif
