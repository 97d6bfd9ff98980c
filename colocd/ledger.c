/*
 * ledger: the host jobs on this node (see ledger.h). The jobs live in an
 * unordered array; a job that goes is replaced by the last one.
 */
#include "config.h"

#include "ledger.h"

#include "log.h"

#include <stdio.h>
#include <string.h>

struct host_job *ledger_find(struct ledger *lg, uint32_t job_id)
{
	for (unsigned i = 0; i < lg->njobs; i++)
		if (lg->jobs[i].job_id == job_id)
			return &lg->jobs[i];
	return NULL;
}

int ledger_cores_to_pus(const struct topology *topo, const char *list, struct cpumask *pus)
{
	struct cpumask cores;

	cpumask_clear(pus);
	if (cpumask_parse(list, &cores) != 0)
		return -1;
	for (int c = cpumask_next(&cores, 0); c >= 0;
	     c = c + 1 < CPUMASK_MAX ? cpumask_next(&cores, (unsigned)c + 1) : -1) {
		if ((unsigned)c >= topo->ncores)
			return -1;
		cpumask_or(pus, pus, &topo->cores[c].pus);
	}
	return 0;
}

/* Forgets jobs whose PUs overlap job's: their job_end was missed, and the
 * newest report wins. */
static void drop_stale_jobs(struct ledger *lg, const struct host_job *job)
{
	for (unsigned i = 0; i < lg->njobs;) {
		struct host_job *o = &lg->jobs[i];
		struct cpumask both;

		cpumask_and(&both, &o->pus, &job->pus);
		if (o != job && o->job_id != job->job_id && !cpumask_empty(&both)) {
			log_warning(
			    "job %u holds PUs of job %u, whose end was not reported: job %u "
			    "is forgotten",
			    job->job_id, o->job_id, o->job_id);
			*o = lg->jobs[--lg->njobs];
			continue;
		}
		i++;
	}
}

static int job_start(struct ledger *lg, const struct topology *topo, const struct msg *m,
		     const char **code, char *err, size_t errlen)
{
	const __typeof__(m->u.job_start) *r = &m->u.job_start;
	struct host_job *j = ledger_find(lg, r->job), next = {0};
	unsigned at;

	if (!j && lg->njobs == LEDGER_MAX_JOBS) {
		*code = "EBUSY";
		snprintf(err, errlen, "the ledger holds %d jobs already", LEDGER_MAX_JOBS);
		return -1;
	}
	if (j) /* again for a known job: its steps are kept */
		next = *j;
	next.job_id = r->job;
	next.uid = r->uid;
	if (ledger_cores_to_pus(topo, r->pus, &next.pus) != 0) {
		*code = "EINVAL";
		snprintf(err, errlen,
			 "job %u: \"%.100s\" is not a list of this node's cores (0-%u)", r->job,
			 r->pus, topo->ncores - 1);
		return -1;
	}
	next.mem_bytes = r->mem;
	next.mem_need = r->mem_need;
	next.gpus = r->gpus;
	next.consent = r->consent;
	next.end_time = r->end;
	at = j ? (unsigned)(j - lg->jobs) : lg->njobs++;
	lg->jobs[at] = next;
	drop_stale_jobs(lg, &lg->jobs[at]);
	return 0;
}

static int step_start(struct ledger *lg, const struct topology *topo, const struct msg *m,
		      const char **code, char *err, size_t errlen)
{
	const __typeof__(m->u.step) *r = &m->u.step;
	struct host_job *j = ledger_find(lg, r->job);
	struct host_step s = {.step_id = r->step, .mem_bytes = r->mem, .gpus = r->gpus};
	unsigned i;

	if (!j) {
		*code = "ENOENT";
		snprintf(err, errlen, "step %u.%u: job %u was not reported", r->job, r->step,
			 r->job);
		return -1;
	}
	if (r->step == MSG_STEP_BATCH) {
		/* its cores: BatchStepCores of the job's, see gaps.c */
		j->batch_running = true;
		return 0;
	}
	/* a step reported again (the plugin retried) replaces itself */
	for (i = 0; i < j->nsteps && j->steps[i].step_id != r->step; i++)
		;
	if (i == GAPS_MAX_STEPS) {
		*code = "EBUSY";
		snprintf(err, errlen, "job %u runs %d steps already", j->job_id, GAPS_MAX_STEPS);
		return -1;
	}
	if (ledger_cores_to_pus(topo, r->pus, &s.pus) != 0) {
		*code = "EINVAL";
		snprintf(err, errlen,
			 "step %u.%u: \"%.100s\" is not a list of this node's cores (0-%u)", r->job,
			 r->step, r->pus, topo->ncores - 1);
		return -1;
	}
	j->steps[i] = s;
	j->nsteps += i == j->nsteps;
	return 0;
}

int ledger_apply(struct ledger *lg, const struct topology *topo, const struct msg *m,
		 const char **code, char *err, size_t errlen)
{
	struct host_job *j;

	switch (m->type) {
	case MSG_JOB_START:
		return job_start(lg, topo, m, code, err, errlen);
	case MSG_STEP_START:
		return step_start(lg, topo, m, code, err, errlen);
	case MSG_STEP_END:
		j = ledger_find(lg, m->u.step.job);
		if (j && m->u.step.step == MSG_STEP_BATCH)
			j->batch_running = false;
		for (unsigned i = 0; j && i < j->nsteps; i++) {
			if (j->steps[i].step_id == m->u.step.step) {
				j->steps[i] = j->steps[--j->nsteps];
				break;
			}
		}
		return 0;
	case MSG_JOB_END:
		j = ledger_find(lg, m->u.job_end);
		if (j)
			*j = lg->jobs[--lg->njobs];
		return 0;
	default:
		return 0;
	}
}
