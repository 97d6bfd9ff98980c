/*
 * lease_doc: JSON encoding and strict decoding of the lease document
 * (format in lease_doc.h). Owns struct lease_doc allocations; no state.
 */
#include "config.h"

#include "lease_doc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct lease_doc *lease_doc_new(unsigned nfunctions, unsigned nworkers)
{
	struct lease_doc *doc = calloc(1, sizeof(*doc));

	if (!doc)
		return NULL;
	doc->functions = calloc(nfunctions ? nfunctions : 1, sizeof(*doc->functions));
	doc->workers = calloc(nworkers ? nworkers : 1, sizeof(*doc->workers));
	if (!doc->functions || !doc->workers) {
		lease_doc_free(doc);
		return NULL;
	}
	doc->nfunctions = nfunctions;
	doc->nworkers = nworkers;
	doc->max_depth = 16; /* what a document without max_depth means */
	doc->executor_pid = -1;
	return doc;
}

void lease_doc_free(struct lease_doc *doc)
{
	if (!doc)
		return;
	free(doc->functions);
	free(doc->workers);
	free(doc);
}

void lease_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int lease_hex_decode(const char *in, uint8_t *out, size_t max)
{
	size_t len = strlen(in);

	if (len % 2 || len / 2 > max)
		return -EINVAL;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(len / 2);
}

static json_t *u64_hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_string(buf);
}

int lease_doc_encode(const struct lease_doc *doc, char **json)
{
	char token[2 * WIRE_TOKEN_LEN + 1], addr[2 * WIRE_NAME_MAX + 1];
	json_t *root, *fns, *workers;

	lease_hex_encode(doc->token, WIRE_TOKEN_LEN, token);
	fns = json_array();
	workers = json_array();
	for (unsigned i = 0; fns && i < doc->nfunctions; i++)
		json_array_append_new(fns, json_pack("{s:s, s:I}", "name", doc->functions[i].name,
						     "id", (json_int_t)doc->functions[i].id));
	for (unsigned i = 0; workers && i < doc->nworkers; i++) {
		const struct lease_worker *w = &doc->workers[i];

		lease_hex_encode(w->addr, w->addr_len, addr);
		json_array_append_new(
		    workers,
		    json_pack("{s:I, s:i, s:s, s:o, s:o, s:I}", "index", (json_int_t)w->index,
			      "cpu", w->cpu, "addr", addr, "slot_addr", u64_hex(w->slot_addr),
			      "slot_key", u64_hex(w->slot_key), "slots", (json_int_t)w->slots));
	}
	/* max_depth too: a client that does not find it assumes 16 */
	root =
	    json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:{s:I, s:s}, s:o, s:o}", "v", 1,
		      "type", "lease", "id", doc->id, "provider", doc->provider, "rung", doc->rung,
		      "token", token, "slot_size", (json_int_t)doc->slot_size, "max_depth",
		      (json_int_t)doc->max_depth, "executor", "pid", (json_int_t)doc->executor_pid,
		      "host", doc->host, "functions", fns, "workers", workers);
	if (root && doc->remote_mem &&
	    json_object_set_new(root, "remote_mem", json_integer((json_int_t)doc->remote_mem)) !=
		0) {
		json_decref(root);
		root = NULL;
	}
	if (!root)
		return -ENOMEM;
	*json = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return *json ? 0 : -ENOMEM;
}

/* Error reporting for the decoder. */
struct decoder {
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct decoder *d, const char *fmt, ...)
{
	va_list ap;

	if (d->err && d->errlen) {
		va_start(ap, fmt);
		vsnprintf(d->err, d->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int get_string(struct decoder *d, json_t *obj, const char *where, const char *key, char *out,
		      size_t max)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		return fail(d, "lease document: %s\"%s\" must be a string", where, key);
	if (json_string_length(v) == 0 || json_string_length(v) >= max)
		return fail(d, "lease document: %s\"%s\" must have 1 to %zu characters", where, key,
			    max - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_int(struct decoder *d, json_t *obj, const char *where, const char *key,
		   json_int_t min, json_int_t max, json_int_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return fail(d, "lease document: %s\"%s\" must be an integer", where, key);
	*out = json_integer_value(v);
	if (*out < min || *out > max)
		return fail(d,
			    "lease document: %s\"%s\" is %" JSON_INTEGER_FORMAT
			    ", outside %" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT,
			    where, key, *out, min, max);
	return 0;
}

static int get_u64_hex(struct decoder *d, json_t *obj, const char *where, const char *key,
		       uint64_t *out)
{
	json_t *v = json_object_get(obj, key);
	const char *s = json_string_value(v);
	char *end;

	if (!s || strncmp(s, "0x", 2) != 0 || !s[2] || strlen(s) > 18 ||
	    strspn(s + 2, "0123456789abcdefABCDEF") != strlen(s + 2))
		return fail(d, "lease document: %s\"%s\" must be a hex string like \"0x1f\"", where,
			    key);
	errno = 0;
	*out = strtoull(s + 2, &end, 16);
	if (*end || errno)
		return fail(d, "lease document: %s\"%s\" is not a 64-bit hex number", where, key);
	return 0;
}

static int decode_workers(struct decoder *d, json_t *arr, struct lease_doc *doc)
{
	char where[48], addr[2 * WIRE_NAME_MAX + 2];
	json_int_t v;
	int n;

	for (unsigned i = 0; i < doc->nworkers; i++) {
		struct lease_worker *w = &doc->workers[i];
		json_t *o = json_array_get(arr, i);

		snprintf(where, sizeof(where), "workers[%u].", i);
		if (!json_is_object(o))
			return fail(d, "lease document: workers[%u] must be an object", i);
		if (get_int(d, o, where, "index", 0, LEASE_MAX_WORKERS - 1, &v))
			return -EINVAL;
		w->index = (uint32_t)v;
		if (get_int(d, o, where, "cpu", -1, 1 << 20, &v))
			return -EINVAL;
		w->cpu = (int)v;
		if (get_int(d, o, where, "slots", 1, 1 << 16, &v))
			return -EINVAL;
		w->slots = (uint32_t)v;
		if (get_string(d, o, where, "addr", addr, sizeof(addr)))
			return -EINVAL;
		n = lease_hex_decode(addr, w->addr, sizeof(w->addr));
		if (n <= 0)
			return fail(d,
				    "lease document: %s\"addr\" must be an even number of hex "
				    "digits (at most %d bytes)",
				    where, WIRE_NAME_MAX);
		w->addr_len = (size_t)n;
		if (get_u64_hex(d, o, where, "slot_addr", &w->slot_addr) ||
		    get_u64_hex(d, o, where, "slot_key", &w->slot_key))
			return -EINVAL;
	}
	return 0;
}

static int decode_functions(struct decoder *d, json_t *arr, struct lease_doc *doc)
{
	char where[48];
	json_int_t v;

	for (unsigned i = 0; i < doc->nfunctions; i++) {
		struct lease_function *f = &doc->functions[i];
		json_t *o = json_array_get(arr, i);

		snprintf(where, sizeof(where), "functions[%u].", i);
		if (!json_is_object(o))
			return fail(d, "lease document: functions[%u] must be an object", i);
		if (get_string(d, o, where, "name", f->name, sizeof(f->name)))
			return -EINVAL;
		if (get_int(d, o, where, "id", 0, 0xffff, &v))
			return -EINVAL;
		if (v != (json_int_t)i)
			return fail(d,
				    "lease document: %s\"id\" is %" JSON_INTEGER_FORMAT
				    "; function ids must be 0, 1, 2, ... in order",
				    where, v);
		f->id = (uint32_t)v;
	}
	return 0;
}

int lease_doc_decode(const char *json, struct lease_doc **out, char *err, size_t errlen)
{
	struct decoder d = {err, errlen};
	char token[2 * WIRE_TOKEN_LEN + 2];
	json_t *root, *fns, *workers, *exe;
	struct lease_doc *doc = NULL;
	json_error_t jerr;
	json_int_t v, remote_mem = 0;
	int rc = -EINVAL;

	root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(&d, "lease document is not valid JSON (line %d: %s)", jerr.line,
			    jerr.text);
	if (!json_is_object(root)) {
		fail(&d, "lease document must be a JSON object");
		goto out;
	}
	if (get_int(&d, root, "", "v", 1, 1, &v))
		goto out;
	if (json_object_get(root, "remote_mem") &&
	    get_int(&d, root, "", "remote_mem", 1, (json_int_t)LEASE_REMOTE_MEM_MAX, &remote_mem))
		goto out;
	fns = json_object_get(root, "functions");
	workers = json_object_get(root, "workers");
	/* a memory lease serves no functions */
	if (!json_is_array(fns) || (json_array_size(fns) == 0 && !remote_mem) ||
	    json_array_size(fns) > LEASE_MAX_FUNCTIONS) {
		fail(&d, "lease document: \"functions\" must be an array of 1 to %d entries",
		     LEASE_MAX_FUNCTIONS);
		goto out;
	}
	if (!json_is_array(workers) || json_array_size(workers) == 0 ||
	    json_array_size(workers) > LEASE_MAX_WORKERS) {
		fail(&d, "lease document: \"workers\" must be an array of 1 to %d entries",
		     LEASE_MAX_WORKERS);
		goto out;
	}
	doc = lease_doc_new((unsigned)json_array_size(fns), (unsigned)json_array_size(workers));
	if (!doc) {
		rc = -ENOMEM;
		goto out;
	}
	if (get_string(&d, root, "", "id", doc->id, sizeof(doc->id)) ||
	    get_string(&d, root, "", "provider", doc->provider, sizeof(doc->provider)) ||
	    get_string(&d, root, "", "rung", doc->rung, sizeof(doc->rung)) ||
	    get_string(&d, root, "", "token", token, sizeof(token)))
		goto out;
	if (lease_hex_decode(token, doc->token, WIRE_TOKEN_LEN) != WIRE_TOKEN_LEN) {
		fail(&d, "lease document: \"token\" must be %d hex digits", 2 * WIRE_TOKEN_LEN);
		goto out;
	}
	if (get_int(&d, root, "", "slot_size", LEASE_MIN_SLOT, LEASE_MAX_SLOT, &v))
		goto out;
	doc->slot_size = (uint32_t)v;
	doc->max_depth = 16; /* producers before max_depth existed granted up to 16 */
	if (json_object_get(root, "max_depth")) {
		if (get_int(&d, root, "", "max_depth", 1, 1 << 16, &v))
			goto out;
		doc->max_depth = (uint32_t)v;
	}
	exe = json_object_get(root, "executor");
	if (json_is_object(exe)) {
		json_t *pid = json_object_get(exe, "pid");
		json_t *host = json_object_get(exe, "host");

		if (json_is_integer(pid))
			doc->executor_pid = (long)json_integer_value(pid);
		if (json_is_string(host))
			snprintf(doc->host, sizeof(doc->host), "%s", json_string_value(host));
	}
	if (decode_functions(&d, fns, doc) || decode_workers(&d, workers, doc))
		goto out;
	doc->remote_mem = (uint64_t)remote_mem;
	*out = doc;
	doc = NULL;
	rc = 0;
out:
	lease_doc_free(doc);
	json_decref(root);
	return rc;
}

int lease_doc_function(const struct lease_doc *doc, const char *name)
{
	for (unsigned i = 0; i < doc->nfunctions; i++)
		if (strcmp(doc->functions[i].name, name) == 0)
			return (int)doc->functions[i].id;
	return -ENOENT;
}
