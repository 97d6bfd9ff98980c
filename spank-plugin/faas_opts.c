/*
 * faas_opts: see faas_opts.h. The lease's values are checked by
 * lease_rules.h's parsers and limits, which colocctl and libfaas share;
 * sizes and times use coloc.conf's parsers, so that --faas-mem and
 * MemoryMargin, --faas-time and DefaultLeaseTime accept the same forms.
 */
#include "config.h"

#include "faas_opts.h"

#include "cpumask.h"

#include "coloc_config.h"
#include "lease_rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest --faas-host-mem: a node's memory, as msg.h's job_start.mem_need */
#define HOST_MEM_MAX ((uint64_t)1 << 50)

static const struct {
	const char *name, *env, *accepted;
} opts[FAAS_OPT_COUNT] = {
    [FAAS_OPT_WORKERS] = {"faas-workers", "FAAS_WORKERS", LEASE_ACCEPT_WORKERS},
    [FAAS_OPT_LIB] = {"faas-lib", "FAAS_LIB", "the path of a readable function library"},
    [FAAS_OPT_MEM] = {"faas-mem", "FAAS_MEM", LEASE_ACCEPT_MEM},
    [FAAS_OPT_GPUS] = {"faas-gpus", "FAAS_GPUS", LEASE_ACCEPT_GPUS},
    [FAAS_OPT_TIME] = {"faas-time", "FAAS_TIME", LEASE_ACCEPT_TIME},
    [FAAS_OPT_HOST] = {"faas-host", "FAAS_HOST", "yes or no"},
    [FAAS_OPT_NO_HOST] = {"no-faas-host", "FAAS_HOST", "yes or no"},
    [FAAS_OPT_HOST_MEM] = {"faas-host-mem", "FAAS_HOST_MEM",
			   "a size like 4G: the memory the job itself needs on each node"},
    [FAAS_OPT_REMOTE_MEM] = {"faas-remote-mem", "FAAS_REMOTE_MEM", LEASE_ACCEPT_REMOTE_MEM},
};

const char *faas_opt_name(enum faas_opt o)
{
	return o > 0 && o < FAAS_OPT_COUNT ? opts[o].name : "?";
}

const char *faas_opt_env(enum faas_opt o)
{
	return o > 0 && o < FAAS_OPT_COUNT ? opts[o].env : "?";
}

/* A whole number in [min, max]. */
static int number(const char *s, unsigned long min, unsigned long max, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* --faas-host-mem: a node's memory, above 0 */
static int host_size(const char *s, uint64_t *out)
{
	uint64_t v;

	if (!s || config_parse_size(s, &v) != 0 || v == 0 || v > HOST_MEM_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

static int library(const char *s, char *out, size_t len, char *why, size_t whylen)
{
	char path[PATH_MAX];
	struct stat st;

	if (!s || !*s) {
		snprintf(why, whylen, "no path");
		return -EINVAL;
	}
	if (!realpath(s, path)) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -EINVAL;
	}
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return -EINVAL;
	}
	if (access(path, R_OK) != 0) {
		snprintf(why, whylen, "not readable: %s", strerror(errno));
		return -EINVAL;
	}
	if (strlen(path) >= len) {
		snprintf(why, whylen, "the path is too long");
		return -EINVAL;
	}
	strcpy(out, path);
	return 0;
}

/* Parses one value; source names it in errors ("--faas-workers=" or
 * "FAAS_WORKERS="). */
static int parse(struct faas_opts *f, enum faas_opt o, const char *v, const char *source,
		 bool cmdline, char *err, size_t errlen)
{
	char why[256] = "";
	bool b;
	int rc = 0;

	switch (o) {
	case FAAS_OPT_WORKERS:
		rc = number(v, 1, LEASE_MAX_WORKERS, &f->workers);
		break;
	case FAAS_OPT_LIB:
		rc = library(v, f->lib, sizeof(f->lib), why, sizeof(why));
		break;
	case FAAS_OPT_MEM:
		rc = lease_rules_parse_mem(v, &f->mem);
		break;
	case FAAS_OPT_GPUS:
		rc = number(v, 0, LEASE_MAX_GPUS, &f->gpus);
		break;
	case FAAS_OPT_TIME:
		rc = lease_rules_parse_time(v, &f->time_s);
		break;
	case FAAS_OPT_HOST:
	case FAAS_OPT_NO_HOST:
		if (cmdline) /* flags: Slurm may hand over "" or "(null)" as their value */
			b = o == FAAS_OPT_HOST;
		else
			rc = config_parse_bool(v, &b);
		if (!rc)
			f->host = b;
		o = FAAS_OPT_HOST;
		break;
	case FAAS_OPT_HOST_MEM:
		rc = host_size(v, &f->host_mem);
		break;
	case FAAS_OPT_REMOTE_MEM:
		/* its error says whether it is not a size, too small or too large */
		if (lease_rules_parse_remote_mem(v, &f->remote_mem, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s%s: %s", source, v ? v : "", why);
			return -EINVAL;
		}
		break;
	default:
		snprintf(err, errlen, "spank_faas: unknown option %d", (int)o);
		return -EINVAL;
	}
	if (rc) {
		snprintf(err, errlen, "%s%s: %s%sexpected %s", source, v ? v : "",
			 why[0] ? why : "", why[0] ? "; " : "", opts[o].accepted);
		return -EINVAL;
	}
	f->set |= 1u << o;
	return 0;
}

int faas_opt_parse(struct faas_opts *f, enum faas_opt o, const char *value, char *err,
		   size_t errlen)
{
	char source[64];

	if (o <= 0 || o >= FAAS_OPT_COUNT) {
		snprintf(err, errlen, "spank_faas: unknown option %d", (int)o);
		return -EINVAL;
	}
	if (o == FAAS_OPT_HOST || o == FAAS_OPT_NO_HOST)
		value = NULL;
	snprintf(source, sizeof(source), "--%s%s", opts[o].name, value ? "=" : "");
	return parse(f, o, value, source, true, err, errlen);
}

int faas_opts_from_env(struct faas_opts *f, const char *(*getenv_fn)(void *ctx, const char *name),
		       void *ctx, char *err, size_t errlen)
{
	for (int o = FAAS_OPT_WORKERS; o < FAAS_OPT_COUNT; o++) {
		char source[64];
		const char *v;
		int rc;

		if (o == FAAS_OPT_NO_HOST || faas_opts_has(f, (enum faas_opt)o))
			continue;
		v = getenv_fn(ctx, opts[o].env);
		if (!v || !*v)
			continue;
		snprintf(source, sizeof(source), "%s=", opts[o].env);
		rc = parse(f, (enum faas_opt)o, v, source, false, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int faas_opts_check(const struct faas_opts *f, char *err, size_t errlen)
{
	static const enum faas_opt need_workers[] = {FAAS_OPT_LIB, FAAS_OPT_MEM, FAAS_OPT_GPUS};
	bool memory = faas_opts_has(f, FAAS_OPT_REMOTE_MEM);

	if (memory && faas_opts_has(f, FAAS_OPT_WORKERS)) {
		snprintf(err, errlen,
			 "--faas-remote-mem and --faas-workers (or FAAS_REMOTE_MEM and "
			 "FAAS_WORKERS) ask for two leases, and a step has one: give one of them");
		return -EINVAL;
	}
	if (faas_opts_has(f, FAAS_OPT_TIME) && !memory && !faas_opts_has(f, FAAS_OPT_WORKERS)) {
		snprintf(err, errlen,
			 "--faas-time has no use without --faas-workers=N or "
			 "--faas-remote-mem=SIZE (FAAS_WORKERS, FAAS_REMOTE_MEM): the lease it is "
			 "the time of");
		return -EINVAL;
	}

	if (faas_opts_has(f, FAAS_OPT_WORKERS) && !faas_opts_has(f, FAAS_OPT_LIB)) {
		snprintf(err, errlen,
			 "--faas-workers needs --faas-lib=PATH (or FAAS_LIB): the function "
			 "library the workers serve");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(need_workers) / sizeof(need_workers[0]); i++) {
		if (faas_opts_has(f, need_workers[i]) && !faas_opts_has(f, FAAS_OPT_WORKERS)) {
			snprintf(err, errlen,
				 "--%s has no use without --faas-workers=N (or FAAS_WORKERS): how "
				 "many function workers the step asks for",
				 opts[need_workers[i]].name);
			return -EINVAL;
		}
	}
	return 0;
}

uint32_t faas_gpu_mask(const char *list)
{
	struct cpumask m;

	/* not a list of indexes (Slurm's "NoDevFiles", junk): none */
	if (!list || cpumask_parse(list, &m) != 0)
		return 0;
	return (uint32_t)m.bits[0]; /* indexes 0-31, the ones lent */
}

int faas_plugin_args_parse(int ac, char **av, struct faas_plugin_args *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < ac; i++) {
		const char *arg = av[i];

		if (strncmp(arg, "conf=", 5) == 0) {
			if (arg[5] != '/' || strlen(arg + 5) >= sizeof(a->conf)) {
				snprintf(err, errlen,
					 "plugstack.conf: spank_faas.so %s: expected conf=PATH, an "
					 "absolute path to coloc.conf",
					 arg);
				return -EINVAL;
			}
			strcpy(a->conf, arg + 5);
		} else if (strncmp(arg, "host_default=", 13) == 0) {
			if (config_parse_bool(arg + 13, &a->host_default) != 0) {
				snprintf(
				    err, errlen,
				    "plugstack.conf: spank_faas.so %s: expected host_default=yes "
				    "or host_default=no",
				    arg);
				return -EINVAL;
			}
		} else {
			snprintf(
			    err, errlen,
			    "plugstack.conf: spank_faas.so: unknown argument \"%s\"; accepted: "
			    "conf=PATH, host_default=yes|no",
			    arg);
			return -EINVAL;
		}
	}
	return 0;
}
