/*
 * conns: see conns.h. One table of connections: the first CONNS_LOCAL_MAX
 * slots for unix socket peers, the rest for TCP peers. A slot holds an
 * incremental frame reader while its request arrives, then nothing while
 * the answer is awaited, then the reply being written. A reference
 * packs the slot index and the slot's generation, bumped when the reply
 * is given and at every close, so a late answer to a connection answered
 * or closed never reaches the next one in that slot.
 *
 * A connection goes through:
 *   reading   EPOLLIN; deadlines CONNS_REQUEST_MS and CONNS_IDLE_MS
 *   waiting   EPOLLRDHUP only (the request is read; the handler answers,
 *             maybe later); no deadline; closed if the peer goes away
 *   writing   EPOLLOUT (the reply did not fit the socket's buffer);
 *             deadline REPLY_TIMEOUT_MS, then closed
 *   part      as writing, for a part of a streamed reply (conns_reply_part):
 *             the request stays open (waiting) once it is out
 * No call blocks: a peer that reads its reply slowly holds its slot, not
 * the loop.
 *
 * After its reply is written a connection reads again (keep-alive): a
 * node agent sends its state every second on one connection. Between
 * requests its deadline is CONNS_KEEP_MS of silence.
 *
 * Free slots are kept on a stack per pool (the lowest on top, so that the
 * slots in use stay below hwm, the first slot never used, which bounds
 * every scan), and the connections from each
 * TCP peer address (16 bytes, IPv4 mapped into IPv6) are counted in a
 * hash table keyed with a random key: an accept costs O(1), however many
 * connections are open.
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
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS 1000
#define MAX_LISTENERS 16 /* a unix socket and every address of the TCP ones */
#define NCONNS (CONNS_LOCAL_MAX + CONNS_TCP_MAX)
#define SCAN_MS 100	 /* conns_tick's period */
#define ACCEPT_BURST 256 /* accepts per listener event */
#define BACKLOG 4096	 /* connections the kernel queues (capped by net.core.somaxconn) */
#define PAUSE_MS 100	 /* a listener's rest when descriptors run out */
#define FD_RESERVE 256	 /* descriptors for all but connections: executors, async, files */
#define TCP_MIN 16	 /* TCP slots however low the descriptor limit */
#define TCP_WARN 16384	 /* fewer TCP slots than this: a warning */

enum conn_state { CONN_FREE = 0, CONN_READING, CONN_WAITING, CONN_WRITING, CONN_PART };

struct conn {
	int fd; /* -1 when free */
	uint32_t gen;
	enum conn_state state;
	struct conns_peer peer;
	uint8_t host[16]; /* TCP: the peer's address, IPv4 mapped into IPv6 */
	struct frame_reader reader;
	int64_t since;	 /* accepted or last answered, then (writing) the reply given */
	int64_t last;	 /* bytes last arrived */
	bool kept;	 /* answered before, reading its next request */
	uint32_t events; /* what epoll watches on fd now */
	struct conns_session session;
	char *out; /* writing, part: the frames not yet written */
	size_t out_len, out_off;
};

struct listener {
	int fd;
	bool local;
	unsigned kind;
	int64_t paused_until; /* 0: watched; else out of descriptors until then */
};

struct conns {
	int ep;
	conns_handler handler;
	void *ctx;
	unsigned per_host; /* MaxConnectionsPerHost */
	unsigned tcp_max;  /* CONNS_TCP_MAX, or fewer under a low descriptor limit */
	int64_t next_scan;
	struct log_limit refused_local, refused_tcp, slow, dropped, no_fds;
	struct listener listeners[MAX_LISTENERS];
	unsigned nlisteners;
	struct conn *conn; /* NCONNS: [0, CONNS_LOCAL_MAX) unix peers, then TCP */
	uint32_t *free_local, nfree_local, *free_tcp, nfree_tcp; /* stacks of slots */
	uint32_t hwm;		  /* slots above it were never used: conns_tick stops there */
	struct host_count *hosts; /* open addressing, hosts_mask + 1 entries */
	uint32_t hosts_mask;
	uint64_t hosts_key[2];
};

/* Connections open from one TCP peer address; count 0: an empty entry. */
struct host_count {
	uint8_t host[16];
	uint32_t count;
};

/* The TCP slots the descriptor limit leaves room for, raising its soft
 * value towards what the table needs first. */
static unsigned fit_tcp_max(void)
{
	rlim_t want = NCONNS + FD_RESERVE, floor = CONNS_LOCAL_MAX + FD_RESERVE + TCP_MIN;
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) != 0)
		return CONNS_TCP_MAX;
	if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < want) {
		r.rlim_cur = r.rlim_max != RLIM_INFINITY && r.rlim_max < want ? r.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &r) != 0)
			getrlimit(RLIMIT_NOFILE, &r);
	}
	if (r.rlim_cur == RLIM_INFINITY || r.rlim_cur >= want)
		return CONNS_TCP_MAX;
	return r.rlim_cur <= floor ? TCP_MIN
				   : (unsigned)(r.rlim_cur - CONNS_LOCAL_MAX - FD_RESERVE);
}

/* ---- connections per peer address ---------------------------------------------- */

static uint32_t host_slot(const struct conns *c, const uint8_t host[16])
{
	uint64_t a, b, h;

	memcpy(&a, host, 8);
	memcpy(&b, host + 8, 8);
	h = (a ^ c->hosts_key[0]) * 0x9e3779b97f4a7c15ull;
	h = (h ^ (h >> 29) ^ b ^ c->hosts_key[1]) * 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(h ^ (h >> 32)) & c->hosts_mask;
}

/* The entry of host, or the empty one where it would go. */
static struct host_count *host_find(const struct conns *c, const uint8_t host[16])
{
	uint32_t i = host_slot(c, host);

	while (c->hosts[i].count && memcmp(c->hosts[i].host, host, 16) != 0)
		i = (i + 1) & c->hosts_mask;
	return &c->hosts[i];
}

static void host_add(struct conns *c, const uint8_t host[16])
{
	struct host_count *h = host_find(c, host);

	if (!h->count)
		memcpy(h->host, host, 16);
	h->count++;
}

/* One connection less from host; an entry that drops to 0 is removed,
 * later entries of its probe run shifted back. */
static void host_remove(struct conns *c, const uint8_t host[16])
{
	struct host_count *h = host_find(c, host);
	uint32_t i, j;

	if (!h->count || --h->count)
		return;
	i = (uint32_t)(h - c->hosts);
	for (j = (i + 1) & c->hosts_mask; c->hosts[j].count; j = (j + 1) & c->hosts_mask) {
		uint32_t home = host_slot(c, c->hosts[j].host);

		if (((j - home) & c->hosts_mask) >= ((j - i) & c->hosts_mask)) {
			c->hosts[i] = c->hosts[j];
			i = j;
		}
	}
	c->hosts[i].count = 0;
}

struct conns *conns_create(int epoll_fd, unsigned per_host, conns_handler handler, void *ctx)
{
	struct conns *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->conn = calloc(NCONNS, sizeof(*c->conn));
	c->free_local = calloc(CONNS_LOCAL_MAX, sizeof(uint32_t));
	c->free_tcp = calloc(CONNS_TCP_MAX, sizeof(uint32_t));
	for (c->hosts_mask = 1; c->hosts_mask < 2 * CONNS_TCP_MAX; c->hosts_mask *= 2)
		;
	c->hosts = calloc(c->hosts_mask, sizeof(*c->hosts));
	c->hosts_mask--;
	if (!c->conn || !c->free_local || !c->free_tcp || !c->hosts ||
	    getrandom(c->hosts_key, sizeof(c->hosts_key), 0) != sizeof(c->hosts_key)) {
		free(c->hosts);
		free(c->free_tcp);
		free(c->free_local);
		free(c->conn);
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->ep = epoll_fd;
	c->handler = handler;
	c->ctx = ctx;
	c->per_host = per_host ? per_host : 1;
	c->tcp_max = fit_tcp_max();
	/* a controller needs one connection per node agent (kept) */
	if (c->tcp_max < TCP_WARN)
		log_warning("the limit on open files leaves room for %u TCP connections, not %d; "
			    "raise it (ulimit -n, systemd's LimitNOFILE) to %d",
			    c->tcp_max, CONNS_TCP_MAX, NCONNS + FD_RESERVE);
	else if (c->tcp_max < CONNS_TCP_MAX)
		log_debug("room for %u TCP connections (the limit on open files): a controller of "
			  "more node agents needs LimitNOFILE=%d",
			  c->tcp_max, NCONNS + FD_RESERVE);
	c->refused_local = (struct log_limit)LOG_LIMIT_INIT(
	    CONNS_LOG_INTERVAL_MS, "connections refused on the unix socket");
	c->refused_tcp =
	    (struct log_limit)LOG_LIMIT_INIT(CONNS_LOG_INTERVAL_MS, "TCP connections refused");
	c->slow = (struct log_limit)LOG_LIMIT_INIT(CONNS_LOG_INTERVAL_MS,
						   "connections closed for being slow");
	c->dropped = (struct log_limit)LOG_LIMIT_INIT(CONNS_LOG_INTERVAL_MS,
						      "connections dropped for bad requests");
	c->no_fds = (struct log_limit)LOG_LIMIT_INIT(CONNS_LOG_INTERVAL_MS,
						     "pauses for want of file descriptors");
	/* slots are initialised as they first come into use (below hwm): a
	 * node agent never touches most of the table */
	/* lowest slots first */
	for (uint32_t i = CONNS_LOCAL_MAX; i-- > 0;)
		c->free_local[c->nfree_local++] = i;
	for (uint32_t i = CONNS_LOCAL_MAX + c->tcp_max; i-- > CONNS_LOCAL_MAX;)
		c->free_tcp[c->nfree_tcp++] = i;
	return c;
}

void conns_set_per_host(struct conns *c, unsigned per_host)
{
	c->per_host = per_host ? per_host : 1;
}

static void conn_close(struct conns *c, struct conn *k)
{
	uint32_t i = (uint32_t)(k - c->conn);

	if (k->fd < 0)
		return;
	epoll_ctl(c->ep, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	if (i < CONNS_LOCAL_MAX) {
		c->free_local[c->nfree_local++] = i;
	} else {
		host_remove(c, k->host);
		c->free_tcp[c->nfree_tcp++] = i;
	}
	k->kept = false;
	explicit_bzero(&k->session, sizeof(k->session));
	frame_reader_fini(&k->reader);
	free(k->out);
	k->out = NULL;
	k->fd = -1;
	k->gen++;
	k->state = CONN_FREE;
}

void conns_destroy(struct conns *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->hwm; i++)
		conn_close(c, &c->conn[i]);
	for (unsigned i = 0; i < c->nlisteners; i++)
		close(c->listeners[i].fd);
	free(c->hosts);
	free(c->free_tcp);
	free(c->free_local);
	free(c->conn);
	free(c);
}

static conn_ref ref_of(const struct conns *c, const struct conn *k)
{
	return ((uint64_t)k->gen << 32) | (uint64_t)(k - c->conn + 1);
}

/* The connection still to be answered that ref names, or NULL. */
static struct conn *conn_of(const struct conns *c, conn_ref ref)
{
	uint64_t i = (ref & 0xffffffffu);
	const struct conn *k;

	if (i == 0 || i > c->hwm)
		return NULL;
	k = &c->conn[i - 1];
	return k->fd >= 0 && k->state != CONN_WRITING && k->gen == (uint32_t)(ref >> 32)
		   ? (struct conn *)k
		   : NULL;
}

struct conns_session *conns_session(struct conns *c, conn_ref ref)
{
	struct conn *k = conn_of(c, ref);

	return k ? &k->session : NULL;
}

bool conns_alive(const struct conns *c, conn_ref ref)
{
	return conn_of(c, ref) != NULL;
}

/* Who k's peer is, for log lines. */
static const char *peer_name(const struct conn *k, char *out, size_t len)
{
	if (k->peer.local)
		snprintf(out, len, "a local peer (uid %u)", k->peer.uid);
	else
		snprintf(out, len, "%s", k->peer.addr[0] ? k->peer.addr : "an unknown address");
	return out;
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
	    bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, BACKLOG) != 0) {
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
	    listen(fd, BACKLOG) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return add_listener(c, fd, true, kind);
}

/* ---- replies ------------------------------------------------------------------ */

/* Writes what the socket takes; 1 when the whole reply is out, 0 when
 * more must wait for EPOLLOUT, -errno. */
static int write_out(struct conn *k)
{
	while (k->out_off < k->out_len) {
		ssize_t n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		k->out_off += (size_t)n;
	}
	return 1;
}

/* Watches events on k's fd (a request answered at once never changes
 * them: no epoll_ctl). 0, or -errno. */
static int watch(struct conns *c, struct conn *k, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = k};

	if (k->events == events)
		return 0;
	if (epoll_ctl(c->ep, EPOLL_CTL_MOD, k->fd, &ev) != 0)
		return -errno;
	k->events = events;
	return 0;
}

/* k's reply is out: it reads its next request (keep-alive). */
static void keep(struct conns *c, struct conn *k)
{
	free(k->out);
	k->out = NULL;
	k->state = CONN_READING;
	k->kept = true;
	k->since = k->last = clock_ms();
	if (watch(c, k, EPOLLIN) != 0)
		conn_close(c, k);
}

/* Appends m's frame to what k has to write. 0, or -errno. */
static int queue_frame(struct conn *k, const struct msg *m)
{
	size_t len, pending = k->out ? k->out_len - k->out_off : 0;
	char *text = NULL, *out;

	if (msg_encode(m, &text) != 0 || (len = strlen(text)) == 0 || len > FRAME_MAX ||
	    !(out = malloc(pending + len + 4))) {
		free(text);
		return -ENOMEM;
	}
	if (pending)
		memcpy(out, k->out + k->out_off, pending);
	out[pending] = (char)(len >> 24);
	out[pending + 1] = (char)(len >> 16);
	out[pending + 2] = (char)(len >> 8);
	out[pending + 3] = (char)len;
	memcpy(out + pending + 4, text, len);
	free(text);
	free(k->out);
	k->out = out;
	k->out_len = pending + len + 4;
	k->out_off = 0;
	return 0;
}

/* A part is out: the request is open again, its peer watched for going away. */
static void part_out(struct conns *c, struct conn *k)
{
	free(k->out);
	k->out = NULL;
	k->state = CONN_WAITING;
	if (watch(c, k, EPOLLRDHUP) != 0)
		conn_close(c, k);
}

/* Writes m to ref's connection: the reply (ref goes stale, the connection
 * reads its next request once it is out), or a part of it (the request
 * stays open). */
static void send_reply(struct conns *c, conn_ref ref, const struct msg *m, bool part)
{
	struct conn *k = conn_of(c, ref);

	if (!k)
		return;
	if (queue_frame(k, m) != 0) {
		conn_close(c, k);
		return;
	}
	if (!part)
		k->gen++; /* answered: ref is stale from now on */
	k->state = part ? CONN_PART : CONN_WRITING;
	k->since = clock_ms();
	switch (write_out(k)) {
	case 1:
		if (part)
			part_out(c, k);
		else
			keep(c, k);
		return;
	case 0:
		if (watch(c, k, EPOLLOUT) == 0)
			return;
		/* fall through */
	default:
		conn_close(c, k);
	}
}

void conns_reply_part(struct conns *c, conn_ref ref, const struct msg *m)
{
	send_reply(c, ref, m, true);
}

int conns_ready(const struct conns *c, conn_ref ref)
{
	const struct conn *k = conn_of(c, ref);

	return !k ? -1 : k->state == CONN_PART ? 0 : 1;
}

void conns_reply(struct conns *c, conn_ref ref, const struct msg *m)
{
	send_reply(c, ref, m, false);
}

void conns_defer(struct conns *c, conn_ref ref)
{
	struct conn *k = conn_of(c, ref);

	if (!k || k->state == CONN_WAITING || k->state == CONN_PART)
		return;
	/* bytes after the request stay unread: watching EPOLLIN (level
	 * triggered) on them would wake the loop without end */
	k->state = CONN_WAITING;
	if (watch(c, k, EPOLLRDHUP) != 0)
		conn_close(c, k);
}

/* ---- events --------------------------------------------------------------------- */

/* Out of descriptors: the listener rests for PAUSE_MS (level-triggered,
 * it would wake the loop at once again). */
static void pause_listener(struct conns *c, struct listener *l, int err)
{
	struct epoll_event ev = {.events = 0, .data.ptr = l};

	log_limited(&c->no_fds, LOG_LEVEL_WARNING,
		    "cannot accept connections (%s): pausing for %d ms; raise the limit on open "
		    "files (ulimit -n, systemd's LimitNOFILE)",
		    strerror(err), PAUSE_MS);
	l->paused_until = clock_ms() + PAUSE_MS;
	epoll_ctl(c->ep, EPOLL_CTL_MOD, l->fd, &ev);
}

static void resume_listeners(struct conns *c, int64_t now)
{
	for (unsigned i = 0; i < c->nlisteners; i++) {
		struct listener *l = &c->listeners[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};

		if (l->paused_until && now >= l->paused_until &&
		    epoll_ctl(c->ep, EPOLL_CTL_MOD, l->fd, &ev) == 0)
			l->paused_until = 0;
	}
}

static void host_key(const struct sockaddr_storage *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->ss_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->ss_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

/* Closes fd at once, with a reset: no TIME_WAIT left behind for a flood. */
static void refuse(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* A free slot for an accepted fd, within its pool and MaxConnectionsPerHost;
 * NULL (the fd closed, and said) when there is none. */
static struct conn *slot_for(struct conns *c, const struct listener *l, int fd,
			     const struct sockaddr_storage *sa, socklen_t salen,
			     const uint8_t *host)
{
	unsigned from_host = l->local ? 0 : host_find(c, host)->count;
	struct conn *k = NULL;
	char addr[64];

	if (l->local && c->nfree_local)
		k = &c->conn[c->free_local[--c->nfree_local]];
	else if (!l->local && c->nfree_tcp && from_host < c->per_host)
		k = &c->conn[c->free_tcp[--c->nfree_tcp]];
	if (l->local && !k) {
		log_limited(&c->refused_local, LOG_LEVEL_WARNING,
			    "refused a connection on the unix socket: all %d of its connections "
			    "are open; are host job reports stuck?",
			    CONNS_LOCAL_MAX);
	} else if (!l->local && !k) {
		if (getnameinfo((const struct sockaddr *)sa, salen, addr, sizeof(addr), NULL, 0,
				NI_NUMERICHOST) != 0)
			snprintf(addr, sizeof(addr), "an unknown address");
		if (c->nfree_tcp)
			log_limited(&c->refused_tcp, LOG_LEVEL_WARNING,
				    "refused a connection from %s: %u are open from that address "
				    "(MaxConnectionsPerHost)",
				    addr, from_host);
		else
			log_limited(
			    &c->refused_tcp, LOG_LEVEL_WARNING,
			    "refused a connection from %s: all %u TCP connections are open; "
			    "ss -tn shows who holds them",
			    addr, c->tcp_max);
	} else if (!l->local) {
		host_add(c, host);
	}
	while (k && c->hwm <= (uint32_t)(k - c->conn))
		c->conn[c->hwm++].fd = -1; /* first use: see conns_create */
	if (!k)
		refuse(fd);
	return k;
}

static void take(struct conns *c, const struct listener *l, int fd,
		 const struct sockaddr_storage *sa, socklen_t salen)
{
	struct epoll_event ev = {.events = EPOLLIN};
	uint8_t host[16] = {0};
	struct conn *k;

	if (!l->local)
		host_key(sa, host);
	k = slot_for(c, l, fd, sa, salen, host);
	if (!k)
		return;
	k->fd = fd;
	k->state = CONN_READING;
	k->since = k->last = clock_ms();
	memcpy(k->host, host, sizeof(k->host));
	k->peer = (struct conns_peer){.local = l->local, .uid = UINT32_MAX, .kind = l->kind};
	frame_reader_init(&k->reader);
	if (l->local) {
		struct ucred cr;
		socklen_t len = sizeof(cr);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
			k->peer.uid = cr.uid;
	} else if (getnameinfo((const struct sockaddr *)sa, salen, k->peer.addr,
			       sizeof(k->peer.addr), NULL, 0, NI_NUMERICHOST) != 0) {
		k->peer.addr[0] = '\0';
	}
	ev.data.ptr = k;
	k->events = EPOLLIN;
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		conn_close(c, k);
}

static void on_accept(struct conns *c, struct listener *l)
{
	for (unsigned i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		int fd =
		    accept4(l->fd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				pause_listener(c, l, errno);
			return; /* EAGAIN: all taken; others: the next one, at the next event */
		}
		take(c, l, fd, &sa, salen);
	}
}

static void on_readable(struct conns *c, struct conn *k)
{
	char *text = NULL, err[512] = "", who[80];
	conn_ref ref = ref_of(c, k);
	struct msg m;
	size_t len;
	int rc;

	k->last = clock_ms();
	if (k->kept) { /* the next request begins: its deadlines start now */
		k->kept = false;
		k->since = k->last;
	}
	rc = frame_reader_feed(&k->reader, k->fd, &text, &len);
	if (rc == 0)
		return;
	if (rc < 0) {
		if (rc != -ECONNRESET)
			log_limited(&c->dropped, LOG_LEVEL_WARNING,
				    "dropped a connection from %s: %s",
				    peer_name(k, who, sizeof(who)), strerror(-rc));
		conn_close(c, k);
		return;
	}
	if (msg_decode(text, &m, err, sizeof(err)) != 0) {
		log_limited(&c->dropped, LOG_LEVEL_WARNING,
			    "dropped a malformed request from %s: %s",
			    peer_name(k, who, sizeof(who)), err);
		msg_error(&m, "EPROTO", "%s", err);
		conns_reply(c, ref, &m);
	} else {
		struct conns_peer peer = k->peer;

		c->handler(c->ctx, ref, &peer, &m);
		msg_free(&m);
		conns_defer(c, ref); /* not answered yet: wait for it */
	}
	free(text);
}

static void on_conn(struct conns *c, struct conn *k)
{
	int rc;

	switch (k->state) {
	case CONN_READING:
		on_readable(c, k);
		return;
	case CONN_WAITING: /* only EPOLLRDHUP, EPOLLHUP or EPOLLERR: the peer went away */
		conn_close(c, k);
		return;
	case CONN_WRITING:
	case CONN_PART:
		rc = write_out(k);
		if (rc > 0 && k->state == CONN_PART)
			part_out(c, k); /* the request goes on */
		else if (rc > 0)
			keep(c, k); /* all out */
		else if (rc < 0)
			conn_close(c, k); /* the peer is gone */
		return;
	case CONN_FREE:
		return;
	}
}

bool conns_event(struct conns *c, void *tag)
{
	for (unsigned i = 0; i < c->nlisteners; i++) {
		if (tag == &c->listeners[i]) {
			on_accept(c, &c->listeners[i]);
			return true;
		}
	}
	if ((char *)tag >= (char *)c->conn && (char *)tag < (char *)(c->conn + NCONNS)) {
		on_conn(c, tag);
		return true;
	}
	return false;
}

void conns_tick(struct conns *c)
{
	int64_t now = clock_ms();
	char who[80];

	if (now < c->next_scan)
		return;
	c->next_scan = now + SCAN_MS;
	for (unsigned i = 0; i < c->hwm; i++) {
		struct conn *k = &c->conn[i];

		if (k->state == CONN_READING && k->kept) {
			if (now - k->since > CONNS_KEEP_MS)
				conn_close(c, k); /* idle between requests: not worth a line */
		} else if (k->state == CONN_READING && now - k->since > CONNS_REQUEST_MS) {
			log_limited(&c->slow, LOG_LEVEL_WARNING,
				    "closed a connection from %s: no whole request within %d ms",
				    peer_name(k, who, sizeof(who)), CONNS_REQUEST_MS);
			conn_close(c, k);
		} else if (k->state == CONN_READING && now - k->last > CONNS_IDLE_MS) {
			log_limited(&c->slow, LOG_LEVEL_WARNING,
				    "closed a connection from %s: nothing sent for %d ms",
				    peer_name(k, who, sizeof(who)), CONNS_IDLE_MS);
			conn_close(c, k);
		} else if ((k->state == CONN_WRITING || k->state == CONN_PART) &&
			   now - k->since > REPLY_TIMEOUT_MS) {
			log_limited(&c->slow, LOG_LEVEL_WARNING,
				    "closed a connection from %s: its reply was not read within %d "
				    "ms",
				    peer_name(k, who, sizeof(who)), REPLY_TIMEOUT_MS);
			conn_close(c, k);
		}
	}
	resume_listeners(c, now);
	log_limit_flush(&c->refused_local, now);
	log_limit_flush(&c->refused_tcp, now);
	log_limit_flush(&c->slow, now);
	log_limit_flush(&c->dropped, now);
	log_limit_flush(&c->no_fds, now);
}
