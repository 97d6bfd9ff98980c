/*
 * session_attack - issue 15's isolation of sessions, attacked from the
 * outside: a second client connection of the same lease (so it holds the
 * lease's token, as any process of the lease's owner, or someone who read
 * the lease document, would) that knows the id of another connection's
 * session sends CALL, SAVE, RESTORE and CLOSE requests naming it, and a
 * stateful function outside any session. Built from libfaas's own sources
 * (attack_client.c, attack_lease.c, and session.c here) to send requests
 * the public API never sends. sessions.sh runs it as nobody.
 *
 *   session_attack LEASE
 *
 * Output: TAP lines (no plan; sessions.sh numbers them from FIRST, the
 * environment variable TAP_FIRST). Exit 0 when every defence held.
 */
#include "../../libfaas/session.c"

#include <stdarg.h>
#include <unistd.h>

static int n, failed;

__attribute__((format(printf, 2, 3))) static void result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", n++);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failed += !ok;
}

int main(int argc, char **argv)
{
	struct faas_client_options o = {
	    .timeout_ms = 30000, .connect_timeout_ms = 30000, .depth = 2};
	struct faas_lease *lease;
	struct faas_client *victim, *attacker;
	struct faas_session *s;
	uint64_t add = 5, got = 0, restore[2] = {0, 0};
	size_t len;
	int counter, rc;
	char err[256];

	n = getenv("TAP_FIRST") ? atoi(getenv("TAP_FIRST")) : 1;
	if (argc != 2)
		return 2;
	setenv("FAAS_LEASE", argv[1], 1);
	if (faas_lease_from_env(&lease, err, sizeof(err))) {
		printf("Bail out! %s: %s\n", argv[1], err);
		return 1;
	}
	rc = faas_client_create(lease, &o, &victim);
	rc = rc ? rc : faas_client_create(lease, &o, &attacker);
	if (rc) {
		printf("Bail out! cannot connect two clients to %s: %s\n", argv[1],
		       faas_strerror(rc));
		return 1;
	}
	counter = faas_function(victim, "counter");
	rc = faas_session_open(victim, 0, 4096, &s);
	rc = rc ? rc : faas_session_invoke(s, counter, &add, 8, &got, 8, &len);
	if (rc || got != 5) {
		printf("Bail out! the victim's session: %s\n", faas_strerror(rc));
		return 1;
	}
	/* the attacker names the victim's session id on its own connection */
	rc =
	    client_call_on(attacker, 0, WIRE_OP_CALL, s->id, counter, &add, 8, &got, 8, NULL, &len);
	result(rc == FAAS_ENOSESSION,
	       "as uid %u, a call naming another connection's session id gets FAAS_ENOSESSION (%s)",
	       (unsigned)getuid(), faas_strerror(rc));
	rc = client_call_on(attacker, 0, WIRE_OP_SAVE, s->id, 0, NULL, 0, &got, 8, NULL, &len);
	result(rc == FAAS_ENOSESSION,
	       "a SAVE of it (its state written to the attacker) is refused (%s)",
	       faas_strerror(rc));
	rc = client_call_on(attacker, 0, WIRE_OP_RESTORE, s->id, 0, restore, sizeof(restore), NULL,
			    0, NULL, NULL);
	result(rc == FAAS_ENOSESSION, "a RESTORE into it is refused (%s)", faas_strerror(rc));
	rc = client_call_on(attacker, 0, WIRE_OP_CLOSE, s->id, 0, NULL, 0, NULL, 0, NULL, NULL);
	result(rc == FAAS_ENOSESSION, "a CLOSE of it is refused (%s)", faas_strerror(rc));
	rc = faas_invoke(attacker, counter, &add, 8, &got, 8, &len);
	result(rc == FAAS_ENOSESSION,
	       "a stateful function called outside a session does not run (%s)", faas_strerror(rc));
	add = 1;
	rc = faas_session_invoke(s, counter, &add, 8, &got, 8, &len);
	result(rc == 0 && got == 6,
	       "the victim's session is untouched: its counter goes 5 -> 6 (%s)",
	       faas_strerror(rc));
	faas_session_close(s);
	faas_client_destroy(attacker);
	faas_client_destroy(victim);
	faas_lease_destroy(lease);
	return failed ? 1 : 0;
}
