#!/usr/bin/perl

# The Debian package, built and used the way an operator would: build it
# with dpkg-buildpackage from a copy of the source tree, check it with
# lintian, install it, then drive portico through its init script (start,
# reload, a refused reload, configtest, status, rotate, upgrade, restart,
# stop) in front of a test backend on 127.0.0.1, reinstall it while it
# runs (the postinst replaces the binary without dropping a request),
# reinstall it while its port is taken (the installation must not fail),
# and purge it.
#
# This installs and removes the package "portico" on this machine: it runs
# only as root, with the Debian build tools, and when no portico is
# installed already. Whatever happens, the END block stops portico, purges
# the package and puts back what it changed (policy-rc.d, the portico user).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Socket::IP;
use POSIX ();
use Test::More;
use Test::Portico;
use Test::Portico::Client;
use Test::Portico::Loop;
use Time::HiRes qw(time);

my $BIN = '/usr/sbin/portico';
my $INIT = '/etc/init.d/portico';
my $CONF = '/etc/portico/portico.conf';
my $PIDFILE = '/run/portico.pid';
my $LOGDIR = '/var/log/portico';
my $POLICY = '/usr/sbin/policy-rc.d';
my $POLICY_SAVED = "$POLICY.portico-test-saved";
my $MARK = 'written by portico t/package.t';

sub in_path {
	my ($prog) = @_;
	return (grep { -x "$_/$prog" } split /:/, $ENV{PATH} // '')[0];
}

sub slurp {
	my ($path) = @_;
	open my $fh, '<', $path or return '';
	local $/;
	return scalar(<$fh>) // '';
}

sub spew {
	my ($path, $text) = @_;
	open my $fh, '>', $path or die "$path: $!\n";
	print $fh $text;
	close $fh or die "$path: $!\n";
}

sub pkg_status {
	my $s = `dpkg-query -W -f='\${db:Status-Status}' portico 2>/dev/null`;
	return $s eq '' ? 'not-installed' : $s;
}

my $src = $ENV{PORTICO_SRCDIR} // dirname(dirname(abs_path(__FILE__)));

# A leftover of a run that was killed (SIGKILL skips END): our policy-rc.d.
sub restore_policy {
	return unless slurp($POLICY) =~ /\Q$MARK\E/;
	if (-e $POLICY_SAVED) {
		rename $POLICY_SAVED, $POLICY or warn "rename $POLICY_SAVED: $!\n";
	} else {
		unlink $POLICY;
	}
}
restore_policy() if $> == 0;

plan skip_all => 'inside a package build (PORTICO_DEB_BUILD is set by debian/rules)'
    if $ENV{PORTICO_DEB_BUILD};
plan skip_all => 'installs a package: needs root' unless $> == 0;
for my $tool (qw(dpkg-buildpackage dh dpkg invoke-rc.d start-stop-daemon)) {
	plan skip_all => "no $tool (apt-get install debhelper dpkg-dev)" unless in_path($tool);
}
plan skip_all => "no debian/ directory in $src" unless -f "$src/debian/control";
plan skip_all => 'a portico package is already here (' . pkg_status() . '): not ours to replace'
    unless pkg_status() eq 'not-installed';
for my $path ($BIN, '/etc/portico', $INIT, $PIDFILE) {
	plan skip_all => "$path exists (not from a package): not ours to replace" if -e $path;
}

my $tmp = tempdir('portico-package-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{PORTICO_TEST_KEEP});
chmod 0755, $tmp;
my $user_existed = defined getpwnam('portico');
my $touched = 0;	# the package may be installed: END must clean up
my $t0 = time;

# The init script must not hand over to systemctl (none runs here; the
# variable's name changed between releases of init-system-helpers).
$ENV{SYSTEMCTL_SKIP_REDIRECT} = $ENV{_SYSTEMCTL_SKIP_REDIRECT} = 1;
$ENV{DEBIAN_FRONTEND} = 'noninteractive';

# run($timeout, @cmd) -> ($exit_code, $stdout_and_stderr). Killed (with
# its process group) after $timeout seconds.
sub run {
	my ($timeout, @cmd) = @_;
	my $out = "$tmp/run.out";
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		setpgrp(0, 0);
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', $out;
		open STDERR, '>&', \*STDOUT;
		exec @cmd or POSIX::_exit(127);
	}
	my $status;
	wait_for(sub { waitpid($pid, POSIX::WNOHANG()) == $pid and $status = $?, 1 }, $timeout, 0.05)
	    or do {
		kill 'KILL', -$pid;
		waitpid($pid, 0);
		return (-1, slurp($out) . "\n(killed after $timeout s)");
	};
	return ($status & 127 ? 128 + ($status & 127) : $status >> 8, slurp($out));
}

sub init {
	my ($action) = @_;
	return run(60, $INIT, $action);
}

# Processes of the installed binary (of this package, not of other tests'
# builds), the old binary's after a package upgrade included.
sub installed_pids {
	opendir my $d, '/proc' or return ();
	return grep {
		/^\d+$/ && (readlink("/proc/$_/exe") // '') =~ m{^\Q$BIN\E(?: \(deleted\))?$}
	} readdir $d;
}

# The master's pid from the pid file, when it is a live portico master.
sub master_pid {
	my ($file) = @_;
	my ($pid) = slurp($file // $PIDFILE) =~ /^(\d+)\s*$/ or return undef;
	my $st = Test::Portico::proc_stat($pid) or return undef;
	return $st->{comm} eq 'portico-master' && $st->{state} ne 'Z' ? $pid : undef;
}

sub workers {
	my ($master) = @_;
	return map { $_->{pid} } grep { $_->{comm} eq 'portico-worker' }
	    Test::Portico::children_of($master);
}

sub uids { proc_ids($_[0], 'Uid') }

# Our policy-rc.d, for the length of the test: invoke-rc.d (used by the
# maintainer scripts) asks it whether it may act on a service. portico is
# denied while $DENY exists (the first installation must not start it with
# the default configuration, on port 80), allowed otherwise (in a
# container invoke-rc.d would refuse "start" anyway: no runlevel). Other
# services get what the machine's own policy-rc.d says, or are denied.
my $DENY = "$tmp/deny-portico";
sub install_policy {
	if (-e $POLICY) {
		rename $POLICY, $POLICY_SAVED or die "rename $POLICY: $!\n";
	}
	spew($POLICY, <<"EOF");
#!/bin/sh
# $MARK, for the length of the test;
# the machine's own policy-rc.d, if any, is $POLICY_SAVED meanwhile.
while [ "\${1#--}" != "\$1" ]; do shift; done
if [ "\$1" = portico ]; then
	[ -e $DENY ] && exit 101
	exit 0
fi
[ -x $POLICY_SAVED ] && exec $POLICY_SAVED "\$@"
exit 101
EOF
	chmod 0755, $POLICY;
}

END {
	if ($touched) {
		local $?;
		if (-x $INIT) {
			my ($rc, $out) = run(60, $INIT, 'stop');
			diag("END: $INIT stop: $out") if $rc;
		}
		kill 'KILL', installed_pids();
		if (pkg_status() ne 'not-installed') {
			my ($rc, $out) = run(120, 'dpkg', '--purge', 'portico');
			diag("END: dpkg --purge portico failed: $out") if $rc;
		}
		restore_policy();
		if (!$user_existed && defined getpwnam('portico')) {
			system('userdel', 'portico');
			system('groupdel', 'portico') if defined getgrnam('portico');
		}
	}
}

# ---- build ----

# A copy of the source tree: the source directory may be read-only
# (distcheck), and the build writes next to it (../*.deb).
my $tree = "$tmp/build/portico-0.1.0";
mkdir "$tmp/build" or die "$tmp/build: $!\n";
mkdir $tree or die "$tree: $!\n";
my ($rc, $out) = run(120, 'sh', '-c', 'tar -C "$1" --exclude=./.git --exclude="./_build*" '
    . '--exclude=./autom4te.cache --exclude=./t/fuzz/run --exclude="./portico-*" -cf - . '
    . '| tar -C "$2" -xf - && chmod -R u+w "$2"', 'copy', $src, $tree);
is($rc, 0, "the source tree is copied to $tree") or diag($out);

{
	# What the surrounding "make check" exported must not reach the
	# package's own make (jobserver descriptors, the binary under test).
	my @drop = qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES PORTICO_BIN PORTICO_SRCDIR);
	local @ENV{ @drop, 'DEB_BUILD_OPTIONS' };
	delete @ENV{@drop};
	$ENV{DEB_BUILD_OPTIONS} = 'nocheck parallel=2';
	my $t = time;
	($rc, $out) = run(600, 'sh', '-c', 'cd "$1" && dpkg-buildpackage -us -uc -b', 'build', $tree);
	is($rc, 0, sprintf('dpkg-buildpackage -us -uc -b builds the package (%.0f s)', time - $t))
	    or diag(join "\n", (split /\n/, $out)[-40 .. -1]);
}
my ($deb) = glob("$tmp/build/portico_*.deb");
ok($deb && -f $deb, 'it made portico_*.deb') or do { done_testing(); exit 1 };
my ($changes) = glob("$tmp/build/portico_*.changes");

SKIP: {
	skip 'no lintian (apt-get install lintian)', 2 unless in_path('lintian');
	my $t = time;
	($rc, $out) = run(300, 'lintian', '--info', '--pedantic', '--display-experimental',
	    $changes // $deb);
	my @errors = grep { /^E: / } split /\n/, $out;
	ok(!@errors, sprintf('lintian reports no errors (%.0f s)', time - $t))
	    or diag(join "\n", @errors);
	# Each tag left is either fixed or overridden, with the reason, in
	# debian/*lintian-overrides.
	my @rest = grep { /^[WIXP]: / } split /\n/, $out;
	ok(!@rest, 'lintian --pedantic --display-experimental: no other tag either')
	    or diag(join "\n", @rest);
}

# ---- install ----

$touched = 1;
install_policy();
spew($DENY, '');
($rc, $out) = run(120, 'dpkg', '-i', $deb);
is($rc, 0, 'dpkg -i installs it') or do { diag($out); done_testing(); exit 1 };
unlink $DENY;
is(pkg_status(), 'installed', 'the package is installed');
ok(!installed_pids(), 'policy-rc.d kept the postinst from starting it');

ok(-x $BIN, "$BIN is installed");
ok(-f $CONF, "$CONF is installed");
like(`dpkg-query -W -f='\${Conffiles}' portico`, qr{^\s*\Q$CONF\E\s}m, "$CONF is a conffile");
like(slurp($CONF), qr/^user = "portico"$/m, 'it runs the workers as portico');
ok(-x $INIT, "$INIT is installed");
ok(-f '/lib/systemd/system/portico.service', 'the systemd unit is installed');
like(slurp('/etc/logrotate.d/portico'), qr{^/var/log/portico/\*\.log \{}m,
    'the logrotate file covers /var/log/portico/*.log');
ok(-f '/usr/share/man/man8/portico.8.gz', 'portico(8) is installed');
ok(-f '/usr/share/man/man5/portico.conf.5.gz', 'portico.conf(5) is installed');
my @st = stat $LOGDIR;
ok(@st && -d _, "$LOGDIR exists");
is(@st ? sprintf('%s:%s %04o', scalar getpwuid($st[4]), scalar getgrgid($st[5]), $st[2] & 07777) : '',
    'root:adm 0750', "$LOGDIR is root:adm, 0750");
my @pw = getpwnam('portico');
ok(@pw, 'the portico user exists');
my ($uid, $gid) = @pw[2, 3];
ok(@pw && $uid < 1000, "portico is a system user (uid $uid)");
is(@pw ? "$pw[7] $pw[8]" : '', '/nonexistent /usr/sbin/nologin', 'with no home and no shell');
is(scalar getgrgid($gid // -1), 'portico', 'its primary group is portico');
ok(scalar(() = glob('/etc/rc2.d/S[0-9][0-9]portico')), 'the init script is enabled (rc2.d)');
($rc, $out) = run(30, $BIN, '-t');
is($rc, 0, 'the installed configuration passes portico -t') or diag($out);
# dh_auto_configure passes --includedir=\${prefix}/include and friends.
($rc, $out) = run(30, $BIN, '-V');
like($out, qr{^configure arguments: .*'--includedir=\$\{prefix\}/include'}m,
    'portico -V quotes the configure arguments as the shell reads them back') or diag($out);

# A binary upgrade starts a new master in the unit and the old one exits:
# systemd must not take that for the end of the service (and kill the new
# one), which ExitType=cgroup sees to.
my $unit = slurp('/lib/systemd/system/portico.service');
like($unit, qr/^ExitType=cgroup$/m, 'the unit outlives the first master (binary upgrade)');
like($unit, qr/^Restart=on-failure$/m, 'the unit restarts a failed portico');

SKIP: {
	skip 'no systemd-analyze', 1 unless in_path('systemd-analyze');
	($rc, $out) = run(60, 'systemd-analyze', 'verify', '/lib/systemd/system/portico.service');
	# Outside a booted systemd (a container) it may complain about its
	# environment; errors of the unit itself name its file and line, or
	# a command it cannot execute.
	my @bad = grep { /portico\.service:\d+:|is not executable/ } split /\n/, $out;
	ok(!@bad, 'systemd-analyze verify finds no error in the unit') or diag($out);
	note("systemd-analyze: $out") if length $out;
}

# ---- run it ----

my $h = Test::Portico->new;	# ports and backends on 127.0.0.1
my $port = $h->port('http');
my $mon_port = $h->port('mon');
my $default_conf = slurp($CONF);

# The installed configuration, listening on $port in front of backend $name.
sub conf_for {
	my ($name) = @_;
	my $c = $default_conf;
	my $addr = $h->backend($name)->address;
	$c =~ s/^(\s*address\s*=\s*)"0\.0\.0\.0:80"/$1"127.0.0.1:$port"/m or die "no listen address in $CONF\n";
	$c =~ s/^(\s*server\s*)"127\.0\.0\.1:8080"/$1"$addr"/m or die "no server in $CONF\n";
	$c =~ s/^workers = .*$/workers = 2/m;
	# The operator's listener (status page, metrics) on a free port too.
	$c =~ s/"127\.0\.0\.1:8081"/"127.0.0.1:$mon_port"/;
	return $c;
}

sub body {
	my $r = http_get($port, $_[0] // '/name', timeout => 5);
	return $r && $r->{status} == 200 ? $r->{body} : 'failed: ' . ($r ? $r->{status} : 'no answer');
}

spew($CONF, conf_for('a'));
($rc, $out) = init('start');
is($rc, 0, "$INIT start") or diag($out);
unlike($out, qr/\[(?:notice|info|debug)\]/, "$INIT start shows no line of less weight than a warning")
    or diag($out);
my $master = master_pid();
ok($master, "$PIDFILE names a live portico-master");
ok(wait_for(sub { body() eq 'a' }, 5), 'it proxies a request to the backend: 200 and its body');
# As logrotate's "create 0640 root adm" will make them.
for my $log ("$LOGDIR/error.log", "$LOGDIR/access.log") {
	my @ls = stat $log;
	is(@ls ? sprintf('%s:%s %04o', scalar getpwuid($ls[4]), scalar getgrgid($ls[5]), $ls[2] & 07777) : 'missing',
	    'root:adm 0640', "$log is created root:adm 0640");
}
# A worker drops its ids a moment after the fork: look once both have.
my $as_portico = join(',', (join ' ', ($uid) x 4) x 2);
my @w;
wait_for(sub { @w = workers($master // 0); @w == 2 && join(',', map { uids($_) } @w) eq $as_portico }, 10);
is(scalar(@w), 2, 'two workers');
is(join(',', map { uids($_) } @w), $as_portico, 'the workers run as portico');
is(uids($master // 0), '0 0 0 0', 'the master runs as root');
($rc, $out) = init('start');
is($rc, 0, 'start again: already running is fine') or diag($out);
is(master_pid(), $master, '... and changes nothing');

($rc, $out) = init('status');
is($rc, 0, 'status: 0 while running') or diag($out);
like($out, qr/running/, 'status says it is running');
($rc, $out) = init('configtest');
is($rc, 0, 'configtest: 0 for a good configuration') or diag($out);

# Reload: the new configuration takes effect.
spew($CONF, conf_for('b'));
($rc, $out) = init('reload');
is($rc, 0, 'reload with a changed configuration') or diag($out);
ok(wait_for(sub { body() eq 'b' }, 3), 'reload: the new configuration serves');
is(master_pid(), $master, 'reload: same master');

# A refused reload: reported, and the old configuration serves on.
my $good = slurp($CONF);
spew($CONF, $good . "no_such_option = 1\n");
($rc, $out) = init('reload');
isnt($rc, 0, 'reload with a broken configuration fails');
like($out, qr/\Q$CONF\E:\d+/, 'and prints the file:line of the error');
is(body(), 'b', 'the old configuration keeps serving');
($rc, $out) = init('configtest');
isnt($rc, 0, 'configtest fails for the broken configuration');
like($out, qr/\Q$CONF\E:\d+/, 'configtest prints the file:line of the error');
($rc, $out) = init('restart');
isnt($rc, 0, 'restart refuses a broken configuration');
is(master_pid(), $master, '... and leaves the running master alone');
spew($CONF, $good);

# logrotate: rotate the logs, the master reopens them (USR1).
SKIP: {
	skip 'no logrotate', 3 unless in_path('logrotate');
	ok(wait_for(sub { -s "$LOGDIR/access.log" }, 5), 'the access log fills');
	($rc, $out) = run(60, 'logrotate', '-f', '-s', "$tmp/logrotate.state", '/etc/logrotate.d/portico');
	is($rc, 0, 'logrotate -f rotates the logs') or diag($out);
	body() for 1 .. 3;
	ok(-s "$LOGDIR/access.log.1" && wait_for(sub { -s "$LOGDIR/access.log" }, 5),
	    'the master reopened its logs: new lines go to a new access.log');
}

# Requests backend b has answered so far.
sub served {
	return $h->backend("b")->request_count;
}

# Replace the running binary with $how (a sub); no request may fail.
sub upgrade_under_load {
	my ($what, $how) = @_;
	my $old = master_pid();
	my $load = Test::Portico::Loop->start($port, '/name');
	# Some requests before, and some after.
	my $before = served();
	my $flowed = wait_for(sub { served() >= $before + 20 }, 30);
	my ($rc, $out) = $how->();
	my $after = served();
	$flowed = wait_for(sub { served() >= $after + 20 }, 30) && $flowed;
	my ($n, @fail) = $load->finish;
	is($rc, 0, "$what exits 0") or diag($out);
	my $new = master_pid();
	ok($new && $old && $new != $old, "$what: a new master serves (pid " . ($old // '-') . ' -> ' . ($new // '-') . ')');
	ok($old && !Test::Portico::alive($old), "$what: the old master is gone");
	ok(!-e "$PIDFILE.oldbin", "$what: no $PIDFILE.oldbin left");
	ok($flowed, "$what: a client kept getting answers, before and after ($n requests)");
	ok(!@fail, "$what: not one failed") or diag("failures: @fail");
	is(body(), 'b', "$what: the new master serves the configuration");
	my @nw;
	wait_for(sub { @nw = workers($new // 0); @nw == 2 && join(',', map { uids($_) } @nw) eq $as_portico },
		 10);
	is(join(',', map { uids($_) } @nw), $as_portico, "$what: its workers run as portico");
	$master = $new;
}

upgrade_under_load("$INIT upgrade", sub { init('upgrade') });
# The postinst of an upgrade (here, a reinstall) does the same through
# invoke-rc.d while portico runs.
upgrade_under_load('dpkg -i while running (postinst upgrade)',
    sub { run(120, 'dpkg', '-i', '--force-confold', $deb) });

($rc, $out) = init('restart');
is($rc, 0, "$INIT restart") or diag($out);
my $restarted = master_pid();
ok($restarted && $restarted != $master, 'restart: a new master');
ok(wait_for(sub { body() eq 'b' }, 5), 'restart: it serves');

my @bad = grep { /\[(?:alert|emerg)\]/ } split /\n/, slurp("$LOGDIR/error.log");
ok(!@bad, "no [alert] or [emerg] in $LOGDIR/error.log") or diag(join "\n", @bad);

($rc, $out) = init('stop');
is($rc, 0, "$INIT stop") or diag($out);
my @left = installed_pids();
ok(!@left, 'stop: no portico process is left') or diag("left: @left");
ok(!-e $PIDFILE, "stop: $PIDFILE is removed");
ok(!-e "$PIDFILE.reload", "stop: $PIDFILE.reload (the verdict of the reloads above) is removed");
ok(!Test::Portico::Client->new($port, timeout => 2), 'stop: the port is closed');
($rc, $out) = init('status');
is($rc, 3, 'status: 3 when stopped') or diag($out);

# The default configuration listens on port 80, which another server may
# hold: the installation must succeed anyway, and say why portico is not
# running. Here the test holds the configured port.
{
	my $holder = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $port,
	    Listen => 5, ReuseAddr => 1, Proto => 'tcp') or die "listen on $port: $!\n";
	($rc, $out) = run(120, 'dpkg', '-i', '--force-confold', $deb);
	is($rc, 0, 'dpkg -i succeeds when portico cannot start (port taken)') or diag($out);
	like($out, qr/portico: not started/, '... and says portico is not running');
	is(pkg_status(), 'installed', '... and the package is installed');
	ok(!installed_pids(), '... and no portico runs');
	close $holder;
}

# ---- purge ----

# What a master killed with SIGKILL leaves behind: its last reload verdict.
spew("$PIDFILE.reload", "1.1 ok\n");
($rc, $out) = run(120, 'dpkg', '--purge', 'portico');
is($rc, 0, 'dpkg --purge portico') or diag($out);
is(pkg_status(), 'not-installed', 'the package is gone');
my @files = grep { -e $_ } ($BIN, '/etc/portico', $INIT, '/lib/systemd/system/portico.service',
    '/etc/logrotate.d/portico', '/usr/share/man/man8/portico.8.gz',
    '/usr/share/man/man5/portico.conf.5.gz', '/usr/share/doc/portico', $LOGDIR,
    $PIDFILE, "$PIDFILE.oldbin", "$PIDFILE.reload", glob('/etc/rc?.d/[SK][0-9][0-9]portico'),
    glob('/etc/systemd/system/*.wants/portico.service'));
ok(!@files, 'nothing of it is left: binary, configuration, scripts, unit, logs, rc links')
    or diag("left: @files");
ok(!installed_pids(), 'nothing runs');
# Debian keeps the system users of purged packages: files elsewhere may
# still belong to the uid. END removes it when this test created it.
ok(defined getpwnam('portico'), 'the portico user stays (Debian custom)');

note(sprintf 'package test took %.0f s', time - $t0);
done_testing;
