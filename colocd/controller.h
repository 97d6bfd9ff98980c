/*
 * controller: colocd's controller role, on one host of the cluster. It
 * owns soft state only:
 *   - the registry of nodes: what each node agent last reported (its gap,
 *     its leases), when, whether it is up or drained;
 *   - placement (placement.c) over the registry;
 *   - the lease table: who holds what where until when, and the leases
 *     that ended lately with why.
 * A restarted controller knows nothing until the node agents report again
 * (every second): it adopts the leases they run, so nothing is lost.
 *
 * Node agents are reached through async.c (exec_start, exec_stop), or
 * directly when colocd --standalone runs the node agent in the same
 * process (controller_set_local). Driven by one thread.
 */
#ifndef COLOC_CONTROLLER_H
#define COLOC_CONTROLLER_H

#include "agent.h"
#include "async.h"
#include "coloc_config.h"
#include "conns.h"
#include "cred.h"
#include "msg.h"

#define CONTROLLER_MAX_NODES 1024
#define CONTROLLER_MAX_LEASES 4096
#define CONTROLLER_NODE_DOWN_MS 5000 /* silence after which a node is down */

/* Delivers the reply to a request (exactly once; maybe before the request
 * function returns). */
typedef void (*controller_reply_fn)(void *arg, uint64_t cookie, const struct msg *reply);

struct controller;

struct controller *controller_create(const struct coloc_config *cfg, struct async *async);
void controller_destroy(struct controller *c);

/* colocd --standalone: the node agent in this process; its state is
 * handed over with controller_node_state(c, m, NULL). */
void controller_set_local(struct controller *c, struct agent *local);

/* Whether the controller takes requests of type t (lease_acquire,
 * lease_release, query, drain, node_state). */
bool controller_takes(enum msg_type t);

/* A request from a client (lease_acquire, lease_release, query, drain) or
 * a node agent (node_state); peer says where it came from, from who sent
 * it: the caller has verified its credential (auth_check, once: see
 * replay_cache.h); NULL is refused. Who may ask for what (uid 0, the
 * lease's owner) is checked here. A lease grant to the client is marked
 * to be signed (msg.sign), bound to from's nonce. */
void controller_request(struct controller *c, const struct msg *m, const struct conns_peer *peer,
			const struct cred_id *from, controller_reply_fn fn, void *arg,
			uint64_t cookie);

/* A node agent's state. peer and from NULL: the local agent (no
 * credential); else from must be uid 0. 0, or -errno with err. */
int controller_node_state(struct controller *c, const struct msg *m, const struct conns_peer *peer,
			  const struct cred_id *from, char *err, size_t errlen);

/* Node liveness, forgotten leases. */
void controller_tick(struct controller *c);

void controller_reload(struct controller *c, const struct coloc_config *cfg);

#endif
