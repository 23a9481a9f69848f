#!/usr/bin/perl

# TLS sessions shared by every worker: a session made on one worker
# resumes on another, by session ID (the shared cache) and by ticket (the
# shared ticket keys); tickets outlive a reload, and ticket keys rotate on
# schedule. And TLS to upstreams: verified against a CA and a name (a
# failure is a 502), with a client certificate, resumed across
# connections and workers, and health-checked over TLS.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Test::Portico::TLS qw(https);
use Time::HiRes qw(sleep time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $dir = File::Temp::tempdir('portico-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my $pki = Test::Portico::TLS->new($dir);
my $clients = Test::Portico::TLS->new($dir, name => 'clients');
my ($a_pem, $a_key) = $pki->cert('a.test');
my ($m_pem, $m_key) = $pki->cert('mtls.test');
my ($proxy_cert, $proxy_key) = $clients->cert('portico', client => 1, cn => 'portico proxy');
chmod 0600, glob("$dir/*.key");
my $ca = $pki->ca_file;

# The https listener serves the backend over TLS; the upstreams below go
# through it, so portico is its own TLS backend.
my $p = Test::Portico->new(conf => <<"EOF")->start;
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
listen https { address = "127.0.0.1:%%PORT:https%%"  tls = true }
upstream app { server "%%BACKEND:a%%" {} }
upstream secure {
	keepalive = 0
	tls = true  tls_ca = "$ca"  tls_server_name = "a.test"
	server "127.0.0.1:%%PORT:https%%" {}
	health_check { path = "/name"  interval = "300ms"  host = "a.test" }
}
upstream wrongname {
	tls = true  tls_ca = "$ca"  tls_server_name = "other.test"
	server "127.0.0.1:%%PORT:https%%" {}
}
upstream byaddress {
	tls = true  tls_ca = "$ca"
	server "127.0.0.1:%%PORT:https%%" {}
}
upstream unverified {
	tls = true  tls_verify = false
	server "127.0.0.1:%%PORT:https%%" {}
}
upstream withcert {
	tls = true  tls_ca = "$ca"  tls_server_name = "mtls.test"
	tls_certificate = "$proxy_cert"  tls_key = "$proxy_key"
	server "127.0.0.1:%%PORT:https%%" {}
}
upstream nocert {
	tls = true  tls_ca = "$ca"  tls_server_name = "mtls.test"
	server "127.0.0.1:%%PORT:https%%" {}
}
site a {
	listen = {"https"}
	hosts = {"a.test", "127.0.0.1"}
	tls { certificate = "$a_pem"  key = "$a_key" }
	route "/" { upstream = "app" }
	route "/status" { status = true }
}
site mtls {
	listen = {"https"}
	hosts = {"mtls.test"}
	tls {
		certificate = "$m_pem"  key = "$m_key"
		verify_client = "required"  client_ca = "${\ $clients->ca_file}"
	}
	route "/" { upstream = "app" }
}
site front {
	listen = {"http"}
	route "/" { upstream = "secure" }
	route "/wrongname/" { upstream = "wrongname" }
	route "/byaddress/" { upstream = "byaddress" }
	route "/unverified/" { upstream = "unverified" }
	route "/withcert/" { upstream = "withcert" }
	route "/nocert/" { upstream = "nocert" }
}
EOF
my $port = $p->port('https');
my $http = $p->port('http');
my ($wa, $wb) = sort { $a <=> $b } $p->wait_workers(2);
ok($wa && $wb, 'two workers run');
$p->allow_log(qr/TLS handshake with upstream/);

sub status {
	my $r = https($port, sni => 'a.test', path => '/status');
	return $r->{status} && $r->{status} == 200 ? decode_json($r->{body}) : {};
}

# ---- resumption across workers ----

for my $case (['TLSv1_2', 1, 'TLS 1.2, session ID (the shared cache)'],
	      ['TLSv1_2', 0, 'TLS 1.2, session ticket'],
	      ['TLSv1_3', 0, 'TLS 1.3, session ticket']) {
	my ($version, $no_ticket, $what) = @$case;
	my $session = Test::Portico::TLS::Session->new;
	my %o = (sni => 'a.test', version => $version, session => $session,
		 no_ticket => $no_ticket, path => '/name');
	my $r1 = https($port, %o, sock => $p->socket_on_worker($port, $wa));
	is($r1->{status}, 200, "$what: a full handshake on worker A");
	is($r1->{reused}, 0, "$what: ... not resumed");
	my $r2 = https($port, %o, sock => $p->socket_on_worker($port, $wb));
	is($r2->{status}, 200, "$what: then a handshake on worker B");
	is($r2->{reused}, 1, "$what: ... resumes A's session");
}
my $st = status();
cmp_ok($st->{tls_handshakes}{resumed} // 0, '>=', 3, 'the status page counts resumed handshakes');
cmp_ok($st->{tls_sessions_cached} // 0, '>=', 1, 'and the sessions in the shared cache ('
    . ($st->{tls_sessions_cached} // 'none') . ')');

# A ticket survives a reload: the previous key is kept.
my $session = Test::Portico::TLS::Session->new;
my %o = (sni => 'a.test', version => 'TLSv1_3', session => $session, path => '/name');
is(https($port, %o)->{reused}, 0, 'a ticket before the reload');
ok(scalar $p->reload_and_wait, 'reload');
is(https($port, %o)->{reused}, 1, 'resumes after it, on the new workers');
like($p->error_log, qr/TLS ticket keys rotated/, 'the reload rotated the ticket keys');

# ---- TLS to upstreams ----

my $r = http_get($http, '/name');
is($r->{status}, 200, 'upstream over TLS, verified against tls_ca and tls_server_name');
is($r->{body}, 'a', '... through to the backend');
my $before = status()->{tls_handshakes}{resumed} // 0;
is(scalar(grep { $_->{status} == 200 } map { http_get($http, '/name') } 1 .. 6), 6,
    'six more requests, each on a new upstream connection (keepalive = 0)');
my $after = status()->{tls_handshakes}{resumed} // 0;
cmp_ok($after - $before, '>=', 5, 'their upstream handshakes resumed the shared session ('
    . ($after - $before) . ' of 6)');

$r = http_get($http, '/wrongname/name');
is($r->{status}, 502, 'a server whose certificate does not name tls_server_name: 502');
like($p->error_log, qr/TLS handshake with upstream 127\.0\.0\.1:\d+ failed: certificate verify failed: hostname mismatch/,
    '... and the reason is logged');
$r = http_get($http, '/byaddress/name');
is($r->{status}, 502, 'without tls_server_name the address is verified, and the certificate lacks it: 502');
$r = http_get($http, '/unverified/name');
is($r->{status}, 200, 'tls_verify = false: served');

$r = http_get($http, '/withcert/echo', host => 'mtls.test');
is($r->{status}, 200, 'a client certificate to an upstream that requires one');
is(decode_json($r->{body})->{header}{'x-client-subject'}, 'CN=portico proxy',
    '... the upstream saw it');
$r = http_get($http, '/nocert/echo', host => 'mtls.test');
is($r->{status}, 502, 'without one: 502');

# ---- health checks over TLS ----

my ($up) = grep { $_->{name} eq 'secure' } @{ status()->{upstreams} // [] };
my $srv = $up ? $up->{servers}[0] : {};
ok(wait_for(sub {
	($up) = grep { $_->{name} eq 'secure' } @{ status()->{upstreams} // [] };
	$srv = $up ? $up->{servers}[0] : {};
	($srv->{checks} // 0) >= 2;
}, 5), 'the checker probes the TLS upstream');
is($srv->{checks_failed}, 0, '... over TLS, every check passing');
is($srv->{last_check_status}, 200, '... with status 200');

# ---- ticket keys rotate on schedule ----

my $q = Test::Portico->new(conf => <<"EOF")->start;
workers = 1
tls_session_cache = "off"
tls_ticket_key_rotation = "1s"
listen https { address = "127.0.0.1:%%PORT:https%%"  tls = true }
upstream app { server "%%BACKEND:a%%" {} }
site a {
	tls { certificate = "$a_pem"  key = "$a_key" }
	route "/" { upstream = "app" }
}
EOF
my $qport = $q->port('https');
my $rotations = sub { scalar(() = $q->error_log =~ /TLS ticket keys rotated/g) };
$session = Test::Portico::TLS::Session->new;
%o = (sni => 'a.test', version => 'TLSv1_2', session => $session, path => '/name');
is(https($qport, %o)->{reused}, 0, 'rotation: a ticket');
my $n0 = $rotations->();
ok(wait_for(sub { $rotations->() >= $n0 + 1 }, 5), 'the keys rotate every tls_ticket_key_rotation');
is(https($qport, %o)->{reused}, 1, 'a ticket of the previous key still resumes (and is renewed)');
$session = Test::Portico::TLS::Session->new;
%o = (%o, session => $session);
is(https($qport, %o)->{reused}, 0, 'a new ticket');
$n0 = $rotations->();
ok(wait_for(sub { $rotations->() >= $n0 + 3 }, 10), 'three rotations later');
is(https($qport, %o)->{reused}, 0, 'its key is gone: a full handshake, no resumption');

done_testing();
