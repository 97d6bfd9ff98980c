/*
 * colocd/conns.c, compiled here so that its test links only the module
 * under test (with frame.c, msg.c and log.c). Objects stay in this
 * directory.
 */
#include "conns.c"
