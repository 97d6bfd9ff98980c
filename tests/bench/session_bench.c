/*
 * faas-session-bench: what sessions cost (issue 15 part 2), against the
 * stateless call in the same run on the same worker.
 *
 *   faas-session-bench [--iterations N] [--rounds R] [--payload B] LEASE
 *
 * LEASE is the lease document (or its file) of an executor serving
 * faas_sessions.so (examples/), started by hand, e.g.
 *   faas-executor --lib .../faas_sessions.so --workers 1 --cpus 1 \
 *       --mode hot --publish lease.json
 * Measures, in R interleaved rounds of N calls each, the round trip of the
 * stateless "echo" and of the stateful "secho" (the same echo, plus a call
 * counter in the session's state) with B bytes in and out; then, for a 1
 * MiB and a 64 MiB state, the time to swap it out (faas_session_save: the
 * worker writes it back here) and back in (faas_session_open_with: a new
 * session restored from it), R times each. Prints one JSON object.
 */
#include "faas.h"
#include "stats.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), stats_cmp_u64);
	return v[n / 2];
}

/* The median round trip of n calls of fn (in session s when not NULL). */
static int rtt(struct faas_client *c, struct faas_session *s, int fn, const char *in, char *out,
	       size_t payload, unsigned n, uint64_t *samples, uint64_t *med)
{
	for (unsigned i = 0; i < n; i++) {
		size_t len = 0;
		uint64_t t0 = now_ns();
		int rc = s ? faas_session_invoke(s, fn, in, payload, out, payload, &len)
			   : faas_invoke(c, fn, in, payload, out, payload, &len);

		samples[i] = now_ns() - t0;
		if (rc || len != payload) {
			fprintf(stderr, "faas-session-bench: call: %s\n", faas_last_error(c));
			return rc ? rc : FAAS_EPROTO;
		}
	}
	*med = median(samples, n);
	return 0;
}

/* Median swap-out and swap-in times of a state of size bytes. */
static int swap(struct faas_client *c, size_t size, unsigned rounds, int resize, double *out_ms,
		double *in_ms)
{
	uint64_t *o = calloc(rounds, 8), *in = calloc(rounds, 8), n = size, got;
	struct faas_session *s = NULL, *r;
	const void *st;
	size_t len;
	int rc = o && in ? faas_session_open(c, -1, size, &s) : FAAS_ENOMEM;

	rc = rc ? rc : faas_session_invoke(s, resize, &n, 8, &got, 8, &len);
	for (unsigned i = 0; !rc && i < rounds; i++) {
		uint64_t t0 = now_ns();

		rc = faas_session_save(s);
		o[i] = now_ns() - t0;
		rc = rc ? rc : faas_session_state(s, &st, &len);
		if (!rc && (len != size || ((const unsigned char *)st)[size - 1] !=
					       (unsigned char)((size - 1) * 7 + 1)))
			rc = FAAS_EPROTO;
		t0 = now_ns();
		rc = rc ? rc : faas_session_open_with(c, faas_session_worker(s), size, st, len, &r);
		in[i] = now_ns() - t0;
		if (!rc)
			faas_session_close(r);
	}
	if (!rc) {
		*out_ms = (double)median(o, rounds) / 1e6;
		*in_ms = (double)median(in, rounds) / 1e6;
	} else {
		fprintf(stderr, "faas-session-bench: swap of %zu bytes: %s (%s)\n", size,
			faas_strerror(rc), faas_last_error(c));
	}
	faas_session_close(s);
	free(o);
	free(in);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned iterations = 10000, rounds = 5;
	size_t payload = 64;
	struct faas_client_options co = {.timeout_ms = 30000};
	struct faas_lease *lease;
	struct faas_client *c;
	struct faas_session *s;
	uint64_t *samples, *meds_plain, *meds_state;
	double out1, in1, out64, in64;
	char err[256], *in, *out;
	int i, rc, echo, secho, resize;

	for (i = 1; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--iterations") == 0)
			iterations = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--payload") == 0)
			payload = strtoul(argv[i + 1], NULL, 10);
		else
			break;
	}
	if (i != argc - 1 || !iterations || iterations > 10000000 || !rounds || rounds > 1000 ||
	    !payload || payload > 32768) {
		fprintf(stderr, "usage: faas-session-bench [--iterations N] [--rounds R] "
				"[--payload 1..32768] LEASE\n");
		return 2;
	}
	setenv("FAAS_LEASE", argv[i], 1);
	if (faas_lease_from_env(&lease, err, sizeof(err)) != 0) {
		fprintf(stderr, "faas-session-bench: %s\n", err);
		return 1;
	}
	rc = faas_client_create(lease, &co, &c);
	if (rc) {
		fprintf(stderr, "faas-session-bench: %s\n", faas_strerror(rc));
		return 1;
	}
	echo = faas_function(c, "echo");
	secho = faas_function(c, "secho");
	resize = faas_function(c, "resize");
	samples = calloc(iterations, 8);
	meds_plain = calloc(rounds, 8);
	meds_state = calloc(rounds, 8);
	in = calloc(1, payload);
	out = faas_buffer_alloc(c, payload);
	if (echo < 0 || secho < 0 || resize < 0 || !samples || !meds_plain || !meds_state || !in ||
	    !out) {
		fprintf(stderr, "faas-session-bench: the lease's library is not faas_sessions.so "
				"(echo, secho, resize), or out of memory\n");
		return 1;
	}
	rc = faas_session_open(c, -1, 4096, &s);
	/* warm up both paths, then interleave */
	rc = rc ? rc : rtt(c, NULL, echo, in, out, payload, iterations, samples, &meds_plain[0]);
	rc = rc ? rc : rtt(c, s, secho, in, out, payload, iterations, samples, &meds_state[0]);
	for (unsigned r = 0; !rc && r < rounds; r++) {
		rc = rtt(c, NULL, echo, in, out, payload, iterations, samples, &meds_plain[r]);
		rc = rc ? rc
			: rtt(c, s, secho, in, out, payload, iterations, samples, &meds_state[r]);
	}
	rc = rc ? rc : swap(c, 1u << 20, rounds, resize, &out1, &in1);
	rc = rc ? rc : swap(c, 64u << 20, rounds, resize, &out64, &in64);
	if (rc)
		return 1;
	double plain = (double)median(meds_plain, rounds) / 1e3;
	double stateful = (double)median(meds_state, rounds) / 1e3;

	printf("{\"bench\":\"sessions\",\"provider\":\"%s\",\"payload\":%zu,\"iterations\":%u,"
	       "\"rounds\":%u,\"stateless_median_us\":%.2f,\"stateful_median_us\":%.2f,"
	       "\"ratio\":%.3f,\"swap\":[{\"bytes\":1048576,\"out_ms\":%.2f,\"in_ms\":%.2f},"
	       "{\"bytes\":67108864,\"out_ms\":%.2f,\"in_ms\":%.2f}]}\n",
	       faas_lease_provider(lease), payload, iterations, rounds, plain, stateful,
	       stateful / plain, out1, in1, out64, in64);
	faas_session_close(s);
	faas_buffer_free(c, out);
	faas_client_destroy(c);
	faas_lease_destroy(lease);
	free(in);
	free(samples);
	free(meds_plain);
	free(meds_state);
	return 0;
}
