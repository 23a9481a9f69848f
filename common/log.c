/*
 * log.c: the error log.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "core.h"
#include "log.h"
#include "syslog.h"

static int log_fd_current = -1;		/* the error log, once open */
static struct syslog_dest *log_syslog;	/* ... or where it is sent */
static int log_console = STDERR_FILENO;	/* warnings and worse, or -1 */
static bool console_is_log;		/* the same file: no second copy */
static int log_level_current = LL_INFO;
static char log_role[32] = "";

void log_set_level(int level)
{
	log_level_current = level;
}

void log_set_role(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

int log_open_file(const char *path, gid_t group)
{
	int fd, tries;

	/* O_EXCL tells a file we create, which alone gets our mode and
	 * group: an existing one keeps what the operator or logrotate gave
	 * it. A file removed between the two opens is simply created. */
	for (tries = 0; tries < 3; tries++) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd >= 0) {
			/* Best effort: without the right to, the file keeps our
			 * own group, and is no less usable. */
			if (group != (gid_t)-1) {
				int r = fchown(fd, (uid_t)-1, group);

				(void)r;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -1;
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			return fd;
	}
	/* A dangling symbolic link: O_EXCL never follows it. */
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return a >= 0 && b >= 0 && fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void log_use_fd(int fd)
{
	log_fd_current = fd;
	console_is_log = same_file(log_console, log_fd_current);
}

void log_use_syslog(struct syslog_dest *d)
{
	log_syslog = d;
}

void log_set_console(int fd)
{
	log_console = fd;
	console_is_log = same_file(log_console, log_fd_current);
}

/* A failed log write has nowhere better to be reported. */
static void write_line(int fd, const char *line, size_t n)
{
	ssize_t w = write(fd, line, n);

	(void)w;
}

static void log_write(int level, int err, const char *fmt, va_list ap)
{
	int saved_errno = errno;	/* logging never changes it */
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n, stamp;
	int r;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = stamp = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, " [%s] %ld%s%s: ",
		     log_level_name(level), (long)getpid(),
		     log_role[0] ? " " : "", log_role);
	if (r > 0)
		n += MIN((size_t)r, sizeof(line) - n - 1);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += MIN((size_t)r, sizeof(line) - n - 1);
	if (err) {
		r = snprintf(line + n, sizeof(line) - n, " (%d: %s)", err, strerror(err));
		if (r > 0)
			n += MIN((size_t)r, sizeof(line) - n - 1);
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (log_fd_current >= 0)
		write_line(log_fd_current, line, n);
	if (log_syslog != NULL) {
		syslog_send(log_syslog, level, line + stamp + 1, n - stamp - 2);
		log_syslog_drops(log_syslog);
	}
	if (log_console >= 0 && level <= LL_WARN && !console_is_log)
		write_line(log_console, line, n);
	errno = saved_errno;
}

/* A report that goes to the destination it is about may be dropped in
 * turn: it is then counted in the next one. */
void log_syslog_drops(struct syslog_dest *d)
{
	char report[256];

	if (syslog_drop_report(d, report, sizeof(report)))
		log_msg(LL_WARN, "%s", report);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level_current)
		return;
	va_start(ap, fmt);
	log_write(level, 0, fmt, ap);
	va_end(ap);
}

void log_errno(int level, int err, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level_current)
		return;
	va_start(ap, fmt);
	log_write(level, err, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LL_EMERG, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
