/*
 * test_agent: colocd/agent.c, the node agent, on a synthetic node with
 * fake_sandbox.c for cgroups and executors. What users rely on:
 *   - exec_start is granted only once the executor sent its own lease
 *     document (id and token); another document fails the lease;
 *   - a host report that needs a lease's PUs or memory is answered once the
 *     lease's processes are gone (SIGTERM, SIGKILL only after EvictGrace),
 *     a stuck lease gets EBUSY naming it; a report that needs nothing back
 *     is answered at once, even while other leases end;
 *   - reports out of order and missed job ends leave a usable ledger;
 *   - exec_stop answers once the executor is gone; an executor that exits
 *     ends its lease as failed, saying why;
 *   - node_state lists ready and starting leases only, and never offers
 *     what ending leases still hold;
 *   - memory pressure picks the largest executor.
 * Real time is used only in bounded waits (tick until something happens,
 * failing after a few seconds); nothing asserts how long anything took
 * beyond what the agent guarantees (SIGKILL not before EvictGrace).
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "usage.h"
#include "clock.h"
#include "fake_sandbox.h"
#include "lease_doc.h"
#include "replies.h"
#include "report_msgs.h"
#include "topo_helpers.h"

#define GIB (1024ull * 1024 * 1024)
#define NODE_MEM (16 * GIB)
#define SHORT_GRACE_MS 100   /* EvictGrace where a test waits for SIGKILL */
#define LONG_GRACE_MS 600000 /* where the test ends the processes itself */
#define WAIT_MS 30000	     /* bounded waits: a hang, not a loaded machine */

/* 2 packages, each an L3 over 2 cores with private L2s, 2 PUs per core:
 * core i = PUs 2i and 2i+1; package 0 = PUs 0-3, package 1 = PUs 4-7. */
static const char *const node_shape = "package:2 l3:1 l2:2 core:1 pu:2";

struct fixture {
	struct agent *a;
	struct coloc_config cfg;
	char state_dir[64];
	uint64_t cookie; /* the last request's */
	struct replies rs;
};

/* ---- the agent and its replies ------------------------------------------------------- */

static const struct reply *reply_to(const struct fixture *f, uint64_t cookie)
{
	return replies_find(&f->rs, cookie);
}

static uint64_t request(struct fixture *f, struct msg m)
{
	agent_request(f->a, &m, NULL, replies_record, &f->rs, ++f->cookie);
	return f->cookie;
}

static void start_agent(struct fixture *f, unsigned grace_ms, unsigned spares)
{
	char err[512] = "";

	memset(&f->cfg, 0, sizeof(f->cfg));
	snprintf(f->state_dir, sizeof(f->state_dir), "test_agent.XXXXXX");
	assert_non_null(mkdtemp(f->state_dir));
	snprintf(f->cfg.state_dir, sizeof(f->cfg.state_dir), "%s", f->state_dir);
	snprintf(f->cfg.cgroup_root, sizeof(f->cfg.cgroup_root), "coloc-test");
	f->cfg.lend_unallocated = true;
	f->cfg.max_lend_fraction = 1.0;
	f->cfg.batch_step_cores = 1;
	f->cfg.memory_margin = 0; /* never under pressure: MemAvailable is this machine's */
	f->cfg.evict_grace_ms = grace_ms;
	f->cfg.hot_poll_us = 100000;
	f->cfg.spare_executors = spares;
	f->cfg.lease_pids_max = 64;
	f->cfg.lease_log_size = 0;
	f->cfg.ngpus = 2;
	snprintf(f->cfg.gpus[0], sizeof(f->cfg.gpus[0]), "/dev/fake-gpu0");
	snprintf(f->cfg.gpus[1], sizeof(f->cfg.gpus[1]), "/dev/fake-gpu1");
	if (agent_create(&f->cfg, "/fake/faas-executor", "node1", synthetic(node_shape, NODE_MEM),
			 &f->a, err, sizeof(err)) != 0)
		fail_msg("agent_create: %s", err);
}

static int setup_with(void **state, unsigned grace_ms, unsigned spares)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	*state = f;
	start_agent(f, grace_ms, spares);
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, SHORT_GRACE_MS, 0);
}

static int setup_long_grace(void **state)
{
	return setup_with(state, LONG_GRACE_MS, 0);
}

static int setup_spare(void **state)
{
	return setup_with(state, SHORT_GRACE_MS, 1);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fake_sandbox_release_all(); /* or agent_destroy waits for them */
	agent_destroy(f->a);
	fake_sandbox_reset();
	if (f->state_dir[0]) {
		char path[128];

		snprintf(path, sizeof(path), "%s/" USAGE_FILE, f->state_dir);
		unlink(path);
		rmdir(f->state_dir);
	}
	replies_free(&f->rs);
	free(f);
	return 0;
}

/* Ticks the agent until cond holds; fails after WAIT_MS. */
#define TICK_UNTIL(f, cond)                                                                        \
	do {                                                                                       \
		int64_t end_ = clock_ms() + WAIT_MS;                                               \
		while (!(cond)) {                                                                  \
			if (clock_ms() > end_)                                                     \
				fail_msg("%s is still false after %d ms", #cond, WAIT_MS);         \
			agent_tick((f)->a);                                                        \
			clock_sleep_ms(1);                                                         \
		}                                                                                  \
	} while (0)

static void tick_times(struct fixture *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		agent_tick(f->a);
}

/* ---- node_state ---------------------------------------------------------------------- */

static void take_state(struct fixture *f, struct msg *m)
{
	uint64_t upto;

	assert_int_equal(agent_state(f->a, 6831, m, &upto), 0);
	assert_int_equal(m->type, MSG_NODE_STATE);
}

static const struct msg_node_lease *state_lease(const struct msg *m, const char *id)
{
	for (unsigned i = 0; i < m->u.node.nleases; i++)
		if (strcmp(m->u.node.leases[i].id, id) == 0)
			return &m->u.node.leases[i];
	return NULL;
}

/* The lease id ended as state, why holding what. */
static void expect_ended(struct fixture *f, const char *id, const char *state, const char *what)
{
	struct msg m;
	bool found = false;

	take_state(f, &m);
	assert_null(state_lease(&m, id));
	for (unsigned i = 0; i < m.u.node.nended; i++) {
		const struct msg_node_ended *e = &m.u.node.ended[i];

		if (strcmp(e->id, id) != 0)
			continue;
		found = true;
		if (strcmp(e->state, state) != 0 || !strstr(e->why, what))
			fail_msg("%s ended %s (%s), not %s (...%s...)", id, e->state, e->why, state,
				 what);
	}
	msg_free(&m);
	if (!found)
		fail_msg("%s is not among the ended leases", id);
}

/* The host jobs node_state counts. */
static unsigned state_jobs(struct fixture *f)
{
	struct msg m;
	unsigned n;

	take_state(f, &m);
	n = m.u.node.jobs;
	msg_free(&m);
	return n;
}

/* What node_state offers: lendable PUs, lendable memory, lendable GPUs. */
static void expect_offer(struct fixture *f, const char *lendable, uint64_t mem, uint32_t gpus)
{
	struct msg m;

	take_state(f, &m);
	assert_string_equal(m.u.node.lendable, lendable);
	if (m.u.node.mem_lendable != mem)
		fail_msg("mem_lendable is %llu MiB, not %llu MiB",
			 (unsigned long long)(m.u.node.mem_lendable >> 20),
			 (unsigned long long)(mem >> 20));
	assert_int_equal(m.u.node.gpus_lendable, gpus);
	msg_free(&m);
}

/* ---- leases ---------------------------------------------------------------------------- */

static struct msg exec_msg(enum msg_type type, const char *id, const char *pus, uint64_t mem)
{
	struct msg m = {.type = type};

	snprintf(m.u.exec.id, sizeof(m.u.exec.id), "%s", id);
	m.u.exec.uid = m.u.exec.gid = 1000;
	m.u.exec.workers = 1;
	snprintf(m.u.exec.pus, sizeof(m.u.exec.pus), "%s", pus);
	m.u.exec.mem = mem;
	snprintf(m.u.exec.lib, sizeof(m.u.exec.lib), "/fake/lib.so");
	m.u.exec.expires = time(NULL) + 3600;
	return m;
}

/* exec_start of id on pus: its executor is assigned, no reply yet. */
static struct sandbox *start_lease(struct fixture *f, const char *id, const char *pus, uint64_t mem,
				   uint64_t *cookie)
{
	struct sandbox *sb;

	*cookie = request(f, exec_msg(MSG_EXEC_START, id, pus, mem));
	assert_no_reply(&f->rs, *cookie);
	sb = fake_sandbox_find(id);
	assert_non_null(sb);
	assert_true(sb->pid > 0);
	assert_false(sb->destroyed);
	return sb;
}

/* A lease document for id with token, as one line of JSON. */
static char *doc_line(const char *id, const uint8_t token[WIRE_TOKEN_LEN])
{
	struct lease_doc *doc = lease_doc_new(1, 1);
	char *json = NULL, *line;

	assert_non_null(doc);
	snprintf(doc->id, sizeof(doc->id), "%s", id);
	snprintf(doc->provider, sizeof(doc->provider), "tcp");
	snprintf(doc->rung, sizeof(doc->rung), "writedata");
	memcpy(doc->token, token, WIRE_TOKEN_LEN);
	doc->slot_size = 4096;
	snprintf(doc->functions[0].name, sizeof(doc->functions[0].name), "echo");
	doc->workers[0].addr_len = 1;
	doc->workers[0].slots = 1;
	assert_int_equal(lease_doc_encode(doc, &json), 0);
	lease_doc_free(doc);
	line = malloc(strlen(json) + 2);
	assert_non_null(line);
	sprintf(line, "%s\n", json);
	free(json);
	return line;
}

/* The token the agent gave sb's executor (FAAS_TOKEN). */
static void executor_token(const struct sandbox *sb, uint8_t token[WIRE_TOKEN_LEN])
{
	const char *hex = fake_sandbox_env(sb, "FAAS_TOKEN");

	assert_non_null(hex);
	assert_int_equal(lease_hex_decode(hex, token, WIRE_TOKEN_LEN), WIRE_TOKEN_LEN);
}

/* What the executor writes on its channel. */
static void executor_says(const struct sandbox *sb, const char *text, size_t len)
{
	assert_int_equal(send(sb->chan, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* The executor sends the document of the lease it was given. */
static char *send_own_doc(const struct sandbox *sb)
{
	uint8_t token[WIRE_TOKEN_LEN];
	char *line;

	executor_token(sb, token);
	line = doc_line(fake_sandbox_arg(sb, "--id"), token);
	executor_says(sb, line, strlen(line));
	return line;
}

/* A granted lease id on pus. */
static struct sandbox *ready_lease(struct fixture *f, const char *id, const char *pus, uint64_t mem,
				   uint32_t gpus)
{
	struct msg m = exec_msg(MSG_EXEC_START, id, pus, mem);
	uint64_t cookie;
	struct sandbox *sb;
	const struct reply *r;

	m.u.exec.gpus = gpus;
	cookie = request(f, m);
	sb = fake_sandbox_find(id);
	assert_non_null(sb);
	free(send_own_doc(sb));
	TICK_UNTIL(f, reply_to(f, cookie));
	r = reply_to(f, cookie);
	if (r->type != MSG_LEASE_GRANT)
		fail_msg("%s: type %d %s %s, not a grant", id, (int)r->type, r->code, r->message);
	return sb;
}

/* ---- exec_start ------------------------------------------------------------------------ */

static void test_grant_waits_for_the_document(void **state)
{
	struct fixture *f = *state;
	uint64_t cookie;
	struct sandbox *sb = start_lease(f, "lease-1", "0-1", GIB, &cookie);
	uint8_t token[WIRE_TOKEN_LEN];
	const struct reply *r;
	struct msg m;
	size_t half;
	char *line;

	/* the executor runs as the lease says, with the lease's id and a token */
	assert_string_equal(sb->argv[0], "/fake/faas-executor");
	assert_string_equal(fake_sandbox_arg(sb, "--id"), "lease-1");
	assert_string_equal(fake_sandbox_arg(sb, "--cpus"), "0-1");
	assert_string_equal(fake_sandbox_arg(sb, "--lib"), "/fake/lib.so");
	assert_int_equal(strlen(fake_sandbox_env(sb, "FAAS_TOKEN")), 2 * WIRE_TOKEN_LEN);
	assert_mask(&sb->cpus, "0-1");
	assert_true(sb->mem_limit == GIB);
	assert_int_equal(sb->uid, 1000);

	take_state(f, &m);
	assert_int_equal(m.u.node.nleases, 1);
	assert_false(state_lease(&m, "lease-1")->ready);
	assert_int_equal(state_lease(&m, "lease-1")->pid, sb->pid);
	msg_free(&m);

	tick_times(f, 20);
	assert_no_reply(&f->rs, cookie);

	/* the document may come in pieces: the grant waits for its end */
	executor_token(sb, token);
	line = doc_line("lease-1", token);
	half = strlen(line) / 2;
	executor_says(sb, line, half);
	tick_times(f, 20);
	assert_no_reply(&f->rs, cookie);
	executor_says(sb, line + half, strlen(line) - half);
	TICK_UNTIL(f, reply_to(f, cookie));

	r = reply_to(f, cookie);
	assert_int_equal(r->type, MSG_LEASE_GRANT);
	assert_string_equal(r->id, "lease-1");
	line[strlen(line) - 1] = '\0';
	assert_string_equal(r->lease, line);
	free(line);

	take_state(f, &m);
	assert_int_equal(m.u.node.nleases, 1);
	assert_true(state_lease(&m, "lease-1")->ready);
	assert_string_equal(state_lease(&m, "lease-1")->pus, "0-1");
	msg_free(&m);
	assert_int_equal(sb->terminated, 0);
}

/* The executor of lease-1 sends a document naming id, with its own token
 * or another: the lease fails. */
static void refused_document(struct fixture *f, const char *id, bool other_token)
{
	uint64_t cookie;
	struct sandbox *sb = start_lease(f, "lease-1", "0-1", GIB, &cookie);
	uint8_t token[WIRE_TOKEN_LEN];
	char *line;

	executor_token(sb, token);
	if (other_token)
		token[0] ^= 1;
	line = doc_line(id, token);
	executor_says(sb, line, strlen(line));
	free(line);
	TICK_UNTIL(f, reply_to(f, cookie));
	expect_error(&f->rs, cookie, "ECANCELED", "invalid lease document");
	assert_true(sb->terminated > 0);
	TICK_UNTIL(f, sb->destroyed);
	expect_ended(f, "lease-1", "failed", "names another lease or token");
}

static void test_document_with_another_token(void **state)
{
	refused_document(*state, "lease-1", true);
}

static void test_document_of_another_lease(void **state)
{
	refused_document(*state, "lease-2", false);
}

static void test_exec_start_refused(void **state)
{
	struct fixture *f = *state;
	uint64_t cookie;

	expect_ok(&f->rs, request(f, job_start_msg(1, "0", GIB, false)));
	/* the host took core 0 back after the controller placed the lease */
	expect_error(&f->rs, request(f, exec_msg(MSG_EXEC_START, "lease-1", "0-3", GIB)), "EAGAIN",
		     "ask again");
	expect_error(&f->rs, request(f, exec_msg(MSG_EXEC_START, "lease-1", "2-3", NODE_MEM)),
		     "EAGAIN", "ask again");
	expect_error(&f->rs, request(f, exec_msg(MSG_EXEC_START, "lease-1", "not a list", GIB)),
		     "EINVAL", "not a cpu list");
	assert_null(fake_sandbox_find("lease-1"));

	start_lease(f, "lease-1", "2-3", GIB, &cookie);
	expect_error(&f->rs, request(f, exec_msg(MSG_EXEC_START, "lease-1", "4-5", GIB)), "EEXIST",
		     "lease-1");
}

static void test_executor_does_not_start(void **state)
{
	struct fixture *f = *state;
	struct sandbox *sb;

	fake_sandbox_fail_assign(-EIO);
	expect_error(&f->rs, request(f, exec_msg(MSG_EXEC_START, "lease-1", "0-1", GIB)), "EIO",
		     "cannot start the executor");
	sb = fake_sandbox_find("lease-1");
	assert_non_null(sb);
	TICK_UNTIL(f, sb->destroyed);
	expect_ended(f, "lease-1", "failed", "did not start");
	expect_offer(f, "0-7", NODE_MEM, 0x3);
}

static void test_lease_takes_a_spare(void **state)
{
	struct fixture *f = *state;
	uint64_t cookie;

	TICK_UNTIL(f, fake_sandbox_spares_started() == 1);
	start_lease(f, "lease-1", "0-1", GIB, &cookie);
	/* the waiting spare became the executor; another takes its place */
	assert_int_equal(fake_sandbox_spares_started(), 1);
	TICK_UNTIL(f, fake_sandbox_spares_started() == 2);
}

/* ---- the host wins ------------------------------------------------------------------------ */

static void test_report_evicts_a_starting_lease(void **state)
{
	struct fixture *f = *state;
	uint64_t start, report;
	struct sandbox *sb = start_lease(f, "lease-1", "0-1", GIB, &start);
	int64_t t0;

	sb->ignore_term = true;
	t0 = clock_ms();
	report = request(f, job_start_msg(1, "0", GIB, false));
	/* the lease is not granted after all, at once */
	expect_error(&f->rs, start, "ECANCELED", "host job");
	assert_int_equal(sb->terminated, 1);
	assert_int_equal(sb->kills, 0);
	assert_no_reply(&f->rs, report);

	/* its processes ignore SIGTERM: the report waits for SIGKILL */
	TICK_UNTIL(f, reply_to(f, report));
	expect_ok(&f->rs, report);
	assert_true(sb->kills > 0);
	assert_true(sb->killed_ms - t0 >= SHORT_GRACE_MS);
	assert_true(sb->destroyed);
	expect_ended(f, "lease-1", "evicted", "host job");
}

static void test_report_evicts_a_ready_lease(void **state)
{
	struct fixture *f = *state;
	struct sandbox *sb = ready_lease(f, "lease-1", "2-3", GIB, 0);
	uint64_t report;

	/* a consenting job lends its idle cores: the lease stays */
	expect_ok(&f->rs, request(f, job_start_msg(1, "0-1", GIB, true)));
	expect_ok(&f->rs, request(f, step_msg(MSG_STEP_START, 1, 0, "0")));
	assert_int_equal(sb->terminated, 0);

	/* its step on the lease's core: the lease goes first (SIGTERM is enough) */
	report = request(f, step_msg(MSG_STEP_START, 1, 1, "1"));
	assert_int_equal(sb->terminated, 1);
	TICK_UNTIL(f, reply_to(f, report));
	expect_ok(&f->rs, report);
	assert_int_equal(sb->kills, 0);
	assert_true(sb->destroyed);
	expect_ended(f, "lease-1", "evicted", "host job");
}

/* An ended lease leaves its usage record in StateDir/usage.jsonl and in
 * node_state: who, which host job's PUs, how long, why it ended. */
static void test_usage_record(void **state)
{
	struct fixture *f = *state;
	struct msg m = exec_msg(MSG_EXEC_STOP, "lease-1", "", 0), st;
	char path[128], line[4096], err[256];
	struct msg_usage u;
	int64_t before = time(NULL);
	uint64_t stop;
	FILE *in;

	expect_ok(&f->rs, request(f, job_start_msg(1, "0-1", GIB, true)));
	ready_lease(f, "lease-1", "2-3", GIB, 0);
	stop = request(f, m);
	TICK_UNTIL(f, reply_to(f, stop));
	expect_ok(&f->rs, stop);

	snprintf(path, sizeof(path), "%s/" USAGE_FILE, f->state_dir);
	in = fopen(path, "r");
	assert_non_null(in);
	assert_non_null(fgets(line, sizeof(line), in));
	assert_null(fgets(line + strlen(line), (int)(sizeof(line) - strlen(line)), in));
	fclose(in);
	if (msg_usage_decode(line, &u, err, sizeof(err)) != 0)
		fail_msg("%s: %s", line, err);
	assert_string_equal(u.id, "lease-1");
	assert_int_equal(u.uid, 1000);
	assert_string_equal(u.host_jobs, "1:1001:2"); /* job 1's PUs 2-3, owner uid 1001 */
	assert_string_equal(u.node, "node1");
	assert_int_equal(u.cores, 2);
	assert_string_equal(u.pus, "2-3");
	assert_true(u.mem == GIB);
	assert_true(u.start >= before - 1 && u.start <= u.end && u.end <= time(NULL));
	assert_true(u.core_seconds <= 2 * (uint64_t)(u.end - u.start + 1));
	assert_string_equal(u.state, "released");
	assert_false(u.calls_known); /* the fake executor says nothing */

	/* and the controller gets it with the lease's end */
	take_state(f, &st);
	assert_int_equal(st.u.node.nended, 1);
	assert_true(st.u.node.ended[0].has_usage);
	assert_memory_equal(&st.u.node.ended[0].usage, &u, sizeof(u));
	msg_free(&st);
}

/* Ends with their records go to the controller 8 at a time, oldest first,
 * each once the controller took the one before. */
static void test_ended_in_batches(void **state)
{
	struct fixture *f = *state;
	struct msg st;
	uint64_t upto;
	char id[16];

	for (unsigned i = 0; i < 10; i++) {
		uint64_t stop;

		snprintf(id, sizeof(id), "lease-%u", i);
		ready_lease(f, id, "0", GIB, 0);
		stop = request(f, exec_msg(MSG_EXEC_STOP, id, "", 0));
		TICK_UNTIL(f, reply_to(f, stop));
	}
	assert_int_equal(agent_state(f->a, 6831, &st, &upto), 0);
	assert_int_equal(st.u.node.nended, 8);
	assert_string_equal(st.u.node.ended[0].id, "lease-0");
	assert_string_equal(st.u.node.ended[7].id, "lease-7");
	assert_true(agent_dirty(f->a)); /* the rest follow at once */
	msg_free(&st);
	agent_state_taken(f->a, upto);
	assert_int_equal(agent_state(f->a, 6831, &st, &upto), 0);
	assert_int_equal(st.u.node.nended, 2);
	assert_string_equal(st.u.node.ended[1].id, "lease-9");
	assert_true(st.u.node.ended[1].has_usage);
	assert_false(agent_dirty(f->a));
	msg_free(&st);
}

static void test_report_needing_nothing_is_answered_at_once(void **state)
{
	struct fixture *f = *state;
	struct sandbox *sb = ready_lease(f, "lease-1", "0-1", GIB, 0);
	uint64_t stop, report;

	sb->ignore_term = true;
	stop = request(f, exec_msg(MSG_EXEC_STOP, "lease-1", "", 0));
	assert_no_reply(&f->rs, stop);

	/* lease-1 is ending; reports that need none of it are answered now,
	 * without a tick */
	expect_ok(&f->rs, request(f, job_start_msg(1, "3", GIB, false)));
	expect_ok(&f->rs, request(f, step_msg(MSG_STEP_START, 1, 0, "3")));
	expect_error(&f->rs, request(f, step_msg(MSG_STEP_START, 2, 0, "2")), "ENOENT", "job 2");

	/* one that needs its PUs waits for it, as does the stop */
	report = request(f, job_start_msg(2, "0", GIB, false));
	tick_times(f, 20);
	assert_no_reply(&f->rs, report);
	assert_no_reply(&f->rs, stop);

	sb->nprocs = 0; /* its executor exits, late */
	TICK_UNTIL(f, reply_to(f, report) && reply_to(f, stop));
	expect_ok(&f->rs, report);
	expect_ok(&f->rs, stop);
	assert_int_equal(sb->kills, 0);
}

static void test_reports_out_of_order(void **state)
{
	struct fixture *f = *state;
	struct sandbox *sb = ready_lease(f, "lease-1", "4-5", GIB, 0);

	expect_error(&f->rs, request(f, step_msg(MSG_STEP_START, 7, 0, "0")), "ENOENT",
		     "job 7 was not reported");
	expect_ok(&f->rs, request(f, step_msg(MSG_STEP_END, 7, 0, "")));
	expect_ok(&f->rs, request(f, job_end_msg(7)));
	assert_int_equal(state_jobs(f), 0);

	expect_ok(&f->rs, request(f, job_start_msg(7, "0", GIB, true)));
	expect_ok(&f->rs, request(f, step_msg(MSG_STEP_START, 7, 0, "0")));
	/* the step's end comes after its job's: no harm done */
	expect_ok(&f->rs, request(f, job_end_msg(7)));
	expect_ok(&f->rs, request(f, step_msg(MSG_STEP_END, 7, 0, "")));
	expect_offer(f, "0-7", NODE_MEM, 0x3);
	assert_int_equal(sb->terminated, 0);
}

static void test_missed_job_end(void **state)
{
	struct fixture *f = *state;

	expect_ok(&f->rs, request(f, job_start_msg(1, "0-1", 4 * GIB, false)));
	expect_offer(f, "4-7", NODE_MEM - 4 * GIB, 0x3);
	/* job 1 ended unreported: Slurm gave core 1 to job 2 */
	expect_ok(&f->rs, request(f, job_start_msg(2, "1-2", 2 * GIB, false)));
	expect_offer(f, "0-1,6-7", NODE_MEM - 2 * GIB, 0x3);
	assert_int_equal(state_jobs(f), 1);
}

static void test_host_memory_evicts_largest(void **state)
{
	struct fixture *f = *state;
	struct sandbox *small = ready_lease(f, "lease-1", "0-1", 2 * GIB, 0);
	struct sandbox *big = ready_lease(f, "lease-2", "2-3", 8 * GIB, 0);
	uint64_t report;

	/* 16 GiB - 8 GiB for the job leaves 8: lease-2 (8 GiB) goes, lease-1 stays */
	report = request(f, job_start_msg(1, "3", 8 * GIB, false));
	TICK_UNTIL(f, reply_to(f, report));
	expect_ok(&f->rs, report);
	assert_true(big->destroyed);
	assert_int_equal(small->terminated, 0);
	expect_ended(f, "lease-2", "evicted", "memory");
}

/* A memory lease: started fresh (the waiting spare stays for calls) with
 * --remote-mem and --evict-grace, in a cgroup of its memory, on the
 * lendable PUs; it holds no PU, so steps do not evict it, and memory the
 * host takes back does. */
static void test_memory_lease(void **state)
{
	struct fixture *f = *state;
	struct msg m = exec_msg(MSG_EXEC_START, "lease-1", "", 4 * GIB + (64u << 20));
	struct sandbox *sb;
	uint64_t cookie, report;
	struct cpumask all;

	TICK_UNTIL(f, fake_sandbox_spares_started() == 1);
	m.u.exec.workers = 0;
	m.u.exec.lib[0] = '\0';
	m.u.exec.remote_mem = 4 * GIB;
	cookie = request(f, m);
	sb = fake_sandbox_find("lease-1");
	assert_non_null(sb);
	assert_int_equal(fake_sandbox_spares_started(), 2); /* its own, not the spare */
	assert_string_equal(fake_sandbox_arg(sb, "--remote-mem"), "4294967296");
	assert_string_equal(fake_sandbox_arg(sb, "--evict-grace"), "100");
	assert_string_equal(fake_sandbox_arg(sb, "--id"), "lease-1");
	assert_null(fake_sandbox_arg(sb, "--lib"));
	assert_null(fake_sandbox_arg(sb, "--workers"));
	assert_true(sb->mem_limit == 4 * GIB + (64u << 20));
	assert_int_equal(cpumask_parse("0-7", &all), 0);
	assert_true(cpumask_equal(&sb->cpus, &all));
	free(send_own_doc(sb));
	TICK_UNTIL(f, reply_to(f, cookie));
	assert_int_equal(reply_to(f, cookie)->type, MSG_LEASE_GRANT);
	tick_times(f, 5);
	assert_int_equal(fake_sandbox_spares_started(), 2); /* the spare still waits */
	expect_offer(f, "0-7", NODE_MEM, 0x3);		    /* the gap, leases not subtracted */

	/* a job and its step on every PU leave it be */
	expect_ok(&f->rs, request(f, job_start_msg(1, "0-3", GIB, true)));
	assert_int_equal(sb->cpus_moved, 0);
	/* a step on core 0: the executor moves off its PUs */
	expect_ok(&f->rs, request(f, step_msg(MSG_STEP_START, 1, 0, "0")));
	assert_int_equal(sb->terminated, 0);
	assert_int_equal(sb->cpus_moved, 1);
	assert_false(cpumask_test(&sb->cpus, 0));
	assert_false(cpumask_empty(&sb->cpus));
	/* on every core: nothing is lendable, it stays where no step runs, or anywhere */
	expect_ok(&f->rs, request(f, step_msg(MSG_STEP_START, 1, 1, "1-3")));
	assert_int_equal(sb->terminated, 0);
	expect_ok(&f->rs, request(f, job_end_msg(1)));
	assert_true(cpumask_equal(&sb->cpus, &all)); /* back on the lendable PUs */
	/* a job that needs the memory evicts it */
	report = request(f, job_start_msg(2, "0", 12 * GIB, false));
	assert_int_equal(sb->terminated, 1);
	TICK_UNTIL(f, reply_to(f, report));
	expect_ok(&f->rs, report);
	assert_true(sb->destroyed);
	expect_ended(f, "lease-1", "evicted", "memory");
}

/* ---- exec_stop and exits --------------------------------------------------------------------- */

static void test_exec_stop_waits_for_the_executor(void **state)
{
	struct fixture *f = *state;
	struct sandbox *sb = ready_lease(f, "lease-1", "0-1", GIB, 0);
	struct msg m = exec_msg(MSG_EXEC_STOP, "lease-1", "", 0);
	uint64_t stop;

	sb->ignore_term = true;
	stop = request(f, m);
	assert_int_equal(sb->terminated, 1);
	tick_times(f, 20);
	assert_no_reply(&f->rs, stop);
	assert_false(sb->destroyed);

	sb->nprocs = 0;
	TICK_UNTIL(f, reply_to(f, stop));
	expect_ok(&f->rs, stop);
	assert_true(sb->destroyed);
	assert_int_equal(sb->kills, 0);
	expect_ended(f, "lease-1", "released", "released by its owner");

	expect_error(&f->rs, request(f, m), "ENOENT", "node1");
	expect_error(&f->rs, request(f, exec_msg(MSG_EXEC_STOP, "lease-9", "", 0)), "ENOENT",
		     "lease-9");
}

static void test_executor_exits(void **state)
{
	static const struct {
		int status;
		bool oom;
		const char *code, *why;
	} exits[] = {
	    {7 << 8, false, "ECANCELED", "its executor exited with status 7"},
	    {SIGSEGV, false, "ECANCELED", "its executor was killed by signal 11"},
	    {SIGKILL, true, "ECANCELED", "exceeded the lease's memory (1024 MiB)"},
	    {SPARE_EXIT_NO_ACCOUNT << 8, false, "EINVAL", "uid 1000 has no account on node1"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(exits) / sizeof(exits[0]); i++) {
		char id[16];
		uint64_t start;
		struct sandbox *sb;

		snprintf(id, sizeof(id), "lease-%zu", i);
		sb = start_lease(f, id, "0-1", GIB, &start);
		sb->state.oom_killed = exits[i].oom;
		fake_sandbox_exit(sb, exits[i].status);
		TICK_UNTIL(f, reply_to(f, start));
		expect_error(&f->rs, start, exits[i].code, exits[i].why);
		TICK_UNTIL(f, sb->destroyed);
		expect_ended(f, id, "failed", exits[i].why);
	}
}

static void test_ready_executor_exits(void **state)
{
	struct fixture *f = *state;
	struct sandbox *sb = ready_lease(f, "lease-1", "0-1", GIB, 0);
	unsigned nreplies = f->rs.n;

	fake_sandbox_exit(sb, 1 << 8);
	TICK_UNTIL(f, sb->destroyed);
	expect_ended(f, "lease-1", "failed", "exited with status 1");
	assert_int_equal(f->rs.n, nreplies); /* its grant was its one reply */
	expect_offer(f, "0-7", NODE_MEM, 0x3);
}

/* ---- stuck leases and node_state --------------------------------------------------------- */

static void test_stuck_lease(void **state)
{
	struct fixture *f = *state;
	struct sandbox *sb = ready_lease(f, "lease-1", "0-1", 8 * GIB, 0);
	uint64_t report;
	struct msg s;

	/* the job leaves 4 GiB to lend: lease-1 (8 GiB) must go, and its
	 * processes survive SIGKILL */
	sb->ignore_term = sb->ignore_kill = true;
	report = request(f, job_start_msg(1, "3", 12 * GIB, false));
	TICK_UNTIL(f, reply_to(f, report));
	expect_error(&f->rs, report, "EBUSY", "lease-1");
	assert_true(sb->kills > 0);
	assert_false(sb->destroyed);

	/* meanwhile its PUs and memory are not offered, nor is it listed */
	take_state(f, &s);
	assert_null(state_lease(&s, "lease-1"));
	msg_free(&s);
	expect_offer(f, "2-5", 0, 0x3);

	/* a later report that needs it is told too, at once */
	report = request(f, job_start_msg(2, "0", GIB, false));
	assert_true(reply_to(f, report));
	expect_error(&f->rs, report, "EBUSY", "lease-1");
	report = request(f, job_end_msg(2));
	assert_true(reply_to(f, report));

	/* once its processes are gone, all is offered again */
	sb->ignore_kill = false;
	TICK_UNTIL(f, sb->destroyed);
	expect_offer(f, "0-5", 4 * GIB, 0x3);
	expect_ended(f, "lease-1", "evicted", "memory");
}

static void test_ending_leases_not_offered(void **state)
{
	struct fixture *f = *state;
	struct sandbox *sb = ready_lease(f, "lease-1", "0-1", 2 * GIB, 0x1);
	uint64_t stop;
	struct msg s;

	ready_lease(f, "lease-2", "4-5", GIB, 0);
	/* what leases hold stays in the offer: the controller subtracts it */
	take_state(f, &s);
	assert_int_equal(s.u.node.nleases, 2);
	msg_free(&s);
	expect_offer(f, "0-7", NODE_MEM, 0x3);

	sb->ignore_term = true;
	stop = request(f, exec_msg(MSG_EXEC_STOP, "lease-1", "", 0));
	take_state(f, &s);
	assert_int_equal(s.u.node.nleases, 1);
	assert_non_null(state_lease(&s, "lease-2"));
	assert_string_equal(s.u.node.unallocated, "2-7");
	msg_free(&s);
	expect_offer(f, "2-7", NODE_MEM - 2 * GIB, 0x2);

	sb->nprocs = 0;
	TICK_UNTIL(f, reply_to(f, stop));
	expect_offer(f, "0-7", NODE_MEM, 0x3);
}

static void test_near_host(void **state)
{
	struct fixture *f = *state;
	struct msg s;

	/* a consenting job on package 0 runs a step on core 0: its core 1
	 * (PUs 2-3) is lent, next to the step (one L3) */
	expect_ok(&f->rs, request(f, job_start_msg(1, "0-1", 4 * GIB, true)));
	expect_ok(&f->rs, request(f, step_msg(MSG_STEP_START, 1, 0, "0")));
	take_state(f, &s);
	assert_string_equal(s.u.node.lendable, "2-7");
	assert_string_equal(s.u.node.unallocated, "4-7");
	assert_string_equal(s.u.node.near_host, "2-3");
	msg_free(&s);
}

/* ---- memory pressure ------------------------------------------------------------------------ */

static void test_pressure_pick(void **state)
{
	const uint64_t usage[] = {3 * GIB, UINT64_MAX, 5 * GIB, 1 * GIB};
	const uint64_t none[] = {UINT64_MAX, UINT64_MAX};

	(void)state;
	/* below the margin, the largest usage goes; UINT64_MAX is no candidate */
	assert_int_equal(agent_pressure_pick(usage, 4, GIB / 2, GIB), 2);
	assert_int_equal(agent_pressure_pick(usage, 2, 0, GIB), 0);
	assert_int_equal(agent_pressure_pick(none, 2, 0, GIB), -1);
	/* at or above the margin, or MemAvailable unknown: nobody */
	assert_int_equal(agent_pressure_pick(usage, 4, GIB, GIB), -1);
	assert_int_equal(agent_pressure_pick(usage, 4, 2 * GIB, GIB), -1);
	assert_int_equal(agent_pressure_pick(usage, 4, UINT64_MAX, GIB), -1);
	assert_int_equal(agent_pressure_pick(usage, 0, 0, GIB), -1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define T_LONG(fn) cmocka_unit_test_setup_teardown(fn, setup_long_grace, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_grant_waits_for_the_document),
	    T(test_document_with_another_token),
	    T(test_document_of_another_lease),
	    T(test_exec_start_refused),
	    T(test_executor_does_not_start),
	    cmocka_unit_test_setup_teardown(test_lease_takes_a_spare, setup_spare, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_lease, setup_spare, teardown),
	    T(test_report_evicts_a_starting_lease),
	    T(test_report_evicts_a_ready_lease),
	    T(test_usage_record),
	    T(test_ended_in_batches),
	    T_LONG(test_report_needing_nothing_is_answered_at_once),
	    T(test_reports_out_of_order),
	    T(test_missed_job_end),
	    T(test_host_memory_evicts_largest),
	    T_LONG(test_exec_stop_waits_for_the_executor),
	    T(test_executor_exits),
	    T(test_ready_executor_exits),
	    T(test_stuck_lease),
	    T_LONG(test_ending_leases_not_offered),
	    T(test_near_host),
	    cmocka_unit_test(test_pressure_pick),
	};
#undef T
#undef T_LONG

	return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}
