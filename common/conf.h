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
#include <stdio.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core.h"

#define CONF_DEFAULT_FILE SYSCONFDIR "/portico/portico.conf"

struct conf_listen {
	char *name;
	char *address;			/* as written */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int backlog;
	int index;			/* position in conf->listens */
};

struct conf_server {
	char *address;			/* as written: "host:port" */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int weight;
};

struct conf_upstream {
	char *name;
	struct conf_server *servers;
	unsigned nservers;
	unsigned keepalive;		/* idle connections kept per worker */
	unsigned connect_timeout;	/* ms */
	unsigned send_timeout;		/* ms */
	unsigned read_timeout;		/* ms */
	int index;			/* position in conf->upstreams */
};

struct conf_route {
	char *pattern;			/* as written: "/prefix" or "~ regex" */
	const char *prefix;		/* prefix routes: points into pattern */
	size_t prefix_len;
	pcre2_code *regex;		/* regex routes ("~ " prefix), else NULL */
	pcre2_match_data *match;	/* for regex routes */
	struct conf_upstream *upstream;
};

/* A host pattern: "example.com", "*.example.com" or "*". */
struct conf_host {
	char *name;			/* lower-case; for wildcards, the suffix
					 * after '*' (".example.com"), or "" for "*" */
	bool wildcard;
};

/* conf_site.forwarded: which forwarding fields to set upstream. */
#define CONF_FWD_FOR       0x01		/* X-Forwarded-For */
#define CONF_FWD_REAL_IP   0x02		/* X-Real-IP */
#define CONF_FWD_PROTO     0x04		/* X-Forwarded-Proto */
#define CONF_FWD_FORWARDED 0x08		/* Forwarded (RFC 7239) */

struct conf_site {
	char *name;
	struct conf_listen **listens;
	unsigned nlistens;
	struct conf_host *hosts;
	unsigned nhosts;
	char *access_log;		/* NULL: no access log */
	struct conf_route *routes;	/* in file order */
	unsigned nroutes;
	unsigned forwarded;		/* CONF_FWD_* */
	bool via;			/* add "Via: 1.1 portico" both ways */
	bool hide_server;		/* drop the backend's Server field */
};

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

	unsigned client_header_timeout;	/* ms */
	unsigned client_body_timeout;	/* ms */
	unsigned keepalive_timeout;	/* ms; 0 disables client keep-alive */
	unsigned send_timeout;		/* ms, writing to a client */
	unsigned shutdown_timeout;	/* ms, graceful stop of old workers */
	unsigned tunnel_timeout;	/* ms, idle upgraded connection */
	size_t header_buffer_size;	/* largest request head accepted */
	size_t max_request_line;
	size_t max_header_line;

	struct conf_listen *listens;
	unsigned nlistens;
	struct conf_upstream *upstreams;
	unsigned nupstreams;
	struct conf_site *sites;
	unsigned nsites;
};

/*
 * Read, check and resolve the configuration in path (includes followed).
 * On success returns the configuration. On failure returns NULL and sets
 * *errors to a malloc'd text with one "file:line: message" line per
 * problem found (all of them, not just the first); the caller frees it.
 */
struct conf *conf_load(const char *path, char **errors);

void conf_free(struct conf *conf);

/* Print the effective configuration (for -T) in the file's own syntax. */
void conf_dump(const struct conf *conf, FILE *out);

/* Parse "15", "15s", "500ms", "2m", "1h" into ms; -1 if invalid. */
long conf_parse_duration(const char *s);

/* Parse "4096", "16k", "1m", "1g" into bytes; -1 if invalid. */
long long conf_parse_size(const char *s);

/*
 * Parse "host:port", "[v6]:port" or "*:port" (and "port" alone meaning
 * all IPv4 addresses) into a socket address. Host names are not resolved
 * except "localhost". Returns 0, or -1 with a reason in err[errlen].
 */
int conf_parse_address(const char *text, struct sockaddr_storage *ss,
		       socklen_t *len, char *err, size_t errlen);

/* Write an address as "1.2.3.4:80" or "[::1]:80". */
void conf_format_address(const struct sockaddr *sa, char *out, size_t outlen);

#endif
