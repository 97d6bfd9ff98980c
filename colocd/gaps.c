/*
 * gaps: the gap set of a node (design.md section 3). gaps_compute checks the
 * ledger, then builds, in order: host_busy (the steps' PUs plus the batch
 * step's cores), the candidates (unallocated PUs when the site allows, the
 * consenting jobs' idle PUs) minus every core touching host_busy, the
 * MaxLendFraction cap, GPUs, memory headroom and the deadline. Everything is
 * on the stack (cpumasks and a PU-to-core map); no state, no locking.
 */
#include "config.h"

#include "gaps.h"

#include <errno.h>
#include <string.h>

/* PU number -> index in topo->cores[], or -1 for a PU of no core. */
struct pu_map {
	int core[CPUMASK_MAX];
};

static void pu_map_build(const struct topology *topo, struct pu_map *map)
{
	for (unsigned c = 0; c < CPUMASK_MAX; c++)
		map->core[c] = -1;
	for (unsigned i = 0; i < topo->ncores; i++)
		for (int pu = cpumask_next(&topo->cores[i].pus, 0); pu >= 0;
		     pu = pu + 1 < CPUMASK_MAX ? cpumask_next(&topo->cores[i].pus, (unsigned)pu + 1)
					       : -1)
			map->core[pu] = (int)i;
}

/* Iterates over the set PUs of a mask. */
#define for_each_pu(pu, m)                                                                         \
	for (int pu = cpumask_next((m), 0); pu >= 0;                                               \
	     pu = pu + 1 < CPUMASK_MAX ? cpumask_next((m), (unsigned)pu + 1) : -1)

static bool cpumask_intersects(const struct cpumask *a, const struct cpumask *b)
{
	struct cpumask both;

	cpumask_and(&both, a, b);
	return !cpumask_empty(&both);
}

/* The whole cores (all their PUs) of the cores holding any PU of m. */
static void whole_cores(const struct topology *topo, const struct pu_map *map,
			const struct cpumask *m, struct cpumask *out)
{
	struct cpumask res;

	cpumask_clear(&res);
	for_each_pu(pu, m)
	{
		if (map->core[pu] >= 0)
			cpumask_or(&res, &res, &topo->cores[map->core[pu]].pus);
	}
	*out = res;
}

/* Checks one job against the topology, the node's GPUs and its own steps. */
static int job_check(const struct topology *topo, uint32_t node_gpus, const struct host_job *j)
{
	if (!cpumask_subset(&j->pus, &topo->all_pus) || (j->gpus & ~node_gpus))
		return -EINVAL;
	if (j->nsteps > GAPS_MAX_STEPS)
		return -EINVAL;
	for (unsigned s = 0; s < j->nsteps; s++) {
		const struct host_step *st = &j->steps[s];

		if (!cpumask_subset(&st->pus, &j->pus) || (st->gpus & ~j->gpus))
			return -EINVAL;
	}
	return 0;
}

/*
 * The PUs a job's running steps use: the steps' PUs, plus, when the batch
 * step runs, the job's PUs on its batch_step_cores lowest-indexed cores that
 * no other step touches.
 */
static void job_busy(const struct topology *topo, const struct host_job *j,
		     unsigned batch_step_cores, struct cpumask *busy)
{
	unsigned taken = 0;

	cpumask_clear(busy);
	for (unsigned s = 0; s < j->nsteps; s++)
		cpumask_or(busy, busy, &j->steps[s].pus);
	if (!j->batch_running)
		return;
	for (unsigned i = 0; i < topo->ncores && taken < batch_step_cores; i++) {
		const struct topo_core *c = &topo->cores[i];
		struct cpumask mine;

		cpumask_and(&mine, &c->pus, &j->pus);
		if (cpumask_empty(&mine) || cpumask_intersects(&c->pus, busy))
			continue;
		cpumask_or(busy, busy, &mine);
		taken++;
	}
}

/*
 * Keeps at most limit PUs of cand: the unallocated first, then those not in
 * near (the cache neighbours of host_busy), then the rest, each tier by PU
 * number.
 */
static void cap_lendable(struct cpumask *cand, const struct cpumask *unallocated,
			 const struct cpumask *near, unsigned limit)
{
	struct cpumask tier[3], kept;
	unsigned n = 0;

	if (cpumask_count(cand) <= limit)
		return;
	cpumask_and(&tier[0], cand, unallocated);
	cpumask_andnot(&tier[1], cand, unallocated);
	cpumask_and(&tier[2], &tier[1], near);
	cpumask_andnot(&tier[1], &tier[1], near);
	cpumask_clear(&kept);
	for (int t = 0; t < 3 && n < limit; t++) {
		for_each_pu(pu, &tier[t])
		{
			if (n == limit)
				break;
			cpumask_set(&kept, (unsigned)pu);
			n++;
		}
	}
	*cand = kept;
}

/* a - b, at least 0; a + b, at most UINT64_MAX. */
static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}
static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* The memory a job keeps for itself: its need when it consents and says one. */
static uint64_t job_reservation(const struct host_job *j)
{
	if (j->consent && j->mem_need && j->mem_need < j->mem_bytes)
		return j->mem_need;
	return j->mem_bytes;
}

int gaps_compute(const struct topology *topo, uint64_t node_mem, uint32_t node_gpus,
		 const struct host_job *jobs, unsigned njobs, const struct gap_policy *p,
		 struct node_gap *out)
{
	struct cpumask allocated, unallocated, busy, cand, near;
	struct pu_map map;
	uint32_t gpus_allocated = 0, gpus_lendable = 0;
	uint64_t reserved = 0, slack = 0, mem;
	unsigned limit;
	double cap;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->until = INT64_MAX;
	if (!topo || !p || (njobs && !jobs))
		return -EINVAL;
	if (!(p->max_lend_fraction >= 0.0 && p->max_lend_fraction <= 1.0))
		return -EINVAL; /* NaN too */

	/* The ledger: disjoint allocations inside the node, steps inside jobs. */
	cpumask_clear(&allocated);
	for (unsigned i = 0; i < njobs; i++) {
		const struct host_job *j = &jobs[i];

		if (job_check(topo, node_gpus, j) != 0 || cpumask_intersects(&j->pus, &allocated) ||
		    (j->gpus & gpus_allocated))
			return -EINVAL;
		cpumask_or(&allocated, &allocated, &j->pus);
		gpus_allocated |= j->gpus;
	}

	pu_map_build(topo, &map);

	/* What the host runs, and the candidates. */
	cpumask_andnot(&unallocated, &topo->all_pus, &allocated);
	cpumask_clear(&busy);
	cpumask_clear(&cand);
	if (p->lend_unallocated) {
		cand = unallocated;
		gpus_lendable = node_gpus & ~gpus_allocated;
	}
	for (unsigned i = 0; i < njobs; i++) {
		const struct host_job *j = &jobs[i];
		struct cpumask used, idle;
		uint32_t gpus_used = 0;

		job_busy(topo, j, p->batch_step_cores, &used);
		cpumask_or(&busy, &busy, &used);
		if (!j->consent)
			continue;
		cpumask_andnot(&idle, &j->pus, &used);
		cpumask_or(&cand, &cand, &idle);
		for (unsigned s = 0; s < j->nsteps; s++)
			gpus_used |= j->steps[s].gpus;
		gpus_lendable |= j->gpus & ~gpus_used;
	}
	out->host_busy = busy;

	/* Never a core that runs a step, even on its other PUs. */
	whole_cores(topo, &map, &busy, &near);
	cpumask_andnot(&cand, &cand, &near);

	/* MaxLendFraction, keeping the least intrusive PUs. */
	cap = p->max_lend_fraction * (double)topo->npus + 1e-9; /* 0.29 * 100 is 28.99...96 */
	limit = cap > (double)CPUMASK_MAX ? CPUMASK_MAX : (unsigned)cap; /* floor: cap >= 0 */
	topology_cache_neighbours(topo, &busy, &near);
	cap_lendable(&cand, &unallocated, &near, limit);
	out->lendable = cand;
	cpumask_and(&out->unallocated, &cand, &unallocated);
	out->gpus_lendable = gpus_lendable;

	/* Memory from headroom only. */
	for (unsigned i = 0; i < njobs; i++) {
		uint64_t r = job_reservation(&jobs[i]);

		reserved = add_sat(reserved, r);
		if (jobs[i].consent)
			slack = add_sat(slack, jobs[i].mem_bytes - r);
	}
	mem = sub0(sub0(node_mem, reserved), p->memory_margin);
	if (!p->lend_unallocated && mem > slack)
		mem = slack;
	out->mem_lendable = mem;

	/* Never outlive a host job whose resources are lent. */
	for (unsigned i = 0; i < njobs; i++) {
		const struct host_job *j = &jobs[i];

		if (!j->consent || j->end_time <= 0)
			continue;
		if ((cpumask_intersects(&j->pus, &out->lendable) || (j->gpus & gpus_lendable)) &&
		    j->end_time < out->until)
			out->until = j->end_time;
	}
	return 0;
}

void gaps_reclaim(const struct cpumask *lent, const struct cpumask *wanted, struct cpumask *evict)
{
	cpumask_and(evict, lent, wanted);
}
