/*
 * log.h: the error log. One line per event: time, level, pid, message.
 *
 * Owns: the error log's file descriptor and level, and the console.
 * Lines are written with one write(2) to an O_APPEND file, so master and
 * workers can share the file without interleaving. The console (stderr
 * unless told otherwise) shows warnings and worse only: before a file is
 * opened, those alone are written, to the console; once it is open, every
 * line goes to the file and warnings and worse to the console as well,
 * until the master, started, turns the console off. An error log sent to
 * syslog (log_use_syslog) takes the place of the file: each line goes as
 * one message, without its time (the message has its own), at the
 * severity of its level.
 */
#ifndef PORTICO_LOG_H
#define PORTICO_LOG_H

#include <stdarg.h>
#include <sys/types.h>

#include "log_level.h"

void log_set_level(int level);

/* Tag written after the pid, e.g. "master" or "worker 2". */
void log_set_role(const char *role);

/*
 * Open path for appending. A file it creates is mode 0640 (less the
 * umask) and, unless group is (gid_t)-1, given that group; an existing
 * file keeps its owner and mode. Returns the new descriptor or -1 with
 * errno set; the caller reports the failure.
 */
int log_open_file(const char *path, gid_t group);

/* Make fd the error log. The caller owns fd and closes the previous one. */
void log_use_fd(int fd);

struct syslog_dest;

/* Send every line to d instead of (or, with log_use_fd, besides) a file;
 * NULL: to syslog no more. d is borrowed: the caller keeps it until it
 * names another. */
void log_use_syslog(struct syslog_dest *d);

/* Say in the error log what d had to drop, when a report is due (at most
 * once a minute): for every sender to d, after it sent. */
void log_syslog_drops(struct syslog_dest *d);

/* Show warnings and worse on fd as well (-1: nowhere), unless fd is the
 * error log itself (a stderr redirected to it gets no second copy). */
void log_set_console(int fd);

void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* As log_msg, with " (errno: strerror)" appended. */
void log_errno(int level, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Log at LL_EMERG and exit(1): for what cannot go on. */
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
