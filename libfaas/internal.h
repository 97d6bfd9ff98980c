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
/* The lease's parsed document; owned by the lease. */
const struct lease_doc *lease_doc_of(const struct faas_lease *lease);

#endif
