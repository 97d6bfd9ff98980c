/*
 * sebs_png.h - PNG in and out of memory for the thumbnailer (libpng's
 * simplified API), shared by faas_sebs.so and faas-sebs, which makes the
 * input images. Thread-safe: no state.
 */
#ifndef COLOC_SEBS_PNG_H
#define COLOC_SEBS_PNG_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the PNG png[0..len) into 8-bit RGB: *rgb (malloc'd, the caller
 * frees it) of *w x *h pixels. Refuses images with a side over max_dim.
 * Returns 0, or -1 with a message in err.
 */
int sebs_png_decode(const void *png, size_t len, uint32_t max_dim, unsigned char **rgb, uint32_t *w,
		    uint32_t *h, char *err, size_t errlen);

/*
 * Encodes w x h 8-bit RGB pixels as a PNG into out[0..cap); *len is the
 * PNG's size (also when it does not fit: then returns 1 and writes nothing
 * usable). Returns 0, 1 (too large for cap) or -1 with a message in err.
 */
int sebs_png_encode(const unsigned char *rgb, uint32_t w, uint32_t h, void *out, size_t cap,
		    size_t *len, char *err, size_t errlen);

#endif
