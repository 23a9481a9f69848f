#!/usr/bin/perl

# The command line an nginx operator types: -q (only errors while testing),
# -p PREFIX (where a relative -c is taken from), the long forms --test,
# --config, --help, --version (and --quiet, --prefix, --signal,
# --foreground), what -h says, and -V's configure line, which must read
# back as the arguments configure was given.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $p = Test::Portico->new(conf => <<'EOF');
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:a%%" {} }
site main {
	access_log = "logs/access.log"
	access_log_format = "portico"
	route "/" { upstream = "app" }
}
EOF
my $tmp = $p->tmp;
my $conf = $p->conf_file;
mkdir "$tmp/logs" or die "$tmp/logs: $!\n";
my $bad = $p->write_file('bad.conf', "listen http { address = \"127.0.0.1:1\" }\nno_such_option = 1\n");

# ==== help and version ====

my ($rc, $out, $err) = run_portico('-h');
is($rc, 0, '-h exits 0');
is($err, '', '-h writes nothing to stderr');
for my $opt (qw(-c --config -p --prefix -t --test -T -q --quiet -F --foreground
		-s --signal -V --version -h --help)) {
	like($out, qr/^\s+(?:-\w, )?\Q$opt\E\b/m, "-h lists $opt");
}
my ($rc2, $out2) = run_portico('--help');
is("$rc2 $out2", "$rc $out", '--help prints what -h prints');

($rc, $out) = run_portico('-V');
is($rc, 0, '-V exits 0');
like($out, qr/^portico version \S+\n/, '-V prints the version');
my ($args) = $out =~ /^configure arguments: (.*)$/m;
ok(defined $args, '-V prints the configure arguments');
($rc2, $out2) = run_portico('--version');
is("$rc2 $out2", "$rc $out", '--version prints what -V prints');

# The words of a shell command line, as sh reads them.
sub shell_words {
	my ($line) = @_;
	my $pid = open my $fh, '-|', 'sh', '-c', 'eval "set -- $1"; printf "%s\0" "$@"', 'sh', $line
	    or die "sh: $!\n";
	local $/;
	my $words = <$fh> // '';
	close $fh;
	return [split /\0/, $words];
}

SKIP: {
	# The build directory of the binary under test says what configure
	# was given (config.status --config quotes it for the shell).
	my $status = dirname(abs_path(portico_bin())) . '/config.status';
	skip "no $status beside the binary", 1 unless -x $status;
	chomp(my $given = `sh $status --config`);
	is_deeply(shell_words($args // ''), shell_words($given),
	    "-V's configure arguments read back as those config.status names ($given)");
}

# ==== -t, -T, -q and the long forms ====

($rc, $out, $err) = run_portico('-t', '-c', $conf);
is($rc, 0, '-t: a good configuration');
like($err, qr/^portico: configuration file \Q$conf\E test is successful$/m, '-t says it is');

($rc, $out, $err) = run_portico('-t', '-q', '-c', $conf);
is($rc, 0, '-t -q: a good configuration');
is("$out$err", '', '-t -q prints nothing when the test passes');

($rc, $out, $err) = run_portico('--test', '--quiet', "--config=$conf");
is("$rc $out$err", '0 ', '--test --quiet --config=FILE: the same');

($rc, $out, $err) = run_portico('-q', '-t', '-c', $bad);
is($rc, 1, '-t -q: a bad configuration fails');
like($err, qr/^portico: \Q$bad\E:2: .*no_such_option/m, '-t -q still prints the error, file:line');
like($err, qr/^portico: configuration file \Q$bad\E test failed$/m, '... and that the test failed');

($rc, $out, $err) = run_portico('--test', '--config', $bad);
is($rc, 1, '--test --config FILE: the bad configuration fails');
like($err, qr/^portico: \Q$bad\E:2:/m, '... with its error');

($rc, $out, $err) = run_portico('-T', '-q', '-c', $conf);
is($rc, 0, '-T -q: a good configuration');
like($out, qr/^site "main" \{/m, '-T -q prints the configuration');
is($err, '', '-T -q prints nothing else');

($rc, $out, $err) = run_portico('--no-such-option');
is($rc, 1, 'an unknown long option exits 1');
like($err, qr/^usage: portico/m, '... with the usage on stderr');

# ==== -p PREFIX ====

# run_portico's commands run in the test's working directory, not $tmp.
($rc, undef, $err) = run_portico('-t', '-c', 'portico.conf');
is($rc, 1, 'a relative -c is taken from the working directory');
($rc, undef, $err) = run_portico('-t', '-p', $tmp, '-c', 'portico.conf');
is($rc, 0, '-p PREFIX -c portico.conf: the file is taken from PREFIX') or diag($err);
($rc, undef, $err) = run_portico('--prefix', $tmp, '--test', '--config', 'portico.conf');
is($rc, 0, '--prefix PREFIX --config FILE: the same') or diag($err);
($rc, undef, $err) = run_portico('-t', '-p', "$tmp/none", '-c', 'portico.conf');
is($rc, 1, '-p with a missing directory fails');
like($err, qr{^portico: prefix "\Q$tmp\E/none": No such file or directory$}m, '... and says why');

# A master started with -p: the configuration is found again on reload,
# and its relative paths are under PREFIX (the configuration's directory).
{
	$p->start(argv => ['-p', $tmp, '-c', 'portico.conf']);
	my $pid = $p->master_pid;
	ok(http_get($p->port('http'), '/'), 'portico -F -p PREFIX -c portico.conf serves');
	ok(wait_for(sub { -s "$tmp/logs/access.log" }), 'the relative access_log is under PREFIX');
	($rc, $out, $err) = run_portico('-s', 'reload', '-q', '-p', $tmp, '-c', 'portico.conf');
	is("$rc $out$err", '0 ', '-s reload -q: reloaded, and nothing printed');
	($rc, $out, $err) = run_portico('--signal', 'reload', '--prefix', $tmp, '--config', 'portico.conf');
	is($rc, 0, '--signal reload');
	like($err, qr/^portico: configuration reloaded by master $pid$/m, '... says so without -q');
	ok($p->stop, 'it stops');
}

done_testing;
