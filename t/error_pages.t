#!/usr/bin/perl

# error_page: a site's own pages for portico's answers, read by the master
# at start and on reload; statuses without one keep the built-in page, and
# a server's own error answers pass as they are.

use strict;
use warnings;

use POSIX ();
use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $conf = <<'EOF';
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
upstream gone { server "127.0.0.1:%%PORT:closed%%" {} }
site s {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	error_page = {"404 413 e4xx.html", "502 503 504 %%TMP%%/e5xx.json"}
	client_max_body_size = "10"
	route "/app/" { upstream = "app" }
	route "/gone/" { upstream = "gone" }
}
site other {
	hosts = {"other.test"}
	route "/app/" { upstream = "app" }
}
EOF
my $p = Test::Portico->new(conf => $conf, files => {
	'e4xx.html' => "<p>not here</p>\n",
	'e5xx.json' => "{\"error\": \"down\"}\n",
})->start;
my $port = $p->port('http');

my $r = http_get($port, '/nowhere');
is($r->{status}, 404, 'a path no route takes: 404 ...');
is($r->{body}, "<p>not here</p>\n", '... with the site\'s page');
is($r->{header}{'content-type'}, 'text/html', '... as HTML');
is($r->{header}{'content-length'}, length "<p>not here</p>\n", '... and its length');

$r = http($port, method => 'POST', target => '/app/x', body_size => 100);
is($r->{status}, 413, 'one page serves every status listed with it (413)');
is($r->{body}, "<p>not here</p>\n", '... the same page');

$r = http_get($port, '/gone/x');
is($r->{status}, 502, 'a server that cannot be reached: 502 ...');
is($r->{body}, "{\"error\": \"down\"}\n", '... with the page listed for it');
is($r->{header}{'content-type'}, 'application/json', '... its type from the file\'s extension');

$r = http_get($port, '/app/status/404');
is($r->{status}, 404, 'a 404 of the server\'s own ...');
unlike($r->{body}, qr/not here/, '... keeps its own body: pages are for portico\'s answers');

$r = http_get($port, '/nowhere', host => 'other.test');
is($r->{status}, 404, 'a site without error_page ...');
like($r->{body}, qr{<h1>404 Not Found</h1>}, '... answers with the built-in page');

$r = http($port, method => 'HEAD', target => '/nowhere');
is($r->{status}, 404, 'HEAD gets the status ...');
is($r->{body} // '', '', '... and no body');

$p->write_file('e4xx.html', "<p>moved on</p>\n");
is(http_get($port, '/nowhere')->{body}, "<p>not here</p>\n",
   'a page changed on disk is not read by workers ...');
ok($p->reload_and_wait, '... until a reload');
is(http_get($port, '/nowhere')->{body}, "<p>moved on</p>\n", '... which reads it again');

# Errors name the file and line.
my $bad = Test::Portico->new(conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
site s {
	error_page = {"404 %%TMP%%/missing.html",
		"200 %%TMP%%/portico.conf",
		"404",
		"4044 x.html",
		"500 fifo.html"}
	route "/" { upstream = "app" }
}
EOF
POSIX::mkfifo($bad->tmp . '/fifo.html', 0600) or die "mkfifo: $!\n";
# run() kills a portico that takes 30 s and returns -1: a FIFO waited on
# fails here rather than hanging the test.
my ($rc, undef, $err) = $bad->run('-t');
ok($rc > 0, 'bad error pages are refused');
like($err, qr{portico\.conf:4: site "s": error_page: \S+/missing\.html: No such file},
     '... a missing file, at its line');
like($err, qr{portico\.conf:5: .*a status is 400 to 599}, '... a status that is no error');
like($err, qr{portico\.conf:6: .*write the statuses, then the file}, '... no file');
like($err, qr{portico\.conf:7: .*a status is 400 to 599}, '... not a status');
like($err, qr{portico\.conf:8: site "s": error_page: \S+/fifo\.html: not a regular file},
     '... a FIFO named by mistake, refused rather than waited on');

my $big = Test::Portico->new(conf => <<'EOF', files => { 'big.html' => 'x' x 20000 });
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:app%%" {} }
site s {
	error_page = {"500 big.html"}
	route "/" { upstream = "app" }
}
EOF
($rc, undef, $err) = $big->run('-t');
like($err, qr{portico\.conf:4: .*big\.html is over 16384 bytes}, 'a page over 16 KiB is refused');

($rc, my $out) = $p->run('-T');
like($out, qr{error_page = \{"404 413 /\S+/e4xx\.html", "502 503 504 /\S+/e5xx\.json"\}},
     '-T writes the pages back, paths made absolute');

done_testing;
