/*
 * conf_loader.h: the configuration loader's services, as the parts that
 * resolve one section kind each (conf_globals.c, conf_upstream.c,
 * conf_site.c, conf_tls.c) and the loading itself (conf.c) use them.
 *
 * Owns: the loader (conf_loader.c): the preprocessed text, the sections
 * libconfuse opened and the lines of their values, and the errors found,
 * kept in file order. Each getter reads one option of a section, reports
 * a bad value as "file:line: message" and carries on with def.
 */
#ifndef PORTICO_CONF_LOADER_H
#define PORTICO_CONF_LOADER_H

#include <stdio.h>

#include <confuse.h>

#include "conf.h"
#include "conf_schema.h"
#include "conf_text.h"

struct cidr;
struct loader;

/* The sections, and where each may be written. */
struct conf_section {
	const char *name;		/* as written: "upstream" */
	unsigned scope;
	unsigned parent;		/* the scope it is written in */
	bool titled;			/* upstream "name" { }, not health_check { } */
	const char *where;		/* in messages: "an upstream" */
};

/* Every section kind, the top level first; NULL-terminated. */
extern const struct conf_section conf_sections[];

/* The section kind named name, or NULL (the top level is "root"). */
const struct conf_section *conf_section_named(const char *name);

/* The section kind of scope. */
const struct conf_section *conf_section_of(unsigned scope);

void ld_error(struct loader *ld, int bufline, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An error at line of path, a file an option names (a list of
 * prefixes), ordered with the errors at bufline, the option's line. */
void ld_error_file(struct loader *ld, int bufline, const char *path, int line,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* An error about the configuration as a whole: at the main file's end. */
void ld_error_global(struct loader *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "file:line" of a line of the text, into buf. */
const char *ld_where(const struct loader *ld, int bufline, char *buf, size_t len);
int ld_sec_line(const struct loader *ld, cfg_t *sec);
int ld_opt_line(const struct loader *ld, cfg_t *sec, const char *name);
/* Whether the option was written in the section (not a default). */
bool ld_opt_written(const struct loader *ld, cfg_t *sec, const char *name);
/* The line of element idx of a list option. */
int ld_opt_line_n(const struct loader *ld, cfg_t *sec, const char *name, unsigned idx);
/* Errors reported so far. */
unsigned ld_error_count(const struct loader *ld);
/* A section's title as written. */
const char *ld_title_of(const struct loader *ld, cfg_t *sec);
/* The main file's name, which relative paths are taken from. */
const char *ld_main_file(const struct loader *ld);

/* Sections the parts refer to by name, as a route names its upstream:
 * the part that resolves them names each (kind: its scope), the parts
 * that refer to them find it in constant time, however many there are.
 * The first of a name is kept (another is a duplicate, reported apart);
 * name must outlive the loader. */
void ld_name(struct loader *ld, unsigned kind, const char *name, void *obj);
void *ld_named(const struct loader *ld, unsigned kind, const char *name);

/* Allocation that records running out of memory in the loader. */
void *ld_realloc(struct loader *ld, void *p, size_t n, size_t size);
char *ld_strdup(struct loader *ld, const char *s);
/* Room for element n of an array of n (capacities 8, 16, 32...). */
void *ld_grow(struct loader *ld, void *p, unsigned n, size_t size);
void ld_out_of_memory(struct loader *ld);

long ld_get_number(struct loader *ld, cfg_t *sec, const char *name, long def,
		   long min, long max);
bool ld_get_bool(struct loader *ld, cfg_t *sec, const char *name, bool def);
/* Not empty; a copy of def when absent (NULL when def is). */
char *ld_get_string(struct loader *ld, cfg_t *sec, const char *name, const char *def);
/* A file path, relative ones taken from the main file's directory. */
char *ld_get_path(struct loader *ld, cfg_t *sec, const char *name, const char *def);
/* The same for element i of a list option. */
char *ld_get_path_n(struct loader *ld, cfg_t *sec, const char *name, unsigned i);
/* A list option of address prefixes ("10.0.0.0/8", "::1") into a new
 * array *list of *n, *n counting from 0; a bad one is an error at its own
 * line, after what ("filter \"x\"") when not NULL, and is left out. */
void ld_get_cidrs(struct loader *ld, cfg_t *sec, const char *name, const char *what,
		  struct cidr **list, unsigned *n);

/* ---- for the loading itself (conf.c) ---- */

/* A loader for the main file path; NULL when out of memory. */
struct loader *ld_new(const char *path);
void ld_free(struct loader *ld);

/* Preprocess the files into the text libconfuse reads; -1 after errors. */
int ld_read_text(struct loader *ld);
const char *ld_text(const struct loader *ld, size_t *len);

/* The hidden option of every section, whose value the preprocessor
 * writes right after the section's '{' (conf_text.h): how the loader
 * learns of each section and its line. Written in a file by hand, it is
 * an option no section has. */
#define LD_SECTION_MARK CONF_TEXT_MARK

/* libconfuse's parse callback of every option: records the line of each
 * value and each section of the current loader. */
int conf_value_cb(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result);

/* libconfuse's validating callback of every titled section option, which
 * it calls with the section each one is written in as it closes: holds
 * the section apart until ld_parsed (see conf_loader.c). */
int conf_section_cb(cfg_t *parent, cfg_opt_t *opt);

/* Make ld current for libconfuse's callbacks while it parses into root. */
void ld_begin(struct loader *ld, cfg_t *root);
/* libconfuse has stopped parsing (done, or at a syntax error): every
 * section is back where libconfuse keeps them, for the getters and for
 * cfg_free(). */
void ld_parsed(struct loader *ld);
void ld_end(void);
struct loader *ld_current(void);

/* Report sections defined twice (libconfuse keeps the last only). */
void ld_check_duplicates(struct loader *ld);

/* Whether anything went wrong; every error as "file:line: message\n",
 * in file order (malloc'd). */
bool ld_failed(const struct loader *ld);
char *ld_errors(struct loader *ld);

#endif
