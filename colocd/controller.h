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
 * Node agents are reached through one seam, struct controller_nodes,
 * which the daemon provides: over TCP (async.c) to remote agents, in
 * memory to the agent of colocd --standalone; a unit test gives a fake.
 * Driven by one thread.
 */
#ifndef COLOC_CONTROLLER_H
#define COLOC_CONTROLLER_H

#include "coloc_config.h"
#include "conns.h"
#include "cred.h"
#include "msg.h"

#ifndef CONTROLLER_NODE_DOWN_MS	     /* a unit test shortens it */
#define CONTROLLER_NODE_DOWN_MS 5000 /* silence after which a node is down */
#endif
#ifndef CONTROLLER_NODE_FORGET_MS	  /* a unit test shortens it */
#define CONTROLLER_NODE_FORGET_MS 3600000 /* down this long, holding no lease: forgotten */
#endif

/* A node agent's answer to what the controller sent it: rc 0 with *reply
 * (an error message is a reply too), else -errno with err saying why no
 * reply came. */
typedef void (*controller_node_cb)(void *arg, uint64_t cookie, int rc, const struct msg *reply,
				   const char *err);

/* Where a node agent is: its name, and where its state came from. */
struct controller_node {
	const char *name;
	const char *addr; /* the numeric address its state came from */
	uint16_t port;	  /* its NodeAgentPort */
	bool local;	  /* in this process (its state came without a peer) */
};

/* The seam to node agents. send: delivers req (moved: what it owns is
 * freed by send, also on failure) to node's agent within timeout_ms and
 * calls cb(arg, cookie, ...) with the answer later, never before send
 * returns and on the controller's thread; 0, or -errno when cb will not
 * run. */
struct controller_nodes {
	int (*send)(void *ctx, const struct controller_node *node, struct msg *req, int timeout_ms,
		    controller_node_cb cb, void *arg, uint64_t cookie);
	void *ctx;
};

struct controller;

/* nodes is copied. NULL on ENOMEM. */
struct controller *controller_create(const struct coloc_config *cfg,
				     const struct controller_nodes *nodes);
void controller_destroy(struct controller *c);

/* Whether the controller takes requests of type t (lease_acquire,
 * lease_release, query, drain, node_state). */
bool controller_takes(enum msg_type t);

/* A request from a client (lease_acquire, lease_release, query, drain) or
 * a node agent (node_state, heartbeat); peer says where it came from, from who sent
 * it: the caller has verified its credential (auth_check, once: see
 * replay_cache.h); NULL is refused. Who may ask for what (uid 0, the
 * lease's owner) is checked here. A lease grant to the client is marked
 * to be signed (msg.sign), bound to from's nonce. fn gets the reply
 * (msg.h: exactly once, maybe before this returns). */
void controller_request(struct controller *c, const struct msg *m, const struct conns_peer *peer,
			const struct cred_id *from, msg_reply_fn fn, void *arg, uint64_t cookie);

/* A node agent's state. peer and from NULL: the local agent (no
 * credential); else from must be uid 0. 0, or -errno with err. */
int controller_node_state(struct controller *c, const struct msg *m, const struct conns_peer *peer,
			  const struct cred_id *from, char *err, size_t errlen);

/* A node agent's heartbeat (m: node and gen): the node's state is still
 * the node_state of generation m->u.node.gen. Taken (0: the node is live,
 * its listed leases seen) when the controller holds that generation of an
 * up node, reported from peer's address, and still has every lease it
 * listed; else -ESTALE with err (the agent sends its whole state then).
 * from must be uid 0 (-EPERM). */
int controller_heartbeat(struct controller *c, const struct msg *m, const struct conns_peer *peer,
			 const struct cred_id *from, char *err, size_t errlen);

/* Node liveness, leases of down nodes that reached their end time, nodes
 * down for CONTROLLER_NODE_FORGET_MS. Costs O(nodes that went down) per
 * call, and once a second O(down nodes): call it after every wake-up. */
void controller_tick(struct controller *c);

void controller_reload(struct controller *c, const struct coloc_config *cfg);

struct metrics_page;

/* Writes the controller's metrics (metrics.h): nodes by state, leases by
 * state, grants and ends, placement time and failures by reason. */
void controller_metrics(const struct controller *c, struct metrics_page *p);

#endif
