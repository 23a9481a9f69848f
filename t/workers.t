#!/usr/bin/perl

# How many workers, and where they run: workers = "auto" starts one per
# online CPU, cpu_affinity = "auto" pins worker i to CPU i, and "off"
# leaves them free.

use strict;
use warnings;

use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

chomp(my $ncpu = `getconf _NPROCESSORS_ONLN`);
plan skip_all => 'cannot count online CPUs' unless $ncpu && $ncpu =~ /^\d+$/;

sub allowed_cpus {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/status" or return;
	while (<$fh>) {
		return $1 if /^Cpus_allowed_list:\s*(\S+)/;
	}
	return;
}

my $p = Test::Portico->new(conf => <<'EOF')->start;
workers = "auto"
cpu_affinity = "auto"
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream a { server "%%BACKEND:a%%" {} }
site main { route "/" { upstream = "a" } }
EOF

my @workers = $p->wait_workers($ncpu);
is(scalar(@workers), $ncpu, "workers = auto: one worker per online CPU ($ncpu)");
my @pinned = sort { $a <=> $b } map { allowed_cpus($_) // -1 } @workers;
is_deeply(\@pinned, [0 .. $ncpu - 1], 'cpu_affinity = auto: each worker pinned to its own CPU');
my $r = http_get($p->port('http'), '/');
is($r && $r->{status}, 200, 'the pinned workers serve');
$p->stop;

my $free = Test::Portico->new(conf => <<'EOF')->start;
workers = 2
cpu_affinity = "off"
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream a { server "%%BACKEND:a%%" {} }
site main { route "/" { upstream = "a" } }
EOF
my $all = allowed_cpus($$);
my @unpinned = map { allowed_cpus($_) // 'none' } $free->wait_workers(2);
is_deeply(\@unpinned, [$all, $all], "cpu_affinity = off: workers may run on every CPU ($all)");

done_testing();
