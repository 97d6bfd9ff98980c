/*
 * faas-executor: serves the functions of one library on lent cores. Started
 * by the node agent (colocd) for a lease, or by hand / by faas-bench.
 * main() only parses options and hands over to executor_run(); with
 * --spare (started ahead by colocd) it first waits for a lease's
 * assignment and takes its identity, arguments and environment.
 */
#include "config.h"

#include "assignment.h"
#include "cli.h"
#include "executor.h"
#include "lease_doc.h"
#include "lease_rules.h"
#include "log.h"
#include "rmem.h"
#include "transport.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: faas-executor --lib PATH [options]\n"
	    "       faas-executor --remote-mem SIZE [options]\n"
	    "  --lib PATH            function library (.so) to serve\n"
	    "  --remote-mem SIZE     serve a memory lease instead: SIZE bytes (like 1G) that\n"
	    "                        clients read and write one-sided (no --lib)\n"
	    "  --evict-grace MS      memory lease: time clients get to read back after the\n"
	    "                        eviction notice (default 10000)\n"
	    "  --functions A,B,...   functions to serve (default: the library's faas_functions)\n"
	    "  --cpus LIST           cores to serve on, e.g. 0-3,8 (default: all allowed)\n"
	    "  --workers N           number of workers (default: one per cpu)\n"
	    "  --provider NAME       libfabric provider (default: FAAS_PROVIDER, else ranking)\n"
	    "  --addr ADDR           local fabric address (default: FAAS_ADDR)\n"
	    "  --rung R              writedata | write-notify | send | auto (default auto: the best\n"
	    "                        the provider offers)\n"
	    "  --slot-size SIZE      largest request incl. 48-byte header, like 16M (default 64K)\n"
	    "  --slots N             request slots per worker (default 64)\n"
	    "  --max-depth N         slots one client may hold per worker (default 16)\n"
	    "  --staging-max SIZE    memory for payloads beyond the slot, all workers together\n"
	    "                        (default: what the cgroup's memory limit leaves, else 4G)\n"
	    "  --sessions N          sessions one worker may hold (default: --slots)\n"
	    "  --session-max-state SIZE  largest state of a session, like 64M (default 1G)\n"
	    "  --swap-ms MS          when stopping, time to write the sessions' states back to\n"
	    "                        their clients (default 2000; keep it under EvictGrace)\n"
	    "  --mode M              hot | warm | hybrid (default hybrid)\n"
	    "  --hot-poll-us US      hybrid: idle time before blocking (default 100000)\n"
	    "  --publish FILE|-|fd:N where to write the lease document (default: stdout)\n"
	    "  --id ID               lease id in the document\n"
	    "  --report-calls        then, every second, the calls answered on --publish fd:N\n"
	    "  --die-with-parent     stop when the parent process exits\n"
	    "  --log-level L         error | warning | info | debug (default warning)\n"
	    "  --version             print the version\n"
	    "The lease token is read from FAAS_TOKEN (32 hex digits) or drawn at random.\n"
	    "faas-executor --spare: started by colocd ahead of a lease, takes its identity,\n"
	    "arguments and environment from colocd on standard input (a unix socket).\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"lib", required_argument, NULL, 'l'},
	    {"functions", required_argument, NULL, 'f'},
	    {"remote-mem", required_argument, NULL, 'G'},
	    {"evict-grace", required_argument, NULL, 'E'},
	    {"cpus", required_argument, NULL, 'c'},
	    {"workers", required_argument, NULL, 'w'},
	    {"provider", required_argument, NULL, 'p'},
	    {"addr", required_argument, NULL, 'a'},
	    {"rung", required_argument, NULL, 'r'},
	    {"slot-size", required_argument, NULL, 's'},
	    {"slots", required_argument, NULL, 'S'},
	    {"max-depth", required_argument, NULL, 'd'},
	    {"staging-max", required_argument, NULL, 'M'},
	    {"mode", required_argument, NULL, 'm'},
	    {"sessions", required_argument, NULL, 'e'},
	    {"session-max-state", required_argument, NULL, 'X'},
	    {"swap-ms", required_argument, NULL, 'W'},
	    {"hot-poll-us", required_argument, NULL, 'H'},
	    {"publish", required_argument, NULL, 'P'},
	    {"id", required_argument, NULL, 'i'},
	    {"die-with-parent", no_argument, NULL, 'D'},
	    {"report-calls", no_argument, NULL, 'R'},
	    {"log-level", required_argument, NULL, 'L'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct executor_options o;
	int level = LOG_LEVEL_WARNING;
	int c;

	/* a spare's provider is colocd's (FAAS_PROVIDER): it opens libfabric
	 * before its assignment */
	transport_env_defaults(NULL);
	if (argc == 2 && strcmp(argv[1], "--spare") == 0) {
		argv = assignment_await(&argc);
		/* the lease's environment replaced the spare's; rxm reads its
		 * eager limit when the worker's endpoint opens, and a peer
		 * with another one is refused */
		transport_env_defaults(NULL);
	}
	executor_options_default(&o);
	o.token_hex = getenv("FAAS_TOKEN");
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o.lib_path = optarg;
			break;
		case 'f':
			o.functions = optarg;
			break;
		case 'G':
			o.remote_mem = cli_size("faas-executor", "--remote-mem", optarg, 4096,
						LEASE_REMOTE_MEM_MAX);
			break;
		case 'E':
			o.evict_grace_ms =
			    (int)cli_number("faas-executor", "--evict-grace", optarg, 0, 3600000);
			break;
		case 'c':
			if (executor_parse_cpus(optarg, &o.cpus) != 0) {
				fprintf(stderr,
					"faas-executor: --cpus %s: expected a list like 0-3,8\n",
					optarg);
				return 2;
			}
			break;
		case 'w':
			o.workers = (unsigned)cli_number("faas-executor", "--workers", optarg, 1,
							 LEASE_MAX_WORKERS);
			break;
		case 'p':
			o.provider = optarg;
			break;
		case 'a':
			o.addr = optarg;
			break;
		case 'r':
			if (transport_rung_parse(optarg, &o.rung) != 0) {
				fprintf(
				    stderr,
				    "faas-executor: --rung %s: expected writedata, write-notify, "
				    "send or auto\n",
				    optarg);
				return 2;
			}
			break;
		case 's':
			o.slot_size = (uint32_t)cli_size("faas-executor", "--slot-size", optarg, 64,
							 64u << 20);
			break;
		case 'S':
			o.slots =
			    (uint32_t)cli_number("faas-executor", "--slots", optarg, 1, 65536);
			break;
		case 'd':
			o.max_depth =
			    (uint32_t)cli_number("faas-executor", "--max-depth", optarg, 1, 1024);
			break;
		case 'M':
			o.staging_max =
			    cli_size("faas-executor", "--staging-max", optarg, 0, 1ull << 50);
			break;
		case 'e':
			o.sessions =
			    (unsigned)cli_number("faas-executor", "--sessions", optarg, 1, 65536);
			break;
		case 'X':
			o.session_max_state = (size_t)cli_size(
			    "faas-executor", "--session-max-state", optarg, 1, 1ull << 40);
			break;
		case 'W':
			o.swap_ms =
			    (int)cli_number("faas-executor", "--swap-ms", optarg, 1, 600000);
			break;
		case 'm':
			if (strcmp(optarg, "hot") == 0)
				o.mode = WORKER_HOT;
			else if (strcmp(optarg, "warm") == 0)
				o.mode = WORKER_WARM;
			else if (strcmp(optarg, "hybrid") == 0)
				o.mode = WORKER_HYBRID;
			else {
				fprintf(stderr,
					"faas-executor: --mode %s: expected hot, warm or hybrid\n",
					optarg);
				return 2;
			}
			break;
		case 'H':
			o.hot_poll_us = (long)cli_number("faas-executor", "--hot-poll-us", optarg,
							 0, 3600000000ul);
			break;
		case 'P':
			o.publish = optarg;
			break;
		case 'i':
			o.id = optarg;
			break;
		case 'R':
			o.report_calls = true;
			break;
		case 'D':
			if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
				perror("faas-executor: prctl(PR_SET_PDEATHSIG)");
				return 1;
			}
			break;
		case 'L':
			level = cli_log_level("faas-executor", optarg);
			break;
		case 'V':
			printf("faas-executor (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
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
		fprintf(stderr, "faas-executor: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (o.remote_mem && o.lib_path) {
		fprintf(stderr, "faas-executor: --remote-mem serves memory, not a library: give "
				"--lib or --remote-mem, not both\n");
		return 2;
	}
	if (o.remote_mem) {
		transport_env_defaults(o.provider);
		log_init("faas-executor", (enum log_level)level);
		return rmem_run(&o);
	}
	if (!o.lib_path) {
		fprintf(
		    stderr,
		    "faas-executor: --lib PATH is required (or --remote-mem SIZE: a memory lease)\n");
		usage(stderr);
		return 2;
	}
	if (o.max_depth > o.slots)
		o.max_depth = o.slots;
	/* --provider's (libfabric is not open yet, but for a spare's, whose
	 * settings are in place already) */
	transport_env_defaults(o.provider);
	log_init("faas-executor", (enum log_level)level);
	return executor_run(&o);
}
