#!/usr/bin/perl

# Limits on what a request may be (issue 14): the number of header fields
# (client_max_header_fields, 431), the methods a site or route takes
# (methods, 405 with Allow), and the rate a request body must keep up
# (client_body_min_rate, 408). Each refusal closes the connection where
# it must, never reaches the server, and is named in the access log.

use strict;
use warnings;

use Test::More;
use IO::Select;
use Time::HiRes qw(sleep);
use Test::Portico;
use Test::Portico::Client;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF')->start;
workers = 2
client_max_header_fields = 8
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
site s {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	methods = {"GET", "POST"}
	client_body_min_rate = "100"
	client_body_min_rate_after = "1s"
	route "/" { upstream = "app" }
	route "/dav/" { upstream = "app"  methods = {"PUT", "DELETE", "PROPFIND"} }
}
EOF
my $port = $p->port('http');
my $app = $p->backend('app');

sub reached { scalar grep { $_->{target} eq $_[0] } $app->requests }

# The last access log line of a request to target.
sub logged {
	my ($target) = @_;
	my $line;
	wait_for(sub { ($line) = grep { m{"\S+ \Q$target\E HTTP/1\.1"} } $p->access_log; $line }, 10);
	return $line // '';
}

# ---- client_max_header_fields ----

# Host and n - 1 more: n fields.
sub fields { my ($n) = @_; [map { ("X-F$_" => 'v') } 2 .. $n] }

is(http($port, target => '/fields-max', headers => fields(8))->{status}, 200,
   'a request with client_max_header_fields fields passes');

my $c = Test::Portico::Client->new($port);
$c->request(GET => '/fields-over', headers => fields(9));
is($c->response->{status}, 431, 'one field more: 431');
ok($c->closed_within(5), '... and the connection is closed');
is(reached('/fields-over'), 0, '... and the server never saw it');
like(logged('/fields-over'), qr/ 431 .* PR \S+ \S+ - client_max_header_fields [0-9a-f]{32}$/,
     '... and the access log (of the listener\'s default site) names the limit');

$c = Test::Portico::Client->new($port);
$c->request(GET => '/fields-long', headers => [@{ fields(8) }, 'X-Long' => 'x' x 9000]);
is($c->response->{status}, 431,
   'client_max_header_fields fields, then a line over max_header_line: 431');
my $line = logged('/fields-long');
ok($line =~ / 431 / && $line !~ /client_max_header_fields/,
   '... not logged as client_max_header_fields: the line was too long');

# ---- methods ----

is(http($port, target => '/get')->{status}, 200, 'a method the site takes passes');
is(http($port, method => 'HEAD', target => '/head')->{status}, 200, 'GET brings HEAD along');

$c = Test::Portico::Client->new($port);
my $r = $c->do(DELETE => '/delete');
is($r->{status}, 405, 'a method the site does not take: 405');
is($r->{header}{allow}, 'GET, POST, HEAD', '... with Allow listing those it takes');
is(reached('/delete'), 0, '... and the server never saw it');
like(logged('/delete'), qr/ 405 .* PR \S+ \S+ - methods [0-9a-f]{32}$/, '... and the access log names the rule');
is($c->get('/after-405')->{status}, 200, '... and the connection, with no body left, serves on');

is(http($port, method => 'get', target => '/lower')->{status}, 405,
   'methods are case-sensitive: "get" is not GET');

$c = Test::Portico::Client->new($port);
$c->request(POST => '/dav/post', body_size => 20000);
$r = $c->response;
is($r->{status}, 405, 'a route\'s list replaces its site\'s');
is($r->{header}{allow}, 'PUT, DELETE, PROPFIND', '... and Allow is the route\'s');
ok($c->closed_within(5), '... and with its body unread, the connection is closed');
is(reached('/dav/post'), 0, '... and the server never saw it');
is(http($port, method => 'PROPFIND', target => '/dav/x')->{status}, 200,
   'an extension method listed passes');

# ---- client_body_min_rate ----

# Send a body of $len bytes in pieces of $piece every $pause seconds,
# until it is all out or portico answers or closes; the answer, if any.
sub trickle {
	my ($c, $target, $len, $piece, $pause) = @_;
	$c->send_raw("POST $target HTTP/1.1\r\nHost: localhost\r\nContent-Length: $len\r\n\r\n")
	    or return undef;
	for (my $sent = 0; $sent < $len; $sent += $piece) {
		last unless $c->send_raw('x' x $piece);
		sleep $pause;
		last if $c->socket && IO::Select->new($c->socket)->can_read(0);
	}
	return $c->response(timeout => 30);
}

$c = Test::Portico::Client->new($port);
$r = trickle($c, '/trickle', 1000, 1, 0.2);
is($r && $r->{status}, 408, 'a body trickled under client_body_min_rate: 408');
ok($c->closed_within(10), '... and the connection is closed');
is(scalar(grep { $_->{target} eq '/trickle' && !$_->{error} } $app->requests), 0,
   '... and the server got no complete request');
like(logged('/trickle'), qr/ 408 .* cH \S+ \S+ - client_body_min_rate [0-9a-f]{32}$/,
     '... and the access log names the limit, as a client timeout');

$c = Test::Portico::Client->new($port);
$r = trickle($c, '/steady', 2000, 100, 0.1);
is($r && $r->{status}, 200, 'a body sent steadily above the rate passes');
is(reached('/steady'), 1, '... whole');

done_testing;
