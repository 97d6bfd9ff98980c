/*
 * examples.c - the example function library (faas_examples.so): noop, echo,
 * blackscholes and sum64, and the manifest that names them for the
 * faas-executor. Each function follows the ABI in faas_function.h.
 */
#include <stdint.h>
#include <string.h>

#include "blackscholes_kernel.h"
#include "faas_function.h"

faas_function_fn noop, echo, blackscholes, sum64;

FAAS_FUNCTION_EXPORT const char *const faas_functions[] = {"noop", "echo", "blackscholes", "sum64",
							   NULL};

/* Does nothing and returns nothing: measures the cost of a call. */
FAAS_FUNCTION_EXPORT int noop(const void *in, size_t in_len, void *out, size_t out_cap,
			      size_t *out_len)
{
	(void)in;
	(void)in_len;
	(void)out;
	(void)out_cap;
	*out_len = 0;
	return 0;
}

/* Returns its input; fails (1) when the output does not fit. */
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

/*
 * Prices an array of struct bs_option (see blackscholes_kernel.h) and returns
 * one double per option. Fails (1) when in_len is not a whole number of
 * options, when an option is invalid (bs_option_valid) and (2) when the
 * prices do not fit in out_cap. Nothing is written on failure.
 */
FAAS_FUNCTION_EXPORT int blackscholes(const void *in, size_t in_len, void *out, size_t out_cap,
				      size_t *out_len)
{
	const unsigned char *src = in;
	unsigned char *dst = out;
	struct bs_option o;
	size_t n, i;

	if (in_len % sizeof(struct bs_option))
		return 1;
	n = in_len / sizeof(struct bs_option);
	if (out_cap / sizeof(double) < n)
		return 2;
	for (i = 0; i < n; i++) {
		memcpy(&o, src + i * sizeof(o), sizeof(o));
		if (!bs_option_valid(&o))
			return 1;
	}
	for (i = 0; i < n; i++) {
		double price;

		memcpy(&o, src + i * sizeof(o), sizeof(o));
		price = bs_price(&o);
		memcpy(dst + i * sizeof(price), &price, sizeof(price));
	}
	*out_len = n * sizeof(double);
	return 0;
}

/* Sums an array of uint64_t (modulo 2^64) into one uint64_t. Fails (1) when
 * in_len is not a multiple of 8 and (2) when out_cap < 8. */
FAAS_FUNCTION_EXPORT int sum64(const void *in, size_t in_len, void *out, size_t out_cap,
			       size_t *out_len)
{
	const unsigned char *src = in;
	uint64_t sum = 0, v;
	size_t i;

	if (in_len % sizeof(uint64_t))
		return 1;
	if (out_cap < sizeof(sum))
		return 2;
	for (i = 0; i < in_len; i += sizeof(v)) {
		memcpy(&v, src + i, sizeof(v));
		sum += v;
	}
	memcpy(out, &sum, sizeof(sum));
	*out_len = sizeof(sum);
	return 0;
}
