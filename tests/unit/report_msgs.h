/*
 * report_msgs: the SPANK plugin's reports to the node agent (msg.h), built
 * for unit tests. A job's uid is 1000 + its id; "cores" are Slurm's core
 * indexes on the node, as the plugin sends them.
 */
#ifndef COLOC_TEST_REPORT_MSGS_H
#define COLOC_TEST_REPORT_MSGS_H

#include "msg.h"

#include <stdio.h>

static inline struct msg job_start_msg(uint32_t job, const char *cores, uint64_t mem, bool consent)
{
	struct msg m = {.type = MSG_JOB_START};

	m.u.job_start.job = job;
	m.u.job_start.uid = 1000 + job;
	snprintf(m.u.job_start.pus, sizeof(m.u.job_start.pus), "%s", cores);
	m.u.job_start.mem = mem;
	m.u.job_start.consent = consent;
	return m;
}

/* MSG_STEP_START or MSG_STEP_END */
static inline struct msg step_msg(enum msg_type type, uint32_t job, uint32_t step,
				  const char *cores)
{
	struct msg m = {.type = type};

	m.u.step.job = job;
	m.u.step.step = step;
	snprintf(m.u.step.pus, sizeof(m.u.step.pus), "%s", cores);
	return m;
}

static inline struct msg job_end_msg(uint32_t job)
{
	struct msg m = {.type = MSG_JOB_END};

	m.u.job_end = job;
	return m;
}

#endif
