/*
 * ctl_client: one request to the controller and its reply (see
 * ctl_client.h). Owns nothing between calls: each call resolves the
 * controller, connects with a non-blocking socket (poll bounds the
 * connect), sends one frame, reads one frame and closes. The lease round
 * trip (acquire, release) is built on it here, once, for every client;
 * so is the parser of FAAS_CONTROLLER_TIMEOUT_MS. No locking: the
 * caller's buffers are its own.
 */
#include "config.h"

#include "ctl_client.h"
#include "auth.h"
#include "clock.h"
#include "cred.h"
#include "frame.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* "host:port", or "[v6]:port" for an address with colons. */
static void ctl_addr_name(const char *host, uint16_t port, char *out, size_t len)
{
	if (strchr(host, ':'))
		snprintf(out, len, "[%s]:%u", host, (unsigned)port);
	else
		snprintf(out, len, "%s:%u", host, (unsigned)port);
}

static int ms_left(int64_t deadline)
{
	int64_t left = deadline - clock_ms();

	return left > 0 ? (int)left : 0;
}

/* Connects to one address before the deadline. The fd, or -errno. */
static int ctl_connect_one(const struct addrinfo *ai, int64_t deadline)
{
	int fd, rc, soerr = 0;
	socklen_t sl = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR) {
		rc = -errno;
		goto close_fd;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int left = ms_left(deadline);

		if (left == 0) {
			rc = -ETIMEDOUT;
			goto close_fd;
		}
		rc = poll(&p, 1, left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			rc = -errno;
			goto close_fd;
		}
		if (rc > 0)
			break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
		rc = -errno;
		goto close_fd;
	}
	if (soerr) {
		rc = -soerr;
		goto close_fd;
	}
	return fd;
close_fd:
	close(fd);
	return rc;
}

/* Connects to the controller; the fd, or -errno with a message in err. */
static int ctl_connect(const char *host, uint16_t port_no, const char *keys, const char *addr,
		       int64_t deadline, int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
	struct addrinfo *res = NULL, *ai;
	char port[8];
	int rc, fd = -ECONNREFUSED;

	snprintf(port, sizeof(port), "%u", (unsigned)port_no);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc == EAI_NONAME || rc == EAI_FAIL || rc == EAI_AGAIN)
		/* AI_ADDRCONFIG hides loopback-only families on hosts without
		 * a configured address: try once more without it. */
		rc = getaddrinfo(host, port,
				 &(struct addrinfo){.ai_family = AF_UNSPEC,
						    .ai_socktype = SOCK_STREAM,
						    .ai_flags = AI_NUMERICSERV},
				 &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s (%s); check %s in coloc.conf", host,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc), keys);
		return rc == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = ctl_connect_one(ai, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		return fd;
	switch (-fd) {
	case ECONNREFUSED:
		snprintf(err, errlen,
			 "colocd is not running on %s (connection refused); start it, or check "
			 "%s in coloc.conf",
			 addr, keys);
		break;
	case ETIMEDOUT:
		snprintf(err, errlen,
			 "colocd on %s did not accept the connection within %d ms; check that the "
			 "host is up, that no firewall drops the port, and %s in coloc.conf",
			 addr, timeout_ms, keys);
		break;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		snprintf(err, errlen,
			 "cannot reach colocd at %s (%s); check %s in coloc.conf and the "
			 "network",
			 addr, strerror(-fd), keys);
		fd = -EHOSTUNREACH;
		break;
	default:
		snprintf(err, errlen, "cannot connect to the controller at %s: %s", addr,
			 strerror(-fd));
	}
	return fd;
}

static bool ctl_carries_cred(enum msg_type t)
{
	return t == MSG_LEASE_ACQUIRE || t == MSG_LEASE_RELEASE || t == MSG_QUERY ||
	       t == MSG_DRAIN || t == MSG_NODE_STATE || t == MSG_HEARTBEAT || t == MSG_EXEC_START ||
	       t == MSG_EXEC_STOP;
}

/* A node agent's report: node_state or heartbeat (sessions, short TTLs). */
static bool ctl_is_report(enum msg_type t)
{
	return t == MSG_NODE_STATE || t == MSG_HEARTBEAT;
}

int ctl_request(const struct coloc_config *cfg, struct msg *req, struct msg *reply, int timeout_ms,
		char *err, size_t errlen)
{
	return ctl_request_at(cfg, cfg->controller_host, cfg->controller_port,
			      "ControllerHost/ControllerPort", AUTH_DEST_CONTROLLER, req, reply,
			      timeout_ms, err, errlen);
}

/* Sends text on fd and reads the reply into *reply; 0 or -errno with err
 * naming addr (and keys, the coloc.conf keys behind it). */
/* Reads one reply from fd into *reply. 0, or -errno with err. */
static int receive(int fd, const char *addr, const char *keys, int64_t deadline, int timeout_ms,
		   struct msg *reply, char *err, size_t errlen)
{
	char derr[MSG_TEXT_MAX], *answer = NULL;
	size_t len = 0;
	int rc = frame_recv(fd, &answer, &len, ms_left(deadline));

	switch (-rc) {
	case 0:
		break;
	case ETIMEDOUT:
		snprintf(err, errlen,
			 "colocd on %s did not answer within %d ms; it may be overloaded or hung "
			 "(check its log), or raise the timeout",
			 addr, timeout_ms);
		return rc;
	case ECONNRESET:
		snprintf(err, errlen,
			 "colocd on %s closed the connection without answering; check its log",
			 addr);
		return rc;
	case EMSGSIZE:
	case EPROTO:
		snprintf(err, errlen,
			 "%s sent a malformed frame: is colocd (and not another service) listening "
			 "there? Check %s in coloc.conf",
			 addr, keys);
		return -EPROTO;
	default:
		snprintf(err, errlen, "cannot read the reply of colocd on %s: %s", addr,
			 strerror(-rc));
		return rc;
	}
	rc = msg_decode(answer, reply, derr, sizeof(derr));
	if (rc) {
		snprintf(err, errlen, "colocd on %s sent a malformed reply: %s", addr,
			 rc == -ENOMEM ? "out of memory" : derr);
		rc = rc == -ENOMEM ? -ENOMEM : -EPROTO;
	}
	free(answer);
	return rc;
}

static int exchange(int fd, const char *addr, const char *keys, const char *text, int64_t deadline,
		    int timeout_ms, struct msg *reply, char *err, size_t errlen)
{
	int rc = frame_send(fd, text, strlen(text), ms_left(deadline));

	if (rc) {
		if (rc == -ETIMEDOUT)
			snprintf(err, errlen,
				 "colocd on %s did not take the request within %d ms; it may be "
				 "hung (check its log)",
				 addr, timeout_ms);
		else
			snprintf(err, errlen, "cannot send the request to colocd on %s: %s", addr,
				 strerror(-rc));
		return rc;
	}
	return receive(fd, addr, keys, deadline, timeout_ms, reply, err, errlen);
}

/* req, signed, as text (*text, the caller's). 0 or -errno with err. */
static int to_text(const struct msg *req, char **text, char *err, size_t errlen)
{
	int rc = msg_encode(req, text);

	if (rc)
		snprintf(err, errlen, "cannot encode the %s request: %s", msg_type_name(req->type),
			 strerror(-rc));
	return rc;
}

/* The request as text, with a fresh credential bound to it and dest where
 * it carries one (*nonce then gets the credential's nonce). */
static int encode(const struct coloc_config *cfg, const char *dest, struct msg *req, char **text,
		  uint8_t nonce[MSG_NONCE_LEN], char *err, size_t errlen)
{
	struct cred_opts o;
	int rc;

	if (ctl_carries_cred(req->type)) {
		cred_opts_from_config(&o, cfg);
		if (ctl_is_report(req->type)) /* used at once: the replay cache holds it less */
			o.ttl_s = CTL_REPORT_TTL_S;
		rc = auth_sign(&o, req, dest, NULL, nonce, err, errlen);
		if (rc)
			return rc;
	}
	return to_text(req, text, err, errlen);
}

/* A lease grant is believed only with root's credential bound to it and
 * to the request (nonce): anyone else listening on the port could send
 * one. 0, or -EACCES with err (and *reply freed). */
static int check_grant(const struct coloc_config *cfg, const char *addr, const char *keys,
		       const struct msg *req, const uint8_t nonce[MSG_NONCE_LEN], struct msg *reply,
		       char *err, size_t errlen)
{
	struct cred_opts o;
	struct cred_id who;
	char why[512] = "";
	int rc = -EACCES;

	cred_opts_from_config(&o, cfg);
	if (!ctl_carries_cred(req->type))
		snprintf(why, sizeof(why), "a %s request is never granted a lease",
			 msg_type_name(req->type));
	else if (!reply->cred[0])
		snprintf(why, sizeof(why), "it carries no credential");
	else if ((rc = auth_check(&o, reply, AUTH_DEST_REPLY, nonce, &who, why, sizeof(why))) ==
		     0 &&
		 who.uid != 0) {
		snprintf(why, sizeof(why), "its credential is uid %u's, not root's", who.uid);
		rc = -EACCES;
	}
	if (rc == 0)
		return 0;
	snprintf(err, errlen,
		 "refused the lease grant from %s: it is not authenticated (%s); something other "
		 "than colocd may be listening on that port. Check %s in coloc.conf, that colocd "
		 "runs there, and that AuthType and the MUNGE key are the same everywhere",
		 addr, why, keys);
	msg_free(reply);
	memset(reply, 0, sizeof(*reply));
	return -EACCES;
}

int ctl_request_at(const struct coloc_config *cfg, const char *host, uint16_t port,
		   const char *keys, const char *dest, struct msg *req, struct msg *reply,
		   int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	uint8_t nonce[MSG_NONCE_LEN] = {0};
	char addr[300], *text = NULL;
	int fd, rc;

	memset(reply, 0, sizeof(*reply));
	ctl_addr_name(host, port, addr, sizeof(addr));
	rc = encode(cfg, dest, req, &text, nonce, err, errlen);
	if (rc)
		return rc;
	fd = ctl_connect(host, port, keys, addr, deadline, timeout_ms, err, errlen);
	if (fd < 0) {
		free(text);
		return fd;
	}
	rc = exchange(fd, addr, keys, text, deadline, timeout_ms, reply, err, errlen);
	close(fd);
	free(text);
	if (rc == 0 && reply->type == MSG_LEASE_GRANT)
		rc = check_grant(cfg, addr, keys, req, nonce, reply, err, errlen);
	return rc;
}

/* The request as text on a kept connection with session s: a session
 * credential when one is on, else a credential proposing a new key
 * (*proposed), else encode's. */
static int encode_kept(const struct coloc_config *cfg, const char *dest, struct ctl_session *s,
		       bool connected, struct msg *req, char **text, uint8_t nonce[MSG_NONCE_LEN],
		       bool *proposed, char *err, size_t errlen)
{
	struct cred_opts o;
	int rc;

	*proposed = false;
	if (!s || !ctl_is_report(req->type) || s->refused)
		return encode(cfg, dest, req, text, nonce, err, errlen);
	if (!connected)
		s->on = false;
	if (s->on && (int64_t)time(NULL) < s->renew) {
		rc = auth_session_sign(s->key, ++s->counter, req, dest, err, errlen);
	} else {
		cred_opts_from_config(&o, cfg);
		o.ttl_s = CTL_REPORT_TTL_S;
		s->on = false;
		if (getrandom(s->key, sizeof(s->key), 0) != (ssize_t)sizeof(s->key))
			return encode(cfg, dest, req, text, nonce, err, errlen);
		rc = auth_sign_keyed(&o, req, dest, s->key, nonce, err, errlen);
		*proposed = rc == 0;
	}
	if (rc)
		return rc;
	return to_text(req, text, err, errlen);
}

int ctl_request_kept(const struct coloc_config *cfg, const char *host, uint16_t port,
		     const char *keys, const char *dest, int *fd, struct ctl_session *s,
		     struct msg *req, struct msg *reply, int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	uint8_t nonce[MSG_NONCE_LEN] = {0};
	char addr[300], *text = NULL;
	bool reused = *fd >= 0, proposed, sessioned;
	int rc;

	memset(reply, 0, sizeof(*reply));
	ctl_addr_name(host, port, addr, sizeof(addr));
	for (;;) {
		sessioned = s && s->on && ctl_is_report(req->type) && *fd >= 0;
		rc = encode_kept(cfg, dest, s, *fd >= 0, req, &text, nonce, &proposed, err, errlen);
		if (rc)
			return rc;
		if (*fd < 0)
			*fd =
			    ctl_connect(host, port, keys, addr, deadline, timeout_ms, err, errlen);
		if (*fd < 0) {
			rc = *fd;
			*fd = -1;
			free(text);
			return rc;
		}
		rc = exchange(*fd, addr, keys, text, deadline, timeout_ms, reply, err, errlen);
		free(text);
		text = NULL;
		if (rc == 0 && (proposed || sessioned) && reply->type == MSG_ERROR &&
		    strcmp(reply->u.error.code, "EACCES") == 0 && clock_ms() < deadline) {
			/* a session refused (expired, or a controller without
			 * them): once more with a credential of its own */
			s->on = false;
			s->refused |= proposed;
			msg_free(reply);
			memset(reply, 0, sizeof(*reply));
			continue;
		}
		/* the controller took the credential and its key (a heartbeat it
		 * cannot place is still authenticated: ESTALE) */
		if (rc == 0 && proposed &&
		    (reply->type == MSG_OK ||
		     (reply->type == MSG_ERROR && strcmp(reply->u.error.code, "ESTALE") == 0))) {
			s->on = true;
			s->counter = 0;
			s->renew = (int64_t)time(NULL) + CTL_REPORT_TTL_S - 5;
		}
		if (rc == 0)
			break;
		close(*fd);
		*fd = -1;
		if (s)
			*s = (struct ctl_session){0};
		/* a kept connection colocd has closed meanwhile (idle, restarted):
		 * once more on a new one, with a fresh credential */
		if (!reused || (rc != -ECONNRESET && rc != -EPIPE) || clock_ms() >= deadline)
			return rc;
		reused = false;
	}
	if (reply->type == MSG_LEASE_GRANT)
		rc = check_grant(cfg, addr, keys, req, nonce, reply, err, errlen);
	return rc;
}

/* Whether reply is an older controller's refusal of a streamed query. */
static bool stream_refused(const struct msg *reply)
{
	return reply->type == MSG_ERROR && strcmp(reply->u.error.code, "EPROTO") == 0 &&
	       strstr(reply->u.error.message, "\"stream\"");
}

int ctl_query_pages(const struct coloc_config *cfg, struct msg *req, int timeout_ms, ctl_page_fn fn,
		    void *arg, char *err, size_t errlen)
{
	const char *keys = "ControllerHost/ControllerPort";
	int64_t deadline = clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	uint8_t nonce[MSG_NONCE_LEN] = {0};
	char addr[300], *text = NULL;
	struct msg reply;
	bool more = true;
	int fd, rc;

	ctl_addr_name(cfg->controller_host, cfg->controller_port, addr, sizeof(addr));
	/* usage and records come in one answer, the others in pages */
	req->filter.stream = req->u.query != MSG_QUERY_USAGE && req->u.query != MSG_QUERY_RECORDS;
	rc = encode(cfg, AUTH_DEST_CONTROLLER, req, &text, nonce, err, errlen);
	if (rc)
		return rc;
	fd = ctl_connect(cfg->controller_host, cfg->controller_port, keys, addr, deadline,
			 timeout_ms, err, errlen);
	if (fd < 0) {
		free(text);
		return fd;
	}
	rc = exchange(fd, addr, keys, text, deadline, timeout_ms, &reply, err, errlen);
	free(text);
	if (rc == 0 && stream_refused(&reply)) {
		/* a controller without streams: page after page, a request each */
		close(fd);
		msg_free(&reply);
		req->filter.stream = false;
		for (rc = 0; rc == 0 && more;) {
			rc = ctl_request(cfg, req, &reply, timeout_ms, err, errlen);
			if (rc)
				break;
			more = reply.type == MSG_RESULT && reply.u.result.next > req->filter.from;
			req->filter.from = more ? reply.u.result.next : 0;
			rc = fn(arg, &reply);
			msg_free(&reply);
		}
		return rc;
	}
	while (rc == 0) {
		/* a result with next: the next page follows (each within timeout_ms) */
		more = reply.type == MSG_RESULT && reply.u.result.next > req->filter.from;
		req->filter.from = more ? reply.u.result.next : 0;
		rc = fn(arg, &reply);
		msg_free(&reply);
		if (rc || !more)
			break;
		deadline = clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
		rc = receive(fd, addr, keys, deadline, timeout_ms, &reply, err, errlen);
	}
	close(fd);
	return rc;
}

int ctl_request_unix(const char *path, struct msg *req, struct msg *reply, int timeout_ms,
		     char *err, size_t errlen)
{
	int64_t deadline = clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char *text = NULL;
	int fd, rc;

	memset(reply, 0, sizeof(*reply));
	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "the socket path %.200s is too long; check SocketPath", path);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	rc = msg_encode(req, &text);
	if (rc) {
		snprintf(err, errlen, "cannot encode the %s report: %s", msg_type_name(req->type),
			 strerror(-rc));
		return rc;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		rc = -errno;
		snprintf(err, errlen,
			 "the node agent is not listening on %.200s (%s); is colocd running on "
			 "this node? Check SocketPath in coloc.conf",
			 path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(text);
		return rc;
	}
	rc = exchange(fd, path, "SocketPath", text, deadline, timeout_ms, reply, err, errlen);
	close(fd);
	free(text);
	return rc;
}

int ctl_timeout_from_env(int *ms, char *err, size_t errlen)
{
	const char *s = getenv(CTL_TIMEOUT_ENV), *p;
	long v = 0;

	if (!s || !*s) {
		*ms = CTL_TIMEOUT_DEFAULT_MS;
		return 0;
	}
	for (p = s; isdigit((unsigned char)*p) && v <= CTL_TIMEOUT_MAX_MS; p++)
		v = v * 10 + (*p - '0');
	if (*p || v < 1 || v > CTL_TIMEOUT_MAX_MS) {
		snprintf(err, errlen,
			 CTL_TIMEOUT_ENV "=%.64s: expected a whole number of milliseconds from 1 "
					 "to %d (unset: %d)",
			 s, CTL_TIMEOUT_MAX_MS, CTL_TIMEOUT_DEFAULT_MS);
		return -EINVAL;
	}
	*ms = (int)v;
	return 0;
}

/* The errno an error reply's code names; EREMOTEIO for one not known. */
static int ctl_code_errno(const char *code)
{
	static const struct {
		const char *name;
		int err;
	} codes[] = {
	    {"EPERM", EPERM},
	    {"ENOENT", ENOENT},
	    {"E2BIG", E2BIG},
	    {"EAGAIN", EAGAIN},
	    {"ENOMEM", ENOMEM},
	    {"EACCES", EACCES},
	    {"EBUSY", EBUSY},
	    {"EINVAL", EINVAL},
	    {"ENOSPC", ENOSPC},
	    {"ERANGE", ERANGE},
	    {"EPROTO", EPROTO},
	    {"EDQUOT", EDQUOT},
	    {"EALREADY", EALREADY},
	    {"ECANCELED", ECANCELED},
	    {"EHOSTUNREACH", EHOSTUNREACH},
	    {"ETIMEDOUT", ETIMEDOUT},
	    {"ENAMETOOLONG", ENAMETOOLONG},
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i].name) == 0)
			return codes[i].err;
	return EREMOTEIO;
}

int ctl_call(const struct coloc_config *cfg, struct msg *req, enum msg_type expect, int timeout_ms,
	     struct msg *reply, char *err, size_t errlen)
{
	int rc = ctl_request(cfg, req, reply, timeout_ms, err, errlen);

	if (rc)
		return rc;
	if (reply->type == MSG_ERROR) {
		snprintf(err, errlen, "the controller refused the %s request: %s: %s",
			 msg_type_name(req->type), reply->u.error.code, reply->u.error.message);
		rc = -ctl_code_errno(reply->u.error.code);
	} else if (reply->type != expect) {
		snprintf(err, errlen,
			 "the controller answered a %s request with %s, not %s; are colocd and "
			 "this client the same version?",
			 msg_type_name(req->type), msg_type_name(reply->type),
			 msg_type_name(expect));
		rc = -EPROTO;
	}
	if (rc) {
		msg_free(reply);
		memset(reply, 0, sizeof(*reply));
	}
	return rc;
}

int ctl_lease_acquire(const struct coloc_config *cfg, const struct lease_request *r, int timeout_ms,
		      struct msg *grant, char *err, size_t errlen)
{
	struct msg req = {.type = MSG_LEASE_ACQUIRE};
	int rc;

	memset(grant, 0, sizeof(*grant));
	req.u.acquire = *r;
	if (!req.u.acquire.time)
		req.u.acquire.time = cfg->default_lease_s;
	rc = lease_rules_check(&req.u.acquire, err, errlen);
	if (rc)
		return rc;
	return ctl_call(cfg, &req, MSG_LEASE_GRANT, timeout_ms, grant, err, errlen);
}

int ctl_lease_release(const struct coloc_config *cfg, const char *id, int timeout_ms, char *err,
		      size_t errlen)
{
	struct msg req = {.type = MSG_LEASE_RELEASE}, reply;
	int rc;

	if (!id || !id[0] || strlen(id) >= sizeof(req.u.release.id)) {
		snprintf(err, errlen, "\"%.80s\" is not a lease id (colocctl leases shows them)",
			 id ? id : "");
		return -EINVAL;
	}
	strcpy(req.u.release.id, id);
	rc = ctl_call(cfg, &req, MSG_OK, timeout_ms, &reply, err, errlen);
	if (rc == 0)
		msg_free(&reply);
	return rc;
}
