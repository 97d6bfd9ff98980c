/*
 * controller: the controller role (see controller.h).
 *
 * A lease goes PLACING (placed, exec_start sent to its node agent) ->
 * READY (the agent answered with the lease document, which goes to the
 * client) -> gone (released through exec_stop, or reported ended by its
 * agent: expired, evicted, failed). Leases an agent reports that the table
 * does not hold (after a controller restart) are adopted as they are.
 * Every change to a node's gap or leases is pushed into the placement
 * registry at once, so placement sees PLACING leases as taken.
 *
 * Data structures, none with a fixed limit: nodes and leases live in
 * chunks of CHUNK records (so a record never moves) that are added as the
 * tables grow; a freed slot goes on a free list (leases: first in, first
 * out, so a slot is reused as late as possible). Names (node names, lease
 * ids) are found through hash indexes (nameindex.c); each node links its
 * leases, so that a node's report or its gap touches its own leases only,
 * and each user's leases and workers are counted (quotas). Live nodes are
 * kept in a list in the order they last reported (a report moves its node
 * to the tail), down nodes in the order they went down: controller_tick
 * looks at the heads only. A node down for CONTROLLER_NODE_FORGET_MS that
 * holds no lease is forgotten. Per report the work is O(the node's leases),
 * whatever the number of nodes. A node's state is kept with its
 * generation (node_state's gen): a heartbeat naming that generation says
 * nothing changed, and costs a lookup and the node's lease list.
 */
#include "config.h"

#include "controller.h"

#include "auth.h"
#include "clock.h"
#include "frame.h"
#include "log.h"
#include "metrics.h"
#include "nameindex.h"
#include "placement.h"
#include "cpumask.h"
#include "usage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define EXEC_TIMEOUT_MS 12000 /* the agent gives an executor 10 s to start */
#define STOP_TIMEOUT_MS 8000
#define FORGET_MS 5000	  /* a lease its agent no longer reports */
#define ENDED_KEEP 64	  /* ended leases shown by queries */
#define ENDED_KEEP_S 3600 /* for at most this long */
#define CHUNK 1024	  /* records per chunk of the node and lease tables */
#define SWEEP_MS 1000	  /* down nodes' leases and forgetting, this often */
/* A restarted controller hears from thousands of agents at once: none is
 * marked down while it digests that. */
#define START_GRACE_MS (2 * CONTROLLER_NODE_DOWN_MS)
#define PAGE_ROWS 512 /* rows a query's page starts with (cut to fit a frame) */
#define NONE UINT32_MAX
#define ENDED_CURSOR (1ull << 40) /* leases pages: cursors past it are ended leases */

enum cl_state { CL_FREE = 0, CL_PLACING, CL_STARTING, CL_READY };

/* Why a lease_acquire got no lease (coloc_placement_failures_total). */
enum place_fail {
	FAIL_NO_CAPACITY, /* no node has the gap */
	FAIL_INVALID,	  /* a request placement refuses */
	FAIL_QUOTA,	  /* MaxLeasesPerUser, MaxWorkersPerUser */
	FAIL_TABLE_FULL,  /* out of memory for the lease table */
	FAIL_UNREACHABLE, /* the node agent could not be asked, or did not answer */
	FAIL_REFUSED,	  /* the node agent answered with an error */
	FAIL_REASONS
};
static const char *const fail_labels[FAIL_REASONS] = {
    "no_capacity", "invalid", "quota", "table_full", "node_unreachable", "node_refused"};
static const char *const cend_labels[] = {"released", "expired", "evicted", "failed"};
#define CEND_STATES (sizeof(cend_labels) / sizeof(cend_labels[0]))

struct cl_reply {
	msg_reply_fn fn; /* NULL: nobody waits */
	void *arg;
	uint64_t cookie;
	bool sign;		      /* a grant to it is authenticated ... */
	uint8_t nonce[MSG_NONCE_LEN]; /* ... bound to the request's nonce */
};

struct clease {
	enum cl_state state;
	uint32_t gen; /* bumped when the lease is dropped: stale agent replies */
	char id[64];
	uint32_t uid, gid, workers;
	unsigned node;
	unsigned last_node;  /* of the lease dropped last from this slot */
	uint32_t self;	     /* this slot's index */
	uint32_t prev, next; /* its node's leases; next: the free list */
	struct place_assignment where;
	int64_t expires, pid;
	uint32_t job;		  /* the client's Slurm job, 0 = none */
	int64_t since_ms;	  /* last change, or last seen in its agent's report */
	bool reported;		  /* in its node's last node_state (a heartbeat: still) */
	struct cl_reply waiter;	  /* the lease_acquire, until the grant */
	struct cl_reply releaser; /* the lease_release, until exec_stop returns */
};

struct cended {
	char id[64], node[MSG_NODE_MAX], state[16], why[128];
	uint32_t uid;
	int64_t at;
};

struct cnode {
	bool used, local, down, drained;
	uint32_t leases;     /* first of its leases, NONE */
	uint32_t nleases;    /* how many */
	uint32_t prev, next; /* the live or the down list; next: free list */
	int64_t down_ms;     /* when it went down */
	char name[MSG_NODE_MAX];
	char addr[64];
	char cgroup[256]; /* its CgroupRoot */
	uint16_t port;
	struct cpumask all, lendable, unallocated, near_host;
	uint64_t mem, mem_lendable;
	uint32_t ngpus, gpus_lendable, jobs;
	int64_t until;	     /* 0: none */
	int64_t seen_ms;     /* last report */
	uint64_t gen;	     /* the generation of its last node_state, 0: none */
	uint32_t gen_leases; /* the leases that node_state listed */
};

/* A list of nodes through their prev and next. */
struct nlist {
	uint32_t head, tail;
};

/* What a user holds (MaxLeasesPerUser, MaxWorkersPerUser). */
struct user_held {
	uint32_t uid; /* NONE: an empty slot */
	uint32_t leases;
	uint64_t workers;
};

struct controller {
	struct coloc_config cfg;
	struct controller_nodes to_nodes; /* the seam to node agents */
	struct placement *place;
	struct cnode **node_chunk;	       /* node i: node_chunk[i / CHUNK][i % CHUNK] */
	uint32_t nodes_cap, nodes_hwm, nnodes; /* slots, slots ever used, nodes */
	uint32_t free_nodes;		       /* a stack through next */
	struct nlist live, down;	       /* remote nodes up (by last report), down */
	struct nameindex *node_ix;
	struct clease **lease_chunk;
	uint32_t leases_cap, nleases;
	struct nlist free_leases; /* a queue through next */
	struct nameindex *lease_ix;
	struct user_held *users; /* open addressing by uid, users_mask + 1 slots */
	uint32_t users_mask, nusers;
	int64_t next_sweep;
	int64_t started_ms; /* no node is marked down before started_ms + START_GRACE_MS */
	struct cended ended[ENDED_KEEP];
	unsigned nended, ended_next;
	unsigned long seq;
	uint32_t boot;
	/* metrics (controller_metrics) */
	uint64_t fails[FAIL_REASONS], granted, ended_states[CEND_STATES];
	struct metrics_hist place_s;
	struct usage_book usage; /* the records of remote nodes' leases it appended */
};

/* ---- replies -------------------------------------------------------------------------- */

/* Delivers m to whoever waits on arg, a struct cl_reply, once (a
 * msg_reply_fn; cookie is unused: r holds the waiter's). A lease grant to a
 * client that authenticated its request is marked to be signed for it
 * (daemon.c). */
static void answer(void *arg, uint64_t cookie, const struct msg *m)
{
	struct cl_reply *r = arg, to = *r;
	struct msg grant;

	(void)cookie;
	r->fn = NULL;
	if (!to.fn)
		return;
	if (m->type != MSG_LEASE_GRANT || !to.sign) {
		to.fn(to.arg, to.cookie, m);
		return;
	}
	grant = *m; /* shares the lease document, which m keeps */
	grant.cred[0] = '\0';
	grant.sign = true;
	memcpy(grant.reply_to, to.nonce, sizeof(grant.reply_to));
	to.fn(to.arg, to.cookie, &grant);
}

/* ---- the tables ---------------------------------------------------------------------- */

static struct cnode *node_at(const struct controller *c, uint32_t i)
{
	return &c->node_chunk[i / CHUNK][i % CHUNK];
}

static struct clease *lease_at(const struct controller *c, uint32_t i)
{
	return &c->lease_chunk[i / CHUNK][i % CHUNK];
}

static uint32_t lease_index(const struct controller *c, const struct clease *l)
{
	(void)c;
	return l->self;
}

static const char *node_key(const void *ctx, uint32_t i)
{
	return node_at(ctx, i)->name;
}

static const char *lease_key(const void *ctx, uint32_t i)
{
	return lease_at(ctx, i)->id;
}

/* Adds a chunk to a table of *cap records (*chunks, an array of chunk
 * pointers). 0 or -ENOMEM. */
static int add_chunk(void ***chunks, uint32_t *cap, size_t size)
{
	uint32_t n = *cap / CHUNK;
	void **more, *chunk;

	if (*cap > UINT32_MAX - 2 * CHUNK)
		return -ENOMEM;
	more = realloc(*chunks, (n + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	*chunks = more;
	chunk = calloc(CHUNK, size);
	if (!chunk)
		return -ENOMEM;
	more[n] = chunk;
	*cap += CHUNK;
	return 0;
}

static void list_unlink(struct controller *c, struct nlist *ls, uint32_t i)
{
	struct cnode *n = node_at(c, i);

	if (n->prev != NONE)
		node_at(c, n->prev)->next = n->next;
	else
		ls->head = n->next;
	if (n->next != NONE)
		node_at(c, n->next)->prev = n->prev;
	else
		ls->tail = n->prev;
	n->prev = n->next = NONE;
}

static void list_append(struct controller *c, struct nlist *ls, uint32_t i)
{
	struct cnode *n = node_at(c, i);

	n->prev = ls->tail;
	n->next = NONE;
	if (ls->tail != NONE)
		node_at(c, ls->tail)->next = i;
	else
		ls->head = i;
	ls->tail = i;
}

/* ---- the registry ------------------------------------------------------------------------ */

static int node_find(const struct controller *c, const char *name)
{
	uint32_t i;

	return nameindex_find(c->node_ix, name, &i) == 0 ? (int)i : -1;
}

/* A new node named name, indexed, in no list. -1 on ENOMEM. */
static int node_new(struct controller *c, const char *name)
{
	struct cnode *n;
	uint32_t i;

	if (c->free_nodes != NONE) {
		i = c->free_nodes;
		c->free_nodes = node_at(c, i)->next;
	} else {
		if (c->nodes_hwm == c->nodes_cap &&
		    add_chunk((void ***)&c->node_chunk, &c->nodes_cap, sizeof(struct cnode)))
			return -1;
		i = c->nodes_hwm++;
	}
	n = node_at(c, i);
	memset(n, 0, sizeof(*n));
	n->used = true;
	n->leases = n->prev = n->next = NONE;
	snprintf(n->name, sizeof(n->name), "%s", name);
	if (nameindex_add(c->node_ix, i) != 0) {
		n->used = false;
		n->next = c->free_nodes;
		c->free_nodes = i;
		return -1;
	}
	c->nnodes++;
	return (int)i;
}

/* Forgets node i, down and holding no lease. */
static void node_forget(struct controller *c, uint32_t i)
{
	struct cnode *n = node_at(c, i);

	list_unlink(c, &c->down, i);
	nameindex_remove(c->node_ix, i);
	placement_remove(c->place, i);
	log_info("node %s is forgotten: down for %d s", n->name, CONTROLLER_NODE_FORGET_MS / 1000);
	n->used = false;
	n->next = c->free_nodes;
	c->free_nodes = i;
	c->nnodes--;
}

/* What uid holds; NULL on ENOMEM (only when add). */
static struct user_held *user_held(struct controller *c, uint32_t uid, bool add)
{
	uint32_t i;

	if (c->users && (c->nusers + 1) * 2 > c->users_mask + 1 && add) {
		uint32_t n = (c->users_mask + 1) * 2;
		struct user_held *u = malloc(n * sizeof(*u));

		if (!u)
			return NULL;
		for (uint32_t k = 0; k < n; k++)
			u[k].uid = NONE;
		for (uint32_t k = 0; k <= c->users_mask; k++) {
			if (c->users[k].uid == NONE)
				continue;
			for (i = (c->users[k].uid * 2654435761u) & (n - 1); u[i].uid != NONE;
			     i = (i + 1) & (n - 1))
				;
			u[i] = c->users[k];
		}
		free(c->users);
		c->users = u;
		c->users_mask = n - 1;
	}
	for (i = (uid * 2654435761u) & c->users_mask; c->users[i].uid != NONE;
	     i = (i + 1) & c->users_mask)
		if (c->users[i].uid == uid)
			return &c->users[i];
	if (!add)
		return NULL;
	c->users[i] = (struct user_held){.uid = uid};
	c->nusers++;
	return &c->users[i];
}

/* Counts lease l (its uid and workers set) for its user: +1 or -1. */
static void user_count(struct controller *c, const struct clease *l, int sign)
{
	struct user_held *u = user_held(c, l->uid, sign > 0);

	if (!u)
		return; /* out of memory: the quota does not see this lease */
	if (sign > 0) {
		u->leases++;
		u->workers += l->workers;
	} else {
		u->leases -= u->leases ? 1 : 0;
		u->workers -= u->workers >= l->workers ? l->workers : u->workers;
	}
}

/* Hands node ni's gap, less what the table's leases there hold, to placement. */
static void push(struct controller *c, unsigned ni)
{
	const struct cnode *n = node_at(c, ni);
	struct place_node p = {.id = ni};
	uint64_t mem = 0;
	uint32_t gpus = 0;

	snprintf(p.name, sizeof(p.name), "%s", n->name);
	p.lendable = n->lendable;
	p.unallocated = n->unallocated;
	p.near_host = n->near_host;
	for (uint32_t i = n->leases; i != NONE; i = lease_at(c, i)->next) {
		const struct clease *l = lease_at(c, i);

		cpumask_or(&p.leased, &p.leased, &l->where.pus);
		mem += l->where.mem;
		gpus |= l->where.gpus;
	}
	p.mem_free = n->mem_lendable > mem ? n->mem_lendable - mem : 0;
	p.gpus_free = n->gpus_lendable & ~gpus;
	p.until = n->until ? n->until : INT64_MAX;
	p.drained = n->drained || n->down;
	if (placement_update(c->place, &p) != 0)
		log_error("node %s is out of placement: out of memory", n->name);
}

/* Counts an end of state in ended_states (by), for the metrics. */
static void count_end(struct controller *c, const char *state, int by)
{
	for (unsigned k = 0; k < CEND_STATES; k++)
		if (strcmp(state, cend_labels[k]) == 0)
			c->ended_states[k] += (uint64_t)by;
}

/* Remembers how lease id ended, for queries. An end remembered already is
 * kept, but for the node's own account (from_node): a lease its node
 * evicted or expired before its owner's release reached the controller
 * ended that way, not by the release. */
static void remember_end(struct controller *c, const char *id, const char *node, uint32_t uid,
			 const char *state, const char *why, bool from_node)
{
	struct cended *e;

	for (unsigned i = 0; i < c->nended; i++) {
		e = &c->ended[i];
		if (strcmp(e->id, id) != 0)
			continue;
		if (from_node && strcmp(e->node, node) == 0 && strcmp(e->state, state) != 0) {
			count_end(c, e->state, -1);
			count_end(c, state, 1);
			snprintf(e->state, sizeof(e->state), "%s", state);
			snprintf(e->why, sizeof(e->why), "%s", why);
		}
		return;
	}
	e = &c->ended[c->ended_next];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->node, sizeof(e->node), "%s", node);
	snprintf(e->state, sizeof(e->state), "%s", state);
	snprintf(e->why, sizeof(e->why), "%s", why);
	e->uid = uid;
	e->at = time(NULL);
	c->ended_next = (c->ended_next + 1) % ENDED_KEEP;
	if (c->nended < ENDED_KEEP)
		c->nended++;
}

/* Takes l, a new lease whose id, node, uid and workers are set, into the
 * table: indexed, linked to its node, counted for its user. -EEXIST (an
 * id known already) or -ENOMEM; l is then freed. */
static void lease_free(struct controller *c, struct clease *l);
static int lease_link(struct controller *c, struct clease *l)
{
	uint32_t i = lease_index(c, l);
	struct cnode *n = node_at(c, l->node);
	int rc = nameindex_add(c->lease_ix, i);

	if (rc) {
		l->state = CL_FREE;
		lease_free(c, l);
		return rc;
	}
	l->prev = NONE;
	l->next = n->leases;
	if (n->leases != NONE)
		lease_at(c, n->leases)->prev = i;
	n->leases = i;
	n->nleases++;
	c->nleases++;
	user_count(c, l, +1);
	return 0;
}

/* Puts a slot out of the table back on the free list (at its tail). */
static void lease_free(struct controller *c, struct clease *l)
{
	uint32_t i = lease_index(c, l);

	l->next = NONE;
	if (c->free_leases.tail != NONE)
		lease_at(c, c->free_leases.tail)->next = i;
	else
		c->free_leases.head = i;
	c->free_leases.tail = i;
}

/* Drops l from the table; whoever waits on it gets why. */
static void lease_drop(struct controller *c, struct clease *l, const char *state, const char *why)
{
	unsigned ni = l->node;
	struct cnode *n = node_at(c, ni);
	uint32_t i = lease_index(c, l);

	remember_end(c, l->id, n->name, l->uid, state, why, false);
	count_end(c, state, 1);
	if (l->waiter.fn)
		msg_reply_error(answer, &l->waiter, 0, "ECANCELED",
				"%s ended before it was ready: %s", l->id, why);
	if (l->releaser.fn)
		msg_reply_ok(answer, &l->releaser, 0);
	nameindex_remove(c->lease_ix, i);
	if (l->prev != NONE)
		lease_at(c, l->prev)->next = l->next;
	else
		n->leases = l->next;
	if (l->next != NONE)
		lease_at(c, l->next)->prev = l->prev;
	n->nleases--;
	c->nleases--;
	user_count(c, l, -1);
	l->state = CL_FREE;
	l->gen++;
	l->last_node = ni;
	lease_free(c, l);
	push(c, ni);
}

static struct clease *lease_find(struct controller *c, const char *id)
{
	uint32_t i;

	return nameindex_find(c->lease_ix, id, &i) == 0 ? lease_at(c, i) : NULL;
}

/* A free slot, zeroed but for its generation and last node; not in the
 * table until lease_link. NULL on ENOMEM. */
static struct clease *lease_new(struct controller *c)
{
	struct clease *l;
	uint32_t gen, last, self;

	if (c->free_leases.head == NONE) {
		uint32_t from = c->leases_cap;

		if (add_chunk((void ***)&c->lease_chunk, &c->leases_cap, sizeof(struct clease)))
			return NULL;
		for (uint32_t i = from; i < c->leases_cap; i++) {
			lease_at(c, i)->last_node = NONE;
			lease_at(c, i)->self = i;
			lease_free(c, lease_at(c, i));
		}
	}
	l = lease_at(c, c->free_leases.head);
	c->free_leases.head = l->next;
	if (c->free_leases.head == NONE)
		c->free_leases.tail = NONE;
	gen = l->gen;
	last = l->last_node;
	self = l->self;
	memset(l, 0, sizeof(*l));
	l->gen = gen;
	l->last_node = last;
	l->self = self;
	l->prev = l->next = NONE;
	return l;
}

/* A request to an agent about l: the slot's generation and index. */
static uint64_t lease_cookie(const struct controller *c, const struct clease *l)
{
	return ((uint64_t)l->gen << 32) | lease_index(c, l);
}

static struct clease *lease_of_cookie(struct controller *c, uint64_t cookie)
{
	uint32_t i = (uint32_t)cookie;

	if (i >= c->leases_cap || lease_at(c, i)->state == CL_FREE ||
	    lease_at(c, i)->gen != (uint32_t)(cookie >> 32))
		return NULL;
	return lease_at(c, i);
}

/* The node of the lease a cookie named, dropped since (once): NONE when
 * the slot has been dropped again meanwhile. */
static unsigned node_of_cookie(struct controller *c, uint64_t cookie)
{
	uint32_t i = (uint32_t)cookie;

	if (i >= c->leases_cap || lease_at(c, i)->gen != (uint32_t)(cookie >> 32) + 1)
		return NONE;
	return lease_at(c, i)->last_node;
}

/* ---- talking to node agents ------------------------------------------------------------- */

/* Sends req (moved) to node ni's agent; cb gets the answer. 0 or -errno. */
static int to_agent(struct controller *c, unsigned ni, struct msg *req, int timeout_ms,
		    controller_node_cb cb, uint64_t cookie)
{
	const struct cnode *n = node_at(c, ni);
	struct controller_node where = {
	    .name = n->name, .addr = n->addr, .port = n->port, .local = n->local};

	return c->to_nodes.send(c->to_nodes.ctx, &where, req, timeout_ms, cb, c, cookie);
}

static void stop_orphan(struct controller *c, unsigned ni, const char *id);

static void on_exec_started(void *arg, uint64_t cookie, int rc, const struct msg *reply,
			    const char *err)
{
	struct controller *c = arg;
	struct clease *l = lease_of_cookie(c, cookie);

	if (!l || l->state != CL_PLACING) {
		/* dropped meanwhile (colocd stopping): do not leave it running */
		unsigned ni = node_of_cookie(c, cookie);

		if (rc == 0 && reply->type == MSG_LEASE_GRANT && ni != NONE)
			stop_orphan(c, ni, reply->u.grant.id);
		else if (rc == 0 && reply->type == MSG_LEASE_GRANT)
			log_warning("%s started after its lease was dropped; its node is not known "
				    "any more: it ends at its end time",
				    reply->u.grant.id);
		return;
	}
	if (rc) { /* -EACCES: what answered is not that node's colocd */
		log_warning("%s: node %s %s: %s", l->id, node_at(c, l->node)->name,
			    rc == -EACCES ? "sent a grant that is not authenticated"
					  : "did not answer",
			    err);
		c->fails[FAIL_UNREACHABLE]++;
		msg_reply_error(answer, &l->waiter, 0, rc == -EACCES ? "EACCES" : "EHOSTUNREACH",
				"node %s did not start the executor: %s; ask again",
				node_at(c, l->node)->name, err);
		stop_orphan(c, l->node, l->id);
		lease_drop(c, l, "failed",
			   rc == -EACCES ? "its node agent's grant is not authenticated"
					 : "its node agent did not answer");
		return;
	}
	if (reply->type == MSG_ERROR) {
		char why[160];

		snprintf(why, sizeof(why), "%.150s", reply->u.error.message);
		c->fails[FAIL_REFUSED]++;
		answer(&l->waiter, 0, reply);
		lease_drop(c, l, "failed", why);
		return;
	}
	if (reply->type != MSG_LEASE_GRANT || strcmp(reply->u.grant.id, l->id) != 0) {
		c->fails[FAIL_REFUSED]++;
		msg_reply_error(answer, &l->waiter, 0, "EPROTO",
				"node %s answered exec_start with %s", node_at(c, l->node)->name,
				msg_type_name(reply->type));
		stop_orphan(c, l->node, l->id);
		lease_drop(c, l, "failed", "its node agent answered nonsense");
		return;
	}
	l->state = CL_READY;
	l->since_ms = clock_ms();
	c->granted++;
	log_debug("%s is ready on %s", l->id, node_at(c, l->node)->name);
	answer(&l->waiter, 0, reply);
}

static void on_orphan_stopped(void *arg, uint64_t cookie, int rc, const struct msg *reply,
			      const char *err)
{
	(void)arg;
	(void)cookie;
	(void)reply;
	if (rc)
		log_warning("could not stop an orphaned executor: %s; it ends at its end time",
			    err);
}

static void stop_orphan(struct controller *c, unsigned ni, const char *id)
{
	struct msg m = {.type = MSG_EXEC_STOP};

	snprintf(m.u.exec.id, sizeof(m.u.exec.id), "%s", id);
	to_agent(c, ni, &m, STOP_TIMEOUT_MS, on_orphan_stopped, 0);
}

static void on_exec_stopped(void *arg, uint64_t cookie, int rc, const struct msg *reply,
			    const char *err)
{
	struct controller *c = arg;
	struct clease *l = lease_of_cookie(c, cookie);

	if (!l)
		return;
	if (rc) {
		msg_reply_error(answer, &l->releaser, 0, "EHOSTUNREACH",
				"node %s is unreachable (%s); the lease ends at its end time there",
				node_at(c, l->node)->name, err);
		return;
	}
	if (reply->type == MSG_ERROR && strcmp(reply->u.error.code, "ENOENT") != 0) {
		answer(&l->releaser, 0, reply);
		return;
	}
	lease_drop(c, l, "released", "released by its owner");
}

/* ---- client requests -------------------------------------------------------------------- */

/* Whether uid may hold one more lease of `workers` workers (MaxLeasesPerUser,
 * MaxWorkersPerUser); else false with err saying which limit and the fix. */
static bool within_quota(const struct controller *c, uint32_t uid, uint32_t workers, char *err,
			 size_t errlen)
{
	const struct user_held *u = user_held((struct controller *)c, uid, false);
	unsigned leases = u ? u->leases : 0;
	uint64_t held = u ? u->workers : 0;

	if (c->cfg.max_leases_per_user && leases >= c->cfg.max_leases_per_user) {
		snprintf(err, errlen,
			 "uid %u holds %u leases, the most MaxLeasesPerUser allows; release one "
			 "(colocctl leases, colocctl lease release ID)",
			 uid, leases);
		return false;
	}
	if (c->cfg.max_workers_per_user && held + workers > c->cfg.max_workers_per_user) {
		snprintf(err, errlen,
			 "uid %u holds %llu workers and asks for %u more, above MaxWorkersPerUser "
			 "(%u); ask for fewer or release a lease",
			 uid, (unsigned long long)held, workers, c->cfg.max_workers_per_user);
		return false;
	}
	return true;
}

static void acquire(struct controller *c, const struct msg *m, const struct cred_id *from,
		    struct cl_reply *r)
{
	struct place_request pr = {.workers = m->u.acquire.workers,
				   .mem_per_worker = m->u.acquire.mem ? m->u.acquire.mem
								      : c->cfg.default_worker_mem,
				   .gpus = m->u.acquire.gpus,
				   .now = time(NULL),
				   .mode = m->u.acquire.pack ? PLACE_PACK : PLACE_SPREAD};
	struct msg req = {.type = MSG_EXEC_START};
	uint32_t uid = from->uid, gid = from->gid;
	char err[512] = "";
	struct clease *l;
	unsigned n = 0;
	int64_t t0;
	int rc;

	if (uid == 0) {
		msg_reply_error(
		    answer, r, 0, "EPERM",
		    "executors never run as root: acquire the lease as the user who will "
		    "call its functions");
		return;
	}
	if (m->u.acquire.mem && m->u.acquire.mem < LEASE_MIN_MEM) {
		c->fails[FAIL_INVALID]++;
		msg_reply_error(answer, r, 0, "EINVAL",
				"mem %llu bytes per worker is below the least a worker needs, %llu "
				"bytes (" LEASE_MIN_MEM_TEXT "); ask for more, or 0 for the site "
				"default",
				(unsigned long long)m->u.acquire.mem,
				(unsigned long long)LEASE_MIN_MEM);
		return;
	}
	if (!within_quota(c, uid, m->u.acquire.workers, err, sizeof(err))) {
		c->fails[FAIL_QUOTA]++;
		msg_reply_error(answer, r, 0, "EDQUOT", "%s", err);
		return;
	}
	pr.duration_s =
	    m->u.acquire.time < c->cfg.max_lease_s ? m->u.acquire.time : c->cfg.max_lease_s;
	l = lease_new(c);
	if (!l) {
		c->fails[FAIL_TABLE_FULL]++;
		msg_reply_error(
		    answer, r, 0, "ENOMEM",
		    "the controller is out of memory for its %u leases; ask again later",
		    c->nleases);
		return;
	}
	t0 = clock_ns();
	if (m->u.acquire.remote_mem)
		rc = placement_place_memory(c->place,
					    m->u.acquire.remote_mem + LEASE_REMOTE_MEM_MARGIN,
					    pr.now, pr.duration_s, &l->where, err, sizeof(err));
	else
		rc = placement_place(c->place, &pr, &l->where, 1, &n, err, sizeof(err));
	metrics_hist_observe(&c->place_s, (double)(clock_ns() - t0) / 1e9);
	if (rc) {
		c->fails[rc == -ENOSPC ? FAIL_NO_CAPACITY : FAIL_INVALID]++;
		if (rc == -ENOSPC && !err[0])
			snprintf(err, sizeof(err), "no node has a gap (no node agent registered?)");
		msg_reply_error(answer, r, 0, rc == -ENOSPC ? "ENOSPC" : "EINVAL", "%s",
				err[0] ? err : strerror(-rc));
		lease_free(c, l);
		return;
	}
	l->state = CL_PLACING;
	l->node = l->where.node;
	l->uid = uid;
	l->gid = gid;
	l->workers = m->u.acquire.workers;
	l->job = m->u.acquire.job;
	l->expires = pr.now + pr.duration_s;
	l->since_ms = clock_ms();
	snprintf(l->id, sizeof(l->id), "lease-%lu-%08x", ++c->seq, c->boot);
	if (lease_link(c, l) != 0) {
		c->fails[FAIL_TABLE_FULL]++;
		push(c, l->where.node); /* gives the placed PUs back */
		msg_reply_error(
		    answer, r, 0, "ENOMEM",
		    "the controller is out of memory for its %u leases; ask again later",
		    c->nleases);
		return;
	}
	l->waiter = *r;
	push(c, l->node);

	snprintf(req.u.exec.id, sizeof(req.u.exec.id), "%s", l->id);
	req.u.exec.uid = uid;
	req.u.exec.gid = gid;
	req.u.exec.workers = l->workers;
	cpumask_format(&l->where.pus, req.u.exec.pus, sizeof(req.u.exec.pus));
	req.u.exec.mem = l->where.mem;
	req.u.exec.gpus = l->where.gpus;
	snprintf(req.u.exec.lib, sizeof(req.u.exec.lib), "%s", m->u.acquire.lib);
	req.u.exec.expires = l->expires;
	req.u.exec.job = l->job;
	req.u.exec.remote_mem = m->u.acquire.remote_mem;
	if (req.u.exec.remote_mem)
		log_info("%s: a memory lease of %llu bytes on %s for uid %u, %lld s", l->id,
			 (unsigned long long)req.u.exec.remote_mem, node_at(c, l->node)->name, uid,
			 (long long)pr.duration_s);
	else
		log_info("%s: %u workers on cpus %s of %s for uid %u, %lld s", l->id, l->workers,
			 req.u.exec.pus, node_at(c, l->node)->name, uid, (long long)pr.duration_s);
	rc = to_agent(c, l->node, &req, EXEC_TIMEOUT_MS, on_exec_started, lease_cookie(c, l));
	if (rc) {
		c->fails[FAIL_UNREACHABLE]++;
		msg_reply_error(answer, &l->waiter, 0, "EBUSY",
				"cannot reach node %s now: %s; ask again",
				node_at(c, l->node)->name, strerror(-rc));
		lease_drop(c, l, "failed", "its node agent could not be asked");
	}
}

static void release(struct controller *c, const struct msg *m, const struct cred_id *from,
		    struct cl_reply *r)
{
	struct clease *l = lease_find(c, m->u.release.id);
	struct msg req = {.type = MSG_EXEC_STOP};
	uint32_t uid = from->uid;
	int rc;

	if (!l) {
		msg_reply_error(
		    answer, r, 0, "ENOENT",
		    "no lease %s here (it ended, or never existed); see colocctl leases",
		    m->u.release.id);
		return;
	}
	if (uid != 0 && uid != l->uid) {
		msg_reply_error(answer, r, 0, "EPERM", "%s belongs to uid %u, not %u", l->id,
				l->uid, uid);
		return;
	}
	if (l->state == CL_PLACING) {
		msg_reply_error(answer, r, 0, "EAGAIN",
				"%s is still starting; release it once it is granted", l->id);
		return;
	}
	if (l->releaser.fn) {
		msg_reply_error(answer, r, 0, "EALREADY", "%s is being released already", l->id);
		return;
	}
	l->releaser = *r;
	snprintf(req.u.exec.id, sizeof(req.u.exec.id), "%s", l->id);
	rc = to_agent(c, l->node, &req, STOP_TIMEOUT_MS, on_exec_stopped, lease_cookie(c, l));
	if (rc)
		msg_reply_error(answer, &l->releaser, 0, "EBUSY",
				"cannot reach node %s now: %s; try again",
				node_at(c, l->node)->name, strerror(-rc));
}

static void drain(struct controller *c, const struct msg *m, const struct cred_id *from,
		  struct cl_reply *r)
{
	int ni;

	if (from->uid != 0) {
		msg_reply_error(answer, r, 0, "EPERM", "only root drains or resumes nodes");
		return;
	}
	ni = node_find(c, m->u.drain.node);
	if (ni < 0) {
		msg_reply_error(answer, r, 0, "ENOENT",
				"no node %s is registered; see colocctl nodes", m->u.drain.node);
		return;
	}
	node_at(c, ni)->drained = m->u.drain.drain;
	push(c, (unsigned)ni);
	log_info("node %s %s", m->u.drain.node, m->u.drain.drain ? "drained" : "resumed");
	msg_reply_ok(answer, r, 0);
}

/* ---- queries ------------------------------------------------------------------------------ */

static const char *node_state_name(const struct cnode *n)
{
	return n->down ? "down" : n->drained ? "drained" : "up";
}

static void gpu_list(uint32_t gpus, char *out, size_t len)
{
	size_t l = 0;

	out[0] = '\0';
	for (unsigned g = 0; g < 32 && l < len; g++)
		if (gpus & (1u << g))
			l += (size_t)snprintf(out + l, len - l, "%s%u", l ? "," : "", g);
}

/* Leases and executors are listed to their owner; uid 0 sees every one. */
static bool shown_to(uint32_t owner, uint32_t asker)
{
	return asker == 0 || owner == asker;
}

/* A page of a query's answer being written: each row is filled in row
 * (every field of it) and goes straight into the page's text (msg_page,
 * no row array, no JSON tree), until PAGE_ROWS rows or a frame's worth. */
struct page {
	struct msg_page out;
	union msg_row row; /* the row being filled */
	uint64_t next;	   /* the cursor after the last row written */
	bool full;	   /* a row did not fit: the rest starts at next */
};

/* Appends pg->row, which cursor `next` follows. 0; 1 when the page is full
 * (the row starts the next page: pg->full); -errno. */
static int put_row(struct page *pg, uint64_t next)
{
	int rc = pg->out.nrows < PAGE_ROWS ? msg_page_add(&pg->out, &pg->row) : -ENOSPC;

	if (rc == -ENOSPC && pg->out.nrows == 0)
		return -E2BIG; /* one row larger than a frame: cannot be */
	if (rc == -ENOSPC) {
		pg->full = true;
		return 1;
	}
	if (rc == 0)
		pg->next = next;
	return rc;
}

/* Whether a lease of owner is listed for f (leases, executors --user). */
static bool lease_wanted(const struct msg_usage_filter *f, uint32_t owner, uint32_t asker)
{
	return shown_to(owner, asker) && (!f->has_user || f->user == owner);
}

/* Leases (and those that ended lately) or executors: the live leases by
 * slot (cursor slot + 1), then the ended ones (cursor ENDED_CURSOR + their
 * position + 1). */
static int query_leases(const struct controller *c, bool executors, uint32_t asker,
			const struct msg_usage_filter *f, struct page *pg)
{
	uint64_t from = f->from;
	time_t now = time(NULL);
	union msg_row *row = &pg->row;
	int rc = 0;

	for (uint32_t i = from < ENDED_CURSOR ? (uint32_t)from : c->leases_cap;
	     i < c->leases_cap && !rc; i++) {
		const struct clease *l = lease_at(c, i);
		const struct cnode *n;

		if (l->state == CL_FREE || (executors && l->pid <= 0) ||
		    !lease_wanted(f, l->uid, asker))
			continue;
		n = node_at(c, l->node);
		if (executors) {
			struct msg_row_executor *x = &row->executor;

			x->pid = l->pid;
			snprintf(x->node, sizeof(x->node), "%s", n->name);
			x->uid = l->uid;
			snprintf(x->cgroup, sizeof(x->cgroup), "%s/%s", n->cgroup, l->id);
			cpumask_format(&l->where.pus, x->cpus, sizeof(x->cpus));
			x->mem_limit = l->where.mem;
			gpu_list(l->where.gpus, x->gpus, sizeof(x->gpus));
			snprintf(x->lease, sizeof(x->lease), "%s", l->id);
		} else {
			struct msg_row_lease *r = &row->lease;

			snprintf(r->id, sizeof(r->id), "%s", l->id);
			r->uid = l->uid;
			snprintf(r->state, sizeof(r->state), "%s",
				 l->state == CL_READY ? "ready" : "starting");
			snprintf(r->node, sizeof(r->node), "%s", n->name);
			r->workers = l->workers;
			cpumask_format(&l->where.pus, r->cpus, sizeof(r->cpus));
			r->mem = l->where.mem;
			gpu_list(l->where.gpus, r->gpus, sizeof(r->gpus));
			r->expires = l->expires;
			r->why[0] = '\0';
		}
		rc = put_row(pg, (uint64_t)i + 1);
	}
	for (unsigned i = from > ENDED_CURSOR ? (unsigned)(from - ENDED_CURSOR) : 0;
	     !executors && !rc && i < c->nended; i++) {
		const struct cended *e =
		    &c->ended[(c->ended_next + ENDED_KEEP - c->nended + i) % ENDED_KEEP];
		struct msg_row_lease *r;

		if (now - e->at > ENDED_KEEP_S || !lease_wanted(f, e->uid, asker))
			continue;
		r = &row->lease;
		snprintf(r->id, sizeof(r->id), "%s", e->id);
		r->uid = e->uid;
		snprintf(r->state, sizeof(r->state), "%s", e->state);
		snprintf(r->node, sizeof(r->node), "%s", e->node);
		r->workers = 0;
		r->cpus[0] = '\0';
		r->mem = 0;
		r->gpus[0] = '\0';
		r->expires = e->at;
		snprintf(r->why, sizeof(r->why), "%s", e->why);
		rc = put_row(pg, ENDED_CURSOR + i + 1);
	}
	return rc < 0 ? rc : 0;
}

/* Nodes or gaps, by slot (cursor slot + 1). */
static int query_nodes(const struct controller *c, bool gaps, const struct msg_usage_filter *f,
		       struct page *pg)
{
	union msg_row *row = &pg->row;
	int rc = 0;

	for (uint32_t i = (uint32_t)(f->from < c->nodes_hwm ? f->from : c->nodes_hwm);
	     i < c->nodes_hwm && !rc; i++) {
		const struct cnode *n = node_at(c, i);
		struct place_node p;

		if (!n->used)
			continue;
		if (!gaps) {
			struct msg_row_node *r;

			if (f->state[0] && strcmp(f->state, node_state_name(n)) != 0)
				continue;
			r = &row->node;
			snprintf(r->name, sizeof(r->name), "%s", n->name);
			snprintf(r->state, sizeof(r->state), "%s", node_state_name(n));
			cpumask_format(&n->all, r->pus, sizeof(r->pus));
			r->mem = n->mem;
			r->gpus = n->ngpus;
			r->jobs = n->jobs;
			r->drained = n->drained;
			rc = put_row(pg, (uint64_t)i + 1);
			continue;
		}
		if (n->down || placement_get(c->place, i, &p) != 0)
			continue;
		cpumask_andnot(&p.lendable, &p.lendable, &p.leased);
		if (f->min_cores && cpumask_count(&p.lendable) < f->min_cores)
			continue;
		cpumask_andnot(&p.unallocated, &p.unallocated, &p.leased);
		snprintf(row->gap.node, sizeof(row->gap.node), "%s", n->name);
		cpumask_format(&p.lendable, row->gap.lendable, sizeof(row->gap.lendable));
		cpumask_format(&p.unallocated, row->gap.unallocated, sizeof(row->gap.unallocated));
		row->gap.mem = p.mem_free;
		row->gap.gpus = (uint32_t)__builtin_popcount(p.gpus_free);
		row->gap.until = n->until;
		row->gap.drained = n->drained;
		rc = put_row(pg, (uint64_t)i + 1);
	}
	return rc < 0 ? rc : 0;
}

static void query(struct controller *c, const struct msg *m, const struct cred_id *from,
		  struct cl_reply *r)
{
	struct msg res = {.type = MSG_RESULT, .u.result.what = m->u.query};
	struct page *pg = NULL;
	char *text = NULL, err[512];
	int rc;

	if (m->u.query == MSG_QUERY_USAGE || m->u.query == MSG_QUERY_RECORDS) {
		if (from->uid != 0 && m->filter.has_user && m->filter.user != from->uid) {
			msg_reply_error(answer, r, 0, "EPERM",
					"only root sees the usage of other users (uid %u asked for "
					"uid %u's)",
					from->uid, m->filter.user);
			return;
		}
		rc = usage_query(c->cfg.state_dir, m->u.query, &m->filter, from->uid,
				 from->uid == 0, &res, err, sizeof(err));
		if (rc) {
			msg_reply_error(answer, r, 0, "EIO", "cannot read the usage records: %s",
					err);
			return;
		}
		rc = msg_encode(&res, &text); /* to see that it fits in a frame */
		if (!rc && strlen(text) > FRAME_MAX)
			rc = -E2BIG;
	} else if (!(pg = malloc(sizeof(*pg)))) {
		rc = -ENOMEM;
	} else {
		pg->next = 0;
		pg->full = false;
		rc = msg_page_init(&pg->out, m->u.query, FRAME_MAX);
		if (!rc)
			rc = m->u.query == MSG_QUERY_LEASES || m->u.query == MSG_QUERY_EXECUTORS
				 ? query_leases(c, m->u.query == MSG_QUERY_EXECUTORS, from->uid,
						&m->filter, pg)
				 : query_nodes(c, m->u.query == MSG_QUERY_GAPS, &m->filter, pg);
		if (!rc)
			rc = msg_page_finish(&pg->out, pg->full ? pg->next : 0, &res);
		msg_page_fini(&pg->out);
	}
	if (rc == -E2BIG)
		msg_reply_error(answer, r, 0, "E2BIG",
				"the answer is larger than a frame (%d bytes); narrow it (--since, "
				"--user, --by)",
				FRAME_MAX);
	else if (rc)
		msg_reply_error(answer, r, 0, rc == -ENOMEM ? "ENOMEM" : "EIO",
				"cannot answer the query: %s", strerror(-rc));
	else
		answer(r, 0, &res);
	free(text);
	free(pg);
	msg_free(&res);
}

/* ---- node agents' reports ------------------------------------------------------------------ */

/* Appends a node's usage record to the controller's cluster-usage.jsonl,
 * once. */
static void record_usage(struct controller *c, const char *node, const struct msg_usage *u)
{
	struct msg_usage rec = *u;
	char err[512];

	snprintf(rec.node, sizeof(rec.node), "%s", node); /* where it came from */
	if (usage_book_append(&c->usage, c->cfg.state_dir, &rec, err, sizeof(err)) < 0)
		log_error("the usage record of %s from node %s is lost here: %s", u->id, node, err);
}

static bool reported(const struct msg *m, const char *id)
{
	for (unsigned i = 0; i < m->u.node.nleases; i++)
		if (strcmp(m->u.node.leases[i].id, id) == 0)
			return true;
	return false;
}

/* After a report of node n at now_ms: the leases its agent listed
 * (reported) are seen; one it has not listed for FORGET_MS is dropped. */
static void leases_seen(struct controller *c, const struct cnode *n, int64_t now_ms)
{
	for (uint32_t i = n->leases, next; i != NONE; i = next) {
		struct clease *l = lease_at(c, i);

		next = l->next;
		if (l->state == CL_PLACING)
			continue;
		if (l->reported)
			l->since_ms = now_ms;
		else if (now_ms - l->since_ms > FORGET_MS)
			lease_drop(c, l, "failed",
				   "its node agent no longer runs it (the agent restarted?)");
	}
}

int controller_node_state(struct controller *c, const struct msg *m, const struct conns_peer *peer,
			  const struct cred_id *from, char *err, size_t errlen)
{
	const __typeof__(m->u.node) *s = &m->u.node;
	struct cpumask all, lendable, unallocated, near;
	int64_t now_ms = clock_ms();
	struct cnode *n;
	int ni;

	if ((peer || from) && (!from || from->uid != 0)) {
		snprintf(err, errlen,
			 "node state is taken only from node agents (root), not uid %u",
			 from ? from->uid : UINT32_MAX);
		return -EPERM;
	}
	if (cpumask_parse(s->pus, &all) || cpumask_parse(s->lendable, &lendable) ||
	    cpumask_parse(s->unallocated, &unallocated) || cpumask_parse(s->near_host, &near) ||
	    !cpumask_subset(&lendable, &all)) {
		snprintf(err, errlen, "node %s: its cpu lists do not parse or lend PUs it lacks",
			 s->node);
		return -EINVAL;
	}
	ni = node_find(c, s->node);
	if (ni >= 0 && peer && node_at(c, ni)->local) {
		snprintf(err, errlen, "node %s is this standalone colocd's own node", s->node);
		return -EPERM;
	}
	if (ni < 0) {
		ni = node_new(c, s->node);
		if (ni < 0) {
			snprintf(err, errlen, "the controller is out of memory for its %u nodes",
				 c->nnodes);
			return -ENOMEM;
		}
		log_info("node %s registered (%u leases)", s->node, s->nleases);
	} else if (node_at(c, ni)->down) {
		log_info("node %s is back (%u leases)", s->node, s->nleases);
	}
	n = node_at(c, ni);
	/* the tail of the live list: the node heard from last */
	if (n->down)
		list_unlink(c, &c->down, (uint32_t)ni);
	else if (n->prev != NONE || c->live.head == (uint32_t)ni)
		list_unlink(c, &c->live, (uint32_t)ni);
	if (peer)
		list_append(c, &c->live, (uint32_t)ni);
	n->local = peer == NULL;
	if (peer)
		snprintf(n->addr, sizeof(n->addr), "%s", peer->addr);
	n->port = s->port;
	snprintf(n->cgroup, sizeof(n->cgroup), "%s", s->cgroup);
	n->all = all;
	n->lendable = lendable;
	n->unallocated = unallocated;
	n->near_host = near;
	n->mem = s->mem;
	n->mem_lendable = s->mem_lendable;
	n->ngpus = s->ngpus;
	n->gpus_lendable = s->gpus_lendable;
	n->jobs = s->jobs;
	n->until = s->until;
	n->seen_ms = now_ms;
	n->down = false;
	n->gen = s->gen;
	n->gen_leases = s->nleases;

	/* leases it ended, and leases it no longer runs */
	for (unsigned i = 0; i < s->nended; i++) {
		struct clease *l = lease_find(c, s->ended[i].id);

		if (s->ended[i].has_usage)
			record_usage(c, s->node, &s->ended[i].usage);
		if (l && l->node == (unsigned)ni && l->state != CL_PLACING)
			lease_drop(c, l, s->ended[i].state, s->ended[i].why);
		else if (!l)
			remember_end(c, s->ended[i].id, s->node, 0, s->ended[i].state,
				     s->ended[i].why, true);
	}
	for (uint32_t i = n->leases; i != NONE; i = lease_at(c, i)->next)
		lease_at(c, i)->reported = reported(m, lease_at(c, i)->id);
	leases_seen(c, n, now_ms);
	/* what it runs: adopted when unknown (a restarted controller) */
	for (unsigned i = 0; i < s->nleases; i++) {
		const struct msg_node_lease *r = &s->leases[i];
		struct clease *l = lease_find(c, r->id);

		if (!l) {
			l = lease_new(c);
			if (!l)
				break;
			snprintf(l->id, sizeof(l->id), "%s", r->id);
			l->state = r->ready ? CL_READY : CL_STARTING;
			l->node = (unsigned)ni;
			l->uid = r->uid;
			l->gid = 0; /* not reported; only new leases need it */
			l->workers = r->workers;
			l->where.node = (uint32_t)ni;
			cpumask_parse(r->pus, &l->where.pus);
			l->where.mem = r->mem;
			l->where.gpus = r->gpus;
			l->expires = r->expires;
			l->since_ms = now_ms;
			if (lease_link(c, l) != 0)
				break;
			log_info("adopted %s from node %s", l->id, s->node);
		} else if (l->node != (unsigned)ni) {
			log_warning("node %s reports %s, which runs on %s: ignored", s->node, r->id,
				    node_at(c, l->node)->name);
			continue;
		}
		if (l->state == CL_STARTING && r->ready)
			l->state = CL_READY;
		l->pid = r->pid;
		l->reported = true;
	}
	push(c, (unsigned)ni);
	return 0;
}

/* Why the controller cannot take a heartbeat of generation gen for node
 * n from peer (the whole state is needed), NULL when it can. */
static const char *heartbeat_stale(const struct controller *c, const struct cnode *n, uint64_t gen,
				   const struct conns_peer *peer)
{
	uint32_t listed = 0;

	if (!n)
		return "it does not know the node (it restarted, or forgot the node)";
	if (n->down)
		return "the node was marked down";
	if (n->local)
		return "it is this standalone colocd's own node";
	if (n->gen != gen)
		return "it holds another generation";
	if (peer && strcmp(n->addr, peer->addr) != 0)
		return "the node reported from another address";
	for (uint32_t i = n->leases; i != NONE; i = lease_at(c, i)->next)
		listed += lease_at(c, i)->reported;
	return listed != n->gen_leases ? "it no longer holds every lease that state listed" : NULL;
}

int controller_heartbeat(struct controller *c, const struct msg *m, const struct conns_peer *peer,
			 const struct cred_id *from, char *err, size_t errlen)
{
	int64_t now_ms = clock_ms();
	const char *why;
	struct cnode *n;
	int ni;

	if (!from || from->uid != 0) {
		snprintf(err, errlen,
			 "heartbeats are taken only from node agents (root), not uid %u",
			 from ? from->uid : UINT32_MAX);
		return -EPERM;
	}
	ni = node_find(c, m->u.node.node);
	n = ni >= 0 ? node_at(c, ni) : NULL;
	why = heartbeat_stale(c, n, m->u.node.gen, peer);
	if (why) {
		snprintf(err, errlen,
			 "node %s: the controller does not hold generation %llu of its state "
			 "(%s): send the whole node_state",
			 m->u.node.node, (unsigned long long)m->u.node.gen, why);
		return -ESTALE;
	}
	/* the state of generation gen, seen again: what node_state does with
	 * an unchanged state, without the state */
	list_unlink(c, &c->live, (uint32_t)ni);
	list_append(c, &c->live, (uint32_t)ni);
	n->seen_ms = now_ms;
	leases_seen(c, n, now_ms);
	return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

bool controller_takes(enum msg_type t)
{
	return t == MSG_LEASE_ACQUIRE || t == MSG_LEASE_RELEASE || t == MSG_QUERY ||
	       t == MSG_DRAIN || t == MSG_NODE_STATE || t == MSG_HEARTBEAT;
}

void controller_request(struct controller *c, const struct msg *m, const struct conns_peer *peer,
			const struct cred_id *from, msg_reply_fn fn, void *arg, uint64_t cookie)
{
	struct cl_reply r = {.fn = fn, .arg = arg, .cookie = cookie};
	char err[512] = "";
	int rc;

	if (!controller_takes(m->type)) {
		msg_reply_error(answer, &r, 0, "EPROTO", "the controller takes no %s request",
				msg_type_name(m->type));
		return;
	}
	if (!from) { /* the daemon authenticates every request it hands over */
		msg_reply_error(answer, &r, 0, "EACCES", "the %s request is not authenticated",
				msg_type_name(m->type));
		return;
	}
	r.sign = true;
	memcpy(r.nonce, from->b.nonce, sizeof(r.nonce));
	switch (m->type) {
	case MSG_LEASE_ACQUIRE:
		acquire(c, m, from, &r);
		break;
	case MSG_LEASE_RELEASE:
		release(c, m, from, &r);
		break;
	case MSG_QUERY:
		query(c, m, from, &r);
		break;
	case MSG_DRAIN:
		drain(c, m, from, &r);
		break;
	case MSG_NODE_STATE:
	case MSG_HEARTBEAT:
		rc = m->type == MSG_NODE_STATE
			 ? controller_node_state(c, m, peer, from, err, sizeof(err))
			 : controller_heartbeat(c, m, peer, from, err, sizeof(err));
		if (rc)
			msg_reply_error(answer, &r, 0,
					rc == -EPERM	? "EPERM"
					: rc == -EACCES ? "EACCES"
					: rc == -ESTALE ? "ESTALE"
							: "EINVAL",
					"%s", err);
		else
			msg_reply_ok(answer, &r, 0);
		break;
	default: /* refused above */
		break;
	}
}

/* The leases of down node i that reached their end time are dropped: its
 * agent ends them by itself. */
static void expire_leases(struct controller *c, uint32_t i, time_t now)
{
	for (uint32_t k = node_at(c, i)->leases, next; k != NONE; k = next) {
		struct clease *l = lease_at(c, k);

		next = l->next;
		if (l->state != CL_PLACING && now > l->expires)
			lease_drop(c, l, "expired", "it reached its end time (its node is down)");
	}
}

void controller_tick(struct controller *c)
{
	int64_t now_ms = clock_ms();
	time_t now = time(NULL);
	uint32_t i;

	/* the live list is in the order of the last reports: only its head
	 * can have gone silent */
	while ((i = c->live.head) != NONE && now_ms - c->started_ms >= START_GRACE_MS &&
	       now_ms - node_at(c, i)->seen_ms >= CONTROLLER_NODE_DOWN_MS) {
		struct cnode *n = node_at(c, i);

		list_unlink(c, &c->live, i);
		list_append(c, &c->down, i);
		n->down = true;
		n->down_ms = now_ms;
		log_warning("node %s is down: no report for %d s", n->name,
			    CONTROLLER_NODE_DOWN_MS / 1000);
		expire_leases(c, i, now);
		push(c, i);
	}
	if (now_ms < c->next_sweep)
		return;
	c->next_sweep = now_ms + SWEEP_MS;
	/* down nodes: their leases end at their end time; a node down long
	 * enough with none left is forgotten */
	for (uint32_t k = c->down.head, next; k != NONE; k = next) {
		struct cnode *n = node_at(c, k);

		next = n->next;
		expire_leases(c, k, now);
		if (n->leases == NONE && now_ms - n->down_ms >= CONTROLLER_NODE_FORGET_MS)
			node_forget(c, k);
	}
}

void controller_metrics(const struct controller *c, struct metrics_page *p)
{
	static const char *const nstates[] = {"up", "drained", "down"};
	static const char *const lstates[] = {"placing", "starting", "ready"};
	unsigned nodes[3] = {0}, leases[3] = {0};
	struct metrics_label l = {"state", ""};

	for (uint32_t i = 0; i < c->nodes_hwm; i++) {
		const struct cnode *n = node_at(c, i);

		if (n->used)
			nodes[n->down ? 2 : n->drained ? 1 : 0]++;
	}
	for (uint32_t i = 0; i < c->leases_cap; i++)
		if (lease_at(c, i)->state != CL_FREE)
			leases[lease_at(c, i)->state - CL_PLACING]++;
	metrics_family(p, "coloc_nodes", METRICS_GAUGE,
		       "Node agents known to the controller, by state");
	for (unsigned i = 0; i < 3; i++) {
		l.value = nstates[i];
		metrics_sample(p, "coloc_nodes", &l, 1, nodes[i]);
	}
	metrics_family(p, "coloc_leases", METRICS_GAUGE,
		       "Leases in the controller's table, by state");
	for (unsigned i = 0; i < 3; i++) {
		l.value = lstates[i];
		metrics_sample(p, "coloc_leases", &l, 1, leases[i]);
	}
	metrics_family(p, "coloc_leases_granted_total", METRICS_COUNTER,
		       "Leases granted by the controller");
	metrics_sample(p, "coloc_leases_granted_total", NULL, 0, (double)c->granted);
	metrics_family(p, "coloc_leases_ended_total", METRICS_COUNTER,
		       "Leases that left the controller's table, by how they ended");
	for (unsigned i = 0; i < CEND_STATES; i++) {
		l.value = cend_labels[i];
		metrics_sample(p, "coloc_leases_ended_total", &l, 1, (double)c->ended_states[i]);
	}
	metrics_histogram(p, "coloc_placement_seconds",
			  "Time the controller took to place a lease request", NULL, 0,
			  &c->place_s);
	metrics_family(p, "coloc_placement_failures_total", METRICS_COUNTER,
		       "Lease requests that got no lease, by reason");
	l.name = "reason";
	for (unsigned i = 0; i < FAIL_REASONS; i++) {
		l.value = fail_labels[i];
		metrics_sample(p, "coloc_placement_failures_total", &l, 1, (double)c->fails[i]);
	}
}

void controller_reload(struct controller *c, const struct coloc_config *cfg)
{
	c->cfg.default_lease_s = cfg->default_lease_s;
	c->cfg.max_lease_s = cfg->max_lease_s;
	c->cfg.max_leases_per_user = cfg->max_leases_per_user;
	c->cfg.max_workers_per_user = cfg->max_workers_per_user;
	c->cfg.default_worker_mem = cfg->default_worker_mem;
}

struct controller *controller_create(const struct coloc_config *cfg,
				     const struct controller_nodes *nodes)
{
	struct controller *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->to_nodes = *nodes;
	c->free_nodes = NONE;
	c->started_ms = clock_ms();
	c->live = c->down = c->free_leases = (struct nlist){NONE, NONE};
	c->users_mask = 63;
	c->users = malloc((c->users_mask + 1) * sizeof(*c->users));
	if (!c->users)
		goto fail;
	for (uint32_t i = 0; i <= c->users_mask; i++)
		c->users[i].uid = NONE;
	c->place = placement_create(CHUNK);
	c->node_ix = nameindex_create(node_key, c);
	c->lease_ix = nameindex_create(lease_key, c);
	if (!c->place || !c->node_ix || !c->lease_ix ||
	    getrandom(&c->boot, sizeof(c->boot), 0) != sizeof(c->boot))
		goto fail;
	return c;

fail:
	controller_destroy(c);
	return NULL;
}

void controller_destroy(struct controller *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->leases_cap; i++) {
		msg_reply_error(answer, &lease_at(c, i)->waiter, 0, "ECANCELED", "colocd stopped");
		msg_reply_error(answer, &lease_at(c, i)->releaser, 0, "ECANCELED",
				"colocd stopped");
	}
	nameindex_destroy(c->lease_ix);
	nameindex_destroy(c->node_ix);
	placement_destroy(c->place);
	for (uint32_t k = 0; k < c->leases_cap / CHUNK; k++)
		free(c->lease_chunk[k]);
	free(c->lease_chunk);
	for (uint32_t k = 0; k < c->nodes_cap / CHUNK; k++)
		free(c->node_chunk[k]);
	free(c->node_chunk);
	free(c->users);
	free(c);
}
