/*
 * fuzz_config: coloc.conf as colocd, colocctl, the plugin and libfaas read
 * it (common/config.c, config_parse, then config_expand_node as colocd
 * does for its node). The input is the file's text (config_load refuses a
 * NUL byte: the text stops at the first one).
 *
 * Properties: a refusal is -EINVAL with a message and leaves the
 * configuration as it was; an accepted one keeps the documented bounds
 * (ports, MaxLeaseTime >= DefaultLeaseTime, absolute paths, at most 64
 * Gpus, each an absolute path).
 */
#include "config.h"

#include "fuzz.h"

#include "coloc_config.h"

#include <errno.h>

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct coloc_config c, before; /* large: not on the stack */
	char *text = fuzz_text(data, size), err[512];
	int rc;

	config_defaults(&c);
	memcpy(&before, &c, sizeof(c));
	err[0] = '\0';
	rc = config_parse(text, "coloc.conf", &c, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL, "config_parse returned %d", rc);
		FUZZ_CHECK(err[0] && terminated(err, sizeof(err)), "a refusal without a message");
		FUZZ_CHECK(memcmp(&c, &before, sizeof(c)) == 0,
			   "a refusal changed the configuration");
		goto out;
	}
	FUZZ_CHECK(c.controller_port && c.node_agent_port, "port 0 accepted");
	FUZZ_CHECK(c.max_lease_s >= c.default_lease_s && c.default_lease_s >= 1,
		   "lease times %u/%u accepted", c.default_lease_s, c.max_lease_s);
	FUZZ_CHECK(c.max_lend_fraction > 0 && c.max_lend_fraction <= 1, "MaxLendFraction=%g",
		   c.max_lend_fraction);
	FUZZ_CHECK(c.ngpus <= CONFIG_MAX_GPUS, "%u Gpus", c.ngpus);
	FUZZ_CHECK(c.max_connections_per_host >= 1 &&
		       c.max_connections_per_host <= CONFIG_CONNECTIONS_PER_HOST_MAX,
		   "MaxConnectionsPerHost=%u", c.max_connections_per_host);
	FUZZ_CHECK(c.lease_pids_max >= 64 && c.lease_log_size <= (1ull << 30),
		   "LeasePidsMax=%u LeaseLogSize=%llu", c.lease_pids_max,
		   (unsigned long long)c.lease_log_size);
	FUZZ_CHECK(terminated(c.controller_host, sizeof(c.controller_host)) &&
		       terminated(c.node_agent_address, sizeof(c.node_agent_address)) &&
		       terminated(c.socket_path, sizeof(c.socket_path)) &&
		       terminated(c.state_dir, sizeof(c.state_dir)) &&
		       terminated(c.cgroup_root, sizeof(c.cgroup_root)) &&
		       terminated(c.provider, sizeof(c.provider)) &&
		       terminated(c.munge_socket, sizeof(c.munge_socket)),
		   "a string without its NUL");
	FUZZ_CHECK(c.socket_path[0] == '/' && c.state_dir[0] == '/' && c.cgroup_root[0] != '/',
		   "paths %s %s %s", c.socket_path, c.state_dir, c.cgroup_root);
	for (unsigned i = 0; i < c.ngpus; i++)
		FUZZ_CHECK(terminated(c.gpus[i], sizeof(c.gpus[i])) && c.gpus[i][0] == '/',
			   "Gpus[%u]", i);
	/* as colocd does for its node name */
	err[0] = '\0';
	rc = config_expand_node(&c, "node-01.cluster_a", err, sizeof(err));
	FUZZ_CHECK(rc == 0 || ((rc == -ENAMETOOLONG || rc == -EINVAL) && err[0]),
		   "config_expand_node returned %d (%s)", rc, err);
	if (rc == 0) {
		FUZZ_CHECK(terminated(c.socket_path, sizeof(c.socket_path)) &&
			       terminated(c.state_dir, sizeof(c.state_dir)) &&
			       terminated(c.cgroup_root, sizeof(c.cgroup_root)),
			   "a string without its NUL after %%n");
		for (unsigned i = 0; i < c.ngpus; i++)
			FUZZ_CHECK(terminated(c.gpus[i], sizeof(c.gpus[i])), "Gpus[%u] after %%n",
				   i);
	}
out:
	free(text);
	return 0;
}
