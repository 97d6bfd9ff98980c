/*
 * cli: command-line helpers shared by coloc's programs (see cli.h).
 */
#include "config.h"

#include "cli.h"
#include "coloc_config.h"
#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

unsigned long cli_number(const char *prog, const char *opt, const char *val, unsigned long min,
			 unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || *end || end == val || val[0] == '-' || v < min || v > max) {
		fprintf(stderr, "%s: %s %s: expected a whole number from %lu to %lu\n", prog, opt,
			val, min, max);
		exit(2);
	}
	return v;
}

/* v in the largest unit that divides it: 65536 -> "64K". */
static void size_text(unsigned long long v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", v);
	else
		snprintf(buf, len, "%llu%c", v, units[u]);
}

unsigned long long cli_size(const char *prog, const char *opt, const char *val,
			    unsigned long long min, unsigned long long max)
{
	char lo[32], hi[32];
	uint64_t v;

	if (config_parse_size(val, &v) == 0 && v >= min && v <= max)
		return v;
	size_text(min, lo, sizeof(lo));
	size_text(max, hi, sizeof(hi));
	fprintf(stderr,
		"%s: %s %s: expected a size from %s to %s, in bytes or with K, M, G or T (powers "
		"of 1024), like 16M\n",
		prog, opt, val, lo, hi);
	exit(2);
}

int cli_log_level(const char *prog, const char *val)
{
	int level = log_level_parse(val);

	if (level < 0) {
		fprintf(stderr, "%s: --log-level %s: expected error, warning, info or debug\n",
			prog, val);
		exit(2);
	}
	return level;
}
