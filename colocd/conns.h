/*
 * conns: colocd's inbound connections. Listeners (TCP, and unix sockets
 * whose peer uid is read with SO_PEERCRED) feed an epoll set; each
 * connection carries a request frame and gets a reply frame (a streamed
 * query: several, conns_reply_part), then the next request (keep-alive: a node agent keeps one
 * connection to the controller) until its peer closes it or it is silent for CONNS_KEEP_MS between
 * requests. A reply may be deferred (a lease waits for its executor): the handler keeps the
 * connection's reference and answers later; a reference whose connection has gone away is
 * recognised and ignored.
 *
 * Capacity (issue 11 defect 4: idle TCP connections from one user made
 * root's host job reports fail): connections through unix sockets (root's
 * plugin reports) have CONNS_LOCAL_MAX slots of their own, which TCP peers
 * cannot take; TCP connections share CONNS_TCP_MAX slots (fewer when the
 * descriptor limit is lower), at most MaxConnectionsPerHost from one peer
 * address. A connection must send its whole request within
 * CONNS_REQUEST_MS of its accept, and something at least every
 * CONNS_IDLE_MS, else it is closed: a peer trickling bytes is closed at
 * the deadline. A connection refused or closed for these reasons is
 * logged at most once per CONNS_LOG_INTERVAL_MS, with a count of the rest.
 *
 * Once a whole request is read, the connection is watched only for its
 * peer going away (EPOLLRDHUP): bytes sent after the request are left
 * unread, so a peer cannot make the loop spin while its reply is deferred.
 *
 * Epoll tags: conns_event() recognises the data.ptr values it registered;
 * the caller tags its own fds with pointers to its own objects.
 */
#ifndef COLOC_CONNS_H
#define COLOC_CONNS_H

#include "msg.h"

#include <stdbool.h>
#include <stdint.h>

#define CONNS_LOCAL_MAX 128   /* unix socket connections */
#define CONNS_TCP_MAX 65536   /* TCP connections, every TCP listener together */
#define CONNS_REQUEST_MS 5000 /* from accept to a whole request */
#define CONNS_IDLE_MS 2000    /* the longest silence before a whole request */
#ifndef CONNS_KEEP_MS	      /* a unit test shortens it */
#define CONNS_KEEP_MS 10000   /* the longest silence between two requests */
#endif
#define CONNS_LOG_INTERVAL_MS 10000 /* one line per interval for refusals and closes */

/* Who sent a request. */
struct conns_peer {
	bool local;    /* came through a unix socket */
	uint32_t uid;  /* the unix peer's uid (SO_PEERCRED), UINT32_MAX for TCP */
	char addr[64]; /* the TCP peer's numeric address, "" for unix */
	unsigned kind; /* the listener's kind, as given to conns_listen_* */
};

/* What a connection's session holds (auth.h: the controller verified a
 * MUNGE credential proposing key on it); cleared when it closes. */
struct conns_session {
	bool set;
	uint32_t uid, gid;
	uint8_t key[32];
	uint64_t counter; /* the last request's */
	int64_t expires;  /* unix seconds */
};

/* A connection awaiting its reply: index and generation. 0 is none. */
typedef uint64_t conn_ref;

typedef void (*conns_handler)(void *ctx, conn_ref ref, const struct conns_peer *peer,
			      const struct msg *m);

struct conns;

/* per_host: MaxConnectionsPerHost, at least 1. Raises the soft limit on
 * open files towards what the tables need. NULL with errno. */
struct conns *conns_create(int epoll_fd, unsigned per_host, conns_handler handler, void *ctx);
void conns_destroy(struct conns *c); /* closes everything; NULL: no-op */

/* MaxConnectionsPerHost, after a reload: for connections accepted from now on. */
void conns_set_per_host(struct conns *c, unsigned per_host);

/* Listeners. TCP: one socket on every address host resolves to (NULL:
 * every address of the host, 0.0.0.0 and [::]); the number of sockets,
 * or -errno with err naming the address that failed (nothing is left
 * listening then). Unix: the fd, or -errno. */
int conns_listen_tcp(struct conns *c, const char *host, uint16_t port, unsigned kind, char *err,
		     size_t errlen);
int conns_listen_unix(struct conns *c, const char *path, unsigned kind);

/* The session of ref's connection (the caller reads and sets it), or NULL
 * when ref is stale. */
struct conns_session *conns_session(struct conns *c, conn_ref ref);

/* If tag is one of ours, handles the event and returns true. */
bool conns_event(struct conns *c, void *tag);

/* Answers ref's connection (which then reads its next request); a stale
 * ref is ignored. (The
 * daemon wraps it in a msg_reply_fn, so errors go through msg_reply_error.) */
void conns_reply(struct conns *c, conn_ref ref, const struct msg *m);

/* A part of ref's reply (a page of a streamed query): written as
 * conns_reply's, after what the connection still has to write, but the
 * request stays open (ref valid) for the next part or the reply. A stale
 * ref is ignored. */
void conns_reply_part(struct conns *c, conn_ref ref, const struct msg *m);

/* Whether ref's connection takes the next part now: 1 (its parts are
 * out), 0 (one is being written: EPOLLOUT), -1 (stale: gone or answered). */
int conns_ready(const struct conns *c, conn_ref ref);

/* Marks ref's reply as deferred: the deadlines no longer apply, and the
 * connection is dropped (ref goes stale) if the peer closes it. A request
 * the handler neither answers nor defers is deferred when it returns. */
void conns_defer(struct conns *c, conn_ref ref);

/* Whether ref's connection is still open. */
bool conns_alive(const struct conns *c, conn_ref ref);

/* Closes connections past their deadlines, resumes listeners paused for
 * want of descriptors, writes the counts of held-back log lines. Call it
 * every loop iteration; it does its work at most every 100 ms. */
void conns_tick(struct conns *c);

#endif
