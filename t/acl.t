#!/usr/bin/perl

# allow and deny: a client in a deny prefix is answered 403 by portico
# itself, deny winning over allow; with an allow list, only the listed get
# in; a route with lists of its own ignores its site's; long lists come
# from files, whose bad lines are reported as file:line; the access log
# names the list that refused; -T writes the lists back; a reload reads
# the files again. Clients come from several addresses of 127.0.0.0/8, and
# from ::1 when the machine has it.

use strict;
use warnings;

use IO::Socket::IP;
use POSIX ();
use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

# deny.list: two prefixes among 100,000 others, as operators' lists are.
my $many = join '', map { sprintf "%d.%d.%d.0/24\n", 20 + ($_ >> 16), ($_ >> 8) & 255, $_ & 255 }
    0 .. 99_999;
my $p = Test::Portico->new(files => {
	'deny.list' => "# refused from a file\n\n127.0.0.3   # one address\n$many"
	    . "127.0.2.0/24\n",
	'allow.list' => "127.0.0.9\n# 127.0.0.1 is not in it\n",
}, conf => <<'EOF')->start;
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
site members {
	hosts = {"members.test"}
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	allow = {"127.0.0.4/30", "::1"}
	route "/" { upstream = "app" }
}
site main {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	deny = {"127.0.0.2", "127.0.1.0/24"}
	deny_file = "deny.list"
	route "/" { upstream = "app" }
	route "/open/" { upstream = "app"  allow = {"0.0.0.0/0", "::/0"} }
	route "/team/" { upstream = "app"  allow = {"127.0.0.0/24"}  deny = {"127.0.0.3"} }
	route "/listed/" { upstream = "app"  allow_file = "allow.list" }
}
EOF
my $port = $p->port('http');
my $app = $p->backend('app');

sub reached { scalar grep { $_->{target} eq $_[0] } $app->requests }

# get(FROM, TARGET, HOST): the status of a request from address FROM.
sub get {
	my ($from, $target, $host) = @_;
	my $r = http_get($port, $target, from => $from, host => $host // 'main.test');
	return $r ? $r->{status} : 'no answer';
}

# ---- a site's deny ----
is(get('127.0.0.1', '/a'), 200, 'an address no list names gets in');
my $r = http_get($port, '/denied', from => '127.0.0.2', host => 'main.test');
is($r->{status}, 403, 'an address in the site\'s deny: 403');
like($r->{body}, qr{<h1>403 Forbidden</h1>.*portico}s, '... with portico\'s own page');
is(get('127.0.1.77', '/denied-net'), 403, 'an address in a denied prefix: 403');
is(get('127.0.0.3', '/denied-file'), 403, 'an address in deny_file: 403');
is(get('127.0.2.9', '/denied-file-net'), 403, 'a prefix in deny_file: 403');
is(get('127.0.3.1', '/b'), 200, 'beside the denied prefixes: 200');
is(get('127.0.0.1', '/c'), 200, '... with 100,000 of them in the file');
is(reached($_), 0, "$_ never reached the server")
    for qw(/denied /denied-net /denied-file /denied-file-net);
is(reached('/a') + reached('/b') + reached('/c'), 3, 'what was let in did');

# ---- a site's allow ----
is(get('127.0.0.5', '/m', 'members.test'), 200, 'an address in the site\'s allow gets in');
is(get('127.0.0.7', '/m', 'members.test'), 200, '... its last one too');
is(get('127.0.0.8', '/m-out', 'members.test'), 403, 'beside it: 403');
is(get('127.0.0.1', '/m-out2', 'members.test'), 403, 'and any other address: 403');
is(reached('/m-out') + reached('/m-out2'), 0, '... refused before the server');

# ---- routes ----
is(get('127.0.0.2', '/open/x'), 200,
   'a route with an allow list of its own lets in what its site denies');
is(get('127.0.0.2', '/team/x'), 200,
   'a route with lists of its own ignores all of its site\'s (its deny too)');
is(get('127.0.0.3', '/team/deny-wins'), 403,
   'an address both in allow and in deny: deny wins');
is(get('127.0.1.1', '/team/outside'), 403, 'an address outside a route\'s allow: 403');
is(get('127.0.0.9', '/listed/x'), 200, 'an address in allow_file gets in');
is(get('127.0.0.1', '/listed/y'), 403, 'one not in it: 403');

# Routes see the path normalized, however the client spells it: the
# route's list holds.
for my $t ('/%6cisted/z', '//listed/z', '/./listed/z', '/x/../listed/z', '/x/%2e%2e/listed/z') {
	is(get('127.0.0.1', $t), 403, "$t is /listed/z: its route's allow_file holds");
}
is(scalar(grep { $_->{target} =~ m{listed/z} } $app->requests), 0, '... and none reached the server');
is(get('127.0.0.9', '/%6cisted/z'), 200, 'an allowed client gets in that way too ...');
ok((grep { $_->{target} eq '/%6cisted/z' } $app->requests),
   '... and the server gets the path as the client wrote it');
is(get('127.0.0.1', '/x/../../listed/z'), 400, '".." above the root: 400');
is(get('127.0.0.1', '/listed/%zz'), 400, 'a bad %-escape: 400');
is(get('127.0.0.2', '/z'), 403, 'routes without lists keep their site\'s');

# ---- the access log ----
ok(wait_for(sub { grep { m{"GET /team/deny-wins HTTP/1\.1" 403 .* deny [0-9a-f]{32}$} } $p->access_log }),
   'the access log says deny refused');
ok(wait_for(sub { grep { m{"GET /team/outside HTTP/1\.1" 403 .* allow [0-9a-f]{32}$} } $p->access_log }),
   'the access log says allow refused');
ok(wait_for(sub { grep { m{"GET /listed/x HTTP/1\.1" 200 .* - [0-9a-f]{32}$} } $p->access_log }),
   'and names none for a request let in');

# ---- -T ----
my ($rc, $out, $err) = $p->run('-T');
is($rc, 0, '-T: accepted') or diag($err);
like($out, qr{^\tdeny = \{"127\.0\.0\.2/32", "127\.0\.1\.0/24"\}$}m, '-T writes a deny list');
like($out, qr{^\tdeny_file = "\Q${\ $p->tmp}\E/deny\.list"$}m,
     '-T writes deny_file (made absolute)');
like($out, qr{^\t\tallow = \{"127\.0\.0\.0/24"\}\n\t\tdeny = \{"127\.0\.0\.3/32"\}$}m,
     '-T writes a route\'s lists');
like($out, qr{^\tallow = \{"127\.0\.0\.4/30", "::1/128"\}$}m, '-T writes IPv6 prefixes');
dump_reads_back($out);

# ---- reload ----
$p->write_file('deny.list', "127.0.0.4\n");
ok(scalar($p->reload_and_wait), 'reload with another deny file');
is(get('127.0.0.3', '/reloaded-out'), 200, 'a reload reads the file again: what left it gets in');
is(get('127.0.0.4', '/reloaded-in'), 403, '... and what came in is refused');

# ---- mistakes ----
my $bad = Test::Portico->new(files => {
	'bad.list' => "10.0.0.0/8\n# fine so far\n10.0.0.1/8\n2001:db8::/129\n",
}, conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:none%%" {} }
site s {
	deny_file = "bad.list"
	allow_file = "missing.list"
	route "/" { upstream = "app"  allow = {"192.0.2.0/24", "example.com"} }
	route "/f/" { upstream = "app"  deny_file = "fifo.list" }
}
EOF
POSIX::mkfifo($bad->tmp . '/fifo.list', 0600) or die "mkfifo: $!\n";
($rc, $out, $err) = $bad->run('-t');
isnt($rc, 0, 'bad lists: refused');
my $tmp = $bad->tmp;
like($err, qr{^portico: \Q$tmp\E/bad\.list:3: deny_file: "10\.0\.0\.1/8" has bits set after its prefix length$}m,
     'a bad line of a file: named by file:line');
like($err, qr{^portico: \Q$tmp\E/bad\.list:4: deny_file: bad prefix length "129" \(at most 128\)$}m,
     '... every bad line');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:5: allow_file "\Q$tmp\E/missing\.list": No such file or directory$}m,
     'a file that cannot be read: at the option\'s line');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:6: allow: "example\.com" is not an IPv4 or IPv6 address$}m,
     'a bad prefix in a list: at its line');
like($err, qr{^portico: \Q$tmp\E/portico\.conf:7: deny_file "\Q$tmp\E/fifo\.list": not a regular file$}m,
     'a FIFO is refused, not waited on');

# ---- IPv6 ----
SKIP: {
	my $probe = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1);
	skip 'no IPv6 loopback', 4 unless $probe;
	close $probe;
	my $six = Test::Portico->new(conf => <<'EOF')->start;
workers = 2
listen v6 { address = "[::1]:%%PORT:v6%%" }
upstream app { server "%%BACKEND:app%%" {} }
site s {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	deny = {"::1/128"}
	route "/" { upstream = "app" }
	route "/in/" { upstream = "app"  allow = {"::1"} }
	route "/v4/" { upstream = "app"  allow = {"127.0.0.0/8"} }
	route "/net/" { upstream = "app"  allow = {"::/127"}  deny = {"::/64"} }
}
EOF
	my $get6 = sub { my $r = http_get($six->port('v6'), $_[0], addr => '::1');
			 $r ? $r->{status} : 'no answer' };
	is($get6->('/x'), 403, 'IPv6: ::1 in deny: 403');
	is($get6->('/in/x'), 200, 'IPv6: ::1 in a route\'s allow: 200');
	is($get6->('/v4/x'), 403, 'IPv6: an IPv4 allow list does not let ::1 in');
	is($get6->('/net/x'), 403, 'IPv6: in an allowed /127 and a denied /64: deny wins');
	$six->stop;
}

done_testing;
