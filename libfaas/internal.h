/*
 * internal: what libfaas's files share and do not export (only faas_*
 * symbols leave the library).
 */
#ifndef FAAS_INTERNAL_H
#define FAAS_INTERNAL_H

#include "faas.h"

#include <stdbool.h>
#include <stdint.h>

/* The coloc.conf a lease was acquired with (NULL: the default), so that
 * faas_lease_release() asks the same controller. 0 or FAAS_ENOMEM. */
int lease_set_conf(struct faas_lease *lease, const char *conf);
const char *lease_conf(const struct faas_lease *lease);

/* client.c, for session.c. */
struct transport;
struct session_registry;
struct transport *client_transport(struct faas_client *c);
size_t client_slot_size(const struct faas_client *c);
/* Where session.c keeps the client's sessions (NULL until it makes it). */
struct session_registry **client_sessions(struct faas_client *c);
/* Handles what is ready (waiting up to 1 ms), and looks for dead workers. */
void client_progress(struct faas_client *c);
/* worker if usable, else the next usable one for -1; FAAS_EINVAL,
 * FAAS_EEVICTED or FAAS_EUNAVAIL when there is none. */
int client_pick_worker(struct faas_client *c, int worker);
/* Calls one worker may have in flight from this client. */
unsigned client_depth(const struct faas_client *c);
/* Starts a call on worker wi with request op and session (never moved to
 * another worker), waiting (bounded) for a free record of that worker; the
 * handle is collected with faas_wait. */
int client_send_on(struct faas_client *c, unsigned wi, uint16_t op, uint64_t session, int fn,
		   const void *in, size_t in_len, void *out, size_t out_cap,
		   struct faas_session *owner, struct faas_call **call);
/* client_send_on, then faas_wait. owner: the session of a CALL. */
int client_call_on(struct faas_client *c, unsigned wi, uint16_t op, uint64_t session, int fn,
		   const void *in, size_t in_len, void *out, size_t out_cap,
		   struct faas_session *owner, size_t *out_len);

/* session.c, for client.c. */
/* A put of a session's state (WIRE_SWAP, WIRE_SWAP_END, WIRE_SWAP_LOST). */
void session_on_swap(struct faas_client *c, uint32_t imm);
/* A CALL of session s ran on its worker (its reply came, in order with
 * the worker's later puts): the copy last written back is stale. */
void session_call_ran(struct faas_session *s);
/* Worker wi was evicted (dead: its process is known to be gone, nothing
 * more can come from it). */
void session_worker_gone(struct faas_client *c, unsigned wi, bool dead);
/* Frees the sessions left (their handles become invalid); NULL: no-op. */
void session_registry_free(struct session_registry *r);

struct lease_doc;
/* Starts a call of fn on the client's worker wi only (a rank of
 * faas_invoke_all): never moved to another worker, it fails with
 * FAAS_EEVICTED or FAAS_EUNAVAIL when that worker goes. FAAS_EBUSY when
 * the worker has no free record now; otherwise as faas_invoke_async. */
int client_submit_to(struct faas_client *c, unsigned wi, int fn, const void *in, size_t in_len,
		     void *out, size_t out_cap, struct faas_call **call);
/* Sends a control message to the client's worker wi (FAAS_EUNAVAIL when
 * it is not connected or evicted). */
int client_send_msg(struct faas_client *c, unsigned wi, const void *buf, size_t len);
const struct lease_doc *client_lease_doc(const struct faas_client *c);
int client_timeout_ms(const struct faas_client *c);
/* Sets what faas_last_error says (faas_last_fn_rc becomes 0). */
void client_note(struct faas_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The lease's parsed document; owned by the lease. */
const struct lease_doc *lease_doc_of(const struct faas_lease *lease);

#endif
