/*
 * cpumask: cpu lists (see cpumask.h): the one parser and formatter of
 * "0-3,8", for colocd, faas-executor and the plugin.
 */
#include "config.h"

#include "cpumask.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* c at buf[n]: the next n. */
static size_t put_char(char *buf, size_t n, char c)
{
	buf[n] = c;
	return n + 1;
}

/* v (a cpu number, < CPUMASK_MAX) in decimal at buf[n]: the next n. */
static size_t put_uint(char *buf, size_t n, unsigned v)
{
	char digits[8];
	size_t k = 0;

	do
		digits[k++] = (char)('0' + v % 10);
	while (v /= 10);
	while (k)
		buf[n++] = digits[--k];
	return n;
}

int cpumask_format(const struct cpumask *m, char *buf, size_t len)
{
	size_t used = 0;
	int cpu = cpumask_next(m, 0);

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	while (cpu >= 0) {
		int last = cpu;
		char range[16];
		size_t n;

		while (last + 1 < CPUMASK_MAX && cpumask_test(m, (unsigned)last + 1))
			last++;
		n = used ? put_char(range, 0, ',') : 0;
		n = put_uint(range, n, (unsigned)cpu);
		if (last != cpu)
			n = put_uint(range, put_char(range, n, '-'), (unsigned)last);
		if (n >= len - used) {
			memcpy(buf + used, range, len - used - 1);
			buf[len - 1] = '\0';
			return -ENOSPC;
		}
		memcpy(buf + used, range, n);
		used += n;
		buf[used] = '\0';
		cpu = last + 1 < CPUMASK_MAX ? cpumask_next(m, (unsigned)last + 1) : -1;
	}
	return 0;
}

/* Reads a cpu number at *p (digits only); advances *p. */
static int parse_cpu(const char **p, unsigned *cpu)
{
	unsigned long v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v >= CPUMASK_MAX)
			v = CPUMASK_MAX; /* saturate: out of range, whatever the length */
		s++;
	}
	*p = s;
	if (v >= CPUMASK_MAX)
		return -ERANGE;
	*cpu = (unsigned)v;
	return 0;
}

int cpumask_parse(const char *list, struct cpumask *m)
{
	struct cpumask res;
	const char *p = list, *end;
	int rc;

	if (!list)
		return -EINVAL;
	cpumask_clear(&res);
	/* Trailing blanks and newline (as in cpuset files) are not part of the list. */
	end = list + strlen(list);
	while (end > list && isspace((unsigned char)end[-1]))
		end--;
	while (p < end) {
		unsigned first, last;

		rc = parse_cpu(&p, &first);
		if (rc)
			return rc;
		last = first;
		if (p < end && *p == '-') {
			p++;
			rc = parse_cpu(&p, &last);
			if (rc)
				return rc;
			if (last < first)
				return -EINVAL;
		}
		if (p < end) {
			if (*p != ',' || p + 1 >= end)
				return -EINVAL;
			p++;
		}
		for (unsigned c = first; c <= last; c++)
			cpumask_set(&res, c);
	}
	if (p != end)
		return -EINVAL;
	*m = res;
	return 0;
}
