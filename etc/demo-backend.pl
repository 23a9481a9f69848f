#!/usr/bin/perl
# demo-backend.pl: a tiny HTTP/1.1 server for portico's quick-start demo.
#
#     perl etc/demo-backend.pl PORT NAME
#
# Listens on 127.0.0.1:PORT and answers every request with a short text
# page, "hello from backend NAME", followed by what it received, so the demo
# shows which backend answered, what portico forwarded, and (with the
# per-connection request count) that portico reuses upstream connections.
# One process is forked per connection; connections are kept alive as
# HTTP/1.1 says. Core Perl modules only, so it runs on a bare Debian.
use strict;
use warnings;
use IO::Socket::INET;
use POSIX qw(WNOHANG);

my $IDLE_TIMEOUT = 60;		# seconds a kept-alive connection may idle
my $MAX_HEAD = 64 * 1024;

my ($port, $name) = @ARGV;
die "usage: $0 PORT NAME\n"
    unless defined $name && defined $port && $port =~ /^\d+$/;

my $listener = IO::Socket::INET->new(
	LocalAddr => '127.0.0.1',
	LocalPort => $port,
	Proto => 'tcp',
	Listen => 128,
	ReuseAddr => 1,
) or die "demo-backend $name: cannot listen on 127.0.0.1:$port: $@\n";

# The parent remembers its children so that stopping it stops them too:
# otherwise a kept-alive connection would outlive the demo.
my %children;
$SIG{CHLD} = sub {
	while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
		delete $children{$pid};
	}
};
my $stop = sub {
	kill 'TERM', keys %children;
	exit 0;
};
$SIG{TERM} = $stop;
$SIG{INT} = $stop;
$SIG{PIPE} = 'IGNORE';

print STDERR "demo-backend $name: listening on 127.0.0.1:$port (pid $$)\n";

for (;;) {
	my $client = $listener->accept;
	next unless $client;	# interrupted by SIGCHLD
	my $pid = fork;
	if (!defined $pid) {
		warn "demo-backend $name: fork: $!\n";
		close $client;
		next;
	}
	if ($pid == 0) {
		$SIG{TERM} = $SIG{INT} = 'DEFAULT';
		$SIG{CHLD} = 'DEFAULT';
		close $listener;
		serve($client);
		exit 0;
	}
	$children{$pid} = 1;
	close $client;
}

# Serve requests on one connection until the client closes it, asks to
# close it, goes idle too long, or sends something we cannot read.
sub serve {
	my ($sock) = @_;
	binmode $sock;
	my $buf = '';
	my $count = 0;

	for (;;) {
		my $end;
		while (($end = index($buf, "\r\n\r\n")) < 0) {
			return if length($buf) > $MAX_HEAD;
			return unless fill($sock, \$buf);
		}
		my $head = substr($buf, 0, $end);
		substr($buf, 0, $end + 4) = '';
		$count++;

		my ($line, @fields) = split /\r\n/, $head;
		my ($method, $target, $version) =
		    ($line // '') =~ m{^([A-Z]+) (\S+) (HTTP/1\.[01])$};
		if (!defined $method) {
			reply($sock, 400, "bad request\n", 0, 0);
			return;
		}
		my %h;
		for my $f (@fields) {
			my ($k, $v) = $f =~ /^([^:\s]+):[ \t]*(.*?)[ \t]*$/
			    or do {
				reply($sock, 400, "bad header\n", 0, 0);
				return;
			};
			$k = lc $k;
			$h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
		}

		my $body_len = read_body($sock, \$buf, \%h);
		if (!defined $body_len) {
			reply($sock, 400, "bad body\n", 0, 0);
			return;
		}

		my $conn = lc($h{connection} // '');
		my $keep = $version eq 'HTTP/1.1'
		    ? $conn !~ /\bclose\b/
		    : $conn =~ /\bkeep-alive\b/;

		my $text = "hello from backend $name\n"
		    . "request: $method $target $version\n"
		    . "host: " . ($h{host} // '-') . "\n"
		    . "x-forwarded-for: " . ($h{'x-forwarded-for'} // '-') . "\n"
		    . "request body: $body_len bytes\n"
		    . "requests on this connection: $count\n";
		reply($sock, 200, $text, $keep, $method eq 'HEAD');
		return unless $keep;
	}
}

# Read more bytes into $$bufref; false on EOF, error or idle timeout.
sub fill {
	my ($sock, $bufref) = @_;
	my $rin = '';
	vec($rin, fileno($sock), 1) = 1;
	my $n = select(my $rout = $rin, undef, undef, $IDLE_TIMEOUT);
	return 0 unless $n && $n > 0;
	my $got = sysread($sock, $$bufref, 65536, length $$bufref);
	return $got ? 1 : 0;
}

# Consume the request body (Content-Length or chunked) and return its
# length, or undef when it is malformed or the client went away.
sub read_body {
	my ($sock, $bufref, $h) = @_;
	my $te = lc($h->{'transfer-encoding'} // '');
	if ($te ne '') {
		return undef unless $te eq 'chunked';
		my $total = 0;
		for (;;) {
			my $eol;
			while (($eol = index($$bufref, "\r\n")) < 0) {
				return undef unless fill($sock, $bufref);
			}
			my ($hex) = substr($$bufref, 0, $eol) =~ /^([0-9a-fA-F]+)/
			    or return undef;
			substr($$bufref, 0, $eol + 2) = '';
			my $size = hex $hex;
			if ($size == 0) {
				# Skip trailer fields up to the empty line.
				for (;;) {
					while (($eol = index($$bufref, "\r\n")) < 0) {
						return undef unless fill($sock, $bufref);
					}
					my $t = substr($$bufref, 0, $eol + 2, '');
					return $total if $t eq "\r\n";
				}
			}
			while (length($$bufref) < $size + 2) {
				return undef unless fill($sock, $bufref);
			}
			substr($$bufref, 0, $size + 2) = '';
			$total += $size;
		}
	}
	my $len = $h->{'content-length'} // 0;
	return undef unless $len =~ /^\d+$/;
	my $left = $len;
	while ($left > 0) {
		if (length $$bufref == 0) {
			return undef unless fill($sock, $bufref);
		}
		my $take = length $$bufref < $left ? length $$bufref : $left;
		substr($$bufref, 0, $take) = '';
		$left -= $take;
	}
	return $len;
}

sub reply {
	my ($sock, $status, $text, $keep, $head_only) = @_;
	my %reason = (200 => 'OK', 400 => 'Bad Request');
	my $out = "HTTP/1.1 $status $reason{$status}\r\n"
	    . "Content-Type: text/plain; charset=utf-8\r\n"
	    . "Content-Length: " . length($text) . "\r\n"
	    . "X-Demo-Backend: $name\r\n"
	    . ($keep ? '' : "Connection: close\r\n")
	    . "\r\n"
	    . ($head_only ? '' : $text);
	while (length $out) {
		my $n = syswrite($sock, $out);
		return unless $n;
		substr($out, 0, $n) = '';
	}
}
