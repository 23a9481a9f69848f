#!/usr/bin/perl

# Reload under full load costs nothing: while wrk keeps 16 keep-alive
# connections busy, 30 reloads in a row (alternating two valid
# configurations) give not one failed or reset request. Across a reload,
# a slow request in flight completes on the old worker, an idle keep-alive
# connection is closed between requests (a request sent in the grace is
# answered whole, with Connection: close), and a WebSocket tunnel on an old
# worker lives on until shutdown_timeout, then is closed.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Test::Portico::Wrk;
use Time::HiRes qw(sleep time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();
plan skip_all => 'wrk is not installed (.ci/deps installs it)' unless Test::Portico::Wrk->path;

my $SHUTDOWN = 3;
my $conf = <<"EOF";
workers = 2
shutdown_timeout = "${SHUTDOWN}s"
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream a { server "%%BACKEND:a%%" {} }
upstream b { server "%%BACKEND:b%%" {} }
site main { route "/" { upstream = "%%UP%%" } }
EOF
my $p = Test::Portico->new(conf => $conf =~ s/%%UP%%/a/r)->start;
my $port = $p->port('http');
$p->backend('b');

# Reload to the configuration routing to upstream $up; returns the new
# workers once they run (and, unless wait_old => 0, the old ones are gone).
sub reload_to {
	my ($up, %opt) = @_;
	$p->write_conf($conf =~ s/%%UP%%/$up/r);
	return $p->reload_and_wait(%opt);
}

sub body_of {
	my $r = http_get($port, '/name');
	return $r && $r->{status} == 200 ? $r->{body} : '';
}

# ==== 30 reloads under wrk ====

my $load = Test::Portico::Wrk->start("http://127.0.0.1:$port/name", duration => 120,
    connections => 16);
ok(wait_for(sub { $p->backend('a')->request_count > 100 }, 10), 'wrk is loading portico');
my ($reloads, $t0) = (0, time);
for my $i (1 .. 30) {
	$reloads++ if reload_to($i % 2 ? 'b' : 'a');
	# Paced, so that the reloads are spread over seconds of traffic.
	sleep 0.1;
}
my $took = time - $t0;
my $answered = sub { $p->backend('a')->request_count + $p->backend('b')->request_count };
my $n = $answered->();
ok(wait_for(sub { $answered->() >= $n + 100 }, 30),
    sprintf('wrk still gets answers after the reloads (%.1f s)', $took));
my $r = $load->finish;
is($reloads, 30, '30 reloads in a row, each accepted');
is($r->{non2xx}, 0, 'not one answer but 2xx');
is($r->{errors}, 0, 'not one connect, read or write error, reset or timeout') or diag($r->{text});
cmp_ok($p->backend('b')->request_count, '>', 0, 'both configurations served');
ok(wait_for(sub { $p->worker_pids == 2 }, 10), 'the old generations are gone, two workers remain');

# ==== in flight, idle and tunnelled connections across one reload ====

# The configuration serving now is "a" (the 30th reload).
is(body_of(), 'a', 'configuration a serves');
my @old = $p->worker_pids;

my @slow = map { Test::Portico::Client->new($port, timeout => 10) } 1 .. 4;
$_->request(GET => '/delay/3000') for @slow;

my $idle = Test::Portico::Client->new($port, timeout => 5);
is($idle->get('/name')->{status}, 200, 'a keep-alive connection made one request');
my $graced = Test::Portico::Client->new($port, timeout => 5);
is($graced->get('/name')->{status}, 200, 'and another one');

my $ws = Test::Portico::Client->new($port, timeout => 10);
$ws->send_raw("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
is($ws->response->{status}, 101, 'a WebSocket tunnel is open');

ok(wait_for(sub { grep({ $_->{target} =~ m{^/delay/3000} } $p->backend('a')->requests) == 4 }, 5),
    'four slow requests (3 s) are in flight at the backend');

my $t_reload = time;
ok(reload_to('b', wait_old => 0), 'reload to configuration b');
ok(wait_for(sub { body_of() eq 'b' }, 5), 'new connections get configuration b');

# A request sent on an idle connection during the grace is served whole.
my $g = $graced->get('/name');
is($g && $g->{status}, 200, 'a request on an idle keep-alive connection just after the reload: 200');
is($g && $g->{body}, 'a', '... served by the old worker, whole');
like($g && $g->{header}{connection} // '', qr/close/i, '... with Connection: close');
ok($graced->closed_within(2), '... and then the connection is closed');

# One that stays idle is closed, with nothing sent on it.
my $rest = $idle->recv_all(3);
ok($idle->at_eof, 'an idle keep-alive connection is closed by the old worker');
is($rest, '', '... between requests: nothing was sent on it');

for my $i (0 .. $#slow) {
	my $x = $slow[$i]->response;
	is($x && $x->{status}, 200, "slow request $i in flight during the reload completes: 200");
	is($x && $x->{body}, 'a', "... with its whole answer, from configuration a's backend");
}

# The tunnel outlives the old workers' requests, up to shutdown_timeout.
my $echo = '';
$ws->send_raw('ping');
$echo .= $ws->recv_some(1) while length $echo < 4 && time - $t_reload < $SHUTDOWN;
is($echo, 'ping', 'the tunnel on the old worker still carries bytes after the reload');
ok(grep({ Test::Portico::alive($_) } @old), 'so its worker is still there');
ok($ws->closed_within($SHUTDOWN + 3), 'then the tunnel is closed');
my $closed_after = time - $t_reload;
cmp_ok($closed_after, '>=', $SHUTDOWN - 0.5,
    sprintf('... at shutdown_timeout (%.1f s after the reload)', $closed_after));
ok(wait_for(sub { !grep { Test::Portico::alive($_) } @old }, 5), 'and the old workers exit');
like($p->error_log, qr/shutdown_timeout reached, closing 1 connections/,
    'the worker says why it closed the tunnel');
like($p->error_log, qr/exchange ended KT \(worker stopping\), status 101,.*"GET \S+ HTTP/,
    'and the tunnel\'s exchange ends "KT": killed by the stop, in the tunnel');

done_testing();
