/*
 * colocd-bench: cold start and reclaim of colocd --standalone, measured on
 * real executors in real cgroups (run as root from the build tree; prints
 * one JSON object).
 *   cold start: lease_acquire sent -> grant -> client connected -> first
 *               invocation (noop) complete
 *   reclaim:    a host job's report on the lent PUs sent -> colocd's answer,
 *               which comes once the executor is gone and its cgroup removed
 *   baseline:   starting faas-executor --help and waiting for it to exit: the
 *               cost of starting any program that links this libfabric (its
 *               providers' libraries run constructors at load time), which
 *               every cold start pays
 *   --client:   cold start as a user sees it instead: a process running as
 *               nobody calls faas_lease_acquire, faas_client_create, one
 *               faas_invoke (noop) and faas_lease_release, N times back to
 *               back (cold start: acquire called -> the reply; cycle: to the
 *               release's return; acquired, client_created: the first
 *               two steps' ends), then a burst of --burst B such cycles at
 *               once from B threads (a job array starting)
 * Usage: colocd-bench --colocd PATH --executor PATH --lib PATH
 *                     [--iterations N] [--grace-ms MS] [--spares N]
 *                     [--interval-ms MS] [--client [--burst B]] [--json]
 */
#include "config.h"

#include "auth.h"
#include "clock.h"
#include "stats.h"
#include "faas.h"
#include "transport.h"
#include "frame.h"
#include "msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64], sock_path[96];
static int port;

/* One request to colocd (TCP, or the unix socket when local). */
static int request(bool local, const struct msg *req, struct msg *reply)
{
	char *text = NULL, *answer = NULL, err[256];
	size_t len;
	int fd, rc;

	fd = socket(local ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (local) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
		rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (rc == 0)
		rc = msg_encode(req, &text);
	if (rc == 0)
		rc = frame_send(fd, text, strlen(text), 5000);
	if (rc == 0)
		rc = frame_recv(fd, &answer, &len, 30000);
	if (rc == 0)
		rc = msg_decode(answer, reply, err, sizeof(err));
	close(fd);
	free(text);
	free(answer);
	return rc;
}

/* An AuthType=none credential claiming uid, bound to req and the
 * controller (colocd runs with AuthType=none on 127.0.0.1 here). */
static int sign(uid_t uid, struct msg *req)
{
	struct cred_opts as = {.none = true, .claim = true, .uid = uid, .gid = uid};
	char err[256];

	if (auth_sign(&as, req, AUTH_DEST_CONTROLLER, NULL, NULL, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "colocd-bench: %s\n", err);
	return -1;
}

static int acquire(uid_t uid, const char *lib, struct msg *grant)
{
	struct msg req = {.type = MSG_LEASE_ACQUIRE};

	req.u.acquire.workers = 1;
	snprintf(req.u.acquire.lib, sizeof(req.u.acquire.lib), "%s", lib);
	req.u.acquire.time = 600;
	grant->type = MSG_OK;
	if (sign(uid, &req) != 0 || request(false, &req, grant) != 0 ||
	    grant->type != MSG_LEASE_GRANT) {
		fprintf(stderr, "colocd-bench: lease_acquire failed: %s\n",
			grant->type == MSG_ERROR ? grant->u.error.message : "no answer");
		return -1;
	}
	return 0;
}

static void release(uid_t uid, const char *id)
{
	struct msg req = {.type = MSG_LEASE_RELEASE}, reply;

	snprintf(req.u.release.id, sizeof(req.u.release.id), "%s", id);
	if (sign(uid, &req) == 0 && request(false, &req, &reply) == 0)
		msg_free(&reply);
}

static pid_t start_colocd(const char *colocd, const char *executor, unsigned grace_ms,
			  unsigned spares)
{
	char conf[128];
	FILE *f;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/coloc.conf", dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f,
		"ControllerHost=127.0.0.1\nControllerPort=%d\nSocketPath=%s\nStateDir=%s/state\n"
		"CgroupRoot=coloc-bench-%ld\nAuthType=none\nMaxLendFraction=1\nEvictGrace=%ums\n"
		"MemoryMargin=256M\nProvider=tcp;ofi_rxm\nSpareExecutors=%u\n",
		port, sock_path, dir, (long)getpid(), grace_ms, spares);
	fclose(f);
	pid = fork();
	if (pid == 0) {
		setenv("FAAS_ADDR", "127.0.0.1", 1);
		execl(colocd, colocd, "--standalone", "--foreground", "-f", conf, "--executor",
		      executor, "--log-level", "warning", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct stat st;

		if (stat(sock_path, &st) == 0)
			return pid;
		usleep(10000);
	}
	kill(pid, SIGTERM);
	return -1;
}

/* Median time to run executor --help to its exit. */
static uint64_t baseline_ns(const char *executor)
{
	uint64_t t[5];

	for (int i = 0; i < 5; i++) {
		uint64_t t0 = (uint64_t)clock_ns();
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 1);
			execl(executor, executor, "--help", (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		t[i] = (uint64_t)clock_ns() - t0;
	}
	qsort(t, 5, sizeof(t[0]), stats_cmp_u64);
	return t[2];
}

/* ---- --client: faas_lease_acquire .. faas_lease_release, as nobody ------ */

struct cycle {
	const char *lib, *conf;
	uint64_t acquire_ns, create_ns, cold_ns, cycle_ns; /* from acquire called */
	int rc;						   /* FAAS_OK or the first error */
	char err[256];
	pthread_barrier_t *start;
};

/* One lease's life as a user program lives it. */
static void *cycle_run(void *arg)
{
	struct cycle *c = arg;
	struct faas_lease_request req = {
	    .workers = 1, .lib = c->lib, .minutes = 10, .conf = c->conf};
	struct faas_lease *lease = NULL;
	struct faas_client *client = NULL;
	uint64_t t0;
	int fn = -1;

	if (c->start)
		pthread_barrier_wait(c->start);
	c->err[0] = '\0';
	t0 = (uint64_t)clock_ns();
	c->rc = faas_lease_acquire(&req, &lease, c->err, sizeof(c->err));
	c->acquire_ns = (uint64_t)clock_ns() - t0;
	if (c->rc == FAAS_OK)
		c->rc = faas_client_create(lease, NULL, &client);
	c->create_ns = (uint64_t)clock_ns() - t0;
	if (c->rc == FAAS_OK)
		c->rc = fn = faas_function(client, "noop");
	if (c->rc >= 0)
		c->rc = faas_invoke(client, fn, NULL, 0, NULL, 0, NULL);
	c->cold_ns = (uint64_t)clock_ns() - t0;
	faas_client_destroy(client);
	if (lease) {
		char err[256];
		int rc = faas_lease_release(lease, err, sizeof(err));

		if (c->rc == FAAS_OK && rc != FAAS_OK) {
			c->rc = rc;
			snprintf(c->err, sizeof(c->err), "%s", err);
		}
	}
	c->cycle_ns = (uint64_t)clock_ns() - t0;
	return NULL;
}

static void print_ms(const char *key, uint64_t *v, unsigned n, bool last)
{
	qsort(v, n, sizeof(*v), stats_cmp_u64);
	printf("\"%s_median_ns\":%llu,\"%s_p99_ns\":%llu,\"%s_max_ns\":%llu%s", key,
	       (unsigned long long)v[n / 2], key, (unsigned long long)v[stats_rank(n, 0.99)], key,
	       (unsigned long long)v[n - 1], last ? "" : ",");
}

/* The child's part of --client: runs as nobody, prints one JSON object.
 * Returns the exit status. */
static int client_bench(const char *lib, unsigned iterations, unsigned burst, unsigned spares)
{
	char conf[128];
	uint64_t *cold = calloc(iterations + burst, sizeof(*cold));
	uint64_t *cycle = calloc(iterations + burst, sizeof(*cycle));
	uint64_t *acq = calloc(iterations, sizeof(*acq)),
		 *create = calloc(iterations, sizeof(*create));
	struct cycle *b = calloc(burst, sizeof(*b));
	pthread_t *th = calloc(burst, sizeof(*th));
	pthread_barrier_t start;
	unsigned ok = 0;
	int rc = 1;

	snprintf(conf, sizeof(conf), "%s/coloc.conf", dir);
	if (!cold || !cycle || !b || !th || !acq || !create)
		goto out;
	for (unsigned i = 0; i < iterations; i++) {
		struct cycle c = {.lib = lib, .conf = conf};

		cycle_run(&c);
		if (c.rc != FAAS_OK) {
			fprintf(stderr, "colocd-bench: --client: cycle %u failed: %s (%s)\n", i,
				faas_strerror(c.rc), c.err);
			goto out;
		}
		cold[i] = c.cold_ns;
		cycle[i] = c.cycle_ns;
		acq[i] = c.acquire_ns;
		create[i] = c.create_ns;
	}
	pthread_barrier_init(&start, NULL, burst);
	for (unsigned i = 0; i < burst; i++) {
		b[i] = (struct cycle){.lib = lib, .conf = conf, .start = &start};
		if (pthread_create(&th[i], NULL, cycle_run, &b[i]) != 0) {
			fprintf(stderr, "colocd-bench: --client: cannot start thread %u\n", i);
			exit(1); /* the others wait on the barrier forever */
		}
	}
	for (unsigned i = 0; i < burst; i++) {
		pthread_join(th[i], NULL);
		if (b[i].rc == FAAS_OK) {
			cold[iterations + ok] = b[i].cold_ns;
			cycle[iterations + ok++] = b[i].cycle_ns;
		} else {
			fprintf(stderr, "colocd-bench: --client: burst lease %u failed: %s (%s)\n",
				i, faas_strerror(b[i].rc), b[i].err);
		}
	}
	pthread_barrier_destroy(&start);
	printf("{\"bench\":\"colocd-client\",\"iterations\":%u,\"spare_executors\":%u,", iterations,
	       spares);
	print_ms("cold_start", cold, iterations, false);
	print_ms("cycle", cycle, iterations, false);
	print_ms("acquired", acq, iterations, false);
	print_ms("client_created", create, iterations, false);
	printf("\"burst\":%u,\"burst_ok\":%u", burst, ok);
	if (ok) {
		printf(",");
		print_ms("burst_cold_start", cold + iterations, ok, true);
	}
	printf("}\n");
	rc = ok == burst ? 0 : 1;
out:
	free(cold);
	free(cycle);
	free(acq);
	free(create);
	free(b);
	free(th);
	return rc;
}

/* Runs client_bench in a child as nobody (the controller never grants
 * root a lease). */
static int client_child(const struct passwd *pw, const char *lib, unsigned iterations,
			unsigned burst, unsigned spares)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return 1;
	if (pid == 0) {
		fflush(stdout);
		if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
			fprintf(stderr, "colocd-bench: cannot become %s\n", pw->pw_name);
			_exit(1);
		}
		status = client_bench(lib, iterations, burst, spares);
		fflush(stdout);
		_exit(status);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
	const char *colocd = NULL, *executor = NULL, *lib = NULL;
	unsigned iterations = 20, grace_ms = 10, spares = 1, interval_ms = 500, burst = 8;
	int json = 0, client = 0, status, rc = 1;
	uint64_t *cold, *reclaim;
	struct passwd *pw = getpwnam("nobody");
	pid_t pid;

	/* as coloc's programs run (FI_SHM_DISABLE_CMA, rxm's buffer sizes);
	 * libfaas leaves the environment alone, and faas(3) tells clients
	 * what they may set */
	transport_env_defaults(NULL);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--colocd") && i + 1 < argc)
			colocd = argv[++i];
		else if (!strcmp(argv[i], "--executor") && i + 1 < argc)
			executor = argv[++i];
		else if (!strcmp(argv[i], "--lib") && i + 1 < argc)
			lib = argv[++i];
		else if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
			iterations = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--grace-ms") && i + 1 < argc)
			grace_ms = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--spares") && i + 1 < argc)
			spares = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--interval-ms") && i + 1 < argc)
			interval_ms = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--client"))
			client = 1;
		else if (!strcmp(argv[i], "--burst") && i + 1 < argc)
			burst = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else {
			fprintf(stderr,
				"usage: colocd-bench --colocd PATH --executor PATH --lib "
				"PATH [--iterations N] [--grace-ms MS] [--spares N]\n"
				"       [--interval-ms MS] [--client [--burst B]] [--json]\n");
			return 2;
		}
	}
	if (!colocd || !executor || !lib || iterations < 1 || iterations > 10000 || spares > 16 ||
	    interval_ms > 60000 || burst < 1 || burst > 256 || !pw) {
		fprintf(stderr, "colocd-bench: --colocd, --executor and --lib are required "
				"(iterations 1..10000, spares 0..16, interval 0..60000 ms, burst "
				"1..256; a user nobody must exist)\n");
		return 2;
	}
	if (getuid() != 0) {
		fprintf(stderr, "colocd-bench: colocd places executors in cgroups: run as root\n");
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/colocd-bench.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	chmod(dir, 0755);
	snprintf(sock_path, sizeof(sock_path), "%s/colocd.sock", dir);
	port = 21000 + getpid() % 20000;
	signal(SIGPIPE, SIG_IGN);
	cold = calloc(iterations, sizeof(*cold));
	reclaim = calloc(iterations, sizeof(*reclaim));
	pid = start_colocd(colocd, executor, grace_ms, spares);
	if (pid < 0 || !cold || !reclaim) {
		fprintf(stderr, "colocd-bench: colocd did not start\n");
		goto out;
	}
	if (client) {
		rc = client_child(pw, lib, iterations, burst, spares);
		goto stop;
	}
	for (unsigned i = 0; i < iterations; i++) {
		struct msg grant, ok;
		struct faas_lease *lease = NULL;
		struct faas_client *c = NULL;
		uint64_t t0;
		int fn, frc;

		/* leases do not come back to back: time for a spare to start */
		usleep(interval_ms * 1000);
		t0 = (uint64_t)clock_ns();

		if (acquire(pw->pw_uid, lib, &grant))
			goto stop;
		if ((frc = faas_lease_from_json(grant.u.grant.lease, &lease, NULL, 0)) != FAAS_OK ||
		    (frc = faas_client_create(lease, NULL, &c)) != FAAS_OK ||
		    (frc = fn = faas_function(c, "noop")) < 0 ||
		    (frc = faas_invoke(c, fn, NULL, 0, NULL, 0, NULL)) != FAAS_OK) {
			fprintf(stderr, "colocd-bench: the first invocation failed: %s\n",
				faas_strerror(frc));
			goto stop;
		}
		cold[i] = (uint64_t)clock_ns() - t0;
		faas_client_destroy(c);
		faas_lease_destroy(lease);

		/* a host job allocated onto every PU: the lease must go */
		struct msg job = {.type = MSG_JOB_START}, end = {.type = MSG_JOB_END};
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		job.u.job_start.job = 1000 + i;
		job.u.job_start.uid = 1000;
		snprintf(job.u.job_start.pus, sizeof(job.u.job_start.pus), "0-%ld", ncpu - 1);
		t0 = (uint64_t)clock_ns();
		if (request(true, &job, &ok) != 0 || ok.type != MSG_OK) {
			fprintf(stderr, "colocd-bench: the host job report failed\n");
			msg_free(&grant);
			goto stop;
		}
		reclaim[i] = (uint64_t)clock_ns() - t0;
		end.u.job_end = 1000 + i;
		request(true, &end, &ok);
		release(pw->pw_uid, grant.u.grant.id); /* already gone: ENOENT is fine */
		msg_free(&grant);
	}
	uint64_t base = baseline_ns(executor);

	qsort(cold, iterations, sizeof(*cold), stats_cmp_u64);
	qsort(reclaim, iterations, sizeof(*reclaim), stats_cmp_u64);
	size_t p99 = stats_rank(iterations, 0.99);
	if (json)
		printf("{\"bench\":\"colocd\",\"iterations\":%u,\"evict_grace_ms\":%u,"
		       "\"spare_executors\":%u,\"interval_ms\":%u,"
		       "\"cold_start_median_ns\":%llu,\"cold_start_p99_ns\":%llu,"
		       "\"process_start_ns\":%llu,\"cold_start_over_process_start_ns\":%lld,"
		       "\"reclaim_median_ns\":%llu,\"reclaim_p99_ns\":%llu}\n",
		       iterations, grace_ms, spares, interval_ms,
		       (unsigned long long)cold[iterations / 2], (unsigned long long)cold[p99],
		       (unsigned long long)base, (long long)cold[iterations / 2] - (long long)base,
		       (unsigned long long)reclaim[iterations / 2],
		       (unsigned long long)reclaim[p99]);
	else
		printf(
		    "cold start: median %.2f ms, p99 %.2f ms (starting the executor binary alone: "
		    "%.2f ms); reclaim: median %.2f ms, p99 %.2f ms (%u iterations, EvictGrace %u "
		    "ms)\n",
		    cold[iterations / 2] / 1e6, cold[p99] / 1e6, base / 1e6,
		    reclaim[iterations / 2] / 1e6, reclaim[p99] / 1e6, iterations, grace_ms);
	rc = 0;
stop:
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
out:
	free(cold);
	free(reclaim);
	{
		char cmd[128];
		/* the state directory the run left; colocd removed the leases */
		snprintf(cmd, sizeof(cmd), "%s/coloc.conf", dir);
		unlink(cmd);
		snprintf(cmd, sizeof(cmd), "%s/state/leases", dir);
		rmdir(cmd);
		snprintf(cmd, sizeof(cmd), "%s/state", dir);
		rmdir(cmd);
		rmdir(dir);
		/* the (empty) CgroupRoot the run's colocd made, in every hierarchy */
		static const char *const hier[] = {"cpuset/", "memory/", "devices/", ""};
		for (size_t h = 0; h < sizeof(hier) / sizeof(hier[0]); h++) {
			snprintf(cmd, sizeof(cmd), "/sys/fs/cgroup/%scoloc-bench-%ld", hier[h],
				 (long)getpid());
			rmdir(cmd);
		}
	}
	return rc;
}
