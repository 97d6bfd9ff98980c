/*
 * cli: command-line helpers shared by coloc's programs.
 */
#ifndef COLOC_CLI_H
#define COLOC_CLI_H

/* Parses val (the value of option opt) as a whole number in [min, max].
 * On anything else prints "PROG: OPT VAL: expected a whole number from MIN
 * to MAX" to stderr and exits with status 2 (a usage error). */
unsigned long cli_number(const char *prog, const char *opt, const char *val, unsigned long min,
			 unsigned long max);

/* Parses val (the value of option opt) as a size in bytes, or with K, M, G
 * or T (powers of 1024) as coloc.conf takes sizes (config_parse_size), in
 * [min, max]. On anything else prints "PROG: OPT VAL: expected a size from
 * MIN to MAX ..." to stderr and exits with status 2 (a usage error). */
unsigned long long cli_size(const char *prog, const char *opt, const char *val,
			    unsigned long long min, unsigned long long max);

/* Parses a --log-level value (error, warning, info, debug) or prints
 * "PROG: --log-level VAL: expected ..." and exits with status 2. */
int cli_log_level(const char *prog, const char *val);

#endif
