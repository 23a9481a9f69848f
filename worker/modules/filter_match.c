/*
 * filter_match.c: which rule of a filter list refuses a request.
 */
#include "config.h"

#include <stdlib.h>

#include "cidr.h"
#include "modules/filter.h"

/* The value a rule on a field other than a header looks at. */
static struct slice field_of(const struct conf_filter *f, const struct http_message *req)
{
	switch (f->on) {
	case FILTER_METHOD:
		return req->method;
	case FILTER_PATH:
		return req->path;
	case FILTER_QUERY:
		return req->query;
	case FILTER_HEADER:
	case FILTER_ADDRESS:
		break;
	}
	return (struct slice){ "", 0 };
}

/* The index in step s of the first of its rules whose regex matches v,
 * or -1. A group's match tells which branch by its mark. */
static int step_match(const struct conf_filter_list *l, const struct conf_filter_step *s,
		      struct slice v)
{
	pcre2_code *re = s->nrules == 1 ? s->rules[0]->regex : s->regex;

	if (pcre2_match(re, (PCRE2_SPTR)(v.p != NULL ? v.p : ""), v.len, 0, 0, l->match,
			NULL) < 0)
		return -1;
	if (s->nrules == 1)
		return 0;
	return (int)strtoul((const char *)pcre2_get_mark(l->match), NULL, 10);
}

/* The same over each field the step's header rules name (the first
 * listed rule that any of them matches), or over "" when there is none. */
static int step_match_header(const struct conf_filter_list *l, const struct conf_filter_step *s,
			     const struct http_message *req)
{
	const char *name = s->rules[0]->header_lower;
	int best = -1, k;
	bool seen = false;
	unsigned i;

	for (i = 0; i < req->nheaders; i++) {
		if (!slice_ieq(req->headers[i].name, name))
			continue;
		seen = true;
		k = step_match(l, s, req->headers[i].value);
		if (k >= 0 && (best < 0 || k < best))
			best = k;
	}
	return seen ? best : step_match(l, s, (struct slice){ "", 0 });
}

const struct conf_filter *filter_first(const struct conf_filter_list *l,
				       const struct http_message *req, const uint8_t addr[16])
{
	unsigned i;

	for (i = 0; i < l->nsteps; i++) {
		const struct conf_filter_step *s = &l->steps[i];
		const struct conf_filter *f = s->rules[0];
		int k;

		if (f->on == FILTER_ADDRESS)
			k = cidr_list_match(f->address, f->naddress, addr) ? 0 : -1;
		else if (f->on == FILTER_HEADER)
			k = step_match_header(l, s, req);
		else
			k = step_match(l, s, field_of(f, req));
		if (f->negate)		/* a negated rule is a step alone */
			k = k < 0 ? 0 : -1;
		if (k >= 0 && (unsigned)k < s->nrules)
			return s->rules[k];
	}
	return NULL;
}
