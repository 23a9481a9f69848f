#!/usr/bin/perl

# Shared memory as the processes see it: counters summed over workers and
# kept across a reload, a server's health carried over when the zone must
# grow, and the open requests of a killed worker given back.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use IO::Socket::INET;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $base = <<'EOF';
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app {
	max_fails = 1
	fail_timeout = "60s"
	server "%%BACKEND:a%%" {}
	server "%%BACKEND:b%%" {}
	server "127.0.0.1:%%PORT:closed%%" {}
%%EXTRA%%
}
site s {
	route "/" { upstream = "app" }
	route "/status" { status = true }
}
EOF

sub conf_with {
	my ($extra) = @_;
	return $base =~ s/%%EXTRA%%/$extra/r;
}

my $p = Test::Portico->new(conf => conf_with(''))->start;
my $port = $p->port('http');
$p->wait_workers;

# Counters are summed over every worker.
my $ok = 0;
for (1 .. 40) {
	my $r = http_get($port, '/');
	$ok++ if $r && $r->{status} == 200;
}
is($ok, 40, 'every request answered, the closed server skipped');
my $st = $p->status_doc;
is($st->{processes}, 2, 'the status page adds up both workers');
cmp_ok($st->{responses}{'2xx'}, '>=', 40, 'and counts their responses');
my $closed = "127.0.0.1:" . $p->port('closed');
my $cs = $p->server_status('app', $closed, $st) // {};
is($cs->{state}, 'down', 'a refusing server is marked down');
cmp_ok($cs->{failed_down_ms}, '>', 50_000, 'for fail_timeout');
my $before = $st->{responses}{'2xx'};

# A reload keeps the zones: counters go on, the mark stays.
my $log_before = length $p->error_log;
ok(scalar $p->reload_and_wait, 'reload with the same configuration');
$st = $p->status_doc;
cmp_ok($st->{responses}{'2xx'}, '>', $before, 'counters survive a reload');
is(($p->server_status('app', $closed, $st) // {})->{state}, 'down',
    'and so does the server\'s state');
unlike(substr($p->error_log, $log_before), qr/shared memory zone "health"/,
    'the health zone was not made again');

# Enough servers that the health zone must grow: the state is carried over.
my $extra = join '', map { "\tserver \"127.0.0.2:" . (20000 + $_) . "\" { backup = true }\n" } 1 .. 120;
$p->write_conf(conf_with($extra));
ok(scalar $p->reload_and_wait, 'reload with 120 more servers');
like($p->error_log, qr/shared memory zone "health": 128 KiB/, 'a larger health zone was made');
$st = $p->status_doc;
$cs = $p->server_status('app', $closed, $st) // {};
is($cs->{state}, 'down', 'the down server is still down in the new zone');
cmp_ok($cs->{failed_down_ms}, '>', 40_000, 'with the rest of its time');
is(scalar @{ $st->{upstreams}[0]{servers} }, 123, 'and the new servers are listed');

# Requests in flight when their worker is killed: the master gives back
# the worker's share of open requests, or least_conn would shun the
# server forever.
my @slow;
for (1 .. 4) {
	my $c = Test::Portico::Client->new($port);
	$c->request(GET => '/delay/4000');
	push @slow, $c;
}
my $active = sub {
	my $s = $p->status_doc or return 0;
	my $n = 0;
	$n += $_->{active} for @{ $s->{upstreams}[0]{servers} };
	return $n;
};
ok(wait_for(sub { $active->() == 4 }, 5), 'four requests in progress are counted');
$p->allow_log(qr/killed by signal 9/);
kill 'KILL', $p->worker_pids;
$p->wait_workers;
ok(wait_for(sub { $active->() == 0 }, 5), 'after the workers are killed, none is counted')
    or diag("active: " . $active->());
$_->close for @slow;

# Clients that give up while their requests wait for a server: portico
# stops waiting too (499 in the access log), so they stop counting.
my @gone;
for (1 .. 3) {
	my $c = Test::Portico::Client->new($port);
	$c->request(GET => '/delay/8000');
	push @gone, $c;
}
ok(wait_for(sub { $active->() == 3 }, 5), 'three requests wait for a slow server');
$_->close for @gone;
ok(wait_for(sub { $active->() == 0 }, 3), 'their clients close: none is counted any more')
    or diag("active: " . $active->());
like($p->error_log, qr/client closed the connection while waiting for upstream/,
    'and the error log says why');

# More workers than the stats zone has room for: a new zone, which starts
# from the old one's totals, and the old workers' counts, when they exit,
# go to it.
$st = $p->status_doc;
my $answered = $st->{responses}{'2xx'};
$p->write_conf(conf_with($extra) =~ s/^workers = 2$/workers = 16/mr);
ok(scalar $p->reload_and_wait, 'reload with 16 workers');
like($p->error_log, qr/shared memory zone "stats": 128 KiB/, 'a larger stats zone was made');
$st = $p->status_doc;
cmp_ok($st->{responses}{'2xx'}, '>=', $answered, 'and no answered request went uncounted')
    or diag("before: $answered, after: $st->{responses}{'2xx'}");
is($st->{processes}, 16, 'the new zone holds the 16 workers');

$p->stop;
done_testing();
