/*
 * worker.h: a worker process: drops privileges, then serves connections
 * from the shared listeners in an event loop until told to stop.
 *
 * Owns: the worker's main loop, its listeners and control channel, and
 * graceful or fast exit.
 */
#ifndef PORTICO_WORKER_H
#define PORTICO_WORKER_H

#include "conf.h"
#include "logfiles.h"

struct worker_args {
	const struct conf *conf;
	unsigned index;			/* 0..workers-1 */
	int channel_fd;			/* master <-> this worker */
	const int *listen_fds;		/* one per conf->listens[i] */
	struct logfiles *logs;
};

/* Run the worker in the current (freshly forked) process; never returns. */
void worker_main(const struct worker_args *args) __attribute__((noreturn));

/* The configuration this worker serves. */
extern const struct conf *worker_conf;

#endif
