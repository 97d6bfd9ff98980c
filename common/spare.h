/*
 * Spare executors: what colocd's node agent and a `faas-executor --spare`
 * share. A spare is an executor that colocd started as root before any
 * lease needed it, so that the cost of starting a program linked with
 * libfabric (about 200 ms with Debian's, most of it in provider libraries'
 * constructors) is paid ahead of time. When a lease comes, colocd moves the
 * spare into the lease's cgroup and writes its assignment on the spare's
 * standard input: the lease owner's uid and gid, the executor's arguments
 * and its environment. The spare takes that identity (identity_drop) and
 * runs as if it had been started with those arguments.
 *
 * The assignment is a sequence of NUL-terminated strings:
 *   "coloc-spare 1", uid, gid, argc, argv[0..argc-1], envc, envp[0..envc-1]
 * with the numbers in decimal, and nothing after the last string.
 */
#ifndef COLOC_SPARE_H
#define COLOC_SPARE_H

#include <stddef.h>
#include <sys/types.h>

#define SPARE_MAGIC "coloc-spare 1"
#define SPARE_MSG_MAX 65536 /* bytes of an assignment */
#define SPARE_ARGS_MAX 64   /* arguments, and environment entries */

/* The exit status of an executor whose lease owner has no account on the
 * node (the node agent names the uid in the lease's failure). */
#define SPARE_EXIT_NO_ACCOUNT 3

struct spare_assignment {
	uid_t uid;
	gid_t gid;
	unsigned argc;
	char *argv[SPARE_ARGS_MAX + 1]; /* NULL-terminated, pointing into the buffer */
	unsigned envc;
	char *envp[SPARE_ARGS_MAX + 1]; /* NULL-terminated, pointing into the buffer */
};

/* Writes the assignment into buf[size]; argv and envp are NULL-terminated
 * (envp may be NULL). Returns its length, -EINVAL (root as the owner, no
 * argument, an empty string, more than SPARE_ARGS_MAX of either) or -E2BIG
 * (more than size or SPARE_MSG_MAX bytes). */
long spare_encode(uid_t uid, gid_t gid, char *const argv[], char *const envp[], char *buf,
		  size_t size);

/* Decodes buf[len] in place: the strings stay in buf, which must outlive a.
 * 0, or -EINVAL with err saying what is wrong (a wrong version, a missing
 * NUL, a bad number, root as the owner, too many strings, bytes after the
 * end). */
int spare_decode(char *buf, size_t len, struct spare_assignment *a, char *err, size_t errlen);

/* The steps of identity_drop, for messages: identity_steps[step - 1]. */
extern const char *const identity_steps[];

/* Makes the calling process a session leader running as uid:gid with no
 * supplementary groups, checks that root cannot be regained, and changes
 * to /. Async-signal-safe (usable between fork and exec). Returns 0, or the
 * 1-based step that failed with *err set to its errno. */
int identity_drop(uid_t uid, gid_t gid, int *err);

#endif
