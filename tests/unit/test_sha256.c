/*
 * test_sha256: common/sha256.c against the FIPS 180-2 test vectors (the
 * empty string, "abc", the 448- and 896-bit messages, a million 'a') and
 * messages around the block boundaries (checked with Python's hashlib);
 * incremental updates split at every offset give the one-call digest.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"

static void hex(const uint8_t d[SHA256_LEN], char out[2 * SHA256_LEN + 1])
{
	for (unsigned i = 0; i < SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void expect(const void *data, size_t len, const char *want)
{
	uint8_t d[SHA256_LEN];
	char got[2 * SHA256_LEN + 1];

	sha256(data, len, d);
	hex(d, got);
	assert_string_equal(got, want);
}

static void test_fips_vectors(void **state)
{
	(void)state;
	expect("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	expect("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	expect("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	expect("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnop"
	       "qklmnopqrlmnopqrsmnopqrstnopqrstu",
	       112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void **state)
{
	char *a = malloc(1000000);

	(void)state;
	assert_non_null(a);
	memset(a, 'a', 1000000);
	expect(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

/* One byte (NIST SHAVS' short message "d3"), and runs of 'a' whose padding
 * just fits the block (55), needs another block (56), or starts one (64). */
static void test_block_boundaries(void **state)
{
	uint8_t m[64];

	(void)state;
	expect("\xd3", 1, "28969cdfa74a12c82f3bad960b0b000aca2ac329deea5c2328ebc6f2ba9802c1");
	memset(m, 'a', sizeof(m));
	expect(m, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	expect(m, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	expect(m, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

static void test_incremental(void **state)
{
	static const char msg[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
				  "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	uint8_t one[SHA256_LEN], parts[SHA256_LEN];
	size_t len = strlen(msg);

	(void)state;
	sha256(msg, len, one);
	for (size_t cut = 0; cut <= len; cut++) {
		struct sha256 s;

		sha256_init(&s);
		sha256_update(&s, msg, cut);
		sha256_update(&s, "", 0);
		for (size_t i = cut; i < len; i++) /* the rest a byte at a time */
			sha256_update(&s, msg + i, 1);
		sha256_final(&s, parts);
		assert_memory_equal(one, parts, SHA256_LEN);
	}
}

/* RFC 4231, test case 2 (keys longer than a block are never used: session
 * keys are 32 bytes). */
static void test_hmac(void **state)
{
	static const uint8_t want[SHA256_LEN] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
						 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
						 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
						 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
	const char *data = "what do ya want for nothing?";
	uint8_t out[SHA256_LEN];

	(void)state;
	sha256_hmac((const uint8_t *)"Jefe", 4, data, strlen(data), out);
	assert_memory_equal(out, want, SHA256_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hmac),	cmocka_unit_test(test_fips_vectors),
	    cmocka_unit_test(test_million_a),	cmocka_unit_test(test_block_boundaries),
	    cmocka_unit_test(test_incremental),
	};

	return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}
