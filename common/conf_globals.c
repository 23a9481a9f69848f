/*
 * conf_globals.c: the top level of the configuration (the processes,
 * the logs, the client-side limits) and the listen sections.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include "log.h"
#include "http_parse.h"
#include "conf_loader.h"
#include "conf_parts.h"
#include "conf_tls.h"
#include "host_index.h"

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

#define MAX_WORKERS 512
/* Spinning longer than this only burns the CPU: a worker that saw no
 * event for 10 ms is idle, not between two packets of a busy exchange. */
#define BUSY_POLL_MAX_US 10000

#define G(field) offsetof(struct conf, field)
#define L(field) offsetof(struct conf_listen, field)

/* ---- custom values ---- */

static void check_user(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj)
{
	struct conf *c = obj;

	c->user_explicit = true;
	if (c->user != NULL && getpwnam(c->user) == NULL)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "unknown user \"%s\"", c->user);
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

static void read_workers(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			 struct conf *c)
{
	const char *s = cfg_getstr(sec, o->name);
	long n;

	(void)obj;
	c->workers = online_cpus();
	if (s == NULL || strcmp(s, "auto") == 0)
		return;
	n = strspn(s, "0123456789") == strlen(s) && strlen(s) <= 3 ? atol(s) : 0;
	if (n >= 1 && n <= MAX_WORKERS)
		c->workers = (unsigned)n;
	else
		ld_error(ld, ld_opt_line(ld, sec, o->name), "workers: expected \"auto\" or a "
			 "number from 1 to %d, not \"%s\"", MAX_WORKERS, s);
}

static void dump_workers(FILE *out, const struct conf_option *o, const void *obj,
			 const char *indent)
{
	fprintf(out, "%s%s = %u\n", indent, o->name, ((const struct conf *)obj)->workers);
}

static const char *const affinity_names[] = { "off", "auto", NULL };

static void read_affinity(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			  void *obj, struct conf *c)
{
	const char *s = cfg_getstr(sec, o->name);

	(void)obj;
	c->cpu_affinity = s != NULL && strcmp(s, "auto") == 0;
	if (s != NULL && strcmp(s, "auto") != 0 && strcmp(s, "off") != 0)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "cpu_affinity: expected \"auto\" or "
			 "\"off\", not \"%s\"", s);
}

static void dump_affinity(FILE *out, const struct conf_option *o, const void *obj,
			  const char *indent)
{
	fprintf(out, "%s%s = \"%s\"\n", indent, o->name,
		affinity_names[((const struct conf *)obj)->cpu_affinity]);
}

static void read_log_level(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			   void *obj, struct conf *c)
{
	const char *s = cfg_getstr(sec, o->name);

	(void)obj;
	c->log_level = log_level_parse(o->def);
	if (s != NULL && (c->log_level = log_level_parse(s)) < 0) {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "log_level: unknown level \"%s\" "
			 "(use debug, info, notice, warn, error, crit, alert or emerg)", s);
		c->log_level = log_level_parse(o->def);
	}
}

static void dump_log_level(FILE *out, const struct conf_option *o, const void *obj,
			   const char *indent)
{
	fprintf(out, "%s%s = \"%s\"\n", indent, o->name,
		log_level_name(((const struct conf *)obj)->log_level));
}

/* The workers' root: absolute, since it is entered from "/", and an
 * existing directory, or every worker would fail at its start. */
static void check_chroot(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj)
{
	const char *dir = ((struct conf *)obj)->chroot;
	int line = ld_opt_line(ld, sec, o->name);
	struct stat st;

	if (dir == NULL)
		return;
	if (dir[0] != '/')
		ld_error(ld, line, "chroot: \"%s\" is not an absolute path", dir);
	else if (stat(dir, &st) < 0)
		ld_error(ld, line, "chroot: \"%s\": %s", dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		ld_error(ld, line, "chroot: \"%s\" is not a directory", dir);
}

static void read_busy_poll(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			   void *obj, struct conf *c)
{
	const char *s = cfg_getstr(sec, o->name);
	long us;

	(void)obj;
	c->busy_poll = 0;
	if (s == NULL)
		return;
	us = conf_parse_usec(s);
	if (us < 0 || us > BUSY_POLL_MAX_US) {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "busy_poll: bad value \"%s\" (use "
			 "\"0\" for off, or up to \"%dus\", e.g. \"50us\")", s, BUSY_POLL_MAX_US);
		return;
	}
	c->busy_poll = (unsigned)us;
}

static void dump_busy_poll(FILE *out, const struct conf_option *o, const void *obj,
			   const char *indent)
{
	unsigned us = ((const struct conf *)obj)->busy_poll;

	if (us == 0)
		fprintf(out, "%s%s = \"0\"\n", indent, o->name);
	else
		fprintf(out, "%s%s = \"%uus\"\n", indent, o->name, us);
}

const struct conf_option conf_global_options[] = {
	{ "user", CS_GLOBAL, CT_STRING, "nobody", 0, 0, G(user), NULL, check_user, NULL,
	  "the user (and its group) the workers run as", 0 },
	{ "workers", CS_GLOBAL, CT_CUSTOM, "auto", 1, MAX_WORKERS, 0, read_workers, NULL,
	  dump_workers, "worker processes: a number, or auto for one per online CPU", 0 },
	{ "cpu_affinity", CS_GLOBAL, CT_CUSTOM, "off", 0, 0, 0, read_affinity, NULL,
	  dump_affinity, "auto pins worker i to CPU i; off leaves it to the scheduler", 0 },
	{ "daemon", CS_GLOBAL, CT_BOOL, "true", 0, 0, G(daemon), NULL, NULL, NULL,
	  "detach from the terminal at start (-F stays in the foreground)", 0 },
	{ "pid_file", CS_GLOBAL, CT_PATH, RUNSTATEDIR "/portico.pid", 0, 0, G(pid_file), NULL,
	  NULL, NULL, "the file the master writes its pid to", 0 },
	{ "error_log", CS_GLOBAL, CT_PATH, LOCALSTATEDIR "/log/portico/error.log", 0, 0,
	  G(error_log), NULL, conf_check_log_dest, NULL,
	  "the file every process logs to, or a syslog destination (syslog:server=...)",
	  CF_LOG_DEST },
	{ "log_level", CS_GLOBAL, CT_CUSTOM, "info", 0, 0, 0, read_log_level, NULL,
	  dump_log_level, "the least severe level logged: debug, info, notice, warn, error, "
	  "crit, alert, emerg", 0 },
	{ "worker_connections", CS_GLOBAL, CT_NUMBER, "4096", 2, 1 << 20,
	  G(worker_connections), NULL, NULL, NULL,
	  "connections a worker keeps open at most, client and upstream together", 0 },
	{ "worker_rlimit_nofile", CS_GLOBAL, CT_NUMBER, "0", 0, 1 << 20,
	  G(worker_rlimit_nofile), NULL, NULL, NULL,
	  "the workers' open file limit (RLIMIT_NOFILE); 0 keeps the inherited one", 0 },
	{ "chroot", CS_GLOBAL, CT_STRING, NULL, 0, 0, G(chroot), NULL, check_chroot, NULL,
	  "a directory the workers are confined to, after reading what they need", 0 },
	{ "client_header_timeout", CS_GLOBAL, CT_DURATION, "15s", 1, CONF_MS_MAX,
	  G(client_header_timeout), NULL, NULL, NULL,
	  "how long a client may take to send a request head (408 after it)", 0 },
	{ "client_body_timeout", CS_GLOBAL, CT_DURATION, "60s", 1, CONF_MS_MAX,
	  G(client_body_timeout), NULL, NULL, NULL,
	  "how long a request body may stall between two reads (408 after it)", 0 },
	{ "keepalive_timeout", CS_GLOBAL, CT_DURATION, "75s", 0, CONF_MS_MAX,
	  G(keepalive_timeout), NULL, NULL, NULL,
	  "how long an idle client connection is kept; 0 turns client keep-alive off", 0 },
	{ "send_timeout", CS_GLOBAL, CT_DURATION, "60s", 1, CONF_MS_MAX, G(send_timeout),
	  NULL, NULL, NULL, "how long a client may take to accept more of a response", 0 },
	{ "shutdown_timeout", CS_GLOBAL, CT_DURATION, "30s", 1, CONF_MS_MAX,
	  G(shutdown_timeout), NULL, NULL, NULL,
	  "how long a stopping worker lets its exchanges finish", 0 },
	{ "tunnel_timeout", CS_GLOBAL, CT_DURATION, "1h", 1, CONF_MS_MAX, G(tunnel_timeout),
	  NULL, NULL, NULL, "how long a tunnel (after 101) may carry nothing either way", 0 },
	{ "busy_poll", CS_GLOBAL, CT_CUSTOM, "0", 0, BUSY_POLL_MAX_US, 0, read_busy_poll, NULL,
	  dump_busy_poll, "how long a worker polls for events before it sleeps (\"50us\"); "
	  "0 is off", 0 },
	{ "header_buffer_size", CS_GLOBAL, CT_SIZE, "32k", 1, CONF_SIZE_MAX,
	  G(header_buffer_size), NULL, NULL, NULL,
	  "the largest request or response head (431 or 502 beyond it)", 0 },
	{ "max_request_line", CS_GLOBAL, CT_SIZE, "8k", 1, CONF_SIZE_MAX, G(max_request_line),
	  NULL, NULL, NULL, "the longest request line (414 beyond it)", 0 },
	{ "max_header_line", CS_GLOBAL, CT_SIZE, "8k", 1, CONF_SIZE_MAX, G(max_header_line),
	  NULL, NULL, NULL, "the longest header field line (431 beyond it)", 0 },
	{ "client_max_header_fields", CS_GLOBAL, CT_NUMBER, "100", 1, HTTP_MAX_HEADERS,
	  G(client_max_header_fields), NULL, NULL, NULL,
	  "the most header fields a request head may have (431 beyond it)", 0 },
	{ "auth_cache_size", CS_GLOBAL, CT_SIZE, "1m", 0, CONF_SIZE_MAX, G(auth_cache_size),
	  NULL, NULL, NULL, "the shared zone where authentication keeps its decisions; 0: none",
	  0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* ---- listen ---- */

static void read_address(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			 struct conf *c)
{
	struct conf_listen *l = obj;
	const char *addr = cfg_getstr(sec, o->name);
	char err[128];

	(void)c;
	if (addr == NULL) {
		ld_error(ld, ld_sec_line(ld, sec), "listen \"%s\" has no address",
			 l->name ? l->name : "");
		return;
	}
	l->address = ld_strdup(ld, addr);
	if (conf_parse_address(addr, &l->addr, &l->addrlen, err, sizeof(err)) == -1) {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "bad address \"%s\": %s", addr, err);
		l->addrlen = 0;
	}
}

static void dump_address(FILE *out, const struct conf_option *o, const void *obj,
			 const char *indent)
{
	conf_dump_line(out, indent, o->name, ((const struct conf_listen *)obj)->address);
}

static bool is_unix_listen(const struct conf_listen *l)
{
	return l->addrlen != 0 && l->addr.ss_family == AF_UNIX;
}

/* The socket file's options mean nothing on a TCP listener. Read after
 * the address. */
static bool unix_only(struct loader *ld, cfg_t *sec, const struct conf_option *o,
		      const struct conf_listen *l)
{
	if (is_unix_listen(l) || l->addrlen == 0)
		return true;
	ld_error(ld, ld_opt_line(ld, sec, o->name), "listen \"%s\": %s is for a unix socket "
		 "(address = \"unix:/path\"), not for %s", l->name ? l->name : "", o->name,
		 l->address);
	return false;
}

/* Who may connect is who may write the file: by default anyone, as
 * anyone may connect to a TCP port. */
#define DEFAULT_SOCKET_MODE 0666

static void read_mode(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		      struct conf *c)
{
	struct conf_listen *l = obj;
	const char *s = cfg_getstr(sec, o->name);
	size_t n;
	long m;

	(void)c;
	l->mode = DEFAULT_SOCKET_MODE;
	if (s == NULL || !unix_only(ld, sec, o, l))
		return;
	n = strlen(s);
	m = n >= 1 && n <= 4 && strspn(s, "01234567") == n ? strtol(s, NULL, 8) : -1;
	if (m < 0 || m > 0777)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "listen \"%s\": mode: expected octal "
			 "permissions up to \"0777\", as in \"0660\", not \"%s\"",
			 l->name ? l->name : "", s);
	else
		l->mode = (unsigned)m;
}

static void dump_mode(FILE *out, const struct conf_option *o, const void *obj,
		      const char *indent)
{
	const struct conf_listen *l = obj;

	if (is_unix_listen(l))
		fprintf(out, "%s%s = \"%04o\"\n", indent, o->name, l->mode);
}

static void check_owner(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj)
{
	struct conf_listen *l = obj;
	struct passwd *pw;

	if (!unix_only(ld, sec, o, l))
		return;
	if ((pw = getpwnam(l->owner)) == NULL)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "unknown user \"%s\"", l->owner);
	else
		l->uid = pw->pw_uid;
}

static void check_group(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj)
{
	struct conf_listen *l = obj;
	struct group *gr;

	if (!unix_only(ld, sec, o, l))
		return;
	if ((gr = getgrnam(l->group)) == NULL)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "unknown group \"%s\"", l->group);
	else
		l->gid = gr->gr_gid;
}

const struct conf_option conf_listen_options[] = {
	{ "address", CS_LISTEN, CT_CUSTOM, NULL, 0, 0, 0, read_address, NULL, dump_address,
	  "where to listen: \"host:port\", \"[v6]:port\", \"*:port\", a port, or "
	  "\"unix:/path\"", 0 },
	{ "mode", CS_LISTEN, CT_CUSTOM, NULL, 0, 0, 0, read_mode, NULL, dump_mode,
	  "unix: the socket file's permissions, octal (default \"0666\")", 0 },
	{ "owner", CS_LISTEN, CT_STRING, NULL, 0, 0, L(owner), NULL, check_owner, NULL,
	  "unix: the user the socket file belongs to (default: the master's)", 0 },
	{ "group", CS_LISTEN, CT_STRING, NULL, 0, 0, L(group), NULL, check_group, NULL,
	  "unix: the group the socket file belongs to (default: the master's)", 0 },
	{ "backlog", CS_LISTEN, CT_NUMBER, "511", 1, 65535, L(backlog), NULL, NULL, NULL,
	  "the kernel's queue of connections not yet accepted", 0 },
	{ "tls", CS_LISTEN, CT_BOOL, "false", 0, 0, L(tls), NULL, NULL, NULL,
	  "connections begin with a TLS handshake (the sites' tls sections)", 0 },
	{ "proxy_protocol", CS_LISTEN, CT_BOOL, "false", 0, 0, L(proxy_protocol), NULL, NULL,
	  NULL, "connections begin with a PROXY protocol header (v1 or v2), before TLS", 0 },
	{ "proxy_protocol_from", CS_LISTEN, CT_CUSTOM, NULL, 0, 0, 0,
	  conf_read_proxy_protocol_from, NULL, conf_dump_proxy_protocol_from,
	  "the peers (CIDR) allowed to send it; required with proxy_protocol", CF_LIST },
	{ "default_site", CS_LISTEN, CT_STRING, NULL, 0, 0, L(default_site_name), NULL, NULL,
	  NULL, "the site for hosts no site names (default: its first site in the file)", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* Two listeners on one address: the second bind() would fail. */
static void check_listen_addresses(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	char where[PATH_MAX + 16], text[CONF_ADDR_TEXT_MAX];
	unsigned i, j;

	for (i = 0; i < c->nlistens; i++) {
		struct conf_listen *l = &c->listens[i];

		for (j = 0; j < i && l->addrlen; j++) {
			if (c->listens[j].addrlen == 0 ||
			    !conf_addr_equal(&l->addr, &c->listens[j].addr))
				continue;
			conf_format_address((struct sockaddr *)&l->addr, text, sizeof(text));
			ld_error(ld, ld_opt_line(ld, cfg_getnsec(cfg, "listen", i), "address"),
				 "listen \"%s\": address %s is already used by listen \"%s\" at %s",
				 l->name, text, c->listens[j].name,
				 ld_where(ld, ld_opt_line(ld, cfg_getnsec(cfg, "listen", j), "address"),
					  where, sizeof(where)));
			break;
		}
	}
}

static void resolve_listens(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned i, n = cfg_size(cfg, "listen");

	c->listens = ld_realloc(ld, NULL, n, sizeof(*c->listens));
	if (c->listens == NULL)
		return;
	memset(c->listens, 0, n * sizeof(*c->listens));
	c->nlistens = n;
	for (i = 0; i < n; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "listen", i);

		c->listens[i].index = (int)i;
		c->listens[i].name = ld_strdup(ld, ld_title_of(ld, sec));
		conf_read(ld, sec, conf_listen_options, &c->listens[i], c);
	}
	check_listen_addresses(ld, cfg, c);
	if (n == 0)
		ld_error_global(ld, "no listen defined: portico needs at least one, as in: "
				"listen http { address = \"80\" }");
}

void conf_globals_resolve(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	conf_read(ld, cfg, conf_global_options, c, c);
	conf_read(ld, cfg, conf_tls_global_options, c, c);
	resolve_listens(ld, cfg, c);
}

void conf_globals_dump(const struct conf *c, FILE *out)
{
	unsigned i;

	conf_write(out, conf_global_options, c, "");
	conf_write(out, conf_tls_global_options, c, "");
	for (i = 0; i < c->nlistens; i++) {
		fputs("\nlisten ", out);
		conf_dump_str(out, c->listens[i].name);
		fputs(" {\n", out);
		conf_write(out, conf_listen_options, &c->listens[i], "\t");
		fputs("}\n", out);
	}
}

void conf_globals_free(struct conf *c)
{
	unsigned i;

	for (i = 0; i < c->nlistens; i++) {
		free(c->listens[i].name);
		free(c->listens[i].address);
		free(c->listens[i].proxy_protocol_from);
		host_index_free(c->listens[i].hosts);
		conf_release(conf_listen_options, &c->listens[i]);
	}
	free(c->listens);
	conf_release(conf_global_options, c);
	conf_tls_free_globals(c);
}

void conf_auth_cache_check(struct loader *ld, cfg_t *sec, const struct conf *c,
			   const char *option, unsigned cache_time)
{
	if (cache_time > 0 && c->auth_cache_size == 0 && ld_opt_written(ld, sec, option))
		ld_error(ld, ld_opt_line(ld, sec, option), "%s: decisions are kept in the auth "
			 "zone, and auth_cache_size is 0", option);
}
