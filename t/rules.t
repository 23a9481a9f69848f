#!/usr/bin/perl

# Route actions: a route answers by itself (return with a body made of
# variables, a file, or none; redirect to a URL made of variables and
# captures, with each status), rewrites the target it sends upstream
# (captures, the client's query kept or replaced; the access log keeps
# what the client sent), edits request fields (the backend sees them) and
# response fields (the client sees them), on the site and per route, and
# overrides its upstream's timeouts and retries. Mistakes are refused at
# their file:line, and -T writes it all back.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Test::Portico;
use Test::Portico::Client;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(files => { 'maint.html' => "<h1>down for maintenance</h1>\n" },
			   conf => <<'EOF')->start;
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {}  read_timeout = "60s" }
upstream pair {
	balance = "round_robin"
	max_fails = 0
	server "127.0.0.1:%%PORT:dead%%" {}
	server "%%BACKEND:live%%" {}
}
site s {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	set_request_headers = {"X-Env: prod", "X-Client: $remote_addr:$remote_port"}
	add_request_headers = {"X-Multi: site", "X-Token: $cookie_token"}
	remove_request_headers = {"X-Debug"}
	set_response_headers = {"X-Site: $host"}
	remove_response_headers = {"X-Backend"}
	route "/" { upstream = "app" }
	route "/ping" { return = 200  return_body = "pong $host $request_method $server_port$is_args$args\n" }
	route "/maint" { return = 503  return_file = "maint.html" }
	route "/json" { return = 200  return_body = "{\"uri\": \"$uri\"}"  return_type = "application/json" }
	route "/empty" { return = 204 }
	route "/teapot" { return = 418 }
	route "~ ^/go/(\\d+)/(\\w+)$" { redirect = "https://new.example.com/items/$2/$1$is_args$args" }
	route "/r301" { redirect = "http://$host:$server_port/moved$request_uri"  redirect_status = 301 }
	route "/r303" { redirect = "/other"  redirect_status = 303 }
	route "/r307" { redirect = "/other"  redirect_status = 307 }
	route "/r308" { redirect = "/other"  redirect_status = 308 }
	route "~ ^/u/(\\w+)$" { upstream = "app"  rewrite = "/users/$1?from=old" }
	route "~ (?s)^/v1/(.*)$" { upstream = "app"  rewrite = "/api/$1" }
	route "~ ^/w/(\\w+)$" { upstream = "app"  rewrite = "/who?name=$1?" }
	route "~ ^/arg/(\\w+)$" { upstream = "app"  rewrite = "/a/$1$is_args$args" }
	route "/guard/" { return = 403 }
	route "~ (?s)^/g2/(.*)$" { upstream = "app"  rewrite = "/v2/$1" }
	route "/raw/" { upstream = "app"  rewrite = "/v3$uri" }
	route "/own/" {
		upstream = "app"
		set_request_headers = {"Host: backend.internal", "X-Multi: route"}
		set_response_headers = {"X-Route: own", "Cache-Control: no-store"}
		add_response_headers = {"X-Added: 1", "X-Added: 2"}
		remove_response_headers = {"Content-Type"}
	}
	route "/bare/" { upstream = "app"  set_request_headers = {}  remove_response_headers = {} }
	route "/fwdhost/" { upstream = "app"  set_request_headers = {"Host: $http_x_fwd_host"} }
	route "~ (?s)^/inj/(.*)$" { return = 200  set_response_headers = {"X-Path: $1"}  return_body = "$1" }
	route "/slow/" { upstream = "app"  read_timeout = "1s" }
	route "/once/" { upstream = "pair"  retries = 0 }
	route "/twice/" { upstream = "pair" }
}
EOF
my $port = $p->port('http');
my $app = $p->backend('app');

sub get { http($port, target => $_[0], @_[1 .. $#_]) }

# What the backend saw of a request answered by /echo.
sub echoed {
	my ($r) = @_;
	return $r->{status} == 200 ? decode_json($r->{body}) : {};
}

sub field {
	my ($seen, $name) = @_;
	my @v = map { $_->[1] } grep { lc $_->[0] eq lc $name } @{ $seen->{headers} };
	return join ', ', @v;
}

# ---- return ----
my $r = get('/ping?a=1', host => 'Example.COM');
is($r->{status}, 200, 'return = 200 answers by itself');
is($r->{body}, "pong example.com GET $port?a=1\n",
   'return_body is made of variables: $host, $request_method, $server_port, $is_args, $args');
is($r->{header}{'content-type'}, 'text/plain', '... as text/plain by default');
is(get('/ping')->{body}, "pong localhost GET $port\n", '$is_args is empty without a query');
$r = get('/maint');
is($r->{status}, 503, 'return with return_file answers the status ...');
is($r->{body}, "<h1>down for maintenance</h1>\n", '... with the file read at load');
is($r->{header}{'content-type'}, 'text/html', '... typed by its extension');
$r = get('/json/x');
is($r->{header}{'content-type'}, 'application/json', 'return_type sets Content-Type');
is($r->{body}, '{"uri": "/json/x"}', '... of the body made from variables');
$r = get('/empty');
is($r->{status}, 204, 'return = 204 ...');
ok(!exists $r->{header}{'content-length'} && !exists $r->{header}{'content-type'},
   '... has neither Content-Length nor Content-Type');
is($r->{body}, '', '... nor a body');
$r = get('/teapot');
is($r->{status}, 418, 'any status 200..599 can be returned');
is(scalar(grep { $_->{target} =~ m{^/(ping|maint|json|empty|teapot)} } $app->requests), 0,
   'a route with return never reaches an upstream');

# ---- redirect ----
$r = get('/go/42/shoes?color=red');
is($r->{status}, 302, 'redirect answers 302 by default');
is($r->{header}{location}, 'https://new.example.com/items/shoes/42?color=red',
   '... to a URL made of the regex route\'s captures and variables');
$r = get('/r301/x?y=1', host => 'example.com');
is($r->{status}, 301, 'redirect_status = 301');
is($r->{header}{location}, "http://example.com:$port/moved/r301/x?y=1",
   '... with $host, $server_port and $request_uri');
for my $s (303, 307, 308) {
	$r = get("/r$s");
	is($r->{status}, $s, "redirect_status = $s");
	is($r->{header}{location}, '/other', "... Location of the $s");
}

# ---- rewrite ----
# Whether the backend saw a request for target.
sub reached {
	my ($target) = @_;
	return scalar grep { $_->{target} eq $target } $app->requests;
}

is(get('/u/alice?x=1')->{status}, 200, 'a rewritten request is answered by the upstream');
ok(reached('/users/alice?from=old&x=1'),
   'rewrite sends the path made of captures, its own query, then "&" and the client\'s');
get('/u/bob');
ok(reached('/users/bob?from=old'), '... its own query alone when the client sent none');
get('/w/carol?x=1');
ok(reached('/who?name=carol'), 'a rewrite ending in "?" drops the client\'s query, and the "?"');
get('/arg/dave?x=1');
ok(reached('/a/dave?x=1'), 'a rewrite that writes $is_args$args gets the client\'s query once');
get('/v1/items/7?sort=asc&page=2');
ok(reached('/api/items/7?sort=asc&page=2'), 'a rewrite without "?" keeps the client\'s query');
get('/v1/plain');
ok(reached('/api/plain'), '... and adds none when there is none');
get('/v1/a%20b');
ok(reached('/api/a%20b'), 'a decoded space in a capture goes upstream escaped');
get('/g2/%2561dmin/x');
ok(reached('/v2/%2561dmin/x'), 'a decoded "%" goes upstream encoded again: the server '
   . 'cannot decode it a second time into another path');
get('/g2/search%3Fdebug=1%23top');
ok(reached('/v2/search%3Fdebug=1%23top'), 'a decoded "?" or "#" goes upstream encoded: no '
   . 'query or fragment the client did not send');
get('/raw/caf%C3%A9');
ok(reached('/v3/raw/caf%C3%A9'), '$uri\'s bytes above 0x7e go upstream encoded');
ok(!reached('/u/alice?x=1'), 'the backend never sees the client\'s target');
ok(wait_for(sub { grep { m{"GET /u/alice\?x=1 HTTP/1\.1"} } $p->access_log }),
   'the access log keeps the target the client sent');

# ---- request fields ----
$r = get('/echo', headers => ['X-Env' => 'dev', 'X-Debug' => 'yes', 'X-Multi' => 'client']);
my $seen = echoed($r);
is(field($seen, 'X-Env'), 'prod', 'set_request_headers replaces the client\'s field');
like(field($seen, 'X-Client'), qr/^127\.0\.0\.1:\d+$/,
     '... or adds one, made of $remote_addr and $remote_port');
is(field($seen, 'X-Debug'), '', 'remove_request_headers: the backend does not see it');
is(field($seen, 'X-Multi'), 'client, site',
   'add_request_headers appends after the client\'s own');
ok(!grep({ lc $_->[0] eq 'x-token' } @{ $seen->{headers} }),
   'a field whose value comes out empty is left out');
is(field(echoed(get('/echo', headers => ['Cookie' => 'token=abc'])), 'X-Token'), 'abc',
   '... and sent when it has one');
$seen = echoed(get('/own/echo', headers => ['X-Debug' => 'yes', 'X-Multi' => 'client']));
is(field($seen, 'Host'), 'backend.internal', 'a route\'s set_request_headers may replace Host');
is(field(echoed(get('/fwdhost/echo', headers => ['X-Fwd-Host' => 'up.example'])), 'Host'),
   'up.example', 'a Host set from a variable');
is(field(echoed(get('/fwdhost/echo', host => 'client.example')), 'Host'), 'client.example',
   '... that comes out empty: the client\'s Host goes up, never none');
is(field($seen, 'X-Env'), '', '... its list replaces the site\'s list of that kind');
is(field($seen, 'X-Multi'), 'route, site',
   '... while the site\'s lists of other kinds still hold (add appends after the set)');
is(field($seen, 'X-Debug'), '', '... removals too');
$r = get('/bare/echo', headers => ['X-Env' => 'dev']);
is(field(echoed($r), 'X-Env'), 'dev', 'an empty list on a route takes none of the site\'s');
ok(exists $r->{header}{'x-backend'}, '... for responses too');

# ---- response fields ----
$r = get('/name', host => 'Example.com');
is($r->{header}{'x-site'}, 'example.com', 'set_response_headers adds a field made of variables');
ok(!exists $r->{header}{'x-backend'}, 'remove_response_headers drops the server\'s field');
$r = get('/own/name');
is($r->{header}{'x-route'}, 'own', 'a route\'s set_response_headers');
is($r->{header}{'cache-control'}, 'no-store', '... more than one');
is($r->{header}{'x-added'}, '1, 2', 'add_response_headers appends each');
ok(!exists $r->{header}{'content-type'}, 'a route\'s remove_response_headers');
ok(!exists $r->{header}{'x-site'}, '... its lists replace the site\'s of the same kind');
ok(exists $r->{header}{'x-backend'}, '... the removal list too');
is(get('/ping')->{header}{'x-site'}, 'localhost', 'response edits apply to portico\'s own answers');
$r = get('/inj/a%0d%0aSet-Cookie:%20evil=1');
is($r->{header}{'x-path'}, 'a%0D%0ASet-Cookie: evil=1',
   'a decoded CR LF in a capture is escaped in a field value ...');
ok(!exists $r->{header}{'set-cookie'}, '... so no field can be injected');
get('/v1/x%0d%0aX-Evil:%20y');
ok(reached('/api/x%0D%0AX-Evil:%20y'), '... nor a line into a rewritten request');
is(get('/go/1/a')->{header}{'x-site'}, 'localhost', '... redirects included');

# ---- timeouts and retries ----
$app->set_behavior(delay => 60000);
my $c = Test::Portico::Client->new($port);
$c->request(GET => '/slow/x');
$r = $c->response(timeout => 30);
is($r && $r->{status}, 504, 'a route\'s read_timeout answers 504 long before the upstream\'s');
$app->set_behavior();
$app->release;
like($p->error_log, qr/upstream \S+ timed out sending a response head/,
     '... logged as the server\'s timeout');

my (@once, @twice);
push @once, get("/once/name$_")->{status} for 1 .. 4;
push @twice, get("/twice/name$_")->{status} for 1 .. 4;
ok((grep { $_ == 502 } @once) > 0, 'retries = 0 on a route: a refused connection is not '
   . 'tried elsewhere (' . join(' ', @once) . ')');
is_deeply(\@twice, [200, 200, 200, 200],
	  '... while another route of the upstream tries the next server');

# ---- -T ----
my ($rc, $out, $err) = $p->run('-T');
is($rc, 0, '-T: accepted') or diag($err);
like($out, qr{^\t\treturn = 200\n\t\treturn_body = "pong \$host}m, '-T writes return');
like($out, qr{^\t\treturn_file = "\Q${\ $p->tmp}\E/maint\.html"$}m,
     '... return_file, made absolute');
like($out, qr{^\t\tredirect_status = 301$}m, '... redirect_status');
like($out, qr{^\t\tread_timeout = "1s"$}m, '... a route\'s own timeout');
unlike($out, qr{^\t\tread_timeout = "1m"$}m, '... and not the upstream\'s on every route');
like($out, qr{^\tset_request_headers = \{"X-Env: prod", "X-Client: \$remote_addr:\$remote_port"\}$}m,
     '... the site\'s field edits');
like($out, qr{^\t\tset_request_headers = \{\}$}m, '... a route\'s empty list');
dump_reads_back($out, 'maint.html' => "x\n");

# ---- mistakes ----
my $bad = Test::Portico->new(conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:none%%" {} }
site s {
	set_response_headers = {"Content-Length: 5"}
	add_request_headers = {"Host: x"}
	remove_request_headers = {"Transfer-Encoding"}
	set_request_headers = {"X-Forwarded-For: 1.2.3.4", "Bad Name: x", "X-No-Value"}
	route "/a" { return = 600 }
	route "/b" { return = 204  return_body = "x" }
	route "/c" { return = 200  return_file = "missing.html" }
	route "/d" { redirect = "/x"  redirect_status = 304 }
	route "/e" { upstream = "app"  return = 200 }
	route "/f" { rewrite = "/x"  return = 200 }
	route "/g" { upstream = "app"  rewrite = "x/$1" }
	route "/h" { return = 200  read_timeout = "1s" }
	route "/i" { upstream = "app"  set_response_headers = {"Connection: close"} }
	route "/j" { redirect = "/$nope" }
	route "/k" { return_body = "x" }
	route "/l" { upstream = "app"  redirect_status = 301 }
}
EOF
($rc, undef, $err) = $bad->run('-t');
ok($rc > 0, 'mistakes are refused');
like($err, qr{portico\.conf:4: .*Content-Length may not be edited: it frames the body},
     'a framing field in a response edit, with the reason, at its line');
like($err, qr{portico\.conf:5: .*Host may not be edited: a request has exactly one Host},
     'adding Host');
like($err, qr{portico\.conf:6: .*Transfer-Encoding may not be edited}, 'removing Transfer-Encoding');
like($err, qr{portico\.conf:7: .*X-Forwarded-For may not be edited: portico writes it},
     'a forwarding field');
like($err, qr{portico\.conf:7: .*"Bad Name" is not a field name}, 'a name that is no token');
like($err, qr{portico\.conf:7: .*"X-No-Value" is not "Name: value"}, 'no colon');
like($err, qr{portico\.conf:8: return: bad number "600" \(expected 200 to 599\)},
     'a status out of range');
like($err, qr{portico\.conf:9: route "/b": a 204 answer has no body}, 'a body on a 204');
like($err, qr{portico\.conf:10: return_file: \S+/missing\.html: No such file}, 'a missing file');
like($err, qr{portico\.conf:11: redirect_status: 304 is not a redirect}, 'a status no redirect has');
like($err, qr{portico\.conf:12: route "/e": return and upstream exclude each other},
     'return beside an upstream');
like($err, qr{portico\.conf:13: route "/f": rewrite needs an upstream}, 'rewrite without upstream');
like($err, qr{portico\.conf:14: route "/g": rewrite "x/\$1" must start with "/"},
     'a rewrite that is no path');
like($err, qr{portico\.conf:15: route "/h": read_timeout applies to an upstream},
     'a timeout on a route without upstream');
like($err, qr{portico\.conf:16: .*Connection may not be edited: it is hop-by-hop},
     'a hop-by-hop field');
like($err, qr{portico\.conf:17: redirect: unknown variable "\$nope"}, 'an unknown variable');
like($err, qr{portico\.conf:18: route "/k": return_body needs return = STATUS},
     'return_body without return');
like($err, qr{portico\.conf:19: route "/l": redirect_status needs redirect},
     'redirect_status without redirect');

done_testing;
