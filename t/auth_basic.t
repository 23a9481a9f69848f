#!/usr/bin/perl

# HTTP Basic authentication: a site's auth_basic asks every route for a
# user of its htpasswd file, whose entries the system's tools make here
# (mkpasswd: bcrypt, yescrypt, SHA-512-crypt; openssl passwd: SHA-512 and
# SHA-256-crypt); the right password lets the request through with the
# user as $remote_user and in the access log, anything else is answered
# 401 with WWW-Authenticate and logged; a route may ask its own realm and
# file, or none (auth = off); a reload reads the file again; a verified
# password is remembered in the shared auth cache (the status page counts
# the verifications), never across a change of the file; bad entries are
# errors at file:line; -T writes it all back.

use strict;
use warnings;

use JSON::PP qw(decode_json);
use MIME::Base64 qw(encode_base64);
use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();
plan skip_all => 'no mkpasswd (Debian package whois)'
    unless system('sh', '-c', 'command -v mkpasswd >/dev/null') == 0;

# An entry's hash, as the system's tools make it.
sub mkpasswd {
	my ($password, @how) = @_;
	open my $fh, '-|', 'mkpasswd', @how, $password or die "mkpasswd: $!\n";
	chomp(my $hash = <$fh> // '');
	close $fh;
	length $hash or die "mkpasswd @how made no hash\n";
	return $hash;
}

sub openssl_passwd {
	my ($password, $kind) = @_;
	open my $fh, '-|', 'openssl', 'passwd', $kind, $password or die "openssl: $!\n";
	chomp(my $hash = <$fh> // '');
	close $fh;
	return $hash;
}

my $jose = "jos\xc3\xa9";
my %hash = (
	alice => mkpasswd('wonderland', '-m', 'bcrypt', '-R', '5'),
	bob => mkpasswd('builder', '-m', 'yescrypt'),
	carol => mkpasswd('s3cret', '-m', 'sha512crypt'),
	dave => openssl_passwd('six', '-6'),
	erin => openssl_passwd('five', '-5'),
	# hashed slowly on purpose: bcrypt of cost 10
	slow => mkpasswd('patience', '-m', 'bcrypt', '-R', '10'),
	$jose => mkpasswd("caf\xc3\xa9", '-m', 'yescrypt'),
);

sub users_file {
	my (%h) = @_;
	return "# the members\n\n" . join('', map { "$_:$h{$_}\n" } sort keys %h);
}

my $p = Test::Portico->new(files => {
	users => users_file(%hash),
	team => "# one of its own\nteamer:" . mkpasswd('together', '-m', 'bcrypt', '-R', '5')
	    . ":a comment\n",
}, conf => <<'EOF')->start;
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
site main {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	auth_basic = "Members \"only\""
	auth_basic_user_file = "users"
	set_request_headers = {"X-User: $remote_user"}
	route "/" { upstream = "app" }
	route "/public/" { upstream = "app"  auth = off }
	route "/team/" { upstream = "app"  auth_basic = "Team"  auth_basic_user_file = "team" }
	route "/nocache/" { upstream = "app"  auth_basic_cache_time = "0" }
	route "/status" { status = true  auth = off }
}
EOF
my $port = $p->port('http');
my $app = $p->backend('app');
my $challenge = 'Basic realm="Members \"only\"", charset="UTF-8"';

sub basic { 'Basic ' . encode_base64("$_[0]:$_[1]", '') }

# get(TARGET, user => U, password => P, auth => FIELD VALUE): the response.
sub get {
	my ($target, %o) = @_;
	my @h = defined $o{user} ? (Authorization => basic($o{user}, $o{password}))
	    : defined $o{auth} ? (Authorization => $o{auth}) : ();
	return http($port, target => $target, headers => [@h, @{ $o{headers} // [] }])
	    // { status => 'no answer' };
}

sub status_of { get(@_)->{status} }

# What the backend saw of a request answered by /echo.
sub field {
	my ($r, $name) = @_;
	return undef unless $r->{status} == 200;
	my $seen = decode_json($r->{body});
	my @v = map { $_->[1] } grep { lc $_->[0] eq lc $name } @{ $seen->{headers} };
	return join ', ', @v;
}

sub reached { scalar grep { $_->{target} =~ /^\Q$_[0]\E/ } $app->requests }

sub counter { ($p->status_doc // {})->{auth_basic}{$_[0]} // -1 }

# ---- the challenge ----
my $r = get('/none');
is($r->{status}, 401, 'no Authorization: 401');
is($r->{header}{'www-authenticate'}, $challenge,
   '... with WWW-Authenticate naming the realm, quoted, and UTF-8');
like($r->{body}, qr{<h1>401 Unauthorized</h1>}, '... and portico\'s own page');
is(reached('/none'), 0, '... and the server never saw it');

# ---- the right password, by every kind of hash ----
$r = get('/a/echo', user => 'alice', password => 'wonderland');
is($r->{status}, 200, 'bcrypt ($2b$ from mkpasswd): the right password gets in');
is(field($r, 'X-User'), 'alice', '... $remote_user is the user (set_request_headers)');
is(field($r, 'Authorization'), basic('alice', 'wonderland'),
   '... and Authorization goes on to the server as it came');
is(status_of('/b', user => 'bob', password => 'builder'), 200, 'yescrypt ($y$): right password');
is(status_of('/c', user => 'carol', password => 's3cret'), 200, 'SHA-512-crypt from mkpasswd');
is(status_of('/d', user => 'dave', password => 'six'), 200, 'SHA-512-crypt from openssl passwd');
is(status_of('/e', user => 'erin', password => 'five'), 200, 'SHA-256-crypt ($5$)');
is(status_of('/scheme', auth => 'basic ' . encode_base64('alice:wonderland', '')), 200,
   'the scheme\'s name in any case');
$r = get('/jose/echo', user => $jose, password => "caf\xc3\xa9");
is($r->{status}, 200, 'a UTF-8 user and password, as their bytes');
is(field($r, 'X-User'), 'jos\xc3\xa9', '... $remote_user writes the bytes beyond ASCII \xHH');
ok(wait_for(sub { grep { m{^127\.0\.0\.1 - alice \[.*"GET /a/echo HTTP/1\.1" 200 } }
			$p->access_log }), 'the access log names the user');

# ---- refused ----
$r = get('/wrong', user => 'alice', password => 'Wonderland');
is($r->{status}, 401, 'a wrong password: 401');
is($r->{header}{'www-authenticate'}, $challenge, '... with the challenge');
ok(wait_for(sub { $p->error_log =~ m{\[warn\] .*auth_basic: user "alice" refused: wrong password, client: 127\.0\.0\.1, request: "GET /wrong } }),
   '... logged at warn with the user and the client');
is(scalar(() = $p->error_log =~ m{auth_basic: .*request: "GET /wrong }g), 1, '... once');
is(status_of('/unknown', user => 'mallory', password => 'wonderland'), 401, 'an unknown user: 401');
ok(wait_for(sub { $p->error_log =~ m{auth_basic: user "mallory" refused: unknown user} }),
   '... logged');
is(status_of('/empty', user => 'alice', password => ''), 401, 'an empty password: 401');
is(status_of('/nouser', user => '', password => 'wonderland'), 401, 'an empty user: 401');
for my $bad (['Basic !!!!', 'not base64'],
	     ['Basic ' . encode_base64('alice:wonderland', '') =~ s/=+$//r, 'unpadded base64'],
	     ['Basic YWxpY2U6d29uZGVybGFuZB==', 'base64 with bits after its end'],
	     ['Basic YWxp=2U6', 'padding inside base64'],
	     ['Basic ' . encode_base64('alicewonderland', ''), 'no ":" after the user'],
	     ['Basic ' . encode_base64("alice:wonder\x00land", ''), 'a NUL in the password'],
	     ['Basic ' . encode_base64("ali\x01ce:wonderland", ''), 'a control character'],
	     ['Basic', 'the scheme alone'],
	     ['Basic ', 'the scheme and a space'],
	     ['Bearer ' . encode_base64('alice:wonderland', ''), 'another scheme'],
	     ['Basicx YWxpY2U6d29uZGVybGFuZA==', 'a longer scheme name'],
	     ['Basic ' . encode_base64('alice:' . 'w' x 2000, ''), 'credentials over 1024 bytes'],
	     ['Basic ' . 'A' x 6000, 'base64 over the bound']) {
	my ($value, $what) = @$bad;
	$r = get('/bad', auth => $value);
	is($r->{status}, 401, "$what: 401");
	is($r->{header}{'www-authenticate'}, $challenge, '... with the challenge');
}
is(status_of('/after-bad', user => 'alice', password => 'wonderland'), 200,
   'the worker still serves after all that');
is(reached('/bad') + reached('/wrong') + reached('/unknown') + reached('/empty')
   + reached('/nouser'), 0, 'no refused request reached the server');
is(status_of('/twice', headers => [Authorization => basic('alice', 'wonderland'),
				     Authorization => basic('mallory', 'x')]), 400,
   'two Authorization fields: 400, whatever they say');

# ---- routes ----
$r = get('/public/echo');
is($r->{status}, 200, 'a route with auth = off asks nothing');
is(field($r, 'X-User'), '', '... and $remote_user is empty there');
$r = get('/team/x', user => 'alice', password => 'wonderland');
is($r->{status}, 401, 'a route with its own file: its site\'s users are not its own');
is($r->{header}{'www-authenticate'}, 'Basic realm="Team", charset="UTF-8"',
   '... and it names its own realm');
is(status_of('/team/y', user => 'teamer', password => 'together'), 200,
   '... its own users get in (an entry with a comment after it)');
is(status_of('/y', user => 'teamer', password => 'together'), 401, '... and only there');

# ---- the cache of verified passwords ----
# The second request goes to the other worker: the cache is shared.
my ($wa, $wb) = $p->wait_workers(2);

sub in_worker {
	my ($pid, $target, %o) = @_;
	my $s = $p->socket_on_worker($port, $pid) or return 'no connection';
	my $c = Test::Portico::Client->new($port, sock => $s);
	my $r = $c->get($target, headers => [Authorization => basic($o{user}, $o{password})]);
	$c->close;
	return $r ? $r->{status} : 'no answer';
}

my ($verified, $hits) = (counter('verifications'), counter('cache_hits'));
ok($verified > 0, 'the status page counts verifications');
is(in_worker($wa, '/slow1', user => 'slow', password => 'patience'), 200,
   'a slow (bcrypt cost 10) password, in one worker: right');
is(counter('verifications'), $verified + 1, '... verified once');
is(in_worker($wb, '/slow2', user => 'slow', password => 'patience'), 200,
   'again, in the other worker: right');
is(counter('verifications'), $verified + 1, '... without a second verification');
is(counter('cache_hits'), $hits + 1, '... but from the shared auth cache');
is(status_of('/slow3', user => 'slow', password => 'patiencE'), 401,
   'a wrong password is never taken from the cache');
is(counter('verifications'), $verified + 2, '... it is verified');
is(status_of('/nocache/1', user => 'slow', password => 'patience'), 200,
   'auth_basic_cache_time = 0: right ...');
is(status_of('/nocache/2', user => 'slow', password => 'patience'), 200, '... and again');
is(counter('verifications'), $verified + 4, '... each request verified');

# ---- reload: the file is read again ----
my %next = %hash;
delete $next{bob};
$next{newbie} = mkpasswd('fresh', '-m', 'yescrypt');
$next{slow} = mkpasswd('changed', '-m', 'bcrypt', '-R', '10');
$p->write_file('users', users_file(%next));
ok(scalar($p->reload_and_wait), 'reload with users added, removed and changed');
is(status_of('/new', user => 'newbie', password => 'fresh'), 200, 'a user added gets in');
is(status_of('/gone', user => 'bob', password => 'builder'), 401, 'a user removed is refused');
$verified = counter('verifications');
is(status_of('/old', user => 'slow', password => 'patience'), 401,
   'a changed password: the old one, remembered before, is refused');
is(counter('verifications'), $verified + 1, '... verified against the new hash, not remembered');
is(status_of('/changed', user => 'slow', password => 'changed'), 200, '... the new one gets in');

# A bad file: the reload is refused, and the users stay as they were.
$p->write_file('users', users_file(%next) . "plain:text\n");
my ($rc, $out, $err) = $p->run('-s', 'reload');
isnt($rc, 0, 'a reload with a bad user file is refused');
like($err, qr{\Q${\ $p->tmp}\E/users:\d+: auth_basic_user_file: user "plain": not a password hash},
     '... saying where and why');
is(status_of('/kept', user => 'newbie', password => 'fresh'), 200, '... and the users stay');
$p->write_file('users', users_file(%next));

# ---- -T ----
($rc, $out, $err) = $p->run('-T');
is($rc, 0, '-T: accepted') or diag($err);
my $tmp = $p->tmp;
like($out, qr{^\tauth_basic = "Members \\"only\\""\n\tauth_basic_user_file = "\Q$tmp\E/users"\n\tauth_basic_cache_time = "1m"$}m,
     '-T writes the site\'s realm, its file (absolute) and the cache time');
like($out, qr{^\t\tauth_basic = "Team"\n\t\tauth_basic_user_file = "\Q$tmp\E/team"$}m,
     '... a route\'s own');
like($out, qr{^\t\tauth_basic_cache_time = "0"$}m, '... and a cache time of 0');
unlike($out =~ s/.*route "\/public\/" \{(.*?)\}.*/$1/sr, qr/auth_basic/,
       '... and nothing of it on a route with auth = off');
dump_reads_back($out);

# ---- mistakes ----
my $bad = Test::Portico->new(files => {
	'bad.users' => join('', "# comments and blank lines are fine\n\n",
	    "plain:secret\n",
	    "des:" . mkpasswd('secret', '-m', 'descrypt') . "\n",
	    "md5:" . mkpasswd('secret', '-m', 'md5crypt') . "\n",
	    "apr:" . openssl_passwd('secret', '-apr1') . "\n",
	    "alice:$hash{alice}\n",
	    "nocolon\n",
	    "alice:$hash{bob}\n"),
}, conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:none%%" {} }
site s {
	auth_basic = "s"
	auth_basic_user_file = "bad.users"
	route "/" { upstream = "app" }
	route "/a/" { upstream = "app"  auth = off  auth_basic = "a" }
	route "/m/" { upstream = "app"  auth_basic_user_file = "missing.users" }
	route "/o/" { upstream = "app"  auth_basic = "off"  auth_basic_cache_time = "5s" }
}
site t {
	hosts = {"t.test"}
	auth_basic = "no file"
	auth_basic_cache_time = "soon"
	route "/" { upstream = "app" }
}
site u {
	hosts = {"u.test"}
	auth_basic_user_file = "users"
	route "/" { upstream = "app" }
}
EOF
($rc, $out, $err) = $bad->run('-t');
isnt($rc, 0, 'bad entries and options: refused');
$tmp = $bad->tmp;
my %want = (
	3 => 'user "plain": not a password hash \(a password in plain text\?\)',
	4 => 'user "des": a DES-crypt hash, too weak to accept',
	5 => 'user "md5": an MD5-crypt hash, too weak to accept',
	6 => 'user "apr": an Apache MD5 \(apr1\) hash, too weak to accept',
	8 => 'no ":" between a user and a password hash',
	9 => 'user "alice" is named twice \(first at line 7\)',
);
for my $line (sort keys %want) {
	like($err, qr{^portico: \Q$tmp\E/bad\.users:$line: auth_basic_user_file: $want{$line}}m,
	     "bad.users:$line: $want{$line}" =~ s/\\//gr);
}
like($err, qr{^portico: \Q$tmp\E/portico\.conf:7: route "/a/": auth_basic has no use with auth = off$}m,
     'an auth_basic option on a route with auth = off: at its line');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:8: auth_basic_user_file "\Q$tmp\E/missing\.users": No such file or directory$}m,
     'a file that cannot be read: at the option\'s line');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:9: route "/o/": auth_basic_cache_time has no use with auth_basic = "off"$}m,
     'a cache time where auth_basic is off');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:13: auth_basic "no file" needs auth_basic_user_file}m,
     'a realm without users');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:14: auth_basic_cache_time: bad duration "soon"}m,
     'a bad cache time');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:19: auth_basic_user_file without auth_basic}m,
     'users without a realm, which would ask nothing');

# A cache time where the auth zone keeps nothing would never be obeyed.
my $nozone = Test::Portico->new(files => { users => users_file(alice => $hash{alice}) },
				conf => <<'EOF');
auth_cache_size = 0
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:1" {} }
site s {
	auth_basic = "x"
	auth_basic_user_file = "users"
	route "/" { upstream = "app" }
	route "/r/" { upstream = "app"  auth_basic_cache_time = "30s" }
}
EOF
($rc, $out, $err) = $nozone->run('-t');
like($err, qr{portico\.conf:8: auth_basic_cache_time: decisions are kept in the auth zone, and auth_cache_size is 0},
     'a cache time written where auth_cache_size is 0: an error at its line');
unlike($err, qr{portico\.conf:[1-7]:}, '... and the default cache time is none');

done_testing;
