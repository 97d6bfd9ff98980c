/*
 * fuzz_msg: control messages as colocd, colocctl and the plugin decode
 * them (common/msg.c, msg_decode). The input is a frame's text (frames
 * carry no NUL: the text stops at the first one).
 *
 * Properties: a refusal is -EPROTO with a message; a message that decodes
 * encodes again (msg_encode), and that encoding decodes to a message that
 * encodes to the same text (a daemon forwards what it decoded: a grant's
 * lease document, a result's items); the digest msg_decode gives (what the
 * sender's credential must be bound to) is msg_digest of the decoded
 * message, whatever the encoding it came in (a result, which carries no
 * credential, has none: all zeros). The direct reader of results answers
 * as the JSON library's decoder (msg_decode_json) does: the same code,
 * error message and rows; a result is written (msg_encode, directly) as
 * the JSON library writes it (msg_encode_json), unless a string is not
 * UTF-8 (then only the direct writer writes it, and what it wrote decodes).
 */
#include "config.h"

#include "fuzz.h"

#include "msg.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *again = NULL, *third = NULL, err[512];
	uint8_t digest[MSG_DIGEST_LEN];
	static struct msg m, m2; /* large: not on the stack */
	int rc;

	char ref_err[512];
	int ref_rc;

	err[0] = ref_err[0] = '\0';
	ref_rc = msg_decode_json(text, &m2, ref_err, sizeof(ref_err));
	rc = msg_decode(text, &m, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -ENOMEM, "msg_decode returned %d", rc);
	FUZZ_CHECK(rc == ref_rc && strcmp(err, ref_err) == 0,
		   "msg_decode says %d (%s), the JSON library's decoder %d (%s)", rc, err, ref_rc,
		   ref_err);
	if (rc == 0 && m.type == MSG_RESULT) {
		FUZZ_CHECK(m2.type == MSG_RESULT && m2.u.result.what == m.u.result.what &&
			       m2.u.result.next == m.u.result.next &&
			       m2.u.result.nrows == m.u.result.nrows &&
			       (!m.u.result.nrows ||
				memcmp(m.u.result.rows, m2.u.result.rows,
				       m.u.result.nrows * sizeof(union msg_row)) == 0),
			   "the direct reader read other rows than the JSON library's");
		rc = msg_encode_json(&m, &again);
		FUZZ_CHECK(rc == 0, "a decoded result does not encode through the JSON library");
		rc = msg_encode(&m, &third);
		FUZZ_CHECK(rc == 0 && strcmp(again, third) == 0,
			   "the page writer writes %s, the JSON library %s",
			   third ? third : "nothing", again);
		free(again);
		free(third);
		again = third = NULL;
	}
	msg_free(&m2);
	if (rc) {
		FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof(err)), "a refusal without a message");
		goto out;
	}
	(void)msg_type_name(m.type);
	rc = msg_digest(&m, digest);
	if (m.type == MSG_RESULT)
		memset(digest, 0, sizeof(digest));
	FUZZ_CHECK(rc == 0 && memcmp(digest, m.digest, MSG_DIGEST_LEN) == 0,
		   "msg_decode's digest is not msg_digest of the %s it decoded (%d)",
		   msg_type_name(m.type), rc);
	rc = msg_encode(&m, &again);
	FUZZ_CHECK(rc == 0, "a decoded %s does not encode (%d)", msg_type_name(m.type), rc);
	rc = msg_decode(again, &m2, err, sizeof(err));
	FUZZ_CHECK(rc == 0, "the encoding of a decoded %s does not decode: %s (%s)",
		   msg_type_name(m.type), err, again);
	FUZZ_CHECK(m2.type == m.type, "%s decodes as %s", msg_type_name(m.type),
		   msg_type_name(m2.type));
	FUZZ_CHECK(memcmp(m2.digest, m.digest, MSG_DIGEST_LEN) == 0,
		   "a %s re-encoded has another digest: %s", msg_type_name(m.type), again);
	rc = msg_encode(&m2, &third);
	FUZZ_CHECK(rc == 0 && strcmp(again, third) == 0, "a round trip changes %s into %s", again,
		   third ? third : "nothing");
	msg_free(&m2);
	free(third);
	free(again);
	msg_free(&m);
out:
	free(text);
	return 0;
}
