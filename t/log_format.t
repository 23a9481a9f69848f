#!/usr/bin/perl

# Access log formats: log_format sections and their three escapes, JSON
# lines parsed back with every log variable (TLS, cache, limit, auth,
# upstream timings), several logs of one site in different formats,
# only_errors, sample (the same requests in every log with the same N,
# chosen by $request_id's hash) and if; $request_id sent upstream in
# X-Request-ID, replaced for an untrusted client and kept for a trusted
# one, in the error log and the access line; a log file that cannot be
# written is reported once; load errors at file:line; -T.

use strict;
use warnings;

use JSON::PP;
use Math::BigInt;
use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Test::Portico::TLS qw(https);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $dir = File::Temp::tempdir('portico-logfmt-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my $pki = Test::Portico::TLS->new($dir);
my ($pem, $key) = $pki->cert('a.test');
chmod 0600, $key;

open my $ph, '-|', 'openssl', 'passwd', '-6', 'wonderland' or die "openssl: $!\n";
chomp(my $alice = <$ph> // '');
close $ph;

my @vars = qw(remote_addr remote_port remote_user auth_user request_id site route tls_protocol
	tls_cipher request request_method uri args host scheme http_user_agent http_x_evil
	time_local time_iso8601 upstream_addr termination cache_status limit);
my @numbers = qw(status body_bytes_sent bytes_sent request_length request_time msec
	upstream_connect_time upstream_header_time upstream_response_time upstream_status);
my $json_format = '{' . join(',', (map { "\\\"$_\\\":\\\"\$$_\\\"" } @vars),
			      (map { "\\\"$_\\\":\$$_" } @numbers)) . '}';

my $p = Test::Portico->new(files => { users => "alice:$alice\n" }, conf => <<"EOF")->start;
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
listen https { address = "127.0.0.1:%%PORT:https%%"  tls = true }
upstream app { server "%%BACKEND:a%%" {} }
upstream dead { server "127.0.0.1:%%PORT:dead%%" {} }
cache main { size = "1m" }
limit_req tight { rate = "1r/h" }
log_format all {
	escape = "json"
	format = "$json_format"
}
log_format plain { format = "\$request_id \$status \\"\$http_x_evil\\" \\"\$request\\"" }
log_format raw {
	escape = "none"
	format = "\$request_id \$status \\"\$http_x_evil\\" \$upstream_connect_time"
}
site main {
	listen = {"http", "https"}
	tls { certificate = "$pem"  key = "$key" }
	access_log = "%%TMP%%/combined.log"
	request_id_trusted = {"127.0.0.2/32"}
	log "%%TMP%%/json.log" { format = "all" }
	log "plain.log" { format = "plain" }
	log "%%TMP%%/raw.log" { format = "raw" }
	log "%%TMP%%/errors.log" { format = "plain"  only_errors = true }
	log "%%TMP%%/s4a.log" { format = "plain"  sample = 4 }
	log "%%TMP%%/s4b.log" { format = "all"  sample = 4 }
	log "%%TMP%%/if.log" { format = "plain"  if = "\$arg_log" }
	route "/cached/" { upstream = "app"  cache = "main" }
	route "/limited/" { upstream = "app"  limit_req = "tight" }
	route "/auth/" { upstream = "app"  auth_basic = "Members"  auth_basic_user_file = "users" }
	route "/dead/" { upstream = "dead" }
	route "/" { upstream = "app" }
}
EOF
my $port = $p->port('http');

# The JSON line of the request whose target is $target (the last one).
sub json_line {
	my ($target) = @_;
	my $line = wait_for(sub {
		(grep { index($_, qq{"uri":"$target"}) >= 0 } $p->access_log('json.log'))[-1];
	}, 10);
	return undef unless defined $line;
	my $v = eval { JSON::PP->new->utf8->decode($line) };
	ok($v, "the JSON line for $target parses") or diag("$@: $line");
	return $v;
}

# ---- every variable, in JSON ----

my $r = http_get($port, '/echo?a=1', headers => ['User-Agent' => 'tester/1']);
is($r->{status}, 200, 'a proxied request');
my $seen = JSON::PP->new->decode($r->{body});
my $j = json_line('/echo');
is($j->{status}, 200, '$status is a number');
is($j->{request_method}, 'GET', '$request_method');
is($j->{args}, 'a=1', '$args');
is($j->{request}, 'GET /echo?a=1 HTTP/1.1', '$request');
is($j->{remote_addr}, '127.0.0.1', '$remote_addr');
like($j->{remote_port}, qr/^\d+$/, '$remote_port');
is($j->{scheme}, 'http', '$scheme');
is($j->{site}, 'main', '$site');
is($j->{route}, '/', '$route');
is($j->{http_user_agent}, 'tester/1', '$http_user_agent');
is($j->{http_x_evil}, '', 'an absent field is an empty string in JSON');
is($j->{tls_protocol}, '', '$tls_protocol is empty without TLS');
is($j->{upstream_addr}, $p->backend('a')->address, '$upstream_addr');
is($j->{upstream_status}, 200, '$upstream_status');
is($j->{termination}, '--', '$termination');
like($j->{request_id}, qr/^[0-9a-f]{32}$/, '$request_id: 32 lowercase hex digits');
is($seen->{header}{'x-request-id'}, $j->{request_id}, '... sent upstream in X-Request-ID');
my $echo_line = (grep { m{"uri":"/echo"} } $p->access_log('json.log'))[0] // '';
like($echo_line, qr/"$_":\d+\.\d{3}[,}]/, "\$$_ in seconds with ms, a bare number")
    for qw(request_time upstream_connect_time upstream_header_time upstream_response_time msec);
ok(abs($j->{msec} - time) < 60, '$msec is the time of day');
ok($j->{body_bytes_sent} > 0 && $j->{bytes_sent} > $j->{body_bytes_sent},
   '$body_bytes_sent, and $bytes_sent with the head');
ok($j->{request_length} > 20, '$request_length');
like($j->{time_local}, qr{^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$}, '$time_local');
like($j->{time_iso8601}, qr{^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$}, '$time_iso8601');
is($j->{$_}, '', "\$$_ is empty when nothing set it") for qw(cache_status limit auth_user);

http_get($port, '/dead/x');
$j = json_line('/dead/x');
is($j->{status}, 502, 'an upstream that refuses: 502');
ok(!defined $j->{upstream_connect_time} && !defined $j->{upstream_status},
   'a time not reached and a status not had are null in JSON');

# TLS.
$r = https($p->port('https'), sni => 'a.test', path => '/tls/x');
is($r->{status}, 200, 'a request over TLS');
$j = json_line('/tls/x');
like($j->{tls_protocol}, qr/^TLSv1\.[23]$/, '$tls_protocol');
is($j->{tls_cipher}, $r->{cipher}, '$tls_cipher is the cipher the client has');
is($j->{scheme}, 'https', '$scheme over TLS');

# The cache, a limit, authentication.
http_get($port, '/cached/hdr?Cache-Control=max-age%3D60') for 1 .. 2;
my @cached = @{ wait_for(sub {
	my @l = grep { m{"uri":"/cached/hdr"} } $p->access_log('json.log');
	@l >= 2 ? \@l : undef;
}, 10) // [] };
# Two workers may write the two lines in either order.
my %seen = map { (JSON::PP->new->utf8->decode($_)->{cache_status} // '-') => 1 } @cached;
ok($seen{MISS}, '$cache_status: MISS');
ok($seen{HIT}, '... and HIT') or diag(join "\n", @cached);
http_get($port, '/limited/x') for 1 .. 2;
my @limited = @{ wait_for(sub {
	my @l = grep { m{"uri":"/limited/x"} } $p->access_log('json.log');
	@l >= 2 ? \@l : undef;
}, 10) // [] };
my ($refused) = grep { $_->{status} == 429 } map { JSON::PP->new->utf8->decode($_) } @limited;
is($refused && $refused->{limit}, 'limit_req=tight', '$limit names the limit that refused');
$r = http_get($port, '/auth/x', headers => ['Authorization' => 'Basic YWxpY2U6d29uZGVybGFuZA==']);
is($r->{status}, 200, 'an authenticated request');
$j = json_line('/auth/x');
is($j->{auth_user}, 'alice', '$auth_user');
is($j->{remote_user}, 'alice', '$remote_user');

# ---- escaping, in the three modes ----

my $evil = "a\"b\\c\td \xc3\xa9\xff";
$r = http_get($port, "/esc/caf\xc3\xa9", headers => ['X-Evil' => $evil]);
is($r->{status}, 200, 'a request with a hostile field and raw UTF-8 in its target');
$j = json_line("/esc/caf\xc3\xa9");
my $id = $j ? $j->{request_id} : 'none';
is($j && $j->{http_x_evil}, "a\"b\\c\td \x{e9}\x{ff}",
   'json: quotes, backslashes and tabs escaped, UTF-8 kept, a stray byte as \u00XX');
my $plain = wait_for(sub { (grep { /^$id / } $p->access_log("plain.log"))[0] }, 10);
is($plain, qq{$id 200 "a\\x22b\\x5Cc\\x09d \\xC3\\xA9\\xFF" "GET /esc/caf\\xC3\\xA9 HTTP/1.1"},
   'default: \xHH for quotes, backslashes, control and non-ASCII bytes');
my $raw = wait_for(sub { (grep { /^$id / } $p->access_log("raw.log"))[0] }, 10) // "";
is($raw, qq{$id 200 "$evil" } . ($raw =~ /(\S+)\z/)[0], 'none: the bytes as they came');
like($raw // '', qr/ \d+\.\d{3}\z/, '... a number as it is');

# ---- a line longer than 8 KiB ----

# A field of 6000 quotes is 12000 bytes in JSON, 24000 as \xHH: the value
# is cut, never the line's text nor an escape, so the line still parses and
# keeps what follows the long value, each later value at least 64 bytes.
$r = http_get($port, '/long/ua', headers => ['User-Agent' => '"' x 6000, 'X-Evil' => '"' x 6000]);
is($r->{status}, 200, 'a request with two fields of 6000 quotes');
$j = json_line('/long/ua');
ok($j && $j->{http_user_agent} =~ /\A"+\z/ && length($j->{http_user_agent}) < 6000 &&
   $j->{status} == 200 && $j->{http_x_evil} =~ /\A"{32}\z/ && $j->{upstream_status} == 200,
   'json: the long value is cut, the line is whole, a later value keeps 64 bytes');
$id = $j ? $j->{request_id} : 'none';
$plain = wait_for(sub { (grep { /^$id / } $p->access_log("plain.log"))[0] }, 10) // '';
like($plain, qr{\A$id 200 "(?:\\x22)+" "GET /long/ua HTTP/1\.1"\z},
     'default: the long value cut between two escapes, the line whole');
ok(length($plain) < 8192, '... and under 8 KiB');

# ---- two logs, one combined ----

my $combined = wait_for(sub { (grep { m{"GET /echo\?a=1 } } $p->access_log('combined.log'))[0] }, 10);
like($combined // '', qr{^127\.0\.0\.1 - - \[[^]]+\] "GET /echo\?a=1 HTTP/1\.1" 200 \d+ "-" "tester/1"$},
     'access_log without a format: nginx\'s combined line exactly');

# ---- only_errors, if ----

http_get($port, '/status/404');
http_get($port, '/status/200');
ok(wait_for(sub { grep { m{ 404 "-" "GET /status/404 } } $p->access_log('errors.log') }, 10),
   'only_errors writes a 404');
ok(wait_for(sub { grep { m{"GET /dead/x } } $p->access_log('errors.log') }, 10),
   '... and a 502');
ok(!grep({ m{/status/200|/echo} } $p->access_log('errors.log')), '... and no 200');

http_get($port, "/if/$_") for 'a?log=1', 'b?log=0', 'c';
ok(wait_for(sub { grep { m{"GET /if/a\?log=1 } } $p->access_log('if.log') }, 10),
   'if: written when the value is neither empty nor "0"');
http_get($port, '/if/last?log=yes');
wait_for(sub { grep { m{/if/last} } $p->access_log('if.log') }, 10);
ok(!grep({ m{/if/[bc]} } $p->access_log('if.log')), '... not when it is "0" or empty');

# ---- sample ----

# request_id_hash: FNV-1a 64, then a 64-bit finalizer.
my $M = Math::BigInt->new(2)->bpow(64);
sub id_hash {
	my $h = Math::BigInt->from_hex('cbf29ce484222325');
	for my $c (unpack 'C*', shift) {
		$h->bxor($c);
		$h->bmul(Math::BigInt->from_hex('100000001b3'))->bmod($M);
	}
	$h->bxor($h->copy->brsft(33));
	$h->bmul(Math::BigInt->from_hex('ff51afd7ed558ccd'))->bmod($M);
	$h->bxor($h->copy->brsft(33));
	$h->bmul(Math::BigInt->from_hex('c4ceb9fe1a85ec53'))->bmod($M);
	$h->bxor($h->copy->brsft(33));
	return $h;
}
http_get($port, "/sample/$_") for 1 .. 40;
my @all = @{ wait_for(sub {
	my @l = map { JSON::PP->new->utf8->decode($_)->{request_id} }
		grep { m{"uri":"/sample/} } $p->access_log('json.log');
	@l == 40 ? \@l : undef;
}, 20) // [] };
is(scalar @all, 40, 'every sampled request is in the unsampled log');
my %picked = map { $_ => 1 } grep { id_hash($_)->bmod(4)->is_zero } @all;
my $ids = sub {
	my ($file, $json) = @_;
	my @l = $p->access_log($file);
	my @i = $json ? map { JSON::PP->new->utf8->decode($_)->{request_id} } grep { m{/sample/} } @l
		      : map { (split / /)[0] } grep { m{/sample/} } @l;
	return join ',', sort @i;
};
my $want = join ',', sort keys %picked;
ok(wait_for(sub { $ids->('s4a.log', 0) eq $want && $ids->('s4b.log', 1) eq $want }, 10),
   'sample = 4: both logs have exactly the requests whose id hashes to 0 mod 4')
    or diag("want $want\na    " . $ids->('s4a.log', 0) . "\nb    " . $ids->('s4b.log', 1));
ok(keys(%picked) > 0 && keys(%picked) < 40, '... some of them, not all');

# ---- X-Request-ID ----

$r = http_get($port, '/untrusted/echo', headers => ['X-Request-ID' => 'client-chose-this']);
$seen = JSON::PP->new->decode($r->{body});
like($seen->{header}{'x-request-id'}, qr/^[0-9a-f]{32}$/,
     'an untrusted client\'s X-Request-ID is replaced');
is(json_line('/untrusted/echo')->{request_id}, $seen->{header}{'x-request-id'},
   '... and the log has the one sent upstream');
$r = http_get($port, '/trusted/echo', from => '127.0.0.2',
	      headers => ['X-Request-ID' => 'lb-7f3a:01']);
$seen = JSON::PP->new->decode($r->{body});
is($seen->{header}{'x-request-id'}, 'lb-7f3a:01', 'a trusted client\'s X-Request-ID is kept');
is(json_line('/trusted/echo')->{request_id}, 'lb-7f3a:01', '... and logged');
$r = http_get($port, '/bad/echo', from => '127.0.0.2',
	      headers => ['X-Request-ID' => 'has space']);
$seen = JSON::PP->new->decode($r->{body});
like($seen->{header}{'x-request-id'}, qr/^[0-9a-f]{32}$/,
     '... unless it is not 1-128 visible characters without spaces or quotes');

# The error log names the request id of a failed request.
$j = json_line('/dead/x');
like($p->error_log, qr/connect.*"GET \/dead\/x HTTP\/1\.1", request_id=\Q$j->{request_id}\E$/m,
     'the error log line about a request carries its request_id, the same as its access line');

# ---- a log that cannot be written ----

my $full = Test::Portico->new(conf => <<'EOF')->start;
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:a%%" {} }
site main {
	access_log = "%%TMP%%/access.log"
	log "/dev/full" { }
	route "/" { upstream = "app" }
}
EOF
for my $n (1 .. 3) {
	http_get($full->port('http'), "/full/$n");
	# Written in one flush with the line to /dev/full, or a later one.
	wait_for(sub { grep { m{/full/$n } } $full->access_log }, 10);
}
my @failed = grep { m{write\(\) to the access log "/dev/full" failed} } split /\n/, $full->error_log;
is(scalar @failed, 1, 'a log file that cannot be written is reported once, not once a flush');
like($failed[0] // '', qr/No space left on device/, '... with the reason');

# ---- load errors and -T ----

my $bad = Test::Portico->new;
$bad->write_file('portico.conf', <<'EOF');
listen http { address = "127.0.0.1:1" }
upstream app { server "127.0.0.1:2" {} }
log_format x { format = "$status $nonesuch" }
log_format y { format = "$status"  escape = "yaml" }
site main {
	access_log_format = "nope"
	log "/tmp/x.log" { format = "missing" }
	route "/" { upstream = "app"  cache_key = "$status" }
}
site other {
	hosts = {"other.test"}
	request_id_header = "Content-Length"
	route "/" { upstream = "app" }
}
EOF
my ($rc, undef, $err) = run_portico('-t', '-c', $bad->conf_file);
isnt($rc, 0, 'a bad configuration is refused');
my $f = quotemeta $bad->conf_file;
like($err, qr/$f:3: log_format "x": unknown variable "\$nonesuch"/, 'an unknown variable, at file:line');
like($err, qr/$f:4: log_format "y": escape "yaml" is none of default, json, none/,
     'a bad escape, at file:line');
like($err, qr/$f:6: access_log_format: unknown log format "nope"/, 'an unknown format, at file:line');
like($err, qr/$f:7: format: unknown log format "missing"/, '... in a log section too');
like($err, qr/$f:8: .*"\$status" is known only in log formats/,
     'a log variable where no log is written, at file:line');
like($err, qr/$f:12: request_id_header: "Content-Length" cannot carry the request id: it frames the body/,
     'a request id field that would reframe every request, at file:line');

my $good = Test::Portico->new(conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:app%%" {} }
log_format j { format = "{\"s\":$status,\"u\":\"$uri\"}"  escape = "json" }
site main {
	access_log = "%%TMP%%/a.log"
	access_log_format = "portico"
	request_id_header = "X-Trace"
	request_id_trusted = {"10.0.0.0/8", "::1"}
	log "%%TMP%%/b.log" { format = "j"  only_errors = true  sample = 10  if = "$arg_x" }
	route "/" { upstream = "app" }
}
EOF
my ($rc2, $out, $err2) = run_portico('-T', '-c', $good->conf_file);
is($rc2, 0, 'log options are accepted') or diag($err2);
like($out, qr{^log_format "j" \{\n\tformat = "\{\\"s\\":\$status,\\"u\\":\\"\$uri\\"\}"\n\tescape = "json"\n\}$}m,
     '-T writes the log_format');
like($out, qr{^\tlog "[^"]*/b\.log" \{\n\t\tformat = "j"\n\t\tonly_errors = true\n\t\tsample = 10\n\t\tif = "\$arg_x"\n\t\}$}m,
     '... and the log section');
like($out, qr{^\taccess_log_format = "portico"\n\trequest_id_header = "X-Trace"\n\trequest_id_trusted = \{"10\.0\.0\.0/8", "::1/128"\}$}m,
     '... and the site\'s log options');
dump_reads_back($out);

done_testing();
