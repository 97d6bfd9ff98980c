/*
 * test_wire: common/wire.c, the data-plane formats. Request and reply
 * headers and control messages round trip; the decoders reject every
 * malformed input the worker and the client must not act on; the reply
 * immediate packs (tag, status); the byte layout is little-endian at the
 * offsets wire.h documents, whatever the host.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"

static const struct wire_req sample_req = {
    .cookie = 0x11223344u,
    .reply_tag = 0x0abcdef1u,
    .fn = 0x5566,
    .flags = 0,
    .in_len = 5,
    .reply_addr = 0x0102030405060708ull,
    .reply_key = 0x1112131415161718ull,
    .out_cap = 0x2122232425262728ull,
};

/* ---- request and reply headers ------------------------------------------ */

static void test_req_round_trip(void **state)
{
	uint8_t buf[WIRE_REQ_LEN + 5];
	struct wire_req out;

	memset(buf, 0xee, sizeof(buf));
	wire_req_encode(&sample_req, buf);
	memset(&out, 0, sizeof(out));
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), 0);
	assert_int_equal(out.cookie, sample_req.cookie);
	assert_int_equal(out.reply_tag, sample_req.reply_tag);
	assert_int_equal(out.fn, sample_req.fn);
	assert_int_equal(out.flags, 0);
	assert_int_equal(out.in_len, sample_req.in_len);
	assert_true(out.reply_addr == sample_req.reply_addr);
	assert_true(out.reply_key == sample_req.reply_key);
	assert_true(out.out_cap == sample_req.out_cap);
	/* the payload after the header is not touched by encode */
	assert_int_equal(buf[WIRE_REQ_LEN], 0xee);
}

static void test_req_layout(void **state)
{
	static const uint8_t want[WIRE_REQ_LEN] = {
	    0x44, 0x33, 0x22, 0x11,			    /* cookie */
	    0xf1, 0xde, 0xbc, 0x0a,			    /* reply_tag */
	    0x66, 0x55,					    /* fn */
	    0x00, 0x00,					    /* flags */
	    0x05, 0x00, 0x00, 0x00,			    /* in_len */
	    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* reply_addr */
	    0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, /* reply_key */
	    0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21, /* out_cap */
	    0,	  0,	0,    0,    0,	  0,	0,    0,    /* session */
	};
	uint8_t buf[WIRE_REQ_LEN];

	memset(buf, 0xee, sizeof(buf));
	wire_req_encode(&sample_req, buf);
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_req_decode_short(void **state)
{
	struct wire_req zero = {0}, out;
	uint8_t buf[WIRE_REQ_LEN];

	wire_req_encode(&zero, buf);
	assert_int_equal(wire_req_decode(buf, WIRE_REQ_LEN, &out), 0);
	assert_int_equal(wire_req_decode(buf, WIRE_REQ_LEN - 1, &out), -EPROTO);
	assert_int_equal(wire_req_decode(buf, 0, &out), -EPROTO);
}

static void test_req_decode_in_len(void **state)
{
	struct wire_req req = sample_req, out;
	uint8_t buf[WIRE_REQ_LEN + 16];

	req.in_len = 16;
	wire_req_encode(&req, buf);
	assert_int_equal(wire_req_decode(buf, WIRE_REQ_LEN + 16, &out), 0);
	assert_int_equal(out.in_len, 16);
	/* too long for the buffer: the rest of the header still decodes */
	assert_int_equal(wire_req_decode(buf, WIRE_REQ_LEN + 15, &out), -EMSGSIZE);
	req.in_len = 0xffffffffu;
	wire_req_encode(&req, buf);
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), -EMSGSIZE);
	assert_int_equal(out.cookie, req.cookie);
	assert_int_equal(out.reply_tag, req.reply_tag);
}

static void test_req_decode_flags(void **state)
{
	struct wire_req req = sample_req, out;
	uint8_t buf[WIRE_REQ_LEN + 5];

	/* the session operations decode, with their session id */
	req.flags = WIRE_OP_SAVE;
	req.session = 0x0123456789abcdefull;
	wire_req_encode(&req, buf);
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), 0);
	assert_int_equal(out.flags, WIRE_OP_SAVE);
	assert_true(out.session == 0x0123456789abcdefull);
	req.flags = WIRE_OP_MAX + 1;
	wire_req_encode(&req, buf);
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), -EPROTO);
	req.flags = 0x8000;
	wire_req_encode(&req, buf);
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), -EPROTO);
}

/* Descriptors of payloads beyond the slot: they round-trip, the inline
 * payload starts after them, and the lengths are checked. */
static void test_req_rma(void **state)
{
	struct wire_req req = sample_req, out;
	uint8_t buf[WIRE_REQ_LEN + WIRE_RMA_IN_LEN + WIRE_RMA_OUT_LEN];

	req.flags = WIRE_REQ_RMA_IN | WIRE_REQ_RMA_OUT;
	req.in_len = 0;
	req.in_rma = (struct wire_rma){.addr = 0x1122334455667788ull, .key = 9, .len = 1u << 30};
	req.out_rma = (struct wire_rma){.addr = 42, .key = 0xffffffffffffffffull};
	assert_int_equal(wire_req_encode(&req, buf), sizeof(buf));
	assert_int_equal(wire_req_head_len(req.flags), sizeof(buf));
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), 0);
	assert_true(out.in_rma.addr == req.in_rma.addr && out.in_rma.key == 9 &&
		    out.in_rma.len == WIRE_RMA_MAX);
	assert_true(out.out_rma.addr == 42 && out.out_rma.key == req.out_rma.key &&
		    out.out_rma.len == req.out_cap);
	assert_int_equal(wire_req_decode(buf, sizeof(buf) - 1, &out), -EPROTO);
	/* over 1 GiB: valid otherwise, so the owner hears WIRE_TOOBIG */
	req.in_rma.len = WIRE_RMA_MAX + 1;
	wire_req_encode(&req, buf);
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), -EMSGSIZE);
	/* an empty descriptor, or one with an inline payload too: malformed */
	req.in_rma.len = 0;
	wire_req_encode(&req, buf);
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), -EPROTO);
	req.in_rma.len = 5;
	req.in_len = 1;
	wire_req_encode(&req, buf);
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), -EPROTO);
	/* RMA_OUT alone: the inline payload follows its descriptor */
	req.flags = WIRE_REQ_RMA_OUT;
	req.in_len = 3;
	assert_int_equal(wire_req_encode(&req, buf), WIRE_REQ_LEN + WIRE_RMA_OUT_LEN);
	assert_int_equal(wire_req_decode(buf, WIRE_REQ_LEN + WIRE_RMA_OUT_LEN + 3, &out), 0);
	assert_int_equal(wire_req_decode(buf, WIRE_REQ_LEN + WIRE_RMA_OUT_LEN + 2, &out),
			 -EMSGSIZE);
}

static void test_req_decode_tag(void **state)
{
	struct wire_req req = sample_req, out;
	uint8_t buf[WIRE_REQ_LEN + 5];

	req.reply_tag = 0x0fffffffu;
	wire_req_encode(&req, buf);
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), 0);
	assert_int_equal(out.reply_tag, 0x0fffffffu);
	req.reply_tag = 0x10000000u;
	wire_req_encode(&req, buf);
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), -EPROTO);
	req.reply_tag = 0xffffffffu;
	wire_req_encode(&req, buf);
	assert_int_equal(wire_req_decode(buf, sizeof(buf), &out), -EPROTO);
}

static void test_reply_round_trip(void **state)
{
	struct wire_reply rep = {.out_len = 3, .fn_rc = -7, .reply_tag = 0x0123456u}, out;
	static const uint8_t want[WIRE_REPLY_LEN] = {
	    0x03, 0,	0,    0,    0, 0, 0, 0, /* out_len */
	    0xf9, 0xff, 0xff, 0xff,		/* fn_rc = -7 */
	    0x56, 0x34, 0x12, 0x00,		/* reply_tag */
	};
	uint8_t buf[WIRE_REPLY_LEN + 3];

	wire_reply_encode(&rep, buf);
	assert_memory_equal(buf, want, sizeof(want));
	memset(&out, 0, sizeof(out));
	assert_int_equal(wire_reply_decode(buf, sizeof(buf), &out), 0);
	assert_true(out.out_len == 3);
	assert_int_equal(out.fn_rc, -7);
	assert_int_equal(out.reply_tag, 0x0123456u);
}

static void test_reply_decode_errors(void **state)
{
	struct wire_reply rep = {.out_len = 8, .fn_rc = 0, .reply_tag = 1}, out;
	uint8_t buf[WIRE_REPLY_LEN + 8];

	wire_reply_encode(&rep, buf);
	assert_int_equal(wire_reply_decode(buf, WIRE_REPLY_LEN - 1, &out), -EPROTO);
	/* out_len past the buffer: -EMSGSIZE, with the fields decoded (a
	 * WIRE_OUTSIZE reply's out_len is the size the function needed) */
	memset(&out, 0, sizeof(out));
	assert_int_equal(wire_reply_decode(buf, WIRE_REPLY_LEN + 7, &out), -EMSGSIZE);
	assert_true(out.out_len == 8 && out.reply_tag == 1);
	assert_int_equal(wire_reply_decode(buf, WIRE_REPLY_LEN + 8, &out), 0);
	rep.out_len = UINT64_MAX;
	wire_reply_encode(&rep, buf);
	assert_int_equal(wire_reply_decode(buf, sizeof(buf), &out), -EMSGSIZE);
	assert_true(out.out_len == UINT64_MAX);
}

/* ---- reply immediate ------------------------------------------------------ */

static void test_reply_imm(void **state)
{
	static const uint32_t tags[] = {0, 1, 0x12345, 0x0abcdef1u, 0x0fffffffu};

	for (unsigned s = 0; s <= WIRE_STATUS_MAX; s++) {
		for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
			uint32_t imm = wire_reply_imm(tags[i], (enum wire_status)s);

			assert_int_equal(imm, tags[i] | s << 28);
			assert_int_equal(wire_reply_imm_tag(imm), tags[i]);
			assert_int_equal(wire_reply_imm_status(imm), s);
		}
	}
	/* a tag wider than 28 bits cannot spill into the status */
	assert_int_equal(wire_reply_imm(0xffffffffu, WIRE_OK), 0x0fffffffu);
	assert_int_equal(wire_reply_imm_status(wire_reply_imm(0xffffffffu, WIRE_NOFUNC)),
			 WIRE_NOFUNC);
	assert_int_equal(wire_reply_imm(0x0abcdef1u, WIRE_EVICTED), 0x7abcdef1u);
}

/* ---- control messages ----------------------------------------------------- */

static size_t hello(uint8_t *buf, uint32_t depth, uint32_t name_len)
{
	struct wire_msg m = {.type = WIRE_HELLO};

	for (int i = 0; i < WIRE_TOKEN_LEN; i++)
		m.u.hello.token[i] = (uint8_t)(0xa0 + i);
	m.u.hello.depth = depth;
	m.u.hello.index = 0x11223344u;
	m.u.hello.name_len = name_len;
	for (uint32_t i = 0; i < name_len && i < WIRE_NAME_MAX; i++)
		m.u.hello.name[i] = (uint8_t)i;
	return wire_msg_encode(&m, buf);
}

static void test_msg_hello_round_trip(void **state)
{
	uint8_t buf[WIRE_MSG_MAX];
	struct wire_msg out;
	size_t len;

	for (uint32_t name_len = 1; name_len <= WIRE_NAME_MAX; name_len += 85) {
		len = hello(buf, 16, name_len);
		assert_int_equal(len, 6 + WIRE_TOKEN_LEN + 12 + name_len);
		assert_int_equal(wire_msg_decode(buf, len, &out), 0);
		assert_int_equal(out.type, WIRE_HELLO);
		assert_int_equal(out.u.hello.depth, 16);
		assert_int_equal(out.u.hello.index, 0x11223344u);
		assert_int_equal(out.u.hello.name_len, name_len);
		for (int i = 0; i < WIRE_TOKEN_LEN; i++)
			assert_int_equal(out.u.hello.token[i], 0xa0 + i);
		for (uint32_t i = 0; i < name_len; i++)
			assert_int_equal(out.u.hello.name[i], (uint8_t)i);
	}
	len = hello(buf, 1, WIRE_NAME_MAX);
	assert_true(len <= WIRE_MSG_MAX);
	assert_int_equal(wire_msg_decode(buf, len, &out), 0);
	assert_int_equal(out.u.hello.name_len, WIRE_NAME_MAX);
}

static void test_msg_layout(void **state)
{
	static const uint8_t want_bye[] = {0x46, 0x41, 0x41, 0x53, WIRE_VERSION, WIRE_BYE, 0x04,
					   0x03, 0x02, 0x01, 0xa0, 0xa1,	 0xa2,	   0xa3,
					   0xa4, 0xa5, 0xa6, 0xa7, 0xa8,	 0xa9,	   0xaa,
					   0xab, 0xac, 0xad, 0xae, 0xaf};
	struct wire_msg m = {.type = WIRE_BYE};
	uint8_t buf[WIRE_MSG_MAX];

	m.u.bye.cookie = 0x01020304u;
	for (int i = 0; i < WIRE_TOKEN_LEN; i++)
		m.u.bye.token[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(wire_msg_encode(&m, buf), sizeof(want_bye));
	assert_memory_equal(buf, want_bye, sizeof(want_bye));
	/* HELLO: token at 6, depth at 22, index at 26, name_len at 30, name at 34 */
	assert_int_equal(hello(buf, 0x0a0b0c0du, 3), 37);
	assert_int_equal(buf[5], WIRE_HELLO);
	assert_int_equal(buf[6], 0xa0);
	assert_int_equal(buf[21], 0xa0 + WIRE_TOKEN_LEN - 1);
	assert_int_equal(buf[22], 0x0d);
	assert_int_equal(buf[25], 0x0a);
	assert_int_equal(buf[26], 0x44);
	assert_int_equal(buf[29], 0x11);
	assert_int_equal(buf[30], 3);
	assert_int_equal(buf[33], 0);
	assert_int_equal(buf[34], 0);
	assert_int_equal(buf[36], 2);
}

static void test_msg_welcome_round_trip(void **state)
{
	struct wire_msg m = {.type = WIRE_WELCOME}, out;
	uint8_t buf[WIRE_MSG_MAX];
	size_t len;

	m.u.welcome.status = -ENOSPC;
	m.u.welcome.base = 12;
	m.u.welcome.depth = 4;
	m.u.welcome.cookie = 0xdeadbeefu;
	m.u.welcome.worker = 4095;
	len = wire_msg_encode(&m, buf);
	assert_int_equal(len, 6 + 20);
	assert_int_equal(wire_msg_decode(buf, len, &out), 0);
	assert_int_equal(out.type, WIRE_WELCOME);
	assert_int_equal(out.u.welcome.status, -ENOSPC);
	assert_int_equal(out.u.welcome.base, 12);
	assert_int_equal(out.u.welcome.depth, 4);
	assert_int_equal(out.u.welcome.cookie, 0xdeadbeefu);
	assert_int_equal(out.u.welcome.worker, 4095);
}

static void test_msg_bye_evict_round_trip(void **state)
{
	static const uint8_t types[] = {WIRE_BYE, WIRE_EVICT};
	uint8_t buf[WIRE_MSG_MAX];
	struct wire_msg m, out;
	size_t len;

	for (size_t i = 0; i < sizeof(types); i++) {
		memset(&m, 0, sizeof(m));
		m.type = types[i];
		m.u.bye.cookie = 0xcafe0000u + (uint32_t)i;
		memset(m.u.bye.token, 0x5a + (int)i, WIRE_TOKEN_LEN);
		len = wire_msg_encode(&m, buf);
		assert_int_equal(len, 6 + 4 + WIRE_TOKEN_LEN);
		assert_int_equal(wire_msg_decode(buf, len, &out), 0);
		assert_int_equal(out.type, types[i]);
		assert_int_equal(out.u.bye.cookie, 0xcafe0000u + (uint32_t)i);
		assert_memory_equal(out.u.bye.token, m.u.bye.token, WIRE_TOKEN_LEN);
		assert_true(wire_token_equal(out.u.bye.token, m.u.bye.token));
		out.u.bye.token[WIRE_TOKEN_LEN - 1] ^= 1;
		assert_false(wire_token_equal(out.u.bye.token, m.u.bye.token));
	}
}

static void test_msg_region_round_trip(void **state)
{
	struct wire_msg m = {.type = WIRE_REGION}, out;
	uint8_t buf[WIRE_MSG_MAX];
	size_t len;

	m.u.region.cookie = 0x01020304u;
	m.u.region.addr = 0x7f0011223344ull;
	m.u.region.key = UINT64_MAX - 1;
	m.u.region.size = 1ull << 50;
	len = wire_msg_encode(&m, buf);
	assert_int_equal(len, 6 + 28);
	assert_int_equal(buf[5], 6);
	assert_int_equal(wire_msg_decode(buf, len, &out), 0);
	assert_int_equal(out.type, WIRE_REGION);
	assert_int_equal(out.u.region.cookie, 0x01020304u);
	assert_int_equal(out.u.region.addr, 0x7f0011223344ull);
	assert_int_equal(out.u.region.key, UINT64_MAX - 1);
	assert_int_equal(out.u.region.size, 1ull << 50);
	/* any other length is refused */
	assert_int_equal(wire_msg_decode(buf, len - 1, &out), -EPROTO);
	assert_int_equal(wire_msg_decode(buf, len + 1, &out), -EPROTO);
}

static void test_msg_decode_header_errors(void **state)
{
	struct wire_msg m = {.type = WIRE_BYE}, out;
	uint8_t buf[WIRE_MSG_MAX];
	size_t len;

	m.u.bye.cookie = 1;
	len = wire_msg_encode(&m, buf);
	assert_int_equal(wire_msg_decode(buf, len, &out), 0);
	/* bad magic */
	buf[0] ^= 1;
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	buf[0] ^= 1;
	buf[3] = 0;
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	buf[3] = 0x53;
	/* bad version */
	buf[4] = WIRE_VERSION + 1;
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	buf[4] = 0;
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	buf[4] = WIRE_VERSION;
	/* unknown types */
	buf[5] = 0;
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	buf[5] = WIRE_PING + 1;
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	buf[5] = 0xff;
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	buf[5] = WIRE_BYE;
	/* shorter than the common header */
	for (size_t l = 0; l < 6; l++)
		assert_int_equal(wire_msg_decode(buf, l, &out), -EPROTO);
	assert_int_equal(wire_msg_decode(buf, len, &out), 0);
}

static void test_msg_decode_truncated(void **state)
{
	static const uint8_t types[] = {WIRE_HELLO, WIRE_WELCOME, WIRE_BYE, WIRE_EVICT};
	uint8_t buf[WIRE_MSG_MAX];
	struct wire_msg out;

	for (size_t i = 0; i < sizeof(types); i++) {
		struct wire_msg m = {.type = types[i]};
		size_t len;

		if (types[i] == WIRE_HELLO) {
			m.u.hello.depth = 2;
			m.u.hello.name_len = 8;
		}
		len = wire_msg_encode(&m, buf);
		assert_int_equal(wire_msg_decode(buf, len, &out), 0);
		/* every shorter length, and one byte too many */
		for (size_t l = 0; l < len; l++)
			assert_int_equal(wire_msg_decode(buf, l, &out), -EPROTO);
		buf[len] = 0;
		assert_int_equal(wire_msg_decode(buf, len + 1, &out), -EPROTO);
	}
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void test_msg_decode_hello_errors(void **state)
{
	uint8_t buf[WIRE_MSG_MAX];
	struct wire_msg out;
	size_t len;

	/* name_len 0 */
	len = hello(buf, 1, 0);
	assert_int_equal(len, 34);
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	/* name_len above WIRE_NAME_MAX, consistent with the length */
	len = hello(buf, 1, WIRE_NAME_MAX);
	put_le32(buf + 30, WIRE_NAME_MAX + 1);
	buf[len] = 0x55;
	assert_int_equal(wire_msg_decode(buf, len + 1, &out), -EPROTO);
	put_le32(buf + 30, UINT32_MAX);
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	/* name_len inconsistent with the message length */
	len = hello(buf, 1, 10);
	assert_int_equal(wire_msg_decode(buf, len, &out), 0);
	put_le32(buf + 30, 11);
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	put_le32(buf + 30, 9);
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	/* depth 0 */
	len = hello(buf, 0, 10);
	assert_int_equal(wire_msg_decode(buf, len, &out), -EPROTO);
	/* shorter than token + depth + index + name_len */
	hello(buf, 1, 1);
	assert_int_equal(wire_msg_decode(buf, 6 + WIRE_TOKEN_LEN + 11, &out), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_req_round_trip),
	    cmocka_unit_test(test_req_layout),
	    cmocka_unit_test(test_req_decode_short),
	    cmocka_unit_test(test_req_decode_in_len),
	    cmocka_unit_test(test_req_decode_flags),
	    cmocka_unit_test(test_req_rma),
	    cmocka_unit_test(test_req_decode_tag),
	    cmocka_unit_test(test_reply_round_trip),
	    cmocka_unit_test(test_reply_decode_errors),
	    cmocka_unit_test(test_reply_imm),
	    cmocka_unit_test(test_msg_hello_round_trip),
	    cmocka_unit_test(test_msg_layout),
	    cmocka_unit_test(test_msg_welcome_round_trip),
	    cmocka_unit_test(test_msg_bye_evict_round_trip),
	    cmocka_unit_test(test_msg_region_round_trip),
	    cmocka_unit_test(test_msg_decode_header_errors),
	    cmocka_unit_test(test_msg_decode_truncated),
	    cmocka_unit_test(test_msg_decode_hello_errors),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
