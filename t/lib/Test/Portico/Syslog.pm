package Test::Portico::Syslog;

# A syslog receiver for tests: a unix datagram socket in a test's temporary
# directory, or a UDP port on 127.0.0.1, that keeps every message it reads
# and waits for one that matches. Strict parsers of the two formats portico
# writes.
#
#   my $r = Test::Portico::Syslog->new(unix => "$dir/log.sock");
#   ... error_log = "syslog:server=" . $r->address ...
#   my $m = $r->wait_message(qr/started/);		# raw datagram, or undef
#   my $f = parse_bsd($m);				# { pri, tag, pid, msg, ... }
#
# Waiting is for an event (a datagram), with a deadline only as a safety
# net. new(..., read => 0) makes a receiver that never reads: its queue
# fills, as a stuck syslog daemon's does.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(time);

use Exporter 'import';
our @EXPORT_OK = qw(parse_bsd parse_rfc5424 pri);

# new(unix => PATH) or new(udp => 1): bound and ready.
sub new {
	my ($class, %opt) = @_;
	my $self = bless { messages => [], seen => 0 }, $class;
	if (defined $opt{unix}) {
		unlink $opt{unix};
		$self->{sock} = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $opt{unix})
		    or die "bind $opt{unix}: $!\n";
		# Workers run as nobody when the test is root.
		chmod 0666, $opt{unix};
		$self->{address} = "unix:$opt{unix}";
		$self->{path} = $opt{unix};
	} else {
		$self->{sock} = IO::Socket::INET->new(Proto => 'udp', LocalAddr => '127.0.0.1',
		    LocalPort => 0) or die "bind udp: $!\n";
		$self->{address} = '127.0.0.1:' . $self->{sock}->sockport;
	}
	return $self;
}

# What goes after "server=".
sub address { $_[0]{address} }

# Read what has arrived, waiting up to $timeout seconds for the first.
sub _read {
	my ($self, $timeout) = @_;
	my $sel = IO::Select->new($self->{sock});
	my $n = 0;
	while ($sel->can_read($n ? 0 : $timeout)) {
		my $buf;
		defined $self->{sock}->recv($buf, 65536) or last;
		push @{ $self->{messages} }, $buf;
		$n++;
	}
	return $n;
}

# wait_message(qr/.../, timeout => 10, from => N): the first message since
# message N (default: all messages so far) that matches, or undef at the
# deadline.
sub wait_message {
	my ($self, $re, %opt) = @_;
	my $deadline = time + ($opt{timeout} // 10);
	my $i = $opt{from} // 0;
	while (1) {
		for (; $i < @{ $self->{messages} }; $i++) {
			return $self->{messages}[$i] if $self->{messages}[$i] =~ $re;
		}
		my $left = $deadline - time;
		return undef if $left <= 0;
		$self->_read($left);
	}
}

# How many messages have been read: a mark for wait_message(from => ...).
sub count { scalar @{ $_[0]{messages} } }

# Every message read so far.
sub messages {
	my ($self) = @_;
	$self->_read(0);
	return @{ $self->{messages} };
}

# Close the socket (and remove its file): the receiver is gone.
sub stop {
	my ($self) = @_;
	CORE::close($self->{sock}) if $self->{sock};
	delete $self->{sock};
	unlink $self->{path} if $self->{path};
}

# PRI of a facility number and a severity.
sub pri { $_[0] * 8 + $_[1] }

my $MONTH = qr/Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec/;

# <PRI>Mmm dd hh:mm:ss [HOST ]TAG[PID]: MSG, with host => 1 when a HOST
# must be there (UDP) and host => 0 when it must not (a unix socket).
# undef unless the whole datagram has that shape.
sub parse_bsd {
	my ($m, %opt) = @_;
	my $host = $opt{host} ? qr/(\S+) / : qr/()/;
	return undef unless defined $m && $m =~ m{\A<(\d{1,3})>($MONTH) ([ 1-3]\d) ([01]\d|2[0-3]):([0-5]\d):([0-5]\d) $host([A-Za-z0-9_-]{1,32})\[(\d+)\]: (.*)\z}s;
	return { pri => $1, month => $2, day => $3, time => "$4:$5:$6", host => $7,
	    tag => $8, pid => $9, msg => $10 };
}

# <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG (RFC 5424, section 6), with
# MSGID and SD the nil value as portico writes them. undef otherwise.
sub parse_rfc5424 {
	my ($m) = @_;
	return undef unless defined $m && $m =~ m{\A<(\d{1,3})>1 (\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|[+-][0-2]\d:[0-5]\d)) ([!-~]{1,255}) ([!-~]{1,48}) ([!-~]{1,128}) - - (.*)\z}s;
	return { pri => $1, timestamp => $2, host => $3, tag => $4, pid => $5, msg => $6 };
}

1;
