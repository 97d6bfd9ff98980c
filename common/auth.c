/*
 * auth: credentials bound to control messages (see auth.h). No state.
 */
#include "config.h"

#include "auth.h"

#include <errno.h>
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

int auth_sign(const struct cred_opts *o, struct msg *m, const char *dest, const uint8_t *reply_to,
	      uint8_t nonce[MSG_NONCE_LEN], char *err, size_t errlen)
{
	uint8_t digest[MSG_DIGEST_LEN];
	struct cred_binding b;
	char *cred = NULL;
	int rc;

	m->cred[0] = '\0';
	rc = msg_digest(m, digest);
	if (rc) {
		snprintf(err, errlen, "cannot encode the %s message to sign it: %s",
			 msg_type_name(m->type), strerror(-rc));
		return rc;
	}
	binding_of(digest, dest, reply_to, &b);
	rc = cred_create(o, &b, &cred, err, errlen);
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
