#!/usr/bin/perl

# Forward authentication (auth_request): every request of a protected
# route is first put to an auth server (a backend answering by the
# Authorization or session cookie it gets, and recording what it got):
# 2xx lets it through with the answer's chosen fields (a client's own of
# those names never passes), 401, 403 and 3xx go back to the client with
# the auth server's fields and body, anything else (another status, a
# server down or too slow) is 500 and logged. The subrequest carries the
# method, target, host, scheme, client address and chosen fields, and no
# body; the request's own body reaches the upstream after it, and
# keep-alive connections carry request after request. Behind it, the HTTP
# cache shares only answers marked shareable. auth = off opens a route;
# an unknown upstream is a file:line error; -T writes it all back.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Backend qw(content_md5);
use JSON::PP;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $conf = <<'EOF';
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
upstream auth { server "%%BACKEND:auth%%" {} }
upstream slowauth {
	server "%%BACKEND:auth%%" {}
	read_timeout = "300ms"
	max_fails = 0
}
upstream deadauth { server "127.0.0.1:%%PORT:dead%%" {} }
cache main { size = "4m" }
upstream pairauth {
	server "127.0.0.1:%%PORT:dead%%" { weight = 10 }
	server "%%BACKEND:auth%%" {}
}
site main {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	auth_request = "auth"
	auth_request_uri = "/check$uri/auth"
	auth_request_set = {"X-User", "X-Email"}
	auth_request_user = "X-User"
	route "/" { upstream = "app" }
	route "/public/" { upstream = "app"  auth = off }
	route "= /status" { status = true  auth = off }
	route "/keys/" {
		upstream = "app"
		auth_request_headers = {"Authorization", "X-Api-Key"}
	}
	route "/slow/" { upstream = "app"  auth_request = "slowauth" }
	route "/down/" { upstream = "app"  auth_request = "deadauth" }
	route "/plain/" { upstream = "app"  auth_request = "off" }
	route "/stored/" { upstream = "app"  cache = "main" }
	route "/peruser/" {
		upstream = "app"
		cache = "main"
		cache_key = "$scheme$host$request_uri $remote_user"
	}
	route "/pair/" { upstream = "app"  auth_request = "pairauth" }
	route "/cached/" {
		upstream = "app"
		auth_request_uri = "/cached/auth"
		auth_request_cache_time = "1m"
	}
	route "/bykey/" {
		upstream = "app"
		auth_request_uri = "/bykey/auth"
		auth_request_cache_time = "1m"
		auth_request_cache_key = "$http_authorization"
	}
}
EOF
my $p = Test::Portico->new(conf => $conf)->start;
my $port = $p->port('http');
my $app = $p->backend('app');
my $auth = $p->backend('auth');

sub bearer { (headers => ['Authorization' => "Bearer $_[0]", @{ $_[1] // [] }]) }
sub echo { decode_json($_[0]{body}) }
sub asked { [grep { $_->{target} =~ m{/auth$} } $auth->requests] }
sub reached { scalar grep { $_->{target} =~ m{^\Q$_[0]\E} } $app->requests }

# ---- 2xx: through, with the chosen fields ----
my $r = http_get($port, '/echo', bearer('ok-alice',
    ['X-User' => 'mallory', 'X-Email' => 'forged@example.com', 'X-Other' => 'client']));
is($r->{status}, 200, 'a 2xx from the auth server lets the request through');
my $e = echo($r);
is($e->{header}{'x-user'}, 'alice', 'the upstream sees X-User from the auth answer');
is($e->{header}{'x-email'}, 'alice@example.com', '... and X-Email');
is(scalar(grep { lc $_->[0] eq 'x-user' } @{ $e->{headers} }), 1,
    '... once: the client\'s forged X-User was dropped');
is($e->{header}{'x-other'}, 'client', 'a field auth_request_set does not name is the client\'s');
ok(wait_for(sub { grep { /"GET \/echo / && / alice / } $p->access_log }),
    'the access log names the user auth_request_user gives');

# ---- what the subrequest carries ----
my $q = asked()->[-1];
is($q->{method}, 'GET', 'the subrequest is a GET');
is($q->{target}, '/check/echo/auth', '... to auth_request_uri, variables expanded');
is($q->{header}{'x-forwarded-method'}, 'GET', '... with X-Forwarded-Method');
is($q->{header}{'x-forwarded-uri'}, '/echo', '... X-Forwarded-Uri');
is($q->{header}{'x-forwarded-host'}, 'localhost', '... X-Forwarded-Host');
is($q->{header}{'x-forwarded-proto'}, 'http', '... X-Forwarded-Proto');
is($q->{header}{'x-forwarded-for'}, '127.0.0.1', '... X-Forwarded-For');
is($q->{header}{'x-real-ip'}, '127.0.0.1', '... X-Real-IP');
like($q->{header}{'x-request-id'}, qr/\A[0-9a-f]{32}\z/, '... X-Request-ID')
    and is($q->{header}{'x-request-id'}, $e->{header}{'x-request-id'},
    '... the id the request itself goes upstream with');
is($q->{header}{authorization}, 'Bearer ok-alice', '... the client\'s Authorization');
ok(!exists $q->{header}{'x-other'}, '... and not the fields it was not told to pass');
is($q->{body_length} // 0, 0, '... and no body');

# A client's value in auth_request_uri is one component: it adds no
# parameter of its own.
$r = http_get($port, '/x%26group=admins%3Fa/echo', bearer('ok-alice'));
is(asked()->[-1]{target}, '/check/x%26group%3Dadmins%3Fa/echo/auth',
   'auth_request_uri: a variable\'s "&", "=" and "?" are encoded');

$r = http_get($port, '/echo', headers => ['Authorization' => 'Bearer ok-alice',
					  'Authorization' => 'Bearer ok-admin']);
is($r->{status}, 400, 'two Authorization fields: 400, neither asked about');

$r = http_get($port, '/keys/echo', headers => ['X-Api-Key' => 'k1', 'Cookie' => 'session=ok-bob']);
$q = asked()->[-1];
is($q->{header}{'x-api-key'}, 'k1', 'a route\'s auth_request_headers pass its fields');
ok(!exists $q->{header}{cookie}, '... and only those');
is($r->{status}, 401, '... so a cookie the route does not pass does not count');

$r = http_get($port, '/echo', headers => ['Cookie' => 'a=1; session=ok-carol']);
is($r->{status}, 200, 'a session cookie passes by default');
is(echo($r)->{header}{'x-user'}, 'carol', '... and names its user');

$r = http_get($port, '/echo', bearer('chunked-dave'));
is($r->{status}, 200, 'a chunked 2xx answer lets the request through');
is(echo($r)->{header}{'x-user'}, 'dave', '... with its fields');

# ---- refusals come back as the auth server gave them ----
my $before = reached('/secret');
$r = http_get($port, '/secret');
is($r->{status}, 401, 'no credentials: the auth server\'s 401');
is($r->{header}{'www-authenticate'}, 'Bearer realm="portico-test"',
    '... with its WWW-Authenticate');
is($r->{body}, "who are you?\n", '... and its body');
is($r->{header}{'content-type'}, 'text/plain', '... and its Content-Type');
ok(!exists $r->{header}{'x-other'}, '... and none of its other fields');

$r = http_get($port, '/secret', bearer('forbidden'));
is($r->{status}, 403, 'the auth server\'s 403');
is($r->{body}, "forbidden by auth\n", '... with its body');

$r = http_get($port, '/secret?x=1', bearer('login'));
is($r->{status}, 302, 'a login redirect passes as the auth server gave it');
is($r->{header}{location}, 'http://login.example/?rd=/secret?x=1', '... with its Location');
is($r->{header}{'set-cookie'}, 'rd=1; Path=/', '... and its Set-Cookie');
is(reached('/secret'), $before, 'no refused request reached the upstream');

$r = http_get($port, '/secret', bearer('big'));
is($r->{status}, 401, 'a refusal with a body too long to pass: its status');
is($r->{header}{'www-authenticate'}, 'Basic realm="big"', '... and its fields');
like($r->{body}, qr{<h1>401 Unauthorized</h1>}, '... with portico\'s own page');

# ---- anything else: 500, logged ----
$r = http_get($port, '/secret', bearer('broken'));
is($r->{status}, 500, 'a 500 from the auth server: 500');
ok(wait_for(sub { $p->error_log =~ /auth_request: upstream "auth" server \S+ answered 500/ }),
    '... logged with the upstream');
$r = http_get($port, '/secret', bearer('teapot'));
is($r->{status}, 500, 'an odd status (418): 500');
ok(wait_for(sub { $p->error_log =~ /upstream "auth" server \S+ answered 418/ }), '... logged');

$r = http_get($port, '/down/x', bearer('ok-alice'));
is($r->{status}, 500, 'the auth server down: 500');
ok(wait_for(sub {
	$p->error_log =~ /auth_request: connect\(\) to upstream "deadauth" server \S+ failed/ }),
    '... logged, naming the auth upstream and the cause');

$r = http_get($port, '/pair/echo', bearer('ok-alice'));
is($r->{status}, 200, 'an auth server that cannot be reached: the next of its upstream answers');
is(echo($r)->{header}{'x-user'}, 'alice', '... and decides');
ok(wait_for(sub { $p->error_log =~ /auth_request: trying upstream "pairauth" server \S+ next/ }),
    '... as the error log says');

$r = http_get($port, '/slow/x', bearer('slow'));
is($r->{status}, 500, 'the auth server too slow (read_timeout): 500');
ok(wait_for(sub { $p->error_log =~ /upstream "slowauth" server \S+ timed out before answering/ }),
    '... logged as a timeout');
$auth->release;

sub slow_asked { scalar grep { ($_->{header}{authorization} // '') eq 'Bearer slow' } @{ asked() } }
my $slow_before = slow_asked();
my $gone = Test::Portico::Client->new($port);
$gone->request(GET => '/gone', bearer('slow'));
ok(wait_for(sub { slow_asked() > $slow_before }), 'a request waits for a slow auth server');
$gone->close;
ok(wait_for(sub {
	$p->error_log =~ /client closed the connection while its request waited for the auth/ }),
    '... and ends when its client hangs up meanwhile');
$auth->release;

# ---- the request's body, and keep-alive ----
$r = http($port, method => 'POST', target => '/upload', body_size => 300000, bearer('ok-alice'));
is($r->{status}, 200, 'a POST passes after the auth check');
is(echo($r)->{md5}, content_md5(300000), '... and its body reaches the upstream untouched');
$r = http($port, method => 'POST', target => '/upload', body_size => 70000, chunked => 1,
    bearer('ok-alice'));
is(echo($r)->{md5}, content_md5(70000), '... chunked too');
$r = http($port, method => 'POST', target => '/upload', body => 'x' x 1000, bearer('forbidden'));
is($r->{status}, 403, 'a refused POST gets the refusal');

my $c = Test::Portico::Client->new($port);
my @got;
for my $i (1 .. 4) {
	my $who = $i == 3 ? 'forbidden' : "ok-u$i";
	my $g = $c->do($i % 2 ? 'GET' : 'POST', "/k$i/echo", bearer($who),
	    $i % 2 ? () : (body => "body $i"));
	push @got, $g ? $g->{status} : 'none';
}
is("@got", '200 200 403 200', 'several requests on one connection, each decided on its own');
$c->close;

$c = Test::Portico::Client->new($port);
$c->request(GET => "/p$_/echo", bearer("ok-p$_")) for 1 .. 3;
@got = map { my $g = $c->response; $g ? echo($g)->{header}{'x-user'} : 'none' } 1 .. 3;
is("@got", 'p1 p2 p3', 'pipelined requests: each goes on with its own user');
$c->close;

# ---- decisions kept in the auth cache ----
sub asked_for { scalar grep { $_->{target} eq $_[0] } $auth->requests }

my @users;
for my $i (1 .. 6) {
	$c = Test::Portico::Client->new($port);	# a new connection: either worker
	my $g = $c->get("/cached/same/echo", bearer('ok-kim'));
	push @users, $g && $g->{status} == 200 ? echo($g)->{header}{'x-user'} : 'none';
	$c->close;
}
is("@users", 'kim kim kim kim kim kim', 'with a cache time, every request gets the decision');
is(asked_for('/cached/auth'), 1, '... which the auth server made once for them all');
$r = http_get($port, '/cached/same/echo', bearer('ok-lee'));
is(echo($r)->{header}{'x-user'}, 'lee', 'other credentials: a decision of their own');
is(asked_for('/cached/auth'), 2, '... asked of the auth server');
$r = http_get($port, '/cached/same/echo', bearer('ok-kim', ['X-User' => 'forged']));
is(echo($r)->{header}{'x-user'}, 'kim', 'a kept decision drops a forged X-User too');
is(asked_for('/cached/auth'), 2, '... and was not asked again');
$r = http_get($port, '/cached/other/echo', bearer('ok-kim'));
is(asked_for('/cached/auth'), 3,
   'the same credentials for another target: another question, asked (the server decides by '
   . 'what was asked, not by who asks alone)');
is(($auth->requests)[-1]{header}{'x-forwarded-uri'}, '/cached/other/echo', '... of that target');
@got = map { http_get($port, "/cached/f", bearer('forbidden')) } 1 .. 3;
is(join(' ', map { "$_->{status}:$_->{body}" } @got),
    join(' ', ("403:forbidden by auth\n") x 3), 'a refusal is kept, with its body');
is(asked_for('/cached/auth'), 4, '... asked once');
@got = map { http_get($port, "/cached/l", bearer('login')) } 1 .. 2;
is(join(' ', map { $_->{header}{location} } @got),
    'http://login.example/?rd=/cached/l http://login.example/?rd=/cached/l',
    'a redirect with its Location ...');
is(asked_for('/cached/auth'), 6, '... that sets a cookie is never kept: one client\'s login');
http_get($port, '/cached/y', bearer('broken')) for 1 .. 2;
is(asked_for('/cached/auth'), 8, 'a failure is never kept');
$r = http_get($port, '/bykey/echo', bearer('ok-max', ['Cookie' => 'session=ok-ned']));
$r = http_get($port, '/bykey/echo', bearer('ok-max', ['Cookie' => 'session=ok-oz']));
is(echo($r)->{header}{'x-user'}, 'max', 'auth_request_cache_key names the decision');
is(asked_for('/bykey/auth'), 1, '... so fields outside it do not make another');
my $counts = ($p->status_doc // {})->{auth_request} // {};
is($counts->{cache_hits}, 9, 'the status page counts the decisions found in the cache');
cmp_ok($counts->{asked}, '>=', scalar(@{ asked() }), '... the subrequests sent');
cmp_ok($counts->{refused}, '>=', 10, '... the requests refused');
cmp_ok($counts->{failed}, '>=', 6, '... and those that failed');

my $conns = () = $auth->connections;
cmp_ok($conns, '<', scalar($auth->requests) / 2,
    'connections to the auth server are kept alive and serve again');

# ---- the HTTP cache behind forward authentication ----
# The auth server let the request in by its cookie, not by Authorization:
# an answer not marked shareable (public, s-maxage, must-revalidate) is not
# stored, as one to a request with Authorization is not (RFC 9111 3.5), so
# that another user never gets it; one marked public is shared.
my $mine = '/stored/hdr?Cache-Control=max-age%3D60';
my $alice = http_get($port, $mine, headers => ['Cookie' => 'session=ok-alice']);
is($alice->{status}, 200, 'a cached route behind forward authentication answers');
like($alice->{header}{'cache-status'}, qr/fwd-status=200; detail=authorization/,
     '... an answer with max-age alone is not stored (Cache-Status says why)');
my $bob = http_get($port, $mine, headers => ['Cookie' => 'session=ok-bob']);
isnt($bob->{body}, $alice->{body}, '... another user gets an answer of his own');
is(reached($mine), 2, '... from the server');
my $shared = '/stored/hdr?Cache-Control=public%2C%20max-age%3D60';
$alice = http_get($port, $shared, headers => ['Cookie' => 'session=ok-alice']);
like($alice->{header}{'cache-status'}, qr/stored/, 'an answer marked public is stored');
$bob = http_get($port, $shared, headers => ['Cookie' => 'session=ok-bob']);
like($bob->{header}{'cache-status'}, qr/^portico; hit/, '... and shared');
is($bob->{body}, $alice->{body}, '... the same answer');
is(reached($shared), 1, '... asked of the server once');
my $own = '/peruser/hdr?Cache-Control=public%2C%20max-age%3D60';
my @firsts = map { http_get($port, $own, headers => ['Cookie' => "session=ok-$_"]) } qw(alice bob);
my $again = http_get($port, $own, headers => ['Cookie' => 'session=ok-alice']);
isnt($firsts[1]{body}, $firsts[0]{body}, 'with the user in cache_key, each user gets an answer of his own ...');
like($again->{header}{'cache-status'}, qr/^portico; hit/, '... kept for him');
is($again->{body}, $firsts[0]{body}, '... his own');

# ---- auth = off, auth_request = "off" ----
my $n = @{ asked() };
$r = http_get($port, '/public/page');
is($r->{status}, 200, 'auth = off: the route is open');
$r = http_get($port, '/plain/page');
is($r->{status}, 200, 'auth_request = "off" on a route: open too');
is(scalar @{ asked() }, $n, '... and the auth server was not asked');
for my $path ('/public/echo', '/plain/echo') {
	$r = http_get($port, $path, headers => ['X-User' => 'admin']);
	ok(!exists echo($r)->{header}{'x-user'},
	   "$path: a client's X-User is dropped where no auth server is asked too");
}

# ---- configuration ----
my $bad = Test::Portico->new(conf => <<'EOF');
auth_cache_size = 0
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:1" {} }
site main {
	route "/" {
		upstream = "app"
		auth_request = "nosuch"
	}
	route "/open/" {
		upstream = "app"
		auth = off
		auth_request_uri = "/x"
	}
	route "/set/" {
		upstream = "app"
		auth_request_set = {"Content-Length"}
		auth_request_uri = "verify"
		auth_request_cache_time = "10s"
	}
	route "/fwd/" {
		upstream = "app"
		auth_request_set = {"X-Real-IP", "X_User"}
	}
}
EOF
my ($rc, undef, $err) = $bad->run('-t');
isnt($rc, 0, 'a bad configuration is refused');
like($err, qr/portico\.conf:7: auth_request: unknown upstream "nosuch"/,
    'an unknown auth upstream is an error at its file:line');
like($err, qr/portico\.conf:12: route "\/open\/": auth_request_uri has no effect with auth = off/,
    'an auth_request option on a route with auth = off is an error');
like($err, qr/portico\.conf:16: auth_request_set: "Content-Length" frames the request/,
    'a framing field cannot be copied from the answer');
like($err, qr/portico\.conf:22: auth_request_set: "X-Real-IP" never goes upstream/,
    'a forwarding field cannot be copied: portico writes it');
like($err, qr/portico\.conf:22: auth_request_set: "X_User" never goes upstream/,
    '... nor a name with "_"');
like($err, qr/portico\.conf:17: auth_request_uri: "verify" must start with "\/"/,
    'auth_request_uri must be a path');
like($err, qr/portico\.conf:18: auth_request_cache_time: .*auth_cache_size is 0/,
    'a cache time without the auth zone is an error');

my ($rc2, $out) = $p->run('-T');
is($rc2, 0, 'portico -T');
like($out, qr/auth_request = "auth"\n.*auth_request_user = "X-User"/s, '... writes the site\'s');
like($out, qr/route "\/slow\/" \{.*auth_request = "slowauth"/s, '... and a route\'s own');
my ($bykey) = $out =~ m{route "/bykey/" \{\n(.*?)\n\t\}}s;
like($bykey, qr/auth_request_cache_time = "1m"\n.*auth_request_cache_key = "\$http_authorization"/s,
    '... with its cache time and key');
dump_reads_back($out);

done_testing();
