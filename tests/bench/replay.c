/*
 * replay: a discrete-event replay of a job trace through colocd's gap
 * computation and placement policy (replay.h).
 *
 * The model:
 *   - nodes x cores, one PU per core, two sockets (an L3 each, a private L2
 *     per core: "package:2 l3:1 l2:N core:1 pu:1", hwloc synthetic), node_mem
 *     bytes each, no GPUs;
 *   - jobs get whole nodes (exclusive, as on Piz Daint and LLNL Atlas):
 *     ceil(procs/cores) nodes, the lowest-numbered free ones. A job whose
 *     trace has its wait time enters the queue when it started (submit +
 *     wait), one without at its submit time; the queue is scheduled with
 *     EASY backfilling, as Slurm's backfill does: jobs start in arrival order
 *     while they fit; the first that does not gets a reservation at the
 *     earliest time enough running jobs reach their time limit (the shadow
 *     time), and a later job starts now if it fits and either ends (by its
 *     limit) before the shadow time or needs no more than the nodes the
 *     reservation leaves over. So a job with a recorded start starts then
 *     unless the nodes are not free (then it waits, counted in
 *     jobs_waited). Jobs run for their run time and hold a time limit of
 *     their requested time (at least the run time), which is also the
 *     scheduler's estimate;
 *   - on each node a job runs one step on its busy cores (the lowest-
 *     numbered) and, on its first node, the batch step; the rest of its cores
 *     are idle in the allocation. Usage changes in phases of exponential
 *     length (mean phase_mean_s: 9 min gives 89 % of idle periods < 20 min,
 *     Daint's figure); each phase draws, per node, the idle fraction of the
 *     cores the job works on from a lognormal (median idle_median, sigma
 *     idle_sigma: 3.46 %, 1.18 give Daint's median, a mean of ~6.9 % and a
 *     p95 of ~24 %), clipped to 1, rounded stochastically to cores. An SWF
 *     job with a CPU time (efficiency e = cpu/run) shifts its lognormal's
 *     median in proportion to its inefficiency against the trace's mean
 *     (e_mean, weighted by processor-seconds): idle_median x (1 - e) /
 *     (1 - e_mean), so the trace-wide mean stays at the calibration while
 *     less efficient jobs idle more cores and efficient ones fewer, and
 *     every phase still draws (most inefficiency is partial use of every
 *     core, not whole idle cores). A job with usage samples (trace.h)
 *     replays them instead: each sample sets the idle fraction from its
 *     time on. Cores beyond an SWF job's processors on its last node are
 *     idle too;
 *   - memory used: the trace's, else U(5 %, 35 %) of the node; a consenting
 *     job declares --faas-host-mem of mem_need_factor x that, in whole GiB;
 *   - the node agent: after every change on a node, gaps_compute() on its
 *     ledger with the site's gap_policy, exactly as colocd's agent does;
 *     leases whose PUs leave the gap, whose host job starts on their PUs
 *     (the prolog reclaims) or that would outlive the gap are evicted, then
 *     leases over the memory headroom, largest first; the rest are reported
 *     with the gap to placement_update(), as the controller's push() does;
 *   - the functions: tasks of fn_workers workers x fn_seconds, each worker
 *     one PU and fn_mem, placed with placement_place() (all or none) in
 *     arrival order, whenever something changed; an evicted task loses its
 *     work and goes back to the head of the queue. Arrivals are Poisson at
 *     fn_rate_per_min, or a backlog that never empties (fn_rate_per_min 0).
 * Everything is integrated exactly between events over the accounting window.
 *
 * Data: jobs[], nodes[] (each with its lease shares), a lease pool with a
 * free list, a binary heap of events (lazy deletion by generation), the
 * wait queue (arrival order) and the running jobs. No globals;
 * single-threaded.
 */
#include "config.h"

#include "replay.h"

#include "topology.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1ull << 30)
#define SAMPLE_S 600
#define HIST_BINS 101
#define NONE UINT32_MAX
#define GAP_CACHE 8192 /* entries, a power of two */

enum ev_kind { EV_LEASE_END, EV_JOB_END, EV_JOB_SUBMIT, EV_PHASE, EV_TASK, EV_SAMPLE };
enum job_state { JOB_FUTURE, JOB_WAITING, JOB_RUNNING, JOB_DONE };

struct ev {
	int64_t t;
	uint32_t kind, idx, gen;
};

struct rjob {
	int64_t queued, start, end, limit;
	int64_t limit_s; /* its time limit, s: the scheduler's estimate */
	uint32_t *nodes;
	unsigned nnodes, last_work; /* cores it works on on its last node */
	uint64_t mem_use, mem_need;
	double idle_median;  /* of its phases' lognormal */
	double idle_now;     /* usage samples: the current sample's fraction */
	unsigned next_usage; /* usage samples: the next one */
	uint32_t run_slot;   /* its index in running[] */
	bool consent;
	uint8_t state;
};

/* Core counts a node adds to the cluster-wide sums. */
struct contrib {
	long alloc, idle, lendable, lendable_unalloc, on_idle, on_unalloc;
};

struct rnode {
	uint32_t job;	  /* NONE: unallocated */
	uint32_t gap_job; /* the job at the last gap computation */
	bool batch, dirty;
	unsigned idle; /* idle cores (truth) */
	struct cpumask leased;
	uint64_t leased_mem;
	uint32_t *shares; /* lease ids with a share here */
	unsigned nshares;
	struct contrib c;
};

struct rlease {
	int64_t start, end;
	struct place_assignment *a;
	unsigned nshares;
	uint32_t gen;
	bool active;
};

/*
 * A computed gap and its near-host PUs, cached by everything gaps_compute
 * reads from a ledger of whole-node jobs except the job's end time: whether
 * a job holds the node, its busy cores, batch step, consent and declared
 * memory. until is computed with end_time 1 and set to the job's own when
 * it is 1 (gaps_compute only copies end_time there).
 */
struct gap_entry {
	uint64_t key; /* 0: empty */
	struct node_gap g;
	struct cpumask near;
};

struct sim {
	const struct trace *t;
	const struct replay_params *p;
	struct replay_result *res;
	struct topology *topo;
	struct placement *place;
	struct trace_rng rng;
	struct cpumask *prefix; /* prefix[k]: PUs of cores 0..k-1 */
	struct rjob *jobs;
	struct rnode *nodes;
	uint32_t *share_pool;
	struct rlease *leases;
	struct place_assignment *assign_pool;
	uint32_t *lease_free;
	unsigned nlease_free, max_leases;
	struct ev *heap;
	size_t nheap, heap_cap;
	uint32_t *waitq;
	size_t nwait;
	uint32_t *running; /* running jobs, any order */
	size_t nrunning;
	struct ev *ends;  /* scratch: running jobs by limit (EASY's shadow time) */
	bool sched_dirty; /* a job arrived or ended since the last schedule() */
	uint32_t *dirty;
	unsigned ndirty, free_nodes;
	struct contrib sum;
	int64_t last_t;
	uint64_t tasks_queued; /* UINT64_MAX: backlog */
	double *samples;
	unsigned nsamples, max_samples;
	uint64_t hist[HIST_BINS], hist_n;
	double unalloc_sum, wait_sum;
	struct gap_entry *cache; /* NULL: compute every time (replay_params.no_gap_cache) */
	struct host_job hj;	 /* scratch: 9 KiB */
};

/* ---- events ----------------------------------------------------------------- */

static bool ev_before(const struct ev *a, const struct ev *b)
{
	if (a->t != b->t)
		return a->t < b->t;
	if (a->kind != b->kind)
		return a->kind < b->kind;
	return a->idx < b->idx;
}

static int ev_push(struct sim *s, int64_t t, uint32_t kind, uint32_t idx, uint32_t gen)
{
	void *heap = s->heap;
	size_t i;
	int rc = trace_grow(&heap, s->nheap, &s->heap_cap, sizeof(*s->heap), 4096);

	s->heap = heap;
	if (rc)
		return rc;
	i = s->nheap++;
	s->heap[i] = (struct ev){.t = t, .kind = kind, .idx = idx, .gen = gen};
	while (i && ev_before(&s->heap[i], &s->heap[(i - 1) / 2])) {
		struct ev tmp = s->heap[i];

		s->heap[i] = s->heap[(i - 1) / 2];
		s->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
	return 0;
}

static int ev_cmp(const void *a, const void *b)
{
	return ev_before(a, b) ? -1 : ev_before(b, a);
}

static struct ev ev_pop(struct sim *s)
{
	struct ev top = s->heap[0];
	size_t i = 0;

	s->heap[0] = s->heap[--s->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct ev tmp;

		if (l < s->nheap && ev_before(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->nheap && ev_before(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			break;
		tmp = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = tmp;
		i = m;
	}
	return top;
}

/* ---- accounting ---------------------------------------------------------------- */

/* Adds the sums over [last_t, t] clipped to the window. */
static void integrate(struct sim *s, int64_t t)
{
	int64_t a = s->last_t > s->p->window_start ? s->last_t : s->p->window_start;
	int64_t b = t < s->p->window_end ? t : s->p->window_end;
	struct replay_result *r = s->res;
	double dt;

	s->last_t = t;
	if (b <= a)
		return;
	dt = (double)(b - a);
	r->allocated += dt * (double)s->sum.alloc;
	r->idle_in_alloc += dt * (double)s->sum.idle;
	r->lendable += dt * (double)s->sum.lendable;
	r->lendable_unalloc += dt * (double)s->sum.lendable_unalloc;
	r->fn_on_idle += dt * (double)s->sum.on_idle;
	r->fn_on_unalloc += dt * (double)s->sum.on_unalloc;
}

static void contrib_apply(struct contrib *sum, const struct contrib *c, long sign)
{
	sum->alloc += sign * c->alloc;
	sum->idle += sign * c->idle;
	sum->lendable += sign * c->lendable;
	sum->lendable_unalloc += sign * c->lendable_unalloc;
	sum->on_idle += sign * c->on_idle;
	sum->on_unalloc += sign * c->on_unalloc;
}

/* Recounts node n's leased PUs into the sums (the gap part is set by node_refresh). */
static void node_account_leases(struct sim *s, struct rnode *n)
{
	long leased = (long)cpumask_count(&n->leased);

	contrib_apply(&s->sum, &n->c, -1);
	n->c.on_idle = n->job != NONE ? leased : 0;
	n->c.on_unalloc = n->job != NONE ? 0 : leased;
	contrib_apply(&s->sum, &n->c, 1);
}

static void sample(struct sim *s)
{
	unsigned cores = s->p->cores;
	double total = (double)s->p->nodes * cores;

	if (s->nsamples < s->max_samples)
		s->samples[s->nsamples++] = (double)s->sum.idle / total;
	s->unalloc_sum += (double)(total - (double)s->sum.alloc) / total;
	for (unsigned i = 0; i < s->p->nodes; i++) {
		const struct rnode *n = &s->nodes[i];

		if (n->job == NONE)
			continue;
		s->hist[n->idle * 100 / cores]++;
		s->hist_n++;
	}
}

/* ---- leases ------------------------------------------------------------------- */

static void share_remove(struct rnode *n, uint32_t lease)
{
	for (unsigned i = 0; i < n->nshares; i++)
		if (n->shares[i] == lease) {
			n->shares[i] = n->shares[--n->nshares];
			return;
		}
}

/* Gives lease l's shares back (registry and nodes) and frees it. */
static void lease_drop(struct sim *s, uint32_t l)
{
	struct rlease *ls = &s->leases[l];

	placement_release(s->place, ls->a, ls->nshares);
	for (unsigned i = 0; i < ls->nshares; i++) {
		struct rnode *n = &s->nodes[ls->a[i].node];

		cpumask_andnot(&n->leased, &n->leased, &ls->a[i].pus);
		n->leased_mem -= ls->a[i].mem;
		share_remove(n, l);
		node_account_leases(s, n);
	}
	ls->active = false;
	ls->gen++;
	s->lease_free[s->nlease_free++] = l;
}

static bool in_window(const struct sim *s, int64_t t)
{
	return t >= s->p->window_start && t <= s->p->window_end;
}

/* Work done by a lease from its start (or the window's) to t, core-seconds. */
static double lease_work(const struct sim *s, const struct rlease *ls, int64_t t)
{
	int64_t a = ls->start > s->p->window_start ? ls->start : s->p->window_start;
	int64_t b = t < s->p->window_end ? t : s->p->window_end;

	return b > a ? (double)(b - a) * s->p->fn_workers : 0;
}

static void lease_evict(struct sim *s, uint32_t l, int64_t t, bool mem)
{
	s->res->fn_lost += lease_work(s, &s->leases[l], t);
	if (in_window(s, t)) {
		s->res->evictions++;
		s->res->evictions_mem += mem;
	}
	if (s->tasks_queued != UINT64_MAX)
		s->tasks_queued++;
	lease_drop(s, l);
}

static void lease_end(struct sim *s, uint32_t l, int64_t t)
{
	s->res->fn_completed += lease_work(s, &s->leases[l], t);
	if (in_window(s, t))
		s->res->completions++;
	lease_drop(s, l);
}

/* Places queued tasks while they fit. */
static int serve(struct sim *s, int64_t t)
{
	const struct replay_params *p = s->p;
	struct place_request r = {.workers = p->fn_workers,
				  .mem_per_worker = p->fn_mem,
				  .now = t,
				  .duration_s = p->fn_seconds,
				  .mode = p->mode};

	while (s->tasks_queued && s->nlease_free) {
		uint32_t l = s->lease_free[s->nlease_free - 1];
		struct rlease *ls = &s->leases[l];
		unsigned n = 0;
		int rc;

		rc = placement_place(s->place, &r, ls->a, p->fn_workers, &n, NULL, 0);
		if (rc == -ENOSPC)
			return 0;
		if (rc)
			return rc;
		s->nlease_free--;
		ls->nshares = n;
		ls->start = t;
		ls->end = t + p->fn_seconds;
		ls->active = true;
		for (unsigned i = 0; i < n; i++) {
			struct rnode *nd = &s->nodes[ls->a[i].node];

			cpumask_or(&nd->leased, &nd->leased, &ls->a[i].pus);
			nd->leased_mem += ls->a[i].mem;
			nd->shares[nd->nshares++] = l;
			node_account_leases(s, nd);
		}
		if (s->tasks_queued != UINT64_MAX)
			s->tasks_queued--;
		if (in_window(s, t))
			s->res->leases++;
		rc = ev_push(s, ls->end, EV_LEASE_END, l, ls->gen);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- nodes: the node agent ------------------------------------------------------ */

static void mark_dirty(struct sim *s, uint32_t id)
{
	if (!s->nodes[id].dirty) {
		s->nodes[id].dirty = true;
		s->dirty[s->ndirty++] = id;
	}
}

/* The ledger of node id (one host job or none) into s->hj; returns njobs. */
static unsigned node_ledger(struct sim *s, uint32_t id)
{
	const struct rnode *n = &s->nodes[id];
	const struct rjob *j;
	struct host_job *h = &s->hj;
	unsigned used;

	if (n->job == NONE)
		return 0;
	j = &s->jobs[n->job];
	used = s->p->cores - n->idle;
	h->job_id = n->job + 1;
	h->uid = 1000;
	h->pus = s->topo->all_pus;
	h->mem_bytes = s->p->node_mem;
	h->mem_need = j->mem_need;
	h->gpus = 0;
	h->consent = j->consent;
	h->end_time = j->limit;
	h->nsteps = used ? 1 : 0;
	h->steps[0].step_id = 0;
	h->steps[0].pus = s->prefix[used];
	h->steps[0].mem_bytes = j->mem_use;
	h->steps[0].gpus = 0;
	h->batch_running = n->batch;
	return 1;
}

static uint64_t gap_key(const struct sim *s, uint32_t id)
{
	const struct rnode *n = &s->nodes[id];
	const struct rjob *j;

	if (n->job == NONE)
		return 1;
	j = &s->jobs[n->job];
	return 2 | (uint64_t)n->batch << 2 | (uint64_t)j->consent << 3 |
	       (uint64_t)(s->p->cores - n->idle) << 4 | (j->mem_need / GIB) << 16;
}

/* The node agent's gap of node id now, and its PUs near the host's. */
static int node_gap(struct sim *s, uint32_t id, struct node_gap *g, struct cpumask *near)
{
	unsigned njobs = node_ledger(s, id);
	uint64_t key = gap_key(s, id), h = key * 0x9e3779b97f4a7c15ull;
	struct gap_entry *e = s->cache ? &s->cache[(h >> 32) & (GAP_CACHE - 1)] : NULL;
	int64_t end = njobs ? s->hj.end_time : 0;
	int rc;

	if (e && e->key == key) {
		*g = e->g;
		*near = e->near;
	} else {
		if (e && njobs)
			s->hj.end_time = 1;
		rc = gaps_compute(s->topo, s->p->node_mem, 0, &s->hj, njobs, &s->p->policy, g);
		if (rc)
			return rc;
		s->res->gap_computations++;
		topology_cache_neighbours(s->topo, &g->host_busy, near);
		cpumask_and(near, near, &g->lendable);
		if (e) {
			e->key = key;
			e->g = *g;
			e->near = *near;
		}
	}
	if (e && g->until == 1)
		g->until = end;
	return 0;
}

/* Recomputes node id's gap, evicts what it no longer holds, reports it. */
static int node_refresh(struct sim *s, uint32_t id, int64_t t)
{
	struct rnode *n = &s->nodes[id];
	struct node_gap g;
	struct place_node pn = {.id = id};
	bool prolog = n->job != n->gap_job && n->job != NONE;
	int rc;

	n->dirty = false;
	rc = node_gap(s, id, &g, &pn.near_host);
	if (rc)
		return rc;
	n->gap_job = n->job;
	/* PUs taken back (a step, or a job's prolog), or a lease outliving the gap */
	for (unsigned i = 0; i < n->nshares;) {
		const struct rlease *ls = &s->leases[n->shares[i]];
		const struct place_assignment *a = NULL;

		for (unsigned k = 0; k < ls->nshares; k++)
			if (ls->a[k].node == id)
				a = &ls->a[k];
		if (prolog || !a || !cpumask_subset(&a->pus, &g.lendable) || ls->end > g.until) {
			lease_evict(s, n->shares[i], t, false);
			i = 0; /* shares[] was reordered */
			continue;
		}
		i++;
	}
	/* memory pressure: largest first */
	while (n->leased_mem > g.mem_lendable && n->nshares) {
		uint32_t big = n->shares[0];
		uint64_t big_mem = 0;

		for (unsigned i = 0; i < n->nshares; i++) {
			const struct rlease *ls = &s->leases[n->shares[i]];

			for (unsigned k = 0; k < ls->nshares; k++)
				if (ls->a[k].node == id && ls->a[k].mem > big_mem) {
					big_mem = ls->a[k].mem;
					big = n->shares[i];
				}
		}
		lease_evict(s, big, t, true);
	}
	snprintf(pn.name, sizeof(pn.name), "nid%05u", id);
	pn.lendable = g.lendable;
	pn.unallocated = g.unallocated;
	pn.leased = n->leased;
	pn.mem_free = g.mem_lendable - n->leased_mem;
	pn.until = g.until;
	rc = placement_update(s->place, &pn);
	if (rc)
		return rc;
	contrib_apply(&s->sum, &n->c, -1);
	n->c.alloc = n->job != NONE ? (long)s->p->cores : 0;
	n->c.idle = n->job != NONE ? (long)n->idle : 0;
	n->c.lendable = (long)cpumask_count(&g.lendable);
	n->c.lendable_unalloc = (long)cpumask_count(&g.unallocated);
	contrib_apply(&s->sum, &n->c, 1);
	node_account_leases(s, n);
	return 0;
}

/* ---- jobs ------------------------------------------------------------------------ */

/* Draws the idle cores of job j on node slot k. */
static unsigned draw_idle(struct sim *s, const struct rjob *j, unsigned k)
{
	unsigned cores = s->p->cores;
	unsigned work = k == j->nnodes - 1 ? j->last_work : cores;
	double f = j->idle_now, x;
	unsigned idle;

	if (f < 0) {
		f = exp(log(j->idle_median) + s->p->idle_sigma * trace_rng_normal(&s->rng));
		if (f > 1)
			f = 1;
	}
	x = f * work + trace_rng_uniform(&s->rng);
	idle = (unsigned)x;
	if (idle > work)
		idle = work;
	return cores - work + idle;
}

static int64_t phase_len(struct sim *s)
{
	int64_t d = (int64_t)llround(trace_rng_exp(&s->rng, s->p->phase_mean_s));

	return d < 1 ? 1 : d;
}

/* The job's next usage change after t: its next sample, or a drawn phase until then. */
static int job_next_phase(struct sim *s, uint32_t jid, int64_t t)
{
	const struct rjob *j = &s->jobs[jid];
	const struct trace_job *tj = &s->t->jobs[jid];
	int64_t next = j->idle_now < 0 ? t + phase_len(s) : INT64_MAX;

	if (j->next_usage < tj->nusage) {
		int64_t at = j->start + s->t->usage[tj->usage_first + j->next_usage].at;

		if (at <= next)
			next = at > t ? at : t + 1;
	}
	return next < j->end ? ev_push(s, next, EV_PHASE, jid, 0) : 0;
}

static int job_start(struct sim *s, uint32_t jid, int64_t t)
{
	struct rjob *j = &s->jobs[jid];
	unsigned k = 0;

	const struct trace_job *tj = &s->t->jobs[jid];

	j->nodes = malloc(j->nnodes * sizeof(*j->nodes));
	if (!j->nodes)
		return -ENOMEM;
	j->idle_now = -1;
	j->next_usage = 0;
	if (tj->nusage && s->t->usage[tj->usage_first].at == 0) /* else phases until then */
		j->idle_now = s->t->usage[tj->usage_first].idle, j->next_usage = 1;
	for (uint32_t i = 0; i < s->p->nodes && k < j->nnodes; i++) {
		struct rnode *n = &s->nodes[i];

		if (n->job != NONE)
			continue;
		j->nodes[k] = i;
		n->job = jid;
		n->batch = k == 0;
		n->idle = draw_idle(s, j, k);
		k++;
		mark_dirty(s, i);
	}
	s->free_nodes -= j->nnodes;
	j->run_slot = (uint32_t)s->nrunning;
	s->running[s->nrunning++] = jid;
	j->state = JOB_RUNNING;
	j->start = t;
	j->end = t + s->t->jobs[jid].run;
	j->limit = t + j->limit_s;
	s->res->jobs_started++;
	s->wait_sum += (double)(t - j->queued);
	if (t > j->queued)
		s->res->jobs_waited++;
	if (ev_push(s, j->end, EV_JOB_END, jid, 0))
		return -ENOMEM;
	return job_next_phase(s, jid, t);
}

static void job_end(struct sim *s, uint32_t jid)
{
	struct rjob *j = &s->jobs[jid];

	for (unsigned k = 0; k < j->nnodes; k++) {
		struct rnode *n = &s->nodes[j->nodes[k]];

		n->job = NONE;
		n->batch = false;
		n->idle = 0;
		mark_dirty(s, j->nodes[k]);
	}
	s->free_nodes += j->nnodes;
	s->running[j->run_slot] = s->running[--s->nrunning];
	s->jobs[s->running[j->run_slot]].run_slot = j->run_slot;
	s->sched_dirty = true;
	free(j->nodes);
	j->nodes = NULL;
	j->state = JOB_DONE;
}

static int job_phase(struct sim *s, uint32_t jid, int64_t t)
{
	struct rjob *j = &s->jobs[jid];
	const struct trace_job *tj = &s->t->jobs[jid];

	if (j->state != JOB_RUNNING || t >= j->end)
		return 0;
	/* usage samples due by now: the last of them holds from now on */
	while (j->next_usage < tj->nusage &&
	       j->start + s->t->usage[tj->usage_first + j->next_usage].at <= t)
		j->idle_now = s->t->usage[tj->usage_first + j->next_usage++].idle;
	for (unsigned k = 0; k < j->nnodes; k++) {
		s->nodes[j->nodes[k]].idle = draw_idle(s, j, k);
		mark_dirty(s, j->nodes[k]);
	}
	return job_next_phase(s, jid, t);
}

/*
 * EASY's reservation for a job of need nodes that does not fit now: the
 * shadow time (when enough running jobs have reached their limits) and the
 * nodes left over then (extra).
 */
static void easy_shadow(struct sim *s, unsigned need, int64_t *shadow, unsigned *extra)
{
	unsigned free_then = s->free_nodes;

	for (size_t i = 0; i < s->nrunning; i++) {
		const struct rjob *r = &s->jobs[s->running[i]];

		s->ends[i] = (struct ev){.t = r->limit, .idx = r->nnodes};
	}
	qsort(s->ends, s->nrunning, sizeof(*s->ends), ev_cmp);
	*shadow = INT64_MAX;
	*extra = 0;
	for (size_t i = 0; i < s->nrunning; i++) {
		free_then += s->ends[i].idx;
		if (free_then >= need) {
			*shadow = s->ends[i].t;
			*extra = free_then - need;
			return;
		}
	}
}

/* EASY backfilling over the wait queue (arrival order); see the header. */
static int schedule(struct sim *s, int64_t t)
{
	size_t kept = 0;
	int64_t shadow = 0;
	unsigned extra = 0;
	bool reserved = false;
	int rc = 0;

	if (!s->sched_dirty)
		return 0;
	s->sched_dirty = false;
	for (size_t i = 0; i < s->nwait; i++) {
		uint32_t jid = s->waitq[i];
		const struct rjob *j = &s->jobs[jid];
		bool go = !rc && j->nnodes <= s->free_nodes;

		if (go && reserved) {
			if (j->nnodes <= extra)
				extra -= (t + j->limit_s > shadow) ? j->nnodes : 0;
			else
				go = t + j->limit_s <= shadow;
		}
		if (go) {
			rc = job_start(s, jid, t);
			continue;
		}
		if (!reserved && !rc) {
			easy_shadow(s, j->nnodes, &shadow, &extra);
			reserved = true;
		}
		s->waitq[kept++] = jid;
	}
	s->nwait = kept;
	return rc;
}

/* ---- setup ----------------------------------------------------------------------- */

static void job_prepare(struct sim *s, uint32_t jid, double inefficiency_mean)
{
	const struct trace_job *tj = &s->t->jobs[jid];
	const struct replay_params *p = s->p;
	struct rjob *j = &s->jobs[jid];
	double use;
	int64_t nn = (tj->procs + p->cores - 1) / p->cores;

	j->state = JOB_FUTURE;
	j->queued = tj->submit + (tj->wait > 0 ? tj->wait : 0);
	j->limit_s = tj->req_time > tj->run ? tj->req_time : tj->run;
	if (nn > p->nodes) {
		j->nnodes = 0;
		return;
	}
	j->nnodes = (unsigned)nn;
	j->last_work = (unsigned)(tj->procs - (nn - 1) * p->cores);
	j->idle_median = p->idle_median;
	if (tj->cpu_time >= 0 && inefficiency_mean > 0) {
		double ineff = fmin(fmax(1.0 - tj->cpu_time / (double)tj->run, 0), 1);

		j->idle_median = fmin(fmax(p->idle_median * ineff / inefficiency_mean, 1e-4), 1);
	}
	if (tj->mem_fraction >= 0)
		use = tj->mem_fraction * (double)p->node_mem;
	else if (tj->mem_kib > 0)
		use = tj->mem_kib * 1024.0 * (double)tj->procs / (double)nn;
	else
		use = (0.05 + 0.30 * trace_rng_uniform(&s->rng)) * (double)p->node_mem;
	if (use > (double)p->node_mem)
		use = (double)p->node_mem;
	j->mem_use = (uint64_t)use;
	j->mem_need = 0;
	if (p->mem_need_factor > 0) {
		double need = ceil(use * p->mem_need_factor / (double)GIB) * (double)GIB;

		j->mem_need = need >= (double)p->node_mem ? p->node_mem : (uint64_t)need;
		if (!j->mem_need)
			j->mem_need = GIB;
	}
	j->consent = trace_rng_uniform(&s->rng) < p->consent;
}

/* The trace's mean inefficiency (1 - cpu/run), by processor-seconds; 0 without CPU times. */
static double inefficiency_mean(const struct trace *t)
{
	double idle = 0, all = 0;

	for (size_t i = 0; i < t->njobs; i++) {
		const struct trace_job *j = &t->jobs[i];
		double w = (double)j->procs * (double)j->run;

		if (j->cpu_time < 0 || j->run <= 0 || j->procs <= 0)
			continue;
		idle += w * fmin(fmax(1.0 - j->cpu_time / (double)j->run, 0), 1);
		all += w;
	}
	return all > 0 ? idle / all : 0;
}

static int params_check(const struct trace *t, const struct replay_params *p, char *err,
			size_t errlen)
{
	const char *why = NULL;

	if (!p->nodes || p->nodes > 100000)
		why = "nodes must be 1 to 100000";
	else if (p->cores < 2 || p->cores > 1024 || p->cores % 2)
		why = "cores must be even, 2 to 1024 (two sockets)";
	else if (p->node_mem < GIB)
		why = "node memory must be at least 1 GiB";
	else if (p->window_end <= p->window_start)
		why = "the accounting window is empty";
	else if (!p->fn_workers || p->fn_workers > PLACE_MAX_WORKERS ||
		 p->fn_workers > (uint64_t)p->nodes * p->cores)
		why = "function workers must be 1 to 4096 and at most the cluster's cores";
	else if (p->fn_seconds <= 0)
		why = "function duration must be positive";
	else if (!(p->fn_rate_per_min >= 0))
		why = "function arrival rate must be 0 or more";
	else if (!(p->idle_median > 0 && p->idle_median <= 1) || !(p->idle_sigma >= 0))
		why = "idle median must be in (0, 1] and sigma 0 or more";
	else if (!(p->phase_mean_s >= 1))
		why = "the phase mean must be at least 1 s";
	else if (!(p->consent >= 0 && p->consent <= 1))
		why = "consent must be a fraction";
	else if (!t)
		why = "no trace";
	if (why) {
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	return 0;
}

static void sim_fini(struct sim *s)
{
	if (s->jobs)
		for (size_t i = 0; i < s->t->njobs; i++)
			free(s->jobs[i].nodes);
	free(s->cache);
	free(s->samples);
	free(s->dirty);
	free(s->waitq);
	free(s->running);
	free(s->ends);
	free(s->heap);
	free(s->lease_free);
	free(s->assign_pool);
	free(s->leases);
	free(s->share_pool);
	free(s->nodes);
	free(s->jobs);
	free(s->prefix);
	placement_destroy(s->place);
	topology_destroy(s->topo);
}

static int sim_init(struct sim *s, char *err, size_t errlen)
{
	const struct replay_params *p = s->p;
	char desc[128];
	unsigned w = p->fn_workers;

	snprintf(desc, sizeof(desc), "package:2 l3:1 l2:%u core:1 pu:1", p->cores / 2);
	if (topology_synthetic(desc, p->node_mem, &s->topo, err, errlen) != 0)
		return -EINVAL;
	s->place = placement_create(p->nodes);
	s->prefix = calloc(p->cores + 1, sizeof(*s->prefix));
	s->jobs = calloc(s->t->njobs ? s->t->njobs : 1, sizeof(*s->jobs));
	s->nodes = calloc(p->nodes, sizeof(*s->nodes));
	s->share_pool = calloc((size_t)p->nodes * p->cores, sizeof(*s->share_pool));
	s->max_leases = (unsigned)((uint64_t)p->nodes * p->cores / w + 1);
	s->leases = calloc(s->max_leases, sizeof(*s->leases));
	s->assign_pool = calloc((size_t)s->max_leases * w, sizeof(*s->assign_pool));
	s->lease_free = calloc(s->max_leases, sizeof(*s->lease_free));
	s->waitq = calloc(s->t->njobs ? s->t->njobs : 1, sizeof(*s->waitq));
	s->dirty = calloc(p->nodes, sizeof(*s->dirty));
	s->running = calloc(p->nodes, sizeof(*s->running));
	s->ends = calloc(p->nodes, sizeof(*s->ends));
	s->max_samples = (unsigned)((p->window_end - p->window_start) / SAMPLE_S + 1);
	s->samples = calloc(s->max_samples, sizeof(*s->samples));
	if (!p->no_gap_cache) {
		s->cache = calloc(GAP_CACHE, sizeof(*s->cache));
		if (!s->cache) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	if (!s->place || !s->prefix || !s->jobs || !s->nodes || !s->share_pool || !s->leases ||
	    !s->assign_pool || !s->lease_free || !s->waitq || !s->dirty || !s->running ||
	    !s->ends || !s->samples) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned k = 1; k <= p->cores; k++)
		cpumask_or(&s->prefix[k], &s->prefix[k - 1], &s->topo->cores[k - 1].pus);
	for (unsigned i = 0; i < p->nodes; i++) {
		s->nodes[i].job = s->nodes[i].gap_job = NONE;
		s->nodes[i].shares = &s->share_pool[(size_t)i * p->cores];
		s->dirty[s->ndirty++] = i;
		s->nodes[i].dirty = true;
	}
	for (unsigned l = 0; l < s->max_leases; l++) {
		s->leases[l].a = &s->assign_pool[(size_t)l * w];
		s->lease_free[s->nlease_free++] = s->max_leases - 1 - l;
	}
	s->free_nodes = p->nodes;
	trace_rng_seed(&s->rng, p->seed ^ 0x636f6c6f63ull); /* "coloc": apart from the trace's */
	return 0;
}

/* ---- the run --------------------------------------------------------------------- */

static int handle(struct sim *s, const struct ev *e)
{
	switch (e->kind) {
	case EV_LEASE_END:
		if (s->leases[e->idx].active && s->leases[e->idx].gen == e->gen)
			lease_end(s, e->idx, e->t);
		return 0;
	case EV_JOB_END:
		job_end(s, e->idx);
		return 0;
	case EV_JOB_SUBMIT:
		s->jobs[e->idx].state = JOB_WAITING;
		s->waitq[s->nwait++] = e->idx;
		s->sched_dirty = true;
		return 0;
	case EV_PHASE:
		return job_phase(s, e->idx, e->t);
	case EV_TASK:
		s->res->tasks_arrived += in_window(s, e->t);
		s->tasks_queued++;
		return ev_push(
		    s, e->t + (int64_t)ceil(trace_rng_exp(&s->rng, 60.0 / s->p->fn_rate_per_min)),
		    EV_TASK, 0, 0);
	default:
		sample(s);
		return e->t + SAMPLE_S <= s->p->window_end
			   ? ev_push(s, e->t + SAMPLE_S, EV_SAMPLE, 0, 0)
			   : 0;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double hist_pct(const struct sim *s, double pct)
{
	uint64_t want = (uint64_t)ceil(pct / 100.0 * (double)s->hist_n), seen = 0;

	for (unsigned b = 0; b < HIST_BINS; b++) {
		seen += s->hist[b];
		if (seen >= want && seen)
			return (b + 0.5) / 100.0;
	}
	return 0;
}

static void finish(struct sim *s)
{
	struct replay_result *r = s->res;
	const struct replay_params *p = s->p;
	double sum = 0;

	r->total = (double)p->nodes * p->cores * (double)(p->window_end - p->window_start);
	r->unallocated = r->total - r->allocated;
	/* leases still running at the window's end: their work so far counts as done */
	for (unsigned l = 0; l < s->max_leases; l++)
		if (s->leases[l].active)
			r->fn_completed += lease_work(s, &s->leases[l], p->window_end);
	r->tasks_waiting = s->tasks_queued == UINT64_MAX ? 0 : s->tasks_queued;
	r->jobs = s->t->njobs;
	r->mean_wait_s = r->jobs_started ? s->wait_sum / (double)r->jobs_started : 0;
	r->nsamples = s->nsamples;
	if (s->nsamples) {
		for (unsigned i = 0; i < s->nsamples; i++)
			sum += s->samples[i];
		r->idle_frac_mean = sum / s->nsamples;
		r->unalloc_frac_mean = s->unalloc_sum / s->nsamples;
		qsort(s->samples, s->nsamples, sizeof(double), cmp_double);
		r->idle_frac_median = s->samples[s->nsamples / 2];
		r->idle_frac_p95 = s->samples[(unsigned)ceil(0.95 * s->nsamples) - 1];
	}
	r->node_idle_median = hist_pct(s, 50);
	r->node_idle_p95 = hist_pct(s, 95);
}

int replay_run(const struct trace *t, const struct replay_params *p, struct replay_result *res,
	       char *err, size_t errlen)
{
	struct sim *s;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = params_check(t, p, err, errlen);
	if (rc)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->t = t;
	s->p = p;
	s->res = res;
	rc = sim_init(s, err, errlen);
	if (rc)
		goto out;
	s->tasks_queued = p->fn_rate_per_min > 0 ? 0 : UINT64_MAX;
	s->last_t = t->njobs ? t->jobs[0].submit : p->window_start;
	res->inefficiency_mean = inefficiency_mean(t);
	for (uint32_t i = 0; i < t->njobs && !rc; i++) {
		job_prepare(s, i, res->inefficiency_mean);
		if (!s->jobs[i].nnodes) {
			res->jobs_too_big++;
			continue;
		}
		rc = ev_push(s, s->jobs[i].queued, EV_JOB_SUBMIT, i, 0);
	}
	if (!rc && p->fn_rate_per_min > 0)
		rc = ev_push(s, s->last_t, EV_TASK, 0, 0);
	if (!rc)
		rc = ev_push(s, p->window_start, EV_SAMPLE, 0, 0);
	while (!rc && s->nheap && s->heap[0].t <= p->window_end) {
		int64_t now = s->heap[0].t;

		integrate(s, now);
		/* every event of this second, then the node agents, then the controller */
		while (!rc && s->nheap && s->heap[0].t == now) {
			struct ev e = ev_pop(s);

			rc = handle(s, &e);
		}
		if (!rc)
			rc = schedule(s, now);
		for (unsigned i = 0; i < s->ndirty && !rc; i++)
			rc = node_refresh(s, s->dirty[i], now);
		s->ndirty = 0;
		if (!rc)
			rc = serve(s, now);
	}
	if (rc) {
		snprintf(err, errlen, "the replay failed: %s", strerror(-rc));
		goto out;
	}
	integrate(s, p->window_end);
	finish(s);
out:
	sim_fini(s);
	free(s);
	return rc;
}
