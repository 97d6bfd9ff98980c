/*
 * sebs_inputs.h - faas-sebs's seeded inputs for each SeBS kernel, good and
 * bad (sebs_inputs.c). Uses sebs_png for the thumbnailer's images.
 */
#ifndef COLOC_SEBS_INPUTS_H
#define COLOC_SEBS_INPUTS_H

#include <stddef.h>
#include <stdint.h>

/* The kernels, by their function names in faas_sebs.so, in SeBS's order. */
#define SEBS_NKERNELS 7
extern const char *const sebs_kernel_names[SEBS_NKERNELS];
/* SeBS's benchmark numbers (110 dynamic-html, ...), same order. */
extern const char *const sebs_kernel_ids[SEBS_NKERNELS];

/* Input sizes, after SeBS's "test" and "small" sizes, within a 64 KiB slot. */
enum sebs_size { SEBS_SIZE_TEST, SEBS_SIZE_SMALL };

/* Makes kernel k's input for size and seed into a malloc'd *in (the caller
 * frees it) of *len bytes. Returns 0, or -1 (out of memory, a PNG error)
 * with a message in err. */
int sebs_input(int k, enum sebs_size size, uint64_t seed, unsigned char **in, size_t *len,
	       char *err, size_t errlen);

/* Bad input number i (0, 1, ...) of kernel k, each of which the kernel must
 * refuse: *in (malloc'd; NULL for an empty input) of *len bytes and what is
 * wrong with it in *what. Returns 0, 1 when kernel k has no input i, -1 on
 * error. */
int sebs_bad_input(int k, unsigned i, unsigned char **in, size_t *len, const char **what);

#endif
