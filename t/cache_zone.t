#!/usr/bin/perl

# The cache zone across processes: concurrent misses in both workers make
# one request to the server; a worker killed while it stores an answer
# leaves nothing half written to serve; an answer on its way to a client
# stays as it was when its blocks go to another; the zone survives a
# reload (same name and size) and a binary upgrade.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Backend qw(content);
use Test::Portico::Client;
use IO::Select;
use IO::Socket::IP;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $conf = <<'EOF';
workers = 2
shutdown_timeout = "5s"
listen http { address = "127.0.0.1:%%PORT:http%%" }
cache main { size = "%%SIZE%%"  max_object = "1m" }
upstream app { server "%%BACKEND:app%%" {} }
site s {
	route "/" {
		upstream = "app"
		cache = "main"
		cache_lock_timeout = "120s"
		cache_purge = {"127.0.0.0/8"}
	}
	route "/status" { status = true }
}
EOF
my $p = Test::Portico->new(conf => $conf =~ s/%%SIZE%%/16m/r)->start;
my $port = $p->port('http');
my $app = $p->backend('app');
$p->allow_log(qr/worker \d+ \(pid \d+\) killed by signal 9/);
$p->allow_log(qr/an answer was evicted while being sent/);

sub origin_count {
	my ($target) = @_;
	return scalar grep { $_->{target} eq $target } $app->requests;
}

sub zone { ($p->status_doc // {})->{caches}[0] // {} }
sub counter { ($p->status_doc // {})->{cache}{$_[0]} // 0 }

# Up to $n bytes in all from $sock, read no further than that (what
# follows stays in the kernel), waiting up to 30 s for each read.
sub read_upto {
	my ($sock, $n) = @_;
	my ($got, $sel) = ('', IO::Select->new($sock));
	while (length $got < $n && $sel->can_read(30)) {
		sysread($sock, $got, $n - length $got, length $got) or last;
	}
	return $got;
}

# ---- 100 concurrent misses, 2 workers, 1 request to the server ----
my $cold = '/hdr?Cache-Control=max-age%3D60&x=cold';
$app->set_behavior(delay => 120000);
my @clients = map { Test::Portico::Client->new($port) } 1 .. 100;
is(scalar(grep { defined } @clients), 100, '100 clients connect');
$_->request('GET', $cold) for @clients;
ok(wait_for(sub { $app->delayed_count >= 1 }, 30), 'one request reaches the (held) server');
ok(wait_for(sub { counter('collapsed') >= 99 }, 60), 'the 99 others wait for it, in both workers');
$app->set_behavior();
$app->release;
my @bodies = map { my $r = $_->response(timeout => 60); $r && $r->{status} == 200 ? $r->{body} : 'failed' } @clients;
is(scalar(grep { $_ eq $bodies[0] && $_ ne 'failed' } @bodies), 100, 'all 100 get the one answer');
is(origin_count($cold), 1, 'the server was asked exactly once');

# ---- a worker killed while it stores an answer ----
my $half = "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 20000\r\n\r\n";
$app->set_raw('slow', $half . substr(content(20000), 0, 10000), { sleep => 60 }, substr(content(20000), 10000));
my ($victim) = $p->worker_pids;
my $s = $p->socket_on_worker($port, $victim);
ok($s, 'a connection to one worker');
my $c = Test::Portico::Client->new($port, sock => $s);
$c->request('GET', '/raw/slow');
ok(defined $c->recv_exact(length($half) + 9000, 30), 'half the answer streamed while it is being stored');
is(zone()->{writing}, 1, 'the zone holds it as being written');
kill 'KILL', $victim;
ok(wait_for(sub { (zone()->{writing} // 1) == 0 && $p->worker_pids == 2 }, 20),
   'the worker killed mid-write: the master frees what it left, and a new worker comes');
$app->set_raw('slow', $half . content(20000));
my $after = http_get($port, '/raw/slow');
is($after->{body}, content(20000), 'the next request gets the whole answer, not half of one');
like($after->{header}{'cache-status'}, qr/fwd=miss/, '... fetched anew');
is(http_get($port, '/raw/slow')->{body}, content(20000), '... and stored whole');
ok(zone()->{reaped} >= 1, 'the status page counts what was reaped');

# ---- an answer on its way while another takes its blocks ----
# A hit's body is lent from the zone's blocks, not copied out first. The
# client reads a little of it, the answer is purged and a new one of the
# same size is stored in the blocks it freed (they are taken again in
# their order); what the client reads then is still the first answer
# (whole, or cut short where portico saw the purge), never bytes of the
# new one.
my $unread = '/hdr?Cache-Control=max-age%3D60&body=60000&x=unread';
http_get($port, $unread);
like(http_get($port, $unread)->{header}{'cache-status'}, qr/hit/, 'a 60000-byte answer is stored');
my $reader = Test::Portico::Client->new($port);
$reader->request('GET', $unread);
my $start = read_upto($reader->socket, 10000);
my $head_len = index($start, "\r\n\r\n") + 4;
ok($head_len > 4, 'a client reads the first 10000 bytes of it from the cache');
is(http($port, method => 'PURGE', target => $unread)->{status}, 200, 'the answer is purged meanwhile');
$app->set_raw('other', "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 60000\r\n\r\n" .
	      ('Z' x 60000));
http_get($port, '/raw/other');
like(http_get($port, '/raw/other')->{header}{'cache-status'}, qr/hit/,
     '... and another answer of its size stored in its place');
my $rest = read_upto($reader->socket, $head_len + 60000 - length $start);
my $body = substr($start . $rest, $head_len);
ok(length $body > 10000 - $head_len && $body eq substr(content(60000), 0, length $body),
   'the client then reads the first answer, never the new one (' . length($body) . ' bytes)');

# ---- a reload keeps the zone; a new size makes a new one ----
my $kept = '/hdr?Cache-Control=max-age%3D600&x=kept';
my $before = http_get($port, $kept)->{body};
ok($p->reload_and_wait, 'reload');
my $r = http_get($port, $kept);
is($r->{body}, $before, 'after a reload the answer is still served ...');
like($r->{header}{'cache-status'}, qr/hit/, '... from the cache');
$p->write_conf($conf =~ s/%%SIZE%%/32m/r);
ok($p->reload_and_wait, 'reload with a new size');
like(http_get($port, $kept)->{header}{'cache-status'}, qr/fwd=miss/, 'a resized zone starts empty');

# ---- a binary upgrade hands the zone on ----
my $up = '/hdr?Cache-Control=max-age%3D600&x=upgrade';
my $stored = http_get($port, $up)->{body};
my $old = $p->master_pid;
kill 'USR2', $old;
ok(wait_for(sub { my $m = $p->master_pid; $m && $m != $old && grep({ $_->{comm} eq 'portico-worker' } Test::Portico::children_of($m)) >= 2 }, 20),
   'USR2: a new master with its workers');
my $new = $p->master_pid;
kill 'QUIT', $old;
ok(wait_for(sub { !Test::Portico::alive($old) }, 20), 'the old master quits');
$p->follow_pid_file;
ok(wait_for(sub { $p->worker_pids == 2 }, 10), 'the new workers serve alone');
my $u = http_get($port, $up);
is($u->{body}, $stored, 'after the upgrade the answer is still served ...');
like($u->{header}{'cache-status'}, qr/hit/, '... from the zone the new master took over');
like($p->error_log, qr/cache "main" taken over from the previous binary: \d+ objects/,
     'the new master says it took the zone over');
is(origin_count($up), 1, 'the server was asked once');

done_testing;
