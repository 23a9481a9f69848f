#!/usr/bin/perl

# Every exchange ends with a termination state: who ended it and in which
# phase (portico(8), "TERMINATION STATES"). The access log carries it as
# two letters after the upstream address, then the upstream connect and
# response head times; an abnormal end is also an [info] line or worse in
# the error log naming the same state. A response body cut short by the
# server is a server failure, held against it (fail_on "error").

use strict;
use warnings;

use IO::Socket::IP;
use Test::More;
use Test::Portico;
use Test::Portico::Client;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF')->start;
workers = 1
client_header_timeout = "1s"
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app  { read_timeout = "1s"  server "%%BACKEND:a%%" {} }
upstream cut  { max_fails = 1  fail_timeout = "60s"  server "%%BACKEND:cut%%" {}
		server "%%BACKEND:spare%%" { backup = true } }
upstream dead { max_fails = 1  fail_timeout = "60s"
		server "127.0.0.1:%%PORT:dead1%%" {}  server "127.0.0.1:%%PORT:dead2%%" {} }
upstream solo { max_fails = 1  fail_timeout = "60s"  server "127.0.0.1:%%PORT:solo%%" {} }
upstream solochk { health_check { interval = "200ms"  timeout = "1s"  fall = 1  rise = 1 }
		server "127.0.0.1:%%PORT:solochk%%" {} }
upstream twice { read_timeout = "6s"  retries = 1
		server "%%BACKEND:r1%%" {}  server "%%BACKEND:r2%%" {} }
site main {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	route "/" { upstream = "app" }
	route "/cut/" { upstream = "cut" }
	route "/dead/" { upstream = "dead" }
	route "/twice/" { upstream = "twice" }
	route "/solo/" { upstream = "solo" }
	route "/solochk/" { upstream = "solochk" }
	route "/status" { status = true }
}
site bare {
	hosts = {"bare.test"}
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	route "/only/" { upstream = "app" }
}
EOF
my $port = $p->port('http');

# The access log line of the request for $target (waited for): its
# status, termination state, connect and head times (the cache's word
# ends the line).
sub logged {
	my ($target) = @_;
	my $line = wait_for(sub {
		(grep { m{"\S+ \Q$target\E HTTP/1\.[01]"} } $p->access_log)[-1];
	}, 10) // '';
	my @f = $line =~ m{" (\d{3}) \d+ "[^"]*" "[^"]*" (\S+) (\S+) (\S\S) (\S+) (\S+) \S+ \S+ \S+$};
	return { line => $line, status => $f[0] // '', total => $f[1] // '', upstream => $f[2] // '',
		 term => $f[3] // '', connect => $f[4] // '', header => $f[5] // '' };
}

# Whether the error log has an [info] or worse line for the end of the
# request for $target with state $term.
sub ended_in_error_log {
	my ($target, $term) = @_;
	return wait_for(sub {
		$p->error_log =~ /\[(?:info|notice|warn|error)\] .*exchange ended \Q$term\E .*"\S+ \Q$target\E HTTP/;
	}, 5);
}

# -- normal ends --

{
	my $r = http_get($port, '/size/10');
	my $l = logged('/size/10');
	is($r->{status} . ' ' . $l->{term}, '200 --', 'a proxied answer, all of it sent: "--"');
	like("$l->{connect} $l->{header}", qr/^\d+\.\d{3} \d+\.\d{3}$/,
	    'with the upstream connect and response head times, in seconds');
	$r = http_get($port, '/status');
	is($r->{status} . ' ' . logged('/status')->{term}, '200 LR',
	    'the status page: answered locally while reading the request, "LR"');
	like($r->{raw_head} // '', qr{^HTTP/1\.1 200 OK\r\n}, 'with its standard reason phrase');
	$r = http_get($port, '/none', host => 'bare.test');
	my $l404 = logged('/none');
	is($l404->{term} . ' ' . $l404->{upstream} . ' ' . $l404->{connect}, 'LR - -',
	    'a 404 of portico\'s own: "LR", no upstream, no times');
}

# -- the client --

{
	my $c = Test::Portico::Client->new($port);
	$c->send_raw("GET /bad HTTP/1.1\r\nHost: a\r\nBad Field: x\r\n\r\n");
	my $r = $c->response;
	is($r && $r->{status}, 400, 'a malformed request: 400');
	is(logged('/bad')->{term}, 'PR', '"PR": portico refused it while reading the request');
	ok(ended_in_error_log('/bad', 'PR'), 'and the error log says so');
	$c->close;

	$c = Test::Portico::Client->new($port);
	$c->send_raw("GET /slow-head HTTP/1.1\r\nHost: a\r\n");
	$r = $c->response(timeout => 10);
	is($r && $r->{status}, 408, 'a head not finished within client_header_timeout: 408');
	is(logged('/slow-head')->{term}, 'cR', '"cR": the client timed out in the request');
	$c->close;

	$c = Test::Portico::Client->new($port);
	$c->request(GET => '/delay/3000/gone');
	ok(wait_for(sub { $p->backend('a')->request_count && grep { $_->{target} eq '/delay/3000/gone' }
	    $p->backend('a')->requests }, 5), 'a slow request reached the server');
	$c->close;
	my $l = logged('/delay/3000/gone');
	is("$l->{status} $l->{term}", '499 CH',
	    'the client closed while waiting for the response head: 499, "CH"');
	ok(ended_in_error_log('/delay/3000/gone', 'CH'), 'and the error log says so');
}

# -- the server --

{
	my $r = http_get($port, '/drop');
	my $l = logged('/drop');
	is("$r->{status} $l->{term}", '502 SH', 'the server closed without answering: 502, "SH"');
	ok(ended_in_error_log('/drop', 'SH'), 'and the error log says so');

	$r = http_get($port, '/delay/3000/late');
	$l = logged('/delay/3000/late');
	is("$r->{status} $l->{term}", '504 sH', 'no response head within read_timeout: 504, "sH"');

	$r = http_get($port, '/dead/x');
	$l = logged('/dead/x');
	is("$r->{status} $l->{term} $l->{connect}", '502 SC -',
	    'every server refused the connection: 502, "SC", no connect time');
	$r = http_get($port, '/dead/y');
	$l = logged('/dead/y');
	is("$r->{status} $l->{term}", '503 DR', 'then every server is down: 503, "DR"');
	ok(ended_in_error_log('/dead/y', 'DR'), 'and the error log says so');
}

# -- an upstream of one server (portico.conf(5): as nginx does) --

{
	my $r = http_get($port, '/solo/a');
	is($r->{status}, 502, 'one server, refusing: 502');
	is($p->server_status('solo', "127.0.0.1:" . $p->port('solo'))->{state}, 'down',
	    'and it is marked down by the passive failure');
	$r = http_get($port, '/solo/b');
	is("$r->{status} " . logged('/solo/b')->{term}, '502 SC',
	    'its only server is still tried (a passive mark would only turn a passing fault '
	    . 'into certain errors): 502, not 503');
	ok(wait_for(sub { ($p->server_status('solochk', "127.0.0.1:" . $p->port('solochk'))
	    // {})->{checks_down} }, 20), 'one server, down by failed health checks');
	$r = http_get($port, '/solochk/c');
	is("$r->{status} " . logged('/solochk/c')->{term}, '503 DR', 'then its requests get 503');
}

# -- a retry gets its own read_timeout --

{
	# One kept connection to each server, so the retry goes over a pooled
	# one (no connect phase to start a new timer). r1 holds the request
	# 4.5 s and closes; r2 answers 3 s after its attempt starts: within
	# its own 6 s, not within the 1.5 s the first attempt left.
	my $c = Test::Portico::Client->new($port, timeout => 30);
	my %first = map { ($c->get('/twice/name')->{body} // 'none') => 1 } 1 .. 2;
	is(join(',', sort keys %first), 'r1,r2', 'one kept connection to each server');
	$p->backend('r1')->set_raw(hold => { sleep => 4.5 }, { close => 1 });
	$p->backend('r2')->set_raw(hold => { sleep => 3 },
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr2");
	my $r = $c->get('/twice/raw/hold');
	is($r && $r->{status} . ' ' . $r->{body}, '200 r2',
	    'a server that closes without answering: the next one answers, with a read_timeout of its own');
	is($p->server_status('twice', 'r2')->{state}, 'up', 'and is not held to blame');
	$c->close;
}

# -- a body cut short is a failure of the server --

{
	my $cut = $p->backend('cut');
	$cut->set_raw(short => "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" . ('x' x 100),
	    { sleep => 0.2 }, { close => 1 });
	my $c = Test::Portico::Client->new($port, timeout => 10);
	my $r = $c->get('/cut/raw/short');
	ok($r && $r->{status} == 200 && !$r->{complete},
	    'Content-Length 1000, 100 bytes, then the server closes: the client gets a cut body');
	$c->close;
	my $l = logged('/cut/raw/short');
	is($l->{term}, 'SD', '"SD": the server broke off the response body');
	ok(wait_for(sub { $p->error_log =~ /broke off the response body/ }, 5),
	    'the error log names the server that broke it off');
	my $s = $p->server_status('cut', 'cut');
	is($s && $s->{failures}, 1, 'it counts as a failure of the server');
	is($s && $s->{state}, 'down', 'which, with max_fails = 1, marks it down');
	is(http_get($port, '/cut/name')->{body}, 'spare', 'the backup server takes over');
}

done_testing();
