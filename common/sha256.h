/*
 * sha256: SHA-256 (FIPS 180-4), for the digests that bind a credential to
 * the message it authorises (see msg_digest in msg.h and cred.h). None of
 * the libraries colocd links exports one, so this small module does.
 *
 * Incremental (init, update as often as needed, final) or in one call.
 * A struct sha256 is the caller's; nothing is shared, so every function is
 * reentrant.
 */
#ifndef COLOC_SHA256_H
#define COLOC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32 /* bytes of a digest */

struct sha256 {
	uint32_t h[8];
	uint64_t bytes; /* hashed so far */
	uint8_t block[64];
	size_t have; /* bytes in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Writes the digest of everything given to update; s must be initialised
 * again before it is used for another digest. */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);

/* The digest of data[0..len). */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* HMAC-SHA256 (RFC 2104) of data under key (at most 64 bytes). */
void sha256_hmac(const uint8_t *key, size_t keylen, const void *data, size_t len,
		 uint8_t out[SHA256_LEN]);

#endif
