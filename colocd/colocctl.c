/*
 * colocctl: asks the controller (colocd) about nodes, gaps, leases and
 * executors, acquires and releases leases, and drains and resumes nodes.
 * main() parses the global options, loads coloc.conf and hands the command
 * to ctl_cli.c.
 */
#include "config.h"

#include "cli.h"
#include "ctl_cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'f'},  {"json", no_argument, NULL, 'J'},
	    {"timeout", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
	};
	struct ctl_cli c = {.timeout_ms = CTL_CLI_DEFAULT_TIMEOUT_S * 1000};
	const char *conf = NULL, *cmd;
	enum msg_query what;
	char err[1024];
	int opt;

	/* "+": stop at the command; its own options follow it. */
	while ((opt = getopt_long(argc, argv, "+f:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			conf = optarg;
			break;
		case 'J':
			c.json = true;
			break;
		case 'T':
			c.timeout_ms = (int)cli_number("colocctl", "--timeout", optarg, 1,
						       CTL_CLI_MAX_TIMEOUT_S) *
				       1000;
			break;
		case 'h':
			ctl_cli_usage(stdout);
			return 0;
		case 'V':
			printf("colocctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		default:
			ctl_cli_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "colocctl: a command is needed: nodes, gaps, leases, executors, "
				"lease acquire, lease release, drain, resume, logs or usage\n");
		ctl_cli_usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	what = ctl_cli_query_parse(cmd);
	if (!what && strcmp(cmd, "lease") != 0 && strcmp(cmd, "drain") != 0 &&
	    strcmp(cmd, "resume") != 0 && strcmp(cmd, "logs") != 0 && strcmp(cmd, "usage") != 0) {
		fprintf(stderr,
			"colocctl: unknown command %s; expected nodes, gaps, leases, "
			"executors, lease acquire, lease release, drain, resume, logs or usage\n",
			cmd);
		return 2;
	}
	if (config_load(conf, &c.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "colocctl: %s\n", err);
		return 1;
	}
	if (what)
		return ctl_cli_query(&c, what, argc - optind, argv + optind);
	if (strcmp(cmd, "usage") == 0)
		return ctl_cli_usage_report(&c, argc - optind, argv + optind);
	if (strcmp(cmd, "logs") == 0)
		return ctl_cli_logs(&c, argc - optind, argv + optind);
	if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "resume") == 0)
		return ctl_cli_drain(&c, strcmp(cmd, "drain") == 0, argc - optind, argv + optind);
	return ctl_cli_lease(&c, argc - optind, argv + optind);
}
