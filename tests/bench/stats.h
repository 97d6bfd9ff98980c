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

#endif
