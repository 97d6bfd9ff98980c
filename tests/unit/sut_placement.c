/*
 * colocd/placement.c, compiled here so that a unit test links the module
 * under test without libcolocd (and the other modules' dependencies).
 * Objects stay in this directory.
 */
#include "placement.c"
