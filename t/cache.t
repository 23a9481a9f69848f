#!/usr/bin/perl

# The shared-memory cache: one fetch from the server serves every worker;
# RFC 9111's rules on what is stored and for how long; Vary, HEAD,
# conditional requests and ranges answered from the store; revalidation,
# stale answers when the server fails, invalidation by unsafe methods,
# PURGE; Cache-Status on every answer of a cached route.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Backend qw(content);
use Test::Portico::Client;
use POSIX qw(strftime);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF')->start;
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }

cache main { size = "16m"  max_object = "64k" }
cache brief { size = "1m"  inactive = "1s" }

upstream app { server "%%BACKEND:app%%" {} }

site s {
	route "/" {
		upstream = "app"
		cache = "main"
		cache_purge = {"127.0.0.0/8"}
	}
	route "/valid/" {
		upstream = "app"
		cache = "main"
		cache_valid = "60s"
		cache_bypass = {"$http_x_bypass"}
		cache_no_store = {"$arg_nostore"}
	}
	route "/min/" { upstream = "app"  cache = "main"  cache_min_uses = 3 }
	route "/brief/" { upstream = "app"  cache = "brief" }
	route "/only/" { upstream = "app"  cache = "main"  cache_statuses = {"404"} }
	route "/plain/" { upstream = "app" }
	route "/ignore/" {
		upstream = "app"
		cache = "main"
		cache_ignore_headers = {"Cache-Control", "Set-Cookie"}
		cache_valid = "60s"
	}
	route "/getonly/" { upstream = "app"  cache = "main"  cache_methods = {"GET"} }
	route "/status" { status = true }
}
EOF
my $port = $p->port('http');
my $app = $p->backend('app');

sub get {
	my ($target, @headers) = @_;
	return http_get($port, $target, headers => [@headers]);
}

sub origin_count {
	my ($target) = @_;
	return scalar grep { $_->{target} eq $target } $app->requests;
}

sub http_date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime($_[0])) }
sub uri_escape { my ($s) = @_; $s =~ s/([^A-Za-z0-9])/sprintf('%%%02X', ord $1)/ge; $s }

my $url = '/hdr?Cache-Control=max-age%3D60';
my $r1 = get($url);
is($r1->{status}, 200, 'a cacheable answer comes through');
like($r1->{header}{'cache-status'}, qr/^portico; fwd=miss; fwd-status=200; stored$/,
     'the first is a miss, stored');
my $r2 = get($url);
is($r2->{body}, $r1->{body}, 'the second gets the same body ...');
like($r2->{header}{'cache-status'}, qr/^portico; hit; ttl=\d+$/, '... as a hit');
like($r2->{header}{age}, qr/^\d+$/, '... with an Age');
is($r2->{header}{'content-length'}, length $r1->{body}, '... and its length');
is(origin_count($url), 1, 'the server was asked once');

my $h = http($port, method => 'HEAD', target => $url);
is($h->{status}, 200, 'HEAD is answered from the stored GET');
like($h->{header}{'cache-status'}, qr/hit/, '... as a hit');
is($h->{header}{'content-length'}, length $r1->{body}, '... with the length of the body');
is($h->{body}, '', '... and no body');
is(origin_count($url), 1, '... without asking the server');

# Not stored: what RFC 9111 forbids.
for my $case (['no-store', 'Cache-Control=no-store'], ['private', 'Cache-Control=private%2C%20max-age%3D60'],
	      ['set-cookie', 'Cache-Control=max-age%3D60&Set-Cookie=a%3D1']) {
	my ($what, $q) = @$case;
	my $u = "/hdr?$q";
	get($u);
	my $r = get($u);
	is(origin_count($u), 2, "$what: not stored, both go to the server");
	like($r->{header}{'cache-status'}, qr/fwd=miss; fwd-status=200; detail=$what/,
	     "$what: Cache-Status says why");
}
my $auth = '/hdr?Cache-Control=max-age%3D60&x=auth';
get($auth, Authorization => 'Basic dTpw');
get($auth, Authorization => 'Basic dTpw');
is(origin_count($auth), 2, 'an answer to a request with Authorization is not stored');
my $pub = '/hdr?Cache-Control=public%2C%20max-age%3D60&x=auth';
get($pub, Authorization => 'Basic dTpw');
get($pub, Authorization => 'Basic dTpw');
is(origin_count($pub), 1, '... unless it is public');

# ---- Vary ----
my $vary = '/hdr?Cache-Control=max-age%3D60&Vary=Accept-Encoding&x=vary';
my $g1 = get($vary, 'Accept-Encoding' => 'gzip');
my $g2 = get($vary, 'Accept-Encoding' => 'deflate;q=0, gzip');
is($g2->{body}, $g1->{body}, 'Vary: Accept-Encoding: "gzip" and "deflate;q=0, gzip" share a variant');
like($g2->{header}{'cache-status'}, qr/hit/, '... a hit');
my $b1 = get($vary, 'Accept-Encoding' => 'br');
isnt($b1->{body}, $g1->{body}, 'a client taking br gets a variant of its own');
like($b1->{header}{'cache-status'}, qr/fwd=vary-miss; fwd-status=200; stored/, '... a vary-miss, stored');
my $n1 = get($vary);
isnt($n1->{body}, $g1->{body}, 'so does one taking no coding');
is(get($vary, 'Accept-Encoding' => 'br')->{body}, $b1->{body}, 'each variant is served to its own');
is(get($vary, 'Accept-Encoding' => 'gzip;q=1.0')->{body}, $g1->{body}, '... q-values read');
is(origin_count($vary), 3, 'three variants, three fetches');
my $star = '/hdr?Cache-Control=max-age%3D60&Vary=*';
get($star);
get($star);
is(origin_count($star), 2, 'Vary: * is never served from the cache');

# ---- freshness without max-age: Expires, and the heuristic ----
my $expires = '/hdr?Expires=' . uri_escape(http_date(time + 600));
get($expires);
like(get($expires)->{header}{'cache-status'}, qr/^portico; hit/, 'Expires ahead of Date: served from the cache');
my $expired = '/hdr?x=expired&Expires=' . uri_escape(http_date(time - 600));
get($expired);
get($expired);
is(origin_count($expired), 2, 'Expires behind Date, no validator: never served from the cache');
my $lm = http_date(time - 10 * 86400);
my $guessed = '/hdr?Last-Modified=' . uri_escape($lm);
get($guessed);
like(get($guessed)->{header}{'cache-status'}, qr/^portico; hit; ttl=\d+$/,
     'a 200 with only Last-Modified: fresh for a share of its age (the heuristic)');
my $moved = '/hdr?status=302&Location=%2Fx&Last-Modified=' . uri_escape($lm);
get($moved);
get($moved);
is(origin_count($moved), 2, '... not for a status the heuristic does not cover (302)');

# ---- conditional requests and ranges, from the store ----
my $etagged = '/hdr?Cache-Control=max-age%3D60&ETag=%22v1%22&body=10000';
my $full = get($etagged);
my $nm = get($etagged, 'If-None-Match' => '"v0", W/"v1"');
is($nm->{status}, 304, 'If-None-Match matching the stored ETag (weakly): 304 from the cache');
is($nm->{header}{etag}, '"v1"', '... with the ETag');
ok(!defined $nm->{header}{'content-length'} && $nm->{body} eq '', '... and no body');
is(get($etagged, 'If-None-Match' => '"v2"')->{status}, 200, 'another ETag: the whole answer');
my $rg = get($etagged, Range => 'bytes=100-199');
is($rg->{status}, 206, 'a Range of a stored answer: 206');
is($rg->{header}{'content-range'}, 'bytes 100-199/10000', '... with Content-Range');
is($rg->{body}, substr(content(10000), 100, 100), '... and those bytes');
is(get($etagged, Range => 'bytes=-10')->{body}, substr(content(10000), 9990), 'a suffix range');
my $r416 = get($etagged, Range => 'bytes=20000-');
is($r416->{status}, 416, 'a range past the end: 416');
is($r416->{header}{'content-range'}, 'bytes */10000', '... saying the length');
is(get($etagged, Range => 'bytes=0-1', 'If-Range' => '"v0"')->{status}, 200,
   'an If-Range that does not match: the whole answer');
is(origin_count($etagged), 1, 'all of them from one fetch');
my $dated = '/hdr?Cache-Control=max-age%3D60&body=100&Last-Modified=' . uri_escape($lm);
get($dated);
my $ims = get($dated, 'If-Modified-Since' => $lm);
is($ims->{status}, 304, 'If-Modified-Since of the stored Last-Modified: 304 from the cache');
is(get($dated, 'If-Modified-Since' => http_date(time - 20 * 86400))->{status}, 200,
   '... an earlier date: the whole answer');
is(origin_count($dated), 1, '... both from one fetch');
my $large = '/hdr?Cache-Control=max-age%3D60&body=60000';
get($large);
my $lh = get($large);
ok($lh->{body} eq content(60000) && $lh->{header}{'cache-status'} =~ /hit/,
   'a 60000-byte answer comes whole from the zone');
is(get($large, Range => 'bytes=1000-50999')->{body}, substr(content(60000), 1000, 50000),
   '... and a range across many of its blocks');

# ---- revalidation ----
my $reval = '/hdr?Cache-Control=max-age%3D1&ETag=%22r1%22&cc304=max-age%3D600';
my $first = get($reval);
sleep 2.2;
my $again = get($reval);
is($again->{status}, 200, 'a stale answer with an ETag is revalidated ...');
like($again->{header}{'cache-status'}, qr/fwd=stale; fwd-status=304/, '... the server said 304');
is($again->{body}, $first->{body}, '... and the stored body is served');
my @rv = grep { $_->{target} eq $reval } $app->requests;
is($rv[-1]{header}{'if-none-match'}, '"r1"', 'the server was asked with the stored ETag');
like(get($reval)->{header}{'cache-status'}, qr/^portico; hit/,
     'the 304 refreshed the stored fields: its Cache-Control makes the answer fresh again');
is(origin_count($reval), 2, '... one fetch, one revalidation');
my $nc = '/hdr?Cache-Control=no-cache&ETag=%22n1%22';
get($nc);
like(get($nc)->{header}{'cache-status'}, qr/fwd=stale; fwd-status=304/, 'no-cache: stored, but validated before every use');
# max-age=0 without stale-while-revalidate: stale from the start, so the
# next request, even within the same second, waits for the server's word.
my $zero = '/hdr?Cache-Control=max-age%3D0&ETag=%22z1%22';
get($zero);
like(get($zero)->{header}{'cache-status'}, qr/fwd=stale; fwd-status=304/,
     'max-age=0: revalidated before use, never served stale at once');

# ---- stale answers when the server fails ----
my $sie = '/hdr?Cache-Control=max-age%3D1%2C%20stale-if-error%3D600&x=sie';
my $ok_body = get($sie)->{body};
sleep 2.2;
$app->set_behavior(status => 503);
my $stale = get($sie);
is($stale->{status}, 200, 'stale-if-error: a failing server (503) gets the stale answer');
is($stale->{body}, $ok_body, '... the stored one');
like($stale->{header}{'cache-status'}, qr/fwd=stale; fwd-status=503; ttl=-\d+; detail=stale-if-error/,
     '... said in Cache-Status');
my $nosie = '/hdr?Cache-Control=max-age%3D1&x=nosie';
$app->set_behavior();
get($nosie);
sleep 2.2;
$app->set_behavior(status => 503);
is(get($nosie)->{status}, 503, 'without stale-if-error the failure goes through');
$app->set_behavior();

# ---- stale-while-revalidate: the stale answer at once, refreshed behind ----
my $swr = '/hdr?Cache-Control=max-age%3D1%2C%20stale-while-revalidate%3D600&x=swr';
my $swr_body = get($swr)->{body};
sleep 2.2;
$app->set_behavior(delay => 60000);
my $first_stale = get($swr);
is($first_stale->{body}, $swr_body, 'stale-while-revalidate: the client gets the stale answer at once');
like($first_stale->{header}{'cache-status'}, qr/^portico; hit; ttl=-\d+$/, '... a hit, stale (ttl < 0)');
ok(wait_for(sub { $app->delayed_count >= 1 }), '... while a refresh of portico\'s own asks the server');
my $meanwhile = get($swr);
is($meanwhile->{body}, $swr_body, 'another client meanwhile gets the stale answer too');
# Counted while the refresh is held: once it is stored, its max-age of 1 s
# may run out again before the next request on a busy machine.
is(origin_count($swr), 2, '... and starts no refresh of its own: one fetch and one refresh in all');
$app->set_behavior();
$app->release;
my $refreshed;
ok(wait_for(sub { my $r = get($swr); $refreshed = $r->{body}; $refreshed ne $swr_body }, 10),
   'once the server answers, the refreshed answer is served');

# ---- unsafe methods invalidate ----
my $inv = '/hdr?Cache-Control=max-age%3D60&x=inv';
get($inv);
like(get($inv)->{header}{'cache-status'}, qr/hit/, 'stored');
my $post = http($port, method => 'POST', target => $inv, body => 'x');
like($post->{header}{'cache-status'}, qr/fwd=method/, 'a POST goes to the server (fwd=method)');
like(get($inv)->{header}{'cache-status'}, qr/fwd=miss/, '... and drops the stored answer');
my $loc_target = '/hdr?Cache-Control=max-age%3D60&x=loc';
get($loc_target);
http($port, method => 'PUT', target => '/hdr?x=put&Location=' . '%2Fhdr%3FCache-Control%3Dmax-age%253D60%26x%3Dloc',
     body => 'y');
like(get($loc_target)->{header}{'cache-status'}, qr/fwd=miss/, 'a PUT drops the URL its Location names');
my $err = '/hdr?Cache-Control=max-age%3D60&x=err';
get($err);
http($port, method => 'DELETE', target => $err . '&status=500');
like(get($err)->{header}{'cache-status'}, qr/hit/, 'a failed DELETE (to another URL) leaves it');

# ---- PURGE ----
my $pu = '/hdr?Cache-Control=max-age%3D60&x=purge';
get($pu);
my $purge = http($port, method => 'PURGE', target => $pu);
is($purge->{status}, 200, 'PURGE of a stored URL: 200');
like($purge->{body}, qr/"purged": 1/, '... saying what went');
like(get($pu)->{header}{'cache-status'}, qr/fwd=miss/, '... and it is fetched again');
is(http($port, method => 'PURGE', target => '/hdr?x=never')->{status}, 404, 'PURGE of nothing: 404');
get("/hdr?Cache-Control=max-age%3D60&x=pre$_") for 1 .. 3;
my $pp = http($port, method => 'PURGE', target => '/hdr?Cache-Control=max-age%3D60&x=pre*');
like($pp->{body}, qr/"purged": 3/, 'PURGE of a prefix drops the answers under it');
is(http($port, method => 'PURGE', target => '/valid/x')->{status}, 403,
   'PURGE where cache_purge does not list the client: 403');

# ---- the route's own rules ----
my $v = '/valid/hdr?x=1';
get($v);
like(get($v)->{header}{'cache-status'}, qr/hit/, 'cache_valid: an answer without freshness of its own is stored');
like(get($v, 'X-Bypass' => 1)->{header}{'cache-status'}, qr/fwd=bypass/, 'cache_bypass skips the lookup');
my $ns = '/valid/hdr?nostore=1';
get($ns);
get($ns);
is(origin_count($ns), 2, 'cache_no_store: not stored');
my $big = '/valid/hdr?body=70000';
get($big);
my $bigr = get($big);
is(length $bigr->{body}, 70000, 'an answer over max_object passes whole ...');
like($bigr->{header}{'cache-status'}, qr/detail=too-large/, '... not stored');
my $chunked = '/valid/chunked/70000';
is(length get($chunked)->{body}, 70000, 'a chunked answer that grows past max_object passes whole');
is(length get($chunked)->{body}, 70000, '... and again: not stored');
is(origin_count($chunked), 2, '... both from the server');
my $small = '/valid/chunked/5000';
get($small);
my $sm = get($small);
is($sm->{body}, content(5000), 'a chunked answer under max_object is stored ...');
is($sm->{header}{'content-length'}, 5000, '... and served with its length');
is(origin_count($small), 1, '... once fetched');
my $min = '/min/hdr?Cache-Control=max-age%3D60';
like(get($min)->{header}{'cache-status'}, qr/detail=min-uses/, 'cache_min_uses = 3: the first request is only counted');
like(get($min)->{header}{'cache-status'}, qr/detail=min-uses/, '... so is the second');
like(get($min)->{header}{'cache-status'}, qr/stored/, '... the third is stored');
like(get($min)->{header}{'cache-status'}, qr/hit/, '... and the fourth served from it');
is(origin_count($min), 3, '... three requests to the server');
my $brief = '/brief/hdr?Cache-Control=max-age%3D600';
like(get($brief)->{header}{'cache-status'}, qr/stored/, 'inactive: stored');
sleep 3.2;
like(get($brief)->{header}{'cache-status'}, qr/fwd=miss/, '... and dropped after going unasked for longer, fresh as it was');
my $ignored = '/ignore/hdr?Cache-Control=no-store&Set-Cookie=s%3D1';
get($ignored);
my $ig = get($ignored);
like($ig->{header}{'cache-status'}, qr/hit/,
     'cache_ignore_headers = {"Cache-Control", "Set-Cookie"}: no-store and a cookie do not stop storing');
ok(!defined $ig->{header}{'set-cookie'}, '... and the cookie is not served from the cache');
is(origin_count($ignored), 1, '... one fetch');
my $getonly = '/getonly/hdr?Cache-Control=max-age%3D60';
get($getonly);
like(http($port, method => 'HEAD', target => $getonly)->{header}{'cache-status'}, qr/fwd=method/,
     'cache_methods = {"GET"}: a HEAD goes to the server');
like(get($getonly)->{header}{'cache-status'}, qr/hit/, '... a GET is answered from the cache');
my $only = '/only/hdr?Cache-Control=max-age%3D60';
get($only);
like(get($only)->{header}{'cache-status'}, qr/fwd=miss/, 'cache_statuses = {"404"}: a 200 is not stored');
get("$only&status=404");
like(get("$only&status=404")->{header}{'cache-status'}, qr/hit/, '... a 404 is');
my $old = http_get($port, $url, version => '1.0');
is($old->{status}, 200, 'an HTTP/1.0 client gets a stored answer');
is($old->{body}, $r1->{body}, '... whole');
like(get('/plain/name')->{header}{'cache-status'} // 'none', qr/^none$/, 'routes without cache have no Cache-Status');

done_testing;
