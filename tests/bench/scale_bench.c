/*
 * colocd-scale-bench: one colocd --controller under N simulated node
 * agents, on this machine (loopback). Prints one JSON object.
 *
 *   generator (this process, one epoll loop)            colocd --controller
 *     agent i, every second (phases spread over 1 s):
 *       connect from 127.a.b.c -- node_state {cred, 64 PUs, a gap, its
 *                                 leases, gen} -------------------------->
 *       <---------------------------------------------------- ok | error
 *       then, while its leases stay as they were:
 *                              -- heartbeat {cred, node, gen} ----------->
 *       <------------------------------------- ok | ESTALE (node_state next)
 *       (round trip: connect to answer; 3 s without an answer = lost)
 *     the agents' NodeAgentPort (one listener for them all):
 *       <------------------------------- exec_start {cred for agent:NODE}
 *       --- lease_grant {cred bound to it, id, lease} ------------------->
 *       (the lease is in that node's reports from then on)
 *       <------------------------------- exec_stop: ok, the lease goes
 *   client (a child process, a user's uid): lease_acquire and, 2 s later,
 *   lease_release at --leases-per-s; nodes, gaps, leases in turn at
 *   --queries-per-s, every page of each (a query's time is all its pages),
 *   streamed on one connection (--paged: a request a page, as before).
 *
 * Every agent has its own loopback address (127.1.0.1 on), as nodes do, so
 * MaxConnectionsPerHost applies per node. With --auth munge every message
 * carries a MUNGE credential from the munged at --munge-socket (the agents'
 * as root: run as root); the generator's signing then runs in --signers
 * threads, as N agents would each sign their own.
 *
 * Reported: heartbeats sent, taken and refused, their round trip (p50,
 * p99, max), lease_acquire and query times (and the client's own CPU per
 * query: what reading the pages cost it), nodes the controller marked
 * down (its log), the controller's CPU (from /proc) and the generator's
 * own, over --seconds after --warmup seconds (registration).
 *
 * Usage: colocd-scale-bench --colocd PATH [--nodes N] [--seconds S]
 *        [--warmup S] [--auth none|munge] [--munge-socket PATH]
 *        [--leases-per-s R] [--queries-per-s Q] [--port P] [--signers T]
 *        [--reconnect] [--munged-pid PID] [--no-session] [--full-state]
 *        [--paged]
 *
 * The controller's configuration, log and state go in a directory under
 * /tmp, removed at the end unless COLOC_SCALE_KEEP is set.
 *
 * Agents keep one connection (colocd reads the next request on it) and a
 * session on it (a credential proposing a key, then session credentials
 * until it is 25 s old), as colocd's node agents do; --no-session: a
 * credential per heartbeat; --reconnect: a connection per heartbeat.
 * An agent sends its whole state when it changed (a lease started or
 * stopped) or the controller answered ESTALE, else a heartbeat naming the
 * state's generation, as colocd's node agents do; --full-state: the whole
 * state every time (as agents did before heartbeats).
 */
#include "config.h"

#include "auth.h"
#include "clock.h"
#include "ctl_client.h"
#include "frame.h"
#include "msg.h"
#include "stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "colocd-scale-bench"
#define PERIOD_MS 1000
#define LOST_MS 3000
#define SAMPLES_MAX (1u << 22)
#define NODE_LEASES 8 /* leases one simulated node runs at most */
#define CLIENT_SAMPLES 100000
#define USER_UID 1000

struct opts {
	const char *colocd, *munge_socket;
	unsigned nodes, seconds, warmup, signers;
	double leases_per_s, queries_per_s;
	int port, munged_pid;  /* munged_pid: its CPU is reported too */
	bool munge, reconnect; /* reconnect: a connection per heartbeat */
	bool no_session;       /* a credential per heartbeat on kept connections */
	bool full_state;       /* the whole state every time, no heartbeats */
	bool paged;	       /* queries: a request a page, not streamed */
};

enum agent_state { A_IDLE, A_SIGNING, A_CONNECTING, A_WRITING, A_READING };

struct agent {
	enum agent_state state;
	int fd;
	uint32_t addr; /* host order */
	int64_t due, t0;
	char name[16];
	struct msg_node_lease leases[NODE_LEASES];
	unsigned nleases;
	struct ctl_session sess;	      /* its kept connection's session (auth.h) */
	bool proposed;			      /* the heartbeat in flight proposes one */
	uint32_t changes;		      /* its leases changed this often (lease_lock) */
	uint32_t changes_sent, changes_taken; /* in the state sent, the one taken */
	uint64_t gen, gen_taken;	      /* the last state's generation, the taken's */
	bool sent_heartbeat;		      /* the report in flight is a heartbeat */
	char *out;
	size_t out_len, out_off;
	struct frame_reader rd;
};

/* What the client child measures (shared memory). */
struct client_samples {
	uint32_t n[4], fail[4]; /* acquire, nodes, gaps, leases */
	uint32_t us[4][CLIENT_SAMPLES];
	uint64_t cpu_us[4]; /* the client's own CPU, summed over the queries ... */
	uint32_t cpu_n[4];  /* ... that succeeded */
	uint32_t released, release_fail;
	char last_err[256];
};

static struct opts o = {.nodes = 1000,
			.seconds = 20,
			.warmup = 5,
			.signers = 4,
			.leases_per_s = 10,
			.queries_per_s = 1,
			.port = 0};
static struct agent *agents;
static struct cred_opts cred_root;
static uint16_t agent_port;
static int ep;
static bool measuring;
static uint32_t *hb_us;
static uint64_t hb_n, hb_sent, hb_ok, hb_err, hb_lost, hb_skipped;
static uint64_t hb_full, hb_minimal, hb_stale; /* whole states, heartbeats, ESTALE */
static int64_t until_at;		       /* the simulated host jobs' end */
static char hb_last_err[256];
static uint64_t exec_starts, exec_stops;

/* ---- signing (MUNGE: off the loop, in threads) ---------------------------------------- */

/* Agents whose heartbeat waits for a credential, and those signed. */
struct queue {
	uint32_t *q;
	size_t head, tail, cap;
};
static struct queue to_sign, signed_q;
static pthread_mutex_t sign_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sign_cond = PTHREAD_COND_INITIALIZER;
static int signed_efd[2] = {-1, -1};
static bool stopping;

static void q_push(struct queue *q, uint32_t v)
{
	q->q[q->tail++ % q->cap] = v;
}

static bool q_pop(struct queue *q, uint32_t *v)
{
	if (q->head == q->tail)
		return false;
	*v = q->q[q->head++ % q->cap];
	return true;
}

/* The heartbeat of agent a, signed and framed into a->out. */
static pthread_mutex_t lease_lock = PTHREAD_MUTEX_INITIALIZER;

static int heartbeat_build(struct agent *a)
{
	struct msg_node_lease leases[NODE_LEASES];
	struct msg m = {.type = MSG_NODE_STATE};
	unsigned i = (unsigned)(a - agents);
	char *text = NULL, err[256];
	int rc;

	snprintf(m.u.node.node, sizeof(m.u.node.node), "%s", a->name);
	m.u.node.port = agent_port;
	snprintf(m.u.node.pus, sizeof(m.u.node.pus), "0-63");
	m.u.node.mem = 256ull << 30;
	/* a gap as a node with a few host jobs has: 8 to 40 PUs in pieces */
	snprintf(m.u.node.lendable, sizeof(m.u.node.lendable), "%u-%u,%u-%u,48-55", i % 4,
		 i % 4 + 3, 16 + i % 8, 31);
	snprintf(m.u.node.unallocated, sizeof(m.u.node.unallocated), "48-55");
	snprintf(m.u.node.near_host, sizeof(m.u.node.near_host), "%u-%u", i % 4, i % 4 + 3);
	snprintf(m.u.node.cgroup, sizeof(m.u.node.cgroup), "/sys/fs/cgroup/coloc");
	m.u.node.mem_lendable = 64ull << 30;
	m.u.node.jobs = 1 + i % 3;
	m.u.node.until = until_at;
	pthread_mutex_lock(&lease_lock); /* exec_answer changes them */
	memcpy(leases, a->leases, sizeof(leases));
	m.u.node.nleases = a->nleases;
	a->changes_sent = a->changes;
	pthread_mutex_unlock(&lease_lock);
	m.u.node.leases = leases;
	a->sent_heartbeat = !o.full_state && a->gen_taken && a->changes_sent == a->changes_taken;
	if (a->sent_heartbeat) { /* nothing changed since the state the controller took */
		m = (struct msg){.type = MSG_HEARTBEAT};
		snprintf(m.u.node.node, sizeof(m.u.node.node), "%s", a->name);
		m.u.node.gen = a->gen_taken;
	} else if (!o.full_state) {
		m.u.node.gen = ++a->gen;
	}
	a->proposed = false;
	if (!o.reconnect && !o.no_session && a->fd >= 0 && a->sess.on &&
	    (int64_t)time(NULL) < a->sess.renew) {
		rc = auth_session_sign(a->sess.key, ++a->sess.counter, &m, AUTH_DEST_CONTROLLER,
				       err, sizeof(err));
	} else if (!o.reconnect && !o.no_session &&
		   getrandom(a->sess.key, sizeof(a->sess.key), 0) == sizeof(a->sess.key)) {
		a->sess.on = false;
		a->proposed = true;
		rc = auth_sign_keyed(&cred_root, &m, AUTH_DEST_CONTROLLER, a->sess.key, NULL, err,
				     sizeof(err));
	} else {
		rc = auth_sign(&cred_root, &m, AUTH_DEST_CONTROLLER, NULL, NULL, err, sizeof(err));
	}
	if (rc == 0)
		rc = msg_encode(&m, &text);
	if (rc) {
		snprintf(hb_last_err, sizeof(hb_last_err), "cannot sign or encode: %.200s", err);
		return rc;
	}
	a->out_len = strlen(text) + 4;
	a->out = malloc(a->out_len);
	if (!a->out) {
		free(text);
		return -ENOMEM;
	}
	a->out[0] = (char)((a->out_len - 4) >> 24);
	a->out[1] = (char)((a->out_len - 4) >> 16);
	a->out[2] = (char)((a->out_len - 4) >> 8);
	a->out[3] = (char)(a->out_len - 4);
	memcpy(a->out + 4, text, a->out_len - 4);
	a->out_off = 0;
	free(text);
	return 0;
}

static void *signer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sign_lock);
	while (!stopping) {
		uint32_t i;
		uint64_t one = 1;

		if (!q_pop(&to_sign, &i)) {
			pthread_cond_wait(&sign_cond, &sign_lock);
			continue;
		}
		pthread_mutex_unlock(&sign_lock);
		if (heartbeat_build(&agents[i]) != 0)
			agents[i].out = NULL;
		pthread_mutex_lock(&sign_lock);
		q_push(&signed_q, i);
		if (write(signed_efd[1], &one, 1) < 0) {
			/* the loop looks at the queue at its next wake-up anyway */
		}
	}
	pthread_mutex_unlock(&sign_lock);
	return NULL;
}

/* ---- agents ------------------------------------------------------------------------------ */

static void agent_close(struct agent *a)
{
	if (a->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, a->fd, NULL);
		close(a->fd);
	}
	a->fd = -1;
	free(a->out);
	a->out = NULL;
	frame_reader_fini(&a->rd);
	a->state = A_IDLE;
	a->sess = (struct ctl_session){0}; /* a new connection, a new session */
}

/* Keeps a's connection for its next heartbeat (colocd reads the next
 * request on it); EPOLLIN stays watched, so that its end is seen. */
static void agent_keep(struct agent *a)
{
	free(a->out);
	a->out = NULL;
	a->state = A_IDLE;
}

static void record_hb(struct agent *a, bool ok, const char *why)
{
	if (!measuring && ok && !o.reconnect) {
		agent_keep(a);
		return;
	}
	if (!measuring)
		goto close;
	if (ok) {
		hb_ok++;
		if (hb_n < SAMPLES_MAX)
			hb_us[hb_n++] = (uint32_t)((clock_ns() / 1000) - a->t0);
	} else {
		hb_err++;
		snprintf(hb_last_err, sizeof(hb_last_err), "%s: %.200s", a->name, why);
	}
	if (ok && !o.reconnect) {
		agent_keep(a);
		return;
	}
close:
	agent_close(a);
}

/* Connects agent a (its heartbeat in a->out) from its own address. */
static void agent_connect(struct agent *a)
{
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(a->addr)};
	struct sockaddr_in dst = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)o.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = a};
	int one = 1;

	if (!a->out) {
		record_hb(a, false, "no heartbeat (signing failed)");
		return;
	}
	if (a->fd >= 0) { /* its kept connection */
		ev.data.ptr = a;
		a->state = A_WRITING;
		if (epoll_ctl(ep, EPOLL_CTL_MOD, a->fd, &ev) != 0)
			record_hb(a, false, strerror(errno));
		return;
	}
	a->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		record_hb(a, false, strerror(errno));
		return;
	}
	setsockopt(a->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(a->fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    (connect(a->fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 && errno != EINPROGRESS) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, a->fd, &ev) != 0) {
		record_hb(a, false, strerror(errno));
		return;
	}
	frame_reader_init(&a->rd);
	a->state = A_CONNECTING;
}

/* Sends a's report now (signed in a thread with MUNGE). */
static void agent_resend(struct agent *a)
{
	if (o.munge) {
		a->state = A_SIGNING;
		pthread_mutex_lock(&sign_lock);
		q_push(&to_sign, (uint32_t)(a - agents));
		pthread_cond_signal(&sign_cond);
		pthread_mutex_unlock(&sign_lock);
	} else if (heartbeat_build(a) == 0) {
		agent_connect(a);
	} else {
		record_hb(a, false, "cannot sign");
	}
}

static void agent_event(struct agent *a, uint32_t events)
{
	char *text = NULL, err[256];
	struct msg reply;
	bool stale;
	size_t len;
	int rc;

	if (a->state == A_IDLE || a->state == A_SIGNING) { /* colocd closed a kept connection */
		if (a->fd >= 0) {
			epoll_ctl(ep, EPOLL_CTL_DEL, a->fd, NULL);
			close(a->fd);
			frame_reader_fini(&a->rd);
		}
		a->fd = -1;
		return;
	}
	if (a->state == A_CONNECTING || a->state == A_WRITING) {
		ssize_t n;

		if (events & (EPOLLERR | EPOLLHUP)) {
			int e = 0;
			socklen_t l = sizeof(e);

			getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &e, &l);
			record_hb(a, false, e ? strerror(e) : "connection closed");
			return;
		}
		a->state = A_WRITING;
		n = send(a->fd, a->out + a->out_off, a->out_len - a->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			record_hb(a, false, strerror(errno));
			return;
		}
		if (n > 0)
			a->out_off += (size_t)n;
		if (a->out_off == a->out_len) {
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = a};

			a->state = A_READING;
			epoll_ctl(ep, EPOLL_CTL_MOD, a->fd, &ev);
		}
		return;
	}
	rc = frame_reader_feed(&a->rd, a->fd, &text, &len);
	if (rc == 0)
		return;
	if (rc < 0) {
		record_hb(a, false, rc == -ECONNRESET ? "closed without an answer" : strerror(-rc));
		return;
	}
	if (msg_decode(text, &reply, err, sizeof(err)) != 0) {
		free(text);
		record_hb(a, false, err);
		return;
	}
	free(text);
	stale = reply.type == MSG_ERROR && strcmp(reply.u.error.code, "ESTALE") == 0;
	if ((reply.type == MSG_OK || stale) && a->proposed) {
		a->sess.on = true;
		a->sess.counter = 0;
		a->sess.renew = (int64_t)time(NULL) + CTL_REPORT_TTL_S - 5;
	} else if (reply.type == MSG_ERROR) {
		a->sess.on = false;
	}
	if (measuring && reply.type == MSG_OK)
		(*(a->sent_heartbeat ? &hb_minimal : &hb_full))++;
	if (reply.type == MSG_OK && !a->sent_heartbeat) {
		a->gen_taken = a->gen;
		a->changes_taken = a->changes_sent;
	} else if (reply.type != MSG_OK) {
		a->gen_taken = 0;
	}
	if (stale && a->sent_heartbeat) { /* the whole state, at once */
		hb_stale += measuring;
		msg_free(&reply);
		agent_keep(a);
		agent_resend(a);
		return;
	}
	if (reply.type == MSG_OK)
		record_hb(a, true, NULL);
	else {
		snprintf(err, sizeof(err), "%.30s: %.200s",
			 reply.type == MSG_ERROR ? reply.u.error.code : "?",
			 reply.type == MSG_ERROR ? reply.u.error.message : "not ok");
		record_hb(a, false, err);
	}
	msg_free(&reply);
}

/* ---- the agents' NodeAgentPort ------------------------------------------------------------ */

struct exec_conn {
	int fd;
	uint32_t node;
	struct frame_reader rd;
};

static int listen_fd = -1;

static void exec_answer(struct exec_conn *x, const struct msg *m)
{
	struct agent *a = &agents[x->node];
	struct msg reply = {.type = MSG_OK};
	char dest[CRED_DEST_MAX], err[256], *text = NULL;
	struct cred_id who;

	auth_agent_dest(a->name, dest);
	if (auth_check(&cred_root, m, dest, NULL, &who, err, sizeof(err)) != 0) {
		msg_error(&reply, "EACCES", "%s", err);
	} else if (m->type == MSG_EXEC_START) {
		exec_starts++;
		pthread_mutex_lock(&lease_lock);
		if (a->nleases < NODE_LEASES) {
			struct msg_node_lease *l = &a->leases[a->nleases++];

			memset(l, 0, sizeof(*l));
			snprintf(l->id, sizeof(l->id), "%s", m->u.exec.id);
			l->uid = m->u.exec.uid;
			l->workers = m->u.exec.workers;
			snprintf(l->pus, sizeof(l->pus), "%s", m->u.exec.pus);
			l->mem = m->u.exec.mem;
			l->gpus = m->u.exec.gpus;
			l->expires = m->u.exec.expires;
			l->ready = true;
			l->pid = 100000 + (int64_t)x->node;
			a->changes++;
		}
		pthread_mutex_unlock(&lease_lock);
		reply.type = MSG_LEASE_GRANT;
		snprintf(reply.u.grant.id, sizeof(reply.u.grant.id), "%s", m->u.exec.id);
		reply.u.grant.lease = strdup("{\"v\":1,\"type\":\"lease\"}");
		if (auth_sign(&cred_root, &reply, AUTH_DEST_REPLY, who.b.nonce, NULL, err,
			      sizeof(err)) != 0)
			msg_error(&reply, "EIO", "%s", err);
	} else if (m->type == MSG_EXEC_STOP) {
		exec_stops++;
		pthread_mutex_lock(&lease_lock);
		for (unsigned i = 0; i < a->nleases; i++)
			if (strcmp(a->leases[i].id, m->u.exec.id) == 0) {
				a->leases[i] = a->leases[--a->nleases];
				a->changes++;
			}
		pthread_mutex_unlock(&lease_lock);
	}
	if (msg_encode(&reply, &text) == 0)
		frame_send(x->fd, text, strlen(text), 1000);
	free(text);
	msg_free(&reply);
}

static void exec_event(struct exec_conn *x)
{
	char *text = NULL, err[256];
	struct msg m;
	size_t len;
	int rc = frame_reader_feed(&x->rd, x->fd, &text, &len);

	if (rc == 0)
		return;
	if (rc > 0 && msg_decode(text, &m, err, sizeof(err)) == 0) {
		exec_answer(x, &m);
		msg_free(&m);
	}
	free(text);
	epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
	close(x->fd);
	frame_reader_fini(&x->rd);
	free(x);
}

static void exec_accept(void)
{
	for (;;) {
		struct sockaddr_in local;
		socklen_t len = sizeof(local);
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct exec_conn *x;
		struct epoll_event ev = {.events = EPOLLIN};
		uint32_t addr;

		if (fd < 0)
			return;
		getsockname(fd, (struct sockaddr *)&local, &len);
		addr = ntohl(local.sin_addr.s_addr);
		x = calloc(1, sizeof(*x));
		/* 127.1.0.1 is agent 0: see agent_addr */
		if (!x || (addr >> 24) != 127 || addr < (127u << 24 | 1u << 16 | 1)) {
			free(x);
			close(fd);
			continue;
		}
		x->node = ((addr >> 16 & 0xff) - 1) * 64000 + (addr >> 8 & 0xff) * 250 +
			  (addr & 0xff) - 1;
		if (x->node >= o.nodes) {
			free(x);
			close(fd);
			continue;
		}
		x->fd = fd;
		frame_reader_init(&x->rd);
		ev.data.ptr = x;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* Agent i's address: 127.1.0.1, 127.1.0.2, ... (250 per /24, 64,000 per /16). */
static uint32_t agent_addr(unsigned i)
{
	return 127u << 24 | (1 + i / 64000) << 16 | (i % 64000 / 250) << 8 | (i % 250 + 1);
}

/* ---- the client ---------------------------------------------------------------------------- */

static struct cred_opts cred_user;

/* A new connection with req sent on it (blocking): the fd, or -errno. */
static int send_request(struct msg *req)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)o.port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char *text = NULL, err[256];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	rc = auth_sign(&cred_user, req, AUTH_DEST_CONTROLLER, NULL, NULL, err, sizeof(err));
	if (rc == 0)
		rc = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : -errno;
	if (rc == 0)
		rc = msg_encode(req, &text);
	if (rc == 0)
		rc = frame_send(fd, text, strlen(text), 5000);
	free(text);
	if (rc)
		close(fd);
	return rc ? rc : fd;
}

/* The next reply on fd. 0 or -errno. */
static int receive(int fd, struct msg *reply)
{
	char *answer = NULL, err[256];
	size_t len;
	int rc = frame_recv(fd, &answer, &len, 10000);

	if (rc == 0)
		rc = msg_decode(answer, reply, err, sizeof(err)) == 0 ? 0 : -EPROTO;
	free(answer);
	return rc;
}

/* One request, one reply (blocking). */
static int request(struct msg *req, struct msg *reply)
{
	int fd = send_request(req), rc;

	if (fd < 0)
		return fd;
	rc = receive(fd, reply);
	close(fd);
	return rc;
}

/* The calling process's CPU time (user and system), in ns. */
static int64_t cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void client_sample(struct client_samples *cs, int k, int64_t t0, bool ok)
{
	if (!ok)
		cs->fail[k]++;
	else if (cs->n[k] < CLIENT_SAMPLES)
		cs->us[k][cs->n[k]++] = (uint32_t)((clock_ns() - t0) / 1000);
}

/* Every page of a query, streamed on one connection (--paged: a request
 * a page): true when all came. */
static bool query_all(enum msg_query what, struct client_samples *cs)
{
	struct msg req = {.type = MSG_QUERY, .u.query = what, .filter.stream = !o.paged};
	int fd = o.paged ? -1 : send_request(&req);
	bool ok = o.paged || fd >= 0, more = ok;
	uint64_t from = 0;

	while (more) {
		struct msg reply;

		req.filter.from = from;
		if ((o.paged ? request(&req, &reply) : receive(fd, &reply)) != 0)
			break;
		ok = reply.type == MSG_RESULT &&
		     (!reply.u.result.next || reply.u.result.next > from);
		if (!ok)
			snprintf(cs->last_err, sizeof(cs->last_err), "query: %.200s",
				 reply.type == MSG_ERROR ? reply.u.error.message : "?");
		more = ok && reply.u.result.next;
		from = reply.u.result.next;
		msg_free(&reply);
	}
	if (fd >= 0)
		close(fd);
	return ok && !more;
}

static void client_run(struct client_samples *cs, int64_t end_ms)
{
	char held[64][64];
	int64_t held_at[64];
	unsigned nheld = 0, q = 0;
	int64_t next_lease = clock_ms(), next_query = clock_ms();

	while (clock_ms() < end_ms) {
		int64_t now = clock_ms();

		if (o.leases_per_s > 0 && now >= next_lease) {
			struct msg req = {.type = MSG_LEASE_ACQUIRE}, reply;
			int64_t t0 = clock_ns();
			bool ok;

			next_lease += (int64_t)(1000 / o.leases_per_s);
			req.u.acquire.workers = 1;
			req.u.acquire.mem = 1ull << 30;
			req.u.acquire.time = 60;
			snprintf(req.u.acquire.lib, sizeof(req.u.acquire.lib), "/bench/f.so");
			ok = request(&req, &reply) == 0 && reply.type == MSG_LEASE_GRANT;
			client_sample(cs, 0, t0, ok);
			if (ok && nheld < 64) {
				snprintf(held[nheld], sizeof(held[nheld]), "%s", reply.u.grant.id);
				held_at[nheld++] = now;
			} else if (!ok && reply.type == MSG_ERROR) {
				snprintf(cs->last_err, sizeof(cs->last_err),
					 "acquire: %.30s: %.200s", reply.u.error.code,
					 reply.u.error.message);
			}
			msg_free(&reply);
		}
		while (nheld && now - held_at[0] >= 2000) {
			struct msg req = {.type = MSG_LEASE_RELEASE}, reply;

			snprintf(req.u.release.id, sizeof(req.u.release.id), "%s", held[0]);
			if (request(&req, &reply) == 0 && reply.type == MSG_OK)
				cs->released++;
			else
				cs->release_fail++;
			msg_free(&reply);
			memmove(held, held + 1, (nheld - 1) * sizeof(held[0]));
			memmove(held_at, held_at + 1, (nheld - 1) * sizeof(held_at[0]));
			nheld--;
		}
		if (o.queries_per_s > 0 && now >= next_query) {
			static const enum msg_query qs[] = {MSG_QUERY_NODES, MSG_QUERY_GAPS,
							    MSG_QUERY_LEASES};
			int64_t t0 = clock_ns(), cpu0 = cpu_ns();
			int k = (int)(q++ % 3);
			bool ok;

			next_query += (int64_t)(1000 / o.queries_per_s);
			ok = query_all(qs[k], cs);
			if (ok) {
				cs->cpu_us[1 + k] += (uint64_t)(cpu_ns() - cpu0) / 1000;
				cs->cpu_n[1 + k]++;
			}
			client_sample(cs, 1 + k, t0, ok);
		}
		clock_sleep_ms(1);
	}
}

/* ---- the controller ------------------------------------------------------------------------ */

static char dir[64];

static pid_t start_controller(void)
{
	char conf[128], log[128], port[16];
	FILE *f;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/coloc.conf", dir);
	snprintf(log, sizeof(log), "%s/colocd.log", dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f,
		"ControllerHost=127.0.0.1\nControllerPort=%d\nStateDir=%s/state\nAuthType=%s\n"
		"MaxLeasesPerUser=1000\n",
		o.port, dir, o.munge ? "munge" : "none");
	if (o.munge && o.munge_socket)
		fprintf(f, "MungeSocket=%s\n", o.munge_socket);
	fclose(f);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execl(o.colocd, o.colocd, "--controller", "--foreground", "-f", conf, "--log-level",
		      "info", (char *)NULL);
		_exit(127);
	}
	snprintf(port, sizeof(port), ":%04X", o.port);
	for (int i = 0; i < 500; i++) {
		FILE *t = fopen("/proc/net/tcp", "r");
		char line[256];
		bool up = false;

		while (t && fgets(line, sizeof(line), t))
			up |= strstr(line, port) && strstr(line, " 0A ");
		if (t)
			fclose(t);
		if (up)
			return pid;
		usleep(10000);
	}
	kill(pid, SIGTERM);
	return -1;
}

/* utime + stime of pid, in seconds. */
static double cpu_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (p &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	return (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec / 1e6 +
	       (double)r.ru_stime.tv_sec + (double)r.ru_stime.tv_usec / 1e6;
}

static unsigned count_in_log(const char *what)
{
	char path[128], line[1024];
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/colocd.log", dir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return n;
}

static double pct(uint32_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	return (double)v[stats_rank(n, p)] / 1000.0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The client's mean CPU time for query kind k, in ms. */
static double cpu_ms(const struct client_samples *cs, int k)
{
	return cs->cpu_n[k] ? (double)cs->cpu_us[k] / 1000 / cs->cpu_n[k] : 0.0;
}

static void print_lat(const char *name, uint32_t *v, size_t n, uint32_t fail, bool last)
{
	qsort(v, n, sizeof(*v), cmp_u32);
	printf("  \"%s\": {\"n\": %zu, \"failed\": %u, \"p50_ms\": %.2f, \"p99_ms\": %.2f, "
	       "\"max_ms\": %.2f}%s\n",
	       name, n, fail, pct(v, n, 0.5), pct(v, n, 0.99), n ? (double)v[n - 1] / 1000 : 0.0,
	       last ? "" : ",");
}

static void usage(void)
{
	fprintf(stderr, "usage: " PROG " --colocd PATH [--nodes N] [--seconds S] [--warmup S]\n"
			"       [--auth none|munge] [--munge-socket PATH] [--leases-per-s R]\n"
			"       [--queries-per-s Q] [--port P] [--signers T] [--reconnect]\n"
			"       [--munged-pid PID] [--no-session] [--full-state] [--paged]\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"colocd", required_argument, NULL, 'c'},
	    {"nodes", required_argument, NULL, 'n'},
	    {"seconds", required_argument, NULL, 's'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"auth", required_argument, NULL, 'a'},
	    {"munge-socket", required_argument, NULL, 'm'},
	    {"leases-per-s", required_argument, NULL, 'l'},
	    {"queries-per-s", required_argument, NULL, 'q'},
	    {"port", required_argument, NULL, 'p'},
	    {"reconnect", no_argument, NULL, 'r'},
	    {"munged-pid", required_argument, NULL, 'M'},
	    {"no-session", no_argument, NULL, 'S'},
	    {"full-state", no_argument, NULL, 'F'},
	    {"paged", no_argument, NULL, 'P'},
	    {"signers", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o.colocd = optarg;
			break;
		case 'n':
			o.nodes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o.seconds = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			o.warmup = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'a':
			if (strcmp(optarg, "none") && strcmp(optarg, "munge"))
				usage();
			o.munge = strcmp(optarg, "munge") == 0;
			break;
		case 'm':
			o.munge_socket = optarg;
			break;
		case 'l':
			o.leases_per_s = strtod(optarg, NULL);
			break;
		case 'q':
			o.queries_per_s = strtod(optarg, NULL);
			break;
		case 'p':
			o.port = atoi(optarg);
			break;
		case 'r':
			o.reconnect = true;
			break;
		case 'M':
			o.munged_pid = atoi(optarg);
			break;
		case 'S':
			o.no_session = true;
			break;
		case 'F':
			o.full_state = true;
			break;
		case 'P':
			o.paged = true;
			break;
		case 't':
			o.signers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (!o.colocd || o.nodes == 0 || o.nodes > 1000000 || o.seconds == 0 || o.signers == 0 ||
	    o.signers > 64)
		usage();
	if (!o.port)
		o.port = 20000 + (int)(getpid() % 20000);
}

int main(int argc, char **argv)
{
	struct sockaddr_in la = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
	struct client_samples *cs;
	pthread_t threads[64];
	double c0 = 0, g0 = 0, m0 = 0, c1, g1, m1, load[3] = {0};
	int64_t start, measure_at, end;
	unsigned down0 = 0, down1;
	socklen_t len = sizeof(la);
	pid_t ctrl, client;
	struct rlimit rl;
	int one = 1;

	parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	/* a descriptor per agent here, a connection per agent in colocd (which
	 * inherits the limit): as root, beyond the hard limit */
	rl.rlim_cur = rl.rlim_max = 1u << 20;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	cred_root = (struct cred_opts){.none = !o.munge,
				       .socket = o.munge_socket,
				       .claim = !o.munge,
				       .ttl_s = CTL_REPORT_TTL_S}; /* as node agents sign */
	cred_user = (struct cred_opts){.none = !o.munge,
				       .socket = o.munge_socket,
				       .claim = !o.munge,
				       .uid = USER_UID,
				       .gid = USER_UID};
	snprintf(dir, sizeof(dir), "/tmp/coloc-scale.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	agents = calloc(o.nodes, sizeof(*agents));
	hb_us = malloc(SAMPLES_MAX * sizeof(*hb_us));
	to_sign.cap = signed_q.cap = o.nodes + 1;
	to_sign.q = malloc(to_sign.cap * sizeof(uint32_t));
	signed_q.q = malloc(signed_q.cap * sizeof(uint32_t));
	cs = mmap(NULL, sizeof(*cs), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!agents || !hb_us || !to_sign.q || !signed_q.q || cs == MAP_FAILED ||
	    pipe2(signed_efd, O_CLOEXEC | O_NONBLOCK) != 0)
		return 1;
	memset(cs, 0, sizeof(*cs));

	/* the agents' NodeAgentPort */
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_fd, (struct sockaddr *)&la, sizeof(la)) != 0 || listen(listen_fd, 4096) ||
	    getsockname(listen_fd, (struct sockaddr *)&la, &len) != 0) {
		perror(PROG ": the agents' port");
		return 1;
	}
	agent_port = ntohs(la.sin_port);
	ctrl = start_controller();
	if (ctrl < 0) {
		fprintf(stderr, PROG ": colocd --controller did not start (see %s/colocd.log)\n",
			dir);
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	{
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_fd};
		struct epoll_event sv = {.events = EPOLLIN, .data.ptr = signed_efd};

		epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
		epoll_ctl(ep, EPOLL_CTL_ADD, signed_efd[0], &sv);
	}
	start = clock_ms();
	until_at = time(NULL) + 3600;
	for (unsigned i = 0; i < o.nodes; i++) {
		struct agent *a = &agents[i];

		a->fd = -1;
		a->addr = agent_addr(i);
		a->due = start + (int64_t)((uint64_t)i * PERIOD_MS / o.nodes);
		snprintf(a->name, sizeof(a->name), "sim%05u", i);
	}
	for (unsigned t = 0; o.munge && t < o.signers; t++)
		pthread_create(&threads[t], NULL, signer, NULL);

	measure_at = start + (int64_t)o.warmup * 1000;
	end = measure_at + (int64_t)o.seconds * 1000;
	client = fork();
	if (client == 0) {
		if (o.munge && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(1);
		while (clock_ms() < measure_at)
			clock_sleep_ms(10);
		client_run(cs, end);
		_exit(0);
	}

	/* agents are due in the order of their index, a period apart: the
	 * next due is the first one after the last started */
	{
		unsigned next = 0;
		struct epoll_event ev[256];

		while (clock_ms() < end) {
			int64_t now = clock_ms();
			int n, wait;
			uint32_t i;

			if (!measuring && now >= measure_at) {
				measuring = true;
				c0 = cpu_of(ctrl);
				g0 = self_cpu();
				m0 = o.munged_pid ? cpu_of(o.munged_pid) : 0;
				down0 = count_in_log(" is down");
			}
			while (agents[next].due <= now) {
				struct agent *a = &agents[next];

				a->due += PERIOD_MS;
				if (a->state != A_IDLE) {
					if (now - a->t0 / 1000 > LOST_MS) {
						if (measuring)
							hb_lost++;
						agent_close(a);
					} else if (measuring) {
						hb_skipped++;
					}
				}
				if (a->state == A_IDLE) {
					a->t0 = clock_ns() / 1000;
					if (measuring)
						hb_sent++;
					agent_resend(a);
				}
				next = (next + 1) % o.nodes;
			}
			wait = (int)(agents[next].due - clock_ms());
			n = epoll_wait(ep, ev, 256, wait < 0 ? 0 : wait > 50 ? 50 : wait);
			for (int k = 0; k < n; k++) {
				void *tag = ev[k].data.ptr;

				if (tag == &listen_fd) {
					exec_accept();
				} else if (tag == signed_efd) {
					char buf[256];

					while (read(signed_efd[0], buf, sizeof(buf)) > 0)
						;
				} else if ((char *)tag >= (char *)agents &&
					   (char *)tag < (char *)(agents + o.nodes)) {
					agent_event(tag, ev[k].events);
				} else {
					exec_event(tag);
				}
			}
			if (o.munge) {
				pthread_mutex_lock(&sign_lock);
				while (q_pop(&signed_q, &i)) {
					pthread_mutex_unlock(&sign_lock);
					agent_connect(&agents[i]);
					pthread_mutex_lock(&sign_lock);
				}
				pthread_mutex_unlock(&sign_lock);
			}
		}
	}
	c1 = cpu_of(ctrl);
	g1 = self_cpu();
	down1 = count_in_log(" is down"); /* before the heartbeats stop */
	m1 = o.munged_pid ? cpu_of(o.munged_pid) : 0;
	waitpid(client, NULL, 0);
	if (getloadavg(load, 3) < 0)
		load[0] = -1;

	printf("{\n  \"nodes\": %u, \"seconds\": %u, \"auth\": \"%s\", \"connections\": \"%s\", "
	       "\"reports\": \"%s\", \"loadavg\": [%.2f, %.2f, %.2f],\n",
	       o.nodes, o.seconds, o.munge ? "munge" : "none",
	       o.reconnect    ? "one per heartbeat"
	       : o.no_session ? "kept, a credential per heartbeat"
			      : "kept, sessions",
	       o.full_state ? "the whole state every time"
			    : "heartbeats, the state when it changed",
	       load[0], load[1], load[2]);
	printf("  \"heartbeats\": {\"sent\": %llu, \"ok\": %llu, \"refused_or_failed\": %llu, "
	       "\"lost\": %llu, \"skipped_busy\": %llu, \"ok_per_s\": %.1f, \"whole_states\": "
	       "%llu, \"minimal\": %llu, \"estale\": %llu, \"last_error\": \"%s\"},\n",
	       (unsigned long long)hb_sent, (unsigned long long)hb_ok, (unsigned long long)hb_err,
	       (unsigned long long)hb_lost, (unsigned long long)hb_skipped,
	       (double)hb_ok / o.seconds, (unsigned long long)hb_full,
	       (unsigned long long)hb_minimal, (unsigned long long)hb_stale, hb_last_err);
	print_lat("heartbeat", hb_us, hb_n, 0, false);
	print_lat("lease_acquire", cs->us[0], cs->n[0], cs->fail[0], false);
	print_lat("query_nodes", cs->us[1], cs->n[1], cs->fail[1], false);
	print_lat("query_gaps", cs->us[2], cs->n[2], cs->fail[2], false);
	print_lat("query_leases", cs->us[3], cs->n[3], cs->fail[3], false);
	printf("  \"client_cpu_ms_per_query\": {\"nodes\": %.2f, \"gaps\": %.2f, \"leases\": "
	       "%.2f},\n",
	       cpu_ms(cs, 1), cpu_ms(cs, 2), cpu_ms(cs, 3));
	printf("  \"leases_released\": %u, \"release_failed\": %u, \"exec_starts\": %llu, "
	       "\"exec_stops\": %llu, \"client_last_error\": \"%s\",\n",
	       cs->released, cs->release_fail, (unsigned long long)exec_starts,
	       (unsigned long long)exec_stops, cs->last_err);
	printf("  \"nodes_marked_down\": %u, \"controller_cpu_pct\": %.1f, "
	       "\"generator_cpu_pct\": %.1f, \"munged_cpu_pct\": %.1f\n}\n",
	       down1 - down0, 100 * (c1 - c0) / o.seconds, 100 * (g1 - g0) / o.seconds,
	       100 * (m1 - m0) / o.seconds);
	stopping = true;
	pthread_mutex_lock(&sign_lock);
	pthread_cond_broadcast(&sign_cond);
	pthread_mutex_unlock(&sign_lock);
	for (unsigned t = 0; o.munge && t < o.signers; t++)
		pthread_join(threads[t], NULL);
	kill(ctrl, SIGTERM);
	waitpid(ctrl, NULL, 0);
	if (!getenv("COLOC_SCALE_KEEP")) { /* the controller's log and state */
		pid_t rm = fork();

		if (rm == 0) {
			execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
			_exit(127);
		}
		if (rm > 0)
			waitpid(rm, NULL, 0);
	}
	return 0;
}
