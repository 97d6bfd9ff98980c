/*
 * fuzz_cpulist: every parser of cpu lists ("0-3,8"): colocd's
 * cpumask_parse (colocd/topology.c: job_start and step_start's "pus", the
 * controller's node_state lists), the sandbox's cpulist_parse
 * (colocd/sandbox.c, compiled in: a cgroup's cpuset.cpus), faas-executor's
 * executor_parse_cpus (--cpus) and the plugin's faas_gpu_mask
 * (spank-plugin/faas_opts.c, compiled in: SLURM_JOB_GPUS). The input is
 * the list (it stops at the first NUL).
 *
 * Properties: what cpumask_parse accepts formats (cpumask_format) into a
 * list it parses to the same set, and the sandbox's formatter agrees;
 * cpumask_parse leaves the set alone when it refuses; on a list in the
 * one syntax they all document (numbers and ranges lo-hi, lo <= hi,
 * separated by single commas, nothing else), the four agree: the same
 * set when every cpu is below CPUMASK_MAX, a refusal otherwise, and the
 * GPU mask holds the set's cpus below 32.
 */
#include "config.h"

#include "fuzz.h"

#include "cpumask.h"
#include "executor.h"
#include "topology.h"

#include "faas_opts.c"
#include "sandbox.c"

/* Whether s is in the common syntax; *fits: every number < CPUMASK_MAX. */
static bool strict(const char *s, bool *fits)
{
	*fits = true;
	if (!*s)
		return false;
	for (;;) {
		unsigned long lo = 0, hi;
		size_t n = strspn(s, "0123456789");

		if (n == 0)
			return false;
		for (size_t i = 0; i < n; i++)
			lo = lo > CPUMASK_MAX ? lo : lo * 10 + (unsigned long)(s[i] - '0');
		s += n;
		hi = lo;
		if (*s == '-') {
			s++;
			n = strspn(s, "0123456789");
			if (n == 0)
				return false;
			hi = 0;
			for (size_t i = 0; i < n; i++)
				hi = hi > CPUMASK_MAX ? hi : hi * 10 + (unsigned long)(s[i] - '0');
			s += n;
		}
		if (lo > hi && lo < CPUMASK_MAX && hi < CPUMASK_MAX)
			return false; /* a range going down: not in the syntax */
		if (lo >= CPUMASK_MAX || hi >= CPUMASK_MAX)
			*fits = false;
		if (*s == '\0')
			return true;
		if (*s != ',')
			return false;
		s++;
	}
}

static bool same_set(const struct cpumask *m, const cpu_set_t *set)
{
	for (unsigned c = 0; c < CPUMASK_MAX; c++)
		if (cpumask_test(m, c) != (c < CPU_SETSIZE && CPU_ISSET(c, set)))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *list = fuzz_text(data, size), *text = malloc(8192), *text2 = malloc(8192);
	struct cpumask topo, sand, again, untouched;
	int rc_topo, rc_sand, rc_exec, rc;
	bool fits, in_syntax;
	uint32_t gpus;
	cpu_set_t set;

	if (!text || !text2)
		abort();
	memset(&untouched, 0x5a, sizeof(untouched));
	topo = untouched;
	rc_topo = cpumask_parse(list, &topo);
	rc_sand = cpulist_parse(list, &sand);
	rc_exec = executor_parse_cpus(list, &set);
	gpus = faas_gpu_mask(list);
	FUZZ_CHECK(rc_topo == 0 || rc_topo == -EINVAL || rc_topo == -ERANGE, "cpumask_parse: %d",
		   rc_topo);
	FUZZ_CHECK(rc_sand == 0 || rc_sand == -EINVAL || rc_sand == -ERANGE, "cpulist_parse: %d",
		   rc_sand);
	FUZZ_CHECK(rc_exec == 0 || rc_exec == -EINVAL, "executor_parse_cpus: %d", rc_exec);

	if (rc_topo == 0) {
		rc = cpumask_format(&topo, text, 8192);
		FUZZ_CHECK(rc == 0, "a parsed set does not format in 8 KiB");
		rc = cpumask_parse(text, &again);
		FUZZ_CHECK(rc == 0 && cpumask_equal(&topo, &again), "\"%s\" formats as \"%s\"",
			   list, text);
		cpulist_format(&topo, text2, 8192);
		FUZZ_CHECK(strcmp(text, text2) == 0, "the formatters disagree: \"%s\", \"%s\"",
			   text, text2);
	} else {
		FUZZ_CHECK(cpumask_equal(&topo, &untouched), "a refusal changed the set");
	}

	in_syntax = strict(list, &fits);
	if (in_syntax && fits) {
		FUZZ_CHECK(rc_topo == 0 && rc_sand == 0 && rc_exec == 0,
			   "\"%s\": cpumask_parse %d, cpulist_parse %d, executor_parse_cpus %d",
			   list, rc_topo, rc_sand, rc_exec);
		FUZZ_CHECK(cpumask_equal(&topo, &sand) && same_set(&topo, &set),
			   "\"%s\" parses to different sets", list);
		FUZZ_CHECK(gpus == (uint32_t)topo.bits[0], "\"%s\": GPU mask %#x", list, gpus);
	} else if (in_syntax) {
		FUZZ_CHECK(rc_topo && rc_sand && rc_exec,
			   "\"%s\" (a cpu beyond %d): cpumask_parse %d, cpulist_parse %d, "
			   "executor_parse_cpus %d",
			   list, CPUMASK_MAX, rc_topo, rc_sand, rc_exec);
	}
	free(text2);
	free(text);
	free(list);
	return 0;
}
