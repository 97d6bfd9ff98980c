/*
 * faas-pi - Monte Carlo estimate of pi on every worker of a lease at once
 * (the comm function "pi" of faas_comm_examples.so, started with
 * faas_invoke_all), checked against the same samples drawn here.
 *
 *   FAAS_LEASE=lease.json faas-pi [SAMPLES [SEED]]
 *
 * Prints the estimate and exits 0 when every rank returned the total that
 * the local computation gives; 1 otherwise (with the reason), 2 on bad
 * arguments.
 */
#include "faas.h"
#include "pi_kernel.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end || s[0] == '-' ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct pi_job job = {.seed = 1, .samples = 1000000};
	struct faas_lease *lease = NULL;
	struct faas_client *c = NULL;
	int64_t(*outs)[2] = NULL;
	uint64_t hits = 0;
	int *statuses = NULL;
	char err[512] = "";
	int fn, n, rc, ok = 1;

	if (argc > 3 || (argc > 1 && parse_u64(argv[1], &job.samples)) ||
	    (argc > 2 && parse_u64(argv[2], &job.seed)) || job.samples == 0) {
		fprintf(stderr, "usage: FAAS_LEASE=lease.json %s [SAMPLES (>= 1) [SEED]]\n",
			argv[0]);
		return 2;
	}
	rc = faas_lease_from_env(&lease, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "faas-pi: %s\n", *err ? err : faas_strerror(rc));
		return 1;
	}
	rc = faas_client_create(lease, &(struct faas_client_options){.timeout_ms = 60000}, &c);
	if (rc) {
		fprintf(stderr, "faas-pi: cannot connect to the lease's workers: %s\n",
			faas_strerror(rc));
		goto out;
	}
	fn = faas_function(c, "pi");
	if (fn < 0) {
		fprintf(stderr, "faas-pi: the lease's library has no function \"pi\" (serve "
				"faas_comm_examples.so)\n");
		rc = fn;
		goto out;
	}
	n = faas_lease_workers(lease);
	outs = calloc((size_t)n, sizeof(*outs));
	statuses = calloc((size_t)n, sizeof(*statuses));
	if (!outs || !statuses) {
		rc = FAAS_ENOMEM;
		goto out;
	}
	rc = faas_invoke_all(c, fn, &job, sizeof(job), outs, sizeof(*outs), NULL, statuses);
	if (rc) {
		fprintf(stderr, "faas-pi: the job failed: %s\n", faas_strerror(rc));
		for (int r = 0; r < n; r++)
			if (statuses[r])
				fprintf(stderr, "faas-pi: rank %d: %s\n", r,
					faas_strerror(statuses[r]));
		goto out;
	}
	for (int r = 0; r < n; r++)
		hits += pi_hits(&job, r, n);
	for (int r = 0; r < n; r++) {
		if ((uint64_t)outs[r][0] != hits || (uint64_t)outs[r][1] != job.samples) {
			fprintf(stderr,
				"faas-pi: rank %d returned %lld hits of %lld samples; expected "
				"%llu of %llu\n",
				r, (long long)outs[r][0], (long long)outs[r][1],
				(unsigned long long)hits, (unsigned long long)job.samples);
			ok = 0;
		}
	}
	printf("{\"ranks\":%d,\"samples\":%llu,\"hits\":%llu,\"pi\":%.6f,\"checked\":%s}\n", n,
	       (unsigned long long)job.samples, (unsigned long long)hits,
	       4.0 * (double)hits / (double)job.samples, ok ? "true" : "false");
	rc = ok ? 0 : 1;
out:
	free(outs);
	free(statuses);
	faas_client_destroy(c);
	faas_lease_destroy(lease);
	return rc ? 1 : 0;
}
