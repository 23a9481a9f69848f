/*
 * conf_text.h: the configuration's text as libconfuse reads it: the main
 * file with every include() spliced in and comments stripped, newlines
 * kept, and a map from each line of that text back to its file and line.
 *
 * Owns: reading the files (regular files only, of a bounded size), the
 * include() forms and their nesting, and the checks that must see the
 * text as written, so that their errors name the line the mistake is on
 * rather than where libconfuse would notice it: braces that do not
 * balance within a file, a quote not closed on its line, "${" without
 * its "}", an "=" with no value after it, an nginx-style ";", a '*'
 * outside quotes, and unquoted words too long to parse.
 *
 * It also writes, right after each '{' that opens a section (one that
 * does not follow "=", as a list's does), on the same line, a value of
 * the hidden option CONF_TEXT_MARK: parsing it tells the loader that a
 * section opened, and on which line, as the first thing in the section.
 *
 * It exists because libconfuse 3.3 counts two extra lines for every "#"
 * or "//" comment and one for every block comment, and because its own
 * include() resolves relative paths against the working directory.
 */
#ifndef PORTICO_CONF_TEXT_H
#define PORTICO_CONF_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Includes nested deeper than this are refused (a loop, most likely). */
#define CONF_TEXT_MAX_DEPTH 16
/* A file larger than this is refused: a configuration is not that big,
 * and include("/dev/zero") must not eat the memory. */
#define CONF_TEXT_MAX_FILE (16 * 1024 * 1024)
/* Unquoted words longer than this are refused: libconfuse's lexer takes
 * time that grows with the square of their length. */
#define CONF_TEXT_MAX_WORD 4096

/* The hidden option written at the opening of every section: a name no
 * one types (a control character), which only the loader knows. */
#define CONF_TEXT_MARK "\001"

/* The text's line bufline onward comes from file:line. */
struct conf_text_seg {
	int bufline;
	int file;
	int line;
};

struct conf_text {
	char *p;			/* the text, NUL-terminated */
	size_t len, cap;
	int line;			/* its current last line */
	struct conf_text_seg *segs;
	unsigned nsegs;
	char **files;			/* names as given, index = file id */
	unsigned nfiles;
	int main_lines;			/* lines of the main file */
	bool oom;
	/* Where errors go: key orders them (the text's line), file and
	 * line place them. */
	void (*error)(void *arg, long key, int file, int line, const char *msg);
	void *arg;

	struct { dev_t dev; ino_t ino; } stack[CONF_TEXT_MAX_DEPTH + 1];
	int depth;
};

/* Read the main file at path (and what it includes) into t, whose error
 * and arg are set. -1 when the main file cannot be read. */
int conf_text_read(struct conf_text *t, const char *path);

/* Append bytes of our own (the final newline libconfuse wants). */
void conf_text_emit(struct conf_text *t, const char *s, size_t n);

/* The file and line a line of the text comes from. */
void conf_text_locate(const struct conf_text *t, int bufline, int *file, int *line);

/* The directory-relative path of an include() or a path option: arg as
 * is when absolute, else next to the file from. -1 when it does not fit. */
int conf_text_relative(const char *from, const char *arg, char *out, size_t len);

/* path opened for reading if it is a regular file, for the files an
 * option names (error pages, lists of prefixes): a FIFO or a device named
 * by mistake must not hang the master, as opening a FIFO waits for a
 * writer. NULL with errno set, or with why set when errno would not say
 * it. */
FILE *conf_text_open_regular(const char *path, const char **why);

void conf_text_free(struct conf_text *t);

#endif
