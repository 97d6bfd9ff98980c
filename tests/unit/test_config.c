/*
 * test_config: common/config.c, coloc.conf. The defaults are the documented
 * ones; every key parses, whatever its case, with comments and blanks
 * around; every bad value, unknown key, key given twice and line without '='
 * is an error naming the file, the line and the key, and leaves the
 * configuration as it was; the size, duration, boolean and device-list
 * parsers take what coloc.conf(5) promises and nothing else; config_load
 * reads -f, then COLOC_CONF, then the default file, which alone may be
 * missing. COLOC_SYSCONFDIR points into the build tree (tests/unit/config.am).
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "coloc_config.h"

#define ERRLEN 512

static char tmpdir[] = "/tmp/test_config.XXXXXX";

/* ---- helpers ------------------------------------------------------------ */

/* Parses text on top of the defaults into *c; returns config_parse's rc. */
static int parse(const char *text, struct coloc_config *c, char *err)
{
	config_defaults(c);
	err[0] = '\0';
	return config_parse(text, "t.conf", c, err, ERRLEN);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'", haystack, needle);
}

static void assert_starts_with(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)) != 0)
		fail_msg("'%s' does not start with '%s'", s, prefix);
}

/* ---- defaults and every key --------------------------------------------- */

static void test_defaults(void **state)
{
	struct coloc_config c;

	memset(&c, 0xa5, sizeof(c));
	config_defaults(&c);
	assert_string_equal(c.controller_host, "localhost");
	assert_false(c.controller_host_set);
	assert_int_equal(c.controller_port, 863); /* privileged: no user can take them */
	assert_int_equal(c.node_agent_port, 864);
	assert_string_equal(c.node_agent_address, "");
	assert_string_equal(c.socket_path, "/run/coloc/colocd.sock");
	assert_string_equal(c.state_dir, "/var/lib/coloc");
	assert_string_equal(c.cgroup_root, "coloc");
	assert_true(c.lend_unallocated);
	assert_true(c.max_lend_fraction == 0.5);
	assert_int_equal(c.batch_step_cores, 1);
	assert_true(c.memory_margin == 1ull << 30);
	assert_int_equal(c.evict_grace_ms, 2000);
	assert_int_equal(c.default_lease_s, 30 * 60);
	assert_int_equal(c.max_lease_s, 24 * 3600);
	assert_true(c.default_worker_mem == 256ull << 20);
	assert_string_equal(c.provider, "");
	assert_int_equal(c.hot_poll_us, 100000);
	assert_int_equal(c.spare_executors, 1);
	assert_int_equal(c.max_connections_per_host, 64);
	assert_int_equal(c.ngpus, 0);
	assert_int_equal(c.auth, COLOC_AUTH_MUNGE);
	assert_int_equal(c.metrics_port, 0); /* no metrics unless asked for */
	assert_string_equal(c.metrics_address, "127.0.0.1");
	assert_string_equal(c.file, "");
}

static void test_default_path(void **state)
{
	assert_string_equal(config_default_path(), COLOC_SYSCONFDIR "/slurm/coloc.conf");
}

static void test_every_key(void **state)
{
	static const char text[] = "# coloc.conf for the test cluster\n"
				   "\n"
				   "ControllerHost=mgmt01.example.org\n"
				   "controllerport = 7000   # the controller\n"
				   "NODEAGENTPORT\t=\t7001\r\n"
				   "NodeAgentAddress=10.1.2.3\n"
				   "  SocketPath=/run/x/colocd.sock  \n"
				   "StateDir=/var/spool/coloc\n"
				   "CgroupRoot=system.slice/coloc\n"
				   "LendUnallocated=No\n"
				   "MaxLendFraction=0.25\n"
				   "BatchStepCores=0\n"
				   "MemoryMargin=512M\n"
				   "EvictGrace=500ms\n"
				   "DefaultLeaseTime=10\n"
				   "MaxLeaseTime=2-00:00:00\n"
				   "DefaultMemPerWorker=2g\n"
				   "Provider=verbs;ofi_rxm\n"
				   "HotPollTime=50us\n"
				   "SpareExecutors=3\n"
				   "MaxConnectionsPerHost=8\n"
				   "Gpus=/dev/nvidia[0-3],/dev/nvidia7\n"
				   "authtype=auth/none\n"
				   "MungeSocket=/run/munge/other.socket\n"
				   "MetricsPort=9863\n"
				   "MetricsAddress=10.1.2.4\n"
				   "   # trailing comment\n";
	struct coloc_config c;
	char err[ERRLEN];

	assert_int_equal(parse(text, &c, err), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.controller_host, "mgmt01.example.org");
	assert_true(c.controller_host_set);
	assert_int_equal(c.controller_port, 7000);
	assert_int_equal(c.node_agent_port, 7001);
	assert_string_equal(c.node_agent_address, "10.1.2.3");
	assert_string_equal(c.socket_path, "/run/x/colocd.sock");
	assert_string_equal(c.state_dir, "/var/spool/coloc");
	assert_string_equal(c.cgroup_root, "system.slice/coloc");
	assert_false(c.lend_unallocated);
	assert_true(c.max_lend_fraction == 0.25);
	assert_int_equal(c.batch_step_cores, 0);
	assert_true(c.memory_margin == 512ull << 20);
	assert_int_equal(c.evict_grace_ms, 500);
	assert_int_equal(c.default_lease_s, 600);
	assert_int_equal(c.max_lease_s, 2 * 86400);
	assert_true(c.default_worker_mem == 2ull << 30);
	assert_string_equal(c.provider, "verbs;ofi_rxm");
	assert_int_equal(c.hot_poll_us, 50);
	assert_int_equal(c.spare_executors, 3);
	assert_int_equal(c.max_connections_per_host, 8);
	assert_int_equal(c.ngpus, 5);
	assert_string_equal(c.gpus[0], "/dev/nvidia0");
	assert_string_equal(c.gpus[3], "/dev/nvidia3");
	assert_string_equal(c.gpus[4], "/dev/nvidia7");
	assert_int_equal(c.auth, COLOC_AUTH_NONE);
	assert_string_equal(c.munge_socket, "/run/munge/other.socket");
	assert_int_equal(c.metrics_port, 9863);
	assert_string_equal(c.metrics_address, "10.1.2.4");
}

/* %n: one coloc.conf for every node, and several agents on one host. */
static void test_expand_node(void **state)
{
	struct coloc_config c;
	char err[ERRLEN] = "";

	(void)state;
	assert_int_equal(
	    parse("SocketPath=/run/coloc/%n.sock\nStateDir=/var/lib/coloc/%n/x%n\n"
		  "CgroupRoot=coloc_%n\nGpus=/dev/gpu-%n-[0-1]\nMetricsAddress=%n-mgmt\n",
		  &c, err),
	    0);
	assert_int_equal(config_expand_node(&c, "node-7", err, sizeof(err)), 0);
	assert_string_equal(c.socket_path, "/run/coloc/node-7.sock");
	assert_string_equal(c.state_dir, "/var/lib/coloc/node-7/xnode-7");
	assert_string_equal(c.cgroup_root, "coloc_node-7");
	assert_string_equal(c.gpus[0], "/dev/gpu-node-7-0");
	assert_string_equal(c.gpus[1], "/dev/gpu-node-7-1");
	assert_string_equal(c.metrics_address, "node-7-mgmt");
	/* without %n nothing changes */
	config_defaults(&c);
	assert_int_equal(config_expand_node(&c, "n1", err, sizeof(err)), 0);
	assert_string_equal(c.socket_path, "/run/coloc/colocd.sock");
	/* a name that is not one, and a result that does not fit */
	assert_int_equal(config_expand_node(&c, "../x", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a node name"));
	assert_int_equal(
	    parse("SocketPath=/run/%n%n%n%n%n%n%n%n%n%n%n%n%n%n%n%n%n%n%n%n\n", &c, err), 0);
	assert_int_equal(config_expand_node(&c, "a-rather-long-node-name", err, sizeof(err)),
			 -ENAMETOOLONG);
	assert_non_null(strstr(err, "SocketPath"));
}

static void test_value_forms(void **state)
{
	struct coloc_config c;
	char err[ERRLEN];

	assert_int_equal(parse("HotPollTime=0\n", &c, err), 0);
	assert_int_equal(c.hot_poll_us, 0);
	assert_int_equal(parse("HotPollTime=infinite\n", &c, err), 0);
	assert_int_equal(c.hot_poll_us, CONFIG_HOT_POLL_INFINITE);
	assert_int_equal(parse("HotPollTime=INFINITE\n", &c, err), 0);
	assert_int_equal(c.hot_poll_us, CONFIG_HOT_POLL_INFINITE);
	assert_int_equal(parse("HotPollTime=5\n", &c, err), 0); /* bare = milliseconds */
	assert_int_equal(c.hot_poll_us, 5000);
	assert_int_equal(parse("HotPollTime=10min\n", &c, err), 0);
	assert_int_equal(c.hot_poll_us, 600000000);

	assert_int_equal(parse("EvictGrace=3\n", &c, err), 0); /* bare = seconds */
	assert_int_equal(c.evict_grace_ms, 3000);
	assert_int_equal(parse("EvictGrace=0\n", &c, err), 0);
	assert_int_equal(c.evict_grace_ms, 0);

	assert_int_equal(parse("MaxLendFraction=50%\n", &c, err), 0);
	assert_true(c.max_lend_fraction == 0.5);
	assert_int_equal(parse("MaxLendFraction=1\n", &c, err), 0);
	assert_true(c.max_lend_fraction == 1.0);

	assert_int_equal(parse("AuthType=MUNGE\n", &c, err), 0);
	assert_int_equal(c.auth, COLOC_AUTH_MUNGE);
	assert_int_equal(parse("AuthType=None\n", &c, err), 0);
	assert_int_equal(c.auth, COLOC_AUTH_NONE);
	assert_int_equal(parse("AuthType=Auth/Munge\n", &c, err), 0);
	assert_int_equal(c.auth, COLOC_AUTH_MUNGE);

	assert_int_equal(parse("DefaultLeaseTime=1:30:00\nMaxLeaseTime=36h\n", &c, err), 0);
	assert_int_equal(c.default_lease_s, 5400);
	assert_int_equal(c.max_lease_s, 36 * 3600);
	assert_int_equal(parse("DefaultLeaseTime=90s\nMaxLeaseTime=90s\n", &c, err), 0);
	assert_int_equal(c.default_lease_s, 90);
	assert_int_equal(c.max_lease_s, 90);
	/* the longest lease is lease_rules.h's, as every client's request (not 365 days) */
	assert_int_equal(parse("DefaultLeaseTime=366d\nMaxLeaseTime=366-00:00:00\n", &c, err), 0);
	assert_int_equal(c.default_lease_s, 366 * 86400);
	assert_int_equal(c.max_lease_s, 366 * 86400);
	assert_int_equal(parse("MaxLeaseTime=31622400s\n", &c, err), 0);
	assert_int_equal(c.max_lease_s, 366 * 86400);

	assert_int_equal(parse("ControllerPort=1\nNodeAgentPort=65535\n", &c, err), 0);
	assert_int_equal(c.controller_port, 1);
	assert_int_equal(c.node_agent_port, 65535);
	assert_int_equal(parse("MemoryMargin=0\n", &c, err), 0);
	assert_true(c.memory_margin == 0);
	assert_int_equal(parse("LendUnallocated=on\n", &c, err), 0);
	assert_true(c.lend_unallocated);
}

/* Provider and Gpus may be empty: "libfabric's choice" and "no GPUs". */
static void test_empty_allowed(void **state)
{
	struct coloc_config c;
	char err[ERRLEN];

	assert_int_equal(parse("Provider=tcp\nGpus=/dev/nvidia0\nNodeAgentAddress=::1\n", &c, err),
			 0);
	assert_int_equal(config_parse("Provider=\nGpus=  # none\nNodeAgentAddress=\n", "t.conf", &c,
				      err, ERRLEN),
			 0);
	assert_string_equal(c.provider, "");
	assert_int_equal(c.ngpus, 0);
	assert_string_equal(c.node_agent_address, "");
}

static void test_empty_text(void **state)
{
	struct coloc_config c, d;
	char err[ERRLEN];

	config_defaults(&d);
	assert_int_equal(parse("", &c, err), 0);
	assert_memory_equal(&c, &d, sizeof(c));
	assert_int_equal(parse("\n\n   \n# only comments\n\t# here\n", &c, err), 0);
	assert_memory_equal(&c, &d, sizeof(c));
}

/* A second text overrides only the keys it names. */
static void test_parse_on_top(void **state)
{
	struct coloc_config c;
	char err[ERRLEN];

	assert_int_equal(parse("ControllerPort=7000\n", &c, err), 0);
	assert_int_equal(config_parse("NodeAgentPort=7001\n", "u.conf", &c, err, ERRLEN), 0);
	assert_int_equal(c.controller_port, 7000);
	assert_int_equal(c.node_agent_port, 7001);
}

/* ---- syntax errors ------------------------------------------------------ */

static void test_unknown_key(void **state)
{
	struct coloc_config c;
	char err[ERRLEN];
	char text[256] = "";

	for (int i = 0; i < 11; i++)
		strcat(text, "# comment\n");
	strcat(text, "Foo=bar\n");
	assert_int_equal(parse(text, &c, err), -EINVAL);
	assert_string_equal(err, "t.conf:12: unknown key 'Foo'; see coloc.conf(5) for the keys");
	/* a Slurm key is not a coloc key either */
	assert_int_equal(parse("ControlMachine=x\n", &c, err), -EINVAL);
	assert_string_equal(
	    err, "t.conf:1: unknown key 'ControlMachine'; see coloc.conf(5) for the keys");
}

static void test_duplicate_key(void **state)
{
	struct coloc_config c;
	char err[ERRLEN];

	assert_int_equal(parse("ControllerPort=7000\n\nCONTROLLERPORT=7000\n", &c, err), -EINVAL);
	assert_starts_with(err, "t.conf:3: ControllerPort is given twice");
	assert_contains(err, "lines 1 and 3");
}

static void test_missing_equals(void **state)
{
	struct coloc_config c;
	char err[ERRLEN];

	assert_int_equal(parse("ControllerPort=7000\nNodeAgentPort 7001\n", &c, err), -EINVAL);
	assert_starts_with(err, "t.conf:2: 'NodeAgentPort 7001' has no '='");
	assert_int_equal(parse("=7001\n", &c, err), -EINVAL);
	assert_starts_with(err, "t.conf:1: no key before '='");
}

static void test_long_line(void **state)
{
	char *text = malloc(CONFIG_LINE_MAX + 16);
	struct coloc_config c;
	char err[ERRLEN];

	assert_non_null(text);
	/* exactly CONFIG_LINE_MAX characters: accepted */
	text[0] = '#';
	memset(text + 1, 'x', CONFIG_LINE_MAX - 1);
	strcpy(text + CONFIG_LINE_MAX, "\n");
	assert_int_equal(parse(text, &c, err), 0);
	/* one more: an error naming the line and the limit */
	memset(text, '#', 1);
	memset(text + 1, 'x', CONFIG_LINE_MAX);
	strcpy(text + CONFIG_LINE_MAX + 1, "\n");
	assert_int_equal(parse(text, &c, err), -EINVAL);
	assert_starts_with(err, "t.conf:1: the line is longer than 4096 characters");
	free(text);
}

/* ---- bad values --------------------------------------------------------- */

struct bad_value {
	const char *line;
	const char *expect; /* after "t.conf:2: " */
};

static void test_bad_values(void **state)
{
	char long_host[300], long_sock[200], long_prov[100], long_gpu[100];
	struct coloc_config c, d;
	char text[512], want[256], err[ERRLEN];

	snprintf(long_host, sizeof(long_host), "ControllerHost=%0256d", 0);
	snprintf(long_sock, sizeof(long_sock), "SocketPath=/%0107d", 0);
	snprintf(long_prov, sizeof(long_prov), "Provider=%064d", 0);
	snprintf(long_gpu, sizeof(long_gpu), "Gpus=/dev/%059d", 0); /* 64 characters */

	const struct bad_value cases[] = {
	    {"ControllerHost=", "ControllerHost= has no value; expected a host name"},
	    {"ControllerHost=a b", "ControllerHost=a b contains a blank"},
	    {long_host, "ControllerHost=0000"},
	    {"ControllerPort=0", "ControllerPort=0 is out of range; expected a port number from 1 "
				 "to 65535"},
	    {"ControllerPort=65536", "ControllerPort=65536 is out of range"},
	    {"ControllerPort=-1", "ControllerPort=-1 is not a whole number"},
	    {"ControllerPort=6830x", "ControllerPort=6830x is not a whole number"},
	    {"ControllerPort=99999999999999999999999", "ControllerPort=9999"},
	    {"NodeAgentPort=", "NodeAgentPort= has no value; expected a port number"},
	    {"NodeAgentPort=port", "NodeAgentPort=port is not a whole number"},
	    {"MetricsPort=65536",
	     "MetricsPort=65536 is out of range; expected a port number from 1 "
	     "to 65535, or 0 for no metrics"},
	    {"MetricsAddress=", "MetricsAddress= has no value"},
	    {"SocketPath=run/colocd.sock", "SocketPath=run/colocd.sock is not an absolute path"},
	    {long_sock, "SocketPath=/000"},
	    {"StateDir=var/lib/coloc", "StateDir=var/lib/coloc is not an absolute path"},
	    {"CgroupRoot=/coloc", "CgroupRoot=/coloc is not relative"},
	    {"CgroupRoot=a/../b", "CgroupRoot=a/../b has an empty, '.' or '..' component"},
	    {"CgroupRoot=a//b", "CgroupRoot=a//b has an empty"},
	    {"CgroupRoot=coloc/", "CgroupRoot=coloc/ has an empty"},
	    {"CgroupRoot=slurm", "CgroupRoot=slurm does not end in a cgroup of coloc's own"},
	    {"CgroupRoot=coloc/system.slice", "CgroupRoot=coloc/system.slice does not end in"},
	    {"LendUnallocated=maybe", "LendUnallocated=maybe is not yes or no"},
	    {"MaxLendFraction=0", "MaxLendFraction=0 is out of range; expected a fraction"},
	    {"MaxLendFraction=1.5", "MaxLendFraction=1.5 is out of range"},
	    {"MaxLendFraction=150%", "MaxLendFraction=150% is out of range"},
	    {"MaxLendFraction=-0.5", "MaxLendFraction=-0.5 is not a number"},
	    {"MaxLendFraction=nan", "MaxLendFraction=nan is not a number"},
	    {"MaxLendFraction=half", "MaxLendFraction=half is not a number"},
	    {"MaxLendFraction=0.5x", "MaxLendFraction=0.5x is not a number"},
	    {"BatchStepCores=4097", "BatchStepCores=4097 is out of range; expected a whole number "
				    "of cores from 0 to 4096"},
	    {"BatchStepCores=-1", "BatchStepCores=-1 is not a whole number"},
	    {"MemoryMargin=1X", "MemoryMargin=1X is not a size"},
	    {"MemoryMargin=99999999999T", "MemoryMargin=99999999999T is too large"},
	    {"MemoryMargin=-1G", "MemoryMargin=-1G is not a size"},
	    {"EvictGrace=61s", "EvictGrace=61s is out of range; expected a duration from 0 to 60s"},
	    {"EvictGrace=10 fortnights", "EvictGrace=10 fortnights is not a duration"},
	    {"EvictGrace=500us", "EvictGrace=500us is not a duration"},
	    {"DefaultLeaseTime=0", "DefaultLeaseTime=0 is out of range"},
	    {"DefaultLeaseTime=1500ms", "DefaultLeaseTime=1500ms is not a whole number of seconds"},
	    {"DefaultLeaseTime=400d", "DefaultLeaseTime=400d is out of range"},
	    {"MaxLeaseTime=31622401s", "MaxLeaseTime=31622401s is out of range; expected a whole "
				       "number of seconds from 1s to 366 days"},
	    {"DefaultLeaseTime=367d", "DefaultLeaseTime=367d is out of range"},
	    {"MaxLeaseTime=1:99:00", "MaxLeaseTime=1:99:00 is not a duration"},
	    {"MaxLeaseTime=soon", "MaxLeaseTime=soon is not a duration"},
	    {"DefaultMemPerWorker=0", "DefaultMemPerWorker=0 is out of range; expected a size "
				      "in bytes, or with K, M, G or T"},
	    {"DefaultMemPerWorker=1025T", "DefaultMemPerWorker=1025T is out of range; expected "
					  "a size in bytes, or with K, M, G or T (powers of 1024), "
					  "like 256M or 2G, at least 16M and at most 1024T"},
	    {"DefaultMemPerWorker=15M", "DefaultMemPerWorker=15M is out of range; expected a "
					"size in bytes, or with K, M, G or T (powers of 1024), "
					"like 256M or 2G, at least 16M and at most 1024T"},
	    {"DefaultMemPerWorker=512X", "DefaultMemPerWorker=512X is not a size"},
	    {"DefaultMemPerWorker=-1M", "DefaultMemPerWorker=-1M is not a size"},
	    {long_prov, "Provider=0000"},
	    {"Provider=tcp ofi_rxm", "Provider=tcp ofi_rxm contains a blank"},
	    {"HotPollTime=601s", "HotPollTime=601s is out of range"},
	    {"HotPollTime=forever", "HotPollTime=forever is not a duration"},
	    {"HotPollTime=-1", "HotPollTime=-1 is not a duration"},
	    {"SpareExecutors=17", "SpareExecutors=17 is out of range; expected a whole number of "
				  "spare executors from 0 to 16"},
	    {"SpareExecutors=one", "SpareExecutors=one is not a whole number"},
	    {"MaxConnectionsPerHost=0", "MaxConnectionsPerHost=0 is out of range; expected a whole "
					"number of connections from 1 to 1024"},
	    {"MaxConnectionsPerHost=1025", "MaxConnectionsPerHost=1025 is out of range"},
	    {"Gpus=nvidia0", "Gpus=nvidia0 has a name that is not an absolute path"},
	    {"Gpus=/dev/nvidia[3-1]", "Gpus=/dev/nvidia[3-1] is not a valid device list"},
	    {"Gpus=/dev/nvidia[0-1", "Gpus=/dev/nvidia[0-1 is not a valid device list"},
	    {"Gpus=/dev/x,/dev/x", "Gpus=/dev/x,/dev/x is not a valid device list"},
	    {"Gpus=/dev/nvidia[0-64]", "Gpus=/dev/nvidia[0-64] names more than 64 devices"},
	    {long_gpu, "Gpus=/dev/000"},
	    {"AuthType=kerberos", "AuthType=kerberos is not munge or none; expected munge or none"},
	    {"AuthType=", "AuthType= has no value"},
	};

	config_defaults(&d);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* a valid key first: it must not be applied either */
		const char *first =
		    strncmp(cases[i].line, "Batch", 5) ? "BatchStepCores=7" : "Provider=x";

		snprintf(text, sizeof(text), "%s\n%s\n", first, cases[i].line);
		snprintf(want, sizeof(want), "t.conf:2: %s", cases[i].expect);
		if (parse(text, &c, err) != -EINVAL)
			fail_msg("'%s' was accepted", cases[i].line);
		assert_starts_with(err, want);
		/* every message says what is accepted after a ';' */
		assert_non_null(strstr(err, "; expected "));
		assert_memory_equal(&c, &d, sizeof(c));
	}
}

static void test_long_values_named(void **state)
{
	struct coloc_config c;
	char text[128], err[ERRLEN];

	snprintf(text, sizeof(text), "Provider=%064d\n", 0);
	assert_int_equal(parse(text, &c, err), -EINVAL);
	assert_contains(err, "is too long; expected a libfabric provider name of at most 63");
	snprintf(text, sizeof(text), "Gpus=/dev/nvidia[0-1],/dev/%059d\n", 0);
	assert_int_equal(parse(text, &c, err), -EINVAL);
	assert_contains(err, "has a name that is too long; expected at most 64 comma-separated "
			     "device files of at most 63 characters");
}

static void test_lease_order(void **state)
{
	struct coloc_config c;
	char err[ERRLEN];

	assert_int_equal(parse("DefaultLeaseTime=60\n#\nMaxLeaseTime=30\n", &c, err), -EINVAL);
	assert_starts_with(err, "t.conf:3: MaxLeaseTime (1800 s) is shorter than DefaultLeaseTime "
				"(3600 s)");
	/* against the default DefaultLeaseTime of 30 min */
	assert_int_equal(parse("MaxLeaseTime=10\n", &c, err), -EINVAL);
	assert_starts_with(err, "t.conf:1: MaxLeaseTime (600 s) is shorter");
	/* against the default MaxLeaseTime of 24 h */
	assert_int_equal(parse("DefaultLeaseTime=2-00\n", &c, err), -EINVAL);
	assert_starts_with(err, "t.conf:1: MaxLeaseTime (86400 s) is shorter");
	assert_int_equal(parse("DefaultLeaseTime=2-00\nMaxLeaseTime=3-00\n", &c, err), 0);
}

/* ---- value parsers ------------------------------------------------------ */

static void test_parse_size(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
	    {"0", 0},
	    {"1024", 1024},
	    {"1B", 1},
	    {"512K", 512ull << 10},
	    {"512k", 512ull << 10},
	    {"512M", 512ull << 20},
	    {"512MB", 512ull << 20},
	    {"512MiB", 512ull << 20},
	    {"2G", 2ull << 30},
	    {"2gib", 2ull << 30},
	    {"1T", 1ull << 40},
	    {"16777215T", 16777215ull << 40},
	    {"18446744073709551615", UINT64_MAX},
	};
	static const struct {
		const char *s;
		int rc;
	} bad[] = {
	    {"", -EINVAL},
	    {"G", -EINVAL},
	    {"-1", -EINVAL},
	    {"+1", -EINVAL},
	    {" 1", -EINVAL},
	    {"1 ", -EINVAL},
	    {"1X", -EINVAL},
	    {"1GG", -EINVAL},
	    {"1Gx", -EINVAL},
	    {"1iB", -EINVAL},
	    {"1.5G", -EINVAL},
	    {"16777216T", -ERANGE},
	    {"99999999999T", -ERANGE},
	    {"18446744073709551616", -ERANGE},
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		if (config_parse_size(good[i].s, &v) != 0 || v != good[i].v)
			fail_msg("size '%s': got %llu", good[i].s, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		if (config_parse_size(bad[i].s, &v) != bad[i].rc)
			fail_msg("size '%s' not rejected with %d", bad[i].s, bad[i].rc);
		assert_true(v == 12345);
	}
	assert_int_equal(config_parse_size(NULL, &v), -EINVAL);
}

static void test_parse_duration(void **state)
{
	static const struct {
		const char *s, *bare;
		uint64_t ms;
	} good[] = {
	    {"0", "s", 0},
	    {"10ms", "s", 10},
	    {"10 ms", "s", 10},
	    {"2s", "ms", 2000},
	    {"2", "s", 2000},
	    {"2", "ms", 2},
	    {"2", "min", 120000},
	    {"3MIN", "s", 180000},
	    {"1h", "s", 3600000},
	    {"1d", "s", 86400000},
	    {"2000us", "ms", 2},
	    {"5sec", "ms", 5000},
	    {"1:30", "min", 90000},	 /* MM:SS */
	    {"1:00:01", "min", 3601000}, /* HH:MM:SS */
	    {"1-2", "min", 93600000},	 /* D-HH */
	    {"1-0:30", "min", 88200000}, /* D-HH:MM */
	    {"0-0:0:5", "min", 5000},	 /* D-HH:MM:SS */
	    {"90:00", "min", 5400000},	 /* the leading field is unbounded */
	};
	static const struct {
		const char *s, *bare;
		int rc;
	} bad[] = {
	    {"", "s", -EINVAL},
	    {"-1", "s", -EINVAL},
	    {"s", "s", -EINVAL},
	    {"1x", "s", -EINVAL},
	    {"1 s x", "s", -EINVAL},
	    {"1 ", "s", -EINVAL},
	    {"1s ", "s", -EINVAL},
	    {" 1s", "s", -EINVAL},
	    {"1.5s", "s", -EINVAL},
	    {"1us", "s", -EINVAL},	 /* not a whole number of milliseconds */
	    {"1", "fortnight", -EINVAL}, /* bad bare unit */
	    {"1:30", "s", -EINVAL},	 /* Slurm formats only for minutes */
	    {"1:60", "min", -EINVAL},
	    {"1:00:60", "min", -EINVAL},
	    {"1:60:00", "min", -EINVAL},
	    {"1-24", "min", -EINVAL},
	    {"1:2:3:4", "min", -EINVAL},
	    {"1-", "min", -EINVAL},
	    {"1-2-3", "min", -EINVAL},
	    {"99999999999999999999", "s", -ERANGE},
	    {"99999999999999d", "s", -ERANGE},
	    {"999999999999999999-0", "min", -ERANGE},
	};
	uint64_t v, us;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		if (config_parse_duration_ms(good[i].s, &v, good[i].bare) != 0 || v != good[i].ms)
			fail_msg("duration '%s' (bare %s): got %llu", good[i].s, good[i].bare,
				 (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		if (config_parse_duration_ms(bad[i].s, &v, bad[i].bare) != bad[i].rc)
			fail_msg("duration '%s' (bare %s) not rejected with %d", bad[i].s,
				 bad[i].bare, bad[i].rc);
		assert_true(v == 12345);
	}
	assert_int_equal(config_parse_duration_us("50us", &us, "ms"), 0);
	assert_true(us == 50);
	assert_int_equal(config_parse_duration_us("7", &us, "us"), 0);
	assert_true(us == 7);
	assert_int_equal(config_parse_duration_ms(NULL, &v, "s"), -EINVAL);
}

static void test_parse_bool(void **state)
{
	static const char *const yes[] = {"yes", "YES", "true", "True", "on", "1"};
	static const char *const no[] = {"no", "No", "false", "FALSE", "off", "0"};
	static const char *const bad[] = {"", "y", "n", "2", "yes ", "enabled", "-1"};
	bool b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(config_parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		assert_int_equal(config_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = true;
		if (config_parse_bool(bad[i], &b) != -EINVAL)
			fail_msg("bool '%s' accepted", bad[i]);
		assert_true(b);
	}
}

/* ---- device lists ------------------------------------------------------- */

static char devs[CONFIG_MAX_GPUS][CONFIG_DEVICE_MAX];

static void test_devices(void **state)
{
	unsigned n = 99;

	assert_int_equal(config_expand_devices("/dev/nvidia[0-3]", devs, CONFIG_MAX_GPUS, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(devs[0], "/dev/nvidia0");
	assert_string_equal(devs[3], "/dev/nvidia3");

	assert_int_equal(
	    config_expand_devices("/dev/nvidia[0-1,3],/dev/foo", devs, CONFIG_MAX_GPUS, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(devs[0], "/dev/nvidia0");
	assert_string_equal(devs[1], "/dev/nvidia1");
	assert_string_equal(devs[2], "/dev/nvidia3");
	assert_string_equal(devs[3], "/dev/foo");

	assert_int_equal(config_expand_devices("/dev/dri/renderD[128-129]", devs, 64, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(devs[1], "/dev/dri/renderD129");

	/* a suffix after the brackets, leading zeros set the width */
	assert_int_equal(config_expand_devices("gpu[08-10]x", devs, 64, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(devs[0], "gpu08x");
	assert_string_equal(devs[2], "gpu10x");

	assert_int_equal(config_expand_devices("/dev/nvidia[5]", devs, 64, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(devs[0], "/dev/nvidia5");

	assert_int_equal(config_expand_devices("", devs, 64, &n), 0);
	assert_int_equal(n, 0);
	/* exactly max names is fine */
	assert_int_equal(config_expand_devices("/dev/nvidia[0-63]", devs, 64, &n), 0);
	assert_int_equal(n, 64);
	assert_string_equal(devs[63], "/dev/nvidia63");
}

static void test_devices_bad(void **state)
{
	static const struct {
		const char *s;
		int rc;
	} bad[] = {
	    {"/dev/nvidia[3-1]", -EINVAL},
	    {"/dev/nvidia[0-3", -EINVAL},
	    {"/dev/nvidia0-3]", -EINVAL},
	    {"/dev/nvidia[]", -EINVAL},
	    {"/dev/nvidia[a]", -EINVAL},
	    {"/dev/nvidia[1-]", -EINVAL},
	    {"/dev/nvidia[-1]", -EINVAL},
	    {"/dev/nvidia[1,]", -EINVAL},
	    {"/dev/nvidia[,1]", -EINVAL},
	    {"/dev/nvidia[1,,2]", -EINVAL},
	    {"/dev/nvidia[[1]]", -EINVAL},
	    {"/dev/n[0-1]x[0-1]", -EINVAL},
	    {"/dev/a,,/dev/b", -EINVAL},
	    {"/dev/a,", -EINVAL},
	    {",/dev/a", -EINVAL},
	    {"/dev/a,/dev/a", -EINVAL},
	    {"/dev/nvidia[0-1],/dev/nvidia1", -EINVAL},
	    {"/dev/nvidia[0-64]", -E2BIG},
	    {"/dev/nvidia[0-18446744073709551615]", -E2BIG},
	    {"/dev/nvidia[0-99999999999999999999]", -EINVAL},
	};
	char name[128];
	unsigned n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = config_expand_devices(bad[i].s, devs, CONFIG_MAX_GPUS, &n);

		if (rc != bad[i].rc)
			fail_msg("devices '%s': got %d, not %d", bad[i].s, rc, bad[i].rc);
	}
	/* 63 characters fit (64 bytes with the NUL), 64 do not */
	snprintf(name, sizeof(name), "/dev/%058d", 0);
	assert_int_equal(config_expand_devices(name, devs, CONFIG_MAX_GPUS, &n), 0);
	assert_string_equal(devs[0], name);
	snprintf(name, sizeof(name), "/dev/%059d", 0);
	assert_int_equal(config_expand_devices(name, devs, CONFIG_MAX_GPUS, &n), -ENAMETOOLONG);
	snprintf(name, sizeof(name), "/dev/%057d[8-10]", 0);
	assert_int_equal(config_expand_devices(name, devs, CONFIG_MAX_GPUS, &n), -ENAMETOOLONG);
	assert_int_equal(n, 2); /* ..8 and ..9 fit, ..10 does not */
	assert_int_equal(config_expand_devices("/dev/a,/dev/b", devs, 1, &n), -E2BIG);
}

/* ---- config_load -------------------------------------------------------- */

static char *tmp_path(const char *name)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	return p;
}

static void test_load_explicit(void **state)
{
	const char *path = tmp_path("explicit.conf");
	struct coloc_config c;
	char err[ERRLEN];

	write_file(path, "ControllerPort=7100\n", 20);
	setenv("COLOC_CONF", "/nonexistent/env.conf", 1); /* -f wins over COLOC_CONF */
	assert_int_equal(config_load(path, &c, err, ERRLEN), 0);
	assert_int_equal(c.controller_port, 7100);
	assert_int_equal(c.node_agent_port, 864); /* the rest are the defaults */
	assert_string_equal(c.file, path);	  /* what a node agent names in its errors */
	assert_false(c.controller_host_set);	  /* ... when it lacks ControllerHost */
	unsetenv("COLOC_CONF");
	unlink(path);
}

static void test_load_explicit_missing(void **state)
{
	const char *path = tmp_path("missing.conf");
	struct coloc_config c;
	char err[ERRLEN];

	unsetenv("COLOC_CONF");
	assert_int_equal(config_load(path, &c, err, ERRLEN), -ENOENT);
	assert_contains(err, path);
	assert_contains(err, "named by -f");
	assert_contains(err, "No such file or directory");
}

static void test_load_env(void **state)
{
	const char *path = tmp_path("env.conf");
	struct coloc_config c;
	char err[ERRLEN];

	write_file(path, "NodeAgentPort=7200\n", 19);
	setenv("COLOC_CONF", path, 1);
	assert_int_equal(config_load(NULL, &c, err, ERRLEN), 0);
	assert_int_equal(c.node_agent_port, 7200);
	/* an empty -f is no -f */
	assert_int_equal(config_load("", &c, err, ERRLEN), 0);
	assert_int_equal(c.node_agent_port, 7200);
	unlink(path);
	/* a file named by COLOC_CONF must exist */
	assert_int_equal(config_load(NULL, &c, err, ERRLEN), -ENOENT);
	assert_contains(err, path);
	assert_contains(err, "named by COLOC_CONF");
	unsetenv("COLOC_CONF");
}

static void test_load_default(void **state)
{
	const char *path = config_default_path();
	char dir[512], slurm_dir[600];
	struct coloc_config c, d;
	char err[ERRLEN];

	unsetenv("COLOC_CONF");
	config_defaults(&d);
	/* absent: the defaults, no error */
	if (access(path, F_OK) == 0)
		fail_msg("%s exists; remove it", path);
	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(config_load(NULL, &c, err, ERRLEN), 0);
	assert_memory_equal(&c, &d, sizeof(c));

	/* present: read */
	snprintf(dir, sizeof(dir), "%s", COLOC_SYSCONFDIR);
	snprintf(slurm_dir, sizeof(slurm_dir), "%s/slurm", dir);
	assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
	assert_true(mkdir(slurm_dir, 0755) == 0 || errno == EEXIST);
	write_file(path, "BatchStepCores=3\n", 17);
	assert_int_equal(config_load(NULL, &c, err, ERRLEN), 0);
	assert_int_equal(c.batch_step_cores, 3);
	assert_string_equal(c.file, path);

	/* present but bad: an error naming the default path and the line */
	write_file(path, "\nBatchStepCores=many\n", 21);
	assert_int_equal(config_load(NULL, &c, err, ERRLEN), -EINVAL);
	assert_starts_with(err, path);
	assert_contains(err, ":2: BatchStepCores=many is not a whole number");

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(slurm_dir), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_load_bad_file(void **state)
{
	const char *path = tmp_path("bad.conf"), *fifo = tmp_path("fifo");
	struct coloc_config c;
	char err[ERRLEN];

	unsetenv("COLOC_CONF");
	/* a parse error names the path and the line */
	write_file(path, "# x\n# y\nFoo=1\n", 14);
	assert_int_equal(config_load(path, &c, err, ERRLEN), -EINVAL);
	assert_starts_with(err, path);
	assert_contains(err, ":3: unknown key 'Foo'");

	/* a NUL byte names its line */
	write_file(path, "ControllerPort=1\nNodeAgentPort=2\0\n", 34);
	assert_int_equal(config_load(path, &c, err, ERRLEN), -EINVAL);
	assert_starts_with(err, path);
	assert_contains(err, ":2: contains a NUL byte");
	unlink(path);

	/* a directory and a FIFO are not regular files (and do not block) */
	assert_int_equal(config_load(tmpdir, &c, err, ERRLEN), -EINVAL);
	assert_contains(err, "is not a regular file");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(config_load(fifo, &c, err, ERRLEN), -EINVAL);
	assert_contains(err, "is not a regular file");
	unlink(fifo);
}

/* docs/coloc.conf.example, every key uncommented, gives the defaults. */
static void test_example_shows_defaults(void **state)
{
	FILE *f = fopen(COLOC_EXAMPLE_CONF, "r");
	char text[8192] = "", line[512], err[ERRLEN];
	struct coloc_config c, d;
	unsigned keys = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		const char *l = line;

		if (l[0] == '#' && ((l[1] >= 'A' && l[1] <= 'Z') || (l[1] >= 'a' && l[1] <= 'z'))) {
			l++;
			keys++;
		}
		assert_true(strlen(text) + strlen(l) < sizeof(text));
		strcat(text, l);
	}
	fclose(f);
	assert_int_equal(keys, 28); /* every key */
	config_defaults(&d);
	d.controller_host_set = true; /* the example gives every key */
	if (parse(text, &c, err) != 0)
		fail_msg("%s", err);
	assert_memory_equal(&c, &d, sizeof(c));
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),	   cmocka_unit_test(test_default_path),
	    cmocka_unit_test(test_every_key),	   cmocka_unit_test(test_expand_node),
	    cmocka_unit_test(test_value_forms),	   cmocka_unit_test(test_empty_allowed),
	    cmocka_unit_test(test_empty_text),	   cmocka_unit_test(test_parse_on_top),
	    cmocka_unit_test(test_unknown_key),	   cmocka_unit_test(test_duplicate_key),
	    cmocka_unit_test(test_missing_equals), cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_bad_values),	   cmocka_unit_test(test_long_values_named),
	    cmocka_unit_test(test_lease_order),	   cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_parse_duration), cmocka_unit_test(test_parse_bool),
	    cmocka_unit_test(test_devices),	   cmocka_unit_test(test_devices_bad),
	    cmocka_unit_test(test_load_explicit),  cmocka_unit_test(test_load_explicit_missing),
	    cmocka_unit_test(test_load_env),	   cmocka_unit_test(test_load_default),
	    cmocka_unit_test(test_load_bad_file),  cmocka_unit_test(test_example_shows_defaults),
	};

	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
