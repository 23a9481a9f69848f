#!/usr/bin/perl

# Route selection: patterns as nginx's locations ("= /exact", "/prefix",
# "^~ /prefix", "~ regex", "~* regex") in the documented order, conditions
# on a route (match_method, match_header, match_cookie, match_arg,
# match_client), several routes on one pattern, a route whose conditions
# fail passed over for the next candidate, regex captures kept only from
# the route chosen, 404 when nothing matches, -T writing it all back, and
# bad patterns and conditions refused at file:line. Every upstream is a
# backend of its own, which answers its name: the body says which route
# answered.

use strict;
use warnings;

use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my @names = qw(root exact prefix long noregex regex caseless beta mobile write env arg client
	       cookie regex_cond fallback);
my $upstreams = join '', map { "upstream $_ { server \"%%BACKEND:$_%%\" {} }\n" } @names;

my $p = Test::Portico->new(conf => <<"EOF" . <<'EOF')->start;
workers = 1
listen http { address = "127.0.0.1:%%PORT:http%%" }
cache main { size = "1m" }
$upstreams
EOF
site s {
	route "/" { upstream = "root" }
	route "= /exact" { upstream = "exact" }
	route "=/only.php" { upstream = "exact" }
	route "/exact" { upstream = "prefix" }
	route "/docs/" { upstream = "prefix" }
	route "/docs/long/" { upstream = "long" }
	route "^~ /static/" { upstream = "noregex" }
	route "^~ /gated/" { upstream = "noregex"  match_header = {"X-Gate"} }
	route "~ \\.php$" { upstream = "regex" }
	route "~* \\.JPG$" { upstream = "caseless" }

	# One pattern, several routes: the first whose conditions hold.
	route "/c/" { upstream = "beta"  match_cookie = {"beta = 1"} }
	route "/c/" { upstream = "mobile"  match_header = {"User-Agent ~ (?i)mobile", "!X-Desktop"} }
	route "/c/" { upstream = "write"  match_method = {"POST", "PUT", "GET"}
		      match_header = {"X-Write"} }
	route "/c/" { upstream = "env"  match_header = {"x-env = prod", "X-Beta"} }
	route "/c/" { upstream = "arg"  match_arg = {"debug", "v = 2", "q ~ ^a"} }
	route "/c/" { upstream = "client"  match_client = {"127.0.0.8/29", "::1/128"} }
	route "/c/" { upstream = "cookie"  match_cookie = {"sid", "!tracking", "lang ~ ^en"} }
	route "/c/deeper/" { upstream = "long"  match_arg = {"deep"} }

	# A regex whose conditions fail: the next regex, or the prefix.
	route "~ ^/r/(\\w+)$" { upstream = "regex_cond"  match_method = {"DELETE"} }
	route "~ ^/r/" { upstream = "regex"  match_header = {"X-Regex"} }
	route "/r/" { upstream = "fallback" }

	# Captures, seen through cache_key: the same $1, the same object.
	route "~ ^/cap/(\\w+)/" {
		upstream = "regex"
		cache = "main"
		cache_valid = "60s"
		cache_key = "cap-$1"
	}
	# ... and none from a regex that matched but whose conditions failed.
	route "~ ^/leak/(\\w+)" { upstream = "regex_cond"  match_method = {"DELETE"} }
	route "/leak/" {
		upstream = "fallback"
		cache = "main"
		cache_valid = "60s"
		cache_key = "leak-$1"
	}
}
site behind {
	hosts = {"behind.test"}
	real_ip_from = {"127.0.0.0/8"}
	route "/" { upstream = "client"  match_client = {"192.0.2.0/24"} }
	route "/" { upstream = "root" }
}
site bare {
	hosts = {"bare.test"}
	route "= /here" { upstream = "exact" }
	route "/p/" { upstream = "prefix"  match_method = {"GET"} }
}
EOF
my $port = $p->port('http');

# Which backend answered: (from => ADDR, method => M, headers => [...]).
sub who {
	my ($target, %opt) = @_;
	my $r = http($port, target => $target, %opt);
	return 'no answer' unless $r;
	return $r->{status} == 200 ? $r->{body} : $r->{status};
}

# ---- patterns and their order ----
is(who('/exact'), 'exact', '"= /exact" takes the path itself');
is(who('/exactly'), 'prefix', '... and not a longer one, which the prefix "/exact" takes');
is(who('/exact/'), 'prefix', '... nor one below it');
is(who('/only.php'), 'exact', 'an exact route wins over a matching regex ("=/path" written without a blank)');
is(who('/docs/a'), 'prefix', 'a prefix route');
is(who('/docs/long/a'), 'long', 'the longest matching prefix wins');
is(who('/docs/lon'), 'prefix', '... not a longer prefix the path does not reach');
is(who('/docs/long/a.php'), 'regex', 'a matching regex wins over the longest prefix');
is(who('/static/a.php'), 'noregex', '"^~": the longest prefix skips the regexes');
is(who('/static/a.JPG'), 'noregex', '... all of them');
is(who('/x/a.JPG'), 'caseless', '"~*" matches ...');
is(who('/x/a.jpg'), 'caseless', '... without regard to case');
is(who('/x/a.PHP'), 'root', '"~" is case-sensitive: no regex, the prefix "/"');
is(who('/'), 'root', '"/" takes what nothing else does');
is(who('/%64ocs/long/x'), 'long', 'routes match the normalized path');

# ---- conditions: one pattern, several routes ----
is(who('/c/x'), 'root', 'no condition holds: the next shorter prefix');
is(who('/c/x', headers => [Cookie => 'beta=1']), 'beta', 'match_cookie "beta = 1"');
is(who('/c/x', headers => [Cookie => 'a=2; beta=1']), 'beta', '... among other cookies');
is(who('/c/x', headers => [Cookie => 'beta=10']), 'root', '... an other value does not');
is(who('/c/x', headers => ['User-Agent' => 'Foo MOBILE 1']), 'mobile',
   'match_header "User-Agent ~ (?i)mobile"');
is(who('/c/x', headers => ['User-Agent' => 'mobile', 'X-Desktop' => '1']), 'root',
   '"!X-Desktop": a field that must be absent');
is(who('/c/x', headers => [Cookie => 'beta=1', 'User-Agent' => 'mobile']), 'beta',
   'two routes hold: the first in the file');
is(who('/c/x', method => 'POST', body => '', headers => ['X-Write' => 1]), 'write',
   'match_method: POST ...');
is(who('/c/x', method => 'PUT', body => '', headers => ['X-Write' => 1]), 'write', '... or PUT');
is(http($port, target => '/c/head', method => 'HEAD', headers => ['X-Write' => 1])->{status}, 200,
   'HEAD ...');
ok((grep { $_->{target} eq '/c/head' && $_->{method} eq 'HEAD' } $p->backend('root')->requests),
   '... does not come with GET in match_method');
is(who('/c/x', headers => ['X-Env' => 'prod', 'x-beta' => '']), 'env',
   'match_header "X-Env = prod" and "X-Beta" (names in any case, an empty field is present)');
is(who('/c/x', headers => ['X-Env' => '  prod  ']), 'root', 'every entry must hold');
is(who('/c/x', headers => ['X-Env' => 'Prod', 'X-Beta' => 1]), 'root', 'values are case-sensitive');
is(who('/c/x?debug&v=2&q=abc'), 'arg', 'match_arg: "debug", "v = 2", "q ~ ^a"');
is(who('/c/x?q=abc&v=2&debug=1'), 'arg', '... in any order');
is(who('/c/x?debug&v=2&q=b'), 'root', '... a regex that does not match');
is(who('/c/x?debug&v=22&q=a'), 'root', '... a value that is not equal');
is(who('/c/x', from => '127.0.0.9'), 'client', 'match_client: an address in the prefix');
is(who('/c/x', from => '127.0.0.16'), 'root', '... one outside it');
is(who('/c/x', headers => [Cookie => 'sid=1; lang=en-GB']), 'cookie',
   'match_cookie "sid", "lang ~ ^en"');
is(who('/c/x', headers => [Cookie => 'sid=1; lang=en; tracking=1']), 'root',
   '... "!tracking" is not');
is(who('/c/x', headers => [Cookie => 'sid=1', Cookie => 'lang=en']), 'cookie',
   '... cookies from several fields');
is(who('/c/deeper/x', headers => [Cookie => 'beta=1']), 'beta',
   'a longer prefix whose conditions fail: the shorter one whose hold');
is(who('/c/deeper/x?deep'), 'long', '... and the longer one when they hold');
is(who('/x', host => 'behind.test', headers => ['X-Forwarded-For' => '192.0.2.7']), 'client',
   'match_client sees the address real_ip_from takes from X-Forwarded-For');
is(who('/x', host => 'behind.test', headers => ['X-Forwarded-For' => '198.51.100.7']), 'root',
   '... and one outside the prefix');
is(who('/x', host => 'behind.test'), 'root', '... and the peer\'s own without the field');

# ---- fall-through among regexes and prefixes ----
is(who('/r/a', method => 'DELETE'), 'regex_cond', 'a regex route whose conditions hold');
is(who('/r/a', headers => ['X-Regex' => 1]), 'regex', 'its conditions fail: the next regex');
is(who('/r/a'), 'fallback', 'no regex holds: the longest prefix');
is(who('/gated/a.php', headers => ['X-Gate' => 1]), 'noregex', '"^~" whose conditions hold');
is(who('/gated/a.php'), 'regex', '"^~" whose conditions fail: the regexes are tried');
is(who('/gated/a'), 'root', '... then the shorter prefix');

# ---- captures ----
my $c1 = http_get($port, '/cap/a/1');
like($c1->{header}{'cache-status'} // '', qr/fwd=miss/, 'captures: a first request is a miss');
my $c2 = http_get($port, '/cap/a/2');
like($c2->{header}{'cache-status'} // '', qr/hit/, '... another path with the same $1 is a hit');
my $c3 = http_get($port, '/cap/b/1');
like($c3->{header}{'cache-status'} // '', qr/fwd=miss/, '... one with another $1 a miss');
my $l1 = http_get($port, '/leak/a');
is($l1->{body}, 'fallback', 'a regex whose conditions fail: the prefix answers');
my $l2 = http_get($port, '/leak/b');
like($l2->{header}{'cache-status'} // '', qr/hit/,
     '... with no capture left from the regex ($1 empty in both keys)');

# ---- 404 ----
is(who('/here', host => 'bare.test'), 'exact', 'a site without "/": its exact route');
is(who('/here/', host => 'bare.test'), 404, 'nothing matches: 404');
is(who('/p/x', host => 'bare.test', method => 'DELETE'), 404,
   'a route whose conditions fail, and no other: 404');
is(who('/p/x', host => 'bare.test'), 'prefix', '... and when they hold, the route');

# ---- -T ----
my ($rc, $out, $err) = $p->run('-T');
is($rc, 0, '-T: accepted') or diag($err);
like($out, qr{^\troute "\^~ /static/" \{$}m, '-T writes a pattern as written');
like($out, qr{^\t\tmatch_header = \{"User-Agent ~ \(\?i\)mobile", "!X-Desktop"\}$}m,
     '-T writes match_header');
like($out, qr{^\t\tmatch_method = \{"POST", "PUT", "GET"\}$}m, '-T writes match_method');
like($out, qr{^\t\tmatch_client = \{"127\.0\.0\.8/29", "::1/128"\}$}m, '-T writes match_client');
dump_reads_back($out);

# ---- mistakes ----
my $bad = Test::Portico->new(conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:none%%" {} }
site s {
	route "/" { upstream = "app" }
	route "= x" { upstream = "app" }
	route "~* (" { upstream = "app" }
	route "^~" { upstream = "app" }
	route "/a" {
		upstream = "app"
		match_header = {"X-Ok",
				"User-Agent ~ (",
				" = v"}
		match_cookie = {"!a = 1"}
		match_arg = {"a b"}
		match_client = {"10.0.0.1/8"}
		match_method = {"G E T"}
	}
	route "/b" { upstream = "app"  match_arg = {} }
	route "/c" { upstream = "app"  match_region = {"e u"} }
	route "/d" { upstream = "app"  match_region = {"eu"} }
	route "/e" { upstream = "app" }
	route "/e" { upstream = "app"  match_arg = {"x"} }
	route "^~ /e" { upstream = "app" }
	route "~ ^/f$" { upstream = "app" }
	route "~^/f$" { upstream = "app" }
}
EOF
($rc, $out, $err) = $bad->run('-t');
isnt($rc, 0, 'bad routes: refused');
my $f = $bad->tmp . '/portico.conf';
like($err, qr{^portico: \Q$f\E:5: route "= x": a path starts with "/"}m, 'an exact path without "/"');
like($err, qr{^portico: \Q$f\E:6: route "~\* \(": bad regex: missing closing parenthesis}m,
     'a bad "~*" regex');
like($err, qr{^portico: \Q$f\E:7: route "\^~": a path starts with "/"}m, '"^~" alone');
like($err, qr{^portico: \Q$f\E:11: route "/a": match_header "User-Agent ~ \(": bad regex: }m,
     'a bad regex in match_header, at its own line');
like($err, qr{^portico: \Q$f\E:12: route "/a": match_header " = v": empty name$}m,
     'an empty name');
like($err, qr{^portico: \Q$f\E:13: route "/a": match_cookie "!a = 1": "!" takes a name alone$}m,
     '"!" with a value');
like($err, qr{^portico: \Q$f\E:14: route "/a": match_arg "a b": "a b" is not a name}m,
     'a name with a blank');
like($err, qr{^portico: \Q$f\E:15: route "/a": match_client "10\.0\.0\.1/8": .*bits set}m,
     'a bad CIDR');
like($err, qr{^portico: \Q$f\E:16: route "/a": match_method "G E T": not a method name}m,
     'a bad method');
like($err, qr{^portico: \Q$f\E:18: route "/b": match_arg: an empty list would match no request}m,
     'an empty list');
like($err, qr{^portico: \Q$f\E:19: route "/c": match_region "e u": not a region name}m,
     'a bad region name');
like($err, qr{^portico: \Q$f\E:20: route "/d": match_region needs a geo section}m,
     'match_region without any geo');
like($err, qr{^portico: \Q$f\E:22: route "/e" would never be chosen: the route at \Q$f\E:21 matches the same paths and has no condition}m,
     'a route after a twin without conditions');
like($err, qr{^portico: \Q$f\E:23: route "\^~ /e" would never be chosen: the route at \Q$f\E:21 }m,
     '... "^~" on the same path too (one trie node)');
like($err, qr{^portico: \Q$f\E:25: route "~\^/f\$" would never be chosen: the route at \Q$f\E:24 }m,
     '... and a regex of the same text, written without the blank');

done_testing;
