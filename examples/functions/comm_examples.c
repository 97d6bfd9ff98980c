/*
 * comm_examples: functions with a communicator (faas.h, "Messaging among a
 * lease's workers"), started on every worker of a lease at once by
 * faas_invoke_all. Linked with libfaas, which implements faas_send,
 * faas_recv and the collectives.
 *
 *   pi     Monte Carlo estimate of pi: rank r draws its share of the
 *          samples from its own seeded generator (pi_kernel.h), the hits
 *          are summed with faas_allreduce; every rank returns the total.
 *   ring   passes a counter around the ranks (faas_send/faas_recv), then
 *          checks faas_barrier, faas_bcast, faas_reduce and faas_gather;
 *          returns what it saw, for tests.
 *   allsum after a barrier, in[1] times faas_allreduce (sum) of a double
 *          vector of in[0] bytes, or (in[2] = 1) in[1] faas_barrier: the
 *          kernel of faas-comm-bench.
 *   wait   rank 0 waits for a message nobody sends: ends by the job's
 *          timeout, an eviction or a gone rank (tests).
 */
#include "faas.h"
#include "faas_function.h"
#include "pi_kernel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

FAAS_FUNCTION_EXPORT const char *const faas_functions[] = {"pi:comm", "ring:comm", "allsum:comm",
							   "wait:comm", NULL};

FAAS_FUNCTION_EXPORT int pi(struct faas_comm *comm, const void *in, size_t in_len, void *out,
			    size_t out_cap, size_t *out_len);
FAAS_FUNCTION_EXPORT int ring(struct faas_comm *comm, const void *in, size_t in_len, void *out,
			      size_t out_cap, size_t *out_len);
FAAS_FUNCTION_EXPORT int allsum(struct faas_comm *comm, const void *in, size_t in_len, void *out,
				size_t out_cap, size_t *out_len);
FAAS_FUNCTION_EXPORT int wait(struct faas_comm *comm, const void *in, size_t in_len, void *out,
			      size_t out_cap, size_t *out_len);

/* in: struct pi_job; out: int64 total hits, int64 total samples. */
int pi(struct faas_comm *comm, const void *in, size_t in_len, void *out, size_t out_cap,
       size_t *out_len)
{
	struct pi_job job;
	int64_t mine[2], all[2];
	int rc;

	if (in_len != sizeof(job) || out_cap < sizeof(all))
		return FAAS_EINVAL;
	memcpy(&job, in, sizeof(job));
	mine[1] = (int64_t)pi_share(&job, faas_comm_rank(comm), faas_comm_size(comm));
	mine[0] = (int64_t)pi_hits(&job, faas_comm_rank(comm), faas_comm_size(comm));
	rc = faas_allreduce(comm, mine, all, 2, FAAS_INT64, FAAS_SUM);
	if (rc)
		return rc;
	memcpy(out, all, sizeof(all));
	*out_len = sizeof(all);
	return 0;
}

/* out: int32 [token after the ring, bcast value, reduce max at root (or
 * -1), gather ok at root (1, or -1 elsewhere)]. */
int ring(struct faas_comm *comm, const void *in, size_t in_len, void *out, size_t out_cap,
	 size_t *out_len)
{
	int rank = faas_comm_rank(comm), size = faas_comm_size(comm);
	int32_t token = 0, res[4] = {-1, -1, -1, -1}, v, *all;
	int rc;

	(void)in;
	(void)in_len;
	if (out_cap < sizeof(res))
		return FAAS_EINVAL;
	/* the ring: rank 0 starts, each adds its rank + 1 */
	if (rank == 0) {
		token = 1;
		rc = size > 1 ? faas_send(comm, 1 % size, 7, &token, sizeof(token)) : 0;
		if (!rc && size > 1)
			rc = faas_recv(comm, size - 1, 7, &token, sizeof(token), NULL);
	} else {
		rc = faas_recv(comm, rank - 1, 7, &token, sizeof(token), NULL);
		token += rank + 1;
		if (!rc)
			rc = faas_send(comm, (rank + 1) % size, 7, &token, sizeof(token));
	}
	if (!rc)
		rc = faas_barrier(comm);
	v = rank == size - 1 ? 4242 : 0;
	if (!rc)
		rc = faas_bcast(comm, size - 1, &v, sizeof(v));
	res[0] = token;
	res[1] = v;
	v = rank * 10;
	if (!rc)
		rc = faas_reduce(comm, 0, &v, &res[2], 1, FAAS_INT32, FAAS_MAX);
	all = calloc((size_t)size, sizeof(*all));
	if (!all)
		return FAAS_ENOMEM;
	v = rank + 100;
	if (!rc)
		rc = faas_gather(comm, 0, &v, sizeof(v), all);
	if (!rc && rank == 0) {
		res[3] = 1;
		for (int r = 0; r < size; r++)
			if (all[r] != r + 100)
				res[3] = 0;
	}
	free(all);
	if (rank != 0)
		res[2] = -1;
	if (rc)
		return rc;
	memcpy(out, res, sizeof(res));
	*out_len = sizeof(res);
	return 0;
}

/* in: uint32 bytes, repeats, what (0 allreduce, 1 barrier); out: double,
 * the sum of element 0 (allreduce). */
int allsum(struct faas_comm *comm, const void *in, size_t in_len, void *out, size_t out_cap,
	   size_t *out_len)
{
	uint32_t arg[3];
	double *a, *b;
	size_t n;
	int rc;

	if (in_len != sizeof(arg) || out_cap < sizeof(double))
		return FAAS_EINVAL;
	memcpy(arg, in, sizeof(arg));
	n = arg[0] / sizeof(double);
	a = calloc(n ? n : 1, sizeof(double));
	b = calloc(n ? n : 1, sizeof(double));
	if (!a || !b) {
		free(a);
		free(b);
		return FAAS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		a[i] = faas_comm_rank(comm) + 1;
	rc = faas_barrier(comm);
	for (uint32_t k = 0; !rc && k < arg[1]; k++)
		rc = arg[2] == 1 ? faas_barrier(comm)
				 : faas_allreduce(comm, a, b, n, FAAS_DOUBLE, FAAS_SUM);
	memcpy(out, n ? b : a, sizeof(double));
	*out_len = sizeof(double);
	free(a);
	free(b);
	return rc;
}

int wait(struct faas_comm *comm, const void *in, size_t in_len, void *out, size_t out_cap,
	 size_t *out_len)
{
	char c;

	(void)in;
	(void)in_len;
	(void)out;
	(void)out_cap;
	*out_len = 0;
	if (faas_comm_rank(comm) == 0)
		return faas_recv(comm, faas_comm_size(comm) - 1, 99, &c, 1, NULL);
	return faas_barrier(comm); /* never completes without rank 0 */
}
