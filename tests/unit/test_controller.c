/*
 * test_controller: colocd/controller.c, the controller role, with a fake
 * node agent behind struct controller_nodes: it records what the
 * controller sends, and the test answers later through the callback, as
 * the daemon does on the loop's thread (a grant, an error, or no answer:
 * rc -ETIMEDOUT). Node agents report node_state as root over TCP (a peer)
 * or, for a standalone colocd's own node, without a peer or credential;
 * clients ask through controller_request with the credential the daemon
 * verified. What users rely on:
 *   - a lease is started on a registered node, as its user, on PUs that
 *     node lends, with the client's library; the agent's grant reaches the
 *     client marked to be signed, bound to the request's nonce;
 *   - a lease the agent refuses, or does not answer for, fails with an
 *     error naming the node, leaves the table, and its PUs are placed
 *     again (an unanswered one is stopped on its node);
 *   - only a lease's owner, or root, releases it, through its node agent;
 *   - a user sees their own leases and executors, root everyone's; nodes
 *     and gaps are public;
 *   - only root reports node state over TCP;
 *   - a heartbeat naming the generation of the state the controller holds
 *     keeps the node up and its leases, without the state; any other (a
 *     generation it does not hold, a node down or unknown, another
 *     address, a lease of that state gone) is ESTALE, so that the agent
 *     sends its whole state;
 *   - a silent node is down and gets no new leases; a drained one neither,
 *     until it is resumed (root only);
 *   - leases a node runs that the controller does not know are adopted,
 *     leases it ended leave the table saying why;
 *   - MaxLeasesPerUser, MaxWorkersPerUser and MaxLeaseTime hold, and no
 *     lease runs as root.
 * Real time is used only in the bounded wait for a silent node.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "clock.h"
#include "controller.h"
#include "frame.h"
#include "replies.h"
#include "topo_helpers.h"

#define GIB (1024ull * 1024 * 1024)
#define NODE_MEM (16 * GIB)
#define AGENT_PORT 6831
#define MAX_SENT 32
#define USER 1000
#define OTHER 1001
#define LIB "/home/user/fns/libfns.so"
#define DOC "{\"id\":\"the lease document\"}"

/* What the controller sent a node agent, and where the answer goes. */
struct sent {
	enum msg_type type;
	char node[MSG_NODE_MAX];
	char addr[64];
	uint16_t port;
	bool local;
	char id[64];
	uint32_t uid, gid, workers;
	char pus[MSG_CPULIST_MAX];
	uint64_t mem;
	char lib[MSG_PATH_MAX];
	int64_t expires;
	uint64_t remote_mem;
	controller_node_cb cb;
	void *arg;
	uint64_t cookie;
	bool answered;
};

struct fixture {
	struct controller *c;
	struct coloc_config cfg;
	uint64_t cookie;   /* the last client request's */
	struct replies rs; /* the clients' */
	int send_rc;	   /* what the fake node's send returns */
	unsigned nsent;
	struct sent sent[MAX_SENT];
};

/* ---- the fake node agents ---------------------------------------------------------------- */

static int fake_send(void *ctx, const struct controller_node *node, struct msg *req, int timeout_ms,
		     controller_node_cb cb, void *arg, uint64_t cookie)
{
	struct fixture *f = ctx;
	struct sent *s;

	assert_non_null(cb);
	assert_true(timeout_ms > 0);
	if (f->send_rc) {
		msg_free(req);
		return f->send_rc;
	}
	assert_true(f->nsent < MAX_SENT);
	s = &f->sent[f->nsent++];
	memset(s, 0, sizeof(*s));
	s->type = req->type;
	snprintf(s->node, sizeof(s->node), "%s", node->name);
	snprintf(s->addr, sizeof(s->addr), "%s", node->addr);
	s->port = node->port;
	s->local = node->local;
	snprintf(s->id, sizeof(s->id), "%s", req->u.exec.id);
	if (req->type == MSG_EXEC_START) {
		s->uid = req->u.exec.uid;
		s->gid = req->u.exec.gid;
		s->workers = req->u.exec.workers;
		snprintf(s->pus, sizeof(s->pus), "%s", req->u.exec.pus);
		s->mem = req->u.exec.mem;
		snprintf(s->lib, sizeof(s->lib), "%s", req->u.exec.lib);
		s->expires = req->u.exec.expires;
		s->remote_mem = req->u.exec.remote_mem;
	}
	s->cb = cb;
	s->arg = arg;
	s->cookie = cookie;
	msg_free(req);
	return 0;
}

/* The one request sent since `before` was sent: of type t, to node. */
static struct sent *expect_sent(struct fixture *f, unsigned before, enum msg_type t,
				const char *node)
{
	struct sent *s;

	if (f->nsent != before + 1)
		fail_msg("%u requests went to node agents, not 1", f->nsent - before);
	s = &f->sent[before];
	if (s->type != t || strcmp(s->node, node) != 0)
		fail_msg("%s went to %s, not %s to %s", msg_type_name(s->type), s->node,
			 msg_type_name(t), node);
	return s;
}

static void expect_nothing_sent(const struct fixture *f, unsigned before)
{
	if (f->nsent != before)
		fail_msg("%s went to node %s", msg_type_name(f->sent[before].type),
			 f->sent[before].node);
}

/* The node agent answers s: rc 0 with reply, or -errno with err. */
static void node_answers(struct sent *s, int rc, const struct msg *reply, const char *err)
{
	assert_false(s->answered);
	s->answered = true;
	s->cb(s->arg, s->cookie, rc, reply, err);
}

/* exec_start answered with the lease document, under the agent's own
 * credential (which must not reach the client). */
static void node_grants(struct sent *s)
{
	char doc[] = DOC;
	struct msg m = {.type = MSG_LEASE_GRANT};

	snprintf(m.cred, sizeof(m.cred), "the agent's credential");
	snprintf(m.u.grant.id, sizeof(m.u.grant.id), "%s", s->id);
	m.u.grant.lease = doc;
	node_answers(s, 0, &m, NULL);
}

static void node_refuses(struct sent *s, const char *code, const char *message)
{
	struct msg m;

	msg_error(&m, code, "%s", message);
	node_answers(s, 0, &m, NULL);
}

static void node_oks(struct sent *s)
{
	struct msg m = {.type = MSG_OK};

	node_answers(s, 0, &m, NULL);
}

/* ---- node agents' reports ---------------------------------------------------------------- */

/* node_state of node, 8 PUs, lending lendable (all unallocated) and 8 GiB. */
static struct msg node_msg(const char *node, const char *lendable)
{
	struct msg m = {.type = MSG_NODE_STATE};

	snprintf(m.u.node.node, sizeof(m.u.node.node), "%s", node);
	m.u.node.port = AGENT_PORT;
	snprintf(m.u.node.pus, sizeof(m.u.node.pus), "0-7");
	m.u.node.mem = NODE_MEM;
	snprintf(m.u.node.lendable, sizeof(m.u.node.lendable), "%s", lendable);
	snprintf(m.u.node.unallocated, sizeof(m.u.node.unallocated), "%s", lendable);
	snprintf(m.u.node.cgroup, sizeof(m.u.node.cgroup), "/sys/fs/cgroup/coloc");
	m.u.node.mem_lendable = NODE_MEM / 2;
	return m;
}

/* A lease as node agents report it: ready, 1 GiB. */
static struct msg_node_lease node_lease(const char *id, uint32_t uid, const char *pus, int64_t pid,
					int64_t expires)
{
	struct msg_node_lease l = {.uid = uid, .mem = GIB, .ready = true, .pid = pid};
	struct cpumask m = mask(pus);

	snprintf(l.id, sizeof(l.id), "%s", id);
	snprintf(l.pus, sizeof(l.pus), "%s", pus);
	l.workers = cpumask_count(&m);
	l.expires = expires;
	return l;
}

/* ---- clients ----------------------------------------------------------------------------- */

static uint32_t gid_of(uint32_t uid)
{
	return uid ? uid + 5000 : 0;
}

/* The nonce of request cookie's credential. */
static void nonce_of(uint64_t cookie, uint8_t nonce[MSG_NONCE_LEN])
{
	memset(nonce, 0xa5, MSG_NONCE_LEN);
	memcpy(nonce, &cookie, sizeof(cookie));
}

/* m, sent with a credential of uid (verified by the daemon) from peer. */
static uint64_t ask_from(struct fixture *f, uint32_t uid, const struct conns_peer *peer,
			 struct msg m)
{
	struct cred_id from = {.uid = uid, .gid = gid_of(uid)};

	nonce_of(++f->cookie, from.b.nonce);
	snprintf(from.b.dest, sizeof(from.b.dest), "controller");
	from.b.time = time(NULL);
	from.expires = from.b.time + CRED_TTL_S;
	controller_request(f->c, &m, peer, &from, replies_record, &f->rs, f->cookie);
	return f->cookie;
}

static const struct conns_peer *tcp_peer(const char *addr)
{
	static struct conns_peer p;

	p = (struct conns_peer){.uid = UINT32_MAX};
	snprintf(p.addr, sizeof(p.addr), "%s", addr);
	return &p;
}

static struct msg heartbeat_msg(const char *node, uint64_t gen)
{
	struct msg m = {.type = MSG_HEARTBEAT};

	snprintf(m.u.node.node, sizeof(m.u.node.node), "%s", node);
	m.u.node.gen = gen;
	return m;
}

/* A client's request, over TCP. */
static uint64_t ask(struct fixture *f, uint32_t uid, struct msg m)
{
	return ask_from(f, uid, tcp_peer("10.0.9.9"), m);
}

/* node_state of a node agent (root) at addr; the controller takes it. */
static void report(struct fixture *f, const char *addr, struct msg m)
{
	expect_ok(&f->rs, ask_from(f, 0, tcp_peer(addr), m));
}

static struct msg acquire_msg(uint32_t workers, uint32_t time_s)
{
	struct msg m = {.type = MSG_LEASE_ACQUIRE};

	m.u.acquire.workers = workers;
	snprintf(m.u.acquire.lib, sizeof(m.u.acquire.lib), "%s", LIB);
	m.u.acquire.mem = GIB;
	m.u.acquire.time = time_s;
	return m;
}

static struct msg release_msg(const char *id)
{
	struct msg m = {.type = MSG_LEASE_RELEASE};

	snprintf(m.u.release.id, sizeof(m.u.release.id), "%s", id);
	return m;
}

static struct msg query_msg(enum msg_query what)
{
	return (struct msg){.type = MSG_QUERY, .u.query = what};
}

static struct msg drain_msg(const char *node, bool drain)
{
	struct msg m = {.type = MSG_DRAIN};

	snprintf(m.u.drain.node, sizeof(m.u.drain.node), "%s", node);
	m.u.drain.drain = drain;
	return m;
}

/* uid acquires a lease of workers and its exec_start goes to node; the
 * client has no answer yet. */
static struct sent *placed(struct fixture *f, uint32_t uid, uint32_t workers, const char *node,
			   uint64_t *cookie)
{
	unsigned before = f->nsent;
	struct sent *s;

	*cookie = ask(f, uid, acquire_msg(workers, 600));
	s = expect_sent(f, before, MSG_EXEC_START, node);
	assert_no_reply(&f->rs, *cookie);
	return s;
}

/* A lease of uid's, granted on node; its exec_start. */
static struct sent *granted(struct fixture *f, uint32_t uid, uint32_t workers, const char *node)
{
	uint64_t cookie;
	struct sent *s = placed(f, uid, workers, node, &cookie);

	node_grants(s);
	assert_string_equal(expect_reply(&f->rs, cookie, MSG_LEASE_GRANT)->id, s->id);
	return s;
}

/* ---- queries ----------------------------------------------------------------------------- */

/* The items of a query of what, asked by uid (json_decref them); its reply
 * is not kept. */
static json_t *query_as(struct fixture *f, uint32_t uid, enum msg_query what)
{
	const struct reply *r = expect_reply(&f->rs, ask(f, uid, query_msg(what)), MSG_RESULT);
	json_error_t e;
	json_t *items;

	assert_int_equal(r->what, what);
	items = json_loads(r->items, 0, &e);
	if (!json_is_array(items))
		fail_msg("the answer is not an array: %s", r->items);
	replies_drop_last(&f->rs); /* so that a test may poll */
	return items;
}

/* The item whose key is value, or NULL. */
static json_t *item(json_t *items, const char *key, const char *value)
{
	size_t i;
	json_t *it;

	json_array_foreach(items, i, it)
	{
		const char *v = json_string_value(json_object_get(it, key));

		if (v && strcmp(v, value) == 0)
			return it;
	}
	return NULL;
}

static const char *str(json_t *it, const char *key)
{
	const char *v = json_string_value(json_object_get(it, key));

	if (!v)
		fail_msg("no string %s in the item", key);
	return v;
}

/* Lease id, as uid's leases query shows it: in state, why holding what. */
static void expect_lease(struct fixture *f, uint32_t uid, const char *id, const char *state,
			 const char *what)
{
	json_t *items = query_as(f, uid, MSG_QUERY_LEASES);
	json_t *it = item(items, "id", id);

	if (!it)
		fail_msg("uid %u does not see lease %s", uid, id);
	if (strcmp(str(it, "state"), state) != 0 || !strstr(str(it, "why"), what))
		fail_msg("%s is %s (%s), not %s (...%s...)", id, str(it, "state"), str(it, "why"),
			 state, what);
	json_decref(items);
}

static void expect_no_lease(struct fixture *f, uint32_t uid, const char *id)
{
	json_t *items = query_as(f, uid, MSG_QUERY_LEASES);

	if (item(items, "id", id))
		fail_msg("uid %u sees lease %s", uid, id);
	json_decref(items);
}

/* node as the nodes query shows it to uid: its state ("up", "down",
 * "drained"). */
static void expect_node(struct fixture *f, uint32_t uid, const char *node, const char *state)
{
	json_t *items = query_as(f, uid, MSG_QUERY_NODES);
	json_t *it = item(items, "name", node);

	if (!it)
		fail_msg("uid %u does not see node %s", uid, node);
	assert_string_equal(str(it, "state"), state);
	json_decref(items);
}

/* The PUs the gaps query shows node lending (NULL: node not listed). */
static void expect_gap(struct fixture *f, const char *node, const char *lendable)
{
	json_t *items = query_as(f, OTHER, MSG_QUERY_GAPS);
	json_t *it = item(items, "node", node);

	if (!lendable)
		assert_null(it);
	else if (!it)
		fail_msg("the gaps do not show node %s", node);
	else
		assert_string_equal(str(it, "lendable"), lendable);
	json_decref(items);
}

/* ---- setup ------------------------------------------------------------------------------- */

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct controller_nodes nodes = {.send = fake_send, .ctx = f};

	assert_non_null(f);
	f->cfg.default_lease_s = 30 * 60;
	f->cfg.max_lease_s = 24 * 3600;
	f->cfg.max_leases_per_user = 64;
	f->c = controller_create(&f->cfg, &nodes);
	assert_non_null(f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	controller_destroy(f->c);
	replies_free(&f->rs);
	free(f);
	return 0;
}

/* ---- placement and grants ---------------------------------------------------------------- */

static void test_lease_placed_and_granted(void **state)
{
	struct fixture *f = *state;
	struct cpumask lendable = mask("2-7"), pus;
	uint8_t nonce[MSG_NONCE_LEN];
	const struct reply *r;
	time_t t0 = time(NULL);
	uint64_t cookie;
	struct sent *s;

	report(f, "10.0.0.1", node_msg("n1", "2-7"));
	expect_node(f, USER, "n1", "up");

	s = placed(f, USER, 2, "n1", &cookie);
	assert_string_equal(s->addr, "10.0.0.1");
	assert_int_equal(s->port, AGENT_PORT);
	assert_false(s->local);
	assert_int_equal(s->uid, USER);
	assert_int_equal(s->gid, gid_of(USER));
	assert_int_equal(s->workers, 2);
	assert_int_equal(cpumask_parse(s->pus, &pus), 0);
	assert_int_equal(cpumask_count(&pus), 2);
	if (!cpumask_subset(&pus, &lendable))
		fail_msg("the lease got PUs %s, which n1 does not lend (2-7)", s->pus);
	assert_int_equal(s->mem, 2 * GIB);
	assert_string_equal(s->lib, LIB);
	assert_true(s->expires >= t0 + 600 && s->expires <= time(NULL) + 600);
	expect_lease(f, USER, s->id, "starting", "");

	node_grants(s);
	r = expect_reply(&f->rs, cookie, MSG_LEASE_GRANT);
	assert_string_equal(r->id, s->id);
	assert_string_equal(r->lease, DOC);
	assert_true(r->sign);
	nonce_of(cookie, nonce);
	assert_memory_equal(r->reply_to, nonce, MSG_NONCE_LEN);
	assert_string_equal(r->cred, ""); /* colocd signs it, not the agent */
	expect_lease(f, USER, s->id, "ready", "");
}

/* A memory lease: memory alone on the node lending the most, no PU; what
 * it holds no other lease gets until it is released. */
static struct msg memory_msg(uint64_t bytes)
{
	struct msg m = {.type = MSG_LEASE_ACQUIRE};

	m.u.acquire.remote_mem = bytes;
	m.u.acquire.time = 600;
	return m;
}

static void test_memory_lease(void **state)
{
	struct fixture *f = *state;
	struct msg n2 = node_msg("n2", "");
	uint64_t cookie, rel;
	unsigned before;
	struct sent *s, *t, *stop;

	report(f, "10.0.0.1", node_msg("n1", "2-7")); /* 8G of memory */
	n2.u.node.mem_lendable = 12 * GIB;	      /* memory, and no core */
	report(f, "10.0.0.2", n2);
	before = f->nsent;
	cookie = ask(f, USER, memory_msg(4 * GIB));
	s = expect_sent(f, before, MSG_EXEC_START, "n2");
	assert_int_equal(s->workers, 0);
	assert_string_equal(s->pus, "");
	assert_string_equal(s->lib, "");
	assert_true(s->remote_mem == 4 * GIB);
	assert_true(s->mem == 4 * GIB + LEASE_REMOTE_MEM_MARGIN);
	node_grants(s);
	assert_string_equal(expect_reply(&f->rs, cookie, MSG_LEASE_GRANT)->id, s->id);
	expect_lease(f, USER, s->id, "ready", "");

	/* n2 has 8G - 64M left, n1 8G: neither holds 8G and the margin */
	expect_error(&f->rs, ask(f, USER, memory_msg(8 * GIB)), "ENOSPC",
		     "the most memory headroom lent: 8G on n1");
	/* 7G goes to n1, which lends the most; a 1G worker no longer fits there */
	before = f->nsent;
	cookie = ask(f, OTHER, memory_msg(7 * GIB));
	t = expect_sent(f, before, MSG_EXEC_START, "n1");
	node_grants(t);
	expect_reply(&f->rs, cookie, MSG_LEASE_GRANT);
	expect_error(&f->rs, ask(f, USER, acquire_msg(1, 600)), "ENOSPC", "");

	/* released, n2's memory is lent again */
	before = f->nsent;
	rel = ask(f, USER, release_msg(s->id));
	stop = expect_sent(f, before, MSG_EXEC_STOP, "n2");
	node_oks(stop);
	expect_ok(&f->rs, rel);
	before = f->nsent;
	cookie = ask(f, USER, memory_msg(11 * GIB));
	s = expect_sent(f, before, MSG_EXEC_START, "n2");
	node_grants(s);
	expect_reply(&f->rs, cookie, MSG_LEASE_GRANT);
}

static void test_local_node(void **state)
{
	struct fixture *f = *state;
	struct msg m = node_msg("self", "0-7");
	char err[256] = "";
	uint64_t cookie;
	struct sent *s;

	/* a standalone colocd's own agent: no peer, no credential */
	assert_int_equal(controller_node_state(f->c, &m, NULL, NULL, err, sizeof(err)), 0);
	s = placed(f, USER, 1, "self", &cookie);
	assert_true(s->local);
	/* nobody else reports for it over TCP, not even root */
	expect_error(&f->rs, ask_from(f, 0, tcp_peer("10.0.0.66"), node_msg("self", "0-1")),
		     "EPERM", "own node");
	expect_gap(f, "self", "1-7");
}

static void test_lease_fits_on_one_node(void **state)
{
	struct fixture *f = *state;
	struct msg a = node_msg("a", "0-3"), b = node_msg("b", "0-7");
	struct msg acq = acquire_msg(1, 600);
	uint64_t cookie;

	/* a is preferred (unallocated PUs, a GPU), but a lease runs on one
	 * node: one that holds it all is taken */
	a.u.node.gpus_lendable = 0x1;
	b.u.node.unallocated[0] = '\0';
	b.u.node.gpus_lendable = 0x3;
	report(f, "10.0.0.1", a);
	report(f, "10.0.0.2", b);
	placed(f, USER, 6, "b", &cookie);
	acq.u.acquire.gpus = 2;
	cookie = ask(f, OTHER, acq);
	expect_sent(f, 1, MSG_EXEC_START, "b");
	placed(f, USER, 1, "a", &cookie);
}

static void test_agent_refuses(void **state)
{
	struct fixture *f = *state;
	uint64_t cookie;
	struct sent *s;

	report(f, "10.0.0.1", node_msg("n1", "0-7"));
	s = placed(f, USER, 8, "n1", &cookie);
	expect_gap(f, "n1", "");

	node_refuses(s, "EIO", "cannot create cgroup coloc/lease-1: No space left on device");
	expect_error(&f->rs, cookie, "EIO", "cannot create cgroup");
	expect_lease(f, USER, s->id, "failed", "cannot create cgroup");
	expect_gap(f, "n1", "0-7");
	/* its PUs are placed again, all of them */
	assert_string_equal(placed(f, USER, 8, "n1", &cookie)->pus, "0-7");
}

static void test_agent_does_not_answer(void **state)
{
	struct fixture *f = *state;
	unsigned before;
	uint64_t cookie;
	struct sent *s, *stop;

	report(f, "10.0.0.1", node_msg("n1", "0-7"));
	s = placed(f, USER, 8, "n1", &cookie);
	before = f->nsent;

	node_answers(s, -ETIMEDOUT, NULL, "no answer from 10.0.0.1:6831 within 12 s");
	expect_error(&f->rs, cookie, "EHOSTUNREACH", "node n1 did not start the executor");
	expect_error(&f->rs, cookie, "EHOSTUNREACH", "no answer from 10.0.0.1:6831");
	/* the executor may run there after all: it is stopped */
	stop = expect_sent(f, before, MSG_EXEC_STOP, "n1");
	assert_string_equal(stop->id, s->id);
	assert_string_equal(stop->addr, "10.0.0.1");
	expect_lease(f, USER, s->id, "failed", "did not answer");
	expect_gap(f, "n1", "0-7");
	node_answers(stop, -ETIMEDOUT, NULL, "no answer"); /* logged, nothing else */
	assert_string_equal(placed(f, USER, 8, "n1", &cookie)->pus, "0-7");
}

static void test_agent_unreachable(void **state)
{
	struct fixture *f = *state;
	uint64_t cookie;

	report(f, "10.0.0.1", node_msg("n1", "0-7"));
	f->send_rc = -ECONNREFUSED;
	cookie = ask(f, USER, acquire_msg(8, 600));
	expect_error(&f->rs, cookie, "EBUSY", "cannot reach node n1");
	expect_gap(f, "n1", "0-7");
	f->send_rc = 0;
	placed(f, USER, 8, "n1", &cookie);
}

static void test_agent_grants_another_lease(void **state)
{
	struct fixture *f = *state;
	struct msg m = {.type = MSG_LEASE_GRANT};
	char doc[] = DOC;
	unsigned before;
	uint64_t cookie;
	struct sent *s;

	report(f, "10.0.0.1", node_msg("n1", "0-7"));
	s = placed(f, USER, 2, "n1", &cookie);
	before = f->nsent;
	snprintf(m.u.grant.id, sizeof(m.u.grant.id), "lease-of-someone-else");
	m.u.grant.lease = doc;
	node_answers(s, 0, &m, NULL);
	expect_error(&f->rs, cookie, "EPROTO", "node n1");
	assert_string_equal(expect_sent(f, before, MSG_EXEC_STOP, "n1")->id, s->id);
	expect_lease(f, USER, s->id, "failed", "nonsense");
}

/* ---- release ----------------------------------------------------------------------------- */

static void test_release(void **state)
{
	struct fixture *f = *state;
	unsigned before;
	uint64_t cookie, rel;
	struct sent *s, *stop;

	report(f, "10.0.0.1", node_msg("n1", "0-3"));
	report(f, "10.0.0.2", node_msg("n2", "0-7")); /* 8 workers fit on n2 alone */
	expect_error(&f->rs, ask(f, USER, release_msg("lease-nope")), "ENOENT", "lease-nope");

	s = placed(f, USER, 8, "n2", &cookie);
	before = f->nsent;
	expect_error(&f->rs, ask(f, USER, release_msg(s->id)), "EAGAIN", "still starting");
	node_grants(s);
	expect_reply(&f->rs, cookie, MSG_LEASE_GRANT);

	/* another user */
	expect_error(&f->rs, ask(f, OTHER, release_msg(s->id)), "EPERM", "belongs to uid 1000");
	expect_nothing_sent(f, before);
	expect_lease(f, USER, s->id, "ready", "");

	/* its owner: answered once the agent stopped it */
	rel = ask(f, USER, release_msg(s->id));
	stop = expect_sent(f, before, MSG_EXEC_STOP, "n2");
	assert_string_equal(stop->id, s->id);
	assert_string_equal(stop->addr, "10.0.0.2");
	assert_no_reply(&f->rs, rel);
	expect_error(&f->rs, ask(f, USER, release_msg(s->id)), "EALREADY", s->id);
	node_oks(stop);
	expect_ok(&f->rs, rel);
	expect_lease(f, USER, s->id, "released", "released by its owner");
	expect_gap(f, "n2", "0-7");

	/* root releases anyone's */
	s = granted(f, OTHER, 8, "n2");
	before = f->nsent;
	rel = ask(f, 0, release_msg(s->id));
	stop = expect_sent(f, before, MSG_EXEC_STOP, "n2");
	node_oks(stop);
	expect_ok(&f->rs, rel);
	expect_lease(f, OTHER, s->id, "released", "");
}

static void test_release_fails(void **state)
{
	struct fixture *f = *state;
	unsigned before;
	uint64_t rel;
	struct sent *s;

	report(f, "10.0.0.1", node_msg("n1", "0-7"));
	s = granted(f, USER, 2, "n1");

	/* the agent's error reaches the client; the lease is still held */
	before = f->nsent;
	rel = ask(f, USER, release_msg(s->id));
	node_refuses(expect_sent(f, before, MSG_EXEC_STOP, "n1"), "EBUSY", "its processes stay");
	expect_error(&f->rs, rel, "EBUSY", "its processes stay");
	expect_lease(f, USER, s->id, "ready", "");

	/* no answer: the client hears the node is unreachable; still held */
	before = f->nsent;
	rel = ask(f, USER, release_msg(s->id));
	node_answers(expect_sent(f, before, MSG_EXEC_STOP, "n1"), -ETIMEDOUT, NULL, "no answer");
	expect_error(&f->rs, rel, "EHOSTUNREACH", "node n1");
	expect_lease(f, USER, s->id, "ready", "");

	/* an agent that no longer has it: released */
	before = f->nsent;
	rel = ask(f, USER, release_msg(s->id));
	node_refuses(expect_sent(f, before, MSG_EXEC_STOP, "n1"), "ENOENT", "no lease");
	expect_ok(&f->rs, rel);
	expect_lease(f, USER, s->id, "released", "");
}

/* ---- queries ----------------------------------------------------------------------------- */

static size_t count_as(struct fixture *f, uint32_t uid, enum msg_query what)
{
	json_t *items = query_as(f, uid, what);
	size_t n = json_array_size(items);

	json_decref(items);
	return n;
}

static void test_queries(void **state)
{
	struct fixture *f = *state;
	struct msg_node_lease run[2];
	struct msg m = node_msg("n1", "0-7");
	struct cpumask left = mask("0-7"), held;
	char pus[MSG_CPULIST_MAX];
	struct sent *mine, *theirs;
	json_t *items, *it;
	unsigned before;
	uint64_t rel;

	report(f, "10.0.0.1", m);
	mine = granted(f, USER, 2, "n1");
	theirs = granted(f, OTHER, 3, "n1");
	run[0] = node_lease(mine->id, USER, mine->pus, 111, mine->expires);
	run[1] = node_lease(theirs->id, OTHER, theirs->pus, 222, theirs->expires);
	m.u.node.leases = run;
	m.u.node.nleases = 2;
	report(f, "10.0.0.1", m);

	/* leases: a user's own; root's all */
	expect_lease(f, USER, mine->id, "ready", "");
	expect_no_lease(f, USER, theirs->id);
	expect_lease(f, OTHER, theirs->id, "ready", "");
	expect_no_lease(f, OTHER, mine->id);
	assert_int_equal(count_as(f, USER, MSG_QUERY_LEASES), 1);
	assert_int_equal(count_as(f, 0, MSG_QUERY_LEASES), 2);

	/* executors likewise */
	items = query_as(f, USER, MSG_QUERY_EXECUTORS);
	assert_int_equal(json_array_size(items), 1);
	it = item(items, "lease", mine->id);
	assert_non_null(it);
	assert_int_equal(json_integer_value(json_object_get(it, "pid")), 111);
	assert_string_equal(str(it, "node"), "n1");
	assert_string_equal(str(it, "cpus"), mine->pus);
	json_decref(items);
	items = query_as(f, 0, MSG_QUERY_EXECUTORS);
	assert_int_equal(json_array_size(items), 2);
	assert_non_null(item(items, "lease", theirs->id));
	json_decref(items);

	/* ended leases likewise */
	before = f->nsent;
	rel = ask(f, OTHER, release_msg(theirs->id));
	node_oks(expect_sent(f, before, MSG_EXEC_STOP, "n1"));
	expect_ok(&f->rs, rel);
	expect_no_lease(f, USER, theirs->id);
	expect_lease(f, 0, theirs->id, "released", "");

	/* nodes and gaps: anyone's */
	expect_node(f, OTHER, "n1", "up");
	assert_int_equal(count_as(f, OTHER, MSG_QUERY_NODES), 1);
	held = mask(mine->pus);
	cpumask_andnot(&left, &left, &held);
	assert_int_equal(cpumask_format(&left, pus, sizeof(pus)), 0);
	expect_gap(f, "n1", pus);
}

/* ---- node state -------------------------------------------------------------------------- */

static void test_node_state_from_a_user(void **state)
{
	struct fixture *f = *state;
	struct msg m = node_msg("n1", "0-7");
	struct cred_id user = {.uid = USER, .gid = gid_of(USER)};
	char err[256] = "";

	expect_error(&f->rs, ask_from(f, USER, tcp_peer("10.0.0.1"), m), "EPERM", "uid 1000");
	assert_int_equal(
	    controller_node_state(f->c, &m, tcp_peer("10.0.0.1"), &user, err, sizeof(err)), -EPERM);
	assert_int_equal(
	    controller_node_state(f->c, &m, tcp_peer("10.0.0.1"), NULL, err, sizeof(err)), -EPERM);
	/* a user's credential makes no local agent either */
	assert_int_equal(controller_node_state(f->c, &m, NULL, &user, err, sizeof(err)), -EPERM);
	/* no credential at all */
	controller_request(f->c, &m, tcp_peer("10.0.0.1"), NULL, replies_record, &f->rs,
			   ++f->cookie);
	expect_error(&f->rs, f->cookie, "EACCES", "not authenticated");

	assert_int_equal(count_as(f, 0, MSG_QUERY_NODES), 0);
	expect_error(&f->rs, ask(f, USER, acquire_msg(1, 600)), "ENOSPC", "");
}

/* Ticks the controller until node is down: at most CONTROLLER_NODE_DOWN_MS
 * and 5 s after its last report. */
static void wait_down(struct fixture *f, const char *node)
{
	int64_t end = clock_ms() + CONTROLLER_NODE_DOWN_MS + 5000;

	for (;;) {
		json_t *items = query_as(f, 0, MSG_QUERY_NODES);
		bool down = strcmp(str(item(items, "name", node), "state"), "down") == 0;

		json_decref(items);
		if (down)
			return;
		if (clock_ms() > end)
			fail_msg("%s is not down %d ms after its last report", node,
				 CONTROLLER_NODE_DOWN_MS + 5000);
		clock_sleep_ms(10);
		controller_tick(f->c);
	}
}

static void test_silent_node_is_down(void **state)
{
	struct fixture *f = *state;
	struct msg_node_lease run[2];
	struct msg m = node_msg("n1", "0-7"), self = node_msg("self", "");
	char err[256] = "";
	uint64_t cookie;
	unsigned before;

	/* a standalone's own node (nothing to lend) is never down */
	assert_int_equal(controller_node_state(f->c, &self, NULL, NULL, err, sizeof(err)), 0);
	run[0] = node_lease("lease-gone", USER, "0", 11, time(NULL) - 1);
	run[1] = node_lease("lease-on", USER, "1", 12, time(NULL) + 600);
	m.u.node.leases = run;
	m.u.node.nleases = 2;
	report(f, "10.0.0.1", m);
	controller_tick(f->c);
	expect_node(f, USER, "n1", "up");

	wait_down(f, "n1");
	expect_node(f, USER, "self", "up");
	expect_gap(f, "n1", NULL);

	/* no new lease there */
	before = f->nsent;
	expect_error(&f->rs, ask(f, USER, acquire_msg(1, 600)), "ENOSPC", "no node has a gap");
	expect_nothing_sent(f, before);
	/* its leases end at their end time: the agent ends them by itself */
	expect_lease(f, USER, "lease-gone", "expired", "its node is down");
	expect_lease(f, USER, "lease-on", "ready", "");

	/* back */
	m.u.node.nleases = 1;
	m.u.node.leases = &run[1];
	report(f, "10.0.0.1", m);
	expect_node(f, USER, "n1", "up");
	placed(f, USER, 1, "n1", &cookie);
}

static void test_adoption(void **state)
{
	struct fixture *f = *state;
	struct msg_node_lease run =
	    node_lease("lease-9-cafe0001", USER, "4-5", 4242, time(NULL) + 600);
	struct msg m = node_msg("n1", "0-7");
	unsigned before;
	uint64_t rel;
	json_t *items, *it;
	struct sent *stop;

	m.u.node.leases = &run;
	m.u.node.nleases = 1;
	report(f, "10.0.0.1", m);

	items = query_as(f, USER, MSG_QUERY_LEASES);
	it = item(items, "id", run.id);
	assert_non_null(it);
	assert_string_equal(str(it, "state"), "ready");
	assert_string_equal(str(it, "node"), "n1");
	assert_string_equal(str(it, "cpus"), "4-5");
	json_decref(items);
	expect_no_lease(f, OTHER, run.id);
	/* its PUs are taken */
	expect_gap(f, "n1", "0-3,6-7");
	expect_error(&f->rs, ask(f, OTHER, acquire_msg(7, 600)), "ENOSPC", "6 cores");

	/* its owner releases it */
	before = f->nsent;
	expect_error(&f->rs, ask(f, OTHER, release_msg(run.id)), "EPERM", "");
	rel = ask(f, USER, release_msg(run.id));
	stop = expect_sent(f, before, MSG_EXEC_STOP, "n1");
	assert_string_equal(stop->id, run.id);
	assert_string_equal(stop->addr, "10.0.0.1");
	node_oks(stop);
	expect_ok(&f->rs, rel);
	expect_lease(f, USER, run.id, "released", "");
	expect_gap(f, "n1", "0-7");
}

static void test_ended_lease(void **state)
{
	struct fixture *f = *state;
	struct msg m = node_msg("n1", "0-7");
	struct msg_node_ended gone = {.state = "evicted"};
	uint64_t cookie;
	struct sent *s;

	report(f, "10.0.0.1", m);
	s = granted(f, USER, 8, "n1");
	expect_gap(f, "n1", "");

	snprintf(gone.id, sizeof(gone.id), "%s", s->id);
	/* what a page must escape travels as it is (the page is parsed) */
	snprintf(gone.why, sizeof(gone.why), "host job 42 needs its PUs (\"0-7\" \\ é\t)");
	m.u.node.ended = &gone;
	m.u.node.nended = 1;
	report(f, "10.0.0.1", m);
	expect_lease(f, USER, s->id, "evicted", "host job 42 needs its PUs (\"0-7\" \\ é\t)");
	expect_no_lease(f, OTHER, s->id);
	expect_gap(f, "n1", "0-7");
	/* reported again: still one entry */
	report(f, "10.0.0.1", m);
	assert_int_equal(count_as(f, USER, MSG_QUERY_LEASES), 1);
	placed(f, USER, 8, "n1", &cookie);
}

/* The node evicted a lease, and its owner's release reached the controller
 * before the node's report did (the client saw the eviction first, fell
 * back and released): the lease ended evicted, as the node says. Another
 * node cannot rewrite how it ended. */
static void test_evicted_before_release(void **state)
{
	struct fixture *f = *state;
	struct msg m = node_msg("n1", "0-7"), other = node_msg("n2", "0-3");
	struct msg_node_ended gone = {.state = "evicted"};
	unsigned before;
	uint64_t rel;
	struct sent *s, *stop;

	report(f, "10.0.0.1", m);
	report(f, "10.0.0.2", other);
	s = granted(f, USER, 8, "n1");
	before = f->nsent;
	rel = ask(f, USER, release_msg(s->id));
	stop = expect_sent(f, before, MSG_EXEC_STOP, "n1");
	node_oks(stop);
	expect_ok(&f->rs, rel);
	expect_lease(f, USER, s->id, "released", "released by its owner");

	snprintf(gone.id, sizeof(gone.id), "%s", s->id);
	snprintf(gone.why, sizeof(gone.why), "a host job or step needs its PUs or GPUs");
	other.u.node.ended = &gone;
	other.u.node.nended = 1;
	report(f, "10.0.0.2", other);
	expect_lease(f, USER, s->id, "released", "released by its owner");
	m.u.node.ended = &gone;
	m.u.node.nended = 1;
	report(f, "10.0.0.1", m);
	expect_lease(f, USER, s->id, "evicted", "a host job or step needs its PUs or GPUs");
	assert_int_equal(count_as(f, USER, MSG_QUERY_LEASES), 1);
}

/* ---- limits ------------------------------------------------------------------------------ */

/* MaxLeasesPerUser and MaxWorkersPerUser (0: none), reloaded; n1 lends 8 PUs. */
static void limits(struct fixture *f, unsigned leases, unsigned workers)
{
	f->cfg.max_leases_per_user = leases;
	f->cfg.max_workers_per_user = workers;
	controller_reload(f->c, &f->cfg);
	report(f, "10.0.0.1", node_msg("n1", "0-7"));
}

static void test_max_leases_per_user(void **state)
{
	struct fixture *f = *state;
	unsigned before;
	uint64_t cookie;

	limits(f, 1, 0);
	placed(f, USER, 1, "n1", &cookie); /* starting counts */
	before = f->nsent;
	expect_error(&f->rs, ask(f, USER, acquire_msg(1, 600)), "EDQUOT", "MaxLeasesPerUser");
	expect_nothing_sent(f, before);
	placed(f, OTHER, 1, "n1", &cookie); /* per user */
}

static void test_max_workers_per_user(void **state)
{
	struct fixture *f = *state;
	unsigned before;
	uint64_t cookie;

	limits(f, 0, 3);
	granted(f, USER, 2, "n1");
	before = f->nsent;
	expect_error(&f->rs, ask(f, USER, acquire_msg(2, 600)), "EDQUOT", "MaxWorkersPerUser");
	expect_error(&f->rs, ask(f, OTHER, acquire_msg(4, 600)), "EDQUOT", "MaxWorkersPerUser");
	expect_nothing_sent(f, before);
	placed(f, USER, 1, "n1", &cookie);
}

static void test_root_and_lease_time(void **state)
{
	struct fixture *f = *state;
	unsigned before;
	uint64_t cookie;
	time_t t0;
	struct sent *s;

	f->cfg.max_lease_s = 3600;
	controller_reload(f->c, &f->cfg);
	report(f, "10.0.0.1", node_msg("n1", "0-7"));
	before = f->nsent;
	expect_error(&f->rs, ask(f, 0, acquire_msg(1, 600)), "EPERM", "never run as root");
	expect_nothing_sent(f, before);

	t0 = time(NULL);
	cookie = ask(f, USER, acquire_msg(1, 7 * 86400));
	s = expect_sent(f, before, MSG_EXEC_START, "n1");
	assert_true(s->expires >= t0 + 3600 && s->expires <= time(NULL) + 3600);
	node_grants(s);
	expect_reply(&f->rs, cookie, MSG_LEASE_GRANT);
}

/* A lease that asks for no memory gets DefaultMemPerWorker per worker. */
static void test_default_worker_mem(void **state)
{
	struct fixture *f = *state;
	struct msg m = acquire_msg(2, 600);
	unsigned before;
	struct sent *s;

	f->cfg.default_worker_mem = 3 * GIB;
	controller_reload(f->c, &f->cfg);
	report(f, "10.0.0.1", node_msg("n1", "0-7"));
	m.u.acquire.mem = 0;
	before = f->nsent;
	ask(f, USER, m);
	s = expect_sent(f, before, MSG_EXEC_START, "n1");
	assert_int_equal(s->mem, 2 * 3 * GIB);
	/* more than the node lends: placed nowhere */
	f->cfg.default_worker_mem = NODE_MEM;
	controller_reload(f->c, &f->cfg);
	before = f->nsent;
	ask(f, OTHER, m);
	expect_nothing_sent(f, before);
}

/* A lease that asks for less memory than a worker needs is refused with
 * the least, and nothing is started. */
static void test_too_little_worker_mem(void **state)
{
	struct fixture *f = *state;
	struct msg m = acquire_msg(1, 600);
	unsigned before;

	report(f, "10.0.0.1", node_msg("n1", "0-7"));
	m.u.acquire.mem = LEASE_MIN_MEM - 1;
	before = f->nsent;
	expect_error(&f->rs, ask(f, USER, m), "EINVAL",
		     "below the least a worker needs, 16777216 bytes (16M)");
	expect_nothing_sent(f, before);
	m.u.acquire.mem = LEASE_MIN_MEM;
	ask(f, USER, m);
	expect_sent(f, before, MSG_EXEC_START, "n1");
}

/* ---- drain ------------------------------------------------------------------------------- */

static void test_drain(void **state)
{
	struct fixture *f = *state;
	unsigned before;
	uint64_t cookie;

	report(f, "10.0.0.1", node_msg("n1", "0-7"));
	report(f, "10.0.0.2", node_msg("n2", "0-7"));

	expect_error(&f->rs, ask(f, USER, drain_msg("n1", true)), "EPERM", "only root");
	expect_node(f, USER, "n1", "up");
	expect_error(&f->rs, ask(f, 0, drain_msg("n9", true)), "ENOENT", "n9");

	expect_ok(&f->rs, ask(f, 0, drain_msg("n1", true)));
	report(f, "10.0.0.1", node_msg("n1", "0-7")); /* its report does not undo it */
	expect_node(f, USER, "n1", "drained");
	placed(f, USER, 8, "n2", &cookie);
	expect_ok(&f->rs, ask(f, 0, drain_msg("n2", true)));
	before = f->nsent;
	expect_error(&f->rs, ask(f, OTHER, acquire_msg(1, 600)), "ENOSPC", "");
	expect_nothing_sent(f, before);

	expect_error(&f->rs, ask(f, USER, drain_msg("n1", false)), "EPERM", "only root");
	expect_ok(&f->rs, ask(f, 0, drain_msg("n1", false)));
	expect_node(f, USER, "n1", "up");
	placed(f, OTHER, 8, "n1", &cookie);
}

/* ---- many nodes, pages, filters ---------------------------------------------------------- */

#define MANY 3000 /* nodes: more than the 1,024 the registry once held */

/* A page of a query's answer, as a client sees it. */
struct page_seen {
	int type;
	char code[32];
	uint64_t next;
	size_t bytes; /* the page's encoded size */
	json_t *items;
};

static void page_record(void *arg, uint64_t cookie, const struct msg *m)
{
	struct page_seen *p = arg;
	char *text = NULL;

	(void)cookie;
	p->type = m->type;
	if (m->type == MSG_ERROR)
		snprintf(p->code, sizeof(p->code), "%s", m->u.error.code);
	if (m->type != MSG_RESULT)
		return;
	p->next = m->u.result.next;
	assert_int_equal(msg_encode(m, &text), 0);
	p->bytes = strlen(text);
	free(text);
	assert_int_equal(msg_result_json(m, &text), 0);
	p->items = json_loads(text, 0, NULL);
	free(text);
}

/* Sends m (as uid 0) and returns its answer: ok, or an error's code. */
static struct page_seen ask_page(struct fixture *f, const struct msg *m)
{
	struct cred_id from = {.uid = 0};
	struct page_seen p = {.type = -1};

	nonce_of(++f->cookie, from.b.nonce);
	controller_request(f->c, m, tcp_peer("10.0.0.1"), &from, page_record, &p, f->cookie);
	assert_int_not_equal(p.type, -1);
	return p;
}

/* Every row of query q (filter f), page after page: a JSON array. */
static json_t *query_all(struct fixture *f, enum msg_query q, struct msg_usage_filter flt,
			 unsigned *pages)
{
	json_t *all = json_array();

	*pages = 0;
	do {
		struct msg m = {.type = MSG_QUERY, .u.query = q, .filter = flt};
		struct page_seen p = ask_page(f, &m);

		assert_int_equal(p.type, MSG_RESULT);
		assert_true(p.bytes <= FRAME_MAX);
		json_array_extend(all, p.items);
		json_decref(p.items);
		flt.from = p.next;
		++*pages;
		assert_true(*pages < 1000);
	} while (flt.from);
	return all;
}

static void test_many_nodes_paged(void **state)
{
	struct fixture *f = *state;
	struct msg_usage_filter none = {0}, flt = {0};
	char name[MSG_NODE_MAX];
	unsigned pages;
	json_t *all, *it;
	size_t i;

	for (unsigned n = 0; n < MANY; n++) {
		struct msg m = node_msg("", n % 10 ? "0-7" : "0-1");
		struct page_seen p;

		snprintf(m.u.node.node, sizeof(m.u.node.node), "nid%05u", n);
		p = ask_page(f, &m);
		assert_int_equal(p.type, MSG_OK);
	}
	/* a node reports again: still one node */
	{
		struct msg m = node_msg("nid00042", "0-7");

		assert_int_equal(ask_page(f, &m).type, MSG_OK);
	}

	/* every node once, in several frames */
	all = query_all(f, MSG_QUERY_NODES, none, &pages);
	assert_int_equal(json_array_size(all), MANY);
	assert_true(pages > 1);
	for (unsigned n = 0; n < MANY; n += 997) {
		snprintf(name, sizeof(name), "nid%05u", n);
		assert_non_null(item(all, "name", name));
	}
	json_decref(all);
	all = query_all(f, MSG_QUERY_GAPS, none, &pages);
	assert_int_equal(json_array_size(all), MANY);
	assert_true(pages > 1);
	json_decref(all);

	/* filters: gaps of at least 4 cores; drained nodes */
	flt.min_cores = 4;
	all = query_all(f, MSG_QUERY_GAPS, flt, &pages);
	assert_int_equal(json_array_size(all), MANY - MANY / 10);
	json_array_foreach(all, i, it) assert_string_equal(str(it, "lendable"), "0-7");
	json_decref(all);
	expect_ok(&f->rs, ask(f, 0, drain_msg("nid00007", true)));
	expect_ok(&f->rs, ask(f, 0, drain_msg("nid02999", true)));
	flt = none;
	snprintf(flt.state, sizeof(flt.state), "drained");
	all = query_all(f, MSG_QUERY_NODES, flt, &pages);
	assert_int_equal(json_array_size(all), 2);
	assert_int_equal(pages, 1);
	assert_non_null(item(all, "name", "nid02999"));
	json_decref(all);
	snprintf(flt.state, sizeof(flt.state), "down");
	all = query_all(f, MSG_QUERY_NODES, flt, &pages);
	assert_int_equal(json_array_size(all), 0);
	json_decref(all);

	/* a lease goes to one of them */
	{
		unsigned before = f->nsent;
		uint64_t ck = ask(f, USER, acquire_msg(2, 600));

		assert_int_equal(f->nsent, before + 1);
		assert_int_equal(f->sent[before].type, MSG_EXEC_START);
		assert_no_reply(&f->rs, ck);
	}
}

static void test_leases_filtered(void **state)
{
	struct fixture *f = *state;
	struct msg_usage_filter flt = {.has_user = true, .user = OTHER};
	unsigned pages;
	json_t *all;

	report(f, "10.0.0.1", node_msg("n1", "0-7"));
	granted(f, USER, 1, "n1");
	granted(f, USER, 1, "n1");
	granted(f, OTHER, 1, "n1");
	all = query_all(f, MSG_QUERY_LEASES, flt, &pages);
	assert_int_equal(json_array_size(all), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(all, 0), "uid")), OTHER);
	json_decref(all);
	flt.user = USER;
	all = query_all(f, MSG_QUERY_LEASES, flt, &pages);
	assert_int_equal(json_array_size(all), 2);
	json_decref(all);
}

/* A controller that has just started (a restart under thousands of
 * agents) marks no node down for two CONTROLLER_NODE_DOWN_MS, however late
 * their reports come; then it does. */
static void test_start_grace(void **state)
{
	struct fixture *f = *state;
	json_t *items;
	bool down;

	report(f, "10.0.0.1", node_msg("n1", "0-7"));
	clock_sleep_ms(CONTROLLER_NODE_DOWN_MS + 50);
	controller_tick(f->c);
	expect_node(f, USER, "n1", "up");
	clock_sleep_ms(CONTROLLER_NODE_DOWN_MS + 50);
	controller_tick(f->c);
	items = query_as(f, 0, MSG_QUERY_NODES);
	down = strcmp(str(item(items, "name", "n1"), "state"), "down") == 0;
	json_decref(items);
	assert_true(down);
}

/* A node down for CONTROLLER_NODE_FORGET_MS, holding no lease, is
 * forgotten: its name may come back as a new node. */
static void test_dead_node_forgotten(void **state)
{
	struct fixture *f = *state;
	struct msg_usage_filter none = {0};
	int64_t end = clock_ms() + CONTROLLER_NODE_DOWN_MS + CONTROLLER_NODE_FORGET_MS + 5000;
	unsigned pages;
	json_t *all;

	report(f, "10.0.0.1", node_msg("gone", "0-7"));
	report(f, "10.0.0.2", node_msg("stays", "0-7"));
	for (;;) {
		size_t n;

		report(f, "10.0.0.2", node_msg("stays", "0-7")); /* keeps reporting */
		replies_drop_last(&f->rs);
		controller_tick(f->c);
		all = query_all(f, MSG_QUERY_NODES, none, &pages);
		n = json_array_size(all);
		json_decref(all);
		if (n == 1)
			break;
		if (clock_ms() > end)
			fail_msg("node gone is still known");
		clock_sleep_ms(20);
	}
	all = query_all(f, MSG_QUERY_NODES, none, &pages);
	assert_non_null(item(all, "name", "stays"));
	json_decref(all);
	report(f, "10.0.0.1", node_msg("gone", "0-7"));
	expect_node(f, USER, "gone", "up");
}

/* Heartbeats keep a node up, and the leases its state listed, past the
 * time a silent node is down and an unlisted lease forgotten. */
static void test_heartbeat_keeps_node(void **state)
{
	struct fixture *f = *state;
	struct msg_node_lease run = node_lease("lease-7-beef", USER, "2", 77, time(NULL) + 600);
	struct msg m = node_msg("n1", "0-7");
	int64_t end;

	m.u.node.leases = &run;
	m.u.node.nleases = 1;
	m.u.node.gen = 41;
	report(f, "10.0.0.1", m);
	/* beyond the start's grace and a node's silence, heartbeats only */
	end = clock_ms() + 2 * CONTROLLER_NODE_DOWN_MS + 1500;
	while (clock_ms() < end) {
		report(f, "10.0.0.1", heartbeat_msg("n1", 41));
		replies_drop_last(&f->rs);
		controller_tick(f->c);
		clock_sleep_ms(100);
	}
	controller_tick(f->c);
	expect_node(f, USER, "n1", "up");
	expect_lease(f, USER, run.id, "ready", "");
	expect_gap(f, "n1", "0-1,3-7");

	/* silent: down; a heartbeat does not bring it back, its state does */
	wait_down(f, "n1");
	expect_error(&f->rs, ask_from(f, 0, tcp_peer("10.0.0.1"), heartbeat_msg("n1", 41)),
		     "ESTALE", "marked down");
	expect_node(f, USER, "n1", "down");
	m.u.node.gen = 42;
	report(f, "10.0.0.1", m);
	expect_node(f, USER, "n1", "up");
	expect_ok(&f->rs, ask_from(f, 0, tcp_peer("10.0.0.1"), heartbeat_msg("n1", 42)));
}

/* A heartbeat the controller cannot take is ESTALE, naming why; only root
 * sends one. */
static void test_heartbeat_stale(void **state)
{
	struct fixture *f = *state;
	struct msg_node_lease run =
	    node_lease("lease-9-cafe0001", USER, "4-5", 4242, time(NULL) + 600);
	struct msg m = node_msg("n1", "0-7"), hb = heartbeat_msg("n1", 5);
	struct sent *stop;
	unsigned before;
	uint64_t rel;

	/* a node it does not know (a restarted controller) */
	expect_error(&f->rs, ask_from(f, 0, tcp_peer("10.0.0.1"), hb), "ESTALE",
		     "does not know the node");
	/* a state without a generation (an agent without heartbeats) */
	m.u.node.leases = &run;
	m.u.node.nleases = 1;
	report(f, "10.0.0.1", m);
	expect_error(&f->rs, ask_from(f, 0, tcp_peer("10.0.0.1"), hb), "ESTALE",
		     "another generation");
	m.u.node.gen = 5;
	report(f, "10.0.0.1", m);
	expect_ok(&f->rs, ask_from(f, 0, tcp_peer("10.0.0.1"), hb));
	expect_error(&f->rs, ask_from(f, 0, tcp_peer("10.0.0.1"), heartbeat_msg("n1", 4)), "ESTALE",
		     "generation 4");
	expect_error(&f->rs, ask_from(f, 0, tcp_peer("10.0.0.2"), hb), "ESTALE", "another address");
	expect_error(&f->rs, ask_from(f, USER, tcp_peer("10.0.0.1"), hb), "EPERM", "uid 1000");

	/* the controller ended a lease that state listed: the agent's state
	 * changed too, and the controller wants to see it */
	before = f->nsent;
	rel = ask(f, USER, release_msg(run.id));
	stop = expect_sent(f, before, MSG_EXEC_STOP, "n1");
	node_oks(stop);
	expect_ok(&f->rs, rel);
	expect_error(&f->rs, ask_from(f, 0, tcp_peer("10.0.0.1"), hb), "ESTALE",
		     "no longer holds every lease");
	m.u.node.nleases = 0;
	m.u.node.gen = 6;
	report(f, "10.0.0.1", m);
	expect_ok(&f->rs, ask_from(f, 0, tcp_peer("10.0.0.1"), heartbeat_msg("n1", 6)));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_memory_lease),
	    T(test_lease_placed_and_granted),
	    T(test_local_node),
	    T(test_lease_fits_on_one_node),
	    T(test_agent_refuses),
	    T(test_agent_does_not_answer),
	    T(test_agent_unreachable),
	    T(test_agent_grants_another_lease),
	    T(test_release),
	    T(test_release_fails),
	    T(test_queries),
	    T(test_node_state_from_a_user),
	    T(test_silent_node_is_down),
	    T(test_adoption),
	    T(test_ended_lease),
	    T(test_evicted_before_release),
	    T(test_max_leases_per_user),
	    T(test_max_workers_per_user),
	    T(test_root_and_lease_time),
	    T(test_default_worker_mem),
	    T(test_too_little_worker_mem),
	    T(test_drain),
	    T(test_many_nodes_paged),
	    T(test_leases_filtered),
	    T(test_dead_node_forgotten),
	    T(test_start_grace),
	    T(test_heartbeat_keeps_node),
	    T(test_heartbeat_stale),
	};
#undef T

	return cmocka_run_group_tests_name("controller", tests, NULL, NULL);
}
