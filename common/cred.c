/*
 * cred: MUNGE credentials (see cred.h). Stateless: a munge context per
 * call, since a daemon verifies from several threads and contexts are not
 * shared.
 */
#include "config.h"

#include "cred.h"
#include "coloc_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <munge.h>

static munge_ctx_t context(const struct cred_opts *o, char *err, size_t errlen)
{
	munge_ctx_t ctx = munge_ctx_create();

	if (!ctx) {
		snprintf(err, errlen, "out of memory creating a MUNGE context");
		return NULL;
	}
	if ((o->socket && munge_ctx_set(ctx, MUNGE_OPT_SOCKET, o->socket) != EMUNGE_SUCCESS) ||
	    (o->ttl_s > 0 && munge_ctx_set(ctx, MUNGE_OPT_TTL, o->ttl_s) != EMUNGE_SUCCESS)) {
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

int cred_create(const struct cred_opts *o, char **cred, char *err, size_t errlen)
{
	munge_ctx_t ctx;
	munge_err_t e;

	if (o->none) {
		if (asprintf(cred, "none:%u:%u", (unsigned)getuid(), (unsigned)getgid()) < 0)
			return -ENOMEM;
		return 0;
	}
	ctx = context(o, err, errlen);
	if (!ctx)
		return -ENOMEM;
	e = munge_encode(cred, ctx, NULL, 0);
	if (e != EMUNGE_SUCCESS) {
		snprintf(err, errlen,
			 "cannot create a MUNGE credential: %s; is munged running (systemctl "
			 "status munge)?",
			 munge_ctx_strerror(ctx));
		munge_ctx_destroy(ctx);
		return -EIO;
	}
	munge_ctx_destroy(ctx);
	return 0;
}

static int verify_none(const char *cred, uint32_t *uid, uint32_t *gid, char *err, size_t errlen)
{
	unsigned u, g;
	int used = 0;

	if (sscanf(cred, "none:%u:%u%n", &u, &g, &used) != 2 || cred[used] != '\0') {
		snprintf(err, errlen, "malformed AuthType=none credential");
		return -EACCES;
	}
	*uid = u;
	*gid = g;
	return 0;
}

int cred_verify(const struct cred_opts *o, const char *cred, uint32_t *uid, uint32_t *gid,
		char *err, size_t errlen)
{
	munge_ctx_t ctx;
	munge_err_t e;
	uid_t u;
	gid_t g;

	if (!cred || !*cred) {
		snprintf(err, errlen, "the request carries no credential");
		return -EACCES;
	}
	if (o->none)
		return verify_none(cred, uid, gid, err, errlen);
	if (strncmp(cred, "none:", 5) == 0) {
		snprintf(err, errlen,
			 "an AuthType=none credential reached a daemon using MUNGE; set the same "
			 "AuthType in every coloc.conf");
		return -EACCES;
	}
	ctx = context(o, err, errlen);
	if (!ctx)
		return -ENOMEM;
	e = munge_decode(cred, ctx, NULL, NULL, &u, &g);
	if (e != EMUNGE_SUCCESS) {
		snprintf(err, errlen, "MUNGE credential refused: %s", munge_ctx_strerror(ctx));
		munge_ctx_destroy(ctx);
		return -EACCES;
	}
	munge_ctx_destroy(ctx);
	*uid = (uint32_t)u;
	*gid = (uint32_t)g;
	return 0;
}
