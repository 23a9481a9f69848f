/*
 * access_log.c: access log lines, written by each site's logs in their
 * formats, straight into the buffer of their destination.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_escape.h"
#include "event.h"
#include "access_log.h"
#include "request_id.h"
#include "syslog.h"

#define ACCESS_BUF_SIZE 65536
#define ACCESS_LINE_MAX 8192

struct access_file {
	int fd;
	size_t len;
	char *buf;
	const char *path;
	bool failing;			/* the last write failed, and said so */
};

/*
 * Where a log's lines go. A file's line is written in its buffer; a
 * syslog destination's is rendered on the stack and sent as one datagram
 * at once, in log_emit().
 */
enum dest_kind { DEST_FILE, DEST_SYSLOG };
struct log_dest {
	enum dest_kind kind;
	struct access_file *file;	/* DEST_FILE */
	struct syslog_dest *syslog;	/* DEST_SYSLOG */
};

static struct access_file *files;	/* indexed like the logfiles set */
static unsigned nfiles;
static struct log_dest **site_dests;	/* conf site index -> one per log */
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
			/* Once until a write works again: a full disk must not
			 * fill the error log too, one line a second. */
			if (!f->failing)
				log_errno(LL_ERROR, n < 0 ? errno : ENOSPC, "write() to the access log "
					  "\"%s\" failed, its lines are lost until a write succeeds",
					  f->path);
			f->failing = true;
			f->len = 0;
			return;
		}
		off += (size_t)n;
	}
	if (f->failing)
		log_msg(LL_NOTICE, "writing to the access log \"%s\" works again", f->path);
	f->failing = false;
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

/* The destination of log l into d; -1 when out of memory. */
static int dest_of(const struct logfiles *lf, const struct conf_log *l, struct log_dest *d)
{
	int idx;

	if ((d->syslog = logfiles_syslog(lf, l->destination)) != NULL) {
		d->kind = DEST_SYSLOG;
		return 0;
	}
	if ((idx = logfiles_index(lf, l->destination)) < 0)
		return -1;
	d->kind = DEST_FILE;
	d->file = &files[idx];
	if (d->file->buf == NULL && (d->file->buf = malloc(ACCESS_BUF_SIZE)) == NULL)
		return -1;
	return 0;
}

static int access_log_init(const struct worker_ctx *ctx)
{
	const struct conf *conf = ctx->conf;
	const struct logfiles *lf = ctx->logs;
	unsigned i, k;

	nfiles = lf->n;
	files = calloc(nfiles ? nfiles : 1, sizeof(*files));
	site_dests = calloc(conf->nsites ? conf->nsites : 1, sizeof(*site_dests));
	if (files == NULL || site_dests == NULL)
		return -1;
	sites = conf->sites;
	for (i = 0; i < nfiles; i++) {
		files[i].fd = lf->fds[i];
		files[i].path = lf->paths[i];
	}
	for (i = 0; i < conf->nsites; i++) {
		const struct conf_site *s = &conf->sites[i];

		if (s->nlogs == 0)
			continue;
		if ((site_dests[i] = calloc(s->nlogs, sizeof(**site_dests))) == NULL)
			return -1;
		for (k = 0; k < s->nlogs; k++)
			if (dest_of(lf, &s->logs[k], &site_dests[i][k]) < 0)
				return -1;
	}
	flush_timer.cb = flush_timeout;
	return 0;
}

void access_log_replace_fds(const int *fds)
{
	unsigned i;

	access_log_flush();
	for (i = 0; i < nfiles; i++) {
		files[i].fd = fds[i];
		files[i].failing = false;
	}
}

/* ---- the values of the log's own variables ---- */

/* What one exchange's lines share, made as a format first asks. */
struct line_ctx {
	const struct exchange *x;
	struct var_source src;
	bool have_src;
	uint64_t now_us;		/* the event loop's clock */
};

/* "05/Dec/2026:10:00:00 +0000" and "2026-12-05T10:00:00+00:00", made
 * once a second. */
static struct slice time_text(bool iso)
{
	static char local[40], iso8601[40];
	static size_t local_len, iso_len;
	static time_t cached;
	time_t now = time(NULL);
	struct tm tm;

	if (now != cached) {
		cached = now;
		localtime_r(&now, &tm);
		local_len = strftime(local, sizeof(local), "%d/%b/%Y:%H:%M:%S %z", &tm);
		iso_len = strftime(iso8601, sizeof(iso8601), "%Y-%m-%dT%H:%M:%S%z", &tm);
		if (iso_len == 24) {	/* +0000 -> +00:00 */
			memmove(iso8601 + 23, iso8601 + 22, 2);
			iso8601[22] = ':';
			iso_len = 25;
		}
	}
	return iso ? (struct slice){ iso8601, iso_len } : (struct slice){ local, local_len };
}

#define SCRATCH 48

static struct slice number(char *out, unsigned long long v)
{
	return (struct slice){ out, (size_t)snprintf(out, SCRATCH, "%llu", v) };
}

/* Seconds with milliseconds; empty for a time not reached (0). */
static struct slice seconds(char *out, uint64_t us)
{
	if (us == 0)
		return (struct slice){ NULL, 0 };
	return (struct slice){ out, (size_t)snprintf(out, SCRATCH, "%llu.%03llu",
						     (unsigned long long)(us / 1000000),
						     (unsigned long long)(us / 1000 % 1000)) };
}

static struct slice msec(char *out)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (struct slice){ out, (size_t)snprintf(out, SCRATCH, "%lld.%03ld",
						     (long long)ts.tv_sec, ts.tv_nsec / 1000000) };
}

static struct slice cstr_or_empty(const char *s)
{
	return s ? (struct slice){ s, strlen(s) } : (struct slice){ NULL, 0 };
}

/* A log variable's value (from KEY_LOG_FIRST on), made in out[SCRATCH]. */
static struct slice log_value(enum conf_key_var var, struct line_ctx *lc, char *out)
{
	const struct exchange *x = lc->x;
	bool upstream = x->upstream_addr != NULL;

	switch (var) {
	case KEY_STATUS:
		return number(out, (unsigned long long)x->status);
	case KEY_BODY_BYTES_SENT:
		return number(out, x->resp_pump.body_out);
	case KEY_BYTES_SENT:
		return number(out, x->resp_pump.sent);
	case KEY_REQUEST_LENGTH:
		return number(out, x->req.head_len + x->req_pump.taken);
	case KEY_REQUEST_TIME:
		return seconds(out, MAX(lc->now_us - x->start_us, (uint64_t)1));
	case KEY_MSEC:
		return msec(out);
	case KEY_TIME_LOCAL:
		return time_text(false);
	case KEY_TIME_ISO8601:
		return time_text(true);
	case KEY_REQUEST:
		return cstr_or_empty(x->request_line);
	case KEY_UPSTREAM_ADDR:
		return cstr_or_empty(x->upstream_addr);
	case KEY_UPSTREAM_CONNECT_TIME:
		return seconds(out, x->connect_us);
	case KEY_UPSTREAM_HEADER_TIME:
		return seconds(out, x->header_us);
	case KEY_UPSTREAM_RESPONSE_TIME:
		return upstream && x->up.try_start_us != 0 ?
		       seconds(out, MAX(lc->now_us - x->up.try_start_us, (uint64_t)1)) :
		       (struct slice){ NULL, 0 };
	case KEY_UPSTREAM_STATUS:
		return upstream && x->resp.status > 0 ? number(out, (unsigned long long)x->resp.status)
						      : (struct slice){ NULL, 0 };
	case KEY_TERMINATION:
		exchange_term_code(x, out);
		return (struct slice){ out, 2 };
	case KEY_CACHE_STATUS:
		return cstr_or_empty(x->cache_result);
	case KEY_LIMIT:
		return cstr_or_empty(x->refused_by);
	case KEY_AUTH_USER:
		return cstr_or_empty(x->auth_user);
	default:
		return (struct slice){ NULL, 0 };
	}
}

/* Variables whose values are numbers: in JSON lines written bare, and
 * null when they have none. */
static bool is_number(enum conf_key_var var)
{
	return var == KEY_STATUS || var == KEY_BODY_BYTES_SENT || var == KEY_BYTES_SENT ||
	       var == KEY_REQUEST_LENGTH || var == KEY_REQUEST_TIME || var == KEY_MSEC ||
	       var == KEY_UPSTREAM_CONNECT_TIME || var == KEY_UPSTREAM_HEADER_TIME ||
	       var == KEY_UPSTREAM_RESPONSE_TIME || var == KEY_UPSTREAM_STATUS;
}

static struct slice part_value(const struct conf_key_part *kp, struct line_ctx *lc, char *out)
{
	if (kp->var >= KEY_LOG_FIRST)
		return log_value(kp->var, lc, out);
	if (!lc->have_src) {
		lc->src = exchange_vars(lc->x);
		lc->have_src = true;
	}
	return var_value(kp, &lc->src, out);
}

/* What a string value keeps of its own however long the values before
 * it, when the line has room for it: a request line's method and path. */
#define VALUE_SHARE 64

/* The bytes part kp always gets in a line, however long the values
 * before it: its text, a number, or share of a string (at least the "-"
 * of an empty one). */
static size_t part_reserve(const struct conf_key_part *kp, enum conf_log_escape mode,
			   size_t share)
{
	if (kp->var == KEY_TEXT)
		return kp->name_len;
	if (is_number(kp->var))
		return SCRATCH;
	return MAX(share, (size_t)(mode != LOG_ESCAPE_JSON));
}

/* The share of each string value that the parts of e can all reserve in
 * cap: VALUE_SHARE, else none; -1 when even their text does not fit. What
 * they reserve with it into *reserve. */
static long line_share(const struct conf_expr *e, enum conf_log_escape mode, size_t cap,
		       size_t *reserve)
{
	size_t want = 0, need = 0;
	unsigned k;

	for (k = 0; k < e->nparts; k++) {
		want += part_reserve(&e->parts[k], mode, VALUE_SHARE);
		need += part_reserve(&e->parts[k], mode, 0);
	}
	*reserve = want <= cap ? want : need <= cap ? need : 0;
	return want <= cap ? VALUE_SHARE : need <= cap ? 0 : -1;
}

/* How much of v, kept escaped (\xHH) already, to write in room bytes
 * without cutting an escape in two. */
static size_t whole_escapes(struct slice v, size_t room)
{
	size_t i;

	for (i = room; i > 0 && i + 3 > room; i--)
		if (v.p[i - 1] == '\\')
			return i - 1;
	return room;
}

/*
 * The line of format f into out[cap] (no newline): literal text as it
 * is, values escaped, "-" for an empty one (nothing in JSON, null for a
 * number). $request is kept escaped already (\xHH) by the session: it
 * is written as it is but in JSON. With raw (a condition's value),
 * values are copied and empty ones stay empty. Returns the length.
 *
 * A line too long cuts its string values, not its text: each value
 * leaves room for what every later part reserves (part_reserve), so
 * that a client's long field still makes a whole line (a JSON line
 * still parses) that keeps the start of every later value. Only a format
 * whose text alone does not fit is cut anywhere.
 */
static size_t render(const struct conf_expr *e, enum conf_log_escape mode, bool raw,
		     struct line_ctx *lc, char *out, size_t cap)
{
	size_t n = 0, reserve = 0, room;
	long share = raw ? -1 : line_share(e, mode, cap, &reserve);
	unsigned k;

	for (k = 0; k < e->nparts && n < cap; k++) {
		const struct conf_key_part *kp = &e->parts[k];
		char scratch[SCRATCH];
		enum conf_log_escape m = mode;
		struct slice v;

		if (share >= 0)
			reserve -= part_reserve(kp, mode, (size_t)share);
		if (kp->var == KEY_TEXT) {
			v = (struct slice){ kp->name, kp->name_len };
			m = LOG_ESCAPE_NONE;
		} else {
			v = part_value(kp, lc, scratch);
			if (raw || (kp->var == KEY_REQUEST && mode != LOG_ESCAPE_JSON) ||
			    is_number(kp->var))
				m = LOG_ESCAPE_NONE;
			if (v.len == 0 && !raw)
				v = mode != LOG_ESCAPE_JSON ? SLICE_LIT("-") :
				    is_number(kp->var) ? SLICE_LIT("null") : v;
		}
		room = cap - n - MIN(reserve, cap - n);
		if (kp->var == KEY_REQUEST && m == LOG_ESCAPE_NONE && v.len > room)
			room = whole_escapes(v, room);
		n += log_escape(m, v.p, v.len, out + n, room);
	}
	return n;
}

/* ---- which lines are written, and where ---- */

/* status >= 400, or an end that was not the whole response going out
 * (nor an answer of portico's own, as configured). */
static bool is_error(const struct exchange *x)
{
	return x->status >= 400 ||
	       (x->term_cause != TERM_NORMAL && x->term_cause != TERM_LOCAL);
}

static bool wanted(const struct conf_log *l, struct line_ctx *lc)
{
	char value[256];
	size_t n;

	if (l->only_errors && !is_error(lc->x))
		return false;
	if (l->sample > 1 && request_id_hash(lc->x->request_id) % l->sample != 0)
		return false;
	if (l->cond.text == NULL)
		return true;
	n = render(&l->cond, LOG_ESCAPE_NONE, true, lc, value, sizeof(value));
	return n > 0 && !(n == 1 && value[0] == '0');
}

static void emit_to_file(struct access_file *f, const struct conf_log_format *fmt,
			 struct line_ctx *lc)
{
	size_t n;

	if (ACCESS_BUF_SIZE - f->len < ACCESS_LINE_MAX)
		flush_file(f);
	n = render(&fmt->format, fmt->escape, false, lc, f->buf + f->len, ACCESS_LINE_MAX - 1);
	f->buf[f->len + n] = '\n';
	f->len += n + 1;
	if (!ev_timer_armed(&flush_timer))
		ev_timer_set(&flush_timer, 1000);
}

/* A line that leaves room for any header in its datagram: made to fit
 * by render(), not cut by the sender (in an escape, or before a JSON
 * line's end). */
static void emit_to_syslog(struct syslog_dest *d, const struct conf_log_format *fmt,
			   struct line_ctx *lc)
{
	char line[SYSLOG_DATAGRAM_MAX - SYSLOG_HEADER_MAX];
	size_t n = render(&fmt->format, fmt->escape, false, lc, line, sizeof(line));

	syslog_send(d, d->severity, line, n);
	log_syslog_drops(d);
}

/* Hand a line of format fmt to destination d: the one place a new kind
 * of destination is added. */
static void log_emit(const struct log_dest *d, const struct conf_log_format *fmt,
		     struct line_ctx *lc)
{
	switch (d->kind) {
	case DEST_FILE:
		emit_to_file(d->file, fmt, lc);
		break;
	case DEST_SYSLOG:
		emit_to_syslog(d->syslog, fmt, lc);
		break;
	}
}

static void write_lines(const struct exchange *x)
{
	const struct conf_site *s = x->site;
	struct line_ctx lc = { .x = x };
	const struct log_dest *dests;
	unsigned i;

	if (s == NULL || (dests = site_dests[s - sites]) == NULL)
		return;
	lc.now_us = ev_now_us();
	for (i = 0; i < s->nlogs; i++)
		if (wanted(&s->logs[i], &lc))
			log_emit(&dests[i], s->logs[i].format, &lc);
}

const struct module access_log_module = {
	.name = "access_log",
	.init = access_log_init,
	.log = write_lines,
};
