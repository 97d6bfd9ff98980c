/*
 * log: the process-wide log sink. State: the component name and the level
 * threshold, set once by log_init() before threads start and read-only
 * afterwards, so no locking is needed; each message is written with one
 * write(2) so lines from different threads do not interleave.
 */
#include "config.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *log_component = "coloc";
static enum log_level log_threshold = LOG_LEVEL_WARNING;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (name && strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void log_init(const char *component, enum log_level level)
{
	const char *env = getenv("COLOC_LOG_LEVEL");
	int from_env = log_level_parse(env);

	if (component)
		log_component = component;
	log_threshold = from_env >= 0 ? (enum log_level)from_env : level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (level > log_threshold)
		return;
	n = snprintf(line, sizeof(line), "%s: %s: ", log_component, level_names[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void log_errbuf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
