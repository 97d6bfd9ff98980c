/*
 * worker: one executor worker = one thread pinned to one lent core, with its
 * own fabric endpoint, a registered region of request slots, and the
 * clients it has welcomed. It serves HELLO/BYE messages and invocations
 * (see common/wire.h) until told to stop, then tells its clients it is
 * going (EVICT). The library's per-worker hooks run in the thread: init
 * before the first call, fini after the last.
 */
#ifndef COLOC_WORKER_H
#define COLOC_WORKER_H

/* A client's hello that comes within this many ms of its welcome, after
 * its first calls, is one it resent before the welcome arrived (sends and
 * RMA writes are not ordered with each other): ignored. Later, a hello
 * from that address is a new process there. */
#define WORKER_HELLO_LATE_MS 3000

#include "fnlib.h"
#include "transport.h"
#include "wire.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum worker_mode { WORKER_HYBRID = 0, WORKER_HOT, WORKER_WARM };

struct worker_config {
	const struct fnlib *lib;
	uint8_t token[WIRE_TOKEN_LEN];
	struct transport_opts transport;
	uint32_t slot_size; /* request header + largest payload; also the largest output */
	uint32_t slots;	    /* per worker */
	uint32_t max_depth; /* slots one client may hold */
	enum worker_mode mode;
	long hot_poll_us;	  /* hybrid: idle time before going warm */
	unsigned sessions;	  /* sessions one worker may hold; 0 = slots */
	size_t session_max_state; /* largest session state; 0 = SESSION_MAX_STATE */
	int swap_ms;		  /* budget of the sessions' swap when stopping; 0 = default */
	const atomic_bool *stop;
	const int *wake_fd; /* becomes readable when stop is set: warm workers wake at once */
	bool shared_cores;  /* more workers than cores: a comm job's waits yield the core */
};

struct worker;

struct worker_info {
	uint8_t addr[WIRE_NAME_MAX];
	size_t addr_len;
	uint64_t slot_addr, slot_key;
	const char *provider;
	enum transport_rung rung;
};

/* Opens the endpoint and registers the slots (in the calling thread). */
int worker_create(const struct worker_config *cfg, unsigned index, int cpu, struct worker **w,
		  char *err, size_t errlen);
void worker_info(const struct worker *w, struct worker_info *info);
/* Starts the thread, pinned to the worker's cpu when it is >= 0, and waits
 * until it has run the library's faas_worker_init (if any). -ECANCELED
 * when the hook returned non-zero (the thread has ended; worker_destroy
 * still joins it), -errno when the thread cannot start; err says which. */
int worker_start(struct worker *w, char *err, size_t errlen);
/* The calls the worker answered so far: with a result (ok) or an error
 * status (failed). Safe from any thread. */
void worker_calls(const struct worker *w, uint64_t *ok, uint64_t *failed);
/* Joins the thread (after *cfg->stop was set; once) and returns the
 * number of calls it served. */
unsigned long worker_join(struct worker *w);
/* Joins the thread (after *cfg->stop was set) and frees everything. */
void worker_destroy(struct worker *w);

/* One iteration of the event loop (exposed for tests): handles the events
 * that are ready, waiting up to wait_ms when there are none. Returns the
 * number handled. */
int worker_step(struct worker *w, int wait_ms);

#endif
