#!/usr/bin/perl

# auth_jwt: JWT bearer tokens made here with the openssl command line,
# with keys made here too (RSA, EC P-256 and P-384, Ed25519, HMAC
# secrets), from PEM files and from JWK sets written from the public
# keys. Every algorithm lets a good token in; a bad signature, an expired
# token, one not yet valid, another issuer or audience, alg "none", an
# HMAC token signed with an RSA public key as its secret, an unknown kid
# and malformed tokens are all answered 401 with the RFC 6750 challenge;
# the claims go upstream as fields (the client's own never pass), sub is
# $remote_user; a route with auth = off is open; the HTTP cache shares a
# token's answer only when it is marked shareable; a reload reads the
# keys again; mistakes are named by file:line; -T writes it all back.

use strict;
use warnings;

use File::Temp qw(tempdir);
use MIME::Base64 qw(encode_base64);
use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();
plan skip_all => 'no openssl command' unless `openssl version 2>/dev/null` =~ /^OpenSSL 3/;

my $keys = tempdir(CLEANUP => 1);

sub openssl {
	my @args = @_;
	system('openssl', @args) == 0 or die "openssl @args: failed\n";
}

sub slurp {
	open my $fh, '<:raw', $_[0] or die "$_[0]: $!\n";
	local $/;
	return scalar <$fh>;
}

sub spew {
	open my $fh, '>:raw', $_[0] or die "$_[0]: $!\n";
	print $fh $_[1];
	close $fh;
}

sub b64url { my $s = encode_base64($_[0], ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }

# A private key of NAME (and NAME.pub, its public key) made by genpkey.
sub genkey {
	my ($name, @opts) = @_;
	openssl('genpkey', @opts, '-out', "$keys/$name.key");
	openssl('pkey', '-in', "$keys/$name.key", '-pubout', '-out', "$keys/$name.pub");
	return "$keys/$name";
}

genkey('rsa', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048');
genkey('rsa2', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048');
genkey('ec256', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256');
genkey('ec256b', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256');
genkey('ec384', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384');
genkey('ed', '-algorithm', 'ED25519');
genkey('small', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024');
genkey('p521', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521');
my $secret = join '', map { chr(32 + ($_ * 7) % 90) } 1 .. 64;	# HS512 needs 64 bytes
spew("$keys/hs.secret", $secret);

# ---- JWK sets from the public keys ----

sub bytes_of_hex { my $h = $_[0]; $h =~ s/[^0-9a-f]//gi; pack 'H*', $h }

sub rsa_jwk {
	my ($name, $kid) = @_;
	my $text = `openssl rsa -pubin -in $keys/$name.pub -noout -text 2>/dev/null`;
	my ($mod) = $text =~ /Modulus:\s*\n((?:\s+[0-9a-f:]+\n)+)/ or die "no modulus\n";
	my ($e) = $text =~ /Exponent: (\d+)/ or die "no exponent\n";
	my $n = bytes_of_hex($mod) =~ s/^\0+//r;
	my $eb = pack('N', $e) =~ s/^\0+//r;
	return sprintf '{"kty":"RSA","kid":"%s","use":"sig","n":"%s","e":"%s"}', $kid,
	    b64url($n), b64url($eb);
}

sub ec_jwk {
	my ($name, $kid, $crv, $len) = @_;
	my $text = `openssl pkey -pubin -in $keys/$name.pub -noout -text 2>/dev/null`;
	my ($pub) = $text =~ /pub:\s*\n((?:\s+[0-9a-f:]+\n)+)/ or die "no point\n";
	my $point = bytes_of_hex($pub);
	die "not an uncompressed point\n" unless substr($point, 0, 1) eq "\x04";
	return sprintf '{"kty":"EC","kid":"%s","crv":"%s","alg":"ES%d","x":"%s","y":"%s"}', $kid,
	    $crv, $len * 8, b64url(substr($point, 1, $len)), b64url(substr($point, 1 + $len, $len));
}

sub jwks { '{"keys":[' . join(",\n", @_) . "]}\n" }

# ---- tokens ----

# The DER signature of ECDSA as JWS has it: r and s, each $len bytes.
sub ecdsa_raw {
	my ($der, $len) = @_;
	my @int;
	my $p = 2;				# SEQUENCE, its length (short form)
	for (1 .. 2) {
		my $l = ord substr($der, $p + 1, 1);
		push @int, substr($der, $p + 2, $l);
		$p += 2 + $l;
	}
	return join '', map { my $v = s/^\0+//r; ("\0" x ($len - length $v)) . $v } @int;
}

my $n = 0;
# sign(ALG, KEYNAME, SIGNING INPUT): the signature, made by openssl.
sub sign {
	my ($alg, $key, $input) = @_;
	my ($in, $out) = ("$keys/in." . ++$n, "$keys/sig.$n");
	spew($in, $input);
	my ($bits) = $alg =~ /(\d+)$/;
	if ($alg =~ /^HS/) {
		my $hex = unpack 'H*', $key;
		openssl('dgst', "-sha$bits", '-mac', 'HMAC', '-macopt', "hexkey:$hex", '-binary',
			'-out', $out, $in);
	} elsif ($alg =~ /^RS/) {
		openssl('dgst', "-sha$bits", '-sign', "$keys/$key.key", '-out', $out, $in);
	} elsif ($alg =~ /^PS/) {
		openssl('dgst', "-sha$bits", '-sign', "$keys/$key.key", '-sigopt',
			'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest', '-sigopt',
			"rsa_mgf1_md:sha$bits", '-out', $out, $in);
	} elsif ($alg =~ /^ES/) {
		openssl('dgst', "-sha$bits", '-sign', "$keys/$key.key", '-out', $out, $in);
		return ecdsa_raw(slurp($out), $bits == 256 ? 32 : 48);
	} else {
		openssl('pkeyutl', '-sign', '-rawin', '-inkey', "$keys/$key.key", '-in', $in,
			'-out', $out);
	}
	return slurp($out);
}

# jwt(ALG, KEY, CLAIMS JSON, HEADER JSON members): a signed token.
sub jwt {
	my ($alg, $key, $claims, $extra) = @_;
	my $header = qq({"alg":"$alg","typ":"JWT") . ($extra ? ",$extra" : '') . '}';
	my $input = b64url($header) . '.' . b64url($claims);
	return "$input." . b64url(sign($alg, $key, $input));
}

my $now = time;
my $later = $now + 3600;
sub claims { my ($sub, $more) = @_; qq({"sub":"$sub","exp":$later) . ($more ? ",$more" : '') . '}' }

# ---- portico ----

my %files = (
	'rsa.pub' => slurp("$keys/rsa.pub"),
	'ec384.pub' => slurp("$keys/ec384.pub"),
	'ed.pub' => slurp("$keys/ed.pub"),
	'jwks.json' => jwks(rsa_jwk('rsa2', 'rsa2'), ec_jwk('ec256', 'ec1', 'P-256', 32)),
	'hs.secret' => $secret,
);
my $p = Test::Portico->new(files => \%files, conf => <<'EOF')->start;
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
cache main { size = "4m" }
site rsaonly {
	hosts = {"rsaonly.test"}
	auth_jwt = "rsa only"
	auth_jwt_key_file = {"rsa.pub"}
	route "/" { upstream = "app" }
}
site main {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	auth_jwt = "api"
	auth_jwt_key_file = {"rsa.pub", "ec384.pub", "ed.pub", "jwks.json"}
	auth_jwt_secret_file = {"hs.secret"}
	auth_jwt_claim_headers = {"sub X-User", "email X-Email"}
	route "/" { upstream = "app"  set_request_headers = {"X-Remote-User: $remote_user"} }
	route "/public/" { upstream = "app"  auth = off }
	route "/idp/" {
		upstream = "app"
		auth_jwt_issuer = {"https://idp.test", "https://other.test"}
		auth_jwt_audience = {"api"}
	}
	route "/leeway/" { upstream = "app"  auth_jwt_leeway = "60s" }
	route "/cookie/" { upstream = "app"  auth_jwt_token = "$cookie_token" }
	route "/stored/" { upstream = "app"  auth_jwt_token = "$cookie_token"  cache = "main" }
	route "/nojwt/" { upstream = "app"  auth_jwt = "off" }
	route "/nocache/" { upstream = "app"  auth_jwt_cache_time = "0" }
	route "/status" { status = true  auth = off }
}
EOF
my $port = $p->port('http');
my $app = $p->backend('app');

# get(TARGET, TOKEN, headers...): the response, the token as a Bearer.
sub get {
	my ($target, $token, @h) = @_;
	return http_get($port, $target, host => 'main.test',
			headers => [defined $token ? (Authorization => "Bearer $token") : (), @h]);
}

sub reached {
	my ($target) = @_;
	my ($r) = grep { $_->{target} eq $target } $app->requests;
	return $r;
}

my $challenge = 'Bearer realm="api", error="invalid_token"';

# refused(TARGET, TOKEN, WHY, WHAT): 401 with the challenge, never
# upstream, and the error log's reason.
sub refused {
	my ($target, $token, $why, $what, @h) = @_;
	my $r = get($target, $token, @h);
	is($r && $r->{status}, 401, "$what: 401");
	is($r && $r->{header}{'www-authenticate'}, $challenge, '... with error="invalid_token"');
	ok(wait_for(sub { $p->error_log =~ m{"GET \Q$target\E HTTP/1\.1".*refused by auth_jwt=$why}
			    || $p->error_log =~ m{refused by auth_jwt=$why.*\Q$target\E} }),
	   "... and the error log says $why");
	ok(!reached($target), '... and it never reached the server');
}

# ---- every algorithm ----
my $i = 0;
for my $t (['HS256', $secret], ['HS384', $secret], ['HS512', $secret], ['RS256', 'rsa'],
	   ['RS384', 'rsa'], ['RS512', 'rsa'], ['PS256', 'rsa'], ['ES384', 'ec384'],
	   ['EdDSA', 'ed'], ['RS256', 'rsa2', '"kid":"rsa2"'], ['ES256', 'ec256', '"kid":"ec1"']) {
	my ($alg, $key, $extra) = @$t;
	my $target = '/alg/' . ++$i;
	my $r = get($target, jwt($alg, $key, claims("user$i"), $extra));
	is($r && $r->{status}, 200, "$alg" . ($extra ? " ($extra, from the JWK set)" : '')
	   . ': a good token gets in');
	my $up = reached($target);
	is($up && $up->{header}{'x-user'}, "user$i", '... and its sub goes up as X-User');
}

# ---- what is refused ----
my $r = get('/none-sent');
is($r->{status}, 401, 'no token: 401');
is($r->{header}{'www-authenticate'}, 'Bearer realm="api"', '... with no error (RFC 6750 3.1)');
ok(wait_for(sub { $p->error_log =~ /refused by auth_jwt=no_token/ }),
   '... and the error log says no_token');
$r = get('/basic-sent', undef, Authorization => 'Basic YWxpY2U6c2VjcmV0');
is($r->{status}, 401, 'another scheme is no token: 401');

my $good = jwt('RS256', 'rsa', claims('alice'));
my $bad = $good =~ s/(.)$/$1 eq 'A' ? 'Q' : 'A'/er;
refused('/bad-sig', $bad, 'bad_signature', 'a changed signature');
refused('/other-key', jwt('RS256', 'rsa2', claims('alice')) , 'bad_signature',
	'a token signed by a key of the JWK set, without its kid');
refused('/expired', jwt('ES384', 'ec384', qq({"sub":"a","exp":@{[$now - 30]}})), 'expired',
	'an expired token');
refused('/early', jwt('ES384', 'ec384', qq({"sub":"a","nbf":@{[$now + 3600]}})),
	'not_yet_valid', 'a token not valid yet');
is(get('/leeway/late', jwt('ES384', 'ec384', qq({"sub":"a","exp":@{[$now - 30]}})))->{status},
   200, 'expired 30 s ago, within a leeway of 60 s: 200');
is(get('/leeway/early', jwt('ES384', 'ec384', qq({"sub":"a","nbf":@{[$now + 30]}})))->{status},
   200, 'valid in 30 s, within the leeway: 200');
refused('/leeway/too-late', jwt('ES384', 'ec384', qq({"sub":"a","exp":@{[$now - 600]}})),
	'expired', 'expired beyond the leeway');
refused('/idp/iss', jwt('EdDSA', 'ed', claims('a', '"iss":"https://evil.test","aud":"api"')),
	'bad_issuer', 'another issuer');
refused('/idp/aud', jwt('EdDSA', 'ed', claims('a', '"iss":"https://idp.test","aud":"web"')),
	'bad_audience', 'another audience');
refused('/idp/no-iss', jwt('EdDSA', 'ed', claims('a', '"aud":"api"')), 'bad_issuer',
	'no issuer where one is asked');
is(get('/idp/ok', jwt('EdDSA', 'ed', claims('a', '"iss":"https://other.test","aud":["x","api"]'))
   )->{status}, 200, 'an issuer of the list and an aud array naming the audience: 200');

my $claims = b64url(claims('root'));
refused('/alg-none', b64url('{"alg":"none","typ":"JWT"}') . ".$claims.", 'alg_none', 'alg none');
refused('/alg-none-case', b64url('{"alg":"NONE"}') . ".$claims." . b64url('x'), 'alg_none',
	'alg NONE with a signature');
# The classic confusion: an HS256 token whose "secret" is the RSA public
# key's PEM text, which a naive verifier would take from the key file.
my $confused = do {
	my $input = b64url('{"alg":"HS256","typ":"JWT"}') . ".$claims";
	"$input." . b64url(sign('HS256', slurp("$keys/rsa.pub"), $input));
};
refused('/confusion', $confused, 'bad_signature',
	'HS256 signed with the RSA public key as its secret');
$r = http_get($port, '/confusion-rsaonly', host => 'rsaonly.test',
	      headers => [Authorization => "Bearer $confused"]);
is($r->{status}, 401, '... where only the RSA key is: 401');
is($r->{header}{'www-authenticate'}, 'Bearer realm="rsa only", error="invalid_token"',
   '... with that site\'s realm');
ok(wait_for(sub { $p->error_log =~ /refused by auth_jwt=no_key/ }),
   '... and no key: a public key is never an HMAC secret');
refused('/unknown-kid', jwt('ES256', 'ec256', claims('a'), '"kid":"nope"'), 'no_key',
	'a kid naming no key');
refused('/bad-b64', 'eyJhbGciOiJIUzI1NiJ9!.e30.c2ln', 'malformed', 'a token that is not base64url');
refused('/bad-json', b64url('{alg:"HS256"}') . ".$claims.c2ln", 'bad_json',
	'a header that is not JSON');
refused('/two-parts', b64url('{"alg":"HS256"}') . ".$claims", 'malformed', 'two parts');
refused('/crit', jwt('HS256', $secret, claims('a'), '"crit":["exp"]'), 'crit',
	'a crit header');

# ---- claims as fields, the user ----
get('/claims/1', jwt('HS256', $secret, claims('alice', '"email":"alice@example.test"')),
    'X-User' => 'mallory', 'x-email' => 'forged@example.test');
my $up = reached('/claims/1');
is_deeply([map { $_->[1] } grep { lc $_->[0] eq 'x-user' } @{ $up->{headers} }], ['alice'],
	  'the client\'s X-User never passes: only the claim\'s');
is($up->{header}{'x-email'}, 'alice@example.test', '... and email goes up as X-Email');
is($up->{header}{'x-remote-user'}, 'alice', '$remote_user is the sub');
get('/claims/2', jwt('HS256', $secret, claims('bob')), 'X-Email' => 'forged@example.test');
$up = reached('/claims/2');
ok($up && !exists $up->{header}{'x-email'},
   'a client\'s field of a claim the token lacks is dropped too');
get('/claims/3', jwt('HS256', $secret, '{"sub":"has space"}'));
$up = reached('/claims/3');
is($up && $up->{header}{'x-remote-user'}, undef, 'a sub with a space is no user');
ok(wait_for(sub { grep { m{^127\.0\.0\.1 - alice \[.*"GET /claims/1 HTTP/1\.1" 200} }
			$p->access_log }), 'the access log names the user');
ok(wait_for(sub { grep { m{"GET /expired HTTP/1\.1" 401 .* auth_jwt=expired [0-9a-f]{32}$} } $p->access_log }),
   '... and the reason of a refusal');

# ---- a cookie, a public route ----
$r = http_get($port, '/cookie/x', host => 'main.test',
	      headers => [Cookie => 'a=b; token=' . jwt('RS512', 'rsa', claims('carol'))]);
is($r->{status}, 200, 'auth_jwt_token = "$cookie_token": the cookie\'s token gets in');
is(reached('/cookie/x')->{header}{'x-user'}, 'carol', '... as its sub');
is(get('/cookie/y', $good)->{status}, 401, '... and Authorization is not read there');
is(get('/public/x')->{status}, 200, 'a route with auth = off: open without a token');
is(get('/nojwt/x')->{status}, 200, 'a route with auth_jwt = "off": open too');
for my $path ('/public/forged', '/nojwt/forged') {
	get($path, undef, 'X-User' => 'admin');
	ok(reached($path) && !exists reached($path)->{header}{'x-user'},
	   "$path: a client's X-User is dropped where no token is asked too");
}
$r = get('/twice', undef, Authorization => "Bearer $good",
	 Authorization => 'Bearer ' . jwt('HS256', $secret, claims('admin')));
is($r->{status}, 400, 'two Authorization fields: 400, neither verified');
ok(!reached('/twice'), '... and nothing reached the server');

# ---- the HTTP cache: a token in a cookie counts as Authorization ----
my $mine = '/stored/hdr?Cache-Control=max-age%3D60';
my @as = map { http_get($port, $mine, host => 'main.test',
			headers => [Cookie => 'token=' . jwt('RS512', 'rsa', claims($_))]) } qw(carol dave);
is($as[0]{status}, 200, 'a cached route with the token in a cookie answers');
like($as[0]{header}{'cache-status'}, qr/detail=authorization/,
     '... an answer with max-age alone is not stored');
isnt($as[1]{body}, $as[0]{body}, '... the next user gets one of his own');
is(scalar(grep { $_->{target} eq $mine } $app->requests), 2, '... from the server');

# ---- the signature cache ----
# A token verified in one worker is known good in the other: only its
# header and claims are checked there. It is known good only under the
# keys it was verified with.
sub counter { ($p->status_doc // {})->{auth_jwt}{$_[0]} // -1 }
sub in_worker {
	my ($pid, $target, $token) = @_;
	my $s = $p->socket_on_worker($port, $pid) or return 'no connection';
	my $c = Test::Portico::Client->new($port, sock => $s);
	my $r = $c->get($target, host => 'main.test', headers => [Authorization => "Bearer $token"]);
	$c->close;
	return $r ? $r->{status} : 'no answer';
}
my ($wa, $wb) = $p->wait_workers(2);
my $kept = jwt('ES384', 'ec384', claims('kept'));
my ($verified, $hits) = (counter('verifications'), counter('cache_hits'));
ok($verified > 0, 'the status page counts verifications');
is(in_worker($wa, '/cache/1', $kept), 200, 'a token, in one worker: 200');
is(counter('verifications'), $verified + 1, '... its signature verified');
is(in_worker($wb, '/cache/2', $kept), 200, 'the same token in the other worker: 200');
is(counter('verifications'), $verified + 1, '... without verifying its signature again');
is(counter('cache_hits'), $hits + 1, '... known good from the shared auth cache');
is(reached('/cache/2') && reached('/cache/2')->{header}{'x-user'}, 'kept',
   '... its claims still read and sent');
refused('/idp/kept', $kept, 'bad_issuer', 'a token known good, on a route that asks an issuer');
is(http_get($port, '/cache/3', host => 'rsaonly.test',
	    headers => [Authorization => "Bearer $kept"])->{status}, 401,
   'a token known good under one site\'s keys, on a site with other keys: 401');
($verified, $hits) = (counter('verifications'), counter('cache_hits'));
is(get('/nocache/1', $kept)->{status}, 200, 'auth_jwt_cache_time = 0: 200 ...');
is(get('/nocache/2', $kept)->{status}, 200, '... and again');
is(counter('verifications'), $verified + 2, '... each request verified');
is(counter('cache_hits'), $hits, '... none from the cache');

# ---- -T ----
my ($rc, $out, $err) = $p->run('-T');
is($rc, 0, '-T: accepted') or diag($err);
like($out, qr{^\tauth_jwt_key_file = \{"\Q${\ $p->tmp}\E/rsa\.pub", }m,
     '-T writes the key files (made absolute)');
like($out, qr{^\t\tauth_jwt_token = "\$cookie_token"$}m, '-T writes a route\'s token');
like($out, qr{^\t\tauth_jwt = "off"$}m, '-T writes a route\'s auth_jwt = "off"');
like($out, qr{^\tauth_jwt_claim_headers = \{"sub X-User", "email X-Email"\}$}m,
     '-T writes the claims sent as fields');
unlike($out, qr!route "/public/" \{[^}]*auth_jwt!s, '... and nothing of JWT on a route with auth = off');
dump_reads_back($out);

# ---- reload ----
my $old = jwt('ES256', 'ec256', claims('a'), '"kid":"ec1"');
is(get('/reload/before', $old)->{status}, 200, 'before a reload, a token of a key: 200');
$p->write_file('jwks.json', jwks(ec_jwk('ec256b', 'ec2', 'P-256', 32)));
ok(scalar($p->reload_and_wait), 'reload with another JWK set without that key');
is(get('/reload/new', jwt('ES256', 'ec256b', claims('a'), '"kid":"ec2"'))->{status}, 200,
   'a reload reads the keys again: a new key works');
is(get('/reload/old', $old)->{status}, 401,
   '... and the token of the removed key is refused, though it was known good before');
$verified = counter('verifications');
is(get('/reload/kept', $kept)->{status}, 200, 'a token of a key the reload kept: 200');
is(counter('verifications'), $verified + 1, '... verified anew with the keys read again');
$p->stop;

# ---- mistakes ----
my $badconf = Test::Portico->new(files => {
	'bad.json' => qq({"keys":[\n  {"kty":"EC","crv":"P-256","x":"AA","y":"AA"}\n]}\n),
	'broken.json' => qq({"keys":[\n  {"kty":"RSA",\n   "n":"AQAB" "e":"AQAB"}]}\n),
	'small.pub' => slurp("$keys/small.pub"),
	'p521.pub' => slurp("$keys/p521.pub"),
	'rsa.key' => slurp("$keys/rsa.key"),
	'short.secret' => 'too short',
	'oct.json' => '{"keys":[{"kty":"oct","k":"' . b64url('k' x 40) . '"}]}',
	'rsa.pub' => slurp("$keys/rsa.pub"),
}, conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:none%%" {} }
site s {
	auth_jwt_key_file = {"p521.pub", "rsa.key", "oct.json"}
	auth_jwt_secret_file = {"short.secret"}
	auth_jwt_claim_headers = {"sub", "sub Content-Length", "sub X_User"}
	route "/" { upstream = "app"  auth = off  auth_jwt = "x" }
	route "/a/" { upstream = "app"  auth_jwt = "bad \" realm" }
}
site t {
	hosts = {"t.test"}
	auth_jwt = "nokeys"
	route "/" { upstream = "app" }
}
site u {
	hosts = {"u.test"}
	auth_jwt_key_file = {"rsa.pub"}
	route "/" { upstream = "app" }
}
EOF
($rc, $out, $err) = $badconf->run('-t');
isnt($rc, 0, 'bad JWT options: refused');
my $tmp = $badconf->tmp;
like($err, qr{^portico: \Q$tmp\E/p521\.pub:1: auth_jwt_key_file: an EC key on curve secp521r1: P-256 and P-384 only$}m,
     'an unsupported key: at its line in its file');
like($err, qr{^portico: \Q$tmp\E/rsa\.key:1: auth_jwt_key_file: a private key}m,
     'a private key: at its line in its file');
like($err, qr{^portico: \Q$tmp\E/oct\.json:1: auth_jwt_key_file: a secret \("oct"\) key}m,
     'a secret in a public key file: refused');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:5: auth_jwt_secret_file: "\Q$tmp\E/short\.secret": a secret of 9 bytes: 32 at least}m,
     'a short secret: refused');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:6: auth_jwt_claim_headers: "sub" is not}m,
     'a claim without a field name');
like($err, qr{"sub Content-Length" is not}, 'a field that frames the request');
like($err, qr{"sub X_User" is not}, 'a field name with "_"');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:7: route "/": auth_jwt on a route with auth = off}m,
     'auth_jwt on a route with auth = off');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:8: auth_jwt: "bad \\?" realm"}m, 'a realm with a quote');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:12: auth_jwt "nokeys" has no key}m,
     'a realm without keys');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:17: auth_jwt_key_file without auth_jwt}m,
     'keys without a realm, which would ask nothing');

$badconf->write_file('portico.conf', <<"EOF");
listen http { address = "127.0.0.1:1" }
upstream app { server "127.0.0.1:1" {} }
site s {
	auth_jwt = "x"
	auth_jwt_key_file = {"missing.pem", "bad.json", "broken.json", "small.pub"}
	route "/" { upstream = "app" }
}
EOF
($rc, $out, $err) = $badconf->run('-t');
isnt($rc, 0, 'bad key files: refused');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:5: auth_jwt_key_file: "\Q$tmp\E/missing\.pem": cannot open: No such file or directory$}m,
     'a missing file: at the option\'s line');
like($err, qr{^portico: \Q$tmp\E/bad\.json:2: auth_jwt_key_file: its x and y must be 32 bytes each$}m,
     'a bad key of a JWK set: at its line in the file');
like($err, qr{^portico: \Q$tmp\E/broken\.json:3: auth_jwt_key_file: not a JWK set: an object not closed}m,
     'a JWK set that is not JSON: at the line of the mistake');
like($err, qr{^portico: \Q$tmp\E/small\.pub:1: auth_jwt_key_file: an RSA key of 1024 bits: 2048 at least$}m,
     'an RSA key too small');

done_testing;
