/*
 * sandbox: one executor's cgroup on this node. The node agent creates a
 * sandbox per executor (cpuset = the lent cores, a memory limit with swap
 * off, devices limited to the lent GPUs), spawns the executor into it with
 * fork+exec as the lease owner's uid/gid, reads back what the kernel
 * enforces, evicts it (SIGTERM, then SIGKILL after a grace period) and
 * removes the cgroup. Eviction comes in two forms: sandbox_evict waits
 * (startup and shutdown), while sandbox_terminate, sandbox_kill and
 * sandbox_nprocs let an event loop drive it without ever waiting. A restarted node agent finds its
 * predecessor's executors by their cgroups under the CgroupRoot (sandbox_cleanup_root).
 *
 * cgroup v1 (cpuset, memory and devices hierarchies) and v2 (the unified
 * hierarchy with the cpuset and memory controllers) are detected at run
 * time. On v2 the sandboxes live below the cgroup delegated to colocd
 * (systemd's Delegate=yes; the root without systemd), and device access is
 * restricted by an eBPF program per sandbox (devfence.h); on both,
 * CUDA_VISIBLE_DEVICES steers CUDA to the lent GPUs. The pids
 * controller (v1 hierarchy or v2 controller) limits the processes of a
 * sandbox where it is available; kills freeze the cgroup first (v1
 * freezer) or use cgroup.kill (v2), and each signal goes through a pidfd
 * after checking that the process is still in the cgroup, so a reused pid
 * is never signalled.
 *
 * Functions return 0 (or a count) on success and -errno on failure, with a
 * whole-sentence message in err. A struct sandbox is used by one thread at
 * a time; different sandboxes may be used from different threads.
 */
#ifndef COLOC_SANDBOX_H
#define COLOC_SANDBOX_H

#include "cpumask.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SANDBOX_MAX_DEVICES 16
#define SANDBOX_MAX_PROCS 64 /* processes spawned and not yet reported by sandbox_reap */

struct sandbox_spec {
	const char
	    *root; /* CgroupRoot, e.g. "coloc": a cgroup path relative to each hierarchy's root */
	const char *name;    /* e.g. "lease-42-w0": the sandbox is <root>/<name> (one component) */
	struct cpumask cpus; /* cpuset.cpus; must not be empty */
	unsigned mems_node;  /* cpuset.mems: the NUMA node the executor's memory comes from */
	uint64_t mem_limit;  /* bytes, > 0; swap is limited to 0 where the kernel accounts it */
	unsigned ndevices;
	const char *devices[SANDBOX_MAX_DEVICES]; /* character device files to allow (GPUs, e.g.
						     "/dev/nvidia3"); the index CUDA sees is
						     the file name's trailing number */
	uint32_t uid, gid;			  /* the lease owner; 0 (root) is refused */
	unsigned pids_max; /* pids.max: processes and threads; 0 = no limit */
};

struct sandbox;

/*
 * Creates the cgroup <root>/<name> in every hierarchy (and <root> where it
 * is missing) and sets its limits. Fails with -EEXIST when the cgroup
 * already exists (a leftover: see sandbox_cleanup_root), -EPERM for uid or
 * gid 0, -ENOTSUP when no usable cgroup hierarchy is mounted. The caller
 * owns *sb and frees it with sandbox_destroy.
 */
int sandbox_create(const struct sandbox_spec *s, struct sandbox **sb, char *err, size_t errlen);

/*
 * Spawns argv (argv[0] is a path; no PATH search) with envp into the
 * sandbox: the child is attached to the cgroup before it execs, starts a
 * new session, drops to the spec's gid/uid with no supplementary groups,
 * gets default signal dispositions and an empty signal mask, keeps only fds
 * 0-2, runs in "/", and has CUDA_VISIBLE_DEVICES=<indexes> added to envp
 * when the spec names devices (replacing any given). It does not die with
 * the node agent: a restarted agent finds it through the cgroup. Returns
 * once the exec has succeeded (*pid set) or failed (-errno, the child
 * reaped). The caller reaps the child with sandbox_reap or sandbox_evict.
 */
int sandbox_spawn(struct sandbox *sb, char *const argv[], char *const envp[], pid_t *pid, char *err,
		  size_t errlen);

/*
 * Starts a spare executor: `executor --spare`, as root, in a session of its
 * own, SCHED_IDLE (it runs on idle CPU time only; it returns to SCHED_OTHER
 * when assigned), outside any sandbox, with FAAS_PROVIDER=provider (the
 * provider it initialises ahead; NULL or "": any). Its fd 0 is a unix
 * stream socket, the channel to the node agent: *fd is the agent's end
 * (non-blocking, close-on-exec), on which the agent writes the assignment
 * and reads back the lease document. Its fds 1-2 are log_fd (the write end
 * of the pipe that becomes its lease's log), or /dev/null when log_fd is
 * -1: never colocd's own. It loads its libraries and waits for
 * sandbox_assign, or exits 0 when *fd is closed without one. The caller
 * reaps it (waitpid) until it is assigned.
 */
int sandbox_spare_start(const char *executor, const char *provider, int log_fd, pid_t *pid, int *fd,
			char *err, size_t errlen);

/*
 * Makes the spare executor pid (from sandbox_spare_start, fd its channel)
 * sb's executor: attaches it to the cgroup, then writes its assignment
 * (the spec's uid and gid, argv, envp with CUDA_VISIBLE_DEVICES as
 * sandbox_spawn sets it) and shuts the channel's sending side, so that it
 * runs as if sandbox_spawn had started argv. fd stays the caller's (the
 * executor answers on it). On success the spare is sb's child (see
 * sandbox_reap); on failure (-errno, err says why) the caller still owns
 * the process and kills and reaps it.
 */
int sandbox_assign(struct sandbox *sb, pid_t pid, int fd, char *const argv[], char *const envp[],
		   char *err, size_t errlen);

/*
 * Reports one spawned child that has exited, without blocking: returns 1
 * with *pid and *status (a wait status) set, 0 when none has exited since
 * the last call. Children reaped by sandbox_evict are reported here too.
 */
int sandbox_reap(struct sandbox *sb, pid_t *pid, int *status);

/* What the kernel enforces and reports for the sandbox. */
struct sandbox_state {
	struct cpumask cpus; /* cpuset.cpus */
	uint64_t mem_limit;  /* memory.limit_in_bytes (v1) / memory.max (v2); UINT64_MAX = none */
	uint64_t mem_usage;  /* bytes the cgroup uses now: memory.usage_in_bytes (v1) /
				memory.current (v2); page cache included */
	unsigned nprocs;     /* processes in the cgroup (cgroup.procs of the memory hierarchy) */
	bool oom_killed;     /* the kernel's OOM killer killed a process of this cgroup (v1:
				memory.oom_control oom_kill, Linux 4.13+, or under_oom; v2:
				memory.events oom_kill); stays true for the cgroup's life */
};

/*
 * Reads st from the kernel. Works as long as the cgroup exists, also after
 * every process in it has exited (nprocs 0, oom_killed still telling whether
 * the OOM killer ended one of them). -errno when a cgroup file cannot be
 * read or parsed (-ENOENT: the cgroup was removed behind our back).
 */
int sandbox_read(struct sandbox *sb, struct sandbox_state *st);

/* Moves the sandbox to other PUs (cpuset.cpus; the kernel re-pins its
 * processes): a memory lease's executor, which holds no PU, follows the
 * node's lendable PUs. cpus must not be empty. 0, or -errno with err. */
int sandbox_set_cpus(struct sandbox *sb, const struct cpumask *cpus, char *err, size_t errlen);

/* Sends SIGTERM to every process in the cgroup and returns: evicting
 * several sandboxes at once starts each one's grace period together. */
void sandbox_terminate(struct sandbox *sb);

/* One pass of SIGKILL over the cgroup's processes, frozen while they are
 * listed and killed (v1 freezer) or with cgroup.kill (v2), and a
 * non-blocking reap of sb's children. Returns how many processes it found:
 * 0 once the cgroup is empty. Call it again until it returns 0 (a process
 * being frozen may fork once more). */
unsigned sandbox_kill(struct sandbox *sb);

/* The processes in the cgroup (0: empty), after a non-blocking reap of
 * sb's children. */
unsigned sandbox_nprocs(struct sandbox *sb);

/*
 * Sends SIGTERM to every process in the cgroup, waits up to grace_ms for the
 * cgroup to empty, then sends SIGKILL (repeatedly, for up to 5 s) and
 * reaps the children it spawned. Returns 0 once the cgroup is empty, with
 * *killed telling whether SIGKILL was needed; -EBUSY when processes
 * survive SIGKILL (uninterruptible sleep).
 */
int sandbox_evict(struct sandbox *sb, unsigned grace_ms, bool *killed);

/*
 * Removes the cgroup and frees sb. Processes still in the cgroup are
 * killed first (callers should evict with a grace period before). NULL is a
 * no-op.
 */
void sandbox_destroy(struct sandbox *sb);

/*
 * Startup cleanup for a restarted node agent: evicts (grace_ms, then
 * SIGKILL) every process in every cgroup directly under <root> whose name
 * starts with prefix (NULL: every one; cgroups of other names are left
 * alone), removes those cgroups and then <root> itself where it is empty.
 * Returns how many sandbox cgroups were removed, or -errno.
 */
int sandbox_cleanup_root(const char *root, const char *prefix, unsigned grace_ms, char *err,
			 size_t errlen);

/* "v1", "v2", or "none" when no usable hierarchy is mounted. */
const char *sandbox_cgroup_version(void);

/* The directory below which CgroupRoot's cgroups go: v1, the memory
 * hierarchy's mount; v2, the cgroup delegated to colocd (its unit's, or the
 * root's where no systemd runs). "" when none is usable. */
const char *sandbox_cgroup_dir(void);

#endif
