#!/usr/bin/perl

# Logs: the error log line format, the access log line (combined format,
# request time, upstream address), and reopening logs after rotation with
# USR1 or "-s reopen" without losing a line.

use strict;
use warnings;

use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF')->start;
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app  { server "%%BACKEND:a%%" {} }
upstream dead { server "127.0.0.1:%%PORT:dead%%" {} }
site main {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	route "/app/"  { upstream = "app" }
	route "/dead/" { upstream = "dead" }
}
EOF
my $port = $p->port('http');
my $backend = $p->backend('a');

# The error log: "2026/11/25 10:00:00 [error] 12345 worker 0: message".
http_get($port, '/dead/x');
ok(wait_for(sub { $p->error_log =~ /\[error\]/ }), 'a failed upstream connect is logged as [error]');
my @lines = split /\n/, $p->error_log;
my @odd = grep { !m{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(?:debug|info|notice|warn|error|crit|alert|emerg)\] \d+(?: [^:]+)?: \S} } @lines;
ok(@lines && !@odd, 'every error log line is "DATE TIME [level] PID role: message"')
    or diag(join "\n", @odd);
like($p->error_log, qr{^\S+ \S+ \[error\] \d+ worker \d+: .*}m, 'worker lines name the worker');
my ($connect) = grep { /\[error\]/ } @lines;
like($connect // '', qr/\Q${\ $p->port('dead')}\E/, 'the error names the upstream server it failed to reach');

# The access log: combined format + request time + upstream address.
my $r = http_get($port, '/app/size/1234?q=1', headers => [
	'Referer' => 'http://ref.test/page',
	'User-Agent' => 'PorticoTest/1.0 (story)',
]);
is($r->{status}, 200, 'a request for the access log');
my ($line) = grep { m{/app/size/1234} } @{ wait_for(sub {
	my @l = $p->access_log;
	(grep { m{/app/size/1234} } @l) ? \@l : undef;
}, 5) // [] };
my $up = $backend->address;
like($line // '', qr{^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /app/size/1234\?q=1 HTTP/1\.1" 200 1234 "http://ref\.test/page" "PorticoTest/1\.0 \(story\)" \d+\.\d{3} \Q$up\E -- \d+\.\d{3} \d+\.\d{3} - - [0-9a-f]{32}$},
    'access log line: combined format, request time in seconds.ms, upstream address, '
    . 'termination state, upstream connect and response head times, cache result, refusing rule');

http_get($port, '/nowhere');
ok(wait_for(sub { grep { m{"GET /nowhere HTTP/1\.1" 404 \d+ "-" "-" \d+\.\d{3} - LR - - - - [0-9a-f]{32}$} } $p->access_log }, 5),
    'a request no upstream served logs "-" as upstream and its times, LR as its end '
    . '(answered locally while reading the request), and "-" for absent fields');

# Rotation: rename the files, signal, and every line is in one of them.
sub rotate_and_check {
	my ($how, $reopen) = @_;
	my $tag = $how =~ s/\W+/_/gr;
	my $tmp = $p->tmp;
	for my $i (1 .. 5) {
		http_get($port, "/app/$tag-before-$i");
	}
	ok(rename("$tmp/access.log", "$tmp/access.log.$tag")
	    && rename("$tmp/error.log", "$tmp/error.log.$tag"), "$how: the logs are renamed");
	for my $i (1 .. 5) {
		# Still written to the renamed file, through the open descriptor.
		http_get($port, "/app/$tag-between-$i");
	}
	$reopen->();
	ok(wait_for(sub { -e "$tmp/access.log" && -e "$tmp/error.log" }, 5),
	    "$how: the logs are reopened under their names");
	# The workers get the new descriptors a moment after the master
	# opened them: probe until a line lands in the new file.
	my $n = 0;
	ok(wait_for(sub {
		http_get($port, "/app/$tag-probe-" . ++$n);
		grep { /$tag-probe/ } $p->access_log;
	}, 10, 0.1), "$how: new requests are logged in the new access log");
	for my $i (1 .. 5) {
		http_get($port, "/app/$tag-after-$i");
	}
	my @expect = map { my $w = $_; map { "$tag-$w-$_" } 1 .. 5 } qw(before between after);
	my $all = sub {
		my @l = ($p->access_log("access.log.$tag"), $p->access_log);
		return (grep { my $e = $_; grep { m{/app/\Q$e\E } } @l } @expect) == @expect
		    ? \@l : undef;
	};
	my $l = wait_for($all, 5);
	ok($l, "$how: no access log line is lost across the rotation");
	my @after = grep { /$tag-after/ } $p->access_log;
	is(scalar(@after), 5, "$how: lines after the reopen are in the new file");
	my @dup = grep { my $e = $_; (grep { m{/app/\Q$e\E } } @{ $l // [] }) > 1 } @expect;
	ok(!@dup, "$how: no line is written twice");
}

rotate_and_check('USR1', sub { $p->signal('USR1') });
rotate_and_check('-s reopen', sub {
	my ($rc, undef, $err) = $p->run('-s', 'reopen');
	is($rc, 0, '-s reopen exits 0') or diag($err);
});

done_testing;
