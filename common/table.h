/*
 * table: the presentation side of the control-plane codec. Prints the rows
 * of a query's result (msg.h: struct msg_row_*) as an aligned text table
 * for colocctl. Stateless.
 */
#ifndef COLOC_TABLE_H
#define COLOC_TABLE_H

#include "msg.h"

#include <stdio.h>

/* Prints the rows of m (a result) to out: a header line of the upper-cased
 * field names, then one line per row, each cell as msg_result_cell gives
 * it (strings as they are, numbers in decimal, booleans as yes/no), but
 * times (msg_result_is_time) in local time, "2026-12-07 15:42:10", and
 * "-" for none. The
 * columns are the fields named in columns (a NULL-terminated list of
 * preferred fields, in that order; NULL = none; names that are not fields
 * of m's rows are skipped), then every other field in wire order. With no
 * rows, prints the header alone. 0, -EINVAL when m is not a result,
 * -ENOMEM, or -EIO when out fails. */
int table_print(const struct msg *m, const char *const *columns, FILE *out);

#endif
