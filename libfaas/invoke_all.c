/*
 * invoke_all: faas_invoke_all, the client's side of a comm function's job.
 * Each rank's request is [comm header | input]; the header names the job
 * (a random id), the rank, the lease's size, the call timeout and every
 * rank's fabric address, which the lease document gives the client. The
 * calls go to one worker each (client_submit_to: never moved) and are
 * collected with faas_wait, so every wait is bounded by the call timeout.
 */
#include "config.h"

#include "faas.h"
#include "internal.h"

#include "comm_wire.h"
#include "lease_doc.h"
#include "wire.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* How a rank's status ranks in faas_invoke_all's verdict: the job's own
 * failures (a rank evicted, dead, or out of time) first. */
static int severity(int status)
{
	switch (status) {
	case FAAS_EEVICTED:
		return 3;
	case FAAS_EUNAVAIL:
		return 2;
	case FAAS_ETIMEDOUT:
		return 1;
	default:
		return 0;
	}
}

/* A comm function that returns a comm call's error (eviction, a gone
 * rank, the timeout) reports it as its rank's status. */
static int rank_status(struct faas_client *c, int status)
{
	if (status == FAAS_EFUNC && severity(faas_last_fn_rc(c)) > 0)
		return faas_last_fn_rc(c);
	return status;
}

/* Sends the started ranks of job an ABORT with status (the client holds
 * the lease's token, as the ranks do); best effort. */
static void abort_ranks(struct faas_client *c, uint64_t job, struct faas_call **calls, unsigned n,
			int status)
{
	struct comm_msg m = {.kind = COMM_ABORT, .job = job, .src = -1, .status = status};
	uint8_t buf[WIRE_MSG_MAX];
	size_t len;

	memcpy(m.token, client_lease_doc(c)->token, WIRE_TOKEN_LEN);
	len = comm_msg_encode(&m, buf);
	for (unsigned i = 0; i < n; i++)
		if (calls[i])
			client_send_msg(c, i, buf, len);
}

int faas_invoke_all(struct faas_client *c, int fn, const void *in, size_t in_len, void *outs,
		    size_t out_cap, size_t *out_lens, int *statuses)
{
	const struct lease_doc *doc;
	struct faas_call **calls = NULL;
	struct comm_hdr *h = NULL;
	size_t *addr_len = NULL, hlen;
	char *req = NULL;
	unsigned n;
	int verdict = FAAS_OK;

	if (!c || fn < 0 || (in_len && !in) || (out_cap && !outs))
		return FAAS_EINVAL;
	doc = client_lease_doc(c);
	n = doc->nworkers; /* every worker of the lease, connected or not */
	if (n == 0 || n > COMM_SIZE_MAX)
		return FAAS_EINVAL;
	h = calloc(1, sizeof(*h));
	addr_len = calloc(n, sizeof(*addr_len));
	calls = calloc(n, sizeof(*calls));
	if (!h || !addr_len || !calls) {
		verdict = FAAS_ENOMEM;
		goto out_free;
	}
	for (unsigned i = 0; i < n; i++) {
		addr_len[i] = doc->workers[i].addr_len;
		h->addr[i] = doc->workers[i].addr;
		h->addr_len[i] = (uint16_t)addr_len[i];
	}
	hlen = comm_hdr_size(n, addr_len);
	if (in_len + hlen > doc->slot_size - WIRE_REQ_LEN) {
		verdict = FAAS_ETOOBIG;
		goto out_free;
	}
	req = malloc(hlen + in_len);
	if (!req) {
		verdict = FAAS_ENOMEM;
		goto out_free;
	}
	if (getrandom(&h->job, sizeof(h->job), 0) != sizeof(h->job)) {
		verdict = FAAS_ENOMEM;
		goto out_free;
	}
	h->size = n;
	h->timeout_ms = (uint32_t)client_timeout_ms(c);
	if (in_len)
		memcpy(req + hlen, in, in_len);
	for (unsigned i = 0; i < n; i++) {
		int rc;

		h->rank = i;
		comm_hdr_encode(h, req);
		rc = client_submit_to(c, i, fn, req, hlen + in_len,
				      outs ? (char *)outs + (size_t)i * out_cap : NULL, out_cap,
				      &calls[i]);
		if (statuses)
			statuses[i] = rc;
		if (out_lens)
			out_lens[i] = 0;
		if (rc != FAAS_OK) {
			calls[i] = NULL;
			if (verdict == FAAS_OK || severity(rc) > severity(verdict))
				verdict = rc;
		}
	}
	/* A rank that could not start: the started ones would wait for it
	 * until the timeout; they are told to end now. */
	if (verdict != FAAS_OK)
		abort_ranks(c, h->job, calls, n,
			    severity(verdict) == 3 ? FAAS_EEVICTED : FAAS_EUNAVAIL);
	/* Every started rank is collected, also after a failure: the others
	 * end by the abort their job sees, or by the timeout. */
	for (unsigned i = 0; i < n; i++) {
		size_t len = 0;
		int rc;

		if (!calls[i])
			continue;
		rc = rank_status(c, faas_wait(c, calls[i], &len));
		if (statuses)
			statuses[i] = rc;
		if (out_lens)
			out_lens[i] = len;
		if (rc != FAAS_OK && (verdict == FAAS_OK || severity(rc) > severity(verdict)))
			verdict = rc;
	}
out_free:
	free(req);
	free(calls);
	free(addr_len);
	free(h);
	return verdict;
}
