/*
 * ledger: the node agent's record of the host jobs on its node and their
 * running steps, kept from the SPANK plugin's reports (job_start,
 * step_start, step_end, job_end). Pure logic over a topology: no I/O, no
 * allocation, no locking (one thread owns a ledger). The gap is computed
 * from it (gaps.c).
 *
 * A report's "pus" are Slurm's core indexes on the node (what SPANK's
 * S_JOB_ALLOC_CORES and S_STEP_ALLOC_CORES give): each stands for every PU
 * (hardware thread) of that core, in hwloc's logical order of cores.
 *
 * What the ledger tolerates, since reports can be lost or come twice:
 *   - job_start again for a known job (each step reports its job): the
 *     allocation and consent are updated, the steps kept;
 *   - a job whose PUs overlap a new job's: its job_end was missed (Slurm
 *     does not give one core to two jobs), it is forgotten;
 *   - a step reported again (the plugin retries a report it got no answer
 *     to): it replaces itself;
 *   - step_end and job_end of what it does not know: nothing changes.
 */
#ifndef COLOC_LEDGER_H
#define COLOC_LEDGER_H

#include "gaps.h"
#include "msg.h"
#include "topology.h"

#include <stddef.h>

#define LEDGER_MAX_JOBS 256

struct ledger {
	struct host_job jobs[LEDGER_MAX_JOBS];
	unsigned njobs;
};

/*
 * Applies a report (MSG_JOB_START, MSG_STEP_START, MSG_STEP_END,
 * MSG_JOB_END; anything else changes nothing) to lg. 0, or -1 with *code
 * (an errno name: EINVAL, ENOENT, EBUSY) and err saying why it was refused;
 * a refused report changes nothing.
 */
int ledger_apply(struct ledger *lg, const struct topology *topo, const struct msg *m,
		 const char **code, char *err, size_t errlen);

/* The job with this id, or NULL. */
struct host_job *ledger_find(struct ledger *lg, uint32_t job_id);

/* Maps a list of core indexes to the PUs of those cores. 0, or -1 when the
 * list does not parse or names a core topo lacks. */
int ledger_cores_to_pus(const struct topology *topo, const char *list, struct cpumask *pus);

#endif
