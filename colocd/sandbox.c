/*
 * sandbox: executors' cgroups. The one module that includes libcgroup.h.
 *
 * State: a module-private description of the mounted hierarchies, found
 * once (pthread_once) and read-only afterwards: the version (v1 or v2) and,
 * per controller (cpuset, memory, devices), the directory of its hierarchy;
 * on v2 all three are the unified mount. A struct sandbox holds its cgroup
 * path "<root>/<name>", the spec's limits, the CUDA_VISIBLE_DEVICES value,
 * the libcgroup handle (v1) and the children it spawned. No locking: a
 * sandbox is used by one thread at a time.
 *
 * What libcgroup does and does not do here: cgroup_init and
 * cgroup_get_subsys_mount_point find the v1 hierarchies, and
 * cgroup_attach_task_pid and cgroup_delete_cgroup_ext attach a child and
 * remove the cgroup on v1. Creation and limits are written to cgroupfs
 * directly: libcgroup 2.0.2's cgroup_create_cgroup fails (EACCES) when
 * <root> is new, because it does not give a new v1 cpuset parent its
 * cpuset.cpus/mems, and a control value can be set only once, while v1
 * devices.allow takes one rule per write. On v2 everything is written to
 * cgroupfs directly (one code path for every libcgroup version).
 */
#include "config.h"

#include "sandbox.h"
#include "clock.h"
#include "devfence.h"

#include "log.h"
#include "spare.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libcgroup.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define KILL_TIMEOUT_MS 5000 /* processes dying after SIGKILL */
#define EXEC_TIMEOUT_MS 5000 /* a child reporting its exec */
#define POLL_MS 1

/* cpuset and memory are required; devices, pids and freezer are used where
 * mounted (v1; on v2 pids is a controller of the unified hierarchy and
 * cgroup.kill replaces the freezer). */
enum { H_CPUSET, H_MEMORY, H_DEVICES, H_PIDS, H_FREEZER, H_MAX };
static const char *const h_names[H_MAX] = {"cpuset", "memory", "devices", "pids", "freezer"};

static struct {
	pthread_once_t once;
	int version;		   /* 0: none usable, 1, 2 */
	char mnt[H_MAX][PATH_MAX]; /* "" where the controller is not mounted */
	char base[PATH_MAX];	   /* v2: the delegated cgroup ("" the root), as
				      /proc/PID/cgroup names it without its "/" */
	char why[512];		   /* why version is 0 */
} hier = {.once = PTHREAD_ONCE_INIT};

struct child {
	pid_t pid;
	int status;
	bool exited;
};

struct sandbox {
	char rel[PATH_MAX / 2]; /* "<root>/<name>" */
	struct cpumask cpus;
	unsigned mems_node;
	uint64_t mem_limit;
	uint32_t uid, gid;
	char cuda[128];	   /* "CUDA_VISIBLE_DEVICES=..." or "" */
	struct cgroup *cg; /* v1: libcgroup's handle */
	struct child children[SANDBOX_MAX_PROCS];
	unsigned nchildren;
};

/* ---- cgroupfs files ----------------------------------------------------- */

static int write_file(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0 || (size_t)n != len) {
		int e = n < 0 ? errno : EIO;

		close(fd);
		return -e;
	}
	return close(fd) == 0 ? 0 : -errno;
}

/* Reads a small file into buf (NUL-terminated, trailing newline dropped). */
static int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* <mnt>/<rel>/<file> (rel and file may be empty). */
static int cg_path(char *out, size_t len, int h, const char *rel, const char *file)
{
	int n = snprintf(out, len, "%s%s%s%s%s", hier.mnt[h], rel && *rel ? "/" : "",
			 rel ? rel : "", file && *file ? "/" : "", file ? file : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int cg_write(int h, const char *rel, const char *file, const char *val)
{
	char path[PATH_MAX];
	int rc = cg_path(path, sizeof(path), h, rel, file);

	return rc ? rc : write_file(path, val);
}

static int cg_read(int h, const char *rel, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	int rc = cg_path(path, sizeof(path), h, rel, file);

	return rc ? rc : read_file(path, buf, len);
}

/* The distinct hierarchies in use, as indexes into hier.mnt (v2: one). */
static unsigned hier_list(int out[H_MAX])
{
	unsigned n = 0;

	for (int h = 0; h < H_MAX; h++) {
		bool dup = false;

		if (!hier.mnt[h][0])
			continue;
		for (unsigned i = 0; i < n; i++)
			dup = dup || strcmp(hier.mnt[out[i]], hier.mnt[h]) == 0;
		if (!dup)
			out[n++] = h;
	}
	return n;
}

/* ---- finding the hierarchies --------------------------------------------- */

static long fs_magic(const char *dir)
{
	struct statfs sf;

	return statfs(dir, &sf) == 0 ? (long)sf.f_type : -1;
}

/* The first cgroup2 mount in /proc/mounts, or -ENOENT. */
static int find_cgroup2(char *out, size_t len)
{
	char line[1024], dev[256], dir[PATH_MAX], type[64];
	int rc = -ENOENT;
	FILE *f = fopen("/proc/mounts", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) == 3 &&
		    strcmp(type, "cgroup2") == 0 && strlen(dir) < len) {
			strcpy(out, dir);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* Whether word is one of list's words, separated by sep. */
static bool word_in_sep(const char *list, const char *word, char sep)
{
	size_t wl = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += wl)
		if ((p == list || p[-1] == sep) && (p[wl] == '\0' || p[wl] == sep || p[wl] == '\n'))
			return true;
	return false;
}

static bool word_in(const char *list, const char *word)
{
	return word_in_sep(list, word, ' ');
}

/* Whether the v2 cgroup at dir is delegated: systemd marks a unit's
 * cgroup with Delegate=yes by the xattr trusted.delegate (and, since 253,
 * user.delegate). */
static bool delegated(const char *dir)
{
	char v[8];

	return getxattr(dir, "trusted.delegate", v, sizeof(v)) > 0 ||
	       getxattr(dir, "user.delegate", v, sizeof(v)) > 0;
}

/*
 * v2: where executors' cgroups may go (systemd's single-writer rule: only
 * below a cgroup delegated to us). colocd's own cgroup, from
 * /proc/self/cgroup, is the root (no systemd: a plain host or a container's
 * cgroup namespace), or a delegated cgroup (colocd.service's Delegate=yes),
 * or below one (a test inside such a unit): hier.base is then that
 * delegated cgroup. In the first two cases, where colocd sits in the
 * delegated cgroup itself, it moves into the leaf "daemon" below it, as a
 * cgroup that enables controllers for its children may hold no processes.
 * Refuses to work below slurmstepd.scope (Slurm's jobs) or in a cgroup
 * nobody delegated.
 */
static int v2_delegated(const char *mnt)
{
	char self[PATH_MAX], dir[2 * PATH_MAX + 16], *slash;
	size_t ml = strlen(mnt);
	FILE *f = fopen("/proc/self/cgroup", "re");
	bool found = false;

	self[0] = '\0';
	while (f && fgets(dir, sizeof(dir), f))
		if (strncmp(dir, "0::/", 4) == 0) {
			dir[strcspn(dir, "\n")] = '\0';
			snprintf(self, sizeof(self), "%.*s", (int)sizeof(self) - 1, dir + 4);
		}
	if (f)
		fclose(f);
	if (strstr(self, "slurmstepd.scope")) {
		snprintf(hier.why, sizeof(hier.why),
			 "colocd runs in Slurm's cgroup /%s: start it from its own systemd unit "
			 "(colocd.service, Delegate=yes), never from a job or slurmd",
			 self);
		return -EPERM;
	}
	hier.base[0] = '\0';
	/* from colocd's cgroup up: the nearest delegated one */
	snprintf(hier.base, sizeof(hier.base), "%s", self);
	while (hier.base[0]) {
		snprintf(dir, sizeof(dir), "%s/%s", mnt, hier.base);
		if (delegated(dir)) {
			found = true;
			break;
		}
		slash = strrchr(hier.base, '/');
		if (slash)
			*slash = '\0';
		else
			hier.base[0] = '\0';
	}
	if (self[0] && !found) {
		snprintf(hier.why, sizeof(hier.why),
			 "colocd runs in the cgroup /%s, which was not delegated to it, so it may "
			 "not create cgroups there (systemd's single-writer rule): start it from "
			 "colocd.service with Delegate=yes",
			 self);
		return -EPERM;
	}
	if (strcmp(self, hier.base) == 0) {
		char pid[24];
		int rc;

		snprintf(dir, sizeof(dir), "%.*s%s%s/daemon", (int)ml, mnt, self[0] ? "/" : "",
			 self);
		if (self[0]) { /* the root cgroup may hold processes */
			if (mkdir(dir, 0755) != 0 && errno != EEXIST)
				rc = -errno;
			else {
				snprintf(pid, sizeof(pid), "%d", (int)getpid());
				strcat(dir, "/cgroup.procs");
				rc = write_file(dir, pid);
			}
			if (rc) {
				snprintf(hier.why, sizeof(hier.why),
					 "colocd cannot move itself into the leaf cgroup %s: %s",
					 dir, strerror(-rc));
				return rc;
			}
		}
	}
	return 0;
}

/*
 * v1 when libcgroup finds cpuset and memory on v1 (cgroup) mounts; else v2
 * when the unified mount offers cpuset and memory; else none.
 */
static void hier_init(void)
{
	char v2[PATH_MAX], ctl[512];
	int rc = cgroup_init();

	if (rc == 0) {
		for (int h = 0; h < H_MAX; h++) {
			char *mnt = NULL;

			if (cgroup_get_subsys_mount_point(h_names[h], &mnt) == 0 && mnt &&
			    fs_magic(mnt) == CGROUP_SUPER_MAGIC && strlen(mnt) < PATH_MAX)
				strcpy(hier.mnt[h], mnt);
			free(mnt);
		}
		if (hier.mnt[H_CPUSET][0] && hier.mnt[H_MEMORY][0]) {
			hier.version = 1;
			if (!hier.mnt[H_DEVICES][0])
				log_warning(
				    "sandbox: no cgroup v1 devices hierarchy is mounted, so "
				    "executors' device access is not restricted; mount it to "
				    "isolate GPUs.");
			if (!hier.mnt[H_PIDS][0])
				log_warning("sandbox: no cgroup v1 pids hierarchy is mounted, so "
					    "a lease's processes are not limited (LeasePidsMax); "
					    "mount it to stop fork bombs.");
			if (!hier.mnt[H_FREEZER][0])
				log_warning("sandbox: no cgroup v1 freezer hierarchy is mounted, "
					    "so eviction kills without freezing first and a fork "
					    "bomb takes longer to end; mount it.");
			log_debug("sandbox: cgroup v1 (cpuset at %s, memory at %s, devices %s).",
				  hier.mnt[H_CPUSET], hier.mnt[H_MEMORY],
				  hier.mnt[H_DEVICES][0] ? hier.mnt[H_DEVICES] : "not mounted");
			return;
		}
	}
	memset(hier.mnt, 0, sizeof(hier.mnt));
	if (find_cgroup2(v2, sizeof(v2)) == 0 && fs_magic(v2) == CGROUP2_SUPER_MAGIC) {
		char path[2 * PATH_MAX + 32];

		if (v2_delegated(v2) != 0)
			return; /* hier.why says why */
		snprintf(path, sizeof(path), "%s%s%s/cgroup.controllers", v2,
			 hier.base[0] ? "/" : "", hier.base);
		if (read_file(path, ctl, sizeof(ctl)) == 0 && word_in(ctl, "cpuset") &&
		    word_in(ctl, "memory")) {
			hier.version = 2;
			snprintf(hier.mnt[H_CPUSET], PATH_MAX, "%.*s", (int)strlen(path) - 19,
				 path);
			strcpy(hier.mnt[H_MEMORY], hier.mnt[H_CPUSET]);
			if (word_in(ctl, "pids"))
				strcpy(hier.mnt[H_PIDS], hier.mnt[H_CPUSET]);
			/* H_DEVICES stays empty: devfence's eBPF programs fence devices. */
			log_debug(
			    "sandbox: cgroup v2 (unified hierarchy at %s): executors' cgroups "
			    "go below /%s; controllers there: %s.",
			    v2, hier.base, ctl);
			return;
		}
		snprintf(hier.why, sizeof(hier.why),
			 "the cgroup v2 cgroup %.250s does not offer the cpuset and memory "
			 "controllers (only \"%.120s\"); enable them for it (systemd: Delegate=yes "
			 "in colocd's unit)",
			 path, ctl);
		return;
	}
	snprintf(hier.why, sizeof(hier.why),
		 "no cgroup v1 cpuset and memory hierarchies and no cgroup v2 hierarchy with the "
		 "cpuset and memory controllers are mounted (libcgroup: %s)",
		 rc ? cgroup_strerror(rc) : "ok");
}

static int hier_get(char *err, size_t errlen)
{
	pthread_once(&hier.once, hier_init);
	if (hier.version == 0) {
		log_errbuf(err, errlen, "Cannot create sandboxes: %s.", hier.why);
		return -ENOTSUP;
	}
	return 0;
}

const char *sandbox_cgroup_version(void)
{
	pthread_once(&hier.once, hier_init);
	return hier.version == 1 ? "v1" : hier.version == 2 ? "v2" : "none";
}

const char *sandbox_cgroup_dir(void)
{
	pthread_once(&hier.once, hier_init);
	return hier.mnt[H_MEMORY];
}

/* ---- processes in a cgroup ------------------------------------------------ */

/* Whether /proc/<pid>/cgroup puts pid in the cgroup rel of the memory
 * hierarchy (v1: the line naming "memory"; v2: the "0::" line). */
static bool pid_in(pid_t pid, const char *rel)
{
	char path[64], line[PATH_MAX + 64];
	bool in = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!in && fgets(line, sizeof(line), f)) {
		char *ctl = strchr(line, ':'), *cg = ctl ? strchr(ctl + 1, ':') : NULL;

		if (!cg)
			continue;
		*cg++ = '\0';
		cg[strcspn(cg, "\n")] = '\0';
		if (hier.version == 1 && word_in_sep(ctl + 1, "memory", ','))
			in = cg[0] == '/' && strcmp(cg + 1, rel) == 0;
		else if (hier.version == 2 && ctl[1] == '\0' && cg[0] == '/') {
			size_t bl = strlen(hier.base);

			cg++; /* v2: below the delegated cgroup */
			in = bl == 0 ? strcmp(cg, rel) == 0
				     : strncmp(cg, hier.base, bl) == 0 && cg[bl] == '/' &&
					   strcmp(cg + bl + 1, rel) == 0;
		}
	}
	fclose(f);
	return in;
}

/*
 * Sends sig to pid only if it is still a process of the cgroup rel: the
 * pidfd pins the process, /proc then shows its cgroup, and a process that
 * is still alive afterwards is the one /proc described. A pid read from
 * cgroup.procs that exited and was reused by an unrelated process in
 * between is left alone.
 */
static void signal_member(pid_t pid, const char *rel, int sig)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		return;
	if (pid_in(pid, rel) && syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) == 0)
		syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
	close(fd);
}

/*
 * Counts the processes in <rel> and sends them sig (0: none). The memory
 * hierarchy's list serves for all: a sandbox's processes are attached to
 * every hierarchy and their children inherit that.
 */
static unsigned procs_signal(const char *rel, int sig)
{
	char path[PATH_MAX], line[32];
	unsigned n = 0;
	FILE *f;

	if (cg_path(path, sizeof(path), H_MEMORY, rel, "cgroup.procs"))
		return 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		long pid = strtol(line, NULL, 10);

		if (pid <= 0)
			continue;
		n++;
		if (sig)
			signal_member((pid_t)pid, rel, sig);
	}
	fclose(f);
	return n;
}

/*
 * One pass of SIGKILL over <rel> in which no process can fork or exit
 * between being listed and being killed: v2 has cgroup.kill; v1 freezes
 * the cgroup first (a frozen fork bomb does not grow) and thaws it after,
 * when the killed processes die. Returns the processes it found; the
 * caller repeats until none is left (processes still being frozen may fork
 * once more).
 */
static unsigned kill_pass(const char *rel)
{
	bool frozen = false;
	unsigned n;

	if (hier.version == 2 && cg_write(H_MEMORY, rel, "cgroup.kill", "1") == 0)
		return procs_signal(rel, 0);
	if (hier.version == 1 && hier.mnt[H_FREEZER][0])
		frozen = cg_write(H_FREEZER, rel, "freezer.state", "FROZEN") == 0;
	n = procs_signal(rel, SIGKILL);
	if (frozen)
		cg_write(H_FREEZER, rel, "freezer.state", "THAWED");
	return n;
}

/* Reaps exited children of sb without blocking; true when none is left running. */
static bool children_reap(struct sandbox *sb)
{
	bool all = true;

	for (unsigned i = 0; sb && i < sb->nchildren; i++) {
		struct child *c = &sb->children[i];
		int st;
		pid_t r;

		if (c->exited)
			continue;
		r = waitpid(c->pid, &st, WNOHANG);
		if (r == c->pid || (r < 0 && errno == ECHILD)) {
			c->exited = true;
			c->status = r == c->pid ? st : 0;
		} else {
			all = false;
		}
	}
	return all;
}

/*
 * Evicts the processes of several cgroups at once: SIGTERM to all, up to
 * grace_ms for them to leave, then SIGKILL (v2: cgroup.kill too) until the
 * cgroups are empty or KILL_TIMEOUT_MS has passed. sb (or NULL) names whose
 * children to reap.
 */
static int evict_rels(char *const rels[], unsigned n, unsigned grace_ms, struct sandbox *sb,
		      bool *killed)
{
	double t0 = clock_ms(), deadline;
	unsigned left = 0;

	*killed = false;
	for (unsigned i = 0; i < n; i++)
		left += procs_signal(rels[i], SIGTERM);
	while (left > 0 && clock_ms() - t0 < grace_ms) {
		clock_sleep_ms(POLL_MS);
		children_reap(sb);
		left = 0;
		for (unsigned i = 0; i < n; i++)
			left += procs_signal(rels[i], 0);
	}
	deadline = clock_ms() + KILL_TIMEOUT_MS;
	while (left > 0) {
		*killed = true;
		left = 0;
		for (unsigned i = 0; i < n; i++)
			left += kill_pass(rels[i]);
		if (left == 0)
			break;
		if (clock_ms() > deadline)
			return -EBUSY;
		clock_sleep_ms(POLL_MS);
		children_reap(sb);
	}
	/* A child leaves cgroup.procs just before it becomes a zombie. */
	deadline = clock_ms() + 1000;
	while (!children_reap(sb) && clock_ms() < deadline)
		clock_sleep_ms(1);
	return 0;
}

void sandbox_terminate(struct sandbox *sb)
{
	procs_signal(sb->rel, SIGTERM);
}

unsigned sandbox_kill(struct sandbox *sb)
{
	unsigned n = kill_pass(sb->rel);

	children_reap(sb);
	return n;
}

unsigned sandbox_nprocs(struct sandbox *sb)
{
	children_reap(sb);
	return procs_signal(sb->rel, 0);
}

int sandbox_evict(struct sandbox *sb, unsigned grace_ms, bool *killed)
{
	char *rels[1] = {sb->rel};
	bool k = false;
	int rc = evict_rels(rels, 1, grace_ms, sb, &k);

	if (killed)
		*killed = k;
	return rc;
}

/* ---- create / destroy ---------------------------------------------------- */

#define DEPOPULATE_MS 500 /* v2: killed processes finishing their exit */

/*
 * Removes <rel> from every hierarchy. On v2 a cgroup whose processes have
 * all left cgroup.procs may still be populated for a moment by ones whose
 * exit the kernel has not finished (a large address space to tear down,
 * slow cores), and rmdir then fails with EBUSY: it waits for
 * cgroup.events to say "populated 0", at most DEPOPULATE_MS.
 */
static int rmdir_all(const char *rel)
{
	int hs[H_MAX], rc = 0;
	unsigned nh = hier_list(hs);

	for (unsigned i = 0; i < nh; i++) {
		char path[PATH_MAX], events[256];
		double deadline = clock_ms() + DEPOPULATE_MS;
		int r;

		if (cg_path(path, sizeof(path), hs[i], rel, NULL) != 0)
			continue;
		while ((r = rmdir(path) == 0 ? 0 : -errno) == -EBUSY && hier.version == 2 &&
		       clock_ms() < deadline &&
		       cg_read(hs[i], rel, "cgroup.events", events, sizeof(events)) == 0 &&
		       !strstr(events, "populated 0"))
			clock_sleep_ms(1);
		if (r == -EBUSY && hier.version == 2)
			r = rmdir(path) == 0 ? 0 : -errno; /* populated 0 came */
		if (r && r != -ENOENT && rc == 0)
			rc = r;
	}
	return rc;
}

/* v2: the controllers sandboxes use, enabled for rel's children. */
static void subtree_enable(const char *rel)
{
	cg_write(H_MEMORY, rel, "cgroup.subtree_control", "+cpuset");
	cg_write(H_MEMORY, rel, "cgroup.subtree_control", "+memory");
	if (hier.mnt[H_PIDS][0])
		cg_write(H_MEMORY, rel, "cgroup.subtree_control", "+pids");
}

/*
 * Creates <root> (each component) in every hierarchy. A new v1 cpuset
 * cgroup starts with empty cpus and mems, so each level gets its parent's;
 * on v2 each level enables cpuset and memory for its children.
 */
static int root_ensure(const char *root, char *err, size_t errlen)
{
	int hs[H_MAX], rc;
	unsigned nh = hier_list(hs);
	char rel[PATH_MAX / 2], parent[PATH_MAX / 2], buf[4096];

	for (unsigned i = 0; i < nh; i++) {
		int h = hs[i];
		const char *p = root;

		parent[0] = '\0';
		if (hier.version == 2) /* errors show when the sandbox's files are written */
			subtree_enable("");
		while (*p) {
			const char *slash = strchr(p, '/');
			size_t end = slash ? (size_t)(slash - root) : strlen(root);
			char path[PATH_MAX];

			snprintf(rel, sizeof(rel), "%.*s", (int)end, root);
			if (cg_path(path, sizeof(path), h, rel, NULL))
				return -ENAMETOOLONG;
			if (mkdir(path, 0755) != 0 && errno != EEXIST) {
				rc = -errno;
				log_errbuf(err, errlen, "Cannot create the cgroup %s: %s.", path,
					   strerror(-rc));
				return rc;
			}
			if (hier.version == 1 && h == H_CPUSET) {
				const char *files[2] = {"cpuset.cpus", "cpuset.mems"};

				for (int f = 0; f < 2; f++) {
					if (cg_read(h, rel, files[f], buf, sizeof(buf)) == 0 &&
					    buf[0])
						continue;
					rc = cg_read(h, parent, files[f], buf, sizeof(buf));
					if (rc == 0)
						rc = cg_write(h, rel, files[f], buf);
					if (rc) {
						log_errbuf(
						    err, errlen,
						    "Cannot give the cgroup %s its parent's %s: %s.",
						    path, files[f], strerror(-rc));
						return rc;
					}
				}
			}
			if (hier.version == 2)
				subtree_enable(rel);
			snprintf(parent, sizeof(parent), "%s", rel);
			p = slash ? slash + 1 : p + strlen(p);
		}
	}
	return 0;
}

static bool name_ok(const char *s, bool slashes)
{
	if (!s || !*s || *s == '/' || s[strlen(s) - 1] == '/')
		return false;
	if (strstr(s, "..") || strstr(s, "//") || strchr(s, '\n') || strchr(s, ' '))
		return false;
	return slashes || !strchr(s, '/');
}

/* The default device allow-list: what an ordinary program opens. */
#define RWM (DEVFENCE_READ | DEVFENCE_WRITE | DEVFENCE_MKNOD)
static const struct devfence_rule default_devices[] = {
    {'c', 1, 3, RWM},	 /* /dev/null */
    {'c', 1, 5, RWM},	 /* /dev/zero */
    {'c', 1, 7, RWM},	 /* /dev/full */
    {'c', 1, 8, RWM},	 /* /dev/random */
    {'c', 1, 9, RWM},	 /* /dev/urandom */
    {'c', 5, 0, RWM},	 /* /dev/tty */
    {'c', 5, 2, RWM},	 /* /dev/ptmx */
    {'c', 136, -1, RWM}, /* /dev/pts/N */
};
#define NDEFAULT_DEVICES (sizeof(default_devices) / sizeof(default_devices[0]))

/* NVIDIA's shared control devices, allowed alongside any lent GPU when present. */
static const char *const nvidia_control[] = {"/dev/nvidiactl", "/dev/nvidia-uvm",
					     "/dev/nvidia-uvm-tools"};

/* A rule as v1's devices.allow takes it: "c 1:3 rwm", "c 136:* rwm". */
static void rule_format(const struct devfence_rule *r, char *out, size_t len)
{
	char minor[16];

	if (r->minor < 0)
		snprintf(minor, sizeof(minor), "*");
	else
		snprintf(minor, sizeof(minor), "%d", r->minor);
	snprintf(out, len, "%c %u:%s %s%s%s", r->type, r->major, minor,
		 r->access & DEVFENCE_READ ? "r" : "", r->access & DEVFENCE_WRITE ? "w" : "",
		 r->access & DEVFENCE_MKNOD ? "m" : "");
}

/*
 * The lease's allow-list: the defaults, each lent GPU (read, write) and,
 * with a GPU, NVIDIA's control devices that exist. v1 writes it rule by
 * rule to devices.allow after denying all; v2 attaches it as devfence's
 * eBPF program to the lease's cgroup (everything else denied).
 */
static int devices_apply(struct sandbox *sb, const struct sandbox_spec *s, char *err, size_t errlen)
{
	struct devfence_rule rules[NDEFAULT_DEVICES + SANDBOX_MAX_DEVICES + 3];
	unsigned n = 0;
	char rule[64], path[PATH_MAX];
	struct stat st;
	int rc = 0, fd;

	if (hier.version == 1 && !hier.mnt[H_DEVICES][0])
		return 0;
	for (size_t i = 0; i < NDEFAULT_DEVICES; i++)
		rules[n++] = default_devices[i];
	for (unsigned i = 0; i < s->ndevices; i++) {
		if (stat(s->devices[i], &st) != 0)
			return -errno; /* checked before; raced away */
		rules[n++] = (struct devfence_rule){'c', major(st.st_rdev), (int)minor(st.st_rdev),
						    DEVFENCE_READ | DEVFENCE_WRITE};
	}
	for (size_t i = 0; s->ndevices > 0 && i < 3; i++)
		if (stat(nvidia_control[i], &st) == 0 && S_ISCHR(st.st_mode))
			rules[n++] =
			    (struct devfence_rule){'c', major(st.st_rdev), (int)minor(st.st_rdev),
						   DEVFENCE_READ | DEVFENCE_WRITE};
	if (hier.version == 2) {
		rc = cg_path(path, sizeof(path), H_MEMORY, sb->rel, NULL);
		fd = rc ? -1 : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			rc = rc ? rc : -errno;
			log_errbuf(err, errlen, "Cannot open the cgroup %s: %s.", sb->rel,
				   strerror(-rc));
			return rc;
		}
		rc = devfence_attach(fd, rules, n, err, errlen);
		close(fd);
		return rc;
	}
	rc = cg_write(H_DEVICES, sb->rel, "devices.deny", "a");
	for (unsigned i = 0; rc == 0 && i < n; i++) {
		rule_format(&rules[i], rule, sizeof(rule));
		rc = cg_write(H_DEVICES, sb->rel, "devices.allow", rule);
	}
	if (rc)
		log_errbuf(err, errlen, "Cannot restrict the devices of the cgroup %s: %s.",
			   sb->rel, strerror(-rc));
	return rc;
}

/* CUDA_VISIBLE_DEVICES from the devices' trailing numbers (/dev/nvidia3 -> 3). */
static int devices_check(struct sandbox *sb, const struct sandbox_spec *s, char *err, size_t errlen)
{
	size_t off;
	struct stat st;

	sb->cuda[0] = '\0';
	if (s->ndevices > SANDBOX_MAX_DEVICES) {
		log_errbuf(err, errlen, "A sandbox takes at most %d devices, not %u.",
			   SANDBOX_MAX_DEVICES, s->ndevices);
		return -EINVAL;
	}
	if (s->ndevices == 0)
		return 0;
	off = (size_t)snprintf(sb->cuda, sizeof(sb->cuda), "CUDA_VISIBLE_DEVICES=");
	for (unsigned i = 0; i < s->ndevices; i++) {
		const char *d = s->devices[i], *e;
		size_t len;

		int rc = !d			? -EINVAL
			 : stat(d, &st) != 0	? -errno
			 : !S_ISCHR(st.st_mode) ? -ENODEV
						: 0;

		if (rc) {
			log_errbuf(
			    err, errlen,
			    "The device %s is not a character device file (%s); check the GPU "
			    "list of the node configuration.",
			    d ? d : "(null)", strerror(-rc));
			return rc;
		}
		len = strlen(d);
		e = d + len;
		while (e > d && e[-1] >= '0' && e[-1] <= '9')
			e--;
		if (e == d + len) {
			log_errbuf(err, errlen,
				   "The device %s has no index at the end of its name (like "
				   "/dev/nvidia3), so CUDA_VISIBLE_DEVICES cannot name it.",
				   d);
			return -EINVAL;
		}
		if (off + (size_t)(d + len - e) + 2 >= sizeof(sb->cuda)) {
			log_errbuf(err, errlen, "Too many devices for CUDA_VISIBLE_DEVICES.");
			return -ENAMETOOLONG;
		}
		off += (size_t)snprintf(sb->cuda + off, sizeof(sb->cuda) - off, "%s%s",
					i ? "," : "", e);
	}
	return 0;
}

static int limits_apply(struct sandbox *sb, const struct sandbox_spec *s, char *err, size_t errlen)
{
	char cpus[4096], val[32];
	const char *what;
	int rc;

	cpumask_format(&sb->cpus, cpus, sizeof(cpus));
	what = "cpuset.cpus";
	rc = cg_write(H_CPUSET, sb->rel, what, cpus);
	if (rc == 0) {
		what = "cpuset.mems";
		snprintf(val, sizeof(val), "%u", sb->mems_node);
		rc = cg_write(H_CPUSET, sb->rel, what, val);
	}
	snprintf(val, sizeof(val), "%" PRIu64, sb->mem_limit);
	if (rc == 0 && hier.version == 1) {
		what = "memory.limit_in_bytes";
		rc = cg_write(H_MEMORY, sb->rel, what, val);
		/* Memory+swap = memory: no swap. Absent without swap accounting. */
		if (rc == 0 && cg_write(H_MEMORY, sb->rel, "memory.memsw.limit_in_bytes", val) != 0)
			log_debug("sandbox %s: no memory.memsw.limit_in_bytes (swap accounting is "
				  "off); the executor may swap.",
				  sb->rel);
	} else if (rc == 0) {
		what = "memory.max";
		rc = cg_write(H_MEMORY, sb->rel, what, val);
		if (rc == 0 && cg_write(H_MEMORY, sb->rel, "memory.swap.max", "0") != 0)
			log_debug("sandbox %s: no memory.swap.max; the executor may swap.",
				  sb->rel);
		/* An OOM kill takes the whole lease: an executor missing one
		 * process is no use to its client. */
		if (cg_write(H_MEMORY, sb->rel, "memory.oom.group", "1") != 0)
			log_debug("sandbox %s: no memory.oom.group (Linux < 4.19).", sb->rel);
	}
	if (rc == 0 && hier.mnt[H_PIDS][0] && s->pids_max) {
		what = "pids.max";
		snprintf(val, sizeof(val), "%u", s->pids_max);
		rc = cg_write(H_PIDS, sb->rel, what, val);
	}
	if (rc) {
		log_errbuf(err, errlen, "Cannot set %s of the cgroup %s to %s: %s.", what, sb->rel,
			   strcmp(what, "cpuset.cpus") == 0 ? cpus : val, strerror(-rc));
		return rc;
	}
	return devices_apply(sb, s, err, errlen);
}

int sandbox_set_cpus(struct sandbox *sb, const struct cpumask *cpus, char *err, size_t errlen)
{
	char text[4096];
	int rc;

	if (cpumask_empty(cpus)) {
		log_errbuf(err, errlen, "sandbox %s: an empty cpuset would stop its processes",
			   sb->rel);
		return -EINVAL;
	}
	cpumask_format(cpus, text, sizeof(text));
	rc = cg_write(H_CPUSET, sb->rel, "cpuset.cpus", text);
	if (rc) {
		log_errbuf(err, errlen, "Cannot set cpuset.cpus of the cgroup %s to %s: %s.",
			   sb->rel, text, strerror(-rc));
		return rc;
	}
	sb->cpus = *cpus;
	return 0;
}

int sandbox_create(const struct sandbox_spec *s, struct sandbox **out, char *err, size_t errlen)
{
	struct sandbox *sb;
	int hs[H_MAX], rc;
	unsigned nh, made = 0;

	*out = NULL;
	if (!name_ok(s->root, true) || !name_ok(s->name, false)) {
		log_errbuf(err, errlen,
			   "Invalid sandbox cgroup \"%s/%s\": root and name must be "
			   "relative cgroup paths without \"..\", and the name one component.",
			   s->root ? s->root : "(null)", s->name ? s->name : "(null)");
		return -EINVAL;
	}
	if (s->uid == 0 || s->gid == 0) {
		log_errbuf(err, errlen,
			   "Refusing to run the executor of %s/%s as root (uid %u gid %u).",
			   s->root, s->name, s->uid, s->gid);
		return -EPERM;
	}
	if (cpumask_empty(&s->cpus) || s->mem_limit == 0) {
		log_errbuf(err, errlen,
			   "The sandbox %s/%s needs at least one cpu and a memory limit.", s->root,
			   s->name);
		return -EINVAL;
	}
	rc = hier_get(err, errlen);
	if (rc)
		return rc;
	sb = calloc(1, sizeof(*sb));
	if (!sb) {
		log_errbuf(err, errlen, "Out of memory creating the sandbox %s/%s.", s->root,
			   s->name);
		return -ENOMEM;
	}
	if ((size_t)snprintf(sb->rel, sizeof(sb->rel), "%s/%s", s->root, s->name) >=
	    sizeof(sb->rel)) {
		log_errbuf(err, errlen, "The sandbox cgroup path %s/%s is too long.", s->root,
			   s->name);
		rc = -ENAMETOOLONG;
		goto free_sb;
	}
	sb->cpus = s->cpus;
	sb->mems_node = s->mems_node;
	sb->mem_limit = s->mem_limit;
	sb->uid = s->uid;
	sb->gid = s->gid;
	rc = devices_check(sb, s, err, errlen);
	if (rc)
		goto free_sb;
	rc = root_ensure(s->root, err, errlen);
	if (rc)
		goto free_sb;
	nh = hier_list(hs);
	for (made = 0; made < nh; made++) {
		char path[PATH_MAX];

		rc = cg_path(path, sizeof(path), hs[made], sb->rel, NULL);
		if (rc == 0 && mkdir(path, 0755) != 0)
			rc = -errno;
		if (rc) {
			log_errbuf(err, errlen,
				   rc == -EEXIST
				       ? "The cgroup %s already exists: a leftover of an "
					 "earlier node agent (sandbox_cleanup_root removes "
					 "it) or a duplicate executor name (%s)."
				       : "Cannot create the cgroup %s: %s.",
				   path, strerror(-rc));
			goto remove_dirs;
		}
	}
	rc = limits_apply(sb, s, err, errlen);
	if (rc)
		goto remove_dirs;
	if (hier.version == 1) {
		sb->cg = cgroup_new_cgroup(sb->rel);
		for (int h = 0; sb->cg && h < H_MAX; h++)
			if (hier.mnt[h][0] && !cgroup_add_controller(sb->cg, h_names[h])) {
				cgroup_free(&sb->cg);
				sb->cg = NULL;
			}
		if (!sb->cg) {
			log_errbuf(err, errlen, "libcgroup cannot describe the cgroup %s.",
				   sb->rel);
			rc = -ENOMEM;
			goto remove_dirs;
		}
	}
	*out = sb;
	return 0;

remove_dirs:
	for (unsigned i = 0; i < made; i++) {
		char path[PATH_MAX];

		if (cg_path(path, sizeof(path), hs[i], sb->rel, NULL) == 0)
			rmdir(path);
	}
free_sb:
	free(sb);
	return rc;
}

void sandbox_destroy(struct sandbox *sb)
{
	bool killed;
	int rc;

	if (!sb)
		return;
	if (procs_signal(sb->rel, 0) > 0) {
		log_warning("sandbox %s: destroyed with processes inside; killing them.", sb->rel);
		evict_rels((char *[]){sb->rel}, 1, 0, sb, &killed);
	}
	children_reap(sb);
	if (sb->cg) {
		rc = cgroup_delete_cgroup_ext(sb->cg, CGFLAG_DELETE_IGNORE_MIGRATION);
		if (rc)
			log_debug("sandbox %s: libcgroup could not delete it (%s); removing it "
				  "directly.",
				  sb->rel, cgroup_strerror(rc));
		cgroup_free(&sb->cg);
	}
	rc = rmdir_all(sb->rel);
	if (rc)
		log_warning("sandbox %s: cannot remove its cgroup: %s.", sb->rel, strerror(-rc));
	/* v2 lists a dying process in no cgroup.procs while its exit goes on:
	 * once the cgroup is gone (depopulated), the child is a zombie, or is
	 * about to be; reap it rather than leave it to nobody */
	for (int ms = 0; rc == 0 && !children_reap(sb) && ms < 100; ms++)
		clock_sleep_ms(1);
	free(sb);
}

/* ---- spawn ----------------------------------------------------------------- */

/* What a child reports when it cannot exec: the step and errno. */
struct spawn_failure {
	int step;
	int err;
};
/* Step 0, then identity_drop's steps 1-5, then 6. */
static const char *spawn_step(int step)
{
	return step == 0 ? "wait for its cgroup" : step <= 5 ? identity_steps[step - 1] : "exec";
}

static void child_fail(int fd, int step, int e)
{
	struct spawn_failure f = {step, e};
	ssize_t n = write(fd, &f, sizeof(f));

	(void)n;
	_exit(127);
}

/* Room in sb for one more child (reaped ones make room): 0 or -ENOSPC. */
static int children_room(struct sandbox *sb, char *err, size_t errlen)
{
	children_reap(sb);
	if (sb->nchildren < SANDBOX_MAX_PROCS)
		return 0;
	log_errbuf(err, errlen,
		   "The sandbox %s has %d children not yet reported; call sandbox_reap.", sb->rel,
		   SANDBOX_MAX_PROCS);
	return -ENOSPC;
}

/* In a child after fork: default signal dispositions, an empty mask. */
static void child_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In a child before exec: every fd above 2 but keep closes at exec. */
static void child_close_fds(int keep)
{
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
		long max = sysconf(_SC_OPEN_MAX);

		for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
			if (fd != keep)
				close(fd);
	}
}

/*
 * identity_drop's steps for a child of clone3 (fork_into), in raw system
 * calls: glibc's setgroups, setgid and setuid apply to every thread glibc
 * knows of, and a child of a raw clone3 inherits glibc's list of the parent's
 * threads (fork resets it, clone3 does not), with whatever lock another
 * thread held. The child is single-threaded, so the thread's credentials
 * are the process's.
 */
static int identity_drop_raw(uid_t uid, gid_t gid, int *err)
{
	if (syscall(SYS_setsid) < 0 && getsid(0) != getpid())
		return *err = errno, 1;
	if (syscall(SYS_setgroups, 0, NULL) != 0)
		return *err = errno, 2;
	if (syscall(SYS_setresgid, gid, gid, gid) != 0)
		return *err = errno, 3;
	if (syscall(SYS_setresuid, uid, uid, uid) != 0)
		return *err = errno, 4;
	if (syscall(SYS_getuid) != (long)uid || syscall(SYS_geteuid) != (long)uid ||
	    syscall(SYS_getgid) != (long)gid || syscall(SYS_getegid) != (long)gid ||
	    (uid != 0 && syscall(SYS_setuid, 0) == 0))
		return *err = EPERM, 4;
	if (chdir("/") != 0)
		return *err = errno, 5;
	return 0;
}

/* In the child: only async-signal-safe calls from fork to exec. raw: it is
 * a child of clone3 (see identity_drop_raw). */
static void child_run(struct sandbox *sb, int go_fd, int fail_fd, char *const argv[],
		      char *const env[], bool raw)
{
	int step, e = 0;
	char c;

	child_reset_signals();
	if (read(go_fd, &c, 1) != 1)
		child_fail(fail_fd, 0, EPIPE);
	step = raw ? identity_drop_raw(sb->uid, sb->gid, &e) : identity_drop(sb->uid, sb->gid, &e);
	if (step)
		child_fail(fail_fd, step, e);
	/* fail_fd closes at exec too: EOF means success. */
	child_close_fds(fail_fd);
	execve(argv[0], argv, env);
	child_fail(fail_fd, 6, errno);
}

/* A sanitizer build (configure --enable-sanitizers) hands its own settings
 * of the sanitizers on to the executors it starts, so that their reports
 * go where the tests look for them (ASAN_OPTIONS' log_path); other builds
 * pass nothing of colocd's environment. Appends them to env at k; env has
 * room for SANITIZER_VARS more. Returns the new k. */
#define SANITIZER_VARS 3
static size_t sanitizer_env(char **env, size_t k)
{
#ifdef COLOC_SANITIZERS
	static const char *const names[SANITIZER_VARS] = {
	    "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS="};

	for (unsigned i = 0; i < SANITIZER_VARS; i++) {
		char **e = environ;

		while (e && *e && strncmp(*e, names[i], strlen(names[i])) != 0)
			e++;
		if (e && *e)
			env[k++] = *e;
	}
#endif
	return k;
}

static char **env_build(const struct sandbox *sb, char *const envp[])
{
	size_t n = 0, k = 0;
	char **env;

	while (envp && envp[n])
		n++;
	env = calloc(n + 2 + SANITIZER_VARS, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!sb->cuda[0] || strncmp(envp[i], "CUDA_VISIBLE_DEVICES=", 21) != 0)
			env[k++] = envp[i];
	if (sb->cuda[0])
		env[k++] = (char *)sb->cuda;
	k = sanitizer_env(env, k);
	env[k] = NULL;
	return env;
}

static int attach(struct sandbox *sb, pid_t pid)
{
	char val[32];
	int hs[H_MAX], rc;
	unsigned nh;

	if (hier.version == 1) {
		rc = cgroup_attach_task_pid(sb->cg, pid);
		if (rc == 0)
			return 0;
		log_debug("sandbox %s: libcgroup cannot attach %d (%s); writing cgroup.procs.",
			  sb->rel, (int)pid, cgroup_strerror(rc));
	}
	/* v1: one write per hierarchy; v2: one write moves it into every
	 * controller at once */
	snprintf(val, sizeof(val), "%d", (int)pid);
	nh = hier_list(hs);
	rc = 0;
	for (unsigned i = 0; rc == 0 && i < nh; i++)
		rc = cg_write(hs[i], sb->rel, "cgroup.procs", val);
	return rc;
}

/* clone3(2)'s arguments up to .cgroup (CLONE_ARGS_SIZE_VER2, Linux 5.7),
 * spelled out here: Debian 12's headers have them, older ones do not. */
struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
	    set_tid_size, cgroup;
};
#define SANDBOX_CLONE_INTO_CGROUP 0x200000000ULL

/*
 * fork(), but on cgroup v2 the child starts in sb's cgroup (clone3 with
 * CLONE_INTO_CGROUP, Linux 5.7): it is never, not even for an instant, in
 * colocd's cgroup, and no attach is needed. *into says whether that
 * happened; where the kernel lacks it (ENOSYS, E2BIG, EINVAL) this is a
 * plain fork and the caller attaches the child.
 */
static pid_t fork_into(struct sandbox *sb, bool *into)
{
	char path[PATH_MAX];
	struct clone3_args args;
	int fd = -1;
	long r;

	*into = false;
	if (hier.version != 2 || cg_path(path, sizeof(path), H_MEMORY, sb->rel, NULL) != 0 ||
	    (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return fork();
	memset(&args, 0, sizeof(args));
	args.flags = SANDBOX_CLONE_INTO_CGROUP;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)fd;
#ifdef SYS_clone3
	r = syscall(SYS_clone3, &args, sizeof(args));
#else
	r = -1;
	errno = ENOSYS;
#endif
	if (r == 0) {
		*into = true;
		return 0; /* the child: its fd closes at exec */
	}
	close(fd);
	if (r > 0) {
		*into = true;
		return (pid_t)r;
	}
	if (errno == ENOSYS || errno == E2BIG || errno == EINVAL) {
		log_debug("sandbox %s: no clone3 with CLONE_INTO_CGROUP here (%s); forking and "
			  "attaching.",
			  sb->rel, strerror(errno));
		return fork();
	}
	return -1;
}

int sandbox_spawn(struct sandbox *sb, char *const argv[], char *const envp[], pid_t *pid, char *err,
		  size_t errlen)
{
	int go[2] = {-1, -1}, fail[2] = {-1, -1}, rc, st;
	struct spawn_failure f;
	struct pollfd pfd;
	char **env;
	pid_t child;
	bool into;
	ssize_t n;

	*pid = -1;
	if (!argv || !argv[0] || argv[0][0] != '/') {
		log_errbuf(err, errlen, "The executor of %s must be given by absolute path.",
			   sb->rel);
		return -EINVAL;
	}
	rc = children_room(sb, err, errlen);
	if (rc)
		return rc;
	env = env_build(sb, envp);
	if (!env) {
		log_errbuf(err, errlen, "Out of memory spawning %s.", argv[0]);
		return -ENOMEM;
	}
	if (pipe2(go, O_CLOEXEC) != 0 || pipe2(fail, O_CLOEXEC) != 0) {
		rc = -errno;
		log_errbuf(err, errlen, "Cannot spawn %s: pipe: %s.", argv[0], strerror(-rc));
		goto close_pipes;
	}
	child = fork_into(sb, &into);
	if (child < 0) {
		rc = -errno;
		log_errbuf(err, errlen, "Cannot spawn %s: fork: %s.", argv[0], strerror(-rc));
		goto close_pipes;
	}
	if (child == 0) {
		close(go[1]);
		close(fail[0]);
		child_run(sb, go[0], fail[1], argv, env, into);
	}
	close(go[0]);
	go[0] = -1;
	close(fail[1]);
	fail[1] = -1;

	rc = into ? 0 : attach(sb, child);
	if (rc) {
		log_errbuf(err, errlen,
			   "Cannot attach the executor %s (pid %d) to the cgroup %s: %s.", argv[0],
			   (int)child, sb->rel, strerror(-rc));
		goto kill_child;
	}
	if (write(go[1], "g", 1) != 1) {
		rc = -errno;
		log_errbuf(err, errlen, "Cannot start %s: %s.", argv[0], strerror(-rc));
		goto kill_child;
	}
	/* EOF: the exec closed fail[1]. A record: the child failed. */
	pfd.fd = fail[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, EXEC_TIMEOUT_MS) <= 0) {
		rc = -ETIMEDOUT;
		log_errbuf(err, errlen, "The executor %s did not reach exec within %d ms.", argv[0],
			   EXEC_TIMEOUT_MS);
		goto kill_child;
	}
	n = read(fail[0], &f, sizeof(f));
	if (n == (ssize_t)sizeof(f)) {
		rc = -f.err;
		log_errbuf(err, errlen, "Cannot run %s in the sandbox %s as uid %u: %s failed: %s.",
			   argv[0], sb->rel, sb->uid, spawn_step(f.step), strerror(f.err));
		while (waitpid(child, &st, 0) < 0 && errno == EINTR)
			;
		goto close_pipes;
	}
	sb->children[sb->nchildren++] = (struct child){.pid = child};
	*pid = child;
	rc = 0;
	goto close_pipes;

kill_child:
	kill(child, SIGKILL);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
close_pipes:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (fail[i] >= 0)
			close(fail[i]);
	}
	free(env);
	return rc;
}

int sandbox_spare_start(const char *executor, const char *provider, int log_fd, pid_t *pid, int *fd,
			char *err, size_t errlen)
{
	char *const argv[] = {(char *)executor, "--spare", NULL};
	char prov_env[128], *env[3 + SANITIZER_VARS] = {"PATH=/usr/bin:/bin"};
	size_t k = 1;
	int sv[2], rc;
	pid_t child;

	*pid = -1;
	*fd = -1;
	snprintf(prov_env, sizeof(prov_env), "FAAS_PROVIDER=%s", provider ? provider : "");
	if (provider && *provider)
		env[k++] = prov_env;
	env[sanitizer_env(env, k)] = NULL;
	if (!executor || executor[0] != '/') {
		log_errbuf(err, errlen, "The executor must be given by absolute path.");
		return -EINVAL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		rc = -errno;
		log_errbuf(err, errlen, "Cannot start a spare executor: socketpair: %s.",
			   strerror(-rc));
		return rc;
	}
	child = fork();
	if (child < 0) {
		rc = -errno;
		close(sv[0]);
		close(sv[1]);
		log_errbuf(err, errlen, "Cannot start a spare executor: fork: %s.", strerror(-rc));
		return rc;
	}
	if (child == 0) {
		struct sched_param idle = {0};
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int out = log_fd >= 0 ? log_fd : null;

		child_reset_signals();
		/* 0: the channel to the node agent; 1-2: the lease's log, never
		 * colocd's own output */
		if (setsid() < 0 || dup2(sv[1], 0) != 0 || out < 0 || dup2(out, 1) != 1 ||
		    dup2(out, 2) != 2)
			_exit(127);
		/* until it has a lease, it runs only when a CPU would idle:
		 * never in a host job's way (it takes SCHED_OTHER back then) */
		sched_setscheduler(0, SCHED_IDLE, &idle);
		child_close_fds(-1);
		execve(argv[0], argv, env);
		_exit(127);
	}
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0)
		log_debug("spare executor %d: its channel stays blocking: %s", (int)child,
			  strerror(errno));
	*pid = child;
	*fd = sv[0];
	return 0;
}

int sandbox_assign(struct sandbox *sb, pid_t pid, int fd, char *const argv[], char *const envp[],
		   char *err, size_t errlen)
{
	char **env = env_build(sb, envp);
	char *msg = malloc(SPARE_MSG_MAX);
	long len = -ENOMEM;
	ssize_t n;
	int rc;

	rc = children_room(sb, err, errlen);
	if (rc)
		goto out;
	if (env && msg)
		len = spare_encode(sb->uid, sb->gid, argv, env, msg, SPARE_MSG_MAX);
	if (len < 0) {
		rc = (int)len;
		log_errbuf(err, errlen, "Cannot write the assignment of %s: %s.", sb->rel,
			   strerror(-rc));
		goto out;
	}
	rc = attach(sb, pid);
	if (rc) {
		log_errbuf(err, errlen, "Cannot attach the spare executor %d to the cgroup %s: %s.",
			   (int)pid, sb->rel, strerror(-rc));
		goto out;
	}
	/* At most SPARE_MSG_MAX bytes, less than a unix socket's buffer, so
	 * the write does not wait for the spare; the end of the assignment is
	 * the end of what the agent sends. */
	n = send(fd, msg, (size_t)len, MSG_NOSIGNAL);
	if (n != (ssize_t)len || shutdown(fd, SHUT_WR) != 0) {
		rc = n < 0 ? -errno : -EAGAIN;
		log_errbuf(err, errlen, "Cannot hand its assignment to the spare executor %d: %s.",
			   (int)pid, n < 0 ? strerror(errno) : "short write");
		goto out;
	}
	sb->children[sb->nchildren++] = (struct child){.pid = pid};
	rc = 0;
out:
	free(msg);
	free(env);
	return rc;
}

int sandbox_reap(struct sandbox *sb, pid_t *pid, int *status)
{
	children_reap(sb);
	for (unsigned i = 0; i < sb->nchildren; i++) {
		if (!sb->children[i].exited)
			continue;
		*pid = sb->children[i].pid;
		*status = sb->children[i].status;
		sb->children[i] = sb->children[--sb->nchildren];
		return 1;
	}
	return 0;
}

/* ---- read ------------------------------------------------------------------- */

/* The number on the line "key N" of text (memory.oom_control,
 * memory.events); false when no line has that key. */
static bool key_value(const char *text, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			*v = strtoull(p + kl + 1, NULL, 10);
			return true;
		}
	return false;
}

/* A cgroup file holding one number (or "max" = UINT64_MAX). */
static int cg_read_u64(int h, const char *rel, const char *file, uint64_t *v)
{
	char buf[64], *end;
	int rc = cg_read(h, rel, file, buf, sizeof(buf));

	if (rc)
		return rc;
	if (strcmp(buf, "max") == 0) {
		*v = UINT64_MAX;
		return 0;
	}
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return end == buf || *end || errno ? -EPROTO : 0;
}

/*
 * Everything comes from cgroupfs, so it works just as well once the
 * processes have exited: the counters belong to the cgroup, not to them.
 * The OOM evidence on v1: memory.oom_control's oom_kill (Linux 4.13+)
 * counts the OOM killer's kills; under_oom is 1 while it is at work (and
 * stays 1 where oom_kill_disable holds the group in OOM). memory.failcnt is
 * not used: it counts every time usage hit the limit, also when reclaiming
 * page cache made room, so it is no evidence of a kill.
 */
int sandbox_read(struct sandbox *sb, struct sandbox_state *st)
{
	char buf[4096], path[PATH_MAX];
	uint64_t n;
	int rc;
	FILE *f;

	memset(st, 0, sizeof(*st));
	rc = cg_read(H_CPUSET, sb->rel, "cpuset.cpus", buf, sizeof(buf));
	if (rc == 0)
		rc = cpumask_parse(buf, &st->cpus);
	if (rc)
		return rc;
	rc =
	    cg_read_u64(H_MEMORY, sb->rel,
			hier.version == 1 ? "memory.limit_in_bytes" : "memory.max", &st->mem_limit);
	if (rc)
		return rc;
	rc = cg_read_u64(H_MEMORY, sb->rel,
			 hier.version == 1 ? "memory.usage_in_bytes" : "memory.current",
			 &st->mem_usage);
	if (rc)
		return rc;
	if (hier.version == 1) {
		rc = cg_read(H_MEMORY, sb->rel, "memory.oom_control", buf, sizeof(buf));
		st->oom_killed = rc == 0 && ((key_value(buf, "oom_kill", &n) && n > 0) ||
					     (key_value(buf, "under_oom", &n) && n > 0));
	} else {
		rc = cg_read(H_MEMORY, sb->rel, "memory.events", buf, sizeof(buf));
		st->oom_killed = rc == 0 && key_value(buf, "oom_kill", &n) && n > 0;
	}
	if (rc)
		return rc;
	rc = cg_path(path, sizeof(path), H_MEMORY, sb->rel, "cgroup.procs");
	if (rc)
		return rc;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(buf, sizeof(buf), f))
		st->nprocs++;
	fclose(f);
	return 0;
}

/* ---- cleanup after a restart ----------------------------------------------- */

static int names_add(char ***names, unsigned *n, const char *name)
{
	char **grown;

	for (unsigned i = 0; i < *n; i++)
		if (strcmp((*names)[i], name) == 0)
			return 0;
	grown = realloc(*names, (*n + 1) * sizeof(**names));
	if (!grown)
		return -ENOMEM;
	*names = grown;
	grown[*n] = strdup(name);
	if (!grown[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

int sandbox_cleanup_root(const char *root, const char *prefix, unsigned grace_ms, char *err,
			 size_t errlen)
{
	int hs[H_MAX], rc;
	unsigned nh, n = 0, removed = 0;
	char **rels = NULL;
	bool killed;

	if (!name_ok(root, true)) {
		log_errbuf(err, errlen, "Invalid CgroupRoot \"%s\".", root ? root : "(null)");
		return -EINVAL;
	}
	rc = hier_get(err, errlen);
	if (rc)
		return rc;
	nh = hier_list(hs);
	for (unsigned i = 0; rc == 0 && i < nh; i++) {
		char path[PATH_MAX], rel[PATH_MAX];
		struct dirent *de;
		DIR *d;

		if (cg_path(path, sizeof(path), hs[i], root, NULL))
			continue;
		d = opendir(path);
		if (!d)
			continue;
		while (rc == 0 && (de = readdir(d)) != NULL) {
			struct stat st;

			if (de->d_name[0] == '.' ||
			    (prefix && strncmp(de->d_name, prefix, strlen(prefix)) != 0) ||
			    (size_t)snprintf(rel, sizeof(rel), "%s/%s", path, de->d_name) >=
				sizeof(rel) ||
			    stat(rel, &st) != 0 || !S_ISDIR(st.st_mode))
				continue;
			snprintf(rel, sizeof(rel), "%s/%s", root, de->d_name);
			rc = names_add(&rels, &n, rel);
		}
		closedir(d);
	}
	if (rc) {
		log_errbuf(err, errlen, "Out of memory listing the cgroups under %s.", root);
		goto free_names;
	}
	if (n > 0) {
		rc = evict_rels(rels, n, grace_ms, NULL, &killed);
		if (rc)
			log_errbuf(err, errlen,
				   "Processes under the cgroup %s survive SIGKILL (uninterruptible "
				   "sleep?); their cgroups stay.",
				   root);
	}
	for (unsigned i = 0; i < n; i++) {
		int r = rmdir_all(rels[i]);

		if (r == 0) {
			removed++;
			log_info("sandbox %s: removed a leftover cgroup.", rels[i]);
		} else if (rc == 0) {
			rc = r;
			log_errbuf(err, errlen, "Cannot remove the leftover cgroup %s: %s.",
				   rels[i], strerror(-r));
		}
	}
	if (rc == 0)
		rmdir_all(root); /* <root> itself (not its parents); busy while in use */
free_names:
	for (unsigned i = 0; i < n; i++)
		free(rels[i]);
	free(rels);
	return rc ? rc : (int)removed;
}
