/*
 * exchange.c: what every part of the request path does to an exchange:
 * move it to a phase, give its verdict and end it, log about it, and
 * edit its response on the way out. The dispatcher that acts on the
 * phases is dispatch.c; answers of portico's own are answer.c.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "cidr.h"
#include "exchange.h"
#include "log.h"

void exchange_log(const struct exchange *x, int level, int err, const char *fmt, ...)
{
	char msg[1024], cause[128] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err)
		snprintf(cause, sizeof(cause), " (%d: %s)", err, strerror(err));
	if (x->request_line[0])
		log_msg(level, "%s%s, client: %s, request: \"%s\", request_id=%s", msg, cause,
			x->client.addr, x->request_line, x->request_id);
	else
		log_msg(level, "%s%s, client: %s, request_id=%s", msg, cause, x->client.addr,
			x->request_id);
}

struct var_source exchange_vars(const struct exchange *x)
{
	const struct conf_listen *l = x->client.listen;
	struct var_source src = {
		.req = &x->req, .client_addr = x->client.addr, .tls = x->client.tls,
		.captures = &x->captures, .remote_port = x->client.port,
		.remote_user = x->auth_user, .request_id = x->request_id,
		.site = x->site, .route = x->route,
		.ssl = x->client.tls && x->client.conn ? x->client.conn->ssl : NULL,
		.server_port = l ? (uint16_t)cidr_port_of((const struct sockaddr *)&l->addr) : 0,
	};

	/* The geo module looked the region up in the route phase. */
	if (x->geo_of != NULL)
		src.geo_region = conf_region_name(x->ctx->conf, x->geo_region);
	return src;
}

/* ---- the dispatcher ---- */

void exchange_goto(struct exchange *x, enum phase phase)
{
	x->phase = (uint8_t)phase;
	if (!x->running)
		ev_post(&x->task);
}

static char phase_letter(enum phase phase)
{
	switch (phase) {
	case PH_CONNECT:
		return 'C';
	case PH_UPSTREAM:
		return 'H';
	case PH_RESPONSE_HEAD:
	case PH_RESPONSE_BODY:
		return 'D';
	case PH_TUNNEL:
		return 'T';
	default:
		return 'R';
	}
}

void exchange_new_wait(struct exchange *x)
{
	x->timer_phase = PH_NONE;
}

void exchange_verdict(struct exchange *x, enum term_cause cause)
{
	if (x->term_cause != 0)
		return;
	x->term_cause = (uint8_t)cause;
	x->term_phase = (uint8_t)phase_letter(x->phase);
}

void exchange_end(struct exchange *x, enum term_cause cause)
{
	if (x->phase == PH_LOG)
		return;
	/* Cut short, the response leaves the connection in no state to
	 * carry another. */
	if (cause != TERM_NORMAL)
		x->keep_alive = false;
	exchange_verdict(x, cause);
	exchange_goto(x, PH_LOG);
}

void exchange_term_code(const struct exchange *x, char code[3])
{
	code[0] = (char)x->term_cause;
	code[1] = x->term_cause == TERM_NORMAL ? '-' : (char)x->term_phase;
	code[2] = '\0';
}

/* ---- the response ---- */

int exchange_add_field(struct exchange *x, struct slice name, struct slice value)
{
	if (x->nadded >= EXCHANGE_MAX_ADDED)
		return -1;
	x->added[x->nadded++] = (struct http_header){ .name = name, .value = value };
	return 0;
}

void exchange_drop_field(struct exchange *x, const char *lower_name)
{
	size_t len = strlen(lower_name);
	unsigned i, kept;

	for (i = 0; i < x->resp.nheaders; i++) {
		struct http_header *h = &x->resp.headers[i];

		if (h->name.len == len && slice_ieq(h->name, lower_name))
			h->flags |= HTTP_HDR_DROP;
	}
	/* A field an earlier head filter added goes as well, so that the
	 * last filter's word holds. */
	for (i = 0, kept = 0; i < x->nadded; i++)
		if (!(x->added[i].name.len == len && slice_ieq(x->added[i].name, lower_name)))
			x->added[kept++] = x->added[i];
	x->nadded = kept;
}

void exchange_drop_known_field(struct exchange *x, int id)
{
	unsigned i;

	for (i = 0; i < x->resp.nheaders; i++)
		if (x->resp.headers[i].id == id)
			x->resp.headers[i].flags |= HTTP_HDR_DROP;
}

void exchange_set_content(struct exchange *x, const struct content *c)
{
	if (x->content != NULL && x->content != c && x->content->finish != NULL)
		x->content->finish(x);
	x->content = c;
}

int exchange_add_body_filter(struct exchange *x, struct body_filter f)
{
	if (x->nfilters >= EXCHANGE_MAX_BODY_FILTERS)
		return -1;
	x->filters[x->nfilters++] = f;
	return 0;
}

int exchange_send_body(struct exchange *x)
{
	return pump_run(&x->resp_pump);
}

