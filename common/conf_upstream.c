/*
 * conf_upstream.c: upstream sections, their servers and health checks:
 * the options, the balancing algorithm and its hash key, what counts as
 * a failure, and the checks that tie them together.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conf_loader.h"
#include "conf_parts.h"
#include "conf_tls.h"

#define MAX_WEIGHT		1000
#define MAX_MAX_FAILS		1000
#define MAX_MAX_CONNS		1000000
#define MAX_HC_COUNT		100

#define U(field) offsetof(struct conf_upstream, field)
#define S(field) offsetof(struct conf_server, field)
#define H(field) offsetof(struct conf_health_check, field)

static const char *const balance_names[] = {
	[BALANCE_ROUND_ROBIN] = "round_robin",
	[BALANCE_LEAST_CONN] = "least_conn",
	[BALANCE_IP_HASH] = "ip_hash",
	[BALANCE_HASH] = "hash",
	[BALANCE_RANDOM2] = "random2",
	[BALANCE_EWMA] = "ewma",
};

const char *conf_balance_name(enum conf_balance b)
{
	return balance_names[b];
}

static const struct {
	const char *name;
	unsigned bit;
} fail_kinds[] = {
	{ "error", CONF_FAIL_ERROR },
	{ "timeout", CONF_FAIL_TIMEOUT },
	{ "5xx", CONF_FAIL_5XX },
};

/* Text that a health check puts on its request line or in Host. */
static bool is_request_token(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

/* ---- balance and hash_key ---- */

static void read_balance(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			 struct conf *c)
{
	struct conf_upstream *u = obj;
	const char *s = cfg_getstr(sec, o->name);
	unsigned i;

	(void)c;
	u->balance = BALANCE_ROUND_ROBIN;
	if (s == NULL)
		return;
	for (i = 0; i < ARRAY_LEN(balance_names); i++)
		if (strcmp(s, balance_names[i]) == 0) {
			u->balance = (enum conf_balance)i;
			return;
		}
	ld_error(ld, ld_opt_line(ld, sec, o->name), "balance: unknown algorithm \"%s\" (use "
		 "round_robin, least_conn, ip_hash, hash, random2 or ewma)", s);
}

/* Whether balance is absent or names an algorithm (an error said so
 * otherwise: hash_key need not say more). */
static bool balance_known(cfg_t *sec)
{
	const char *s = cfg_getstr(sec, "balance");
	unsigned i;

	for (i = 0; s != NULL && i < ARRAY_LEN(balance_names); i++)
		if (strcmp(s, balance_names[i]) == 0)
			return true;
	return s == NULL;
}

static void dump_balance(FILE *out, const struct conf_option *o, const void *obj,
			 const char *indent)
{
	fprintf(out, "%s%s = \"%s\"\n", indent, o->name,
		balance_names[((const struct conf_upstream *)obj)->balance]);
}

static void read_hash_key(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			  struct conf *c)
{
	struct conf_upstream *u = obj;

	(void)c;
	if (cfg_getstr(sec, o->name) == NULL) {
		if (u->balance == BALANCE_HASH)
			ld_error(ld, ld_opt_line(ld, sec, "balance"), "balance = \"hash\" needs a "
				 "hash_key");
		return;
	}
	if (balance_known(sec) && u->balance != BALANCE_HASH)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "hash_key is only used with "
			 "balance = \"hash\"");
	conf_expr_parse(ld, ld_opt_line(ld, sec, o->name), o->name, &u->hash_key,
			cfg_getstr(sec, o->name));
}

static void dump_hash_key(FILE *out, const struct conf_option *o, const void *obj,
			  const char *indent)
{
	conf_dump_line(out, indent, o->name, ((const struct conf_upstream *)obj)->hash_key.text);
}

static void read_fail_on(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			 struct conf *c)
{
	struct conf_upstream *u = obj;
	unsigned i, j, n = cfg_size(sec, o->name);

	(void)c;
	u->fail_on = 0;
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, o->name, i);

		for (j = 0; j < ARRAY_LEN(fail_kinds); j++)
			if (strcmp(s, fail_kinds[j].name) == 0)
				break;
		if (j == ARRAY_LEN(fail_kinds)) {
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "fail_on: unknown failure "
				 "\"%s\" (use error, timeout or 5xx)", s);
			continue;
		}
		u->fail_on |= fail_kinds[j].bit;
	}
}

static void dump_fail_on(FILE *out, const struct conf_option *o, const void *obj,
			 const char *indent)
{
	const struct conf_upstream *u = obj;
	unsigned i, n;

	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0, n = 0; i < ARRAY_LEN(fail_kinds); i++)
		if (u->fail_on & fail_kinds[i].bit)
			fprintf(out, "%s\"%s\"", n++ ? ", " : "", fail_kinds[i].name);
	fputs("}\n", out);
}

const struct conf_option conf_upstream_options[] = {
	{ "keepalive", CS_UPSTREAM, CT_NUMBER, "32", 0, 65535, U(keepalive), NULL, NULL, NULL,
	  "idle connections to its servers each worker keeps for reuse", 0 },
	{ "send_proxy_protocol", CS_UPSTREAM, CT_CUSTOM, "off", 0, 0, 0,
	  conf_read_send_proxy_protocol, NULL, conf_dump_send_proxy_protocol,
	  "a new connection to a server starts with a PROXY header for the client: off, v1, "
	  "v2", 0 },
	{ "connect_timeout", CS_UPSTREAM, CT_DURATION, "5s", 1, CONF_MS_MAX, U(connect_timeout),
	  NULL, NULL, NULL, "how long connecting to a server (TCP and TLS) may take", 0 },
	{ "send_timeout", CS_UPSTREAM, CT_DURATION, "60s", 1, CONF_MS_MAX, U(send_timeout), NULL,
	  NULL, NULL, "how long a server may take to accept more of a request", 0 },
	{ "read_timeout", CS_UPSTREAM, CT_DURATION, "60s", 1, CONF_MS_MAX, U(read_timeout), NULL,
	  NULL, NULL, "how long a server may take to send the response head, or more of it", 0 },
	{ "balance", CS_UPSTREAM, CT_CUSTOM, "round_robin", 0, 0, 0, read_balance, NULL,
	  dump_balance, "round_robin, least_conn, ip_hash, hash, random2 or ewma", 0 },
	{ "hash_key", CS_UPSTREAM, CT_CUSTOM, NULL, 0, 0, 0, read_hash_key, NULL, dump_hash_key,
	  "what balance = \"hash\" hashes: text and $variables", 0 },
	{ "retries", CS_UPSTREAM, CT_NUMBER, NULL, 0, CONF_MAX_SERVERS - 1, U(retries), NULL,
	  NULL, NULL, "more servers tried after a failed one (default: every server once)", 0 },
	{ "retry_timeout", CS_UPSTREAM, CT_DURATION, "0", 0, CONF_MS_MAX, U(retry_timeout), NULL,
	  NULL, NULL, "no new server is tried this long after the first try; 0: no limit", 0 },
	{ "fail_on", CS_UPSTREAM, CT_CUSTOM, "{\"error\", \"timeout\"}", 0, 0, 0, read_fail_on,
	  NULL, dump_fail_on, "what counts as a failure of a server: error, timeout, 5xx",
	  CF_LIST },
	{ "max_fails", CS_UPSTREAM, CT_NUMBER, "1", 0, MAX_MAX_FAILS, U(max_fails), NULL, NULL,
	  NULL, "failures within fail_timeout that mark a server down; 0: never", 0 },
	{ "fail_timeout", CS_UPSTREAM, CT_DURATION, "10s", 1, CONF_MS_MAX, U(fail_timeout), NULL,
	  NULL, NULL, "the window max_fails counts in, and how long a server stays down", 0 },
	{ "ewma_decay", CS_UPSTREAM, CT_DURATION, "10s", 1, CONF_MS_MAX, U(ewma_decay), NULL,
	  NULL, NULL, "the time constant of balance = \"ewma\"'s decayed response time", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* ---- servers ---- */

const struct conf_option conf_server_options[] = {
	{ "weight", CS_SERVER, CT_NUMBER, "1", 1, MAX_WEIGHT, S(weight), NULL, NULL, NULL,
	  "its share of the requests, against the other servers'", 0 },
	{ "backup", CS_SERVER, CT_BOOL, "false", 0, 0, S(backup), NULL, NULL, NULL,
	  "takes requests only when no primary server can", 0 },
	{ "max_conns", CS_SERVER, CT_NUMBER, "0", 0, MAX_MAX_CONNS, S(max_conns), NULL, NULL,
	  NULL, "requests in progress at it at most, over all workers; 0: no limit", 0 },
	{ "max_fails", CS_SERVER, CT_NUMBER, NULL, 0, MAX_MAX_FAILS, S(max_fails), NULL, NULL,
	  NULL, "as the upstream's, for this server (default: the upstream's)", 0 },
	{ "fail_timeout", CS_SERVER, CT_DURATION, NULL, 1, CONF_MS_MAX, S(fail_timeout), NULL,
	  NULL, NULL, "as the upstream's, for this server (default: the upstream's)", 0 },
	{ "slow_start", CS_SERVER, CT_DURATION, "0", 0, CONF_MS_MAX, S(slow_start), NULL, NULL,
	  NULL, "how long its weight ramps up after it comes back; 0: at once", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

static void resolve_server(struct loader *ld, cfg_t *sec, const struct conf_upstream *u,
			   struct conf_server *s, struct conf *c)
{
	const char *addr = ld_title_of(ld, sec);
	char err[128];

	s->address = ld_strdup(ld, addr);
	s->max_fails = u->max_fails;
	s->fail_timeout = u->fail_timeout;
	conf_read(ld, sec, conf_server_options, s, c);
	conf_read(ld, sec, conf_server_region_options, s, c);
	if (conf_parse_address(addr, &s->addr, &s->addrlen, err, sizeof(err)) == -1) {
		ld_error(ld, ld_sec_line(ld, sec), "server: bad address \"%s\": %s", addr, err);
		s->addrlen = 0;
	} else if (conf_addr_is_any(&s->addr)) {
		ld_error(ld, ld_sec_line(ld, sec), "server: bad address \"%s\": a server needs a "
			 "host, as in \"127.0.0.1:9000\"", addr);
		s->addrlen = 0;
	}
}

static void resolve_servers(struct loader *ld, cfg_t *sec, struct conf_upstream *u,
			    struct conf *c)
{
	unsigned i, primaries = 0, n = cfg_size(sec, "server");

	if (n == 0) {
		ld_error(ld, ld_sec_line(ld, sec), "upstream \"%s\" has no server",
			 u->name ? u->name : "");
		return;
	}
	if (n > CONF_MAX_SERVERS)
		ld_error(ld, ld_sec_line(ld, cfg_getnsec(sec, "server", CONF_MAX_SERVERS)),
			 "upstream \"%s\" has more than %d servers", u->name ? u->name : "",
			 CONF_MAX_SERVERS);
	u->servers = ld_realloc(ld, NULL, n, sizeof(*u->servers));
	if (u->servers == NULL)
		return;
	memset(u->servers, 0, n * sizeof(*u->servers));
	u->nservers = n;
	for (i = 0; i < n; i++) {
		resolve_server(ld, cfg_getnsec(sec, "server", i), u, &u->servers[i], c);
		primaries += !u->servers[i].backup;
	}
	if (primaries == 0)
		ld_error(ld, ld_sec_line(ld, sec), "upstream \"%s\" has only backup servers",
			 u->name ? u->name : "");
}

/* The upstream's max_fails and fail_timeout are only defaults for its
 * servers: each server's own values are written. */
static void dump_server(const struct conf_server *s, FILE *out)
{
	fputs("\tserver ", out);
	conf_dump_str(out, s->address);
	fputs(" {\n", out);
	conf_write(out, conf_server_options, s, "\t\t");
	conf_write(out, conf_server_region_options, s, "\t\t");
	fputs("\t}\n", out);
}

/* ---- health checks ---- */

static void check_request_token(struct loader *ld, cfg_t *sec, const struct conf_option *o,
				void *obj)
{
	const char *s = *(char **)conf_field(o, obj);

	if (s == NULL)
		return;
	if (!is_request_token(s) || (strcmp(o->name, "path") == 0 && s[0] != '/'))
		ld_error(ld, ld_opt_line(ld, sec, o->name), strcmp(o->name, "path") == 0 ?
			 "path: bad path \"%s\" (it starts with \"/\" and has no spaces or control "
			 "characters)" : "host: bad host \"%s\" (no spaces or control characters)", s);
}

/* "200" or "200-399"; -1 unless 100 <= min <= max <= 599. */
static int parse_status_range(const char *s, int *min, int *max)
{
	char *end;
	long a, b;

	if (!isdigit((unsigned char)*s))
		return -1;
	a = b = strtol(s, &end, 10);
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			return -1;
		b = strtol(end + 1, &end, 10);
	}
	if (*end != '\0' || a < 100 || b > 599 || a > b)
		return -1;
	*min = (int)a;
	*max = (int)b;
	return 0;
}

static void read_status(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			struct conf *c)
{
	struct conf_health_check *hc = obj;
	const char *s = cfg_getstr(sec, o->name);

	(void)c;
	parse_status_range(o->def, &hc->status_min, &hc->status_max);
	if (s != NULL && parse_status_range(s, &hc->status_min, &hc->status_max) == -1)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "status: bad status range \"%s\" (use "
			 "e.g. \"200\" or \"200-399\", statuses from 100 to 599)", s);
}

static void dump_status(FILE *out, const struct conf_option *o, const void *obj,
			const char *indent)
{
	const struct conf_health_check *hc = obj;

	if (hc->status_min == hc->status_max)
		fprintf(out, "%s%s = \"%d\"\n", indent, o->name, hc->status_min);
	else
		fprintf(out, "%s%s = \"%d-%d\"\n", indent, o->name, hc->status_min, hc->status_max);
}

static void check_body(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj)
{
	struct conf_health_check *hc = obj;
	char err[320];

	if (hc->body == NULL)
		return;
	hc->body_regex = conf_regex_compile(hc->body, err, sizeof(err));
	if (hc->body_regex == NULL)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "body: bad regex: %s", err);
}

const struct conf_option conf_health_check_options[] = {
	{ "path", CS_HEALTH_CHECK, CT_STRING, "/", 0, 0, H(path), NULL, check_request_token,
	  NULL, "the target a check asks for", 0 },
	{ "host", CS_HEALTH_CHECK, CT_STRING, NULL, 0, 0, H(host), NULL, check_request_token,
	  NULL, "the Host of a check (default: the upstream's name)", 0 },
	{ "status", CS_HEALTH_CHECK, CT_CUSTOM, "200-399", 0, 0, 0, read_status, NULL,
	  dump_status, "the statuses that pass: \"200\" or a range \"200-399\"", 0 },
	{ "body", CS_HEALTH_CHECK, CT_STRING, NULL, 0, 0, H(body), NULL, check_body, NULL,
	  "a regex the response body must match somewhere to pass", 0 },
	{ "interval", CS_HEALTH_CHECK, CT_DURATION, "5s", 1, CONF_MS_MAX, H(interval), NULL,
	  NULL, NULL, "the time between two checks of a server", 0 },
	{ "timeout", CS_HEALTH_CHECK, CT_DURATION, "2s", 1, CONF_MS_MAX, H(timeout), NULL, NULL,
	  NULL, "how long one whole check may take", 0 },
	{ "fall", CS_HEALTH_CHECK, CT_NUMBER, "3", 1, MAX_HC_COUNT, H(fall), NULL, NULL, NULL,
	  "failed checks in a row that mark a server down", 0 },
	{ "rise", CS_HEALTH_CHECK, CT_NUMBER, "2", 1, MAX_HC_COUNT, H(rise), NULL, NULL, NULL,
	  "passed checks in a row that bring it back", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

static void resolve_health_check(struct loader *ld, cfg_t *up, struct conf_upstream *u,
				 struct conf *c)
{
	struct conf_health_check *hc;
	char where[PATH_MAX + 16];
	unsigned i, n = cfg_size(up, "health_check");
	cfg_t *sec;

	if (n == 0)
		return;
	sec = cfg_getnsec(up, "health_check", 0);
	ld_where(ld, ld_sec_line(ld, sec), where, sizeof(where));
	for (i = 1; i < n; i++)
		ld_error(ld, ld_sec_line(ld, cfg_getnsec(up, "health_check", i)), "health_check "
			 "is defined twice in upstream \"%s\" (first at %s)", u->name ? u->name : "",
			 where);
	if ((hc = ld_realloc(ld, NULL, 1, sizeof(*hc))) == NULL)
		return;
	memset(hc, 0, sizeof(*hc));
	u->health_check = hc;
	conf_read(ld, sec, conf_health_check_options, hc, c);
	if (hc->host == NULL && u->name != NULL) {
		hc->host = ld_strdup(ld, u->name);
		if (hc->host != NULL && !is_request_token(hc->host))
			ld_error(ld, ld_sec_line(ld, sec), "health_check: the upstream's name \"%s\" "
				 "is not a valid Host: set host", hc->host);
	}
}

static void health_check_free(struct conf_health_check *hc)
{
	if (hc == NULL)
		return;
	conf_release(conf_health_check_options, hc);
	if (hc->body_regex)
		pcre2_code_free(hc->body_regex);
	free(hc);
}

/* ---- upstreams ---- */

static void resolve_upstream(struct loader *ld, cfg_t *sec, struct conf_upstream *u,
			     struct conf *c)
{
	unsigned n = MIN(cfg_size(sec, "server"), CONF_MAX_SERVERS);

	u->name = ld_strdup(ld, ld_title_of(ld, sec));
	/* by default every server is tried once */
	u->retries = n ? n - 1 : 0;
	conf_read(ld, sec, conf_upstream_options, u, c);
	conf_read(ld, sec, conf_upstream_geo_options, u, c);
	resolve_health_check(ld, sec, u, c);
	resolve_servers(ld, sec, u, c);
	conf_upstream_gslb(ld, sec, u, c);
	conf_tls_upstream(ld, sec, u, c);
}

void conf_upstreams_resolve(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned i, j, n = cfg_size(cfg, "upstream");

	c->upstreams = ld_realloc(ld, NULL, n, sizeof(*c->upstreams));
	if (c->upstreams == NULL)
		return;
	memset(c->upstreams, 0, n * sizeof(*c->upstreams));
	c->nupstreams = n;
	for (i = 0; i < n; i++) {
		c->upstreams[i].index = (int)i;
		resolve_upstream(ld, cfg_getnsec(cfg, "upstream", i), &c->upstreams[i], c);
		ld_name(ld, CS_UPSTREAM, c->upstreams[i].name, &c->upstreams[i]);
	}
	/* ids index per-server state shared by all processes */
	for (i = 0; i < n; i++)
		for (j = 0; j < c->upstreams[i].nservers; j++)
			c->upstreams[i].servers[j].id = c->nservers++;
}

void conf_upstream_dump(const struct conf_upstream *u, FILE *out)
{
	unsigned i;

	fputs("\nupstream ", out);
	conf_dump_str(out, u->name);
	fputs(" {\n", out);
	conf_write(out, conf_upstream_options, u, "\t");
	conf_write(out, conf_upstream_geo_options, u, "\t");
	conf_upstream_gslb_dump(u, out);
	if (u->tls != NULL)
		conf_write(out, conf_tls_upstream_options, u->tls, "\t");
	if (u->health_check != NULL) {
		fputs("\thealth_check {\n", out);
		conf_write(out, conf_health_check_options, u->health_check, "\t\t");
		fputs("\t}\n", out);
	}
	for (i = 0; i < u->nservers; i++)
		dump_server(&u->servers[i], out);
	fputs("}\n", out);
}

void conf_upstream_free(struct conf_upstream *u)
{
	unsigned j;

	for (j = 0; j < u->nservers; j++)
		free(u->servers[j].address);
	free(u->servers);
	conf_expr_free(&u->hash_key);
	conf_gslb_free(u->gslb);
	health_check_free(u->health_check);
	conf_tls_free_upstream(u->tls);
	free(u->name);
}
