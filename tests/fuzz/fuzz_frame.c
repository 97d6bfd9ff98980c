/*
 * fuzz_frame: the control plane's framing as a daemon and a client read it
 * (common/frame.c). The input is the byte stream a peer sends, after one
 * byte choosing how: bit 0 clear, a daemon's frame_reader fed from a
 * non-blocking socket that the stream reaches in chunks of 1 to 128 bytes
 * (the other bits); set, a client's blocking frame_recv after the peer
 * sent everything and shut its side down.
 *
 * Property: the frames and the error read are those of a reference reader
 * of the format (4-byte big-endian length, 1..FRAME_MAX bytes of text
 * without NUL): the same payloads in order, then -EMSGSIZE, -EPROTO or
 * -ECONNRESET where the reference stops.
 */
#include "config.h"

#include "fuzz.h"

#include "frame.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

struct expect {
	const uint8_t *data;
	size_t size, pos;
};

/* The reference: the next frame of the stream (1, with *body and *len),
 * or the error that ends it. */
static int expect_next(struct expect *e, const uint8_t **body, size_t *len)
{
	size_t left = e->size - e->pos, n;
	const uint8_t *p = e->data + e->pos;

	if (left < 4)
		return -ECONNRESET;
	n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	if (n == 0 || n > FRAME_MAX)
		return -EMSGSIZE;
	if (left - 4 < n)
		return -ECONNRESET;
	if (memchr(p + 4, '\0', n))
		return -EPROTO;
	e->pos += 4 + n;
	*body = p + 4;
	*len = n;
	return 1;
}

/* Checks one result of the reader against the reference; true when the
 * stream goes on. */
static bool check(struct expect *e, int rc, char *payload, size_t len)
{
	const uint8_t *body = NULL;
	size_t want_len = 0;
	int want = expect_next(e, &body, &want_len);

	FUZZ_CHECK(rc == want, "the reader gave %d where the reference gives %d", rc, want);
	if (rc != 1)
		return false;
	FUZZ_CHECK(len == want_len && memcmp(payload, body, len) == 0 && payload[len] == '\0',
		   "a frame of %zu bytes read as %zu bytes", want_len, len);
	free(payload);
	return true;
}

static void daemon_side(int fd[2], const uint8_t *data, size_t size, size_t chunk)
{
	struct expect e = {data, size, 0};
	struct frame_reader r;
	size_t sent = 0;
	char *payload;
	size_t len;
	int rc;

	frame_reader_init(&r);
	if (size == 0)
		shutdown(fd[1], SHUT_WR);
	for (;;) {
		if (sent < size) {
			size_t n = size - sent < chunk ? size - sent : chunk;
			ssize_t w = send(fd[1], data + sent, n, MSG_DONTWAIT | MSG_NOSIGNAL);

			FUZZ_CHECK(w > 0, "the test cannot write its socket");
			sent += (size_t)w;
			if (sent == size)
				shutdown(fd[1], SHUT_WR);
		}
		/* what a daemon's event loop does when the socket is readable */
		while ((rc = frame_reader_feed(&r, fd[0], &payload, &len)) == 1)
			if (!check(&e, rc, payload, len))
				break;
		if (rc < 0) {
			check(&e, rc, NULL, 0);
			break;
		}
	}
	frame_reader_fini(&r);
}

static void client_side(int fd[2], const uint8_t *data, size_t size)
{
	struct expect e = {data, size, 0};
	size_t sent = 0;
	char *payload;
	size_t len;
	int rc;

	while (sent < size) {
		ssize_t w = send(fd[1], data + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);

		FUZZ_CHECK(w > 0, "the test cannot write its socket (%zu bytes)", size);
		sent += (size_t)w;
	}
	shutdown(fd[1], SHUT_WR);
	do {
		payload = NULL;
		len = 0;
		rc = frame_recv(fd[0], &payload, &len, 10000);
		if (rc == 0)
			rc = 1;
	} while (check(&e, rc, payload, len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd[2];

	if (size < 1 || size > FRAME_MAX + 4096) /* a socket buffer holds it all */
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) != 0)
		abort();
	if (data[0] & 1)
		client_side(fd, data + 1, size - 1);
	else
		daemon_side(fd, data + 1, size - 1, (size_t)(data[0] >> 1) + 1);
	close(fd[0]);
	close(fd[1]);
	return 0;
}
