/*
 * daemon: colocd in its standalone form, both roles in one process with
 * this machine's resources as the only node: it accepts lease requests
 * (TCP, MUNGE) and plugin reports (unix socket, root peers only), places
 * leases into the node's gap, runs each lease's faas-executor in its own
 * cgroup as the lease owner, and evicts executors when a host job or step
 * needs their PUs back, when a lease expires or is released, and at exit.
 */
#ifndef COLOC_DAEMON_H
#define COLOC_DAEMON_H

#include "coloc_config.h"

struct daemon_options {
	const char *conf;     /* -f FILE, or NULL */
	const char *executor; /* faas-executor to run */
	int foreground;
};

/* Runs until SIGTERM/SIGINT; SIGHUP reloads coloc.conf. Returns an exit
 * status: 0 after a clean stop, 1 when it could not start. */
int daemon_run(const struct daemon_options *o);

#endif
