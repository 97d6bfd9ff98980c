/*
 * frame: length-prefixed frames on stream sockets (see frame.h). Owns no
 * state beyond a struct frame_reader's partial frame.
 */
#include "config.h"

#include "frame.h"
#include "clock.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Waits until fd is ready for events or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int left = (int)(deadline - clock_ms());
	int rc;

	if (left <= 0)
		return -ETIMEDOUT;
	rc = poll(&p, 1, left);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

static int send_all(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		int rc = wait_fd(fd, POLLOUT, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

int frame_send(int fd, const void *payload, size_t len, int timeout_ms)
{
	int64_t deadline = clock_ms() + timeout_ms;
	uint8_t head[4];
	int rc;

	if (len == 0 || len > FRAME_MAX)
		return -EMSGSIZE;
	head[0] = (uint8_t)(len >> 24);
	head[1] = (uint8_t)(len >> 16);
	head[2] = (uint8_t)(len >> 8);
	head[3] = (uint8_t)len;
	rc = send_all(fd, head, sizeof(head), deadline);
	return rc ? rc : send_all(fd, payload, len, deadline);
}

void frame_reader_init(struct frame_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void frame_reader_fini(struct frame_reader *r)
{
	free(r->body);
	frame_reader_init(r);
}

/* One read into the frame; 1 complete, 0 need more, <0 error. */
static int feed_once(struct frame_reader *r, int fd)
{
	ssize_t got;

	if (r->have < sizeof(r->head)) {
		got = recv(fd, r->head + r->have, sizeof(r->head) - r->have, MSG_DONTWAIT);
		if (got == 0)
			return -ECONNRESET;
		if (got < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0
											 : -errno;
		r->have += (size_t)got;
		if (r->have < sizeof(r->head))
			return 0;
		r->len = (size_t)r->head[0] << 24 | (size_t)r->head[1] << 16 |
			 (size_t)r->head[2] << 8 | r->head[3];
		if (r->len == 0 || r->len > FRAME_MAX)
			return -EMSGSIZE;
		r->body = malloc(r->len + 1);
		if (!r->body)
			return -ENOMEM;
	}
	size_t off = r->have - sizeof(r->head);

	got = recv(fd, r->body + off, r->len - off, MSG_DONTWAIT);
	if (got == 0)
		return -ECONNRESET;
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	r->have += (size_t)got;
	if (r->have - sizeof(r->head) < r->len)
		return 0;
	r->body[r->len] = '\0';
	if (memchr(r->body, '\0', r->len))
		return -EPROTO;
	return 1;
}

int frame_reader_feed(struct frame_reader *r, int fd, char **payload, size_t *len)
{
	int rc = feed_once(r, fd);

	if (rc < 0) {
		frame_reader_fini(r);
		return rc;
	}
	if (rc == 0)
		return 0;
	*payload = r->body;
	*len = r->len;
	r->body = NULL;
	frame_reader_fini(r);
	return 1;
}

int frame_recv(int fd, char **payload, size_t *len, int timeout_ms)
{
	int64_t deadline = clock_ms() + timeout_ms;
	struct frame_reader r;
	int rc;

	frame_reader_init(&r);
	while ((rc = frame_reader_feed(&r, fd, payload, len)) == 0) {
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc) {
			frame_reader_fini(&r);
			return rc;
		}
	}
	return rc < 0 ? rc : 0;
}
