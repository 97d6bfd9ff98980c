/*
 * common/cpumask.c, compiled here so that a unit test links the module under
 * test without libcommon. Objects stay in this directory.
 */
#include "cpumask.c"
