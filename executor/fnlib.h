/*
 * fnlib: a function library loaded with dlopen (the only dlopen user). It
 * maps function ids (0..count-1, the ids the lease document carries) to the
 * functions' addresses. The names come from the caller's list or, when none
 * is given, from the library's manifest: a NULL-terminated array
 *   const char *const faas_functions[] = { "echo", "compress=my_compress", NULL };
 * Each entry is "name" (the function is the symbol name) or "name=symbol"
 * (clients call it name; the library defines symbol), either followed by
 * ":comm" for a function with a communicator (fnlib_comm_fn, see faas.h). Names hold letters,
 * digits, '_', '-', '.' (1 to 63); every symbol must be defined by the
 * library itself. The library may also define the per-worker hooks
 *   int faas_worker_init(unsigned worker);  void faas_worker_fini(unsigned worker);
 * Functions that keep state in a session (see faas.h) are listed, by
 * name, in a second manifest
 *   const char *const faas_session_functions[] = { "counter", NULL };
 * each of them also in the functions served; fnlib_stateful says which.
 * Read-only after fnlib_open, so workers call it concurrently.
 */
#ifndef COLOC_FNLIB_H
#define COLOC_FNLIB_H

#include <stdbool.h>
#include <stddef.h>

typedef int fnlib_fn(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len);
struct faas_state;
typedef int fnlib_session_fn(struct faas_state *state, const void *in, size_t in_len, void *out,
			     size_t out_cap, size_t *out_len);
struct faas_comm;
typedef int fnlib_comm_fn(struct faas_comm *comm, const void *in, size_t in_len, void *out,
			  size_t out_cap, size_t *out_len);
typedef int fnlib_init_fn(unsigned worker);
typedef void fnlib_fini_fn(unsigned worker);

struct fnlib;

/* Opens path and resolves names (comma-separated list of name or
 * name=symbol entries, or NULL for the manifest). On failure returns -errno with a message in err.
 */
int fnlib_open(const char *path, const char *names, struct fnlib **lib, char *err, size_t errlen);
void fnlib_close(struct fnlib *lib);

unsigned fnlib_count(const struct fnlib *lib);
const char *fnlib_name(const struct fnlib *lib, unsigned id);
/* The function of id: fnlib_get for the plain signature, fnlib_get_comm
 * for one listed with ":comm"; NULL from the other one (and for an
 * unknown id). */
fnlib_fn *fnlib_get(const struct fnlib *lib, unsigned id);
/* Whether function id takes a session's state (fnlib_session_fn). */
bool fnlib_stateful(const struct fnlib *lib, unsigned id);
/* The stateful function id, or NULL when it is not one. */
fnlib_session_fn *fnlib_get_session(const struct fnlib *lib, unsigned id);
fnlib_comm_fn *fnlib_get_comm(const struct fnlib *lib, unsigned id);
/* The library's faas_worker_init / faas_worker_fini, or NULL when it
 * defines none. */
fnlib_init_fn *fnlib_worker_init(const struct fnlib *lib);
fnlib_fini_fn *fnlib_worker_fini(const struct fnlib *lib);

#endif
