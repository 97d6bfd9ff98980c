/*
 * fuzz_userlimits: what faas-executor reads to give a lease owner the
 * resource limits of a login (common/userlimits.c): /proc/1/limits
 * (userlimits_parse_proc) and limits.conf files (userlimits_parse_conf),
 * for a user alice (uid 1000) in groups users (100, primary), wheel (10)
 * and one without a name (5000). The input is the limits text, a NUL, and
 * a limits.conf text.
 *
 * Properties: /proc's text is taken whole or refused with -EINVAL, a
 * message, and the limits unchanged; a limits.conf never fails (a bad line
 * is skipped, counted and described); every limit set has a source that
 * exists.
 */
#include "config.h"

#include "fuzz.h"

#include "userlimits.h"

#include <errno.h>

static const struct userlimits_group groups[] = {{100, "users"}, {10, "wheel"}, {5000, NULL}};
static const struct userlimits_who who = {"alice", 1000, 100, groups, 3};

static void check_sources(const struct userlimits *u)
{
	for (int r = 0; r < RLIMIT_NLIMITS; r++)
		FUZZ_CHECK(u->soft_src[r] <= USERLIMITS_USER && u->hard_src[r] <= USERLIMITS_USER,
			   "limit %d has sources %u/%u", r, u->soft_src[r], u->hard_src[r]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *conf = text + strlen(text);
	static struct userlimits u, before;
	char err[4096];
	int rc;

	if ((size_t)(conf - text) < size)
		conf++; /* past the NUL: the limits.conf */
	memset(&u, 0, sizeof(u));
	memcpy(&before, &u, sizeof(u));
	err[0] = '\0';
	rc = userlimits_parse_proc(text, &u, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL && err[0], "userlimits_parse_proc returned %d (%s)", rc,
			   err);
		FUZZ_CHECK(memcmp(&u, &before, sizeof(u)) == 0,
			   "a refused /proc text changed limits");
	}
	check_sources(&u);
	err[0] = '\0';
	rc = userlimits_parse_conf(conf, "limits.conf", &who, &u, err, sizeof(err));
	FUZZ_CHECK(rc >= 0, "userlimits_parse_conf returned %d", rc);
	FUZZ_CHECK(rc == 0 || err[0], "%d lines skipped without a word", rc);
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)), "an unterminated message");
	check_sources(&u);
	free(text);
	return 0;
}
