#!/usr/bin/perl

# Server health: active checks by the checker process (status, status
# range, body regex, Host, timeout, fall and rise), the checker alone
# probing and being respawned, passive failures (max_fails, fail_timeout,
# fail_on), failover without client errors, the retry rules (methods,
# bodies, retries, retry_timeout), every server down, and health state
# kept across a reload.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use IO::Select;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(sleep time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $T0 = time;

# Every health_check here runs every 200 or 500 ms, so state changes take
# a second or so; the 500 ms of $hc leave a test that watches the status
# page between two checks time enough on a busy machine. Their timeouts are long, so that a busy machine's
# slow test backends are not taken for failing ones; only "slow" tests the
# timeout, with a server far slower than it.
my $hc = 'interval = "500ms" timeout = "5s" fall = 2 rise = 2';

my $conf = <<"EOF";
workers = 4
listen http { address = "127.0.0.1:%%PORT:http%%" }

upstream hc {
	health_check { path = "/hc?x=1" host = "health.example" $hc }
	server "%%BACKEND:a%%" {}
	server "%%BACKEND:b%%" {}
}
upstream rx {
	health_check { body = '^rx[12]\$' $hc }
	server "%%BACKEND:rx1%%" {}
	server "%%BACKEND:rx2%%" {}
}
upstream range {
	health_check { status = "200-204" $hc }
	server "%%BACKEND:r1%%" {}
	server "%%BACKEND:r2%%" {}
}
upstream slow {
	health_check { interval = "200ms" timeout = "5s" fall = 2 rise = 2 }
	server "%%BACKEND:t1%%" {}
	server "%%BACKEND:t2%%" {}
}
upstream cnt {
	health_check { $hc }
	server "%%BACKEND:k1%%" {}
	server "%%BACKEND:k2%%" {}
}
upstream pf {
	max_fails = 2
	fail_timeout = "8s"
	server "%%BACKEND:p1%%" {}
	server "%%BACKEND:p2%%" {}
}
upstream f5 {
	fail_on = {"error", "timeout", "5xx"}
	max_fails = 2
	fail_timeout = "10s"
	server "%%BACKEND:e500%%" {}
	server "%%BACKEND:good%%" {}
}
upstream d5 {
	max_fails = 2
	fail_timeout = "10s"
	server "%%BACKEND:e500%%" {}
	server "%%BACKEND:good%%" {}
}
upstream fo {
	server "%%BACKEND:x1%%" {}
	server "%%BACKEND:x2%%" {}
	server "%%BACKEND:x3%%" {}
}
upstream fd {
	server "%%BACKEND:y1%%" {}
	server "%%BACKEND:y2%%" {}
	server "%%BACKEND:y3%%" {}
}
upstream rt {
	max_fails = 0
	server "127.0.0.1:%%PORT:dropper%%" {}
	server "%%BACKEND:good%%" {}
}
upstream rt0 {
	max_fails = 0
	retries = 0
	server "127.0.0.1:%%PORT:dropper%%" {}
	server "%%BACKEND:good%%" {}
}
upstream rtc {
	max_fails = 0
	server "127.0.0.1:%%PORT:closed%%" {}
	server "%%BACKEND:good%%" {}
}
# connect_timeout = read_timeout: the retry_timeout tests then do not
# depend on which of the two bounds a retried attempt.
upstream rtn {
	max_fails = 0
	read_timeout = "300ms"
	connect_timeout = "300ms"
	server "%%BACKEND:w1%%" {}
	server "%%BACKEND:w2%%" {}
	server "%%BACKEND:w3%%" {}
	server "%%BACKEND:w4%%" {}
}
upstream rtt {
	max_fails = 0
	read_timeout = "300ms"
	connect_timeout = "300ms"
	retry_timeout = "500ms"
	server "%%BACKEND:w1%%" {}
	server "%%BACKEND:w2%%" {}
	server "%%BACKEND:w3%%" {}
	server "%%BACKEND:w4%%" {}
}
upstream rtr {
	max_fails = 0
	read_timeout = "300ms"
	server "%%BACKEND:w1%%" {}
	server "%%BACKEND:w2%%" {}
}
upstream dn {
	health_check { interval = "200ms" timeout = "5s" fall = 1 rise = 1 }
	server "%%BACKEND:e1%%" {}
	server "%%BACKEND:e2%%" {}
}
upstream rl {
	%%RLCHECK%%
	server "%%BACKEND:g1%%" {}
	server "%%BACKEND:g2%%" {}
}

site s {
	route "/status" { status = true }
	route "/hc/"    { upstream = "hc" }
	route "/pf/"    { upstream = "pf" }
	route "/f5/"    { upstream = "f5" }
	route "/d5/"    { upstream = "d5" }
	route "/fo/"    { upstream = "fo" }
	route "/fd/"    { upstream = "fd" }
	route "/rt/"    { upstream = "rt" }
	route "/rt0/"   { upstream = "rt0" }
	route "/rtc/"   { upstream = "rtc" }
	route "/rtn/"   { upstream = "rtn" }
	route "/rtt/"   { upstream = "rtt" }
	route "/rtr/"   { upstream = "rtr" }
	route "/dn/"    { upstream = "dn" }
	route "/rl/"    { upstream = "rl" }
}
EOF

my $rl_check = 'health_check { interval = "200ms" timeout = "5s" fall = 1 rise = 50 }';
sub main_conf {
	my ($rl) = @_;
	return $conf =~ s/%%RLCHECK%%/$rl/r;
}

my $p = Test::Portico->new(conf => main_conf($rl_check));
my $port = $p->port('http');

# A server that accepts, reads one whole request (head and Content-Length
# body), logs its request line and resets the connection: it fails after
# the request was sent, before any byte of a response.
my $dropper_log = $p->tmp . '/dropper.log';
my $dropper_pid = start_dropper($p->port('dropper'), $dropper_log);
END { kill 'KILL', $dropper_pid if $dropper_pid }

$p->start;
my @workers = $p->wait_workers(4);
is(scalar @workers, 4, 'four workers');

# ---- helpers ----

sub start_dropper {
	my ($dport, $log) = @_;
	my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $dport,
	    Listen => 16, ReuseAddr => 1, Proto => 'tcp') or die "dropper: $@\n";
	open my $fh, '>', $log or die "$log: $!\n";
	close $fh;
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		$SIG{$_} = 'DEFAULT' for qw(TERM INT HUP);
		$0 = 'portico-test-dropper';
		while (1) {
			my $c = $l->accept or next;
			my $buf = '';
			my $deadline = time + 5;
			my $sel = IO::Select->new($c);
			while (time < $deadline) {
				if ($buf =~ /\r\n\r\n/) {
					my $need = $buf =~ /^Content-Length:\s*(\d+)/mi ? $1 : 0;
					last if length($buf) - (index($buf, "\r\n\r\n") + 4) >= $need;
				}
				next unless $sel->can_read(0.1);
				my $n = sysread($c, $buf, 65536, length $buf);
				last unless $n;
			}
			if (open my $out, '>>', $log) {
				my ($line) = $buf =~ /^([^\r\n]*)/;
				syswrite $out, ($line // '') . "\n";
				close $out;
			}
			setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
			close $c;
		}
	}
	close $l;
	return $pid;
}

sub dropper_lines {
	open my $fh, '<', $dropper_log or return ();
	return map { chomp; $_ } <$fh>;
}

# The status entry of a server, a hash even when it is not listed:
# srv('hc', 'b') or srv('rt', '127.0.0.1:N'), with an optional status_doc.
sub srv { $p->server_status(@_) // {} }

sub state_of { srv(@_)->{state} // 'missing' }

sub is_check { (($_[0]{header}{'user-agent'} // '') eq 'portico-health-check') }

# Health-check requests and client requests a backend saw.
sub checks_seen { scalar grep { is_check($_) } $p->backend($_[0])->requests }
sub clients_seen { scalar grep { !is_check($_) } $p->backend($_[0])->requests }

# How many failed checks of upstream's server at addr the error log shows
# before the first that marked it down.
sub failures_before_down {
	my ($upstream, $addr) = @_;
	my $n = 0;
	for (split /\n/, $p->error_log) {
		next unless /upstream "\Q$upstream\E" server \Q$addr\E (failed a health check|is down)/;
		return $n if $1 eq 'is down';
		$n++;
	}
	return -1;
}

# n GETs of $path, each on a new connection: { backend name => count },
# with status codes other than 200 counted under "status NNN".
sub spread {
	my ($path, $n) = @_;
	my %c;
	for (1 .. $n) {
		my $r = http_get($port, $path);
		if (!$r) { $c{'no response'}++; next }
		if ($r->{status} != 200) { $c{"status $r->{status}"}++; next }
		$c{ $r->{header}{'x-backend'} // 'none' }++;
	}
	return \%c;
}

sub fmt { my $h = shift; join ', ', map { "$_=$h->{$_}" } sort keys %$h }

sub checker_pids {
	my $m = $p->master_pid or return ();
	return map { $_->{pid} } grep { $_->{comm} eq 'portico-checker' }
	    Test::Portico::children_of($m);
}

# ==== 1. Active checks ====

# Everything checked has been checked once and is up.
my @checked = ([hc => 'a'], [hc => 'b'], [rx => 'rx1'], [rx => 'rx2'], [range => 'r1'],
    [range => 'r2'], [slow => 't1'], [slow => 't2'], [cnt => 'k1'], [cnt => 'k2'],
    [dn => 'e1'], [dn => 'e2'], [rl => 'g1'], [rl => 'g2']);
ok(wait_for(sub {
	my $st = $p->status_doc or return 0;
	!grep { my $s = srv(@$_, $st); ($s->{checks} // 0) < 1 || ($s->{state} // '') ne 'up' } @checked;
}, 30), 'every checked server has been checked and is up');
my $st = $p->status_doc;
is_deeply([map { $_->{health_check} ? $_->{name} : () } @{ $st->{upstreams} }],
    [qw(hc rx range slow cnt dn rl)], 'the status page tells which upstreams are checked');
is(srv('hc', 'a', $st)->{last_check_status}, 200, 'a passing check records its status');

# What a check sends.
my @chk = grep { is_check($_) } $p->backend('a')->requests;
ok(@chk >= 1, 'backend a received health checks');
is_deeply([sort keys %{{ map { ("$_->{method} $_->{target} HTTP/$_->{version}" => 1) } @chk }}],
    ['GET /hc?x=1 HTTP/1.0'], 'a check is "GET path HTTP/1.0" with the configured path');
is_deeply([sort keys %{{ map { ($_->{header}{host} // 'none') => 1 } @chk }}],
    ['health.example'], 'with the configured Host');
my @chk_rx = grep { is_check($_) } $p->backend('rx1')->requests;
is_deeply([sort keys %{{ map { ($_->{header}{host} // 'none') => 1 } @chk_rx }}],
    ['rx'], 'without host, the Host of a check is the upstream\'s name');

my $sp = spread('/hc/name', 12);
ok(($sp->{a} // 0) >= 1 && ($sp->{b} // 0) >= 1 && $sp->{a} + $sp->{b} == 12,
    'while up, both servers take requests') or diag(fmt($sp));

# Failing checks of several kinds at once.
$p->backend('b')->set_behavior(status => 503);
$p->backend('rx1')->set_behavior(status => 200);	# "status 200\n": no match
$p->backend('r1')->set_behavior(status => 302);	# in 200-399, not in 200-204
$p->backend('r2')->set_behavior(status => 204);	# the top of 200-204
$p->backend('t1')->set_behavior(delay => 60_000);	# far past the 5 s timeout
$p->backend('t2')->set_behavior(delay => 100);	# far within it

# fall = 2: after one failed check b is still up. The checker logs every
# failed check, then the change of state.
ok(wait_for(sub { state_of('hc', 'b') eq 'down' }, 30),
    'b answering 503 is marked down by the checks');
is(failures_before_down('hc', $p->backend('b')->address), 2,
    'fall = 2: one failed check left it up, the second marked it down');
$st = $p->status_doc;
my $sb = srv('hc', 'b', $st);
ok($sb->{checks_down}, 'b: checks_down');
is($sb->{last_check_status}, 503, 'b: last_check_status 503');
cmp_ok($sb->{checks_failed}, '>=', 2, 'b: at least fall failed checks');

ok(wait_for(sub { state_of('rx', 'rx1') eq 'down' }, 30),
    'rx1, whose body does not match the regex, is marked down');
is(srv('rx', 'rx1')->{last_check_status}, 200, 'rx1: though its status (200) passes');
ok(wait_for(sub { state_of('range', 'r1') eq 'down' }, 30),
    'r1 answering 302 fails status = "200-204" and is marked down');
is(srv('range', 'r1')->{last_check_status}, 302, 'r1: last_check_status 302');
ok(wait_for(sub { (srv('range', 'r2')->{last_check_status} // 0) == 204 }, 30),
    'r2 answers its checks with 204');
is(state_of('range', 'r2'), 'up', 'r2: 204 is within "200-204": up');
ok(wait_for(sub { state_of('slow', 't1') eq 'down' }, 60),
    't1, slower than the check timeout, is marked down');
is(srv('slow', 't1')->{last_check_status}, 0, 't1: no status (timed out)');
$st = $p->status_doc;
is(srv('slow', 't2', $st)->{state}, 'up', 't2, slow but within the timeout, stays up');
is(srv('slow', 't2', $st)->{checks_failed}, 0, 't2: no failed check');
is(srv('hc', 'a', $st)->{state}, 'up', 'a stays up');
is(srv('rx', 'rx2', $st)->{state}, 'up', 'rx2, whose body matches, stays up');

my $log = $p->error_log;
my ($addr_b, $addr_rx1, $addr_r1, $addr_t1) = map { $p->backend($_)->address } qw(b rx1 r1 t1);
like($log, qr/\[warn\].*upstream "hc" server \Q$addr_b\E is down: status 503/,
    'the error log says b is down, and why');
like($log, qr/upstream "rx" server \Q$addr_rx1\E is down: body does not match/,
    'rx1: body does not match');
like($log, qr/upstream "range" server \Q$addr_r1\E is down: status 302/, 'r1: status 302');
like($log, qr/upstream "slow" server \Q$addr_t1\E is down: timed out/, 't1: timed out');

# A server down by checks takes no client request.
my $b_before = clients_seen('b');
is_deeply(spread('/hc/name', 20), { a => 20 }, 'while b is down, a takes every request');
is(clients_seen('b'), $b_before, 'b received none of them');

# rise = 2: after one passed check b is still down; then it is up.
$p->backend('b')->set_behavior;
my $b_passed_but_down = 0;
ok(wait_for(sub {
	my $s = srv('hc', 'b');
	$b_passed_but_down = 1 if ($s->{last_check_status} // 0) == 200 && $s->{state} eq 'down';
	return ($s->{state} // '') eq 'up';
}, 30, 0.01), 'b answering 200 again is marked up by the checks');
ok($b_passed_but_down, 'rise = 2: one passed check left it down');
like($p->error_log, qr/\[notice\].*upstream "hc" server \Q$addr_b\E is up again/,
    'the error log says b is up again');
$sp = spread('/hc/name', 20);
cmp_ok($sp->{b} // 0, '>=', 5, 'b takes requests again') or diag(fmt($sp));
is(($sp->{a} // 0) + ($sp->{b} // 0), 20, 'and every request is answered');
$p->backend($_)->set_behavior for qw(rx1 r1 r2 t1 t2);
$p->backend('t1')->release;

# ==== 2. Only the checker probes ====

my @chk_pids = checker_pids();
is(scalar @chk_pids, 1, 'there is one checker process (portico-checker)');
my $checker = $chk_pids[0] // 0;
is((Test::Portico::proc_stat($checker) // {})->{ppid}, $p->master_pid, 'a child of the master');

# k2 is slowed so that each check holds its connection for a while; every
# connection to it seen until a few were belongs to the checker.
# Meanwhile count the checks of the fast servers: one per interval, not
# one per worker per interval.
$p->backend('k2')->set_behavior(delay => 100);
my @probers = ($checker, $p->worker_pids, $p->master_pid);
my %n0 = map { $_ => checks_seen($_) } qw(k1 a g2);
my $k1_status0 = srv('cnt', 'k1')->{checks};
# Which of them own a TCP connection to k2, established or connecting.
my $k2_port = $p->backend('k2')->port;
my $to_k2 = sub { $_[1] == $k2_port && ($_[2] eq '01' || $_[2] eq '02') };
my (%owner, $samples, $seen);
my $t = time;
my %interval = (k1 => 0.5, a => 0.5, g2 => 0.2);
until (($seen // 0) >= 5 && !grep { checks_seen($_) == $n0{$_} } keys %n0) {
	my @owners = Test::Portico::tcp_socket_owners($to_k2, @probers);
	$owner{$_}++ for @owners;
	$seen++ if @owners;
	$samples++;
	last if time > $t + 60;		# a safety net
	sleep 0.01;
}
my $window = time - $t;
ok(scalar(keys %owner), "connections to a checked server were seen ($samples samples)");
is_deeply([keys %owner], [$checker], 'every one of them belonged to the checker')
    or diag(fmt(\%owner) . " workers: @workers");
my %dn = map { $_ => checks_seen($_) - $n0{$_} } keys %n0;
# At most one check per interval (a busy machine may delay some), where
# one per worker would be four.
for my $b (sort keys %dn) {
	my $expect = $window / $interval{$b};
	ok($dn{$b} >= 1 && $dn{$b} <= $expect * 1.3 + 1,
	    sprintf('%s got %d checks in %.1f s: at most one per interval, not one per worker',
		$b, $dn{$b}, $window));
}
my $k1_status_d = srv('cnt', 'k1')->{checks} - $k1_status0;
ok(abs($k1_status_d - $dn{k1}) <= 2,
    "the status page's checks counter grew with them ($k1_status_d)");
$p->backend('k2')->set_behavior;

# ==== 3. The checker is respawned ====

$p->allow_log(qr/checker \(pid \Q$checker\E\) killed by signal 9/);
kill 'KILL', $checker;
my @new_checker;
ok(wait_for(sub { @new_checker = grep { $_ != $checker } checker_pids(); @new_checker == 1 }, 30),
    'a killed checker is replaced by a new one');
my $k1_n = checks_seen('k1');
my $k1_s = srv('cnt', 'k1')->{checks};
ok(wait_for(sub { checks_seen('k1') >= $k1_n + 3 }, 30), 'and the checks go on');
# The server sees a check before the checker has read its answer and
# counted it: wait for the count.
ok(wait_for(sub { srv('cnt', 'k1')->{checks} >= $k1_s + 3 }, 30), 'counted in the status page')
    or diag(srv('cnt', 'k1')->{checks} . " checks counted, from $k1_s");
is_deeply([sort { $a <=> $b } $p->worker_pids], [sort { $a <=> $b } @workers],
    'the workers were left alone');

# ==== 4. Passive failures ====

$sp = spread('/pf/name', 12);
ok(($sp->{p1} // 0) >= 1 && ($sp->{p2} // 0) >= 1 && $sp->{p1} + $sp->{p2} == 12,
    'pf: both servers answer') or diag(fmt($sp));
my $p1_port = $p->backend('p1')->port;
my $p1_addr = $p->backend('p1')->address;
$p->backend('p1')->stop;		# connections are refused now
my ($pf_ok, $pf_n) = (0, 0);
ok(wait_for(sub {
	my $r = http_get($port, '/pf/name');
	$pf_n++;
	$pf_ok++ if $r && $r->{status} == 200 && $r->{header}{'x-backend'} eq 'p2';
	return state_of('pf', $p1_addr) eq 'down';
}, 30, 0), 'a server refusing connections is marked down');
is($pf_ok, $pf_n, "every request meanwhile was answered by the other server ($pf_n)");
$st = $p->status_doc;
my $s1 = srv('pf', $p1_addr, $st);
is($s1->{failures}, 2, 'after max_fails = 2 failures');
ok($s1->{failed_down_ms} > 0 && $s1->{failed_down_ms} <= 8000,
    "failed_down_ms is within fail_timeout ($s1->{failed_down_ms})");
ok(!$s1->{checks_down}, 'not by the active checks');
like($p->error_log, qr/\[warn\].*upstream "pf" server \Q$p1_addr\E marked down for 8000 ms after 2 failures/,
    'the error log says it is marked down');
is_deeply(spread('/pf/name', 20), { p2 => 20 }, 'the other server takes every request');
is(srv('pf', $p1_addr)->{failures}, 2, 'and no request tried the down server');

# Back on the same port: still not tried until fail_timeout has passed.
my $p1b = Test::Portico::Backend->new(name => 'p1b', port => $p1_port, dir => $p->tmp);
is_deeply(spread('/pf/name', 10), { p2 => 10 }, 'a server back up is not tried during fail_timeout');
cmp_ok(srv('pf', $p1_addr)->{failed_down_ms}, '>', 0, '(fail_timeout had not passed)');
is(scalar $p1b->requests, 0, 'it received nothing');
ok(wait_for(sub { state_of('pf', $p1_addr) eq 'up' }, 30), 'after fail_timeout it is up again');
$sp = spread('/pf/name', 8);
cmp_ok($sp->{p1b} // 0, '>=', 2, 'and takes requests') or diag(fmt($sp));
is(($sp->{p1b} // 0) + ($sp->{p2} // 0), 8, 'every one answered');
$p1b->stop;

# 5xx counts only when fail_on names it.
$p->backend('e500')->set_behavior(status => 500);
my %f5;
ok(wait_for(sub {
	my $r = http_get($port, '/f5/name');
	$f5{$r ? $r->{status} : 'none'}++;
	return state_of('f5', 'e500') eq 'down';
}, 30, 0), 'fail_on with "5xx": a server answering 500 is marked down');
is($f5{500}, 2, 'after max_fails = 2 answers of 500, which reached the client') or diag(fmt(\%f5));
is(srv('f5', 'e500')->{failures}, 2, 'counted as 2 failures');
is_deeply(spread('/f5/name', 10), { good => 10 }, 'then the other server takes every request');
$sp = spread('/d5/name', 12);
ok(($sp->{'status 500'} // 0) >= 3 && ($sp->{good} // 0) >= 3
    && $sp->{'status 500'} + $sp->{good} == 12,
    'default fail_on: the server answering 500 keeps getting requests') or diag(fmt($sp));
$st = $p->status_doc;
is(srv('d5', 'e500', $st)->{state}, 'up', 'default fail_on: a server answering 500 stays up');
is(srv('d5', 'e500', $st)->{failures}, 0, 'no failure counted');
$p->backend('e500')->set_behavior;

# ==== 6. Retry rules ====

# Send requests (each with a unique id) until the dropper got one; returns
# the response and the id.
my $rid = 0;
sub until_dropped {
	my ($method, $prefix, %opt) = @_;
	for (1 .. 20) {
		my $id = ++$rid;
		my $r = http($port, method => $method, target => "$prefix/name?id=$id", %opt);
		return ($r, $id) if grep { /[?&]id=$id\b/ } dropper_lines();
	}
	return (undef, 0);
}
sub good_saw {
	my ($method, $id) = @_;
	return scalar grep { $_->{method} eq $method && $_->{target} =~ /[?&]id=$id\b/ }
	    $p->backend('good')->requests;
}

my $retries0 = $p->status_doc->{retries};
my ($r, $id) = until_dropped(POST => '/rt', body => 'payload');
ok($id, 'a POST reached the server that resets after reading it');
is($r && $r->{status}, 502, 'the POST, sent whole, is not retried: 502');
is(good_saw(POST => $id), 0, 'the other server never saw it');

($r, $id) = until_dropped(PUT => '/rt', body => 'payload');
ok($id, 'a PUT with a body reached it');
is($r && $r->{status}, 502, 'idempotent but with a body sent: not retried, 502');
is(good_saw(PUT => $id), 0, 'the other server never saw it');

($r, $id) = until_dropped(GET => '/rt');
ok($id, 'a GET reached it');
is($r && $r->{status}, 200, 'the GET is retried: 200');
is($r && $r->{header}{'x-backend'}, 'good', 'answered by the other server');
is(good_saw(GET => $id), 1, 'which saw it once');
cmp_ok($p->status_doc->{retries}, '>', $retries0, 'the status page counts retries');

($r, $id) = until_dropped(GET => '/rt0');
ok($id, 'retries = 0: a GET reached the resetting server');
is($r && $r->{status}, 502, 'retries = 0: not retried, 502');
is(good_saw(GET => $id), 0, 'the other server never saw it');

# Nothing sent (connection refused): even a POST goes to the next server.
my $closed = '127.0.0.1:' . $p->port('closed');
my %pc;
for (1 .. 6) {
	my $x = http($port, method => 'POST', target => '/rtc/name', body => 'payload');
	$pc{$x ? $x->{status} : 'none'}++;
}
is_deeply(\%pc, { 200 => 6 }, 'a POST refused by a server is retried on the next');
cmp_ok(srv('rtc', $closed)->{failures}, '>=', 1, '(the refusing server was tried)');

sub servers_saw {
	my ($id) = @_;
	return scalar grep { my $b = $_; grep { $_->{target} =~ /[?&]id=$id\b/ } $p->backend($b)->requests }
	    qw(w1 w2 w3 w4);
}

# read_timeout bounds the wait for a response head on every server tried,
# not only the first: each attempt ends with its own read timeout, never a
# connect timer kept from before (connect_timeout is the default 5 s here,
# the servers would answer after 60 s).
$r = http_get($port, '/rtr/delay/60000?id=rtr', timeout => 30);
is($r && $r->{status}, 504, 'two servers slower than read_timeout: 504');
ok(wait_for(sub { servers_saw('rtr') == 2 }, 30), 'both were tried') or diag(servers_saw('rtr'));
my @rtr = grep { /rtr/ } split /\n/, $p->error_log;
is(scalar(grep { /timed out sending a response head/ } @rtr), 2,
    'each attempt ended at its own read_timeout');
is(scalar(grep { /while connecting/ } @rtr), 0, 'none at a connect timeout');

# retry_timeout: with read_timeout = 300ms and four silent servers, a GET
# is tried on all four without it, on two with retry_timeout = 500ms.
$r = http_get($port, '/rtn/delay/1500?id=rtn');
is($r && $r->{status}, 504, 'every server timing out: 504');
ok(wait_for(sub { servers_saw('rtn') == 4 }, 30), 'without retry_timeout all four servers were tried')
    or diag(servers_saw('rtn'));
$r = http_get($port, '/rtt/delay/1500?id=rtt');
is($r && $r->{status}, 504, 'with retry_timeout: 504');
wait_for(sub { servers_saw('rtt') >= 2 }, 30);
is(servers_saw('rtt'), 2, 'retry_timeout = 500ms: only two servers were tried');

# ==== 7. Every server down ====

$p->allow_log(qr/no live server in upstream "dn"/);
$p->backend($_)->set_behavior(status => 503) for qw(e1 e2);
ok(wait_for(sub { state_of('dn', 'e1') eq 'down' && state_of('dn', 'e2') eq 'down' }, 30),
    'dn: both servers down by checks');
my $no_server0 = $p->status_doc->{no_server};
my ($e1_n, $e2_n) = (clients_seen('e1'), clients_seen('e2'));
$r = http_get($port, '/dn/name');
is($r && $r->{status}, 503, 'no live server: 503');
ok(!defined $r->{header}{'x-backend'}, 'portico\'s own answer, not a backend\'s 503');
is(clients_seen('e1') + clients_seen('e2'), $e1_n + $e2_n, 'at once: no server was tried');
like($p->error_log, qr/\[error\].*no live server in upstream "dn"/, 'the error log says so');
is($p->status_doc->{no_server}, $no_server0 + 1, 'the status page counts it');
$p->backend($_)->set_behavior for qw(e1 e2);

# ==== 5. Failover without client errors ====
# (After the others: the load could slow the checks they rely on.)

# wrk (or Perl clients) on three servers; one is killed in the middle.
my $fo_retries0 = $p->status_doc->{retries};
my $wrk = $ENV{PORTICO_TEST_NO_WRK} ? undef : (grep { -x "$_/wrk" } split /:/, $ENV{PATH})[0];
my $load_out = $p->tmp . '/load.out';
my $load_pid = fork() // die "fork: $!\n";
if ($load_pid == 0) {
	$SIG{$_} = 'DEFAULT' for qw(TERM INT HUP);
	if ($wrk) {
		open STDOUT, '>', $load_out;
		open STDERR, '>&', \*STDOUT;
		exec("$wrk/wrk", '-t2', '-c8', '-d3s', "http://127.0.0.1:$port/fo/name")
		    or POSIX::_exit(127);
	}
	# Four clients, 400 keep-alive GETs each.
	my @kids;
	for my $k (1 .. 4) {
		my $pid = fork() // POSIX::_exit(1);
		if ($pid == 0) {
			my ($ok, $bad) = (0, 0);
			my $c;
			for (1 .. 400) {
				$c //= Test::Portico::Client->new($port);
				my $x = $c && $c->get('/fo/name');
				if ($x && $x->{status} == 200) { $ok++ } else { $bad++; undef $c }
			}
			open my $o, '>>', $load_out;
			syswrite $o, "ok $ok bad $bad\n";
			POSIX::_exit(0);
		}
		push @kids, $pid;
	}
	waitpid($_, 0) for @kids;
	POSIX::_exit(0);
}
ok(wait_for(sub { (srv("fo", "x2")->{requests} // 0) >= 100 }, 30),
    'under load, x2 takes requests');
$p->backend('x2')->stop;
ok(wait_for(sub { waitpid($load_pid, WNOHANG) == $load_pid }, 60), 'the load ended');
my $out = do { local $/; open my $fh, '<', $load_out; <$fh> } // '';
if ($wrk) {
	my ($n) = $out =~ /(\d+) requests in/;
	cmp_ok($n // 0, '>', 0, "wrk made requests (" . ($n // 0) . ")");
	unlike($out, qr/Non-2xx/, 'no response but 2xx');
	unlike($out, qr/Socket errors/, 'no socket error or timeout') or diag($out);
} else {
	my ($ok, $bad) = (0, 0);
	while ($out =~ /ok (\d+) bad (\d+)/g) { $ok += $1; $bad += $2 }
	is($ok, 1600, 'every one of 1600 GETs got 200');
	is($bad, 0, 'no failed GET') or diag($out);
}
cmp_ok($p->status_doc->{retries}, '>', $fo_retries0, 'retries happened');
is(state_of('fo', 'x2'), 'down', 'the killed server is marked down');

# The server dies while it holds requests: they go to the others.
my @in_flight;
for my $i (1 .. 9) {
	my $c = Test::Portico::Client->new($port);
	$c->request(GET => "/fd/delay/500?id=$i");
	push @in_flight, $c;
}
ok(wait_for(sub { scalar $p->backend('y2')->requests }, 30), 'y2 is working on a request');
$p->backend('y2')->stop;
my %fd;
for my $c (@in_flight) {
	my $x = $c->response;
	$fd{$x ? ($x->{status} == 200 ? $x->{header}{'x-backend'} : "status $x->{status}") : 'none'}++;
	$c->close;
}
is(($fd{y1} // 0) + ($fd{y3} // 0), 9, 'every request in flight on the killed server got 200')
    or diag(fmt(\%fd));

# ==== 8. A reload keeps health state ====

# rl: fall = 1, rise = 50 (10 s): g1 fails, then answers well again, and
# stays down for a long while.
$p->backend('g1')->set_behavior(status => 503);
ok(wait_for(sub { state_of('rl', 'g1') eq 'down' }, 30), 'g1 marked down by the checks');
$p->backend('g1')->set_behavior;
ok(wait_for(sub { (srv('rl', 'g1')->{last_check_status} // 0) == 200 }, 30),
    'g1 passes its checks again');
my $g1_checks = srv('rl', 'g1')->{checks};
my @old_workers = $p->worker_pids;
my @new_workers = $p->reload_and_wait;
ok(@new_workers == 4, 'reload with the same configuration');
$st = $p->status_doc;
ok(!grep({ $_ == $st->{pid} } @old_workers), 'the status page comes from a new worker');
my $g1 = srv('rl', 'g1', $st);
is($g1->{state}, 'down', 'g1 is still down after the reload');
ok($g1->{checks_down}, 'down by checks');
cmp_ok($g1->{checks}, '>=', $g1_checks, 'its check counters are kept');
is(srv('hc', 'b', $st)->{state}, 'up', 'b, up before, is up after');
my $g1_before = clients_seen('g1');
is_deeply(spread('/rl/name', 12), { g2 => 12 }, 'g1 takes no request after the reload');
is(clients_seen('g1'), $g1_before, 'g1 saw none');
ok(wait_for(sub { my @c = checker_pids(); @c == 1 && !grep { $_ == $new_checker[0] } @c }, 30),
    'the new generation has its own checker');

# Without the health_check section, nothing marks g1 down any more: a mark
# left by the checks of the previous configuration must not keep it down
# (no checker will ever clear it).
$p->write_conf(main_conf(''));
ok(scalar $p->reload_and_wait, 'reload without rl\'s health_check');
is(state_of('rl', 'g1'), 'up', 'g1, no longer checked, is up');
$sp = spread('/rl/name', 12);
cmp_ok($sp->{g1} // 0, '>=', 3, 'and takes requests') or diag(fmt($sp));

# ==== 2b. No checker without health checks ====

my $n = Test::Portico->new(conf => <<'EOF')->start;
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:n1%%" {} }
site s { route "/" { upstream = "app" } }
EOF
$n->wait_workers(2);
my @kids = Test::Portico::children_of($n->master_pid);
is_deeply([sort map { $_->{comm} } @kids], [qw(portico-worker portico-worker)],
    'without health_check, the master runs the workers and no checker');
$n->write_conf(<<'EOF');
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { health_check { interval = "200ms" } server "%%BACKEND:n1%%" {} }
site s { route "/" { upstream = "app" } }
EOF
$n->reload_and_wait;
ok(wait_for(sub { grep { $_->{comm} eq 'portico-checker' } Test::Portico::children_of($n->master_pid) }, 5),
    'a reload adding a health_check starts a checker');
ok(wait_for(sub { grep { is_check($_) } $n->backend('n1')->requests }, 5), 'which checks');

diag(sprintf('health.t ran for %.1f s', time - $T0));
done_testing();
