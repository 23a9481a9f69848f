package Test::Portico::Loop;

# A client process that keeps making requests through portico until told
# to stop, alternating a new connection per request and a keep-alive
# connection, and reports how many it made and which failed: for tests
# that must show that nothing fails while portico is reloaded, upgraded or
# replaced. (Test::Portico::Wrk drives more load; this one also sees every
# answer's status and how each connection ended.)
#
#   my $loop = Test::Portico::Loop->start($port, '/name');
#   ... reload, upgrade ...
#   my ($n, @fail) = $loop->finish;   # requests made, failures' statuses
#
# A keep-alive connection that the server closes between requests (an old
# worker leaving) is not a failed request: clients retry those, and the
# loop just opens a new one. Anything else that is not a 200 is a failure.

use strict;
use warnings;

use POSIX ();
use Test::Portico::Client;
use Time::HiRes qw(time);

# Runs for at most $limit seconds (default 60) if nobody stops it.
sub start {
	my ($class, $port, $path, $limit) = @_;
	pipe(my $rd, my $wr) or die "pipe: $!\n";
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		close $rd;
		my ($n, @fail) = _run($port, $path, time + ($limit // 60));
		print $wr "$n @fail\n";
		close $wr;
		POSIX::_exit(0);
	}
	close $wr;
	return bless { pid => $pid, rd => $rd }, $class;
}

sub _run {
	my ($port, $path, $deadline) = @_;
	my ($n, @fail, $ka) = (0);
	my $stop = 0;
	local $SIG{USR1} = sub { $stop = 1 };
	while (!$stop && time < $deadline) {
		my $x;
		if ($n++ % 2) {
			$ka //= Test::Portico::Client->new($port);
			$x = $ka && $ka->get($path);
			if (!$x) {
				my $idle = $ka && !length $ka->{buf} && $ka->{eof};
				my $err = $ka ? $ka->error // 'closed' : "connect:$!";
				undef $ka;
				next if $idle;
				$x = { status => "keep-alive:$err" };
			} elsif (($x->{header}{connection} // '') =~ /close/i) {
				undef $ka;
			}
		} else {
			my $c = Test::Portico::Client->new($port);
			$x = $c && $c->get($path, headers => [Connection => 'close']);
			$x //= { status => 'new:' . ($c ? $c->error // 'closed' : "connect:$!") };
		}
		push @fail, $x->{status} =~ s/\s+/_/gr unless $x->{status} eq '200';
	}
	return ($n, @fail);
}

# Stops the loop; returns the number of requests made and the statuses
# (or errors) of those that failed.
sub finish {
	my ($self) = @_;
	kill 'USR1', $self->{pid};
	my $fh = $self->{rd};
	my ($n, @fail) = split ' ', scalar(<$fh>) // '0 no-report';
	waitpid($self->{pid}, 0);
	delete $self->{pid};
	return ($n, @fail);
}

sub DESTROY {
	my ($self) = @_;
	return unless $self->{pid};
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
}

1;
