/*
 * process.h: the master's process plumbing: forking workers, becoming a
 * daemon, the pid file.
 */
#ifndef PORTICO_PROCESS_H
#define PORTICO_PROCESS_H

#include <sys/types.h>

#include "worker.h"

/*
 * Fork a worker running args (args->channel_fd is ignored: a new channel
 * is made). Returns the child's pid and sets *channel to the master's end
 * of the channel, or returns -1 with errno set.
 */
pid_t process_spawn_worker(const struct worker_args *args, int *channel);

/* Detach from the terminal: fork, setsid, stdio to /dev/null. The parent
 * exits 0. Returns 0, or -1 with errno set. */
int process_daemonize(void);

/* For each descriptor a previous binary named in the environment
 * variable env ("fd;fd;..."), call adopt; then take env out of the
 * environment (not for our workers, nor for a later upgrade of ours). A
 * malformed list is logged and ends the walk. */
void process_inherit_fds(const char *env, void (*adopt)(int fd));

/* The reverse, for a new binary: name the n descriptors fd_at(items, i)
 * in env, which the new binary inherits (their close-on-exec cleared). */
void process_export_fds(const char *env, const void *items, unsigned n,
			int (*fd_at)(const void *items, unsigned i));

/* Write pid to path atomically; 0, or -1 with errno set. */
int pidfile_write(const char *path, pid_t pid);

/* The pid in path, or -1 with errno set (ENOENT, or EINVAL if garbled). */
pid_t pidfile_read(const char *path);

#endif
