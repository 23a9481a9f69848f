#!/usr/bin/perl

# tls_ticket_key_file: ticket keys the operator makes and shares, so that
# separate portico instances (the nodes behind one balancer) resume each
# other's tickets. Two instances with the same key file resume each
# other's tickets, one with another key does not; the first key encrypts
# and the others only decrypt, so a reload with a new first key and the
# old one second keeps old tickets good (and renews them with the new
# key); a bad key file is refused by the reload, naming it, and the old
# keys stay. The master reads the files: no worker holds them open, and
# with mode 0600 they are not the workers' to read.

use strict;
use warnings;

use POSIX ();
use Test::More;
use Test::Portico;
use Test::Portico::TLS qw(https);

plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();

my $dir = File::Temp::tempdir('portico-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my $pki = Test::Portico::TLS->new($dir);
my ($pem, $key) = $pki->cert('a.test');
chmod 0600, glob("$dir/*.key");

# A key file as the operator makes it: openssl rand 80 > FILE.
sub new_key {
	my ($name, $bytes) = @_;
	my $path = "$dir/$name";
	system("openssl rand -out '$path' " . ($bytes // 80)) == 0 or die "openssl rand\n";
	chmod 0600, $path;
	return $path;
}
my ($k1, $k2, $k3) = map { new_key("ticket$_.key") } 1 .. 3;
my $short = new_key('short.key', 48);

# Sessions resume by ticket only: no session cache.
sub conf {
	my (@files) = @_;
	my $list = join ', ', map { qq("$_") } @files;
	return <<"EOF";
workers = 2
tls_session_cache = "off"
tls_ticket_key_file = {$list}
listen https { address = "127.0.0.1:%%PORT:https%%"  tls = true }
site a {
	tls { certificate = "$pem"  key = "$key" }
	route "/" { status = true }
}
EOF
}

my $a = Test::Portico->new(conf => conf($k1))->start;
my $b = Test::Portico->new(conf => conf($k1))->start;
my $c = Test::Portico->new(conf => conf($k2))->start;

# A new session made on $from, then offered to each of @to: whether each
# resumed it.
sub ticket_from {
	my ($from, $version) = @_;
	my $s = Test::Portico::TLS::Session->new;
	my $r = https($from->port('https'), sni => 'a.test', version => $version, session => $s);
	return ($r->{status} // 0) == 200 && !$r->{reused} ? $s : undef;
}

sub resumes {
	my ($on, $s, $version) = @_;
	my $r = https($on->port('https'), sni => 'a.test', version => $version, session => $s);
	return ($r->{status} // 0) == 200 ? $r->{reused} : "failed: " . ($r->{error} // '?');
}

for my $v ('TLSv1_2', 'TLSv1_3') {
	my $s = ticket_from($a, $v);
	ok($s, "$v: a full handshake on instance A, which sends a ticket");
	is(resumes($b, $s, $v), 1, "$v: B, another instance with the same key file, resumes it");
	$s = ticket_from($a, $v);
	is(resumes($c, $s, $v), 0, "$v: C, with another key file, does not (a full handshake)");
}
like($a->error_log, qr/TLS ticket keys read from \Q$k1\E/, 'the master says where its keys come from');

# ---- rotation by the operator: a new first key, the old one second ----

my %old = map { $_ => ticket_from($a, $_) } 'TLSv1_2', 'TLSv1_3';
$a->write_conf(conf($k3, $k1));
ok(scalar $a->reload_and_wait, 'A reloads with a new first key, the old one second');
for my $v ('TLSv1_2', 'TLSv1_3') {
	is(resumes($a, $old{$v}, $v), 1, "$v: a ticket of the old key still resumes on A");
	is(resumes($b, $old{$v}, $v), 0,
	   "$v: ... and was renewed with the new key, which B does not have yet");
}
# The full handshakes on B just above left B's new tickets, of k1.
my $k1_ticket = $old{'TLSv1_2'};
my $s = ticket_from($a, 'TLSv1_3');
is(resumes($b, $s, 'TLSv1_3'), 0, 'a new ticket of A does not resume on B before B reloads');
$b->write_conf(conf($k3, $k1));
ok(scalar $b->reload_and_wait, 'B reloads with the same two files');
is(resumes($b, $s, 'TLSv1_3'), 1, '... then it does');

$a->write_conf(conf($short, $k3));
ok(scalar $a->reload_and_wait, 'a 48-byte key file (AES-128) is a key too');
$s = ticket_from($a, 'TLSv1_2');
is(resumes($a, $s, 'TLSv1_2'), 1, '... whose tickets resume');
is(resumes($a, $k1_ticket, 'TLSv1_2'), 0, 'a key no longer listed decrypts nothing');

# ---- a bad key file: the reload is refused, the keys stay ----

my $bad = new_key('bad.key', 79);
POSIX::mkfifo("$dir/fifo.key", 0600) or die "mkfifo: $!\n";
$a->write_conf(conf($short, $bad, "$dir/missing.key", "$dir/fifo.key"));
my ($rc, $out, $err) = $a->run('-s', 'reload');
isnt($rc, 0, 'a reload with bad key files is refused');
like($err, qr/:3: tls_ticket_key_file: "\Q$bad\E" is not a ticket key: it holds 79 bytes/,
     '... naming the file of the wrong size, at its line');
like($err, qr/tls_ticket_key_file: cannot read "\Q$dir\E\/missing\.key": No such file/,
     '... and the file that cannot be read');
like($err, qr/tls_ticket_key_file: cannot read "\Q$dir\E\/fifo\.key": not a regular file/,
     '... and a FIFO, refused rather than waited on');
# portico -s reload checked the file and did not signal: the master must
# refuse it as well when signalled.
my @workers = $a->worker_pids;
$a->signal('HUP');
ok(wait_for(sub { $a->error_log =~ /reload refused.*is not a ticket key/s }, 20),
   'the master, signalled, refuses the reload too, and says why');
is_deeply([$a->worker_pids], \@workers, '... its workers stay');
is(resumes($a, $s, 'TLSv1_2'), 1, 'the running keys still resume their tickets');
$a->write_conf(conf(($k1) x 9));
($rc, $out, $err) = $a->run('-t');
like($err, qr/:3: tls_ticket_key_file: 9 files, at most 8/, 'nine key files are too many');

# ---- the files are the master's ----

my @holders = grep { readlink($_) =~ /ticket\d\.key|short\.key/ }
    map { glob("/proc/$_/fd/*") } grep { defined } $a->master_pid, $a->worker_pids;
is(scalar @holders, 0, 'no process of A keeps a key file open (the master read it whole)');
SKIP: {
	skip 'not root: the workers run as we do', 1 unless $> == 0;
	my ($w) = $a->worker_pids;
	ok($w && proc_ids($w, 'Uid') !~ /^0 /, 'key files of mode 0600 work with workers that '
	   . 'are not root (they never open them)');
}

done_testing();
