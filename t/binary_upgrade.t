#!/usr/bin/perl

# Binary upgrade (USR2) under load, nginx's way: the master renames its pid
# file to .oldbin and executes the binary on disk with the listening
# sockets inherited; both generations serve until WINCH + QUIT retire the
# old one, or HUP + QUIT of the new one roll back. A new binary that fails
# to start leaves the old master serving and owning its pid file.

use strict;
use warnings;

use File::Copy qw(copy);
use Test::More;
use Test::Portico;
use Test::Portico::Wrk;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();
plan skip_all => 'wrk is not installed (.ci/deps installs it)' unless Test::Portico::Wrk->path;

# The binary runs from a copy that the test replaces on disk, as a package
# upgrade does: USR2 must execute the file now at that path.
my $bin_dir = File::Temp::tempdir('portico-bin-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $bin = "$bin_dir/portico";
copy(portico_bin(), $bin) && chmod(0755, $bin) or die "copying the binary: $!\n";
$Test::Portico::BIN = $bin;

sub replace_binary {
	copy(portico_bin(), "$bin.new") && chmod(0755, "$bin.new") && rename("$bin.new", $bin)
	    or die "replacing the binary: $!\n";
	return (stat $bin)[1];
}

my $conf = <<'EOF';
workers = 2
shutdown_timeout = "5s"
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream a { server "%%BACKEND:a%%" {} }
upstream b { server "%%BACKEND:b%%" {} }
site main { route "/" { upstream = "%%UP%%" } }
EOF
my $p = Test::Portico->new(conf => $conf =~ s/%%UP%%/a/r)->start;
my $port = $p->port('http');
my $pid_file = $p->pid_file;
my $url = "http://127.0.0.1:$port/name";
$p->allow_log(qr/new master \(pid \d+\) (?:exited with status|killed by signal)/);
$p->allow_log(qr/binary upgrade: execv\(".*"\) failed/);

sub pid_in {
	my ($file) = @_;
	open my $fh, '<', $file or return undef;
	my $pid = <$fh> // return undef;
	return $pid =~ /^(\d+)$/ ? $1 : undef;
}

sub workers_of {
	my ($master) = @_;
	return map { $_->{pid} } grep { $_->{comm} eq 'portico-worker' }
	    Test::Portico::children_of($master);
}

# The inode of the socket listening on $port, and the processes holding it.
sub listener_inode {
	for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
		open my $fh, '<', $f or next;
		while (<$fh>) {
			my @x = split ' ';
			return $x[9] if $x[1] =~ /:([0-9A-F]{4})$/ && hex($1) == $port && $x[3] eq '0A';
		}
	}
	return undef;
}

sub holds_inode {
	my ($pid, $inode) = @_;
	opendir my $d, "/proc/$pid/fd" or return 0;
	return scalar grep { (readlink("/proc/$pid/fd/$_") // '') eq "socket:[$inode]" } readdir $d;
}

# USR2 to $old; returns the new master's pid once it serves with its
# $workers workers (undef if none came).
sub upgrade {
	my ($old, $workers) = @_;
	kill 'USR2', $old;
	my $new;
	wait_for(sub {
		$new = pid_in($pid_file);
		$new && $new != $old && workers_of($new) == ($workers // 2)
	}, 15) or return undef;
	return $new;
}

# Requests the backends have answered so far.
sub answered { $p->backend('a')->request_count + $p->backend('b')->request_count }

# Whether the load still gets answers: 50 more than now reach a backend.
sub load_flows {
	my $n = answered();
	return wait_for(sub { answered() >= $n + 50 }, 30);
}

sub served_by {
	my ($expect, $tries) = @_;
	return wait_for(sub { my $r = http_get($port, '/name'); $r && $r->{body} eq $expect }, $tries // 5);
}

# ==== 1. A full upgrade under load: USR2, then WINCH and QUIT the old ====

my $m1 = $p->master_pid;
my @w1 = $p->wait_workers(2);
my $inode = listener_inode();
my $new_ino = replace_binary();
my $load = Test::Portico::Wrk->start($url, duration => 60, connections => 16);
ok(wait_for(sub { $p->backend("a")->request_count > 50 }, 10), 'wrk is loading portico');

my $m2 = upgrade($m1);
ok($m2, 'USR2: a new master writes the pid file and starts its two workers');
is(pid_in("$pid_file.oldbin"), $m1, 'the old master\'s pid is in portico.pid.oldbin');
is(Test::Portico::proc_stat($m2)->{ppid}, $m1, 'the new master is a child of the old one');
is((stat "/proc/$m2/exe")[1], $new_ino, 'it runs the binary now on disk');
like(readlink("/proc/$m1/exe") // '', qr/\(deleted\)$/, 'while the old master still runs the replaced one');
is(listener_inode(), $inode, 'the listening socket is the same one: never closed, never bound again');
ok(holds_inode($m2, $inode) && grep({ holds_inode($_, $inode) } workers_of($m2)) == 2,
    'the new master and its workers hold it');
is(join(' ', sort(workers_of($m1))), join(' ', sort @w1), 'the old workers still serve beside them');
unlike($p->error_log, qr/bind\(\)/, 'no bind() was attempted');

kill 'USR2', $m2;
ok(wait_for(sub { $p->error_log =~ /binary upgrade refused: the old master pid $m1 still runs/ }, 5),
    'USR2 to the new master while the old one runs: refused');
kill 'USR2', $m1;
ok(wait_for(sub { $p->error_log =~ /binary upgrade refused: new master pid $m2 is running/ }, 5),
    'a second USR2 to the old master: refused');
ok(!grep({ $_->{comm} eq 'portico-master' } Test::Portico::children_of($m2)),
    'no third master was started');

kill 'WINCH', $m1;
ok(wait_for(sub { !workers_of($m1) }, 10), 'WINCH: the old master\'s workers finish and exit');
ok(Test::Portico::alive($m1), 'the old master stays, for a rollback');
ok(!grep({ Test::Portico::alive($_) } @w1) && !workers_of($m1), 'and does not respawn them');
ok(served_by('a'), 'the new workers serve alone');

kill 'QUIT', $m1;
ok(wait_for(sub { !Test::Portico::alive($m1) }, 10), 'QUIT: the old master exits');
ok(!-e "$pid_file.oldbin", 'and removes portico.pid.oldbin');
is(pid_in($pid_file), $m2, 'the pid file names the new master');
ok(load_flows(), 'wrk still gets answers after the upgrade');
my $r = $load->finish;
is($r->{non2xx}, 0, 'no response but 2xx');
is($r->{errors}, 0, 'no connect, read, write error or timeout') or diag($r->{text});

$p->follow_pid_file;
$p->write_conf($conf =~ s/%%UP%%/b/r);
my ($rc, undef, $err) = $p->run('-s', 'reload');
is($rc, 0, 'the new master reloads its configuration') or diag($err);
ok(served_by('b'), 'with the new configuration serving');

# ==== 2. Rollback under load: USR2, WINCH the old, HUP it, QUIT the new ====

$load = Test::Portico::Wrk->start($url, duration => 60, connections => 16);
ok(load_flows(), 'wrk is loading portico again');
my $m3 = upgrade($m2);
ok($m3, 'USR2 again: a third master starts');
kill 'WINCH', $m2;
ok(wait_for(sub { !workers_of($m2) }, 10), 'WINCH: the old master\'s workers exit');
kill 'HUP', $m2;
ok(wait_for(sub { workers_of($m2) == 2 }, 10), 'HUP: the old master starts its workers again');
kill 'QUIT', $m3;
ok(wait_for(sub { !Test::Portico::alive($m3) }, 10), 'QUIT: the new master exits');
ok(wait_for(sub { (pid_in($pid_file) // 0) == $m2 && !-e "$pid_file.oldbin" }, 5),
    'the old master takes its pid file back');
like($p->error_log, qr/binary upgrade undone/, 'and says so');
ok(load_flows(), 'wrk still gets answers after the rollback');
$r = $load->finish;
is($r->{non2xx}, 0, 'no response but 2xx');
is($r->{errors}, 0, 'no connect, read, write error or timeout') or diag($r->{text});
ok(served_by('b'), 'the old master serves with its configuration');

# ==== 3. The new master dies after WINCH: the old one serves again ====

my $m4 = upgrade($m2);
ok($m4, 'USR2: a new master');
kill 'WINCH', $m2;
ok(wait_for(sub { !workers_of($m2) }, 10), 'WINCH: the old workers exit');
my @w4 = workers_of($m4);
kill 'KILL', $m4;
ok(wait_for(sub { workers_of($m2) == 2 }, 10),
    'the new master killed: the old master starts workers again by itself');
is(pid_in($pid_file), $m2, 'and owns the pid file again');
ok(served_by('b'), 'requests are served');
ok(wait_for(sub { !grep { Test::Portico::alive($_) } @w4 }, 10), 'the orphaned workers stop');

# ==== 4. A new binary that cannot start ====

my @w2 = workers_of($m2);
$p->write_conf(<<'EOF');
workers = 2
listen http { address = "127.0.0.1:%%PORT:http%%" }
site main { route "/" { upstream = "nowhere" } }
EOF
kill 'USR2', $m2;
ok(wait_for(sub { $p->error_log =~ /new master \(pid \d+\) exited with status 1/ }, 10),
    'a configuration error: the new master exits, the old one logs its status');
is(pid_in($pid_file), $m2, 'the old master owns the pid file again');
ok(!-e "$pid_file.oldbin", 'portico.pid.oldbin is gone');
is(join(' ', sort(workers_of($m2))), join(' ', sort @w2), 'its workers were never touched');
ok(served_by('b', 1), 'and serve');

rename $bin, "$bin.away" or die "rename: $!";
kill 'USR2', $m2;
ok(wait_for(sub { $p->error_log =~ /execv\("\Q$bin\E"\) failed/ }, 10), 'a missing binary: execv fails, logged');
ok(wait_for(sub { (pid_in($pid_file) // 0) == $m2 && !-e "$pid_file.oldbin" }, 5),
    'the old master owns the pid file again');
rename "$bin.away", $bin or die "rename: $!";
ok(served_by('b', 1), 'and serves');

# ==== 5. A daemon: the new master stays the old one's child; its errors
# before its own log is open land in the old master's error log ====

my $d = Test::Portico->new(conf => <<'EOF')->start(daemon => 1);
workers = 1
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream a { server "%%BACKEND:a%%" {} }
site main { route "/" { upstream = "a" } }
EOF
$d->allow_log(qr/new master \(pid \d+\) exited with status/);
my $dm = $d->master_pid;
my $good = $d->conf_text;
$d->write_conf($good =~ s/upstream = "a"/upstream = "missing"/r);
kill 'USR2', $dm;
ok(wait_for(sub { $d->error_log =~ /exited with status 1/ }, 10), 'daemon: a failed upgrade is logged');
like($d->error_log, qr/portico: \Q${\ $d->conf_file}\E:4: .*missing/,
    'with the new binary\'s own words: file:line of the configuration error');
$d->write_conf($good);
$pid_file = $d->pid_file;
$port = $d->port('http');
my $dn = upgrade($dm, 1);
ok($dn, 'daemon: the upgrade succeeds with a good configuration');
is(Test::Portico::proc_stat($dn)->{ppid}, $dm, 'the new master did not fork away from the old');
kill 'QUIT', $dm;
ok(wait_for(sub { !Test::Portico::alive($dm) }, 10), 'the old master quits');
$d->follow_pid_file;
ok(served_by('a'), 'the new daemon serves alone');

done_testing();
