/*
 * colocd/notify.c, compiled here so that its test links it alone.
 */
#include "notify.c"
