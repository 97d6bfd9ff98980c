/*
 * test_metrics: colocd's metrics page, byte for byte in the Prometheus
 * text format (families with HELP and TYPE, labels escaped, integral
 * values without a fraction, histograms with cumulative buckets, +Inf,
 * _sum and _count), a page that would outgrow its cap dropped whole, and
 * the parser of an executor's calls report, which takes exactly one form
 * and nothing else (the executor runs the lease owner's code).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *take(struct metrics_page *p)
{
	size_t len;
	char *text = metrics_page_take(p, &len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

static void test_family_and_samples(void **state)
{
	const struct metrics_label l[2] = {{"node", "n1"}, {"state", "ready"}};
	struct metrics_page p;
	char *text;

	(void)state;
	metrics_page_init(&p);
	metrics_family(&p, "coloc_node_leases", METRICS_GAUGE, "Leases on the node, by state");
	metrics_sample(&p, "coloc_node_leases", l, 2, 3);
	metrics_family(&p, "coloc_leases_granted_total", METRICS_COUNTER, "Leases granted");
	metrics_sample(&p, "coloc_leases_granted_total", NULL, 0, 12345678901234.0);
	metrics_sample(&p, "coloc_x", NULL, 0, 0.25);
	metrics_sample(&p, "coloc_y", NULL, 0, INFINITY);
	text = take(&p);
	assert_string_equal(text, "# HELP coloc_node_leases Leases on the node, by state\n"
				  "# TYPE coloc_node_leases gauge\n"
				  "coloc_node_leases{node=\"n1\",state=\"ready\"} 3\n"
				  "# HELP coloc_leases_granted_total Leases granted\n"
				  "# TYPE coloc_leases_granted_total counter\n"
				  "coloc_leases_granted_total 12345678901234\n"
				  "coloc_x 0.25\n"
				  "coloc_y +Inf\n");
	free(text);
}

static void test_escaping(void **state)
{
	const struct metrics_label l = {"lease", "a\"b\\c\nd"};
	struct metrics_page p;
	char *text;

	(void)state;
	metrics_page_init(&p);
	metrics_family(&p, "coloc_z", METRICS_GAUGE, "help with \\ and\nnewline and \"quotes\"");
	metrics_sample(&p, "coloc_z", &l, 1, 1);
	text = take(&p);
	assert_string_equal(text, "# HELP coloc_z help with \\\\ and\\nnewline and \"quotes\"\n"
				  "# TYPE coloc_z gauge\n"
				  "coloc_z{lease=\"a\\\"b\\\\c\\nd\"} 1\n");
	free(text);
}

static void test_histogram(void **state)
{
	static const char *const want[] = {
	    "# TYPE coloc_reclaim_seconds histogram\n",
	    "coloc_reclaim_seconds_bucket{node=\"n1\",le=\"0.0001\"} 3\n",
	    "coloc_reclaim_seconds_bucket{node=\"n1\",le=\"0.05\"} 3\n",
	    "coloc_reclaim_seconds_bucket{node=\"n1\",le=\"0.1\"} 4\n",
	    "coloc_reclaim_seconds_bucket{node=\"n1\",le=\"0.25\"} 5\n",
	    "coloc_reclaim_seconds_bucket{node=\"n1\",le=\"30\"} 5\n",
	    "coloc_reclaim_seconds_bucket{node=\"n1\",le=\"+Inf\"} 6\n",
	    "coloc_reclaim_seconds_sum{node=\"n1\"} 100.30005",
	    "coloc_reclaim_seconds_count{node=\"n1\"} 6\n",
	};
	const struct metrics_label l = {"node", "n1"};
	struct metrics_hist h = {0};
	struct metrics_page p;
	char *text, *line;

	(void)state;
	metrics_hist_observe(&h, 0.00005); /* first bucket */
	metrics_hist_observe(&h, 0.1);	   /* exactly a bound: that bucket */
	metrics_hist_observe(&h, 0.2);
	metrics_hist_observe(&h, 100); /* +Inf */
	metrics_hist_observe(&h, -1);  /* counted as 0 */
	metrics_hist_observe(&h, NAN); /* likewise */
	assert_int_equal(h.count, 6);
	metrics_page_init(&p);
	metrics_histogram(&p, "coloc_reclaim_seconds", "Reclaim", &l, 1, &h);
	text = take(&p);
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(text, want[i]))
			fail_msg("no \"%s\" in:\n%s", want[i], text);
	/* buckets in order, cumulative: never decreasing */
	{
		unsigned long prev = 0, v;
		unsigned n = 0;

		for (line = strstr(text, "_bucket"); line; line = strstr(line + 1, "_bucket")) {
			v = strtoul(strchr(line, '}') + 2, NULL, 10);
			assert_true(v >= prev);
			prev = v;
			n++;
		}
		assert_int_equal(n, METRICS_BUCKETS + 1);
	}
	free(text);
}

static void test_histogram_without_labels(void **state)
{
	struct metrics_hist h = {0};
	struct metrics_page p;
	char *text;

	(void)state;
	metrics_page_init(&p);
	metrics_histogram(&p, "coloc_placement_seconds", "Placement", NULL, 0, &h);
	text = take(&p);
	assert_non_null(strstr(text, "\ncoloc_placement_seconds_bucket{le=\"+Inf\"} 0\n"));
	assert_non_null(strstr(text, "\ncoloc_placement_seconds_sum 0\n"));
	assert_non_null(strstr(text, "\ncoloc_placement_seconds_count 0\n"));
	free(text);
}

static void test_page_cap(void **state)
{
	char *big = malloc(1u << 20);
	const struct metrics_label l = {"lease", big};
	struct metrics_page p;
	size_t len = 99;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', (1u << 20) - 1);
	big[(1u << 20) - 1] = '\0';
	metrics_page_init(&p);
	for (unsigned i = 0; i < 9 && !p.failed; i++)
		metrics_sample(&p, "coloc_big", &l, 1, i);
	assert_true(p.failed);
	assert_null(metrics_page_take(&p, &len));
	assert_int_equal(len, 0);
	/* the page is usable again */
	metrics_sample(&p, "coloc_small", NULL, 0, 1);
	free(take(&p));
	free(big);
}

static void test_calls_parse(void **state)
{
	static const char *const bad[] = {
	    "",
	    "calls",
	    "calls served=1",
	    "calls served=1 failed=",
	    "calls served= failed=1",
	    "calls served=1 failed=2 ",
	    "calls served=1 failed=2x",
	    " calls served=1 failed=2",
	    "calls  served=1 failed=2",
	    "calls served=-1 failed=2",
	    "calls served=+1 failed=2",
	    "calls failed=1 served=2",
	    "calls served=1 failed=18446744073709551616",
	    "calls served=12345678901234567890 failed=0", /* 20 digits */
	    "CALLS served=1 failed=2",
	};
	uint64_t s = 7, f = 7;

	(void)state;
	assert_int_equal(metrics_calls_parse("calls served=25 failed=1", &s, &f), 0);
	assert_int_equal(s, 25);
	assert_int_equal(f, 1);
	assert_int_equal(metrics_calls_parse("calls served=0 failed=9999999999999999999", &s, &f),
			 0);
	assert_int_equal(s, 0);
	assert_true(f == 9999999999999999999ull);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = f = 7;
		assert_int_equal(metrics_calls_parse(bad[i], &s, &f), -EINVAL);
		assert_int_equal(s, 7); /* untouched */
		assert_int_equal(f, 7);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_family_and_samples),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_histogram),
	    cmocka_unit_test(test_histogram_without_labels),
	    cmocka_unit_test(test_page_cap),
	    cmocka_unit_test(test_calls_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
