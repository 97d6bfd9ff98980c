/*
 * fnlib: dlopen'd function library and its id -> function table. Owns the
 * dlopen handle and the table (names copied); immutable after open.
 */
#include "config.h"

#include "fnlib.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNLIB_MAX 4096
#define FNLIB_NAME_MAX 63

struct fnlib_entry {
	char name[FNLIB_NAME_MAX + 1];
	fnlib_fn *fn;
};

struct fnlib {
	void *handle;
	void *base; /* where the library is mapped (dli_fbase of its symbols) */
	unsigned count;
	struct fnlib_entry *entries;
};

static int add(struct fnlib *lib, const char *name, size_t len, char *err, size_t errlen)
{
	struct fnlib_entry *e;
	Dl_info where;
	void *sym;

	if (len == 0 || len > FNLIB_NAME_MAX) {
		snprintf(err, errlen, "function name \"%.*s\" must have 1 to %d characters",
			 (int)len, name, FNLIB_NAME_MAX);
		return -EINVAL;
	}
	if (lib->count == FNLIB_MAX) {
		snprintf(err, errlen, "more than %d functions", FNLIB_MAX);
		return -E2BIG;
	}
	e = &lib->entries[lib->count];
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	for (unsigned i = 0; i < lib->count; i++) {
		if (strcmp(lib->entries[i].name, e->name) == 0) {
			snprintf(err, errlen, "function \"%s\" is listed twice", e->name);
			return -EINVAL;
		}
	}
	dlerror();
	sym = dlsym(lib->handle, e->name);
	if (!sym) {
		snprintf(err, errlen, "function \"%s\" is not exported by the library", e->name);
		return -ENOENT;
	}
	/* dlsym also searches the library's dependencies (libc): accept only
	 * what the library itself defines. */
	if (!dladdr(sym, &where) || where.dli_fbase != lib->base) {
		snprintf(err, errlen, "\"%s\" is not defined by the function library itself",
			 e->name);
		return -ENOENT;
	}
	e->fn = (fnlib_fn *)sym;
	lib->count++;
	return 0;
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
	if (rc)
		goto err;
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
