/*
 * master.h: the master process: supervises workers and acts on signals
 * (reload, graceful and fast stop, log reopening, binary upgrade).
 *
 * Owns: the running configuration, its listeners and log files, and the
 * table of worker processes by generation.
 */
#ifndef PORTICO_MASTER_H
#define PORTICO_MASTER_H

#include "conf.h"

/* Where the master reports its verdict on the last reload, for
 * "portico -s reload" to read: "<serial> ok" or "<serial> failed" followed
 * by the errors. */
void master_verdict_path(const struct conf *conf, char *out, size_t outlen);

/* The verdict's first line ("<pid>.<serial> ok|failed") into line[len],
 * and *rest at the errors after it (in a static buffer); -1 if there is
 * no verdict file or no whole line in it. The master removes the file
 * when it exits. */
int master_read_verdict(const char *path, char *line, size_t len, char **rest);

/*
 * Serve conf (loaded from conf_path) until told to stop: bind (or take
 * the sockets an upgrading master passed down), open logs, daemonize
 * unless foreground, fork workers, supervise. exe is the binary a binary
 * upgrade executes. Returns the exit status.
 */
int master_run(struct conf *conf, const char *conf_path, const char *exe, bool foreground);

#endif
