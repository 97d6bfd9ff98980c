/*
 * test_msg: common/msg.c, the control plane's messages. Every type round
 * trips; decoding refuses, with a message naming the field, everything a
 * peer could get wrong: not JSON, not an object, another protocol version,
 * an unknown type or field, a missing, mistyped or out-of-range field, a
 * relative library path, a cpu list with other characters, a NUL inside a
 * string, a duplicate key.
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
	m.type = MSG_RESULT;
	m.u.result.what = MSG_QUERY_LEASES;
	m.u.result.items = strdup("[{\"id\":\"lease-1\"}]");
	out = round_trip(&m);
	assert_int_equal(out.u.result.what, MSG_QUERY_LEASES);
	assert_string_equal(out.u.result.items, "[{\"id\":\"lease-1\"}]");
	msg_free(&out);
	msg_free(&m);
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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trips),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_encode_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
