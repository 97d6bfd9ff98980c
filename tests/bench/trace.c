/*
 * trace: SWF traces and synthetic ones (trace.h), for faas-trace-replay.
 *
 * SWF (Standard Workload Format, Parallel Workloads Archive): one job a
 * line, 18 whitespace-separated numbers: 1 job id, 2 submit, 3 wait, 4 run
 * time, 5 allocated processors, 6 average CPU time used, 7 used memory
 * (KiB per processor), 8 requested processors, 9 requested time, 10
 * requested memory, 11 status (1 completed, 0 failed, 5 cancelled, 2-4
 * partial), 12 user, 13 group, 14 application, 15 queue, 16 partition, 17
 * preceding job, 18 think time; -1 where unknown; ';' starts a comment.
 *
 * The synthetic trace, drawn from one splitmix64 stream seeded by --seed:
 *   - size: 2^k whole nodes, k geometric with P(k) = 2^-(k+1), redrawn
 *     above log2(max_job_nodes) (half the jobs are 1 node, a quarter 2, ...);
 *   - run time: lognormal, median 1 h, sigma 1.5 (mean ~3 h), clipped to
 *     [1 min, 24 h];
 *   - time limit: run time x U(1, 3), rounded up to 15 min, at most 24 h;
 *   - submissions: a Poisson-like stream where the gap after each job is
 *     exponential with mean (its nodes x run time) / (load x nodes), so the
 *     offered load is `load` of the cluster in expectation;
 *   - memory used: U(5 %, 35 %) of each node's memory (mean 20 %: Daint's
 *     80 % free memory).
 * Jobs' idle cores are the replay's business (replay.c).
 *
 * Data: a growable array of struct trace_job. No globals, no locking.
 */
#include "config.h"

#include "trace.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers --------------------------------------------------------- */

void trace_rng_seed(struct trace_rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t trace_rng_next(struct trace_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double trace_rng_uniform(struct trace_rng *r)
{
	return (double)(trace_rng_next(r) >> 11) * 0x1.0p-53;
}

double trace_rng_exp(struct trace_rng *r, double mean)
{
	return -mean * log1p(-trace_rng_uniform(r));
}

double trace_rng_normal(struct trace_rng *r)
{
	double u = 1.0 - trace_rng_uniform(r), v = trace_rng_uniform(r);

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* ---- the job array ------------------------------------------------------------ */

void trace_init(struct trace *t)
{
	memset(t, 0, sizeof(*t));
}

void trace_fini(struct trace *t)
{
	if (!t)
		return;
	free(t->jobs);
	trace_init(t);
}

int trace_grow(void **items, size_t n, size_t *cap, size_t size, size_t first)
{
	size_t want = *cap ? 2 * *cap : first;
	void *grown;

	if (n < *cap)
		return 0;
	grown = realloc(*items, want * size);
	if (!grown)
		return -ENOMEM;
	*items = grown;
	*cap = want;
	return 0;
}

static int trace_push(struct trace *t, const struct trace_job *j)
{
	void *jobs = t->jobs;
	int rc = trace_grow(&jobs, t->njobs, &t->cap, sizeof(*j), 1024);

	t->jobs = jobs;
	if (rc)
		return rc;
	t->jobs[t->njobs++] = *j;
	return 0;
}

static int job_by_submit(const void *a, const void *b)
{
	const struct trace_job *x = a, *y = b;

	if (x->submit != y->submit)
		return x->submit < y->submit ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* ---- SWF ---------------------------------------------------------------------- */

#define SWF_FIELDS 18

/* Fields that may have decimals (1-based): CPU time, memory, requested memory. */
static bool swf_decimal(int field)
{
	return field == 6 || field == 7 || field == 10;
}

/*
 * Splits one data line into SWF_FIELDS numbers. Returns 0, or -EINVAL with
 * what[] saying why.
 */
static int swf_fields(char *line, double v[SWF_FIELDS], char *what, size_t len)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *end;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		if (n == SWF_FIELDS) {
			snprintf(what, len, "more than %d fields", SWF_FIELDS);
			return -EINVAL;
		}
		errno = 0;
		v[n] = strtod(p, &end);
		if (end == p || (*end && !isspace((unsigned char)*end)) || errno == ERANGE ||
		    !isfinite(v[n])) {
			int w = 0;

			while (p[w] && !isspace((unsigned char)p[w]) && w < 24)
				w++;
			snprintf(what, len, "field %d \"%.*s\" is not a number", n + 1, w, p);
			return -EINVAL;
		}
		n++;
		if (v[n - 1] < -1) {
			snprintf(what, len, "field %d is %g, below -1", n, v[n - 1]);
			return -EINVAL;
		}
		if (!swf_decimal(n) && v[n - 1] != floor(v[n - 1])) {
			snprintf(what, len, "field %d is %g, not a whole number", n, v[n - 1]);
			return -EINVAL;
		}
		if (v[n - 1] > 9.0e15) {
			snprintf(what, len, "field %d is %g, too large", n, v[n - 1]);
			return -EINVAL;
		}
		p = end;
	}
	if (n != SWF_FIELDS) {
		snprintf(what, len, "%d fields, expected %d", n, SWF_FIELDS);
		return -EINVAL;
	}
	return 0;
}

/* The "; MaxProcs: N" header, or 0. */
static int64_t swf_header_max_procs(const char *line)
{
	const char *k = strstr(line, "MaxProcs:");

	return k ? strtoll(k + strlen("MaxProcs:"), NULL, 10) : 0;
}

int trace_parse_swf(FILE *f, const char *name, size_t max_jobs, struct trace *t, FILE *errf)
{
	char line[4096], what[128];
	unsigned long lineno = 0;
	unsigned errors = 0;
	int rc = 0;

	trace_init(t);
	while (fgets(line, sizeof(line), f)) {
		double v[SWF_FIELDS];
		struct trace_job j;
		char *p = line;
		size_t len = strlen(line);

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			int c;

			while ((c = getc(f)) != EOF && c != '\n')
				;
			snprintf(what, sizeof(what), "line longer than %zu bytes",
				 sizeof(line) - 2);
			goto bad;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ';') {
			if (!t->max_procs)
				t->max_procs = swf_header_max_procs(p);
			continue;
		}
		if (!*p)
			continue;
		if (swf_fields(p, v, what, sizeof(what)) != 0)
			goto bad;
		j = (struct trace_job){.id = (int64_t)v[0],
				       .submit = (int64_t)v[1],
				       .wait = (int64_t)v[2],
				       .run = (int64_t)v[3],
				       .procs = (int64_t)v[4],
				       .cpu_time = v[5],
				       .mem_kib = v[6],
				       .req_time = (int64_t)v[8],
				       .status = (int64_t)v[10],
				       .mem_fraction = -1};
		if (j.submit < 0) {
			snprintf(what, sizeof(what), "submit time (field 2) unknown");
			goto bad;
		}
		if (j.status != 1 || j.run <= 0 || j.procs <= 0) {
			t->skipped++;
			continue;
		}
		if (errors)
			continue;
		rc = trace_push(t, &j);
		if (rc)
			goto fail;
		continue;
	bad:
		if (errors++ < TRACE_MAX_ERRORS && errf)
			fprintf(errf, "%s:%lu: %s\n", name, lineno, what);
	}
	if (ferror(f)) {
		if (errf)
			fprintf(errf, "%s: read error after line %lu\n", name, lineno);
		rc = -EIO;
		goto fail;
	}
	if (errors) {
		if (errf)
			fprintf(errf, "%s: %u bad line%s; the trace is refused\n", name, errors,
				errors == 1 ? "" : "s");
		rc = -EINVAL;
		goto fail;
	}
	if (t->njobs)
		qsort(t->jobs, t->njobs, sizeof(*t->jobs), job_by_submit);
	if (max_jobs && t->njobs > max_jobs)
		t->njobs = max_jobs;
	return 0;

fail:
	trace_fini(t);
	return rc;
}

int trace_write_swf(const struct trace *t, FILE *f)
{
	fprintf(f, "; coloc synthetic trace (faas-trace-replay)\n; MaxJobs: %zu\n", t->njobs);
	if (t->max_procs)
		fprintf(f, "; MaxProcs: %" PRId64 "\n", t->max_procs);
	for (size_t i = 0; i < t->njobs; i++) {
		const struct trace_job *j = &t->jobs[i];

		fprintf(f,
			"%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
			" %.17g %.17g %" PRId64 " %" PRId64 " -1 %" PRId64
			" -1 -1 -1 -1 -1 -1 -1\n",
			j->id, j->submit, j->wait, j->run, j->procs, j->cpu_time, j->mem_kib,
			j->procs, j->req_time, j->status);
	}
	return ferror(f) ? -EIO : 0;
}

/* ---- synthetic ------------------------------------------------------------------ */

#define SYNTH_RUN_MEDIAN 3600.0
#define SYNTH_RUN_SIGMA 1.5
#define SYNTH_RUN_MIN 60.0
#define SYNTH_RUN_MAX 86400.0
#define SYNTH_LIMIT_ROUND 900

int trace_synthetic(const struct trace_synth *s, struct trace *t)
{
	struct trace_rng r;
	unsigned kmax = 0;
	double now = 0, end;
	int rc;

	trace_init(t);
	if (!s || !s->nodes || !s->cores || !(s->days > 0) || !(s->load > 0 && s->load <= 4))
		return -EINVAL;
	while ((2u << kmax) <= (s->max_job_nodes ? s->max_job_nodes : 1) && kmax < 20)
		kmax++;
	end = s->days * 86400.0;
	t->max_procs = (int64_t)s->nodes * s->cores;
	trace_rng_seed(&r, s->seed);
	while (now < end && (!s->max_jobs || t->njobs < s->max_jobs)) {
		struct trace_job j = {.wait = 0, .status = 1, .cpu_time = -1, .mem_kib = -1};
		unsigned k;
		double run, limit;

		do {
			k = 0;
			while (trace_rng_uniform(&r) < 0.5)
				k++;
		} while (k > kmax);
		run = exp(log(SYNTH_RUN_MEDIAN) + SYNTH_RUN_SIGMA * trace_rng_normal(&r));
		run = fmin(fmax(run, SYNTH_RUN_MIN), SYNTH_RUN_MAX);
		limit = run * (1.0 + 2.0 * trace_rng_uniform(&r));
		limit = ceil(limit / SYNTH_LIMIT_ROUND) * SYNTH_LIMIT_ROUND;
		j.id = (int64_t)t->njobs + 1;
		j.submit = (int64_t)now;
		j.run = (int64_t)run;
		j.req_time = (int64_t)fmin(limit, SYNTH_RUN_MAX);
		j.procs = (int64_t)(1u << k) * s->cores;
		j.mem_fraction = 0.05 + 0.30 * trace_rng_uniform(&r);
		rc = trace_push(t, &j);
		if (rc) {
			trace_fini(t);
			return rc;
		}
		now += trace_rng_exp(&r, (double)(1u << k) * run / (s->load * s->nodes));
	}
	return 0;
}
