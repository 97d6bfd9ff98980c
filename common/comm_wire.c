/*
 * comm_wire: encoders and decoders of the comm header and comm messages
 * (comm_wire.h). Stateless; decoders check every length before reading.
 */
#include "config.h"

#include "comm_wire.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

struct cursor {
	uint8_t *p;
	const uint8_t *q;
};

static void w32(struct cursor *c, uint32_t v)
{
	v = htole32(v);
	memcpy(c->p, &v, sizeof(v));
	c->p += sizeof(v);
}

static void w64(struct cursor *c, uint64_t v)
{
	v = htole64(v);
	memcpy(c->p, &v, sizeof(v));
	c->p += sizeof(v);
}

static void wbytes(struct cursor *c, const void *src, size_t len)
{
	memcpy(c->p, src, len);
	c->p += len;
}

static uint32_t r32(struct cursor *c)
{
	uint32_t v;

	memcpy(&v, c->q, sizeof(v));
	c->q += sizeof(v);
	return le32toh(v);
}

static uint64_t r64(struct cursor *c)
{
	uint64_t v;

	memcpy(&v, c->q, sizeof(v));
	c->q += sizeof(v);
	return le64toh(v);
}

size_t comm_hdr_size(unsigned size, const size_t *addr_len)
{
	size_t n = COMM_HDR_FIXED;

	for (unsigned i = 0; i < size; i++)
		n += 2 + addr_len[i];
	return n;
}

size_t comm_hdr_encode(const struct comm_hdr *h, void *buf)
{
	struct cursor c = {.p = buf};
	uint8_t *start = buf, *len_at, *end;

	w32(&c, COMM_MAGIC);
	w32(&c, COMM_VERSION);
	w32(&c, h->rank);
	w32(&c, h->size);
	w64(&c, h->job);
	w32(&c, h->timeout_ms);
	len_at = c.p;
	w32(&c, 0);
	for (unsigned i = 0; i < h->size; i++) {
		uint16_t l = htole16(h->addr_len[i]);

		wbytes(&c, &l, sizeof(l));
		wbytes(&c, h->addr[i], h->addr_len[i]);
	}
	end = c.p;
	c.p = len_at;
	w32(&c, (uint32_t)(end - start));
	return (size_t)(end - start);
}

int comm_hdr_decode(const void *buf, size_t len, struct comm_hdr *h)
{
	struct cursor c = {.q = buf};
	const uint8_t *end = (const uint8_t *)buf + len;

	if (len < COMM_HDR_FIXED || r32(&c) != COMM_MAGIC)
		return -EPROTO;
	if (r32(&c) != COMM_VERSION)
		return -EINVAL;
	h->rank = r32(&c);
	h->size = r32(&c);
	h->job = r64(&c);
	h->timeout_ms = r32(&c);
	h->len = r32(&c);
	if (h->size == 0 || h->size > COMM_SIZE_MAX || h->rank >= h->size || h->len > len ||
	    h->len < COMM_HDR_FIXED || h->timeout_ms == 0)
		return -EINVAL;
	end = (const uint8_t *)buf + h->len;
	for (unsigned i = 0; i < h->size; i++) {
		uint16_t l;

		if (end - c.q < 2)
			return -EINVAL;
		memcpy(&l, c.q, sizeof(l));
		c.q += sizeof(l);
		h->addr_len[i] = le16toh(l);
		if (h->addr_len[i] == 0 || h->addr_len[i] > WIRE_NAME_MAX ||
		    end - c.q < h->addr_len[i])
			return -EINVAL;
		h->addr[i] = c.q;
		c.q += h->addr_len[i];
	}
	return c.q == end ? 0 : -EINVAL;
}

bool comm_msg_is(const void *buf, size_t len)
{
	uint32_t magic;

	if (len < sizeof(magic))
		return false;
	memcpy(&magic, buf, sizeof(magic));
	return le32toh(magic) == COMM_MAGIC;
}

size_t comm_msg_encode(const struct comm_msg *m, void *buf)
{
	struct cursor c = {.p = buf};

	w32(&c, COMM_MAGIC);
	w32(&c, m->kind);
	wbytes(&c, m->token, WIRE_TOKEN_LEN);
	w64(&c, m->job);
	w32(&c, (uint32_t)m->src);
	w32(&c, (uint32_t)m->tag);
	w32(&c, m->seq);
	w32(&c, m->total);
	w32(&c, m->offset);
	w32(&c, (uint32_t)m->status);
	if (m->chunk_len)
		wbytes(&c, m->chunk, m->chunk_len);
	return COMM_MSG_HDR + m->chunk_len;
}

int comm_msg_decode(const void *buf, size_t len, struct comm_msg *m)
{
	struct cursor c = {.q = buf};

	if (len < COMM_MSG_HDR || len > WIRE_MSG_MAX || r32(&c) != COMM_MAGIC)
		return -EPROTO;
	m->kind = (uint8_t)r32(&c);
	memcpy(m->token, c.q, WIRE_TOKEN_LEN);
	c.q += WIRE_TOKEN_LEN;
	m->job = r64(&c);
	m->src = (int32_t)r32(&c);
	m->tag = (int32_t)r32(&c);
	m->seq = r32(&c);
	m->total = r32(&c);
	m->offset = r32(&c);
	m->status = (int32_t)r32(&c);
	m->chunk_len = (uint32_t)(len - COMM_MSG_HDR);
	m->chunk = c.q;
	if (m->kind != COMM_DATA && m->kind != COMM_ABORT)
		return -EPROTO;
	if (m->kind == COMM_DATA && (m->offset > m->total || m->chunk_len > m->total - m->offset ||
				     (m->chunk_len == 0 && m->total != 0)))
		return -EPROTO;
	return 0;
}
