#!/usr/bin/perl

# The error log sent to syslog: lines of the master and of the workers
# arrive at a unix datagram socket and over UDP, in the BSD format and in
# RFC 5424, each parsed strictly, with PRI = facility * 8 + the severity of
# the line's level. A reload switches from a file to syslog and back. A
# receiver that is not there, or that stops reading, never stalls the
# proxy: requests keep being answered and the drops are counted in the
# status document. A bad destination is a load error at its line.

use strict;
use warnings;

use Sys::Hostname qw(hostname);
use JSON::PP ();
use Test::More;
use Test::Portico;
use Test::Portico::Syslog qw(parse_bsd parse_rfc5424 pri);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my ($LOCAL3, $LOCAL7, $DAEMON) = (19, 23, 3);
my ($ERROR, $WARN, $NOTICE, $INFO) = (3, 4, 5, 6);

# max_fails = 0: every request to /dead tries to connect, and logs that it
# failed ([error]) and how the exchange ended ([info]).
my $conf = <<'EOF';
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream dead { max_fails = 0  server "127.0.0.1:%%PORT:dead%%" {} }
site s {
	route "/status" { status = true }
	route "/metrics" { metrics = true }
	route "/dead" { upstream = "dead" }
}
EOF

my $p = Test::Portico->new;
my $unix = Test::Portico::Syslog->new(unix => $p->tmp . '/log.sock');
my $udp = Test::Portico::Syslog->new(udp => 1);

sub conf_with {
	my ($error_log) = @_;
	return $conf . ($error_log ? qq(error_log = "$error_log"\n) : '');
}

sub dead_request {
	my $r = http_get($p->port('http'), '/dead');
	return $r ? $r->{status} : 0;
}

# Send requests until the receiver has a worker's [error] and [info] lines
# about one of them (a UDP datagram may be lost: ask again, never wait on a
# clock); returns those two messages.
sub worker_lines {
	my ($rcv) = @_;
	my ($err, $info);
	wait_for(sub {
		my $from = $rcv->count;
		is(dead_request(), 502, 'a request to a dead server is answered 502') or return 1;
		$err = $rcv->wait_message(qr/\[error\] \d+ worker 0: connect\(\) to upstream/,
		    from => $from, timeout => 2);
		$info = $rcv->wait_message(qr/\[info\] \d+ worker 0: exchange ended/,
		    from => $from, timeout => 2);
		return $err && $info;
	}, 30, 0);
	return ($err, $info);
}

sub reload_to {
	my ($error_log, $what) = @_;
	$p->write_conf(conf_with($error_log));
	ok($p->reload_and_wait, "reloaded: $what");
}

# ==== BSD over a unix socket, from the start ====

$p->write_conf(conf_with('syslog:server=' . $unix->address . ',facility=local3,tag=ptest'));
$p->start;
my $master = $p->master_pid;
my ($worker) = $p->wait_workers;

my $m = $unix->wait_message(qr/portico \S+ started/);
my $f = parse_bsd($m, host => 0);
ok($f, 'BSD over a unix socket: <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG, no host (as syslog(3))')
    or diag($m // 'no message');
is($f->{pri}, pri($LOCAL3, $NOTICE), '... the master\'s notice: local3, severity 5');
is($f->{tag}, 'ptest', '... the tag');
is($f->{pid}, $master, '... the master\'s pid');
like($f->{msg}, qr/^\[notice\] $master master: portico \S+ started, 1 workers\z/,
    '... the line without its time');
ok(!-e $p->error_log_file, 'no error log file is written');

my ($err, $info) = worker_lines($unix);
$f = parse_bsd($err, host => 0);
ok($f, 'a worker\'s line') or diag($err // 'none');
is($f->{pri}, pri($LOCAL3, $ERROR), '... [error]: severity 3');
is($f->{pid}, $worker, '... the worker\'s pid');
$f = parse_bsd($info, host => 0);
ok($f, 'another') or diag($info // 'none');
is($f->{pri}, pri($LOCAL3, $INFO), '... [info]: severity 6');

# ==== RFC 5424 over UDP ====

reload_to('syslog:server=' . $udp->address . ',format=rfc5424', 'to RFC 5424 over UDP');
$m = $udp->wait_message(qr/configuration reloaded/);
$f = parse_rfc5424($m);
ok($f, 'RFC 5424 over UDP: <PRI>1 TIMESTAMP HOST APP PROCID - - MSG') or diag($m // 'none');
is($f->{pri}, pri($LOCAL7, $NOTICE), '... local7 by default, notice');
like($f->{timestamp}, qr/\.\d{3}[+-]\d\d:\d\d\z/, '... a time with ms and its offset');
is($f->{host}, hostname(), '... this host');
is($f->{tag}, 'portico', '... the default tag as APP-NAME');
is($f->{pid}, $master, '... the master\'s pid as PROCID');
($err, $info) = worker_lines($udp);
$f = parse_rfc5424($err);
ok($f, 'a worker\'s line') or diag($err // 'none');
is($f->{pri}, pri($LOCAL7, $ERROR), '... severity 3');
isnt($f->{pid}, $master, '... from the worker');
is(parse_rfc5424($info)->{pri}, pri($LOCAL7, $INFO), 'its [info] line: severity 6');

# ==== BSD over UDP: with the host; RFC 5424 over the unix socket ====

reload_to('syslog:server=' . $udp->address . ',facility=daemon,tag=p-x', 'to BSD over UDP');
$m = $udp->wait_message(qr/^<\d+>\w{3} .*configuration reloaded/);
$f = parse_bsd($m, host => 1);
ok($f, 'BSD over UDP: <PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG') or diag($m // 'none');
is($f->{host}, hostname(), '... this host');
is($f->{pri}, pri($DAEMON, $NOTICE), '... daemon, notice');
is($f->{tag}, 'p-x', '... the tag');

reload_to('syslog:server=' . $unix->address . ',format=rfc5424,facility=local3',
    'to RFC 5424 over the unix socket');
$m = $unix->wait_message(qr/^<\d+>1 .*configuration reloaded/);
$f = parse_rfc5424($m);
ok($f, 'RFC 5424 over a unix socket') or diag($m // 'none');
is($f->{pri}, pri($LOCAL3, $NOTICE), '... local3, notice');

# ==== and back to a file ====

reload_to(undef, 'back to a file');
ok(wait_for(sub { $p->error_log =~ /configuration reloaded/ }),
    'the error log file has the lines again');
# The old generation, gone now, said its last lines where it logged.
my $before = () = $unix->messages;
is(dead_request(), 502, 'a request');
ok(wait_for(sub { $p->error_log =~ /connect\(\) to upstream/ }), '... logged in the file');
my @later = ($unix->messages)[$before .. $unix->count - 1];
is(scalar(@later), 0, '... and no longer to syslog') or diag(join "\n", @later);

# ==== a receiver that is not there ====

my $gone = $p->tmp . '/nobody.sock';
reload_to("syslog:server=unix:$gone", 'to a unix socket nobody listens on');
my $doc = $p->status_doc;
my $base = $doc ? $doc->{syslog_dropped} : undef;
ok(defined $base, 'the status document counts syslog_dropped');
my ($tries, $answered) = (0, 0);
ok(wait_for(sub {
	$tries++;
	$answered++ if dead_request() == 502;
	my $d = $p->status_doc;
	return $d && $d->{syslog_dropped} > $base;
}, 30, 0), 'the lines nobody receives are counted as dropped');
is($answered, $tries, "... while every request was answered ($tries)");

# ==== a receiver that stops reading ====

my $stuck = Test::Portico::Syslog->new(unix => $p->tmp . '/stuck.sock');
reload_to('syslog:server=' . $stuck->address, 'to a receiver that never reads');
$base = $p->status_doc->{syslog_dropped};
my ($sent, $ok) = (0, 0);
ok(wait_for(sub {
	for (1 .. 20) {
		$sent++;
		$ok++ if dead_request() == 502;
	}
	return $p->status_doc->{syslog_dropped} > $base;
}, 60, 0), 'a full receiver queue: lines dropped and counted');
is($ok, $sent, "... and not one of $sent requests stalled or failed");
my $counted = $p->status_doc->{syslog_dropped};
ok($counted, 'the status page answers too');
my $metrics = http_get($p->port('http'), '/metrics');
my ($dropped) = ($metrics->{body} // '') =~ /^portico_syslog_dropped_total (\d+)$/m;
cmp_ok($dropped // -1, '>=', $counted, 'the metrics count the drops too');

# The receiver is back (a syslog daemon restarted at the same path): the
# lines arrive again, without a reload.
$stuck->stop;
my $again = Test::Portico::Syslog->new(unix => $p->tmp . '/stuck.sock');
my ($back) = wait_for(sub {
	dead_request();
	$again->wait_message(qr/connect\(\) to upstream/, timeout => 0.2);
}, 30, 0);
ok($back, 'a receiver started again at the same path gets the lines again');

# USR1 reopens the logs: no file here, the socket is connected again.
my $mark = $again->count;
$p->signal('USR1');
ok($again->wait_message(qr/\[notice\] \d+ master: log files reopened/, from => $mark),
    'SIGUSR1: the master logs on');
ok($again->wait_message(qr/\[info\] \d+ worker 0: log files reopened/, from => $mark),
    '... and the worker');

# ==== bad destinations: load errors at their line ====

for my $case (
	['syslog:facility=local9', qr/unknown facility "local9"/],
	['syslog:server=127.0.0.1:70000', qr/port must be a number from 1 to 65535/],
	['syslog:tag=' . ('x' x 33), qr/tag "x{33}": 1 to 32/],
	['syslog:server=loghost', qr/"loghost" is not an IP address/],
	['syslog:format=json', qr/unknown format "json"/],
) {
	my ($spec, $why) = @$case;
	my $b = Test::Portico->new(conf => "workers = 1\nerror_log = \"$spec\"\n" . $conf);
	my ($rc, undef, $e) = $b->run('-t');
	isnt($rc, 0, "$spec is refused");
	like($e, qr/portico\.conf:2: error_log "\Q$spec\E": (?:server "[^"]*": )?$why/, '... at its line') or diag($e);
}

# A refused reload keeps the running destination.
$p->write_conf(conf_with('syslog:facility=bogus'));
$p->signal('HUP');
ok($again->wait_message(qr/reload refused: .*portico\.conf:\d+: error_log .*unknown facility/),
    'a bad destination refuses a reload, said where the error log goes now');

# ==== access logs to syslog ====

# access_log's combined lines to a unix socket at its own severity, and a
# log section's JSON lines over UDP in RFC 5424, beside the error log.
my $acc = Test::Portico::Syslog->new(unix => $p->tmp . '/access.sock');
(my $logged = $conf) =~ s/^site s \{\n/site s {
	access_log = "syslog:server=${\ $acc->address},facility=local3,severity=notice,tag=acc"
	log "syslog:server=${\ $udp->address},format=rfc5424" { format = "j" }
/m;
$p->write_conf(qq(log_format j { format = "{\\"uri\\": \\"\$uri\\", \\"status\\": \$status, )
    . qq(\\"id\\": \\"\$request_id\\"}"  escape = "json" }\n)
    . qq(error_log = "syslog:server=${\ $again->address}"\n) . $logged);
ok($p->reload_and_wait, 'reloaded: access logs to syslog');
my $line;
wait_for(sub {
	http_get($p->port('http'), '/status?to=syslog');
	$line = $acc->wait_message(qr{GET /status\?to=syslog }, timeout => 0.5);
}, 30, 0);
$f = parse_bsd($line, host => 0);
ok($f, 'access_log to a unix socket: a BSD message') or diag($line // 'none');
is($f->{pri}, pri($LOCAL3, $NOTICE), '... local3 and the severity it was given');
is($f->{tag}, 'acc', '... its tag');
like($f->{msg}, qr{^127\.0\.0\.1 - - \[[^]]+\] "GET /status\?to=syslog HTTP/1\.1" 200 \d+ "-" "[^"]*"\z},
    '... the combined line, without a newline');
my $json;
wait_for(sub {
	http_get($p->port('http'), '/status?to=udp');
	$json = $udp->wait_message(qr{"uri": "/status"}, timeout => 0.5);
}, 30, 0);
$f = parse_rfc5424($json);
ok($f, 'a log section over UDP: an RFC 5424 message') or diag($json // 'none');
is($f->{pri}, pri($LOCAL7, $INFO), '... local7 and info by default');
my $doc17 = eval { JSON::PP::decode_json($f->{msg}) };
ok($doc17 && $doc17->{status} == 200 && $doc17->{id} =~ /\A[0-9a-f]{32}\z/,
    '... its message the JSON line of the format') or diag($f->{msg});
# The worker's lines reach one receiver in the order it sent them: once
# an error line that came after them is there, the access lines would be.
my $from = $again->count;
is(dead_request(), 502, 'a request that logs an error');
ok($again->wait_message(qr/connect\(\) to upstream/, from => $from),
    '... which goes to the error log\'s receiver');
ok(!grep({ m{GET /status\?to=} } $again->messages), 'access lines do not');

# A line longer than a datagram holds (a target of 400 bytes that JSON
# writes as \u00ff each) has its value cut, not the line: still JSON,
# with what follows the long value, no escape cut in two.
my $from = @{ $udp->{messages} };
http_get($p->port('http'), '/long/' . ("\xff" x 400));
$json = $udp->wait_message(qr{"uri": "/long/}, from => $from);
$f = parse_rfc5424($json);
ok($f && length($json) <= 2048, 'a long line over UDP: one datagram') or diag($json // 'none');
$doc17 = eval { JSON::PP::decode_json($f->{msg}) };
ok($doc17 && $doc17->{status} == 404 && $doc17->{id} =~ /\A[0-9a-f]{32}\z/ &&
   $doc17->{uri} =~ m{\A/long/\x{ff}+\z}, '... a JSON line, its value cut, what follows kept')
    or diag($f ? $f->{msg} : 'none');

# ==== -T writes it back ====

my $t = Test::Portico->new(conf => $conf . qq(error_log = "syslog:server=[::1]:5514,facility=local0,tag=a_b,severity=notice,format=rfc5424,nohostname"\n));
my ($rc, $out, $e) = $t->run('-T');
is($rc, 0, '-T with a syslog error log') or diag($e);
like($out, qr/^error_log = "syslog:server=\[::1\]:5514,facility=local0,tag=a_b,severity=notice,format=rfc5424,nohostname"$/m,
    '... written back as given');
dump_reads_back($out);

$unix->stop;
$udp->stop;
$acc->stop;
done_testing();
