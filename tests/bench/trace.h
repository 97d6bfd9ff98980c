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
	int64_t status;	     /* field 11: 1 completed, 0 failed, 5 cancelled, 2-4 partial */
	double mem_fraction; /* synthetic: memory used, as a fraction of the node's; -1 */
	size_t usage_first;  /* its usage samples: usage[usage_first..+nusage) */
	unsigned nusage;
};

/* A measured idle fraction of a job's cores from `at` seconds after its start. */
struct trace_usage {
	int64_t job_id, at;
	double idle;
};

/* The replayed jobs by SWF status (field 11). */
enum trace_status { TRACE_COMPLETED, TRACE_FAILED, TRACE_CANCELLED, TRACE_OTHER, TRACE_STATUSES };

struct trace {
	struct trace_job *jobs; /* by submit time */
	size_t njobs, cap;
	size_t skipped; /* SWF: well-formed jobs that held no nodes (run or procs <= 0) */
	size_t by_status[TRACE_STATUSES]; /* SWF: kept jobs by status */
	int64_t max_nodes, max_procs;	  /* SWF header "; MaxNodes:", "; MaxProcs:", or 0 */
	struct trace_usage *usage;	  /* by job (in jobs[] order), then time */
	size_t nusage, usage_unmatched;	  /* samples of jobs not in the trace, left out */
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
 * are comments; the header's "; MaxNodes: N" and "; MaxProcs: N" (the
 * machine's shape) are kept and must be positive whole numbers. Blank
 * lines are skipped; every other line must hold exactly 18 numbers
 * (fields 1-5, 8, 9, 11-18 whole numbers, -1 or more; fields 6, 7 and 10
 * may have decimals). Every job that held nodes (run time and processors
 * > 0) is kept whatever its status (failed and cancelled jobs that ran
 * held their nodes too), counted in t->by_status; the others are counted
 * in t->skipped. Jobs are sorted by submit time; max_jobs > 0 keeps the
 * first max_jobs kept jobs. A bad line makes the whole trace refused: up
 * to TRACE_MAX_ERRORS "NAME:LINE: what" messages go to errf, and -EINVAL
 * is returned (t then empty); -ENOMEM on allocation failure; 0 on success.
 */
int trace_parse_swf(FILE *f, const char *name, size_t max_jobs, struct trace *t, FILE *errf);

/*
 * Reads per-job usage samples for t (after trace_parse_swf) from f: one
 * sample a line, "JOB_ID SECONDS IDLE_FRACTION" (the job's cores that are
 * idle, 0 to 1, from SECONDS after the job's start until its next sample:
 * e.g. from Slurm's jobacct_gather or TACC Stats); '#' starts a comment.
 * Samples of jobs that are not in t are counted in t->usage_unmatched. They
 * replace t's samples; a bad line refuses the file as trace_parse_swf does
 * (-EINVAL, t unchanged); -EIO, -ENOMEM (t unchanged); 0.
 */
int trace_parse_usage(FILE *f, const char *name, struct trace *t, FILE *errf);

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
 * days of 0, a load outside (0, 4]; -ENOMEM. Jobs have status 1, no
 * wait time (-1: the replay schedules them), procs a multiple of cores.
 */
int trace_synthetic(const struct trace_synth *s, struct trace *t);

/* Writes t as SWF (18 fields a line) with a short header (its shape). */
int trace_write_swf(const struct trace *t, FILE *f);

#endif
