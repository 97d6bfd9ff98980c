/*
 * executor/session.c, compiled here next to worker.c (sut_worker.c) for the
 * worker's unit test, with mock_transport.c. Objects stay in this directory.
 */
#include "../../executor/session.c"
