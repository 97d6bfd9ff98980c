/*
 * common/replay_cache.c and the SHA-256 it hashes nonces with, compiled
 * here so that the test links only the module under test.
 */
#include "replay_cache.c"
