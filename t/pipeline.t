#!/usr/bin/perl

# Pipelining at depth: one connection carries 100,000 requests that
# portico answers itself (404, its status page, HEAD), then 100,000 that
# go to a server, all sent before the answers are read. Every answer comes
# back, in order, and the worker that served them is still the same
# process: answering one request never recurses into reading the next.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use POSIX qw(_exit);
use Test::More;
use Test::Portico;
use Time::HiRes qw(time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $N = 100_000;

# A server that answers every request at once with its path's last
# component as the body: fast enough for 100,000 requests, and each answer
# says which request it is.
sub counting_server {
	my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', Listen => 16,
	    ReuseAddr => 1, Proto => 'tcp') or die "listen: $!\n";
	my $pid = fork // die "fork: $!\n";
	if ($pid) {
		my $port = $listen->sockport;
		close $listen;
		return ($pid, $port);
	}
	while (my $c = $listen->accept) {
		next if fork;
		my ($in, $out) = ('', '');
		while (sysread($c, $in, 1 << 16, length $in)) {
			while ($in =~ s{\A[A-Z]+ \S*/(\d+) HTTP/1\.1\r\n.*?\r\n\r\n}{}s) {
				$out .= "HTTP/1.1 200 OK\r\nContent-Length: " . length($1) . "\r\n\r\n$1";
			}
			my $off = 0;
			while ($off < length $out) {
				my $n = syswrite($c, $out, length($out) - $off, $off) or _exit(0);
				$off += $n;
			}
			$out = '';
		}
		_exit(0);
	}
	_exit(0);
}

my ($server_pid, $server_port) = counting_server();
END { kill 'KILL', $server_pid if $server_pid }

my $p = Test::Portico->new(conf => <<"EOF")->start;
workers = 1
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream count { keepalive = 4  server "127.0.0.1:$server_port" {} }
site main {
	route "/status" { status = true }
	route "/up/" { upstream = "count" }
}
EOF
my ($worker) = $p->wait_workers(1);
ok($worker, 'one worker runs');

# Sends every request of $requests on one connection while reading the
# answers, and checks answer $i with $check->($i, $status, $body) (a
# message on a mismatch, '' otherwise). Returns (answers read, first
# mismatch or '').
sub pipeline {
	my ($requests, $heads, $check) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p->port('http'),
	    Proto => 'tcp') or return (0, "connect: $!");
	$s->blocking(0);
	my $sel_r = IO::Select->new($s);
	my $sel_w = IO::Select->new($s);
	my ($off, $in, $i, $bad) = (0, '', 0, '');
	my $deadline = time + 300;
	while ($i < @$heads && !$bad && time < $deadline) {
		my ($r, $w) = IO::Select->select($sel_r, $off < length $$requests ? $sel_w : undef,
		    undef, 5);
		if ($w && @$w) {
			my $n = syswrite($s, $$requests, 1 << 16, $off);
			$off += $n if $n;
		}
		next unless $r && @$r;
		my $n = sysread($s, $in, 1 << 20, length $in);
		last unless $n;
		while ($i < @$heads) {
			last unless $in =~ /\A(HTTP\/1\.1 (\d{3}) [^\r]*\r\n(.*?)\r\n\r\n)/s;
			my ($head_len, $status, $fields) = (length $1, $2, $3);
			my ($len) = $fields =~ /^Content-Length: (\d+)/mi;
			$len = 0 if $heads->[$i];
			last if length($in) < $head_len + ($len // 0);
			my $body = substr($in, $head_len, $len // 0);
			substr($in, 0, $head_len + ($len // 0), '');
			$bad = $check->($i, $status, $body);
			$i++;
		}
	}
	close $s;
	return ($i, $bad);
}

# -- answers of portico's own --

{
	my (@heads, $req);
	for my $i (0 .. $N - 1) {
		my $k = $i % 3;
		$req .= $k == 0 ? "GET /x/$i HTTP/1.1\r\nHost: a\r\n\r\n"
		      : $k == 1 ? "GET /status HTTP/1.1\r\nHost: a\r\n\r\n"
		      :           "HEAD /x/$i HTTP/1.1\r\nHost: a\r\n\r\n";
		push @heads, $k == 2;
	}
	my ($n, $bad) = pipeline(\$req, \@heads, sub {
		my ($i, $status, $body) = @_;
		my $want = $i % 3 == 1 ? 200 : 404;
		return $status == $want ? '' : "answer $i is $status, not $want";
	});
	is($n, $N, "$N pipelined own answers (404, status page, HEAD) on one connection");
	is($bad, '', 'each in the order of its request');
	is(join(',', $p->worker_pids), $worker, 'the worker is the same process');
}

# -- proxied answers --

{
	my (@heads, $req);
	for my $i (0 .. $N - 1) {
		$req .= "GET /up/$i HTTP/1.1\r\nHost: a\r\n\r\n";
		push @heads, 0;
	}
	my ($n, $bad) = pipeline(\$req, \@heads, sub {
		my ($i, $status, $body) = @_;
		return $status == 200 && $body eq $i ? '' : "answer $i is $status \"$body\"";
	});
	is($n, $N, "$N pipelined proxied requests on one connection");
	is($bad, '', 'each answered in order, by its own response');
	is(join(',', $p->worker_pids), $worker, 'the worker is the same process');
}

done_testing();
