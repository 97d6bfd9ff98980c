/*
 * faas-comm-bench - latency of faas_barrier and faas_allreduce (sum of
 * doubles) among the workers of a lease (FAAS_LEASE, serving
 * faas_comm_examples.so), one JSON line per operation and size.
 *
 *   FAAS_LEASE=lease.json faas-comm-bench [--repeats R] [--runs K] [SIZE...]
 *
 * One job (faas_invoke_all of "allsum") runs a barrier and then R
 * operations on every rank; the same job with 0 operations is the
 * baseline, so that a result is the time of one operation without the
 * job's start and end: (T(R) - T(0)) / R, the median of K runs each.
 * SIZE: bytes of the allreduce vector (default 8 65536 1048576).
 * Compare with scripts/comm-bench, which runs this and Open MPI's
 * MPI_Barrier / MPI_Allreduce in the same run.
 */
#include "faas.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median time of K jobs of `repeats` operations; < 0 on failure. */
static double job_us(struct faas_client *c, int fn, uint32_t bytes, uint32_t repeats, uint32_t what,
		     int runs, double *outs)
{
	uint32_t arg[3] = {bytes, repeats, what};
	double *t = calloc((size_t)runs, sizeof(*t)), med;

	for (int k = 0; k < runs; k++) {
		double t0 = now_us();
		int rc = faas_invoke_all(c, fn, arg, sizeof(arg), outs, sizeof(double), NULL, NULL);

		if (rc) {
			fprintf(stderr, "faas-comm-bench: %s (%s)\n", faas_strerror(rc),
				faas_last_error(c));
			free(t);
			return -1;
		}
		t[k] = now_us() - t0;
	}
	qsort(t, (size_t)runs, sizeof(*t), cmp);
	med = t[runs / 2];
	free(t);
	return med;
}

int main(int argc, char **argv)
{
	uint32_t sizes[16] = {8, 65536, 1048576};
	int nsizes = 3, repeats = 200, runs = 5, first = 1, fn, n;
	struct faas_lease *lease = NULL;
	struct faas_client *c = NULL;
	char err[512] = "";
	double *outs, base;

	while (first < argc && strncmp(argv[first], "--", 2) == 0 && first + 1 < argc) {
		if (strcmp(argv[first], "--repeats") == 0)
			repeats = atoi(argv[first + 1]);
		else if (strcmp(argv[first], "--runs") == 0)
			runs = atoi(argv[first + 1]);
		else
			break;
		first += 2;
	}
	if (first < argc) {
		nsizes = 0;
		for (int i = first; i < argc && nsizes < 16; i++) {
			char *end;
			unsigned long v = strtoul(argv[i], &end, 10);

			if (*end || v < 8 || v > (64u << 20)) {
				fprintf(stderr,
					"faas-comm-bench: size %s: give 8 to 67108864 bytes\n",
					argv[i]);
				return 2;
			}
			sizes[nsizes++] = (uint32_t)v;
		}
	}
	if (repeats < 1 || repeats > 1000000 || runs < 1 || runs > 1000) {
		fprintf(stderr,
			"usage: FAAS_LEASE=lease.json %s [--repeats 1..1000000] "
			"[--runs 1..1000] [SIZE...]\n",
			argv[0]);
		return 2;
	}
	if (faas_lease_from_env(&lease, err, sizeof(err)) ||
	    faas_client_create(
		lease, &(struct faas_client_options){.timeout_ms = 600000, .blocking = 1}, &c)) {
		fprintf(stderr, "faas-comm-bench: cannot connect to the lease: %s\n", err);
		faas_lease_destroy(lease);
		return 1;
	}
	fn = faas_function(c, "allsum");
	n = faas_lease_workers(lease);
	outs = calloc((size_t)n, sizeof(*outs));
	if (fn < 0 || !outs) {
		fprintf(stderr,
			"faas-comm-bench: the lease does not serve faas_comm_examples.so\n");
		return 1;
	}
	/* a first job connects the ranks (first contact): not measured */
	base = job_us(c, fn, 8, 1, 1, 1, outs);
	if (base >= 0)
		base = job_us(c, fn, 8, 0, 1, runs, outs);
	for (int i = -1; base >= 0 && i < nsizes; i++) {
		uint32_t bytes = i < 0 ? 0 : sizes[i];
		double t = job_us(c, fn, bytes, (uint32_t)repeats, i < 0 ? 1 : 0, runs, outs);

		if (t < 0)
			return 1;
		printf("{\"bench\":\"comm\",\"impl\":\"coloc\",\"provider\":\"%s\",\"ranks\":%d,"
		       "\"op\":\"%s\",\"bytes\":%u,\"repeats\":%d,\"us\":%.2f}\n",
		       faas_lease_provider(lease), n, i < 0 ? "barrier" : "allreduce", bytes,
		       repeats, (t - base) / repeats);
		fflush(stdout);
	}
	faas_client_destroy(c);
	faas_lease_destroy(lease);
	free(outs);
	return base < 0;
}
