/*
 * faults.c - the function library of the data-plane integration tests
 * (faas_faults.so): functions that behave well (echo, fill), fail (fail,
 * bigout), take their time (sleep_ms), use memory (hog) or kill the
 * executor (crash), so that tests/integration/dataplane and colocd.sh can
 * check what a client sees in each case.
 * The ABI is examples/functions/faas_function.h.
 */
#include <endian.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "faas_function.h"

faas_function_fn echo, fail, crash, sleep_ms, bigout, fill, hog;

FAAS_FUNCTION_EXPORT const char *const faas_functions[] = {"echo",   "fail", "crash", "sleep_ms",
							   "bigout", "fill", "hog",   NULL};

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
