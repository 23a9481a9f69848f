#!/usr/bin/perl

# Every wait is bounded: hundreds of slow clients that never finish their
# head cost nothing to the others and are closed at client_header_timeout;
# a stalled request body, an idle keep-alive connection, an upstream that
# never accepts and a client that never reads are all cut off at their
# timeouts.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select;
use IO::Socket::IP;
use Time::HiRes qw(sleep time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

# Every timeout below, in seconds: long enough that, on a busy machine,
# the test's own requests all happen while the slow connections are open.
my $T = 4;
my $p = Test::Portico->new(conf => <<"EOF")->start;
worker_connections = 2000
client_header_timeout = "${T}s"
client_body_timeout = "${T}s"
keepalive_timeout = "${T}s"
send_timeout = "${T}s"
listen http { address = "127.0.0.1:%%PORT:http%%"  backlog = 1024 }
upstream app  { server "%%BACKEND:a%%" {} }
upstream full { connect_timeout = "1s"  server "127.0.0.1:%%PORT:full%%" {} }
site main {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	route "/" { upstream = "app" }
	route "/full/" { upstream = "full" }
}
EOF
my $port = $p->port('http');
my $backend = $p->backend('a');

# ---- 300 slow clients, one byte of a never-ending head every 0.5 s ----

my $N = 300;
my $HEAD = "GET /slow HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
my @slow;
for my $i (1 .. $N) {
	my $c = Test::Portico::Client->new($port, timeout => 2) or last;
	push @slow, { c => $c, opened => time, sent => 0, next => time, closed => undef, got => '' };
}
is(scalar(@slow), $N, "$N slow connections are open");

# Read whatever a slow connection has; note when it is closed.
sub poll_slow {
	my ($s) = @_;
	my $sock = $s->{c}->socket;
	while (1) {
		my $n = sysread($sock, my $data, 4096);
		if (!defined $n) {
			return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
			$s->{closed} //= time;	# reset: closed too
			return;
		}
		if ($n == 0) {
			$s->{closed} //= time;
			return;
		}
		$s->{got} .= $data;
	}
}

my @normal;		# seconds each normal request took
my @open_then;		# slow connections still open at each of them
my $next_normal = time + 0.1;
my $deadline = time + $T + 10;	# a safety net: the loop ends when all are closed
while (time < $deadline && grep { !$_->{closed} } @slow) {
	my $now = time;
	for my $s (grep { !$_->{closed} } @slow) {
		poll_slow($s);
		next if $s->{closed} || $now < $s->{next};
		my $byte = $s->{sent} < length $HEAD ? substr($HEAD, $s->{sent}, 1) : 'a';
		syswrite($s->{c}->socket, $byte);
		$s->{sent}++;
		$s->{next} = $now + 0.5;
	}
	if (@normal < 20 && time >= $next_normal) {
		push @open_then, scalar grep { !$_->{closed} } @slow;
		my $t0 = time;
		my $r = http_get($port, '/name', timeout => 5);
		push @normal, $r && $r->{status} == 200 ? time - $t0 : 99;
		$next_normal = time + 0.05;
	}
	sleep 0.02;
}
poll_slow($_) for grep { !$_->{closed} } @slow;

is(scalar(@normal), 20, 'meanwhile 20 normal requests were made');
is(scalar(grep { $_ != 99 } @normal), 20, 'and each was answered')
    or diag("times: @normal");
is(scalar(grep { $_ == $N } @open_then), 20, 'all of them while the slow connections were open')
    or diag("open: @open_then");
note(sprintf 'slowest normal request: %.3f s', (sort { $b <=> $a } @normal)[0] // 0);

my @closed = grep { $_->{closed} } @slow;
is(scalar(@closed), $N, 'every slow connection is closed by portico');
my @late = grep { $_->{closed} - $_->{opened} > $T + 5 } @closed;
is(scalar(@late), 0, 'each soon after client_header_timeout from its opening');
my @early = grep { $_->{closed} - $_->{opened} < $T - 0.5 } @closed;
is(scalar(@early), 0, 'and none long before the timeout');
my @odd = grep { length $_->{got} && $_->{got} !~ m{^HTTP/1\.1 408 } } @closed;
is(scalar(@odd), 0, 'a slow connection gets nothing or a 408 before the close');
$_->{c}->close for @slow;
is(scalar(grep { $_->{target} eq '/slow' } $backend->requests), 0, 'no slow head reached the backend');

# ---- a request body that stalls ----

$backend->clear;
my $c = Test::Portico::Client->new($port);
$c->send_raw("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n" . ('x' x 10));
my $t0 = time;
my $r = $c->response(timeout => $T + 10);
my $took = time - $t0;
is($r && $r->{status}, 408, 'a body that stalls after 10 of 100 bytes: 408');
cmp_ok($took, '>=', $T - 0.5, 'after client_body_timeout');
ok($c->closed_within(2), 'and the connection is closed');
$c->close;
is(scalar(grep { !$_->{error} } $backend->requests), 0,
    'the backend got no complete request (at most an incomplete one)');

# ---- an idle keep-alive connection ----

$c = Test::Portico::Client->new($port);
$r = $c->get('/name');
is($r && $r->{status}, 200, 'a request on a keep-alive connection');
$t0 = time;
ok($c->closed_within($T + 10), 'the idle connection is closed after keepalive_timeout');
cmp_ok(time - $t0, '>=', $T - 0.5, 'and not long before keepalive_timeout');
$c->close;

# ---- an upstream that never accepts: connect_timeout ----

SKIP: {
	# A listener with a backlog of 1 that never accepts: once its queue
	# is full, the kernel drops further SYNs and connect() hangs.
	my $full = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $p->port('full'),
	    Listen => 1, Proto => 'tcp', ReuseAddr => 1);
	skip "cannot listen on the 'full' port: $@", 2 unless $full;
	my @fill;
	for (1 .. 8) {
		push @fill, IO::Socket::IP->new(PeerHost => '127.0.0.1',
		    PeerPort => $p->port('full'), Proto => 'tcp', Blocking => 0);
	}
	my $probe = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $p->port('full'),
	    Proto => 'tcp', Timeout => 0.5);
	skip 'could not fill the listen queue: connects still succeed', 2 if $probe;
	$t0 = time;
	$r = http_get($port, '/full/x', timeout => 10);
	$took = time - $t0;
	is($r && $r->{status}, 504, 'an upstream that never accepts: 504 after connect_timeout, as nginx answers');
	cmp_ok($took, '>=', 0.9, 'after connect_timeout = 1s');
	close $_ for grep { defined } @fill;
	close $full;
}

# ---- a client that never reads: send_timeout ----

my $size = 512 * 1024 * 1024;
$c = Test::Portico::Client->new($port, timeout => 30);
$c->request(GET => "/size/$size");
my $line = wait_for(sub { (grep { m{ "GET /size/$size } } $p->access_log)[0] }, $T + 15);
ok($line, 'a client that never reads a large response: the exchange ends')
    or diag('no access log line for it');
my ($secs) = ($line // '') =~ /" (\d+\.\d{3}) \S+ \S\S \S+ \S+ \S+ \S+ \S+$/;
cmp_ok($secs // 0, '>=', $T - 0.5, 'after about send_timeout without progress');
my $got = 0;
$r = $c->response(timeout => 30, body_cb => sub { $got += length $_[0] });
ok($c->at_eof, 'its connection is closed');
cmp_ok($got, '<', $size, 'before the body was complete');
$c->close;

$r = http_get($port, '/name');
is($r && $r->{status}, 200, 'portico still serves after all that');

done_testing;
