/*
 * comm_check - checks faas_invoke_all and the collectives against a lease
 * (FAAS_LEASE) served by faas_comm_examples.so; driven by comm.sh.
 *
 *   comm_check ring         every rank's view of a ring, a barrier, a
 *                           bcast, a reduce and a gather
 *   comm_check evict PID    starts "wait" (rank 0 waits for a message
 *                           nobody sends, the others in a barrier), sends
 *                           SIGTERM to PID (the executor) after 1 s: every
 *                           rank and the call must end with FAAS_EEVICTED
 *                           well before the 30 s call timeout
 *   comm_check gone         starts "wait" on a lease of which some workers
 *                           are gone: the call must end with FAAS_EUNAVAIL
 *                           well before the timeout (the client aborts the
 *                           ranks it started)
 * Prints one line per failure; exit 0 when all held, 1 otherwise.
 */
#include "faas.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int ring(struct faas_client *c, int n)
{
	int32_t(*out)[4] = calloc((size_t)n, sizeof(*out));
	int *st = calloc((size_t)n, sizeof(*st));
	int fn = faas_function(c, "ring"), bad = 0, rc;

	if (!out || !st || fn < 0)
		return 1;
	rc = faas_invoke_all(c, fn, NULL, 0, out, sizeof(*out), NULL, st);
	if (rc) {
		printf("ring: faas_invoke_all: %s (%s)\n", faas_strerror(rc), faas_last_error(c));
		bad = 1;
	}
	for (int r = 0; !rc && r < n; r++) {
		int32_t want[4] = {1, 4242, r == 0 ? (n - 1) * 10 : -1, r == 0 ? 1 : -1};

		for (int k = 1; k <= (r == 0 ? n - 1 : r); k++)
			want[0] += k + 1;
		if (memcmp(out[r], want, sizeof(want)) != 0) {
			printf("ring: rank %d saw %d %d %d %d, expected %d %d %d %d\n", r,
			       out[r][0], out[r][1], out[r][2], out[r][3], want[0], want[1],
			       want[2], want[3]);
			bad = 1;
		}
	}
	free(out);
	free(st);
	return bad;
}

/* Runs "wait" on every rank; when executor > 0, SIGTERMs it after 1 s.
 * The call and every rank must end with want, well before the 30 s
 * call timeout. */
static int wait_job(struct faas_client *c, int n, pid_t executor, int want, const char *what)
{
	int *st = calloc((size_t)n, sizeof(*st));
	int fn = faas_function(c, "wait"), bad = 0, rc;
	double t0 = now_s(), took;
	pid_t child = -1;

	if (!st || fn < 0)
		return 1;
	if (executor > 0 && (child = fork()) == 0) {
		sleep(1);
		kill(executor, SIGTERM);
		_exit(0);
	}
	rc = faas_invoke_all(c, fn, NULL, 0, NULL, 0, NULL, st);
	took = now_s() - t0;
	if (child > 0)
		waitpid(child, NULL, 0);
	if (rc != want) {
		printf("%s: faas_invoke_all returned %s, expected %s\n", what, faas_strerror(rc),
		       faas_strerror(want));
		bad = 1;
	}
	for (int r = 0; r < n; r++) {
		if (st[r] != want) {
			printf("%s: rank %d ended with %s, expected %s\n", what, r,
			       faas_strerror(st[r]), faas_strerror(want));
			bad = 1;
		}
	}
	if (took > 20) {
		printf("%s: the job took %.1f s to end\n", what, took);
		bad = 1;
	}
	free(st);
	return bad;
}

int main(int argc, char **argv)
{
	struct faas_lease *lease = NULL;
	struct faas_client *c = NULL;
	char err[512] = "";
	int rc, n;

	if (argc < 2 || (strcmp(argv[1], "evict") == 0 && argc != 3)) {
		fprintf(stderr, "usage: comm_check ring | evict PID | gone\n");
		return 2;
	}
	if (faas_lease_from_env(&lease, err, sizeof(err)) ||
	    faas_client_create(lease, &(struct faas_client_options){.timeout_ms = 30000}, &c)) {
		printf("cannot connect to the lease: %s\n", err);
		faas_lease_destroy(lease);
		return 1;
	}
	n = faas_lease_workers(lease);
	if (strcmp(argv[1], "ring") == 0)
		rc = ring(c, n);
	else if (strcmp(argv[1], "gone") == 0)
		rc = wait_job(c, n, 0, FAAS_EUNAVAIL, "gone");
	else
		rc = wait_job(c, n, (pid_t)atoi(argv[2]), FAAS_EEVICTED, "evict");
	faas_client_destroy(c);
	faas_lease_destroy(lease);
	return rc;
}
