/*
 * route_cond.c: conditions on routes (route_cond.h): read by the master
 * with the route's other options, written back by -T, matched by the
 * workers while they choose a route.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "conf_loader.h"
#include "conf_parts.h"
#include "route_cond.h"

/* One kind of condition. */
struct route_cond_kind {
	const char *option;		/* its option's name */
	/* An entry from its text, or -1 with a reason in err. */
	int (*read)(const char *text, struct route_cond_entry *e, char *err, size_t errlen);
	bool (*holds)(const struct route_cond *c, const struct route_input *in);
};

/* ---- reading entries ---- */

static struct slice trimmed(const char *p, size_t len)
{
	return slice_trim((struct slice){ p, len });
}

static char *copy(struct slice s)
{
	char *d = malloc(s.len + 1);

	if (d != NULL) {
		memcpy(d, s.p, s.len);
		d[s.len] = '\0';
	}
	return d;
}

static int out_of_memory(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int read_regex(struct route_cond_entry *e, char *err, size_t errlen)
{
	char why[300];

	if (e->value_len == 0) {
		snprintf(err, errlen, "empty regex after \"~\"");
		return -1;
	}
	if ((e->regex = conf_regex_compile(e->value, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "bad regex: %s", why);
		return -1;
	}
	if ((e->match = pcre2_match_data_create_from_pattern(e->regex, NULL)) == NULL)
		return out_of_memory(err, errlen);
	return 0;
}

/* "Name", "!Name", "Name = value", "Name ~ regex": the name is what comes
 * before the first '=' or '~'. */
static int read_form(const char *text, struct route_cond_entry *e, char *err, size_t errlen)
{
	struct slice name, value = { "", 0 };
	const char *op;

	name = trimmed(text, strlen(text));
	if (name.len > 0 && name.p[0] == '!') {
		e->form = COND_ABSENT;
		name = trimmed(name.p + 1, name.len - 1);
	}
	for (op = name.p; op < name.p + name.len && *op != '=' && *op != '~'; op++)
		;
	if (op < name.p + name.len) {
		if (e->form == COND_ABSENT) {
			snprintf(err, errlen, "\"!\" takes a name alone");
			return -1;
		}
		e->form = *op == '=' ? COND_EQUAL : COND_REGEX;
		value = trimmed(op + 1, (size_t)(name.p + name.len - op - 1));
		name = trimmed(name.p, (size_t)(op - name.p));
	}
	if (name.len == 0) {
		snprintf(err, errlen, "empty name");
		return -1;
	}
	if ((e->name = copy(name)) == NULL || (e->value = copy(value)) == NULL)
		return out_of_memory(err, errlen);
	e->name_len = name.len;
	e->value_len = value.len;
	return e->form == COND_REGEX ? read_regex(e, err, errlen) : 0;
}

static int read_method(const char *text, struct route_cond_entry *e, char *err, size_t errlen)
{
	if (!http_is_token(text)) {
		snprintf(err, errlen, "not a method name (a token: letters, digits and "
			 "!#$%%&'*+-.^_`|~)");
		return -1;
	}
	if ((e->name = copy((struct slice){ text, strlen(text) })) == NULL)
		return out_of_memory(err, errlen);
	e->name_len = strlen(text);
	return 0;
}

static int read_header(const char *text, struct route_cond_entry *e, char *err, size_t errlen)
{
	char *p;

	if (read_form(text, e, err, errlen) < 0)
		return -1;
	if (!http_is_token(e->name)) {
		snprintf(err, errlen, "\"%s\" is not a field name", e->name);
		return -1;
	}
	for (p = e->name; *p; p++)	/* compared as slice_ieq wants */
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

/* Cookie and argument names: anything but blanks and separators. */
static int read_pair(const char *text, struct route_cond_entry *e, char *err, size_t errlen)
{
	if (read_form(text, e, err, errlen) < 0)
		return -1;
	if (strpbrk(e->name, " \t;&") != NULL) {
		snprintf(err, errlen, "\"%s\" is not a name (no blanks, ';' or '&')", e->name);
		return -1;
	}
	return 0;
}

static int read_client(const char *text, struct route_cond_entry *e, char *err, size_t errlen)
{
	return cidr_parse(text, &e->cidr, err, errlen);
}

/* A region's name as geo files write them (conf_geo.c). */
static int read_region(const char *text, struct route_cond_entry *e, char *err, size_t errlen)
{
	const char *p;

	for (p = text; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			break;
	if (p == text || *p != '\0') {
		snprintf(err, errlen, "not a region name (letters, digits, '-', '_' or '.')");
		return -1;
	}
	if ((e->name = copy((struct slice){ text, strlen(text) })) == NULL)
		return out_of_memory(err, errlen);
	e->name_len = strlen(text);
	return 0;
}

/* ---- matching ---- */

/* Whether value v satisfies entry e's form (EQUAL, REGEX; any value
 * for PRESENT and ABSENT, which only ask whether one exists). */
static bool value_fits(const struct route_cond_entry *e, struct slice v)
{
	switch (e->form) {
	case COND_EQUAL:
		return v.len == e->value_len && (v.len == 0 || memcmp(v.p, e->value, v.len) == 0);
	case COND_REGEX:
		return pcre2_match(e->regex, (PCRE2_SPTR)(v.p ? v.p : ""), v.len, 0, 0,
				   e->match, NULL) >= 0;
	default:
		return true;
	}
}

/* Whether some header field named e->name has a value that fits. */
static bool some_header(const struct route_input *in, const struct route_cond_entry *e)
{
	const struct http_message *r = in->req;
	unsigned i;

	for (i = 0; i < r->nheaders; i++)
		if (slice_ieq(r->headers[i].name, e->name) && value_fits(e, r->headers[i].value))
			return true;
	return false;
}

/* Whether some "name=value" item of list (separated by sep; an item
 * without '=' is a name with an empty value) is named e->name with a
 * value that fits. */
static bool some_item(struct slice list, char sep, const struct route_cond_entry *e)
{
	const char *p = list.p, *end = list.p + list.len;

	while (p < end) {
		const char *item_end = memchr(p, sep, (size_t)(end - p)), *eq;
		struct slice name, value = { "", 0 };

		if (item_end == NULL)
			item_end = end;
		eq = memchr(p, '=', (size_t)(item_end - p));
		name = trimmed(p, (size_t)((eq ? eq : item_end) - p));
		if (eq != NULL)
			value = trimmed(eq + 1, (size_t)(item_end - eq - 1));
		if (name.len == e->name_len && memcmp(name.p, e->name, name.len) == 0 &&
		    value_fits(e, value))
			return true;
		p = item_end + 1;
	}
	return false;
}

static bool some_cookie(const struct route_input *in, const struct route_cond_entry *e)
{
	const struct http_message *r = in->req;
	unsigned i;

	for (i = 0; i < r->nheaders; i++)
		if (slice_ieq(r->headers[i].name, "cookie") && some_item(r->headers[i].value, ';', e))
			return true;
	return false;
}

static bool some_arg(const struct route_input *in, const struct route_cond_entry *e)
{
	return some_item(in->req->query, '&', e);
}

/* Every entry of c holds, some() telling whether a value of its name fits. */
static bool every_form_holds(const struct route_cond *c, const struct route_input *in,
			     bool (*some)(const struct route_input *,
					  const struct route_cond_entry *))
{
	unsigned i;

	for (i = 0; i < c->n; i++)
		if (some(in, &c->entries[i]) == (c->entries[i].form == COND_ABSENT))
			return false;
	return true;
}

static bool header_holds(const struct route_cond *c, const struct route_input *in)
{
	return every_form_holds(c, in, some_header);
}

static bool cookie_holds(const struct route_cond *c, const struct route_input *in)
{
	return every_form_holds(c, in, some_cookie);
}

static bool arg_holds(const struct route_cond *c, const struct route_input *in)
{
	return every_form_holds(c, in, some_arg);
}

static bool method_holds(const struct route_cond *c, const struct route_input *in)
{
	struct slice m = in->req->method;
	unsigned i;

	for (i = 0; i < c->n; i++)
		if (m.len == c->entries[i].name_len && memcmp(m.p, c->entries[i].name, m.len) == 0)
			return true;
	return false;
}

static bool client_holds(const struct route_cond *c, const struct route_input *in)
{
	unsigned i;

	for (i = 0; in->client_addr != NULL && i < c->n; i++)
		if (cidr_contains(&c->entries[i].cidr, in->client_addr))
			return true;
	return false;
}

static bool region_holds(const struct route_cond *c, const struct route_input *in)
{
	unsigned i;

	for (i = 0; in->region != 0 && i < c->n; i++)
		if (c->entries[i].region == in->region)
			return true;
	return false;
}

bool route_conds_hold(const struct conf_route *r, const struct route_input *in)
{
	unsigned i;

	for (i = 0; i < r->nconds; i++)
		if (!r->conds[i].kind->holds(&r->conds[i], in))
			return false;
	return true;
}

/* ---- the kinds ---- */

static const struct route_cond_kind kinds[] = {
	{ "match_method", read_method, method_holds },
	{ "match_header", read_header, header_holds },
	{ "match_cookie", read_pair, cookie_holds },
	{ "match_arg", read_pair, arg_holds },
	{ "match_client", read_client, client_holds },
	{ "match_region", read_region, region_holds },
};

static const struct route_cond_kind *kind_named(const char *option)
{
	unsigned i;

	for (i = 0; i < ARRAY_LEN(kinds); i++)
		if (strcmp(kinds[i].option, option) == 0)
			return &kinds[i];
	return NULL;
}

/* ---- the option rows ---- */

static void free_entry(struct route_cond_entry *e)
{
	free(e->text);
	free(e->name);
	free(e->value);
	if (e->match != NULL)
		pcre2_match_data_free(e->match);
	if (e->regex != NULL)
		pcre2_code_free(e->regex);
}

/* The entries of option o into c; each bad one an error at its line. */
static void read_entries(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			 const struct conf_route *r, struct route_cond *c)
{
	unsigned i, n = cfg_size(sec, o->name);
	char err[400];

	for (i = 0; i < n; i++) {
		const char *text = cfg_getnstr(sec, o->name, i);
		struct route_cond_entry *e = &c->entries[c->n];

		memset(e, 0, sizeof(*e));
		if (c->kind->read(text, e, err, sizeof(err)) < 0) {
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "route \"%s\": %s \"%s\": %s",
				 r->pattern, o->name, text, err);
			free_entry(e);
			continue;
		}
		if ((e->text = ld_strdup(ld, text)) == NULL) {
			free_entry(e);
			continue;
		}
		c->n++;
	}
}

static void read_cond(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		      struct conf *conf)
{
	struct conf_route *r = obj;
	unsigned n = cfg_size(sec, o->name);
	struct route_cond *c, *conds;

	(void)conf;
	if (n == 0) {
		if (cfg_getopt(sec, o->name)->flags & CFGF_MODIFIED)
			ld_error(ld, ld_opt_line(ld, sec, o->name), "route \"%s\": %s: an empty list "
				 "would match no request (leave it out to match any)", r->pattern,
				 o->name);
		return;
	}
	if ((conds = ld_realloc(ld, r->conds, r->nconds + 1, sizeof(*conds))) == NULL)
		return;
	r->conds = conds;
	c = &conds[r->nconds];
	c->kind = kind_named(o->name);
	c->n = 0;
	if ((c->entries = ld_realloc(ld, NULL, n, sizeof(*c->entries))) == NULL)
		return;
	r->nconds++;
	read_entries(ld, sec, o, r, c);
}

static void dump_cond(FILE *out, const struct conf_option *o, const void *obj,
		      const char *indent)
{
	const struct conf_route *r = obj;
	unsigned i, j;

	for (i = 0; i < r->nconds; i++) {
		const struct route_cond *c = &r->conds[i];

		if (strcmp(c->kind->option, o->name) != 0)
			continue;
		fprintf(out, "%s%s = {", indent, o->name);
		for (j = 0; j < c->n; j++) {
			fputs(j ? ", " : "", out);
			conf_dump_str(out, c->entries[j].text);
		}
		fputs("}\n", out);
	}
}

#define COND_ROW(name, doc) \
	{ name, CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_cond, NULL, dump_cond, doc, CF_LIST }

const struct conf_option conf_route_cond_options[] = {
	COND_ROW("match_method", "the route is chosen only for one of these methods (GET does "
		 "not bring HEAD)"),
	COND_ROW("match_header", "... only when each entry holds: \"Name\", \"!Name\", "
		 "\"Name = value\", \"Name ~ regex\""),
	COND_ROW("match_cookie", "... the same forms on the request's cookies"),
	COND_ROW("match_arg", "... the same forms on the query's arguments"),
	COND_ROW("match_client", "... only for a client address in one of these prefixes (CIDR)"),
	COND_ROW("match_region", "... only for a client of one of these regions (by the site's "
		 "geo)"),
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

void route_conds_resolve_regions(struct loader *ld, cfg_t *sec, const struct conf *c,
				 const struct conf_site *site, struct conf_route *r)
{
	const struct conf_region *known;
	unsigned i, j;

	for (i = 0; i < r->nconds; i++) {
		struct route_cond *rc = &r->conds[i];

		if (rc->kind->holds != region_holds)
			continue;
		if (site->geo == NULL) {
			ld_error(ld, ld_opt_line(ld, sec, rc->kind->option), "route \"%s\": "
				 "match_region needs a geo section (geo \"NAME\" { file = ... })",
				 r->pattern);
			return;
		}
		for (j = 0; j < rc->n; j++) {
			if ((known = conf_region_find(c, rc->entries[j].name)) != NULL)
				rc->entries[j].region = known->id;
			else
				ld_error(ld, ld_opt_line_n(ld, sec, rc->kind->option, j), "route "
					 "\"%s\": match_region \"%s\": no geo file nor server "
					 "names this region", r->pattern, rc->entries[j].name);
		}
	}
}

void route_conds_free(struct conf_route *r)
{
	unsigned i, j;

	for (i = 0; i < r->nconds; i++) {
		for (j = 0; j < r->conds[i].n; j++)
			free_entry(&r->conds[i].entries[j]);
		free(r->conds[i].entries);
	}
	free(r->conds);
	r->conds = NULL;
	r->nconds = 0;
}
