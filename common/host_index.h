/*
 * host_index.h: host patterns (a site's hosts) and the index a listener
 * keeps of its sites' patterns, which finds the site for a request's Host
 * (or a TLS handshake's SNI name) in a few hash lookups, however many
 * sites there are.
 *
 * Owns: parsing one pattern into a struct conf_host (conf.h); the index:
 * a hash table of exact names, one of the suffixes of leading wildcards
 * (".example.com" of "*.example.com"), one of the prefixes of trailing
 * wildcards ("www.example." of "www.example.*"), the regexes in the order
 * they were added, and the first site of "*". The master builds one per
 * listener at config load; afterwards it is only read (workers read the
 * copy they were forked with). It points into the patterns and sites it
 * was given, which outlive it; it never copies, reads when freed, nor
 * frees them.
 *
 * Precedence, nginx's: the exact name; else the longest leading wildcard
 * that matches (tried by stripping labels from the left: the first hit is
 * the longest); else the longest trailing wildcard (cutting labels from
 * the right); else the first regex that matches; else "*". Names are
 * compared without regard to case, and a Host's ":port" and trailing dot
 * are ignored. A wildcard stands for one label or more: "*.example.com"
 * does not match example.com, nor "www.example.*" www.example.
 */
#ifndef PORTICO_HOST_INDEX_H
#define PORTICO_HOST_INDEX_H

#include <stddef.h>

#include "core.h"
#include "conf.h"

/* Parse pattern text into h (its own copies: free with
 * host_pattern_free). 0, or -1 with the reason in err[errlen]. */
int host_pattern_parse(const char *text, struct conf_host *h, char *err, size_t errlen);
void host_pattern_free(struct conf_host *h);

/* The name a Host field value or an SNI name stands for: without its
 * ":port" (an IPv6 literal keeps its brackets) and trailing dot. */
struct slice host_name_of(struct slice host);

struct host_index;

/* An empty index; NULL when out of memory. */
struct host_index *host_index_new(void);

/* Add site's pattern h; add a listener's sites in file order, each one's
 * patterns in their order (regexes and "*" keep the first). 0 when added
 * (or already there for the same site); 1 when another site holds the
 * same exact name or the same wildcard, *holder saying which; -1 when out
 * of memory. */
int host_index_add(struct host_index *idx, const struct conf_host *h,
		   const struct conf_site *site, const struct conf_site **holder);

/* The site whose pattern matches host (a Host field value, port and all;
 * empty when there is none: only "*" matches it), or NULL. idx may be
 * NULL (nothing matches). */
const struct conf_site *host_index_find(const struct host_index *idx, struct slice host);

void host_index_free(struct host_index *idx);

#endif
