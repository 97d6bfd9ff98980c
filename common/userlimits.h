/*
 * userlimits: the resource limits a login of a user would get, computed the
 * way pam_limits(8) computes them, for faas-executor to take before it
 * drops root (a root daemon starts it, so it would otherwise keep root's).
 *
 * A login starts from the limits of PID 1 (/proc/1/limits, pam_limits'
 * set_all), then applies /etc/security/limits.conf and then each
 * /etc/security/limits.d/NAME.conf in name order (limits.conf(5)). Among the
 * entries that apply to the user, one for the user (by name or uid range)
 * beats one for a group (@group, @gid ranges), which beats the wildcard "*";
 * among entries of equal standing the last one read wins. Soft and hard
 * limits are ranked separately.
 *
 * Every function is reentrant and keeps no state: the caller owns the
 * struct userlimits and the error buffer. Negative returns are -errno with a
 * sentence in err; positive returns count problems that are not fatal (a
 * skipped line, a limit that could not be raised), each described in err.
 */
#ifndef COLOC_USERLIMITS_H
#define COLOC_USERLIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#define USERLIMITS_FILE_MAX 1048576 /* bytes of limits.conf or of one limits.d file */
#define USERLIMITS_LINE_MAX 1024    /* characters of one line, newline excluded */
#define USERLIMITS_DIR_MAX 256	    /* .conf files in limits.d; more are refused (-E2BIG) */

/* What set a value, weakest first: an entry replaces a value set by the
 * same or a weaker source. A zeroed struct userlimits is all UNSET. */
enum userlimits_source {
	USERLIMITS_UNSET = 0, /* unknown: userlimits_apply leaves the process's value */
	USERLIMITS_BASELINE,  /* /proc/1/limits */
	USERLIMITS_WILDCARD,  /* a "*" entry */
	USERLIMITS_GROUP,     /* an @group or @gid-range entry */
	USERLIMITS_USER,      /* an entry naming the user, or a uid range */
};

struct userlimits {
	struct rlimit lim[RLIMIT_NLIMITS];	/* by RLIMIT_*, in bytes, seconds, counts */
	unsigned char soft_src[RLIMIT_NLIMITS]; /* enum userlimits_source of lim[].rlim_cur */
	unsigned char hard_src[RLIMIT_NLIMITS]; /* enum userlimits_source of lim[].rlim_max */
	/* A "<domain> -" line applied to the user: pam_limits then stops
	 * reading and changes no limit. userlimits_parse_conf ignores what
	 * follows; userlimits_load returns the baseline alone. */
	bool no_limits;
};

/* One group the user is in, for @group and @:gid entries. */
struct userlimits_group {
	gid_t gid;
	const char *name; /* NULL where the gid has no name */
};

/* The user whom entries are matched against. */
struct userlimits_who {
	const char *name; /* the account's name */
	uid_t uid;
	gid_t gid;			       /* the account's primary gid (pw_gid) */
	const struct userlimits_group *groups; /* every group, the primary one included */
	size_t ngroups;
};

/* Parses text, a NUL-terminated /proc/PID/limits ("Max open files  1024
 * 524288  files", "unlimited" being RLIM_INFINITY), and sets every limit
 * it lists in u as USERLIMITS_BASELINE. Rows this libc has no RLIMIT_* for
 * are ignored. Returns 0, or -EINVAL with err saying which row is wrong
 * (u is then unchanged). */
int userlimits_parse_proc(const char *text, struct userlimits *u, char *err, size_t errlen);

/* Applies text, one NUL-terminated limits.conf(5) file named name (for
 * messages), to u for who, on top of what u holds. A malformed line is
 * skipped, as pam_limits does, and described in err as "NAME:LINE: what is
 * wrong; what is accepted", appended to what err holds (set err[0] to '\0'
 * first) and separated from earlier messages by '\n'. Items that are not
 * resource limits (maxlogins, maxsyslogins, priority, nonewprivs, chroot)
 * and %domains are accepted and ignored. Values of nofile stay
 * RLIM_INFINITY where a file says unlimited (userlimits_apply maps it).
 * Returns the number of skipped lines (0 when none); does nothing when
 * u->no_limits is set already. */
int userlimits_parse_conf(const char *text, const char *name, const struct userlimits_who *who,
			  struct userlimits *u, char *err, size_t errlen);

/* Fills u with the limits a login of uid would get: /proc/1/limits, then
 * ETC/limits.conf and each ETC/limits.d/NAME.conf (sorted with strcmp;
 * hidden files skipped), where ETC is etc_security, or "/etc/security" when
 * it is NULL. Entries are matched against the account's name, uid,
 * primary gid (pw_gid, as a login has) and getgrouplist() groups, looked
 * up through NSS: it may block and must not run between fork and exec. A
 * missing limits.conf or limits.d is no error. Returns the number of
 * things skipped (malformed lines, a limits.d entry that is not a regular
 * file, the rest of a file after a NUL byte), each described in err, which
 * load clears first; or -errno with err saying why: -ENOENT when uid has
 * no account, -EFBIG for a file over USERLIMITS_FILE_MAX bytes, -E2BIG for
 * more than USERLIMITS_DIR_MAX files, and open or read errors (a login
 * would fail on those too). */
int userlimits_load(uid_t uid, const char *etc_security, struct userlimits *u, char *err,
		    size_t errlen);

/* Sets the calling process's limits to those set in u, each soft limit
 * lowered to its hard one; limits UNSET in both halves are left alone. A
 * hard limit the process may not raise (no CAP_SYS_RESOURCE, or nofile
 * over /proc/sys/fs/nr_open) stays where it is, its soft limit lowered to
 * fit. RLIM_INFINITY for nofile means /proc/sys/fs/nr_open, as in
 * pam_limits. Returns 0, the number of limits that could not be raised
 * (each named in err, which apply clears first), or -errno with err
 * naming the limit the kernel refused. Not async-signal-safe. */
int userlimits_apply(const struct userlimits *u, char *err, size_t errlen);

#endif
