#!/usr/bin/perl

# Geo and GSLB with real backends: clients bound to different source
# addresses of 127.0.0.0/8, which a geo file maps to regions, each region
# with backends that answer with their name. A client goes to its own
# region's servers; when the health checks mark them down, to the next
# region of its preference list, then the next; back when they are up
# again. ewma picks the fast server within a region. $geo_region keys a
# limit. A reload takes up a new file; a file with bad lines is refused
# with its file:line.

use strict;
use warnings;

use IO::Select;
use IO::Socket::IP;
use Test::More;
use Test::Portico;
use Test::Portico::Backend;
use Time::HiRes qw(time);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

# Source addresses and the regions the file puts them in.
my %CLIENT = (eu => '127.0.0.11', us => '127.0.0.21', asia => '127.0.0.33',
    sa => '127.0.0.49', eu2 => '127.0.0.12');
# Can this machine bind them (all of 127.0.0.0/8 is loopback on Linux)?
IO::Socket::IP->new(LocalHost => $CLIENT{asia}, Proto => 'tcp')
    or plan skip_all => "cannot bind $CLIENT{asia}: $!";

my $REGIONS = <<'EOF';
# test regions: 127.0.0.0/8 is eu, but for three /28s
127.0.0.0/8,eu
127.0.0.16/28,us
127.0.0.32/28 , asia
127.0.0.48/28,sa	# no server is in sa
::1/128,us
EOF

# An HTTP/1.1 GET from source address $src: [status, X-Backend].
sub get_from {
	my ($port, $src, $path) = @_;
	my $s = IO::Socket::IP->new(LocalHost => $src, PeerHost => '127.0.0.1',
	    PeerPort => $port, Proto => 'tcp', Timeout => 5) or return [0, 'none'];
	syswrite $s, "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	my ($buf, $sel, $deadline) = ('', IO::Select->new($s), time + 10);
	while (time < $deadline && $sel->can_read($deadline - time)) {
		my $n = sysread($s, $buf, 65536, length $buf);
		last unless $n;
	}
	close $s;
	my ($status) = $buf =~ m{\AHTTP/1\.\d (\d{3}) };
	my ($who) = $buf =~ /^X-Backend: (\S+)/mi;
	my ($body) = $buf =~ /\r\n\r\n(.*)\z/s;
	return [$status // 0, $who // 'none', $body // ''];
}

# Who answers a client of $region.
sub served {
	my ($p, $region, $path) = @_;
	my $r = get_from($p->port('http'), $CLIENT{$region}, $path // '/app/name');
	return $r->[0] == 200 ? $r->[1] : "status $r->[0]";
}

# The backends that answer $n requests of a client of $region, as
# "name=count ...".
sub tally {
	my ($p, $region, $n, $path) = @_;
	my %n;
	$n{ served($p, $region, $path) }++ for 1 .. $n;
	return join ' ', map { "$_=$n{$_}" } sort keys %n;
}

sub state_of {
	my ($p, $up, $name) = @_;
	my $s = $p->server_status($up, $name) or return 'absent';
	return $s->{state};
}

# How many times the checker said that server $name of app $what.
sub said {
	my ($p, $name, $what) = @_;
	my $line = qr/upstream "app" server \Q${\ $p->backend($name)->address }\E \Q$what\E/;
	return scalar(() = $p->error_log =~ /$line/g);
}

# Stop backend $name and wait until the health checks mark it down (the
# checker says so in the error log, and the status page shows it).
sub take_down {
	my ($p, $name) = @_;
	my $before = said($p, $name, 'is down');
	$p->backend($name)->stop;
	return wait_for(sub { said($p, $name, 'is down') > $before }, 20)
	    && state_of($p, 'app', $name) eq 'down';
}

# Start backend $name again on its port and wait until it is up.
sub bring_back {
	my ($p, $name) = @_;
	my $before = said($p, $name, 'is up again');
	my $port = $p->backend($name)->port;
	$p->{backends}{$name} = Test::Portico::Backend->new(name => $name, dir => $p->tmp,
	    port => $port);
	return wait_for(sub { said($p, $name, 'is up again') > $before }, 20)
	    && state_of($p, 'app', $name) eq 'up';
}

my $SPARSE = "127.0.0.11/32,eu\n";

my $p = Test::Portico->new(files => { 'regions.csv' => $REGIONS, 'sparse.csv' => $SPARSE },
    conf => <<'EOF')->start;
workers = 1
listen http { address = "127.0.0.1:%%PORT:http%%" }

geo regions { file = "%%TMP%%/regions.csv"  default = "eu" }

upstream app {
	health_check { path = "/name"  interval = "100ms"  timeout = "1s"  fall = 1  rise = 1 }
	region "asia" { next = {"us", "eu"} }
	region "sa" { next = {"us"} }
	server "%%BACKEND:eu1%%" { region = "eu" }
	server "%%BACKEND:eu2%%" { region = "eu" }
	server "%%BACKEND:us1%%" { region = "us" }
	server "%%BACKEND:asia1%%" { region = "asia" }
}

# A decay long enough that e1's slow answer (300 ms against e2's few)
# outweighs e2's for about 20 s, far more than the 20 requests after it
# take even on a busy machine; short enough that an idle e1 is tried again
# within seconds.
upstream ew {
	balance = "ewma"
	ewma_decay = "5s"
	server "%%BACKEND:e1%%" { region = "eu" }
	server "%%BACKEND:e2%%" { region = "eu" }
	server "%%BACKEND:u1%%" { region = "us" }
}

# No health checks: a stopped server is found by the requests, and
# retried.
upstream rt {
	server "%%BACKEND:r1%%" { region = "eu" }
	server "%%BACKEND:r2%%" { region = "eu" }
	server "%%BACKEND:r3%%" { region = "us" }
}

# Regions from another geo, which knows one client only, and has no
# default.
geo sparse { file = "%%TMP%%/sparse.csv" }
upstream sp {
	geo = "sparse"
	server "%%BACKEND:s1%%" { region = "eu" }
	server "%%BACKEND:s2%%" { region = "us" }
}

upstream plain { server "%%BACKEND:plain%%" { } }

limit_req perregion { key = "$geo_region"  rate = "1r/h" }

site main {
	route "/status" { status = true }
	route "/app/" { upstream = "app" }
	route "/ew/" { upstream = "ew" }
	route "/rt/" { upstream = "rt" }
	route "/sp/" { upstream = "sp" }
	route "/lim/" { upstream = "plain"  limit_req = "perregion" }
	route "/where" { match_region = {"us", "asia"}  return = 200  return_body = "far $geo_region" }
	route "/where" { return = 200  return_body = "near $geo_region" }
}
EOF

ok(wait_for(sub { !grep { state_of($p, 'app', $_) ne 'up' } qw(eu1 eu2 us1 asia1) }, 20),
    'every server of app is up');
is($p->server_status('app', 'asia1')->{region}, 'asia', 'the status page shows a '
    . 'server\'s region');
like($p->error_log, qr/geo "regions": 5 prefixes from \Q${\ $p->tmp }\E\/regions\.csv, \d+ KiB of shared memory/,
    'the master tells what it loaded into shared memory');

# -- own region first --

is(tally($p, 'eu', 10), 'eu1=5 eu2=5', 'eu clients share the two eu servers');
is(tally($p, 'us', 4), 'us1=4', 'us clients go to us');
is(tally($p, 'asia', 4), 'asia1=4', 'asia clients go to asia');
is(tally($p, 'sa', 4), 'us1=4', 'sa clients, with no server of their own, go to the first '
    . 'region of their list');

# -- failover along the preference list, and back --

ok(take_down($p, 'asia1'), 'asia1 stopped: the health check marks it down (error log, '
    . 'status page)');
is(tally($p, 'asia', 4), 'us1=4', 'asia down: asia clients go to the next region, us');
is(tally($p, 'eu', 4), 'eu1=2 eu2=2', '... while eu clients stay in eu');
ok(take_down($p, 'us1'), 'us1 stopped: marked down');
is(tally($p, 'asia', 4), 'eu1=2 eu2=2', 'asia and us down: asia clients go on to eu');
is(tally($p, 'us', 4), 'eu1=2 eu2=2', 'us clients, with no list, go to the other regions');
ok(bring_back($p, 'asia1'), 'asia1 started again: marked up');
is(tally($p, 'asia', 4), 'asia1=4', 'asia clients come back to asia');
ok(bring_back($p, 'us1'), 'us1 started again: marked up');
is(tally($p, 'us', 4), 'us1=4', 'us clients come back to us');

# -- retries: within the region, then to the next --

{
	is(tally($p, 'eu', 4, '/rt/name'), 'r1=2 r2=2', 'retries: eu clients go to r1 and r2');
	$p->backend('r1')->stop;
	is(tally($p, 'eu', 4, '/rt/name'), 'r2=4', 'r1 stopped: its requests are retried on r2, '
	    . 'in the region');
	$p->backend('r2')->stop;
	is(tally($p, 'eu', 4, '/rt/name'), 'r3=4', 'r1 and r2 stopped: retried in the next '
	    . 'region, us; no client sees an error');
}

# -- an upstream's own geo; a client it has no region for --

{
	is(tally($p, 'eu', 4, '/sp/name'), 's1=4', 'an upstream with a geo of its own: the client '
	    . 'it knows goes to its region');
	is(tally($p, 'us', 4, '/sp/name'), 's1=2 s2=2', 'a client without a region there (no '
	    . 'prefix, no default) is balanced over all the servers');
}

# -- ewma inside a region --

{
	my $t = tally($p, 'eu', 6, '/ew/name');
	like($t, qr/^e1=\d+ e2=\d+$/, "ewma: eu clients try both eu servers, and only them ($t)");
	$p->backend('e1')->set_behavior(delay => 300);
	ok(wait_for(sub { served($p, 'eu', '/ew/name') eq 'e1' }, 15, 0),
	    'ewma: the slowed e1 answered a request');
	$t = tally($p, 'eu', 20, '/ew/name');
	my ($e1) = $t =~ /e1=(\d+)/;
	ok(($e1 // 0) <= 1 && $t =~ /e2=/ && $t !~ /u1/,
	    "ewma: eu clients leave the slow e1 for e2, not for the idle us server ($t)");
	is(tally($p, 'us', 3, '/ew/name'), 'u1=3', 'ewma: us clients keep to us');
	$p->backend('e1')->set_behavior();
}

# -- $geo_region as a variable: one limit bucket per region --

{
	is(get_from($p->port('http'), $CLIENT{eu}, '/lim/name')->[0], 200,
	    '$geo_region: the first eu request passes');
	is(get_from($p->port('http'), $CLIENT{eu2}, '/lim/name')->[0], 429,
	    '$geo_region: another eu address shares its bucket: refused');
	is(get_from($p->port('http'), $CLIENT{us}, '/lim/name')->[0], 200,
	    '$geo_region: a us client has a bucket of its own');
	is(get_from($p->port('http'), '127.0.0.22', '/lim/name')->[0], 429,
	    '$geo_region: and another us address shares it');
}

# -- routes chosen by region --

is(get_from($p->port('http'), $CLIENT{us}, '/where')->[2], 'far us',
    'match_region: a us client takes the route for us and asia');
is(get_from($p->port('http'), $CLIENT{asia}, '/where')->[2], 'far asia',
    'match_region: so does an asia client');
is(get_from($p->port('http'), $CLIENT{eu}, '/where')->[2], 'near eu',
    'match_region: an eu client goes on to the next route of the same path');
is(get_from($p->port('http'), $CLIENT{sa}, '/where')->[2], 'near sa',
    'match_region: and so does a sa client');

# -- a reload takes up a new file --

{
	my $new = $REGIONS =~ s/127\.0\.0\.32\/28 , asia/127.0.0.32\/28,us/r;
	$p->write_file('regions.csv', $new . "2001:db8::/32,asia\n");
	ok($p->reload_and_wait, 'reload with a new regions file');
	like($p->error_log, qr/geo "regions": 6 prefixes from/, 'the master loaded the new file');
	ok(wait_for(sub { state_of($p, 'app', 'us1') eq 'up' }, 20), 'us1 is up');
	is(tally($p, 'asia', 4), 'us1=4', 'after the reload, 127.0.0.33 is in us');
	is(tally($p, 'eu', 4), 'eu1=2 eu2=2', 'and eu is still eu');
}

# -- bad lines are refused with their file:line --

{
	$p->write_file('regions.csv', "127.0.0.0/8,eu\n127.0.0.16/28\n127.0.0.1/8,us\n"
	    . "127.0.0.32/28,as ia\n");
	my ($rc, $out, $err) = $p->run('-t');
	isnt($rc, 0, 'portico -t refuses a file with bad lines');
	my $f = $p->tmp . '/regions.csv';
	like($err, qr/\Q$f\E:2: geo "regions": "127\.0\.0\.16\/28" is not CIDR,region: no comma/,
	    'a line without a comma: at its file:line');
	like($err, qr/\Q$f\E:3: geo "regions": "127\.0\.0\.1\/8" has bits set after its prefix/,
	    'a prefix with host bits: at its file:line');
	like($err, qr/\Q$f\E:4: geo "regions": bad region name "as ia"/,
	    'a bad region name: at its file:line');

	my @old = $p->worker_pids;
	$p->signal('HUP');
	ok(wait_for(sub { $p->error_log =~ /reload refused.*regions\.csv:2:/s }, 20),
	    'a reload with the bad file is refused, and the log says where');
	is_deeply([$p->worker_pids], \@old, 'the workers serving stay');
	is(tally($p, 'asia', 2), 'us1=2', 'and they keep the table they had');
}

$p->stop;

# -- a region no geo file nor server names is a mistake, not a route that never matches --

{
	my $t = Test::Portico->new(files => { 'r.csv' => "127.0.0.0/8,eu\n" }, conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
geo regions { file = "%%TMP%%/r.csv" }
upstream app { server "127.0.0.1:%%PORT:none%%" {} }
site s {
	route "/" { upstream = "app"  match_region = {"eu", "ue"} }
	route "/" { upstream = "app" }
}
EOF
	my ($rc, undef, $err) = $t->run('-t');
	isnt($rc, 0, 'a match_region naming an unknown region is refused');
	like($err, qr{\Q${\ $t->conf_file }\E:5: route "/": match_region "ue": no geo file nor server names this region},
	    '... at its file:line');
	unlike($err, qr{match_region "eu"}, '... and only that entry');
}

done_testing();
