/*
 * filter_match.c: which rule of a filter list refuses a request.
 *
 * A match that fails for another reason than not matching (PCRE2's match
 * or depth limit, hit by a regex that backtracks too much on a crafted
 * value) refuses the request, as a match would: a value must not get
 * past a rule by being too costly to test. The rule named is the one
 * that failed: when a joined group fails, its rules are tried alone.
 *
 * JIT code keeps a frame on its stack for each repeat of a group, so
 * that PCRE2's default of 32 KiB refuses a pattern like "(a|b)*x"
 * against a header of a few thousand bytes: each worker matches with a
 * JIT stack of its own that grows up to 1 MiB.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "modules/filter.h"

#define JIT_STACK_START (32 * 1024)
#define JIT_STACK_MAX (1024 * 1024)

/* This worker's, with its JIT stack; NULL until filter_match_init. */
static pcre2_match_context *match_ctx;

/* The request's fields of one name, found once for the steps in a row
 * that look at it (rules on User-Agent are usually listed together). */
struct fields {
	const char *name;		/* lower-case; NULL: not looked up yet */
	struct slice value[HTTP_MAX_HEADERS];
	unsigned n;
};

static void find_fields(struct fields *fs, const struct http_message *req, const char *name)
{
	unsigned i;

	if (fs->name != NULL && strcmp(fs->name, name) == 0)
		return;
	fs->name = name;
	fs->n = 0;
	for (i = 0; i < req->nheaders; i++)
		if (slice_ieq(req->headers[i].name, name))
			fs->value[fs->n++] = req->headers[i].value;
	if (fs->n == 0)			/* none: tested as empty */
		fs->value[fs->n++] = (struct slice){ "", 0 };
}

/* The value a rule on a field other than a header looks at. */
static struct slice field_of(const struct conf_filter *f, const struct http_message *req)
{
	switch (f->on) {
	case FILTER_METHOD:
		return req->method;
	case FILTER_PATH:
		return req->uri;
	case FILTER_QUERY:
		return req->query;
	case FILTER_HEADER:
	case FILTER_ADDRESS:
		break;
	}
	return (struct slice){ "", 0 };
}

int filter_match_init(const struct worker_ctx *ctx)
{
	pcre2_jit_stack *stack;

	(void)ctx;
	if ((match_ctx = pcre2_match_context_create(NULL)) == NULL)
		return -1;
	if ((stack = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL)) == NULL) {
		pcre2_match_context_free(match_ctx);
		match_ctx = NULL;
		return -1;
	}
	pcre2_jit_stack_assign(match_ctx, NULL, stack);
	return 0;
}

static int match(pcre2_code *re, pcre2_match_data *md, struct slice v)
{
	return pcre2_match(re, (PCRE2_SPTR)(v.p != NULL ? v.p : ""), v.len, 0, 0, md, match_ctx);
}

/* The first of step s's rules below end that refuses v alone: the
 * index of the first whose regex matches or fails (*failed set then),
 * or -1. */
static int first_alone(const struct conf_filter_list *l, const struct conf_filter_step *s,
		       unsigned end, struct slice v, bool *failed)
{
	unsigned j;
	int rc;

	for (j = 0; j < end; j++) {
		rc = match(s->rules[j]->regex, l->match, v);
		if (rc == PCRE2_ERROR_NOMATCH)
			continue;
		if (rc < 0)
			*failed = true;
		return (int)j;
	}
	return -1;
}

/* Which of step s's rules the value v refuses: the index of the first
 * listed whose regex matches or fails (*failed set then), or -1. A
 * group's match names the branch that matched at the leftmost place by
 * its mark; the rules listed before it may match further on. A group
 * that fails says nothing of which branch did: its rules are tried
 * alone, as if they had not been joined. */
static int step_match(const struct conf_filter_list *l, const struct conf_filter_step *s,
		      struct slice v, bool *failed)
{
	int rc, k;

	rc = match(s->nrules == 1 ? s->rules[0]->regex : s->regex, l->match, v);
	if (rc == PCRE2_ERROR_NOMATCH)
		return -1;
	if (s->nrules == 1) {
		if (rc < 0)
			*failed = true;
		return 0;
	}
	if (rc < 0)
		return first_alone(l, s, s->nrules, v, failed);
	k = (int)strtoul((const char *)pcre2_get_mark(l->match), NULL, 10);
	rc = first_alone(l, s, (unsigned)k, v, failed);
	return rc >= 0 ? rc : k;
}

/* The same over each of the fields the step's header rules name: the
 * first listed rule that any of them matches. */
static int step_match_fields(const struct conf_filter_list *l, const struct conf_filter_step *s,
			     const struct fields *fs, bool *failed)
{
	int best = -1, k;
	unsigned i;

	for (i = 0; i < fs->n; i++) {
		k = step_match(l, s, fs->value[i], failed);
		if (k >= 0 && (best < 0 || k < best))
			best = k;
	}
	return best;
}

const struct conf_filter *filter_first(const struct conf_filter_list *l,
				       const struct http_message *req, const uint8_t addr[16])
{
	struct fields fs;
	unsigned i;

	fs.name = NULL;
	for (i = 0; i < l->nsteps; i++) {
		const struct conf_filter_step *s = &l->steps[i];
		const struct conf_filter *f = s->rules[0];
		bool failed = false;
		int k;

		if (f->on == FILTER_ADDRESS) {
			k = cidr_list_match(f->address, f->naddress, addr) ? 0 : -1;
		} else if (f->on == FILTER_HEADER) {
			find_fields(&fs, req, f->header_lower);
			k = step_match_fields(l, s, &fs, &failed);
		} else {
			k = step_match(l, s, field_of(f, req), &failed);
		}
		if (f->negate && !failed)	/* a negated rule is a step alone */
			k = k < 0 ? 0 : -1;
		if (k >= 0 && (unsigned)k < s->nrules)
			return s->rules[k];
	}
	return NULL;
}
