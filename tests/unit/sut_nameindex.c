/*
 * colocd/nameindex.c, compiled here so that a unit test links the module
 * under test without libcolocd. Objects stay in this directory.
 */
#include "nameindex.c"
