/*
 * faults.c - the function library of the data-plane integration tests
 * (faas_faults.so): functions that behave well (echo, fill), fail (fail,
 * failmsg, bigout), take their time (sleep_ms), use memory (hog) or kill the
 * executor (crash), so that tests/integration/dataplane and colocd.sh can
 * check what a client sees in each case. Also: compress, served under that
 * name by a symbol of another name (faults_compress), and the per-worker
 * hooks, whose effects whoami and the files of FAULTS_FINI_DIR show
 * (FAULTS_INIT_FAIL=N makes faas_worker_init return N).
 * The ABI is examples/functions/faas_function.h.
 */
#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "faas_function.h"

faas_function_fn echo, fail, crash, sleep_ms, bigout, fill, hog, failmsg, faults_compress, whoami;
faas_worker_init_fn faas_worker_init;
faas_worker_fini_fn faas_worker_fini;

FAAS_FUNCTION_EXPORT const char *const faas_functions[] = {
    "echo",    "fail",	 "crash", "sleep_ms", "bigout", "fill", "hog", "compress=faults_compress",
    "failmsg", "whoami", NULL};

/* This worker's number + 1000, set by faas_worker_init in its thread. */
static _Thread_local uint32_t worker_tag;

FAAS_FUNCTION_EXPORT int faas_worker_init(unsigned worker)
{
	const char *fail_rc = getenv("FAULTS_INIT_FAIL");

	if (fail_rc && *fail_rc)
		return atoi(fail_rc);
	worker_tag = 1000 + worker;
	return 0;
}

/* Leaves FAULTS_FINI_DIR/fini-PID-WORKER behind, holding this worker's tag
 * (so it ran in the thread init ran in). */
FAAS_FUNCTION_EXPORT void faas_worker_fini(unsigned worker)
{
	const char *dir = getenv("FAULTS_FINI_DIR");
	char path[PATH_MAX];
	int fd;

	if (!dir || !*dir)
		return;
	snprintf(path, sizeof(path), "%s/fini-%ld-%u", dir, (long)getpid(), worker);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dprintf(fd, "%u\n", (unsigned)worker_tag);
		close(fd);
	}
}

/* Returns the uint32 faas_worker_init left for this worker (0 if it never
 * ran in this thread). */
FAAS_FUNCTION_EXPORT int whoami(const void *in, size_t in_len, void *out, size_t out_cap,
				size_t *out_len)
{
	uint32_t tag = htole32(worker_tag);

	(void)in;
	(void)in_len;
	*out_len = sizeof(tag);
	if (out_cap < sizeof(tag))
		return 0; /* FAAS_EOUTSIZE, with the size needed */
	memcpy(out, &tag, sizeof(tag));
	return 0;
}

/* Served as "compress" (a name zlib's symbol would take): returns its input
 * reversed. */
FAAS_FUNCTION_EXPORT int faults_compress(const void *in, size_t in_len, void *out, size_t out_cap,
					 size_t *out_len)
{
	const unsigned char *src = in;
	unsigned char *dst = out;

	*out_len = in_len;
	if (in_len > out_cap)
		return 0; /* FAAS_EOUTSIZE, with the size needed */
	for (size_t i = 0; i < in_len; i++)
		dst[i] = src[in_len - 1 - i];
	return 0;
}

/* Fails with 22, its input as its message: as much as fits in out_cap,
 * claiming all of it (the executor caps the message). */
FAAS_FUNCTION_EXPORT int failmsg(const void *in, size_t in_len, void *out, size_t out_cap,
				 size_t *out_len)
{
	if (in_len && out_cap)
		memcpy(out, in, in_len < out_cap ? in_len : out_cap);
	*out_len = in_len;
	return 22;
}

/* Returns its input; fails (1) when it does not fit in out_cap. */
FAAS_FUNCTION_EXPORT int echo(const void *in, size_t in_len, void *out, size_t out_cap,
			      size_t *out_len)
{
	if (in_len > out_cap)
		return 1;
	if (in_len)
		memmove(out, in, in_len);
	*out_len = in_len;
	return 0;
}

/* Always fails with 7 (the client sees FAAS_EFUNC). */
FAAS_FUNCTION_EXPORT int fail(const void *in, size_t in_len, void *out, size_t out_cap,
			      size_t *out_len)
{
	(void)in;
	(void)in_len;
	(void)out;
	(void)out_cap;
	*out_len = 0;
	return 7;
}

/* Kills the executor process, as a buggy function would, by SIGSEGV with
 * its default action: no handler (a library's, or AddressSanitizer's in a
 * sanitizer build, which would report this deliberate crash as a finding)
 * turns it into something else. */
FAAS_FUNCTION_EXPORT int crash(const void *in, size_t in_len, void *out, size_t out_cap,
			       size_t *out_len)
{
	(void)in;
	(void)in_len;
	(void)out;
	(void)out_cap;
	*out_len = 0;
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
	return 0;
}

/* Input: uint32 milliseconds (little-endian), then anything. Sleeps that
 * long, then returns the whole input; fails (1) when in_len < 4 or the
 * input does not fit in out_cap. */
FAAS_FUNCTION_EXPORT int sleep_ms(const void *in, size_t in_len, void *out, size_t out_cap,
				  size_t *out_len)
{
	struct timespec ts;
	uint32_t ms;

	if (in_len < sizeof(ms) || in_len > out_cap)
		return 1;
	memcpy(&ms, in, sizeof(ms));
	ms = le32toh(ms);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
	memmove(out, in, in_len);
	*out_len = in_len;
	return 0;
}

/* Claims one byte more output than there is room for, and succeeds: the
 * executor must not send it (the client sees FAAS_EOUTSIZE). */
FAAS_FUNCTION_EXPORT int bigout(const void *in, size_t in_len, void *out, size_t out_cap,
				size_t *out_len)
{
	(void)in;
	(void)in_len;
	(void)out;
	*out_len = out_cap + 1;
	return 0;
}

/* Input: uint64 n (little-endian). Writes n bytes (i * 7 + 3) & 0xff, or
 * fails (1) when n > out_cap, (2) when the input is not 8 bytes. */
FAAS_FUNCTION_EXPORT int fill(const void *in, size_t in_len, void *out, size_t out_cap,
			      size_t *out_len)
{
	unsigned char *dst = out;
	uint64_t n;

	if (in_len != sizeof(n))
		return 2;
	memcpy(&n, in, sizeof(n));
	n = le64toh(n);
	if (n > out_cap)
		return 1;
	for (uint64_t i = 0; i < n; i++)
		dst[i] = (unsigned char)((i * 7 + 3) & 0xff);
	*out_len = (size_t)n;
	return 0;
}

/* Input: uint64 n (little-endian). Allocates n bytes and writes one byte
 * in every page, so that they are really used (resident, charged to the
 * executor's cgroup), then frees them and returns no output. Fails (2) when
 * the input is not 8 bytes, (1) when malloc fails. Over the sandbox's
 * memory limit the kernel's OOM killer ends the executor instead. */
FAAS_FUNCTION_EXPORT int hog(const void *in, size_t in_len, void *out, size_t out_cap,
			     size_t *out_len)
{
	long page = sysconf(_SC_PAGESIZE);
	volatile unsigned char *p;
	uint64_t n;

	(void)out;
	(void)out_cap;
	*out_len = 0;
	if (in_len != sizeof(n))
		return 2;
	memcpy(&n, in, sizeof(n));
	n = le64toh(n);
	if (page <= 0)
		page = 4096;
	if (n > SIZE_MAX)
		return 1;
	p = malloc(n ? (size_t)n : 1);
	if (!p)
		return 1;
	/* volatile: the stores (and so the pages) cannot be optimized away. */
	for (uint64_t i = 0; i < n; i += (uint64_t)page)
		p[i] = (unsigned char)i | 1;
	if (n)
		p[n - 1] = 1;
	free((void *)p);
	return 0;
}
