/*
 * detach: see detach.h. Owns nothing after detach_end: the pipe's ends
 * are closed in each process as soon as it no longer needs them.
 */
#include "config.h"

#include "detach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The parent: waits for the daemon's verdict and exits with it. */
static void wait_for_daemon(int rfd, pid_t child)
{
	unsigned char status = 1;
	ssize_t n;

	do
		n = read(rfd, &status, 1);
	while (n < 0 && errno == EINTR);
	waitpid(child, NULL, 0); /* the child in between, gone at once */
	if (n != 1)
		fprintf(stderr, "colocd: the daemon exited while starting; see the messages above "
				"or its log\n");
	_exit(n == 1 ? status : 1);
}

int detach_begin(void)
{
	int p[2], rc;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (pid > 0) {
		close(p[1]);
		wait_for_daemon(p[0], pid);
	}
	close(p[0]);
	if (setsid() < 0)
		_exit(1);
	/* not a session leader: the daemon never gets a controlling terminal */
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		_exit(1);
	umask(022);
	return p[1];
}

void detach_end(int fd, int status)
{
	unsigned char b = (unsigned char)status;
	int null;

	if (fd < 0)
		return;
	if (status == 0) {
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			if (null > STDERR_FILENO)
				close(null);
		}
	}
	while (write(fd, &b, 1) < 0 && errno == EINTR)
		;
	close(fd);
}
