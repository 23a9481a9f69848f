#!/usr/bin/perl

# gunzip: answers the server sent gzip-encoded are inflated, as they
# stream, for clients that do not accept gzip; what such a client gets is
# byte for byte what the server compressed, whatever the framing, each
# piece as it comes, and a client that accepts gzip gets the server's
# bytes. The head says what was
# done (no Content-Encoding, no Content-Length, a weak ETag, Vary). What
# must not be touched passes as it is. A body that is not gzip cuts the
# answer short and is logged once; a small body that inflates to a lot
# costs the worker no more memory than any other. On a cached route each
# encoding is its own variant, fetched once and served as stored.

use strict;
use warnings;

use Compress::Raw::Zlib;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Test::More;
use Test::Portico;
use Test::Portico::Backend qw(content content_md5);
use Test::Portico::Client qw(http_get);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
upstream stream { server "127.0.0.1:%%PORT:stream%%" {} }
cache main { size = "8m"  max_object = "2m" }
site s {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	gunzip = true
	route "/" { upstream = "app" }
	route "/off/" { upstream = "app"  gunzip = false }
	route "/cached/" { upstream = "app"  cache = "main" }
	route "/events" { upstream = "stream" }
}
EOF
$p->start;
my $port = $p->port('http');
my $app = $p->backend('app');

sub inflate {
	my ($data) = @_;
	my $out;
	return gunzip(\$data => \$out) ? $out : "gunzip failed: $GunzipError";
}

# /gz with options and fields, the query URL-encoded.
sub gz {
	my ($prefix, %f) = @_;
	my $q = join '&', map { "$_=" . ($f{$_} =~ s/([^\w.-])/sprintf '%%%02X', ord $1/ger) } sort keys %f;
	return "$prefix/gz?$q";
}

sub get_plain { http_get($port, @_) }

sub get_gz {
	my ($target, %opt) = @_;
	return http_get($port, $target, headers => ['Accept-Encoding' => 'gzip', @{ $opt{headers} // [] }]);
}

sub is_inflated {
	my ($r, $want, $name) = @_;
	subtest $name => sub {
		ok($r, 'answered') or return;
		is($r->{status}, 200, 'status 200');
		ok(!defined $r->{header}{'content-encoding'}, 'no Content-Encoding');
		ok(!defined $r->{header}{'content-length'}, 'no Content-Length');
		like($r->{header}{vary} // '', qr/Accept-Encoding/i, 'Vary names Accept-Encoding');
		ok($r->{complete}, 'the body is complete');
		is($r->{body_length}, length $want, 'the length the server compressed');
		ok($r->{body} eq $want, '... and the same bytes');
	};
}

# ---- round trips ----
my $r = get_plain(gz('', body => 100000, 'Content-Type' => 'text/html'));
is_inflated($r, content(100000), 'a client without gzip gets the plain bytes');
is($r->{framing}, 'chunked', '... chunked to an HTTP/1.1 client');
is_inflated(get_plain(gz('', body => 300000, framing => 'chunked')), content(300000),
	    'a chunked gzip body');
is_inflated(get_plain(gz('', body => 300000, framing => 'close')), content(300000),
	    'a close-delimited gzip body');
is_inflated(get_plain(gz('', body => 200000, members => 3)), content(200000),
	    'a body of three gzip members');
is_inflated(get_plain(gz('', body => 0)), '', 'an empty body, compressed');
is_inflated(get_plain(gz('', body => 0, notgzip => 1)), '', 'an empty body, not even gzip');
$r = get_plain(gz('', body => 5000000), body_cb => sub { });
ok($r && $r->{complete} && $r->{body_length} == 5000000 &&
   $r->{body_md5} eq content_md5(5000000), 'a large body (5 MB) inflates whole');
for my $ae ('gzip;q=0', 'identity', 'br, deflate', '*;q=0') {
	$r = http_get($port, gz('', body => 1000), headers => ['Accept-Encoding' => $ae]);
	ok(!defined $r->{header}{'content-encoding'} && $r->{body} eq content(1000),
	   "Accept-Encoding \"$ae\": inflated");
}
$r = get_plain(gz('', body => 70000), version => '1.0');
is($r->{framing}, 'close', 'an HTTP/1.0 client gets the body until the close');
ok($r->{body} eq content(70000), '... whole');

# several answers on one connection, each its own stream
{
	my $c = Test::Portico::Client->new($port);
	my @ok;
	for my $n (1000, 70000, 30) {
		my $x = $c->get(gz('', body => $n));
		push @ok, $x && $x->{body} eq content($n) ? 1 : 0;
	}
	is_deeply(\@ok, [1, 1, 1], 'answers in turn on one connection each inflate whole');
}

# a client that accepts gzip gets what the server sent
$r = get_gz(gz('', body => 100000, ETag => '"v1"'));
is($r->{header}{'content-encoding'}, 'gzip', 'a client with gzip: Content-Encoding kept');
ok(defined $r->{header}{'content-length'}, '... and Content-Length');
is($r->{header}{etag}, '"v1"', '... and the strong ETag');
like($r->{header}{vary} // '', qr/Accept-Encoding/, '... with Vary all the same');
ok(inflate($r->{body}) eq content(100000), '... the server\'s gzip bytes');

# ---- streaming: each piece inflated as it comes ----
# The server sends a gzip event stream, sync-flushed after each event,
# and sends the next only once the test has read the last one, inflated,
# from portico: an inflater that held output back would wait forever
# (the safety deadline fails the test).
{
	my ($d) = Compress::Raw::Zlib::Deflate->new(-WindowBits => WANT_GZIP, -AppendOutput => 1);
	my (@pieces, $end);
	for my $i (1 .. 3) {
		my $gz = '';
		$d->deflate("data: event $i\n\n", $gz);
		$d->flush($gz, Z_SYNC_FLUSH);
		push @pieces, sprintf("%x\r\n%s\r\n", length $gz, $gz);
	}
	$d->flush($end = '');
	my ($pid, $go_w) = paced_server($p->port('stream'),
	    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	    . "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
	    \@pieces, sprintf("%x\r\n%s\r\n0\r\n\r\n", length $end, $end));
	my ($plain, $seen, @order) = ('', 0);
	my $c = Test::Portico::Client->new($port, timeout => 30);
	$c->request(GET => '/events');
	my $resp = $c->response(body_cb => sub {
		$plain .= $_[0];
		while ($seen < 3 && $plain =~ /data: event @{[$seen + 1]}\n\n/) {
			$seen++;
			push @order, $seen;
			print $go_w "go\n";
		}
	});
	ok($resp && $resp->{complete}, 'a streamed gzip answer arrives whole');
	ok($resp && !defined $resp->{header}{'content-encoding'}, '... inflated');
	is_deeply(\@order, [1, 2, 3], '... every event inflated before the server sent the next');
	is($plain, join('', map { "data: event $_\n\n" } 1 .. 3), '... and nothing else');
	close $go_w;
	waitpid $pid, 0;
}

# ---- the head ----
$r = get_plain(gz('', body => 100, ETag => '"abc"', 'Accept-Ranges' => 'bytes'));
is($r->{header}{etag}, 'W/"abc"', 'a strong ETag made weak');
ok(!defined $r->{header}{'accept-ranges'}, 'Accept-Ranges dropped');
$r = get_plain(gz('', body => 100, ETag => 'W/"abc"'));
is($r->{header}{etag}, 'W/"abc"', '... a weak one left as it is');
$r = get_plain(gz('', body => 100, Vary => 'Cookie'));
is($r->{header}{vary}, 'Cookie, Accept-Encoding', 'Accept-Encoding added to the Vary it has');
$r = get_plain(gz('', body => 100, Vary => 'accept-encoding'));
is($r->{header}{vary}, 'accept-encoding', '... left alone when it names it already');

# ---- what is not inflated ----
sub is_untouched {
	my ($r, $name, $ce) = @_;
	subtest $name => sub {
		ok($r, 'answered') or return;
		is($r->{header}{'content-encoding'}, $ce // 'gzip', 'Content-Encoding kept');
	};
}
is_untouched(get_plain(gz('/off', body => 1000)), 'a route with gunzip = false');
$r = get_plain(gz('', body => 1000, ce => 'gzip, br'));
is_untouched($r, 'gzip with another coding', 'gzip, br');
$r = get_plain(gz('', body => 1000, 'Cache-Control' => 'no-transform'));
is_untouched($r, 'Cache-Control: no-transform');
$r = get_plain(gz('', body => 1000, status => 206, 'Content-Range' => 'bytes 0-99/1000'));
is($r->{status}, 206, 'a 206 passes');
is_untouched($r, '... as it is');
ok(inflate($r->{body}) eq content(1000), '... with the server\'s bytes');
$r = Test::Portico::Client::http($port, method => 'HEAD', target => gz('', body => 1000));
is_untouched($r, 'HEAD');
ok(defined $r->{header}{'content-length'}, '... with the server\'s Content-Length');
$r = get_plain(gz('', body => 1000, ETag => '"v2"'), headers => ['If-None-Match' => '"v2"']);
is($r->{status}, 304, 'a 304 passes');
ok(!defined $r->{header}{'transfer-encoding'} && $r->{body} eq '', '... without a body');
$r = get_plain(gz('', body => 1000, status => 204));
is($r->{status}, 204, 'a 204 passes');

# ---- a body that is not gzip ----
# The worker serving it is the one serving the next answers: it logs,
# cuts the answer, and goes on.
my @workers = $p->worker_pids;

sub logged_term {
	my ($target) = @_;
	my $line = wait_for(sub { (grep { m{"GET \Q$target\E HTTP/1\.[01]"} } $p->access_log)[-1] }, 10)
	    // '';
	return ($line =~ m{ (\S\S) \S+ \S+ \S+ \S+ \S+$})[0] // '';
}

sub error_lines {
	my ($re) = @_;
	return scalar grep { /$re/ } split /\n/, $p->error_log;
}

my $t = gz('', body => 300000, garbage => 1);
$r = get_plain($t);
ok($r && $r->{status} == 200 && !$r->{complete}, 'garbage after the gzip stream: the answer is cut');
ok(content(300000) =~ /^\Q$r->{body}\E/, '... what came before is the plain bytes');
is(logged_term($t), 'SD', '... "SD" in the access log');
ok(wait_for(sub { error_lines(qr/gunzip: the gzip body from upstream .* the response is cut short/) }),
   '... and the error log says why');
is(error_lines(qr/gunzip: .*\Q$t\E/), 1, '... once');

$t = gz('', body => 300000, framing => 'chunked', cut => 800);
$r = get_plain($t);
ok($r && $r->{status} == 200 && !$r->{complete}, 'a gzip stream that stops early: cut');
ok(wait_for(sub { error_lines(qr/gunzip: .*ends before its gzip stream does/) }),
   '... logged as such');

$t = gz('', body => 5000, notgzip => 1);
$r = get_plain($t);
is($r && $r->{status}, 502, 'a body that is not gzip at all: 502, as nothing went out yet');
ok(wait_for(sub { error_lines(qr/gunzip: .*(header|not gzip)/) }), '... logged');

is_inflated(get_plain(gz('', body => 1000)), content(1000), 'the next answer inflates whole');
is_deeply([$p->worker_pids], \@workers, '... from the same worker: none crashed');

# ---- a small body that inflates to a lot ----
# 64 MiB of zeros come as 64 KiB of gzip: inflated as the client reads,
# the worker's peak memory does not grow by anything near that.
SKIP: {
	skip 'memory figures mean nothing under sanitizers', 2 if Test::Portico::sanitized_build();
	my ($w) = $p->worker_pids;
	my $peak = sub { ((Test::Portico::proc_status($w) // {})->{VmHWM} // '0') =~ s/\D//gr };
	my $before = $peak->();
	my $n = 64 * 1048576;
	my $zeros = 0;
	$r = get_plain(gz('', zeros => $n), timeout => 120,
		       body_cb => sub { $zeros += ($_[0] =~ tr/\0//) });
	ok($r && $r->{complete} && $r->{body_length} == $n && $zeros == $n,
	   'a zip bomb (64 MiB of zeros) streams to the client whole');
	my $grown = $peak->() - $before;
	cmp_ok($grown, '<', 16 * 1024, '... and the worker\'s peak memory grew by less than 16 MiB')
	    or diag("VmHWM grew by $grown kB");
}

# ---- a cached route: one variant per encoding ----
{
	my $t = gz('/cached', body => 50000, 'Content-Type' => 'text/html',
		   'Cache-Control' => 'max-age=300', ETag => '"c1"');
	my $miss_plain = get_plain($t);
	is_inflated($miss_plain, content(50000), 'cached: a client without gzip gets it inflated');
	like($miss_plain->{header}{'cache-status'}, qr/fwd=miss.*stored/, '... a miss, stored');
	my $miss_gz = get_gz($t);
	is($miss_gz->{header}{'content-encoding'}, 'gzip', '... a client with gzip gets it compressed');
	like($miss_gz->{header}{'cache-status'}, qr/fwd=vary-miss.*stored/,
	     '... another variant, fetched and stored');
	my $hit_plain = get_plain($t);
	like($hit_plain->{header}{'cache-status'}, qr/; hit/, 'the plain variant is a hit');
	ok(!defined $hit_plain->{header}{'content-encoding'} && $hit_plain->{body} eq content(50000),
	   '... plain, whole');
	is($hit_plain->{header}{etag}, 'W/"c1"', '... with the weak ETag it was stored with');
	like($hit_plain->{header}{vary} // '', qr/Accept-Encoding/, '... and Vary');
	my $hit_gz = get_gz($t, headers => ['Accept-Encoding' => 'x-gzip;q=0.5']);
	like($hit_gz->{header}{'cache-status'}, qr/; hit/, 'the gzip variant is a hit (for x-gzip too)');
	is($hit_gz->{header}{'content-encoding'}, 'gzip', '... compressed');
	ok($hit_gz->{body} eq $miss_gz->{body}, '... the bytes the server sent');
	my @seen = grep { $_->{target} eq $t } $app->requests;
	is(scalar @seen, 2, 'the server was asked once per variant');
}

# ---- -T ----
my ($rc, $out, $err) = $p->run('-T');
is($rc, 0, '-T: accepted') or diag($err);
like($out, qr{^\tgunzip = true$}m, '-T writes gunzip');
like($out, qr{^\t\tgunzip = false$}m, '... a route\'s own');
dump_reads_back($out);

# ---- mistakes ----
my $bad = Test::Portico->new(conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:none%%" {} }
site s {
	gunzip = maybe
	route "/" { upstream = "app"  gunzip = 3 }
}
EOF
($rc, undef, $err) = $bad->run('-t');
ok($rc > 0, 'mistakes are refused');
like($err, qr{portico\.conf:4: .*gunzip}, 'gunzip not a boolean, at its line');
like($err, qr{portico\.conf:5: .*gunzip}, '... on a route too');

$p->stop;
done_testing;
