/*
 * lease_rules: what a lease request may ask for, written once. Every entry
 * point checks against these and only these:
 *
 *   entry point                          checks with
 *   --faas-* / FAAS_* (faas_opts.c)      lease_rules_parse_*, LEASE_MAX_*, LEASE_ACCEPT_*
 *   colocctl lease acquire (ctl_cli.c)   lease_rules_parse_*, LEASE_MAX_*, LEASE_ACCEPT_*
 *   faas_lease_acquire (libfaas)         lease_rules_check, in ctl_lease_acquire
 *   ctl_lease_acquire (ctl_client.c)     lease_rules_check, for all three clients above:
 *                                        a request past a limit is never sent
 *   lease_acquire on the wire (msg.c)    LEASE_MAX_* (the controller's decoder)
 *   DefaultLeaseTime, MaxLeaseTime       LEASE_MAX_TIME_S, LEASE_DEFAULT_TIME_S
 *   (config.c)
 *
 * The public header faas.h cannot include this one: it states the same
 * numbers in its comments (as do faas(3), colocctl(1), spank_faas(8) and
 * coloc.conf(5)), and test_lease_rules checks that they match.
 *
 * Stateless and reentrant.
 */
#ifndef COLOC_LEASE_RULES_H
#define COLOC_LEASE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEASE_MAX_WORKERS 4096		  /* workers of one lease, at least 1 */
#define LEASE_MAX_GPUS 64		  /* GPUs of one lease, 0 allowed */
#define LEASE_MAX_MEM ((uint64_t)1 << 50) /* bytes per worker: 1 PiB */
#define LEASE_MAX_MEM_TEXT "1024T"	  /* LEASE_MAX_MEM as the size parsers write it */
/* The least memory per worker: its fabric endpoint (about 2.5 MB on
 * tcp;ofi_rxm, 5.5 MB on shm) and its slots and reply buffers in use (2 x
 * 64 x 64 KiB at the executor's defaults), the user guide's "choosing
 * sizes"; a function's own memory comes on top. */
#define LEASE_MIN_MEM ((uint64_t)16 << 20)
#define LEASE_MIN_MEM_TEXT "16M"
#define LEASE_MAX_DAYS 366 /* the longest lease (and MaxLeaseTime) */
#define LEASE_MAX_TIME_S ((uint32_t)LEASE_MAX_DAYS * 86400u)
#define LEASE_DEFAULT_TIME_S 1800 /* DefaultLeaseTime when coloc.conf does not set it */
#define LEASE_LIB_MAX 4096	  /* bytes of the library's path, NUL included */
/* A memory lease (--remote-mem): its region, at least a page and at most
 * 1 PiB (lease_doc.h's LEASE_REMOTE_MEM_MAX). Its executor's cgroup holds
 * the region plus LEASE_REMOTE_MEM_MARGIN: the executor's own pages, its
 * fabric endpoint (about 2.5 MB on tcp;ofi_rxm, 5.5 MB on shm) and the
 * 16 MiB it keeps free under its limit (faas-executor --remote-mem). */
#define LEASE_MIN_REMOTE_MEM ((uint64_t)4096)
#define LEASE_MIN_REMOTE_MEM_TEXT "4K"
#define LEASE_MAX_REMOTE_MEM ((uint64_t)1 << 50)
#define LEASE_MAX_REMOTE_MEM_TEXT "1024T"
#define LEASE_REMOTE_MEM_MARGIN ((uint64_t)64 << 20)

#define LEASE_STR_(x) #x
#define LEASE_STR(x) LEASE_STR_(x)
#define LEASE_MAX_WORKERS_TEXT LEASE_STR(LEASE_MAX_WORKERS)
#define LEASE_MAX_GPUS_TEXT LEASE_STR(LEASE_MAX_GPUS)
#define LEASE_MAX_DAYS_TEXT LEASE_STR(LEASE_MAX_DAYS)

/* What each value may be, as every error message about it says. */
#define LEASE_ACCEPT_WORKERS "a whole number from 1 to " LEASE_MAX_WORKERS_TEXT
#define LEASE_ACCEPT_GPUS "a whole number from 0 to " LEASE_MAX_GPUS_TEXT
#define LEASE_ACCEPT_MEM                                                                               \
	"a size per worker like 512M or 2G (K, M, G, T: powers of 1024), at least " LEASE_MIN_MEM_TEXT \
	" and at most " LEASE_MAX_MEM_TEXT
#define LEASE_ACCEPT_REMOTE_MEM                                                                    \
	"a size like 512M or 2G (K, M, G, T: powers of 1024), at least " LEASE_MIN_REMOTE_MEM_TEXT \
	" and at most " LEASE_MAX_REMOTE_MEM_TEXT
#define LEASE_ACCEPT_TIME                                                                          \
	"minutes, [D-]HH:MM[:SS] or a number with a unit like 90s or 2h, above 0 and at "          \
	"most " LEASE_MAX_DAYS_TEXT " days"

/* A lease request as a client sends it (msg.h's lease_acquire). A memory
 * lease has remote_mem > 0, no workers, no library ("") and no GPUs. */
struct lease_request {
	uint32_t workers;	 /* 1..LEASE_MAX_WORKERS; 0 for a memory lease */
	char lib[LEASE_LIB_MAX]; /* absolute path of the function library; "" */
	uint64_t mem;		 /* bytes per worker, LEASE_{MIN,MAX}_MEM; 0 = site default */
	uint32_t gpus;		 /* 0..LEASE_MAX_GPUS */
	uint32_t time;		 /* seconds, 1..LEASE_MAX_TIME_S (0: DefaultLeaseTime, filled
				    in by ctl_lease_acquire; never on the wire) */
	bool pack;		 /* mode "pack" (else "spread") */
	uint32_t job;		 /* the client's Slurm job, 0 = none */
	uint64_t remote_mem;	 /* a memory lease: bytes of its region; 0: compute */
};

/* Checks every field of r against the rules. 0, or -EINVAL with err
 * naming the first field that breaks one, its limit and what to ask for
 * instead. */
int lease_rules_check(const struct lease_request *r, char *err, size_t errlen);

/* A lease time given by a user (--time, --faas-time, FAAS_TIME): minutes
 * (a bare number), Slurm's [D-]HH:MM[:SS] or a number with a unit (90s,
 * 2h), above 0 and at most LEASE_MAX_DAYS; rounded up to whole seconds.
 * 0 or -EINVAL (LEASE_ACCEPT_TIME says what is accepted). */
int lease_rules_parse_time(const char *s, uint32_t *seconds);

/* Memory per worker given by a user (--mem, --faas-mem, FAAS_MEM): a size
 * like 512M (config_parse_size), at least LEASE_MIN_MEM and at most
 * LEASE_MAX_MEM. 0 or -EINVAL (LEASE_ACCEPT_MEM). */
int lease_rules_parse_mem(const char *s, uint64_t *bytes);

/* A memory lease's region given by a user (--remote-mem, --faas-remote-mem,
 * FAAS_REMOTE_MEM): a size, LEASE_{MIN,MAX}_REMOTE_MEM. 0, or -EINVAL with
 * err (when errlen > 0) saying whether it is not a size, too small or too
 * large, and what is accepted. */
int lease_rules_parse_remote_mem(const char *s, uint64_t *bytes, char *err, size_t errlen);

#endif
