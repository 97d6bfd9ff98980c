/*
 * rmem: faas-executor --remote-mem SIZE, the executor of a memory lease.
 * It maps SIZE bytes (2 MiB hugepages when the node has them free, else
 * ordinary pages with transparent hugepages advised), faults them in so
 * that the cgroup's memory.max charges them now rather than at the first
 * remote write, registers them with the fabric for remote reads and
 * writes, and publishes the lease document (lease_doc.h: "remote_mem").
 * A client that presents the lease token in a HELLO gets the region's
 * address and key in a REGION message (wire.h); from then on it reads
 * and writes the region with fi_read/fi_write and this process calls no
 * function for them. It only progresses its endpoint: on verbs the NIC
 * serves the accesses alone; the software providers (tcp;ofi_rxm, shm)
 * need the target to progress, which costs the thread below (in --mode
 * warm it sleeps on the fabric's wait object between messages).
 *
 * On SIGTERM/SIGINT (the node agent reclaiming the memory) every client
 * gets an EVICT notice and keeps reading for --evict-grace; the process
 * ends when the grace is over or every client said BYE, whichever comes
 * first; a second signal ends it at once.
 *
 * The key is the lease's, not a connection's: the client table only says
 * whom to tell of an eviction. One thread; the clients live in a fixed
 * table of RMEM_CLIENTS, where a full table forgets clients known dead.
 */
#include "config.h"

#include "rmem.h"

#include "clock.h"
#include "lease_doc.h"
#include "log.h"
#include "transport.h"
#include "wire.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define RMEM_CLIENTS 64
#define HUGE_2M (2ull << 20)

struct rmem_client {
	bool used;
	uint64_t peer;
	uint32_t cookie;
	uint8_t name[WIRE_NAME_MAX];
	size_t name_len;
};

struct rmem {
	const struct executor_options *o;
	uint8_t token[WIRE_TOKEN_LEN];
	struct transport *t;
	void *region;
	size_t map_len;
	struct transport_mr *mr;
	uint64_t addr, key;
	struct rmem_client clients[RMEM_CLIENTS];
	unsigned nclients;
	struct log_limit refusals;
};

/* Maps len bytes, faulted in: hugepages first, then ordinary pages. */
static void *region_map(size_t len, size_t *map_len, bool *huge)
{
	size_t hlen = (len + HUGE_2M - 1) & ~(HUGE_2M - 1);
	void *p = mmap(NULL, hlen, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);

	if (p != MAP_FAILED) {
		*map_len = hlen;
		*huge = true;
		return p;
	}
	*huge = false;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, len, MADV_HUGEPAGE) != 0)
		log_debug("no transparent hugepages for the region: %s", strerror(errno));
	/* charged to the lease's cgroup now: beyond memory.max the executor
	 * fails here, not the client's first write */
	memset(p, 0, len);
	*map_len = len;
	return p;
}

static int send_msg(struct rmem *r, uint64_t peer, const struct wire_msg *m)
{
	uint8_t buf[WIRE_MSG_MAX];

	return transport_msg(r->t, peer, buf, wire_msg_encode(m, buf));
}

static struct rmem_client *client_by_name(struct rmem *r, const uint8_t *name, size_t len)
{
	for (unsigned i = 0; i < RMEM_CLIENTS; i++)
		if (r->clients[i].used && r->clients[i].name_len == len &&
		    memcmp(r->clients[i].name, name, len) == 0)
			return &r->clients[i];
	return NULL;
}

/* A full table: forgets the clients whose process is known to be gone
 * (shm names processes; elsewhere none is known dead). */
static void forget_dead(struct rmem *r)
{
	for (unsigned i = 0; i < RMEM_CLIENTS; i++) {
		struct rmem_client *c = &r->clients[i];

		if (!c->used || transport_peer_alive(r->t, c->peer))
			continue;
		transport_peer_remove(r->t, c->peer);
		c->used = false;
		r->nclients--;
		log_info("memory lease: client %u is gone without a goodbye", i);
	}
}

static void on_hello(struct rmem *r, const struct wire_msg *in, bool evicting)
{
	struct wire_msg out = {.type = WIRE_REGION};
	struct rmem_client *c;

	if (!wire_token_equal(in->u.hello.token, r->token)) {
		log_limited(&r->refusals, LOG_LEVEL_WARNING,
			    "memory lease: refused a client with a wrong lease token (not "
			    "answered)");
		return;
	}
	if (evicting)
		return; /* no new clients of a region that is going away */
	c = client_by_name(r, in->u.hello.name, in->u.hello.name_len);
	if (!c && r->nclients == RMEM_CLIENTS)
		forget_dead(r);
	for (unsigned i = 0; !c && i < RMEM_CLIENTS; i++) {
		if (r->clients[i].used)
			continue;
		c = &r->clients[i];
		if (transport_peer_add(r->t, in->u.hello.name, in->u.hello.name_len, &c->peer) !=
		    0) {
			log_warning("memory lease: cannot add a client's fabric address");
			return;
		}
		if (getrandom(&c->cookie, sizeof(c->cookie), 0) != sizeof(c->cookie))
			c->cookie = (uint32_t)clock_ns();
		memcpy(c->name, in->u.hello.name, in->u.hello.name_len);
		c->name_len = in->u.hello.name_len;
		c->used = true;
		r->nclients++;
		log_info("memory lease: client %u connected (%u now)", i, r->nclients);
	}
	if (!c) {
		log_limited(&r->refusals, LOG_LEVEL_WARNING,
			    "memory lease: %d clients already; a new one is not answered (clients "
			    "that end without faas_rmem_close keep their place)",
			    RMEM_CLIENTS);
		return;
	}
	out.u.region.cookie = c->cookie;
	out.u.region.addr = r->addr;
	out.u.region.key = r->key;
	out.u.region.size = r->o->remote_mem;
	if (send_msg(r, c->peer, &out) != 0)
		log_warning("memory lease: cannot answer a client");
}

static void on_bye(struct rmem *r, const struct wire_msg *in)
{
	if (!wire_token_equal(in->u.bye.token, r->token))
		return;
	for (unsigned i = 0; i < RMEM_CLIENTS; i++) {
		struct rmem_client *c = &r->clients[i];

		if (!c->used || c->cookie != in->u.bye.cookie)
			continue;
		transport_peer_remove(r->t, c->peer);
		c->used = false;
		r->nclients--;
		log_info("memory lease: client %u said goodbye (%u left)", i, r->nclients);
		return;
	}
}

static void evict_all(struct rmem *r)
{
	struct wire_msg m = {.type = WIRE_EVICT};

	memcpy(m.u.bye.token, r->token, WIRE_TOKEN_LEN);
	for (unsigned i = 0; i < RMEM_CLIENTS; i++) {
		if (!r->clients[i].used)
			continue;
		m.u.bye.cookie = r->clients[i].cookie;
		if (send_msg(r, r->clients[i].peer, &m) != 0)
			log_warning("memory lease: cannot tell client %u of the eviction", i);
	}
}

static int make_doc(struct rmem *r, char **json)
{
	struct lease_doc *doc = lease_doc_new(0, 1);
	size_t len = sizeof(doc->workers[0].addr);
	int rc;

	if (!doc)
		return -ENOMEM;
	rc = transport_name(r->t, doc->workers[0].addr, &len);
	if (rc)
		goto out;
	doc->workers[0].addr_len = len;
	doc->workers[0].cpu = -1;
	doc->workers[0].slots = 1;
	if (r->o->id)
		snprintf(doc->id, sizeof(doc->id), "%s", r->o->id);
	else
		snprintf(doc->id, sizeof(doc->id), "executor-%ld", (long)getpid());
	snprintf(doc->provider, sizeof(doc->provider), "%s", transport_provider(r->t));
	snprintf(doc->rung, sizeof(doc->rung), "%s", transport_rung_name(transport_rung(r->t)));
	memcpy(doc->token, r->token, WIRE_TOKEN_LEN);
	doc->slot_size = LEASE_MIN_SLOT;
	doc->max_depth = 1;
	doc->executor_pid = (long)getpid();
	if (gethostname(doc->host, sizeof(doc->host) - 1) != 0)
		snprintf(doc->host, sizeof(doc->host), "localhost");
	doc->remote_mem = r->o->remote_mem;
	rc = lease_doc_encode(doc, json);
out:
	lease_doc_free(doc);
	return rc;
}

/* Serves until a signal and the eviction's end. */
static void serve(struct rmem *r, int sfd)
{
	struct transport_event ev[16];
	struct signalfd_siginfo si;
	struct wire_msg m;
	int64_t deadline = 0;
	bool hot = r->o->mode == WORKER_HOT;

	for (;;) {
		int n = hot ? transport_poll(r->t, ev, 16) : transport_wait(r->t, ev, 16, 100);

		for (int i = 0; i < n; i++) {
			if (ev[i].type != TRANSPORT_EV_MSG ||
			    wire_msg_decode(ev[i].data, ev[i].len, &m) != 0)
				continue;
			if (m.type == WIRE_HELLO)
				on_hello(r, &m, deadline != 0);
			else if (m.type == WIRE_BYE)
				on_bye(r, &m);
		}
		if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (deadline) {
				log_info("memory lease: second signal: gone now");
				return;
			}
			log_info("memory lease: signal %u: evicting %u clients, %d ms to read back",
				 si.ssi_signo, r->nclients, r->o->evict_grace_ms);
			evict_all(r);
			deadline = clock_ns() + (int64_t)r->o->evict_grace_ms * 1000000;
		}
		if (deadline && (r->nclients == 0 || clock_ns() >= deadline))
			return;
	}
}

int rmem_run(const struct executor_options *o)
{
	struct rmem r = {.o = o, .refusals = LOG_LIMIT_INIT(1000, "refused hellos")};
	struct transport_opts topts = {0};
	char err[512], *json = NULL;
	sigset_t sigs;
	bool huge = false;
	uint64_t left;
	int rc, sfd, status = executor_token(o->token_hex, r.token);

	if (status)
		return status;
	status = 1;
	if (o->remote_mem > SIZE_MAX / 2) {
		log_error("--remote-mem: %llu bytes do not fit this process's address space",
			  (unsigned long long)o->remote_mem);
		return 2;
	}
	/* beyond the cgroup's limit the kernel would kill us while the pages
	 * are touched: say so instead */
	if (executor_memory_left(&left) && o->remote_mem > left) {
		log_error("--remote-mem %llu bytes does not fit: the memory limit of this "
			  "executor's cgroup leaves %llu bytes (after what it uses and a 16 MiB "
			  "margin); ask for less, or give the lease more memory",
			  (unsigned long long)o->remote_mem, (unsigned long long)left);
		return 2;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		return 1;
	}
	topts.provider = o->provider;
	topts.src_addr = o->addr;
	topts.rung = o->rung;
	topts.waitable = o->mode != WORKER_HOT;
	topts.wake_fd = &sfd;
	topts.busy_timeout_ms = 100;
	topts.in_flight = 4 * RMEM_CLIENTS;
	rc = transport_open(&topts, &r.t, err, sizeof(err));
	if (rc) {
		log_error("%s", err);
		goto out_sfd;
	}
	r.region = region_map((size_t)o->remote_mem, &r.map_len, &huge);
	if (!r.region) {
		log_error("cannot map %llu bytes for the memory lease: %s; ask for less "
			  "(--remote-mem)",
			  (unsigned long long)o->remote_mem, strerror(errno));
		goto out_transport;
	}
	rc = transport_mr_reg(r.t, r.region, r.map_len, true, &r.mr);
	if (rc) {
		log_error("cannot register the memory lease's %zu bytes with %s: %s", r.map_len,
			  transport_provider(r.t), strerror(-rc));
		goto out_unmap;
	}
	transport_mr_remote(r.mr, r.region, &r.addr, &r.key);
	rc = make_doc(&r, &json);
	if (rc) {
		log_error("cannot encode the lease document: %s", strerror(-rc));
		goto out_mr;
	}
	rc = executor_publish(o->publish, json, NULL);
	if (rc) {
		log_error("cannot publish the lease document to %s: %s", o->publish, strerror(-rc));
		goto out_json;
	}
	log_info("memory lease: %llu bytes (%s pages) over %s", (unsigned long long)o->remote_mem,
		 huge ? "2 MiB huge" : "ordinary", transport_provider(r.t));
	serve(&r, sfd);
	status = 0;
out_json:
	free(json);
out_mr:
	transport_mr_dereg(r.mr);
out_unmap:
	munmap(r.region, r.map_len);
out_transport:
	transport_close(r.t);
out_sfd:
	close(sfd);
	return status;
}
