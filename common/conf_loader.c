/*
 * conf_loader.c: the loader: the preprocessed text, what libconfuse
 * parses of it (sections and the lines of their values), the errors
 * found, and the getters the parts read options with.
 *
 * libconfuse gives its callbacks no user pointer, and its lexer is
 * global anyway: one loader is current at a time (ld_begin).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cidr.h"
#include "core.h"
#include "conf_loader.h"
#include "conf_parts.h"
#include "conf_text.h"

/* Where the values of an option were written: their lines in the
 * preprocessed text, by element of the list (one for a plain option).
 * A section has one per option written, so finding one is bounded by
 * the schema, and a list of any length costs one step per element. */
struct opt_lines {
	char name[32];
	int *line;			/* [element] */
	unsigned n;
};

/* The closed sections of one titled option of a section, held apart
 * from libconfuse while it parses (see "Holding titled sections apart"). */
struct held {
	cfg_opt_t *opt;
	cfg_value_t **values;
	unsigned n;
};

/* One section as libconfuse opened it, in file order. */
struct sec_info {
	cfg_t *sec;
	const struct conf_section *kind;
	char *title;			/* as written */
	int line;			/* of its '{' */
	int parent;			/* top-level section of a nested one */
	int seq;
	struct opt_lines *opts;
	unsigned nopts;
	struct held *held;		/* its titled sections, one per option */
	unsigned nheld;
};

/* A section the parts refer to by name, resolved. */
struct named {
	unsigned kind;
	const char *name;		/* NULL: a free slot */
	void *obj;
};

struct ld_err {
	long key;			/* orders errors as they appear */
	int seq;
	int file;			/* -1: msg names its own place */
	int line;			/* 0: the file as a whole */
	char *msg;
};

struct loader {
	const char *main_file;
	bool oom;
	struct conf_text text;
	struct ld_err *errs;
	unsigned nerrs;
	struct sec_info *secs;		/* [0] is the root */
	unsigned nsecs;
	int cur_top;			/* the top-level section being parsed */
	cfg_t **hkeys;			/* section -> index in secs */
	int *hvals;
	unsigned hcap, hn;
	struct named *names;		/* see ld_name */
	unsigned ncap, nn;
};

static struct loader *current;

/* ---- section kinds ---- */

const struct conf_section conf_sections[] = {
	{ "root", CS_GLOBAL, 0, false, "the top level" },
	{ "listen", CS_LISTEN, CS_GLOBAL, true, "a listen section" },
	{ "upstream", CS_UPSTREAM, CS_GLOBAL, true, "an upstream" },
	{ "server", CS_SERVER, CS_UPSTREAM, true, "a server" },
	{ "health_check", CS_HEALTH_CHECK, CS_UPSTREAM, false, "a health_check" },
	{ "site", CS_SITE, CS_GLOBAL, true, "a site" },
	{ "tls", CS_TLS, CS_SITE, false, "a site's tls section" },
	{ "route", CS_ROUTE, CS_SITE, true, "a route" },
	{ "cache", CS_CACHE, CS_GLOBAL, true, "a cache section" },
	{ "filter", CS_FILTER, CS_GLOBAL, true, "a filter" },
	{ "limit_req", CS_LIMIT_REQ, CS_GLOBAL, true, "a limit_req section" },
	{ "limit_conn", CS_LIMIT_CONN, CS_GLOBAL, true, "a limit_conn section" },
	{ "geo", CS_GEO, CS_GLOBAL, true, "a geo section" },
	{ "region", CS_REGION, CS_UPSTREAM, true, "an upstream's region section" },
	{ "log_format", CS_LOG_FORMAT, CS_GLOBAL, true, "a log_format section" },
	{ "log", CS_LOG, CS_SITE, true, "a site's log section" },
	{ NULL, 0, 0, false, NULL }
};

const struct conf_section *conf_section_named(const char *name)
{
	const struct conf_section *s;

	for (s = conf_sections; s->name != NULL; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

const struct conf_section *conf_section_of(unsigned scope)
{
	const struct conf_section *s;

	for (s = conf_sections; s->name != NULL; s++)
		if (s->scope == scope)
			return s;
	return conf_sections;
}

/* ---- memory ---- */

void ld_out_of_memory(struct loader *ld)
{
	ld->oom = true;
}

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

void *ld_grow(struct loader *ld, void *p, unsigned n, size_t size)
{
	if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
		return p;
	return ld_realloc(ld, p, n ? 2 * (size_t)n : 8, size);
}

/* ---- errors ---- */

/*
 * A message as it may reach a terminal or a log line: every control
 * byte of a value quoted in it is escaped, so a value holding a newline
 * or an escape sequence cannot split the message or act on a terminal.
 */
static void escape_controls(char *out, size_t cap, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *in && o + 5 < cap; in++) {
		unsigned char c = (unsigned char)*in;

		if (c >= 0x20 && c != 0x7f) {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '\\';
		if (c == '\n' || c == '\t' || c == '\r') {
			out[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			continue;
		}
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	if (*in != '\0') {		/* cut short: say so */
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void add_error(struct loader *ld, long key, int file, int line, const char *msg)
{
	struct ld_err *e;
	char clean[1024];

	escape_controls(clean, sizeof(clean), msg);
	e = ld_grow(ld, ld->errs, ld->nerrs, sizeof(*e));
	if (e == NULL)
		return;
	ld->errs = e;
	e = &ld->errs[ld->nerrs];
	if ((e->msg = ld_strdup(ld, clean)) == NULL)
		return;
	e->key = key;
	e->seq = (int)ld->nerrs;
	e->file = file;
	e->line = line;
	ld->nerrs++;
}

static void text_error(void *arg, long key, int file, int line, const char *msg)
{
	add_error(arg, key, file, line, msg);
}

void ld_error(struct loader *ld, int bufline, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int file, line;

	conf_text_locate(&ld->text, bufline, &file, &line);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_error(ld, bufline, file, line, msg);
}

void ld_error_file(struct loader *ld, int bufline, const char *path, int line,
		   const char *fmt, ...)
{
	char msg[1024], placed[1024 + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(placed, sizeof(placed), "%.200s:%d: %s", path, line, msg);
	add_error(ld, bufline, -1, line, placed);
}

void ld_error_global(struct loader *ld, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_error(ld, LONG_MAX, 0, ld->text.main_lines, msg);
}

const char *ld_where(const struct loader *ld, int bufline, char *buf, size_t len)
{
	int file, line;

	conf_text_locate(&ld->text, bufline, &file, &line);
	snprintf(buf, len, "%s:%d", ld->text.files[file], line);
	return buf;
}

unsigned ld_error_count(const struct loader *ld)
{
	return ld->nerrs;
}

static int err_cmp(const void *a, const void *b)
{
	const struct ld_err *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->seq - y->seq;
}

char *ld_errors(struct loader *ld)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	unsigned i;

	if (ld->oom && ld->nerrs == 0)
		return strdup("out of memory while reading the configuration\n");
	if ((f = open_memstream(&out, &len)) == NULL)
		return NULL;
	qsort(ld->errs, ld->nerrs, sizeof(*ld->errs), err_cmp);
	for (i = 0; i < ld->nerrs; i++) {
		const struct ld_err *e = &ld->errs[i];

		if (e->file < 0)
			fprintf(f, "%s\n", e->msg);
		else if (e->line > 0)
			fprintf(f, "%s:%d: %s\n", ld->text.files[e->file], e->line, e->msg);
		else
			fprintf(f, "%s: %s\n", ld->text.files[e->file], e->msg);
	}
	fclose(f);
	return out;
}

bool ld_failed(const struct loader *ld)
{
	return ld->nerrs > 0 || ld->oom || ld->text.oom;
}

/* ---- the loader ---- */

struct loader *ld_new(const char *path)
{
	struct loader *ld = calloc(1, sizeof(*ld));

	if (ld == NULL)
		return NULL;
	ld->main_file = path;
	ld->text.error = text_error;
	ld->text.arg = ld;
	return ld;
}

const char *ld_main_file(const struct loader *ld)
{
	return ld->main_file;
}

int ld_read_text(struct loader *ld)
{
	conf_text_read(&ld->text, ld->main_file);
	if (ld->text.len == 0 || ld->text.p[ld->text.len - 1] != '\n')
		conf_text_emit(&ld->text, "\n", 1);	/* fmemopen() dislikes empty buffers */
	return ld_failed(ld) ? -1 : 0;
}

const char *ld_text(const struct loader *ld, size_t *len)
{
	*len = ld->text.len;
	return ld->text.p;
}

void ld_free(struct loader *ld)
{
	unsigned i, j;

	if (ld == NULL)
		return;
	conf_text_free(&ld->text);
	for (i = 0; i < ld->nerrs; i++)
		free(ld->errs[i].msg);
	free(ld->errs);
	for (i = 0; i < ld->nsecs; i++) {
		free(ld->secs[i].title);
		for (j = 0; j < ld->secs[i].nopts; j++)
			free(ld->secs[i].opts[j].line);
		free(ld->secs[i].opts);
		free(ld->secs[i].held);
	}
	free(ld->secs);
	free(ld->hkeys);
	free(ld->hvals);
	free(ld->names);
	free(ld);
}

/* ---- sections and the lines of their values ---- */

static unsigned ptr_hash(const void *p, unsigned cap)
{
	return (unsigned)(((uintptr_t)p >> 4) * 2654435761u) & (cap - 1);
}

static int sec_find(const struct loader *ld, const cfg_t *sec)
{
	unsigned i;

	if (ld->hcap == 0)
		return -1;
	for (i = ptr_hash(sec, ld->hcap); ld->hkeys[i] != NULL; i = (i + 1) & (ld->hcap - 1))
		if (ld->hkeys[i] == sec)
			return ld->hvals[i];
	return -1;
}

static int sec_rehash(struct loader *ld)
{
	unsigned cap = ld->hcap ? ld->hcap * 2 : 64, i, j;
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
		for (i = ptr_hash(ld->hkeys[j], cap); keys[i] != NULL; i = (i + 1) & (cap - 1))
			;
		keys[i] = ld->hkeys[j];
		vals[i] = ld->hvals[j];
	}
	free(ld->hkeys);
	free(ld->hvals);
	ld->hkeys = keys;
	ld->hvals = vals;
	ld->hcap = cap;
	return 0;
}

static void sec_put(struct loader *ld, cfg_t *sec, int idx)
{
	unsigned i;

	if (ld->hn + 1 > ld->hcap / 2 && sec_rehash(ld) < 0)
		return;
	for (i = ptr_hash(sec, ld->hcap); ld->hkeys[i] != NULL; i = (i + 1) & (ld->hcap - 1))
		if (ld->hkeys[i] == sec) {
			ld->hvals[i] = idx;
			return;
		}
	ld->hkeys[i] = sec;
	ld->hvals[i] = idx;
	ld->hn++;
}

/* opt's default, def, a list as a file writes it, of plain quoted
 * strings ({"a", "b"}), set as libconfuse sets defaults: values that a
 * first "=" replaces and that "+=" adds to. */
static void set_list_default(struct loader *ld, cfg_opt_t *opt, const char *def)
{
	const char *p = def, *end;
	char item[128];
	unsigned n = 0;

	while ((p = strchr(p, '"')) != NULL && (end = strchr(p + 1, '"')) != NULL) {
		snprintf(item, sizeof(item), "%.*s", (int)(end - p - 1), p + 1);
		if (cfg_opt_setnstr(opt, item, n++) != CFG_SUCCESS)
			ld->oom = true;
		p = end + 1;
	}
	opt->flags |= CFGF_RESET;
	opt->flags &= ~CFGF_MODIFIED;
}

/*
 * The defaults of the lists of sec, a section of kind scope, as it opens.
 * libconfuse would parse each one's text again in every section, with a
 * stream and a lexer buffer of its own: a third of the time of loading
 * thousands of sites. So it is given none (conf.c) and they are set here.
 */
static void set_list_defaults(struct loader *ld, cfg_t *sec, unsigned scope)
{
	const struct conf_option *const *t, *o;
	cfg_opt_t *opt;

	for (t = conf_option_tables; *t != NULL; t++)
		for (o = *t; o->name != NULL; o++)
			if (o->scope == scope && (o->flags & CF_LIST) && o->def != NULL &&
			    (opt = cfg_getopt(sec, o->name)) != NULL)
				set_list_default(ld, opt, o->def);
}

void ld_begin(struct loader *ld, cfg_t *root)
{
	current = ld;
	ld->secs = ld_grow(ld, NULL, 0, sizeof(*ld->secs));
	if (ld->secs == NULL)
		return;
	memset(&ld->secs[0], 0, sizeof(ld->secs[0]));
	ld->secs[0].sec = root;
	ld->secs[0].kind = conf_sections;
	ld->secs[0].line = 1;
	ld->nsecs = 1;
	sec_put(ld, root, 0);
	set_list_defaults(ld, root, CS_GLOBAL);
}

void ld_end(void)
{
	current = NULL;
}

struct loader *ld_current(void)
{
	return current;
}

/*
 * A section was just opened: record it, its line and its title as
 * written. Untitled sections (health_check) keep a NULL title: each
 * occurrence is a new one, counted where it is resolved. Sections with
 * the same title are found afterwards (ld_check_duplicates).
 */
static void on_section(struct loader *ld, cfg_t *sec)
{
	struct sec_info *si;
	int idx = sec_find(ld, sec);

	if (idx >= 0) {		/* the mark, written in the file by hand */
		ld_error(ld, sec->line, "no such option \"%s\" in %s", LD_SECTION_MARK,
			 ld->secs[idx].kind->where);
		return;
	}
	idx = (int)ld->nsecs;
	si = ld_grow(ld, ld->secs, ld->nsecs, sizeof(*si));
	if (si == NULL)
		return;
	ld->secs = si;
	si = &ld->secs[idx];
	memset(si, 0, sizeof(*si));
	si->sec = sec;
	si->kind = conf_section_named(cfg_name(sec));
	if (si->kind == NULL)
		si->kind = conf_sections;
	if (sec->title != NULL && (si->title = ld_strdup(ld, sec->title)) == NULL)
		return;
	si->line = sec->line;
	si->seq = idx;
	si->parent = -1;
	if (si->kind->parent != CS_GLOBAL)
		si->parent = ld->cur_top;
	else
		ld->cur_top = idx;
	ld->nsecs++;
	sec_put(ld, sec, idx);
	set_list_defaults(ld, sec, si->kind->scope);
}

static struct opt_lines *lines_of(const struct sec_info *si, const char *name)
{
	unsigned i;

	for (i = 0; i < si->nopts; i++)
		if (strcmp(si->opts[i].name, name) == 0)
			return &si->opts[i];
	return NULL;
}

/* A value of opt was parsed: element idx is at the section's line (a
 * list written again starts over at 0). */
static void on_value(struct loader *ld, cfg_t *sec, cfg_opt_t *opt)
{
	struct sec_info *si;
	struct opt_lines *ol;
	unsigned idx = opt->nvalues ? opt->nvalues - 1 : 0;
	int *line, s = sec_find(ld, sec);

	if (s < 0)
		return;
	si = &ld->secs[s];
	if ((ol = lines_of(si, opt->name)) == NULL) {
		if ((ol = ld_grow(ld, si->opts, si->nopts, sizeof(*ol))) == NULL)
			return;
		si->opts = ol;
		ol = &si->opts[si->nopts++];
		memset(ol, 0, sizeof(*ol));
		snprintf(ol->name, sizeof(ol->name), "%s", opt->name);
	}
	if (idx < ol->n) {
		ol->line[idx] = sec->line;
		return;
	}
	if (idx > ol->n || (line = ld_grow(ld, ol->line, ol->n, sizeof(*line))) == NULL)
		return;
	ol->line = line;
	ol->line[ol->n++] = sec->line;
}

int conf_value_cb(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
	*(const char **)result = value;
	if (current == NULL)
		return 0;
	if (strcmp(opt->name, LD_SECTION_MARK) == 0)
		on_section(current, sec);
	else
		on_value(current, sec, opt);
	return 0;
}

/*
 * Holding titled sections apart. When a titled section opens, libconfuse
 * looks through every section of its option already parsed for one of
 * the same title, to replace it: a compare per earlier section, so n
 * sections cost n*n/2 (minutes for 100,000 routes). Sections with the
 * same title are the loader's business (ld_check_duplicates, which
 * reports them instead of dropping one). So each titled section, once
 * closed, is taken out of its option and held here, leaving libconfuse
 * nothing to look through; ld_parsed puts them all back, in file order,
 * before anything reads them.
 */

/* The sections held of option opt of section si; NULL when out of memory. */
static struct held *held_of(struct loader *ld, struct sec_info *si, cfg_opt_t *opt)
{
	struct held *h;
	unsigned i;

	for (i = 0; i < si->nheld; i++)
		if (si->held[i].opt == opt)
			return &si->held[i];
	if ((h = ld_grow(ld, si->held, si->nheld, sizeof(*h))) == NULL)
		return NULL;
	si->held = h;
	h = &si->held[si->nheld++];
	memset(h, 0, sizeof(*h));
	h->opt = opt;
	return h;
}

static void hold_values(struct loader *ld, struct sec_info *si, cfg_opt_t *opt)
{
	struct held *h = held_of(ld, si, opt);
	unsigned i;

	if (h == NULL)
		return;		/* left to libconfuse: slow, still right */
	for (i = 0; i < opt->nvalues; i++) {
		cfg_value_t **v = ld_grow(ld, h->values, h->n, sizeof(*v));

		if (v == NULL) {
			h->n -= i;	/* all stay with libconfuse */
			return;
		}
		h->values = v;
		h->values[h->n++] = opt->values[i];
	}
	free(opt->values);
	opt->values = NULL;
	opt->nvalues = 0;
}

/* Give opt back its sections: the held ones, then any libconfuse still
 * has (one left open by a syntax error). */
static void return_values(struct loader *ld, struct held *h)
{
	cfg_opt_t *opt = h->opt;
	cfg_value_t **v = h->values;

	if (opt->nvalues > 0) {
		v = ld_realloc(ld, h->values, (size_t)h->n + opt->nvalues, sizeof(*v));
		if (v == NULL) {
			cfg_free_value(opt);	/* the parse failed anyway */
			v = h->values;
		} else {
			memcpy(v + h->n, opt->values, opt->nvalues * sizeof(*v));
			free(opt->values);
		}
	}
	opt->values = v;
	opt->nvalues += h->n;
	h->values = NULL;
	h->n = 0;
}

/*
 * A section gets its own copy of the option tables of the sections that
 * may be written in it (a site, of the route's and tls's), to make them
 * from as they open; closed, it opens none, and the copies (half of a
 * site's memory, and most of the time of loading thousands of sites is
 * touching new memory) are freed as libconfuse would free them with it:
 * each row's strings, the rows within, then the table.
 */
static void free_table_copy(cfg_opt_t *opts)
{
	cfg_opt_t *o;

	for (o = opts; o->name != NULL; o++) {
		free((void *)o->name);
		free(o->comment);
		free(o->def.parsed);
		free((void *)o->def.string);
		if (o->subopts != NULL)
			free_table_copy(o->subopts);
	}
	free(opts);
}

static void drop_table_copies(cfg_t *sec)
{
	cfg_opt_t *o;

	for (o = sec->opts; o->name != NULL; o++)
		if (o->type == CFGT_SEC && o->subopts != NULL) {
			free_table_copy(o->subopts);
			o->subopts = NULL;
		}
}

int conf_section_cb(cfg_t *parent, cfg_opt_t *opt)
{
	int p;

	if (current == NULL || (p = sec_find(current, parent)) < 0)
		return 0;
	if (opt->nvalues > 0)
		drop_table_copies(opt->values[opt->nvalues - 1]->section);
	hold_values(current, &current->secs[p], opt);
	return 0;
}

void ld_parsed(struct loader *ld)
{
	unsigned i, j;

	for (i = 0; i < ld->nsecs; i++)
		for (j = 0; j < ld->secs[i].nheld; j++)
			return_values(ld, &ld->secs[i].held[j]);
}

int ld_sec_line(const struct loader *ld, cfg_t *sec)
{
	int s = sec_find(ld, sec);

	return s < 0 ? 1 : ld->secs[s].line;
}

int ld_opt_line_n(const struct loader *ld, cfg_t *sec, const char *name, unsigned idx)
{
	const struct opt_lines *ol;
	int s = sec_find(ld, sec);

	if (s < 0)
		return 1;
	ol = lines_of(&ld->secs[s], name);
	return ol != NULL && idx < ol->n ? ol->line[idx] : ld->secs[s].line;
}

bool ld_opt_written(const struct loader *ld, cfg_t *sec, const char *name)
{
	int s = sec_find(ld, sec);

	return s >= 0 && lines_of(&ld->secs[s], name) != NULL;
}

int ld_opt_line(const struct loader *ld, cfg_t *sec, const char *name)
{
	return ld_opt_line_n(ld, sec, name, 0);
}

const char *ld_title_of(const struct loader *ld, cfg_t *sec)
{
	int s = sec_find(ld, sec);

	return s < 0 || ld->secs[s].title == NULL ? "" : ld->secs[s].title;
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

void ld_check_duplicates(struct loader *ld)
{
	struct sec_info **v;
	unsigned i, first, n = 0;
	char where[PATH_MAX + 16];

	v = ld_realloc(ld, NULL, ld->nsecs, sizeof(*v));
	if (v == NULL)
		return;
	/* Routes may share a pattern: their conditions tell them apart,
	 * and the first in the file whose conditions hold is taken. */
	for (i = 1; i < ld->nsecs; i++)
		if (ld->secs[i].title != NULL && ld->secs[i].kind->scope != CS_ROUTE)
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
			ld_error(ld, b->line, "%s \"%s\" is defined twice in %s \"%s\" (first at %s)",
				 b->kind->name, b->title, ld->secs[b->parent].kind->name,
				 ld->secs[b->parent].title, where);
		else
			ld_error(ld, b->line, "duplicate %s \"%s\" (first defined at %s)",
				 b->kind->name, b->title, where);
	}
	free(v);
}

/* ---- names ---- */

static unsigned name_hash(unsigned kind, const char *name, unsigned cap)
{
	uint32_t h = 2166136261u ^ kind;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h & (cap - 1);
}

static struct named *name_slot(struct named *t, unsigned cap, unsigned kind, const char *name)
{
	unsigned i;

	for (i = name_hash(kind, name, cap); t[i].name != NULL; i = (i + 1) & (cap - 1))
		if (t[i].kind == kind && strcmp(t[i].name, name) == 0)
			break;
	return &t[i];
}

static int names_grow(struct loader *ld)
{
	unsigned cap = ld->ncap ? ld->ncap * 2 : 64, i;
	struct named *t = calloc(cap, sizeof(*t));

	if (t == NULL) {
		ld->oom = true;
		return -1;
	}
	for (i = 0; i < ld->ncap; i++)
		if (ld->names[i].name != NULL)
			*name_slot(t, cap, ld->names[i].kind, ld->names[i].name) = ld->names[i];
	free(ld->names);
	ld->names = t;
	ld->ncap = cap;
	return 0;
}

void ld_name(struct loader *ld, unsigned kind, const char *name, void *obj)
{
	struct named *e;

	if (name == NULL || (ld->nn + 1 > ld->ncap / 2 && names_grow(ld) < 0))
		return;
	e = name_slot(ld->names, ld->ncap, kind, name);
	if (e->name != NULL)
		return;		/* the first of a name is the one meant */
	e->kind = kind;
	e->name = name;
	e->obj = obj;
	ld->nn++;
}

void *ld_named(const struct loader *ld, unsigned kind, const char *name)
{
	const struct named *e;

	if (ld->ncap == 0)
		return NULL;
	e = name_slot(ld->names, ld->ncap, kind, name);
	return e->name != NULL ? e->obj : NULL;
}

/* ---- getters ---- */

long ld_get_number(struct loader *ld, cfg_t *sec, const char *name, long def, long min,
		   long max)
{
	const char *s = cfg_getstr(sec, name);
	long v;

	if (s == NULL)
		return def;
	v = conf_parse_number(s);
	if (v < min || v > max) {
		ld_error(ld, ld_opt_line(ld, sec, name), "%s: bad number \"%s\" (expected %ld to %ld)",
			 name, s, min, max);
		return def;
	}
	return v;
}

bool ld_get_bool(struct loader *ld, cfg_t *sec, const char *name, bool def)
{
	const char *s = cfg_getstr(sec, name);

	if (s == NULL)
		return def;
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0)
		return true;
	if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0)
		return false;
	ld_error(ld, ld_opt_line(ld, sec, name), "%s: expected true or false, not \"%s\"", name, s);
	return def;
}

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

/* s, a relative path, made absolute against the main file's directory
 * (as includes are, since the daemon's working directory is "/"); s is
 * freed. */
static char *make_absolute(struct loader *ld, char *s, int line, const char *name)
{
	char full[PATH_MAX], *abs;

	if (conf_text_relative(ld->main_file, s, full, sizeof(full)) < 0) {
		ld_error(ld, line, "%s is too long", name);
		return s;
	}
	if ((abs = ld_strdup(ld, full)) == NULL)
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

void ld_get_cidrs(struct loader *ld, cfg_t *sec, const char *name, const char *what,
		  struct cidr **list, unsigned *n)
{
	unsigned i, count = cfg_size(sec, name);
	char err[160];

	*n = 0;
	if (count == 0 || (*list = ld_realloc(ld, NULL, count, sizeof(**list))) == NULL)
		return;
	for (i = 0; i < count; i++) {
		if (cidr_parse(cfg_getnstr(sec, name, i), &(*list)[*n], err, sizeof(err)) == 0)
			(*n)++;
		else
			ld_error(ld, ld_opt_line_n(ld, sec, name, i), "%s%s%s: %s",
				 what ? what : "", what ? ": " : "", name, err);
	}
}
