/*
 * fuzz_spare: the assignment a spare faas-executor reads on its standard
 * input (common/spare.c, spare_decode): "coloc-spare 1", uid, gid, argc,
 * argv, envc, envp, each NUL-terminated. The input is what the pipe gave.
 *
 * Properties: a refusal is -EINVAL with a message; an accepted assignment
 * never names root, has 1..SPARE_ARGS_MAX arguments and at most as many
 * environment entries, all non-empty and inside the buffer, NULL-terminated
 * lists; and spare_encode writes it back into an assignment that decodes
 * to the same values.
 */
#include "config.h"

#include "fuzz.h"

#include "spare.h"

#include <errno.h>

static void check_list(char *const *list, unsigned n, const char *buf, size_t len)
{
	FUZZ_CHECK(n <= SPARE_ARGS_MAX && list[n] == NULL, "a list of %u entries", n);
	for (unsigned i = 0; i < n; i++) {
		FUZZ_CHECK(list[i] >= buf && list[i] < buf + len && list[i][0],
			   "entry %u outside the buffer or empty", i);
		FUZZ_CHECK(memchr(list[i], '\0', (size_t)(buf + len - list[i])),
			   "entry %u runs past the buffer", i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spare_assignment a, b;
	char *buf = (char *)fuzz_copy(data, size), *out = NULL, err[256];
	long len;
	int rc;

	err[0] = '\0';
	rc = spare_decode(buf, size, &a, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL, "spare_decode returned %d", rc);
		FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof(err)), "a refusal without a message");
		goto out;
	}
	FUZZ_CHECK(a.uid != 0, "root accepted as the owner");
	FUZZ_CHECK(a.argc >= 1, "no arguments accepted");
	check_list(a.argv, a.argc, buf, size);
	check_list(a.envp, a.envc, buf, size);
	out = malloc(SPARE_MSG_MAX);
	if (!out)
		abort();
	len = spare_encode(a.uid, a.gid, a.argv, a.envp, out, SPARE_MSG_MAX);
	FUZZ_CHECK(len > 0 && (size_t)len <= size, "an accepted assignment encodes as %ld", len);
	rc = spare_decode(out, (size_t)len, &b, err, sizeof(err));
	FUZZ_CHECK(rc == 0, "its encoding does not decode: %s", err);
	FUZZ_CHECK(a.uid == b.uid && a.gid == b.gid && a.argc == b.argc && a.envc == b.envc,
		   "a round trip changes the owner or the counts");
	for (unsigned i = 0; i < a.argc; i++)
		FUZZ_CHECK(strcmp(a.argv[i], b.argv[i]) == 0, "a round trip changes argument %u",
			   i);
	for (unsigned i = 0; i < a.envc; i++)
		FUZZ_CHECK(strcmp(a.envp[i], b.envp[i]) == 0, "a round trip changes entry %u", i);
out:
	free(out);
	free(buf);
	return 0;
}
