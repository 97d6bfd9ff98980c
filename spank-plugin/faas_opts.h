/*
 * faas_opts: the values of spank_faas.so's options and plugstack.conf
 * arguments, parsed and validated without Slurm (so that tests can run it
 * without slurmd). Every error is a sentence naming the option (or the
 * environment variable, or the plugstack.conf argument), what was given
 * and what is accepted.
 *
 *   --faas-workers=N       FAAS_WORKERS     1..4096 functions workers for this step
 *   --faas-lib=PATH        FAAS_LIB         the function library (a readable file)
 *   --faas-mem=SIZE        FAAS_MEM         memory per worker, like 512M or 2G, 16M to 1024T
 *   --faas-gpus=N          FAAS_GPUS        0..64 GPUs for the lease
 *   --faas-time=TIME       FAAS_TIME        lease time: minutes or Slurm's [D-]HH:MM[:SS],
 *                                           at most 366 days
 *   --faas-remote-mem=SIZE FAAS_REMOTE_MEM  a memory lease of SIZE (4K to 1024T) instead of
 *                                           workers
 *
 * (the limits are lease_rules.h's, shared with colocctl and libfaas)
 *   --faas-host            FAAS_HOST=yes    this job lends its idle resources
 *   --no-faas-host         FAAS_HOST=no     it does not
 *   --faas-host-mem=SIZE   FAAS_HOST_MEM    memory the job itself needs (the rest may be lent)
 *
 * The command line wins over the environment (which serves slurmrestd).
 */
#ifndef COLOC_FAAS_OPTS_H
#define COLOC_FAAS_OPTS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum faas_opt {
	FAAS_OPT_WORKERS = 1,
	FAAS_OPT_LIB,
	FAAS_OPT_MEM,
	FAAS_OPT_GPUS,
	FAAS_OPT_TIME,
	FAAS_OPT_HOST,
	FAAS_OPT_NO_HOST,
	FAAS_OPT_HOST_MEM,
	FAAS_OPT_REMOTE_MEM,
	FAAS_OPT_COUNT
};

struct faas_opts {
	unsigned set; /* bit (1 << opt) for each value given */
	uint32_t workers;
	char lib[PATH_MAX];
	uint64_t mem; /* bytes per worker; 0 = the site default */
	uint32_t gpus;
	uint32_t time_s;     /* 0 = the site default */
	bool host;	     /* consent (meaningful when FAAS_OPT_HOST is set) */
	uint64_t host_mem;   /* bytes; 0 = the whole allocation */
	uint64_t remote_mem; /* a memory lease's bytes; 0 = none */
};

/* The option's name without dashes ("faas-workers") and its variable. */
const char *faas_opt_name(enum faas_opt o);
const char *faas_opt_env(enum faas_opt o);

/* Parses value for o (NULL for the flags) as given on the command line;
 * --no-faas-host sets FAAS_OPT_HOST with host = false. A relative --faas-lib
 * is made absolute and must name a readable regular file. 0 or -EINVAL. */
int faas_opt_parse(struct faas_opts *f, enum faas_opt o, const char *value, char *err,
		   size_t errlen);

/* Fills, from getenv_fn (getenv, or the job's environment), each value the
 * command line did not give. 0 or -EINVAL naming the variable. */
int faas_opts_from_env(struct faas_opts *f, const char *(*getenv_fn)(void *ctx, const char *name),
		       void *ctx, char *err, size_t errlen);

/* What must go together: --faas-lib, --faas-mem and --faas-gpus need
 * --faas-workers, which needs --faas-lib; --faas-time needs --faas-workers
 * or --faas-remote-mem, which excludes --faas-workers (a step has one
 * lease). 0 or -EINVAL. */
int faas_opts_check(const struct faas_opts *f, char *err, size_t errlen);

static inline bool faas_opts_has(const struct faas_opts *f, enum faas_opt o)
{
	return f->set & (1u << o);
}

/* A GPU index list as Slurm writes SLURM_JOB_GPUS and SLURM_STEP_GPUS
 * ("0,2-3") as a bitmask of GPUs 0..31 (higher indexes are left out). A
 * list that is not in cpumask_parse's syntax ("NoDevFiles", junk anywhere
 * in it) gives 0: no GPU. */
uint32_t faas_gpu_mask(const char *list);

/* plugstack.conf arguments: conf=PATH (coloc.conf), host_default=yes|no.
 * Anything else is an error (slurmd refuses to start with a required
 * plugin that fails). */
struct faas_plugin_args {
	char conf[PATH_MAX]; /* "" = COLOC_CONF or the default */
	bool host_default;   /* jobs lend unless --no-faas-host (default no) */
};
int faas_plugin_args_parse(int ac, char **av, struct faas_plugin_args *a, char *err, size_t errlen);

#endif
