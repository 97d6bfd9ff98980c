/*
 * log: the process-wide log sink. State: the component name and the level
 * threshold, set once by log_init() before threads start and read-only
 * afterwards; the sinks and the file's descriptor, atomics that
 * log_set_sinks() and log_open_file() change while threads may log (a new
 * file is dup2()'d onto the descriptor the writers use, so none writes to
 * a closed one). Each line is written with one write(2), so lines from
 * different threads do not interleave; syslog(3) has its own lock.
 *
 * Rate limits (struct log_limit) are plain structs owned by their caller.
 */
#include "config.h"

#include "log.h"

#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_component = "coloc";
static enum log_level log_threshold = LOG_LEVEL_WARNING;
static _Atomic unsigned log_sinks = LOG_SINK_STDERR;
static _Atomic int log_fd = -1; /* the file sink, -1 when none */
static atomic_bool log_syslog_open;

static const char *const level_names[] = {"error", "warning", "info", "debug"};
static const int level_prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

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

void log_set_sinks(unsigned sinks)
{
	if ((sinks & LOG_SINK_SYSLOG) && !atomic_exchange(&log_syslog_open, true))
		openlog(log_component, LOG_PID, LOG_DAEMON);
	atomic_store(&log_sinks, sinks);
}

int log_open_file(const char *path)
{
	int fd =
	    open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
	int old = atomic_load(&log_fd);

	if (fd < 0)
		return -errno;
	tzset();
	if (old < 0) {
		atomic_store(&log_fd, fd);
		return 0;
	}
	/* onto the descriptor writers use: never a closed one */
	if (dup3(fd, old, O_CLOEXEC) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

/* "2026-11-23T10:00:00.123+0100 " */
static int timestamp(char *out, size_t len)
{
	struct timeval tv;
	struct tm tm;
	char zone[8];
	size_t n;

	gettimeofday(&tv, NULL);
	if (!localtime_r(&tv.tv_sec, &tm))
		return 0;
	n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0 || strftime(zone, sizeof(zone), "%z", &tm) == 0)
		return 0;
	return snprintf(out + n, len - n, ".%03ld%s ", (long)(tv.tv_usec / 1000), zone) + (int)n;
}

/* Writes buf[0..n) and a newline to fd, in one write. */
static void write_line(int fd, char *line, int n, size_t size)
{
	if (n >= (int)size - 1)
		n = (int)size - 2;
	line[n++] = '\n';
	if (write(fd, line, (size_t)n) < 0)
		return;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	unsigned sinks = atomic_load(&log_sinks);
	char text[1024], line[1200];
	int fd = atomic_load(&log_fd);
	int n;

	if (level > log_threshold || sinks == 0)
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	if (sinks & LOG_SINK_STDERR) {
		n = snprintf(line, sizeof(line), "%s: %s: %s", log_component, level_names[level],
			     text);
		write_line(STDERR_FILENO, line, n, sizeof(line));
	}
	if ((sinks & LOG_SINK_FILE) && fd >= 0) {
		n = timestamp(line, sizeof(line));
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s[%ld]: %s: %s", log_component,
			      (long)getpid(), level_names[level], text);
		write_line(fd, line, n, sizeof(line));
	}
	if (sinks & LOG_SINK_SYSLOG)
		syslog(level_prio[level], "%s: %s", level_names[level], text);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
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

/* ---- rate limits ------------------------------------------------------------------------ */

bool log_limit_pass(struct log_limit *l, int64_t now_ms, unsigned long *suppressed)
{
	if (l->last_ms != 0 && now_ms < l->next_ms) {
		l->suppressed++;
		return false;
	}
	*suppressed = l->suppressed;
	l->suppressed = 0;
	l->last_ms = now_ms ? now_ms : 1; /* 0 is "never" */
	l->next_ms = now_ms + l->interval_ms;
	return true;
}

/* Seconds since the last line, rounded up: "in the last S s". */
static long since_s(int64_t last_ms, int64_t now_ms)
{
	return (long)((now_ms - last_ms + 999) / 1000);
}

void log_limited(struct log_limit *l, enum log_level level, const char *fmt, ...)
{
	int64_t now = clock_ms(), last = l->last_ms;
	unsigned long held;
	char text[1024];
	va_list ap;

	if (level > log_threshold)
		return;
	l->level = level;
	if (!log_limit_pass(l, now, &held))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (held)
		log_msg(level, "%s (%lu more like it in the last %ld s)", text, held,
			since_s(last, now));
	else
		log_msg(level, "%s", text);
}

bool log_limit_flush(struct log_limit *l, int64_t now_ms)
{
	int64_t last = l->last_ms;
	unsigned long held;

	if (l->suppressed == 0 || now_ms < l->next_ms || !log_limit_pass(l, now_ms, &held))
		return false;
	log_msg(l->level, "%lu more %s in the last %ld s", held, l->what ? l->what : "messages",
		since_s(last, now_ms));
	return true;
}
