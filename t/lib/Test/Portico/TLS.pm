package Test::Portico::TLS;

# TLS for the integration tests: certificates made at test time with the
# openssl command (a CA, then server and client certificates it signs),
# and an HTTPS client that says how the handshake went.
#
#   my $pki = Test::Portico::TLS->new($dir);            # makes a CA
#   my ($pem, $key) = $pki->cert('a.test');             # ECDSA P-256
#   my ($rsa, $rkey) = $pki->cert('a.test', rsa => 1, cn => 'a.test rsa');
#   my $r = https($port, sni => 'a.test', path => '/x');
#   # { status, header => {...}, body, version, cipher, subject, alpn,
#   #   reused } or { error => '...' } when the connection failed
#
# https() options: sni (undef: none sent), host (default: sni), path,
# method, headers => [name => value, ...], version ('TLSv1_2',
# 'TLSv1_3'), ciphers (TLS 1.2 cipher list), alpn => [...], cert and key
# (a client certificate), session => a Test::Portico::TLS::Session (to
# resume: the same object again), no_ticket (resume by session ID only),
# sock (an already connected socket to start TLS on), http10 (an
# HTTP/1.0 request without Host), body (sent with Content-Length). The client is
# Net::SSLeay's: it speaks OpenSSL's language, version names included
# ("TLSv1.3").

use strict;
use warnings;

use File::Temp ();
use IO::Socket::IP;
use Net::SSLeay;

use Exporter 'import';
our @EXPORT_OK = qw(https tls_connect);

our $TIMEOUT = 10;

sub _openssl {
	my (@args) = @_;
	my $out = `openssl @args 2>&1`;
	die "openssl @args failed: $out\n" if $?;
	return $out;
}

# new($dir, name => 'portico test CA'): a CA in $dir.
sub new {
	my ($class, $dir, %opt) = @_;
	my $name = $opt{name} // 'ca';
	my $self = bless { dir => $dir, name => $name, serial => 0 }, $class;
	$self->{ca} = "$dir/$name.pem";
	$self->{ca_key} = "$dir/$name.key";
	_openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
	    '-nodes', '-keyout', $self->{ca_key}, '-out', $self->{ca}, '-days', '3',
	    '-subj', "'/CN=portico test $name'",
	    '-addext', 'basicConstraints=critical,CA:TRUE',
	    '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
	return $self;
}

sub ca_file { $_[0]{ca} }
sub ca_key { $_[0]{ca_key} }
sub dir { $_[0]{dir} }

# cert($dns_name, rsa => 0, cn => $dns_name, client => 0, file => base name)
# -> ($pem, $key): a certificate for $dns_name (its SAN) signed by the CA.
sub cert {
	my ($self, $name, %opt) = @_;
	my $base = "$self->{dir}/" . ($opt{file} // ($name =~ s/[^\w.-]/_/gr)
	    . ($opt{rsa} ? '-rsa' : '-ec'));
	my $cn = $opt{cn} // $name;
	my @key = $opt{rsa} ? ('-newkey', 'rsa:2048')
	    : ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256');
	_openssl('req', '-new', @key, '-nodes', '-keyout', "$base.key", '-out', "$base.csr",
	    '-subj', "'/CN=$cn'");
	open my $ext, '>', "$base.ext" or die "$base.ext: $!\n";
	print $ext "basicConstraints=CA:FALSE\n";
	print $ext $opt{client} ? "extendedKeyUsage=clientAuth\n"
	    : "subjectAltName=DNS:$name\nextendedKeyUsage=serverAuth\n";
	close $ext;
	$self->{serial}++;
	_openssl('x509', '-req', '-in', "$base.csr", '-CA', $self->{ca}, '-CAkey',
	    $self->{ca_key}, '-set_serial', $self->{serial} + 1000, '-days', '2',
	    '-extfile', "$base.ext", '-out', "$base.pem");
	return ("$base.pem", "$base.key");
}

# ocsp_response($pem, $der_out, days => 1): a "good" OCSP response for
# the certificate, signed by the CA.
sub ocsp_response {
	my ($self, $pem, $out, %opt) = @_;
	my $index = "$self->{dir}/ocsp-index.txt";
	open my $fh, '>', $index or die "$index: $!\n";
	close $fh;
	_openssl('ocsp', '-index', $index, '-rsigner', $self->{ca}, '-rkey', $self->{ca_key},
	    '-CA', $self->{ca}, '-issuer', $self->{ca}, '-cert', $pem,
	    '-ndays', $opt{days} // 1, '-respout', $out);
	return $out;
}

package Test::Portico::TLS::Session;

# A client-side session for https(): what the last handshake made with it
# got from the server (its session, or the server's ticket), offered again
# by the next handshake made with it.
sub new { bless { der => undef }, shift }

package Test::Portico::TLS;

use Socket qw(SOL_SOCKET SO_RCVTIMEO SO_SNDTIMEO);

Net::SSLeay::initialize();

my %VERSIONS = (TLSv1_2 => 'TLS1_2_VERSION', TLSv1_3 => 'TLS1_3_VERSION');

sub _ssl_error {
	my ($what) = @_;
	my $e = Net::SSLeay::ERR_get_error();
	my $s = $e ? Net::SSLeay::ERR_error_string($e) : "$!";
	Net::SSLeay::ERR_clear_error() if $e;
	return "$what: $s";
}

sub _ctx {
	my (%opt) = @_;
	my $ctx = Net::SSLeay::CTX_new_with_method(Net::SSLeay::TLS_client_method());
	if (my $v = $opt{version}) {
		my $n = eval "Net::SSLeay::$VERSIONS{$v}()" or die "unknown version $v\n";
		Net::SSLeay::CTX_set_min_proto_version($ctx, $n);
		Net::SSLeay::CTX_set_max_proto_version($ctx, $n);
	}
	Net::SSLeay::CTX_set_cipher_list($ctx, $opt{ciphers}) if $opt{ciphers};
	Net::SSLeay::CTX_set_alpn_protos($ctx, $opt{alpn}) if $opt{alpn};
	Net::SSLeay::CTX_set_options($ctx, Net::SSLeay::OP_NO_TICKET()) if $opt{no_ticket};
	if ($opt{cert}) {
		Net::SSLeay::CTX_use_certificate_chain_file($ctx, $opt{cert}) or die "cert $opt{cert}\n";
		Net::SSLeay::CTX_use_PrivateKey_file($ctx, $opt{key}, Net::SSLeay::FILETYPE_PEM())
		    or die "key $opt{key}\n";
	}
	return $ctx;
}

# tls_connect($port, %opt) -> ({ ssl, ctx, sock }) or (undef, error).
sub tls_connect {
	my ($port, %opt) = @_;
	my $sock = $opt{sock} // IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
	    Proto => 'tcp', Timeout => $TIMEOUT) or return (undef, "connect: $!");
	my $tv = pack('l!l!', $opt{timeout} // $TIMEOUT, 0);
	setsockopt($sock, SOL_SOCKET, SO_RCVTIMEO, $tv);
	setsockopt($sock, SOL_SOCKET, SO_SNDTIMEO, $tv);
	my $ctx = _ctx(%opt);
	my $ssl = Net::SSLeay::new($ctx);
	Net::SSLeay::set_fd($ssl, fileno($sock));
	Net::SSLeay::set_tlsext_host_name($ssl, $opt{sni}) if defined $opt{sni};
	if ($opt{session} && $opt{session}{der}) {
		my $sess = Net::SSLeay::d2i_SSL_SESSION($opt{session}{der});
		Net::SSLeay::set_session($ssl, $sess);
		Net::SSLeay::SESSION_free($sess);
	}
	my $c = { ssl => $ssl, ctx => $ctx, sock => $sock };
	if (Net::SSLeay::connect($ssl) != 1) {
		my $err = _ssl_error('handshake');
		tls_close($c);
		return (undef, $err);
	}
	return ($c);
}

sub tls_close {
	my ($c) = @_;
	Net::SSLeay::free($c->{ssl});
	Net::SSLeay::CTX_free($c->{ctx});
	close $c->{sock};
}

sub _read_all {
	my ($c) = @_;
	my $buf = '';
	while (1) {
		my ($got, $rv) = Net::SSLeay::read($c->{ssl});
		last if !defined $got || $got eq '';
		$buf .= $got;
	}
	return $buf;
}

sub _parse {
	my ($buf, $method) = @_;
	my ($head, $body) = split /\r\n\r\n/, $buf, 2;
	my ($status, @lines) = split /\r\n/, $head // '';
	my %r;
	($r{status}) = ($status // '') =~ m{^HTTP/1\.[01] (\d{3})}
	    or return { error => 'no response' . (length $buf ? ": $buf" : '') };
	for (@lines) {
		my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
		$r{header}{ lc $k } = exists $r{header}{ lc $k } ? "$r{header}{lc $k}, $v" : $v;
	}
	$r{body} = $body // '';
	return \%r;
}

# https($port, %opt): one request on a new TLS connection, read until the
# server closes it (Connection: close).
sub https {
	my ($port, %opt) = @_;
	my ($c, $err) = tls_connect($port, %opt);
	return { error => $err } unless $c;
	my $ssl = $c->{ssl};
	my $method = $opt{method} // 'GET';
	my $host = $opt{host} // $opt{sni} // 'localhost';
	my $req = "$method " . ($opt{path} // '/')
	    . ($opt{http10} ? " HTTP/1.0\r\n" : " HTTP/1.1\r\nHost: $host\r\n");
	my @h = @{ $opt{headers} // [] };
	while (my ($k, $v) = splice @h, 0, 2) {
		$req .= "$k: $v\r\n";
	}
	$req .= "Content-Length: " . length($opt{body}) . "\r\n" if defined $opt{body};
	$req .= "Connection: close\r\n\r\n";
	$req .= $opt{body} if defined $opt{body};
	my $cert = Net::SSLeay::get_peer_certificate($ssl);
	my %info = (
		version => Net::SSLeay::get_version($ssl),
		cipher => Net::SSLeay::get_cipher($ssl),
		subject => $cert ? Net::SSLeay::X509_NAME_oneline(
		    Net::SSLeay::X509_get_subject_name($cert)) : undef,
		alpn => Net::SSLeay::P_alpn_selected($ssl),
		reused => Net::SSLeay::session_reused($ssl) ? 1 : 0,
	);
	Net::SSLeay::X509_free($cert) if $cert;
	Net::SSLeay::ssl_write_all($ssl, $req);
	my $buf = _read_all($c);
	# TLS 1.3 tickets come after the handshake: the session is complete
	# once the response has been read.
	$opt{session}{der} = Net::SSLeay::i2d_SSL_SESSION(Net::SSLeay::get_session($ssl))
	    if $opt{session};
	tls_close($c);
	return { %info, %{ _parse($buf, $method) } };
}

1;
