/*
 * logfiles.h: the set of log files a configuration writes: the error log
 * and each distinct access log path (of access_log and log sections).
 *
 * Owns: opening them (by the master, as root, so the workers never need
 * to open a path), the mode and group of those it creates (0640, group
 * LOG_GROUP when it exists, as logrotate makes them), and the order in
 * which their descriptors travel to workers when they are reopened. An
 * error log sent to syslog is no file: the set holds its destination
 * instead, whose socket each process opens for itself, and so do access
 * logs sent to syslog.
 */
#ifndef PORTICO_LOGFILES_H
#define PORTICO_LOGFILES_H

#include "conf.h"

#define LOG_GROUP "adm"

struct syslog_dest;

struct logfiles {
	unsigned n;		/* [0] is the error log (unless it goes to
				 * syslog), then access logs */
	char **paths;		/* borrowed from the conf */
	int *fds;
	unsigned nsyslogs;	/* each distinct syslog destination, once: */
	const char **syslog_specs;	/* as written, borrowed from the conf */
	struct syslog_dest *syslogs;
	struct syslog_dest *error_syslog;	/* the error log's, or NULL */
};

/*
 * Open every log file of conf. On failure returns NULL and writes
 * "open() "path" failed (errno: text)" into err[errlen].
 */
struct logfiles *logfiles_open(const struct conf *conf, char *err, size_t errlen);

/* Open the same paths again into fds[0..lf->n); 0, or -1 with err set
 * (and nothing left open). */
int logfiles_reopen(const struct logfiles *lf, int *fds, char *err, size_t errlen);

/* The error log's descriptor in lf, -1 when it goes to syslog. */
int logfiles_error_fd(const struct logfiles *lf);

/* The syslog destination written spec in lf, or NULL. */
struct syslog_dest *logfiles_syslog(const struct logfiles *lf, const char *spec);

/* Close this process's syslog sockets (after a fork, or to reconnect:
 * each reopens on its next message). */
void logfiles_close_syslogs(const struct logfiles *lf);

/* Position of path in lf, or -1. */
int logfiles_index(const struct logfiles *lf, const char *path);

/* Close the descriptors and free the set. */
void logfiles_free(struct logfiles *lf);

#endif
