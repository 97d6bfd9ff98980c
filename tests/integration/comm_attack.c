/*
 * comm_attack - another user's process attacking the jobs of a lease: it
 * knows the workers' fabric addresses (from a copy of the lease document
 * whose token it does not have: the copy's token is wrong) and sends every
 * worker forged comm messages: data for every rank and tag the examples
 * use and aborts, under many job ids. The workers must drop them all
 * (comm.sh checks the jobs' results and the executor's log).
 *
 *   comm_attack LEASE_FILE ROUNDS
 *
 * Prints how many messages it sent; exit 0 when it could send, 1 when it
 * could not reach the workers at all.
 */
#include "config.h"

#include "comm_wire.h"
#include "lease_doc.h"
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int main(int argc, char **argv)
{
	struct transport_opts o = {.src_addr = "127.0.0.1"};
	struct lease_doc *doc = NULL;
	struct transport *t = NULL;
	static char json[1 << 20];
	char err[256] = "";
	unsigned long sent = 0;
	int rounds;
	size_t len;
	FILE *f;

	if (argc != 3 || (rounds = atoi(argv[2])) < 1 || !(f = fopen(argv[1], "re"))) {
		fprintf(stderr, "usage: comm_attack LEASE_FILE ROUNDS\n");
		return 2;
	}
	len = fread(json, 1, sizeof(json) - 1, f);
	fclose(f);
	json[len] = '\0';
	if (lease_doc_decode(json, &doc, err, sizeof(err)) != 0) {
		fprintf(stderr, "comm_attack: %s\n", err);
		return 1;
	}
	o.provider = doc->provider;
	if (transport_open(&o, &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "comm_attack: %s\n", err);
		return 1;
	}
	for (unsigned w = 0; w < doc->nworkers; w++) {
		uint64_t peer;

		if (transport_peer_add(t, doc->workers[w].addr, doc->workers[w].addr_len, &peer))
			continue;
		for (int r = 0; r < rounds; r++) {
			struct comm_msg m = {.kind = r % 4 == 3 ? COMM_ABORT : COMM_DATA,
					     .src = (int32_t)(r % doc->nworkers),
					     .tag = r % 2 ? 7 : -6,
					     .seq = (uint32_t)(r / 8),
					     .total = 8,
					     .status = -10,
					     .chunk = "\1\1\1\1\1\1\1\1",
					     .chunk_len = 8};
			uint8_t buf[WIRE_MSG_MAX];

			memcpy(m.token, doc->token, WIRE_TOKEN_LEN);
			if (getrandom(&m.job, sizeof(m.job), 0) != sizeof(m.job))
				m.job = (uint64_t)r + 1;
			if (m.kind == COMM_ABORT)
				m.chunk_len = m.total = 0;
			if (transport_msg(t, peer, buf, comm_msg_encode(&m, buf)) == 0)
				sent++;
		}
	}
	transport_flush(t, 1000);
	printf("comm_attack: sent %lu forged messages to %u workers\n", sent, doc->nworkers);
	transport_close(t);
	lease_doc_free(doc);
	return sent ? 0 : 1;
}
