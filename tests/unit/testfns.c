/*
 * testfns: a function library for the unit tests (testfns.so), with the
 * misbehaviours the example library does not have: bigout claims one byte
 * more output than it may give, fail returns 7, failmsg returns 9 with its
 * input as its message (claiming all of it, even past out_cap), or without
 * input fills out_cap with 'm' and claims 100 bytes more; commnop (a comm
 * function, listed "commnop:comm") returns 0 without output. Same ABI as
 * examples/functions/faas_function.h; no manifest, so fnlib_open needs the
 * names listed.
 */
#include <stddef.h>

typedef int testfn(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len);

testfn bigout, fail, failmsg;
struct faas_comm;
int commnop(struct faas_comm *comm, const void *in, size_t in_len, void *out, size_t out_cap,
	    size_t *out_len);

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

__attribute__((visibility("default"))) int failmsg(const void *in, size_t in_len, void *out,
						   size_t out_cap, size_t *out_len)
{
	const char *src = in;
	char *dst = out;

	if (in_len == 0) {
		for (size_t i = 0; i < out_cap; i++)
			dst[i] = 'm';
		*out_len = out_cap + 100;
		return 9;
	}
	for (size_t i = 0; i < in_len && i < out_cap; i++)
		dst[i] = src[i];
	*out_len = in_len;
	return 9;
}

__attribute__((visibility("default"))) int commnop(struct faas_comm *comm, const void *in,
						   size_t in_len, void *out, size_t out_cap,
						   size_t *out_len)
{
	*out_len = 0;
	return 0;
}
