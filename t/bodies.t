#!/usr/bin/perl

# Bodies stream both ways, in every framing, whole and unchanged, and
# nothing holds a whole body in memory.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Test::Portico::Backend qw(content content_md5);
use JSON::PP;
use Time::HiRes qw(sleep time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF')->start;
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:a%%" {} }
site main { route "/" { upstream = "app" } }
EOF
my $port = $p->port('http');
my $MB = 1024 * 1024;

sub upload {
	my (%opt) = @_;
	my $r = http($port, method => 'POST', target => '/upload', timeout => 60, %opt);
	return ($r && $r->{status} == 200 && eval { decode_json($r->{body}) }) || {};
}

# Request bodies.
my $u = upload(body_size => 5 * $MB);
is($u->{length}, 5 * $MB, 'a 5 MB Content-Length request body reaches the backend whole');
is($u->{md5}, content_md5(5 * $MB), 'and unchanged (md5)');

$u = upload(body_size => 5 * $MB + 7, chunked => [65536, 1, 4000, 300001]);
is($u->{length}, 5 * $MB + 7, 'a 5 MB chunked request body reaches the backend whole');
is($u->{md5}, content_md5(5 * $MB + 7), 'and unchanged (md5)');

$u = upload(body => 'hello', chunked => [1]);
is($u->{length}, 5, 'a chunked body of one-byte chunks arrives whole');

$u = upload(body => '');
is($u->{length}, 0, 'an empty Content-Length body is passed as empty');

{
	# Leading zeros in a chunk size are unambiguous: nginx takes them.
	my $c = Test::Portico::Client->new($port);
	$c->send_raw("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    . ('0' x 32) . "5\r\nhello\r\n" . ('0' x 20) . "\r\n\r\n");
	my $r = $c->response;
	my $e = $r && $r->{status} == 200 ? eval { decode_json($r->{body}) } : {};
	is($e->{length}, 5, 'a chunk size with 32 leading zeros is read as the size it is');
	$c->close;
}

# Response bodies.
my $c = Test::Portico::Client->new($port, timeout => 60);
my $r = $c->get('/size/1000000');
is($r->{body_md5}, content_md5(1000000), 'a Content-Length response arrives unchanged');
$r = $c->get('/chunked/1000000');
is($r->{body_md5}, content_md5(1000000), 'a chunked response arrives unchanged');
is($r->{framing}, 'chunked', 'and is chunked to an HTTP/1.1 client');
$r = $c->get('/chunked/0');
ok($r && $r->{complete} && $r->{body_length} == 0, 'an empty chunked response ends properly');
$r = $c->get('/close/1000000');
ok($r && $r->{complete}, 'a close-delimited response is passed on');
is($r->{body_md5}, content_md5(1000000), 'and arrives unchanged');
$c->close;

$c = Test::Portico::Client->new($port, timeout => 60);
$r = $c->do(HEAD => '/size/5000');
is($r->{header}{'content-length'}, 5000, 'HEAD: the Content-Length of the GET is kept');
is($r->{body_length}, 0, 'HEAD: no body');
$r = $c->get('/size/10');
is($r && $r->{body}, content(10), 'the connection is still in step after a HEAD');
$c->close;

$r = http_get($port, '/chunked/300000', version => '1.0', timeout => 30);
is($r->{body_md5}, content_md5(300000), 'HTTP/1.0 client: a chunked upstream response is decoded');
unlike($r->{header}{'transfer-encoding'} // '', qr/chunked/i,
    'HTTP/1.0 client: no chunked encoding in the answer');

my $size = 64 * $MB;
my $t0 = time;
$r = http_get($port, "/size/$size", timeout => 60, body_cb => sub {});
is($r->{body_length}, $size, 'a 64 MB response arrives whole');
is($r->{body_md5}, content_md5($size), 'and unchanged (md5)');
note(sprintf '64 MB in %.2f s', time - $t0);

$r = http_get($port, "/chunked/$size", timeout => 60, body_cb => sub {});
is($r->{body_md5}, content_md5($size), 'a 64 MB chunked response arrives unchanged');

# A client that goes away in the middle of a response costs nothing more.
my @w = $p->wait_workers(1);
$c = Test::Portico::Client->new($port);
$c->request(GET => "/size/$size");
my $part = 0;
eval { $c->response(timeout => 10, body_cb => sub {
	$part += length $_[0];
	die "enough\n" if $part > $MB;	# read 1 MB of 64, then hang up
}) };
$c->close;
$r = http_get($port, '/size/100');
is($r && $r->{status}, 200, 'after a client closed mid-response, the next request is served');
is(join(' ', $p->worker_pids), join(' ', @w), 'by the same worker (it did not crash)');

# Memory: a 256 MB response to a client that reads slowly must not pile up
# in the worker.
my ($worker) = $p->wait_workers(1);
my $rss = sub { Test::Portico::rss_bytes($worker) };
my $before = $rss->();
my $max = $before;
$size = 256 * $MB;
my ($got, $next) = (0, 0);
$t0 = time;
$r = http_get($port, "/size/$size", timeout => 120, body_cb => sub {
	$got += length $_[0];
	# About 60 MB/s: slower than portico can read from the backend.
	my $ahead = $got / (60 * $MB) - (time - $t0);
	sleep $ahead if $ahead > 0;
	if ($got >= $next) {
		my $now = $rss->();
		$max = $now if $now > $max;
		$next += 4 * $MB;
	}
});
is($r->{body_length}, $size, '256 MB to a slow reader arrives whole');
note(sprintf 'worker RSS %.1f MiB before, at most %.1f MiB while streaming',
    $before / $MB, $max / $MB);
cmp_ok($max - $before, '<', 16 * $MB,
    'streaming 256 MB to a slow reader grows the worker by less than 16 MiB');
SKIP: {
	skip 'sanitizer build: absolute RSS is not meaningful', 1
	    if Test::Portico::sanitized_build();
	cmp_ok($max, '<', 32 * $MB, 'the worker stays under 32 MiB RSS meanwhile');
}

done_testing;
