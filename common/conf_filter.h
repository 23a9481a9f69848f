/*
 * conf_filter.h: request filters (filter "NAME" { } at the top level),
 * the lists of them sites and routes apply, and how a list is made ready
 * to run.
 *
 * Owns: the rules as written and compiled, and each list's program: its
 * rules in order, cut into steps. A step is one rule, or a run of rules
 * listed one after the other that look at the same field, joined into one
 * alternation whose branches carry their index as a mark. One JIT match
 * of the alternation costs far less than a match per rule for the shapes
 * operators write (prefixes, words, suffixes, case-insensitive bot names:
 * PCRE2 skips to the places where one of them may start, or rejects the
 * value at once when a character they all need is missing), about ten
 * times less for 1,000 rules (bench/filters). The mark names the branch
 * that matched at the leftmost place; a rule listed before it may match
 * further on, so when a group matches, the rules listed before the mark
 * are tried alone, in order: the first listed rule that matches refuses,
 * as without joining, and the extra cost falls on refused requests only.
 * A group whose match fails (PCRE2's match limit) says nothing of which
 * branch failed: its rules are tried alone, in order, likewise.
 * The master builds all of it at load; workers inherit it by fork, and
 * each has its own copy of the list's match data.
 */
#ifndef PORTICO_CONF_FILTER_H
#define PORTICO_CONF_FILTER_H

#include "conf.h"

struct cidr;

/* What a filter looks at. */
enum conf_filter_on {
	FILTER_METHOD = 0,
	FILTER_PATH,			/* as received, without the query */
	FILTER_QUERY,			/* after '?'; empty when none */
	FILTER_HEADER,			/* each field of that name; "" when none */
	FILTER_ADDRESS			/* the client's address, in CIDR prefixes */
};

struct conf_filter {
	char *name;
	char *refused_by;		/* "filter=NAME", as the logs name it */
	enum conf_filter_on on;
	char *method, *path, *query;	/* the regex as written: one of these, */
	char *header, *match;		/* or a field name and its regex */
	char *header_lower;		/* header, lower-case, to find fields */
	struct cidr *address;		/* FILTER_ADDRESS */
	unsigned naddress;
	pcre2_code *regex;		/* the others */
	bool negate;			/* refuse what does not match */
	bool close;			/* action = "close": no answer at all */
	unsigned status;		/* action = "deny": answered with it */
};

/* Rules joined into one step, at most (a larger pattern may pass PCRE2's
 * limit on compiled size). */
#define CONF_FILTER_GROUP_MAX 256

struct conf_filter_step {
	const struct conf_filter *const *rules;	/* into the list's rules */
	unsigned nrules;		/* 1: rules[0] alone, with its regex */
	pcre2_code *regex;		/* nrules > 1: the alternation; the
					 * mark of a match is the index of
					 * the branch that matched first */
};

struct conf_filter_list {
	const struct conf_filter **rules;	/* in the listed order */
	unsigned nrules;
	struct conf_filter_step *steps;
	unsigned nsteps;
	pcre2_match_data *match;	/* fits every step's regex */
};

/* Whether rule f may join a group: it is not negated, its regex has no
 * captures (their numbers would change), nothing in it reaches past its
 * own end ("#" comments, "\Q"), it sets no start-of-pattern options
 * ("(*UTF)") and does not recurse into the whole pattern ("(?R)"). */
bool conf_filter_joinable(const struct conf_filter *f);

/* The filter named name in c, or NULL. */
const struct conf_filter *conf_filter_named(const struct conf *c, const char *name);

#endif
