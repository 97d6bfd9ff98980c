/*
 * topology: the only module that includes hwloc.h. It loads an hwloc
 * topology (this machine's or a synthetic one), copies what colocd needs into
 * a plain struct topology (one struct topo_core per core, with the OS numbers
 * of its PUs and the logical indexes of its L2, L3 and NUMA node) and drops
 * the hwloc handle at once. A machine where hwloc finds no core objects gets
 * one pseudo-core per PU. No state, no locking: a struct topology is
 * read-only once built and may be shared between threads.
 */
#include "config.h"

#include "topology.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hwloc.h>

/* Logical index of obj's ancestor of the given type, or -1. */
static int ancestor_index(hwloc_topology_t h, hwloc_obj_t obj, hwloc_obj_type_t type)
{
	hwloc_obj_t a = hwloc_get_ancestor_obj_by_type(h, type, obj);

	return a ? (int)a->logical_index : -1;
}

/* Logical index of the first NUMA node whose cpus intersect obj's, or -1. */
static int numa_index(hwloc_topology_t h, hwloc_obj_t obj)
{
	hwloc_obj_t n = NULL;

	while ((n = hwloc_get_next_obj_by_type(h, HWLOC_OBJ_NUMANODE, n)) != NULL)
		if (n->cpuset && obj->cpuset && hwloc_bitmap_intersects(n->cpuset, obj->cpuset))
			return (int)n->logical_index;
	return -1;
}

/* Fills core from the hwloc object obj (a Core, or a PU standing for one). */
static int fill_core(hwloc_topology_t h, hwloc_obj_t obj, struct topo_core *core, char *err,
		     size_t errlen)
{
	int pu;

	core->index = obj->logical_index;
	cpumask_clear(&core->pus);
	if (!obj->cpuset) {
		log_errbuf(err, errlen, "hwloc gave core %u no cpuset.", obj->logical_index);
		return -EINVAL;
	}
	hwloc_bitmap_foreach_begin(pu, obj->cpuset)
	{
		if (pu >= CPUMASK_MAX) {
			log_errbuf(err, errlen,
				   "PU %d is beyond the %d cpus coloc supports; rebuild with a "
				   "larger CPUMASK_MAX.",
				   pu, CPUMASK_MAX);
			return -ERANGE;
		}
		cpumask_set(&core->pus, (unsigned)pu);
	}
	hwloc_bitmap_foreach_end();
	core->l2 = ancestor_index(h, obj, HWLOC_OBJ_L2CACHE);
	core->l3 = ancestor_index(h, obj, HWLOC_OBJ_L3CACHE);
	core->numa = numa_index(h, obj);
	return 0;
}

/* Copies a loaded hwloc topology into a new struct topology. */
static int topology_from_hwloc(hwloc_topology_t h, uint64_t memory_bytes, struct topology **out,
			       char *err, size_t errlen)
{
	hwloc_obj_type_t type = HWLOC_OBJ_CORE;
	struct topology *t;
	int n, rc;

	n = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_CORE);
	if (n <= 0) {
		type = HWLOC_OBJ_PU;
		n = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_PU);
	}
	if (n <= 0) {
		log_errbuf(err, errlen, "hwloc found no cores and no PUs.");
		return -ENODEV;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto fail_alloc;
	t->cores = calloc((size_t)n, sizeof(*t->cores));
	if (!t->cores)
		goto fail_alloc_cores;
	t->ncores = (unsigned)n;
	for (int i = 0; i < n; i++) {
		hwloc_obj_t obj = hwloc_get_obj_by_type(h, type, (unsigned)i);

		if (!obj) {
			log_errbuf(err, errlen, "hwloc lost core %d.", i);
			rc = -EINVAL;
			goto fail_fill;
		}
		rc = fill_core(h, obj, &t->cores[i], err, errlen);
		if (rc)
			goto fail_fill;
		cpumask_or(&t->all_pus, &t->all_pus, &t->cores[i].pus);
	}
	t->npus = cpumask_count(&t->all_pus);
	n = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_NUMANODE);
	t->nnuma = n > 0 ? (unsigned)n : 0;
	if (!memory_bytes)
		memory_bytes = hwloc_get_root_obj(h)->total_memory;
	t->memory_bytes = memory_bytes;
	*out = t;
	return 0;

fail_fill:
	free(t->cores);
	free(t);
	return rc;
fail_alloc_cores:
	free(t);
fail_alloc:
	log_errbuf(err, errlen, "Out of memory while reading the topology.");
	return -ENOMEM;
}

/* Loads h (already set up), then copies it; always destroys h. */
static int topology_load_hwloc(hwloc_topology_t h, uint64_t memory_bytes, struct topology **t,
			       char *err, size_t errlen)
{
	int rc;

	errno = 0;
	if (hwloc_topology_load(h) != 0) {
		rc = errno ? -errno : -EIO;
		log_errbuf(err, errlen, "hwloc could not load the topology: %s.", strerror(-rc));
		goto out;
	}
	rc = topology_from_hwloc(h, memory_bytes, t, err, errlen);
out:
	hwloc_topology_destroy(h);
	return rc;
}

int topology_load(struct topology **t, char *err, size_t errlen)
{
	hwloc_topology_t h;
	long pages, page_size;
	int rc;

	*t = NULL;
	errno = 0;
	if (hwloc_topology_init(&h) != 0) {
		rc = errno ? -errno : -ENOMEM;
		log_errbuf(err, errlen, "hwloc could not start: %s.", strerror(-rc));
		return rc;
	}
	rc = topology_load_hwloc(h, 0, t, err, errlen);
	if (rc == 0 && (*t)->memory_bytes == 0) {
		/* hwloc may not know the memory (some containers): ask the kernel. */
		pages = sysconf(_SC_PHYS_PAGES);
		page_size = sysconf(_SC_PAGESIZE);
		if (pages > 0 && page_size > 0)
			(*t)->memory_bytes = (uint64_t)pages * (uint64_t)page_size;
	}
	return rc;
}

int topology_synthetic(const char *desc, uint64_t memory_bytes, struct topology **t, char *err,
		       size_t errlen)
{
	hwloc_topology_t h;

	*t = NULL;
	if (!desc) {
		log_errbuf(err, errlen, "No synthetic topology description was given.");
		return -EINVAL;
	}
	errno = 0;
	if (hwloc_topology_init(&h) != 0) {
		int rc = errno ? -errno : -ENOMEM;

		log_errbuf(err, errlen, "hwloc could not start: %s.", strerror(-rc));
		return rc;
	}
	if (hwloc_topology_set_synthetic(h, desc) != 0) {
		log_errbuf(err, errlen,
			   "hwloc rejects the synthetic topology \"%s\"; see hwloc's "
			   "\"Synthetic topologies\" documentation for the syntax.",
			   desc);
		hwloc_topology_destroy(h);
		return -EINVAL;
	}
	return topology_load_hwloc(h, memory_bytes, t, err, errlen);
}

void topology_destroy(struct topology *t)
{
	if (!t)
		return;
	free(t->cores);
	free(t);
}

void topology_cache_neighbours(const struct topology *t, const struct cpumask *pus,
			       struct cpumask *out)
{
	/* Cache logical indexes touched by pus, as bit sets (a cache holds at
	 * least one PU, so there are fewer than CPUMASK_MAX of each). */
	struct cpumask l2s, l3s, res;

	cpumask_clear(&l2s);
	cpumask_clear(&l3s);
	cpumask_clear(&res);
	for (unsigned i = 0; i < t->ncores; i++) {
		const struct topo_core *c = &t->cores[i];
		struct cpumask both;

		cpumask_and(&both, &c->pus, pus);
		if (cpumask_empty(&both))
			continue;
		cpumask_or(&res, &res, &c->pus);
		if (c->l2 >= 0)
			cpumask_set(&l2s, (unsigned)c->l2);
		if (c->l3 >= 0)
			cpumask_set(&l3s, (unsigned)c->l3);
	}
	for (unsigned i = 0; i < t->ncores; i++) {
		const struct topo_core *c = &t->cores[i];

		if ((c->l2 >= 0 && cpumask_test(&l2s, (unsigned)c->l2)) ||
		    (c->l3 >= 0 && cpumask_test(&l3s, (unsigned)c->l3)))
			cpumask_or(&res, &res, &c->pus);
	}
	*out = res;
}
