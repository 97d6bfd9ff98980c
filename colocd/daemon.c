/*
 * daemon: colocd --standalone (see daemon.h).
 *
 * Data structures, all owned by the one thread that runs the event loop:
 *   - conns[]: open connections, each with a frame reader; a connection
 *     carries one request and gets one reply (a lease request's reply waits
 *     until its executor has published its lease document).
 *   - leases[]: the lease table: owner, PUs, memory, deadline, the sandbox
 *     (cgroup) its executor runs in, and its state.
 *   - jobs[]: the ledger of host jobs and their running steps, from the
 *     SPANK plugin's reports.
 *   - place: the placement registry, holding this node's current gap.
 * The loop waits in epoll with a 20 ms tick, on which it advances starting
 * leases, reaps executors and ends expired leases.
 */
#include "config.h"

#include "daemon.h"

#include "clock.h"
#include "cred.h"
#include "frame.h"
#include "gaps.h"
#include "log.h"
#include "msg.h"
#include "placement.h"
#include "sandbox.h"
#include "topology.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define MAX_LEASES 256
#define MAX_JOBS 256
#define TICK_MS 20
#define CONN_IDLE_MS 5000      /* a connection that sends no complete request */
#define START_TIMEOUT_MS 10000 /* an executor publishing its lease document */
#define DEFAULT_WORKER_MEM (256ull << 20)
#define REPLY_TIMEOUT_MS 1000

enum lease_state { LEASE_FREE = 0, LEASE_STARTING, LEASE_READY };

struct lease {
	enum lease_state state;
	char id[48];
	uint32_t uid, gid;
	unsigned workers;
	struct place_assignment where;
	int64_t expires; /* unix seconds */
	struct sandbox *sb;
	pid_t pid;
	char dir[4200];
	int waiter;	   /* connection waiting for the grant, -1 */
	int64_t start_end; /* ms: when starting gives up */
};

struct conn {
	int fd;	    /* -1 when free */
	bool local; /* the unix socket (plugin reports) */
	uint32_t peer_uid;
	struct frame_reader reader;
	int64_t since;
	bool waiting; /* a reply is deferred (lease starting) */
};

struct daemon {
	const struct daemon_options *o;
	struct coloc_config cfg;
	struct cred_opts cred;
	struct topology *topo;
	struct placement *place;
	char node[64];
	int ep, sigfd, tcp, unix_fd;
	struct conn conns[MAX_CONNS];
	struct lease leases[MAX_LEASES];
	struct host_job jobs[MAX_JOBS];
	unsigned njobs;
	unsigned long lease_seq;
	bool stop;
};

/* ---- replies ------------------------------------------------------------------ */

static void conn_close(struct daemon *d, struct conn *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(d->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	frame_reader_fini(&c->reader);
	c->fd = -1;
	c->waiting = false;
}

/* Sends m and closes the connection (one request per connection). */
static void reply(struct daemon *d, struct conn *c, const struct msg *m)
{
	char *text = NULL;

	if (c->fd >= 0 && msg_encode(m, &text) == 0)
		frame_send(c->fd, text, strlen(text), REPLY_TIMEOUT_MS);
	free(text);
	conn_close(d, c);
}

__attribute__((format(printf, 4, 5))) static void
reply_error(struct daemon *d, struct conn *c, const char *code, const char *fmt, ...)
{
	struct msg m;
	char text[MSG_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	msg_error(&m, code, "%s", text);
	reply(d, c, &m);
}

static void reply_ok(struct daemon *d, struct conn *c)
{
	struct msg m = {.type = MSG_OK};

	reply(d, c, &m);
}

/* ---- the node's gap ------------------------------------------------------------ */

static uint64_t node_memory(const struct daemon *d)
{
	return d->topo->memory_bytes;
}

/* The node's GPUs (the Gpus key) as a bitmask; at most 32 are lent. */
static uint32_t node_gpus(const struct daemon *d)
{
	unsigned n = d->cfg.ngpus < 32 ? d->cfg.ngpus : 32;

	return n == 32 ? UINT32_MAX : (1u << n) - 1;
}

/* Recomputes the gap from the ledger and hands it to placement, with the
 * leases' PUs and memory as taken. */
static int refresh_gap(struct daemon *d, struct node_gap *gap)
{
	struct gap_policy pol = {.lend_unallocated = d->cfg.lend_unallocated,
				 .batch_step_cores = d->cfg.batch_step_cores,
				 .memory_margin = d->cfg.memory_margin,
				 .max_lend_fraction = d->cfg.max_lend_fraction};
	struct place_node n = {.id = 0};
	uint64_t leased_mem = 0;
	uint32_t leased_gpus = 0;
	int rc;

	rc = gaps_compute(d->topo, node_memory(d), node_gpus(d), d->jobs, d->njobs, &pol, gap);
	if (rc)
		return rc;
	snprintf(n.name, sizeof(n.name), "%s", d->node);
	n.lendable = gap->lendable;
	n.unallocated = gap->unallocated;
	topology_cache_neighbours(d->topo, &gap->host_busy, &n.near_host);
	cpumask_and(&n.near_host, &n.near_host, &n.lendable);
	for (unsigned i = 0; i < MAX_LEASES; i++) {
		if (d->leases[i].state == LEASE_FREE)
			continue;
		cpumask_or(&n.leased, &n.leased, &d->leases[i].where.pus);
		leased_mem += d->leases[i].where.mem;
		leased_gpus |= d->leases[i].where.gpus;
	}
	n.mem_free = gap->mem_lendable > leased_mem ? gap->mem_lendable - leased_mem : 0;
	n.gpus_free = gap->gpus_lendable & ~leased_gpus;
	n.until = gap->until;
	return placement_update(d->place, &n);
}

/* ---- leases --------------------------------------------------------------------- */

static void lease_end(struct daemon *d, struct lease *l, const char *why)
{
	bool killed = false;
	char path[4300];

	if (l->sb) {
		sandbox_evict(l->sb, d->cfg.evict_grace_ms, &killed);
		sandbox_destroy(l->sb);
		l->sb = NULL;
	}
	snprintf(path, sizeof(path), "%s/lease.json", l->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lease.json.tmp", l->dir);
	unlink(path);
	rmdir(l->dir);
	log_info("%s ended (%s)%s", l->id, why, killed ? "; its executor needed SIGKILL" : "");
	if (l->waiter >= 0 && d->conns[l->waiter].fd >= 0)
		reply_error(d, &d->conns[l->waiter], "ECANCELED",
			    "%s ended before it was ready: %s", l->id, why);
	memset(l, 0, sizeof(*l));
	l->waiter = -1;
	l->state = LEASE_FREE;
}

static struct lease *lease_find(struct daemon *d, const char *id)
{
	for (unsigned i = 0; i < MAX_LEASES; i++)
		if (d->leases[i].state != LEASE_FREE && strcmp(d->leases[i].id, id) == 0)
			return &d->leases[i];
	return NULL;
}

static int make_dir_for(const char *path, uint32_t uid, uint32_t gid)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -errno;
	if (chown(path, uid, gid) != 0)
		return -errno;
	return 0;
}

/* Starts the lease's executor in its sandbox; the grant follows when the
 * executor publishes its lease document (see advance). */
static int lease_start(struct daemon *d, struct lease *l, const struct msg *req, char *err,
		       size_t errlen)
{
	struct sandbox_spec spec = {.root = d->cfg.cgroup_root,
				    .name = l->id,
				    .cpus = l->where.pus,
				    .mem_limit = l->where.mem,
				    .uid = l->uid,
				    .gid = l->gid};
	char cpus[MSG_CPULIST_MAX], workers[16], publish[4300], hot[32], token_env[64];
	char *argv[24], *envp[8], addr_env[128];
	uint8_t token[16];
	int argc = 0, envc = 0, rc;

	snprintf(publish, sizeof(publish), "%s/leases", d->cfg.state_dir);
	if (mkdir(publish, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %.300s: %s", publish, strerror(errno));
		return -errno;
	}
	rc = make_dir_for(l->dir, l->uid, l->gid);
	if (rc) {
		snprintf(err, errlen, "cannot create %.300s for uid %u: %s", l->dir, l->uid,
			 strerror(-rc));
		return rc;
	}
	for (unsigned g = 0; g < d->cfg.ngpus && g < 32 && spec.ndevices < SANDBOX_MAX_DEVICES; g++)
		if (l->where.gpus & (1u << g))
			spec.devices[spec.ndevices++] = d->cfg.gpus[g];
	rc = sandbox_create(&spec, &l->sb, err, errlen);
	if (rc)
		return rc;
	cpumask_format(&l->where.pus, cpus, sizeof(cpus));
	snprintf(workers, sizeof(workers), "%u", l->workers);
	snprintf(publish, sizeof(publish), "%s/lease.json", l->dir);
	snprintf(hot, sizeof(hot), "%ld", d->cfg.hot_poll_us < 0 ? 0 : d->cfg.hot_poll_us);
	if (getrandom(token, sizeof(token), 0) != sizeof(token))
		return -EIO;
	snprintf(token_env, sizeof(token_env), "FAAS_TOKEN=");
	for (int i = 0; i < 16; i++)
		snprintf(token_env + 11 + 2 * i, 3, "%02x", token[i]);
	argv[argc++] = (char *)d->o->executor;
	argv[argc++] = "--lib";
	argv[argc++] = (char *)req->u.acquire.lib;
	argv[argc++] = "--cpus";
	argv[argc++] = cpus;
	argv[argc++] = "--workers";
	argv[argc++] = workers;
	argv[argc++] = "--publish";
	argv[argc++] = publish;
	argv[argc++] = "--id";
	argv[argc++] = l->id;
	if (d->cfg.hot_poll_us < 0) {
		argv[argc++] = "--mode";
		argv[argc++] = "hot";
	} else {
		argv[argc++] = "--hot-poll-us";
		argv[argc++] = hot;
	}
	if (d->cfg.provider[0]) {
		argv[argc++] = "--provider";
		argv[argc++] = d->cfg.provider;
	}
	argv[argc] = NULL;
	envp[envc++] = token_env;
	envp[envc++] = "PATH=/usr/bin:/bin";
	if (getenv("FAAS_ADDR")) { /* the data-plane address, when the site sets one */
		snprintf(addr_env, sizeof(addr_env), "FAAS_ADDR=%s", getenv("FAAS_ADDR"));
		envp[envc++] = addr_env;
	}
	envp[envc] = NULL;
	rc = sandbox_spawn(l->sb, argv, envp, &l->pid, err, errlen);
	explicit_bzero(token_env, sizeof(token_env));
	return rc;
}

static void handle_acquire(struct daemon *d, struct conn *c, const struct msg *req)
{
	struct place_request pr = {.workers = req->u.acquire.workers,
				   .mem_per_worker =
				       req->u.acquire.mem ? req->u.acquire.mem : DEFAULT_WORKER_MEM,
				   .gpus = req->u.acquire.gpus,
				   .now = time(NULL),
				   .mode = req->u.acquire.pack ? PLACE_PACK : PLACE_SPREAD};
	char err[512] = "";
	uint32_t uid, gid;
	struct node_gap gap;
	struct lease *l = NULL;
	unsigned n = 0;
	int rc;

	rc = cred_verify(&d->cred, req->cred, &uid, &gid, err, sizeof(err));
	if (rc) {
		reply_error(d, c, "EACCES", "%s", err);
		return;
	}
	if (uid == 0) {
		reply_error(d, c, "EPERM",
			    "executors never run as root: acquire the lease as the user who will "
			    "call its functions");
		return;
	}
	pr.duration_s =
	    req->u.acquire.time < d->cfg.max_lease_s ? req->u.acquire.time : d->cfg.max_lease_s;
	for (unsigned i = 0; i < MAX_LEASES && !l; i++)
		if (d->leases[i].state == LEASE_FREE)
			l = &d->leases[i];
	if (!l) {
		reply_error(d, c, "EBUSY", "this node holds %d leases already", MAX_LEASES);
		return;
	}
	rc = refresh_gap(d, &gap);
	if (rc == 0)
		rc = placement_place(d->place, &pr, &l->where, 1, &n, err, sizeof(err));
	if (rc) {
		reply_error(d, c, rc == -ENOSPC ? "ENOSPC" : "EINVAL", "%s",
			    err[0] ? err : strerror(-rc));
		return;
	}
	l->state = LEASE_STARTING;
	l->uid = uid;
	l->gid = gid;
	l->workers = req->u.acquire.workers;
	l->expires = pr.now + pr.duration_s;
	l->waiter = (int)(c - d->conns);
	l->start_end = clock_ms() + START_TIMEOUT_MS;
	snprintf(l->id, sizeof(l->id), "lease-%lu-%ld", ++d->lease_seq, (long)getpid());
	snprintf(l->dir, sizeof(l->dir), "%s/leases/%s", d->cfg.state_dir, l->id);
	rc = lease_start(d, l, req, err, sizeof(err));
	if (rc) {
		l->waiter = -1;
		log_warning("cannot start the executor of %s for uid %u: %s", l->id, uid, err);
		reply_error(d, c, "EIO", "cannot start the executor: %s", err);
		lease_end(d, l, "its executor did not start");
		refresh_gap(d, &gap);
		return;
	}
	c->waiting = true;
	log_info("%s: %u workers on cpus of %s for uid %u, %lld s", l->id, l->workers, d->node, uid,
		 (long long)pr.duration_s);
}

static void handle_release(struct daemon *d, struct conn *c, const struct msg *req)
{
	struct lease *l = lease_find(d, req->u.release.id);
	uint32_t uid, gid;
	struct node_gap gap;
	char err[512] = "";

	if (cred_verify(&d->cred, req->cred, &uid, &gid, err, sizeof(err)) != 0) {
		reply_error(d, c, "EACCES", "%s", err);
		return;
	}
	if (!l) {
		reply_error(d, c, "ENOENT",
			    "no lease %s here (it ended, or never existed); see "
			    "colocctl leases",
			    req->u.release.id);
		return;
	}
	if (uid != 0 && uid != l->uid) {
		reply_error(d, c, "EPERM", "%s belongs to uid %u, not %u", l->id, l->uid, uid);
		return;
	}
	lease_end(d, l, "released");
	refresh_gap(d, &gap);
	reply_ok(d, c);
}

/* ---- queries --------------------------------------------------------------------- */

static void handle_query(struct daemon *d, struct conn *c, const struct msg *req)
{
	struct msg m = {.type = MSG_RESULT};
	size_t cap = 65536, len = 0;
	char *items = malloc(cap), cpus[MSG_CPULIST_MAX], *p;
	uint32_t uid, gid;
	struct node_gap gap;
	char err[512] = "";

	if (!items)
		return conn_close(d, c);
	if (cred_verify(&d->cred, req->cred, &uid, &gid, err, sizeof(err)) != 0) {
		free(items);
		reply_error(d, c, "EACCES", "%s", err);
		return;
	}
#define ADD(...)                                                                                   \
	do {                                                                                       \
		int n_ = snprintf(items + len, cap - len, __VA_ARGS__);                            \
		if (n_ > 0 && (size_t)n_ < cap - len)                                              \
			len += (size_t)n_;                                                         \
	} while (0)
	ADD("[");
	if (req->u.query == MSG_QUERY_LEASES || req->u.query == MSG_QUERY_EXECUTORS) {
		for (unsigned i = 0; i < MAX_LEASES; i++) {
			struct lease *l = &d->leases[i];

			if (l->state == LEASE_FREE)
				continue;
			cpumask_format(&l->where.pus, cpus, sizeof(cpus));
			if (req->u.query == MSG_QUERY_LEASES)
				ADD("%s{\"id\":\"%s\",\"uid\":%u,\"state\":\"%s\",\"workers\":%u,"
				    "\"node\":\"%s\",\"cpus\":\"%s\",\"mem\":%llu,\"expires\":%lld}",
				    len > 1 ? "," : "", l->id, l->uid,
				    l->state == LEASE_READY ? "ready" : "starting", l->workers,
				    d->node, cpus, (unsigned long long)l->where.mem,
				    (long long)l->expires);
			else {
				char gpus[512] = "";
				size_t gl = 0;

				for (unsigned g = 0; g < d->cfg.ngpus && g < 32; g++)
					if (l->where.gpus & (1u << g))
						gl += (size_t)snprintf(gpus + gl, sizeof(gpus) - gl,
								       "%s%s", gl ? "," : "",
								       d->cfg.gpus[g]);
				ADD("%s{\"pid\":%ld,\"node\":\"%s\",\"uid\":%u,\"cgroup\":\"%s/%s\","
				    "\"cpus\":\"%s\",\"mem_limit\":%llu,\"gpus\":\"%s\","
				    "\"lease\":\"%s\"}",
				    len > 1 ? "," : "", (long)l->pid, d->node, l->uid,
				    d->cfg.cgroup_root, l->id, cpus,
				    (unsigned long long)l->where.mem, gpus, l->id);
			}
		}
	} else if (refresh_gap(d, &gap) == 0) {
		struct place_node n;

		placement_get(d->place, 0, &n);
		cpumask_andnot(&n.lendable, &n.lendable, &n.leased);
		cpumask_format(&n.lendable, cpus, sizeof(cpus));
		if (req->u.query == MSG_QUERY_GAPS) {
			char unalloc[MSG_CPULIST_MAX];

			cpumask_format(&gap.unallocated, unalloc, sizeof(unalloc));
			ADD("{\"node\":\"%s\",\"lendable\":\"%s\",\"unallocated\":\"%s\","
			    "\"mem\":%llu,\"gpus\":%d,\"until\":%lld}",
			    d->node, cpus, unalloc, (unsigned long long)n.mem_free,
			    __builtin_popcount(n.gpus_free),
			    (long long)(gap.until == INT64_MAX ? 0 : gap.until));
		} else {
			cpumask_format(&d->topo->all_pus, cpus, sizeof(cpus));
			ADD("{\"name\":\"%s\",\"pus\":\"%s\",\"mem\":%llu,\"gpus\":%u,"
			    "\"jobs\":%u,\"drained\":false}",
			    d->node, cpus, (unsigned long long)node_memory(d), d->cfg.ngpus,
			    d->njobs);
		}
	}
	ADD("]");
#undef ADD
	for (p = items; *p; p++) /* our own strings: cgroup names, ids, hostnames */
		if (*p == '\\')
			*p = '/';
	m.u.result.what = req->u.query;
	m.u.result.items = items;
	reply(d, c, &m);
	free(items);
}

/* ---- plugin reports: host jobs and steps -------------------------------------------- */

static struct host_job *job_find(struct daemon *d, uint32_t id)
{
	for (unsigned i = 0; i < d->njobs; i++)
		if (d->jobs[i].job_id == id)
			return &d->jobs[i];
	return NULL;
}

/* Ends the leases whose PUs are no longer lendable: the host wins. Returns
 * how many were evicted. */
static unsigned reclaim(struct daemon *d)
{
	struct node_gap gap;
	unsigned evicted = 0;

	if (refresh_gap(d, &gap) != 0)
		return 0;
	for (unsigned i = 0; i < MAX_LEASES; i++) {
		struct lease *l = &d->leases[i];
		struct cpumask lost;

		if (l->state == LEASE_FREE)
			continue;
		cpumask_andnot(&lost, &l->where.pus, &gap.lendable);
		if (cpumask_empty(&lost))
			continue;
		lease_end(d, l, "its PUs were reclaimed by a host job");
		evicted++;
	}
	if (evicted)
		refresh_gap(d, &gap);
	return evicted;
}

static void handle_report(struct daemon *d, struct conn *c, const struct msg *m)
{
	struct host_job *j;
	struct node_gap gap;
	unsigned evicted;
	int rc;

	switch (m->type) {
	case MSG_JOB_START:
		j = job_find(d, m->u.job_start.job);
		if (!j) {
			if (d->njobs == MAX_JOBS) {
				reply_error(d, c, "EBUSY", "the ledger holds %d jobs already",
					    MAX_JOBS);
				return;
			}
			j = &d->jobs[d->njobs++];
		}
		memset(j, 0, sizeof(*j));
		j->job_id = m->u.job_start.job;
		j->uid = m->u.job_start.uid;
		if (cpumask_parse(m->u.job_start.pus, &j->pus) != 0) {
			d->njobs--;
			reply_error(d, c, "EINVAL", "job %u: \"%s\" is not a cpu list",
				    m->u.job_start.job, m->u.job_start.pus);
			return;
		}
		j->mem_bytes = m->u.job_start.mem;
		j->mem_need = m->u.job_start.mem_need;
		j->gpus = m->u.job_start.gpus;
		j->consent = m->u.job_start.consent;
		j->end_time = m->u.job_start.end;
		j->batch_running = true;
		break;
	case MSG_STEP_START:
		j = job_find(d, m->u.step.job);
		if (!j) {
			reply_error(d, c, "ENOENT", "step %u.%u: job %u was not reported",
				    m->u.step.job, m->u.step.step, m->u.step.job);
			return;
		}
		if (j->nsteps == GAPS_MAX_STEPS) {
			reply_error(d, c, "EBUSY", "job %u runs %d steps already", j->job_id,
				    GAPS_MAX_STEPS);
			return;
		}
		j->steps[j->nsteps] = (struct host_step){
		    .step_id = m->u.step.step, .mem_bytes = m->u.step.mem, .gpus = m->u.step.gpus};
		if (cpumask_parse(m->u.step.pus, &j->steps[j->nsteps].pus) != 0) {
			reply_error(d, c, "EINVAL", "step %u.%u: \"%s\" is not a cpu list",
				    m->u.step.job, m->u.step.step, m->u.step.pus);
			return;
		}
		j->nsteps++;
		break;
	case MSG_STEP_END:
		j = job_find(d, m->u.step.job);
		for (unsigned i = 0; j && i < j->nsteps; i++) {
			if (j->steps[i].step_id == m->u.step.step) {
				j->steps[i] = j->steps[--j->nsteps];
				break;
			}
		}
		break;
	case MSG_JOB_END:
		j = job_find(d, m->u.job_end);
		if (j)
			*j = d->jobs[--d->njobs];
		break;
	default:
		break;
	}
	/* the ledger changed: whatever the host needs back is evicted before
	 * the reply, so a step never starts on a lent PU */
	rc = refresh_gap(d, &gap);
	if (rc) {
		reply_error(d, c, "EINVAL", "the reported allocation does not fit this node: %s",
			    strerror(-rc));
		return;
	}
	evicted = reclaim(d);
	if (evicted)
		log_info("%s: evicted %u lease(s) for the host", msg_type_name(m->type), evicted);
	reply_ok(d, c);
}

/* ---- requests --------------------------------------------------------------------- */

static void handle_frame(struct daemon *d, struct conn *c, const char *text)
{
	char err[512] = "";
	struct msg m;

	if (msg_decode(text, &m, err, sizeof(err)) != 0) {
		log_warning("dropped a malformed request: %s", err);
		reply_error(d, c, "EPROTO", "%s", err);
		return;
	}
	switch (m.type) {
	case MSG_LEASE_ACQUIRE:
		handle_acquire(d, c, &m);
		break;
	case MSG_LEASE_RELEASE:
		handle_release(d, c, &m);
		break;
	case MSG_QUERY:
		handle_query(d, c, &m);
		break;
	case MSG_JOB_START:
	case MSG_STEP_START:
	case MSG_STEP_END:
	case MSG_JOB_END:
		if (!c->local || c->peer_uid != 0) {
			reply_error(d, c, "EPERM",
				    "host job reports are taken only from root on the node agent's "
				    "unix socket");
			break;
		}
		handle_report(d, c, &m);
		break;
	default:
		reply_error(d, c, "EPROTO", "a %s message is not a request", msg_type_name(m.type));
	}
	msg_free(&m);
}

static void on_readable(struct daemon *d, struct conn *c)
{
	char *text = NULL;
	size_t len;
	int rc;

	if (c->waiting) { /* the peer went away, or sent more: drop it */
		char b;

		if (recv(c->fd, &b, 1, MSG_DONTWAIT | MSG_PEEK) <= 0) {
			for (unsigned i = 0; i < MAX_LEASES; i++)
				if (d->leases[i].waiter == (int)(c - d->conns))
					d->leases[i].waiter = -1;
			conn_close(d, c);
		}
		return;
	}
	rc = frame_reader_feed(&c->reader, c->fd, &text, &len);
	if (rc == 0)
		return;
	if (rc < 0) {
		if (rc != -ECONNRESET)
			log_warning("dropped a connection: %s", strerror(-rc));
		conn_close(d, c);
		return;
	}
	handle_frame(d, c, text);
	free(text);
}

static void on_accept(struct daemon *d, int lfd, bool local)
{
	struct conn *c = NULL;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (unsigned i = 0; i < MAX_CONNS && !c; i++)
		if (d->conns[i].fd < 0)
			c = &d->conns[i];
	if (!c) {
		log_warning("refused a connection: %d already open", MAX_CONNS);
		close(fd);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->local = local;
	c->peer_uid = UINT32_MAX;
	c->since = clock_ms();
	frame_reader_init(&c->reader);
	if (local) {
		struct ucred cr;
		socklen_t l = sizeof(cr);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0)
			c->peer_uid = cr.uid;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		conn_close(d, c);
}

/* ---- the tick: starting leases, exits, deadlines, idle connections ----------------- */

static void advance(struct daemon *d)
{
	int64_t now_ms = clock_ms();
	time_t now = time(NULL);
	struct node_gap gap;
	bool changed = false;

	for (unsigned i = 0; i < MAX_LEASES; i++) {
		struct lease *l = &d->leases[i];
		char path[4300];
		pid_t pid;
		int status;

		if (l->state == LEASE_FREE)
			continue;
		while (l->sb && sandbox_reap(l->sb, &pid, &status) == 1) {
			log_warning("%s: its executor (pid %ld) %s %d", l->id, (long)pid,
				    WIFSIGNALED(status) ? "was killed by signal" : "exited with",
				    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			lease_end(d, l, "its executor exited");
			changed = true;
		}
		if (l->state == LEASE_STARTING) {
			struct stat st;

			snprintf(path, sizeof(path), "%s/lease.json", l->dir);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				FILE *f = fopen(path, "re");
				struct msg m = {.type = MSG_LEASE_GRANT};
				char *doc = calloc(1, 1 << 20);
				size_t n = f && doc ? fread(doc, 1, (1 << 20) - 1, f) : 0;

				if (f)
					fclose(f);
				l->state = LEASE_READY;
				if (l->waiter >= 0 && n > 0) {
					snprintf(m.u.grant.id, sizeof(m.u.grant.id), "%s", l->id);
					m.u.grant.lease = doc;
					reply(d, &d->conns[l->waiter], &m);
				}
				l->waiter = -1;
				free(doc);
				log_info("%s is ready", l->id);
			} else if (now_ms > l->start_end) {
				lease_end(d, l, "its executor published no lease document in time");
				changed = true;
				continue;
			}
		}
		if (l->state == LEASE_READY && now >= l->expires) {
			lease_end(d, l, "expired");
			changed = true;
		}
	}
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &d->conns[i];

		if (c->fd >= 0 && !c->waiting && now_ms - c->since > CONN_IDLE_MS)
			conn_close(d, c);
	}
	if (changed)
		refresh_gap(d, &gap);
}

/* ---- setup ----------------------------------------------------------------------- */

static int listen_tcp(const struct coloc_config *cfg)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	char port[16];
	int fd = -1, one = 1;

	snprintf(port, sizeof(port), "%u", cfg->controller_port);
	if (getaddrinfo(cfg->controller_host, port, &hints, &res) != 0)
		return -EADDRNOTAVAIL;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 64) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : -EADDRINUSE;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char dir[sizeof(a.sun_path)], *slash;
	int fd;

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
	return fd;
}

static int add_fd(struct daemon *d, int fd, void *tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};

	return epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev);
}

static int setup(struct daemon *d, char *err, size_t errlen)
{
	sigset_t sigs;
	int rc;

	rc = config_load(d->o->conf, &d->cfg, err, errlen);
	if (rc)
		return rc;
	d->cred.none = d->cfg.auth == COLOC_AUTH_NONE;
	if (d->cred.none)
		log_warning("AuthType=none: requests are not authenticated; use it for tests only");
	if (gethostname(d->node, sizeof(d->node) - 1) != 0)
		snprintf(d->node, sizeof(d->node), "localhost");
	rc = topology_load(&d->topo, err, errlen);
	if (rc)
		return rc;
	d->place = placement_create(1);
	if (!d->place) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (mkdir(d->cfg.state_dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create StateDir %.300s: %s", d->cfg.state_dir,
			 strerror(errno));
		return -errno;
	}
	/* executors an earlier colocd left behind: their leases died with it */
	rc = sandbox_cleanup_root(d->cfg.cgroup_root, d->cfg.evict_grace_ms, err, errlen);
	if (rc < 0)
		return rc;
	if (rc > 0)
		log_warning("removed %d executor cgroup(s) left by an earlier colocd", rc);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	d->tcp = listen_tcp(&d->cfg);
	if (d->tcp < 0) {
		snprintf(err, errlen,
			 "cannot listen on %s:%u (%s); another colocd running? check "
			 "ControllerHost/ControllerPort",
			 d->cfg.controller_host, d->cfg.controller_port, strerror(-d->tcp));
		return d->tcp;
	}
	d->unix_fd = listen_unix(d->cfg.socket_path);
	if (d->unix_fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s; check SocketPath",
			 d->cfg.socket_path, strerror(-d->unix_fd));
		return d->unix_fd;
	}
	if (d->sigfd < 0 || d->ep < 0 || add_fd(d, d->sigfd, &d->sigfd) ||
	    add_fd(d, d->tcp, &d->tcp) || add_fd(d, d->unix_fd, &d->unix_fd)) {
		snprintf(err, errlen, "cannot set up the event loop: %s", strerror(errno));
		return -errno;
	}
	struct node_gap gap;
	return refresh_gap(d, &gap);
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;
	char err[512];

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			struct coloc_config next;

			if (config_load(d->o->conf, &next, err, sizeof(err)) != 0) {
				log_error("reload refused, keeping the running configuration: %s",
					  err);
				continue;
			}
			/* what can change while running; ports and paths need a restart */
			d->cfg.lend_unallocated = next.lend_unallocated;
			d->cfg.max_lend_fraction = next.max_lend_fraction;
			d->cfg.batch_step_cores = next.batch_step_cores;
			d->cfg.memory_margin = next.memory_margin;
			d->cfg.evict_grace_ms = next.evict_grace_ms;
			d->cfg.default_lease_s = next.default_lease_s;
			d->cfg.max_lease_s = next.max_lease_s;
			d->cfg.hot_poll_us = next.hot_poll_us;
			log_info("reloaded coloc.conf");
			reclaim(d);
		} else {
			log_info("signal %u: stopping", si.ssi_signo);
			d->stop = true;
		}
	}
}

int daemon_run(const struct daemon_options *o)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct epoll_event ev[32];
	char err[1024] = "";
	int status = 1;

	if (!d)
		return 1;
	d->o = o;
	d->ep = d->sigfd = d->tcp = d->unix_fd = -1;
	for (unsigned i = 0; i < MAX_CONNS; i++)
		d->conns[i].fd = -1;
	for (unsigned i = 0; i < MAX_LEASES; i++)
		d->leases[i].waiter = -1;
	if (setup(d, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	log_info("standalone on %s: controller %s:%u, reports on %s, executors in cgroup %s "
		 "(cgroup %s)",
		 d->node, d->cfg.controller_host, d->cfg.controller_port, d->cfg.socket_path,
		 d->cfg.cgroup_root, sandbox_cgroup_version());
	while (!d->stop) {
		int n = epoll_wait(d->ep, ev, 32, TICK_MS);

		for (int i = 0; i < n; i++) {
			void *tag = ev[i].data.ptr;

			if (tag == &d->sigfd)
				on_signal(d);
			else if (tag == &d->tcp)
				on_accept(d, d->tcp, false);
			else if (tag == &d->unix_fd)
				on_accept(d, d->unix_fd, true);
			else
				on_readable(d, tag);
		}
		advance(d);
	}
	status = 0;
out:
	/* the host wins at the end too: no executor outlives its daemon's stop */
	for (unsigned i = 0; i < MAX_LEASES; i++)
		if (d->leases[i].state != LEASE_FREE)
			lease_end(d, &d->leases[i], "colocd stopped");
	for (unsigned i = 0; i < MAX_CONNS; i++)
		conn_close(d, &d->conns[i]);
	if (d->unix_fd >= 0) {
		close(d->unix_fd);
		unlink(d->cfg.socket_path);
	}
	if (d->tcp >= 0)
		close(d->tcp);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->ep >= 0)
		close(d->ep);
	placement_destroy(d->place);
	topology_destroy(d->topo);
	free(d);
	return status;
}
