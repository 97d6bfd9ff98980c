/*
 * colocd: the co-location daemon. main() parses options and hands over to
 * daemon_run(). This version runs both roles in one process
 * (--standalone): this machine is the only node.
 */
#include "config.h"

#include "cli.h"
#include "daemon.h"
#include "log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: colocd --standalone [-f FILE] [--foreground] [--executor PATH] [--log-level "
	    "L]\n"
	    "  --standalone      controller and node agent in one process, this machine the\n"
	    "                    only node (the only mode of this version)\n"
	    "  -f FILE           coloc.conf to read (default: COLOC_CONF, else %s/slurm/coloc.conf)\n"
	    "  --foreground      stay in the foreground, log to stderr (else detach)\n"
	    "  --executor PATH   faas-executor to run (default %s)\n"
	    "  --log-level L     error | warning | info | debug (default info)\n",
	    COLOC_SYSCONFDIR, FAAS_EXECUTOR_PATH);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"standalone", no_argument, NULL, 's'},	{"foreground", no_argument, NULL, 'F'},
	    {"executor", required_argument, NULL, 'e'}, {"log-level", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},		{NULL, 0, NULL, 0},
	};
	struct daemon_options o = {.executor = FAAS_EXECUTOR_PATH};
	int standalone = 0, level = LOG_LEVEL_INFO, c;

	while ((c = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.conf = optarg;
			break;
		case 's':
			standalone = 1;
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
	if (!standalone) {
		fprintf(stderr,
			"colocd: this version runs only as --standalone (controller and node "
			"agent in one process); start it with --standalone\n");
		return 2;
	}
	if (access(o.executor, X_OK) != 0) {
		fprintf(stderr, "colocd: cannot run %s; install faas-executor or pass --executor\n",
			o.executor);
		return 2;
	}
	log_init("colocd", (enum log_level)level);
	if (!o.foreground && daemon(0, 0) != 0) {
		perror("colocd: daemon");
		return 1;
	}
	return daemon_run(&o);
}
