/*
 * comm: a worker's side of messaging among a lease's workers (faas.h's
 * struct faas_comm, common/comm_wire.h's formats). One struct comm per
 * worker, used by the worker's thread only: it buffers the comm messages
 * that arrive (for the job running now or for one that has not started
 * here yet) and runs a comm function's job (comm_run), during which it
 * polls the worker's endpoint itself and hands every other event back to
 * the worker (env.defer).
 */
#ifndef COLOC_COMM_H
#define COLOC_COMM_H

#include "fnlib.h"
#include "transport.h"
#include "wire.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct comm_env {
	struct transport *t;	 /* the worker's endpoint */
	const uint8_t *token;	 /* the lease's (WIRE_TOKEN_LEN bytes) */
	const atomic_bool *stop; /* set on eviction: the job aborts */
	unsigned worker;	 /* for log messages */
	bool yield;		 /* workers share cores: a wait that finds nothing yields */
	void (*defer)(void *arg, const struct transport_event *ev); /* not a comm event */
	void *arg;
};

struct comm;

/* Allocates the state; the env's pointers must outlive it. NULL (errno). */
struct comm *comm_create(const struct comm_env *env);
void comm_destroy(struct comm *c);

/* Takes a control message if it is a comm message (true: consumed, kept
 * or dropped with a bounded log line); false for anything else. */
bool comm_on_msg(struct comm *c, const void *data, size_t len);

/* Runs fn as one rank of the job whose comm header starts in[0..in_len):
 * fn gets the input after the header, and its return code goes to *fn_rc.
 * Returns 0, or -EINVAL/-ENOMEM when the job cannot start (a malformed
 * header, an unusable address: err says what; fn did not run). *job_status
 * is 0, or the FAAS_E* code that ended the job (eviction, a gone rank, the
 * timeout) whatever fn returned. */
int comm_run(struct comm *c, fnlib_comm_fn *fn, const void *in, size_t in_len, void *out,
	     size_t out_cap, size_t *out_len, int *fn_rc, int *job_status, char *err,
	     size_t errlen);

#endif
