/*
 * common/transport_rung.c, compiled here so that tests with the mock
 * transport use the real rung names. Objects stay in this directory.
 */
#include "transport_rung.c"
