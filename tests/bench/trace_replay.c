/*
 * faas-trace-replay: the core-hours a cluster gains when coloc lends the
 * idle cores of batch jobs (and, with LendUnallocated, the unallocated
 * ones) to functions, from a replay of a job trace through colocd's own gap
 * computation and placement policy (replay.c has the model, trace.c the
 * SWF reader and the synthetic trace's distributions).
 *
 * The synthetic trace (the default): Poisson-like submissions at an offered
 * load of --load; 2^k whole nodes with P(k) = 2^-(k+1), up to
 * --max-job-nodes; run times lognormal (median 1 h, sigma 1.5, 1 min..24 h);
 * time limits run x U(1, 3) rounded up to 15 min (at most 24 h); memory
 * used U(5 %, 35 %) of a node. An SWF trace (--swf) replays every job that
 * held nodes, whatever its status, on the machine its header's MaxNodes and
 * MaxProcs describe (or --nodes and --cores); jobs enter the queue at their
 * recorded start when the trace has wait times, else at submission, and
 * are scheduled with EASY backfilling. Idle cores of a job: per node and
 * per usage phase (exponential, mean --phase-minutes, 9: 89 % of idle
 * periods under 20 minutes, as measured on Piz Daint), a lognormal fraction
 * of its cores (median --idle-median 3.46 %, sigma --idle-sigma 1.18:
 * Daint's median, mean ~6.9 % and p95 ~24 %), its median shifted by the
 * job's CPU efficiency where the trace has one, or the job's own samples
 * (--usage). Functions: --function-demand W:MIN[:RATE],
 * tasks of W workers for MIN minutes, RATE a minute (Poisson), or a backlog
 * that never empties when RATE is left out or 0.
 *
 * Prints one JSON object (--json) or a few lines of text. Benchmarks print
 * JSON; nothing here is timed but the run itself (wall_s).
 */
#include "config.h"

#include "cli.h"
#include "replay.h"
#include "trace.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "faas-trace-replay"
#define GIB (1ull << 30)
#define HOURS(x) ((x) / 3600.0)

struct opts {
	const char *swf, *write_swf, *usage;
	unsigned nodes, cores, node_mem_gib, max_job_nodes, fn_mem_gib, margin_gib;
	double days, warmup_days, load;
	size_t max_jobs;
	const char *shape_from; /* "trace header", "command line" or "synthetic" */
	bool json;
	struct replay_params p;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: " PROG " [--swf FILE [--usage FILE] | --synthetic] [options] [--json]\n"
	    "\n"
	    "Replays a job trace on a simulated cluster through colocd's gap computation\n"
	    "(gaps_compute) and placement policy (placement_place), serving functions on\n"
	    "the gaps, and prints the core-hours gained.\n"
	    "\n"
	    "Trace:\n"
	    "  --swf FILE             a Standard Workload Format trace (18 fields a line): every\n"
	    "                         job that held nodes (run time and processors > 0), any\n"
	    "                         status; the machine's shape from its MaxNodes and MaxProcs\n"
	    "                         header unless --nodes/--cores say it; jobs queue at their\n"
	    "                         recorded start (submit+wait) or, without wait times, at\n"
	    "                         submission, scheduled by EASY backfilling; processors\n"
	    "                         round up to whole nodes; a CPU time shifts the job's idle\n"
	    "                         distribution (median x (1-eff)/(1-trace's mean eff))\n"
	    "  --usage FILE           per-job usage samples for --swf, \"JOB_ID SECONDS IDLE\"\n"
	    "                         a line (the idle fraction of the job's cores from SECONDS\n"
	    "                         after its start, e.g. from jobacct_gather or TACC Stats):\n"
	    "                         replayed instead of the phase model for those jobs\n"
	    "  --synthetic            a generated trace (default), seeded by --seed:\n"
	    "                         sizes 2^k nodes, P(k)=2^-(k+1); run lognormal median 1 h,\n"
	    "                         sigma 1.5, 1 min..24 h; limit run x U(1,3) to 15 min, <=24 h;\n"
	    "                         Poisson-like submissions at --load; memory U(5%%,35%%)\n"
	    "  --load L               synthetic offered load (default 0.95)\n"
	    "  --max-job-nodes N      synthetic largest job (default nodes/8)\n"
	    "  --days D               accounting window in days, after --warmup-days (default\n"
	    "                         30 synthetic; SWF: the rest of the trace)\n"
	    "  --warmup-days D        days replayed before counting starts (default 1)\n"
	    "  --jobs J               at most J jobs (0: no limit)\n"
	    "  --seed S               seed of every random draw (default 1)\n"
	    "  --write-swf FILE       also write the synthetic trace as SWF\n"
	    "Cluster:\n"
	    "  --nodes N (256; SWF: MaxNodes)  --cores C (36, even: two sockets; SWF:\n"
	    "  MaxProcs/MaxNodes)  --node-mem-gib G (64)\n"
	    "Host jobs' usage:\n"
	    "  --idle-median F        median idle fraction of a job's cores (0.0346)\n"
	    "  --idle-sigma S         its lognormal sigma (1.18)\n"
	    "  --phase-minutes M      mean usage phase, exponential (9)\n"
	    "  --consent F            fraction of jobs that lend, --faas-host (1)\n"
	    "  --mem-need-factor X    --faas-host-mem = X x memory used, whole GiB (1.5);\n"
	    "                         0: jobs declare nothing and no memory is lent\n"
	    "Node agent (colocd.conf; colocd's defaults):\n"
	    "  --lend-unallocated yes|no (yes)  --max-lend-fraction F (0.5)\n"
	    "  --batch-step-cores N (1)  --memory-margin-gib G (1)\n"
	    "Functions:\n"
	    "  --function-demand W:MIN[:RATE]  tasks of W workers x MIN minutes, RATE a\n"
	    "                         minute (Poisson); no RATE or 0: a backlog that never\n"
	    "                         empties (default 4:5)\n"
	    "  --function-mem-gib G   memory per worker (2)\n"
	    "  --mode spread|pack     placement mode (spread)\n"
	    "Output:\n"
	    "  --json                 one JSON object\n"
	    "  --no-gap-cache         call gaps_compute for every change (slower, same results)\n"
	    "  --help                 this text\n");
}

static double opt_double(const char *opt, const char *val, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(val, &end);
	if (end == val || *end || errno || !(v >= min && v <= max)) {
		fprintf(stderr, PROG ": %s %s: expected a number from %g to %g\n", opt, val, min,
			max);
		exit(2);
	}
	return v;
}

static void opt_demand(struct replay_params *p, const char *val)
{
	unsigned w;
	double min, rate = 0;
	char extra;
	int n = sscanf(val, "%u:%lf:%lf%c", &w, &min, &rate, &extra);

	if ((n != 2 && n != 3) || w < 1 || w > PLACE_MAX_WORKERS || !(min > 0 && min <= 1440) ||
	    !(rate >= 0 && rate <= 1e6)) {
		fprintf(stderr,
			PROG
			": --function-demand %s: expected W:MIN[:RATE], e.g. 4:5 (a backlog of "
			"4-worker tasks of 5 minutes) or 1:10:2.5\n",
			val);
		exit(2);
	}
	p->fn_workers = w;
	p->fn_seconds = (int64_t)llround(min * 60);
	p->fn_rate_per_min = rate;
}

static bool opt_yes_no(const char *opt, const char *val)
{
	if (strcmp(val, "yes") == 0)
		return true;
	if (strcmp(val, "no") == 0)
		return false;
	fprintf(stderr, PROG ": %s %s: expected yes or no\n", opt, val);
	exit(2);
}

enum {
	O_SWF = 256,
	O_SYNTH,
	O_LOAD,
	O_MAXJOB,
	O_DAYS,
	O_JOBS,
	O_SEED,
	O_WRITE,
	O_NODES,
	O_CORES,
	O_MEM,
	O_IDLE_MED,
	O_IDLE_SIG,
	O_PHASE,
	O_CONSENT,
	O_NEED,
	O_LENDU,
	O_MLF,
	O_BSC,
	O_MARGIN,
	O_DEMAND,
	O_FNMEM,
	O_MODE,
	O_JSON,
	O_WARMUP,
	O_NOCACHE,
	O_USAGE,
};

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"swf", required_argument, NULL, O_SWF},
	    {"usage", required_argument, NULL, O_USAGE},
	    {"synthetic", no_argument, NULL, O_SYNTH},
	    {"load", required_argument, NULL, O_LOAD},
	    {"max-job-nodes", required_argument, NULL, O_MAXJOB},
	    {"days", required_argument, NULL, O_DAYS},
	    {"warmup-days", required_argument, NULL, O_WARMUP},
	    {"jobs", required_argument, NULL, O_JOBS},
	    {"seed", required_argument, NULL, O_SEED},
	    {"write-swf", required_argument, NULL, O_WRITE},
	    {"nodes", required_argument, NULL, O_NODES},
	    {"cores", required_argument, NULL, O_CORES},
	    {"node-mem-gib", required_argument, NULL, O_MEM},
	    {"idle-median", required_argument, NULL, O_IDLE_MED},
	    {"idle-sigma", required_argument, NULL, O_IDLE_SIG},
	    {"phase-minutes", required_argument, NULL, O_PHASE},
	    {"consent", required_argument, NULL, O_CONSENT},
	    {"mem-need-factor", required_argument, NULL, O_NEED},
	    {"lend-unallocated", required_argument, NULL, O_LENDU},
	    {"max-lend-fraction", required_argument, NULL, O_MLF},
	    {"batch-step-cores", required_argument, NULL, O_BSC},
	    {"memory-margin-gib", required_argument, NULL, O_MARGIN},
	    {"function-demand", required_argument, NULL, O_DEMAND},
	    {"function-mem-gib", required_argument, NULL, O_FNMEM},
	    {"mode", required_argument, NULL, O_MODE},
	    {"json", no_argument, NULL, O_JSON},
	    {"no-gap-cache", no_argument, NULL, O_NOCACHE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct replay_params *p = &o->p;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_SWF:
			o->swf = optarg;
			break;
		case O_USAGE:
			o->usage = optarg;
			break;
		case O_SYNTH:
			o->swf = NULL;
			break;
		case O_LOAD:
			o->load = opt_double("--load", optarg, 0.01, 4);
			break;
		case O_MAXJOB:
			o->max_job_nodes =
			    (unsigned)cli_number(PROG, "--max-job-nodes", optarg, 1, 100000);
			break;
		case O_DAYS:
			o->days = opt_double("--days", optarg, 0.001, 36500);
			break;
		case O_WARMUP:
			o->warmup_days = opt_double("--warmup-days", optarg, 0, 365);
			break;
		case O_JOBS:
			o->max_jobs = cli_number(PROG, "--jobs", optarg, 0, 100000000);
			break;
		case O_SEED:
			p->seed = cli_number(PROG, "--seed", optarg, 0, ~0ul);
			break;
		case O_WRITE:
			o->write_swf = optarg;
			break;
		case O_NODES:
			o->nodes = (unsigned)cli_number(PROG, "--nodes", optarg, 1, 100000);
			break;
		case O_CORES:
			o->cores = (unsigned)cli_number(PROG, "--cores", optarg, 2, 1024);
			if (o->cores % 2) {
				fprintf(stderr,
					PROG ": --cores %s: expected an even number (two "
					     "sockets)\n",
					optarg);
				exit(2);
			}
			break;
		case O_MEM:
			o->node_mem_gib =
			    (unsigned)cli_number(PROG, "--node-mem-gib", optarg, 1, 1 << 20);
			break;
		case O_IDLE_MED:
			p->idle_median = opt_double("--idle-median", optarg, 1e-6, 1);
			break;
		case O_IDLE_SIG:
			p->idle_sigma = opt_double("--idle-sigma", optarg, 0, 10);
			break;
		case O_PHASE:
			p->phase_mean_s = 60 * opt_double("--phase-minutes", optarg, 0.1, 1e6);
			break;
		case O_CONSENT:
			p->consent = opt_double("--consent", optarg, 0, 1);
			break;
		case O_NEED:
			p->mem_need_factor = opt_double("--mem-need-factor", optarg, 0, 100);
			break;
		case O_LENDU:
			p->policy.lend_unallocated = opt_yes_no("--lend-unallocated", optarg);
			break;
		case O_MLF:
			p->policy.max_lend_fraction =
			    opt_double("--max-lend-fraction", optarg, 0, 1);
			break;
		case O_BSC:
			p->policy.batch_step_cores =
			    (unsigned)cli_number(PROG, "--batch-step-cores", optarg, 0, 1024);
			break;
		case O_MARGIN:
			o->margin_gib =
			    (unsigned)cli_number(PROG, "--memory-margin-gib", optarg, 0, 1 << 20);
			break;
		case O_DEMAND:
			opt_demand(p, optarg);
			break;
		case O_FNMEM:
			o->fn_mem_gib =
			    (unsigned)cli_number(PROG, "--function-mem-gib", optarg, 0, 1 << 20);
			break;
		case O_MODE:
			if (strcmp(optarg, "spread") && strcmp(optarg, "pack")) {
				fprintf(stderr, PROG ": --mode %s: expected spread or pack\n",
					optarg);
				exit(2);
			}
			p->mode = strcmp(optarg, "pack") ? PLACE_SPREAD : PLACE_PACK;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_NOCACHE:
			p->no_gap_cache = true;
			break;
		default: /* -h, --help, or getopt_long has said what was wrong */
			usage(c == 'h' ? stdout : stderr);
			exit(c == 'h' ? 0 : 2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument %s; see --help\n", argv[optind]);
		exit(2);
	}
	if (o->usage && !o->swf) {
		fprintf(stderr,
			PROG ": --usage %s: usage samples go with an SWF trace (--swf FILE)\n",
			o->usage);
		exit(2);
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* Jobs with a recorded start (wait time), or with usage samples. */
static size_t count_jobs(const struct trace *t, bool start)
{
	size_t n = 0;

	for (size_t i = 0; i < t->njobs; i++)
		n += start ? t->jobs[i].wait >= 0 : t->jobs[i].nusage > 0;
	return n;
}

static void print_json(const struct opts *o, const struct trace *t, const struct replay_result *r,
		       double wall)
{
	const struct replay_params *p = &o->p;
	double used = r->allocated - r->idle_in_alloc;
	double served = r->fn_on_idle + r->fn_on_unalloc;

	printf("{\"program\":\"" PROG "\",\"params\":{\"trace\":");
	json_str(o->swf ? o->swf : "synthetic");
	printf(",\"nodes\":%u,\"cores\":%u,\"node_mem_gib\":%u,\"seed\":%llu,\"days\":%.6g,"
	       "\"window_s\":[%lld,%lld],\"jobs_limit\":%zu",
	       p->nodes, p->cores, o->node_mem_gib, (unsigned long long)p->seed,
	       (double)(p->window_end - p->window_start) / 86400.0, (long long)p->window_start,
	       (long long)p->window_end, o->max_jobs);
	printf(",\"warmup_days\":%.6g,\"shape_from\":\"%s\"", o->warmup_days, o->shape_from);
	if (!o->swf)
		printf(",\"load\":%.6g,\"max_job_nodes\":%u", o->load, o->max_job_nodes);
	else {
		printf(",\"usage\":");
		json_str(o->usage ? o->usage : "");
	}
	printf(",\"idle_median\":%.6g,\"idle_sigma\":%.6g,\"phase_minutes\":%.6g,\"consent\":%.6g,"
	       "\"mem_need_factor\":%.6g,\"lend_unallocated\":%s,\"max_lend_fraction\":%.6g,"
	       "\"batch_step_cores\":%u,\"memory_margin_gib\":%u,\"function_workers\":%u,"
	       "\"function_minutes\":%.6g,\"function_rate_per_min\":%.6g,\"function_mem_gib\":%u,"
	       "\"mode\":\"%s\"},",
	       p->idle_median, p->idle_sigma, p->phase_mean_s / 60, p->consent, p->mem_need_factor,
	       p->policy.lend_unallocated ? "true" : "false", p->policy.max_lend_fraction,
	       p->policy.batch_step_cores, o->margin_gib, p->fn_workers, (double)p->fn_seconds / 60,
	       p->fn_rate_per_min, o->fn_mem_gib, p->mode == PLACE_PACK ? "pack" : "spread");
	printf("\"jobs\":{\"in_trace\":%zu,\"skipped\":%zu,\"completed\":%zu,\"failed\":%zu,"
	       "\"cancelled\":%zu,\"other_status\":%zu,\"with_start_time\":%zu,"
	       "\"with_usage_samples\":%zu,\"usage_samples\":%zu,\"usage_unmatched\":%zu,"
	       "\"too_big\":%llu,\"started\":%llu,\"waited\":%llu,\"mean_wait_s\":%.1f,"
	       "\"inefficiency_mean\":%.4f},",
	       t->njobs, t->skipped, t->by_status[TRACE_COMPLETED], t->by_status[TRACE_FAILED],
	       t->by_status[TRACE_CANCELLED], t->by_status[TRACE_OTHER], count_jobs(t, true),
	       count_jobs(t, false), t->nusage, t->usage_unmatched,
	       (unsigned long long)r->jobs_too_big, (unsigned long long)r->jobs_started,
	       (unsigned long long)r->jobs_waited, r->mean_wait_s, r->inefficiency_mean);
	printf("\"core_hours\":{\"total\":%.1f,\"allocated\":%.1f,\"used\":%.1f,"
	       "\"idle_in_allocation\":%.1f,\"unallocated\":%.1f,\"lendable\":%.1f,"
	       "\"lendable_unallocated\":%.1f,\"functions_on_idle_in_allocation\":%.1f,"
	       "\"functions_on_unallocated\":%.1f,\"functions_served\":%.1f,"
	       "\"functions_completed\":%.1f,\"lost_to_evictions\":%.1f},",
	       HOURS(r->total), HOURS(r->allocated), HOURS(used), HOURS(r->idle_in_alloc),
	       HOURS(r->unallocated), HOURS(r->lendable), HOURS(r->lendable_unalloc),
	       HOURS(r->fn_on_idle), HOURS(r->fn_on_unalloc), HOURS(served), HOURS(r->fn_completed),
	       HOURS(r->fn_lost));
	printf("\"utilization_before\":%.4f,\"utilization_after\":%.4f,"
	       "\"utilization_after_served\":%.4f,\"throughput_gain\":%.4f,"
	       "\"throughput_gain_served\":%.4f,\"harvested_of_idle_in_allocation\":%.4f,",
	       ratio(used, r->total), ratio(used + r->fn_completed, r->total),
	       ratio(used + served, r->total), ratio(r->fn_completed, used), ratio(served, used),
	       ratio(r->fn_on_idle, r->idle_in_alloc));
	printf("\"leases\":%llu,\"completions\":%llu,\"evictions\":%llu,\"evictions_memory\":%llu,"
	       "\"tasks_arrived\":%llu,\"tasks_waiting\":%llu,",
	       (unsigned long long)r->leases, (unsigned long long)r->completions,
	       (unsigned long long)r->evictions, (unsigned long long)r->evictions_mem,
	       (unsigned long long)r->tasks_arrived, (unsigned long long)r->tasks_waiting);
	printf("\"idle_model\":{\"samples\":%u,\"idle_in_allocation_of_cluster_mean\":%.4f,"
	       "\"idle_in_allocation_of_cluster_median\":%.4f,"
	       "\"idle_in_allocation_of_cluster_p95\":%.4f,\"node_idle_median\":%.4f,"
	       "\"node_idle_p95\":%.4f,\"unallocated_of_cluster_mean\":%.4f},",
	       r->nsamples, r->idle_frac_mean, r->idle_frac_median, r->idle_frac_p95,
	       r->node_idle_median, r->node_idle_p95, r->unalloc_frac_mean);
	printf("\"gap_computations\":%llu,\"wall_s\":%.3f}\n",
	       (unsigned long long)r->gap_computations, wall);
}

static void print_text(const struct replay_result *r, double wall)
{
	double used = r->allocated - r->idle_in_alloc;

	printf("core-hours: total %.0f, allocated %.0f, used %.0f, idle in allocation %.0f, "
	       "unallocated %.0f\n",
	       HOURS(r->total), HOURS(r->allocated), HOURS(used), HOURS(r->idle_in_alloc),
	       HOURS(r->unallocated));
	printf("functions: %.0f on idle-in-allocation, %.0f on unallocated, %.0f completed, "
	       "%.0f lost to %llu evictions\n",
	       HOURS(r->fn_on_idle), HOURS(r->fn_on_unalloc), HOURS(r->fn_completed),
	       HOURS(r->fn_lost), (unsigned long long)r->evictions);
	printf("utilization %.1f %% -> %.1f %%, throughput gain %.1f %% (%.1f s)\n",
	       100 * ratio(used, r->total), 100 * ratio(used + r->fn_completed, r->total),
	       100 * ratio(r->fn_completed, used), wall);
}

/*
 * The accounting window, after --warmup-days: synthetic --days long; SWF
 * from its first job's arrival to its last job's recorded end (or --days).
 */
static int set_window(struct opts *o, const struct trace *t)
{
	struct replay_params *p = &o->p;
	int64_t first = 0, last = 0, warmup = (int64_t)(o->warmup_days * 86400);

	if (!o->swf) {
		p->window_start = warmup;
		p->window_end = p->window_start + (int64_t)(o->days * 86400);
		return 0;
	}
	first = INT64_MAX;
	for (size_t i = 0; i < t->njobs; i++) {
		int64_t q = t->jobs[i].submit + (t->jobs[i].wait > 0 ? t->jobs[i].wait : 0);

		if (q < first)
			first = q;
		if (q + t->jobs[i].run > last)
			last = q + t->jobs[i].run;
	}
	p->window_start = first + warmup;
	p->window_end = last;
	if (o->days > 0 && p->window_start + (int64_t)(o->days * 86400) < p->window_end)
		p->window_end = p->window_start + (int64_t)(o->days * 86400);
	if (p->window_end <= p->window_start) {
		fprintf(stderr,
			PROG ": %s spans %.2f days, no more than --warmup-days %g: nothing is "
			     "left to count; give a shorter --warmup-days\n",
			o->swf, (double)(last - first) / 86400, o->warmup_days);
		return -EINVAL;
	}
	return 0;
}

/*
 * The machine's shape: --nodes/--cores, else (SWF) the header's MaxNodes
 * and MaxProcs, else (synthetic) 256 x 36. An SWF trace without a shape
 * must be given one.
 */
static int set_shape(struct opts *o, const struct trace *t)
{
	bool header = false;

	if (!o->swf) {
		o->nodes = o->nodes ? o->nodes : 256;
		o->cores = o->cores ? o->cores : 36;
		o->shape_from = "synthetic";
		return 0;
	}
	if (!o->nodes && t->max_nodes) {
		if (t->max_nodes > 100000) {
			fprintf(stderr,
				PROG ": %s: MaxNodes %lld is more than 100000; give --nodes\n",
				o->swf, (long long)t->max_nodes);
			return -EINVAL;
		}
		o->nodes = (unsigned)t->max_nodes;
		header = true;
	}
	if (!o->cores && t->max_procs && o->nodes) {
		if (t->max_procs % o->nodes || t->max_procs / o->nodes < 2 ||
		    t->max_procs / o->nodes > 1024 || (t->max_procs / o->nodes) % 2) {
			fprintf(stderr,
				PROG
				": %s: MaxProcs %lld over %u nodes is not a whole, even number "
				"of cores from 2 to 1024 a node; give --cores\n",
				o->swf, (long long)t->max_procs, o->nodes);
			return -EINVAL;
		}
		o->cores = (unsigned)(t->max_procs / o->nodes);
		header = true;
	}
	if (!o->nodes && o->cores && t->max_procs && t->max_procs % o->cores == 0 &&
	    t->max_procs / o->cores <= 100000) {
		o->nodes = (unsigned)(t->max_procs / o->cores);
		header = true;
	}
	if (!o->nodes || !o->cores) {
		fprintf(stderr,
			PROG ": %s does not say its machine's shape (no \"; MaxNodes:\" and \"; "
			     "MaxProcs:\" header lines); give it with --nodes N --cores C\n",
			o->swf);
		return -EINVAL;
	}
	o->shape_from = header ? "trace header" : "command line";
	return 0;
}

static int load_usage(const struct opts *o, struct trace *t)
{
	FILE *f = fopen(o->usage, "r");
	int rc;

	if (!f) {
		fprintf(stderr, PROG ": cannot open %s: %s\n", o->usage, strerror(errno));
		return -errno;
	}
	rc = trace_parse_usage(f, o->usage, t, stderr);
	fclose(f);
	if (rc == -ENOMEM)
		fprintf(stderr, PROG ": out of memory reading %s\n", o->usage);
	return rc;
}

static int load_trace(struct opts *o, struct trace *t)
{
	int rc;

	if (o->swf) {
		FILE *f = fopen(o->swf, "r");

		if (!f) {
			fprintf(stderr, PROG ": cannot open %s: %s\n", o->swf, strerror(errno));
			return -errno;
		}
		rc = trace_parse_swf(f, o->swf, o->max_jobs, t, stderr);
		fclose(f);
		if (rc == -ENOMEM)
			fprintf(stderr, PROG ": out of memory reading %s\n", o->swf);
		if (!rc && !t->njobs) {
			fprintf(stderr,
				PROG ": %s has no job that held nodes (run time and processors "
				     "above 0) to replay\n",
				o->swf);
			rc = -EINVAL;
		}
		if (!rc && o->usage)
			rc = load_usage(o, t);
		return rc;
	}
	struct trace_synth s = {.seed = o->p.seed,
				.nodes = o->nodes,
				.cores = o->cores,
				.days = o->days + o->warmup_days,
				.max_jobs = o->max_jobs,
				.load = o->load,
				.max_job_nodes = o->max_job_nodes};

	rc = trace_synthetic(&s, t);
	if (rc) {
		fprintf(stderr, PROG ": cannot generate the trace: %s\n", strerror(-rc));
		return rc;
	}
	if (o->write_swf) {
		FILE *f = fopen(o->write_swf, "w");

		if (!f || trace_write_swf(t, f) || fclose(f)) {
			fprintf(stderr, PROG ": cannot write %s: %s\n", o->write_swf,
				strerror(errno));
			return -EIO;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.node_mem_gib = 64,
			 .fn_mem_gib = 2,
			 .margin_gib = 1,
			 .days = -1,
			 .warmup_days = 1,
			 .load = 0.95,
			 .p = {.seed = 1,
			       .policy = {.lend_unallocated = true,
					  .batch_step_cores = 1,
					  .max_lend_fraction = 0.5},
			       .consent = 1,
			       .mem_need_factor = 1.5,
			       .idle_median = 0.0346,
			       .idle_sigma = 1.18,
			       .phase_mean_s = 9 * 60,
			       .fn_workers = 4,
			       .fn_seconds = 5 * 60,
			       .mode = PLACE_SPREAD}};
	struct replay_result r;
	struct trace t;
	struct timespec t0, t1;
	char err[256];
	int rc;

	parse(argc, argv, &o);
	if (o.days < 0)
		o.days = o.swf ? 0 : 30;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	trace_init(&t);
	if (!o.swf && set_shape(&o, &t))
		return 2;
	if (!o.max_job_nodes)
		o.max_job_nodes = o.nodes >= 8 ? o.nodes / 8 : 1;
	rc = load_trace(&o, &t);
	if (rc)
		return rc == -EINVAL ? 2 : 1;
	if ((o.swf && set_shape(&o, &t)) || set_window(&o, &t)) {
		trace_fini(&t);
		return 2;
	}
	o.p.nodes = o.nodes;
	o.p.cores = o.cores;
	o.p.node_mem = (uint64_t)o.node_mem_gib * GIB;
	o.p.fn_mem = (uint64_t)o.fn_mem_gib * GIB;
	o.p.policy.memory_margin = (uint64_t)o.margin_gib * GIB;
	rc = replay_run(&t, &o.p, &r, err, sizeof(err));
	if (rc) {
		fprintf(stderr, PROG ": %s\n", err);
		trace_fini(&t);
		return rc == -EINVAL ? 2 : 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (o.json)
		print_json(&o, &t, &r,
			   (double)(t1.tv_sec - t0.tv_sec) +
			       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	else
		print_text(&r, (double)(t1.tv_sec - t0.tv_sec) +
				   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	trace_fini(&t);
	return 0;
}
