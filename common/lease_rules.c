/*
 * lease_rules: the checks of a lease request (see lease_rules.h). The
 * parsers of sizes and durations are coloc.conf's (config.c), so that
 * --mem and MemoryMargin, --time and DefaultLeaseTime accept the same
 * forms. No state.
 */
#include "config.h"

#include "lease_rules.h"
#include "coloc_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A memory lease: a region within the limits, and nothing of a compute
 * lease's. */
static int check_remote_mem(const struct lease_request *r, char *err, size_t errlen)
{
	if (r->remote_mem < LEASE_MIN_REMOTE_MEM || r->remote_mem > LEASE_MAX_REMOTE_MEM) {
		snprintf(err, errlen,
			 "remote_mem %" PRIu64 " bytes: a memory lease's region is %" PRIu64
			 " (" LEASE_MIN_REMOTE_MEM_TEXT ") to %" PRIu64
			 " bytes (" LEASE_MAX_REMOTE_MEM_TEXT "); ask for %s",
			 r->remote_mem, LEASE_MIN_REMOTE_MEM, LEASE_MAX_REMOTE_MEM,
			 r->remote_mem < LEASE_MIN_REMOTE_MEM ? "more" : "less");
		return -EINVAL;
	}
	if (r->workers || r->lib[0] || r->mem || r->gpus) {
		snprintf(err, errlen,
			 "a memory lease (remote_mem) has no workers, function library, memory "
			 "per worker or GPUs; ask for a compute lease separately");
		return -EINVAL;
	}
	return 0;
}

int lease_rules_check(const struct lease_request *r, char *err, size_t errlen)
{
	if (r->remote_mem) {
		int rc = check_remote_mem(r, err, errlen);

		if (rc)
			return rc;
		goto time;
	}
	if (r->workers < 1 || r->workers > LEASE_MAX_WORKERS) {
		snprintf(err, errlen,
			 "workers %" PRIu32 ": a lease has 1 to %d workers; ask for %s", r->workers,
			 LEASE_MAX_WORKERS, r->workers < 1 ? "at least one" : "fewer");
		return -EINVAL;
	}
	if (r->lib[0] != '/' || !memchr(r->lib, '\0', sizeof(r->lib))) {
		snprintf(err, errlen,
			 "lib \"%.100s\": the function library must be given by an absolute path "
			 "of at most %d bytes",
			 r->lib, LEASE_LIB_MAX - 1);
		return -EINVAL;
	}
	if (r->mem > LEASE_MAX_MEM) {
		snprintf(err, errlen,
			 "mem %" PRIu64 " bytes: a lease's workers have at most %" PRIu64
			 " bytes (" LEASE_MAX_MEM_TEXT ") each; ask for less, or 0 for the site "
			 "default",
			 r->mem, LEASE_MAX_MEM);
		return -EINVAL;
	}
	if (r->mem && r->mem < LEASE_MIN_MEM) {
		snprintf(err, errlen,
			 "mem %" PRIu64 " bytes: a worker needs at least %" PRIu64
			 " bytes (" LEASE_MIN_MEM_TEXT ") for its fabric endpoint and its slots, "
			 "plus what the function allocates; ask for more, or 0 for the site "
			 "default",
			 r->mem, LEASE_MIN_MEM);
		return -EINVAL;
	}
	if (r->gpus > LEASE_MAX_GPUS) {
		snprintf(err, errlen, "gpus %" PRIu32 ": a lease has 0 to %d GPUs; ask for fewer",
			 r->gpus, LEASE_MAX_GPUS);
		return -EINVAL;
	}
time:
	if (r->time < 1 || r->time > LEASE_MAX_TIME_S) {
		snprintf(err, errlen,
			 "time %" PRIu32 " s: a lease lasts 1 s to %d days (%" PRIu32
			 " s); ask for %s",
			 r->time, LEASE_MAX_DAYS, LEASE_MAX_TIME_S,
			 r->time < 1 ? "at least 1 s" : "a shorter time");
		return -EINVAL;
	}
	return 0;
}

int lease_rules_parse_time(const char *s, uint32_t *seconds)
{
	uint64_t ms;

	if (!s || config_parse_duration_ms(s, &ms, "min") != 0 || ms == 0 ||
	    ms > (uint64_t)LEASE_MAX_TIME_S * 1000)
		return -EINVAL;
	*seconds = (uint32_t)((ms + 999) / 1000);
	return 0;
}

int lease_rules_parse_mem(const char *s, uint64_t *bytes)
{
	uint64_t v;

	if (!s || config_parse_size(s, &v) != 0 || v < LEASE_MIN_MEM || v > LEASE_MAX_MEM)
		return -EINVAL;
	*bytes = v;
	return 0;
}

int lease_rules_parse_remote_mem(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	uint64_t v;

	if (!s || config_parse_size(s, &v) != 0) {
		snprintf(err, errlen, "\"%.64s\" is not a size: give %s", s ? s : "",
			 LEASE_ACCEPT_REMOTE_MEM);
		return -EINVAL;
	}
	if (v < LEASE_MIN_REMOTE_MEM || v > LEASE_MAX_REMOTE_MEM) {
		snprintf(err, errlen, "%.64s is too %s: give %s", s,
			 v < LEASE_MIN_REMOTE_MEM ? "small" : "large", LEASE_ACCEPT_REMOTE_MEM);
		return -EINVAL;
	}
	*bytes = v;
	return 0;
}
