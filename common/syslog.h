/*
 * syslog.h: log lines sent to a syslog receiver, as datagrams.
 *
 * Owns: the destination syntax (nginx's: "syslog:server=unix:/dev/log,
 * facility=local7,tag=portico,severity=info,format=bsd"), the two message
 * formats (BSD, RFC 3164 as local syslog(3) writes it, and RFC 5424), the
 * socket of each destination in each process, and the counting of what
 * could not be sent.
 *
 * Sending never waits: the socket is non-blocking, one line is one
 * datagram, and a datagram the receiver cannot take now (its queue is
 * full, it is gone, it was never there) is dropped and counted, never
 * retried. A destination whose receiver went away (a syslog daemon that
 * restarted) is connected again on a later message, at most once a
 * second. Drops are counted where syslog_count_drops_in() says, and
 * reported in the error log at most once a minute per destination.
 *
 * A destination's socket belongs to the process that opened it: a forked
 * child finds the descriptor is not its own and opens its own on its
 * first message (after dropping privileges: /dev/log is writable by all).
 */
#ifndef PORTICO_SYSLOG_H
#define PORTICO_SYSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/types.h>

#define SYSLOG_PREFIX "syslog:"
#define SYSLOG_TAG_MAX 32
/* A datagram at most: what RFC 5426 asks every receiver to take, and well
 * under what rsyslog, syslog-ng and journald accept; longer lines are cut. */
#define SYSLOG_DATAGRAM_MAX 2048
#define SYSLOG_DEFAULT_SERVER "unix:/dev/log"
#define SYSLOG_DEFAULT_PORT "514"
#define SYSLOG_HOST_MAX 255		/* RFC 5424's HOSTNAME */
/* A message's header at most, in either format: priority, time, a host
 * of SYSLOG_HOST_MAX, a tag of SYSLOG_TAG_MAX and a pid (RFC 5424's is
 * the longer, some 350 bytes). A line of SYSLOG_DATAGRAM_MAX less this
 * is never cut by the sender. */
#define SYSLOG_HEADER_MAX 384

enum syslog_format {
	SYSLOG_BSD,			/* <PRI>Mmm dd hh:mm:ss [HOST ]TAG[PID]: MSG */
	SYSLOG_RFC5424			/* <PRI>1 TIMESTAMP HOST TAG PID - - MSG */
};

struct syslog_dest {
	/* where and how, from the destination text */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char server[128];		/* the address as written back */
	int facility;			/* 0 (kern) .. 23 (local7) */
	int severity;			/* of lines that have none (access logs) */
	enum syslog_format format;
	bool hostname;			/* BSD over UDP only; false: nohostname */
	char tag[SYSLOG_TAG_MAX + 1];
	/* this process's socket and what it had to drop */
	int fd;				/* -1: none yet, or closed */
	pid_t owner;			/* the process that opened fd */
	uint64_t open_at;		/* monotonic ms of the last open */
	int last_error;			/* errno of the last drop */
	uint64_t unreported;		/* drops not yet in the error log */
	uint64_t report_at;		/* monotonic ms: no report before */
};

/* The time fields a message carries, taken by the caller (pure formats). */
struct syslog_time {
	struct tm tm;			/* local time, tm_gmtoff set */
	unsigned ms;
};

/* True when a log destination names syslog rather than a file. */
bool syslog_is_dest(const char *spec);

/*
 * Parse a destination: "syslog:" and then comma-separated parameters,
 * server=unix:PATH|IPv4[:port]|[IPv6][:port] (default unix:/dev/log, port
 * 514), facility=NAME (default local7), tag=NAME (1 to 32 letters, digits,
 * '_' or '-'; default "portico"), severity=LEVEL (default info),
 * format=bsd|rfc5424 (default bsd), nohostname. Returns 0, or -1 with a
 * message in err[errlen]. d gets no socket yet.
 */
int syslog_dest_parse(const char *spec, struct syslog_dest *d, char *err, size_t errlen);

/*
 * One message as a datagram into out[outlen] (at most SYSLOG_DATAGRAM_MAX
 * is useful): header for facility, severity (0 emerg .. 7 debug), time,
 * host, d's tag, pid; then msg[len], cut at a character boundary to fit.
 * Returns the length written. Pure: the caller gives every input.
 */
size_t syslog_format_message(const struct syslog_dest *d, int severity,
			     const struct syslog_time *t, const char *host, long pid,
			     const char *msg, size_t len, char *out, size_t outlen);

/*
 * Send one log line (msg[len], without its newline) to d at severity
 * (0 .. 7; d->severity for lines that have none). Never blocks; what
 * cannot be sent now is dropped and counted.
 */
void syslog_send(struct syslog_dest *d, int severity, const char *msg, size_t len);

/*
 * When d dropped messages and no report was made for a minute: the report
 * ("syslog ADDRESS: N messages dropped (errno: text)") into out[cap], and
 * true; the caller logs it.
 */
bool syslog_drop_report(struct syslog_dest *d, char *out, size_t cap);

/* Close d's socket if this process opened it; the next message opens it
 * again (the logs are reopened, or d goes away). */
void syslog_dest_close(struct syslog_dest *d);

/* Where this process counts dropped messages from now on (its stats
 * record's syslog_dropped, written with one writer's atomic stores); NULL:
 * a counter of its own. */
void syslog_count_drops_in(uint64_t *counter);

#endif
