/*
 * tests/bench/replay.c (faas-trace-replay's simulation), compiled here; it
 * links libcolocd for the gap computation and placement it replays through.
 */
#include "replay.c"
