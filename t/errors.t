#!/usr/bin/perl

# When things go wrong: unreachable backends (502, failover), slow backends
# (504), malformed requests (400 and friends, nothing reaches a backend) and
# malformed responses (502).

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Time::HiRes qw(time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF')->start;
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream dead     { server "127.0.0.1:%%PORT:dead%%" {} }
upstream failover { server "127.0.0.1:%%PORT:dead2%%" {}  server "%%BACKEND:a%%" {} }
upstream slow     { read_timeout = "1s"  server "%%BACKEND:slow%%" {} }
upstream app      { server "%%BACKEND:app%%" {} }
upstream quiet    { server "%%BACKEND:quiet%%" {} }
site main {
	route "/"          { upstream = "app" }
	route "/dead/"     { upstream = "dead" }
	route "/failover/" { upstream = "failover" }
	route "/slow/"     { upstream = "slow" }
	route "/quiet/"    { upstream = "quiet" }
}
EOF
my $port = $p->port('http');

# Nothing listens on the "dead" port.
my $r = http_get($port, '/dead/x');
is($r->{status}, 502, 'backend down: 502');
like($r->{body}, qr{<h1>502 Bad Gateway</h1>}, 'the 502 page is portico\'s own');
like($r->{header}{server} // '', qr/^portico/, 'with Server: portico');
unlike($r->{body}, qr/\Q${\ $p->port('dead')}\E|127\.0\.0\.1/,
    'the 502 page does not reveal the backend address');
like($r->{header}{'content-type'} // '', qr{text/html}, 'the error page is HTML');

my @bodies = map { my $x = http_get($port, "/failover/$_"); $x ? "$x->{status} $x->{body}" : 'none' } 1 .. 6;
is_deeply(\@bodies, [('200 a') x 6], 'a refusing server is skipped: the next one answers');

# The backend would answer after 60 s, the client waits 30: a 504 can only
# come from read_timeout.
my $t0 = time;
$r = http_get($port, '/slow/delay/60000', timeout => 30);
my $took = time - $t0;
is($r && $r->{status}, 504, 'backend slower than read_timeout = 1s: 504, before the backend answers');
like($r && $r->{body}, qr{504}, 'the 504 page says 504');
cmp_ok($took, '>=', 0.9, 'not before read_timeout');

# Malformed responses.
for my $case (['/garbage', 'a malformed response head'],
	      ['/drop', 'a backend that closes without answering'],
	      ['/reset', 'a backend that resets the connection']) {
	$r = http_get($port, $case->[0]);
	is($r && $r->{status}, 502, "$case->[1]: 502");
}

# Malformed requests: an answer, Connection: close, the connection closes,
# and no backend sees anything.
sub bad_request {
	my ($raw, $status, $name) = @_;
	my $c = Test::Portico::Client->new($port);
	$c->send_raw($raw);
	my $r = $c->response;
	subtest $name => sub {
		is($r && $r->{status}, $status, "answered $status");
		like($r && $r->{header}{connection} // '', qr/close/i, 'with Connection: close');
		ok($c->closed_within(5), 'and the connection is closed');
	};
}

my $host = "Host: localhost\r\n";
bad_request("POST /quiet/ HTTP/1.1\r\n${host}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400, 'Content-Length with Transfer-Encoding: 400');
bad_request("POST /quiet/ HTTP/1.1\r\n${host}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    400, 'two different Content-Length: 400');
bad_request("GET /quiet/ HTTP/1.1\nHost: localhost\n\n", 400, 'bare LF line ends: 400');
bad_request("GET /quiet/ HTTP/1.1\r\nX-A: 1\r\n\r\n", 400, 'HTTP/1.1 without Host: 400');
bad_request("GET /quiet/ HTTP/1.1\r\n${host}X-A : 1\r\n\r\n", 400, 'space before the colon: 400');
bad_request("GET /quiet/ HTTP/1.1\r\n${host}X-A: 1\r\n folded\r\n\r\n", 400, 'obs-fold: 400');
bad_request("GET /quiet/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, 'two Host fields: 400');
bad_request("GET /quiet/" . ('a' x 9000) . " HTTP/1.1\r\n$host\r\n", 414,
    'a request line over max_request_line: 414');
bad_request("GET /quiet/ HTTP/1.1\r\n${host}" . ("X-Big: " . ('b' x 4000) . "\r\n") x 10 . "\r\n",
    431, 'a request head over header_buffer_size: 431');
bad_request("POST /quiet/ HTTP/1.1\r\n${host}Transfer-Encoding: gzip\r\n\r\n", 400,
    'a final transfer coding other than chunked: 400 (RFC 9112 6.3)');
bad_request("POST /quiet/ HTTP/1.1\r\n${host}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    501, 'a transfer coding portico does not decode: 501');
bad_request("GET /quiet/ HTTP/2.0\r\n$host\r\n", 505, 'HTTP/2.0 on the wire: 505');

is(scalar($p->backend('quiet')->requests), 0, 'no malformed request reached the backend');

$r = http_get($port, '/quiet/name');
is($r->{body}, 'quiet', 'the same backend is reachable with a proper request');

done_testing;
