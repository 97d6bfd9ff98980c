/*
 * executor/comm.c, compiled here so that a unit test links the module under test
 * without its library (and with mock_transport.c instead of the real
 * transport). Objects stay in this directory.
 */
#include "comm.c"
