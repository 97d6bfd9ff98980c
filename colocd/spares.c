/*
 * spares: the pool of spare executors (see spares.h).
 */
#include "config.h"

#include "spares.h"

#include "clock.h"
#include "log.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPARE_RETRY_MS 1000 /* after a spare fails, doubling up to a minute */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void spares_init(struct spares *p, const char *executor, const char *provider, unsigned want)
{
	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < SPARES_MAX; i++)
		p->slot[i] = (struct spare_exec){.chan = -1, .output = -1};
	p->executor = executor;
	snprintf(p->provider, sizeof(p->provider), "%s", provider ? provider : "");
	p->want = want < SPARES_MAX ? want : SPARES_MAX;
}

int spares_start_one(const struct spares *p, struct spare_exec *out, char *err, size_t errlen)
{
	int pipefd[2], rc;

	*out = (struct spare_exec){.chan = -1, .output = -1};
	if (!p->executor) {
		snprintf(err, errlen, "this node agent has no executor to start");
		return -ENOENT;
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot start an executor: pipe: %s", strerror(errno));
		return rc;
	}
	/* the executor's end blocks, as a terminal's would */
	if (fcntl(pipefd[1], F_SETFL, 0) != 0)
		log_debug("an executor's output pipe stays non-blocking: %s", strerror(errno));
	rc = sandbox_spare_start(p->executor, p->provider, pipefd[1], &out->pid, &out->chan, err,
				 errlen);
	close(pipefd[1]);
	if (rc) {
		close(pipefd[0]);
		return rc;
	}
	out->output = pipefd[0];
	return 0;
}

static void describe_exit(int status, char *why, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(why, len, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, len, "exited with status %d", WEXITSTATUS(status));
}

/* What a waiting spare wrote: root's own output before any lease, to
 * colocd's log. Bounded per call. */
static void drain(struct spare_exec *s)
{
	char buf[1024];
	ssize_t n;

	for (int i = 0; i < 8 && s->output >= 0; i++) {
		n = read(s->output, buf, sizeof(buf) - 1);
		if (n <= 0) {
			if (n == 0)
				close_fd(&s->output);
			return;
		}
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_debug("spare executor %d: %s", (int)s->pid, buf);
	}
}

/* Reaps slot i's process if it has exited. */
static void reap(struct spares *p, unsigned i, int64_t now_ms)
{
	struct spare_exec *s = &p->slot[i];
	char why[64];
	int status;

	if (s->pid <= 0 || waitpid(s->pid, &status, WNOHANG) != s->pid)
		return;
	drain(s);
	if (s->chan >= 0) { /* it died waiting for a lease */
		int64_t delay = (int64_t)SPARE_RETRY_MS << (p->retries[i] < 6 ? p->retries[i] : 6);

		describe_exit(status, why, sizeof(why));
		log_warning("spare executor %d %s before any lease needed it; another starts in "
			    "%lld ms (check that the executor runs: faas-executor --help)",
			    (int)s->pid, why, (long long)delay);
		p->next_ms[i] = now_ms + delay;
		p->retries[i]++;
	}
	close_fd(&s->chan);
	close_fd(&s->output);
	s->pid = 0;
}

void spares_tick(struct spares *p, int64_t now_ms)
{
	for (unsigned i = 0; i < SPARES_MAX; i++) {
		struct spare_exec *s = &p->slot[i];
		char err[256];

		if (i >= p->want)
			close_fd(&s->chan); /* it exits when it reads the end */
		drain(s);
		reap(p, i, now_ms);
		if (i >= p->want || s->pid != 0 || now_ms < p->next_ms[i] || !p->executor)
			continue;
		if (spares_start_one(p, s, err, sizeof(err)) == 0) {
			s->since_ms = now_ms;
		} else {
			log_warning("%s. Retrying in %d ms.", err, SPARE_RETRY_MS);
			*s = (struct spare_exec){.chan = -1, .output = -1};
			p->next_ms[i] = now_ms + SPARE_RETRY_MS;
		}
	}
}

bool spares_take(struct spares *p, int64_t now_ms, struct spare_exec *out)
{
	struct spare_exec *s;
	unsigned best = SPARES_MAX;

	for (unsigned i = 0; i < p->want; i++) {
		reap(p, i, now_ms);
		s = &p->slot[i];
		if (s->pid > 0 && s->chan >= 0 &&
		    (best == SPARES_MAX || s->since_ms < p->slot[best].since_ms))
			best = i;
	}
	if (best == SPARES_MAX)
		return false;
	s = &p->slot[best];
	/* it is a lease's executor now: it leaves SCHED_IDLE itself when it
	 * reads the assignment, which it can do only once it has loaded */
	if (sched_setscheduler(s->pid, SCHED_OTHER, &(struct sched_param){0}) != 0)
		log_debug("spare executor %d stays SCHED_IDLE until it reads its lease: %s",
			  (int)s->pid, strerror(errno));
	*out = *s;
	*s = (struct spare_exec){.chan = -1, .output = -1};
	p->next_ms[best] = now_ms;
	p->retries[best] = 0;
	return true;
}

void spares_discard(struct spare_exec *s)
{
	close_fd(&s->chan);
	close_fd(&s->output);
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	s->pid = 0;
}

void spares_stop(struct spares *p)
{
	int64_t end = clock_ms() + 2000;

	for (unsigned i = 0; i < SPARES_MAX; i++)
		close_fd(&p->slot[i].chan);
	for (unsigned i = 0; i < SPARES_MAX; i++) {
		struct spare_exec *s = &p->slot[i];

		while (s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == 0 && clock_ms() < end)
			usleep(5000);
		if (s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == 0) {
			kill(s->pid, SIGKILL);
			while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		close_fd(&s->output);
		s->pid = 0;
	}
}
