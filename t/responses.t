#!/usr/bin/perl

# Responses get the same scrutiny as requests: a malformed or ambiguous
# response head from a backend is a 502 (a broken body cuts the client
# off), and that backend connection is closed, never reused. Responses
# without a body (HEAD, 1xx, 204, 304), interim responses, unrequested
# protocol switches, and the fields portico adds or hides.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use JSON::PP;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF')->start;
header_buffer_size = "16k"
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream raw  { read_timeout = "3s"  server "%%BACKEND:raw%%" {} }
upstream echo { server "%%BACKEND:echo%%" {} }
site main { route "/" { upstream = "raw" }  route "/echo" { upstream = "echo" } }
site show {
	hosts = {"show.test"}
	hide_server = false
	via = true
	route "/" { upstream = "raw" }
	route "/echo" { upstream = "echo" }
}
site none { hosts = {"none.test"}  forwarded_headers = {}  route "/" { upstream = "echo" } }
site some { hosts = {"some.test"}  forwarded_headers = {"x-real-ip"}  route "/" { upstream = "echo" } }
EOF
my $port = $p->port('http');
my $b = $p->backend('raw');

my $OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
$b->set_raw(ok => $OK);

# The backend connection that carried the last request for $target.
sub conn_of {
	my ($target) = @_;
	my @r = grep { $_->{target} eq $target } $b->requests;
	return @r ? $r[-1]{conn} : -1;
}

# A request that a well-formed answer ends: the connection it came over.
sub next_conn {
	my $r = http_get($port, '/raw/ok');
	return $r && $r->{status} == 200 ? conn_of('/raw/ok') : -2;
}

# The control: a well-formed answer leaves its connection in the pool.
http_get($port, '/raw/ok');
my $first = conn_of('/raw/ok');
is(next_conn(), $first, 'a well-formed response: the next request reuses its backend connection');

# Malformed or ambiguous response heads: 502.
my @bad_heads = (
	['cl-te', "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    'Content-Length with Transfer-Encoding'],
	['te-cl', "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
	    'Transfer-Encoding with Content-Length'],
	['two-cl', "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!",
	    'two differing Content-Length'],
	['cl-list', "HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok!",
	    'a list of differing Content-Length values'],
	['cl-sign', "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", 'Content-Length with a sign'],
	['cl-neg', "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok", 'negative Content-Length'],
	['cl-word', "HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nok", 'Content-Length not a number'],
	['cl-huge', "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nok",
	    'Content-Length that overflows'],
	['te-gzip-chunked', "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	    'Transfer-Encoding: gzip, chunked'],
	['te-chunked-chunked', "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
	    'Transfer-Encoding: chunked, chunked'],
	['te-two-lines', "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    'Transfer-Encoding: chunked on two lines'],
	['te-http10', "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    'Transfer-Encoding in an HTTP/1.0 response'],
	['status-2digit', "HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok", 'status line "HTTP/1.1 20 OK"'],
	['status-4digit', "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", 'a four-digit status'],
	['status-600', "HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok", 'status 600'],
	['status-099', "HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok", 'status 099'],
	['status-http2', "HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok", 'status line "HTTP/2 200 OK"'],
	['status-http20', "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 'status line "HTTP/2.0 200 OK"'],
	['status-icy', "ICY 200 OK\r\nContent-Length: 2\r\n\r\nok", 'status line "ICY 200 OK"'],
	['status-lower', "http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 'lower-case version'],
	['status-2sp', "HTTP/1.1  200 OK\r\nContent-Length: 2\r\n\r\nok", 'two spaces before the status'],
	['status-nul', "HTTP/1.1 200 O\x00K\r\nContent-Length: 2\r\n\r\nok", 'NUL in the reason phrase'],
	['obs-fold', "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\nok", 'obs-fold'],
	['lead-ws', "HTTP/1.1 200 OK\r\n X-A: 1\r\nContent-Length: 2\r\n\r\nok",
	    'whitespace at the start of the header block'],
	['bare-lf', "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 'bare LF line ends'],
	['bare-lf-field', "HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nok",
	    'one field line ended by a bare LF'],
	['bare-cr', "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok", 'bare CR in a field value'],
	['nul', "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok", 'NUL in a field value'],
	['ctl', "HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\nok", 'a control byte in a field value'],
	['space-colon', "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", 'a space before the colon'],
	['bad-name', "HTTP/1.1 200 OK\r\nX(A): 1\r\nContent-Length: 2\r\n\r\nok", 'a field name that is not a token'],
	['no-colon', "HTTP/1.1 200 OK\r\nX-A 1\r\nContent-Length: 2\r\n\r\nok", 'a field line without a colon'],
	['garbage', "this is not HTTP\r\n\r\n", 'no status line at all'],
);

# Heads that are fine but bodies that break their framing. When the bad
# bytes come with the head, nothing was sent to the client yet: 502. When
# the head and some of the body went out already, the client is cut off:
# its connection closes without a complete body.
my $CH = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
my @bad_first_chunks = (
	['first-size', "zz\r\nhello\r\n0\r\n\r\n", 'an invalid chunk size'],
	['first-0x', "0x5\r\nhello\r\n0\r\n\r\n", 'a chunk size with a 0x prefix'],
	['first-overflow', "10000000000000005\r\nhello\r\n0\r\n\r\n", 'a chunk size that overflows'],
	['first-lf', "5\nhello\r\n0\r\n\r\n", 'a bare LF after the chunk size'],
	['first-ext', "5;\x01\r\nhello\r\n0\r\n\r\n", 'a control byte in a chunk extension'],
);
my @bad_later_chunks = (
	['later-size', "zz\r\nhello\r\n0\r\n\r\n", 'an invalid chunk size'],
	['later-overflow', "10000000000000005\r\nhello\r\n0\r\n\r\n", 'a chunk size that overflows'],
	['later-nocrlf', "5\r\nworldXX0\r\n\r\n", 'chunk data not followed by CRLF'],
	['later-lf', "5\nworld\r\n0\r\n\r\n", 'a bare LF after the chunk size'],
	['later-trailer', "0\r\nX-T : 1\r\n\r\n", 'a trailer field with a space before the colon'],
	['later-no-final-crlf', "0\r\n", 'a chunked body without its final CRLF (then the backend closes)', 1],
	['later-eof', "5\r\nwor", 'a chunked body cut short by a close', 1],
);

sub broken_off {
	my ($name, $raw, $what, $check_response, $backend_closes) = @_;
	$b->set_raw($name => ref $raw ? @$raw : $raw);
	my $target = "/raw/$name";
	my $c = Test::Portico::Client->new($port, timeout => 6);
	my $r = $c->get($target);
	my $conn = conn_of($target);
	subtest $what => sub {
		$check_response->($r, $c);
		ok(wait_for(sub { grep { $_ == $conn } $b->peer_closed }, 5),
		    'portico closes that backend connection') unless $backend_closes;
		isnt(next_conn(), $conn, 'the next request goes over another backend connection');
	};
	$c->close;
}

my ($c, $r);
for my $case (@bad_heads) {
	my ($name, $raw, $what) = @$case;
	broken_off($name, $raw, "$what: 502", sub {
		my ($r) = @_;
		is($r && $r->{status}, 502, 'answered 502');
		like($r && $r->{body} // '', qr{<h1>502 Bad Gateway</h1>}, 'with portico\'s own page');
	});
}

# A Transfer-Encoding that does not end in chunked: the body runs until
# the server closes (RFC 9112 6.3). It reaches an HTTP/1.1 client with its
# coding named and chunked framing added; an HTTP/1.0 client, which knows
# no transfer codings, gets 502 rather than a body it cannot decode. That
# backend connection is never reused.
for my $te ('gzip', 'identity', 'xchunked', 'chunked, gzip') {
	(my $name = "te-$te") =~ s/\W+/-/g;
	$b->set_raw($name => "HTTP/1.1 200 OK\r\nTransfer-Encoding: $te\r\n\r\n",
	    { sleep => 0.1 }, "body of $te", { close => 1 });
	my $r = http_get($port, "/raw/$name");
	my $conn = conn_of("/raw/$name");
	my $ok = $te ne 'chunked, gzip';
	subtest "Transfer-Encoding: $te" => sub {
		if (!$ok) {
			is($r && $r->{status}, 502, 'chunked before another coding: 502');
			return;
		}
		is($r && $r->{status}, 200, 'answered 200, read until the server closed');
		is($r && $r->{body}, "body of $te", 'with the whole body');
		is($r && $r->{header}{'transfer-encoding'}, "$te, chunked",
		    'its coding named, then the chunked framing portico adds');
		isnt(next_conn(), $conn, 'the next request goes over another backend connection');
	};
}
{
	$b->set_raw('te-gzip-10' => "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nten", { close => 1 });
	my $c = Test::Portico::Client->new($port, timeout => 6);
	my $r = $c->get('/raw/te-gzip-10', version => '1.0');
	is($r && $r->{status}, 502, 'Transfer-Encoding: gzip to an HTTP/1.0 client: 502');
	$c->close;
}

for my $case (@bad_first_chunks) {
	my ($name, $body, $what) = @$case;
	broken_off($name, $CH . $body, "$what in the first chunk: 502", sub {
		my ($r) = @_;
		is($r && $r->{status}, 502, 'answered 502 (nothing was sent to the client yet)')
		    or diag($r ? "got $r->{status}" : 'no response: ' . ($_[1]->error // '?'));
	});
}

for my $case (@bad_later_chunks) {
	my ($name, $body, $what, $close) = @$case;
	broken_off($name, [$CH . "5\r\nhello\r\n", { sleep => 0.2 }, $body, $close ? { close => 1 } : ()],
	    "$what after the first chunk: the client is cut off", sub {
		my ($r, $c) = @_;
		is($r && $r->{status}, 200, 'the client got the head');
		ok($r && !$r->{complete}, 'but not a complete body');
		ok($c->closed_within(5), 'and its connection is closed');
	}, $close);
}
$b->set_raw('cl-short' => "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", { close => 1 });
$c = Test::Portico::Client->new($port);
$r = $c->get('/raw/cl-short');
ok($r && !$r->{complete}, 'a Content-Length body cut short by the backend: the client sees it incomplete');
ok($c->closed_within(5), 'and its connection is closed');
$c->close;

# Extra bytes after a Content-Length body: the server and portico disagree
# on where the response ends, so that connection must go.
for my $case (['extra-now', [$OK . "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"],
	    'bytes right after a Content-Length body'],
	   ['extra-later', [$OK, { sleep => 0.2 }, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"],
	    'bytes sent a moment after a Content-Length body']) {
	my ($name, $raw, $what) = @$case;
	broken_off($name, $raw, $what, sub {
			my ($r) = @_;
		is($r && $r->{body}, 'ok', 'the response itself arrives');
	});
	my $r = http_get($port, '/raw/ok');
	is($r && $r->{body}, 'ok', "$what: the extra bytes never reach another client");
}

# A body where none may be: bytes nobody will read stay on the connection,
# so it must go.
for my $case (['headbody', 'HEAD', "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	    'a body sent in answer to HEAD'],
	   ['s204body', 'GET', "HTTP/1.1 204 No Content\r\n\r\nhello", 'a body after a 204']) {
	my ($name, $method, $raw, $what) = @$case;
	$b->set_raw($name => $raw);
	$c = Test::Portico::Client->new($port);
	$r = $c->do($method => "/raw/$name");
	my $conn = conn_of("/raw/$name");
	subtest $what => sub {
		is($r && $r->{status}, $method eq 'HEAD' ? 200 : 204, 'the response is passed on');
		my $next = $c->get('/raw/ok');
		is($next && $next->{body}, 'ok', 'the client connection stays in step');
		isnt(conn_of('/raw/ok'), $conn, 'and that backend connection is not reused');
	};
	$c->close;
}

# A malformed final response after an interim one: the client must not
# take anything for a good answer.
$b->set_raw('late-bad' => "HTTP/1.1 103 Early Hints\r\n\r\n", { sleep => 0.2 },
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!");
$c = Test::Portico::Client->new($port, timeout => 5);
$c->request(GET => '/raw/late-bad');
$r = $c->response;
my $final = $r ? $c->response : undef;
ok($r && $r->{status} == 103 && (($final && $final->{status} == 502) || $c->closed_within(3)),
    'a 103, then an ambiguous final head: a 502 follows the 103 (or the connection closes)');
$c->close;

# A response head larger than header_buffer_size.
$b->set_raw('bighead' => "HTTP/1.1 200 OK\r\n" . ("X-A: " . ('a' x 1000) . "\r\n") x 40
    . "Content-Length: 2\r\n\r\nok");
$r = http_get($port, '/raw/bighead');
is($r && $r->{status}, 502, 'a response head over header_buffer_size: 502');

# Responses without a body.
$b->set_raw('head' => "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
$c = Test::Portico::Client->new($port);
$r = $c->do(HEAD => '/raw/head');
is($r && $r->{header}{'content-length'}, 1000, 'HEAD: the Content-Length of the response is kept');
my $head_conn = conn_of('/raw/head');
$r = $c->get('/raw/ok');
is($r && $r->{body}, 'ok', 'HEAD: no body is waited for; the client connection stays in step');
is(conn_of('/raw/ok'), $head_conn, 'HEAD: and the backend connection is reused');
$c->close;

for my $code (204, 304) {
	$b->set_raw("s$code" => "HTTP/1.1 $code Whatever\r\nContent-Length: 5\r\n\r\n");
	$c = Test::Portico::Client->new($port);
	$r = $c->get("/raw/s$code");
	is($r && $r->{status}, $code, "$code with a Content-Length is passed on");
	my $next = $c->get('/raw/ok');
	is($next && $next->{body}, 'ok', "$code: no body follows it (the next response is the right one)");
	$c->close;
}

# Interim responses reach HTTP/1.1 clients, in order, before the final one.
$b->set_raw('early' => "HTTP/1.1 102 Processing\r\n\r\n",
    "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
    { sleep => 0.2 }, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal");
$c = Test::Portico::Client->new($port);
$c->request(GET => '/raw/early');
my @got = map { my $x = $c->response; $x ? $x->{status} : 'none' } 1 .. 3;
is("@got", '102 103 200', '102 and 103 reach an HTTP/1.1 client before the 200');
$c->close;
$c = Test::Portico::Client->new($port);
$c->request(GET => '/raw/early');
$c->response;
$r = $c->response;
like($r && $r->{header}{link} // '', qr{</style\.css>}, 'the 103 carries its Link field');
$c->close;
$c = Test::Portico::Client->new($port);
$r = $c->get('/raw/early', version => '1.0');
is($r && $r->{status}, 200, 'an HTTP/1.0 client gets the final response first (no 1xx)');
is($r && $r->{body}, 'final', 'with its body');
$c->close;

# A protocol switch nobody asked for.
$r = http_get($port, '/ws');
is($r && $r->{status}, 502, 'a 101 to a request that did not ask to upgrade: 502');

# Hop-by-hop fields of a response stay with the hop.
$b->set_raw('hop' => "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: 1\r\n"
    . "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-End: 1\r\n"
    . "Content-Length: 2\r\n\r\nok");
$r = http_get($port, '/raw/hop');
is($r && $r->{header}{'x-end'}, 1, 'end-to-end response fields pass');
ok($r && !exists $r->{header}{'x-secret'}, 'a response field named by Connection is removed');
ok($r && !exists $r->{header}{'keep-alive'}, 'Keep-Alive is removed from responses');
ok($r && !exists $r->{header}{'proxy-connection'}, 'Proxy-Connection is removed from responses');

# Server, Via.
$b->set_raw('server' => "HTTP/1.1 200 OK\r\nServer: secret-backend/1.0\r\nContent-Length: 2\r\n\r\nok");
$r = http_get($port, '/raw/server');
unlike($r && $r->{header}{server} // '', qr/secret/, 'the backend\'s Server is hidden by default');
$r = http_get($port, '/raw/server', host => 'show.test');
is($r && $r->{header}{server}, 'secret-backend/1.0', 'and shown with hide_server = false');

sub echo_seen {
	my ($host, @headers) = @_;
	my $r = http_get($port, '/echo', host => $host, headers => \@headers);
	return ($r, ($r && $r->{status} == 200 && eval { decode_json($r->{body}) }) || {});
}

my ($er, $seen) = echo_seen('show.test');
is($seen->{header}{via}, '1.1 portico', 'via = true: the backend sees Via: 1.1 portico');
like($er && $er->{header}{via} // '', qr/1\.1 portico/, 'via = true: the client sees it too');
($er, $seen) = echo_seen('localhost');
ok($seen->{header} && !exists $seen->{header}{via}, 'via is off by default: no Via to the backend');
ok($er && !exists $er->{header}{via}, 'nor to the client');

# Forwarding fields.
my @spoof = ('X-Forwarded-For' => '6.6.6.6', 'X-Real-IP' => '6.6.6.6',
    'X-Forwarded-Proto' => 'https', 'Forwarded' => 'for=6.6.6.6;proto=https');
(undef, $seen) = echo_seen('localhost', @spoof);
my $h = $seen->{header} // {};
is($h->{'x-forwarded-for'}, '6.6.6.6, 127.0.0.1', 'default: X-Forwarded-For gets the client appended');
is($h->{'x-real-ip'}, '127.0.0.1', 'default: X-Real-IP is replaced by the client address');
is($h->{'x-forwarded-proto'}, 'http', 'default: X-Forwarded-Proto is replaced by http');
is($h->{forwarded}, 'for=127.0.0.1;proto=http', 'default: Forwarded is replaced (for= and proto=)');

(undef, $seen) = echo_seen('none.test', @spoof);
$h = $seen->{header};
ok($h && !grep({ exists $h->{$_} } qw(x-forwarded-for x-real-ip x-forwarded-proto forwarded)),
    'forwarded_headers = {}: none of the four reaches the backend, not even the client\'s')
    or diag(explain($h));

(undef, $seen) = echo_seen('some.test', @spoof);
$h = $seen->{header} // {};
is($h->{'x-real-ip'}, '127.0.0.1', 'forwarded_headers = {"x-real-ip"}: X-Real-IP is set');
ok(!grep({ exists $h->{$_} } qw(x-forwarded-for x-forwarded-proto forwarded)),
    'and the client\'s other forwarding fields are not forwarded');

done_testing;
