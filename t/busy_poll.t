#!/usr/bin/perl

# busy_poll: a worker asks for events without sleeping for a while before
# it sleeps, so a request that follows closely on the last event finds it
# awake. Requests sent one after the other on one connection put a worker
# to sleep at least once each without it (it must wait for the client's
# next request), and hardly ever with it. Timers still fire on time, and
# the option's value is checked.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Time::HiRes qw(time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $N = 200;	# requests in a row on one connection

sub conf {
	my ($busy) = @_;
	return <<"EOF";
workers = 1
keepalive_timeout = "2s"
$busy
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:a%%" {} }
site main { route "/" { upstream = "app" } }
EOF
}

# Voluntary context switches of the worker per request, over $N requests
# in a row on one keep-alive connection.
sub sleeps_per_request {
	my ($p) = @_;
	my ($worker) = $p->wait_workers(1);
	my $c = Test::Portico::Client->new($p->port('http')) or return undef;
	my $r = $c->get('/warm-up');
	return undef unless $r && $r->{status} == 200;
	my $before = Test::Portico::proc_status($worker)->{voluntary_ctxt_switches};
	for my $i (1 .. $N) {
		$r = $c->get("/$i");
		return undef unless $r && $r->{status} == 200;
	}
	my $after = Test::Portico::proc_status($worker)->{voluntary_ctxt_switches};
	$c->close;
	return ($after - $before) / $N;
}

# A polling worker needs a CPU of its own: on one CPU, the client and the
# backend only run when it is preempted, and its polls run out.
chomp(my $cpus = `nproc 2>/dev/null` || 1);

my $plain = Test::Portico->new(conf => conf(''))->start;
my $off = sleeps_per_request($plain);
ok(defined $off, "without busy_poll: $N requests answered");
cmp_ok($off, '>=', 0.8, 'without busy_poll the worker sleeps about once a request or more')
    if defined $off;
$plain->stop;

# 10 ms: far more than a local client and backend take to answer, even on
# a loaded machine most of the time.
my $busy = Test::Portico->new(conf => conf('busy_poll = "10ms"'))->start;
my $on = sleeps_per_request($busy);
ok(defined $on, "with busy_poll: $N requests answered");
SKIP: {
	skip "$cpus CPU: polling cannot keep the worker awake", 1 if $cpus < 2 || !defined $on;
	cmp_ok($on, '<', 0.3, 'with busy_poll the worker seldom sleeps between requests');
}

# Polling must not delay timers: an idle connection still closes at
# keepalive_timeout.
my $c = Test::Portico::Client->new($busy->port('http'));
my $r = $c->get('/');
is($r && $r->{status}, 200, 'a request, then the connection stays idle');
my $t0 = time;
ok($c->closed_within(4), 'the idle connection is closed within keepalive_timeout + 2 s');
cmp_ok(time - $t0, '>=', 1.5, 'and not long before keepalive_timeout');
$busy->stop;

# The value: microseconds or milliseconds, at most 10 ms; -T shows it.
my $t = Test::Portico->new(conf => conf('busy_poll = "50us"'));
my ($rc, $out) = $t->run('-T');
is($rc, 0, 'busy_poll = "50us" is accepted');
like($out, qr/^busy_poll = "50us"$/m, '-T prints it');
for my $bad ('11ms', '50', '1s', 'fast') {
	my $b = Test::Portico->new(conf => conf("busy_poll = \"$bad\""));
	my ($rc, undef, $err) = $b->run('-t');
	is($rc, 1, "busy_poll = \"$bad\" is refused");
	like($err, qr/portico\.conf:\d+: busy_poll: bad value "\Q$bad\E"/, 'with the line and the value');
}

done_testing;
