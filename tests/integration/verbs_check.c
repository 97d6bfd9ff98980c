/*
 * verbs_check: the functional check that verbs-qemu.sh runs inside a QEMU
 * guest with a Soft-RoCE (rdma_rxe) device, against a faas-executor the
 * guest's init started over the verbs provider. It uses the lease in
 * FAAS_LEASE (served by faas_faults.so) and checks, with functional
 * assertions only (timings under emulation mean nothing):
 *   - sync calls of 64 B, of a payload larger than the provider's inject
 *     size (16 KiB), into malloc'd and into zero-copy buffers;
 *   - async calls spread over the workers, all in flight at once;
 *   - error statuses (fail -> FAAS_EFUNC, bigout -> FAAS_EOUTSIZE);
 *   - the executor killed (SIGKILL, its pid from the lease) while a call
 *     runs: that call ends in an error, never a hang.
 * Prints one line per case ("ok N - ..." / "not ok N - ...") and a summary
 *   verbs-check: invocations=N errors_expected=M failures=F
 * Exit 0 when every case passed.
 */
#include "config.h"

#include "faas.h"

#include <endian.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define TIMEOUT_MS 10000 /* generous: the guest is emulated */
#define ASYNC_CALLS 32
#define BIG 16384

static unsigned cases, failures, invocations, errors_expected;

static void check(int ok, const char *what, int rc)
{
	cases++;
	if (ok) {
		printf("ok %u - %s\n", cases, what);
	} else {
		failures++;
		printf("not ok %u - %s (%s)\n", cases, what, faas_strerror(rc));
	}
	fflush(stdout);
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

/* Echo of n bytes into out; 1 when the bytes came back unchanged. */
static int echo_ok(struct faas_client *c, int fn, size_t n, uint8_t *out, unsigned seed, int *rc)
{
	uint8_t *in = malloc(n);
	size_t len = 0;
	int ok;

	fill_pattern(in, n, seed);
	*rc = faas_invoke(c, fn, in, n, out, n, &len);
	invocations++;
	ok = *rc == FAAS_OK && len == n && memcmp(in, out, n) == 0;
	free(in);
	return ok;
}

static long lease_pid(const char *path)
{
	char buf[65536], *p;
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "\"pid\":");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

int main(void)
{
	struct faas_client_options o = {.timeout_ms = TIMEOUT_MS, .connect_timeout_ms = TIMEOUT_MS};
	struct faas_call *calls[ASYNC_CALLS];
	struct faas_lease *lease = NULL;
	struct faas_client *c = NULL;
	uint8_t *in, *out, *zc;
	int echo, fail, bigout, sleep_fn, rc = 0, ok;
	char err[512] = "";
	size_t len;
	long pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = faas_lease_from_env(&lease, err, sizeof(err));
	check(rc == FAAS_OK, "the lease document parses", rc);
	if (rc) {
		fprintf(stderr, "verbs_check: %s\n", err);
		goto out;
	}
	rc = faas_client_create(lease, &o, &c);
	check(rc == FAAS_OK, "the client connects to every worker over verbs", rc);
	if (rc)
		goto out;
	printf("# provider %s, %d workers\n", faas_lease_provider(lease), faas_client_workers(c));
	echo = faas_function(c, "echo");
	fail = faas_function(c, "fail");
	bigout = faas_function(c, "bigout");
	sleep_fn = faas_function(c, "sleep_ms");
	check(echo >= 0 && fail >= 0 && bigout >= 0 && sleep_fn >= 0,
	      "the lease lists echo, fail, bigout and sleep_ms", echo);

	out = malloc(BIG);
	zc = faas_buffer_alloc(c, BIG);
	ok = 1;
	for (unsigned i = 0; i < 100 && ok; i++)
		ok = echo_ok(c, echo, 64, out, i, &rc);
	check(ok, "100 sync echo calls of 64 B return their bytes", rc);
	ok = 1;
	for (unsigned i = 0; i < 20 && ok; i++)
		ok = echo_ok(c, echo, BIG, out, i, &rc);
	check(ok, "20 sync echo calls of 16 KiB (above the inject size) return their bytes", rc);
	ok = zc != NULL;
	for (unsigned i = 0; i < 20 && ok; i++)
		ok = echo_ok(c, echo, BIG, zc, i + 7, &rc);
	check(ok, "20 echo calls of 16 KiB into a registered buffer (zero copy)", rc);

	/* async: every call in flight at once, each with its own input */
	in = malloc((size_t)ASYNC_CALLS * 256);
	uint8_t *aout = malloc((size_t)ASYNC_CALLS * 256);
	ok = in && aout;
	for (unsigned i = 0; ok && i < ASYNC_CALLS; i++) {
		fill_pattern(in + i * 256, 256, i);
		rc = faas_invoke_async(c, echo, in + i * 256, 256, aout + i * 256, 256, &calls[i]);
		ok = rc == FAAS_OK;
	}
	check(ok && faas_inflight(c) == ASYNC_CALLS, "32 async calls in flight at once", rc);
	for (unsigned i = 0; ok && i < ASYNC_CALLS; i++) {
		rc = faas_wait(c, calls[i], &len);
		invocations++;
		ok = rc == FAAS_OK && len == 256 && memcmp(in + i * 256, aout + i * 256, 256) == 0;
	}
	check(ok, "every async call completes with its own bytes", rc);

	rc = faas_invoke(c, fail, "x", 1, out, 64, &len);
	invocations++;
	errors_expected++;
	check(rc == FAAS_EFUNC, "a failing function gives FAAS_EFUNC", rc);
	rc = faas_invoke(c, bigout, "x", 1, out, 64, &len);
	invocations++;
	errors_expected++;
	check(rc == FAAS_EOUTSIZE, "output larger than out_cap gives FAAS_EOUTSIZE", rc);
	check(echo_ok(c, echo, 64, out, 99, &rc), "the executor serves again after the errors", rc);

	/* the executor dies while a call runs: an error, never a hang */
	pid = lease_pid(getenv("FAAS_LEASE"));
	uint32_t ms = htole32(3000);
	struct faas_call *victim;
	rc = faas_invoke_async(c, sleep_fn, &ms, sizeof(ms), out, 64, &victim);
	ok = rc == FAAS_OK && pid > 0;
	if (ok) {
		usleep(300000);
		ok = kill((pid_t)pid, SIGKILL) == 0;
	}
	if (ok) {
		rc = faas_wait(c, victim, &len);
		invocations++;
		errors_expected++;
		ok = rc != FAAS_OK;
	}
	check(ok, "a call whose executor is killed ends in an error", rc);
	rc = faas_invoke(c, echo, "y", 1, out, 64, &len);
	invocations++;
	errors_expected++;
	check(rc != FAAS_OK, "a call after the executor died fails instead of hanging", rc);
	free(in);
	free(aout);
	free(out);
out:
	faas_client_destroy(c);
	faas_lease_destroy(lease);
	printf("verbs-check: invocations=%u errors_expected=%u failures=%u\n", invocations,
	       errors_expected, failures);
	return failures ? 1 : 0;
}
