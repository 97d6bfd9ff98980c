/*
 * topology: the cores, PUs (hardware threads), caches, NUMA nodes and memory
 * of a node, read once through hwloc and kept as plain data, so that the rest
 * of colocd (the gap set, placement, sandboxes) never touches hwloc. Also the
 * "0-3,8" cpu list format used in configuration, messages and cpuset files.
 */
#ifndef COLOC_TOPOLOGY_H
#define COLOC_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "cpumask.h"

struct topo_core {
	unsigned index;	    /* core logical index (0..ncores-1, the order of cores[]) */
	struct cpumask pus; /* OS numbers of its PUs (hyperthreads) */
	int l2, l3, numa;   /* logical index of its L2, L3 (or -1 when none) and NUMA node */
};

struct topology {
	unsigned ncores, npus, nnuma;
	struct topo_core *cores; /* ncores entries, by logical index */
	struct cpumask all_pus;	 /* union of the cores' PUs */
	uint64_t memory_bytes;	 /* total memory of the machine */
};

/*
 * Reads this machine's topology (the PUs this process may use, as hwloc
 * reports them). On success *t is a new topology the caller frees with
 * topology_destroy and 0 is returned; on failure -errno, *t is NULL and err
 * holds a sentence saying what went wrong. A PU numbered CPUMASK_MAX or more
 * is refused with -ERANGE. Not thread-safe with respect to hwloc's own
 * environment variables (HWLOC_*), which it honours.
 */
int topology_load(struct topology **t, char *err, size_t errlen);

/*
 * Builds a topology from an hwloc synthetic description, e.g.
 * "package:2 l3:1 l2:4 core:1 pu:2" (2 packages, each one L3 over 4 L2s of
 * one core with 2 PUs), for tests and simulations. PUs are numbered in
 * order (0, 1, ...) unless the description says otherwise (indexes=).
 * memory_bytes is the machine's memory; 0 takes hwloc's (1 GiB per NUMA node
 * unless the description sets it). Same ownership and errors as
 * topology_load; a description hwloc rejects gives -EINVAL.
 */
int topology_synthetic(const char *desc, uint64_t memory_bytes, struct topology **t, char *err,
		       size_t errlen);

/* Frees a topology from topology_load or topology_synthetic; NULL is a no-op. */
void topology_destroy(struct topology *t);

/*
 * Sets out to the PUs of every core that shares an L2 or an L3 with a core
 * holding any PU in pus; those cores themselves are included (a core shares
 * its caches with itself). PUs of pus that belong to no core are ignored.
 * out may alias pus. Uses only the fields of struct topology, so a topology
 * built by hand works too.
 */
void topology_cache_neighbours(const struct topology *t, const struct cpumask *pus,
			       struct cpumask *out);

#endif
