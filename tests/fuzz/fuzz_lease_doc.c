/*
 * fuzz_lease_doc: the lease document as libfaas reads it from FAAS_LEASE
 * or from colocd's grant (common/lease_doc.c, lease_doc_decode). The input
 * is the document's text (an environment variable or a file: the text
 * stops at the first NUL).
 *
 * Properties: a refusal is -EINVAL with a message; an accepted document
 * keeps its bounds (1..4096 functions with ids 0, 1, ... and workers,
 * token, slot size, addresses) and survives a round trip through
 * lease_doc_encode, as an executor publishes it, unchanged.
 */
#include "config.h"

#include "fuzz.h"

#include "lease_doc.h"

#include <errno.h>

static void same(const struct lease_doc *a, const struct lease_doc *b, const char *json)
{
	FUZZ_CHECK(strcmp(a->id, b->id) == 0 && strcmp(a->provider, b->provider) == 0 &&
		       strcmp(a->rung, b->rung) == 0 && strcmp(a->host, b->host) == 0,
		   "a round trip changes a string: %s", json);
	FUZZ_CHECK(memcmp(a->token, b->token, WIRE_TOKEN_LEN) == 0,
		   "a round trip changes the token");
	FUZZ_CHECK(a->slot_size == b->slot_size, "a round trip changes slot_size: %s", json);
	FUZZ_CHECK(a->max_depth == b->max_depth, "a round trip changes max_depth %u to %u: %s",
		   a->max_depth, b->max_depth, json);
	FUZZ_CHECK(a->executor_pid == b->executor_pid, "a round trip changes the pid: %s", json);
	FUZZ_CHECK(a->nfunctions == b->nfunctions && a->nworkers == b->nworkers,
		   "a round trip changes the counts: %s", json);
	for (unsigned i = 0; i < a->nfunctions; i++)
		FUZZ_CHECK(strcmp(a->functions[i].name, b->functions[i].name) == 0 &&
			       a->functions[i].id == b->functions[i].id,
			   "a round trip changes function %u", i);
	for (unsigned i = 0; i < a->nworkers; i++) {
		const struct lease_worker *x = &a->workers[i], *y = &b->workers[i];

		FUZZ_CHECK(x->index == y->index && x->cpu == y->cpu && x->slots == y->slots &&
			       x->addr_len == y->addr_len &&
			       memcmp(x->addr, y->addr, x->addr_len) == 0 &&
			       x->slot_addr == y->slot_addr && x->slot_key == y->slot_key,
			   "a round trip changes worker %u", i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *json = NULL, err[512];
	struct lease_doc *doc = NULL, *again = NULL;
	int rc;

	err[0] = '\0';
	rc = lease_doc_decode(text, &doc, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "lease_doc_decode returned %d", rc);
		FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof(err)), "a refusal without a message");
		goto out;
	}
	FUZZ_CHECK(doc->nfunctions >= 1 && doc->nfunctions <= LEASE_MAX_FUNCTIONS &&
		       doc->nworkers >= 1 && doc->nworkers <= LEASE_MAX_WORKERS,
		   "%u functions, %u workers", doc->nfunctions, doc->nworkers);
	FUZZ_CHECK(doc->slot_size >= LEASE_MIN_SLOT && doc->slot_size <= LEASE_MAX_SLOT,
		   "slot_size %u", doc->slot_size);
	FUZZ_CHECK(doc->max_depth >= 1, "max_depth 0");
	for (unsigned i = 0; i < doc->nfunctions; i++)
		FUZZ_CHECK(doc->functions[i].id == i &&
			       lease_doc_function(doc, doc->functions[i].name) >= 0,
			   "function %u", i);
	for (unsigned i = 0; i < doc->nworkers; i++)
		FUZZ_CHECK(doc->workers[i].addr_len >= 1 &&
			       doc->workers[i].addr_len <= WIRE_NAME_MAX &&
			       doc->workers[i].slots >= 1,
			   "worker %u", i);
	rc = lease_doc_encode(doc, &json);
	FUZZ_CHECK(rc == 0, "an accepted document does not encode (%d)", rc);
	rc = lease_doc_decode(json, &again, err, sizeof(err));
	FUZZ_CHECK(rc == 0, "its encoding does not decode: %s (%s)", err, json);
	same(doc, again, json);
out:
	lease_doc_free(again);
	lease_doc_free(doc);
	free(json);
	free(text);
	return 0;
}
