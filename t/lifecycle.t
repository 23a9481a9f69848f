#!/usr/bin/perl

# The master's life: pid file, workers, a killed worker respawned, graceful
# reload with a request in flight, a refused reload, QUIT and TERM, IPv6
# listeners, daemon mode.

use strict;
use warnings;

use File::Temp ();
use IO::Socket::IP;
use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Test::Portico::Loop;
use Test::Portico::TLS;
use Test::Portico::Wrk;
use Time::HiRes qw(time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $conf = <<'EOF';
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream a { server "%%BACKEND:a%%" {} }
upstream b { server "%%BACKEND:b%%" {} }
site main { route "/" { upstream = "%%UP%%" } }
EOF
my $p = Test::Portico->new(conf => $conf =~ s/%%UP%%/a/r)->start;
my $port = $p->port('http');
my $master = $p->master_pid;

is($master, $p->spawned_pid, 'the pid file holds the master\'s pid');
is(Test::Portico::proc_stat($master)->{comm}, 'portico-master', 'the master is named portico-master');
my @workers = $p->wait_workers(2);
is(scalar(@workers), 2, 'workers = 2: two portico-worker children of the master');

# A worker killed with SIGKILL under load is replaced; the other worker
# serves on. Only the connections the dead worker held may fail.
$p->allow_log(qr/signal 9|killed|SIGKILL/i);
my $load = Test::Portico::Wrk->start("http://127.0.0.1:$port/name", duration => 30,
    connections => 16);
ok(wait_for(sub { $p->backend('a')->request_count > 100 }, 10), 'wrk is loading both workers');
my $victim = $workers[0];
kill 'KILL', $victim;
my $at_kill = $p->backend('a')->request_count;
my @now;
ok(wait_for(sub { @now = $p->worker_pids; @now == 2 && !grep { $_ == $victim } @now }, 10),
    'a worker killed with SIGKILL under load is replaced by a new one');
ok(wait_for(sub { $p->backend('a')->request_count > $at_kill + 1000 }, 10),
    'requests go on being served after the kill');
my $w = $load->finish;
is($w->{non2xx}, 0, 'every answer wrk got was 2xx');
cmp_ok($w->{errors}, '<=', 16, "errors only on connections the dead worker held ($w->{errors})");
my @ok = grep { $_ && $_->{status} == 200 } map { http_get($port, "/name") } 1 .. 10;
is(scalar(@ok), 10, 'and new requests succeed');
ok(wait_for(sub { $p->error_log =~ /\b$victim\b/ }, 5), 'the dead worker is logged');

# Graceful reload with a request in flight.
my $inflight = Test::Portico::Client->new($port, timeout => 15);
$inflight->request(GET => '/delay/3000/name');
ok(wait_for(sub { grep { $_->{target} =~ m{^/delay/3000} } $p->backend('a')->requests }, 5),
    'a slow request is in flight at backend a');
my @old = $p->worker_pids;
$p->write_conf($conf =~ s/%%UP%%/b/r);
my @new = $p->reload_and_wait(wait_old => 0);
is(scalar(@new), 2, 'HUP: a new generation of two workers starts');
# The old workers stop accepting a moment after the new ones start: allow
# that moment, but far less than the in-flight request still takes.
my $r;
ok(wait_for(sub { $r = http_get($port, '/name'); $r && $r->{body} eq 'b' }, 1),
    'HUP: new requests are served with the new config within a second');
$r = $inflight->response;
is($r && $r->{status}, 200, 'HUP: the in-flight request completes with 200');
is($r && $r->{body}, 'a', 'HUP: ... answered by the old config\'s backend');
ok(wait_for(sub { !grep { Test::Portico::alive($_) } @old }, 10),
    'HUP: the old workers exit once their requests are done');

# No request fails while reloads happen: a client process keeps sending
# requests (new connections and keep-alive ones) through three reloads.
my $loop = Test::Portico::Loop->start($port, '/name');
wait_for(sub { $p->backend('b')->request_count > 20 }, 5);
my $reloads = 0;
for my $up (qw(a b a)) {
	$p->write_conf($conf =~ s/%%UP%%/$up/r);
	$reloads++ if $p->reload_and_wait;
}
my $after = $p->backend('a')->request_count;
ok(wait_for(sub { $p->backend('a')->request_count >= $after + 20 }, 30),
    'the client still gets answers after the reloads');
my ($n, @fail) = $loop->finish;
is($reloads, 3, 'three reloads done one after the other');
ok(!@fail, 'no request failed during the reloads') or diag("failures: @fail");

# A broken config is refused; the old one keeps serving.
my @before = $p->worker_pids;
$p->write_conf(<<'EOF');
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
site main { route "/" { upstream = "nowhere" } }
EOF
my ($rc, undef, $err) = $p->run('-s', 'reload');
isnt($rc, 0, '-s reload with a broken config exits non-zero');
like($err, qr/\Q${\ $p->conf_file}\E:3: .*nowhere/, '-s reload prints the file:line of the error');
$r = http_get($port, '/name');
is($r && $r->{body}, 'a', 'the old config keeps serving after a refused reload');
is(join(' ', sort $p->worker_pids), join(' ', sort @before), 'the workers were not replaced');

$p->write_conf($conf =~ s/%%UP%%/b/r);
($rc, undef, $err) = $p->run('-s', 'reload');
is($rc, 0, '-s reload with a good config exits 0') or diag($err);
ok(wait_for(sub { my $x = http_get($port, '/name'); $x && $x->{body} eq 'b' }, 10),
    '-s reload: the new config serves');
ok($p->stop, 'TERM stops the master and the workers');

# QUIT: a request in flight finishes, then the master exits.
my $q = Test::Portico->new(conf => <<'EOF')->start;
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream a { server "%%BACKEND:a%%" {} }
site main { route "/" { upstream = "a" } }
EOF
$inflight = Test::Portico::Client->new($q->port('http'), timeout => 15);
$inflight->request(GET => '/delay/1500/name');
wait_for(sub { scalar $q->backend('a')->requests }, 5);
my @qw = $q->worker_pids;
$q->signal('QUIT');
$r = $inflight->response;
is($r && $r->{status}, 200, 'QUIT: the in-flight request completes');
ok($q->wait_exit(10, @qw), 'QUIT: then the master and its workers exit');
ok(!Test::Portico::Client->new($q->port('http'), timeout => 2), 'QUIT: the port is closed');

# QUIT: connections that have sent no request yet, one that owes its
# PROXY protocol header and one in its TLS handshake, are closed after a
# short grace rather than holding the stopping worker for their timeouts.
my $tlsdir = File::Temp::tempdir('portico-lc-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $tlsdir;
my ($pem, $key) = Test::Portico::TLS->new($tlsdir)->cert('a.test');
chmod 0600, $key;
my $g = Test::Portico->new(conf => <<"EOF")->start;
workers = 1
shutdown_timeout = "60s"
client_header_timeout = "60s"
tls_handshake_timeout = "60s"
listen http { address = "127.0.0.1:%%PORT:http%%" }
listen pp {
	address = "127.0.0.1:%%PORT:pp%%"
	proxy_protocol = true
	proxy_protocol_from = {"127.0.0.1"}
}
listen tls { address = "127.0.0.1:%%PORT:tls%%"  tls = true }
upstream a { server "%%BACKEND:a%%" {} }
site main {
	listen = {"http", "pp"}
	route "/status" { status = true }
	route "/" { upstream = "a" }
}
site sec {
	listen = {"tls"}
	hosts = {"a.test"}
	tls { certificate = "$pem"  key = "$key" }
	route "/" { upstream = "a" }
}
EOF
my $silent_pp = Test::Portico::Client->new($g->port('pp'), timeout => 15);
my $silent_tls = Test::Portico::Client->new($g->port('tls'), timeout => 15);
ok(wait_for(sub { my $d = $g->status_doc; $d && $d->{connections}{open} >= 3 }, 10),
   'QUIT with silent connections: the worker has taken them');
my @gw = $g->worker_pids;
$g->signal('QUIT');
ok($g->wait_exit(10, @gw),
   'QUIT: a connection awaiting its PROXY header or its TLS handshake does not hold the worker');
ok($silent_pp->closed_within(5) && $silent_tls->closed_within(5), '... both are closed');

# TERM: stops at once even with a slow request in flight.
my $t = Test::Portico->new(conf => <<'EOF')->start;
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream a { server "%%BACKEND:a%%" {} }
site main { route "/" { upstream = "a" } }
EOF
$inflight = Test::Portico::Client->new($t->port('http'), timeout => 15);
$inflight->request(GET => '/delay/8000/name');
wait_for(sub { scalar $t->backend('a')->requests }, 5);
my $t0 = time;
ok($t->stop(timeout => 3), 'TERM: the master exits within 3 s despite a slow request');
note(sprintf 'TERM took %.2f s', time - $t0);

# IPv6.
SKIP: {
	my $probe = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1);
	skip 'no IPv6 loopback', 2 unless $probe;
	close $probe;
	my $six = Test::Portico->new(conf => <<'EOF')->start;
listen v4 { address = "127.0.0.1:%%PORT:v4%%" }
listen v6 { address = "[::1]:%%PORT:v6%%" }
upstream a { server "%%BACKEND:a%%" {} }
site main { route "/" { upstream = "a" } }
EOF
	my $x = http_get($six->port('v6'), '/echo', addr => '::1');
	is($x && $x->{status}, 200, 'a listener on [::1] serves');
	like($x && $x->{body}, qr/"x-real-ip":"::1"/, 'the backend sees the IPv6 client address');
	$six->stop;
}

# Daemon mode: the command returns, the master lives on in the background.
my $d = Test::Portico->new(conf => <<'EOF');
daemon = true
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream a { server "%%BACKEND:a%%" {} }
site main { route "/" { upstream = "a" } }
EOF
ok($d->start(daemon => 1, may_fail => 1), 'daemon = true: the command returns 0 and portico serves');
my $dm = $d->master_pid;
ok($dm && Test::Portico::alive($dm), 'daemon: the pid file names a live master');
is($dm && Test::Portico::proc_stat($dm)->{ppid} == $$ ? 'child' : 'detached', 'detached',
    'daemon: the master is not our child');
$r = http_get($d->port('http'), '/name');
is($r && $r->{body}, 'a', 'daemon: it serves requests');
($rc, undef, $err) = $d->run('-s', 'stop');
is($rc, 0, '-s stop exits 0') or diag($err);
ok(wait_for(sub { !Test::Portico::alive($dm) }, 10), '-s stop: the daemon master exits');

done_testing;
