/*
 * fuzz_cpulist: the one cpu-list parser ("0-3,8"), common/cpumask.c's
 * cpumask_parse (job_start and step_start's "pus", the controller's
 * node_state lists, a cgroup's cpuset.cpus), and its users with their own
 * rules: faas-executor's executor_parse_cpus (--cpus: not empty) and the
 * plugin's faas_gpu_mask (spank-plugin/faas_opts.c, compiled in:
 * SLURM_JOB_GPUS, indexes below 32). The input is the list (it stops at
 * the first NUL).
 *
 * Properties: what cpumask_parse accepts formats (cpumask_format) into a
 * list it parses to the same set; cpumask_parse leaves the set alone when
 * it refuses; on a list in the syntax it documents (numbers and ranges
 * lo-hi, lo <= hi, separated by single commas, nothing else), it gives the
 * set when every cpu is below CPUMASK_MAX and a refusal otherwise, the
 * executor the same set, and the GPU mask the set's cpus below 32.
 */
#include "config.h"

#include "fuzz.h"

#include "cpumask.h"
#include "executor.h"

#include "faas_opts.c"

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
	char *list = fuzz_text(data, size), *text = malloc(8192);
	struct cpumask topo, again, untouched;
	int rc_topo, rc_exec, rc;
	bool fits, in_syntax;
	uint32_t gpus;
	cpu_set_t set;

	if (!text)
		abort();
	memset(&untouched, 0x5a, sizeof(untouched));
	topo = untouched;
	rc_topo = cpumask_parse(list, &topo);
	rc_exec = executor_parse_cpus(list, &set);
	gpus = faas_gpu_mask(list);
	FUZZ_CHECK(rc_topo == 0 || rc_topo == -EINVAL || rc_topo == -ERANGE, "cpumask_parse: %d",
		   rc_topo);
	FUZZ_CHECK(rc_exec == 0 || rc_exec == -EINVAL, "executor_parse_cpus: %d", rc_exec);

	if (rc_topo == 0) {
		rc = cpumask_format(&topo, text, 8192);
		FUZZ_CHECK(rc == 0, "a parsed set does not format in 8 KiB");
		rc = cpumask_parse(text, &again);
		FUZZ_CHECK(rc == 0 && cpumask_equal(&topo, &again), "\"%s\" formats as \"%s\"",
			   list, text);
	} else {
		FUZZ_CHECK(cpumask_equal(&topo, &untouched), "a refusal changed the set");
	}

	in_syntax = strict(list, &fits);
	if (in_syntax && fits) {
		FUZZ_CHECK(rc_topo == 0 && rc_exec == 0,
			   "\"%s\": cpumask_parse %d, executor_parse_cpus %d", list, rc_topo,
			   rc_exec);
		FUZZ_CHECK(same_set(&topo, &set), "\"%s\" parses to different sets", list);
		FUZZ_CHECK(gpus == (uint32_t)topo.bits[0], "\"%s\": GPU mask %#x", list, gpus);
	} else if (in_syntax) {
		FUZZ_CHECK(rc_topo && rc_exec && gpus == 0,
			   "\"%s\" (a cpu beyond %d): cpumask_parse %d, executor_parse_cpus %d",
			   list, CPUMASK_MAX, rc_topo, rc_exec);
	}
	free(text);
	free(list);
	return 0;
}
