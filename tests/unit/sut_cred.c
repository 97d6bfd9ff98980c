/*
 * common/cred.c, compiled here so that its test links only the module
 * under test (and libmunge, which the AuthType=none paths never call).
 */
#include "cred.c"
