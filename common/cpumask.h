/*
 * cpumask: a fixed-size set of cpu (PU) numbers, as plain data so that it
 * can be copied, compared and sent in messages, and the one cpu-list
 * format ("0-3,8") everyone reads and writes: Slurm's core lists, cpuset
 * files, coloc's messages and options (cpumask.c). No state.
 */
#ifndef COLOC_CPUMASK_H
#define COLOC_CPUMASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CPUMASK_MAX 1024 /* cpus numbered 0..1023 */

struct cpumask {
	uint64_t bits[CPUMASK_MAX / 64];
};

static inline void cpumask_clear(struct cpumask *m)
{
	memset(m, 0, sizeof(*m));
}
static inline void cpumask_set(struct cpumask *m, unsigned cpu)
{
	if (cpu < CPUMASK_MAX)
		m->bits[cpu / 64] |= 1ull << (cpu % 64);
}
static inline void cpumask_unset(struct cpumask *m, unsigned cpu)
{
	if (cpu < CPUMASK_MAX)
		m->bits[cpu / 64] &= ~(1ull << (cpu % 64));
}
static inline bool cpumask_test(const struct cpumask *m, unsigned cpu)
{
	return cpu < CPUMASK_MAX && (m->bits[cpu / 64] >> (cpu % 64)) & 1;
}
static inline unsigned cpumask_count(const struct cpumask *m)
{
	unsigned n = 0;

	for (size_t i = 0; i < CPUMASK_MAX / 64; i++)
		n += (unsigned)__builtin_popcountll(m->bits[i]);
	return n;
}
/* out = a & b, a | b, a & ~b (out may alias a or b). */
static inline void cpumask_and(struct cpumask *out, const struct cpumask *a,
			       const struct cpumask *b)
{
	for (size_t i = 0; i < CPUMASK_MAX / 64; i++)
		out->bits[i] = a->bits[i] & b->bits[i];
}
static inline void cpumask_or(struct cpumask *out, const struct cpumask *a, const struct cpumask *b)
{
	for (size_t i = 0; i < CPUMASK_MAX / 64; i++)
		out->bits[i] = a->bits[i] | b->bits[i];
}
static inline void cpumask_andnot(struct cpumask *out, const struct cpumask *a,
				  const struct cpumask *b)
{
	for (size_t i = 0; i < CPUMASK_MAX / 64; i++)
		out->bits[i] = a->bits[i] & ~b->bits[i];
}
static inline bool cpumask_empty(const struct cpumask *m)
{
	return cpumask_count(m) == 0;
}
/* Whether every PU of a is in b. */
static inline bool cpumask_subset(const struct cpumask *a, const struct cpumask *b)
{
	for (size_t i = 0; i < CPUMASK_MAX / 64; i++)
		if (a->bits[i] & ~b->bits[i])
			return false;
	return true;
}
static inline bool cpumask_equal(const struct cpumask *a, const struct cpumask *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}
/* Next set cpu at or after from, or -1. */
static inline int cpumask_next(const struct cpumask *m, unsigned from)
{
	/* a word at a time: a listing formats thousands of masks */
	for (unsigned w = from / 64; w < CPUMASK_MAX / 64; w++) {
		uint64_t bits = m->bits[w];

		if (w == from / 64)
			bits &= ~0ull << (from % 64);
		if (bits)
			return (int)(w * 64 + (unsigned)__builtin_ctzll(bits));
	}
	return -1;
}

/*
 * Writes m as a cpu list ("0-3,8"; "" when empty) into buf, always
 * NUL-terminated when len > 0. Returns 0, or -ENOSPC when the list does not
 * fit (buf then holds a truncated prefix).
 */
int cpumask_format(const struct cpumask *m, char *buf, size_t len);

/*
 * Parses a cpu list ("0-3,8", as cpuset files and cpu lists in Slurm and
 * Linux write it; one trailing newline or blanks accepted; "" is the empty
 * set) into m. Returns 0, -EINVAL for anything else (junk, a reversed range,
 * an empty element) or -ERANGE for a cpu of CPUMASK_MAX or more; m is left
 * untouched on failure.
 */
int cpumask_parse(const char *list, struct cpumask *m);

#endif
