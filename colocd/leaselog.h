/*
 * leaselog: what a lease's executor writes (its fds 1 and 2, the function
 * library's output included), kept for the lease owner in
 * StateDir/logs/<lease id>.log. The executor writes into a pipe, never into
 * colocd's own output; the node agent pumps the pipe into the file, up to
 * LeaseLogSize bytes, without ever waiting: the pipe's end is non-blocking
 * and the file is colocd's (opened once, by descriptor, in a directory only
 * root may write). The file belongs to the lease owner, mode 0600, so that
 * `colocctl logs LEASE` run by the owner on the node reads it; logs older
 * than LEASELOG_KEEP_S are removed.
 *
 * Functions return 0 or -errno with a whole sentence in err. No state
 * beyond what the caller holds.
 */
#ifndef COLOC_LEASELOG_H
#define COLOC_LEASELOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LEASELOG_KEEP_S (7 * 24 * 3600)

/* StateDir/logs: created root-owned 0755 if missing; refused when it is
 * not a directory (a symlink included), not root's, or writable by others. */
int leaselog_dir(const char *state_dir, char *err, size_t errlen);

/* Creates StateDir/logs/<id>.log (no existing file is reused or followed)
 * for uid:gid; *fd is open for appending. */
int leaselog_open(const char *state_dir, const char *id, uid_t uid, gid_t gid, int *fd, char *err,
		  size_t errlen);

/* Moves what waits in the pipe in (non-blocking) to the log out (-1: none),
 * at most max bytes in all (*written counts them; past max, one line says
 * that output was dropped and the rest is read and dropped). Reads at most
 * a bounded amount per call. Returns 1 while the pipe is open, 0 at its
 * end (in can be closed). */
int leaselog_pump(int in, int out, uint64_t max, uint64_t *written);

/* Removes the logs in StateDir/logs older than keep_s seconds. */
void leaselog_prune(const char *state_dir, int64_t keep_s);

/* The log's path for id, for messages and colocctl. */
void leaselog_path(const char *state_dir, const char *id, char *out, size_t len);

#endif
