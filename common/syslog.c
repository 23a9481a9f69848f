/*
 * syslog.c: log lines to a syslog receiver, as datagrams.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log_level.h"
#include "syslog.h"

#define REOPEN_INTERVAL 1000		/* ms between attempts to connect */
#define REPORT_INTERVAL 60000		/* ms between reports of drops */

/* Facility codes are positions (RFC 5424, 6.2.1). */
static const char *const facility_names[] = {
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"
};
#define NFACILITIES (int)(sizeof(facility_names) / sizeof(facility_names[0]))

static const char *const month_names[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static uint64_t own_drops;
static uint64_t *drop_counter = &own_drops;

bool syslog_is_dest(const char *spec)
{
	return spec != NULL && strncmp(spec, SYSLOG_PREFIX, strlen(SYSLOG_PREFIX)) == 0;
}

/* ---- the destination text ---- */

static int facility_parse(const char *name)
{
	int i;

	for (i = 0; i < NFACILITIES; i++)
		if (strcmp(name, facility_names[i]) == 0)
			return i;
	return -1;
}

static bool tag_valid(const char *tag)
{
	size_t n = strlen(tag);

	if (n < 1 || n > SYSLOG_TAG_MAX)
		return false;
	return strspn(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_-") == n;
}

/* "unix:PATH", "IPv4[:port]" or "[IPv6][:port]": an address to send to, the
 * port 514 unless given. */
static int server_parse(const char *text, struct syslog_dest *d, char *err, size_t errlen)
{
	char addr[160], why[160];
	const char *bracket = strchr(text, ']');
	bool has_port;

	if (strncmp(text, CONF_UNIX_PREFIX, strlen(CONF_UNIX_PREFIX)) == 0)
		has_port = true;
	else if (text[0] == '[')
		has_port = bracket != NULL && bracket[1] == ':';
	else
		has_port = strchr(text, ':') != NULL;
	if ((size_t)snprintf(addr, sizeof(addr), "%s%s", text,
			     has_port ? "" : ":" SYSLOG_DEFAULT_PORT) >= sizeof(addr)) {
		snprintf(err, errlen, "server \"%s\" is too long", text);
		return -1;
	}
	if (conf_parse_address(addr, &d->addr, &d->addrlen, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "server \"%s\": %s", text, why);
		return -1;
	}
	if (conf_addr_is_any(&d->addr)) {
		snprintf(err, errlen, "server \"%s\": an address to send to is needed", text);
		return -1;
	}
	conf_format_address((const struct sockaddr *)&d->addr, d->server, sizeof(d->server));
	return 0;
}

/* One "name=value" (or "nohostname") of the destination text. */
static int param_parse(const char *name, const char *value, struct syslog_dest *d,
		       char *err, size_t errlen)
{
	if (value == NULL) {
		if (strcmp(name, "nohostname") == 0) {
			d->hostname = false;
			return 0;
		}
		snprintf(err, errlen, "\"%s\": expected name=value", name);
		return -1;
	}
	if (strcmp(name, "server") == 0)
		return server_parse(value, d, err, errlen);
	if (strcmp(name, "facility") == 0) {
		if ((d->facility = facility_parse(value)) >= 0)
			return 0;
		snprintf(err, errlen, "unknown facility \"%s\" (kern, user, mail, daemon, auth, "
			 "syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, audit, alert, clock, "
			 "local0 .. local7)", value);
		return -1;
	}
	if (strcmp(name, "severity") == 0) {
		if ((d->severity = log_level_parse(value)) >= 0)
			return 0;
		snprintf(err, errlen, "unknown severity \"%s\" (emerg, alert, crit, error, warn, "
			 "notice, info, debug)", value);
		return -1;
	}
	if (strcmp(name, "tag") == 0) {
		if (tag_valid(value)) {
			snprintf(d->tag, sizeof(d->tag), "%s", value);
			return 0;
		}
		snprintf(err, errlen, "tag \"%s\": 1 to %d letters, digits, '_' or '-'", value,
			 SYSLOG_TAG_MAX);
		return -1;
	}
	if (strcmp(name, "format") == 0) {
		if (strcmp(value, "bsd") == 0)
			d->format = SYSLOG_BSD;
		else if (strcmp(value, "rfc5424") == 0)
			d->format = SYSLOG_RFC5424;
		else {
			snprintf(err, errlen, "unknown format \"%s\" (bsd, rfc5424)", value);
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown parameter \"%s\" (server, facility, tag, severity, "
		 "format, nohostname)", name);
	return -1;
}

static void dest_defaults(struct syslog_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->facility = 23;		/* local7, as nginx */
	d->severity = LL_INFO;
	d->format = SYSLOG_BSD;
	d->hostname = true;
	snprintf(d->tag, sizeof(d->tag), "%s", "portico");
	d->fd = -1;
}

int syslog_dest_parse(const char *spec, struct syslog_dest *d, char *err, size_t errlen)
{
	char text[1024], *item, *next, *eq;
	const char *seen[8];
	unsigned nseen = 0, i;

	dest_defaults(d);
	if (!syslog_is_dest(spec)) {
		snprintf(err, errlen, "expected \"" SYSLOG_PREFIX "\" and parameters");
		return -1;
	}
	if ((size_t)snprintf(text, sizeof(text), "%s", spec + strlen(SYSLOG_PREFIX)) >=
	    sizeof(text)) {
		snprintf(err, errlen, "syslog destination too long");
		return -1;
	}
	if (server_parse(SYSLOG_DEFAULT_SERVER, d, err, errlen) < 0)
		return -1;
	for (item = text; *text != '\0' && item != NULL; item = next) {
		next = strchr(item, ',');
		if (next != NULL)
			*next++ = '\0';
		eq = strchr(item, '=');
		if (eq != NULL)
			*eq = '\0';
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i], item) == 0) {
				snprintf(err, errlen, "\"%s\" given twice", item);
				return -1;
			}
		if (nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen++] = item;
		if (param_parse(item, eq ? eq + 1 : NULL, d, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* ---- the message ---- */

/* Bytes of msg[len] that fit in room, not splitting a UTF-8 sequence. */
static size_t fit(const char *msg, size_t len, size_t room)
{
	size_t n = len;

	if (n <= room)
		return n;
	n = room;
	while (n > 0 && ((unsigned char)msg[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* The HOSTNAME of RFC 5424: printable ASCII, no spaces, or "-". */
static void host_field(const char *host, bool wanted, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; wanted && host != NULL && host[i] != '\0' && n + 1 < outlen &&
		    n < SYSLOG_HOST_MAX; i++)
		if (host[i] > ' ' && host[i] < 0x7f)
			out[n++] = host[i];
	if (n == 0)
		out[n++] = '-';
	out[n] = '\0';
}

static int header_bsd(const struct syslog_dest *d, int pri, const struct syslog_time *t,
		      const char *host, long pid, char *out, size_t outlen)
{
	const struct tm *tm = &t->tm;
	char h[SYSLOG_HOST_MAX + 1];
	/* Local receivers (journald, rsyslog's socket) read the word after
	 * the time as the tag, as syslog(3) writes it; a network receiver
	 * reads a host there, as RFC 3164 has it. */
	bool with_host = d->hostname && d->addr.ss_family != AF_UNIX;

	host_field(host, with_host, h, sizeof(h));
	return snprintf(out, outlen, "<%d>%s %2d %02d:%02d:%02d %s%s%s[%ld]: ", pri,
			month_names[tm->tm_mon % 12], tm->tm_mday, tm->tm_hour, tm->tm_min,
			tm->tm_sec, with_host ? h : "", with_host ? " " : "", d->tag, pid);
}

static int header_rfc5424(const struct syslog_dest *d, int pri, const struct syslog_time *t,
			  const char *host, long pid, char *out, size_t outlen)
{
	const struct tm *tm = &t->tm;
	long off = tm->tm_gmtoff / 60;
	char h[SYSLOG_HOST_MAX + 1];

	host_field(host, d->hostname, h, sizeof(h));
	return snprintf(out, outlen, "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%03u%c%02ld:%02ld "
			"%s %s %ld - - ", pri, tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
			tm->tm_hour, tm->tm_min, tm->tm_sec, t->ms % 1000, off < 0 ? '-' : '+',
			labs(off) / 60, labs(off) % 60, h, d->tag, pid);
}

size_t syslog_format_message(const struct syslog_dest *d, int severity,
			     const struct syslog_time *t, const char *host, long pid,
			     const char *msg, size_t len, char *out, size_t outlen)
{
	int pri = d->facility * 8 + (severity & 7);
	int h;
	size_t n;

	if (outlen == 0)
		return 0;
	if (d->format == SYSLOG_RFC5424)
		h = header_rfc5424(d, pri, t, host, pid, out, outlen);
	else
		h = header_bsd(d, pri, t, host, pid, out, outlen);
	if (h < 0)
		return 0;
	if ((size_t)h >= outlen)
		return outlen - 1;
	n = fit(msg, len, outlen - (size_t)h);
	memcpy(out + h, msg, n);
	return (size_t)h + n;
}

/* ---- sending ---- */

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 1;
}

/* This machine's name, read once per process. */
static const char *host_name(void)
{
	static char host[SYSLOG_HOST_MAX + 1];

	if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	return host;
}

static void time_now(struct syslog_time *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &t->tm);
	t->ms = (unsigned)(ts.tv_nsec / 1000000);
}

/* A descriptor inherited from the parent is not ours to use or close:
 * the child starts afresh. */
static void adopt(struct syslog_dest *d)
{
	pid_t self = getpid();

	if (d->owner == self)
		return;
	d->owner = self;
	d->fd = -1;
	d->open_at = 0;
	d->unreported = 0;
	d->report_at = 0;
}

/* Connected and ready, or false with d->last_error set; tries to connect
 * at most once per REOPEN_INTERVAL. */
static bool dest_connect(struct syslog_dest *d, uint64_t now)
{
	int fd;

	if (d->fd >= 0)
		return true;
	if (d->open_at != 0 && now - d->open_at < REOPEN_INTERVAL)
		return false;
	d->open_at = now;
	fd = socket(d->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		d->last_error = errno;
		return false;
	}
	if (connect(fd, (const struct sockaddr *)&d->addr, d->addrlen) < 0) {
		d->last_error = errno;
		close(fd);
		return false;
	}
	d->fd = fd;
	return true;
}

static void count_drop(struct syslog_dest *d, int err)
{
	d->last_error = err;
	d->unreported++;
	__atomic_store_n(drop_counter, *drop_counter + 1, __ATOMIC_RELAXED);
}

bool syslog_drop_report(struct syslog_dest *d, char *out, size_t cap)
{
	uint64_t n = d->unreported, now;

	if (n == 0 || (now = monotonic_ms()) < d->report_at)
		return false;
	d->unreported = 0;
	d->report_at = now + REPORT_INTERVAL;
	snprintf(out, cap, "syslog %s: %lu message%s dropped (%d: %s)", d->server,
		 (unsigned long)n, n == 1 ? "" : "s", d->last_error, strerror(d->last_error));
	return true;
}

/* What a failed send says of the socket: the receiver is only busy (keep
 * it), or it went away (connect again later). */
static bool receiver_busy(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EINTR ||
	       err == ENOMEM;
}

void syslog_send(struct syslog_dest *d, int severity, const char *msg, size_t len)
{
	int saved_errno = errno;
	char dgram[SYSLOG_DATAGRAM_MAX];
	struct syslog_time t;
	uint64_t now = monotonic_ms();
	size_t n;

	adopt(d);
	if (!dest_connect(d, now)) {
		count_drop(d, d->last_error);
	} else {
		time_now(&t);
		n = syslog_format_message(d, severity, &t, host_name(), (long)getpid(), msg, len,
					  dgram, sizeof(dgram));
		if (send(d->fd, dgram, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			int err = errno;

			/* Gone: connect again on a later message, but not
			 * sooner than a second after the last try. */
			if (!receiver_busy(err)) {
				close(d->fd);
				d->fd = -1;
			}
			count_drop(d, err);
		}
	}
	errno = saved_errno;
}

void syslog_dest_close(struct syslog_dest *d)
{
	if (d->fd >= 0 && d->owner == getpid())
		close(d->fd);
	d->fd = -1;
	d->open_at = 0;
}

void syslog_count_drops_in(uint64_t *counter)
{
	drop_counter = counter != NULL ? counter : &own_drops;
}
