/*
 * common/auth.c, compiled here so that its test links only the modules it
 * joins (msg, cred, sha256).
 */
#include "auth.c"
