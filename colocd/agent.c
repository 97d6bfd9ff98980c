/*
 * agent: the node agent role (see agent.h).
 *
 * Data, owned by the one thread that drives the agent:
 *   - leases[]: the leases running here: owner, PUs, memory, GPUs, deadline,
 *     the sandbox (cgroup) their executor runs in, the executor's channel
 *     (its lease document comes back on it) and output (its log), their
 *     state: starting -> ready -> ending -> free;
 *   - ledger: the host jobs and their running steps (ledger.c);
 *   - spares: executors started ahead of leases (spares.c);
 *   - waiting[]: host reports whose reply waits until the leases they
 *     evicted are gone;
 *   - ended[]: a ring of the leases that ended lately and why, reported to
 *     the controller so that users learn why a lease went away.
 *
 * Nothing here waits on anything a user controls: an executor's document
 * and output are read from non-blocking descriptors colocd created, and
 * eviction is driven by the tick (SIGTERM, SIGKILL passes after
 * EvictGrace, the lease forgotten once its cgroup is empty), so a host
 * report is answered while other leases are still being evicted.
 */
#include "config.h"

#include "agent.h"

#include "clock.h"
#include "frame.h"
#include "gaps.h"
#include "lease_doc.h"
#include "leaselog.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "sandbox.h"
#include "spare.h"
#include "spares.h"
#include "topology.h"
#include "usage.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LEASES MSG_NODE_LEASES_MAX
#define MAX_WAITING 64	       /* host reports waiting for evictions */
#define START_TIMEOUT_MS 10000 /* an executor sending its lease document */
#ifndef KILL_TIMEOUT_MS
/* processes dying after SIGKILL: past it, a waiting host report gets EBUSY,
 * within the plugin's EvictGrace + 3 s (its unit test sets less) */
#define KILL_TIMEOUT_MS 2000
#endif
#define PRESSURE_EVERY_MS 100  /* how often MemAvailable is read */
#define PRUNE_EVERY_MS 3600000 /* how often old lease logs are removed */
#define ENDED_PER_STATE 8      /* ended leases (with usage records) one node_state carries */
#define BUSY_TICK_MS 1	       /* while a lease starts or ends */
#define TICK_MS 20
#define LEASE_CGROUP_PREFIX "lease-" /* the controller's lease ids: only those are ours */
#define CALLS_EVERY_MS 1000	     /* how often an executor's calls report is read */
#define CALLS_LINE_MAX 64	     /* "calls served=N failed=M" */

/* Why leases were evicted, for the metrics (coloc_evictions_total). */
enum evict_reason {
	EVICT_HOST_CPUS,
	EVICT_HOST_MEMORY,
	EVICT_LEDGER,
	EVICT_PRESSURE,
	EVICT_STOP,
	EVICT_REASONS
};
static const char *const evict_labels[EVICT_REASONS] = {"host_cpus", "host_memory", "ledger",
							"memory_pressure", "shutdown"};
static const char why_cores[] = "a host job or step needs its PUs or GPUs",
		  why_memory[] = "the node's lendable memory shrank below what is lent",
		  why_broken[] = "the node's ledger of host jobs is inconsistent";

/* How leases ended here (coloc_node_leases_ended_total). */
static const char *const end_labels[] = {"released", "expired", "evicted", "failed"};
#define END_STATES (sizeof(end_labels) / sizeof(end_labels[0]))

enum lease_state { LEASE_FREE = 0, LEASE_STARTING, LEASE_READY, LEASE_ENDING };

struct lease {
	enum lease_state state;
	uint64_t seq; /* this agent's number for it: waiting reports name it */
	char id[64];
	uint32_t uid, gid;
	unsigned workers;
	struct cpumask pus;
	uint64_t mem;
	uint32_t gpus;
	uint64_t remote_mem;	/* a memory lease: its region (mem: region + margin); pus empty */
	struct cpumask run_pus; /* a memory lease: the PUs its executor runs on */
	int64_t expires;	/* unix seconds */
	struct sandbox *sb;
	pid_t pid;
	uint8_t token[WIRE_TOKEN_LEN];
	int chan;  /* the executor's channel: its lease document, then what it served; -1 */
	char *doc; /* the document as it arrives (FRAME_MAX bytes) */
	size_t doc_len;
	bool doc_eof;	    /* the channel closed with no document */
	bool doc_granted;   /* its document came: the channel stays for calls reports */
	int output;	    /* the executor's output pipe; -1 */
	int log;	    /* the lease's log file; -1 */
	uint64_t logged;    /* bytes in the log */
	msg_reply_fn reply; /* the exec_start waiting for the grant, or NULL */
	void *reply_arg;
	uint64_t reply_cookie;
	bool reply_sign;		    /* the grant is authenticated ... */
	uint8_t reply_nonce[MSG_NONCE_LEN]; /* ... bound to the exec_start's nonce */
	const char *fail_code; /* the code its exec_start gets if it fails; NULL: ECANCELED */
	int64_t start_end;     /* ms: when starting gives up */
	int64_t asked_ms;      /* ms: when exec_start came */
	/* the executor's calls, as it reports them on its channel once ready */
	uint64_t calls_served, calls_failed;
	bool calls_known, calls_skip; /* a report came; skipping an over-long line */
	char calls_line[CALLS_LINE_MAX];
	size_t calls_len;
	int64_t calls_next;  /* ms: when the channel is read next */
	int64_t started_ms;  /* unix ms: its exec_start came (usage records) */
	uint32_t job;	     /* the client's Slurm job, 0 = none */
	char host_jobs[512]; /* the host jobs whose PUs it uses (msg_usage.host_jobs) */
	/* ending */
	char end_state[16];
	char end_why[128];
	int64_t kill_at;  /* ms: SIGKILL passes from then on */
	int64_t stuck_at; /* ms: its processes are reported as surviving SIGKILL */
	bool killed, stuck;
};

struct waiting {
	msg_reply_fn fn; /* NULL: a free entry */
	void *arg;
	uint64_t cookie;
	enum msg_type type;
	const char *code; /* the reply: NULL ok, else an error */
	char err[300];
	unsigned n;	    /* leases still ending, */
	uint64_t *seqs;	    /* by their seq (MAX_LEASES entries) */
	int64_t reclaim_ms; /* a host report's evictions: when they started; 0 */
};

struct agent {
	struct coloc_config cfg;
	const char *executor;
	char node[MSG_NODE_MAX];
	struct topology *topo;
	struct node_gap gap;
	struct lease leases[MAX_LEASES];
	uint64_t lease_seq;
	struct ledger ledger;
	struct waiting waiting[MAX_WAITING];
	struct spares spares;
	struct msg_node_ended ended[MSG_NODE_ENDED_MAX];
	uint64_t ended_seq[MSG_NODE_ENDED_MAX]; /* numbers of the entries of ended[] */
	unsigned nended, ended_next;
	uint64_t ended_last, ended_acked; /* the last ended, the last the controller took */
	int64_t pressure_next, prune_next;
	bool dirty;
	/* metrics (agent_metrics) */
	uint64_t evictions[EVICT_REASONS];
	uint64_t ended_states[END_STATES];
	struct metrics_hist reclaim_s, cold_start_s;
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

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

	return gaps_compute(a->topo, a->topo->memory_bytes, node_gpus(a), a->ledger.jobs,
			    a->ledger.njobs, &pol, &a->gap);
}

/* What the leases hold: ending ones too, until their cgroup is empty. */
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

/* ---- replies ------------------------------------------------------------------------ */

static void waiting_answer(struct waiting *w)
{
	msg_reply_fn fn = w->fn;

	w->fn = NULL;
	if (w->code) {
		log_warning("refused %s: %s", msg_type_name(w->type), w->err);
		msg_reply_error(fn, w->arg, w->cookie, w->code, "%s", w->err);
	} else {
		msg_reply_ok(fn, w->arg, w->cookie);
	}
}

/* w's host gets EBUSY: the lease id it needs is stuck. */
static void waiting_stuck(struct waiting *w, const char *id)
{
	if (w->code)
		return;
	w->code = "EBUSY";
	snprintf(w->err, sizeof(w->err),
		 "processes of %s survive SIGKILL (uninterruptible sleep?) on PUs the host "
		 "needs; see colocd's log",
		 id);
}

/* The lease seq is gone (or stuck: its processes survive SIGKILL): the
 * reports that waited for it and nothing else are answered. */
static void waiting_done(struct agent *a, uint64_t seq, const char *stuck_id)
{
	for (unsigned i = 0; i < MAX_WAITING; i++) {
		struct waiting *w = &a->waiting[i];

		for (unsigned k = 0; w->fn && k < w->n; k++) {
			if (w->seqs[k] != seq)
				continue;
			w->seqs[k] = w->seqs[--w->n];
			if (stuck_id)
				waiting_stuck(w, stuck_id);
			break;
		}
		if (w->fn && w->n == 0) {
			if (w->reclaim_ms)
				metrics_hist_observe(&a->reclaim_s,
						     (double)(clock_ms() - w->reclaim_ms) / 1e3);
			waiting_answer(w);
		}
	}
}

/* ---- leases ------------------------------------------------------------------------ */

static struct lease *lease_find(struct agent *a, const char *id)
{
	for (unsigned i = 0; i < MAX_LEASES; i++)
		if (a->leases[i].state != LEASE_FREE && strcmp(a->leases[i].id, id) == 0)
			return &a->leases[i];
	return NULL;
}

static void lease_pump_log(struct agent *a, struct lease *l)
{
	if (l->output >= 0 &&
	    leaselog_pump(l->output, l->log, a->cfg.lease_log_size, &l->logged) == 0)
		close_fd(&l->output);
}

/* Writes l's usage record (usage.h) and puts it in e, its entry of
 * ended[] (zeroed here). */
static void calls_read(struct lease *l, int64_t now);

static void lease_usage(struct agent *a, struct lease *l, struct msg_node_ended *e)
{
	struct msg_usage *u = &e->usage;
	char err[512];

	memset(e, 0, sizeof(*e));
	e->has_usage = true;
	snprintf(u->id, sizeof(u->id), "%s", l->id);
	u->uid = l->uid;
	usage_user(l->uid, u->user, sizeof(u->user));
	u->job = l->job;
	snprintf(u->host_jobs, sizeof(u->host_jobs), "%s", l->host_jobs);
	snprintf(u->node, sizeof(u->node), "%s", a->node);
	u->cores = cpumask_count(&l->pus);
	cpumask_format(&l->pus, u->pus, sizeof(u->pus));
	u->mem = l->mem;
	u->gpus = (uint32_t)__builtin_popcount(l->gpus);
	usage_account(u, l->started_ms, wall_ms());
	/* the executor's last calls report, written as it stopped
	 * (executor.c): what the owner's executor says, not measured */
	l->calls_next = 0;
	calls_read(l, 0);
	u->calls_known = l->calls_known;
	u->calls = l->calls_served;
	snprintf(u->state, sizeof(u->state), "%s", l->end_state);
	snprintf(u->why, sizeof(u->why), "%s", l->end_why);
	if (usage_append(a->cfg.state_dir, USAGE_FILE, u, true, err, sizeof(err)) != 0)
		log_error("the usage record of %s is not in StateDir: %s", l->id, err);
}

/* The lease is gone: its cgroup empty and removed, its end remembered for
 * the controller, the reports waiting for it answered. */
static void lease_forget(struct agent *a, struct lease *l)
{
	struct msg_node_ended *e = &a->ended[a->ended_next];
	uint64_t seq = l->seq;

	lease_pump_log(a, l);
	close_fd(&l->output);
	close_fd(&l->log);
	lease_usage(a, l, e);
	close_fd(&l->chan);
	if (l->doc) /* it holds the lease's token */
		explicit_bzero(l->doc, FRAME_MAX);
	free(l->doc);
	sandbox_destroy(l->sb);
	log_info("%s %s (%s)%s", l->id, l->end_state, l->end_why,
		 l->killed ? "; its executor needed SIGKILL" : "");
	for (unsigned i = 0; i < END_STATES; i++)
		a->ended_states[i] += strcmp(l->end_state, end_labels[i]) == 0;
	snprintf(e->id, sizeof(e->id), "%s", l->id);
	snprintf(e->state, sizeof(e->state), "%s", l->end_state);
	snprintf(e->why, sizeof(e->why), "%s", l->end_why);
	a->ended_seq[a->ended_next] = ++a->ended_last;
	a->ended_next = (a->ended_next + 1) % MSG_NODE_ENDED_MAX;
	if (a->nended < MSG_NODE_ENDED_MAX)
		a->nended++;
	explicit_bzero(l, sizeof(*l)); /* the token too */
	l->chan = l->output = l->log = -1;
	a->dirty = true;
	waiting_done(a, seq, NULL);
}

/* Starts ending l: SIGTERM to its executor now, SIGKILL passes from
 * EvictGrace on (agent_tick); it is forgotten once its cgroup is empty.
 * state: released, expired, evicted or failed. An exec_start still waiting
 * gets an error now. */
static void lease_end(struct agent *a, struct lease *l, const char *state, const char *why)
{
	int64_t now = clock_ms();

	if (l->state == LEASE_FREE || l->state == LEASE_ENDING)
		return;
	if (!l->doc_granted) /* a document it sends now is no use */
		close_fd(&l->chan);
	l->state = LEASE_ENDING;
	snprintf(l->end_state, sizeof(l->end_state), "%s", state);
	snprintf(l->end_why, sizeof(l->end_why), "%s", why);
	if (l->reply) {
		msg_reply_fn fn = l->reply;

		l->reply = NULL;
		msg_reply_error(fn, l->reply_arg, l->reply_cookie,
				l->fail_code ? l->fail_code : "ECANCELED",
				"%s ended before it was ready: %s", l->id, why);
	}
	a->dirty = true;
	if (!l->sb) {
		lease_forget(a, l);
		return;
	}
	sandbox_terminate(l->sb);
	l->kill_at = now + a->cfg.evict_grace_ms;
	l->stuck_at = l->kill_at + KILL_TIMEOUT_MS;
}

/* An ending lease, one step further: forgotten once its cgroup is empty,
 * SIGKILLed past its grace, reported stuck when SIGKILL does not help. */
static void lease_ending(struct agent *a, struct lease *l, int64_t now)
{
	unsigned n = sandbox_nprocs(l->sb);

	lease_pump_log(a, l);
	if (n > 0 && now >= l->kill_at) {
		l->killed = true;
		n = sandbox_kill(l->sb);
		log_debug("%s: SIGKILL to %u process(es), %lld ms past its grace", l->id, n,
			  (long long)(now - l->kill_at));
	}
	if (n == 0) {
		lease_forget(a, l);
		return;
	}
	if (now >= l->stuck_at && !l->stuck) {
		l->stuck = true;
		log_error("%s: %u process(es) of its executor survive SIGKILL (uninterruptible "
			  "sleep?); its PUs stay taken until they are gone",
			  l->id, n);
		waiting_done(a, l->seq, l->id);
	}
}

static void token_env(const uint8_t token[WIRE_TOKEN_LEN], char *out, size_t len)
{
	char hex[2 * WIRE_TOKEN_LEN + 1];

	lease_hex_encode(token, WIRE_TOKEN_LEN, hex);
	snprintf(out, len, "FAAS_TOKEN=%s", hex);
	explicit_bzero(hex, sizeof(hex));
}

/* The PUs a memory lease's executor runs on. It holds no PU of its own: it
 * sleeps in its signal and fabric waits, and wakes for the provider's
 * progress (tcp;ofi_rxm serves one-sided accesses in software) and a new
 * client, a fraction of a core. So it shares the node's lendable PUs with
 * compute leases, else the PUs no host step runs on, else (every PU busy)
 * all of them. */
static void memory_lease_pus(const struct agent *a, struct cpumask *pus)
{
	*pus = a->gap.lendable;
	if (cpumask_empty(pus))
		cpumask_andnot(pus, &a->topo->all_pus, &a->gap.host_busy);
	if (cpumask_empty(pus))
		*pus = a->topo->all_pus;
}

/* argv for a memory lease's executor: the region, EvictGrace for its
 * notice, the channel and the provider. */
static void memory_lease_argv(const struct agent *a, const struct lease *l, char *argv[], int *argc,
			      char *size, size_t size_len, char *grace, size_t grace_len)
{
	snprintf(size, size_len, "%" PRIu64, l->remote_mem);
	snprintf(grace, grace_len, "%ld", (long)a->cfg.evict_grace_ms);
	argv[(*argc)++] = "--remote-mem";
	argv[(*argc)++] = size;
	argv[(*argc)++] = "--evict-grace";
	argv[(*argc)++] = grace;
	argv[(*argc)++] = "--mode"; /* it serves no calls: its thread sleeps */
	argv[(*argc)++] = "warm";
}

/* Starts the lease's executor in its sandbox (a spare when one waits and
 * it is a compute lease, else one started now); the grant follows when the
 * executor sends its lease document on its channel (see agent_tick). */
static int lease_start(struct agent *a, struct lease *l, const char *lib, char *err, size_t errlen)
{
	struct sandbox_spec spec = {.root = a->cfg.cgroup_root,
				    .name = l->id,
				    .cpus = l->pus,
				    .mem_limit = l->mem,
				    .uid = l->uid,
				    .gid = l->gid,
				    .pids_max = a->cfg.lease_pids_max};
	char cpus[MSG_CPULIST_MAX], workers[16], hot[32], tok[64], addr_env[128], swap[16];
	char size[32], grace[32];
	char *argv[26], *envp[8];
	struct spare_exec x;
	int argc = 0, envc = 0, rc;

	if (l->remote_mem) {
		memory_lease_pus(a, &spec.cpus);
		l->run_pus = spec.cpus;
	}

	for (unsigned g = 0; g < a->cfg.ngpus && g < 32 && spec.ndevices < SANDBOX_MAX_DEVICES; g++)
		if (l->gpus & (1u << g))
			spec.devices[spec.ndevices++] = a->cfg.gpus[g];
	rc = sandbox_create(&spec, &l->sb, err, errlen);
	if (rc)
		return rc;
	if (a->cfg.lease_log_size > 0 &&
	    leaselog_open(a->cfg.state_dir, l->id, l->uid, l->gid, &l->log, err, errlen) != 0)
		log_warning("%s: %s; its executor's output is dropped", l->id, err);
	if (getrandom(l->token, sizeof(l->token), 0) != sizeof(l->token)) {
		snprintf(err, errlen, "cannot draw a lease token: %s", strerror(errno));
		return -EIO;
	}
	l->doc = malloc(FRAME_MAX);
	if (!l->doc) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	cpumask_format(&l->pus, cpus, sizeof(cpus));
	snprintf(workers, sizeof(workers), "%u", l->workers);
	snprintf(hot, sizeof(hot), "%ld", a->cfg.hot_poll_us < 0 ? 0 : a->cfg.hot_poll_us);
	token_env(l->token, tok, sizeof(tok));
	argv[argc++] = (char *)a->executor;
	argv[argc++] = "--publish";
	argv[argc++] = "fd:0"; /* the channel: see sandbox_spare_start */
	argv[argc++] = "--id";
	argv[argc++] = l->id;
	if (l->remote_mem) {
		memory_lease_argv(a, l, argv, &argc, size, sizeof(size), grace, sizeof(grace));
	} else {
		argv[argc++] = "--lib";
		argv[argc++] = (char *)lib;
		argv[argc++] = "--cpus";
		argv[argc++] = cpus;
		argv[argc++] = "--workers";
		argv[argc++] = workers;
		argv[argc++] = "--report-calls"; /* on the channel: see calls_read */
	}
	if (l->remote_mem) {
		/* no spare: a spare waits to serve calls on lent PUs */
	} else if (a->cfg.hot_poll_us < 0) {
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
	if (!l->remote_mem) {
		/* sessions' states go back to their clients within 3/4 of the
		 * grace: the rest is for the hand-backs, the goodbyes and the
		 * exit (a memory lease's executor holds no sessions) */
		snprintf(swap, sizeof(swap), "%ld",
			 a->cfg.evict_grace_ms * 3 / 4 > 0 ? (long)a->cfg.evict_grace_ms * 3 / 4
							   : 1L);
		argv[argc++] = "--swap-ms";
		argv[argc++] = swap;
	}
	argv[argc] = NULL;
	envp[envc++] = tok;
	envp[envc++] = "PATH=/usr/bin:/bin";
	if (getenv("FAAS_ADDR")) { /* the data-plane address, when the site sets one */
		snprintf(addr_env, sizeof(addr_env), "FAAS_ADDR=%s", getenv("FAAS_ADDR"));
		envp[envc++] = addr_env;
	}
	envp[envc] = NULL;
	if (l->remote_mem || !spares_take(&a->spares, clock_ms(), &x)) {
		rc = spares_start_one(&a->spares, &x, err, errlen);
		if (rc)
			goto out;
	}
	rc = sandbox_assign(l->sb, x.pid, x.chan, argv, envp, err, errlen);
	if (rc) {
		spares_discard(&x);
		goto out;
	}
	l->pid = x.pid;
	l->chan = x.chan;
	l->output = x.output;
	log_debug("%s: executor %d assigned", l->id, (int)x.pid);
out:
	explicit_bzero(tok, sizeof(tok));
	return rc;
}

static void exec_start(struct agent *a, const struct msg *m, const struct cred_id *from,
		       msg_reply_fn fn, void *arg, uint64_t cookie)
{
	struct cpumask pus, free_pus, taken;
	uint64_t mem_taken;
	uint32_t gpus_taken;
	struct lease *l = NULL;
	char err[512] = "";
	int rc;

	if (lease_find(a, m->u.exec.id)) {
		msg_reply_error(fn, arg, cookie, "EEXIST", "%s runs here already", m->u.exec.id);
		return;
	}
	cpumask_clear(&pus); /* a memory lease holds none */
	if (!m->u.exec.remote_mem &&
	    (cpumask_parse(m->u.exec.pus, &pus) != 0 || cpumask_empty(&pus))) {
		msg_reply_error(fn, arg, cookie, "EINVAL",
				"%s: \"%s\" is not a cpu list of this node", m->u.exec.id,
				m->u.exec.pus);
		return;
	}
	/* the controller placed it on what this agent reported; the host may
	 * have taken some of it back since */
	refresh_gap(a);
	leased(a, &taken, &mem_taken, &gpus_taken);
	cpumask_andnot(&free_pus, &a->gap.lendable, &taken);
	if (!cpumask_subset(&pus, &free_pus) || m->u.exec.mem + mem_taken > a->gap.mem_lendable ||
	    (m->u.exec.gpus & ~(a->gap.gpus_lendable & ~gpus_taken))) {
		msg_reply_error(fn, arg, cookie, "EAGAIN",
				"%s: the gap of %s changed before the lease arrived; ask again",
				m->u.exec.id, a->node);
		return;
	}
	for (unsigned i = 0; i < MAX_LEASES && !l; i++)
		if (a->leases[i].state == LEASE_FREE)
			l = &a->leases[i];
	if (!l) {
		msg_reply_error(fn, arg, cookie, "EBUSY", "%s holds %d leases already", a->node,
				MAX_LEASES);
		return;
	}
	l->state = LEASE_STARTING;
	l->seq = ++a->lease_seq;
	snprintf(l->id, sizeof(l->id), "%s", m->u.exec.id);
	l->uid = m->u.exec.uid;
	l->gid = m->u.exec.gid;
	l->workers = m->u.exec.workers;
	l->pus = pus;
	l->mem = m->u.exec.mem;
	l->gpus = m->u.exec.gpus;
	l->remote_mem = m->u.exec.remote_mem;
	l->expires = m->u.exec.expires;
	l->asked_ms = clock_ms();
	l->start_end = l->asked_ms + START_TIMEOUT_MS;
	l->started_ms = wall_ms();
	l->job = m->u.exec.job;
	usage_host_jobs(a->ledger.jobs, a->ledger.njobs, &pus, l->host_jobs, sizeof(l->host_jobs));
	l->chan = l->output = l->log = -1;
	a->dirty = true;
	rc = lease_start(a, l, m->u.exec.lib, err, sizeof(err));
	if (rc) {
		log_warning("cannot start the executor of %s for uid %u: %s", l->id, l->uid, err);
		msg_reply_error(fn, arg, cookie, "EIO", "cannot start the executor on %s: %s",
				a->node, err);
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

/*
 * The leases on PUs, memory or GPUs the host needs back, marked in why[]
 * (ending ones too: their PUs are free only once their cgroup is empty).
 * A ledger the gap cannot be computed from (it should not happen: reports
 * are checked) takes every lease: the host wins.
 */
static void reclaim_pick(struct agent *a, const char *why[MAX_LEASES])
{
	bool ledger_ok = refresh_gap(a) == 0;
	uint64_t mem = 0;

	for (unsigned i = 0; i < MAX_LEASES; i++) {
		struct lease *l = &a->leases[i];

		why[i] = NULL;
		if (l->state == LEASE_FREE)
			continue;
		if (!ledger_ok)
			why[i] = why_broken;
		else if (!cpumask_subset(&l->pus, &a->gap.lendable) ||
			 (l->gpus & ~a->gap.gpus_lendable))
			why[i] = why_cores;
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
		why[big] = why_memory;
	}
}

/* Memory leases hold no PU: their executors run on the lendable PUs
 * (memory_lease_pus), and move off those a host step now runs on, so that
 * an executor never shares a core with a running step while the node lends
 * any (after refresh_gap). A cpuset that cannot be written is logged; the
 * lease keeps its PUs. */
static void memory_leases_follow(struct agent *a)
{
	for (unsigned i = 0; i < MAX_LEASES; i++) {
		struct lease *l = &a->leases[i];
		struct cpumask want;
		char err[300];

		if (!l->remote_mem || !l->sb || l->state == LEASE_FREE || l->state == LEASE_ENDING)
			continue;
		memory_lease_pus(a, &want);
		if (cpumask_equal(&want, &l->run_pus))
			continue;
		if (sandbox_set_cpus(l->sb, &want, err, sizeof(err)) != 0)
			log_warning("%s: cannot move its memory executor: %s", l->id, err);
		else
			l->run_pus = want;
	}
}

/* Starts ending every lease the host needs back (all get SIGTERM at once,
 * so the whole reclaim takes one EvictGrace). Returns how many leases must
 * be gone before the host may go on, their seqs in w->seqs when w is
 * given; one of them stuck (its processes survive SIGKILL) makes w's reply
 * EBUSY naming it. */
static unsigned reclaim(struct agent *a, struct waiting *w)
{
	const char *why[MAX_LEASES];
	unsigned n = 0, started = 0;

	reclaim_pick(a, why);
	for (unsigned i = 0; i < MAX_LEASES; i++) {
		struct lease *l = &a->leases[i];

		if (!why[i])
			continue;
		if (l->state != LEASE_ENDING) {
			lease_end(a, l, "evicted", why[i]);
			a->evictions[why[i] == why_cores    ? EVICT_HOST_CPUS
				     : why[i] == why_memory ? EVICT_HOST_MEMORY
							    : EVICT_LEDGER]++;
			started++;
		}
		if (l->state == LEASE_ENDING && !l->stuck && w)
			w->seqs[n++] = l->seq;
		if (l->stuck && w)
			waiting_stuck(w, l->id);
	}
	if (started)
		log_info("evicting %u lease(s) for the host", started);
	memory_leases_follow(a);
	return n;
}

/* A free entry for a reply that waits for evictions, or NULL. */
static struct waiting *waiting_new(struct agent *a, msg_reply_fn fn, void *arg, uint64_t cookie,
				   enum msg_type type)
{
	for (unsigned i = 0; i < MAX_WAITING; i++) {
		struct waiting *w = &a->waiting[i];

		if (!w->fn) {
			*w = (struct waiting){
			    .fn = fn, .arg = arg, .cookie = cookie, .type = type, .seqs = w->seqs};
			return w;
		}
	}
	return NULL;
}

/* A report is taken whole or not at all: one that leaves a ledger the gap
 * cannot be computed from is undone and refused. Either way, whatever the
 * host needs back is evicted before the reply, so that a step never starts
 * on a lent PU; the reply waits for those evictions, never the loop. */
static void report(struct agent *a, const struct msg *m, msg_reply_fn fn, void *arg,
		   uint64_t cookie)
{
	struct ledger *saved = malloc(sizeof(*saved));
	struct waiting *w = saved ? waiting_new(a, fn, arg, cookie, m->type) : NULL;
	int rc;

	if (!w) {
		free(saved);
		msg_reply_error(fn, arg, cookie, saved ? "EBUSY" : "ENOMEM",
				saved ? "%d replies wait for evictions already; retry"
				      : "out of memory",
				MAX_WAITING);
		return;
	}
	*saved = a->ledger;
	rc = ledger_apply(&a->ledger, a->topo, m, &w->code, w->err, sizeof(w->err));
	if (rc == 0 && (rc = refresh_gap(a)) != 0) {
		a->ledger = *saved;
		w->code = "EINVAL";
		snprintf(w->err, sizeof(w->err),
			 "%s does not fit this node's ledger (a step outside its job, or PUs the "
			 "node lacks): %s",
			 msg_type_name(m->type), strerror(-rc));
	}
	free(saved);
	a->dirty = true;
	w->n = reclaim(a, w);
	if (w->n == 0)
		waiting_answer(w);
	else
		w->reclaim_ms = clock_ms();
}

/* A lease released by its owner: the reply comes once its executor is
 * gone, so that what it held is free when the owner hears of it. */
static void exec_stop(struct agent *a, const struct msg *m, msg_reply_fn fn, void *arg,
		      uint64_t cookie)
{
	struct lease *l = lease_find(a, m->u.exec.id);
	struct waiting *w;

	if (!l) {
		msg_reply_error(fn, arg, cookie, "ENOENT", "no lease %s runs on %s", m->u.exec.id,
				a->node);
		return;
	}
	lease_end(a, l, "released", "released by its owner");
	if (l->state != LEASE_ENDING || l->stuck) {
		msg_reply_ok(fn, arg, cookie);
		return;
	}
	w = waiting_new(a, fn, arg, cookie, m->type);
	if (!w) {
		msg_reply_ok(fn, arg, cookie); /* it ends all the same */
		return;
	}
	w->seqs[w->n++] = l->seq;
}

void agent_request(struct agent *a, const struct msg *m, const struct cred_id *from,
		   msg_reply_fn fn, void *arg, uint64_t cookie)
{
	switch (m->type) {
	case MSG_EXEC_START:
		exec_start(a, m, from, fn, arg, cookie);
		break;
	case MSG_EXEC_STOP:
		exec_stop(a, m, fn, arg, cookie);
		break;
	case MSG_JOB_START:
	case MSG_STEP_START:
	case MSG_STEP_END:
	case MSG_JOB_END:
		report(a, m, fn, arg, cookie);
		break;
	default:
		msg_reply_error(fn, arg, cookie, "EPROTO", "a node agent takes no %s request",
				msg_type_name(m->type));
	}
}

/* ---- the tick ----------------------------------------------------------------------- */

/* Why an executor went away, from its wait status and its cgroup. */
static void exit_reason(struct agent *a, struct lease *l, int status, char *why, size_t len)
{
	struct sandbox_state st = {0};

	if (l->sb && sandbox_read(l->sb, &st) == 0 && st.oom_killed) {
		snprintf(why, len,
			 "its executor exceeded the lease's memory (%llu MiB) and was "
			 "killed by the kernel",
			 (unsigned long long)(l->mem >> 20));
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == SPARE_EXIT_NO_ACCOUNT) {
		snprintf(why, len,
			 "uid %u has no account on %s; executors run as the lease owner, who "
			 "must exist on the node",
			 l->uid, a->node);
		l->fail_code = "EINVAL";
	} else if (WIFSIGNALED(status)) {
		snprintf(why, len, "its executor was killed by signal %d", WTERMSIG(status));
	} else {
		snprintf(why, len, "its executor exited with status %d", WEXITSTATUS(status));
	}
}

/* A document that is not this lease's (a function library can write on
 * its executor's channel before the executor does) fails the lease. */
static int doc_check(const struct lease *l, const char *text, char *err, size_t errlen)
{
	struct lease_doc *doc = NULL;
	int rc = lease_doc_decode(text, &doc, err, errlen);

	if (rc == 0 &&
	    (strcmp(doc->id, l->id) != 0 || memcmp(doc->token, l->token, sizeof(l->token)) != 0)) {
		snprintf(err, errlen, "it names another lease or token");
		rc = -EPERM;
	}
	lease_doc_free(doc);
	return rc;
}

static void grant(struct agent *a, struct lease *l)
{
	struct msg m = {.type = MSG_LEASE_GRANT};

	l->state = LEASE_READY;
	l->doc_granted = true;
	a->dirty = true;
	metrics_hist_observe(&a->cold_start_s, (double)(clock_ms() - l->asked_ms) / 1e3);
	if (l->reply) {
		msg_reply_fn fn = l->reply;

		l->reply = NULL;
		snprintf(m.u.grant.id, sizeof(m.u.grant.id), "%s", l->id);
		m.u.grant.lease = l->doc;
		m.sign = l->reply_sign;
		memcpy(m.reply_to, l->reply_nonce, sizeof(m.reply_to));
		fn(l->reply_arg, l->reply_cookie, &m);
	}
	explicit_bzero(l->doc, FRAME_MAX);
	free(l->doc);
	l->doc = NULL;
	log_info("%s is ready", l->id);
}

/* Reads what the starting executor sent on its channel, without waiting:
 * one line, its lease document. */
static void doc_read(struct agent *a, struct lease *l)
{
	char err[300];
	char *nl;
	ssize_t n;

	if (l->chan < 0)
		return;
	n = read(l->chan, l->doc + l->doc_len, FRAME_MAX - 1 - l->doc_len);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0)
		l->doc_len += (size_t)n;
	l->doc[l->doc_len] = '\0';
	nl = memchr(l->doc, '\n', l->doc_len);
	if (!nl && n > 0 && l->doc_len < FRAME_MAX - 1)
		return; /* more to come */
	if (!nl)	/* else it stays open for the executor's calls reports */
		close_fd(&l->chan);
	if (!nl && n <= 0) {
		/* it is exiting, most likely: its exit status says why (agent_tick),
		 * else it fails when starting times out */
		l->doc_eof = true;
		close_fd(&l->chan);
		return;
	}
	if (!nl) {
		lease_end(a, l, "failed", "its executor sent a lease document larger than a frame");
		return;
	}
	*nl = '\0';
	if (doc_check(l, l->doc, err, sizeof(err)) != 0) {
		char why[128];

		log_warning("%s: its executor sent a lease document colocd refuses: %s", l->id,
			    err);
		snprintf(why, sizeof(why), "its executor sent an invalid lease document: %.80s",
			 err);
		lease_end(a, l, "failed", why);
		return;
	}
	grant(a, l);
	l->calls_next = clock_ms() + CALLS_EVERY_MS;
}

/* The calls report of a ready lease's executor: whole lines "calls
 * served=N failed=M" on its channel, the last valid one kept. Read without
 * waiting, at most every CALLS_EVERY_MS and CALLS_READS reads at a time: an
 * executor (or its function library: the owner's code) that writes more
 * only fills its own socket buffer, and an over-long or malformed line is
 * skipped. The channel closed: no more reports (an executor that does not
 * report closes it after its document). */
#define CALLS_READS 4
static void calls_read(struct lease *l, int64_t now)
{
	uint64_t served, failed;
	char buf[256];

	if (l->chan < 0 || now < l->calls_next)
		return;
	l->calls_next = now + CALLS_EVERY_MS;
	for (unsigned r = 0; r < CALLS_READS; r++) {
		ssize_t n = read(l->chan, buf, sizeof(buf));

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			close_fd(&l->chan);
			return;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (l->calls_len < CALLS_LINE_MAX - 1)
					l->calls_line[l->calls_len++] = buf[i];
				else
					l->calls_skip = true;
				continue;
			}
			l->calls_line[l->calls_len] = '\0';
			if (!l->calls_skip &&
			    metrics_calls_parse(l->calls_line, &served, &failed) == 0) {
				l->calls_served = served;
				l->calls_failed = failed;
				l->calls_known = true;
			}
			l->calls_len = 0;
			l->calls_skip = false;
		}
	}
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

int agent_pressure_pick(const uint64_t *usage, unsigned n, uint64_t avail, uint64_t margin)
{
	int big = -1;

	if (avail == UINT64_MAX || avail >= margin)
		return -1;
	for (unsigned i = 0; i < n; i++)
		if (usage[i] != UINT64_MAX && (big < 0 || usage[i] > usage[big]))
			big = (int)i;
	return big;
}

/* Memory pressure: the node runs short (MemAvailable below MemoryMargin)
 * while executors hold memory: the one using most goes. */
static void relieve_pressure(struct agent *a, int64_t now_ms)
{
	uint64_t usage[MAX_LEASES], avail;
	struct sandbox_state st;
	char why[200];
	int big;

	if (now_ms < a->pressure_next)
		return;
	a->pressure_next = now_ms + PRESSURE_EVERY_MS;
	avail = mem_available();
	if (avail == UINT64_MAX || avail >= a->cfg.memory_margin)
		return;
	for (unsigned i = 0; i < MAX_LEASES; i++) {
		struct lease *l = &a->leases[i];

		usage[i] = UINT64_MAX; /* not a candidate */
		if ((l->state == LEASE_STARTING || l->state == LEASE_READY) && l->sb &&
		    sandbox_read(l->sb, &st) == 0)
			usage[i] = st.mem_usage;
	}
	big = agent_pressure_pick(usage, MAX_LEASES, avail, a->cfg.memory_margin);
	if (big < 0)
		return;
	snprintf(why, sizeof(why),
		 "node short of memory (%llu MiB free < MemoryMargin %llu MiB); it used "
		 "most (%llu MiB)",
		 (unsigned long long)(avail >> 20),
		 (unsigned long long)(a->cfg.memory_margin >> 20),
		 (unsigned long long)(usage[big] >> 20));
	lease_end(a, &a->leases[big], "evicted", why);
	a->evictions[EVICT_PRESSURE]++;
}

void agent_tick(struct agent *a)
{
	int64_t now_ms = clock_ms();
	time_t now = time(NULL);

	for (unsigned i = 0; i < MAX_LEASES; i++) {
		struct lease *l = &a->leases[i];
		char why[160];
		pid_t pid;
		int status;

		if (l->state == LEASE_FREE)
			continue;
		if (l->state == LEASE_ENDING) {
			lease_ending(a, l, now_ms);
			continue;
		}
		lease_pump_log(a, l);
		if (l->state == LEASE_STARTING)
			doc_read(a, l);
		else if (l->state == LEASE_READY)
			calls_read(l, now_ms);
		if (l->state != LEASE_ENDING && l->sb && sandbox_reap(l->sb, &pid, &status) == 1) {
			exit_reason(a, l, status, why, sizeof(why));
			log_warning("%s: its executor (pid %ld) is gone: %s", l->id, (long)pid,
				    why);
			lease_end(a, l, "failed", why);
		} else if (l->state == LEASE_STARTING && now_ms > l->start_end) {
			lease_end(a, l, "failed",
				  l->doc_eof
				      ? "its executor closed its channel without a lease document"
				      : "its executor sent no lease document in time");
		} else if (l->state == LEASE_READY && now >= l->expires) {
			lease_end(a, l, "expired", "it reached its end time");
		}
		if (l->state == LEASE_ENDING)
			lease_ending(a, l, now_ms);
	}
	relieve_pressure(a, now_ms);
	spares_tick(&a->spares, now_ms);
	if (now_ms >= a->prune_next) {
		a->prune_next = now_ms + PRUNE_EVERY_MS;
		leaselog_prune(a->cfg.state_dir, LEASELOG_KEEP_S);
	}
}

int agent_tick_ms(const struct agent *a)
{
	/* a stuck lease is tried again at the ordinary pace */
	for (unsigned i = 0; i < MAX_LEASES; i++)
		if (a->leases[i].state == LEASE_STARTING ||
		    (a->leases[i].state == LEASE_ENDING && !a->leases[i].stuck))
			return BUSY_TICK_MS;
	return TICK_MS;
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
	struct cpumask near, ending, lendable, unallocated;
	uint64_t ending_mem = 0;
	uint32_t ending_gpus = 0;
	unsigned n = 0;

	memset(out, 0, sizeof(*out));
	out->type = MSG_NODE_STATE;
	refresh_gap(a);
	snprintf(out->u.node.node, sizeof(out->u.node.node), "%s", a->node);
	out->u.node.port = port;
	cpumask_format(&a->topo->all_pus, out->u.node.pus, sizeof(out->u.node.pus));
	out->u.node.mem = a->topo->memory_bytes;
	out->u.node.ngpus = a->cfg.ngpus < 32 ? a->cfg.ngpus : 32;
	/* what ending leases hold is neither lendable nor theirs any more:
	 * they are not listed (a controller would adopt them) */
	cpumask_clear(&ending);
	for (unsigned i = 0; i < MAX_LEASES; i++) {
		const struct lease *l = &a->leases[i];

		if (l->state != LEASE_ENDING)
			continue;
		cpumask_or(&ending, &ending, &l->pus);
		ending_mem += l->mem;
		ending_gpus |= l->gpus;
	}
	cpumask_andnot(&lendable, &a->gap.lendable, &ending);
	cpumask_format(&lendable, out->u.node.lendable, sizeof(out->u.node.lendable));
	cpumask_andnot(&unallocated, &a->gap.unallocated, &ending);
	cpumask_format(&unallocated, out->u.node.unallocated, sizeof(out->u.node.unallocated));
	topology_cache_neighbours(a->topo, &a->gap.host_busy, &near);
	cpumask_and(&near, &near, &lendable);
	cpumask_format(&near, out->u.node.near_host, sizeof(out->u.node.near_host));
	snprintf(out->u.node.cgroup, sizeof(out->u.node.cgroup), "%s", a->cfg.cgroup_root);
	out->u.node.mem_lendable =
	    a->gap.mem_lendable > ending_mem ? a->gap.mem_lendable - ending_mem : 0;
	out->u.node.gpus_lendable = a->gap.gpus_lendable & ~ending_gpus;
	out->u.node.until = a->gap.until == INT64_MAX ? 0 : a->gap.until;
	out->u.node.jobs = a->ledger.njobs;
	for (unsigned i = 0; i < MAX_LEASES; i++)
		n += a->leases[i].state == LEASE_STARTING || a->leases[i].state == LEASE_READY;
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

		if (l->state != LEASE_STARTING && l->state != LEASE_READY)
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
	/* the ends the controller has not taken yet, oldest first, at most
	 * ENDED_PER_STATE (each carries its usage record: the frame must hold
	 * them); the rest go in the next state, which follows at once */
	n = 0;
	*ended_upto = a->ended_last;
	a->dirty = false;
	for (unsigned i = 0; i < a->nended; i++) {
		unsigned k =
		    (a->ended_next + MSG_NODE_ENDED_MAX - a->nended + i) % MSG_NODE_ENDED_MAX;

		if (a->ended_seq[k] <= a->ended_acked)
			continue;
		if (n == ENDED_PER_STATE) {
			a->dirty = true;
			break;
		}
		out->u.node.ended[n++] = a->ended[k];
		*ended_upto = a->ended_seq[k];
	}
	out->u.node.nended = n;
	return 0;
}

/* ---- metrics ----------------------------------------------------------------------------- */

static void gauge(struct metrics_page *p, const char *name, const char *help,
		  const struct metrics_label *node, double v)
{
	metrics_family(p, name, METRICS_GAUGE, help);
	metrics_sample(p, name, node, 1, v);
}

/* The executors' calls reports, one family per counter. */
static void calls_family(struct agent *a, struct metrics_page *p, const char *name,
			 const char *help, bool failed)
{
	struct metrics_label l[3] = {{"node", a->node}, {"lease", ""}, {"uid", ""}};
	char uid[16];

	metrics_family(p, name, METRICS_COUNTER, help);
	for (unsigned i = 0; i < MAX_LEASES; i++) {
		const struct lease *e = &a->leases[i];

		if (e->state == LEASE_FREE || !e->calls_known)
			continue;
		snprintf(uid, sizeof(uid), "%u", e->uid);
		l[1].value = e->id;
		l[2].value = uid;
		metrics_sample(p, name, l, 3, (double)(failed ? e->calls_failed : e->calls_served));
	}
}

void agent_metrics(struct agent *a, struct metrics_page *p)
{
	static const char *const states[] = {"starting", "ready", "ending"};
	const struct metrics_label node = {"node", a->node};
	struct metrics_label two[2] = {node, {"state", ""}};
	unsigned nstate[3] = {0};
	struct cpumask pus;
	uint64_t mem;
	uint32_t gpus;

	refresh_gap(a);
	leased(a, &pus, &mem, &gpus);
	for (unsigned i = 0; i < MAX_LEASES; i++)
		if (a->leases[i].state != LEASE_FREE)
			nstate[a->leases[i].state - LEASE_STARTING]++;
	gauge(p, "coloc_node_lendable_cpus",
	      "PUs (logical CPUs) the node agent may lend now, those lent included", &node,
	      cpumask_count(&a->gap.lendable));
	gauge(p, "coloc_node_lent_cpus", "PUs held by leases (ending ones too)", &node,
	      cpumask_count(&pus));
	gauge(p, "coloc_node_lendable_memory_bytes",
	      "Memory the node agent may lend now, what is lent included", &node,
	      (double)a->gap.mem_lendable);
	gauge(p, "coloc_node_lent_memory_bytes", "Memory held by leases (ending ones too)", &node,
	      (double)mem);
	gauge(p, "coloc_node_lendable_gpus",
	      "GPUs the node agent may lend now, those lent included", &node,
	      __builtin_popcount(a->gap.gpus_lendable));
	gauge(p, "coloc_node_lent_gpus", "GPUs held by leases (ending ones too)", &node,
	      __builtin_popcount(gpus));
	gauge(p, "coloc_node_host_jobs", "Host jobs in the node agent's ledger", &node,
	      a->ledger.njobs);
	metrics_family(p, "coloc_node_leases", METRICS_GAUGE, "Leases on the node, by state");
	for (unsigned i = 0; i < 3; i++) {
		two[1].value = states[i];
		metrics_sample(p, "coloc_node_leases", two, 2, nstate[i]);
	}
	metrics_family(p, "coloc_node_leases_ended_total", METRICS_COUNTER,
		       "Leases that ended on the node, by how they ended");
	for (unsigned i = 0; i < END_STATES; i++) {
		two[1].value = end_labels[i];
		metrics_sample(p, "coloc_node_leases_ended_total", two, 2,
			       (double)a->ended_states[i]);
	}
	metrics_family(p, "coloc_evictions_total", METRICS_COUNTER,
		       "Leases evicted for the host, by reason");
	two[1].name = "reason";
	for (unsigned i = 0; i < EVICT_REASONS; i++) {
		two[1].value = evict_labels[i];
		metrics_sample(p, "coloc_evictions_total", two, 2, (double)a->evictions[i]);
	}
	metrics_histogram(p, "coloc_reclaim_seconds",
			  "From a host job report that needs lent resources back to its reply, "
			  "once the evicted leases' processes are gone",
			  &node, 1, &a->reclaim_s);
	metrics_histogram(p, "coloc_cold_start_seconds",
			  "From exec_start to the executor's lease document (the lease ready)",
			  &node, 1, &a->cold_start_s);
	calls_family(a, p, "coloc_executor_calls_served_total",
		     "Calls the lease's executor answered with a result, as it reports them",
		     false);
	calls_family(a, p, "coloc_executor_calls_failed_total",
		     "Calls the lease's executor answered with an error, as it reports them", true);
}

/* ---- life ------------------------------------------------------------------------------ */

int agent_create(const struct coloc_config *cfg, const char *executor, const char *node,
		 struct topology *topo, struct agent **out, char *err, size_t errlen)
{
	struct agent *a = calloc(1, sizeof(*a));
	uint64_t *seqs = calloc((size_t)MAX_WAITING * MAX_LEASES, sizeof(*seqs));
	int rc;

	if (!a || !seqs) {
		snprintf(err, errlen, "out of memory");
		free(a);
		free(seqs);
		topology_destroy(topo);
		return -ENOMEM;
	}
	a->cfg = *cfg;
	a->executor = executor;
	for (unsigned i = 0; i < MAX_LEASES; i++)
		a->leases[i].chan = a->leases[i].output = a->leases[i].log = -1;
	for (unsigned i = 0; i < MAX_WAITING; i++)
		a->waiting[i].seqs = seqs + (size_t)i * MAX_LEASES;
	spares_init(&a->spares, executor, cfg->provider, cfg->spare_executors);
	snprintf(a->node, sizeof(a->node), "%s", node);
	a->topo = topo;
	if (!a->topo) {
		rc = topology_load(&a->topo, err, errlen);
		if (rc)
			goto fail;
	}
	if (mkdir(cfg->state_dir, 0755) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create StateDir %.300s: %s", cfg->state_dir,
			 strerror(errno));
		goto fail;
	}
	rc = cfg->lease_log_size > 0 ? leaselog_dir(cfg->state_dir, err, errlen) : 0;
	if (rc)
		goto fail;
	/* executors an earlier agent left behind: their leases died with it */
	rc = sandbox_cleanup_root(cfg->cgroup_root, LEASE_CGROUP_PREFIX, cfg->evict_grace_ms, err,
				  errlen);
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
	free(a->waiting[0].seqs);
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
	a->cfg.lease_pids_max = next->lease_pids_max;
	a->cfg.lease_log_size = next->lease_log_size;
	a->spares.want = next->spare_executors < SPARES_MAX ? next->spare_executors : SPARES_MAX;
	reclaim(a, NULL);
	a->dirty = true;
}

const char *agent_node(const struct agent *a)
{
	return a->node;
}

void agent_evict_all(struct agent *a, const char *why)
{
	int64_t end = clock_ms() + a->cfg.evict_grace_ms + KILL_TIMEOUT_MS + 1000;
	bool left = true;

	for (unsigned i = 0; i < MAX_LEASES; i++) {
		a->evictions[EVICT_STOP] +=
		    a->leases[i].state == LEASE_STARTING || a->leases[i].state == LEASE_READY;
		lease_end(a, &a->leases[i], "evicted", why);
	}
	/* at a stop, waiting is what is wanted */
	while (left && clock_ms() < end) {
		left = false;
		for (unsigned i = 0; i < MAX_LEASES; i++)
			if (a->leases[i].state == LEASE_ENDING) {
				lease_ending(a, &a->leases[i], clock_ms());
				left = left || a->leases[i].state != LEASE_FREE;
			}
		if (left)
			clock_sleep_ms(1);
	}
}

void agent_destroy(struct agent *a)
{
	char err[256];

	if (!a)
		return;
	/* the host wins at the end too: no executor outlives its agent's stop */
	agent_evict_all(a, "colocd stopped");
	for (unsigned i = 0; i < MAX_WAITING; i++)
		if (a->waiting[i].fn)
			waiting_answer(&a->waiting[i]);
	for (unsigned i = 0; i < MAX_LEASES; i++)
		if (a->leases[i].state != LEASE_FREE)
			lease_forget(a, &a->leases[i]); /* stuck: its cgroup stays */
	spares_stop(&a->spares);
	/* and its CgroupRoot, now empty, goes too */
	if (sandbox_cleanup_root(a->cfg.cgroup_root, LEASE_CGROUP_PREFIX, a->cfg.evict_grace_ms,
				 err, sizeof(err)) < 0)
		log_warning("%s", err);
	topology_destroy(a->topo);
	free(a->waiting[0].seqs);
	free(a);
}
