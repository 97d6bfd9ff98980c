/*
 * cli: command-line helpers shared by coloc's programs (see cli.h).
 */
#include "config.h"

#include "cli.h"
#include "log.h"

#include <errno.h>
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
