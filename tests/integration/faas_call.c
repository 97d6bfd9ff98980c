/*
 * faas_call.c - faas-call, the integration tests' command-line client: calls
 * one function of a lease K times with an 8-byte little-endian payload and
 * says in one line whether every call succeeded, so that a shell test (e.g.
 * colocd.sh) can drive executors colocd started. Uses only <faas.h>.
 *
 *   faas-call [--lease FILE] --fn NAME [--u64 N] [--count K] [--timeout-ms T]
 *
 * The lease is FILE, else FAAS_LEASE (the document or the path of a file
 * holding it). Every wait is bounded by T milliseconds (default 5000): the
 * connection to the workers and each call. Prints
 *   faas-call: ok calls=K                        (stdout, exit 0)
 *   faas-call: error <faas_strerror> after J calls  (stderr, exit 1)
 * where J is the number of calls that succeeded before the failure (0 when
 * the lease, the connection or the function lookup failed; a line with the
 * details precedes the error line then). Usage errors exit 2.
 */
#include "config.h"

#include "cli.h"
#include "faas.h"

#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "faas-call"
#define DEFAULT_TIMEOUT_MS 5000
#define MAX_TIMEOUT_MS 3600000
#define MAX_COUNT 1000000000ULL

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--lease FILE] --fn NAME [--u64 N] [--count K] [--timeout-ms T]\n"
		"  --lease FILE      the lease document (default: FAAS_LEASE, the document or "
		"a file)\n"
		"  --fn NAME         the function of the lease's library to call\n"
		"  --u64 N           the payload: N as 8 bytes little-endian (default 0)\n"
		"  --count K         calls, one after the other, 1..%llu (default 1)\n"
		"  --timeout-ms T    bound on connecting and on each call, 1..%d ms "
		"(default %d)\n"
		"Prints \"" PROG ": ok calls=K\" and exits 0 when every call succeeded,\n"
		"else \"" PROG ": error MESSAGE after J calls\" and exits 1.\n",
		MAX_COUNT, MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS);
}

/* The setup failed: the details, then the result line. */
static int setup_failed(int rc, const char *what, const char *detail)
{
	fprintf(stderr, PROG ": %s: %s\n", what, detail && *detail ? detail : faas_strerror(rc));
	fprintf(stderr, PROG ": error %s after 0 calls\n", faas_strerror(rc));
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"lease", required_argument, NULL, 'l'},
	    {"fn", required_argument, NULL, 'f'},
	    {"u64", required_argument, NULL, 'u'},
	    {"count", required_argument, NULL, 'c'},
	    {"timeout-ms", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct faas_client_options opts = {0};
	struct faas_lease *lease = NULL;
	struct faas_client *client = NULL;
	const char *lease_file = NULL, *name = NULL;
	unsigned long long count = 1, done;
	uint64_t payload = 0;
	int timeout_ms = DEFAULT_TIMEOUT_MS, fn, opt, rc;
	unsigned char *out = NULL;
	size_t out_cap, out_len;
	char err[512] = "";

	/* as coloc's programs run (transport_env_defaults); libfaas leaves the
	 * environment alone */
	setenv("FI_SHM_DISABLE_CMA", "1", 0);
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			lease_file = optarg;
			break;
		case 'f':
			name = optarg;
			break;
		case 'u':
			payload = htole64(cli_number(PROG, "--u64", optarg, 0, UINT64_MAX));
			break;
		case 'c':
			count = cli_number(PROG, "--count", optarg, 1, MAX_COUNT);
			break;
		case 't':
			timeout_ms =
			    (int)cli_number(PROG, "--timeout-ms", optarg, 1, MAX_TIMEOUT_MS);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (!name || !*name) {
		fprintf(stderr, PROG ": --fn NAME is needed (a function of the lease's library)\n");
		return 2;
	}
	/* libfaas reads a lease file named by FAAS_LEASE. */
	if (lease_file && setenv("FAAS_LEASE", lease_file, 1) != 0) {
		fprintf(stderr, PROG ": --lease %s: %s\n", lease_file, strerror(errno));
		return 1;
	}
	rc = faas_lease_from_env(&lease, err, sizeof(err));
	if (rc)
		return setup_failed(rc, lease_file ? lease_file : "FAAS_LEASE", err);
	opts.timeout_ms = timeout_ms;
	opts.connect_timeout_ms = timeout_ms;
	rc = faas_client_create(lease, &opts, &client);
	if (rc) {
		snprintf(err, sizeof(err), "cannot connect to the workers of lease %s: %s",
			 faas_lease_id(lease), faas_strerror(rc));
		rc = setup_failed(rc, "connect", err);
		goto destroy_lease;
	}
	fn = faas_function(client, name);
	if (fn < 0) {
		snprintf(err, sizeof(err), "the lease's library has no function %s", name);
		rc = setup_failed(fn, "--fn", err);
		goto destroy_client;
	}
	/* Room for the largest output a worker's slot can carry. */
	out_cap = faas_lease_max_payload(lease);
	if (out_cap < sizeof(payload))
		out_cap = sizeof(payload);
	out = malloc(out_cap);
	if (!out) {
		rc = setup_failed(FAAS_ENOMEM, "output buffer", NULL);
		goto destroy_client;
	}
	for (done = 0; done < count; done++) {
		rc = faas_invoke(client, fn, &payload, sizeof(payload), out, out_cap, &out_len);
		if (rc) {
			fprintf(stderr, PROG ": error %s after %llu calls\n", faas_strerror(rc),
				done);
			rc = 1;
			goto free_out;
		}
	}
	printf(PROG ": ok calls=%llu\n", done);
	rc = fflush(stdout) == 0 ? 0 : 1;
free_out:
	free(out);
destroy_client:
	faas_client_destroy(client);
destroy_lease:
	faas_lease_destroy(lease);
	return rc;
}
