/*
 * replay: the main() of the fuzz harnesses outside a --enable-fuzzing
 * build. It runs LLVMFuzzerTestOneInput once on each file named on the
 * command line, or in a directory named there, or by default in
 * $FUZZ_CORPUS/<target>/ (the program's name without "fuzz_"), and writes
 * TAP: one "ok" per file. A finding crashes the program (sanitizers,
 * abort), after a "# FILE" line naming the input.
 */
#include "config.h"

#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static unsigned tests;

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads path whole into a malloc'd buffer of exactly its size. */
static int slurp(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (len == cap) {
			uint8_t *n = realloc(buf, cap = cap ? 2 * cap : 4096);

			if (!n) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = n;
		}
		size_t got = fread(buf + len, 1, cap - len, f);

		if (got == 0)
			break;
		len += got;
	}
	fclose(f);
	*data = fuzz_copy(buf ? buf : (const uint8_t *)"", len);
	*size = len;
	free(buf);
	return 0;
}

/* path from its corpus/ on, for shorter lines */
static const char *shown(const char *path)
{
	const char *c = strstr(path, "corpus/");

	return c ? c : path;
}

static int run_file(const char *path)
{
	uint8_t *data = NULL;
	size_t size = 0;
	int rc = slurp(path, &data, &size);

	if (rc) {
		printf("not ok %u - %s: %s\n", ++tests, shown(path), strerror(-rc));
		return 1;
	}
	printf("# %s (%zu bytes)\n", shown(path), size);
	fflush(stdout);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	printf("ok %u - %s\n", ++tests, shown(path));
	return 0;
}

static int run_dir(const char *dir)
{
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0;
	struct dirent *e;
	int failed = 0;
	DIR *d = opendir(dir);

	if (!d) {
		printf("not ok %u - corpus %s: %s\n", ++tests, dir, strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **m = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*names));

			if (!m)
				abort();
			names = m;
		}
		if (!(names[n++] = strdup(e->d_name)))
			abort();
	}
	closedir(d);
	if (n == 0) {
		printf("not ok %u - corpus %s is empty\n", ++tests, dir);
		failed = 1;
	}
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		failed |= run_file(path);
		free(names[i]);
	}
	free(names);
	return failed;
}

static int run_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return run_dir(path);
	return run_file(path);
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/'), *corpus = getenv("FUZZ_CORPUS");
	char dir[4096];
	int failed = 0;

	name = name ? name + 1 : argv[0];
	if (strncmp(name, "lt-", 3) == 0)
		name += 3;
	if (strncmp(name, "fuzz_", 5) == 0)
		name += 5;
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			failed |= run_path(argv[i]);
	} else if (corpus && *corpus) {
		snprintf(dir, sizeof(dir), "%s/%s", corpus, name);
		failed = run_dir(dir);
	} else {
		printf("not ok 1 - no corpus: name inputs, or set FUZZ_CORPUS (make check does)\n");
		tests = 1;
		failed = 1;
	}
	printf("1..%u\n", tests);
	return failed;
}
