#!/usr/bin/perl

# Request smuggling: a corpus of malformed and ambiguous requests, the
# ones RFC 9112 says must be refused and the tricks of request-smuggling
# research (CL.TE, TE.CL, TE.TE with obfuscated Transfer-Encoding, bad
# chunk framing, hidden bytes). Each is sent raw on a fresh connection and
# followed by a harmless request on the same connection. Each must get its
# error status with Connection: close, nothing after it, the connection
# closed, and no backend may see it (nor the request that followed it).

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use JSON::PP;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

# Small limits, so the over-limit cases stay small.
my $p = Test::Portico->new(conf => <<'EOF')->start;
max_request_line = "1k"
max_header_line = "1k"
header_buffer_size = "4k"
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream quiet { server "%%BACKEND:quiet%%" {} }
upstream body  { server "%%BACKEND:body%%" {} }
upstream echo  { server "%%BACKEND:echo%%" {} }
site main {
	route "/"      { upstream = "quiet" }
	route "/body/" { upstream = "body" }
	route "/echo/" { upstream = "echo" }
}
EOF
my $port = $p->port('http');

my $H = "Host: localhost\r\n";
# What a smuggler hopes the backend reads as a second request.
my $SMUGGLED = "GET /smuggled HTTP/1.1\r\n${H}\r\n";
# A harmless request sent right after each case on the same connection: it
# must not be answered (the connection must close after the error).
my $AFTER = "GET /after HTTP/1.1\r\n${H}\r\n";

sub post { "POST / HTTP/1.1\r\n$H" . join('', map { "$_\r\n" } @_) . "\r\n" }
# A Content-Length that frames the bytes up to the smuggled request, and
# an obfuscated Transfer-Encoding that, if honoured, would end the body
# with "0" and expose the smuggled request: the classic CL.TE probe.
sub cl_te {
	my ($te_line) = @_;
	my $body = "0\r\n\r\n$SMUGGLED";
	return "POST / HTTP/1.1\r\n$H${te_line}\r\nContent-Length: "
	    . length($body) . "\r\n\r\n$body";
}
sub get_with { "GET / HTTP/1.1\r\n$H$_[0]\r\n\r\n" }

# [raw request, expected status (or [allowed statuses]), promise]
my @head_cases = (
	# Content-Length and Transfer-Encoding together (RFC 9112 6.1, 6.3)
	[post('Content-Length: 6', 'Transfer-Encoding: chunked') . "0\r\n\r\nG",
	    400, 'CL.TE: Content-Length then Transfer-Encoding'],
	[post('Transfer-Encoding: chunked', 'Content-Length: 3') . "8\r\nSMUGGLED\r\n0\r\n\r\n",
	    400, 'TE.CL: Transfer-Encoding then Content-Length'],
	[post('Content-Length: 0', 'Transfer-Encoding: chunked') . "0\r\n\r\n",
	    400, 'Content-Length: 0 with Transfer-Encoding'],
	["POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    400, 'Transfer-Encoding in HTTP/1.0'],
	["POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    400, 'Transfer-Encoding with Content-Length in HTTP/1.0'],

	# Content-Length that is not one plain number
	[post('Content-Length: 5', 'Content-Length: 6') . 'hello!',
	    400, 'two different Content-Length'],
	[post('Content-Length: 5', 'Content-Length: 5') . 'hello',
	    400, 'two identical Content-Length'],
	[post('Content-Length: 5, 5') . 'hello', 400, 'list-valued Content-Length (5, 5)'],
	[post('Content-Length: 5,6') . 'hello!', 400, 'list-valued Content-Length (5,6)'],
	[post('Content-Length: +5') . 'hello', 400, 'Content-Length with a plus sign'],
	[post('Content-Length: -5') . 'hello', 400, 'negative Content-Length'],
	[post('Content-Length: 0x5') . 'hello', 400, 'hexadecimal Content-Length'],
	[post('Content-Length: 5.0') . 'hello', 400, 'Content-Length with a decimal point'],
	[post('Content-Length: 5a') . 'hello', 400, 'Content-Length with trailing letters'],
	[post('Content-Length: 1e3') . 'hello', 400, 'Content-Length in exponent notation'],
	[post('Content-Length: 5 5') . 'hello', 400, 'Content-Length with an inner space'],
	[post('Content-Length: "5"') . 'hello', 400, 'quoted Content-Length'],
	[post('Content-Length:') . 'hello', 400, 'empty Content-Length'],
	[post("Content-Length: \xef\xbc\x95") . 'hello', 400, 'Content-Length in full-width digits'],
	[post('Content-Length: 99999999999999999999999') . 'hello', 400,
	    'Content-Length that overflows 64 bits'],
	[post('Content-Length: 9223372036854775808') . 'hello', 400,
	    'Content-Length just over the largest file offset'],
	[post("Content-Length: 5\x0b") . 'hello', 400, 'Content-Length followed by a vertical tab'],
	[post('Content-Length: 5', 'Content-Length : 6') . 'hello!', 400,
	    'a second Content-Length hidden by a space before the colon'],

	# TE.TE: Transfer-Encoding obfuscated so that one side may ignore it
	# (every one with a Content-Length: refused whatever the TE says)
	(map { [cl_te($_->[0]), 400, "obfuscated Transfer-Encoding with Content-Length: $_->[1]"] } (
		['Transfer-Encoding: xchunked', '"xchunked"'],
		['Transfer-Encoding: chunkedx', '"chunkedx"'],
		['Transfer-Encoding: chunk', '"chunk"'],
		['Transfer-Encoding: CHUNKED', 'upper case'],
		['Transfer-Encoding:  chunked', 'extra space before the value'],
		["Transfer-Encoding: chunked\t", 'tab after the value'],
		["Transfer-Encoding:\tchunked", 'tab before the value'],
		['Transfer-Encoding: "chunked"', 'quoted'],
		['Transfer-Encoding: chunked;q=1', 'with a parameter'],
		["Transfer-Encoding: \x0bchunked", 'vertical tab before the value'],
		["Transfer-Encoding: \x0cchunked", 'form feed before the value'],
		['Transfer-Encoding: chunked, identity', '"chunked, identity"'],
		['Transfer-Encoding: identity, chunked', '"identity, chunked"'],
		['Transfer-Encoding: chunked, chunked', '"chunked, chunked"'],
		['Transfer-Encoding: , chunked', 'empty list element first'],
		["Transfer-Encoding: chunked\r\nTransfer-Encoding: x", 'a second TE line with another coding'],
		["Transfer-Encoding: x\r\nTransfer-Encoding: chunked", 'chunked on a second TE line'],
		['Transfer-encoding: chunked', 'lower-case field name'],
		['TRANSFER-ENCODING: chunked', 'upper-case field name'],
		['Transfer-Encoding : chunked', 'space before the colon'],
		["Transfer-Encoding\t: chunked", 'tab before the colon'],
		["X-Pad: x\r\n Transfer-Encoding: chunked", 'folded into the previous field (obs-fold)'],
		["X-Pad: x\r\n\tTransfer-Encoding: chunked", 'folded with a tab'],
		["Transfer-Encoding:\r\n chunked", 'value on a continuation line'],
		["Transfer-Encoding: chunked\r\n  x", 'followed by a continuation line'],
		["Transfer-Encoding: chunked\x00", 'NUL after the value'],
		["Transfer-Encoding: chu\x00nked", 'NUL inside the value'],
		["Transfer-Encoding: chu\rnked", 'bare CR inside the value'],
		["Transfer\x00Encoding: chunked", 'NUL inside the name'],
		["Transfer-Encoding: chunked\n", 'ended by a bare LF'],
	)),
	["POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\n${H}Content-Length: 3\r\n\r\n0\r\n\r\n",
	    400, 'Transfer-Encoding with leading space as the first field line'],

	# Transfer-Encoding alone whose last coding is not chunked (RFC 9112
	# 6.3: 400 and close), or that lists codings portico cannot decode
	# (RFC 9112 6.1: 501)
	[post('Transfer-Encoding: xchunked') . "0\r\n\r\n", 400, 'Transfer-Encoding: xchunked alone'],
	[post('Transfer-Encoding: chunked, identity') . "0\r\n\r\n", 400,
	    'Transfer-Encoding: chunked, identity alone'],
	[post('Transfer-Encoding: identity') . "0\r\n\r\n", 400, 'Transfer-Encoding: identity alone'],
	[post('Transfer-Encoding: chunked', 'Transfer-Encoding: chunked') . "0\r\n\r\n", 400,
	    'Transfer-Encoding: chunked on two lines (chunked twice)'],
	[post('Transfer-Encoding: chunked, chunked') . "0\r\n\r\n", 400,
	    'Transfer-Encoding: chunked, chunked (chunked twice)'],
	[post('Transfer-Encoding: chunked', 'Transfer-Encoding: gzip') . "0\r\n\r\n", 400,
	    'a second Transfer-Encoding line that makes gzip the last coding'],
	[post('Transfer-Encoding: "chunked"') . "0\r\n\r\n", 400, 'quoted "chunked" alone'],
	[post('Transfer-Encoding:') . "0\r\n\r\n", 400, 'empty Transfer-Encoding'],
	[post('Transfer-Encoding: x-custom, chunked') . "0\r\n\r\n", 501,
	    'an unknown coding before chunked: 501'],
	[post('Transfer-Encoding: x-custom', 'Transfer-Encoding: chunked') . "0\r\n\r\n", 501,
	    'an unknown coding on an earlier Transfer-Encoding line: 501'],
	[post('Transfer-Encoding: chunked;q=1') . "0\r\n\r\n", [400, 501],
	    'chunked with a parameter alone'],

	# Line endings and whitespace (RFC 9112 2.2, 5.1, 5.2)
	["GET / HTTP/1.1\n$H\r\n", 400, 'request line ended by a bare LF'],
	["GET / HTTP/1.1\r\nHost: localhost\nX-A: 1\r\n\r\n", 400, 'field line ended by a bare LF'],
	["GET / HTTP/1.1\r\n$H\n", 400, 'head ended by a bare LF'],
	["GET / HTTP/1.1\r\n${H}X-A: 1\n\n", 400, 'head ended by LF LF'],
	["GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n", 400, 'bare CR inside a field value'],
	["GET / HTTP/1.1\r\n${H}X-A: a\r\r\n\r\n", 400, 'bare CR before the CRLF'],
	["GET /a\rb HTTP/1.1\r\n$H\r\n", 400, 'bare CR inside the request line'],
	["GET / HTTP/1.1\r\n\r${H}\r\n", 400, 'bare CR at the start of a line'],
	["GET / HTTP/1.1\r\n X-A: 1\r\n$H\r\n", 400, 'whitespace at the start of the header block'],
	["GET / HTTP/1.1\r\n${H}X-A: 1\r\n folded\r\n\r\n", 400, 'obs-fold with a space'],
	["GET / HTTP/1.1\r\n${H}X-A: 1\r\n\tfolded\r\n\r\n", 400, 'obs-fold with a tab'],
	["GET / HTTP/1.1\r\n${H}X-A : 1\r\n\r\n", 400, 'space before a colon'],
	["GET / HTTP/1.1\r\n${H}X-A\t: 1\r\n\r\n", 400, 'tab before a colon'],
	["GET / HTTP/1.1\r\nHost : localhost\r\n\r\n", 400, 'space before the colon of Host'],
	["GET / HTTP/1.1\r\n${H}X-A 1\r\n\r\n", 400, 'a field line without a colon'],
	["GET / HTTP/1.1\r\n${H}: 1\r\n\r\n", 400, 'a field line with an empty name'],
	[" GET / HTTP/1.1\r\n$H\r\n", 400, 'whitespace before the method'],

	# NUL and other control bytes (RFC 9110 5.5)
	["GET /a\x00b HTTP/1.1\r\n$H\r\n", 400, 'NUL in the target'],
	["GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n", 400, 'NUL in a field value'],
	["GET / HTTP/1.1\r\n${H}X-\x00A: 1\r\n\r\n", 400, 'NUL in a field name'],
	["GET\x00/ HTTP/1.1\r\n$H\r\n", 400, 'NUL between method and target'],
	[get_with("X-A: a\x01b"), 400, 'SOH (0x01) in a field value'],
	[get_with("X-A: a\x7fb"), 400, 'DEL (0x7f) in a field value'],
	[get_with("X-A: a\x0bb"), 400, 'vertical tab in a field value'],
	[get_with("X-A: a\x0cb"), 400, 'form feed in a field value'],
	[get_with("X-A: a\x1bb"), 400, 'ESC in a field value'],
	["GET /a\x01 HTTP/1.1\r\n$H\r\n", 400, 'a control byte in the target'],
	["GET /a\x7f HTTP/1.1\r\n$H\r\n", 400, 'DEL in the target'],

	# Field names that are not tokens (RFC 9110 5.1)
	(map { [get_with("$_->[0]: 1"), 400, "field name $_->[1]"] } (
		['X(A)', 'with parentheses'],
		['X A', 'with a space'],
		['X"A', 'with a double quote'],
		['X@A', 'with @'],
		['X/A', 'with a slash'],
		['X[A]', 'with brackets'],
		['X{A}', 'with braces'],
		['X,A', 'with a comma'],
		['X=A', 'with ='],
		['X?A', 'with ?'],
		["X\x80A", 'with a non-ASCII byte'],
		["X\tA", 'with a tab'],
	)),

	# Methods that are not tokens, malformed request lines
	["G\@T / HTTP/1.1\r\n$H\r\n", 400, 'method with @'],
	["GE(T / HTTP/1.1\r\n$H\r\n", 400, 'method with a parenthesis'],
	["G\"ET / HTTP/1.1\r\n$H\r\n", 400, 'method with a double quote'],
	["GET\x80 / HTTP/1.1\r\n$H\r\n", 400, 'method with a non-ASCII byte'],
	[" / HTTP/1.1\r\n$H\r\n", 400, 'empty method'],
	["GET\t/ HTTP/1.1\r\n$H\r\n", 400, 'tab between method and target'],
	["GET /\tHTTP/1.1\r\n$H\r\n", 400, 'tab between target and version'],
	["GET  / HTTP/1.1\r\n$H\r\n", 400, 'two spaces after the method'],
	["GET /  HTTP/1.1\r\n$H\r\n", 400, 'two spaces after the target'],
	["GET / HTTP/1.1 \r\n$H\r\n", 400, 'a space after the version'],
	["GET /\r\n$H\r\n", 400, 'no version (HTTP/0.9 style)'],
	["GET / http/1.1\r\n$H\r\n", 400, 'lower-case version'],
	["GET / HTTP/1\r\n$H\r\n", 400, 'version without a minor number'],
	["GET / HTTP/11\r\n$H\r\n", 400, 'version without a dot'],
	["GET / HTTP/1.10\r\n$H\r\n", 400, 'version with two minor digits'],
	["GET / HTTP/ 1.1\r\n$H\r\n", 400, 'a space inside the version'],
	["GET / HTTP/1.1.1\r\n$H\r\n", 400, 'version with three numbers'],
	["GET / HTTP/2.0\r\n$H\r\n", 505, 'HTTP/2.0 request line: 505'],
	["GET / HTTP/3.0\r\n$H\r\n", 505, 'HTTP/3.0 request line: 505'],
	["GET / HTTP/0.9\r\n$H\r\n", 505, 'HTTP/0.9 request line: 505'],
	["GET /a b HTTP/1.1\r\n$H\r\n", 400, 'a space inside the target'],
	["GET /a#frag HTTP/1.1\r\n$H\r\n", 400, 'a fragment in the target'],
	["GET a/b HTTP/1.1\r\n$H\r\n", 400, 'a relative target'],
	["GET * HTTP/1.1\r\n$H\r\n", 400, 'asterisk-form for GET'],
	["CONNECT / HTTP/1.1\r\n$H\r\n", 400, 'CONNECT with an origin-form target'],

	# Host (RFC 9112 3.2, RFC 9110 4.2)
	["GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400, 'HTTP/1.1 without Host'],
	["GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", 400, 'two different Host'],
	["GET / HTTP/1.1\r\n$H$H\r\n", 400, 'two identical Host'],
	["GET / HTTP/1.1\r\nHost: a.test, b.test\r\n\r\n", 400, 'Host with a list'],
	["GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, 'Host with a space'],
	["GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, 'Host with a slash'],
	["GET / HTTP/1.1\r\nHost: user\@a.test\r\n\r\n", 400, 'Host with userinfo'],
	["GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, 'Host with an unclosed IPv6 literal'],
	["GET / HTTP/1.1\r\nHost: a.test:8x\r\n\r\n", 400, 'Host with a non-numeric port'],
	["GET / HTTP/1.1\r\nHost: a.test:80:80\r\n\r\n", 400, 'Host with two ports'],
	["GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n", 400, 'Host with a double quote'],
	["GET / HTTP/1.1\r\nHost: a\x80b\r\n\r\n", 400, 'Host with a non-ASCII byte'],
	["GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n", 400,
	    'absolute-form whose authority differs from Host'],
	["GET http:///x HTTP/1.1\r\n$H\r\n", 400, 'absolute-form with an empty host'],
	["GET http://user\@localhost/ HTTP/1.1\r\n$H\r\n", 400, 'absolute-form with userinfo'],

	# Limits (lowered in the config above)
	["GET /" . ('a' x 1100) . " HTTP/1.1\r\n$H\r\n", 414, 'a request line over max_request_line: 414'],
	["GET / HTTP/1.1\r\n${H}X-Big: " . ('b' x 1100) . "\r\n\r\n", 431,
	    'a field line over max_header_line: 431'],
	["GET / HTTP/1.1\r\n$H" . join('', map { "X-$_: " . ('c' x 900) . "\r\n" } 1 .. 5) . "\r\n",
	    431, 'a head over header_buffer_size: 431'],
	["GET / HTTP/1.1\r\n$H" . join('', map { "X-$_: 1\r\n" } 1 .. 101) . "\r\n",
	    431, 'more than 100 field lines: 431'],

	# Expectations portico cannot meet (RFC 9110 10.1.1)
	[get_with('Expect: 200-ok'), 417, 'an Expect other than 100-continue: 417'],
);

# Bodies that break the chunked framing after a valid head (RFC 9112 7.1).
# The head may already have gone to the backend: the client gets 400, the
# connection closes, and the backend never gets a complete request, let
# alone the smuggled one.
my $CHUNKED_HEAD = "POST /body/x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n";
my @body_cases = (
	["zz\r\nhello\r\n0\r\n\r\n", 'a chunk size that is not hex'],
	["0x5\r\nhello\r\n0\r\n\r\n", 'a chunk size with a 0x prefix'],
	["-5\r\nhello\r\n0\r\n\r\n", 'a negative chunk size'],
	["+5\r\nhello\r\n0\r\n\r\n", 'a chunk size with a plus sign'],
	[" 5\r\nhello\r\n0\r\n\r\n", 'a space before the chunk size'],
	["5 \r\nhello\r\n0\r\n\r\n", 'a space after the chunk size without an extension'],
	["\r\nhello\r\n0\r\n\r\n", 'an empty chunk size line'],
	["10000000000000005\r\nhello\r\n0\r\n\r\n", 'a chunk size that overflows 64 bits'],
	[('f' x 18) . "\r\nhello\r\n0\r\n\r\n", 'a chunk size of 18 hex digits'],
	["5\x00\r\nhello\r\n0\r\n\r\n", 'NUL after the chunk size'],
	["5\r\nhello${SMUGGLED}0\r\n\r\n", 'chunk data not followed by CRLF (a request after it)'],
	["5\r\nhelloXX\r\n0\r\n\r\n", 'chunk data longer than its size'],
	["6\r\nhello\r\n0\r\n\r\n", 'chunk data shorter than its size'],
	["5\r\nhello\n0\r\n\r\n", 'a bare LF after chunk data'],
	["5\nhello\r\n0\r\n\r\n", 'a bare LF after the chunk size'],
	["5\r\r\nhello\r\n0\r\n\r\n", 'a bare CR after the chunk size'],
	["5\r\nhello\r\n\r\n0\r\n\r\n", 'an empty line between chunks'],
	["0\r\n\n", 'a bare LF ending the last chunk'],
	["0\r\n\rX", 'a broken CRLF after the last chunk'],
	["0\r\nX-T: y\n\r\n", 'a trailer field ended by a bare LF'],
	["0\r\nX-T : y\r\n\r\n", 'a trailer field with a space before the colon'],
	["0\r\n X-T: y\r\n\r\n", 'a folded trailer field'],
	["0\r\nX-T: a\x00b\r\n\r\n", 'NUL in a trailer field'],
	["0\r\n$SMUGGLED", 'a request line in the trailer section'],
	["5;a=\"x\r\nhello\r\n0\r\n\r\n", 'an unterminated quoted chunk extension'],
	["5;\x01\r\nhello\r\n0\r\n\r\n", 'a control byte in a chunk extension'],
	["5;a=b c\r\nhello\r\n0\r\n\r\n", 'junk after a chunk extension'],
	["5;\nhello\r\n0\r\n\r\n", 'a chunk extension ended by a bare LF'],
	["5;" . ('e' x 5000) . "\r\nhello\r\n0\r\n\r\n", 'a chunk extension of 5000 bytes'],
	["5\r\nhello\r\nGET /smuggled HTTP/1.1\r\n$H\r\n", 'a request where the next chunk size belongs'],
);

cmp_ok(scalar(@head_cases) + scalar(@body_cases), '>=', 80, 'the corpus has 80 cases or more');

# Send one case and the harmless request after it; check the answer.
sub refused {
	my ($raw, $status, $name, $nothing_reached) = @_;
	my $c = Test::Portico::Client->new($port, timeout => 5);
	$c->send_raw($raw . $AFTER);
	my $r = $c->response;
	my $rest = $r ? $c->recv_all(5) : '';
	subtest $name => sub {
		if (ref $status) {
			ok($r && grep({ $_ == $r->{status} } @$status), "answered @$status")
			    or diag('got ' . ($r ? $r->{status} : 'no response: ' . ($c->error // '?')));
		} else {
			is($r && $r->{status}, $status, "answered $status")
			    or diag($r ? '' : 'no response: ' . ($c->error // '?'));
		}
		like($r && $r->{header}{connection} // '', qr/\bclose\b/i, 'with Connection: close');
		is($rest, '', 'nothing more is answered (the request after it is not served)');
		ok($c->at_eof, 'the connection is closed');
		$nothing_reached->();
	};
	$c->close;
}

my $quiet = $p->backend('quiet');
for my $case (@head_cases) {
	my ($raw, $status, $name) = @$case;
	refused($raw, $status, $name, sub {
		is(scalar($quiet->connections), 0, 'no backend saw a connection for it');
	});
}

my $body = $p->backend('body');
for my $case (@body_cases) {
	my ($chunks, $name) = @$case;
	refused($CHUNKED_HEAD . $chunks, 400, "chunked body: $name", sub {
		my @seen = $body->requests;
		is(scalar(grep { !$_->{error} } @seen), 0, 'the backend got no complete request');
		is(scalar(grep { $_->{target} =~ m{/smuggled|/after} } @seen), 0,
		    'and never the smuggled or following request');
	});
}

is(scalar($quiet->requests), 0, 'in the end, no malformed request reached the backend');
is(scalar(grep { $_->{target} =~ m{/smuggled|/after} } $body->requests), 0,
    'in the end, no smuggled request reached the backend');

# Not every trick is an error; the safe ones are served, safely.
sub echoed {
	my ($raw) = @_;
	my $c = Test::Portico::Client->new($port, timeout => 5);
	$c->send_raw($raw);
	my $r = $c->response;
	$c->close;
	return ($r, ($r && $r->{status} == 200 && eval { decode_json($r->{body}) }) || {});
}

my ($r, $seen) = echoed("POST /echo/echo HTTP/1.1\r\n${H}Transfer_Encoding: chunked\r\n"
    . "Content-Length: 5\r\n\r\nhello");
is($r && $r->{status}, 200, 'Transfer_Encoding (underscore) with a valid Content-Length is served');
is($seen->{body_length}, 5, 'framed by its Content-Length');
ok($seen->{headers} && !grep({ $_->[0] =~ /_/ } @{ $seen->{headers} }),
    'and the backend does not see the underscore field (no second framing for a CGI)');

($r, $seen) = echoed("POST /echo/echo HTTP/1.1\r\n${H}Content_Length: 100\r\n"
    . "Content-Length: 5\r\n\r\nhello");
is($seen->{body_length}, 5, 'Content_Length next to Content-Length: framed by Content-Length');
ok(!exists $seen->{header}{content_length}, 'and Content_Length is not forwarded');

my $c = Test::Portico::Client->new($port, timeout => 5);
$c->send_raw("GET /echo/echo HTTP/1.1\r\n${H}Connection: close\r\n\r\n$SMUGGLED");
$r = $c->response;
my $rest = $r ? $c->recv_all(5) : '';
is($r && $r->{status}, 200, 'a request with Connection: close and another pipelined behind it: answered');
is($rest, '', 'and the one behind it is not');
ok($c->at_eof, 'the connection closes after the answer');
$c->close;

($r, $seen) = echoed("POST /echo/echo HTTP/1.1\r\n${H}Connection: content-length\r\n"
    . "Content-Length: 5\r\n\r\nhello");
is($seen->{header}{'content-length'}, 5,
    '"Connection: content-length" cannot strip the framing from the forwarded request');
is($seen->{body_length}, 5, 'and the body arrives whole');

($r, $seen) = echoed("POST /echo/echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n"
    . "5;name=\"va;l\"\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n");
is($seen->{body}, 'hello', 'chunk extensions and trailer fields are valid and understood');
is($seen->{framing}, 'chunked', 'the body is forwarded chunked');

done_testing;
