/*
 * session: the state a worker keeps between the calls of a client's
 * sessions (PraaS-style), and its swap back to the client at eviction.
 *
 * A session belongs to the client connection that opened it (the worker's
 * client entry and its cookie): a request naming it from any other
 * connection, even of the same lease, finds nothing (WIRE_NOSESSION). Its
 * state is one flat buffer, [16-byte trailer | state_cap bytes], mapped
 * (charged to the lease's memory as it is touched) and registered with the
 * worker's endpoint; stateful functions see it as a struct faas_state.
 *
 * Requests (common/wire.h, wire_req.flags = enum wire_op):
 *   OPEN     in: {state_cap u64, swap_addr u64, swap_key u64, len u64,
 *                 tag u32, 0 u32} + the first bytes of the initial state
 *            (len bytes in all; 0 for a fresh session)
 *            out: {session id u64}
 *   RESTORE  in: {offset u64} + bytes of the initial state at offset
 *   CALL     in/out: the function's (a stateless function ignores the state)
 *   SAVE     the state is swapped out now (below); out: {len u64}
 *   CLOSE    the state is freed
 * Errors come back as WIRE_FUNC with fn_rc = -errno and a message:
 * -ENOSPC (no more sessions on this worker), -E2BIG (state_cap above the
 * executor's limit), -ENOMEM, -EINVAL (a malformed payload), -EAGAIN (a
 * call before the initial state was all restored).
 *
 * Swap out (SAVE, or every session when the worker stops): the state is
 * put to the client's swap buffer [trailer | state_cap] in chunks of at
 * most `chunk` bytes at swap_addr + 16 + offset, each with the immediate
 * (tag, WIRE_SWAP); once they all completed, a trailer (a wire_reply:
 * out_len = state length, fn_rc = number of chunks, reply_tag = tag) goes
 * to swap_addr with (tag, WIRE_SWAP_END). The client holds the state once
 * it has the trailer and as many chunks as it names. When the chunks do
 * not complete within the budget the trailer goes with WIRE_SWAP_LOST.
 *
 * Used by its worker's thread only; no locking.
 */
#ifndef COLOC_SESSION_H
#define COLOC_SESSION_H

#include "fnlib.h"
#include "transport.h"
#include "wire.h"

#include <stddef.h>
#include <stdint.h>

#define SESSION_OPEN_LEN 40	       /* OPEN's fixed payload */
#define SESSION_RESTORE_LEN 8	       /* RESTORE's fixed payload */
#define SESSION_MAX_STATE (1ull << 30) /* default state_cap limit */
#define SESSION_SWAP_MS 2000	       /* default budget of the swap at a stop */

struct session_table;

/* Where the swap goes out: the worker's endpoint, a context for its puts
 * (whose TX_DONE the worker ignores), and the largest put. */
struct session_env {
	struct transport *t;
	void *tx_ctx;
	size_t chunk;
};

/* The client a request came from: its entry in the worker, and peer. */
struct session_client {
	unsigned index;
	uint32_t cookie;
	uint64_t peer;
};

/* max: sessions per worker; max_state: largest state_cap (0: default). */
int session_table_create(unsigned max, size_t max_state, struct session_table **table);
/* Frees every state (deregistering it). NULL is a no-op. */
void session_table_destroy(struct session_table *table);

/* Serves a session request (req->flags != WIRE_OP_PLAIN): in[0..req->in_len),
 * output into out[0..cap). Returns the reply's status, with *out_len and
 * *fn_rc as wire_reply's. */
enum wire_status session_request(struct session_table *table, const struct session_env *env,
				 const struct fnlib *lib, const struct session_client *client,
				 const struct wire_req *req, const void *in, void *out, size_t cap,
				 size_t *out_len, int32_t *fn_rc);

/* Frees the sessions of a client that left (BYE, replaced, dropped). */
void session_drop_client(struct session_table *table, unsigned index, uint32_t cookie);

/* Swaps every session out to its client within budget_ms in all (the
 * worker is stopping); returns how many were lost. */
unsigned session_swap_all(struct session_table *table, const struct session_env *env,
			  int budget_ms);

/* Sessions open now. */
unsigned session_count(const struct session_table *table);

#endif
