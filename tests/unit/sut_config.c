/*
 * common/config.c, compiled here so that a unit test links the module under
 * test without its library, with COLOC_SYSCONFDIR pointing into the build
 * tree. Objects stay in this directory.
 */
#include "config.c"
