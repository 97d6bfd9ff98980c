/*
 * metrics: colocd's measurements written as a page of the Prometheus text
 * exposition format (version 0.0.4, the one `promtool check metrics`
 * reads), served by httpd.c on MetricsPort.
 *
 * Those who measure (agent.c, controller.c) keep plain counters (uint64_t)
 * and histograms (struct metrics_hist) of their own, changed by the one
 * thread that drives them; at most every METRICS_EVERY_MS the event loop
 * writes them all into a fresh struct metrics_page (agent_metrics,
 * controller_metrics) and hands the finished text to the HTTP thread, which
 * never sees anything else. Nothing here locks.
 *
 * Names follow Prometheus' conventions: a coloc_ prefix, base units
 * (seconds, bytes) in the name, counters ending in _total.
 *
 * Also here: the parser of the calls line an executor writes on its
 * channel (untrusted: the executor runs the lease owner's code).
 */
#ifndef COLOC_METRICS_H
#define COLOC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_EVERY_MS 500	    /* how often the loop renders the page */
#define METRICS_PAGE_MAX (8u << 20) /* a page never grows past this */

/* Histogram buckets of durations, in seconds (upper bounds; +Inf follows). */
#define METRICS_BUCKETS 17
extern const double metrics_buckets[METRICS_BUCKETS];

/* A histogram of durations. Zeroed = empty. */
struct metrics_hist {
	uint64_t in[METRICS_BUCKETS + 1]; /* per bucket (not cumulative); the last: +Inf */
	uint64_t count;
	double sum; /* seconds */
};

void metrics_hist_observe(struct metrics_hist *h, double seconds);

/* The text being written. Zeroed, or metrics_page_init; failed once a
 * write ran out of memory or past METRICS_PAGE_MAX: the page is dropped. */
struct metrics_page {
	char *buf;
	size_t len, cap;
	bool failed;
};

struct metrics_label {
	const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]* */
	const char *value; /* any text: escaped here */
};

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

void metrics_page_init(struct metrics_page *p);
/* The text (NUL-terminated, *len bytes without the NUL), now the caller's
 * to free(); NULL when the page failed. The page is empty again. */
char *metrics_page_take(struct metrics_page *p, size_t *len);
void metrics_page_fini(struct metrics_page *p);

/* A family's # HELP and # TYPE lines; its samples follow. name: the
 * family's name (a counter's with _total). */
void metrics_family(struct metrics_page *p, const char *name, enum metrics_type type,
		    const char *help);

/* One sample: name{labels} value. */
void metrics_sample(struct metrics_page *p, const char *name, const struct metrics_label *labels,
		    unsigned nlabels, double value);

/* A whole histogram family: # HELP, # TYPE, then name_bucket{labels,le=...}
 * (cumulative), name_sum and name_count. */
void metrics_histogram(struct metrics_page *p, const char *name, const char *help,
		       const struct metrics_label *labels, unsigned nlabels,
		       const struct metrics_hist *h);

/* An executor's report of the calls its workers answered, one line
 * without its newline: "calls served=N failed=M", N and M decimal
 * (at most 19 digits), nothing else. 0 with the counts, or -EINVAL. */
int metrics_calls_parse(const char *line, uint64_t *served, uint64_t *failed);

#endif
