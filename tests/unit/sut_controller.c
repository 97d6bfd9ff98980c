/*
 * colocd/controller.c, compiled here so that a unit test links the module
 * under test without libcolocd (and gives it a fake node agent through
 * struct controller_nodes). Objects stay in this directory.
 */
#include "controller.c"
