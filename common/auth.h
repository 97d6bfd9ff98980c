/*
 * auth: binds control messages to credentials, and checks them. The link
 * between the codec (msg_digest, msg.h) and the credential module
 * (cred.h): a credential is made for one message, one receiver ("dest")
 * and, for a reply, one request; auth_check refuses it for anything else.
 *
 *   sender                                       receiver
 *     auth_sign(m, dest):                          msg_decode: m->digest
 *       digest = msg_digest(m)                     auth_check(m, dest):
 *       m->cred = cred_create({dest, digest,         cred_verify(m->cred,
 *                 nonce, time})                        {dest, m->digest})
 *     msg_encode(m) ---------- frame ---------->     replay_cache_add(nonce)
 *
 * Used by ctl_client (requests out, grants back), colocd (requests in,
 * grants out) and the test tools. Stateless; replays are refused by the
 * caller's replay cache.
 */
#ifndef COLOC_AUTH_H
#define COLOC_AUTH_H

#include "cred.h"
#include "msg.h"

#include <stddef.h>
#include <stdint.h>

#define AUTH_DEST_CONTROLLER "controller"
#define AUTH_DEST_REPLY "reply"

/* The dest of requests to the node agent of node: "agent:NODE". */
void auth_agent_dest(const char *node, char out[CRED_DEST_MAX]);

/* Puts into m->cred a fresh credential bound to m and dest. reply_to
 * NULL: m is a request; else m is a reply to the request whose
 * credential's nonce that is (dest is then AUTH_DEST_REPLY). nonce, when
 * not NULL, gets the new credential's nonce, the one a reply to m must be
 * bound to. 0, or -errno with err (munged down, a credential too long). */
int auth_sign(const struct cred_opts *o, struct msg *m, const char *dest, const uint8_t *reply_to,
	      uint8_t nonce[MSG_NONCE_LEN], char *err, size_t errlen);

/* Verifies m's credential: made for dest, for this very message
 * (m->digest, which msg_decode set) and, when reply_to is not NULL, as a
 * reply to that request. *who gets the sender. 0, or -EACCES/-ENOMEM with
 * err saying what is wrong. */
int auth_check(const struct cred_opts *o, const struct msg *m, const char *dest,
	       const uint8_t *reply_to, struct cred_id *who, char *err, size_t errlen);

/* ---- sessions: MUNGE once per connection --------------------------------------------- */

/* A node agent that keeps one connection to the controller proposes a
 * session key K (CRED_KEY_LEN random bytes) in the binding of a request's
 * credential (auth_sign_keyed; with MUNGE, encrypted and readable by root
 * only). Once the controller has verified that credential it keeps K with
 * the connection until the credential expires, and the later requests on
 * that connection carry, instead of a MUNGE credential,
 *   session:COUNTER:HMAC-SHA256(K, "coloc-session1" dest digest COUNTER)
 * bound to the message and its receiver as a credential is; COUNTER must
 * grow from request to request (no replay), and K is worth nothing on any
 * other connection. */
#define AUTH_SESSION_PREFIX "session:"

/* auth_sign with key proposed as the session key (nonce: as auth_sign). */
int auth_sign_keyed(const struct cred_opts *o, struct msg *m, const char *dest,
		    const uint8_t key[CRED_KEY_LEN], uint8_t nonce[MSG_NONCE_LEN], char *err,
		    size_t errlen);

/* Whether cred is a session credential. */
bool auth_is_session(const char *cred);

/* Puts into m->cred the session credential of counter (> 0) under key,
 * bound to m and dest. 0, or -errno with err. */
int auth_session_sign(const uint8_t key[CRED_KEY_LEN], uint64_t counter, struct msg *m,
		      const char *dest, char *err, size_t errlen);

/* Verifies m's session credential under key: bound to m (m->digest) and
 * dest, its counter above last (*counter gets it). 0, or -EACCES with err. */
int auth_session_check(const uint8_t key[CRED_KEY_LEN], uint64_t last, const struct msg *m,
		       const char *dest, uint64_t *counter, char *err, size_t errlen);

#endif
