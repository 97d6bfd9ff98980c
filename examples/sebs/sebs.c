/*
 * sebs.c - the SeBS kernels as a coloc function library (faas_sebs.so):
 * 110 dynamic-html, 210 thumbnailer, 311 compression, 501 graph-pagerank,
 * 502 graph-mst, 503 graph-bfs and 504 dna-visualization, ported from the
 * Python of SeBS (Copik et al., Middleware'21) to C. The inputs are laid
 * out in sebs_kernel.h; each reply is a struct sebs_reply (the kernel's
 * own time) followed by the result. Every input is checked before it is
 * used: a bad one fails the call (non-zero, with a message), never the
 * executor.
 *
 * Locking: the kernels keep no state, but Debian's igraph is built without
 * thread-local state (IGRAPH_THREAD_SAFE 0: its error and cleanup stacks
 * are globals), so the graph kernels run one at a time in a process, under
 * graph_lock; the other kernels run on all workers at once.
 */
#include "faas_function.h"
#include "sebs_kernel.h"
#include "sebs_png.h"

#include <igraph.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

faas_function_fn sebs_dynamic_html, sebs_thumbnailer, sebs_compression, sebs_graph_pagerank,
    sebs_graph_mst, sebs_graph_bfs, sebs_dna_visualization;

FAAS_FUNCTION_EXPORT const char *const faas_functions[] = {
    "dynamic-html=sebs_dynamic_html",
    "thumbnailer=sebs_thumbnailer",
    "compression=sebs_compression",
    "graph-pagerank=sebs_graph_pagerank",
    "graph-mst=sebs_graph_mst",
    "graph-bfs=sebs_graph_bfs",
    "dna-visualization=sebs_dna_visualization",
    NULL};

#define HDR sizeof(struct sebs_reply)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A failure with a message for the client (see faas_function.h). */
static int fail(int rc, void *out, size_t out_cap, size_t *out_len, const char *fmt, ...)
{
	char msg[FAAS_FUNCTION_MSG_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(msg) - 1)
		n = sizeof(msg) - 1;
	if ((size_t)n > out_cap)
		n = (int)out_cap;
	memcpy(out, msg, (size_t)n);
	*out_len = (size_t)n;
	return rc;
}

/* Ends a successful kernel: the header with its time since t0. */
static int done(void *out, uint64_t t0, size_t result_len, size_t *out_len)
{
	struct sebs_reply r = {.fn_ns = now_ns() - t0};

	memcpy(out, &r, sizeof(r));
	*out_len = HDR + result_len;
	return 0;
}

/* ---- 110 dynamic-html ------------------------------------------------------ */

/* The page SeBS's dynamic-html renders (templates/template.html), with the
 * user's name and the random numbers; the time of day SeBS prints is left
 * out, so that a local run gives the same page. */
static const char html_head[] =
    "<!DOCTYPE html>\n<html>\n  <head>\n    <title>Randomly generated data.</title>\n"
    "    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">\n"
    "    <style type=\"text/css\">\n      .container {\n        max-width: 500px;\n"
    "        padding-top: 100px;\n      }\n    </style>\n  </head>\n  <body>\n"
    "    <div class=\"container\">\n      <p>Welcome ";
static const char html_mid[] = "!</p>\n      <p>Requested random numbers:</p>\n      <ul>\n";
static const char html_tail[] = "      </ul>\n    </div>\n  </body>\n</html>\n";

struct text {
	char *p;
	size_t len, cap; /* len keeps counting past cap: the size needed */
};

static void text_put(struct text *t, const char *s, size_t n)
{
	if (t->len + n <= t->cap)
		memcpy(t->p + t->len, s, n);
	t->len += n;
}

FAAS_FUNCTION_EXPORT int sebs_dynamic_html(const void *in, size_t in_len, void *out, size_t out_cap,
					   size_t *out_len)
{
	struct sebs_html_in req;
	struct text t;
	uint64_t t0 = now_ns(), s;
	size_t ulen;

	if (in_len != sizeof(req))
		return fail(1, out, out_cap, out_len,
			    "dynamic-html: the input is %zu bytes, struct sebs_html_in has %zu",
			    in_len, sizeof(req));
	memcpy(&req, in, sizeof(req));
	if (req.count < 1 || req.count > SEBS_HTML_COUNT_MAX || req.pad)
		return fail(1, out, out_cap, out_len,
			    "dynamic-html: count %u is outside 1..%u (or pad is not 0)",
			    (unsigned)req.count, SEBS_HTML_COUNT_MAX);
	ulen = strnlen(req.username, sizeof(req.username));
	if (ulen == 0 || ulen == sizeof(req.username))
		return fail(1, out, out_cap, out_len,
			    "dynamic-html: the username must be 1..%d bytes and NUL-terminated",
			    SEBS_HTML_USER_MAX - 1);
	for (size_t i = 0; i < ulen; i++)
		if (req.username[i] < 0x20 || req.username[i] > 0x7e)
			return fail(1, out, out_cap, out_len,
				    "dynamic-html: byte %zu of the username is not printable ASCII",
				    i);
	if (out_cap < HDR)
		return fail(2, out, out_cap, out_len, "dynamic-html: out_cap is below %zu", HDR);
	t = (struct text){.p = (char *)out + HDR, .cap = out_cap - HDR};
	text_put(&t, html_head, sizeof(html_head) - 1);
	for (size_t i = 0; i < ulen; i++) { /* the name, HTML-escaped */
		const char *e = NULL;

		switch (req.username[i]) {
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '&':
			e = "&amp;";
			break;
		case '"':
			e = "&quot;";
			break;
		case '\'':
			e = "&#39;";
			break;
		}
		if (e)
			text_put(&t, e, strlen(e));
		else
			text_put(&t, &req.username[i], 1);
	}
	text_put(&t, html_mid, sizeof(html_mid) - 1);
	s = req.seed;
	for (uint32_t i = 0; i < req.count; i++) {
		char li[48];
		/* SeBS: random.sample(range(0, 1000000), count) */
		int n = snprintf(li, sizeof(li), "        <li>%u</li>\n",
				 (unsigned)(sebs_rand(&s) % 1000000));

		text_put(&t, li, (size_t)n);
	}
	text_put(&t, html_tail, sizeof(html_tail) - 1);
	if (t.len > t.cap) { /* FAAS_EOUTSIZE, with the size needed */
		*out_len = HDR + t.len;
		return 0;
	}
	return done(out, t0, t.len, out_len);
}

/* ---- 210 thumbnailer -------------------------------------------------------- */

/* Box-filters the w x h RGB image src into the tw x th image dst. */
static void resize_box(const unsigned char *src, uint32_t w, uint32_t h, unsigned char *dst,
		       uint32_t tw, uint32_t th)
{
	for (uint32_t oy = 0; oy < th; oy++) {
		uint32_t y0 = (uint32_t)((uint64_t)oy * h / th);
		uint32_t y1 = (uint32_t)((uint64_t)(oy + 1) * h / th);

		if (y1 <= y0)
			y1 = y0 + 1;
		for (uint32_t ox = 0; ox < tw; ox++) {
			uint32_t x0 = (uint32_t)((uint64_t)ox * w / tw);
			uint32_t x1 = (uint32_t)((uint64_t)(ox + 1) * w / tw);
			uint64_t sum[3] = {0, 0, 0}, n;

			if (x1 <= x0)
				x1 = x0 + 1;
			n = (uint64_t)(x1 - x0) * (y1 - y0);
			for (uint32_t y = y0; y < y1; y++)
				for (uint32_t x = x0; x < x1; x++)
					for (int c = 0; c < 3; c++)
						sum[c] += src[((size_t)y * w + x) * 3 + c];
			for (int c = 0; c < 3; c++)
				dst[((size_t)oy * tw + ox) * 3 + c] =
				    (unsigned char)((sum[c] + n / 2) / n);
		}
	}
}

FAAS_FUNCTION_EXPORT int sebs_thumbnailer(const void *in, size_t in_len, void *out, size_t out_cap,
					  size_t *out_len)
{
	struct sebs_thumb_in req;
	unsigned char *src = NULL, *dst = NULL;
	uint32_t w, h, tw, th;
	uint64_t t0 = now_ns();
	char err[160];
	size_t len;
	int rc;

	if (in_len <= sizeof(req))
		return fail(1, out, out_cap, out_len,
			    "thumbnailer: the input is %zu bytes: a struct sebs_thumb_in (%zu) "
			    "and a PNG image are expected",
			    in_len, sizeof(req));
	memcpy(&req, in, sizeof(req));
	if (req.width < 1 || req.height < 1 || req.width > SEBS_THUMB_DIM_MAX ||
	    req.height > SEBS_THUMB_DIM_MAX)
		return fail(1, out, out_cap, out_len,
			    "thumbnailer: the thumbnail's box %ux%u is outside 1..%u a side",
			    (unsigned)req.width, (unsigned)req.height, SEBS_THUMB_DIM_MAX);
	if (out_cap < HDR)
		return fail(2, out, out_cap, out_len, "thumbnailer: out_cap is below %zu", HDR);
	if (sebs_png_decode((const char *)in + sizeof(req), in_len - sizeof(req),
			    SEBS_THUMB_DIM_MAX, &src, &w, &h, err, sizeof(err)))
		return fail(1, out, out_cap, out_len, "thumbnailer: %s", err);
	/* PIL's Image.thumbnail: fit in the box, keep the aspect ratio, never enlarge */
	tw = w;
	th = h;
	if (tw > req.width) {
		th = (uint32_t)((uint64_t)th * req.width / tw);
		tw = req.width;
	}
	if (th > req.height) {
		tw = (uint32_t)((uint64_t)tw * req.height / th);
		th = req.height;
	}
	tw = tw ? tw : 1;
	th = th ? th : 1;
	dst = malloc((size_t)tw * th * 3);
	if (!dst) {
		free(src);
		return fail(3, out, out_cap, out_len, "thumbnailer: out of memory");
	}
	resize_box(src, w, h, dst, tw, th);
	free(src);
	rc = sebs_png_encode(dst, tw, th, (char *)out + HDR, out_cap - HDR, &len, err, sizeof(err));
	free(dst);
	if (rc < 0)
		return fail(3, out, out_cap, out_len, "thumbnailer: %s", err);
	if (rc > 0) {
		*out_len = HDR + len;
		return 0;
	}
	return done(out, t0, len, out_len);
}

/* ---- 311 compression -------------------------------------------------------- */

FAAS_FUNCTION_EXPORT int sebs_compression(const void *in, size_t in_len, void *out, size_t out_cap,
					  size_t *out_len)
{
	uint64_t t0 = now_ns();
	uLongf len;
	int rc;

	if (in_len == 0)
		return fail(1, out, out_cap, out_len, "compression: the input is empty");
	if (out_cap < HDR)
		return fail(2, out, out_cap, out_len, "compression: out_cap is below %zu", HDR);
	len = (uLongf)(out_cap - HDR);
	rc = compress2((Bytef *)out + HDR, &len, in, (uLong)in_len, 6);
	if (rc == Z_BUF_ERROR) { /* the worst case, as the size needed */
		*out_len = HDR + compressBound((uLong)in_len);
		return 0;
	}
	if (rc != Z_OK)
		return fail(3, out, out_cap, out_len, "compression: zlib failed: %s", zError(rc));
	return done(out, t0, len, out_len);
}

/* ---- 501, 502, 503: graphs (igraph) ----------------------------------------------- */

static pthread_mutex_t graph_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t graph_once = PTHREAD_ONCE_INIT;

/* igraph's default handler aborts the process: errors return instead. */
static void graph_init(void)
{
	igraph_set_error_handler(igraph_error_handler_ignore);
	igraph_set_warning_handler(igraph_warning_handler_ignore);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * Builds the undirected Barabasi-Albert graph of req: vertex v >= m joins
 * m distinct earlier vertices chosen with probability proportional to
 * their degree (the endpoints of every edge so far, plus the first m
 * vertices once). Our own generator, so that the graph depends on the seed
 * alone, not on igraph's global random state.
 */
static int graph_make(const struct sebs_graph_in *req, igraph_t *g)
{
	const uint32_t m = SEBS_GRAPH_M, n = req->vertices;
	size_t nedges = (size_t)(n - m) * m, ntargets = 0;
	uint32_t *targets = malloc((2 * nedges + m) * sizeof(*targets));
	uint32_t pick[SEBS_GRAPH_M];
	igraph_vector_int_t edges;
	uint64_t s = req->seed;
	size_t e = 0;
	int rc;

	if (!targets)
		return -1;
	if (igraph_vector_int_init(&edges, (igraph_integer_t)(2 * nedges))) {
		free(targets);
		return -1;
	}
	for (uint32_t v = 0; v < m; v++)
		targets[ntargets++] = v;
	for (uint32_t v = m; v < n; v++) {
		for (uint32_t k = 0; k < m; k++) {
			uint32_t t;
			int dup;

			do { /* distinct targets; bounded: v > m distinct vertices exist */
				t = targets[sebs_rand(&s) % ntargets];
				dup = 0;
				for (uint32_t j = 0; j < k; j++)
					dup |= pick[j] == t;
			} while (dup);
			pick[k] = t;
			VECTOR(edges)[e++] = v;
			VECTOR(edges)[e++] = t;
		}
		for (uint32_t k = 0; k < m; k++) {
			targets[ntargets++] = v;
			targets[ntargets++] = pick[k];
		}
	}
	free(targets);
	rc = igraph_create(g, &edges, n, IGRAPH_UNDIRECTED);
	igraph_vector_int_destroy(&edges);
	return rc ? -1 : 0;
}

static double rank_round(double r)
{
	return (double)llround(r * 1e10) / 1e10;
}

enum graph_kernel { GRAPH_PAGERANK, GRAPH_MST, GRAPH_BFS };
static const char *const graph_name[] = {"graph-pagerank", "graph-mst", "graph-bfs"};

static int graph_run(enum graph_kernel k, igraph_t *g, struct sebs_graph_out *r)
{
	igraph_vector_int_t v, layers, parents;
	igraph_vector_t rank;
	igraph_real_t value;
	uint64_t h = 0xcbf29ce484222325ULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	switch (k) {
	case GRAPH_PAGERANK:
		if (igraph_vector_init(&rank, 0))
			return -1;
		if (igraph_pagerank(g, IGRAPH_PAGERANK_ALGO_PRPACK, &rank, &value, igraph_vss_all(),
				    IGRAPH_UNDIRECTED, 0.85, NULL, NULL) == IGRAPH_SUCCESS) {
			/* PRPACK's sums run in threads (OpenMP): the last bits of a
			 * rank vary from run to run, so ranks count to 1e-10 */
			r->count = (uint64_t)igraph_vector_size(&rank);
			r->value = rank_round(VECTOR(rank)[0]);
			r->extra = rank_round(igraph_vector_max(&rank));
			for (igraph_integer_t i = 0; i < igraph_vector_size(&rank); i++) {
				long long q = llround(VECTOR(rank)[i] * 1e10);

				h = fnv(h, &q, sizeof(q));
			}
			rc = 0;
		}
		igraph_vector_destroy(&rank);
		break;
	case GRAPH_MST:
		if (igraph_vector_int_init(&v, 0))
			return -1;
		if (igraph_minimum_spanning_tree(g, &v, NULL) == IGRAPH_SUCCESS) {
			r->count = (uint64_t)igraph_vector_int_size(&v);
			for (igraph_integer_t i = 0; i < igraph_vector_int_size(&v); i++)
				h = fnv(h, &VECTOR(v)[i], sizeof(igraph_integer_t));
			rc = 0;
		}
		igraph_vector_int_destroy(&v);
		break;
	case GRAPH_BFS:
		if (igraph_vector_int_init(&v, 0))
			return -1;
		if (igraph_vector_int_init(&layers, 0)) {
			igraph_vector_int_destroy(&v);
			return -1;
		}
		if (igraph_vector_int_init(&parents, 0)) {
			igraph_vector_int_destroy(&layers);
			igraph_vector_int_destroy(&v);
			return -1;
		}
		if (igraph_bfs_simple(g, 0, IGRAPH_ALL, &v, &layers, &parents) == IGRAPH_SUCCESS) {
			r->count = (uint64_t)igraph_vector_int_size(&v);
			r->value = (double)(igraph_vector_int_size(&layers) - 1);
			for (igraph_integer_t i = 0; i < igraph_vector_int_size(&v); i++)
				h = fnv(h, &VECTOR(v)[i], sizeof(igraph_integer_t));
			for (igraph_integer_t i = 0; i < igraph_vector_int_size(&parents); i++)
				h = fnv(h, &VECTOR(parents)[i], sizeof(igraph_integer_t));
			rc = 0;
		}
		igraph_vector_int_destroy(&parents);
		igraph_vector_int_destroy(&layers);
		igraph_vector_int_destroy(&v);
		break;
	}
	r->checksum = h;
	return rc;
}

static int graph_kernel(enum graph_kernel k, const void *in, size_t in_len, void *out,
			size_t out_cap, size_t *out_len)
{
	const char *name = graph_name[k];
	struct sebs_graph_in req;
	struct sebs_graph_out r;
	uint64_t t0 = now_ns();
	igraph_t g;
	int rc;

	if (in_len != sizeof(req))
		return fail(1, out, out_cap, out_len,
			    "%s: the input is %zu bytes, struct sebs_graph_in has %zu", name,
			    in_len, sizeof(req));
	memcpy(&req, in, sizeof(req));
	if (req.vertices <= SEBS_GRAPH_M || req.vertices > SEBS_GRAPH_VERTICES_MAX || req.pad)
		return fail(1, out, out_cap, out_len,
			    "%s: %u vertices is outside %u..%u (or pad is not 0)", name,
			    (unsigned)req.vertices, SEBS_GRAPH_M + 1, SEBS_GRAPH_VERTICES_MAX);
	if (out_cap < HDR + sizeof(r)) {
		*out_len = HDR + sizeof(r);
		return 0;
	}
	pthread_once(&graph_once, graph_init);
	pthread_mutex_lock(&graph_lock);
	rc = graph_make(&req, &g);
	if (rc == 0) {
		rc = graph_run(k, &g, &r);
		igraph_destroy(&g);
	}
	pthread_mutex_unlock(&graph_lock);
	if (rc)
		return fail(3, out, out_cap, out_len, "%s: igraph failed (out of memory?)", name);
	memcpy((char *)out + HDR, &r, sizeof(r));
	return done(out, t0, sizeof(r), out_len);
}

FAAS_FUNCTION_EXPORT int sebs_graph_pagerank(const void *in, size_t in_len, void *out,
					     size_t out_cap, size_t *out_len)
{
	return graph_kernel(GRAPH_PAGERANK, in, in_len, out, out_cap, out_len);
}

FAAS_FUNCTION_EXPORT int sebs_graph_mst(const void *in, size_t in_len, void *out, size_t out_cap,
					size_t *out_len)
{
	return graph_kernel(GRAPH_MST, in, in_len, out, out_cap, out_len);
}

FAAS_FUNCTION_EXPORT int sebs_graph_bfs(const void *in, size_t in_len, void *out, size_t out_cap,
					size_t *out_len)
{
	return graph_kernel(GRAPH_BFS, in, in_len, out, out_cap, out_len);
}

/* ---- 504 dna-visualization -------------------------------------------------------- */

/* squiggle.transform(sequence, method="squiggle"): each base adds two
 * points half a unit apart in x: A up and back, C down and back, G up and
 * up, T down and down (anything else, such as N, flat). */
FAAS_FUNCTION_EXPORT int sebs_dna_visualization(const void *in, size_t in_len, void *out,
						size_t out_cap, size_t *out_len)
{
	const char *seq = in;
	size_t need = HDR + (2 * in_len + 1) * sizeof(int32_t);
	uint64_t t0 = now_ns();
	unsigned char *dst = (unsigned char *)out + HDR;
	int32_t y = 0, p[2];

	if (in_len == 0 || in_len > SEBS_DNA_BASES_MAX)
		return fail(1, out, out_cap, out_len,
			    "dna-visualization: %zu bases is outside 1..%d", in_len,
			    SEBS_DNA_BASES_MAX);
	for (size_t i = 0; i < in_len; i++)
		if (!strchr("ACGTNacgtn", seq[i]) || seq[i] == '\0')
			return fail(1, out, out_cap, out_len,
				    "dna-visualization: byte %zu (0x%02x) is not a base "
				    "(A, C, G, T or N)",
				    i, (unsigned char)seq[i]);
	if (out_cap < need) {
		*out_len = need;
		return 0;
	}
	memcpy(dst, &y, sizeof(y));
	dst += sizeof(y);
	for (size_t i = 0; i < in_len; i++) { /* in half units */
		switch (seq[i] & ~0x20) {
		case 'A':
			p[0] = y + 1;
			p[1] = y;
			break;
		case 'C':
			p[0] = y - 1;
			p[1] = y;
			break;
		case 'G':
			p[0] = y + 1;
			p[1] = y + 2;
			break;
		case 'T':
			p[0] = y - 1;
			p[1] = y - 2;
			break;
		default:
			p[0] = y;
			p[1] = y;
			break;
		}
		y = p[1];
		memcpy(dst, p, sizeof(p));
		dst += sizeof(p);
	}
	return done(out, t0, need - HDR, out_len);
}
