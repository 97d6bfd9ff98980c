/*
 * test_lease_doc: common/lease_doc.c, the lease document. What the executor
 * encodes decodes to the same document; each malformed field is refused
 * with -EINVAL and a message naming that field; fields the decoder does not
 * know are accepted; function lookup by name; the hex helpers.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lease_doc.h"

/* ---- round trip ------------------------------------------------------------ */

static struct lease_doc *sample_doc(void)
{
	static const char *const names[] = {"noop", "echo", "blackscholes"};
	struct lease_doc *doc = lease_doc_new(3, 2);

	assert_non_null(doc);
	snprintf(doc->id, sizeof(doc->id), "lease-42");
	snprintf(doc->provider, sizeof(doc->provider), "tcp;ofi_rxm");
	snprintf(doc->rung, sizeof(doc->rung), "writedata");
	for (int i = 0; i < WIRE_TOKEN_LEN; i++)
		doc->token[i] = (uint8_t)(i * 17 + 3);
	doc->slot_size = 65536;
	doc->max_depth = 5; /* not the default of 16 that a missing max_depth means */
	doc->executor_pid = 4242;
	snprintf(doc->host, sizeof(doc->host), "node17");
	for (unsigned i = 0; i < 3; i++) {
		snprintf(doc->functions[i].name, sizeof(doc->functions[i].name), "%s", names[i]);
		doc->functions[i].id = i; /* ids are 0, 1, 2, ... in order */
	}
	doc->workers[0].index = 0;
	doc->workers[0].cpu = 3;
	doc->workers[0].addr_len = 16;
	for (int i = 0; i < 16; i++)
		doc->workers[0].addr[i] = (uint8_t)(i ? 0xf0 + i : 0); /* a NUL byte too */
	doc->workers[0].slot_addr = 0;
	doc->workers[0].slot_key = 0x1234;
	doc->workers[0].slots = 64;
	doc->workers[1].index = 1;
	doc->workers[1].cpu = -1;
	doc->workers[1].addr_len = WIRE_NAME_MAX;
	for (int i = 0; i < WIRE_NAME_MAX; i++)
		doc->workers[1].addr[i] = (uint8_t)(255 - i);
	doc->workers[1].slot_addr = 0x7f0012345000ull;
	doc->workers[1].slot_key = UINT64_MAX;
	doc->workers[1].slots = 1;
	return doc;
}

static void test_round_trip(void **state)
{
	struct lease_doc *in = sample_doc(), *out = NULL;
	char err[256] = "";
	char *json = NULL;

	assert_int_equal(lease_doc_encode(in, &json), 0);
	assert_non_null(json);
	assert_int_equal(lease_doc_decode(json, &out, err, sizeof(err)), 0);
	assert_non_null(out);
	assert_string_equal(out->id, in->id);
	assert_string_equal(out->provider, in->provider);
	assert_string_equal(out->rung, in->rung);
	assert_memory_equal(out->token, in->token, WIRE_TOKEN_LEN);
	assert_int_equal(out->slot_size, in->slot_size);
	assert_int_equal(out->max_depth, in->max_depth);
	assert_int_equal(out->executor_pid, in->executor_pid);
	assert_string_equal(out->host, in->host);
	assert_int_equal(out->nfunctions, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_string_equal(out->functions[i].name, in->functions[i].name);
		assert_int_equal(out->functions[i].id, in->functions[i].id);
	}
	assert_int_equal(out->nworkers, 2);
	for (unsigned i = 0; i < 2; i++) {
		const struct lease_worker *a = &in->workers[i], *b = &out->workers[i];

		assert_int_equal(b->index, a->index);
		assert_int_equal(b->cpu, a->cpu);
		assert_int_equal(b->addr_len, a->addr_len);
		assert_memory_equal(b->addr, a->addr, a->addr_len);
		assert_true(b->slot_addr == a->slot_addr);
		assert_true(b->slot_key == a->slot_key);
		assert_int_equal(b->slots, a->slots);
	}
	lease_doc_free(out);
	lease_doc_free(in);
	free(json);
}

/* ---- decode errors ----------------------------------------------------------- */

/* A valid document as a JSON tree, for the tests to spoil. */
static json_t *valid_json(void)
{
	struct lease_doc *doc = sample_doc();
	json_error_t jerr;
	char *text;
	json_t *root;

	assert_int_equal(lease_doc_encode(doc, &text), 0);
	root = json_loads(text, 0, &jerr);
	assert_non_null(root);
	free(text);
	lease_doc_free(doc);
	return root;
}

static json_t *worker(json_t *root, size_t i)
{
	return json_array_get(json_object_get(root, "workers"), i);
}

static json_t *function(json_t *root, size_t i)
{
	return json_array_get(json_object_get(root, "functions"), i);
}

/* Decodes text, expecting -EINVAL, no document, and field in the message. */
static void expect_text_error(const char *text, const char *field)
{
	struct lease_doc *doc = NULL;
	char err[512] = "";

	assert_int_equal(lease_doc_decode(text, &doc, err, sizeof(err)), -EINVAL);
	assert_null(doc);
	if (!strstr(err, field))
		fail_msg("error \"%s\" does not name %s", err, field);
}

/* As expect_text_error, on a tree (released here). */
static void expect_error(json_t *root, const char *field)
{
	char *text = json_dumps(root, JSON_COMPACT);

	assert_non_null(text);
	expect_text_error(text, field);
	free(text);
	json_decref(root);
}

static void expect_ok(json_t *root)
{
	char *text = json_dumps(root, JSON_COMPACT);
	struct lease_doc *doc = NULL;
	char err[512] = "";

	assert_non_null(text);
	if (lease_doc_decode(text, &doc, err, sizeof(err)) != 0)
		fail_msg("valid document refused: %s", err);
	assert_non_null(doc);
	lease_doc_free(doc);
	free(text);
	json_decref(root);
}

static void test_valid_json_decodes(void **state)
{
	expect_ok(valid_json());
}

static void test_not_json(void **state)
{
	expect_text_error("{\"v\":1,", "not valid JSON");
	expect_text_error("", "not valid JSON");
	expect_text_error("{\"v\":1,\"v\":1}", "not valid JSON"); /* duplicate key */
}

static void test_not_object(void **state)
{
	expect_text_error("[1,2]", "JSON object");
	expect_text_error("[{\"v\":1}]", "JSON object");
}

static void test_version(void **state)
{
	json_t *root;

	root = valid_json();
	json_object_set_new(root, "v", json_integer(2));
	expect_error(root, "\"v\"");
	root = valid_json();
	json_object_set_new(root, "v", json_integer(0));
	expect_error(root, "\"v\"");
	root = valid_json();
	json_object_set_new(root, "v", json_string("1"));
	expect_error(root, "\"v\"");
	root = valid_json();
	json_object_del(root, "v");
	expect_error(root, "\"v\"");
}

static void test_functions(void **state)
{
	json_t *root;

	root = valid_json();
	json_object_del(root, "functions");
	expect_error(root, "\"functions\"");
	root = valid_json();
	json_object_set_new(root, "functions", json_array());
	expect_error(root, "\"functions\"");
	root = valid_json();
	json_object_set_new(root, "functions", json_object());
	expect_error(root, "\"functions\"");
	root = valid_json();
	json_array_set_new(json_object_get(root, "functions"), 1, json_string("echo"));
	expect_error(root, "functions[1]");
	root = valid_json();
	json_object_set_new(function(root, 0), "name", json_string(""));
	expect_error(root, "functions[0].\"name\"");
	root = valid_json();
	json_object_del(function(root, 1), "name");
	expect_error(root, "functions[1].\"name\"");
}

/* A memory lease: remote_mem in range, and then no functions needed. */
static void test_remote_mem(void **state)
{
	struct lease_doc *doc = lease_doc_new(0, 1), *back = NULL;
	char *text = NULL, err[512] = "";
	json_t *root;

	assert_non_null(doc);
	snprintf(doc->id, sizeof(doc->id), "mem-1");
	snprintf(doc->provider, sizeof(doc->provider), "shm");
	snprintf(doc->rung, sizeof(doc->rung), "writedata");
	doc->slot_size = LEASE_MIN_SLOT;
	doc->workers[0].addr_len = 4;
	doc->workers[0].slots = 1;
	doc->workers[0].cpu = -1;
	doc->remote_mem = 1ull << 40;
	assert_int_equal(lease_doc_encode(doc, &text), 0);
	assert_non_null(strstr(text, "\"remote_mem\":1099511627776"));
	assert_int_equal(lease_doc_decode(text, &back, err, sizeof(err)), 0);
	assert_int_equal(back->remote_mem, 1ull << 40);
	assert_int_equal(back->nfunctions, 0);
	lease_doc_free(back);
	lease_doc_free(doc);
	free(text);
	/* a compute lease says nothing of it */
	doc = sample_doc();
	assert_int_equal(lease_doc_encode(doc, &text), 0);
	assert_null(strstr(text, "remote_mem"));
	lease_doc_free(doc);
	free(text);
	root = valid_json();
	json_object_set_new(root, "remote_mem", json_integer(0));
	expect_error(root, "\"remote_mem\"");
	root = valid_json();
	json_object_set_new(root, "remote_mem", json_integer((json_int_t)LEASE_REMOTE_MEM_MAX + 1));
	expect_error(root, "\"remote_mem\"");
	root = valid_json();
	json_object_set_new(root, "remote_mem", json_string("1G"));
	expect_error(root, "\"remote_mem\"");
	root = valid_json();
	json_object_set_new(root, "remote_mem", json_integer(4096));
	json_object_set_new(root, "functions", json_array());
	expect_ok(root);
}

static void test_function_id(void **state)
{
	json_t *root;

	root = valid_json();
	json_object_set_new(function(root, 2), "id", json_integer(0x10000));
	expect_error(root, "functions[2].\"id\"");
	root = valid_json();
	json_object_set_new(function(root, 1), "id", json_integer(-1));
	expect_error(root, "functions[1].\"id\"");
	root = valid_json();
	json_object_set_new(function(root, 1), "id", json_string("1"));
	expect_error(root, "functions[1].\"id\"");
	/* ids are the functions' positions: a gap or a duplicate is refused */
	root = valid_json();
	json_object_set_new(function(root, 1), "id", json_integer(2));
	expect_error(root, "functions[1].\"id\"");
	root = valid_json();
	json_object_set_new(function(root, 1), "id", json_integer(0));
	expect_error(root, "functions[1].\"id\"");
}

static void test_workers(void **state)
{
	json_t *root, *many;

	root = valid_json();
	json_object_del(root, "workers");
	expect_error(root, "\"workers\"");
	root = valid_json();
	json_object_set_new(root, "workers", json_array());
	expect_error(root, "\"workers\"");
	root = valid_json();
	many = json_array();
	for (int i = 0; i <= LEASE_MAX_WORKERS; i++)
		json_array_append(many, worker(root, 0));
	json_object_set_new(root, "workers", many);
	expect_error(root, "\"workers\"");
	root = valid_json();
	json_array_set_new(json_object_get(root, "workers"), 1, json_integer(1));
	expect_error(root, "workers[1]");
}

static void test_token(void **state)
{
	static const char *const bad[] = {
	    "00112233445566778899aabbccddeef",	  /* 31 digits */
	    "00112233445566778899aabbccddee",	  /* 30 */
	    "00112233445566778899aabbccddeeff0",  /* 33 */
	    "00112233445566778899aabbccddeeff00", /* 34 */
	    "00112233445566778899aabbccddeefg",	  /* not hex */
	    "",
	};
	json_t *root;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		root = valid_json();
		json_object_set_new(root, "token", json_string(bad[i]));
		expect_error(root, "\"token\"");
	}
	root = valid_json();
	json_object_set_new(root, "token", json_integer(1));
	expect_error(root, "\"token\"");
	root = valid_json();
	json_object_set_new(root, "token", json_string("00112233445566778899AABBCCDDEEFF"));
	expect_ok(root);
}

static void test_slot_size(void **state)
{
	json_t *root;

	root = valid_json();
	json_object_set_new(root, "slot_size", json_integer(LEASE_MIN_SLOT - 1));
	expect_error(root, "\"slot_size\"");
	root = valid_json();
	json_object_set_new(root, "slot_size", json_integer((json_int_t)LEASE_MAX_SLOT + 1));
	expect_error(root, "\"slot_size\"");
	root = valid_json();
	json_object_set_new(root, "slot_size", json_string("65536"));
	expect_error(root, "\"slot_size\"");
	root = valid_json();
	json_object_set_new(root, "slot_size", json_integer(LEASE_MIN_SLOT));
	expect_ok(root);
	root = valid_json();
	json_object_set_new(root, "slot_size", json_integer(LEASE_MAX_SLOT));
	expect_ok(root);
}

static void test_addr(void **state)
{
	char big[2 * WIRE_NAME_MAX + 3];
	json_t *root;

	root = valid_json();
	json_object_set_new(worker(root, 1), "addr", json_string("abc"));
	expect_error(root, "workers[1].\"addr\"");
	root = valid_json();
	json_object_set_new(worker(root, 0), "addr", json_string("zz"));
	expect_error(root, "workers[0].\"addr\"");
	root = valid_json();
	json_object_set_new(worker(root, 0), "addr", json_string(""));
	expect_error(root, "workers[0].\"addr\"");
	root = valid_json();
	json_object_set_new(worker(root, 0), "addr", json_integer(12));
	expect_error(root, "workers[0].\"addr\"");
	/* one byte more than WIRE_NAME_MAX */
	memset(big, 'a', 2 * WIRE_NAME_MAX + 2);
	big[2 * WIRE_NAME_MAX + 2] = '\0';
	root = valid_json();
	json_object_set_new(worker(root, 0), "addr", json_string(big));
	expect_error(root, "workers[0].\"addr\"");
}

static void test_slot_key(void **state)
{
	static const char *const bad[] = {"1f",	   "0x", "0xzz", "0x1g", "0x00000000000000001",
					  "x1f",   "",	 "0x-1", "0x+1", "0x 1f",
					  "0x0x1f"};
	json_t *root;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		root = valid_json();
		json_object_set_new(worker(root, 1), "slot_key", json_string(bad[i]));
		expect_error(root, "workers[1].\"slot_key\"");
	}
	root = valid_json();
	json_object_set_new(worker(root, 1), "slot_key", json_integer(31));
	expect_error(root, "workers[1].\"slot_key\"");
	root = valid_json();
	json_object_del(worker(root, 0), "slot_addr");
	expect_error(root, "workers[0].\"slot_addr\"");
	root = valid_json();
	json_object_set_new(worker(root, 1), "slot_key", json_string("0xFFFFFFFFFFFFFFFF"));
	expect_ok(root);
}

static void test_cpu(void **state)
{
	json_t *root;

	root = valid_json();
	json_object_set_new(worker(root, 0), "cpu", json_string("3"));
	expect_error(root, "workers[0].\"cpu\"");
	root = valid_json();
	json_object_set_new(worker(root, 1), "cpu", json_real(1.5));
	expect_error(root, "workers[1].\"cpu\"");
	root = valid_json();
	json_object_set_new(worker(root, 1), "cpu", json_integer(-2));
	expect_error(root, "workers[1].\"cpu\"");
	root = valid_json();
	json_object_del(worker(root, 1), "cpu");
	expect_error(root, "workers[1].\"cpu\"");
}

static void test_worker_ranges(void **state)
{
	json_t *root;

	root = valid_json();
	json_object_set_new(worker(root, 1), "slots", json_integer(0));
	expect_error(root, "workers[1].\"slots\"");
	root = valid_json();
	json_object_set_new(worker(root, 0), "index", json_integer(LEASE_MAX_WORKERS));
	expect_error(root, "workers[0].\"index\"");
}

static void test_unknown_fields(void **state)
{
	json_t *root = valid_json();

	json_object_set_new(root, "future", json_pack("{s:[i,i], s:n}", "list", 1, 2, "x"));
	json_object_set_new(worker(root, 0), "numa", json_integer(1));
	json_object_set_new(function(root, 1), "doc", json_string("returns its input"));
	json_object_set_new(json_object_get(root, "executor"), "version", json_string("9"));
	expect_ok(root);
	/* the executor object itself is optional */
	root = valid_json();
	json_object_del(root, "executor");
	expect_ok(root);
}

static void test_null_err(void **state)
{
	struct lease_doc *doc = NULL;

	assert_int_equal(lease_doc_decode("[]", &doc, NULL, 0), -EINVAL);
	assert_null(doc);
}

/* ---- lookups and helpers ----------------------------------------------------- */

static void test_function_lookup(void **state)
{
	struct lease_doc *doc = sample_doc();

	assert_int_equal(lease_doc_function(doc, "noop"), 0);
	assert_int_equal(lease_doc_function(doc, "echo"), 1);
	assert_int_equal(lease_doc_function(doc, "blackscholes"), 2);
	assert_int_equal(lease_doc_function(doc, "ech"), -ENOENT);
	assert_int_equal(lease_doc_function(doc, "echo2"), -ENOENT);
	assert_int_equal(lease_doc_function(doc, ""), -ENOENT);
	lease_doc_free(doc);
}

static void test_hex(void **state)
{
	static const uint8_t bytes[] = {0x00, 0x7f, 0xab, 0xff, 0x10};
	uint8_t out[8];
	char text[2 * sizeof(bytes) + 1];

	lease_hex_encode(bytes, sizeof(bytes), text);
	assert_string_equal(text, "007fabff10");
	lease_hex_encode(bytes, 0, text);
	assert_string_equal(text, "");
	memset(out, 0, sizeof(out));
	assert_int_equal(lease_hex_decode("007FabfF10", out, sizeof(out)), 5);
	assert_memory_equal(out, bytes, sizeof(bytes));
	assert_int_equal(lease_hex_decode("007fabff10", out, 5), 5);
	assert_int_equal(lease_hex_decode("007fabff10", out, 4), -EINVAL);
	assert_int_equal(lease_hex_decode("", out, sizeof(out)), 0);
	assert_int_equal(lease_hex_decode("abc", out, sizeof(out)), -EINVAL);
	assert_int_equal(lease_hex_decode("0g", out, sizeof(out)), -EINVAL);
	assert_int_equal(lease_hex_decode("g0", out, sizeof(out)), -EINVAL);
	assert_int_equal(lease_hex_decode("0x12", out, sizeof(out)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_valid_json_decodes),
	    cmocka_unit_test(test_not_json),
	    cmocka_unit_test(test_not_object),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_functions),
	    cmocka_unit_test(test_function_id),
	    cmocka_unit_test(test_workers),
	    cmocka_unit_test(test_token),
	    cmocka_unit_test(test_slot_size),
	    cmocka_unit_test(test_addr),
	    cmocka_unit_test(test_slot_key),
	    cmocka_unit_test(test_cpu),
	    cmocka_unit_test(test_worker_ranges),
	    cmocka_unit_test(test_unknown_fields),
	    cmocka_unit_test(test_null_err),
	    cmocka_unit_test(test_function_lookup),
	    cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_remote_mem),
	};

	return cmocka_run_group_tests_name("lease_doc", tests, NULL, NULL);
}
