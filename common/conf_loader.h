/*
 * conf_loader.h: the configuration loader's helpers, for the modules that
 * resolve one part of the configuration (conf_tls.c) beside conf.c.
 *
 * Owns nothing: conf.c owns the loader (the text, the sections and their
 * lines, the errors found). Each getter reads one option of a section,
 * reports a bad value as "file:line: message" and carries on with def.
 */
#ifndef PORTICO_CONF_LOADER_H
#define PORTICO_CONF_LOADER_H

#include <stdio.h>

#include <confuse.h>

#include "conf.h"

struct loader;

void ld_error(struct loader *ld, int bufline, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "file:line" of a line of the text, into buf. */
const char *ld_where(const struct loader *ld, int bufline, char *buf, size_t len);
int ld_sec_line(const struct loader *ld, cfg_t *sec);
int ld_opt_line(const struct loader *ld, cfg_t *sec, const char *name);
/* The line of element idx of a list option. */
int ld_opt_line_n(const struct loader *ld, cfg_t *sec, const char *name, unsigned idx);
/* Errors reported so far. */
unsigned ld_error_count(const struct loader *ld);
const char *ld_title_of(const struct loader *ld, cfg_t *sec);

/* Allocation that records running out of memory in the loader. */
void *ld_realloc(struct loader *ld, void *p, size_t n, size_t size);
char *ld_strdup(struct loader *ld, const char *s);

unsigned ld_get_duration(struct loader *ld, cfg_t *sec, const char *name,
			 unsigned def, bool zero_ok);
size_t ld_get_size(struct loader *ld, cfg_t *sec, const char *name, size_t def);
long ld_get_number(struct loader *ld, cfg_t *sec, const char *name, long def,
		   long min, long max);
bool ld_get_bool(struct loader *ld, cfg_t *sec, const char *name, bool def);
/* Not empty; a copy of def when absent (NULL when def is). */
char *ld_get_string(struct loader *ld, cfg_t *sec, const char *name, const char *def);
/* A file path, relative ones taken from the main file's directory. */
char *ld_get_path(struct loader *ld, cfg_t *sec, const char *name, const char *def);
/* The same for element i of a list option. */
char *ld_get_path_n(struct loader *ld, cfg_t *sec, const char *name, unsigned i);

/* Writing the effective configuration back (conf_dump). */
void conf_dump_str(FILE *out, const char *s);
void conf_dump_str2(FILE *out, const char *prefix, const char *s);
void conf_dump_duration(FILE *out, const char *name, unsigned ms, const char *indent);
void conf_dump_size(FILE *out, const char *name, size_t v);

#endif
