/*
 * rmem_bench.c - faas-rmem-bench: a memory lease's reads and writes
 * (libfaas faas_rmem_read/faas_rmem_write from a registered buffer, to a
 * faas-executor --remote-mem it starts) against raw libfabric fi_read and
 * fi_write of the same size between two bare processes (raw_fabric.c,
 * onesided), in the same run. One JSON line per operation and size:
 *
 *   {"mode":"remote-mem","op":"read","provider":"shm","payload":8,
 *    "iterations":N,"median_us":..,"raw_median_us":..,"latency_ratio":..,
 *    "MBps":..,"raw_MBps":..,"bandwidth_ratio":..}
 *
 *   faas-rmem-bench [--provider P] [--sizes 8,4K,64K,...] [--iterations N]
 *                   [--executor-mode hot|warm] [--executor PATH]
 *
 * Bandwidth is the payload over the median access time (one access in
 * flight, as faas_rmem_read is synchronous). The memory executor is
 * stopped (SIGSTOP) while the baseline runs.
 */
#include "config.h"

#include "faas.h"

#include "cli.h"
#include "clock.h"
#include "raw_fabric.h"
#include "stats.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROG "faas-rmem-bench"
#define MAX_SIZES 32

static uint64_t median(uint64_t *v, unsigned n)
{
	qsort(v, n, sizeof(*v), stats_cmp_u64);
	return v[n / 2];
}

static pid_t executor_start(const char *exe, const char *provider, const char *mode, uint64_t size,
			    const char *doc)
{
	char sz[32];
	pid_t pid;

	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
	pid = fork();
	if (pid == 0) {
		char *argv[] = {
		    (char *)exe, "--remote-mem", sz,	       "--mode",	 (char *)mode,
		    "--publish", (char *)doc,	 "--provider", (char *)provider, NULL};

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(exe, argv);
		_exit(127);
	}
	return pid;
}

static int read_doc(const char *path, pid_t pid, struct faas_lease **lease)
{
	char err[256];

	for (int i = 0; i < 300; i++) { /* 30 s at most */
		FILE *f = fopen(path, "re");
		char buf[8192];
		size_t n = 0;

		if (f) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		if (n > 0 && buf[n - 1] == '\n') {
			buf[n] = '\0';
			if (faas_lease_from_json(buf, lease, err, sizeof(err)) == FAAS_OK)
				return 0;
			fprintf(stderr, PROG ": %s\n", err);
			return -1;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;
		usleep(100000);
	}
	fprintf(stderr, PROG ": the memory executor published no lease document\n");
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"provider", required_argument, NULL, 'p'},
	    {"sizes", required_argument, NULL, 's'},
	    {"iterations", required_argument, NULL, 'n'},
	    {"executor-mode", required_argument, NULL, 'm'},
	    {"executor", required_argument, NULL, 'e'},
	    {NULL, 0, NULL, 0},
	};
	const char *provider = "tcp;ofi_rxm", *mode = "hot", *exe = NULL;
	char sizes_arg[512] = "8,4K,64K,1M,16M,64M", docpath[] = "/tmp/faas-rmem-bench.XXXXXX";
	size_t sizes[MAX_SIZES], max = 0;
	unsigned nsizes = 0, iterations = 200;
	struct faas_lease *lease = NULL;
	struct faas_rmem *rm = NULL;
	uint64_t *samples;
	char *buf, *tok, *save = NULL;
	pid_t pid;
	int c, rc = 1, fd;

	exe = getenv("FAAS_EXECUTOR");
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			provider = optarg;
			break;
		case 's':
			snprintf(sizes_arg, sizeof(sizes_arg), "%s", optarg);
			break;
		case 'n':
			iterations = (unsigned)cli_number(PROG, "--iterations", optarg, 1, 1000000);
			break;
		case 'm':
			if (strcmp(optarg, "hot") && strcmp(optarg, "warm")) {
				fprintf(stderr, PROG ": --executor-mode: hot or warm\n");
				return 2;
			}
			mode = optarg;
			break;
		case 'e':
			exe = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: " PROG " [--provider P] [--sizes LIST] [--iterations "
				"N] [--executor-mode hot|warm] [--executor PATH]\n");
			return 2;
		}
	}
	if (!exe)
		exe = FAAS_EXECUTOR_PATH;
	for (tok = strtok_r(sizes_arg, ",", &save); tok && nsizes < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		sizes[nsizes] = (size_t)cli_size(PROG, "--sizes", tok, 1, 1ull << 30);
		if (sizes[nsizes] > max)
			max = sizes[nsizes];
		nsizes++;
	}
	samples = calloc(iterations, sizeof(*samples));
	buf = aligned_alloc(4096, (max + 4095) & ~(size_t)4095);
	fd = mkstemp(docpath);
	if (!samples || !buf || fd < 0) {
		fprintf(stderr, PROG ": out of memory or no temporary file\n");
		return 1;
	}
	close(fd);
	unlink(docpath);
	memset(buf, 0x11, max);
	pid = executor_start(exe, provider, mode, max < 4096 ? 4096 : max, docpath);
	if (pid < 0 || read_doc(docpath, pid, &lease) != 0)
		goto out;
	if (faas_rmem_open(lease, NULL, &rm) != FAAS_OK ||
	    faas_rmem_register(rm, buf, max) != FAAS_OK) {
		fprintf(stderr, PROG ": cannot open the memory lease\n");
		goto out;
	}
	for (unsigned s = 0; s < nsizes; s++) {
		for (int write = 0; write < 2; write++) {
			struct raw_params rp = {.provider = provider,
						.payload = sizes[s],
						.iterations = iterations,
						.warmup = iterations / 10 + 1,
						.onesided = write ? 2 : 1,
						.server_cpu = -1,
						.client_cpu = -1};
			struct raw_result rr;
			uint64_t med, raw_med;
			char err[256];

			for (unsigned i = 0; i < iterations + rp.warmup; i++) {
				int64_t t0 = clock_ns();
				int r = write ? faas_rmem_write(rm, 0, buf, sizes[s])
					      : faas_rmem_read(rm, 0, buf, sizes[s]);

				if (r) {
					fprintf(stderr, PROG ": %s: %s\n", write ? "write" : "read",
						faas_strerror(r));
					goto out;
				}
				if (i >= rp.warmup)
					samples[i - rp.warmup] = (uint64_t)(clock_ns() - t0);
			}
			med = median(samples, iterations);
			/* the memory executor may spin (--executor-mode hot): it
			 * must not take a core from the baseline */
			kill(pid, SIGSTOP);
			c = raw_fabric_run(&rp, &rr, err, sizeof(err));
			kill(pid, SIGCONT);
			if (c != 0) {
				fprintf(stderr, PROG ": raw libfabric: %s\n", err);
				goto out;
			}
			raw_med = median(rr.rtt_ns, iterations);
			free(rr.rtt_ns);
			printf("{\"mode\":\"remote-mem\",\"op\":\"%s\",\"provider\":\"%s\","
			       "\"executor_mode\":\"%s\",\"payload\":%zu,\"iterations\":%u,"
			       "\"median_us\":%.2f,\"raw_median_us\":%.2f,\"latency_ratio\":%.3f,"
			       "\"MBps\":%.1f,\"raw_MBps\":%.1f,\"bandwidth_ratio\":%.3f}\n",
			       write ? "write" : "read", faas_lease_provider(lease), mode, sizes[s],
			       iterations, med / 1e3, raw_med / 1e3, (double)med / (double)raw_med,
			       sizes[s] / (med / 1e3), sizes[s] / (raw_med / 1e3),
			       (double)raw_med / (double)med);
			fflush(stdout);
		}
	}
	rc = 0;
out:
	if (rm)
		faas_rmem_unregister(rm, buf);
	faas_rmem_close(rm);
	faas_lease_destroy(lease);
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	unlink(docpath);
	free(buf);
	free(samples);
	return rc;
}
