/*
 * access_log.h: one line per exchange in the site's access log: the
 * combined format, then request time and upstream address.
 *
 * Owns: the worker's write buffers for the access log files, flushed when
 * full, every second, and on exit.
 */
#ifndef PORTICO_ACCESS_LOG_H
#define PORTICO_ACCESS_LOG_H

#include "logfiles.h"

struct session;

/* Start buffering for the files of lf (inherited from the master). */
int access_log_init(struct logfiles *lf);

void access_log_write(const struct session *s);

/* Write out everything buffered. */
void access_log_flush(void);

/* New descriptors for the files of lf, in its order (after a reopen). */
void access_log_replace_fds(const int *fds);

#endif
