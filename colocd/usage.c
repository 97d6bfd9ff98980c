/*
 * usage: the usage records of ended leases (see usage.h).
 *
 * Data: none of its own but the controller's book (a ring of the last
 * USAGE_BOOK_IDS lease ids it recorded). A query reads the files line by
 * line and sums into the result's rows (at most USAGE_ROWS_MAX groups, the
 * rest in one "(other)" row) or keeps the newest USAGE_RECORDS_MAX records.
 */
#include "config.h"

#include "usage.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GIB ((uint64_t)1 << 30)

void usage_account(struct msg_usage *u, int64_t start_ms, int64_t end_ms)
{
	uint64_t ms = end_ms > start_ms ? (uint64_t)(end_ms - start_ms) : 0;

	u->start = start_ms / 1000;
	u->end = end_ms / 1000;
	u->core_seconds = (u->cores * ms + 500) / 1000;
	/* mem x ms / (GiB x 1000), without overflowing below 16 EiB-seconds */
	u->gb_seconds = (uint64_t)(((unsigned __int128)u->mem * ms + GIB * 500) / (GIB * 1000));
	u->gpu_seconds = (u->gpus * ms + 500) / 1000;
}

void usage_host_jobs(const struct host_job *jobs, unsigned n, const struct cpumask *pus, char *out,
		     size_t len)
{
	size_t used = 0;

	if (len)
		out[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		struct cpumask both;
		unsigned k;
		int w;

		cpumask_and(&both, &jobs[i].pus, pus);
		k = cpumask_count(&both);
		if (!k)
			continue;
		w = snprintf(out + used, len - used, "%s%" PRIu32 ":%" PRIu32 ":%u",
			     used ? "," : "", jobs[i].job_id, jobs[i].uid, k);
		if (w < 0 || (size_t)w >= len - used) {
			out[used] = '\0'; /* it does not fit: left out */
			break;
		}
		used += (size_t)w;
	}
}

void usage_user(uint32_t uid, char *out, size_t len)
{
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (len)
		out[0] = '\0';
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
		snprintf(out, len, "%s", pw.pw_name);
}

/* ---- the file ----------------------------------------------------------------------------- */

/* state_dir as a directory fd, refusing one a user could change. */
static int open_dir(const char *state_dir, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		int rc = -errno;

		snprintf(err, errlen, "cannot open StateDir %.300s: %s", state_dir,
			 strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		snprintf(err, errlen,
			 "StateDir %.300s must be a directory that colocd's user owns and only it "
			 "may write (chown root %.300s; chmod go-w %.300s)",
			 state_dir, state_dir, state_dir);
		return -EPERM;
	}
	return fd;
}

int usage_append(const char *state_dir, const char *name, const struct msg_usage *u, bool log_it,
		 char *err, size_t errlen)
{
	struct stat st;
	char *line = NULL;
	int dir, fd = -1, rc;
	size_t len;

	rc = msg_usage_encode(u, &line);
	if (rc) {
		snprintf(err, errlen, "cannot encode the usage record of %s: %s", u->id,
			 strerror(-rc));
		return rc;
	}
	if (log_it)
		log_info("usage: %s", line);
	if (mkdir(state_dir, 0755) != 0 && errno != EEXIST)
		log_debug("cannot create StateDir %s: %s", state_dir, strerror(errno));
	dir = open_dir(state_dir, err, errlen);
	if (dir < 0) {
		rc = dir;
		goto free_line;
	}
	fd = openat(dir, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %.300s/%s: %s", state_dir, name,
			 strerror(errno));
		goto close_dir;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		rc = -EPERM;
		snprintf(err, errlen, "%.300s/%s must be a regular file of colocd's user",
			 state_dir, name);
		goto close_file;
	}
	len = strlen(line);
	line[len] = '\n'; /* one write: lines of two writers never mix */
	if (write(fd, line, len + 1) != (ssize_t)(len + 1)) {
		rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "cannot append to %.300s/%s: %s", state_dir, name,
			 strerror(-rc));
	}
	line[len] = '\0';
close_file:
	close(fd);
close_dir:
	close(dir);
free_line:
	free(line);
	return rc;
}

int usage_book_append(struct usage_book *book, const char *state_dir, const struct msg_usage *u,
		      char *err, size_t errlen)
{
	int rc;

	for (unsigned i = 0; i < book->n; i++)
		if (strcmp(book->ids[i], u->id) == 0)
			return 1;
	rc = usage_append(state_dir, USAGE_CLUSTER_FILE, u, false, err, errlen);
	if (rc)
		return rc;
	snprintf(book->ids[book->next], sizeof(book->ids[0]), "%s", u->id);
	book->next = (book->next + 1) % USAGE_BOOK_IDS;
	if (book->n < USAGE_BOOK_IDS)
		book->n++;
	return 0;
}

/* ---- queries ------------------------------------------------------------------------------ */

/* The next "JOB:UID:PUS" of a host_jobs list at *p; false at its end or
 * at something else. */
static bool next_host_job(const char **p, uint32_t *job, uint32_t *uid, uint32_t *pus)
{
	unsigned long v[3];
	char *end;

	for (int i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)**p))
			return false;
		errno = 0;
		v[i] = strtoul(*p, &end, 10);
		if (errno || v[i] > UINT32_MAX || *end != (i < 2 ? ':' : *end))
			return false;
		*p = end + (i < 2);
	}
	if (**p == ',')
		(*p)++;
	else if (**p)
		return false;
	*job = (uint32_t)v[0];
	*uid = (uint32_t)v[1];
	*pus = (uint32_t)v[2];
	return true;
}

bool usage_visible(const struct msg_usage *u, const struct msg_usage_filter *f, uint32_t asker,
		   bool admin)
{
	const char *p = u->host_jobs;
	uint32_t job, uid, pus;

	if (admin || u->uid == asker)
		return true;
	while (f->host_job && next_host_job(&p, &job, &uid, &pus))
		if (job == f->host_job && uid == asker)
			return true;
	return false;
}

/* Whether u passes f's narrowing (not its access rules). */
static bool usage_selected(const struct msg_usage *u, const struct msg_usage_filter *f)
{
	const char *p = u->host_jobs;
	uint32_t job, uid, pus;

	if (u->end < f->since || (f->has_user && u->uid != f->user))
		return false;
	if (!f->host_job)
		return true;
	while (next_host_job(&p, &job, &uid, &pus))
		if (job == f->host_job)
			return true;
	return false;
}

/* Adds a share (num / den) of u to the group named key. */
static int add_share(struct msg *res, const char *key, const struct msg_usage *u, uint64_t num,
		     uint64_t den)
{
	struct msg_row_usage *r = NULL;

	for (uint32_t i = 0; i < res->u.result.nrows && !r; i++)
		if (strcmp(res->u.result.rows[i].usage.group, key) == 0)
			r = &res->u.result.rows[i].usage;
	if (!r && res->u.result.nrows >= USAGE_ROWS_MAX - 1 && strcmp(key, "(other)") != 0)
		return add_share(res, "(other)", u, num, den);
	if (!r) {
		union msg_row *row = msg_result_add(res);

		if (!row)
			return -errno;
		r = &row->usage;
		snprintf(r->group, sizeof(r->group), "%s", key);
	}
	if (!den)
		num = den = 1;
	r->leases++;
	r->core_seconds += u->core_seconds * num / den;
	r->gb_seconds += u->gb_seconds * num / den;
	r->gpu_seconds += u->gpu_seconds * num / den;
	r->calls += u->calls;
	return 0;
}

int usage_sum(struct msg *res, const struct msg_usage *u, const struct msg_usage_filter *f)
{
	const char *p = u->host_jobs;
	uint32_t job, uid, pus, on_jobs = 0, share = u->cores;
	char key[64];

	/* with a host job: only what ran on its PUs */
	while (f->host_job && next_host_job(&p, &job, &uid, &pus))
		if (job == f->host_job)
			share = pus;
	switch (f->by) {
	case MSG_BY_USER:
		if (u->user[0])
			snprintf(key, sizeof(key), "%s", u->user);
		else
			snprintf(key, sizeof(key), "%" PRIu32, u->uid);
		break;
	case MSG_BY_NODE:
		snprintf(key, sizeof(key), "%s", u->node);
		break;
	case MSG_BY_LEASE:
		snprintf(key, sizeof(key), "%s", u->id);
		break;
	case MSG_BY_HOST_JOB:
		p = u->host_jobs;
		while (next_host_job(&p, &job, &uid, &pus)) {
			int rc;

			on_jobs += pus;
			if (f->host_job && job != f->host_job)
				continue;
			snprintf(key, sizeof(key), "%" PRIu32, job);
			rc = add_share(res, key, u, pus, u->cores);
			if (rc)
				return rc;
		}
		if (f->host_job || on_jobs >= u->cores)
			return 0;
		return add_share(res, "(unallocated)", u, u->cores - on_jobs, u->cores);
	}
	return add_share(res, key, u, share, u->cores);
}

/* Reads the records of dir's file name into res (a usage query) or into
 * the ring newest[] (a records query). No file: nothing. */
static int query_file(int dir, const char *name, enum msg_query what,
		      const struct msg_usage_filter *f, uint32_t asker, bool admin, struct msg *res,
		      struct msg_usage *newest, unsigned *seen, char *err, size_t errlen)
{
	unsigned long bad = 0, lineno = 0, first_bad = 0;
	char *line = NULL, perr[256] = "";
	size_t cap = 0;
	struct msg_usage u;
	int fd, rc = 0;
	FILE *in;

	fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	in = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!in) {
		rc = -errno;
		snprintf(err, errlen, "cannot read the usage records %s: %s", name,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (!rc && getline(&line, &cap, in) > 0) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (msg_usage_decode(line, &u, perr, sizeof(perr)) != 0) {
			if (!bad++)
				first_bad = lineno;
			continue;
		}
		if (!usage_selected(&u, f) || !usage_visible(&u, f, asker, admin))
			continue;
		if (what == MSG_QUERY_RECORDS)
			newest[(*seen)++ % USAGE_RECORDS_MAX] = u;
		else
			rc = usage_sum(res, &u, f);
	}
	if (bad)
		log_warning("%s: %lu usage record(s) skipped, the first at line %lu: %s", name, bad,
			    first_bad, perr);
	if (rc)
		snprintf(err, errlen, "cannot sum the usage records: %s", strerror(-rc));
	free(line);
	fclose(in);
	return rc;
}

int usage_query(const char *state_dir, enum msg_query what, const struct msg_usage_filter *f,
		uint32_t asker, bool admin, struct msg *res, char *err, size_t errlen)
{
	struct msg_usage *newest = NULL;
	unsigned seen = 0;
	int dir, rc;

	memset(res, 0, sizeof(*res));
	res->type = MSG_RESULT;
	res->u.result.what = what;
	if (what != MSG_QUERY_USAGE && what != MSG_QUERY_RECORDS) {
		snprintf(err, errlen, "not a usage query");
		return -EINVAL;
	}
	if (what == MSG_QUERY_RECORDS) {
		newest = calloc(USAGE_RECORDS_MAX, sizeof(*newest));
		if (!newest) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	dir = open_dir(state_dir, err, errlen);
	if (dir < 0) {
		rc = dir == -ENOENT ? 0 : dir; /* nothing recorded yet */
		goto out;
	}
	rc = query_file(dir, USAGE_CLUSTER_FILE ".1", what, f, asker, admin, res, newest, &seen,
			err, errlen);
	if (!rc)
		rc = query_file(dir, USAGE_CLUSTER_FILE, what, f, asker, admin, res, newest, &seen,
				err, errlen);
	close(dir);
	/* the newest records, oldest first */
	for (unsigned i = seen > USAGE_RECORDS_MAX ? seen - USAGE_RECORDS_MAX : 0; !rc && i < seen;
	     i++) {
		union msg_row *row = msg_result_add(res);

		if (!row)
			rc = -errno;
		else
			row->record = newest[i % USAGE_RECORDS_MAX];
	}
out:
	free(newest);
	if (rc)
		msg_free(res);
	return rc;
}

int usage_since_parse(const char *s, int64_t now, int64_t *out)
{
	struct tm tm = {0};
	const char *end;
	char *e;
	long long n;

	if (isdigit((unsigned char)s[0]) && strlen(s) <= 12) {
		errno = 0;
		n = strtoll(s, &e, 10);
		if (!errno && e != s && e[0] && !e[1] && n >= 0 && n <= 100000000) {
			static const char units[] = "smhdw";
			static const long long mult[] = {1, 60, 3600, 86400, 604800};
			const char *u = strchr(units, e[0]);

			if (!u)
				return -EINVAL;
			*out = now - n * mult[u - units];
			return 0;
		}
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end)
		return -EINVAL;
	if (*end == 'T' || *end == ' ') {
		const char *t = strptime(end + 1, "%H:%M:%S", &tm);

		end = t ? t : strptime(end + 1, "%H:%M", &tm);
		if (!end)
			return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	tm.tm_isdst = -1;
	*out = (int64_t)mktime(&tm);
	return *out == -1 ? -EINVAL : 0;
}
