/*
 * fnlib: a function library loaded with dlopen (the only dlopen user). It
 * maps function ids (0..count-1, the ids the lease document carries) to the
 * functions' addresses. The names come from the caller's list or, when none
 * is given, from the library's manifest: a NULL-terminated array
 *   const char *const faas_functions[] = { "echo", "noop", NULL };
 * Read-only after fnlib_open, so workers call it concurrently.
 */
#ifndef COLOC_FNLIB_H
#define COLOC_FNLIB_H

#include <stddef.h>

typedef int fnlib_fn(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len);

struct fnlib;

/* Opens path and resolves names (comma-separated list, or NULL for the
 * manifest). On failure returns -errno with a message in err. */
int fnlib_open(const char *path, const char *names, struct fnlib **lib, char *err, size_t errlen);
void fnlib_close(struct fnlib *lib);

unsigned fnlib_count(const struct fnlib *lib);
const char *fnlib_name(const struct fnlib *lib, unsigned id);
fnlib_fn *fnlib_get(const struct fnlib *lib, unsigned id);

#endif
