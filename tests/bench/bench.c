/*
 * faas-bench: invocation latency and throughput of coloc's data plane,
 * measured against the physical limit in the same run.
 *
 *   raw, raw-warm, raw-async   bare libfabric writedata round trips
 *                              (spinning, blocking, pipelined): raw_fabric.c
 *   hot, warm, async           libfaas calls of "echo" on a faas-executor
 *                              child (hot: spinning worker and client; warm:
 *                              both block on the CQ; async: pipelined calls)
 *   compare                    all six, interleaved over --rounds, with the
 *                              ratios the targets are written against
 *
 * Each run prints one JSON object (--json) or a line of text. The server
 * side (raw server or executor worker) is pinned to the last allowed cpu,
 * the client to the first, when there are two or more.
 */
#include "config.h"

#include "clock.h"
#include "stats.h"
#include "cli.h"
#include "faas.h"
#include "transport.h"
#include "raw_fabric.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { RAW, RAW_WARM, RAW_ASYNC, HOT, WARM, ASYNC, COMPARE, NMODES = COMPARE };
static const char *const mode_names[] = {"raw",	 "raw-warm", "raw-async", "hot",
					 "warm", "async",    "compare"};

struct bench_opts {
	enum mode mode;
	const char *provider;
	const char *addr;
	const char *rung;
	const char *executor;
	const char *lib;
	size_t payload;
	unsigned iterations, warmup, window, rounds;
	int json;
	int client_cpu, server_cpu;
};

struct summary {
	const char *mode;
	char provider[64];
	size_t payload;
	unsigned iterations;
	uint64_t min_ns, median_ns, p99_ns;
	double ops_per_s;
};

static void summarize(struct summary *s, uint64_t *rtt, unsigned n, double seconds)
{
	s->ops_per_s = seconds > 0 ? n / seconds : 0;
	if (!rtt || n == 0)
		return;
	qsort(rtt, n, sizeof(*rtt), stats_cmp_u64);
	s->min_ns = rtt[0];
	s->median_ns = rtt[n / 2];
	s->p99_ns = rtt[stats_rank(n, 0.99)];
}

static void print_summary(const struct bench_opts *o, const struct summary *s)
{
	if (o->json)
		printf("{\"mode\":\"%s\",\"provider\":\"%s\",\"payload\":%zu,\"iterations\":%u,"
		       "\"min_ns\":%llu,\"median_ns\":%llu,\"p99_ns\":%llu,\"ops_per_s\":%.0f}\n",
		       s->mode, s->provider, s->payload, s->iterations,
		       (unsigned long long)s->min_ns, (unsigned long long)s->median_ns,
		       (unsigned long long)s->p99_ns, s->ops_per_s);
	else
		printf("%-9s %-12s %7zu B  min %8.2f us  median %8.2f us  p99 %8.2f us  %10.0f "
		       "ops/s\n",
		       s->mode, s->provider, s->payload, s->min_ns / 1e3, s->median_ns / 1e3,
		       s->p99_ns / 1e3, s->ops_per_s);
	fflush(stdout);
}

/* ---- raw ---------------------------------------------------------------- */

static int run_raw(const struct bench_opts *o, enum mode m, struct summary *s)
{
	struct raw_params p = {.provider = o->provider,
			       .addr = o->addr,
			       .payload = o->payload,
			       .iterations = o->iterations,
			       .warmup = o->warmup,
			       .window = m == RAW_ASYNC ? o->window : 1,
			       .blocking = m == RAW_WARM,
			       .server_cpu = o->server_cpu,
			       .client_cpu = o->client_cpu};
	struct raw_result r;
	char err[256];
	int rc = raw_fabric_run(&p, &r, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "faas-bench: %s: %s\n", mode_names[m], err);
		return rc;
	}
	snprintf(s->provider, sizeof(s->provider), "%s", r.provider);
	summarize(s, r.rtt_ns, o->iterations, r.seconds);
	free(r.rtt_ns);
	return 0;
}

/* ---- executor child ------------------------------------------------------- */

struct executor_child {
	pid_t pid;
	char dir[64];
	char path[96];
};

static void executor_stop(struct executor_child *x)
{
	if (x->pid > 0) {
		int status;

		kill(x->pid, SIGTERM);
		for (int i = 0; i < 200 && waitpid(x->pid, &status, WNOHANG) == 0; i++)
			usleep(10000);
		if (waitpid(x->pid, &status, WNOHANG) == 0) {
			kill(x->pid, SIGKILL);
			waitpid(x->pid, &status, 0);
		}
	}
	unlink(x->path);
	rmdir(x->dir);
}

/* Starts faas-executor with one worker and reads its lease document. */
static int executor_start(const struct bench_opts *o, enum mode m, struct executor_child *x,
			  char **doc)
{
	char cpus[16];
	const char *argv[32];
	int argc = 0;
	struct stat st;
	FILE *f;

	snprintf(x->dir, sizeof(x->dir), "/tmp/faas-bench.XXXXXX");
	if (!mkdtemp(x->dir))
		return -errno;
	snprintf(x->path, sizeof(x->path), "%s/lease.json", x->dir);
	snprintf(cpus, sizeof(cpus), "%d", o->server_cpu >= 0 ? o->server_cpu : 0);
	argv[argc++] = o->executor;
	argv[argc++] = "--lib";
	argv[argc++] = o->lib;
	argv[argc++] = "--functions";
	argv[argc++] = "echo";
	argv[argc++] = "--workers";
	argv[argc++] = "1";
	argv[argc++] = "--cpus";
	argv[argc++] = cpus;
	argv[argc++] = "--mode";
	argv[argc++] = m == WARM ? "warm" : "hot";
	argv[argc++] = "--publish";
	argv[argc++] = x->path;
	argv[argc++] = "--die-with-parent";
	argv[argc++] = "--slot-size";
	argv[argc++] = o->payload + 64 > 65536 ? "16777216" : "65536";
	if (o->provider) {
		argv[argc++] = "--provider";
		argv[argc++] = o->provider;
	}
	if (o->addr) {
		argv[argc++] = "--addr";
		argv[argc++] = o->addr;
	}
	if (o->rung) {
		argv[argc++] = "--rung";
		argv[argc++] = o->rung;
	}
	argv[argc] = NULL;
	x->pid = fork();
	if (x->pid < 0)
		return -errno;
	if (x->pid == 0) {
		execv(o->executor, (char *const *)argv);
		fprintf(stderr, "faas-bench: cannot run %s: %s\n", o->executor, strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) { /* up to 10 s */
		int status;

		if (stat(x->path, &st) == 0)
			break;
		if (waitpid(x->pid, &status, WNOHANG) == x->pid) {
			x->pid = 0;
			fprintf(stderr, "faas-bench: %s exited before publishing its lease\n",
				o->executor);
			return -ECHILD;
		}
		usleep(10000);
	}
	f = fopen(x->path, "re");
	if (!f) {
		fprintf(stderr, "faas-bench: no lease document from %s within 10 s\n", o->executor);
		return -ETIMEDOUT;
	}
	*doc = calloc(1, 1 << 20);
	if (*doc && fread(*doc, 1, (1 << 20) - 1, f) == 0) {
		free(*doc);
		*doc = NULL;
	}
	fclose(f);
	return *doc ? 0 : -EIO;
}

/* ---- libfaas -------------------------------------------------------------- */

static int run_faas(const struct bench_opts *o, enum mode m, struct summary *s)
{
	struct faas_client_options co = {.blocking = m == WARM,
					 .depth = m == ASYNC ? (int)o->window : 1,
					 .src_addr = o->addr,
					 .timeout_ms = 10000};
	unsigned total = o->warmup + o->iterations;
	struct executor_child x = {0};
	struct faas_lease *lease = NULL;
	struct faas_client *c = NULL;
	uint64_t *rtt = NULL, t0 = 0;
	char *doc = NULL, err[512];
	char *in = NULL, *out = NULL;
	int fn, rc;

	rc = executor_start(o, m, &x, &doc);
	if (rc)
		goto out;
	bench_pin(o->client_cpu);
	rc = faas_lease_from_json(doc, &lease, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "faas-bench: %s\n", err);
		goto out;
	}
	rc = faas_client_create(lease, &co, &c);
	if (rc) {
		fprintf(stderr, "faas-bench: connecting: %s\n", faas_strerror(rc));
		goto out;
	}
	snprintf(s->provider, sizeof(s->provider), "%s", faas_lease_provider(lease));
	fn = faas_function(c, "echo");
	in = malloc(o->payload);
	out = faas_buffer_alloc(c, o->payload * (m == ASYNC ? o->window : 1));
	if (fn < 0 || !in || !out) {
		rc = fn < 0 ? fn : FAAS_ENOMEM;
		goto out;
	}
	memset(in, 0x5a, o->payload);
	if (m != ASYNC) {
		rtt = calloc(o->iterations, sizeof(*rtt));
		if (!rtt) {
			rc = FAAS_ENOMEM;
			goto out;
		}
		for (unsigned i = 0; i < total; i++) {
			size_t len = 0;
			uint64_t start;

			if (i == o->warmup)
				t0 = (uint64_t)clock_ns();
			in[0] = (char)i;
			start = (uint64_t)clock_ns();
			rc = faas_invoke(c, fn, in, o->payload, out, o->payload, &len);
			if (i >= o->warmup)
				rtt[i - o->warmup] = (uint64_t)clock_ns() - start;
			if (rc || len != o->payload || out[0] != (char)i) {
				fprintf(stderr, "faas-bench: call %u: %s\n", i,
					rc ? faas_strerror(rc) : "wrong echo");
				rc = rc ? rc : FAAS_EPROTO;
				goto out;
			}
		}
	} else {
		unsigned sent = 0, done = 0;

		while (done < total) {
			while (sent < total && faas_inflight(c) < (int)o->window) {
				struct faas_call *call;

				if (sent == o->warmup)
					t0 = (uint64_t)clock_ns();
				rc =
				    faas_invoke_async(c, fn, in, o->payload,
						      out + (size_t)(sent % o->window) * o->payload,
						      o->payload, &call);
				if (rc)
					goto fail_async;
				sent++;
			}
			struct faas_call *call;
			size_t len;

			rc = faas_wait_any(c, &call, &len);
			if (rc || len != o->payload)
				goto fail_async;
			done++;
		}
	}
	summarize(s, rtt, o->iterations, (double)((uint64_t)clock_ns() - t0) / 1e9);
	rc = 0;
	goto out;
fail_async:
	fprintf(stderr, "faas-bench: async call: %s\n", rc ? faas_strerror(rc) : "wrong length");
	rc = rc ? rc : FAAS_EPROTO;
out:
	free(rtt);
	free(in);
	if (c && out)
		faas_buffer_free(c, out);
	faas_client_destroy(c);
	faas_lease_destroy(lease);
	free(doc);
	executor_stop(&x);
	return rc;
}

static int run_one(const struct bench_opts *o, enum mode m, struct summary *s)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode_names[m];
	s->payload = o->payload;
	s->iterations = o->iterations;
	snprintf(s->provider, sizeof(s->provider), "%s", o->provider ? o->provider : "auto");
	return m <= RAW_ASYNC ? run_raw(o, m, s) : run_faas(o, m, s);
}

/* ---- compare ---------------------------------------------------------------- */

static double median_of(double *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int run_compare(const struct bench_opts *o)
{
	static const enum mode order[] = {RAW, HOT, RAW_WARM, WARM, RAW_ASYNC, ASYNC};
	double med[NMODES][16], ops[NMODES][16];
	struct summary s, last[NMODES];
	unsigned rounds = o->rounds > 16 ? 16 : o->rounds;

	for (unsigned r = 0; r < rounds; r++) {
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			enum mode m = order[i];

			if (run_one(o, m, &s))
				return 1;
			med[m][r] = (double)s.median_ns;
			ops[m][r] = s.ops_per_s;
			last[m] = s;
			if (!o->json)
				print_summary(o, &s);
		}
	}
	double hot = median_of(med[HOT], rounds), raw = median_of(med[RAW], rounds);
	double warm = median_of(med[WARM], rounds), raw_warm = median_of(med[RAW_WARM], rounds);
	double async = median_of(ops[ASYNC], rounds), raw_async = median_of(ops[RAW_ASYNC], rounds);

	if (o->json) {
		printf(
		    "{\"mode\":\"compare\",\"provider\":\"%s\",\"payload\":%zu,\"iterations\":%u,"
		    "\"rounds\":%u,\"window\":%u,"
		    "\"raw_median_ns\":%.0f,\"hot_median_ns\":%.0f,"
		    "\"raw_warm_median_ns\":%.0f,\"warm_median_ns\":%.0f,"
		    "\"raw_async_ops_per_s\":%.0f,\"async_ops_per_s\":%.0f,"
		    "\"hot_over_raw\":%.3f,\"warm_over_raw_warm\":%.3f,\"async_over_raw_async\":%.3f,"
		    "\"hot_p99_ns\":%llu,\"raw_p99_ns\":%llu}\n",
		    last[HOT].provider, o->payload, o->iterations, rounds, o->window, raw, hot,
		    raw_warm, warm, raw_async, async, hot / raw, warm / raw_warm, async / raw_async,
		    (unsigned long long)last[HOT].p99_ns, (unsigned long long)last[RAW].p99_ns);
	} else {
		printf("hot/raw %.3f  warm/raw-warm %.3f  async/raw-async %.3f  (medians of %u "
		       "rounds)\n",
		       hot / raw, warm / raw_warm, async / raw_async, rounds);
	}
	return 0;
}

/* ---- main ----------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: faas-bench --mode MODE [options]\n"
	    "  --mode M          raw | raw-warm | raw-async | hot | warm | async | compare\n"
	    "  --provider P      libfabric provider (default: FAAS_PROVIDER, else ranking)\n"
	    "  --addr A          local address for IP providers (default: FAAS_ADDR, else 127.0.0.1)\n"
	    "  --payload SIZE    bytes sent and echoed per call, like 4K (default 64)\n"
	    "  --iterations N    timed round trips or calls (default 10000)\n"
	    "  --warmup N        untimed ones before (default 1000)\n"
	    "  --window N        calls in flight for raw-async/async (default 16)\n"
	    "  --rounds N        compare: interleaved rounds, medians reported (default 3)\n"
	    "  --rung R          transport rung for the executor (default: best)\n"
	    "  --executor PATH   faas-executor to start (default %s)\n"
	    "  --lib PATH        function library with \"echo\" (default %s)\n"
	    "  --json            one JSON object per result\n",
	    FAAS_EXECUTOR_PATH, FAAS_EXAMPLES_LIB);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"mode", required_argument, NULL, 'm'},
	    {"provider", required_argument, NULL, 'p'},
	    {"addr", required_argument, NULL, 'a'},
	    {"payload", required_argument, NULL, 's'},
	    {"iterations", required_argument, NULL, 'n'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"window", required_argument, NULL, 'W'},
	    {"rounds", required_argument, NULL, 'r'},
	    {"rung", required_argument, NULL, 'R'},
	    {"executor", required_argument, NULL, 'e'},
	    {"lib", required_argument, NULL, 'l'},
	    {"json", no_argument, NULL, 'j'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bench_opts o = {.mode = NMODES + 1,
			       .payload = 64,
			       .iterations = 10000,
			       .warmup = 1000,
			       .window = 16,
			       .rounds = 3,
			       .executor = getenv("FAAS_EXECUTOR") ? getenv("FAAS_EXECUTOR")
								   : FAAS_EXECUTOR_PATH,
			       .lib = FAAS_EXAMPLES_LIB,
			       .client_cpu = -1,
			       .server_cpu = -1};
	struct summary s;
	cpu_set_t set;
	int c, first = -1, last = -1;

	o.provider = getenv("FAAS_PROVIDER");
	o.addr = getenv("FAAS_ADDR") ? getenv("FAAS_ADDR") : "127.0.0.1";
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			for (int i = 0; i <= COMPARE; i++)
				if (strcmp(optarg, mode_names[i]) == 0)
					o.mode = (enum mode)i;
			if (o.mode > COMPARE) {
				fprintf(stderr,
					"faas-bench: --mode %s: expected raw, raw-warm, raw-async, "
					"hot, warm, async or compare\n",
					optarg);
				return 2;
			}
			break;
		case 'p':
			o.provider = optarg;
			break;
		case 'a':
			o.addr = optarg;
			break;
		case 's':
			o.payload = cli_size("faas-bench", "--payload", optarg, 1, 8u << 20);
			break;
		case 'n':
			o.iterations = (unsigned)cli_number("faas-bench", "--iterations", optarg, 1,
							    100000000);
			break;
		case 'w':
			o.warmup =
			    (unsigned)cli_number("faas-bench", "--warmup", optarg, 0, 100000000);
			break;
		case 'W':
			o.window = (unsigned)cli_number("faas-bench", "--window", optarg, 1, 1024);
			break;
		case 'r':
			o.rounds = (unsigned)cli_number("faas-bench", "--rounds", optarg, 1, 16);
			break;
		case 'R':
			o.rung = optarg;
			break;
		case 'e':
			o.executor = optarg;
			break;
		case 'l':
			o.lib = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'V':
			printf("faas-bench (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o.mode > COMPARE || optind < argc) {
		fprintf(stderr, "faas-bench: %s\n",
			optind < argc ? "unexpected argument" : "--mode is required");
		usage(stderr);
		return 2;
	}
	if (o.provider && !*o.provider)
		o.provider = NULL;
	/* as coloc's programs run (rxm's buffer sizes); libfaas leaves the
	 * environment alone, and faas(3) tells clients what they may set */
	transport_env_defaults(o.provider);
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) >= 2) {
		for (int i = 0; i < CPU_SETSIZE; i++) {
			if (!CPU_ISSET(i, &set))
				continue;
			if (first < 0)
				first = i;
			last = i;
		}
		o.client_cpu = first;
		o.server_cpu = last;
	}
	signal(SIGPIPE, SIG_IGN);
	if (o.mode == COMPARE)
		return run_compare(&o);
	if (run_one(&o, o.mode, &s))
		return 1;
	print_summary(&o, &s);
	return 0;
}
