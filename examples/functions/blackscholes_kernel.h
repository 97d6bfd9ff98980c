/*
 * blackscholes_kernel.h - the PARSEC Black-Scholes kernel, shared by the
 * "blackscholes" function (examples.c) and the client that checks it
 * (faas-bs-client): the wire format of one option, the pricing code and a
 * deterministic option generator.
 *
 * The pricing code is PARSEC's BlkSchlsEqEuroNoDiv() and CNDF() (European
 * options, no dividends, Abramowitz-Stegun polynomial approximation of the
 * cumulative normal distribution) in double precision, written out step by
 * step as in PARSEC. The client compares the function's prices with its own
 * bit for bit, so both sides must compile this file with the same flags;
 * in particular without floating-point contraction (-ffp-contract=off), as
 * a fused multiply-add rounds differently from a multiply and an add.
 *
 * Wire format: the input of "blackscholes" is an array of struct bs_option
 * (48 bytes each, host byte order), the output an array of double, one
 * price per option, in the same order.
 */
#ifndef BLACKSCHOLES_KERNEL_H
#define BLACKSCHOLES_KERNEL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define BS_CALL 0
#define BS_PUT 1

struct bs_option {
	double spot;	   /* price of the underlying */
	double strike;	   /* strike price */
	double rate;	   /* risk-free interest rate (0.05 = 5 %) */
	double volatility; /* annualised volatility (0.2 = 20 %) */
	double time;	   /* time to maturity, years */
	int32_t type;	   /* BS_CALL (0) or BS_PUT (1) */
	int32_t pad;	   /* 0 */
};

_Static_assert(sizeof(struct bs_option) == 48, "struct bs_option is 48 bytes on the wire");
_Static_assert(offsetof(struct bs_option, type) == 40, "struct bs_option has no holes");

/* 1 / sqrt(2 pi), as in PARSEC. */
#define BS_INV_SQRT_2XPI 0.39894228040143270286

/* Cumulative normal distribution function, PARSEC's CNDF(). */
static inline double bs_cndf(double x)
{
	double n_prime, k, k2, k3, k4, k5, l1, l2, l3, out;
	int sign = 0;

	if (x < 0.0) {
		x = -x;
		sign = 1;
	}

	n_prime = exp(-0.5 * x * x);
	n_prime = n_prime * BS_INV_SQRT_2XPI;

	k = 0.2316419 * x;
	k = 1.0 + k;
	k = 1.0 / k;
	k2 = k * k;
	k3 = k2 * k;
	k4 = k3 * k;
	k5 = k4 * k;

	l1 = k * 0.319381530;
	l2 = k2 * (-0.356563782);
	l3 = k3 * 1.781477937;
	l2 = l2 + l3;
	l3 = k4 * (-1.821255978);
	l2 = l2 + l3;
	l3 = k5 * 1.330274429;
	l2 = l2 + l3;

	l1 = l2 + l1;
	out = l1 * n_prime;
	out = 1.0 - out;

	if (sign)
		out = 1.0 - out;
	return out;
}

/* Price of one European option, PARSEC's BlkSchlsEqEuroNoDiv(). */
static inline double bs_price(const struct bs_option *o)
{
	double sqrt_time, log_term, power_term, d1, d2, den, nd1, nd2, future_value;

	sqrt_time = sqrt(o->time);
	log_term = log(o->spot / o->strike);

	power_term = o->volatility * o->volatility;
	power_term = power_term * 0.5;

	d1 = o->rate + power_term;
	d1 = d1 * o->time;
	d1 = d1 + log_term;

	den = o->volatility * sqrt_time;
	d1 = d1 / den;
	d2 = d1 - den;

	nd1 = bs_cndf(d1);
	nd2 = bs_cndf(d2);

	future_value = o->strike * exp(-o->rate * o->time);
	if (o->type == BS_CALL)
		return o->spot * nd1 - future_value * nd2;
	return future_value * (1.0 - nd2) - o->spot * (1.0 - nd1);
}

/* Whether an option can be priced: positive finite spot, strike, volatility
 * and time, finite rate, type BS_CALL or BS_PUT. */
static inline int bs_option_valid(const struct bs_option *o)
{
	return isfinite(o->spot) && o->spot > 0.0 && isfinite(o->strike) && o->strike > 0.0 &&
	       isfinite(o->rate) && isfinite(o->volatility) && o->volatility > 0.0 &&
	       isfinite(o->time) && o->time > 0.0 && (o->type == BS_CALL || o->type == BS_PUT);
}

/* splitmix64 step: advances *state and returns the next 64 random bits. */
static inline uint64_t bs_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A uniform integer in [lo, hi]. */
static inline uint64_t bs_uniform(uint64_t *state, uint64_t lo, uint64_t hi)
{
	return lo + bs_splitmix64(state) % (hi - lo + 1);
}

/*
 * Fills o[0..n) with options that depend only on seed: spot 10.00..200.00,
 * strike 0.5..1.5 times spot (rounded down to the cent), rate 0.0100..0.1000,
 * volatility 0.0500..0.6500, time 0.050..3.000 years, calls and puts at
 * random. Every value is an integer divided by a power of ten (one correctly
 * rounded division), so the options are the same on every machine and with
 * every compiler flag.
 */
static inline void bs_generate(struct bs_option *o, size_t n, uint64_t seed)
{
	uint64_t state = seed;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t spot_cents = bs_uniform(&state, 1000, 20000);
		uint64_t strike_cents = spot_cents * bs_uniform(&state, 5000, 15000) / 10000;

		o[i].spot = (double)spot_cents / 100.0;
		o[i].strike = (double)strike_cents / 100.0;
		o[i].rate = (double)bs_uniform(&state, 100, 1000) / 10000.0;
		o[i].volatility = (double)bs_uniform(&state, 500, 6500) / 10000.0;
		o[i].time = (double)bs_uniform(&state, 50, 3000) / 1000.0;
		o[i].type = (bs_splitmix64(&state) >> 63) ? BS_PUT : BS_CALL;
		o[i].pad = 0;
	}
}

#endif /* BLACKSCHOLES_KERNEL_H */
