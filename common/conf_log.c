/*
 * conf_log.c: access logs. log_format "NAME" { } at the top level (and
 * the built-in combined and portico formats), a site's access_log_format
 * and its log "DESTINATION" { } sections, and the request id options of
 * a site. A format is compiled once here into the parts of a variable
 * expression (conf_expr.c); worker/access_log.c writes them.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "conf_loader.h"
#include "conf_parts.h"
#include "syslog.h"

#define FORMAT(field) offsetof(struct conf_log_format, field)
#define LOG(field) offsetof(struct conf_log, field)
#define SITE(field) offsetof(struct conf_site, field)
#define SAMPLE_MAX 1000000

/* nginx's combined line, and portico's: combined, then what its access
 * log has always added after it, then the request id. */
#define COMBINED_TEXT "$remote_addr - $remote_user [$time_local] \"$request\" $status " \
	"$body_bytes_sent \"$http_referer\" \"$http_user_agent\""
static const struct {
	const char *name, *text;
} builtin_formats[] = {
	{ "combined", COMBINED_TEXT },
	{ "portico", COMBINED_TEXT " $request_time $upstream_addr $termination "
	  "$upstream_connect_time $upstream_header_time $cache_status $limit $request_id" },
};

static const char *const escape_names[] = {
	[LOG_ESCAPE_DEFAULT] = "default",
	[LOG_ESCAPE_JSON] = "json",
	[LOG_ESCAPE_NONE] = "none",
};

/* ---- log_format sections ---- */

static void read_format_text(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			     void *obj, struct conf *c)
{
	struct conf_log_format *f = obj;
	const char *text = cfg_getstr(sec, o->name);
	char what[256];

	(void)c;
	if (text == NULL || *text == '\0') {
		ld_error(ld, text ? ld_opt_line(ld, sec, o->name) : ld_sec_line(ld, sec),
			 "log_format \"%s\" has no format (format = \"$remote_addr $request\")",
			 f->name);
		return;
	}
	snprintf(what, sizeof(what), "log_format \"%s\"", f->name);
	conf_expr_parse_log(ld, ld_opt_line(ld, sec, o->name), what, &f->format, text);
}

static void dump_format_text(FILE *out, const struct conf_option *o, const void *obj,
			     const char *indent)
{
	conf_dump_line(out, indent, o->name, ((const struct conf_log_format *)obj)->format.text);
}

static void read_escape(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			struct conf *c)
{
	struct conf_log_format *f = obj;
	const char *s = cfg_getstr(sec, o->name);
	unsigned i;

	(void)c;
	f->escape = LOG_ESCAPE_DEFAULT;
	if (s == NULL)
		return;
	for (i = 0; i < ARRAY_LEN(escape_names); i++)
		if (strcmp(s, escape_names[i]) == 0) {
			f->escape = (enum conf_log_escape)i;
			return;
		}
	ld_error(ld, ld_opt_line(ld, sec, o->name), "log_format \"%s\": escape \"%s\" is none "
		 "of default, json, none", f->name, s);
}

static void dump_escape(FILE *out, const struct conf_option *o, const void *obj,
			const char *indent)
{
	conf_dump_line(out, indent, o->name,
		       escape_names[((const struct conf_log_format *)obj)->escape]);
}

const struct conf_option conf_log_format_options[] = {
	{ "format", CS_LOG_FORMAT, CT_CUSTOM, NULL, 0, 0, 0, read_format_text, NULL,
	  dump_format_text, "the line: text and variables, as \"$remote_addr \\\"$request\\\" "
	  "$status\"", 0 },
	{ "escape", CS_LOG_FORMAT, CT_CUSTOM, "default", 0, 0, 0, read_escape, NULL, dump_escape,
	  "how values are written: default (\\xHH for '\"', '\\', control and non-ASCII "
	  "bytes), json (for a JSON string), none", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

static const struct conf_log_format *find_format(const struct conf *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->nlog_formats; i++)
		if (c->log_formats[i].name != NULL && strcmp(c->log_formats[i].name, name) == 0)
			return &c->log_formats[i];
	return NULL;
}

static void builtin_format(struct loader *ld, struct conf_log_format *f, unsigned i)
{
	f->name = ld_strdup(ld, builtin_formats[i].name);
	f->builtin = true;
	conf_expr_parse_log(ld, 0, f->name, &f->format, builtin_formats[i].text);
}

void conf_log_formats_resolve(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned nb = ARRAY_LEN(builtin_formats), n = cfg_size(cfg, "log_format"), i;

	c->log_formats = ld_realloc(ld, NULL, nb + n, sizeof(*c->log_formats));
	if (c->log_formats == NULL)
		return;
	memset(c->log_formats, 0, (nb + n) * sizeof(*c->log_formats));
	for (i = 0; i < nb; i++)
		builtin_format(ld, &c->log_formats[c->nlog_formats++], i);
	for (i = 0; i < n; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "log_format", i);
		struct conf_log_format *f = &c->log_formats[nb + i];
		const char *name = ld_title_of(ld, sec);

		if (find_format(c, name) != NULL && find_format(c, name)->builtin)
			ld_error(ld, ld_sec_line(ld, sec), "log_format \"%s\": the name is a built-in "
				 "format's; call it something else", name);
		if ((f->name = ld_strdup(ld, name)) == NULL)
			return;
		conf_read(ld, sec, conf_log_format_options, f, c);
	}
	c->nlog_formats = nb + n;
}

void conf_log_format_dump(const struct conf_log_format *f, FILE *out)
{
	if (f->builtin)
		return;
	fputs("\nlog_format ", out);
	conf_dump_str(out, f->name);
	fputs(" {\n", out);
	conf_write(out, conf_log_format_options, f, "\t");
	fputs("}\n", out);
}

void conf_log_format_free(struct conf_log_format *f)
{
	conf_expr_free(&f->format);
	free(f->name);
}

/* ---- a site's logs ---- */

/* The format option o names (or its default) into *out. */
static void read_format_name(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			     const struct conf *c, const struct conf_log_format **out)
{
	const char *name = cfg_getstr(sec, o->name);

	if (name == NULL)
		name = o->def;
	if ((*out = find_format(c, name)) == NULL)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: unknown log format \"%s\" (combined, "
			 "portico, or one a log_format \"%s\" { format = \"...\" } section makes)",
			 o->name, name, name);
}

static void read_site_format(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			     void *obj, struct conf *c)
{
	read_format_name(ld, sec, o, c, &((struct conf_site *)obj)->access_log_format);
}

static void dump_site_format(FILE *out, const struct conf_option *o, const void *obj,
			     const char *indent)
{
	const struct conf_log_format *f = ((const struct conf_site *)obj)->access_log_format;

	if (f != NULL)
		conf_dump_line(out, indent, o->name, f->name);
}

static void read_request_id_header(struct loader *ld, cfg_t *sec, const struct conf_option *o,
				   void *obj, struct conf *c)
{
	struct conf_site *site = obj;
	const char *s = cfg_getstr(sec, o->name), *why;
	char lower[64];			/* as the worker looks it up */
	size_t i;

	(void)c;
	if (s == NULL)
		s = o->def;
	if (*s == '\0' || strcmp(s, "off") == 0)
		return;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", s[i]) != NULL ||
		    i + 1 >= sizeof(lower)) {
			ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: \"%s\" is not a header "
				 "field name of at most %zu characters", o->name, s,
				 sizeof(lower) - 1);
			return;
		}
	for (i = 0; s[i] != '\0'; i++)
		lower[i] = (char)tolower((unsigned char)s[i]);
	lower[i] = '\0';
	/* The client's field of that name is dropped and portico's added:
	 * Content-Length or Host would reframe or misroute every request. */
	if ((why = conf_request_field_refused(lower)) != NULL) {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: \"%s\" cannot carry the request "
			 "id: %s", o->name, s, why);
		return;
	}
	site->request_id_header = ld_strdup(ld, s);
}

static void dump_request_id_header(FILE *out, const struct conf_option *o, const void *obj,
				   const char *indent)
{
	const char *h = ((const struct conf_site *)obj)->request_id_header;

	conf_dump_line(out, indent, o->name, h ? h : "off");
}

static void read_trusted(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			 struct conf *c)
{
	struct conf_site *site = obj;

	(void)c;
	ld_get_cidrs(ld, sec, o->name, NULL, &site->request_id_trusted,
		     &site->nrequest_id_trusted);
}

static void dump_trusted(FILE *out, const struct conf_option *o, const void *obj,
			 const char *indent)
{
	const struct conf_site *s = obj;

	conf_dump_cidrs(out, indent, o->name, s->request_id_trusted, s->nrequest_id_trusted);
}

const struct conf_option conf_site_log_options[] = {
	{ "access_log_format", CS_SITE, CT_CUSTOM, "combined", 0, 0, 0, read_site_format, NULL,
	  dump_site_format, "the log format of access_log: combined, portico, or a log_format's "
	  "name", 0 },
	{ "request_id_header", CS_SITE, CT_CUSTOM, "X-Request-ID", 0, 0, 0,
	  read_request_id_header, NULL, dump_request_id_header,
	  "the field that carries $request_id upstream; \"off\": none", 0 },
	{ "request_id_trusted", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_trusted, NULL,
	  dump_trusted, "the clients (CIDR) whose own request id field is kept as $request_id",
	  CF_LIST },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

static void read_log_format(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			    void *obj, struct conf *c)
{
	read_format_name(ld, sec, o, c, &((struct conf_log *)obj)->format);
}

static void dump_log_format(FILE *out, const struct conf_option *o, const void *obj,
			    const char *indent)
{
	conf_dump_line(out, indent, o->name, ((const struct conf_log *)obj)->format->name);
}

static void read_cond(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		      struct conf *c)
{
	const char *text = cfg_getstr(sec, o->name);

	(void)c;
	if (text != NULL)
		conf_expr_parse_log(ld, ld_opt_line(ld, sec, o->name), "log: if",
				    &((struct conf_log *)obj)->cond, text);
}

static void dump_cond(FILE *out, const struct conf_option *o, const void *obj,
		      const char *indent)
{
	conf_dump_line(out, indent, o->name, ((const struct conf_log *)obj)->cond.text);
}

const struct conf_option conf_log_options[] = {
	{ "format", CS_LOG, CT_CUSTOM, "combined", 0, 0, 0, read_log_format, NULL,
	  dump_log_format, "the log format: combined, portico, or a log_format's name", 0 },
	{ "only_errors", CS_LOG, CT_BOOL, "false", 0, 0, LOG(only_errors), NULL, NULL, NULL,
	  "write only requests answered 400 or more, or that did not end normally", 0 },
	{ "sample", CS_LOG, CT_NUMBER, "1", 1, SAMPLE_MAX, LOG(sample), NULL, NULL, NULL,
	  "write 1 request in this many, chosen by $request_id (the same ones in every log "
	  "with the same sample)", 0 },
	{ "if", CS_LOG, CT_CUSTOM, NULL, 0, 0, 0, read_cond, NULL, dump_cond,
	  "write only when this value (variables) is neither empty nor \"0\"", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* A log section's destination: a syslog destination as written, or a
 * file path, relative ones taken from the main file's directory; NULL
 * after an error. */
static char *destination(struct loader *ld, cfg_t *sec)
{
	const char *title = ld_title_of(ld, sec);
	char full[PATH_MAX];

	if (syslog_is_dest(title)) {
		struct syslog_dest d;
		char err[256];

		if (syslog_dest_parse(title, &d, err, sizeof(err)) == 0)
			return ld_strdup(ld, title);
		ld_error(ld, ld_sec_line(ld, sec), "log \"%s\": %s", title, err);
		return NULL;
	}
	if (*title == '\0') {
		ld_error(ld, ld_sec_line(ld, sec), "log \"\": write the path of a file");
		return NULL;
	}
	if (conf_text_relative(ld_main_file(ld), title, full, sizeof(full)) < 0) {
		ld_error(ld, ld_sec_line(ld, sec), "log \"%s\": the path is too long", title);
		return NULL;
	}
	return ld_strdup(ld, full);
}

void conf_site_logs_read(struct loader *ld, cfg_t *sec, struct conf *c, struct conf_site *site)
{
	unsigned n = cfg_size(sec, "log"), i;
	bool own = site->access_log != NULL;

	conf_read(ld, sec, conf_site_log_options, site, c);
	if (n + own == 0 || (site->logs = ld_realloc(ld, NULL, n + own, sizeof(*site->logs))) ==
	    NULL)
		return;
	memset(site->logs, 0, (n + own) * sizeof(*site->logs));
	if (own) {
		struct conf_log *l = &site->logs[site->nlogs++];

		l->destination = site->access_log;
		l->format = site->access_log_format;
		l->sample = 1;
	}
	for (i = 0; i < n; i++) {
		cfg_t *ls = cfg_getnsec(sec, "log", i);
		struct conf_log *l = &site->logs[site->nlogs];

		l->section = true;
		if ((l->destination = destination(ld, ls)) == NULL)
			continue;
		conf_read(ld, ls, conf_log_options, l, c);
		site->nlogs++;
	}
}

void conf_site_logs_dump(const struct conf_site *s, FILE *out, const char *indent)
{
	char inner[16];
	unsigned i;

	snprintf(inner, sizeof(inner), "%s\t", indent);
	for (i = 0; i < s->nlogs; i++) {
		if (!s->logs[i].section)
			continue;
		fprintf(out, "%slog ", indent);
		conf_dump_str(out, s->logs[i].destination);
		fputs(" {\n", out);
		conf_write(out, conf_log_options, &s->logs[i], inner);
		fprintf(out, "%s}\n", indent);
	}
}

void conf_site_logs_free(struct conf_site *s)
{
	unsigned i;

	for (i = 0; i < s->nlogs; i++) {
		conf_expr_free(&s->logs[i].cond);
		if (s->logs[i].section)
			free(s->logs[i].destination);
	}
	free(s->logs);
	free(s->request_id_header);
	free(s->request_id_trusted);
}
