/*
 * stats: what the benchmarks share to summarise their samples (header-only).
 */
#ifndef COLOC_BENCH_STATS_H
#define COLOC_BENCH_STATS_H

#include <stdint.h>
#include <stdlib.h>

/* qsort comparison of uint64_t samples. */
static inline int stats_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The index of the nearest-rank percentile p (0 < p <= 1) in n sorted
 * samples (n > 0): the smallest sample with at least p of them at or
 * below it, so that the p99 of 30 samples is the largest, not the 29th,
 * and the p99 of 2 is the larger. */
static inline size_t stats_rank(size_t n, double p)
{
	size_t rank = (size_t)(p * (double)n + 0.999999999);

	return rank < 1 ? 0 : rank > n ? n - 1 : rank - 1;
}

#endif
