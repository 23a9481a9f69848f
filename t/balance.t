#!/usr/bin/perl

# Load balancing with real backends: weighted round robin (exact in one
# worker, proportional over two), least_conn and max_conns counted across
# workers, consistent hashing (stable keys, only the keys of a removed or
# failed server move), ip_hash, random2, ewma (traffic leaves a slow server
# and comes back), backup servers, and slow_start.

use strict;
use warnings;

use IO::Select;
use IO::Socket::IP;
use List::Util qw(shuffle sum);
use Test::More;
use Test::Portico;
use Test::Portico::Backend;
use Test::Portico::Client;
use Time::HiRes qw(time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

# ---- helpers ----

# The requests in flight at the server of upstream $up that is backend
# $name (-1 when it is not listed), and its state ('absent' then).
sub active {
	my ($p, $up, $name) = @_;
	my $s = $p->server_status($up, $name) or return -1;
	return $s->{active};
}

sub state_of {
	my ($p, $up, $name) = @_;
	my $s = $p->server_status($up, $name) or return 'absent';
	return $s->{state};
}

# The backend that answered one request on a new connection ("status N"
# when it was not a 200, "none" without an answer).
sub served_by {
	my ($port, $path, %opt) = @_;
	my $r = http_get($port, $path, %opt);
	return 'none' unless $r;
	return "status $r->{status}" unless $r->{status} == 200;
	return $r->{header}{'x-backend'} // 'no x-backend';
}

# Tally of served_by over a list of paths (or $n times one path).
sub tally {
	my ($port, @paths) = @_;
	my %n;
	$n{ served_by($port, $_) }++ for @paths;
	return \%n;
}

sub show { my ($t) = @_; join ', ', map { "$_=$t->{$_}" } sort keys %$t }

# How long a slowed backend takes to answer the requests a test holds in
# flight: long enough to outlast a test on a loaded machine. Closing the
# client ends such a request (499), and the test also stops its slowed
# backends when done.
my $HOLD_MS = 10_000;

# The sum of a member of the servers of upstream $up in the status page.
sub up_sum {
	my ($p, $up, $member) = @_;
	my $doc = $p->status_doc or return -1;
	my ($u) = grep { $_->{name} eq $up } @{ $doc->{upstreams} // [] };
	return $u ? sum(0, map { $_->{$member} } @{ $u->{servers} }) : -1;
}

sub up_active { up_sum($_[0], $_[1], 'active') }

# hold($p, $up, $path, $done): sends requests for $path one at a time, each
# waited for until a backend slowed by the test has read it (then its delay
# holds, whatever the test sets next) or it is answered (then it is read
# and dropped), until $done->() is true. $connect makes the client
# connections (default: new ones). Returns the clients whose requests are
# in flight.
sub hold {
	my ($p, $up, $path, $done, $connect) = @_;
	$connect //= sub { Test::Portico::Client->new($p->port('http')) };
	my $delayed = sub { sum(0, map { $_->delayed_count } $p->backends) };
	my @held;
	for (1 .. 40) {
		last if $done->();
		my $before = $delayed->();
		my $c = $connect->() or last;
		$c->request(GET => $path);
		my $sel = IO::Select->new($c->socket);
		my $what = wait_for(sub {
			return 'held' if $delayed->() > $before;
			return 'answered' if $sel->can_read(0);
			return 0;
		}, 5) || 'nothing';
		if ($what eq 'held') {
			push @held, $c;
		} else {
			$c->response(timeout => 5);
			$c->close;
		}
	}
	return @held;
}

# Ends the held requests of a test: closes their clients and stops the
# slowed backends (whose upstream the file does not use again), and waits
# until portico has let go of them.
sub release {
	my ($p, $up, $held, @names) = @_;
	$_->close for @$held;
	$p->backend($_)->stop for @names;
	return wait_for(sub { up_active($p, $up) == 0 }, 5);
}

# An HTTP/1.1 GET from source address $src; the X-Backend of the answer.
sub get_from {
	my ($port, $src, $path) = @_;
	my $s = IO::Socket::IP->new(LocalHost => $src, PeerHost => '127.0.0.1',
	    PeerPort => $port, Proto => 'tcp', Timeout => 5) or return 'none';
	syswrite $s, "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	my ($buf, $sel, $deadline) = ('', IO::Select->new($s), time + 5);
	while (time < $deadline && $sel->can_read($deadline - time)) {
		my $n = sysread($s, $buf, 65536, length $buf);
		last unless $n;
	}
	close $s;
	return $buf =~ m{\AHTTP/1\.\d 200 } && $buf =~ /^X-Backend: (\S+)/mi ? $1 : 'none';
}

# ======================================================================
# One worker: exact weighted round robin, ewma, backup, slow_start.
# ======================================================================

my $p1 = Test::Portico->new(conf => <<'EOF')->start;
workers = 1
listen http { address = "127.0.0.1:%%PORT:http%%" }

upstream rr {
	server "%%BACKEND:r1%%" { weight = 3 }
	server "%%BACKEND:r2%%" { weight = 2 }
	server "%%BACKEND:r3%%" { weight = 1 }
}
upstream ew {
	balance = "ewma"
	ewma_decay = "500ms"
	server "%%BACKEND:e1%%" {}
	server "%%BACKEND:e2%%" {}
	server "%%BACKEND:e3%%" {}
}
upstream bk {
	max_fails = 1
	fail_timeout = "1s"
	server "%%BACKEND:p1%%" {}
	server "%%BACKEND:p2%%" {}
	server "%%BACKEND:bk%%" { backup = true }
}
upstream ss {
	max_fails = 1
	fail_timeout = "1s"
	server "%%BACKEND:sa%%" { slow_start = "3s" }
	server "%%BACKEND:sb%%" {}
}

site main {
	route "/status" { status = true }
	route "/rr/" { upstream = "rr" }
	route "/ew/" { upstream = "ew" }
	route "/bk/" { upstream = "bk" }
	route "/ss/" { upstream = "ss" }
}
EOF
my $port1 = $p1->port('http');

# -- round robin, one worker: exactly 3:2:1, and interleaved --

{
	my @seq;
	my $c = Test::Portico::Client->new($port1);
	for (1 .. 600) {
		my $r = $c->get('/rr/name') or last;
		push @seq, $r->{status} == 200 ? $r->{header}{'x-backend'} // '?' : "status $r->{status}";
	}
	$c->close;
	my %n;
	$n{$_}++ for @seq;
	is_deeply(\%n, { r1 => 300, r2 => 200, r3 => 100 },
	    'round_robin, weights 3:2:1, one worker: exactly 300/200/100 of 600');
	# Smooth WRR repeats a period of 6 (r1 r2 r1 r3 r2 r1): every six
	# consecutive picks hold each server weight times, never a burst.
	my $bad = 0;
	for my $i (0 .. $#seq - 5) {
		my %w;
		$w{$_}++ for @seq[$i .. $i + 5];
		$bad++ unless ($w{r1} // 0) == 3 && ($w{r2} // 0) == 2 && ($w{r3} // 0) == 1;
	}
	is($bad, 0, 'round_robin is smooth: every window of 6 picks is 3:2:1');
	my ($run, $max) = (0, 0);
	for my $i (0 .. $#seq) {
		$run = $i && $seq[$i] eq $seq[$i - 1] ? $run + 1 : 1;
		$max = $run if $run > $max;
	}
	ok($max <= 2, "round_robin never gives one server more than 2 in a row (longest run $max)");
}

# -- ewma: traffic leaves a slow server, and comes back when it is fast --

# Steady sequential traffic for $secs seconds: the tally of who answered.
sub tally_for {
	my ($port, $path, $secs) = @_;
	my ($t0, %n) = (time);
	$n{ served_by($port, $path) }++ while time - $t0 < $secs;
	return \%n;
}

sub share { my ($t, $k) = @_; my $all = sum(0, values %$t); $all ? ($t->{$k} // 0) / $all : 0 }

{
	my $t = tally($port1, ('/ew/name') x 30);
	is(scalar(grep { /^e\d$/ } keys %$t), 3, 'ewma: every server is tried first (' . show($t) . ')');

	$p1->backend('e1')->set_behavior(delay => 300);
	# Go on until the slow server has answered one request (so its
	# response time is known), then count.
	ok(wait_for(sub { served_by($port1, '/ew/name') eq 'e1' }, 15, 0),
	    'ewma: the slowed server e1 received a request');
	my $st = $p1->server_status('ew', 'e1') // {};
	ok(($st->{ewma_us} // 0) >= 100_000,
	    'ewma: its response time is seen as slow (' . ($st->{ewma_us} // 'none') . ' us)');
	$t = tally_for($port1, '/ew/name', 1);
	ok(!grep({ !/^e\d$/ } keys %$t), 'ewma: all answered');
	ok(($t->{e1} // 0) <= 1 && share($t, 'e1') < 0.05,
	    'ewma: the slow server gets (almost) none of the next second\'s requests ('
	    . show($t) . ')');

	$p1->backend('e1')->set_behavior();
	my $t0 = time;
	ok(wait_for(sub { served_by($port1, '/ew/name') eq 'e1' }, 15, 0),
	    sprintf('ewma: with ewma_decay 500ms the recovered server gets traffic again '
	    . '(after %.1f s)', time - $t0));
	# Its first fast answer is averaged with what is left of the slow
	# ones, and an idle server's score decays between its answers, so
	# its picks come closer together answer by answer: 1 to 3 s to 100 of
	# them, up to 12 s seen in a sanitizer build, whose backends' times
	# spread more.
	my %n;
	$t0 = time;
	wait_for(sub { $n{ served_by($port1, '/ew/name') }++; ($n{e1} // 0) >= 100 }, 30, 0);
	ok(($n{e1} // 0) >= 100, sprintf('ewma: and soon a real share of it again '
	    . '(100 requests within %.1f s: %s)', time - $t0, show(\%n)));
}

# -- backup: idle while a primary is up, takes over, hands back --

{
	my $t = tally($port1, ('/bk/name') x 20);
	is_deeply($t, { p1 => 10, p2 => 10 }, 'backup: the primaries share the traffic');
	is(scalar($p1->backend('bk')->requests), 0, 'backup: the backup server saw nothing');

	my $p1_port = $p1->backend('p1')->port;
	$p1->backend('p1')->stop;
	$p1->backend('p2')->stop;
	$t = tally($port1, ('/bk/name') x 20);
	is_deeply($t, { bk => 20 },
	    'backup: with every primary refusing, the backup answers all, no client errors');
	is(state_of($p1, 'bk', 'p1') . ' ' . state_of($p1, 'bk', 'p2'), 'down down',
	    'backup: both primaries are marked down');

	# p1 comes back on the same port; when its mark expires, it takes
	# the traffic back (p2, still refusing, is passed over by retries).
	my $new = Test::Portico::Backend->new(name => 'p1', dir => $p1->tmp, port => $p1_port);
	$p1->{backends}{p1} = $new;	# stopped with the others at the end
	my $t0 = time;
	ok(wait_for(sub { served_by($port1, '/bk/name') eq 'p1' }, 10),
	    sprintf('backup: the restarted primary is used again (after %.1f s)', time - $t0));
	$p1->backend('bk')->clear;
	$t = tally($port1, ('/bk/name') x 20);
	is_deeply($t, { p1 => 20 }, 'backup: then the traffic is handed back to the primary');
	is(scalar($p1->backend('bk')->requests), 0, 'backup: and the backup sees nothing more');
}

# -- slow_start: a server back from a passive mark ramps up over 3 s --

{
	my $t = tally($port1, ('/ss/name') x 10);
	is_deeply($t, { sa => 5, sb => 5 }, 'slow_start: both servers serve at full weight');

	my $sa_port = $p1->backend('sa')->port;
	$p1->backend('sa')->stop;
	$t = tally($port1, ('/ss/name') x 4);
	is_deeply($t, { sb => 4 }, 'slow_start: sa refuses; its requests are retried on sb');
	is(state_of($p1, 'ss', 'sa'), 'down', 'slow_start: sa is marked down');
	$p1->{backends}{sa} = Test::Portico::Backend->new(name => 'sa', dir => $p1->tmp,
	    port => $sa_port);
	ok(wait_for(sub { state_of($p1, 'ss', 'sa') eq 'up' }, 5, 0.01),
	    'slow_start: sa is up again when its mark expires');

	# Steady traffic for 3.6 s; count sa's share per half second.
	my $t0 = time;
	my (@win, $errors);
	my $c = Test::Portico::Client->new($port1);
	while ((my $el = time - $t0) < 3.6) {
		my $r = $c->get('/ss/name');
		$errors++, last unless $r && $r->{status} == 200;
		my $slot = int($el / 0.5);
		$win[$slot]{total}++;
		$win[$slot]{sa}++ if ($r->{header}{'x-backend'} // '') eq 'sa';
	}
	$c->close;
	ok(!$errors, 'slow_start: no errors while sa ramps up');
	my @share = map { $_ && $_->{total} ? ($_->{sa} // 0) / $_->{total} : 0 } @win;
	my $shares = join ' ', map { sprintf '%.2f', $_ } @share;
	ok($share[0] < 0.2, "slow_start: sa gets a small share in its first 0.5 s ($shares)");
	ok($share[-1] > 0.4, "slow_start: about half after 3 s ($shares)");
	ok(@share == 8 && $share[0] < $share[3] && $share[3] <= $share[-1] + 0.1,
	    "slow_start: and its share grows in between ($shares)");
}

$p1->stop;

# ======================================================================
# Two workers: counts shared across workers, hashing, reloads.
# ======================================================================

sub conf2 {
	my (%opt) = @_;
	my $hr4 = $opt{without_hr4} ? '' : 'server "%%BACKEND:hr4%%" {}';
	return <<'EOF' . <<"EOF2" . <<'EOF3';
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }

upstream rr2 {
	server "%%BACKEND:w1%%" { weight = 3 }
	server "%%BACKEND:w2%%" { weight = 2 }
	server "%%BACKEND:w3%%" { weight = 1 }
}
upstream lc {
	balance = "least_conn"
	server "%%BACKEND:lc1%%" {}
	server "%%BACKEND:lc2%%" {}
	server "%%BACKEND:lc3%%" {}
}
upstream lcw {
	balance = "least_conn"
	server "%%BACKEND:lw1%%" { weight = 3 }
	server "%%BACKEND:lw2%%" { weight = 1 }
}
upstream mc {
	server "%%BACKEND:ma%%" { max_conns = 2 }
	server "%%BACKEND:mb%%" { max_conns = 2 }
}
upstream r2 {
	balance = "random2"
	server "%%BACKEND:x1%%" {}
	server "%%BACKEND:x2%%" {}
	server "%%BACKEND:x3%%" {}
}
upstream iph {
	balance = "ip_hash"
	server "%%BACKEND:i1%%" {}
	server "%%BACKEND:i2%%" {}
	server "%%BACKEND:i3%%" {}
}
upstream hu {
	balance = "hash"
	hash_key = "$request_uri"
	server "%%BACKEND:hu1%%" {}
	server "%%BACKEND:hu2%%" {}
	server "%%BACKEND:hu3%%" {}
	server "%%BACKEND:hu4%%" {}
}
upstream hh {
	balance = "hash"
	hash_key = "$http_x_user"
	server "%%BACKEND:hh1%%" {}
	server "%%BACKEND:hh2%%" {}
	server "%%BACKEND:hh3%%" {}
}
upstream hc {
	balance = "hash"
	hash_key = "sid-$cookie_sid"
	server "%%BACKEND:hc1%%" {}
	server "%%BACKEND:hc2%%" {}
	server "%%BACKEND:hc3%%" {}
}
upstream hd {
	balance = "hash"
	hash_key = "$uri"
	max_fails = 1
	fail_timeout = "30s"
	server "%%BACKEND:hd1%%" {}
	server "%%BACKEND:hd2%%" {}
	server "%%BACKEND:hd3%%" {}
	server "%%BACKEND:hd4%%" {}
}
EOF
upstream hr {
	balance = "hash"
	hash_key = "\$request_uri"
	server "%%BACKEND:hr1%%" {}
	server "%%BACKEND:hr2%%" {}
	server "%%BACKEND:hr3%%" {}
	$hr4
}
EOF2

site main {
	route "/status" { status = true }
	route "/rr2/" { upstream = "rr2" }
	route "/lc/" { upstream = "lc" }
	route "/lcw/" { upstream = "lcw" }
	route "/mc/" { upstream = "mc" }
	route "/r2/" { upstream = "r2" }
	route "/iph/" { upstream = "iph" }
	route "/hu/" { upstream = "hu" }
	route "/hh/" { upstream = "hh" }
	route "/hc/" { upstream = "hc" }
	route "/hd/" { upstream = "hd" }
	route "/hr/" { upstream = "hr" }
}
EOF3
}

my $p2 = Test::Portico->new(conf => conf2())->start;
my $port2 = $p2->port('http');
my ($wa, $wb) = sort { $a <=> $b } $p2->wait_workers(2);
ok($wa && $wb, 'two workers run');

# To have requests in both workers the test picks the worker of each
# client connection (Test::Portico::socket_on_worker).

# A new client connection accepted by worker $pid.
sub client_in {
	my ($p, $pid) = @_;
	my $s = $p->socket_on_worker($p->port('http'), $pid) or return undef;
	return Test::Portico::Client->new($p->port('http'), sock => $s);
}

# The backend that answered $path on the keep-alive client $c.
sub served_on {
	my ($c, $path) = @_;
	my $r = $c->get($path);
	return !$r ? 'none' : $r->{status} != 200 ? "status $r->{status}"
	    : $r->{header}{'x-backend'} // 'no x-backend';
}

# Tally of $n requests for $path on the keep-alive client $c.
sub tally_on {
	my ($c, $path, $n) = @_;
	my %n;
	$n{ served_on($c, $path) }++ for 1 .. $n;
	return \%n;
}

my $ca = client_in($p2, $wa);
my $cb = client_in($p2, $wb);
ok($ca && $cb, 'a client connection in each of the two workers')
    or do { done_testing(); exit 1 };
my $in_a = sub { client_in($p2, $wa) };

# -- round robin over two workers: proportional within a tolerance --

{
	my (%t, %per);
	for (1 .. 300) {
		for ([a => $ca], [b => $cb]) {
			my ($w, $c) = @$_;
			my $r = $c->get('/rr2/name');
			my $name = $r && $r->{status} == 200 ? $r->{header}{'x-backend'} : 'error';
			$t{$name}++;
			$per{$w}{$name}++;
		}
	}
	my %want = (w1 => 300, w2 => 200, w3 => 100);
	is(sum(map { $t{$_} // 0 } keys %want), 600, 'round_robin, two workers: all 600 answered');
	ok(!grep({ abs(($t{$_} // 0) - $want{$_}) > 18 } keys %want),
	    'round_robin, two workers: 3:2:1 within 3% (' . show(\%t) . ')');
	ok(!grep({ my $w = $_; grep { abs(($per{$w}{$_} // 0) - $want{$_} / 2) > 9 } keys %want } qw(a b)),
	    'round_robin: and 3:2:1 in each worker (' . show($per{a}) . ' / ' . show($per{b}) . ')');
}

# -- least_conn: new requests go to the idle servers, counted across workers --

{
	# All three slowed: least_conn spreads 9 requests (all in worker A)
	# 3/3/3; once lc2 and lc3 are let go, lc1 still has 3.
	$p2->backend($_)->set_behavior(delay => $HOLD_MS) for qw(lc1 lc2 lc3);
	my @held = hold($p2, 'lc', '/lc/name', sub { up_active($p2, 'lc') >= 9 }, $in_a);
	is(join('/', map { active($p2, 'lc', $_) } qw(lc1 lc2 lc3)), '3/3/3',
	    'least_conn: 9 slow requests spread 3/3/3 over the servers');
	$p2->backend($_)->set_behavior() for qw(lc1 lc2 lc3);
	$p2->backend($_)->release for qw(lc2 lc3);
	ok(wait_for(sub { active($p2, 'lc', 'lc2') + active($p2, 'lc', 'lc3') == 0 }, 5),
	    'least_conn: lc2 and lc3 have answered theirs');
	is(active($p2, 'lc', 'lc1'), 3, 'least_conn: lc1 still has 3 in flight (in worker A)');
	my $t = tally_on($cb, '/lc/name', 30);
	ok(!$t->{lc1} && ($t->{lc2} // 0) + ($t->{lc3} // 0) == 30,
	    'least_conn: worker B sends no new request to the busy lc1 (' . show($t) . ')');
	ok(($t->{lc2} // 0) >= 10 && ($t->{lc3} // 0) >= 10,
	    'least_conn: the idle servers share them (ties by round robin)');
	$t = tally_on($ca, '/lc/name', 10);
	ok(!$t->{lc1} && ($t->{lc2} // 0) + ($t->{lc3} // 0) == 10,
	    'least_conn: nor does worker A (' . show($t) . ')');
	ok(release($p2, 'lc', \@held, 'lc1'), 'least_conn: the open requests count drops back to 0');

	# Weighted: both slow, 3 requests go lw1, lw2, lw1 (or lw2, lw1, lw1);
	# then 2 in flight at lw1 (weight 3) weigh less than 1 at lw2
	# (weight 1), so lw1 takes every new request.
	$p2->backend($_)->set_behavior(delay => $HOLD_MS) for qw(lw1 lw2);
	@held = hold($p2, 'lcw', '/lcw/name', sub { up_active($p2, 'lcw') >= 3 }, $in_a);
	is(active($p2, 'lcw', 'lw1') . '/' . active($p2, 'lcw', 'lw2'), '2/1',
	    'least_conn weighted: 2 requests in flight at lw1 (weight 3), 1 at lw2 (weight 1)');
	$p2->backend($_)->set_behavior() for qw(lw1 lw2);
	$t = tally_on($cb, '/lcw/name', 20);
	is(show($t), 'lw1=20',
	    'least_conn weighted: 2/3 < 1/1, so the weight-3 server takes all new requests');
	ok(release($p2, 'lcw', \@held, 'lw1', 'lw2'),
	    'least_conn weighted: the open requests count drops back to 0');
}

# -- max_conns: a full server is skipped; all full gives 503 --

{
	my ($ma, $mb) = map { $p2->backend($_) } qw(ma mb);
	$ma->set_behavior(delay => $HOLD_MS);
	my @held = hold($p2, 'mc', '/mc/name', sub { active($p2, 'mc', 'ma') >= 2 }, $in_a);
	is(active($p2, 'mc', 'ma'), 2, 'max_conns: ma has its 2 requests in flight (in worker A)');
	$ma->set_behavior();
	my $t = tally_on($cb, '/mc/name', 20);
	is(show($t), 'mb=20', 'max_conns: worker B skips the full ma, mb takes every request');

	$mb->set_behavior(delay => $HOLD_MS);
	push @held, hold($p2, 'mc', '/mc/name', sub { active($p2, 'mc', 'mb') >= 2 }, $in_a);
	is(active($p2, 'mc', 'mb'), 2, 'max_conns: mb now has 2 in flight too');
	my $seen = scalar($ma->requests) + scalar($mb->requests);
	my $r = $cb->get('/mc/name', timeout => 5);
	is($r && $r->{status}, 503, 'max_conns: with every server full the client gets 503');
	is(scalar($ma->requests) + scalar($mb->requests), $seen, 'max_conns: no server saw it');
	$mb->set_behavior();
	ok(release($p2, 'mc', \@held, 'ma', 'mb'), 'max_conns: the open requests count drops back to 0');
	$cb = client_in($p2, $wb) if !$r || ($r->{header}{connection} // '') =~ /close/i;
}

# -- random2: every server gets a share; a busy one gets none --

{
	my $t = tally($port2, ('/r2/name') x 300);
	ok(!grep({ ($t->{$_} // 0) < 60 } qw(x1 x2 x3)),
	    'random2: each of 3 servers gets at least 20% of 300 requests (' . show($t) . ')');
	$p2->backend('x1')->set_behavior(delay => $HOLD_MS);
	my @held = hold($p2, 'r2', '/r2/name', sub { active($p2, 'r2', 'x1') >= 1 }, $in_a);
	is(active($p2, 'r2', 'x1'), 1, 'random2: one slow request in flight at x1 (in worker A)');
	$p2->backend('x1')->set_behavior();
	$t = tally_on($cb, '/r2/name', 60);
	ok(!$t->{x1} && ($t->{x2} // 0) + ($t->{x3} // 0) == 60,
	    'random2: in worker B, x1 always loses the draw against an idle server (' . show($t) . ')');
	ok(($t->{x2} // 0) >= 10 && ($t->{x3} // 0) >= 10, 'random2: x2 and x3 share the requests');
	ok(release($p2, 'r2', \@held, 'x1'), 'random2: the open requests count drops back to 0');
}

# -- ip_hash: one client address, one server --

{
	my $t = tally($port2, map { "/iph/p$_" } 1 .. 30);
	is(scalar(keys %$t), 1, 'ip_hash: 30 requests from 127.0.0.1 go to one server (' . show($t) . ')');
	ok((keys %$t)[0] =~ /^i\d$/, 'ip_hash: and they are answered');

	my %first;
	my $src_ok = IO::Socket::IP->new(LocalHost => '127.0.0.2', PeerHost => '127.0.0.1',
	    PeerPort => $port2, Proto => 'tcp');
	SKIP: {
		skip 'cannot connect from 127.0.0.2', 2 unless $src_ok;
		close $src_ok;
		my $unstable = 0;
		for my $i (2 .. 31) {
			my $src = "127.0.0.$i";
			my $s = get_from($port2, $src, "/iph/a$i");
			$first{$src} = $s;
			$unstable++ for grep { get_from($port2, $src, "/iph/b$i$_") ne $s } 1 .. 2;
		}
		my %used;
		$used{$_}++ for values %first;
		is($unstable, 0, 'ip_hash: each of 30 client addresses stays on its server');
		ok(!$used{none} && keys(%used) == 3,
		    'ip_hash: the addresses are spread over the 3 servers (' . show(\%used) . ')');
	}
}

# -- hash on $request_uri: stable, spread --

my @keys = map { "/hu/key$_" } 1 .. 200;
{
	my %map = map { $_ => served_by($port2, $_) } @keys;
	my %per;
	$per{$_}++ for values %map;
	ok(!grep({ ($per{$_} // 0) < 25 } qw(hu1 hu2 hu3 hu4)) && keys(%per) == 4,
	    'hash $request_uri: 200 keys spread over the 4 servers (' . show(\%per) . ')');
	my @moved = grep { served_on($cb, $_) ne $map{$_} } shuffle @keys;
	is(scalar(@moved), 0, 'hash $request_uri: asked again in another order, in the other '
	    . 'worker, every key goes to the same server');
	my $q = grep { served_by($port2, "$_?v=2") ne $map{$_} } @keys[0 .. 49];
	ok($q >= 15, "hash \$request_uri: the query is part of the key ($q of 50 moved)");
}

# -- hash on a header and on a cookie --

{
	my (%map, $unstable);
	for my $u (map { "user$_" } 1 .. 60) {
		$map{$u} = served_by($port2, "/hh/a", headers => ['X-User' => $u]);
		$unstable++ for grep { served_by($port2, $_, headers => ['X-User' => $u]) ne $map{$u} }
		    "/hh/b", "/hh/other/path?x=$u";
	}
	my %per;
	$per{$_}++ for values %map;
	is($unstable // 0, 0, 'hash $http_x_user: a user stays on one server whatever the path');
	ok(!grep({ ($per{$_} // 0) < 8 } qw(hh1 hh2 hh3)),
	    'hash $http_x_user: 60 users spread over the 3 servers (' . show(\%per) . ')');

	(%map, $unstable) = ();
	for my $sid (map { "s$_" } 1 .. 60) {
		$map{$sid} = served_by($port2, "/hc/a", headers => [Cookie => "sid=$sid"]);
		$unstable++ for grep { served_by($port2, "/hc/$sid", headers => [Cookie => $_]) ne $map{$sid} }
		    "theme=dark; sid=$sid; lang=en", "lang=en; sid=$sid";
	}
	%per = ();
	$per{$_}++ for values %map;
	is($unstable // 0, 0, 'hash sid-$cookie_sid: the cookie decides, not the path or other cookies');
	ok(!grep({ ($per{$_} // 0) < 8 } qw(hc1 hc2 hc3)),
	    'hash sid-$cookie_sid: 60 sessions spread over the 3 servers (' . show(\%per) . ')');
}

# -- hash: a server that goes down hands over only its own keys --

{
	my @k = map { "/hd/k$_" } 1 .. 200;
	my %map = map { $_ => served_by($port2, $_) } @k;
	my @on4 = grep { $map{$_} eq 'hd4' } @k;
	ok(@on4 >= 20, 'hash down: hd4 has its share of the keys (' . scalar(@on4) . ')');
	$p2->backend('hd4')->stop;
	my %after = map { $_ => served_by($port2, $_) } @k;
	is(state_of($p2, 'hd', 'hd4'), 'down', 'hash down: the stopped hd4 is marked down');
	is(scalar(grep { $after{$_} !~ /^hd[123]$/ } @k), 0,
	    'hash down: every key is answered by a live server (retried, no client error)');
	is(scalar(grep { $map{$_} ne 'hd4' && $after{$_} ne $map{$_} } @k), 0,
	    'hash down: the keys of the other servers stay where they were');
	my %to;
	$to{ $after{$_} }++ for @on4;
	ok(keys(%to) >= 2, 'hash down: hd4\'s keys go to more than one server (' . show(\%to) . ')');
	my $again = grep { served_by($port2, $_) ne $after{$_} } @on4;
	is($again, 0, 'hash down: and stay there');
}

# -- hash: removing a server by reload moves only its keys --

{
	my @k = map { "/hr/k$_" } 1 .. 200;
	my %map = map { $_ => served_by($port2, $_) } @k;
	my @on4 = grep { $map{$_} eq 'hr4' } @k;
	ok(@on4 >= 20 && !grep({ $map{$_} !~ /^hr[1-4]$/ } @k),
	    'hash reload: 200 keys on 4 servers, hr4 has ' . scalar(@on4));

	$p2->write_conf(conf2(without_hr4 => 1));
	ok(scalar($p2->reload_and_wait), 'hash reload: reloaded without hr4');
	my $hr = (grep { $_->{name} eq 'hr' } @{ ($p2->status_doc // {})->{upstreams} // [] })[0];
	is(scalar(@{ $hr->{servers} // [] }), 3, 'hash reload: the status page lists 3 servers');
	$p2->backend('hr4')->clear;
	my %after = map { $_ => served_by($port2, $_) } @k;
	is(scalar($p2->backend('hr4')->requests), 0, 'hash reload: the removed server gets nothing');
	is(scalar(grep { $map{$_} ne 'hr4' && $after{$_} ne $map{$_} } @k), 0,
	    'hash reload: every key of the remaining servers stays on its server');
	my %to;
	$to{ $after{$_} }++ for @on4;
	ok(!grep({ !/^hr[123]$/ } keys %to) && keys(%to) >= 2,
	    'hash reload: the removed server\'s keys spread over the others (' . show(\%to) . ')');
}

done_testing();
