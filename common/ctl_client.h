/*
 * ctl_client: the one client of the controller (colocd's controller role),
 * used by colocctl, libfaas and the SPANK plugin. One request, one reply,
 * one TCP connection to ControllerHost:ControllerPort (IPv4 or IPv6).
 *
 *   client                                   controller
 *     | connect (non-blocking, poll)             |
 *     | -- frame: lease_acquire|lease_release|query {cred, ...} -->
 *     |    cred bound to this request and "controller", nonce N
 *     | <-- frame: lease_grant|result|ok|error ---------------------
 *     |    a lease_grant's cred: root's, bound to the grant and N
 *     | close                                    |
 *
 * Stateless and reentrant: the caller owns the configuration, the messages
 * and the error buffer.
 */
#ifndef COLOC_CTL_CLIENT_H
#define COLOC_CTL_CLIENT_H

#include "coloc_config.h"
#include "lease_rules.h"
#include "msg.h"

#include <stddef.h>

/* How long a client waits for the controller: FAAS_CONTROLLER_TIMEOUT_MS
 * milliseconds, 1 to CTL_TIMEOUT_MAX_MS; CTL_TIMEOUT_DEFAULT_MS when unset
 * or empty. colocctl's --timeout SEC has the same largest value. */
#define CTL_TIMEOUT_ENV "FAAS_CONTROLLER_TIMEOUT_MS"
#define CTL_TIMEOUT_DEFAULT_MS 30000
#define CTL_TIMEOUT_MAX_MS 3600000

/* The lifetime of a node agent's node_state credential (others live
 * CRED_TTL_S): a heartbeat is used at once, and the controller's replay
 * cache remembers each nonce until its credential expires. */
#define CTL_REPORT_TTL_S 30

/* Sends req to the controller named by cfg (ControllerHost:ControllerPort,
 * resolved with getaddrinfo, every address tried in turn) and waits for the
 * reply, decoded into *reply (the caller msg_free()s it). Requests that
 * carry a credential (all but the plugin's reports) get a fresh one in
 * req->cred, bound to the request and its receiver (auth.h; MUNGE, or
 * AuthType=none's "none:UID:GID:..."). A lease_grant reply is taken only
 * with root's credential bound to it and to the request; any other grant
 * is refused (-EACCES, err saying what is wrong with it).
 *
 * The whole exchange (connect, send, receive) is bounded by timeout_ms;
 * only the name lookup is left to the resolver's own timeouts.
 *
 * Returns 0 when a reply arrived, whatever its type: a reply of type
 * MSG_ERROR is the controller's refusal, for the caller to report. Else
 * -errno with a sentence in err that names the controller's address and
 * the remedy: -ECONNREFUSED (colocd is not running there), -ETIMEDOUT (no
 * connection or no answer in time), -EHOSTUNREACH (the name does not
 * resolve or the host cannot be reached), -ECONNRESET (closed without an
 * answer), -EPROTO (a malformed frame or message), -EIO (no credential:
 * munged), -EACCES (a grant that is not authenticated), -EINVAL (req
 * cannot be encoded), -ENOMEM. */
int ctl_request(const struct coloc_config *cfg, struct msg *req, struct msg *reply, int timeout_ms,
		char *err, size_t errlen);

/* The same exchange with the colocd at host:port (a node agent's
 * NodeAgentPort, or the controller from a node agent); keys names the
 * coloc.conf keys that chose that address, for the error messages; dest
 * is the receiver the credential is for: AUTH_DEST_CONTROLLER, or a node
 * agent's (auth_agent_dest). */
int ctl_request_at(const struct coloc_config *cfg, const char *host, uint16_t port,
		   const char *keys, const char *dest, struct msg *req, struct msg *reply,
		   int timeout_ms, char *err, size_t errlen);

/* A kept connection's session (auth.h): node_state requests after the
 * first go without munged. Zeroed: none yet. */
struct ctl_session {
	bool on;      /* the controller took a credential proposing key */
	bool refused; /* it refused one: no more proposals on this connection */
	uint8_t key[32];
	uint64_t counter;
	int64_t renew; /* unix seconds: propose a new key from then on */
};

/* ctl_request_at on a kept connection: *fd (-1: none yet) is connected
 * when needed and left open after the reply, for the next request (colocd
 * reads request after request on a connection). When colocd has closed a
 * kept connection meanwhile (-ECONNRESET, -EPIPE), the request goes once
 * more on a new one with a fresh credential. On error *fd is closed and
 * -1. The caller serializes the requests on one *fd. With s (NULL: none),
 * node_state requests propose a session on a new connection and use it
 * afterwards (auth.h); a session refused falls back to a credential per
 * request. */
int ctl_request_kept(const struct coloc_config *cfg, const char *host, uint16_t port,
		     const char *keys, const char *dest, int *fd, struct ctl_session *s,
		     struct msg *req, struct msg *reply, int timeout_ms, char *err, size_t errlen);

/* The same exchange with the node agent on its unix socket (SocketPath):
 * the plugin's host job reports, which carry no credential (the agent
 * checks the peer with SO_PEERCRED). */
/* A query's whole answer from the controller, page after page on one
 * connection (req->filter.stream is set): fn(arg, page) gets each reply,
 * a result, or the error that ends it (the caller's to report), and
 * returns 0 to go on or nonzero to stop (then returned). The pages end
 * with the first reply that is not a result with a "next" beyond the last
 * one. A controller without streams is asked page by page (a request
 * each). timeout_ms bounds each page; errors as ctl_request's. */
typedef int (*ctl_page_fn)(void *arg, const struct msg *page);
int ctl_query_pages(const struct coloc_config *cfg, struct msg *req, int timeout_ms, ctl_page_fn fn,
		    void *arg, char *err, size_t errlen);

int ctl_request_unix(const char *path, struct msg *req, struct msg *reply, int timeout_ms,
		     char *err, size_t errlen);

/* Reads FAAS_CONTROLLER_TIMEOUT_MS into *ms: digits only, 1 to
 * CTL_TIMEOUT_MAX_MS; CTL_TIMEOUT_DEFAULT_MS when unset or empty. 0, or
 * -EINVAL with err naming the variable, its value and the accepted
 * range. Reads the environment. */
int ctl_timeout_from_env(int *ms, char *err, size_t errlen);

/* ctl_request for a reply of type expect: 0 with *reply (the caller
 * msg_free()s it). Else -errno with a sentence in err and *reply empty:
 * ctl_request's errors when no answer came; the controller's refusal (an
 * error reply) as the errno its code names (-ENOSPC, -EBUSY, -EDQUOT,
 * -EPERM, -EACCES, -EINVAL, -ENOENT, ...; -EREMOTEIO for a code this
 * client does not know), err then "the controller refused the TYPE
 * request: CODE: message"; -EPROTO for an answer of another type. */
int ctl_call(const struct coloc_config *cfg, struct msg *req, enum msg_type expect, int timeout_ms,
	     struct msg *reply, char *err, size_t errlen);

/* The lease round trip of libfaas, colocctl and the SPANK plugin: sends r
 * as a lease_acquire (a time of 0 becomes cfg's DefaultLeaseTime) with
 * ctl_request, so the request is signed and the grant must carry root's
 * credential bound to it. r is checked with lease_rules_check first: a
 * request that breaks a rule never leaves the client (-EINVAL).
 *
 * Returns 0 with *grant a MSG_LEASE_GRANT (id, lease document; the caller
 * msg_free()s it). Else -errno with a sentence in err, *grant empty, as
 * ctl_call: -ENOSPC or -EBUSY (not enough idle resources now), -EDQUOT
 * (MaxLeasesPerUser, MaxWorkersPerUser), -ECONNREFUSED, -ETIMEDOUT, ...
 * (no answer), -EACCES (refused, or a grant that is not authenticated).
 * Reentrant. */
int ctl_lease_acquire(const struct coloc_config *cfg, const struct lease_request *r, int timeout_ms,
		      struct msg *grant, char *err, size_t errlen);

/* Releases lease id (its owner, or root). 0, or -errno as ctl_call:
 * -ENOENT when the controller does not know the lease (released or ended
 * already), -EPERM when it is another user's; -EINVAL for an id that
 * cannot be one (nothing sent). */
int ctl_lease_release(const struct coloc_config *cfg, const char *id, int timeout_ms, char *err,
		      size_t errlen);

#endif
