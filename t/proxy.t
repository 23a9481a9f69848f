#!/usr/bin/perl

# Proxying: sites chosen by Host, routes by longest prefix and regex, the
# headers a backend sees, keep-alive on both sides, weighted round robin.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use JSON::PP;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF')->start;
listen http { address = "127.0.0.1:%%PORT:http%%" }

upstream a    { server "%%BACKEND:a%%" {} }
upstream b    { server "%%BACKEND:b%%" {} }
upstream c    { server "%%BACKEND:c%%" {} }
upstream ka   { keepalive = 8  server "%%BACKEND:ka%%" {} }
upstream noka { keepalive = 0  server "%%BACKEND:noka%%" {} }
upstream wrr  {
	server "%%BACKEND:w1%%" { weight = 3 }
	server "%%BACKEND:w2%%" { weight = 1 }
}

site one {
	listen = {"http"}
	hosts = {"one.test", "*"}
	route "/"         { upstream = "a" }
	route "/api/"     { upstream = "b" }
	route "/api/v2/"  { upstream = "c" }
	route "~ \\.php$" { upstream = "c" }
	route "/ka/"      { upstream = "ka" }
	route "/noka/"    { upstream = "noka" }
	route "/wrr/"     { upstream = "wrr" }
}
site two   { hosts = {"two.test"}  route "/" { upstream = "b" } }
site wild  { hosts = {"*.wild.test"}  route "/" { upstream = "c" } }
site holes { hosts = {"holes.test"}  route "/only/" { upstream = "a" } }
EOF
my $port = $p->port('http');

sub backend_of {
	my ($path, %opt) = @_;
	my $r = http_get($port, $path, %opt);
	return $r ? "$r->{status} $r->{body}" : 'no response';
}

# A plain GET, through portico to backend a and back.
my $r = http_get($port, '/size/1000', host => 'one.test');
is($r->{status}, 200, 'GET through portico answers 200');
is($r->{body}, Test::Portico::Backend::content(1000), 'and the body is the backend\'s');
is($r->{header}{'x-backend'}, 'a', 'response header fields of the backend pass through');

# Sites by Host.
is(backend_of('/', host => 'two.test'), '200 b', 'Host two.test selects site two');
is(backend_of('/', host => 'TWO.Test:8080'), '200 b',
    'Host matching ignores case and the port');
is(backend_of('/', host => 'x.wild.test'), '200 c', 'a *.suffix wildcard host matches');
is(backend_of('/', host => 'unknown.test'), '200 a', 'an unknown Host falls to the "*" site');

# Routes.
is(backend_of('/api/x'), '200 b', 'the /api/ prefix routes to b');
is(backend_of('/api/v2/x'), '200 c', 'the longest prefix wins (/api/v2/ over /api/)');
is(backend_of('/apix'), '200 a', 'a prefix is not a word match: /apix goes to /');
is(backend_of('/api/index.php'), '200 c', 'a regex route wins over the longest prefix');
is(backend_of('/index.php?x=1'), '200 c', 'the regex matches the path without the query');

$p->backend('a')->clear;
$r = http_get($port, '/elsewhere', host => 'holes.test');
is($r->{status}, 404, 'no route matches: 404');
unlike($r->{body} // '', qr/^a$/, 'the 404 is portico\'s own');
is(scalar($p->backend('a')->requests), 0, 'and no backend saw the request');

# The request a backend sees.
$r = http_get($port, '/echo?q=1', host => 'one.test', headers => [
	'X-Forwarded-For' => '10.1.2.3',
	'Connection' => 'X-Secret',
	'X-Secret' => 'hop',
	'Keep-Alive' => 'timeout=5',
	'Proxy-Connection' => 'keep-alive',
	'TE' => 'trailers',
	'X-Custom' => 'end-to-end',
]);
my $seen = eval { JSON::PP::decode_json($r->{body}) } // {};
my $h = $seen->{header} // {};
is($seen->{target}, '/echo?q=1', 'the target passes unchanged, query included');
for my $target ("/caf\xc3\xa9/echo?q=\xe2\x82\xac", '/a"b<c>d\\e^f`g{h|i}j/echo?k="{}"') {
	my $x = http_get($port, $target);
	my $e = $x && $x->{status} == 200 ? eval { JSON::PP->new->utf8->decode($x->{body}) } : undef;
	is($e && $e->{target}, $target,
	    'a target with ' . ($target =~ /caf/ ? 'raw UTF-8' : 'the characters RFC 3986 leaves out')
	    . ' passes unchanged, as through nginx');
}
is($h->{host}, 'one.test', 'Host passes unchanged');
is($h->{'x-forwarded-for'}, '10.1.2.3, 127.0.0.1', 'X-Forwarded-For gets the client appended');
is($h->{'x-real-ip'}, '127.0.0.1', 'X-Real-IP is the client address');
is($h->{'x-forwarded-proto'}, 'http', 'X-Forwarded-Proto is http');
is($h->{'x-custom'}, 'end-to-end', 'end-to-end fields pass');
ok(!exists $h->{'x-secret'}, 'a field named by Connection is removed');
ok(!exists $h->{'keep-alive'}, 'Keep-Alive is removed');
ok(!exists $h->{'proxy-connection'}, 'Proxy-Connection is removed');
ok(!exists $h->{te}, 'TE is removed');
ok(!defined $h->{connection} || $h->{connection} !~ /x-secret/i,
    'the client\'s Connection field is not forwarded');

$r = http_get($port, '/echo');
$seen = eval { JSON::PP::decode_json($r->{body}) } // {};
is($seen->{header}{'x-forwarded-for'}, '127.0.0.1',
    'X-Forwarded-For is created when the client sent none');

# Client keep-alive: several requests on one connection.
my $c = Test::Portico::Client->new($port);
my @bodies = map { my $x = $c->get("/api/$_"); $x ? $x->{body} : 'none' } 1 .. 5;
is("@bodies", 'b b b b b', 'five requests answered on one client connection');
$r = $c->get('/size/10');
unlike($r->{header}{connection} // '', qr/close/i, 'no Connection: close on a keep-alive answer');
$c->close;

$c = Test::Portico::Client->new($port);
$r = $c->get('/name', version => '1.0', headers => [Connection => 'keep-alive']);
my $r2 = $r ? $c->get('/name', version => '1.0', headers => [Connection => 'keep-alive']) : undef;
is($r2 && $r2->{body}, 'a', 'HTTP/1.0 with Connection: keep-alive keeps the connection');
$c->close;

$c = Test::Portico::Client->new($port);
$r = $c->get('/name', version => '1.0');
is($r && $r->{body}, 'a', 'HTTP/1.0 without keep-alive is answered');
ok($c->closed_within(5), 'and then the connection is closed');

# Pipelining: two requests in one packet, two answers in order.
$c = Test::Portico::Client->new($port);
$c->send_raw("GET /api/1 HTTP/1.1\r\nHost: one.test\r\n\r\n"
    . "GET /name HTTP/1.1\r\nHost: one.test\r\n\r\n");
push @{ $c->{pending} }, 'GET', 'GET';
my @two = map { my $x = $c->response; $x ? $x->{body} : 'none' } 1 .. 2;
is("@two", 'b a', 'pipelined requests are answered in order');
$c->close;

# Upstream keep-alive: one backend connection serves consecutive requests.
$c = Test::Portico::Client->new($port);
$c->get("/ka/$_") for 1 .. 5;
my @conns = map { $_->{conn} } $p->backend('ka')->requests;
is(scalar(@conns), 5, 'keepalive = 8: the backend got five requests');
is(scalar(keys %{{ map { $_ => 1 } @conns }}), 1,
    'keepalive = 8: all five came over one backend connection');
$c->close;

$c = Test::Portico::Client->new($port);
$c->get("/noka/$_") for 1 .. 5;
@conns = map { $_->{conn} } $p->backend('noka')->requests;
is(scalar(keys %{{ map { $_ => 1 } @conns }}), 5,
    'keepalive = 0: each request gets a new backend connection');
$c->close;

# A pooled upstream connection the backend closed while idle is not used
# for the next request (or the request is retried): no error reaches the client.
$p->backend('ka')->clear;
$r = http_get($port, '/ka/idle-close/50');
is($r && $r->{status}, 200, 'a backend answers keep-alive, then closes the idle connection');
ok(wait_for(sub { scalar $p->backend('ka')->closed }, 5), 'the backend has closed it');
$r = http_get($port, '/ka/name');
is($r && $r->{status}, 200, 'the next request succeeds despite the stale pooled connection');

# Smooth weighted round robin, weight 3:1.
my %count;
$c = Test::Portico::Client->new($port);
for (1 .. 40) {
	my $x = $c->get('/wrr/name') or last;
	$count{$x->{header}{'x-backend'} // 'none'}++;
}
$c->close;
is($count{w1} // 0, 30, 'weight 3 gets 30 of 40 requests');
is($count{w2} // 0, 10, 'weight 1 gets 10 of 40 requests');

done_testing;
