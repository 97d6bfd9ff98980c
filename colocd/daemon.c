/*
 * daemon: see daemon.h. The loop owns the epoll set, the signalfd, the
 * inbound connections (conns.c) and the outbound requests (async.c), and
 * routes each request to the role that serves it:
 *
 *   listener        request                              served by
 *   SocketPath      job_start step_start step_end job_end agent (root peers)
 *   NodeAgentPort   exec_start exec_stop                  agent (MUNGE uid 0)
 *   ControllerPort  lease_acquire lease_release query     controller
 *                   drain node_state heartbeat
 *
 * Every request on a TCP port is authenticated here, before its role sees
 * it: its credential must be bound to it and to this daemon ("controller",
 * "agent:NODE") and must not have been used before (the replay cache, one
 * per daemon). Replies a role marks (msg.sign: lease grants) are signed
 * here, bound to the request's nonce. A streamed query's pages are asked
 * of the controller here, one per turn of the loop (struct stream). A node
 * agent's reports go from here: its whole state when it changed, else a
 * heartbeat naming the generation the controller took.
 */
#include "config.h"

#include "daemon.h"

#include "agent.h"
#include "async.h"
#include "auth.h"
#include "clock.h"
#include "conns.h"
#include "controller.h"
#include "cred.h"
#include "ctl_client.h"
#include "detach.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "replay_cache.h"
#include "sandbox.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 20
#define EVENTS_MAX 256	  /* events one wake-up takes */
#define HEARTBEAT_MS 1000 /* a node agent's state, at least this often */
#define REPORT_TIMEOUT_MS 3000
#define REPORT_BACKOFF_MAX_MS 8000 /* the longest wait after failed reports */
/* Credentials remembered until they expire: a controller hears every
 * node agent each second (node_state credentials live CTL_REPORT_TTL_S:
 * 2^20 nonces hold 35,000 heartbeats a second) besides the clients' (up
 * to CRED_TTL_S), a node agent only the controller. */
#define REPLAY_CONTROLLER (1u << 20)
#define REPLAY_AGENT (1u << 12)
#define REPLAY_WARN_S 60 /* at most one warning this often about forgotten nonces */

enum listener_kind { KIND_PLUGIN = 1, KIND_AGENT, KIND_CONTROLLER };

struct daemon {
	const struct daemon_options *o;
	struct coloc_config cfg;
	struct cred_opts cred;
	char node[MSG_NODE_MAX]; /* agent and standalone */
	int ep, sigfd;
	struct conns *conns;
	struct async *async;
	struct replay_cache *seen; /* nonces of the credentials taken */
	uint64_t evicted_warned;   /* replay_cache_evicted() when last logged */
	int64_t evicted_warn_at;
	struct agent *agent;	 /* agent and standalone */
	struct controller *ctrl; /* controller and standalone */
	int64_t report_next;	 /* when the agent's state is due */
	bool reporting;		 /* a report is on its way */
	bool registered;	 /* the last report was taken */
	bool warned;		 /* a failed report was logged (once until one is taken) */
	unsigned report_fails;	 /* failed reports in a row (backoff) */
	/* heartbeats: the generation of the state the controller took last
	 * (0: none known) and its digest; the report on its way */
	uint64_t gen_next, gen_taken, gen_sent;
	uint8_t state_taken[MSG_DIGEST_LEN], state_sent[MSG_DIGEST_LEN];
	bool sent_heartbeat;
	bool no_heartbeats;	 /* the controller refused one as unknown (an older colocd) */
	struct stream **streams; /* streamed queries under way */
	unsigned nstreams, streams_cap;
	bool streams_go; /* one can take its next page at once: the loop does not sleep */
	bool stop;
	struct httpd *httpd;  /* MetricsPort, or NULL */
	int64_t metrics_next; /* when the metrics page is rendered next */
	struct log_limit metrics_warn;
};

/* Answers a request; a reply its role marked (a lease grant) goes with a
 * credential bound to it and to the request's nonce. */
/* ---- the controller's seam to node agents ---------------------------------------------- */

/* A request to the node agent in this process (standalone): its answer is
 * copied and queued, so that the controller sees it later, as it would
 * from across the network. */
struct local_call {
	struct daemon *d;
	controller_node_cb cb;
	void *arg;
};

static void local_reply(void *arg, uint64_t cookie, const struct msg *reply)
{
	struct local_call lc = *(struct local_call *)arg;
	struct msg copy = *reply;

	free(arg);
	if (reply->type == MSG_LEASE_GRANT) {
		copy.u.grant.lease = strdup(reply->u.grant.lease);
		if (!copy.u.grant.lease)
			msg_error(&copy, "ENOMEM", "out of memory");
	}
	async_post(lc.d->async, &copy, lc.cb, lc.arg, cookie);
}

/* struct controller_nodes' send: in memory to this process's agent, over
 * TCP (async.c) to every other. */
static int send_to_node(void *ctx, const struct controller_node *node, struct msg *req,
			int timeout_ms, controller_node_cb cb, void *arg, uint64_t cookie)
{
	struct daemon *d = ctx;
	char dest[CRED_DEST_MAX];

	if (node->local && d->agent) {
		struct local_call *lc = malloc(sizeof(*lc));

		if (!lc) {
			msg_free(req);
			return -ENOMEM;
		}
		*lc = (struct local_call){.d = d, .cb = cb, .arg = arg};
		agent_request(d->agent, req, NULL, local_reply, lc, cookie);
		msg_free(req);
		return 0;
	}
	auth_agent_dest(node->name, dest);
	return async_call(d->async, node->addr, node->port, "NodeAgentPort", dest, req, timeout_ms,
			  cb, arg, cookie);
}

/* The msg_reply_fn of requests that came over a connection: arg is the
 * daemon, the cookie the conn_ref. Signs a grant that asks for it. */
static void reply_conn(void *arg, uint64_t ref, const struct msg *m)
{
	struct daemon *d = arg;
	struct msg grant;
	char err[512];

	if (!m->sign) {
		conns_reply(d->conns, ref, m);
		return;
	}
	grant = *m; /* shares what m owns; m's owner frees it */
	if (auth_sign(&d->cred, &grant, AUTH_DEST_REPLY, m->reply_to, NULL, err, sizeof(err)) !=
	    0) {
		log_error("cannot authenticate a %s: %s", msg_type_name(m->type), err);
		msg_reply_error(reply_conn, d, ref, "EIO", "colocd cannot authenticate its %s: %s",
				msg_type_name(m->type), err);
		return;
	}
	conns_reply(d->conns, ref, &grant);
}

/* Says, at most every REPLAY_WARN_S, that the replay cache forgot nonces
 * before their credentials expired. */
static void warn_evicted(struct daemon *d)
{
	uint64_t n = replay_cache_evicted(d->seen);
	int64_t now = clock_ms();

	if (n == d->evicted_warned || now < d->evicted_warn_at)
		return;
	log_warning("the replay cache is full (%u credentials in the last %d s): %llu were "
		    "forgotten before they expired; MUNGE's own replay check still refuses them "
		    "at this host's munged",
		    replay_cache_count(d->seen), CRED_TTL_S, (unsigned long long)n);
	d->evicted_warned = n;
	d->evicted_warn_at = now + REPLAY_WARN_S * 1000;
}

/* Verifies m's session credential against its connection's session s:
 * node_state and heartbeat only, before the session expires, bound to m and dest, its
 * counter above the last one's. 0 with *from (the session's uid and gid);
 * otherwise the request is answered with an error and -EACCES returned. */
static int authenticate_session(struct daemon *d, conn_ref ref, const struct conns_peer *peer,
				const struct msg *m, const char *dest, struct conns_session *s,
				struct cred_id *from)
{
	char err[512] = "";
	uint64_t counter = 0;
	int rc = -EACCES;

	if (!s || !s->set)
		snprintf(
		    err, sizeof(err),
		    "a session credential on a connection without a session (only a node "
		    "agent's node_state or heartbeat, after a MUNGE credential proposing a key)");
	else if ((int64_t)time(NULL) >= s->expires)
		snprintf(err, sizeof(err), "the session has expired: propose a new one");
	else
		rc = auth_session_check(s->key, s->counter, m, dest, &counter, err, sizeof(err));
	if (rc == 0) {
		s->counter = counter;
		memset(from, 0, sizeof(*from));
		from->uid = s->uid;
		from->gid = s->gid;
		from->expires = s->expires;
		snprintf(from->b.dest, sizeof(from->b.dest), "%s", dest);
		memcpy(from->b.digest, m->digest, sizeof(from->b.digest));
		return 0;
	}
	log_warning("refused %s from %s: %s", msg_type_name(m->type),
		    peer->addr[0] ? peer->addr : "a TCP peer", err);
	msg_reply_error(reply_conn, d, ref, "EACCES", "%s", err);
	return rc;
}

/* Verifies m's credential: bound to m and to this daemon (dest), from
 * root when root_only, never seen before. 0 with *from; otherwise the
 * request is answered with an error, the refusal logged with its reason,
 * and -errno returned. */
static int authenticate(struct daemon *d, conn_ref ref, const struct conns_peer *peer,
			const struct msg *m, const char *dest, bool root_only, struct cred_id *from)
{
	bool session = strcmp(dest, AUTH_DEST_CONTROLLER) == 0 &&
		       (m->type == MSG_NODE_STATE || m->type == MSG_HEARTBEAT);
	struct conns_session *s = session ? conns_session(d->conns, ref) : NULL;
	const char *code = "EACCES";
	char err[512] = "";
	int rc;

	if (auth_is_session(m->cred)) /* a node agent's kept connection (auth.h) */
		return authenticate_session(d, ref, peer, m, dest, s, from);
	rc = auth_check(&d->cred, m, dest, NULL, from, err, sizeof(err));
	if (rc == 0 && root_only && from->uid != 0) {
		snprintf(err, sizeof(err),
			 "a node agent takes %s from the controller (root) only, not from uid %u",
			 msg_type_name(m->type), from->uid);
		code = "EPERM";
		rc = -EPERM;
	}
	if (rc == 0 &&
	    replay_cache_add(d->seen, from->b.nonce, from->expires, (int64_t)time(NULL)) != 0) {
		snprintf(err, sizeof(err),
			 "the credential was used before: a replayed request is refused (every "
			 "request needs a fresh credential)");
		rc = -EACCES;
	}
	if (rc == 0 && from->b.has_key && s && from->uid == 0) {
		/* a node agent proposes a session: its next requests on this
		 * connection need no munged until the credential expires */
		*s = (struct conns_session){
		    .set = true, .uid = from->uid, .gid = from->gid, .expires = from->expires};
		memcpy(s->key, from->b.key, sizeof(s->key));
	}
	explicit_bzero(from->b.key, sizeof(from->b.key));
	if (rc == 0) {
		warn_evicted(d);
		return 0;
	}
	log_warning("refused %s from %s: %s", msg_type_name(m->type),
		    peer->addr[0] ? peer->addr : "a TCP peer", err);
	msg_reply_error(reply_conn, d, ref, code, "%s", err);
	return rc;
}

/* ---- streamed queries ---------------------------------------------------------------- */

/* A query answered page after page on its connection (query.stream): the
 * controller answers it from req.filter.from on; a page with more to come
 * goes out as a part, and the next page is asked for once that part is
 * written (streams_advance, at the next turn of the loop), so that a long
 * listing holds the loop for a page at a time, and a client that does not
 * read holds only its own connection. The request was authenticated once:
 * its pages are answered for the same credential (from). */
struct stream {
	struct daemon *d;
	conn_ref ref;
	struct msg req;
	struct conns_peer peer;
	struct cred_id from;
	bool done; /* answered: the last page, or an error */
};

/* The msg_reply_fn of a stream's pages: arg is the stream. */
static void reply_stream(void *arg, uint64_t ref, const struct msg *m)
{
	struct stream *s = arg;

	if (m->type == MSG_RESULT && m->u.result.next > s->req.filter.from) {
		conns_reply_part(s->d->conns, ref, m);
		s->req.filter.from = m->u.result.next;
		return;
	}
	s->done = true;
	reply_conn(s->d, ref, m);
}

static void stream_start(struct daemon *d, conn_ref ref, const struct conns_peer *peer,
			 const struct msg *m, const struct cred_id *from)
{
	struct stream *s = calloc(1, sizeof(*s)), **more = d->streams;

	if (s && d->nstreams == d->streams_cap) {
		more = realloc(d->streams, (d->streams_cap * 2 + 8) * sizeof(*more));
		if (more) {
			d->streams = more;
			d->streams_cap = d->streams_cap * 2 + 8;
		}
	}
	if (!s || !more) {
		free(s);
		msg_reply_error(reply_conn, d, ref, "ENOMEM",
				"colocd is out of memory for a streamed query: ask page by page");
		return;
	}
	*s = (struct stream){.d = d, .ref = ref, .req = *m, .peer = *peer, .from = *from};
	controller_request(d->ctrl, &s->req, &s->peer, &s->from, reply_stream, s, ref);
	if (s->done)
		free(s);
	else
		d->streams[d->nstreams++] = s;
}

/* Asks the controller for the next page of every stream whose last part is
 * out; drops those answered or gone. Whether one can go on at once. */
static bool streams_advance(struct daemon *d)
{
	bool go = false;

	for (unsigned i = 0; i < d->nstreams;) {
		struct stream *s = d->streams[i];
		int ready = conns_ready(d->conns, s->ref);

		if (ready == 1) {
			controller_request(d->ctrl, &s->req, &s->peer, &s->from, reply_stream, s,
					   s->ref);
			ready = s->done ? -1 : conns_ready(d->conns, s->ref);
		}
		if (ready < 0) {
			free(s);
			d->streams[i] = d->streams[--d->nstreams];
			continue;
		}
		go |= ready == 1;
		i++;
	}
	return go;
}

static bool is_report(enum msg_type t)
{
	return t == MSG_JOB_START || t == MSG_STEP_START || t == MSG_STEP_END || t == MSG_JOB_END;
}

static void on_request(void *ctx, conn_ref ref, const struct conns_peer *peer, const struct msg *m)
{
	struct daemon *d = ctx;
	char dest[CRED_DEST_MAX];
	struct cred_id from;

	/* answered by whoever serves it, maybe later (conns defers it then) */
	if (is_report(m->type) && (peer->kind != KIND_PLUGIN || peer->uid != 0)) {
		msg_reply_error(reply_conn, d, ref, "EPERM",
				"host job reports are taken only from root on the node agent's "
				"unix socket");
		return;
	}
	switch (peer->kind) {
	case KIND_PLUGIN:
		if (!is_report(m->type)) {
			msg_reply_error(reply_conn, d, ref, "EPROTO",
					"the node agent's socket takes host job reports, not %s; "
					"send it to ControllerPort",
					msg_type_name(m->type));
			return;
		}
		agent_request(d->agent, m, NULL, reply_conn, d, ref);
		return;
	case KIND_AGENT:
		if (m->type != MSG_EXEC_START && m->type != MSG_EXEC_STOP) {
			msg_reply_error(reply_conn, d, ref, "EPROTO",
					"NodeAgentPort takes exec_start and exec_stop from the "
					"controller, not %s; send it to ControllerPort",
					msg_type_name(m->type));
			return;
		}
		auth_agent_dest(d->node, dest);
		if (authenticate(d, ref, peer, m, dest, true, &from) == 0)
			agent_request(d->agent, m, &from, reply_conn, d, ref);
		return;
	default:
		if (!controller_takes(m->type)) {
			msg_reply_error(reply_conn, d, ref, "EPROTO",
					"the controller takes no %s request",
					msg_type_name(m->type));
			return;
		}
		if (authenticate(d, ref, peer, m, AUTH_DEST_CONTROLLER, false, &from) != 0)
			return;
		if (m->type == MSG_QUERY && m->filter.stream)
			stream_start(d, ref, peer, m, &from);
		else
			controller_request(d->ctrl, m, peer, &from, reply_conn, d, ref);
	}
}

/* ---- the node agent's state, to the controller ------------------------------------------ */

/* How long a node agent waits after its fails-th failed report in a row
 * (from 0): a second, doubling up to REPORT_BACKOFF_MAX_MS, each time
 * between half and one and a half of that (jitter), so that thousands of
 * agents that lost their controller at once do not come back at once. */
static int64_t report_backoff_ms(unsigned fails)
{
	int64_t base = HEARTBEAT_MS;
	uint32_t r = 0;

	while (fails-- && base < REPORT_BACKOFF_MAX_MS)
		base *= 2;
	if (base > REPORT_BACKOFF_MAX_MS)
		base = REPORT_BACKOFF_MAX_MS;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)clock_ns();
	return base / 2 + (int64_t)(r % (uint32_t)base);
}

/* cookie: the ended leases the report carried (agent_state's ended_upto) */
static void on_reported(void *arg, uint64_t cookie, int rc, const struct msg *reply,
			const char *err)
{
	struct daemon *d = arg;
	const char *why = rc			     ? err
			  : reply->type == MSG_ERROR ? reply->u.error.message
						     : "it answered with something else than ok";

	d->reporting = false;
	if (rc == 0 && reply->type == MSG_OK && !d->sent_heartbeat) {
		d->gen_taken = d->gen_sent;
		memcpy(d->state_taken, d->state_sent, sizeof(d->state_taken));
	} else if (rc != 0 || reply->type != MSG_OK) {
		d->gen_taken = 0; /* the next report is the whole state */
	}
	if (rc != 0)
		d->no_heartbeats = false; /* a controller restarted may take them */
	if (rc == 0 && d->sent_heartbeat && reply->type == MSG_ERROR &&
	    strcmp(reply->u.error.code, "EPROTO") == 0 && !d->no_heartbeats) {
		log_info("the controller does not take heartbeats (%s): this node sends its "
			 "whole state every second; upgrade the controller's colocd",
			 reply->u.error.message);
		d->no_heartbeats = true;
	}
	if (rc == 0 && d->sent_heartbeat && reply->type == MSG_ERROR &&
	    (strcmp(reply->u.error.code, "ESTALE") == 0 || d->no_heartbeats)) {
		log_debug("the controller asks for this node's whole state: %s",
			  reply->u.error.message);
		d->report_next = clock_ms(); /* at once */
		return;
	}
	if (rc == 0 && reply->type == MSG_OK) {
		d->report_fails = 0;
		agent_state_taken(d->agent, cookie);
		if (!d->registered)
			log_info("registered with the controller at %s:%u", d->cfg.controller_host,
				 d->cfg.controller_port);
		d->registered = true;
		d->warned = false;
		return;
	}
	if (!d->warned)
		log_warning("the controller did not take this node's state (%s); leases here go "
			    "on and end at their end time, retrying every %d to %d ms",
			    why, HEARTBEAT_MS / 2, REPORT_BACKOFF_MAX_MS * 3 / 2);
	d->warned = true;
	d->registered = false;
	d->report_next = clock_ms() + report_backoff_ms(d->report_fails++);
}

/* m, the agent's state, goes as a heartbeat naming the generation the
 * controller took when it is that state, else whole with a new generation. */
static void heartbeat_or_state(struct daemon *d, struct msg *m)
{
	uint8_t digest[MSG_DIGEST_LEN];
	struct msg hb = {.type = MSG_HEARTBEAT};

	d->sent_heartbeat = msg_digest(m, digest) == 0 && d->gen_taken && !d->no_heartbeats &&
			    memcmp(digest, d->state_taken, sizeof(digest)) == 0;
	if (d->sent_heartbeat) {
		snprintf(hb.u.node.node, sizeof(hb.u.node.node), "%s", m->u.node.node);
		hb.u.node.gen = d->gen_taken;
		msg_free(m);
		*m = hb;
		return;
	}
	if (d->gen_next == 0 || d->gen_next > MSG_GEN_MAX)
		d->gen_next = 1;
	m->u.node.gen = d->gen_sent = d->gen_next++;
	memcpy(d->state_sent, digest, sizeof(digest));
}

static void report_state(struct daemon *d)
{
	int64_t now = clock_ms();
	uint64_t upto;
	struct msg m;
	char err[512];

	if (!d->agent || d->reporting || (!agent_dirty(d->agent) && now < d->report_next))
		return;
	d->report_next = now + HEARTBEAT_MS;
	if (agent_state(d->agent, d->cfg.node_agent_port, &m, &upto) != 0)
		return;
	if (d->ctrl) { /* standalone: the controller is here */
		if (controller_node_state(d->ctrl, &m, NULL, NULL, err, sizeof(err)) != 0)
			log_error("the controller refused this node's state: %s", err);
		else
			agent_state_taken(d->agent, upto);
		msg_free(&m);
		return;
	}
	heartbeat_or_state(d, &m);
	/* on one kept connection: colocd reads request after request */
	if (async_call_kept(d->async, d->cfg.controller_host, d->cfg.controller_port,
			    "ControllerHost/ControllerPort", AUTH_DEST_CONTROLLER, &m,
			    REPORT_TIMEOUT_MS, on_reported, d, upto) == 0)
		d->reporting = true;
}

/* A stopping node agent tells the controller its leases are gone. */
static void report_last_state(struct daemon *d)
{
	struct msg m, reply;
	uint64_t upto;
	char err[512];

	if (d->ctrl || agent_state(d->agent, d->cfg.node_agent_port, &m, &upto) != 0)
		return;
	if (ctl_request(&d->cfg, &m, &reply, 1000, err, sizeof(err)) == 0)
		msg_free(&reply);
	msg_free(&m);
}

/* ---- setup -------------------------------------------------------------------------------- */

static const char *role_name(enum daemon_role r)
{
	return r == DAEMON_STANDALONE	? "standalone"
	       : r == DAEMON_CONTROLLER ? "controller"
					: "node agent";
}

/* Whether a process listens on the unix socket at path (a connection is
 * taken, or its backlog is full). */
static bool socket_answers(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	bool yes;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return false;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return false;
	yes = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EAGAIN;
	close(fd);
	return yes;
}

/* Whether every address host resolves to is a loopback one; *other gets
 * the first that is not. 0 yes, 1 no, -EADDRNOTAVAIL (with err) when host
 * does not resolve. */
static int loopback_only(const char *host, char *other, size_t len, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -EADDRNOTAVAIL;
	}
	rc = 0;
	for (const struct addrinfo *a = res; a && !rc; a = a->ai_next) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a->ai_addr;
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)a->ai_addr;
		const uint8_t *v4 =
		    a->ai_family == AF_INET ? (const uint8_t *)&s4->sin_addr
		    : a->ai_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)
			? s6->sin6_addr.s6_addr + 12
			: NULL;

		if (v4 ? v4[0] == 127
		       : a->ai_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			continue;
		getnameinfo(a->ai_addr, a->ai_addrlen, other, (socklen_t)len, NULL, 0,
			    NI_NUMERICHOST);
		rc = 1;
	}
	freeaddrinfo(res);
	return rc;
}

/* What a role refuses to start with: a node agent without a coloc.conf
 * naming the controller (it would report, with root's credential, to
 * whoever holds ControllerPort on localhost), and AuthType=none on a
 * listener that is not loopback only (anyone could claim to be root). */
static int check_config(struct daemon *d, char *err, size_t errlen)
{
	const struct coloc_config *c = &d->cfg;
	bool agent = d->o->role == DAEMON_AGENT;
	const char *host =
	    agent ? (c->node_agent_address[0] ? c->node_agent_address : NULL) : c->controller_host;
	const char *key = agent ? "NodeAgentAddress" : "ControllerHost";
	char other[NI_MAXHOST] = "", why[512];
	int rc;

	if (agent && !c->file[0]) {
		snprintf(
		    err, errlen,
		    "a node agent needs a coloc.conf that names the controller, and there is "
		    "none at %s: create it with ControllerHost=HOST (the host that runs colocd "
		    "--controller), or name one with -f or COLOC_CONF; colocd --standalone "
		    "serves this machine alone without one",
		    config_default_path());
		return -ENOENT;
	}
	if (agent && !c->controller_host_set) {
		snprintf(
		    err, errlen,
		    "%.600s does not name the controller: add ControllerHost=HOST (the host that "
		    "runs colocd --controller); a node agent never assumes localhost",
		    c->file);
		return -EINVAL;
	}
	if (!d->cred.none)
		return 0;
	rc = host ? loopback_only(host, other, sizeof(other), why, sizeof(why)) : 1;
	if (rc < 0) {
		snprintf(err, errlen, "%s; check %s", why, key);
		return rc;
	}
	if (rc == 0)
		return 0;
	snprintf(err, errlen,
		 "AuthType=none believes whatever uid a request claims, so colocd takes it only "
		 "when it listens on loopback alone, and %s %s%s: set AuthType=munge, or "
		 "%s=127.0.0.1 for a test on one machine",
		 key, host ? "resolves to " : "is not set (every address of the node)",
		 host ? other : "", key);
	return -EPERM;
}

/* Renders the roles' metrics into a new page, at most every
 * METRICS_EVERY_MS, and hands it to the HTTP thread (httpd.c), which
 * serves nothing else: it never touches the roles' tables. */
static void publish_metrics(struct daemon *d)
{
	const struct metrics_label l[2] = {{"version", PACKAGE_VERSION},
					   {"role", role_name(d->o->role)}};
	int64_t now = clock_ms();
	struct metrics_page p;
	size_t len;
	char *text;

	if (!d->httpd || now < d->metrics_next)
		return;
	d->metrics_next = now + METRICS_EVERY_MS;
	metrics_page_init(&p);
	metrics_family(&p, "coloc_build_info", METRICS_GAUGE,
		       "colocd's version and role (always 1)");
	metrics_sample(&p, "coloc_build_info", l, 2, 1);
	if (d->agent)
		agent_metrics(d->agent, &p);
	if (d->ctrl)
		controller_metrics(d->ctrl, &p);
	text = metrics_page_take(&p, &len);
	if (text)
		httpd_publish(d->httpd, text, len);
	else
		log_limited(&d->metrics_warn, LOG_LEVEL_WARNING,
			    "cannot render the metrics page: out of memory; serving the last one");
}

static int setup(struct daemon *d, char *err, size_t errlen)
{
	enum daemon_role role = d->o->role;
	struct epoll_event ev = {.events = EPOLLIN};
	char why[512];
	sigset_t sigs;
	int rc;

	rc = config_load(d->o->conf, &d->cfg, err, errlen);
	if (rc)
		return rc;
	cred_opts_from_config(&d->cred, &d->cfg);
	rc = check_config(d, err, errlen);
	if (rc)
		return rc;
	if (d->cred.none)
		log_warning("AuthType=none: requests are not authenticated; use it for tests only");
	d->seen = replay_cache_create(role == DAEMON_AGENT ? REPLAY_AGENT : REPLAY_CONTROLLER);
	if (!d->seen) {
		snprintf(err, errlen, "cannot create the replay cache: %s", strerror(errno));
		return -ENOMEM;
	}
	/* a state generation no earlier process here gave (heartbeats) */
	if (getrandom(&d->gen_next, sizeof(d->gen_next), 0) != sizeof(d->gen_next))
		d->gen_next = (uint64_t)clock_ns();
	d->gen_next = d->gen_next % MSG_GEN_MAX + 1;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	d->async = async_create(&d->cfg);
	d->conns =
	    d->ep >= 0 ? conns_create(d->ep, d->cfg.max_connections_per_host, on_request, d) : NULL;
	if (d->sigfd < 0 || d->ep < 0 || !d->async || !d->conns) {
		snprintf(err, errlen, "cannot set up the event loop: %s", strerror(errno));
		return -errno;
	}
	ev.data.ptr = &d->sigfd;
	rc = epoll_ctl(d->ep, EPOLL_CTL_ADD, d->sigfd, &ev);
	ev.data.ptr = d->async;
	rc = rc ? rc : epoll_ctl(d->ep, EPOLL_CTL_ADD, async_fd(d->async), &ev);
	if (rc) {
		snprintf(err, errlen, "cannot set up the event loop: %s", strerror(errno));
		return -errno;
	}
	if (role != DAEMON_CONTROLLER) {
		/* the node's name, and %n of coloc.conf */
		if (d->o->node)
			snprintf(d->node, sizeof(d->node), "%s", d->o->node);
		else if (gethostname(d->node, sizeof(d->node) - 1) != 0)
			snprintf(d->node, sizeof(d->node), "localhost");
		d->node[strcspn(d->node, ".")] = '\0'; /* the short name, as Slurm's */
		rc = config_expand_node(&d->cfg, d->node, err, errlen);
		if (rc)
			return rc;
		/* before agent_create, which removes what the last agent left */
		if (socket_answers(d->cfg.socket_path)) {
			snprintf(
			    err, errlen,
			    "another colocd serves %s already; stop it first, or give this one "
			    "its own SocketPath, NodeAgentPort, StateDir and CgroupRoot (-N)",
			    d->cfg.socket_path);
			return -EADDRINUSE;
		}
		rc = agent_create(&d->cfg, d->o->executor, d->node, NULL, &d->agent, err, errlen);
		if (rc)
			return rc;
		rc = conns_listen_unix(d->conns, d->cfg.socket_path, KIND_PLUGIN);
		if (rc < 0) {
			snprintf(err, errlen, "cannot listen on %s: %s; check SocketPath",
				 d->cfg.socket_path, strerror(-rc));
			return rc;
		}
	}
	if (role == DAEMON_AGENT) {
		rc = conns_listen_tcp(
		    d->conns, d->cfg.node_agent_address[0] ? d->cfg.node_agent_address : NULL,
		    d->cfg.node_agent_port, KIND_AGENT, why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen,
				 "%s; is another colocd, or another user's program, holding the "
				 "port? Stop it, or check NodeAgentPort and NodeAgentAddress",
				 why);
			return rc;
		}
	}
	if (role != DAEMON_AGENT) {
		struct controller_nodes to_nodes = {.send = send_to_node, .ctx = d};

		d->ctrl = controller_create(&d->cfg, &to_nodes);
		if (!d->ctrl) {
			snprintf(err, errlen, "cannot create the controller: out of memory");
			return -ENOMEM;
		}
		rc = conns_listen_tcp(d->conns, d->cfg.controller_host, d->cfg.controller_port,
				      KIND_CONTROLLER, why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen,
				 "%s; is another colocd, or another user's program, holding the "
				 "port? Stop it, or check ControllerHost and ControllerPort",
				 why);
			return rc;
		}
	}
	if (d->cfg.metrics_port) {
		d->metrics_warn = (struct log_limit)LOG_LIMIT_INIT(60000, "metrics pages dropped");
		rc = httpd_create(d->cfg.metrics_address, d->cfg.metrics_port, &d->httpd, why,
				  sizeof(why));
		if (rc) {
			snprintf(err, errlen,
				 "%s; is another program holding the port? Stop it, or check "
				 "MetricsPort and MetricsAddress (MetricsPort=0: no metrics)",
				 why);
			return rc;
		}
		publish_metrics(d);
	}
	return 0;
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;
	struct coloc_config next;
	char err[512];
	int rc;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGHUP) {
			log_info("signal %u: stopping", si.ssi_signo);
			d->stop = true;
			continue;
		}
		/* logrotate moved the file: a new one */
		rc = d->o->log_file ? log_open_file(d->o->log_file) : 0;
		if (rc)
			log_error("cannot reopen the log file %s: %s; logging on to the file open "
				  "before",
				  d->o->log_file, strerror(-rc));
		if (config_load(d->o->conf, &next, err, sizeof(err)) != 0) {
			log_error("reload refused, keeping the running configuration: %s", err);
			continue;
		}
		if (d->agent)
			agent_reload(d->agent, &next);
		if (d->ctrl)
			controller_reload(d->ctrl, &next);
		conns_set_per_host(d->conns, next.max_connections_per_host);
		log_info("reloaded coloc.conf");
	}
}

int daemon_run(const struct daemon_options *o)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct epoll_event ev[EVENTS_MAX];
	char err[1024] = "";
	int status = 1, detached = -1, rc;

	if (!d)
		return 1;
	d->o = o;
	d->ep = d->sigfd = -1;
	if (!o->foreground) {
		/* the parent waits here for setup's verdict, and exits with it */
		detached = detach_begin();
		if (detached < 0) {
			log_error("cannot start in the background: %s", strerror(-detached));
			goto out;
		}
	}
	if (setup(d, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out; /* the parent exits 1 once this is cleaned up */
	}
	if (detached >= 0) { /* the parent exits 0; no terminal from here on */
		detach_end(detached, 0);
		detached = -1;
		log_set_sinks(o->log_file ? LOG_SINK_FILE : LOG_SINK_SYSLOG);
	}
	/* under systemd (Type=notify): started, units after it (slurmd) may
	 * start, and their host reports reach it; without NOTIFY_SOCKET (not
	 * run by systemd) nothing is sent */
	rc = sd_notify(0, "READY=1");
	if (rc < 0)
		log_warning("cannot tell the service manager that colocd serves (NOTIFY_SOCKET=%s: "
			    "%s); it may time the start out: check the unit's Type",
			    getenv("NOTIFY_SOCKET"), strerror(-rc));
	if (d->agent)
		log_info(
		    "%s on %s: controller %s:%u, reports on %s, executors in cgroup %s below %s "
		    "(cgroup %s)",
		    role_name(o->role), agent_node(d->agent), d->cfg.controller_host,
		    d->cfg.controller_port, d->cfg.socket_path, d->cfg.cgroup_root,
		    sandbox_cgroup_dir(), sandbox_cgroup_version());
	else
		log_info("controller on %s:%u", d->cfg.controller_host, d->cfg.controller_port);
	if (d->httpd)
		log_info("metrics on http://%s:%u/metrics", d->cfg.metrics_address,
			 d->cfg.metrics_port);
	while (!d->stop) {
		int n = epoll_wait(d->ep, ev, EVENTS_MAX,
				   d->streams_go ? 0
				   : d->agent	 ? agent_tick_ms(d->agent)
						 : TICK_MS);

		for (int i = 0; i < n; i++) {
			void *tag = ev[i].data.ptr;

			if (tag == &d->sigfd)
				on_signal(d);
			else if (tag == d->async)
				async_dispatch(d->async);
			else
				conns_event(d->conns, tag);
		}
		if (d->agent)
			agent_tick(d->agent);
		if (d->ctrl)
			controller_tick(d->ctrl);
		d->streams_go = d->nstreams && streams_advance(d);
		report_state(d);
		conns_tick(d->conns);
		publish_metrics(d);
	}
	status = 0;
	sd_notify(0, "STOPPING=1");
out:
	if (d->agent && status == 0) {
		agent_evict_all(d->agent, "colocd stopped");
		report_last_state(d);
	}
	httpd_destroy(d->httpd);
	while (d->nstreams)
		free(d->streams[--d->nstreams]);
	free(d->streams);
	controller_destroy(d->ctrl);
	agent_destroy(d->agent);
	conns_destroy(d->conns);
	if (d->conns && d->agent)
		unlink(d->cfg.socket_path);
	async_destroy(d->async, 1000);
	replay_cache_destroy(d->seen);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->ep >= 0)
		close(d->ep);
	free(d);
	detach_end(detached, status);
	return status;
}
