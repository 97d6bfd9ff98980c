/*
 * lease: libfaas's requests to the controller (faas_lease_acquire,
 * faas_lease_release; see faas.h). Each call loads coloc.conf, sends one
 * request through ctl_client and maps the answer to a FAAS_E* code. No
 * state between calls; thread-safe as far as config_load (which reads the
 * environment) is.
 */
#include "config.h"

#include "faas.h"
#include "internal.h"

#include "log.h"

#include "coloc_config.h"
#include "ctl_client.h"
#include "msg.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASE_DEFAULT_TIMEOUT_MS 30000
#define LEASE_MAX_MINUTES (366 * 24 * 60)

static int timeout_ms(void)
{
	const char *v = getenv("FAAS_CONTROLLER_TIMEOUT_MS");
	char *end;
	long ms;

	if (!v || !*v)
		return LEASE_DEFAULT_TIMEOUT_MS;
	errno = 0;
	ms = strtol(v, &end, 10);
	if (errno || *end || ms < 1 || ms > 3600000)
		return LEASE_DEFAULT_TIMEOUT_MS;
	return (int)ms;
}

/* The controller's error reply as a FAAS_E* code. */
static int error_code(const struct msg *reply)
{
	static const struct {
		const char *name;
		int code;
	} map[] = {
	    {"ENOSPC", FAAS_EBUSY},  {"EBUSY", FAAS_EBUSY},   {"EAGAIN", FAAS_EBUSY},
	    {"EINVAL", FAAS_EINVAL}, {"ENOENT", FAAS_EINVAL}, {"E2BIG", FAAS_EINVAL},
	    {"ERANGE", FAAS_EINVAL}, {"EACCES", FAAS_EAUTH},  {"EPERM", FAAS_EAUTH},
	    {"ENOMEM", FAAS_ENOMEM}, {"EPROTO", FAAS_EPROTO},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(reply->u.error.code, map[i].name) == 0)
			return map[i].code;
	return FAAS_EUNAVAIL;
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

/* Sends req; FAAS_OK with *reply of the expected type (to msg_free), or a
 * FAAS_E* code with err filled. */
static int request(const struct coloc_config *cfg, struct msg *req, struct msg *reply,
		   enum msg_type expect, char *err, size_t errlen)
{
	char why[1024];
	int rc;

	rc = ctl_request(cfg, req, reply, timeout_ms(), why, sizeof(why));
	if (rc) {
		log_errbuf(err, errlen, "%s", why);
		return rc == -ENOMEM   ? FAAS_ENOMEM
		       : rc == -EPROTO ? FAAS_EPROTO
		       : rc == -EACCES ? FAAS_EAUTH /* a grant that is not authenticated */
				       : FAAS_EUNAVAIL;
	}
	if (reply->type == MSG_ERROR) {
		log_errbuf(err, errlen, "the controller refused the %s request: %s: %s",
			   msg_type_name(req->type), reply->u.error.code, reply->u.error.message);
		rc = error_code(reply);
		msg_free(reply);
		return rc;
	}
	if (reply->type != expect) {
		log_errbuf(err, errlen,
			   "the controller answered a %s request with %s, not %s; are colocd and "
			   "libfaas the same version?",
			   msg_type_name(req->type), msg_type_name(reply->type),
			   msg_type_name(expect));
		msg_free(reply);
		return FAAS_EPROTO;
	}
	return FAAS_OK;
}

int faas_lease_acquire(const struct faas_lease_request *r, struct faas_lease **lease, char *err,
		       size_t errlen)
{
	struct msg req = {.type = MSG_LEASE_ACQUIRE}, reply;
	struct coloc_config cfg;
	char path[PATH_MAX], why[512];
	int rc;

	if (!r || !lease) {
		log_errbuf(err, errlen,
			   "faas_lease_acquire: the request and lease pointers are required");
		return FAAS_EINVAL;
	}
	*lease = NULL;
	if (r->workers < 1 || r->workers > 4096 || r->gpus < 0 || r->gpus > 64 || r->minutes < 0 ||
	    r->minutes > LEASE_MAX_MINUTES || (uint64_t)r->mem_per_worker > (uint64_t)1 << 50 ||
	    !r->lib || !*r->lib) {
		log_errbuf(
		    err, errlen,
		    "faas_lease_acquire: needs workers 1 to 4096, a function library, gpus 0 to "
		    "64, minutes 0 to %d (0: the site default) and at most 1 PiB per worker",
		    LEASE_MAX_MINUTES);
		return FAAS_EINVAL;
	}
	errno = 0;
	if (!realpath(r->lib, path) || strlen(path) >= sizeof(req.u.acquire.lib)) {
		log_errbuf(err, errlen, "faas_lease_acquire: function library %s: %s", r->lib,
			   strerror(errno ? errno : ENAMETOOLONG));
		return FAAS_EINVAL;
	}
	strcpy(req.u.acquire.lib, path);
	req.u.acquire.workers = (uint32_t)r->workers;
	req.u.acquire.mem = r->mem_per_worker;
	req.u.acquire.gpus = (uint32_t)r->gpus;
	req.u.acquire.time = (uint32_t)r->minutes * 60;
	req.u.acquire.pack = r->pack != 0;
	req.u.acquire.job = slurm_job_id();
	rc = load_config(r->conf, &cfg, err, errlen);
	if (rc)
		return rc;
	if (!req.u.acquire.time)
		req.u.acquire.time = cfg.default_lease_s ? cfg.default_lease_s : 1800;
	rc = request(&cfg, &req, &reply, MSG_LEASE_GRANT, err, errlen);
	if (rc)
		return rc;
	rc = faas_lease_from_json(reply.u.grant.lease, lease, why, sizeof(why));
	if (rc == FAAS_ELEASE)
		log_errbuf(err, errlen,
			   "the controller granted lease %s with a malformed document: %s",
			   reply.u.grant.id, why);
	if (rc == FAAS_OK && lease_set_conf(*lease, r->conf) != FAAS_OK) {
		/* it must still be released: the controller holds it */
		log_errbuf(err, errlen, "out of memory after lease %s was granted",
			   reply.u.grant.id);
		faas_lease_release(*lease, NULL, 0);
		faas_lease_destroy(*lease);
		*lease = NULL;
		rc = FAAS_ENOMEM;
	}
	msg_free(&reply);
	return rc;
}

int faas_lease_release(struct faas_lease *lease, char *err, size_t errlen)
{
	struct msg req = {.type = MSG_LEASE_RELEASE}, reply;
	struct coloc_config cfg;
	const char *id = lease ? faas_lease_id(lease) : NULL;
	int rc;

	if (!id || !*id || strlen(id) >= sizeof(req.u.release.id)) {
		log_errbuf(err, errlen,
			   "faas_lease_release: the lease has no id the controller knows");
		return FAAS_EINVAL;
	}
	strcpy(req.u.release.id, id);
	rc = load_config(lease_conf(lease), &cfg, err, errlen);
	if (rc)
		return rc;
	rc = request(&cfg, &req, &reply, MSG_OK, err, errlen);
	if (rc == FAAS_OK)
		msg_free(&reply);
	return rc;
}
