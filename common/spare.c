/*
 * Spare executors: the assignment colocd writes to a spare, and the
 * identity a spare (or any executor colocd starts) takes. See spare.h.
 */
#include "config.h"

#include "spare.h"
#include "log.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const identity_steps[] = {"start a session", "drop supplementary groups", "set its gid",
				      "set its uid", "change to /"};

int identity_drop(uid_t uid, gid_t gid, int *err)
{
	if (setsid() < 0 && getsid(0) != getpid())
		return *err = errno, 1;
	if (setgroups(0, NULL) != 0)
		return *err = errno, 2;
	if (setgid(gid) != 0)
		return *err = errno, 3;
	if (setuid(uid) != 0)
		return *err = errno, 4;
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid ||
	    (uid != 0 && setuid(0) == 0))
		return *err = EPERM, 4;
	if (chdir("/") != 0)
		return *err = errno, 5;
	return 0;
}

/* Appends s and its NUL; false when it does not fit. */
static bool put(char *buf, size_t size, size_t *off, const char *s)
{
	size_t n = strlen(s) + 1;

	if (n > size - *off)
		return false;
	memcpy(buf + *off, s, n);
	*off += n;
	return true;
}

static bool put_num(char *buf, size_t size, size_t *off, unsigned long v)
{
	char num[32];

	snprintf(num, sizeof(num), "%lu", v);
	return put(buf, size, off, num);
}

/* Appends a count and that many strings; -EINVAL or -E2BIG. */
static int put_list(char *buf, size_t size, size_t *off, char *const list[])
{
	unsigned n = 0;

	while (list && list[n]) {
		if (!list[n][0] || ++n > SPARE_ARGS_MAX)
			return -EINVAL;
	}
	if (!put_num(buf, size, off, n))
		return -E2BIG;
	for (unsigned i = 0; i < n; i++)
		if (!put(buf, size, off, list[i]))
			return -E2BIG;
	return 0;
}

long spare_encode(uid_t uid, gid_t gid, char *const argv[], char *const envp[], char *buf,
		  size_t size)
{
	size_t off = 0;
	int rc;

	if (size > SPARE_MSG_MAX)
		size = SPARE_MSG_MAX;
	if (uid == 0 || !argv || !argv[0])
		return -EINVAL;
	if (!put(buf, size, &off, SPARE_MAGIC) || !put_num(buf, size, &off, uid) ||
	    !put_num(buf, size, &off, gid))
		return -E2BIG;
	rc = put_list(buf, size, &off, argv);
	if (rc == 0)
		rc = put_list(buf, size, &off, envp);
	return rc ? rc : (long)off;
}

struct cursor {
	char *p, *end;
	char *err;
	size_t errlen;
};

/* Says what is wrong into c's buffer: -EINVAL. */
#define bad(c, ...) (log_errbuf((c)->err, (c)->errlen, __VA_ARGS__), -EINVAL)

/* The next NUL-terminated string, or NULL at the end or without a NUL. */
static char *next(struct cursor *c)
{
	char *s = c->p, *nul;

	if (s >= c->end)
		return NULL;
	nul = memchr(s, '\0', (size_t)(c->end - s));
	if (!nul)
		return NULL;
	c->p = nul + 1;
	return s;
}

static int get_num(struct cursor *c, const char *what, unsigned long max, unsigned long *v)
{
	char *s = next(c), *e;

	if (!s)
		return bad(c, "the assignment ends before its %s", what);
	errno = 0;
	*v = strtoul(s, &e, 10);
	if (!s[0] || *e || errno || s[0] == '-' || s[0] == '+' || *v > max)
		return bad(c, "its %s is '%.32s', not a number from 0 to %lu", what, s, max);
	return 0;
}

static int get_list(struct cursor *c, const char *what, unsigned *n, char **list)
{
	unsigned long count;
	int rc = get_num(c, what, SPARE_ARGS_MAX, &count);

	if (rc)
		return rc;
	for (unsigned long i = 0; i < count; i++) {
		list[i] = next(c);
		if (!list[i])
			return bad(c, "the assignment ends inside its %s (%lu of %lu)", what, i,
				   count);
		if (!list[i][0])
			return bad(c, "entry %lu of its %s is empty", i, what);
	}
	list[count] = NULL;
	*n = (unsigned)count;
	return 0;
}

int spare_decode(char *buf, size_t len, struct spare_assignment *a, char *err, size_t errlen)
{
	struct cursor c = {buf, buf + len, err, errlen};
	unsigned long uid, gid;
	char *magic;
	int rc;

	memset(a, 0, sizeof(*a));
	if (len > SPARE_MSG_MAX)
		return bad(&c, "the assignment is %zu bytes, more than %d", len, SPARE_MSG_MAX);
	magic = next(&c);
	if (!magic || strcmp(magic, SPARE_MAGIC) != 0)
		return bad(&c,
			   "the assignment does not start with \"%s\" (colocd and "
			   "faas-executor from different versions?)",
			   SPARE_MAGIC);
	rc = get_num(&c, "uid", UINT_MAX - 1, &uid);
	if (!rc)
		rc = get_num(&c, "gid", UINT_MAX - 1, &gid);
	if (rc)
		return rc;
	if (uid == 0)
		return bad(&c, "its uid is 0: executors never run as root");
	rc = get_list(&c, "arguments", &a->argc, a->argv);
	if (!rc)
		rc = get_list(&c, "environment", &a->envc, a->envp);
	if (rc)
		return rc;
	if (a->argc == 0)
		return bad(&c, "it has no arguments");
	if (c.p != c.end)
		return bad(&c, "%zu bytes follow its last string", (size_t)(c.end - c.p));
	a->uid = (uid_t)uid;
	a->gid = (gid_t)gid;
	return 0;
}
