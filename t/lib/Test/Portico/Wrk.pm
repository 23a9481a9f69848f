package Test::Portico::Wrk;

# A bounded wrk run in the background, for tests that must show that
# nothing fails while portico is reloaded, upgraded or stopped under load:
#
#   my $load = Test::Portico::Wrk->start("http://127.0.0.1:$port/name",
#       duration => 20, connections => 16);
#   ... reload, upgrade ...
#   my $r = $load->finish;    # stops it early (SIGINT) and reads its summary
#   is($r->{errors}, 0, 'no socket error');
#
# finish() returns { requests, non2xx, errors (connect + read + write +
# timeout), text }; requests is 0 when wrk printed no summary.

use strict;
use warnings;

use File::Temp ();
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

# The wrk binary on PATH, or undef.
sub path {
	return (grep { -x } map { "$_/wrk" } split /:/, $ENV{PATH} // '')[0];
}

sub start {
	my ($class, $url, %opt) = @_;
	my $wrk = path() // die "wrk is not installed\n";
	my $out = File::Temp->new(SUFFIX => '.wrk');
	my $duration = $opt{duration} // 10;
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		$SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', $out->filename;
		open STDERR, '>&', \*STDOUT;
		# A request slower than the timeout counts as an error, so the
		# timeout is that of a patient client, not wrk's 2 s.
		exec($wrk, '-t' . ($opt{threads} // 2), '-c' . ($opt{connections} // 16),
		    "-d${duration}s", '--timeout', ($opt{timeout} // 10) . 's', $url)
		    or POSIX::_exit(127);
	}
	return bless { pid => $pid, out => $out, deadline => time + $duration + 20 }, $class;
}

# Whether it still runs.
sub running {
	my ($self) = @_;
	return 0 unless $self->{pid};
	return 1 if waitpid($self->{pid}, WNOHANG) == 0;
	$self->{status} = $?;
	delete $self->{pid};
	return 0;
}

sub finish {
	my ($self) = @_;
	# wrk prints its summary when interrupted, as when its time is up.
	kill 'INT', $self->{pid} if $self->running;
	while ($self->running && time < $self->{deadline}) {
		sleep 0.05;
	}
	if ($self->running) {
		kill 'KILL', $self->{pid};
		waitpid($self->{pid}, 0);
		delete $self->{pid};
	}
	my $text = do { local $/; open my $fh, '<', $self->{out}->filename; <$fh> } // '';
	my %r = (text => $text, requests => 0, non2xx => 0, errors => 0);
	$r{requests} = $1 if $text =~ /(\d+) requests in/;
	$r{non2xx} = $1 if $text =~ /Non-2xx or 3xx responses: (\d+)/;
	if ($text =~ /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/) {
		$r{errors} = $1 + $2 + $3 + $4;
	}
	return \%r;
}

sub DESTROY {
	my ($self) = @_;
	return unless $self->{pid};
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
}

1;
