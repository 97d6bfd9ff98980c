/*
 * leaselog: leases' logs (see leaselog.h).
 */
#include "config.h"

#include "leaselog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PUMP_MAX 65536 /* bytes moved per call */

void leaselog_path(const char *state_dir, const char *id, char *out, size_t len)
{
	snprintf(out, len, "%s/logs/%s.log", state_dir, id);
}

/* Opens StateDir/logs as a directory, refusing one a user could change. */
static int open_dir(const char *state_dir, bool create, char *err, size_t errlen)
{
	char path[4200];
	struct stat st;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/logs", state_dir);
	if (create && mkdir(path, 0755) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %.300s: %s", path, strerror(errno));
		return rc;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %.300s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || st.st_uid != 0 || (st.st_mode & 022)) {
		close(fd);
		snprintf(err, errlen,
			 "%.300s must be a directory that root owns and only root may write "
			 "(chown root %.300s; chmod go-w %.300s)",
			 path, path, path);
		return -EPERM;
	}
	return fd;
}

int leaselog_dir(const char *state_dir, char *err, size_t errlen)
{
	int fd = open_dir(state_dir, true, err, errlen);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int leaselog_open(const char *state_dir, const char *id, uid_t uid, gid_t gid, int *fd, char *err,
		  size_t errlen)
{
	char name[128];
	int dir, rc;

	*fd = -1;
	if (!id[0] || strchr(id, '/') || id[0] == '.' ||
	    (size_t)snprintf(name, sizeof(name), "%s.log", id) >= sizeof(name)) {
		snprintf(err, errlen, "\"%.64s\" cannot name a log file", id);
		return -EINVAL;
	}
	dir = open_dir(state_dir, true, err, errlen);
	if (dir < 0)
		return dir;
	/* a leftover of an earlier lease with this id goes: never reused */
	unlinkat(dir, name, 0);
	*fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC,
		     0600);
	if (*fd < 0 || fchown(*fd, uid, gid) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create the log %.300s/logs/%s: %s", state_dir, name,
			 strerror(errno));
		if (*fd >= 0) {
			close(*fd);
			unlinkat(dir, name, 0);
		}
		*fd = -1;
		close(dir);
		return rc;
	}
	close(dir);
	return 0;
}

int leaselog_pump(int in, int out, uint64_t max, uint64_t *written)
{
	static const char dropped[] = "\n[coloc: output beyond LeaseLogSize dropped]\n";
	char buf[8192];
	size_t moved = 0;

	while (moved < PUMP_MAX) {
		ssize_t n = read(in, buf, sizeof(buf));
		size_t keep;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : 0;
		if (n == 0)
			return 0;
		moved += (size_t)n;
		if (out < 0 || *written >= max)
			continue;
		keep = max - *written < (uint64_t)n ? (size_t)(max - *written) : (size_t)n;
		if (write(out, buf, keep) != (ssize_t)keep)
			continue; /* a full disk loses output, never the lease */
		*written += keep;
		if (*written >= max && write(out, dropped, sizeof(dropped) - 1) < 0)
			continue;
	}
	return 1;
}

void leaselog_prune(const char *state_dir, int64_t keep_s)
{
	char err[256];
	int dir = open_dir(state_dir, false, err, sizeof(err));
	time_t now = time(NULL);
	struct dirent *de;
	DIR *d;

	if (dir < 0)
		return;
	d = fdopendir(dir);
	if (!d) {
		close(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".log") != 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    (int64_t)(now - st.st_mtime) < keep_s)
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}
