#!/usr/bin/perl

# Compression: with gzip = true, answers go gzip-compressed to clients
# that accept it (q-values honoured) and as they are to others; what the
# client receives inflates to exactly what the server sent, for small,
# large, chunked and close-delimited bodies, and a streamed answer is
# flushed piece by piece (the server sends its next event only once the
# client has read the last one, inflated). Answers that must not be
# compressed pass as they are; the head says what was done (Vary,
# Content-Encoding, a weak ETag, no Content-Length). On a cached route
# each encoding is a variant of its own, stored compressed or plain and
# served again as stored. Mistakes are refused at their file:line, and -T
# writes it all back.

use strict;
use warnings;

use Compress::Raw::Zlib;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Test::More;
use Test::Portico;
use Test::Portico::Backend qw(content);
use Test::Portico::Client qw(http_get);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
upstream stream { server "127.0.0.1:%%PORT:stream%%" {} }
cache main { size = "4m"  max_object = "1m" }
site s {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	gzip = true
	route "/" { upstream = "app" }
	route "/any/" { upstream = "app"  gzip_types = {"*"}  gzip_level = 6 }
	route "/off/" { upstream = "app"  gzip = false }
	route "/min/" { upstream = "app"  gzip_min_length = 1000 }
	route "/json/" { upstream = "app"  gzip_types = {"application/json", "Text/CSS"} }
	route "/prox/" { upstream = "app"  gzip_proxied = {"no-store", "auth"} }
	route "/proxany/" { upstream = "app"  gzip_proxied = {"any"} }
	route "/cached/" { upstream = "app"  cache = "main" }
	route "/events" { upstream = "stream"  gzip_types = {"text/event-stream"} }
	route "/own" { return = 200  return_body = "<p>portico's own answer, long enough</p>"  return_type = "text/html" }
}
EOF
$p->start;
my $port = $p->port('http');

sub inflate {
	my ($data) = @_;
	my $out;
	return gunzip(\$data => \$out) ? $out : "gunzip failed: $GunzipError";
}

sub hdr_target {
	my ($prefix, %f) = @_;
	my $body = delete $f{body} // 100;
	my $q = join '&', map { "$_=" . ($f{$_} =~ s/([^\w.-])/sprintf '%%%02X', ord $1/ger) } sort keys %f;
	return "$prefix/hdr?body=$body" . ($q ? "&$q" : '');
}

sub get_gz {
	my ($target, %opt) = @_;
	my @h = @{ delete $opt{headers} // [] };
	return http_get($port, $target, headers => ['Accept-Encoding' => 'gzip', @h], %opt);
}

sub is_gzip {
	my ($r, $want, $name) = @_;
	subtest $name => sub {
		ok($r, 'answered') or return;
		is($r->{status}, 200, 'status 200');
		is($r->{header}{'content-encoding'}, 'gzip', 'Content-Encoding: gzip');
		like($r->{header}{vary} // '', qr/Accept-Encoding/i, 'Vary names Accept-Encoding');
		ok(!defined $r->{header}{'content-length'}, 'no Content-Length');
		ok($r->{complete}, 'the body is complete');
		my $plain = inflate($r->{body});
		is(length $plain, length $want, 'inflates to the length the server sent');
		ok($plain eq $want, '... and to the same bytes');
	};
}

sub is_plain {
	my ($r, $name) = @_;
	subtest $name => sub {
		ok($r, 'answered') or return;
		ok(!defined $r->{header}{'content-encoding'}, 'no Content-Encoding');
	};
}

# ---- round trips ----
my $html = ['Content-Type' => 'text/html; charset=utf-8'];
is_gzip(get_gz(hdr_target('', 'Content-Type' => 'text/html; charset=utf-8', body => 100)),
	content(100), 'a small HTML answer is compressed');
my $r = get_gz(hdr_target('', 'Content-Type' => 'text/html', body => 100));
is($r->{framing}, 'chunked', '... and sent chunked to an HTTP/1.1 client');
is_gzip(get_gz('/any/size/5000000'), content(5000000), 'a large body (several MiB)');
is_gzip(get_gz('/any/chunked/3000000'), content(3000000), 'a chunked body');
is_gzip(get_gz('/any/close/300000'), content(300000), 'a close-delimited body');
is_gzip(get_gz('/own'), "<p>portico's own answer, long enough</p>", "portico's own answers");
is_gzip(get_gz(hdr_target('/json', 'Content-Type' => 'application/json', body => 500)),
	content(500), 'a listed type');
is_gzip(get_gz(hdr_target('/json', 'Content-Type' => 'text/css', body => 500)),
	content(500), '... listed in another case');

# several answers on one connection, each its own stream
{
	my $c = Test::Portico::Client->new($port);
	my @ok;
	for my $n (1000, 70000, 30) {
		my $x = $c->get("/any/size/$n", headers => ['Accept-Encoding' => 'gzip']);
		push @ok, $x && inflate($x->{body}) eq content($n) ? 1 : 0;
	}
	is_deeply(\@ok, [1, 1, 1], 'answers in turn on one connection each inflate whole');
}

# a client that goes away in the middle: its stream is let go, and the
# worker serves on
{
	my $c = Test::Portico::Client->new($port);
	$c->request(GET => '/any/size/20000000', headers => ['Accept-Encoding' => 'gzip']);
	ok(defined $c->recv_exact(1000), 'a long compressed answer starts');
	$c->close;
	ok(wait_for(sub { grep { m{/any/size/20000000} } $p->access_log }, 30),
	   '... its exchange ends when the client leaves');
	is_gzip(get_gz('/any/size/1000'), content(1000), '... and the next answer is compressed whole');
}

# HTTP/1.0: no chunked, the end shown by closing
$r = get_gz('/any/size/70000', version => '1.0');
is($r->{framing}, 'close', 'an HTTP/1.0 client gets the body until the close');
ok(inflate($r->{body}) eq content(70000), '... which inflates whole');

# ---- Accept-Encoding ----
my %accepts = (
	'gzip' => 1, 'GZIP' => 1, 'x-gzip' => 1, 'deflate, gzip;q=0.5' => 1, '*' => 1,
	'br;q=1, *;q=0.1' => 1, 'gzip;q=1.000' => 1, 'gzip ; q=0.001' => 1,
	'gzip;q=0' => 0, 'gzip;q=0.000' => 0, 'identity' => 0, '*;q=0' => 0,
	'br, deflate' => 0, '*, gzip;q=0' => 0, 'gzip;q=abc' => 0, '' => 0,
);
for my $ae (sort keys %accepts) {
	my $x = http_get($port, hdr_target('', 'Content-Type' => 'text/html', body => 200),
			 headers => ['Accept-Encoding' => $ae]);
	my $gz = ($x->{header}{'content-encoding'} // '') eq 'gzip' ? 1 : 0;
	is($gz, $accepts{$ae}, "Accept-Encoding \"$ae\": " . ($accepts{$ae} ? 'gzip' : 'as is'));
}
$r = http_get($port, hdr_target('', 'Content-Type' => 'text/html', body => 200));
is_plain($r, 'no Accept-Encoding: as is');
like($r->{header}{vary} // '', qr/Accept-Encoding/, '... with Vary all the same');
is($r->{body}, content(200), '... and the body untouched');
$r = http_get($port, hdr_target('', 'Content-Type' => 'text/html', Vary => 'Cookie'));
is($r->{header}{vary}, 'Cookie, Accept-Encoding', '... added to the Vary it has');
$r = http_get($port, hdr_target('', 'Content-Type' => 'text/html', body => 200),
	      headers => ['Accept-Encoding' => 'br', 'Accept-Encoding' => 'gzip']);
is($r->{header}{'content-encoding'}, 'gzip', 'Accept-Encoding over two fields');

# ---- what is not compressed ----
is_plain(get_gz(hdr_target('', 'Content-Type' => 'text/plain')), 'a type not listed');
is_plain(get_gz('/size/100'), 'an answer without Content-Type');
$r = get_gz(hdr_target('', 'Content-Type' => 'text/html', 'Content-Encoding' => 'br'));
is($r->{header}{'content-encoding'}, 'br', 'an answer encoded already passes as it is');
$r = get_gz(hdr_target('', 'Content-Type' => 'text/html', 'Content-Encoding' => 'gzip'));
is($r->{header}{'content-encoding'}, 'gzip', '... gzip already: never twice');
is($r->{body}, content(100), '... its body as the server sent it');
is_plain(get_gz(hdr_target('', 'Content-Type' => 'text/html', 'Cache-Control' => 'public, no-transform')),
	 'Cache-Control: no-transform');
$r = get_gz(hdr_target('', 'Content-Type' => 'text/html', status => 206));
is($r->{status}, 206, 'a 206 passes');
is_plain($r, '... as it is');
is_plain(get_gz(hdr_target('', 'Content-Type' => 'text/html'), headers => ['Range' => 'bytes=0-9']),
	 'a request with Range');
$r = Test::Portico::Client::http($port, method => 'HEAD',
	target => hdr_target('', 'Content-Type' => 'text/html'), headers => ['Accept-Encoding' => 'gzip']);
is_plain($r, 'HEAD');
is($r->{header}{'content-length'}, 100, '... with the Content-Length of the body');
$r = get_gz(hdr_target('', 'Content-Type' => 'text/html', status => 204, body => 0));
is($r->{status}, 204, 'a 204 passes');
is_plain($r, '... as it is');
$r = get_gz(hdr_target('', 'Content-Type' => 'text/html', ETag => '"v1"'),
	    headers => ['If-None-Match' => '"v1"']);
is($r->{status}, 304, 'a 304 passes');
is_plain($r, '... as it is');
is_plain(get_gz(hdr_target('/off', 'Content-Type' => 'text/html')), 'a route with gzip = false');

# gzip_min_length: by Content-Length
is_plain(get_gz(hdr_target('', 'Content-Type' => 'text/html', body => 19)),
	 'shorter than gzip_min_length (20)');
is_gzip(get_gz(hdr_target('', 'Content-Type' => 'text/html', body => 20)), content(20),
	'as long as gzip_min_length');
is_plain(get_gz(hdr_target('/min', 'Content-Type' => 'text/html', body => 999)),
	 'a route\'s own gzip_min_length');
is_gzip(get_gz(hdr_target('/min', 'Content-Type' => 'text/html', body => 1000)), content(1000),
	'... reached');

# ---- the head ----
$r = get_gz(hdr_target('', 'Content-Type' => 'text/html', Vary => 'Cookie'));
is($r->{header}{vary}, 'Cookie, Accept-Encoding', 'Vary merged into one field');
$r = get_gz(hdr_target('', 'Content-Type' => 'text/html', Vary => 'accept-encoding'));
is($r->{header}{vary}, 'accept-encoding', '... left alone when it names it already');
$r = get_gz(hdr_target('', 'Content-Type' => 'text/html', ETag => '"abc"'));
is($r->{header}{etag}, 'W/"abc"', 'a strong ETag made weak');
$r = get_gz(hdr_target('', 'Content-Type' => 'text/html', ETag => 'W/"abc"'));
is($r->{header}{etag}, 'W/"abc"', '... a weak one left as it is');
$r = get_gz(hdr_target('', 'Content-Type' => 'text/html', 'Accept-Ranges' => 'bytes'));
ok(!defined $r->{header}{'accept-ranges'}, 'Accept-Ranges dropped from a compressed answer');
$r = http_get($port, hdr_target('', 'Content-Type' => 'text/html', 'Accept-Ranges' => 'bytes', ETag => '"abc"'));
is($r->{header}{'accept-ranges'}, 'bytes', '... kept on one that is not');
is($r->{header}{etag}, '"abc"', '... with its ETag strong');

# ---- gzip_proxied ----
my @via = ('Via' => '1.1 other-proxy');
is_plain(get_gz(hdr_target('', 'Content-Type' => 'text/html'), headers => \@via),
	 'a request through another proxy: not by default');
is_gzip(get_gz(hdr_target('/proxany', 'Content-Type' => 'text/html'), headers => \@via),
	content(100), 'gzip_proxied = {"any"}');
is_plain(get_gz(hdr_target('/prox', 'Content-Type' => 'text/html'), headers => \@via),
	 'gzip_proxied with conditions, none holding');
is_gzip(get_gz(hdr_target('/prox', 'Content-Type' => 'text/html', 'Cache-Control' => 'no-store'),
	       headers => \@via), content(100), '... no-store holding');
is_gzip(get_gz(hdr_target('/prox', 'Content-Type' => 'text/html'),
	       headers => [@via, 'Authorization' => 'Basic eDp5']), content(100), '... auth holding');
is_gzip(get_gz(hdr_target('/prox', 'Content-Type' => 'text/html')), content(100),
	'... and a request without Via compressed anyway');

# ---- a cached route ----
# The cache stores what gzip made of the answer: the compressed variant
# under Vary for clients that accept gzip, the plain one for the others,
# each fetched from the server once and served again as stored (the hit
# has the stored length: it is not compressed again).
{
	my $t = hdr_target('/cached', 'Content-Type' => 'text/html', 'Cache-Control' => 'max-age=300',
			   ETag => '"c1"', body => 50000);
	my $miss = get_gz($t);
	is_gzip($miss, content(50000), 'a cached route: the miss goes compressed');
	like($miss->{header}{'cache-status'}, qr/fwd=miss.*; stored/, '... and is stored');
	my $plain = http_get($port, $t);
	ok($plain->{status} == 200 && !defined $plain->{header}{'content-encoding'} &&
	   $plain->{body} eq content(50000), 'a client without gzip gets it plain');
	like($plain->{header}{'cache-status'}, qr/fwd=vary-miss.*; stored/,
	     '... a variant of its own, fetched and stored');
	like($plain->{header}{vary} // '', qr/Accept-Encoding/, '... under Vary');
	my $hit = get_gz($t);
	like($hit->{header}{'cache-status'}, qr/^portico; hit/, 'a gzip client: a hit');
	is($hit->{header}{'content-encoding'}, 'gzip', '... compressed');
	like($hit->{header}{vary} // '', qr/Accept-Encoding/, '... with Vary');
	is($hit->{header}{etag}, 'W/"c1"', '... and the weak ETag');
	is($hit->{header}{'content-length'}, length $miss->{body},
	   '... as stored, not compressed again (its stored length)');
	ok($hit->{body} eq $miss->{body}, '... the very bytes of the miss');
	my $hit_plain = http_get($port, $t, headers => ['Accept-Encoding' => 'gzip;q=0, identity']);
	like($hit_plain->{header}{'cache-status'}, qr/^portico; hit/, 'a client without gzip: a hit');
	ok(!defined $hit_plain->{header}{'content-encoding'} &&
	   $hit_plain->{body} eq content(50000), '... plain');
	my @seen = grep { $_->{target} eq $t } $p->backend('app')->requests;
	is(scalar @seen, 2, 'one request to the server per variant');

	# revalidated: the server's 304 brings its strong ETag, the stored
	# compressed variant keeps its weak one and goes out as stored
	my $rt = hdr_target('/cached', 'Content-Type' => 'text/html', 'Cache-Control' => 'no-cache',
			    ETag => '"r1"', body => 20000);
	my $stored = get_gz($rt);
	is_gzip($stored, content(20000), 'an answer validated before every use, compressed and stored');
	my $again = get_gz($rt);
	like($again->{header}{'cache-status'}, qr/fwd=stale; fwd-status=304/,
	     '... revalidated with the server');
	is($again->{header}{etag}, 'W/"r1"', '... its ETag still weak');
	is($again->{header}{'content-encoding'}, 'gzip', '... compressed');
	ok($again->{body} eq $stored->{body}, '... the stored bytes');

	# a miss asked with Range: the cache fetches the whole answer, which
	# is compressed and stored like any other
	my $ranged = hdr_target('/cached', 'Content-Type' => 'text/html', 'Cache-Control' => 'max-age=300',
				body => 5000, x => 'range');
	my $rm = get_gz($ranged, headers => ['Range' => 'bytes=0-9']);
	like($rm->{header}{'cache-status'} // '', qr/fwd=miss.*; stored/,
	     'a miss with Range: the whole answer fetched and stored');
	my $rest = get_gz($ranged);
	like($rest->{header}{'cache-status'} // '', qr/^portico; hit/, '... a hit for the next gzip client');
	is($rest->{header}{'content-encoding'}, 'gzip', '... compressed');
	ok(inflate($rest->{body}) eq content(5000), '... whole');

	# an answer gzip leaves alone does not vary: one object for everyone
	my $tt = hdr_target('/cached', 'Content-Type' => 'text/plain', 'Cache-Control' => 'max-age=300',
			    body => 3000);
	my $first = get_gz($tt);
	ok(!defined $first->{header}{'content-encoding'} && !defined $first->{header}{vary} &&
	   $first->{header}{'cache-status'} =~ /stored/, 'a type gzip does not take: stored as it is');
	like(http_get($port, $tt)->{header}{'cache-status'}, qr/^portico; hit/,
	     '... a hit for a client without gzip');
}

# ---- streaming: each piece is flushed ----
# The server sends an event, then waits until the test has read it,
# inflated, from portico: without a flush at each piece, it would wait
# forever (the safety deadline fails the test).
{
	my ($pid, $go_w) = paced_server($p->port('stream'),
	    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
	    [map { my $ev = "data: event $_\n\n"; sprintf("%x\r\n%s\r\n", length $ev, $ev) } 1 .. 3],
	    "0\r\n\r\n");
	my $inf = Compress::Raw::Zlib::Inflate->new(-WindowBits => WANT_GZIP);
	my ($plain, $seen, @order) = ('', 0);
	my $c = Test::Portico::Client->new($port, timeout => 30);
	$c->request(GET => '/events', headers => ['Accept-Encoding' => 'gzip']);
	my $resp = $c->response(body_cb => sub {
		my $in = $_[0];
		my $out;
		$inf->inflate($in, $out);
		$plain .= $out // '';
		while ($seen < 3 && $plain =~ /data: event @{[$seen + 1]}\n\n/) {
			$seen++;
			push @order, $seen;
			print $go_w "go\n";
		}
	});
	ok($resp && $resp->{complete}, 'a streamed answer arrives whole');
	is($resp && $resp->{header}{'content-encoding'}, 'gzip', '... compressed');
	is_deeply(\@order, [1, 2, 3], '... every event inflated before the server sent the next');
	is($plain, join('', map { "data: event $_\n\n" } 1 .. 3), '... and the stream inflates whole');
	close $go_w;
	waitpid $pid, 0;
}

# ---- -T ----
my ($rc, $out, $err) = $p->run('-T');
is($rc, 0, '-T: accepted') or diag($err);
like($out, qr{^\tgzip = true$}m, '-T writes gzip');
like($out, qr{^\t\tgzip_types = \{"application/json", "text/css"\}$}m, '... a route\'s gzip_types');
like($out, qr{^\t\tgzip_level = 6$}m, '... gzip_level');
like($out, qr{^\t\tgzip_min_length = "1000"$}m, '... gzip_min_length');
like($out, qr{^\t\tgzip_proxied = \{"no-store", "auth"\}$}m, '... gzip_proxied');
like($out, qr{^\t\tgzip = false$}m, '... a route\'s gzip = false');
dump_reads_back($out);

# ---- mistakes ----
my $bad = Test::Portico->new(conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:none%%" {} }
site s {
	gzip = maybe
	gzip_level = 0
	gzip_types = {"text"}
	gzip_proxied = {"sometimes"}
	route "/" { upstream = "app"  gzip_level = 10 }
	route "/a" { upstream = "app"  gzip_min_length = "lots"  gzip_proxied = {"off", "any"} }
}
EOF
($rc, undef, $err) = $bad->run('-t');
ok($rc > 0, 'mistakes are refused');
like($err, qr{portico\.conf:4: .*gzip}, 'gzip not a boolean, at its line');
like($err, qr{portico\.conf:5: .*gzip_level}, 'gzip_level 0');
like($err, qr{portico\.conf:6: gzip_types: "text" is not a media type}, 'a type without subtype');
like($err, qr{portico\.conf:7: gzip_proxied: "sometimes" is none of}, 'an unknown gzip_proxied');
like($err, qr{portico\.conf:8: .*gzip_level}, 'gzip_level 10 on a route');
like($err, qr{portico\.conf:9: gzip_min_length: bad size "lots"}, 'a bad gzip_min_length');
like($err, qr{portico\.conf:9: gzip_proxied: "off" is none of}, '"off" with others');

$p->stop;
done_testing;
