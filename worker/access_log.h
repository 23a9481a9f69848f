/*
 * access_log.h: one line per exchange in the site's access log (a log
 * hook): the combined format, then the request time, the upstream
 * address, the termination state, and the upstream connect and response
 * head times.
 *
 * Owns: the worker's write buffers for the access log files, flushed when
 * full, every second, and on exit.
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
