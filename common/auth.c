/*
 * auth: credentials bound to control messages (see auth.h). No state.
 */
#include "config.h"

#include "auth.h"

#include "sha256.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(MSG_DIGEST_LEN == CRED_DIGEST_LEN, "a message digest is a credential's");
_Static_assert(MSG_NONCE_LEN == CRED_NONCE_LEN, "a message nonce is a credential's");

void auth_agent_dest(const char *node, char out[CRED_DEST_MAX])
{
	snprintf(out, CRED_DEST_MAX, "agent:%s", node);
}

/* The binding a credential for m to dest (a reply to reply_to) has. */
static void binding_of(const uint8_t digest[MSG_DIGEST_LEN], const char *dest,
		       const uint8_t *reply_to, struct cred_binding *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->dest, sizeof(b->dest), "%s", dest);
	memcpy(b->digest, digest, CRED_DIGEST_LEN);
	b->reply = reply_to != NULL;
	if (reply_to)
		memcpy(b->reply_to, reply_to, CRED_NONCE_LEN);
}

/* m's digest, its cred emptied first (what a credential is bound to). */
static int digest_of(struct msg *m, uint8_t digest[MSG_DIGEST_LEN], char *err, size_t errlen)
{
	int rc;

	m->cred[0] = '\0';
	rc = msg_digest(m, digest);
	if (rc)
		snprintf(err, errlen, "cannot encode the %s message to sign it: %s",
			 msg_type_name(m->type), strerror(-rc));
	return rc;
}

static int sign(const struct cred_opts *o, struct msg *m, const char *dest, const uint8_t *reply_to,
		const uint8_t *key, uint8_t nonce[MSG_NONCE_LEN], char *err, size_t errlen);

int auth_sign(const struct cred_opts *o, struct msg *m, const char *dest, const uint8_t *reply_to,
	      uint8_t nonce[MSG_NONCE_LEN], char *err, size_t errlen)
{
	return sign(o, m, dest, reply_to, NULL, nonce, err, errlen);
}

int auth_sign_keyed(const struct cred_opts *o, struct msg *m, const char *dest,
		    const uint8_t key[CRED_KEY_LEN], uint8_t nonce[MSG_NONCE_LEN], char *err,
		    size_t errlen)
{
	return sign(o, m, dest, NULL, key, nonce, err, errlen);
}

static int sign(const struct cred_opts *o, struct msg *m, const char *dest, const uint8_t *reply_to,
		const uint8_t *key, uint8_t nonce[MSG_NONCE_LEN], char *err, size_t errlen)
{
	uint8_t digest[MSG_DIGEST_LEN];
	struct cred_binding b;
	char *cred = NULL;
	int rc;

	rc = digest_of(m, digest, err, errlen);
	if (rc)
		return rc;
	binding_of(digest, dest, reply_to, &b);
	if (key) {
		b.has_key = true;
		memcpy(b.key, key, CRED_KEY_LEN);
	}
	rc = cred_create(o, &b, &cred, err, errlen);
	explicit_bzero(b.key, sizeof(b.key));
	if (rc)
		return rc;
	if (strlen(cred) >= sizeof(m->cred)) {
		snprintf(err, errlen, "the credential is longer than %zu bytes",
			 sizeof(m->cred) - 1);
		free(cred);
		return -EIO;
	}
	memcpy(m->cred, cred, strlen(cred) + 1);
	free(cred);
	if (nonce)
		memcpy(nonce, b.nonce, MSG_NONCE_LEN);
	return 0;
}

int auth_check(const struct cred_opts *o, const struct msg *m, const char *dest,
	       const uint8_t *reply_to, struct cred_id *who, char *err, size_t errlen)
{
	struct cred_binding want;

	binding_of(m->digest, dest, reply_to, &want);
	return cred_verify(o, m->cred, &want, who, err, errlen);
}

/* ---- sessions ------------------------------------------------------------------------------ */

bool auth_is_session(const char *cred)
{
	return strncmp(cred, AUTH_SESSION_PREFIX, strlen(AUTH_SESSION_PREFIX)) == 0;
}

/* n bytes as 2n lowercase hex digits at out (no NUL): a heartbeat's
 * worth of snprintf calls showed in the controller's profile. */
static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
}

/* The session MAC of (dest, digest, counter) under key. */
static void session_mac(const uint8_t key[CRED_KEY_LEN], const char *dest,
			const uint8_t digest[MSG_DIGEST_LEN], uint64_t counter,
			uint8_t mac[SHA256_LEN])
{
	char text[64 + CRED_DEST_MAX + 2 * MSG_DIGEST_LEN + 32];
	size_t n = strlen("coloc-session1 "), d = strnlen(dest, CRED_DEST_MAX - 1);
	int k;

	memcpy(text, "coloc-session1 ", n);
	memcpy(text + n, dest, d);
	n += d;
	text[n++] = ' ';
	hex(digest, MSG_DIGEST_LEN, text + n);
	n += 2 * MSG_DIGEST_LEN;
	k = snprintf(text + n, sizeof(text) - n, " %" PRIu64, counter);
	sha256_hmac(key, CRED_KEY_LEN, text, n + (k > 0 ? (size_t)k : 0), mac);
}

int auth_session_sign(const uint8_t key[CRED_KEY_LEN], uint64_t counter, struct msg *m,
		      const char *dest, char *err, size_t errlen)
{
	uint8_t digest[MSG_DIGEST_LEN], mac[SHA256_LEN];
	int rc, n;

	rc = digest_of(m, digest, err, errlen);
	if (rc)
		return rc;
	session_mac(key, dest, digest, counter, mac);
	n = snprintf(m->cred, sizeof(m->cred), AUTH_SESSION_PREFIX "%" PRIu64 ":", counter);
	hex(mac, SHA256_LEN, m->cred + n);
	m->cred[n + 2 * SHA256_LEN] = '\0';
	return 0;
}

int auth_session_check(const uint8_t key[CRED_KEY_LEN], uint64_t last, const struct msg *m,
		       const char *dest, uint64_t *counter, char *err, size_t errlen)
{
	const char *p = m->cred + strlen(AUTH_SESSION_PREFIX);
	uint8_t mac[SHA256_LEN], diff = 0;
	char want[2 * SHA256_LEN];
	uint64_t c = 0;
	size_t digits = strspn(p, "0123456789");

	if (!auth_is_session(m->cred) || digits == 0 || digits > 19 || p[digits] != ':' ||
	    strlen(p + digits + 1) != 2 * SHA256_LEN) {
		snprintf(err, errlen, "malformed session credential");
		return -EACCES;
	}
	for (size_t i = 0; i < digits; i++)
		c = c * 10 + (uint64_t)(p[i] - '0');
	session_mac(key, dest, m->digest, c, mac);
	hex(mac, SHA256_LEN, want);
	for (size_t i = 0; i < 2 * SHA256_LEN; i++) /* in constant time */
		diff |= (uint8_t)(want[i] ^ p[digits + 1 + i]);
	if (diff) {
		snprintf(err, errlen,
			 "the session credential is not this session's, or not for this message "
			 "and receiver");
		return -EACCES;
	}
	if (c <= last) {
		snprintf(err, errlen,
			 "the session credential's counter %" PRIu64 " is not above %" PRIu64
			 ": a replayed request is refused",
			 c, last);
		return -EACCES;
	}
	*counter = c;
	return 0;
}
