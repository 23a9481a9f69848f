/*
 * modules.c: the table of modules of the request path. Within a phase,
 * hooks run in this order: routing before everything that needs a
 * route, a trusted peer's request id right after it (before realip
 * names another client), the real client address right after it (before every rule that
 * looks at the client) and its region by that address, the route next
 * (its conditions may look at both), then the access checks: the address
 * lists first (a refused client learns nothing of its request's limits),
 * the request filters next (a refused request costs nothing more), the
 * methods, the rate and connection limits (only requests that may pass
 * use them up), and authentication last (a refused request costs no
 * password hash nor a question to an auth server): basic, JWT, then
 * forward authentication, the costliest;
 * the route's rules after the real client address (their
 * values may name it): its rewrite in the route phase, its own answers
 * (return, redirect) first among the content; portico's own content (the
 * status page, the metrics) and the cache before the upstream (the cache sends its
 * misses there itself); among the head filters, gunzip's and gzip's
 * first (gunzip's before gzip's: an answer it inflates is not encoded
 * any more), then the cache's (it stores what they made, one variant
 * per encoding under Vary, and a hit goes out as stored), the site's
 * next (which edit what the cache answers too), the operator's field
 * edits last of them (their word holds), the access log last among the
 * log hooks.
 */
#include "config.h"

#include "access_log.h"
#include "module.h"
#include "proxy.h"
#include "request_id.h"
#include "router.h"
#include "routes.h"
#include "modules/acl.h"
#include "modules/auth_basic.h"
#include "modules/auth_jwt.h"
#include "modules/auth_request.h"
#include "modules/body_size.h"
#include "modules/cache.h"
#include "modules/filter.h"
#include "modules/geo.h"
#include "modules/gunzip.h"
#include "modules/gzip.h"
#include "modules/header_rules.h"
#include "modules/headers.h"
#include "modules/methods.h"
#include "modules/metrics.h"
#include "modules/realip.h"
#include "modules/limits.h"
#include "modules/rules.h"
#include "modules/status.h"

const struct module *const modules[] = {
	&router_module,
	&request_id_module,
	&realip_module,
	&geo_module,
	&routes_module,
	&rules_module,
	&acl_module,
	&filter_module,
	&methods_module,
	&limits_module,
	&auth_basic_module,
	&auth_jwt_module,
	&auth_request_module,
	&body_size_module,
	&status_module,
	&metrics_module,
	&gunzip_module,
	&gzip_module,
	&cache_module,
	&proxy_module,
	&headers_module,
	&header_rules_module,
	&access_log_module,
	NULL
};
