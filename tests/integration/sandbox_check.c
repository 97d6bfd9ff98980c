/*
 * sandbox_check - colocd's sandbox module against the real kernel: creates
 * executor cgroups, spawns processes into them and reads back from the
 * kernel (/proc/PID/cgroup, /proc/PID/status, sched_getaffinity, cgroupfs)
 * what a node agent relies on: cpuset, memory limit, uid, eviction with and
 * without SIGKILL, memory usage, an OOM kill confined to its sandbox and
 * reported after the process is gone, refusals, and the
 * cleanup a restarted node agent does.
 *
 *   sandbox_check [ROOT]
 *
 * ROOT is the cgroup root the test uses (default coloc-test-<pid>); it is
 * removed at the end, even when a case fails. Needs root and writable
 * cgroups; otherwise it prints "1..0 # SKIP reason" and exits 77.
 * Output is TAP; exit status 0 when every case passed, 1 otherwise. Every
 * wait is bounded and a watchdog ends the run.
 */
#include "config.h"

#include "devfence.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_S 60
#define MiB (1024ull * 1024ull)

static int tests_run, tests_failed;

__attribute__((format(printf, 3, 4))) static bool check(bool ok, const char *name, const char *fmt,
							...)
{
	va_list ap;

	tests_run++;
	if (ok) {
		printf("ok %d - %s\n", tests_run, name);
	} else {
		tests_failed++;
		printf("not ok %d - %s # ", tests_run, name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
	return ok;
}

static void skip(const char *name, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++tests_run, name, why);
	fflush(stdout);
}

__attribute__((format(printf, 1, 2))) static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- state ------------------------------------------------------------- */

static char root[64];
static struct sandbox_spec base; /* cpus {last cpu}, 64 MiB, nobody */
static unsigned last_cpu;
static char *const no_env[] = {"PATH=/usr/bin:/bin", NULL};

/* Pids this test spawned, killed by the watchdog. */
static volatile pid_t live[16];

static void remember(pid_t pid)
{
	for (int i = 0; i < 16; i++)
		if (live[i] <= 0) {
			live[i] = pid;
			return;
		}
}

static void watchdog(int sig)
{
	static const char msg[] = "Bail out! watchdog: the test ran longer than its limit\n";
	ssize_t n;

	(void)sig;
	for (int i = 0; i < 16; i++)
		if (live[i] > 0)
			kill(live[i], SIGKILL);
	n = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(1);
}

/* ---- reading the kernel, independently of the module -------------------- */

/* The directories of every cgroup (v1 and v2) mount, from /proc/mounts. */
static int cgroup_mounts(char mnts[][PATH_MAX], int max)
{
	char line[1024], dev[256], dir[PATH_MAX], type[64];
	int n = 0;
	FILE *f = fopen("/proc/mounts", "re");

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) == 3 &&
		    (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0))
			snprintf(mnts[n++], PATH_MAX, "%s", dir);
	fclose(f);
	return n;
}

/* How many cgroup hierarchies hold a directory <root> (or <root>/<sub>). */
static int dirs_left(const char *sub, char *where, size_t len)
{
	char mnts[33][PATH_MAX], path[PATH_MAX * 2];
	int n = cgroup_mounts(mnts, 32), found = 0;
	struct stat st;

	/* v2 under systemd: below the delegated cgroup, not the mount */
	if (strcmp(sandbox_cgroup_version(), "v2") == 0)
		snprintf(mnts[n++], PATH_MAX, "%s", sandbox_cgroup_dir());

	where[0] = '\0';
	for (int i = 0; i < n; i++) {
		int k = snprintf(path, sizeof(path), "%s/%s%s%s", mnts[i], root, sub ? "/" : "",
				 sub ? sub : "");

		if (k < 0 || (size_t)k >= sizeof(path) || stat(path, &st) != 0)
			continue;
		if (!found++ && (size_t)snprintf(where, len, "%s", path) >= len)
			where[len - 1] = '\0';
	}
	return found;
}

/* The first cgroup2 mount's directory, or "". */
static const char *cgroup2_mount(void)
{
	static char mnt[PATH_MAX];
	char line[1024], dev[256], dir[PATH_MAX], type[64];
	FILE *f = fopen("/proc/mounts", "re");

	mnt[0] = '\0';
	while (f && !mnt[0] && fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) == 3 &&
		    strcmp(type, "cgroup2") == 0)
			snprintf(mnt, sizeof(mnt), "%s", dir);
	if (f)
		fclose(f);
	return mnt;
}

/* v2: the sandboxes' cgroups as /proc/PID/cgroup names them start with
 * this ("" at the root; "/system.slice/x.service" below a unit). */
static const char *v2_prefix(void)
{
	const char *d = sandbox_cgroup_dir(), *m = cgroup2_mount();
	size_t ml = strlen(m);

	return ml && strncmp(d, m, ml) == 0 ? d + ml : "";
}

/* The cgroup path of pid in the hierarchy with controller ctl ("" = v2). */
static bool proc_cgroup(pid_t pid, const char *ctl, char *out, size_t len)
{
	char path[64], line[1024];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char *tok, *save;

		if (!c2)
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if (!*ctl) {
			found = c1 == line + 1 && line[0] == '0' && c1[1] == '\0';
		} else {
			for (tok = strtok_r(c1 + 1, ",", &save); tok && !found;
			     tok = strtok_r(NULL, ",", &save))
				found = strcmp(tok, ctl) == 0;
		}
		if (found)
			snprintf(out, len, "%s", c2 + 1);
	}
	fclose(f);
	return found;
}

static long proc_status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	long v = -1;
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10); /* the real id */
			break;
		}
	fclose(f);
	return v;
}

/* Waits up to ms for pid (spawned by the sandbox) to be reported by sandbox_reap. */
static bool reap_within(struct sandbox *sb, pid_t want, unsigned ms, int *status)
{
	double t0 = now_ms();
	pid_t pid;

	while (now_ms() - t0 < ms) {
		while (sandbox_reap(sb, &pid, status) == 1)
			if (pid == want)
				return true;
		sleep_ms(10);
	}
	return false;
}

/* Waits up to ms for the sandbox to hold n processes. */
static bool nprocs_within(struct sandbox *sb, unsigned n, unsigned ms)
{
	double t0 = now_ms();
	struct sandbox_state st;

	while (now_ms() - t0 < ms) {
		if (sandbox_read(sb, &st) == 0 && st.nprocs == n)
			return true;
		sleep_ms(10);
	}
	return false;
}

static struct sandbox *make(const char *name, uint64_t mem, char *err, size_t errlen, int *rc)
{
	struct sandbox_spec s = base;
	struct sandbox *sb = NULL;

	s.name = name;
	s.mem_limit = mem;
	*rc = sandbox_create(&s, &sb, err, errlen);
	return sb;
}

/* ---- cases --------------------------------------------------------------- */

static void case_refusals(void)
{
	struct sandbox_spec s = base;
	struct sandbox *sb = (struct sandbox *)1;
	char err[512] = "", where[PATH_MAX];
	int rc;

	s.name = "root-owned";
	s.uid = 0;
	rc = sandbox_create(&s, &sb, err, sizeof(err));
	check(rc == -EPERM && sb == NULL && err[0], "a spec with uid 0 is refused", "rc %d (%s)",
	      rc, err);
	check(dirs_left("root-owned", where, sizeof(where)) == 0,
	      "a refused spec leaves no cgroup behind", "%s exists", where);
	s.uid = base.uid;
	s.name = "../escape";
	rc = sandbox_create(&s, &sb, err, sizeof(err));
	check(rc == -EINVAL, "a name with .. is refused", "rc %d", rc);
}

static void case_spawn_and_read_back(void)
{
	char err[512] = "", cg[PATH_MAX], want[PATH_MAX], *argv[] = {"/bin/sleep", "30", NULL};
	struct sandbox_state st;
	struct sandbox *sb;
	cpu_set_t aff;
	bool killed = true, same;
	double t0;
	pid_t pid = -1;
	int rc, status;

	sb = make("a", 64 * MiB, err, sizeof(err), &rc);
	if (!check(rc == 0, "create a sandbox (last cpu, 64 MiB, nobody)", "%s", err))
		return;
	rc = sandbox_spawn(sb, argv, no_env, &pid, err, sizeof(err));
	if (!check(rc == 0 && pid > 0, "spawn /bin/sleep 30 into it", "rc %d: %s", rc, err))
		goto destroy;
	remember(pid);
	snprintf(want, sizeof(want), "%s/%s/a",
		 strcmp(sandbox_cgroup_version(), "v2") == 0 ? v2_prefix() : "", root);
	if (strcmp(sandbox_cgroup_version(), "v1") == 0) {
		bool c = proc_cgroup(pid, "cpuset", cg, sizeof(cg));

		check(c && strcmp(cg, want) == 0,
		      "/proc/PID/cgroup: cpuset hierarchy is the sandbox",
		      "cpuset cgroup %s, want %s", c ? cg : "(none)", want);
		c = proc_cgroup(pid, "memory", cg, sizeof(cg));
		check(c && strcmp(cg, want) == 0,
		      "/proc/PID/cgroup: memory hierarchy is the sandbox",
		      "memory cgroup %s, want %s", c ? cg : "(none)", want);
		c = proc_cgroup(pid, "devices", cg, sizeof(cg));
		check(c && strcmp(cg, want) == 0,
		      "/proc/PID/cgroup: devices hierarchy is the sandbox",
		      "devices cgroup %s, want %s", c ? cg : "(none)", want);
	} else {
		bool c = proc_cgroup(pid, "", cg, sizeof(cg));

		check(c && strcmp(cg, want) == 0,
		      "/proc/PID/cgroup: the unified cgroup is the sandbox", "cgroup %s, want %s",
		      c ? cg : "(none)", want);
	}
	rc = sandbox_read(sb, &st);
	check(rc == 0 && cpumask_equal(&st.cpus, &base.cpus), "cpuset.cpus is the spec's cpu",
	      "rc %d, cpu %d first in the kernel's set of %u", rc, cpumask_next(&st.cpus, 0),
	      cpumask_count(&st.cpus));
	check(rc == 0 && st.mem_limit == 64 * MiB, "the memory limit is the spec's 64 MiB",
	      "kernel says %llu", (unsigned long long)st.mem_limit);
	check(rc == 0 && st.nprocs == 1 && !st.oom_killed, "the sandbox holds one process, no OOM",
	      "nprocs %u oom %d", st.nprocs, st.oom_killed);
	if (strcmp(sandbox_cgroup_version(), "v2") == 0) {
		char path[PATH_MAX * 2], val[64];
		const char *files[][2] = {{"memory.swap.max", "0"},
					  {"memory.oom.group", "1"},
					  {"cpuset.mems", "0"},
					  {"pids.max", "64"}};

		for (unsigned i = 0; i < 4; i++) {
			FILE *f;

			snprintf(path, sizeof(path), "%s/%s/a/%s", sandbox_cgroup_dir(), root,
				 files[i][0]);
			val[0] = '\0';
			f = fopen(path, "re");
			if (f) {
				if (!fgets(val, sizeof(val), f))
					val[0] = '\0';
				fclose(f);
			}
			val[strcspn(val, "\n")] = '\0';
			check(strcmp(val, files[i][1]) == 0,
			      "v2: the lease's cgroup has its setting", "%s is \"%s\", want %s",
			      path, val, files[i][1]);
		}
	}
	check(rc == 0 && st.mem_usage > 0 && st.mem_usage <= 64 * MiB,
	      "the sandbox's memory usage is above 0 and within its limit", "usage %llu",
	      (unsigned long long)st.mem_usage);
	check(proc_status_field(pid, "Uid") == (long)base.uid &&
		  proc_status_field(pid, "Gid") == (long)base.gid,
	      "/proc/PID/status: it runs as nobody", "Uid %ld Gid %ld, want %u %u",
	      proc_status_field(pid, "Uid"), proc_status_field(pid, "Gid"), base.uid, base.gid);
	CPU_ZERO(&aff);
	rc = sched_getaffinity(pid, sizeof(aff), &aff);
	same = rc == 0 && CPU_COUNT(&aff) == 1 && CPU_ISSET(last_cpu, &aff);
	check(same, "sched_getaffinity of the pid is the spec's cpu", "rc %d, %d cpus", rc,
	      CPU_COUNT(&aff));

	t0 = now_ms();
	rc = sandbox_evict(sb, 200, &killed);
	check(rc == 0 && !killed, "evict: sleep dies on SIGTERM, no SIGKILL needed",
	      "rc %d killed %d", rc, killed);
	check(now_ms() - t0 < 200 + 1000, "evict returned in time", "%.0f ms", now_ms() - t0);
	check(reap_within(sb, pid, 1000, &status) && WIFSIGNALED(status) &&
		  WTERMSIG(status) == SIGTERM,
	      "the executor was reaped, killed by SIGTERM", "status 0x%x", status);
	check(sandbox_read(sb, &st) == 0 && st.nprocs == 0, "the cgroup is empty", "nprocs %u",
	      st.nprocs);
destroy:
	sandbox_destroy(sb);
	check(dirs_left("a", cg, sizeof(cg)) == 0, "destroy removes the cgroup everywhere",
	      "%s is left", cg);
}

static void case_hang_on_sigterm(void)
{
	char err[512] = "", *argv[] = {"/bin/sh", "-c", "trap '' TERM; sleep 30; exit 0", NULL};
	struct sandbox_state st;
	struct sandbox *sb;
	bool killed = false;
	double t0, took;
	pid_t pid = -1;
	int rc, status = 0;

	sb = make("hang", 64 * MiB, err, sizeof(err), &rc);
	if (!check(rc == 0, "create a sandbox for a process ignoring SIGTERM", "%s", err))
		return;
	rc = sandbox_spawn(sb, argv, no_env, &pid, err, sizeof(err));
	if (!check(rc == 0, "spawn a shell that ignores SIGTERM", "rc %d: %s", rc, err))
		goto destroy;
	remember(pid);
	/* Both the shell and its sleep (forked after the trap) in the cgroup. */
	check(nprocs_within(sb, 2, 3000), "the shell and its sleep are in the cgroup", "timeout");
	t0 = now_ms();
	rc = sandbox_evict(sb, 200, &killed);
	took = now_ms() - t0;
	check(rc == 0 && killed, "evict needs SIGKILL", "rc %d killed %d", rc, killed);
	check(took >= 200 && took < 200 + 1000, "evict takes the grace period and at most 1 s more",
	      "%.0f ms", took);
	check(sandbox_read(sb, &st) == 0 && st.nprocs == 0, "shell and sleep are gone", "nprocs %u",
	      st.nprocs);
	check(reap_within(sb, pid, 1000, &status) && WIFSIGNALED(status) &&
		  WTERMSIG(status) == SIGKILL,
	      "the shell died of SIGKILL", "status 0x%x", status);
destroy:
	sandbox_destroy(sb);
}

static void case_oom(void)
{
	char err[512] = "",
	     *hog[] = {"/usr/bin/perl", "-e", "$x = 'a' x 200_000_000; sleep 5", NULL},
	     *sleeper[] = {"/bin/sleep", "30", NULL};
	struct sandbox *hogs = NULL, *sib = NULL;
	struct sandbox_state st;
	pid_t hog_pid = -1, sib_pid = -1;
	bool killed;
	int rc, status = 0;

	if (access(hog[0], X_OK) != 0) {
		skip("a memory hog is OOM-killed in its sandbox", "no /usr/bin/perl");
		return;
	}
	sib = make("sibling", 64 * MiB, err, sizeof(err), &rc);
	if (!check(rc == 0, "create a sibling sandbox", "%s", err))
		return;
	hogs = make("hog", 32 * MiB, err, sizeof(err), &rc);
	if (!check(rc == 0, "create a 32 MiB sandbox", "%s", err))
		goto destroy;
	rc = sandbox_spawn(sib, sleeper, no_env, &sib_pid, err, sizeof(err));
	if (!check(rc == 0, "spawn sleep in the sibling", "rc %d: %s", rc, err))
		goto destroy;
	remember(sib_pid);
	rc = sandbox_spawn(hogs, hog, no_env, &hog_pid, err, sizeof(err));
	if (!check(rc == 0, "spawn a 200 MB perl into the 32 MiB sandbox", "rc %d: %s", rc, err))
		goto destroy;
	remember(hog_pid);
	check(reap_within(hogs, hog_pid, 10000, &status) && WIFSIGNALED(status) &&
		  WTERMSIG(status) == SIGKILL,
	      "the hog is killed by the kernel (SIGKILL)", "status 0x%x", status);
	rc = sandbox_read(hogs, &st);
	check(rc == 0 && st.oom_killed && st.nprocs == 0,
	      "sandbox_read of the emptied sandbox reports the OOM kill", "rc %d oom %d nprocs %u",
	      rc, st.oom_killed, st.nprocs);
	check(rc == 0 && st.mem_usage <= 32 * MiB, "its memory usage is within the 32 MiB limit",
	      "usage %llu", (unsigned long long)st.mem_usage);
	rc = sandbox_read(sib, &st);
	check(rc == 0 && st.nprocs == 1 && !st.oom_killed && kill(sib_pid, 0) == 0,
	      "the sibling sandbox's process survives", "rc %d nprocs %u oom %d", rc, st.nprocs,
	      st.oom_killed);
	check(sandbox_evict(sib, 200, &killed) == 0, "the sibling is evicted", "busy");
destroy:
	sandbox_destroy(hogs);
	sandbox_destroy(sib);
}

/* A process that allocates 16 MB shows in mem_usage; its exit leaves a
 * readable, empty sandbox that reports no OOM kill. */
static void case_mem_usage(void)
{
	char err[512] = "",
	     *argv[] = {"/usr/bin/perl", "-e", "$x = 'a' x 16_000_000; sleep 30", NULL};
	struct sandbox_state st = {0};
	struct sandbox *sb;
	bool killed, grew = false;
	double t0;
	pid_t pid = -1;
	int rc, status = 0;

	if (access(argv[0], X_OK) != 0) {
		skip("mem_usage counts a process's allocation", "no /usr/bin/perl");
		return;
	}
	sb = make("usage", 64 * MiB, err, sizeof(err), &rc);
	if (!check(rc == 0, "create a 64 MiB sandbox for a 16 MB process", "%s", err))
		return;
	rc = sandbox_spawn(sb, argv, no_env, &pid, err, sizeof(err));
	if (!check(rc == 0, "spawn a perl holding 16 MB", "rc %d: %s", rc, err))
		goto destroy;
	remember(pid);
	t0 = now_ms();
	while (!grew && now_ms() - t0 < 5000) {
		rc = sandbox_read(sb, &st);
		grew = rc == 0 && st.mem_usage >= 16000000;
		if (!grew)
			sleep_ms(10);
	}
	check(grew && st.mem_usage <= 64 * MiB && st.nprocs == 1 && !st.oom_killed,
	      "mem_usage counts its 16 MB, within the limit, no OOM",
	      "rc %d usage %llu nprocs %u oom %d", rc, (unsigned long long)st.mem_usage, st.nprocs,
	      st.oom_killed);
	check(sandbox_evict(sb, 200, &killed) == 0 && reap_within(sb, pid, 1000, &status),
	      "evict it", "status 0x%x", status);
	rc = sandbox_read(sb, &st);
	check(rc == 0 && st.nprocs == 0 && !st.oom_killed && st.mem_limit == 64 * MiB,
	      "sandbox_read of the emptied sandbox works and reports no OOM kill",
	      "rc %d nprocs %u oom %d limit %llu", rc, st.nprocs, st.oom_killed,
	      (unsigned long long)st.mem_limit);
destroy:
	sandbox_destroy(sb);
}

static void case_missing_binary(void)
{
	char err[512] = "", *argv[] = {"/nonexistent/faas-executor", NULL};
	struct sandbox_state st;
	struct sandbox *sb;
	pid_t pid = 12345;
	int rc;

	sb = make("missing", 64 * MiB, err, sizeof(err), &rc);
	if (!check(rc == 0, "create a sandbox for a missing binary", "%s", err))
		return;
	err[0] = '\0';
	rc = sandbox_spawn(sb, argv, no_env, &pid, err, sizeof(err));
	check(rc == -ENOENT && pid == -1 && strstr(err, "/nonexistent/faas-executor"),
	      "spawning a missing binary is an error naming it", "rc %d pid %d: %s", rc, (int)pid,
	      err);
	if (err[0])
		diag("%s", err);
	check(sandbox_read(sb, &st) == 0 && st.nprocs == 0, "no process is left in the sandbox",
	      "nprocs %u", st.nprocs);
	sandbox_destroy(sb);
}

/*
 * mkdtemp for fake device files: dir ("/tmp/...XXXXXX") where /tmp lets
 * device files open, else the same name under /dev (a tmpfs /tmp mounted
 * nodev, as systemd does on Debian 13, fails every open with EACCES).
 */
static char *fake_dev_dir(char *dir)
{
	struct statvfs sv;

	if (statvfs("/tmp", &sv) == 0 && (sv.f_flag & ST_NODEV))
		memcpy(dir, "/dev", 4); /* "/tmp" and "/dev" have the same length */
	return mkdtemp(dir);
}

/*
 * Fake GPUs: character device files with an experimental major (60) that no
 * driver claims. Opening the lent one fails with ENXIO (no driver); opening
 * the other must fail with EPERM from the devices cgroup (v1) or the lease's
 * eBPF device program (v2). CUDA_VISIBLE_DEVICES names the lent one's index,
 * replacing the value given.
 */
static void case_devices(void)
{
	char dir[] = "/tmp/coloc-sandbox-XXXXXX", gpu0[64], gpu1[64], out[64], text[1024] = "";
	char env_dir[96], env_out[96],
	    *env[] = {"PATH=/usr/bin:/bin", env_dir, env_out, "CUDA_VISIBLE_DEVICES=7", NULL};
	char *argv[] = {"/bin/sh", "-c",
			"exec >\"$OUT\" 2>&1; echo \"cuda=$CUDA_VISIBLE_DEVICES\"; "
			"cat \"$DIR/nvidia0\"; cat \"$DIR/nvidia1\"; exit 0",
			NULL};
	struct sandbox_spec s = base;
	struct sandbox *sb = NULL;
	char err[512] = "";
	pid_t pid = -1;
	FILE *f;
	int rc, status = 0;
	bool v1 = strcmp(sandbox_cgroup_version(), "v1") == 0;

	if (!fake_dev_dir(dir)) {
		skip("devices are limited to the lent GPUs", "mkdtemp failed");
		return;
	}
	snprintf(gpu0, sizeof(gpu0), "%s/nvidia0", dir);
	snprintf(gpu1, sizeof(gpu1), "%s/nvidia1", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(env_dir, sizeof(env_dir), "DIR=%s", dir);
	snprintf(env_out, sizeof(env_out), "OUT=%s", out);
	if (chmod(dir, 0777) != 0 || mknod(gpu0, S_IFCHR | 0666, makedev(60, 0)) != 0 ||
	    mknod(gpu1, S_IFCHR | 0666, makedev(60, 1)) != 0 || chmod(gpu0, 0666) != 0 ||
	    chmod(gpu1, 0666) != 0) {
		skip("devices are limited to the lent GPUs", "cannot mknod fake GPUs in /tmp");
		goto remove;
	}
	s.name = "gpu";
	s.ndevices = 1;
	s.devices[0] = gpu1;
	rc = sandbox_create(&s, &sb, err, sizeof(err));
	if (!check(rc == 0, "create a sandbox lending one fake GPU", "rc %d: %s", rc, err))
		goto remove;
	rc = sandbox_spawn(sb, argv, env, &pid, err, sizeof(err));
	if (!check(rc == 0, "spawn a shell opening both fake GPUs", "rc %d: %s", rc, err))
		goto destroy;
	remember(pid);
	check(reap_within(sb, pid, 5000, &status) && WIFEXITED(status), "the shell exits",
	      "status 0x%x", status);
	f = fopen(out, "re");
	if (f) {
		size_t n = fread(text, 1, sizeof(text) - 1, f);

		text[n] = '\0';
		fclose(f);
	}
	for (char *p = text; (p = strchr(p, '\n')) != NULL;)
		*p = '|';
	check(strstr(text, "cuda=1|") == text, "CUDA_VISIBLE_DEVICES names the lent GPU only",
	      "output: %s", text);
	{
		char *l0 = strstr(text, "nvidia0"), *l1 = strstr(text, "nvidia1");
		char *e0 = l0 ? strchr(l0, '|') : NULL, *e1 = l1 ? strchr(l1, '|') : NULL;

		if (e0)
			*e0 = '\0';
		if (e1)
			*e1 = '\0';
		check(l0 && strstr(l0, "not permitted"),
		      v1 ? "the devices cgroup denies the other GPU"
			 : "the eBPF device program denies the other GPU",
		      "nvidia0: %s", l0 ? l0 : "opened");
		check(l1 && strstr(l1, "No such device"),
		      v1 ? "the devices cgroup allows the lent GPU"
			 : "the eBPF device program allows the lent GPU",
		      "nvidia1: %s (want ENXIO: no driver)", l1 ? l1 : "opened");
	}
destroy:
	sandbox_destroy(sb);
remove:
	unlink(out);
	unlink(gpu0);
	unlink(gpu1);
	rmdir(dir);
}

/*
 * devfence's program by itself, where the sandboxes use v1 but a cgroup2
 * hierarchy is mounted too (a hybrid host: the kernel runs v2's device
 * programs for every open as well): a cgroup there with the program for the
 * defaults and one fake GPU; a child in it, as nobody, opens /dev/null, the
 * lent GPU (ENXIO: no driver) and the other one (EPERM). On v2 the
 * sandboxes themselves use it (case_devices).
 */
static void case_devfence_hybrid(void)
{
	const char *what = "v1 host with a cgroup2 mount: the eBPF device program fences a GPU";
	char dir[] = "/tmp/coloc-devfence-XXXXXX", gpu0[64], gpu1[64], cg[PATH_MAX],
	     procs[PATH_MAX + 16];
	char err[512] = "";
	struct devfence_rule rules[2] = {{'c', 1, 3, DEVFENCE_READ | DEVFENCE_WRITE},
					 {'c', 60, 1, DEVFENCE_READ | DEVFENCE_WRITE}};
	int fd, rc, p[2], res[3] = {-1, -1, -1}, st;
	pid_t pid;

	if (strcmp(sandbox_cgroup_version(), "v1") != 0)
		return;
	if (!cgroup2_mount()[0]) {
		skip(what, "no cgroup2 hierarchy is mounted");
		return;
	}
	if (!fake_dev_dir(dir)) {
		skip(what, "mkdtemp failed");
		return;
	}
	snprintf(gpu0, sizeof(gpu0), "%s/nvidia0", dir);
	snprintf(gpu1, sizeof(gpu1), "%s/nvidia1", dir);
	snprintf(cg, sizeof(cg), "%s/%s-devfence", cgroup2_mount(), root);
	if (chmod(dir, 0755) != 0 || mknod(gpu0, S_IFCHR | 0666, makedev(60, 0)) != 0 ||
	    mknod(gpu1, S_IFCHR | 0666, makedev(60, 1)) != 0 || chmod(gpu0, 0666) != 0 ||
	    chmod(gpu1, 0666) != 0 || mkdir(cg, 0755) != 0) {
		skip(what, "cannot mknod fake GPUs or create a cgroup2 cgroup");
		goto remove;
	}
	check(devfence_program_len(rules, 2) == 6 + 2 + 2 * 8,
	      "the program has 6 + 2 + 8 per rule "
	      "instructions",
	      "%u", devfence_program_len(rules, 2));
	fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = fd < 0 ? -errno : devfence_attach(fd, rules, 2, err, sizeof(err));
	if (fd >= 0)
		close(fd);
	if (!check(rc == 0, "attach the device program to a cgroup2 cgroup", "rc %d: %s", rc, err))
		goto remove;
	if (pipe(p) != 0)
		goto remove;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	pid = fork();
	if (pid == 0) {
		const char *paths[3] = {"/dev/null", gpu1, gpu0};
		FILE *f = fopen(procs, "we");
		int out[3];

		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 ||
		    setgid(base.gid) != 0 || setuid(base.uid) != 0)
			_exit(2);
		for (int i = 0; i < 3; i++) {
			int d = open(paths[i], O_RDONLY | O_CLOEXEC);

			out[i] = d >= 0 ? 0 : errno;
		}
		_exit(write(p[1], out, sizeof(out)) == sizeof(out) ? 0 : 3);
	}
	close(p[1]);
	if (pid > 0 && read(p[0], res, sizeof(res)) != sizeof(res))
		res[0] = -1;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
	check(res[0] == 0, "the program allows /dev/null", "errno %d", res[0]);
	check(res[1] == ENXIO, "the program allows the lent GPU (ENXIO: no driver)", "errno %d",
	      res[1]);
	check(res[2] == EPERM, "the program denies the other GPU (EPERM)", "errno %d", res[2]);
remove:
	rmdir(cg);
	unlink(gpu0);
	unlink(gpu1);
	rmdir(dir);
}

/* case_cleanup_root's forgotten sandboxes: never used again, kept only so
 * that LeakSanitizer (configure --enable-sanitizers) sees them reachable. */
static struct sandbox *forgotten[2];

static void case_cleanup_root(void)
{
	char err[512] = "", where[PATH_MAX], *argv[] = {"/bin/sleep", "30", NULL};
	const char *names[2] = {"left-0", "left-1"};
	pid_t pids[2] = {-1, -1};
	double t0;
	int rc, ok = 0, dead = 0;

	for (int i = 0; i < 2; i++) {
		struct sandbox *sb = make(names[i], 64 * MiB, err, sizeof(err), &rc);

		/* "Forgotten": the node agent that made it is gone. */
		forgotten[i] = sb;
		if (rc == 0 && sandbox_spawn(sb, argv, no_env, &pids[i], err, sizeof(err)) == 0) {
			remember(pids[i]);
			ok++;
		}
	}
	if (!check(ok == 2, "two sandboxes with live processes are left behind", "%s", err))
		return;
	t0 = now_ms();
	rc = sandbox_cleanup_root(root, NULL, 200, err, sizeof(err));
	check(rc == 2, "sandbox_cleanup_root removes both", "rc %d: %s", rc, err);
	check(now_ms() - t0 < 200 + 1000, "cleanup takes at most grace + 1 s", "%.0f ms",
	      now_ms() - t0);
	/* Our own children: dead means reapable (not merely a zombie kill() sees). */
	t0 = now_ms();
	while (dead < 2 && now_ms() - t0 < 2000) {
		for (int i = 0; i < 2; i++)
			if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) == pids[i]) {
				pids[i] = -1;
				dead++;
			}
		sleep_ms(10);
	}
	check(dead == 2, "their processes are dead", "%d of 2", dead);
	check(dirs_left(NULL, where, sizeof(where)) == 0, "no cgroup of the root is left",
	      "%s exists", where);
}

/* ---- main ----------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct passwd *pw;
	struct sandbox *probe;
	cpu_set_t aff;
	char err[512] = "", where[PATH_MAX];
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(root, sizeof(root), "%s", argc > 1 ? argv[1] : "");
	if (!root[0])
		snprintf(root, sizeof(root), "coloc-test-%d", (int)getpid());
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root to create cgroups\n");
		return 77;
	}
	if (strcmp(sandbox_cgroup_version(), "none") == 0) {
		printf("1..0 # SKIP no usable cgroup v1 or v2 hierarchy is mounted\n");
		return 77;
	}
	pw = getpwnam("nobody");
	if (!pw) {
		printf("1..0 # SKIP no user nobody\n");
		return 77;
	}
	CPU_ZERO(&aff);
	if (sched_getaffinity(0, sizeof(aff), &aff) != 0) {
		printf("1..0 # SKIP sched_getaffinity: %s\n", strerror(errno));
		return 77;
	}
	for (unsigned c = 0; c < CPU_SETSIZE && c < CPUMASK_MAX; c++)
		if (CPU_ISSET(c, &aff))
			last_cpu = c;
	base.root = root;
	cpumask_clear(&base.cpus);
	cpumask_set(&base.cpus, last_cpu);
	base.mems_node = 0;
	base.mem_limit = 64 * MiB;
	base.uid = pw->pw_uid;
	base.gid = pw->pw_gid;
	base.pids_max = 64;

	/* Writable cgroups? A probe sandbox says. */
	base.name = "probe";
	rc = sandbox_create(&base, &probe, err, sizeof(err));
	if (rc == -EACCES || rc == -EROFS || rc == -EPERM || rc == -ENOTSUP) {
		printf("1..0 # SKIP cgroups are not writable here: %s\n", err);
		sandbox_cleanup_root(root, NULL, 0, err, sizeof(err));
		return 77;
	}
	sandbox_destroy(probe);
	signal(SIGALRM, watchdog);
	alarm(WATCHDOG_S);
	diag("cgroup %s, root %s, cpu %u, nobody = %u:%u", sandbox_cgroup_version(), root, last_cpu,
	     base.uid, base.gid);
	check(rc == 0, "create and destroy a sandbox", "rc %d: %s", rc, err);

	case_refusals();
	case_spawn_and_read_back();
	case_hang_on_sigterm();
	case_oom();
	case_mem_usage();
	case_missing_binary();
	case_devices();
	case_devfence_hybrid();
	case_cleanup_root();

	/* Whatever a failed case left behind goes too. */
	rc = sandbox_cleanup_root(root, NULL, 0, err, sizeof(err));
	if (rc != 0)
		diag("final cleanup: %d (%s)", rc, rc < 0 ? err : "leftovers removed");
	check(dirs_left(NULL, where, sizeof(where)) == 0,
	      "no cgroup directory named after the test's root remains", "%s exists", where);
	printf("1..%d\n", tests_run);
	return tests_failed ? 1 : 0;
}
