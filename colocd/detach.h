/*
 * detach: colocd's start in the background, as munged's: the process
 * started by the administrator (or an init script) waits until the daemon
 * has loaded its configuration and opened its sockets, and exits with the
 * daemon's verdict, so that "colocd -f bad.conf" fails there and then, its
 * error on standard error, instead of exiting 0 and dying unseen.
 *
 *   colocd (parent)          child                 daemon (grandchild)
 *     pipe, fork ------------> setsid, fork -------> chdir /, umask 022
 *     read(pipe) ...           exit 0                setup (errors on stderr)
 *     <--------------------------------------------- detach_end: 1 status byte
 *     exit(status)                                   stdin/out/err -> /dev/null
 *
 * A daemon that dies before detach_end closes the pipe: the parent exits 1.
 */
#ifndef COLOC_DETACH_H
#define COLOC_DETACH_H

/* Returns in the daemon only: the pipe's write end for detach_end, or
 * -errno (fork or pipe failed; nothing detached). The parent waits and
 * exits; the child in between exits. */
int detach_begin(void);

/* Tells the waiting parent the setup's exit status (0: running) and closes
 * fd; with status 0, points the standard streams at /dev/null. fd < 0: no-op. */
void detach_end(int fd, int status);

#endif
