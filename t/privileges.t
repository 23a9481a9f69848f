#!/usr/bin/perl

# Privileges: the master keeps root, workers drop to "user" (nobody by
# default) unless "user = root" is written explicitly.

use strict;
use warnings;

use Test::More;
use Test::Portico;

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();
plan skip_all => 'privilege drop needs root' unless $> == 0;

my ($nobody, $nogroup) = (getpwnam('nobody'))[2, 3];
plan skip_all => 'no user nobody' unless defined $nobody;

sub ids {
	my ($pid, $field) = @_;
	my $s = Test::Portico::proc_status($pid) or return 'gone';
	return join ' ', (split ' ', $s->{$field})[0 .. 3];
}

my $conf = <<'EOF';
listen http { address = "127.0.0.1:%%PORT:http%%" }
upstream a { server "%%BACKEND:a%%" {} }
site main { route "/" { upstream = "a" } }
EOF

# No user in the config (the helper would add one): portico's default.
my $p = Test::Portico->new(conf => $conf, omit => ['user'])->start;
unlike($p->conf_text, qr/^\s*user\s*=/m, 'the config names no user');
my ($w) = $p->wait_workers(1);
is(ids($w, 'Uid'), join(' ', ($nobody) x 4),
    'workers run as nobody by default (real, effective, saved, fs uid)');
is(ids($w, 'Gid'), join(' ', ($nogroup) x 4), 'with nobody\'s primary group');
my $groups = Test::Portico::proc_status($w)->{Groups} // '';
unlike($groups, qr/(?:^|\s)0(?:\s|$)/, 'and without root\'s supplementary groups');
is(ids($p->master_pid, 'Uid'), '0 0 0 0', 'the master stays root');
my $r = http_get($p->port('http'), '/name');
is($r && $r->{body}, 'a', 'the unprivileged worker serves');
$p->stop;

my $root = Test::Portico->new(conf => qq(user = "root"\n) . $conf)->start;
($w) = $root->wait_workers(1);
is(ids($w, 'Uid'), '0 0 0 0', 'with user = "root" written explicitly, workers stay root');
$root->stop;

done_testing;
