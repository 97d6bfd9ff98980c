/*
 * async: requests colocd sends to another colocd (a node agent's state to
 * the controller, the controller's exec_start and exec_stop to a node
 * agent) without stalling its event loop. Each request runs ctl_request_at()
 * in its own short-lived thread; its completion is handed back through a
 * pipe the loop polls, so every callback runs on the loop's thread and the
 * daemon's state is never shared between threads.
 *
 * async_post() queues a completion without a thread or a network: colocd
 * --standalone links its controller and node agent with it, so the two
 * roles see the same asynchronous replies as they would across hosts.
 */
#ifndef COLOC_ASYNC_H
#define COLOC_ASYNC_H

#include "coloc_config.h"
#include "msg.h"

#include <stddef.h>
#include <stdint.h>

#define ASYNC_MAX_INFLIGHT 64

/* rc: 0 with *reply set (an error message is a reply too), else -errno
 * with err saying why no reply came. reply is freed after the call. */
typedef void (*async_cb)(void *arg, uint64_t cookie, int rc, const struct msg *reply,
			 const char *err);

struct async;

/* The caller polls async_fd() for input and calls async_dispatch(). */
struct async *async_create(const struct coloc_config *cfg);
int async_fd(const struct async *a);

/* Sends *req to host:port with a fresh credential bound to it and dest
 * (see ctl_request_at), bounded by timeout_ms; cb runs later on the loop's
 * thread. *req is moved (what it owns is freed by async, also on failure).
 * -EBUSY when ASYNC_MAX_INFLIGHT requests are already running, -ENOMEM,
 * -EAGAIN: cb will not run. keys names the coloc.conf keys behind
 * host:port, for error messages. */
int async_call(struct async *a, const char *host, uint16_t port, const char *keys, const char *dest,
	       struct msg *req, int timeout_ms, async_cb cb, void *arg, uint64_t cookie);

/* async_call on one kept connection (ctl_request_kept), for a stream of
 * requests to one place: a node agent's state to the controller, every
 * second. host and port must be the same at every call; a request sent
 * while the previous one still runs gets a connection of its own. */
int async_call_kept(struct async *a, const char *host, uint16_t port, const char *keys,
		    const char *dest, struct msg *req, int timeout_ms, async_cb cb, void *arg,
		    uint64_t cookie);

/* Queues cb with *reply (moved, as for async_call). 0 or -ENOMEM. */
int async_post(struct async *a, struct msg *reply, async_cb cb, void *arg, uint64_t cookie);

/* Runs the callbacks of the completions that have arrived. */
void async_dispatch(struct async *a);

/* Requests still running. */
unsigned async_inflight(const struct async *a);

/* Waits up to timeout_ms for running requests, drops what has not
 * arrived (their callbacks do not run), frees a. NULL: no-op. */
void async_destroy(struct async *a, int timeout_ms);

#endif
