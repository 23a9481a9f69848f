/*
 * metrics.c: the metrics, in the Prometheus text exposition format.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "event.h"
#include "health.h"
#include "log_escape.h"
#include "text.h"
#include "stats.h"
#include "modules/metrics.h"

/* A label value: names in the configuration may hold any byte, but the
 * format takes UTF-8 only (a scraper refuses the whole text for one bad
 * byte): a byte that is not part of valid UTF-8 is written as the four
 * characters \xHH. */
static void put_value(struct text *t, const char *s)
{
	size_t len = strlen(s), i, n;

	for (i = 0; i < len; i += n) {
		unsigned char c = (unsigned char)s[i];

		n = c < 0x80 ? 1 : log_utf8_sequence(s + i, len - i);
		if (n == 0) {
			text_put(t, "\\\\x%02X", c);
			n = 1;
		} else if (c == '\\' || c == '"') {
			text_put(t, "\\%c", c);
		} else if (c == '\n') {
			text_put(t, "\\n");
		} else {
			text_put(t, "%.*s", (int)n, s + i);
		}
	}
}

/* {name="value"} with one label, or more (pairs, NULL-terminated). */
static void put_labels(struct text *t, const char *const *pairs)
{
	unsigned i;

	text_put(t, "{");
	for (i = 0; pairs[i] != NULL; i += 2) {
		text_put(t, "%s%s=\"", i ? "," : "", pairs[i]);
		put_value(t, pairs[i + 1]);
		text_put(t, "\"");
	}
	text_put(t, "}");
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	text_put(t, "# HELP portico_%s %s\n# TYPE portico_%s %s\n", name, help, name, type);
}

/* A family of one series without labels. */
static void single(struct text *t, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	family(t, name, type, help);
	text_put(t, "portico_%s %lu\n", name, (unsigned long)v);
}

static void sample(struct text *t, const char *name, const char *const *labels, uint64_t v)
{
	text_put(t, "portico_%s", name);
	put_labels(t, labels);
	text_put(t, " %lu\n", (unsigned long)v);
}

/* _bucket (cumulative), _sum and _count of h, in seconds. */
static void histogram(struct text *t, const char *name, const char *label, const char *value,
		      const struct stats_hist *h)
{
	uint64_t count = 0;
	char le[16];
	unsigned i;

	for (i = 0; i < STATS_BUCKETS; i++) {
		count += h->buckets[i];
		if (i < STATS_BOUNDS)
			snprintf(le, sizeof(le), "%g", (double)stats_bounds_us[i] / 1e6);
		else
			snprintf(le, sizeof(le), "+Inf");
		text_put(t, "portico_%s_bucket", name);
		put_labels(t, (const char *const[]){ label, value, "le", le, NULL });
		text_put(t, " %lu\n", (unsigned long)count);
	}
	text_put(t, "portico_%s_sum", name);
	put_labels(t, (const char *const[]){ label, value, NULL });
	text_put(t, " %.6f\n", (double)h->sum_us / 1e6);
	text_put(t, "portico_%s_count", name);
	put_labels(t, (const char *const[]){ label, value, NULL });
	text_put(t, " %lu\n", (unsigned long)count);
}

/* The series sums and this worker's layout, to read them by index. */
struct series {
	const struct stats_layout *l;
	uint64_t *sums[STATS_KINDS];
	unsigned nids[STATS_KINDS];
};

/* The sums of slot i of kind, by this worker's layout. */
static const uint64_t *slot_sums(const struct series *s, enum stats_kind kind, unsigned i)
{
	unsigned id = s->l->series[kind][i]->id;

	return id < s->nids[kind] ? s->sums[kind] + id * stats_kind_words(kind) : NULL;
}

static const char *const code_names[STATS_CODES] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };

/* One route slot's requests, the series that are not 0. */
static void put_route_requests(struct text *t, const struct stats_route_vals *v,
			       const char *site, const char *route)
{
	unsigned c, m;

	for (c = 0; c < STATS_CODES; c++)
		for (m = 0; m < STATS_METHODS; m++)
			if (v->requests[c][m] != 0)
				sample(t, "http_requests_total", (const char *const[]){
					"site", site, "route", route, "code", code_names[c],
					"method", stats_method_names[m], NULL }, v->requests[c][m]);
}

/* Routes sharing a pattern in a site are told apart by " #2", " #3". */
static void route_label(char *out, size_t len, const struct conf_site *site, unsigned i)
{
	unsigned n = stats_route_ordinal(site, i);

	if (n == 1)
		snprintf(out, len, "%s", site->routes[i].pattern);
	else
		snprintf(out, len, "%s #%u", site->routes[i].pattern, n);
}

static void put_requests(struct text *t, const struct conf *c, const struct series *s)
{
	const struct stats_route_vals *v;
	char route[1024];
	unsigned i, j, slot = 0;

	family(t, "http_requests_total", "counter", "Requests answered, by site, route, status "
	       "class and method (route \"\": none took it; site \"\": no site did).");
	for (i = 0; i < c->nsites; i++) {
		const struct conf_site *site = &c->sites[i];

		for (j = 0; j <= site->nroutes; j++, slot++) {
			if ((v = (const void *)slot_sums(s, STATS_ROUTE, slot)) == NULL)
				continue;
			if (j < site->nroutes)
				route_label(route, sizeof(route), site, j);
			else
				route[0] = '\0';
			put_route_requests(t, v, site->name, route);
		}
	}
	if ((v = (const void *)slot_sums(s, STATS_ROUTE, slot)) != NULL)
		put_route_requests(t, v, "", "");
}

/* A site's values: i == nsites for requests of no site, shown only when
 * there were any. */
static const struct stats_site_vals *site_vals(const struct conf *c, const struct series *s,
					       unsigned i, const char **name)
{
	const struct stats_site_vals *v = (const void *)slot_sums(s, STATS_SITE, i);
	uint64_t n = 0;
	unsigned b;

	*name = i < c->nsites ? c->sites[i].name : "";
	if (v == NULL || i < c->nsites)
		return v;
	for (b = 0; b < STATS_BUCKETS; b++)
		n += v->time.buckets[b];
	return n > 0 ? v : NULL;
}

static void put_sites(struct text *t, const struct conf *c, const struct series *s)
{
	const struct stats_site_vals *v;
	const char *name;
	unsigned i;

	family(t, "http_request_duration_seconds", "histogram",
	       "Time from a request's head read to the end of its answer, by site.");
	for (i = 0; i <= c->nsites; i++)
		if ((v = site_vals(c, s, i, &name)) != NULL)
			histogram(t, "http_request_duration_seconds", "site", name, &v->time);
	family(t, "http_request_bytes_total", "counter",
	       "Bytes of request heads and bodies read from clients, by site.");
	for (i = 0; i <= c->nsites; i++)
		if ((v = site_vals(c, s, i, &name)) != NULL)
			sample(t, "http_request_bytes_total",
			       (const char *const[]){ "site", name, NULL }, v->bytes_in);
	family(t, "http_response_bytes_total", "counter",
	       "Bytes of responses sent to clients, heads included, by site.");
	for (i = 0; i <= c->nsites; i++)
		if ((v = site_vals(c, s, i, &name)) != NULL)
			sample(t, "http_response_bytes_total",
			       (const char *const[]){ "site", name, NULL }, v->bytes_out);
}

static void put_upstream_times(struct text *t, const struct conf *c, const struct series *s)
{
	const struct stats_upstream_vals *v;
	unsigned i;

	family(t, "upstream_header_duration_seconds", "histogram",
	       "Time from a request's try at a server to the response head, by upstream.");
	for (i = 0; i < c->nupstreams; i++)
		if ((v = (const void *)slot_sums(s, STATS_UPSTREAM, i)) != NULL)
			histogram(t, "upstream_header_duration_seconds", "upstream",
				  c->upstreams[i].name, &v->header_time);
}

/* One family of a kind named by the configuration: value picks the
 * value of a slot's sums (NULL: none to show). */
static void put_named(struct text *t, const struct series *s, enum stats_kind kind,
		      const char *name, const char *type, const char *help, const char *label,
		      const char *(*name_of)(const struct conf *c, unsigned i),
		      size_t field, const struct conf *c)
{
	const uint64_t *v;
	unsigned i;

	family(t, name, type, help);
	for (i = 0; i < s->l->n[kind]; i++)
		if ((v = slot_sums(s, kind, i)) != NULL)
			sample(t, name, (const char *const[]){ label, name_of(c, i), NULL },
			       v[field / sizeof(uint64_t)]);
}

static const char *listen_name(const struct conf *c, unsigned i)
{
	return c->listens[i].name;
}

static const char *limit_name(const struct conf *c, unsigned i)
{
	return c->limits[i].name;
}

static void put_listens_limits(struct text *t, const struct conf *c, const struct series *s)
{
	put_named(t, s, STATS_LISTEN, "listener_connections_accepted_total", "counter",
		  "Client connections accepted, by listener.", "listener", listen_name,
		  offsetof(struct stats_listen_vals, accepted), c);
	put_named(t, s, STATS_LISTEN, "listener_connections_open", "gauge",
		  "Client connections open now, by listener.", "listener", listen_name,
		  offsetof(struct stats_listen_vals, open), c);
	put_named(t, s, STATS_LIMIT, "limit_zone_refused_total", "counter",
		  "Requests a limit refused, by limit.", "limit", limit_name,
		  offsetof(struct stats_limit_vals, refused), c);
	put_named(t, s, STATS_LIMIT, "limit_zone_delayed_total", "counter",
		  "Requests a limit_req made wait their turn, by limit.", "limit", limit_name,
		  offsetof(struct stats_limit_vals, delayed), c);
}

static void put_series(struct text *t, const struct worker_ctx *ctx)
{
	struct series s = { ctx->stats->layout, { NULL }, { 0 } };
	unsigned k;

	if (s.l == NULL)
		return;		/* counting privately: no series to show */
	if (stats_sum_series(ctx->stats_zone, ctx->stats_root, s.sums, s.nids) < 0) {
		t->failed = true;
		return;
	}
	put_requests(t, ctx->conf, &s);
	put_sites(t, ctx->conf, &s);
	put_upstream_times(t, ctx->conf, &s);
	put_listens_limits(t, ctx->conf, &s);
	for (k = 0; k < STATS_KINDS; k++)
		free(s.sums[k]);
}

/* ---- the health table ---- */

/* One family over every server: f picks the value. */
static void servers(struct text *t, const struct worker_ctx *ctx, const char *name,
		    const char *type, const char *help,
		    uint64_t (*f)(const struct health_peer *p, const struct conf_upstream *u,
				  const struct conf_server *srv, uint64_t now))
{
	const struct conf *c = ctx->conf;
	uint64_t now = ev_now();
	unsigned i, j;

	family(t, name, type, help);
	for (i = 0; i < c->nupstreams; i++)
		for (j = 0; j < c->upstreams[i].nservers; j++) {
			const struct conf_server *srv = &c->upstreams[i].servers[j];

			sample(t, name, (const char *const[]){ "upstream", c->upstreams[i].name,
				"server", srv->address, NULL },
			       f(ctx->peers[srv->id], &c->upstreams[i], srv, now));
		}
}

static uint64_t server_up(const struct health_peer *p, const struct conf_upstream *u,
			  const struct conf_server *srv, uint64_t now)
{
	(void)srv;
	return health_up(p, u->health_check != NULL, now);
}

static uint64_t server_weight(const struct health_peer *p, const struct conf_upstream *u,
			      const struct conf_server *srv, uint64_t now)
{
	(void)p, (void)u, (void)now;
	return srv->weight;
}

static uint64_t server_active(const struct health_peer *p, const struct conf_upstream *u,
			      const struct conf_server *srv, uint64_t now)
{
	int32_t n = health_conns(p);

	(void)u, (void)srv, (void)now;
	return n > 0 ? (uint64_t)n : 0;
}

#define PEER_FIELD(fn, field)							\
	static uint64_t fn(const struct health_peer *p, const struct conf_upstream *u,	\
			   const struct conf_server *srv, uint64_t now)		\
	{									\
		(void)u, (void)srv, (void)now;					\
		return (uint64_t)health_load(p, field);				\
	}
PEER_FIELD(server_requests, requests)
PEER_FIELD(server_failures, failures)
PEER_FIELD(server_checks, checks)
PEER_FIELD(server_checks_failed, checks_failed)
PEER_FIELD(server_last_status, last_status)

static void put_servers(struct text *t, const struct worker_ctx *ctx)
{
	servers(t, ctx, "upstream_server_up", "gauge",
		"Whether the server is taken for requests (1) or marked down (0).", server_up);
	servers(t, ctx, "upstream_server_weight", "gauge", "The server's weight.", server_weight);
	servers(t, ctx, "upstream_server_active_requests", "gauge",
		"Requests at the server now, over every worker.", server_active);
	servers(t, ctx, "upstream_server_requests_total", "counter",
		"Requests sent to the server.", server_requests);
	servers(t, ctx, "upstream_server_failures_total", "counter",
		"Tries at the server that failed.", server_failures);
	servers(t, ctx, "upstream_server_health_checks_total", "counter",
		"Active health checks of the server.", server_checks);
	servers(t, ctx, "upstream_server_health_checks_failed_total", "counter",
		"Active health checks of the server that failed.", server_checks_failed);
	servers(t, ctx, "upstream_server_last_check_status", "gauge",
		"The HTTP status of the last health check (0: none answered).", server_last_status);
}

/* ---- zones ---- */

static void put_caches(struct text *t, const struct worker_ctx *ctx)
{
	const struct conf *c = ctx->conf;
	struct cs_stats *st = calloc(c->ncaches + 1, sizeof(*st));
	unsigned i;

	if (st == NULL) {
		t->failed = true;
		return;
	}
	for (i = 0; i < c->ncaches; i++)
		cs_stats(ctx->caches[i], &st[i]);
#define EACH_CACHE(fam, type, help, fmt, expr)					\
	do {									\
		family(t, fam, type, help);					\
		for (i = 0; i < c->ncaches; i++) {				\
			text_put(t, "portico_" fam);				\
			put_labels(t, (const char *const[]){ "cache", c->caches[i].name, NULL }); \
			text_put(t, " " fmt "\n", expr);			\
		}								\
	} while (0)
	EACH_CACHE("cache_objects", "gauge", "Answers stored in the cache zone.", "%u",
		   st[i].objects);
	EACH_CACHE("cache_size_bytes", "gauge", "Bytes of the cache zone.", "%zu", st[i].size);
	EACH_CACHE("cache_fill_ratio", "gauge", "The share of the cache zone's blocks in use.",
		   "%.4f", st[i].blocks ? (double)st[i].blocks_used / st[i].blocks : 0.0);
	EACH_CACHE("cache_zone_stored_total", "counter",
		   "Answers written to the cache zone since it was made.", "%lu", st[i].stored);
	EACH_CACHE("cache_evictions_total", "counter",
		   "Answers dropped from the cache zone for room since it was made.", "%lu",
		   st[i].evicted);
	EACH_CACHE("cache_expirations_total", "counter",
		   "Answers dropped from the cache zone for going unasked since it was made.",
		   "%lu", st[i].expired);
#undef EACH_CACHE
	free(st);
}

static void put_limits(struct text *t, const struct worker_ctx *ctx)
{
	const struct conf *c = ctx->conf;
	unsigned i;

	family(t, "limit_zone_keys", "gauge", "Keys a limit's zone holds now.");
	for (i = 0; i < c->nlimits; i++)
		sample(t, "limit_zone_keys", (const char *const[]){ "limit", c->limits[i].name,
		       NULL }, limit_zone_keys(ctx->limits[i]));
}

/* ---- counters ---- */

static void put_auth(struct text *t, const struct stats_counters *s)
{
	family(t, "auth_verifications_total", "counter",
	       "Credentials checked in full (basic: passwords hashed; jwt: tokens and signatures).");
	sample(t, "auth_verifications_total", (const char *const[]){ "method", "basic", NULL },
	       s->auth_basic_verifications);
	sample(t, "auth_verifications_total", (const char *const[]){ "method", "jwt", NULL },
	       s->auth_jwt_verifications);
	family(t, "auth_cache_hits_total", "counter", "Decisions found in the auth cache.");
	sample(t, "auth_cache_hits_total", (const char *const[]){ "method", "basic", NULL },
	       s->auth_basic_cache_hits);
	sample(t, "auth_cache_hits_total", (const char *const[]){ "method", "jwt", NULL },
	       s->auth_jwt_cache_hits);
	sample(t, "auth_cache_hits_total", (const char *const[]){ "method", "request", NULL },
	       s->auth_request_cache_hits);
	family(t, "auth_refused_total", "counter", "Requests authentication refused.");
	sample(t, "auth_refused_total", (const char *const[]){ "method", "basic", NULL },
	       s->auth_basic_refused);
	sample(t, "auth_refused_total", (const char *const[]){ "method", "jwt", NULL },
	       s->auth_jwt_refused);
	sample(t, "auth_refused_total", (const char *const[]){ "method", "request", NULL },
	       s->auth_request_refused);
	single(t, "auth_request_asked_total", "counter",
	       "Subrequests sent to forward authentication servers.", s->auth_request_asked);
	single(t, "auth_request_failed_total", "counter",
	       "Requests answered 500 for want of an authentication decision.",
	       s->auth_request_failed);
}

static void put_cache_results(struct text *t, const struct stats_counters *s)
{
	static const char *const names[] = { "hit", "miss", "stale", "revalidated", "bypassed" };
	const uint64_t v[] = { s->cache_hits, s->cache_misses, s->cache_stale,
			       s->cache_revalidated, s->cache_bypassed };
	unsigned i;

	family(t, "cache_requests_total", "counter",
	       "Requests of cached routes, by what the cache did.");
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		sample(t, "cache_requests_total", (const char *const[]){ "result", names[i], NULL },
		       v[i]);
	single(t, "cache_stored_total", "counter", "Answers written to a cache.", s->cache_stored);
	single(t, "cache_collapsed_total", "counter",
	       "Misses that waited for another request's fill.", s->cache_collapsed);
}

static void put_counters(struct text *t, const struct worker_ctx *ctx)
{
	struct stats_counters s;
	struct stats_gauges g;
	unsigned nprocs;

	stats_sum(ctx->stats_zone, ctx->stats_root, &s, &g, &nprocs);
	single(t, "processes", "gauge", "Worker and checker processes counting now.", nprocs);
	single(t, "connections_accepted_total", "counter", "Client connections accepted.",
	       s.connections);
	single(t, "connections_open", "gauge", "Client connections open now.",
	       g.connections_open);
	single(t, "upstream_failures_total", "counter", "Tries at servers that failed.",
	       s.upstream_failures);
	single(t, "upstream_retries_total", "counter", "Requests sent on to another server.",
	       s.retries);
	single(t, "upstream_no_server_total", "counter",
	       "Requests no server could take (answered 503).", s.no_server);
	single(t, "tls_handshakes_total", "counter", "Client TLS handshakes completed.",
	       s.tls_handshakes);
	single(t, "tls_resumptions_total", "counter", "Client TLS handshakes that resumed a session.",
	       s.tls_resumed);
	put_cache_results(t, &s);
	family(t, "limit_refused_total", "counter", "Requests refused by a limit, by kind.");
	sample(t, "limit_refused_total", (const char *const[]){ "kind", "limit_req", NULL },
	       s.limit_req_refused);
	sample(t, "limit_refused_total", (const char *const[]){ "kind", "limit_conn", NULL },
	       s.limit_conn_refused);
	single(t, "limit_delayed_total", "counter", "Requests a limit_req made wait their turn.",
	       s.limit_req_delayed);
	single(t, "filter_refused_total", "counter", "Requests a request filter refused.",
	       s.filtered);
	family(t, "rule_refused_total", "counter",
	       "Requests a route's own rules refused, by rule: allow or deny (403), methods "
	       "(405), client_max_body_size (413).");
	sample(t, "rule_refused_total", (const char *const[]){ "rule", "acl", NULL },
	       s.acl_refused);
	sample(t, "rule_refused_total", (const char *const[]){ "rule", "methods", NULL },
	       s.methods_refused);
	sample(t, "rule_refused_total", (const char *const[]){ "rule", "client_max_body_size", NULL },
	       s.body_size_refused);
	put_auth(t, &s);
	single(t, "syslog_dropped_total", "counter",
	       "Log messages a syslog receiver could not take, dropped.", s.syslog_dropped);
}

static void put_master(struct text *t, const struct worker_ctx *ctx)
{
	const struct stats_master *m = &ctx->stats_root->master;
	uint64_t start = __atomic_load_n(&m->start_time, __ATOMIC_RELAXED);
	uint64_t now = (uint64_t)time(NULL);

	family(t, "build_info", "gauge", "portico's version, as a label.");
	sample(t, "build_info", (const char *const[]){ "version", PACKAGE_VERSION, NULL }, 1);
	single(t, "start_time_seconds", "gauge", "When the master started, in Unix seconds.",
	       start);
	single(t, "uptime_seconds", "gauge", "Seconds since the master started.",
	       now > start ? now - start : 0);
	single(t, "config_generation", "gauge", "The configuration generation serving.",
	       __atomic_load_n(&m->generation, __ATOMIC_RELAXED));
	single(t, "worker_processes", "gauge", "Worker processes the configuration asks for.",
	       __atomic_load_n(&m->workers, __ATOMIC_RELAXED));
	single(t, "reloads_total", "counter", "Configurations taken on reload.",
	       __atomic_load_n(&m->reloads, __ATOMIC_RELAXED));
	single(t, "binary_upgrades_total", "counter", "Binary upgrades this master started.",
	       __atomic_load_n(&m->upgrades, __ATOMIC_RELAXED));
	single(t, "worker_restarts_total", "counter", "Workers that died and were replaced.",
	       __atomic_load_n(&m->worker_restarts, __ATOMIC_RELAXED));
}

char *metrics_text(const struct worker_ctx *ctx, size_t *len)
{
	struct text t = { NULL, 0, 0, false };

	put_master(&t, ctx);
	put_counters(&t, ctx);
	put_series(&t, ctx);
	put_servers(&t, ctx);
	put_caches(&t, ctx);
	put_limits(&t, ctx);
	return text_take(&t, len);
}

/* ---- the answer ---- */

void metrics_respond(struct exchange *x)
{
	size_t len = 0;
	char *text = metrics_text(x->ctx, &len);

	if (text == NULL) {
		exchange_log(x, LL_ERROR, ENOMEM, "no memory for the metrics");
		exchange_respond(x, 500, TERM_RESOURCE, false);
		return;
	}
	exchange_respond_given(x, 200, METRICS_CONTENT_TYPE, text, len);
}

/* GET and HEAD only: the metrics change nothing. */
static bool metrics_claim(struct exchange *x)
{
	if (x->route == NULL || !x->route->metrics)
		return false;
	if (x->req.method_id != HTTP_GET && x->req.method_id != HTTP_HEAD) {
		exchange_respond(x, 405, TERM_PROXY, false);
		if (x->phase == PH_RESPONSE_HEAD)
			(void)exchange_add_field(x, SLICE_LIT("Allow"), SLICE_LIT("GET, HEAD"));
		return true;
	}
	metrics_respond(x);
	return true;
}

const struct module metrics_module = {
	.name = "metrics",
	.content = metrics_claim,
};
