/*
 * testfns: a function library for the unit tests (testfns.so), with the
 * misbehaviours the example library does not have: bigout claims one byte
 * more output than it may give, fail returns 7. Same ABI as
 * examples/functions/faas_function.h; no manifest, so fnlib_open needs the
 * names listed.
 */
#include <stddef.h>

typedef int testfn(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len);

testfn bigout, fail;

__attribute__((visibility("default"))) int bigout(const void *in, size_t in_len, void *out,
						  size_t out_cap, size_t *out_len)
{
	*out_len = out_cap + 1;
	return 0;
}

__attribute__((visibility("default"))) int fail(const void *in, size_t in_len, void *out,
						size_t out_cap, size_t *out_len)
{
	return 7;
}
