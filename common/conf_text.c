/*
 * conf_text.c: the preprocessor of the configuration.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "core.h"
#include "conf_text.h"

/* One file being read. */
struct src {
	const char *p, *end;
	int file;
	int line;
	int depth;			/* of braces */
	int open[16];			/* lines of the open braces */
	char word[64];			/* the last word, for messages */
	size_t word_len;		/* the length of the word being read */
	char last;			/* the last character not blank nor in a
					 * comment; a string's is its quote */
};

static int read_one(struct conf_text *t, const char *path, int from_file, int from_line);

static void text_error(struct conf_text *t, int file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void text_error(struct conf_text *t, int file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->error(t->arg, t->line, file, line, msg);
}

static void *grow(struct conf_text *t, void *p, unsigned n, size_t size)
{
	void *q;

	if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
		return p;
	q = realloc(p, (n ? 2 * (size_t)n : 8) * size);
	if (q == NULL)
		t->oom = true;
	return q;
}

void conf_text_emit(struct conf_text *t, const char *s, size_t n)
{
	size_t i;

	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *p;

		while (t->len + n + 1 > cap)
			cap *= 2;
		if ((p = realloc(t->p, cap)) == NULL) {
			t->oom = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
	for (i = 0; i < n; i++)
		if (s[i] == '\n')
			t->line++;
}

/* From here on, the text's lines come from file:line. */
static void mark(struct conf_text *t, int file, int line)
{
	struct conf_text_seg *s;

	if (t->nsegs > 0 && t->segs[t->nsegs - 1].bufline == t->line) {
		s = &t->segs[t->nsegs - 1];
	} else {
		s = grow(t, t->segs, t->nsegs, sizeof(*s));
		if (s == NULL)
			return;
		t->segs = s;
		s = &t->segs[t->nsegs++];
	}
	s->bufline = t->line;
	s->file = file;
	s->line = line;
}

void conf_text_locate(const struct conf_text *t, int bufline, int *file, int *line)
{
	unsigned lo = 0, hi = t->nsegs;

	if (t->nsegs == 0) {
		*file = 0;
		*line = bufline;
		return;
	}
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (t->segs[mid].bufline <= bufline)
			lo = mid;
		else
			hi = mid;
	}
	*file = t->segs[lo].file;
	*line = t->segs[lo].line + (bufline - t->segs[lo].bufline);
}

/* libconfuse's unquoted strings are made of these characters. */
static bool is_word_char(char c)
{
	return strchr(" #\"'\t\n\r={}()+,*;", c) == NULL;
}

/* ---- strings ---- */

/*
 * Inside double quotes libconfuse reads "${" up to the next "}", over
 * quotes and lines: one left open would swallow the rest of the file.
 * Whether the "${" at p closes before the string or its line ends.
 */
static bool env_closes(const char *p, const char *end)
{
	for (p += 2; p < end && *p != '}'; p++)
		if (*p == '"' || *p == '\n')
			return false;
	return p < end;
}

/* Copy a quoted string through, escapes included. A string must end on
 * its line: one that does not is reported where it opens, and taken as
 * ending there, so that what follows is read as it was meant. */
static void string(struct conf_text *t, struct src *src)
{
	char quote = *src->p;
	int line = src->line;

	conf_text_emit(t, src->p++, 1);
	while (src->p < src->end) {
		char c = *src->p;
		size_t n = c == '\\' && src->p + 1 < src->end && src->p[1] != '\n' ? 2 : 1;

		if (c == '\n') {
			text_error(t, src->file, line, "this %s quote is not closed on its line",
				   quote == '"' ? "double" : "single");
			conf_text_emit(t, &quote, 1);
			return;
		}
		if (quote == '"' && c == '$' && src->p + 1 < src->end && src->p[1] == '{' &&
		    !env_closes(src->p, src->end)) {
			text_error(t, src->file, line, "\"${\" without its \"}\" in this string "
				   "(write \\$ for a dollar sign)");
			conf_text_emit(t, "\\", 1);
		}
		conf_text_emit(t, src->p, n);
		src->p += n;
		if (c == quote)
			return;
	}
	text_error(t, src->file, line, "this %s quote is not closed",
		   quote == '"' ? "double" : "single");
}

static void block_comment(struct conf_text *t, struct src *src)
{
	int line = src->line;

	for (src->p += 2; src->p < src->end; src->p++) {
		if (src->p[0] == '*' && src->p + 1 < src->end && src->p[1] == '/') {
			src->p += 2;
			conf_text_emit(t, " ", 1);
			return;
		}
		if (*src->p == '\n') {
			conf_text_emit(t, "\n", 1);
			src->line++;
		}
	}
	text_error(t, src->file, line, "this comment is never closed");
}

static void skip_space(struct src *src)
{
	while (src->p < src->end && strchr(" \t\r\n", *src->p) != NULL) {
		if (*src->p == '\n')
			src->line++;
		src->p++;
	}
}

/* ---- include() ---- */

/*
 * Read include()'s argument: a quoted string (a backslash takes the
 * next character as is) or a bare word. Returns its length, -1 if none.
 */
static int include_arg(struct src *src, char *arg, size_t len)
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

int conf_text_relative(const char *from, const char *arg, char *out, size_t len)
{
	const char *slash = strrchr(from, '/');
	int n;

	if (arg[0] == '/' || slash == NULL)
		n = snprintf(out, len, "%s", arg);
	else
		n = snprintf(out, len, "%.*s/%s", (int)(slash - from), from, arg);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void include_glob(struct conf_text *t, const char *pattern, int file, int line)
{
	glob_t g;
	size_t i;
	int rc;

	rc = glob(pattern, GLOB_ERR, NULL, &g);
	if (rc == GLOB_NOMATCH)
		return;		/* like nginx: an empty directory is fine */
	if (rc != 0) {
		text_error(t, file, line, "include(\"%s\"): cannot read: %s", pattern,
			   rc == GLOB_NOSPACE ? "out of memory" : strerror(errno));
		return;
	}
	for (i = 0; i < g.gl_pathc; i++)
		read_one(t, g.gl_pathv[i], file, line);
	globfree(&g);
}

/*
 * At "include": if "(arg)" follows, splice the file in, on lines of its
 * own, and return true; otherwise leave src alone and return false.
 */
static bool include(struct conf_text *t, struct src *src)
{
	struct src save = *src;
	char arg[PATH_MAX], path[PATH_MAX];
	int line = src->line;

	src->p += sizeof("include") - 1;
	skip_space(src);
	if (src->p == src->end || *src->p != '(') {
		*src = save;
		return false;
	}
	src->p++;
	skip_space(src);
	if (src->p < src->end && *src->p == ')') {
		text_error(t, src->file, line, "include() needs a file name");
		src->p++;
		return true;
	}
	if (include_arg(src, arg, sizeof(arg)) <= 0) {
		text_error(t, src->file, line, "bad include(): expected a file name");
		goto skip;
	}
	skip_space(src);
	if (src->p == src->end || *src->p != ')') {
		text_error(t, src->file, line, "bad include(): expected one file name and \")\"");
		goto skip;
	}
	src->p++;

	if (conf_text_relative(t->files[src->file], arg, path, sizeof(path)) == -1) {
		text_error(t, src->file, line, "include(): file name too long");
		return true;
	}
	conf_text_emit(t, "\n", 1);
	if (strpbrk(arg, "*?[") != NULL)
		include_glob(t, path, src->file, line);
	else
		read_one(t, path, src->file, line);
	conf_text_emit(t, "\n", 1);
	mark(t, src->file, src->line);
	return true;

skip:
	while (src->p < src->end && *src->p != ')' && *src->p != '\n')
		src->p++;
	if (src->p < src->end && *src->p == ')')
		src->p++;
	return true;
}

static bool at_include(const struct src *src)
{
	size_t n = sizeof("include") - 1;

	return (size_t)(src->end - src->p) >= n && memcmp(src->p, "include", n) == 0 &&
	       (src->p + n == src->end || !is_word_char(src->p[n]));
}

/* ---- the scan ---- */

/*
 * Braces must balance within each file: libconfuse accepts a section
 * still open at the end, and an included file's stray brace would close
 * a section of the file including it.
 */
static void brace(struct conf_text *t, struct src *src)
{
	if (*src->p == '{') {
		if (src->depth < (int)ARRAY_LEN(src->open))
			src->open[src->depth] = src->line;
		src->depth++;
	} else if (src->depth == 0) {
		text_error(t, src->file, src->line, "unexpected '}' (no section is open)");
	} else {
		src->depth--;
	}
}

/* An "=" must have its value on its line: libconfuse would take the next
 * line's first word for it and report a puzzle further down. */
static void equals(struct conf_text *t, struct src *src)
{
	const char *p = src->p + 1;

	while (p < src->end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	if (p == src->end || *p == '\n' || *p == '#' ||
	    (*p == '/' && p + 1 < src->end && (p[1] == '/' || p[1] == '*')))
		text_error(t, src->file, src->line, "\"%s =\" has no value (a value goes on "
			   "the same line as its name)", src->word);
}

/* The end of an unquoted word. */
static void word_end(struct conf_text *t, struct src *src)
{
	if (src->word_len > CONF_TEXT_MAX_WORD)
		text_error(t, src->file, src->line, "an unquoted value of %zu bytes: longer than "
			   "%d, it must be quoted", src->word_len, CONF_TEXT_MAX_WORD);
	src->word_len = 0;
}

static void word_char(struct src *src, char c)
{
	if (src->word_len + 1 < sizeof(src->word))
		src->word[src->word_len] = c, src->word[src->word_len + 1] = '\0';
	src->word_len++;
}

static void scan(struct conf_text *t, struct src *src)
{
	while (src->p < src->end) {
		char c = *src->p;
		char next = src->p + 1 < src->end ? src->p[1] : '\0';

		if (is_word_char(c) && !(c == '/' && (next == '/' || next == '*'))) {
			if (src->word_len == 0 && c == 'i' && at_include(src) && include(t, src))
				continue;
			word_char(src, c);
			src->last = c;
			conf_text_emit(t, src->p++, 1);
			continue;
		}
		if (src->word_len > 0)
			word_end(t, src);
		if (c == '"' || c == '\'') {
			string(t, src);
			src->last = c;
		} else if (c == '#' || (c == '/' && next == '/')) {
			while (src->p < src->end && *src->p != '\n')
				src->p++;
		} else if (c == '/' && next == '*') {
			block_comment(t, src);
		} else if (c == '*') {
			/* libconfuse would silently drop it */
			text_error(t, src->file, src->line, "'*' must be quoted, as in "
				   "\"*.example.com\"");
			conf_text_emit(t, " ", 1);
			src->p++;
		} else if (c == ';') {
			text_error(t, src->file, src->line, "unexpected ';': an option ends at the "
				   "end of its line (name = value), with no ';' as in nginx");
			conf_text_emit(t, " ", 1);
			src->p++;
		} else {
			if (c == '\n')
				src->line++;
			if (c == '{' || c == '}')
				brace(t, src);
			if (c == '=')
				equals(t, src);
			conf_text_emit(t, src->p++, 1);
			if (c == '{' && src->last != '=')
				conf_text_emit(t, " " CONF_TEXT_MARK " = x ",
					       sizeof(" " CONF_TEXT_MARK " = x ") - 1);
			if (strchr(" \t\r\n", c) == NULL)
				src->last = c;
		}
	}
	if (src->word_len > 0)
		word_end(t, src);
}

/* ---- files ---- */

static int intern(struct conf_text *t, const char *path)
{
	char **f;
	unsigned i;

	for (i = 0; i < t->nfiles; i++)
		if (strcmp(t->files[i], path) == 0)
			return (int)i;
	f = grow(t, t->files, t->nfiles, sizeof(*f));
	if (f == NULL)
		return -1;
	t->files = f;
	if ((f[t->nfiles] = strdup(path)) == NULL) {
		t->oom = true;
		return -1;
	}
	return (int)t->nfiles++;
}

FILE *conf_text_open_regular(const char *path, const char **why)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), err;
	struct stat st;
	FILE *f;

	*why = NULL;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		;		/* errno says why */
	else if (!S_ISREG(st.st_mode))
		*why = S_ISDIR(st.st_mode) ? "a directory, not a file" : "not a regular file";
	else if ((f = fdopen(fd, "r")) != NULL)
		return f;
	err = errno;
	close(fd);
	errno = err;
	return NULL;
}

/*
 * Read a whole regular file of at most CONF_TEXT_MAX_FILE bytes; NULL
 * on failure, with errno set, or why when errno would not say it. It is
 * looked at before it is opened: opening a FIFO would wait for a writer.
 */
static char *slurp(const char *path, size_t *len, struct stat *st, const char **why)
{
	size_t cap;
	ssize_t n = 0;
	char *buf;
	int fd, err;

	*why = NULL;
	if (stat(path, st) < 0)
		return NULL;
	if (!S_ISREG(st->st_mode)) {
		*why = S_ISDIR(st->st_mode) ? "a directory, not a file" : "not a regular file";
		return NULL;
	}
	if (st->st_size > CONF_TEXT_MAX_FILE) {
		*why = "larger than 16 MiB";
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return NULL;
	cap = (size_t)st->st_size + 1;
	if ((buf = malloc(cap)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	*len = 0;
	while (*len < cap && (n = read(fd, buf + *len, cap - *len)) > 0)
		*len += (size_t)n;
	err = errno;
	close(fd);
	if (n < 0 || *len == cap) {
		free(buf);
		if (n >= 0)
			*why = "it grew while it was read";
		errno = err;
		return NULL;
	}
	return buf;
}

/*
 * Preprocess one file into the text. from_file < 0 for the main file;
 * otherwise errors opening it are reported at the include() line.
 */
static int read_one(struct conf_text *t, const char *path, int from_file, int from_line)
{
	struct src src;
	struct stat st;
	const char *why;
	char *buf;
	size_t len = 0;
	int i, id;

	if (t->depth >= CONF_TEXT_MAX_DEPTH) {
		text_error(t, from_file, from_line, "include(\"%s\"): includes nested too deeply",
			   path);
		return -1;
	}
	buf = slurp(path, &len, &st, &why);
	if (buf == NULL) {
		const char *reason = why ? why : strerror(errno);

		if (from_file < 0)
			text_error(t, 0, 0, "cannot read: %s", reason);
		else
			text_error(t, from_file, from_line, "include(\"%s\"): cannot read: %s",
				   path, reason);
		return -1;
	}
	for (i = 0; i < t->depth; i++)
		if (t->stack[i].dev == st.st_dev && t->stack[i].ino == st.st_ino) {
			text_error(t, from_file, from_line, "include(\"%s\"): the file includes "
				   "itself", path);
			free(buf);
			return -1;
		}
	if ((id = intern(t, path)) < 0) {
		free(buf);
		return -1;
	}
	t->stack[t->depth].dev = st.st_dev;
	t->stack[t->depth].ino = st.st_ino;
	t->depth++;

	memset(&src, 0, sizeof(src));
	src.p = buf;
	src.end = buf + len;
	src.file = id;
	src.line = 1;
	mark(t, id, 1);
	scan(t, &src);
	if (src.depth > 0)
		text_error(t, id, src.open[MIN(src.depth, (int)ARRAY_LEN(src.open)) - 1],
			   "this '{' is never closed");
	if (from_file < 0)
		t->main_lines = src.line - (len > 0 && buf[len - 1] == '\n');

	t->depth--;
	free(buf);
	return 0;
}

int conf_text_read(struct conf_text *t, const char *path)
{
	t->line = 1;
	t->main_lines = 1;
	if (intern(t, path) != 0)
		return -1;
	return read_one(t, path, -1, 0);
}

void conf_text_free(struct conf_text *t)
{
	unsigned i;

	for (i = 0; i < t->nfiles; i++)
		free(t->files[i]);
	free(t->files);
	free(t->segs);
	free(t->p);
}
