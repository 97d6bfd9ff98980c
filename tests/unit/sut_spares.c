/*
 * colocd/spares.c, compiled here so that a unit test links the module under
 * test without libcolocd (and with fake_sandbox.c instead of the real
 * sandbox). Objects stay in this directory.
 */
#include "spares.c"
