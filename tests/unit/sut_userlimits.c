/*
 * common/userlimits.c, compiled here so that the unit test links the module
 * under test without its library. Objects stay in this directory.
 */
#include "userlimits.c"
