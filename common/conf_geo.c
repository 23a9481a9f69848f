/*
 * conf_geo.c: geo sections (geo "NAME" { file = ...  default = ... } at
 * the top level), the regions they map client addresses to, and what
 * names them: a site's geo (where $geo_region comes from), a server's
 * region, an upstream's geo and its region sections (GSLB).
 *
 * A geo file holds one "CIDR,region" a line. Its prefixes are sorted by
 * address, which builds the prefix tree fastest (each walk starts where
 * the last one went), and the tree is laid out into a read-only shared
 * mapping (geo_table.h) that the workers forked after share.
 *
 * Region names are interned once for the whole configuration, so that a
 * client's region, a server's and a preference list compare as small
 * integers.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "core.h"
#include "conf_loader.h"
#include "conf_parts.h"
#include "conf_text.h"
#include "geo_table.h"
#include "prefix_tree.h"

#define G(field) offsetof(struct conf_geo, field)
#define REGION_NAME_MAX 63
/* Bad lines of a file reported before the rest of it is left unread. */
#define FILE_ERRORS_MAX 10

/* ---- regions ---- */

static bool region_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '.';
}

static bool region_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > REGION_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!region_char(s[i]))
			return false;
	return true;
}

static struct conf_region *region_new(struct loader *ld, struct conf *c, const char *name,
				      size_t n)
{
	struct conf_region **grown, *r;

	grown = ld_grow(ld, c->regions, c->nregions, sizeof(*grown));
	if (grown == NULL)
		return NULL;
	c->regions = grown;
	if ((r = ld_realloc(ld, NULL, 1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->name = ld_realloc(ld, NULL, n + 1, 1)) == NULL) {
		free(r);
		return NULL;
	}
	memcpy(r->name, name, n);
	r->name[n] = '\0';
	r->id = c->nregions;
	c->regions[c->nregions++] = r;
	return r;
}

/* Region 0, none, named "", is there before any other. */
static bool regions_ready(struct loader *ld, struct conf *c)
{
	return c->nregions > 0 || region_new(ld, c, "", 0) != NULL;
}

static const struct conf_region *region_lookup(const struct conf *c, const char *name, size_t n)
{
	unsigned i;

	for (i = 1; i < c->nregions; i++)
		if (strncmp(c->regions[i]->name, name, n) == 0 && c->regions[i]->name[n] == '\0')
			return c->regions[i];
	return NULL;
}

const struct conf_region *conf_region_find(const struct conf *c, const char *name)
{
	return region_lookup(c, name, strlen(name));
}

/* The region name[n] (a valid name), added when new; NULL when out of
 * memory or when there would be too many. */
static const struct conf_region *region_intern(struct loader *ld, struct conf *c,
					       const char *name, size_t n)
{
	const struct conf_region *r = region_lookup(c, name, n);

	if (r != NULL || !regions_ready(ld, c) || c->nregions > CONF_MAX_REGIONS)
		return r;
	return region_new(ld, c, name, n);
}

const struct conf_region *conf_region_of(struct loader *ld, int line, const char *what,
					 struct conf *c, const char *name)
{
	const struct conf_region *r;

	if (!region_name_ok(name, strlen(name))) {
		ld_error(ld, line, "%s: bad region name \"%s\" (1 to %d letters, digits, '-', '_' "
			 "or '.')", what, name, REGION_NAME_MAX);
		return NULL;
	}
	if ((r = region_intern(ld, c, name, strlen(name))) == NULL)
		ld_error(ld, line, "%s: more than %d regions", what, CONF_MAX_REGIONS);
	return r;
}

static void dump_region(FILE *out, const char *indent, const char *name,
			const struct conf_region *r)
{
	if (r != NULL)
		conf_dump_line(out, indent, name, r->name);
}

/* ---- a geo file ---- */

/* One prefix of the file: its address as two words, so that sorting
 * compares integers and moves 32 bytes. */
struct geo_entry {
	uint64_t hi, lo;
	uint32_t region;
	uint32_t line;
	uint32_t bits;
	uint32_t pad;
};

static void entry_cidr(const struct geo_entry *e, struct cidr *c)
{
	store_be64(c->addr, e->hi);
	store_be64(c->addr + 8, e->lo);
	c->bits = e->bits;
}

/* The regions named in one file, by a hash of the name: a file of a
 * million lines names a few hundred regions. */
struct region_index {
	uint32_t *slot;			/* region id; 0: empty */
	uint32_t mask;
	uint32_t used;
};

struct geo_load {
	struct loader *ld;
	struct conf *c;
	const struct conf_geo *g;
	int optline;			/* of file = */
	struct region_index index;
	struct geo_entry *entries;
	size_t n, cap;
	unsigned bad;			/* lines refused */
};

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static uint32_t *index_slot(struct region_index *x, const struct conf *c, const char *name,
			    size_t n)
{
	uint32_t i = name_hash(name, n) & x->mask;

	while (x->slot[i] != 0) {
		const char *have = c->regions[x->slot[i]]->name;

		if (strncmp(have, name, n) == 0 && have[n] == '\0')
			break;
		i = (i + 1) & x->mask;
	}
	return &x->slot[i];
}

/* Twice the room, the ids placed again; -1 when out of memory. */
static int index_grow(struct region_index *x, const struct conf *c)
{
	struct region_index bigger = { NULL, x->mask ? 2 * x->mask + 1 : 255, x->used };
	uint32_t i;

	if ((bigger.slot = calloc((size_t)bigger.mask + 1, sizeof(*bigger.slot))) == NULL)
		return -1;
	for (i = 0; x->slot != NULL && i <= x->mask; i++)
		if (x->slot[i] != 0) {
			const char *name = c->regions[x->slot[i]]->name;

			*index_slot(&bigger, c, name, strlen(name)) = x->slot[i];
		}
	free(x->slot);
	*x = bigger;
	return 0;
}

/* The id of region name[n] (valid), interned on first sight; 0 when
 * out of memory or over the limit. */
static uint32_t index_region(struct geo_load *gl, const char *name, size_t n)
{
	struct region_index *x = &gl->index;
	const struct conf_region *r;
	uint32_t *slot;

	if (2 * (x->used + 1) > x->mask && index_grow(x, gl->c) < 0) {
		ld_out_of_memory(gl->ld);
		return 0;
	}
	slot = index_slot(x, gl->c, name, n);
	if (*slot != 0)
		return *slot;
	if ((r = region_intern(gl->ld, gl->c, name, n)) == NULL)
		return 0;
	x->used++;
	return *slot = r->id;
}

/* s..end without the blanks around it, as a string. */
static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	return s;
}

/* A bad line of the file; false once there are too many to go on. */
static bool bad_line(struct geo_load *gl, const char *path, unsigned line, const char *why)
{
	if (++gl->bad > FILE_ERRORS_MAX) {
		ld_error_file(gl->ld, gl->optline, path, (int)line, "geo \"%s\": more bad lines; "
			      "the rest of the file is not read", gl->g->name);
		return false;
	}
	ld_error_file(gl->ld, gl->optline, path, (int)line, "geo \"%s\": %s", gl->g->name, why);
	return true;
}

static struct geo_entry *entry_new(struct geo_load *gl)
{
	struct geo_entry *grown;

	if (gl->n == gl->cap) {
		size_t cap = gl->cap ? 2 * gl->cap : 4096;

		if ((grown = realloc(gl->entries, cap * sizeof(*grown))) == NULL) {
			ld_out_of_memory(gl->ld);
			return NULL;
		}
		gl->entries = grown;
		gl->cap = cap;
	}
	return &gl->entries[gl->n++];
}

/*
 * One line: blank, a comment, or "CIDR,region" with blanks allowed
 * around either. Its prefix into the entries, or the reason it is
 * refused into why; false when it is refused.
 */
static bool read_line(struct geo_load *gl, char *line, unsigned n, char *why, size_t len)
{
	char *text = trim(line, line + strcspn(line, "#\r\n")), *comma, *prefix, *region;
	struct geo_entry *e;
	struct cidr cidr;
	uint32_t id;

	if (*text == '\0')
		return true;
	if ((comma = strchr(text, ',')) == NULL) {
		snprintf(why, len, "\"%s\" is not CIDR,region: no comma", text);
		return false;
	}
	region = trim(comma + 1, comma + 1 + strlen(comma + 1));
	prefix = trim(text, comma);
	if (*region == '\0') {
		snprintf(why, len, "no region after \"%s,\"", prefix);
		return false;
	}
	if (!region_name_ok(region, strlen(region))) {
		snprintf(why, len, "bad region name \"%s\" (1 to %d letters, digits, '-', '_' or "
			 "'.')", region, REGION_NAME_MAX);
		return false;
	}
	if (cidr_parse(prefix, &cidr, why, len) < 0)
		return false;
	if ((id = index_region(gl, region, strlen(region))) == 0) {
		snprintf(why, len, "more than %d regions", CONF_MAX_REGIONS);
		return false;
	}
	if ((e = entry_new(gl)) == NULL)
		return true;
	e->hi = load_be64(cidr.addr);
	e->lo = load_be64(cidr.addr + 8);
	e->bits = cidr.bits;
	e->region = id;
	e->line = n;
	e->pad = 0;
	return true;
}

/* Every line of path into the entries; false when it cannot be read. */
static bool read_file(struct geo_load *gl, const char *path)
{
	const char *why_open;
	FILE *f = conf_text_open_regular(path, &why_open);
	char *line = NULL, why[192];
	size_t cap = 0;
	unsigned n = 0;
	bool ok = true;

	if (f == NULL) {
		ld_error(gl->ld, gl->optline, "geo \"%s\": file \"%s\": %s", gl->g->name, path,
			 why_open ? why_open : strerror(errno));
		return false;
	}
	while (getline(&line, &cap, f) >= 0) {
		n++;
		if (!read_line(gl, line, n, why, sizeof(why)) && !bad_line(gl, path, n, why))
			break;
	}
	if (ferror(f)) {
		ld_error(gl->ld, gl->optline, "geo \"%s\": file \"%s\": %s", gl->g->name, path,
			 strerror(errno));
		ok = false;
	}
	free(line);
	fclose(f);
	return ok && gl->bad == 0;
}

/* Address order; the same prefix in the order of its lines. */
static int entry_cmp(const void *x, const void *y)
{
	const struct geo_entry *a = x, *b = y;

	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->bits != b->bits)
		return a->bits < b->bits ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

static bool sorted(const struct geo_entry *e, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (entry_cmp(&e[i - 1], &e[i]) > 0)
			return false;
	return true;
}

/* Digit d (0 least significant) of an entry's key (hi, lo, bits), 8
 * bits each: bits is digit 0. */
static unsigned digit(const struct geo_entry *e, unsigned d)
{
	if (d == 0)
		return e->bits;
	if (d <= 8)
		return (unsigned)(e->lo >> (8 * (d - 1))) & 0xff;
	return (unsigned)(e->hi >> (8 * (d - 9))) & 0xff;
}

/*
 * The entries in entry_cmp's order, by a radix sort from the least
 * significant digit: each pass is stable, so what the last passes leave
 * equal (the same prefix) stays in the order of the lines. A digit all
 * entries share (the first bytes of every IPv4 address) costs one
 * counting pass and no move. false when out of memory.
 */
static bool radix_sort(struct geo_entry *e, size_t n)
{
	struct geo_entry *tmp = malloc(n * sizeof(*tmp)), *from = e, *to = tmp, *t;
	size_t count[256], at, i;
	unsigned d, k;

	if (tmp == NULL)
		return false;
	for (d = 0; d < 17; d++) {
		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[digit(&from[i], d)]++;
		if (count[digit(&from[0], d)] == n)
			continue;
		for (k = 0, at = 0; k < 256; k++) {
			size_t c = count[k];

			count[k] = at;
			at += c;
		}
		for (i = 0; i < n; i++)
			to[count[digit(&from[i], d)]++] = from[i];
		t = from;
		from = to;
		to = t;
	}
	if (from != e)
		memcpy(e, from, n * sizeof(*e));
	free(tmp);
	return true;
}

/* The same prefix twice with two regions is a mistake: say where. */
static bool same_prefix(struct geo_load *gl, const char *path, const struct geo_entry *a,
			const struct geo_entry *b)
{
	struct cidr c;
	char text[64], why[256];

	if (a->hi != b->hi || a->lo != b->lo || a->bits != b->bits)
		return false;
	if (a->region != b->region) {
		entry_cidr(a, &c);
		cidr_format(&c, text, sizeof(text));
		snprintf(why, sizeof(why), "%s is on line %u too, with region \"%s\"", text,
			 a->line, gl->c->regions[a->region]->name);
		bad_line(gl, path, b->line, why);
	}
	return true;
}

/* The sorted entries into a tree; NULL after errors. */
static struct prefix_tree *build_tree(struct geo_load *gl, const struct conf_geo *g)
{
	struct prefix_tree *t = prefix_tree_new();
	struct cidr c;
	size_t i;

	if (t == NULL) {
		ld_out_of_memory(gl->ld);
		return NULL;
	}
	for (i = 0; i < gl->n && gl->bad <= FILE_ERRORS_MAX; i++) {
		if (i > 0 && same_prefix(gl, g->file, &gl->entries[i - 1], &gl->entries[i]))
			continue;
		entry_cidr(&gl->entries[i], &c);
		if (prefix_tree_add(t, &c, gl->entries[i].region) < 0) {
			ld_out_of_memory(gl->ld);
			break;
		}
	}
	if (gl->bad > 0 || ld_failed(gl->ld)) {
		prefix_tree_free(t);
		return NULL;
	}
	return t;
}

/* The file's prefixes into g's shared table. The entries go before the
 * table is made: with a million prefixes, each of the three is tens of
 * megabytes. */
static void load_file(struct loader *ld, cfg_t *sec, struct conf_geo *g, struct conf *c)
{
	struct geo_load gl = { ld, c, g, ld_opt_line(ld, sec, "file"), { NULL, 0, 0 }, NULL, 0, 0, 0 };
	struct prefix_tree *t = NULL;

	if (read_file(&gl, g->file)) {
		if (!sorted(gl.entries, gl.n) && gl.n > 0 && !radix_sort(gl.entries, gl.n))
			ld_out_of_memory(ld);
		else
			t = build_tree(&gl, g);
	}
	free(gl.index.slot);
	free(gl.entries);
	if (t != NULL && (g->table = geo_table_create(t)) == NULL)
		ld_error(ld, gl.optline, "geo \"%s\": no shared memory for %zu prefixes: %s",
			 g->name, prefix_tree_count(t), strerror(errno));
	prefix_tree_free(t);
}

/* ---- geo sections ---- */

static void read_default(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			 struct conf *c)
{
	const char *name = cfg_getstr(sec, o->name);

	if (name != NULL)
		((struct conf_geo *)obj)->default_region =
			conf_region_of(ld, ld_opt_line(ld, sec, o->name), o->name, c, name);
}

static void dump_default(FILE *out, const struct conf_option *o, const void *obj,
			 const char *indent)
{
	dump_region(out, indent, o->name, ((const struct conf_geo *)obj)->default_region);
}

const struct conf_option conf_geo_options[] = {
	{ "file", CS_GEO, CT_PATH, NULL, 0, 0, G(file), NULL, NULL, NULL,
	  "a file of \"CIDR,region\" lines (IPv4 and IPv6; '#' comments)", 0 },
	{ "default", CS_GEO, CT_CUSTOM, NULL, 0, 0, 0, read_default, NULL, dump_default,
	  "the region of a client no prefix of the file holds (default: none)", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

void conf_geos_resolve(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned i, n = cfg_size(cfg, "geo");

	if (!regions_ready(ld, c) || n == 0 ||
	    (c->geos = ld_realloc(ld, NULL, n, sizeof(*c->geos))) == NULL)
		return;
	memset(c->geos, 0, n * sizeof(*c->geos));
	c->ngeos = n;
	for (i = 0; i < n; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "geo", i);
		struct conf_geo *g = &c->geos[i];

		g->index = (int)i;
		g->name = ld_strdup(ld, ld_title_of(ld, sec));
		conf_read(ld, sec, conf_geo_options, g, c);
		if (g->file == NULL)
			ld_error(ld, ld_sec_line(ld, sec), "geo \"%s\" has no file (file = "
				 "\"/etc/portico/regions.csv\")", g->name);
		else
			load_file(ld, sec, g, c);
	}
}

void conf_geo_dump(const struct conf_geo *g, FILE *out)
{
	fputs("\ngeo ", out);
	conf_dump_str(out, g->name);
	fputs(" {\n", out);
	conf_write(out, conf_geo_options, g, "\t");
	fputs("}\n", out);
}

void conf_geo_free(struct conf_geo *g)
{
	geo_table_free(g->table);
	free(g->name);
	free(g->file);
}

void conf_regions_free(struct conf *c)
{
	unsigned i;

	for (i = 0; i < c->nregions; i++) {
		free(c->regions[i]->name);
		free(c->regions[i]);
	}
	free(c->regions);
}

/* ---- a site's and an upstream's geo ---- */

/* The geo option o names into *out; not written: the first geo. */
static void read_geo_use(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			 const struct conf_geo **out, struct conf *c)
{
	const char *name = cfg_getstr(sec, o->name);
	unsigned i;

	*out = c->ngeos > 0 ? &c->geos[0] : NULL;
	if (name == NULL)
		return;
	for (i = 0; i < c->ngeos; i++)
		if (c->geos[i].name != NULL && strcmp(c->geos[i].name, name) == 0) {
			*out = &c->geos[i];
			return;
		}
	ld_error(ld, ld_opt_line(ld, sec, o->name), "geo: unknown geo \"%s\" (a geo \"%s\" { "
		 "file = ... } section at the top level makes one)", name, name);
}

static void read_site_geo(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			  struct conf *c)
{
	read_geo_use(ld, sec, o, &((struct conf_site *)obj)->geo, c);
}

static void dump_site_geo(FILE *out, const struct conf_option *o, const void *obj,
			  const char *indent)
{
	const struct conf_geo *g = ((const struct conf_site *)obj)->geo;

	if (g != NULL)
		conf_dump_line(out, indent, o->name, g->name);
}

const struct conf_option conf_site_geo_options[] = {
	{ "geo", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_site_geo, NULL, dump_site_geo,
	  "the geo section $geo_region looks the client up in (default: the first)", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

static void read_upstream_geo(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			      void *obj, struct conf *c)
{
	read_geo_use(ld, sec, o, &((struct conf_upstream *)obj)->geo, c);
}

/* Written only where it is used: for an upstream with regions. */
static void dump_upstream_geo(FILE *out, const struct conf_option *o, const void *obj,
			      const char *indent)
{
	const struct conf_upstream *u = obj;

	if (u->gslb != NULL && u->geo != NULL)
		conf_dump_line(out, indent, o->name, u->geo->name);
}

const struct conf_option conf_upstream_geo_options[] = {
	{ "geo", CS_UPSTREAM, CT_CUSTOM, NULL, 0, 0, 0, read_upstream_geo, NULL,
	  dump_upstream_geo, "the geo section clients' regions come from, when its servers "
	  "have regions (default: the first)", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* ---- servers' regions ---- */

static void read_server_region(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			       void *obj, struct conf *c)
{
	const char *name = cfg_getstr(sec, o->name);

	if (name != NULL)
		((struct conf_server *)obj)->region =
			conf_region_of(ld, ld_opt_line(ld, sec, o->name), o->name, c, name);
}

static void dump_server_region(FILE *out, const struct conf_option *o, const void *obj,
			       const char *indent)
{
	dump_region(out, indent, o->name, ((const struct conf_server *)obj)->region);
}

const struct conf_option conf_server_region_options[] = {
	{ "region", CS_SERVER, CT_CUSTOM, NULL, 0, 0, 0, read_server_region, NULL,
	  dump_server_region, "GSLB: the region it serves first (its upstream's geo says "
	  "where each client is)", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* ---- an upstream's regions (GSLB) ---- */

static bool has_id(const unsigned *list, unsigned n, unsigned id)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (list[i] == id)
			return true;
	return false;
}

/* Whether a server of u is in the region named name. */
static bool server_in_region(const struct conf_upstream *u, const char *name)
{
	unsigned i;

	for (i = 0; i < u->nservers; i++)
		if (u->servers[i].region != NULL && strcmp(u->servers[i].region->name, name) == 0)
			return true;
	return false;
}

/* The regions of u's servers, in order of first appearance, region 0
 * (none) last when some server has none. */
static void gslb_regions(struct loader *ld, const struct conf_upstream *u, struct conf_gslb *g)
{
	bool none = false;
	unsigned i;

	if ((g->regions = ld_realloc(ld, NULL, u->nservers + 1, sizeof(*g->regions))) == NULL)
		return;
	for (i = 0; i < u->nservers; i++) {
		const struct conf_region *r = u->servers[i].region;

		if (r == NULL)
			none = true;
		else if (!has_id(g->regions, g->nregions, r->id))
			g->regions[g->nregions++] = r->id;
	}
	if (none)
		g->regions[g->nregions++] = 0;
}

/* The order entry of region r, added when new. */
static struct conf_region_order *order_of(struct loader *ld, struct conf_gslb *g,
					  const struct conf_region *r)
{
	struct conf_region_order *o;
	unsigned i;

	for (i = 0; i < g->norders; i++)
		if (g->orders[i].region == r)
			return &g->orders[i];
	if ((o = ld_grow(ld, g->orders, g->norders, sizeof(*o))) == NULL)
		return NULL;
	g->orders = o;
	o = &o[g->norders++];
	memset(o, 0, sizeof(*o));
	o->region = r;
	return o;
}

/* next = {...} of a region section: regions, each once, not the
 * section's own (whether servers have them is checked after). */
static void read_next(struct loader *ld, cfg_t *sec, const struct conf_option *opt, void *obj,
		      struct conf *c)
{
	struct conf_region_order *o = obj;
	unsigned i, k, n = cfg_size(sec, opt->name);
	const struct conf_region *r;

	if (n == 0 || (o->next = ld_realloc(ld, NULL, n, sizeof(*o->next))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		const char *name = cfg_getnstr(sec, opt->name, i);
		int line = ld_opt_line_n(ld, sec, opt->name, i);

		if ((r = conf_region_of(ld, line, opt->name, c, name)) == NULL)
			continue;
		for (k = 0; k < o->nnext && o->next[k] != r; k++)
			;
		if (r == o->region)
			ld_error(ld, line, "next: \"%s\" is the section's own region, always tried "
				 "first", name);
		else if (k < o->nnext)
			ld_error(ld, line, "next: \"%s\" is listed twice", name);
		else
			o->next[o->nnext++] = r;
	}
}

/* Whether element i of list option name of sec repeats an earlier one. */
static bool repeated(cfg_t *sec, const char *name, unsigned i)
{
	unsigned j;

	for (j = 0; j < i; j++)
		if (strcmp(cfg_getnstr(sec, name, j), cfg_getnstr(sec, name, i)) == 0)
			return true;
	return false;
}

/* A region in a preference list that no server has would never take a
 * client: a mistake, most likely a typo. (What read_next refused was
 * reported there.) */
static void check_next(struct loader *ld, cfg_t *sec, const struct conf_upstream *u,
		       const struct conf_region_order *o)
{
	unsigned i, n = cfg_size(sec, "next");
	const char *name;

	for (i = 0; i < n; i++) {
		name = cfg_getnstr(sec, "next", i);
		if (!region_name_ok(name, strlen(name)) || strcmp(name, o->region->name) == 0 ||
		    repeated(sec, "next", i) || server_in_region(u, name))
			continue;
		ld_error(ld, ld_opt_line_n(ld, sec, "next", i), "next: no server of upstream "
			 "\"%s\" is in region \"%s\"", u->name, name);
	}
}

static void dump_next(FILE *out, const struct conf_option *o, const void *obj,
		      const char *indent)
{
	const struct conf_region_order *ro = obj;
	unsigned i;

	if (ro->nnext == 0)
		return;
	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < ro->nnext; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, ro->next[i]->name);
	}
	fputs("}\n", out);
}

const struct conf_option conf_region_options[] = {
	{ "next", CS_REGION, CT_CUSTOM, NULL, 0, 0, 0, read_next, NULL, dump_next,
	  "the regions its clients go to, in order, when its own servers cannot take them",
	  CF_LIST },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* region "NAME" { } sections of upstream sec. */
static void read_region_sections(struct loader *ld, cfg_t *sec, struct conf_upstream *u,
				 struct conf *c)
{
	unsigned i, n = cfg_size(sec, "region");

	for (i = 0; i < n; i++) {
		cfg_t *rs = cfg_getnsec(sec, "region", i);
		const struct conf_region *r;
		struct conf_region_order *o;

		r = conf_region_of(ld, ld_sec_line(ld, rs), "region", c, ld_title_of(ld, rs));
		if (r == NULL || (o = order_of(ld, u->gslb, r)) == NULL)
			continue;
		o->written = true;
		conf_read(ld, rs, conf_region_options, o, c);
		check_next(ld, rs, u, o);
	}
}

/* The order of o: its own region when a server has it, its list, then
 * the servers' other regions as they first appear. */
static void order_fill(struct loader *ld, const struct conf_gslb *g, struct conf_region_order *o)
{
	unsigned i, n = 0;

	/* Room for a list that repeats a region, or names one no server has:
	 * errors already reported, but the order is made all the same. */
	o->order = ld_realloc(ld, NULL, g->nregions + o->nnext + 1, sizeof(*o->order));
	if (o->order == NULL)
		return;
	if (has_id(g->regions, g->nregions, o->region->id))
		o->order[n++] = o->region->id;
	for (i = 0; i < o->nnext; i++)
		o->order[n++] = o->next[i]->id;
	for (i = 0; i < g->nregions; i++)
		if (!has_id(o->order, n, g->regions[i]))
			o->order[n++] = g->regions[i];
}

void conf_upstream_gslb(struct loader *ld, cfg_t *sec, struct conf_upstream *u, struct conf *c)
{
	unsigned i, nregions = cfg_size(sec, "region");
	bool any = nregions > 0;

	for (i = 0; i < u->nservers; i++)
		any = any || u->servers[i].region != NULL;
	if (!any) {
		if (ld_opt_written(ld, sec, "geo"))
			ld_error(ld, ld_opt_line(ld, sec, "geo"), "geo is only used when servers of "
				 "upstream \"%s\" have a region", u->name);
		return;
	}
	if (u->geo == NULL)
		ld_error(ld, ld_sec_line(ld, sec), "upstream \"%s\" has regions, but no geo section "
			 "says where clients are (geo \"NAME\" { file = ... } at the top level)",
			 u->name);
	if ((u->gslb = ld_realloc(ld, NULL, 1, sizeof(*u->gslb))) == NULL)
		return;
	memset(u->gslb, 0, sizeof(*u->gslb));
	gslb_regions(ld, u, u->gslb);
	if (u->gslb->regions == NULL)
		return;
	read_region_sections(ld, sec, u, c);
	for (i = 0; i < u->nservers; i++)
		if (u->servers[i].region != NULL)
			order_of(ld, u->gslb, u->servers[i].region);
	for (i = 0; i < u->gslb->norders; i++)
		order_fill(ld, u->gslb, &u->gslb->orders[i]);
}

const unsigned *conf_gslb_order(const struct conf_gslb *g, unsigned region, unsigned *n)
{
	unsigned i;

	*n = g->nregions;
	for (i = 0; i < g->norders; i++)
		if (g->orders[i].region->id == region && g->orders[i].order != NULL)
			return g->orders[i].order;
	return g->regions;
}

void conf_upstream_gslb_dump(const struct conf_upstream *u, FILE *out)
{
	unsigned i;

	for (i = 0; u->gslb != NULL && i < u->gslb->norders; i++) {
		const struct conf_region_order *o = &u->gslb->orders[i];

		if (!o->written)
			continue;
		fputs("\tregion ", out);
		conf_dump_str(out, o->region->name);
		fputs(" {\n", out);
		conf_write(out, conf_region_options, o, "\t\t");
		fputs("\t}\n", out);
	}
}

void conf_gslb_free(struct conf_gslb *g)
{
	unsigned i;

	if (g == NULL)
		return;
	for (i = 0; i < g->norders; i++) {
		free(g->orders[i].next);
		free(g->orders[i].order);
	}
	free(g->orders);
	free(g->regions);
	free(g);
}
