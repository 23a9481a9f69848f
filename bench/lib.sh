# bench/lib.sh: helpers shared by the benchmark scripts (sourced by
# bench/run, bench/balance, bench/tls and bench/cache).
#
# The caller sets, before using the functions that need them:
#   prog      its name, for messages ("bench/balance")
#   here      the bench directory (templates)
#   port      an associative array: instance -> its port
#   NGINX, HAPROXY   the binaries; PORTICO through bench_portico
#   VARNISHD, varnish_args   (bench/cache) varnishd and its options (an array)
#   BASELINE  (bench/run) the binary of the "base" instances, through
#             bench_binary
#   WARMUP, DURATION, THREADS, CONNS   the wrk settings
# and calls bench_init_clock once. bench_pin sets pin_proxy and pin_load,
# bench_quota checks QUOTA (each proxy in a CPU-capped cgroup, see below),
# bench_tempdir sets work and master (instance -> pid of its master).
# An instance is named KIND or KIND-SOMETHING, KIND one of backend, nginx,
# haproxy, portico, base (a portico instance run with $BASELINE), relay
# ($work/relay.bin, bench/relay.c, compiled by the caller: no configuration,
# forwards port[instance] to port[backend]), varnish (varnishd in the
# foreground, its working directory $work/INSTANCE/n); its files are in
# $work/INSTANCE.
# shellcheck shell=bash disable=SC2154

declare -A ready_url=()   # see start_server
declare -A stdout_file=()   # see start_server

die() { echo "$prog: $*" >&2; exit 1; }

calc() { awk "BEGIN { $1 }"; }

ratio() {   # a b -> a/b with two decimals, "-" when either is missing or b is 0
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a != "nan" && b != "nan" && a != "-" && b != "-" && a != "" && b != "" && b + 0 != 0)
			printf "%.2f", a / b
		else print "-" }'
}

# --- tools ---------------------------------------------------------------------
bench_need() {   # command:package ... (or /file:package): install (as root) the packages of missing ones
	local cp pk need=()
	export PATH=$PATH:/usr/sbin:/sbin
	for cp in "$@"; do
		case $cp in
		/*) [ ! -e "${cp%%:*}" ] || continue ;;   # a file, such as a header
		*) ! command -v "${cp%%:*}" >/dev/null 2>&1 || continue ;;
		esac
		read -r -a pk <<<"${cp#*:}"
		need+=("${pk[@]}")
	done
	[ "${#need[@]}" -gt 0 ] || return 0
	[ "$(id -u)" -eq 0 ] || die "missing ${need[*]}; as root: apt-get install -y ${need[*]}"
	echo "$prog: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "${need[@]}" </dev/null >/dev/null ||
		{ apt-get update -q </dev/null >/dev/null &&
		  apt-get install -y -q "${need[@]}" </dev/null >/dev/null; } ||
		die "could not install ${need[*]}"
}

bench_stop_services() {   # service ...: stop them under systemd (Debian starts them on install)
	local s
	[ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 || return 0
	for s in "$@"; do
		if systemctl is-active --quiet "$s" 2>/dev/null; then
			echo "$prog: stopping the system $s service (systemctl stop $s)"
			systemctl stop "$s" || true
		fi
	done
}

bench_ports_free() {   # port ...: die when one is in use
	local p
	for p in "$@"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			die "port $p is already in use (set BASE_PORT)"
		fi
	done
}

# --- CPU quota (QUOTA=N) ------------------------------------------------------------
# With QUOTA set, start_server puts every process of each proxy instance
# (kinds nginx, haproxy, portico, base, relay, varnish; never the backend, nor the
# load, which the caller starts itself) in a cgroup v1 cpu cgroup of its
# own, $CG_CPU/portico-bench-INSTANCE, with cpu.cfs_period_us=10000 and
# cpu.cfs_quota_us = QUOTA% of it: the proxy gets at most QUOTA% of one CPU,
# and requests/s measures its work per CPU. The master joins the cgroup
# before it starts (a sh wrapper writes its own pid into cgroup.procs and
# execs the server), so every worker it forks inherits it. The cgroups go
# when their instance stops (stop_server) and at exit (bench_cleanup).
CG_CPU=${CG_CPU:-/sys/fs/cgroup/cpu}
CG_PERIOD=10000
declare -A cg_made=()   # instance -> its cgroup directory, made by this run

bench_quota() {   # checks QUOTA (unset or empty: no caps) and the cgroup v1 cpu controller; sets quota_us
	QUOTA=${QUOTA:-}
	quota_us=
	[ -n "$QUOTA" ] || return 0
	case $QUOTA in *[!0-9]*|0*) die "QUOTA must be a whole percentage of one CPU (40: 4 ms of every 10 ms)" ;; esac
	[ "$QUOTA" -ge 10 ] || die "QUOTA must be 10 or more (the kernel's least cpu.cfs_quota_us is 1000)"
	if [ ! -f "$CG_CPU/cpu.cfs_quota_us" ] || [ ! -f "$CG_CPU/cgroup.procs" ]; then
		die "QUOTA needs the cgroup v1 cpu controller mounted at $CG_CPU (CG_CPU=...)"
	fi
	[ -w "$CG_CPU" ] || die "QUOTA needs root (it makes cgroups in $CG_CPU)"
	quota_us=$((QUOTA * CG_PERIOD / 100))
}

quota_note() {   # one line for a header: what QUOTA does, or nothing without it
	[ -z "${QUOTA:-}" ] ||
		echo "QUOTA=$QUOTA: each proxy's processes capped at $QUOTA% of one CPU (cgroup v1 $CG_CPU/portico-bench-NAME, cfs_quota_us $quota_us per cfs_period_us $CG_PERIOD); load and backend not capped"
}

cg_capped() {   # instance: 0 when bench_quota took a QUOTA and the instance is a proxy
	[ -n "${quota_us:-}" ] || return 1
	case ${1%%-*} in nginx|haproxy|portico|base|relay|varnish) return 0 ;; esac
	return 1
}

cg_dir() { echo "$CG_CPU/portico-bench-$1"; }

cg_make() {   # instance: make (or take over an empty leftover) its cgroup, set its quota
	local d
	d=$(cg_dir "$1")
	if [ -d "$d" ]; then
		# (cgroup files have no size: read them)
		[ -z "$(cat "$d/cgroup.procs")" ] ||
			die "cgroup $d is in use (pids $(tr '\n' ' ' <"$d/cgroup.procs")): another bench running?"
	else
		mkdir "$d" || die "cannot make the cgroup $d"
	fi
	cg_made[$1]=$d
	{ echo -1 >"$d/cpu.cfs_quota_us" && echo "$CG_PERIOD" >"$d/cpu.cfs_period_us" &&
		echo "$quota_us" >"$d/cpu.cfs_quota_us"; } 2>/dev/null ||
		die "cannot set the quota of the cgroup $d"
}

cg_remove() {   # instance: remove its cgroup (killing what is left in it: only this run's processes)
	local d=${cg_made[$1]:-} p
	[ -n "$d" ] || return 0
	for _ in $(seq 50); do
		[ -d "$d" ] || break
		rmdir "$d" 2>/dev/null && break
		while read -r p; do kill -KILL "$p" 2>/dev/null || true; done 2>/dev/null <"$d/cgroup.procs" || true
		sleep 0.1
	done
	[ ! -d "$d" ] || echo "$prog: could not remove the cgroup $d" >&2
	unset "cg_made[$1]"
}

cg_check() {   # instance: die unless every process of the instance is in its cgroup
	local d=${cg_made[$1]} p out=
	for p in $(descendants "${master[$1]}"); do
		grep -qx "$p" "$d/cgroup.procs" || out+=" $p"
	done
	[ -z "$out" ] || die "$1: processes$out are not in the cgroup $d"
}

# --- setting up ------------------------------------------------------------------
bench_binary() {   # var hint: die unless $var is an executable file; make it absolute
	local -n bin=$1
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then die "no portico binary at $bin ($2)"; fi
	bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
}

bench_portico() {   # [path]: sets PORTICO, absolute, from path, $PORTICO or ./portico
	PORTICO=${1:-${PORTICO:-./portico}}
	bench_binary PORTICO "give its path as argument or PORTICO=...; default ./portico, from the build directory"
}

portico_bin() {   # instance: the binary of a portico or base instance
	if [ "${1%%-*}" = base ]; then echo "$BASELINE"; else echo "$PORTICO"; fi
}

portico_version() {   # binary: its version, as -V prints it
	"$1" -V 2>&1 | head -1 | awk '{ print $NF }'
}

bench_pin() {   # sets PIN (default: 1 with 2 or more CPUs), pin_proxy and pin_load
	if [ -z "${PIN:-}" ]; then
		if [ "$(nproc)" -ge 2 ]; then PIN=1; else PIN=0; fi
	fi
	pin_proxy=() pin_load=()
	if [ "$PIN" = 1 ]; then
		pin_proxy=(taskset -c "${PROXY_CPU:-1}")
		pin_load=(taskset -c "${LOAD_CPU:-0}")
	fi
}

bench_tempdir() {   # name: makes $work (/tmp/name.XXXXXX) and cleans up at exit
	work=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 755 "$work"   # the nginx and portico workers run as nobody
	declare -gA master=()
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# At exit (also on Ctrl-C): bench_atexit when the script defines one, then
# every server in master stopped, the QUOTA cgroups removed, then $work
# removed unless KEEP=1.
bench_cleanup() {
	local rc=$? n
	trap - EXIT INT TERM
	if declare -F bench_atexit >/dev/null; then bench_atexit || true; fi
	for n in "${!master[@]}"; do stop_server "$n"; done
	for n in "${!cg_made[@]}"; do cg_remove "$n"; done
	if [ "${KEEP:-0}" = 1 ]; then echo "$prog: kept $work"; else rm -rf "$work"; fi
	exit "$rc"
}

bench_fwd() {   # scheme: sets nginx_fwd, haproxy_fwd, portico_fwd: the same forwarding headers
	nginx_fwd='			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Real-IP $remote_addr;
			proxy_set_header X-Forwarded-Proto $scheme;'
	haproxy_fwd="	option forwardfor
	http-request set-header X-Real-IP %[src]
	http-request set-header X-Forwarded-Proto $1"
	portico_fwd='	forwarded_headers = {"x-forwarded-for", "x-real-ip", "x-forwarded-proto"}'
}

# template instance: sets T to the template's text with the placeholders
# every script uses filled in (WORK, DIR, PORT, NOFILE, the *_FWD ones);
# the caller fills in its own and writes T out.
bench_template() {
	T=$(<"$here/$1")
	T=${T//@WORK@/$work}
	T=${T//@DIR@/$work/$2}
	T=${T//@PORT@/${port[$2]}}
	T=${T//@NOFILE@/$NOFILE}
	T=${T//@NGINX_FWD@/${nginx_fwd-}}
	T=${T//@HAPROXY_FWD@/${haproxy_fwd-}}
	T=${T//@PORTICO_FWD@/${portico_fwd-}}
}

# --- servers ---------------------------------------------------------------------
conf_name() {   # instance: the name of its configuration file
	case ${1%%-*} in
	backend|nginx) echo nginx.conf ;;
	haproxy) echo haproxy.cfg ;;
	portico|base) echo portico.conf ;;
	varnish) echo default.vcl ;;
	esac
}

check_conf() {   # instance: 0 when its program accepts its configuration (output in test.out)
	local inst=$1 dir=$work/$1
	case ${inst%%-*} in
	backend|nginx)
		"$NGINX" -t -q -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" 2>"$dir/test.out" ;;
	haproxy)
		"$HAPROXY" -c -q -f "$dir/haproxy.cfg" >"$dir/test.out" 2>&1 ;;
	portico|base)
		"$(portico_bin "$inst")" -t -c "$dir/portico.conf" >"$dir/test.out" 2>&1 ;;
	varnish)
		"$VARNISHD" -C -n "$dir/n-test" -f "$dir/default.vcl" >"$dir/test.out" 2>&1 ;;
	esac
}

need_conf() {   # instance: die when its configuration is rejected
	check_conf "$1" || { cat "$work/$1/test.out" >&2; die "the $1 configuration was rejected"; }
}

# instance: start it (the backend pinned as the load, the proxies as
# proxies, and with QUOTA in their cgroup), wait until it answers
# ${ready_url[instance]}, by default http://127.0.0.1:PORT/1k.html; die
# when it does not. HAProxy's stdout goes to ${stdout_file[instance]} when
# set (bench/logs: its "log stdout" lines), else with its stderr.
start_server() {
	local inst=$1 dir=$work/$1 url pin=("${pin_proxy[@]}")
	url=${ready_url[$inst]:-http://127.0.0.1:${port[$inst]}/1k.html}
	if cg_capped "$inst"; then
		# The wrapper joins the cgroup, then becomes the server (same pid),
		# before the server forks anything.
		cg_make "$inst"
		# shellcheck disable=SC2016  # for sh to expand
		pin+=(sh -c 'echo $$ >"$1/cgroup.procs" || exit 126; shift; exec "$@"' bench-cgroup "${cg_made[$inst]}")
	fi
	case ${inst%%-*} in
	backend)
		"${pin_load[@]}" "$NGINX" -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" \
			>"$dir/stderr" 2>&1 & ;;
	nginx)
		"${pin[@]}" "$NGINX" -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" \
			>"$dir/stderr" 2>&1 & ;;
	haproxy)
		if [ -n "${stdout_file[$inst]:-}" ]; then
			# Its log lines ("log stdout") appended to a file of their
			# own (O_APPEND: the caller may truncate it meanwhile).
			"${pin[@]}" "$HAPROXY" -db -f "$dir/haproxy.cfg" >>"${stdout_file[$inst]}" 2>"$dir/stderr" &
		else
			"${pin[@]}" "$HAPROXY" -db -f "$dir/haproxy.cfg" >"$dir/stderr" 2>&1 &
		fi ;;
	portico|base)
		"${pin[@]}" "$(portico_bin "$inst")" -F -c "$dir/portico.conf" >"$dir/stderr" 2>&1 & ;;
	relay)
		mkdir -p "$dir"
		"${pin[@]}" "$work/relay.bin" "${port[$inst]}" "${port[backend]}" >"$dir/stderr" 2>&1 & ;;
	varnish)
		"${pin[@]}" "$VARNISHD" -F -n "$dir/n" -a "127.0.0.1:${port[$inst]}" -f "$dir/default.vcl" \
			"${varnish_args[@]}" >"$dir/stderr" 2>&1 & ;;
	esac
	master[$inst]=$!
	for _ in $(seq "${START_TRIES:-100}"); do   # tenths of a second, at least
		if curl -fsS -k -m 2 -o /dev/null "$url" 2>/dev/null; then
			[ -z "${cg_made[$inst]:-}" ] || cg_check "$inst"
			return 0
		fi
		kill -0 "${master[$inst]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$dir/stderr" "$dir/error.log" 2>/dev/null | tail -5 >&2
	die "$inst did not start or does not answer (KEEP=1 keeps its logs)"
}

log_problems() {   # instance ...: print what their logs hold as problems
	local s f bad pat='\[(error|crit|alert|emerg)\]|ALERT|fatal|segfault|abort|sanitizer'
	for s in "$@"; do
		for f in "$work/$s/error.log" "$work/$s/stderr"; do
			[ -s "$f" ] || continue
			bad=$(grep -ciE "$pat" "$f" || true)
			if [ "$bad" != 0 ]; then
				echo "$s: $bad problem line(s) in its $(basename "$f"), first: $(grep -iE "$pat" "$f" | head -1)"
			fi
		done
	done
}

verdict() {   # a op b: MET, NOT MET, or n/a when either is missing; op is <= or >=
	awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
		if (a == "nan" || b == "nan" || a == "-" || b == "-") { print "n/a"; exit }
		ok = (op == "<=") ? (a + 0 <= b + 0) : (a + 0 >= b + 0)
		print ok ? "MET" : "NOT MET" }'
}

# label key format target: one line of a summary: S[nginx,key],
# S[haproxy,key], S[portico,key] in the format, portico/HAProxy,
# portico/nginx, then the target. With row_base=1, S[base,key] before
# portico's and portico/base after the other ratios (row_header matches).
row() {
	local a=${S[nginx,$2]} b=${S[haproxy,$2]} c=${S[portico,$2]} d
	if [ "${row_base:-0}" = 1 ]; then
		d=${S[base,$2]}
		printf "%-22s %8$3 %8$3 %8$3 %8$3 %6s %6s %6s  %s\n" "$1" "$a" "$b" "$d" "$c" \
			"$(ratio "$c" "$b")" "$(ratio "$c" "$a")" "$(ratio "$c" "$d")" "$4"
	else
		printf "%-22s %8$3 %8$3 %8$3 %6s %6s  %s\n" "$1" "$a" "$b" "$c" "$(ratio "$c" "$b")" "$(ratio "$c" "$a")" "$4"
	fi
}

row_header() {   # the column heads of row's lines
	if [ "${row_base:-0}" = 1 ]; then
		printf '%-22s %8s %8s %8s %8s %6s %6s %6s  %s\n' '' nginx haproxy base portico p/hap p/ngx p/base 'target'
	else
		printf '%-22s %8s %8s %8s %6s %6s  %s\n' '' nginx haproxy portico p/hap p/ngx 'target'
	fi
}

stats() {   # number ...: "mean median min max" (3 decimals) of those that are numbers, or "- - - -"
	printf '%s\n' "$@" | awk '$1 ~ /^-?[0-9.]+$/ { print $1 }' | sort -g |
		awk '{ v[++n] = $1; s += $1 }
		END { if (!n) { print "- - - -"; exit }
		      m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		      printf "%.3f %.3f %s %s\n", s / n, m, v[1], v[n] }'
}

# --- processes -------------------------------------------------------------------
descendants() {   # the pids and all their descendants, one a line
	local p c
	for p in "$@"; do
		echo "$p"
		for c in $(pgrep -P "$p" 2>/dev/null); do descendants "$c"; done
	done
}

procs() { descendants "${master[$1]}" | sort -n | tr '\n' ' '; }

stop_server() {   # instance: TERM its master, then KILL whatever is left of its tree
	local pid=${master[$1]:-} all p
	[ -n "$pid" ] || return 0
	all=$(descendants "$pid")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	for p in $all; do kill -KILL "$p" 2>/dev/null || true; done
	wait "$pid" 2>/dev/null || true
	unset "master[$1]"
	cg_remove "$1"
}

# --- memory and CPU accounting -------------------------------------------------------
memkib() {   # "Pss Rss" in KiB, summed over the listed pids
	local p pss=0 rss=0 k v _
	for p in "$@"; do
		while read -r k v _; do
			case $k in
			Pss:) pss=$((pss + v)) ;;
			Rss:) rss=$((rss + v)) ;;
			esac
		done <"/proc/$p/smaps_rollup"
	done
	echo "$pss $rss"
}
bench_init_clock() { CLK_TCK=$(getconf CLK_TCK); }

cputicks() {   # "utime+stime utime" of the listed pids, in clock ticks
	local p s f t=0 u=0
	for p in "$@"; do
		s=$(<"/proc/$p/stat") || continue
		read -r -a f <<<"${s##*) }"
		t=$((t + f[11] + f[12])) u=$((u + f[11]))
	done
	echo "$t $u"
}

busyticks() {   # user+nice+system+irq+softirq of the machine, in clock ticks
	local _ u n s hi si
	read -r _ u n s _ _ hi si _ </proc/stat
	echo $((u + n + s + hi + si))
}

childticks() {   # sets CT: CPU of this shell's waited-for children, in clock ticks
	# Call it directly, not in $(...): a subshell has children times of its own.
	times >"$work/times"
	CT=$(awk -v hz="$CLK_TCK" 'NR == 2 {
		t = 0
		for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
		printf "%d", t * hz + 0.5 }' "$work/times")
}

cpu_us() {   # ticks requests -> microseconds per request
	calc "if ($2 > 0) printf \"%.2f\", $1 / $CLK_TCK * 1e6 / $2; else print \"nan\""
}

to_ms() {   # wrk's latency ("523.12us", "1.20ms", "1.01s") in milliseconds
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
		if (f < 0) { print "nan"; exit }
		printf "%.3f", n * f }'
}

# --- one measured run ----------------------------------------------------------------
# measure_begin "proxy pids" "load pids", then the load, then measure_end with
# the same arguments: fills the associative array M (declare -A M in the
# caller) with ticks uticks (proxy CPU, clock ticks), util (proxy CPU %),
# load (CPU % of this shell's children and the load pids), other (CPU % of
# anything else), wall (seconds), changed (1 when the proxy's processes
# changed: a crash or restart). measure_end returns 1 when they changed.
measure_begin() {
	# shellcheck disable=SC2086
	{ read -r MB_c0 MB_u0 <<<"$(cputicks $1)"; read -r MB_b0 _ <<<"$(cputicks $2)"; }
	childticks
	MB_w0=$CT MB_m0=$(busyticks) MB_t0=$(date +%s.%N)
}

measure_end() {
	local pids=$1 lpids=$2 t1 m1 w1 c1 u1 b1 p pids2 wall
	t1=$(date +%s.%N) m1=$(busyticks)
	childticks
	w1=$CT
	# shellcheck disable=SC2086
	{ read -r c1 u1 <<<"$(cputicks $pids)"; read -r b1 _ <<<"$(cputicks $lpids)"; }
	# The processes now: those still alive, with their children (a new child
	# means a restart).
	pids2=$(for p in $pids; do [ ! -d "/proc/$p" ] || descendants "$p"; done | sort -nu | tr '\n' ' ')
	wall=$(calc "printf \"%.3f\", $t1 - $MB_t0")
	M[wall]=$wall
	M[ticks]=$((c1 - MB_c0))
	M[uticks]=$((u1 - MB_u0))
	M[util]=$(calc "printf \"%.0f\", $((c1 - MB_c0)) / $CLK_TCK / $wall * 100")
	M[load]=$(calc "printf \"%.0f\", $((b1 - MB_b0 + w1 - MB_w0)) / $CLK_TCK / $wall * 100")
	# Everything else the machine did meanwhile, in % of one CPU (steal time not counted).
	M[other]=$(calc "v = ($((m1 - MB_m0)) - $((c1 - MB_c0)) - $((b1 - MB_b0)) - $((w1 - MB_w0))) / $CLK_TCK / $wall * 100; printf \"%.0f\", v < 0 ? 0 : v")
	M[changed]=0
	# The pids given are the whole tree, sorted; compare as sorted sets.
	# shellcheck disable=SC2086
	if [ "$(echo $pids | tr ' ' '\n' | sort -n | tr '\n' ' ')" != "$pids2" ]; then
		M[changed]=1
		return 1
	fi
}

# wrk_measure url "proxy pids" "load pids" outfile [wrk options...]
# Runs WARMUP seconds of unmeasured wrk, then DURATION measured seconds, and
# fills M as measure_end does, and reqs rps p50 p99 (ms) non2xx sockerr.
# Returns 1 when wrk failed or reported errors, or the processes changed.
wrk_measure() {
	local url=$1 pids=$2 lpids=$3 outfile=$4 out
	shift 4
	local reqs rps p50 p99 non2xx sockerr rc=0
	if [ "$WARMUP" != 0 ]; then
		"${pin_load[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" "$@" "$url" >/dev/null 2>&1 || true
	fi
	measure_begin "$pids" "$lpids"
	out=$(timeout -k 5 $((DURATION + 30)) "${pin_load[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" \
		--latency "$@" "$url" 2>&1) || true
	measure_end "$pids" "$lpids" || rc=1
	echo "$out" >"$outfile"

	reqs=$(awk '/requests in/ { print $1; exit }' <<<"$out")
	rps=$(awk '/^Requests\/sec:/ { print $2; exit }' <<<"$out")
	p50=$(awk '$1 == "50%" { print $2; exit }' <<<"$out")
	p99=$(awk '$1 == "99%" { print $2; exit }' <<<"$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF; exit }' <<<"$out")
	sockerr=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10; exit }' <<<"$out")
	if [ -z "$reqs" ] || [ -z "$rps" ] || [ "$reqs" = 0 ]; then
		echo "$prog: wrk against $url failed:" >&2
		echo "$out" >&2
		reqs=0 rps=0 p50=nan p99=nan rc=1
	fi
	M[reqs]=$reqs
	M[rps]=$rps
	M[p50]=$(to_ms "${p50:-nan}")
	M[p99]=$(to_ms "${p99:-nan}")
	M[non2xx]=${non2xx:-0}
	M[sockerr]=${sockerr:-0}
	if [ "${M[non2xx]}" != 0 ] || [ "${M[sockerr]}" != 0 ]; then rc=1; fi
	return "$rc"
}
