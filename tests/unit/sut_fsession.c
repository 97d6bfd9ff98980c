/*
 * libfaas/session.c, compiled here next to client.c (sut_client.c) for the
 * client's unit test, with mock_transport.c. Objects stay in this directory.
 */
#include "../../libfaas/session.c"
