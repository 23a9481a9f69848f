# bench/lib.sh: helpers shared by the benchmark scripts (sourced by
# bench/run and bench/balance).
#
# The caller sets, before using the functions that need them:
#   prog      its name, for messages ("bench/balance")
#   work      its temporary directory
#   master    an associative array: instance -> pid of its master process
#   pin_load  an array: the command prefix for wrk (taskset ...), may be empty
#   WARMUP, DURATION, THREADS, CONNS   the wrk settings
# and calls bench_init_clock once.
# shellcheck shell=bash disable=SC2154

die() { echo "$prog: $*" >&2; exit 1; }

calc() { awk "BEGIN { $1 }"; }

ratio() {   # a b -> a/b with two decimals, "-" when either is missing or b is 0
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a != "nan" && b != "nan" && a != "-" && b != "-" && a != "" && b != "" && b + 0 != 0)
			printf "%.2f", a / b
		else print "-" }'
}

# --- tools ---------------------------------------------------------------------
bench_need() {   # command:package ...: install (as root) the packages of missing commands
	local cp pk need=()
	export PATH=$PATH:/usr/sbin:/sbin
	for cp in "$@"; do
		command -v "${cp%%:*}" >/dev/null 2>&1 && continue
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
}

# --- CPU accounting ----------------------------------------------------------------
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

# --- one measured wrk run ------------------------------------------------------------
# wrk_measure url "proxy pids" "load pids" outfile [wrk options...]
# Runs WARMUP seconds of unmeasured wrk, then DURATION measured seconds, and
# fills the associative array M (declare -A M in the caller): reqs rps p50 p99
# (ms), ticks uticks (proxy CPU, clock ticks), util (proxy CPU %), load (CPU %
# of wrk and the load pids), other (CPU % of anything else), non2xx, sockerr,
# changed (1 when the proxy's processes changed: a crash or restart). Returns 1
# when wrk failed or reported errors, or the processes changed.
wrk_measure() {
	local url=$1 pids=$2 lpids=$3 outfile=$4 out pids2
	shift 4
	local t0 t1 c0 c1 u0 u1 b0 b1 w0 w1 m0 m1 reqs rps p50 p99 non2xx sockerr wall p rc=0
	if [ "$WARMUP" != 0 ]; then
		"${pin_load[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" "$@" "$url" >/dev/null 2>&1 || true
	fi
	# shellcheck disable=SC2086
	{ read -r c0 u0 <<<"$(cputicks $pids)"; read -r b0 _ <<<"$(cputicks $lpids)"; }
	childticks
	w0=$CT m0=$(busyticks) t0=$(date +%s.%N)
	out=$(timeout -k 5 $((DURATION + 30)) "${pin_load[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" \
		--latency "$@" "$url" 2>&1) || true
	t1=$(date +%s.%N) m1=$(busyticks)
	childticks
	w1=$CT
	# shellcheck disable=SC2086
	{ read -r c1 u1 <<<"$(cputicks $pids)"; read -r b1 _ <<<"$(cputicks $lpids)"; }
	# The processes now: those still alive, with their children (a new child
	# means a restart).
	pids2=$(for p in $pids; do [ ! -d "/proc/$p" ] || descendants "$p"; done | sort -nu | tr '\n' ' ')
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
	wall=$(calc "printf \"%.3f\", $t1 - $t0")
	M[reqs]=$reqs
	M[rps]=$rps
	M[p50]=$(to_ms "${p50:-nan}")
	M[p99]=$(to_ms "${p99:-nan}")
	M[ticks]=$((c1 - c0))
	M[uticks]=$((u1 - u0))
	M[util]=$(calc "printf \"%.0f\", $((c1 - c0)) / $CLK_TCK / $wall * 100")
	M[load]=$(calc "printf \"%.0f\", $((b1 - b0 + w1 - w0)) / $CLK_TCK / $wall * 100")
	# Everything else the machine did meanwhile, in % of one CPU (steal time not counted).
	M[other]=$(calc "v = ($((m1 - m0)) - $((c1 - c0)) - $((b1 - b0)) - $((w1 - w0))) / $CLK_TCK / $wall * 100; printf \"%.0f\", v < 0 ? 0 : v")
	M[non2xx]=${non2xx:-0}
	M[sockerr]=${sockerr:-0}
	M[changed]=0
	# The pids given are the whole tree, sorted; compare as sorted sets.
	# shellcheck disable=SC2086
	if [ "$(echo $pids | tr ' ' '\n' | sort -n | tr '\n' ' ')" != "$pids2" ]; then
		M[changed]=1 rc=1
	fi
	if [ "${M[non2xx]}" != 0 ] || [ "${M[sockerr]}" != 0 ]; then rc=1; fi
	return "$rc"
}
