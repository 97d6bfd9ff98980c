/*
 * dataplane - end-to-end test of the coloc data plane: a real faas-executor
 * (started here, serving faas_faults.so) and libfaas clients, over one
 * libfabric provider and rung, checking what a user of libfaas relies on:
 * results, error codes, timeouts, crashes, evictions and dead executors.
 *
 *   dataplane PROVIDER [RUNG]
 *
 * PROVIDER is passed to faas-executor --provider ("tcp;ofi_rxm", "tcp",
 * "shm", ...); RUNG (writedata | write-notify | send) to --rung, and the
 * lease document must then name that rung. Environment: FAAS_EXECUTOR (the
 * faas-executor binary) and FAAS_FAULTS_LIB (faas_faults.so), set by
 * tests/integration/Makefile.am; DATAPLANE_KEEP=1 keeps the executors'
 * leases and logs (stderr) in the temporary directory for a post-mortem.
 *
 * Output is TAP. Exit status: 0 when every case passed, 1 otherwise, 77
 * (after a "1..0 # SKIP" plan) when the provider is not available here.
 * Every wait is bounded, and a watchdog ends the whole run.
 *
 * Executors, in order: A (1 worker) for the lease documents, synchronous
 * calls, misbehaving functions, tokens, a dying client and a timeout whose
 * late reply frees the client's only call record; B (2 workers) for 32
 * asynchronous calls and a timeout followed by a call to the other worker;
 * C (1 worker), killed by a crashing function; D (1 worker), stopped with
 * SIGTERM mid-call. C's and D's leases then serve as leases whose executor
 * is gone; G's faas_worker_init fails. The run takes about 15 s.
 *
 * Timing: a loaded machine (make check -j on every core, other jobs) may be
 * slow but must not fail a case. Calls whose timeout is not under test get
 * CALL_TIMEOUT_MS; the cases that test a timeout use TEST_TIMEOUT_MS with
 * functions that sleep well past it; every upper bound on a duration is the
 * product's own bound plus SLACK_MS, which is there to catch a hang, not to
 * measure speed (benchmarks measure that: tests/bench).
 */
#include "config.h"

#include "faas.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_S 300	      /* the whole run: a hang, not a slow machine */
#define LARGE_WATCHDOG_S 1800 /* the run of the large cases alone (DATAPLANE_LARGE) */
#define LARGE_TIMEOUT_MS                                                                           \
	600000			 /* calls moving up to 1 GiB each way: shm's copy through          \
				  * its bounce buffers ran at 110 MB/s on a loaded 2-core box */
#define START_TIMEOUT_MS 60000	 /* an executor publishing its lease */
#define STOP_TIMEOUT_MS 10000	 /* an executor exiting after SIGTERM */
#define SLACK_MS 2000		 /* scheduling slack on a loaded machine */
#define CALL_TIMEOUT_MS 30000	 /* calls whose timeout is not under test */
#define CONNECT_TIMEOUT_MS 30000 /* handshakes whose timeout is not under test */
#define TEST_TIMEOUT_MS 1000	 /* the call timeout of the timeout cases */
#define SLEEP_PAST_MS 3000	 /* a function that sleeps past TEST_TIMEOUT_MS */
#define MAX_EXECUTORS 12

/* ---- TAP ----------------------------------------------------------------- */

static int tests_run, tests_failed;

__attribute__((format(printf, 3, 4))) static bool check(bool ok, const char *name, const char *fmt,
							...)
{
	va_list ap;

	tests_run++;
	if (ok) {
		printf("ok %d - %s\n", tests_run, name);
	} else {
		tests_failed++;
		printf("not ok %d - %s # ", tests_run, name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
	return ok;
}

__attribute__((format(printf, 1, 2))) static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ---- time -------------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- configuration ------------------------------------------------------ */

static struct {
	const char *provider;	 /* as given to --provider */
	const char *rung;	 /* as given to --rung, or NULL */
	bool use_addr;		 /* tcp providers: --addr / src_addr 127.0.0.1 */
	const char *exe;	 /* faas-executor */
	const char *lib;	 /* faas_faults.so */
	char dir[PATH_MAX - 96]; /* private temporary directory */
	int cpus[2];		 /* cpus for the workers */
	int ncpus;
} cfg;

/* ---- executors --------------------------------------------------------- */

struct executor {
	char tag[16];
	pid_t pid;	 /* 0 once reaped */
	pid_t first_pid; /* the pid it ran as */
	int status;	 /* wait status, once reaped */
	char *json;	 /* the lease document it published */
	char lease_path[PATH_MAX];
	char log_path[PATH_MAX];
	struct faas_lease *lease;
};

static volatile pid_t live_pids[MAX_EXECUTORS];
/* More faas-executor arguments for the next start() (NULL-terminated). */
static const char *const *start_extra;

static void watchdog(int sig)
{
	static const char msg[] = "Bail out! watchdog: the test ran longer than its limit\n";
	ssize_t n;

	(void)sig;
	for (int i = 0; i < MAX_EXECUTORS; i++)
		if (live_pids[i] > 0)
			kill(live_pids[i], SIGKILL);
	n = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(1);
}

static void track(pid_t pid, bool add)
{
	for (int i = 0; i < MAX_EXECUTORS; i++) {
		if (add && live_pids[i] == 0) {
			live_pids[i] = pid;
			return;
		}
		if (!add && live_pids[i] == pid) {
			live_pids[i] = 0;
			return;
		}
	}
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t len;

	if (!f)
		return NULL;
	buf = calloc(1, 1 << 20);
	len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* Prints the executor's stderr as TAP comments (for failures). */
static void show_log(const struct executor *e)
{
	char *log = read_file(e->log_path);
	char *line, *save = NULL;
	int n = 0;

	if (!log)
		return;
	for (line = strtok_r(log, "\n", &save); line && n < 20; line = strtok_r(NULL, "\n", &save))
		diag("executor %s: %s", e->tag, line);
	free(log);
}

/* A process that dies without closing its shm endpoint leaves its region
 * ("PID:EP:DOMAIN", 16 MiB) in /dev/shm: remove those of a process this
 * test killed on purpose (reaped already, so its pid is not reused yet by
 * anything of ours). */
static void shm_cleanup(pid_t pid)
{
	char prefix[32], path[300];
	struct dirent *de;
	DIR *d;

	if (strncmp(cfg.provider, "shm", 3) != 0 || pid <= 0)
		return;
	snprintf(prefix, sizeof(prefix), "%ld:", (long)pid);
	d = opendir("/dev/shm");
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
}

/* Waits up to timeout_ms for the executor to exit; true when it has. */
static bool reap(struct executor *e, int timeout_ms)
{
	double deadline = now_ms() + timeout_ms;

	while (e->pid > 0) {
		pid_t r = waitpid(e->pid, &e->status, WNOHANG);

		if (r == e->pid || (r < 0 && errno == ECHILD)) {
			track(e->pid, false);
			e->pid = 0;
			break;
		}
		if (now_ms() > deadline)
			return false;
		sleep_ms(5);
	}
	return true;
}

/* SIGTERM, then SIGKILL if it has not exited after grace_ms; frees the
 * lease. An executor that died of a signal could not close its shm
 * endpoint: its region is removed. */
static void stop(struct executor *e, int grace_ms)
{
	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		if (!reap(e, grace_ms)) {
			kill(e->pid, SIGKILL);
			reap(e, STOP_TIMEOUT_MS);
		}
	}
	if (e->first_pid && e->pid == 0 && WIFSIGNALED(e->status))
		shm_cleanup(e->first_pid);
	e->first_pid = 0;
	faas_lease_destroy(e->lease);
	e->lease = NULL;
	free(e->json);
	e->json = NULL;
}

/* Starts faas-executor with nworkers workers and waits for its lease.
 * Returns 0, 77 when the provider is not available, -1 on failure (with
 * the reason in why). */
static int start(struct executor *e, const char *tag, unsigned nworkers, char *why, size_t whylen)
{
	char workers[16], cpus[32], id[64], err[256];
	const char *argv[32];
	double deadline;
	int argc = 0, fd, rc;
	pid_t pid;

	memset(e, 0, sizeof(*e));
	snprintf(e->tag, sizeof(e->tag), "%s", tag);
	snprintf(e->lease_path, sizeof(e->lease_path), "%s/%s.json", cfg.dir, tag);
	snprintf(e->log_path, sizeof(e->log_path), "%s/%s.log", cfg.dir, tag);
	snprintf(workers, sizeof(workers), "%u", nworkers);
	if (nworkers >= 2 && cfg.ncpus >= 2)
		snprintf(cpus, sizeof(cpus), "%d,%d", cfg.cpus[0], cfg.cpus[1]);
	else
		snprintf(cpus, sizeof(cpus), "%d", cfg.cpus[cfg.ncpus - 1]);
	snprintf(id, sizeof(id), "dataplane-%s-%ld", tag, (long)getpid());

	argv[argc++] = cfg.exe;
	argv[argc++] = "--lib";
	argv[argc++] = cfg.lib;
	argv[argc++] = "--workers";
	argv[argc++] = workers;
	argv[argc++] = "--cpus";
	argv[argc++] = cpus;
	argv[argc++] = "--provider";
	argv[argc++] = cfg.provider;
	if (cfg.use_addr) {
		argv[argc++] = "--addr";
		argv[argc++] = "127.0.0.1";
	}
	if (cfg.rung) {
		argv[argc++] = "--rung";
		argv[argc++] = cfg.rung;
	}
	if (getenv("DATAPLANE_MODE")) { /* hot | warm | hybrid (the default) */
		argv[argc++] = "--mode";
		argv[argc++] = getenv("DATAPLANE_MODE");
	}
	argv[argc++] = "--publish";
	argv[argc++] = e->lease_path;
	argv[argc++] = "--id";
	argv[argc++] = id;
	argv[argc++] = "--die-with-parent";
	for (int i = 0; start_extra && start_extra[i] && argc < 31; i++)
		argv[argc++] = start_extra[i];
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		fd = open(e->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		/* stray files (core dumps, backtraces) land in the private
		 * directory; libpsm2 and libpsm, loaded by libfabric, turn a
		 * SIGSEGV into exit(1) unless told not to */
		if (chdir(cfg.dir) != 0)
			_exit(127);
		setenv("HFI_NO_BACKTRACE", "1", 1);
		setenv("IPATH_NO_BACKTRACE", "1", 1);
		execv(cfg.exe, (char *const *)argv);
		dprintf(STDERR_FILENO, "dataplane: cannot run %s: %s\n", cfg.exe, strerror(errno));
		_exit(127);
	}
	e->pid = e->first_pid = pid;
	track(pid, true);

	deadline = now_ms() + START_TIMEOUT_MS;
	for (;;) {
		if (access(e->lease_path, R_OK) == 0)
			break;
		if (reap(e, 0)) {
			char *log = read_file(e->log_path);
			bool no_provider = log && strstr(log, "no libfabric provider");

			free(log);
			if (no_provider) {
				snprintf(why, whylen, "%s", "no provider");
				return 77;
			}
			snprintf(why, whylen, "executor %s exited (status 0x%x) before publishing",
				 tag, e->status);
			show_log(e);
			return -1;
		}
		if (now_ms() > deadline) {
			snprintf(why, whylen, "executor %s published nothing in %d ms", tag,
				 START_TIMEOUT_MS);
			show_log(e);
			stop(e, 0);
			return -1;
		}
		sleep_ms(5);
	}
	e->json = read_file(e->lease_path);
	if (e->json && *e->json && e->json[strlen(e->json) - 1] == '\n')
		e->json[strlen(e->json) - 1] = '\0';
	rc = e->json ? faas_lease_from_json(e->json, &e->lease, err, sizeof(err)) : FAAS_EINVAL;
	if (rc) {
		snprintf(why, whylen, "executor %s: its lease does not parse: %s (%s)", tag,
			 faas_strerror(rc), e->json ? err : "unreadable");
		stop(e, STOP_TIMEOUT_MS);
		return -1;
	}
	return 0;
}

/* ---- clients -------------------------------------------------------------- */

static struct faas_client_options options(int timeout_ms, int connect_ms, int depth)
{
	struct faas_client_options o = {0};

	o.timeout_ms = timeout_ms;
	o.connect_timeout_ms = connect_ms;
	o.depth = depth;
	o.src_addr = cfg.use_addr ? "127.0.0.1" : NULL;
	return o;
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131u + i * 17u + (i >> 8) + 1u);
}

/* Echoes len bytes through out (out_cap bytes, followed by guard bytes
 * that must stay untouched when guard); returns a failure description or
 * NULL. */
static const char *echo_check(struct faas_client *c, int fn, size_t len, uint8_t *out,
			      size_t out_cap, bool guard, unsigned seed, char *why, size_t whylen)
{
	uint8_t *in = malloc(len ? len : 1);
	size_t out_len = 12345;
	int rc;

	if (!in)
		return "out of memory";
	pattern(in, len, seed);
	memset(out, 0xa5, out_cap + (guard ? 64 : 0));
	rc = faas_invoke(c, fn, in, len, out, out_cap, &out_len);
	if (rc != FAAS_OK)
		snprintf(why, whylen, "faas_invoke: %s (%d)", faas_strerror(rc), rc);
	else if (out_len != len)
		snprintf(why, whylen, "out_len %zu, expected %zu", out_len, len);
	else if (memcmp(in, out, len) != 0)
		snprintf(why, whylen, "the output differs from the input");
	else {
		why[0] = '\0';
		for (size_t i = len; i < out_cap + (guard ? 64 : 0); i++) {
			if (out[i] != 0xa5) {
				snprintf(why, whylen, "byte %zu past the output was overwritten",
					 i);
				break;
			}
		}
	}
	free(in);
	return why[0] ? why : NULL;
}

/* The ids of the faults library's functions, looked up by name. */
static struct {
	int echo, fail, crash, sleep_ms, bigout, fill, failmsg, compress, whoami;
} fn;

static bool lookup_functions(struct faas_client *c, char *why, size_t whylen)
{
	static const char *const names[] = {"echo", "fail",    "crash",	   "sleep_ms", "bigout",
					    "fill", "failmsg", "compress", "whoami"};
	int *ids[] = {&fn.echo, &fn.fail,    &fn.crash,	   &fn.sleep_ms, &fn.bigout,
		      &fn.fill, &fn.failmsg, &fn.compress, &fn.whoami};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		*ids[i] = faas_function(c, names[i]);
		if (*ids[i] < 0) {
			snprintf(why, whylen, "faas_function(\"%s\"): %s", names[i],
				 faas_strerror(*ids[i]));
			return false;
		}
	}
	return true;
}

static size_t sleep_input(uint8_t *buf, size_t len, uint32_t ms, unsigned seed)
{
	uint32_t le = htole32(ms);

	pattern(buf, len, seed);
	memcpy(buf, &le, sizeof(le));
	return len;
}

static bool is_failure(int rc)
{
	return rc == FAAS_ETIMEDOUT || rc == FAAS_ETRANSPORT || rc == FAAS_EEVICTED ||
	       rc == FAAS_EUNAVAIL;
}

static int connect_client(const struct faas_lease *lease, int timeout_ms, int depth,
			  struct faas_client **c)
{
	struct faas_client_options o = options(timeout_ms, CONNECT_TIMEOUT_MS, depth);

	return faas_client_create(lease, &o, c);
}

/* A copy of json with the array after "key":[ replaced by repl (replace)
 * or with repl appended just before its closing ']'. NULL when the key is
 * missing. */
static char *edit_array(const char *json, const char *key, const char *repl, bool replace)
{
	char pat[64];
	const char *p, *end;
	char *out;
	int depth = 0;

	snprintf(pat, sizeof(pat), "\"%s\":[", key);
	p = strstr(json, pat);
	if (!p)
		return NULL;
	p += strlen(pat) - 1; /* at '[' */
	for (end = p; *end; end++) {
		if (*end == '[')
			depth++;
		else if (*end == ']' && --depth == 0)
			break;
	}
	if (!*end)
		return NULL;
	out = malloc(strlen(json) + strlen(repl) + 1);
	if (!out)
		return NULL;
	if (replace)
		sprintf(out, "%.*s%s%s", (int)(p - json), json, repl, end + 1);
	else
		sprintf(out, "%.*s%s%s", (int)(end - json), json, repl, end);
	return out;
}

/* ---- cases: executor A (1 worker) --------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define COLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COLOC_ASAN 1
#endif
#endif

#ifndef COLOC_ASAN
/* A kB field of /proc/PID/status, -1 when missing. */
static long status_kb(pid_t pid, const char *field)
{
	char path[64], *text, *at;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	text = read_file(path);
	at = text ? strstr(text, field) : NULL;
	if (at)
		kb = strtol(at + strlen(field) + 1, NULL, 10);
	free(text);
	return kb;
}
#endif

/* A fresh one-worker executor (default 64 slots of 64 KiB) holds at most
 * 8 MiB of its own memory: anonymous and shared-memory pages, what the
 * lease's memory limit is charged for. File pages (the function library,
 * libfabric and libc, shared with every process that maps them) are shown,
 * not counted. libfabric's default rxm pools alone took 68 MB. */
static void memory_case(const struct executor *a)
{
#ifdef COLOC_ASAN
	/* AddressSanitizer's shadow memory and quarantine are the executor's
	 * anonymous pages in an --enable-sanitizers build: nothing to judge */
	(void)a;
	printf("ok %d - memory: an idle one-worker executor holds at most 8 MiB of its own memory"
	       " # SKIP built with AddressSanitizer\n",
	       ++tests_run);
#else
	long anon = status_kb(a->pid, "RssAnon:"), shmem = status_kb(a->pid, "RssShmem:");
	long rss = status_kb(a->pid, "VmRSS:"), file = status_kb(a->pid, "RssFile:");

	check(anon >= 0 && shmem >= 0 && anon + shmem <= 8192,
	      "memory: an idle one-worker executor holds at most 8 MiB of its own memory",
	      "RssAnon %ld kB + RssShmem %ld kB (VmRSS %ld kB, RssFile %ld kB)", anon, shmem, rss,
	      file);
	diag("idle executor: VmRSS %ld kB = RssAnon %ld + RssShmem %ld + RssFile %ld", rss, anon,
	     shmem, file);
#endif
}

static bool lease_cases(struct executor *a)
{
	const char *prov = faas_lease_provider(a->lease);
	struct faas_lease *l1 = NULL, *l2 = NULL;
	char want[64], err[256];
	bool prov_ok;
	int r1, r2;

	/* "tcp" selects tcp;ofi_rxm: the document names the provider in full */
	prov_ok = prov && (strcmp(prov, cfg.provider) == 0 ||
			   (strncmp(prov, cfg.provider, strlen(cfg.provider)) == 0 &&
			    prov[strlen(cfg.provider)] == ';'));
	snprintf(want, sizeof(want), "\"rung\":\"%s\"", cfg.rung ? cfg.rung : "");
	check(prov_ok && faas_lease_workers(a->lease) == 1 &&
		  faas_lease_max_payload(a->lease) == 65536 - 48 &&
		  (!cfg.rung || strstr(a->json, want)),
	      "lease: the executor publishes 1 worker, its provider and rung, 65488-byte payloads",
	      "provider %s, %d workers, max payload %zu, document %s", prov ? prov : "(null)",
	      faas_lease_workers(a->lease), faas_lease_max_payload(a->lease), a->json);
	diag("lease provider %s, %s", prov ? prov : "?", strstr(a->json, "\"rung\"") ?: "");

	setenv("FAAS_LEASE", a->lease_path, 1);
	r1 = faas_lease_from_env(&l1, err, sizeof(err));
	setenv("FAAS_LEASE", a->json, 1);
	r2 = faas_lease_from_env(&l2, err, sizeof(err));
	unsetenv("FAAS_LEASE");
	check(r1 == FAAS_OK && r2 == FAAS_OK &&
		  strcmp(faas_lease_id(l1), faas_lease_id(a->lease)) == 0 &&
		  strcmp(faas_lease_id(l2), faas_lease_id(a->lease)) == 0,
	      "lease: FAAS_LEASE works as a file path and as the JSON text",
	      "path: %s, text: %s (%s)", faas_strerror(r1), faas_strerror(r2), err);
	faas_lease_destroy(l1);
	faas_lease_destroy(l2);
	return prov_ok;
}

static void bad_lease_cases(const struct executor *a)
{
	struct {
		const char *name;
		char *doc;
		const char *mention;
	} bad[3] = {
	    {"bad lease: \"{}\" -> FAAS_ELEASE with a message", strdup("{}"), NULL},
	    {"bad lease: \"not json\" -> FAAS_ELEASE with a message", strdup("not json"), NULL},
	    {"bad lease: \"workers\": [] -> FAAS_ELEASE naming workers",
	     edit_array(a->json, "workers", "[]", true), "workers"},
	};

	for (int i = 0; i < 3; i++) {
		struct faas_lease *l = NULL;
		char err[256] = "";
		int rc = bad[i].doc ? faas_lease_from_json(bad[i].doc, &l, err, sizeof(err))
				    : FAAS_EINVAL;

		check(rc == FAAS_ELEASE && err[0] &&
			  (!bad[i].mention || strstr(err, bad[i].mention)),
		      bad[i].name, "rc %s (%d), message \"%s\"", faas_strerror(rc), rc, err);
		if (rc == FAAS_OK)
			faas_lease_destroy(l);
		free(bad[i].doc);
	}
}

static void echo_cases(struct faas_client *c, size_t max)
{
	const size_t sizes[3] = {64, 4096, max};
	const char *names[2][3] = {
	    {"echo 64 B into malloc'd memory", "echo 4 KiB into malloc'd memory",
	     "echo max_payload bytes into malloc'd memory"},
	    {"echo 64 B into a faas_buffer_alloc buffer (zero copy)",
	     "echo 4 KiB into a faas_buffer_alloc buffer (zero copy)",
	     "echo max_payload bytes into a faas_buffer_alloc buffer (zero copy)"},
	};
	char why[256];

	for (int zc = 0; zc < 2; zc++) {
		for (int i = 0; i < 3; i++) {
			/* malloc'd: room for guard bytes after out_cap; zero copy:
			 * exactly the buffer (the executor writes only out_len) */
			uint8_t *out =
			    zc ? faas_buffer_alloc(c, sizes[i] + 64) : malloc(sizes[i] + 64);
			const char *fail_why;

			if (!out) {
				check(false, names[zc][i], "cannot allocate %zu bytes", sizes[i]);
				continue;
			}
			fail_why = echo_check(c, fn.echo, sizes[i], out, sizes[i], true,
					      (unsigned)(zc * 3 + i), why, sizeof(why));
			check(!fail_why, names[zc][i], "%s", fail_why ? fail_why : "");
			if (zc)
				faas_buffer_free(c, out);
			else
				free(out);
		}
	}
}

static void fill_cases(struct faas_client *c)
{
	uint64_t n = htole64(1000);
	size_t out_len = 0;
	uint8_t *out = malloc(1000 + 64);
	int rc, bad = -1;

	if (!out)
		return;
	memset(out, 0xa5, 1000 + 64);
	rc = faas_invoke(c, fn.fill, &n, sizeof(n), out, 1000, &out_len);
	for (size_t i = 0; rc == FAAS_OK && i < 1064 && bad < 0; i++)
		if (out[i] != (i < 1000 ? (uint8_t)((i * 7 + 3) & 0xff) : 0xa5))
			bad = (int)i;
	check(rc == FAAS_OK && out_len == 1000 && bad < 0,
	      "fill 1000 B with out_cap 1000: the output is right and nothing more is written",
	      "rc %s, out_len %zu, first wrong byte %d", faas_strerror(rc), out_len, bad);

	n = htole64(1001);
	rc = faas_invoke(c, fn.fill, &n, sizeof(n), out, 1000, &out_len);
	check(rc == FAAS_EFUNC, "output larger than out_cap: fill refuses -> FAAS_EFUNC",
	      "rc %s (%d)", faas_strerror(rc), rc);

	rc = faas_invoke(c, fn.bigout, NULL, 0, out, 1000, &out_len);
	check(rc == FAAS_EOUTSIZE, "output larger than out_cap: bigout -> FAAS_EOUTSIZE",
	      "rc %s (%d)", faas_strerror(rc), rc);
	free(out);
}

static void error_cases(struct executor *a, struct faas_client *c, size_t max)
{
	uint8_t *big = calloc(1, max + 1), out[64];
	struct faas_client *g = NULL;
	struct faas_lease *gl = NULL;
	char *ghost_doc, why[256], err[256] = "", ghost[64];
	size_t out_len;
	double t0, el;
	int rc, id, nfn = 0;

	if (!big)
		return;
	t0 = now_ms();
	out_len = 0;
	rc = faas_invoke(c, fn.echo, big, max + 1, big, max + 1, &out_len);
	el = now_ms() - t0;
	if (cfg.rung && strcmp(cfg.rung, "send") == 0)
		check(rc == FAAS_ETOOBIG && faas_inflight(c) == 0,
		      "payload of max_payload + 1 bytes on the send rung -> FAAS_ETOOBIG, no call "
		      "in flight",
		      "rc %s (%d) after %.0f ms, %d in flight", faas_strerror(rc), rc, el,
		      faas_inflight(c));
	else
		check(rc == FAAS_OK && out_len == max + 1 && faas_inflight(c) == 0,
		      "payload of max_payload + 1 bytes -> moves one-sided, echoed whole",
		      "rc %s (%d) after %.0f ms, out_len %zu, %d in flight", faas_strerror(rc), rc,
		      el, out_len, faas_inflight(c));
	free(big);

	rc = faas_invoke(c, 999, "x", 1, out, sizeof(out), &out_len);
	check(rc == FAAS_ENOFUNC, "unknown function id 999 -> FAAS_ENOFUNC", "rc %s (%d)",
	      faas_strerror(rc), rc);

	id = faas_function(c, "nope");
	check(id == FAAS_ENOFUNC, "faas_function(c, \"nope\") -> FAAS_ENOFUNC", "returned %d", id);

	/* a lease listing a function the executor does not serve: the
	 * executor itself answers FAAS_ENOFUNC */
	/* one more function than the library has: its id is their count */
	{

		for (const char *p = strstr(a->json, "\"functions\"");
		     p && (p = strstr(p, "\"id\":")); p++)
			nfn++;
		snprintf(ghost, sizeof(ghost), ",{\"name\":\"ghost\",\"id\":%d}", nfn);
		ghost_doc = edit_array(a->json, "functions", ghost, false);
	}
	rc = ghost_doc ? faas_lease_from_json(ghost_doc, &gl, err, sizeof(err)) : FAAS_EINVAL;
	if (rc == FAAS_OK)
		rc = connect_client(gl, CALL_TIMEOUT_MS, 4, &g);
	if (rc == FAAS_OK) {
		id = faas_function(g, "ghost");
		rc = faas_invoke(g, id, "x", 1, out, sizeof(out), &out_len);
		check(id == nfn && rc == FAAS_ENOFUNC,
		      "a function the executor does not serve -> FAAS_ENOFUNC from the executor",
		      "id %d, rc %s (%d)", id, faas_strerror(rc), rc);
	} else {
		check(false,
		      "a function the executor does not serve -> FAAS_ENOFUNC from the executor",
		      "cannot set up the client: %s (%s)", faas_strerror(rc), gl ? "" : err);
	}
	faas_client_destroy(g);
	faas_lease_destroy(gl);
	free(ghost_doc);

	rc = faas_invoke(c, fn.fail, "x", 1, out, sizeof(out), &out_len);
	check(rc == FAAS_EFUNC, "fail (returns 7) -> FAAS_EFUNC", "rc %s (%d)", faas_strerror(rc),
	      rc);
	{
		const char *w = echo_check(c, fn.echo, 32, out, 32, false, 7, why, sizeof(why));

		check(!w, "after fail the executor keeps serving (echo)", "%s", w ? w : "");
	}
}

/* Why a function failed reaches the caller: its code and message, the
 * output size it needed; and a function served under a name that is not its
 * symbol's. */
static void function_error_cases(struct faas_client *c)
{
	static const char msg[] = "strike price must be positive\n";
	char *zc = faas_buffer_alloc(c, 4096), *long_msg = malloc(1000), want[512];
	uint8_t out[64], in[5] = {1, 2, 3, 4, 5};
	const char *e;
	size_t out_len = 12345;
	int rc, id;

	rc = faas_invoke(c, fn.fail, "x", 1, out, sizeof(out), &out_len);
	e = faas_last_error(c);
	check(rc == FAAS_EFUNC && faas_last_fn_rc(c) == 7 && out_len == 0 &&
		  strcmp(e, "function fail returned 7") == 0,
	      "EFUNC: faas_last_fn_rc gives the function's 7, faas_last_error names it",
	      "rc %s (%d), fn_rc %d, out_len %zu, \"%s\"", faas_strerror(rc), rc,
	      faas_last_fn_rc(c), out_len, e);

	rc = faas_invoke(c, fn.failmsg, msg, sizeof(msg) - 1, out, sizeof(out), &out_len);
	e = faas_last_error(c);
	check(rc == FAAS_EFUNC && faas_last_fn_rc(c) == 22 &&
		  strcmp(e, "function failmsg returned 22: strike price must be positive?") == 0,
	      "EFUNC: the function's message, its newline sanitized, in faas_last_error",
	      "rc %s (%d), fn_rc %d, \"%s\"", faas_strerror(rc), rc, faas_last_fn_rc(c), e);

	if (zc) {
		rc = faas_invoke(c, fn.failmsg, msg, 6, zc, 4096, &out_len);
		e = faas_last_error(c);
		check(rc == FAAS_EFUNC && strcmp(e, "function failmsg returned 22: strike") == 0,
		      "EFUNC: the message reaches a faas_buffer_alloc'd output (zero copy)",
		      "rc %s (%d), \"%s\"", faas_strerror(rc), rc, e);
	} else {
		check(false, "EFUNC: the message reaches a faas_buffer_alloc'd output (zero copy)",
		      "faas_buffer_alloc failed");
	}

	if (long_msg) {
		memset(long_msg, 'm', 1000);
		rc = faas_invoke(c, fn.failmsg, long_msg, 1000, zc ? zc : (char *)out,
				 zc ? 4096 : sizeof(out), &out_len);
		e = faas_last_error(c);
		snprintf(want, sizeof(want), "function failmsg returned 22: %.*s",
			 zc ? 256 : (int)sizeof(out), long_msg);
		check(rc == FAAS_EFUNC && strcmp(e, want) == 0,
		      "EFUNC: a 1000-byte message is cut to 256 bytes",
		      "rc %s (%d), %zu bytes: \"%.80s...\"", faas_strerror(rc), rc, strlen(e), e);
		/* the message is cut to out_cap too */
		rc = faas_invoke(c, fn.failmsg, long_msg, 1000, out, 10, &out_len);
		e = faas_last_error(c);
		check(rc == FAAS_EFUNC &&
			  strcmp(e, "function failmsg returned 22: mmmmmmmmmm") == 0,
		      "EFUNC: the message is cut to out_cap (10)", "rc %s (%d), \"%s\"",
		      faas_strerror(rc), rc, e);
	}

	memset(out, 0xa5, sizeof(out));
	rc = faas_invoke(c, fn.bigout, "x", 1, out, 32, &out_len);
	e = faas_last_error(c);
	check(rc == FAAS_EOUTSIZE && out_len == 33 && faas_last_fn_rc(c) == 0 && out[0] == 0xa5 &&
		  strcmp(e, "function bigout needed 33 bytes of output, out_cap was 32") == 0,
	      "EOUTSIZE: *out_len is the size the function needed (33 for out_cap 32), nothing "
	      "copied",
	      "rc %s (%d), out_len %zu, fn_rc %d, \"%s\"", faas_strerror(rc), rc, out_len,
	      faas_last_fn_rc(c), e);
	rc = faas_invoke(c, fn.compress, in, sizeof(in), out, 2, &out_len);
	check(rc == FAAS_EOUTSIZE && out_len == sizeof(in),
	      "EOUTSIZE: a function reporting its need (compress, 5 bytes into 2)",
	      "rc %s (%d), out_len %zu", faas_strerror(rc), rc, out_len);

	rc = faas_invoke(c, fn.compress, in, sizeof(in), out, sizeof(out), &out_len);
	e = faas_last_error(c);
	check(rc == FAAS_OK && out_len == sizeof(in) && out[0] == 5 && out[4] == 1 && !*e &&
		  faas_last_fn_rc(c) == 0,
	      "name=symbol: \"compress\" runs faults_compress; faas_last_error is \"\" after it",
	      "rc %s (%d), out_len %zu, out %u..%u, \"%s\"", faas_strerror(rc), rc, out_len, out[0],
	      out[4], e);
	id = faas_function(c, "faults_compress");
	check(id == FAAS_ENOFUNC, "name=symbol: the symbol's own name is not a function",
	      "faas_function gave %d", id);

	rc = faas_invoke(c, 999, "x", 1, out, sizeof(out), &out_len);
	e = faas_last_error(c);
	check(rc == FAAS_ENOFUNC && strstr(e, faas_strerror(FAAS_ENOFUNC)) && strstr(e, "#999"),
	      "faas_last_error for other errors: faas_strerror's text and the function",
	      "rc %s (%d), \"%s\"", faas_strerror(rc), rc, e);
	free(long_msg);
	faas_buffer_free(c, zc);
}

static void token_cases(struct executor *a, struct faas_client *c)
{
	struct faas_client *bad = NULL, *good = NULL;
	struct faas_lease *bl = NULL;
	char *doc = strdup(a->json), *tok, why[256], err[256];
	const char *w1 = NULL, *w2 = NULL;
	uint8_t out[64];
	double t0, el = 0;
	int rc;

	tok = doc ? strstr(doc, "\"token\":\"") : NULL;
	if (!tok) {
		check(false, "a lease with an altered token -> FAAS_EUNAVAIL", "no token in %s",
		      a->json);
		check(false, "after a refused token the executor keeps serving", "not run");
		free(doc);
		return;
	}
	tok += strlen("\"token\":\"");
	tok[0] = tok[0] == '0' ? '1' : '0';
	rc = faas_lease_from_json(doc, &bl, err, sizeof(err));
	if (rc == FAAS_OK) {
		struct faas_client_options o = options(0, 1000, 4);

		t0 = now_ms();
		rc = faas_client_create(bl, &o, &bad);
		el = now_ms() - t0;
	}
	/* issue 11: a worker does not answer a wrong token (nor contact the
	 * address it came with), so the client hears nothing */
	check(rc == FAAS_EUNAVAIL && !bad,
	      "a lease with an altered token -> FAAS_EUNAVAIL (workers do not answer it)",
	      "rc %s (%d) after %.0f ms", faas_strerror(rc), rc, el);
	faas_client_destroy(bad);
	faas_lease_destroy(bl);
	free(doc);

	w1 = echo_check(c, fn.echo, 48, out, 48, false, 11, why, sizeof(why));
	rc = connect_client(a->lease, CALL_TIMEOUT_MS, 4, &good);
	if (!w1 && rc == FAAS_OK)
		w2 = echo_check(good, fn.echo, 48, out, 48, false, 12, why, sizeof(why));
	check(!w1 && rc == FAAS_OK && !w2,
	      "after a refused token the executor keeps serving (old and new clients)",
	      "old client: %s, new client: %s %s", w1 ? w1 : "ok", faas_strerror(rc), w2 ? w2 : "");
	faas_client_destroy(good);
}

/* The child of the disconnect case (dataplane --disconnect-child LEASE
 * ADDR|-): connects, starts sleep_ms(300) with a 16 KiB payload (a reply
 * too large to inject), and dies 50 ms later without a goodbye. */
static int disconnect_child(const char *lease_path, const char *addr)
{
	static uint8_t in[16384], out[16384];
	struct faas_client_options o = {.timeout_ms = CALL_TIMEOUT_MS,
					.connect_timeout_ms = CONNECT_TIMEOUT_MS};
	struct faas_client *c;
	struct faas_lease *l;
	struct faas_call *call;
	char *json = read_file(lease_path), err[256];
	int id;

	if (!json || faas_lease_from_json(json, &l, err, sizeof(err)) != FAAS_OK)
		_exit(2);
	o.src_addr = strcmp(addr, "-") ? addr : NULL;
	if (faas_client_create(l, &o, &c) != FAAS_OK)
		_exit(3);
	id = faas_function(c, "sleep_ms");
	sleep_input(in, sizeof(in), 300, 99);
	if (id < 0 || faas_invoke_async(c, id, in, sizeof(in), out, sizeof(out), &call) != FAAS_OK)
		_exit(4);
	sleep_ms(50);
	_exit(0);
}

/* --payload-child: connects, starts one call with a len-byte input beyond
 * the slot, says so on stdout ("go") and exits 100 ms later, without
 * progressing the transfer (which the worker's fi_read needs on shm and
 * rxm) nor saying goodbye. Not killed: on shm a process killed while it
 * holds a lock of its peer's inside libfabric wedges that peer's other
 * clients (notes on shm in docs/design.md). */
static int payload_child(const char *lease_path, const char *addr, size_t len)
{
	struct faas_client_options o = {.timeout_ms = LARGE_TIMEOUT_MS,
					.connect_timeout_ms = CONNECT_TIMEOUT_MS};
	struct faas_client *c;
	struct faas_lease *l;
	struct faas_call *call;
	char *json = read_file(lease_path), err[256];
	uint8_t *in = malloc(len), *out = malloc(len);
	int id;

	if (!json || !in || !out || faas_lease_from_json(json, &l, err, sizeof(err)) != FAAS_OK)
		_exit(2);
	o.src_addr = strcmp(addr, "-") ? addr : NULL;
	if (faas_client_create(l, &o, &c) != FAAS_OK)
		_exit(3);
	id = faas_function(c, "invert");
	pattern(in, len, 7);
	if (id < 0 || faas_invoke_async(c, id, in, len, out, len, &call) != FAAS_OK)
		_exit(4);
	if (write(1, "go", 2) != 2)
		_exit(5);
	(void)call;
	sleep_ms(100);
	_exit(0);
}

/* Waits up to timeout_ms for child pid to exit (then kills it); its status. */
static int wait_child(pid_t pid, int timeout_ms)
{
	double deadline = now_ms() + timeout_ms;
	int status = -1;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		sleep_ms(2);
	}
	return status;
}

static void disconnect_cases(struct executor *a, struct faas_client *c, const char *self)
{
	const char *argv[] = {self, "--disconnect-child", a->lease_path,
			      cfg.use_addr ? "127.0.0.1" : "-", NULL};
	const char *w = NULL;
	char why[256];
	uint8_t out[256];
	double t0, el = 0;
	int status = -1;
	bool alive;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		execv(self, (char *const *)argv);
		_exit(127);
	}
	if (pid > 0) {
		status = wait_child(pid, CONNECT_TIMEOUT_MS + SLACK_MS);
	}
	if (pid > 0)
		shm_cleanup(pid);
	if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		t0 = now_ms();
		w = echo_check(c, fn.echo, 200, out, sizeof(out), false, 21, why, sizeof(why));
		el = now_ms() - t0;
	}
	alive = !reap(a, 0);
	check(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && !w &&
		  el < 300 + SLACK_MS && alive,
	      "client dies mid-call: another client's echo is answered once the dead client's "
	      "300 ms call is done (+ slack)",
	      "child status 0x%x (exit 3: cannot connect, 4: cannot call), echo: %s after %.0f ms, "
	      "executor %s",
	      (unsigned)status, w ? w : "ok", el, alive ? "alive" : "dead");

	sleep_ms(500);
	w = echo_check(c, fn.echo, 200, out, sizeof(out), false, 22, why, sizeof(why));
	alive = !reap(a, 0);
	check(!w && alive, "client dies mid-call: the executor still serves 500 ms later",
	      "echo: %s, executor %s", w ? w : "ok", alive ? "alive" : "dead");
	if (!alive)
		show_log(a);
}

/* Executor A has one worker, and this client one call record (depth 1):
 * after a timeout the record stays taken until the late reply frees it. */
static void timeout_late_reply_cases(struct executor *a)
{
	struct faas_client *t = NULL;
	uint8_t in[64], out[64], ein[40];
	char busy_why[128] = "";
	size_t out_len = 0;
	double t0, el = 0, deadline;
	int rc, erc = -100, attempts = 0;

	rc = connect_client(a->lease, TEST_TIMEOUT_MS, 1, &t);
	if (rc == FAAS_OK) {
		sleep_input(in, sizeof(in), SLEEP_PAST_MS, 31);
		t0 = now_ms();
		rc = faas_invoke(t, fn.sleep_ms, in, sizeof(in), out, sizeof(out), &out_len);
		el = now_ms() - t0;
	}
	check(rc == FAAS_ETIMEDOUT && el >= TEST_TIMEOUT_MS && el < TEST_TIMEOUT_MS + SLACK_MS,
	      "timeout, 1 record: sleep_ms(3000) with timeout_ms 1000 -> FAAS_ETIMEDOUT, not "
	      "before its timeout (nor long after)",
	      "rc %s (%d) after %.0f ms", faas_strerror(rc), rc, el);

	/* Until the late reply frees the record, a call waits for a record,
	 * bounded by its timeout (faas.h: FAAS_EBUSY); then echo works. */
	pattern(ein, sizeof(ein), 41);
	/* the late reply is due 2 s after the timeout; a loaded machine may
	 * take longer: the loop ends when echo works */
	deadline = now_ms() + CALL_TIMEOUT_MS;
	while (t && now_ms() < deadline) {
		attempts++;
		memset(out, 0, sizeof(out));
		out_len = 0;
		t0 = now_ms();
		erc = faas_invoke(t, fn.echo, ein, sizeof(ein), out, sizeof(out), &out_len);
		el = now_ms() - t0;
		if (erc == FAAS_OK)
			break;
		if (erc != FAAS_EBUSY && !busy_why[0])
			snprintf(busy_why, sizeof(busy_why), "attempt %d: %s (%d) after %.0f ms",
				 attempts, faas_strerror(erc), erc, el);
		sleep_ms(200);
	}
	check(t && !busy_why[0],
	      "timeout, 1 record: while the late reply is due, calls get FAAS_EBUSY (no free "
	      "record)",
	      "%s", busy_why);
	check(erc == FAAS_OK && out_len == sizeof(ein) && memcmp(ein, out, sizeof(ein)) == 0 &&
		  faas_inflight(t) == 0,
	      "timeout, 1 record: echo works again once the late reply is in",
	      "after %d attempts over 30 s: %s (%d), %zu bytes, %d in flight", attempts,
	      faas_strerror(erc), erc, out_len, faas_inflight(t));
	if (erc == FAAS_OK)
		diag("echo answered at attempt %d", attempts);
	faas_client_destroy(t);
}

/* Executor B has two workers: after a timeout on one, the next call goes
 * to the other (another slot) and is answered at once. */
static void timeout_other_worker_cases(struct executor *b)
{
	struct faas_client *t = NULL;
	uint8_t in[64], out[64];
	const char *w = "not run";
	char why[256];
	size_t out_len;
	double t0, el = 0, el2 = 0;
	int rc;

	rc = connect_client(b->lease, TEST_TIMEOUT_MS, 0, &t);
	if (rc == FAAS_OK) {
		sleep_input(in, sizeof(in), SLEEP_PAST_MS, 32);
		t0 = now_ms();
		rc = faas_invoke(t, fn.sleep_ms, in, sizeof(in), out, sizeof(out), &out_len);
		el = now_ms() - t0;
	}
	check(rc == FAAS_ETIMEDOUT && el >= TEST_TIMEOUT_MS && el < TEST_TIMEOUT_MS + SLACK_MS,
	      "timeout, 2 workers: sleep_ms(3000) with timeout_ms 1000 -> FAAS_ETIMEDOUT, not "
	      "before its timeout (nor long after)",
	      "rc %s (%d) after %.0f ms", faas_strerror(rc), rc, el);
	if (t) {
		t0 = now_ms();
		w = echo_check(t, fn.echo, 40, out, 40, false, 33, why, sizeof(why));
		el2 = now_ms() - t0;
	}
	check(!w, "timeout, 2 workers: the next echo is answered by the other worker",
	      "%s after %.0f ms", w ? w : "ok", el2);
	faas_client_destroy(t);
}

/* Eviction is how cores go back to their owner: it must be prompt even
 * when a client of the executor died without a goodbye (the disconnect
 * case left one behind). */
static void stopping_cases(struct executor *a)
{
	double t0 = now_ms(), el;
	bool exited;

	if (a->pid > 0)
		kill(a->pid, SIGTERM);
	exited = reap(a, STOP_TIMEOUT_MS);
	el = now_ms() - t0;
	check(exited && WIFEXITED(a->status) && WEXITSTATUS(a->status) == 0 && el < 1000 + SLACK_MS,
	      "stop: SIGTERM -> the executor exits 0 within 1 s (+ slack), though a client of it "
	      "died",
	      "%s, status 0x%x, after %.0f ms", exited ? "exited" : "still running",
	      (unsigned)a->status, el);
	stop(a, 0);
}

/* faas_worker_fini ran in worker 0's thread of the executor that ran as pid
 * (its file holds the tag init gave that thread). */
static void fini_case(pid_t pid, const char *name)
{
	char path[PATH_MAX + 64], *text;

	snprintf(path, sizeof(path), "%s/fini-%ld-0", cfg.dir, (long)pid);
	text = read_file(path);
	check(text && strcmp(text, "1000\n") == 0, name, "%s: %s", path, text ? text : "missing");
	free(text);
}

/* ---- cases: executor B (2 workers) --------------------------------------- */

/* faas_worker_init ran in each worker's thread before its first call:
 * whoami answers 1000 + the worker from _Thread_local state init set. */
static void hook_cases(struct executor *b)
{
	struct faas_client *c = NULL;
	bool seen[2] = {false, false}, bad = false;
	uint32_t tag = 0;
	size_t out_len = 0;
	int rc, calls = 0;

	rc = connect_client(b->lease, CALL_TIMEOUT_MS, 0, &c);
	/* calls go round robin over the workers; 64 are plenty to meet both */
	for (; rc == FAAS_OK && calls < 64 && !(seen[0] && seen[1]) && !bad; calls++) {
		rc = faas_invoke(c, fn.whoami, NULL, 0, &tag, sizeof(tag), &out_len);
		tag = le32toh(tag);
		if (rc == FAAS_OK && out_len == sizeof(tag) && (tag == 1000 || tag == 1001))
			seen[tag - 1000] = true;
		else
			bad = true;
	}
	check(rc == FAAS_OK && !bad && seen[0] && seen[1],
	      "faas_worker_init ran in both workers' threads before their first call",
	      "rc %s (%d), last tag %u (out_len %zu), seen %d %d after %d calls", faas_strerror(rc),
	      rc, tag, out_len, seen[0], seen[1], calls);
	faas_client_destroy(c);
}

/* An init hook that fails: the executor refuses to start and says why. */
static void init_fail_case(void)
{
	static const char name[] =
	    "faas_worker_init returns 5 -> the executor exits non-zero naming the library and 5";
	struct executor g;
	char why[512], *log;
	int rc;

	setenv("FAULTS_INIT_FAIL", "5", 1);
	diag("executor g is expected to fail to start:");
	rc = start(&g, "g", 1, why, sizeof(why));
	unsetenv("FAULTS_INIT_FAIL");
	log = read_file(g.log_path);
	check(rc == -1 && g.pid == 0 && WIFEXITED(g.status) && WEXITSTATUS(g.status) != 0 && log &&
		  strstr(log, cfg.lib) && strstr(log, "faas_worker_init(0) returned 5"),
	      name, "start: %d (%s), status 0x%x", rc, why, (unsigned)g.status);
	free(log);
	stop(&g, STOP_TIMEOUT_MS);
}

#define NASYNC 32
#define ASYNC_LEN 512

static void async_cases(struct executor *b)
{
	struct faas_call *h[NASYNC] = {0}, *done;
	uint8_t in[NASYNC][ASYNC_LEN], *out[NASYNC] = {0};
	bool zc[NASYNC], seen[NASYNC] = {0};
	struct faas_client *c = NULL;
	char bad[256] = "";
	size_t out_len;
	int rc, inflight = -1, submitted = 0, nw = 0;
	double deadline;

	rc = connect_client(b->lease, CALL_TIMEOUT_MS, 0, &c);
	if (rc != FAAS_OK) {
		check(false, "async: 32 calls in flight over 2 workers", "faas_client_create: %s",
		      faas_strerror(rc));
		return;
	}
	nw = faas_client_workers(c);
	for (int i = 0; i < NASYNC; i++) {
		int id = i % 4 == 0 ? fn.sleep_ms : fn.echo;

		if (i % 4 == 0)
			sleep_input(in[i], ASYNC_LEN, 20, (unsigned)i);
		else
			pattern(in[i], ASYNC_LEN, (unsigned)i);
		zc[i] = i % 3 == 0;
		out[i] = zc[i] ? faas_buffer_alloc(c, ASYNC_LEN) : malloc(ASYNC_LEN);
		if (!out[i])
			break;
		memset(out[i], 0, ASYNC_LEN);
		rc = faas_invoke_async(c, id, in[i], ASYNC_LEN, out[i], ASYNC_LEN, &h[i]);
		if (rc != FAAS_OK) {
			snprintf(bad, sizeof(bad), "call %d: faas_invoke_async: %s", i,
				 faas_strerror(rc));
			break;
		}
		/* the input is copied: scribbling on it must not matter */
		submitted++;
	}
	inflight = faas_inflight(c);
	check(nw == 2 && submitted == NASYNC && inflight == NASYNC,
	      "async: 32 calls in flight over 2 workers",
	      "%d workers, %d submitted, %d in flight %s", nw, submitted, inflight, bad);

#define RESULT_OK(i, rc, len)                                                                      \
	((rc) == FAAS_OK && (len) == ASYNC_LEN && memcmp(in[i], out[i], ASYNC_LEN) == 0)

	bad[0] = '\0';
	for (int i = 0; i < 8 && i < submitted; i++) {
		out_len = 0;
		rc = faas_wait(c, h[i], &out_len);
		seen[i] = true;
		if (!RESULT_OK(i, rc, out_len) && !bad[0])
			snprintf(bad, sizeof(bad), "call %d: %s, %zu bytes", i, faas_strerror(rc),
				 out_len);
	}
	check(submitted == NASYNC && !bad[0], "async: faas_wait returns calls 0-7 right", "%s",
	      bad);

	bad[0] = '\0';
	deadline = now_ms() + CALL_TIMEOUT_MS + SLACK_MS;
	for (bool pending = true; pending && submitted == NASYNC;) {
		pending = false;
		for (int i = 8; i < 16; i++) {
			if (seen[i])
				continue;
			out_len = 0;
			rc = faas_test(c, h[i], &out_len);
			if (rc == FAAS_EINPROGRESS) {
				pending = true;
				continue;
			}
			seen[i] = true;
			if (!RESULT_OK(i, rc, out_len) && !bad[0])
				snprintf(bad, sizeof(bad), "call %d: %s, %zu bytes", i,
					 faas_strerror(rc), out_len);
		}
		if (pending && now_ms() > deadline) {
			snprintf(bad, sizeof(bad), "faas_test still says in progress after %d s",
				 (CALL_TIMEOUT_MS + SLACK_MS) / 1000);
			break;
		}
	}
	check(submitted == NASYNC && !bad[0],
	      "async: faas_test polls calls 8-15 to the right result", "%s", bad);

	bad[0] = '\0';
	for (int k = 16; k < NASYNC && submitted == NASYNC; k++) {
		int i = -1;

		done = NULL;
		out_len = 0;
		rc = faas_wait_any(c, &done, &out_len);
		for (int j = 16; j < NASYNC; j++)
			if (h[j] == done && !seen[j])
				i = j;
		if (i < 0) {
			snprintf(bad, sizeof(bad),
				 "faas_wait_any: %s and a handle %p that is not a "
				 "pending call",
				 faas_strerror(rc), (void *)done);
			break;
		}
		seen[i] = true;
		if (!RESULT_OK(i, rc, out_len) && !bad[0])
			snprintf(bad, sizeof(bad), "call %d: %s, %zu bytes", i, faas_strerror(rc),
				 out_len);
	}
	check(submitted == NASYNC && !bad[0],
	      "async: faas_wait_any returns calls 16-31 right, each once", "%s", bad);

	done = NULL;
	rc = faas_wait_any(c, &done, &out_len);
	check(rc == FAAS_EINVAL && faas_inflight(c) == 0,
	      "async: faas_wait_any with no call in flight -> FAAS_EINVAL",
	      "rc %s (%d), %d in flight", faas_strerror(rc), rc, faas_inflight(c));
#undef RESULT_OK

	for (int i = 0; i < NASYNC; i++) {
		if (zc[i])
			faas_buffer_free(c, out[i]);
		else
			free(out[i]);
	}
	faas_client_destroy(c);
}

/* ---- cases: executor C (crash) ------------------------------------------- */

static void crash_cases(struct executor *e)
{
	struct faas_client *c = NULL;
	uint8_t out[64];
	size_t out_len;
	double t0, el1 = 0, el2 = 0;
	int rc1, rc2 = FAAS_OK, rc;
	bool died;

	rc = connect_client(e->lease, CALL_TIMEOUT_MS, 0, &c);
	rc1 = rc;
	if (rc == FAAS_OK) {
		t0 = now_ms();
		rc1 = faas_invoke(c, fn.crash, NULL, 0, out, sizeof(out), &out_len);
		el1 = now_ms() - t0;
	}
	check(rc == FAAS_OK && is_failure(rc1) && el1 < 1000 + SLACK_MS,
	      "crash: the call fails (transport, evicted or unavailable) within 1 s (+ slack), "
	      "not by its 30 s timeout",
	      "connect %s, rc %s (%d) after %.0f ms", faas_strerror(rc), faas_strerror(rc1), rc1,
	      el1);
	died = reap(e, STOP_TIMEOUT_MS);
	/* a crash handler of some library may turn the signal into exit(1) */
	check(died && ((WIFSIGNALED(e->status) && WTERMSIG(e->status) == SIGSEGV) ||
		       (WIFEXITED(e->status) && WEXITSTATUS(e->status) != 0)),
	      "crash: the executor process died of the SIGSEGV", "%s, status 0x%x",
	      died ? "exited" : "still running", (unsigned)e->status);
	if (died && !WIFSIGNALED(e->status))
		diag("the executor exited with status %d instead of dying of SIGSEGV",
		     WEXITSTATUS(e->status));
	if (rc == FAAS_OK) {
		t0 = now_ms();
		rc2 = faas_invoke(c, fn.echo, "abc", 3, out, sizeof(out), &out_len);
		el2 = now_ms() - t0;
	}
	check(rc == FAAS_OK && is_failure(rc2) && el2 < 1000 + SLACK_MS,
	      "crash: the next call fails too, within 1 s (+ slack)", "rc %s (%d) after %.0f ms",
	      faas_strerror(rc2), rc2, el2);
	/* its goodbye cannot be delivered; destroy flushes for 200 ms at most */
	t0 = now_ms();
	faas_client_destroy(c);
	el1 = now_ms() - t0;
	check(el1 < 200 + SLACK_MS,
	      "crash: faas_client_destroy returns promptly (200 ms flush + slack)",
	      "it took %.0f ms", el1);
}

/* ---- cases: executor D (eviction) ----------------------------------------- */

static void evict_cases(struct executor *e)
{
	struct faas_client *c = NULL;
	struct faas_call *call;
	uint8_t in[64], out[64];
	size_t out_len = 0;
	double t0 = 0, el1 = 0, el2 = 0, el3 = 0;
	int rc, rc1 = -100, rc2 = -100, rc3 = -100, workers = -1;
	bool exited;

	rc = connect_client(e->lease, CALL_TIMEOUT_MS, 0, &c);
	if (rc == FAAS_OK) {
		sleep_input(in, sizeof(in), 200, 51);
		rc = faas_invoke_async(c, fn.sleep_ms, in, sizeof(in), out, sizeof(out), &call);
	}
	if (rc == FAAS_OK) {
		sleep_ms(50);
		kill(e->pid, SIGTERM);
		t0 = now_ms();
		rc1 = faas_wait(c, call, &out_len);
		el1 = now_ms() - t0;
		if (rc1 == FAAS_OK && (out_len != sizeof(in) || memcmp(in, out, sizeof(in))))
			rc1 = -101; /* a wrong answer */
		if (rc1 != FAAS_EEVICTED) {
			rc2 = faas_invoke(c, fn.echo, "abc", 3, out, sizeof(out), &out_len);
			el2 = now_ms() - t0;
		}
	}
	check(rc == FAAS_OK && (rc1 == FAAS_EEVICTED || (rc1 == FAAS_OK && rc2 == FAAS_EEVICTED)) &&
		  (rc1 == FAAS_EEVICTED ? el1 : el2) < 1000 + SLACK_MS,
	      "evict: SIGTERM during sleep_ms(200): that call or the next -> FAAS_EEVICTED within "
	      "1 s (+ slack)",
	      "setup %s, in-flight call: %s (%d) after %.0f ms, next call: %s (%d) at %.0f ms",
	      faas_strerror(rc), rc1 == -101 ? "wrong data" : faas_strerror(rc1), rc1, el1,
	      faas_strerror(rc2), rc2, el2);

	if (c) {
		t0 = now_ms();
		rc3 = faas_invoke(c, fn.echo, "abc", 3, out, sizeof(out), &out_len);
		el3 = now_ms() - t0;
		workers = faas_client_workers(c);
	}
	check(rc3 == FAAS_EEVICTED && el3 < SLACK_MS && workers == 0,
	      "evict: a later call fails at once with FAAS_EEVICTED, no worker left",
	      "rc %s (%d) after %.0f ms, %d workers", faas_strerror(rc3), rc3, el3, workers);
	faas_client_destroy(c);

	exited = reap(e, STOP_TIMEOUT_MS);
	check(exited && WIFEXITED(e->status) && WEXITSTATUS(e->status) == 0,
	      "evict: the executor exits 0 after SIGTERM", "%s, status 0x%x",
	      exited ? "exited" : "still running", (unsigned)e->status);
	if (!exited || !WIFEXITED(e->status) || WEXITSTATUS(e->status) != 0)
		show_log(e);
}

static void gone_case(struct executor *e, const char *name)
{
	struct faas_client_options o = options(0, 500, 0);
	struct faas_client *c = NULL;
	double t0, el;
	int rc;

	if (!e->lease) {
		check(false, name, "no lease");
		return;
	}
	t0 = now_ms();
	rc = faas_client_create(e->lease, &o, &c);
	el = now_ms() - t0;
	check(rc == FAAS_EUNAVAIL && !c && el < 500 + 2 * SLACK_MS, name,
	      "rc %s (%d) after %.0f ms", faas_strerror(rc), rc, el);
	faas_client_destroy(c);
}

/* ---- cases: clients that never wait for a dead or stopped executor ------ */

static char *array_inner(const char *json, const char *key);

/* One lease over the workers of e and then f (as the controller makes
 * them; the executors must share a token): FAAS_OK, or an error with err. */
static int join_leases(const struct executor *e, const struct executor *f,
		       struct faas_lease **lease, char *err, size_t errlen)
{
	char *inner = array_inner(f->json, "workers"), *json = NULL, *comma = NULL;
	int rc = -1;

	if (inner && asprintf(&comma, ",%s", inner) > 0)
		json = edit_array(e->json, "workers", comma, false);
	if (json)
		rc = faas_lease_from_json(json, lease, err, errlen);
	free(json);
	free(comma);
	free(inner);
	return rc;
}

/* Starts executors x and y with one token (a lease has one), as tags tx
 * and ty; 0, or -1 with why. */
static int start_pair(struct executor *x, const char *tx, struct executor *y, const char *ty,
		      const char *token, char *why, size_t whylen)
{
	int rc;

	setenv("FAAS_TOKEN", token, 1);
	rc = start(x, tx, 1, why, whylen);
	if (rc == 0)
		rc = start(y, ty, 1, why, whylen);
	unsetenv("FAAS_TOKEN");
	return rc;
}

/* A client whose big call timed out leaves while the executor still runs
 * it; the late reply must not hurt the executor or the next client (over
 * shm it once crashed the executor inside libfabric, and the next client
 * spun forever in the provider). */
static void departed_client_cases(void)
{
	static const char *const big_slots[] = {"--slot-size", "16777216", "--slots", "4",
						"--max-depth", "4",	   NULL};
	const size_t len = 8u << 20;
	struct faas_client_options o2 = options(CALL_TIMEOUT_MS, CONNECT_TIMEOUT_MS, 0);
	struct faas_client *c = NULL;
	struct executor x;
	uint8_t *in = malloc(len), *out = malloc(len);
	char why[256];
	size_t out_len = 0;
	int rc1 = -100, rc2 = -100, rc;

	start_extra = big_slots;
	rc = start(&x, "x", 1, why, sizeof(why));
	start_extra = NULL;
	if (rc != 0 || !in || !out) {
		check(false, "departed client: an executor with 16 MiB slots starts", "%s", why);
		goto out;
	}
	sleep_input(in, len, 300, 7);
	rc = connect_client(x.lease, 100, 0, &c);
	if (rc == FAAS_OK)
		rc1 = faas_invoke(c, fn.sleep_ms, in, len, out, len, &out_len);
	faas_client_destroy(c); /* leaves while the executor runs the call */
	c = NULL;
	sleep_ms(400); /* the late reply goes out to nobody */
	pattern(in, len, 8);
	rc = faas_client_create(x.lease, &o2, &c);
	if (rc == FAAS_OK)
		rc2 = faas_invoke(c, fn.echo, in, len, out, len, &out_len);
	check(rc1 == FAAS_ETIMEDOUT && rc2 == FAAS_OK && out_len == len &&
		  memcmp(in, out, len) == 0 && !reap(&x, 0),
	      "departed client: after a client left an 8 MiB call behind, the next client's "
	      "8 MiB echo returns its bytes and the executor lives",
	      "first call %s (%d), next %s (%d), %zu bytes, executor %s", faas_strerror(rc1), rc1,
	      faas_strerror(rc2), rc2, out_len, x.pid ? "alive" : "dead");
	faas_client_destroy(c);
out:
	stop(&x, STOP_TIMEOUT_MS);
	free(in);
	free(out);
}

/* SIGKILL, and back once the process has exited (its files closed, as
 * its peers see it): what a client takes to notice is timed from there,
 * not from the teardown of a big process on a loaded machine. */
static void kill_until_dead(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};

	kill(pid, SIGKILL);
	if (fd < 0) {
		sleep_ms(100);
		return;
	}
	if (poll(&p, 1, 30000) != 1)
		diag("process %ld not gone 30 s after SIGKILL", (long)pid);
	close(fd);
}

/* Drives the client (faas_test on the calls[0..n) not collected yet:
 * done[i] says which were, with their status and length) until it counts
 * want workers, for at most ms; returns how long that took, or -1. */
static double until_workers(struct faas_client *c, struct faas_call **calls, int n, bool *done,
			    int *rcs, size_t *lens, int want, double ms)
{
	double t0 = now_ms();

	while (faas_client_workers(c) != want) {
		int i = 0;

		if (now_ms() - t0 > ms)
			return -1;
		while (i < n && done[i])
			i++;
		if (i == n)
			return -1; /* nothing left to drive it with */
		rcs[i] = faas_test(c, calls[i], &lens[i]);
		done[i] = rcs[i] != FAAS_EINPROGRESS;
	}
	return now_ms() - t0;
}

/* A killed executor (kill -9: no goodbye, no eviction message) is found
 * by its clients within 100 ms: its calls move to the lease's other
 * executor; when none is left, calls fail with FAAS_EUNAVAIL at once. The
 * call timeout (20 s) is far from anything a dead worker could cost. */
static void dead_worker_cases(struct executor *g, struct executor *h)
{
	struct faas_client_options o = options(20000, 5000, 4);
	struct faas_lease *lease = NULL;
	struct faas_client *c = NULL;
	struct faas_call *calls[4], *last = NULL;
	uint8_t in[4][64], out[4][64];
	char err[256] = "";
	int rc, rcs[4] = {-100, -100, -100, -100}, rc_last = -100, rc_next = -100;
	bool done[4] = {false, false, false, false};
	size_t lens[4] = {0, 0, 0, 0};
	double found = -1, t0, el_last = -1;
	long retries = -1;
	size_t len;

	rc = join_leases(g, h, &lease, err, sizeof(err));
	if (rc == FAAS_OK)
		rc = faas_client_create(lease, &o, &c);
	if (rc != FAAS_OK || faas_client_workers(c) != 2) {
		check(false, "dead worker: a client connects to two executors", "%s (%d) %s",
		      faas_strerror(rc), rc, err);
		goto out;
	}
	/* round robin: calls 0 and 2 run on G, 1 and 3 on H */
	for (int i = 0; i < 4 && rc == FAAS_OK; i++) {
		sleep_input(in[i], sizeof(in[i]), 400, 80 + (unsigned)i);
		rc = faas_invoke_async(c, fn.sleep_ms, in[i], sizeof(in[i]), out[i], sizeof(out[i]),
				       &calls[i]);
	}
	if (rc == FAAS_OK) {
		sleep_ms(100);
		kill_until_dead(g->pid);
		found = until_workers(c, calls, 4, done, rcs, lens, 1, 5000);
		reap(g, STOP_TIMEOUT_MS);
		for (int i = 0; i < 4; i++) {
			if (!done[i])
				rcs[i] = faas_wait(c, calls[i], &lens[i]);
			if (rcs[i] == FAAS_OK &&
			    (lens[i] != sizeof(in[i]) || memcmp(in[i], out[i], lens[i])))
				rcs[i] = -101;
		}
		retries = faas_client_retries(c);
	}
	diag("dead worker: the client found the killed executor %.1f ms after it exited", found);
	check(found >= 0 && found <= 100 + SLACK_MS,
	      "dead worker: kill -9 of one executor is noticed within 100 ms (+ slack), not by "
	      "the 20 s call timeout",
	      "noticed after %.1f ms (-1: not within 5 s)", found);
	check(rcs[0] == FAAS_OK && rcs[1] == FAAS_OK && rcs[2] == FAAS_OK && rcs[3] == FAAS_OK &&
		  retries >= 2,
	      "dead worker: the calls that ran on it move to the other executor and return "
	      "their bytes",
	      "calls %d %d %d %d, %ld retries", rcs[0], rcs[1], rcs[2], rcs[3], retries);
	/* the last one */
	sleep_input(in[0], sizeof(in[0]), 400, 90);
	rc = faas_invoke_async(c, fn.sleep_ms, in[0], sizeof(in[0]), out[0], sizeof(out[0]), &last);
	if (rc == FAAS_OK) {
		sleep_ms(100);
		kill_until_dead(h->pid);
		t0 = now_ms();
		rc_last = faas_wait(c, last, &len);
		el_last = now_ms() - t0;
		reap(h, STOP_TIMEOUT_MS);
		rc_next = faas_invoke(c, fn.echo, "abc", 3, out[0], sizeof(out[0]), &len);
	}
	check(rc_last == FAAS_EUNAVAIL && el_last <= 100 + SLACK_MS && rc_next == FAAS_EUNAVAIL &&
		  faas_client_workers(c) == 0,
	      "dead worker: when the last executor is killed, its call fails with FAAS_EUNAVAIL "
	      "within 100 ms (+ slack) and so does the next",
	      "%s (%d) after %.1f ms, next %s (%d), %d workers", faas_strerror(rc_last), rc_last,
	      el_last, faas_strerror(rc_next), rc_next, faas_client_workers(c));
out:
	faas_client_destroy(c);
	faas_lease_destroy(lease);
}

/* Waits until the process is stopped (SIGSTOP is delivered asynchronously). */
static bool wait_stopped(pid_t pid, int timeout_ms)
{
	double deadline = now_ms() + timeout_ms;
	char path[64], *stat, *p;
	bool stopped = false;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	while (!stopped && now_ms() < deadline) {
		stat = read_file(path);
		p = stat ? strrchr(stat, ')') : NULL; /* "pid (comm) S ..." */
		stopped = p && (p[2] == 'T' || p[2] == 't');
		free(stat);
		if (!stopped)
			sleep_ms(5);
	}
	return stopped;
}

/* Every libfaas call is bounded by its timeout, whatever the executor does:
 * stopped (SIGSTOP: alive, silent) or killed in the middle of a handshake. */
static void stopped_executor_cases(struct executor *s)
{
	struct faas_client_options o = options(1000, 1000, 0);
	struct faas_client *c = NULL, *c2 = NULL;
	uint8_t out[64];
	size_t len;
	double t0, el_call = -1, el_destroy = -1, el_create = -1, el_gone = -1;
	int rc, rc_call = -100, rc_create = -100, rc_gone = -100, workers = -1;
	pid_t killer;

	o.connect_timeout_ms = 20000; /* the executor is not stopped yet */
	rc = faas_client_create(s->lease, &o, &c);
	o.connect_timeout_ms = 1000;
	if (rc != FAAS_OK) {
		check(false, "stopped executor: a client connects", "%s (%d)", faas_strerror(rc),
		      rc);
		return;
	}
	kill(s->pid, SIGSTOP);
	if (!wait_stopped(s->pid, 10000))
		diag("executor S did not show as stopped within 10 s");
	t0 = now_ms();
	rc_call = faas_invoke(c, fn.echo, "abc", 3, out, sizeof(out), &len);
	el_call = now_ms() - t0;
	workers = faas_client_workers(c);
	t0 = now_ms();
	faas_client_destroy(c);
	el_destroy = now_ms() - t0;
	t0 = now_ms();
	rc_create = faas_client_create(s->lease, &o, &c2);
	el_create = now_ms() - t0;
	faas_client_destroy(c2);
	c2 = NULL;
	check(rc_call == FAAS_ETIMEDOUT && el_call < 1000 + SLACK_MS && workers == 1,
	      "stopped executor: a call times out within its 1 s timeout (+ slack); a stopped "
	      "worker is not taken for dead",
	      "%s (%d) after %.0f ms, %d workers", faas_strerror(rc_call), rc_call, el_call,
	      workers);
	check(el_destroy < 200 + SLACK_MS,
	      "stopped executor: faas_client_destroy returns within 0.7 s", "it took %.0f ms",
	      el_destroy);
	check(rc_create == FAAS_EUNAVAIL && el_create < 1000 + SLACK_MS,
	      "stopped executor: faas_client_create fails with FAAS_EUNAVAIL within its 1 s "
	      "connect timeout (+ slack)",
	      "%s (%d) after %.0f ms", faas_strerror(rc_create), rc_create, el_create);
	/* gone in the middle of a handshake: killed while the client waits */
	fflush(stdout);
	killer = fork();
	if (killer == 0) {
		sleep_ms(300);
		kill(s->pid, SIGKILL);
		_exit(0);
	}
	o.connect_timeout_ms = 3000;
	t0 = now_ms();
	rc_gone = faas_client_create(s->lease, &o, &c2);
	el_gone = now_ms() - t0;
	faas_client_destroy(c2);
	if (killer > 0)
		waitpid(killer, NULL, 0);
	check(rc_gone == FAAS_EUNAVAIL && el_gone < 3000 + SLACK_MS,
	      "stopped executor: killed during a handshake -> FAAS_EUNAVAIL within the 3 s "
	      "connect timeout (+ slack)",
	      "%s (%d) after %.0f ms", faas_strerror(rc_gone), rc_gone, el_gone);
}

/* ---- main ----------------------------------------------------------------- */

/* The text inside the array "key":[...] of json (malloc'd), or NULL. */
static char *array_inner(const char *json, const char *key)
{
	char pat[64];
	const char *p, *end;
	int depth = 0;

	snprintf(pat, sizeof(pat), "\"%s\":[", key);
	p = strstr(json, pat);
	if (!p)
		return NULL;
	p += strlen(pat) - 1;
	for (end = p; *end; end++) {
		if (*end == '[')
			depth++;
		else if (*end == ']' && --depth == 0)
			break;
	}
	return *end ? strndup(p + 1, (size_t)(end - p - 1)) : NULL;
}

/* One lease over the workers of two executors (as the controller will make
 * them): when one executor is evicted, the calls queued on it move to the
 * other and complete there. */
static void joined_lease_cases(struct executor *e, struct executor *f)
{
	struct faas_client_options o = options(CALL_TIMEOUT_MS, CONNECT_TIMEOUT_MS, 4);
	struct faas_lease *lease = NULL;
	struct faas_client *c = NULL;
	struct faas_call *calls[3];
	uint8_t in[3][64], out[3][64];
	char err[256] = "";
	int rc, rcs[3] = {-100, -100, -100}, workers = -1;
	long retries = -1;
	size_t len;

	rc = join_leases(e, f, &lease, err, sizeof(err));
	if (rc == FAAS_OK)
		rc = faas_client_create(lease, &o, &c);
	check(rc == FAAS_OK && faas_client_workers(c) == 2,
	      "joined lease: one client connects to the workers of two executors", "%s (%d) %s",
	      faas_strerror(rc), rc, err);
	if (rc != FAAS_OK)
		goto out;
	/* round robin: call 0 runs on E, call 1 on F, call 2 waits on E */
	for (int i = 0; i < 3 && rc == FAAS_OK; i++) {
		sleep_input(in[i], sizeof(in[i]), 300, 60 + (unsigned)i);
		rc = faas_invoke_async(c, fn.sleep_ms, in[i], sizeof(in[i]), out[i], sizeof(out[i]),
				       &calls[i]);
	}
	if (rc == FAAS_OK) {
		sleep_ms(50);
		kill(e->pid, SIGTERM);
		for (int i = 0; i < 3; i++) {
			rcs[i] = faas_wait(c, calls[i], &len);
			if (rcs[i] == FAAS_OK &&
			    (len != sizeof(in[i]) || memcmp(in[i], out[i], len)))
				rcs[i] = -101;
		}
		retries = faas_client_retries(c);
		workers = faas_client_workers(c);
	}
	check(rc == FAAS_OK && rcs[0] == FAAS_OK && rcs[1] == FAAS_OK && rcs[2] == FAAS_OK &&
		  retries >= 1 && workers == 1,
	      "joined lease: SIGTERM to one executor: its queued call moves to the other and "
	      "every call returns its bytes",
	      "submit %s; calls %d %d %d; %ld retries; %d workers left", faas_strerror(rc), rcs[0],
	      rcs[1], rcs[2], retries, workers);
out:
	faas_client_destroy(c);
	faas_lease_destroy(lease);
}

static void cleanup_dir(void)
{
	DIR *d;
	struct dirent *de;
	char path[PATH_MAX + 256];

	if (!cfg.dir[0])
		return;
	d = opendir(cfg.dir);
	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", cfg.dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(cfg.dir);
}

static void pick_cpus(void)
{
	cpu_set_t set;

	cfg.ncpus = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int i = 0; i < CPU_SETSIZE && cfg.ncpus < 2; i++)
			if (CPU_ISSET(i, &set))
				cfg.cpus[cfg.ncpus++] = i;
	if (cfg.ncpus == 0)
		cfg.cpus[cfg.ncpus++] = 0;
}

/* ---- cases: payloads beyond the slot (up to 1 GiB) ------------------------ */

/* Bytes of the large cases: DATAPLANE_LARGE (like 1G; then they run
 * alone), else 4 MiB. */
static size_t large_size(void)
{
	const char *v = getenv("DATAPLANE_LARGE");
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return 4u << 20;
	n = strtoull(v, &end, 10);
	if (*end == 'G')
		n <<= 30;
	else if (*end == 'M')
		n <<= 20;
	else if (*end == 'K')
		n <<= 10;
	return n ? (size_t)n : 4u << 20;
}

/* Calls invert with len bytes (pattern seed) into out (out_cap); a
 * failure description, or NULL when the output is the inverted input. */
static const char *invert_check(struct faas_client *c, int id, const uint8_t *in, size_t len,
				uint8_t *out, size_t out_cap, char *why, size_t whylen)
{
	size_t out_len = 0, i;
	int rc;

	memset(out, 0xa5, out_cap);
	rc = faas_invoke(c, id, in, len, out, out_cap, &out_len);
	if (rc != FAAS_OK) {
		snprintf(why, whylen, "faas_invoke: %s (%d): %s", faas_strerror(rc), rc,
			 faas_last_error(c));
		return why;
	}
	if (out_len != len) {
		snprintf(why, whylen, "out_len %zu, expected %zu", out_len, len);
		return why;
	}
	for (i = 0; i < len && (uint8_t)(out[i] ^ in[i]) == 0xff; i++)
		;
	if (i < len) {
		snprintf(why, whylen, "byte %zu of %zu is 0x%02x, expected 0x%02x", i, len, out[i],
			 (uint8_t)~in[i]);
		return why;
	}
	return NULL;
}

/* A client that does not poll while the worker reads its large input:
 * over tcp;ofi_rxm nothing moves (the client's side of fi_read runs in its
 * own fi_cq_read), and after its stall bound the worker answers XFER, so
 * the call fails at once with a message that says what to do, instead of
 * leaving the client without a reply until its call timeout (the CI hang:
 * the worker dropped the client without a word). shm's CMA reads the
 * client's memory without it, so there the call may succeed. The worker
 * serves the next large call either way. */
#define RMA_STALL_PAST_MS 10000 /* faas-executor's transfer stall bound (5 s), and 5 s */
static void payload_stall_case(struct faas_client *c, int id, const uint8_t *in, uint8_t *out)
{
	const size_t len = 4u << 20;
	bool tcp = strncmp(cfg.provider, "tcp", 3) == 0;
	struct faas_call *call = NULL;
	char why[256], err[512] = "";
	const char *w = NULL;
	size_t out_len = 0;
	bool right;
	int rc;

	memset(out, 0, len);
	rc = faas_invoke_async(c, id, in, len, out, len, &call);
	if (rc == FAAS_OK) {
		sleep_ms(RMA_STALL_PAST_MS); /* no libfaas call meanwhile */
		rc = faas_wait(c, call, &out_len);
		snprintf(err, sizeof(err), "%s", faas_last_error(c));
	}
	right = rc == FAAS_OK && out_len == len && (uint8_t)(out[len - 1] ^ in[len - 1]) == 0xff;
	if (rc != FAAS_ETIMEDOUT)
		w = invert_check(c, id, in, len, out, len, why, sizeof(why));
	/* a worker that got no CPU for the stall bound may still be reading
	 * when the client polls again: then the call simply succeeds */
	if (tcp && right)
		diag("the stall was not reached: the worker was slower than %d ms",
		     RMA_STALL_PAST_MS);
	check(((rc == FAAS_ETRANSPORT && strstr(err, "stall")) || right) && !w,
	      "large payload: a client that does not poll while its input moves -> "
	      "FAAS_ETRANSPORT naming the stall (tcp; shm's CMA may finish it) instead of no "
	      "reply until the call timeout, and the worker serves the next large call",
	      "%s (%d): %s; next call: %s", faas_strerror(rc), rc, err,
	      rc == FAAS_ETIMEDOUT ? "not tried"
	      : w		   ? w
				   : "ok");
}

/* A client that exits while its large call's input moves: the worker
 * gives its staging back and serves the next large call. */
static void payload_dead_client_case(struct executor *x, struct faas_client *c, int id,
				     const char *self, const uint8_t *in, uint8_t *out, size_t len)
{
	char size[32], why[256], go[2];
	const char *argv[] = {
	    self, "--payload-child", x->lease_path, cfg.use_addr ? "127.0.0.1" : "-", size, NULL};
	const char *w = NULL;
	int pfd[2], status = -1;
	bool said = false, alive;
	pid_t pid = -1;

	snprintf(size, sizeof(size), "%zu", len);
	fflush(stdout);
	fflush(stderr);
	if (pipe(pfd) == 0) {
		pid = fork();
		if (pid == 0) {
			dup2(pfd[1], 1);
			execv(self, (char *const *)argv);
			_exit(127);
		}
		close(pfd[1]);
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};

		if (pid > 0 && poll(&p, 1, CONNECT_TIMEOUT_MS + SLACK_MS) == 1)
			said = read(pfd[0], go, 2) == 2;
		close(pfd[0]);
	}
	if (pid > 0) {
		status = wait_child(pid, CONNECT_TIMEOUT_MS + SLACK_MS);
		shm_cleanup(pid);
	}
	if (said)
		w = invert_check(c, id, in, len, out, len, why, sizeof(why));
	alive = !reap(x, 0);
	check(said && WIFEXITED(status) && WEXITSTATUS(status) == 0 && !w && alive,
	      "large payload: a client exits while its input moves -> the worker goes on and "
	      "serves the next large call",
	      "child %s (status 0x%x), next call: %s, executor %s",
	      said ? "started its call" : "did not start its call", (unsigned)status, w ? w : "ok",
	      alive ? "alive" : "dead");
	if (!alive || w)
		show_log(x);
}

/* An executor killed while a large call runs on it: the call runs again
 * on the lease's other executor and the caller gets the right output. */
static void payload_evict_case(const uint8_t *in, uint8_t *out, size_t len)
{
	struct faas_client_options o = options(LARGE_TIMEOUT_MS, CONNECT_TIMEOUT_MS, 1);
	struct faas_lease *lease = NULL;
	struct faas_client *c = NULL;
	struct faas_call *call;
	struct executor e = {0}, f = {0};
	uint8_t *input = malloc(len);
	char why[256] = "";
	size_t out_len = 0;
	long retries = -1;
	int rc, id = -1;

	rc = input ? start_pair(&e, "le", &f, "lf", "00112233445566778899aabbccddeeff", why,
				sizeof(why))
		   : -1;
	if (rc == 0)
		rc = join_leases(&e, &f, &lease, why, sizeof(why));
	if (rc == 0)
		rc = faas_client_create(lease, &o, &c);
	if (rc == 0)
		id = faas_function(c, "sleep_ms");
	if (rc == 0 && id >= 0) {
		/* round robin starts at worker 0, E's; sleep_ms echoes after 2 s */
		memcpy(input, in, len);
		sleep_input(input, 64, 2000, 71);
		memset(out, 0, len);
		rc = faas_invoke_async(c, id, input, len, out, len, &call);
		if (rc == 0) {
			sleep_ms(1000); /* E has read the input and sleeps */
			kill(e.pid, SIGKILL);
			rc = faas_wait(c, call, &out_len);
			retries = faas_client_retries(c);
		}
	}
	check(rc == FAAS_OK && out_len == len && memcmp(input, out, len) == 0 && retries >= 1,
	      "large payload: the executor killed mid-call -> the call runs again on the other "
	      "executor of the lease, with the right output",
	      "rc %s (%d) %s, out_len %zu of %zu, output %s, %ld retries", faas_strerror(rc), rc,
	      c ? faas_last_error(c) : why, out_len, len,
	      input && memcmp(input, out, len) == 0 ? "right" : "wrong", retries);
	faas_client_destroy(c);
	faas_lease_destroy(lease);
	stop(&e, 0);
	stop(&f, STOP_TIMEOUT_MS);
	free(input);
}

static void payload_cases(const char *self)
{
	static const char *const tiny_budget[] = {"--staging-max", "1M", NULL};
	const size_t len = large_size();
	uint8_t *in = malloc(len), *out = malloc(len);
	size_t inner;
	struct faas_client *c = NULL;
	struct executor x = {0}, m = {0};
	char why[512], err[256];
	const char *w;
	size_t out_len = 0;
	int rc, id = -1;
	bool send = cfg.rung && strcmp(cfg.rung, "send") == 0;

	if (!in || !out) {
		check(false, "large payload: buffers", "cannot allocate 2 x %zu bytes", len);
		goto out;
	}
	pattern(in, len, 5);
	rc = start(&x, "large", 1, why, sizeof(why));
	if (rc == 0)
		rc = connect_client(x.lease, LARGE_TIMEOUT_MS, 0, &c);
	if (rc == 0)
		id = faas_function(c, "invert");
	if (!check(rc == 0 && id >= 0, "large payload: an executor starts and a client connects",
		   "rc %d, invert %d, %s", rc, id, why))
		goto out;
	if (send) {
		/* no RMA on the send rung: a clear refusal */
		rc =
		    faas_invoke(c, id, in, faas_lease_max_payload(x.lease) + 1, out, len, &out_len);
		check(rc == FAAS_ETOOBIG && strstr(faas_last_error(c), "send rung"),
		      "large payload: the send rung refuses inputs beyond the slot "
		      "(FAAS_ETOOBIG, naming the rung)",
		      "%s (%d): %s", faas_strerror(rc), rc, faas_last_error(c));
		goto out;
	}
	w = invert_check(c, id, in, len, out, len, why, sizeof(why));
	check(!w,
	      "large payload: invert of DATAPLANE_LARGE bytes in and out (input read, output "
	      "written one-sided)",
	      "%zu bytes: %s", len, w ? w : "");
	if (w)
		show_log(&x);
	/* registered input, output inside a registered buffer, 4 MiB + 1 (or,
	 * when the buffers are 4 MiB, what fits at those offsets) */
	rc = faas_buffer_register(c, in, len);
	if (rc == FAAS_OK)
		rc = faas_buffer_register(c, out, len);
	inner = len >= (8u << 20) ? (4u << 20) + 1 : len - 8;
	w = rc ? faas_strerror(rc)
	       : invert_check(c, id, in + 1, inner, out + 3, inner, why, sizeof(why));
	check(!w && faas_buffer_unregister(c, in) == FAAS_OK &&
		  faas_buffer_unregister(c, out) == FAAS_OK,
	      "large payload: a call inside faas_buffer_register'd memory (unaligned), then "
	      "unregistered",
	      "%s", w ? w : "unregister failed");
	/* an output larger than out_cap (beyond the slot): the size needed */
	memset(out, 0xa5, len / 2);
	out_len = 0;
	rc = faas_invoke(c, id, in, len, out, len / 2, &out_len);
	check(rc == FAAS_EOUTSIZE && out_len == len && out[0] == 0xa5 && out[len / 2 - 1] == 0xa5,
	      "large payload: output larger than out_cap -> FAAS_EOUTSIZE with the size needed, "
	      "nothing written",
	      "%s (%d), out_len %zu (needed %zu), out[0] 0x%02x", faas_strerror(rc), rc, out_len,
	      len, out[0]);
	rc = faas_invoke(c, id, in, (size_t)FAAS_MAX_PAYLOAD + 1, out, len, &out_len);
	check(rc == FAAS_ETOOBIG,
	      "large payload: an input over FAAS_MAX_PAYLOAD -> FAAS_ETOOBIG before sending",
	      "%s (%d)", faas_strerror(rc), rc);
	if (len >= (4u << 20))
		payload_stall_case(c, id, in, out);
	payload_dead_client_case(&x, c, id, self, in, out, len);

	/* a lease whose staging budget cannot hold the call */
	start_extra = tiny_budget;
	rc = start(&m, "budget", 1, why, sizeof(why));
	start_extra = NULL;
	faas_client_destroy(c);
	c = NULL;
	if (rc == 0)
		rc = connect_client(m.lease, CALL_TIMEOUT_MS, 0, &c);
	if (rc == 0) {
		rc = faas_invoke(c, id, in, 2u << 20, out, 2u << 20, &out_len);
		snprintf(why, sizeof(why), "%s", faas_last_error(c));
		w = invert_check(c, id, in, 1000, out, 1000, err, sizeof(err));
	}
	check(rc == FAAS_ETOOBIG && strstr(why, "staging") && !w,
	      "large payload: beyond the lease's staging budget -> FAAS_ETOOBIG naming the "
	      "staging, and the worker goes on",
	      "%s (%d): %s; next call: %s", faas_strerror(rc), rc, why, w ? w : "ok");
	faas_client_destroy(c);
	c = NULL;
	stop(&m, STOP_TIMEOUT_MS);
	stop(&x, STOP_TIMEOUT_MS);
	payload_evict_case(in, out, len < (64u << 20) ? len : 64u << 20);
	(void)err;
out:
	faas_client_destroy(c);
	if (x.pid)
		stop(&x, STOP_TIMEOUT_MS);
	free(in);
	free(out);
}

int main(int argc, char **argv)
{
	static const char *const clear[] = {"FAAS_LEASE", "FAAS_TOKEN",	     "FAAS_PROVIDER",
					    "FAAS_ADDR",  "FAAS_TIMEOUT_MS", "FAAS_TRANSPORT_RUNG"};
	struct executor a = {0}, b = {0}, c = {0}, d = {0}, e = {0}, f = {0}, g = {0}, h = {0},
			s = {0};
	struct faas_client *client = NULL;
	char self[PATH_MAX], why[512];
	const char *tmp = getenv("TMPDIR");
	ssize_t n;
	size_t max;
	int rc;

	if (argc == 4 && strcmp(argv[1], "--disconnect-child") == 0)
		return disconnect_child(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "--payload-child") == 0)
		return payload_child(argv[2], argv[3], strtoul(argv[4], NULL, 10));
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: dataplane PROVIDER [writedata|write-notify|send]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(clear) / sizeof(clear[0]); i++)
		unsetenv(clear[i]);
	cfg.provider = argv[1];
	cfg.rung = argc == 3 ? argv[2] : NULL;
	cfg.use_addr = strncmp(cfg.provider, "shm", 3) != 0;
	cfg.exe = getenv("FAAS_EXECUTOR");
	cfg.lib = getenv("FAAS_FAULTS_LIB");
	if (!cfg.exe || !cfg.lib || access(cfg.exe, X_OK) != 0 || access(cfg.lib, R_OK) != 0) {
		printf("Bail out! set FAAS_EXECUTOR (%s) and FAAS_FAULTS_LIB (%s) to the built "
		       "faas-executor and faas_faults.so\n",
		       cfg.exe ? cfg.exe : "unset", cfg.lib ? cfg.lib : "unset");
		return 1;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		printf("Bail out! readlink /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	self[n] = '\0';
	snprintf(cfg.dir, sizeof(cfg.dir), "%s/coloc-dataplane-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(cfg.dir)) {
		printf("Bail out! mkdtemp %s: %s\n", cfg.dir, strerror(errno));
		return 1;
	}
	pick_cpus();
	setenv("FAULTS_FINI_DIR", cfg.dir, 1); /* faults.c's faas_worker_fini */
	signal(SIGALRM, watchdog);
	signal(SIGPIPE, SIG_IGN);
	alarm(getenv("DATAPLANE_LARGE") ? LARGE_WATCHDOG_S : WATCHDOG_S);

	rc = start(&a, "a", 1, why, sizeof(why));
	if (rc == 77) {
		printf("1..0 # SKIP libfabric provider \"%s\"%s%s is not available here "
		       "(faas-executor: no libfabric provider offers RDM endpoints)\n",
		       cfg.provider, cfg.rung ? " with rung " : "", cfg.rung ? cfg.rung : "");
		cleanup_dir();
		return 77;
	}
	diag("provider %s, rung %s, cpus %d%s%d", cfg.provider, cfg.rung ? cfg.rung : "auto",
	     cfg.cpus[0], cfg.ncpus > 1 ? "," : "", cfg.ncpus > 1 ? cfg.cpus[1] : -1);
	if (rc != 0) {
		check(false, "executor A starts and publishes its lease", "%s", why);
		goto out;
	}

	if (getenv("DATAPLANE_LARGE")) {
		/* the large-payload cases alone, at that size */
		payload_cases(self);
		goto out;
	}

	/* executor A: one worker */
	memory_case(&a);
	lease_cases(&a);
	bad_lease_cases(&a);
	max = faas_lease_max_payload(a.lease);
	rc = connect_client(a.lease, CALL_TIMEOUT_MS, 0, &client);
	why[0] = '\0';
	if (!check(rc == FAAS_OK && faas_client_workers(client) == 1 &&
		       lookup_functions(client, why, sizeof(why)),
		   "connect: faas_client_create connects to 1 worker and finds the functions",
		   "rc %s (%d), %d workers %s", faas_strerror(rc), rc,
		   client ? faas_client_workers(client) : -1, why)) {
		show_log(&a);
		goto out;
	}
	echo_cases(client, max);
	fill_cases(client);
	error_cases(&a, client, max);
	function_error_cases(client);
	token_cases(&a, client);
	disconnect_cases(&a, client, self);
	timeout_late_reply_cases(&a);
	faas_client_destroy(client);
	client = NULL;
	{
		pid_t pid = a.first_pid;

		stopping_cases(&a);
		fini_case(pid,
			  "faas_worker_fini ran in the worker's thread when executor A stopped");
	}

	/* executor B: two workers */
	rc = start(&b, "b", 2, why, sizeof(why));
	if (rc == 0) {
		hook_cases(&b);
		async_cases(&b);
		timeout_other_worker_cases(&b);
	} else
		check(false, "executor B (2 workers) starts", "%s", why);
	stop(&b, 300); /* a worker still sleeps */

	/* executors L, M, LE and LF: payloads beyond the slot */
	payload_cases(self);

	/* executors E and F, one lease: E evicted while calls wait on it */
	rc = start_pair(&e, "e", &f, "f", "0123456789abcdef0123456789abcdef", why, sizeof(why));
	if (rc == 0)
		joined_lease_cases(&e, &f);
	else
		check(false, "executors E and F start", "%s", why);
	stop(&e, STOP_TIMEOUT_MS);
	stop(&f, STOP_TIMEOUT_MS);

	/* executor C: killed by a crashing function */
	rc = start(&c, "c", 1, why, sizeof(why));
	if (rc == 0)
		crash_cases(&c);
	else
		check(false, "executor C starts", "%s", why);

	/* executor D: stopped with SIGTERM while a call is in flight */
	rc = start(&d, "d", 1, why, sizeof(why));
	if (rc == 0)
		evict_cases(&d);
	else
		check(false, "executor D starts", "%s", why);

	init_fail_case();

	/* leases whose executor is gone */
	reap(&c, STOP_TIMEOUT_MS);
	reap(&d, STOP_TIMEOUT_MS);
	gone_case(&c,
		  "gone: a lease whose executor crashed -> FAAS_EUNAVAIL within 500 ms + slack");
	gone_case(&d,
		  "gone: a lease whose executor stopped -> FAAS_EUNAVAIL within 500 ms + slack");

	/* executors G and H, one lease: killed (SIGKILL) while calls run */
	rc = start_pair(&g, "g", &h, "h", "fedcba9876543210fedcba9876543210", why, sizeof(why));
	if (rc == 0)
		dead_worker_cases(&g, &h);
	else
		check(false, "executors G and H start", "%s", why);
	stop(&g, STOP_TIMEOUT_MS);
	stop(&h, STOP_TIMEOUT_MS);

	/* executor S: stopped (SIGSTOP), then killed during a handshake */
	rc = start(&s, "s", 1, why, sizeof(why));
	if (rc == 0)
		stopped_executor_cases(&s);
	else
		check(false, "executor S starts", "%s", why);
	stop(&s, STOP_TIMEOUT_MS);

	/* executor X: 16 MiB slots, a client leaves an 8 MiB call behind */
	departed_client_cases();

out:
	faas_client_destroy(client);
	stop(&a, STOP_TIMEOUT_MS);
	stop(&b, STOP_TIMEOUT_MS);
	stop(&c, STOP_TIMEOUT_MS);
	stop(&d, STOP_TIMEOUT_MS);
	if (getenv("DATAPLANE_KEEP"))
		diag("kept the executors' leases and logs in %s", cfg.dir);
	else
		cleanup_dir();
	printf("1..%d\n", tests_run);
	if (tests_failed)
		diag("%d of %d failed (provider %s, rung %s)", tests_failed, tests_run,
		     cfg.provider, cfg.rung ? cfg.rung : "auto");
	return tests_failed ? 1 : 0;
}
