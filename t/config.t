#!/usr/bin/perl

# The command line and the configuration checks: -t tells the truth, every
# mistake is reported as FILE:LINE in one run, -T prints a config portico
# accepts, -V prints the version.

use strict;
use warnings;

use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

# A good config (site blocks on one line so each error has one line).
my $good = <<'EOF';
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:app%%" { weight = 2 } }
site main { listen = {"http"}  hosts = {"example.test", "*"}  route "/" { upstream = "app" } }
EOF

my $p = Test::Portico->new(conf => $good);
my $conf = $p->conf_file;
my ($rc, $out, $err) = $p->run('-t');
is($rc, 0, '-t exits 0 on a good config');
like($err, qr/^portico: configuration file \Q$conf\E test is successful$/m,
    '-t says the test is successful');

($rc, $out, $err) = $p->run('-T');
is($rc, 0, '-T exits 0 on a good config');
like($out, qr/\Q127.0.0.1:${\ $p->port('http')}\E/, '-T prints the listen address');
like($out, qr/\Q127.0.0.1:${\ $p->port('app')}\E/, '-T prints the upstream server');
like($out, qr/example\.test/, '-T prints the site hosts');
my $dumped = Test::Portico->new;
$dumped->write_file('portico.conf', $out);
($rc, undef, $err) = run_portico('-t', '-c', $dumped->conf_file);
is($rc, 0, 'the config printed by -T is itself accepted') or diag($err);

($rc, $out) = run_portico('-V');
is($rc, 0, '-V exits 0');
like($out, qr/^portico version 0\.1\.0/m, '-V prints the version');

($rc, undef, $err) = run_portico('-t', '-c', $p->tmp . '/missing.conf');
isnt($rc, 0, '-t fails on a missing file');
like($err, qr/missing\.conf/, 'and names the missing file');

# Each broken config: the line (as written) and what the message names.
sub fails_at {
	my ($text, $file, $line, $re, $name, %files) = @_;
	my $b = Test::Portico->new(conf => $text, files => \%files);
	my $path = $file eq 'main' ? $b->conf_file : $b->tmp . "/$file";
	my ($rc, undef, $err) = $b->run('-t');
	subtest $name => sub {
		is($rc, 1, 'exit code 1');
		like($err, qr/^portico: \Q$path\E:$line: .*$re/m, "error at $file:$line");
		like($err, qr/^portico: configuration file \Q${\ $b->conf_file}\E test failed$/m,
		    'says the test failed');
	} or diag($err);
	return $err;
}

fails_at(<<'EOF', 'main', 3, qr/nope/, 'a route naming an unknown upstream');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:app%%" {} }
site main { route "/" { upstream = "nope" } }
EOF

fails_at(<<'EOF', 'main', 4, qr/ghost/, 'a site on an unknown listener');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:app%%" {} }

site main { listen = {"ghost"}  route "/" { upstream = "app" } }
EOF

fails_at(<<'EOF', 'main', 1, qr/address|99999/i, 'a bad listen address');
listen http { address = "127.0.0.1:99999" }
upstream app { server "127.0.0.1:%%PORT:app%%" {} }
site main { route "/" { upstream = "app" } }
EOF

fails_at(<<'EOF', 'main', 2, qr/address|not-an-address/i, 'a bad server address');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "not-an-address" {} }
site main { route "/" { upstream = "app" } }
EOF

fails_at(<<'EOF', 'main', 3, qr/app/, 'a duplicate upstream name (reported at the second)');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:app%%" {} }
upstream app { server "127.0.0.1:%%PORT:app2%%" {} }
site main { route "/" { upstream = "app" } }
EOF

fails_at(<<'EOF', 'main', 2, qr/http/, 'a duplicate listen name');
listen http { address = "127.0.0.1:%%PORT:http%%" }
listen http { address = "127.0.0.1:%%PORT:http2%%" }
upstream app { server "127.0.0.1:%%PORT:app%%" {} }
site main { route "/" { upstream = "app" } }
EOF

fails_at(<<'EOF', 'main', 4, qr/main/, 'a duplicate site name');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:app%%" {} }
site main { route "/" { upstream = "app" } }
site main { route "/" { upstream = "app" } }
EOF

fails_at(<<'EOF', 'main', 3, qr/./, 'a syntax error');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:app%%" {} }
site main { route "/" { upstream = } }
EOF

fails_at(<<'EOF', 'inc.conf', 2, qr/missing_up/, 'an error inside an included file',
listen http { address = "127.0.0.1:%%PORT:http%%" }
include("inc.conf")
EOF
    'inc.conf' => <<'EOF');
upstream app { server "127.0.0.1:%%PORT:app%%" {} }
site main { route "/" { upstream = "missing_up" } }
EOF

fails_at(<<'EOF', 'main', 2, qr/worker|number|lots/i, 'a bad number of workers');
listen http { address = "127.0.0.1:%%PORT:http%%" }
workers = "lots"
upstream app { server "127.0.0.1:%%PORT:app%%" {} }
site main { route "/" { upstream = "app" } }
EOF

# Several mistakes: all of them in one run.
my $err2 = fails_at(<<'EOF', 'main', 3, qr/nope1/, 'several errors: the first');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "127.0.0.1:%%PORT:app%%" {} }
site one { route "/" { upstream = "nope1" } }
site two { listen = {"ghost2"}  route "/" { upstream = "app" } }
EOF
like($err2, qr/:4: .*ghost2/, 'several errors: the second is reported in the same run');

done_testing;
