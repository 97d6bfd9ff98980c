/*
 * tests/bench/trace.c (faas-trace-replay's SWF reader and synthetic trace),
 * compiled here so that its unit test links the module alone. Objects stay
 * in this directory.
 */
#include "trace.c"
