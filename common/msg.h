/*
 * msg: the control plane's codec. Its messages are encoded as JSON (the
 * payload of one frame, see frame.h); the rest of colocd and colocctl see
 * only the typed structs below, never JSON: msg.c is the control plane's
 * one user of the JSON library (lease_doc.h is the data plane's). Every message is an object with
 "v" (protocol
 * version, 1) and "type"; decoding is strict: an unknown type, a missing or
 * mistyped field, a value out of range or an unknown field is an error that
 * names the field, and the daemon answers with an "error" message and drops
 * the connection.
 *
 *   client/plugin -> controller (TCP, "cred" = a MUNGE credential)
 *     lease_acquire {cred, workers, lib, mem, gpus, time, mode, job}
 *     lease_release {cred, id}
 *     query         {cred, what, [from], [state], [min_cores], [user],
 *                    [by, since, host_job], [stream]}
 *                                           what = nodes|gaps|leases|executors|
 *                                           usage|records; from = the "next" of
 *                                           the page before; state (nodes),
 *                                           min_cores (gaps), user (leases,
 *                                           executors, usage, records) and by,
 *                                           since, host_job (usage, records)
 *                                           narrow it (msg_usage_filter);
 *                                           stream (nodes, gaps, leases,
 *                                           executors): true = every page,
 *                                           one result after the other on
 *                                           this connection
 *   controller -> client
 *     lease_grant   {cred, id, lease}       lease = the lease document (object);
 *                                           cred = root's, bound to the request
 *                                           (cred.h); a client refuses a grant
 *                                           without it
 *     result        {what, items, [next]}   items = an array of objects, one per
 *                                           row of a query's answer (msg_row);
 *                                           next: more rows follow, ask again
 *                                           with from = next (a page per frame);
 *                                           streamed: the next page follows
 *     ok            {}
 *     error         {code, message}         code = an errno name, e.g. "ENOSPC"
 *   SPANK plugin -> node agent (unix socket, peer checked with SO_PEERCRED)
 *     job_start     {job, uid, pus, mem, mem_need, gpus, consent, end}
 *     step_start    {job, step, pus, mem, gpus}
 *     step_end      {job, step}
 *     job_end       {job}
 *   (the node agent answers ok once what a job or step needs is free)
 *   node agent -> controller (TCP, "cred" proves uid 0)
 *     node_state    {cred, node, port, pus, mem, ngpus, lendable, unallocated,
 *                    near_host, cgroup, mem_lendable, gpus_lendable, until, jobs,
 *                    leases: [{id, uid, workers, pus, mem, gpus, expires, state, pid}],
 *                    ended:  [{id, state, why, [usage]}], [gen]}
 *                   usage = the lease's usage record (struct msg_usage)
 *                   the agent's whole soft state, sent when it changes, after
 *                   a heartbeat refused with ESTALE, and by agents without
 *                   heartbeats once a second; a restarted controller rebuilds
 *                   from it. gen (1..MSG_GEN_MAX): this state's generation,
 *                   a number the agent never gives two different states
 *     heartbeat     {cred, node, gen}   "my state is still generation gen":
 *                   answered ok when the controller holds that generation of
 *                   the node (the node up, from the address it reported
 *                   from), else error ESTALE: send the whole node_state
 *   controller -> node agent (TCP NodeAgentPort, "cred" proves uid 0)
 *     exec_start    {cred, id, uid, gid, workers, pus, mem, gpus, lib, expires, [job]}
 *                   job = the client's Slurm job (0 or absent: none)
 *                   answered by lease_grant {cred, id, lease} once the executor
 *                   is ready, cred root's and bound to the exec_start
 *     exec_stop     {cred, id}               answered ok once it is gone
 *   colocctl -> controller
 *     drain         {cred, node, drain}      drain = true: no new leases there
 *
 * Every "cred" is bound to its message: to msg_digest(), the SHA-256 of the
 * message's canonical JSON (keys sorted, no blanks, ASCII only) without
 * its "cred" field. Both sides compute it the same way: the sender from
 * the message it encodes, the receiver (msg_decode) from the bytes it got.
 *
 * CPU sets travel as lists ("0-3,8"): PU (hardware thread) numbers, except
 * in job_start and step_start, whose "pus" are Slurm's core indexes on the
 * node (the agent maps each to its PUs); GPUs as a bitmask, sizes in bytes,
 * times in seconds (durations) or unix seconds (end).
 */
#ifndef COLOC_MSG_H
#define COLOC_MSG_H

#include "lease_rules.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_VERSION 1
#define MSG_CRED_MAX 1024
#define MSG_DIGEST_LEN 32 /* SHA-256 */
#define MSG_NONCE_LEN 16  /* a credential's nonce (cred.h) */
#define MSG_PATH_MAX 4096
#define MSG_TEXT_MAX 512
#define MSG_CPULIST_MAX 4096

enum msg_type {
	MSG_OK = 1,
	MSG_ERROR,
	MSG_LEASE_ACQUIRE,
	MSG_LEASE_GRANT,
	MSG_LEASE_RELEASE,
	MSG_QUERY,
	MSG_JOB_START,
	MSG_STEP_START,
	MSG_STEP_END,
	MSG_JOB_END,
	MSG_RESULT,
	MSG_NODE_STATE,
	MSG_EXEC_START,
	MSG_EXEC_STOP,
	MSG_DRAIN,
	MSG_HEARTBEAT,
};

/* step_start/step_end of a job's batch step (Slurm's SLURM_BATCH_SCRIPT):
 * it counts as using BatchStepCores of the job's cores, whatever pus says */
#define MSG_STEP_BATCH 0xfffffffbu

#define MSG_NODE_MAX 64		       /* bytes of a node name, NUL included */
#define MSG_NODE_LEASES_MAX 256	       /* leases one node_state carries */
#define MSG_NODE_ENDED_MAX 32	       /* recently ended leases one node_state carries */
#define MSG_GEN_MAX ((1ull << 53) - 1) /* a state generation (exact in any JSON reader) */

/* One lease as a node agent reports it (node_state.leases). */
struct msg_node_lease {
	char id[64];
	uint32_t uid, workers;
	char pus[MSG_CPULIST_MAX];
	uint64_t mem;	 /* bytes, the whole lease on this node */
	uint32_t gpus;	 /* bitmask of the node's GPUs */
	int64_t expires; /* unix seconds */
	bool ready;	 /* "ready", else "starting" */
	int64_t pid;	 /* the executor, 0 before it runs */
};

/* The usage record of a lease that ended on a node: what the node agent
 * measured (colocd(8), "USAGE RECORDS"). It travels in node_state.ended,
 * as a row of a "records" query, and as one line of StateDir/usage.jsonl
 * (msg_usage_encode). */
struct msg_usage {
	char id[64];
	uint32_t uid;	     /* the lease's owner */
	char user[64];	     /* its name, "" when it has none */
	uint32_t job;	     /* the client's Slurm job, 0 = none */
	char host_jobs[512]; /* "JOB:UID:PUS,...": the host jobs whose PUs it used,
			      * their owner and how many of its PUs; "" = none */
	char node[MSG_NODE_MAX];
	uint32_t cores;		   /* PUs */
	char pus[MSG_CPULIST_MAX]; /* which */
	uint64_t mem;		   /* bytes */
	uint32_t gpus;		   /* how many */
	int64_t start, end;	   /* unix seconds */
	uint64_t core_seconds;	   /* cores x its duration (measured in ms) */
	uint64_t gb_seconds;	   /* GiB of memory x duration */
	uint64_t gpu_seconds;	   /* GPUs x duration */
	uint64_t calls;		   /* calls its executor served, ... */
	bool calls_known;	   /* ... when the executor said (it exited on SIGTERM) */
	char state[16];		   /* released, expired, evicted or failed */
	char why[128];
};

/* A lease that ended recently on the node (node_state.ended): state is
 * "released", "expired", "evicted" or "failed"; why says what happened;
 * usage its record (has_usage: the agent sent one). */
struct msg_node_ended {
	char id[64];
	char state[16];
	char why[128];
	bool has_usage;
	struct msg_usage usage;
};

enum msg_query {
	MSG_QUERY_NODES = 1,
	MSG_QUERY_GAPS,
	MSG_QUERY_LEASES,
	MSG_QUERY_EXECUTORS,
	MSG_QUERY_USAGE,   /* usage records summed by a group (msg_row_usage) */
	MSG_QUERY_RECORDS, /* the usage records themselves (msg_usage) */
};

/* How a query narrows its answer and where its page starts: by, since
 * and host_job group and narrow usage and records; user narrows those
 * and leases and executors; state nodes; min_cores gaps. */
enum msg_usage_by { MSG_BY_USER = 0, MSG_BY_HOST_JOB, MSG_BY_NODE, MSG_BY_LEASE };
#define MSG_NODE_STATES "up, down or drained"
struct msg_usage_filter {
	enum msg_usage_by by;
	int64_t since; /* records of leases that ended at or after it; 0 = all */
	bool has_user; /* only the leases of user (uid) */
	uint32_t user;
	uint32_t host_job;  /* only the leases on host job host_job's PUs; 0 = any */
	uint64_t from;	    /* where the page starts: a result's next; 0 = the first */
	char state[16];	    /* nodes in this state (MSG_NODE_STATES); "" = any */
	uint32_t min_cores; /* gaps of at least this many lendable PUs; 0 = any */
	bool stream;	    /* every page from here on, on this connection (not usage,
			     * records) */
};

/* The rows of a query's answer (result.items), one struct per query; on
 * the wire each is an object with these fields, in this order. */
#define MSG_RESULT_MAX 1024 /* rows one result carries (a frame holds fewer) */
#define MSG_GPULIST_MAX 160 /* "0,1,...,31" */

/* nodes: a registered node. */
struct msg_row_node {
	char name[MSG_NODE_MAX];
	char state[16];		   /* "up", "down" or "drained" */
	char pus[MSG_CPULIST_MAX]; /* every PU of the node */
	uint64_t mem;		   /* bytes */
	uint32_t gpus;		   /* how many, 0..32 */
	uint32_t jobs;		   /* host jobs */
	bool drained;
};

/* gaps: what a node that is not down can lend now. */
struct msg_row_gap {
	char node[MSG_NODE_MAX];
	char lendable[MSG_CPULIST_MAX];	   /* PUs, less what leases hold */
	char unallocated[MSG_CPULIST_MAX]; /* of those, the ones no job holds */
	uint64_t mem;			   /* bytes free to lend */
	uint32_t gpus;			   /* how many free, 0..32 */
	int64_t until;			   /* unix seconds; 0 = no limit */
	bool drained;
};

/* leases: a lease, or one that ended lately (then workers, mem 0, cpus,
 * gpus "" and expires is when it ended). */
struct msg_row_lease {
	char id[64];
	uint32_t uid;
	char state[16]; /* starting, ready; released, expired, evicted, failed */
	char node[MSG_NODE_MAX];
	uint32_t workers;
	char cpus[MSG_CPULIST_MAX];
	uint64_t mem;		    /* bytes, the whole lease */
	char gpus[MSG_GPULIST_MAX]; /* the node's GPUs it holds, "0,2" */
	int64_t expires;	    /* unix seconds */
	char why[128];		    /* why it ended, "" while it runs */
};

/* executors: a lease whose executor runs. */
struct msg_row_executor {
	int64_t pid;
	char node[MSG_NODE_MAX];
	uint32_t uid;
	char cgroup[320]; /* the node's CgroupRoot/lease id */
	char cpus[MSG_CPULIST_MAX];
	uint64_t mem_limit; /* bytes */
	char gpus[MSG_GPULIST_MAX];
	char lease[64]; /* its lease id */
};

/* usage: the records of one group (user name, host job id, node or lease
 * id, as the query's "by" says) summed. */
struct msg_row_usage {
	char group[64];
	uint32_t leases;
	uint64_t core_seconds, gb_seconds, gpu_seconds, calls;
};

/* One row; result.what says which member. */
union msg_row {
	struct msg_row_node node;
	struct msg_row_gap gap;
	struct msg_row_lease lease;
	struct msg_row_executor executor;
	struct msg_row_usage usage;
	struct msg_usage record;
};

struct msg {
	enum msg_type type;
	char cred[MSG_CRED_MAX]; /* requests over TCP, lease grants ("" when none) */
	/* Not on the wire: */
	uint8_t digest[MSG_DIGEST_LEN];	 /* set by msg_decode: msg_digest of the message */
	bool sign;			 /* a reply colocd must authenticate (a grant) ... */
	uint8_t reply_to[MSG_NONCE_LEN]; /* ... bound to the request's credential's nonce */
	struct msg_usage_filter filter;	 /* query: of usage and records */
	union {
		struct {
			char code[32]; /* errno name */
			char message[MSG_TEXT_MAX];
		} error;
		struct lease_request acquire; /* within lease_rules.h's limits */
		struct {
			char id[64];
			char *lease; /* the lease document (JSON text), malloc'd; msg_free */
		} grant;
		struct {
			char id[64];
		} release;
		enum msg_query query;
		struct {
			enum msg_query what;
			uint64_t next;	     /* more rows: ask from here; 0 = the last page */
			uint32_t nrows;	     /* 0..MSG_RESULT_MAX */
			uint32_t cap;	     /* rows allocated (msg_result_add's) */
			union msg_row *rows; /* malloc'd (msg_result_add); msg_free */
			/* Not on the wire: the whole message already written
			 * (msg_page_finish), malloc'd, msg_free; rows is then
			 * NULL, nrows says how many the text holds, and its
			 * items are text[items_at, items_end) */
			char *text;
			size_t items_at, items_end;
		} result;
		struct {
			uint32_t job, uid;
			char pus[MSG_CPULIST_MAX]; /* "0-3,8" */
			uint64_t mem, mem_need;
			uint32_t gpus; /* bitmask */
			bool consent;
			int64_t end; /* unix seconds; 0 = no limit */
		} job_start;
		struct {
			uint32_t job, step;
			char pus[MSG_CPULIST_MAX];
			uint64_t mem;
			uint32_t gpus;
		} step;		  /* step_start; step_end uses job and step */
		uint32_t job_end; /* the job id */
		struct {
			char node[MSG_NODE_MAX];   /* the agent's node name */
			uint16_t port;		   /* its NodeAgentPort, 1..65535 */
			char pus[MSG_CPULIST_MAX]; /* every PU of the node */
			uint64_t mem;		   /* bytes of memory */
			uint32_t ngpus;		   /* 0..32 */
			char lendable[MSG_CPULIST_MAX];
			char unallocated[MSG_CPULIST_MAX]; /* may be "" (none) */
			char near_host[MSG_CPULIST_MAX];   /* may be "" (none) */
			char cgroup[256]; /* its CgroupRoot: executors run in cgroup/<lease id> */
			uint64_t mem_lendable;	/* leases' memory not subtracted */
			uint32_t gpus_lendable; /* bitmask, leases' not removed */
			int64_t until;		/* unix seconds; 0 = no limit */
			uint32_t jobs;		/* host jobs in the ledger */
			uint32_t nleases;
			struct msg_node_lease *leases; /* malloc'd; msg_free */
			uint32_t nended;
			struct msg_node_ended *ended; /* malloc'd; msg_free */
			uint64_t gen; /* 1..MSG_GEN_MAX; 0: none (not on the wire) */
		} node;		      /* node_state; heartbeat uses node and gen */
		struct {
			char id[64];
			uint32_t uid, gid; /* uid 1..UINT32_MAX-1: never root */
			uint32_t workers;  /* 1..LEASE_MAX_WORKERS */
			char pus[MSG_CPULIST_MAX];
			uint64_t mem;  /* bytes, the whole lease on this node */
			uint32_t gpus; /* bitmask */
			char lib[MSG_PATH_MAX];
			int64_t expires;     /* unix seconds */
			uint32_t job;	     /* the client's Slurm job, 0 = none */
			uint64_t remote_mem; /* a memory lease: its region (mem holds it and
						LEASE_REMOTE_MEM_MARGIN); workers 0, pus and
						lib "" */
		} exec;			     /* exec_start; exec_stop uses id */
		struct {
			char node[MSG_NODE_MAX];
			bool drain; /* false: resume */
		} drain;
	} u;
};

const char *msg_type_name(enum msg_type type);

/* Encodes m as compact JSON (malloc'd, caller frees). 0 or -errno. A
 * result is written directly (msg_page_*), every other message through
 * the JSON library. */
int msg_encode(const struct msg *m, char **text);

/* The reference encoder: m through the JSON library's tree, whatever its
 * type. Its text equals msg_encode's (results included, whose strings are
 * valid UTF-8); for tests and fuzzing. 0 or -errno. */
int msg_encode_json(const struct msg *m, char **text);

/* Decodes text into m (zeroed first), and sets m->digest (all zeros for
 * a result, which carries no credential to bind). 0, or -EPROTO
 * with a message naming the field; -ENOMEM. Frees nothing: call
 * msg_free(m) after a grant. */
int msg_decode(const char *text, struct msg *m, char *err, size_t errlen);

/* The reference decoder: msg_decode without its direct reader of results
 * (which takes only what this one takes, to the same message, and leaves
 * anything else to it, errors included). For tests and fuzzing. */
int msg_decode_json(const char *text, struct msg *m, char *err, size_t errlen);

/* The digest a credential for m is bound to: the SHA-256 of m encoded as
 * canonical JSON (keys sorted, compact, ASCII only) without "cred". It
 * equals the digest msg_decode gives for any encoding of m. 0 or -errno. */
int msg_digest(const struct msg *m, uint8_t out[MSG_DIGEST_LEN]);

/* Frees what a message owns (a grant's lease, a result's rows, a
 * node_state's leases and ended). */
void msg_free(struct msg *m);

/* An error reply: code is an errno name, message says what and the remedy. */
void msg_error(struct msg *m, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void msg_verror(struct msg *m, const char *code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* ---- replies ---- */

/* Delivers the reply to a request: arg and cookie are the requester's.
 * The node agent, the controller and the daemon's connections all answer
 * through one; it is called exactly once per request, maybe before the
 * request function returns, and reply is the caller's (valid for the
 * call only). */
typedef void (*msg_reply_fn)(void *arg, uint64_t cookie, const struct msg *reply);

/* Builds an error reply (msg_error) or ok and delivers it through fn. */
void msg_reply_error(msg_reply_fn fn, void *arg, uint64_t cookie, const char *code, const char *fmt,
		     ...) __attribute__((format(printf, 5, 6)));
void msg_reply_ok(msg_reply_fn fn, void *arg, uint64_t cookie);

/* ---- query results ---- */

/* Appends a zeroed row to m, a result (m->type MSG_RESULT), for the
 * caller to fill as m->u.result.what says; m owns it (msg_free). NULL with
 * errno E2BIG when m has MSG_RESULT_MAX rows, ENOMEM, or EINVAL when m is
 * not a result. */
union msg_row *msg_result_add(struct msg *m);

/* A result page written row by row straight into its text, as msg_encode
 * writes a result (the same bytes), without a row array or a JSON tree:
 * what the controller answers a query with. Strings are escaped as JSON
 * wants (quotes, backslashes, control characters); a byte that is not
 * part of valid UTF-8 is written as U+FFFD, so a name cut in the middle of
 * a character never makes a page unreadable. The caller owns p; not
 * thread-safe (one writer per page). */
struct msg_page {
	enum msg_query what;
	char *text; /* malloc'd; msg_page_finish hands it over */
	size_t len, cap;
	size_t limit;	 /* the whole message's most bytes; SIZE_MAX: none */
	size_t items_at; /* where '[' is */
	uint32_t nrows;
	int err; /* out of memory on the way: -ENOMEM */
};

/* Starts a page of what's rows whose whole message (the closing part with
 * any "next" included) stays within limit bytes. 0, -EINVAL (no such
 * query, or a limit too small for an empty page), -ENOMEM. */
int msg_page_init(struct msg_page *p, enum msg_query what, size_t limit);

/* Appends row (fields as what says; strings NUL-terminated within their
 * arrays). 0; -ENOSPC when the row would take the message past the limit
 * (the page is as it was: finish it, the row goes on the next);
 * -E2BIG at MSG_RESULT_MAX rows; -ENOMEM. */
int msg_page_add(struct msg_page *p, const union msg_row *row);

/* Closes the page, with next (0: the last page), into m, a result whose
 * text is the page's (m owns it, msg_free; m's rows NULL, nrows the
 * page's). p is empty afterwards (msg_page_fini is still allowed).
 * 0, or the first error of the page's (-ENOMEM). */
int msg_page_finish(struct msg_page *p, uint64_t next, struct msg *m);

/* Frees what p still holds; a zeroed p is fine. */
void msg_page_fini(struct msg_page *p);

/* An upper bound of the length of msg_encode's text for m, a result,
 * without encoding it (SIZE_MAX when m is not one): whether a page fits a
 * frame, cheaply. */
size_t msg_result_size_bound(const struct msg *m);

/* Appends the rows of page (a result of the same query) to all, a result
 * assembled from pages: it may hold more than MSG_RESULT_MAX rows, for
 * printing (msg_result_cell, table.h), never for sending. 0, -EINVAL
 * (not results of the same query), -ENOMEM. */
int msg_result_append(struct msg *all, const struct msg *page);

/* The name of field i (from 0, in wire order) of what's rows; NULL past
 * the last or for no such query. Static. */
const char *msg_result_key(enum msg_query what, unsigned i);

/* Whether field key of what's rows is a time (unix seconds, 0 = none). */
bool msg_result_is_time(enum msg_query what, const char *key);

/* Row row's field key of result m as text into buf: strings as they are,
 * numbers in decimal, booleans as yes/no. 0, -ENOENT when m has no such
 * row or its rows no such field, -ENOSPC when buf is too small (it then
 * holds what fits). */
int msg_result_cell(const struct msg *m, uint32_t row, const char *key, char *buf, size_t len);

/* m's rows as the JSON array they travel as (compact, malloc'd, caller
 * frees): colocctl --json prints it. 0 or -errno (-EINVAL: not a result). */
int msg_result_json(const struct msg *m, char **text);

/* ---- usage records ---- */

/* u as one line of compact JSON, no newline (malloc'd, caller frees). 0 or
 * -errno. */
int msg_usage_encode(const struct msg_usage *u, char **text);

/* Decodes one record (a line of usage.jsonl) into u, as strictly as a
 * message. 0, or -EPROTO with err naming the field; -ENOMEM. */
int msg_usage_decode(const char *text, struct msg_usage *u, char *err, size_t errlen);

/* The names of the "by" values: user, host-job, node, lease. */
const char *msg_usage_by_name(enum msg_usage_by by);
int msg_usage_by_parse(const char *name, enum msg_usage_by *by);

#endif
