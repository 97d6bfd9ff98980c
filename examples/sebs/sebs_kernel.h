/*
 * sebs_kernel.h - what the SeBS function library (faas_sebs.so) and its
 * driver (faas-sebs) agree on: the layout of each kernel's input, the
 * header every reply starts with, the limits the kernels enforce, and the
 * deterministic generator both use for their data. Header-only.
 *
 * Every kernel's reply is a struct sebs_reply (the function's own time,
 * measured inside the function) followed by the kernel's result, so that
 * the driver can tell the function's time from the call's overhead, as
 * SeBS does. Numbers are little-endian in host order (the client and the
 * executor run the same build).
 */
#ifndef COLOC_SEBS_KERNEL_H
#define COLOC_SEBS_KERNEL_H

#include <stdint.h>

/* Reply header: nanoseconds the kernel ran, measured inside the function. */
struct sebs_reply {
	uint64_t fn_ns;
};

/* 110 dynamic-html: renders a page of count random numbers for a user. */
#define SEBS_HTML_USER_MAX 32 /* bytes, NUL included */
#define SEBS_HTML_COUNT_MAX 4096
struct sebs_html_in {
	uint64_t seed;
	uint32_t count;			   /* 1..SEBS_HTML_COUNT_MAX */
	uint32_t pad;			   /* 0 */
	char username[SEBS_HTML_USER_MAX]; /* printable ASCII, NUL-terminated */
};

/* 210 thumbnailer: a PNG image (after this header) scaled to fit in
 * width x height, keeping its aspect ratio, returned as a PNG. */
#define SEBS_THUMB_DIM_MAX 2048 /* pixels, each side of input and output */
struct sebs_thumb_in {
	uint32_t width, height; /* the box the thumbnail must fit in, 1..SEBS_THUMB_DIM_MAX */
};

/* 311 compression: the input bytes, deflated (zlib format, level 6). */

/* 501 pagerank, 502 mst, 503 bfs: on a Barabasi-Albert graph of vertices
 * vertices, each new vertex attached to SEBS_GRAPH_M earlier ones, made
 * from seed (as SeBS's igraph.Graph.Barabasi(size, 10)). */
#define SEBS_GRAPH_M 10
#define SEBS_GRAPH_VERTICES_MAX 100000 /* SeBS's "large"; about 100 MB of memory */
struct sebs_graph_in {
	uint64_t seed;
	uint32_t vertices; /* SEBS_GRAPH_M + 1 .. SEBS_GRAPH_VERTICES_MAX */
	uint32_t pad;	   /* 0 */
};
/* What the graph kernels return after the header (a summary of the
 * result that a local run reproduces bit for bit). */
struct sebs_graph_out {
	uint64_t count;	   /* pagerank: vertices; mst: tree edges; bfs: vertices reached */
	uint64_t checksum; /* FNV-1a over the result vector's values */
	double value;	   /* pagerank: rank of vertex 0; mst: -; bfs: number of layers */
	double extra;	   /* pagerank: the highest rank; others: 0 */
};

/* 504 dna-visualization: a DNA sequence (A, C, G, T, N; either case) turned
 * into squiggle's 2-D walk: y of 2 n + 1 points at x = 0, 0.5, 1, ...,
 * returned as int32_t values in half units (y * 2). */
#define SEBS_DNA_BASES_MAX 16384

/* xorshift64*: the generator of every seeded input (same seed, same data). */
static inline uint64_t sebs_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif
