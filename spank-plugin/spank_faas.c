/*
 * spank_faas.so: coloc's Slurm SPANK plugin (see spank_faas(8)).
 *
 * Client side, srun (S_CTX_LOCAL): with --faas-workers (or
 * --faas-remote-mem, a memory lease), the lease is
 * acquired from the controller once the job is allocated (so that its own
 * cores are not lent back to it) and before the step's tasks launch, and exported
 * to them as FAAS_LEASE; srun's exit releases it (also when tasks crash).
 * Without capacity or a reachable controller, srun stops before launching
 * anything and says why. sbatch/salloc (S_CTX_ALLOCATOR) only validate, so
 * that a bad value is refused at submission; the options reach the sruns
 * of the batch script through Slurm's SPANK option environment.
 *
 * Host side, slurmstepd (S_CTX_REMOTE) and the epilog (S_CTX_JOB_SCRIPT):
 * every step reports its job (cores, memory, GPUs, consent, end time) and
 * itself to the node agent on SocketPath before its tasks start; the agent
 * answers once executors on what the step needs are gone (bounded by
 * EvictGrace). A report the agent closes unanswered (busy) is tried again
 * with a short backoff, within the same budget of EvictGrace + 3 s. Step
 * end, the extern step's end and the epilog report the end. A host job
 * never fails because of coloc: every remote callback returns 0, and an
 * unreachable agent is logged and skipped.
 */
#include "config.h"

#include "clock.h"
#include "coloc_config.h"
#include "ctl_client.h"
#include "faas_opts.h"
#include "lease_rules.h"
#include "msg.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/spank.h>

SPANK_PLUGIN(spank_faas, 1);

/*
 * What Slurm 25.05 and newer do when slurm_spank_init fails in a job's
 * slurmstepd: ESPANK_NODE_FAILURE drains the node and requeues the job,
 * ESPANK_JOB_FAILURE fails the job. The plugin's init does not fail there
 * (a bad plugstack.conf argument stops slurmd at its start, and a job's
 * slurmstepd only logs it), so this pins the one mode that never fails a
 * host job for a coloc fault. Older Slurm ignores the symbol.
 */
#if defined(SLURM_VERSION_NUMBER) && SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(25, 5, 0)
int slurm_spank_init_failure_mode = ESPANK_NODE_FAILURE;
#else
int slurm_spank_init_failure_mode = 0;
#endif

#define LOG "spank_faas: "
#define RELEASE_TIMEOUT_MS 5000
#define REPORT_SLACK_MS 3000   /* a report's budget: EvictGrace and this */
#define REPORT_BACKOFF_MS 20   /* the first wait before another try, doubling to 320 ms */
#define REPORT_RESTART_MS 1000 /* how long a socket nobody listens on is tried */

/* One process runs one context: these belong to it. */
static struct faas_opts opts;
static struct faas_plugin_args args;
static char lease_id[64]; /* srun: the lease it holds */

static int on_option(int val, const char *optarg, int remote);

static struct spank_option options[] = {
    {"faas-workers", "N",
     "[faas] run functions on N workers lent from other jobs' idle cores (needs --faas-lib)", 1,
     FAAS_OPT_WORKERS, on_option},
    {"faas-lib", "PATH", "[faas] the function library the workers serve", 1, FAAS_OPT_LIB,
     on_option},
    {"faas-mem", "SIZE", "[faas] memory per worker, like 512M (default: the site's)", 1,
     FAAS_OPT_MEM, on_option},
    {"faas-gpus", "N", "[faas] GPUs for the workers (default 0)", 1, FAAS_OPT_GPUS, on_option},
    {"faas-time", "MIN",
     "[faas] how long the workers are needed: minutes or [D-]HH:MM[:SS] (default: the site's)", 1,
     FAAS_OPT_TIME, on_option},
    {"faas-host", NULL, "[faas] lend this job's idle cores, memory and GPUs to functions", 0,
     FAAS_OPT_HOST, on_option},
    {"no-faas-host", NULL, "[faas] do not lend this job's idle resources", 0, FAAS_OPT_NO_HOST,
     on_option},
    {"faas-host-mem", "SIZE",
     "[faas] memory this job needs on each node; the rest of its allocation may be lent", 1,
     FAAS_OPT_HOST_MEM, on_option},
    {"faas-remote-mem", "SIZE",
     "[faas] a memory lease: SIZE of other nodes' idle memory, like 4G, read and written "
     "with faas_rmem_* (instead of --faas-workers)",
     1, FAAS_OPT_REMOTE_MEM, on_option},
    SPANK_OPTIONS_TABLE_END};

static int on_option(int val, const char *optarg, int remote)
{
	char err[512];

	if (remote) {
		/* checked at submission; here only what the host side uses, and a
		 * value that does not parse here never fails the job */
		if (val != FAAS_OPT_HOST && val != FAAS_OPT_NO_HOST && val != FAAS_OPT_HOST_MEM)
			return 0;
		if (faas_opt_parse(&opts, (enum faas_opt)val, optarg, err, sizeof(err)) != 0)
			slurm_info(LOG "ignored: %s", err);
		return 0;
	}
	if (faas_opt_parse(&opts, (enum faas_opt)val, optarg, err, sizeof(err)) != 0) {
		slurm_error(LOG "%s", err);
		return -1;
	}
	return 0;
}

static const char *process_getenv(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

/* coloc.conf: conf= of plugstack.conf, else COLOC_CONF, else the default. */
static int load_config(struct coloc_config *cfg, char *err, size_t errlen)
{
	return config_load(args.conf[0] ? args.conf : NULL, cfg, err, errlen);
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	spank_context_t ctx = spank_context();
	char err[512];

	if (faas_plugin_args_parse(ac, av, &args, err, sizeof(err)) != 0) {
		slurm_error(LOG "%s", err);
		/* slurmd stops at its start; srun, sbatch and salloc refuse; a
		 * job's slurmstepd (plugstack.conf edited since slurmd started)
		 * runs the job and reports it with the default arguments (it
		 * lends nothing unless it asks to): never fail a host job */
		if (ctx != S_CTX_REMOTE)
			return -1;
		faas_plugin_args_parse(0, NULL, &args, err, sizeof(err));
	}
	if (ctx == S_CTX_SLURMD) {
		struct coloc_config cfg;

		/* said once at slurmd's start: which coloc this node runs */
		slurm_info(LOG "spank_faas.so of %s %s loaded", PACKAGE_NAME, PACKAGE_VERSION);
		/* said once at slurmd's start; jobs still run without coloc */
		if (load_config(&cfg, err, sizeof(err)) != 0)
			slurm_error(LOG "%s; jobs run, but lend nothing until it is fixed", err);
		return 0;
	}
	slurm_debug(LOG "spank_faas.so of %s %s loaded", PACKAGE_NAME, PACKAGE_VERSION);
	if (ctx == S_CTX_JOB_SCRIPT)
		return 0;
	for (struct spank_option *o = options; o->name; o++) {
		spank_err_t rc = spank_option_register(sp, o);

		if (rc != ESPANK_SUCCESS)
			slurm_error(LOG "cannot register --%s: %s", o->name, spank_strerror(rc));
	}
	return 0;
}

/* ---- client side ---------------------------------------------------------------- */

/* The submit side's checks: the command line, then the environment. */
static int submit_checks(void)
{
	char err[512];

	if (faas_opts_from_env(&opts, process_getenv, NULL, err, sizeof(err)) != 0 ||
	    faas_opts_check(&opts, err, sizeof(err)) != 0) {
		slurm_error(LOG "%s", err);
		return -1;
	}
	return 0;
}

/* What a user can do about a lease the controller did not grant (rc, from
 * ctl_lease_acquire). */
static const char *acquire_remedy(int rc)
{
	switch (-rc) {
	case ENOSPC:
	case EBUSY:
	case EAGAIN:
	case EDQUOT:
		return "Ask for fewer workers or less memory, try later (colocctl gaps shows what "
		       "is free), or run without --faas-workers or --faas-remote-mem";
	case ECONNREFUSED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ECONNRESET:
	case EIO:
		return "Run without --faas-workers, or ask your administrator whether coloc's "
		       "controller runs";
	default:
		return "Run without --faas-workers, or check the values given";
	}
}

static int acquire(spank_t sp)
{
	struct lease_request req = {0};
	struct coloc_config cfg;
	struct msg grant;
	uint32_t job = 0;
	char err[1024];
	int rc, timeout_ms;

	if (load_config(&cfg, err, sizeof(err)) != 0 ||
	    ctl_timeout_from_env(&timeout_ms, err, sizeof(err)) != 0) {
		slurm_error(LOG "--faas-workers: %s", err);
		return -1;
	}
	if (opts.remote_mem) { /* a memory lease: nothing else */
		req.remote_mem = opts.remote_mem;
	} else {
		req.workers = opts.workers;
		snprintf(req.lib, sizeof(req.lib), "%s", opts.lib);
		req.mem = opts.mem;
		req.gpus = opts.gpus;
	}
	req.time = opts.time_s; /* 0: DefaultLeaseTime */
	if (spank_get_item(sp, S_JOB_ID, &job) == ESPANK_SUCCESS)
		req.job = job;
	rc = ctl_lease_acquire(&cfg, &req, timeout_ms, &grant, err, sizeof(err));
	if (rc) {
		slurm_error(LOG "no %s for this step: %s. %s",
			    opts.remote_mem ? "memory lease" : "function workers", err,
			    acquire_remedy(rc));
		return -1;
	}
	/* srun hands its environment to the tasks it launches */
	if (setenv("FAAS_LEASE", grant.u.grant.lease, 1) != 0) {
		slurm_error(LOG "cannot export FAAS_LEASE: %s", strerror(errno));
		msg_free(&grant);
		return -1;
	}
	snprintf(lease_id, sizeof(lease_id), "%s", grant.u.grant.id);
	if (opts.remote_mem)
		slurm_verbose(LOG "lease %s: %" PRIu64 " bytes of memory", lease_id,
			      opts.remote_mem);
	else
		slurm_verbose(LOG "lease %s: %u workers", lease_id, opts.workers);
	msg_free(&grant);
	return 0;
}

static void release(void)
{
	struct coloc_config cfg;
	char id[sizeof(lease_id)], err[1024];
	int rc;

	if (!lease_id[0])
		return;
	snprintf(id, sizeof(id), "%s", lease_id);
	lease_id[0] = '\0'; /* once, whatever happens */
	if (load_config(&cfg, err, sizeof(err)) != 0) {
		slurm_info(LOG "could not release lease %s: %s; it ends at its end time", id, err);
		return;
	}
	rc = ctl_lease_release(&cfg, id, RELEASE_TIMEOUT_MS, err, sizeof(err));
	if (rc && rc != -ENOENT)
		slurm_info(LOG "could not release lease %s: %s; it ends at its end time", id, err);
}

/* ---- host side ----------------------------------------------------------------- */

/* The node agent's socket on this node (SocketPath, %n = this node). */
static int agent_config(spank_t sp, struct coloc_config *cfg, char *err, size_t errlen)
{
	char node[MSG_NODE_MAX] = "";
	int rc = load_config(cfg, err, errlen);

	if (rc)
		return rc;
	/* the job's environment (slurmstepd), the epilog's own, else the host */
	if (spank_getenv(sp, "SLURMD_NODENAME", node, sizeof(node)) != ESPANK_SUCCESS) {
		const char *e = getenv("SLURMD_NODENAME");

		if (e && *e)
			snprintf(node, sizeof(node), "%s", e);
		else if (gethostname(node, sizeof(node) - 1) != 0)
			snprintf(node, sizeof(node), "localhost");
	}
	node[strcspn(node, ".")] = '\0';
	return config_expand_node(cfg, node, err, errlen);
}

/* Whether a report that failed with rc is worth another try, and how long
 * to wait first: the agent is busy (it closed the connection unanswered)
 * or restarting (its socket is there, nobody listens, for a moment).
 * No socket at all: colocd is not running here, and the step goes on at
 * once. 0: no retry. */
static int report_retry_ms(int rc, int tries, int64_t elapsed_ms)
{
	int ms = REPORT_BACKOFF_MS << (tries < 4 ? tries : 4);

	switch (-rc) {
	case ECONNRESET:
	case EPIPE:
	case EAGAIN:
		return ms;
	case ECONNREFUSED:
		return elapsed_ms < REPORT_RESTART_MS ? ms : 0;
	default:
		return 0;
	}
}

static void report(spank_t sp, struct msg *m)
{
	struct coloc_config cfg;
	struct msg reply;
	int64_t start, left;
	int rc, tries = 0, wait_ms;
	char err[1024];

	if (agent_config(sp, &cfg, err, sizeof(err)) != 0) {
		slurm_info(LOG "%s: not reported: %s", msg_type_name(m->type), err);
		return;
	}
	/* the agent answers once what the step needs is free: EvictGrace;
	 * tries within one budget, so a step never waits longer */
	start = clock_ms();
	for (;;) {
		left = start + (int64_t)cfg.evict_grace_ms + REPORT_SLACK_MS - clock_ms();
		rc = ctl_request_unix(cfg.socket_path, m, &reply, left > 1 ? (int)left : 1, err,
				      sizeof(err));
		if (rc == 0)
			break;
		wait_ms = report_retry_ms(rc, tries++, clock_ms() - start);
		left = start + (int64_t)cfg.evict_grace_ms + REPORT_SLACK_MS - clock_ms();
		if (wait_ms == 0 || left < wait_ms + REPORT_BACKOFF_MS) {
			slurm_info(LOG "%s not reported (%d tries), the job goes on: %s",
				   msg_type_name(m->type), tries, err);
			return;
		}
		clock_sleep_ms((unsigned)wait_ms);
	}
	if (tries)
		slurm_verbose(LOG "%s reported at try %d", msg_type_name(m->type), tries + 1);
	if (reply.type == MSG_ERROR)
		slurm_info(LOG "the node agent refused %s: %s: %s", msg_type_name(m->type),
			   reply.u.error.code, reply.u.error.message);
	msg_free(&reply);
}

/*
 * The host job's end (SLURM_JOB_END_TIME, Slurm 23.02 and newer). Slurm
 * puts it in the prolog's environment and the tasks', but not in the one a
 * job's slurmstepd shows SPANK (24.11): the prolog (slurm_spank_job_prolog)
 * writes it to StateDir/job-ID.end, root's file in root's directory,
 * written whole with a rename, and every step's report reads it again
 * (the step's own environment first, should a Slurm carry it there). The
 * epilog removes it. 0 when unknown (Slurm 22.05; no StateDir yet).
 */
static void end_path(const struct coloc_config *cfg, uint32_t job, char *out, size_t len)
{
	snprintf(out, len, "%s/job-%u.end", cfg->state_dir, job);
}

static int64_t job_end_time(spank_t sp, uint32_t job)
{
	struct coloc_config cfg;
	char v[32], path[sizeof(cfg.state_dir) + 32], err[512];
	ssize_t n;
	int fd;

	if (spank_getenv(sp, "SLURM_JOB_END_TIME", v, sizeof(v)) == ESPANK_SUCCESS)
		return strtoll(v, NULL, 10);
	if (agent_config(sp, &cfg, err, sizeof(err)) != 0)
		return 0;
	end_path(&cfg, job, path, sizeof(path));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, v, sizeof(v) - 1);
	close(fd);
	v[n > 0 ? n : 0] = '\0';
	return strtoll(v, NULL, 10);
}

/* The prolog: SLURM_JOB_END_TIME from its environment into the file. */
static void end_save(spank_t sp)
{
	struct coloc_config cfg;
	char path[sizeof(cfg.state_dir) + 32], tmp[sizeof(path) + 8], err[512];
	const char *end = getenv("SLURM_JOB_END_TIME");
	uint32_t job;
	int fd, ok;

	if (!end || !*end || spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS ||
	    agent_config(sp, &cfg, err, sizeof(err)) != 0)
		return;
	end_path(&cfg, job, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		slurm_verbose(LOG "job %u: cannot keep its end time in %s: %s", job, path,
			      strerror(errno));
		return;
	}
	ok = write(fd, end, strlen(end)) == (ssize_t)strlen(end);
	if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
		slurm_verbose(LOG "job %u: cannot keep its end time in %s", job, path);
		unlink(tmp);
	}
}

static void end_forget(spank_t sp)
{
	struct coloc_config cfg;
	char path[sizeof(cfg.state_dir) + 32], err[512];
	uint32_t job;

	if (spank_get_item(sp, S_JOB_ID, &job) == ESPANK_SUCCESS &&
	    agent_config(sp, &cfg, err, sizeof(err)) == 0) {
		end_path(&cfg, job, path, sizeof(path));
		unlink(path);
	}
}

/* The GPU index list in var (Slurm's "0,2-3") as a bitmask; 0 when absent. */
static uint32_t gpu_mask(spank_t sp, const char *var)
{
	char list[256];

	if (spank_getenv(sp, var, list, sizeof(list)) != ESPANK_SUCCESS)
		return 0;
	return faas_gpu_mask(list);
}

/* --faas-host-mem, else FAAS_HOST_MEM of the job's environment; 0: none. */
static uint64_t host_mem(spank_t sp)
{
	char v[64];
	uint64_t b;

	if (faas_opts_has(&opts, FAAS_OPT_HOST_MEM))
		return opts.host_mem;
	if (spank_getenv(sp, "FAAS_HOST_MEM", v, sizeof(v)) == ESPANK_SUCCESS &&
	    config_parse_size(v, &b) == 0)
		return b;
	return 0;
}

static bool job_consents(spank_t sp, uint32_t step)
{
	char v[16];
	bool b;

	if (step == SLURM_EXTERN_CONT)
		return false; /* the extern step does not see options: the next step says */
	if (faas_opts_has(&opts, FAAS_OPT_HOST))
		return opts.host;
	if (spank_getenv(sp, "FAAS_HOST", v, sizeof(v)) == ESPANK_SUCCESS &&
	    config_parse_bool(v, &b) == 0)
		return b;
	return args.host_default;
}

static void host_step_start(spank_t sp)
{
	struct msg job = {.type = MSG_JOB_START}, step = {.type = MSG_STEP_START};
	uint32_t job_id, step_id;
	uint64_t job_mem = 0, step_mem = 0;
	char *job_pus = NULL, *step_pus = NULL;
	uid_t uid;

	if (spank_get_item(sp, S_JOB_ID, &job_id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &step_id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ALLOC_CORES, &job_pus) != ESPANK_SUCCESS || !job_pus ||
	    spank_get_item(sp, S_JOB_ALLOC_MEM, &job_mem) != ESPANK_SUCCESS) {
		slurm_info(LOG "this step's job is not known here; not reported");
		return;
	}
	job.u.job_start.job = job_id;
	job.u.job_start.uid = uid;
	snprintf(job.u.job_start.pus, sizeof(job.u.job_start.pus), "%s", job_pus);
	job.u.job_start.mem = job_mem << 20; /* MB */
	job.u.job_start.mem_need = host_mem(sp);
	job.u.job_start.gpus = gpu_mask(sp, "SLURM_JOB_GPUS");
	job.u.job_start.consent = job_consents(sp, step_id);
	job.u.job_start.end = job_end_time(sp, job_id);
	report(sp, &job);
	if (step_id == SLURM_EXTERN_CONT)
		return;
	step.u.step.job = job_id;
	step.u.step.step = step_id;
	if (step_id == SLURM_BATCH_SCRIPT) {
		snprintf(step.u.step.pus, sizeof(step.u.step.pus), "%s", job_pus);
	} else {
		if (spank_get_item(sp, S_STEP_ALLOC_CORES, &step_pus) != ESPANK_SUCCESS ||
		    !step_pus ||
		    spank_get_item(sp, S_STEP_ALLOC_MEM, &step_mem) != ESPANK_SUCCESS) {
			slurm_info(LOG "step %u.%u: its cores are not known here; not reported",
				   job_id, step_id);
			return;
		}
		snprintf(step.u.step.pus, sizeof(step.u.step.pus), "%s", step_pus);
		step.u.step.mem = step_mem << 20;
		step.u.step.gpus = gpu_mask(sp, "SLURM_STEP_GPUS");
	}
	report(sp, &step);
}

static void host_end(spank_t sp, bool whole_job)
{
	struct msg m = {.type = whole_job ? MSG_JOB_END : MSG_STEP_END};
	uint32_t job_id, step_id = 0;

	if (spank_get_item(sp, S_JOB_ID, &job_id) != ESPANK_SUCCESS ||
	    (!whole_job && spank_get_item(sp, S_JOB_STEPID, &step_id) != ESPANK_SUCCESS))
		return;
	if (whole_job) {
		m.u.job_end = job_id;
	} else {
		m.u.step.job = job_id;
		m.u.step.step = step_id;
	}
	report(sp, &m);
}

/* ---- callbacks ------------------------------------------------------------------- */

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	switch (spank_context()) {
	case S_CTX_LOCAL:
	case S_CTX_ALLOCATOR:
		return submit_checks();
	case S_CTX_REMOTE:
		host_step_start(sp);
		return 0;
	default:
		return 0;
	}
}

/* srun, once its job is allocated and before the tasks launch: the job's
 * own cores are then no longer in any gap, so the lease lands elsewhere. */
int slurm_spank_local_user_init(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	return faas_opts_has(&opts, FAAS_OPT_WORKERS) || faas_opts_has(&opts, FAAS_OPT_REMOTE_MEM)
		   ? acquire(sp)
		   : 0;
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	uint32_t step_id;

	(void)ac;
	(void)av;
	if (spank_context() == S_CTX_LOCAL) {
		release();
	} else if (spank_context() == S_CTX_REMOTE &&
		   spank_get_item(sp, S_JOB_STEPID, &step_id) == ESPANK_SUCCESS) {
		host_end(sp, step_id == SLURM_EXTERN_CONT);
	}
	return 0;
}

int slurm_spank_job_prolog(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	end_save(sp);
	return 0;
}

int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	host_end(sp, true); /* again after the extern step's: idempotent */
	end_forget(sp);
	return 0;
}
