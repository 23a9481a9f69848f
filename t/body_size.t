#!/usr/bin/perl

# client_max_body_size: a body its Content-Length says is too long is
# answered 413 before any of it reaches a server; a chunked body that grows
# past the limit is cut with 413; a route's limit overrides its site's.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF')->start;
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
site s {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	client_max_body_size = "1k"
	route "/" { upstream = "app" }
	route "/big/" { upstream = "app"  client_max_body_size = "0" }
	route "/small/" { upstream = "app"  client_max_body_size = "100" }
}
EOF
my $port = $p->port('http');
my $app = $p->backend('app');

sub reached { scalar grep { $_->{target} eq $_[0] } $app->requests }

my $c = Test::Portico::Client->new($port);
$c->request('POST', '/upload', body_size => 2000);
my $r = $c->response;
is($r->{status}, 413, 'a Content-Length over the site\'s 1k: 413');
ok($c->closed_within(5), '... and the connection is closed');
is(reached('/upload'), 0, '... nothing of it reached the server');

is(http($port, method => 'POST', target => '/upload', body_size => 1024)->{status}, 200,
   'a body of exactly the limit passes');

$c = Test::Portico::Client->new($port);
$c->request('POST', '/chunked', body_size => 5000, chunked => [600]);
$r = $c->response;
is($r->{status}, 413, 'a chunked body that grows past the limit: 413');
ok($c->closed_within(5), '... and the connection is closed');

is(http($port, method => 'POST', target => '/big/upload', body_size => 100000)->{status}, 200,
   'client_max_body_size = "0" on a route lifts the site\'s limit');
is(http($port, method => 'POST', target => '/small/upload', body_size => 500)->{status}, 413,
   'a route\'s smaller limit holds over the site\'s');

$c = Test::Portico::Client->new($port);
$c->send_raw("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
$r = $c->response;
is($r->{status}, 413, 'Expect: 100-continue with too long a body: 413, not 100');
is(reached('/upload'), 1, '... and the server saw only the one that fitted');
ok(wait_for(sub { grep { m{"POST /chunked HTTP/1\.1" 413 .* P[RH] \S+ \S+ - client_max_body_size [0-9a-f]{32}$} }
		$p->access_log }, 10),
   'the access log names the limit that refused, after the termination state');

done_testing;
