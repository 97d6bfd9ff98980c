/*
 * replay_cache: see replay_cache.h.
 *
 * Data: a ring of `capacity` entries in the order they were added (the
 * oldest at `head`), and a chained hash index over them: `buckets` holds,
 * per hash, the 1-based index of the first entry of its chain (0: empty),
 * each entry the index of the next. An entry leaves from the head only:
 * when it has expired, or when the ring is full. Expiry times are close to
 * the order of arrival (every credential lives CRED_TTL_S), so an expired
 * entry behind an unexpired head waits a little longer, which is safe.
 */
#include "config.h"

#include "replay_cache.h"
#include "sha256.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define CAPACITY_MAX (1u << 24)

struct entry {
	uint8_t nonce[REPLAY_NONCE_LEN];
	int64_t expires;
	uint32_t next; /* 1-based index of the next entry of its chain, 0: none */
};

struct replay_cache {
	uint32_t capacity, nbuckets; /* nbuckets: a power of 2 */
	uint32_t head, count;
	uint64_t evicted;
	uint8_t key[16];
	uint32_t *buckets;
	struct entry *ring;
};

static uint32_t bucket_of(const struct replay_cache *c, const uint8_t nonce[REPLAY_NONCE_LEN])
{
	struct sha256 s;
	uint8_t d[SHA256_LEN];

	sha256_init(&s);
	sha256_update(&s, c->key, sizeof(c->key));
	sha256_update(&s, nonce, REPLAY_NONCE_LEN);
	sha256_final(&s, d);
	return ((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]) &
	       (c->nbuckets - 1);
}

struct replay_cache *replay_cache_create(uint32_t capacity)
{
	struct replay_cache *c;

	if (capacity == 0 || capacity > CAPACITY_MAX) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->capacity = capacity;
	for (c->nbuckets = 1; c->nbuckets < capacity; c->nbuckets <<= 1)
		;
	/* calloc: pages are touched only as the cache fills */
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	c->ring = calloc(capacity, sizeof(*c->ring));
	if (!c->buckets || !c->ring ||
	    getrandom(c->key, sizeof(c->key), 0) != (ssize_t)sizeof(c->key)) {
		int e = errno ? errno : ENOMEM;

		replay_cache_destroy(c);
		errno = e;
		return NULL;
	}
	return c;
}

void replay_cache_destroy(struct replay_cache *c)
{
	if (!c)
		return;
	free(c->buckets);
	free(c->ring);
	free(c);
}

/* Forgets the oldest entry. */
static void drop_head(struct replay_cache *c)
{
	uint32_t idx = c->head + 1, *link = &c->buckets[bucket_of(c, c->ring[c->head].nonce)];

	while (*link && *link != idx)
		link = &c->ring[*link - 1].next;
	if (*link) /* always: every entry is in its chain */
		*link = c->ring[c->head].next;
	c->head = (c->head + 1) % c->capacity;
	c->count--;
}

int replay_cache_add(struct replay_cache *c, const uint8_t nonce[REPLAY_NONCE_LEN], int64_t expires,
		     int64_t now)
{
	uint32_t b, slot;

	while (c->count && c->ring[c->head].expires <= now)
		drop_head(c);
	b = bucket_of(c, nonce);
	for (uint32_t i = c->buckets[b]; i; i = c->ring[i - 1].next)
		if (memcmp(c->ring[i - 1].nonce, nonce, REPLAY_NONCE_LEN) == 0)
			return -EALREADY;
	if (c->count == c->capacity) {
		drop_head(c);
		c->evicted++;
	}
	slot = (c->head + c->count) % c->capacity;
	memcpy(c->ring[slot].nonce, nonce, REPLAY_NONCE_LEN);
	c->ring[slot].expires = expires;
	c->ring[slot].next = c->buckets[b];
	c->buckets[b] = slot + 1;
	c->count++;
	return 0;
}

uint32_t replay_cache_count(const struct replay_cache *c)
{
	return c->count;
}

uint64_t replay_cache_evicted(const struct replay_cache *c)
{
	return c->evicted;
}
