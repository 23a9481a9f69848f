/*
 * process.c: forking, daemonizing, pid files.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>

#include "log.h"
#include "process.h"

static bool in_list(int fd, const int *fds, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (fds[i] == fd)
			return true;
	return false;
}

/* A worker must not hold what it does not use: another worker's channel,
 * a socket the master closes later, a log of an older configuration. */
static void close_other_fds(const struct worker_args *a)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int dfd, fd;

	if (d == NULL)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		fd = atoi(de->d_name);
		if (fd <= STDERR_FILENO || fd == dfd || fd == a->channel_fd ||
		    (a->listen_fds && in_list(fd, a->listen_fds, a->conf->nlistens)) ||
		    in_list(fd, a->logs->fds, a->logs->n))
			continue;
		close(fd);
	}
	closedir(d);
}

pid_t process_spawn_worker(const struct worker_args *args, int *channel)
{
	struct worker_args a = *args;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		a.channel_fd = sv[1];
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		close_other_fds(&a);
		worker_main(&a);
	}
	close(sv[1]);
	*channel = sv[0];
	return pid;
}

int process_daemonize(void)
{
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	if (chdir("/") < 0)
		return -1;
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return -1;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

int pidfile_write(const char *path, pid_t pid)
{
	char tmp[4096], text[32];
	int fd, n, e;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	n = snprintf(text, sizeof(text), "%ld\n", (long)pid);
	if (write(fd, text, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

pid_t pidfile_read(const char *path)
{
	char text[32];
	ssize_t n;
	long pid;
	char *end;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0) {
		errno = EINVAL;
		return -1;
	}
	text[n] = '\0';
	pid = strtol(text, &end, 10);
	if (pid <= 0 || (*end != '\n' && *end != '\0')) {
		errno = EINVAL;
		return -1;
	}
	return (pid_t)pid;
}

void process_inherit_fds(const char *env, void (*adopt)(int fd))
{
	const char *spec = getenv(env);
	char *end;
	long fd;

	if (spec == NULL)
		return;
	while (*spec != '\0') {
		fd = strtol(spec, &end, 10);
		if (end == spec || (*end != ';' && *end != '\0') || fd < 3) {
			log_msg(LL_ERROR, "binary upgrade: bad %s \"%s\"", env, spec);
			break;
		}
		adopt((int)fd);
		spec = *end == ';' ? end + 1 : end;
	}
	unsetenv(env);
}

void process_export_fds(const char *env, const void *items, unsigned n,
			int (*fd_at)(const void *items, unsigned i))
{
	size_t cap = (size_t)n * 12 + 1, len = 0;
	char *spec;
	unsigned i;

	if (n == 0 || (spec = malloc(cap)) == NULL)
		return;
	for (i = 0; i < n; i++) {
		fcntl(fd_at(items, i), F_SETFD, 0);
		len += (size_t)snprintf(spec + len, cap - len, "%d;", fd_at(items, i));
	}
	setenv(env, spec, 1);
	free(spec);
}
