/*
 * topo_helpers: topologies and cpu lists in unit tests. synthetic(desc,
 * mem) builds an hwloc synthetic topology (the test fails where hwloc
 * refuses desc); mask("0-3,8") parses a cpu list (the test fails where it
 * does not parse); assert_mask(&m, "0-3,8") compares a mask with a list,
 * naming the mask in the failure. Include after cmocka.h.
 */
#ifndef COLOC_TEST_TOPO_HELPERS_H
#define COLOC_TEST_TOPO_HELPERS_H

#include "topology.h"

#include <string.h>

static inline struct topology *synthetic(const char *desc, uint64_t mem)
{
	struct topology *t = NULL;
	char err[256] = "";
	int rc = topology_synthetic(desc, mem, &t, err, sizeof(err));

	if (rc != 0)
		fail_msg("\"%s\": %d %s", desc, rc, err);
	assert_non_null(t);
	return t;
}

static inline struct cpumask mask(const char *list)
{
	struct cpumask m;

	if (cpumask_parse(list, &m) != 0)
		fail_msg("cannot parse \"%s\"", list);
	return m;
}

#define assert_mask(m, want) assert_mask_((m), (want), #m)
static inline void assert_mask_(const struct cpumask *m, const char *want, const char *what)
{
	char buf[512];

	assert_int_equal(cpumask_format(m, buf, sizeof(buf)), 0);
	if (strcmp(buf, want) != 0)
		fail_msg("%s is \"%s\", not \"%s\"", what, buf, want);
}

#endif
