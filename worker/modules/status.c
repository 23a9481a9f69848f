/*
 * status.c: the status route. It answers in the representation the
 * request asks for: the status document, written as JSON into a text
 * that grows with the configuration and is given to the answer, or the
 * page (status_page.html, built in) that shows it live.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "health.h"
#include "event.h"
#include "http_coding.h"
#include "http_cond.h"
#include "metrics.h"
#include "stats.h"
#include "status.h"
#include "status_page.h"
#include "text.h"

/* A JSON string: names in the configuration may hold any byte (valid
 * UTF-8 stays as it is, so a name in another script reads as written on
 * the page). */
static void put_string(struct text *o, const char *s)
{
	text_put(o, "\"");
	text_escape(o, LOG_ESCAPE_JSON, s, strlen(s));
	text_put(o, "\"");
}

/* The requests by time: each bucket's upper bound (the last has none) and
 * count, from which the page draws percentiles. */
static void put_time_hist(struct text *o, const struct stats_counters *c)
{
	unsigned i;

	text_put(o, "\"request_time_hist\": {\"bounds_us\": [");
	for (i = 0; i < STATS_BOUNDS; i++)
		text_put(o, "%s%lu", i ? ", " : "", (unsigned long)stats_bounds_us[i]);
	text_put(o, "], \"counts\": [");
	for (i = 0; i < STATS_BUCKETS; i++)
		text_put(o, "%s%lu", i ? ", " : "", (unsigned long)c->request_time_hist[i]);
	text_put(o, "]},\n");
}

/* The counters of a kind of authentication that verifies credentials
 * itself (Basic, JWT). */
static void put_verifier(struct text *o, const char *name, uint64_t verifications,
			 uint64_t cache_hits, uint64_t refused)
{
	text_put(o, "\"%s\": {\"verifications\": %lu, \"cache_hits\": %lu, \"refused\": %lu},\n",
		 name, (unsigned long)verifications, (unsigned long)cache_hits,
		 (unsigned long)refused);
}

static void put_counters(struct text *o, const struct worker_ctx *ctx)
{
	struct stats_counters c;
	struct stats_gauges g;
	unsigned nprocs;
	/* written by the master before any worker started */
	time_t start = (time_t)ctx->stats_root->master.start_time;

	stats_sum(ctx->stats_zone, ctx->stats_root, &c, &g, &nprocs);
	text_put(o, "\"processes\": %u,\n", nprocs);
	text_put(o, "\"started\": %lld,\n\"uptime\": %lld,\n", (long long)start,
		 (long long)MAX(time(NULL) - start, (time_t)0));
	text_put(o, "\"connections\": {\"accepted\": %lu, \"open\": %lu},\n",
		 (unsigned long)c.connections, (unsigned long)g.connections_open);
	text_put(o, "\"requests\": %lu,\n", (unsigned long)c.requests);
	text_put(o, "\"request_time_us\": %lu,\n", (unsigned long)c.request_time_us);
	put_time_hist(o, &c);
	text_put(o, "\"responses\": {\"1xx\": %lu, \"2xx\": %lu, \"3xx\": %lu, \"4xx\": %lu, "
		 "\"5xx\": %lu, \"other\": %lu},\n",
		 (unsigned long)c.responses[1], (unsigned long)c.responses[2],
		 (unsigned long)c.responses[3], (unsigned long)c.responses[4],
		 (unsigned long)c.responses[5], (unsigned long)c.responses[0]);
	text_put(o, "\"bytes_out\": %lu,\n", (unsigned long)c.bytes_out);
	text_put(o, "\"upstream_failures\": %lu,\n\"retries\": %lu,\n\"no_server\": %lu,\n",
		 (unsigned long)c.upstream_failures, (unsigned long)c.retries,
		 (unsigned long)c.no_server);
	text_put(o, "\"filtered\": %lu,\n", (unsigned long)c.filtered);
	text_put(o, "\"refused\": {\"acl\": %lu, \"methods\": %lu, "
		 "\"client_max_body_size\": %lu},\n",
		 (unsigned long)c.acl_refused, (unsigned long)c.methods_refused,
		 (unsigned long)c.body_size_refused);
	text_put(o, "\"syslog_dropped\": %lu,\n", (unsigned long)c.syslog_dropped);
	text_put(o, "\"tls_handshakes\": {\"completed\": %lu, \"resumed\": %lu},\n",
		 (unsigned long)c.tls_handshakes, (unsigned long)c.tls_resumed);
	if (ctx->tls_cache != NULL)
		text_put(o, "\"tls_sessions_cached\": %u,\n", tls_cache_count(ctx->tls_cache));
	if (ctx->auth_cache != NULL)
		text_put(o, "\"auth_decisions_cached\": %u,\n", auth_cache_count(ctx->auth_cache));
	text_put(o, "\"cache\": {\"hits\": %lu, \"misses\": %lu, \"stale\": %lu, "
		 "\"revalidated\": %lu, \"bypassed\": %lu, \"stored\": %lu, \"collapsed\": %lu},\n",
		 (unsigned long)c.cache_hits, (unsigned long)c.cache_misses,
		 (unsigned long)c.cache_stale, (unsigned long)c.cache_revalidated,
		 (unsigned long)c.cache_bypassed, (unsigned long)c.cache_stored,
		 (unsigned long)c.cache_collapsed);
	text_put(o, "\"limits\": {\"req_refused\": %lu, \"req_delayed\": %lu, "
		 "\"conn_refused\": %lu},\n",
		 (unsigned long)c.limit_req_refused, (unsigned long)c.limit_req_delayed,
		 (unsigned long)c.limit_conn_refused);
	put_verifier(o, "auth_basic", c.auth_basic_verifications, c.auth_basic_cache_hits,
		     c.auth_basic_refused);
	put_verifier(o, "auth_jwt", c.auth_jwt_verifications, c.auth_jwt_cache_hits,
		     c.auth_jwt_refused);
	text_put(o, "\"auth_request\": {\"asked\": %lu, \"cache_hits\": %lu, \"refused\": %lu, "
		 "\"failed\": %lu},\n", (unsigned long)c.auth_request_asked,
		 (unsigned long)c.auth_request_cache_hits, (unsigned long)c.auth_request_refused,
		 (unsigned long)c.auth_request_failed);
}

/* Each limit's zone: the keys it holds and can hold. */
static void put_limits(struct text *o, const struct worker_ctx *ctx)
{
	const struct conf *c = ctx->conf;
	unsigned i;

	text_put(o, "\"limit_zones\": [");
	for (i = 0; i < c->nlimits; i++) {
		text_put(o, "%s\n {\"name\": ", i ? "," : "");
		put_string(o, c->limits[i].refused_by);
		text_put(o, ", \"keys\": %u, \"capacity\": %u}", limit_zone_keys(ctx->limits[i]),
			 limit_zone_capacity(ctx->limits[i]));
	}
	text_put(o, "],\n");
}

/* Each cache zone: what it holds, how full, what it dropped. */
static void put_caches(struct text *o, const struct worker_ctx *ctx)
{
	const struct conf *c = ctx->conf;
	struct cs_stats st;
	unsigned i;

	text_put(o, "\"caches\": [");
	for (i = 0; i < c->ncaches; i++) {
		cs_stats(ctx->caches[i], &st);
		text_put(o, "%s\n {\"name\": ", i ? "," : "");
		put_string(o, c->caches[i].name);
		text_put(o, ", \"size\": %zu, \"objects\": %u, \"writing\": %u, "
			 "\"blocks\": %u, \"blocks_used\": %u, \"fill\": %.3f, \"stored\": %lu, "
			 "\"evicted\": %lu, \"expired\": %lu, \"reaped\": %lu}",
			 st.size, st.objects, st.writing, st.blocks, st.blocks_used,
			 st.blocks ? (double)st.blocks_used / st.blocks : 0.0, st.stored,
			 st.evicted, st.expired, st.reaped);
	}
	text_put(o, "],\n");
}

static void put_server(struct text *o, const struct worker_ctx *ctx,
		       const struct conf_upstream *u, const struct conf_server *srv, uint64_t now)
{
	const struct health_peer *p = ctx->peers[srv->id];
	bool checked = u->health_check != NULL;
	uint64_t down_until = health_load(p, down_until);

	text_put(o, "{\"address\": ");
	put_string(o, srv->address);
	text_put(o, ", \"state\": \"%s\", \"weight\": %d, \"backup\": %s, ",
		 health_up(p, checked, now) ? "up" : "down", srv->weight,
		 srv->backup ? "true" : "false");
	if (srv->region != NULL) {
		text_put(o, "\"region\": ");
		put_string(o, srv->region->name);
		text_put(o, ", ");
	}
	text_put(o, "\"checks_down\": %s, \"failed_down_ms\": %lu, ",
		 health_checks_down(p, checked) ? "true" : "false",
		 (unsigned long)(down_until > now ? down_until - now : 0));
	text_put(o, "\"active\": %d, \"requests\": %lu, \"failures\": %lu, \"fails\": %u, ",
		 health_conns(p), (unsigned long)health_load(p, requests),
		 (unsigned long)health_load(p, failures), health_load(p, fails));
	text_put(o, "\"checks\": %lu, \"checks_failed\": %lu, \"last_check_status\": %d, ",
		 (unsigned long)health_load(p, checks),
		 (unsigned long)health_load(p, checks_failed), health_load(p, last_status));
	text_put(o, "\"ewma_us\": %lu}", (unsigned long)health_ewma(p, now, u->ewma_decay));
}

static void put_upstreams(struct text *o, const struct worker_ctx *ctx)
{
	const struct conf *c = ctx->conf;
	uint64_t now = ev_now();
	unsigned i, j;

	text_put(o, "\"upstreams\": [");
	for (i = 0; i < c->nupstreams; i++) {
		const struct conf_upstream *u = &c->upstreams[i];

		text_put(o, "%s\n {\"name\": ", i ? "," : "");
		put_string(o, u->name);
		text_put(o, ", \"balance\": \"%s\", \"health_check\": %s, \"servers\": [",
			 conf_balance_name(u->balance), u->health_check ? "true" : "false");
		for (j = 0; j < u->nservers; j++) {
			text_put(o, "%s\n  ", j ? "," : "");
			put_server(o, ctx, u, &u->servers[j], now);
		}
		text_put(o, "]}");
	}
	text_put(o, "]\n");
}

/* Every representation says that it was chosen by Accept. */
static void add_vary(struct exchange *x)
{
	exchange_add_field(x, SLICE_LIT("Vary"), SLICE_LIT("Accept"));
}

/* Made in a text of its own, given to the answer: a document of many
 * upstreams is longer than a buffer. */
static void respond_json(struct exchange *x)
{
	struct text o = { NULL, 0, 0, false };
	size_t len;
	char *doc;

	text_put(&o, "{\n\"version\": \"%s\",\n\"pid\": %ld,\n", PACKAGE_VERSION, (long)getpid());
	put_counters(&o, x->ctx);
	put_caches(&o, x->ctx);
	put_limits(&o, x->ctx);
	put_upstreams(&o, x->ctx);
	text_put(&o, "}\n");
	if ((doc = text_take(&o, &len)) == NULL) {
		exchange_log(x, LL_ERROR, ENOMEM, "no memory for the status document");
		exchange_respond(x, 500, TERM_RESOURCE, false);
		return;
	}
	exchange_respond_given(x, 200, "application/json", doc, len);
	add_vary(x);
}

/*
 * The page and the fields that go with it, made once from its bytes when
 * the worker starts: the Content-Security-Policy allows its inline
 * <style> and <script> blocks by their SHA-256 (nothing else runs, and
 * the page fetches only from its own origin), and the ETag is a digest
 * of the whole page.
 */
static struct {
	struct slice body;
	char *csp;
	char etag[24];
} page;

#define PAGE_TYPE "text/html; charset=utf-8"

/* SHA-256 of data in base64, into b64 (45 bytes). */
static void sha256_base64(const char *data, size_t len, char b64[45])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
}

/* " 'sha256-...'" for each block between open and close in the page. */
static void put_block_hashes(struct text *o, const char *open, const char *close)
{
	const char *p = page.body.p, *start, *end;
	char b64[45];

	while ((start = strstr(p, open)) != NULL && (end = strstr(start, close)) != NULL) {
		start += strlen(open);
		sha256_base64(start, (size_t)(end - start), b64);
		text_put(o, " 'sha256-%s'", b64);
		p = end + strlen(close);
	}
}

static int page_init(const struct worker_ctx *ctx)
{
	struct text o = { NULL, 0, 0, false };
	size_t len;
	char b64[45];

	(void)ctx;
	page.body = (struct slice){ status_page_html, status_page_html_len };
	text_put(&o, "default-src 'none'; script-src");
	put_block_hashes(&o, "<script>", "</script>");
	text_put(&o, "; style-src");
	put_block_hashes(&o, "<style>", "</style>");
	text_put(&o, "; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
		 "frame-ancestors 'none'");
	if ((page.csp = text_take(&o, &len)) == NULL) {
		log_msg(LL_ALERT, "no memory for the status page's Content-Security-Policy");
		return -1;
	}
	sha256_base64(page.body.p, page.body.len, b64);
	snprintf(page.etag, sizeof(page.etag), "\"%.16s\"", b64);
	return 0;
}

static void add_page_fields(struct exchange *x)
{
	exchange_add_field(x, SLICE_LIT("ETag"), (struct slice){ page.etag, strlen(page.etag) });
	exchange_add_field(x, SLICE_LIT("Cache-Control"), SLICE_LIT("no-cache"));
	add_vary(x);
}

static void respond_page(struct exchange *x)
{
	if (http_not_modified(&x->req, (struct slice){ page.etag, strlen(page.etag) },
			      (struct slice){ NULL, 0 })) {
		exchange_respond_body(x, 304, PAGE_TYPE, "", 0);
		add_page_fields(x);
		return;
	}
	exchange_respond_lent(x, 200, PAGE_TYPE, page.body.p, page.body.len);
	add_page_fields(x);
	exchange_add_field(x, SLICE_LIT("Content-Security-Policy"),
			   (struct slice){ page.csp, strlen(page.csp) });
	exchange_add_field(x, SLICE_LIT("X-Content-Type-Options"), SLICE_LIT("nosniff"));
}

/* The metrics route's text, for a scraper that asks the status route. */
static void respond_metrics(struct exchange *x)
{
	metrics_respond(x);
	if (x->status == 200)
		add_vary(x);
}

/* What the status route answers in, by the name a "?format=" query
 * gives and the media type Accept weighs. */
struct representation {
	const char *format;
	const char *type;
	void (*respond)(struct exchange *x);
};

/* The first is the default: for a request without Accept, and when
 * several weigh alike (Accept of any type), so that scripts keep the
 * JSON they had before the page. */
static const struct representation representations[] = {
	{ "json", "application/json", respond_json },
	{ "html", "text/html", respond_page },
	{ "prometheus", "text/plain", respond_metrics },
};

/* The value of "format=" in the query, or a NULL slice. */
static struct slice query_format(struct slice query)
{
	const char *p = query.p, *end = query.p + query.len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *item_end = amp ? amp : end;

		if (item_end - p >= 7 && memcmp(p, "format=", 7) == 0)
			return (struct slice){ p + 7, (size_t)(item_end - p - 7) };
		p = item_end + 1;
	}
	return (struct slice){ NULL, 0 };
}

/* The representation the request asks for: the one "?format=" names
 * (NULL when it names none we have), else the one Accept weighs most. */
static const struct representation *negotiate(const struct exchange *x)
{
	struct slice format = query_format(x->req.query);
	const struct representation *best = &representations[0];
	int best_q = -1;
	size_t i;

	for (i = 0; i < sizeof(representations) / sizeof(representations[0]); i++) {
		const struct representation *r = &representations[i];
		int q;

		if (format.p != NULL) {
			if (slice_ieq(format, r->format))
				return r;
			continue;
		}
		q = http_accept_media(&x->req, r->type);
		if (q > best_q) {
			best = r;
			best_q = q;
		}
	}
	return format.p != NULL ? NULL : best;
}

/* 400, with the formats there are. */
static void respond_unknown_format(struct exchange *x)
{
	struct text o = { NULL, 0, 0, false };
	size_t i, len;
	char *text;

	text_put(&o, "unknown format; the formats are:");
	for (i = 0; i < sizeof(representations) / sizeof(representations[0]); i++)
		text_put(&o, " %s", representations[i].format);
	text_put(&o, "\n");
	if ((text = text_take(&o, &len)) == NULL) {
		exchange_respond(x, 500, TERM_RESOURCE, false);
		return;
	}
	exchange_respond_given(x, 400, "text/plain", text, len);
}

static bool status_claim(struct exchange *x)
{
	const struct representation *r;

	if (x->route == NULL || !x->route->status)
		return false;
	r = negotiate(x);
	if (r == NULL) {
		respond_unknown_format(x);
		return true;
	}
	r->respond(x);
	return true;
}

const struct module status_module = {
	.name = "status",
	.init = page_init,
	.content = status_claim,
};
