/*
 * conf.h: the configuration, parsed with libconfuse, checked as a whole,
 * and turned into plain structures that master and workers read.
 *
 * Owns: the schema (every option name), defaults, validation with
 * "file:line: message" errors, and the resolved form (addresses parsed,
 * names resolved to pointers, regexes compiled).
 */
#ifndef PORTICO_CONF_H
#define PORTICO_CONF_H

#include <sys/socket.h>
#include <sys/types.h>
#include <stdio.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core.h"

#define CONF_DEFAULT_FILE SYSCONFDIR "/portico/portico.conf"

struct cidr;
struct conf_site;
struct host_index;
struct tls_ticket_key;

struct conf_listen {
	char *name;
	char *address;			/* as written */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned backlog;
	bool tls;			/* connections start with a TLS handshake */
	bool proxy_protocol;		/* ... after a PROXY protocol header */
	struct cidr *proxy_protocol_from;	/* who may send the header */
	unsigned nproxy_protocol_from;
	/* unix: addresses: the socket file's permissions and owners */
	unsigned mode;
	char *owner, *group;		/* NULL: the master's */
	uid_t uid;			/* owner's, when set */
	gid_t gid;			/* group's, when set */
	int index;			/* position in conf->listens */
	char *default_site_name;	/* as written, or NULL */
	const struct conf_site *default_site;	/* for hosts no site names: the
						 * one named, else its first */
	struct host_index *hosts;	/* its sites' host patterns */
};

/* A certificate chain (leaf first) and its private key, PEM files. */
struct conf_cert {
	char *chain;
	char *key;
};

enum conf_verify {
	CONF_VERIFY_OFF = 0,
	CONF_VERIFY_OPTIONAL,		/* asked for; one given must verify */
	CONF_VERIFY_REQUIRED		/* no certificate, no handshake */
};

/* A site's "tls" section. The master builds ctx from it while root, so
 * workers never read a key file. */
struct conf_site_tls {
	struct conf_cert *certs;	/* one per key type (RSA, ECDSA) */
	unsigned ncerts;
	int min_version, max_version;	/* TLS1_2_VERSION... */
	char *ciphers;			/* TLS 1.2 and below */
	char *ciphersuites;		/* TLS 1.3 */
	char *curves;
	char *ocsp_response;		/* file with a DER response, or NULL */
	unsigned char *ocsp_der;	/* ... its contents */
	size_t ocsp_len;
	enum conf_verify verify_client;
	char *client_ca;		/* PEM file of trusted CAs */
	unsigned verify_depth;
	char *client_subject_header;	/* carries the verified subject upstream */
	struct ssl_ctx_st *ctx;
};

/* TLS from portico to an upstream's servers. */
struct conf_upstream_tls {
	bool verify;			/* the server's certificate and name */
	char *ca;			/* PEM file; NULL: the system's CAs */
	char *server_name;		/* SNI, and the name verified; NULL:
					 * the server's address is verified */
	struct conf_cert cert;		/* client certificate, or NULLs */
	struct ssl_ctx_st *ctx;
};

/* Servers per upstream: an exchange keeps a bitmap of those it tried. */
#define CONF_MAX_SERVERS 256

struct conf_server {
	char *address;			/* as written: "host:port" */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned weight;
	bool backup;			/* only when every primary is down */
	unsigned max_conns;		/* across all workers; 0: no limit */
	unsigned max_fails;		/* passive: 0 disables */
	unsigned fail_timeout;		/* ms: the window, and time marked down */
	unsigned slow_start;		/* ms the weight ramps up after coming back */
	unsigned id;			/* position among all servers of the conf */
	const struct conf_region *region;	/* GSLB: its region; NULL: none */
};

enum conf_balance {
	BALANCE_ROUND_ROBIN = 0,	/* smooth weighted */
	BALANCE_LEAST_CONN,		/* weighted, connections of all workers */
	BALANCE_IP_HASH,		/* consistent hash of the client address */
	BALANCE_HASH,			/* consistent hash of hash_key */
	BALANCE_RANDOM2,		/* two random choices, fewer connections */
	BALANCE_EWMA			/* decayed response time x (active + 1) */
};

/* One piece of a variable expression such as "$host$request_uri" or
 * "$cookie_sid" (hash_key, cache_key). */
enum conf_key_var {
	KEY_TEXT = 0,			/* name: literal text */
	KEY_URI,			/* path without the query */
	KEY_REQUEST_URI,		/* target as sent, query included */
	KEY_ARGS,			/* query string */
	KEY_ARG,			/* name: a query parameter */
	KEY_HTTP,			/* name: a header field ("x-user") */
	KEY_COOKIE,			/* name: a cookie */
	KEY_REMOTE_ADDR,		/* client address */
	KEY_HOST,			/* Host, lower-cased, without port */
	KEY_SCHEME,			/* "http" or "https" */
	KEY_METHOD,			/* the request's method */
	KEY_CAPTURE,			/* index: $0..$9 of the route's regex */
	KEY_IS_ARGS,			/* "?" when the target has a query */
	KEY_REMOTE_PORT,		/* the client's port */
	KEY_SERVER_PORT,		/* the listener's port */
	KEY_GEO_REGION,			/* the client's region (conf_geo) */
	KEY_REMOTE_USER,		/* who authentication let in */
	KEY_REQUEST_ID,			/* the request's id (32 hex digits) */
	KEY_SITE,			/* the site's name */
	KEY_ROUTE,			/* the route's pattern */
	KEY_TLS_PROTOCOL,		/* "TLSv1.3"; empty without TLS */
	KEY_TLS_CIPHER,			/* the cipher; empty without TLS */
	/* Log formats only (conf_log.c): what the exchange's end knows. */
	KEY_LOG_FIRST,
	KEY_STATUS = KEY_LOG_FIRST,	/* the status sent */
	KEY_BODY_BYTES_SENT,		/* body bytes sent */
	KEY_BYTES_SENT,			/* bytes sent, head included */
	KEY_REQUEST_LENGTH,		/* request head and body bytes read */
	KEY_REQUEST_TIME,		/* seconds.ms since the head was read */
	KEY_MSEC,			/* seconds.ms since the epoch, at the end */
	KEY_TIME_LOCAL,			/* "05/Dec/2026:10:00:00 +0000" */
	KEY_TIME_ISO8601,		/* "2026-12-05T10:00:00+00:00" */
	KEY_REQUEST,			/* the request line, as the logs keep it */
	KEY_UPSTREAM_ADDR,		/* the server that answered */
	KEY_UPSTREAM_CONNECT_TIME,	/* seconds.ms to its connection */
	KEY_UPSTREAM_HEADER_TIME,	/* ... to its response head */
	KEY_UPSTREAM_RESPONSE_TIME,	/* ... to the response's end */
	KEY_UPSTREAM_STATUS,		/* the status the server answered */
	KEY_TERMINATION,		/* the termination state ("--", "SH") */
	KEY_CACHE_STATUS,		/* HIT, MISS, ... on cached routes */
	KEY_LIMIT,			/* the rule or limit that refused it */
	KEY_AUTH_USER			/* $remote_user, as nginx's logs name it */
};

struct conf_key_part {
	enum conf_key_var var;
	char *name;			/* KEY_TEXT, KEY_ARG, KEY_HTTP, KEY_COOKIE */
	size_t name_len;
	unsigned index;			/* KEY_CAPTURE: 0..9 */
};

/* A variable expression: text and $variables (conf_expr.c). */
struct conf_expr {
	char *text;			/* as written, for -T; NULL: none */
	struct conf_key_part *parts;
	unsigned nparts;
};

/* conf_upstream.fail_on: what counts as a passive failure. */
#define CONF_FAIL_ERROR   0x01		/* connect refused, reset, closed early */
#define CONF_FAIL_TIMEOUT 0x02		/* connect or response-head timeout */
#define CONF_FAIL_5XX     0x04		/* a response with status 500-599 */

struct conf_health_check {
	char *path;			/* request target, default "/" */
	char *host;			/* Host field; default: the upstream name */
	int status_min, status_max;	/* expected status range, default 200-399 */
	char *body;			/* regex as written, or NULL */
	pcre2_code *body_regex;		/* must match somewhere in the body */
	unsigned interval;		/* ms between checks of a server */
	unsigned timeout;		/* ms for one whole check */
	unsigned fall;			/* failed checks in a row: down */
	unsigned rise;			/* passed checks in a row: up again */
};

/*
 * Regions (geo and GSLB): every region name the configuration mentions
 * (in geo files, on servers, in preference lists) is interned into
 * conf.regions, and known by its position there, a small id. Id 0 is no
 * region, whose name is "".
 */
#define CONF_MAX_REGIONS 65535

struct conf_region {
	char *name;
	unsigned id;			/* position in conf->regions */
};

struct geo_table;

/* geo "NAME" { } at the top level (conf_geo.c): a file of CIDR,region
 * lines, loaded into a table the workers share (geo_table.h). */
struct conf_geo {
	char *name;
	char *file;			/* absolute */
	const struct conf_region *default_region;	/* where no prefix holds
							 * a client; NULL: none */
	struct geo_table *table;	/* NULL only in a configuration refused */
	int index;			/* position in conf->geos */
};

/* The order of an upstream's regions for the clients of one region. */
struct conf_region_order {
	const struct conf_region *region;	/* the clients' region */
	const struct conf_region **next;	/* region "X" { next = {...} } */
	unsigned nnext;
	bool written;			/* a region section says it */
	unsigned *order;		/* ids of every region of the servers: its
					 * own (if a server has it), next, then
					 * the others */
};

/* An upstream whose servers have regions (GSLB, conf_geo.c). */
struct conf_gslb {
	unsigned *regions;		/* of its servers, in order of first
					 * appearance; 0 last when a server has none */
	unsigned nregions;
	struct conf_region_order *orders;	/* one per region of its servers
						 * and per region section */
	unsigned norders;
};

struct conf_upstream {
	char *name;
	struct conf_server *servers;
	unsigned nservers;
	unsigned keepalive;		/* idle connections kept per worker */
	unsigned connect_timeout;	/* ms */
	unsigned send_timeout;		/* ms */
	unsigned read_timeout;		/* ms */
	enum conf_balance balance;
	struct conf_expr hash_key;	/* balance = hash */
	unsigned retries;		/* more servers tried after the first */
	unsigned retry_timeout;		/* ms from the first try; 0: no limit */
	unsigned fail_on;		/* CONF_FAIL_* */
	unsigned max_fails;		/* its servers' default */
	unsigned fail_timeout;		/* its servers' default, ms */
	unsigned ewma_decay;		/* ms: time constant of the decay */
	struct conf_health_check *health_check;	/* NULL: no active checks */
	struct conf_upstream_tls *tls;	/* NULL: plain TCP */
	unsigned send_proxy_protocol;	/* enum pp_version: 0 off, 1 v1, 2 v2 */
	int index;			/* position in conf->upstreams */
	const struct conf_geo *geo;	/* GSLB: where clients' regions come from */
	struct conf_gslb *gslb;		/* NULL: its servers have no regions */
};

/* A cache zone: cache "NAME" { } at the top level (conf_cache.c). */
struct conf_cache {
	char *name;
	size_t size;			/* bytes of shared memory */
	size_t max_object;		/* larger answers pass uncached */
	unsigned inactive;		/* ms an answer may go unasked; 0: forever */
	int index;			/* position in conf->caches */
};

/* A limit: limit_req or limit_conn "NAME" { } at the top level
 * (conf_limits.c); its state lives in a zone of its own. */
enum conf_limit_kind { CONF_LIMIT_REQ = 1, CONF_LIMIT_CONN = 2 };

struct conf_limit {
	char *name;
	enum conf_limit_kind kind;
	char *refused_by;		/* "limit_req=NAME", for the logs */
	struct conf_expr key;		/* names the bucket; empty: not counted */
	char *rate;			/* limit_req: as written, "10r/s" */
	uint64_t interval_us;		/* ... between two requests at the rate */
	unsigned burst;			/* limit_req: requests queued ahead */
	unsigned delay;			/* ... of which passed at once */
	bool nodelay;			/* ... all of them passed at once */
	unsigned max;			/* limit_conn: open exchanges per key */
	unsigned status;		/* the answer to a refused request */
	size_t size;			/* bytes of shared memory */
	int index;			/* position in conf->limits */
};

/* conf_route.cache_methods */
#define CONF_CACHE_GET   0x01
#define CONF_CACHE_HEAD  0x02		/* answered from a stored GET */

/* conf_route.cache_ignore: what of the server's answer is not obeyed */
#define CONF_IGNORE_CACHE_CONTROL 0x01
#define CONF_IGNORE_EXPIRES       0x02
#define CONF_IGNORE_SET_COOKIE    0x04	/* stored, without the cookie */
#define CONF_IGNORE_VARY          0x08

struct cidr;
struct prefix_tree;
struct route_trie;

/* allow and deny of a site or a route (conf_access.c). */
struct conf_acl {
	struct cidr *allow, *deny;	/* the lists as written, for -T */
	unsigned nallow, ndeny;
	char *allow_file, *deny_file;	/* files of more prefixes, or NULL */
	struct prefix_tree *allow_tree;	/* allow and allow_file; NULL: none set */
	struct prefix_tree *deny_tree;	/* deny and deny_file; NULL: none set */
};

/* The methods a site or route takes (conf_methods.c); a request with
 * another is answered 405. */
struct conf_methods {
	char **names;			/* tokens, case-sensitive; GET brings HEAD */
	unsigned n;
	char *allow;			/* "GET, HEAD, POST": the 405's Allow */
};
/* Compression of responses (gzip = true on a site or a route;
 * conf_gzip.c reads it, worker/modules/gzip.c does it). A route starts
 * from its site's and changes what it writes. */
#define GZIP_PROXIED_EXPIRED	0x01	/* the response has Expires */
#define GZIP_PROXIED_NO_CACHE	0x02	/* Cache-Control: no-cache */
#define GZIP_PROXIED_NO_STORE	0x04	/* Cache-Control: no-store */
#define GZIP_PROXIED_PRIVATE	0x08	/* Cache-Control: private */
#define GZIP_PROXIED_NO_LM	0x10	/* no Last-Modified */
#define GZIP_PROXIED_NO_ETAG	0x20	/* no ETag */
#define GZIP_PROXIED_AUTH	0x40	/* the request has Authorization */
#define GZIP_PROXIED_ANY	0x80	/* any proxied request */
struct conf_gzip_types {
	char **types;			/* media types, lower case; "*": any */
	unsigned n;
	bool any;			/* "*" is among them */
};
struct conf_gzip {
	bool on;
	struct conf_gzip_types *types;	/* NULL: text/html only */
	size_t min_length;		/* bytes, when Content-Length says */
	unsigned level;			/* 1..9 */
	unsigned proxied;		/* GZIP_PROXIED_*; 0: off */
	bool gunzip;			/* inflate gzip answers for clients
					 * without it (worker/modules/gunzip.c) */
};

/* HTTP Basic authentication of a site or a route (conf_auth_basic.c
 * reads it, worker/modules/auth_basic.c asks for it). A route starts from
 * its site's and changes what it writes. */
struct htpasswd;
struct conf_auth_basic {
	char *realm;			/* as written; NULL: none asked */
	char *challenge;		/* WWW-Authenticate: Basic realm="...",
					 * charset="UTF-8" (realm escaped) */
	char *user_file;		/* absolute; NULL: none */
	struct htpasswd *users;		/* read from it by the master */
	unsigned cache_time;		/* ms a verified password is
					 * remembered; 0: never */
};

/* JWT bearer authentication of a site or a route (conf_jwt.c reads it,
 * worker/modules/auth_jwt.c does it). A route starts from its site's and
 * changes what it writes; the keys (common/jwt.h) are the master's,
 * read when the configuration loads. */
struct jwt_keys;
struct conf_jwt_claim_header {
	char *claim;			/* "sub" */
	char *header;			/* "X-User", as written */
	size_t header_len;
};
struct conf_jwt {
	char *realm;			/* NULL: no JWT asked */
	char *challenge;		/* Bearer realm="..." */
	char *challenge_error;		/* ... , error="invalid_token" */
	struct jwt_keys *public_keys;	/* auth_jwt_key_file; NULL: none */
	struct jwt_keys *secrets;	/* auth_jwt_secret_file; NULL: none */
	struct conf_expr token;		/* none: Authorization: Bearer */
	unsigned leeway;		/* ms, for exp and nbf */
	unsigned cache_time;		/* ms a verified token's signature is
					 * remembered; 0: not */
	struct conf_jwt_list *issuers;	/* NULL: any iss */
	struct conf_jwt_list *audiences;	/* NULL: any aud */
	struct conf_jwt_claims *claim_headers;	/* NULL: none */
};
struct conf_jwt_list {
	char **s;
	unsigned n;
};
struct conf_jwt_claims {
	struct conf_jwt_claim_header *h;
	unsigned n;
};

/* Forward authentication (auth_request = "UPSTREAM" on a site or a
 * route; conf_auth_request.c reads it, worker/modules/auth_request.c
 * asks the auth server). A route starts from its site's; the pointers
 * are the site's until the route writes its own. */
struct conf_auth_names {
	char **names;			/* field names, as written */
	unsigned n;
};
struct conf_auth_request {
	const struct conf_upstream *upstream;	/* the auth server; NULL: none */
	struct conf_expr *uri;		/* the subrequest's target */
	struct conf_auth_names *headers;	/* the client's fields sent to it */
	struct conf_auth_names *set;	/* fields copied from a 2xx answer
					 * into the request; NULL: none */
	unsigned cache_time;		/* ms a decision is kept; 0: not */
	struct conf_expr *cache_key;	/* NULL: the whole question asked */
	char *user;			/* the answer's field naming the user
					 * ($remote_user); NULL: none */
	uint8_t tag[32];		/* random, made when the upstream is
					 * named: a reload's decisions are its
					 * own in the auth cache */
};

struct conf_filter;
struct conf_filter_list;

/* How a route's pattern meets the path (nginx's location modifiers);
 * router.h says in which order they are tried. */
enum conf_route_kind {
	ROUTE_PREFIX = 0,		/* "/prefix" */
	ROUTE_PREFIX_NO_REGEX,		/* "^~ /prefix": when the longest, no
					 * regex is tried */
	ROUTE_EXACT,			/* "= /path" */
	ROUTE_REGEX,			/* "~ regex" */
	ROUTE_REGEX_CASELESS		/* "~* regex" */
};

struct route_cond;

/* conf_route.rewrite_query: nginx's ways with the client's query. */
enum conf_rewrite_query {
	REWRITE_QUERY_KEEP = 0,		/* no "?": "?" and the client's query */
	REWRITE_QUERY_APPEND,		/* a query of its own: "&" and the client's */
	REWRITE_QUERY_DROP		/* a final "?", or the query written with
					 * $args, $is_args or $request_uri: none */
};

/* Header edits of a site or a route (conf_rules.c): which list, of the
 * six a site or route may write. */
enum conf_header_edit_kind {
	CONF_SET_REQUEST = 0,		/* replace or add, on the way up */
	CONF_ADD_REQUEST,		/* append, on the way up */
	CONF_REMOVE_REQUEST,
	CONF_SET_RESPONSE,		/* the same three on the way back */
	CONF_ADD_RESPONSE,
	CONF_REMOVE_RESPONSE,
	CONF_HEADER_EDIT_KINDS
};

/* One field of such a list: "Name: value", the value a variable
 * expression; the remove lists have names only. */
struct conf_header_edit {
	char *name;			/* as written */
	size_t name_len;
	char *lower;			/* lower-cased, for matching */
	struct conf_expr value;		/* value.text: as written */
};

struct conf_header_edits {
	struct conf_header_edit *e;
	unsigned n;
};

struct conf_route {
	char *pattern;			/* as written: "/prefix", "= /path",
					 * "^~ /prefix", "~ regex", "~* regex" */
	enum conf_route_kind kind;
	const char *prefix;		/* path routes: points into pattern */
	size_t prefix_len;
	pcre2_code *regex;		/* regex routes, else NULL */
	pcre2_match_data *match;	/* for regex routes */
	struct route_cond *conds;	/* all must hold too (route_cond.h) */
	unsigned nconds;
	struct conf_upstream *upstream;	/* NULL for a status route */
	bool status;			/* answer with portico's status page */
	bool metrics;			/* answer with the Prometheus metrics */
	bool auth;			/* false: no authentication here, whatever
					 * the site asks (auth = off) */
	size_t client_max_body_size;	/* bytes of request body; 0: no limit
					 * (the site's unless the route says) */
	struct conf_gzip gzip;		/* the site's, with what the route writes */
	struct conf_auth_basic auth_basic;	/* the site's, with what the route
						 * writes; none where auth = off */
	struct conf_jwt jwt;		/* the site's, with what the route writes */
	struct conf_auth_request auth_request;	/* the site's, with what the
						 * route writes */
	struct conf_methods *methods;	/* the site's unless the route says;
					 * NULL: any method */
	struct conf_acl own_acl;	/* allow and deny written on the route */
	const struct conf_acl *acl;	/* in force: own_acl when it sets any,
					 * else the site's; NULL: none */
	struct conf_filter_list *filters;	/* the site's unless the route
						 * says; NULL: none */

	/* Caching through a zone (conf_cache.c); none when cache is NULL. */
	struct conf_cache *cache;
	struct conf_expr cache_key;	/* names the stored answer */
	unsigned cache_methods;		/* CONF_CACHE_* */
	uint64_t cache_statuses[8];	/* bit status - 100; all 0: any */
	unsigned cache_valid;		/* ms an answer without freshness of its
					 * own is fresh; 0: RFC 9111's heuristic */
	unsigned cache_ignore;		/* CONF_IGNORE_* */
	struct conf_expr *cache_bypass;	/* not empty and not "0": skip the cache */
	unsigned ncache_bypass;
	struct conf_expr *cache_no_store;	/* ... do not store the answer */
	unsigned ncache_no_store;
	unsigned cache_lock_timeout;	/* ms a miss waits for another's fill */
	unsigned cache_min_uses;	/* requests of a URL before it is stored */
	struct cidr *cache_purge;	/* who may PURGE */
	unsigned ncache_purge;

	/* Limits (conf_limits.c): the site's unless the route says. */
	const struct conf_limit *limit_req;
	const struct conf_limit *limit_conn;

	/* Actions (conf_rules.c). */
	unsigned return_status;		/* answer it with this; 0: none */
	struct conf_expr return_body;	/* ... and this body, or */
	char *return_file;		/* ... this file's, read by the master */
	char *return_file_body;
	size_t return_file_len;
	char *return_type;		/* Content-Type as written, or NULL */
	const char *return_content_type;	/* in force */
	struct conf_expr redirect;	/* Location of a redirect; none: no text */
	unsigned redirect_status;
	struct conf_expr rewrite;	/* target sent upstream; none: no text */
	uint8_t rewrite_query;		/* ... what of the client's query follows
					 * (enum conf_rewrite_query) */
	const struct conf_header_edits *header_edits[CONF_HEADER_EDIT_KINDS];
					/* each the site's unless the route
					 * says; NULL: none */
	/* The upstream's unless the route says. */
	unsigned connect_timeout;	/* ms */
	unsigned send_timeout;		/* ms */
	unsigned read_timeout;		/* ms */
	unsigned retries;
	unsigned retry_timeout;		/* ms; 0: no limit */
};

/* A host pattern (host_index.h). */
enum conf_host_kind {
	HOST_EXACT = 0,			/* "example.com" */
	HOST_LEADING,			/* "*.example.com" */
	HOST_TRAILING,			/* "www.example.*" */
	HOST_REGEX,			/* "~ ^api\d+\.example\.com$" */
	HOST_ANY			/* "*" */
};

struct conf_host {
	char *pattern;			/* as written */
	enum conf_host_kind kind;
	char *name;			/* lower-case, what the index keys on: the
					 * name, the suffix after '*' (".example.com"),
					 * the prefix before it ("www.example."); NULL
					 * for a regex and "*" */
	size_t len;			/* of name */
	pcre2_code *regex;		/* HOST_REGEX: caseless */
	pcre2_match_data *match;
};

/* conf_site.real_ip_header: the field a trusted peer names the client in. */
#define CONF_REAL_IP_XFF       0	/* X-Forwarded-For */
#define CONF_REAL_IP_X_REAL_IP 1	/* X-Real-IP */
#define CONF_REAL_IP_FORWARDED 2	/* Forwarded (RFC 7239), its for= */

/* conf_site.forwarded: which forwarding fields to set upstream. */
#define CONF_FWD_FOR       0x01		/* X-Forwarded-For */
#define CONF_FWD_REAL_IP   0x02		/* X-Real-IP */
#define CONF_FWD_PROTO     0x04		/* X-Forwarded-Proto */
#define CONF_FWD_FORWARDED 0x08		/* Forwarded (RFC 7239) */

/* A page answered instead of portico's own for some statuses, read by
 * the master; it must fit a worker's smallest buffer. */
#define CONF_ERROR_PAGE_MAX 16384
#define CONF_ERROR_PAGE_STATUSES 8
struct conf_error_page {
	int statuses[CONF_ERROR_PAGE_STATUSES];
	unsigned nstatuses;
	char *file;			/* absolute */
	char *body;
	size_t len;
	const char *type;		/* Content-Type, from the file's extension */
};

/* How a log format writes the values of its variables (conf_log.c). */
enum conf_log_escape {
	LOG_ESCAPE_DEFAULT = 0,		/* '"', '\\', control and non-ASCII bytes
					 * as \xHH; empty as "-" */
	LOG_ESCAPE_JSON,		/* for a JSON string; empty as nothing */
	LOG_ESCAPE_NONE			/* as they are; empty as "-" */
};

/* log_format "NAME" { } at the top level, or a built-in one. */
struct conf_log_format {
	char *name;
	struct conf_expr format;	/* compiled once, at load */
	enum conf_log_escape escape;
	bool builtin;			/* combined, portico: never written back */
};

/* One access log of a site: access_log (with access_log_format), or a
 * log "DESTINATION" { } section. */
struct conf_log {
	char *destination;		/* an absolute file path */
	const struct conf_log_format *format;
	bool only_errors;		/* status >= 400 or an abnormal end */
	unsigned sample;		/* 1 in this many requests, by id */
	struct conf_expr cond;		/* if: written when neither empty nor
					 * "0"; no text: always */
	bool section;			/* a log section (not access_log) */
};

struct conf_site {
	char *name;
	struct conf_listen **listens;
	unsigned nlistens;
	struct conf_host *hosts;
	unsigned nhosts;
	char *access_log;		/* NULL: no access log */
	struct conf_route *routes;	/* in file order */
	unsigned nroutes;
	struct route_trie *route_trie;	/* its path routes, by path (route_trie.h) */
	unsigned *regex_routes;		/* indexes of its regex routes, in order */
	unsigned nregex_routes;
	unsigned forwarded;		/* CONF_FWD_* */
	bool via;			/* add "Via: 1.1 portico" both ways */
	bool hide_server;		/* drop the backend's Server field */
	struct conf_site_tls *tls;	/* NULL: no TLS listener serves it */
	bool redirect_https;		/* plain HTTP gets 301 to https:// */
	unsigned https_port;		/* ... on this port (of its first TLS
					 * listener; 443 is left out of URLs) */
	char *hsts;			/* Strict-Transport-Security value, or NULL */
	size_t client_max_body_size;	/* its routes' default; 0: no limit */
	struct conf_error_page *error_pages;
	unsigned nerror_pages;
	struct conf_methods *methods;	/* its routes' default; NULL: any */
	struct conf_gzip gzip;		/* its routes' default */
	struct conf_auth_basic auth_basic;	/* its routes' default */
	struct conf_jwt jwt;		/* its routes' default */
	struct conf_auth_request auth_request;	/* its routes' default */
	size_t client_body_min_rate;	/* bytes/s a request body must average
					 * (from _after on); 0: any rate */
	unsigned client_body_min_rate_after;	/* ms */
	struct cidr *real_ip_from;	/* peers believed about the client */
	unsigned nreal_ip_from;
	unsigned real_ip_header;	/* CONF_REAL_IP_* */
	struct conf_acl acl;		/* its routes' unless they set their own */
	struct conf_filter_list *filters;	/* its routes' default; NULL: none */
	const struct conf_limit *limit_req;	/* its routes' default, or NULL */
	const struct conf_limit *limit_conn;
	struct conf_header_edits *header_edits[CONF_HEADER_EDIT_KINDS];
					/* its routes' default; NULL: none */
	const struct conf_geo *geo;	/* $geo_region's source; NULL: none */
	const struct conf_log_format *access_log_format;	/* access_log's */
	struct conf_log *logs;		/* access_log first, then log sections */
	unsigned nlogs;
	char *request_id_header;	/* carries $request_id upstream; NULL:
					 * none */
	struct cidr *request_id_trusted;	/* clients whose own id is kept */
	unsigned nrequest_id_trusted;
};

/* The site's page for status, or NULL. */
const struct conf_error_page *conf_site_error_page(const struct conf_site *site, int status);

struct conf {
	char *file;			/* the main file, as given */

	char *user;			/* workers run as this user */
	bool user_explicit;		/* "user" was written in the file */
	unsigned workers;		/* resolved: "auto" = online CPUs */
	bool cpu_affinity;		/* "auto": pin worker i to CPU i */
	bool daemon;
	char *pid_file;
	char *error_log;
	int log_level;			/* enum log_level */
	unsigned worker_connections;	/* per worker, clients + upstreams */
	unsigned worker_rlimit_nofile;	/* 0: keep the inherited limit */
	char *chroot;			/* the workers' root, or NULL */

	unsigned client_header_timeout;	/* ms */
	unsigned client_body_timeout;	/* ms */
	unsigned keepalive_timeout;	/* ms; 0 disables client keep-alive */
	unsigned send_timeout;		/* ms, writing to a client */
	unsigned shutdown_timeout;	/* ms, graceful stop of old workers */
	unsigned tunnel_timeout;	/* ms, idle upgraded connection */
	unsigned busy_poll;		/* us a worker polls before sleeping; 0: off */
	size_t header_buffer_size;	/* largest request head accepted */
	size_t max_request_line;
	size_t max_header_line;
	unsigned client_max_header_fields;	/* in a request head; more: 431 */
	size_t auth_cache_size;		/* bytes of the "auth" zone; 0: none */

	unsigned tls_handshake_timeout;	/* ms */
	size_t tls_session_cache;	/* bytes of the shared zone; 0: none */
	unsigned tls_session_timeout;	/* ms a session may be resumed */
	bool tls_session_tickets;
	unsigned tls_ticket_key_rotation;	/* ms between new ticket keys */
	char **tls_ticket_key_files;	/* the operator's keys, when set */
	unsigned ntls_ticket_key_files;
	struct tls_ticket_key *tls_ticket_keys;	/* ... read from them, [0] encrypts */
	unsigned ntls_ticket_keys;
	bool tls_used;			/* some listener or upstream has TLS */

	struct conf_listen *listens;
	unsigned nlistens;
	struct conf_upstream *upstreams;
	unsigned nupstreams;
	unsigned nservers;		/* over all upstreams (conf_server.id) */
	struct conf_site *sites;
	unsigned nsites;
	struct conf_cache *caches;
	unsigned ncaches;
	struct conf_filter *filters;	/* filter "NAME" { } (conf_filter.h) */
	unsigned nfilters;
	struct conf_limit *limits;	/* limit_req and limit_conn sections */
	unsigned nlimits;
	struct conf_geo *geos;		/* geo sections */
	unsigned ngeos;
	struct conf_region **regions;	/* by id; [0] is none, named "" */
	unsigned nregions;
	struct conf_log_format *log_formats;	/* the built-in ones first */
	unsigned nlog_formats;
};

/* The name of region id ("" for none). */
static inline const char *conf_region_name(const struct conf *c, unsigned id)
{
	return id < c->nregions ? c->regions[id]->name : "";
}

/* Whether a route lets requests in only by credentials: Basic, JWT or
 * forward authentication (each module asks for its own part of this). */
static inline bool conf_route_authenticates(const struct conf_route *r)
{
	return r->auth && (r->auth_basic.realm != NULL || r->jwt.realm != NULL ||
			   r->auth_request.upstream != NULL);
}

/* The region named name, NULL when the configuration never mentions it. */
const struct conf_region *conf_region_find(const struct conf *c, const char *name);

/* The regions of an upstream with regions in the order the clients of
 * region (not 0) try them, *n of them (conf_geo.c). */
const unsigned *conf_gslb_order(const struct conf_gslb *g, unsigned region, unsigned *n);

/* conf_load() flags: also check what starting would fail on (the
 * directories of the logs and the pid file). */
#define CONF_CHECK_FILES 0x01

/*
 * Read, check and resolve the configuration in path (includes followed).
 * On success returns the configuration. On failure returns NULL and sets
 * *errors to a malloc'd text with one "file:line: message" line per
 * problem found (all of them, not just the first); the caller frees it.
 */
struct conf *conf_load(const char *path, unsigned flags, char **errors);

void conf_free(struct conf *conf);

/* Print the effective configuration (for -T) in the file's own syntax. */
void conf_dump(const struct conf *conf, FILE *out);

/* "round_robin", "least_conn", ... as written in the file. */
const char *conf_balance_name(enum conf_balance b);

/* Parse a decimal number without a sign; -1 if invalid or too large. */
long conf_parse_number(const char *s);

/* Parse "15", "15s", "500ms", "2m", "1h" into ms; -1 if invalid. */
long conf_parse_duration(const char *s);

/* Parse "50us", "2ms" or "0" into microseconds; -1 if invalid. */
long conf_parse_usec(const char *s);

/* Parse "4096", "16k", "1m", "1g" into bytes; -1 if invalid. */
long long conf_parse_size(const char *s);

/* How a unix-domain socket address is written: "unix:/run/app.sock". */
#define CONF_UNIX_PREFIX "unix:"

/*
 * Parse "host:port", "[v6]:port" or "*:port" (and "port" alone meaning
 * all IPv4 addresses), or "unix:/absolute/path", into a socket address.
 * Host names are not resolved except "localhost". Returns 0, or -1 with
 * a reason in err[errlen].
 */
int conf_parse_address(const char *text, struct sockaddr_storage *ss,
		       socklen_t *len, char *err, size_t errlen);

/* Write an address as "1.2.3.4:80", "[::1]:80" or "unix:/run/app.sock";
 * CONF_ADDR_TEXT_MAX holds the longest (a unix path of 107 bytes). */
#define CONF_ADDR_TEXT_MAX 128
void conf_format_address(const struct sockaddr *sa, char *out, size_t outlen);

/* A regex as routes and health checks use it (JIT-compiled when the
 * machine allows); NULL with PCRE2's message and the offset in err. */
pcre2_code *conf_regex_compile(const char *re, char *err, size_t errlen);
/* ... with PCRE2 options (PCRE2_CASELESS). */
pcre2_code *conf_regex_compile_opts(const char *re, uint32_t opts, char *err, size_t errlen);

/* Whether a route's cache_statuses lists any status (conf_cache.c). */
bool conf_route_statuses_listed(const struct conf_route *r);

/* The same address and port; the any address ("*:80"). */
bool conf_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
bool conf_addr_is_any(const struct sockaddr_storage *ss);

/* The path of a unix-domain socket address; NULL for any other. */
const char *conf_unix_path(const struct sockaddr_storage *ss);

#endif
