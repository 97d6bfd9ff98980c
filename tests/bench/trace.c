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
#include <stddef.h>
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
	free(t->usage);
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

/*
 * A header line (after its ';'): "MaxNodes: N" or "MaxProcs: N" sets the
 * shape (the first of each counts). 0, or -EINVAL with what[] saying why.
 */
static int swf_header(const char *p, struct trace *t, char *what, size_t len)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {{"MaxNodes:", offsetof(struct trace, max_nodes)},
		    {"MaxProcs:", offsetof(struct trace, max_procs)}};

	while (*p == ';' || isspace((unsigned char)*p))
		p++;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int64_t *v = (int64_t *)(void *)((char *)t + keys[i].off);
		size_t klen = strlen(keys[i].key);
		char *end;
		long long n;

		if (strncmp(p, keys[i].key, klen) != 0)
			continue;
		errno = 0;
		n = strtoll(p + klen, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (end == p + klen || *end || errno || n < 1 || n > 100000000) {
			snprintf(what, len,
				 "header %.*s is not a whole number from 1 to 100000000; give the "
				 "machine's shape there or remove the line and pass it on the "
				 "command line",
				 (int)klen - 1, keys[i].key);
			return -EINVAL;
		}
		if (!*v)
			*v = n;
	}
	return 0;
}

static enum trace_status swf_status(int64_t status)
{
	switch (status) {
	case 1:
		return TRACE_COMPLETED;
	case 0:
		return TRACE_FAILED;
	case 5:
		return TRACE_CANCELLED;
	default:
		return TRACE_OTHER;
	}
}

/*
 * Reads the next line of f into line[size] and counts it in *lineno: 1
 * with *p at its first non-space character, 0 at the end, or -E2BIG (the
 * rest of the line skipped, what[] saying so).
 */
static int read_line(FILE *f, char *line, size_t size, unsigned long *lineno, char **p, char *what,
		     size_t len)
{
	size_t n;

	if (!fgets(line, (int)size, f))
		return 0;
	++*lineno;
	n = strlen(line);
	if (n == size - 1 && line[n - 1] != '\n') {
		int c;

		while ((c = getc(f)) != EOF && c != '\n')
			;
		snprintf(what, len, "line longer than %zu bytes", size - 2);
		return -E2BIG;
	}
	*p = line;
	while (isspace((unsigned char)**p))
		++*p;
	return 1;
}

/* Counts a bad line and says why (the first TRACE_MAX_ERRORS) to errf. */
static void line_error(FILE *errf, const char *name, unsigned long lineno, const char *what,
		       unsigned *errors)
{
	if ((*errors)++ < TRACE_MAX_ERRORS && errf)
		fprintf(errf, "%s:%lu: %s\n", name, lineno, what);
}

/*
 * After reading f to its end: -EIO on a read error, -EINVAL after bad lines
 * (what: "the trace is refused"), each said to errf; else 0.
 */
static int read_verdict(FILE *f, const char *name, unsigned long lineno, unsigned errors,
			const char *what, FILE *errf)
{
	if (ferror(f)) {
		if (errf)
			fprintf(errf, "%s: read error after line %lu\n", name, lineno);
		return -EIO;
	}
	if (errors) {
		if (errf)
			fprintf(errf, "%s: %u bad line%s; %s\n", name, errors,
				errors == 1 ? "" : "s", what);
		return -EINVAL;
	}
	return 0;
}

int trace_parse_swf(FILE *f, const char *name, size_t max_jobs, struct trace *t, FILE *errf)
{
	char line[4096], what[192], *p;
	unsigned long lineno = 0;
	unsigned errors = 0;
	int rc = 0, got;

	trace_init(t);
	while ((got = read_line(f, line, sizeof(line), &lineno, &p, what, sizeof(what))) != 0) {
		double v[SWF_FIELDS];
		struct trace_job j;

		if (got < 0)
			goto bad;
		if (*p == ';') {
			if (swf_header(p, t, what, sizeof(what)) != 0)
				goto bad;
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
		if (j.run <= 0 || j.procs <= 0) {
			t->skipped++;
			continue;
		}
		if (errors)
			continue;
		rc = trace_push(t, &j);
		if (rc)
			goto fail;
		t->by_status[swf_status(j.status)]++;
		continue;
	bad:
		line_error(errf, name, lineno, what, &errors);
	}
	rc = read_verdict(f, name, lineno, errors, "the trace is refused", errf);
	if (rc)
		goto fail;
	if (t->njobs)
		qsort(t->jobs, t->njobs, sizeof(*t->jobs), job_by_submit);
	if (max_jobs && t->njobs > max_jobs) {
		memset(t->by_status, 0, sizeof(t->by_status));
		t->njobs = max_jobs;
		for (size_t i = 0; i < t->njobs; i++)
			t->by_status[swf_status(t->jobs[i].status)]++;
	}
	return 0;

fail:
	trace_fini(t);
	return rc;
}

/* ---- usage samples -------------------------------------------------------------- */

struct job_ref {
	int64_t id;
	size_t idx;
};

static int ref_by_id(const void *a, const void *b)
{
	const struct job_ref *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Sample order: by job (its index in jobs[], kept in job_id meanwhile), then time. */
static int usage_by_job(const void *a, const void *b)
{
	const struct trace_usage *x = a, *y = b;

	if (x->job_id != y->job_id)
		return x->job_id < y->job_id ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* Parses "JOB_ID SECONDS IDLE_FRACTION"; 0 or -EINVAL with what[] saying why. */
static int usage_fields(const char *p, struct trace_usage *u, char *what, size_t len)
{
	long long id, at;
	double idle;
	int used = 0;

	if (sscanf(p, "%lld %lld %lf %n", &id, &at, &idle, &used) != 3 || p[used]) {
		snprintf(what, len, "expected JOB_ID SECONDS IDLE_FRACTION (three numbers)");
		return -EINVAL;
	}
	if (at < 0 || !(idle >= 0 && idle <= 1)) {
		snprintf(what, len,
			 "SECONDS must be 0 or more and IDLE_FRACTION from 0 to 1 (got %lld %g)",
			 at, idle);
		return -EINVAL;
	}
	*u = (struct trace_usage){.job_id = id, .at = at, .idle = idle};
	return 0;
}

int trace_parse_usage(FILE *f, const char *name, struct trace *t, FILE *errf)
{
	struct job_ref *refs = calloc(t->njobs ? t->njobs : 1, sizeof(*refs));
	char line[512], what[160], *p;
	unsigned long lineno = 0;
	unsigned errors = 0;
	size_t cap = 0, n = 0, unmatched = 0;
	void *items = NULL;
	int rc = 0, got;

	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < t->njobs; i++)
		refs[i] = (struct job_ref){.id = t->jobs[i].id, .idx = i};
	qsort(refs, t->njobs, sizeof(*refs), ref_by_id);
	while ((got = read_line(f, line, sizeof(line), &lineno, &p, what, sizeof(what))) != 0) {
		struct trace_usage u;
		struct job_ref key, *hit;

		if (got < 0)
			goto bad;
		if (!*p || *p == '#')
			continue;
		if (usage_fields(p, &u, what, sizeof(what)) != 0)
			goto bad;
		key.id = u.job_id;
		hit = bsearch(&key, refs, t->njobs, sizeof(*refs), ref_by_id);
		if (!hit) {
			unmatched++;
			continue;
		}
		u.job_id = (int64_t)hit->idx;
		rc = trace_grow(&items, n, &cap, sizeof(u), 1024);
		if (rc)
			goto out;
		((struct trace_usage *)items)[n++] = u;
		continue;
	bad:
		line_error(errf, name, lineno, what, &errors);
	}
	rc = read_verdict(f, name, lineno, errors, "the samples are refused", errf);
	if (rc)
		goto out;
	free(t->usage);
	for (size_t i = 0; i < t->njobs; i++)
		t->jobs[i].nusage = 0;
	t->usage = items;
	t->nusage = n;
	t->usage_unmatched = unmatched;
	items = NULL;
	if (t->nusage)
		qsort(t->usage, t->nusage, sizeof(*t->usage), usage_by_job);
	for (size_t k = 0; k < t->nusage; k++) {
		struct trace_job *j = &t->jobs[t->usage[k].job_id];

		if (!j->nusage++)
			j->usage_first = k;
		t->usage[k].job_id = j->id;
	}
out:
	free(items);
	free(refs);
	return rc;
}

int trace_write_swf(const struct trace *t, FILE *f)
{
	fprintf(f, "; coloc synthetic trace (faas-trace-replay)\n; MaxJobs: %zu\n", t->njobs);
	if (t->max_nodes)
		fprintf(f, "; MaxNodes: %" PRId64 "\n", t->max_nodes);
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
	t->max_nodes = s->nodes;
	t->max_procs = (int64_t)s->nodes * s->cores;
	trace_rng_seed(&r, s->seed);
	while (now < end && (!s->max_jobs || t->njobs < s->max_jobs)) {
		struct trace_job j = {.wait = -1, .status = 1, .cpu_time = -1, .mem_kib = -1};
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
