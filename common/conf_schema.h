/*
 * conf_schema.h: how an option of the configuration is described, and
 * the machinery every part of the configuration reads, checks, writes
 * back and frees its options with.
 *
 * Owns: the option row (struct conf_option) and what a row means: its
 * name, the section it is allowed in, its type, its default as it would
 * be written in the file, its bounds, where its value goes in the
 * section's structure, and a one-line description (portico.conf(5) and
 * the commented etc/portico.conf list every row; t/unit/test_conf.c
 * holds them to that).
 *
 * Each part of the configuration owns the table of its structure's rows
 * (conf_globals.c, conf_upstream.c, conf_site.c, conf_tls.c), as nginx's
 * modules own their command tables; conf_loader.c puts them together.
 * Adding a plain option is one row and one field. Example, a duration in
 * struct conf_upstream:
 *
 *	{ "idle_timeout", CS_UPSTREAM, CT_DURATION, "60s", 1, CONF_MS_MAX,
 *	  offsetof(struct conf_upstream, idle_timeout), NULL, NULL, NULL,
 *	  "how long an idle kept connection is kept" },
 *
 * Values are read as strings and checked here, so that one bad value
 * never hides the errors after it.
 */
#ifndef PORTICO_CONF_SCHEMA_H
#define PORTICO_CONF_SCHEMA_H

#include <stdio.h>

#include <confuse.h>

#include "conf.h"

struct cidr;

struct loader;

/* The sections an option may be written in, one bit each. */
enum conf_scope {
	CS_GLOBAL = 1 << 0,		/* the top level */
	CS_LISTEN = 1 << 1,
	CS_UPSTREAM = 1 << 2,
	CS_SERVER = 1 << 3,
	CS_HEALTH_CHECK = 1 << 4,
	CS_SITE = 1 << 5,
	CS_TLS = 1 << 6,		/* a site's tls { } */
	CS_ROUTE = 1 << 7,
	CS_CACHE = 1 << 8,		/* cache "NAME" { } at the top level */
	CS_FILTER = 1 << 9,		/* filter "NAME" { } at the top level */
	CS_LIMIT_REQ = 1 << 10,		/* limit_req "NAME" { } at the top level */
	CS_LIMIT_CONN = 1 << 11,	/* limit_conn "NAME" { } at the top level */
	CS_GEO = 1 << 12,		/* geo "NAME" { } at the top level */
	CS_REGION = 1 << 13,		/* an upstream's region "NAME" { } */
	CS_LOG_FORMAT = 1 << 14,	/* log_format "NAME" { } at the top level */
	CS_LOG = 1 << 15		/* a site's log "DESTINATION" { } */
};

enum conf_type {
	CT_BOOL,			/* bool: true/false, yes/no, on/off */
	CT_NUMBER,			/* unsigned, within min..max */
	CT_DURATION,			/* unsigned ms: "500ms", "15s", "2m", "1h" */
	CT_SIZE,			/* size_t bytes: "4096", "16k", "1m", "1g" */
	CT_STRING,			/* char *, not empty */
	CT_PATH,			/* char *, made absolute against the main
					 * file's directory */
	CT_CUSTOM			/* read and written by the row's functions */
};

/* Row flags. */
#define CF_LIST 0x01			/* a list: {"a", "b"}; always CT_CUSTOM */
#define CF_LOG_DEST 0x02		/* CT_PATH, or a "syslog:" destination
					 * kept as written */

/* Bounds of a duration in ms: what conf_parse_duration() accepts. */
#define CONF_MS_MAX 2147483647LL
#define CONF_SIZE_MAX (1LL << 30)

struct conf_option;

/* Read a CT_CUSTOM value (the text, if written, is cfg_getstr(sec,
 * o->name), or o->def) into obj; c is the configuration resolved so far,
 * for names that refer to other sections. */
typedef void (*conf_read_fn)(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			     void *obj, struct conf *c);
/* Further checks of a value read generically, when it was written. */
typedef void (*conf_check_fn)(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			      void *obj);
/* Write a CT_CUSTOM value as the file would have it (-T): the whole
 * "indent name = value\n" line, or nothing when it has none. */
typedef void (*conf_dump_fn)(FILE *out, const struct conf_option *o, const void *obj,
			     const char *indent);

struct conf_option {
	const char *name;		/* NULL ends a table */
	unsigned scope;			/* the enum conf_scope it is allowed in */
	enum conf_type type;
	const char *def;		/* the default, as written in a file;
					 * NULL: none, or the reader's own
					 * (the field is left as it is) */
	long long min, max;		/* CT_NUMBER, CT_DURATION, CT_SIZE */
	size_t offset;			/* of the field in the structure */
	conf_read_fn read;		/* CT_CUSTOM */
	conf_check_fn check;		/* any type, optional */
	conf_dump_fn dump;		/* CT_CUSTOM */
	const char *doc;		/* one line, for the manual */
	unsigned flags;			/* CF_* */
};

/*
 * Read every option of table (the rows of scope sec is) from section
 * sec into obj: defaults for what is not written, one error at its
 * file:line for each bad value.
 */
void conf_read(struct loader *ld, cfg_t *sec, const struct conf_option *table, void *obj,
	       struct conf *c);

/* Write obj's options of table back as the file would have them. */
void conf_write(FILE *out, const struct conf_option *table, const void *obj,
		const char *indent);

/* Free obj's strings of table (CT_STRING and CT_PATH). */
void conf_release(const struct conf_option *table, void *obj);

/* The row of table for name, or NULL. */
const struct conf_option *conf_option_in(const struct conf_option *table, const char *name);

/* The field a row describes in obj. */
static inline void *conf_field(const struct conf_option *o, void *obj)
{
	return (char *)obj + o->offset;
}

static inline const void *conf_cfield(const struct conf_option *o, const void *obj)
{
	return (const char *)obj + o->offset;
}

/* A check for log file options: a file path, not "syslog:..." (nginx's
 * way to name syslog, which portico does not speak). */
void conf_check_log_dest(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj);

/* Writing values back: a quoted string (escaped so that it reads back
 * the same), a duration, a size. */
void conf_dump_str(FILE *out, const char *s);
/* "indent name = "value"" and a newline; nothing when value is NULL. */
void conf_dump_line(FILE *out, const char *indent, const char *name, const char *value);
void conf_dump_str2(FILE *out, const char *prefix, const char *s);
/* "indent name = {"10.0.0.0/8", ...}" and a newline; nothing when n is 0. */
void conf_dump_cidrs(FILE *out, const char *indent, const char *name, const struct cidr *list,
		     unsigned n);
void conf_dump_duration(FILE *out, const char *name, unsigned ms, const char *indent);
void conf_dump_size(FILE *out, const char *name, size_t v, const char *indent);

#endif
