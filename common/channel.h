/*
 * channel.h: typed messages between the master and a worker over a
 * socketpair, optionally carrying file descriptors.
 *
 * Owns: the message types and their wire form.
 */
#ifndef PORTICO_CHANNEL_H
#define PORTICO_CHANNEL_H

#define CHANNEL_MAX_FDS 64

enum channel_msg {
	CHANNEL_REOPEN_LOGS = 1		/* fds: the log files, logfiles order */
};

/* Send a message of type with fds[0..nfds). 0, or -1 with errno set. */
int channel_send(int fd, int type, const int *fds, unsigned nfds);

/*
 * Receive one message: its type, and up to max descriptors into fds with
 * their count in *nfds. Returns the type, 0 when the peer has gone, or -1
 * with errno set (EAGAIN when nothing is waiting).
 */
int channel_recv(int fd, int *fds, unsigned max, unsigned *nfds);

#endif
