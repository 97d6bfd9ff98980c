/*
 * sessfns: the stateful functions of the sessions test (sessions.c).
 *   counter  state: a little-endian u64; in: u64 to add; out: the new value
 *   fill     in: u64 n; the state becomes n bytes, byte i = (i * 7 + seed),
 *            seed the state's first byte before (0 when empty); out: u64 n
 *   sum      out: u64 sum of the state's bytes
 *   echo     stateless: out = in
 */
#include "faas.h"

#include <stdint.h>
#include <string.h>

int counter(struct faas_state *st, const void *in, size_t in_len, void *out, size_t out_cap,
	    size_t *out_len);
int fill(struct faas_state *st, const void *in, size_t in_len, void *out, size_t out_cap,
	 size_t *out_len);
int sum(struct faas_state *st, const void *in, size_t in_len, void *out, size_t out_cap,
	size_t *out_len);
int echo(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len);

const char *const faas_functions[] = {"counter", "fill", "sum", "echo", NULL};
const char *const faas_session_functions[] = {"counter", "fill", "sum", NULL};

static int put64(uint64_t v, void *out, size_t out_cap, size_t *out_len)
{
	*out_len = 8;
	if (out_cap < 8)
		return 0; /* the executor says FAAS_EOUTSIZE */
	memcpy(out, &v, 8);
	return 0;
}

int counter(struct faas_state *st, const void *in, size_t in_len, void *out, size_t out_cap,
	    size_t *out_len)
{
	uint64_t v = 0, add;

	if (in_len != 8 || st->cap < 8)
		return 1;
	memcpy(&add, in, 8);
	if (st->len == 8)
		memcpy(&v, st->data, 8);
	v += add;
	memcpy(st->data, &v, 8);
	st->len = 8;
	return put64(v, out, out_cap, out_len);
}

int fill(struct faas_state *st, const void *in, size_t in_len, void *out, size_t out_cap,
	 size_t *out_len)
{
	unsigned char *d = st->data, seed = st->len ? d[0] : 0;
	uint64_t n;

	if (in_len != 8)
		return 1;
	memcpy(&n, in, 8);
	if (n > st->cap)
		return 2;
	for (uint64_t i = 0; i < n; i++)
		d[i] = (unsigned char)(i * 7 + seed);
	st->len = n;
	return put64(n, out, out_cap, out_len);
}

int sum(struct faas_state *st, const void *in, size_t in_len, void *out, size_t out_cap,
	size_t *out_len)
{
	const unsigned char *d = st->data;
	uint64_t s = 0;

	(void)in;
	(void)in_len;
	for (size_t i = 0; i < st->len; i++)
		s += d[i];
	return put64(s, out, out_cap, out_len);
}

int echo(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len)
{
	*out_len = in_len;
	if (in_len <= out_cap)
		memcpy(out, in, in_len);
	return 0;
}
