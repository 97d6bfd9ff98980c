/*
 * lease_doc: the lease document, the JSON that tells a client where the
 * workers of its lease are and how to reach them. It is the data plane's
 * codec and, with msg.c (the control plane's), the only user of the JSON
 * library. faas-executor publishes it; the controller will hand the same
 * document out; libfaas reads it from FAAS_LEASE.
 *
 *   {"v":1, "type":"lease", "id":"...", "provider":"tcp;ofi_rxm",
 *    "rung":"writedata", "token":"<32 hex>", "slot_size":65536, "max_depth":16,
 *    "executor":{"pid":123, "host":"node1"},
 *    "functions":[{"name":"echo", "id":1}, ...],
 *    "workers":[{"index":0, "cpu":3, "addr":"<hex fabric address>",
 *                "slot_addr":"0x...", "slot_key":"0x...", "slots":64}, ...]}
 *
 * A memory lease (faas-executor --remote-mem) has "remote_mem": the bytes
 * of its region, no functions, and one worker: the memory executor's
 * address (its slot_addr and slot_key are 0). The region's address and key
 * are not in the document: the executor tells them to a client that
 * presents the token (wire.h, WIRE_REGION).
 *
 * Decoding is strict on what it needs (types, ranges, lengths) and names the
 * offending field; fields it does not know are ignored so newer producers
 * can add some.
 */
#ifndef COLOC_LEASE_DOC_H
#define COLOC_LEASE_DOC_H

#include "lease_rules.h" /* LEASE_MAX_WORKERS: a document has no more than a lease */
#include "wire.h"

#include <stddef.h>
#include <stdint.h>

#define LEASE_ID_MAX 64
#define LEASE_NAME_MAX 64 /* function names */
#define LEASE_MAX_FUNCTIONS 4096
#define LEASE_MIN_SLOT (WIRE_REQ_LEN + 8)
#define LEASE_MAX_SLOT (64u << 20)
#define LEASE_REMOTE_MEM_MAX (1ull << 50) /* the largest memory lease region */

struct lease_worker {
	uint32_t index;
	int cpu; /* -1 when unknown */
	uint8_t addr[WIRE_NAME_MAX];
	size_t addr_len;
	uint64_t slot_addr; /* first slot, as the worker's transport_mr_remote gives it */
	uint64_t slot_key;
	uint32_t slots;
};

struct lease_function {
	char name[LEASE_NAME_MAX];
	uint32_t id;
};

struct lease_doc {
	char id[LEASE_ID_MAX];
	char provider[64];
	char rung[16];
	uint8_t token[WIRE_TOKEN_LEN];
	uint32_t slot_size; /* bytes per slot: request header + largest payload */
	uint32_t max_depth; /* slots one client may hold per worker */
	long executor_pid;
	char host[256];
	unsigned nfunctions;
	struct lease_function *functions;
	unsigned nworkers;
	struct lease_worker *workers;
	uint64_t remote_mem; /* a memory lease: bytes of its region; 0: a compute lease */
};

/* Allocates a document with room for the given numbers of entries, with
 * max_depth 16 and executor_pid -1 until the caller sets them. */
struct lease_doc *lease_doc_new(unsigned nfunctions, unsigned nworkers);
void lease_doc_free(struct lease_doc *doc);

/* Encodes doc; *json is malloc'd (caller frees). 0 or -errno. */
int lease_doc_encode(const struct lease_doc *doc, char **json);
/* Decodes json into a new document; -EINVAL with a message in err. */
int lease_doc_decode(const char *json, struct lease_doc **doc, char *err, size_t errlen);

/* Function id for name, or -ENOENT. */
int lease_doc_function(const struct lease_doc *doc, const char *name);

/* Hex helpers (lower case, no prefix); decode returns bytes or -EINVAL. */
void lease_hex_encode(const uint8_t *in, size_t len, char *out);
int lease_hex_decode(const char *in, uint8_t *out, size_t max);

#endif
