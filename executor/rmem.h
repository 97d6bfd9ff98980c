/*
 * rmem: faas-executor --remote-mem, the executor of a memory lease: one
 * registered region that clients read and write one-sided (see rmem.c).
 */
#ifndef COLOC_RMEM_H
#define COLOC_RMEM_H

#include "executor.h"

/* Maps and registers o->remote_mem bytes, publishes the lease document,
 * answers clients that present the token until SIGTERM/SIGINT, then
 * evicts them with notice (o->evict_grace_ms). A process exit code. */
int rmem_run(const struct executor_options *o);

#endif
