package Test::Portico::Client;

# A raw HTTP/1.x client for the integration tests: one TCP connection that
# can carry several requests (keep-alive), reads responses in every framing
# (Content-Length, chunked, close-delimited), and also sends arbitrary bytes
# for malformed-request tests. Every read has a deadline.
#
#   my $c = Test::Portico::Client->new($port);   # addr => '::1' for IPv6,
#                                                # from => '127.0.0.2' to
#                                                # connect from that address
#   $c->request(GET => '/x', host => 'a.test');
#   my $r = $c->response;           # { status, header => {...}, body, ... }
#   my $r = $c->get('/y');          # both at once
#   $c->send_raw("GET / HTTP/1.1\n\n");
#   ok($c->closed_within(2));
#
# Functions: http_get($port, $path, %opt) and http($port, %opt) make one
# request on a fresh connection and return the parsed response.

use strict;
use warnings;

use Digest::MD5;
use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use IO::Select;
use IO::Socket::IP;
use Time::HiRes qw(time);

use Exporter 'import';
our @EXPORT_OK = qw(http http_get);

our $TIMEOUT = 10;

sub new {
	my ($class, $port, %opt) = @_;
	my $sock = $opt{sock} // IO::Socket::IP->new(
		PeerHost => $opt{addr} // '127.0.0.1', PeerPort => $port, Proto => 'tcp',
		Timeout => $opt{timeout} // $TIMEOUT,
		defined $opt{from} ? (LocalHost => $opt{from}) : (),
	) or return undef;
	binmode $sock;
	$sock->blocking(0);
	return bless {
		sock => $sock, buf => '', port => $port,
		timeout => $opt{timeout} // $TIMEOUT, eof => 0,
		pending => [],
	}, $class;
}

sub socket { $_[0]{sock} }
sub local_port { $_[0]{sock}->sockport }
sub error { $_[0]{error} }

sub close {
	my ($self) = @_;
	close $self->{sock} if $self->{sock};
	delete $self->{sock};
}

sub send_raw {
	my ($self, $data) = @_;
	my $sel = IO::Select->new($self->{sock});
	my $deadline = time + $self->{timeout};
	my $off = 0;
	while ($off < length $data) {
		my $left = $deadline - time;
		if ($left <= 0 || !$sel->can_write($left)) {
			$self->{error} = 'timeout while sending';
			return 0;
		}
		my $n = syswrite($self->{sock}, $data, length($data) - $off, $off);
		if (!defined $n) {
			next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
			$self->{error} = "send: $!";
			return 0;
		}
		$off += $n;
	}
	return 1;
}

# request(METHOD => TARGET, %opt): send one request.
#   host => 'x' (default "localhost"; undef: no Host field)
#   headers => [name => value, ...]
#   body => $bytes (sent with Content-Length unless chunked)
#   chunked => [sizes...] or 1 (sends the body chunked in those sizes)
#   body_size => N (sends N bytes of Backend::content, without holding them)
#   version => '1.1' | '1.0'
sub request {
	my ($self, $method, $target, %opt) = @_;
	my $version = $opt{version} // '1.1';
	my $head = "$method $target HTTP/$version\r\n";
	my $host = exists $opt{host} ? $opt{host} : 'localhost';
	$head .= "Host: $host\r\n" if defined $host;
	my @h = @{ $opt{headers} // [] };
	while (my ($k, $v) = splice @h, 0, 2) {
		$head .= "$k: $v\r\n";
	}
	my $stream;	# sub ($cb): produce the body in pieces
	my $len;
	if (defined $opt{body}) {
		my $b = $opt{body};
		$len = length $b;
		$stream = sub { $_[0]->($b) };
	} elsif (defined $opt{body_size}) {
		require Test::Portico::Backend;
		$len = $opt{body_size};
		$stream = sub { Test::Portico::Backend::content_stream($len, $_[0]) };
	}
	if ($stream && $opt{chunked}) {
		$head .= "Transfer-Encoding: chunked\r\n\r\n";
		my @sizes = ref $opt{chunked} ? @{ $opt{chunked} } : (1000, 1, 65536, 17);
		my ($i, $pending) = (0, '');
		my $ok = $self->send_raw($head);
		$stream->(sub {
			$pending .= $_[0];
			while ($ok) {
				my $sz = $sizes[$i % @sizes];
				last if length $pending < $sz;
				$i++;
				$ok &&= $self->send_raw(sprintf("%x\r\n", $sz)
				    . substr($pending, 0, $sz, '') . "\r\n");
			}
		});
		$ok &&= $self->send_raw(sprintf("%x\r\n", length $pending)
		    . $pending . "\r\n") if length $pending;
		$ok &&= $self->send_raw("0\r\n\r\n");
		push @{ $self->{pending} }, $method;
		return $ok;
	}
	$head .= "Content-Length: $len\r\n" if $stream;
	$head .= "\r\n";
	my $ok = $self->send_raw($head);
	$stream->(sub { $ok &&= $self->send_raw($_[0]) }) if $stream && $ok;
	push @{ $self->{pending} }, $method;
	return $ok;
}

# Wait for more bytes into the buffer; 0 on EOF, undef on timeout/error.
sub _fill {
	my ($self, $deadline) = @_;
	return 0 if $self->{eof};
	my $sel = IO::Select->new($self->{sock});
	while (1) {
		my $left = $deadline - time;
		if ($left <= 0) {
			$self->{error} = 'timeout';
			return undef;
		}
		next unless $sel->can_read($left);
		my $n = sysread($self->{sock}, $self->{buf}, 262144, length $self->{buf});
		if (!defined $n) {
			next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
			$self->{error} = "recv: $!";
			$self->{eof} = 1;
			return 0;
		}
		$self->{eof} = 1 if $n == 0;
		return $n;
	}
}

sub _line {
	my ($self, $deadline) = @_;
	while (1) {
		my $i = index($self->{buf}, "\n");
		return substr($self->{buf}, 0, $i + 1, '') if $i >= 0;
		my $n = $self->_fill($deadline);
		return undef unless $n;
	}
}

# response(%opt): read one response.
#   head => 1: it answers a HEAD request (no body), default from request()
#   body_cb => sub ($piece): receive the body instead of keeping it
#   timeout => seconds
# Returns { version, status, reason, headers => [[k, v]...], header => {lc k
# => v joined by ", "}, body, body_length, body_md5, framing, complete }
# or undef (see ->error) when no response head arrived.
sub response {
	my ($self, %opt) = @_;
	my $deadline = time + ($opt{timeout} // $self->{timeout});
	my $method = shift @{ $self->{pending} } // 'GET';
	my $head = $opt{head} // ($method eq 'HEAD');
	my $r = { headers => [], header => {} };

	my $line = $self->_line($deadline);
	return undef unless defined $line;
	unless ($line =~ m{^HTTP/(\d\.\d) (\d{3})(?: (.*?))?\r?\n\z}) {
		$self->{error} = "bad status line: $line";
		return undef;
	}
	@$r{qw(version status reason)} = ($1, $2, $3 // '');
	$r->{raw_head} = $line;
	while (1) {
		my $h = $self->_line($deadline);
		unless (defined $h) {
			$self->{error} //= 'eof in head';
			return undef;
		}
		$r->{raw_head} .= $h;
		last if $h =~ /^\r?\n\z/;
		$h =~ /^([^:\s]+):[ \t]*(.*?)[ \t]*\r?\n\z/ or do {
			$self->{error} = "bad header line: $h";
			return undef;
		};
		push @{ $r->{headers} }, [$1, $2];
		my $k = lc $1;
		$r->{header}{$k} = exists $r->{header}{$k} ? "$r->{header}{$k}, $2" : $2;
	}

	my $md5 = Digest::MD5->new;
	my $body = '';
	my $len = 0;
	my $sink = sub {
		$md5->add($_[0]);
		$len += length $_[0];
		if ($opt{body_cb}) {
			$opt{body_cb}->($_[0]);
		} else {
			$body .= $_[0];
		}
	};
	my $s = $r->{status};
	my $te = $r->{header}{'transfer-encoding'};
	my $cl = $r->{header}{'content-length'};
	$r->{complete} = 1;
	if ($head || $s =~ /^1/ || $s == 204 || $s == 304) {
		$r->{framing} = 'none';
	} elsif (defined $te && $te =~ /chunked\s*$/i) {
		$r->{framing} = 'chunked';
		$r->{chunk_sizes} = [];
		while (1) {
			my $szl = $self->_line($deadline);
			if (!defined $szl || $szl !~ /^([0-9a-fA-F]+)(;.*)?\r\n\z/) {
				$r->{complete} = 0;
				$self->{error} = 'bad chunk: ' . ($szl // 'eof');
				last;
			}
			my $n = hex $1;
			push @{ $r->{chunk_sizes} }, $n;
			if ($n == 0) {
				while (1) {
					my $t = $self->_line($deadline);
					if (!defined $t) { $r->{complete} = 0; last; }
					last if $t eq "\r\n";
				}
				last;
			}
			$self->_exact($n + 2, $deadline, sub { $sink->($_[0]) }, 2)
			    or do { $r->{complete} = 0; last };
		}
	} elsif (defined $cl) {
		$r->{framing} = 'length';
		$self->_exact($cl, $deadline, $sink) or $r->{complete} = 0;
	} else {
		$r->{framing} = 'close';
		while (1) {
			if (length $self->{buf}) {
				$sink->($self->{buf});
				$self->{buf} = '';
			}
			my $n = $self->_fill($deadline);
			if (!defined $n) { $r->{complete} = 0; last; }
			last if $n == 0 && !length $self->{buf};
		}
	}
	$r->{body} = $body;
	$r->{body_length} = $len;
	$r->{body_md5} = $md5->hexdigest;
	return $r;
}

# Read $n bytes, passing them to $cb except the last $strip bytes, which
# must be CRLF (the end of a chunk).
sub _exact {
	my ($self, $n, $deadline, $cb, $strip) = @_;
	$strip //= 0;
	my $data_left = $n - $strip;
	while ($data_left > 0) {
		if (!length $self->{buf}) {
			my $got = $self->_fill($deadline);
			return 0 unless $got;
		}
		my $take = $data_left < length $self->{buf} ? $data_left : length $self->{buf};
		$cb->(substr($self->{buf}, 0, $take, ''));
		$data_left -= $take;
	}
	while ($strip && length $self->{buf} < $strip) {
		my $got = $self->_fill($deadline);
		return 0 unless $got;
	}
	if ($strip) {
		my $crlf = substr($self->{buf}, 0, $strip, '');
		if ($crlf ne "\r\n") {
			$self->{error} = 'no CRLF after chunk data';
			return 0;
		}
	}
	return 1;
}

# get(TARGET, %opt) / do(METHOD, TARGET, %opt): request and response.
sub get {
	my ($self, $target, %opt) = @_;
	return $self->do(GET => $target, %opt);
}

sub do {
	my ($self, $method, $target, %opt) = @_;
	my %ropt = map { $_ => delete $opt{$_} } grep { exists $opt{$_} } qw(body_cb timeout);
	$self->request($method, $target, %opt) or return undef;
	return $self->response(%ropt);
}

# Everything the peer sends until it closes (or the deadline passes).
sub recv_all {
	my ($self, $timeout) = @_;
	my $deadline = time + ($timeout // $self->{timeout});
	while (1) {
		my $n = $self->_fill($deadline);
		last unless $n;
	}
	return substr($self->{buf}, 0, length $self->{buf}, '');
}

# Exactly $n bytes (waiting up to $timeout seconds), or undef when the
# connection ended or the deadline passed first.
sub recv_exact {
	my ($self, $n, $timeout) = @_;
	my $deadline = time + ($timeout // $self->{timeout});
	while (length $self->{buf} < $n) {
		my $got = $self->_fill($deadline);
		return undef unless $got;
	}
	return substr($self->{buf}, 0, $n, '');
}

# Whatever arrives within $timeout seconds (without waiting for more once
# something came): '' when nothing did.
sub recv_some {
	my ($self, $timeout) = @_;
	$self->_fill(time + $timeout) unless length $self->{buf};
	return substr($self->{buf}, 0, length $self->{buf}, '');
}

# True once the peer has closed the connection (seen by a read).
sub at_eof { $_[0]{eof} }

# True when the peer closes the connection within $timeout seconds (any
# bytes it sends first are discarded).
sub closed_within {
	my ($self, $timeout) = @_;
	my $deadline = time + $timeout;
	while (1) {
		$self->{buf} = '';
		my $n = $self->_fill($deadline);
		return 0 unless defined $n;
		return 1 if $n == 0;
	}
}

# ---- one-shot helpers ----

# http($port, method => 'GET', target => '/', %request_opts, %response_opts)
sub http {
	my ($port, %opt) = @_;
	my $c = Test::Portico::Client->new($port, timeout => $opt{timeout},
	    addr => delete $opt{addr}, from => delete $opt{from}) or return undef;
	my $method = delete $opt{method} // 'GET';
	my $target = delete $opt{target} // '/';
	my $r = $c->do($method, $target, %opt);
	$c->close;
	return $r;
}

# http_get($port, $target, host => ..., headers => [...])
sub http_get {
	my ($port, $target, %opt) = @_;
	return http($port, target => $target, %opt);
}

1;
