package Test::Portico;

# Starts a real portico master from a generated config, with real backends
# (Test::Portico::Backend), waits for it with deadlines, and stops it. When
# the test file reaches done_testing(), every portico started by the file is
# stopped and its error log (and stderr) is checked: an [alert] or [emerg]
# line or a sanitizer report fails the file, like nginx-tests.
#
#   my $p = Test::Portico->new(conf => <<'EOF')->start;
#   listen http { address = "127.0.0.1:%%PORT:http%%" }
#   upstream app { server "%%BACKEND:a%%" {} }
#   site s { route "/" { upstream = "app" } }
#   EOF
#   my $r = http_get($p->port('http'), '/name');
#
# Placeholders: %%PORT:name%% a free 127.0.0.1 port (the same name gives the
# same port; a port nobody listens on is just one never used in a listen),
# %%BACKEND:name%% the "127.0.0.1:port" of a backend started on first use,
# %%TMP%% this instance's temporary directory.
#
# Globals the config does not set are appended (so line numbers of the
# written config stay as written): pid_file and error_log in TMP,
# workers = 1, log_level = "info", and user = "nobody" when root.

use strict;
use warnings;

use Cwd qw(abs_path);
use Errno qw(ESRCH);
use File::Temp qw(tempdir);
use IO::Socket::IP;
use IO::Socket::UNIX;
use JSON::PP ();
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

use Test::Portico::Backend;
use Test::Portico::Client qw(http http_get);

use Exporter 'import';
our @EXPORT = qw(http http_get wait_for run_portico portico_bin proc_ids dump_reads_back
	paced_server);

our $BIN = $ENV{PORTICO_BIN} // do {
	my $here = abs_path(__FILE__) =~ s{/t/lib/Test/Portico\.pm$}{}r;
	"$here/portico";
};

my @INSTANCES;		# every instance made by this file, for the final check
my %USED_PORTS;		# ports handed out, so two names never share one
my $MAIN_PID = $$;

sub portico_bin { $BIN }

# ---- waiting ----

# wait_for(sub { condition }, $timeout = 10, $interval = 0.02): polls the
# condition until it returns true or the deadline passes; returns its last
# value. Never use a fixed sleep to wait for something to happen.
sub wait_for {
	my ($cond, $timeout, $interval) = @_;
	my $deadline = time + ($timeout // 10);
	$interval //= 0.02;
	while (1) {
		my $v = $cond->();
		return $v if $v;
		return $v if time >= $deadline;
		sleep $interval;
	}
}

# ---- running the binary as a command ----

# run_portico(@args) -> (exit code, stdout, stderr); killed after 30 s.
sub run_portico {
	my (@args) = @_;
	return _run(undef, $BIN, @args);
}

# Two tests of what portico -T wrote ($out): another portico accepts it,
# and writes it back the same. %files are written beside it first (files
# the configuration names).
sub dump_reads_back {
	my ($out, %files) = @_;
	my $dumped = Test::Portico->new;
	$dumped->write_file($_, $files{$_}) for keys %files;
	$dumped->write_file('portico.conf', $out);
	my ($rc, $again, $err) = run_portico('-T', '-c', $dumped->conf_file);
	is($rc, 0, 'what -T writes is accepted') or diag($err);
	s/^# effective configuration of .*\n//m for $out, $again;
	is($again, $out, '... and reads back the same');
}

# A server on 127.0.0.1:$port for one request: it answers with $head,
# then sends each of @$pieces (raw bytes: chunks as the test frames them)
# only once the test said "go" for the one before (print $go "go\n"),
# then $end. So a proxy that held a piece back would make the test wait
# for ever (its safety deadline fails it). Returns ($pid, $go).
sub paced_server {
	my ($port, $head, $pieces, $end) = @_;
	my $listen = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $port,
					 Listen => 5, ReuseAddr => 1) or die "paced server: $!";
	pipe(my $go_r, my $go_w) or die "pipe: $!";
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		close $go_w;
		my $s = $listen->accept or POSIX::_exit(1);
		my $req = '';
		while ($req !~ /\r\n\r\n/) {
			sysread($s, $req, 4096, length $req) or POSIX::_exit(1);
		}
		syswrite($s, $head);
		for my $piece (@$pieces) {
			syswrite($s, $piece);
			defined(readline $go_r) or POSIX::_exit(1);
		}
		syswrite($s, $end);
		close $s;
		POSIX::_exit(0);
	}
	close $go_r;
	close $listen;
	$go_w->autoflush(1);
	return ($pid, $go_w);
}

sub _run {
	my ($dir, @cmd) = @_;
	$dir //= tempdir(CLEANUP => 1);
	my ($out, $err) = ("$dir/run.out", "$dir/run.err");
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', $out;
		open STDERR, '>', $err;
		exec @cmd or POSIX::_exit(127);
	}
	my $status;
	wait_for(sub { waitpid($pid, WNOHANG) == $pid and $status = $?, 1 }, 30)
	    or do {
		kill 'KILL', $pid;
		waitpid($pid, 0);
		$status = -1;
	};
	my $rc = $status == -1 ? -1 : $status & 127 ? 128 + ($status & 127) : $status >> 8;
	return ($rc, _slurp($out), _slurp($err));
}

sub _slurp {
	my ($path) = @_;
	open my $fh, '<', $path or return '';
	local $/;
	my $s = <$fh>;
	return $s // '';
}

# ---- ports ----

# Ports are taken below the kernel's ephemeral range: a port the kernel
# handed out could be handed out again, between our check and portico's
# bind(), as the local port of some outgoing connection (a health check).
sub _free_port {
	my ($low) = (_slurp('/proc/sys/net/ipv4/ip_local_port_range') // '32768') =~ /(\d+)/;
	$low = 32768 unless $low && $low > 12000;
	for (1 .. 1000) {
		my $port = 10000 + int(rand($low - 10000));
		next if $USED_PORTS{$port};
		my $s = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $port,
		    Proto => 'tcp', Listen => 1) or next;
		close $s;
		$USED_PORTS{$port} = 1;
		return $port;
	}
	die "no free port below $low\n";
}

# ---- an instance ----

# new(conf => TEXT, files => { 'inc.conf' => TEXT, ... }, omit => ['user'])
# omit: globals the helper must not add (to test portico's own default).
sub new {
	my ($class, %args) = @_;
	my $self = bless {
		ports => {}, backends => {}, allow => [],
		files => $args{files} // {},
		omit => { map { $_ => 1 } @{ $args{omit} // [] } },
	}, $class;
	# PORTICO_TEST_KEEP=1 keeps the directory (config, logs) for a post-mortem.
	$self->{tmp} = tempdir('portico-test-XXXXXX', TMPDIR => 1,
	    CLEANUP => !$ENV{PORTICO_TEST_KEEP});
	# Workers run as nobody when we are root; they inherit their log
	# descriptors, but keep the directory traversable anyway.
	chmod 0755, $self->{tmp};
	# Sanitizer reports of every process (a daemon has no stderr; workers
	# are not root) go to files here, checked at the end.
	$self->{san_dir} = "$self->{tmp}/sanitizer";
	mkdir $self->{san_dir};
	chmod 01777, $self->{san_dir};
	$self->{conf_file} = "$self->{tmp}/portico.conf";
	$self->{pid_file} = "$self->{tmp}/portico.pid";
	$self->{error_log} = "$self->{tmp}/error.log";
	$self->{stderr} = "$self->{tmp}/stderr.log";
	push @INSTANCES, $self;
	$self->write_conf($args{conf}) if defined $args{conf};
	return $self;
}

sub tmp { $_[0]{tmp} }
sub conf_file { $_[0]{conf_file} }
sub pid_file { $_[0]{pid_file} }
sub error_log_file { $_[0]{error_log} }

# port('http'): the port behind %%PORT:http%% (allocated on first use).
sub port {
	my ($self, $name) = @_;
	return $self->{ports}{$name} //= _free_port();
}

# backend('a'): the backend behind %%BACKEND:a%% (started on first use;
# options for Test::Portico::Backend->new apply when this call starts it,
# so call it before the config that names it is written).
sub backend {
	my ($self, $name, %opt) = @_;
	return $self->{backends}{$name} //=
	    Test::Portico::Backend->new(%opt, name => $name, dir => $self->{tmp});
}

# The backends started so far.
sub backends { values %{ $_[0]{backends} } }

# Replace placeholders in a text.
sub expand {
	my ($self, $text) = @_;
	$text =~ s/%%PORT:(\w+)%%/$self->port($1)/ge;
	$text =~ s/%%BACKEND:(\w+)%%/$self->backend($1)->address/ge;
	$text =~ s/%%TMP%%/$self->{tmp}/g;
	return $text;
}

# write_conf(TEXT, extra files): (re)writes the config (and the files it
# includes, relative to TMP); used before start and before a reload.
sub write_conf {
	my ($self, $text, %files) = @_;
	%files = (%{ $self->{files} }, %files);
	for my $name (keys %files) {
		$self->write_file($name, $files{$name});
	}
	$text = $self->expand($text);
	$text .= "\n" unless $text =~ /\n\z/;
	my %g = (
		pid_file => qq("$self->{pid_file}"),
		error_log => qq("$self->{error_log}"),
		workers => 1,
		log_level => '"info"',
	);
	$g{user} = '"nobody"' if $> == 0;
	delete @g{ keys %{ $self->{omit} } };
	my $add = '';
	for my $k (sort keys %g) {
		$add .= "$k = $g{$k}\n" unless $text =~ /^\s*\Q$k\E\s*=/m;
	}
	$text .= "# added by Test::Portico\n$add" if $add;
	$self->{conf_text} = $text;
	_write("$self->{conf_file}", $text);
	return $self;
}

sub conf_text { $_[0]{conf_text} }

sub write_file {
	my ($self, $name, $text) = @_;
	my $path = $name =~ m{^/} ? $name : "$self->{tmp}/$name";
	_write($path, $self->expand($text));
	return $path;
}

sub _write {
	my ($path, $text) = @_;
	open my $fh, '>', $path or die "$path: $!\n";
	print $fh $text;
	close $fh or die "$path: $!\n";
}

# Addresses of the listen blocks in the written config, as [host, port]
# (['unix', PATH] for a unix socket).
sub listen_addresses {
	my ($self) = @_;
	my @a;
	my $text = $self->{conf_text} =~ s/#[^\n]*//gr;
	while ($text =~ /\blisten\s+\w+\s*\{([^}]*)\}/g) {
		my $body = $1;
		next unless $body =~ /\baddress\s*=\s*"([^"]+)"/;
		my $addr = $1;
		if ($addr =~ /^unix:(.+)$/) {
			push @a, ['unix', $1];
		} elsif ($addr =~ /^\[([^\]]+)\]:(\d+)$/) {
			push @a, [$1 eq '::' ? '::1' : $1, $2];
		} elsif ($addr =~ /^([^:]+):(\d+)$/) {
			push @a, [$1 eq '*' || $1 eq '0.0.0.0' ? '127.0.0.1' : $1, $2];
		} elsif ($addr =~ /^(\d+)$/) {
			push @a, ['127.0.0.1', $1];
		}
	}
	return @a;
}

# run(@args): run the binary with "-c CONF" and @args -> (rc, out, err).
sub run {
	my ($self, @args) = @_;
	return $self->run_under([], @args);
}

# run_under([PREFIX...], @args): the same, behind a command such as setpriv.
sub run_under {
	my ($self, $prefix, @args) = @_;
	return _run($self->{tmp}, @$prefix, $BIN, '-c', $self->{conf_file}, @args);
}

# start(daemon => 0, argv => [...], prefix => [...]): start the master (in
# the foreground with -F unless daemon => 1) and wait until the pid file
# names it and every listen address accepts connections. argv, when given,
# replaces the "-c CONF" of the command line; prefix is a command that
# execs the binary in place (ip netns exec NS). Returns $self. If it does not come up
# within the deadline, fails a test and ends the file (or, with
# may_fail => 1, returns undef).
sub start {
	my ($self, %opt) = @_;
	die "$BIN is not executable\n" unless -x $BIN;
	unlink $self->{pid_file};
	$self->{daemon} = $opt{daemon} // 0;
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		setpgrp(0, 0);	# so a dying test can kill the whole tree
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', $self->{stderr};
		open STDERR, '>>', $self->{stderr};
		for my $v (qw(ASAN_OPTIONS UBSAN_OPTIONS)) {
			$ENV{$v} = join ':', grep { length } $ENV{$v} // '',
			    "log_path=$self->{san_dir}/report";
		}
		my @cmd = (@{ $opt{prefix} // [] }, $BIN, $self->{daemon} ? () : '-F',
		    @{ $opt{argv} // ['-c', $self->{conf_file}] });
		exec @cmd or POSIX::_exit(127);
	}
	$self->{child} = $pid;
	$self->{started} = 1;
	if ($self->{daemon}) {
		my $status;
		wait_for(sub { waitpid($pid, WNOHANG) == $pid and $status = $?, 1 }, 15);
		delete $self->{child};
		$self->{daemon_exit} = $status;
		unless (defined $status && $status == 0) {
			fail('portico daemon started');
			diag("exit status " . ($status // 'none (still running)'));
			diag($self->stderr_text . $self->error_log);
			return undef if $opt{may_fail};
			done_testing();
			exit 1;
		}
	}
	my $exited;
	my $up = wait_for(sub {
		if (!$self->{daemon} && waitpid($pid, WNOHANG) == $pid) {
			$exited = $?;
			delete $self->{child};
			return 1;
		}
		my $mp = $self->master_pid or return 0;
		return 0 if !$self->{daemon} && $mp != $pid;
		for my $a ($self->listen_addresses) {
			my $s = $a->[0] eq 'unix'
			    ? IO::Socket::UNIX->new(Peer => $a->[1])
			    : IO::Socket::IP->new(PeerHost => $a->[0],
				PeerPort => $a->[1], Proto => 'tcp', Timeout => 1)
			    or return 0;
			close $s;
		}
		return 1;
	}, 15);
	if (!$up || defined $exited) {
		fail('portico started and listening');
		diag(defined $exited ? "portico exited with status $exited: "
		    : "portico did not come up within 15 s: ");
		diag($self->stderr_text . $self->error_log);
		$self->_kill_all;
		return undef if $opt{may_fail};
		done_testing();
		exit 1;
	}
	$self->{running} = 1;
	$self->{master} = $self->master_pid;
	return $self;
}

# The master's pid, from the pid file (undef when absent or stale).
sub master_pid {
	my ($self) = @_;
	open my $fh, '<', $self->{pid_file} or return undef;
	my $pid = <$fh>;
	return undef unless defined $pid && $pid =~ /^(\d+)\s*$/;
	return $1;
}

# After a binary upgrade: the master is whichever the pid file names now
# (signal, worker_pids and stop follow it). Returns its pid.
sub follow_pid_file {
	my ($self) = @_;
	$self->{master} = $self->master_pid;
	return $self->{master};
}

# The pid of the process start() ran (the master itself with -F).
sub spawned_pid { $_[0]{child} }

sub running {
	my ($self) = @_;
	my $pid = $self->{master} // $self->master_pid // return 0;
	return alive($pid);
}

# True while $pid runs (zombies count as gone).
sub alive {
	my ($pid) = @_;
	my $st = proc_stat($pid) or return 0;
	return $st->{state} ne 'Z' && $st->{state} ne 'X';
}

# /proc/PID/stat as { pid, comm, state, ppid }, or undef.
sub proc_stat {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return undef;
	my $s = <$fh> // return undef;
	$s =~ /^(\d+) \((.*)\) (\S) (\d+)/s or return undef;
	return { pid => $1, comm => $2, state => $3, ppid => $4 };
}

# /proc/PID/status as a hash (Uid => "0 0 0 0", VmRSS => "1234 kB", ...).
sub proc_status {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/status" or return undef;
	my %s;
	while (my $line = <$fh>) {
		$s{$1} = $2 if $line =~ /^(\w+):\s*(.*?)\s*$/;
	}
	return \%s;
}

# The real, effective, saved and filesystem ids of $pid ($field: "Uid" or
# "Gid") as "r e s f", or "gone".
sub proc_ids {
	my ($pid, $field) = @_;
	my $s = proc_status($pid) or return 'gone';
	return join ' ', (split ' ', $s->{$field} // '')[0 .. 3];
}

# Resident memory of $pid in bytes (VmRSS), 0 if it is gone.
sub rss_bytes {
	my ($pid) = @_;
	my $s = proc_status($pid) or return 0;
	return ($s->{VmRSS} // '0') =~ /(\d+)/ ? $1 * 1024 : 0;
}

# Whether the binary under test is built with sanitizers, whose shadow
# memory makes absolute RSS figures meaningless.
sub sanitized_build {
	return `ldd ${\ portico_bin()} 2>/dev/null` =~ /asan|ubsan/ ? 1 : 0;
}

# Live children of $pid.
sub children_of {
	my ($pid) = @_;
	my @c;
	opendir my $d, '/proc' or return ();
	for my $e (readdir $d) {
		next unless $e =~ /^\d+$/;
		my $st = proc_stat($e) or next;
		push @c, $st if $st->{ppid} == $pid && $st->{state} ne 'Z';
	}
	return sort { $a->{pid} <=> $b->{pid} } @c;
}

# Pids of the master's live worker processes (comm "portico-worker").
sub worker_pids {
	my ($self) = @_;
	my $m = $self->{master} // $self->master_pid // return ();
	return map { $_->{pid} } grep { $_->{comm} eq 'portico-worker' } children_of($m);
}

# Wait until the master has $n workers (default: the configured number).
sub wait_workers {
	my ($self, $n, $timeout) = @_;
	$n //= $self->workers_configured;
	my @w;
	wait_for(sub { @w = $self->worker_pids; @w == $n }, $timeout // 10);
	return @w;
}

# tcp_socket_owners(sub { my ($local_port, $remote_port, $state) = @_; ... },
# @pids): those of @pids (each once, in that order) with a descriptor on a
# TCP socket, IPv4 or IPv6, for which the sub is true. It is called for
# every socket of /proc/net/tcp and tcp6 (of the test's network namespace)
# with the ports as numbers and the state as written there, in hex: '01'
# established, '02' SYN sent, '0A' listening.
#
#   my @owners = Test::Portico::tcp_socket_owners(
#       sub { $_[1] == $backend_port && $_[2] eq '01' }, $p->worker_pids);
sub tcp_socket_owners {
	my ($match, @pids) = @_;
	my %inode;
	for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
		open my $fh, '<', $f or next;
		<$fh>;		# the header
		while (<$fh>) {
			# sl local_address rem_address st ... inode (the 10th field),
			# 0 for a socket no descriptor holds (TIME_WAIT): skipped.
			my @x = split ' ';
			next unless $x[9];
			my ($l) = $x[1] =~ /:([0-9A-F]+)$/ or next;
			my ($r) = $x[2] =~ /:([0-9A-F]+)$/ or next;
			$inode{ $x[9] } = 1 if $match->(hex $l, hex $r, $x[3]);
		}
	}
	return () unless %inode;
	my @own;
	for my $pid (@pids) {
		opendir my $d, "/proc/$pid/fd" or next;
		for my $fd (readdir $d) {
			my $link = readlink("/proc/$pid/fd/$fd") // next;
			next unless $link =~ /^socket:\[(\d+)\]$/ && $inode{$1};
			push @own, $pid;
			last;
		}
	}
	return @own;
}

# socket_on_worker($port, $pid): a TCP connection to 127.0.0.1:$port that
# worker $pid accepted, or undef. With EPOLLEXCLUSIVE an idle worker takes
# nearly every new connection, so the others are stopped (SIGSTOP) while
# it connects, and the connection is found among $pid's descriptors.
sub socket_on_worker {
	my ($self, $port, $pid) = @_;
	my @others = grep { $_ != $pid } $self->worker_pids;
	kill 'STOP', @others;
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
	my $lport = $s && $s->sockport;
	my $ok = $s && wait_for(sub {
		my @w = tcp_socket_owners(sub { $_[0] == $port && $_[1] == $lport },
		    $self->worker_pids);
		@w == 1 && $w[0] == $pid;
	}, 5);
	kill 'CONT', @others;
	return $ok ? $s : undef;
}

sub workers_configured {
	my ($self) = @_;
	return $self->{conf_text} =~ /^\s*workers\s*=\s*"?(\d+)"?/m ? $1 : 1;
}

sub signal {
	my ($self, $sig) = @_;
	my $pid = $self->{master} // $self->master_pid // return 0;
	return kill $sig, $pid;
}

# reload_and_wait(wait_old => 1, timeout => 10): send HUP, wait until a new
# generation of workers (none of the old pids) is in place and, unless
# wait_old => 0, until the old workers have exited. Returns the new pids
# (empty list on timeout).
sub reload_and_wait {
	my ($self, %opt) = @_;
	my $timeout = $opt{timeout} // 10;
	my %old = map { $_ => 1 } $self->worker_pids;
	my $n = $self->workers_configured;
	$self->signal('HUP');
	my @new;
	wait_for(sub {
		@new = grep { !$old{$_} } $self->worker_pids;
		@new >= $n;
	}, $timeout) or return ();
	if ($opt{wait_old} // 1) {
		wait_for(sub { !grep { alive($_) } keys %old }, $timeout) or return ();
	}
	return @new;
}

# stop(signal => 'TERM', timeout => 10): stop the master and wait until it
# and its workers are gone. Returns true if they went within the deadline
# (otherwise they are killed).
sub stop {
	my ($self, %opt) = @_;
	my $sig = $opt{signal} // 'TERM';
	my $m = $self->{master} // $self->master_pid // $self->{child};
	my @w = $m ? map { $_->{pid} } children_of($m) : ();
	kill $sig, $m if $m;
	my $gone = $self->wait_exit($opt{timeout} // 10, @w);
	$self->_kill_all unless $gone;
	$self->{running} = 0;
	return $gone;
}

# Wait until the master (and the given extra pids) have exited.
sub wait_exit {
	my ($self, $timeout, @pids) = @_;
	my $m = $self->{master} // $self->master_pid;
	return wait_for(sub {
		if ($self->{child} && waitpid($self->{child}, WNOHANG) == $self->{child}) {
			$self->{exit_status} = $?;
			delete $self->{child};
		}
		return 0 if $self->{child};
		return 0 if $m && alive($m);
		return !grep { alive($_) } @pids;
	}, $timeout);
}

sub _kill_all {
	my ($self) = @_;
	my $m = $self->{master} // $self->master_pid;
	my @pids = grep { defined } ($m, $self->{child});
	push @pids, map { $_->{pid} } children_of($_) for @pids;
	kill 'KILL', @pids if @pids;
	kill 'KILL', -$self->{child} if $self->{child};
	if ($self->{child}) {
		waitpid($self->{child}, 0);
		delete $self->{child};
	}
}

# ---- the status page ----

# status_doc(path => '/status', listen => 'http'): the status page of the
# instance (a GET on the port of that listen block), decoded from JSON;
# undef when it does not answer 200 with a JSON document.
sub status_doc {
	my ($self, %opt) = @_;
	my $r = http_get($self->port($opt{listen} // 'http'), $opt{path} // '/status');
	return undef unless $r && $r->{status} == 200;
	return eval { JSON::PP::decode_json($r->{body}) };
}

# server_status($upstream, $who, $doc): the status entry (a hash: state,
# active, failures, checks, ...) of the server $who of upstream $upstream
# (of any upstream when undef). $who is a backend name (the server at its
# address) or an "ip:port" address. $doc is a status_doc(), fetched when
# absent. undef when there is no such server (or no status page).
#
#   is($p->server_status('app', 'a')->{state}, 'up', 'a is up');
sub server_status {
	my ($self, $up, $who, $doc) = @_;
	$doc //= $self->status_doc or return undef;
	my $addr = $who =~ /:/ ? $who : $self->backend($who)->address;
	for my $u (@{ $doc->{upstreams} // [] }) {
		next if defined $up && $u->{name} ne $up;
		for my $s (@{ $u->{servers} // [] }) {
			return $s if $s->{address} eq $addr;
		}
	}
	return undef;
}

# ---- logs ----

sub error_log { _slurp($_[0]{error_log}) }
sub stderr_text { _slurp($_[0]{stderr}) }

# Lines of a log file (path relative to TMP unless absolute).
sub log_lines {
	my ($self, $path) = @_;
	$path = "$self->{tmp}/$path" unless $path =~ m{^/};
	return grep { /\n\z/ } split /^/m, _slurp($path);
}

sub access_log {
	my ($self, $path) = @_;
	return map { s/\n\z//r } $self->log_lines($path // 'access.log');
}

# allow_log(qr/.../): an [alert]/[emerg] line matching it is expected (a
# test that kills a worker on purpose) and does not fail the final check.
sub allow_log {
	my ($self, $re) = @_;
	push @{ $self->{allow} }, $re;
}

# The error log and stderr lines that fail the final check.
sub bad_log_lines {
	my ($self) = @_;
	my @bad;
	my $san = join "\n", map { _slurp($_) } glob("$self->{san_dir}/report*");
	for my $line (split /\n/, join "\n", $self->error_log, $self->stderr_text, $san) {
		next unless $line =~ /\[(?:alert|emerg)\]|Sanitizer|runtime error:/;
		next if grep { $line =~ $_ } @{ $self->{allow} };
		push @bad, $line;
	}
	return @bad;
}

# ---- the end of a test file ----

sub _final_check {
	my ($self) = @_;
	$self->stop if $self->running || $self->{child};
	$_->stop for values %{ $self->{backends} };
	return unless $self->{started};
	my @bad = $self->bad_log_lines;
	ok(!@bad, "no alerts or sanitizer reports in the error log ($self->{tmp})")
	    or diag(join "\n", @bad[0 .. ($#bad < 19 ? $#bad : 19)]);
}

# done_testing() in a file runs this first, so the checks count as tests.
eval {
	require Test2::API;
	Test2::API::test2_add_callback_testing_done(sub {
		return unless $$ == $MAIN_PID;
		$_->_final_check for @INSTANCES;
		# A failing file shows what portico said about it.
		unless (Test::More->builder->is_passing) {
			for my $p (grep { $_->{started} } @INSTANCES) {
				my @l = split /\n/, $p->error_log . $p->stderr_text;
				splice @l, 0, -30 if @l > 30;
				diag("last lines of $p->{error_log}:\n" . join "\n", @l) if @l;
			}
		}
		@INSTANCES = ();
	});
	1;
} or warn "Test2::API missing: error logs are not checked\n";

# A test that dies still must not leave daemons or backends behind: turn
# signals into an exit so the END block runs; a closed socket is an error
# to report, not a reason to die.
$SIG{PIPE} = 'IGNORE';
$SIG{$_} = sub { diag("killed by SIG$_[0]"); exit 1 } for qw(TERM INT HUP);

END {
	if ($$ == $MAIN_PID) {
		local $?;
		for my $p (@INSTANCES) {
			$p->_kill_all;
			$_->stop for values %{ $p->{backends} };
		}
	}
}

1;
