/*
 * httpd: the metrics page over HTTP (MetricsPort), the only user of
 * libmicrohttpd. The server runs in a thread of its own, so that nothing
 * a peer does (every user of the cluster can reach the port) touches the
 * event loop: it serves the last page the loop published, a copy taken
 * under a mutex, and nothing else of colocd's state.
 *
 * It answers GET (and HEAD) /metrics only; any other path is 404, any
 * other method 405; a request with a body is refused. Connections are
 * bounded: HTTPD_MAX_CONNECTIONS in all, HTTPD_MAX_PER_IP from one
 * address, closed after HTTPD_IDLE_S of silence, and a request's headers
 * fit in HTTPD_REQUEST_MEMORY bytes.
 */
#ifndef COLOC_HTTPD_H
#define COLOC_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#define HTTPD_MAX_CONNECTIONS 32
#define HTTPD_MAX_PER_IP 4
#define HTTPD_IDLE_S 5
#define HTTPD_REQUEST_MEMORY 16384

struct httpd;

/* Listens on addr (a host name or numeric address, its first address)
 * port and starts the server's thread. Until a page is published,
 * /metrics answers 503. 0 with *out, or -errno with err saying why. */
int httpd_create(const char *addr, uint16_t port, struct httpd **out, char *err, size_t errlen);

/* The page to serve from now on: text (len bytes, from malloc) is taken,
 * the previous one freed. Called by the loop; safe while the server's
 * thread serves. */
void httpd_publish(struct httpd *h, char *text, size_t len);

/* Stops the thread, closes the port and frees h; NULL is a no-op. */
void httpd_destroy(struct httpd *h);

#endif
