/*
 * assignment: how a spare executor (faas-executor --spare, started by
 * colocd as root ahead of any lease) becomes a lease's executor. It loads
 * its libraries and initialises libfabric as nobody, then waits on fd 0
 * (a unix socket from colocd's node agent) for the assignment (spare.h:
 * the owner's uid and gid, arguments, environment), takes the owner's
 * identity and resource limits, and carries on as if it had been started
 * with those arguments. The privileged part of faas-executor lives here.
 */
#ifndef COLOC_ASSIGNMENT_H
#define COLOC_ASSIGNMENT_H

/* Waits for the assignment and takes its identity; returns its argv
 * (static storage) and sets *argc. Exits 0 when colocd closes the channel
 * without an assignment, and non-zero with a message on stderr when the
 * assignment is malformed or the identity cannot be taken. */
char **assignment_await(int *argc);

#endif
