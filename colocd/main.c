/*
 * colocd: the co-location daemon. main() parses options and hands over to
 * daemon_run() in one of its roles: node agent (the default), controller,
 * or both in one process (--standalone).
 */
#include "config.h"

#include "cli.h"
#include "daemon.h"
#include "log.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: colocd [--controller | --standalone] [-f FILE] [-N NAME] [--foreground]\n"
	    "              [--executor PATH] [--log-level L] [--log-file FILE]\n"
	    "  (no role)         node agent: lends this node's gaps, runs executors\n"
	    "  --controller      the controller: leases, placement, node registry\n"
	    "  --standalone      controller and node agent in one process, this machine the\n"
	    "                    only node\n"
	    "  -f FILE           coloc.conf to read (default: COLOC_CONF, else %s/slurm/coloc.conf)\n"
	    "  -N NAME           this node's name (default: the host name), as Slurm's slurmd -N\n"
	    "  --foreground      stay in the foreground, log to stderr (else detach once\n"
	    "                    started, and log to syslog)\n"
	    "  --executor PATH   faas-executor to run (default %s)\n"
	    "  --log-level L     error | warning | info | debug (default info)\n"
	    "  --log-file FILE   log to FILE (also in the foreground; not to syslog);\n"
	    "                    SIGHUP reopens it\n"
	    "  -V, --version     print the version\n",
	    COLOC_SYSCONFDIR, FAAS_EXECUTOR_PATH);
}

/* Node names: what the control plane accepts (msg.c). */
static int node_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 64 ||
	    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", s[0]))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

/* path made absolute against the working directory, into out[len]; NULL
 * when it does not fit. */
static const char *absolute(const char *path, char *out, size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] == '/')
		n = snprintf(out, len, "%s", path);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(out, len, "%s/%s", cwd, path);
	else
		return NULL;
	return n >= 0 && (size_t)n < len ? out : NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"standalone", no_argument, NULL, 's'},
	    {"controller", no_argument, NULL, 'c'},
	    {"foreground", no_argument, NULL, 'F'},
	    {"executor", required_argument, NULL, 'e'},
	    {"log-level", required_argument, NULL, 'L'},
	    {"log-file", required_argument, NULL, 'l'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct daemon_options o = {.executor = FAAS_EXECUTOR_PATH, .role = DAEMON_AGENT};
	static char executor[PATH_MAX], conf[PATH_MAX], log_file[PATH_MAX];
	int roles = 0, level = LOG_LEVEL_INFO, c, rc;

	while ((c = getopt_long(argc, argv, "f:N:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.conf = optarg;
			break;
		case 'N':
			if (!node_name_ok(optarg)) {
				fprintf(
				    stderr,
				    "colocd: -N %s: a node name is 1 to 63 letters, digits, '.', "
				    "'-' or '_', starting with a letter or digit\n",
				    optarg);
				return 2;
			}
			o.node = optarg;
			break;
		case 's':
			o.role = DAEMON_STANDALONE;
			roles++;
			break;
		case 'c':
			o.role = DAEMON_CONTROLLER;
			roles++;
			break;
		case 'F':
			o.foreground = 1;
			break;
		case 'e':
			o.executor = optarg;
			break;
		case 'L':
			level = cli_log_level("colocd", optarg);
			break;
		case 'l':
			o.log_file = optarg;
			break;
		case 'V':
			printf("colocd (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
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
		fprintf(stderr, "colocd: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (roles > 1) {
		fprintf(stderr, "colocd: give one of --controller and --standalone (none: node "
				"agent)\n");
		return 2;
	}
	if (o.role == DAEMON_CONTROLLER && o.node) {
		fprintf(stderr, "colocd: -N names a node agent; the controller has no node\n");
		return 2;
	}
	if (o.role != DAEMON_CONTROLLER) {
		/* absolute: executors start from "/", and so does a daemon */
		if (access(o.executor, X_OK) != 0 || !realpath(o.executor, executor)) {
			fprintf(stderr,
				"colocd: cannot run %s; install faas-executor or pass --executor\n",
				o.executor);
			return 2;
		}
		o.executor = executor;
	}
	/* absolute: the daemon runs from "/" and rereads them on SIGHUP */
	if (o.conf && realpath(o.conf, conf))
		o.conf = conf;
	if (o.log_file && !absolute(o.log_file, log_file, sizeof(log_file))) {
		fprintf(stderr, "colocd: --log-file %s: the path is too long\n", o.log_file);
		return 2;
	}
	log_init("colocd", (enum log_level)level);
	if (o.log_file) {
		o.log_file = log_file;
		rc = log_open_file(o.log_file);
		if (rc) {
			fprintf(stderr, "colocd: cannot open the log file %s: %s\n", o.log_file,
				strerror(-rc));
			return 1;
		}
	}
	/* a detaching colocd says why it cannot start on stderr too */
	log_set_sinks((o.log_file     ? LOG_SINK_FILE
		       : o.foreground ? 0
				      : LOG_SINK_SYSLOG) |
		      LOG_SINK_STDERR);
	return daemon_run(&o);
}
