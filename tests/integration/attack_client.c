/*
 * libfaas/client.c, compiled into session_attack (session_attack.c) so that
 * the attacker can send requests libfaas's API never sends.
 */
#include "../../libfaas/client.c"
