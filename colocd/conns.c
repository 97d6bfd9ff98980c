/*
 * conns: see conns.h. A fixed table of CONNS_MAX connections, each with an
 * incremental frame reader; a reference packs the slot index and the
 * slot's generation, bumped at every close, so a late answer to a closed
 * connection never reaches the next one in that slot.
 */
#include "config.h"

#include "conns.h"

#include "clock.h"
#include "frame.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS 1000
#define MAX_LISTENERS 16 /* a unix socket and every address of the TCP ones */

struct conn {
	int fd; /* -1 when free */
	uint32_t gen;
	struct conns_peer peer;
	struct frame_reader reader;
	int64_t since;
	bool waiting; /* the reply is deferred */
};

struct listener {
	int fd;
	bool local;
	unsigned kind;
};

struct conns {
	int ep;
	conns_handler handler;
	void *ctx;
	struct listener listeners[MAX_LISTENERS];
	unsigned nlisteners;
	struct conn conn[CONNS_MAX];
};

struct conns *conns_create(int epoll_fd, conns_handler handler, void *ctx)
{
	struct conns *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ep = epoll_fd;
	c->handler = handler;
	c->ctx = ctx;
	for (unsigned i = 0; i < CONNS_MAX; i++)
		c->conn[i].fd = -1;
	return c;
}

static void conn_close(struct conns *c, struct conn *k)
{
	if (k->fd < 0)
		return;
	epoll_ctl(c->ep, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	frame_reader_fini(&k->reader);
	k->fd = -1;
	k->gen++;
	k->waiting = false;
}

void conns_destroy(struct conns *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < CONNS_MAX; i++)
		conn_close(c, &c->conn[i]);
	for (unsigned i = 0; i < c->nlisteners; i++)
		close(c->listeners[i].fd);
	free(c);
}

static conn_ref ref_of(const struct conns *c, const struct conn *k)
{
	return ((uint64_t)k->gen << 32) | (uint64_t)(k - c->conn + 1);
}

static struct conn *conn_of(const struct conns *c, conn_ref ref)
{
	uint64_t i = (ref & 0xffffffffu);
	const struct conn *k;

	if (i == 0 || i > CONNS_MAX)
		return NULL;
	k = &c->conn[i - 1];
	return k->fd >= 0 && k->gen == (uint32_t)(ref >> 32) ? (struct conn *)k : NULL;
}

bool conns_alive(const struct conns *c, conn_ref ref)
{
	return conn_of(c, ref) != NULL;
}

static int add_listener(struct conns *c, int fd, bool local, unsigned kind)
{
	struct listener *l;
	struct epoll_event ev = {.events = EPOLLIN};

	if (c->nlisteners == MAX_LISTENERS) {
		close(fd);
		return -ENOSPC;
	}
	l = &c->listeners[c->nlisteners];
	*l = (struct listener){.fd = fd, .local = local, .kind = kind};
	ev.data.ptr = l;
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	c->nlisteners++;
	return fd;
}

/* "host:port" or "[v6]:port" of a numeric address. */
static void addr_name(const struct addrinfo *a, char *out, size_t len)
{
	char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";

	getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof(host), port, sizeof(port),
		    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(out, len, a->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* A listening socket on a, or -errno. */
static int listen_one(const struct addrinfo *a)
{
	int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1, rc;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::] must not take IPv4 too: 0.0.0.0 is bound on its own */
	if ((a->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 64) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* Listens on every address host resolves to (NULL: every address of the
 * host, IPv4 and IPv6), so that no user can bind one colocd left free
 * and answer in its place. An address this host does not have, or a
 * family its kernel lacks, is skipped (nobody can bind those either);
 * any other failure undoes the call. */
int conns_listen_tcp(struct conns *c, const char *host, uint16_t port, unsigned kind, char *err,
		     size_t errlen)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	unsigned first = c->nlisteners, n = 0;
	char service[16], name[NI_MAXHOST + 16];
	int rc;

	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host ? host : "(every address)",
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -EADDRNOTAVAIL;
	}
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		bool seen = false;

		if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
			continue;
		for (struct addrinfo *b = res; b != a && !seen; b = b->ai_next)
			seen = b->ai_addrlen == a->ai_addrlen &&
			       memcmp(b->ai_addr, a->ai_addr, a->ai_addrlen) == 0;
		if (seen)
			continue;
		addr_name(a, name, sizeof(name));
		rc = listen_one(a);
		if (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL) {
			log_warning("not listening on %s: %s (this host does not have it)", name,
				    strerror(-rc));
			continue;
		}
		if (rc >= 0)
			rc = add_listener(c, rc, false, kind);
		if (rc < 0) {
			if (rc == -ENOSPC)
				snprintf(
				    err, errlen,
				    "cannot listen on %s: colocd listens on %d sockets at most; "
				    "name a host with fewer addresses",
				    name, MAX_LISTENERS);
			else
				snprintf(err, errlen, "cannot listen on %s: %s", name,
					 strerror(-rc));
			goto undo;
		}
		n++;
	}
	freeaddrinfo(res);
	if (n == 0) {
		snprintf(err, errlen, "%s has no address this host can listen on",
			 host ? host : "(every address)");
		return -EADDRNOTAVAIL;
	}
	return (int)n;
undo:
	freeaddrinfo(res);
	while (c->nlisteners > first) {
		struct listener *l = &c->listeners[--c->nlisteners];

		epoll_ctl(c->ep, EPOLL_CTL_DEL, l->fd, NULL);
		close(l->fd);
	}
	return rc;
}

int conns_listen_unix(struct conns *c, const char *path, unsigned kind)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char dir[sizeof(a.sun_path)], *slash;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || chmod(path, 0600) != 0 ||
	    listen(fd, 64) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return add_listener(c, fd, true, kind);
}

/* ---- replies ------------------------------------------------------------------ */

void conns_reply(struct conns *c, conn_ref ref, const struct msg *m)
{
	struct conn *k = conn_of(c, ref);
	char *text = NULL;

	if (!k)
		return;
	if (msg_encode(m, &text) == 0)
		frame_send(k->fd, text, strlen(text), REPLY_TIMEOUT_MS);
	free(text);
	conn_close(c, k);
}

void conns_reply_error(struct conns *c, conn_ref ref, const char *code, const char *fmt, ...)
{
	struct msg m;
	va_list ap;

	va_start(ap, fmt);
	msg_verror(&m, code, fmt, ap);
	va_end(ap);
	conns_reply(c, ref, &m);
}

void conns_reply_ok(struct conns *c, conn_ref ref)
{
	struct msg m = {.type = MSG_OK};

	conns_reply(c, ref, &m);
}

void conns_defer(struct conns *c, conn_ref ref)
{
	struct conn *k = conn_of(c, ref);

	if (k)
		k->waiting = true;
}

/* ---- events --------------------------------------------------------------------- */

static void on_accept(struct conns *c, const struct listener *l)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	struct conn *k = NULL;
	int fd = accept4(l->fd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (unsigned i = 0; i < CONNS_MAX && !k; i++)
		if (c->conn[i].fd < 0)
			k = &c->conn[i];
	if (!k) {
		log_warning("refused a connection: %d already open", CONNS_MAX);
		close(fd);
		return;
	}
	k->fd = fd;
	k->waiting = false;
	k->since = clock_ms();
	k->peer = (struct conns_peer){.local = l->local, .uid = UINT32_MAX, .kind = l->kind};
	frame_reader_init(&k->reader);
	if (l->local) {
		struct ucred cr;
		socklen_t len = sizeof(cr);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
			k->peer.uid = cr.uid;
	} else if (getnameinfo((struct sockaddr *)&sa, salen, k->peer.addr, sizeof(k->peer.addr),
			       NULL, 0, NI_NUMERICHOST) != 0) {
		k->peer.addr[0] = '\0';
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		conn_close(c, k);
}

static void on_readable(struct conns *c, struct conn *k)
{
	char *text = NULL, err[512] = "";
	struct msg m;
	size_t len;
	int rc;

	if (k->waiting) { /* the peer went away, or sent more: drop it */
		char b;

		if (recv(k->fd, &b, 1, MSG_DONTWAIT | MSG_PEEK) <= 0)
			conn_close(c, k);
		return;
	}
	rc = frame_reader_feed(&k->reader, k->fd, &text, &len);
	if (rc == 0)
		return;
	if (rc < 0) {
		if (rc != -ECONNRESET)
			log_warning("dropped a connection: %s", strerror(-rc));
		conn_close(c, k);
		return;
	}
	if (msg_decode(text, &m, err, sizeof(err)) != 0) {
		log_warning("dropped a malformed request: %s", err);
		conns_reply_error(c, ref_of(c, k), "EPROTO", "%s", err);
	} else {
		struct conns_peer peer = k->peer;

		c->handler(c->ctx, ref_of(c, k), &peer, &m);
		msg_free(&m);
	}
	free(text);
}

bool conns_event(struct conns *c, void *tag)
{
	for (unsigned i = 0; i < c->nlisteners; i++) {
		if (tag == &c->listeners[i]) {
			on_accept(c, &c->listeners[i]);
			return true;
		}
	}
	if ((char *)tag >= (char *)c->conn && (char *)tag < (char *)(c->conn + CONNS_MAX)) {
		on_readable(c, tag);
		return true;
	}
	return false;
}

void conns_tick(struct conns *c)
{
	int64_t now = clock_ms();

	for (unsigned i = 0; i < CONNS_MAX; i++) {
		struct conn *k = &c->conn[i];

		if (k->fd >= 0 && !k->waiting && now - k->since > CONNS_IDLE_MS)
			conn_close(c, k);
	}
}
