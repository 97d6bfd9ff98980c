/*
 * faas_function.h - the contract between a function library and the
 * faas-executor that runs it: the ABI of one function and the manifest that
 * names a library's functions. Written for function authors.
 *
 * A function library is a shared object (built, for instance, with libtool
 * -module -avoid-version, or gcc -shared -fPIC). The executor dlopen()s it,
 * reads the NULL-terminated array of names it exports as faas_functions,
 * and dlsym()s one symbol per name; every name must be an exported symbol
 * of type faas_function_fn. A client reaches a function through its name
 * (faas_function(client, "name")).
 *
 *   #include <faas_function.h>   (installed beside faas.h by make install)
 *
 *   faas_function_fn twice;
 *
 *   FAAS_FUNCTION_EXPORT const char *const faas_functions[] = { "twice", NULL };
 *
 *   FAAS_FUNCTION_EXPORT int twice(const void *in, size_t in_len, void *out,
 *                                  size_t out_cap, size_t *out_len)
 *   {
 *           ... validate in_len, check out_cap, write out, set *out_len ...
 *           return 0;
 *   }
 */
#ifndef FAAS_FUNCTION_H
#define FAAS_FUNCTION_H

#include <stddef.h>

/*
 * One function. in[0..in_len) is the request as the client sent it; out has
 * room for out_cap bytes (never more than the caller's out_cap). On success
 * the function writes its result to out[0..*out_len), sets *out_len (at most
 * out_cap; 0 for no output) and returns 0.
 *
 * - Input is untrusted: check in_len (and the content) before reading, and
 *   return non-zero when it is malformed.
 * - Never write more than out_cap bytes. When the result does not fit,
 *   return non-zero without writing past out_cap.
 * - Any non-zero return reaches the client as FAAS_EFUNC.
 * - in may be NULL when in_len is 0. Neither buffer has any alignment
 *   guarantee: copy values in and out with memcpy() rather than casting.
 *   in and out may overlap (use memmove() to copy input to output).
 * - Functions may run concurrently on several cores of the executor, so they
 *   must be reentrant: no writable static state, no pointer to in or out
 *   kept past the return.
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

/* Name of the manifest symbol the executor looks up. */
#define FAAS_FUNCTIONS_SYMBOL "faas_functions"

/* Makes a symbol visible from the shared object even under -fvisibility=hidden. */
#define FAAS_FUNCTION_EXPORT __attribute__((visibility("default")))

/* The manifest: the names of the library's functions, NULL-terminated. */
extern const char *const faas_functions[];

#endif /* FAAS_FUNCTION_H */
