/*
 * spares: the node agent's pool of spare executors, started ahead of
 * leases (sandbox_spare_start) so that a lease does not wait for a
 * program linked with libfabric to start. Each spare comes with its
 * channel (the agent's end of its fd 0) and the read end of its output
 * pipe, which become its lease's. A spare that dies before any lease took
 * it is replaced after 1 s, doubling up to a minute. Also the way a lease
 * gets an executor when no spare waits: spares_start_one.
 *
 * One thread owns a pool; nothing here waits, except spares_stop.
 */
#ifndef COLOC_SPARES_H
#define COLOC_SPARES_H

#include "coloc_config.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SPARES_MAX CONFIG_SPARE_EXECUTORS_MAX

/* A started spare executor: its process, its channel, its output. */
struct spare_exec {
	pid_t pid;	  /* 0: none */
	int chan;	  /* the agent's end of its fd 0; -1 once closed (it exits) */
	int output;	  /* read end of its fds 1-2 (non-blocking); -1 */
	int64_t since_ms; /* when the pool started it */
};

struct spares {
	struct spare_exec slot[SPARES_MAX];
	int64_t next_ms[SPARES_MAX];  /* when an empty slot may start one */
	unsigned retries[SPARES_MAX]; /* failures in a row */
	unsigned want;		      /* SpareExecutors */
	const char *executor;	      /* the faas-executor to start; NULL: none */
	char provider[64];
};

void spares_init(struct spares *p, const char *executor, const char *provider, unsigned want);

/* Starts one executor now, outside the pool: what a lease uses when no
 * spare waits. 0 or -errno with err. */
int spares_start_one(const struct spares *p, struct spare_exec *out, char *err, size_t errlen);

/* Keeps `want` spares started (now_ms: clock_ms()); retires those beyond
 * it; drains what waiting spares write (to colocd's log at debug level). */
void spares_tick(struct spares *p, int64_t now_ms);

/* Takes a waiting spare for a lease, if any: the one started first (the
 * likeliest to have loaded libfabric), raised from SCHED_IDLE at once so
 * that one still loading is not starved on a busy node. True with *out
 * (the caller owns its channel and output from now on). */
bool spares_take(struct spares *p, int64_t now_ms, struct spare_exec *out);

/* Ends every spare: each exits when its channel closes, killed after 2 s. */
void spares_stop(struct spares *p);

/* Closes what the caller holds of an executor that never got its lease,
 * kills it and reaps it. */
void spares_discard(struct spare_exec *s);

#endif
