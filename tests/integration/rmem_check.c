/*
 * rmem_check.c - the memory-lease tests' client (rmem.sh): one action on
 * the memory lease in FAAS_LEASE, a line saying how it went, exit 0 when it
 * went as the action expects, 1 otherwise, 2 on usage errors.
 *
 *   rmem_check fill SEED      writes a pattern over the whole region
 *                             (registered 1 MiB buffer, and 8-byte writes
 *                             from unregistered memory), reads it back,
 *                             checks the client's bounds checks, then
 *                             does it again asynchronously (16 accesses
 *                             in flight) with SEED + 1, then SEED again
 *   rmem_check verify SEED    reads the whole region back: the pattern
 *   rmem_check forge          the document with another token: must not
 *                             connect (FAAS_EUNAVAIL)
 *   rmem_check guess ADDR KEY as an attacker who knows the executor's
 *                             fabric address (the document without its
 *                             token) and guesses: fi_read at ADDR with keys
 *                             KEY-8..KEY+8 except KEY, and writes there;
 *                             every one must fail
 *   rmem_check region         prints "addr=0x... key=0x..." (the owner's)
 *   rmem_check acquire SIZE   asks the controller of COLOC_CONF for a
 *                             memory lease of SIZE bytes (faas_rmem_acquire),
 *                             fills and verifies it as fill does, releases it
 *   rmem_check evict SEED     fills the region, waits (60 s at most) for
 *                             the eviction notice, reads the region back
 *                             (must match), then reads until the region is
 *                             gone (FAAS_EEVICTED, never stale data)
 */
#include "config.h"

#include "faas.h"

#include "lease_doc.h"
#include "transport.h"
#include "wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "rmem_check"
#define CHUNK (1u << 20)

static uint64_t pattern(uint64_t seed, uint64_t word)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + word;

	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ull;
}

static void fill_chunk(uint64_t seed, uint64_t off, uint64_t *buf, size_t len)
{
	for (size_t i = 0; i < len / 8; i++)
		buf[i] = pattern(seed, off / 8 + i);
}

/* Reads the whole region and compares; FAAS_OK, or the access's error, or
 * FAAS_EPROTO on a mismatch (printed). */
static int verify(struct faas_rmem *rm, uint64_t seed, uint64_t *buf, uint64_t *want)
{
	uint64_t size = faas_rmem_size(rm);

	for (uint64_t off = 0; off < size; off += CHUNK) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		int rc = faas_rmem_read(rm, off, buf, n);

		if (rc)
			return rc;
		fill_chunk(seed, off, want, n);
		if (memcmp(buf, want, n) != 0) {
			printf(PROG ": mismatch in the region's bytes %" PRIu64 "..%" PRIu64 "\n",
			       off, off + n);
			return FAAS_EPROTO;
		}
	}
	return FAAS_OK;
}

static int fill(struct faas_rmem *rm, uint64_t seed, uint64_t *buf)
{
	uint64_t size = faas_rmem_size(rm);

	for (uint64_t off = 0; off < size; off += CHUNK) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		int rc;

		fill_chunk(seed, off, buf, n);
		rc = faas_rmem_write(rm, off, buf, n);
		if (rc)
			return rc;
	}
	return FAAS_OK;
}

static int fail(const char *what, int rc)
{
	printf(PROG ": %s: %s\n", what, faas_strerror(rc));
	return 1;
}

/* Asynchronously: the region in 64 KiB slices of buf, 16 in flight,
 * written with seed's pattern then read back into buf and compared. */
#define SLICE (64u << 10)
#define SLICES (CHUNK / SLICE)
static int async_pass(struct faas_rmem *rm, uint64_t seed, uint64_t *buf, uint64_t *want)
{
	uint64_t size = faas_rmem_size(rm);
	struct faas_rmem_op *ops[SLICES];

	for (int write = 1; write >= 0; write--) {
		for (uint64_t base = 0; base < size; base += CHUNK) {
			unsigned n = 0;
			int rc = FAAS_OK;

			for (; n < SLICES && base + (uint64_t)n * SLICE < size; n++) {
				uint64_t off = base + (uint64_t)n * SLICE;
				char *p = (char *)buf + (size_t)n * SLICE;

				if (write) {
					fill_chunk(seed, off, (uint64_t *)p, SLICE);
					rc = faas_rmem_write_async(rm, off, p, SLICE, &ops[n]);
				} else {
					rc = faas_rmem_read_async(rm, off, p, SLICE, &ops[n]);
				}
				if (rc)
					return rc;
			}
			for (unsigned i = n; i-- > 0;) /* collected in any order */
				if ((rc = faas_rmem_wait(rm, ops[i])) != FAAS_OK)
					return rc;
			if (write)
				continue;
			fill_chunk(seed, base, want, (size_t)n * SLICE);
			if (memcmp(buf, want, (size_t)n * SLICE) != 0)
				return FAAS_EPROTO;
		}
	}
	return FAAS_OK;
}

static int do_fill(struct faas_rmem *rm, uint64_t seed, uint64_t *buf, uint64_t *want)
{
	uint64_t size = faas_rmem_size(rm), word, got = 0;
	struct faas_rmem_op *op;
	int rc = fill(rm, seed, buf);

	if (rc)
		return fail("writing the region", rc);
	/* 8-byte accesses from unregistered memory, at the end too */
	word = pattern(seed, 1);
	if ((rc = faas_rmem_write(rm, 8, &word, 8)) || (rc = faas_rmem_read(rm, size - 8, &got, 8)))
		return fail("an 8-byte access", rc);
	if (got != pattern(seed, size / 8 - 1)) {
		printf(PROG ": the last word reads %#" PRIx64 "\n", got);
		return 1;
	}
	rc = verify(rm, seed, buf, want);
	if (rc)
		return fail("reading the region back", rc);
	if (faas_rmem_read(rm, size - 7, &got, 8) != FAAS_EINVAL ||
	    faas_rmem_write(rm, size, &got, 1) != FAAS_EINVAL ||
	    faas_rmem_read(rm, UINT64_MAX - 3, &got, 8) != FAAS_EINVAL ||
	    faas_rmem_read(rm, 0, &got, 0) != FAAS_EINVAL) {
		printf(PROG ": an access outside the region was not refused\n");
		return 1;
	}
	/* many accesses in flight; then the pattern of seed again, for verify */
	if ((rc = async_pass(rm, seed + 1, buf, want)) != FAAS_OK ||
	    (rc = verify(rm, seed + 1, buf, want)) != FAAS_OK)
		return fail("asynchronous accesses, 16 in flight", rc);
	if (faas_rmem_read_async(rm, 0, &got, 8, &op) != FAAS_EINVAL) {
		printf(PROG ": an asynchronous access from unregistered memory was not refused\n");
		return 1;
	}
	if ((rc = fill(rm, seed, buf)) != FAAS_OK)
		return fail("writing the region again", rc);
	printf(PROG ": ok filled %" PRIu64 " bytes\n", size);
	return 0;
}

static int do_evict(struct faas_rmem *rm, uint64_t seed, uint64_t *buf, uint64_t *want)
{
	int rc = fill(rm, seed, buf), state = 0;
	long gone_ms = 0;

	if (rc)
		return fail("writing the region", rc);
	printf(PROG ": filled\n");
	fflush(stdout);
	for (int i = 0; i < 60000 && state == 0; i++) {
		state = faas_rmem_evicting(rm);
		if (state == 0)
			usleep(1000);
	}
	if (state != 1)
		return fail("waiting for the eviction notice", state == 0 ? FAAS_ETIMEDOUT : state);
	rc = verify(rm, seed, buf, want);
	if (rc)
		return fail("reading back after the notice", rc);
	printf(PROG ": read back %" PRIu64 " bytes after the notice\n", faas_rmem_size(rm));
	fflush(stdout);
	/* then the region goes: reads fail, and never return other bytes */
	for (; gone_ms < 60000; gone_ms += 10) {
		rc = verify(rm, seed, buf, want);
		if (rc == FAAS_EEVICTED)
			break;
		if (rc && rc != FAAS_ETIMEDOUT && rc != FAAS_ETRANSPORT)
			return fail("reading while the region goes", rc);
		usleep(10000);
	}
	if (rc != FAAS_EEVICTED)
		return fail("waiting for the region to go", rc);
	if (faas_rmem_read(rm, 0, buf, 8) != FAAS_EEVICTED ||
	    faas_rmem_evicting(rm) != FAAS_EEVICTED)
		return fail("an access after the eviction", FAAS_EPROTO);
	printf(PROG ": ok evicted\n");
	return 0;
}

/* The attacker: a raw endpoint, the executor's address, guessed keys. */
static int do_guess(const struct lease_doc *doc, uint64_t addr, uint64_t key)
{
	struct transport_opts o = {.provider = doc->provider, .busy_timeout_ms = 500};
	struct transport *t;
	struct transport_mr *mr;
	uint64_t peer, *buf = aligned_alloc(4096, 4096);
	char err[512];
	int hits = 0, tries = 0;

	if (!buf || transport_open(&o, &t, err, sizeof(err)) != 0) {
		printf(PROG ": cannot open the fabric: %s\n", err);
		return 1;
	}
	if (transport_mr_reg(t, buf, 4096, false, &mr) != 0) {
		printf(PROG ": cannot set up the attack\n");
		return 1;
	}
	if (transport_peer_add(t, doc->workers[0].addr, doc->workers[0].addr_len, &peer) != 0) {
		/* shm: another user's endpoint cannot be opened at all */
		printf(PROG ": ok the executor's address cannot be reached: 0 accesses\n");
		goto out;
	}
	for (int d = -8; d <= 8; d++) {
		if (d == 0)
			continue;
		for (int dir = 0; dir < 2; dir++) {
			memset(buf, 0x5a, 4096);
			tries++;
			if (transport_rma(t, dir ? TRANSPORT_RMA_WRITE : TRANSPORT_RMA_READ, peer,
					  buf, 4096, mr, addr, key + (uint64_t)d, 2000) == 0) {
				printf(PROG ": the %s with key %#" PRIx64 " succeeded\n",
				       dir ? "write" : "read", key + (uint64_t)d);
				hits++;
			}
		}
	}
	for (int i = 0; i < 1000 && transport_rma_busy(t); i++)
		usleep(1000);
	if (!hits)
		printf(PROG ": ok %d guessed accesses failed\n", tries);
out:
	transport_mr_dereg(mr);
	transport_close(t);
	free(buf);
	return hits ? 1 : 0;
}

/* The owner's handshake by hand (wire.h): HELLO with the token, REGION
 * back; prints the region's address and key for the attacker's guesses
 * (the test hands the attacker more than it could know). */
static int do_region(const struct lease_doc *doc)
{
	struct transport_opts o = {.provider = doc->provider};
	struct wire_msg m = {.type = WIRE_HELLO}, r;
	struct transport_event ev[4];
	uint8_t msg[WIRE_MSG_MAX];
	size_t len = sizeof(m.u.hello.name);
	struct transport *t;
	uint64_t peer;
	char err[512];
	int status = 1;

	if (transport_open(&o, &t, err, sizeof(err)) != 0) {
		printf(PROG ": %s\n", err);
		return 1;
	}
	memcpy(m.u.hello.token, doc->token, WIRE_TOKEN_LEN);
	m.u.hello.depth = 1;
	if (transport_name(t, m.u.hello.name, &len) != 0 ||
	    transport_peer_add(t, doc->workers[0].addr, doc->workers[0].addr_len, &peer) != 0)
		goto out;
	m.u.hello.name_len = (uint32_t)len;
	for (int tries = 0; tries < 40 && status; tries++) {
		transport_msg(t, peer, msg, wire_msg_encode(&m, msg));
		for (int i = transport_wait(t, ev, 4, 250) - 1; i >= 0; i--) {
			if (ev[i].type == TRANSPORT_EV_MSG &&
			    wire_msg_decode(ev[i].data, ev[i].len, &r) == 0 &&
			    r.type == WIRE_REGION) {
				printf("addr=%#" PRIx64 " key=%#" PRIx64 "\n", r.u.region.addr,
				       r.u.region.key);
				status = 0;
			}
		}
	}
	if (status == 0) { /* goodbye, as libfaas says it */
		m = (struct wire_msg){.type = WIRE_BYE, .u.bye.cookie = r.u.region.cookie};
		memcpy(m.u.bye.token, doc->token, WIRE_TOKEN_LEN);
		transport_msg(t, peer, msg, wire_msg_encode(&m, msg));
		transport_flush(t, 100);
	}
out:
	transport_close(t);
	return status;
}

int main(int argc, char **argv)
{
	struct faas_client_options o = {.timeout_ms = 2000, .connect_timeout_ms = 5000};
	struct faas_lease *lease = NULL;
	struct faas_rmem *rm = NULL;
	struct lease_doc *doc = NULL;
	const char *text = getenv("FAAS_LEASE");
	uint64_t *buf = NULL, *want = NULL, seed = 0;
	char err[512] = "";
	bool acquired = false;
	int rc, status = 1;

	if (argc == 3 && strcmp(argv[1], "acquire") == 0) {
		struct faas_rmem_request req = {.size = strtoull(argv[2], NULL, 0)};

		rc = faas_rmem_acquire(&req, &lease, err, sizeof(err));
		if (rc) {
			printf(PROG ": faas_rmem_acquire: %s: %s\n", faas_strerror(rc), err);
			return 1;
		}
		printf(PROG ": acquired %s, %" PRIu64 " bytes\n", faas_lease_id(lease),
		       faas_lease_remote_mem(lease));
		acquired = true;
		seed = 5;
		goto open;
	}
	if (argc < 2 || !text) {
		fprintf(stderr, "usage: FAAS_LEASE=DOC " PROG
				" fill|verify|evict SEED | forge | region | guess ADDR KEY\n");
		return 2;
	}
	if (argc > 2)
		seed = strtoull(argv[2], NULL, 0);
	if (strcmp(argv[1], "guess") == 0) {
		if (argc != 4 || lease_doc_decode(text, &doc, err, sizeof(err)) != 0) {
			fprintf(stderr, PROG ": guess ADDR KEY, with FAAS_LEASE a document %s\n",
				err);
			return 2;
		}
		rc = do_guess(doc, strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
		lease_doc_free(doc);
		return rc;
	}
	if (strcmp(argv[1], "region") == 0) {
		if (lease_doc_decode(text, &doc, err, sizeof(err)) != 0) {
			printf(PROG ": %s\n", err);
			return 1;
		}
		rc = do_region(doc);
		lease_doc_free(doc);
		return rc;
	}
	rc = faas_lease_from_json(text, &lease, err, sizeof(err));
	if (rc) {
		printf(PROG ": %s\n", err);
		return 1;
	}
	if (strcmp(argv[1], "forge") == 0) {
		char *forged = strdup(text), *tok = strstr(forged, "\"token\":\"");

		faas_lease_destroy(lease);
		lease = NULL;
		if (tok)
			tok[9] = tok[9] == '0' ? '1' : '0';
		rc = faas_lease_from_json(forged, &lease, err, sizeof(err));
		free(forged);
		if (rc == FAAS_OK) {
			o.connect_timeout_ms = 1500;
			rc = faas_rmem_open(lease, &o, &rm);
		}
		faas_lease_destroy(lease);
		faas_rmem_close(rm);
		printf(PROG ": %s with a forged token: %s\n", rc == FAAS_EUNAVAIL ? "ok" : "error",
		       faas_strerror(rc));
		return rc == FAAS_EUNAVAIL ? 0 : 1;
	}
open:
	rc = faas_rmem_open(lease, &o, &rm);
	if (rc) {
		fail("opening the memory lease", rc);
		goto out;
	}
	buf = aligned_alloc(4096, CHUNK);
	want = malloc(CHUNK);
	if (!buf || !want || faas_rmem_register(rm, buf, CHUNK) != FAAS_OK) {
		printf(PROG ": no buffers\n");
		goto out;
	}
	if (acquired || strcmp(argv[1], "fill") == 0) {
		status = do_fill(rm, seed, buf, want);
	} else if (strcmp(argv[1], "verify") == 0) {
		rc = verify(rm, seed, buf, want);
		status = rc ? fail("reading the region", rc) : 0;
		if (!rc)
			printf(PROG ": ok verified\n");
	} else if (strcmp(argv[1], "evict") == 0) {
		status = do_evict(rm, seed, buf, want);
	} else {
		fprintf(stderr, PROG ": unknown action %s\n", argv[1]);
		status = 2;
	}
out:
	faas_rmem_unregister(rm, buf);
	faas_rmem_close(rm);
	if (acquired && (rc = faas_lease_release(lease, err, sizeof(err))) != FAAS_OK) {
		printf(PROG ": faas_lease_release: %s: %s\n", faas_strerror(rc), err);
		status = 1;
	}
	faas_lease_destroy(lease);
	free(buf);
	free(want);
	return status;
}
