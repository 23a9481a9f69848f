/*
 * conf_rules.c: what a route does besides passing requests on: return a
 * status with a body or a file, redirect, rewrite the target sent
 * upstream, edit request and response fields (on sites too), and
 * override its upstream's timeouts and retries.
 *
 * Values that depend on the request are variable expressions
 * (conf_expr.c), filled per request by the worker (modules/rules.c,
 * modules/header_rules.c, head.c). A file to return is read here, by the
 * master, at start and reload, as error pages are.
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_loader.h"
#include "conf_parts.h"
#include "http_parse.h"

#define ROUTE(field) offsetof(struct conf_route, field)
#define SITE(field) offsetof(struct conf_site, field)
#define UPSTREAM(field) offsetof(struct conf_upstream, field)

/* At most this many fields a route's set and add response lists add
 * (they must fit the exchange's room for added fields). */
#define RESPONSE_FIELDS_MAX 8

/* ---- header edits ---- */

static bool is_request_kind(enum conf_header_edit_kind k)
{
	return k <= CONF_REMOVE_REQUEST;
}

static bool is_remove_kind(enum conf_header_edit_kind k)
{
	return k == CONF_REMOVE_REQUEST || k == CONF_REMOVE_RESPONSE;
}

/* Fields no edit may touch, and why: editing them would break the
 * message's framing or the connection, or undo what portico does. */
static const struct {
	const char *name;
	const char *why;
} untouchable[] = {
	{ "content-length", "it frames the body, which portico frames itself" },
	{ "transfer-encoding", "it frames the body, which portico frames itself" },
	{ "connection", "it is hop-by-hop: portico manages the connection" },
	{ "keep-alive", "it is hop-by-hop: portico manages the connection" },
	{ "proxy-connection", "it is hop-by-hop: portico manages the connection" },
	{ "te", "it is hop-by-hop: portico manages the connection" },
	{ "trailer", "it is hop-by-hop: portico manages the connection" },
	{ "upgrade", "it is hop-by-hop: portico passes protocol switches itself" },
};

static const struct {
	const char *name;
	const char *why;
} untouchable_request[] = {
	{ "expect", "portico answers \"Expect: 100-continue\" itself" },
	{ "x-forwarded-for", "portico writes it (choose with forwarded_headers)" },
	{ "x-real-ip", "portico writes it (choose with forwarded_headers)" },
	{ "x-forwarded-proto", "portico writes it (choose with forwarded_headers)" },
	{ "forwarded", "portico writes it (choose with forwarded_headers)" },
};

/* Why field lower may not be edited by a list of kind k, or NULL. */
static const char *why_untouchable(const char *lower, enum conf_header_edit_kind k)
{
	unsigned i;

	for (i = 0; i < ARRAY_LEN(untouchable); i++)
		if (strcmp(lower, untouchable[i].name) == 0)
			return untouchable[i].why;
	if (!is_request_kind(k))
		return strcmp(lower, "host") == 0 ? "Host is a field of requests" : NULL;
	for (i = 0; i < ARRAY_LEN(untouchable_request); i++)
		if (strcmp(lower, untouchable_request[i].name) == 0)
			return untouchable_request[i].why;
	if (strchr(lower, '_') != NULL)
		return "a server that reads \"_\" as \"-\" (CGI does) would take it for "
		       "another field";
	if (strcmp(lower, "host") == 0 && k != CONF_SET_REQUEST)
		return "a request has exactly one Host (set_request_headers may replace it)";
	return NULL;
}

const char *conf_request_field_refused(const char *lower)
{
	return why_untouchable(lower, CONF_ADD_REQUEST);
}

/* The bytes a field value may hold as written: no control characters but
 * tab (a line break would start another field). */
static bool valid_value_text(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < ' ' && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static char *lower_copy(struct loader *ld, const char *s, size_t n)
{
	char *l = ld_realloc(ld, NULL, n + 1, 1);
	size_t i;

	if (l == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		l[i] = (char)tolower((unsigned char)s[i]);
	l[n] = '\0';
	return l;
}

/* "Name: value" (or "Name" for a remove list) into e; -1 after the
 * error at line. */
static int parse_edit(struct loader *ld, int line, const char *what,
		      enum conf_header_edit_kind k, const char *text, struct conf_header_edit *e)
{
	const char *colon = is_remove_kind(k) ? NULL : strchr(text, ':');
	size_t n = colon ? (size_t)(colon - text) : strlen(text);
	const char *value = colon ? colon + 1 : NULL, *why;

	memset(e, 0, sizeof(*e));
	if (!is_remove_kind(k) && colon == NULL) {
		ld_error(ld, line, "%s: \"%s\" is not \"Name: value\"", what, text);
		return -1;
	}
	if ((e->name = ld_realloc(ld, NULL, n + 1, 1)) == NULL)
		return -1;
	memcpy(e->name, text, n);
	e->name[n] = '\0';
	e->name_len = n;
	if (!http_is_token(e->name)) {
		ld_error(ld, line, "%s: \"%s\" is not a field name (a token: letters, digits "
			 "and !#$%%&'*+-.^_`|~)", what, e->name);
		return -1;
	}
	if ((e->lower = lower_copy(ld, e->name, n)) == NULL)
		return -1;
	if ((why = why_untouchable(e->lower, k)) != NULL) {
		ld_error(ld, line, "%s: %s may not be edited: %s", what, e->name, why);
		return -1;
	}
	if (value == NULL)
		return 0;
	while (*value == ' ' || *value == '\t')
		value++;
	if (*value == '\0') {
		ld_error(ld, line, "%s: \"%s\" has no value (a remove_ list removes a field)",
			 what, text);
		return -1;
	}
	if (!valid_value_text(value)) {
		ld_error(ld, line, "%s: the value of %s holds a control character", what,
			 e->name);
		return -1;
	}
	conf_expr_parse(ld, line, what, &e->value, value);
	return 0;
}

static void edits_free(struct conf_header_edits *l)
{
	unsigned i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->e[i].name);
		free(l->e[i].lower);
		conf_expr_free(&l->e[i].value);
	}
	free(l->e);
	free(l);
}

/* The list's kind from its row: the rows of EDIT_ROWS, like the fields
 * they fill, follow enum conf_header_edit_kind. */
static enum conf_header_edit_kind kind_of(const struct conf_option *o, size_t first)
{
	return (enum conf_header_edit_kind)((o->offset - first) /
					    sizeof(struct conf_header_edits *));
}

static void read_edits(struct loader *ld, cfg_t *sec, const struct conf_option *o,
		       struct conf_header_edits **field, enum conf_header_edit_kind k)
{
	unsigned i, n = cfg_size(sec, o->name);
	struct conf_header_edits *l;

	/* Not written: none, or the site's. Written empty ({}): none, on a
	 * route that wants none of its site's (an empty list passes no
	 * value to the loader, but libconfuse marks it). */
	if (n == 0 && !(cfg_getopt(sec, o->name)->flags & CFGF_MODIFIED))
		return;
	if ((l = ld_realloc(ld, NULL, 1, sizeof(*l))) == NULL)
		return;
	l->e = NULL;
	l->n = 0;
	if (n > 0 && (l->e = ld_realloc(ld, NULL, n, sizeof(*l->e))) == NULL) {
		free(l);
		return;
	}
	for (i = 0; i < n; i++) {
		struct conf_header_edit *e = &l->e[l->n];

		if (parse_edit(ld, ld_opt_line_n(ld, sec, o->name, i), o->name, k,
			       cfg_getnstr(sec, o->name, i), e) == 0) {
			l->n++;
		} else {
			free(e->name);
			free(e->lower);
			conf_expr_free(&e->value);
		}
	}
	*field = l;
}

static void read_site_edits(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			    void *obj, struct conf *c)
{
	(void)c;
	read_edits(ld, sec, o, conf_field(o, obj), kind_of(o, SITE(header_edits)));
}

static void read_route_edits(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			     void *obj, struct conf *c)
{
	struct conf_header_edits *own = NULL;

	(void)c;
	read_edits(ld, sec, o, &own, kind_of(o, ROUTE(header_edits)));
	if (own != NULL)
		*(const struct conf_header_edits **)conf_field(o, obj) = own;
}

static void dump_edits(FILE *out, const char *indent, const char *name,
		       const struct conf_header_edits *l)
{
	unsigned i;

	if (l == NULL)
		return;
	fprintf(out, "%s%s = {", indent, name);
	for (i = 0; i < l->n; i++) {
		fputs(i ? ", " : "", out);
		if (l->e[i].value.text == NULL) {
			conf_dump_str(out, l->e[i].name);
		} else {
			size_t len = l->e[i].name_len + strlen(l->e[i].value.text) + 3;
			char *both = malloc(len);

			if (both == NULL)
				continue;
			snprintf(both, len, "%s: %s", l->e[i].name, l->e[i].value.text);
			conf_dump_str(out, both);
			free(both);
		}
	}
	fputs("}\n", out);
}

static void dump_site_edits(FILE *out, const struct conf_option *o, const void *obj,
			    const char *indent)
{
	dump_edits(out, indent, o->name, *(struct conf_header_edits *const *)conf_cfield(o, obj));
}

#define EDIT_ROWS(SCOPE, FIELD, READ, DUMP, WHOSE)					\
	{ "set_request_headers", SCOPE, CT_CUSTOM, NULL, 0, 0,				\
	  FIELD(header_edits[CONF_SET_REQUEST]), READ, NULL, DUMP,			\
	  "request fields replaced or added, \"Name: value\" (variables)" WHOSE,	\
	  CF_LIST },									\
	{ "add_request_headers", SCOPE, CT_CUSTOM, NULL, 0, 0,				\
	  FIELD(header_edits[CONF_ADD_REQUEST]), READ, NULL, DUMP,			\
	  "request fields appended, \"Name: value\" (variables)" WHOSE, CF_LIST },	\
	{ "remove_request_headers", SCOPE, CT_CUSTOM, NULL, 0, 0,			\
	  FIELD(header_edits[CONF_REMOVE_REQUEST]), READ, NULL, DUMP,			\
	  "request fields not sent upstream, by name" WHOSE, CF_LIST },		\
	{ "set_response_headers", SCOPE, CT_CUSTOM, NULL, 0, 0,				\
	  FIELD(header_edits[CONF_SET_RESPONSE]), READ, NULL, DUMP,			\
	  "response fields replaced or added, \"Name: value\" (variables)" WHOSE,	\
	  CF_LIST },									\
	{ "add_response_headers", SCOPE, CT_CUSTOM, NULL, 0, 0,				\
	  FIELD(header_edits[CONF_ADD_RESPONSE]), READ, NULL, DUMP,			\
	  "response fields appended, \"Name: value\" (variables)" WHOSE, CF_LIST },	\
	{ "remove_response_headers", SCOPE, CT_CUSTOM, NULL, 0, 0,			\
	  FIELD(header_edits[CONF_REMOVE_RESPONSE]), READ, NULL, DUMP,			\
	  "response fields not sent to the client, by name" WHOSE, CF_LIST }

const struct conf_option conf_site_rule_options[] = {
	EDIT_ROWS(CS_SITE, SITE, read_site_edits, dump_site_edits, ", for its routes"),
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* ---- return, redirect, rewrite ---- */

static void read_return(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			struct conf *c)
{
	(void)c;
	*(unsigned *)conf_field(o, obj) = (unsigned)ld_get_number(ld, sec, o->name, 0, 200, 599);
}

static void dump_status(FILE *out, const struct conf_option *o, const void *obj,
			const char *indent)
{
	unsigned status = *(const unsigned *)conf_cfield(o, obj);

	if (status != 0)
		fprintf(out, "%s%s = %u\n", indent, o->name, status);
}

static void read_redirect_status(struct loader *ld, cfg_t *sec, const struct conf_option *o,
				 void *obj, struct conf *c)
{
	long status = ld_get_number(ld, sec, o->name, 302, 0, 999);

	(void)c;
	if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: %ld is not a redirect (use 301, "
			 "302, 303, 307 or 308)", o->name, status);
		status = 302;
	}
	*(unsigned *)conf_field(o, obj) = (unsigned)status;
}

static void dump_redirect_status(FILE *out, const struct conf_option *o, const void *obj,
				 const char *indent)
{
	if (((const struct conf_route *)obj)->redirect.text != NULL)
		dump_status(out, o, obj, indent);
}

static void read_expr(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		      struct conf *c)
{
	const char *text = cfg_getstr(sec, o->name);

	(void)c;
	if (text != NULL)
		conf_expr_parse(ld, ld_opt_line(ld, sec, o->name), o->name,
				conf_field(o, obj), text);
}

static void dump_expr(FILE *out, const struct conf_option *o, const void *obj,
		      const char *indent)
{
	conf_dump_line(out, indent, o->name, ((const struct conf_expr *)conf_cfield(o, obj))->text);
}

/* return_file: read now, so a missing file is refused with the rest. */
static void check_return_file(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			      void *obj)
{
	struct conf_route *r = obj;
	char err[4200];

	if (r->return_file != NULL &&
	    conf_page_read(r->return_file, &r->return_file_body, &r->return_file_len, err,
			   sizeof(err)) < 0)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: %s", o->name, err);
}

static void check_return_type(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			      void *obj)
{
	const struct conf_route *r = obj;

	if (r->return_type != NULL && !valid_value_text(r->return_type))
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: a field value holds no "
			 "control characters", o->name);
}

const struct conf_option conf_route_rule_options[] = {
	{ "return", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(return_status), read_return, NULL,
	  dump_status, "answer every request with this status (200 to 599) instead of an "
	  "upstream", 0 },
	{ "return_body", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(return_body), read_expr, NULL,
	  dump_expr, "the body of the return answer (variables)", 0 },
	{ "return_file", CS_ROUTE, CT_PATH, NULL, 0, 0, ROUTE(return_file), NULL,
	  check_return_file, NULL, "a file for the body of the return answer, read at start and "
	  "reload", 0 },
	{ "return_type", CS_ROUTE, CT_STRING, NULL, 0, 0, ROUTE(return_type), NULL,
	  check_return_type, NULL, "the return answer's Content-Type (default: text/plain for "
	  "return_body, by extension for return_file)", 0 },
	{ "redirect", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(redirect), read_expr, NULL,
	  dump_expr, "redirect every request to this URL (variables, captures)", 0 },
	{ "redirect_status", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(redirect_status),
	  read_redirect_status, NULL, dump_redirect_status,
	  "the status of the redirect: 301, 302 (default), 303, 307 or 308", 0 },
	{ "rewrite", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(rewrite), read_expr, NULL,
	  dump_expr, "the path (and query, after \"?\") sent upstream instead (variables, "
	  "captures)", 0 },
	/* Written back by conf_route_rules_dump, which knows the site: only
	 * a route's own lists. */
	EDIT_ROWS(CS_ROUTE, ROUTE, read_route_edits, NULL, " (default: the site's)"),
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* ---- the upstream's timeouts and retries ---- */

/* Rows of conf_route_upstream_options, in order: the upstream field each
 * one overrides. */
static const size_t overridden[] = {
	UPSTREAM(connect_timeout), UPSTREAM(send_timeout), UPSTREAM(read_timeout),
	UPSTREAM(retries), UPSTREAM(retry_timeout),
};

const struct conf_option conf_route_upstream_options[] = {
	{ "connect_timeout", CS_ROUTE, CT_DURATION, NULL, 1, CONF_MS_MAX, ROUTE(connect_timeout),
	  NULL, NULL, NULL, "the upstream's connect_timeout for this route", 0 },
	{ "send_timeout", CS_ROUTE, CT_DURATION, NULL, 1, CONF_MS_MAX, ROUTE(send_timeout),
	  NULL, NULL, NULL, "the upstream's send_timeout for this route", 0 },
	{ "read_timeout", CS_ROUTE, CT_DURATION, NULL, 1, CONF_MS_MAX, ROUTE(read_timeout),
	  NULL, NULL, NULL, "the upstream's read_timeout for this route", 0 },
	{ "retries", CS_ROUTE, CT_NUMBER, NULL, 0, CONF_MAX_SERVERS - 1, ROUTE(retries),
	  NULL, NULL, NULL, "the upstream's retries for this route", 0 },
	{ "retry_timeout", CS_ROUTE, CT_DURATION, NULL, 0, CONF_MS_MAX, ROUTE(retry_timeout),
	  NULL, NULL, NULL, "the upstream's retry_timeout for this route", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

static unsigned route_value(const struct conf_option *o, const struct conf_route *r)
{
	return *(const unsigned *)conf_cfield(o, r);
}

static unsigned upstream_value(unsigned row, const struct conf_upstream *u)
{
	return *(const unsigned *)((const char *)u + overridden[row]);
}

/* The upstream's values first: what the route writes replaces them. */
static void inherit_upstream(struct conf_route *r)
{
	unsigned i;

	for (i = 0; conf_route_upstream_options[i].name != NULL; i++)
		*(unsigned *)conf_field(&conf_route_upstream_options[i], r) =
			upstream_value(i, r->upstream);
}

/* ---- the route as a whole ---- */

bool conf_route_answers(const struct conf_route *r)
{
	return r->return_status != 0 || r->redirect.text != NULL;
}

static void check_return(struct loader *ld, cfg_t *sec, struct conf_route *r)
{
	bool body = r->return_body.text != NULL, file = r->return_file != NULL;

	if (r->return_status == 0) {
		if (body || file || r->return_type != NULL)
			ld_error(ld, ld_opt_line(ld, sec, body ? "return_body" : file ? "return_file"
						 : "return_type"), "route \"%s\": %s needs "
				 "return = STATUS", r->pattern, body ? "return_body" : file ?
				 "return_file" : "return_type");
		return;
	}
	if (body && file)
		ld_error(ld, ld_opt_line(ld, sec, "return_file"), "route \"%s\": return_body and "
			 "return_file exclude each other", r->pattern);
	else if ((body || file) && (r->return_status == 204 || r->return_status == 304))
		ld_error(ld, ld_opt_line(ld, sec, "return"), "route \"%s\": a %u answer has no "
			 "body", r->pattern, r->return_status);
	else if (!body && !file && r->return_type != NULL)
		ld_error(ld, ld_opt_line(ld, sec, "return_type"), "route \"%s\": return_type "
			 "needs return_body or return_file", r->pattern);
	r->return_content_type = r->return_type ? r->return_type
				 : file ? conf_page_type(r->return_file) : "text/plain";
}

/* What of the client's query a rewrite sends, as nginx does. A final
 * "?" only says "none": it is taken off the text sent (not off the text
 * -T writes back). */
static enum conf_rewrite_query rewrite_query_of(struct conf_expr *e)
{
	struct conf_key_part *last = &e->parts[e->nparts - 1];
	enum conf_rewrite_query q = REWRITE_QUERY_KEEP;
	unsigned i;

	if (last->var == KEY_TEXT && last->name_len > 0 && last->name[last->name_len - 1] == '?') {
		last->name[--last->name_len] = '\0';
		return REWRITE_QUERY_DROP;
	}
	for (i = 0; i < e->nparts; i++) {
		enum conf_key_var v = e->parts[i].var;

		if (v == KEY_ARGS || v == KEY_IS_ARGS || v == KEY_REQUEST_URI)
			return REWRITE_QUERY_DROP;
		if (v == KEY_TEXT && strchr(e->parts[i].name, '?') != NULL)
			q = REWRITE_QUERY_APPEND;
	}
	return q;
}

/* The rewritten target must be origin-form: it starts with "/" or with a
 * variable (whose value is checked per request). */
static void check_rewrite(struct loader *ld, cfg_t *sec, struct conf_route *r)
{
	struct conf_expr *e = &r->rewrite;

	if (e->text == NULL || e->nparts == 0)
		return;
	if (e->parts[0].var == KEY_TEXT && e->parts[0].name[0] != '/')
		ld_error(ld, ld_opt_line(ld, sec, "rewrite"), "route \"%s\": rewrite \"%s\" must "
			 "start with \"/\" (a path, with \"?\" and a query if any)", r->pattern,
			 e->text);
	r->rewrite_query = rewrite_query_of(e);
}

/* What answers the route: one of upstream, status, return, redirect. */
static void check_exclusive(struct loader *ld, cfg_t *sec, const struct conf_route *r)
{
	const char *what = r->return_status ? "return" : r->redirect.text ? "redirect" : NULL;

	if (what != NULL && r->return_status != 0 && r->redirect.text != NULL)
		ld_error(ld, ld_opt_line(ld, sec, "redirect"), "route \"%s\": return and redirect "
			 "exclude each other", r->pattern);
	else if (what != NULL && (r->upstream != NULL || r->status || r->metrics))
		ld_error(ld, ld_opt_line(ld, sec, what), "route \"%s\": %s and %s exclude each "
			 "other", r->pattern, what, r->upstream ? "upstream" : r->status ?
			 "status = true" : "metrics = true");
	if (r->redirect.text == NULL && ld_opt_written(ld, sec, "redirect_status"))
		ld_error(ld, ld_opt_line(ld, sec, "redirect_status"), "route \"%s\": "
			 "redirect_status needs redirect", r->pattern);
	if (r->rewrite.text != NULL && r->upstream == NULL)
		ld_error(ld, ld_opt_line(ld, sec, "rewrite"), "route \"%s\": rewrite needs an "
			 "upstream to send the request to", r->pattern);
}

static void check_overrides(struct loader *ld, cfg_t *sec, const struct conf_route *r)
{
	const struct conf_option *o;

	if (r->upstream != NULL)
		return;
	for (o = conf_route_upstream_options; o->name != NULL; o++)
		if (ld_opt_written(ld, sec, o->name))
			ld_error(ld, ld_opt_line(ld, sec, o->name), "route \"%s\": %s applies to "
				 "an upstream, and the route has none", r->pattern, o->name);
}

static unsigned edits_count(const struct conf_header_edits *l)
{
	return l ? l->n : 0;
}

static void check_response_edits(struct loader *ld, cfg_t *sec, const struct conf_route *r)
{
	if (edits_count(r->header_edits[CONF_SET_RESPONSE]) +
	    edits_count(r->header_edits[CONF_ADD_RESPONSE]) > RESPONSE_FIELDS_MAX)
		ld_error(ld, ld_sec_line(ld, sec), "route \"%s\": set_response_headers and "
			 "add_response_headers add at most %d fields together", r->pattern,
			 RESPONSE_FIELDS_MAX);
}

void conf_route_rules_read(struct loader *ld, cfg_t *sec, struct conf *c,
			   const struct conf_site *site, struct conf_route *r)
{
	unsigned k;

	for (k = 0; k < CONF_HEADER_EDIT_KINDS; k++)
		r->header_edits[k] = site->header_edits[k];
	conf_read(ld, sec, conf_route_rule_options, r, c);
	if (r->upstream != NULL)
		inherit_upstream(r);
	conf_read(ld, sec, conf_route_upstream_options, r, c);
	check_return(ld, sec, r);
	check_rewrite(ld, sec, r);
	check_exclusive(ld, sec, r);
	check_overrides(ld, sec, r);
	check_response_edits(ld, sec, r);
}

/* A row alone, to write it with the generic writer. */
static void write_row(FILE *out, const struct conf_option *o, const void *obj,
		      const char *indent)
{
	struct conf_option one[2] = { *o, { NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 } };

	conf_write(out, one, obj, indent);
}

void conf_route_rules_dump(FILE *out, const struct conf_site *s, const struct conf_route *r,
			   const char *indent)
{
	const struct conf_option *o;
	unsigned i;

	for (o = conf_route_rule_options; o->name != NULL; o++)
		write_row(out, o, r, indent);
	/* conf_site_rule_options[i] is the row of kind i (EDIT_ROWS). */
	for (i = 0; i < CONF_HEADER_EDIT_KINDS; i++)
		if (r->header_edits[i] != s->header_edits[i])
			dump_edits(out, indent, conf_site_rule_options[i].name, r->header_edits[i]);
	for (i = 0, o = conf_route_upstream_options; o->name != NULL; o++, i++)
		if (r->upstream != NULL &&
		    route_value(o, r) != upstream_value(i, r->upstream))
			write_row(out, o, r, indent);
}

void conf_route_rules_free(const struct conf_site *s, struct conf_route *r)
{
	unsigned k;

	conf_expr_free(&r->return_body);
	conf_expr_free(&r->redirect);
	conf_expr_free(&r->rewrite);
	free(r->return_file_body);
	conf_release(conf_route_rule_options, r);
	for (k = 0; k < CONF_HEADER_EDIT_KINDS; k++)
		if (r->header_edits[k] != s->header_edits[k])
			edits_free((struct conf_header_edits *)r->header_edits[k]);
}

void conf_site_rules_free(struct conf_site *s)
{
	unsigned k;

	for (k = 0; k < CONF_HEADER_EDIT_KINDS; k++)
		edits_free(s->header_edits[k]);
}
