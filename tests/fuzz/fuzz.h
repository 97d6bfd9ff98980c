/*
 * fuzz: what the harnesses of tests/fuzz share. Each fuzz_<target>.c
 * defines LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize);
 * libFuzzer's main drives it in a --enable-fuzzing build, replay.c in the
 * others (make check runs it over corpus/<target>/).
 *
 * A harness fails by crashing: the sanitizers report memory errors,
 * undefined behaviour and leaks; FUZZ_CHECK aborts on a property of the
 * decoder that does not hold (a round trip that changes a value, an error
 * without a message), so that libFuzzer saves the input as a reproducer.
 */
#ifndef COLOC_FUZZ_H
#define COLOC_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s does not hold: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A NUL-terminated malloc'd copy of data[size] (the text a decoder gets
 * after its reader stopped at a NUL, as frames and files do); the caller
 * frees it. Aborts when out of memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* An exact-size malloc'd copy of data[size], so that ASan sees a read
 * past its end (libFuzzer's own buffer is exact-size too; replay.c's is
 * not). */
static inline uint8_t *fuzz_copy(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	if (!p)
		abort();
	if (size)
		memcpy(p, data, size);
	return p;
}

#endif
