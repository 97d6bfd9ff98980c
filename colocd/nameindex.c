/*
 * nameindex: see nameindex.h. slot[] is a power-of-2 array of (hash, id)
 * pairs, id NONE when empty; a name lives at the first free slot from
 * its hash's home slot on (linear probing). Removal moves later entries
 * of the same probe run back into the hole, so no run is ever broken.
 * The hash is FNV-1a over the name, started from a random key and mixed
 * at the end.
 */
#include "config.h"

#include "nameindex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define NONE UINT32_MAX
#define MIN_SLOTS 64u

struct slot {
	uint32_t hash, id;
};

struct nameindex {
	nameindex_key_fn key;
	const void *ctx;
	uint64_t seed;
	uint32_t mask, count; /* mask: slots - 1 */
	struct slot *slot;
};

static uint32_t hash_of(const struct nameindex *x, const char *name)
{
	uint64_t h = x->seed ^ 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static struct slot *alloc_slots(uint32_t n)
{
	struct slot *s = malloc((size_t)n * sizeof(*s));

	if (s)
		for (uint32_t i = 0; i < n; i++)
			s[i] = (struct slot){0, NONE};
	return s;
}

struct nameindex *nameindex_create(nameindex_key_fn key, const void *ctx)
{
	struct nameindex *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	if (getrandom(&x->seed, sizeof(x->seed), 0) != sizeof(x->seed))
		goto fail;
	x->key = key;
	x->ctx = ctx;
	x->mask = MIN_SLOTS - 1;
	x->slot = alloc_slots(MIN_SLOTS);
	if (!x->slot) {
		errno = ENOMEM;
		goto fail;
	}
	return x;

fail:
	free(x);
	return NULL;
}

void nameindex_destroy(struct nameindex *x)
{
	if (!x)
		return;
	free(x->slot);
	free(x);
}

/* The slot of name (its hash h), or of the hole where it would go. */
static uint32_t probe(const struct nameindex *x, const char *name, uint32_t h)
{
	uint32_t i = h & x->mask;

	while (x->slot[i].id != NONE &&
	       (x->slot[i].hash != h || strcmp(x->key(x->ctx, x->slot[i].id), name) != 0))
		i = (i + 1) & x->mask;
	return i;
}

int nameindex_find(const struct nameindex *x, const char *name, uint32_t *id)
{
	uint32_t i = probe(x, name, hash_of(x, name));

	if (x->slot[i].id == NONE)
		return -ENOENT;
	*id = x->slot[i].id;
	return 0;
}

static int grow(struct nameindex *x)
{
	uint32_t n = (x->mask + 1) * 2, mask = n - 1;
	struct slot *s;

	if (n == 0 || !(s = alloc_slots(n)))
		return -ENOMEM;
	for (uint32_t i = 0; i <= x->mask; i++) {
		uint32_t j;

		if (x->slot[i].id == NONE)
			continue;
		for (j = x->slot[i].hash & mask; s[j].id != NONE; j = (j + 1) & mask)
			;
		s[j] = x->slot[i];
	}
	free(x->slot);
	x->slot = s;
	x->mask = mask;
	return 0;
}

int nameindex_add(struct nameindex *x, uint32_t id)
{
	const char *name = x->key(x->ctx, id);
	uint32_t h = hash_of(x, name), i;

	if (id == NONE)
		return -EINVAL;
	if ((x->count + 1) * 2 > x->mask + 1 && grow(x) != 0)
		return -ENOMEM;
	i = probe(x, name, h);
	if (x->slot[i].id != NONE)
		return -EEXIST;
	x->slot[i] = (struct slot){h, id};
	x->count++;
	return 0;
}

int nameindex_remove(struct nameindex *x, uint32_t id)
{
	const char *name = x->key(x->ctx, id);
	uint32_t i = probe(x, name, hash_of(x, name)), j;

	if (x->slot[i].id != id)
		return -ENOENT;
	/* backward shift: an entry after the hole moves into it unless its
	 * home lies cyclically in (hole, entry] */
	for (j = (i + 1) & x->mask; x->slot[j].id != NONE; j = (j + 1) & x->mask) {
		uint32_t home = x->slot[j].hash & x->mask;

		if (((j - home) & x->mask) >= ((j - i) & x->mask)) {
			x->slot[i] = x->slot[j];
			i = j;
		}
	}
	x->slot[i] = (struct slot){0, NONE};
	x->count--;
	return 0;
}

uint32_t nameindex_count(const struct nameindex *x)
{
	return x->count;
}
