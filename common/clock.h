/*
 * clock: the monotonic clock, in the units coloc's modules count in.
 * Header-only; no state.
 */
#ifndef COLOC_CLOCK_H
#define COLOC_CLOCK_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

static inline int64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t clock_ms(void)
{
	return clock_ns() / 1000000;
}

/* Sleeps ms milliseconds, resuming after signals. */
static inline void clock_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

#endif
