/*
 * test_conns: colocd's inbound connections (colocd/conns.c) over a real
 * epoll set, real TCP sockets on loopback and a real unix socket. Issue 11
 * defect 4: one address holds at most MaxConnectionsPerHost connections
 * while the unix socket is still served; a deferred request followed by
 * more bytes no longer wakes the loop (the level-triggered spin); a reply
 * its peer does not read does not block the loop.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "conns.h"
#include "frame.h"

#define REQUEST "{\"v\":1,\"type\":\"job_end\",\"job\":7}"

struct fixture {
	int ep;
	struct conns *c;
	uint16_t port;
	char path[108];
	bool defer;	  /* the handler keeps requests unanswered */
	unsigned handled; /* requests handed to the handler */
	conn_ref last;	  /* the last one's reference */
	bool last_local;  /* and whether it came through the unix socket */
};

static void reply_ok(struct fixture *f, conn_ref ref)
{
	struct msg ok = {.type = MSG_OK};

	conns_reply(f->c, ref, &ok);
}

static void handler(void *ctx, conn_ref ref, const struct conns_peer *peer, const struct msg *m)
{
	struct fixture *f = ctx;

	assert_int_equal(m->type, MSG_JOB_END);
	f->handled++;
	f->last = ref;
	f->last_local = peer->local;
	if (f->defer)
		conns_defer(f->c, ref);
	else
		reply_ok(f, ref);
}

/* Runs the loop for ms; returns the events it handled. */
static int pump(struct fixture *f, int ms)
{
	int64_t end = clock_ms() + ms;
	struct epoll_event ev[16];
	int total = 0;

	for (;;) {
		int64_t left = end - clock_ms();
		int n = epoll_wait(f->ep, ev, 16, left > 0 ? (int)left : 0);

		for (int i = 0; i < n; i++)
			assert_true(conns_event(f->c, ev[i].data.ptr));
		total += n > 0 ? n : 0;
		conns_tick(f->c);
		if (left <= 0)
			return total;
	}
}

static int setup_with(void **state, unsigned per_host)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	char err[256] = "";
	int fd;

	if (!f)
		return -1;
	f->ep = epoll_create1(EPOLL_CLOEXEC);
	f->c = conns_create(f->ep, per_host, handler, f);
	snprintf(f->path, sizeof(f->path), "/tmp/coloc-test-conns.%d.sock", (int)getpid());
	if (f->ep < 0 || !f->c)
		return -1;
	/* a port the kernel picks, then listened on by conns */
	a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
		return -1;
	close(fd);
	f->port = ntohs(a.sin_port);
	if (conns_listen_tcp(f->c, "127.0.0.1", f->port, 2, err, sizeof(err)) != 1) {
		print_error("%s\n", err);
		return -1;
	}
	if (conns_listen_unix(f->c, f->path, 1) < 0)
		return -1;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 3);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	conns_destroy(f->c);
	close(f->ep);
	unlink(f->path);
	free(f);
	return 0;
}

/* A TCP connection to the fixture from source ("127.0.0.x"). */
static int tcp_client(const struct fixture *f, const char *source)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(f->port)};
	struct sockaddr_in b = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, source, &b.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&b, sizeof(b)), 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static int unix_client(const struct fixture *f)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Whether colocd closed fd (end of file or reset), without waiting. */
static bool closed(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Sends the request on fd, runs the loop, reads the reply. */
static void exchange(struct fixture *f, int fd, const char *want)
{
	char *reply = NULL;
	size_t len;

	assert_int_equal(frame_send(fd, REQUEST, strlen(REQUEST), 1000), 0);
	pump(f, 100);
	assert_int_equal(frame_recv(fd, &reply, &len, 1000), 0);
	assert_non_null(strstr(reply, want));
	free(reply);
}

static void test_request_reply(void **state)
{
	struct fixture *f = *state;
	int t = tcp_client(f, "127.0.0.1"), u = unix_client(f);

	exchange(f, t, "\"ok\"");
	assert_false(f->last_local);
	exchange(f, u, "\"ok\"");
	assert_true(f->last_local);
	assert_int_equal(f->handled, 2);
	assert_false(conns_alive(f->c, f->last)); /* answered */
	close(t);
	close(u);
}

static void test_per_host_limit(void **state)
{
	struct fixture *f = *state;
	int fd[4], other, u;

	for (int i = 0; i < 4; i++)
		fd[i] = tcp_client(f, "127.0.0.2");
	pump(f, 100);
	/* three from 127.0.0.2 are kept (MaxConnectionsPerHost=3), the fourth reset */
	for (int i = 0; i < 3; i++)
		assert_false(closed(fd[i]));
	assert_true(closed(fd[3]));
	/* another address, and the unix socket, are served all the same */
	other = tcp_client(f, "127.0.0.3");
	exchange(f, other, "\"ok\"");
	u = unix_client(f);
	exchange(f, u, "\"ok\"");
	/* one closes: its address may connect again */
	close(fd[0]);
	pump(f, 50);
	fd[0] = tcp_client(f, "127.0.0.2");
	exchange(f, fd[0], "\"ok\"");
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	close(other);
	close(u);
}

/* A connection serves request after request (a node agent's heartbeats),
 * counts once against its address, and is closed after CONNS_KEEP_MS of
 * silence between requests. */
static void test_keep_alive(void **state)
{
	struct fixture *f = *state;
	int fd, more[3];

	/* opened and closed many times: the count per address stays right */
	for (int i = 0; i < 20; i++) {
		int x = tcp_client(f, "127.0.0.4");

		exchange(f, x, "\"ok\"");
		close(x);
		pump(f, 5);
	}
	fd = tcp_client(f, "127.0.0.4");
	for (int i = 0; i < 3; i++)
		exchange(f, fd, "\"ok\"");
	assert_int_equal(f->handled, 23);
	assert_false(closed(fd));
	for (int i = 0; i < 3; i++)
		more[i] = tcp_client(f, "127.0.0.4");
	pump(f, 50);
	assert_false(closed(more[0]));
	assert_false(closed(more[1]));
	assert_true(closed(more[2])); /* fd and two more: MaxConnectionsPerHost=3 */
	exchange(f, fd, "\"ok\"");
	pump(f, CONNS_KEEP_MS + 200);
	assert_true(closed(fd));
	for (int i = 0; i < 3; i++)
		close(more[i]);
	close(fd);
}

static void test_deferred_extra_bytes_do_not_spin(void **state)
{
	struct fixture *f = *state;
	int fd = tcp_client(f, "127.0.0.1");
	struct epoll_event ev[4];
	char *reply = NULL;
	size_t len;

	f->defer = true;
	assert_int_equal(frame_send(fd, REQUEST, strlen(REQUEST), 1000), 0);
	assert_int_equal(send(fd, "more bytes", 10, 0), 10);
	pump(f, 100);
	assert_int_equal(f->handled, 1);
	assert_true(conns_alive(f->c, f->last));
	/* the bytes after the request wake nothing: before, each epoll_wait
	 * returned at once (EPOLLIN, level-triggered, never read) */
	for (int i = 0; i < 3; i++)
		assert_int_equal(epoll_wait(f->ep, ev, 4, 30), 0);
	/* the reply still reaches the peer */
	reply_ok(f, f->last);
	pump(f, 50);
	assert_int_equal(frame_recv(fd, &reply, &len, 1000), 0);
	assert_non_null(strstr(reply, "\"ok\""));
	free(reply);
	close(fd);
}

static void test_deferred_peer_gone(void **state)
{
	struct fixture *f = *state;
	int fd = unix_client(f);

	f->defer = true;
	assert_int_equal(frame_send(fd, REQUEST, strlen(REQUEST), 1000), 0);
	pump(f, 100);
	assert_true(conns_alive(f->c, f->last));
	close(fd);
	pump(f, 100);
	assert_false(conns_alive(f->c, f->last)); /* a late answer is ignored */
	reply_ok(f, f->last);
}

static void test_unread_reply_does_not_block(void **state)
{
	struct fixture *f = *state;
	int fd = tcp_client(f, "127.0.0.1"), small = 4096;
	struct msg big = {.type = MSG_RESULT, .u.result.what = MSG_QUERY_NODES};
	size_t n = 0, got = 0;
	int64_t t0;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	while (n < 60000) { /* nodes with long cpu lists, short of a frame */
		union msg_row *row = msg_result_add(&big);

		assert_non_null(row);
		snprintf(row->node.name, sizeof(row->node.name), "n%zu", n);
		snprintf(row->node.state, sizeof(row->node.state), "up");
		memset(row->node.pus, '1', 3000);
		n += 3000;
	}
	f->defer = true;
	assert_int_equal(frame_send(fd, REQUEST, strlen(REQUEST), 1000), 0);
	pump(f, 100);
	t0 = clock_ms();
	conns_reply(f->c, f->last, &big);
	/* before, it waited up to 1 s for the peer to read */
	assert_true(clock_ms() - t0 < 500);
	assert_false(conns_alive(f->c, f->last));
	/* the peer reads, the loop writes the rest */
	while (got < n) {
		char buf[8192];
		ssize_t r;

		pump(f, 10);
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r > 0)
			got += (size_t)r;
		else
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	}
	assert_true(got > n); /* the frame: its head, the message around the cpu lists */
	msg_free(&big);
	close(fd);
}

/* A result of n node rows named from first on, each with a cpu list of
 * pus characters (about pus bytes a row on the wire). */
static struct msg nodes_page(unsigned first, unsigned n, size_t pus, uint64_t next)
{
	struct msg m = {.type = MSG_RESULT, .u.result.what = MSG_QUERY_NODES};

	for (unsigned i = 0; i < n; i++) {
		union msg_row *row = msg_result_add(&m);

		assert_non_null(row);
		snprintf(row->node.name, sizeof(row->node.name), "n%u", first + i);
		snprintf(row->node.state, sizeof(row->node.state), "up");
		memset(row->node.pus, '1', pus);
	}
	m.u.result.next = next;
	return m;
}

/* The next frame on fd is a result whose first row is node name. */
static void expect_page(int fd, const char *name, bool last)
{
	char *text = NULL, err[256] = "";
	struct msg m;
	size_t len;

	assert_int_equal(frame_recv(fd, &text, &len, 2000), 0);
	if (msg_decode(text, &m, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	free(text);
	assert_int_equal(m.type, MSG_RESULT);
	assert_string_equal(m.u.result.rows[0].node.name, name);
	assert_int_equal(m.u.result.next == 0, last);
	msg_free(&m);
}

/* A streamed reply: parts, then the reply, in order on the connection; the
 * request stays open (its ref valid) between them, and a part the peer
 * has not read yet holds the next one back (conns_ready 0) without
 * holding the loop. */
static void test_reply_parts(void **state)
{
	struct fixture *f = *state;
	int fd = tcp_client(f, "127.0.0.1");
	struct msg p1 = nodes_page(0, 2, 10, 3), p2 = nodes_page(2, 1, 10, 4),
		   end = nodes_page(3, 1, 10, 0), big = nodes_page(10, 20, 3000, 30);
	int64_t t0;

	f->defer = true;
	assert_int_equal(frame_send(fd, REQUEST, strlen(REQUEST), 1000), 0);
	pump(f, 100);
	assert_int_equal(f->handled, 1);
	assert_int_equal(conns_ready(f->c, f->last), 1);
	conns_reply_part(f->c, f->last, &p1);
	assert_int_equal(conns_ready(f->c, f->last), 1); /* out at once */
	conns_reply_part(f->c, f->last, &p2);
	assert_true(conns_alive(f->c, f->last));
	conns_reply(f->c, f->last, &end);
	assert_int_equal(conns_ready(f->c, f->last), -1); /* answered */
	pump(f, 50);
	expect_page(fd, "n0", false);
	expect_page(fd, "n2", false);
	expect_page(fd, "n3", true);
	/* the connection reads its next request */
	assert_int_equal(frame_send(fd, REQUEST, strlen(REQUEST), 1000), 0);
	pump(f, 100);
	assert_int_equal(f->handled, 2);
	reply_ok(f, f->last);
	close(fd);

	/* a peer that does not read: the part waits, the loop goes on */
	fd = unix_client(f); /* its buffers do not grow: a few parts fill them */
	assert_int_equal(frame_send(fd, REQUEST, strlen(REQUEST), 1000), 0);
	pump(f, 100);
	assert_int_equal(f->handled, 3);
	t0 = clock_ms();
	for (int i = 0; i < 200 && conns_ready(f->c, f->last) == 1; i++)
		conns_reply_part(f->c, f->last, &big);
	assert_true(clock_ms() - t0 < 2000);
	assert_int_equal(conns_ready(f->c, f->last), 0);
	pump(f, 50);
	assert_int_equal(conns_ready(f->c, f->last), 0);
	/* it reads: the part goes out, and the stream may go on */
	for (int i = 0; i < 100 && conns_ready(f->c, f->last) == 0; i++) {
		char buf[65536];

		pump(f, 10);
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	}
	assert_int_equal(conns_ready(f->c, f->last), 1);
	/* the peer goes away mid-stream: stale */
	close(fd);
	pump(f, 100);
	assert_int_equal(conns_ready(f->c, f->last), -1);
	conns_reply_part(f->c, f->last, &p1); /* ignored */
	msg_free(&p1);
	msg_free(&p2);
	msg_free(&end);
	msg_free(&big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_request_reply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_per_host_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deferred_extra_bytes_do_not_spin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deferred_peer_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unread_reply_does_not_block, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reply_parts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
