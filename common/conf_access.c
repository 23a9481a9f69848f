/*
 * conf_access.c: allow and deny on sites and routes: lists of client
 * address prefixes written in the file, or in files of their own for the
 * long ones (allow_file, deny_file: one prefix a line, '#' comments).
 *
 * Each list and its file go into one prefix tree (prefix_tree.h), built
 * here in the master and read by the workers (worker/modules/acl.c). A
 * route that sets any of the four options has only its own lists; one
 * that sets none has its site's, as nginx's inner levels replace the
 * outer one's access rules.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "conf_loader.h"
#include "conf_parts.h"
#include "conf_text.h"
#include "prefix_tree.h"

/* Bad lines of a file reported before the rest of it is left unread. */
#define FILE_ERRORS_MAX 10

/* A list's tree, made on first use. */
static struct prefix_tree *tree_of(struct loader *ld, struct prefix_tree **tree)
{
	if (*tree == NULL && (*tree = prefix_tree_new()) == NULL)
		ld_out_of_memory(ld);
	return *tree;
}

static void add_prefix(struct loader *ld, struct prefix_tree *tree, const struct cidr *p)
{
	if (prefix_tree_add(tree, p, 1) < 0)
		ld_out_of_memory(ld);
}

/* allow = {...}, deny = {...}: each prefix at the line of its own. */
static void read_list(struct loader *ld, cfg_t *sec, const struct conf_option *o,
		      struct cidr **list, unsigned *n, struct prefix_tree **tree)
{
	struct prefix_tree *t;
	unsigned i;

	ld_get_cidrs(ld, sec, o->name, NULL, list, n);
	if (cfg_size(sec, o->name) == 0 || (t = tree_of(ld, tree)) == NULL)
		return;
	for (i = 0; i < *n; i++)
		add_prefix(ld, t, &(*list)[i]);
}

/* The prefix on a line of a file, without its comment and blanks; NULL
 * when there is none. */
static char *line_prefix(char *line)
{
	char *end;

	line[strcspn(line, "#\r\n")] = '\0';
	line += strspn(line, " \t");
	for (end = line + strlen(line); end > line && (end[-1] == ' ' || end[-1] == '\t'); end--)
		;
	*end = '\0';
	return *line != '\0' ? line : NULL;
}

/* path opened for reading, if it is a regular file. */
static FILE *open_regular(struct loader *ld, int optline, const char *name, const char *path)
{
	const char *why;
	FILE *f = conf_text_open_regular(path, &why);

	if (f == NULL)
		ld_error(ld, optline, "%s \"%s\": %s", name, path, why ? why : strerror(errno));
	return f;
}

/* The prefixes of the file path into t; errors at path:line. */
static void read_prefix_file(struct loader *ld, int optline, const char *name, const char *path,
			     struct prefix_tree *t)
{
	FILE *f = open_regular(ld, optline, name, path);
	unsigned bad = 0;
	char *line = NULL, *p, err[160];
	size_t cap = 0;
	int n = 0;
	struct cidr c;

	if (f == NULL)
		return;
	while (getline(&line, &cap, f) >= 0) {
		n++;
		if ((p = line_prefix(line)) == NULL)
			continue;
		if (cidr_parse(p, &c, err, sizeof(err)) == 0) {
			add_prefix(ld, t, &c);
			continue;
		}
		if (++bad > FILE_ERRORS_MAX) {
			ld_error_file(ld, optline, path, n, "%s: more bad lines; the rest of the "
				      "file is not read", name);
			break;
		}
		ld_error_file(ld, optline, path, n, "%s: %s", name, err);
	}
	if (ferror(f))
		ld_error(ld, optline, "%s \"%s\": %s", name, path, strerror(errno));
	free(line);
	fclose(f);
}

/* allow_file, deny_file: the path (taken from the main file's directory
 * when relative) kept for -T; its prefixes go into the list's tree. A
 * file with none still sets the list: an empty allow lets no one in. */
static void read_file(struct loader *ld, cfg_t *sec, const struct conf_option *o, char **path,
		      struct prefix_tree **tree)
{
	struct prefix_tree *t;

	if (cfg_getstr(sec, o->name) == NULL)
		return;
	if ((*path = ld_get_path(ld, sec, o->name, NULL)) == NULL || (t = tree_of(ld, tree)) == NULL)
		return;
	read_prefix_file(ld, ld_opt_line(ld, sec, o->name), o->name, *path, t);
}

static void read_allow(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c)
{
	struct conf_acl *a = conf_field(o, obj);

	(void)c;
	read_list(ld, sec, o, &a->allow, &a->nallow, &a->allow_tree);
}

static void read_deny(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		      struct conf *c)
{
	struct conf_acl *a = conf_field(o, obj);

	(void)c;
	read_list(ld, sec, o, &a->deny, &a->ndeny, &a->deny_tree);
}

static void read_allow_file(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			    void *obj, struct conf *c)
{
	struct conf_acl *a = conf_field(o, obj);

	(void)c;
	read_file(ld, sec, o, &a->allow_file, &a->allow_tree);
}

static void read_deny_file(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			   void *obj, struct conf *c)
{
	struct conf_acl *a = conf_field(o, obj);

	(void)c;
	read_file(ld, sec, o, &a->deny_file, &a->deny_tree);
}

/* ---- writing back ---- */

static void dump_allow(FILE *out, const struct conf_option *o, const void *obj,
		       const char *indent)
{
	const struct conf_acl *a = conf_cfield(o, obj);

	conf_dump_cidrs(out, indent, o->name, a->allow, a->nallow);
}

static void dump_deny(FILE *out, const struct conf_option *o, const void *obj,
		      const char *indent)
{
	const struct conf_acl *a = conf_cfield(o, obj);

	conf_dump_cidrs(out, indent, o->name, a->deny, a->ndeny);
}

static void dump_allow_file(FILE *out, const struct conf_option *o, const void *obj,
			    const char *indent)
{
	const struct conf_acl *a = conf_cfield(o, obj);

	conf_dump_line(out, indent, o->name, a->allow_file);
}

static void dump_deny_file(FILE *out, const struct conf_option *o, const void *obj,
			   const char *indent)
{
	const struct conf_acl *a = conf_cfield(o, obj);

	conf_dump_line(out, indent, o->name, a->deny_file);
}

/* ---- the tables ---- */

#define ACL_ROWS(scope, offset, where)							\
	{ "allow", scope, CT_CUSTOM, NULL, 0, 0, offset, read_allow, NULL, dump_allow,	\
	  "client addresses (CIDR) let in" where "; when set, no others", CF_LIST },	\
	{ "deny", scope, CT_CUSTOM, NULL, 0, 0, offset, read_deny, NULL, dump_deny,	\
	  "client addresses (CIDR) refused with 403" where ", even when allowed",	\
	  CF_LIST },									\
	{ "allow_file", scope, CT_CUSTOM, NULL, 0, 0, offset, read_allow_file, NULL,	\
	  dump_allow_file, "a file of more allow prefixes, one a line ('#' comments)",	\
	  0 },										\
	{ "deny_file", scope, CT_CUSTOM, NULL, 0, 0, offset, read_deny_file, NULL,	\
	  dump_deny_file, "a file of more deny prefixes, one a line ('#' comments)", 0 }, \
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }

const struct conf_option conf_site_acl_options[] = {
	ACL_ROWS(CS_SITE, offsetof(struct conf_site, acl), "")
};

const struct conf_option conf_route_acl_options[] = {
	ACL_ROWS(CS_ROUTE, offsetof(struct conf_route, own_acl),
		 " (the route's lists replace all of its site's)")
};

/* ---- resolving and freeing ---- */

static bool acl_set(const struct conf_acl *a)
{
	return a->allow_tree != NULL || a->deny_tree != NULL;
}

void conf_acl_finish(struct loader *ld, struct conf_acl *a)
{
	if ((a->allow_tree != NULL && prefix_tree_seal(a->allow_tree) < 0) ||
	    (a->deny_tree != NULL && prefix_tree_seal(a->deny_tree) < 0))
		ld_out_of_memory(ld);
}

void conf_route_acl(struct conf_route *r, const struct conf_site *site)
{
	r->acl = acl_set(&r->own_acl) ? &r->own_acl : acl_set(&site->acl) ? &site->acl : NULL;
}

void conf_acl_free(struct conf_acl *a)
{
	free(a->allow);
	free(a->deny);
	free(a->allow_file);
	free(a->deny_file);
	prefix_tree_free(a->allow_tree);
	prefix_tree_free(a->deny_tree);
	memset(a, 0, sizeof(*a));
}
