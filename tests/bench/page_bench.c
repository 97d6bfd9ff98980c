/*
 * colocd-page-bench: what a listing of N nodes' gaps costs the codec, the
 * controller's side (writing the pages) and a client's (reading them), in
 * the controller's way (msg_page_*, straight into the page's text; the
 * client's direct reader in msg_decode) against the JSON library's
 * (msg_encode_json of a page of rows, msg_decode_json), in one run. Rows
 * look like colocd-scale-bench's gaps (64 PUs, a gap in pieces). Also
 * what formatting a gap's PUs ("4-15,20-31,36-47,52-63") costs: the
 * controller formats one mask per nodes row, two per gaps row. Prints
 * JSON; never a timed test.
 *
 *   colocd-page-bench [--nodes N] [--rounds R]
 */
#include "config.h"

#include "clock.h"
#include "cpumask.h"
#include "frame.h"
#include "msg.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Node i's gap: one of a few shapes, as the scale bench's agents vary. */
static void gap_row(union msg_row *r, unsigned i)
{
	static const char *const pieces[] = {"4-15,20-31,36-47,52-63", "8-63", "0-1,4-5,60-63"};
	struct msg_row_gap *g = &r->gap;

	snprintf(g->node, sizeof(g->node), "sim%05u", i);
	snprintf(g->lendable, sizeof(g->lendable), "%s", pieces[i % 3]);
	snprintf(g->unallocated, sizeof(g->unallocated), "%s", i % 2 ? "52-63" : "");
	g->mem = (uint64_t)(i % 64 + 1) << 30;
	g->gpus = i % 5 == 0 ? 2 : 0;
	g->until = i % 7 ? 1795457874 : 0;
	g->drained = i % 101 == 0;
}

/* One listing the controller's way: pages written directly, each read by
 * msg_decode. *pages: how many. -1 on a failure. */
static int listing_direct(unsigned nodes, unsigned *pages, int64_t *write_ns, int64_t *read_ns)
{
	union msg_row *r = malloc(sizeof(*r));
	unsigned i = 0;

	*pages = 0;
	while (r && i < nodes) {
		struct msg_page p;
		struct msg m, out;
		char err[256];
		int64_t t0 = clock_ns();

		if (msg_page_init(&p, MSG_QUERY_GAPS, FRAME_MAX))
			break;
		for (gap_row(r, i); i < nodes && p.nrows < 512 && msg_page_add(&p, r) == 0;
		     gap_row(r, i))
			i++;
		if (msg_page_finish(&p, i < nodes ? i : 0, &m))
			break;
		*write_ns += clock_ns() - t0;
		t0 = clock_ns();
		if (msg_decode(m.u.result.text, &out, err, sizeof(err)))
			break;
		*read_ns += clock_ns() - t0;
		msg_free(&out);
		msg_free(&m);
		++*pages;
	}
	free(r);
	return i == nodes ? 0 : -1;
}

/* The same listing the JSON library's way, with the page sizes above. */
static int listing_json(unsigned nodes, unsigned rows_per_page, int64_t *write_ns, int64_t *read_ns)
{
	for (unsigned i = 0; i < nodes;) {
		struct msg m = {.type = MSG_RESULT, .u.result.what = MSG_QUERY_GAPS}, out;
		char *text = NULL, err[256];
		int64_t t0 = clock_ns();
		int rc;

		for (; i < nodes && m.u.result.nrows < rows_per_page; i++) {
			union msg_row *r = msg_result_add(&m);

			if (!r)
				return -1;
			gap_row(r, i);
		}
		m.u.result.next = i < nodes ? i : 0;
		rc = msg_encode_json(&m, &text);
		*write_ns += clock_ns() - t0;
		msg_free(&m);
		if (rc)
			return -1;
		t0 = clock_ns();
		rc = msg_decode_json(text, &out, err, sizeof(err));
		*read_ns += clock_ns() - t0;
		free(text);
		msg_free(&out);
		if (rc)
			return -1;
	}
	return 0;
}

/* Mean ns of cpumask_format for a 64-PU gap in four pieces. */
static double format_ns(void)
{
	struct cpumask m;
	char buf[MSG_CPULIST_MAX];
	int64_t t0;

	cpumask_clear(&m);
	for (unsigned c = 0; c < 64; c++)
		if (c % 16 >= 4)
			cpumask_set(&m, c);
	t0 = clock_ns();
	for (unsigned i = 0; i < 100000; i++)
		if (cpumask_format(&m, buf, sizeof(buf)))
			return -1;
	return (double)(clock_ns() - t0) / 100000;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"nodes", required_argument, NULL, 'n'},
					     {"rounds", required_argument, NULL, 'r'},
					     {NULL, 0, NULL, 0}};
	unsigned nodes = 10000, rounds = 20, pages = 0;
	int64_t dw = 0, dr = 0, jw = 0, jr = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n' && atoi(optarg) > 0)
			nodes = (unsigned)atoi(optarg);
		else if (c == 'r' && atoi(optarg) > 0)
			rounds = (unsigned)atoi(optarg);
		else {
			fprintf(stderr, "usage: colocd-page-bench [--nodes N] [--rounds R]\n");
			return 2;
		}
	}
	for (unsigned k = 0; k < rounds; k++) {
		if (listing_direct(nodes, &pages, &dw, &dr) ||
		    listing_json(nodes, (nodes + pages - 1) / pages, &jw, &jr)) {
			fprintf(stderr, "colocd-page-bench: a page failed\n");
			return 1;
		}
	}
	printf("{\n  \"nodes\": %u, \"rounds\": %u, \"pages\": %u,\n", nodes, rounds, pages);
	printf("  \"direct\": {\"write_ms\": %.2f, \"read_ms\": %.2f, \"listing_ms\": %.2f},\n",
	       dw / 1e6 / rounds, dr / 1e6 / rounds, (dw + dr) / 1e6 / rounds);
	printf("  \"jansson\": {\"write_ms\": %.2f, \"read_ms\": %.2f, \"listing_ms\": %.2f},\n",
	       jw / 1e6 / rounds, jr / 1e6 / rounds, (jw + jr) / 1e6 / rounds);
	printf("  \"speedup\": %.1f,\n", (double)(jw + jr) / (double)(dw + dr));
	printf("  \"cpumask_format_ns\": %.0f\n}\n", format_ns());
	return 0;
}
