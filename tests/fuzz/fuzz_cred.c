/*
 * fuzz_cred: what colocd reads of a credential (common/cred.c): the
 * binding text of a MUNGE payload (cred_binding_parse, after munged
 * vouched for its sender) and a whole AuthType=none credential
 * (cred_decode, "none:UID:GID:" and the binding, taken from the network as
 * it comes). The first byte of the input picks which; the rest is the
 * text (it stops at the first NUL, as a message's string does).
 *
 * Properties: a refusal is -EPROTO (binding) or -EACCES (credential) with a
 * message; a binding that parses has a valid dest and is formatted
 * (cred_binding_format) into text that parses to the same binding, which
 * cred_binding_check finds equal to itself; an accepted credential is not
 * expired.
 */
#include "config.h"

#include "fuzz.h"

#include "cred.h"

#include <errno.h>
#include <time.h>

static void same(const struct cred_binding *a, const struct cred_binding *b)
{
	FUZZ_CHECK(strcmp(a->dest, b->dest) == 0 && a->reply == b->reply && a->time == b->time &&
		       memcmp(a->nonce, b->nonce, CRED_NONCE_LEN) == 0 &&
		       memcmp(a->digest, b->digest, CRED_DIGEST_LEN) == 0 &&
		       memcmp(a->reply_to, b->reply_to, CRED_NONCE_LEN) == 0,
		   "a round trip changes a binding to %s", a->dest);
}

static void binding(const char *text)
{
	struct cred_binding b, again;
	char out[CRED_TEXT_MAX], err[512] = "";
	int rc = cred_binding_parse(text, &b, err, sizeof(err));

	if (rc) {
		FUZZ_CHECK(rc == -EPROTO && err[0], "cred_binding_parse returned %d (%s)", rc, err);
		return;
	}
	FUZZ_CHECK(memchr(b.dest, '\0', sizeof(b.dest)) && b.dest[0], "an unterminated dest");
	rc = cred_binding_format(&b, out);
	FUZZ_CHECK(rc == 0, "an accepted binding does not format: %s", text);
	rc = cred_binding_parse(out, &again, err, sizeof(err));
	FUZZ_CHECK(rc == 0, "its format does not parse: %s (%s)", out, err);
	same(&b, &again);
	FUZZ_CHECK(cred_binding_check(&b, &again, err, sizeof(err)) == 0,
		   "a binding does not match itself: %s", err);
}

static void credential(const char *text)
{
	struct cred_opts o = {.none = true};
	struct cred_id who;
	char err[512] = "";
	int64_t now = (int64_t)time(NULL);
	int rc = cred_decode(&o, text, &who, err, sizeof(err));

	if (rc) {
		FUZZ_CHECK(rc == -EACCES && err[0], "cred_decode returned %d (%s)", rc, err);
		return;
	}
	FUZZ_CHECK(who.expires >= now && who.expires == who.b.time + CRED_TTL_S,
		   "an accepted credential expires at %lld (now %lld)", (long long)who.expires,
		   (long long)now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	text = fuzz_text(data + 1, size - 1);
	if (data[0] & 1)
		credential(text);
	else
		binding(text);
	free(text);
	return 0;
}
