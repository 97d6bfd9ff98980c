/*
 * libfaas/comm.c (faas_send, faas_recv, the collectives), compiled here so
 * that test_comm links it without libfaas. Objects stay in this directory.
 */
#include "../../libfaas/comm.c"
