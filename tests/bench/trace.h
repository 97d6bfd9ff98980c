/*
 * trace: the job traces faas-trace-replay replays, read from the Standard
 * Workload Format (SWF, Feitelson's Parallel Workloads Archive) or
 * generated from documented distributions (trace.c's header), and the
 * seeded random numbers both the generator and the replay draw from.
 * Plain data, no globals; a struct trace owns its jobs (trace_fini).
 */
#ifndef COLOC_TRACE_H
#define COLOC_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* splitmix64: small, seeded, the same sequence on every machine. */
struct trace_rng {
	uint64_t state;
};

void trace_rng_seed(struct trace_rng *r, uint64_t seed);
uint64_t trace_rng_next(struct trace_rng *r);
/* Uniform in [0, 1), 53 bits. */
double trace_rng_uniform(struct trace_rng *r);
/* Exponential with the given mean. */
double trace_rng_exp(struct trace_rng *r, double mean);
/* Normal (Box-Muller, one of the pair). */
double trace_rng_normal(struct trace_rng *r);

/*
 * One job. Times in seconds from the trace's origin. -1 where the trace
 * does not know (SWF's convention).
 */
struct trace_job {
	int64_t id;
	int64_t submit, wait, run;
	int64_t procs;	     /* allocated processors (SWF field 5) */
	double cpu_time;     /* average CPU time used per processor, s (field 6) */
	double mem_kib;	     /* used memory per processor, KiB (field 7) */
	int64_t req_time;    /* requested time, s (field 9): the time limit */
	int64_t status;	     /* 1 completed (field 11) */
	double mem_fraction; /* synthetic: memory used, as a fraction of the node's; -1 */
};

struct trace {
	struct trace_job *jobs; /* by submit time */
	size_t njobs, cap;
	size_t skipped;	   /* SWF: well-formed jobs left out (status != 1, no run time, no procs) */
	int64_t max_procs; /* SWF header "; MaxProcs:", or 0 */
};

/* Makes room for one more item in a realloc'ed array of *cap items of size
 * bytes (doubling, first items the first time) when n == *cap. 0 or -ENOMEM
 * (*items then untouched). */
int trace_grow(void **items, size_t n, size_t *cap, size_t size, size_t first);

void trace_init(struct trace *t);
void trace_fini(struct trace *t);

#define TRACE_MAX_ERRORS 20

/*
 * Reads an SWF trace from f (name for messages). Lines starting with ';'
 * are comments (the "; MaxProcs: N" header is kept); blank lines are
 * skipped; every other line must hold exactly 18 numbers (fields 1-5, 8,
 * 9, 11-18 whole numbers, -1 or more; fields 6, 7 and 10 may have
 * decimals). Only completed jobs (status 1) with a run time and processors
 * (> 0) are kept: failed, cancelled and partial jobs are counted in
 * t->skipped. Jobs are sorted by submit time; max_jobs > 0 keeps the first
 * max_jobs kept jobs. A bad line makes the whole trace refused: up to
 * TRACE_MAX_ERRORS "NAME:LINE: what" messages go to errf, and -EINVAL is
 * returned (t then empty); -ENOMEM on allocation failure; 0 on success.
 */
int trace_parse_swf(FILE *f, const char *name, size_t max_jobs, struct trace *t, FILE *errf);

struct trace_synth {
	uint64_t seed;
	unsigned nodes, cores;
	double days;	 /* submissions span [0, days) */
	size_t max_jobs; /* 0: no limit */
	double load;	 /* offered load, node-seconds per node-second */
	unsigned max_job_nodes;
};

/*
 * Generates a synthetic trace (distributions in trace.c's header), the same
 * for the same parameters on every machine. -EINVAL for nodes, cores or
 * days of 0, a load outside (0, 4]; -ENOMEM. Jobs have status 1, wait 0,
 * procs a multiple of cores.
 */
int trace_synthetic(const struct trace_synth *s, struct trace *t);

/* Writes t as SWF (18 fields a line) with a short header. */
int trace_write_swf(const struct trace *t, FILE *f);

#endif
