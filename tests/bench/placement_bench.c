/*
 * faas-placement-bench: how fast the controller places leases
 * (colocd/placement.c) with many nodes registered.
 *
 * Builds --nodes simulated 64-PU nodes from a fixed-seed PRNG (random
 * lendable, unallocated and near-host masks, free memory, GPUs, time limits,
 * a few drained), then makes --decisions placements of 1..--workers workers
 * each, releasing a random earlier lease now and then so that capacity
 * persists. Each placement_place is timed with CLOCK_MONOTONIC; releases are
 * not. Prints one JSON object (--json) or a line of text: decisions per
 * second of placement time, median, p99 and max latency, and how many
 * requests could not be placed (-ENOSPC).
 */
#include "config.h"

#include "clock.h"
#include "stats.h"
#include "cli.h"
#include "placement.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUS_PER_NODE 64
#define BENCH_NOW 1728000000
#define GIB (1ull << 30)

struct lease {
	unsigned n;
	struct place_assignment *a;
};

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rng_below(unsigned n)
{
	return (unsigned)(rng() % n);
}

/* One node's gap as a node agent might report it. */
static void sim_node(struct place_node *n, uint32_t id)
{
	uint64_t lend = rng() | rng(); /* ~75% of PUs lendable */
	unsigned kind = rng_below(10);
	uint64_t unalloc, near;

	memset(n, 0, sizeof(*n));
	n->id = id;
	snprintf(n->name, sizeof(n->name), "node%05u", id);
	if (kind < 2) { /* idle node: everything unallocated */
		unalloc = lend;
		near = 0;
	} else if (kind < 5) { /* shared: some unallocated */
		unalloc = lend & rng() & rng();
		near = lend & ~unalloc & rng() & rng();
	} else { /* lending host job's idle cores only */
		unalloc = 0;
		near = lend & rng();
	}
	n->lendable.bits[0] = lend;
	n->unallocated.bits[0] = unalloc;
	n->near_host.bits[0] = near;
	n->mem_free = (16 + rng_below(240)) * GIB;
	n->gpus_free = rng_below(5) == 0 ? 0xf : 0;
	n->until = kind < 2 ? INT64_MAX : BENCH_NOW + 600 + rng_below(86400);
	n->drained = rng_below(50) == 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: faas-placement-bench [options]\n"
		   "  --nodes N       simulated nodes (default 10000)\n"
		   "  --decisions D   placements made and timed (default 100000)\n"
		   "  --workers W     workers per request, drawn from 1..W (default 4)\n"
		   "  --mode M        spread | pack (default spread)\n"
		   "  --seed S        PRNG seed (default 1)\n"
		   "  --json          one JSON object\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"nodes", required_argument, NULL, 'n'},
	    {"decisions", required_argument, NULL, 'd'},
	    {"workers", required_argument, NULL, 'w'},
	    {"mode", required_argument, NULL, 'm'},
	    {"seed", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned nodes = 10000, decisions = 100000, workers = 4, live = 0, max_live, enospc = 0;
	enum place_mode mode = PLACE_SPREAD;
	int json = 0, c, rc = 1;
	struct placement *p = NULL;
	struct lease *leases = NULL;
	struct place_assignment *pool = NULL;
	uint64_t *lat = NULL, total_ns = 0;
	struct place_node node;
	char err[256];

	rng_state = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			nodes = (unsigned)cli_number("faas-placement-bench", "--nodes", optarg, 1,
						     1000000);
			break;
		case 'd':
			decisions = (unsigned)cli_number("faas-placement-bench", "--decisions",
							 optarg, 1, 100000000);
			break;
		case 'w':
			workers = (unsigned)cli_number("faas-placement-bench", "--workers", optarg,
						       1, PLACE_MAX_WORKERS);
			break;
		case 'm':
			if (strcmp(optarg, "spread") == 0) {
				mode = PLACE_SPREAD;
			} else if (strcmp(optarg, "pack") == 0) {
				mode = PLACE_PACK;
			} else {
				fprintf(
				    stderr,
				    "faas-placement-bench: --mode %s: expected spread or pack\n",
				    optarg);
				return 2;
			}
			break;
		case 's':
			rng_state = cli_number("faas-placement-bench", "--seed", optarg, 0,
					       (unsigned long)-1);
			break;
		case 'j':
			json = 1;
			break;
		case 'V':
			printf("faas-placement-bench (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "faas-placement-bench: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	/* Leases held at once: about a quarter of the simulated PUs. */
	max_live = nodes * PUS_PER_NODE / 4 / ((workers + 1) / 2 + 1) + 1;
	p = placement_create(nodes);
	leases = calloc(max_live, sizeof(*leases));
	pool = calloc((size_t)max_live * workers, sizeof(*pool));
	lat = calloc(decisions, sizeof(*lat));
	if (!p || !leases || !pool || !lat) {
		fprintf(stderr, "faas-placement-bench: out of memory for %u nodes\n", nodes);
		goto out;
	}
	for (unsigned i = 0; i < max_live; i++)
		leases[i].a = pool + (size_t)i * workers;
	for (uint32_t id = 0; id < nodes; id++) {
		sim_node(&node, id);
		if (placement_update(p, &node)) {
			fprintf(stderr, "faas-placement-bench: cannot register node %u\n", id);
			goto out;
		}
	}

	for (unsigned d = 0; d < decisions; d++) {
		struct place_request r = {.workers = 1 + rng_below(workers),
					  .mem_per_worker = (1 + rng_below(4)) * GIB,
					  .gpus = rng_below(20) == 0 ? 1 : 0,
					  .now = BENCH_NOW,
					  .duration_s = 60 + rng_below(3600),
					  .mode = mode};
		uint64_t t0, t1;
		int prc;

		if (live && (live == max_live || rng_below(4) == 0)) {
			unsigned k = rng_below(live);

			placement_release(p, leases[k].a, leases[k].n);
			struct place_assignment *a = leases[k].a;
			leases[k] = leases[live - 1];
			leases[live - 1].a = a;
			live--;
		}
		t0 = (uint64_t)clock_ns();
		prc = placement_place(p, &r, leases[live].a, workers, &leases[live].n, err,
				      sizeof(err));
		t1 = (uint64_t)clock_ns();
		lat[d] = t1 - t0;
		total_ns += t1 - t0;
		if (prc == 0) {
			live++;
		} else if (prc == -ENOSPC) {
			enospc++;
		} else {
			fprintf(stderr, "faas-placement-bench: decision %u: %s\n", d,
				strerror(-prc));
			goto out;
		}
	}

	qsort(lat, decisions, sizeof(*lat), stats_cmp_u64);
	double ops = total_ns ? decisions / (total_ns / 1e9) : 0;
	unsigned long long med = lat[decisions / 2], p99 = lat[stats_rank(decisions, 0.99)],
			   max = lat[decisions - 1];

	if (json)
		printf("{\"bench\":\"placement\",\"mode\":\"%s\",\"nodes\":%u,\"decisions\":%u,"
		       "\"workers\":%u,\"ops_per_s\":%.0f,\"median_ns\":%llu,\"p99_ns\":%llu,"
		       "\"max_ns\":%llu,\"enospc\":%u}\n",
		       mode == PLACE_PACK ? "pack" : "spread", nodes, decisions, workers, ops, med,
		       p99, max, enospc);
	else
		printf("placement %s: %u nodes, %u decisions of 1..%u workers: %.0f decisions/s, "
		       "median %.2f us, p99 %.2f us, max %.2f us, %u ENOSPC\n",
		       mode == PLACE_PACK ? "pack" : "spread", nodes, decisions, workers, ops,
		       med / 1e3, p99 / 1e3, max / 1e3, enospc);
	rc = 0;
out:
	free(lat);
	free(pool);
	free(leases);
	placement_destroy(p);
	return rc;
}
