/*
 * log: one logging module for every coloc program. Messages go to the
 * sinks chosen with log_set_sinks(): standard error (the default), syslog
 * (facility daemon) and a file opened with log_open_file(), each line
 * prefixed with the component name and the level. The level threshold
 * comes from log_init or COLOC_LOG_LEVEL (error, warning, info, debug).
 *
 * A message that may recur at the rate of outside input (a refused
 * connection, a peer closed for being slow) goes through a struct
 * log_limit: at most one line per interval, the next line saying how many
 * were held back.
 */
#ifndef COLOC_LOG_H
#define COLOC_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Where lines go: any combination (0: nowhere). */
enum log_sink { LOG_SINK_STDERR = 1, LOG_SINK_SYSLOG = 2, LOG_SINK_FILE = 4 };

/* Sets the component prefix (static string) and threshold. Call once at startup. */
void log_init(const char *component, enum log_level level);
/* Parses "error", "warning", "info" or "debug"; -1 for anything else. */
int log_level_parse(const char *name);

/* Chooses the sinks (LOG_SINK_STDERR alone until called). LOG_SINK_SYSLOG
 * opens syslog with the component as ident, LOG_PID, facility daemon.
 * LOG_SINK_FILE without an open file (log_open_file) is ignored. Safe to
 * call while other threads log. */
void log_set_sinks(unsigned sinks);

/* Opens path for appending (created mode 0640, never through a symbolic
 * link) as the file sink, replacing the one open: called again with the
 * same path after logrotate moved the file, it starts a new one. Lines in
 * the file carry a timestamp. Safe while other threads log. 0, or -errno
 * (the file open before stays). */
int log_open_file(const char *path);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Formats a message for the caller's error buffer err[errlen] (the
 * "char *err, size_t errlen" of module APIs); NULL or 0 is a no-op. */
void log_errbuf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/*
 * A rate limit for one kind of message: the first line goes out, those in
 * the next interval_ms are counted, not written; the first after the
 * interval goes out with "(N more like it in the last S s)" appended, and
 * log_limit_flush() writes the count of a burst that no later message
 * reports. The caller owns the struct (static or in its context, set with
 * LOG_LIMIT_INIT); not thread-safe: one thread uses a given limit.
 */
struct log_limit {
	int64_t interval_ms;
	const char *what;	  /* names the message in flush lines, like "refused connections" */
	enum log_level level;	  /* of the last message, for flush lines */
	int64_t last_ms;	  /* when the last line went out */
	int64_t next_ms;	  /* when the next line may go out */
	unsigned long suppressed; /* held back since the last line */
};

#define LOG_LIMIT_INIT(ms, what_)                                                                  \
	{                                                                                          \
		.interval_ms = (ms), .what = (what_)                                               \
	}

/* The decision alone, at now_ms (monotonic ms): true when a line may go
 * out, with *suppressed the count held back before it (then reset); false
 * when it is held back (and counted). */
bool log_limit_pass(struct log_limit *l, int64_t now_ms, unsigned long *suppressed);

/* log_msg through l. */
void log_limited(struct log_limit *l, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* At now_ms: once the interval has passed, writes "N more <what> in the last S s"
 * for messages held back and not reported by a later line. Returns true
 * when it wrote a line. */
bool log_limit_flush(struct log_limit *l, int64_t now_ms);

#endif
