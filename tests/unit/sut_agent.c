/*
 * colocd/agent.c, compiled here so that a unit test links the module under
 * test without libcolocd (and with fake_sandbox.c instead of the real
 * sandbox). Processes that survive SIGKILL are reported after 300 ms
 * rather than 5 s, so that the test of a stuck lease takes little time.
 * Objects stay in this directory.
 */
#define KILL_TIMEOUT_MS 300
#include "agent.c"
