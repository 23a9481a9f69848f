package Test::Portico::Backend;

# A real HTTP/1.1 origin server for the integration tests: a forked Perl
# process listening on 127.0.0.1, one child per connection (so slow answers
# never hold up other clients), keep-alive capable, strict about request
# framing (Content-Length or chunked, never both).
#
# Every request it reads is appended, as one JSON line, to a log file the
# test reads back with ->requests, so a test can say "the backend saw
# exactly this" or "the backend saw nothing".
#
# What it answers is chosen by the end of the path (so "/api/size/10" works
# behind a route "/api/"; "/delay/MS" may come anywhere):
#   /echo            JSON: the request (method, target, headers, body) and name
#   /size/N          N bytes of deterministic content, Content-Length
#   /chunked/N       the same N bytes, chunked in assorted chunk sizes
#   /close/N         the same N bytes, no framing: close-delimited
#   /delay/MS/REST   wait MS milliseconds (or until ->release), then answer
#                    REST (default: the name)
#   /status/CODE     an answer with that status
#   /idle-close/MS   answer (keep-alive), then close the idle connection
#                    after MS milliseconds (->closed lists those)
#   /drop            close without answering
#   /reset           reset the connection (SO_LINGER 0)
#   /garbage         a malformed response head
#   /name, others    the backend's own name
#   /upload          JSON with the request body's length and md5
#   /hdr?F=V&...     an answer with the fields the query names (URL-encoded),
#                    status=CODE and body=N (N bytes of content; without it,
#                    "NAME N" with N the requests read so far, so every
#                    answer from the server differs); 304 when the request's
#                    If-None-Match (weakly) or If-Modified-Since matches ETag or
#                    Last-Modified (with Cache-Control: V when the query
#                    has cc304=V)
#   /gz?F=V&...      as /hdr, with the body gzip-compressed (Content-Encoding:
#                    gzip, or ce=V): body=N bytes of content or zeros=N zero
#                    bytes, in members=K gzip members; garbage=1 appends
#                    bytes that are not gzip, cut=N sends only the first N
#                    compressed bytes, notgzip=1 sends the body plain;
#                    framing=chunked or close instead of Content-Length
#   /raw/NAME        exactly the bytes the test set with ->set_raw(NAME, ...)
#                    (nothing else: no X-Backend), then keeps the connection
#                    open for another request unless told to close
#   (any, after ->set_behavior(delay => MS, status => CODE): waits MS, or
#                    until ->release, and answers CODE, whatever the path)
#   /auth            a forward-auth server's decision by the request's
#                    Authorization ("Bearer TOKEN") or its cookie session=TOKEN:
#                    ok-NAME: 200 with X-User: NAME, X-Email: NAME@example.com
#                    and X-Other: 1 (chunked-NAME: the same, with a chunked
#                    body); forbidden: 403 with a body; login: 302 to a login
#                    page (Location, Set-Cookie); broken: 500; teapot: 418;
#                    slow: 200 after 10 s (or ->release); big: 401 with a
#                    10000-byte body; none: 401 with WWW-Authenticate and
#                    a body
#   /ws              101 Switching Protocols (Upgrade: websocket), whatever
#                    the request asked, then echoes every byte back until
#                    the peer closes
# Every other answer carries "X-Backend: NAME".
#
# With proxy_protocol => 1, every connection must start with a PROXY
# protocol header (v1 or v2), which ->proxy_headers lists; a connection
# without one is closed.

use strict;
use warnings;

use Compress::Raw::Zlib;
use Digest::MD5;
use IO::Socket::INET;
use IO::Socket::UNIX;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(sleep time);

use Exporter 'import';
our @EXPORT_OK = qw(content content_md5 content_stream);

my $JSON = JSON::PP->new->canonical->utf8;

# Deterministic content: a 251-byte pattern (prime length, so it never lines
# up with buffer or chunk sizes) repeated; the block is a whole number of
# periods, so writing it repeatedly continues the pattern exactly.
my $PATTERN = join '', map { chr(33 + ($_ * 7 + int($_ / 13)) % 94) } 0 .. 250;
my $BLOCK = $PATTERN x 1044;		# 262044 bytes

# The first $n bytes of the content (for small sizes: tests compare bytes).
sub content {
	my ($n) = @_;
	my $s = $BLOCK x (int($n / length $BLOCK) + 1);
	return substr($s, 0, $n);
}

# Call $cb->($piece) with the content of $n bytes, in pieces of at most
# one block; used both to send and to compute expected digests.
sub content_stream {
	my ($n, $cb) = @_;
	while ($n > 0) {
		my $len = $n < length $BLOCK ? $n : length $BLOCK;
		$cb->($len == length $BLOCK ? $BLOCK : substr($BLOCK, 0, $len));
		$n -= $len;
	}
}

sub content_md5 {
	my ($n) = @_;
	my $md5 = Digest::MD5->new;
	content_stream($n, sub { $md5->add($_[0]) });
	return $md5->hexdigest;
}

# new(name => 'a', dir => $tmpdir, proxy_protocol => 0, host => '127.0.0.1', port => 0):
# binds now (so the port is known and accepting at once), serves from a
# forked process. With unix => PATH, it listens on that unix socket instead
# (mode 0666, for workers that are not root), and its address is "unix:PATH".
sub new {
	my ($class, %args) = @_;
	my $self = bless {
		name => $args{name} // 'backend',
		dir => $args{dir} // die("Backend needs dir\n"),
		proxy_protocol => $args{proxy_protocol},
		host => $args{host} // '127.0.0.1',
	}, $class;
	$self->{log} = "$self->{dir}/backend-$self->{name}.log";
	open my $fh, '>', $self->{log} or die "$self->{log}: $!\n";
	close $fh;
	my $sock;
	if (defined $args{unix}) {
		$self->{unix} = $args{unix};
		$sock = IO::Socket::UNIX->new(Local => $args{unix}, Listen => 128)
		    or die "backend $self->{name}: bind $args{unix}: $!\n";
		chmod 0666, $args{unix};
	} else {
		$sock = IO::Socket::INET->new(
			LocalAddr => $self->{host}, LocalPort => $args{port} // 0,
			Listen => 128, ReuseAddr => 1, Proto => 'tcp',
		) or die "backend $self->{name}: bind: $@\n";
		$self->{port} = $sock->sockport;
	}
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		setpgrp(0, 0);
		$self->_serve($sock);
		POSIX::_exit(0);
	}
	close $sock;
	$self->{pid} = $pid;
	$self->{owner} = $$;
	return $self;
}

sub name { $_[0]{name} }
sub port { $_[0]{port} }
sub address { defined $_[0]{unix} ? "unix:$_[0]{unix}" : "$_[0]{host}:$_[0]{port}" }
sub pid { $_[0]{pid} }

# Every request read so far, oldest first: hashes with method, target,
# version, headers (array of [name, value]), header (hash, lower-case names,
# values joined by ", "), body_length, body_md5, body (first 64 KiB), conn
# (a number per TCP connection, in accept order), seq (1.. on that connection),
# error (when the request was malformed).
sub requests {
	my ($self) = @_;
	return $self->_read_log('request');
}

# How many of the requests it read were slowed by set_behavior(delay =>
# ...): once one is counted here, its delay holds whatever the test sets
# next.
sub delayed_count {
	my ($self) = @_;
	return scalar grep { ($_->{behavior}{delay} // 0) > 0 } $self->requests;
}

# How many requests it has read so far: requests() without decoding the
# log, for tests that wait while a load generator fills it.
sub request_count {
	my ($self) = @_;
	open my $fh, '<', $self->{log} or return 0;
	my $n = 0;
	while (my $line = <$fh>) {
		$n++ if $line =~ /"type":"request"[,}]/ && $line =~ /\n\z/;
	}
	return $n;
}

# The numbers of the TCP connections accepted so far.
sub connections {
	my ($self) = @_;
	return $self->_events('connection');
}

# The PROXY protocol headers read (proxy_protocol => 1), one per
# connection, oldest first: hashes with conn and header, the header as
# text: the v1 line without its CRLF ("PROXY TCP4 a b p q"), or a v2 one
# written the same way after "v2 " ("v2 PROXY TCP4 a b p q", "v2 LOCAL");
# "malformed" for a connection that began otherwise.
sub proxy_headers {
	my ($self) = @_;
	return $self->_read_log('proxy');
}

# Connections the backend closed while idle (after /idle-close/MS).
sub closed {
	my ($self) = @_;
	return $self->_events('closed');
}

# Connections on which the peer (portico) closed or reset the connection
# while the backend waited for the next request or echoed a tunnel.
sub peer_closed {
	my ($self) = @_;
	return $self->_events('eof');
}

# Connections on which a /raw answer was sent in full.
sub raw_sent {
	my ($self) = @_;
	return $self->_events('raw-sent');
}

# Tunnels (/ws) that ended: hashes with conn and bytes (echoed).
sub tunnels {
	my ($self) = @_;
	open my $fh, '<', $self->{log} or return ();
	my @t;
	while (my $line = <$fh>) {
		next unless $line =~ /\n\z/;
		my $e = eval { $JSON->decode($line) } or next;
		push @t, $e if $e->{type} eq 'tunnel';
	}
	return @t;
}

# The connection ids of the log entries of one type.
sub _events {
	my ($self, $type) = @_;
	return map { $_->{conn} } $self->_read_log($type);
}

# The complete log entries of one type, in order.
sub _read_log {
	my ($self, $type) = @_;
	open my $fh, '<', $self->{log} or return ();
	my @e;
	while (my $line = <$fh>) {
		next unless $line =~ /\n\z/;	# a line still being written
		my $e = eval { $JSON->decode($line) } or next;
		push @e, $e if $e->{type} eq $type;
	}
	return @e;
}

# set_raw(NAME, PART...): what /raw/NAME answers, byte for byte. A part is
# a string to send, { sleep => SECONDS } to pause, or { close => 1 } to
# close the connection (otherwise it stays open for the next request).
sub set_raw {
	my ($self, $name, @parts) = @_;
	die "raw response name must be a word: $name\n" unless $name =~ /^[\w-]+\z/;
	my $path = "$self->{dir}/backend-$self->{name}-raw-$name.json";
	open my $fh, '>', "$path.new" or die "$path: $!\n";
	binmode $fh;
	print $fh $JSON->encode(\@parts);
	close $fh or die "$path: $!\n";
	rename "$path.new", $path or die "$path: $!\n";
	return $self;
}

# set_behavior(delay => MS, status => CODE): from now on every request
# waits MS milliseconds first and, with status, is answered with that
# status whatever its path (a slowed or failing server); set_behavior()
# with no arguments restores normal service.
sub set_behavior {
	my ($self, %b) = @_;
	my $path = "$self->{dir}/backend-$self->{name}-behavior.json";
	open my $fh, '>', "$path.new" or die "$path: $!\n";
	print $fh $JSON->encode(\%b);
	close $fh or die "$path: $!\n";
	rename "$path.new", $path or die "$path: $!\n";
	return $self;
}

# release(): the requests that set_behavior(delay => ...) holds now are
# answered at once; later ones wait as the behavior says.
sub release {
	my ($self) = @_;
	my $path = "$self->{dir}/backend-$self->{name}-release";
	my $n = $self->_release_generation + 1;
	open my $fh, '>', "$path.new" or die "$path: $!\n";
	print $fh $n;
	close $fh or die "$path: $!\n";
	rename "$path.new", $path or die "$path: $!\n";
	return $self;
}

sub _release_generation {
	my ($self) = @_;
	open my $fh, '<', "$self->{dir}/backend-$self->{name}-release" or return 0;
	return (<$fh> // 0) + 0;
}

# Wait $ms, or until release() is called.
sub _delay {
	my ($self, $ms, $generation) = @_;
	my $until = time + $ms / 1000;
	while (time < $until && $self->_release_generation == $generation) {
		sleep(0.02);
	}
}

sub _behavior {
	my ($self) = @_;
	my $path = "$self->{dir}/backend-$self->{name}-behavior.json";
	open my $fh, '<', $path or return {};
	local $/;
	my $b = eval { $JSON->decode(<$fh>) } // {};
	return $b;
}

# Forget what was logged so far.
sub clear {
	my ($self) = @_;
	open my $fh, '>', $self->{log} or die "$self->{log}: $!\n";
	close $fh;
}

sub stop {
	my ($self) = @_;
	return unless $self->{pid} && $self->{owner} == $$;
	kill 'KILL', -$self->{pid};	# the server and its connection children
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
	delete $self->{pid};
}

sub DESTROY { $_[0]->stop }

# ---- the server process ----

sub _serve {
	my ($self, $listen) = @_;
	$SIG{CHLD} = 'IGNORE';
	$SIG{PIPE} = 'IGNORE';
	$SIG{TERM} = sub { POSIX::_exit(0) };
	$0 = "portico-test-backend $self->{name}";
	my $accepted = 0;
	while (1) {
		my $c = $listen->accept or next;
		$accepted++;
		my $pid = fork();
		if (!defined $pid) {
			close $c;
			next;
		}
		if ($pid == 0) {
			close $listen;
			eval { $self->_connection($c, $accepted) };
			POSIX::_exit(0);
		}
		close $c;
	}
}

sub _log {
	my ($self, $entry) = @_;
	# One write per line on an O_APPEND file keeps lines from concurrent
	# connection processes whole.
	open my $fh, '>>', $self->{log} or return;
	binmode $fh;
	syswrite $fh, $JSON->encode($entry) . "\n";
	close $fh;
}

# A buffered reader over the connection with a deadline per wait.
sub _fill {
	my ($st) = @_;
	my $n = sysread($st->{sock}, $st->{buf}, 262144, length $st->{buf});
	return $n;
}

sub _read_line {
	my ($st) = @_;
	while (1) {
		my $i = index($st->{buf}, "\n");
		if ($i >= 0) {
			my $line = substr($st->{buf}, 0, $i + 1, '');
			return $line;
		}
		return undef if length $st->{buf} > 65536;
		my $n = _fill($st);
		return undef unless $n;
	}
}

# Read exactly $len bytes, feeding them to $cb.
sub _read_exact {
	my ($st, $len, $cb) = @_;
	while ($len > 0) {
		if (!length $st->{buf}) {
			my $n = _fill($st);
			return 0 unless $n;
		}
		my $take = $len < length $st->{buf} ? $len : length $st->{buf};
		$cb->(substr($st->{buf}, 0, $take, ''));
		$len -= $take;
	}
	return 1;
}

# $conn numbers the connections in the order accepted. Not the peer's
# port: the kernel may give a closed connection's port to the next one
# (tcp_tw_reuse on loopback), and two connections would look like one.
sub _connection {
	my ($self, $sock, $conn) = @_;
	binmode $sock;
	my $st = { sock => $sock, buf => '' };
	$self->_log({ type => 'connection', conn => $conn });
	if ($self->{proxy_protocol}) {
		my $h = _read_proxy_header($st);
		$self->_log({ type => 'proxy', conn => $conn, header => $h // 'malformed' });
		return unless defined $h;
	}
	my $seq = 0;
	while (1) {
		my $req = $self->_read_request($st);
		unless ($req) {
			$self->_log({ type => 'eof', conn => $conn });
			return;
		}
		$req->{conn} = $conn;
		$req->{seq} = ++$seq;
		$req->{type} = 'request';
		$req->{time} = time;
		# The behavior is fixed before the request is logged: a test that
		# saw the request logged may change the behavior for the next ones
		# without racing this one.
		$req->{behavior} = $self->_behavior;
		$req->{release} = $self->_release_generation;
		$self->_log($req);
		if ($req->{error}) {
			_send($sock, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
			    . "Connection: close\r\nX-Backend: $self->{name}\r\n\r\n");
			return;
		}
		my $keep = $self->_answer($sock, $req, undef, $st);
		if ($keep && $keep eq 'tunnel') {
			$self->_tunnel($st, $conn);
			return;
		}
		if ($keep && $keep =~ /^idle-close:(\d+)$/) {
			# Answered as keep-alive, then closed while idle.
			sleep($1 / 1000);
			close $sock;
			$self->_log({ type => 'closed', conn => $conn });
			return;
		}
		return unless $keep;
	}
}

# A PROXY protocol header, as text (see proxy_headers), or undef.
sub _read_proxy_header {
	my ($st) = @_;
	my $sig = "\r\n\r\n\0\r\nQUIT\n";
	while (length $st->{buf} < 16) {
		last if substr($st->{buf}, 0, 6) eq 'PROXY ' && index($st->{buf}, "\n") >= 0;
		return undef unless _fill($st);
	}
	if (substr($st->{buf}, 0, 6) eq 'PROXY ') {
		my $line = _read_line($st);
		return defined $line && $line =~ s/\r\n\z// ? $line : undef;
	}
	return undef unless substr($st->{buf}, 0, 12) eq $sig;
	my ($vc, $fam, $len) = unpack('C C n', substr($st->{buf}, 12, 4));
	my $body = '';
	substr($st->{buf}, 0, 16, '');
	_read_exact($st, $len, sub { $body .= $_[0] }) or return undef;
	return 'v2 LOCAL' if ($vc & 0x0f) == 0;
	if ($fam == 0x11 && $len >= 12) {
		my @a = unpack('C4 C4 n n', $body);
		return sprintf('v2 PROXY TCP4 %s %s %d %d', join('.', @a[0 .. 3]),
		    join('.', @a[4 .. 7]), $a[8], $a[9]);
	}
	if ($fam == 0x21 && $len >= 36) {
		my ($s, $d, $sp, $dp) = unpack('a16 a16 n n', $body);
		return sprintf('v2 PROXY TCP6 %s %s %d %d', Socket::inet_ntop(Socket::AF_INET6(), $s),
		    Socket::inet_ntop(Socket::AF_INET6(), $d), $sp, $dp);
	}
	return sprintf('v2 PROXY family 0x%02x', $fam);
}

# Strict request reading: the line, the fields, then the body in the one
# framing it declares. Returns undef on a clean close before a request.
sub _read_request {
	my ($self, $st) = @_;
	my $line = _read_line($st);
	return undef unless defined $line;
	my %req = (headers => [], header => {});
	unless ($line =~ m{^(\S+) (\S+) HTTP/(1\.[01])\r\n\z}) {
		return { %req, error => "bad request line: $line" };
	}
	@req{qw(method target version)} = ($1, $2, $3);
	while (1) {
		my $h = _read_line($st);
		return { %req, error => 'eof in head' } unless defined $h;
		last if $h eq "\r\n";
		if ($h !~ /^([!#\$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*\r\n\z/) {
			return { %req, error => "bad header line: $h" };
		}
		push @{ $req{headers} }, [$1, $2];
		my $k = lc $1;
		$req{header}{$k} = exists $req{header}{$k}
		    ? "$req{header}{$k}, $2" : $2;
	}
	my $te = $req{header}{'transfer-encoding'};
	my $cl = $req{header}{'content-length'};
	return { %req, error => 'both Content-Length and Transfer-Encoding' }
	    if defined $te && defined $cl;
	my $md5 = Digest::MD5->new;
	my ($len, $keep) = (0, '');
	my $sink = sub {
		$md5->add($_[0]);
		$len += length $_[0];
		$keep .= substr($_[0], 0, 65536 - length $keep)
		    if length $keep < 65536;
	};
	if (defined $te) {
		return { %req, error => "unsupported Transfer-Encoding: $te" }
		    unless lc $te eq 'chunked';
		while (1) {
			my $sz = _read_line($st);
			return { %req, error => 'eof in chunk size' } unless defined $sz;
			return { %req, error => "bad chunk size line: $sz" }
			    unless $sz =~ /^([0-9A-Fa-f]+)(;[^\r\n]*)?\r\n\z/;
			my $n = hex $1;
			if ($n == 0) {
				while (1) {	# trailer fields, then the empty line
					my $t = _read_line($st);
					return { %req, error => 'eof in trailer' } unless defined $t;
					last if $t eq "\r\n";
				}
				last;
			}
			_read_exact($st, $n, $sink)
			    or return { %req, error => 'eof in chunk data' };
			my $crlf = '';
			_read_exact($st, 2, sub { $crlf .= $_[0] })
			    or return { %req, error => 'eof after chunk' };
			return { %req, error => 'no CRLF after chunk data' }
			    unless $crlf eq "\r\n";
		}
		$req{framing} = 'chunked';
	} elsif (defined $cl) {
		return { %req, error => "bad Content-Length: $cl" } unless $cl =~ /^\d+\z/;
		_read_exact($st, $cl, $sink)
		    or return { %req, error => 'eof in body' };
		$req{framing} = 'length';
	} else {
		$req{framing} = 'none';
	}
	$req{body_length} = $len;
	$req{body_md5} = $md5->hexdigest;
	$req{body} = $keep;
	my $c = lc($req{header}{connection} // '');
	$req{keepalive} = $req{version} eq '1.1'
	    ? ($c !~ /\bclose\b/ ? 1 : 0) : ($c =~ /\bkeep-alive\b/ ? 1 : 0);
	return \%req;
}

sub _send {
	my ($sock, $data) = @_;
	my $off = 0;
	while ($off < length $data) {
		my $n = syswrite($sock, $data, length($data) - $off, $off);
		return 0 unless $n;
		$off += $n;
	}
	return 1;
}

sub _head {
	my ($self, $req, $status, $keep, @fields) = @_;
	my %reason = (200 => 'OK', 201 => 'Created', 204 => 'No Content',
	    304 => 'Not Modified', 400 => 'Bad Request', 404 => 'Not Found',
	    500 => 'Internal Server Error', 503 => 'Service Unavailable');
	my $h = "HTTP/1.1 $status " . ($reason{$status} // 'Status') . "\r\n";
	$h .= "X-Backend: $self->{name}\r\n";
	$h .= "Connection: close\r\n" unless $keep;
	while (my ($k, $v) = splice @fields, 0, 2) {
		$h .= "$k: $v\r\n";
	}
	return "$h\r\n";
}

# Answer a whole body with Content-Length (no body for HEAD).
sub _simple {
	my ($self, $sock, $req, $status, $body, @fields) = @_;
	my $keep = $req->{keepalive};
	my $h = $self->_head($req, $status, $keep,
	    'Content-Length' => length $body, @fields);
	_send($sock, $req->{method} eq 'HEAD' ? $h : $h . $body) or return 0;
	return $keep;
}

# A canned answer set by the test; keeps the connection unless told not to.
sub _raw {
	my ($self, $sock, $req, $name) = @_;
	my $path = "$self->{dir}/backend-$self->{name}-raw-$name.json";
	open my $fh, '<', $path or do {
		_send($sock, "HTTP/1.1 500 No Such Raw Answer\r\nContent-Length: 0\r\n\r\n");
		return 0;
	};
	binmode $fh;
	local $/;
	my $parts = $JSON->decode(<$fh>);
	close $fh;
	for my $part (@$parts) {
		if (!ref $part) {
			_send($sock, $part) or return 0;
		} elsif ($part->{sleep}) {
			sleep $part->{sleep};
		} elsif ($part->{close}) {
			$self->_log({ type => 'raw-sent', conn => $req->{conn} });
			return 0;
		}
	}
	$self->_log({ type => 'raw-sent', conn => $req->{conn} });
	return 1;
}

# Echo every byte back until the peer closes; log how many.
sub _tunnel {
	my ($self, $st, $conn) = @_;
	my $sock = $st->{sock};
	my $bytes = length $st->{buf};
	my $ok = _send($sock, $st->{buf});
	$st->{buf} = '';
	while ($ok) {
		my $n = sysread($sock, my $data, 262144);
		last unless $n;
		$bytes += $n;
		$ok = _send($sock, $data);
	}
	$self->_log({ type => 'tunnel', conn => $conn, bytes => $bytes });
	$self->_log({ type => 'eof', conn => $conn });
}

sub _unescape { my $s = $_[0] // ''; $s =~ tr/+/ /; $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge; $s }

# gzip members of the content of /gz's options: body=N bytes of content
# or zeros=N zero bytes, made block by block (a large N never sits in
# memory uncompressed), in members=K members.
sub _gzip_body {
	my ($opt) = @_;
	my $n = $opt->{zeros} // $opt->{body} // 0;
	my $k = $opt->{members} // 1;
	my $zero = "\0" x 1048576;
	my ($out, $done) = ('', 0);
	for my $m (1 .. $k) {
		my $end = $m == $k ? $n : int($n * $m / $k);
		my ($d) = Compress::Raw::Zlib::Deflate->new(-WindowBits => WANT_GZIP,
		    -AppendOutput => 1, -Level => 6);
		while ($done < $end) {
			my $len = $end - $done > 1048576 ? 1048576 : $end - $done;
			my $in = defined $opt->{zeros} ? substr($zero, 0, $len)
			    : substr(content($done + $len), $done);
			$d->deflate($in, $out) == Z_OK or die "deflate failed\n";
			$done += $len;
		}
		$d->flush($out) == Z_OK or die "deflate flush failed\n";
	}
	$out .= "this is not gzip\n" if $opt->{garbage};
	$out = substr($out, 0, $opt->{cut}) if defined $opt->{cut};
	return $out;
}

# /gz: a gzip body with the fields asked for, framed as asked.
sub _gzip_answer {
	my ($self, $sock, $req, $opt, @fields) = @_;
	my $body = $opt->{notgzip} ? content($opt->{body} // 0) : _gzip_body($opt);
	my $status = $opt->{status} // 200;
	my $framing = $opt->{framing} // 'length';
	my $keep = $req->{keepalive} && $framing ne 'close';
	push @fields, 'Content-Encoding' => $opt->{ce} // 'gzip';
	return $self->_simple($sock, $req, $status, $body, @fields) if $framing eq 'length';
	_send($sock, $self->_head($req, $status, $keep, $framing eq 'chunked'
	    ? ('Transfer-Encoding' => 'chunked') : (), @fields)) or return 0;
	return $keep if $req->{method} eq 'HEAD';
	if ($framing eq 'close') {
		_send($sock, $body);
		return 0;
	}
	for (my $off = 0; $off < length $body; $off += 1000) {
		my $piece = substr($body, $off, 1000);
		_send($sock, sprintf("%x\r\n%s\r\n", length $piece, $piece)) or return 0;
	}
	return _send($sock, "0\r\n\r\n") && $keep;
}

my %ANSWER_OPTION = map { $_ => 1 } qw(status body cc304 zeros members garbage cut notgzip
    framing ce);

# /hdr (/gz with $gzip): the fields the query asks for, and 304 to a
# matching validator.
sub _fields_answer {
	my ($self, $sock, $req, $gzip) = @_;
	my ($query) = $req->{target} =~ /\?(.*)\z/s;
	my (%opt, @fields, %field);
	for my $pair (split /&/, $query // '') {
		my ($k, $v) = map { _unescape($_) } split /=/, $pair, 2;
		if ($ANSWER_OPTION{$k}) {
			$opt{$k} = $v;
		} else {
			push @fields, $k => $v;
			$field{lc $k} = $v;
		}
	}
	my $inm = $req->{header}{'if-none-match'};
	my $ims = $req->{header}{'if-modified-since'};
	my $opaque = sub { $_[0] =~ s{^W/}{}r };	# If-None-Match compares weakly
	if ((defined $inm && defined $field{etag} && $opaque->($inm) eq $opaque->($field{etag})) ||
	    (!defined $inm && defined $ims && defined $field{'last-modified'} &&
	     $ims eq $field{'last-modified'})) {
		my @f304 = @fields;
		if (defined $opt{cc304}) {
			@f304 = map { @$_ } grep { lc $_->[0] ne 'cache-control' }
			    map { [$fields[2 * $_], $fields[2 * $_ + 1]] } 0 .. $#fields / 2;
			push @f304, 'Cache-Control' => $opt{cc304};
		}
		_send($sock, $self->_head($req, 304, $req->{keepalive}, @f304)) or return 0;
		return $req->{keepalive};
	}
	return $self->_gzip_answer($sock, $req, \%opt, @fields) if $gzip;
	my $body = defined $opt{body} ? content($opt{body})
	    : "$self->{name} " . $self->request_count . "\n";
	return $self->_simple($sock, $req, $opt{status} // 200, $body, @fields);
}

# /auth: what a forward-auth server decides for the credentials it got.
sub _auth_answer {
	my ($self, $sock, $req) = @_;
	my $token = '';
	if (($req->{header}{authorization} // '') =~ /^Bearer (\S+)$/) {
		$token = $1;
	} elsif (($req->{header}{cookie} // '') =~ /(?:^|;\s*)session=([^;\s]+)/) {
		$token = $1;
	}
	if ($token =~ /^(ok|chunked)-(\w+)$/) {
		my @f = ('X-User' => $2, 'X-Email' => "$2\@example.com", 'X-Other' => 1);
		return $self->_simple($sock, $req, 200, "welcome $2\n", @f) if $1 eq 'ok';
		my $keep = $req->{keepalive};
		_send($sock, $self->_head($req, 200, $keep, 'Transfer-Encoding' => 'chunked', @f)
		    . "3\r\nwel\r\n5\r\ncome!\r\n0\r\n\r\n") or return 0;
		return $keep;
	}
	if ($token eq 'slow') {
		$self->_delay(10000, $self->_release_generation);
		return $self->_simple($sock, $req, 200, "late\n", 'X-User' => 'slow');
	}
	return $self->_simple($sock, $req, 403, "forbidden by auth\n",
	    'Content-Type' => 'text/plain') if $token eq 'forbidden';
	return $self->_simple($sock, $req, 302, '',
	    'Location' => 'http://login.example/?rd=' . ($req->{header}{'x-forwarded-uri'} // ''),
	    'Set-Cookie' => 'rd=1; Path=/') if $token eq 'login';
	return $self->_simple($sock, $req, 500, "auth broke\n") if $token eq 'broken';
	return $self->_simple($sock, $req, 418, "teapot\n") if $token eq 'teapot';
	return $self->_simple($sock, $req, 401, 'x' x 10000,
	    'WWW-Authenticate' => 'Basic realm="big"') if $token eq 'big';
	return $self->_simple($sock, $req, 401, "who are you?\n",
	    'WWW-Authenticate' => 'Bearer realm="portico-test"', 'Content-Type' => 'text/plain',
	    'X-Other' => 1);
}

# Returns true to keep the connection for another request.
sub _answer {
	my ($self, $sock, $req, $path, $st) = @_;
	my $head = $req->{method} eq 'HEAD';
	unless (defined $path) {
		$path = $req->{target} =~ s/\?.*//sr;
		my $b = $req->{behavior};
		$self->_delay($b->{delay}, $req->{release}) if $b->{delay};
		$path = "/status/$b->{status}" if $b->{status};
	}

	if ($path =~ m{/raw/([\w-]+)$}) {
		return $self->_raw($sock, $req, $1);
	}
	if ($path =~ m{/ws$}) {
		_send($sock, "HTTP/1.1 101 Switching Protocols\r\n"
		    . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		    . "X-Backend: $self->{name}\r\n\r\n") or return 0;
		return 'tunnel';
	}

	if ($path =~ m{/delay/(\d+)(/.*)?$}) {
		$self->_delay($1, $self->_release_generation);
		return $self->_answer($sock, $req, $2 // '/name', $st);
	}
	if ($path =~ m{/echo$}) {
		my %e = map { $_ => $req->{$_} }
		    qw(method target version headers header body_length body_md5 body conn seq framing);
		$e{name} = $self->{name};
		return $self->_simple($sock, $req, 200, $JSON->encode(\%e),
		    'Content-Type' => 'application/json');
	}
	if ($path =~ m{/upload$}) {
		return $self->_simple($sock, $req, 200,
		    $JSON->encode({ length => $req->{body_length},
			md5 => $req->{body_md5}, framing => $req->{framing},
			name => $self->{name} }),
		    'Content-Type' => 'application/json');
	}
	if ($path =~ m{/hdr$}) {
		return $self->_fields_answer($sock, $req);
	}
	if ($path =~ m{/gz$}) {
		return $self->_fields_answer($sock, $req, 1);
	}
	if ($path =~ m{/auth$}) {
		return $self->_auth_answer($sock, $req);
	}
	if ($path =~ m{/size/(\d+)$}) {
		my $n = $1;
		my $keep = $req->{keepalive};
		_send($sock, $self->_head($req, 200, $keep, 'Content-Length' => $n,
		    'Content-Type' => 'application/octet-stream')) or return 0;
		return $keep if $head;
		my $ok = 1;
		content_stream($n, sub { $ok &&= _send($sock, $_[0]) });
		return $ok && $keep;
	}
	if ($path =~ m{/chunked/(\d+)$}) {
		my $n = $1;
		my $keep = $req->{keepalive};
		_send($sock, $self->_head($req, 200, $keep,
		    'Transfer-Encoding' => 'chunked',
		    'Content-Type' => 'application/octet-stream')) or return 0;
		return $keep if $head;
		my @sizes = (1, 7, 100, 4096, 3, 65536, 16385, 250, 131072);
		my ($i, $off, $first) = (0, 0, 1);
		my $data = '';
		my $ok = 1;
		# Generate lazily so huge sizes do not sit in memory.
		while ($ok && $off < $n) {
			my $sz = $sizes[$i++ % @sizes];
			$sz = $n - $off if $sz > $n - $off;
			$data .= $BLOCK while length $data < $sz;
			my $chunk = substr($data, 0, $sz, '');
			my $ext = $first ? ';ext=1' : '';
			$first = 0;
			$ok &&= _send($sock, sprintf("%x%s\r\n", $sz, $ext) . $chunk . "\r\n");
			$off += $sz;
		}
		$ok &&= _send($sock, "0\r\n\r\n");
		return $ok && $keep;
	}
	if ($path =~ m{/close/(\d+)$}) {
		_send($sock, $self->_head($req, 200, 0,
		    'Content-Type' => 'application/octet-stream')) or return 0;
		content_stream($1, sub { _send($sock, $_[0]) }) unless $head;
		return 0;
	}
	if ($path =~ m{/status/(\d{3})$}) {
		my $code = $1;
		if ($code == 204 || $code == 304) {
			_send($sock, $self->_head($req, $code, $req->{keepalive}));
			return $req->{keepalive};
		}
		return $self->_simple($sock, $req, $code, "status $code\n");
	}
	if ($path =~ m{/idle-close/(\d+)$}) {
		my $ms = $1;
		my $keep = $self->_simple($sock, $req, 200, $self->{name},
		    'Content-Type' => 'text/plain');
		return $keep ? "idle-close:$ms" : 0;
	}
	if ($path =~ m{/drop$}) {
		return 0;
	}
	if ($path =~ m{/reset$}) {
		setsockopt($sock, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
		close $sock;
		return 0;
	}
	if ($path =~ m{/garbage$}) {
		_send($sock, "this is not HTTP at all\r\n\x01\x02\r\n\r\n");
		return 0;
	}
	return $self->_simple($sock, $req, 200, $self->{name},
	    'Content-Type' => 'text/plain');
}

1;
