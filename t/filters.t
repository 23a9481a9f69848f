#!/usr/bin/perl

# Request filters: rules on the method, the path, the query, a header or
# the client's address refuse a request before it reaches a server:
# answered 403 with portico's own page, with a status of the operator's
# choice, or not at all (the connection closes); the first listed rule
# that matches refuses, a route's list replaces its site's, and the logs
# name the rule.

use strict;
use warnings;

use Test::More;
use Test::Portico;
use Test::Portico::Client;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF')->start;
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
filter git { path = "/\\.git(/|$)" }
filter wp { path = "^/wp-admin/"  status = 404 }
filter wp_login { path = "^/wp-admin/login" }
filter exploit_query { query = "(?i)union(\\s|%20|\\+)+select" }
filter scanners { header = "User-Agent"  match = "(?i)nikto|sqlmap"  action = "close" }
filter no_agent { header = "User-Agent"  match = "^$"  status = 400 }
filter methods { method = "^(GET|HEAD|POST)$"  negate = true  status = 405 }
filter loopback { address = {"127.0.0.0/8", "::1"} }
filter only_docs { address = {"192.0.2.0/24"}  negate = true  status = 451 }
site s {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	filters = {"git", "wp", "wp_login", "exploit_query", "scanners", "no_agent", "methods"}
	route "/" { upstream = "app" }
	route "/open/" { upstream = "app"  filters = {"git"} }
	route "/local/" { upstream = "app"  filters = {"loopback"} }
	route "/partners/" { upstream = "app"  filters = {"only_docs"} }
	route "/status" { status = true  filters = {"git"} }
}
EOF
my $port = $p->port('http');
my $app = $p->backend('app');
my @ua = (headers => ['User-Agent' => 'Mozilla/5.0 (test)']);

sub get { http($port, target => $_[0], @ua, @_[1 .. $#_]) }
sub reached { scalar grep { $_->{target} eq $_[0] } $app->requests }

# What comes through, and what the path rule refuses.
is(get('/index.html')->{status}, 200, 'a request no rule matches goes through');
my $r = get('/.git/config');
is($r->{status}, 403, 'a path rule refuses: 403 by default');
like($r->{body}, qr/403 Forbidden.*portico/s, '... with portico\'s own page');
is(get('/repo/.git')->{status}, 403, 'the path rule finds its match anywhere in the path');
is(reached('/.git/config') + reached('/repo/.git'), 0,
   'the server never sees a refused request');
is(get('/%2egit/config')->{status}, 403, 'the regex sees the path normalized: %2e is a dot ...');
is(get('/x/..//.git/config')->{status}, 403, '... and dot segments and slashes are resolved');

# Status of the operator's choice; the first listed rule wins.
is(get('/wp-admin/index.php')->{status}, 404, 'status = 404 answers 404 instead');
is(get('/wp-admin/login.php')->{status}, 404,
   'of two rules that match, the first listed refuses (wp, not wp_login)');

# Query and method.
is(get('/search?q=1%20UNION%20SELECT%20password')->{status}, 403, 'a query rule refuses');
is(get('/search/union-select')->{status}, 200, '... and looks at the query only, not the path');
is(http($port, method => 'DELETE', target => '/item/1', @ua)->{status}, 405,
   'negate = true: a method the rule does not list is refused, with its status');
is(http($port, method => 'POST', target => '/form', @ua, body => 'a=1')->{status}, 200,
   '... and one it lists passes');

# Headers: close without an answer; a missing field is seen as empty.
my $c = Test::Portico::Client->new($port);
$c->request(GET => '/probe', headers => ['User-Agent' => 'Mozilla/5.00 (Nikto/2.1.6)']);
ok(!defined $c->response, 'action = "close": no answer at all ...');
ok($c->closed_within(5), '... and the connection is closed');
is(reached('/probe'), 0, '... and the server never saw it');
is(http($port, target => '/bare')->{status}, 400,
   'a header rule sees a missing field as empty: match = "^$" refuses requests without it');

# Address, and routes with lists of their own.
is(get('/local/x')->{status}, 403, 'an address rule refuses the client\'s prefix');
is(get('/partners/x')->{status}, 451,
   'a negated address rule refuses everyone outside its prefixes');
is(get('/open/wp-admin/index.php')->{status}, 200,
   'a route\'s filters replace its site\'s ...');
is(get('/open/.git/HEAD')->{status}, 403, '... and apply themselves');
is(http($port, target => '/open/x')->{status}, 200,
   '... so the site\'s rules (no_agent) do not apply there');

# Keep-alive after a refusal.
$c = Test::Portico::Client->new($port);
is($c->get('/.git/config', @ua)->{status}, 403, 'a refusal with an answer ...');
is($c->get('/after', @ua)->{status}, 200, '... leaves the connection open for the next request');

# The logs name the rule.
ok(wait_for(sub { grep { m{"GET /wp-admin/login\.php HTTP/1\.1" 404 .* PR \S+ \S+ - filter=wp [0-9a-f]{32}$} }
		$p->access_log }, 10),
   'the access log\'s last column names the rule that refused');
ok(wait_for(sub { grep { m{"GET /probe HTTP/1\.1" .* filter=scanners [0-9a-f]{32}$} } $p->access_log }, 10),
   '... also for a request refused without an answer');
ok(wait_for(sub { $p->error_log =~ /exchange ended PR \(refused by filter=git\), status 403.*GET \/\.git\/config/ },
	    10), 'the error log\'s end line names it');

# The status page counts the refusals: one more for one more refused.
my $before = $p->status_doc->{filtered};
ok(defined $before && $before >= 10, 'the status page counts refused requests');
is(get('/.git/HEAD')->{status}, 403, 'one more is refused ...');
is($p->status_doc->{filtered}, $before + 1, '... and counted');

# Configuration: errors at their line, and -T that reads back.
my $bad = Test::Portico->new(conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:1" {} }
filter broken {
	path = "^/(unclosed"
}
filter both { path = "x"  query = "y" }
filter sp { header = "User Agent"  match = "x" }
site s {
	filters = {"broken", "missing"}
	route "/" { upstream = "app" }
}
EOF
my ($rc, undef, $err) = $bad->run('-t');
is($rc, 1, 'a bad filter configuration is refused');
my $file = $bad->conf_file;
like($err, qr/^portico: \Q$file\E:4: filter "broken": bad regex: missing closing parenthesis/m,
     'a bad regex is reported at its line');
like($err, qr/^portico: \Q$file\E:6: filter "both": path and query exclude each other/m,
     'a filter that looks at two things is reported');
like($err, qr/^portico: \Q$file\E:7: filter "sp": header "User Agent" is not a field name/m,
     'a header that is not a field name is reported');
like($err, qr/^portico: \Q$file\E:9: site "s": unknown filter "missing"/m,
     'an unknown filter name is reported at its line');

my ($trc, $out, $terr) = $p->run('-T');
is($trc, 0, '-T prints the configuration with filters') or diag($terr);
like($out, qr/filter "scanners" \{\n\theader = "User-Agent"\n\tmatch = "\(\?i\)nikto\|sqlmap"\n\tnegate = false\n\taction = "close"\n\}/,
     '-T writes a filter back');
like($out, qr/route "\/open\/" \{[^}]*filters = \{"git"\}/, '-T writes a route\'s own list');
my $again = Test::Portico->new(conf => $out =~ s/^# .*\n//r);
($trc, undef, $terr) = $again->run('-t');
is($trc, 0, 'and what -T printed is accepted again') or diag($terr);

done_testing;
