/*
 * bs_client.c - faas-bs-client: prices Black-Scholes options on the workers
 * of a lease (function "blackscholes" of the example library), keeping every
 * worker busy, checks each price bit for bit against the same kernel run
 * locally, and reports call latency and throughput. With --fallback, the
 * options of calls lost because the lease's executors went away (their
 * cores reclaimed by a host job) are priced locally instead, so the job
 * finishes either way. Uses only <faas.h>.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <faas.h>

#include "blackscholes_kernel.h"

#define PROG "faas-bs-client"
#define DEFAULT_OPTIONS 100000
#define MAX_COUNT 1000000000ULL /* --options and --chunk */
#define MAX_REPORTED_MISMATCHES 5
/* Calls in flight per worker: one running, one queued behind it. */
#define INFLIGHT_PER_WORKER 2

_Static_assert(sizeof(unsigned long long) == sizeof(uint64_t), "strtoull parses a uint64_t");

struct config {
	size_t options;
	size_t chunk; /* 0: as many as fit in a payload */
	uint64_t seed;
	int json;
	int fallback;		/* price locally what the workers can no longer */
	unsigned pause_ms;	/* between a call's completion and the next call */
	unsigned local_threads; /* threads of this job pricing options too */
	int no_remote;		/* no lease: the job's own threads only */
	int blocking;		/* sleep on the fabric for replies, do not spin */
};

/* One call in flight: the options it carries and its output buffer. */
struct slot {
	struct faas_call *call; /* NULL when free */
	double *out;		/* from faas_buffer_alloc, chunk prices */
	size_t first, count;
	uint64_t t0_ns;
};

struct run {
	struct faas_client *client;
	int fn;
	const struct bs_option *opts;
	const double *expect;
	size_t n, chunk, ncalls;
	struct slot *slots;
	size_t nslots;
	uint64_t *lat_ns; /* one per remote call, in completion order */
	size_t nlat;
	size_t done;
	size_t mismatches;
	int fallback;
	unsigned pause_ms;
	atomic_size_t cursor; /* the first option no call or thread took yet */
	size_t lost;	      /* calls the workers did not answer (--fallback) */
	size_t local_calls;   /* chunks priced here instead */
	size_t local_opts;
	size_t thread_opts; /* priced by --local-threads */
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: " PROG " [--options N] [--chunk N] [--seed S] [--fallback] [--pause-ms MS]\n"
	    "       [--local-threads N] [--no-remote] [--blocking] [--json]\n"
	    "  --options N  options to price, 1..%llu (default %d)\n"
	    "  --chunk N    most options per call, 1..%llu (default: as many as fit in\n"
	    "               the lease's largest payload)\n"
	    "  --seed S     seed of the option generator, an unsigned 64-bit integer,\n"
	    "               decimal or 0x-prefixed hexadecimal (default 1)\n"
	    "  --fallback   price locally the options of calls lost because the lease's\n"
	    "               executors went away (evicted), and go on\n"
	    "  --local-threads N  price options on N threads of this job as well, taking\n"
	    "               chunks from the same queue as the remote calls (0..1024; default 0)\n"
	    "  --no-remote  no lease: only the --local-threads price (the baseline)\n"
	    "  --pause-ms MS  wait MS milliseconds after each completed call (0..10000;\n"
	    "               default 0), to stretch a demonstration\n"
	    "  --blocking   sleep until replies arrive instead of busy-polling (for a\n"
	    "               client that shares its core with other work)\n"
	    "  --json       print the summary as one JSON object on one line\n"
	    "The lease is read from FAAS_LEASE.\n",
	    MAX_COUNT, DEFAULT_OPTIONS, MAX_COUNT);
}

__attribute__((format(printf, 1, 2))) static void bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	exit(2);
}

/* Prints "faas-bs-client: <what>: <faas_strerror(rc)>". */
__attribute__((format(printf, 2, 3))) static void faas_fail(int rc, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", faas_strerror(rc));
}

/* Parses an unsigned 64-bit integer, decimal or 0x-hexadecimal, the whole
 * string. Returns 0 or -EINVAL/-ERANGE. */
static int parse_u64(const char *s, uint64_t *v)
{
	int base = 10;
	unsigned long long x;
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	/* strtoull skips blanks and accepts a sign; accept digits only. */
	if (!((s[0] >= '0' && s[0] <= '9') ||
	      (base == 16 && ((s[0] >= 'a' && s[0] <= 'f') || (s[0] >= 'A' && s[0] <= 'F')))))
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*v = x;
	return 0;
}

static void parse_args(int argc, char **argv, struct config *cfg)
{
	/* clang-format off */
	static const struct option longopts[] = {
		{"options", required_argument, NULL, 'n'},
		{"chunk", required_argument, NULL, 'c'},
		{"seed", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"fallback", no_argument, NULL, 'f'},
		{"pause-ms", required_argument, NULL, 'p'},
		{"local-threads", required_argument, NULL, 't'},
		{"no-remote", no_argument, NULL, 'R'},
		{"blocking", no_argument, NULL, 'b'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	/* clang-format on */
	uint64_t v;
	int c;

	cfg->options = DEFAULT_OPTIONS;
	cfg->chunk = 0;
	cfg->seed = 1;
	cfg->json = 0;
	cfg->fallback = 0;
	cfg->pause_ms = 0;
	cfg->local_threads = 0;
	cfg->no_remote = 0;
	cfg->blocking = 0;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_u64(optarg, &v) || v < 1 || v > MAX_COUNT)
				bad_usage("--options takes an integer from 1 to %llu, not '%s'",
					  MAX_COUNT, optarg);
			cfg->options = (size_t)v;
			break;
		case 'c':
			if (parse_u64(optarg, &v) || v < 1 || v > MAX_COUNT)
				bad_usage("--chunk takes an integer from 1 to %llu, not '%s'",
					  MAX_COUNT, optarg);
			cfg->chunk = (size_t)v;
			break;
		case 's':
			if (parse_u64(optarg, &v))
				bad_usage("--seed takes an unsigned 64-bit integer (decimal or 0x "
					  "hexadecimal), not '%s'",
					  optarg);
			cfg->seed = v;
			break;
		case 'j':
			cfg->json = 1;
			break;
		case 'f':
			cfg->fallback = 1;
			break;
		case 't':
			if (parse_u64(optarg, &v) || v > 1024)
				bad_usage(
				    "--local-threads takes an integer from 0 to 1024, not '%s'",
				    optarg);
			cfg->local_threads = (unsigned)v;
			break;
		case 'R':
			cfg->no_remote = 1;
			break;
		case 'b':
			cfg->blocking = 1;
			break;
		case 'p':
			if (parse_u64(optarg, &v) || v > 10000)
				bad_usage("--pause-ms takes an integer from 0 to 10000, not '%s'",
					  optarg);
			cfg->pause_ms = (unsigned)v;
			break;
		case 'V':
#ifdef PACKAGE_VERSION
			printf("faas-bs-client (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
#else /* built on its own, against an installed libfaas */
			printf("faas-bs-client (libfaas API %d.%d)\n", FAAS_VERSION_MAJOR,
			       FAAS_VERSION_MINOR);
#endif
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			/* getopt_long has said what was wrong. */
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	if (cfg->no_remote && !cfg->local_threads)
		bad_usage("--no-remote needs --local-threads N: someone must price the options");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether rc means the lease's executors are gone (evicted, unreachable). */
static int workers_gone(int rc)
{
	return rc == FAAS_EEVICTED || rc == FAAS_EUNAVAIL || rc == FAAS_ETRANSPORT ||
	       rc == FAAS_ETIMEDOUT;
}

static void check_call(struct run *r, const struct slot *s);

/* --fallback: prices the slot's options here, as the function would. */
static void price_locally(struct run *r, struct slot *s)
{
	for (size_t i = 0; i < s->count; i++)
		s->out[i] = bs_price(&r->opts[s->first + i]);
	r->local_calls++;
	r->local_opts += s->count;
	r->done++;
	check_call(r, s);
}

/* Starts the call for options [first, first + count) in a free slot. With
 * --fallback and no executor left, prices them here instead. */
static int start_call(struct run *r, struct slot *s, size_t first)
{
	size_t count = r->n - first < r->chunk ? r->n - first : r->chunk;
	int rc;

	s->first = first;
	s->count = count;
	s->t0_ns = now_ns();
	rc = faas_invoke_async(r->client, r->fn, r->opts + first, count * sizeof(struct bs_option),
			       s->out, r->chunk * sizeof(double), &s->call);
	if (rc) {
		s->call = NULL;
		if (r->fallback && workers_gone(rc)) {
			price_locally(r, s);
			return 0;
		}
		faas_fail(rc, "invoking blackscholes on options %zu..%zu", first,
			  first + count - 1);
	}
	return rc;
}

/* Compares a completed call's prices with the local ones, bit for bit. */
static void check_call(struct run *r, const struct slot *s)
{
	size_t i;

	for (i = 0; i < s->count; i++) {
		size_t k = s->first + i;
		uint64_t got, want;

		memcpy(&got, &s->out[i], sizeof(got));
		memcpy(&want, &r->expect[k], sizeof(want));
		if (got == want)
			continue;
		if (r->mismatches < MAX_REPORTED_MISMATCHES)
			fprintf(stderr,
				PROG ": option %zu: remote price %.17g (0x%016" PRIx64
				     ") != local %.17g (0x%016" PRIx64 ")\n",
				k, s->out[i], got, r->expect[k], want);
		r->mismatches++;
	}
}

/* Waits for every call still in flight, ignoring their results, so that no
 * output buffer is freed while a call may still write into it. */
static void drain(struct run *r)
{
	struct faas_call *call;
	size_t len;

	while (faas_inflight(r->client) > 0)
		if (faas_wait_any(r->client, &call, &len) == FAAS_EINVAL)
			break;
}

/* The next chunk of options nobody took yet (remote calls and local
 * threads share them); r->n when none is left. */
static size_t take(struct run *r)
{
	size_t first = atomic_fetch_add(&r->cursor, r->chunk);

	return first < r->n ? first : r->n;
}

/* Runs the calls, nslots at a time, taking chunks until none is left.
 * Returns 0, or 1 after printing what failed. */
static int run_calls(struct run *r)
{
	size_t next, i;

	for (i = 0; i < r->nslots && (next = take(r)) < r->n; i++)
		if (start_call(r, &r->slots[i], next))
			return 1;

	for (;;) {
		if (faas_inflight(r->client) == 0) {
			/* --fallback without executors: price the rest here */
			size_t started = 0;

			for (i = 0; i < r->nslots && !r->slots[i].call && (next = take(r)) < r->n;
			     i++, started++)
				if (start_call(r, &r->slots[i], next))
					return 1;
			if (faas_inflight(r->client) == 0 && started == 0)
				break;
			continue;
		}
		struct faas_call *call = NULL;
		struct slot *s = NULL;
		size_t len = 0;
		uint64_t t1;
		int rc;

		rc = faas_wait_any(r->client, &call, &len);
		t1 = now_ns();
		for (i = 0; i < r->nslots; i++)
			if (r->slots[i].call && r->slots[i].call == call) {
				s = &r->slots[i];
				break;
			}
		if (!s) {
			faas_fail(rc ? rc : FAAS_EPROTO, "waiting for a blackscholes call");
			return 1;
		}
		s->call = NULL;
		if (rc && r->fallback && workers_gone(rc)) {
			r->lost++;
			price_locally(r, s);
			rc = 0;
			len = s->count * sizeof(double);
			t1 = 0;
		} else if (rc) {
			faas_fail(rc, "blackscholes on options %zu..%zu", s->first,
				  s->first + s->count - 1);
			return 1;
		}
		if (len != s->count * sizeof(double)) {
			faas_fail(FAAS_EPROTO,
				  "blackscholes on options %zu..%zu returned %zu bytes, not %zu",
				  s->first, s->first + s->count - 1, len,
				  s->count * sizeof(double));
			return 1;
		}
		if (t1) { /* a remote call (a local one was counted already) */
			r->lat_ns[r->nlat++] = t1 - s->t0_ns;
			r->done++;
			check_call(r, s);
		}
		if (r->pause_ms) {
			struct timespec ts = {.tv_sec = r->pause_ms / 1000,
					      .tv_nsec = (long)(r->pause_ms % 1000) * 1000000L};

			nanosleep(&ts, NULL);
		}
		if ((next = take(r)) < r->n && start_call(r, s, next))
			return 1;
	}
	return 0;
}

/* --local-threads: one of the job's own threads, pricing chunks here. */
struct local_thread {
	pthread_t tid;
	struct run *r;
	size_t options, mismatches;
};

static void *local_worker(void *arg)
{
	struct local_thread *t = arg;
	struct run *r = t->r;
	size_t first;

	while ((first = take(r)) < r->n) {
		size_t count = r->n - first < r->chunk ? r->n - first : r->chunk;

		for (size_t k = first; k < first + count; k++) {
			double p = bs_price(&r->opts[k]);

			if (memcmp(&p, &r->expect[k], sizeof(p)) != 0)
				t->mismatches++;
		}
		t->options += count;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile p (0 < p <= 1) of sorted v[0..n), microseconds. */
static double percentile_us(const uint64_t *v, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0.0;
	rank = (size_t)(p * (double)n + 0.999999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

static void report(const struct config *cfg, const struct run *r, int workers, uint64_t wall_ns)
{
	double wall_s = (double)wall_ns / 1e9;
	double rate = wall_s > 0.0 ? (double)r->n / wall_s : 0.0;
	double med = percentile_us(r->lat_ns, r->nlat, 0.50);
	double p99 = percentile_us(r->lat_ns, r->nlat, 0.99);

	if (cfg->json) {
		printf("{\"options\":%zu,\"calls\":%zu,\"workers\":%d,\"chunk\":%zu,"
		       "\"seed\":%" PRIu64 ",\"mismatches\":%zu,\"latency_median_us\":%.3f,"
		       "\"latency_p99_us\":%.3f,\"wall_s\":%.6f,\"options_per_s\":%.1f,"
		       "\"remote_calls\":%zu,\"lost_calls\":%zu,\"local_calls\":%zu,"
		       "\"local_options\":%zu,\"local_threads\":%u,\"thread_options\":%zu}\n",
		       r->n, r->done, workers, r->chunk, cfg->seed, r->mismatches, med, p99, wall_s,
		       rate, r->nlat, r->lost, r->local_calls, r->local_opts, cfg->local_threads,
		       r->thread_opts);
		return;
	}
	printf("options        %zu\n"
	       "calls          %zu (up to %zu options each)\n"
	       "workers        %d\n"
	       "mismatches     %zu\n"
	       "latency        median %.3f us, p99 %.3f us\n"
	       "wall time      %.6f s\n"
	       "throughput     %.1f options/s\n",
	       r->n, r->done, r->chunk, workers, r->mismatches, med, p99, wall_s, rate);
	if (cfg->local_threads)
		printf("local threads  %u priced %zu options\n", cfg->local_threads,
		       r->thread_opts);
	if (r->fallback)
		printf("remote calls   %zu\n"
		       "lost calls     %zu (the executors went away; priced locally)\n"
		       "local calls    %zu (%zu options)\n",
		       r->nlat, r->lost, r->local_calls, r->local_opts);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct faas_lease *lease = NULL;
	struct faas_client *client = NULL;
	struct bs_option *opts = NULL;
	double *expect = NULL;
	struct run r;
	struct local_thread *threads = NULL;
	unsigned nthreads = 0;
	char err[256] = "";
	size_t fit, i;
	uint64_t t0, wall_ns = 0;
	int workers, rc, status = 1;

	/* as coloc's programs run (transport_env_defaults); libfaas leaves the
	 * environment alone */
	setenv("FI_SHM_DISABLE_CMA", "1", 0);
	parse_args(argc, argv, &cfg);
	memset(&r, 0, sizeof(r));

	if (cfg.no_remote) {
		workers = 0;
		fit = 4096; /* chunks the threads take */
		goto sized;
	}
	rc = faas_lease_from_env(&lease, err, sizeof(err));
	if (rc) {
		if (err[0])
			faas_fail(rc, "reading the lease from FAAS_LEASE (%s)", err);
		else
			faas_fail(rc, "reading the lease from FAAS_LEASE");
		goto out;
	}
	struct faas_client_options copts = {.blocking = cfg.blocking};

	rc = faas_client_create(lease, &copts, &client);
	if (rc) {
		faas_fail(rc, "connecting to the workers of lease %s", faas_lease_id(lease));
		goto out;
	}
	rc = faas_function(client, "blackscholes");
	if (rc < 0) {
		faas_fail(rc, "looking up function blackscholes");
		goto out;
	}
	r.fn = rc;
	r.client = client;
	workers = faas_client_workers(client);
	if (workers < 1) {
		faas_fail(FAAS_EUNAVAIL, "connecting to the workers of lease %s",
			  faas_lease_id(lease));
		goto out;
	}

	fit = faas_lease_max_payload(lease) / sizeof(struct bs_option);
	if (!fit) {
		faas_fail(FAAS_ETOOBIG, "fitting one option (%zu bytes) in a payload of %zu bytes",
			  sizeof(struct bs_option), faas_lease_max_payload(lease));
		goto out;
	}
sized:
	r.fallback = cfg.fallback;
	r.pause_ms = cfg.pause_ms;
	r.n = cfg.options;
	r.chunk = cfg.chunk && cfg.chunk < fit ? cfg.chunk : fit;
	if (r.chunk > r.n)
		r.chunk = r.n;
	r.ncalls = (r.n + r.chunk - 1) / r.chunk;
	r.nslots = (size_t)workers * INFLIGHT_PER_WORKER;
	if (r.nslots > r.ncalls)
		r.nslots = r.ncalls;

	opts = malloc(r.n * sizeof(*opts));
	expect = malloc(r.n * sizeof(*expect));
	r.lat_ns = calloc(r.ncalls, sizeof(*r.lat_ns));
	r.slots = r.nslots ? calloc(r.nslots, sizeof(*r.slots)) : NULL;
	threads = cfg.local_threads ? calloc(cfg.local_threads, sizeof(*threads)) : NULL;
	if (!opts || !expect || !r.lat_ns || (r.nslots && !r.slots) ||
	    (cfg.local_threads && !threads)) {
		faas_fail(FAAS_ENOMEM, "allocating %zu options", r.n);
		goto out;
	}
	for (i = 0; i < r.nslots; i++) {
		r.slots[i].out = faas_buffer_alloc(client, r.chunk * sizeof(double));
		if (!r.slots[i].out) {
			faas_fail(FAAS_ENOMEM, "allocating a fabric buffer of %zu bytes",
				  r.chunk * sizeof(double));
			goto out;
		}
	}

	bs_generate(opts, r.n, cfg.seed);
	for (i = 0; i < r.n; i++)
		expect[i] = bs_price(&opts[i]);
	r.opts = opts;
	r.expect = expect;

	t0 = now_ns();
	for (i = 0; i < cfg.local_threads; i++) {
		threads[i].r = &r;
		if (pthread_create(&threads[i].tid, NULL, local_worker, &threads[i]) != 0) {
			faas_fail(FAAS_ENOMEM, "starting local thread %zu", i);
			atomic_store(&r.cursor, r.n); /* the others stop at once */
			break;
		}
		nthreads++;
	}
	rc = cfg.no_remote ? 0 : run_calls(&r);
	if (rc)
		atomic_store(&r.cursor, r.n);
	for (i = 0; i < nthreads; i++) {
		pthread_join(threads[i].tid, NULL);
		r.thread_opts += threads[i].options;
		r.mismatches += threads[i].mismatches;
	}
	wall_ns = now_ns() - t0;
	if (rc) {
		drain(&r);
		goto out;
	}
	if (nthreads < cfg.local_threads)
		goto out;

	qsort(r.lat_ns, r.nlat, sizeof(*r.lat_ns), cmp_u64);
	report(&cfg, &r, workers, wall_ns);
	if (r.mismatches)
		fprintf(stderr, PROG ": %zu of %zu prices differ from the local ones\n",
			r.mismatches, r.n);
	else
		status = 0;

out:
	if (r.slots) {
		for (i = 0; i < r.nslots; i++)
			if (r.slots[i].out)
				faas_buffer_free(client, r.slots[i].out);
		free(r.slots);
	}
	free(threads);
	free(r.lat_ns);
	free(expect);
	free(opts);
	faas_client_destroy(client);
	faas_lease_destroy(lease);
	return status;
}
