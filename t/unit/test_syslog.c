/*
 * test_syslog.c: syslog destinations (defaults, servers, facilities,
 * tags, severities, formats, errors) and the two message formats (PRI,
 * time, host, tag, pid, truncation at a character boundary); sending to a
 * unix socket, and what is dropped: counted, reported once, never waited
 * for.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "tap.h"
#include "log.h"
#include "syslog.h"

static struct syslog_dest d;
static char err[256];

static int parse(const char *spec)
{
	err[0] = '\0';
	return syslog_dest_parse(spec, &d, err, sizeof(err));
}

/* Does parsing spec fail with a message holding want? */
static void refused(const char *spec, const char *want)
{
	int r = parse(spec);

	ok(r < 0 && strstr(err, want) != NULL, "\"%s\" refused: %s", spec, err);
}

static void test_defaults(void)
{
	is_int(parse("syslog:"), 0, "syslog: alone");
	is_int(d.addr.ss_family, AF_UNIX, "... a unix socket");
	is_str(((struct sockaddr_un *)&d.addr)->sun_path, "/dev/log", "... /dev/log");
	is_str(d.server, "unix:/dev/log", "... written back");
	is_int(d.facility, 23, "... local7");
	is_int(d.severity, LL_INFO, "... severity info");
	is_int(d.format, SYSLOG_BSD, "... BSD format");
	is_str(d.tag, "portico", "... tag portico");
	ok(d.hostname, "... with a host name");
	is_int(d.fd, -1, "... no socket yet");
	ok(syslog_is_dest("syslog:server=unix:/dev/log"), "a syslog destination");
	ok(!syslog_is_dest("/var/log/syslog"), "a file named syslog is a file");
	ok(!syslog_is_dest(NULL), "nothing is no destination");
}

static void test_servers(void)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&d.addr;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&d.addr;

	is_int(parse("syslog:server=127.0.0.1:5514"), 0, "IPv4 with a port");
	is_int(sin->sin_family, AF_INET, "... IPv4");
	is_int(ntohs(sin->sin_port), 5514, "... port 5514");
	is_str(d.server, "127.0.0.1:5514", "... written back");
	is_int(parse("syslog:server=10.1.2.3"), 0, "IPv4 without a port");
	is_int(ntohs(sin->sin_port), 514, "... port 514");
	is_int(parse("syslog:server=[::1]:5514"), 0, "IPv6 with a port");
	is_int(sin6->sin6_family, AF_INET6, "... IPv6");
	is_int(ntohs(sin6->sin6_port), 5514, "... port 5514");
	is_str(d.server, "[::1]:5514", "... written back");
	is_int(parse("syslog:server=[::1]"), 0, "IPv6 without a port");
	is_int(ntohs(sin6->sin6_port), 514, "... port 514");
	is_int(parse("syslog:server=unix:/run/systemd/journal/syslog"), 0, "another unix socket");
	is_str(d.server, "unix:/run/systemd/journal/syslog", "... written back");
	refused("syslog:server=127.0.0.1:0", "port must be a number from 1 to 65535");
	refused("syslog:server=127.0.0.1:65536", "port must be");
	refused("syslog:server=127.0.0.1:x", "port must be");
	refused("syslog:server=loghost:514", "is not an IP address");
	refused("syslog:server=0.0.0.0:514", "an address to send to is needed");
	refused("syslog:server=unix:dev/log", "must be absolute");
	refused("syslog:server=", "server \"\"");
}

static void test_parameters(void)
{
	is_int(parse("syslog:server=127.0.0.1,facility=kern,tag=a,severity=debug,"
		     "format=rfc5424,nohostname"), 0, "every parameter");
	is_int(d.facility, 0, "... kern is 0");
	is_str(d.tag, "a", "... tag a");
	is_int(d.severity, LL_DEBUG, "... severity debug");
	is_int(d.format, SYSLOG_RFC5424, "... RFC 5424");
	ok(!d.hostname, "... no host name");
	is_int(parse("syslog:facility=daemon"), 0, "facility alone: the default server");
	is_int(d.facility, 3, "... daemon is 3");
	is_str(d.server, "unix:/dev/log", "... /dev/log");
	is_int(parse("syslog:facility=local0"), 0, "local0");
	is_int(d.facility, 16, "... is 16");
	is_int(parse("syslog:facility=cron"), 0, "cron");
	is_int(d.facility, 9, "... is 9, as Linux numbers it");
	is_int(parse("syslog:tag=Portico_2-x"), 0, "tag of letters, digits, '_', '-'");
	is_int(parse("syslog:tag=abcdefghijklmnopqrstuvwxyz012345"), 0, "tag of 32");
	refused("syslog:tag=abcdefghijklmnopqrstuvwxyz0123456", "tag \"abcdefghijklmnopqrstuvwxyz0123456\"");
	refused("syslog:tag=", "1 to 32");
	refused("syslog:tag=a.b", "1 to 32 letters");
	refused("syslog:facility=local8", "unknown facility \"local8\"");
	refused("syslog:facility=", "unknown facility");
	refused("syslog:severity=warning", "unknown severity \"warning\"");
	refused("syslog:format=json", "unknown format \"json\"");
	refused("syslog:server=127.0.0.1,level=info", "unknown parameter \"level\"");
	refused("syslog:tag=a,tag=b", "\"tag\" given twice");
	refused("syslog:hostname", "expected name=value");
	refused("syslog:,", "expected name=value");
	refused("/var/log/x", "expected \"syslog:\"");
}

/* 5 December 2026, 09:04:05.007, at UTC+01:00. */
static void test_time(struct syslog_time *t, long gmtoff)
{
	memset(t, 0, sizeof(*t));
	t->tm.tm_year = 126;
	t->tm.tm_mon = 11;
	t->tm.tm_mday = 5;
	t->tm.tm_hour = 9;
	t->tm.tm_min = 4;
	t->tm.tm_sec = 5;
	t->tm.tm_gmtoff = gmtoff;
	t->ms = 7;
}

static const char *format(int severity, long gmtoff, const char *msg)
{
	static char out[SYSLOG_DATAGRAM_MAX + 1];
	struct syslog_time t;
	size_t n;

	test_time(&t, gmtoff);
	n = syslog_format_message(&d, severity, &t, "web1.example", 4321, msg, strlen(msg),
				  out, SYSLOG_DATAGRAM_MAX);
	out[n] = '\0';
	return out;
}

static void test_formats(void)
{
	parse("syslog:server=unix:/dev/log,facility=local7,tag=px");
	is_str(format(LL_ERROR, 3600, "[error] boom"),
	       "<187>Dec  5 09:04:05 px[4321]: [error] boom",
	       "BSD to a unix socket: no host, as syslog(3)");
	parse("syslog:server=127.0.0.1:514,facility=local7,tag=px");
	is_str(format(LL_INFO, 3600, "hello"),
	       "<190>Dec  5 09:04:05 web1.example px[4321]: hello",
	       "BSD over UDP: with the host");
	parse("syslog:server=127.0.0.1:514,facility=daemon,nohostname");
	is_str(format(LL_WARN, 3600, "hello"),
	       "<28>Dec  5 09:04:05 portico[4321]: hello", "BSD over UDP, nohostname");
	parse("syslog:server=127.0.0.1:514,facility=local7,tag=px,format=rfc5424");
	is_str(format(LL_DEBUG, 3600, "hello"),
	       "<191>1 2026-12-05T09:04:05.007+01:00 web1.example px 4321 - - hello",
	       "RFC 5424, east of Greenwich");
	is_str(format(LL_EMERG, -(5 * 3600 + 30 * 60), "x"),
	       "<184>1 2026-12-05T09:04:05.007-05:30 web1.example px 4321 - - x",
	       "RFC 5424, west of Greenwich, half an hour");
	is_str(format(LL_NOTICE, 0, ""),
	       "<189>1 2026-12-05T09:04:05.007+00:00 web1.example px 4321 - - ",
	       "RFC 5424, UTC, empty message");
	parse("syslog:server=unix:/dev/log,format=rfc5424,nohostname");
	is_str(format(LL_INFO, 0, "m"),
	       "<190>1 2026-12-05T09:04:05.007+00:00 - portico 4321 - - m",
	       "RFC 5424 nohostname: the nil value");
}

static void test_truncation(void)
{
	char msg[3000], out[64];
	struct syslog_time t;
	size_t n, i;

	parse("syslog:server=unix:/dev/log,tag=px");
	memset(msg, 'a', sizeof(msg));
	msg[sizeof(msg) - 1] = '\0';
	is_int(strlen(format(LL_INFO, 0, msg)), SYSLOG_DATAGRAM_MAX,
	       "a long line is cut to a datagram of %d", SYSLOG_DATAGRAM_MAX);
	test_time(&t, 0);
	/* "<190>Dec  5 09:04:05 px[4321]: " is 31 bytes; 31 more, then é */
	snprintf(msg, sizeof(msg), "%s", "0123456789012345678901234567890\xc3\xa9xyz");
	n = syslog_format_message(&d, LL_INFO, &t, "h", 4321, msg, strlen(msg), out, 63);
	is_int(n, 31 + 31, "a two-byte character that does not fit is left out whole");
	for (i = 0; i < n; i++)
		if ((unsigned char)out[i] >= 0x80)
			break;
	is_int(i, n, "... no half of it");
	n = syslog_format_message(&d, LL_INFO, &t, "h", 4321, msg, strlen(msg), out, 64);
	is_int(n, 31 + 33, "... and kept when it fits");
	ok(memcmp(out + 31 + 31, "\xc3\xa9", 2) == 0, "... whole");
	n = syslog_format_message(&d, LL_INFO, &t, "h", 4321, msg, strlen(msg), out, 10);
	is_int(n, 9, "a header longer than the room is cut too");
}

/* The longest header either format makes (a host longer than any, the
 * longest tag, the highest priority and pid) leaves SYSLOG_DATAGRAM_MAX
 * less SYSLOG_HEADER_MAX for the line: access lines are made that long,
 * and must not be cut by the sender. */
static void test_header_max(void)
{
	static const char *const specs[] = {
		"syslog:server=127.0.0.1:514,format=bsd,tag=",
		"syslog:server=127.0.0.1:514,format=rfc5424,tag=",
	};
	char host[400], spec[128], out[SYSLOG_DATAGRAM_MAX];
	struct syslog_time t;
	size_t i, n;

	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	test_time(&t, -(23 * 3600 + 59 * 60));
	t.tm.tm_mday = 31;
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		snprintf(spec, sizeof(spec), "%s%.*s", specs[i], SYSLOG_TAG_MAX,
			 "tttttttttttttttttttttttttttttttttttttttt");
		is_int(parse(spec), 0, "%s", spec);
		d.facility = 23;
		n = syslog_format_message(&d, LL_DEBUG, &t, host, -9223372036854775807L - 1, "",
					  0, out, sizeof(out));
		ok(n <= SYSLOG_HEADER_MAX, "the longest %s header is %zu bytes, at most %d",
		   i ? "RFC 5424" : "BSD", n, SYSLOG_HEADER_MAX);
	}
}

/* A unix datagram receiver bound at path. */
static int receiver(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	size_t len = strlen(path);

	if (len >= sizeof(sun.sun_path))
		exit(255);
	memcpy(sun.sun_path, path, len + 1);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		perror("receiver");
		exit(255);
	}
	return fd;
}

static void test_send(void)
{
	char dir[] = "/tmp/test_syslog.XXXXXX", path[64], spec[256], got[4096], log[4096];
	uint64_t dropped = 0;
	FILE *logf = tmpfile();
	int fd, i, sent;
	ssize_t n;

	if (mkdtemp(dir) == NULL || logf == NULL) {
		perror("test_send");
		exit(255);
	}
	snprintf(path, sizeof(path), "%s/log.sock", dir);
	snprintf(spec, sizeof(spec), "syslog:server=unix:%s,facility=local3,tag=t", path);
	syslog_count_drops_in(&dropped);
	log_use_fd(fileno(logf));
	log_set_console(-1);

	is_int(parse(spec), 0, "a destination in a temporary directory");
	syslog_send(&d, LL_WARN, "nobody there", 12);
	is_int(dropped, 1, "no socket: the message is dropped and counted");
	log_syslog_drops(&d);
	n = pread(fileno(logf), log, sizeof(log) - 1, 0);
	log[n > 0 ? n - 1 : 0] = '\0';
	ok(strstr(log, "[warn]") && strstr(log, "syslog unix:") &&
	   strstr(log, ": 1 message dropped (2: No such file or directory)"),
	   "... and reported in the error log: %s", log);
	syslog_send(&d, LL_WARN, "still not", 9);
	is_int(dropped, 2, "... each time");
	fd = receiver(path);
	syslog_dest_close(&d);
	syslog_send(&d, LL_ERROR, "hello", 5);
	n = recv(fd, got, sizeof(got) - 1, 0);
	got[n > 0 ? n : 0] = '\0';
	ok(n >= 13 && strncmp(got, "<155>", 5) == 0 && strstr(got, " t[") != NULL &&
	   memcmp(got + n - 8, "]: hello", 8) == 0,
	   "a receiver there (connected again after a close): the message arrives: %s", got);
	is_int(dropped, 2, "... not counted as dropped");
	for (i = 0, sent = 0; i < 5000 && dropped == 2; i++, sent++)
		syslog_send(&d, LL_INFO, "fill", 4);
	ok(dropped == 3, "a receiver that does not read: its queue fills, the next message is "
	   "dropped without waiting (after %d)", sent);
	close(fd);
	syslog_send(&d, LL_INFO, "gone", 4);
	is_int(dropped, 4, "a receiver that went away: dropped");
	syslog_dest_close(&d);
	unlink(path);
	rmdir(dir);
	log_use_fd(-1);
	fclose(logf);
	syslog_count_drops_in(NULL);
}

int main(void)
{
	test_defaults();
	test_servers();
	test_parameters();
	test_formats();
	test_truncation();
	test_header_max();
	test_send();
	return done_testing();
}
