/*
 * httpd: see httpd.h. libmicrohttpd runs one thread (epoll) over a
 * listening socket made here (so that a bind failure says which address
 * and why). The page is a malloc'd text behind a mutex: the loop swaps in
 * a new one (httpd_publish), the server's thread copies it into each
 * response; the mutex is held for a pointer swap or a memcpy, never for
 * I/O.
 */
#include "config.h"

#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct httpd {
	struct MHD_Daemon *mhd;
	int fd; /* the listening socket; -1 */
	pthread_mutex_t lock;
	char *page; /* under lock */
	size_t len;
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *text,
			      const char *allow)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* Every request, in the server's thread: answered at its first call,
 * before any body is read. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct httpd *h = cls;
	const char *clen =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct MHD_Response *r;
	enum MHD_Result rc;
	char *copy = NULL;
	size_t len = 0;

	(void)version;
	(void)upload_data;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "colocd serves GET /metrics only\n",
			      "GET, HEAD");
	if (*upload_data_size || (clen && strcmp(clen, "0") != 0) ||
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return answer(c, MHD_HTTP_BAD_REQUEST, "a GET has no body\n", NULL);
	if (strcmp(url, "/metrics") != 0)
		return answer(c, MHD_HTTP_NOT_FOUND, "colocd serves GET /metrics only\n", NULL);
	pthread_mutex_lock(&h->lock);
	if (h->page && (copy = malloc(h->len + 1)) != NULL) {
		memcpy(copy, h->page, h->len);
		len = h->len;
	}
	pthread_mutex_unlock(&h->lock);
	if (!copy)
		return answer(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no metrics yet; retry\n", NULL);
	r = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(copy);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

static int listen_on(const char *addr, uint16_t port, char *err, size_t errlen)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	char service[8];
	int one = 1, fd, rc;

	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(addr, service, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve MetricsAddress %.200s: %s", addr,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -EADDRNOTAVAIL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot listen on %.200s port %u for metrics: %s", addr, port,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return rc;
	}
	freeaddrinfo(res);
	return fd;
}

int httpd_create(const char *addr, uint16_t port, struct httpd **out, char *err, size_t errlen)
{
	struct httpd *h = calloc(1, sizeof(*h));
	int rc;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	h->fd = listen_on(addr, port, err, errlen);
	if (h->fd < 0) {
		rc = h->fd;
		goto fail;
	}
	h->mhd = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC, port, NULL, NULL,
	    on_request, h, MHD_OPTION_LISTEN_SOCKET, h->fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)HTTPD_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)HTTPD_MAX_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPD_IDLE_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_REQUEST_MEMORY, MHD_OPTION_END);
	if (!h->mhd) {
		rc = -EIO;
		snprintf(err, errlen, "cannot start the metrics server on %.200s port %u", addr,
			 port);
		goto fail;
	}
	*out = h;
	return 0;
fail:
	if (h->fd >= 0)
		close(h->fd);
	pthread_mutex_destroy(&h->lock);
	free(h);
	return rc;
}

void httpd_publish(struct httpd *h, char *text, size_t len)
{
	char *old;

	pthread_mutex_lock(&h->lock);
	old = h->page;
	h->page = text;
	h->len = len;
	pthread_mutex_unlock(&h->lock);
	free(old);
}

void httpd_destroy(struct httpd *h)
{
	if (!h)
		return;
	/* quiesced first, so that libmicrohttpd leaves the socket to us */
	if (MHD_quiesce_daemon(h->mhd) == MHD_INVALID_SOCKET)
		h->fd = -1;	 /* it closes it then */
	MHD_stop_daemon(h->mhd); /* joins its thread */
	if (h->fd >= 0)
		close(h->fd);
	pthread_mutex_destroy(&h->lock);
	free(h->page);
	free(h);
}
