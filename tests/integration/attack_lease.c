/*
 * libfaas/lease.c, for session_attack (session_attack.c).
 */
#include "../../libfaas/lease.c"
