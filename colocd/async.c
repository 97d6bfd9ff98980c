/*
 * async: see async.h. A request is one detached thread: it owns a heap
 * copy of the request, calls ctl_request_at() and writes a pointer to its
 * completion into the pipe (8 bytes, atomic below PIPE_BUF). The loop
 * reads the pointers back and runs the callbacks. async_call_kept's
 * requests go on one kept connection (kept_fd), used by one thread at a
 * time (kept_busy); a request that finds it busy gets a connection of its
 * own.
 */
#include "config.h"

#include "async.h"

#include "clock.h"
#include "cred.h"
#include "ctl_client.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct async {
	struct coloc_config cfg;
	int rfd, wfd;
	atomic_uint inflight;
	int kept_fd;	     /* async_call_kept's connection, -1: none */
	char kept_host[256]; /* where it goes */
	struct ctl_session kept_session;
	uint16_t kept_port;
	atomic_bool kept_busy; /* a request is on it */
};

struct async_job {
	struct async *a;
	char host[256];
	uint16_t port;
	const char *keys;
	char dest[CRED_DEST_MAX];
	int timeout_ms;
	async_cb cb;
	void *arg;
	uint64_t cookie;
	int rc;
	bool kept; /* on a->kept_fd */
	char err[512];
	struct msg req, reply;
};

struct async *async_create(const struct coloc_config *cfg)
{
	struct async *a = calloc(1, sizeof(*a));
	int p[2];

	if (!a)
		return NULL;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(a);
		return NULL;
	}
	/* writers block rather than lose a completion */
	fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) & ~O_NONBLOCK);
	a->cfg = *cfg;
	a->rfd = p[0];
	a->wfd = p[1];
	a->kept_fd = -1;
	return a;
}

int async_fd(const struct async *a)
{
	return a->rfd;
}

unsigned async_inflight(const struct async *a)
{
	return atomic_load(&a->inflight);
}

static void finish(struct async_job *j)
{
	/* never blocks: the pipe holds 8192 pointers; at most 64 calls and
	 * CONNS_MAX posts wait in it */
	ssize_t n = write(j->a->wfd, &j, sizeof(j));

	if (n != sizeof(j)) { /* only when the loop is gone */
		msg_free(&j->reply);
		free(j);
	}
}

static void *run(void *arg)
{
	struct async_job *j = arg;

	struct async *a = j->a;

	if (j->kept) {
		if (a->kept_fd >= 0 && (a->kept_port != j->port || strcmp(a->kept_host, j->host))) {
			close(a->kept_fd); /* ControllerHost changed */
			a->kept_fd = -1;
			explicit_bzero(&a->kept_session, sizeof(a->kept_session));
		}
		snprintf(a->kept_host, sizeof(a->kept_host), "%s", j->host);
		a->kept_port = j->port;
		j->rc = ctl_request_kept(&a->cfg, j->host, j->port, j->keys, j->dest, &a->kept_fd,
					 &a->kept_session, &j->req, &j->reply, j->timeout_ms,
					 j->err, sizeof(j->err));
		atomic_store(&a->kept_busy, false);
	} else {
		j->rc = ctl_request_at(&a->cfg, j->host, j->port, j->keys, j->dest, &j->req,
				       &j->reply, j->timeout_ms, j->err, sizeof(j->err));
	}

	explicit_bzero(j->req.cred, sizeof(j->req.cred));
	msg_free(&j->req);
	finish(j);
	atomic_fetch_sub(&a->inflight, 1); /* after the write: destroy may close the pipe */
	return NULL;
}

static int call(struct async *a, bool kept, const char *host, uint16_t port, const char *keys,
		const char *dest, struct msg *req, int timeout_ms, async_cb cb, void *arg,
		uint64_t cookie)
{
	struct async_job *j;
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (atomic_load(&a->inflight) >= ASYNC_MAX_INFLIGHT) {
		msg_free(req);
		return -EBUSY;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		msg_free(req);
		return -ENOMEM;
	}
	j->a = a;
	snprintf(j->host, sizeof(j->host), "%s", host);
	j->port = port;
	j->keys = keys;
	snprintf(j->dest, sizeof(j->dest), "%s", dest);
	j->timeout_ms = timeout_ms;
	j->cb = cb;
	j->arg = arg;
	j->cookie = cookie;
	j->kept = kept;
	j->req = *req; /* moved: the job frees it */
	atomic_fetch_add(&a->inflight, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	rc = pthread_create(&t, &attr, run, j);
	pthread_attr_destroy(&attr);
	if (rc) {
		atomic_fetch_sub(&a->inflight, 1);
		if (kept)
			atomic_store(&a->kept_busy, false);
		msg_free(&j->req);
		free(j);
		return -EAGAIN;
	}
	return 0;
}

int async_call(struct async *a, const char *host, uint16_t port, const char *keys, const char *dest,
	       struct msg *req, int timeout_ms, async_cb cb, void *arg, uint64_t cookie)
{
	return call(a, false, host, port, keys, dest, req, timeout_ms, cb, arg, cookie);
}

int async_call_kept(struct async *a, const char *host, uint16_t port, const char *keys,
		    const char *dest, struct msg *req, int timeout_ms, async_cb cb, void *arg,
		    uint64_t cookie)
{
	bool kept = !atomic_exchange(&a->kept_busy, true);

	return call(a, kept, host, port, keys, dest, req, timeout_ms, cb, arg, cookie);
}

int async_post(struct async *a, struct msg *reply, async_cb cb, void *arg, uint64_t cookie)
{
	struct async_job *j = calloc(1, sizeof(*j));

	if (!j) {
		msg_free(reply);
		return -ENOMEM;
	}
	j->a = a;
	j->cb = cb;
	j->arg = arg;
	j->cookie = cookie;
	j->reply = *reply;
	finish(j);
	return 0;
}

void async_dispatch(struct async *a)
{
	struct async_job *j;

	while (read(a->rfd, &j, sizeof(j)) == sizeof(j)) {
		j->cb(j->arg, j->cookie, j->rc, j->rc ? NULL : &j->reply, j->err);
		msg_free(&j->reply);
		free(j);
	}
}

void async_destroy(struct async *a, int timeout_ms)
{
	int64_t end = clock_ms() + timeout_ms;
	struct async_job *j;

	if (!a)
		return;
	while (atomic_load(&a->inflight) && clock_ms() < end)
		clock_sleep_ms(5);
	if (atomic_load(&a->inflight)) {
		/* a thread still runs and will write: keep the pipe, leak a */
		log_warning("%u request(s) to other colocd still running at exit",
			    atomic_load(&a->inflight));
		return;
	}
	while (read(a->rfd, &j, sizeof(j)) == sizeof(j)) {
		msg_free(&j->reply);
		free(j);
	}
	if (a->kept_fd >= 0)
		close(a->kept_fd);
	close(a->rfd);
	close(a->wfd);
	free(a);
}
