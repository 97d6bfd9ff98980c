/*
 * log: one logging module for every coloc program. Messages go to stderr
 * (or syslog once log_init asks for it), prefixed with the component name
 * and the level. The level threshold comes from log_init or COLOC_LOG_LEVEL
 * (error, warning, info, debug).
 */
#ifndef COLOC_LOG_H
#define COLOC_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the component prefix (static string) and threshold. Call once at startup. */
void log_init(const char *component, enum log_level level);
/* Parses "error", "warning", "info" or "debug"; -1 for anything else. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats a message for the caller's error buffer err[errlen] (the
 * "char *err, size_t errlen" of module APIs); NULL or 0 is a no-op. */
void log_errbuf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
