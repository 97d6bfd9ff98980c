/*
 * assignment: see assignment.h. No state beyond the assignment's buffer,
 * which holds the argv and environment returned.
 */
#include "config.h"

#include "assignment.h"

#include "log.h"
#include "spare.h"
#include "transport.h"
#include "userlimits.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/prctl.h>
#include <pwd.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Initialises libfabric ahead of the lease (its first fi_getinfo costs
 * about 0.1 s), as nobody while root: whatever libfabric opens now stays
 * open for the lease's owner, so it must be what anyone may open. The spare
 * then waits as nobody too (real, effective and fs uid; no effective
 * capability); root stays only in its saved uid and gid, which
 * spare_take_root() uses once the assignment has come.
 */
static void spare_preinit(void)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t uid = pw ? pw->pw_uid : 65534;
	gid_t gid = pw ? pw->pw_gid : 65534;
	bool root = geteuid() == 0;

	if (root && (setgroups(0, NULL) != 0 || setresgid(gid, gid, 0) != 0 ||
		     setresuid(uid, uid, 0) != 0)) {
		fprintf(stderr,
			"faas-executor: --spare: cannot become nobody to initialise "
			"libfabric (%s); leaving that to the lease\n",
			strerror(errno));
		if (setresuid(0, 0, 0) != 0 || setresgid(0, 0, 0) != 0)
			exit(1);
		return;
	}
	transport_preinit(NULL);
}

/* Root back from the saved uid, for the owner's limits and identity. */
static void spare_take_root(void)
{
	uid_t ruid, euid, suid;

	if (getresuid(&ruid, &euid, &suid) != 0 || suid != 0 || (ruid == 0 && euid == 0))
		return; /* not started as root, or root throughout (preinit failed) */
	if (setresuid(0, 0, 0) != 0 || setresgid(0, 0, 0) != 0) {
		fprintf(stderr, "faas-executor: --spare: cannot take root back: %s\n",
			strerror(errno));
		exit(1);
	}
}

/* Exits a spare that got no assignment (colocd no longer needs it, or the
 * assignment was bad): as root again, and dumpable, as root's processes
 * are. Waiting as nobody with root saved made it undumpable, and a leak
 * check at exit (LeakSanitizer, which stops the process's threads with
 * ptrace) fails on an undumpable process that is not root. */
static __attribute__((noreturn)) void spare_exit(int code)
{
	spare_take_root();
	if (geteuid() == 0 && prctl(PR_SET_DUMPABLE, 1) != 0)
		log_debug("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
	exit(code);
}

/*
 * ps and /proc/PID/cmdline and environ show the lease's arguments and
 * environment, as if the executor had been started with them: each list
 * lies contiguous in the assignment's buffer, and PR_SET_MM_MAP (which
 * needs no capability) moves the kernel's record of both. The other fields
 * of the record are this process's own, from /proc/self/stat.
 */
static void spare_show(const struct spare_assignment *a)
{
	struct prctl_mm_map m = {.exe_fd = (uint32_t)-1};
	unsigned long v[52] = {0};
	const char *last = a->argv[a->argc - 1], *why = NULL;
	char st[4096], *p, *save = NULL;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n = f ? fread(st, 1, sizeof(st) - 1, f) : 0;

	if (f)
		fclose(f);
	st[n] = '\0';
	p = strrchr(st, ')'); /* the command name may hold blanks */
	if (!p)
		why = "/proc/self/stat is unreadable";
	for (int i = 3; p && (p = strtok_r(i == 3 ? p + 1 : NULL, " ", &save)) && i < 52; i++)
		v[i] = strtoul(p, NULL, 10);
	if (!why) {
		m.start_code = v[26];
		m.end_code = v[27];
		m.start_stack = v[28];
		m.start_data = v[45];
		m.end_data = v[46];
		m.start_brk = v[47];
		m.brk = (uintptr_t)sbrk(0);
		m.arg_start = (uintptr_t)a->argv[0];
		m.arg_end = (uintptr_t)(last + strlen(last) + 1);
		m.env_start = v[50];
		m.env_end = v[51];
		if (a->envc) {
			last = a->envp[a->envc - 1];
			m.env_start = (uintptr_t)a->envp[0];
			m.env_end = (uintptr_t)(last + strlen(last) + 1);
		}
		if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&m, sizeof(m), 0) != 0)
			why = strerror(errno);
	}
	if (why)
		fprintf(stderr,
			"faas-executor: --spare: ps and /proc show the spare's arguments and "
			"environment, not the lease's (PR_SET_MM_MAP: %s)\n",
			why);
}

/*
 * --spare: waits for colocd's assignment on standard input (a unix socket
 * whose sending side colocd shuts after it), takes its uid and gid, the
 * owner's resource limits, environment and arguments, and returns the
 * arguments.
 * The libraries are loaded by now, which is why colocd starts spares ahead
 * of leases. Exits 0 when colocd closes the pipe without an assignment.
 */
/*
 * The owner's resource limits, as a login of theirs would get them
 * (userlimits.h), instead of root's: taken while still root, so that
 * limits above root's own can be set where the site allows them. An owner
 * with no account on the node ends the executor (SPARE_EXIT_NO_ACCOUNT,
 * which colocd reports); limits that cannot be read or set are reported
 * and the lower of both is kept.
 */
static void take_limits(uid_t uid)
{
	struct userlimits u;
	char err[1024];
	int rc = userlimits_load(uid, NULL, &u, err, sizeof(err));

	if (rc == -ENOENT) {
		fprintf(stderr, "faas-executor: %s\n", err);
		exit(SPARE_EXIT_NO_ACCOUNT);
	}
	if (rc != 0)
		fprintf(stderr, "faas-executor: the lease owner's limits: %s\n", err);
	if (rc < 0)
		return;
	if (userlimits_apply(&u, err, sizeof(err)) != 0)
		fprintf(stderr, "faas-executor: %s\n", err);
}

char **assignment_await(int *argc)
{
	static struct spare_assignment a;
	struct stat st;
	size_t len = 0;
	char *buf, err[256];
	int step, e = 0;

	if (fstat(0, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "faas-executor: --spare reads its assignment from colocd on a unix "
				"socket; it is not started by hand\n");
		exit(2);
	}
	spare_preinit();
	buf = malloc(SPARE_MSG_MAX + 1);
	if (!buf) {
		fprintf(stderr, "faas-executor: --spare: out of memory\n");
		spare_exit(1);
	}
	for (;;) {
		ssize_t n = read(0, buf + len, SPARE_MSG_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "faas-executor: --spare: reading the assignment: %s\n",
				strerror(errno));
			spare_exit(1);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SPARE_MSG_MAX) {
			fprintf(stderr, "faas-executor: --spare: the assignment exceeds %d bytes\n",
				SPARE_MSG_MAX);
			spare_exit(1);
		}
	}
	if (len == 0)
		spare_exit(0); /* colocd no longer needs this spare */
	if (spare_decode(buf, len, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "faas-executor: --spare: %s\n", err);
		spare_exit(1);
	}
	spare_take_root();
	take_limits(a.uid);
	spare_show(&a);
	/* colocd started the spare SCHED_IDLE: the lease's executor is not */
	if (sched_setscheduler(0, SCHED_OTHER, &(struct sched_param){0}) != 0)
		fprintf(stderr, "faas-executor: --spare: cannot leave SCHED_IDLE: %s\n",
			strerror(errno));
	step = identity_drop(a.uid, a.gid, &e);
	if (step) {
		fprintf(stderr, "faas-executor: --spare: cannot %s (uid %u, gid %u): %s\n",
			identity_steps[step - 1], (unsigned)a.uid, (unsigned)a.gid, strerror(e));
		exit(1);
	}
	/* As after an exec by the owner: the owner may debug its executor. */
	if (prctl(PR_SET_DUMPABLE, 1) != 0)
		log_debug("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
	if (clearenv() != 0) {
		fprintf(stderr, "faas-executor: --spare: cannot clear the environment\n");
		exit(1);
	}
	for (unsigned i = 0; i < a.envc; i++)
		if (putenv(a.envp[i]) != 0) {
			fprintf(stderr, "faas-executor: --spare: cannot set %.64s\n", a.envp[i]);
			exit(1);
		}
	/* fd 0 stays: the lease document goes back to colocd on it (--publish fd:0) */
	*argc = (int)a.argc;
	return a.argv;
}
