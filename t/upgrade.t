#!/usr/bin/perl

# Beyond one request and one response: protocol upgrades (WebSocket) turn
# the connection into a two-way tunnel with its own idle timeout;
# "Expect: 100-continue" is answered before the body is sent; absolute-form
# targets reach the backend in origin form; pipelined requests are
# answered in order.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Test::Portico::Backend qw(content);
use Digest::MD5 qw(md5_hex);
use JSON::PP;
use Time::HiRes qw(sleep time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $TUNNEL = 2;
my $p = Test::Portico->new(conf => <<'EOF')->start;
tunnel_timeout = "2s"
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:a%%" {} }
upstream raw { server "%%BACKEND:raw%%" {} }
site main { route "/" { upstream = "app" }  route "/raw/" { upstream = "raw" } }
EOF
my $port = $p->port('http');
my $backend = $p->backend('a');

my $UPGRADE = "Host: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

# Send $data through the tunnel in pieces while reading the echo, so that
# neither side waits for the other; returns what came back.
sub through_tunnel {
	my ($c, $data, $timeout) = @_;
	my $deadline = time + ($timeout // 20);
	my ($off, $back) = (0, '');
	while (length $back < length $data && time < $deadline) {
		if ($off < length $data) {
			my $n = syswrite($c->socket, $data, 65536, $off);
			$off += $n if $n;
		}
		$back .= $c->recv_some(0.01);
		last if $c->at_eof;
	}
	return $back;
}

# ---- WebSocket-style upgrade ----

my $c = Test::Portico::Client->new($port, timeout => 5);
$c->send_raw("GET /ws HTTP/1.1\r\n$UPGRADE");
my $r = $c->response;
is($r && $r->{status}, 101, 'an upgrade request answered 101 by the backend: 101 to the client');
is($r && lc($r->{header}{upgrade} // ''), 'websocket', 'with the backend\'s Upgrade field');
like($r && $r->{header}{connection} // '', qr/\bupgrade\b/i, 'and Connection: upgrade');
my ($seen) = grep { $_->{target} eq '/ws' } $backend->requests;
is($seen && lc($seen->{header}{upgrade} // ''), 'websocket', 'the backend saw Upgrade: websocket');
like($seen && $seen->{header}{connection} // '', qr/\bupgrade\b/i, 'and Connection: upgrade');

is(through_tunnel($c, 'hello', 5), 'hello', 'bytes go through the tunnel both ways');
my $big = content(1024 * 1024);
my $back = through_tunnel($c, $big, 20);
is(length $back, length $big, 'a 1 MB message goes through and comes back whole');
is(md5_hex($back), md5_hex($big), 'unchanged (md5)');

# Traffic keeps the tunnel open past tunnel_timeout; idleness closes it.
my $t0 = time;
my @echoes;
while (time - $t0 < $TUNNEL + 1) {
	push @echoes, through_tunnel($c, 'x', 2);
	sleep 0.4;
}
is(join('', @echoes), 'x' x @echoes, 'a tunnel with traffic stays open longer than tunnel_timeout');
$t0 = time;
ok($c->closed_within($TUNNEL + 2), 'an idle tunnel is closed within tunnel_timeout + 2 s');
cmp_ok(time - $t0, '>=', $TUNNEL - 0.5, 'and not long before tunnel_timeout');
$c->close;
my $tunnel;
ok(wait_for(sub { ($tunnel) = $backend->tunnels; $tunnel }, 3),
    'the backend side of the tunnel is closed too');
is($tunnel && $tunnel->{bytes}, 5 + length($big) + @echoes, 'after echoing every byte');

# Bytes the client sends right after its upgrade request (RFC 9110 7.8
# allows it) belong to the new protocol.
$c = Test::Portico::Client->new($port, timeout => 5);
$c->send_raw("GET /ws HTTP/1.1\r\n${UPGRADE}EARLY");
$r = $c->response;
is($r && $r->{status}, 101, 'an upgrade request followed at once by tunnel bytes: 101');
is($c->recv_exact(5, 3), 'EARLY', 'and those bytes go through the tunnel');
$c->close;

# A client that closes its side closes the backend's.
$backend->clear;
$c = Test::Portico::Client->new($port, timeout => 5);
$c->send_raw("GET /ws HTTP/1.1\r\n$UPGRADE");
$r = $c->response;
is(through_tunnel($c, 'bye', 5), 'bye', 'a second tunnel carries bytes');
$c->close;
ok(wait_for(sub { ($tunnel) = $backend->tunnels; $tunnel }, 3),
    'the client closes it: the backend side closes too');

# Only a GET without a body may upgrade; otherwise Upgrade is a hop-by-hop
# field like the others, and a 101 is an answer nobody asked for.
$backend->clear;
$c = Test::Portico::Client->new($port, timeout => 5);
$c->send_raw("POST /ws HTTP/1.1\r\nContent-Length: 5\r\n$UPGRADE" . 'hello');
$r = $c->response;
is($r && $r->{status}, 502, 'an upgrade request with a body: the backend\'s 101 is a 502');
($seen) = grep { $_->{target} eq '/ws' } $backend->requests;
ok($seen && !exists $seen->{header}{upgrade}, 'and the backend did not see Upgrade');
$c->close;

# An upgrade the backend refuses is an ordinary response.
$c = Test::Portico::Client->new($port, timeout => 5);
$c->send_raw("GET /status/400 HTTP/1.1\r\n$UPGRADE");
$r = $c->response;
is($r && $r->{status}, 400, 'an upgrade request the backend answers 400: relayed as a normal 400');
is($r && $r->{body}, "status 400\n", 'with its body');
$r = $c->get('/name');
is($r && $r->{body}, 'a', 'and the connection goes on as plain HTTP');
$c->close;

# WebSocket smuggling: after a refused upgrade, what the client sends next
# is read by portico as HTTP (routed, checked), never tunnelled raw to the
# backend that refused.
$p->backend('raw')->set_raw('ok' => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
$c = Test::Portico::Client->new($port, timeout => 5);
$c->send_raw("GET /status/426 HTTP/1.1\r\n${UPGRADE}GET /raw/ok HTTP/1.1\r\nHost: localhost\r\n\r\n");
$r = $c->response;
is($r && $r->{status}, 426, 'an upgrade refused with 426, a request pipelined behind it: the 426');
$r = $c->response;
is($r && $r->{body}, 'ok', 'then the next request is routed by portico (to another backend), not tunnelled');
$c->close;

# ---- Expect: 100-continue ----

$backend->clear;
$c = Test::Portico::Client->new($port, timeout => 5);
$c->send_raw("POST /echo HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
$r = $c->response(timeout => 3);
is($r && $r->{status}, 100, 'Expect: 100-continue: "100 Continue" comes before the body is sent');
like($r && $r->{raw_head} // '', qr{^HTTP/1\.1 100 Continue\r\n}, 'as "HTTP/1.1 100 Continue"');
$c->send_raw('hello');
$r = $c->response;
is($r && $r->{status}, 200, 'then the final response');
my $echo = ($r && eval { decode_json($r->{body}) }) || {};
is($echo->{body}, 'hello', 'the backend saw the body');
ok($echo->{header} && !exists $echo->{header}{expect}, 'and no Expect field');
$c->close;

# A backend's own 100 is not passed on: the client got portico's already.
$p->backend('raw')->set_raw('own100' => "HTTP/1.1 100 Continue\r\n\r\n"
    . "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
$c = Test::Portico::Client->new($port, timeout => 5);
$c->send_raw("POST /raw/own100 HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
$r = $c->response(timeout => 3);
is($r && $r->{status}, 100, 'a backend that sends its own 100: the client gets portico\'s first');
$c->send_raw('hello');
$r = $c->response;
is($r && $r->{status}, 200, 'and no second 100 before the final response');
$c->close;

# ---- absolute-form ----

$c = Test::Portico::Client->new($port);
$c->send_raw("GET http://localhost/echo?q=1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
$r = $c->response;
$echo = ($r && eval { decode_json($r->{body}) }) || {};
is($echo->{target}, '/echo?q=1', 'an absolute-form target reaches the backend in origin form');
is($echo->{header}{host}, 'localhost', 'with its Host');
$c->close;

$c = Test::Portico::Client->new($port);
$c->send_raw("GET http://a.test/echo HTTP/1.0\r\n\r\n");
$r = $c->response;
$echo = ($r && eval { decode_json($r->{body}) }) || {};
is($echo->{header}{host}, 'a.test', 'HTTP/1.0 absolute-form without Host: the backend gets the authority as Host');
$c->close;

# ---- pipelining ----

$c = Test::Portico::Client->new($port);
$c->send_raw(join '',
    "GET /echo?1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "POST /echo?2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello world",
    "GET /echo?3 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "POST /echo?4 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "GET /echo?5 HTTP/1.1\r\nHost: localhost\r\n\r\n");
my @answers = map {
	my $x = $c->response;
	($x && eval { decode_json($x->{body}) }) || {};
} 1 .. 5;
is(join(' ', map { $_->{target} // 'none' } @answers), '/echo?1 /echo?2 /echo?3 /echo?4 /echo?5',
    'five pipelined requests are answered in order');
is($answers[1]{body}, 'hello world', 'the pipelined POST in the middle carries its body');
is($answers[3]{body}, 'abc', 'and so does the chunked one');
is($answers[2]{body_length}, 0, 'the GET after it has none (the body did not leak)');
$c->close;

done_testing;
