#!/usr/bin/perl

# Several portico nodes behind one L4 balancer act as one proxy. In
# network namespaces this test makes (and always deletes), joined by a
# bridge:
#
#   client 10.200.0.10 --> HAProxy 10.200.0.2 (mode tcp, send-proxy-v2)
#                             |--> node 1 10.200.0.11 --+--> backend
#                             |--> node 2 10.200.0.12 --+    10.200.0.20
#
# The test itself runs as the client, in the client's namespace (with the
# backend at a second address there); each node and HAProxy run in their
# own. Checked: requests spread over both nodes; a TLS session made on one
# node resumes on the other (one tls_ticket_key_file); the client's
# address, not HAProxy's, is what the nodes log and the backend is given;
# and after one node is killed (SIGKILL, master and workers) not one new
# request fails: HAProxy's retries take them to the other node at once.
#
# Needs root (ip netns add) and haproxy; skipped, saying which, without.

use strict;
use warnings;

use Cwd qw(abs_path);
use IO::Socket::IP;
use JSON::PP;
use POSIX ();
use Test::More;
use Test::Portico;
use Test::Portico::Backend;
use Test::Portico::TLS qw(https);

my %ADDR = (client => '10.200.0.10', backend => '10.200.0.20', lb => '10.200.0.2',
	    n1 => '10.200.0.11', n2 => '10.200.0.12');

# ==== the namespaces, made and deleted by the first process ====

sub sh {
	my ($cmd) = @_;
	my $out = `$cmd 2>&1` =~ s/\s+/ /gr;
	return $? == 0 ? undef : "$cmd: $out";
}

# The namespaces' names: unique to this run, as "ip netns" wants them.
sub namespaces {
	my ($tag) = @_;
	return map { $_ => "portico-$tag-$_" } qw(hub client lb n1 n2);
}

# A namespace per role, each with one veth whose peer is a port of the
# bridge in "hub"; undef, or what failed.
sub make_network {
	my (%ns) = @_;
	my @cmds = ("ip -n $ns{hub} link add br0 type bridge", "ip -n $ns{hub} link set br0 up");
	for my $role (qw(client lb n1 n2)) {
		push @cmds, "ip link add eth0 netns $ns{$role} type veth peer name $role netns $ns{hub}",
		    "ip -n $ns{hub} link set $role master br0 up",
		    "ip -n $ns{$role} addr add $ADDR{$role}/24 dev eth0",
		    "ip -n $ns{$role} link set eth0 up", "ip -n $ns{$role} link set lo up";
	}
	push @cmds, "ip -n $ns{client} addr add $ADDR{backend}/24 dev eth0";
	for my $cmd (@cmds) {
		my $err = sh($cmd);
		return $err if $err;
	}
	return undef;
}

sub delete_namespaces {
	my (%ns) = @_;
	system('ip', 'netns', 'delete', $_) for grep { -e "/run/netns/$_" } values %ns;
}

# Makes the network, runs this file again as the client inside it, and
# deletes the network whatever became of the run; exits with its status.
sub run_in_namespaces {
	plan skip_all => "no portico binary at " . portico_bin() unless -x portico_bin();
	plan skip_all => 'network namespaces need root' unless $> == 0;
	my $haproxy = (grep { -x "$_/haproxy" } split(/:/, $ENV{PATH} // ''), '/usr/sbin')[0];
	plan skip_all => 'haproxy is not installed' unless $haproxy;
	my $tag = sprintf('%d-%04x', $$, int rand 65536);
	my %ns = namespaces($tag);
	if (my $err = sh("ip netns add $ns{hub}")) {
		plan skip_all => "network namespaces cannot be made here ($err)";
	}
	my $child;
	# Stopped from outside: the run stops its daemons, then the network goes.
	$SIG{$_} = sub {
		if ($child) {
			kill 'TERM', $child;
			wait_for(sub { waitpid($child, POSIX::WNOHANG()) == $child }, 10)
			    or kill 'KILL', $child;
		}
		delete_namespaces(%ns);
		POSIX::_exit(1);
	} for qw(TERM INT HUP);
	my $err;
	for my $role (grep { $_ ne 'hub' } keys %ns) {
		last if $err = sh("ip netns add $ns{$role}");
	}
	$err //= make_network(%ns);
	if ($err) {
		delete_namespaces(%ns);
		plan skip_all => "the test network cannot be made here ($err)";
	}
	$child = fork() // die "fork: $!\n";
	if ($child == 0) {
		$ENV{PORTICO_NODES_NS} = $tag;
		$ENV{PORTICO_HAPROXY} = "$haproxy/haproxy";
		exec('ip', 'netns', 'exec', $ns{client}, $^X,
		     (map { "-I$_" } grep { !ref } @INC), abs_path($0)) or POSIX::_exit(127);
	}
	waitpid($child, 0);
	my $status = $?;
	delete_namespaces(%ns);
	# The run printed the plan and the results; nothing more from here.
	POSIX::_exit($status & 127 ? 1 : $status >> 8);
}

run_in_namespaces() unless $ENV{PORTICO_NODES_NS};

# ==== from here on: the client, in its namespace ====

my %NS = namespaces($ENV{PORTICO_NODES_NS});
my $dir = File::Temp::tempdir('portico-nodes-XXXXXX', TMPDIR => 1,
    CLEANUP => !$ENV{PORTICO_TEST_KEEP});
chmod 0755, $dir;
my $pki = Test::Portico::TLS->new($dir);
my ($pem, $key) = $pki->cert('a.test');
system("openssl rand -out '$dir/ticket.key' 80") == 0 or die "openssl rand\n";
chmod 0600, glob("$dir/*.key");

my $backend = Test::Portico::Backend->new(name => 'app', dir => $dir, host => $ADDR{backend},
    port => 8080);

# Each node: its balancer's listeners (PROXY protocol from HAProxy only)
# and, to pin a connection to it, a TLS listener without.
sub node_conf {
	my ($addr) = @_;
	return <<"EOF";
workers = 2
tls_session_cache = "off"
tls_ticket_key_file = "$dir/ticket.key"
listen lb { address = "$addr:8080"  proxy_protocol = true  proxy_protocol_from = {"$ADDR{lb}"} }
listen lbtls {
	address = "$addr:8443"  tls = true
	proxy_protocol = true  proxy_protocol_from = {"$ADDR{lb}"}
}
listen direct { address = "$addr:9443"  tls = true }
upstream app { server "${\ $backend->address}" {} }
site a {
	listen = {"lb", "lbtls", "direct"}
	access_log = "%%TMP%%/access.log"
	access_log_format = "portico"
	tls { certificate = "$pem"  key = "$key" }
	route "/" { upstream = "app" }
}
EOF
}

my %node;
for my $n (qw(n1 n2)) {
	$node{$n} = Test::Portico->new(conf => node_conf($ADDR{$n}))
	    ->start(prefix => ['ip', 'netns', 'exec', $NS{$n}]);
}

# HAProxy in front: TCP, PROXY protocol v2, retries that move a refused
# connection to the other node (redispatch on every retry), checks that
# carry the PROXY header too.
my $servers = sub {
	my ($port) = @_;
	return join '', map {
		"\tserver $_ $ADDR{$_}:$port send-proxy-v2 check check-send-proxy inter 300ms "
		    . "fall 2 rise 1\n" } qw(n1 n2);
};
open my $cfg, '>', "$dir/haproxy.cfg" or die "$dir/haproxy.cfg: $!\n";
print $cfg <<"EOF";
global
	nbthread 1
	log stdout format raw local0
defaults
	mode tcp
	log global
	option tcplog
	timeout connect 1s
	timeout client 10s
	timeout server 10s
	retries 3
	option redispatch 1
frontend http
	bind $ADDR{lb}:80
	default_backend nodes_http
frontend https
	bind $ADDR{lb}:443
	default_backend nodes_https
backend nodes_http
	balance roundrobin
${\ $servers->(8080)}
backend nodes_https
	balance roundrobin
${\ $servers->(8443)}
EOF
close $cfg;
my $haproxy = fork() // die "fork: $!\n";
if ($haproxy == 0) {
	open STDIN, '<', '/dev/null';
	open STDOUT, '>', "$dir/haproxy.log";
	open STDERR, '>&', \*STDOUT;
	exec('ip', 'netns', 'exec', $NS{lb}, $ENV{PORTICO_HAPROXY}, '-db', '-f',
	     "$dir/haproxy.cfg") or POSIX::_exit(127);
}
END {
	local $?;
	if ($haproxy) {
		kill 'TERM', $haproxy;
		waitpid($haproxy, 0);
	}
}

sub connects {
	my ($host, $port) = @_;
	my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port, Timeout => 1);
	return $s ? 1 : 0;
}
ok(wait_for(sub { connects($ADDR{lb}, 80) && connects($ADDR{lb}, 443) }, 15),
   'HAProxy listens in its namespace') or diag(`cat $dir/haproxy.log`);

sub via_lb { http_get(80, $_[0], addr => $ADDR{lb}, timeout => 10) }

# The access log lines of a node for the paths that start with $path.
sub served {
	my ($n, $path) = @_;
	return grep { /"GET \Q$path\E\S* / } $node{$n}->access_log;
}

# Workers write their access log lines within a second: wait for them.
sub wait_served {
	my ($cond) = @_;
	return wait_for($cond, 10, 0.05);
}

# ==== requests spread over both nodes ====

my ($sent, $ok) = (0, 0);
wait_for(sub {
	$sent++;
	$ok++ if (via_lb('/spread')->{status} // 0) == 200;
	return served('n1', '/spread') && served('n2', '/spread');
}, 20, 0.05);
is($ok, $sent, "requests through HAProxy: every one answered 200 ($ok)");
ok(served('n1', '/spread') && served('n2', '/spread'),
   sprintf('... and both nodes logged some (%d and %d so far)', scalar served('n1', '/spread'),
	   scalar served('n2', '/spread')));

# ==== the client's address ====

my $r = via_lb('/echo');
my $seen = $r && $r->{status} == 200 ? eval { decode_json($r->{body}) } : undef;
is($seen && $seen->{header}{'x-forwarded-for'}, $ADDR{client},
   "the backend is given the client's address in X-Forwarded-For, not HAProxy's");
is($seen && $seen->{header}{'x-real-ip'}, $ADDR{client}, '... and in X-Real-IP');
my @logged;
wait_served(sub { @logged = map { served($_, '/echo') } qw(n1 n2) });
like($logged[0] // '', qr/^\Q$ADDR{client}\E /, 'the node logs the client address');

# ==== a TLS session made on one node resumes on the other ====

sub tls_on {
	my ($host, $port, $session, $path, $version) = @_;
	my $sock = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port, Timeout => 10)
	    or return { error => "connect $host:$port: $!" };
	return https($port, sock => $sock, sni => 'a.test', session => $session, path => $path,
		     $version ? (version => $version) : ());
}

for my $v ('TLSv1_2', 'TLSv1_3') {
	my $s = Test::Portico::TLS::Session->new;
	my $r1 = tls_on($ADDR{n1}, 9443, $s, '/tls', $v);
	is($r1->{status}, 200, "$v: a full handshake on node 1");
	is($r1->{reused}, 0, "$v: ... not resumed");
	my $r2 = tls_on($ADDR{n2}, 9443, $s, '/tls', $v);
	is($r2->{status}, 200, "$v: a handshake on node 2 with node 1's ticket");
	is($r2->{reused}, 1, "$v: ... resumes it (the nodes share tls_ticket_key_file)");
}
my $s = Test::Portico::TLS::Session->new;
my @lb = map { tls_on($ADDR{lb}, 443, $s, '/tls-lb') } 1 .. 6;
is(scalar(grep { ($_->{status} // 0) == 200 } @lb), 6, 'six TLS connections through HAProxy');
is(scalar(grep { $_->{reused} } @lb[1 .. 5]), 5, '... the last five resume the first one\'s '
   . 'session');
ok(wait_served(sub { served('n1', '/tls-lb') && served('n2', '/tls-lb') }),
   '... on both nodes');

# ==== a node is killed: no new request is lost ====

my @victim = grep { defined } $node{n1}->master_pid, $node{n1}->worker_pids;
is(scalar @victim, 3, 'node 1: a master and two workers');
kill 'KILL', @victim;
ok(wait_for(sub { !grep { Test::Portico::alive($_) } @victim }, 10), 'node 1 is killed');
my @after = map { via_lb("/after-kill/$_") } 1 .. 20;
is(scalar(grep { ($_->{status} // 0) == 200 } @after), 20,
   'every request sent after the kill, the first ones included, gets a 200');
ok(wait_served(sub { served('n2', '/after-kill/') == 20 }), '... from node 2');
# HAProxy's log marks a connection it redispatched with "+" before its
# retries: how many met the dead node before the checks took it out.
my $redispatched = () = Test::Portico::_slurp("$dir/haproxy.log") =~ m{/\+\d+ }g;
note("$redispatched connections were refused by the dead node and redispatched by HAProxy");

$backend->stop;
done_testing();
