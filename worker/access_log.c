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
#include "access_log.h"

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
static const struct conf_site *sites;	/* of the configuration served */
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

static int access_log_init(const struct worker_ctx *ctx)
{
	const struct conf *conf = ctx->conf;
	const struct logfiles *lf = ctx->logs;
	unsigned i;

	nfiles = lf->n;
	files = calloc(nfiles ? nfiles : 1, sizeof(*files));
	site_file = calloc(conf->nsites ? conf->nsites : 1, sizeof(*site_file));
	if (files == NULL || site_file == NULL)
		return -1;
	sites = conf->sites;
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

/* Seconds with milliseconds, "-" for a time not reached. */
static const char *seconds(char *out, size_t cap, uint64_t us)
{
	if (us == 0)
		return "-";
	snprintf(out, cap, "%llu.%03llu", (unsigned long long)(us / 1000000),
		 (unsigned long long)(us / 1000 % 1000));
	return out;
}

static void write_line(const struct exchange *x)
{
	struct access_file *f;
	char line[ACCESS_LINE_MAX], total[24], connect[24], header[24], term[3];
	int idx, n;

	if (x->site == NULL)
		return;
	idx = site_file[x->site - sites];
	if (idx < 0)
		return;
	f = &files[idx];
	exchange_term_code(x, term);
	n = snprintf(line, sizeof(line),
		     "%s - %s [%s] \"%s\" %d %llu \"%s\" \"%s\" %s %s %s %s %s %s %s\n",
		     x->client.addr, or_dash(x->auth_user), time_local(), or_dash(x->request_line), x->status,
		     (unsigned long long)x->resp_pump.body_out, or_dash(x->referer),
		     or_dash(x->user_agent),
		     seconds(total, sizeof(total), MAX(ev_now_us() - x->start_us, (uint64_t)1)),
		     or_dash(x->upstream_addr), term,
		     seconds(connect, sizeof(connect), x->connect_us),
		     seconds(header, sizeof(header), x->header_us), or_dash(x->cache_result),
		     or_dash(x->refused_by));
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

const struct module access_log_module = {
	.name = "access_log",
	.init = access_log_init,
	.log = write_line,
};
