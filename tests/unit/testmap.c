/*
 * testmap: a function library for test_fnlib (testmap.so) whose manifest
 * maps names to symbols of other names ("compress=testmap_compress", and
 * "free", a name libc defines, to testmap_free), and which defines the
 * per-worker hooks: faas_worker_init(w) makes whoami (in the same thread)
 * return w + 100, and fails with 5 for worker 99; faas_worker_fini(w)
 * records w for last_fini. Same ABI as examples/functions/faas_function.h.
 */
#include <stddef.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef int testfn(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len);

testfn testmap_compress, testmap_free, whoami, last_fini;
int faas_worker_init(unsigned worker);
void faas_worker_fini(unsigned worker);

EXPORT const char *const faas_functions[] = {"compress=testmap_compress", "free=testmap_free",
					     "whoami", "last_fini", NULL};

static _Thread_local unsigned me; /* set by the init hook, per thread */
static unsigned fini_of = 12345;  /* the worker of the latest fini */

static int put_unsigned(unsigned v, void *out, size_t out_cap, size_t *out_len)
{
	*out_len = sizeof(v);
	if (out_cap < sizeof(v))
		return 0; /* the executor answers EOUTSIZE with the size */
	memcpy(out, &v, sizeof(v));
	return 0;
}

/* Returns 1 (so that a test can tell it from testmap_free). */
EXPORT int testmap_compress(const void *in, size_t in_len, void *out, size_t out_cap,
			    size_t *out_len)
{
	return put_unsigned(1, out, out_cap, out_len);
}

/* Returns 2. */
EXPORT int testmap_free(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len)
{
	return put_unsigned(2, out, out_cap, out_len);
}

EXPORT int whoami(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len)
{
	return put_unsigned(me, out, out_cap, out_len);
}

EXPORT int last_fini(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len)
{
	return put_unsigned(fini_of, out, out_cap, out_len);
}

EXPORT int faas_worker_init(unsigned worker)
{
	if (worker == 99)
		return 5;
	me = worker + 100;
	return 0;
}

EXPORT void faas_worker_fini(unsigned worker)
{
	fini_of = worker;
}
