/*
 * pi_kernel.h - the Monte Carlo kernel of the pi example, compiled into the
 * function library (comm_examples.c) and into the client (pi_client.c),
 * which computes the same samples locally to check the distributed result
 * exactly: rank r of p draws samples r*n/p .. (r+1)*n/p - 1 of a counter-
 * based generator (splitmix64 of seed + sample index, two draws each).
 */
#ifndef PI_KERNEL_H
#define PI_KERNEL_H

#include <stdint.h>

struct pi_job {
	uint64_t seed;
	uint64_t samples;
};

static inline uint64_t pi_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t pi_first(const struct pi_job *job, int rank, int size)
{
	return job->samples / (uint64_t)size * (uint64_t)rank +
	       (job->samples % (uint64_t)size < (uint64_t)rank ? job->samples % (uint64_t)size
							       : (uint64_t)rank);
}

static inline uint64_t pi_share(const struct pi_job *job, int rank, int size)
{
	return pi_first(job, rank + 1, size) - pi_first(job, rank, size);
}

/* Samples inside the quarter circle among rank's share (integer math:
 * exact on every machine). */
static inline uint64_t pi_hits(const struct pi_job *job, int rank, int size)
{
	uint64_t hits = 0, end = pi_first(job, rank + 1, size);

	for (uint64_t i = pi_first(job, rank, size); i < end; i++) {
		/* a point of [0, 2^31)^2: x*x + y*y stays below 2^63 */
		uint64_t x = pi_mix(job->seed + 2 * i) >> 33,
			 y = pi_mix(job->seed + 2 * i + 1) >> 33;

		hits += x * x + y * y < (1ull << 62);
	}
	return hits;
}

#endif
