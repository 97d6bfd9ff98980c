/*
 * fake_sandbox: colocd/sandbox.h faked for unit tests (see fake_sandbox.h).
 *
 * Data: boxes[], every sandbox created since the reset (never freed before
 * it, so that a test keeps reading one after sandbox_destroy); spares[],
 * every executor started and not yet assigned, with the end of its channel
 * the test writes on. One thread; no locking.
 */
#include "config.h"

#include "fake_sandbox.h"

#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAKE_MAX 64	    /* sandboxes, and spares, per test */
#define CHILD_FD_BOUND 1024 /* a test holds fewer descriptors than this */

struct fake_spare {
	pid_t pid; /* 0: a free entry */
	int chan;  /* the executor's end of its channel */
	int output;
};

static struct sandbox *boxes[FAKE_MAX];
static unsigned nboxes;
static struct fake_spare spares[FAKE_MAX];
static unsigned spares_started;
static int assign_rc;

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Ends and reaps sb's executor, a child of ours not reaped yet (so its pid
 * cannot be another process's); sb->pid stays for the test to read. */
static void reap_child(struct sandbox *sb)
{
	if (sb->pid <= 0 || sb->reaped)
		return;
	kill(sb->pid, SIGKILL);
	while (waitpid(sb->pid, NULL, 0) < 0 && errno == EINTR)
		;
	sb->reaped = true;
}

static void strv_free(char **v)
{
	for (unsigned i = 0; v[i]; i++) {
		free(v[i]);
		v[i] = NULL;
	}
}

static void strv_copy(char **to, char *const from[])
{
	unsigned i = 0;

	for (; from && from[i] && i < SPARE_ARGS_MAX; i++) {
		to[i] = strdup(from[i]);
		if (!to[i])
			abort();
	}
	to[i] = NULL;
}

void fake_sandbox_reset(void)
{
	for (unsigned i = 0; i < nboxes; i++) {
		struct sandbox *sb = boxes[i];

		reap_child(sb);
		close_fd(&sb->chan);
		close_fd(&sb->output);
		strv_free(sb->argv);
		strv_free(sb->envp);
		free(sb);
		boxes[i] = NULL;
	}
	nboxes = 0;
	for (unsigned i = 0; i < FAKE_MAX; i++) {
		/* a free entry holds no descriptor; spares not assigned are the
		 * pool's to reap (spares_stop, spares_discard), never ours */
		if (spares[i].pid == 0)
			continue;
		close_fd(&spares[i].chan);
		close_fd(&spares[i].output);
		spares[i].pid = 0;
	}
	spares_started = 0;
	assign_rc = 0;
}

struct sandbox *fake_sandbox_find(const char *name)
{
	for (unsigned i = nboxes; i-- > 0;)
		if (strcmp(boxes[i]->name, name) == 0)
			return boxes[i];
	return NULL;
}

void fake_sandbox_exit(struct sandbox *sb, int status)
{
	sb->nprocs = 0;
	sb->exited = true;
	sb->status = status;
}

void fake_sandbox_release_all(void)
{
	for (unsigned i = 0; i < nboxes; i++) {
		boxes[i]->ignore_term = boxes[i]->ignore_kill = false;
		boxes[i]->nprocs = 0;
	}
}

static const char *strv_after(char *const v[], const char *key, char sep)
{
	size_t len = strlen(key);

	for (unsigned i = 0; v[i]; i++) {
		if (strncmp(v[i], key, len) != 0)
			continue;
		if (sep == '\0' && v[i][len] == '\0')
			return v[i + 1];
		if (sep != '\0' && v[i][len] == sep)
			return v[i] + len + 1;
	}
	return NULL;
}

const char *fake_sandbox_arg(const struct sandbox *sb, const char *opt)
{
	return strv_after(sb->argv, opt, '\0');
}

const char *fake_sandbox_env(const struct sandbox *sb, const char *name)
{
	return strv_after(sb->envp, name, '=');
}

unsigned fake_sandbox_spares_started(void)
{
	return spares_started;
}

void fake_sandbox_fail_assign(int rc)
{
	assign_rc = rc;
}

/* ---- sandbox.h ---------------------------------------------------------------------- */

int sandbox_create(const struct sandbox_spec *s, struct sandbox **out, char *err, size_t errlen)
{
	struct sandbox *sb;

	if (nboxes == FAKE_MAX) {
		snprintf(err, errlen, "the fake holds %d sandboxes already", FAKE_MAX);
		return -ENOSPC;
	}
	sb = calloc(1, sizeof(*sb));
	if (!sb) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(sb->name, sizeof(sb->name), "%s", s->name);
	sb->cpus = s->cpus;
	sb->mem_limit = s->mem_limit;
	sb->uid = s->uid;
	sb->gid = s->gid;
	sb->chan = sb->output = -1;
	boxes[nboxes++] = sb;
	*out = sb;
	return 0;
}

/* The spare: waits until its channel closes, then exits 0, as
 * `faas-executor --spare` does without an assignment. */
static void spare_main(int chan)
{
	char buf[256];
	ssize_t n;

	for (int fd = 3; fd < CHILD_FD_BOUND; fd++)
		if (fd != chan)
			close(fd);
	do
		n = read(chan, buf, sizeof(buf));
	while (n > 0 || (n < 0 && errno == EINTR));
	_exit(0);
}

int sandbox_spare_start(const char *executor, const char *provider, int log_fd, pid_t *pid, int *fd,
			char *err, size_t errlen)
{
	struct fake_spare *s = NULL;
	int sv[2], rc;

	(void)executor;
	(void)provider;
	for (unsigned i = 0; i < FAKE_MAX && !s; i++)
		if (spares[i].pid == 0)
			s = &spares[i];
	if (!s) {
		snprintf(err, errlen, "the fake holds %d spares already", FAKE_MAX);
		return -ENOSPC;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		rc = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return rc;
	}
	*pid = fork();
	if (*pid < 0) {
		rc = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (*pid == 0)
		spare_main(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0)
		abort();
	s->pid = *pid;
	s->chan = sv[1];
	s->output = log_fd >= 0 ? fcntl(log_fd, F_DUPFD_CLOEXEC, 0) : -1;
	*fd = sv[0];
	spares_started++;
	return 0;
}

int sandbox_assign(struct sandbox *sb, pid_t pid, int fd, char *const argv[], char *const envp[],
		   char *err, size_t errlen)
{
	struct fake_spare *s = NULL;

	(void)fd;
	for (unsigned i = 0; i < FAKE_MAX && !s; i++)
		if (spares[i].pid == pid)
			s = &spares[i];
	if (!s || pid <= 0) {
		snprintf(err, errlen, "pid %d is no spare executor of the fake", (int)pid);
		return -ESRCH;
	}
	if (assign_rc) {
		int rc = assign_rc;

		assign_rc = 0;
		snprintf(err, errlen, "the test fails this assignment: %s", strerror(-rc));
		return rc;
	}
	sb->pid = pid;
	sb->chan = s->chan;
	sb->output = s->output;
	*s = (struct fake_spare){.chan = -1, .output = -1};
	strv_copy(sb->argv, argv);
	strv_copy(sb->envp, envp);
	sb->nprocs = 1;
	return 0;
}

int sandbox_reap(struct sandbox *sb, pid_t *pid, int *status)
{
	if (!sb->exited || sb->reaped)
		return 0;
	*pid = sb->pid;
	*status = sb->status;
	reap_child(sb);
	return 1;
}

int sandbox_read(struct sandbox *sb, struct sandbox_state *st)
{
	*st = sb->state;
	st->cpus = sb->cpus;
	st->nprocs = sb->nprocs;
	return 0;
}

int sandbox_set_cpus(struct sandbox *sb, const struct cpumask *cpus, char *err, size_t errlen)
{
	if (cpumask_empty(cpus)) {
		snprintf(err, errlen, "empty cpuset");
		return -EINVAL;
	}
	sb->cpus = *cpus;
	sb->cpus_moved++;
	return 0;
}

void sandbox_terminate(struct sandbox *sb)
{
	sb->terminated++;
	if (!sb->ignore_term)
		sb->nprocs = 0;
}

unsigned sandbox_kill(struct sandbox *sb)
{
	unsigned n = sb->nprocs;

	if (sb->kills++ == 0)
		sb->killed_ms = clock_ms();
	if (!sb->ignore_kill)
		sb->nprocs = 0;
	return n;
}

unsigned sandbox_nprocs(struct sandbox *sb)
{
	return sb->nprocs;
}

void sandbox_destroy(struct sandbox *sb)
{
	if (!sb)
		return;
	reap_child(sb);
	sb->nprocs = 0;
	sb->destroyed = true;
}

int sandbox_cleanup_root(const char *root, const char *prefix, unsigned grace_ms, char *err,
			 size_t errlen)
{
	(void)root;
	(void)prefix;
	(void)grace_ms;
	(void)err;
	(void)errlen;
	return 0;
}

const char *sandbox_cgroup_version(void)
{
	return "fake";
}

const char *sandbox_cgroup_dir(void)
{
	return "/sys/fs/cgroup/fake";
}
