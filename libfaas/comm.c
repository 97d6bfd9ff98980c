/*
 * comm: the function-side messaging API of faas.h (faas_send, faas_recv)
 * and the collectives, built on the two operations of the communicator's
 * owner (comm_ops.h). No state of its own: every call works on the comm
 * it is given, in the caller's thread.
 *
 * Algorithms (p ranks): barrier by dissemination (ceil(log2 p) rounds of
 * one empty message each way); bcast, reduce and gather through the root
 * (p is a lease's workers, tens at most); allreduce by recursive doubling
 * when p is a power of two (log2 p exchanges of the whole vector), else
 * reduce to rank 0 and bcast.
 */
#include "config.h"

#include "comm_ops.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int faas_comm_rank(const struct faas_comm *comm)
{
	return comm ? comm->rank : FAAS_EINVAL;
}

int faas_comm_size(const struct faas_comm *comm)
{
	return comm ? comm->size : FAAS_EINVAL;
}

static int rank_ok(const struct faas_comm *comm, int r)
{
	return r >= 0 && r < comm->size;
}

int faas_send(struct faas_comm *comm, int dst, int tag, const void *buf, size_t len)
{
	if (!comm || !rank_ok(comm, dst) || tag < 0 || (len && !buf) || len > UINT32_MAX)
		return FAAS_EINVAL;
	return comm->ops->send(comm, dst, tag, buf, len);
}

int faas_recv(struct faas_comm *comm, int src, int tag, void *buf, size_t cap, size_t *len)
{
	if (!comm || !rank_ok(comm, src) || tag < 0 || (cap && !buf))
		return FAAS_EINVAL;
	return comm->ops->recv(comm, src, tag, buf, cap, len);
}

/* Receives exactly len bytes (a collective's message). */
static int recv_exact(struct faas_comm *comm, int src, int tag, void *buf, size_t len)
{
	size_t got = 0;
	int rc = comm->ops->recv(comm, src, tag, buf, len, &got);

	if (rc == FAAS_OK && got != len)
		return FAAS_EINVAL; /* ranks called the collective with different sizes */
	return rc;
}

int faas_barrier(struct faas_comm *comm)
{
	int rc = FAAS_OK;

	if (!comm)
		return FAAS_EINVAL;
	for (int k = 1; rc == FAAS_OK && k < comm->size; k <<= 1) {
		rc =
		    comm->ops->send(comm, (comm->rank + k) % comm->size, COMM_TAG_BARRIER, NULL, 0);
		if (rc == FAAS_OK)
			rc = recv_exact(comm, (comm->rank - k + comm->size) % comm->size,
					COMM_TAG_BARRIER, NULL, 0);
	}
	return rc;
}

int faas_bcast(struct faas_comm *comm, int root, void *buf, size_t len)
{
	int rc = FAAS_OK;

	if (!comm || !rank_ok(comm, root) || (len && !buf) || len > UINT32_MAX)
		return FAAS_EINVAL;
	if (comm->rank != root)
		return recv_exact(comm, root, COMM_TAG_BCAST, buf, len);
	for (int r = 0; rc == FAAS_OK && r < comm->size; r++)
		if (r != root)
			rc = comm->ops->send(comm, r, COMM_TAG_BCAST, buf, len);
	return rc;
}

static size_t type_size(enum faas_type type)
{
	switch (type) {
	case FAAS_INT32:
	case FAAS_FLOAT:
		return 4;
	case FAAS_INT64:
	case FAAS_DOUBLE:
		return 8;
	}
	return 0;
}

#define COMBINE(T, acc, in, n, op)                                                                 \
	do {                                                                                       \
		T *a_ = (T *)(acc);                                                                \
		const T *b_ = (const T *)(in);                                                     \
		for (size_t i_ = 0; i_ < (n); i_++) {                                              \
			if ((op) == FAAS_SUM)                                                      \
				a_[i_] += b_[i_];                                                  \
			else if ((op) == FAAS_MIN ? b_[i_] < a_[i_] : b_[i_] > a_[i_])             \
				a_[i_] = b_[i_];                                                   \
		}                                                                                  \
	} while (0)

/* acc[i] = acc[i] op in[i] for count elements. */
static void combine(void *acc, const void *in, size_t count, enum faas_type type, enum faas_op op)
{
	switch (type) {
	case FAAS_INT32:
		COMBINE(int32_t, acc, in, count, op);
		break;
	case FAAS_INT64:
		COMBINE(int64_t, acc, in, count, op);
		break;
	case FAAS_FLOAT:
		COMBINE(float, acc, in, count, op);
		break;
	case FAAS_DOUBLE:
		COMBINE(double, acc, in, count, op);
		break;
	}
}

static int reduce_args_ok(const struct faas_comm *comm, const void *in, size_t count,
			  enum faas_type type, enum faas_op op)
{
	size_t es = type_size(type);

	return comm && es && (unsigned)op <= FAAS_MAX && (!count || in) && count <= UINT32_MAX / es;
}

/* Reduction into acc (len bytes, holding this rank's contribution) at root. */
static int reduce_to(struct faas_comm *comm, int root, void *acc, size_t count, enum faas_type type,
		     enum faas_op op)
{
	size_t len = count * type_size(type);
	void *tmp;
	int rc = FAAS_OK;

	if (comm->rank != root)
		return comm->ops->send(comm, root, COMM_TAG_REDUCE, acc, len);
	tmp = malloc(len ? len : 1);
	if (!tmp)
		return FAAS_ENOMEM;
	for (int r = 0; rc == FAAS_OK && r < comm->size; r++) {
		if (r == root)
			continue;
		rc = recv_exact(comm, r, COMM_TAG_REDUCE, tmp, len);
		if (rc == FAAS_OK)
			combine(acc, tmp, count, type, op);
	}
	free(tmp);
	return rc;
}

int faas_reduce(struct faas_comm *comm, int root, const void *in, void *out, size_t count,
		enum faas_type type, enum faas_op op)
{
	size_t len;
	void *acc;
	int rc;

	if (!reduce_args_ok(comm, in, count, type, op) || !rank_ok(comm, root) ||
	    (comm->rank == root && count && !out))
		return FAAS_EINVAL;
	len = count * type_size(type);
	acc = comm->rank == root ? out : malloc(len ? len : 1);
	if (!acc)
		return FAAS_ENOMEM;
	if (len && acc != in)
		memmove(acc, in, len);
	rc = reduce_to(comm, root, acc, count, type, op);
	if (acc != out)
		free(acc);
	return rc;
}

int faas_allreduce(struct faas_comm *comm, const void *in, void *out, size_t count,
		   enum faas_type type, enum faas_op op)
{
	size_t len;
	void *tmp;
	int rc = FAAS_OK;

	if (!reduce_args_ok(comm, in, count, type, op) || (count && !out))
		return FAAS_EINVAL;
	len = count * type_size(type);
	if (len && out != in)
		memmove(out, in, len);
	if (comm->size & (comm->size - 1)) { /* not a power of two */
		rc = reduce_to(comm, 0, out, count, type, op);
		return rc == FAAS_OK ? faas_bcast(comm, 0, out, len) : rc;
	}
	tmp = malloc(len ? len : 1);
	if (!tmp)
		return FAAS_ENOMEM;
	/* recursive doubling: the partner's partial result, combined in the
	 * same order on both sides (lower rank's first) so that every rank
	 * ends with the same bits, floating point included */
	for (int k = 1; rc == FAAS_OK && k < comm->size; k <<= 1) {
		int partner = comm->rank ^ k;

		rc = comm->ops->send(comm, partner, COMM_TAG_ALLREDUCE, out, len);
		if (rc == FAAS_OK)
			rc = recv_exact(comm, partner, COMM_TAG_ALLREDUCE, tmp, len);
		if (rc != FAAS_OK)
			break;
		if (partner < comm->rank) {
			combine(tmp, out, count, type, op);
			memcpy(out, tmp, len);
		} else {
			combine(out, tmp, count, type, op);
		}
	}
	free(tmp);
	return rc;
}

int faas_gather(struct faas_comm *comm, int root, const void *in, size_t len, void *out)
{
	int rc = FAAS_OK;

	if (!comm || !rank_ok(comm, root) || (len && !in) || len > UINT32_MAX ||
	    (comm->rank == root && len && !out))
		return FAAS_EINVAL;
	if (comm->rank != root)
		return comm->ops->send(comm, root, COMM_TAG_GATHER, in, len);
	if (len)
		memmove((char *)out + (size_t)root * len, in, len);
	for (int r = 0; rc == FAAS_OK && r < comm->size; r++)
		if (r != root)
			rc = recv_exact(comm, r, COMM_TAG_GATHER, (char *)out + (size_t)r * len,
					len);
	return rc;
}
