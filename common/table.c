/*
 * table: a query's items as an aligned text table (see table.h). Parses
 * the items with jansson (the codec's presentation side), collects the
 * column keys, formats every cell once into a grid of strings, measures
 * the widths, then prints. No state between calls.
 */
#include "config.h"

#include "table.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define TABLE_MAX_COLUMNS 64

struct table {
	const char *keys[TABLE_MAX_COLUMNS];
	size_t width[TABLE_MAX_COLUMNS];
	unsigned ncols;
};

static int table_has(const struct table *t, const char *key)
{
	for (unsigned i = 0; i < t->ncols; i++)
		if (strcmp(t->keys[i], key) == 0)
			return 1;
	return 0;
}

static void table_add(struct table *t, const char *key)
{
	if (t->ncols < TABLE_MAX_COLUMNS && !table_has(t, key))
		t->keys[t->ncols++] = key;
}

/* One cell as a malloc'd string, NULL on ENOMEM. */
static char *table_cell(json_t *v)
{
	char *s = NULL;

	if (!v || json_is_null(v))
		return strdup("-");
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_integer(v))
		return asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0 ? NULL : s;
	if (json_is_real(v))
		return asprintf(&s, "%g", json_real_value(v)) < 0 ? NULL : s;
	if (json_is_boolean(v))
		return strdup(json_is_true(v) ? "yes" : "no");
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
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

int table_print(const char *items_json, const char *const *columns, FILE *out)
{
	struct table t = {.ncols = 0};
	json_error_t je;
	json_t *items, *item, *v;
	const char *key;
	char **cells = NULL;
	size_t nitems, i;
	unsigned c;
	int rc = 0;

	items = json_loads(items_json, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_array(items)) {
		rc = -EINVAL;
		goto put_items;
	}
	nitems = json_array_size(items);
	json_array_foreach(items, i, item)
	{
		if (!json_is_object(item)) {
			rc = -EINVAL;
			goto put_items;
		}
	}
	for (c = 0; columns && columns[c]; c++) {
		int seen = nitems == 0;

		json_array_foreach(items, i, item) seen |=
		    json_object_get(item, columns[c]) != NULL;
		if (seen)
			table_add(&t, columns[c]);
	}
	json_array_foreach(items, i, item)
	{
		json_object_foreach(item, key, v) table_add(&t, key);
	}
	for (c = 0; c < t.ncols; c++)
		t.width[c] = strlen(t.keys[c]);
	cells = calloc(nitems * t.ncols + 1, sizeof(*cells));
	if (!cells) {
		rc = -ENOMEM;
		goto put_items;
	}
	json_array_foreach(items, i, item)
	{
		for (c = 0; c < t.ncols; c++) {
			char *s = table_cell(json_object_get(item, t.keys[c]));

			if (!s) {
				rc = -ENOMEM;
				goto free_cells;
			}
			cells[i * t.ncols + c] = s;
			if (strlen(s) > t.width[c])
				t.width[c] = strlen(s);
		}
	}
	table_header(&t, out);
	for (i = 0; i < nitems; i++) {
		for (c = 0; c < t.ncols; c++) {
			const char *s = cells[i * t.ncols + c];

			if (c + 1 < t.ncols)
				fprintf(out, "%-*s  ", (int)t.width[c], s);
			else
				fputs(s, out);
		}
		fputc('\n', out);
	}
	if (fflush(out) != 0 || ferror(out))
		rc = -EIO;
free_cells:
	for (i = 0; i < nitems * t.ncols; i++)
		free(cells[i]);
	free(cells);
put_items:
	json_decref(items);
	return rc;
}
