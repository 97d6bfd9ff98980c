/*
 * executor: process-level life of faas-executor. Loads the function
 * library, creates one worker per lent cpu (each pinned, each with its own
 * endpoint), publishes the lease document, then waits for SIGTERM/SIGINT
 * (blocked in every thread, taken by sigwait in the main thread) and stops
 * the workers, which tell their clients they are evicted.
 * Init: library, workers, document, threads; fini in reverse order.
 */
#include "config.h"

#include "executor.h"

#include "cpumask.h"
#include "lease_doc.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

void executor_options_default(struct executor_options *o)
{
	memset(o, 0, sizeof(*o));
	if (sched_getaffinity(0, sizeof(o->cpus), &o->cpus) != 0) {
		CPU_ZERO(&o->cpus);
		CPU_SET(0, &o->cpus);
	}
	o->slot_size = 65536;
	o->slots = 64;
	o->max_depth = 16;
	o->staging_max = UINT64_MAX;
	o->mode = WORKER_HYBRID;
	o->hot_poll_us = 100000;
	o->publish = "-";
	o->evict_grace_ms = 10000;
}

/* Reads one number from a cgroup file; false when absent or "max". */
static bool cgroup_number(const char *dir, const char *file, uint64_t *v)
{
	char path[PATH_MAX + 64], buf[64];
	unsigned long long n;
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fgets(buf, sizeof(buf), f) && sscanf(buf, "%llu", &n) == 1;
	fclose(f);
	*v = n;
	return ok;
}

#define MEMORY_MARGIN (16ull << 20)
bool executor_memory_left(uint64_t *left)
{
	char line[PATH_MAX], dir[PATH_MAX + 32];
	uint64_t limit = 0, used = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/cgroup", "re");

	while (f && !found && fgets(line, sizeof(line), f)) {
		char *path = strrchr(line, ':');

		if (!path)
			continue;
		path[strcspn(path, "\n")] = '\0';
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s", path + 1);
			found = cgroup_number(dir, "memory.max", &limit) &&
				cgroup_number(dir, "memory.current", &used);
		} else if (strstr(line, ":memory:")) {
			snprintf(dir, sizeof(dir), "/sys/fs/cgroup/memory%s", path + 1);
			found = cgroup_number(dir, "memory.limit_in_bytes", &limit) &&
				cgroup_number(dir, "memory.usage_in_bytes", &used) &&
				limit < (1ull << 60);
		}
	}
	if (f)
		fclose(f);
	if (found)
		*left = limit > used + MEMORY_MARGIN ? limit - used - MEMORY_MARGIN : 0;
	return found;
}

/* The staging budget when --staging-max is not given: what the memory
 * limit of the executor's cgroup leaves (executor_memory_left), else
 * STAGING_DEFAULT. */
#define STAGING_DEFAULT (4ull << 30)
static uint64_t staging_budget(void)
{
	uint64_t left;

	return executor_memory_left(&left) ? left : STAGING_DEFAULT;
}

int executor_parse_cpus(const char *list, cpu_set_t *set)
{
	struct cpumask m;

	CPU_ZERO(set);
	if (cpumask_parse(list, &m) != 0 || cpumask_empty(&m))
		return -EINVAL;
	for (int c = cpumask_next(&m, 0); c >= 0 && c < CPU_SETSIZE;
	     c = c + 1 < CPUMASK_MAX ? cpumask_next(&m, (unsigned)c + 1) : -1)
		CPU_SET(c, set);
	return 0;
}

/* Writes all of buf[len] to fd. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * "fd:N": the document and a newline on fd N, which is then closed (N <= 2
 * gets /dev/null instead): the channel colocd gave its executor, which
 * colocd reads the document from. With keep, the channel goes on as *keep
 * (close-on-exec, above 2: the function library's children do not inherit
 * it) for the calls reports; -1 when it cannot.
 */
static int publish_fd(const char *where, const char *json, int *keep)
{
	char *end;
	long fd = strtol(where + 3, &end, 10);
	int rc;

	if (end == where + 3 || *end || fd < 0 || fd > INT_MAX)
		return -EBADF;
	rc = write_all((int)fd, json, strlen(json));
	if (rc == 0)
		rc = write_all((int)fd, "\n", 1);
	if (keep)
		*keep = rc == 0 ? fcntl((int)fd, F_DUPFD_CLOEXEC, 3) : -1;
	close((int)fd);
	if (fd <= 2 && open("/dev/null", O_RDWR) != fd)
		log_debug("no /dev/null for fd %ld", fd);
	return rc;
}

int executor_publish(const char *where, const char *json, int *keep)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd;

	if (strcmp(where, "-") == 0) {
		printf("%s\n", json);
		return fflush(stdout) == 0 ? 0 : -errno;
	}
	if (strncmp(where, "fd:", 3) == 0)
		return publish_fd(where, json, keep);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", where) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* the document holds the lease token: only its owner may read it */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		int rc = -errno;

		if (fd >= 0)
			close(fd);
		return rc;
	}
	fprintf(f, "%s\n", json);
	if (fclose(f) != 0 || rename(tmp, where) != 0)
		return -errno;
	return 0;
}

/*
 * The calls the workers answered, for colocd's metrics: one line "calls
 * served=N failed=M" on the channel (colocd/metrics.h parses it), when the
 * counts changed. Never waits: a full channel skips a report; a closed one
 * (or one that is not a socket) ends them.
 */
static void report_calls(int *fd, struct worker **workers, unsigned n, uint64_t last[2])
{
	uint64_t ok = 0, failed = 0, a, b;
	char line[80];
	int len;

	for (unsigned i = 0; i < n; i++) {
		worker_calls(workers[i], &a, &b);
		ok += a;
		failed += b;
	}
	if (ok == last[0] && failed == last[1])
		return;
	len = snprintf(line, sizeof(line), "calls served=%llu failed=%llu\n",
		       (unsigned long long)ok, (unsigned long long)failed);
	if (send(*fd, line, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) == len) {
		last[0] = ok;
		last[1] = failed;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		log_debug("no more calls reports: %s", strerror(errno));
		close(*fd);
		*fd = -1;
	}
}

/* The n-th cpu of the set, or -1. */
static int nth_cpu(const cpu_set_t *set, unsigned n)
{
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set) && n-- == 0)
			return c;
	return -1;
}

static int make_doc(const struct executor_options *o, const struct worker_config *cfg,
		    const struct fnlib *lib, struct worker **workers, unsigned n, char **json)
{
	struct lease_doc *doc = lease_doc_new(fnlib_count(lib), n);
	struct worker_info info;
	int rc;

	if (!doc)
		return -ENOMEM;
	if (o->id)
		snprintf(doc->id, sizeof(doc->id), "%s", o->id);
	else
		snprintf(doc->id, sizeof(doc->id), "executor-%ld", (long)getpid());
	memcpy(doc->token, cfg->token, WIRE_TOKEN_LEN);
	doc->slot_size = cfg->slot_size;
	doc->max_depth = cfg->max_depth;
	doc->executor_pid = (long)getpid();
	if (gethostname(doc->host, sizeof(doc->host) - 1) != 0)
		snprintf(doc->host, sizeof(doc->host), "localhost");
	for (unsigned i = 0; i < fnlib_count(lib); i++) {
		snprintf(doc->functions[i].name, sizeof(doc->functions[i].name), "%s",
			 fnlib_name(lib, i));
		doc->functions[i].id = i;
	}
	for (unsigned i = 0; i < n; i++) {
		struct lease_worker *lw = &doc->workers[i];

		worker_info(workers[i], &info);
		lw->index = i;
		lw->cpu = nth_cpu(&o->cpus, i % (unsigned)CPU_COUNT(&o->cpus));
		memcpy(lw->addr, info.addr, info.addr_len);
		lw->addr_len = info.addr_len;
		lw->slot_addr = info.slot_addr;
		lw->slot_key = info.slot_key;
		lw->slots = cfg->slots;
		snprintf(doc->provider, sizeof(doc->provider), "%s", info.provider);
		snprintf(doc->rung, sizeof(doc->rung), "%s", transport_rung_name(info.rung));
	}
	rc = lease_doc_encode(doc, json);
	lease_doc_free(doc);
	return rc;
}

int executor_token(const char *hex, uint8_t token[WIRE_TOKEN_LEN])
{
	if (hex) {
		if (lease_hex_decode(hex, token, WIRE_TOKEN_LEN) != WIRE_TOKEN_LEN) {
			log_error("the lease token must be %d hex digits", 2 * WIRE_TOKEN_LEN);
			return 2;
		}
	} else if (getrandom(token, WIRE_TOKEN_LEN, 0) != WIRE_TOKEN_LEN) {
		log_error("cannot draw a random lease token: %s", strerror(errno));
		return 1;
	}
	return 0;
}

int executor_run(const struct executor_options *o)
{
	unsigned ncpus = (unsigned)CPU_COUNT(&o->cpus);
	unsigned n = o->workers ? o->workers : ncpus;
	struct worker_config cfg = {0};
	atomic_size_t staging_used = 0;
	struct worker **workers = NULL;
	struct fnlib *lib = NULL;
	atomic_bool stop = false;
	char err[512], *json = NULL;
	unsigned created = 0, started = 0;
	const struct timespec every = {.tv_sec = 1};
	uint64_t reported[2] = {0, 0};
	sigset_t sigs;
	int rc, sig, status = 1, wake = -1, report = -1;

	if (n == 0 || ncpus == 0) {
		log_error("no cpus to serve on; give --cpus a non-empty list");
		return 2;
	}
	rc = fnlib_open(o->lib_path, o->functions, &lib, err, sizeof(err));
	if (rc) {
		log_error("%s", err);
		return 2;
	}
	cfg.lib = lib;
	cfg.transport.provider = o->provider;
	cfg.transport.src_addr = o->addr;
	cfg.transport.rung = o->rung;
	/* A client that stopped progressing must not stall a worker (or its
	 * eviction) for long: give up on a post after 100 ms. */
	cfg.transport.busy_timeout_ms = 100;
	cfg.slot_size = o->slot_size;
	cfg.slots = o->slots;
	cfg.max_depth = o->max_depth;
	cfg.sessions = o->sessions;
	cfg.session_max_state = o->session_max_state;
	cfg.swap_ms = o->swap_ms;
	cfg.mode = o->mode;
	cfg.hot_poll_us = o->hot_poll_us;
	cfg.stop = &stop;
	wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cfg.wake_fd = wake >= 0 ? &wake : NULL; /* without it warm workers notice in 10 ms */
	status = executor_token(o->token_hex, cfg.token);
	if (status)
		goto out_lib;
	status = 1;

	/* Signals are taken by sigwait below; workers inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	workers = calloc(n, sizeof(*workers));
	if (!workers)
		goto out_lib;
	cfg.shared_cores = n > ncpus;
	for (; created < n; created++) {
		rc = worker_create(&cfg, created, nth_cpu(&o->cpus, created % ncpus),
				   &workers[created], err, sizeof(err));
		if (rc) {
			log_error("%s", err);
			goto out_workers;
		}
	}
	/* after the workers: what they hold is not the functions' to use */
	cfg.staging_used = &staging_used;
	cfg.staging_max = o->staging_max != UINT64_MAX ? o->staging_max : staging_budget();
	if (cfg.staging_max > SIZE_MAX)
		cfg.staging_max = SIZE_MAX;
	log_info("payloads beyond the slot may stage %zu bytes", cfg.staging_max);
	rc = make_doc(o, &cfg, lib, workers, n, &json);
	if (rc) {
		log_error("cannot encode the lease document: %s", strerror(-rc));
		goto out_workers;
	}
	for (; started < n; started++) {
		rc = worker_start(workers[started], err, sizeof(err));
		if (rc == -ECANCELED) {
			log_error("%s: %s; not serving (the library's faas_worker_init must "
				  "return 0)",
				  o->lib_path, err);
			goto out_stop;
		}
		if (rc) {
			log_error("%s", err);
			goto out_stop;
		}
	}
	rc = executor_publish(o->publish, json, o->report_calls ? &report : NULL);
	if (rc) {
		log_error("cannot publish the lease document to %s: %s", o->publish, strerror(-rc));
		goto out_stop;
	}
	log_info("serving %u functions of %s on %u workers", fnlib_count(lib), o->lib_path, n);
	for (;;) {
		if (report < 0) {
			if (sigwait(&sigs, &sig) == 0)
				break;
			continue;
		}
		sig = sigtimedwait(&sigs, NULL, &every);
		if (sig > 0)
			break;
		if (errno == EAGAIN)
			report_calls(&report, workers, n, reported);
	}
	log_info("signal %d: stopping", sig);
	status = 0;
out_stop:
	atomic_store(&stop, true);
	if (wake >= 0 && eventfd_write(wake, 1) != 0)
		log_warning("cannot wake the workers: %s", strerror(errno));
out_workers:
	/* Workers not started are destroyed without a join. */
	for (unsigned i = 0; i < created; i++)
		worker_join(workers[i]);
	/* the final counts: the lease's usage record takes them */
	if (report >= 0)
		report_calls(&report, workers, created, reported);
	for (unsigned i = 0; i < created; i++)
		worker_destroy(workers[i]);
	free(workers);
	free(json);
	if (report >= 0)
		close(report);
out_lib:
	fnlib_close(lib);
	if (wake >= 0)
		close(wake);
	return status;
}
