#!/usr/bin/perl

# The metrics route (metrics = true): Prometheus text that promtool
# accepts, requests counted exactly per site, route, status class and
# method over both workers, histograms that add up, counts kept across a
# reload and a killed worker, series of a removed site gone, and the
# route's own rules (allow, HEAD, 405).

use strict;
use warnings;

use JSON::PP ();
use Test::More;
use Test::Portico;
use Test::Portico::Client;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $sites = <<'EOF';
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
listen mon { address = "127.0.0.1:%%PORT:mon%%" }
upstream app { server "%%BACKEND:a%%" {} }
site one {
	listen = {"http"}
	hosts = {"one.test"}
	route "/" { upstream = "app" }
	route "/api/" { upstream = "app" }
}
EOF
my $two = <<'EOF';
site two {
	listen = {"http"}
	hosts = {"two.test"}
	route "/" { return = 404 }
}
EOF
my $mon = <<'EOF';
limit_req once { rate = "1r/h"  burst = 1  nodelay = true }
site mon {
	listen = {"mon"}
	route "/metrics" { metrics = true  allow = {"127.0.0.1/32"} }
	route "/status" { status = true }
	route "/strict" { return = 200  methods = {"GET"}  client_max_body_size = "4" }
	route "/limited" { return = 200  limit_req = "once" }
}
EOF

my $p = Test::Portico->new(conf => $sites . $two . $mon)->start;
my $port = $p->port('http');
my @workers = $p->wait_workers(2);
is(scalar @workers, 2, 'two workers');

# The metrics as text, and parsed: "name{labels}" => value.
sub scrape {
	my (%o) = @_;
	my $r = http_get($p->port('mon'), '/metrics', %o) or return;
	return $r unless $r->{status} == 200;
	my %m;
	for (split /\n/, $r->{body}) {
		next if /^#/;
		/^(\S+) (\S+)$/ or next;
		$m{$1} = $2;
	}
	return ($r, \%m);
}

sub requests {
	my ($m, $site, $route, $code, $method) = @_;
	return $m->{qq(portico_http_requests_total{site="$site",route="$route",code="$code",)
	    . qq(method="$method"})} // 0;
}

# ---- the text ----
my ($r, $m) = scrape();
is($r->{status}, 200, 'the metrics route answers');
is($r->{header}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8',
    'in the text exposition format 0.0.4');
# promtool comes with Debian's prometheus package (.ci/deps installs it).
my $file = $p->write_file('metrics.txt', $r->{body});
my $promtool = `promtool check metrics < '$file' 2>&1`;
is($?, 0, 'promtool check metrics accepts it') or diag($promtool);
like($r->{body}, qr/^# HELP portico_http_requests_total .+\n# TYPE portico_http_requests_total counter$/m,
    'every family has its HELP and TYPE');
is($m->{'portico_build_info{version="' . ($r->{body} =~ /version="([^"]+)"/)[0] . '"}'}, 1,
    'build info');
is($m->{portico_processes}, 2, 'both workers count');
is($m->{portico_worker_processes}, 2, 'the workers the configuration asks for');
cmp_ok($m->{portico_start_time_seconds}, '>', 1_600_000_000, 'the master\'s start time');

# ---- known requests, over both workers ----
# Each worker takes half of them, on a connection it accepted.
my %sent;
for my $pid (@workers) {
	my $s = $p->socket_on_worker($port, $pid);
	ok($s, "a connection to worker $pid") or next;
	my $c = Test::Portico::Client->new($port, sock => $s);
	my @plan = (
		[GET => '/', 'one.test', 3], [HEAD => '/', 'one.test', 1],
		[POST => '/api/x', 'one.test', 2], [GET => '/', 'two.test', 2],
		[DELETE => '/gone', 'two.test', 1],
	);
	for my $step (@plan) {
		my ($method, $path, $host, $n) = @$step;
		for (1 .. $n) {
			my $resp = $c->do($method, $path, host => $host,
			    $method eq 'POST' ? (body => 'posted') : ());
			$sent{"$method $host"}{$resp ? $resp->{status} : 'none'}++;
		}
	}
	$c->close;
}
is_deeply(\%sent, {
	'GET one.test' => { 200 => 6 }, 'HEAD one.test' => { 200 => 2 },
	'POST one.test' => { 200 => 4 }, 'GET two.test' => { 404 => 4 },
	'DELETE two.test' => { 404 => 2 },
}, 'every request was answered as configured');

# Counted when answered: read once the last count is in.
wait_for(sub { (undef, $m) = scrape(); requests($m, 'two', '/', '4xx', 'DELETE') == 2 });
is(requests($m, 'one', '/', '2xx', 'GET'), 6, 'GETs of one route');
is(requests($m, 'one', '/', '2xx', 'HEAD'), 2, 'HEADs of it, apart');
is(requests($m, 'one', '/api/', '2xx', 'POST'), 4, 'POSTs of another route');
is(requests($m, 'two', '/', '4xx', 'GET'), 4, 'GETs of another site, by status class');
is(requests($m, 'two', '/', '4xx', 'DELETE'), 2, 'DELETEs of it');
is(scalar(grep { /^portico_http_requests_total\{site="(one|two)"/ } keys %$m), 5,
    'and no other series of these sites');

# Histograms: cumulative, monotone, ending in the count.
sub histogram_ok {
	my ($m, $name, $label, $count, $what) = @_;
	my @b = map { [$_ =~ /le="([^"]+)"/, $m->{$_}] }
	    grep { /^portico_${name}_bucket\{\Q$label\E,le=/ } keys %$m;
	@b = sort { ($a->[0] eq '+Inf' ? 1e99 : $a->[0]) <=> ($b->[0] eq '+Inf' ? 1e99 : $b->[0]) } @b;
	my @v = map { $_->[1] } @b;
	is(scalar @v, 15, "$what: 15 buckets");
	ok(!grep({ $v[$_] < $v[$_ - 1] } 1 .. $#v), "$what: buckets are monotone");
	is($b[-1][0], '+Inf', "$what: the last is +Inf");
	is($v[-1], $count, "$what: +Inf holds every request");
	is($m->{"portico_${name}_count{$label}"}, $count, "$what: _count is the requests");
	ok(defined $m->{"portico_${name}_sum{$label}"}, "$what: _sum");
}
histogram_ok($m, 'http_request_duration_seconds', 'site="one"', 12, 'request time of site one');
histogram_ok($m, 'http_request_duration_seconds', 'site="two"', 6, 'request time of site two');
histogram_ok($m, 'upstream_header_duration_seconds', 'upstream="app"', 12,
    'header time of upstream app');
cmp_ok($m->{'portico_http_request_bytes_total{site="one"}'}, '>', 4 * length('posted'),
    'bytes read from clients of site one');
cmp_ok($m->{'portico_http_response_bytes_total{site="two"}'}, '>', 0,
    'bytes sent to clients of site two');
my $srv = 'upstream="app",server="' . $p->backend('a')->address . '"';
is($m->{"portico_upstream_server_up{$srv}"}, 1, 'the server is up');
is($m->{"portico_upstream_server_requests_total{$srv}"}, 12, 'and took every proxied request');
cmp_ok($m->{portico_connections_accepted_total}, '>=', 2, 'connections accepted');
cmp_ok($m->{'portico_listener_connections_accepted_total{listener="http"}'}, '>=', 2,
    '... by listener');
cmp_ok($m->{'portico_listener_connections_open{listener="mon"}'}, '>=', 1,
    'connections open by listener (the scrape\'s own)');

# Limits by name: the burst passes, the rest is refused.
my @limited = map { http_get($p->port('mon'), '/limited')->{status} } 1 .. 4;
is_deeply(\@limited, [200, 200, 429, 429], 'a limit lets its burst through');
wait_for(sub { (undef, $m) = scrape();
    ($m->{'portico_limit_zone_refused_total{limit="once"}'} // 0) == 2 });
is($m->{'portico_limit_zone_refused_total{limit="once"}'}, 2, 'refusals counted by limit');
is($m->{'portico_limit_refused_total{kind="limit_req"}'}, 2, '... and by kind');

# ---- the status route answers a scraper in the same text ----
# Prometheus's own Accept: OpenMetrics first, then text/plain 0.0.4.
my $scraper = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
my $as_scraper = http_get($p->port('mon'), '/status', headers => [Accept => $scraper]);
is($as_scraper->{header}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8',
    'the status route gives a scraper the metrics text');
like($as_scraper->{body}, qr/^# TYPE portico_http_requests_total counter$/m, '... the same families');
is($as_scraper->{header}{vary}, 'Accept', '... chosen by Accept');
$file = $p->write_file('status-metrics.txt', $as_scraper->{body});
$promtool = `promtool check metrics < '$file' 2>&1`;
is($?, 0, '... which promtool accepts') or diag($promtool);
is(http_get($p->port('mon'), '/status', headers => [Accept => '*/*'])->{header}{'content-type'},
    'application/json', 'a client of any type still gets the JSON');

# ---- the route's rules ----
my $c = Test::Portico::Client->new($p->port('mon'), from => '127.0.0.2');
my $denied = $c && $c->get('/metrics');
is($denied && $denied->{status}, 403, 'allow keeps other addresses out');
is(http($p->port('mon'), method => 'PUT', target => '/strict', body => 'x')->{status}, 405,
    'a method a route does not take');
is(http($p->port('mon'), method => 'GET', target => '/strict', body => 'too long')->{status},
    413, 'a body over client_max_body_size');
ok(wait_for(sub { (undef, $m) = scrape();
    ($m->{'portico_rule_refused_total{rule="client_max_body_size"}'} // 0) == 1 }),
    'refusals counted by rule: the body size');
is($m->{'portico_rule_refused_total{rule="acl"}'}, 1, '... allow');
is($m->{'portico_rule_refused_total{rule="methods"}'}, 1, '... methods');
my $head = http($p->port('mon'), method => 'HEAD', target => '/metrics');
is($head->{status}, 200, 'HEAD answers');
is($head->{body}, '', '... with no body');
my $post = http($p->port('mon'), method => 'POST', target => '/metrics', body => 'x');
is($post->{status}, 405, 'POST is refused');
is($post->{header}{allow}, 'GET, HEAD', '... with the methods it takes');

# ---- a reload: same names, no count goes back ----
my %before = %$m;
ok(scalar $p->reload_and_wait, 'reload with the same configuration');
(undef, $m) = scrape();
my @back = grep { /^portico_(http|upstream_header)/ && (!defined $m->{$_} || $m->{$_} < $before{$_}) }
    keys %before;
is_deeply(\@back, [], 'every series is there after a reload, none went back');
is($m->{portico_reloads_total}, 1, 'the reload is counted');
cmp_ok($m->{portico_config_generation}, '>', $before{portico_config_generation},
    'and the generation moved on');

# ---- a worker killed: the master folds its counts in ----
my $total = sub {
	my ($m) = @_;
	my $n = 0;
	$n += $m->{$_} for grep { /^portico_http_requests_total\{site="(one|two)"/ } keys %$m;
	return $n;
};
is($total->($m), 18, 'eighteen requests counted');
my @now = $p->wait_workers(2);
$p->allow_log(qr/killed by signal 9/);
kill 'KILL', $now[0];
ok(wait_for(sub { my @w = $p->worker_pids; @w == 2 && !grep { $_ == $now[0] } @w }),
    'a killed worker is replaced');
ok(wait_for(sub { (undef, $m) = scrape(); ($m->{portico_worker_restarts_total} // 0) >= 1 }),
    'the restart is counted');
is($total->($m), 18, 'its counts are still there');
histogram_ok($m, 'http_request_duration_seconds', 'site="one"', 12, 'after the kill, site one');

# ---- a site removed: its series go ----
$p->write_conf($sites . $mon);
ok(scalar $p->reload_and_wait, 'reload without site two');
(undef, $m) = scrape();
is(scalar(grep { /site="two"/ } keys %$m), 0, 'site two\'s series are gone');
is(requests($m, 'one', '/', '2xx', 'GET'), 6, 'site one\'s stay');

# ---- a new stats zone (more workers): the totals come along by name ----
# An old worker kept busy drains while the new zone serves: what it
# counted is in the new zone's sums already, and its exit adds the rest.
my $held = Test::Portico::Client->new($port);
$held->request(GET => '/delay/60000', host => 'one.test');
ok(wait_for(sub { (undef, $m) = scrape();
    ($m->{"portico_upstream_server_active_requests{$srv}"} // 0) == 1 }),
    'a request holds an old worker');
my %drain = %$m;
my $more = ($sites . $mon) =~ s/^workers = 2$/workers = 12/mr;
$p->write_conf($more);
ok(scalar $p->reload_and_wait(timeout => 20, wait_old => 0), 'reload with twelve workers');
like($p->error_log, qr/shared memory zone "stats": \d+ KiB(?s:.*)shared memory zone "stats"/,
    'a new stats zone was made');
(undef, $m) = scrape();
is(requests($m, 'one', '/', '2xx', 'GET'), 6, 'site one\'s counts are in the new zone at once');
@back = grep { /^portico_(http|upstream_header|listener_connections_accepted|reloads|connections_accepted)/
    && (!defined $m->{$_} || $m->{$_} < $drain{$_}) } keys %drain;
is_deeply(\@back, [], 'while the old worker drains, no count went back');
$p->backend('a')->release;
my $answer = $held->response;
is($answer && $answer->{status}, 200, 'the held request is answered');
ok(wait_for(sub { (undef, $m) = scrape(); requests($m, 'one', '/', '2xx', 'GET') == 7 }),
    'and counted once, when its worker has gone') or diag(requests($m, 'one', '/', '2xx', 'GET'));
ok(wait_for(sub { (undef, $m) = scrape(); $m->{portico_processes} == 12 }),
    'the new zone holds the twelve workers');
is(requests($m, 'one', '/', '2xx', 'GET'), 7, '... and the count stays');
histogram_ok($m, 'http_request_duration_seconds', 'site="one"', 13, 'site one in the new zone');
is($m->{portico_reloads_total}, 3, 'the master\'s counts are in the new zone');

# ---- -T ----
my ($rc, $out, $err) = $p->run('-T');
is($rc, 0, '-T: accepted') or diag($err);
like($out, qr{^\t\tmetrics = true$}m, '-T writes metrics');
dump_reads_back($out);
$p->stop;

# ---- names the text must escape ----
# Quotes, backslashes and newlines escaped, UTF-8 kept; a byte that is not
# UTF-8 (a Latin-1 route) written as \xHH: a scraper refuses the whole
# text for one bad byte.
my $odd = Test::Portico->new(conf => <<"EOF")->start;
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream "up\\"q\\\\b" { server "%%BACKEND:a%%" {} }
upstream "caf\xc3\xa9 \xff" { server "127.0.0.1:%%PORT:none%%" {} }
site "s\\"1\\\\2\\n3 caf\xc3\xa9" {
	route "/caf\xe9" { upstream = "up\\"q\\\\b" }
	route "/metrics" { metrics = true }
	route "/status" { status = true }
}
EOF
is(http_get($odd->port('http'), "/caf\xe9")->{status}, 200, 'a request to a Latin-1 route');
$r = http_get($odd->port('http'), '/metrics');
$file = $odd->write_file('odd.txt', $r->{body});
$promtool = `promtool check metrics < '$file' 2>&1`;
is($?, 0, 'promtool accepts the text of odd names') or diag($promtool);
like($r->{body}, qr{^portico_http_requests_total\{site="s\\"1\\\\2\\n3 caf\xc3\xa9",route="/caf\\\\xE9",code="2xx",method="GET"\} 1$}m,
    '... each escaped as the format has it');
like($r->{body}, qr{^portico_upstream_header_duration_seconds_count\{upstream="up\\"q\\\\b"\} 1$}m,
    '... an upstream\'s too');
like($r->{body}, qr{^portico_upstream_server_up\{upstream="caf\xc3\xa9 \\\\xFF",}m,
    '... and one in UTF-8 with a byte that is not');
# The status JSON keeps UTF-8 too: the page shows a name as it is written.
my $st = http_get($odd->port('http'), '/status');
my $sd = eval { JSON::PP->new->utf8->decode($st->{body}) };
is_deeply([map { $_->{name} } @{ $sd ? $sd->{upstreams} : [] }],
    ["up\"q\\b", "caf\x{e9} \x{ff}"], 'the status JSON: UTF-8 kept, another byte as its code point')
    or diag($st->{body});
like($st->{body}, qr{"caf\xc3\xa9 \\u00ff"}, '... written as such');

done_testing();
