/*
 * test_comm: executor/comm.c (a worker's communicator) with libfaas/comm.c
 * (faas_send, faas_recv, the collectives) and common/comm_wire.c, over
 * mock_transport.c. The test plays the other ranks: it queues their comm
 * messages, runs one rank's job with comm_run, and checks what that rank
 * took and sent. It attacks as a process without the lease token: forged
 * data and aborts, for the running job and with its id, must be dropped.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "comm.h"
#include "comm_wire.h"
#include "faas.h"
#include "mock_transport.h"

#define JOB 0x1122334455667788ull

static const uint8_t token[WIRE_TOKEN_LEN] = {1, 2,  3,	 4,  5,	 6,  7,	 8,
					      9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t wrong[WIRE_TOKEN_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0};
static atomic_bool stop;
static unsigned deferred;

static void defer(void *arg, const struct transport_event *ev)
{
	(void)arg;
	(void)ev;
	deferred++;
}

struct fixture {
	struct transport *t;
	struct comm *c;
	uint8_t in[1024];
	size_t in_len;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct transport_opts o = {0};
	char err[128];

	mock_reset();
	atomic_store(&stop, false);
	deferred = 0;
	assert_int_equal(transport_open(&o, &f->t, err, sizeof(err)), 0);
	f->c = comm_create(&(struct comm_env){
	    .t = f->t, .token = token, .stop = &stop, .worker = 0, .defer = defer});
	assert_non_null(f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	comm_destroy(f->c);
	transport_close(f->t);
	free(f);
	return 0;
}

/* The request of rank `rank` of a job of `size` ranks, with input text. */
static void job_input(struct fixture *f, unsigned rank, unsigned size, uint32_t timeout_ms,
		      const char *text)
{
	static const uint8_t addr[4][3] = {
	    {'a', 'd', '0'}, {'a', 'd', '1'}, {'a', 'd', '2'}, {'a', 'd', '3'}};
	struct comm_hdr *h = calloc(1, sizeof(*h));
	size_t lens[4];

	h->rank = rank;
	h->size = size;
	h->job = JOB;
	h->timeout_ms = timeout_ms;
	for (unsigned r = 0; r < size; r++) {
		h->addr[r] = addr[r];
		h->addr_len[r] = 3;
		lens[r] = 3;
	}
	assert_true(comm_hdr_size(size, lens) + strlen(text) <= sizeof(f->in));
	f->in_len = comm_hdr_encode(h, f->in);
	memcpy(f->in + f->in_len, text, strlen(text));
	f->in_len += strlen(text);
	free(h);
}

/* A comm message from rank src, as the fabric would deliver it. */
static void queue(const uint8_t *tok, uint8_t kind, int src, int tag, uint32_t seq,
		  const char *data, int status)
{
	struct comm_msg m = {.kind = kind,
			     .job = JOB,
			     .src = src,
			     .tag = tag,
			     .seq = seq,
			     .total = data ? (uint32_t)strlen(data) : 0,
			     .status = status,
			     .chunk = data,
			     .chunk_len = data ? (uint32_t)strlen(data) : 0};
	uint8_t buf[WIRE_MSG_MAX];

	memcpy(m.token, tok, WIRE_TOKEN_LEN);
	mock_queue_msg(buf, comm_msg_encode(&m, buf));
}

/* Rank 0's function: receives tag 5 from rank 1 into out. */
static int recv_fn(struct faas_comm *comm, const void *in, size_t in_len, void *out, size_t out_cap,
		   size_t *out_len)
{
	(void)in;
	(void)in_len;
	return faas_recv(comm, 1, 5, out, out_cap, out_len);
}

static void test_header(void **state)
{
	struct fixture *f = *state;
	struct comm_hdr *h = calloc(1, sizeof(*h));

	job_input(f, 1, 2, 1000, "xyz");
	assert_int_equal(comm_hdr_decode(f->in, f->in_len, h), 0);
	assert_int_equal(h->rank, 1);
	assert_int_equal(h->size, 2);
	assert_true(h->job == JOB);
	assert_int_equal(h->len, f->in_len - 3);
	assert_memory_equal(h->addr[1], "ad1", 3);
	/* plain input (no magic), truncated addresses, rank out of range */
	assert_int_equal(comm_hdr_decode("hello, world, and more bytes here!", 34, h), -EPROTO);
	assert_int_equal(comm_hdr_decode(f->in, h->len - 1, h), -EINVAL);
	f->in[8] = 2; /* rank 2 of 2 */
	assert_int_equal(comm_hdr_decode(f->in, f->in_len, h), -EINVAL);
	free(h);
}

static void test_forged_data_dropped(void **state)
{
	struct fixture *f = *state;
	char out[16] = "";
	size_t out_len = 0;
	int fn_rc = -99, st = -99;
	char err[128];

	job_input(f, 0, 2, 5000, "");
	/* another user's process, without the token, answers first */
	queue(wrong, COMM_DATA, 1, 5, 0, "forged", 0);
	queue(wrong, COMM_ABORT, 1, 0, 0, NULL, FAAS_EEVICTED);
	queue(token, COMM_DATA, 1, 5, 0, "genuine", 0);
	assert_int_equal(comm_run(f->c, recv_fn, f->in, f->in_len, out, sizeof(out), &out_len,
				  &fn_rc, &st, err, sizeof(err)),
			 0);
	assert_int_equal(fn_rc, 0);
	assert_int_equal(st, 0);
	assert_int_equal(out_len, 7);
	assert_memory_equal(out, "genuine", 7);
}

static void test_abort_from_rank(void **state)
{
	struct fixture *f = *state;
	char out[16];
	size_t out_len = 0;
	int fn_rc = 0, st = 0;
	char err[128];

	job_input(f, 0, 2, 5000, "");
	queue(token, COMM_ABORT, 1, 0, 0, NULL, FAAS_EEVICTED);
	assert_int_equal(comm_run(f->c, recv_fn, f->in, f->in_len, out, sizeof(out), &out_len,
				  &fn_rc, &st, err, sizeof(err)),
			 0);
	assert_int_equal(fn_rc, FAAS_EEVICTED);
	assert_int_equal(st, FAAS_EEVICTED);
}

static void test_stop_aborts_everyone(void **state)
{
	struct fixture *f = *state;
	char out[16];
	size_t out_len = 0;
	int fn_rc = 0, st = 0;
	char err[128];
	struct comm_msg m;

	job_input(f, 0, 2, 5000, "");
	atomic_store(&stop, true);
	assert_int_equal(comm_run(f->c, recv_fn, f->in, f->in_len, out, sizeof(out), &out_len,
				  &fn_rc, &st, err, sizeof(err)),
			 0);
	assert_int_equal(fn_rc, FAAS_EEVICTED);
	assert_int_equal(st, FAAS_EEVICTED);
	/* rank 1 was told, with the lease's token */
	assert_true(mock.nmsgs >= 1);
	assert_int_equal(
	    comm_msg_decode(mock.msgs[mock.nmsgs - 1].data, mock.msgs[mock.nmsgs - 1].len, &m), 0);
	assert_int_equal(m.kind, COMM_ABORT);
	assert_int_equal(m.status, FAAS_EEVICTED);
	assert_memory_equal(m.token, token, WIRE_TOKEN_LEN);
}

static void test_timeout(void **state)
{
	struct fixture *f = *state;
	char out[16];
	size_t out_len = 0;
	int fn_rc = 0, st = 0;
	char err[128];

	job_input(f, 0, 2, 50, "");
	assert_int_equal(comm_run(f->c, recv_fn, f->in, f->in_len, out, sizeof(out), &out_len,
				  &fn_rc, &st, err, sizeof(err)),
			 0);
	assert_int_equal(fn_rc, FAAS_ETIMEDOUT);
	assert_int_equal(st, FAAS_ETIMEDOUT);
}

static void test_plain_input_refused(void **state)
{
	struct fixture *f = *state;
	char out[16];
	size_t out_len = 0;
	int fn_rc = 0, st = 0;
	char err[128] = "";

	assert_int_equal(comm_run(f->c, recv_fn, "plain input bytes, no header...", 31, out,
				  sizeof(out), &out_len, &fn_rc, &st, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "faas_invoke_all"));
}

/* Rank 1 of 2: a barrier (one message each way) then an allreduce. */
static int collective_fn(struct faas_comm *comm, const void *in, size_t in_len, void *out,
			 size_t out_cap, size_t *out_len)
{
	int64_t v = 5, sum = 0;
	int rc;

	(void)in;
	(void)in_len;
	(void)out_cap;
	rc = faas_barrier(comm);
	if (!rc)
		rc = faas_allreduce(comm, &v, &sum, 1, FAAS_INT64, FAAS_SUM);
	memcpy(out, &sum, sizeof(sum));
	*out_len = sizeof(sum);
	return rc;
}

static void test_collectives(void **state)
{
	struct fixture *f = *state;
	int64_t sum = 0, seven = 7;
	size_t out_len = 0;
	int fn_rc = -99, st = -99;
	char err[128];
	struct comm_msg m = {.kind = COMM_DATA,
			     .job = JOB,
			     .src = 0,
			     .tag = -6,
			     .seq = 1,
			     .total = 8,
			     .chunk = &seven,
			     .chunk_len = 8};
	uint8_t buf[WIRE_MSG_MAX];

	job_input(f, 1, 2, 5000, "");
	queue(token, COMM_DATA, 0, -2, 0, NULL, 0); /* rank 0's barrier message */
	memcpy(m.token, token, WIRE_TOKEN_LEN);
	mock_queue_msg(buf, comm_msg_encode(&m, buf));
	assert_int_equal(comm_run(f->c, collective_fn, f->in, f->in_len, &sum, sizeof(sum),
				  &out_len, &fn_rc, &st, err, sizeof(err)),
			 0);
	assert_int_equal(fn_rc, 0);
	assert_int_equal(sum, 12);
	/* late messages of the finished job are dropped, not kept */
	assert_true(comm_on_msg(f->c, buf, comm_msg_encode(&m, buf)));
	assert_false(comm_on_msg(f->c, "not a comm message", 18));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forged_data_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_abort_from_rank, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_aborts_everyone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plain_input_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_collectives, setup, teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
