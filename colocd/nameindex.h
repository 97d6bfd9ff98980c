/*
 * nameindex: a hash index from a name (a node name, a lease id) to the
 * 32-bit id of the record that holds it, for tables that grow without a
 * fixed limit. The index does not copy names: it asks its owner for the
 * name of an id (the key function), so a record's name must not change
 * while the record is indexed.
 *
 * Open addressing with linear probing; the table doubles at 1/2 load and
 * removal shifts entries back (no tombstones), so lookups, insertions and
 * removals take O(1) expected time whatever the number of names. Names
 * are hashed with a key drawn at creation. Not thread-safe: the owner
 * serializes calls.
 */
#ifndef COLOC_NAMEINDEX_H
#define COLOC_NAMEINDEX_H

#include <stdint.h>

/* The name of record id (NUL-terminated), as the owner holds it. */
typedef const char *(*nameindex_key_fn)(const void *ctx, uint32_t id);

struct nameindex;

/* An empty index whose names key(ctx, id) gives. NULL with errno
 * (ENOMEM, or getrandom's). Free it with nameindex_destroy. */
struct nameindex *nameindex_create(nameindex_key_fn key, const void *ctx);
void nameindex_destroy(struct nameindex *x); /* NULL: no-op */

/* The id of name: 0 with *id, or -ENOENT. */
int nameindex_find(const struct nameindex *x, const char *name, uint32_t *id);

/* Indexes record id under its name (key(ctx, id)). 0, -EEXIST when that
 * name is indexed already, -ENOMEM. */
int nameindex_add(struct nameindex *x, uint32_t id);

/* Forgets record id (under its name, which must not have changed). 0 or
 * -ENOENT. */
int nameindex_remove(struct nameindex *x, uint32_t id);

/* How many names are indexed. */
uint32_t nameindex_count(const struct nameindex *x);

#endif
