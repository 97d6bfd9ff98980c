/*
 * fake_sandbox: colocd/sandbox.h for unit tests of the node agent and its
 * spare pool, with no cgroup and no executor. A test scripts what the
 * kernel and the executor would do and reads back what the agent did.
 *
 * Executors: sandbox_spare_start forks a real child (so that the pool's
 * waitpid and kill reach a process of ours and nothing else) that exits
 * once its channel closes, as a spare does; the channel is a real unix
 * socket pair, the agent's end non-blocking as sandbox_spare_start gives
 * it, the other end kept here for the test to write a lease document on;
 * the output is the pipe the pool hands in. sandbox_assign records argv and
 * envp (the lease's --id and FAAS_TOKEN) and makes the child the sandbox's
 * executor; sandbox_destroy kills and reaps it.
 *
 * Processes: a sandbox holds nprocs processes (1 once assigned). By
 * default SIGTERM ends them; ignore_term keeps them until SIGKILL,
 * ignore_kill past it (uninterruptible sleep). fake_sandbox_exit makes the
 * executor exit with a wait status that sandbox_reap then reports once.
 *
 * State is this file's own, for one test at a time; fake_sandbox_reset
 * ends every child, closes every descriptor and forgets everything.
 * Sandboxes stay readable after sandbox_destroy until the reset.
 */
#ifndef COLOC_TEST_FAKE_SANDBOX_H
#define COLOC_TEST_FAKE_SANDBOX_H

#include "sandbox.h"
#include "spare.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct sandbox {
	/* from sandbox_create */
	char name[64];
	struct cpumask cpus;
	uint64_t mem_limit;
	uint32_t uid, gid;
	/* its executor, from sandbox_assign */
	pid_t pid;  /* 0: none assigned */
	int chan;   /* the executor's end of its channel: the test writes there */
	int output; /* the write end of its output pipe */
	char *argv[SPARE_ARGS_MAX + 1];
	char *envp[SPARE_ARGS_MAX + 1];
	/* the script */
	unsigned nprocs;	    /* processes in it */
	bool ignore_term;	    /* they survive SIGTERM */
	bool ignore_kill;	    /* they survive SIGKILL too */
	bool exited;		    /* sandbox_reap reports status once */
	int status;		    /* a wait status */
	struct sandbox_state state; /* what sandbox_read gives (nprocs and cpus filled in) */
	/* what the agent did */
	unsigned terminated; /* sandbox_terminate calls */
	unsigned kills;	     /* sandbox_kill passes */
	unsigned cpus_moved; /* sandbox_set_cpus calls */
	int64_t killed_ms;   /* clock_ms() of the first */
	bool reaped;	     /* its executor was reaped (sandbox_reap or sandbox_destroy) */
	bool destroyed;	     /* sandbox_destroy: the agent forgot the lease */
};

/* Ends every child, closes every descriptor, frees every sandbox. */
void fake_sandbox_reset(void);

/* The newest sandbox named name (destroyed ones too), or NULL. */
struct sandbox *fake_sandbox_find(const char *name);

/* Its executor exits with a wait status (e.g. 7 << 8, or SIGKILL): its
 * processes are gone and sandbox_reap reports it. */
void fake_sandbox_exit(struct sandbox *sb, int status);

/* Every process of every sandbox exits at once (before an agent stops). */
void fake_sandbox_release_all(void);

/* The value after the argument opt (e.g. "--id") in the executor's argv,
 * and the value of name (e.g. "FAAS_TOKEN") in its environment; NULL where
 * absent. */
const char *fake_sandbox_arg(const struct sandbox *sb, const char *opt);
const char *fake_sandbox_env(const struct sandbox *sb, const char *name);

/* Spare executors started (sandbox_spare_start) since the reset. */
unsigned fake_sandbox_spares_started(void);

/* The next sandbox_assign fails with rc (a -errno). */
void fake_sandbox_fail_assign(int rc);

#endif
