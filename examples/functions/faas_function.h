/*
 * faas_function.h - the contract between a function library and the
 * faas-executor that runs it: the ABI of one function, the manifest that
 * names a library's functions, and the optional per-worker hooks. Written
 * for function authors.
 *
 * A function library is a shared object (built, for instance, with libtool
 * -module -avoid-version, or gcc -shared -fPIC). The executor dlopen()s it,
 * reads the NULL-terminated array of names it exports as faas_functions,
 * and dlsym()s one symbol per name; every symbol must be defined by the
 * library itself (not by a library it links) and be of type
 * faas_function_fn. A client reaches a function through its name
 * (faas_function(client, "name")).
 *
 *   #include <faas_function.h>   (installed beside faas.h by make install)
 *
 *   faas_function_fn twice, my_compress;
 *
 *   FAAS_FUNCTION_EXPORT const char *const faas_functions[] = {
 *           "twice", "compress=my_compress", NULL };
 *
 *   FAAS_FUNCTION_EXPORT int twice(const void *in, size_t in_len, void *out,
 *                                  size_t out_cap, size_t *out_len)
 *   {
 *           ... validate in_len, check out_cap, write out, set *out_len ...
 *           return 0;
 *   }
 *
 * Manifest entries: "name" serves the symbol name under that name;
 * "name=symbol" serves symbol under name, for a name the symbol cannot
 * have (compress, in a library that links zlib, which defines compress).
 * Names have 1 to 63 letters, digits, '_', '-' or '.', each once.
 *
 * Threads: the executor's workers are threads of one process, one per lent
 * core, each serving calls one at a time. A function runs concurrently with
 * itself on other workers. Static state is shared by all workers and
 * persists across calls and across the clients of the lease, one after
 * another. Keep per-worker state in _Thread_local variables (a worker runs
 * one call at a time: no lock needed), set up by faas_worker_init when a
 * zero start is not enough; shared state needs a lock.
 */
#ifndef FAAS_FUNCTION_H
#define FAAS_FUNCTION_H

#include <stddef.h>

/* Largest error message a failing function can leave (bytes). */
#define FAAS_FUNCTION_MSG_MAX 256

/*
 * One function. in[0..in_len) is the request as the client sent it; out has
 * room for out_cap bytes (the client's out_cap, at most the executor's slot
 * size). On success the function writes its result to out[0..*out_len), sets
 * *out_len (0 for no output) and returns 0.
 *
 * - Input is untrusted: check in_len (and the content) before reading, and
 *   return non-zero when it is malformed.
 * - Never write more than out_cap bytes. When the result does not fit, set
 *   *out_len to the size it needs and return 0 without writing past
 *   out_cap: the client gets FAAS_EOUTSIZE with that size, and no output.
 * - Any non-zero return reaches the client as FAAS_EFUNC, with the value
 *   (faas_last_fn_rc()). A failing function may also leave a message: short
 *   text (no NUL; printable ASCII, other bytes show as '?') written to
 *   out[0..*out_len). The executor sends at most FAAS_FUNCTION_MSG_MAX bytes
 *   of it, and never more than out_cap; the client reads it in
 *   faas_last_error() ("function NAME returned RC: MESSAGE"). Leave
 *   *out_len at 0 for no message.
 * - in may be NULL when in_len is 0. Neither buffer has any alignment
 *   guarantee: copy values in and out with memcpy() rather than casting.
 * - in and out never overlap: in lies in the request slot the client wrote,
 *   out in a separate reply buffer of the executor. Both are valid only
 *   during the call; do not write to in.
 * - Functions run concurrently on several workers (threads) of the
 *   executor, so they must be reentrant: no writable static state unless it
 *   is _Thread_local or locked, no pointer to in or out kept past the
 *   return.
 * - A call may run more than once: when a worker is evicted or found dead,
 *   libfaas sends its calls in flight to another worker of the lease, where
 *   they run again from the start. Functions must be idempotent: the same
 *   input gives the same output, and a run that stopped half-way or already
 *   finished leaves nothing behind that a second run would get wrong.
 * - A call should finish well within the client's call timeout (1 s by
 *   default); it must not block, exit, or install signal handlers.
 */
typedef int faas_function_fn(const void *in, size_t in_len, void *out, size_t out_cap,
			     size_t *out_len);

/*
 * Optional per-worker hooks, looked up by these names in the library itself.
 * faas_worker_init(worker) runs in each worker's thread before the worker
 * serves its first call (worker: 0, 1, ... within the executor); non-zero
 * makes the executor refuse to start, logging the library and the value.
 * faas_worker_fini(worker) runs in the same thread after the worker's last
 * call, when the worker stops (eviction, executor exit); not for a worker
 * whose init failed, and not when the executor dies (crash, SIGKILL).
 */
typedef int faas_worker_init_fn(unsigned worker);
typedef void faas_worker_fini_fn(unsigned worker);

/* Name of the manifest symbol the executor looks up. */
#define FAAS_FUNCTIONS_SYMBOL "faas_functions"

/* Makes a symbol visible from the shared object even under -fvisibility=hidden. */
#define FAAS_FUNCTION_EXPORT __attribute__((visibility("default")))

/* The manifest: the names of the library's functions, NULL-terminated. */
extern const char *const faas_functions[];

/*
 * Stateful functions (sessions, faas(3) "SESSIONS"). A client's session
 * pins its calls to one worker, where the session's state lives between
 * them: one flat buffer of state->cap bytes (the client's state_cap), of
 * which state->len are in use (0 at open; the saved bytes when a session
 * is resumed). A function listed in the second manifest,
 * faas_session_functions (names that faas_functions lists too), has the
 * type faas_session_fn and receives that state: it reads and writes
 * state->data[0..cap) and sets state->len. It must not change data or cap
 * nor set len above cap (the call then fails and len stays as before), and
 * must not keep pointers into the state: when the worker is evicted, the
 * executor writes data[0..len) back to the client byte for byte (a swap),
 * and a resumed session gets them back at another address, on another
 * worker or lease. Nothing but data[0..len) survives a swap.
 *
 * The state is flat on purpose: the executor writes it back by one-sided
 * RMA within the eviction's grace, without running library code that could
 * be slow or hang while the host job waits for its cores.
 *
 * Sessions are isolated: one session's state is seen only by the calls of
 * that session, made by the client connection that opened it. A stateful
 * function called outside a session fails (FAAS_ENOSESSION) without
 * running; a stateless function called in a session runs as always.
 */
#ifndef FAAS_STATE_DEFINED
#define FAAS_STATE_DEFINED
struct faas_state {
	void *data; /* cap bytes, fixed for the session's life */
	size_t len; /* bytes in use: what a swap writes back */
	size_t cap;
};
#endif
typedef int faas_session_fn(struct faas_state *state, const void *in, size_t in_len, void *out,
			    size_t out_cap, size_t *out_len);

/* The second manifest, optional. */
extern const char *const faas_session_functions[];

#endif /* FAAS_FUNCTION_H */
