#!/usr/bin/perl
# The status route in its representations: the JSON document for scripts
# (the default, as before), the built-in page for browsers, chosen by
# Accept with its q-values or by a ?format= query, Vary: Accept on both;
# the page's own fields (a Content-Security-Policy that allows its inline
# blocks by their hashes and nothing else, ETag and 304, no-cache,
# nosniff); allow and deny on the route; the latency sum the page charts.
# Then the page itself in headless Chromium against a running portico
# with traffic: it renders both servers of an upstream with their states,
# draws its charts from several polls, logs no console error, and leaves
# screenshots (desktop, phone, dark, stale) in t/artifacts of the build
# tree. The
# browser is driven over the DevTools protocol, so the page runs in real
# time and every console message reaches the test.
#
# Chromium is /usr/bin/chromium (or $PORTICO_CHROMIUM); without it the
# browser part fails, unless PORTICO_SKIP_BROWSER=1 asks to skip it.

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(sha256_base64);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use IO::Handle;
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

use Test::Portico;

my $p = Test::Portico->new(conf => <<'EOF')->start;
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app {
	server "%%BACKEND:a%%" {}
	server "127.0.0.1:%%PORT:dead%%" {}
	health_check { interval = "200ms" }
}
cache main { size = "1m" }
limit_req perip { rate = "1000r/s"  burst = 200 }
site s {
	route "/status" { status = true  deny = {"127.0.0.2"} }
	route "/" { upstream = "app"  cache = "main"  limit_req = "perip" }
}
EOF
my $port = $p->port('http');
my $alive = $p->backend('a')->address;
my $dead = '127.0.0.1:' . $p->port('dead');
my $chromium = $ENV{PORTICO_CHROMIUM} // '/usr/bin/chromium';

sub get_status {
	my (%opt) = @_;
	my $target = '/status' . ($opt{query} // '');
	my @h = defined $opt{accept} ? (Accept => $opt{accept}) : ();
	return http($port, method => $opt{method} // 'GET', target => $target,
	    headers => [@h, @{ $opt{headers} // [] }], from => $opt{from});
}

sub type_for {
	my $r = get_status(@_);
	return $r ? "$r->{status} " . ($r->{header}{'content-type'} // '') : 'no answer';
}

# ---- negotiation ----

my $json = 'application/json';
my $html = 'text/html; charset=utf-8';
my $browser = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,'
    . 'image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';

is(type_for(), "200 $json", 'no Accept: the JSON document, as before');
is(type_for(accept => '*/*'), "200 $json", 'Accept */*: JSON (the first when all weigh alike)');
is(type_for(accept => 'application/json'), "200 $json", 'Accept application/json: JSON');
is(type_for(accept => $browser), "200 $html", 'a browser\'s Accept: the page');
is(type_for(accept => 'text/html'), "200 $html", 'Accept text/html: the page');
is(type_for(accept => 'TEXT/HTML'), "200 $html", '... media types are case-insensitive');
is(type_for(accept => 'text/*'), "200 $html", 'Accept text/*: the page');
is(type_for(accept => 'text/html;q=0.5, application/json'), "200 $json",
   'q-values: JSON weighed above the page gets JSON');
is(type_for(accept => 'application/json;q=0.2, text/html;level=1;q=0.4'), "200 $html",
   'q-values: the page weighed above JSON (other parameters ignored) gets the page');
is(type_for(accept => 'text/html;q=0, */*;q=0.1'), "200 $json",
   'text/html;q=0 refuses the page though */* would take it');
is(type_for(accept => 'text/*;q=0.1, text/html;q=0.9, application/json;q=0.5'), "200 $html",
   'the most specific range decides (text/html over text/*)');
is(type_for(accept => 'text/html', query => '?format=json'), "200 $json",
   '?format=json overrides Accept');
is(type_for(query => '?x=1&format=html'), "200 $html", '?format=html overrides no Accept');
is(type_for(query => '?format=xml')  =~ s/ .*//r, '400', 'an unknown ?format= is a 400');

my $r = get_status();
is($r->{header}{vary}, 'Accept', 'the JSON says Vary: Accept');
my $doc = eval { JSON::PP::decode_json($r->{body}) };
ok($doc, 'the JSON document parses');
ok(defined $doc->{request_time_us}, 'it has request_time_us');
ok(defined $doc->{uptime} && $doc->{uptime} >= 0 && $doc->{started} > 1.7e9,
   'and the server\'s uptime and start');

# request_time_us: the sum of the answered requests' times.
my $before = $doc->{request_time_us};
$r = http_get($port, '/delay/150/slow');
is($r->{status}, 200, 'a request that takes 150 ms');
# counted when the exchange ends, which may be just after the answer left
my $after;
ok(wait_for(sub { $after = ($p->status_doc // {})->{request_time_us} // 0; $after - $before >= 150_000 }),
   'request_time_us grew by its time at least') or diag("from $before to $after");

# request_time_hist: every answered request in the bucket of its time.
my $h;
ok(wait_for(sub {
	my $d = $p->status_doc or return 0;
	$h = $d->{request_time_hist};
	my $n = 0;
	$n += $_ for @{ $h->{counts} };
	return $n == $d->{requests};
}), 'request_time_hist counts every answered request once');
is(scalar @{ $h->{counts} }, @{ $h->{bounds_us} } + 1, '... in one bucket more than it has bounds');
my ($slow) = grep { $h->{bounds_us}[$_] >= 150_000 } 0 .. $#{ $h->{bounds_us} };
my $above = 0;
$above += $h->{counts}[$_] for $slow .. $#{ $h->{counts} };
is($above, 1, '... the 150 ms request in a bucket above 150 ms, alone there');

# ---- the page's fields ----

$r = get_status(accept => 'text/html');
my $page = $r->{body};
is($r->{header}{vary}, 'Accept', 'the page says Vary: Accept');
is($r->{header}{'cache-control'}, 'no-cache', 'the page is revalidated (no-cache)');
is($r->{header}{'x-content-type-options'}, 'nosniff', 'nosniff');
my $source = do {
	local $/;
	open my $fh, '<', ($ENV{PORTICO_SRCDIR} // '.') . '/worker/modules/status_page.html' or die $!;
	<$fh>;
};
ok($page eq $source, 'the page served is the file in the tree, byte for byte');
unlike($page, qr/<script[^>]*\bsrc=|<link[^>]*stylesheet|https?:\/\/(?!www\.w3\.org\/2000\/svg")/,
       'it loads no script, style or anything from elsewhere');

my $csp = $r->{header}{'content-security-policy'} // '';
like($csp, qr/(?:^|; )default-src 'none'(?:;|$)/, 'CSP: default-src \'none\'');
like($csp, qr/(?:^|; )connect-src 'self'(?:;|$)/, 'CSP: connect-src \'self\' (the JSON)');
like($csp, qr/(?:^|; )img-src data:(?:;|$)/, 'CSP: img-src data: (the icon)');
unlike($csp, qr/unsafe/, 'CSP: nothing unsafe');
sub hashes {
	my ($tag) = @_;
	my @h = map { "'sha256-" . sha256_base64($_) . "='" } $page =~ /<$tag>(.*?)<\/$tag>/gs;
	return join(' ', @h);
}
my ($script_src) = $csp =~ /script-src ([^;]*)/;
my ($style_src) = $csp =~ /style-src ([^;]*)/;
ok(hashes('script') ne '' && hashes('style') ne '', 'the page has inline script and style');
is($script_src, hashes('script'), 'CSP: script-src is the hash of the page\'s inline script');
is($style_src, hashes('style'), 'CSP: style-src is the hash of the page\'s inline style');
unlike($page, qr/\sstyle=|\son[a-z]+=/, 'no style or event attributes the CSP would block');

my $etag = $r->{header}{etag};
like($etag // '', qr/^"[^"]+"$/, 'the page has a strong ETag');
$r = get_status(accept => 'text/html', headers => ['If-None-Match' => $etag]);
is($r->{status}, 304, 'If-None-Match with it: 304');
is($r->{body}, '', '... without a body');
is($r->{header}{etag}, $etag, '... with the ETag');
$r = get_status(accept => 'text/html', headers => ['If-None-Match' => '"other"']);
is($r->{status}, 200, 'another ETag: the page');
$r = get_status(accept => 'text/html', method => 'HEAD');
is($r->{status}, 200, 'HEAD: 200');
is($r->{header}{'content-length'}, length($page), '... with the page\'s length');
is($r->{body}, '', '... and no body');

# ---- access ----

$r = get_status(from => '127.0.0.2', accept => 'text/html');
is($r->{status}, 403, 'a denied client gets no page');
$r = get_status(from => '127.0.0.2');
is($r->{status}, 403, '... and no JSON');
$r = get_status(from => '127.0.0.3', accept => 'text/html');
is($r->{status}, 200, 'another client gets the page');

# ---- a document longer than a buffer ----
# 400 servers make some 100 KB of JSON, past the 36 KiB of a buffer: the
# document grows with the configuration, on every poll, and HEAD has none.
my $servers = join "\n", map { "\tserver \"127.0.0.1:" . (20000 + $_) . "\" {}" } 1 .. 200;
my $big = Test::Portico->new(conf => <<"EOF")->start;
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream one {
$servers
}
upstream two {
$servers
}
site s {
	route "/status" { status = true }
	route "/one" { upstream = "one" }
	route "/" { upstream = "two" }
}
EOF
for my $n (1 .. 2) {
	$r = http_get($big->port('http'), '/status');
	my $d = eval { JSON::PP::decode_json($r->{body}) };
	is($r->{status} . ' ' . ($d ? join('+', map { scalar @{ $_->{servers} } } @{ $d->{upstreams} })
				    : 'no JSON'), '200 200+200',
	   "status document $n of 400 servers, " . length($r->{body}) . ' bytes');
}
$r = http($big->port('http'), method => 'HEAD', target => '/status');
ok($r->{status} == 200 && $r->{body} eq '' && $r->{header}{'content-length'} > 65536,
   '... HEAD: its length, no body');
$big->stop;

# ---- the page in a browser ----

ok(wait_for(sub {
	my $d = $p->status_doc;
	(($p->server_status('app', $dead, $d) // {})->{state} // '') eq 'down' &&
	    (($p->server_status('app', $alive, $d) // {})->{state} // '') eq 'up';
}, 20), 'the health check has one server up, the other down');

# Traffic while the browser watches: successes, 404s, 500s and slow ones,
# so the charts have something to draw, in a child (its pid in
# $traffic_pid) that stops when told, when the test is gone, or after
# 3 minutes.
my $traffic_pid = 0;
sub traffic {
	my $parent = $$;
	$traffic_pid = fork // die "fork: $!";
	return if $traffic_pid;
	my @targets = ('/app/name', '/app/name', '/app/name', '/app/status/404', '/app/name',
	    '/app/status/500', '/app/delay/40/x', '/app/name');
	my ($i, $end) = (0, time + 180);
	while (time < $end && getppid() == $parent) {
		http_get($port, $targets[$i++ % @targets] . "?n=$i", timeout => 5);
		sleep 0.01;
	}
	POSIX::_exit(0);
}

sub traffic_stop {
	return unless $traffic_pid;
	kill 'TERM', $traffic_pid;
	waitpid($traffic_pid, 0);
	$traffic_pid = 0;
}

# ---- a DevTools protocol client over --remote-debugging-pipe ----
#
# Chromium reads commands on its fd 3 and writes answers and events on its
# fd 4, each a JSON text ended by a NUL byte. The page runs in real time
# (its polls every 2 s really happen), and every console message, thrown
# exception and logged error (a refused resource, a CSP violation) comes
# as an event, kept in @events.

my ($cdp_in, $cdp_out, $cdp_pid, $cdp_buf, $cdp_id, @events) = (undef, undef, 0, '', 0);

sub cdp_start {
	pipe(my $cmd_r, my $cmd_w) or die "pipe: $!";
	pipe(my $ev_r, my $ev_w) or die "pipe: $!";
	my $dir = $p->tmp;
	$cdp_pid = fork // die "fork: $!";
	if ($cdp_pid == 0) {
		my ($r, $w) = (POSIX::dup(fileno $cmd_r), POSIX::dup(fileno $ev_w));
		POSIX::dup2($r, 3) && POSIX::dup2($w, 4) or POSIX::_exit(127);
		open STDOUT, '>', "$dir/chromium.out" or POSIX::_exit(127);
		open STDERR, '>', "$dir/chromium.err" or POSIX::_exit(127);
		# bounded: a hung browser cannot hang the test
		exec('timeout', '-k', '5', '180', $chromium, '--headless=new', '--no-sandbox',
		    '--disable-gpu', '--remote-debugging-pipe', "--user-data-dir=$dir/chromium",
		    '--no-first-run', '--no-default-browser-check', '--hide-scrollbars',
		    'about:blank') or POSIX::_exit(127);
	}
	close $cmd_r;
	close $ev_w;
	($cdp_in, $cdp_out) = ($cmd_w, $ev_r);
	$cdp_in->autoflush(1);
}

# The next message from Chromium, or undef at the deadline or its end.
sub cdp_read {
	my ($deadline) = @_;
	while (1) {
		if ((my $nul = index($cdp_buf, "\0")) >= 0) {
			my $text = substr($cdp_buf, 0, $nul + 1, '');
			chop $text;
			return JSON::PP::decode_json($text);
		}
		my $left = $deadline - time;
		return undef if $left <= 0;
		vec(my $rin = '', fileno($cdp_out), 1) = 1;
		next unless select($rin, undef, undef, $left);
		return undef unless sysread($cdp_out, $cdp_buf, 65536, length $cdp_buf);
	}
}

# cdp(SESSION, METHOD, PARAMS): the command's result; dies on an error or
# no answer within 30 s. Events read meanwhile go to @events.
sub cdp {
	my ($session, $method, $params) = @_;
	my $id = ++$cdp_id;
	my $msg = { id => $id, method => $method, params => $params // {} };
	$msg->{sessionId} = $session if defined $session;
	print $cdp_in JSON::PP::encode_json($msg), "\0" or die "writing to Chromium: $!\n";
	my $deadline = time + 30;
	while (my $m = cdp_read($deadline)) {
		if (($m->{id} // 0) == $id) {
			die "$method: $m->{error}{message}\n" if $m->{error};
			return $m->{result};
		}
		push @events, $m if $m->{method};
	}
	die "$method: no answer from Chromium\n";
}

# The value of a JavaScript expression in the page.
sub js {
	my ($session, $expr) = @_;
	my $r = cdp($session, 'Runtime.evaluate',
	    { expression => $expr, returnByValue => JSON::PP::true, awaitPromise => JSON::PP::true });
	return $r->{result}{value};
}

sub cdp_stop {
	return unless $cdp_pid;
	eval { cdp(undef, 'Browser.close') };
	close $cdp_in;
	my $deadline = time + 10;
	sleep 0.05 while waitpid($cdp_pid, POSIX::WNOHANG()) == 0 && time < $deadline;
	kill 'KILL', $cdp_pid if kill 0, $cdp_pid;
	waitpid($cdp_pid, 0);
	$cdp_pid = 0;
}

# What the page said on the console or logged as an error or warning.
sub complaints {
	my @c;
	for my $e (@events) {
		my $m = $e->{method};
		if ($m eq 'Runtime.consoleAPICalled') {
			push @c, "console.$e->{params}{type}: "
			    . join(' ', map { $_->{value} // $_->{description} // '' } @{ $e->{params}{args} });
		} elsif ($m eq 'Runtime.exceptionThrown') {
			push @c, 'exception: ' . ($e->{params}{exceptionDetails}{exception}{description}
			    // $e->{params}{exceptionDetails}{text});
		} elsif ($m eq 'Log.entryAdded' && $e->{params}{entry}{level} =~ /^(?:error|warning)$/) {
			push @c, "log $e->{params}{entry}{level}: $e->{params}{entry}{text}";
		}
	}
	return @c;
}

sub screenshot {
	my ($session, $png, $width, $height, $mobile) = @_;
	cdp($session, 'Emulation.setDeviceMetricsOverride', { width => $width, height => $height,
	    deviceScaleFactor => 1, mobile => $mobile ? JSON::PP::true : JSON::PP::false });
	# after the layout for the new size, and the next poll's drawing
	my $polls = js($session, 'document.documentElement.getAttribute("data-polls")');
	wait_for(sub { js($session, 'document.documentElement.getAttribute("data-polls")') ne $polls },
	    10, 0.2);
	save_screenshot($session, $png);
}

sub save_screenshot {
	my ($session, $png) = @_;
	my $shot = cdp($session, 'Page.captureScreenshot', { format => 'png' });
	open my $fh, '>:raw', $png or die "$png: $!\n";
	print $fh MIME::Base64::decode_base64($shot->{data});
	close $fh or die "$png: $!\n";
}

sub browser_tests {
	require MIME::Base64;
	my $url = "http://127.0.0.1:$port/status";
	traffic();
	cdp_start();
	my $target = cdp(undef, 'Target.createTarget', { url => 'about:blank' })->{targetId};
	my $s = cdp(undef, 'Target.attachToTarget',
	    { targetId => $target, flatten => JSON::PP::true })->{sessionId};
	cdp($s, $_) for qw(Runtime.enable Log.enable Page.enable);
	cdp($s, 'Emulation.setDeviceMetricsOverride',
	    { width => 1280, height => 900, deviceScaleFactor => 1, mobile => JSON::PP::false });
	cdp($s, 'Page.navigate', { url => $url });

	# Each chart draws a point per poll after the first: wait for three.
	my $points = 'JSON.stringify(Array.from(document.querySelectorAll(".chart"),'
	    . ' function (c) { return +(c.getAttribute("data-points") || 0); }))';
	my $drawn = wait_for(sub {
		my $n = eval { JSON::PP::decode_json(js($s, $points) // '[]') } // [];
		@$n == 3 && !grep { $_ < 3 } @$n;
	}, 60, 0.5);
	ok($drawn, 'the three charts drew at least three points each (four polls)')
	    or diag(js($s, $points));
	my $dom = js($s, 'document.documentElement.outerHTML') // '';
	like($dom, qr/<tr data-server="\Q$alive\E" data-state="up">/, 'the live server is in the table, up');
	like($dom, qr/<tr data-server="\Q$dead\E" data-state="down">/, 'the dead one too, down');
	like($dom, qr/>DOWN \(check\)</, '... said in words, not only in colour');
	like($dom, qr/data-upstream="app"/, 'the upstream is named');
	like($dom, qr/<td class="tl"[^>]*>main<\/td>/, 'the cache zone is listed');
	like($dom, qr/<td class="tl"[^>]*>limit_req=perip<\/td>/, 'the limit zone too');
	like($dom, qr/<html[^>]* data-errors="0"/, 'the page recorded no error or warning of its own')
	    or diag($dom =~ /data-error-text="([^"]*)"/);
	like($dom, qr/<html[^>]* data-stale="0"/, 'and is not stale');
	like(js($s, 'document.getElementById("k-rps").textContent'), qr/^[0-9][0-9,.]*$/,
	     'the request rate shows a number');

	my $artifacts = dirname(abs_path(portico_bin())) . '/t/artifacts';
	make_path($artifacts);
	for my $shot (['desktop', 1280, 900, 0, 'light'], ['phone', 390, 844, 1, 'light'],
	    ['dark', 1280, 900, 0, 'dark']) {
		my ($name, $w, $h, $mobile, $scheme) = @$shot;
		my $png = "$artifacts/status-page-$name.png";
		unlink $png;
		cdp($s, 'Emulation.setEmulatedMedia',
		    { features => [{ name => 'prefers-color-scheme', value => $scheme }] });
		screenshot($s, $png, $w, $h, $mobile);
		ok(-s $png, "a $name screenshot (${w}x$h)");
		diag("status page screenshot: $png");
		ok(!js($s, 'document.documentElement.scrollWidth > window.innerWidth'),
		   '... and the page does not scroll sideways') if $mobile;
	}
	my @c = complaints();
	is(scalar(@c), 0, 'no console message, exception or logged error in the browser')
	    or diag(join("\n", @c));
	traffic_stop();

	# portico gone: the page says its figures are stale, and says so
	# without a console message of its own (only the browser's own line
	# about the failed connection, once per try).
	cdp($s, 'Emulation.setDeviceMetricsOverride',
	    { width => 1280, height => 900, deviceScaleFactor => 1, mobile => JSON::PP::false });
	@events = ();
	$p->stop;
	ok(wait_for(sub { (js($s, 'document.documentElement.getAttribute("data-stale")') // '') eq '1' },
	    30, 0.5), 'with portico stopped, the page turns stale');
	ok(js($s, 'getComputedStyle(document.getElementById("banner")).display !== "none"'),
	   '... with its banner shown');
	like(js($s, 'document.getElementById("banner").textContent'), qr/^Stale: /, '... saying so');
	@c = complaints();
	note("the browser said: $_") for @c;
	@c = grep { !/^log error: Failed to load resource: net::ERR_[A-Z_]+$/ } @c;
	is(scalar(@c), 0, '... and with nothing on the console') or diag(join("\n", @c));
	save_screenshot($s, "$artifacts/status-page-stale.png");
	diag("status page screenshot: $artifacts/status-page-stale.png");
	cdp_stop();
}

SKIP: {
	if (!-x $chromium) {
		skip('no Chromium; PORTICO_SKIP_BROWSER=1', 1) if ($ENV{PORTICO_SKIP_BROWSER} // '') eq '1';
		fail("Chromium ($chromium) to test the page in a browser: "
		     . 'install the chromium package (.ci/deps), or set PORTICO_SKIP_BROWSER=1');
		last SKIP;
	}
	# a browser that stops answering fails the test, and nothing is
	# left running
	eval { browser_tests(); 1 } or fail("the browser test ran to its end: $@");
	traffic_stop();
	cdp_stop();
}

done_testing();
