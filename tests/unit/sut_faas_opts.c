/*
 * spank-plugin/faas_opts.c, compiled here so that its test links only the
 * module under test (with common/config.c for its value parsers), and runs
 * without Slurm. Objects stay in this directory.
 */
#include "faas_opts.c"
