/*
 * conf_filter.c: request filters (filter "NAME" { } at the top level),
 * and the lists of them that sites and routes apply (conf_filter.h).
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_filter.h"
#include "conf_loader.h"
#include "conf_parts.h"
#include "http_parse.h"

#define FILTER(field) offsetof(struct conf_filter, field)

/* ---- filters ---- */

static void read_address(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			 struct conf *c)
{
	struct conf_filter *f = obj;
	char what[256];		/* a longer name is cut in errors */

	(void)c;
	snprintf(what, sizeof(what), "filter \"%s\"", f->name);
	ld_get_cidrs(ld, sec, o->name, what, &f->address, &f->naddress);
}

static void dump_address(FILE *out, const struct conf_option *o, const void *obj,
			 const char *indent)
{
	const struct conf_filter *f = obj;

	conf_dump_cidrs(out, indent, o->name, f->address, f->naddress);
}

static void read_action(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			struct conf *c)
{
	struct conf_filter *f = obj;
	const char *s = cfg_getstr(sec, o->name);

	(void)c;
	if (s == NULL || strcmp(s, "deny") == 0)
		f->close = false;
	else if (strcmp(s, "close") == 0)
		f->close = true;
	else
		ld_error(ld, ld_opt_line(ld, sec, o->name), "filter \"%s\": action \"%s\" is not "
			 "deny (answer with status) or close (close the connection, no answer)",
			 f->name, s);
}

static void dump_action(FILE *out, const struct conf_option *o, const void *obj,
			const char *indent)
{
	conf_dump_line(out, indent, o->name, ((const struct conf_filter *)obj)->close ? "close"
										    : "deny");
}

static void read_status(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			struct conf *c)
{
	(void)c;
	((struct conf_filter *)obj)->status =
		(unsigned)ld_get_number(ld, sec, o->name, strtol(o->def, NULL, 10), (long)o->min,
					(long)o->max);
}

/* Only with action = "deny": "close" answers nothing. */
static void dump_status(FILE *out, const struct conf_option *o, const void *obj,
			const char *indent)
{
	const struct conf_filter *f = obj;

	if (!f->close)
		fprintf(out, "%s%s = %u\n", indent, o->name, f->status);
}

const struct conf_option conf_filter_options[] = {
	{ "method", CS_FILTER, CT_STRING, NULL, 0, 0, FILTER(method), NULL, NULL, NULL,
	  "a regex on the request's method", 0 },
	{ "path", CS_FILTER, CT_STRING, NULL, 0, 0, FILTER(path), NULL, NULL, NULL,
	  "a regex on the path as received, without the query", 0 },
	{ "query", CS_FILTER, CT_STRING, NULL, 0, 0, FILTER(query), NULL, NULL, NULL,
	  "a regex on the query string, after '?' (empty when none)", 0 },
	{ "header", CS_FILTER, CT_STRING, NULL, 0, 0, FILTER(header), NULL, NULL, NULL,
	  "the name of a request header field, whose values match tests", 0 },
	{ "match", CS_FILTER, CT_STRING, NULL, 0, 0, FILTER(match), NULL, NULL, NULL,
	  "with header: a regex on each of its values (on \"\" when it has none)", 0 },
	{ "address", CS_FILTER, CT_CUSTOM, NULL, 0, 0, 0, read_address, NULL, dump_address,
	  "client address prefixes (CIDR)", CF_LIST },
	{ "negate", CS_FILTER, CT_BOOL, "false", 0, 0, FILTER(negate), NULL, NULL, NULL,
	  "refuse the requests that do not match instead", 0 },
	{ "action", CS_FILTER, CT_CUSTOM, "deny", 0, 0, 0, read_action, NULL, dump_action,
	  "deny: answer with status; close: close the connection without an answer", 0 },
	{ "status", CS_FILTER, CT_CUSTOM, "403", 400, 599, 0, read_status, NULL, dump_status,
	  "the status a refused request is answered with (action = \"deny\")", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

static const char *regex_text(const struct conf_filter *f)
{
	switch (f->on) {
	case FILTER_METHOD:
		return f->method;
	case FILTER_PATH:
		return f->path;
	case FILTER_QUERY:
		return f->query;
	case FILTER_HEADER:
		return f->match;
	case FILTER_ADDRESS:
		break;
	}
	return NULL;
}

/* What the filter looks at: exactly one of method, path, query, header
 * and address. */
static void resolve_target(struct loader *ld, cfg_t *sec, struct conf_filter *f)
{
	static const char *const targets[] = { "method", "path", "query", "header", "address" };
	unsigned i, n = 0;

	for (i = 0; i < ARRAY_LEN(targets); i++) {
		if (!ld_opt_written(ld, sec, targets[i]))
			continue;
		if (n++ > 0) {
			ld_error(ld, ld_opt_line(ld, sec, targets[i]), "filter \"%s\": %s and %s "
				 "exclude each other: a filter looks at one thing (write two "
				 "filters)", f->name, targets[f->on], targets[i]);
			continue;
		}
		f->on = (enum conf_filter_on)i;
	}
	if (n == 0)
		ld_error(ld, ld_sec_line(ld, sec), "filter \"%s\" looks at nothing: write one of "
			 "method, path, query, header (with match) or address", f->name);
	if (f->on == FILTER_HEADER && n == 1 && f->match == NULL)
		ld_error(ld, ld_opt_line(ld, sec, "header"), "filter \"%s\": header needs match = "
			 "\"REGEX\"", f->name);
	if (f->on == FILTER_HEADER && f->header != NULL && !http_is_token(f->header))
		ld_error(ld, ld_opt_line(ld, sec, "header"), "filter \"%s\": header \"%s\" is not "
			 "a field name", f->name, f->header);
	if (f->on != FILTER_HEADER && f->match != NULL)
		ld_error(ld, ld_opt_line(ld, sec, "match"), "filter \"%s\": match goes with header "
			 "= \"NAME\"", f->name);
	if (f->close && ld_opt_written(ld, sec, "status"))
		ld_error(ld, ld_opt_line(ld, sec, "status"), "filter \"%s\": status goes with "
			 "action = \"deny\" (\"close\" sends no answer)", f->name);
}

static void compile_filter(struct loader *ld, cfg_t *sec, struct conf_filter *f)
{
	static const char *const options[] = { "method", "path", "query", "match" };
	const char *re = regex_text(f);
	char err[320];
	char *d;

	if (f->on == FILTER_HEADER && f->header != NULL) {
		if ((f->header_lower = ld_strdup(ld, f->header)) == NULL)
			return;
		for (d = f->header_lower; *d; d++)
			*d = (char)tolower((unsigned char)*d);
	}
	if (re == NULL)
		return;
	f->regex = conf_regex_compile(re, err, sizeof(err));
	if (f->regex == NULL)
		ld_error(ld, ld_opt_line(ld, sec, options[MIN((unsigned)f->on, 3u)]), "filter "
			 "\"%s\": bad regex: %s", f->name, err);
}

static void resolve_filter(struct loader *ld, cfg_t *sec, struct conf *c, struct conf_filter *f)
{
	unsigned errors = ld_error_count(ld);
	char by[256];

	f->name = ld_strdup(ld, ld_title_of(ld, sec));
	snprintf(by, sizeof(by), "filter=%s", f->name ? f->name : "");
	f->refused_by = ld_strdup(ld, by);
	conf_read(ld, sec, conf_filter_options, f, c);
	resolve_target(ld, sec, f);
	if (ld_error_count(ld) == errors)
		compile_filter(ld, sec, f);
}

void conf_filters_resolve(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned i, n = cfg_size(cfg, "filter");

	if (n == 0)
		return;
	c->filters = ld_realloc(ld, NULL, n, sizeof(*c->filters));
	if (c->filters == NULL)
		return;
	memset(c->filters, 0, n * sizeof(*c->filters));
	c->nfilters = n;
	for (i = 0; i < n; i++)
		resolve_filter(ld, cfg_getnsec(cfg, "filter", i), c, &c->filters[i]);
}

const struct conf_filter *conf_filter_named(const struct conf *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->nfilters; i++)
		if (c->filters[i].name != NULL && strcmp(c->filters[i].name, name) == 0)
			return &c->filters[i];
	return NULL;
}

void conf_filter_dump(const struct conf_filter *f, FILE *out)
{
	fputs("\nfilter ", out);
	conf_dump_str(out, f->name);
	fputs(" {\n", out);
	conf_write(out, conf_filter_options, f, "\t");
	fputs("}\n", out);
}

void conf_filter_free(struct conf_filter *f)
{
	if (f->regex != NULL)
		pcre2_code_free(f->regex);
	free(f->address);
	free(f->header_lower);
	free(f->refused_by);
	conf_release(conf_filter_options, f);
	free(f->name);
}

/* ---- lists: joining rules ---- */

/* What a pattern may not hold to be joined: verbs and start-of-pattern
 * options, comments and quoting that run to its end, and recursion into
 * the whole pattern (which would be the whole alternation). */
static const char *const unjoinable[] = { "(*", "#", "\\Q", "(?R", "(?0", "\\g" };

bool conf_filter_joinable(const struct conf_filter *f)
{
	const char *re = regex_text(f);
	uint32_t captures = 1;
	unsigned i;

	if (f->regex == NULL || re == NULL || f->negate)
		return false;
	for (i = 0; i < ARRAY_LEN(unjoinable); i++)
		if (strstr(re, unjoinable[i]) != NULL)
			return false;
	return pcre2_pattern_info(f->regex, PCRE2_INFO_CAPTURECOUNT, &captures) == 0 &&
	       captures == 0;
}

/* Whether a and b look at the same field. */
static bool same_field(const struct conf_filter *a, const struct conf_filter *b)
{
	return a->on == b->on && (a->on != FILTER_HEADER || strcmp(a->header_lower,
								    b->header_lower) == 0);
}

/* The alternation rules[0..n) are joined into, each branch marked with
 * its index, written into out (NUL-terminated); the length it needs, as
 * snprintf's. */
static size_t join(const struct conf_filter *const *rules, unsigned n, char *out, size_t len)
{
	size_t used = 0;
	unsigned i;
	int w;

	if (len > 0)
		out[0] = '\0';
	for (i = 0; i < n; i++) {
		w = snprintf(used < len ? out + used : NULL, used < len ? len - used : 0,
			     "%s(*MARK:%u)(?:%s)", i ? "|" : "", i, regex_text(rules[i]));
		used += w > 0 ? (size_t)w : 0;
	}
	return used;
}

/* A step for rules[0..n): one rule, or the group joined. A group whose
 * pattern does not compile (too large) is left as rules one by one. */
static void add_steps(struct loader *ld, struct conf_filter_list *l,
		      const struct conf_filter *const *rules, unsigned n)
{
	struct conf_filter_step *s;
	pcre2_code *joined = NULL;
	char *text, err[320];
	size_t len;
	unsigned i;

	if (n > 1) {
		len = join(rules, n, NULL, 0) + 1;
		if ((text = ld_realloc(ld, NULL, len, 1)) == NULL)
			return;
		join(rules, n, text, len);
		joined = conf_regex_compile(text, err, sizeof(err));
		free(text);
		if (joined == NULL) {
			for (i = 0; i < n; i++)
				add_steps(ld, l, rules + i, 1);
			return;
		}
	}
	if ((s = ld_grow(ld, l->steps, l->nsteps, sizeof(*s))) == NULL) {
		if (joined != NULL)
			pcre2_code_free(joined);
		return;
	}
	l->steps = s;
	l->steps[l->nsteps++] = (struct conf_filter_step){ rules, n, joined };
}

/* Cut the list's rules into steps: runs of joinable rules on the same
 * field, the others one by one. */
static void build_steps(struct loader *ld, struct conf_filter_list *l)
{
	const struct conf_filter *const *r = l->rules;
	unsigned i = 0, j;

	while (i < l->nrules) {
		j = i + 1;
		if (conf_filter_joinable(r[i]))
			while (j < l->nrules && j - i < CONF_FILTER_GROUP_MAX &&
			       conf_filter_joinable(r[j]) && same_field(r[i], r[j]))
				j++;
		add_steps(ld, l, r + i, j - i);
		i = j;
	}
	if ((l->match = pcre2_match_data_create(1, NULL)) == NULL)
		ld_out_of_memory(ld);
}

/* ---- sites' and routes' lists ---- */

/* The list written as option o of sec, for owner (a site or a route,
 * named what in errors); NULL when it names none. */
static struct conf_filter_list *read_list(struct loader *ld, cfg_t *sec,
					  const struct conf_option *o, struct conf *c,
					  const char *what)
{
	unsigned i, n = cfg_size(sec, o->name);
	struct conf_filter_list *l;

	if (n == 0 || (l = ld_realloc(ld, NULL, 1, sizeof(*l))) == NULL)
		return NULL;
	memset(l, 0, sizeof(*l));
	if ((l->rules = ld_realloc(ld, NULL, n, sizeof(*l->rules))) == NULL)
		return l;
	for (i = 0; i < n; i++) {
		const char *name = cfg_getnstr(sec, o->name, i);
		const struct conf_filter *f = conf_filter_named(c, name);

		if (f == NULL)
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "%s: unknown filter \"%s\" "
				 "(a filter \"%s\" { path = \"REGEX\" } section at the top level "
				 "makes one)", what, name, name);
		else
			l->rules[l->nrules++] = f;
	}
	build_steps(ld, l);
	return l;
}

static void dump_list(FILE *out, const char *indent, const char *name,
		      const struct conf_filter_list *l)
{
	unsigned i;

	fprintf(out, "%s%s = {", indent, name);
	for (i = 0; i < l->nrules; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, l->rules[i]->name);
	}
	fputs("}\n", out);
}

static void read_site_filters(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			      void *obj, struct conf *c)
{
	struct conf_site *site = obj;
	char what[192];

	snprintf(what, sizeof(what), "site \"%s\"", site->name);
	site->filters = read_list(ld, sec, o, c, what);
}

static void dump_site_filters(FILE *out, const struct conf_option *o, const void *obj,
			      const char *indent)
{
	const struct conf_site *site = obj;

	if (site->filters != NULL)
		dump_list(out, indent, o->name, site->filters);
}

/* A route's list replaces its site's, which it has until then
 * (conf_site.c sets it before reading). */
static void read_route_filters(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			       void *obj, struct conf *c)
{
	struct conf_route *r = obj;
	char what[192];

	if (cfg_size(sec, o->name) == 0)
		return;
	snprintf(what, sizeof(what), "route \"%s\"", r->pattern);
	r->filters = read_list(ld, sec, o, c, what);
}

const struct conf_option conf_site_filter_options[] = {
	{ "filters", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_site_filters, NULL,
	  dump_site_filters, "the filters its routes apply, in order (default: none)", CF_LIST },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* Written back by conf_route_filters_dump, which knows the site. */
const struct conf_option conf_route_filter_options[] = {
	{ "filters", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_route_filters, NULL, NULL,
	  "the filters it applies, in order, instead of its site's", CF_LIST },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

void conf_route_filters_dump(const struct conf_site *site, const struct conf_route *r,
			     FILE *out, const char *indent)
{
	if (r->filters != NULL && r->filters != site->filters)
		dump_list(out, indent, "filters", r->filters);
}

void conf_filter_list_free(struct conf_filter_list *l)
{
	unsigned i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nsteps; i++)
		if (l->steps[i].regex != NULL)
			pcre2_code_free(l->steps[i].regex);
	free(l->steps);
	if (l->match != NULL)
		pcre2_match_data_free(l->match);
	free(l->rules);
	free(l);
}
