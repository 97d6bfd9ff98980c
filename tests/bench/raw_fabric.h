/*
 * raw_fabric: the physical limit faas-bench compares against: a bare
 * libfabric fi_writedata round trip between two processes, with the same
 * provider, endpoint type, capabilities and memory-registration hints that
 * common/transport.c uses, and nothing of coloc on the path. It is the one
 * place outside the transport module that calls libfabric, on purpose: a
 * baseline must not share the code it measures.
 */
#ifndef COLOC_RAW_FABRIC_H
#define COLOC_RAW_FABRIC_H

#include <stddef.h>
#include <stdint.h>

struct raw_params {
	const char *provider;
	const char *addr;
	size_t payload;
	unsigned iterations;
	unsigned warmup;
	unsigned window; /* > 1: pipelined (async) with this many writes in flight */
	int blocking;	 /* wait on the CQ's file descriptor instead of spinning */
	int rma;	 /* bandwidth: per round trip the server fi_reads payload bytes
			  * of the client's memory and fi_writes them back, between a
			  * 1-byte request and a 1-byte reply (what a large call does) */
	int onesided;	 /* 1: fi_read, 2: fi_write of payload bytes into the server's
			  * memory per iteration, each waited for; the server only
			  * progresses its endpoint (what a memory lease's executor does) */
	int server_cpu;	 /* -1: not pinned */
	int client_cpu;
};

struct raw_result {
	char provider[64];
	uint64_t *rtt_ns; /* iterations samples (round trips), malloc'd; NULL when pipelined */
	double seconds;	  /* wall time of the timed part */
};

/* Pins the calling process to cpu (no-op if < 0). */
void bench_pin(int cpu);

/* Forks the server, runs the client here; 0 or -errno with a message in err. */
int raw_fabric_run(const struct raw_params *p, struct raw_result *r, char *err, size_t errlen);

#endif
