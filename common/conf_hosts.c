/*
 * conf_hosts.c: the listeners' side of host matching, resolved once every
 * site is: each listener's default site (its default_site, else its first
 * site in file order) and the index of its sites' host patterns
 * (host_index.h). Two sites that claim the same exact name or the same
 * wildcard on a listener they share are refused at file:line: the second
 * could never answer.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "conf_loader.h"
#include "conf_parts.h"
#include "host_index.h"

static bool serves(const struct conf_site *s, const struct conf_listen *l)
{
	unsigned i;

	for (i = 0; i < s->nlistens; i++)
		if (s->listens[i] == l)
			return true;
	return false;
}

/* The line of pattern h in the hosts of site section sec. */
static int host_line(struct loader *ld, cfg_t *sec, const struct conf_host *h)
{
	unsigned i, n = cfg_size(sec, "hosts");

	for (i = 0; i < n; i++)
		if (strcmp(cfg_getnstr(sec, "hosts", i), h->pattern) == 0)
			return ld_opt_line_n(ld, sec, "hosts", i);
	return ld_sec_line(ld, sec);
}

/* Whether a listener before l is shared by both sites: the clash was
 * reported there already. */
static bool reported_before(const struct conf *c, const struct conf_listen *l,
			    const struct conf_site *a, const struct conf_site *b)
{
	int i;

	for (i = 0; i < l->index; i++)
		if (serves(a, &c->listens[i]) && serves(b, &c->listens[i]))
			return true;
	return false;
}

/* The pattern of site that claims what h does: the same kind and key. */
static const struct conf_host *same_claim(const struct conf_site *site,
					  const struct conf_host *h)
{
	unsigned i;

	for (i = 0; i < site->nhosts; i++)
		if (site->hosts[i].kind == h->kind && site->hosts[i].len == h->len &&
		    memcmp(site->hosts[i].name, h->name, h->len) == 0)
			return &site->hosts[i];
	return h;	/* cannot be: the holder put it in the index */
}

static void report_clash(struct loader *ld, cfg_t *cfg, const struct conf *c,
			 const struct conf_listen *l, const struct conf_site *site,
			 const struct conf_host *h, const struct conf_site *holder)
{
	cfg_t *sec = cfg_getnsec(cfg, "site", (unsigned)(site - c->sites));
	cfg_t *other = cfg_getnsec(cfg, "site", (unsigned)(holder - c->sites));
	const struct conf_host *theirs = same_claim(holder, h);
	char where[PATH_MAX + 16];

	if (reported_before(c, l, site, holder))
		return;
	ld_where(ld, host_line(ld, other, theirs), where, sizeof(where));
	ld_error(ld, host_line(ld, sec, h), "site \"%s\": host \"%s\" is already site \"%s\"'s "
		 "(\"%s\" at %s) on listen \"%s\"", site->name, h->pattern, holder->name,
		 theirs->pattern, where, l->name);
}

static void index_listener(struct loader *ld, cfg_t *cfg, const struct conf *c,
			   struct conf_listen *l)
{
	const struct conf_site *holder;
	unsigned i, j;

	if ((l->hosts = host_index_new()) == NULL) {
		ld_out_of_memory(ld);
		return;
	}
	for (i = 0; i < c->nsites; i++) {
		const struct conf_site *site = &c->sites[i];

		if (site->name == NULL || !serves(site, l))
			continue;
		for (j = 0; j < site->nhosts; j++) {
			int rc = host_index_add(l->hosts, &site->hosts[j], site, &holder);

			if (rc < 0)
				ld_out_of_memory(ld);
			else if (rc > 0)
				report_clash(ld, cfg, c, l, site, &site->hosts[j], holder);
		}
	}
}

static const struct conf_site *site_named(const struct conf *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->nsites; i++)
		if (c->sites[i].name != NULL && strcmp(c->sites[i].name, name) == 0)
			return &c->sites[i];
	return NULL;
}

static void resolve_default_site(struct loader *ld, cfg_t *sec, const struct conf *c,
				 struct conf_listen *l)
{
	const struct conf_site *named;
	unsigned i;

	for (i = 0; i < c->nsites && l->default_site == NULL; i++)
		if (c->sites[i].name != NULL && serves(&c->sites[i], l))
			l->default_site = &c->sites[i];
	if (l->default_site_name == NULL)
		return;
	if ((named = site_named(c, l->default_site_name)) == NULL)
		ld_error(ld, ld_opt_line(ld, sec, "default_site"), "listen \"%s\": default_site "
			 "\"%s\": no such site", l->name, l->default_site_name);
	else if (!serves(named, l))
		ld_error(ld, ld_opt_line(ld, sec, "default_site"), "listen \"%s\": default_site "
			 "\"%s\" is not served on it (its listen does not name \"%s\")", l->name,
			 l->default_site_name, l->name);
	else
		l->default_site = named;
}

/* A default_site that a site of "*" (written, or hosts' default) on the
 * same listener leaves no request to: "*" comes first. */
static void check_default_reachable(struct loader *ld, cfg_t *sec, const struct conf_listen *l)
{
	const struct conf_site *any = host_index_find(l->hosts, (struct slice){ NULL, 0 });

	if (l->default_site_name != NULL && any != NULL && any != l->default_site)
		ld_error(ld, ld_opt_line(ld, sec, "default_site"), "listen \"%s\": default_site "
			 "\"%s\" would answer no request: site \"%s\" answers any host on it "
			 "(\"*\", also what hosts is without a list)", l->name, l->default_site_name,
			 any->name);
}

void conf_hosts_resolve(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned i;

	for (i = 0; i < c->nlistens; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "listen", i);

		resolve_default_site(ld, sec, c, &c->listens[i]);
		index_listener(ld, cfg, c, &c->listens[i]);
		check_default_reachable(ld, sec, &c->listens[i]);
	}
}
