/*
 * wire: encoders and decoders for the data-plane headers and control
 * messages described in wire.h. Stateless; every decoder checks the length
 * it was given before reading, and every control message starts with
 * {magic u32, version u8, type u8}.
 */
#include "config.h"

#include "wire.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* Little-endian cursor helpers: put_* advance p, get_* advance p. */
static void put8(uint8_t **p, uint8_t v)
{
	*(*p)++ = v;
}
static void put16(uint8_t **p, uint16_t v)
{
	v = htole16(v);
	memcpy(*p, &v, 2);
	*p += 2;
}
static void put32(uint8_t **p, uint32_t v)
{
	v = htole32(v);
	memcpy(*p, &v, 4);
	*p += 4;
}
static void put64(uint8_t **p, uint64_t v)
{
	v = htole64(v);
	memcpy(*p, &v, 8);
	*p += 8;
}
static uint8_t get8(const uint8_t **p)
{
	return *(*p)++;
}
static uint16_t get16(const uint8_t **p)
{
	uint16_t v;
	memcpy(&v, *p, 2);
	*p += 2;
	return le16toh(v);
}
static uint32_t get32(const uint8_t **p)
{
	uint32_t v;
	memcpy(&v, *p, 4);
	*p += 4;
	return le32toh(v);
}
static uint64_t get64(const uint8_t **p)
{
	uint64_t v;
	memcpy(&v, *p, 8);
	*p += 8;
	return le64toh(v);
}

size_t wire_req_head_len(uint16_t flags)
{
	return WIRE_REQ_LEN + (flags & WIRE_REQ_RMA_IN ? WIRE_RMA_IN_LEN : 0) +
	       (flags & WIRE_REQ_RMA_OUT ? WIRE_RMA_OUT_LEN : 0);
}

size_t wire_req_encode(const struct wire_req *req, void *buf)
{
	uint8_t *p = buf;

	put32(&p, req->cookie);
	put32(&p, req->reply_tag);
	put16(&p, req->fn);
	put16(&p, req->flags);
	put32(&p, req->in_len);
	put64(&p, req->reply_addr);
	put64(&p, req->reply_key);
	put64(&p, req->out_cap);
	put64(&p, req->session);
	if (req->flags & WIRE_REQ_RMA_IN) {
		put64(&p, req->in_rma.addr);
		put64(&p, req->in_rma.key);
		put64(&p, req->in_rma.len);
	}
	if (req->flags & WIRE_REQ_RMA_OUT) {
		put64(&p, req->out_rma.addr);
		put64(&p, req->out_rma.key);
	}
	return (size_t)(p - (uint8_t *)buf);
}

int wire_req_decode(const void *buf, size_t len, struct wire_req *req)
{
	const uint8_t *p = buf;

	if (len < WIRE_REQ_LEN)
		return -EPROTO;
	req->cookie = get32(&p);
	req->reply_tag = get32(&p);
	req->fn = get16(&p);
	req->flags = get16(&p);
	req->in_len = get32(&p);
	req->reply_addr = get64(&p);
	req->reply_key = get64(&p);
	req->out_cap = get64(&p);
	req->session = get64(&p);
	req->in_rma = (struct wire_rma){0};
	req->out_rma = (struct wire_rma){0};
	if ((req->flags & ~(WIRE_REQ_OP_MASK | WIRE_REQ_RMA_IN | WIRE_REQ_RMA_OUT)) ||
	    wire_req_op(req) > WIRE_OP_MAX || req->reply_tag > 0x0fffffffu ||
	    len < wire_req_head_len(req->flags))
		return -EPROTO;
	if (req->flags & WIRE_REQ_RMA_IN) {
		req->in_rma.addr = get64(&p);
		req->in_rma.key = get64(&p);
		req->in_rma.len = get64(&p);
		if (req->in_rma.len == 0 || req->in_len != 0)
			return -EPROTO;
	}
	if (req->flags & WIRE_REQ_RMA_OUT) {
		req->out_rma.addr = get64(&p);
		req->out_rma.key = get64(&p);
		req->out_rma.len = req->out_cap;
	}
	/* the other fields are valid: a reply can say what is too big */
	if (req->in_len > len - wire_req_head_len(req->flags) || req->in_rma.len > WIRE_RMA_MAX)
		return -EMSGSIZE;
	return 0;
}

void wire_reply_encode(const struct wire_reply *rep, void *buf)
{
	uint8_t *p = buf;

	put64(&p, rep->out_len);
	put32(&p, (uint32_t)rep->fn_rc);
	put32(&p, rep->reply_tag);
}

int wire_reply_decode(const void *buf, size_t len, struct wire_reply *rep)
{
	const uint8_t *p = buf;

	if (len < WIRE_REPLY_LEN)
		return -EPROTO;
	rep->out_len = get64(&p);
	rep->fn_rc = (int32_t)get32(&p);
	rep->reply_tag = get32(&p);
	if (rep->out_len > len - WIRE_REPLY_LEN)
		return -EMSGSIZE; /* fine for WIRE_OUTSIZE: nothing follows */
	return 0;
}

bool wire_token_equal(const uint8_t a[WIRE_TOKEN_LEN], const uint8_t b[WIRE_TOKEN_LEN])
{
	uint8_t diff = 0;

	for (int i = 0; i < WIRE_TOKEN_LEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

size_t wire_msg_encode(const struct wire_msg *msg, void *buf)
{
	uint8_t *p = buf;

	put32(&p, WIRE_MAGIC);
	put8(&p, WIRE_VERSION);
	put8(&p, msg->type);
	switch (msg->type) {
	case WIRE_HELLO:
		memcpy(p, msg->u.hello.token, WIRE_TOKEN_LEN);
		p += WIRE_TOKEN_LEN;
		put32(&p, msg->u.hello.depth);
		put32(&p, msg->u.hello.index);
		put32(&p, msg->u.hello.name_len);
		memcpy(p, msg->u.hello.name, msg->u.hello.name_len);
		p += msg->u.hello.name_len;
		break;
	case WIRE_WELCOME:
		put32(&p, (uint32_t)msg->u.welcome.status);
		put32(&p, msg->u.welcome.base);
		put32(&p, msg->u.welcome.depth);
		put32(&p, msg->u.welcome.cookie);
		put32(&p, msg->u.welcome.worker);
		break;
	case WIRE_BYE:
	case WIRE_EVICT:
	case WIRE_PING:
		put32(&p, msg->u.bye.cookie);
		memcpy(p, msg->u.bye.token, WIRE_TOKEN_LEN);
		p += WIRE_TOKEN_LEN;
		break;
	case WIRE_REGION:
		put32(&p, msg->u.region.cookie);
		put64(&p, msg->u.region.addr);
		put64(&p, msg->u.region.key);
		put64(&p, msg->u.region.size);
		break;
	default:
		break;
	}
	return (size_t)(p - (uint8_t *)buf);
}

int wire_msg_decode(const void *buf, size_t len, struct wire_msg *msg)
{
	const uint8_t *p = buf;
	size_t body;

	if (len < 6)
		return -EPROTO;
	if (get32(&p) != WIRE_MAGIC || get8(&p) != WIRE_VERSION)
		return -EPROTO;
	memset(msg, 0, sizeof(*msg));
	msg->type = get8(&p);
	body = len - 6;
	switch (msg->type) {
	case WIRE_HELLO:
		if (body < WIRE_TOKEN_LEN + 12)
			return -EPROTO;
		memcpy(msg->u.hello.token, p, WIRE_TOKEN_LEN);
		p += WIRE_TOKEN_LEN;
		msg->u.hello.depth = get32(&p);
		msg->u.hello.index = get32(&p);
		msg->u.hello.name_len = get32(&p);
		if (msg->u.hello.name_len == 0 || msg->u.hello.name_len > WIRE_NAME_MAX ||
		    msg->u.hello.name_len != body - WIRE_TOKEN_LEN - 12 || msg->u.hello.depth == 0)
			return -EPROTO;
		memcpy(msg->u.hello.name, p, msg->u.hello.name_len);
		return 0;
	case WIRE_WELCOME:
		if (body != 20)
			return -EPROTO;
		msg->u.welcome.status = (int32_t)get32(&p);
		msg->u.welcome.base = get32(&p);
		msg->u.welcome.depth = get32(&p);
		msg->u.welcome.cookie = get32(&p);
		msg->u.welcome.worker = get32(&p);
		return 0;
	case WIRE_BYE:
	case WIRE_EVICT:
	case WIRE_PING:
		if (body != 4 + WIRE_TOKEN_LEN)
			return -EPROTO;
		msg->u.bye.cookie = get32(&p);
		memcpy(msg->u.bye.token, p, WIRE_TOKEN_LEN);
		return 0;
	case WIRE_REGION:
		if (body != 28)
			return -EPROTO;
		msg->u.region.cookie = get32(&p);
		msg->u.region.addr = get64(&p);
		msg->u.region.key = get64(&p);
		msg->u.region.size = get64(&p);
		return 0;
	default:
		return -EPROTO;
	}
}
