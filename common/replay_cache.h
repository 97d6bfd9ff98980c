/*
 * replay_cache: the nonces of the credentials a daemon has accepted, each
 * kept until its credential expires, so that a credential is accepted at
 * most once (see cred.h: every credential carries a random nonce).
 *
 * Memory is bounded: the cache holds at most `capacity` nonces. When it is
 * full of unexpired ones the oldest (first added) is forgotten early and
 * counted in replay_cache_evicted(); a daemon logs that, since a credential
 * forgotten early could be accepted a second time until it expires (MUNGE's
 * own replay check, in the munged that decodes it, still refuses it).
 *
 * Lookups hash the nonce with a key drawn at creation, so that a sender
 * who chooses nonces cannot make them collide. Not thread-safe: one
 * daemon thread owns a cache.
 */
#ifndef COLOC_REPLAY_CACHE_H
#define COLOC_REPLAY_CACHE_H

#include <stdint.h>

#define REPLAY_NONCE_LEN 16

struct replay_cache;

/* A cache for at most capacity nonces (1 to 2^24), or NULL with errno
 * (EINVAL, ENOMEM, or getrandom's). Free it with replay_cache_destroy. */
struct replay_cache *replay_cache_create(uint32_t capacity);
void replay_cache_destroy(struct replay_cache *c); /* NULL: no-op */

/* Remembers nonce until expires (unix seconds); now is the time it is
 * seen. 0 when the nonce is new, -EALREADY when it is still remembered
 * (a replay: refuse the credential). Nonces whose time has come are
 * forgotten first. */
int replay_cache_add(struct replay_cache *c, const uint8_t nonce[REPLAY_NONCE_LEN], int64_t expires,
		     int64_t now);

/* Nonces held now, and how many were forgotten before they expired. */
uint32_t replay_cache_count(const struct replay_cache *c);
uint64_t replay_cache_evicted(const struct replay_cache *c);

#endif
