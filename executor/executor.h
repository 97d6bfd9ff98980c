/*
 * executor: a faas-executor process: the function library, one worker per
 * lent core, the lease document it publishes, and the stop signal.
 */
#ifndef COLOC_EXECUTOR_H
#define COLOC_EXECUTOR_H

#include "worker.h"

#include <sched.h>

struct executor_options {
	const char *lib_path;
	const char *functions; /* comma-separated, NULL = the library's manifest */
	cpu_set_t cpus;	       /* cores to serve on (one worker each) */
	unsigned workers;      /* 0 = one per cpu in cpus */
	const char *provider;
	const char *addr;
	enum transport_rung rung;
	uint32_t slot_size;
	uint32_t slots;
	uint32_t max_depth;
	uint64_t staging_max;	  /* large-payload staging of all workers; UINT64_MAX = from the
				   * cgroup's memory limit (what is left of it), else 4 GiB */
	unsigned sessions;	  /* per worker; 0 = slots */
	size_t session_max_state; /* 0 = 1 GiB */
	int swap_ms;		  /* the sessions' swap budget when stopping; 0 = 2000 */
	enum worker_mode mode;
	long hot_poll_us;
	const char *publish;   /* file for the lease document, "-" = stdout */
	const char *token_hex; /* NULL = random */
	const char *id;
	uint64_t remote_mem; /* --remote-mem: a memory lease's region (rmem.h); 0: serve --lib */
	int evict_grace_ms;  /* --evict-grace: a memory lease's clients' time to read back */
	bool report_calls;   /* --report-calls: after the document, the calls answered,
				on the --publish fd:N, every second (colocd's metrics) */
};

/* Fills defaults: every cpu the process may run on, 64 KiB slots, ... */
void executor_options_default(struct executor_options *o);

/* Parses a cpu list ("0-3,8,10-11", cpumask.h's format) into set; -EINVAL
 * on malformed input or an empty list. */
int executor_parse_cpus(const char *list, cpu_set_t *set);

/* Runs until SIGTERM/SIGINT: loads, publishes, serves, evicts clients.
 * Returns a process exit code (0 = stopped cleanly). */
int executor_run(const struct executor_options *o);

/* What the memory limit of this process's cgroup (v2 memory.max, v1
 * memory.limit_in_bytes) leaves after what the cgroup uses now and a
 * 16 MiB margin, in *left; false when there is no limit. */
bool executor_memory_left(uint64_t *left);

/* The lease token from hex (FAAS_TOKEN; 32 hex digits), else drawn at
 * random. 0, or a process exit code after logging why. */
int executor_token(const char *hex, uint8_t token[WIRE_TOKEN_LEN]);

/* Writes the lease document to where: a file (mode 0600), "-" (stdout) or
 * "fd:N" (colocd's channel; with keep, kept open as *keep). 0 or -errno. */
int executor_publish(const char *where, const char *json, int *keep);

#endif
