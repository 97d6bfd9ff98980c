/*
 * faas-executor: serves the functions of one library on lent cores. Started
 * by the node agent (colocd) for a lease, or by hand / by faas-bench.
 * main() only parses options and hands over to executor_run(); with
 * --spare (started ahead by colocd) it first waits for a lease's
 * assignment and takes its identity, arguments and environment.
 */
#include "config.h"

#include "cli.h"
#include "executor.h"
#include "log.h"
#include "spare.h"
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <linux/prctl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: faas-executor --lib PATH [options]\n"
	    "  --lib PATH            function library (.so) to serve\n"
	    "  --functions A,B,...   functions to serve (default: the library's faas_functions)\n"
	    "  --cpus LIST           cores to serve on, e.g. 0-3,8 (default: all allowed)\n"
	    "  --workers N           number of workers (default: one per cpu)\n"
	    "  --provider NAME       libfabric provider (default: FAAS_PROVIDER, else ranking)\n"
	    "  --addr ADDR           local fabric address (default: FAAS_ADDR)\n"
	    "  --rung R              writedata | write-notify | send | auto (default auto: the best\n"
	    "                        the provider offers)\n"
	    "  --slot-size BYTES     largest request incl. 48-byte header (default 65536)\n"
	    "  --slots N             request slots per worker (default 64)\n"
	    "  --max-depth N         slots one client may hold per worker (default 16)\n"
	    "  --mode M              hot | warm | hybrid (default hybrid)\n"
	    "  --hot-poll-us US      hybrid: idle time before blocking (default 100000)\n"
	    "  --publish FILE|-      where to write the lease document (default: stdout)\n"
	    "  --id ID               lease id in the document\n"
	    "  --die-with-parent     stop when the parent process exits\n"
	    "  --log-level L         error | warning | info | debug (default warning)\n"
	    "The lease token is read from FAAS_TOKEN (32 hex digits) or drawn at random.\n"
	    "faas-executor --spare: started by colocd ahead of a lease, takes its identity,\n"
	    "arguments and environment from colocd on standard input.\n");
}

/*
 * Initialises libfabric ahead of the lease (its first fi_getinfo costs
 * about 0.1 s), as nobody while root: whatever libfabric opens now stays
 * open for the lease's owner, so it must be what anyone may open. The
 * saved uid 0 brings root back for the assignment.
 */
static void spare_preinit(void)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t uid = pw ? pw->pw_uid : 65534;
	gid_t gid = pw ? pw->pw_gid : 65534;
	bool root = geteuid() == 0;

	if (root && (setgroups(0, NULL) != 0 || setresgid(gid, gid, 0) != 0 ||
		     setresuid(uid, uid, 0) != 0)) {
		fprintf(stderr,
			"faas-executor: --spare: cannot become nobody to initialise "
			"libfabric (%s); leaving that to the lease\n",
			strerror(errno));
		if (setresuid(0, 0, 0) != 0 || setresgid(0, 0, 0) != 0)
			exit(1);
		return;
	}
	transport_preinit(NULL);
	if (root && (setresuid(0, 0, 0) != 0 || setresgid(0, 0, 0) != 0)) {
		fprintf(stderr, "faas-executor: --spare: cannot take root back: %s\n",
			strerror(errno));
		exit(1);
	}
}

/*
 * ps and /proc/PID/cmdline and environ show the lease's arguments and
 * environment, as if the executor had been started with them: each list
 * lies contiguous in the assignment's buffer, and PR_SET_MM_MAP (which
 * needs no capability) moves the kernel's record of both. The other fields
 * of the record are this process's own, from /proc/self/stat.
 */
static void spare_show(const struct spare_assignment *a)
{
	struct prctl_mm_map m = {.exe_fd = (uint32_t)-1};
	unsigned long v[52] = {0};
	const char *last = a->argv[a->argc - 1], *why = NULL;
	char st[4096], *p, *save = NULL;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n = f ? fread(st, 1, sizeof(st) - 1, f) : 0;

	if (f)
		fclose(f);
	st[n] = '\0';
	p = strrchr(st, ')'); /* the command name may hold blanks */
	if (!p)
		why = "/proc/self/stat is unreadable";
	for (int i = 3; p && (p = strtok_r(i == 3 ? p + 1 : NULL, " ", &save)) && i < 52; i++)
		v[i] = strtoul(p, NULL, 10);
	if (!why) {
		m.start_code = v[26];
		m.end_code = v[27];
		m.start_stack = v[28];
		m.start_data = v[45];
		m.end_data = v[46];
		m.start_brk = v[47];
		m.brk = (uintptr_t)sbrk(0);
		m.arg_start = (uintptr_t)a->argv[0];
		m.arg_end = (uintptr_t)(last + strlen(last) + 1);
		m.env_start = v[50];
		m.env_end = v[51];
		if (a->envc) {
			last = a->envp[a->envc - 1];
			m.env_start = (uintptr_t)a->envp[0];
			m.env_end = (uintptr_t)(last + strlen(last) + 1);
		}
		if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&m, sizeof(m), 0) != 0)
			why = strerror(errno);
	}
	if (why)
		fprintf(stderr,
			"faas-executor: --spare: ps and /proc show the spare's arguments and "
			"environment, not the lease's (PR_SET_MM_MAP: %s)\n",
			why);
}

/*
 * --spare: waits for colocd's assignment on standard input (a pipe), takes
 * its uid and gid, environment and arguments, and returns the arguments.
 * The libraries are loaded by now, which is why colocd starts spares ahead
 * of leases. Exits 0 when colocd closes the pipe without an assignment.
 */
static char **spare_await(int *argc)
{
	static struct spare_assignment a;
	struct stat st;
	size_t len = 0;
	char *buf, err[256];
	int step, e = 0;

	if (fstat(0, &st) != 0 || !S_ISFIFO(st.st_mode)) {
		fprintf(stderr,
			"faas-executor: --spare reads its assignment from colocd on a pipe; "
			"it is not started by hand\n");
		exit(2);
	}
	spare_preinit();
	buf = malloc(SPARE_MSG_MAX + 1);
	if (!buf) {
		fprintf(stderr, "faas-executor: --spare: out of memory\n");
		exit(1);
	}
	for (;;) {
		ssize_t n = read(0, buf + len, SPARE_MSG_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "faas-executor: --spare: reading the assignment: %s\n",
				strerror(errno));
			exit(1);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SPARE_MSG_MAX) {
			fprintf(stderr, "faas-executor: --spare: the assignment exceeds %d bytes\n",
				SPARE_MSG_MAX);
			exit(1);
		}
	}
	if (len == 0)
		exit(0); /* colocd no longer needs this spare */
	if (spare_decode(buf, len, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "faas-executor: --spare: %s\n", err);
		exit(1);
	}
	spare_show(&a);
	/* colocd started the spare SCHED_IDLE: the lease's executor is not */
	if (sched_setscheduler(0, SCHED_OTHER, &(struct sched_param){0}) != 0)
		fprintf(stderr, "faas-executor: --spare: cannot leave SCHED_IDLE: %s\n",
			strerror(errno));
	step = identity_drop(a.uid, a.gid, &e);
	if (step) {
		fprintf(stderr, "faas-executor: --spare: cannot %s (uid %u, gid %u): %s\n",
			identity_steps[step - 1], (unsigned)a.uid, (unsigned)a.gid, strerror(e));
		exit(1);
	}
	/* As after an exec by the owner: the owner may debug its executor. */
	if (prctl(PR_SET_DUMPABLE, 1) != 0)
		log_debug("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
	if (clearenv() != 0) {
		fprintf(stderr, "faas-executor: --spare: cannot clear the environment\n");
		exit(1);
	}
	for (unsigned i = 0; i < a.envc; i++)
		if (putenv(a.envp[i]) != 0) {
			fprintf(stderr, "faas-executor: --spare: cannot set %.64s\n", a.envp[i]);
			exit(1);
		}
	close(0);
	if (open("/dev/null", O_RDONLY) != 0)
		log_debug("--spare: no /dev/null on standard input");
	*argc = (int)a.argc;
	return a.argv;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"lib", required_argument, NULL, 'l'},
	    {"functions", required_argument, NULL, 'f'},
	    {"cpus", required_argument, NULL, 'c'},
	    {"workers", required_argument, NULL, 'w'},
	    {"provider", required_argument, NULL, 'p'},
	    {"addr", required_argument, NULL, 'a'},
	    {"rung", required_argument, NULL, 'r'},
	    {"slot-size", required_argument, NULL, 's'},
	    {"slots", required_argument, NULL, 'S'},
	    {"max-depth", required_argument, NULL, 'd'},
	    {"mode", required_argument, NULL, 'm'},
	    {"hot-poll-us", required_argument, NULL, 'H'},
	    {"publish", required_argument, NULL, 'P'},
	    {"id", required_argument, NULL, 'i'},
	    {"die-with-parent", no_argument, NULL, 'D'},
	    {"log-level", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct executor_options o;
	int level = LOG_LEVEL_WARNING;
	int c;

	if (argc == 2 && strcmp(argv[1], "--spare") == 0)
		argv = spare_await(&argc);
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
		case 'c':
			if (executor_parse_cpus(optarg, &o.cpus) != 0) {
				fprintf(stderr,
					"faas-executor: --cpus %s: expected a list like 0-3,8\n",
					optarg);
				return 2;
			}
			break;
		case 'w':
			o.workers =
			    (unsigned)cli_number("faas-executor", "--workers", optarg, 1, 4096);
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
			o.slot_size = (uint32_t)cli_number("faas-executor", "--slot-size", optarg,
							   64, 64u << 20);
			break;
		case 'S':
			o.slots =
			    (uint32_t)cli_number("faas-executor", "--slots", optarg, 1, 65536);
			break;
		case 'd':
			o.max_depth =
			    (uint32_t)cli_number("faas-executor", "--max-depth", optarg, 1, 1024);
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
		case 'D':
			if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
				perror("faas-executor: prctl(PR_SET_PDEATHSIG)");
				return 1;
			}
			break;
		case 'L':
			level = cli_log_level("faas-executor", optarg);
			break;
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
	if (!o.lib_path) {
		fprintf(stderr, "faas-executor: --lib PATH is required\n");
		usage(stderr);
		return 2;
	}
	if (o.max_depth > o.slots)
		o.max_depth = o.slots;
	log_init("faas-executor", (enum log_level)level);
	return executor_run(&o);
}
