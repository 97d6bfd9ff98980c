/*
 * sebs_client.c - faas-sebs: runs the SeBS kernels of faas_sebs.so locally
 * (the library dlopen()ed into this process) and through leases of a
 * colocd: hot (one client, calls back to back), warm (a fresh client on the
 * same lease for each call) and cold (a fresh lease for each call), checks
 * every remote output against the local run's, and reports as SeBS does:
 * the client-observed time, the function's own time (measured inside the
 * function, returned in its reply) and the overhead between them, p50 and
 * p99, as one JSON object. --bad-inputs instead sends each kernel inputs it
 * must refuse and checks that each fails alone, the executor serving on.
 * Uses only <faas.h> (and dlopen for the local runs).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <faas.h>

#include "faas_function.h"
#include "sebs_inputs.h"
#include "sebs_kernel.h"

#define PROG "faas-sebs"
#define OUT_CAP 65536
#define ITER_MAX 100000

enum mode { MODE_LOCAL, MODE_HOT, MODE_WARM, MODE_COLD, NMODES };
static const char *const mode_name[NMODES] = {"local", "hot", "warm", "cold"};

struct config {
	const char *lib, *conf;
	const char *remote_lib; /* the leases' library; default lib */
	unsigned kernels;	/* bit k: kernel k */
	unsigned modes;		/* bit m: mode m */
	enum sebs_size size;
	unsigned iterations, cold;
	uint64_t seed;
	int timeout_ms;
	int bad_inputs;
	int blocking; /* clients wait for replies on the CQ, not spinning */
};

/* The samples of one kernel in one mode. */
struct samples {
	uint64_t *client, *fn;
	unsigned n;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void vsay(const char *fmt, va_list ap)
{
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: " PROG " --lib PATH [--conf FILE] [--kernels LIST] [--modes LIST]\n"
	    "                 [--size test|small] [--iterations N] [--cold N] [--seed S]\n"
	    "                 [--timeout-ms MS] [--blocking] [--remote-lib PATH] [--bad-inputs]\n"
	    "  kernels: dynamic-html thumbnailer compression graph-pagerank graph-mst\n"
	    "           graph-bfs dna-visualization (or their SeBS numbers 110 210 ...)\n"
	    "  modes:   local hot warm cold (remote modes need a colocd: --conf)\n");
}

__attribute__((format(printf, 1, 2), noreturn)) static void bad_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	usage(stderr);
	exit(2);
}

static unsigned long long parse_num(const char *opt, const char *s, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v > max || v < 1)
		bad_usage("%s takes an integer from 1 to %llu, not '%s'", opt, max, s);
	return v;
}

/* A comma-separated list of names (or SeBS numbers) into a bit set. */
static unsigned parse_list(const char *opt, const char *s, const char *const *names,
			   const char *const *ids, int n)
{
	char *copy = strdup(s), *tok, *save = NULL;
	unsigned set = 0;

	if (!copy)
		exit(1);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int k;

		for (k = 0; k < n; k++)
			if (!strcmp(tok, names[k]) || (ids && !strcmp(tok, ids[k])))
				break;
		if (k == n)
			bad_usage("%s: unknown name '%s'", opt, tok);
		set |= 1u << k;
	}
	free(copy);
	if (!set)
		bad_usage("%s takes a non-empty list", opt);
	return set;
}

static void parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {{"lib", required_argument, NULL, 'l'},
						 {"conf", required_argument, NULL, 'f'},
						 {"remote-lib", required_argument, NULL, 'r'},
						 {"kernels", required_argument, NULL, 'k'},
						 {"modes", required_argument, NULL, 'm'},
						 {"size", required_argument, NULL, 's'},
						 {"iterations", required_argument, NULL, 'n'},
						 {"cold", required_argument, NULL, 'c'},
						 {"seed", required_argument, NULL, 'S'},
						 {"timeout-ms", required_argument, NULL, 't'},
						 {"bad-inputs", no_argument, NULL, 'b'},
						 {"blocking", no_argument, NULL, 'B'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	int c;

	*cfg = (struct config){.kernels = (1u << SEBS_NKERNELS) - 1,
			       .modes = (1u << NMODES) - 1,
			       .size = SEBS_SIZE_TEST,
			       .iterations = 50,
			       .cold = 5,
			       .seed = 14,
			       .timeout_ms = 10000};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			cfg->remote_lib = optarg;
			break;
		case 'l':
			cfg->lib = optarg;
			break;
		case 'f':
			cfg->conf = optarg;
			break;
		case 'k':
			cfg->kernels = parse_list("--kernels", optarg, sebs_kernel_names,
						  sebs_kernel_ids, SEBS_NKERNELS);
			break;
		case 'm':
			cfg->modes = parse_list("--modes", optarg, mode_name, NULL, NMODES);
			break;
		case 's':
			if (!strcmp(optarg, "test"))
				cfg->size = SEBS_SIZE_TEST;
			else if (!strcmp(optarg, "small"))
				cfg->size = SEBS_SIZE_SMALL;
			else
				bad_usage("--size takes test or small, not '%s'", optarg);
			break;
		case 'n':
			cfg->iterations = (unsigned)parse_num("--iterations", optarg, ITER_MAX);
			break;
		case 'c':
			cfg->cold = (unsigned)parse_num("--cold", optarg, 1000);
			break;
		case 'S':
			cfg->seed = parse_num("--seed", optarg, UINT64_MAX);
			break;
		case 't':
			cfg->timeout_ms = (int)parse_num("--timeout-ms", optarg, 3600000);
			break;
		case 'b':
			cfg->bad_inputs = 1;
			break;
		case 'B':
			cfg->blocking = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	if (!cfg->lib)
		bad_usage("--lib PATH (faas_sebs.so) is required");
	if (!cfg->remote_lib)
		cfg->remote_lib = cfg->lib;
	if (cfg->bad_inputs)
		cfg->modes = 1u << MODE_HOT;
	if ((cfg->modes & ~(1u << MODE_LOCAL)) && !cfg->conf)
		bad_usage("the modes hot, warm and cold and --bad-inputs need a colocd: --conf "
			  "FILE (its coloc.conf), or --modes local");
}

/* ---- local runs: the library in this process ----------------------------- */

/* Looks kernel name up in the library's manifest ("name" or "name=symbol"). */
static faas_function_fn *local_fn(void *dl, const char *name)
{
	const char *const *m = dlsym(dl, FAAS_FUNCTIONS_SYMBOL);
	size_t n = strlen(name);

	for (; m && *m; m++) {
		if (!strncmp(*m, name, n) && ((*m)[n] == '\0' || (*m)[n] == '='))
			return (faas_function_fn *)dlsym(dl, (*m)[n] ? *m + n + 1 : *m);
	}
	return NULL;
}

/* ---- statistics and JSON ------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The p-th percentile (nearest rank) of v[0..n), sorted in place. */
static uint64_t pct(uint64_t *v, unsigned n, double p)
{
	unsigned r;

	qsort(v, n, sizeof(*v), cmp_u64);
	r = (unsigned)(p / 100.0 * n + 0.999999);
	r = r < 1 ? 1 : r > n ? n : r;
	return v[r - 1];
}

static void print_samples(const struct samples *s, int last)
{
	uint64_t *over = malloc((s->n ? s->n : 1) * sizeof(*over));

	if (!over)
		exit(1);
	for (unsigned i = 0; i < s->n; i++)
		over[i] = s->client[i] > s->fn[i] ? s->client[i] - s->fn[i] : 0;
	/* the overhead of each call first: pct() sorts the arrays */
	printf("{\"n\":%u,\"overhead_p50_ns\":%llu,\"overhead_p99_ns\":%llu,", s->n,
	       (unsigned long long)pct(over, s->n, 50), (unsigned long long)pct(over, s->n, 99));
	printf("\"client_p50_ns\":%llu,\"client_p99_ns\":%llu,",
	       (unsigned long long)pct(s->client, s->n, 50),
	       (unsigned long long)pct(s->client, s->n, 99));
	printf("\"function_p50_ns\":%llu,\"function_p99_ns\":%llu}%s",
	       (unsigned long long)pct(s->fn, s->n, 50), (unsigned long long)pct(s->fn, s->n, 99),
	       last ? "" : ",");
	free(over);
}

/* ---- one kernel ------------------------------------------------------------- */

struct kernel_run {
	const struct config *cfg;
	int k;
	const char *name;
	unsigned char *in;
	size_t in_len;
	unsigned char *ref; /* the local run's output, header included */
	size_t ref_len;
	unsigned char *out;
	struct samples s[NMODES];
};

/* Checks a remote output against the local run's (the header aside). */
static int check_output(struct kernel_run *r, const char *mode, size_t len)
{
	if (len == r->ref_len &&
	    !memcmp(r->out + sizeof(struct sebs_reply), r->ref + sizeof(struct sebs_reply),
		    len - sizeof(struct sebs_reply)))
		return 0;
	say("%s (%s): the output (%zu bytes) differs from the local run's (%zu bytes)", r->name,
	    mode, len, r->ref_len);
	return -1;
}

static void add_sample(struct samples *s, uint64_t client_ns, const unsigned char *out)
{
	struct sebs_reply h;

	memcpy(&h, out, sizeof(h));
	s->client[s->n] = client_ns;
	s->fn[s->n++] = h.fn_ns;
}

static int run_local(struct kernel_run *r, faas_function_fn *fn)
{
	for (unsigned i = 0; i < r->cfg->iterations; i++) {
		size_t len = 0;
		uint64_t t0 = now_ns();
		int rc = fn(r->in, r->in_len, r->out, OUT_CAP, &len);
		uint64_t t = now_ns() - t0;

		if (rc != 0 || len < sizeof(struct sebs_reply) || len > OUT_CAP) {
			say("%s (local): the kernel failed (%d): %.*s", r->name, rc,
			    (int)(len < 256 ? len : 256), (const char *)r->out);
			return -1;
		}
		if (i == 0) {
			r->ref = malloc(len);
			if (!r->ref)
				return -1;
			memcpy(r->ref, r->out, len);
			r->ref_len = len;
		} else if (check_output(r, "local, again", len)) {
			return -1;
		}
		add_sample(&r->s[MODE_LOCAL], t, r->out);
	}
	return 0;
}

static int acquire(const struct config *cfg, struct faas_lease **lease)
{
	struct faas_lease_request req = {
	    .workers = 1, .lib = cfg->remote_lib, .minutes = 10, .conf = cfg->conf};
	char err[512];
	int rc = faas_lease_acquire(&req, lease, err, sizeof(err));

	if (rc != FAAS_OK)
		say("faas_lease_acquire failed: %s: %s", faas_strerror(rc), err);
	return rc;
}

static void release(struct faas_lease *lease)
{
	char err[512];

	if (lease && faas_lease_release(lease, err, sizeof(err)) != FAAS_OK)
		say("faas_lease_release failed: %s", err);
	faas_lease_destroy(lease);
}

/* One call by a client of the lease; *client_ns from t0 to the reply. */
static int call(struct kernel_run *r, struct faas_client *c, const char *mode, uint64_t t0,
		uint64_t *client_ns)
{
	int fn = faas_function(c, r->name), rc;
	size_t len = 0;

	if (fn < 0) {
		say("%s: the lease's library has no such function: %s", r->name, faas_strerror(fn));
		return -1;
	}
	rc = faas_invoke(c, fn, r->in, r->in_len, r->out, OUT_CAP, &len);
	*client_ns = now_ns() - t0;
	if (rc != FAAS_OK) {
		say("%s (%s): %s", r->name, mode, faas_last_error(c));
		return -1;
	}
	return check_output(r, mode, len);
}

static int run_remote(struct kernel_run *r, struct faas_lease *lease)
{
	const struct config *cfg = r->cfg;
	struct faas_client_options opts = {.timeout_ms = cfg->timeout_ms,
					   .blocking = cfg->blocking};
	struct faas_client *c = NULL;
	uint64_t t;
	int rc;

	if (cfg->modes & (1u << MODE_HOT)) { /* one client, calls back to back */
		if ((rc = faas_client_create(lease, &opts, &c)) != FAAS_OK) {
			say("faas_client_create failed: %s", faas_strerror(rc));
			return -1;
		}
		/* one untimed call: the first touches every page on both sides */
		if (call(r, c, "hot", now_ns(), &t))
			goto fail;
		for (unsigned i = 0; i < cfg->iterations; i++) {
			if (call(r, c, "hot", now_ns(), &t))
				goto fail;
			add_sample(&r->s[MODE_HOT], t, r->out);
		}
		faas_client_destroy(c);
		c = NULL;
	}
	if (cfg->modes & (1u << MODE_WARM)) { /* a fresh client for each call */
		for (unsigned i = 0; i < cfg->iterations; i++) {
			uint64_t t0 = now_ns();

			if ((rc = faas_client_create(lease, &opts, &c)) != FAAS_OK) {
				say("faas_client_create failed: %s", faas_strerror(rc));
				return -1;
			}
			if (call(r, c, "warm", t0, &t))
				goto fail;
			add_sample(&r->s[MODE_WARM], t, r->out);
			faas_client_destroy(c);
			c = NULL;
		}
	}
	return 0;
fail:
	faas_client_destroy(c);
	return -1;
}

/* Cold: lease acquired -> client -> the call's reply, a fresh lease each. */
static int run_cold(struct kernel_run *r)
{
	struct faas_client_options opts = {.timeout_ms = r->cfg->timeout_ms,
					   .blocking = r->cfg->blocking};

	for (unsigned i = 0; i < r->cfg->cold; i++) {
		struct faas_lease *lease = NULL;
		struct faas_client *c = NULL;
		uint64_t t0 = now_ns(), t;
		int rc;

		if (acquire(r->cfg, &lease) != FAAS_OK)
			return -1;
		if ((rc = faas_client_create(lease, &opts, &c)) != FAAS_OK) {
			say("faas_client_create failed: %s", faas_strerror(rc));
			release(lease);
			return -1;
		}
		rc = call(r, c, "cold", t0, &t);
		faas_client_destroy(c);
		release(lease);
		if (rc)
			return -1;
		add_sample(&r->s[MODE_COLD], t, r->out);
	}
	return 0;
}

/* --bad-inputs: each must fail alone (FAAS_EFUNC, a message naming the
 * kernel), and a good call must still succeed after them. */
static int run_bad(struct kernel_run *r, struct faas_lease *lease, unsigned *nbad)
{
	struct faas_client_options opts = {.timeout_ms = r->cfg->timeout_ms,
					   .blocking = r->cfg->blocking};
	struct faas_client *c = NULL;
	int fn, rc, failed = 0;
	uint64_t t;

	if ((rc = faas_client_create(lease, &opts, &c)) != FAAS_OK) {
		say("faas_client_create failed: %s", faas_strerror(rc));
		return -1;
	}
	fn = faas_function(c, r->name);
	for (unsigned i = 0;; i++) {
		unsigned char *in;
		const char *what = "";
		size_t len, olen = 0;
		int b = sebs_bad_input(r->k, i, &in, &len, &what);

		if (b == 1)
			break;
		if (b < 0 || fn < 0) {
			say("%s: cannot make bad input %u", r->name, i);
			failed = 1;
			break;
		}
		rc = faas_invoke(c, fn, in, len, r->out, OUT_CAP, &olen);
		free(in);
		if (rc != FAAS_EFUNC || !strstr(faas_last_error(c), r->name)) {
			say("%s: %s was not refused as it should be: %s (%s)", r->name, what,
			    faas_strerror(rc), faas_last_error(c));
			failed = 1;
		} else {
			printf("# %s: %s: refused: %s\n", r->name, what, faas_last_error(c));
			++*nbad;
		}
	}
	if (!failed && call(r, c, "after the bad inputs", now_ns(), &t))
		failed = 1;
	faas_client_destroy(c);
	return failed ? -1 : 0;
}

static int run_kernel(struct kernel_run *r, void *dl, struct faas_lease *lease, unsigned *nbad)
{
	faas_function_fn *fn = local_fn(dl, r->name);
	char err[256];

	if (!fn) {
		say("%s: %s has no function %s", r->name, r->cfg->lib, r->name);
		return -1;
	}
	if (sebs_input(r->k, r->cfg->size, r->cfg->seed, &r->in, &r->in_len, err, sizeof(err))) {
		say("%s: cannot make the input: %s", r->name, err);
		return -1;
	}
	for (int m = 0; m < NMODES; m++) {
		unsigned n = m == MODE_COLD ? r->cfg->cold : r->cfg->iterations;

		r->s[m].client = calloc(n, sizeof(uint64_t));
		r->s[m].fn = calloc(n, sizeof(uint64_t));
		if (!r->s[m].client || !r->s[m].fn)
			return -1;
	}
	if (run_local(r, fn)) /* always: the reference output */
		return -1;
	if (r->cfg->bad_inputs)
		return run_bad(r, lease, nbad);
	if (lease && run_remote(r, lease))
		return -1;
	if ((r->cfg->modes & (1u << MODE_COLD)) && run_cold(r))
		return -1;
	return 0;
}

static void free_kernel(struct kernel_run *r)
{
	free(r->in);
	free(r->ref);
	for (int m = 0; m < NMODES; m++) {
		free(r->s[m].client);
		free(r->s[m].fn);
	}
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct faas_lease *lease = NULL;
	struct kernel_run runs[SEBS_NKERNELS];
	unsigned char *out = NULL;
	unsigned nbad = 0, checked = 0;
	int rc = 1, first = 1;
	void *dl;

	parse_args(argc, argv, &cfg);
	dl = dlopen(cfg.lib, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		say("cannot load %s: %s (give the path of faas_sebs.so)", cfg.lib, dlerror());
		return 1;
	}
	memset(runs, 0, sizeof(runs));
	out = malloc(OUT_CAP);
	if (!out)
		goto out;
	if ((cfg.modes & ((1u << MODE_HOT) | (1u << MODE_WARM))) && acquire(&cfg, &lease))
		goto out;
	for (int k = 0; k < SEBS_NKERNELS; k++) {
		struct kernel_run *r = &runs[k];

		if (!(cfg.kernels & (1u << k)))
			continue;
		*r = (struct kernel_run){
		    .cfg = &cfg, .k = k, .name = sebs_kernel_names[k], .out = out};
		if (run_kernel(r, dl, lease, &nbad))
			goto out;
		for (int m = MODE_HOT; m < NMODES; m++)
			checked += r->s[m].n;
	}
	if (cfg.bad_inputs) {
		printf("{\"bench\":\"sebs-bad-inputs\",\"refused\":%u,\"ok\":true}\n", nbad);
		rc = 0;
		goto out;
	}
	printf("{\"bench\":\"sebs\",\"size\":\"%s\",\"seed\":%llu,\"iterations\":%u,\"cold\":%u,"
	       "\"outputs_checked\":%u,\"kernels\":{",
	       cfg.size == SEBS_SIZE_SMALL ? "small" : "test", (unsigned long long)cfg.seed,
	       cfg.iterations, cfg.cold, checked);
	for (int k = 0; k < SEBS_NKERNELS; k++) {
		struct kernel_run *r = &runs[k];
		int last_m = -1;

		if (!(cfg.kernels & (1u << k)))
			continue;
		printf("%s\"%s\":{\"sebs\":\"%s\",\"input_bytes\":%zu,\"output_bytes\":%zu,",
		       first ? "" : ",", r->name, sebs_kernel_ids[k], r->in_len, r->ref_len);
		first = 0;
		for (int m = 0; m < NMODES; m++)
			if (cfg.modes & (1u << m))
				last_m = m;
		for (int m = 0; m < NMODES; m++) {
			if (!(cfg.modes & (1u << m)))
				continue;
			printf("\"%s\":", mode_name[m]);
			print_samples(&r->s[m], m == last_m);
		}
		printf("}");
	}
	printf("},\"ok\":true}\n");
	rc = 0;
out:
	for (int k = 0; k < SEBS_NKERNELS; k++)
		free_kernel(&runs[k]);
	if (lease)
		release(lease);
	free(out);
	dlclose(dl);
	return rc;
}
