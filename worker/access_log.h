/*
 * access_log.h: the lines of an exchange in its site's access logs (a
 * log hook): access_log in access_log_format, and each log section in
 * its format when its conditions (only_errors, sample, if) hold. Formats
 * are compiled at load (conf_log.c); a line is written straight into its
 * file's buffer, and a variable's value is made only when a format names
 * it.
 *
 * Owns: the worker's write buffers for the access log files (one per
 * file, whichever logs and sites write to it), flushed when full, every
 * second, and on exit; a failing file's error, logged once until a write
 * succeeds again.
 */
#ifndef PORTICO_ACCESS_LOG_H
#define PORTICO_ACCESS_LOG_H

#include "logfiles.h"
#include "module.h"

/* The module: its init starts buffering for the files of ctx->logs
 * (inherited from the master). */
extern const struct module access_log_module;

/* Write out everything buffered. */
void access_log_flush(void);

/* New descriptors for the files of lf, in its order (after a reopen). */
void access_log_replace_fds(const int *fds);

#endif
