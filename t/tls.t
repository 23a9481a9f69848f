#!/usr/bin/perl

# TLS termination: certificates made now by a test CA; sites chosen by
# SNI, RSA and ECDSA side by side, a default certificate; protocols and
# ALPN; Host against SNI (421); redirect_https and hsts; client
# certificates, required and optional, with the subject passed upstream;
# keys read by the master alone; OCSP stapling refreshed on reload;
# handshakes bounded by tls_handshake_timeout, and a silent client costs no
# TLS state.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Test::Portico::Backend qw(content content_md5);
use Test::Portico::TLS qw(https tls_connect);
use Digest::MD5 qw(md5_hex);
use File::Copy qw(copy);
use Time::HiRes qw(sleep time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $dir = File::Temp::tempdir('portico-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my $pki = Test::Portico::TLS->new($dir);
my $clients = Test::Portico::TLS->new($dir, name => 'clients');
my $stranger = Test::Portico::TLS->new($dir, name => 'stranger');
my ($a_ec, $a_ec_key) = $pki->cert('a.test', cn => 'a.test ec');
my ($a_rsa, $a_rsa_key) = $pki->cert('a.test', rsa => 1, cn => 'a.test rsa');
my ($b_pem, $b_key) = $pki->cert('b.test');
my ($m_pem, $m_key) = $pki->cert('m.test');
my ($t_pem, $t_key) = $pki->cert('t13.test');
my ($alice, $alice_key) = $clients->cert('alice', client => 1, cn => 'alice');
my ($mallory, $mallory_key) = $stranger->cert('mallory', client => 1, cn => 'mallory');
my $ocsp = $pki->ocsp_response($b_pem, "$dir/b.ocsp", days => 1);
# Only root may read the keys: the master, before the workers drop root.
chmod 0600, glob("$dir/*.key");

my $conf = <<"EOF";
workers = 2
tls_handshake_timeout = "1s"
listen http { address = "127.0.0.1:%%PORT:http%%" }
listen https { address = "127.0.0.1:%%PORT:https%%"  tls = true }
upstream app { server "%%BACKEND:a%%" {} }
site a {
	listen = {"http", "https"}
	hosts = {"a.test"}
	redirect_https = true
	hsts = "max-age=600"
	tls { certificate = {"$a_ec", "$a_rsa"}  key = {"$a_ec_key", "$a_rsa_key"} }
	route "/" { upstream = "app" }
}
site b {
	listen = {"https"}
	hosts = {"b.test"}
	tls {
		certificate = "$b_pem"  key = "$b_key"
		ocsp_response = "$ocsp"
		verify_client = "required"  client_ca = "${\ $clients->ca_file}"
	}
	route "/" { upstream = "app" }
}
site m {
	listen = {"https"}
	hosts = {"m.test"}
	tls {
		certificate = "$m_pem"  key = "$m_key"
		verify_client = "optional"  client_ca = "${\ $clients->ca_file}"
		client_subject_header = "X-SSL-Client-DN"
	}
	route "/" { upstream = "app" }
	route "/status" { status = true }
}
site t13 {
	listen = {"https"}
	hosts = {"t13.test"}
	tls { certificate = "$t_pem"  key = "$t_key"  protocols = {"TLSv1.3"} }
	route "/" { upstream = "app" }
}
EOF
my $p = Test::Portico->new(conf => $conf)->start;
my $port = $p->port('https');
my $http = $p->port('http');

sub echo_of {
	my ($r) = @_;
	return $r && !$r->{error} && $r->{status} == 200 ? decode_json($r->{body}) : {};
}

# ---- certificates by SNI ----

my $r = https($port, sni => 'a.test', path => '/name');
is($r->{status}, 200, 'TLS: a request through to the backend') or diag($r->{error});
is($r->{body}, 'a', '... answered by it');
is($r->{version}, 'TLSv1.3', 'TLS 1.3 by default');
is($r->{subject}, '/CN=a.test ec', 'SNI a.test: the site\'s certificate (ECDSA preferred)');
is($r->{alpn}, undef, 'no ALPN asked, none given');
$r = https($port, sni => 'a.test', version => 'TLSv1_2', ciphers => 'ECDHE-RSA-AES128-GCM-SHA256');
is($r->{subject}, '/CN=a.test rsa', 'a client that takes only RSA gets the site\'s RSA certificate');
$r = https($port, sni => 'a.test', version => 'TLSv1_2', ciphers => 'ECDHE-ECDSA-AES128-GCM-SHA256');
is($r->{subject}, '/CN=a.test ec', '... and one that takes only ECDSA its ECDSA certificate');
is(https($port, sni => 't13.test')->{subject}, '/CN=t13.test', 'SNI t13.test: that site\'s');
$r = https($port, sni => 'b.test', cert => $alice, key => $alice_key, path => '/echo', http10 => 1);
is(echo_of($r)->{header}{'x-client-subject'}, 'CN=alice',
    'an HTTP/1.0 request without Host is for the site SNI named');
$r = https($port, sni => 'unknown.test', host => 'a.test');
is($r->{subject}, '/CN=a.test ec', 'an unknown SNI name: the default site\'s certificate');
is($r->{status}, 200, '... which serves its Host');
$r = https($port, host => 'a.test');
is($r->{subject}, '/CN=a.test ec', 'no SNI: the default site\'s certificate');
is($r->{status}, 200, '... which serves its Host');

# ---- protocols and ALPN ----

$r = https($port, sni => 'a.test', version => 'TLSv1_2');
is($r->{version}, 'TLSv1.2', 'TLS 1.2 is accepted');
like($r->{cipher}, qr/^ECDHE-/, 'with forward secrecy (' . ($r->{cipher} // '') . ')');
my $old = `echo | openssl s_client -connect 127.0.0.1:$port -servername a.test -tls1_1 -cipher 'DEFAULT:\@SECLEVEL=0' 2>&1`;
like($old, qr/alert protocol version/, 'TLS 1.1 is refused by the server (protocol_version alert)');
$r = https($port, sni => 't13.test', version => 'TLSv1_2');
ok($r->{error}, 'a site with protocols = {"TLSv1.3"} refuses TLS 1.2 (named by SNI)');
is(https($port, sni => 't13.test', version => 'TLSv1_3', path => '/name')->{status}, 200,
    '... and serves TLS 1.3');
$r = https($port, sni => 'a.test', alpn => ['h2', 'http/1.1'], path => '/name');
is($r->{alpn}, 'http/1.1', 'ALPN: http/1.1 chosen among h2 and http/1.1');
is($r->{status}, 200, '... and served');
$r = https($port, sni => 'a.test', alpn => ['h2']);
ok($r->{error}, 'ALPN with h2 alone: refused, not answered in HTTP/1.1');

# ---- Host against SNI, forwarding ----

$r = https($port, sni => 'a.test', host => 't13.test');
is($r->{status}, 421, 'Host naming another site than SNI: 421');
$r = https($port, sni => 'a.test', host => 'a.test:' . $port, path => '/echo');
is($r->{status}, 200, 'Host with the port: the same site');
is(echo_of($r)->{header}{'x-forwarded-proto'}, 'https', 'the backend sees X-Forwarded-Proto: https');
like(echo_of($r)->{header}{forwarded} // '', qr/proto=https/, '... and Forwarded: proto=https');

# ---- bodies larger than any buffer or record ----

my $n = 5 * 1024 * 1024 + 17;
$r = https($port, sni => 'a.test', path => "/size/$n");
is(length($r->{body} // ''), $n, 'a 5 MB download over TLS arrives whole');
is(md5_hex($r->{body} // ''), content_md5($n), '... unchanged (md5)');
$r = https($port, sni => 'a.test', method => 'POST', path => '/upload', body => content($n));
my $up = echo_of($r);
is($up->{length}, $n, 'a 5 MB upload over TLS reaches the backend whole');
is($up->{md5}, content_md5($n), '... unchanged (md5)');

# Two requests in one TLS record: both answered, in order, on the
# connection kept alive between them.
my ($tc) = tls_connect($port, sni => 'a.test');
Net::SSLeay::ssl_write_all($tc->{ssl}, "GET /name HTTP/1.1\r\nHost: a.test\r\n\r\n"
    . "GET /size/3 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
my $both = '';
while (defined(my $got = Net::SSLeay::read($tc->{ssl}))) {
	last if $got eq '';
	$both .= $got;
}
Test::Portico::TLS::tls_close($tc);
like($both, qr{^HTTP/1\.1 200 .*?\r\n\r\naHTTP/1\.1 200 .*?\r\n\r\n\Q${\ content(3)}\E$}s,
    'pipelined requests over TLS: both answered, in order');

# A WebSocket tunnel through TLS: bytes both ways after the 101.
($tc) = tls_connect($port, sni => 'a.test');
Net::SSLeay::ssl_write_all($tc->{ssl}, "GET /ws HTTP/1.1\r\nHost: a.test\r\n"
    . "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
my $head = '';
$head .= Net::SSLeay::read($tc->{ssl}) // last while $head !~ /\r\n\r\n/;
like($head, qr{^HTTP/1\.1 101 }, 'an upgrade over TLS: 101');
Net::SSLeay::ssl_write_all($tc->{ssl}, 'ping over tls');
my $echo = '';
$echo .= Net::SSLeay::read($tc->{ssl}) // last while length $echo < 13;
is($echo, 'ping over tls', '... and the tunnel carries bytes both ways');
Test::Portico::TLS::tls_close($tc);

# ---- redirect_https and hsts ----

my $h = http($http, target => '/x/y?q=1', host => 'a.test');
is($h->{status}, 301, 'plain HTTP to a redirect_https site: 301');
is($h->{header}{location}, "https://a.test:$port/x/y?q=1", '... to https, same host, path and query');
is($h->{header}{'strict-transport-security'}, undef, 'no Strict-Transport-Security in the clear');
$h = http($http, target => 'http://a.test/abs?k=v', host => 'a.test');
is($h->{header}{location}, "https://a.test:$port/abs?k=v", 'an absolute-form target too');
$r = https($port, sni => 'a.test', path => '/name');
is($r->{header}{'strict-transport-security'}, 'max-age=600', 'hsts over TLS');
is(https($port, sni => 'a.test', path => '/status/404')->{header}{'strict-transport-security'},
    'max-age=600', '... on error answers too');
is(https($port, sni => 'm.test', path => '/name')->{header}{'strict-transport-security'}, undef,
    'not on a site without hsts');

# ---- client certificates ----

$r = https($port, sni => 'b.test', path => '/echo');
ok($r->{error} || $r->{status} != 200, 'verify_client = required: no certificate, no answer');
$r = https($port, sni => 'b.test', path => '/echo', cert => $mallory, key => $mallory_key);
ok($r->{error} || $r->{status} != 200, '... a certificate from another CA: no answer');
$r = https($port, sni => 'b.test', path => '/echo', cert => $alice, key => $alice_key,
    headers => ['X-Client-Subject' => 'CN=admin']);
is($r->{status}, 200, '... a certificate from client_ca: served') or diag($r->{error});
is(echo_of($r)->{header}{'x-client-subject'}, 'CN=alice',
    'the verified subject reaches the backend in X-Client-Subject (the client\'s own is dropped)');
$r = https($port, sni => 'm.test', path => '/echo', headers => ['X-SSL-Client-DN' => 'CN=admin']);
is($r->{status}, 200, 'verify_client = optional: served without a certificate');
is(echo_of($r)->{header}{'x-ssl-client-dn'}, undef, '... with no subject (the client\'s own is dropped)');
$r = https($port, sni => 'm.test', path => '/echo', cert => $alice, key => $alice_key);
is(echo_of($r)->{header}{'x-ssl-client-dn'}, 'CN=alice', '... and with one, its subject');
$r = https($port, sni => 'm.test', path => '/echo', cert => $mallory, key => $mallory_key);
ok($r->{error} || $r->{status} != 200, '... but one that does not verify is refused');
$r = https($port, sni => 'a.test', host => 'b.test', path => '/echo');
is($r->{status}, 421, 'Host b.test over a handshake for a.test: 421, never b without a client certificate');

# ---- OCSP stapling ----

sub stapled {
	my $out = `echo | openssl s_client -connect 127.0.0.1:$port -servername b.test -status -cert $alice -key $alice_key 2>&1`;
	return $out =~ /OCSP Response Status: successful.*?Next Update: ([^\n]+)/s ? $1 : undef;
}
my $next = stapled();
ok($next, 'OCSP: the response file is stapled for a client that asks (' . ($next // 'none') . ')');
unlike(`echo | openssl s_client -connect 127.0.0.1:$port -servername a.test -status 2>&1`,
    qr/OCSP Response Status/, '... and only on the site that has one');

# ---- keys stay with the master ----

my @w = $p->wait_workers(2);
my $nobody_reads = system('su', '-s', '/bin/sh', 'nobody', '-c', "cat $b_key >/dev/null 2>&1");
ok($> != 0 || $nobody_reads != 0, 'the workers\' user cannot read the key file');
my @open = grep { /\.key$/ } map { my $pid = $_; map { readlink($_) // '' } glob("/proc/$pid/fd/*") } @w;
ok(!@open, 'no worker holds a key file open');

# A new certificate and OCSP response on disk: the master reads both on reload.
my ($b2_pem, $b2_key) = $pki->cert('b.test', file => 'b2', cn => 'b.test renewed');
chmod 0600, $b2_key;
rename $b2_pem, $b_pem or die;
rename $b2_key, $b_key or die;
$pki->ocsp_response($b_pem, $ocsp, days => 5);
ok(scalar $p->reload_and_wait, 'reload with the renewed certificate');
$r = https($port, sni => 'b.test', cert => $alice, key => $alice_key, path => '/name');
is($r->{subject}, '/CN=b.test renewed', 'the renewed certificate is served (read by the master as root)');
my $next2 = stapled();
ok($next2 && $next && $next2 ne $next, "the OCSP response was read again ($next2)");

# ---- handshakes bounded, silent clients cheap ----

my $c = Test::Portico::Client->new($port, timeout => 5);
my $t0 = time;
ok($c->closed_within(4), 'a client that never speaks TLS is closed');
cmp_ok(time - $t0, '>=', 0.8, sprintf('... at tls_handshake_timeout (%.1f s)', time - $t0));
$c = Test::Portico::Client->new($port, timeout => 5);
$c->send_raw("\x16\x03\x01\x00");
ok($c->closed_within(4), 'one that stops in the middle of its ClientHello too');
$c = Test::Portico::Client->new($port, timeout => 5);
my $plain = $c->get('/name', host => 'a.test');
is($plain && $plain->{status}, 400, 'plain HTTP to the TLS listener: 400, readable in the clear');
ok($c->closed_within(2), '... and the connection closes');
is(https($port, sni => 'a.test', path => '/name')->{status}, 200, 'meanwhile others are served');

SKIP: {
	skip 'RSS is not meaningful under sanitizers', 1 if Test::Portico::sanitized_build();
	# Both workers share them; whatever each holds, it holds no TLS state.
	my $rss = sub { my $t = 0; $t += Test::Portico::rss_bytes($_) for $p->worker_pids; $t };
	my $before = $rss->();
	my @silent = map { Test::Portico::Client->new($port) } 1 .. 300;
	wait_for(sub { 0 }, 0.5);
	my $per = ($rss->() - $before) / 300;
	cmp_ok($per, '<', 1024, sprintf('300 silent TLS clients cost %.0f bytes each, no TLS state', $per));
	$_->close for @silent;
}

# ---- configuration errors name file:line ----

my $bad = Test::Portico->new(conf => <<"EOF");
listen https { address = "127.0.0.1:%%PORT:https%%"  tls = true }
upstream app { server "%%BACKEND:a%%" {} }
site a {
	tls { certificate = "$a_ec"  key = "$b_key" }
	route "/" { upstream = "app" }
}
site b {
	hosts = {"b.test"}
	route "/" { upstream = "app" }
}
site c {
	listen = {"https"}
	hosts = {"c.test"}
	tls {
		certificate = "$dir/none.pem"  key = "$b_key"
		protocols = {"TLSv1.2", "SSLv3"}
		verify_client = "required"
	}
	route "/" { upstream = "app" }
}
EOF
my ($rc, undef, $err) = $bad->run('-t');
isnt($rc, 0, 'portico -t refuses bad TLS settings');
like($err, qr/portico\.conf:4: private key ".*b\.test-ec\.key" does not match certificate/, 'a key that is not the certificate\'s: file:line');
like($err, qr/portico\.conf:7: site "b" is served on listener "https", which has tls = true, but has no tls/,
    'a site on a TLS listener without certificate: file:line');
like($err, qr/portico\.conf:16: protocols: unknown protocol "SSLv3"/, 'an unknown protocol: file:line');
like($err, qr/portico\.conf:17: verify_client = "required" needs client_ca/, 'verify_client without client_ca: file:line');

# A certificate that is not there, and a key the master may not read: the
# path and why, in words. Root reads any file, so as root the check runs
# without the capabilities that override file modes.
my $locked = "$dir/locked.key";
copy($b_key, $locked) && chmod(0, $locked) or die "copying the key: $!\n";
my $unreadable = Test::Portico->new(conf => <<"EOF");
listen https { address = "127.0.0.1:%%PORT:https%%"  tls = true }
upstream app { server "%%BACKEND:a%%" {} }
site b {
	tls { certificate = "$b_pem"  key = "$locked" }
	route "/" { upstream = "app" }
}
site m {
	hosts = {"m.test"}
	tls { certificate = "$dir/none.pem"  key = "$m_key" }
	route "/" { upstream = "app" }
}
EOF
my @mode_bound = $> == 0 ? ('setpriv', '--bounding-set=-dac_override,-dac_read_search', '--') : ();
my $modes_bind = !@mode_bound || system(@mode_bound, 'true') == 0;
($rc, undef, $err) = $unreadable->run_under($modes_bind ? \@mode_bound : [], '-t');
isnt($rc, 0, 'portico -t refuses a certificate or key it cannot read');
SKIP: {
	skip 'root here cannot give up reading every file (setpriv failed)', 1 unless $modes_bind;
	like($err, qr/portico\.conf:4: cannot read private key "\Q$locked\E": Permission denied$/m,
	    'a key it may not read: the path, and why');
}
like($err, qr/portico\.conf:9: cannot read certificate chain "\Q$dir\E\/none\.pem": No such file or directory$/m,
    'a certificate that is not there: the path, and why');

done_testing();
