/*
 * gaps: the gap set of a node, what may be lent now (design.md section 3,
 * "What is idle, and who wins"), computed from the node's topology, its
 * memory and GPUs, the ledger of host jobs and their running steps, and the
 * site's policy. Pure logic: no I/O, no state, no allocation; thread-safe.
 */
#ifndef COLOC_GAPS_H
#define COLOC_GAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "cpumask.h"
#include "topology.h"

#define GAPS_MAX_STEPS 64

struct host_step {
	uint32_t step_id;
	struct cpumask pus; /* its PUs on this node (a subset of its job's) */
	uint64_t mem_bytes;
	uint32_t gpus; /* bitmask of GPU indexes (a subset of its job's) */
};

struct host_job {
	uint32_t job_id;
	uint32_t uid;
	struct cpumask pus; /* allocated PUs on this node */
	uint64_t mem_bytes; /* allocated memory on this node */
	uint64_t
	    mem_need;	  /* --faas-host-mem: what it declares it needs; 0 = its whole allocation */
	uint32_t gpus;	  /* allocated GPUs (bitmask) */
	bool consent;	  /* --faas-host (or the site default) */
	int64_t end_time; /* its time limit (unix seconds); 0 or less: none */
	/* Running steps. The batch step may be one of them with no PUs given:
	 * its cores are batch_running's business. */
	unsigned nsteps;
	struct host_step steps[GAPS_MAX_STEPS];
	/* The batch step runs: it counts as using batch_step_cores whole cores
	 * of the job (the lowest-indexed cores holding the job's PUs that no
	 * other step touches). */
	bool batch_running;
};

struct gap_policy {
	bool lend_unallocated;	   /* LendUnallocated: lend what no job holds */
	unsigned batch_step_cores; /* BatchStepCores: cores the batch step counts as using */
	uint64_t memory_margin;	   /* bytes of memory never lent */
	double max_lend_fraction;  /* MaxLendFraction, 0..1: at most floor(f * npus) PUs lent */
};

struct node_gap {
	struct cpumask lendable;    /* PUs that may be lent now */
	struct cpumask unallocated; /* of those, PUs no job holds */
	struct cpumask host_busy;   /* PUs running host steps (executors must avoid them and
				       prefer not sharing caches with them) */
	uint64_t mem_lendable;
	uint32_t gpus_lendable;
	int64_t until; /* the earliest end_time of a job whose PUs or GPUs are in the gap,
			  or INT64_MAX when only unallocated ones (or none) are */
};

/*
 * Computes the gap set of a node into out.
 *
 * topo: the node's cores; node_mem: its memory in bytes; node_gpus: bitmask
 * of its GPUs; jobs[njobs]: the host jobs on the node (the ledger); p: the
 * site's policy.
 *
 * Rules (design.md section 3):
 * - PUs no job holds are lendable only with p->lend_unallocated.
 * - A consenting job lends the PUs of its allocation that no running step
 *   uses; the batch step (batch_running) uses p->batch_step_cores whole
 *   cores. A non-consenting job lends nothing.
 * - No lent PU shares a core with a PU in host_busy (all jobs' running
 *   steps, consenting or not): "an executor never shares a core with a
 *   running step".
 * - GPUs alike: unallocated ones with lend_unallocated, a consenting job's
 *   GPUs that none of its steps uses.
 * - Memory comes from headroom, never from a job's limit: node_mem minus
 *   each job's reservation (min(mem_need, mem_bytes) for a consenting job
 *   that declares mem_need, else mem_bytes) minus p->memory_margin, at least
 *   0. Without lend_unallocated it is also at most what the consenting jobs
 *   leave of their allocations (sum of mem_bytes - reservation), so that
 *   memory no job holds is not lent either.
 * - At most floor(max_lend_fraction * topo->npus) PUs are lendable; when the
 *   cap bites, unallocated PUs are kept first, then PUs whose cores share no
 *   L2/L3 with host_busy, then the lowest-numbered.
 * - until: the earliest positive end_time of the consenting jobs whose PUs
 *   or GPUs remain in the gap.
 *
 * Returns 0, or -EINVAL (out then cleared) for invalid input: overlapping
 * job allocations (PUs or GPUs), a job's PUs outside topo or its GPUs outside
 * node_gpus, a step's PUs or GPUs outside its job's, nsteps over
 * GAPS_MAX_STEPS, a max_lend_fraction outside 0..1, or a NULL pointer.
 */
int gaps_compute(const struct topology *topo, uint64_t node_mem, uint32_t node_gpus,
		 const struct host_job *jobs, unsigned njobs, const struct gap_policy *p,
		 struct node_gap *out);

/*
 * The lent PUs an incoming step or job wants back, to evict: evict = lent &
 * wanted. evict may alias either input.
 */
void gaps_reclaim(const struct cpumask *lent, const struct cpumask *wanted, struct cpumask *evict);

#endif
