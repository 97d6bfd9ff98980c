/*
 * replay: a job trace replayed on a simulated cluster through colocd's own
 * gap computation (gaps_compute, the node agent's) and lease placement
 * (placement_*, the controller's), serving a stream of function tasks on
 * what the gaps offer. The model is described in replay.c's header.
 * Single-threaded; replay_run owns everything it allocates.
 */
#ifndef COLOC_REPLAY_H
#define COLOC_REPLAY_H

#include <stdint.h>

#include "gaps.h"
#include "placement.h"
#include "trace.h"

struct replay_params {
	unsigned nodes, cores;
	uint64_t node_mem;
	uint64_t seed;
	int64_t window_start, window_end; /* accounting window, trace seconds */
	struct gap_policy policy;	  /* the node agent's (colocd.conf) */
	double consent;			  /* fraction of jobs that lend (--faas-host) */
	double mem_need_factor;		  /* --faas-host-mem = factor x memory used */
	/* host jobs' idle cores */
	double idle_median, idle_sigma; /* lognormal fraction of a node's cores */
	double phase_mean_s;		/* mean length of a usage phase */
	/* function demand: tasks of fn_workers workers x fn_seconds */
	unsigned fn_workers;
	int64_t fn_seconds;
	double fn_rate_per_min; /* task arrivals per minute; 0: a backlog that never empties */
	uint64_t fn_mem;	/* per worker */
	enum place_mode mode;
	bool no_gap_cache; /* call gaps_compute for every change (slower, same results) */
};

/* Core-seconds unless said otherwise. */
struct replay_result {
	double total, allocated, idle_in_alloc, unallocated;
	double lendable, lendable_unalloc; /* what the node agents offered */
	double fn_on_idle, fn_on_unalloc;  /* lease-occupied, by where */
	double fn_completed, fn_lost;	   /* work of completed / evicted leases */
	uint64_t leases, completions, evictions, evictions_mem;
	uint64_t tasks_arrived, tasks_waiting;
	uint64_t jobs, jobs_started, jobs_too_big, jobs_waited;
	double mean_wait_s;	  /* from arrival (submit, or a recorded start) to start */
	double inefficiency_mean; /* the trace's 1 - cpu/run by processor-seconds; 0: none */
	/* cluster-wide samples every 10 minutes in the window */
	unsigned nsamples;
	double idle_frac_mean, idle_frac_median, idle_frac_p95; /* idle-in-allocation / total */
	double unalloc_frac_mean;
	/* node samples (each allocated node, every 10 min): idle cores / cores */
	double node_idle_median, node_idle_p95;
	uint64_t gap_computations;
};

/*
 * Replays trace t (jobs by submit time) with p. Returns 0 and fills *res,
 * -EINVAL for bad parameters (err says which), -ENOMEM.
 */
int replay_run(const struct trace *t, const struct replay_params *p, struct replay_result *res,
	       char *err, size_t errlen);

#endif
