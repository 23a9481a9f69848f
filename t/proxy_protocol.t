#!/usr/bin/perl

# Behind other proxies: a listener with proxy_protocol takes the client's
# address from a PROXY protocol header (v1 or v2) sent by a trusted peer,
# and every later phase sees it (the access log, X-Forwarded-For); an
# untrusted peer, a malformed header or none at all closes the
# connection. An upstream with send_proxy_protocol gets the header for
# the client on each new connection (its health checks send LOCAL).
# A site with real_ip_from takes the client's address from
# X-Forwarded-For or Forwarded of a trusted peer, walking past trusted
# proxies from the right.

use strict;
use warnings;

use File::Temp ();
use IO::Socket::IP;
use JSON::PP;
use Socket qw(IPPROTO_TCP TCP_NODELAY inet_pton AF_INET AF_INET6);
use Time::HiRes qw(sleep);

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Test::Portico::TLS qw(https);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $dir = File::Temp::tempdir('portico-pp-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my ($pem, $key) = Test::Portico::TLS->new($dir)->cert('a.test');
chmod 0600, $key;

my $p = Test::Portico->new;
$p->backend('ppv1', proxy_protocol => 1);
$p->backend('ppv2', proxy_protocol => 1);
$p->write_conf(<<"EOF")->start;
workers = 2
listen lb {
	address = "127.0.0.1:%%PORT:lb%%"
	proxy_protocol = true
	proxy_protocol_from = {"127.0.0.1/32", "::1"}
}
listen plain { address = "127.0.0.1:%%PORT:plain%%" }
listen plain2 { address = "127.0.0.1:%%PORT:plain2%%" }
listen lbtls {
	address = "127.0.0.1:%%PORT:lbtls%%"
	tls = true
	proxy_protocol = true
	proxy_protocol_from = {"127.0.0.1"}
}
upstream app { server "%%BACKEND:app%%" {} }
upstream ppv1 { send_proxy_protocol = "v1"  server "%%BACKEND:ppv1%%" {} }
upstream ppv2 {
	send_proxy_protocol = "v2"
	health_check { path = "/name"  interval = "1s" }
	server "%%BACKEND:ppv2%%" {}
}
site s {
	listen = {"lb"}
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	route "/v1/" { upstream = "ppv1" }
	route "/v2/" { upstream = "ppv2" }
	route "/" { upstream = "app" }
}
site sec {
	listen = {"lbtls"}
	hosts = {"a.test"}
	access_log = "%%TMP%%/tls.log"
	access_log_format = "portico"
	tls { certificate = "$pem"  key = "$key" }
	route "/" { upstream = "app" }
}
site xff {
	listen = {"plain"}
	hosts = {"xff.test"}
	access_log = "%%TMP%%/real.log"
	access_log_format = "portico"
	real_ip_from = {"127.0.0.1", "10.0.0.0/8"}
	route "/" { upstream = "app" }
}
site out {
	listen = {"plain", "plain2"}
	hosts = {"out.test"}
	route "/" { upstream = "ppv1" }
}
site fwd {
	listen = {"plain"}
	hosts = {"fwd.test"}
	real_ip_from = {"127.0.0.1", "10.0.0.0/8", "2001:db8:ffff::/48"}
	real_ip_header = "Forwarded"
	route "/" { upstream = "app" }
}
EOF
my $port = $p->port('lb');
my $app = $p->backend('app');
my $JSON = JSON::PP->new;

sub v1 { "PROXY TCP4 $_[0] 192.0.2.1 $_[1] 443\r\n" }

sub v2 {
	my ($cmd, $src, $sport, $tlvs) = @_;
	return "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00" if $cmd == 0;	# LOCAL
	my $body = $src =~ /:/
	    ? inet_pton(AF_INET6, $src) . inet_pton(AF_INET6, '2001:db8::1') . pack('n n', $sport, 443)
	    : inet_pton(AF_INET, $src) . inet_pton(AF_INET, '192.0.2.1') . pack('n n', $sport, 443);
	$body .= $tlvs // '';
	my $fam = $src =~ /:/ ? 0x21 : 0x11;
	return "\r\n\r\n\0\r\nQUIT\n" . pack('C C n', 0x20 | $cmd, $fam, length $body) . $body;
}

# A client from $from, its bytes sent in @pieces (each its own write).
sub client {
	my ($from, @pieces) = @_;
	my $sock = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
	    LocalHost => $from, Proto => 'tcp', Timeout => 10) or die "connect: $!";
	setsockopt($sock, IPPROTO_TCP, TCP_NODELAY, 1);
	my $c = Test::Portico::Client->new($port, sock => $sock);
	for my $i (0 .. $#pieces) {
		# Pieces apart, so that portico is likely to see the header
		# cut; the checks hold however the bytes arrive.
		sleep(0.05) if $i;
		$c->send_raw($pieces[$i]);
	}
	return $c;
}

sub echo {
	my ($c, $target) = @_;
	$c->request(GET => $target);
	my $r = $c->response;
	return $r && $r->{status} == 200 ? $JSON->decode($r->{body}) : {};
}

sub logged { my $re = shift; wait_for(sub { grep { /$re/ } $p->access_log }, 10) }

# ---- inbound ----

my $c = client('127.0.0.1', v1('203.0.113.7', 51234));
my $e = echo($c, '/a1/echo');
is($e->{header}{'x-forwarded-for'}, '203.0.113.7',
   'v1 from a trusted peer: the backend sees its client in X-Forwarded-For');
$e = echo($c, '/v1-again/echo');
is($e->{header}{'x-forwarded-for'}, '203.0.113.7', '... on every request of the connection');
ok(logged(qr{^203\.0\.113\.7 .*"GET /a1/echo HTTP/1\.1" 200 }),
   '... and the access log shows the client');

$c = client('127.0.0.1', v2(1, '198.51.100.9', 4000) . "GET /a2/echo HTTP/1.1\r\nHost: x\r\n\r\n");
my $r = $c->response;
is($r && $r->{status} == 200 && $JSON->decode($r->{body})->{header}{'x-forwarded-for'},
   '198.51.100.9', 'v2 with the request in the same write: the client is the header\'s');
ok(logged(qr{^198\.51\.100\.9 .*"GET /a2/echo HTTP/1\.1" 200 }), '... in the access log too');

$c = client('127.0.0.1', v2(1, '2001:db8::7', 4001, "\x04\x00\x03abc\x01\x00\x02h2"));
is(echo($c, '/v2-6/echo')->{header}{'x-forwarded-for'}, '2001:db8::7',
   'v2 over IPv6 with TLVs: the TLVs are skipped, the client is taken');

my $h = v1('203.0.113.8', 1234);
$c = client('127.0.0.1', substr($h, 0, 5), substr($h, 5, 12), substr($h, 17, length($h) - 18),
	    substr($h, -1) . "GET /split/echo HTTP/1.1\r\n", "Host: x\r\n\r\n");
$r = $c->response;
is($r && $r->{status} == 200 && $JSON->decode($r->{body})->{header}{'x-forwarded-for'},
   '203.0.113.8', 'v1 cut in pieces across writes is read whole');
$h = v2(1, '203.0.113.9', 1234);
$c = client('127.0.0.1', substr($h, 0, 3), substr($h, 3, 11), substr($h, 14, 5), substr($h, 19));
is(echo($c, '/split2/echo')->{header}{'x-forwarded-for'}, '203.0.113.9',
   'v2 cut in pieces, one inside its signature, is read whole');

$c = client('127.0.0.1', v2(0));
is(echo($c, '/local/echo')->{header}{'x-forwarded-for'}, '127.0.0.1',
   'v2 LOCAL (a balancer\'s health check): the peer\'s own address stands');
$c = client('127.0.0.1', "PROXY UNKNOWN\r\n");
is(echo($c, '/unknown/echo')->{header}{'x-forwarded-for'}, '127.0.0.1',
   'v1 UNKNOWN: the peer\'s own address stands');

sub closed_silently {
	my ($cl) = @_;
	my $got = $cl->recv_all(10);
	return $cl->at_eof && $got eq '';
}

SKIP: {
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
	    LocalHost => '127.0.0.2', Proto => 'tcp', Timeout => 10);
	skip 'cannot bind 127.0.0.2', 2 unless $s;
	$c = Test::Portico::Client->new($port, sock => $s);
	$c->send_raw(v1('203.0.113.66', 1) . "GET /untrusted/echo HTTP/1.1\r\nHost: x\r\n\r\n");
	ok(closed_silently($c), 'a header from a peer outside proxy_protocol_from: closed, no answer');
	ok(wait_for(sub { $p->error_log =~ /peer is not in proxy_protocol_from.*client: 127\.0\.0\.2/ }, 10),
	   '... and the error log says why, naming the peer');
}

my %bad = (
	'a plain HTTP request' => "GET /plain/echo HTTP/1.1\r\nHost: x\r\n\r\n",
	'v1 with a port missing' => "PROXY TCP4 203.0.113.7 192.0.2.1 1234\r\nGET / HTTP/1.1\r\n\r\n",
	'v1 with a bad address' => "PROXY TCP4 203.0.113.300 192.0.2.1 1 2\r\nGET / HTTP/1.1\r\n\r\n",
	'v1 of IPv6 addresses said TCP4' => "PROXY TCP4 ::1 ::1 1 2\r\nGET / HTTP/1.1\r\n\r\n",
	'v1 without CRLF in 107 bytes' => "PROXY UNKNOWN " . ('x' x 120),
	'v2 with a unix socket family' => substr(v2(1, '203.0.113.7', 1), 0, 13) . "\x31\x00\x0c" . ('x' x 12),
	'v2 with addresses past its length' => substr(v2(1, '203.0.113.7', 1), 0, 13) . "\x11\x00\x08" . ('x' x 12),
	'v2 with a bad version' => "\r\n\r\n\0\r\nQUIT\n\x31\x11\x00\x0c" . ('x' x 12),
	'v2 with a TLV past its end' => v2(1, '203.0.113.7', 1, "\x01\x00\x09h2"),
);
for my $what (sort keys %bad) {
	$c = client('127.0.0.1', $bad{$what});
	ok(closed_silently($c), "$what on a PROXY listener: closed, no answer");
}
ok(!grep({ m{"GET /plain/echo } } $p->access_log), '... and no request was served');
ok($p->error_log =~ /PROXY protocol header refused: v1: bad address, client: 127\.0\.0\.1/,
   'the error log says what was wrong with a header');

$c = client('127.0.0.1', "PROXY TCP4 203.0.113.7");
$c->close;
$c = client('127.0.0.1', v1('203.0.113.10', 5));
is(echo($c, '/after/echo')->{header}{'x-forwarded-for'}, '203.0.113.10',
   'a client that closes mid-header harms nobody after it');

# A TLS listener: the header comes before the handshake.
for my $case (['v1', v1('203.0.113.20', 7)], ['v2', v2(1, '203.0.113.21', 8)]) {
	my ($what, $header) = @$case;
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $p->port('lbtls'),
	    Proto => 'tcp', Timeout => 10) or die "connect: $!";
	syswrite($s, $header);
	$r = https($p->port('lbtls'), sock => $s, sni => 'a.test', path => '/tls/echo');
	is($r->{status} && $JSON->decode($r->{body})->{header}{'x-forwarded-for'},
	   $what eq 'v1' ? '203.0.113.20' : '203.0.113.21',
	   "$what before a TLS handshake: the handshake follows, and the client is the header's");
}
$c = Test::Portico::Client->new($p->port('lbtls'),
    sock => IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $p->port('lbtls')));
$c->send_raw("\x16\x03\x01\x00\x05hello");
ok(closed_silently($c), 'a TLS ClientHello without a PROXY header: closed');

# ---- outbound ----

$c = client('127.0.0.1', v1('203.0.113.7', 51234));
$r = $c->get('/v1/name');
is($r && $r->{status}, 200, 'send_proxy_protocol = "v1": the backend answers');
my @hs = $p->backend('ppv1')->proxy_headers;
is(scalar(@hs) && $hs[-1]{header}, "PROXY TCP4 203.0.113.7 192.0.2.1 51234 443",
   '... after a v1 header with the client and the address it reached');

$c = client('127.0.0.1', v2(1, '2001:db8::7', 4001));
$r = $c->get('/v2/name');
is($r && $r->{status}, 200, 'send_proxy_protocol = "v2": the backend answers');
ok(grep({ $_->{header} eq 'v2 PROXY TCP6 2001:db8::7 2001:db8::1 4001 443' }
	 $p->backend('ppv2')->proxy_headers),
   '... after a v2 header with the IPv6 client');
ok(wait_for(sub { grep { $_->{header} eq 'v2 LOCAL' } $p->backend('ppv2')->proxy_headers }, 10),
   'a health check of such a server sends a v2 LOCAL header, as a balancer does');

# A connection carries one client's header: another client never gets it.
$c = client('127.0.0.1', v1('203.0.113.7', 51234));
$c->get('/v1/name') for 1 .. 2;
my $c2 = client('127.0.0.1', v1('203.0.113.99', 99));
$r = $c2->get('/v1/name');
@hs = $p->backend('ppv1')->proxy_headers;
my %by_conn = map { $_->{conn} => $_->{header} } @hs;
my @served = grep { $_->{target} eq '/v1/name' } $p->backend('ppv1')->requests;
my @mixed = grep { ($by_conn{$_->{conn}} // '') !~ /^PROXY TCP4 203\.0\.113\.(7|99) / } @served;
ok(!@mixed && @served == 4, 'every request reached the backend on a connection with a header');
my %client_of;
$client_of{$_->{conn}}{$by_conn{$_->{conn}}}++ for @served;
ok(!grep({ keys %{ $client_of{$_} } > 1 } keys %client_of),
   '... and no connection carried requests of two clients');
is(scalar(grep { $by_conn{$_->{conn}} =~ /203\.0\.113\.99/ } @served), 1,
   '... the second client\'s request went on a connection of its own header');

# A connection carries the header of one local address and port too: the
# same client on another listener never travels under the first one's.
my @ports = ($p->port('plain'), $p->port('plain2'));
for my $i (0 .. 7) {
	my $cl = Test::Portico::Client->new($ports[$i % 2]);
	$cl->request(GET => "/two/$i/name", host => 'out.test');
	$cl->response;
	$cl->close;
}
%by_conn = map { $_->{conn} => $_->{header} } $p->backend('ppv1')->proxy_headers;
@served = grep { $_->{target} =~ m{^/two/} } $p->backend('ppv1')->requests;
my @astray = grep {
	my ($i) = $_->{target} =~ m{^/two/(\d+)/};
	($by_conn{$_->{conn}} // '') !~ / $ports[$i % 2]$/
} @served;
ok(@served == 8 && !@astray,
   'the same client on two listeners: each request under a header naming its own port');

# ---- real client addresses ----

my $plain = $p->port('plain');

# The forwarding fields the backend got for a request from $from to
# site $host with fields @h.
sub seen {
	my ($from, $host, $target, @h) = @_;
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $plain,
	    LocalHost => $from, Proto => 'tcp', Timeout => 10) or return undef;
	my $cl = Test::Portico::Client->new($plain, sock => $s);
	$cl->request(GET => $target, host => $host, headers => \@h);
	my $r = $cl->response;
	return $r && $r->{status} == 200 ? $JSON->decode($r->{body})->{header} : {};
}

my $s = seen('127.0.0.1', 'xff.test', '/real1/echo', 'X-Forwarded-For' => '1.2.3.4, 10.0.0.1');
is($s->{'x-real-ip'}, '1.2.3.4',
   'X-Forwarded-For from a trusted peer: the rightmost untrusted address is the client');
is($s->{'x-forwarded-for'}, '1.2.3.4, 10.0.0.1, 1.2.3.4',
   '... and X-Forwarded-For upstream gets it appended, as nginx\'s $proxy_add_x_forwarded_for');
ok(wait_for(sub { grep { m{^1\.2\.3\.4 .*"GET /real1/echo } } $p->access_log('real.log') }, 10),
   '... and the access log shows it');

SKIP: {
	my $untrusted = seen('127.0.0.2', 'xff.test', '/real2/echo',
			     'X-Forwarded-For' => '1.2.3.4, 10.0.0.1');
	skip 'cannot bind 127.0.0.2', 1 unless $untrusted;
	is($untrusted->{'x-real-ip'}, '127.0.0.2',
	   'from a peer outside real_ip_from the field is not believed');
}

is(seen('127.0.0.1', 'xff.test', '/real3/echo',
	'X-Forwarded-For' => '10.0.0.5, 10.0.0.1')->{'x-real-ip'}, '10.0.0.5',
   'every address trusted: the leftmost is the client');
is(seen('127.0.0.1', 'xff.test', '/real4/echo',
	'X-Forwarded-For' => '6.6.6.6, junk, 10.0.0.1')->{'x-real-ip'}, '10.0.0.1',
   'what is no address ends the walk: nothing left of it is believed');
is(seen('127.0.0.1', 'xff.test', '/real5/echo', 'X-Forwarded-For' => '5.6.7.8',
	'X-Forwarded-For' => '10.0.0.2')->{'x-real-ip'}, '5.6.7.8',
   'two X-Forwarded-For fields are one list');
is(seen('127.0.0.1', 'xff.test', '/real6/echo')->{'x-real-ip'}, '127.0.0.1',
   'without the field the peer is the client');
is(seen('127.0.0.1', 'xff.test', '/real7/echo',
	'X-Forwarded-For' => '198.51.100.1:5555, [2001:db8::9]:1, 10.0.0.1')->{'x-real-ip'},
   '2001:db8::9', 'an address with a port is read without it');

$s = seen('127.0.0.1', 'fwd.test', '/real8/echo',
	  'Forwarded' => 'for=192.0.2.43, for="[2001:db8::1]:443";proto=https, for=10.0.0.1');
is($s->{'x-real-ip'}, '2001:db8::1', 'Forwarded: for="[2001:db8::1]:443" is the client');
is($s->{forwarded}, 'for="[2001:db8::1]";proto=http',
   '... and the Forwarded portico sends names it');
is(seen('127.0.0.1', 'fwd.test', '/real9/echo',
	'Forwarded' => 'for=192.0.2.43, for=unknown;by=10.0.0.1, for="[2001:db8:ffff::1]"')->{'x-real-ip'},
   '2001:db8:ffff::1', 'Forwarded: for=unknown ends the walk at the last trusted address');
is(seen('127.0.0.1', 'fwd.test', '/real10/echo', 'X-Forwarded-For' => '1.2.3.4')->{'x-real-ip'},
   '127.0.0.1', 'a site reading Forwarded ignores X-Forwarded-For');

done_testing;
