/*
 * config: coloc.conf, the site configuration read by colocd, colocctl, the
 * SPANK plugin and libfaas. Key=Value lines like slurm.conf; every key is
 * documented in coloc.conf(5).
 *
 * The header is coloc_config.h, not config.h: a config.h in common/ would
 * hide autoconf's config.h from every source file of this directory.
 *
 * Every function here is reentrant and keeps no state: the caller owns the
 * struct coloc_config and the error buffer. Functions return 0 or -errno;
 * those taking err write a whole sentence there on failure.
 */
#ifndef COLOC_CONFIG_H
#define COLOC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum coloc_auth { COLOC_AUTH_MUNGE = 0, COLOC_AUTH_NONE };

#define CONFIG_MAX_GPUS 64
#define CONFIG_DEVICE_MAX 64	/* bytes of one device path, NUL included */
#define CONFIG_LINE_MAX 4096	/* characters of one line, newline excluded */
#define CONFIG_FILE_MAX 1048576 /* bytes of a whole file */

/* SpareExecutors' largest value. */
#define CONFIG_SPARE_EXECUTORS_MAX 16

/* MaxConnectionsPerHost: its default and largest value (colocd's TCP
 * connections, colocd/conns.h). */
#define CONFIG_CONNECTIONS_PER_HOST_DEFAULT 64
#define CONFIG_CONNECTIONS_PER_HOST_MAX 1024
/* DefaultMemPerWorker: memory per worker of a lease that asks for none */
#define CONFIG_DEFAULT_MEM_PER_WORKER (256ull << 20)

/* HotPollTime=infinite: workers never block, they always busy-poll. */
#define CONFIG_HOT_POLL_INFINITE (-1L)

struct coloc_config {
	char controller_host[256];    /* ControllerHost, default "localhost" */
	bool controller_host_set;     /* ControllerHost was given (a node agent needs it) */
	uint16_t controller_port;     /* ControllerPort, default 863 */
	uint16_t node_agent_port;     /* NodeAgentPort, default 864 */
	char node_agent_address[256]; /* NodeAgentAddress, default "" (every address) */
	char socket_path[108];	  /* SocketPath, default "/run/coloc/colocd.sock" (fits sun_path) */
	char state_dir[4096];	  /* StateDir, default "/var/lib/coloc" */
	char cgroup_root[256];	  /* CgroupRoot, default "coloc" (relative cgroup name) */
	bool lend_unallocated;	  /* LendUnallocated, default yes */
	double max_lend_fraction; /* MaxLendFraction, 0 < f <= 1, default 0.5 */
	unsigned batch_step_cores; /* BatchStepCores, default 1 */
	uint64_t memory_margin;	   /* MemoryMargin in bytes, default 1 GiB */
	unsigned evict_grace_ms;   /* EvictGrace, default 2000 ms */
	unsigned default_lease_s;  /* DefaultLeaseTime, default LEASE_DEFAULT_TIME_S (30 min) */
	unsigned max_lease_s;	   /* MaxLeaseTime, default 24 h, >= default_lease_s,
				      <= LEASE_MAX_TIME_S */
	char provider[64];	   /* Provider, libfabric provider; "" = libfabric's choice */
	long hot_poll_us;	   /* HotPollTime, default 100 ms; 0 = always warm,
				      CONFIG_HOT_POLL_INFINITE = always hot */
	unsigned spare_executors;  /* SpareExecutors, default 1: started ahead of leases */
	unsigned max_connections_per_host; /* MaxConnectionsPerHost, default 64: colocd's TCP
					      connections from one address */
	unsigned ngpus;			   /* Gpus: device files, bracket ranges expanded */
	char gpus[CONFIG_MAX_GPUS][CONFIG_DEVICE_MAX];
	enum coloc_auth auth;	       /* AuthType, default munge */
	char munge_socket[108];	       /* MungeSocket, default "" (libmunge's own default) */
	unsigned lease_pids_max;       /* LeasePidsMax, default 4096: pids.max of each lease */
	uint64_t lease_log_size;       /* LeaseLogSize, default 1 MiB: a lease's log; 0 = none */
	unsigned max_leases_per_user;  /* MaxLeasesPerUser, default 64; 0 = no limit */
	unsigned max_workers_per_user; /* MaxWorkersPerUser, default 0 = no limit */
	uint64_t default_worker_mem;   /* DefaultMemPerWorker in bytes, default 256 MiB */
	uint16_t metrics_port;	       /* MetricsPort, default 0: no metrics served */
	char metrics_address[256];     /* MetricsAddress, default "127.0.0.1" */
	char file[4096];	       /* config_load: the file it read, "" when none (defaults) */
};

/* Replaces every "%n" in SocketPath, StateDir, CgroupRoot, MetricsAddress and the Gpus
 * device files with node (a node name: letters, digits, '.', '-', '_'),
 * so that one coloc.conf serves every node and several node agents can
 * share a host. 0, or -ENAMETOOLONG/-EINVAL with err naming the key. */
int config_expand_node(struct coloc_config *c, const char *node, char *err, size_t errlen);

/* Fills c with the documented defaults. */
void config_defaults(struct coloc_config *c);

/* Parses text (a file's contents, NUL-terminated) named name (used in
 * messages) on top of what c holds. On success c holds the result and 0 is
 * returned; on failure c is unchanged, -EINVAL is returned and err holds
 * "NAME:LINE: <what is wrong>; <what is accepted>". */
int config_parse(const char *text, const char *name, struct coloc_config *c, char *err,
		 size_t errlen);

/* Fills c with the defaults, then parses the file explicit_path if it is
 * non-NULL and non-empty, else the file named by $COLOC_CONF if set and
 * non-empty, else config_default_path(), and names it in c->file. A
 * missing file at the default path is not an error (c keeps the defaults,
 * c->file is ""; a node agent refuses to run so); a missing file named by
 * -f or COLOC_CONF is (-ENOENT). The file must be a regular file of at most
 * CONFIG_FILE_MAX bytes without NUL bytes. On failure c may hold the
 * defaults only, and err says which file and why. Reads the environment,
 * so call it before starting threads that change it. */
int config_load(const char *explicit_path, struct coloc_config *c, char *err, size_t errlen);

/* SYSCONFDIR/slurm/coloc.conf, from configure's sysconfdir. Static string. */
const char *config_default_path(void);

/* Value parsers, used by config_parse and by other modules' options. Each
 * accepts the whole string or nothing: leading and trailing blanks, signs and
 * junk after the unit are -EINVAL, results that do not fit are -ERANGE. */

/* Sizes: a whole number of bytes, or with K, M, G or T (powers of 1024),
 * optionally followed by B or iB, case-insensitive: 1024, 512K, 512M, 2GiB. */
int config_parse_size(const char *s, uint64_t *bytes);

/* Durations: a whole number with a unit us, ms, s, min, h or d (blanks
 * allowed between them), or a bare number in bare_unit ("us", "ms", "s" or
 * "min"). With bare_unit "min", Slurm's time formats are accepted too:
 * MM:SS, HH:MM:SS, D-HH, D-HH:MM and D-HH:MM:SS. The _ms variant rejects
 * values that are not a whole number of milliseconds. */
int config_parse_duration_us(const char *s, uint64_t *us, const char *bare_unit);
int config_parse_duration_ms(const char *s, uint64_t *ms, const char *bare_unit);

/* yes/no, true/false, on/off, 1/0, case-insensitive. */
int config_parse_bool(const char *s, bool *b);

/* Expands a comma-separated list of names, each with at most one bracket
 * group of numbers and ranges: "/dev/nvidia[0-3,5],/dev/foo" gives
 * /dev/nvidia0 .. /dev/nvidia3, /dev/nvidia5 and /dev/foo. A range's start
 * with leading zeros sets the width ("gpu[08-10]"). An empty string gives no
 * names. Writes *n names into out. Errors: -EINVAL for bad syntax, a range
 * going down, an empty name or a name given twice; -E2BIG for more than max
 * names; -ENAMETOOLONG for a name of CONFIG_DEVICE_MAX bytes or more. */
int config_expand_devices(const char *s, char out[][CONFIG_DEVICE_MAX], unsigned max, unsigned *n);

#endif
