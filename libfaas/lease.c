/*
 * lease: libfaas's requests to the controller (faas_lease_acquire,
 * faas_rmem_acquire, faas_lease_release; see faas.h). Each call loads coloc.conf, makes one
 * round trip with ctl_lease_acquire or ctl_lease_release (which check the
 * request against lease_rules.h) and maps the answer to a FAAS_E* code. No
 * state between calls; thread-safe as far as config_load (which reads the
 * environment) is.
 */
#include "config.h"

#include "faas.h"
#include "internal.h"

#include "log.h"

#include "coloc_config.h"
#include "ctl_client.h"
#include "lease_rules.h"
#include "msg.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A ctl_client error (-errno) as a FAAS_E* code. */
static int faas_code(int rc)
{
	switch (-rc) {
	case 0:
		return FAAS_OK;
	case ENOSPC:
	case EBUSY:
	case EAGAIN:
		return FAAS_EBUSY;
	case EINVAL:
	case ENOENT:
	case E2BIG:
	case ERANGE:
		return FAAS_EINVAL;
	case EACCES: /* refused, or a grant that is not authenticated */
	case EPERM:
		return FAAS_EAUTH;
	case ENOMEM:
		return FAAS_ENOMEM;
	case EPROTO:
		return FAAS_EPROTO;
	default:
		return FAAS_EUNAVAIL;
	}
}

/* The Slurm job this process runs in (SLURM_JOB_ID), 0 outside one. */
static uint32_t slurm_job_id(void)
{
	const char *s = getenv("SLURM_JOB_ID");
	unsigned long v;
	char *end;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	return *end || errno || v > UINT32_MAX ? 0 : (uint32_t)v;
}

/* Loads coloc.conf (conf, else COLOC_CONF, else the default) into cfg. */
static int load_config(const char *conf, struct coloc_config *cfg, char *err, size_t errlen)
{
	char why[1024];

	if (config_load(conf, cfg, why, sizeof(why)) != 0) {
		log_errbuf(err, errlen, "%s", why);
		return FAAS_EINVAL;
	}
	return FAAS_OK;
}

/* coloc.conf and FAAS_CONTROLLER_TIMEOUT_MS: FAAS_OK or FAAS_EINVAL. */
static int setup(const char *conf, struct coloc_config *cfg, int *timeout_ms, char *err,
		 size_t errlen)
{
	char why[1024];
	int rc = load_config(conf, cfg, err, errlen);

	if (rc)
		return rc;
	if (ctl_timeout_from_env(timeout_ms, why, sizeof(why)) != 0) {
		log_errbuf(err, errlen, "%s", why);
		return FAAS_EINVAL;
	}
	return FAAS_OK;
}

static int acquire(const char *fn, struct lease_request *req, const char *conf,
		   struct faas_lease **lease, char *err, size_t errlen);

int faas_lease_acquire(const struct faas_lease_request *r, struct faas_lease **lease, char *err,
		       size_t errlen)
{
	struct lease_request req = {0};
	char path[PATH_MAX];

	if (!r || !lease) {
		log_errbuf(err, errlen,
			   "faas_lease_acquire: the request and lease pointers are required");
		return FAAS_EINVAL;
	}
	*lease = NULL;
	if (r->workers < 0 || r->gpus < 0 || r->minutes < 0 || !r->lib || !*r->lib) {
		log_errbuf(err, errlen,
			   "faas_lease_acquire: needs a function library, and workers, gpus and "
			   "minutes of 0 or more (workers %d, gpus %d, minutes %d)",
			   r->workers, r->gpus, r->minutes);
		return FAAS_EINVAL;
	}
	/* the rest are lease_rules.h's, checked by ctl_lease_acquire */
	req.workers = (uint32_t)r->workers;
	req.mem = r->mem_per_worker;
	req.gpus = (uint32_t)r->gpus;
	req.time = (uint64_t)r->minutes * 60 > UINT32_MAX ? UINT32_MAX : (uint32_t)r->minutes * 60;
	req.pack = r->pack != 0;
	req.job = slurm_job_id();
	errno = 0;
	if (!realpath(r->lib, path) || strlen(path) >= sizeof(req.lib)) {
		log_errbuf(err, errlen, "faas_lease_acquire: function library %s: %s", r->lib,
			   strerror(errno ? errno : ENAMETOOLONG));
		return FAAS_EINVAL;
	}
	strcpy(req.lib, path);
	return acquire(__func__, &req, r->conf, lease, err, errlen);
}

int faas_rmem_acquire(const struct faas_rmem_request *r, struct faas_lease **lease, char *err,
		      size_t errlen)
{
	struct lease_request req = {0};

	if (!r || !lease) {
		log_errbuf(err, errlen,
			   "faas_rmem_acquire: the request and lease pointers are required");
		return FAAS_EINVAL;
	}
	*lease = NULL;
	if (r->minutes < 0) {
		log_errbuf(err, errlen,
			   "faas_rmem_acquire: minutes %d: give 0 (DefaultLeaseTime) or more",
			   r->minutes);
		return FAAS_EINVAL;
	}
	/* the size's limits are lease_rules.h's, checked by ctl_lease_acquire */
	req.remote_mem = r->size ? r->size : 1; /* 0: "too small", not a compute lease */
	req.time = (uint64_t)r->minutes * 60 > UINT32_MAX ? UINT32_MAX : (uint32_t)r->minutes * 60;
	req.job = slurm_job_id();
	return acquire(__func__, &req, r->conf, lease, err, errlen);
}

/* Sends req (a checked compute or memory lease request) to the controller
 * of conf and parses the grant into *lease. */
static int acquire(const char *fn, struct lease_request *req, const char *conf,
		   struct faas_lease **lease, char *err, size_t errlen)
{
	struct coloc_config cfg;
	struct msg grant;
	char why[1024];
	int rc, timeout_ms;

	rc = setup(conf, &cfg, &timeout_ms, err, errlen);
	if (rc)
		return rc;
	rc = ctl_lease_acquire(&cfg, req, timeout_ms, &grant, why, sizeof(why));
	if (rc) {
		log_errbuf(err, errlen, "%s: %s", fn, why);
		return faas_code(rc);
	}
	rc = faas_lease_from_json(grant.u.grant.lease, lease, why, sizeof(why));
	if (rc == FAAS_ELEASE)
		log_errbuf(err, errlen,
			   "the controller granted lease %s with a malformed document: %s",
			   grant.u.grant.id, why);
	if (rc == FAAS_OK && lease_set_conf(*lease, conf) != FAAS_OK) {
		/* it must still be released: the controller holds it */
		log_errbuf(err, errlen, "out of memory after lease %s was granted",
			   grant.u.grant.id);
		faas_lease_release(*lease, NULL, 0);
		faas_lease_destroy(*lease);
		*lease = NULL;
		rc = FAAS_ENOMEM;
	}
	msg_free(&grant);
	return rc;
}

int faas_lease_release(struct faas_lease *lease, char *err, size_t errlen)
{
	struct coloc_config cfg;
	const char *id = lease ? faas_lease_id(lease) : NULL;
	char why[1024];
	int rc, timeout_ms;

	if (!id || !*id) {
		log_errbuf(err, errlen,
			   "faas_lease_release: the lease has no id the controller knows");
		return FAAS_EINVAL;
	}
	rc = setup(lease_conf(lease), &cfg, &timeout_ms, err, errlen);
	if (rc)
		return rc;
	rc = ctl_lease_release(&cfg, id, timeout_ms, why, sizeof(why));
	if (rc)
		log_errbuf(err, errlen, "faas_lease_release: %s", why);
	return faas_code(rc);
}
