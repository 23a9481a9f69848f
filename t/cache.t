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
	route "/plain/" { upstream = "app" }
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

done_testing;
