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
#include <sys/time.h>

#include "core.h"
#include "log.h"

static const char *const level_names[] = {
	"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"
};

static int log_fd_current = STDERR_FILENO;
static int log_level_current = LL_INFO;
static char log_role[32] = "";

int log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < LL_EMERG || level > LL_DEBUG)
		return "?";
	return level_names[level];
}

void log_set_level(int level)
{
	log_level_current = level;
}

void log_set_role(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

int log_open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void log_use_fd(int fd)
{
	log_fd_current = fd;
}

static void log_write(int level, int err, const char *fmt, va_list ap)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int r;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, " [%s] %ld%s%s: ",
		     level_names[level], (long)getpid(),
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
	/* A failed log write has nowhere better to be reported. */
	if (write(log_fd_current, line, n) < 0)
		return;
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
