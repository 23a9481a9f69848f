#!/usr/bin/perl

# Privileges: the master keeps root, workers drop to "user" (nobody by
# default) unless "user = root" is written explicitly; before the drop
# they raise their open-file limit (worker_rlimit_nofile) and enter their
# chroot. When the chroot vanishes, new workers fail at their start: the
# master respawns them with a doubling back-off, never in a tight loop,
# while the other workers serve on.

use strict;
use warnings;

use File::Temp ();
use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();
plan skip_all => 'privilege drop needs root' unless $> == 0;

my ($nobody, $nogroup) = (getpwnam('nobody'))[2, 3];
plan skip_all => 'no user nobody' unless defined $nobody;

my $conf = <<'EOF';
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream a { server "%%BACKEND:a%%" {} }
site main { route "/" { upstream = "a" } }
EOF

# No user in the config (the helper would add one): portico's default.
my $p = Test::Portico->new(conf => $conf, omit => ['user'])->start;
unlike($p->conf_text, qr/^\s*user\s*=/m, 'the config names no user');
my ($w) = $p->wait_workers(1);
# A worker drops its privileges a moment after it is forked: wait for it.
ok(wait_for(sub { proc_ids($w, 'Uid') eq join(' ', ($nobody) x 4) }, 10),
    'workers run as nobody by default (real, effective, saved, fs uid)')
    or diag('Uid: ' . proc_ids($w, 'Uid'));
is(proc_ids($w, 'Gid'), join(' ', ($nogroup) x 4), 'with nobody\'s primary group');
my $groups = Test::Portico::proc_status($w)->{Groups} // '';
unlike($groups, qr/(?:^|\s)0(?:\s|$)/, 'and without root\'s supplementary groups');
is(proc_ids($p->master_pid, 'Uid'), '0 0 0 0', 'the master stays root');
my $r = http_get($p->port('http'), '/name');
is($r && $r->{body}, 'a', 'the unprivileged worker serves');
$p->stop;

my $root = Test::Portico->new(conf => qq(user = "root"\n) . $conf)->start;
($w) = $root->wait_workers(1);
is(proc_ids($w, 'Uid'), '0 0 0 0', 'with user = "root" written explicitly, workers stay root');
$root->stop;

# ---- worker_rlimit_nofile and chroot ----

sub nofile_limit {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/limits" or return 'gone';
	while (my $line = <$fh>) {
		return "$1 $2" if $line =~ /^Max open files\s+(\S+)\s+(\S+)/;
	}
	return 'none';
}

my $jail = File::Temp::tempdir('portico-jail-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $jail;
my $jailed = Test::Portico->new(conf => <<"EOF" . $conf)->start;
workers = 2
worker_rlimit_nofile = 5000
worker_connections = 4000
chroot = "$jail"
EOF
my @w = $jailed->wait_workers(2);
is(scalar(@w), 2, 'chroot: two workers start');
# A worker chroots and drops its ids a moment after the fork (longer in a
# sanitizer build): look once both have.
my $settled = sub {
	join(',', map { (readlink("/proc/$_/root") // 'gone') . ' ' . proc_ids($_, 'Uid') } @w);
};
wait_for(sub { $settled->() eq join(',', ("$jail " . join(' ', ($nobody) x 4)) x 2) }, 15);
is(join(',', map { nofile_limit($_) } @w), '5000 5000,5000 5000',
    'worker_rlimit_nofile = 5000: the workers\' soft and hard open-file limits');
isnt(nofile_limit($jailed->master_pid), '5000 5000', 'the master keeps its own limit');
is(join(',', map { readlink("/proc/$_/root") // 'gone' } @w), "$jail,$jail",
    'chroot: the workers\' root directory is the chroot');
is(readlink('/proc/' . $jailed->master_pid . '/root'), '/', 'the master\'s is not');
is(join(',', map { proc_ids($_, 'Uid') } @w), join(',', (join ' ', ($nobody) x 4) x 2),
    'and they run as nobody');
$r = http_get($jailed->port('http'), '/name');
is($r && $r->{body}, 'a', 'chrooted workers serve');
unlike($jailed->error_log, qr/exceed the open file limit/, 'no warning about the file limit');

# The chroot vanishes: a replacement worker cannot start. The master
# retries with a doubling back-off while the other worker serves.
rmdir $jail or die "rmdir $jail: $!\n";
my ($victim, $survivor) = @w;
$jailed->allow_log(qr/worker \d \(pid \d+\) (?:exited with status 2|killed by signal 9)|chroot\("\Q$jail\E"\) failed/);
kill 'KILL', $victim;
my @delays;
wait_for(sub {
	@delays = $jailed->error_log =~ /worker \d+ keeps exiting, respawning in (\d+) ms/g;
	@delays >= 4;
}, 15);
# Count the starts logged before the fourth back-off line: a spinning
# master would log many; the time this test takes to look does not count.
my ($until_fourth) = $jailed->error_log =~ /\A((?:.*?keeps exiting, respawning in \d+ ms){4})/s;
my $spawns = () = ($until_fourth // '') =~ /started worker \d+, pid/g;
is(join(' ', @delays[0 .. 3]), '200 400 800 1600',
    'a worker that fails at its start is respawned with a doubling back-off');
cmp_ok($spawns - 2, '<=', 5,
    sprintf('the master did not spin: %d respawns for four back-offs', $spawns - 2));
like($jailed->error_log, qr/chroot\("\Q$jail\E"\) failed/, 'each failure says why');
ok(Test::Portico::alive($jailed->master_pid), 'the master survives the crash loop');
$r = http_get($jailed->port('http'), '/name');
is($r && $r->{body}, 'a', 'the other worker keeps serving');
ok(Test::Portico::alive($survivor), '... the same worker as before');

mkdir $jail or die "mkdir $jail: $!\n";
chmod 0755, $jail;
my @back;
ok(wait_for(sub { @back = $jailed->wait_workers(2, 0.1); @back == 2 && !grep { $_ == $victim } @back }, 10),
    'once the chroot is back, the next respawn brings the worker back');
$r = http_get($jailed->port('http'), '/name');
is($r && $r->{body}, 'a', 'and it serves');
$jailed->stop;

done_testing;
