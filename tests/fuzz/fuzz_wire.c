/*
 * fuzz_wire: the data plane's headers and control messages (common/wire.c)
 * as a worker of faas-executor decodes them (a request header at the start
 * of its slot, a HELLO or BYE message) and as libfaas decodes a worker's
 * (a reply header, a WELCOME or EVICT). The first byte of the input picks
 * the decoder; the rest is the slot, the reply or the message, in a buffer
 * of exactly its size.
 *
 * Properties: a request header that decodes (or gives -EMSGSIZE, which the
 * worker answers) has its payload inside the slot, and encodes back to
 * the same fields; a reply's output is inside the buffer; a control
 * message that decodes encodes back to exactly its bytes.
 */
#include "config.h"

#include "fuzz.h"

#include "wire.h"

#include <errno.h>

/* Reads every payload byte, as a function would (ASan sees a byte past
 * the buffer). */
static unsigned touch(const uint8_t *p, size_t len)
{
	unsigned sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return sum;
}

static void request(const uint8_t *slot, size_t len)
{
	struct wire_req req, again;
	uint8_t buf[WIRE_REQ_LEN + WIRE_RMA_IN_LEN + WIRE_RMA_OUT_LEN];
	int rc = wire_req_decode(slot, len, &req);
	size_t head;

	if (rc == -EPROTO)
		return;
	FUZZ_CHECK(rc == 0 || rc == -EMSGSIZE, "wire_req_decode returned %d", rc);
	FUZZ_CHECK((req.flags & ~(WIRE_REQ_OP_MASK | WIRE_REQ_RMA_IN | WIRE_REQ_RMA_OUT)) == 0 &&
		       wire_req_op(&req) <= WIRE_OP_MAX && req.reply_tag <= 0x0fffffffu,
		   "flags %u, tag %#x", req.flags, req.reply_tag);
	head = wire_req_head_len(req.flags);
	FUZZ_CHECK(len >= head, "a %zu-byte slot decodes with %zu header bytes", len, head);
	if (rc == 0) {
		FUZZ_CHECK(req.in_len <= len - head, "a payload of %u bytes in a %zu-byte slot",
			   req.in_len, len);
		FUZZ_CHECK(
		    !(req.flags & WIRE_REQ_RMA_IN) ||
			(req.in_len == 0 && req.in_rma.len >= 1 && req.in_rma.len <= WIRE_RMA_MAX),
		    "an input descriptor of %llu bytes beside %u inline",
		    (unsigned long long)req.in_rma.len, req.in_len);
		(void)touch(slot + head, req.in_len);
	}
	FUZZ_CHECK(wire_req_encode(&req, buf) == head, "the header re-encodes to %zu bytes", head);
	rc = wire_req_decode(buf, head, &again);
	FUZZ_CHECK(rc == 0 ||
		       (rc == -EMSGSIZE && (req.in_len > 0 || req.in_rma.len > WIRE_RMA_MAX)),
		   "re-decoding gives %d", rc);
	FUZZ_CHECK(again.cookie == req.cookie && again.reply_tag == req.reply_tag &&
		       again.fn == req.fn && again.in_len == req.in_len &&
		       again.reply_addr == req.reply_addr && again.reply_key == req.reply_key &&
		       again.out_cap == req.out_cap && again.flags == req.flags &&
		       again.in_rma.addr == req.in_rma.addr && again.in_rma.len == req.in_rma.len &&
		       again.out_rma.key == req.out_rma.key && again.session == req.session,
		   "a round trip changes a request header");
}

static void reply(const uint8_t *buf, size_t len)
{
	struct wire_reply rep, again;
	uint8_t out[WIRE_REPLY_LEN];

	if (wire_reply_decode(buf, len, &rep) != 0)
		return;
	FUZZ_CHECK(len >= WIRE_REPLY_LEN && rep.out_len <= len - WIRE_REPLY_LEN,
		   "an output of %llu bytes in %zu", (unsigned long long)rep.out_len, len);
	(void)touch(buf + WIRE_REPLY_LEN, rep.out_len);
	wire_reply_encode(&rep, out);
	FUZZ_CHECK(memcmp(out, buf, WIRE_REPLY_LEN) == 0, "a reply header encodes differently");
	FUZZ_CHECK(wire_reply_decode(out, sizeof(out), &again) == 0 || rep.out_len > 0,
		   "a round trip refuses a reply header");
}

static void message(const uint8_t *buf, size_t len)
{
	uint8_t out[WIRE_MSG_MAX + 64];
	struct wire_msg m;
	size_t n;
	int rc = wire_msg_decode(buf, len, &m);

	if (rc) {
		FUZZ_CHECK(rc == -EPROTO, "wire_msg_decode returned %d", rc);
		return;
	}
	FUZZ_CHECK(m.type >= WIRE_HELLO && m.type <= WIRE_REGION, "type %u decodes", m.type);
	if (m.type == WIRE_HELLO)
		FUZZ_CHECK(m.u.hello.name_len >= 1 && m.u.hello.name_len <= WIRE_NAME_MAX &&
			       m.u.hello.depth >= 1,
			   "a HELLO with a %u-byte name, depth %u", m.u.hello.name_len,
			   m.u.hello.depth);
	n = wire_msg_encode(&m, out);
	FUZZ_CHECK(n <= WIRE_MSG_MAX, "an encoding of %zu bytes", n);
	FUZZ_CHECK(n == len && memcmp(out, buf, len) == 0,
		   "a %zu-byte message of type %u encodes to %zu other bytes", len, m.type, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	if (size < 1)
		return 0;
	buf = fuzz_copy(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		request(buf, size - 1);
		break;
	case 1:
		reply(buf, size - 1);
		break;
	default:
		message(buf, size - 1);
		break;
	}
	free(buf);
	return 0;
}
