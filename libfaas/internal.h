/*
 * internal: what libfaas's files share and do not export (only faas_*
 * symbols leave the library).
 */
#ifndef FAAS_INTERNAL_H
#define FAAS_INTERNAL_H

#include "faas.h"

/* The coloc.conf a lease was acquired with (NULL: the default), so that
 * faas_lease_release() asks the same controller. 0 or FAAS_ENOMEM. */
int lease_set_conf(struct faas_lease *lease, const char *conf);
const char *lease_conf(const struct faas_lease *lease);

struct lease_doc;
/* Starts a call of fn on the client's worker wi only (a rank of
 * faas_invoke_all): never moved to another worker, it fails with
 * FAAS_EEVICTED or FAAS_EUNAVAIL when that worker goes. FAAS_EBUSY when
 * the worker has no free record now; otherwise as faas_invoke_async. */
int client_submit_to(struct faas_client *c, unsigned wi, int fn, const void *in, size_t in_len,
		     void *out, size_t out_cap, struct faas_call **call);
/* Sends a control message to the client's worker wi (FAAS_EUNAVAIL when
 * it is not connected or evicted). */
int client_send_msg(struct faas_client *c, unsigned wi, const void *buf, size_t len);
const struct lease_doc *client_lease_doc(const struct faas_client *c);
int client_timeout_ms(const struct faas_client *c);
/* Sets what faas_last_error says (faas_last_fn_rc becomes 0). */
void client_note(struct faas_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
