#!/usr/bin/perl

# limit_req and limit_conn with two workers: counts that hold exactly
# across both, 429 with Retry-After (the status configurable), keys from a
# header that leave other keys alone, delayed requests answered later
# instead of refused, a delayed request whose client leaves ended without
# reaching the server, open requests given back when their exchange ends
# and when their worker is killed, buckets kept across a reload and a
# binary upgrade, the
# access log naming the limit that refused, the status page's counts, and
# configuration errors.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Time::HiRes qw(time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $CONF = <<'EOF';
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
limit_req slow { rate = "1r/h"  burst = 5  nodelay = true }
limit_req byclient { key = "$http_x_client"  rate = "1r/h"  burst = 1  nodelay = true  status = 503 }
limit_req smooth { key = "$http_x_client"  rate = "3r/m"  burst = 1 }
limit_req hold { key = "$http_x_client"  rate = "1r/h"  burst = 1 }
limit_conn two { key = "$http_x_client"  max = 2 }
site s {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	route "/slow/" { upstream = "app"  limit_req = "slow" }
	route "/client/" { upstream = "app"  limit_req = "byclient" }
	route "/smooth/" { upstream = "app"  limit_req = "smooth" }
	route "/hold/" { upstream = "app"  limit_req = "hold" }
	route "/conn/" { upstream = "app"  limit_conn = "two" }
	route "/status" { status = true }
	route "/" { upstream = "app" }
}
EOF

my $p = Test::Portico->new(conf => $CONF)->start;
my $port = $p->port('http');
my $app = $p->backend('app');
my @workers = $p->wait_workers(2);
is(scalar @workers, 2, 'two workers');

# A request on a connection that worker $pid accepted.
sub on_worker {
	my ($pid, $target, @headers) = @_;
	my $s = $p->socket_on_worker($port, $pid) or return undef;
	my $c = Test::Portico::Client->new($port, sock => $s);
	$c->request(GET => $target, headers => \@headers);
	return $c;
}

sub get {
	my ($target, @headers) = @_;
	return http($port, target => $target, headers => \@headers);
}

# ---- exact counts across workers ----

# 1r/h with burst 5: burst + 1 pass at once, then one an hour, however
# the requests are spread over the workers (buckets drained here stay so
# for the whole test, on however slow a machine).
my (%status, %by_worker, $retry_after);
my $t0 = time;
for my $i (0 .. 19) {
	my $w = $workers[$i % 2];
	my $c = on_worker($w, "/slow/$i") or next;
	my $r = $c->response or next;
	$status{$r->{status}}++;
	$by_worker{$w}{$r->{status}}++;
	$retry_after //= $r->{header}{'retry-after'} if $r->{status} == 429;
}
my $elapsed = time - $t0;
my $want = 6 + int($elapsed / 3600);
is($status{200} // 0, $want, "1r/h, burst 5: exactly $want of 20 pass over both workers");
is($status{429} // 0, 20 - $want, '... the others are refused with 429');
ok(($by_worker{$workers[0]}{429} // 0) > 0 && ($by_worker{$workers[1]}{429} // 0) > 0,
   '... by both workers');
like($retry_after // '', qr/^\d+$/, 'a refusal carries Retry-After');
ok(defined $retry_after && $retry_after >= 1 && $retry_after <= 3600,
   '... in seconds, at most the hour a request takes to come back');

# ---- keys from a header; the status ----

my @a = map { get('/client/x', 'X-Client' => 'a')->{status} } 1 .. 3;
is("@a", '200 200 503', 'X-Client a: burst 1 passes two, then status = 503');
is(get('/client/x', 'X-Client' => 'b')->{status}, 200, 'X-Client b is unaffected');
is(get('/client/x', 'X-Client' => 'b')->{status}, 200, '... and has its own burst');
is(get('/client/x', 'X-Client' => 'a')->{status}, 503, 'while a is still refused');
my @none = map { get('/client/x')->{status} } 1 .. 4;
is("@none", '200 200 200 200', 'requests without the header (an empty key) are not counted');

# ---- delay ----

sub delayed_count { (($p->status_doc // {})->{limits} // {})->{req_delayed} // 0 }

# 3r/m, burst 1, delay 0: the second request waits its turn (20 s after
# the first); the third, sent once the second is known to wait, is over
# the burst and refused at once, before the second is answered. Only the
# few round trips between the first and the third must take less than
# 20 s.
my $delayed0 = delayed_count();
is(get('/smooth/1', 'X-Client' => 'd')->{status}, 200, 'the first request passes');
my $delayed = Test::Portico::Client->new($port);
$delayed->request(GET => '/smooth/2', headers => ['X-Client' => 'd']);
ok(wait_for(sub { delayed_count() > $delayed0 }, 10), 'the second is delayed');
my $third = Test::Portico::Client->new($port);
$third->request(GET => '/smooth/3', headers => ['X-Client' => 'd']);
is(($third->response // {})->{status}, 429, 'the third, over the burst, is refused');
# (Not from the access log's order: two workers' buffers reach the file
# in either order.)
my $second_waited = !grep { $_->{target} eq '/smooth/2' } $app->requests;
my $r2 = $delayed->response(timeout => 60) // {};
is($r2->{status}, 200, 'the second is answered, not refused: it was delayed');
ok($second_waited, '... it had not reached the server when the third was refused');
ok((grep { $_->{target} eq '/smooth/2' } $app->requests), '... and reached it after');

# 1r/h, burst 1: the second request would wait an hour; its client
# leaves, and the exchange ends at once, without reaching the server.
is(get('/hold/1', 'X-Client' => 'h')->{status}, 200, 'a first request passes');
$delayed0 = delayed_count();
my $leaving = Test::Portico::Client->new($port);
$leaving->request(GET => '/hold/2', headers => ['X-Client' => 'h']);
ok(wait_for(sub { delayed_count() > $delayed0 }, 10), 'the second is delayed');
$leaving->close;
ok(wait_for(sub { grep { m{"GET /hold/2 HTTP/1\.1" 499 .* CR } } $p->access_log }, 10),
   'its client closes: the exchange ends, logged 499 "CR"');
ok(!(grep { $_->{target} eq '/hold/2' } $app->requests), '... and the server never saw it');

# ---- limit_conn ----

# Two requests held by the server, both on worker A; a third on worker B
# is refused: the count is the workers' together.
my ($wa, $wb) = @workers;
$app->set_behavior(delay => 60000);
my $held0 = $app->delayed_count;
my @held = map { on_worker($wa, "/conn/$_", 'X-Client' => 'k') } 1 .. 2;
ok(wait_for(sub { $app->delayed_count == $held0 + 2 }, 10), 'two requests of key k are held');
my $c3 = on_worker($wb, '/conn/3', 'X-Client' => 'k');
is(($c3 && $c3->response // {})->{status}, 429, 'a third, on the other worker, is refused');
my $other = on_worker($wb, '/conn/other', 'X-Client' => 'j');
ok(wait_for(sub { $app->delayed_count == $held0 + 3 }, 10), 'another key passes meanwhile');

# Worker A dies holding two: the master gives them back.
$p->allow_log(qr/killed by signal 9/);
kill 'KILL', $wa;
ok(wait_for(sub { $p->error_log =~ /limit_conn "two": 2 open requests of pid $wa given back/ },
	    10), 'the master gives back the two the killed worker held');
@workers = $p->wait_workers(2);
is(scalar @workers, 2, 'the worker is respawned');
$held0 = $app->delayed_count;
my @again = map { my $c = Test::Portico::Client->new($port);
		  $c->request(GET => "/conn/again$_", headers => ['X-Client' => 'k']); $c } 1 .. 2;
ok(wait_for(sub { $app->delayed_count == $held0 + 2 }, 10),
   'two new requests of key k pass: none is counted for the dead worker');
is(get('/conn/4', 'X-Client' => 'k')->{status}, 429, 'and a third is refused again');

# Every end gives back: answered, and clients gone.
$app->release;
is(($again[0]->response // {})->{status}, 200, 'held requests answered once released');
$again[1]->response;
$other->response if $other;
$app->set_behavior();
is(get('/conn/5', 'X-Client' => 'k')->{status}, 200, 'after they ended, the key passes');
$app->set_behavior(delay => 60000);
$held0 = $app->delayed_count;
my @gone = map { my $c = Test::Portico::Client->new($port);
		 $c->request(GET => "/conn/gone$_", headers => ['X-Client' => 'k']); $c } 1 .. 2;
ok(wait_for(sub { $app->delayed_count == $held0 + 2 }, 10), 'two more held');
$_->close for @gone;
ok(wait_for(sub { 2 == grep { m{"GET /conn/gone\d } } $p->access_log }, 10),
   'their clients close: both exchanges end');
$held0 = $app->delayed_count;
my @after = map { my $c = Test::Portico::Client->new($port);
		  $c->request(GET => "/conn/after$_", headers => ['X-Client' => 'k']); $c } 1 .. 2;
ok(wait_for(sub { $app->delayed_count == $held0 + 2 }, 10),
   'and two new ones of the key pass: the aborted ones were given back');
$app->release;
$_->response for @after;
$app->set_behavior();

# ---- reload ----

my $log_before = length $p->error_log;
ok(scalar $p->reload_and_wait, 'reload with the same limits');
is(get('/slow/after-reload')->{status}, 429, 'the used-up burst stays used up after a reload');
is(get('/client/x', 'X-Client' => 'a')->{status}, 503, '... for a header key too');
is(get('/client/x', 'X-Client' => 'c')->{status}, 200, 'a new key still passes');
unlike(substr($p->error_log, $log_before), qr/limit_req=slow: a new zone/,
       'the zone was kept');

# ---- the access log ----

my @log = $p->access_log;
ok((grep { m{"GET /slow/\d+ HTTP/1\.1" 429 .* limit_req=slow [0-9a-f]{32}$} } @log),
   'the access log names limit_req=slow on its refusals');
ok((grep { m{"GET /client/x HTTP/1\.1" 503 .* limit_req=byclient [0-9a-f]{32}$} } @log),
   '... limit_req=byclient');
ok((grep { m{"GET /conn/3 HTTP/1\.1" 429 .* limit_conn=two [0-9a-f]{32}$} } @log), '... limit_conn=two');
ok((grep { m{"GET /slow/\d+ HTTP/1\.1" 200 .* - [0-9a-f]{32}$} } @log), 'and nothing on what passed');

# ---- the status page ----

my $lim = ($p->status_doc // {})->{limits} // {};
cmp_ok($lim->{req_refused} // 0, '>=', 14 + 3 + 1, 'the status page counts limit_req\'s refusals');
cmp_ok($lim->{req_delayed} // 0, '>=', 1, '... the requests it delayed');
cmp_ok($lim->{conn_refused} // 0, '>=', 2, '... and limit_conn\'s refusals');
my %zones = map { $_->{name} => $_ } @{ ($p->status_doc // {})->{limit_zones} // [] };
is(($zones{'limit_req=byclient'} // {})->{keys}, 3, 'and the keys a zone holds (a, b, c)');
cmp_ok(($zones{'limit_conn=two'} // {})->{capacity}, '>', 100000, '... of how many');

# ---- a binary upgrade hands the zones on ----

my $old = $p->master_pid;
kill 'USR2', $old;
ok(wait_for(sub { my $m = $p->master_pid; $m && $m != $old &&
		  grep({ $_->{comm} eq 'portico-worker' } Test::Portico::children_of($m)) >= 2 }, 20),
   'USR2: a new master with its workers');
is(get('/client/x', 'X-Client' => 'a')->{status}, 503,
   'while both generations serve, they count in the same buckets');
kill 'QUIT', $old;
ok(wait_for(sub { !Test::Portico::alive($old) }, 20), 'the old master quits');
$p->follow_pid_file;
ok(wait_for(sub { $p->worker_pids == 2 }, 10), 'the new workers serve alone');
is(get('/slow/after-upgrade')->{status}, 429, 'the used-up burst stays used up after the upgrade');
is(get('/client/x', 'X-Client' => 'a')->{status}, 503, '... for a header key too');
like($p->error_log, qr/limit_req=slow taken over from the previous binary: \d+ keys/,
     'the new master says it took the zone over');
$held0 = $app->delayed_count;
$app->set_behavior(delay => 60000);
@held = map { my $c = Test::Portico::Client->new($port);
	      $c->request(GET => "/conn/up$_", headers => ['X-Client' => 'k']); $c } 1 .. 2;
ok(wait_for(sub { $app->delayed_count == $held0 + 2 }, 10),
   'limit_conn counts afresh in the taken-over zone');
is(get('/conn/up3', 'X-Client' => 'k')->{status}, 429, '... up to its max');
$app->release;
$_->response for @held;
$app->set_behavior();

# ---- configuration errors ----

sub conf_error {
	my ($limits, $site) = @_;
	my $t = Test::Portico->new(conf => <<"EOF");
listen http { address = "127.0.0.1:1" }
upstream app { server "127.0.0.1:2" {} }
$limits
site s {
	route "/" { upstream = "app" $site }
}
EOF
	my (undef, undef, $err) = $t->run('-t');
	return $err;
}

like(conf_error('limit_req a { rate = "1r/s" }', 'limit_req = "b"'),
     qr/portico\.conf:5: limit_req: unknown limit_req "b"/, 'an unknown limit_req, with its line');
like(conf_error('limit_conn a { max = 1 }', 'limit_conn = "b"'),
     qr/portico\.conf:5: limit_conn: unknown limit_conn "b"/, 'an unknown limit_conn');
like(conf_error('limit_req a { rate = "1r/s" }', 'limit_conn = "a"'),
     qr/unknown limit_conn "a"/, 'a limit_req is not a limit_conn');
like(conf_error('limit_req a { rate = "10r/d" }', ''),
     qr/portico\.conf:3: limit_req "a": rate "10r\/d" is not requests per second, minute or hour/,
     'a bad rate, with its line');
unlike(conf_error('limit_req a { rate = "10r/h" }', ''), qr/rate/, 'a rate per hour is one');
like(conf_error('limit_req a { burst = 3 }', ''), qr/portico\.conf:3: limit_req "a" has no rate/,
     'a limit_req needs a rate');
like(conf_error('limit_req a { rate = "1r/s"  burst = 2  delay = 3 }', ''),
     qr/portico\.conf:3: limit_req "a": delay \(3\) is more than burst \(2\)/,
     'delay is at most burst');
like(conf_error('limit_conn a { key = "$http_x" }', ''), qr/portico\.conf:3: limit_conn "a" has no max/,
     'a limit_conn needs max');
like(conf_error('limit_conn a { max = 1  status = 200 }', ''), qr/portico\.conf:3: status/,
     'a refusal\'s status is 400 to 599');

done_testing;
