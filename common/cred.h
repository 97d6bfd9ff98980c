/*
 * cred: who is asking. Every TCP request to the controller carries a MUNGE
 * credential (munged runs on every Slurm cluster) that proves the sender's
 * uid and gid; the receiver verifies it. This module is the only user of
 * libmunge. AuthType=none (tests only) sends "none:<uid>:<gid>" instead and
 * believes it: the daemons log a warning at every start when it is set.
 */
#ifndef COLOC_CRED_H
#define COLOC_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cred_opts {
	bool none;	    /* AuthType=none */
	const char *socket; /* munged's socket; NULL = libmunge's default */
	int ttl_s;	    /* credential lifetime; 0 = munged's default */
};

struct coloc_config;

/* The options coloc.conf gives: AuthType=none, MungeSocket. */
void cred_opts_from_config(struct cred_opts *o, const struct coloc_config *c);

/* A credential for the calling process (malloc'd, caller frees). 0, or
 * -EACCES/-EIO with a message naming the cause (munged down, ...). */
int cred_create(const struct cred_opts *o, char **cred, char *err, size_t errlen);

/* Verifies cred and gives the uid and gid it proves. 0, or -EACCES with a
 * message: expired, replayed, forged (invalid), or munged unreachable. */
int cred_verify(const struct cred_opts *o, const char *cred, uint32_t *uid, uint32_t *gid,
		char *err, size_t errlen);

#endif
