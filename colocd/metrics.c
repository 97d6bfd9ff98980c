/*
 * metrics: see metrics.h. A page is one growing buffer (doubling, capped
 * at METRICS_PAGE_MAX); histograms are fixed arrays. Label values are
 * escaped as the text format asks (backslash, double quote, newline);
 * names are ours, never a user's.
 */
#include "config.h"

#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 100 us to 30 s: placement takes microseconds, a cold start about 0.1 s,
 * a reclaim up to EvictGrace and a few seconds more. */
const double metrics_buckets[METRICS_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
						 0.01,	 0.025,	  0.05,	  0.1,	 0.25,	 0.5,
						 1,	 2.5,	  5,	  10,	 30};

void metrics_hist_observe(struct metrics_hist *h, double seconds)
{
	unsigned b = 0;

	if (!(seconds >= 0)) /* NaN too */
		seconds = 0;
	while (b < METRICS_BUCKETS && seconds > metrics_buckets[b])
		b++;
	h->in[b]++;
	h->count++;
	h->sum += seconds;
}

/* ---- the page ---------------------------------------------------------------------------- */

void metrics_page_init(struct metrics_page *p)
{
	memset(p, 0, sizeof(*p));
}

void metrics_page_fini(struct metrics_page *p)
{
	free(p->buf);
	metrics_page_init(p);
}

char *metrics_page_take(struct metrics_page *p, size_t *len)
{
	char *text = p->failed ? NULL : p->buf;

	*len = text ? p->len : 0;
	if (!text)
		free(p->buf);
	metrics_page_init(p);
	return text;
}

/* Room for n more bytes and a NUL. */
static bool reserve(struct metrics_page *p, size_t n)
{
	size_t cap = p->cap ? p->cap : 4096;
	char *b;

	if (p->failed)
		return false;
	if (p->len + n + 1 <= p->cap)
		return true;
	while (cap < p->len + n + 1 && cap <= METRICS_PAGE_MAX)
		cap *= 2;
	if (cap > METRICS_PAGE_MAX || !(b = realloc(p->buf, cap))) {
		p->failed = true;
		return false;
	}
	p->buf = b;
	p->cap = cap;
	return true;
}

static void put(struct metrics_page *p, const char *s, size_t n)
{
	if (!reserve(p, n))
		return;
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

static void puts_(struct metrics_page *p, const char *s)
{
	put(p, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void printf_(struct metrics_page *p, const char *fmt,
							  ...)
{
	char small[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(small)) { /* only short numbers come here */
		p->failed = true;
		return;
	}
	put(p, small, (size_t)n);
}

/* HELP text escapes backslash and newline; label values also '"'. */
static void escaped(struct metrics_page *p, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(p, "\\\\");
		else if (*s == '\n')
			puts_(p, "\\n");
		else if (quote && *s == '"')
			puts_(p, "\\\"");
		else
			put(p, s, 1);
	}
}

static void value(struct metrics_page *p, double v)
{
	if (isnan(v))
		puts_(p, "NaN");
	else if (isinf(v))
		puts_(p, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		printf_(p, "%.0f", v);
	else
		printf_(p, "%.17g", v);
}

void metrics_family(struct metrics_page *p, const char *name, enum metrics_type type,
		    const char *help)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};

	puts_(p, "# HELP ");
	puts_(p, name);
	puts_(p, " ");
	escaped(p, help, false);
	puts_(p, "\n# TYPE ");
	puts_(p, name);
	puts_(p, " ");
	puts_(p, types[type]);
	puts_(p, "\n");
}

/* name{labels[,le="..."]} */
static void series(struct metrics_page *p, const char *name, const char *suffix,
		   const struct metrics_label *labels, unsigned nlabels, const char *le)
{
	puts_(p, name);
	puts_(p, suffix);
	if (!nlabels && !le)
		return;
	puts_(p, "{");
	for (unsigned i = 0; i < nlabels; i++) {
		if (i)
			puts_(p, ",");
		puts_(p, labels[i].name);
		puts_(p, "=\"");
		escaped(p, labels[i].value, true);
		puts_(p, "\"");
	}
	if (le) {
		puts_(p, nlabels ? ",le=\"" : "le=\"");
		puts_(p, le);
		puts_(p, "\"");
	}
	puts_(p, "}");
}

void metrics_sample(struct metrics_page *p, const char *name, const struct metrics_label *labels,
		    unsigned nlabels, double v)
{
	series(p, name, "", labels, nlabels, NULL);
	puts_(p, " ");
	value(p, v);
	puts_(p, "\n");
}

void metrics_histogram(struct metrics_page *p, const char *name, const char *help,
		       const struct metrics_label *labels, unsigned nlabels,
		       const struct metrics_hist *h)
{
	uint64_t cum = 0;
	char le[32];

	metrics_family(p, name, METRICS_HISTOGRAM, help);
	for (unsigned b = 0; b <= METRICS_BUCKETS; b++) {
		cum += h->in[b];
		if (b < METRICS_BUCKETS)
			snprintf(le, sizeof(le), "%g", metrics_buckets[b]);
		else
			snprintf(le, sizeof(le), "+Inf");
		series(p, name, "_bucket", labels, nlabels, le);
		printf_(p, " %llu\n", (unsigned long long)cum);
	}
	series(p, name, "_sum", labels, nlabels, NULL);
	puts_(p, " ");
	value(p, h->sum);
	puts_(p, "\n");
	series(p, name, "_count", labels, nlabels, NULL);
	printf_(p, " %llu\n", (unsigned long long)h->count);
}

/* ---- an executor's report ------------------------------------------------------------------ */

/* "KEY=digits" at *s, moving *s past it. */
static int field(const char **s, const char *key, uint64_t *v)
{
	size_t k = strlen(key), n = 0;

	if (strncmp(*s, key, k) != 0 || (*s)[k] != '=')
		return -EINVAL;
	*s += k + 1;
	*v = 0;
	while ((*s)[n] >= '0' && (*s)[n] <= '9' && n < 19)
		*v = *v * 10 + (uint64_t)((*s)[n++] - '0');
	if (n == 0 || ((*s)[n] >= '0' && (*s)[n] <= '9'))
		return -EINVAL;
	*s += n;
	return 0;
}

int metrics_calls_parse(const char *line, uint64_t *served, uint64_t *failed)
{
	const char *s = line;
	uint64_t a, b;

	if (strncmp(s, "calls ", 6) != 0)
		return -EINVAL;
	s += 6;
	if (field(&s, "served", &a) != 0 || *s++ != ' ' || field(&s, "failed", &b) != 0 || *s)
		return -EINVAL;
	*served = a;
	*failed = b;
	return 0;
}
