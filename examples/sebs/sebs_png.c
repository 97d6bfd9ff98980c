/*
 * sebs_png.c - the one module of faas_sebs.so and faas-sebs that includes
 * libpng: PNG decoding and encoding in memory (see sebs_png.h).
 */
#include "sebs_png.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sebs_png_decode(const void *png, size_t len, uint32_t max_dim, unsigned char **rgb, uint32_t *w,
		    uint32_t *h, char *err, size_t errlen)
{
	png_image img;
	unsigned char *px;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, png, len)) {
		snprintf(err, errlen, "not a PNG image: %s", img.message);
		png_image_free(&img);
		return -1;
	}
	if (img.width < 1 || img.height < 1 || img.width > max_dim || img.height > max_dim) {
		snprintf(err, errlen, "the image is %ux%u pixels; at most %ux%u are accepted",
			 (unsigned)img.width, (unsigned)img.height, (unsigned)max_dim,
			 (unsigned)max_dim);
		png_image_free(&img);
		return -1;
	}
	img.format = PNG_FORMAT_RGB;
	px = malloc(PNG_IMAGE_SIZE(img));
	if (!px) {
		snprintf(err, errlen, "out of memory for %ux%u pixels", (unsigned)img.width,
			 (unsigned)img.height);
		png_image_free(&img);
		return -1;
	}
	if (!png_image_finish_read(&img, NULL, px, 0, NULL)) {
		snprintf(err, errlen, "a damaged PNG image: %s", img.message);
		free(px);
		png_image_free(&img);
		return -1;
	}
	*rgb = px;
	*w = img.width;
	*h = img.height;
	return 0;
}

int sebs_png_encode(const unsigned char *rgb, uint32_t w, uint32_t h, void *out, size_t cap,
		    size_t *len, char *err, size_t errlen)
{
	png_image img;
	png_alloc_size_t n = cap;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = w;
	img.height = h;
	img.format = PNG_FORMAT_RGB;
	if (png_image_write_to_memory(&img, out, &n, 0, rgb, 0, NULL)) {
		*len = n;
		return 0;
	}
	if (n > cap) { /* libpng says how much it needs */
		*len = n;
		png_image_free(&img);
		return 1;
	}
	snprintf(err, errlen, "PNG encoding failed: %s", img.message);
	png_image_free(&img);
	return -1;
}
