/*
 * common/sha256.c, compiled here so that its test links only the module
 * under test. Objects stay in this directory.
 */
#include "sha256.c"
