/*
 * table: the presentation side of the control-plane codec. Prints the items
 * of a query's result (msg.h: result.items, a JSON array of objects) as an
 * aligned text table for colocctl. Stateless.
 */
#ifndef COLOC_TABLE_H
#define COLOC_TABLE_H

#include <stdio.h>

/* Prints items_json (a JSON array of objects) to out: a header line of the
 * upper-cased keys, then one line per item. The columns are the names of
 * columns (a NULL-terminated list of preferred keys, in that order; NULL =
 * none) that some item has, then every other key in the order of first
 * appearance. Strings print as they are, numbers in decimal, booleans as
 * yes/no, null or a missing key as "-", arrays and objects as compact JSON.
 * With no items, prints the preferred columns' header alone.
 * 0, -EINVAL when items_json is not an array of objects, -ENOMEM, or -EIO
 * when out fails. */
int table_print(const char *items_json, const char *const *columns, FILE *out);

#endif
