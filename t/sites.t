#!/usr/bin/perl

# Sites by Host, with nginx's patterns and precedence: exact names, the
# longest leading wildcard, the longest trailing wildcard, the first
# regex in file order, "*", then the listener's default_site (by default
# its first site); case, a trailing dot and the port ignored. Over TLS,
# SNI picks the site, and so the certificate, by the same rules, and a
# Host of another site is still answered 421. Clashing patterns and a bad
# default_site are refused at file:line; -T writes patterns as written.
# Each site has its own backend, whose /name answer says which site
# answered.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Test::Portico::TLS qw(https);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $dir = File::Temp::tempdir('portico-sites-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my $pki = Test::Portico::TLS->new($dir);
my ($a_pem, $a_key) = $pki->cert('a.test');
my ($w_pem, $w_key) = $pki->cert('*.w.test');
my ($r_pem, $r_key) = $pki->cert('api1.r.test', cn => 'api regex');
chmod 0600, glob("$dir/*.key");

my @sites = qw(exact lead_short lead_long trail_short trail_long re_first re_second any
    one fb first second ta tw tr);
my $upstreams = join '', map { qq(upstream $_ { server "%%BACKEND:$_%%" {} }\n) } @sites;

my $conf = <<"EOF";
listen http { address = "127.0.0.1:%%PORT:http%%" }
listen dflt { address = "127.0.0.1:%%PORT:dflt%%"  default_site = "fb" }
listen plain { address = "127.0.0.1:%%PORT:plain%%" }
listen https { address = "127.0.0.1:%%PORT:https%%"  tls = true  default_site = "tw" }
$upstreams
site re_first { listen = {"http"}  hosts = {"~ ^API\\\\d+\\\\."}  route "/" { upstream = "re_first" } }
site exact { listen = {"http"}  hosts = {"WWW.Example.test"}  route "/" { upstream = "exact" } }
site lead_short { listen = {"http"}  hosts = {"*.example.test"}  route "/" { upstream = "lead_short" } }
site lead_long { listen = {"http"}  hosts = {"*.b.example.test"}  route "/" { upstream = "lead_long" } }
site trail_short { listen = {"http"}  hosts = {"www.example.*"}  route "/" { upstream = "trail_short" } }
site trail_long { listen = {"http"}  hosts = {"www.example.co.*"}  route "/" { upstream = "trail_long" } }
site re_second { listen = {"http"}  hosts = {"~ \\\\.other\\\\.test\$", "~ ^api"}  route "/" { upstream = "re_second" } }
site any { listen = {"http"}  hosts = {"*"}  route "/" { upstream = "any" } }
site one { listen = {"dflt"}  hosts = {"one.test"}  route "/" { upstream = "one" } }
site fb { listen = {"dflt"}  hosts = {"fb.test"}  route "/" { upstream = "fb" } }
site first { listen = {"plain"}  hosts = {"first.test"}  route "/" { upstream = "first" } }
site second { listen = {"plain"}  hosts = {"second.test", "[::1]"}  route "/" { upstream = "second" } }
site ta {
	listen = {"https"}
	hosts = {"a.test"}
	tls { certificate = "$a_pem"  key = "$a_key" }
	route "/" { upstream = "ta" }
}
site tw {
	listen = {"https"}
	hosts = {"*.w.test"}
	tls { certificate = "$w_pem"  key = "$w_key" }
	route "/" { upstream = "tw" }
}
site tr {
	listen = {"https"}
	hosts = {"~ ^api\\\\d+\\\\.r\\\\.test\$"}
	tls { certificate = "$r_pem"  key = "$r_key" }
	route "/" { upstream = "tr" }
}
EOF
my $p = Test::Portico->new(conf => $conf)->start;

# The site that answered $host on listener $listen, as "STATUS NAME".
sub site_of {
	my ($listen, $host) = @_;
	my $r = http_get($p->port($listen), '/name', host => $host);
	return $r ? "$r->{status} $r->{body}" : 'no response';
}

# ---- precedence ----

is(site_of('http', 'www.example.test'), '200 exact', 'an exact name');
is(site_of('http', 'a.b.example.test'), '200 lead_long',
    'the longest leading wildcard (*.b.example.test over *.example.test)');
is(site_of('http', 'x.y.b.example.test'), '200 lead_long', '... however many labels before it');
is(site_of('http', 'b.example.test'), '200 lead_short',
    '*.b.example.test wants a label before b.example.test: the shorter one');
is(site_of('http', 'example.test'), '200 any', '*.example.test does not match example.test');
is(site_of('http', 'api7.example.test'), '200 lead_short',
    'a leading wildcard beats a regex that matches too');
is(site_of('http', 'www.example.org'), '200 trail_short', 'a trailing wildcard');
is(site_of('http', 'www.example.co.uk'), '200 trail_long',
    'the longest trailing wildcard (www.example.co.* over www.example.*)');
is(site_of('http', 'www.example.com'), '200 trail_short', '... the shorter one where it alone matches');
is(site_of('http', 'www.example'), '200 any', 'www.example.* wants a label after www.example');
is(site_of('http', 'api7.other.test'), '200 re_first',
    'regexes in file order: the first that matches (both do)');
is(site_of('http', 'x.other.test'), '200 re_second', '... the next when the first does not');
is(site_of('http', 'apix.test'), '200 re_second', '... any of a site\'s regexes');
is(site_of('http', 'nothing.test'), '200 any', 'nothing else matches: "*"');

# ---- case, trailing dot, port ----

is(site_of('http', 'WWW.EXAMPLE.TEST'), '200 exact', 'names compared without regard to case');
is(site_of('http', 'www.example.test.'), '200 exact', 'a trailing dot is ignored');
is(site_of('http', 'Www.Example.Test.:8080'), '200 exact', '... and so is the port');
is(site_of('http', 'A.B.EXAMPLE.TEST:80'), '200 lead_long', 'wildcards too');
is(site_of('http', 'WWW.Example.CO.uk.'), '200 trail_long', '... at either end');
is(site_of('http', 'Api7.Other.TEST'), '200 re_first', 'regexes match without regard to case');
is(site_of('plain', '[::1]:8080'), '200 second', 'an IPv6 literal host, its port ignored');

# ---- the default site ----

is(site_of('dflt', 'one.test'), '200 one', 'default_site: a named site still answers its name');
is(site_of('dflt', 'unknown.test'), '200 fb', '... a name no site has: the default_site');
is(site_of('plain', 'unknown.test'), '200 first',
    'without default_site: the listener\'s first site in the file');
is(site_of('plain', 'second.test'), '200 second', '... others answer their names');
for my $case (['dflt', 'fb'], ['plain', 'first'], ['http', 'any']) {
	my $c = Test::Portico::Client->new($p->port($case->[0]));
	$c->send_raw("GET /name HTTP/1.0\r\n\r\n");
	my $r = $c->response;
	is($r ? "$r->{status} $r->{body}" : 'no response', "200 $case->[1]",
	    "an HTTP/1.0 request without Host on $case->[0]: $case->[1]");
}

# ---- TLS: SNI by the same rules ----

my $port = $p->port('https');
my $r = https($port, sni => 'x.w.test', path => '/name');
is($r->{subject}, '/CN=*.w.test', 'SNI under a leading wildcard: that site\'s certificate')
    or diag($r->{error});
is("$r->{status} $r->{body}", '200 tw', '... and its answer');
$r = https($port, sni => 'api12.r.test', path => '/name');
is($r->{subject}, '/CN=api regex', 'SNI matching a regex: that site\'s certificate');
is("$r->{status} $r->{body}", '200 tr', '... and its answer');
$r = https($port, sni => 'API12.R.TEST', host => 'api12.r.test', path => '/name');
is($r->{subject}, '/CN=api regex', 'SNI compared without regard to case');
$r = https($port, sni => 'a.test', host => 'A.Test.:' . $port, path => '/name');
is($r->{subject}, '/CN=a.test', 'SNI of an exact name');
is("$r->{status} $r->{body}", '200 ta', '... with Host in another case, a trailing dot, the port');
$r = https($port, sni => 'x.w.test', host => 'y.w.test', path => '/name');
is("$r->{status} $r->{body}", '200 tw', 'Host another name of the SNI site: served');
$r = https($port, sni => 'x.w.test', host => 'a.test', path => '/name');
is($r->{status}, 421, 'Host of another site than SNI\'s wildcard site: 421');
$r = https($port, sni => 'a.test', host => 'api3.r.test', path => '/name');
is($r->{status}, 421, 'Host of a regex site over a handshake for another: 421');
$r = https($port, sni => 'unknown.test', path => '/name');
is($r->{subject}, '/CN=*.w.test', 'an SNI name no site has: the default_site\'s certificate');
is("$r->{status} $r->{body}", '200 tw', '... and the default_site answers its Host');
$r = https($port, host => 'a.test', path => '/name');
is($r->{subject}, '/CN=*.w.test', 'no SNI: the default_site\'s certificate');
is($r->{status}, 421, '... so a Host of another site is 421');

# ---- -T writes the patterns back as written ----

my ($rc, $out, $err) = $p->run('-T');
is($rc, 0, '-T succeeds') or diag($err);
like($out, qr/^\thosts = \{"WWW\.Example\.test"\}$/m, '-T: an exact name as written');
ok(index($out, qq(\thosts = {"~ \\\\.other\\\\.test\$", "~ ^api"}\n)) >= 0,
    '-T: regexes as written') or diag($out);
like($out, qr/^\thosts = \{"www\.example\.co\.\*"\}$/m, '-T: a trailing wildcard');
like($out, qr/^\tdefault_site = "fb"$/m, '-T: default_site');
my $again = Test::Portico->new(conf => $out);
($rc, undef, $err) = $again->run('-t');
is($rc, 0, 'what -T wrote loads again') or diag($err);

# ---- configuration errors ----

my $bad = Test::Portico->new(conf => <<'EOF');
listen a { address = "127.0.0.1:%%PORT:a%%"  default_site = "nope" }
listen b { address = "127.0.0.1:%%PORT:b%%"  default_site = "x" }
upstream u { server "127.0.0.1:%%PORT:none%%" {} }
site x { listen = {"a"}  hosts = {"x.test", "*.w.test", "t.*", "~ ^r", "*"}
	route "/" { upstream = "u" } }
site y { listen = {"a", "b"}
	hosts = {"X.Test", "*.W.TEST",
		"t.*", "~ ^r", "*"}
	route "/" { upstream = "u" } }
site z { listen = {"b"}  hosts = {"x.test", "a*b", "~ ("}  route "/" { upstream = "u" } }
listen c { address = "127.0.0.1:%%PORT:c%%"  default_site = "w" }
site v { listen = {"c"}  route "/" { upstream = "u" } }
site w { listen = {"c"}  hosts = {"w.test"}  route "/" { upstream = "u" } }
EOF
($rc, undef, $err) = $bad->run('-t');
isnt($rc, 0, 'clashing hosts and a bad default_site: refused');
my $file = $bad->conf_file;
like($err, qr{^portico: \Q$file\E:1: listen "a": default_site "nope": no such site$}m,
    'default_site naming no site: at its line');
like($err, qr{^portico: \Q$file\E:2: listen "b": default_site "x" is not served on it \(its listen does not name "b"\)$}m,
    'default_site naming a site of other listeners: at its line');
like($err, qr{^portico: \Q$file\E:7: site "y": host "X\.Test" is already site "x"'s \("x\.test" at \Q$file\E:4\) on listen "a"$}m,
    'one exact name on two sites of a listener: at the second\'s line, naming the first\'s');
like($err, qr{^portico: \Q$file\E:7: site "y": host "\*\.W\.TEST" is already site "x"'s \("\*\.w\.test" at \Q$file\E:4\)}m,
    'the same leading wildcard');
like($err, qr{^portico: \Q$file\E:8: site "y": host "t\.\*" is already site "x"'s}m,
    'the same trailing wildcard');
unlike($err, qr{host "~ \^r"|host "\*"}, 'the same regex or "*" on two sites is no error');
like($err, qr{^portico: \Q$file\E:10: site "z": host "x\.test" is already site "y"'s \("X\.Test" at \Q$file\E:7\) on listen "b"$}m,
    'a clash on the listener the two share');
unlike($err, qr{site "z": host "x\.test" is already site "x"},
    '... none with a site that shares no listener');
like($err, qr{^portico: \Q$file\E:11: listen "c": default_site "w" would answer no request: site "v" answers any host on it}m,
    'a default_site that a site of "*" (hosts without a list) leaves nothing to');
like($err, qr{^portico: \Q$file\E:10: site "z": bad host "a\*b": a wildcard is "\*" alone}m,
    'a "*" inside a name: at its line');
like($err, qr{^portico: \Q$file\E:10: site "z": bad host "~ \(": bad regex: missing closing parenthesis}m,
    'a regex that does not compile: at its line');

done_testing();
