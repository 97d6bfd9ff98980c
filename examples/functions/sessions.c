/*
 * faas_sessions.so: example stateful functions (faas_function.h,
 * "Stateful functions"), for examples/client/solver_client.c and
 * faas-session-bench.
 *
 *   jacobi  an iterative solver whose iterate lives in the session's
 *           state: Jacobi sweeps on A x = b, A = tridiag(-1, 4, -1) of
 *           order n, b_i = 1 + i % 7. in: {n u32, sweeps u32}; the first
 *           call sets n (x = 0). State: {sweeps done u64, x[n] double}.
 *           out: {sweeps done u64, residual max |b - A x| double}.
 *   secho   a stateful echo: out = in, and a call counter in the state
 *   resize  in: u64 n; the state becomes n bytes, byte i = i * 7 + 1 (the
 *           swap benchmark's states); out: u64 n
 *   echo    stateless: out = in
 */
#include "faas_function.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

faas_session_fn jacobi, secho, resize;
faas_function_fn echo;

FAAS_FUNCTION_EXPORT const char *const faas_functions[] = {"jacobi", "secho", "resize", "echo",
							   NULL};
FAAS_FUNCTION_EXPORT const char *const faas_session_functions[] = {"jacobi", "secho", "resize",
								   NULL};

#define JACOBI_HEAD 8 /* sweeps done */

static double rhs(uint32_t i)
{
	return 1.0 + (double)(i % 7);
}

FAAS_FUNCTION_EXPORT int jacobi(struct faas_state *st, const void *in, size_t in_len, void *out,
				size_t out_cap, size_t *out_len)
{
	uint32_t n, sweeps;
	uint64_t done = 0;
	double *x, res = 0;
	char *d = st->data;

	if (in_len != 8)
		return 1;
	memcpy(&n, in, 4);
	memcpy(&sweeps, (const char *)in + 4, 4);
	if (n < 2 || (JACOBI_HEAD + (size_t)n * 8) > st->cap || sweeps > 1000000)
		return 2;
	if (st->len == 0) { /* a new system: x = 0 */
		memset(d, 0, JACOBI_HEAD + (size_t)n * 8);
		st->len = JACOBI_HEAD + (size_t)n * 8;
	} else if (st->len != JACOBI_HEAD + (size_t)n * 8) {
		return 3; /* another n than the state's */
	}
	x = (double *)(d + JACOBI_HEAD); /* data is 16-byte aligned: doubles fit */
	memcpy(&done, d, 8);
	for (uint32_t k = 0; k < sweeps; k++) {
		double prev = 0, cur = x[0];

		for (uint32_t i = 0; i < n; i++) {
			double next = i + 1 < n ? x[i + 1] : 0;

			x[i] = (rhs(i) + prev + next) / 4.0;
			prev = cur; /* the old x[i]: Jacobi, not Gauss-Seidel */
			cur = next;
		}
	}
	done += sweeps;
	memcpy(d, &done, 8);
	for (uint32_t i = 0; i < n; i++) {
		double r = rhs(i) - 4 * x[i] + (i ? x[i - 1] : 0) + (i + 1 < n ? x[i + 1] : 0);

		res = fmax(res, fabs(r));
	}
	*out_len = 16;
	if (out_cap < 16)
		return 0;
	memcpy(out, &done, 8);
	memcpy((char *)out + 8, &res, 8);
	return 0;
}

FAAS_FUNCTION_EXPORT int secho(struct faas_state *st, const void *in, size_t in_len, void *out,
			       size_t out_cap, size_t *out_len)
{
	uint64_t calls = 0;

	if (st->cap < 8)
		return 1;
	if (st->len >= 8)
		memcpy(&calls, st->data, 8);
	calls++;
	memcpy(st->data, &calls, 8);
	if (st->len < 8)
		st->len = 8;
	*out_len = in_len;
	if (in_len <= out_cap && in_len)
		memcpy(out, in, in_len);
	return 0;
}

FAAS_FUNCTION_EXPORT int resize(struct faas_state *st, const void *in, size_t in_len, void *out,
				size_t out_cap, size_t *out_len)
{
	unsigned char *d = st->data;
	uint64_t n;

	if (in_len != 8)
		return 1;
	memcpy(&n, in, 8);
	if (n > st->cap)
		return 2;
	for (uint64_t i = 0; i < n; i++)
		d[i] = (unsigned char)(i * 7 + 1);
	st->len = n;
	*out_len = 8;
	if (out_cap >= 8)
		memcpy(out, &n, 8);
	return 0;
}

FAAS_FUNCTION_EXPORT int echo(const void *in, size_t in_len, void *out, size_t out_cap,
			      size_t *out_len)
{
	*out_len = in_len;
	if (in_len <= out_cap && in_len)
		memcpy(out, in, in_len);
	return 0;
}
