/*
 * usage: the usage records of ended leases (colocd(8), USAGE RECORDS).
 *
 * A node agent writes one record per lease that ends on its node to
 * StateDir/usage.jsonl (JSON lines, struct msg_usage, msg_usage_encode)
 * and to its log (syslog by default) as "usage: {...}", and sends it to
 * the controller with the lease's end (node_state.ended). The controller
 * appends every node's records to its StateDir/cluster-usage.jsonl (a
 * name of its own: an agent on the controller's host, or the standalone
 * colocd, shares its StateDir) and answers `colocctl usage` from it
 * (usage_query), with the access rules below.
 *
 * Files are appended by root with O_APPEND, one write per record, into a
 * directory only root may write; they are never synced (a crash of the
 * node loses at most the records the kernel had not written yet) and never
 * rotated by colocd: logrotate may rename them (colocd opens them again
 * for every record), and queries read cluster-usage.jsonl.1 and
 * cluster-usage.jsonl.
 *
 * No state of its own but the controller's book of recorded lease ids
 * (struct usage_book); no locking: one thread owns a book.
 */
#ifndef COLOC_USAGE_H
#define COLOC_USAGE_H

#include "cpumask.h"
#include "gaps.h"
#include "msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USAGE_FILE "usage.jsonl"		 /* a node agent's: its node's leases */
#define USAGE_CLUSTER_FILE "cluster-usage.jsonl" /* the controller's: every node's */
#define USAGE_ROWS_MAX 256   /* groups a usage query answers; the rest as "(other)" */
#define USAGE_RECORDS_MAX 64 /* records a records query answers: the newest */
#define USAGE_BOOK_IDS 256   /* lease ids the controller remembers having recorded */

/* Fills u's amounts (core_seconds, gb_seconds, gpu_seconds) from its
 * cores, mem and gpus over [start_ms, end_ms) (unix milliseconds), and
 * start and end in seconds. */
void usage_account(struct msg_usage *u, int64_t start_ms, int64_t end_ms);

/* The host jobs of jobs[0..n) whose PUs pus uses, as msg_usage.host_jobs
 * says ("JOB:UID:PUS,..."), into out ("" when none; entries that do not
 * fit are left out). */
void usage_host_jobs(const struct host_job *jobs, unsigned n, const struct cpumask *pus, char *out,
		     size_t len);

/* The name of uid into out, "" when it has none. */
void usage_user(uint32_t uid, char *out, size_t len);

/* Appends u to state_dir/name (USAGE_FILE or USAGE_CLUSTER_FILE, created
 * 0600), and with log_it to the log as "usage: {...}". 0, or -errno with
 * err (the directory is not root's only, the file is not a regular file of
 * root's, a write failed). */
int usage_append(const char *state_dir, const char *name, const struct msg_usage *u, bool log_it,
		 char *err, size_t errlen);

/* The controller's memory of what it recorded: an agent may send an
 * ended lease again (its report's answer was lost). */
struct usage_book {
	char ids[USAGE_BOOK_IDS][64];
	unsigned n, next;
};

/* Appends u to state_dir/USAGE_CLUSTER_FILE unless book has it already,
 * and remembers it. 0, 1 (known), or usage_append's -errno. */
int usage_book_append(struct usage_book *book, const char *state_dir, const struct msg_usage *u,
		      char *err, size_t errlen);

/* Whether asker (admin: root) may see u under filter f: root sees every
 * record, a user their own leases and, with f->host_job, the leases on a
 * host job they own. */
bool usage_visible(const struct msg_usage *u, const struct msg_usage_filter *f, uint32_t asker,
		   bool admin);

/* Answers a usage or records query (what) from the records in
 * state_dir/cluster-usage.jsonl.1 and cluster-usage.jsonl that asker may
 * see: res becomes
 * a result the caller msg_free()s. A record that does not parse is
 * skipped (and logged); no file is an empty answer. 0 or -errno with err. */
int usage_query(const char *state_dir, enum msg_query what, const struct msg_usage_filter *f,
		uint32_t asker, bool admin, struct msg *res, char *err, size_t errlen);

/* Adds record u to the summary res (a usage result) as f groups it. 0 or
 * -errno (-E2BIG: no room for another group). Exposed for tests. */
int usage_sum(struct msg *res, const struct msg_usage *u, const struct msg_usage_filter *f);

/* A --since value: "7d", "12h", "30m", "90s" before now, or a local date
 * "2026-12-01" or time "2026-12-01T10:00[:00]" (a blank for the T too).
 * 0 or -EINVAL. */
int usage_since_parse(const char *s, int64_t now, int64_t *out);

#endif
