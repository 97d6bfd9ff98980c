/*
 * common/lease_rules.c, compiled here so that a unit test links the module
 * under test without its library. Objects stay in this directory.
 */
#include "lease_rules.c"
