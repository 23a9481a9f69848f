/*
 * conf_methods.c: methods = {"GET", "POST"} on sites and routes: the
 * names checked as tokens, GET bringing HEAD along, and the Allow field
 * a 405 sends made once, here.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf_loader.h"
#include "conf_parts.h"
#include "http_parse.h"

static bool listed(const struct conf_methods *m, const char *name)
{
	unsigned i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->names[i], name) == 0)
			return true;
	return false;
}

/* "GET, HEAD, POST", in the order written. */
static char *allow_value(struct loader *ld, const struct conf_methods *m)
{
	size_t len = 1, at = 0, k;
	unsigned i;
	char *s;

	for (i = 0; i < m->n; i++)
		len += strlen(m->names[i]) + 2;
	if ((s = ld_realloc(ld, NULL, len, 1)) == NULL)
		return NULL;
	for (i = 0; i < m->n; i++) {
		if (i > 0) {
			memcpy(s + at, ", ", 2);
			at += 2;
		}
		k = strlen(m->names[i]);
		memcpy(s + at, m->names[i], k);
		at += k;
	}
	s[at] = '\0';
	return s;
}

static void add(struct loader *ld, struct conf_methods *m, const char *name)
{
	char *copy = ld_strdup(ld, name);

	if (copy != NULL)
		m->names[m->n++] = copy;
}

void conf_methods_read(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c)
{
	struct conf_methods **field = conf_field(o, obj), *m;
	unsigned i, n = cfg_size(sec, o->name);

	(void)c;
	if (n == 0) {
		/* Not written: the default (any method, or the site's).
		 * An empty list passes no value to the loader, which
		 * cannot tell it apart; libconfuse can. */
		if (cfg_getopt(sec, o->name)->flags & CFGF_MODIFIED)
			ld_error(ld, ld_opt_line(ld, sec, o->name), "methods: an empty list would "
				 "refuse every request (leave methods out to take any method)");
		return;
	}
	if ((m = ld_realloc(ld, NULL, 1, sizeof(*m))) == NULL)
		return;
	m->n = 0;
	m->allow = NULL;
	/* One more for the HEAD that GET brings. */
	if ((m->names = ld_realloc(ld, NULL, n + 1, sizeof(*m->names))) == NULL) {
		free(m);
		return;
	}
	*field = m;
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, o->name, i);

		if (!http_is_token(s))
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "methods: \"%s\" is not "
				 "a method name (a token: letters, digits and !#$%%&'*+-.^_`|~)", s);
		else if (!listed(m, s))
			add(ld, m, s);
	}
	/* As nginx's limit_except: whoever may GET may ask for the head. */
	if (listed(m, "GET") && !listed(m, "HEAD"))
		add(ld, m, "HEAD");
	m->allow = allow_value(ld, m);
}

void conf_methods_dump(FILE *out, const struct conf_option *o, const void *obj,
		       const char *indent)
{
	const struct conf_methods *m = *(struct conf_methods *const *)conf_cfield(o, obj);
	unsigned i;

	if (m == NULL)
		return;
	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < m->n; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, m->names[i]);
	}
	fputs("}\n", out);
}

void conf_methods_free(struct conf_methods *m)
{
	unsigned i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		free(m->names[i]);
	free(m->names);
	free(m->allow);
	free(m);
}
