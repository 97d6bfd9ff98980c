/*
 * test_topology: colocd/topology.c. This machine's topology loads and is
 * consistent; synthetic shapes give the right counts, PU numbers and cache
 * and NUMA indexes; cache neighbours are the cores sharing an L2 or L3; cpu
 * lists round trip and junk is refused.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "topo_helpers.h"

#define GIB (1024ull * 1024 * 1024)

/* The cores partition all_pus, in index order, with npus PUs. */
static void assert_consistent(const struct topology *t)
{
	struct cpumask seen;

	cpumask_clear(&seen);
	for (unsigned i = 0; i < t->ncores; i++) {
		struct cpumask both;

		assert_int_equal(t->cores[i].index, i);
		assert_false(cpumask_empty(&t->cores[i].pus));
		cpumask_and(&both, &seen, &t->cores[i].pus);
		assert_true(cpumask_empty(&both));
		cpumask_or(&seen, &seen, &t->cores[i].pus);
	}
	assert_true(cpumask_equal(&seen, &t->all_pus));
	assert_int_equal(cpumask_count(&t->all_pus), t->npus);
}

/* ---- loading ------------------------------------------------------------ */

static void test_load_this_machine(void **state)
{
	struct topology *t = NULL;
	char err[256] = "";
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	if (topology_load(&t, err, sizeof(err)) != 0)
		fail_msg("topology_load: %s", err);
	assert_non_null(t);
	assert_true(t->ncores >= 1);
	assert_true(t->npus >= t->ncores);
	assert_false(cpumask_empty(&t->all_pus));
	/* hwloc shows the PUs this process may use (a cgroup may hide some) */
	if (online > 0)
		assert_true(t->npus <= (unsigned)online);
	assert_true(t->nnuma >= 1);
	assert_true(t->memory_bytes > 0);
	assert_consistent(t);
	for (unsigned i = 0; i < t->ncores; i++)
		assert_true(t->cores[i].numa >= 0 && (unsigned)t->cores[i].numa < t->nnuma);
	topology_destroy(t);
}

static void test_synthetic_shape(void **state)
{
	struct topology *t = synthetic("package:2 l3:1 l2:4 core:1 pu:2", 64 * GIB);

	assert_int_equal(t->ncores, 8);
	assert_int_equal(t->npus, 16);
	assert_int_equal(t->nnuma, 1);
	assert_true(t->memory_bytes == 64 * GIB);
	assert_mask(&t->all_pus, "0-15");
	assert_consistent(t);
	for (unsigned i = 0; i < 8; i++) {
		struct cpumask want;

		cpumask_clear(&want);
		cpumask_set(&want, 2 * i);
		cpumask_set(&want, 2 * i + 1);
		assert_true(cpumask_equal(&t->cores[i].pus, &want));
		assert_int_equal(t->cores[i].l2, (int)i);
		assert_int_equal(t->cores[i].l3, (int)i / 4);
		assert_int_equal(t->cores[i].numa, 0);
	}
	topology_destroy(t);
}

static void test_synthetic_shared_l2(void **state)
{
	struct topology *t = synthetic("l3:1 l2:2 core:2 pu:1", GIB);

	assert_int_equal(t->ncores, 4);
	assert_int_equal(t->npus, 4);
	assert_int_equal(t->cores[0].l2, 0);
	assert_int_equal(t->cores[1].l2, 0);
	assert_int_equal(t->cores[2].l2, 1);
	assert_int_equal(t->cores[3].l2, 1);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(t->cores[i].l3, 0);
	topology_destroy(t);
}

static void test_synthetic_no_caches_numa(void **state)
{
	/* memory 0: hwloc's synthetic default, 1 GiB per NUMA node */
	struct topology *t = synthetic("numa:2 core:2 pu:2", 0);

	assert_int_equal(t->ncores, 4);
	assert_int_equal(t->npus, 8);
	assert_int_equal(t->nnuma, 2);
	assert_true(t->memory_bytes == 2 * GIB);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(t->cores[i].l2, -1);
		assert_int_equal(t->cores[i].l3, -1);
		assert_int_equal(t->cores[i].numa, (int)i / 2);
	}
	topology_destroy(t);
}

static void test_synthetic_linux_numbering(void **state)
{
	/* hyperthread siblings numbered n apart, as Linux does on x86 */
	struct topology *t = synthetic("core:4 pu:2(indexes=0,4,1,5,2,6,3,7)", GIB);

	assert_int_equal(t->ncores, 4);
	assert_mask(&t->cores[0].pus, "0,4");
	assert_mask(&t->cores[3].pus, "3,7");
	assert_mask(&t->all_pus, "0-7");
	assert_consistent(t);
	topology_destroy(t);
}

static void test_synthetic_rejects_junk(void **state)
{
	struct topology *t = (struct topology *)&t;
	char err[256] = "";

	assert_int_equal(topology_synthetic("core:banana", GIB, &t, err, sizeof(err)), -EINVAL);
	assert_null(t);
	assert_non_null(strstr(err, "core:banana"));
	t = (struct topology *)&t;
	assert_int_equal(topology_synthetic(NULL, GIB, &t, err, sizeof(err)), -EINVAL);
	assert_null(t);
	/* no room for a message is fine */
	assert_int_equal(topology_synthetic("junk", GIB, &t, NULL, 0), -EINVAL);
	topology_destroy(NULL);
}

static void test_too_many_pus(void **state)
{
	struct topology *t = (struct topology *)&t;
	char err[256] = "";

	/* PU numbers 0..1027 exceed CPUMASK_MAX */
	assert_int_equal(topology_synthetic("core:514 pu:2", GIB, &t, err, sizeof(err)), -ERANGE);
	assert_null(t);
	assert_non_null(strstr(err, "CPUMASK_MAX"));
}

/* ---- cache neighbours --------------------------------------------------- */

static void neighbours(const struct topology *t, const char *pus, const char *want)
{
	struct cpumask in = mask(pus), out;

	topology_cache_neighbours(t, &in, &out);
	assert_mask(&out, want);
	/* in place */
	topology_cache_neighbours(t, &in, &in);
	assert_mask(&in, want);
}

static void test_cache_neighbours(void **state)
{
	/* package = L3 over 2 L2s of 2 cores of 2 PUs */
	struct topology *t = synthetic("package:2 l3:1 l2:2 core:2 pu:2", GIB);

	neighbours(t, "", "");
	neighbours(t, "0", "0-7");   /* its L3: the whole package */
	neighbours(t, "15", "8-15"); /* the other package */
	neighbours(t, "3,12", "0-15");
	topology_destroy(t);

	/* private L2s, no L3: only L2 partners */
	t = synthetic("package:2 l2:2 core:2 pu:2", GIB);
	neighbours(t, "0", "0-3");
	neighbours(t, "5,9", "4-11");
	topology_destroy(t);

	/* no caches at all: a core is only its own neighbour */
	t = synthetic("package:2 core:4 pu:2", GIB);
	neighbours(t, "3", "2-3");
	neighbours(t, "3,8", "2-3,8-9");
	topology_destroy(t);
}

static void test_cache_neighbours_by_hand(void **state)
{
	/* a topology built without hwloc: cores {0,1} and {2,3} share an L2 */
	struct topo_core cores[3] = {
	    {.index = 0, .l2 = 0, .l3 = -1, .numa = 0},
	    {.index = 1, .l2 = 0, .l3 = -1, .numa = 0},
	    {.index = 2, .l2 = 1, .l3 = -1, .numa = 0},
	};
	struct topology t = {.ncores = 3, .npus = 3, .nnuma = 1, .cores = cores};
	struct cpumask in = mask("0,40"), out;

	for (unsigned i = 0; i < 3; i++)
		cpumask_set(&cores[i].pus, i);
	t.all_pus = mask("0-2");
	topology_cache_neighbours(&t, &in, &out); /* 40 is on no core: ignored */
	assert_mask(&out, "0-1");
}

/* ---- cpu lists ---------------------------------------------------------- */

static void round_trip(const char *list)
{
	struct cpumask m;
	char buf[4096];

	assert_int_equal(cpumask_parse(list, &m), 0);
	assert_int_equal(cpumask_format(&m, buf, sizeof(buf)), 0);
	assert_string_equal(buf, list);
}

static void test_cpulist_round_trip(void **state)
{
	struct cpumask m, back;
	char buf[4096];

	round_trip("");
	round_trip("0");
	round_trip("0-3,8");
	round_trip("1,3,5");
	round_trip("0-2,4-6,1023");
	round_trip("0-1023");
	round_trip("63-64,127-128");

	/* every third cpu: a long list */
	cpumask_clear(&m);
	for (unsigned c = 0; c < CPUMASK_MAX; c += 3)
		cpumask_set(&m, c);
	assert_int_equal(cpumask_format(&m, buf, sizeof(buf)), 0);
	assert_int_equal(cpumask_parse(buf, &back), 0);
	assert_true(cpumask_equal(&m, &back));

	/* cpumask_next (a word at a time) from every cpu, across words */
	m = mask("0,62-63,64,127,700,1023");
	for (unsigned from = 0; from <= CPUMASK_MAX; from++) {
		int want = -1;

		for (unsigned c = from; c < CPUMASK_MAX && want < 0; c++)
			if (cpumask_test(&m, c))
				want = (int)c;
		assert_int_equal(cpumask_next(&m, from), want);
	}
}

static void test_cpulist_parse(void **state)
{
	struct cpumask m;

	/* as cpuset files write it, with a newline; singletons as ranges */
	assert_int_equal(cpumask_parse("0-3,8\n", &m), 0);
	assert_mask(&m, "0-3,8");
	assert_int_equal(cpumask_parse("5-5,2,0-1", &m), 0);
	assert_mask(&m, "0-2,5");
	assert_int_equal(cpumask_parse("1,1,0-1", &m), 0);
	assert_mask(&m, "0-1");
	assert_int_equal(cpumask_parse("007", &m), 0);
	assert_mask(&m, "7");
}

static void test_cpulist_rejects_junk(void **state)
{
	static const char *const junk[] = {
	    "a",   "1-",  "-1",	 "3-1", "1,,2", ",1",  "1,",   "1 2",  " 1",	 "1-2-3",
	    "0x1", "1;2", "1-a", "+1",	"1.5",	"\n1", "1,\n", "1\n2", "0-3 ,8",
	};
	struct cpumask m, before = mask("42");

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		m = before;
		if (cpumask_parse(junk[i], &m) != -EINVAL)
			fail_msg("\"%s\" was not refused with -EINVAL", junk[i]);
		assert_true(cpumask_equal(&m, &before));
	}
	m = before;
	assert_int_equal(cpumask_parse("1024", &m), -ERANGE);
	assert_int_equal(cpumask_parse("0-1024", &m), -ERANGE);
	assert_int_equal(cpumask_parse("99999999999999999999999", &m), -ERANGE);
	assert_true(cpumask_equal(&m, &before));
	assert_int_equal(cpumask_parse(NULL, &m), -EINVAL);
}

static void test_cpulist_format_space(void **state)
{
	struct cpumask m = mask("0-3,8");
	char buf[8];

	assert_int_equal(cpumask_format(&m, buf, 6), 0); /* "0-3,8" and its NUL */
	assert_string_equal(buf, "0-3,8");
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(cpumask_format(&m, buf, 5), -ENOSPC);
	assert_true(memchr(buf, '\0', 5) != NULL);
	assert_int_equal(cpumask_format(&m, buf, 0), -ENOSPC);
	cpumask_clear(&m);
	assert_int_equal(cpumask_format(&m, buf, 1), 0);
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_this_machine),
	    cmocka_unit_test(test_synthetic_shape),
	    cmocka_unit_test(test_synthetic_shared_l2),
	    cmocka_unit_test(test_synthetic_no_caches_numa),
	    cmocka_unit_test(test_synthetic_linux_numbering),
	    cmocka_unit_test(test_synthetic_rejects_junk),
	    cmocka_unit_test(test_too_many_pus),
	    cmocka_unit_test(test_cache_neighbours),
	    cmocka_unit_test(test_cache_neighbours_by_hand),
	    cmocka_unit_test(test_cpulist_round_trip),
	    cmocka_unit_test(test_cpulist_parse),
	    cmocka_unit_test(test_cpulist_rejects_junk),
	    cmocka_unit_test(test_cpulist_format_space),
	};

	return cmocka_run_group_tests_name("topology", tests, NULL, NULL);
}
