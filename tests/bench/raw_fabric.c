/*
 * raw_fabric: bare libfabric writedata ping-pong (see raw_fabric.h).
 * The parent forks before touching libfabric; the two processes exchange
 * fabric names and (address, key) pairs over a socketpair, then:
 *   client: fi_(inject_)writedata(payload, imm = i) into the server's buffer
 *   server: on the remote-CQ-data completion, writes payload bytes back
 *   client: waits for that completion (spinning or on the CQ's fd).
 * Pipelined mode keeps `window` writes in flight into distinct offsets.
 */
#include "config.h"

#include "clock.h"
#include "raw_fabric.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>

#define NRECV 64

struct peer_info {
	uint64_t addr, key, name_len;
	char name[256];
};

struct rawep {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_cq *cq;
	struct fid_av *av;
	struct fid_ep *ep;
	struct fid_mr *mr;
	char *buf; /* [0, size) remote target, [size, 2 size) local source */
	size_t size;
	fi_addr_t peer;
	struct peer_info them;
	int wait_fd;
	int yield; /* blocking asked, but the CQ has no fd: yield between polls */
	int rx_cq_data;
	struct fi_context2 rxctx[NRECV];
	long tx_outstanding;
	long rma_outstanding; /* fi_read/fi_write of the rma mode */
	struct fi_context2 rmactx;
	uint32_t early[NRECV * 64]; /* remote immediates reaped while posting */
	unsigned early_head, early_len;
};

static int xfer(int fd, void *b, size_t n, int rx)
{
	size_t d = 0;

	while (d < n) {
		ssize_t r = rx ? read(fd, (char *)b + d, n - d) : write(fd, (char *)b + d, n - d);

		if (r <= 0)
			return -EPIPE;
		d += (size_t)r;
	}
	return 0;
}

void bench_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int ep_open(struct rawep *e, const struct raw_params *p, size_t size, char *err,
		   size_t errlen)
{
	struct fi_info *hints = fi_allocinfo();
	struct fi_cq_attr cqa = {.size = 1024, .format = FI_CQ_FORMAT_DATA};
	struct fi_av_attr ava = {.type = FI_AV_MAP};
	const char *node = p->addr;
	int rc;

	hints->ep_attr->type = FI_EP_RDM;
	hints->caps = FI_MSG | FI_RMA;
	hints->mode = FI_CONTEXT | FI_CONTEXT2 | FI_RX_CQ_DATA;
	hints->domain_attr->mr_mode =
	    FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_ENDPOINT;
	hints->domain_attr->threading = FI_THREAD_DOMAIN;
	if (p->provider)
		hints->fabric_attr->prov_name = strdup(p->provider);
	rc = fi_getinfo(FI_VERSION(1, 10), node, NULL, node ? FI_SOURCE : 0, hints, &e->info);
	if (!rc && node && e->info->addr_format == FI_ADDR_STR) {
		fi_freeinfo(e->info);
		e->info = NULL;
		rc = fi_getinfo(FI_VERSION(1, 10), NULL, NULL, 0, hints, &e->info);
	}
	fi_freeinfo(hints);
	if (rc) {
		snprintf(err, errlen, "fi_getinfo(%s): %s", p->provider ? p->provider : "any",
			 fi_strerror(-rc));
		return rc;
	}
	if (e->info->domain_attr->cq_data_size < 4) {
		snprintf(err, errlen, "%s has no remote CQ data", e->info->fabric_attr->prov_name);
		return -ENOTSUP;
	}
	e->rx_cq_data = !!(e->info->mode & FI_RX_CQ_DATA);
	e->size = size;
	e->wait_fd = -1;
	cqa.wait_obj = p->blocking ? FI_WAIT_FD : FI_WAIT_NONE;
	if ((rc = fi_fabric(e->info->fabric_attr, &e->fabric, NULL)) ||
	    (rc = fi_domain(e->fabric, e->info, &e->domain, NULL)))
		goto fail;
	rc = fi_cq_open(e->domain, &cqa, &e->cq, NULL);
	if (rc && p->blocking) {
		/* as common/transport.c does: no fd wait object (shm), so yield */
		cqa.wait_obj = FI_WAIT_NONE;
		e->yield = 1;
		rc = fi_cq_open(e->domain, &cqa, &e->cq, NULL);
	}
	if (rc || (rc = fi_av_open(e->domain, &ava, &e->av, NULL)) ||
	    (rc = fi_endpoint(e->domain, e->info, &e->ep, NULL)) ||
	    (rc = fi_ep_bind(e->ep, &e->av->fid, 0)) ||
	    (rc = fi_ep_bind(e->ep, &e->cq->fid, FI_TRANSMIT | FI_RECV)) ||
	    (rc = fi_enable(e->ep))) {
	fail:
		snprintf(err, errlen, "opening a %s endpoint: %s", e->info->fabric_attr->prov_name,
			 fi_strerror(-rc));
		return rc;
	}
	if (p->blocking && fi_control(&e->cq->fid, FI_GETWAIT, &e->wait_fd) != 0)
		e->wait_fd = -1;
	if (posix_memalign((void **)&e->buf, 4096, 2 * size))
		return -ENOMEM;
	memset(e->buf, 0, 2 * size);
	rc = fi_mr_reg(e->domain, e->buf, 2 * size,
		       FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE | FI_SEND | FI_RECV, 0,
		       0x5eed, 0, &e->mr, NULL);
	if (!rc && (e->info->domain_attr->mr_mode & FI_MR_ENDPOINT)) {
		rc = fi_mr_bind(e->mr, &e->ep->fid, 0);
		if (!rc)
			rc = fi_mr_enable(e->mr);
	}
	if (rc) {
		snprintf(err, errlen, "fi_mr_reg: %s", fi_strerror(-rc));
		return rc;
	}
	return 0;
}

static void ep_close(struct rawep *e)
{
	if (e->mr)
		fi_close(&e->mr->fid);
	if (e->ep)
		fi_close(&e->ep->fid);
	if (e->av)
		fi_close(&e->av->fid);
	if (e->cq)
		fi_close(&e->cq->fid);
	if (e->domain)
		fi_close(&e->domain->fid);
	if (e->fabric)
		fi_close(&e->fabric->fid);
	fi_freeinfo(e->info);
	free(e->buf);
}

static int post_rx(struct rawep *e, int i)
{
	ssize_t r;

	while ((r = fi_recv(e->ep, NULL, 0, NULL, FI_ADDR_UNSPEC, &e->rxctx[i])) == -FI_EAGAIN)
		fi_cq_read(e->cq, NULL, 0);
	return (int)r;
}

/* Exchanges names and (addr, key) over fd and inserts the peer. */
static int exchange(struct rawep *e, int fd)
{
	struct peer_info me = {0};
	size_t len = sizeof(me.name);
	char sync = 1;

	me.addr =
	    (e->info->domain_attr->mr_mode & FI_MR_VIRT_ADDR) ? (uint64_t)(uintptr_t)e->buf : 0;
	me.key = fi_mr_key(e->mr);
	if (fi_getname(&e->ep->fid, me.name, &len))
		return -EIO;
	me.name_len = len;
	if (xfer(fd, &me, sizeof(me), 0) || xfer(fd, &e->them, sizeof(e->them), 1))
		return -EPIPE;
	if (fi_av_insert(e->av, e->them.name, 1, &e->peer, 0, NULL) != 1)
		return -EADDRNOTAVAIL;
	if (e->rx_cq_data)
		for (int i = 0; i < NRECV; i++)
			post_rx(e, i);
	if (xfer(fd, &sync, 1, 0) || xfer(fd, &sync, 1, 1))
		return -EPIPE;
	return 0;
}

/* Reads up to 8 completions: remote immediates go to the early queue,
 * local write completions are counted. Returns fi_cq_read's result. */
static ssize_t reap(struct rawep *e)
{
	struct fi_cq_data_entry c[8];
	ssize_t n = fi_cq_read(e->cq, c, 8);

	for (ssize_t i = 0; i < n; i++) {
		if (c[i].flags & FI_REMOTE_CQ_DATA) {
			if (e->early_len < sizeof(e->early) / sizeof(e->early[0]))
				e->early[(e->early_head + e->early_len++) %
					 (sizeof(e->early) / sizeof(e->early[0]))] =
				    (uint32_t)c[i].data;
			if (e->rx_cq_data)
				post_rx(e, (int)((struct fi_context2 *)c[i].op_context - e->rxctx));
		} else if (c[i].op_context == &e->rmactx) {
			e->rma_outstanding--;
		} else if (c[i].flags & FI_WRITE) {
			e->tx_outstanding--;
		}
	}
	return n;
}

/* Waits for one remote write with data; returns its immediate or -1 on error. */
static int64_t wait_remote(struct rawep *e)
{
	while (!e->early_len) {
		ssize_t n = reap(e);

		if (n == -FI_EAGAIN) {
			if (e->wait_fd >= 0) {
				struct fid *f = &e->cq->fid;
				struct pollfd pfd = {.fd = e->wait_fd, .events = POLLIN};

				if (fi_trywait(e->fabric, &f, 1) == FI_SUCCESS)
					poll(&pfd, 1, 1000);
			} else if (e->yield) {
				sched_yield();
			}
		} else if (n < 0) {
			struct fi_cq_err_entry ee = {0};

			fi_cq_readerr(e->cq, &ee, 0);
			fprintf(stderr, "faas-bench raw: CQ error %s\n", fi_strerror(ee.err));
			return -1;
		}
	}
	uint32_t imm = e->early[e->early_head];

	e->early_head = (e->early_head + 1) % (sizeof(e->early) / sizeof(e->early[0]));
	e->early_len--;
	return imm;
}

static int write_data(struct rawep *e, size_t off, size_t len, uint32_t imm)
{
	void *src = e->buf + e->size + off;
	ssize_t r;

	for (;;) {
		if (len <= e->info->tx_attr->inject_size)
			r = fi_inject_writedata(e->ep, src, len, imm, e->peer, e->them.addr + off,
						e->them.key);
		else
			r = fi_writedata(e->ep, src, len, fi_mr_desc(e->mr), imm, e->peer,
					 e->them.addr + off, e->them.key, NULL);
		if (r != -FI_EAGAIN)
			break;
		reap(e);
	}
	if (r == 0 && len > e->info->tx_attr->inject_size)
		e->tx_outstanding++;
	return (int)r;
}

/* One fi_read (write 0) or fi_write of len bytes between our [size,
 * size + len) and the peer's memory at remote, as few operations as the
 * provider's max_msg_size allows, waiting for their completions. */
static int rma_op(struct rawep *e, int write, uint64_t remote, size_t len)
{
	size_t chunk = e->info->ep_attr->max_msg_size;

	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		char *local = e->buf + e->size + off;
		ssize_t r;

		for (;;) {
			r = write ? fi_write(e->ep, local, n, fi_mr_desc(e->mr), e->peer,
					     remote + off, e->them.key, &e->rmactx)
				  : fi_read(e->ep, local, n, fi_mr_desc(e->mr), e->peer,
					    remote + off, e->them.key, &e->rmactx);
			if (r != -FI_EAGAIN)
				break;
			reap(e);
		}
		if (r)
			return (int)r;
		e->rma_outstanding++;
	}
	while (e->rma_outstanding > 0) {
		ssize_t n = reap(e);

		if (n < 0 && n != -FI_EAGAIN)
			return (int)n;
	}
	return 0;
}

/* rma mode: read len bytes of the peer's [size, 2 size) into ours, then
 * write them to the peer's [0, size). */
static int rma_both(struct rawep *e, size_t len)
{
	int rc = rma_op(e, 0, e->them.addr + e->size, len);

	return rc ? rc : rma_op(e, 1, e->them.addr, len);
}

/* onesided: the server progresses its endpoint until the client's word */
static int serve_onesided(struct rawep *e, int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	unsigned spins = 0;

	for (;;) {
		fi_cq_read(e->cq, NULL, 0);
		if ((++spins & 255) == 0 && poll(&pfd, 1, 0) != 0)
			return 0;
	}
}

static int server(const struct raw_params *p, int fd)
{
	unsigned window = p->window > 1 ? p->window : 1;
	unsigned total = p->warmup + p->iterations;
	struct rawep e = {0};
	char err[256];
	int rc;

	bench_pin(p->server_cpu);
	rc = ep_open(&e, p, p->payload * window, err, sizeof(err));
	if (!rc)
		rc = exchange(&e, fd);
	if (!rc && p->onesided)
		rc = serve_onesided(&e, fd);
	for (unsigned i = 0; !rc && !p->onesided && i < total; i++) {
		int64_t imm = wait_remote(&e);
		size_t off;

		if (imm < 0)
			return 1;
		off = (size_t)(imm % window) * p->payload;
		if (p->rma) {
			rc = rma_both(&e, p->payload);
			if (!rc)
				rc = write_data(&e, 0, 1, (uint32_t)imm);
			continue;
		}
		/* "process": touch the payload, like a function reading its input */
		e.buf[e.size + off] = (char)(e.buf[off] + 1);
		rc = write_data(&e, off, p->payload, (uint32_t)imm);
	}
	while (e.tx_outstanding > 0 && e.cq)
		reap(&e);
	char sync = 0;
	xfer(fd, &sync, 1, 0);
	xfer(fd, &sync, 1, 1);
	if (rc)
		fprintf(stderr, "faas-bench raw server: %s\n", err);
	ep_close(&e);
	return rc ? 1 : 0;
}

static int client(const struct raw_params *p, int fd, struct raw_result *r, char *err,
		  size_t errlen)
{
	unsigned window = p->window > 1 ? p->window : 1;
	unsigned total = p->warmup + p->iterations;
	struct rawep e = {0};
	uint64_t t0 = 0;
	int rc;

	bench_pin(p->client_cpu);
	rc = ep_open(&e, p, p->payload * window, err, errlen);
	if (!rc)
		rc = exchange(&e, fd);
	if (rc)
		goto out;
	snprintf(r->provider, sizeof(r->provider), "%s", e.info->fabric_attr->prov_name);
	if (p->onesided) {
		r->rtt_ns = calloc(p->iterations, sizeof(*r->rtt_ns));
		if (!r->rtt_ns) {
			rc = -ENOMEM;
			goto out;
		}
		for (unsigned i = 0; i < total; i++) {
			uint64_t start = (uint64_t)clock_ns();

			if (i == p->warmup)
				t0 = start;
			rc = rma_op(&e, p->onesided == 2, e.them.addr, p->payload);
			if (rc) {
				snprintf(err, errlen, "one-sided access %u failed", i);
				goto out;
			}
			if (i >= p->warmup)
				r->rtt_ns[i - p->warmup] = (uint64_t)clock_ns() - start;
		}
	} else if (window == 1) {
		r->rtt_ns = calloc(p->iterations, sizeof(*r->rtt_ns));
		if (!r->rtt_ns) {
			rc = -ENOMEM;
			goto out;
		}
		for (unsigned i = 0; i < total; i++) {
			uint64_t start;

			if (i == p->warmup)
				t0 = (uint64_t)clock_ns();
			start = (uint64_t)clock_ns();
			e.buf[e.size] = (char)i;
			if ((rc = write_data(&e, 0, p->rma ? 1 : p->payload, i)) != 0 ||
			    wait_remote(&e) != i || (p->rma && e.buf[0] != (char)i)) {
				snprintf(err, errlen, "round trip %u failed", i);
				rc = rc ? rc : -EIO;
				goto out;
			}
			if (i >= p->warmup)
				r->rtt_ns[i - p->warmup] = (uint64_t)clock_ns() - start;
		}
	} else {
		unsigned sent = 0, done = 0;

		while (done < total) {
			while (sent < total && sent - done < window) {
				if (sent == p->warmup)
					t0 = (uint64_t)clock_ns();
				rc = write_data(&e, (sent % window) * p->payload, p->payload, sent);
				if (rc)
					goto out;
				sent++;
			}
			if (wait_remote(&e) < 0) {
				rc = -EIO;
				goto out;
			}
			done++;
		}
	}
	r->seconds = (double)((uint64_t)clock_ns() - t0) / 1e9;
out:
	if (rc && !err[0])
		snprintf(err, errlen, "%s", fi_strerror(-rc));
	while (e.tx_outstanding > 0 && e.cq)
		reap(&e);
	char sync = 0;
	xfer(fd, &sync, 1, 0);
	xfer(fd, &sync, 1, 1);
	ep_close(&e);
	return rc;
}

int raw_fabric_run(const struct raw_params *p, struct raw_result *r, char *err, size_t errlen)
{
	int sv[2], status = 0, rc;
	pid_t pid;

	err[0] = '\0';
	memset(r, 0, sizeof(*r));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(sv[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(server(p, sv[1]));
	}
	close(sv[1]);
	rc = client(p, sv[0], r, err, errlen);
	close(sv[0]);
	if (rc)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (!rc && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		snprintf(err, errlen, "raw server process failed (status %d)", status);
		rc = -EIO;
	}
	return rc;
}
