/*
 * common/ctl_client.c, compiled here so that its test links only the
 * module under test (with frame.c, msg.c and a fake credential module).
 * Objects stay in this directory.
 */
#include "ctl_client.c"
