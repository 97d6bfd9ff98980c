/*
 * sebs_inputs.c - faas-sebs's seeded inputs for the SeBS kernels (see
 * sebs_inputs.h): the same seed always gives the same bytes.
 */
#include "sebs_inputs.h"
#include "sebs_kernel.h"
#include "sebs_png.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sebs_kernel_names[SEBS_NKERNELS] = {
    "dynamic-html", "thumbnailer", "compression",      "graph-pagerank",
    "graph-mst",    "graph-bfs",   "dna-visualization"};
const char *const sebs_kernel_ids[SEBS_NKERNELS] = {"110", "210", "311", "501",
						    "502", "503", "504"};

static unsigned char *dup_bytes(const void *p, size_t n)
{
	unsigned char *b = malloc(n ? n : 1);

	if (b)
		memcpy(b, p, n);
	return b;
}

/* A w x h photo-like RGB image: gradients, seeded rectangles, a little noise. */
static unsigned char *make_image(uint32_t w, uint32_t h, uint64_t seed)
{
	unsigned char *px = malloc((size_t)w * h * 3);
	uint64_t s = seed;

	if (!px)
		return NULL;
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			unsigned char *p = px + ((size_t)y * w + x) * 3;

			p[0] = (unsigned char)(x * 255 / w);
			p[1] = (unsigned char)(y * 255 / h);
			p[2] = (unsigned char)((x + y) * 127 / (w + h) + (sebs_rand(&s) & 7));
		}
	for (int r = 0; r < 6; r++) {
		uint32_t x0 = (uint32_t)(sebs_rand(&s) % w), y0 = (uint32_t)(sebs_rand(&s) % h);
		uint32_t x1 = x0 + 1 + (uint32_t)(sebs_rand(&s) % (w / 3 + 1));
		uint32_t y1 = y0 + 1 + (uint32_t)(sebs_rand(&s) % (h / 3 + 1));
		uint64_t c = sebs_rand(&s);

		for (uint32_t y = y0; y < y1 && y < h; y++)
			for (uint32_t x = x0; x < x1 && x < w; x++)
				memcpy(px + ((size_t)y * w + x) * 3, &c, 3);
	}
	return px;
}

/* A thumbnailer input: the box header and a w x h PNG. */
static int thumb_input(uint32_t w, uint32_t h, uint32_t bw, uint32_t bh, uint64_t seed,
		       unsigned char **in, size_t *len, char *err, size_t errlen)
{
	struct sebs_thumb_in req = {.width = bw, .height = bh};
	size_t cap = 4 * (size_t)w * h + 1024, n = 0;
	unsigned char *px = make_image(w, h, seed), *buf = malloc(sizeof(req) + cap);

	if (!px || !buf || sebs_png_encode(px, w, h, buf + sizeof(req), cap, &n, err, errlen)) {
		if (!px || !buf)
			snprintf(err, errlen, "out of memory");
		free(px);
		free(buf);
		return -1;
	}
	free(px);
	memcpy(buf, &req, sizeof(req));
	*in = buf;
	*len = sizeof(req) + n;
	return 0;
}

int sebs_input(int k, enum sebs_size size, uint64_t seed, unsigned char **in, size_t *len,
	       char *err, size_t errlen)
{
	static const char *const words[] = {
	    "lease",	"worker", "executor",	"core",	 "memory", "node",   "job",  "step",
	    "function", "gap",	  "controller", "agent", "slurm",  "fabric", "rdma", "call"};
	int small = size == SEBS_SIZE_SMALL;
	uint64_t s = seed;

	*in = NULL;
	switch (k) {
	case 0: { /* dynamic-html */
		struct sebs_html_in req = {.seed = seed, .count = small ? 1000 : 64};

		snprintf(req.username, sizeof(req.username), "testname");
		*in = dup_bytes(&req, sizeof(req));
		*len = sizeof(req);
		break;
	}
	case 1: /* thumbnailer */
		return small ? thumb_input(320, 240, 128, 128, seed, in, len, err, errlen)
			     : thumb_input(64, 48, 32, 32, seed, in, len, err, errlen);
	case 2: { /* compression: text of seeded words */
		size_t n = small ? 48 * 1024 : 4096, i = 0;
		char *t = malloc(n);

		if (!t)
			break;
		while (i < n) {
			const char *w = words[sebs_rand(&s) % 16];

			for (size_t j = 0; w[j] && i < n; j++)
				t[i++] = w[j];
			if (i < n)
				t[i++] = sebs_rand(&s) % 8 ? ' ' : '\n';
		}
		*in = (unsigned char *)t;
		*len = n;
		break;
	}
	case 3:
	case 4:
	case 5: { /* graphs: SeBS's test size is 10 vertices, small 10000 */
		struct sebs_graph_in req = {.seed = seed, .vertices = small ? 10000 : 100};

		*in = dup_bytes(&req, sizeof(req));
		*len = sizeof(req);
		break;
	}
	case 6: { /* dna-visualization: a seeded sequence */
		size_t n = small ? 4096 : 256;
		char *t = malloc(n);

		if (!t)
			break;
		for (size_t i = 0; i < n; i++)
			t[i] = "ACGTACGTACGTACGN"[sebs_rand(&s) % 16];
		*in = (unsigned char *)t;
		*len = n;
		break;
	}
	default:
		snprintf(err, errlen, "no kernel %d", k);
		return -1;
	}
	if (!*in) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int sebs_bad_input(int k, unsigned i, unsigned char **in, size_t *len, const char **what)
{
	char err[128];

	*in = NULL;
	*len = 0;
	switch (k) {
	case 0: { /* dynamic-html */
		struct sebs_html_in req = {.seed = 1, .count = 10};

		snprintf(req.username, sizeof(req.username), "x");
		if (i == 0) {
			*what = "an empty input";
			return 0;
		} else if (i == 1) {
			req.count = 0;
			*what = "count 0";
		} else if (i == 2) {
			req.count = SEBS_HTML_COUNT_MAX + 1;
			*what = "count over the maximum";
		} else if (i == 3) {
			memset(req.username, 'a', sizeof(req.username));
			*what = "a username without its NUL";
		} else if (i == 4) {
			req.username[0] = '\n';
			*what = "a username with a control character";
		} else {
			return 1;
		}
		*in = dup_bytes(&req, sizeof(req));
		*len = sizeof(req);
		return *in ? 0 : -1;
	}
	case 1: { /* thumbnailer */
		if (i == 0) {
			*what = "a header and no image";
			*in = dup_bytes(&(struct sebs_thumb_in){16, 16},
					sizeof(struct sebs_thumb_in));
			*len = sizeof(struct sebs_thumb_in);
			return *in ? 0 : -1;
		}
		if (i == 4) {
			*what = "an image wider than 2048 pixels";
			return thumb_input(SEBS_THUMB_DIM_MAX + 1, 2, 16, 16, 7, in, len, err,
					   sizeof(err));
		}
		if (i > 4)
			return 1;
		if (thumb_input(32, 32, 16, 16, 7, in, len, err, sizeof(err)))
			return -1;
		if (i == 1) {
			*what = "a thumbnail box of 0 x 16";
			memset(*in, 0, 4);
		} else if (i == 2) {
			*what = "not a PNG (its signature overwritten)";
			memset(*in + sizeof(struct sebs_thumb_in), 'x', 8);
		} else { /* the image data cut short */
			*what = "a PNG cut short";
			*len = sizeof(struct sebs_thumb_in) + 60;
		}
		return 0;
	}
	case 2: /* compression */
		if (i > 0)
			return 1;
		*what = "an empty input";
		return 0;
	case 3:
	case 4:
	case 5: { /* graphs */
		struct sebs_graph_in req = {.seed = 1, .vertices = 100};

		if (i == 0) {
			*what = "a short input";
			*in = dup_bytes(&req, 4);
			*len = 4;
			return *in ? 0 : -1;
		} else if (i == 1) {
			req.vertices = SEBS_GRAPH_M;
			*what = "too few vertices";
		} else if (i == 2) {
			req.vertices = 4000000000u;
			*what = "4 billion vertices";
		} else {
			return 1;
		}
		*in = dup_bytes(&req, sizeof(req));
		*len = sizeof(req);
		return *in ? 0 : -1;
	}
	case 6: /* dna-visualization */
		if (i == 0) {
			*what = "an empty sequence";
			return 0;
		} else if (i == 1) {
			*what = "a sequence with an X";
			*in = dup_bytes("ACGTXACGT", 9);
			*len = 9;
		} else if (i == 2) {
			*what = "a sequence with a NUL byte";
			*in = dup_bytes("ACG\0T", 5);
			*len = 5;
		} else if (i == 3) {
			*what = "a sequence over the maximum length";
			*len = SEBS_DNA_BASES_MAX + 1;
			*in = malloc(*len);
			if (*in)
				memset(*in, 'A', *len);
		} else {
			return 1;
		}
		return *in ? 0 : -1;
	}
	return 1;
}
