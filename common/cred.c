/*
 * cred: MUNGE credentials bound to one message (see cred.h). Stateless: a
 * munge context per call, since a daemon verifies from several threads and
 * contexts are not shared. The binding's text is written and parsed here,
 * and is the same for MUNGE and AuthType=none.
 */
#include "config.h"

#include "cred.h"
#include "coloc_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <munge.h>

#define BINDING_TAG "coloc1"
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

/* ---- the binding as text ---------------------------------------------------------- */

static void hex_put(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Exactly 2n lowercase hex digits at s into b; false when they are not. */
static bool hex_get(const char *s, size_t slen, uint8_t *b, size_t n)
{
	if (slen != 2 * n || strspn(s, "0123456789abcdef") < slen)
		return false;
	for (size_t i = 0; i < n; i++) {
		char hi = s[2 * i], lo = s[2 * i + 1];

		b[i] = (uint8_t)((hi <= '9' ? hi - '0' : hi - 'a' + 10) << 4 |
				 (lo <= '9' ? lo - '0' : lo - 'a' + 10));
	}
	return true;
}

/* "controller", "reply", or "agent:" and a node name (msg.c's rule). */
static bool dest_ok(const char *d, bool reply)
{
	const char *node = d + 6;
	size_t n = strlen(node);

	if (reply)
		return strcmp(d, "reply") == 0;
	if (strcmp(d, "controller") == 0)
		return true;
	return strncmp(d, "agent:", 6) == 0 && n > 0 && n < 64 && node[0] != '.' &&
	       node[0] != '-' && node[0] != '_' && strspn(node, NAME_CHARS) == n;
}

int cred_binding_format(const struct cred_binding *b, char out[CRED_TEXT_MAX])
{
	char nonce[2 * CRED_NONCE_LEN + 1], digest[2 * CRED_DIGEST_LEN + 1];
	char reply_to[2 * CRED_NONCE_LEN + 1] = "-", key[5 + 2 * CRED_KEY_LEN + 1] = "";
	int n;

	if (strnlen(b->dest, sizeof(b->dest)) == sizeof(b->dest) || !dest_ok(b->dest, b->reply))
		return -EINVAL;
	hex_put(b->nonce, CRED_NONCE_LEN, nonce);
	hex_put(b->digest, CRED_DIGEST_LEN, digest);
	if (b->reply)
		hex_put(b->reply_to, CRED_NONCE_LEN, reply_to);
	if (b->has_key) {
		memcpy(key, " key=", 5);
		hex_put(b->key, CRED_KEY_LEN, key + 5);
	}
	n = snprintf(out, CRED_TEXT_MAX,
		     BINDING_TAG " dest=%s nonce=%s digest=%s time=%" PRId64 " reply_to=%s%s",
		     b->dest, nonce, digest, b->time, reply_to, key);
	explicit_bzero(key, sizeof(key));
	return n > 0 && n < CRED_TEXT_MAX ? 0 : -EINVAL;
}

/* The value of the next "key=value" word at *p (which moves past it). */
static bool next_field(const char **p, const char *key, const char **val, size_t *len)
{
	size_t klen = strlen(key);

	if (**p != ' ' || strncmp(*p + 1, key, klen) != 0 || (*p)[1 + klen] != '=')
		return false;
	*val = *p + 2 + klen;
	*len = strcspn(*val, " ");
	*p = *val + *len;
	return true;
}

int cred_binding_parse(const char *text, struct cred_binding *b, char *err, size_t errlen)
{
	const char *p = text, *v;
	size_t len;
	char *end;

	memset(b, 0, sizeof(*b));
	if (strncmp(p, BINDING_TAG, strlen(BINDING_TAG)) != 0)
		goto bad;
	p += strlen(BINDING_TAG);
	if (!next_field(&p, "dest", &v, &len) || len == 0 || len >= sizeof(b->dest))
		goto bad;
	memcpy(b->dest, v, len);
	b->reply = strcmp(b->dest, "reply") == 0;
	if (!dest_ok(b->dest, b->reply) || !next_field(&p, "nonce", &v, &len) ||
	    !hex_get(v, len, b->nonce, CRED_NONCE_LEN) || !next_field(&p, "digest", &v, &len) ||
	    !hex_get(v, len, b->digest, CRED_DIGEST_LEN) || !next_field(&p, "time", &v, &len) ||
	    len == 0 || len > 12 || strspn(v, "0123456789") < len)
		goto bad;
	b->time = (int64_t)strtoll(v, &end, 10);
	if (!next_field(&p, "reply_to", &v, &len))
		goto bad;
	if (b->reply ? !hex_get(v, len, b->reply_to, CRED_NONCE_LEN) : len != 1 || *v != '-')
		goto bad;
	if (*p != '\0') { /* a session key */
		if (!next_field(&p, "key", &v, &len) || !hex_get(v, len, b->key, CRED_KEY_LEN) ||
		    *p != '\0')
			goto bad;
		b->has_key = true;
	}
	return 0;
bad:
	snprintf(err, errlen,
		 "the credential's binding is malformed (\"%.100s\"); every coloc program must be "
		 "of the same version",
		 text);
	return -EPROTO;
}

int cred_binding_check(const struct cred_binding *got, const struct cred_binding *want, char *err,
		       size_t errlen)
{
	if (strcmp(got->dest, want->dest) != 0) {
		snprintf(err, errlen,
			 "the credential was made for %s, not %s: a credential taken on its way "
			 "to one receiver is refused by another",
			 got->dest, want->dest);
		return -EACCES;
	}
	if (got->reply != want->reply ||
	    (want->reply && memcmp(got->reply_to, want->reply_to, CRED_NONCE_LEN) != 0)) {
		snprintf(
		    err, errlen, "%s",
		    !want->reply ? "the credential belongs to a reply, not to a request"
		    : !got->reply
			? "the reply carries a request's credential, not one bound to a reply"
			: "the reply's credential answers another request (its reply_to is not "
			  "this request's nonce)");
		return -EACCES;
	}
	if (memcmp(got->digest, want->digest, CRED_DIGEST_LEN) != 0) {
		char g[17], w[17];

		hex_put(got->digest, 8, g);
		hex_put(want->digest, 8, w);
		snprintf(err, errlen,
			 "the credential was made for another message (digest %s..., this "
			 "message's is %s...): the message was altered, or its credential taken "
			 "from another message",
			 g, w);
		return -EACCES;
	}
	return 0;
}

/* ---- MUNGE ----------------------------------------------------------------------------- */

static munge_ctx_t context(const struct cred_opts *o, int ttl, char *err, size_t errlen)
{
	munge_ctx_t ctx = munge_ctx_create();

	if (!ctx) {
		snprintf(err, errlen, "out of memory creating a MUNGE context");
		return NULL;
	}
	if ((o->socket && munge_ctx_set(ctx, MUNGE_OPT_SOCKET, o->socket) != EMUNGE_SUCCESS) ||
	    (ttl > 0 && munge_ctx_set(ctx, MUNGE_OPT_TTL, ttl) != EMUNGE_SUCCESS)) {
		snprintf(err, errlen, "cannot set MUNGE options: %s", munge_ctx_strerror(ctx));
		munge_ctx_destroy(ctx);
		return NULL;
	}
	return ctx;
}

void cred_opts_from_config(struct cred_opts *o, const struct coloc_config *c)
{
	*o = (struct cred_opts){.none = c->auth == COLOC_AUTH_NONE,
				.socket = c->munge_socket[0] ? c->munge_socket : NULL};
}

int cred_create(const struct cred_opts *o, struct cred_binding *b, char **cred, char *err,
		size_t errlen)
{
	int ttl = o->ttl_s > 0 && o->ttl_s < CRED_TTL_S ? o->ttl_s : CRED_TTL_S;
	char text[CRED_TEXT_MAX];
	munge_ctx_t ctx;
	munge_err_t e;

	*cred = NULL;
	if (getrandom(b->nonce, sizeof(b->nonce), 0) != (ssize_t)sizeof(b->nonce)) {
		snprintf(err, errlen, "cannot draw a credential's nonce: %s", strerror(errno));
		return -EIO;
	}
	b->time = (int64_t)time(NULL);
	if (cred_binding_format(b, text) != 0) {
		snprintf(err, errlen, "cannot bind a credential to \"%.80s\"", b->dest);
		return -EINVAL;
	}
	if (o->none) {
		uint32_t uid = o->claim ? o->uid : (uint32_t)getuid();
		uint32_t gid = o->claim ? o->gid : (uint32_t)getgid();

		if (asprintf(cred, "none:%" PRIu32 ":%" PRIu32 ":%s", uid, gid, text) < 0) {
			*cred = NULL;
			return -ENOMEM;
		}
		return 0;
	}
	if (o->claim) {
		snprintf(err, errlen, "a MUNGE credential proves the caller's own uid only");
		return -EINVAL;
	}
	ctx = context(o, ttl, err, errlen);
	if (!ctx)
		return -ENOMEM;
	/* a session key: only root (the controller) may decode it */
	if (b->has_key &&
	    munge_ctx_set(ctx, MUNGE_OPT_UID_RESTRICTION, (uid_t)0) != EMUNGE_SUCCESS) {
		snprintf(err, errlen, "cannot restrict the MUNGE credential to root: %s",
			 munge_ctx_strerror(ctx));
		munge_ctx_destroy(ctx);
		return -EIO;
	}
	e = munge_encode(cred, ctx, text, (int)strlen(text));
	explicit_bzero(text, sizeof(text));
	if (e != EMUNGE_SUCCESS) {
		snprintf(err, errlen,
			 "cannot create a MUNGE credential: %s; is munged running (systemctl "
			 "status munge)?",
			 munge_ctx_strerror(ctx));
		munge_ctx_destroy(ctx);
		*cred = NULL;
		return -EIO;
	}
	munge_ctx_destroy(ctx);
	return 0;
}

static int decode_none(const char *cred, struct cred_id *who, char *err, size_t errlen)
{
	int64_t now = (int64_t)time(NULL);
	unsigned u, g;
	int used = 0, rc;

	if (sscanf(cred, "none:%u:%u%n", &u, &g, &used) != 2 || (cred[used] && cred[used] != ':')) {
		snprintf(err, errlen, "malformed AuthType=none credential");
		return -EACCES;
	}
	if (!cred[used]) {
		snprintf(err, errlen,
			 "the AuthType=none credential is bound to no message (an older coloc?); "
			 "every coloc program must be of the same version");
		return -EACCES;
	}
	rc = cred_binding_parse(cred + used + 1, &who->b, err, errlen);
	if (rc)
		return -EACCES;
	if (now > who->b.time + CRED_TTL_S || who->b.time > now + CRED_TTL_S) {
		snprintf(err, errlen,
			 "the credential %s (made at %" PRId64 ", now %" PRId64
			 "); check that the clocks agree",
			 now > who->b.time ? "has expired" : "comes from the future", who->b.time,
			 now);
		return -EACCES;
	}
	who->uid = u;
	who->gid = g;
	who->expires = who->b.time + CRED_TTL_S;
	return 0;
}

/* Decodes a MUNGE credential into who; 0 or -EACCES/-ENOMEM with err. */
static int decode_munge(const struct cred_opts *o, const char *cred, struct cred_id *who, char *err,
			size_t errlen)
{
	munge_ctx_t ctx = context(o, 0, err, errlen);
	char text[CRED_TEXT_MAX];
	time_t encoded = 0;
	void *buf = NULL;
	int len = 0, ttl = 0, rc = -EACCES;
	munge_err_t e;
	uid_t u;
	gid_t g;

	if (!ctx)
		return -ENOMEM;
	e = munge_decode(cred, ctx, &buf, &len, &u, &g);
	if (e != EMUNGE_SUCCESS) {
		snprintf(err, errlen, "MUNGE credential refused: %s", munge_ctx_strerror(ctx));
		goto out;
	}
	if (munge_ctx_get(ctx, MUNGE_OPT_ENCODE_TIME, &encoded) != EMUNGE_SUCCESS ||
	    munge_ctx_get(ctx, MUNGE_OPT_TTL, &ttl) != EMUNGE_SUCCESS) {
		snprintf(err, errlen, "cannot read the MUNGE credential's time: %s",
			 munge_ctx_strerror(ctx));
		goto out;
	}
	if (ttl <= 0 || ttl > CRED_TTL_S) {
		snprintf(
		    err, errlen,
		    "the MUNGE credential is valid for %d s; coloc takes credentials valid for "
		    "%d s at most",
		    ttl, CRED_TTL_S);
		goto out;
	}
	if (!buf || len <= 0 || len >= CRED_TEXT_MAX || memchr(buf, '\0', (size_t)len)) {
		snprintf(err, errlen,
			 "the MUNGE credential is bound to no message (%s payload); every coloc "
			 "program must be of the same version",
			 buf && len > 0 ? "a malformed" : "no");
		goto out;
	}
	memcpy(text, buf, (size_t)len);
	text[len] = '\0';
	if (cred_binding_parse(text, &who->b, err, errlen) != 0)
		goto out;
	explicit_bzero(text, sizeof(text));
	if (who->b.has_key) {
		uid_t only = (uid_t)-1;
		int cipher = MUNGE_CIPHER_NONE;

		if (munge_ctx_get(ctx, MUNGE_OPT_UID_RESTRICTION, &only) != EMUNGE_SUCCESS ||
		    munge_ctx_get(ctx, MUNGE_OPT_CIPHER_TYPE, &cipher) != EMUNGE_SUCCESS ||
		    only != 0 || cipher == MUNGE_CIPHER_NONE) {
			snprintf(err, errlen,
				 "the MUNGE credential carries a session key that is not encrypted "
				 "for root alone (uid restriction %ld, cipher %d); refused",
				 (long)only, cipher);
			explicit_bzero(&who->b, sizeof(who->b));
			goto out;
		}
	}
	who->uid = (uint32_t)u;
	who->gid = (uint32_t)g;
	who->expires = (int64_t)encoded + ttl;
	rc = 0;
out:
	free(buf);
	munge_ctx_destroy(ctx);
	return rc;
}

int cred_decode(const struct cred_opts *o, const char *cred, struct cred_id *who, char *err,
		size_t errlen)
{
	memset(who, 0, sizeof(*who));
	if (!cred || !*cred) {
		snprintf(err, errlen, "the message carries no credential");
		return -EACCES;
	}
	if (o->none) {
		if (strncmp(cred, "none:", 5) != 0) {
			snprintf(
			    err, errlen,
			    "a MUNGE credential reached a program using AuthType=none; set the "
			    "same AuthType in every coloc.conf");
			return -EACCES;
		}
		return decode_none(cred, who, err, errlen);
	}
	if (strncmp(cred, "none:", 5) == 0) {
		snprintf(err, errlen,
			 "an AuthType=none credential reached a program using MUNGE; set the same "
			 "AuthType in every coloc.conf");
		return -EACCES;
	}
	return decode_munge(o, cred, who, err, errlen);
}

int cred_verify(const struct cred_opts *o, const char *cred, const struct cred_binding *want,
		struct cred_id *who, char *err, size_t errlen)
{
	int rc = cred_decode(o, cred, who, err, errlen);

	return rc ? rc : cred_binding_check(&who->b, want, err, errlen);
}
