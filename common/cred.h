/*
 * cred: who is asking, and for what. Every TCP request between coloc's
 * programs carries a MUNGE credential (munged runs on every Slurm cluster)
 * that proves the sender's uid and gid, and whose payload binds it to one
 * message for one receiver: the "binding" below. A credential captured on
 * the way (by a user listening on a port colocd does not hold) cannot be
 * used for another message, at another daemon, or twice (the receiver keeps
 * the nonces it has seen: replay_cache.h). Replies that grant something are
 * bound the same way, to the nonce of the request they answer.
 *
 * The binding travels as text, the MUNGE payload:
 *
 *   coloc1 dest=DEST nonce=N digest=D time=T reply_to=R
 *
 * DEST "controller", "agent:NODE" or "reply"; N 32 hex digits (16 random
 * bytes); D 64 hex digits, the SHA-256 of the message without its "cred"
 * (msg_digest); T the unix time it was made; R the nonce of the request a
 * reply answers, "-" for a request.
 *
 * AuthType=none (tests only) writes "none:UID:GID:" and the same binding
 * text instead of a MUNGE credential, and the receiver believes the uid:
 * the daemons refuse it unless every listener is on loopback. Its binding is
 * checked the same way, so tests cover the same code.
 *
 * This module is the only user of libmunge. Stateless: a MUNGE context per
 * call, so any thread may call it.
 */
#ifndef COLOC_CRED_H
#define COLOC_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRED_NONCE_LEN 16
#define CRED_DIGEST_LEN 32
#define CRED_DEST_MAX 72  /* "agent:" and a node name of 63, NUL included */
#define CRED_TTL_S 300	  /* the lifetime of a credential coloc makes, and the longest it takes */
#define CRED_TEXT_MAX 384 /* bytes of a binding as text, NUL included */
#define CRED_KEY_LEN 32	  /* a session key (auth.h) */

struct cred_opts {
	bool none;	    /* AuthType=none */
	const char *socket; /* munged's socket; NULL = libmunge's default */
	int ttl_s;	    /* credential lifetime, 1..CRED_TTL_S; 0 = CRED_TTL_S */
	/* AuthType=none only: claim uid and gid instead of the caller's (test
	 * tools; anyone can, which is what AuthType=none means) */
	bool claim;
	uint32_t uid, gid;
};

/* What a credential is bound to. */
struct cred_binding {
	char dest[CRED_DEST_MAX];	  /* "controller", "agent:NODE", "reply" */
	uint8_t digest[CRED_DIGEST_LEN];  /* of the message, without its "cred" */
	uint8_t nonce[CRED_NONCE_LEN];	  /* random, drawn by cred_create */
	bool reply;			  /* a reply: reply_to is the request's nonce */
	uint8_t reply_to[CRED_NONCE_LEN]; /* all zero for a request */
	int64_t time;			  /* when it was made, unix seconds (cred_create) */
	/* A session key the sender proposes (auth.h): a MUNGE credential
	 * carrying one is made readable by root only, and refused unless it
	 * is (and encrypted). */
	bool has_key;
	uint8_t key[CRED_KEY_LEN];
};

/* Who a verified credential comes from. */
struct cred_id {
	uint32_t uid, gid;
	struct cred_binding b; /* what it is bound to */
	int64_t expires;       /* unix seconds: from then on it is refused as expired */
};

struct coloc_config;

/* The options coloc.conf gives: AuthType=none, MungeSocket. */
void cred_opts_from_config(struct cred_opts *o, const struct coloc_config *c);

/* A credential for the calling process (or the claimed uid, see
 * cred_opts), bound to b: its dest, digest, reply and reply_to are the
 * caller's; cred_create draws b->nonce and sets b->time. *cred is
 * malloc'd (the caller frees it). 0, or -EINVAL (a bad binding, a claim
 * without AuthType=none), -EIO (munged, with a message naming it and the
 * remedy), -ENOMEM. */
int cred_create(const struct cred_opts *o, struct cred_binding *b, char **cred, char *err,
		size_t errlen);

/* Decodes cred: the signature (MUNGE), its lifetime (at most CRED_TTL_S,
 * not expired), its binding's syntax. Fills *who; does not compare the
 * binding with anything (cred_verify does). 0, or -EACCES with a message:
 * expired, replayed (munged's own check), forged, no binding, munged
 * unreachable; -ENOMEM. */
int cred_decode(const struct cred_opts *o, const char *cred, struct cred_id *who, char *err,
		size_t errlen);

/* Compares a credential's binding with what the receiver expects: dest,
 * digest, and whether it is a reply to want->reply_to. 0 or -EACCES with a
 * message naming what differs. Pure: no I/O. */
int cred_binding_check(const struct cred_binding *got, const struct cred_binding *want, char *err,
		       size_t errlen);

/* cred_decode, then cred_binding_check against want. */
int cred_verify(const struct cred_opts *o, const char *cred, const struct cred_binding *want,
		struct cred_id *who, char *err, size_t errlen);

/* The binding as text (the MUNGE payload). 0, or -EINVAL when dest is not
 * "controller", "reply" or "agent:" and a node name. */
int cred_binding_format(const struct cred_binding *b, char out[CRED_TEXT_MAX]);

/* Parses text as cred_binding_format writes it, strictly. 0 or -EPROTO
 * with a message naming what is wrong. */
int cred_binding_parse(const char *text, struct cred_binding *b, char *err, size_t errlen);

#endif
