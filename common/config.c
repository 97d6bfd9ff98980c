/*
 * config: parses coloc.conf (see coloc_config.h and coloc.conf(5)).
 *
 * Data: a table of the keys (canonical spelling, what a value must look
 * like, whether it may be empty) indexed by enum key_id; config_parse keeps
 * the line on which each key was seen, so that a key given twice names both
 * lines. Parsing works on a copy of the caller's struct, which is written
 * back only when the whole text is valid. No global state, no locking: the
 * caller owns everything.
 */
#include "config.h"

#include "coloc_config.h"
#include "lease_rules.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef COLOC_SYSCONFDIR
#error "COLOC_SYSCONFDIR must be defined (configure's sysconfdir)"
#endif

#define US_PER_MS 1000ull
#define US_PER_S 1000000ull
#define US_PER_MIN (60ull * US_PER_S)
#define US_PER_H (60ull * US_PER_MIN)
#define US_PER_DAY (24ull * US_PER_H)

#define EVICT_GRACE_MAX_MS 60000ull
#define HOT_POLL_MAX_US (10ull * US_PER_MIN) /* fits a 32-bit long */
#define BATCH_STEP_CORES_MAX 4096

const char *config_default_path(void)
{
	return COLOC_SYSCONFDIR "/slurm/coloc.conf";
}

void config_defaults(struct coloc_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->controller_host, "localhost");
	c->controller_port = 863;
	c->node_agent_port = 864;
	strcpy(c->socket_path, "/run/coloc/colocd.sock");
	strcpy(c->state_dir, "/var/lib/coloc");
	strcpy(c->cgroup_root, "coloc");
	c->lend_unallocated = true;
	c->max_lend_fraction = 0.5;
	c->batch_step_cores = 1;
	c->memory_margin = 1ull << 30;
	c->evict_grace_ms = 2000;
	c->default_lease_s = LEASE_DEFAULT_TIME_S;
	c->max_lease_s = 24 * 3600;
	c->default_worker_mem = CONFIG_DEFAULT_MEM_PER_WORKER;
	c->provider[0] = '\0';
	c->hot_poll_us = 100 * 1000;
	c->spare_executors = 1;
	c->max_connections_per_host = CONFIG_CONNECTIONS_PER_HOST_DEFAULT;
	c->ngpus = 0;
	c->auth = COLOC_AUTH_MUNGE;
	c->lease_pids_max = 4096;
	c->lease_log_size = 1u << 20;
	c->max_leases_per_user = 64;
	c->max_workers_per_user = 0;
	c->metrics_port = 0;
	strcpy(c->metrics_address, "127.0.0.1");
}

/* ---- value parsers ------------------------------------------------------ */

/* Reads the digits at *p (at least one) into *v and moves *p past them. */
static int parse_digits(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	*p = s;
	*v = x;
	return 0;
}

static int mul_check(uint64_t a, uint64_t b, uint64_t *r)
{
	if (b && a > UINT64_MAX / b)
		return -ERANGE;
	*r = a * b;
	return 0;
}

int config_parse_size(const char *s, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	uint64_t v, mul = 1;
	const char *u;
	int rc;

	if (!s)
		return -EINVAL;
	rc = parse_digits(&s, &v);
	if (rc)
		return rc;
	if (*s && (u = strchr(units, toupper((unsigned char)*s)))) {
		for (const char *k = units; k <= u; k++)
			mul *= 1024;
		s++;
		if (tolower((unsigned char)s[0]) == 'i' && tolower((unsigned char)s[1]) == 'b')
			s += 2;
		else if (tolower((unsigned char)*s) == 'b')
			s++;
	} else if (tolower((unsigned char)*s) == 'b') {
		s++;
	}
	if (*s)
		return -EINVAL;
	return mul_check(v, mul, bytes);
}

struct time_unit {
	const char *name;
	uint64_t us;
};

static const struct time_unit time_units[] = {
    {"us", 1},		 {"ms", US_PER_MS}, {"s", US_PER_S},   {"sec", US_PER_S},
    {"min", US_PER_MIN}, {"h", US_PER_H},   {"d", US_PER_DAY},
};

static int time_unit_us(const char *name, uint64_t *us)
{
	for (size_t i = 0; i < sizeof(time_units) / sizeof(time_units[0]); i++) {
		if (strcasecmp(name, time_units[i].name) == 0) {
			*us = time_units[i].us;
			return 0;
		}
	}
	return -EINVAL;
}

/* Slurm's time formats: MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS. */
static int parse_slurm_time(const char *s, uint64_t *us)
{
	uint64_t f[4] = {0, 0, 0, 0}; /* days, hours, minutes, seconds */
	uint64_t part[3], total, t;
	unsigned nparts = 0;
	bool days = false;
	int rc;

	if (strchr(s, '-')) {
		days = true;
		rc = parse_digits(&s, &f[0]);
		if (rc)
			return rc;
		if (*s++ != '-')
			return -EINVAL;
	}
	for (;;) {
		if (nparts == 3)
			return -EINVAL;
		rc = parse_digits(&s, &part[nparts++]);
		if (rc)
			return rc;
		if (*s == '\0')
			break;
		if (*s++ != ':')
			return -EINVAL;
	}
	if (days) {
		/* D-HH, D-HH:MM, D-HH:MM:SS */
		for (unsigned i = 0; i < nparts; i++)
			f[1 + i] = part[i];
		if (f[1] > 23)
			return -EINVAL;
	} else if (nparts == 2) {
		f[2] = part[0];
		f[3] = part[1];
	} else if (nparts == 3) {
		f[1] = part[0];
		f[2] = part[1];
		f[3] = part[2];
	} else {
		return -EINVAL; /* a bare number has no ':' and no '-' */
	}
	/* every field but the first has its usual bound */
	if (((days || nparts == 3) && f[2] > 59) || f[3] > 59)
		return -EINVAL;
	if (mul_check(f[0], 24, &total) || total > UINT64_MAX - f[1] ||
	    mul_check(total + f[1], 60, &total) || total > UINT64_MAX - f[2] ||
	    mul_check(total + f[2], 60, &total) || total > UINT64_MAX - f[3])
		return -ERANGE;
	total += f[3];
	if (mul_check(total, US_PER_S, &t))
		return -ERANGE;
	*us = t;
	return 0;
}

int config_parse_duration_us(const char *s, uint64_t *us, const char *bare_unit)
{
	uint64_t v, mul;
	int rc;

	if (!s || !bare_unit || time_unit_us(bare_unit, &mul) < 0)
		return -EINVAL;
	if (strcmp(bare_unit, "min") == 0 && isdigit((unsigned char)*s) && strpbrk(s, ":-"))
		return parse_slurm_time(s, us);
	rc = parse_digits(&s, &v);
	if (rc)
		return rc;
	if (*s == ' ' || *s == '\t') {
		/* blanks only between the number and a unit */
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			return -EINVAL;
	}
	if (*s && time_unit_us(s, &mul) < 0)
		return -EINVAL;
	return mul_check(v, mul, us);
}

int config_parse_duration_ms(const char *s, uint64_t *ms, const char *bare_unit)
{
	uint64_t us;
	int rc = config_parse_duration_us(s, &us, bare_unit);

	if (rc)
		return rc;
	if (us % US_PER_MS)
		return -EINVAL;
	*ms = us / US_PER_MS;
	return 0;
}

int config_parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- device lists ------------------------------------------------------- */

static int add_device(char out[][CONFIG_DEVICE_MAX], unsigned max, unsigned *n, const char *name,
		      size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len >= CONFIG_DEVICE_MAX)
		return -ENAMETOOLONG;
	for (unsigned i = 0; i < *n; i++)
		if (strncmp(out[i], name, len) == 0 && out[i][len] == '\0')
			return -EINVAL;
	if (*n >= max)
		return -E2BIG;
	memcpy(out[*n], name, len);
	out[*n][len] = '\0';
	(*n)++;
	return 0;
}

/* One name: prefix, optionally "[ranges]" and a suffix; len bytes at item. */
static int expand_item(const char *item, size_t len, char out[][CONFIG_DEVICE_MAX], unsigned max,
		       unsigned *n)
{
	const char *open = memchr(item, '[', len), *close, *p;
	char name[CONFIG_DEVICE_MAX];
	size_t pre, suf;
	int rc;

	if (!open)
		return memchr(item, ']', len) ? -EINVAL : add_device(out, max, n, item, len);
	close = memchr(open, ']', len - (size_t)(open - item));
	if (!close || close == open + 1)
		return -EINVAL;
	if (memchr(close + 1, '[', len - (size_t)(close + 1 - item)) ||
	    memchr(close + 1, ']', len - (size_t)(close + 1 - item)) ||
	    memchr(item, ']', (size_t)(open - item)))
		return -EINVAL;
	pre = (size_t)(open - item);
	suf = len - (size_t)(close + 1 - item);
	for (p = open + 1; p < close;) {
		uint64_t lo, hi;
		int width = 0;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		if (p[0] == '0' && isdigit((unsigned char)p[1]))
			for (const char *q = p; isdigit((unsigned char)*q); q++)
				width++;
		rc = parse_digits(&p, &lo);
		if (rc)
			return -EINVAL;
		hi = lo;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p) || parse_digits(&p, &hi))
				return -EINVAL;
		}
		if (hi < lo || (p != close && *p != ','))
			return -EINVAL;
		if (*p == ',' && ++p == close)
			return -EINVAL;
		for (uint64_t i = lo;; i++) {
			int w = snprintf(name, sizeof(name), "%.*s%0*" PRIu64 "%.*s", (int)pre,
					 item, width, i, (int)suf, close + 1);

			if (w < 0 || (size_t)w >= sizeof(name))
				return -ENAMETOOLONG;
			rc = add_device(out, max, n, name, (size_t)w);
			if (rc)
				return rc;
			if (i == hi)
				break;
		}
	}
	return 0;
}

int config_expand_devices(const char *s, char out[][CONFIG_DEVICE_MAX], unsigned max, unsigned *n)
{
	const char *item;
	int rc;

	*n = 0;
	if (!s)
		return -EINVAL;
	if (*s == '\0')
		return 0;
	for (item = s;;) {
		const char *p = item;
		bool in_bracket = false;

		for (; *p && (in_bracket || *p != ','); p++) {
			if (*p == '[') {
				if (in_bracket)
					return -EINVAL;
				in_bracket = true;
			} else if (*p == ']') {
				in_bracket = false;
			}
		}
		if (in_bracket)
			return -EINVAL;
		rc = expand_item(item, (size_t)(p - item), out, max, n);
		if (rc)
			return rc;
		if (*p == '\0')
			return 0;
		item = p + 1;
	}
}

/* ---- keys --------------------------------------------------------------- */

enum key_id {
	KEY_CONTROLLER_HOST,
	KEY_CONTROLLER_PORT,
	KEY_NODE_AGENT_PORT,
	KEY_NODE_AGENT_ADDRESS,
	KEY_SOCKET_PATH,
	KEY_STATE_DIR,
	KEY_CGROUP_ROOT,
	KEY_LEND_UNALLOCATED,
	KEY_MAX_LEND_FRACTION,
	KEY_BATCH_STEP_CORES,
	KEY_MEMORY_MARGIN,
	KEY_EVICT_GRACE,
	KEY_DEFAULT_LEASE_TIME,
	KEY_MAX_LEASE_TIME,
	KEY_DEFAULT_MEM_PER_WORKER,
	KEY_PROVIDER,
	KEY_HOT_POLL_TIME,
	KEY_SPARE_EXECUTORS,
	KEY_MAX_CONNECTIONS_PER_HOST,
	KEY_GPUS,
	KEY_AUTH_TYPE,
	KEY_MUNGE_SOCKET,
	KEY_LEASE_PIDS_MAX,
	KEY_LEASE_LOG_SIZE,
	KEY_MAX_LEASES_PER_USER,
	KEY_MAX_WORKERS_PER_USER,
	KEY_METRICS_PORT,
	KEY_METRICS_ADDRESS,
	KEY_COUNT
};

#define LEASE_TIME_ACCEPTED                                                                        \
	"expected a whole number of seconds from 1s to " LEASE_MAX_DAYS_TEXT " days: minutes (a "  \
	"bare number), MM:SS, HH:MM:SS, D-HH:MM:SS, or a number with a unit like 90s, 30min, 12h " \
	"or 2d"

static const struct key_desc {
	const char *name;
	const char *accepted;
	bool may_be_empty;
} keys[KEY_COUNT] = {
    [KEY_CONTROLLER_HOST] = {"ControllerHost",
			     "expected a host name or address of at most 255 characters without "
			     "blanks"},
    [KEY_CONTROLLER_PORT] = {"ControllerPort", "expected a port number from 1 to 65535"},
    [KEY_NODE_AGENT_PORT] = {"NodeAgentPort", "expected a port number from 1 to 65535"},
    [KEY_NODE_AGENT_ADDRESS] = {"NodeAgentAddress",
				"expected a host name or address of at most 255 characters without "
				"blanks, or nothing for every address of the node",
				true},
    [KEY_SOCKET_PATH] = {"SocketPath",
			 "expected an absolute path of at most 107 characters without blanks"},
    [KEY_STATE_DIR] = {"StateDir",
		       "expected an absolute path of at most 4095 characters without blanks"},
    [KEY_CGROUP_ROOT] = {"CgroupRoot",
			 "expected a cgroup name relative to the root of the cgroup hierarchy, "
			 "like coloc or system.slice/coloc, of at most 255 characters"},
    [KEY_LEND_UNALLOCATED] = {"LendUnallocated", "expected yes or no (or true/false, on/off, 1/0)"},
    [KEY_MAX_LEND_FRACTION] = {"MaxLendFraction",
			       "expected a fraction above 0 and at most 1, like 0.5 or 50%"},
    [KEY_BATCH_STEP_CORES] = {"BatchStepCores", "expected a whole number of cores from 0 to 4096"},
    [KEY_MEMORY_MARGIN] = {"MemoryMargin",
			   "expected a size in bytes, or with K, M, G or T (powers of 1024), like "
			   "512M or 2G"},
    [KEY_EVICT_GRACE] = {"EvictGrace",
			 "expected a duration from 0 to 60s in whole milliseconds, like 500ms or "
			 "2s (a bare number is seconds)"},
    [KEY_DEFAULT_LEASE_TIME] = {"DefaultLeaseTime", LEASE_TIME_ACCEPTED},
    [KEY_MAX_LEASE_TIME] = {"MaxLeaseTime", LEASE_TIME_ACCEPTED},
    [KEY_DEFAULT_MEM_PER_WORKER] =
	{"DefaultMemPerWorker",
	 "expected a size in bytes, or with K, M, G or T (powers of 1024), "
	 "like 256M or 2G, at least " LEASE_MIN_MEM_TEXT " and at most " LEASE_MAX_MEM_TEXT},
    [KEY_PROVIDER] = {"Provider",
		      "expected a libfabric provider name of at most 63 characters, like "
		      "verbs;ofi_rxm or tcp;ofi_rxm, or nothing for libfabric's choice",
		      true},
    [KEY_HOT_POLL_TIME] =
	{"HotPollTime", "expected a duration from 0 to 10min, like 100ms or 50us (a bare number is "
			"milliseconds), or infinite"},
    [KEY_SPARE_EXECUTORS] = {"SpareExecutors",
			     "expected a whole number of spare executors from 0 to 16 (0: start "
			     "each lease's executor when it is needed)"},
    [KEY_MAX_CONNECTIONS_PER_HOST] = {"MaxConnectionsPerHost",
				      "expected a whole number of connections from 1 to 1024"},
    [KEY_GPUS] = {"Gpus",
		  "expected at most 64 comma-separated device files of at most 63 characters, "
		  "each with at most one bracket group of numbers and ranges, like "
		  "/dev/nvidia[0-3],/dev/nvidia7",
		  true},
    [KEY_AUTH_TYPE] = {"AuthType", "expected munge or none (or auth/munge, auth/none)"},
    [KEY_MUNGE_SOCKET] = {"MungeSocket",
			  "expected the absolute path of munged's socket, at most 107 characters "
			  "without blanks, or nothing for libmunge's default",
			  true},
    [KEY_LEASE_PIDS_MAX] = {"LeasePidsMax",
			    "expected a whole number of processes and threads from 64 to 4194304"},
    [KEY_LEASE_LOG_SIZE] = {"LeaseLogSize",
			    "expected a size in bytes, or with K, M or G (powers of 1024), like "
			    "1M, at most 1G; 0 keeps no log"},
    [KEY_MAX_LEASES_PER_USER] = {"MaxLeasesPerUser",
				 "expected a whole number of leases from 0 (no limit) to 4096"},
    [KEY_MAX_WORKERS_PER_USER] = {"MaxWorkersPerUser",
				  "expected a whole number of workers from 0 (no limit) to "
				  "4294967295"},
    [KEY_METRICS_PORT] = {"MetricsPort",
			  "expected a port number from 1 to 65535, or 0 for no metrics"},
    [KEY_METRICS_ADDRESS] = {"MetricsAddress",
			     "expected a host name or address of at most 255 characters without "
			     "blanks"},
};

static bool has_blank(const char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char)*s))
			return true;
	return false;
}

/* Copies v into dst[size]; returns what is wrong, or NULL. */
static const char *set_string(char *dst, size_t size, const char *v)
{
	size_t len = strlen(v);

	if (len >= size)
		return "is too long";
	if (has_blank(v))
		return "contains a blank";
	memcpy(dst, v, len + 1);
	return NULL;
}

static const char *set_path(char *dst, size_t size, const char *v)
{
	if (v[0] != '/')
		return "is not an absolute path";
	return set_string(dst, size, v);
}

static const char *set_cgroup(char *dst, size_t size, const char *v)
{
	const char *p = v;

	if (v[0] == '/')
		return "is not relative (it starts with '/')";
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return "has an empty, '.' or '..' component";
		p += len;
		if (*p == '/')
			p++;
		if (*p == '\0' && p[-1] == '/')
			return "has an empty, '.' or '..' component";
	}
	/* colocd evicts whatever runs under it when it starts: it must be
	 * coloc's own, never a cgroup of Slurm's or systemd's */
	p = strrchr(v, '/');
	if (strncmp(p ? p + 1 : v, "coloc", 5) != 0)
		return "does not end in a cgroup of coloc's own: its last component must start "
		       "with \"coloc\" (like coloc or system.slice/coloc.slice), since colocd "
		       "evicts every process under it when it starts";
	return set_string(dst, size, v);
}

static const char *set_unsigned(uint64_t *dst, const char *v, uint64_t min, uint64_t max)
{
	const char *p = v;
	uint64_t x;
	int rc = parse_digits(&p, &x);

	if (rc == 0 && *p)
		rc = -EINVAL;
	if (rc == -EINVAL)
		return "is not a whole number";
	if (rc || x < min || x > max)
		return "is out of range";
	*dst = x;
	return NULL;
}

static const char *set_port(uint16_t *dst, const char *v)
{
	uint64_t x;
	const char *why = set_unsigned(&x, v, 1, 65535);

	if (!why)
		*dst = (uint16_t)x;
	return why;
}

static const char *set_fraction(double *dst, const char *v)
{
	size_t len = strlen(v);
	bool percent = len && v[len - 1] == '%';
	char *end;
	double f;

	if (!isdigit((unsigned char)v[0]) && v[0] != '.')
		return "is not a number";
	errno = 0;
	f = strtod(v, &end);
	if (errno || end == v || end != v + len - (percent ? 1 : 0))
		return "is not a number";
	if (percent)
		f /= 100.0;
	if (!(f > 0.0 && f <= 1.0))
		return "is out of range";
	*dst = f;
	return NULL;
}

static const char *set_lease_time(unsigned *dst, const char *v)
{
	uint64_t ms;
	int rc = config_parse_duration_ms(v, &ms, "min");

	if (rc == 0 && ms % 1000)
		return "is not a whole number of seconds";
	if (rc)
		return rc == -ERANGE ? "is out of range" : "is not a duration";
	if (ms < 1000 || ms / 1000 > LEASE_MAX_TIME_S)
		return "is out of range";
	*dst = (unsigned)(ms / 1000);
	return NULL;
}

static const char *set_value(struct coloc_config *c, enum key_id k, const char *v)
{
	uint64_t x;
	const char *why;
	int rc;

	if (v[0] == '\0' && !keys[k].may_be_empty)
		return "has no value";
	switch (k) {
	case KEY_CONTROLLER_HOST:
		why = set_string(c->controller_host, sizeof(c->controller_host), v);
		c->controller_host_set = !why;
		return why;
	case KEY_CONTROLLER_PORT:
		return set_port(&c->controller_port, v);
	case KEY_NODE_AGENT_PORT:
		return set_port(&c->node_agent_port, v);
	case KEY_NODE_AGENT_ADDRESS:
		return set_string(c->node_agent_address, sizeof(c->node_agent_address), v);
	case KEY_SOCKET_PATH:
		return set_path(c->socket_path, sizeof(c->socket_path), v);
	case KEY_STATE_DIR:
		return set_path(c->state_dir, sizeof(c->state_dir), v);
	case KEY_CGROUP_ROOT:
		return set_cgroup(c->cgroup_root, sizeof(c->cgroup_root), v);
	case KEY_LEND_UNALLOCATED:
		return config_parse_bool(v, &c->lend_unallocated) ? "is not yes or no" : NULL;
	case KEY_MAX_LEND_FRACTION:
		return set_fraction(&c->max_lend_fraction, v);
	case KEY_BATCH_STEP_CORES:
		why = set_unsigned(&x, v, 0, BATCH_STEP_CORES_MAX);
		if (!why)
			c->batch_step_cores = (unsigned)x;
		return why;
	case KEY_MEMORY_MARGIN:
		rc = config_parse_size(v, &c->memory_margin);
		return rc == 0 ? NULL : rc == -ERANGE ? "is too large" : "is not a size";
	case KEY_EVICT_GRACE:
		rc = config_parse_duration_ms(v, &x, "s");
		if (rc == 0 && x > EVICT_GRACE_MAX_MS)
			rc = -ERANGE;
		if (rc)
			return rc == -ERANGE ? "is out of range" : "is not a duration";
		c->evict_grace_ms = (unsigned)x;
		return NULL;
	case KEY_DEFAULT_LEASE_TIME:
		return set_lease_time(&c->default_lease_s, v);
	case KEY_MAX_LEASE_TIME:
		return set_lease_time(&c->max_lease_s, v);
	case KEY_DEFAULT_MEM_PER_WORKER:
		rc = config_parse_size(v, &x);
		if (rc == 0 && (x < LEASE_MIN_MEM || x > LEASE_MAX_MEM))
			rc = -ERANGE;
		if (rc)
			return rc == -ERANGE ? "is out of range" : "is not a size";
		c->default_worker_mem = x;
		return NULL;
	case KEY_PROVIDER:
		return set_string(c->provider, sizeof(c->provider), v);
	case KEY_HOT_POLL_TIME:
		if (strcasecmp(v, "infinite") == 0) {
			c->hot_poll_us = CONFIG_HOT_POLL_INFINITE;
			return NULL;
		}
		rc = config_parse_duration_us(v, &x, "ms");
		if (rc == 0 && x > HOT_POLL_MAX_US)
			rc = -ERANGE;
		if (rc)
			return rc == -ERANGE ? "is out of range" : "is not a duration";
		c->hot_poll_us = (long)x;
		return NULL;
	case KEY_SPARE_EXECUTORS:
		why = set_unsigned(&x, v, 0, CONFIG_SPARE_EXECUTORS_MAX);
		if (!why)
			c->spare_executors = (unsigned)x;
		return why;
	case KEY_MAX_CONNECTIONS_PER_HOST:
		why = set_unsigned(&x, v, 1, CONFIG_CONNECTIONS_PER_HOST_MAX);
		if (!why)
			c->max_connections_per_host = (unsigned)x;
		return why;
	case KEY_GPUS:
		rc = config_expand_devices(v, c->gpus, CONFIG_MAX_GPUS, &c->ngpus);
		if (rc == -E2BIG)
			return "names more than 64 devices";
		if (rc == -ENAMETOOLONG)
			return "has a name that is too long";
		if (rc)
			return "is not a valid device list (bad brackets, a range going down, an empty "
			       "name or a name given twice)";
		for (unsigned i = 0; i < c->ngpus; i++)
			if (c->gpus[i][0] != '/' || has_blank(c->gpus[i]))
				return "has a name that is not an absolute path without blanks";
		return NULL;
	case KEY_AUTH_TYPE:
		if (strncasecmp(v, "auth/", 5) == 0)
			v += 5;
		if (strcasecmp(v, "munge") == 0)
			c->auth = COLOC_AUTH_MUNGE;
		else if (strcasecmp(v, "none") == 0)
			c->auth = COLOC_AUTH_NONE;
		else
			return "is not munge or none";
		return NULL;
	case KEY_MUNGE_SOCKET:
		if (!v[0]) {
			c->munge_socket[0] = '\0';
			return NULL;
		}
		return set_path(c->munge_socket, sizeof(c->munge_socket), v);
	case KEY_LEASE_PIDS_MAX:
		why = set_unsigned(&x, v, 64, 4194304);
		if (!why)
			c->lease_pids_max = (unsigned)x;
		return why;
	case KEY_LEASE_LOG_SIZE:
		rc = config_parse_size(v, &x);
		if (rc == 0 && x > (1ull << 30))
			rc = -ERANGE;
		if (rc)
			return rc == -ERANGE ? "is too large" : "is not a size";
		c->lease_log_size = x;
		return NULL;
	case KEY_MAX_LEASES_PER_USER:
		why = set_unsigned(&x, v, 0, 4096);
		if (!why)
			c->max_leases_per_user = (unsigned)x;
		return why;
	case KEY_MAX_WORKERS_PER_USER:
		why = set_unsigned(&x, v, 0, UINT32_MAX);
		if (!why)
			c->max_workers_per_user = (unsigned)x;
		return why;
	case KEY_METRICS_PORT:
		why = set_unsigned(&x, v, 0, 65535);
		if (!why)
			c->metrics_port = (uint16_t)x;
		return why;
	case KEY_METRICS_ADDRESS:
		return set_string(c->metrics_address, sizeof(c->metrics_address), v);
	case KEY_COUNT:
		break;
	}
	return "is not valid";
}

/* ---- %n ------------------------------------------------------------------ */

/* Replaces each "%n" of s[size] with node; false when it does not fit. */
static bool expand_node(char *s, size_t size, const char *node)
{
	char out[CONFIG_LINE_MAX + 1];
	size_t o = 0, nl = strlen(node);

	for (const char *p = s; *p; p++) {
		if (p[0] == '%' && p[1] == 'n') {
			if (o + nl >= size)
				return false;
			memcpy(out + o, node, nl);
			o += nl;
			p++;
		} else {
			if (o + 1 >= size)
				return false;
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	memcpy(s, out, o + 1);
	return true;
}

int config_expand_node(struct coloc_config *c, const char *node, char *err, size_t errlen)
{
	size_t n = strlen(node);

	if (n == 0 || n >= 64 ||
	    strspn(node, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789.-_") != n) {
		snprintf(err, errlen, "\"%.80s\" is not a node name to put in place of %%n", node);
		return -EINVAL;
	}
	if (!expand_node(c->socket_path, sizeof(c->socket_path), node)) {
		snprintf(err, errlen, "SocketPath with %%n = %s is longer than %zu characters",
			 node, sizeof(c->socket_path) - 1);
		return -ENAMETOOLONG;
	}
	if (!expand_node(c->state_dir, sizeof(c->state_dir), node)) {
		snprintf(err, errlen, "StateDir with %%n = %s is too long", node);
		return -ENAMETOOLONG;
	}
	if (!expand_node(c->cgroup_root, sizeof(c->cgroup_root), node)) {
		snprintf(err, errlen, "CgroupRoot with %%n = %s is too long", node);
		return -ENAMETOOLONG;
	}
	if (!expand_node(c->metrics_address, sizeof(c->metrics_address), node)) {
		snprintf(err, errlen, "MetricsAddress with %%n = %s is too long", node);
		return -ENAMETOOLONG;
	}
	for (unsigned i = 0; i < c->ngpus; i++) {
		if (!expand_node(c->gpus[i], sizeof(c->gpus[i]), node)) {
			snprintf(err, errlen, "Gpus: %.80s with %%n = %s is too long", c->gpus[i],
				 node);
			return -ENAMETOOLONG;
		}
	}
	return 0;
}

/* ---- parsing ------------------------------------------------------------ */

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int find_key(const char *name)
{
	for (int k = 0; k < KEY_COUNT; k++)
		if (strcasecmp(name, keys[k].name) == 0)
			return k;
	return -1;
}

int config_parse(const char *text, const char *name, struct coloc_config *c, char *err,
		 size_t errlen)
{
	unsigned seen[KEY_COUNT] = {0}; /* line of each key, 0 = not given */
	char line[CONFIG_LINE_MAX + 1];
	struct coloc_config tmp = *c;
	const char *p = text;
	unsigned lineno = 0;

	if (!name)
		name = "coloc.conf";
	if (!text) {
		snprintf(err, errlen, "%s: no text to parse", name);
		return -EINVAL;
	}
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *key, *val, *eq, *hash;
		const char *why;
		int k;

		lineno++;
		if (len > CONFIG_LINE_MAX) {
			snprintf(err, errlen,
				 "%s:%u: the line is longer than %d characters; shorten it (a "
				 "Gpus list can use bracket ranges like /dev/nvidia[0-7])",
				 name, lineno, CONFIG_LINE_MAX);
			return -EINVAL;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl ? nl + 1 : p + len;

		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		key = trim(line);
		if (*key == '\0')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			snprintf(err, errlen,
				 "%s:%u: '%.64s%s' has no '='; write one Key=Value per line, like "
				 "ControllerPort=863",
				 name, lineno, key, strlen(key) > 64 ? "..." : "");
			return -EINVAL;
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		if (*key == '\0') {
			snprintf(err, errlen,
				 "%s:%u: no key before '='; write one Key=Value per line, like "
				 "ControllerPort=863",
				 name, lineno);
			return -EINVAL;
		}
		k = find_key(key);
		if (k < 0) {
			snprintf(err, errlen,
				 "%s:%u: unknown key '%.64s%s'; see coloc.conf(5) for the keys",
				 name, lineno, key, strlen(key) > 64 ? "..." : "");
			return -EINVAL;
		}
		if (seen[k]) {
			snprintf(err, errlen,
				 "%s:%u: %s is given twice, on lines %u and %u; give each key once",
				 name, lineno, keys[k].name, seen[k], lineno);
			return -EINVAL;
		}
		seen[k] = lineno;
		why = set_value(&tmp, (enum key_id)k, val);
		if (why) {
			snprintf(err, errlen, "%s:%u: %s=%.64s%s %s; %s", name, lineno,
				 keys[k].name, val, strlen(val) > 64 ? "..." : "", why,
				 keys[k].accepted);
			return -EINVAL;
		}
	}
	if (tmp.max_lease_s < tmp.default_lease_s) {
		unsigned at = seen[KEY_MAX_LEASE_TIME] > seen[KEY_DEFAULT_LEASE_TIME]
				  ? seen[KEY_MAX_LEASE_TIME]
				  : seen[KEY_DEFAULT_LEASE_TIME];

		snprintf(err, errlen,
			 "%s:%u: MaxLeaseTime (%u s) is shorter than DefaultLeaseTime (%u s); "
			 "make MaxLeaseTime at least DefaultLeaseTime",
			 name, at, tmp.max_lease_s, tmp.default_lease_s);
		return -EINVAL;
	}
	*c = tmp;
	return 0;
}

/* ---- loading ------------------------------------------------------------ */

static const char *error_text(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len); /* the GNU one: config.h defines _GNU_SOURCE */
}

int config_load(const char *explicit_path, struct coloc_config *c, char *err, size_t errlen)
{
	const char *path, *source, *env = getenv("COLOC_CONF");
	char ebuf[128], *text = NULL, *nul;
	struct stat st;
	size_t got = 0;
	int fd, rc;

	config_defaults(c);
	if (explicit_path && *explicit_path) {
		path = explicit_path;
		source = " (named by -f)";
	} else if (env && *env) {
		path = env;
		source = " (named by COLOC_CONF)";
	} else {
		path = config_default_path();
		source = NULL;
	}

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT && !source)
			return 0;
		snprintf(err, errlen, "cannot open %s%s: %s; %s", path, source ? source : "",
			 error_text(-rc, ebuf, sizeof(ebuf)),
			 source ? "name an existing coloc.conf"
				: "make it readable, or name another file with -f or COLOC_CONF");
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot stat %s%s: %s", path, source ? source : "",
			 error_text(-rc, ebuf, sizeof(ebuf)));
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s%s is not a regular file; name a coloc.conf file", path,
			 source ? source : "");
		goto close_fd;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		rc = -EFBIG;
		snprintf(err, errlen, "%s%s is larger than %d bytes; is it really coloc.conf?",
			 path, source ? source : "", CONFIG_FILE_MAX);
		goto close_fd;
	}
	text = malloc(CONFIG_FILE_MAX + 1);
	if (!text) {
		rc = -ENOMEM;
		snprintf(err, errlen, "cannot read %s: out of memory", path);
		goto close_fd;
	}
	for (;;) {
		ssize_t r = read(fd, text + got, CONFIG_FILE_MAX + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot read %s%s: %s", path, source ? source : "",
				 error_text(-rc, ebuf, sizeof(ebuf)));
			goto free_text;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > CONFIG_FILE_MAX) {
			rc = -EFBIG;
			snprintf(err, errlen,
				 "%s%s is larger than %d bytes; is it really coloc.conf?", path,
				 source ? source : "", CONFIG_FILE_MAX);
			goto free_text;
		}
	}
	text[got] = '\0';
	nul = memchr(text, '\0', got);
	if (nul) {
		unsigned lineno = 1;

		for (const char *q = text; q < nul; q++)
			lineno += *q == '\n';
		rc = -EINVAL;
		snprintf(err, errlen, "%s:%u: contains a NUL byte; coloc.conf must be a text file",
			 path, lineno);
		goto free_text;
	}
	rc = config_parse(text, path, c, err, errlen);
	if (rc == 0 && strlen(path) < sizeof(c->file))
		memcpy(c->file, path, strlen(path) + 1);
free_text:
	free(text);
close_fd:
	close(fd);
	return rc;
}
