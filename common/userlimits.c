/*
 * userlimits: computes and sets the resource limits a login of a user would
 * get (see userlimits.h, limits.conf(5) and pam_limits(8)).
 *
 * Data: one table of the resources (RLIMIT_*, its row in /proc/PID/limits,
 * its limits.conf item and unit). The parsers read the caller's text in
 * place, one line at a time, never past a line's end, and check every
 * number for overflow, so that no text can crash them. userlimits_load
 * owns what it looks up (the account, its groups, the files' text) for the
 * length of the call. No global state, no locking.
 *
 * Where pam_limits is lax this module is strict, and says so: a value must
 * be the whole word (pam_limits reads "1024x" as 1024), a number that does
 * not fit rlim_t is malformed (pam_limits makes it unlimited), and so is a
 * line of more than four words (pam_limits reads the fourth word on).
 * Where pam_limits has a quirk that changes the limits a login gets, this
 * module keeps it: see set_limit and no_limits_applies.
 */
#include "config.h"

#include "userlimits.h"
#include "log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROC_LIMITS "/proc/1/limits"
#define PROC_LIMITS_MAX 65536 /* bytes of /proc/PID/limits: about 1.3 KiB today */
#define NR_OPEN "/proc/sys/fs/nr_open"
#define ETC_SECURITY "/etc/security"
#define NSS_BUF_MAX (1u << 20) /* bytes for one passwd or group entry */
#define GROUPS_MAX 65536       /* the kernel's NGROUPS_MAX */

_Static_assert(sizeof(rlim_t) == sizeof(uint64_t), "limits are parsed as 64-bit numbers");

enum unit {
	UNIT_COUNT,   /* counts, bytes (msgqueue) and microseconds (rttime) as written */
	UNIT_KB,      /* KiB in limits.conf, bytes in the kernel */
	UNIT_MINUTES, /* minutes in limits.conf, seconds in the kernel */
	UNIT_NICE,    /* a nice value n in limits.conf, 20 - n in the kernel */
};

static const struct resource {
	int rlimit;
	const char *row;  /* in /proc/PID/limits */
	const char *item; /* in limits.conf */
	enum unit unit;
} resources[] = {
    {RLIMIT_CPU, "Max cpu time", "cpu", UNIT_MINUTES},
    {RLIMIT_FSIZE, "Max file size", "fsize", UNIT_KB},
    {RLIMIT_DATA, "Max data size", "data", UNIT_KB},
    {RLIMIT_STACK, "Max stack size", "stack", UNIT_KB},
    {RLIMIT_CORE, "Max core file size", "core", UNIT_KB},
    {RLIMIT_RSS, "Max resident set", "rss", UNIT_KB},
    {RLIMIT_NPROC, "Max processes", "nproc", UNIT_COUNT},
    {RLIMIT_NOFILE, "Max open files", "nofile", UNIT_COUNT},
    {RLIMIT_MEMLOCK, "Max locked memory", "memlock", UNIT_KB},
    {RLIMIT_AS, "Max address space", "as", UNIT_KB},
    {RLIMIT_LOCKS, "Max file locks", "locks", UNIT_COUNT},
    {RLIMIT_SIGPENDING, "Max pending signals", "sigpending", UNIT_COUNT},
    {RLIMIT_MSGQUEUE, "Max msgqueue size", "msgqueue", UNIT_COUNT},
    {RLIMIT_NICE, "Max nice priority", "nice", UNIT_NICE},
    {RLIMIT_RTPRIO, "Max realtime priority", "rtprio", UNIT_COUNT},
    {RLIMIT_RTTIME, "Max realtime timeout", "rttime", UNIT_COUNT},
};
#define NRESOURCES (sizeof(resources) / sizeof(resources[0]))

/* limits.conf items that are not resource limits: accepted, ignored. */
static const char *const other_items[] = {"maxlogins", "maxsyslogins", "priority", "nonewprivs",
					  "chroot"};

/* ---- words and numbers ---------------------------------------------------- */

struct span {
	const char *p;
	size_t n;
};

/* Splits [p, end) at white space into up to max words; returns how many
 * words there are, which may be more than max. */
static size_t split_words(const char *p, const char *end, struct span *w, size_t max)
{
	size_t n = 0;

	for (;;) {
		const char *start;

		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p == end)
			return n;
		start = p;
		while (p < end && !isspace((unsigned char)*p))
			p++;
		if (n < max)
			w[n] = (struct span){start, (size_t)(p - start)};
		n++;
	}
}

static bool word_is(struct span w, const char *s)
{
	return s && strlen(s) == w.n && memcmp(w.p, s, w.n) == 0;
}

static bool word_is_nocase(struct span w, const char *s)
{
	return strlen(s) == w.n && strncasecmp(w.p, s, w.n) == 0;
}

/* A whole word of decimal digits: 0, -EINVAL, or -ERANGE past UINT64_MAX. */
static int parse_u64(struct span w, uint64_t *v)
{
	uint64_t x = 0;

	if (w.n == 0)
		return -EINVAL;
	for (size_t i = 0; i < w.n; i++) {
		unsigned d = (unsigned)(unsigned char)w.p[i] - '0';

		if (d > 9)
			return -EINVAL;
		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/* The end of the line starting at p: its '\n' or the text's NUL. */
static const char *line_end(const char *p)
{
	return strchrnul(p, '\n');
}

/* At most this many characters of a word or line go into a message. */
#define SHOWN(n) ((int)((n) < 64 ? (n) : 64))

/* Appends a formatted message to err, after a '\n' if err holds one. */
static void append(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *err, size_t errlen, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!err || errlen == 0)
		return;
	used = strnlen(err, errlen - 1);
	err[used] = '\0';
	if (used > 0 && used + 1 < errlen) {
		err[used++] = '\n';
		err[used] = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
}

static const char *show_rlim(rlim_t v, char *buf, size_t len)
{
	if (v == RLIM_INFINITY)
		return "unlimited";
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

/* strerror, reentrant (the GNU strerror_r: config.h defines _GNU_SOURCE). */
static const char *error_text(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

static const char *item_name(int rlimit)
{
	for (size_t i = 0; i < NRESOURCES; i++)
		if (resources[i].rlimit == rlimit)
			return resources[i].item;
	return "unknown";
}

/* ---- /proc/PID/limits --------------------------------------------------- */

/* The resource whose row name starts the line [p, end), or NULL. */
static const struct resource *proc_row(const char *p, const char *end)
{
	for (size_t i = 0; i < NRESOURCES; i++) {
		size_t n = strlen(resources[i].row);

		if ((size_t)(end - p) > n && memcmp(p, resources[i].row, n) == 0 &&
		    isspace((unsigned char)p[n]))
			return &resources[i];
	}
	return NULL;
}

static int proc_value(struct span w, rlim_t *v)
{
	uint64_t x;

	if (word_is(w, "unlimited")) {
		*v = RLIM_INFINITY;
		return 0;
	}
	if (parse_u64(w, &x) != 0)
		return -EINVAL;
	*v = (rlim_t)x;
	return 0;
}

int userlimits_parse_proc(const char *text, struct userlimits *u, char *err, size_t errlen)
{
	struct userlimits t = *u;
	unsigned lineno = 0, found = 0;

	for (const char *p = text, *end; *p; p = *end ? end + 1 : end) {
		const struct resource *r;
		struct span w[3];
		rlim_t soft, hard;
		size_t n;

		end = line_end(p);
		lineno++;
		r = proc_row(p, end);
		if (!r)
			continue; /* the heading, or a limit this libc does not know */
		n = split_words(p + strlen(r->row), end, w, 3);
		if (n < 2 || n > 3 || proc_value(w[0], &soft) || proc_value(w[1], &hard)) {
			log_errbuf(
			    err, errlen,
			    "line %u of the limits text, '%.*s', is not '%s SOFT HARD [UNITS]' "
			    "with numbers or 'unlimited'; is it really a /proc/PID/limits?",
			    lineno, SHOWN((size_t)(end - p)), p, r->row);
			return -EINVAL;
		}
		t.lim[r->rlimit] = (struct rlimit){soft, hard};
		t.soft_src[r->rlimit] = USERLIMITS_BASELINE;
		t.hard_src[r->rlimit] = USERLIMITS_BASELINE;
		found++;
	}
	if (!found) {
		log_errbuf(err, errlen,
			   "the limits text lists no limit ('Max open files ...'); is it really a "
			   "/proc/PID/limits?");
		return -EINVAL;
	}
	*u = t;
	return 0;
}

/* ---- limits.conf ---------------------------------------------------------- */

enum { TYPE_SOFT = 1, TYPE_HARD = 2 };

enum range_kind {
	RANGE_NONE,  /* no ':' in the domain */
	RANGE_ONE,   /* ":id" */
	RANGE_FROM,  /* "min:" */
	RANGE_MINMAX /* "min:max" */
};

struct range {
	enum range_kind kind;
	uint64_t lo, hi;
};

/* One file being read: where, and what was skipped. */
struct conf {
	const char *name;
	unsigned lineno;
	int skipped;
	char *err;
	size_t errlen;
};

/* Skips the current line, saying why in c's buffer: -EINVAL. */
static int skip_line(struct conf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int skip_line(struct conf *c, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	append(c->err, c->errlen, "%s:%u: %s; the line is skipped, as pam_limits does", c->name,
	       c->lineno, why);
	if (c->skipped < INT_MAX)
		c->skipped++;
	return -EINVAL;
}

/* Reads the uid or gid range of a domain ("min:max", ":id", "min:", after
 * '@' for gids): 0 or -EINVAL. A domain without ':' is RANGE_NONE. */
static int parse_range(struct span d, struct range *r)
{
	const char *colon;
	struct span lo, hi;

	if (d.n > 0 && d.p[0] == '@') {
		d.p++;
		d.n--;
	}
	colon = memchr(d.p, ':', d.n);
	r->kind = RANGE_NONE;
	if (!colon)
		return 0;
	lo = (struct span){d.p, (size_t)(colon - d.p)};
	hi = (struct span){colon + 1, d.n - lo.n - 1};
	if (lo.n == 0) {
		r->kind = RANGE_ONE;
		if (parse_u64(hi, &r->hi) != 0 || r->hi > UINT_MAX)
			return -EINVAL;
		r->lo = r->hi;
		return 0;
	}
	if (parse_u64(lo, &r->lo) != 0 || r->lo > UINT_MAX)
		return -EINVAL;
	if (hi.n == 0) {
		r->kind = RANGE_FROM;
		r->hi = UINT64_MAX;
		return 0;
	}
	r->kind = RANGE_MINMAX;
	return parse_u64(hi, &r->hi) != 0 || r->hi > UINT_MAX ? -EINVAL : 0;
}

static bool in_group_gid(const struct userlimits_who *who, uint64_t gid)
{
	if (who->gid == gid)
		return true;
	for (size_t i = 0; i < who->ngroups; i++)
		if (who->groups[i].gid == gid)
			return true;
	return false;
}

static bool in_group_named(const struct userlimits_who *who, struct span name)
{
	for (size_t i = 0; i < who->ngroups; i++)
		if (word_is(name, who->groups[i].name))
			return true;
	return false;
}

/* How an entry for domain d (with its range r) applies to who, as
 * pam_limits' parse_config_file decides: USERLIMITS_UNSET when it does not.
 * A gid range looks at the primary gid only; "@:gid" at every group. */
static enum userlimits_source domain_match(const struct userlimits_who *who, struct span d,
					   const struct range *r)
{
	if (word_is(d, who->name))
		return USERLIMITS_USER;
	if (d.n > 0 && d.p[0] == '@') {
		bool in;

		if (r->kind == RANGE_NONE)
			in = in_group_named(who, (struct span){d.p + 1, d.n - 1});
		else if (r->kind == RANGE_ONE)
			in = in_group_gid(who, r->lo);
		else
			in = who->gid >= r->lo && who->gid <= r->hi;
		return in ? USERLIMITS_GROUP : USERLIMITS_UNSET;
	}
	if (r->kind == RANGE_NONE)
		return word_is(d, "*") ? USERLIMITS_WILDCARD : USERLIMITS_UNSET;
	return who->uid >= r->lo && who->uid <= r->hi ? USERLIMITS_USER : USERLIMITS_UNSET;
}

/* Whether a "<domain> -" line takes the user out of pam_limits: it does for
 * the user's name, a group of the user and a matching range, but not for
 * "*" (pam_limits ignores "* -"). */
static bool no_limits_applies(const struct userlimits_who *who, struct span d,
			      const struct range *r)
{
	return domain_match(who, d, r) > USERLIMITS_WILDCARD;
}

/* Scales v from limits.conf's unit to the kernel's, saturating at
 * RLIM_INFINITY as pam_limits does. */
static rlim_t scale(rlim_t v, unsigned factor)
{
	if (v == RLIM_INFINITY)
		return v;
	return v >= RLIM_INFINITY / factor ? RLIM_INFINITY : v * factor;
}

/* Reads a limits.conf value for resource res: 0, or -EINVAL with *why set. */
static int conf_value(const struct resource *res, struct span w, rlim_t *v, const char **why)
{
	uint64_t x;
	int rc;

	if (res->unit == UNIT_NICE) {
		bool neg = w.n > 0 && w.p[0] == '-';
		struct span digits = w;

		if (w.n > 0 && (w.p[0] == '-' || w.p[0] == '+')) {
			digits.p++;
			digits.n--;
		}
		if (parse_u64(digits, &x) != 0) {
			*why = "a nice value from -20 to 19 (no 'unlimited')";
			return -EINVAL;
		}
		/* pam_limits clamps to -20..19 and stores 20 - n: 1..40 */
		*v = neg ? (x > 20 ? 40 : 20 + (rlim_t)x) : (x > 19 ? 1 : 20 - (rlim_t)x);
		return 0;
	}
	if (word_is(w, "-1") || word_is(w, "-") || word_is_nocase(w, "unlimited") ||
	    word_is_nocase(w, "infinity")) {
		*v = RLIM_INFINITY;
		return 0;
	}
	rc = parse_u64(w, &x);
	if (rc != 0) {
		*why = rc == -ERANGE ? "a number of at most 18446744073709551615"
				     : "a whole number, 'unlimited', 'infinity' or -1";
		return -EINVAL;
	}
	*v = (rlim_t)x;
	if (res->unit == UNIT_KB)
		*v = scale(*v, 1024);
	else if (res->unit == UNIT_MINUTES)
		*v = scale(*v, 60);
	return 0;
}

/* Sets one or both halves of a limit from an entry of standing src. Like
 * pam_limits, a "-" entry that may not replace the soft half leaves the
 * hard half alone too. */
static void set_limit(struct userlimits *u, int rlimit, unsigned type, rlim_t v,
		      enum userlimits_source src)
{
	if (type & TYPE_SOFT) {
		if (u->soft_src[rlimit] > src)
			return;
		u->lim[rlimit].rlim_cur = v;
		u->soft_src[rlimit] = (unsigned char)src;
	}
	if (type & TYPE_HARD) {
		if (u->hard_src[rlimit] > src)
			return;
		u->lim[rlimit].rlim_max = v;
		u->hard_src[rlimit] = (unsigned char)src;
	}
}

static const struct resource *conf_item(struct span w)
{
	for (size_t i = 0; i < NRESOURCES; i++)
		if (word_is_nocase(w, resources[i].item))
			return &resources[i];
	return NULL;
}

static bool other_item(struct span w)
{
	for (size_t i = 0; i < sizeof(other_items) / sizeof(other_items[0]); i++)
		if (word_is_nocase(w, other_items[i]))
			return true;
	return false;
}

/* Applies one line's words (comment removed) to u: 0, or -EINVAL when the
 * line is skipped. */
static int conf_line(struct conf *c, const struct span *w, size_t n,
		     const struct userlimits_who *who, struct userlimits *u)
{
	const struct resource *res;
	enum userlimits_source src;
	const char *why = NULL;
	struct range range;
	unsigned type;
	rlim_t v;

	if (w[0].p[0] == '%')
		return 0; /* %group and %:gid count logins only */
	if (parse_range(w[0], &range) != 0)
		return skip_line(c,
				 "'%.*s' is not a uid or gid range; write MIN:MAX, :ID or MIN: "
				 "(decimal ids; '@' before gids)",
				 SHOWN(w[0].n), w[0].p);
	if (n == 2 && word_is(w[1], "-")) {
		if (no_limits_applies(who, w[0], &range))
			u->no_limits = true;
		return 0;
	}
	if (n != 4)
		return skip_line(c,
				 "it has %zu words; write '<domain> <type> <item> <value>', or "
				 "'<domain> -' for no limits",
				 n);
	res = conf_item(w[2]);
	if (!res && other_item(w[2]))
		return 0; /* counts logins, sets a priority: not a resource limit */
	if (!res)
		return skip_line(c, "'%.*s' is not an item of limits.conf(5), such as nofile",
				 SHOWN(w[2].n), w[2].p);
	if (word_is_nocase(w[1], "soft"))
		type = TYPE_SOFT;
	else if (word_is_nocase(w[1], "hard"))
		type = TYPE_HARD;
	else if (word_is(w[1], "-"))
		type = TYPE_SOFT | TYPE_HARD;
	else
		return skip_line(c, "its type is '%.*s'; write soft, hard or - (both)",
				 SHOWN(w[1].n), w[1].p);
	if (conf_value(res, w[3], &v, &why) != 0)
		return skip_line(c, "the value '%.*s' of %s is not %s", SHOWN(w[3].n), w[3].p,
				 res->item, why);
	src = domain_match(who, w[0], &range);
	if (src != USERLIMITS_UNSET)
		set_limit(u, res->rlimit, type, v, src);
	return 0;
}

int userlimits_parse_conf(const char *text, const char *name, const struct userlimits_who *who,
			  struct userlimits *u, char *err, size_t errlen)
{
	struct conf c = {name, 0, 0, err, errlen};

	for (const char *p = text, *end; *p && !u->no_limits; p = *end ? end + 1 : end) {
		const char *hash;
		struct span w[5];
		size_t n;

		end = line_end(p);
		c.lineno++;
		if ((size_t)(end - p) > USERLIMITS_LINE_MAX) {
			skip_line(&c, "the line is longer than %d characters", USERLIMITS_LINE_MAX);
			continue;
		}
		hash = memchr(p, '#', (size_t)(end - p));
		n = split_words(p, hash ? hash : end, w, 5);
		if (n > 0)
			(void)conf_line(&c, w, n, who, u);
	}
	return c.skipped;
}

/* ---- files ---------------------------------------------------------------- */

/* Reads the regular file path, at most max bytes, into *text (NUL-terminated,
 * the caller frees it) and its length into *len. 0, or -errno: -EINVAL for
 * a file that is not regular, -EFBIG past max bytes. */
static int read_text(const char *path, size_t max, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), rc = 0;
	size_t got = 0;
	struct stat st;
	char *buf;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto close_fd;
	}
	buf = malloc(max + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto close_fd;
	}
	while (got <= max) {
		ssize_t r = read(fd, buf + got, max + 1 - got);

		if (r == 0)
			break;
		if (r < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		got += r > 0 ? (size_t)r : 0;
	}
	if (rc == 0 && got > max)
		rc = -EFBIG;
	if (rc != 0) {
		free(buf);
		goto close_fd;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
close_fd:
	close(fd);
	return rc;
}

/* Applies one limits.conf file: the number of skipped lines, 0 for a
 * missing file, or -errno with err saying why. */
static int load_conf(const char *path, const struct userlimits_who *who, struct userlimits *u,
		     char *err, size_t errlen)
{
	char *text = NULL, *nul, ebuf[128];
	size_t len = 0;
	int rc = read_text(path, USERLIMITS_FILE_MAX, &text, &len);

	if (rc == -ENOENT)
		return 0;
	if (rc == -EINVAL) {
		append(err, errlen, "%s is not a regular file; it is skipped", path);
		return 1;
	}
	if (rc == -EFBIG) {
		log_errbuf(err, errlen,
			   "%s is larger than %d bytes; is it really a limits.conf(5) file? Trim "
			   "it, or move it out of the way",
			   path, USERLIMITS_FILE_MAX);
		return rc;
	}
	if (rc != 0) {
		log_errbuf(err, errlen, "cannot read %s: %s; a login would fail too, so fix it",
			   path, error_text(-rc, ebuf, sizeof(ebuf)));
		return rc;
	}
	rc = userlimits_parse_conf(text, path, who, u, err, errlen);
	nul = memchr(text, '\0', len);
	if (nul && !u->no_limits) {
		unsigned lineno = 1;

		for (const char *q = text; q < nul; q++)
			lineno += *q == '\n';
		append(err, errlen, "%s:%u: a NUL byte; the rest of the file is skipped", path,
		       lineno);
		rc += rc < INT_MAX;
	}
	free(text);
	return rc;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_conf_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The *.conf names in dir (not hidden ones), sorted with strcmp. 0 with
 * *n = 0 for a missing dir; -errno with err set. */
static int list_conf(const char *dir, char ***names, size_t *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char ebuf[128];
	int rc = 0;

	*names = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	*names = calloc(USERLIMITS_DIR_MAX, sizeof(**names));
	if (!*names) {
		rc = -ENOMEM;
		goto close_dir;
	}
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (!is_conf_name(e->d_name))
			continue;
		if (*n == USERLIMITS_DIR_MAX) {
			rc = -E2BIG;
			log_errbuf(err, errlen,
				   "%s holds more than %d .conf files; merge some of them", dir,
				   USERLIMITS_DIR_MAX);
			goto free_list;
		}
		(*names)[*n] = strdup(e->d_name);
		if (!(*names)[*n]) {
			rc = -ENOMEM;
			goto free_list;
		}
		++*n;
	}
	if (errno == 0) {
		qsort(*names, *n, sizeof(**names), compare_names);
		goto close_dir;
	}
	rc = -errno;
free_list:
	free_names(*names, *n);
	*names = NULL;
	*n = 0;
close_dir:
	closedir(d);
	if (rc != 0 && rc != -E2BIG)
		log_errbuf(err, errlen, "cannot list %s: %s; a login would not read it either", dir,
			   error_text(-rc, ebuf, sizeof(ebuf)));
	return rc;
}

/* ---- the account ---------------------------------------------------------- */

/* The account of a uid and its groups, as NSS gives them. */
struct account {
	struct passwd pw;
	char *pwbuf;
	struct userlimits_group *groups;
	size_t ngroups;
};

static void account_free(struct account *a)
{
	for (size_t i = 0; i < a->ngroups; i++)
		free((char *)a->groups[i].name);
	free(a->groups);
	free(a->pwbuf);
}

/* The name of group gid, or NULL when it has none (or NSS fails: a login
 * would then not match it either). */
static char *group_name(gid_t gid)
{
	size_t size = 1024;
	char *buf = NULL, *name = NULL;

	while (size <= NSS_BUF_MAX) {
		struct group gr, *res = NULL;
		char *bigger = realloc(buf, size);
		int rc;

		if (!bigger)
			break;
		buf = bigger;
		rc = getgrgid_r(gid, &gr, buf, size, &res);
		if (rc == ERANGE) {
			size *= 2;
			continue;
		}
		if (rc == 0 && res)
			name = strdup(gr.gr_name);
		break;
	}
	free(buf);
	return name;
}

static int account_groups(struct account *a)
{
	int n = 64;
	gid_t *gids = NULL;

	for (;;) {
		int want = n;
		gid_t *bigger = realloc(gids, (size_t)want * sizeof(*gids));

		if (!bigger) {
			free(gids);
			return -ENOMEM;
		}
		gids = bigger;
		if (getgrouplist(a->pw.pw_name, a->pw.pw_gid, gids, &n) >= 0)
			break;
		if (n <= want)
			n = want * 2; /* no count given back */
		if (n > GROUPS_MAX) {
			free(gids);
			return -E2BIG;
		}
	}
	a->groups = calloc((size_t)n > 0 ? (size_t)n : 1, sizeof(*a->groups));
	if (!a->groups) {
		free(gids);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		a->groups[i].gid = gids[i];
		a->groups[i].name = group_name(gids[i]);
		a->ngroups++;
	}
	free(gids);
	return 0;
}

static int account_lookup(uid_t uid, struct account *a, char *err, size_t errlen)
{
	size_t size = 4096;
	char ebuf[128];
	int rc;

	memset(a, 0, sizeof(*a));
	for (;;) {
		struct passwd *res = NULL;
		char *bigger = realloc(a->pwbuf, size);

		if (!bigger) {
			rc = ENOMEM;
			break;
		}
		a->pwbuf = bigger;
		rc = getpwuid_r(uid, &a->pw, a->pwbuf, size, &res);
		if (rc == ERANGE && size < NSS_BUF_MAX) {
			size *= 2;
			continue;
		}
		if (rc == 0 && !res)
			rc = ENOENT;
		break;
	}
	if (rc == ENOENT) {
		log_errbuf(err, errlen,
			   "uid %u has no account on this node; create it, or make NSS (LDAP, "
			   "sssd) resolve it here, before a lease runs code for it",
			   (unsigned)uid);
		goto free_account;
	}
	if (rc != 0) {
		log_errbuf(err, errlen, "cannot look up the account of uid %u: %s", (unsigned)uid,
			   error_text(rc, ebuf, sizeof(ebuf)));
		goto free_account;
	}
	rc = -account_groups(a);
	if (rc != 0) {
		log_errbuf(err, errlen, "cannot list the groups of %s (uid %u): %s", a->pw.pw_name,
			   (unsigned)uid, error_text(rc, ebuf, sizeof(ebuf)));
		goto free_account;
	}
	return 0;
free_account:
	account_free(a);
	return -rc;
}

/* ---- loading and applying ------------------------------------------------- */

static int load_baseline(struct userlimits *u, char *err, size_t errlen)
{
	char *text = NULL, ebuf[128];
	size_t len;
	int rc = read_text(PROC_LIMITS, PROC_LIMITS_MAX, &text, &len);

	if (rc != 0) {
		log_errbuf(err, errlen,
			   "cannot read %s, the limits a login starts from: %s; mount /proc",
			   PROC_LIMITS, error_text(-rc, ebuf, sizeof(ebuf)));
		return rc;
	}
	rc = userlimits_parse_proc(text, u, err, errlen);
	free(text);
	return rc;
}

/* Applies ETC/limits.conf, then each ETC/limits.d/NAME.conf: skipped lines or -errno. */
static int load_files(const char *etc, const struct userlimits_who *who, struct userlimits *u,
		      char *err, size_t errlen)
{
	char path[PATH_MAX], **names;
	int skipped, rc;
	size_t n;

	snprintf(path, sizeof(path), "%s/limits.conf", etc);
	skipped = load_conf(path, who, u, err, errlen);
	if (skipped < 0 || u->no_limits)
		return skipped;
	snprintf(path, sizeof(path), "%s/limits.d", etc);
	rc = list_conf(path, &names, &n, err, errlen);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n && !u->no_limits; i++) {
		if (snprintf(path, sizeof(path), "%s/limits.d/%s", etc, names[i]) >=
		    (int)sizeof(path)) {
			log_errbuf(err, errlen, "the path of %s in %s/limits.d is too long",
				   names[i], etc);
			rc = -ENAMETOOLONG;
			break;
		}
		rc = load_conf(path, who, u, err, errlen);
		if (rc < 0)
			break;
		skipped = rc > INT_MAX - skipped ? INT_MAX : skipped + rc;
		rc = 0;
	}
	free_names(names, n);
	return rc < 0 ? rc : skipped;
}

int userlimits_load(uid_t uid, const char *etc_security, struct userlimits *u, char *err,
		    size_t errlen)
{
	const char *etc = etc_security ? etc_security : ETC_SECURITY;
	struct userlimits_who who;
	struct userlimits base;
	struct account a;
	int rc;

	memset(u, 0, sizeof(*u));
	log_errbuf(err, errlen, "%s", "");
	if (strlen(etc) > PATH_MAX - 64) {
		log_errbuf(err, errlen, "the directory '%.64s...' is too long", etc);
		return -ENAMETOOLONG;
	}
	rc = account_lookup(uid, &a, err, errlen);
	if (rc != 0)
		return rc;
	rc = load_baseline(u, err, errlen);
	if (rc != 0)
		goto free_account;
	base = *u;
	who = (struct userlimits_who){a.pw.pw_name, a.pw.pw_uid, a.pw.pw_gid, a.groups, a.ngroups};
	rc = load_files(etc, &who, u, err, errlen);
	if (rc >= 0 && u->no_limits) {
		*u = base;
		u->no_limits = true;
	}
free_account:
	account_free(&a);
	return rc;
}

/* /proc/sys/fs/nr_open, the most open files the kernel allows, or
 * RLIM_INFINITY when it cannot be read. */
static rlim_t nr_open(void)
{
	char *text = NULL;
	uint64_t v;
	size_t len;

	if (read_text(NR_OPEN, 64, &text, &len) != 0)
		return RLIM_INFINITY;
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (parse_u64((struct span){text, len}, &v) != 0)
		v = RLIM_INFINITY;
	free(text);
	return (rlim_t)v;
}

/* What limit r becomes: u's halves where set, the process's (now) where not,
 * nofile's RLIM_INFINITY as /proc/sys/fs/nr_open, the soft limit at most the
 * hard one. */
static struct rlimit wanted(const struct userlimits *u, int r, struct rlimit now)
{
	struct rlimit want = now;

	if (u->soft_src[r] != USERLIMITS_UNSET)
		want.rlim_cur = u->lim[r].rlim_cur;
	if (u->hard_src[r] != USERLIMITS_UNSET)
		want.rlim_max = u->lim[r].rlim_max;
	if (r == RLIMIT_NOFILE &&
	    (want.rlim_cur == RLIM_INFINITY || want.rlim_max == RLIM_INFINITY)) {
		rlim_t most = nr_open();

		want.rlim_cur = want.rlim_cur == RLIM_INFINITY ? most : want.rlim_cur;
		want.rlim_max = want.rlim_max == RLIM_INFINITY ? most : want.rlim_max;
	}
	if (want.rlim_cur > want.rlim_max)
		want.rlim_cur = want.rlim_max;
	return want;
}

/* Sets limit r: 0, 1 when its hard limit had to stay lower (said in err),
 * or -errno with err set. */
static int apply_one(const struct userlimits *u, int r, char *err, size_t errlen)
{
	char ebuf[128], now_s[24], want_s[24];
	struct rlimit now, want;
	int kept = 0, e;

	if (getrlimit(r, &now) != 0) {
		e = errno;
		if (e == EINVAL)
			return 0; /* a limit this kernel does not have */
		log_errbuf(err, errlen, "cannot read the %s limit: %s", item_name(r),
			   error_text(e, ebuf, sizeof(ebuf)));
		return -e;
	}
	want = wanted(u, r, now);
	if (setrlimit(r, &want) == 0)
		return 0;
	e = errno;
	if (e == EPERM && want.rlim_max > now.rlim_max) {
		append(err, errlen,
		       "the hard %s limit stays at %s, not %s: raising it needs CAP_SYS_RESOURCE "
		       "(and, for nofile, at most /proc/sys/fs/nr_open)",
		       item_name(r), show_rlim(now.rlim_max, now_s, sizeof(now_s)),
		       show_rlim(want.rlim_max, want_s, sizeof(want_s)));
		want.rlim_max = now.rlim_max;
		if (want.rlim_cur > want.rlim_max)
			want.rlim_cur = want.rlim_max;
		kept = 1;
		if (setrlimit(r, &want) == 0)
			return kept;
		e = errno;
	}
	log_errbuf(err, errlen, "cannot set the %s limit to soft %s, hard %s: %s", item_name(r),
		   show_rlim(want.rlim_cur, now_s, sizeof(now_s)),
		   show_rlim(want.rlim_max, want_s, sizeof(want_s)),
		   error_text(e, ebuf, sizeof(ebuf)));
	return -e;
}

int userlimits_apply(const struct userlimits *u, char *err, size_t errlen)
{
	int kept = 0;

	log_errbuf(err, errlen, "%s", "");
	for (int r = 0; r < RLIMIT_NLIMITS; r++) {
		int rc;

		if (u->soft_src[r] == USERLIMITS_UNSET && u->hard_src[r] == USERLIMITS_UNSET)
			continue;
		rc = apply_one(u, r, err, errlen);
		if (rc < 0)
			return rc;
		kept += rc;
	}
	return kept;
}
