/*
 * test_msg: common/msg.c, the control plane's messages. Every type round
 * trips; decoding refuses, with a message naming the field, everything a
 * peer could get wrong: not JSON, not an object, another protocol version,
 * an unknown type or field, a missing, mistyped or out-of-range field, a
 * relative library path, a cpu list with other characters, a NUL inside a
 * string, a duplicate key; a lease_acquire takes lease_rules.h's limits
 * and nothing past them. A node_state's arrays are bounded, their
 * elements as strict as a message and their errors name the element; lease
 * ids and node names cannot name another directory. Run under valgrind to
 * see that a refused node_state frees what it had decoded.
 *
 * A query's result: rows of every kind round trip field for field, travel
 * with their fields in a fixed order (scripts grep colocctl --json), and
 * are refused, naming the element and the field, when a row is not an
 * object, lacks a field or has an unknown one, a state, range, list or name
 * that is wrong, or there are too many; the builder stops at the bound;
 * cells are text as colocctl prints them. Pages written directly are the
 * JSON library's bytes (escapes included), stay within their limit with
 * the row that does not fit going whole to the next page, write bytes
 * that are not UTF-8 as U+FFFD; the direct reader of results answers as
 * the JSON library's decoder does, rows or error, for every text tried.
 *
 * The digest a credential is bound to (issue 11 defect 1): the sender's
 * msg_digest equals what the receiver's msg_decode computes, for every
 * kind of message; it is the SHA-256 of the canonical text (keys sorted,
 * compact, ASCII) without "cred", so key order, blanks, escapes and the
 * credential itself do not change it, and any field does.
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

#include <cmocka.h>

#include "msg.h"
#include "sha256.h"

static void fill_usage(struct msg_usage *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->id, sizeof(u->id), "lease-3-77");
	u->uid = 1000;
	snprintf(u->user, sizeof(u->user), "alice");
	u->job = 41;
	snprintf(u->host_jobs, sizeof(u->host_jobs), "40:1001:2,42:1002:1");
	snprintf(u->node, sizeof(u->node), "node1");
	u->cores = 4;
	snprintf(u->pus, sizeof(u->pus), "4-7");
	u->mem = 1ull << 30;
	u->gpus = 1;
	u->start = 1795457000;
	u->end = 1795457060;
	u->core_seconds = 240;
	u->gb_seconds = 60;
	u->gpu_seconds = 60;
	u->calls = 99;
	u->calls_known = true;
	snprintf(u->state, sizeof(u->state), "evicted");
	snprintf(u->why, sizeof(u->why), "host job 40 needs its cores");
}

static struct msg round_trip(const struct msg *in)
{
	char *text = NULL, err[256] = "";
	struct msg out;

	assert_int_equal(msg_encode(in, &text), 0);
	if (msg_decode(text, &out, err, sizeof(err)) != 0)
		fail_msg("decoding %s: %s", text, err);
	free(text);
	assert_int_equal(out.type, in->type);
	return out;
}

static void test_round_trips(void **state)
{
	struct msg m = {.type = MSG_LEASE_ACQUIRE}, out;

	(void)state;
	snprintf(m.cred, sizeof(m.cred), "MUNGE:abc");
	m.u.acquire.workers = 8;
	snprintf(m.u.acquire.lib, sizeof(m.u.acquire.lib), "/opt/f.so");
	m.u.acquire.mem = 1ull << 30;
	m.u.acquire.gpus = 2;
	m.u.acquire.time = 600;
	m.u.acquire.pack = true;
	m.u.acquire.job = 4242;
	out = round_trip(&m);
	assert_string_equal(out.cred, "MUNGE:abc");
	assert_int_equal(out.u.acquire.workers, 8);
	assert_string_equal(out.u.acquire.lib, "/opt/f.so");
	assert_true(out.u.acquire.mem == 1ull << 30);
	assert_int_equal(out.u.acquire.gpus, 2);
	assert_int_equal(out.u.acquire.time, 600);
	assert_true(out.u.acquire.pack);
	assert_int_equal(out.u.acquire.job, 4242);

	memset(&m, 0, sizeof(m));
	m.type = MSG_JOB_START;
	m.u.job_start.job = 7;
	m.u.job_start.uid = 1000;
	snprintf(m.u.job_start.pus, sizeof(m.u.job_start.pus), "0-3,8");
	m.u.job_start.mem = 4ull << 30;
	m.u.job_start.mem_need = 1ull << 30;
	m.u.job_start.gpus = 0x5;
	m.u.job_start.consent = true;
	m.u.job_start.end = 1795457874;
	out = round_trip(&m);
	assert_int_equal(out.u.job_start.job, 7);
	assert_int_equal(out.u.job_start.uid, 1000);
	assert_string_equal(out.u.job_start.pus, "0-3,8");
	assert_true(out.u.job_start.mem == 4ull << 30 && out.u.job_start.mem_need == 1ull << 30);
	assert_int_equal(out.u.job_start.gpus, 5);
	assert_true(out.u.job_start.consent);
	assert_true(out.u.job_start.end == 1795457874);

	memset(&m, 0, sizeof(m));
	m.type = MSG_STEP_START;
	m.u.step.job = 7;
	m.u.step.step = 0;
	snprintf(m.u.step.pus, sizeof(m.u.step.pus), "1");
	out = round_trip(&m);
	assert_int_equal(out.u.step.job, 7);
	assert_string_equal(out.u.step.pus, "1");
	m.type = MSG_STEP_END;
	out = round_trip(&m);
	assert_int_equal(out.u.step.job, 7);
	memset(&m, 0, sizeof(m));
	m.type = MSG_JOB_END;
	m.u.job_end = 9;
	assert_int_equal(round_trip(&m).u.job_end, 9);

	memset(&m, 0, sizeof(m));
	m.type = MSG_LEASE_GRANT;
	snprintf(m.u.grant.id, sizeof(m.u.grant.id), "lease-1");
	m.u.grant.lease = strdup("{\"v\":1,\"type\":\"lease\"}");
	out = round_trip(&m);
	assert_string_equal(out.u.grant.id, "lease-1");
	assert_string_equal(out.u.grant.lease, "{\"v\":1,\"type\":\"lease\"}");
	msg_free(&out);
	msg_free(&m);

	memset(&m, 0, sizeof(m));
	m.type = MSG_QUERY;
	snprintf(m.cred, sizeof(m.cred), "c");
	m.u.query = MSG_QUERY_USAGE;
	m.filter = (struct msg_usage_filter){.by = MSG_BY_HOST_JOB,
					     .since = 1795457000,
					     .has_user = true,
					     .user = 7,
					     .host_job = 40};
	out = round_trip(&m);
	assert_int_equal(out.u.query, MSG_QUERY_USAGE);
	assert_memory_equal(&out.filter, &m.filter, sizeof(m.filter));
	m.filter = (struct msg_usage_filter){0};
	m.u.query = MSG_QUERY_EXECUTORS;
	assert_int_equal(round_trip(&m).u.query, MSG_QUERY_EXECUTORS);
	m.type = MSG_LEASE_RELEASE;
	snprintf(m.u.release.id, sizeof(m.u.release.id), "lease-1");
	assert_string_equal(round_trip(&m).u.release.id, "lease-1");
	msg_error(&m, "ENOSPC", "largest gap: %d cores", 6);
	out = round_trip(&m);
	assert_string_equal(out.u.error.code, "ENOSPC");
	assert_string_equal(out.u.error.message, "largest gap: 6 cores");
	memset(&m, 0, sizeof(m));
	m.type = MSG_OK;
	round_trip(&m);
	{ /* written without a tree: the text any other message's header has */
		char *text = NULL;

		assert_int_equal(msg_encode(&m, &text), 0);
		assert_string_equal(text, "{\"v\":1,\"type\":\"ok\"}");
		free(text);
	}
	m.type = MSG_RESULT;
	m.u.result.what = MSG_QUERY_LEASES;
	out = round_trip(&m); /* no rows */
	assert_int_equal(out.u.result.what, MSG_QUERY_LEASES);
	assert_int_equal(out.u.result.nrows, 0);
	assert_null(out.u.result.rows);
}

/* decode must refuse text with -EPROTO and a message mentioning what. */
static void refuse(const char *text, const char *what)
{
	char err[512] = "";
	struct msg m;

	assert_int_equal(msg_decode(text, &m, err, sizeof(err)), -EPROTO);
	if (!strstr(err, what))
		fail_msg("decoding %s: error \"%s\" does not mention \"%s\"", text, err, what);
}

#define ACQ(extra)                                                                                 \
	"{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"c\",\"workers\":2,\"lib\":\"/f.so\","      \
	"\"mem\":0,\"gpus\":0,\"time\":60,\"mode\":\"spread\",\"job\":0" extra "}"

static void test_refusals(void **state)
{
	char err[256];
	struct msg m;

	(void)state;
	assert_int_equal(msg_decode(ACQ(""), &m, err, sizeof(err)), 0);
	refuse("not json", "JSON");
	refuse("[1,2]", "object");
	refuse("{\"type\":\"ok\"}", "\"v\"");
	refuse("{\"v\":2,\"type\":\"ok\"}", "\"v\"");
	refuse("{\"v\":1,\"type\":\"launch_missiles\"}", "launch_missiles");
	refuse("{\"v\":1,\"type\":7}", "\"type\"");
	refuse(ACQ(",\"extra\":1"), "unknown field \"extra\"");
	refuse("{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"c\"}", "\"workers\"");
	refuse("{\"v\":1,\"v\":1,\"type\":\"ok\"}", "JSON"); /* duplicate key */
	refuse("{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"c\",\"workers\":0,\"lib\":\"/f.so\","
	       "\"mem\":0,\"gpus\":0,\"time\":60,\"mode\":\"spread\",\"job\":0}",
	       "\"workers\" is 0");
	refuse("{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"c\",\"workers\":5000,\"lib\":\"/f."
	       "so\",\"mem\":0,\"gpus\":0,\"time\":60,\"mode\":\"spread\",\"job\":0}",
	       "\"workers\"");
	refuse("{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"c\",\"workers\":\"2\",\"lib\":\"/f."
	       "so\",\"mem\":0,\"gpus\":0,\"time\":60,\"mode\":\"spread\",\"job\":0}",
	       "\"workers\" must be an integer");
	refuse("{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"c\",\"workers\":2,\"lib\":\"f.so\","
	       "\"mem\":0,\"gpus\":0,\"time\":60,\"mode\":\"spread\",\"job\":0}",
	       "absolute");
	refuse("{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"c\",\"workers\":2,\"lib\":\"/f.so\","
	       "\"mem\":-1,\"gpus\":0,\"time\":60,\"mode\":\"spread\",\"job\":0}",
	       "\"mem\"");
	refuse("{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"c\",\"workers\":2,\"lib\":\"/f.so\","
	       "\"mem\":0,\"gpus\":0,\"time\":0,\"mode\":\"spread\",\"job\":0}",
	       "\"time\"");
	refuse("{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"c\",\"workers\":2,\"lib\":\"/f.so\","
	       "\"mem\":0,\"gpus\":0,\"time\":60,\"mode\":\"scatter\",\"job\":0}",
	       "\"mode\"");
	refuse("{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"\",\"workers\":2,\"lib\":\"/f.so\","
	       "\"mem\":0,\"gpus\":0,\"time\":60,\"mode\":\"spread\",\"job\":0}",
	       "\"cred\"");
	refuse("{\"v\":1,\"type\":\"job_start\",\"job\":1,\"uid\":0,\"pus\":\"0-3;rm\",\"mem\":0,"
	       "\"mem_need\":0,\"gpus\":0,\"consent\":true,\"end\":0}",
	       "cpu list");
	refuse("{\"v\":1,\"type\":\"job_start\",\"job\":1,\"uid\":0,\"pus\":\"0\",\"mem\":0,"
	       "\"mem_need\":0,\"gpus\":0,\"consent\":1,\"end\":0}",
	       "\"consent\"");
	refuse("{\"v\":1,\"type\":\"job_end\",\"job\":0}", "\"job\"");
	refuse("{\"v\":1,\"type\":\"lease_release\",\"cred\":\"c\",\"id\":\"a\\u0000b\"}", "NUL");
	refuse("{\"v\":1,\"type\":\"lease_grant\",\"id\":\"x\",\"lease\":\"{}\"}", "\"lease\"");
	refuse("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":\"secrets\"}", "\"what\"");
	refuse("{\"v\":1,\"type\":\"result\",\"what\":\"leases\",\"items\":{}}", "\"items\"");
}

static void fill_lease(struct msg_node_lease *l, const char *id, bool ready)
{
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->uid = 1000;
	l->workers = 4;
	snprintf(l->pus, sizeof(l->pus), "4-7");
	l->mem = 8ull << 30;
	l->gpus = 0x2;
	l->expires = 1795457874;
	l->ready = ready;
	l->pid = ready ? 4242 : 0;
}

static void fill_node(struct msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = MSG_NODE_STATE;
	snprintf(m->cred, sizeof(m->cred), "MUNGE:abc");
	snprintf(m->u.node.node, sizeof(m->u.node.node), "node-01.cluster_a");
	m->u.node.port = 65535;
	snprintf(m->u.node.pus, sizeof(m->u.node.pus), "0-63");
	m->u.node.mem = 1ull << 40;
	m->u.node.ngpus = 4;
	snprintf(m->u.node.lendable, sizeof(m->u.node.lendable), "8-63");
	snprintf(m->u.node.unallocated, sizeof(m->u.node.unallocated), "16-31");
	snprintf(m->u.node.cgroup, sizeof(m->u.node.cgroup), "coloc");
	m->u.node.mem_lendable = 256ull << 30;
	m->u.node.gpus_lendable = 0xc;
	m->u.node.until = 1795457874;
	m->u.node.jobs = 3;
}

/* A lease_acquire's text with these values. */
static void acquire_text(char *out, size_t len, uint64_t workers, uint64_t mem, uint64_t gpus,
			 uint64_t time)
{
	snprintf(out, len,
		 "{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"c\",\"workers\":%llu,\"lib\":"
		 "\"/f.so\",\"mem\":%llu,\"gpus\":%llu,\"time\":%llu,\"mode\":\"spread\","
		 "\"job\":0}",
		 (unsigned long long)workers, (unsigned long long)mem, (unsigned long long)gpus,
		 (unsigned long long)time);
}

/* lease_acquire takes lease_rules.h's limits, and not one past them. */
static void test_acquire_limits(void **state)
{
	const uint64_t w = 4096, mem = 1ull << 50, g = 64, t = 366 * 86400ull;
	char text[512], err[256] = "";
	struct msg m;

	(void)state;
	assert_int_equal(LEASE_MAX_WORKERS, w);
	assert_true(LEASE_MAX_MEM == mem);
	assert_int_equal(LEASE_MAX_GPUS, g);
	assert_int_equal(LEASE_MAX_TIME_S, t);
	acquire_text(text, sizeof(text), w, mem, g, t);
	if (msg_decode(text, &m, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(m.u.acquire.workers, w);
	assert_true(m.u.acquire.mem == mem);
	assert_int_equal(m.u.acquire.gpus, g);
	assert_int_equal(m.u.acquire.time, t);
	acquire_text(text, sizeof(text), w + 1, mem, g, t);
	refuse(text, "\"workers\" is 4097, outside 0..4096");
	acquire_text(text, sizeof(text), w, mem + 1, g, t);
	refuse(text, "\"mem\" is 1125899906842625, outside 0..1125899906842624");
	acquire_text(text, sizeof(text), w, mem, g + 1, t);
	refuse(text, "\"gpus\" is 65, outside 0..64");
	acquire_text(text, sizeof(text), w, mem, g, t + 1);
	refuse(text, "\"time\" is 31622401, outside 1..31622400");
}

static void test_node_state_round_trip(void **state)
{
	struct msg_node_lease leases[2];
	struct msg_node_ended ended = {.id = "lease-0-77", .state = "evicted", .why = "host job 7"};
	struct msg m, out;

	(void)state;
	ended.has_usage = true;
	fill_usage(&ended.usage);
	fill_node(&m);
	memset(leases, 0, sizeof(leases));
	fill_lease(&leases[0], "lease-1-77", true);
	fill_lease(&leases[1], "lease-2-77", false);
	m.u.node.nleases = 2;
	m.u.node.leases = leases;
	m.u.node.nended = 1;
	m.u.node.ended = &ended;
	out = round_trip(&m);
	assert_string_equal(out.cred, "MUNGE:abc");
	assert_string_equal(out.u.node.node, "node-01.cluster_a");
	assert_int_equal(out.u.node.port, 65535);
	assert_string_equal(out.u.node.pus, "0-63");
	assert_true(out.u.node.mem == 1ull << 40);
	assert_int_equal(out.u.node.ngpus, 4);
	assert_string_equal(out.u.node.lendable, "8-63");
	assert_string_equal(out.u.node.unallocated, "16-31");
	assert_string_equal(out.u.node.near_host, "");
	assert_true(out.u.node.mem_lendable == 256ull << 30);
	assert_int_equal(out.u.node.gpus_lendable, 0xc);
	assert_true(out.u.node.until == 1795457874);
	assert_int_equal(out.u.node.jobs, 3);
	assert_int_equal(out.u.node.nleases, 2);
	assert_non_null(out.u.node.leases);
	for (int i = 0; i < 2; i++) {
		const struct msg_node_lease *l = &out.u.node.leases[i];

		assert_string_equal(l->id, leases[i].id);
		assert_int_equal(l->uid, 1000);
		assert_int_equal(l->workers, 4);
		assert_string_equal(l->pus, "4-7");
		assert_true(l->mem == 8ull << 30);
		assert_int_equal(l->gpus, 0x2);
		assert_true(l->expires == 1795457874);
		assert_int_equal(l->ready, leases[i].ready);
		assert_true(l->pid == leases[i].pid);
	}
	assert_int_equal(out.u.node.nended, 1);
	assert_string_equal(out.u.node.ended[0].id, "lease-0-77");
	assert_string_equal(out.u.node.ended[0].state, "evicted");
	assert_string_equal(out.u.node.ended[0].why, "host job 7");
	msg_free(&out);
	assert_null(out.u.node.leases);
	assert_null(out.u.node.ended);
	assert_int_equal(out.u.node.nleases + out.u.node.nended, 0);

	/* none of either, and every cpu list but pus empty */
	fill_node(&m);
	m.u.node.lendable[0] = m.u.node.unallocated[0] = '\0';
	out = round_trip(&m);
	assert_int_equal(out.u.node.nleases, 0);
	assert_null(out.u.node.leases);
	assert_int_equal(out.u.node.nended, 0);
	assert_null(out.u.node.ended);
	assert_string_equal(out.u.node.lendable, "");
	assert_true(out.u.node.gen == 0); /* none: not on the wire */
	msg_free(&out);

	/* a state's generation, and the heartbeat naming it */
	fill_node(&m);
	m.u.node.gen = MSG_GEN_MAX;
	out = round_trip(&m);
	assert_true(out.u.node.gen == MSG_GEN_MAX);
	msg_free(&out);
	memset(&m, 0, sizeof(m));
	m.type = MSG_HEARTBEAT;
	snprintf(m.cred, sizeof(m.cred), "session:1:ab");
	snprintf(m.u.node.node, sizeof(m.u.node.node), "node-01.cluster_a");
	m.u.node.gen = 12345678901ull;
	out = round_trip(&m);
	assert_int_equal(out.type, MSG_HEARTBEAT);
	assert_string_equal(out.cred, "session:1:ab");
	assert_string_equal(out.u.node.node, "node-01.cluster_a");
	assert_true(out.u.node.gen == 12345678901ull);
	assert_int_equal(out.u.node.nleases, 0);
}

static void test_exec_drain_round_trips(void **state)
{
	struct msg m = {.type = MSG_EXEC_START}, out;

	(void)state;
	snprintf(m.cred, sizeof(m.cred), "MUNGE:abc");
	snprintf(m.u.exec.id, sizeof(m.u.exec.id), "lease-1-77");
	m.u.exec.uid = UINT32_MAX - 1;
	m.u.exec.gid = 0;
	m.u.exec.workers = 4096;
	snprintf(m.u.exec.pus, sizeof(m.u.exec.pus), "4-7,12");
	m.u.exec.mem = 1ull << 50;
	m.u.exec.gpus = UINT32_MAX;
	snprintf(m.u.exec.lib, sizeof(m.u.exec.lib), "/opt/f.so");
	m.u.exec.expires = 1ll << 40;
	out = round_trip(&m);
	assert_string_equal(out.cred, "MUNGE:abc");
	assert_string_equal(out.u.exec.id, "lease-1-77");
	assert_true(out.u.exec.uid == UINT32_MAX - 1);
	assert_int_equal(out.u.exec.gid, 0);
	assert_int_equal(out.u.exec.workers, 4096);
	assert_string_equal(out.u.exec.pus, "4-7,12");
	assert_true(out.u.exec.mem == 1ull << 50);
	assert_true(out.u.exec.gpus == UINT32_MAX);
	assert_string_equal(out.u.exec.lib, "/opt/f.so");
	assert_true(out.u.exec.expires == 1ll << 40);

	memset(&m, 0, sizeof(m));
	m.type = MSG_EXEC_STOP;
	snprintf(m.cred, sizeof(m.cred), "c");
	snprintf(m.u.exec.id, sizeof(m.u.exec.id), "lease-1-77");
	out = round_trip(&m);
	assert_string_equal(out.cred, "c");
	assert_string_equal(out.u.exec.id, "lease-1-77");

	memset(&m, 0, sizeof(m));
	m.type = MSG_DRAIN;
	snprintf(m.cred, sizeof(m.cred), "c");
	snprintf(m.u.drain.node, sizeof(m.u.drain.node), "node-01");
	m.u.drain.drain = true;
	out = round_trip(&m);
	assert_string_equal(out.u.drain.node, "node-01");
	assert_true(out.u.drain.drain);
	m.u.drain.drain = false;
	assert_false(round_trip(&m).u.drain.drain);
}

/* decode must accept text. */
static void accept(const char *text)
{
	char err[512] = "";
	struct msg m;

	if (msg_decode(text, &m, err, sizeof(err)) != 0)
		fail_msg("decoding %s: %s", text, err);
	msg_free(&m);
}

#define LEASE(id, extra)                                                                           \
	"{\"id\":\"" id "\",\"uid\":1000,\"workers\":2,\"pus\":\"4-5\",\"mem\":1024,\"gpus\":0,"   \
	"\"expires\":1795457874,\"state\":\"ready\",\"pid\":42" extra "}"
#define ENDED(state, why) "{\"id\":\"lease-9\",\"state\":\"" state "\",\"why\":\"" why "\"}"
#define NODE(pus, lendable, extra, leases, ended)                                                          \
	"{\"v\":1,\"type\":\"node_state\",\"cred\":\"c\",\"node\":\"n1\",\"port\":7070,\"pus\":\"" pus     \
	"\",\"mem\":1024,\"ngpus\":0,\"lendable\":\"" lendable "\",\"unallocated\":\"\","                  \
	"\"near_host\":\"\",\"cgroup\":\"coloc\",\"mem_lendable\":0,\"gpus_lendable\":0,\"until\":0" extra \
	",\"leases\":[" leases "],\"ended\":[" ended "]}"
#define JOBS ",\"jobs\":0"
#define HEARTBEAT(node, gen)                                                                       \
	"{\"v\":1,\"type\":\"heartbeat\",\"cred\":\"c\",\"node\":\"" node "\",\"gen\":" gen "}"

/* A node_state with n copies of LEASE, malloc'd. */
static char *node_with_leases(unsigned n)
{
	static const char head[] = NODE("0-7", "", JOBS, "", "");
	const char *tail = strstr(head, "],\"ended\"");
	size_t len = sizeof(head) + n * (sizeof(LEASE("lease-1", "")) + 1);
	char *text = malloc(len), *p;

	assert_non_null(text);
	p = text + snprintf(text, len, "%.*s", (int)(tail - head), head);
	for (unsigned i = 0; i < n; i++)
		p += snprintf(p, len - (size_t)(p - text), "%s" LEASE("lease-1", ""), i ? "," : "");
	snprintf(p, len - (size_t)(p - text), "%s", tail);
	return text;
}

static void test_node_state_refusals(void **state)
{
	char *text;

	(void)state;
	accept(NODE("0-7", "", JOBS, LEASE("lease-1", ""), ENDED("failed", "")));
	accept(NODE("0-7", "4-7", JOBS, LEASE("lease-1", "") "," LEASE("lease-2", ""),
		    ENDED("released", "") "," ENDED("expired", "x")));
	refuse(NODE("0-7", "", "", "", ""), "\"jobs\""); /* missing */
	refuse(NODE("0-7", "", JOBS ",\"extra\":1", "", ""), "unknown field \"extra\"");
	refuse(NODE("", "", JOBS, "", ""), "\"pus\"");
	refuse(NODE("0-7", "4;7", JOBS, "", ""), "\"lendable\" must be a cpu list");
	refuse("{\"v\":1,\"type\":\"node_state\",\"cred\":\"c\",\"node\":\"n1\",\"port\":0}",
	       "\"port\"");
	refuse(NODE("0-7", "", JOBS, LEASE("lease-1", "") "," LEASE("lease-2", ",\"cgroup\":\"x\""),
		    ""),
	       "\"leases\"[1]: unknown field \"cgroup\"");
	refuse(NODE("0-7", "", JOBS, LEASE("lease-1", ",\"pid\":1"), ""), "JSON"); /* twice */
	refuse(NODE("0-7", "", JOBS, "1", ""), "\"leases\"[0]: must be an object");
	refuse(NODE("0-7", "", JOBS, "{\"id\":\"lease-1\"}", ""), "\"leases\"[0]: \"uid\"");
	refuse(NODE("0-7", "", JOBS, LEASE("../x", ""), ""), "\"leases\"[0]: \"id\"");
	refuse(NODE("0-7", "", JOBS, LEASE("lease-1", "") "," LEASE("", ""), ""),
	       "\"leases\"[1]: \"id\"");
	refuse(NODE("0-7", "", JOBS,
		    "{\"id\":\"l\",\"uid\":1000,\"workers\":5000,\"pus\":\"4-5\",\"mem\":1024,"
		    "\"gpus\":0,\"expires\":0,\"state\":\"ready\",\"pid\":42}",
		    ""),
	       "\"leases\"[0]: \"workers\" is 5000, outside 0..4096");
	refuse(NODE("0-7", "", JOBS,
		    "{\"id\":\"l\",\"uid\":1000,\"workers\":1,\"pus\":\"4-5\",\"mem\":1024,"
		    "\"gpus\":0,\"expires\":0,\"state\":\"running\",\"pid\":42}",
		    ""),
	       "\"leases\"[0]: \"state\" must be \"starting\" or \"ready\"");
	refuse(NODE("0-7", "", JOBS,
		    "{\"id\":\"l\",\"uid\":1000,\"workers\":1,\"pus\":\"4-5\",\"mem\":1024,"
		    "\"gpus\":0,\"expires\":0,\"state\":\"ready\",\"pid\":2147483648}",
		    ""),
	       "\"leases\"[0]: \"pid\"");
	refuse(NODE("0-7", "", JOBS, "", ENDED("released", "") "," ENDED("vanished", "")),
	       "\"ended\"[1]: \"state\" must be released, expired, evicted or failed");
	refuse(NODE("0-7", "", JOBS, "",
		    ENDED("failed", "0123456789012345678901234567890123456789012345678901234567890"
				    "1234567890123456789012345678901234567890123456789012345678901"
				    "234567")),
	       "\"ended\"[0]: \"why\"");
	refuse(
	    NODE("0-7", "", JOBS, "", "{\"id\":\"l\",\"state\":\"failed\",\"why\":\"\",\"v\":1}"),
	    "\"ended\"[0]: unknown field \"v\"");
	refuse(
	    "{\"v\":1,\"type\":\"node_state\",\"cred\":\"c\",\"node\":\"n1\",\"port\":1,"
	    "\"pus\":\"0\",\"mem\":0,\"ngpus\":0,\"lendable\":\"\",\"unallocated\":\"\","
	    "\"near_host\":\"\",\"cgroup\":\"coloc\",\"mem_lendable\":0,\"gpus_lendable\":0,\"until\":0,\"jobs\":0,"
	    "\"leases\":{},\"ended\":[]}",
	    "\"leases\" must be an array");

	/* a generation: 1 to 2^53 - 1 */
	accept(NODE("0-7", "", JOBS ",\"gen\":1", "", ""));
	accept(NODE("0-7", "", JOBS ",\"gen\":9007199254740991", "", ""));
	refuse(NODE("0-7", "", JOBS ",\"gen\":0", "", ""), "\"gen\" is 0, outside 1..");
	refuse(NODE("0-7", "", JOBS ",\"gen\":9007199254740992", "", ""), "\"gen\" is");
	refuse(NODE("0-7", "", JOBS ",\"gen\":\"1\"", "", ""), "\"gen\" must be an integer");
	accept(HEARTBEAT("n1", "7"));
	refuse(HEARTBEAT("n1", "0"), "heartbeat message: \"gen\" is 0");
	refuse(HEARTBEAT("../n1", "7"), "\"node\"");
	refuse("{\"v\":1,\"type\":\"heartbeat\",\"cred\":\"c\",\"node\":\"n1\"}", "\"gen\"");
	refuse("{\"v\":1,\"type\":\"heartbeat\",\"node\":\"n1\",\"gen\":1}", "\"cred\"");
	refuse("{\"v\":1,\"type\":\"heartbeat\",\"cred\":\"c\",\"node\":\"n1\",\"gen\":1,"
	       "\"pus\":\"0-7\"}",
	       "unknown field \"pus\"");

	text = node_with_leases(MSG_NODE_LEASES_MAX);
	accept(text);
	free(text);
	text = node_with_leases(MSG_NODE_LEASES_MAX + 1);
	refuse(text, "\"leases\" has 257 elements, at most 256");
	free(text);
}

#define EXEC(id, uid, pus, lib)                                                                    \
	"{\"v\":1,\"type\":\"exec_start\",\"cred\":\"c\",\"id\":\"" id "\",\"uid\":" uid           \
	",\"gid\":100,\"workers\":2,\"pus\":\"" pus "\",\"mem\":0,\"gpus\":0,\"lib\":\"" lib       \
	"\",\"expires\":0}"
#define STOP(id) "{\"v\":1,\"type\":\"exec_stop\",\"cred\":\"c\",\"id\":\"" id "\"}"
#define DRAIN(node, drain)                                                                         \
	"{\"v\":1,\"type\":\"drain\",\"cred\":\"c\",\"node\":\"" node "\",\"drain\":" drain "}"

static void test_exec_drain_refusals(void **state)
{
	(void)state;
	accept(EXEC("lease-1.a_b", "1", "0", "/f.so"));
	refuse(EXEC("lease/1", "1000", "0", "/f.so"), "\"id\"");
	refuse(EXEC("..", "1000", "0", "/f.so"), "\"id\"");
	refuse(EXEC(".hidden", "1000", "0", "/f.so"), "\"id\"");
	refuse(EXEC("-rf", "1000", "0", "/f.so"), "\"id\"");
	refuse(EXEC("", "1000", "0", "/f.so"), "\"id\"");
	refuse(EXEC("0123456789012345678901234567890123456789012345678901234567890123", "1000", "0",
		    "/f.so"),
	       "\"id\"");
	refuse(EXEC("lease-1", "0", "0", "/f.so"), "\"uid\" is 0");
	refuse(EXEC("lease-1", "4294967295", "0", "/f.so"), "\"uid\"");
	refuse(EXEC("lease-1", "1000", "", "/f.so"), "\"pus\"");
	refuse(EXEC("lease-1", "1000", "0", "f.so"), "absolute");
	refuse("{\"v\":1,\"type\":\"exec_start\",\"cred\":\"c\",\"id\":\"l\"}", "\"uid\"");
	accept(STOP("lease-1"));
	refuse(STOP("../../etc"), "\"id\"");
	refuse("{\"v\":1,\"type\":\"exec_stop\",\"id\":\"l\"}", "\"cred\"");
	refuse("{\"v\":1,\"type\":\"exec_stop\",\"cred\":\"c\",\"id\":\"l\",\"uid\":1}",
	       "unknown field \"uid\"");
	accept(DRAIN("n_1.a-b", "false"));
	refuse(DRAIN("n/1", "true"), "\"node\"");
	refuse(DRAIN("", "true"), "\"node\"");
	refuse(DRAIN("0123456789012345678901234567890123456789012345678901234567890123", "true"),
	       "\"node\"");
	refuse(DRAIN("n1", "1"), "\"drain\"");
}

/* A memory lease (remote_mem): no workers, PUs or library on the wire. */
static void test_memory_lease(void **state)
{
	struct msg m = {.type = MSG_LEASE_ACQUIRE}, out;

	(void)state;
	snprintf(m.cred, sizeof(m.cred), "c");
	m.u.acquire.time = 60;
	m.u.acquire.remote_mem = 1ull << 50;
	out = round_trip(&m);
	assert_true(out.u.acquire.remote_mem == 1ull << 50);
	assert_int_equal(out.u.acquire.workers, 0);
	assert_string_equal(out.u.acquire.lib, "");
	memset(&m, 0, sizeof(m));
	m.type = MSG_EXEC_START;
	snprintf(m.cred, sizeof(m.cred), "c");
	snprintf(m.u.exec.id, sizeof(m.u.exec.id), "lease-1-77");
	m.u.exec.uid = 1000;
	m.u.exec.remote_mem = 4096;
	m.u.exec.mem = 4096 + (64u << 20);
	m.u.exec.expires = 5;
	out = round_trip(&m);
	assert_true(out.u.exec.remote_mem == 4096);
	assert_string_equal(out.u.exec.pus, "");
#define RMACQ(extra)                                                                               \
	"{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"c\",\"time\":60,\"mode\":\"spread\","      \
	"\"job\":0," extra "}"
	refuse(RMACQ("\"workers\":1,\"lib\":\"\",\"mem\":0,\"gpus\":0,\"remote_mem\":4096"),
	       "a memory lease");
	refuse(RMACQ("\"workers\":0,\"lib\":\"/f.so\",\"mem\":0,\"gpus\":0,\"remote_mem\":4096"),
	       "a memory lease");
	refuse(RMACQ("\"workers\":0,\"lib\":\"\",\"mem\":0,\"gpus\":1,\"remote_mem\":4096"),
	       "a memory lease");
	refuse(RMACQ("\"workers\":0,\"lib\":\"\",\"mem\":0,\"gpus\":0,\"remote_mem\":4095"),
	       "\"remote_mem\" is 4095");
	refuse(RMACQ("\"workers\":0,\"lib\":\"\",\"mem\":0,\"gpus\":0"), "\"workers\" is 0");
	refuse(RMACQ("\"workers\":1,\"lib\":\"\",\"mem\":0,\"gpus\":0"), "absolute");
#undef RMACQ
#define EXM(pus, mem)                                                                              \
	"{\"v\":1,\"type\":\"exec_start\",\"cred\":\"c\",\"id\":\"l\",\"uid\":1000,\"gid\":0,"     \
	"\"workers\":0,\"pus\":\"" pus "\",\"mem\":" mem ",\"gpus\":0,\"lib\":\"\",\"expires\":5," \
	"\"remote_mem\":4096}"
	refuse(EXM("0", "67112960"), "a memory lease");
	refuse(EXM("", "4096"), "a memory lease");
#undef EXM
}

static void test_encode_refuses(void **state)
{
	struct msg m = {.type = MSG_LEASE_GRANT};
	char *text = NULL;

	(void)state;
	m.u.grant.lease = (char *)"not an object";
	assert_int_equal(msg_encode(&m, &text), -EINVAL);
	assert_null(text);
	m.type = (enum msg_type)99;
	assert_int_equal(msg_encode(&m, &text), -EINVAL);

	fill_node(&m);
	m.u.node.nleases = 1; /* and no leases */
	assert_int_equal(msg_encode(&m, &text), -EINVAL);
	assert_null(text);
	fill_node(&m);
	m.u.node.nended = 1;
	assert_int_equal(msg_encode(&m, &text), -EINVAL);
	assert_null(text);
}

/* ---- query results ------------------------------------------------------- */

/* Adds a lease row to m: a running one (workers > 0), or one that ended. */
static void add_lease_row(struct msg *m, const char *id, const char *state, uint32_t workers,
			  int64_t expires, const char *why)
{
	union msg_row *r = msg_result_add(m);

	assert_non_null(r);
	snprintf(r->lease.id, sizeof(r->lease.id), "%s", id);
	r->lease.uid = 1000;
	snprintf(r->lease.state, sizeof(r->lease.state), "%s", state);
	snprintf(r->lease.node, sizeof(r->lease.node), "node-01");
	r->lease.workers = workers;
	if (workers) {
		snprintf(r->lease.cpus, sizeof(r->lease.cpus), "4-7");
		r->lease.mem = 8ull << 30;
		snprintf(r->lease.gpus, sizeof(r->lease.gpus), "0,3");
	}
	r->lease.expires = expires;
	snprintf(r->lease.why, sizeof(r->lease.why), "%s", why);
}

/* A result of what with sample rows: one, or for leases a running one and
 * one that ended. */
static void fill_result(struct msg *m, enum msg_query what)
{
	union msg_row *r;

	memset(m, 0, sizeof(*m));
	m->type = MSG_RESULT;
	m->u.result.what = what;
	if (what == MSG_QUERY_LEASES) {
		add_lease_row(m, "lease-1-77", "ready", 4, 1795457874, "");
		add_lease_row(m, "lease-0-77", "evicted", 0, 1795457000,
			      "host job 7 needs its cores");
		return;
	}
	r = msg_result_add(m);
	assert_non_null(r);
	switch (what) {
	case MSG_QUERY_NODES:
		snprintf(r->node.name, sizeof(r->node.name), "node-01");
		snprintf(r->node.state, sizeof(r->node.state), "drained");
		snprintf(r->node.pus, sizeof(r->node.pus), "0-63");
		r->node.mem = 1ull << 40;
		r->node.gpus = 4;
		r->node.jobs = 3;
		r->node.drained = true;
		break;
	case MSG_QUERY_GAPS:
		snprintf(r->gap.node, sizeof(r->gap.node), "node-01");
		snprintf(r->gap.lendable, sizeof(r->gap.lendable), "8-63");
		r->gap.mem = 256ull << 30;
		r->gap.gpus = 2;
		r->gap.until = 1795457874;
		break;
	case MSG_QUERY_EXECUTORS:
		r->executor.pid = 4242;
		snprintf(r->executor.node, sizeof(r->executor.node), "node1");
		r->executor.uid = 65534;
		snprintf(r->executor.cgroup, sizeof(r->executor.cgroup), "coloc/lease-1-77");
		snprintf(r->executor.cpus, sizeof(r->executor.cpus), "4-7");
		r->executor.mem_limit = 1024;
		snprintf(r->executor.gpus, sizeof(r->executor.gpus), "0,1");
		snprintf(r->executor.lease, sizeof(r->executor.lease), "lease-1-77");
		break;
	case MSG_QUERY_USAGE:
		snprintf(r->usage.group, sizeof(r->usage.group), "alice");
		r->usage.leases = 3;
		r->usage.core_seconds = 7200;
		r->usage.gb_seconds = 1800;
		r->usage.calls = 123456;
		break;
	case MSG_QUERY_RECORDS:
		fill_usage(&r->record);
		break;
	case MSG_QUERY_LEASES:
		break;
	}
}

static void test_result_round_trips(void **state)
{
	struct msg m, out;

	(void)state;
	for (unsigned q = MSG_QUERY_NODES; q <= MSG_QUERY_RECORDS; q++) {
		fill_result(&m, (enum msg_query)q);
		out = round_trip(&m);
		assert_int_equal(out.u.result.what, q);
		assert_int_equal(out.u.result.nrows, m.u.result.nrows);
		/* every field, and the zeroes after each string */
		assert_memory_equal(out.u.result.rows, m.u.result.rows,
				    m.u.result.nrows * sizeof(union msg_row));
		msg_free(&out);
		assert_null(out.u.result.rows);
		assert_int_equal(out.u.result.nrows, 0);
		msg_free(&m);
	}
}

/* ---- result pages written directly, read directly ------------------------------------- */

/* A "why" with every kind of character a page must escape or keep. */
#define WHY_ESCAPES "a \"quote\", a \\ and /, \b\f\n\r\t, \x01\x1f\x7f, é € 😀"

/* The page writer writes the bytes the JSON library's encoder writes, for
 * strings that need escaping too, and the reader gives back the rows. */
static void test_page_writer_escapes(void **state)
{
	struct msg m, out, ref;
	char *text = NULL, *json = NULL, err[256] = "";

	(void)state;
	for (unsigned q = MSG_QUERY_NODES; q <= MSG_QUERY_RECORDS; q++) {
		fill_result(&m, (enum msg_query)q);
		if (q == MSG_QUERY_LEASES)
			snprintf(m.u.result.rows[1].lease.why, sizeof(m.u.result.rows[1].lease.why),
				 "%s", WHY_ESCAPES);
		if (q == MSG_QUERY_RECORDS) {
			snprintf(m.u.result.rows[0].record.why,
				 sizeof(m.u.result.rows[0].record.why), "%s", WHY_ESCAPES);
			snprintf(m.u.result.rows[0].record.user,
				 sizeof(m.u.result.rows[0].record.user), "ü\"x\\");
		}
		m.u.result.next = q * 1000003ull;
		assert_int_equal(msg_encode(&m, &text), 0);
		assert_int_equal(msg_encode_json(&m, &json), 0);
		assert_string_equal(text, json);
		/* the direct reader and the JSON library read the same rows */
		assert_int_equal(msg_decode(text, &out, err, sizeof(err)), 0);
		assert_int_equal(msg_decode_json(text, &ref, err, sizeof(err)), 0);
		assert_int_equal(out.u.result.nrows, m.u.result.nrows);
		assert_int_equal(out.u.result.next, m.u.result.next);
		assert_memory_equal(out.u.result.rows, m.u.result.rows,
				    m.u.result.nrows * sizeof(union msg_row));
		assert_memory_equal(ref.u.result.rows, m.u.result.rows,
				    m.u.result.nrows * sizeof(union msg_row));
		msg_free(&out);
		msg_free(&ref);
		msg_free(&m);
		free(text);
		free(json);
	}
}

/* Bytes that are not UTF-8 (a name cut in the middle of a character, an
 * overlong form, a surrogate, a stray continuation byte) are written as
 * U+FFFD: the page stays valid JSON, where the JSON library's encoder
 * refused the whole page. */
static void test_page_writer_bad_utf8(void **state)
{
	struct msg m, out;
	char *text = NULL, *json = NULL, err[256] = "";

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = MSG_RESULT;
	m.u.result.what = MSG_QUERY_LEASES;
	add_lease_row(&m, "lease-0-77", "failed", 0, 1795457000,
		      "cut \xc3|overlong \xc0\xaf|surrogate \xed\xa0\x80|stray \x80|end \xe2\x82");
	assert_int_equal(msg_encode(&m, &text), 0);
	assert_int_not_equal(msg_encode_json(&m, &json), 0);
	assert_null(json);
	assert_int_equal(msg_decode_json(text, &out, err, sizeof(err)), 0);
	assert_string_equal(out.u.result.rows[0].lease.why,
			    "cut \xef\xbf\xbd|overlong \xef\xbf\xbd\xef\xbf\xbd|surrogate "
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|stray \xef\xbf\xbd|end "
			    "\xef\xbf\xbd\xef\xbf\xbd");
	msg_free(&out);
	assert_int_equal(msg_decode(text, &out, err, sizeof(err)), 0);
	msg_free(&out);
	msg_free(&m);
	free(text);
}

/* A gaps row numbered i. */
static void gap_row(union msg_row *r, unsigned i)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->gap.node, sizeof(r->gap.node), "sim%05u", i);
	snprintf(r->gap.lendable, sizeof(r->gap.lendable), "4-15,20-31,36-47,52-63");
	snprintf(r->gap.unallocated, sizeof(r->gap.unallocated), "52-63");
	r->gap.mem = 1ull << 40;
	r->gap.until = 1795457874;
}

/* The length of a page of n gap rows with the largest next. */
static size_t page_len(unsigned n)
{
	struct msg_page p;
	union msg_row r;
	struct msg m;
	size_t len;

	assert_int_equal(msg_page_init(&p, MSG_QUERY_GAPS, SIZE_MAX), 0);
	for (unsigned i = 0; i < n; i++) {
		gap_row(&r, i);
		assert_int_equal(msg_page_add(&p, &r), 0);
	}
	assert_int_equal(msg_page_finish(&p, INT64_MAX, &m), 0);
	len = strlen(m.u.result.text);
	msg_free(&m);
	return len;
}

/* A page holds a row when the row and the longest closing part fit its
 * limit; the row that does not fit leaves the page as it was, and goes
 * first on the next page; a page never passes its limit; the rows of
 * pages read back in order, none lost, none twice. */
static void test_page_boundaries(void **state)
{
	size_t full = page_len(3), limit;
	struct msg_page p;
	union msg_row r;
	struct msg m, out;
	char before[4096], err[256] = "";
	unsigned row = 0, pages = 0;

	(void)state;
	/* the longest tail is 29 bytes: `],"next":9223372036854775807}`;
	 * the writer keeps 32 */
	for (limit = full + 2; limit <= full + 3; limit++) {
		unsigned want = limit == full + 3 ? 3 : 2;

		assert_int_equal(msg_page_init(&p, MSG_QUERY_GAPS, limit), 0);
		for (unsigned i = 0; i < want; i++) {
			gap_row(&r, i);
			assert_int_equal(msg_page_add(&p, &r), 0);
		}
		assert_true(p.len < sizeof(before));
		memcpy(before, p.text, p.len + 1);
		gap_row(&r, want);
		assert_int_equal(msg_page_add(&p, &r), -ENOSPC);
		assert_string_equal(p.text, before);
		assert_int_equal(p.nrows, want);
		assert_int_equal(msg_page_finish(&p, INT64_MAX, &m), 0);
		assert_true(strlen(m.u.result.text) <= limit);
		assert_int_equal(m.u.result.nrows, want);
		assert_int_equal(msg_decode(m.u.result.text, &out, err, sizeof(err)), 0);
		assert_int_equal(out.u.result.nrows, want);
		assert_int_equal(out.u.result.next, INT64_MAX);
		msg_free(&out);
		msg_free(&m);
	}
	/* 100 rows in pages of at most 1000 bytes: each row once, in order */
	while (row < 100) {
		assert_int_equal(msg_page_init(&p, MSG_QUERY_GAPS, 1000), 0);
		for (gap_row(&r, row); row < 100 && msg_page_add(&p, &r) == 0; gap_row(&r, row))
			row++;
		assert_int_equal(msg_page_finish(&p, row < 100 ? row : 0, &m), 0);
		assert_true(strlen(m.u.result.text) <= 1000);
		assert_int_equal(msg_decode(m.u.result.text, &out, err, sizeof(err)), 0);
		assert_true(out.u.result.nrows > 0);
		for (uint32_t i = 0; i < out.u.result.nrows; i++) {
			char name[16];

			snprintf(name, sizeof(name), "sim%05u", row - out.u.result.nrows + i);
			assert_string_equal(out.u.result.rows[i].gap.node, name);
		}
		assert_int_equal(out.u.result.next, row < 100 ? row : 0);
		/* colocctl --json prints the items of the page as they came */
		{
			char *items = NULL, *again = NULL;

			assert_int_equal(msg_result_json(&m, &items), 0);
			assert_int_equal(msg_result_json(&out, &again), 0);
			assert_string_equal(items, again);
			free(items);
			free(again);
		}
		msg_free(&out);
		msg_free(&m);
		assert_true(++pages < 100);
	}
	assert_true(pages > 10);
	/* at most MSG_RESULT_MAX rows; no page below an empty one's size; no
	 * such query */
	assert_int_equal(msg_page_init(&p, MSG_QUERY_GAPS, SIZE_MAX), 0);
	gap_row(&r, 0);
	for (unsigned i = 0; i < MSG_RESULT_MAX; i++)
		assert_int_equal(msg_page_add(&p, &r), 0);
	assert_int_equal(msg_page_add(&p, &r), -E2BIG);
	msg_page_fini(&p);
	assert_int_equal(msg_page_init(&p, MSG_QUERY_GAPS, 40), -EINVAL);
	assert_int_equal(msg_page_init(&p, (enum msg_query)99, SIZE_MAX), -EINVAL);
	msg_page_fini(&p);
}

/* The direct reader takes a result only as the JSON library's decoder
 * does: for each text both give the same answer, the same rows or the
 * same error. */
static void test_reader_as_json(void **state)
{
#define ROW                                                                                        \
	"{\"node\":\"n1\",\"lendable\":\"0-3\",\"unallocated\":\"\",\"mem\":5,\"gpus\":0,"         \
	"\"until\":0,\"drained\":false}"
	static const char *const texts[] = {
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[" ROW "]}",
	    " {\n\"v\" : 1 ,\t\"type\":\"result\",\"what\":\"gaps\",\"items\": [ " ROW " ] } \n",
	    "{\"next\":7,\"items\":[],\"what\":\"gaps\",\"type\":\"result\",\"v\":1}",
	    "{\"v\":1,\"type\":\"result\",\"items\":[" ROW "],\"what\":\"gaps\"}",
	    "{\"\\u0076\":1,\"type\":\"res\\u0075lt\",\"what\":\"gaps\",\"items\":[]}",
	    "{\"v\":1,\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[" ROW "," ROW "],\"x\":1}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[]} x",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[]",
	    "{\"v\":01,\"type\":\"result\",\"what\":\"gaps\",\"items\":[]}",
	    "{\"v\":1.0,\"type\":\"result\",\"what\":\"gaps\",\"items\":[]}",
	    "{\"v\":2,\"type\":\"result\",\"what\":\"gaps\",\"items\":[]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[],\"next\":0}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[],\"next\":-1}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[],\"next\":"
	    "9223372036854775807}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[],\"next\":"
	    "9223372036854775808}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[],\"next\":"
	    "99999999999999999999999}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gapz\",\"items\":[]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":{}}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[[]]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[{}]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[{\"node\":\"n1\","
	    "\"node\":\"n1\",\"lendable\":\"0-3\",\"unallocated\":\"\",\"mem\":5,\"gpus\":0,"
	    "\"until\":0,\"drained\":false}]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[{\"node\":\"../x\","
	    "\"lendable\":\"0-3\",\"unallocated\":\"\",\"mem\":5,\"gpus\":0,\"until\":0,"
	    "\"drained\":false}]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[{\"node\":\"n\\u0000\","
	    "\"lendable\":\"0-3\",\"unallocated\":\"\",\"mem\":5,\"gpus\":0,\"until\":0,"
	    "\"drained\":false}]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[{\"node\":\"n1\","
	    "\"lendable\":\"0-3 \",\"unallocated\":\"\",\"mem\":5,\"gpus\":0,\"until\":0,"
	    "\"drained\":false}]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[{\"node\":\"n1\","
	    "\"lendable\":\"0-3\",\"unallocated\":\"\",\"mem\":5,\"gpus\":33,\"until\":0,"
	    "\"drained\":false}]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"gaps\",\"items\":[{\"node\":\"n1\","
	    "\"lendable\":\"0-3\",\"unallocated\":\"\",\"mem\":5,\"gpus\":0,\"until\":0,"
	    "\"drained\":0}]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"leases\",\"items\":[{\"id\":\"l1\",\"uid\":1,"
	    "\"state\":\"gone\",\"node\":\"n1\",\"workers\":0,\"cpus\":\"\",\"mem\":0,\"gpus\":"
	    "\"\",\"expires\":0,\"why\":\"\\ud83d\\ude00 \\u00e9\\/\"}]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"leases\",\"items\":[{\"id\":\"l1\",\"uid\":1,"
	    "\"state\":\"failed\",\"node\":\"n1\",\"workers\":0,\"cpus\":\"\",\"mem\":0,\"gpus\":"
	    "\"\",\"expires\":0,\"why\":\"\\u00e9\\/\\\"\\u20ac\\t\"}]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"leases\",\"items\":[{\"id\":\"l1\",\"uid\":1,"
	    "\"state\":\"failed\",\"node\":\"n1\",\"workers\":0,\"cpus\":\"\",\"mem\":0,\"gpus\":"
	    "\"\",\"expires\":0,\"why\":\"raw\ttab\"}]}",
	    "{\"v\":1,\"type\":\"result\",\"what\":\"leases\",\"items\":[{\"id\":\"l1\",\"uid\":1,"
	    "\"state\":\"failed\",\"node\":\"n1\",\"workers\":0,\"cpus\":\"\",\"mem\":0,\"gpus\":"
	    "\"\",\"expires\":0,\"why\":\"bad \xc3(\"}]}",
	    "{\"v\":1,\"type\":\"ok\"}",
	    "[]",
	    "",
	};
	struct msg a, b;
	char ea[512], eb[512];

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		int ra, rb;

		ea[0] = eb[0] = '\0';
		ra = msg_decode(texts[i], &a, ea, sizeof(ea));
		rb = msg_decode_json(texts[i], &b, eb, sizeof(eb));
		if (ra != rb || strcmp(ea, eb) != 0)
			fail_msg("%s: %d (%s) against the JSON library's %d (%s)", texts[i], ra, ea,
				 rb, eb);
		if (ra == 0 && a.type == MSG_RESULT) {
			assert_int_equal(a.u.result.what, b.u.result.what);
			assert_int_equal(a.u.result.next, b.u.result.next);
			assert_int_equal(a.u.result.nrows, b.u.result.nrows);
			assert_memory_equal(a.u.result.rows, b.u.result.rows,
					    a.u.result.nrows * sizeof(union msg_row));
		}
		msg_free(&a);
		msg_free(&b);
	}
#undef ROW
}

/* The order of the fields on the wire is fixed: the integration tests
 * and users' scripts grep colocctl --json's text. */
static void test_result_json(void **state)
{
	static const char *const want[] = {
	    [MSG_QUERY_NODES] = "[{\"name\":\"node-01\",\"state\":\"drained\",\"pus\":\"0-63\","
				"\"mem\":1099511627776,\"gpus\":4,\"jobs\":3,\"drained\":true}]",
	    [MSG_QUERY_GAPS] = "[{\"node\":\"node-01\",\"lendable\":\"8-63\",\"unallocated\":\"\","
			       "\"mem\":274877906944,\"gpus\":2,\"until\":1795457874,\"drained\":"
			       "false}]",
	    [MSG_QUERY_LEASES] =
		"[{\"id\":\"lease-1-77\",\"uid\":1000,\"state\":\"ready\",\"node\":\"node-01\","
		"\"workers\":4,\"cpus\":\"4-7\",\"mem\":8589934592,\"gpus\":\"0,3\","
		"\"expires\":1795457874,\"why\":\"\"},"
		"{\"id\":\"lease-0-77\",\"uid\":1000,\"state\":\"evicted\",\"node\":\"node-01\","
		"\"workers\":0,\"cpus\":\"\",\"mem\":0,\"gpus\":\"\",\"expires\":1795457000,"
		"\"why\":\"host job 7 needs its cores\"}]",
	    [MSG_QUERY_EXECUTORS] =
		"[{\"pid\":4242,\"node\":\"node1\",\"uid\":65534,\"cgroup\":\"coloc/lease-1-77\","
		"\"cpus\":\"4-7\",\"mem_limit\":1024,\"gpus\":\"0,1\",\"lease\":\"lease-1-77\"}]",
	};
	struct msg m = {.type = MSG_RESULT, .u.result.what = MSG_QUERY_NODES};
	char *text = NULL, *wire = NULL;

	(void)state;
	assert_int_equal(msg_result_json(&m, &text), 0);
	assert_string_equal(text, "[]");
	free(text);
	for (unsigned q = MSG_QUERY_NODES; q <= MSG_QUERY_EXECUTORS; q++) {
		fill_result(&m, (enum msg_query)q);
		assert_int_equal(msg_result_json(&m, &text), 0);
		assert_string_equal(text, want[q]);
		/* and the message carries the same text as its items */
		assert_int_equal(msg_encode(&m, &wire), 0);
		assert_non_null(strstr(wire, text));
		free(wire);
		free(text);
		msg_free(&m);
	}
	m.type = MSG_OK;
	assert_int_equal(msg_result_json(&m, &text), -EINVAL);
	assert_null(text);
}

#define RESULT(what, items)                                                                        \
	"{\"v\":1,\"type\":\"result\",\"what\":\"" what "\",\"items\":" items "}"
#define EXEC_ROW(pid, extra)                                                                       \
	"{\"pid\":" pid ",\"node\":\"n1\",\"uid\":1,\"cgroup\":\"c/L\",\"cpus\":\"1\","            \
	"\"mem_limit\":0,\"gpus\":\"\",\"lease\":\"L\"" extra "}"

static void test_result_refusals(void **state)
{
	char err[512] = "", *text, *p;
	struct msg m;
	size_t n;

	(void)state;
	assert_int_equal(
	    msg_decode(RESULT("executors", "[" EXEC_ROW("1", "") "]"), &m, err, sizeof(err)), 0);
	assert_int_equal(m.u.result.nrows, 1);
	assert_string_equal(m.u.result.rows[0].executor.cgroup, "c/L");
	msg_free(&m);
	refuse(RESULT("leases", "{}"), "\"items\" must be an array");
	refuse(RESULT("executors", "[" EXEC_ROW("1", "") ",7]"), "\"items\"[1]: must be an object");
	refuse(RESULT("executors", "[" EXEC_ROW("1", ",\"extra\":1") "]"),
	       "\"items\"[0]: unknown field \"extra\"");
	refuse(RESULT("executors", "[" EXEC_ROW("-1", "") "]"), "\"items\"[0]: \"pid\" is -1");
	refuse(RESULT("executors", "[" EXEC_ROW("\"1\"", "") "]"), "\"pid\" must be an integer");
	refuse(RESULT("executors", "[{\"pid\":1}]"), "\"items\"[0]: \"node\" must be a string");
	refuse(RESULT("nodes", "[" EXEC_ROW("1", "") "]"), "unknown field \"pid\"");
	refuse(RESULT("nodes", "[{\"name\":\"n1\",\"state\":\"on fire\",\"pus\":\"0\",\"mem\":0,"
			       "\"gpus\":0,\"jobs\":0,\"drained\":false}]"),
	       "\"state\" must be one of up, down, drained, not \"on fire\"");
	refuse(RESULT("nodes", "[{\"name\":\"n1\",\"state\":\"up\",\"pus\":\"0\",\"mem\":0,"
			       "\"gpus\":33,\"jobs\":0,\"drained\":false}]"),
	       "\"gpus\" is 33, outside 0..32");
	refuse(RESULT("nodes", "[{\"name\":\"n1\",\"state\":\"up\",\"pus\":\"0\",\"mem\":0,"
			       "\"gpus\":0,\"jobs\":0,\"drained\":\"no\"}]"),
	       "\"drained\" must be true or false");
	refuse(RESULT("gaps", "[{\"node\":\"../etc\",\"lendable\":\"\",\"unallocated\":\"\","
			      "\"mem\":0,\"gpus\":0,\"until\":0,\"drained\":false}]"),
	       "\"node\" must be letters");
	refuse(RESULT("gaps", "[{\"node\":\"n1\",\"lendable\":\"0-3;rm\",\"unallocated\":\"\","
			      "\"mem\":0,\"gpus\":0,\"until\":0,\"drained\":false}]"),
	       "\"lendable\" must be a cpu list");
	refuse(RESULT("leases", "[{\"id\":\"L\",\"uid\":0,\"state\":\"gone\",\"node\":\"n\","
				"\"workers\":0,\"cpus\":\"\",\"mem\":0,\"gpus\":\"\",\"expires\":0,"
				"\"why\":\"\"}]"),
	       "\"state\" must be one of starting, ready, released");
	refuse(RESULT("leases",
		      "[{\"id\":\"L\",\"uid\":0,\"state\":\"ready\",\"node\":\"n\","
		      "\"workers\":4097,\"cpus\":\"\",\"mem\":0,\"gpus\":\"\",\"expires\":0,"
		      "\"why\":\"\"}]"),
	       "\"workers\" is 4097");

	/* one row more than a result carries */
	text = malloc(64 + (MSG_RESULT_MAX + 1) * 3);
	assert_non_null(text);
	p = text + sprintf(text, "{\"v\":1,\"type\":\"result\",\"what\":\"nodes\",\"items\":[");
	for (n = 0; n <= MSG_RESULT_MAX; n++)
		p += sprintf(p, "%s{}", n ? "," : "");
	strcpy(p, "]}");
	refuse(text, "\"items\" has 1025 elements, at most 1024");
	free(text);
}

static void test_result_builder(void **state)
{
	struct msg m = {.type = MSG_OK};
	char cell[8], *text = NULL;
	unsigned i;

	(void)state;
	errno = 0;
	assert_null(msg_result_add(&m));
	assert_int_equal(errno, EINVAL);
	m.type = MSG_RESULT; /* what: no query */
	assert_null(msg_result_add(&m));
	assert_int_equal(errno, EINVAL);
	m.u.result.what = MSG_QUERY_GAPS;
	for (i = 0; i < MSG_RESULT_MAX; i++) {
		union msg_row *r = msg_result_add(&m);

		assert_non_null(r);
		snprintf(r->gap.node, sizeof(r->gap.node), "n%u", i);
		r->gap.gpus = i % 33;
	}
	assert_null(msg_result_add(&m));
	assert_int_equal(errno, E2BIG);
	assert_int_equal(m.u.result.nrows, MSG_RESULT_MAX);
	/* rows moved as the array grew keep what was written */
	assert_string_equal(m.u.result.rows[0].gap.node, "n0");
	assert_string_equal(m.u.result.rows[1000].gap.node, "n1000");
	assert_int_equal(msg_result_cell(&m, 1000, "node", cell, sizeof(cell)), 0);
	assert_string_equal(cell, "n1000");
	assert_int_equal(msg_result_cell(&m, 1000, "gpus", cell, sizeof(cell)), 0);
	assert_string_equal(cell, "10");
	assert_int_equal(msg_result_cell(&m, 1000, "drained", cell, sizeof(cell)), 0);
	assert_string_equal(cell, "no");
	assert_int_equal(msg_result_cell(&m, 1000, "pid", cell, sizeof(cell)), -ENOENT);
	/* times: the gaps' until and the leases' expires, nothing else */
	assert_true(msg_result_is_time(MSG_QUERY_GAPS, "until"));
	assert_true(msg_result_is_time(MSG_QUERY_LEASES, "expires"));
	assert_false(msg_result_is_time(MSG_QUERY_GAPS, "mem"));
	assert_false(msg_result_is_time(MSG_QUERY_LEASES, "no_such_field"));
	assert_int_equal(msg_result_cell(&m, MSG_RESULT_MAX, "node", cell, sizeof(cell)), -ENOENT);
	snprintf(m.u.result.rows[0].gap.lendable, sizeof(m.u.result.rows[0].gap.lendable),
		 "0-3,8-11,16");
	assert_int_equal(msg_result_cell(&m, 0, "lendable", cell, sizeof(cell)), -ENOSPC);
	assert_string_equal(cell, "0-3,8-1");
	/* too many rows, or rows missing, are not encoded */
	m.u.result.nrows = MSG_RESULT_MAX + 1;
	assert_int_equal(msg_encode(&m, &text), -EINVAL);
	assert_null(text);
	m.u.result.nrows = MSG_RESULT_MAX;
	msg_free(&m);
	m.type = MSG_RESULT;
	m.u.result.nrows = 1;
	assert_int_equal(msg_encode(&m, &text), -EINVAL);
	assert_null(text);

	assert_string_equal(msg_result_key(MSG_QUERY_EXECUTORS, 0), "pid");
	assert_string_equal(msg_result_key(MSG_QUERY_EXECUTORS, 7), "lease");
	assert_null(msg_result_key(MSG_QUERY_EXECUTORS, 8));
	assert_null(msg_result_key((enum msg_query)0, 0));
	assert_null(msg_result_key((enum msg_query)9, 0));
}

/* ---- replies -------------------------------------------------------------- */

struct got_reply {
	int calls;
	uint64_t cookie;
	struct msg m;
};

static void record(void *arg, uint64_t cookie, const struct msg *reply)
{
	struct got_reply *g = arg;

	g->calls++;
	g->cookie = cookie;
	g->m = *reply;
}

static void test_reply_helpers(void **state)
{
	struct got_reply g = {0};

	(void)state;
	msg_reply_error(record, &g, 77, "ENOSPC", "only %d cores are idle", 2);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.cookie, 77);
	assert_int_equal(g.m.type, MSG_ERROR);
	assert_string_equal(g.m.u.error.code, "ENOSPC");
	assert_string_equal(g.m.u.error.message, "only 2 cores are idle");
	assert_false(g.m.sign);
	msg_reply_ok(record, &g, 78);
	assert_int_equal(g.calls, 2);
	assert_int_equal(g.cookie, 78);
	assert_int_equal(g.m.type, MSG_OK);
}

/* ---- the digest ----------------------------------------------------------- */

static void digest_of(const char *text, uint8_t d[MSG_DIGEST_LEN])
{
	char err[512] = "";
	struct msg m;

	if (msg_decode(text, &m, err, sizeof(err)) != 0)
		fail_msg("decoding %s: %s", text, err);
	memcpy(d, m.digest, MSG_DIGEST_LEN);
	msg_free(&m);
}

/* What the sender signs is what the receiver checks. */
static void expect_same_digest(const struct msg *m)
{
	uint8_t sent[MSG_DIGEST_LEN];
	struct msg got;
	char *text = NULL, err[512] = "";

	assert_int_equal(msg_digest(m, sent), 0);
	assert_int_equal(msg_encode(m, &text), 0);
	if (msg_decode(text, &got, err, sizeof(err)) != 0)
		fail_msg("decoding %s: %s", text, err);
	assert_memory_equal(sent, got.digest, MSG_DIGEST_LEN);
	msg_free(&got);
	free(text);
}

static void test_digest_sender_receiver(void **state)
{
	struct msg_node_lease lease;
	struct msg_node_ended ended = {
	    .id = "lease-0-77", .state = "failed", .why = "\"quoted\" é"};
	struct msg m = {.type = MSG_LEASE_ACQUIRE};

	(void)state;
	snprintf(m.cred, sizeof(m.cred), "MUNGE:abc");
	m.u.acquire.workers = 3;
	snprintf(m.u.acquire.lib, sizeof(m.u.acquire.lib), "/opt/fns/é ü/f.so");
	m.u.acquire.time = 60;
	expect_same_digest(&m);

	fill_node(&m);
	memset(&lease, 0, sizeof(lease));
	fill_lease(&lease, "lease-1-77", true);
	m.u.node.nleases = 1;
	m.u.node.leases = &lease;
	m.u.node.nended = 1;
	m.u.node.ended = &ended;
	expect_same_digest(&m);
	m.u.node.gen = 77;
	expect_same_digest(&m);

	/* a heartbeat's: what its session credential is bound to */
	memset(&m, 0, sizeof(m));
	m.type = MSG_HEARTBEAT;
	snprintf(m.cred, sizeof(m.cred), "session:1:ab");
	snprintf(m.u.node.node, sizeof(m.u.node.node), "n1");
	m.u.node.gen = 77;
	expect_same_digest(&m);

	memset(&m, 0, sizeof(m));
	m.type = MSG_LEASE_GRANT;
	snprintf(m.u.grant.id, sizeof(m.u.grant.id), "lease-1");
	m.u.grant.lease = strdup("{\"v\":1,\"workers\":[{\"index\":0,\"cpu\":2}],\"token\":\"ab\","
				 "\"slot_size\":65536,\"x\":1.5,\"y\":null,\"z\":false}");
	expect_same_digest(&m);
	msg_free(&m);

	memset(&m, 0, sizeof(m));
	m.type = MSG_EXEC_START;
	snprintf(m.cred, sizeof(m.cred), "none:0:0:x");
	snprintf(m.u.exec.id, sizeof(m.u.exec.id), "lease-9");
	m.u.exec.uid = m.u.exec.gid = m.u.exec.workers = 1;
	snprintf(m.u.exec.pus, sizeof(m.u.exec.pus), "0-1");
	snprintf(m.u.exec.lib, sizeof(m.u.exec.lib), "/f.so");
	m.u.exec.expires = 1795457874;
	expect_same_digest(&m);
}

static void test_digest_canonical(void **state)
{
	static const char canon[] = "{\"id\":\"L1\",\"type\":\"lease_release\",\"v\":1}";
	uint8_t a[MSG_DIGEST_LEN], b[MSG_DIGEST_LEN], want[MSG_DIGEST_LEN];

	(void)state;
	/* the canonical text, hashed */
	sha256(canon, strlen(canon), want);
	digest_of("{\"v\":1,\"type\":\"lease_release\",\"cred\":\"A\",\"id\":\"L1\"}", a);
	assert_memory_equal(a, want, MSG_DIGEST_LEN);
	/* another order, blanks, an escape, another credential: the same */
	digest_of(" {\n \"id\" : \"L\\u0031\" ,\t\"type\":\"lease_release\", \"cred\":\"B\", "
		  "\"v\":1 } ",
		  b);
	assert_memory_equal(a, b, MSG_DIGEST_LEN);
	/* any field changes it */
	digest_of("{\"v\":1,\"type\":\"lease_release\",\"cred\":\"A\",\"id\":\"L2\"}", b);
	assert_memory_not_equal(a, b, MSG_DIGEST_LEN);
	digest_of("{\"v\":1,\"type\":\"query\",\"cred\":\"A\",\"what\":\"nodes\"}", b);
	assert_memory_not_equal(a, b, MSG_DIGEST_LEN);

	/* nested objects (a lease document) are sorted too; UTF-8 raw or
	 * escaped is the same text */
	digest_of(
	    "{\"v\":1,\"type\":\"lease_grant\",\"id\":\"L1\",\"lease\":{\"b\":\"é\",\"a\":[1,2]}}",
	    a);
	digest_of("{\"lease\":{\"a\":[1, 2],\"b\":\"\\u00e9\"},\"cred\":\"x\",\"id\":\"L1\","
		  "\"type\":\"lease_grant\",\"v\":1}",
		  b);
	assert_memory_equal(a, b, MSG_DIGEST_LEN);
	digest_of(
	    "{\"v\":1,\"type\":\"lease_grant\",\"id\":\"L1\",\"lease\":{\"b\":\"é\",\"a\":[2,1]}}",
	    b);
	assert_memory_not_equal(a, b, MSG_DIGEST_LEN);
}

/* A lease grant's cred is optional on the wire (the receiver decides),
 * and still a string when present. */
static void test_grant_cred(void **state)
{
	struct msg m = {.type = MSG_LEASE_GRANT}, out;

	(void)state;
	snprintf(m.u.grant.id, sizeof(m.u.grant.id), "lease-1");
	m.u.grant.lease = strdup("{\"v\":1}");
	snprintf(m.cred, sizeof(m.cred), "none:0:0:x");
	out = round_trip(&m);
	assert_string_equal(out.cred, "none:0:0:x");
	msg_free(&out);
	m.cred[0] = '\0';
	out = round_trip(&m);
	assert_string_equal(out.cred, "");
	msg_free(&out);
	msg_free(&m);
	refuse("{\"v\":1,\"type\":\"lease_grant\",\"cred\":7,\"id\":\"L\",\"lease\":{}}",
	       "\"cred\" must be a string");
	refuse("{\"v\":1,\"type\":\"lease_grant\",\"cred\":\"\",\"id\":\"L\",\"lease\":{}}",
	       "\"cred\" must have 1 to");
}

static void test_usage_records(void **state)
{
	struct msg_usage u, out;
	char *text = NULL, err[256] = "";

	(void)state;
	fill_usage(&u);
	assert_int_equal(msg_usage_encode(&u, &text), 0);
	assert_null(strchr(text, '\n'));
	assert_int_equal(msg_usage_decode(text, &out, err, sizeof(err)), 0);
	assert_memory_equal(&out, &u, sizeof(u));
	free(text);
	/* strict, as messages are */
	assert_int_equal(msg_usage_decode("[]", &out, err, sizeof(err)), -EPROTO);
	assert_int_equal(msg_usage_decode("{\"id\":\"x\"}", &out, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "uid"));
	u.state[0] = 'x';
	assert_int_equal(msg_usage_encode(&u, &text), 0);
	assert_int_equal(msg_usage_decode(text, &out, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "state"));
	free(text);
}

/* A query for usage takes by, since, user and host_job; others do not. */
static void test_usage_query_refusals(void **state)
{
	struct msg m;
	char err[256];

	(void)state;
	assert_int_equal(msg_decode("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":"
				    "\"usage\",\"by\":\"group\"}",
				    &m, err, sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "by"));
	assert_int_equal(msg_decode("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":"
				    "\"nodes\",\"since\":5}",
				    &m, err, sizeof(err)),
			 -EPROTO);
	assert_int_equal(msg_decode("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":"
				    "\"records\",\"host_job\":0}",
				    &m, err, sizeof(err)),
			 -EPROTO);
	assert_int_equal(msg_decode("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":"
				    "\"records\",\"user\":-1}",
				    &m, err, sizeof(err)),
			 -EPROTO);
}

/* Pages and filters: a query's from, state (nodes), min_cores (gaps) and
 * user (leases, executors) travel; a result's next too; each only where
 * it means something. */
static void test_query_pages_and_filters(void **state)
{
	struct msg m = {.type = MSG_QUERY}, out, all = {.type = MSG_RESULT};
	char err[256];

	(void)state;
	snprintf(m.cred, sizeof(m.cred), "c");
	m.u.query = MSG_QUERY_NODES;
	m.filter.from = 4097;
	snprintf(m.filter.state, sizeof(m.filter.state), "down");
	out = round_trip(&m);
	assert_int_equal(out.filter.from, 4097);
	assert_string_equal(out.filter.state, "down");
	m.filter = (struct msg_usage_filter){.min_cores = 4};
	m.u.query = MSG_QUERY_GAPS;
	out = round_trip(&m);
	assert_int_equal(out.filter.min_cores, 4);
	assert_int_equal(out.filter.from, 0);
	m.filter = (struct msg_usage_filter){.has_user = true, .user = 1000, .from = 3};
	m.u.query = MSG_QUERY_LEASES;
	out = round_trip(&m);
	assert_true(out.filter.has_user);
	assert_int_equal(out.filter.user, 1000);
	assert_int_equal(out.filter.from, 3);
	assert_false(out.filter.stream);
	/* streamed: every page on the connection (paged queries only) */
	m.filter.stream = true;
	out = round_trip(&m);
	assert_true(out.filter.stream);
	m.u.query = MSG_QUERY_EXECUTORS;
	assert_true(round_trip(&m).filter.stream);
	assert_int_equal(msg_decode("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":"
				    "\"gaps\",\"stream\":1}",
				    &out, err, sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "\"stream\""));
	assert_int_equal(msg_decode("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":"
				    "\"usage\",\"by\":\"user\",\"since\":0,\"stream\":true}",
				    &out, err, sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "unknown field \"stream\""));

	/* the size bound holds for every kind of row */
	for (unsigned q = MSG_QUERY_NODES; q <= MSG_QUERY_RECORDS; q++) {
		char *text = NULL;

		fill_result(&m, (enum msg_query)q);
		m.u.result.next = UINT64_C(1) << 62;
		assert_int_equal(msg_encode(&m, &text), 0);
		assert_true(strlen(text) <= msg_result_size_bound(&m));
		assert_true(msg_result_size_bound(&m) < 3 * strlen(text));
		free(text);
		msg_free(&m);
	}
	all.u.result.what = MSG_QUERY_NODES; /* no rows yet */
	assert_int_equal(msg_result_size_bound(&all), 128);
	all.type = MSG_OK;
	assert_true(msg_result_size_bound(&all) == SIZE_MAX);
	all.type = MSG_RESULT;
	fill_result(&m, MSG_QUERY_NODES);
	m.u.result.next = 1ull << 41;
	out = round_trip(&m);
	assert_int_equal(out.u.result.next, 1ull << 41);
	/* pages assembled for printing */
	all.u.result.what = MSG_QUERY_NODES;
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(msg_result_append(&all, &out), 0);
	assert_int_equal(all.u.result.nrows, 3 * out.u.result.nrows);
	assert_memory_equal(&all.u.result.rows[2 * out.u.result.nrows], out.u.result.rows,
			    out.u.result.nrows * sizeof(union msg_row));
	all.u.result.what = MSG_QUERY_GAPS;
	assert_int_equal(msg_result_append(&all, &out), -EINVAL);
	msg_free(&all);
	msg_free(&out);
	msg_free(&m);

	refuse("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":\"nodes\",\"state\":\"gone\"}",
	       "state");
	refuse("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":\"gaps\",\"state\":\"up\"}",
	       "state");
	refuse("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":\"nodes\",\"min_cores\":2}",
	       "min_cores");
	refuse("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":\"gaps\",\"min_cores\":0}",
	       "min_cores");
	refuse("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":\"nodes\",\"user\":5}", "user");
	refuse("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":\"leases\",\"from\":0}",
	       "from");
	refuse("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":\"usage\",\"from\":7}", "from");
	refuse("{\"v\":1,\"type\":\"result\",\"what\":\"nodes\",\"items\":[],\"next\":-1}", "next");
	assert_int_equal(msg_decode("{\"v\":1,\"type\":\"query\",\"cred\":\"c\",\"what\":"
				    "\"executors\",\"user\":5,\"from\":9}",
				    &m, err, sizeof(err)),
			 0);
	assert_int_equal(m.filter.user, 5);
	assert_int_equal(m.filter.from, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trips),
	    cmocka_unit_test(test_query_pages_and_filters),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_acquire_limits),
	    cmocka_unit_test(test_node_state_round_trip),
	    cmocka_unit_test(test_exec_drain_round_trips),
	    cmocka_unit_test(test_memory_lease),
	    cmocka_unit_test(test_node_state_refusals),
	    cmocka_unit_test(test_exec_drain_refusals),
	    cmocka_unit_test(test_encode_refuses),
	    cmocka_unit_test(test_result_round_trips),
	    cmocka_unit_test(test_usage_records),
	    cmocka_unit_test(test_usage_query_refusals),
	    cmocka_unit_test(test_result_json),
	    cmocka_unit_test(test_page_writer_escapes),
	    cmocka_unit_test(test_page_writer_bad_utf8),
	    cmocka_unit_test(test_page_boundaries),
	    cmocka_unit_test(test_reader_as_json),
	    cmocka_unit_test(test_result_refusals),
	    cmocka_unit_test(test_result_builder),
	    cmocka_unit_test(test_reply_helpers),
	    cmocka_unit_test(test_digest_sender_receiver),
	    cmocka_unit_test(test_digest_canonical),
	    cmocka_unit_test(test_grant_cred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
