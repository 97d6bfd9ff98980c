/*
 * table: a query's rows as an aligned text table (see table.h). Takes the
 * column names and the cells as text from the codec (msg.h), formats every
 * cell once into a grid of strings, measures the widths, then prints. No
 * state between calls.
 */
#include "config.h"

#include "table.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_MAX_COLUMNS 64

struct table {
	const char *keys[TABLE_MAX_COLUMNS];
	size_t width[TABLE_MAX_COLUMNS];
	unsigned ncols;
};

static bool table_has(const struct table *t, const char *key)
{
	for (unsigned i = 0; i < t->ncols; i++)
		if (strcmp(t->keys[i], key) == 0)
			return true;
	return false;
}

static void table_add(struct table *t, const char *key)
{
	if (t->ncols < TABLE_MAX_COLUMNS && !table_has(t, key))
		t->keys[t->ncols++] = key;
}

/* Whether key names a field of what's rows. */
static bool table_is_field(enum msg_query what, const char *key)
{
	const char *k;

	for (unsigned i = 0; (k = msg_result_key(what, i)); i++)
		if (strcmp(k, key) == 0)
			return true;
	return false;
}

static void table_header(const struct table *t, FILE *out)
{
	for (unsigned c = 0; c < t->ncols; c++) {
		size_t n = strlen(t->keys[c]);

		for (size_t i = 0; i < n; i++)
			fputc(toupper((unsigned char)t->keys[c][i]), out);
		if (c + 1 < t->ncols)
			fprintf(out, "%*s", (int)(t->width[c] - n + 2), "");
	}
	fputc('\n', out);
}

/* A time cell (unix seconds as text) in local time, "2026-12-07 15:42:10";
 * 0 (none) as "-". Left as it is when it does not convert. */
static void table_time(char *cell, size_t len)
{
	char *end;
	long long v = strtoll(cell, &end, 10);
	time_t t = (time_t)v;
	struct tm tm;

	if (*end || end == cell)
		return;
	if (v == 0)
		snprintf(cell, len, "-");
	else if (localtime_r(&t, &tm))
		strftime(cell, len, "%Y-%m-%d %H:%M:%S", &tm);
}

int table_print(const struct msg *m, const char *const *columns, FILE *out)
{
	struct table t = {.ncols = 0};
	char cell[MSG_CPULIST_MAX + 32], **cells;
	const char *key;
	size_t ncells, i;
	unsigned c;
	int rc = 0;

	if (m->type != MSG_RESULT || !msg_result_key(m->u.result.what, 0))
		return -EINVAL;
	for (c = 0; columns && columns[c]; c++)
		if (table_is_field(m->u.result.what, columns[c]))
			table_add(&t, columns[c]);
	for (c = 0; (key = msg_result_key(m->u.result.what, c)); c++)
		table_add(&t, key);
	for (c = 0; c < t.ncols; c++)
		t.width[c] = strlen(t.keys[c]);
	ncells = (size_t)m->u.result.nrows * t.ncols;
	cells = calloc(ncells + 1, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	for (i = 0; i < ncells; i++) {
		c = (unsigned)(i % t.ncols);
		if (msg_result_cell(m, (uint32_t)(i / t.ncols), t.keys[c], cell, sizeof(cell)) !=
		    0) {
			rc = -EINVAL;
			goto free_cells;
		}
		if (msg_result_is_time(m->u.result.what, t.keys[c]))
			table_time(cell, sizeof(cell));
		cells[i] = strdup(cell);
		if (!cells[i]) {
			rc = -ENOMEM;
			goto free_cells;
		}
		if (strlen(cell) > t.width[c])
			t.width[c] = strlen(cell);
	}
	table_header(&t, out);
	for (i = 0; i < ncells; i++) {
		c = (unsigned)(i % t.ncols);
		if (c + 1 < t.ncols)
			fprintf(out, "%-*s  ", (int)t.width[c], cells[i]);
		else
			fprintf(out, "%s\n", cells[i]);
	}
	if (fflush(out) != 0 || ferror(out))
		rc = -EIO;
free_cells:
	for (i = 0; i < ncells; i++)
		free(cells[i]);
	free(cells);
	return rc;
}
