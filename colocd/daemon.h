/*
 * daemon: colocd's event loop, in one of three roles:
 *   - node agent (the default; every compute node, root): the plugin's
 *     reports on SocketPath (root peers only), the controller's exec_start
 *     and exec_stop on NodeAgentPort (MUNGE, uid 0), its state sent to the
 *     controller when it changes and every second (agent.c);
 *   - controller (one host): lease requests, queries and drains from users
 *     and node agents' states on ControllerPort (MUNGE) (controller.c);
 *   - standalone: both in one process, this machine the only node, the two
 *     roles linked in memory instead of over TCP.
 * One thread runs the loop: epoll with a tick of a few ms; requests to
 * other colocd run in short-lived threads (async.c) whose completions come
 * back through the loop.
 */
#ifndef COLOC_DAEMON_H
#define COLOC_DAEMON_H

#include "coloc_config.h"

enum daemon_role { DAEMON_AGENT = 0, DAEMON_CONTROLLER, DAEMON_STANDALONE };

struct daemon_options {
	enum daemon_role role;
	const char *conf;     /* -f FILE, or NULL */
	const char *executor; /* faas-executor to run */
	const char *node;     /* -N NAME: this node's name, NULL = the host name */
	const char *log_file; /* --log-file: an absolute path, opened already; NULL: none */
	int foreground;	      /* else detach once set up (detach.h) */
};

/* Runs until SIGTERM/SIGINT; SIGHUP reloads coloc.conf and reopens the log
 * file. Without foreground, detaches once set up: the calling process
 * exits there, with 0 or (setup failed, said on standard error) 1, and the
 * daemon logs to the log file, else syslog. Returns an exit status: 0
 * after a clean stop, 1 when it could not start. */
int daemon_run(const struct daemon_options *o);

#endif
