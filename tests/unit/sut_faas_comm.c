/*
 * libfaas/comm.c (faas_send, the collectives), compiled here so that a unit test links the module under test
 * without its library (and with mock_transport.c instead of the real
 * transport). Objects stay in this directory.
 */
#include "../../libfaas/comm.c"
