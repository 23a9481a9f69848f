#!/usr/bin/perl

# What the master says while it starts and what it leaves behind. Before it
# has started, warnings and worse go to stderr (the terminal, the init
# script's output, the journal) as well as to the error log; lines of less
# weight (shared memory zone sizes, "started") go to the error log only. A
# port in use is such an error: on stderr and in the error log. The log
# files it creates are mode 0640, group adm when the system has that group,
# as logrotate's "create 0640 root adm" makes them; a file that exists keeps
# its mode. The reload verdict file (<pid_file>.reload) goes with the
# master that wrote it, and only with that one.

use strict;
use warnings;

use IO::Socket::IP;
use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $conf = <<'EOF';
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream app { server "%%BACKEND:a%%" {} }
site main {
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	route "/" { upstream = "app" }
}
EOF

# Lines of $text below the level of a warning.
sub quiet_lines {
	my ($text) = @_;
	return grep { /\S/ && !/\[(?:warn|error|crit|alert|emerg)\]/ } split /\n/, $text;
}

# ==== the console while starting ====

for my $mode ('foreground', 'daemon') {
	my $p = Test::Portico->new(conf => $conf)->start(daemon => $mode eq 'daemon');
	ok(wait_for(sub { $p->error_log =~ /\[notice\] \d+ master: portico \S+ started/ }),
	    "$mode: the error log says the master started");
	like($p->error_log, qr/\[info\] \d+ master: shared memory zone "health": \d+ KiB/,
	    "$mode: the error log has the master's [info] lines (shared memory zones)");
	my @loud = quiet_lines($p->stderr_text);
	ok(!@loud, "$mode: nothing below a warning reached stderr") or diag(join "\n", @loud);
	$p->stop;
}

# ==== a port in use: stderr and the error log ====

{
	my $p = Test::Portico->new(conf => $conf);
	my $port = $p->port('http');
	my $holder = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $port,
	    Proto => 'tcp', Listen => 5, ReuseAddr => 1) or die "listen on $port: $!\n";
	for my $mode ('foreground', 'daemon') {
		unlink $p->error_log_file;
		my ($rc, $out, $err) = $p->run($mode eq 'daemon' ? () : '-F');
		is($rc, 1, "$mode: a port in use: the master exits with status 1");
		my $msg = qr/\[emerg\] \d+ master: bind\(\) to 127\.0\.0\.1:$port failed \(98: Address already in use\)/;
		like($err, $msg, "$mode: a port in use: the reason is on stderr");
		like($p->error_log, $msg, "$mode: a port in use: the reason is in the error log");
		my @loud = quiet_lines($err);
		ok(!@loud, "$mode: and nothing below a warning is on stderr") or diag(join "\n", @loud);
		ok(!-e $p->pid_file, "$mode: no pid file is left");
	}
	close $holder;
}

# ==== the mode and group of the log files ====

my ($adm) = (getgrnam('adm'))[2];
# The group a new file gets: adm when there is one and we may give it.
my $group = defined $adm && $> == 0 ? $adm : (split ' ', $))[0];

sub mode_and_group {
	my ($path) = @_;
	my @st = stat $path or return 'missing';
	return sprintf '%04o %s', $st[2] & 07777, scalar(getgrgid($st[5])) // $st[5];
}

{
	my $p = Test::Portico->new(conf => $conf);
	my $tmp = $p->tmp;
	my $want = sprintf '0640 %s', scalar(getgrgid($group)) // $group;
	# An access log that is there already keeps its mode and group.
	open my $fh, '>', "$tmp/access.log" or die "$tmp/access.log: $!\n";
	close $fh;
	chmod 0600, "$tmp/access.log";
	my $before = mode_and_group("$tmp/access.log");
	umask 022;
	$p->start;
	is(mode_and_group($p->error_log_file), $want,
	    "a new error log is created $want (logrotate's mode and group)");
	is(mode_and_group("$tmp/access.log"), $before, 'an existing access log keeps its mode and group');

	# Rotation: renamed, reopened by USR1, the new files are made alike.
	rename "$tmp/access.log", "$tmp/access.log.1" or die "rename: $!\n";
	rename $p->error_log_file, "$tmp/error.log.1" or die "rename: $!\n";
	$p->signal('USR1');
	ok(wait_for(sub { -e "$tmp/access.log" && -e $p->error_log_file }),
	    'USR1 reopens the logs under their names');
	is(mode_and_group("$tmp/access.log"), $want, "a reopened access log is created $want");
	is(mode_and_group($p->error_log_file), $want, "a reopened error log is created $want");
	$p->stop;
}

# ==== the reload verdict goes with its master ====

sub verdict_of {
	my ($p) = @_;
	open my $fh, '<', $p->pid_file . '.reload' or return undef;
	my $line = <$fh> // return undef;
	return $line =~ /^(\d+)\.\d+ (?:ok|failed)$/ ? $1 : "unreadable: $line";
}

{
	my $p = Test::Portico->new(conf => $conf)->start;
	my ($rc, undef, $err) = $p->run('-s', 'reload');
	is($rc, 0, '-s reload') or diag($err);
	is(verdict_of($p), $p->master_pid, 'the master wrote its verdict in <pid_file>.reload');
	ok($p->stop, 'the master stops');
	ok(!-e $p->pid_file . '.reload', 'and takes <pid_file>.reload with it');
	ok(!-e $p->pid_file . '.reload.tmp', 'leaving no <pid_file>.reload.tmp either');
}

{
	# During a binary upgrade the masters share the path: the old one,
	# leaving, must not take the new one's verdict.
	my $p = Test::Portico->new(conf => $conf)->start;
	my $old = $p->master_pid;
	$p->run('-s', 'reload');
	$p->signal('USR2');
	my $new;
	ok(wait_for(sub {
		$new = $p->master_pid;
		$new && $new != $old && -e $p->pid_file . '.oldbin';
	}, 15), 'USR2: a new master owns the pid file');
	$p->follow_pid_file;
	ok(wait_for(sub { $p->worker_pids }, 15), 'the new master has its workers');
	my ($rc, undef, $err) = $p->run('-s', 'reload');
	is($rc, 0, '-s reload to the new master') or diag($err);
	is(verdict_of($p), $new, 'the verdict is the new master\'s');
	kill 'QUIT', $old;
	ok(wait_for(sub { !Test::Portico::alive($old) }, 15), 'the old master quits');
	is(verdict_of($p), $new, 'the new master\'s verdict is still there');
	ok($p->stop, 'the new master stops');
	ok(!-e $p->pid_file . '.reload', 'and takes its verdict with it');
}

done_testing;
