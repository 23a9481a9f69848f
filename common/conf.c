/*
 * conf.c: the configuration: read, checked as a whole, resolved.
 *
 * Three steps, so that every error carries "file:line" and one run
 * reports all of them:
 *
 * 1. A small preprocessor reads the main file, splices in every
 *    include("file") and strips comments, keeping newlines, into one
 *    text with a map from its lines back to (file, line). It exists
 *    because libconfuse 3.3 counts two extra lines for every "#" or
 *    "//" comment and one for every block comment, and because its own
 *    include() resolves relative paths against the working directory.
 * 2. libconfuse parses that text. Every option is a string with a
 *    parse callback that records the line of each value, and every
 *    section has a hidden list option whose default is parsed when the
 *    section opens, so its callback records the line of the '{'.
 *    libconfuse stops at the first syntax error; that one is reported.
 * 3. The tree is checked and turned into struct conf, collecting every
 *    semantic error with the line recorded for the value at fault.
 *
 * Nothing here logs: errors go back to the caller as text.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <confuse.h>

#include "core.h"
#include "log.h"
#include "conf.h"
#include "conf_loader.h"
#include "conf_tls.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

#define DEF_USER		"nobody"
#define DEF_PID_FILE		RUNSTATEDIR "/portico.pid"
#define DEF_ERROR_LOG		LOCALSTATEDIR "/log/portico/error.log"
#define DEF_WORKER_CONNECTIONS	4096
#define DEF_BACKLOG		511
#define DEF_KEEPALIVE		32
#define DEF_WEIGHT		1
#define DEF_MAX_FAILS		1
#define DEF_FAIL_TIMEOUT	10000
#define DEF_EWMA_DECAY		10000
#define DEF_HC_INTERVAL		5000
#define DEF_HC_TIMEOUT		2000
#define DEF_HC_FALL		3
#define DEF_HC_RISE		2
#define MAX_WORKERS		512
#define MAX_WEIGHT		1000
#define MAX_MAX_FAILS		1000
#define MAX_MAX_CONNS		1000000
#define MAX_HC_COUNT		100
#define MAX_INCLUDE_DEPTH	16
#define MAX_SIZE		(1LL << 30)

/* The hidden option of every section; see conf_opts below. */
#define SEC_MARK		"|start"

enum sec_kind {
	SK_ROOT, SK_LISTEN, SK_UPSTREAM, SK_SERVER, SK_SITE, SK_ROUTE,
	SK_HEALTH_CHECK, SK_TLS
};

static const char *const sec_kind_name[] = {
	"root", "listen", "upstream", "server", "site", "route", "health_check",
	"tls"
};

/* Where a value was written: its line in the preprocessed text. */
struct opt_line {
	char name[24];
	unsigned idx;			/* element of a list */
	int line;
};

/* One section as libconfuse opened it, in file order. */
struct sec_info {
	cfg_t *sec;
	enum sec_kind kind;
	char *title;			/* as written; see ld_on_section */
	int line;			/* of its '{' */
	int parent;			/* top-level section of a nested one */
	int seq;
	struct opt_line *opts;
	unsigned nopts;
};

/* The preprocessed text's line bufline onward comes from file:line. */
struct seg {
	int bufline;
	int file;
	int line;
};

struct ld_err {
	long key;			/* orders errors as they appear */
	int seq;
	int file;			/* index in files, -1: none */
	int line;			/* 0: the file as a whole */
	char *msg;
};

struct strbuf {
	char *p;
	size_t len, cap;
};

/* Everything one conf_load() needs. */
struct loader {
	const char *main_file;
	int main_lines;
	bool oom;

	char **files;			/* display names, index = file id */
	unsigned nfiles;

	struct strbuf text;		/* preprocessed text */
	int outline;			/* current line of text */
	struct seg *segs;
	unsigned nsegs;
	struct { dev_t dev; ino_t ino; } stack[MAX_INCLUDE_DEPTH + 1];
	int depth;

	struct ld_err *errs;
	unsigned nerrs;

	struct sec_info *secs;		/* [0] is the root */
	unsigned nsecs;
	int cur_top;			/* the top-level section being parsed */
	cfg_t **hkeys;			/* section -> index in secs */
	int *hvals;
	unsigned hcap, hn;
};

/*
 * libconfuse callbacks carry no user pointer, and its lexer is global
 * anyway: conf_load() is not reentrant and sets this for its duration.
 */
static struct loader *ld_current;

/* Small helpers */

void *ld_realloc(struct loader *ld, void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > SIZE_MAX / size) {
		ld->oom = true;
		return NULL;
	}
	q = realloc(p, n * size != 0 ? n * size : 1);
	if (q == NULL)
		ld->oom = true;
	return q;
}

char *ld_strdup(struct loader *ld, const char *s)
{
	char *d = strdup(s ? s : "");

	if (d == NULL)
		ld->oom = true;
	return d;
}

/*
 * Make room for element n of an array of n: capacities are 8, 16, 32...
 * so only a count of 0 or a power of two from 8 up needs more.
 */
static void *ld_grow(struct loader *ld, void *p, unsigned n, size_t size)
{
	if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
		return p;
	return ld_realloc(ld, p, n ? 2 * (size_t)n : 8, size);
}

static int sb_add(struct loader *ld, struct strbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = ld_realloc(ld, b->p, cap, 1);
		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static bool is_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Errors */

static void ld_verror(struct loader *ld, long key, int file, int line,
		      const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));
static void ld_verror(struct loader *ld, long key, int file, int line,
		      const char *fmt, va_list ap)
{
	struct ld_err *e;
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	e = ld_grow(ld, ld->errs, ld->nerrs, sizeof(*e));
	if (e == NULL)
		return;
	ld->errs = e;
	e = &ld->errs[ld->nerrs];
	e->msg = ld_strdup(ld, msg);
	if (e->msg == NULL)
		return;
	e->key = key;
	e->seq = (int)ld->nerrs;
	e->file = file;
	e->line = line;
	ld->nerrs++;
}

/* Map a line of the preprocessed text back to its file and line. */
static void ld_locate(const struct loader *ld, int bufline, int *file, int *line)
{
	unsigned lo = 0, hi = ld->nsegs;

	if (ld->nsegs == 0) {
		*file = 0;
		*line = bufline;
		return;
	}
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (ld->segs[mid].bufline <= bufline)
			lo = mid;
		else
			hi = mid;
	}
	*file = ld->segs[lo].file;
	*line = ld->segs[lo].line + (bufline - ld->segs[lo].bufline);
}

/* An error at a line of the preprocessed text. */
void ld_error(struct loader *ld, int bufline, const char *fmt, ...)
{
	va_list ap;
	int file, line;

	ld_locate(ld, bufline, &file, &line);
	va_start(ap, fmt);
	ld_verror(ld, bufline, file, line, fmt, ap);
	va_end(ap);
}

/* An error about the configuration as a whole: at the main file's end. */
static void ld_error_global(struct loader *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ld_error_global(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ld_verror(ld, LONG_MAX, 0, ld->main_lines, fmt, ap);
	va_end(ap);
}

/* "file:line" of a line of the text, for messages naming another place. */
const char *ld_where(const struct loader *ld, int bufline, char *buf,
			    size_t len)
{
	int file, line;

	ld_locate(ld, bufline, &file, &line);
	snprintf(buf, len, "%s:%d", ld->files[file], line);
	return buf;
}

static int err_cmp(const void *a, const void *b)
{
	const struct ld_err *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->seq - y->seq;
}

/* All errors as "file:line: message\n" lines, in file order. */
static char *ld_format_errors(struct loader *ld)
{
	struct strbuf b = { NULL, 0, 0 };
	char head[PATH_MAX + 32];
	unsigned i;

	if (ld->oom)
		ld_error_global(ld, "out of memory");
	qsort(ld->errs, ld->nerrs, sizeof(*ld->errs), err_cmp);
	for (i = 0; i < ld->nerrs; i++) {
		const struct ld_err *e = &ld->errs[i];
		const char *f = e->file >= 0 && (unsigned)e->file < ld->nfiles ?
		    ld->files[e->file] : ld->main_file;

		if (e->line > 0)
			snprintf(head, sizeof(head), "%s:%d: ", f, e->line);
		else
			snprintf(head, sizeof(head), "%s: ", f);
		if (sb_add(ld, &b, head, strlen(head)) == -1 ||
		    sb_add(ld, &b, e->msg, strlen(e->msg)) == -1 ||
		    sb_add(ld, &b, "\n", 1) == -1)
			break;
	}
	if (b.p == NULL)
		b.p = strdup("out of memory\n");
	return b.p;
}

/* Preprocessor: includes and comments */

struct pp_src {
	const char *p, *end;
	int file;
	int line;
	int depth;			/* of braces */
	int open[16];			/* lines of the open braces */
};

static int pp_file(struct loader *ld, const char *path, int from_file,
		   int from_line);

/* libconfuse's unquoted strings are made of these characters. */
static bool is_word_char(char c)
{
	return strchr(" #\"'\t\n\r={}()+,*", c) == NULL;
}

static void pp_emit(struct loader *ld, const char *s, size_t n)
{
	size_t i;

	if (sb_add(ld, &ld->text, s, n) == -1)
		return;
	for (i = 0; i < n; i++)
		if (s[i] == '\n')
			ld->outline++;
}

static void pp_mark(struct loader *ld, int file, int line)
{
	struct seg *s;

	if (ld->nsegs > 0 && ld->segs[ld->nsegs - 1].bufline == ld->outline) {
		s = &ld->segs[ld->nsegs - 1];
	} else {
		s = ld_grow(ld, ld->segs, ld->nsegs, sizeof(*s));
		if (s == NULL)
			return;
		ld->segs = s;
		s = &ld->segs[ld->nsegs++];
	}
	s->bufline = ld->outline;
	s->file = file;
	s->line = line;
}

static void pp_error(struct loader *ld, int file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void pp_error(struct loader *ld, int file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ld_verror(ld, ld->outline, file, line, fmt, ap);
	va_end(ap);
}

/* Copy a quoted string through, escapes included. */
static void pp_string(struct loader *ld, struct pp_src *src)
{
	char quote = *src->p;
	int line = src->line;

	pp_emit(ld, src->p++, 1);
	while (src->p < src->end) {
		char c = *src->p;
		size_t n = c == '\\' && src->p + 1 < src->end ? 2 : 1;

		if (n == 2 && src->p[1] == '\n')
			src->line++;
		if (c == '\n')
			src->line++;
		pp_emit(ld, src->p, n);
		src->p += n;
		if (c == quote)
			return;
	}
	pp_error(ld, src->file, line, "unterminated string");
}

static void pp_block_comment(struct loader *ld, struct pp_src *src)
{
	int line = src->line;

	for (src->p += 2; src->p < src->end; src->p++) {
		if (src->p[0] == '*' && src->p + 1 < src->end && src->p[1] == '/') {
			src->p += 2;
			pp_emit(ld, " ", 1);
			return;
		}
		if (*src->p == '\n') {
			pp_emit(ld, "\n", 1);
			src->line++;
		}
	}
	pp_error(ld, src->file, line, "unterminated comment");
}

static void pp_skip_space(struct pp_src *src)
{
	while (src->p < src->end && strchr(" \t\r\n", *src->p) != NULL) {
		if (*src->p == '\n')
			src->line++;
		src->p++;
	}
}

/*
 * Read include()'s argument: a quoted string (a backslash takes the
 * next character as is) or a bare word. Returns its length, -1 if none.
 */
static int pp_include_arg(struct pp_src *src, char *arg, size_t len)
{
	size_t n = 0;
	char quote = *src->p;

	if (quote == '"' || quote == '\'') {
		for (src->p++; src->p < src->end && *src->p != quote; src->p++) {
			if (*src->p == '\\' && src->p + 1 < src->end)
				src->p++;
			if (*src->p == '\n')
				src->line++;
			if (n + 1 < len)
				arg[n++] = *src->p;
		}
		if (src->p == src->end)
			return -1;
		src->p++;
	} else {
		for (; src->p < src->end && is_word_char(*src->p); src->p++)
			if (n + 1 < len)
				arg[n++] = *src->p;
		if (n == 0)
			return -1;
	}
	arg[n] = '\0';
	return (int)n;
}

/*
 * The included file's name: relative to the including file's directory.
 * Returns -1 if it does not fit.
 */
static int pp_include_path(const char *from, const char *arg, char *out,
			   size_t len)
{
	const char *slash = strrchr(from, '/');
	int n;

	if (arg[0] == '/' || slash == NULL)
		n = snprintf(out, len, "%s", arg);
	else
		n = snprintf(out, len, "%.*s/%s", (int)(slash - from), from, arg);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void pp_include_glob(struct loader *ld, const char *pattern, int file,
			    int line)
{
	glob_t g;
	size_t i;
	int rc;

	rc = glob(pattern, GLOB_ERR, NULL, &g);
	if (rc == GLOB_NOMATCH)
		return;		/* like nginx: an empty directory is fine */
	if (rc != 0) {
		pp_error(ld, file, line, "include(\"%s\"): cannot read: %s",
		    pattern, rc == GLOB_NOSPACE ? "out of memory" :
		    strerror(errno));
		return;
	}
	for (i = 0; i < g.gl_pathc; i++)
		pp_file(ld, g.gl_pathv[i], file, line);
	globfree(&g);
}

/*
 * At "include": if "(arg)" follows, splice the file in, on lines of its
 * own, and return true; otherwise leave src alone and return false.
 */
static bool pp_include(struct loader *ld, struct pp_src *src)
{
	struct pp_src save = *src;
	char arg[PATH_MAX], path[PATH_MAX];
	int line = src->line;

	src->p += sizeof("include") - 1;
	pp_skip_space(src);
	if (src->p == src->end || *src->p != '(') {
		*src = save;
		return false;
	}
	src->p++;
	pp_skip_space(src);
	if (src->p < src->end && *src->p == ')') {
		pp_error(ld, src->file, line, "include() needs a file name");
		src->p++;
		return true;
	}
	if (pp_include_arg(src, arg, sizeof(arg)) <= 0) {
		pp_error(ld, src->file, line, "bad include(): expected a file name");
		goto skip;
	}
	pp_skip_space(src);
	if (src->p == src->end || *src->p != ')') {
		pp_error(ld, src->file, line, "bad include(): expected one file name "
		    "and \")\"");
		goto skip;
	}
	src->p++;

	if (pp_include_path(ld->files[src->file], arg, path, sizeof(path)) == -1) {
		pp_error(ld, src->file, line, "include(): file name too long");
		return true;
	}
	pp_emit(ld, "\n", 1);
	if (strpbrk(arg, "*?[") != NULL)
		pp_include_glob(ld, path, src->file, line);
	else
		pp_file(ld, path, src->file, line);
	pp_emit(ld, "\n", 1);
	pp_mark(ld, src->file, src->line);
	return true;

skip:
	while (src->p < src->end && *src->p != ')' && *src->p != '\n')
		src->p++;
	if (src->p < src->end && *src->p == ')')
		src->p++;
	return true;
}

static bool pp_at_include(const struct pp_src *src)
{
	size_t n = sizeof("include") - 1;

	return (size_t)(src->end - src->p) >= n &&
	    memcmp(src->p, "include", n) == 0 &&
	    (src->p + n == src->end || !is_word_char(src->p[n]));
}

/*
 * Braces must balance within each file: libconfuse accepts a section
 * still open at the end, and an included file's stray brace would close
 * a section of the file including it.
 */
static void pp_brace(struct loader *ld, struct pp_src *src)
{
	if (*src->p == '{') {
		if (src->depth < (int)ARRAY_LEN(src->open))
			src->open[src->depth] = src->line;
		src->depth++;
	} else if (src->depth == 0) {
		pp_error(ld, src->file, src->line, "unexpected '}'");
	} else {
		src->depth--;
	}
}

static void pp_scan(struct loader *ld, struct pp_src *src)
{
	bool in_word = false;

	while (src->p < src->end) {
		char c = *src->p;
		char next = src->p + 1 < src->end ? src->p[1] : '\0';

		if (c == '"' || c == '\'') {
			pp_string(ld, src);
		} else if (c == '#' || (c == '/' && next == '/')) {
			while (src->p < src->end && *src->p != '\n')
				src->p++;
		} else if (c == '/' && next == '*') {
			pp_block_comment(ld, src);
		} else if (c == '*') {
			/* libconfuse would silently drop it */
			pp_error(ld, src->file, src->line, "'*' must be "
			    "quoted, as in \"*.example.com\"");
			pp_emit(ld, " ", 1);
			src->p++;
		} else if (!in_word && c == 'i' && pp_at_include(src) &&
			   pp_include(ld, src)) {
			/* spliced in */
		} else {
			if (c == '\n')
				src->line++;
			if (c == '{' || c == '}')
				pp_brace(ld, src);
			pp_emit(ld, src->p++, 1);
			in_word = is_word_char(c);
			continue;
		}
		in_word = false;
	}
}

static int ld_intern_file(struct loader *ld, const char *path)
{
	char **f;
	unsigned i;

	for (i = 0; i < ld->nfiles; i++)
		if (strcmp(ld->files[i], path) == 0)
			return (int)i;
	f = ld_grow(ld, ld->files, ld->nfiles, sizeof(*f));
	if (f == NULL)
		return -1;
	ld->files = f;
	f[ld->nfiles] = ld_strdup(ld, path);
	if (f[ld->nfiles] == NULL)
		return -1;
	return (int)ld->nfiles++;
}

/* Read a whole file; NULL with errno set on failure. */
static char *read_file(const char *path, size_t *len, struct stat *st)
{
	FILE *fp;
	char *buf = NULL, *p;
	size_t cap = 0, n = 0, r;
	int err;

	fp = fopen(path, "r");
	if (fp == NULL)
		return NULL;
	if (fstat(fileno(fp), st) == -1) {
		err = errno;
		goto fail;
	}
	if (S_ISDIR(st->st_mode)) {
		err = EISDIR;
		goto fail;
	}
	for (;;) {
		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			p = realloc(buf, cap);
			if (p == NULL) {
				err = ENOMEM;
				goto fail;
			}
			buf = p;
		}
		r = fread(buf + n, 1, cap - n, fp);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(fp)) {
		err = EIO;
		goto fail;
	}
	fclose(fp);
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(fp);
	errno = err;
	return NULL;
}

/*
 * Preprocess one file into ld->text. from_file < 0 for the main file;
 * otherwise errors opening it are reported at the include() line.
 */
static int pp_file(struct loader *ld, const char *path, int from_file,
		   int from_line)
{
	struct pp_src src;
	struct stat st;
	char *buf;
	size_t len;
	int i, id;

	if (ld->depth >= MAX_INCLUDE_DEPTH) {
		pp_error(ld, from_file, from_line, "include(\"%s\"): includes "
		    "nested too deeply", path);
		return -1;
	}
	buf = read_file(path, &len, &st);
	if (buf == NULL) {
		if (from_file < 0)
			pp_error(ld, 0, 0, "cannot read: %s", strerror(errno));
		else
			pp_error(ld, from_file, from_line, "include(\"%s\"): "
			    "cannot read: %s", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < ld->depth; i++)
		if (ld->stack[i].dev == st.st_dev && ld->stack[i].ino == st.st_ino) {
			pp_error(ld, from_file, from_line, "include(\"%s\"): "
			    "the file includes itself", path);
			free(buf);
			return -1;
		}
	id = ld_intern_file(ld, path);
	if (id < 0) {
		free(buf);
		return -1;
	}
	ld->stack[ld->depth].dev = st.st_dev;
	ld->stack[ld->depth].ino = st.st_ino;
	ld->depth++;

	memset(&src, 0, sizeof(src));
	src.p = buf;
	src.end = buf + len;
	src.file = id;
	src.line = 1;
	pp_mark(ld, id, 1);
	pp_scan(ld, &src);
	if (src.depth > 0)
		pp_error(ld, id, src.open[MIN(src.depth, (int)ARRAY_LEN(src.open)) - 1],
		    "this '{' is never closed");
	if (from_file < 0)
		ld->main_lines = src.line - (len > 0 && buf[len - 1] == '\n');

	ld->depth--;
	free(buf);
	return 0;
}

/* Sections and the lines of their values, recorded while parsing */

static unsigned ptr_hash(const void *p, unsigned cap)
{
	return (unsigned)(((uintptr_t)p >> 4) * 2654435761u) & (cap - 1);
}

static int sec_find(const struct loader *ld, const cfg_t *sec)
{
	unsigned i;

	if (ld->hcap == 0)
		return -1;
	for (i = ptr_hash(sec, ld->hcap); ld->hkeys[i] != NULL;
	     i = (i + 1) & (ld->hcap - 1))
		if (ld->hkeys[i] == sec)
			return ld->hvals[i];
	return -1;
}

static int sec_put(struct loader *ld, cfg_t *sec, int idx)
{
	unsigned i;

	if (ld->hn + 1 > ld->hcap / 2) {
		unsigned cap = ld->hcap ? ld->hcap * 2 : 64, j;
		cfg_t **keys = calloc(cap, sizeof(*keys));
		int *vals = calloc(cap, sizeof(*vals));

		if (keys == NULL || vals == NULL) {
			free(keys);
			free(vals);
			ld->oom = true;
			return -1;
		}
		for (j = 0; j < ld->hcap; j++) {
			if (ld->hkeys[j] == NULL)
				continue;
			for (i = ptr_hash(ld->hkeys[j], cap); keys[i] != NULL;
			     i = (i + 1) & (cap - 1))
				;
			keys[i] = ld->hkeys[j];
			vals[i] = ld->hvals[j];
		}
		free(ld->hkeys);
		free(ld->hvals);
		ld->hkeys = keys;
		ld->hvals = vals;
		ld->hcap = cap;
	}
	for (i = ptr_hash(sec, ld->hcap); ld->hkeys[i] != NULL;
	     i = (i + 1) & (ld->hcap - 1))
		if (ld->hkeys[i] == sec) {
			ld->hvals[i] = idx;
			return 0;
		}
	ld->hkeys[i] = sec;
	ld->hvals[i] = idx;
	ld->hn++;
	return 0;
}

static enum sec_kind sec_kind_of(const char *name)
{
	unsigned i;

	for (i = 1; i < ARRAY_LEN(sec_kind_name); i++)
		if (strcmp(name, sec_kind_name[i]) == 0)
			return (enum sec_kind)i;
	return SK_ROOT;
}

/* Sections written inside a top-level one (never deeper). */
static bool sec_is_nested(enum sec_kind kind)
{
	return kind == SK_SERVER || kind == SK_ROUTE || kind == SK_HEALTH_CHECK ||
	       kind == SK_TLS;
}

/*
 * A section was just opened. When a second section has the same title,
 * libconfuse throws the first one away, errors and all; so each titled
 * section gets a unique title ("\1" and a number) that no later one
 * matches, and the title as written is kept here. Duplicates are found
 * afterwards. Untitled sections (health_check) keep a NULL title: each
 * occurrence is a new one, counted where it is resolved.
 */
static void ld_on_section(struct loader *ld, cfg_t *sec)
{
	struct sec_info *si;
	char unique[16];
	int idx = (int)ld->nsecs;

	si = ld_grow(ld, ld->secs, ld->nsecs, sizeof(*si));
	if (si == NULL)
		return;
	ld->secs = si;
	si = &ld->secs[idx];
	memset(si, 0, sizeof(*si));
	si->sec = sec;
	si->kind = sec_kind_of(cfg_name(sec));
	if (sec->title != NULL) {
		snprintf(unique, sizeof(unique), "\1%d", idx);
		si->title = sec->title;	/* libconfuse's strdup: ours now */
		sec->title = ld_strdup(ld, unique);
		if (sec->title == NULL) {
			sec->title = si->title;
			si->title = ld_strdup(ld, sec->title);
		}
	}
	si->line = sec->line;
	si->seq = idx;
	si->parent = -1;
	if (sec_is_nested(si->kind))
		si->parent = ld->cur_top;
	else
		ld->cur_top = idx;
	ld->nsecs++;
	sec_put(ld, sec, idx);
}

static void ld_on_value(struct loader *ld, cfg_t *sec, cfg_opt_t *opt)
{
	struct sec_info *si;
	struct opt_line *ol;
	unsigned idx = opt->nvalues ? opt->nvalues - 1 : 0, i;
	int s = sec_find(ld, sec);

	if (s < 0)
		return;
	si = &ld->secs[s];
	for (i = 0; i < si->nopts; i++) {
		ol = &si->opts[i];
		if (ol->idx == idx && strcmp(ol->name, opt->name) == 0) {
			ol->line = sec->line;
			return;
		}
	}
	ol = ld_grow(ld, si->opts, si->nopts, sizeof(*ol));
	if (ol == NULL)
		return;
	si->opts = ol;
	ol = &si->opts[si->nopts++];
	snprintf(ol->name, sizeof(ol->name), "%s", opt->name);
	ol->idx = idx;
	ol->line = sec->line;
}

/* libconfuse: every value of every option passes here. */
static int conf_value_cb(cfg_t *sec, cfg_opt_t *opt, const char *value,
			 void *result)
{
	*(const char **)result = value;
	if (ld_current == NULL)
		return 0;
	if (strcmp(opt->name, SEC_MARK) == 0)
		ld_on_section(ld_current, sec);
	else
		ld_on_value(ld_current, sec, opt);
	return 0;
}

static void conf_error_cb(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (ld_current != NULL)
		ld_error(ld_current, cfg ? cfg->line : 0, "%s", msg);
}

/* The line of a section, or of one of its values (else the section's). */
int ld_sec_line(const struct loader *ld, cfg_t *sec)
{
	int s = sec_find(ld, sec);

	return s < 0 ? 1 : ld->secs[s].line;
}

int ld_opt_line_n(const struct loader *ld, cfg_t *sec, const char *name, unsigned idx)
{
	const struct sec_info *si;
	unsigned i;
	int s = sec_find(ld, sec);

	if (s < 0)
		return 1;
	si = &ld->secs[s];
	for (i = 0; i < si->nopts; i++)
		if (si->opts[i].idx == idx && strcmp(si->opts[i].name, name) == 0)
			return si->opts[i].line;
	return si->line;
}

int ld_opt_line(const struct loader *ld, cfg_t *sec, const char *name)
{
	return ld_opt_line_n(ld, sec, name, 0);
}

/* A section's title as written (cfg_title() gives the unique one). */
unsigned ld_error_count(const struct loader *ld)
{
	return ld->nerrs;
}

const char *ld_title_of(const struct loader *ld, cfg_t *sec)
{
	int s = sec_find(ld, sec);

	return s < 0 || ld->secs[s].title == NULL ? "" : ld->secs[s].title;
}

/* The schema */

/*
 * Every value is read as a string and checked after parsing, so that a
 * bad number does not stop libconfuse and hide the errors after it.
 * SEC_MARK cannot be written in a file (libconfuse reads '|' as a path
 * separator); its default is parsed as each section opens.
 */
#define OPT(name)	CFG_STR_CB(name, 0, CFGF_NODEFAULT, conf_value_cb)
#define OPT_LIST(name, def) CFG_STR_LIST_CB(name, def, CFGF_NONE, conf_value_cb)
#define SEC(name, opts)	CFG_SEC(name, opts, CFGF_MULTI | CFGF_TITLE)
#define MARK		OPT_LIST(SEC_MARK, "{x}")

static cfg_opt_t listen_opts[] = {
	MARK,
	OPT("address"),
	OPT("backlog"),
	OPT("tls"),
	CFG_END()
};

static cfg_opt_t server_opts[] = {
	MARK,
	OPT("weight"),
	OPT("backup"),
	OPT("max_conns"),
	OPT("max_fails"),
	OPT("fail_timeout"),
	OPT("slow_start"),
	CFG_END()
};

static cfg_opt_t health_check_opts[] = {
	MARK,
	OPT("path"),
	OPT("host"),
	OPT("status"),
	OPT("body"),
	OPT("interval"),
	OPT("timeout"),
	OPT("fall"),
	OPT("rise"),
	CFG_END()
};

static cfg_opt_t upstream_opts[] = {
	MARK,
	OPT("keepalive"),
	OPT("connect_timeout"),
	OPT("send_timeout"),
	OPT("read_timeout"),
	OPT("balance"),
	OPT("hash_key"),
	OPT("retries"),
	OPT("retry_timeout"),
	OPT_LIST("fail_on", "{\"error\", \"timeout\"}"),
	OPT("max_fails"),
	OPT("fail_timeout"),
	OPT("ewma_decay"),
	OPT("tls"),
	OPT("tls_verify"),
	OPT("tls_ca"),
	OPT("tls_server_name"),
	OPT("tls_certificate"),
	OPT("tls_key"),
	SEC("server", server_opts),
	/* untitled; MULTI so that a second one is seen, not merged */
	CFG_SEC("health_check", health_check_opts, CFGF_MULTI),
	CFG_END()
};

static cfg_opt_t route_opts[] = {
	MARK,
	OPT("upstream"),
	OPT("status"),
	CFG_END()
};

static cfg_opt_t tls_opts[] = {
	MARK,
	OPT_LIST("certificate", 0),
	OPT_LIST("key", 0),
	OPT_LIST("protocols", "{\"TLSv1.2\", \"TLSv1.3\"}"),
	OPT("ciphers"),
	OPT("ciphersuites"),
	OPT("curves"),
	OPT("ocsp_response"),
	OPT("verify_client"),
	OPT("client_ca"),
	OPT("verify_depth"),
	OPT("client_subject_header"),
	CFG_END()
};

static cfg_opt_t site_opts[] = {
	MARK,
	OPT_LIST("listen", 0),
	OPT_LIST("hosts", "{\"*\"}"),
	OPT("access_log"),
	OPT_LIST("forwarded_headers",
	    "{\"x-forwarded-for\", \"x-real-ip\", \"x-forwarded-proto\", \"forwarded\"}"),
	OPT("via"),
	OPT("hide_server"),
	OPT("redirect_https"),
	OPT("hsts"),
	/* untitled; MULTI so that a second one is seen, not merged */
	CFG_SEC("tls", tls_opts, CFGF_MULTI),
	SEC("route", route_opts),
	CFG_END()
};

static cfg_opt_t conf_opts[] = {
	OPT("user"),
	OPT("workers"),
	OPT("cpu_affinity"),
	OPT("daemon"),
	OPT("pid_file"),
	OPT("error_log"),
	OPT("log_level"),
	OPT("worker_connections"),
	OPT("worker_rlimit_nofile"),
	OPT("chroot"),
	OPT("client_header_timeout"),
	OPT("client_body_timeout"),
	OPT("keepalive_timeout"),
	OPT("send_timeout"),
	OPT("shutdown_timeout"),
	OPT("tunnel_timeout"),
	OPT("busy_poll"),
	OPT("header_buffer_size"),
	OPT("max_request_line"),
	OPT("max_header_line"),
	OPT("tls_handshake_timeout"),
	OPT("tls_session_cache"),
	OPT("tls_session_timeout"),
	OPT("tls_session_tickets"),
	OPT("tls_ticket_key_rotation"),
	SEC("listen", listen_opts),
	SEC("upstream", upstream_opts),
	SEC("site", site_opts),
	CFG_END()
};

/* Value parsers */

struct time_unit {
	const char *name;
	long mult;
};

/* A number and one of units (in any case), scaled; -1 when invalid or
 * above INT_MAX. */
static long parse_scaled(const char *s, const struct time_unit *units, size_t nunits)
{
	unsigned long long v = 0;
	size_t i;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > INT_MAX)
			return -1;
	}
	for (i = 0; i < nunits; i++)
		if (strcasecmp(s, units[i].name) == 0) {
			if (v > INT_MAX / (unsigned long long)units[i].mult)
				return -1;
			return (long)v * units[i].mult;
		}
	return -1;
}

long conf_parse_duration(const char *s)
{
	static const struct time_unit units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }
	};

	return parse_scaled(s, units, ARRAY_LEN(units));
}

long conf_parse_usec(const char *s)
{
	static const struct time_unit units[] = { { "us", 1 }, { "ms", 1000 } };

	if (s != NULL && strcmp(s, "0") == 0)
		return 0;
	return parse_scaled(s, units, ARRAY_LEN(units));
}

long long conf_parse_size(const char *s)
{
	unsigned long long v = 0, mult = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > LLONG_MAX / 10)
			return -1;
	}
	switch (tolower((unsigned char)*s)) {
	case '\0':
		return (long long)v;
	case 'k':
		mult = 1ULL << 10;
		break;
	case 'm':
		mult = 1ULL << 20;
		break;
	case 'g':
		mult = 1ULL << 30;
		break;
	default:
		return -1;
	}
	if (s[1] != '\0' || v > (unsigned long long)LLONG_MAX / mult)
		return -1;
	return (long long)(v * mult);
}

static int parse_port(const char *s, in_port_t *port, char *err, size_t errlen)
{
	unsigned long v;

	if (!is_digits(s) || strlen(s) > 5 ||
	    (v = strtoul(s, NULL, 10)) < 1 || v > 65535) {
		snprintf(err, errlen, "port must be a number from 1 to 65535");
		return -1;
	}
	*port = htons((in_port_t)v);
	return 0;
}

/* "[v6]:port" */
static int parse_ipv6(const char *text, struct sockaddr_in6 *sin6,
		      char *err, size_t errlen)
{
	const char *close = strchr(text, ']');
	char host[INET6_ADDRSTRLEN + 8];
	size_t hlen;

	if (close == NULL || close[1] != ':') {
		snprintf(err, errlen, "expected \"[IPv6]:port\"");
		return -1;
	}
	hlen = (size_t)(close - text - 1);
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "bad IPv6 address");
		return -1;
	}
	memcpy(host, text + 1, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
		snprintf(err, errlen, "bad IPv6 address \"%s\"", host);
		return -1;
	}
	sin6->sin6_family = AF_INET6;
	return parse_port(close + 2, &sin6->sin6_port, err, errlen);
}

/* "1.2.3.4:port", "*:port", "localhost:port" or "port" */
static int parse_ipv4(const char *text, struct sockaddr_in *sin,
		      char *err, size_t errlen)
{
	const char *colon = strrchr(text, ':');
	char host[INET_ADDRSTRLEN + 8];
	size_t hlen;

	sin->sin_family = AF_INET;
	if (colon == NULL) {
		if (!is_digits(text)) {
			snprintf(err, errlen, "missing port (use \"host:port\")");
			return -1;
		}
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		return parse_port(text, &sin->sin_port, err, errlen);
	}
	if (strchr(text, ':') != colon) {
		snprintf(err, errlen, "IPv6 addresses go in brackets, as in "
		    "\"[::1]:80\"");
		return -1;
	}
	hlen = (size_t)(colon - text);
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "bad host");
		return -1;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (strcasecmp(host, "localhost") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		snprintf(err, errlen, "\"%s\" is not an IP address (host names "
		    "are not resolved)", host);
		return -1;
	}
	return parse_port(colon + 1, &sin->sin_port, err, errlen);
}

int conf_parse_address(const char *text, struct sockaddr_storage *ss,
		       socklen_t *len, char *err, size_t errlen)
{
	memset(ss, 0, sizeof(*ss));
	if (text == NULL || *text == '\0') {
		snprintf(err, errlen, "empty address");
		return -1;
	}
	if (text[0] == '[') {
		*len = sizeof(struct sockaddr_in6);
		return parse_ipv6(text, (struct sockaddr_in6 *)ss, err, errlen);
	}
	*len = sizeof(struct sockaddr_in);
	return parse_ipv4(text, (struct sockaddr_in *)ss, err, errlen);
}

void conf_format_address(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(out, outlen, "(family %d)", sa->sa_family);
	}
}

static bool addr_equal(const struct sockaddr_storage *a,
		       const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	} else {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
}

static bool addr_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* Checking values: each getter reports its own error and keeps going */

unsigned ld_get_duration(struct loader *ld, cfg_t *sec, const char *name,
			 unsigned def, bool zero_ok)
{
	const char *s = cfg_getstr(sec, name);
	long ms;

	if (s == NULL)
		return def;
	ms = conf_parse_duration(s);
	if (ms < 0 || (ms == 0 && !zero_ok)) {
		ld_error(ld, ld_opt_line(ld, sec, name), "%s: bad duration \"%s\" "
		    "(use e.g. \"500ms\", \"15s\", \"2m\", \"1h\"%s)", name, s,
		    zero_ok ? " or \"0\"" : "");
		return def;
	}
	return (unsigned)ms;
}

/* Spinning longer than this only burns the CPU: a worker that saw no
 * event for 10 ms is idle, not between two packets of a busy exchange. */
#define BUSY_POLL_MAX_US 10000

static unsigned get_busy_poll(struct loader *ld, cfg_t *sec)
{
	const char *s = cfg_getstr(sec, "busy_poll");
	long us;

	if (s == NULL)
		return 0;
	us = conf_parse_usec(s);
	if (us < 0 || us > BUSY_POLL_MAX_US) {
		ld_error(ld, ld_opt_line(ld, sec, "busy_poll"), "busy_poll: bad value \"%s\" "
		    "(use \"0\" for off, or up to \"%dus\", e.g. \"50us\")", s, BUSY_POLL_MAX_US);
		return 0;
	}
	return (unsigned)us;
}

size_t ld_get_size(struct loader *ld, cfg_t *sec, const char *name, size_t def)
{
	const char *s = cfg_getstr(sec, name);
	long long v;

	if (s == NULL)
		return def;
	v = conf_parse_size(s);
	if (v <= 0 || v > MAX_SIZE) {
		ld_error(ld, ld_opt_line(ld, sec, name), "%s: bad size \"%s\" (use "
		    "e.g. \"4096\", \"16k\", \"1m\"; at most 1g)", name, s);
		return def;
	}
	return (size_t)v;
}

long ld_get_number(struct loader *ld, cfg_t *sec, const char *name, long def,
		   long min, long max)
{
	const char *s = cfg_getstr(sec, name);
	long v;

	if (s == NULL)
		return def;
	errno = 0;
	v = is_digits(s) ? strtol(s, NULL, 10) : -1;
	if (errno != 0 || v < min || v > max) {
		ld_error(ld, ld_opt_line(ld, sec, name), "%s: bad number \"%s\" "
		    "(expected %ld to %ld)", name, s, min, max);
		return def;
	}
	return v;
}

bool ld_get_bool(struct loader *ld, cfg_t *sec, const char *name, bool def)
{
	const char *s = cfg_getstr(sec, name);

	if (s == NULL)
		return def;
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
	    strcasecmp(s, "on") == 0)
		return true;
	if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
	    strcasecmp(s, "off") == 0)
		return false;
	ld_error(ld, ld_opt_line(ld, sec, name), "%s: expected true or false, "
	    "not \"%s\"", name, s);
	return def;
}

/* A string option that must not be empty; def when absent. */
char *ld_get_string(struct loader *ld, cfg_t *sec, const char *name, const char *def)
{
	const char *s = cfg_getstr(sec, name);

	if (s != NULL && *s == '\0') {
		ld_error(ld, ld_opt_line(ld, sec, name), "%s must not be empty", name);
		s = NULL;
	}
	if (s == NULL && def == NULL)
		return NULL;
	return ld_strdup(ld, s ? s : def);
}

/* s, a relative path, made absolute against the main file's directory (as
 * includes are, since the daemon's working directory is "/"); s is freed. */
static char *make_absolute(struct loader *ld, char *s, int line, const char *name)
{
	char full[PATH_MAX], *abs;

	if (pp_include_path(ld->main_file, s, full, sizeof(full)) < 0) {
		ld_error(ld, line, "%s is too long", name);
		return s;
	}
	abs = ld_strdup(ld, full);
	if (abs == NULL)
		return s;
	free(s);
	return abs;
}

char *ld_get_path(struct loader *ld, cfg_t *sec, const char *name, const char *def)
{
	char *s = ld_get_string(ld, sec, name, def);

	if (s == NULL || s[0] == '/')
		return s;
	return make_absolute(ld, s, ld_opt_line(ld, sec, name), name);
}

char *ld_get_path_n(struct loader *ld, cfg_t *sec, const char *name, unsigned i)
{
	const char *v = cfg_getnstr(sec, name, i);
	int line = ld_opt_line_n(ld, sec, name, i);
	char *s;

	if (v == NULL || *v == '\0') {
		ld_error(ld, line, "%s must not be empty", name);
		return NULL;
	}
	s = ld_strdup(ld, v);
	if (s == NULL || s[0] == '/')
		return s;
	return make_absolute(ld, s, line, name);
}

/* Resolving: globals */

/* The workers' root: absolute, since it is entered from "/", and an
 * existing directory, or every worker would fail at its start. */
static char *get_chroot(struct loader *ld, cfg_t *cfg)
{
	char *dir = ld_get_string(ld, cfg, "chroot", NULL);
	struct stat st;

	if (dir == NULL)
		return NULL;
	if (dir[0] != '/')
		ld_error(ld, ld_opt_line(ld, cfg, "chroot"), "chroot: \"%s\" is not "
		    "an absolute path", dir);
	else if (stat(dir, &st) < 0)
		ld_error(ld, ld_opt_line(ld, cfg, "chroot"), "chroot: \"%s\": %s",
		    dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		ld_error(ld, ld_opt_line(ld, cfg, "chroot"), "chroot: \"%s\" is not "
		    "a directory", dir);
	return dir;
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

static void resolve_globals(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	const char *s;

	c->user_explicit = cfg_getstr(cfg, "user") != NULL;
	c->user = ld_get_string(ld, cfg, "user", DEF_USER);
	if (c->user_explicit && c->user && *c->user && getpwnam(c->user) == NULL)
		ld_error(ld, ld_opt_line(ld, cfg, "user"), "unknown user \"%s\"",
		    c->user);

	s = cfg_getstr(cfg, "workers");
	c->workers = online_cpus();
	if (s != NULL && strcmp(s, "auto") != 0) {
		if (is_digits(s) && strlen(s) <= 3 && atoi(s) >= 1 &&
		    atoi(s) <= MAX_WORKERS)
			c->workers = (unsigned)atoi(s);
		else
			ld_error(ld, ld_opt_line(ld, cfg, "workers"), "workers: "
			    "expected \"auto\" or a number from 1 to %d, not "
			    "\"%s\"", MAX_WORKERS, s);
	}

	s = cfg_getstr(cfg, "cpu_affinity");
	c->cpu_affinity = s != NULL && strcmp(s, "auto") == 0;
	if (s != NULL && strcmp(s, "auto") != 0 && strcmp(s, "off") != 0)
		ld_error(ld, ld_opt_line(ld, cfg, "cpu_affinity"), "cpu_affinity: "
		    "expected \"auto\" or \"off\", not \"%s\"", s);

	c->daemon = ld_get_bool(ld, cfg, "daemon", true);
	c->pid_file = ld_get_path(ld, cfg, "pid_file", DEF_PID_FILE);
	c->error_log = ld_get_path(ld, cfg, "error_log", DEF_ERROR_LOG);

	s = cfg_getstr(cfg, "log_level");
	c->log_level = LL_INFO;
	if (s != NULL && (c->log_level = log_level_parse(s)) < 0) {
		ld_error(ld, ld_opt_line(ld, cfg, "log_level"), "log_level: unknown "
		    "level \"%s\" (use debug, info, notice, warn, error, crit, "
		    "alert or emerg)", s);
		c->log_level = LL_INFO;
	}

	c->worker_connections = (unsigned)ld_get_number(ld, cfg,
	    "worker_connections", DEF_WORKER_CONNECTIONS, 2, 1 << 20);
	c->worker_rlimit_nofile = (unsigned)ld_get_number(ld, cfg,
	    "worker_rlimit_nofile", 0, 0, 1 << 20);
	c->chroot = get_chroot(ld, cfg);
	c->client_header_timeout = ld_get_duration(ld, cfg, "client_header_timeout",
	    15000, false);
	c->client_body_timeout = ld_get_duration(ld, cfg, "client_body_timeout",
	    60000, false);
	c->keepalive_timeout = ld_get_duration(ld, cfg, "keepalive_timeout", 75000,
	    true);
	c->send_timeout = ld_get_duration(ld, cfg, "send_timeout", 60000, false);
	c->shutdown_timeout = ld_get_duration(ld, cfg, "shutdown_timeout", 30000,
	    false);
	c->tunnel_timeout = ld_get_duration(ld, cfg, "tunnel_timeout", 3600000,
	    false);
	c->busy_poll = get_busy_poll(ld, cfg);
	c->header_buffer_size = ld_get_size(ld, cfg, "header_buffer_size", 32768);
	c->max_request_line = ld_get_size(ld, cfg, "max_request_line", 8192);
	c->max_header_line = ld_get_size(ld, cfg, "max_header_line", 8192);
}

/* Resolving: listen */

static void resolve_listen(struct loader *ld, cfg_t *sec, struct conf_listen *l)
{
	char err[128];
	const char *addr = cfg_getstr(sec, "address");

	l->name = ld_strdup(ld, ld_title_of(ld, sec));
	l->backlog = (int)ld_get_number(ld, sec, "backlog", DEF_BACKLOG, 1, 65535);
	l->tls = ld_get_bool(ld, sec, "tls", false);
	if (addr == NULL) {
		ld_error(ld, ld_sec_line(ld, sec), "listen \"%s\" has no address",
		    l->name ? l->name : "");
		return;
	}
	l->address = ld_strdup(ld, addr);
	if (conf_parse_address(addr, &l->addr, &l->addrlen, err,
	    sizeof(err)) == -1) {
		ld_error(ld, ld_opt_line(ld, sec, "address"), "bad address \"%s\": %s",
		    addr, err);
		l->addrlen = 0;
	}
}

static void resolve_listens(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned i, j, n = cfg_size(cfg, "listen");
	char where[PATH_MAX + 16], text[INET6_ADDRSTRLEN + 16];

	c->listens = ld_realloc(ld, NULL, n, sizeof(*c->listens));
	if (c->listens == NULL)
		return;
	memset(c->listens, 0, n * sizeof(*c->listens));
	c->nlistens = n;
	for (i = 0; i < n; i++) {
		c->listens[i].index = (int)i;
		resolve_listen(ld, cfg_getnsec(cfg, "listen", i), &c->listens[i]);
	}

	/* Two listeners on one address: the second bind() would fail. */
	for (i = 0; i < n; i++) {
		struct conf_listen *l = &c->listens[i];

		for (j = 0; j < i && l->addrlen; j++) {
			if (c->listens[j].addrlen == 0 ||
			    !addr_equal(&l->addr, &c->listens[j].addr))
				continue;
			conf_format_address((struct sockaddr *)&l->addr, text,
			    sizeof(text));
			ld_error(ld, ld_opt_line(ld, cfg_getnsec(cfg, "listen", i),
			    "address"), "listen \"%s\": address %s is already "
			    "used by listen \"%s\" at %s", l->name, text,
			    c->listens[j].name, ld_where(ld, ld_opt_line(ld,
			    cfg_getnsec(cfg, "listen", j), "address"), where,
			    sizeof(where)));
			break;
		}
	}
}

/* Regexes: routes and health checks compile theirs the same way */

/* NULL with PCRE2's message and the offset in err. */
static pcre2_code *regex_compile(const char *re, char *err, size_t errlen)
{
	pcre2_code *code;
	PCRE2_SIZE off;
	PCRE2_UCHAR msg[256];
	int rc;

	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &rc,
	    &off, NULL);
	if (code == NULL) {
		pcre2_get_error_message(rc, msg, sizeof(msg));
		snprintf(err, errlen, "%s at offset %zu", (char *)msg,
		    (size_t)off);
		return NULL;
	}
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* optional */
	return code;
}

/* Resolving: upstreams */

static const char *const balance_names[] = {
	[BALANCE_ROUND_ROBIN] = "round_robin",
	[BALANCE_LEAST_CONN] = "least_conn",
	[BALANCE_IP_HASH] = "ip_hash",
	[BALANCE_HASH] = "hash",
	[BALANCE_RANDOM2] = "random2",
	[BALANCE_EWMA] = "ewma",
};

const char *conf_balance_name(enum conf_balance b)
{
	return balance_names[b];
}

static const struct {
	const char *name;
	unsigned bit;
} fail_kinds[] = {
	{ "error", CONF_FAIL_ERROR },
	{ "timeout", CONF_FAIL_TIMEOUT },
	{ "5xx", CONF_FAIL_5XX },
};

/* hash_key variables; a name ending in '_' takes a NAME after it. */
static const struct {
	const char *name;
	enum conf_key_var var;
} key_vars[] = {
	{ "uri", KEY_URI },
	{ "request_uri", KEY_REQUEST_URI },
	{ "args", KEY_ARGS },
	{ "arg_", KEY_ARG },
	{ "http_", KEY_HTTP },
	{ "cookie_", KEY_COOKIE },
	{ "remote_addr", KEY_REMOTE_ADDR },
	{ "host", KEY_HOST },
};

/* Text that a health check puts on its request line or in Host. */
static bool is_request_token(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool is_var_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Append a part to u->hash_key, with a copy of name[n] if name. */
static int key_add(struct loader *ld, struct conf_upstream *u,
		   enum conf_key_var var, const char *name, size_t n)
{
	struct conf_key_part *k;

	k = ld_grow(ld, u->hash_key, u->nhash_key, sizeof(*k));
	if (k == NULL)
		return -1;
	u->hash_key = k;
	k = &k[u->nhash_key];
	memset(k, 0, sizeof(*k));
	k->var = var;
	if (name != NULL) {
		k->name = ld_realloc(ld, NULL, n + 1, 1);
		if (k->name == NULL)
			return -1;
		memcpy(k->name, name, n);
		k->name[n] = '\0';
		k->name_len = n;
	}
	u->nhash_key++;
	return 0;
}

/* "X_User" -> "x-user": a header field's name as it is matched. */
static void http_field_name(char *s)
{
	for (; *s; s++)
		*s = *s == '_' ? '-' : (char)tolower((unsigned char)*s);
}

/*
 * The variable name[n] of a hash_key ("uri", "http_x_user"): adds its
 * part, or reports why it is not one. Header names are stored as they
 * arrive on the wire ("x-user"), so that matching needs no translation.
 */
static int key_var(struct loader *ld, int line, struct conf_upstream *u,
		   const char *name, size_t n)
{
	size_t i, len;

	for (i = 0; i < ARRAY_LEN(key_vars); i++) {
		len = strlen(key_vars[i].name);
		if (key_vars[i].name[len - 1] != '_') {
			if (n == len && memcmp(name, key_vars[i].name, n) == 0)
				return key_add(ld, u, key_vars[i].var, NULL, 0);
			continue;
		}
		if (n < len || memcmp(name, key_vars[i].name, len) != 0)
			continue;
		if (n == len) {
			ld_error(ld, line, "hash_key: variable \"$%.*s\" needs a "
			    "name after \"%s\"", (int)n, name, key_vars[i].name);
			return -1;
		}
		if (key_add(ld, u, key_vars[i].var, name + len, n - len) == -1)
			return -1;
		if (key_vars[i].var == KEY_HTTP)
			http_field_name(u->hash_key[u->nhash_key - 1].name);
		return 0;
	}
	ld_error(ld, line, "hash_key: unknown variable \"$%.*s\" (use $uri, "
	    "$request_uri, $args, $arg_NAME, $http_NAME, $cookie_NAME, "
	    "$remote_addr or $host)", (int)n, name);
	return -1;
}

/*
 * "$host$uri", "user-$cookie_sid", "${http_x_user}:x": literal text and
 * variables, a variable's name running over [A-Za-z0-9_] unless braces
 * delimit it. Stops at the first error.
 */
static void parse_hash_key(struct loader *ld, int line,
			   struct conf_upstream *u, const char *s)
{
	const char *name, *end;

	while (*s != '\0') {
		end = strchr(s, '$');
		if (end == NULL)
			end = s + strlen(s);
		if (end > s &&
		    key_add(ld, u, KEY_TEXT, s, (size_t)(end - s)) == -1)
			return;
		if (*end == '\0')
			return;
		name = end + 1;
		if (*name == '{') {
			name++;
			for (end = name; is_var_char(*end); end++)
				;
			if (*end != '}') {
				ld_error(ld, line, "hash_key: \"${\" needs a "
				    "variable name and \"}\", as in \"${host}\"");
				return;
			}
			s = end + 1;
		} else {
			for (end = name; is_var_char(*end); end++)
				;
			s = end;
		}
		if (end == name) {
			ld_error(ld, line, "hash_key: \"$\" must be followed by "
			    "a variable name, as in \"$request_uri\"");
			return;
		}
		if (key_var(ld, line, u, name, (size_t)(end - name)) == -1)
			return;
	}
}

static void resolve_balance(struct loader *ld, cfg_t *sec,
			    struct conf_upstream *u)
{
	const char *s = cfg_getstr(sec, "balance");
	const char *key = cfg_getstr(sec, "hash_key");
	bool known = true;
	unsigned i;

	u->balance = BALANCE_ROUND_ROBIN;
	if (s != NULL) {
		for (i = 0; i < ARRAY_LEN(balance_names); i++)
			if (strcmp(s, balance_names[i]) == 0)
				break;
		known = i < ARRAY_LEN(balance_names);
		if (known)
			u->balance = (enum conf_balance)i;
		else
			ld_error(ld, ld_opt_line(ld, sec, "balance"), "balance: "
			    "unknown algorithm \"%s\" (use round_robin, "
			    "least_conn, ip_hash, hash, random2 or ewma)", s);
	}
	if (key == NULL) {
		if (u->balance == BALANCE_HASH)
			ld_error(ld, ld_opt_line(ld, sec, "balance"), "balance = "
			    "\"hash\" needs a hash_key");
		return;
	}
	u->hash_key_text = ld_get_string(ld, sec, "hash_key", NULL);
	if (u->hash_key_text == NULL)
		return;
	if (known && u->balance != BALANCE_HASH)
		ld_error(ld, ld_opt_line(ld, sec, "hash_key"), "hash_key is only "
		    "used with balance = \"hash\"");
	parse_hash_key(ld, ld_opt_line(ld, sec, "hash_key"), u, u->hash_key_text);
}

static void resolve_fail_on(struct loader *ld, cfg_t *sec,
			    struct conf_upstream *u)
{
	unsigned i, j, n = cfg_size(sec, "fail_on");

	u->fail_on = 0;
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, "fail_on", i);

		for (j = 0; j < ARRAY_LEN(fail_kinds); j++)
			if (strcmp(s, fail_kinds[j].name) == 0)
				break;
		if (j == ARRAY_LEN(fail_kinds)) {
			ld_error(ld, ld_opt_line_n(ld, sec, "fail_on", i), "fail_on: "
			    "unknown failure \"%s\" (use error, timeout or 5xx)",
			    s);
			continue;
		}
		u->fail_on |= fail_kinds[j].bit;
	}
}

/* "200" or "200-399"; -1 unless 100 <= min <= max <= 599. */
static int parse_status_range(const char *s, int *min, int *max)
{
	char *end;
	long a, b;

	if (!isdigit((unsigned char)*s))
		return -1;
	a = b = strtol(s, &end, 10);
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			return -1;
		b = strtol(end + 1, &end, 10);
	}
	if (*end != '\0' || a < 100 || b > 599 || a > b)
		return -1;
	*min = (int)a;
	*max = (int)b;
	return 0;
}

static void resolve_hc_request(struct loader *ld, cfg_t *sec,
			       const struct conf_upstream *u,
			       struct conf_health_check *hc)
{
	const char *s;

	hc->path = ld_get_string(ld, sec, "path", "/");
	if (hc->path != NULL && (hc->path[0] != '/' ||
	    !is_request_token(hc->path)))
		ld_error(ld, ld_opt_line(ld, sec, "path"), "path: bad path \"%s\" "
		    "(it starts with \"/\" and has no spaces or control "
		    "characters)", hc->path);
	hc->host = ld_get_string(ld, sec, "host", u->name);
	if (hc->host != NULL && !is_request_token(hc->host)) {
		if (cfg_getstr(sec, "host") != NULL)
			ld_error(ld, ld_opt_line(ld, sec, "host"), "host: bad host "
			    "\"%s\" (no spaces or control characters)", hc->host);
		else
			ld_error(ld, ld_sec_line(ld, sec), "health_check: the "
			    "upstream's name \"%s\" is not a valid Host: set "
			    "host", hc->host);
	}
	s = cfg_getstr(sec, "status");
	hc->status_min = 200;
	hc->status_max = 399;
	if (s != NULL && parse_status_range(s, &hc->status_min,
	    &hc->status_max) == -1)
		ld_error(ld, ld_opt_line(ld, sec, "status"), "status: bad status "
		    "range \"%s\" (use e.g. \"200\" or \"200-399\", statuses "
		    "from 100 to 599)", s);
}

static void resolve_health_check(struct loader *ld, cfg_t *up,
				 struct conf_upstream *u)
{
	struct conf_health_check *hc;
	char where[PATH_MAX + 16], err[320];
	unsigned i, n = cfg_size(up, "health_check");
	cfg_t *sec;

	if (n == 0)
		return;
	sec = cfg_getnsec(up, "health_check", 0);
	ld_where(ld, ld_sec_line(ld, sec), where, sizeof(where));
	for (i = 1; i < n; i++)
		ld_error(ld, ld_sec_line(ld, cfg_getnsec(up, "health_check", i)),
		    "health_check is defined twice in upstream \"%s\" (first "
		    "at %s)", u->name ? u->name : "", where);
	hc = ld_realloc(ld, NULL, 1, sizeof(*hc));
	if (hc == NULL)
		return;
	memset(hc, 0, sizeof(*hc));
	u->health_check = hc;
	resolve_hc_request(ld, sec, u, hc);
	hc->body = ld_get_string(ld, sec, "body", NULL);
	if (hc->body != NULL) {
		hc->body_regex = regex_compile(hc->body, err, sizeof(err));
		if (hc->body_regex == NULL)
			ld_error(ld, ld_opt_line(ld, sec, "body"), "body: bad "
			    "regex: %s", err);
	}
	hc->interval = ld_get_duration(ld, sec, "interval", DEF_HC_INTERVAL, false);
	hc->timeout = ld_get_duration(ld, sec, "timeout", DEF_HC_TIMEOUT, false);
	hc->fall = (unsigned)ld_get_number(ld, sec, "fall", DEF_HC_FALL, 1,
	    MAX_HC_COUNT);
	hc->rise = (unsigned)ld_get_number(ld, sec, "rise", DEF_HC_RISE, 1,
	    MAX_HC_COUNT);
}

/* def: the upstream's max_fails and fail_timeout, which servers inherit. */
static void resolve_server(struct loader *ld, cfg_t *sec,
			   const struct conf_server *def, struct conf_server *s)
{
	char err[128];
	const char *addr = ld_title_of(ld, sec);

	s->address = ld_strdup(ld, addr);
	s->weight = (int)ld_get_number(ld, sec, "weight", DEF_WEIGHT, 1, MAX_WEIGHT);
	s->backup = ld_get_bool(ld, sec, "backup", false);
	s->max_conns = (unsigned)ld_get_number(ld, sec, "max_conns", 0, 0,
	    MAX_MAX_CONNS);
	s->max_fails = (unsigned)ld_get_number(ld, sec, "max_fails", def->max_fails,
	    0, MAX_MAX_FAILS);
	s->fail_timeout = ld_get_duration(ld, sec, "fail_timeout",
	    def->fail_timeout, false);
	s->slow_start = ld_get_duration(ld, sec, "slow_start", 0, true);
	if (conf_parse_address(addr, &s->addr, &s->addrlen, err,
	    sizeof(err)) == -1) {
		ld_error(ld, ld_sec_line(ld, sec), "server: bad address \"%s\": %s",
		    addr, err);
		s->addrlen = 0;
	} else if (addr_is_any(&s->addr)) {
		ld_error(ld, ld_sec_line(ld, sec), "server: bad address \"%s\": a "
		    "server needs a host, as in \"127.0.0.1:9000\"", addr);
		s->addrlen = 0;
	}
}

static void resolve_servers(struct loader *ld, cfg_t *sec,
			    struct conf_upstream *u)
{
	struct conf_server def;
	unsigned i, primaries = 0, n = cfg_size(sec, "server");

	memset(&def, 0, sizeof(def));
	def.max_fails = (unsigned)ld_get_number(ld, sec, "max_fails",
	    DEF_MAX_FAILS, 0, MAX_MAX_FAILS);
	def.fail_timeout = ld_get_duration(ld, sec, "fail_timeout",
	    DEF_FAIL_TIMEOUT, false);
	if (n == 0) {
		ld_error(ld, ld_sec_line(ld, sec), "upstream \"%s\" has no server",
		    u->name ? u->name : "");
		return;
	}
	if (n > CONF_MAX_SERVERS)
		ld_error(ld, ld_sec_line(ld, cfg_getnsec(sec, "server",
		    CONF_MAX_SERVERS)), "upstream \"%s\" has more than %d "
		    "servers", u->name ? u->name : "", CONF_MAX_SERVERS);
	u->servers = ld_realloc(ld, NULL, n, sizeof(*u->servers));
	if (u->servers == NULL)
		return;
	memset(u->servers, 0, n * sizeof(*u->servers));
	u->nservers = n;
	for (i = 0; i < n; i++) {
		resolve_server(ld, cfg_getnsec(sec, "server", i), &def,
		    &u->servers[i]);
		primaries += !u->servers[i].backup;
	}
	if (primaries == 0)
		ld_error(ld, ld_sec_line(ld, sec), "upstream \"%s\" has only backup "
		    "servers", u->name ? u->name : "");
}

static void resolve_upstream(struct loader *ld, cfg_t *sec,
			     struct conf_upstream *u)
{
	unsigned n = MIN(cfg_size(sec, "server"), CONF_MAX_SERVERS);

	u->name = ld_strdup(ld, ld_title_of(ld, sec));
	u->keepalive = (unsigned)ld_get_number(ld, sec, "keepalive", DEF_KEEPALIVE,
	    0, 65535);
	u->connect_timeout = ld_get_duration(ld, sec, "connect_timeout", 5000, false);
	u->send_timeout = ld_get_duration(ld, sec, "send_timeout", 60000, false);
	u->read_timeout = ld_get_duration(ld, sec, "read_timeout", 60000, false);
	resolve_balance(ld, sec, u);
	/* by default every server is tried once */
	u->retries = (unsigned)ld_get_number(ld, sec, "retries", n ? n - 1 : 0, 0,
	    CONF_MAX_SERVERS - 1);
	u->retry_timeout = ld_get_duration(ld, sec, "retry_timeout", 0, true);
	resolve_fail_on(ld, sec, u);
	u->ewma_decay = ld_get_duration(ld, sec, "ewma_decay", DEF_EWMA_DECAY,
	    false);
	resolve_health_check(ld, sec, u);
	resolve_servers(ld, sec, u);
	conf_tls_upstream(ld, sec, u);
}

static void resolve_upstreams(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned i, j, n = cfg_size(cfg, "upstream");

	c->upstreams = ld_realloc(ld, NULL, n, sizeof(*c->upstreams));
	if (c->upstreams == NULL)
		return;
	memset(c->upstreams, 0, n * sizeof(*c->upstreams));
	c->nupstreams = n;
	for (i = 0; i < n; i++) {
		c->upstreams[i].index = (int)i;
		resolve_upstream(ld, cfg_getnsec(cfg, "upstream", i),
		    &c->upstreams[i]);
	}
	/* ids index per-server state shared by all processes */
	for (i = 0; i < n; i++)
		for (j = 0; j < c->upstreams[i].nservers; j++)
			c->upstreams[i].servers[j].id = c->nservers++;
}

/* Resolving: sites */

static struct conf_listen *find_listen(struct conf *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->nlistens; i++)
		if (c->listens[i].name && strcmp(c->listens[i].name, name) == 0)
			return &c->listens[i];
	return NULL;
}

static struct conf_upstream *find_upstream(struct conf *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->nupstreams; i++)
		if (c->upstreams[i].name && strcmp(c->upstreams[i].name, name) == 0)
			return &c->upstreams[i];
	return NULL;
}

static void resolve_site_listens(struct loader *ld, cfg_t *sec,
				 struct conf *c, struct conf_site *site)
{
	unsigned i, j, n = cfg_size(sec, "listen");

	if (n == 0) {
		/* default: every listener */
		n = c->nlistens;
		site->listens = ld_realloc(ld, NULL, n, sizeof(*site->listens));
		if (site->listens == NULL)
			return;
		for (i = 0; i < n; i++)
			site->listens[i] = &c->listens[i];
		site->nlistens = n;
		return;
	}
	site->listens = ld_realloc(ld, NULL, n, sizeof(*site->listens));
	if (site->listens == NULL)
		return;
	for (i = 0; i < n; i++) {
		const char *name = cfg_getnstr(sec, "listen", i);
		struct conf_listen *l = find_listen(c, name);

		if (l == NULL) {
			ld_error(ld, ld_opt_line_n(ld, sec, "listen", i), "site "
			    "\"%s\": unknown listen \"%s\"", site->name, name);
			continue;
		}
		for (j = 0; j < site->nlistens && site->listens[j] != l; j++)
			;
		if (j == site->nlistens)
			site->listens[site->nlistens++] = l;
	}
}

/* "*" -> ("", wildcard), "*.example.com" -> (".example.com", wildcard). */
static int parse_host(const char *s, struct conf_host *h, char *err,
		      size_t errlen)
{
	const char *p;
	char *d;

	h->wildcard = false;
	if (s[0] == '*' && (s[1] == '\0' || s[1] == '.')) {
		h->wildcard = true;
		s++;
	}
	if (*s == '\0' && !h->wildcard) {
		snprintf(err, errlen, "empty host name");
		return -1;
	}
	if (strcmp(s, ".") == 0) {
		snprintf(err, errlen, "a wildcard needs a domain after \"*.\"");
		return -1;
	}
	for (p = s; *p; p++)
		if (*p == '*' || *p == '/' || (unsigned char)*p <= ' ' ||
		    *p == 0x7f) {
			snprintf(err, errlen, "a host is a name, \"*.\" followed "
			    "by a domain, or \"*\"");
			return -1;
		}
	h->name = strdup(s);
	if (h->name == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (d = h->name; *d; d++)
		*d = (char)tolower((unsigned char)*d);
	return 0;
}

static void resolve_site_hosts(struct loader *ld, cfg_t *sec,
			       struct conf_site *site)
{
	unsigned i, n = cfg_size(sec, "hosts");
	char err[128];

	if (n == 0) {
		ld_error(ld, ld_opt_line(ld, sec, "hosts"), "site \"%s\": hosts must "
		    "not be empty (use \"*\" for any host)", site->name);
		return;
	}
	site->hosts = ld_realloc(ld, NULL, n, sizeof(*site->hosts));
	if (site->hosts == NULL)
		return;
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, "hosts", i);

		if (parse_host(s, &site->hosts[site->nhosts], err,
		    sizeof(err)) == -1)
			ld_error(ld, ld_opt_line_n(ld, sec, "hosts", i), "site "
			    "\"%s\": bad host \"%s\": %s", site->name, s, err);
		else
			site->nhosts++;
	}
}

static void compile_regex(struct loader *ld, cfg_t *sec, struct conf_route *r)
{
	char err[320];

	r->regex = regex_compile(r->pattern + 2, err, sizeof(err));
	if (r->regex == NULL) {
		ld_error(ld, ld_sec_line(ld, sec), "route \"%s\": bad regex: %s",
		    r->pattern, err);
		return;
	}
	r->match = pcre2_match_data_create_from_pattern(r->regex, NULL);
	if (r->match == NULL)
		ld->oom = true;
}

static void resolve_route(struct loader *ld, cfg_t *sec, struct conf *c,
			  struct conf_route *r)
{
	const char *up = cfg_getstr(sec, "upstream");

	r->pattern = ld_strdup(ld, ld_title_of(ld, sec));
	if (r->pattern == NULL)
		return;
	if (strncmp(r->pattern, "~ ", 2) == 0) {
		if (r->pattern[2] == '\0')
			ld_error(ld, ld_sec_line(ld, sec), "route \"%s\": empty "
			    "regex", r->pattern);
		else
			compile_regex(ld, sec, r);
	} else if (r->pattern[0] != '/') {
		ld_error(ld, ld_sec_line(ld, sec), "route \"%s\": a path prefix "
		    "starts with \"/\" (a regex with \"~ \")", r->pattern);
	} else {
		r->prefix = r->pattern;
		r->prefix_len = strlen(r->pattern);
	}
	r->status = ld_get_bool(ld, sec, "status", false);
	if (up != NULL && r->status)
		ld_error(ld, ld_opt_line(ld, sec, "status"), "route \"%s\": upstream "
		    "and status = true exclude each other", r->pattern);
	else if (up == NULL && !r->status)
		ld_error(ld, ld_sec_line(ld, sec), "route \"%s\" has no upstream",
		    r->pattern);
	else if (up != NULL && (r->upstream = find_upstream(c, up)) == NULL)
		ld_error(ld, ld_opt_line(ld, sec, "upstream"), "route \"%s\": "
		    "unknown upstream \"%s\"", r->pattern, up);
}

static const struct {
	const char *name;
	unsigned bit;
} forwarded_fields[] = {
	{ "x-forwarded-for", CONF_FWD_FOR },
	{ "x-real-ip", CONF_FWD_REAL_IP },
	{ "x-forwarded-proto", CONF_FWD_PROTO },
	{ "forwarded", CONF_FWD_FORWARDED },
};

static void resolve_site_forwarded(struct loader *ld, cfg_t *sec,
				   struct conf_site *site)
{
	unsigned i, j, n = cfg_size(sec, "forwarded_headers");

	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, "forwarded_headers", i);

		for (j = 0; j < ARRAY_LEN(forwarded_fields); j++)
			if (strcasecmp(s, forwarded_fields[j].name) == 0)
				break;
		if (j == ARRAY_LEN(forwarded_fields)) {
			ld_error(ld, ld_opt_line_n(ld, sec, "forwarded_headers", i),
			    "site \"%s\": unknown forwarded header \"%s\" (use "
			    "x-forwarded-for, x-real-ip, x-forwarded-proto or "
			    "forwarded)", site->name, s);
			continue;
		}
		site->forwarded |= forwarded_fields[j].bit;
	}
}

static void resolve_site(struct loader *ld, cfg_t *sec, struct conf *c,
			 struct conf_site *site)
{
	unsigned i, n = cfg_size(sec, "route");

	site->name = ld_strdup(ld, ld_title_of(ld, sec));
	if (site->name == NULL)
		return;
	resolve_site_listens(ld, sec, c, site);
	resolve_site_hosts(ld, sec, site);
	site->access_log = ld_get_path(ld, sec, "access_log", NULL);
	resolve_site_forwarded(ld, sec, site);
	site->via = ld_get_bool(ld, sec, "via", false);
	site->hide_server = ld_get_bool(ld, sec, "hide_server", true);
	conf_tls_site(ld, sec, c, site);
	if (n == 0) {
		ld_error(ld, ld_sec_line(ld, sec), "site \"%s\" has no route",
		    site->name);
		return;
	}
	site->routes = ld_realloc(ld, NULL, n, sizeof(*site->routes));
	if (site->routes == NULL)
		return;
	memset(site->routes, 0, n * sizeof(*site->routes));
	site->nroutes = n;
	for (i = 0; i < n; i++)
		resolve_route(ld, cfg_getnsec(sec, "route", i), c,
		    &site->routes[i]);
}

static void resolve_sites(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned i, n = cfg_size(cfg, "site");

	c->sites = ld_realloc(ld, NULL, n, sizeof(*c->sites));
	if (c->sites == NULL)
		return;
	memset(c->sites, 0, n * sizeof(*c->sites));
	c->nsites = n;
	for (i = 0; i < n; i++)
		resolve_site(ld, cfg_getnsec(cfg, "site", i), c, &c->sites[i]);
	conf_tls_check(ld, cfg, c);
}

/* Duplicate titles: libconfuse keeps only the last, so we look at all. */

static int sec_title_cmp(const void *a, const void *b)
{
	const struct sec_info *x = *(struct sec_info *const *)a;
	const struct sec_info *y = *(struct sec_info *const *)b;
	int r;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	r = strcmp(x->title, y->title);
	return r ? r : x->seq - y->seq;
}

static void check_duplicates(struct loader *ld)
{
	struct sec_info **v;
	unsigned i, first, n = 0;
	char where[PATH_MAX + 16];

	v = ld_realloc(ld, NULL, ld->nsecs, sizeof(*v));
	if (v == NULL)
		return;
	for (i = 1; i < ld->nsecs; i++)
		if (ld->secs[i].title != NULL)
			v[n++] = &ld->secs[i];
	qsort(v, n, sizeof(*v), sec_title_cmp);
	for (i = 1, first = 0; i < n; i++) {
		const struct sec_info *a = v[first], *b = v[i];

		if (a->parent != b->parent || a->kind != b->kind ||
		    strcmp(a->title, b->title) != 0) {
			first = i;
			continue;
		}
		ld_where(ld, a->line, where, sizeof(where));
		if (b->parent >= 0)
			ld_error(ld, b->line, "%s \"%s\" is defined twice in %s "
			    "\"%s\" (first at %s)", sec_kind_name[b->kind],
			    b->title, sec_kind_name[ld->secs[b->parent].kind],
			    ld->secs[b->parent].title, where);
		else
			ld_error(ld, b->line, "duplicate %s \"%s\" (first defined "
			    "at %s)", sec_kind_name[b->kind], b->title, where);
	}
	free(v);
}

/* Loading */

static void ld_free(struct loader *ld)
{
	unsigned i;

	for (i = 0; i < ld->nfiles; i++)
		free(ld->files[i]);
	free(ld->files);
	free(ld->text.p);
	free(ld->segs);
	for (i = 0; i < ld->nerrs; i++)
		free(ld->errs[i].msg);
	free(ld->errs);
	for (i = 0; i < ld->nsecs; i++) {
		free(ld->secs[i].title);
		free(ld->secs[i].opts);
	}
	free(ld->secs);
	free(ld->hkeys);
	free(ld->hvals);
}

/* Run libconfuse over the preprocessed text; NULL after a syntax error. */
static cfg_t *ld_parse(struct loader *ld)
{
	cfg_t *cfg;
	FILE *fp;
	int rc;

	if (ld->text.len == 0 || ld->text.p[ld->text.len - 1] != '\n')
		pp_emit(ld, "\n", 1);	/* fmemopen() dislikes empty buffers */
	if (ld->oom)
		return NULL;
	cfg = cfg_init(conf_opts, CFGF_NONE);
	if (cfg == NULL) {
		ld->oom = true;
		return NULL;
	}
	cfg_set_error_function(cfg, conf_error_cb);
	free(cfg->filename);
	cfg->filename = strdup(ld->main_file);

	memset(&ld->secs[0], 0, sizeof(ld->secs[0]));
	ld->secs[0].sec = cfg;
	ld->secs[0].line = 1;
	ld->nsecs = 1;
	sec_put(ld, cfg, 0);

	fp = fmemopen(ld->text.p, ld->text.len, "r");
	if (fp == NULL) {
		ld->oom = true;
		cfg_free(cfg);
		return NULL;
	}
	rc = cfg_parse_fp(cfg, fp);
	fclose(fp);
	if (rc != CFG_SUCCESS) {
		if (ld->nerrs == 0)
			ld_error_global(ld, "syntax error");
		cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

static void resolve(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	resolve_globals(ld, cfg, c);
	conf_tls_globals(ld, cfg, c);
	resolve_listens(ld, cfg, c);
	resolve_upstreams(ld, cfg, c);
	resolve_sites(ld, cfg, c);
	check_duplicates(ld);
	if (cfg_size(cfg, "listen") == 0)
		ld_error_global(ld, "no listen defined: portico needs at least "
		    "one, as in: listen http { address = \"80\" }");
	if (cfg_size(cfg, "site") == 0)
		ld_error_global(ld, "no site defined: portico needs at least one");
}

struct conf *conf_load(const char *path, char **errors)
{
	struct loader ld;
	struct conf *c = NULL;
	cfg_t *cfg = NULL;

	*errors = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.main_file = path;
	ld.outline = 1;
	ld.main_lines = 1;
	ld.secs = ld_grow(&ld, NULL, 0, sizeof(*ld.secs));
	if (ld.secs == NULL || ld_intern_file(&ld, path) != 0)
		goto done;

	pp_file(&ld, path, -1, 0);
	if (ld.nerrs > 0 || ld.oom)
		goto done;

	ld_current = &ld;
	cfg = ld_parse(&ld);
	if (cfg == NULL)
		goto done;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->file = strdup(path)) == NULL) {
		ld.oom = true;
		goto done;
	}
	resolve(&ld, cfg, c);

done:
	ld_current = NULL;
	if (cfg != NULL)
		cfg_free(cfg);
	if (ld.nerrs > 0 || ld.oom) {
		conf_free(c);
		c = NULL;
		*errors = ld_format_errors(&ld);
	}
	ld_free(&ld);
	return c;
}

static void health_check_free(struct conf_health_check *hc)
{
	if (hc == NULL)
		return;
	free(hc->path);
	free(hc->host);
	free(hc->body);
	if (hc->body_regex)
		pcre2_code_free(hc->body_regex);
	free(hc);
}

void conf_free(struct conf *c)
{
	unsigned i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->nlistens; i++) {
		free(c->listens[i].name);
		free(c->listens[i].address);
	}
	free(c->listens);
	for (i = 0; i < c->nupstreams; i++) {
		struct conf_upstream *u = &c->upstreams[i];

		for (j = 0; j < u->nservers; j++)
			free(u->servers[j].address);
		free(u->servers);
		for (j = 0; j < u->nhash_key; j++)
			free(u->hash_key[j].name);
		free(u->hash_key);
		free(u->hash_key_text);
		health_check_free(u->health_check);
		conf_tls_free_upstream(u->tls);
		free(u->name);
	}
	free(c->upstreams);
	for (i = 0; i < c->nsites; i++) {
		struct conf_site *s = &c->sites[i];

		for (j = 0; j < s->nroutes; j++) {
			free(s->routes[j].pattern);
			if (s->routes[j].match)
				pcre2_match_data_free(s->routes[j].match);
			if (s->routes[j].regex)
				pcre2_code_free(s->routes[j].regex);
		}
		free(s->routes);
		for (j = 0; j < s->nhosts; j++)
			free(s->hosts[j].name);
		free(s->hosts);
		free(s->listens);
		free(s->access_log);
		conf_tls_free_site(s->tls);
		free(s->hsts);
		free(s->name);
	}
	free(c->sites);
	free(c->user);
	free(c->pid_file);
	free(c->chroot);
	free(c->error_log);
	free(c->file);
	free(c);
}

/* Dump: the effective configuration, in a form conf_load() reads back */

/*
 * prefix and s as one quoted string, escaped for libconfuse ("${" would
 * expand an environment variable).
 */
void conf_dump_str2(FILE *out, const char *prefix, const char *s)
{
	fputc('"', out);
	fputs(prefix, out);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\' || (c == '$' && s[1] == '{'))
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < ' ' || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

void conf_dump_str(FILE *out, const char *s)
{
	conf_dump_str2(out, "", s);
}

void conf_dump_duration(FILE *out, const char *name, unsigned ms,
			  const char *indent)
{
	if (ms == 0)
		fprintf(out, "%s%s = \"0\"\n", indent, name);
	else if (ms % 3600000 == 0)
		fprintf(out, "%s%s = \"%uh\"\n", indent, name, ms / 3600000);
	else if (ms % 60000 == 0)
		fprintf(out, "%s%s = \"%um\"\n", indent, name, ms / 60000);
	else if (ms % 1000 == 0)
		fprintf(out, "%s%s = \"%us\"\n", indent, name, ms / 1000);
	else
		fprintf(out, "%s%s = \"%ums\"\n", indent, name, ms);
}

void conf_dump_size(FILE *out, const char *name, size_t v)
{
	static const char units[] = "gmk";
	int i;

	for (i = 0; i < 3; i++) {
		size_t m = (size_t)1 << (10 * (3 - i));

		if (v >= m && v % m == 0) {
			fprintf(out, "%s = \"%zu%c\"\n", name, v / m, units[i]);
			return;
		}
	}
	fprintf(out, "%s = \"%zu\"\n", name, v);
}

static void dump_globals(const struct conf *c, FILE *out)
{
	fputs("user = ", out);
	conf_dump_str(out, c->user);
	fprintf(out, "\nworkers = %u\n", c->workers);
	fprintf(out, "cpu_affinity = \"%s\"\n", c->cpu_affinity ? "auto" : "off");
	fprintf(out, "daemon = %s\n", c->daemon ? "true" : "false");
	fputs("pid_file = ", out);
	conf_dump_str(out, c->pid_file);
	fputs("\nerror_log = ", out);
	conf_dump_str(out, c->error_log);
	fprintf(out, "\nlog_level = \"%s\"\n", log_level_name(c->log_level));
	fprintf(out, "worker_connections = %u\n", c->worker_connections);
	fprintf(out, "worker_rlimit_nofile = %u\n", c->worker_rlimit_nofile);
	if (c->chroot != NULL) {
		fputs("chroot = ", out);
		conf_dump_str(out, c->chroot);
		fputc('\n', out);
	}
	conf_dump_duration(out, "client_header_timeout", c->client_header_timeout, "");
	conf_dump_duration(out, "client_body_timeout", c->client_body_timeout, "");
	conf_dump_duration(out, "keepalive_timeout", c->keepalive_timeout, "");
	conf_dump_duration(out, "send_timeout", c->send_timeout, "");
	conf_dump_duration(out, "shutdown_timeout", c->shutdown_timeout, "");
	conf_dump_duration(out, "tunnel_timeout", c->tunnel_timeout, "");
	if (c->busy_poll == 0)
		fputs("busy_poll = \"0\"\n", out);
	else
		fprintf(out, "busy_poll = \"%uus\"\n", c->busy_poll);
	conf_dump_size(out, "header_buffer_size", c->header_buffer_size);
	conf_dump_size(out, "max_request_line", c->max_request_line);
	conf_dump_size(out, "max_header_line", c->max_header_line);
	conf_tls_dump_globals(c, out);
}

/*
 * The upstream's max_fails and fail_timeout are only defaults for its
 * servers: each server's own values are written instead.
 */
static void dump_server(const struct conf_server *s, FILE *out)
{
	fputs("\tserver ", out);
	conf_dump_str(out, s->address);
	fprintf(out, " {\n\t\tweight = %d\n\t\tbackup = %s\n"
	    "\t\tmax_conns = %u\n\t\tmax_fails = %u\n", s->weight,
	    s->backup ? "true" : "false", s->max_conns, s->max_fails);
	conf_dump_duration(out, "fail_timeout", s->fail_timeout, "\t\t");
	conf_dump_duration(out, "slow_start", s->slow_start, "\t\t");
	fputs("\t}\n", out);
}

static void dump_health_check(const struct conf_health_check *hc, FILE *out)
{
	fputs("\thealth_check {\n\t\tpath = ", out);
	conf_dump_str(out, hc->path);
	fputs("\n\t\thost = ", out);
	conf_dump_str(out, hc->host);
	if (hc->status_min == hc->status_max)
		fprintf(out, "\n\t\tstatus = \"%d\"\n", hc->status_min);
	else
		fprintf(out, "\n\t\tstatus = \"%d-%d\"\n", hc->status_min,
		    hc->status_max);
	if (hc->body != NULL) {
		fputs("\t\tbody = ", out);
		conf_dump_str(out, hc->body);
		fputc('\n', out);
	}
	conf_dump_duration(out, "interval", hc->interval, "\t\t");
	conf_dump_duration(out, "timeout", hc->timeout, "\t\t");
	fprintf(out, "\t\tfall = %u\n\t\trise = %u\n\t}\n", hc->fall, hc->rise);
}

static void dump_upstream(const struct conf_upstream *u, FILE *out)
{
	unsigned i, n;

	fputs("\nupstream ", out);
	conf_dump_str(out, u->name);
	fprintf(out, " {\n\tkeepalive = %u\n", u->keepalive);
	conf_dump_duration(out, "connect_timeout", u->connect_timeout, "\t");
	conf_dump_duration(out, "send_timeout", u->send_timeout, "\t");
	conf_dump_duration(out, "read_timeout", u->read_timeout, "\t");
	fprintf(out, "\tbalance = \"%s\"\n", balance_names[u->balance]);
	if (u->hash_key_text != NULL) {
		fputs("\thash_key = ", out);
		conf_dump_str(out, u->hash_key_text);
		fputc('\n', out);
	}
	fprintf(out, "\tretries = %u\n", u->retries);
	conf_dump_duration(out, "retry_timeout", u->retry_timeout, "\t");
	fputs("\tfail_on = {", out);
	for (i = 0, n = 0; i < ARRAY_LEN(fail_kinds); i++)
		if (u->fail_on & fail_kinds[i].bit)
			fprintf(out, "%s\"%s\"", n++ ? ", " : "",
			    fail_kinds[i].name);
	fputs("}\n", out);
	conf_dump_duration(out, "ewma_decay", u->ewma_decay, "\t");
	conf_tls_dump_upstream(u, out);
	if (u->health_check != NULL)
		dump_health_check(u->health_check, out);
	for (i = 0; i < u->nservers; i++)
		dump_server(&u->servers[i], out);
	fputs("}\n", out);
}

static void dump_site(const struct conf_site *s, FILE *out)
{
	unsigned i, n;

	fputs("\nsite ", out);
	conf_dump_str(out, s->name);
	fputs(" {\n\tlisten = {", out);
	for (i = 0; i < s->nlistens; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, s->listens[i]->name);
	}
	fputs("}\n\thosts = {", out);
	for (i = 0; i < s->nhosts; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str2(out, s->hosts[i].wildcard ? "*" : "", s->hosts[i].name);
	}
	fputs("}\n", out);
	if (s->access_log) {
		fputs("\taccess_log = ", out);
		conf_dump_str(out, s->access_log);
		fputc('\n', out);
	}
	fputs("\tforwarded_headers = {", out);
	for (i = 0, n = 0; i < ARRAY_LEN(forwarded_fields); i++)
		if (s->forwarded & forwarded_fields[i].bit)
			fprintf(out, "%s\"%s\"", n++ ? ", " : "", forwarded_fields[i].name);
	fprintf(out, "}\n\tvia = %s\n\thide_server = %s\n", s->via ? "true" : "false",
		s->hide_server ? "true" : "false");
	conf_tls_dump_site(s, out);
	for (i = 0; i < s->nroutes; i++) {
		fputs("\troute ", out);
		conf_dump_str(out, s->routes[i].pattern);
		if (s->routes[i].status) {
			fputs(" { status = true }\n", out);
			continue;
		}
		fputs(" { upstream = ", out);
		conf_dump_str(out, s->routes[i].upstream->name);
		fputs(" }\n", out);
	}
	fputs("}\n", out);
}

void conf_dump(const struct conf *c, FILE *out)
{
	unsigned i;

	fputs("# effective configuration of ", out);
	fputs(c->file, out);
	fputc('\n', out);
	dump_globals(c, out);
	for (i = 0; i < c->nlistens; i++) {
		fputs("\nlisten ", out);
		conf_dump_str(out, c->listens[i].name);
		fputs(" {\n\taddress = ", out);
		conf_dump_str(out, c->listens[i].address);
		fprintf(out, "\n\tbacklog = %d\n\ttls = %s\n}\n", c->listens[i].backlog,
			c->listens[i].tls ? "true" : "false");
	}
	for (i = 0; i < c->nupstreams; i++)
		dump_upstream(&c->upstreams[i], out);
	for (i = 0; i < c->nsites; i++)
		dump_site(&c->sites[i], out);
}
