/*
 * placement: the controller's registry of node gaps and its lease placement
 * policy. Pure logic: no I/O, no clock, no globals; the controller owns one
 * struct placement and calls it from one thread (or under its own lock).
 *
 * Policy (DESIGN.md section 3):
 *   - a node is eligible when it is not drained, its gap lasts until at least
 *     now + duration_s, and it has a free PU (lendable and not leased),
 *     memory for one worker and, when GPUs are asked for, a free GPU;
 *   - within a node, PUs are taken unallocated first, then those not sharing
 *     L2/L3 with a running host step, then the rest, each by number;
 *   - across nodes, nodes are ordered by preference: those with free
 *     unallocated PUs first (most first), then those with free PUs away from
 *     the host (most first), then the rest (most free first), counting at
 *     most one PU per 256 MiB of the node's free memory; nodes with less
 *     free memory than that come last. SPREAD gives each node one worker in
 *     that order, round robin when the nodes are fewer than the workers;
 *     PACK fills each node in that order. The last node a request may
 *     use (max_out of them, and one per worker) is the first in that order
 *     that completes it: with max_out 1, the most preferred node that holds
 *     the whole request;
 *   - GPUs are taken on the nodes the workers land on (round robin for
 *     SPREAD, in order for PACK); a request for GPUs only uses nodes with a
 *     free GPU;
 *   - MaxLendFraction is the node agent's business: it is already applied
 *     in place_node.lendable and is not applied again here;
 *   - all workers are placed or none.
 */
#ifndef COLOC_PLACEMENT_H
#define COLOC_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpumask.h"
#include "lease_rules.h"

#define PLACE_MAX_WORKERS LEASE_MAX_WORKERS /* per request */

/* What the controller knows of one node's gap (sent by the node agent). */
struct place_node {
	uint32_t id; /* node index in the registry, < 2^28 */
	char name[64];
	struct cpumask lendable;    /* PUs that may be lent now */
	struct cpumask unallocated; /* of those, PUs no job holds (preferred) */
	struct cpumask near_host;   /* of those, PUs sharing L2/L3 with a running host step */
	struct cpumask leased;	    /* PUs already given to leases */
	uint64_t mem_free;	    /* lendable memory not yet leased, bytes */
	uint32_t gpus_free;	    /* bitmask of GPUs not yet leased */
	int64_t until;		    /* lendable until (unix s); INT64_MAX: no limit */
	bool drained;		    /* no new leases */
};

enum place_mode { PLACE_SPREAD, PLACE_PACK };

struct place_request {
	unsigned workers; /* one PU per worker, 1..PLACE_MAX_WORKERS */
	uint64_t mem_per_worker;
	unsigned gpus;		 /* total; taken on the nodes the workers land on */
	int64_t now, duration_s; /* the lease ends by now + duration_s <= until of its nodes */
	enum place_mode mode;
	unsigned max_workers_per_node; /* 0 = no limit */
};

/* One node's share of a lease: its PUs, memory and GPU bitmask. */
struct place_assignment {
	uint32_t node;
	struct cpumask pus;
	uint64_t mem;
	uint32_t gpus;
};

struct placement;

/* Creates an empty registry with room for node ids 0..max_nodes-1
 * (1..2^28) at first; it grows as placement_update meets larger ids.
 * NULL with errno set on failure. Free with placement_destroy (NULL: no-op). */
struct placement *placement_create(unsigned max_nodes);
void placement_destroy(struct placement *p);

/* Adds node n->id, or replaces its gap with *n (copied; leased included, so
 * the caller merges in leases the node agent has not acknowledged yet).
 * The registry grows to hold n->id: -EINVAL when it is 2^28 or more,
 * -ENOMEM. */
int placement_update(struct placement *p, const struct place_node *n);

/* Forgets a node; -ENOENT when it is not registered. */
int placement_remove(struct placement *p, uint32_t node);

/* The registry's copy of a node's gap, leases included; -ENOENT if none. */
int placement_get(const struct placement *p, uint32_t node, struct place_node *out);

/* Chooses PUs, memory and GPUs for r on at most max_out nodes. On success
 * fills out[0..*n), marks them leased in the registry and returns 0.
 * -EINVAL for an invalid request (no workers, more than PLACE_MAX_WORKERS,
 * duration_s <= 0, max_out 0). -ENOSPC when it cannot be satisfied whole:
 * nothing changes and err (when errlen > 0) names the largest gap (the node
 * with the most free PUs; with a free GPU when GPUs are asked for), e.g.
 * "largest gap: 6 cores, 12G on node17 until 14:05 UTC; asked 8 workers x 1G
 * for 1h00m". */
int placement_place(struct placement *p, const struct place_request *r,
		    struct place_assignment *out, unsigned max_out, unsigned *n, char *err,
		    size_t errlen);

/* Places a memory lease: bytes of memory on one node and no PU or GPU
 * (its executor needs a fraction of a core; the node agent runs it on the
 * node's lendable PUs, shared). The node is the one with the most free
 * memory among those not drained whose gap lasts until now + duration_s;
 * O(nodes). Fills *out (pus and gpus empty), takes the memory from the
 * node's mem_free and returns 0; -EINVAL (bytes 0, duration_s <= 0);
 * -ENOSPC when no node has the memory: err names the node with the most. */
int placement_place_memory(struct placement *p, uint64_t bytes, int64_t now, int64_t duration_s,
			   struct place_assignment *out, char *err, size_t errlen);

/* Gives the PUs, memory and GPUs of a[0..n) back (lease released or
 * revoked). A share on a node whose gap was replaced since and no longer
 * shows its PUs as leased gives nothing back (the node agent's report
 * already did). -ENOENT when a node is not registered; the others are
 * still given back. */
int placement_release(struct placement *p, const struct place_assignment *a, unsigned n);

#endif
