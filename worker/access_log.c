/*
 * access_log.c: buffered access log lines.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "event.h"
#include "session.h"
#include "access_log.h"
#include "worker.h"

#define ACCESS_BUF_SIZE 65536
#define ACCESS_LINE_MAX 4096

struct access_file {
	int fd;
	size_t len;
	char *buf;
};

static struct access_file *files;	/* indexed like the logfiles set */
static unsigned nfiles;
static int *site_file;			/* conf site index -> file, or -1 */
static struct ev_timer flush_timer;

static void flush_file(struct access_file *f)
{
	size_t off = 0;

	while (off < f->len) {
		ssize_t n = write(f->fd, f->buf + off, f->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_errno(LL_ERROR, errno, "write() to an access log failed, %zu bytes lost",
				  f->len - off);
			break;
		}
		off += (size_t)n;
	}
	f->len = 0;
}

void access_log_flush(void)
{
	unsigned i;

	for (i = 0; i < nfiles; i++)
		if (files[i].len)
			flush_file(&files[i]);
}

static void flush_timeout(struct ev_timer *t)
{
	(void)t;
	access_log_flush();
}

int access_log_init(struct logfiles *lf)
{
	const struct conf *conf = worker_conf;
	unsigned i;

	nfiles = lf->n;
	files = calloc(nfiles, sizeof(*files));
	site_file = calloc(conf->nsites ? conf->nsites : 1, sizeof(*site_file));
	if (files == NULL || site_file == NULL)
		return -1;
	for (i = 0; i < nfiles; i++)
		files[i].fd = lf->fds[i];
	for (i = 0; i < conf->nsites; i++) {
		const char *path = conf->sites[i].access_log;

		site_file[i] = path ? logfiles_index(lf, path) : -1;
		if (site_file[i] >= 0 && files[site_file[i]].buf == NULL &&
		    (files[site_file[i]].buf = malloc(ACCESS_BUF_SIZE)) == NULL)
			return -1;
	}
	flush_timer.cb = flush_timeout;
	return 0;
}

void access_log_replace_fds(const int *fds)
{
	unsigned i;

	access_log_flush();
	for (i = 0; i < nfiles; i++)
		files[i].fd = fds[i];
}

/* "[25/Nov/2026:10:00:00 +0000]", formatted once per second. */
static const char *time_local(void)
{
	static char text[40];
	static time_t cached;
	time_t now = time(NULL);
	struct tm tm;

	if (now != cached) {
		cached = now;
		localtime_r(&now, &tm);
		strftime(text, sizeof(text), "%d/%b/%Y:%H:%M:%S %z", &tm);
	}
	return text;
}

static const char *or_dash(const char *s)
{
	return s && s[0] ? s : "-";
}

void access_log_write(const struct session *s)
{
	const struct exchange *x = s->x;
	struct access_file *f;
	char line[ACCESS_LINE_MAX];
	uint64_t ms;
	int idx, n;

	if (x->site == NULL)
		return;
	idx = site_file[x->site - worker_conf->sites];
	if (idx < 0)
		return;
	f = &files[idx];
	ms = ev_now() - x->start_ms;
	n = snprintf(line, sizeof(line),
		     "%s - - [%s] \"%s\" %d %llu \"%s\" \"%s\" %llu.%03llu %s\n",
		     s->peer, time_local(), or_dash(x->request_line), x->status,
		     (unsigned long long)x->resp_pump.body_out, or_dash(x->referer),
		     or_dash(x->user_agent), (unsigned long long)(ms / 1000),
		     (unsigned long long)(ms % 1000), or_dash(x->upstream_addr));
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (f->len + (size_t)n > ACCESS_BUF_SIZE)
		flush_file(f);
	memcpy(f->buf + f->len, line, (size_t)n);
	f->len += (size_t)n;
	if (!ev_timer_armed(&flush_timer))
		ev_timer_set(&flush_timer, 1000);
}
