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
 */
#include "config.h"

#include "controller.h"

#include "auth.h"
#include "clock.h"
#include "frame.h"
#include "log.h"
#include "metrics.h"
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

enum cl_state { CL_FREE = 0, CL_PLACING, CL_STARTING, CL_READY };

/* Why a lease_acquire got no lease (coloc_placement_failures_total). */
enum place_fail {
	FAIL_NO_CAPACITY, /* no node has the gap */
	FAIL_INVALID,	  /* a request placement refuses */
	FAIL_QUOTA,	  /* MaxLeasesPerUser, MaxWorkersPerUser */
	FAIL_TABLE_FULL,  /* CONTROLLER_MAX_LEASES */
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
	uint32_t gen; /* bumped when the slot is reused: stale agent replies */
	char id[64];
	uint32_t uid, gid, workers;
	unsigned node;
	struct place_assignment where;
	int64_t expires, pid;
	uint32_t job;		  /* the client's Slurm job, 0 = none */
	int64_t since_ms;	  /* last change, or last seen in its agent's report */
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
	char name[MSG_NODE_MAX];
	char addr[64];
	char cgroup[256]; /* its CgroupRoot */
	uint16_t port;
	struct cpumask all, lendable, unallocated, near_host;
	uint64_t mem, mem_lendable;
	uint32_t ngpus, gpus_lendable, jobs;
	int64_t until;	 /* 0: none */
	int64_t seen_ms; /* last report */
};

struct controller {
	struct coloc_config cfg;
	struct controller_nodes to_nodes; /* the seam to node agents */
	struct placement *place;
	struct cnode nodes[CONTROLLER_MAX_NODES];
	struct clease leases[CONTROLLER_MAX_LEASES];
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

/* ---- the registry ------------------------------------------------------------------------ */

static int node_find(const struct controller *c, const char *name)
{
	for (unsigned i = 0; i < CONTROLLER_MAX_NODES; i++)
		if (c->nodes[i].used && strcmp(c->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Hands node ni's gap, less what the table's leases there hold, to placement. */
static void push(struct controller *c, unsigned ni)
{
	const struct cnode *n = &c->nodes[ni];
	struct place_node p = {.id = ni};
	uint64_t mem = 0;
	uint32_t gpus = 0;

	snprintf(p.name, sizeof(p.name), "%s", n->name);
	p.lendable = n->lendable;
	p.unallocated = n->unallocated;
	p.near_host = n->near_host;
	for (unsigned i = 0; i < CONTROLLER_MAX_LEASES; i++) {
		const struct clease *l = &c->leases[i];

		if (l->state == CL_FREE || l->node != ni)
			continue;
		cpumask_or(&p.leased, &p.leased, &l->where.pus);
		mem += l->where.mem;
		gpus |= l->where.gpus;
	}
	p.mem_free = n->mem_lendable > mem ? n->mem_lendable - mem : 0;
	p.gpus_free = n->gpus_lendable & ~gpus;
	p.until = n->until ? n->until : INT64_MAX;
	p.drained = n->drained || n->down;
	placement_update(c->place, &p);
}

static void remember_end(struct controller *c, const char *id, const char *node, uint32_t uid,
			 const char *state, const char *why)
{
	struct cended *e;

	for (unsigned i = 0; i < c->nended; i++)
		if (strcmp(c->ended[i].id, id) == 0)
			return;
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

/* Drops l from the table; whoever waits on it gets why. */
static void lease_drop(struct controller *c, struct clease *l, const char *state, const char *why)
{
	unsigned ni = l->node;

	remember_end(c, l->id, c->nodes[ni].name, l->uid, state, why);
	for (unsigned i = 0; i < CEND_STATES; i++)
		c->ended_states[i] += strcmp(state, cend_labels[i]) == 0;
	if (l->waiter.fn)
		msg_reply_error(answer, &l->waiter, 0, "ECANCELED",
				"%s ended before it was ready: %s", l->id, why);
	if (l->releaser.fn)
		msg_reply_ok(answer, &l->releaser, 0);
	l->state = CL_FREE;
	l->gen++;
	push(c, ni);
}

static struct clease *lease_find(struct controller *c, const char *id)
{
	for (unsigned i = 0; i < CONTROLLER_MAX_LEASES; i++)
		if (c->leases[i].state != CL_FREE && strcmp(c->leases[i].id, id) == 0)
			return &c->leases[i];
	return NULL;
}

static struct clease *lease_new(struct controller *c)
{
	for (unsigned i = 0; i < CONTROLLER_MAX_LEASES; i++) {
		struct clease *l = &c->leases[i];

		if (l->state == CL_FREE) {
			uint32_t gen = l->gen;

			memset(l, 0, sizeof(*l));
			l->gen = gen;
			return l;
		}
	}
	return NULL;
}

/* A request to an agent about l: the slot's generation, l's node, the slot. */
static uint64_t lease_cookie(const struct controller *c, const struct clease *l)
{
	return ((uint64_t)l->gen << 32) | ((uint64_t)l->node << 16) | (uint64_t)(l - c->leases);
}

static struct clease *lease_of_cookie(struct controller *c, uint64_t cookie)
{
	uint32_t i = (uint32_t)(cookie & 0xffff);

	if (i >= CONTROLLER_MAX_LEASES || c->leases[i].state == CL_FREE ||
	    c->leases[i].gen != (uint32_t)(cookie >> 32))
		return NULL;
	return &c->leases[i];
}

/* ---- talking to node agents ------------------------------------------------------------- */

/* Sends req (moved) to node ni's agent; cb gets the answer. 0 or -errno. */
static int to_agent(struct controller *c, unsigned ni, struct msg *req, int timeout_ms,
		    controller_node_cb cb, uint64_t cookie)
{
	const struct cnode *n = &c->nodes[ni];
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
		if (rc == 0 && reply->type == MSG_LEASE_GRANT)
			stop_orphan(c, (unsigned)(cookie >> 16) & 0xffff, reply->u.grant.id);
		return;
	}
	if (rc) { /* -EACCES: what answered is not that node's colocd */
		log_warning("%s: node %s %s: %s", l->id, c->nodes[l->node].name,
			    rc == -EACCES ? "sent a grant that is not authenticated"
					  : "did not answer",
			    err);
		c->fails[FAIL_UNREACHABLE]++;
		msg_reply_error(answer, &l->waiter, 0, rc == -EACCES ? "EACCES" : "EHOSTUNREACH",
				"node %s did not start the executor: %s; ask again",
				c->nodes[l->node].name, err);
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
				"node %s answered exec_start with %s", c->nodes[l->node].name,
				msg_type_name(reply->type));
		stop_orphan(c, l->node, l->id);
		lease_drop(c, l, "failed", "its node agent answered nonsense");
		return;
	}
	l->state = CL_READY;
	l->since_ms = clock_ms();
	c->granted++;
	log_debug("%s is ready on %s", l->id, c->nodes[l->node].name);
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
				c->nodes[l->node].name, err);
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
	unsigned leases = 0;
	uint64_t held = 0;

	for (unsigned i = 0; i < CONTROLLER_MAX_LEASES; i++)
		if (c->leases[i].state != CL_FREE && c->leases[i].uid == uid) {
			leases++;
			held += c->leases[i].workers;
		}
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
		msg_reply_error(answer, r, 0, "EBUSY", "the controller holds %d leases already",
				CONTROLLER_MAX_LEASES);
		return;
	}
	t0 = clock_ns();
	rc = placement_place(c->place, &pr, &l->where, 1, &n, err, sizeof(err));
	metrics_hist_observe(&c->place_s, (double)(clock_ns() - t0) / 1e9);
	if (rc) {
		c->fails[rc == -ENOSPC ? FAIL_NO_CAPACITY : FAIL_INVALID]++;
		if (rc == -ENOSPC && !err[0])
			snprintf(err, sizeof(err), "no node has a gap (no node agent registered?)");
		msg_reply_error(answer, r, 0, rc == -ENOSPC ? "ENOSPC" : "EINVAL", "%s",
				err[0] ? err : strerror(-rc));
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
	l->waiter = *r;
	snprintf(l->id, sizeof(l->id), "lease-%lu-%08x", ++c->seq, c->boot);
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
	log_info("%s: %u workers on cpus %s of %s for uid %u, %lld s", l->id, l->workers,
		 req.u.exec.pus, c->nodes[l->node].name, uid, (long long)pr.duration_s);
	rc = to_agent(c, l->node, &req, EXEC_TIMEOUT_MS, on_exec_started, lease_cookie(c, l));
	if (rc) {
		c->fails[FAIL_UNREACHABLE]++;
		msg_reply_error(answer, &l->waiter, 0, "EBUSY",
				"cannot reach node %s now: %s; ask again", c->nodes[l->node].name,
				strerror(-rc));
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
				"cannot reach node %s now: %s; try again", c->nodes[l->node].name,
				strerror(-rc));
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
	c->nodes[ni].drained = m->u.drain.drain;
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

/* A new row of res, or NULL: -errno in *rc (E2BIG: more rows than a
 * result carries). */
static union msg_row *add_row(struct msg *res, int *rc)
{
	union msg_row *row = msg_result_add(res);

	*rc = row ? 0 : -errno;
	return row;
}

static int query_leases(const struct controller *c, bool executors, uint32_t asker, struct msg *res)
{
	time_t now = time(NULL);
	union msg_row *row;
	int rc = 0;

	for (unsigned i = 0; i < CONTROLLER_MAX_LEASES && !rc; i++) {
		const struct clease *l = &c->leases[i];
		const struct cnode *n = &c->nodes[l->node];

		if (l->state == CL_FREE || (executors && l->pid <= 0) || !shown_to(l->uid, asker))
			continue;
		if (!(row = add_row(res, &rc)))
			break;
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
		}
	}
	for (unsigned i = 0; !executors && !rc && i < c->nended; i++) {
		const struct cended *e =
		    &c->ended[(c->ended_next + ENDED_KEEP - c->nended + i) % ENDED_KEEP];
		struct msg_row_lease *r;

		if (now - e->at > ENDED_KEEP_S || !shown_to(e->uid, asker))
			continue;
		if (!(row = add_row(res, &rc)))
			break;
		r = &row->lease;
		snprintf(r->id, sizeof(r->id), "%s", e->id);
		r->uid = e->uid;
		snprintf(r->state, sizeof(r->state), "%s", e->state);
		snprintf(r->node, sizeof(r->node), "%s", e->node);
		r->expires = e->at;
		snprintf(r->why, sizeof(r->why), "%s", e->why);
	}
	return rc;
}

static int query_nodes(const struct controller *c, bool gaps, struct msg *res)
{
	union msg_row *row;
	int rc = 0;

	for (unsigned i = 0; i < CONTROLLER_MAX_NODES && !rc; i++) {
		const struct cnode *n = &c->nodes[i];
		struct place_node p;

		if (!n->used)
			continue;
		if (!gaps) {
			struct msg_row_node *r;

			if (!(row = add_row(res, &rc)))
				break;
			r = &row->node;
			snprintf(r->name, sizeof(r->name), "%s", n->name);
			snprintf(r->state, sizeof(r->state), "%s", node_state_name(n));
			cpumask_format(&n->all, r->pus, sizeof(r->pus));
			r->mem = n->mem;
			r->gpus = n->ngpus;
			r->jobs = n->jobs;
			r->drained = n->drained;
			continue;
		}
		if (n->down || placement_get(c->place, i, &p) != 0)
			continue;
		if (!(row = add_row(res, &rc)))
			break;
		cpumask_andnot(&p.lendable, &p.lendable, &p.leased);
		cpumask_andnot(&p.unallocated, &p.unallocated, &p.leased);
		snprintf(row->gap.node, sizeof(row->gap.node), "%s", n->name);
		cpumask_format(&p.lendable, row->gap.lendable, sizeof(row->gap.lendable));
		cpumask_format(&p.unallocated, row->gap.unallocated, sizeof(row->gap.unallocated));
		row->gap.mem = p.mem_free;
		row->gap.gpus = (uint32_t)__builtin_popcount(p.gpus_free);
		row->gap.until = n->until;
		row->gap.drained = n->drained;
	}
	return rc;
}

static void query(struct controller *c, const struct msg *m, const struct cred_id *from,
		  struct cl_reply *r)
{
	struct msg res = {.type = MSG_RESULT, .u.result.what = m->u.query};
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
	} else
		rc = m->u.query == MSG_QUERY_LEASES || m->u.query == MSG_QUERY_EXECUTORS
			 ? query_leases(c, m->u.query == MSG_QUERY_EXECUTORS, from->uid, &res)
			 : query_nodes(c, m->u.query == MSG_QUERY_GAPS, &res);
	if (!rc)
		rc = msg_encode(&res, &text); /* to see that it fits in a frame */
	if (rc == -E2BIG || (text && strlen(text) > FRAME_MAX))
		msg_reply_error(
		    answer, r, 0, "E2BIG",
		    "the answer is larger than a frame (%d bytes); ask with fewer leases "
		    "or nodes",
		    FRAME_MAX);
	else if (rc)
		msg_reply_error(answer, r, 0, rc == -ENOMEM ? "ENOMEM" : "EIO",
				"cannot answer the query: %s", strerror(-rc));
	else
		answer(r, 0, &res);
	free(text);
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
	if (ni >= 0 && peer && c->nodes[ni].local) {
		snprintf(err, errlen, "node %s is this standalone colocd's own node", s->node);
		return -EPERM;
	}
	if (ni < 0) {
		for (unsigned i = 0; i < CONTROLLER_MAX_NODES && ni < 0; i++)
			if (!c->nodes[i].used)
				ni = (int)i;
		if (ni < 0) {
			snprintf(err, errlen, "the controller holds %d nodes already",
				 CONTROLLER_MAX_NODES);
			return -ENOSPC;
		}
		memset(&c->nodes[ni], 0, sizeof(c->nodes[ni]));
		c->nodes[ni].used = true;
		snprintf(c->nodes[ni].name, sizeof(c->nodes[ni].name), "%s", s->node);
		log_info("node %s registered (%u leases)", s->node, s->nleases);
	} else if (c->nodes[ni].down) {
		log_info("node %s is back (%u leases)", s->node, s->nleases);
	}
	n = &c->nodes[ni];
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

	/* leases it ended, and leases it no longer runs */
	for (unsigned i = 0; i < s->nended; i++) {
		struct clease *l = lease_find(c, s->ended[i].id);

		if (s->ended[i].has_usage)
			record_usage(c, s->node, &s->ended[i].usage);
		if (l && l->node == (unsigned)ni && l->state != CL_PLACING)
			lease_drop(c, l, s->ended[i].state, s->ended[i].why);
		else if (!l)
			remember_end(c, s->ended[i].id, s->node, 0, s->ended[i].state,
				     s->ended[i].why);
	}
	for (unsigned i = 0; i < CONTROLLER_MAX_LEASES; i++) {
		struct clease *l = &c->leases[i];

		if (l->state == CL_FREE || l->state == CL_PLACING || l->node != (unsigned)ni)
			continue;
		if (reported(m, l->id))
			l->since_ms = now_ms;
		else if (now_ms - l->since_ms > FORGET_MS)
			lease_drop(c, l, "failed",
				   "its node agent no longer runs it (the agent restarted?)");
	}
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
			log_info("adopted %s from node %s", l->id, s->node);
		} else if (l->node != (unsigned)ni) {
			log_warning("node %s reports %s, which runs on %s: ignored", s->node, r->id,
				    c->nodes[l->node].name);
			continue;
		}
		if (l->state == CL_STARTING && r->ready)
			l->state = CL_READY;
		l->pid = r->pid;
	}
	push(c, (unsigned)ni);
	return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

bool controller_takes(enum msg_type t)
{
	return t == MSG_LEASE_ACQUIRE || t == MSG_LEASE_RELEASE || t == MSG_QUERY ||
	       t == MSG_DRAIN || t == MSG_NODE_STATE;
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
		rc = controller_node_state(c, m, peer, from, err, sizeof(err));
		if (rc)
			msg_reply_error(answer, &r, 0,
					rc == -EPERM	? "EPERM"
					: rc == -EACCES ? "EACCES"
							: "EINVAL",
					"%s", err);
		else
			msg_reply_ok(answer, &r, 0);
		break;
	default: /* refused above */
		break;
	}
}

void controller_tick(struct controller *c)
{
	int64_t now_ms = clock_ms();
	time_t now = time(NULL);

	for (unsigned i = 0; i < CONTROLLER_MAX_NODES; i++) {
		struct cnode *n = &c->nodes[i];

		if (!n->used || n->down || n->local ||
		    now_ms - n->seen_ms < CONTROLLER_NODE_DOWN_MS)
			continue;
		n->down = true;
		log_warning("node %s is down: no report for %d s", n->name,
			    CONTROLLER_NODE_DOWN_MS / 1000);
		push(c, i);
	}
	/* a down node's agent ends its leases at their end time by itself */
	for (unsigned i = 0; i < CONTROLLER_MAX_LEASES; i++) {
		struct clease *l = &c->leases[i];

		if (l->state != CL_FREE && l->state != CL_PLACING && c->nodes[l->node].down &&
		    now > l->expires)
			lease_drop(c, l, "expired", "it reached its end time (its node is down)");
	}
}

void controller_metrics(const struct controller *c, struct metrics_page *p)
{
	static const char *const nstates[] = {"up", "drained", "down"};
	static const char *const lstates[] = {"placing", "starting", "ready"};
	unsigned nodes[3] = {0}, leases[3] = {0};
	struct metrics_label l = {"state", ""};

	for (unsigned i = 0; i < CONTROLLER_MAX_NODES; i++) {
		const struct cnode *n = &c->nodes[i];

		if (n->used)
			nodes[n->down ? 2 : n->drained ? 1 : 0]++;
	}
	for (unsigned i = 0; i < CONTROLLER_MAX_LEASES; i++)
		if (c->leases[i].state != CL_FREE)
			leases[c->leases[i].state - CL_PLACING]++;
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
	c->place = placement_create(CONTROLLER_MAX_NODES);
	if (!c->place || getrandom(&c->boot, sizeof(c->boot), 0) != sizeof(c->boot)) {
		placement_destroy(c->place);
		free(c);
		return NULL;
	}
	return c;
}

void controller_destroy(struct controller *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < CONTROLLER_MAX_LEASES; i++) {
		msg_reply_error(answer, &c->leases[i].waiter, 0, "ECANCELED", "colocd stopped");
		msg_reply_error(answer, &c->leases[i].releaser, 0, "ECANCELED", "colocd stopped");
	}
	placement_destroy(c->place);
	free(c);
}
