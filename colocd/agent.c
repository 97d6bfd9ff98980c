/*
 * agent: the node agent role (see agent.h).
 *
 * Data, owned by the one thread that drives the agent:
 *   - leases[]: the leases running here: owner, PUs, memory, GPUs, deadline,
 *     the sandbox (cgroup) their executor runs in, their state;
 *   - jobs[]: the ledger of host jobs and their running steps;
 *   - ended[]: a ring of the leases that ended lately and why, reported to
 *     the controller so that users learn why a lease went away.
 */
#include "config.h"

#include "agent.h"

#include "clock.h"
#include "frame.h"
#include "gaps.h"
#include "log.h"
#include "sandbox.h"
#include "topology.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LEASES MSG_NODE_LEASES_MAX
#define MAX_JOBS 256
#define START_TIMEOUT_MS 10000 /* an executor publishing its lease document */
#define PRESSURE_EVERY_MS 100  /* how often MemAvailable is read */
#define MAX_SPARES CONFIG_SPARE_EXECUTORS_MAX
#define SPARE_RETRY_MS 1000 /* after a spare fails, doubling up to a minute */
#define STARTING_TICK_MS 1  /* how often a starting executor's document is looked for */
#define TICK_MS 20

enum lease_state { LEASE_FREE = 0, LEASE_STARTING, LEASE_READY };

struct lease {
	enum lease_state state;
	char id[64];
	uint32_t uid, gid;
	unsigned workers;
	struct cpumask pus;
	uint64_t mem;
	uint32_t gpus;
	int64_t expires; /* unix seconds */
	struct sandbox *sb;
	pid_t pid;
	char dir[4200];
	agent_reply_fn reply; /* the exec_start waiting for the grant, or NULL */
	void *reply_arg;
	uint64_t reply_cookie;
	bool reply_sign;		    /* the grant is authenticated ... */
	uint8_t reply_nonce[MSG_NONCE_LEN]; /* ... bound to the exec_start's nonce */
	int64_t start_end;		    /* ms: when starting gives up */
};

/* A spare executor: started ahead of leases (sandbox_spare_start). */
struct spare {
	pid_t pid;	  /* 0: none */
	int fd;		  /* its assignment pipe; -1 once closed (it exits) */
	int64_t next_ms;  /* when an empty slot may start one */
	unsigned retries; /* failures in a row */
};

struct agent {
	struct coloc_config cfg;
	const char *executor;
	char node[MSG_NODE_MAX];
	struct topology *topo;
	struct node_gap gap;
	struct lease leases[MAX_LEASES];
	struct host_job jobs[MAX_JOBS];
	unsigned njobs;
	struct msg_node_ended ended[MSG_NODE_ENDED_MAX];
	uint64_t ended_seq[MSG_NODE_ENDED_MAX]; /* numbers of the entries of ended[] */
	unsigned nended, ended_next;
	uint64_t ended_last, ended_acked; /* the last ended, the last the controller took */
	int64_t pressure_next;
	struct spare spares[MAX_SPARES];
	bool dirty;
};

/* ---- the gap ---------------------------------------------------------------------- */

/* The node's GPUs (the Gpus key) as a bitmask; at most 32 are lent. */
static uint32_t node_gpus(const struct agent *a)
{
	unsigned n = a->cfg.ngpus < 32 ? a->cfg.ngpus : 32;

	return n == 32 ? UINT32_MAX : (1u << n) - 1;
}

static int refresh_gap(struct agent *a)
{
	struct gap_policy pol = {.lend_unallocated = a->cfg.lend_unallocated,
				 .batch_step_cores = a->cfg.batch_step_cores,
				 .memory_margin = a->cfg.memory_margin,
				 .max_lend_fraction = a->cfg.max_lend_fraction};

	return gaps_compute(a->topo, a->topo->memory_bytes, node_gpus(a), a->jobs, a->njobs, &pol,
			    &a->gap);
}

/* What the leases hold. */
static void leased(const struct agent *a, struct cpumask *pus, uint64_t *mem, uint32_t *gpus)
{
	cpumask_clear(pus);
	*mem = 0;
	*gpus = 0;
	for (unsigned i = 0; i < MAX_LEASES; i++) {
		if (a->leases[i].state == LEASE_FREE)
			continue;
		cpumask_or(pus, pus, &a->leases[i].pus);
		*mem += a->leases[i].mem;
		*gpus |= a->leases[i].gpus;
	}
}

/* ---- leases ------------------------------------------------------------------------ */

static void reply_error(agent_reply_fn fn, void *arg, uint64_t cookie, const char *code,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void reply_error(agent_reply_fn fn, void *arg, uint64_t cookie, const char *code,
			const char *fmt, ...)
{
	struct msg m;
	va_list ap;

	va_start(ap, fmt);
	msg_verror(&m, code, fmt, ap);
	va_end(ap);
	fn(arg, cookie, &m);
}

static void reply_ok(agent_reply_fn fn, void *arg, uint64_t cookie)
{
	struct msg m = {.type = MSG_OK};

	fn(arg, cookie, &m);
}

/* Ends l: its executor evicted (SIGTERM, SIGKILL after grace_ms), its
 * cgroup and lease document removed, the end remembered for the
 * controller. state: released, expired, evicted or failed. */
static void lease_end_within(struct agent *a, struct lease *l, const char *state, const char *why,
			     unsigned grace_ms)
{
	struct msg_node_ended *e = &a->ended[a->ended_next];
	bool killed = false;
	char path[4300];

	if (l->sb) {
		sandbox_evict(l->sb, grace_ms, &killed);
		sandbox_destroy(l->sb);
		l->sb = NULL;
	}
	snprintf(path, sizeof(path), "%s/lease.json", l->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lease.json.tmp", l->dir);
	unlink(path);
	rmdir(l->dir);
	log_info("%s %s (%s)%s", l->id, state, why, killed ? "; its executor needed SIGKILL" : "");
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", l->id);
	snprintf(e->state, sizeof(e->state), "%s", state);
	snprintf(e->why, sizeof(e->why), "%s", why);
	a->ended_seq[a->ended_next] = ++a->ended_last;
	a->ended_next = (a->ended_next + 1) % MSG_NODE_ENDED_MAX;
	if (a->nended < MSG_NODE_ENDED_MAX)
		a->nended++;
	if (l->reply)
		reply_error(l->reply, l->reply_arg, l->reply_cookie, "ECANCELED",
			    "%s ended before it was ready: %s", l->id, why);
	memset(l, 0, sizeof(*l));
	a->dirty = true;
}

static void lease_end(struct agent *a, struct lease *l, const char *state, const char *why)
{
	lease_end_within(a, l, state, why, a->cfg.evict_grace_ms);
}

static struct lease *lease_find(struct agent *a, const char *id)
{
	for (unsigned i = 0; i < MAX_LEASES; i++)
		if (a->leases[i].state != LEASE_FREE && strcmp(a->leases[i].id, id) == 0)
			return &a->leases[i];
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

/* ---- spare executors ------------------------------------------------------------- */

static void describe_exit(int status, char *why, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(why, len, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, len, "exited with status %d", WEXITSTATUS(status));
}

/* Reaps s's process if it has exited. */
static void spare_reap(struct spare *s, int64_t now_ms)
{
	char why[64];
	int status;

	if (s->pid <= 0 || waitpid(s->pid, &status, WNOHANG) != s->pid)
		return;
	if (s->fd >= 0) { /* it died waiting for a lease */
		int64_t delay = (int64_t)SPARE_RETRY_MS << (s->retries < 6 ? s->retries : 6);

		describe_exit(status, why, sizeof(why));
		log_warning("spare executor %d %s before any lease needed it; another starts in "
			    "%lld ms (check that the executor runs: faas-executor --help)",
			    (int)s->pid, why, (long long)delay);
		close(s->fd);
		s->next_ms = now_ms + delay;
		s->retries++;
	}
	s->pid = 0;
	s->fd = -1;
}

/* Keeps SpareExecutors spares started; retires those beyond it. */
static void spares_tick(struct agent *a, int64_t now_ms)
{
	for (unsigned i = 0; i < MAX_SPARES; i++) {
		struct spare *s = &a->spares[i];
		char err[256];

		if (i >= a->cfg.spare_executors && s->fd >= 0) {
			close(s->fd); /* it exits when it reads the end */
			s->fd = -1;
		}
		spare_reap(s, now_ms);
		if (i >= a->cfg.spare_executors || s->pid != 0 || now_ms < s->next_ms ||
		    !a->executor)
			continue;
		if (sandbox_spare_start(a->executor, a->cfg.provider, &s->pid, &s->fd, err,
					sizeof(err)) != 0) {
			log_warning("%s Retrying in %d ms.", err, SPARE_RETRY_MS);
			s->pid = 0;
			s->fd = -1;
			s->next_ms = now_ms + SPARE_RETRY_MS;
		}
	}
}

/* A waiting spare for a lease, if any; its slot starts another at the next tick. */
static bool spare_take(struct agent *a, pid_t *pid, int *fd)
{
	int64_t now_ms = clock_ms();

	for (unsigned i = 0; i < a->cfg.spare_executors && i < MAX_SPARES; i++) {
		struct spare *s = &a->spares[i];

		spare_reap(s, now_ms);
		if (s->pid > 0 && s->fd >= 0) {
			*pid = s->pid;
			*fd = s->fd;
			*s = (struct spare){.fd = -1, .next_ms = now_ms};
			return true;
		}
	}
	return false;
}

/* Ends every spare: each exits when its pipe closes, killed after 2 s. */
static void spares_stop(struct agent *a)
{
	int64_t end = clock_ms() + 2000;

	for (unsigned i = 0; i < MAX_SPARES; i++)
		if (a->spares[i].fd >= 0) {
			close(a->spares[i].fd);
			a->spares[i].fd = -1;
		}
	for (unsigned i = 0; i < MAX_SPARES; i++) {
		struct spare *s = &a->spares[i];

		while (s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == 0 && clock_ms() < end)
			usleep(5000);
		if (s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == 0) {
			kill(s->pid, SIGKILL);
			while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		s->pid = 0;
	}
}

int agent_tick_ms(const struct agent *a)
{
	for (unsigned i = 0; i < MAX_LEASES; i++)
		if (a->leases[i].state == LEASE_STARTING)
			return STARTING_TICK_MS;
	return TICK_MS;
}

/* Starts the lease's executor in its sandbox (a spare when one waits); the
 * grant follows when the executor publishes its lease document (see
 * agent_tick). */
static int lease_start(struct agent *a, struct lease *l, const char *lib, char *err, size_t errlen)
{
	struct sandbox_spec spec = {.root = a->cfg.cgroup_root,
				    .name = l->id,
				    .cpus = l->pus,
				    .mem_limit = l->mem,
				    .uid = l->uid,
				    .gid = l->gid};
	char cpus[MSG_CPULIST_MAX], workers[16], publish[4300], hot[32], token_env[64];
	char *argv[24], *envp[8], addr_env[128];
	uint8_t token[16];
	int argc = 0, envc = 0, rc, sfd;
	pid_t spid;

	snprintf(publish, sizeof(publish), "%s/leases", a->cfg.state_dir);
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
	for (unsigned g = 0; g < a->cfg.ngpus && g < 32 && spec.ndevices < SANDBOX_MAX_DEVICES; g++)
		if (l->gpus & (1u << g))
			spec.devices[spec.ndevices++] = a->cfg.gpus[g];
	rc = sandbox_create(&spec, &l->sb, err, errlen);
	if (rc)
		return rc;
	cpumask_format(&l->pus, cpus, sizeof(cpus));
	snprintf(workers, sizeof(workers), "%u", l->workers);
	snprintf(publish, sizeof(publish), "%s/lease.json", l->dir);
	snprintf(hot, sizeof(hot), "%ld", a->cfg.hot_poll_us < 0 ? 0 : a->cfg.hot_poll_us);
	if (getrandom(token, sizeof(token), 0) != sizeof(token)) {
		snprintf(err, errlen, "cannot draw a lease token: %s", strerror(errno));
		return -EIO;
	}
	snprintf(token_env, sizeof(token_env), "FAAS_TOKEN=");
	for (int i = 0; i < 16; i++)
		snprintf(token_env + 11 + 2 * i, 3, "%02x", token[i]);
	argv[argc++] = (char *)a->executor;
	argv[argc++] = "--lib";
	argv[argc++] = (char *)lib;
	argv[argc++] = "--cpus";
	argv[argc++] = cpus;
	argv[argc++] = "--workers";
	argv[argc++] = workers;
	argv[argc++] = "--publish";
	argv[argc++] = publish;
	argv[argc++] = "--id";
	argv[argc++] = l->id;
	if (a->cfg.hot_poll_us < 0) {
		argv[argc++] = "--mode";
		argv[argc++] = "hot";
	} else {
		argv[argc++] = "--hot-poll-us";
		argv[argc++] = hot;
	}
	if (a->cfg.provider[0]) {
		argv[argc++] = "--provider";
		argv[argc++] = a->cfg.provider;
	}
	argv[argc] = NULL;
	envp[envc++] = token_env;
	envp[envc++] = "PATH=/usr/bin:/bin";
	if (getenv("FAAS_ADDR")) { /* the data-plane address, when the site sets one */
		snprintf(addr_env, sizeof(addr_env), "FAAS_ADDR=%s", getenv("FAAS_ADDR"));
		envp[envc++] = addr_env;
	}
	envp[envc] = NULL;
	rc = -1;
	if (spare_take(a, &spid, &sfd)) {
		rc = sandbox_assign(l->sb, spid, sfd, argv, envp, err, errlen);
		if (rc == 0) {
			l->pid = spid;
			log_debug("%s: spare executor %d assigned", l->id, (int)spid);
		} else {
			log_warning("%s: %s; starting its executor afresh", l->id, err);
			kill(spid, SIGKILL);
			while (waitpid(spid, NULL, 0) < 0 && errno == EINTR)
				;
		}
	}
	if (rc != 0)
		rc = sandbox_spawn(l->sb, argv, envp, &l->pid, err, errlen);
	explicit_bzero(token_env, sizeof(token_env));
	return rc;
}

static void exec_start(struct agent *a, const struct msg *m, const struct cred_id *from,
		       agent_reply_fn fn, void *arg, uint64_t cookie)
{
	struct cpumask pus, free_pus, taken;
	uint64_t mem_taken;
	uint32_t gpus_taken;
	struct lease *l = NULL;
	char err[512] = "";
	int rc;

	if (!getpwuid(m->u.exec.uid)) {
		reply_error(fn, arg, cookie, "EINVAL",
			    "uid %u has no account on %s; executors run as the lease owner, who "
			    "must exist on the node",
			    m->u.exec.uid, a->node);
		return;
	}
	if (lease_find(a, m->u.exec.id)) {
		reply_error(fn, arg, cookie, "EEXIST", "%s runs here already", m->u.exec.id);
		return;
	}
	if (cpumask_parse(m->u.exec.pus, &pus) != 0 || cpumask_empty(&pus)) {
		reply_error(fn, arg, cookie, "EINVAL", "%s: \"%s\" is not a cpu list of this node",
			    m->u.exec.id, m->u.exec.pus);
		return;
	}
	/* the controller placed it on what this agent reported; the host may
	 * have taken some of it back since */
	refresh_gap(a);
	leased(a, &taken, &mem_taken, &gpus_taken);
	cpumask_andnot(&free_pus, &a->gap.lendable, &taken);
	if (!cpumask_subset(&pus, &free_pus) || m->u.exec.mem + mem_taken > a->gap.mem_lendable ||
	    (m->u.exec.gpus & ~(a->gap.gpus_lendable & ~gpus_taken))) {
		reply_error(fn, arg, cookie, "EAGAIN",
			    "%s: the gap of %s changed before the lease arrived; ask again",
			    m->u.exec.id, a->node);
		return;
	}
	for (unsigned i = 0; i < MAX_LEASES && !l; i++)
		if (a->leases[i].state == LEASE_FREE)
			l = &a->leases[i];
	if (!l) {
		reply_error(fn, arg, cookie, "EBUSY", "%s holds %d leases already", a->node,
			    MAX_LEASES);
		return;
	}
	l->state = LEASE_STARTING;
	snprintf(l->id, sizeof(l->id), "%s", m->u.exec.id);
	l->uid = m->u.exec.uid;
	l->gid = m->u.exec.gid;
	l->workers = m->u.exec.workers;
	l->pus = pus;
	l->mem = m->u.exec.mem;
	l->gpus = m->u.exec.gpus;
	l->expires = m->u.exec.expires;
	l->start_end = clock_ms() + START_TIMEOUT_MS;
	snprintf(l->dir, sizeof(l->dir), "%s/leases/%s", a->cfg.state_dir, l->id);
	a->dirty = true;
	rc = lease_start(a, l, m->u.exec.lib, err, sizeof(err));
	if (rc) {
		log_warning("cannot start the executor of %s for uid %u: %s", l->id, l->uid, err);
		reply_error(fn, arg, cookie, "EIO", "cannot start the executor on %s: %s", a->node,
			    err);
		lease_end(a, l, "failed", "its executor did not start");
		return;
	}
	l->reply = fn;
	l->reply_arg = arg;
	l->reply_cookie = cookie;
	l->reply_sign = from != NULL;
	if (from)
		memcpy(l->reply_nonce, from->b.nonce, sizeof(l->reply_nonce));
	log_debug("%s: %u workers on cpus %s of %s for uid %u until %lld", l->id, l->workers,
		  m->u.exec.pus, a->node, l->uid, (long long)l->expires);
}

/* ---- the host wins ----------------------------------------------------------------- */

/* Ends the leases on PUs, memory or GPUs the host needs back, all at once:
 * every executor gets SIGTERM first, so the whole reclaim takes one
 * EvictGrace, not one per lease. A ledger the gap cannot be computed from
 * (it should not happen: reports are checked) ends every lease: the host
 * wins. Returns how many were evicted. */
static unsigned reclaim(struct agent *a)
{
	static const char cores[] = "a host job or step needs its PUs or GPUs",
			  memory[] = "the node's lendable memory shrank below what is lent",
			  broken[] = "the node's ledger of host jobs is inconsistent";
	const char *why[MAX_LEASES] = {0};
	bool ledger_ok = refresh_gap(a) == 0;
	unsigned n = 0;
	uint64_t mem = 0;
	int64_t t0;

	for (unsigned i = 0; i < MAX_LEASES; i++) {
		struct lease *l = &a->leases[i];

		if (l->state == LEASE_FREE)
			continue;
		if (!ledger_ok)
			why[i] = broken;
		else if (!cpumask_subset(&l->pus, &a->gap.lendable) ||
			 (l->gpus & ~a->gap.gpus_lendable))
			why[i] = cores;
		else
			mem += l->mem;
	}
	/* lent memory comes from headroom: the largest leases go first */
	while (ledger_ok && mem > a->gap.mem_lendable) {
		int big = -1;

		for (unsigned i = 0; i < MAX_LEASES; i++)
			if (a->leases[i].state != LEASE_FREE && !why[i] &&
			    (big < 0 || a->leases[i].mem > a->leases[big].mem))
				big = (int)i;
		if (big < 0)
			break;
		mem -= a->leases[big].mem;
		why[big] = memory;
	}
	t0 = clock_ms();
	for (unsigned i = 0; i < MAX_LEASES; i++)
		if (why[i] && a->leases[i].sb)
			sandbox_terminate(a->leases[i].sb);
	for (unsigned i = 0; i < MAX_LEASES; i++) {
		int64_t spent = clock_ms() - t0;

		if (!why[i])
			continue;
		lease_end_within(a, &a->leases[i], "evicted", why[i],
				 spent < a->cfg.evict_grace_ms ? a->cfg.evict_grace_ms - spent : 0);
		n++;
	}
	return n;
}

static struct host_job *job_find(struct agent *a, uint32_t id)
{
	for (unsigned i = 0; i < a->njobs; i++)
		if (a->jobs[i].job_id == id)
			return &a->jobs[i];
	return NULL;
}

/* Forgets jobs whose PUs overlap job's: their job_end was missed (Slurm
 * does not give one core to two jobs), and the newest report wins. */
static void drop_stale_jobs(struct agent *a, const struct host_job *job)
{
	for (unsigned i = 0; i < a->njobs;) {
		struct host_job *o = &a->jobs[i];
		struct cpumask both;

		cpumask_and(&both, &o->pus, &job->pus);
		if (o != job && o->job_id != job->job_id && !cpumask_empty(&both)) {
			log_warning(
			    "job %u holds PUs of job %u, whose end was not reported: job %u "
			    "is forgotten",
			    job->job_id, o->job_id, o->job_id);
			*o = a->jobs[--a->njobs];
			continue;
		}
		i++;
	}
}

static int report_apply(struct agent *a, const struct msg *m, const char **code, char *err,
			size_t errlen);

/* A report is taken whole or not at all: one that leaves a ledger the gap
 * cannot be computed from is undone and refused. Either way, whatever the
 * host needs back is evicted before the reply, so that a step never starts
 * on a lent PU. */
static void report(struct agent *a, const struct msg *m, agent_reply_fn fn, void *arg,
		   uint64_t cookie)
{
	struct host_job *saved = a->njobs ? malloc(a->njobs * sizeof(*saved)) : NULL;
	unsigned nsaved = a->njobs, evicted;
	const char *code = NULL;
	char err[300] = "";
	int rc;

	if (nsaved && !saved) {
		reply_error(fn, arg, cookie, "ENOMEM", "out of memory");
		return;
	}
	if (nsaved)
		memcpy(saved, a->jobs, nsaved * sizeof(*saved));
	rc = report_apply(a, m, &code, err, sizeof(err));
	if (rc == 0 && (rc = refresh_gap(a)) != 0) {
		if (nsaved)
			memcpy(a->jobs, saved, nsaved * sizeof(*saved));
		a->njobs = nsaved;
		code = "EINVAL";
		snprintf(err, sizeof(err),
			 "%s does not fit this node's ledger (a step outside its job, or PUs the "
			 "node lacks): %s",
			 msg_type_name(m->type), strerror(-rc));
	}
	free(saved);
	a->dirty = true;
	evicted = reclaim(a);
	if (evicted)
		log_info("%s: evicted %u lease(s) for the host", msg_type_name(m->type), evicted);
	if (code) {
		log_warning("refused %s: %s", msg_type_name(m->type), err);
		reply_error(fn, arg, cookie, code, "%s", err);
	} else {
		reply_ok(fn, arg, cookie);
	}
}

/* A report's "pus" are Slurm's core indexes on the node (what SPANK's
 * S_JOB_ALLOC_CORES and S_STEP_ALLOC_CORES give): each stands for every PU
 * (hardware thread) of that core, in hwloc's logical order of cores. 0, or
 * -1 when the list does not parse or names a core the node lacks. */
static int cores_to_pus(const struct agent *a, const char *list, struct cpumask *pus)
{
	struct cpumask cores;

	cpumask_clear(pus);
	if (cpumask_parse(list, &cores) != 0)
		return -1;
	for (int c = cpumask_next(&cores, 0); c >= 0;
	     c = c + 1 < CPUMASK_MAX ? cpumask_next(&cores, (unsigned)c + 1) : -1) {
		if ((unsigned)c >= a->topo->ncores)
			return -1;
		cpumask_or(pus, pus, &a->topo->cores[c].pus);
	}
	return 0;
}

/* Applies a report to the ledger. 0, or -1 with *code and err saying why
 * it was refused (nothing changed). */
static int report_apply(struct agent *a, const struct msg *m, const char **code, char *err,
			size_t errlen)
{
	struct host_job *j, saved;
	bool added = false;

	switch (m->type) {
	case MSG_JOB_START:
		j = job_find(a, m->u.job_start.job);
		if (!j) {
			if (a->njobs == MAX_JOBS) {
				*code = "EBUSY";
				snprintf(err, errlen, "the ledger holds %d jobs already", MAX_JOBS);
				return -1;
			}
			j = &a->jobs[a->njobs++];
			added = true;
		}
		/* again for a known job (each step of it reports the job):
		 * its allocation and consent are updated, its steps kept */
		saved = *j;
		if (added)
			memset(j, 0, sizeof(*j));
		j->job_id = m->u.job_start.job;
		j->uid = m->u.job_start.uid;
		if (cores_to_pus(a, m->u.job_start.pus, &j->pus) != 0) {
			if (added)
				a->njobs--;
			else
				*j = saved;
			*code = "EINVAL";
			snprintf(err, errlen,
				 "job %u: \"%.100s\" is not a list of this node's cores (0-%u)",
				 m->u.job_start.job, m->u.job_start.pus, a->topo->ncores - 1);
			return -1;
		}
		j->mem_bytes = m->u.job_start.mem;
		j->mem_need = m->u.job_start.mem_need;
		j->gpus = m->u.job_start.gpus;
		j->consent = m->u.job_start.consent;
		j->end_time = m->u.job_start.end;
		drop_stale_jobs(a, j);
		return 0;
	case MSG_STEP_START:
		j = job_find(a, m->u.step.job);
		if (!j) {
			*code = "ENOENT";
			snprintf(err, errlen, "step %u.%u: job %u was not reported", m->u.step.job,
				 m->u.step.step, m->u.step.job);
			return -1;
		}
		if (m->u.step.step == MSG_STEP_BATCH) {
			/* its cores: BatchStepCores of the job's, see gaps.c */
			j->batch_running = true;
			return 0;
		}
		if (j->nsteps == GAPS_MAX_STEPS) {
			*code = "EBUSY";
			snprintf(err, errlen, "job %u runs %d steps already", j->job_id,
				 GAPS_MAX_STEPS);
			return -1;
		}
		j->steps[j->nsteps] = (struct host_step){
		    .step_id = m->u.step.step, .mem_bytes = m->u.step.mem, .gpus = m->u.step.gpus};
		if (cores_to_pus(a, m->u.step.pus, &j->steps[j->nsteps].pus) != 0) {
			*code = "EINVAL";
			snprintf(err, errlen,
				 "step %u.%u: \"%.100s\" is not a list of this node's cores (0-%u)",
				 m->u.step.job, m->u.step.step, m->u.step.pus, a->topo->ncores - 1);
			return -1;
		}
		j->nsteps++;
		return 0;
	case MSG_STEP_END:
		j = job_find(a, m->u.step.job);
		if (j && m->u.step.step == MSG_STEP_BATCH)
			j->batch_running = false;
		for (unsigned i = 0; j && i < j->nsteps; i++) {
			if (j->steps[i].step_id == m->u.step.step) {
				j->steps[i] = j->steps[--j->nsteps];
				break;
			}
		}
		return 0;
	case MSG_JOB_END:
		j = job_find(a, m->u.job_end);
		if (j)
			*j = a->jobs[--a->njobs];
		return 0;
	default:
		return 0;
	}
}

void agent_request(struct agent *a, const struct msg *m, const struct cred_id *from,
		   agent_reply_fn fn, void *arg, uint64_t cookie)
{
	struct lease *l;

	switch (m->type) {
	case MSG_EXEC_START:
		exec_start(a, m, from, fn, arg, cookie);
		break;
	case MSG_EXEC_STOP:
		l = lease_find(a, m->u.exec.id);
		if (!l) {
			reply_error(fn, arg, cookie, "ENOENT", "no lease %s runs on %s",
				    m->u.exec.id, a->node);
			break;
		}
		lease_end(a, l, "released", "released by its owner");
		reply_ok(fn, arg, cookie);
		break;
	case MSG_JOB_START:
	case MSG_STEP_START:
	case MSG_STEP_END:
	case MSG_JOB_END:
		report(a, m, fn, arg, cookie);
		break;
	default:
		reply_error(fn, arg, cookie, "EPROTO", "a node agent takes no %s request",
			    msg_type_name(m->type));
	}
}

/* ---- the tick ----------------------------------------------------------------------- */

/* Why an executor went away, from its wait status and its cgroup. */
static void exit_reason(struct lease *l, int status, char *why, size_t len)
{
	struct sandbox_state st = {0};

	if (l->sb && sandbox_read(l->sb, &st) == 0 && st.oom_killed)
		snprintf(why, len,
			 "its executor exceeded the lease's memory (%llu MiB) and was "
			 "killed by the kernel",
			 (unsigned long long)(l->mem >> 20));
	else if (WIFSIGNALED(status))
		snprintf(why, len, "its executor was killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, len, "its executor exited with status %d", WEXITSTATUS(status));
}

static void grant(struct agent *a, struct lease *l)
{
	struct msg m = {.type = MSG_LEASE_GRANT};
	char path[4300];
	FILE *f;
	char *doc;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/lease.json", l->dir);
	doc = calloc(1, FRAME_MAX);
	f = fopen(path, "re");
	if (f && doc)
		n = fread(doc, 1, FRAME_MAX - 1, f);
	if (f)
		fclose(f);
	if (n == 0) {
		log_warning("%s: cannot read its lease document %.300s", l->id, path);
		free(doc);
		lease_end(a, l, "failed", "its lease document could not be read");
		return;
	}
	l->state = LEASE_READY;
	a->dirty = true;
	if (l->reply) {
		agent_reply_fn fn = l->reply;

		l->reply = NULL;
		snprintf(m.u.grant.id, sizeof(m.u.grant.id), "%s", l->id);
		m.u.grant.lease = doc;
		m.sign = l->reply_sign;
		memcpy(m.reply_to, l->reply_nonce, sizeof(m.reply_to));
		fn(l->reply_arg, l->reply_cookie, &m);
	}
	free(doc);
	log_info("%s is ready", l->id);
}

/* MemAvailable from /proc/meminfo, in bytes; UINT64_MAX when unknown. */
static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kib;
	char line[128];
	uint64_t v = UINT64_MAX;

	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
			v = (uint64_t)kib << 10;
			break;
		}
	fclose(f);
	return v;
}

/* Memory pressure: the node runs short (MemAvailable below MemoryMargin)
 * while executors hold memory: the one using most goes. */
static void relieve_pressure(struct agent *a)
{
	struct lease *big = NULL;
	uint64_t big_use = 0, avail;

	if (clock_ms() < a->pressure_next)
		return;
	a->pressure_next = clock_ms() + PRESSURE_EVERY_MS;
	avail = mem_available();
	if (avail == UINT64_MAX || avail >= a->cfg.memory_margin)
		return;
	for (unsigned i = 0; i < MAX_LEASES; i++) {
		struct sandbox_state st = {0};

		if (a->leases[i].state == LEASE_FREE || !a->leases[i].sb ||
		    sandbox_read(a->leases[i].sb, &st) != 0)
			continue;
		if (!big || st.mem_usage > big_use) {
			big = &a->leases[i];
			big_use = st.mem_usage;
		}
	}
	if (big) {
		char why[200];

		snprintf(why, sizeof(why),
			 "node short of memory (%llu MiB free < MemoryMargin %llu MiB); it used "
			 "most (%llu MiB)",
			 (unsigned long long)(avail >> 20),
			 (unsigned long long)(a->cfg.memory_margin >> 20),
			 (unsigned long long)(big_use >> 20));
		lease_end(a, big, "evicted", why);
	}
}

void agent_tick(struct agent *a)
{
	int64_t now_ms = clock_ms();
	time_t now = time(NULL);

	for (unsigned i = 0; i < MAX_LEASES; i++) {
		struct lease *l = &a->leases[i];
		char path[4300], why[128];
		struct stat st;
		pid_t pid;
		int status;

		if (l->state == LEASE_FREE)
			continue;
		if (l->sb && sandbox_reap(l->sb, &pid, &status) == 1) {
			exit_reason(l, status, why, sizeof(why));
			log_warning("%s: its executor (pid %ld) is gone: %s", l->id, (long)pid,
				    why);
			lease_end(a, l, "failed", why);
			continue;
		}
		if (l->state == LEASE_STARTING) {
			snprintf(path, sizeof(path), "%s/lease.json", l->dir);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				grant(a, l);
			} else if (now_ms > l->start_end) {
				lease_end(a, l, "failed",
					  "its executor published no lease document in time");
				continue;
			}
		}
		if (l->state == LEASE_READY && now >= l->expires)
			lease_end(a, l, "expired", "it reached its end time");
	}
	relieve_pressure(a);
	spares_tick(a, now_ms);
}

/* ---- state for the controller -------------------------------------------------------- */

bool agent_dirty(const struct agent *a)
{
	return a->dirty;
}

void agent_state_taken(struct agent *a, uint64_t ended_upto)
{
	if (ended_upto > a->ended_acked)
		a->ended_acked = ended_upto;
}

int agent_state(struct agent *a, uint16_t port, struct msg *out, uint64_t *ended_upto)
{
	struct cpumask near;
	unsigned n = 0;

	memset(out, 0, sizeof(*out));
	out->type = MSG_NODE_STATE;
	refresh_gap(a);
	snprintf(out->u.node.node, sizeof(out->u.node.node), "%s", a->node);
	out->u.node.port = port;
	cpumask_format(&a->topo->all_pus, out->u.node.pus, sizeof(out->u.node.pus));
	out->u.node.mem = a->topo->memory_bytes;
	out->u.node.ngpus = a->cfg.ngpus < 32 ? a->cfg.ngpus : 32;
	cpumask_format(&a->gap.lendable, out->u.node.lendable, sizeof(out->u.node.lendable));
	cpumask_format(&a->gap.unallocated, out->u.node.unallocated,
		       sizeof(out->u.node.unallocated));
	topology_cache_neighbours(a->topo, &a->gap.host_busy, &near);
	cpumask_and(&near, &near, &a->gap.lendable);
	cpumask_format(&near, out->u.node.near_host, sizeof(out->u.node.near_host));
	snprintf(out->u.node.cgroup, sizeof(out->u.node.cgroup), "%s", a->cfg.cgroup_root);
	out->u.node.mem_lendable = a->gap.mem_lendable;
	out->u.node.gpus_lendable = a->gap.gpus_lendable;
	out->u.node.until = a->gap.until == INT64_MAX ? 0 : a->gap.until;
	out->u.node.jobs = a->njobs;
	for (unsigned i = 0; i < MAX_LEASES; i++)
		n += a->leases[i].state != LEASE_FREE;
	out->u.node.leases = n ? calloc(n, sizeof(*out->u.node.leases)) : NULL;
	out->u.node.ended = a->nended ? calloc(a->nended, sizeof(*out->u.node.ended)) : NULL;
	if ((n && !out->u.node.leases) || (a->nended && !out->u.node.ended)) {
		msg_free(out);
		return -ENOMEM;
	}
	n = 0;
	for (unsigned i = 0; i < MAX_LEASES; i++) {
		const struct lease *l = &a->leases[i];
		struct msg_node_lease *r = &out->u.node.leases[n];

		if (l->state == LEASE_FREE)
			continue;
		snprintf(r->id, sizeof(r->id), "%s", l->id);
		r->uid = l->uid;
		r->workers = l->workers;
		cpumask_format(&l->pus, r->pus, sizeof(r->pus));
		r->mem = l->mem;
		r->gpus = l->gpus;
		r->expires = l->expires;
		r->ready = l->state == LEASE_READY;
		r->pid = l->pid;
		n++;
	}
	out->u.node.nleases = n;
	/* the ends the controller has not taken yet, oldest first */
	n = 0;
	for (unsigned i = 0; i < a->nended; i++) {
		unsigned k =
		    (a->ended_next + MSG_NODE_ENDED_MAX - a->nended + i) % MSG_NODE_ENDED_MAX;

		if (a->ended_seq[k] > a->ended_acked)
			out->u.node.ended[n++] = a->ended[k];
	}
	out->u.node.nended = n;
	*ended_upto = a->ended_last;
	a->dirty = false;
	return 0;
}

/* ---- life ------------------------------------------------------------------------------ */

int agent_create(const struct coloc_config *cfg, const char *executor, const char *node,
		 struct agent **out, char *err, size_t errlen)
{
	struct agent *a = calloc(1, sizeof(*a));
	int rc;

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->cfg = *cfg;
	a->executor = executor;
	for (unsigned i = 0; i < MAX_SPARES; i++)
		a->spares[i].fd = -1;
	snprintf(a->node, sizeof(a->node), "%s", node);
	rc = topology_load(&a->topo, err, errlen);
	if (rc)
		goto fail;
	if (mkdir(cfg->state_dir, 0755) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create StateDir %.300s: %s", cfg->state_dir,
			 strerror(errno));
		goto fail;
	}
	/* executors an earlier agent left behind: their leases died with it */
	rc = sandbox_cleanup_root(cfg->cgroup_root, cfg->evict_grace_ms, err, errlen);
	if (rc < 0)
		goto fail;
	if (rc > 0)
		log_warning("removed %d executor cgroup(s) left by an earlier colocd", rc);
	rc = refresh_gap(a);
	if (rc) {
		snprintf(err, errlen, "cannot compute the gap of %s: %s", a->node, strerror(-rc));
		goto fail;
	}
	a->dirty = true;
	*out = a;
	return 0;
fail:
	topology_destroy(a->topo);
	free(a);
	return rc;
}

void agent_reload(struct agent *a, const struct coloc_config *next)
{
	/* what can change while running; ports and paths need a restart */
	a->cfg.lend_unallocated = next->lend_unallocated;
	a->cfg.max_lend_fraction = next->max_lend_fraction;
	a->cfg.batch_step_cores = next->batch_step_cores;
	a->cfg.memory_margin = next->memory_margin;
	a->cfg.evict_grace_ms = next->evict_grace_ms;
	a->cfg.hot_poll_us = next->hot_poll_us;
	a->cfg.spare_executors = next->spare_executors;
	reclaim(a);
	a->dirty = true;
}

const char *agent_node(const struct agent *a)
{
	return a->node;
}

void agent_evict_all(struct agent *a, const char *why)
{
	for (unsigned i = 0; i < MAX_LEASES; i++)
		if (a->leases[i].state != LEASE_FREE)
			lease_end(a, &a->leases[i], "evicted", why);
}

void agent_destroy(struct agent *a)
{
	char err[256];

	if (!a)
		return;
	/* the host wins at the end too: no executor outlives its agent's stop */
	agent_evict_all(a, "colocd stopped");
	spares_stop(a);
	/* and its CgroupRoot, now empty, goes too */
	if (sandbox_cleanup_root(a->cfg.cgroup_root, a->cfg.evict_grace_ms, err, sizeof(err)) < 0)
		log_warning("%s", err);
	topology_destroy(a->topo);
	free(a);
}
