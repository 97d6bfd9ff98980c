/*
 * comm_ops: what a struct faas_comm is, shared by libfaas (which
 * implements faas_send, faas_recv and the collectives on top of it) and by
 * the side that owns a communicator (faas-executor's comm module). Not
 * installed: function libraries see struct faas_comm as opaque.
 */
#ifndef FAAS_COMM_OPS_H
#define FAAS_COMM_OPS_H

#include "faas.h"

#include <stddef.h>

/* Tags below 0 are the collectives' own: a user's faas_send needs tag >= 0. */
enum comm_tag {
	COMM_TAG_BARRIER = -2,
	COMM_TAG_BCAST = -3,
	COMM_TAG_REDUCE = -4,
	COMM_TAG_GATHER = -5,
	COMM_TAG_ALLREDUCE = -6,
	COMM_TAG_HELLO = -7 /* executor/comm.c: a first contact */
};

struct faas_comm_ops {
	/* As faas_send/faas_recv, any tag, ranks already checked. */
	int (*send)(struct faas_comm *comm, int dst, int tag, const void *buf, size_t len);
	int (*recv)(struct faas_comm *comm, int src, int tag, void *buf, size_t cap, size_t *len);
};

struct faas_comm {
	const struct faas_comm_ops *ops;
	int rank, size;
};

#endif
