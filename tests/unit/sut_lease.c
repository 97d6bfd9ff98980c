/*
 * libfaas/lease.c, compiled here so that its test links only the module
 * under test (with ctl_client.c, lease_rules.c, config.c and log.c, a
 * fake controller, and a fake of client.c's lease document). Objects stay
 * in this directory.
 */
#include "lease.c"
