/*
 * faas-solver-client: an iterative solver whose iterate lives in a session
 * (faas_sessions.so's "jacobi"), surviving an eviction through swap.
 *
 *   faas-solver-client [--n N] [--sweeps S] [--evict PID --after K]
 *                      LEASE [FALLBACK_LEASE]
 *
 * Opens a session on LEASE (a lease document or its file) and calls jacobi
 * S sweeps at a time until the residual is below 1e-12. When the session's
 * worker is evicted, its state (the iterate and the sweep count) comes back
 * here and the session is resumed on FALLBACK_LEASE, where the iteration
 * goes on. --evict sends SIGTERM to PID (the executor of LEASE) after K
 * calls, as a host job reclaiming its cores would. At the end the result is
 * checked: the sweep count is the sum of the sweeps of the calls that
 * succeeded (the state went on, it did not start over), and the solution
 * matches a direct (Thomas) solve. Prints "ok" and exits 0, else 1.
 */
#include "faas.h"

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define MAX_CALLS 100000
#define EVICT_WAIT_S 60

static struct faas_client *connect_to(const char *doc, struct faas_lease **lease)
{
	struct faas_client_options o = {.timeout_ms = 30000, .connect_timeout_ms = 30000};
	struct faas_client *c = NULL;
	char err[256];
	int rc;

	setenv("FAAS_LEASE", doc, 1);
	rc = faas_lease_from_env(lease, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "faas-solver-client: %s\n", err);
		return NULL;
	}
	rc = faas_client_create(*lease, &o, &c);
	if (rc)
		fprintf(stderr, "faas-solver-client: %s: %s\n", doc, faas_strerror(rc));
	return c;
}

/* The exact solution of tridiag(-1, 4, -1) x = b (Thomas algorithm). */
static double max_error(const double *x, uint32_t n)
{
	double *c = calloc(n, sizeof(double)), *d = calloc(n, sizeof(double)), err = 0, y;

	if (!c || !d) {
		free(c);
		free(d);
		return INFINITY;
	}
	c[0] = -1.0 / 4;
	d[0] = 1.0 / 4;
	for (uint32_t i = 1; i < n; i++) {
		double m = 4 + c[i - 1];

		c[i] = -1.0 / m;
		d[i] = (1.0 + (double)(i % 7) + d[i - 1]) / m;
	}
	y = d[n - 1];
	err = fabs(x[n - 1] - y);
	for (uint32_t i = n - 1; i-- > 0;) {
		y = d[i] - c[i] * y;
		err = fmax(err, fabs(x[i] - y));
	}
	free(c);
	free(d);
	return err;
}

int main(int argc, char **argv)
{
	uint32_t n = 2000, sweeps = 1, in[2];
	long after = -1;
	pid_t evict = 0;
	struct faas_lease *la = NULL, *lb = NULL;
	struct faas_client *a, *b = NULL, *cur;
	struct faas_session *s, *resumed;
	uint64_t expected = 0, done = 0;
	double res = INFINITY, out[2];
	const void *state;
	size_t len;
	int i, fn, rc, calls = 0, evictions = 0;
	time_t evicted_at = 0;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
		if (i + 1 >= argc)
			break;
		if (strcmp(argv[i], "--n") == 0)
			n = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--sweeps") == 0)
			sweeps = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--evict") == 0)
			evict = (pid_t)strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--after") == 0)
			after = strtol(argv[i + 1], NULL, 10);
		else
			break;
	}
	if (i >= argc || argc - i > 2 || n < 2 || n > 10000000 || sweeps < 1 || sweeps > 1000000) {
		fprintf(stderr, "usage: faas-solver-client [--n N] [--sweeps S] [--evict PID "
				"--after K] LEASE [FALLBACK_LEASE]\n");
		return 2;
	}
	a = connect_to(argv[i], &la);
	if (!a)
		return 1;
	cur = a;
	fn = faas_function(a, "jacobi");
	rc = fn < 0 ? fn : faas_session_open(a, -1, 8 + (size_t)n * 8, &s);
	if (rc) {
		fprintf(stderr, "faas-solver-client: cannot open a session: %s\n",
			faas_strerror(rc));
		return 1;
	}
	in[0] = n;
	in[1] = sweeps;
	/* with --evict, the iteration goes on past convergence until the
	 * eviction shows (the executor may take a while to act on SIGTERM),
	 * for at most EVICT_WAIT_S */
	while ((res > 1e-12 && calls < MAX_CALLS) ||
	       (evict && calls >= after && !evictions && time(NULL) < evicted_at + EVICT_WAIT_S)) {
		if (evict && calls == after) {
			printf("evicting the executor (pid %ld) after %d calls\n", (long)evict,
			       calls);
			kill(evict, SIGTERM);
			evicted_at = time(NULL);
		}
		rc = faas_session_invoke(s, fn, in, sizeof(in), out, sizeof(out), &len);
		if (rc == FAAS_EEVICTED || rc == FAAS_EUNAVAIL) {
			/* swap, not loss: the state comes back and goes on elsewhere */
			if (evictions++ || i + 1 >= argc) {
				fprintf(stderr, "faas-solver-client: evicted, nowhere to go\n");
				return 1;
			}
			b = connect_to(argv[i + 1], &lb);
			rc = b ? faas_session_resume(b, -1, s, &resumed) : FAAS_EUNAVAIL;
			if (rc) {
				fprintf(stderr, "faas-solver-client: cannot resume: %s\n",
					faas_strerror(rc));
				return 1;
			}
			faas_session_close(s);
			s = resumed;
			cur = b;
			printf("evicted after %d calls; resumed on the fallback lease\n", calls);
			continue;
		}
		if (rc || len != sizeof(out)) {
			fprintf(stderr, "faas-solver-client: call %d: %s\n", calls,
				faas_last_error(cur));
			return 1;
		}
		memcpy(&done, &out[0], 8);
		res = out[1];
		expected += sweeps;
		calls++;
	}
	rc = faas_session_save(s);
	rc = rc ? rc : faas_session_state(s, &state, &len);
	if (rc || len != 8 + (size_t)n * 8) {
		fprintf(stderr, "faas-solver-client: cannot fetch the solution: %s\n",
			faas_strerror(rc));
		return 1;
	}
	double err = max_error((const double *)((const char *)state + 8), n);

	printf("%d calls, %llu sweeps, residual %.3g, error %.3g, %d eviction(s)\n", calls,
	       (unsigned long long)done, res, err, evictions);
	rc = done == expected && res <= 1e-12 && err < 1e-9 && (!evict || evictions == 1);
	printf("%s\n", rc ? "ok" : "FAILED");
	faas_session_close(s);
	faas_client_destroy(b);
	faas_client_destroy(a);
	faas_lease_destroy(lb);
	faas_lease_destroy(la);
	return rc ? 0 : 1;
}
