#!/usr/bin/perl

# Unix-domain sockets, as in nginx: listeners ("unix:/path", with the
# file's mode) and upstream servers. Requests through a unix listener to a
# TCP backend and through TCP to a unix backend, keep-alive both ways, TLS
# and the PROXY protocol on a unix listener, a client without address
# ("unix:") and the access rules, PROXY headers to a server for it, health
# checks of a unix server, a reload and a binary upgrade that keep the
# socket, the file removed at stop, a stale file replaced at start, a live
# one refusing the start, and configuration errors with file:line.

use strict;
use warnings;

use IO::Socket::UNIX;
use JSON::PP;
use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Test::Portico::TLS qw(https);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new;
my $tmp = $p->tmp;
my $sock = "$tmp/http.sock";
my $pp_sock = "$tmp/pp.sock";
my $tls_sock = "$tmp/https.sock";
my $pki = Test::Portico::TLS->new($tmp);
my ($pem, $key) = $pki->cert('u.test');
my $ca = $pki->ca_file;

# The unix backends are started before the configuration names them.
$p->backend('ua', unix => "$tmp/ua.sock");
$p->backend('ub', unix => "$tmp/ub.sock");
$p->backend('pp', unix => "$tmp/pps.sock", proxy_protocol => 1);
$p->backend('hc', unix => "$tmp/hc.sock");

my $conf = <<"EOF";
listen http { address = "127.0.0.1:%%PORT:http%%" }
listen ux {
	address = "unix:$sock"
	mode = "0600"
}
listen uxpp { address = "unix:$pp_sock"  proxy_protocol = true }
listen uxtls { address = "unix:$tls_sock"  tls = true }

upstream tcp { server "%%BACKEND:tcp%%" {} }
upstream unix {
	keepalive = 4
	balance = "ip_hash"
	server "%%BACKEND:ua%%" {}
}
upstream pp {
	send_proxy_protocol = "v1"
	server "%%BACKEND:pp%%" {}
}
# portico is its own TLS backend, through its TLS unix listener
upstream tls {
	tls = true  tls_ca = "$ca"  tls_server_name = "u.test"
	server "unix:$tls_sock" {}
}
upstream hc {
	health_check { path = "/name" interval = "200ms" timeout = "1s" fall = 1 rise = 1 }
	server "%%BACKEND:hc%%" {}
	server "%%BACKEND:ub%%" { backup = true }
}

limit_req once { rate = "1r/h"  nodelay = true }

site inner {
	listen = {"uxtls"}
	tls { certificate = "$pem"  key = "$key" }
	route "/" { upstream = "unix" }
}
site s {
	listen = {"http", "ux", "uxpp"}
	access_log = "$tmp/access.log"
	access_log_format = "portico"
	real_ip_from = {"127.0.0.1"}
	route "/u/" { upstream = "unix" }
	route "/tls/" { upstream = "tls" }
	route "/pp/" { upstream = "pp" }
	route "/hc/" { upstream = "hc" }
	route "/limited/" { upstream = "tcp"  limit_req = "once" }
	route "/denied/" { upstream = "tcp"  deny = {"0.0.0.0/0", "::/0"} }
	route "/allowed/" { upstream = "tcp"  allow = {"127.0.0.0/8", "::1"} }
	route "/" { upstream = "tcp" }
}
EOF
$p->write_conf($conf)->start;
my $port = $p->port('http');

sub unix_client {
	my ($path, %opt) = @_;
	my $s = IO::Socket::UNIX->new(Peer => $path) or return undef;
	return Test::Portico::Client->new(undef, sock => $s, %opt);
}

sub unix_get {
	my ($path, $target, %opt) = @_;
	my $c = unix_client($path) or return undef;
	my $r = $c->do(GET => $target, %opt);
	$c->close;
	return $r;
}

sub echo_of { my ($r) = @_; return $r && $r->{status} == 200 ? decode_json($r->{body}) : {} }

# ==== serving over unix sockets ====

is((stat $sock)[2] & 07777, 0600, 'the listener\'s socket file has the mode configured');
ok(-S $sock, 'and is a socket');

my $r = unix_get($sock, '/echo');
is($r->{status}, 200, 'a request through the unix listener reaches a TCP backend');
my $e = echo_of($r);
is($e->{header}{'x-forwarded-for'}, 'unix:', 'a unix client is "unix:" to the backend, as in nginx');
is($e->{header}{forwarded}, 'for=unknown;proto=http', 'and "unknown" in Forwarded');

$r = http_get($port, '/u/name');
is($r->{status}, 200, 'a request through TCP reaches a unix backend');
is($r->{body}, 'ua', 'the unix backend answered');
ok(wait_for(sub { grep { /"GET \/u\/name HTTP\/1.1" 200 .* unix:\Q$tmp\E\/ua.sock / } $p->access_log }),
    'the access log names the server "unix:PATH"');

my $c = unix_client($sock);
my @bodies = map { $c->get("/u/name")->{body} } 1 .. 3;
is("@bodies", 'ua ua ua', 'three requests on one unix client connection (keep-alive)');
$c->close;
my @conns = map { $_->{conn} } $p->backend('ua')->requests;
is("@conns", "1 1 1 1", 'went over the connection to the unix server kept alive since the first');

$r = https(undef, sock => IO::Socket::UNIX->new(Peer => $tls_sock), sni => 'u.test',
    path => '/u/name');
is($r->{status}, 200, 'TLS on a unix listener');
is($r->{body}, 'ua', 'and the request is served');
$r = http_get($port, '/tls/name');
is($r->{status}, 200, 'TLS to a server on a unix socket, verified by its name');
is($r->{body}, 'ua', 'the request went through it');

# ==== the access rules for a client without address ====

is(unix_get($sock, '/denied/name')->{status}, 200, 'deny never refuses a unix client: it is in no prefix');
is(http_get($port, '/denied/name')->{status}, 403, 'while it refuses a TCP client');
is(unix_get($sock, '/allowed/name')->{status}, 403, 'an allow list refuses a unix client');
is(http_get($port, '/allowed/name')->{status}, 200, 'and lets 127.0.0.1 in');

my $xff = [ 'X-Forwarded-For' => '198.51.100.9' ];
$e = echo_of(unix_get($sock, '/echo', headers => $xff));
is($e->{header}{'x-real-ip'}, '198.51.100.9',
    'real_ip_from trusts a unix client as 127.0.0.1: the address it forwards is the client');
is(unix_get($sock, '/denied/name', headers => $xff)->{status}, 403,
    'which the access rules then see');

# ==== limits ====

is(unix_get($sock, '/limited/name')->{status}, 200, 'limit_req on a unix listener: the first request passes');
is(unix_get($sock, '/limited/name')->{status}, 429,
    'the next, on another connection, is over the limit: unix clients share the key "unix:"');
is(http_get($port, '/limited/name')->{status}, 200, 'while a TCP client has its own');

# ==== the PROXY protocol ====

$c = unix_client($pp_sock);
$c->send_raw("PROXY TCP4 192.0.2.7 192.0.2.1 5555 80\r\n");
$e = echo_of($c->get('/echo'));
is($e->{header}{'x-forwarded-for'}, '192.0.2.7',
    'a PROXY header on a unix listener names the client (a local peer is trusted by default)');
$r = $c->get('/pp/name');
is($r->{status}, 200, 'and that client reaches a server that takes PROXY headers');
$c->close;
ok(wait_for(sub { grep { $_->{header} eq 'PROXY TCP4 192.0.2.7 192.0.2.1 5555 80' }
    $p->backend('pp')->proxy_headers }), 'which is told who the client is');

is(unix_get($sock, '/pp/name')->{status}, 200, 'a unix client without PROXY header');
ok(wait_for(sub { grep { $_->{header} eq 'PROXY UNKNOWN' } $p->backend('pp')->proxy_headers }),
    'is "PROXY UNKNOWN" to the server: it has no address');

$c = unix_client($pp_sock);
$c->send_raw("GET /name HTTP/1.1\r\nHost: x\r\n\r\n");
ok($c->closed_within(5), 'a PROXY listener on a unix socket closes a connection without header');
$c->close;

# ==== health checks of a unix server ====

$p->backend('hc')->stop;
unlink "$tmp/hc.sock";
ok(wait_for(sub { $p->error_log =~ /upstream "hc" server unix:\Q$tmp\E\/hc.sock is down/ }),
    'a unix server whose socket went away is marked down');
is(http_get($port, '/hc/name')->{body}, 'ub', 'and the backup server takes its requests');
delete $p->{backends}{hc};
$p->backend('hc', unix => "$tmp/hc.sock");
ok(wait_for(sub { $p->error_log =~ /upstream "hc" server unix:\Q$tmp\E\/hc.sock is up again/ }),
    'and up again when its socket is back');
ok(wait_for(sub { (http_get($port, '/hc/name')->{body} // '') eq 'hc' }), 'serving again');

# ==== a reload keeps the socket ====

my $ino = (stat $sock)[1];
my $slow = unix_client($sock);
# Held by the backend until released: still in progress when the new
# workers are up, however slow the machine.
$slow->request(GET => '/delay/60000/name');
ok(wait_for(sub { grep { $_->{target} =~ m{/delay/60000/} } $p->backend('tcp')->requests }),
    'a slow request is in progress through the unix listener');
my %old = map { $_ => 1 } $p->worker_pids;
# The new configuration changes the mode and drops the PROXY listener.
$p->write_conf($conf =~ s/mode = "0600"/mode = "0660"/r =~ s/^listen uxpp .*\n//mr =~ s/, "uxpp"//r);
$p->signal('HUP');
my ($refused, $tries, @new) = (0, 0);
# Requests go on through the reload: none is refused.
my $get = sub {
	$tries++;
	my $x = unix_get($sock, '/name');
	$refused++ unless $x && $x->{status} == 200;
};
wait_for(sub { $get->(); @new = grep { !$old{$_} } $p->worker_pids; @new >= 1 });
ok(@new >= 1, 'HUP: a new generation of workers');
ok((grep { Test::Portico::alive($_) } keys %old), '... while the old worker still serves the '
    . 'request made before');
$p->backend('tcp')->release;
is($slow->response->{body}, 'tcp', 'a client connected before the reload gets its answer');
$slow->close;
wait_for(sub { $get->(); !grep { Test::Portico::alive($_) } keys %old });
is($refused, 0, "no request failed during the reload ($tries made)");
is((stat $sock)[1], $ino, 'the socket file is the same one');
is((stat $sock)[2] & 07777, 0660, 'with the mode of the new configuration');
ok(!-e $pp_sock, 'the socket file of the listener the reload dropped is removed');
is(unix_get($sock, '/name')->{status}, 200, 'and the new workers serve on it');

# ==== a binary upgrade hands the socket over ====

sub workers_of {
	my ($master) = @_;
	return map { $_->{pid} } grep { $_->{comm} eq 'portico-worker' }
	    Test::Portico::children_of($master);
}

sub upgrade {
	my ($old) = @_;
	kill 'USR2', $old;
	my $new;
	wait_for(sub { $new = $p->master_pid; $new && $new != $old && workers_of($new) >= 1 }, 15)
	    or return undef;
	return $new;
}

my $m1 = $p->master_pid;
my $m0 = upgrade($m1);
ok($m0, 'USR2: a new master with its workers');
like($p->error_log, qr/binary upgrade: 3 listening sockets inherited/, 'it inherits the unix sockets');
unlike($p->error_log, qr/removed the stale socket/, 'and binds none of them again');
kill 'QUIT', $m0;
ok(wait_for(sub { !Test::Portico::alive($m0) && ($p->master_pid // 0) == $m1 }, 10),
    'QUIT to the new master: a rollback to the old one');
ok(-S $sock && (stat $sock)[1] == $ino, 'which keeps its socket file');
is(unix_get($sock, '/name')->{status}, 200, 'and serves on it');

my $m2 = upgrade($m1);
ok($m2, 'USR2 again');
kill 'QUIT', $m1;
ok(wait_for(sub { !Test::Portico::alive($m1) }, 10), 'QUIT: the old master exits');
ok(-S $sock && (stat $sock)[1] == $ino, 'leaving the socket file to the new master');
is(unix_get($sock, '/u/name')->{body}, 'ua', 'which serves on it');
$p->follow_pid_file;

# ==== stop removes the file ====

ok($p->stop, 'the master stops');
ok(!-e $sock && !-e $tls_sock, 'and removes its socket files');

# ==== a stale file is replaced; a live one refuses the start ====

my $q = Test::Portico->new;
my $qsock = "$tmp/q.sock";
my $stale = IO::Socket::UNIX->new(Local => $qsock, Listen => 1) or die "$qsock: $!\n";
close $stale;	# the file stays, nothing accepts on it
# As root, the file can be given to another group.
my $other_gid = $> == 0 ? getgrnam('nogroup') : undef;
my $qgroup = defined $other_gid ? 'group = "nogroup"' : '';
my $qconf = <<"EOF";
listen ux { address = "unix:$qsock"  $qgroup }
upstream tcp { server "%%BACKEND:tcp%%" {} }
site s { route "/" { upstream = "tcp" } }
EOF
$q->write_conf($qconf)->start;
like($q->error_log, qr/listen "ux": removed the stale socket \Q$qsock\E/,
    'a stale socket file is removed at start');
is(unix_get($qsock, '/name')->{status}, 200, 'and the listener serves');
is((stat $qsock)[2] & 07777, 0666, 'with the default mode');
SKIP: {
	skip 'not root, or no group "nogroup"', 1 unless defined $other_gid;
	is((stat $qsock)[5], $other_gid, 'and the group configured');
}

my $q2 = Test::Portico->new;
$q2->write_conf($qconf);
my ($rc, undef, $err) = $q2->run('-F');
isnt($rc, 0, 'a second portico on the same socket does not start');
like($err, qr/listen "ux": \Q$qsock\E is in use: something accepts connections on it/,
    'and says the socket is in use');
is(unix_get($qsock, '/name')->{status}, 200, 'the first one still serves on it');

my $q3 = Test::Portico->new;
my $plain = "$tmp/plain";
open my $fh, '>', $plain or die "$plain: $!\n";
close $fh;
$q3->write_conf($qconf =~ s/\Q$qsock\E/$plain/r);
($rc, undef, $err) = $q3->run('-F');
isnt($rc, 0, 'a path that is not a socket refuses the start');
like($err, qr/\Q$plain\E exists and is not a socket/, 'and is left alone');
ok(-f $plain, 'the file is still there');
$q->stop;

# ==== configuration errors ====

my $long = '/tmp/' . ('x' x 110) . '.sock';
my $bad = Test::Portico->new;
$bad->write_conf(<<"EOF");
listen a { address = "unix:$long" }
listen b {
	address = "unix:$tmp/b.sock"
	mode = "0999"
}
listen c { address = "127.0.0.1:%%PORT:c%%"  mode = "0600" }
listen d { address = "unix:relative.sock" }
listen e { address = "unix:$tmp/b.sock" }
upstream u { server "unix:$long" {} }
upstream t {
	tls = true
	server "unix:$tmp/t.sock" {}
}
site s { route "/" { upstream = "u" } }
EOF
($rc, undef, $err) = $bad->run('-t');
isnt($rc, 0, 'a bad configuration is refused');
my $f = $bad->conf_file;
like($err, qr/\Q$f\E:1: bad address "unix:\/tmp\/x+\.sock": unix socket path is 120 bytes long, longer than the 107/,
    'a path too long for a socket address, with file:line');
like($err, qr/\Q$f\E:4: listen "b": mode: expected octal permissions/, 'a bad mode, with file:line');
like($err, qr/\Q$f\E:6: listen "c": mode is for a unix socket/, 'a mode on a TCP listener');
like($err, qr/\Q$f\E:7: .*a unix socket path must be absolute/, 'a relative path');
like($err, qr/\Q$f\E:8: listen "e": address unix:\Q$tmp\E\/b.sock is already used by listen "b"/,
    'two listeners on one socket path');
like($err, qr/\Q$f\E:9: server: bad address "unix:\/tmp\/x+\.sock": unix socket path is 120/,
    'a server path too long');
like($err, qr/\Q$f\E:11: upstream "t": server unix:\S+ is a unix socket, which has no IP address/,
    'TLS verification of a unix server needs a name');

my $group = getgrgid((split ' ', $))[0]) // 'root';
my $rt = Test::Portico->new;
$rt->write_conf(<<"EOF");
listen ux {
	address = "unix:$tmp/rt.sock"
	mode = "0640"
	group = "$group"
}
upstream u { server "unix:$tmp/app.sock" {} }
site s { route "/" { upstream = "u" } }
EOF
my ($rc2, $out) = $rt->run('-T');
is($rc2, 0, '-T writes a unix listener back');
like($out, qr/address = "unix:\Q$tmp\E\/rt.sock"\n\tmode = "0640"\n\tgroup = "\Q$group\E"/,
    'with its address, mode and group');
like($out, qr/server "unix:\Q$tmp\E\/app.sock"/, 'and a unix server');

done_testing();
