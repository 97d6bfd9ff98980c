/*
 * frame: the control plane's framing. A frame is a 4-byte big-endian
 * length followed by that many bytes of UTF-8 JSON text (decoded by the
 * codec, not here). Lengths of 0 or above FRAME_MAX are protocol errors:
 * the connection is dropped, the daemon goes on.
 *
 * Two ways to read: frame_recv() blocks (bounded by a timeout) for clients
 * such as colocctl and the SPANK plugin; struct frame_reader accumulates a
 * frame from a non-blocking socket across calls, for a daemon's event loop.
 */
#ifndef COLOC_FRAME_H
#define COLOC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAX (64 * 1024)

/* Writes one frame, waiting at most timeout_ms for the socket to drain.
 * 0, -EMSGSIZE (len 0 or > FRAME_MAX), -ETIMEDOUT, or the write's -errno. */
int frame_send(int fd, const void *payload, size_t len, int timeout_ms);

/* Reads one frame into a malloc'd, NUL-terminated buffer (*payload, freed
 * by the caller). 0; -ECONNRESET on end of file (also mid-frame);
 * -EMSGSIZE for a length of 0 or above FRAME_MAX; -EPROTO for a NUL byte
 * in the text; -ETIMEDOUT; or the read's -errno. */
int frame_recv(int fd, char **payload, size_t *len, int timeout_ms);

struct frame_reader {
	uint8_t head[4];
	size_t have; /* bytes of head, then of body */
	size_t len;  /* body length, once the head is complete */
	char *body;
};

void frame_reader_init(struct frame_reader *r);
void frame_reader_fini(struct frame_reader *r);
/* Reads what fd has (non-blocking). Returns 1 with a complete frame in
 * *payload (the caller owns it; the reader is reset), 0 when more bytes
 * are needed (-EAGAIN from read), or a negative error as frame_recv. */
int frame_reader_feed(struct frame_reader *r, int fd, char **payload, size_t *len);

#endif
