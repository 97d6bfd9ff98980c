/*
 * msg: JSON encoding and strict decoding of the control plane's messages
 * (see msg.h). Stateless. Each type has a table of its fields; decoding
 * refuses a field that is not in the table, so a typo never passes silently.
 * A node_state carries two arrays of objects (leases, ended) whose elements
 * have tables of their own; decoding them mallocs the arrays (msg_free).
 * A result's rows are described by tables of their fields (struct
 * row_field: name, kind, where in the row struct), which drive encoding,
 * decoding and the cells colocctl prints alike.
 */
#include "config.h"

#include "msg.h"
#include "sha256.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *const type_names[] = {
    [MSG_OK] = "ok",
    [MSG_ERROR] = "error",
    [MSG_LEASE_ACQUIRE] = "lease_acquire",
    [MSG_LEASE_GRANT] = "lease_grant",
    [MSG_LEASE_RELEASE] = "lease_release",
    [MSG_QUERY] = "query",
    [MSG_JOB_START] = "job_start",
    [MSG_STEP_START] = "step_start",
    [MSG_STEP_END] = "step_end",
    [MSG_JOB_END] = "job_end",
    [MSG_RESULT] = "result",
    [MSG_NODE_STATE] = "node_state",
    [MSG_EXEC_START] = "exec_start",
    [MSG_EXEC_STOP] = "exec_stop",
    [MSG_DRAIN] = "drain",
    [MSG_HEARTBEAT] = "heartbeat",
};
#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

/* The fields each type may carry besides "v" and "type". */
static const char *const fields[NTYPES][18] = {
    [MSG_OK] = {NULL},
    [MSG_ERROR] = {"code", "message", NULL},
    [MSG_LEASE_ACQUIRE] = {"cred", "workers", "lib", "mem", "gpus", "time", "mode", "job",
			   "remote_mem", NULL},
    [MSG_LEASE_GRANT] = {"cred", "id", "lease", NULL},
    [MSG_LEASE_RELEASE] = {"cred", "id", NULL},
    [MSG_QUERY] = {"cred", "what", "by", "since", "user", "host_job", "from", "state", "min_cores",
		   "stream", NULL},
    [MSG_JOB_START] = {"job", "uid", "pus", "mem", "mem_need", "gpus", "consent", "end", NULL},
    [MSG_STEP_START] = {"job", "step", "pus", "mem", "gpus", NULL},
    [MSG_STEP_END] = {"job", "step", NULL},
    [MSG_JOB_END] = {"job", NULL},
    [MSG_RESULT] = {"what", "items", "next", NULL},
    [MSG_NODE_STATE] = {"cred", "node", "port", "pus", "mem", "ngpus", "lendable", "unallocated",
			"near_host", "mem_lendable", "gpus_lendable", "until", "jobs", "leases",
			"ended", "cgroup", "gen", NULL},
    [MSG_EXEC_START] = {"cred", "id", "uid", "gid", "workers", "pus", "mem", "gpus", "lib",
			"expires", "job", "remote_mem", NULL},
    [MSG_EXEC_STOP] = {"cred", "id", NULL},
    [MSG_DRAIN] = {"cred", "node", "drain", NULL},
    [MSG_HEARTBEAT] = {"cred", "node", "gen", NULL},
};

/* The fields of an element of node_state's "leases" and "ended" arrays. */
static const char *const lease_fields[] = {"id",   "uid",     "workers", "pus", "mem",
					   "gpus", "expires", "state",	 "pid", NULL};
static const char *const ended_fields[] = {"id", "state", "why", "usage", NULL};
static const char *const query_names[] = {
    [MSG_QUERY_NODES] = "nodes",   [MSG_QUERY_GAPS] = "gaps",
    [MSG_QUERY_LEASES] = "leases", [MSG_QUERY_EXECUTORS] = "executors",
    [MSG_QUERY_USAGE] = "usage",   [MSG_QUERY_RECORDS] = "records"};
static const char *const by_names[] = {[MSG_BY_USER] = "user",
				       [MSG_BY_HOST_JOB] = "host-job",
				       [MSG_BY_NODE] = "node",
				       [MSG_BY_LEASE] = "lease"};
#define NQUERIES (sizeof(query_names) / sizeof(query_names[0]))

/* ---- the rows of a result ---------------------------------------------------------- */

#define MEM_MAX ((uint64_t)1 << 50)  /* bytes: the most any size field may say */
#define TIME_MAX ((uint64_t)1 << 40) /* unix seconds */

/* How a row field travels: a string (STR; may_be_empty and one_of narrow
 * it), a lease id or node name (NAME, see get_name), a list of numbers
 * (LIST, "0-3,8", may be empty), an unsigned integer of 4 or 8 bytes
 * (UINT), an int64_t that is never negative (INT), a bool. */
enum row_kind { ROW_STR, ROW_NAME, ROW_LIST, ROW_UINT, ROW_INT, ROW_BOOL };

struct row_field {
	const char *key;
	enum row_kind kind;
	size_t off, size;	   /* of the member in its row struct */
	uint64_t max;		   /* UINT, INT: the largest value */
	bool may_be_empty;	   /* STR */
	const char *const *one_of; /* STR: the values it may take, NULL: any */
	bool time;		   /* INT: unix seconds, 0 = none (tables print dates) */
};

#define FIELD(type, member, k)                                                                     \
	.key = #member, .kind = (k), .off = offsetof(type, member),                                \
	.size = sizeof(((type *)0)->member)

static const char *const node_states[] = {"up", "down", "drained", NULL};
static const char *const lease_states[] = {"starting", "ready",	 "released", "expired",
					   "evicted",  "failed", NULL};

static const struct row_field node_row[] = {
    {FIELD(struct msg_row_node, name, ROW_NAME)},
    {FIELD(struct msg_row_node, state, ROW_STR), .one_of = node_states},
    {FIELD(struct msg_row_node, pus, ROW_LIST)},
    {FIELD(struct msg_row_node, mem, ROW_UINT), .max = MEM_MAX},
    {FIELD(struct msg_row_node, gpus, ROW_UINT), .max = 32},
    {FIELD(struct msg_row_node, jobs, ROW_UINT), .max = UINT32_MAX},
    {FIELD(struct msg_row_node, drained, ROW_BOOL)},
    {.key = NULL},
};

static const struct row_field gap_row[] = {
    {FIELD(struct msg_row_gap, node, ROW_NAME)},
    {FIELD(struct msg_row_gap, lendable, ROW_LIST)},
    {FIELD(struct msg_row_gap, unallocated, ROW_LIST)},
    {FIELD(struct msg_row_gap, mem, ROW_UINT), .max = MEM_MAX},
    {FIELD(struct msg_row_gap, gpus, ROW_UINT), .max = 32},
    {FIELD(struct msg_row_gap, until, ROW_INT), .max = TIME_MAX, .time = true},
    {FIELD(struct msg_row_gap, drained, ROW_BOOL)},
    {.key = NULL},
};

static const struct row_field lease_row[] = {
    {FIELD(struct msg_row_lease, id, ROW_NAME)},
    {FIELD(struct msg_row_lease, uid, ROW_UINT), .max = UINT32_MAX},
    {FIELD(struct msg_row_lease, state, ROW_STR), .one_of = lease_states},
    {FIELD(struct msg_row_lease, node, ROW_NAME)},
    {FIELD(struct msg_row_lease, workers, ROW_UINT), .max = 4096},
    {FIELD(struct msg_row_lease, cpus, ROW_LIST)},
    {FIELD(struct msg_row_lease, mem, ROW_UINT), .max = MEM_MAX},
    {FIELD(struct msg_row_lease, gpus, ROW_LIST)},
    {FIELD(struct msg_row_lease, expires, ROW_INT), .max = TIME_MAX, .time = true},
    {FIELD(struct msg_row_lease, why, ROW_STR), .may_be_empty = true},
    {.key = NULL},
};

static const struct row_field executor_row[] = {
    {FIELD(struct msg_row_executor, pid, ROW_INT), .max = INT32_MAX},
    {FIELD(struct msg_row_executor, node, ROW_NAME)},
    {FIELD(struct msg_row_executor, uid, ROW_UINT), .max = UINT32_MAX},
    {FIELD(struct msg_row_executor, cgroup, ROW_STR)},
    {FIELD(struct msg_row_executor, cpus, ROW_LIST)},
    {FIELD(struct msg_row_executor, mem_limit, ROW_UINT), .max = MEM_MAX},
    {FIELD(struct msg_row_executor, gpus, ROW_LIST)},
    {FIELD(struct msg_row_executor, lease, ROW_NAME)},
    {.key = NULL},
};

static const struct row_field usage_row[] = {
    {FIELD(struct msg_row_usage, group, ROW_STR)},
    {FIELD(struct msg_row_usage, leases, ROW_UINT), .max = UINT32_MAX},
    {FIELD(struct msg_row_usage, core_seconds, ROW_UINT), .max = INT64_MAX},
    {FIELD(struct msg_row_usage, gb_seconds, ROW_UINT), .max = INT64_MAX},
    {FIELD(struct msg_row_usage, gpu_seconds, ROW_UINT), .max = INT64_MAX},
    {FIELD(struct msg_row_usage, calls, ROW_UINT), .max = INT64_MAX},
    {.key = NULL},
};

static const char *const ended_states[] = {"released", "expired", "evicted", "failed", NULL};

/* A usage record: a line of usage.jsonl, a node_state's ended lease's
 * "usage", a row of a records query. */
static const struct row_field record_row[] = {
    {FIELD(struct msg_usage, id, ROW_NAME)},
    {FIELD(struct msg_usage, uid, ROW_UINT), .max = UINT32_MAX},
    {FIELD(struct msg_usage, user, ROW_STR), .may_be_empty = true},
    {FIELD(struct msg_usage, job, ROW_UINT), .max = UINT32_MAX},
    {FIELD(struct msg_usage, host_jobs, ROW_STR), .may_be_empty = true},
    {FIELD(struct msg_usage, node, ROW_NAME)},
    {FIELD(struct msg_usage, cores, ROW_UINT), .max = UINT32_MAX},
    {FIELD(struct msg_usage, pus, ROW_LIST)},
    {FIELD(struct msg_usage, mem, ROW_UINT), .max = MEM_MAX},
    {FIELD(struct msg_usage, gpus, ROW_UINT), .max = 32},
    {FIELD(struct msg_usage, start, ROW_INT), .max = TIME_MAX, .time = true},
    {FIELD(struct msg_usage, end, ROW_INT), .max = TIME_MAX, .time = true},
    {FIELD(struct msg_usage, core_seconds, ROW_UINT), .max = INT64_MAX},
    {FIELD(struct msg_usage, gb_seconds, ROW_UINT), .max = INT64_MAX},
    {FIELD(struct msg_usage, gpu_seconds, ROW_UINT), .max = INT64_MAX},
    {FIELD(struct msg_usage, calls, ROW_UINT), .max = INT64_MAX},
    {FIELD(struct msg_usage, calls_known, ROW_BOOL)},
    {FIELD(struct msg_usage, state, ROW_STR), .one_of = ended_states},
    {FIELD(struct msg_usage, why, ROW_STR), .may_be_empty = true},
    {.key = NULL},
};
#define ROW_FIELDS_MAX 24 /* fields a row may have (decode_row) */

#undef FIELD

static const struct row_field *const row_fields[] = {
    [MSG_QUERY_NODES] = node_row,   [MSG_QUERY_GAPS] = gap_row,
    [MSG_QUERY_LEASES] = lease_row, [MSG_QUERY_EXECUTORS] = executor_row,
    [MSG_QUERY_USAGE] = usage_row,  [MSG_QUERY_RECORDS] = record_row};

/* The fields of what's rows, NULL for no such query. */
static const struct row_field *rows_of(enum msg_query what)
{
	return (unsigned)what < NQUERIES ? row_fields[what] : NULL;
}

/* A number field's value (UINT, INT, BOOL) as a uint64_t. */
static uint64_t row_uint(const struct row_field *f, const union msg_row *row)
{
	const char *p = (const char *)row + f->off;

	if (f->kind == ROW_BOOL)
		return *(const bool *)p;
	if (f->kind == ROW_INT)
		return (uint64_t)(*(const int64_t *)p);
	return f->size == sizeof(uint32_t) ? *(const uint32_t *)p : *(const uint64_t *)p;
}

static void row_set_uint(const struct row_field *f, union msg_row *row, uint64_t v)
{
	char *p = (char *)row + f->off;

	if (f->kind == ROW_BOOL)
		*(bool *)p = v != 0;
	else if (f->kind == ROW_INT)
		*(int64_t *)p = (int64_t)v;
	else if (f->size == sizeof(uint32_t))
		*(uint32_t *)p = (uint32_t)v;
	else
		*(uint64_t *)p = v;
}

/* A string field (STR, NAME, LIST), NUL-terminated within its array. */
static const char *row_str(const struct row_field *f, const union msg_row *row, size_t *len)
{
	const char *p = (const char *)row + f->off;

	*len = strnlen(p, f->size);
	return p;
}

const char *msg_type_name(enum msg_type type)
{
	return (unsigned)type < NTYPES && type_names[type] ? type_names[type] : "unknown";
}

void msg_verror(struct msg *m, const char *code, const char *fmt, va_list ap)
{
	memset(m, 0, sizeof(*m));
	m->type = MSG_ERROR;
	snprintf(m->u.error.code, sizeof(m->u.error.code), "%s", code);
	vsnprintf(m->u.error.message, sizeof(m->u.error.message), fmt, ap);
}

void msg_error(struct msg *m, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_verror(m, code, fmt, ap);
	va_end(ap);
}

void msg_reply_error(msg_reply_fn fn, void *arg, uint64_t cookie, const char *code, const char *fmt,
		     ...)
{
	struct msg m;
	va_list ap;

	va_start(ap, fmt);
	msg_verror(&m, code, fmt, ap);
	va_end(ap);
	fn(arg, cookie, &m);
}

void msg_reply_ok(msg_reply_fn fn, void *arg, uint64_t cookie)
{
	struct msg m = {.type = MSG_OK};

	fn(arg, cookie, &m);
}

void msg_free(struct msg *m)
{
	if (m && m->type == MSG_LEASE_GRANT) {
		free(m->u.grant.lease);
		m->u.grant.lease = NULL;
	} else if (m && m->type == MSG_RESULT) {
		free(m->u.result.rows);
		m->u.result.rows = NULL;
		m->u.result.nrows = m->u.result.cap = 0;
		free(m->u.result.text);
		m->u.result.text = NULL;
	} else if (m && m->type == MSG_NODE_STATE) {
		free(m->u.node.leases);
		m->u.node.leases = NULL;
		m->u.node.nleases = 0;
		free(m->u.node.ended);
		m->u.node.ended = NULL;
		m->u.node.nended = 0;
	}
}

/* ---- result pages, written directly ------------------------------------------------ */

/* What follows a page's last row at most: `],"next":` 20 digits `}`. */
#define PAGE_TAIL_MAX 32

/* Room for n more bytes in p->text (p->err on failure). */
static bool page_room(struct msg_page *p, size_t n)
{
	char *more;
	size_t cap;

	if (p->err)
		return false;
	if (p->len + n + 1 <= p->cap)
		return true;
	cap = p->cap ? p->cap : 4096;
	while (cap < p->len + n + 1)
		cap *= 2;
	more = realloc(p->text, cap);
	if (!more) {
		p->err = -ENOMEM;
		return false;
	}
	p->text = more;
	p->cap = cap;
	return true;
}

static void page_put(struct msg_page *p, const char *s, size_t n)
{
	if (page_room(p, n)) {
		memcpy(p->text + p->len, s, n);
		p->len += n;
		p->text[p->len] = '\0';
	}
}

#define PAGE_PUTS(p, lit) page_put((p), (lit), sizeof(lit) - 1)

static void page_int(struct msg_page *p, long long v)
{
	char num[24], *e = num + sizeof(num), *d = e;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do
		*--d = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--d = '-';
	page_put(p, d, (size_t)(e - d));
}

/* The length of the valid UTF-8 sequence at s (of n bytes), as the JSON
 * library checks it (no overlong forms, no surrogates, at most U+10FFFF);
 * 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0x3f >> (len - 1));
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* s (n bytes) as a JSON string, escaped as the JSON library's compact
 * output escapes it. */
static void page_str(struct msg_page *p, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	if (!page_room(p, 2 + 6 * n))
		return;
	p->text[p->len++] = '"';
	while (i < n) {
		size_t run = i, len;
		char *o;

		while (run < n && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\' &&
		       s[run] < 0x80)
			run++;
		memcpy(p->text + p->len, s + i, run - i);
		p->len += run - i;
		i = run;
		if (i == n)
			break;
		o = p->text + p->len;
		if (s[i] >= 0x80) {
			len = utf8_len(s + i, n - i);
			if (len) {
				memcpy(o, s + i, len);
				p->len += len;
				i += len;
			} else { /* not UTF-8: U+FFFD */
				memcpy(o, "\xef\xbf\xbd", 3);
				p->len += 3;
				i++;
			}
			continue;
		}
		o[0] = '\\';
		switch (s[i]) {
		case '"':
		case '\\':
			o[1] = (char)s[i];
			break;
		case '\b':
			o[1] = 'b';
			break;
		case '\f':
			o[1] = 'f';
			break;
		case '\n':
			o[1] = 'n';
			break;
		case '\r':
			o[1] = 'r';
			break;
		case '\t':
			o[1] = 't';
			break;
		default:
			snprintf(o + 1, 6, "u%04X", s[i]);
			p->len += 4;
		}
		p->len += 2;
		i++;
	}
	p->text[p->len++] = '"';
	p->text[p->len] = '\0';
}

/* One row as an object, its fields in table order. */
static void page_row(struct msg_page *p, const struct row_field *row_f, const union msg_row *row)
{
	const char *s;
	size_t len;

	for (const struct row_field *f = row_f; f->key; f++) {
		size_t klen = strlen(f->key);

		if (!page_room(p, klen + 4))
			return;
		p->text[p->len++] = f == row_f ? '{' : ',';
		p->text[p->len++] = '"';
		memcpy(p->text + p->len, f->key, klen);
		p->len += klen;
		p->text[p->len++] = '"';
		p->text[p->len++] = ':';
		switch (f->kind) {
		case ROW_STR:
		case ROW_NAME:
		case ROW_LIST:
			s = row_str(f, row, &len);
			page_str(p, s, len);
			break;
		case ROW_BOOL:
			if (row_uint(f, row))
				PAGE_PUTS(p, "true");
			else
				PAGE_PUTS(p, "false");
			break;
		case ROW_INT:
		case ROW_UINT:
			page_int(p, (long long)(int64_t)row_uint(f, row));
			break;
		}
	}
	page_put(p, "}", 1);
}

int msg_page_init(struct msg_page *p, enum msg_query what, size_t limit)
{
	memset(p, 0, sizeof(*p));
	if (!rows_of(what) || limit < 64 + PAGE_TAIL_MAX)
		return -EINVAL;
	p->what = what;
	p->limit = limit;
	PAGE_PUTS(p, "{\"v\":1,\"type\":\"result\",\"what\":");
	page_str(p, query_names[what], strlen(query_names[what]));
	PAGE_PUTS(p, ",\"items\":[");
	p->items_at = p->len - 1;
	return p->err;
}

int msg_page_add(struct msg_page *p, const union msg_row *row)
{
	size_t before = p->len;

	if (p->err)
		return p->err;
	if (!rows_of(p->what))
		return -EINVAL;
	if (p->nrows >= MSG_RESULT_MAX)
		return -E2BIG;
	if (p->nrows)
		page_put(p, ",", 1);
	page_row(p, rows_of(p->what), row);
	if (p->err)
		return p->err;
	if (p->len > p->limit || p->limit - p->len < PAGE_TAIL_MAX) {
		p->len = before;
		p->text[p->len] = '\0';
		return -ENOSPC;
	}
	p->nrows++;
	return 0;
}

int msg_page_finish(struct msg_page *p, uint64_t next, struct msg *m)
{
	size_t items_end;
	int rc = p->err;

	if (!rc && !rows_of(p->what))
		rc = -EINVAL;
	if (!rc) {
		page_put(p, "]", 1);
		items_end = p->len;
		if (next) {
			PAGE_PUTS(p, ",\"next\":");
			page_int(p, (long long)next);
		}
		page_put(p, "}", 1);
		rc = p->err;
	}
	if (rc) {
		msg_page_fini(p);
		return rc;
	}
	memset(m, 0, sizeof(*m));
	m->type = MSG_RESULT;
	m->u.result.what = p->what;
	m->u.result.next = next;
	m->u.result.nrows = p->nrows;
	m->u.result.text = p->text;
	m->u.result.items_at = p->items_at;
	m->u.result.items_end = items_end;
	p->text = NULL;
	msg_page_fini(p);
	return 0;
}

void msg_page_fini(struct msg_page *p)
{
	free(p->text);
	memset(p, 0, sizeof(*p));
}

/* m, a result with rows, written directly (msg_page_*), without a limit,
 * into out (msg_free). */
static int write_result(const struct msg *m, struct msg *out)
{
	const struct row_field *row = rows_of(m->u.result.what);
	struct msg_page p;
	int rc;

	if (!row || m->u.result.nrows > MSG_RESULT_MAX || (m->u.result.nrows && !m->u.result.rows))
		return -EINVAL;
	rc = msg_page_init(&p, m->u.result.what, SIZE_MAX);
	for (uint32_t i = 0; !rc && i < m->u.result.nrows; i++)
		rc = msg_page_add(&p, &m->u.result.rows[i]);
	if (!rc)
		rc = msg_page_finish(&p, m->u.result.next, out);
	msg_page_fini(&p);
	return rc;
}

/* m, a result, as text: its own when it was written as a page. */
static int encode_result(const struct msg *m, char **text)
{
	struct msg out;
	int rc;

	*text = NULL;
	if (m->u.result.text) {
		*text = strdup(m->u.result.text);
		return *text ? 0 : -ENOMEM;
	}
	rc = write_result(m, &out);
	if (!rc)
		*text = out.u.result.text;
	return rc;
}

/* ---- encoding ---------------------------------------------------------------- */

static int set(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

/* Appends one node_state lease to the array a. */
static int encode_lease(json_t *a, const struct msg_node_lease *l)
{
	json_t *o = json_object();
	int rc = 0;

	if (json_array_append_new(a, o))
		return -ENOMEM;
	rc |= set(o, "id", json_string(l->id));
	rc |= set(o, "uid", json_integer(l->uid));
	rc |= set(o, "workers", json_integer(l->workers));
	rc |= set(o, "pus", json_string(l->pus));
	rc |= set(o, "mem", json_integer((json_int_t)l->mem));
	rc |= set(o, "gpus", json_integer(l->gpus));
	rc |= set(o, "expires", json_integer(l->expires));
	rc |= set(o, "state", json_string(l->ready ? "ready" : "starting"));
	rc |= set(o, "pid", json_integer(l->pid));
	return rc ? -ENOMEM : 0;
}

static json_t *record_object(const struct msg_usage *u);

/* Appends one node_state ended lease to the array a. */
static int encode_ended(json_t *a, const struct msg_node_ended *e)
{
	json_t *o = json_object();
	int rc = 0;

	if (json_array_append_new(a, o))
		return -ENOMEM;
	rc |= set(o, "id", json_string(e->id));
	rc |= set(o, "state", json_string(e->state));
	rc |= set(o, "why", json_string(e->why));
	if (!rc && e->has_usage)
		rc = set(o, "usage", record_object(&e->usage));
	return rc ? -ENOMEM : 0;
}

/* One row field as a JSON value (NULL: out of memory). */
static json_t *row_value(const struct row_field *f, const union msg_row *row)
{
	const char *s;
	size_t len;

	switch (f->kind) {
	case ROW_STR:
	case ROW_NAME:
	case ROW_LIST:
		s = row_str(f, row, &len);
		return json_stringn(s, len);
	case ROW_BOOL:
		return json_boolean(row_uint(f, row));
	case ROW_INT:
		return json_integer((json_int_t)(int64_t)row_uint(f, row));
	case ROW_UINT:
		break;
	}
	return json_integer((json_int_t)row_uint(f, row));
}

/* The fields of row as an object (NULL: out of memory). */
static json_t *row_object(const struct row_field *row_f, const union msg_row *row)
{
	json_t *o = json_object();

	for (const struct row_field *f = row_f; o && f->key; f++)
		if (set(o, f->key, row_value(f, row))) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static json_t *record_object(const struct msg_usage *u)
{
	return row_object(record_row, (const union msg_row *)u);
}

/* The rows of m, a result, as a JSON array (*out, the caller's). -EINVAL
 * when m is not a result or its rows are out of bounds, -ENOMEM. */
static int encode_rows(const struct msg *m, json_t **out)
{
	const struct row_field *row = m->type == MSG_RESULT ? rows_of(m->u.result.what) : NULL;
	json_t *a;

	*out = NULL;
	if (!row || m->u.result.nrows > MSG_RESULT_MAX || (m->u.result.nrows && !m->u.result.rows))
		return -EINVAL;
	a = json_array();
	if (!a)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->u.result.nrows; i++)
		if (json_array_append_new(a, row_object(row, &m->u.result.rows[i])))
			goto put_array;
	*out = a;
	return 0;
put_array:
	json_decref(a);
	return -ENOMEM;
}

static int encode_node(const struct msg *m, json_t *o)
{
	json_t *leases = json_array(), *ended = json_array();
	int rc = 0;

	if ((m->u.node.nleases && !m->u.node.leases) || m->u.node.nleases > MSG_NODE_LEASES_MAX ||
	    (m->u.node.nended && !m->u.node.ended) || m->u.node.nended > MSG_NODE_ENDED_MAX) {
		json_decref(leases);
		json_decref(ended);
		return -EINVAL;
	}
	/* o owns both arrays from here on, also when set() fails */
	rc |= set(o, "leases", leases);
	rc |= set(o, "ended", ended);
	if (rc)
		return -ENOMEM;
	rc |= set(o, "cred", json_string(m->cred));
	rc |= set(o, "node", json_string(m->u.node.node));
	rc |= set(o, "port", json_integer(m->u.node.port));
	rc |= set(o, "pus", json_string(m->u.node.pus));
	rc |= set(o, "mem", json_integer((json_int_t)m->u.node.mem));
	rc |= set(o, "ngpus", json_integer(m->u.node.ngpus));
	rc |= set(o, "lendable", json_string(m->u.node.lendable));
	rc |= set(o, "unallocated", json_string(m->u.node.unallocated));
	rc |= set(o, "near_host", json_string(m->u.node.near_host));
	rc |= set(o, "cgroup", json_string(m->u.node.cgroup));
	rc |= set(o, "mem_lendable", json_integer((json_int_t)m->u.node.mem_lendable));
	rc |= set(o, "gpus_lendable", json_integer(m->u.node.gpus_lendable));
	rc |= set(o, "until", json_integer(m->u.node.until));
	rc |= set(o, "jobs", json_integer(m->u.node.jobs));
	if (m->u.node.gen)
		rc |= set(o, "gen", json_integer((json_int_t)m->u.node.gen));
	for (uint32_t i = 0; !rc && i < m->u.node.nleases; i++)
		rc = encode_lease(leases, &m->u.node.leases[i]);
	for (uint32_t i = 0; !rc && i < m->u.node.nended; i++)
		rc = encode_ended(ended, &m->u.node.ended[i]);
	return rc ? -ENOMEM : 0;
}

static int encode_body(const struct msg *m, json_t *o)
{
	int rc = 0;

	switch (m->type) {
	case MSG_OK:
		break;
	case MSG_ERROR:
		rc |= set(o, "code", json_string(m->u.error.code));
		rc |= set(o, "message", json_string(m->u.error.message));
		break;
	case MSG_LEASE_ACQUIRE:
		rc |= set(o, "cred", json_string(m->cred));
		rc |= set(o, "workers", json_integer(m->u.acquire.workers));
		rc |= set(o, "lib", json_string(m->u.acquire.lib));
		rc |= set(o, "mem", json_integer((json_int_t)m->u.acquire.mem));
		rc |= set(o, "gpus", json_integer(m->u.acquire.gpus));
		rc |= set(o, "time", json_integer(m->u.acquire.time));
		rc |= set(o, "mode", json_string(m->u.acquire.pack ? "pack" : "spread"));
		rc |= set(o, "job", json_integer(m->u.acquire.job));
		if (m->u.acquire.remote_mem)
			rc |=
			    set(o, "remote_mem", json_integer((json_int_t)m->u.acquire.remote_mem));
		break;
	case MSG_LEASE_GRANT: {
		json_error_t e;
		json_t *lease = m->u.grant.lease ? json_loads(m->u.grant.lease, 0, &e) : NULL;

		if (!json_is_object(lease)) {
			json_decref(lease);
			return -EINVAL;
		}
		if (m->cred[0]) /* an unauthenticated grant: the local agent's */
			rc |= set(o, "cred", json_string(m->cred));
		rc |= set(o, "id", json_string(m->u.grant.id));
		rc |= set(o, "lease", lease);
		break;
	}
	case MSG_LEASE_RELEASE:
		rc |= set(o, "cred", json_string(m->cred));
		rc |= set(o, "id", json_string(m->u.release.id));
		break;
	case MSG_QUERY:
		if ((unsigned)m->u.query >= sizeof(query_names) / sizeof(query_names[0]) ||
		    !query_names[m->u.query])
			return -EINVAL;
		rc |= set(o, "cred", json_string(m->cred));
		rc |= set(o, "what", json_string(query_names[m->u.query]));
		if (m->filter.from)
			rc |= set(o, "from", json_integer((json_int_t)m->filter.from));
		if (m->filter.has_user && m->u.query != MSG_QUERY_NODES &&
		    m->u.query != MSG_QUERY_GAPS)
			rc |= set(o, "user", json_integer(m->filter.user));
		if (m->filter.state[0] && m->u.query == MSG_QUERY_NODES)
			rc |= set(o, "state", json_string(m->filter.state));
		if (m->filter.min_cores && m->u.query == MSG_QUERY_GAPS)
			rc |= set(o, "min_cores", json_integer(m->filter.min_cores));
		if (m->u.query != MSG_QUERY_USAGE && m->u.query != MSG_QUERY_RECORDS) {
			if (m->filter.stream)
				rc |= set(o, "stream", json_true());
			break;
		}
		if ((unsigned)m->filter.by > MSG_BY_LEASE)
			return -EINVAL;
		rc |= set(o, "by", json_string(by_names[m->filter.by]));
		rc |= set(o, "since", json_integer(m->filter.since));
		if (m->filter.host_job)
			rc |= set(o, "host_job", json_integer(m->filter.host_job));
		break;
	case MSG_JOB_START:
		rc |= set(o, "job", json_integer(m->u.job_start.job));
		rc |= set(o, "uid", json_integer(m->u.job_start.uid));
		rc |= set(o, "pus", json_string(m->u.job_start.pus));
		rc |= set(o, "mem", json_integer((json_int_t)m->u.job_start.mem));
		rc |= set(o, "mem_need", json_integer((json_int_t)m->u.job_start.mem_need));
		rc |= set(o, "gpus", json_integer(m->u.job_start.gpus));
		rc |= set(o, "consent", json_boolean(m->u.job_start.consent));
		rc |= set(o, "end", json_integer(m->u.job_start.end));
		break;
	case MSG_STEP_START:
		rc |= set(o, "pus", json_string(m->u.step.pus));
		rc |= set(o, "mem", json_integer((json_int_t)m->u.step.mem));
		rc |= set(o, "gpus", json_integer(m->u.step.gpus));
		/* fall through */
	case MSG_STEP_END:
		rc |= set(o, "job", json_integer(m->u.step.job));
		rc |= set(o, "step", json_integer(m->u.step.step));
		break;
	case MSG_JOB_END:
		rc |= set(o, "job", json_integer(m->u.job_end));
		break;
	case MSG_RESULT: {
		json_t *items;

		rc = encode_rows(m, &items);
		if (rc)
			return rc;
		rc |= set(o, "what", json_string(query_names[m->u.result.what]));
		rc |= set(o, "items", items);
		if (m->u.result.next)
			rc |= set(o, "next", json_integer((json_int_t)m->u.result.next));
		break;
	}
	case MSG_NODE_STATE:
		return encode_node(m, o);
	case MSG_EXEC_START:
		rc |= set(o, "uid", json_integer(m->u.exec.uid));
		rc |= set(o, "gid", json_integer(m->u.exec.gid));
		rc |= set(o, "workers", json_integer(m->u.exec.workers));
		rc |= set(o, "pus", json_string(m->u.exec.pus));
		rc |= set(o, "mem", json_integer((json_int_t)m->u.exec.mem));
		rc |= set(o, "gpus", json_integer(m->u.exec.gpus));
		rc |= set(o, "lib", json_string(m->u.exec.lib));
		rc |= set(o, "expires", json_integer(m->u.exec.expires));
		if (m->u.exec.job)
			rc |= set(o, "job", json_integer(m->u.exec.job));
		if (m->u.exec.remote_mem)
			rc |= set(o, "remote_mem", json_integer((json_int_t)m->u.exec.remote_mem));
		/* fall through */
	case MSG_EXEC_STOP:
		rc |= set(o, "cred", json_string(m->cred));
		rc |= set(o, "id", json_string(m->u.exec.id));
		break;
	case MSG_DRAIN:
		rc |= set(o, "cred", json_string(m->cred));
		rc |= set(o, "node", json_string(m->u.drain.node));
		rc |= set(o, "drain", json_boolean(m->u.drain.drain));
		break;
	case MSG_HEARTBEAT:
		rc |= set(o, "cred", json_string(m->cred));
		rc |= set(o, "node", json_string(m->u.node.node));
		rc |= set(o, "gen", json_integer((json_int_t)m->u.node.gen));
		break;
	default:
		return -EINVAL;
	}
	return rc ? -ENOMEM : 0;
}

/* m as a JSON object (*o, the caller's), or -errno. */
static int encode_tree(const struct msg *m, json_t **o)
{
	int rc;

	*o = json_object();
	if (!*o)
		return -ENOMEM;
	rc = set(*o, "v", json_integer(MSG_VERSION));
	if (!rc)
		rc = set(*o, "type", json_string(msg_type_name(m->type)));
	if (!rc)
		rc = encode_body(m, *o);
	if (rc) {
		json_decref(*o);
		*o = NULL;
	}
	return rc;
}

/* "ok" as encode_tree and json_dumps write it: the controller answers
 * every heartbeat with it, without building it each time. */
#define OK_TEXT "{\"v\":1,\"type\":\"ok\"}"

int msg_encode(const struct msg *m, char **text)
{
	if (m->type == MSG_OK) {
		*text = strdup(OK_TEXT);
		return *text ? 0 : -ENOMEM;
	}
	if (m->type == MSG_RESULT)
		return encode_result(m, text);
	return msg_encode_json(m, text);
}

int msg_encode_json(const struct msg *m, char **text)
{
	json_t *o;
	int rc = encode_tree(m, &o);

	*text = rc ? NULL : json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return rc ? rc : *text ? 0 : -ENOMEM;
}

/* The digest of o without its "cred": SHA-256 of its canonical text. The
 * same value gives the same text whatever order, blanks or escapes it
 * arrived with. */
static int tree_digest(json_t *o, uint8_t out[MSG_DIGEST_LEN])
{
	json_t *c = json_copy(o); /* shallow: the values are shared, not copied */
	char *text;

	if (!c)
		return -ENOMEM;
	json_object_del(c, "cred");
	text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(c);
	if (!text)
		return -ENOMEM;
	sha256(text, strlen(text), out);
	free(text);
	return 0;
}

int msg_digest(const struct msg *m, uint8_t out[MSG_DIGEST_LEN])
{
	json_t *o;
	int rc = encode_tree(m, &o);

	if (rc)
		return rc;
	rc = tree_digest(o, out);
	json_decref(o);
	return rc;
}

/* ---- decoding ---------------------------------------------------------------- */

/* o is the object being decoded: the message, or one element of its array
 * named array (index index), which errors name first. */
struct dec {
	json_t *o;
	const char *type;
	const char *array;
	size_t index;
	const struct row_field *row; /* a result's items: the fields of a row */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct dec *d, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(d->err, d->errlen, "%s message: ", d->type ? d->type : "control");

	if (d->array && n >= 0 && (size_t)n < d->errlen)
		n += snprintf(d->err + n, d->errlen - (size_t)n, "\"%s\"[%zu]: ", d->array,
			      d->index);
	if (n >= 0 && (size_t)n < d->errlen) {
		va_start(ap, fmt);
		vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EPROTO;
}

static int get_uint(struct dec *d, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(d->o, key);
	json_int_t i;

	if (!json_is_integer(v))
		return fail(d, "\"%s\" must be an integer", key);
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return fail(d, "\"%s\" is %lld, outside %llu..%llu", key, (long long)i,
			    (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)i;
	return 0;
}

static int get_u32(struct dec *d, const char *key, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	int rc = get_uint(d, key, min, max, &v);

	if (!rc)
		*out = (uint32_t)v;
	return rc;
}

static int get_str(struct dec *d, const char *key, char *out, size_t max, bool may_be_empty)
{
	json_t *v = json_object_get(d->o, key);

	if (!json_is_string(v))
		return fail(d, "\"%s\" must be a string", key);
	if (json_string_length(v) >= max || (!may_be_empty && json_string_length(v) == 0))
		return fail(d, "\"%s\" must have %s%zu characters at most", key,
			    may_be_empty ? "" : "1 to ", max - 1);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(d, "\"%s\" contains a NUL character", key);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_bool(struct dec *d, const char *key, bool *out)
{
	json_t *v = json_object_get(d->o, key);

	if (!json_is_boolean(v))
		return fail(d, "\"%s\" must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

/* A list of numbers, of CPUs or GPUs: digits, commas and dashes only (the
 * topology module parses it). */
static int get_list(struct dec *d, const char *key, char *out, size_t max, bool may_be_empty)
{
	int rc = get_str(d, key, out, max, may_be_empty);

	if (!rc && strspn(out, "0123456789,-") != strlen(out))
		return fail(d, "\"%s\" must be a cpu list like \"0-3,8\"", key);
	return rc;
}

static int get_cpulist(struct dec *d, const char *key, char *out, bool may_be_empty)
{
	return get_list(d, key, out, MSG_CPULIST_MAX, may_be_empty);
}

/* A lease id or a node name: it becomes a cgroup, a directory or a file
 * name, so letters, digits, '-', '_' and '.' only, the first a letter or a
 * digit (no "/", no ".." and no option-like "-x"). */
static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool name_ok(const char *s)
{
	if (!is_alnum(s[0]))
		return false;
	while (*++s)
		if (!is_alnum(*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

static int get_name(struct dec *d, const char *key, char *out, size_t max)
{
	int rc = get_str(d, key, out, max, false);

	if (!rc && !name_ok(out))
		return fail(d,
			    "\"%s\" must be letters, digits, '-', '_' and '.', the first a letter "
			    "or a digit, not \"%s\"",
			    key, out);
	return rc;
}

/* Fails on a field of d->o that is not in names (nor "v" and "type", when
 * the object is the message itself). */
static int check_fields(struct dec *d, const char *const *names, bool message)
{
	const char *key;
	json_t *val;

	json_object_foreach(d->o, key, val)
	{
		bool known = message && (strcmp(key, "v") == 0 || strcmp(key, "type") == 0);

		for (unsigned i = 0; !known && names[i]; i++)
			known = strcmp(key, names[i]) == 0;
		if (!known)
			return fail(d, "unknown field \"%s\"", key);
	}
	return 0;
}

/* The array d->o[key], of at most max elements, into *a (borrowed). */
static int get_array(struct dec *d, const char *key, size_t max, json_t **a)
{
	*a = json_object_get(d->o, key);
	if (!json_is_array(*a))
		return fail(d, "\"%s\" must be an array", key);
	if (json_array_size(*a) > max)
		return fail(d, "\"%s\" has %zu elements, at most %zu", key, json_array_size(*a),
			    max);
	return 0;
}

/* Decodes d->o (one element of "leases") into l. */
static int decode_lease(struct dec *d, void *out)
{
	struct msg_node_lease *l = out;
	uint64_t expires = 0, pid = 0;
	char state[16];

	if (check_fields(d, lease_fields, false))
		return -EPROTO;
	if (get_name(d, "id", l->id, sizeof(l->id)) ||
	    get_u32(d, "uid", 1, UINT32_MAX - 1, &l->uid) ||
	    get_u32(d, "workers", 0, LEASE_MAX_WORKERS, &l->workers) || /* 0: a memory lease */
	    get_cpulist(d, "pus", l->pus, true) ||
	    get_uint(d, "mem", 0, (uint64_t)1 << 51, &l->mem) ||
	    get_u32(d, "gpus", 0, UINT32_MAX, &l->gpus) ||
	    get_uint(d, "expires", 0, (uint64_t)1 << 40, &expires) ||
	    get_str(d, "state", state, sizeof(state), false) ||
	    get_uint(d, "pid", 0, INT32_MAX, &pid))
		return -EPROTO;
	if (strcmp(state, "starting") && strcmp(state, "ready"))
		return fail(d, "\"state\" must be \"starting\" or \"ready\", not \"%s\"", state);
	l->ready = strcmp(state, "ready") == 0;
	l->expires = (int64_t)expires;
	l->pid = (int64_t)pid;
	return 0;
}

static int decode_record(struct dec *d, const char *key, struct msg_usage *u);

/* Decodes d->o (one element of "ended") into e. */
static int decode_ended(struct dec *d, void *out)
{
	struct msg_node_ended *e = out;
	unsigned i;

	if (check_fields(d, ended_fields, false))
		return -EPROTO;
	if (get_name(d, "id", e->id, sizeof(e->id)) ||
	    get_str(d, "state", e->state, sizeof(e->state), false) ||
	    get_str(d, "why", e->why, sizeof(e->why), true))
		return -EPROTO;
	for (i = 0; ended_states[i] && strcmp(e->state, ended_states[i]); i++)
		;
	if (!ended_states[i])
		return fail(d, "\"state\" must be released, expired, evicted or failed, not \"%s\"",
			    e->state);
	if (!json_object_get(d->o, "usage"))
		return 0;
	e->has_usage = true;
	return decode_record(d, "usage", &e->usage);
}

/* Decodes field f of d->o into row. */
static int decode_field(struct dec *d, const struct row_field *f, union msg_row *row)
{
	char *p = (char *)row + f->off, values[128] = "";
	uint64_t v = 0;
	bool b = false;
	unsigned i;

	switch (f->kind) {
	case ROW_NAME:
		return get_name(d, f->key, p, f->size);
	case ROW_LIST:
		return get_list(d, f->key, p, f->size, true);
	case ROW_STR:
		if (get_str(d, f->key, p, f->size, f->may_be_empty))
			return -EPROTO;
		for (i = 0; f->one_of && f->one_of[i] && strcmp(p, f->one_of[i]); i++)
			;
		if (!f->one_of || f->one_of[i])
			return 0;
		for (i = 0; f->one_of[i]; i++)
			snprintf(values + strlen(values), sizeof(values) - strlen(values), "%s%s",
				 i ? ", " : "", f->one_of[i]);
		return fail(d, "\"%s\" must be one of %s, not \"%s\"", f->key, values, p);
	case ROW_BOOL:
		if (get_bool(d, f->key, &b))
			return -EPROTO;
		v = b;
		break;
	case ROW_UINT:
	case ROW_INT:
		if (get_uint(d, f->key, 0, f->max, &v))
			return -EPROTO;
		break;
	}
	row_set_uint(f, row, v);
	return 0;
}

/* Decodes d->o (one element of a result's "items") into a row, by the
 * fields d->row. */
static int decode_row(struct dec *d, void *out)
{
	const char *names[ROW_FIELDS_MAX];
	unsigned n = 0;

	for (const struct row_field *f = d->row; f->key && n + 1 < ROW_FIELDS_MAX; f++)
		names[n++] = f->key;
	names[n] = NULL;
	if (check_fields(d, names, false))
		return -EPROTO;
	for (const struct row_field *f = d->row; f->key; f++)
		if (decode_field(d, f, out))
			return -EPROTO;
	return 0;
}

/* Decodes the object d->o[key] (NULL: d->o itself) as a usage record. */
static int decode_record(struct dec *d, const char *key, struct msg_usage *u)
{
	struct dec e = *d;

	if (key) {
		e.o = json_object_get(d->o, key);
		if (!json_is_object(e.o))
			return fail(d, "\"%s\" must be an object (a usage record)", key);
	}
	e.row = record_row;
	return decode_row(&e, u);
}

/* Decodes the element objects of d->o[key] with fn into the calloc'd *out
 * of *n elements of size size (NULL when there are none). On failure *out
 * may hold what was decoded so far: the caller frees it. */
static int decode_array(struct dec *d, const char *key, size_t max, size_t size, void **out,
			uint32_t *n, int (*fn)(struct dec *, void *))
{
	struct dec e = *d;
	json_t *a;

	if (get_array(d, key, max, &a))
		return -EPROTO;
	if (json_array_size(a) == 0)
		return 0;
	*out = calloc(json_array_size(a), size);
	if (!*out)
		return -ENOMEM;
	*n = (uint32_t)json_array_size(a);
	e.array = key;
	for (e.index = 0; e.index < *n; e.index++) {
		e.o = json_array_get(a, e.index);
		if (!json_is_object(e.o))
			return fail(&e, "must be an object");
		if (fn(&e, (char *)*out + e.index * size))
			return -EPROTO;
	}
	return 0;
}

static int decode_node(struct dec *d, struct msg *m)
{
	uint64_t port = 0, until = 0;
	void *leases = NULL, *ended = NULL;
	int rc;

	rc = get_str(d, "cred", m->cred, sizeof(m->cred), false) ||
	     get_name(d, "node", m->u.node.node, sizeof(m->u.node.node)) ||
	     get_uint(d, "port", 1, 65535, &port) || get_cpulist(d, "pus", m->u.node.pus, false) ||
	     get_uint(d, "mem", 0, (uint64_t)1 << 50, &m->u.node.mem) ||
	     get_u32(d, "ngpus", 0, 32, &m->u.node.ngpus) ||
	     get_cpulist(d, "lendable", m->u.node.lendable, true) ||
	     get_cpulist(d, "unallocated", m->u.node.unallocated, true) ||
	     get_cpulist(d, "near_host", m->u.node.near_host, true) ||
	     get_str(d, "cgroup", m->u.node.cgroup, sizeof(m->u.node.cgroup), false) ||
	     get_uint(d, "mem_lendable", 0, (uint64_t)1 << 50, &m->u.node.mem_lendable) ||
	     get_u32(d, "gpus_lendable", 0, UINT32_MAX, &m->u.node.gpus_lendable) ||
	     get_uint(d, "until", 0, (uint64_t)1 << 40, &until) ||
	     get_u32(d, "jobs", 0, UINT32_MAX, &m->u.node.jobs) ||
	     (json_object_get(d->o, "gen") && get_uint(d, "gen", 1, MSG_GEN_MAX, &m->u.node.gen));
	if (rc)
		return -EPROTO;
	m->u.node.port = (uint16_t)port;
	m->u.node.until = (int64_t)until;
	rc = decode_array(d, "leases", MSG_NODE_LEASES_MAX, sizeof(struct msg_node_lease), &leases,
			  &m->u.node.nleases, decode_lease);
	m->u.node.leases = leases;
	if (rc)
		return rc;
	rc = decode_array(d, "ended", MSG_NODE_ENDED_MAX, sizeof(struct msg_node_ended), &ended,
			  &m->u.node.nended, decode_ended);
	m->u.node.ended = ended;
	return rc;
}

/* A query's optional "by", "since", "user" and "host_job" (usage and
 * records only). */
static int decode_filter(struct dec *d, struct msg *m)
{
	struct msg_usage_filter *f = &m->filter;
	bool usage = m->u.query == MSG_QUERY_USAGE || m->u.query == MSG_QUERY_RECORDS;
	static const char *const usage_fields[] = {"cred",  "what",	"user", "by",
						   "since", "host_job", NULL};
	uint64_t since = 0;
	char by[16];

	if (json_object_get(d->o, "from") && get_uint(d, "from", 1, INT64_MAX, &f->from))
		return -EPROTO;
	if (json_object_get(d->o, "user") && m->u.query != MSG_QUERY_NODES &&
	    m->u.query != MSG_QUERY_GAPS) {
		f->has_user = true;
		if (get_u32(d, "user", 0, UINT32_MAX - 1, &f->user))
			return -EPROTO;
	}
	if (!usage) {
		static const char *const nodes[] = {"cred",  "what",   "from",
						    "state", "stream", NULL};
		static const char *const gaps[] = {"cred",	"what",	  "from",
						   "min_cores", "stream", NULL};
		static const char *const leases[] = {"cred", "what",   "from",
						     "user", "stream", NULL};

		if (json_object_get(d->o, "stream") && get_bool(d, "stream", &f->stream))
			return -EPROTO;
		if (m->u.query == MSG_QUERY_NODES && json_object_get(d->o, "state")) {
			if (get_str(d, "state", f->state, sizeof(f->state), false))
				return -EPROTO;
			if (strcmp(f->state, "up") && strcmp(f->state, "down") &&
			    strcmp(f->state, "drained"))
				return fail(d, "\"state\" must be " MSG_NODE_STATES ", not \"%s\"",
					    f->state);
		}
		if (m->u.query == MSG_QUERY_GAPS && json_object_get(d->o, "min_cores") &&
		    get_u32(d, "min_cores", 1, 1024, &f->min_cores))
			return -EPROTO;
		return check_fields(d,
				    m->u.query == MSG_QUERY_NODES  ? nodes
				    : m->u.query == MSG_QUERY_GAPS ? gaps
								   : leases,
				    true);
	}
	if (check_fields(d, usage_fields, true))
		return -EPROTO;
	if (json_object_get(d->o, "by")) {
		if (get_str(d, "by", by, sizeof(by), false))
			return -EPROTO;
		if (msg_usage_by_parse(by, &f->by))
			return fail(d, "\"by\" must be user, host-job, node or lease, not \"%s\"",
				    by);
	}
	if ((json_object_get(d->o, "since") && get_uint(d, "since", 0, TIME_MAX, &since)) ||
	    (json_object_get(d->o, "host_job") &&
	     get_u32(d, "host_job", 1, UINT32_MAX, &f->host_job)))
		return -EPROTO;
	f->since = (int64_t)since;
	return 0;
}

static int decode_body(struct dec *d, struct msg *m)
{
	char mode[16], what[16];
	uint64_t v = 0;
	int rc = 0;

	switch (m->type) {
	case MSG_OK:
		return 0;
	case MSG_ERROR:
		return get_str(d, "code", m->u.error.code, sizeof(m->u.error.code), false) ||
			       get_str(d, "message", m->u.error.message, sizeof(m->u.error.message),
				       true)
			   ? -EPROTO
			   : 0;
	case MSG_LEASE_ACQUIRE:
		rc = get_str(d, "cred", m->cred, sizeof(m->cred), false) ||
		     get_u32(d, "workers", 0, LEASE_MAX_WORKERS, &m->u.acquire.workers) ||
		     get_str(d, "lib", m->u.acquire.lib, sizeof(m->u.acquire.lib), true) ||
		     get_uint(d, "mem", 0, LEASE_MAX_MEM, &m->u.acquire.mem) ||
		     get_u32(d, "gpus", 0, LEASE_MAX_GPUS, &m->u.acquire.gpus) ||
		     get_u32(d, "time", 1, LEASE_MAX_TIME_S, &m->u.acquire.time) ||
		     get_str(d, "mode", mode, sizeof(mode), false) ||
		     get_u32(d, "job", 0, UINT32_MAX, &m->u.acquire.job) ||
		     (json_object_get(d->o, "remote_mem") &&
		      get_uint(d, "remote_mem", LEASE_MIN_REMOTE_MEM, LEASE_MAX_REMOTE_MEM,
			       &m->u.acquire.remote_mem));
		if (rc)
			return -EPROTO;
		if (m->u.acquire.remote_mem) {
			if (m->u.acquire.workers || m->u.acquire.lib[0] || m->u.acquire.mem ||
			    m->u.acquire.gpus)
				return fail(d, "a memory lease (\"remote_mem\") has 0 \"workers\", "
					       "\"mem\" and \"gpus\" and an empty \"lib\"");
		} else if (m->u.acquire.workers == 0)
			return fail(
			    d,
			    "\"workers\" is 0: a lease has 1 to %d, or is a memory lease (\"remote_mem\")",
			    LEASE_MAX_WORKERS);
		else if (m->u.acquire.lib[0] != '/')
			return fail(d, "\"lib\" must be an absolute path, not \"%s\"",
				    m->u.acquire.lib);
		if (strcmp(mode, "spread") && strcmp(mode, "pack"))
			return fail(d, "\"mode\" must be \"spread\" or \"pack\", not \"%s\"", mode);
		m->u.acquire.pack = strcmp(mode, "pack") == 0;
		return 0;
	case MSG_LEASE_GRANT: {
		json_t *lease = json_object_get(d->o, "lease");

		/* cred: optional here; the receiver refuses a grant without one */
		if ((json_object_get(d->o, "cred") &&
		     get_str(d, "cred", m->cred, sizeof(m->cred), false)) ||
		    get_str(d, "id", m->u.grant.id, sizeof(m->u.grant.id), false))
			return -EPROTO;
		if (!json_is_object(lease))
			return fail(d, "\"lease\" must be an object (the lease document)");
		m->u.grant.lease = json_dumps(lease, JSON_COMPACT);
		return m->u.grant.lease ? 0 : -ENOMEM;
	}
	case MSG_LEASE_RELEASE:
		return get_str(d, "cred", m->cred, sizeof(m->cred), false) ||
			       get_str(d, "id", m->u.release.id, sizeof(m->u.release.id), false)
			   ? -EPROTO
			   : 0;
	case MSG_QUERY:
		if (get_str(d, "cred", m->cred, sizeof(m->cred), false))
			return -EPROTO;
		/* fall through */
	case MSG_RESULT: {
		enum msg_query q = 0;
		void *rows = NULL;

		if (get_str(d, "what", what, sizeof(what), false))
			return -EPROTO;
		for (unsigned i = MSG_QUERY_NODES; i < NQUERIES; i++)
			if (strcmp(what, query_names[i]) == 0)
				q = (enum msg_query)i;
		if (!q)
			return fail(d,
				    "\"what\" must be nodes, gaps, leases, executors, usage or "
				    "records, not \"%s\"",
				    what);
		if (m->type == MSG_QUERY) {
			m->u.query = q;
			return decode_filter(d, m);
		}
		m->u.result.what = q;
		d->row = rows_of(q);
		rc = decode_array(d, "items", MSG_RESULT_MAX, sizeof(union msg_row), &rows,
				  &m->u.result.nrows, decode_row);
		m->u.result.rows = rows;
		m->u.result.cap = m->u.result.nrows;
		if (!rc && json_object_get(d->o, "next") &&
		    get_uint(d, "next", 1, INT64_MAX, &m->u.result.next))
			return -EPROTO;
		return rc;
	}
	case MSG_JOB_START:
		rc = get_u32(d, "job", 1, UINT32_MAX, &m->u.job_start.job) ||
		     get_u32(d, "uid", 0, UINT32_MAX - 1, &m->u.job_start.uid) ||
		     get_cpulist(d, "pus", m->u.job_start.pus, false) ||
		     get_uint(d, "mem", 0, (uint64_t)1 << 50, &m->u.job_start.mem) ||
		     get_uint(d, "mem_need", 0, (uint64_t)1 << 50, &m->u.job_start.mem_need) ||
		     get_u32(d, "gpus", 0, UINT32_MAX, &m->u.job_start.gpus) ||
		     get_bool(d, "consent", &m->u.job_start.consent) ||
		     get_uint(d, "end", 0, (uint64_t)1 << 40, &v);
		if (rc)
			return -EPROTO;
		m->u.job_start.end = (int64_t)v;
		return 0;
	case MSG_STEP_START:
		if (get_cpulist(d, "pus", m->u.step.pus, false) ||
		    get_uint(d, "mem", 0, (uint64_t)1 << 50, &m->u.step.mem) ||
		    get_u32(d, "gpus", 0, UINT32_MAX, &m->u.step.gpus))
			return -EPROTO;
		/* fall through */
	case MSG_STEP_END:
		return get_u32(d, "job", 1, UINT32_MAX, &m->u.step.job) ||
			       get_u32(d, "step", 0, UINT32_MAX, &m->u.step.step)
			   ? -EPROTO
			   : 0;
	case MSG_JOB_END:
		return get_u32(d, "job", 1, UINT32_MAX, &m->u.job_end) ? -EPROTO : 0;
	case MSG_NODE_STATE:
		return decode_node(d, m);
	case MSG_EXEC_START:
		rc = get_str(d, "cred", m->cred, sizeof(m->cred), false) ||
		     get_name(d, "id", m->u.exec.id, sizeof(m->u.exec.id)) ||
		     get_u32(d, "uid", 1, UINT32_MAX - 1, &m->u.exec.uid) ||
		     get_u32(d, "gid", 0, UINT32_MAX - 1, &m->u.exec.gid) ||
		     get_u32(d, "workers", 0, LEASE_MAX_WORKERS, &m->u.exec.workers) ||
		     get_cpulist(d, "pus", m->u.exec.pus, true) ||
		     get_uint(d, "mem", 0, (uint64_t)1 << 51, &m->u.exec.mem) ||
		     get_u32(d, "gpus", 0, UINT32_MAX, &m->u.exec.gpus) ||
		     get_str(d, "lib", m->u.exec.lib, sizeof(m->u.exec.lib), true) ||
		     get_uint(d, "expires", 0, (uint64_t)1 << 40, &v) ||
		     (json_object_get(d->o, "job") &&
		      get_u32(d, "job", 0, UINT32_MAX, &m->u.exec.job)) ||
		     (json_object_get(d->o, "remote_mem") &&
		      get_uint(d, "remote_mem", LEASE_MIN_REMOTE_MEM, LEASE_MAX_REMOTE_MEM,
			       &m->u.exec.remote_mem));
		if (rc)
			return -EPROTO;
		if (m->u.exec.remote_mem) {
			if (m->u.exec.workers || m->u.exec.pus[0] || m->u.exec.lib[0] ||
			    m->u.exec.gpus || m->u.exec.mem <= m->u.exec.remote_mem)
				return fail(d, "a memory lease (\"remote_mem\") has 0 \"workers\" "
					       "and \"gpus\", empty \"pus\" and \"lib\", and "
					       "\"mem\" above \"remote_mem\"");
		} else if (m->u.exec.workers == 0 || !m->u.exec.pus[0])
			return fail(d, "\"workers\" must be 1 to %d and \"pus\" a cpu list",
				    LEASE_MAX_WORKERS);
		else if (m->u.exec.lib[0] != '/')
			return fail(d, "\"lib\" must be an absolute path, not \"%s\"",
				    m->u.exec.lib);
		m->u.exec.expires = (int64_t)v;
		return 0;
	case MSG_EXEC_STOP:
		return get_str(d, "cred", m->cred, sizeof(m->cred), false) ||
			       get_name(d, "id", m->u.exec.id, sizeof(m->u.exec.id))
			   ? -EPROTO
			   : 0;
	case MSG_DRAIN:
		return get_str(d, "cred", m->cred, sizeof(m->cred), false) ||
			       get_name(d, "node", m->u.drain.node, sizeof(m->u.drain.node)) ||
			       get_bool(d, "drain", &m->u.drain.drain)
			   ? -EPROTO
			   : 0;
	case MSG_HEARTBEAT:
		return get_str(d, "cred", m->cred, sizeof(m->cred), false) ||
			       get_name(d, "node", m->u.node.node, sizeof(m->u.node.node)) ||
			       get_uint(d, "gen", 1, MSG_GEN_MAX, &m->u.node.gen)
			   ? -EPROTO
			   : 0;
	}
	return fail(d, "unknown type");
}

/* ---- results, read directly ------------------------------------------------------ */

/* A result is read without the JSON library when it is what a controller
 * writes: the reader below takes the subset of JSON that pages use (no
 * numbers but non-negative integers, no escapes that make a NUL or a
 * surrogate), and only what decode_row would take, to the same rows. On
 * anything else it gives up (-1) and the message goes to the JSON library,
 * which decodes it or names what is wrong. */
struct rd {
	const char *p;
};

static void rd_ws(struct rd *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

static bool rd_char(struct rd *r, char c)
{
	rd_ws(r);
	if (*r->p != c)
		return false;
	r->p++;
	return true;
}

static bool rd_lit(struct rd *r, const char *lit, size_t n)
{
	if (strncmp(r->p, lit, n) != 0)
		return false;
	r->p += n;
	return true;
}

/* 0x0..0xf of a hex digit, -1 if it is none. */
static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* A string into out (cap bytes, NUL-terminated, *len without it). false:
 * not one this reader takes, or longer than cap - 1. */
static bool rd_str(struct rd *r, char *out, size_t cap, size_t *len)
{
	const unsigned char *s;
	size_t n = 0;

	rd_ws(r);
	if (*r->p != '"')
		return false;
	s = (const unsigned char *)r->p + 1;
	for (;;) {
		size_t run = 0, l;

		while (s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
			run++;
		if (n + run >= cap)
			return false;
		memcpy(out + n, s, run);
		n += run;
		s += run;
		if (*s == '"')
			break;
		if (*s >= 0x80) {
			l = utf8_len(s, strnlen((const char *)s, 4));
			if (!l || n + l >= cap)
				return false;
			memcpy(out + n, s, l);
			n += l;
			s += l;
			continue;
		}
		if (*s != '\\') /* a control character, or the end of the text */
			return false;
		if (n + 3 >= cap)
			return false;
		switch (s[1]) {
		case '"':
		case '\\':
		case '/':
			out[n++] = (char)s[1];
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u': {
			int h0 = hexval((char)s[2]), h1 = h0 < 0 ? -1 : hexval((char)s[3]),
			    h2 = h1 < 0 ? -1 : hexval((char)s[4]),
			    h3 = h2 < 0 ? -1 : hexval((char)s[5]);
			uint32_t cp;

			if (h3 < 0)
				return false;
			cp = (uint32_t)(h0 << 12 | h1 << 8 | h2 << 4 | h3);
			if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
				return false; /* NUL, surrogates: the JSON library's */
			if (cp < 0x80) {
				out[n++] = (char)cp;
			} else if (cp < 0x800) {
				out[n++] = (char)(0xc0 | cp >> 6);
				out[n++] = (char)(0x80 | (cp & 0x3f));
			} else {
				out[n++] = (char)(0xe0 | cp >> 12);
				out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[n++] = (char)(0x80 | (cp & 0x3f));
			}
			s += 4;
			break;
		}
		default:
			return false;
		}
		s += 2;
	}
	out[n] = '\0';
	*len = n;
	r->p = (const char *)s + 1;
	return true;
}

/* A non-negative integer of at most max: digits, no leading zero. */
static bool rd_uint(struct rd *r, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	rd_ws(r);
	if (*r->p < '0' || *r->p > '9')
		return false;
	if (*r->p == '0') {
		r->p++;
		*v = 0;
		return !(*r->p >= '0' && *r->p <= '9');
	}
	while (*r->p >= '0' && *r->p <= '9') {
		uint64_t d = (uint64_t)(*r->p++ - '0');

		if (d > max || x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

/* One value of field f into row, if decode_field would take it. */
static bool rd_field(struct rd *r, const struct row_field *f, union msg_row *row)
{
	char *p = (char *)row + f->off;
	uint64_t v = 0;
	size_t len;

	switch (f->kind) {
	case ROW_STR:
	case ROW_NAME:
	case ROW_LIST:
		if (!rd_str(r, p, f->size, &len))
			return false;
		if (f->kind == ROW_NAME)
			return name_ok(p);
		if (f->kind == ROW_LIST) {
			for (size_t k = 0; k < len; k++)
				if (!((p[k] >= '0' && p[k] <= '9') || p[k] == ',' || p[k] == '-'))
					return false;
			return true;
		}
		if (len == 0 && !f->may_be_empty)
			return false;
		for (unsigned i = 0; f->one_of && f->one_of[i]; i++)
			if (strcmp(p, f->one_of[i]) == 0)
				return true;
		return !f->one_of;
	case ROW_BOOL:
		rd_ws(r);
		if (rd_lit(r, "true", 4))
			v = 1;
		else if (!rd_lit(r, "false", 5))
			return false;
		break;
	case ROW_UINT:
	case ROW_INT:
		if (!rd_uint(r, f->max, &v))
			return false;
		break;
	}
	row_set_uint(f, row, v);
	return true;
}

/* One element of "items": an object with exactly the fields of row_f. */
static bool rd_row(struct rd *r, const struct row_field *row_f, union msg_row *row)
{
	uint32_t seen = 0, all = 0;
	unsigned i, next = 0;
	char key[32];
	size_t len;

	for (i = 0; row_f[i].key; i++)
		all |= 1u << i;
	if (!rd_char(r, '{'))
		return false;
	do {
		if (!rd_str(r, key, sizeof(key), &len) || !rd_char(r, ':'))
			return false;
		/* the writer's order first: the field after the one before */
		if (!row_f[next].key || strcmp(row_f[next].key, key) != 0)
			for (next = 0; row_f[next].key && strcmp(row_f[next].key, key) != 0; next++)
				;
		i = next++;
		if (!row_f[i].key || (seen & (1u << i)) || !rd_field(r, &row_f[i], row))
			return false;
		seen |= 1u << i;
	} while (rd_char(r, ','));
	return rd_char(r, '}') && seen == all;
}

/* The direct reader of a result: 0 with m decoded, -1 to leave text to the
 * JSON library (m then holds nothing to free, and is not zeroed), -ENOMEM. */
static int read_result(const char *text, struct msg *m)
{
	enum { V = 1, TYPE = 2, WHAT = 4, ITEMS = 8, NEXT = 16 };
	const struct row_field *row_f = NULL;
	__typeof__(m->u.result) result;
	struct rd r = {.p = text};
	unsigned seen = 0, bit;
	char key[16], val[16];
	uint64_t v;
	size_t len;

	/* m is zeroed once it is a result: a message that is not one (a
	 * heartbeat, 10,000 a second) goes to the JSON library, which zeroes
	 * it, without a second memset of the whole message here */
	m->type = 0;
	memset(&m->u.result, 0, sizeof(m->u.result));
	if (!rd_char(&r, '{'))
		return -1;
	do {
		if (!rd_str(&r, key, sizeof(key), &len) || !rd_char(&r, ':'))
			goto other;
		bit = strcmp(key, "v") == 0	  ? V
		      : strcmp(key, "type") == 0  ? TYPE
		      : strcmp(key, "what") == 0  ? WHAT
		      : strcmp(key, "items") == 0 ? ITEMS
		      : strcmp(key, "next") == 0  ? NEXT
						  : 0;
		if (!bit || (seen & bit))
			goto other;
		seen |= bit;
		switch (bit) {
		case V:
			if (!rd_uint(&r, MSG_VERSION, &v) || v != MSG_VERSION)
				goto other;
			break;
		case TYPE:
			if (!rd_str(&r, val, sizeof(val), &len) || strcmp(val, "result") != 0)
				goto other;
			break;
		case WHAT:
			if (!rd_str(&r, val, sizeof(val), &len))
				goto other;
			for (unsigned q = MSG_QUERY_NODES; q < NQUERIES; q++)
				if (strcmp(val, query_names[q]) == 0)
					m->u.result.what = (enum msg_query)q;
			if (!(row_f = rows_of(m->u.result.what)))
				goto other;
			break;
		case ITEMS:
			if (!row_f || !rd_char(&r, '['))
				goto other; /* items before what: the JSON library's */
			if (rd_char(&r, ']'))
				break;
			m->type = MSG_RESULT; /* for msg_result_add and msg_free */
			do {
				union msg_row *row = msg_result_add(m);

				if (!row) {
					if (errno == ENOMEM) {
						msg_free(m);
						memset(m, 0, sizeof(*m));
						return -ENOMEM;
					}
					goto other;
				}
				if (!rd_row(&r, row_f, row))
					goto other;
			} while (rd_char(&r, ','));
			if (!rd_char(&r, ']'))
				goto other;
			break;
		case NEXT:
			if (!rd_uint(&r, INT64_MAX, &m->u.result.next) || !m->u.result.next)
				goto other;
			break;
		}
	} while (rd_char(&r, ','));
	if (!rd_char(&r, '}') || (seen & (V | TYPE | WHAT | ITEMS)) != (V | TYPE | WHAT | ITEMS))
		goto other;
	rd_ws(&r);
	if (*r.p) /* more after the object */
		goto other;
	result = m->u.result;
	memset(m, 0, sizeof(*m));
	m->type = MSG_RESULT;
	m->u.result = result;
	return 0;
other:
	msg_free(m); /* the rows read so far, when it got that far */
	return -1;
}

int msg_decode(const char *text, struct msg *m, char *err, size_t errlen)
{
	int rc = read_result(text, m);

	if (rc == 0 || rc == -ENOMEM) {
		if (rc)
			snprintf(err, errlen, "out of memory for a result's rows");
		return rc;
	}
	return msg_decode_json(text, m, err, errlen);
}

int msg_decode_json(const char *text, struct msg *m, char *err, size_t errlen)
{
	struct dec d = {.err = err, .errlen = errlen};
	json_error_t je;
	json_t *v;
	int rc = -EPROTO;

	memset(m, 0, sizeof(*m));
	d.o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!d.o) {
		snprintf(err, errlen, "control message is not valid JSON (%s)", je.text);
		return -EPROTO;
	}
	if (!json_is_object(d.o)) {
		fail(&d, "must be a JSON object");
		goto out;
	}
	v = json_object_get(d.o, "v");
	if (!json_is_integer(v) || json_integer_value(v) != MSG_VERSION) {
		fail(&d, "\"v\" must be %d (this daemon speaks protocol version %d)", MSG_VERSION,
		     MSG_VERSION);
		goto out;
	}
	v = json_object_get(d.o, "type");
	for (unsigned t = 1; json_is_string(v) && t < NTYPES; t++)
		if (type_names[t] && strcmp(json_string_value(v), type_names[t]) == 0)
			m->type = (enum msg_type)t;
	if (!m->type) {
		fail(&d, "\"type\" must name a known message, not %s",
		     json_is_string(v) ? json_string_value(v) : "a non-string");
		goto out;
	}
	d.type = type_names[m->type];
	if (check_fields(&d, fields[m->type], true))
		goto out;
	rc = decode_body(&d, m);
	/* a result never carries a credential, so nothing is bound to its
	 * digest: its pages (up to a frame each) are not re-encoded for it */
	if (rc == 0 && m->type != MSG_RESULT)
		rc = tree_digest(d.o, m->digest);
	if (rc)
		msg_free(m);
out:
	json_decref(d.o);
	return rc;
}

/* ---- query results ------------------------------------------------------------------ */

union msg_row *msg_result_add(struct msg *m)
{
	union msg_row *rows;
	uint32_t n = m->u.result.nrows;

	if (m->type != MSG_RESULT || !rows_of(m->u.result.what)) {
		errno = EINVAL;
		return NULL;
	}
	if (n >= MSG_RESULT_MAX) {
		errno = E2BIG;
		return NULL;
	}
	if (n >= m->u.result.cap) {
		uint32_t cap = n < 8 ? 8 : 2 * n;

		rows = realloc(m->u.result.rows, cap * sizeof(*rows));
		if (!rows) {
			errno = ENOMEM;
			return NULL;
		}
		m->u.result.rows = rows;
		m->u.result.cap = cap;
	}
	memset(&m->u.result.rows[n], 0, sizeof(m->u.result.rows[n]));
	m->u.result.nrows = n + 1;
	return &m->u.result.rows[n];
}

size_t msg_result_size_bound(const struct msg *m)
{
	const struct row_field *row = m->type == MSG_RESULT ? rows_of(m->u.result.what) : NULL;
	size_t n = 128; /* {"v":1,"type":"result","what":"records","items":[],"next":N} */

	if (!row || (m->u.result.nrows && !m->u.result.rows))
		return SIZE_MAX;
	for (uint32_t i = 0; i < m->u.result.nrows; i++) {
		n += 2; /* {} and a comma */
		for (const struct row_field *f = row; f->key; f++) {
			const unsigned char *s;
			size_t len;

			n += strlen(f->key) + 4; /* "key": and a comma */
			if (f->kind != ROW_STR && f->kind != ROW_NAME && f->kind != ROW_LIST) {
				n += 20; /* a number, true, false */
				continue;
			}
			s = (const unsigned char *)row_str(f, &m->u.result.rows[i], &len);
			n += 2;
			for (size_t j = 0; j < len; j++) /* JSON_COMPACT's escapes */
				n += s[j] < 0x20 ? 6 : s[j] == '"' || s[j] == '\\' ? 2 : 1;
		}
	}
	return n;
}

int msg_result_append(struct msg *all, const struct msg *page)
{
	uint32_t n = all->u.result.nrows, more = page->u.result.nrows;

	if (all->type != MSG_RESULT || page->type != MSG_RESULT ||
	    all->u.result.what != page->u.result.what || !rows_of(all->u.result.what) ||
	    (more && !page->u.result.rows))
		return -EINVAL;
	if (more > UINT32_MAX / 2 - n)
		return -ENOMEM;
	if (n + more > all->u.result.cap) {
		uint32_t cap = n + more < 2 * n ? 2 * n : n + more;
		union msg_row *rows = realloc(all->u.result.rows, (size_t)cap * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		all->u.result.rows = rows;
		all->u.result.cap = cap;
	}
	if (more)
		memcpy(all->u.result.rows + n, page->u.result.rows,
		       more * sizeof(*page->u.result.rows));
	all->u.result.nrows = n + more;
	return 0;
}

const char *msg_result_key(enum msg_query what, unsigned i)
{
	const struct row_field *f = rows_of(what);

	for (unsigned k = 0; f && f[k].key; k++)
		if (k == i)
			return f[k].key;
	return NULL;
}

bool msg_result_is_time(enum msg_query what, const char *key)
{
	const struct row_field *f = rows_of(what);

	while (f && f->key && strcmp(f->key, key) != 0)
		f++;
	return f && f->key && f->time;
}

int msg_result_cell(const struct msg *m, uint32_t row, const char *key, char *buf, size_t len)
{
	const struct row_field *f = m->type == MSG_RESULT ? rows_of(m->u.result.what) : NULL;
	const union msg_row *r;
	const char *s;
	size_t n;
	int w;

	if (len)
		buf[0] = '\0';
	while (f && f->key && strcmp(f->key, key) != 0)
		f++;
	if (!f || !f->key || row >= m->u.result.nrows || !m->u.result.rows)
		return -ENOENT;
	r = &m->u.result.rows[row];
	switch (f->kind) {
	case ROW_STR:
	case ROW_NAME:
	case ROW_LIST:
		s = row_str(f, r, &n);
		w = snprintf(buf, len, "%.*s", (int)n, s);
		break;
	case ROW_BOOL:
		w = snprintf(buf, len, "%s", row_uint(f, r) ? "yes" : "no");
		break;
	case ROW_INT:
		w = snprintf(buf, len, "%lld", (long long)(int64_t)row_uint(f, r));
		break;
	case ROW_UINT:
	default:
		w = snprintf(buf, len, "%llu", (unsigned long long)row_uint(f, r));
		break;
	}
	return w < 0 || (size_t)w >= len ? -ENOSPC : 0;
}

int msg_result_json(const struct msg *m, char **text)
{
	struct msg out = {.type = MSG_RESULT};
	const struct msg *page = m;
	int rc = 0;

	*text = NULL;
	if (m->type != MSG_RESULT)
		return -EINVAL;
	if (!m->u.result.text && (rc = write_result(m, &out)) == 0)
		page = &out;
	if (!rc) {
		*text = strndup(page->u.result.text + page->u.result.items_at,
				page->u.result.items_end - page->u.result.items_at);
		rc = *text ? 0 : -ENOMEM;
	}
	msg_free(&out);
	return rc;
}

/* ---- usage records ------------------------------------------------------------------ */

int msg_usage_encode(const struct msg_usage *u, char **text)
{
	json_t *o = record_object(u);

	*text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return *text ? 0 : -ENOMEM;
}

int msg_usage_decode(const char *text, struct msg_usage *u, char *err, size_t errlen)
{
	struct dec d = {.type = "usage record", .err = err, .errlen = errlen};
	json_error_t je;
	int rc;

	memset(u, 0, sizeof(*u));
	d.o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(d.o)) {
		snprintf(err, errlen, "usage record: not a JSON object (%s)",
			 d.o ? "another value" : je.text);
		json_decref(d.o);
		return -EPROTO;
	}
	rc = decode_record(&d, NULL, u);
	json_decref(d.o);
	return rc;
}

const char *msg_usage_by_name(enum msg_usage_by by)
{
	return (unsigned)by <= MSG_BY_LEASE ? by_names[by] : "?";
}

int msg_usage_by_parse(const char *name, enum msg_usage_by *by)
{
	for (unsigned i = 0; i <= MSG_BY_LEASE; i++)
		if (strcmp(name, by_names[i]) == 0) {
			*by = (enum msg_usage_by)i;
			return 0;
		}
	return -EINVAL;
}
