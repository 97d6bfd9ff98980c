/*
 * faas.h - libfaas, the coloc client library: invoke functions that run on
 * other jobs' idle cores, over libfabric (RDMA where the fabric has it).
 *
 * A lease is the right to call the functions of one function library on a
 * set of workers (one worker = one lent core of a faas-executor). The lease
 * document is JSON; it comes from the controller (colocctl lease acquire,
 * srun --faas-workers) or from a faas-executor started by hand, and reaches
 * a job through the FAAS_LEASE environment variable.
 *
 *   struct faas_lease *lease;
 *   struct faas_client *c;
 *   faas_lease_from_env(&lease);
 *   faas_client_create(lease, NULL, &c);
 *   int fn = faas_function(c, "blackscholes");
 *   faas_invoke(c, fn, in, in_len, out, out_cap, &out_len);
 *   faas_client_destroy(c);
 *   faas_lease_destroy(lease);
 *
 * Ownership: every object is created by a faas_*_create/_from_* call and
 * freed by the matching _destroy/_free; destroying NULL is a no-op.
 * Threads: a struct faas_client is used by one thread at a time (create one
 * client per thread); leases are read-only after creation and may be shared.
 * Errors: every int function returns FAAS_OK (0) or a negative FAAS_E* code;
 * faas_strerror() names it. See faas(3).
 */
#ifndef FAAS_H
#define FAAS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FAAS_VERSION_MAJOR 0
#define FAAS_VERSION_MINOR 2

/* The largest input, and the largest output, of one call (1 GiB). Inputs
 * up to faas_lease_max_payload() travel inline in the request; larger ones
 * and outputs larger than the slot move one-sided (RMA) between the
 * caller's memory and the worker. */
#define FAAS_MAX_PAYLOAD (1ull << 30)

/* Error codes: 0 or negative. */
enum faas_error {
	FAAS_OK = 0,
	FAAS_EINVAL = -1,	/* an argument is invalid */
	FAAS_ENOMEM = -2,	/* out of memory */
	FAAS_ELEASE = -3,	/* the lease document is malformed */
	FAAS_ENOFUNC = -4,	/* the function is not in the lease's library */
	FAAS_ETOOBIG = -5,	/* the payload is larger than FAAS_MAX_PAYLOAD, or its
				 * staging than the executor's budget */
	FAAS_EOUTSIZE = -6,	/* the function's output is larger than out_cap */
	FAAS_EFUNC = -7,	/* the function returned non-zero */
	FAAS_ETIMEDOUT = -8,	/* no reply within the call timeout */
	FAAS_EAUTH = -9,	/* the executor refused the lease token */
	FAAS_EEVICTED = -10,	/* the executor was evicted (its cores were reclaimed) */
	FAAS_EUNAVAIL = -11,	/* no executor of the lease answered */
	FAAS_ETRANSPORT = -12,	/* the fabric (libfabric) failed */
	FAAS_EPROTO = -13,	/* a malformed reply or message */
	FAAS_EBUSY = -14,	/* every slot of the lease has a call in flight, or
				 * (faas_client_create) other clients hold them, or
				 * (faas_lease_acquire) no node has that much idle */
	FAAS_EINPROGRESS = -15, /* the call has not completed yet (faas_test) */
	FAAS_ENOSESSION = -16,	/* the session is not open on this connection */
	FAAS_ESTATELOST = -17	/* the session's state could not be written back
				 * in time when its worker was evicted */
};

/* Names an error code in one sentence; never NULL, static storage. */
const char *faas_strerror(int err);

/* ---- Leases ---------------------------------------------------------- */

struct faas_lease;

/* Parses a lease document (JSON text). On error returns FAAS_ELEASE and, when
 * err is not NULL, writes a message naming the bad field into err. */
int faas_lease_from_json(const char *json, struct faas_lease **lease, char *err, size_t errlen);

/* Reads the lease from the FAAS_LEASE environment variable: either the JSON
 * document itself or the path of a file holding it. FAAS_EINVAL when unset. */
int faas_lease_from_env(struct faas_lease **lease, char *err, size_t errlen);

void faas_lease_destroy(struct faas_lease *lease);

/* Number of workers the lease grants. */
int faas_lease_workers(const struct faas_lease *lease);
/* Lease id and fabric provider; owned by the lease. */
const char *faas_lease_id(const struct faas_lease *lease);
const char *faas_lease_provider(const struct faas_lease *lease);
/* Largest input (bytes) one call carries inline, in the worker's request
 * slot; up to FAAS_MAX_PAYLOAD larger ones move by RMA. */
size_t faas_lease_max_payload(const struct faas_lease *lease);

/* ---- Leases from the controller (colocd) ------------------------------ */

struct faas_lease_request {
	int workers;	       /* 1..4096 */
	const char *lib;       /* the function library; made absolute, must exist */
	size_t mem_per_worker; /* bytes, 16M..2^50 (1024T); 0 = the site default */
	int gpus;	       /* 0..64 */
	int minutes;	       /* 1..527040; 0 = DefaultLeaseTime of coloc.conf */
	int pack;	       /* 1: as few nodes as possible; 0: spread */
	const char *conf;      /* coloc.conf path, NULL = COLOC_CONF or the default */
};

/* Asks the controller named in coloc.conf for a lease and parses the lease
 * document it grants into *lease (freed with faas_lease_destroy). Inside a
 * Slurm job (SLURM_JOB_ID) the request names the job. Waits at
 * most FAAS_CONTROLLER_TIMEOUT_MS (1..3600000, default 30000) for the
 * grant. Errors: FAAS_EINVAL (an argument out of the ranges above,
 * coloc.conf or FAAS_CONTROLLER_TIMEOUT_MS), FAAS_EUNAVAIL (the controller
 * cannot be reached or did not answer), FAAS_EBUSY (not enough idle
 * resources now), FAAS_EAUTH (the controller refused the credential),
 * FAAS_ELEASE (a malformed grant), FAAS_EPROTO, FAAS_ENOMEM; err (may be
 * NULL) says what and the remedy. Thread-safe; reads the environment. */
int faas_lease_acquire(const struct faas_lease_request *req, struct faas_lease **lease, char *err,
		       size_t errlen);

/* A memory lease from the controller: size bytes of another node's idle
 * memory (faas_rmem_open reads and writes it). A request of its own, not a
 * field of struct faas_lease_request: that struct carries no size or
 * version, so a program built against an older faas.h would pass a shorter
 * one. Zero-initialise it; fields may be added at its end only with a
 * new function. */
struct faas_rmem_request {
	uint64_t size;	  /* bytes of the region, 4K..2^50 (1024T) */
	int minutes;	  /* 1..527040; 0 = DefaultLeaseTime of coloc.conf */
	const char *conf; /* coloc.conf path, NULL = COLOC_CONF or the default */
};

/* Asks the controller for a memory lease: it places the region on a node
 * whose host jobs lend memory headroom (it takes no core), where an
 * executor in a cgroup of the lease's memory holds it as the caller's uid.
 * *lease as faas_lease_acquire's (faas_lease_remote_mem says its size;
 * faas_lease_release gives it back). Errors as faas_lease_acquire's:
 * FAAS_EINVAL (size out of range, minutes), FAAS_EBUSY (no node lends that
 * much memory now: err names the node with the most), ... Thread-safe;
 * reads the environment. */
int faas_rmem_acquire(const struct faas_rmem_request *req, struct faas_lease **lease, char *err,
		      size_t errlen);

/* Tells the controller that the lease is no longer needed (the controller
 * of the coloc.conf it was acquired with, else of COLOC_CONF or the
 * default); its executors stop. The caller still
 * faas_lease_destroy()s the lease. Errors as faas_lease_acquire; FAAS_EINVAL
 * when the controller does not know the lease. */
int faas_lease_release(struct faas_lease *lease, char *err, size_t errlen);

/* ---- Clients --------------------------------------------------------- */

struct faas_client;

struct faas_client_options {
	int timeout_ms;		/* per-call timeout; 0 = default (1000 ms); FAAS_TIMEOUT_MS */
	int connect_timeout_ms; /* handshake with the workers; 0 = default (5000 ms) */
	int blocking;		/* 1: wait for replies on the CQ instead of busy-polling */
	int depth;		/* calls in flight per worker; 0 = default (16) */
	const char *src_addr; /* local fabric address; NULL = FAAS_ADDR or the provider's choice */
};

/* Connects to every worker of the lease (presenting its token). Fails with
 * FAAS_EUNAVAIL when none answers within connect_timeout_ms: the executor
 * is gone, or the document's token is not its own (workers do not answer a
 * wrong token, so that nobody can make them send to an address of their
 * choosing). Fails with FAAS_EBUSY when the workers have no free slots for
 * it: other clients of the lease hold them, or a previous client has not
 * said goodbye yet (a line on stderr names the worker and the remedies).
 * opts may be NULL. The lease must outlive the client. */
int faas_client_create(const struct faas_lease *lease, const struct faas_client_options *opts,
		       struct faas_client **client);

/* Says goodbye to the workers and frees everything; calls still in flight
 * are abandoned. NULL is a no-op. */
void faas_client_destroy(struct faas_client *client);

/* Number of workers this client is connected to. */
int faas_client_workers(const struct faas_client *client);

/* The id of a function of the lease's library, or FAAS_ENOFUNC. */
int faas_function(const struct faas_client *client, const char *name);

/* ---- Buffers (zero copy) ----------------------------------------------
 * A buffer from faas_buffer_alloc() is registered with the fabric: an
 * output buffer that starts at the pointer it returned receives the result
 * directly from the executor (no copy). Any other memory works too, through
 * an internal copy. */
void *faas_buffer_alloc(struct faas_client *client, size_t size);
void faas_buffer_free(struct faas_client *client, void *buffer);

/* Registers the caller's memory [buffer, buffer+size) (size at most
 * FAAS_MAX_PAYLOAD) with the fabric, so that calls whose input or output
 * lies inside it and exceeds the slot move without registering it for
 * each call (which libfaas does otherwise, and undoes when the call is
 * collected). The memory stays the caller's; it must stay mapped until
 * faas_buffer_unregister(), which is FAAS_EBUSY while a call in flight
 * uses it. FAAS_EINVAL, FAAS_ENOMEM, FAAS_ETRANSPORT. */
int faas_buffer_register(struct faas_client *client, void *buffer, size_t size);
int faas_buffer_unregister(struct faas_client *client, void *buffer);

/* ---- Invocation ------------------------------------------------------ */

/* Calls function fn with in[0..in_len) and waits for the result, written to
 * out[0..*out_len) (out_len may be NULL). Returns FAAS_OK or an error: the
 * function's failure (FAAS_EFUNC, FAAS_EOUTSIZE, ...) or the call's
 * (FAAS_ETIMEDOUT, FAAS_EEVICTED, ...); faas_last_error() says why.
 * On FAAS_EOUTSIZE, *out_len is the number of output bytes the function
 * needed (0 when the executor did not say) and nothing was written to out;
 * on other errors *out_len is 0 and out's content is unspecified (a
 * faas_buffer_alloc'd out may hold the function's error message). The same
 * holds for faas_wait, faas_test and faas_wait_any. */
int faas_invoke(struct faas_client *client, int fn, const void *in, size_t in_len, void *out,
		size_t out_cap, size_t *out_len);

struct faas_call;

/* Starts a call and returns at once; an input up to
 * faas_lease_max_payload() bytes is copied, so in may be reused; a larger
 * one is read by the worker from in, which must then stay unchanged until
 * the call completes. out must stay valid until the call completes. Calls spread over
 * the lease's workers, up to depth per worker; when all are busy this waits
 * for one to free (bounded by the call timeout: FAAS_EBUSY). The call
 * handle belongs to the client and is released by faas_wait/faas_test
 * returning anything but FAAS_EINPROGRESS. */
int faas_invoke_async(struct faas_client *client, int fn, const void *in, size_t in_len, void *out,
		      size_t out_cap, struct faas_call **call);

/* Waits for call (until its deadline); returns its status and releases it. */
int faas_wait(struct faas_client *client, struct faas_call *call, size_t *out_len);

/* FAAS_EINPROGRESS if call is still running, else as faas_wait. */
int faas_test(struct faas_client *client, struct faas_call *call, size_t *out_len);

/* Waits for any call in flight to complete; returns its status, stores the
 * (released) handle in *call and the output length in *out_len. FAAS_EINVAL
 * when no call is in flight. */
int faas_wait_any(struct faas_client *client, struct faas_call **call, size_t *out_len);

/* Calls moved to another worker of the lease because their executor was
 * evicted (its cores reclaimed by their owner) while they ran. A moved call
 * runs again from the start there: functions must tolerate that (be
 * idempotent). Calls are only moved while another worker has a free slot;
 * otherwise they fail with FAAS_EEVICTED. */
long faas_client_retries(const struct faas_client *client);

/* Calls started and not yet collected by faas_wait/faas_test/faas_wait_any. */
int faas_inflight(const struct faas_client *client);

/* ---- Memory leases (remote memory) -------------------------------------
 * A memory lease (colocctl lease acquire --remote-mem, faas-executor
 * --remote-mem) lends a region of another node's idle memory. The client
 * reads and writes it one-sided (fi_read/fi_write into the region: no
 * function runs on that node). faas_rmem_open presents the lease token to
 * the lease's executor, which answers with the region's address and key.
 *
 *   struct faas_rmem *rm;
 *   faas_rmem_open(lease, NULL, &rm);
 *   faas_rmem_write(rm, 0, buf, len);
 *   faas_rmem_read(rm, 0, buf, len);
 *   faas_rmem_close(rm);
 *
 * When the region's node needs its memory back, the executor sends an
 * eviction notice: faas_rmem_evicting() turns 1, and the client has the
 * site's EvictGrace to read back what it needs; after that every access
 * fails with FAAS_EEVICTED (the data is lost; nothing stale is returned).
 * Threads: one thread at a time per struct faas_rmem. */

struct faas_rmem;

/* The bytes of a memory lease's region; 0 for a compute lease. */
uint64_t faas_lease_remote_mem(const struct faas_lease *lease);

/* Connects to the memory lease's executor. opts may be NULL; it uses
 * timeout_ms (each access: the longest stall, default 1000 ms, plus 1 ms
 * per 64 KiB of the access),
 * connect_timeout_ms and src_addr. FAAS_EINVAL (not a memory lease),
 * FAAS_EUNAVAIL (no answer: the executor is gone or the token is not its
 * own), FAAS_ETRANSPORT, FAAS_EPROTO, FAAS_ENOMEM. The lease must outlive
 * rm. */
int faas_rmem_open(const struct faas_lease *lease, const struct faas_client_options *opts,
		   struct faas_rmem **rm);

/* Says goodbye to the executor and frees rm; NULL is a no-op. */
void faas_rmem_close(struct faas_rmem *rm);

/* The region's size in bytes. */
uint64_t faas_rmem_size(const struct faas_rmem *rm);

/* Registers [buf, buf+len) with the fabric: reads and writes whose buffer
 * lies inside it move with no copy; others go through an internal bounce
 * buffer. The memory stays the caller's and must stay mapped until
 * faas_rmem_unregister(buf). FAAS_EINVAL, FAAS_ENOMEM, FAAS_ETRANSPORT. */
int faas_rmem_register(struct faas_rmem *rm, void *buf, size_t len);
/* FAAS_EBUSY while a failed access's transfer is still with the fabric. */
int faas_rmem_unregister(struct faas_rmem *rm, void *buf);

/* Copies len bytes (1..the region's size) at offset off of the region
 * into buf (read) or from buf into it (write), and returns once they
 * moved. FAAS_EINVAL when [off, off+len) is not inside the region
 * (checked here, nothing is sent), FAAS_EEVICTED once the region was
 * reclaimed (after its notice, or its executor is gone), FAAS_ETIMEDOUT
 * (no progress for timeout_ms), FAAS_ETRANSPORT. */
int faas_rmem_read(struct faas_rmem *rm, uint64_t off, void *buf, size_t len);
int faas_rmem_write(struct faas_rmem *rm, uint64_t off, const void *buf, size_t len);

/* Asynchronous accesses, many in flight: as faas_rmem_read/write, but
 * buf must lie inside memory registered with faas_rmem_register (zero
 * copy; FAAS_EINVAL otherwise) and stay untouched until the access is
 * collected, and len is at most the provider's largest transfer
 * (FAAS_ETOOBIG; 1 GiB or more on tcp;ofi_rxm and shm). *op is the
 * access's handle, released by faas_rmem_test returning anything but
 * FAAS_EINPROGRESS, or by faas_rmem_wait (which spins until then), or by
 * faas_rmem_close. Accesses in flight together complete in any order. */
struct faas_rmem_op;
int faas_rmem_read_async(struct faas_rmem *rm, uint64_t off, void *buf, size_t len,
			 struct faas_rmem_op **op);
int faas_rmem_write_async(struct faas_rmem *rm, uint64_t off, const void *buf, size_t len,
			  struct faas_rmem_op **op);
int faas_rmem_test(struct faas_rmem *rm, struct faas_rmem_op *op);
int faas_rmem_wait(struct faas_rmem *rm, struct faas_rmem_op *op);

/* Polls for the eviction notice: 1 once it arrived (read back now), 0
 * before, FAAS_EEVICTED once the region is gone, FAAS_EINVAL for NULL. */
int faas_rmem_evicting(struct faas_rmem *rm);

/* ---- Why a call failed ------------------------------------------------
 * Both describe the most recently collected call (faas_invoke, faas_wait,
 * faas_test or faas_wait_any returning anything but FAAS_EINPROGRESS), or a
 * faas_invoke_async that failed to start one. */

/* The function's own non-zero return code when that call failed with
 * FAAS_EFUNC; 0 otherwise (and for a NULL client). */
int faas_last_fn_rc(const struct faas_client *client);

/* One sentence saying why that call failed: for FAAS_EFUNC "function NAME
 * returned RC" followed by ": " and the message the function left, if any
 * (at most 256 bytes; bytes outside printable ASCII show as '?'); for
 * FAAS_EOUTSIZE "function NAME needed N bytes of output, out_cap was M";
 * otherwise faas_strerror()'s text with the function and worker. "" after
 * a success. Never NULL; owned by the client and valid until its next call
 * of any libfaas function on it. */
const char *faas_last_error(const struct faas_client *client);

/* ---- Sessions (state kept in a worker between calls) -------------------
 * A session pins calls to one worker, where a flat state buffer of at most
 * state_cap bytes lives between them. Only the client connection that
 * opened a session can use it. When the worker is evicted, the worker
 * writes the state back to the client (swap), and the session can be
 * resumed on another worker or lease with faas_session_resume. See
 * faas(3), "SESSIONS".
 *
 * Functions opt in by listing their names in the library's second
 * manifest, faas_session_functions (also in faas_functions); they have the
 * signature
 *   int fn(struct faas_state *state, const void *in, size_t in_len,
 *          void *out, size_t out_cap, size_t *out_len);
 * and keep state->len (bytes of state->data in use) at most state->cap. */
#ifndef FAAS_STATE_DEFINED /* also in faas_function.h */
#define FAAS_STATE_DEFINED
struct faas_state {
	void *data; /* cap bytes, fixed for the session's life */
	size_t len; /* bytes in use: what a swap writes back */
	size_t cap;
};
#endif

struct faas_session;

/* Opens a session on one worker of client's lease (worker -1: the next
 * one round robin) whose state may grow to state_cap bytes (1 .. 1 GiB,
 * or the executor's --session-max-state). Registers state_cap bytes here
 * too, where a swap writes the state. Errors: FAAS_EINVAL, FAAS_ENOMEM,
 * FAAS_EBUSY (the worker holds as many sessions as it may), FAAS_ETOOBIG
 * (state_cap beyond the executor's limit), the call errors of faas_invoke.
 * The session belongs to client, which must outlive it. */
int faas_session_open(struct faas_client *client, int worker, size_t state_cap,
		      struct faas_session **session);

/* Calls fn in the session, as faas_invoke does; a stateful function
 * receives the session's state. Never moved to another worker: when the
 * worker is evicted the call fails with FAAS_EEVICTED and the state is
 * being swapped out (faas_session_state says when it is here). */
int faas_session_invoke(struct faas_session *session, int fn, const void *in, size_t in_len,
			void *out, size_t out_cap, size_t *out_len);

/* Asks the worker to write the state back now (a swap out while the
 * session stays open), and waits for it (bounded by the call timeout).
 * Then faas_session_state gives it. */
int faas_session_save(struct faas_session *session);

/* The state last written back (by faas_session_save or by a swap at
 * eviction) if no call of the session ran since (a call may change it:
 * copy a checkpoint out before the next call), owned by the session and
 * valid until the next call on it: FAAS_OK with *state and *len;
 * FAAS_EINPROGRESS while an evicted worker is still writing it back (call
 * again; it gives up after FAAS_SWAP_TIMEOUT_MS, default 30000);
 * FAAS_ESTATELOST when it could not be written back in time (never a stale
 * copy); FAAS_ENOSESSION when none was ever written back. */
int faas_session_state(struct faas_session *session, const void **state, size_t *len);

/* Opens a new session on client (any lease, worker as faas_session_open)
 * whose state is a copy of state[0..len) (len <= state_cap), such as the
 * one faas_session_state gave for an evicted session. */
int faas_session_open_with(struct faas_client *client, int worker, size_t state_cap,
			   const void *state, size_t len, struct faas_session **session);

/* faas_session_open_with the state of old (waiting, bounded, for an
 * evicted worker's swap to finish) and old's state_cap; FAAS_ESTATELOST
 * when it was lost. old stays valid and is still closed by the caller. */
int faas_session_resume(struct faas_client *client, int worker, struct faas_session *old,
			struct faas_session **session);

/* The worker the session runs on (an index of its client's lease). */
int faas_session_worker(const struct faas_session *session);

/* Frees the state on the worker (when it is still there) and here. NULL
 * is a no-op. */
void faas_session_close(struct faas_session *session);
/* ---- Messaging among a lease's workers (FMI-style) ---------------------
 * A function listed in its library's manifest with the suffix ":comm"
 * ("name:comm" or "name=symbol:comm") has the signature
 *   int fn(struct faas_comm *comm, const void *in, size_t in_len,
 *          void *out, size_t out_cap, size_t *out_len);
 * and runs on every worker of the lease at once, started by
 * faas_invoke_all(), like the ranks of an MPI program: rank
 * faas_comm_rank(comm) of faas_comm_size(comm) (the lease's workers). It
 * may exchange messages with the other ranks (faas_send/faas_recv) and
 * take part in collectives, which every rank must call in the same order
 * with matching arguments. Such a library links with -lfaas.
 *
 * Every call below returns FAAS_OK or: FAAS_EINVAL (bad argument),
 * FAAS_EEVICTED (a rank's executor was evicted during the job: every rank
 * gets it), FAAS_EUNAVAIL (a rank's process is gone), FAAS_ETIMEDOUT (the
 * job ran past the call timeout of faas_invoke_all), FAAS_EOUTSIZE (a
 * received message is larger than the buffer). A function should return
 * that code: faas_invoke_all reports it for its rank. Messages are bound to
 * the lease: they carry its token and the job's id, and a worker accepts
 * them from its own lease's ranks only. A comm is valid only during the
 * function call that received it, on its thread. */
struct faas_comm;

/* The caller's rank (0 .. size-1) and the number of ranks; FAAS_EINVAL
 * for a NULL comm. */
int faas_comm_rank(const struct faas_comm *comm);
int faas_comm_size(const struct faas_comm *comm);

/* Sends buf[0..len) to rank dst with tag (>= 0); returns once buf may be
 * reused. Messages between two ranks with the same tag arrive in order. */
int faas_send(struct faas_comm *comm, int dst, int tag, const void *buf, size_t len);
/* Receives the next message from rank src with tag into buf[0..cap) and
 * stores its length in *len (may be NULL); waits for it (bounded by the
 * job's timeout). FAAS_EOUTSIZE, with *len the message's length and the
 * message consumed, when it does not fit. */
int faas_recv(struct faas_comm *comm, int src, int tag, void *buf, size_t cap, size_t *len);

enum faas_type { FAAS_INT32 = 0, FAAS_INT64, FAAS_FLOAT, FAAS_DOUBLE };
enum faas_op { FAAS_SUM = 0, FAAS_MIN, FAAS_MAX };

/* Returns once every rank has called it. */
int faas_barrier(struct faas_comm *comm);
/* Root's buf[0..len) is copied into every rank's buf. */
int faas_bcast(struct faas_comm *comm, int root, void *buf, size_t len);
/* Combines count elements of type from every rank's in with op, element
 * by element, into out at root (out is unused elsewhere and may be NULL
 * there). in and out may be the same buffer. */
int faas_reduce(struct faas_comm *comm, int root, const void *in, void *out, size_t count,
		enum faas_type type, enum faas_op op);
/* As faas_reduce, with the result in every rank's out. */
int faas_allreduce(struct faas_comm *comm, const void *in, void *out, size_t count,
		   enum faas_type type, enum faas_op op);
/* Root receives every rank's in[0..len) into out, rank r's at out + r *
 * len (out holds size * len bytes at root; unused elsewhere). */
int faas_gather(struct faas_comm *comm, int root, const void *in, size_t len, void *out);

/* Starts the comm function fn on every worker of the lease
 * (faas_lease_workers of them: outs, out_lens and statuses hold that many),
 * rank i on the lease document's worker i, each with in[0..in_len) (in_len at most
 * faas_lease_max_payload minus the job's header: 32 bytes and 2 + the
 * fabric address's length per worker; a larger input is refused with
 * FAAS_ETOOBIG, faas_last_error naming the limit: unlike faas_invoke, a
 * job's input is not read from the caller's memory), and waits for all of
 * them (each bounded by the call timeout). Rank i's output goes to outs + i *
 * out_cap (an out_cap beyond the slot is written there by RMA, as for
 * faas_invoke, up to 1 GiB per rank), its length to out_lens[i] and its status to statuses[i]
 * (out_lens and statuses may be NULL). Returns FAAS_OK when every rank
 * succeeded, else the first of FAAS_EEVICTED, FAAS_EUNAVAIL,
 * FAAS_ETIMEDOUT found among the ranks, else the first rank's error. A
 * rank is never moved to another worker: after an eviction, call again
 * on a new lease. A rank that cannot start (its worker evicted or gone
 * already: FAAS_EEVICTED, FAAS_EUNAVAIL; no free slot: FAAS_EBUSY) makes
 * the client abort the started ones at once. Not for plain functions
 * (their rank fails with FAAS_EFUNC). */
int faas_invoke_all(struct faas_client *client, int fn, const void *in, size_t in_len, void *outs,
		    size_t out_cap, size_t *out_lens, int *statuses);

#ifdef __cplusplus
}
#endif
#endif /* FAAS_H */
