/*
 * fnlib: dlopen'd function library and its id -> function table. Owns the
 * dlopen handle and the table (names copied); immutable after open. Every
 * symbol it takes (functions, hooks) must be defined by the library itself,
 * not by one of its dependencies: own_symbol() checks where dlsym found it.
 */
#include "config.h"

#include "fnlib.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNLIB_MAX 4096
#define FNLIB_NAME_MAX 63
#define FNLIB_SYMBOL_MAX 255

struct fnlib_entry {
	char name[FNLIB_NAME_MAX + 1];
	fnlib_fn *fn;
	bool stateful;	     /* listed in faas_session_functions */
	fnlib_comm_fn *comm; /* listed with ":comm": the function, and fn is NULL */
};

struct fnlib {
	void *handle;
	void *base; /* where the library is mapped (dli_fbase of its symbols) */
	unsigned count;
	struct fnlib_entry *entries;
	fnlib_init_fn *init; /* faas_worker_init, or NULL */
	fnlib_fini_fn *fini; /* faas_worker_fini, or NULL */
};

/* symbol if the library itself defines it; NULL when it is missing or
 * comes from a dependency (dlsym also searches those: libc, zlib, ...). */
static void *own_symbol(const struct fnlib *lib, const char *symbol, bool *foreign)
{
	Dl_info where;
	void *sym;

	*foreign = false;
	dlerror();
	sym = dlsym(lib->handle, symbol);
	if (sym && (!dladdr(sym, &where) || where.dli_fbase != lib->base)) {
		*foreign = true;
		return NULL;
	}
	return sym;
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '.';
}

/* One entry "name" or "name=symbol" (len bytes at entry). */
static int add_entry(struct fnlib *lib, const char *entry, size_t len, char *err, size_t errlen)
{
	char symbol[FNLIB_SYMBOL_MAX + 1];
	const char *eq = memchr(entry, '=', len);
	size_t name_len = eq ? (size_t)(eq - entry) : len;
	size_t sym_len = eq ? len - name_len - 1 : len;
	const char *sym_at = eq ? eq + 1 : entry;
	struct fnlib_entry *e;
	bool foreign;
	void *sym;

	if (name_len == 0 || name_len > FNLIB_NAME_MAX) {
		snprintf(err, errlen, "function name \"%.*s\" must have 1 to %d characters",
			 (int)name_len, entry, FNLIB_NAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < name_len; i++) {
		if (!name_char(entry[i])) {
			snprintf(err, errlen,
				 "function name \"%.*s\" may hold only letters, digits, '_', "
				 "'-' and '.' (map it to its symbol with name=symbol)",
				 (int)name_len, entry);
			return -EINVAL;
		}
	}
	if (sym_len == 0 || sym_len > FNLIB_SYMBOL_MAX || memchr(sym_at, '=', sym_len)) {
		snprintf(err, errlen,
			 "\"%.*s\": write name=symbol, with a symbol of 1 to %d "
			 "characters",
			 (int)len, entry, FNLIB_SYMBOL_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < sym_len; i++) {
		if (sym_at[i] <= ' ' || sym_at[i] > '~') {
			snprintf(err, errlen,
				 "symbol of \"%.*s\" holds a blank or a byte that "
				 "is not printable ASCII",
				 (int)name_len, entry);
			return -EINVAL;
		}
	}
	if (lib->count == FNLIB_MAX) {
		snprintf(err, errlen, "more than %d functions", FNLIB_MAX);
		return -E2BIG;
	}
	e = &lib->entries[lib->count];
	memcpy(e->name, entry, name_len);
	e->name[name_len] = '\0';
	memcpy(symbol, sym_at, sym_len);
	symbol[sym_len] = '\0';
	for (unsigned i = 0; i < lib->count; i++) {
		if (strcmp(lib->entries[i].name, e->name) == 0) {
			snprintf(err, errlen, "function \"%s\" is listed twice", e->name);
			return -EINVAL;
		}
	}
	sym = own_symbol(lib, symbol, &foreign);
	if (foreign) {
		snprintf(err, errlen, "\"%s\" is not defined by the function library itself",
			 symbol);
		return -ENOENT;
	}
	if (!sym) {
		if (eq)
			snprintf(err, errlen,
				 "function \"%s\": symbol \"%s\" is not exported by the library",
				 e->name, symbol);
		else
			snprintf(err, errlen, "function \"%s\" is not exported by the library",
				 e->name);
		return -ENOENT;
	}
	e->fn = (fnlib_fn *)sym;
	e->comm = (fnlib_comm_fn *)sym;
	lib->count++;
	return 0;
}

/* Marks the functions the library's faas_session_functions lists; each
 * must be one of the functions served. */
static int find_stateful(struct fnlib *lib, const char *path, char *err, size_t errlen)
{
	bool foreign;
	const char *const *list = own_symbol(lib, "faas_session_functions", &foreign);

	for (unsigned n = 0; list && list[n]; n++) {
		unsigned i;

		for (i = 0; i < lib->count && strcmp(lib->entries[i].name, list[n]) != 0; i++)
			;
		if (i == lib->count || n >= FNLIB_MAX) {
			snprintf(err, errlen,
				 "%s: faas_session_functions names \"%.63s\", which is not among "
				 "the functions served; list it in faas_functions (or --functions) "
				 "too",
				 path, list[n]);
			return -ENOENT;
		}
		lib->entries[i].stateful = true;
	}
	return 0;
}

#define COMM_SUFFIX ":comm"

/* One entry "name" or "name=symbol", either followed by ":comm" (a
 * function with a communicator, faas.h), len bytes at entry. */
static int add(struct fnlib *lib, const char *entry, size_t len, char *err, size_t errlen)
{
	size_t suffix = strlen(COMM_SUFFIX);
	bool comm = len > suffix && memcmp(entry + len - suffix, COMM_SUFFIX, suffix) == 0;
	int rc = add_entry(lib, entry, comm ? len - suffix : len, err, errlen);

	if (rc == 0 && comm)
		lib->entries[lib->count - 1].fn = NULL;
	else if (rc == 0)
		lib->entries[lib->count - 1].comm = NULL;
	return rc;
}

/* The optional per-worker hooks; one defined by a dependency is ignored. */
static void find_hooks(struct fnlib *lib)
{
	bool foreign;

	lib->init = (fnlib_init_fn *)own_symbol(lib, "faas_worker_init", &foreign);
	lib->fini = (fnlib_fini_fn *)own_symbol(lib, "faas_worker_fini", &foreign);
}

int fnlib_open(const char *path, const char *names, struct fnlib **out, char *err, size_t errlen)
{
	struct fnlib *lib;
	int rc = 0;

	lib = calloc(1, sizeof(*lib));
	if (!lib || !(lib->entries = calloc(FNLIB_MAX, sizeof(*lib->entries)))) {
		free(lib);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib->handle) {
		snprintf(err, errlen, "cannot load function library %s: %s", path, dlerror());
		rc = -ENOENT;
		goto err;
	}
	struct link_map *map;

	if (dlinfo(lib->handle, RTLD_DI_LINKMAP, &map) == 0 && map) {
		Dl_info where;
		/* the base of any symbol the library defines: its own _init or
		 * the manifest, looked up through the link map's address */
		if (dladdr((void *)map->l_ld, &where))
			lib->base = where.dli_fbase;
	}
	if (names) {
		const char *p = names;

		while (!rc && *p) {
			size_t len = strcspn(p, ",");

			rc = add(lib, p, len, err, errlen);
			p += len + (p[len] == ',');
		}
	} else {
		const char *const *manifest = dlsym(lib->handle, "faas_functions");

		if (!manifest) {
			snprintf(err, errlen,
				 "%s exports no faas_functions manifest; export one or name the "
				 "functions with --functions",
				 path);
			rc = -ENOENT;
			goto err;
		}
		for (; !rc && *manifest; manifest++)
			rc = add(lib, *manifest, strlen(*manifest), err, errlen);
	}
	if (!rc && lib->count == 0) {
		snprintf(err, errlen, "%s: no functions to serve", path);
		rc = -ENOENT;
	}
	if (!rc)
		rc = find_stateful(lib, path, err, errlen);
	if (rc)
		goto err;
	find_hooks(lib);
	*out = lib;
	return 0;
err:
	fnlib_close(lib);
	return rc;
}

void fnlib_close(struct fnlib *lib)
{
	if (!lib)
		return;
	if (lib->handle)
		dlclose(lib->handle);
	free(lib->entries);
	free(lib);
}

unsigned fnlib_count(const struct fnlib *lib)
{
	return lib->count;
}

const char *fnlib_name(const struct fnlib *lib, unsigned id)
{
	return id < lib->count ? lib->entries[id].name : NULL;
}

fnlib_fn *fnlib_get(const struct fnlib *lib, unsigned id)
{
	return id < lib->count ? lib->entries[id].fn : NULL;
}

bool fnlib_stateful(const struct fnlib *lib, unsigned id)
{
	return id < lib->count && lib->entries[id].stateful;
}

fnlib_session_fn *fnlib_get_session(const struct fnlib *lib, unsigned id)
{
	/* dlsym's address, of the signature the manifest promised */
	return fnlib_stateful(lib, id) ? (fnlib_session_fn *)(void (*)(void))lib->entries[id].fn
				       : NULL;
}

fnlib_comm_fn *fnlib_get_comm(const struct fnlib *lib, unsigned id)
{
	return id < lib->count ? lib->entries[id].comm : NULL;
}

fnlib_init_fn *fnlib_worker_init(const struct fnlib *lib)
{
	return lib->init;
}

fnlib_fini_fn *fnlib_worker_fini(const struct fnlib *lib)
{
	return lib->fini;
}
