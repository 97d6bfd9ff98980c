/*
 * ctl_cli: colocctl's commands (main() in colocctl.c parses the global
 * options and calls one of these). Each returns the program's exit status:
 * 0 done, 1 the controller refused or could not be reached, 2 a usage
 * error; messages go to stderr, results to stdout.
 */
#ifndef COLOC_CTL_CLI_H
#define COLOC_CTL_CLI_H

#include "coloc_config.h"
#include "ctl_client.h"
#include "msg.h"

#include <stdbool.h>
#include <stdio.h>

#define CTL_CLI_DEFAULT_TIMEOUT_S 30
#define CTL_CLI_MAX_TIMEOUT_S (CTL_TIMEOUT_MAX_MS / 1000) /* --timeout SEC */

struct ctl_cli {
	struct coloc_config cfg; /* loaded by main */
	bool json;		 /* --json: machine-readable output on one line */
	int timeout_ms;		 /* --timeout, for the whole exchange */
};

/* Prints colocctl's usage to f. */
void ctl_cli_usage(FILE *f);

/* Parses a command's own options (--json and --timeout are accepted after
 * the command too) and runs it. argv[0] is the command's name. */
int ctl_cli_lease(struct ctl_cli *c, int argc, char **argv);
int ctl_cli_query(struct ctl_cli *c, enum msg_query what, int argc, char **argv);

/* drain NODE (drain true: no new leases on NODE, leases there run until
 * they end) or resume NODE (drain false). The NODE is checked here (1 to
 * MSG_NODE_MAX - 1 letters, digits, '-', '_' and '.', the first a letter or
 * a digit) before anything is sent; prints "node NODE drained"/"resumed"
 * (nothing with --json) once the controller answers ok. */
int ctl_cli_drain(struct ctl_cli *c, bool drain, int argc, char **argv);

/* `logs LEASE [--node NODE]`: prints what the lease's executor wrote, from
 * the log the node agent keeps on this node (StateDir/logs), read with the
 * caller's own rights: the lease owner's alone. */
int ctl_cli_logs(struct ctl_cli *c, int argc, char **argv);

/* `usage [--by user|host-job|node|lease] [--user U] [--host-job J]
 * [--since T] [--records]`: the controller's summary of the usage records
 * of ended leases the caller may see (usage.h), as a table with a title
 * line, or a JSON array with --json. */
int ctl_cli_usage_report(struct ctl_cli *c, int argc, char **argv);

/* Looks up a query command (nodes, gaps, leases, executors); 0 if none. */
enum msg_query ctl_cli_query_parse(const char *name);

#endif
