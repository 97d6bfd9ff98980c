# shellcheck shell=bash
# Shared by the experiments in eval/ (run by scripts/evaluate, or alone).
# Sourced, not run. Functions are prefixed eval_ (but usage, say and die,
# which every experiment calls); each does one thing.

# shellcheck disable=SC2034 # (all the file) EVAL_TOP, CMDLINE, QUICK: used by the scripts that source this
EVAL_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EVAL_USAGE='' # a script's own options, for usage (see eval_init)

# ---- the command line and what an experiment needs ------------------------

# eval_init NAME ARGS...: sets NAME and CMDLINE (eval/NAME.sh ARGS, quoted,
# for the records) and parses ARGS, an experiment's command line
#   eval/NAME.sh --out DIR [--quick] [--build BUILD] [EVAL_USAGE]
# into OUT, QUICK (true or false) and BUILD (default <repo>/build); no --out,
# or an option it does not know, is a usage error. A script with options of
# its own sets EVAL_USAGE to their synopsis ("[--swf FILE]") and defines
# eval_option before eval_init: called with the rest of the command line from
# an option eval_init does not know, it takes that option and its argument
# (returns 0) or neither (returns 1: a usage error).
eval_init() {
	NAME=$1
	shift
	CMDLINE="eval/$NAME.sh $(eval_command_line "$@")"
	OUT='' QUICK=false BUILD=$EVAL_TOP/build
	while [ $# -gt 0 ]; do
		case $1 in
		--out) [ $# -ge 2 ] || usage; OUT=$2; shift 2 ;;
		--quick) QUICK=true; shift ;;
		--build) [ $# -ge 2 ] || usage; BUILD=$2; shift 2 ;;
		*) if declare -F eval_option >/dev/null && eval_option "$@"; then shift 2; else usage; fi ;;
		esac
	done
	[ -n "$OUT" ] || usage
}

# usage: the experiment's synopsis on stderr; exits 2.
usage() {
	echo "usage: eval/$NAME.sh --out DIR [--quick] [--build BUILD]${EVAL_USAGE:+ $EVAL_USAGE}" >&2
	exit 2
}

# say MESSAGE: "NAME: MESSAGE" on stderr; die MESSAGE: says it, exits 1.
say() { echo "$NAME: $*" >&2; }
die() { say "$*"; exit 1; }

# eval_root WHY: dies unless run as root ("needs root (WHY)").
eval_root() { [ "$(id -u)" = 0 ] || die "needs root ($1)"; }

# eval_out: creates OUT and makes it absolute.
eval_out() {
	mkdir -p "$OUT" || die "cannot create $OUT"
	OUT=$(cd "$OUT" && pwd)
}

# eval_build: makes BUILD absolute; dies when it is no directory.
eval_build() {
	local b
	b=$(cd "$BUILD" 2>/dev/null && pwd) || die "no build tree $BUILD"
	BUILD=$b
}

# eval_need FILE...: dies unless every FILE (something built in BUILD) exists.
eval_need() {
	local f
	for f in "$@"; do
		[ -e "$f" ] || die "no $f: build coloc first (make -C $BUILD)"
	done
}

# ---- numbers -------------------------------------------------------------

# eval_median: the median of the numbers on stdin, one a line (the mean of
# the middle two for an even count); prints nothing for no input.
eval_median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# eval_pct P: the P-th percentile (nearest rank, 0 < P <= 100) of the
# numbers on stdin; eval_p99: the 99th.
eval_pct() {
	sort -g | awk -v p="$1" '{ v[NR] = $1 } END {
		if (NR == 0) exit
		r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR; print v[r] }'
}
eval_p99() { eval_pct 99; }

# eval_ratio A B: A / B (3 decimals below 10, 1 below 100, none above), or
# null when B is 0 or empty.
eval_ratio() {
	awk -v a="${1:-}" -v b="${2:-}" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0) { print "null"; exit }
		r = a / b; printf (r < 10 ? "%.3f\n" : r < 100 ? "%.1f\n" : "%.0f\n"), r }'
}

# eval_stats_json: {"n":..,"median":..,"p99":..,"min":..,"max":..} of the
# numbers on stdin.
eval_stats_json() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "{\"n\":0}"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		r = int(0.99 * NR + 0.999999); if (r > NR) r = NR
		printf "{\"n\":%d,\"median\":%.6g,\"p99\":%.6g,\"min\":%.6g,\"max\":%.6g}\n", NR, m, v[r], v[1], v[NR] }'
}

# ---- JSON ----------------------------------------------------------------

# eval_json_str S: S as a JSON string (quotes, backslashes, control characters escaped).
eval_json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	s=${s//$'\r'/\\r}
	printf '"%s"' "$s"
}

# eval_json_get KEY: the value of "KEY" (a number, string or literal) in the
# one-line JSON object on stdin; strings without their quotes.
eval_json_get() {
	grep -o "\"$1\":\\(\"[^\"]*\"\\|[^,}]*\\)" | head -1 | sed 's/^"[^"]*"://; s/^"//; s/"$//'
}

# eval_json_array: the numbers on stdin as a JSON array.
eval_json_array() {
	awk 'BEGIN { printf "[" } { printf "%s%s", (NR > 1 ? "," : ""), $1 } END { print "]" }'
}

# eval_machine_json: {"cpus":..,"kernel":..,"libfabric":..} of this machine.
eval_machine_json() {
	local fab
	fab=$(fi_info --version 2>/dev/null | awk '/^libfabric:/ { print $2 }')
	[ -n "$fab" ] || fab=$(dpkg-query -W -f='${Version}' libfabric1 2>/dev/null)
	printf '{"cpus":%d,"kernel":%s,"libfabric":%s}\n' "$(nproc)" \
		"$(eval_json_str "$(uname -r)")" "$(eval_json_str "${fab:-unknown}")"
}

# eval_write_json FILE NAME QUICK COMMAND PARAMS RESULTS: writes the
# experiment's record (PARAMS and RESULTS are JSON objects).
eval_write_json() {
	printf '{"experiment":%s,"quick":%s,"command":%s,"machine":%s,"params":%s,"results":%s}\n' \
		"$(eval_json_str "$2")" "$3" "$(eval_json_str "$4")" "$(eval_machine_json)" "$5" "$6" >"$1"
}

# eval_command_line ARGS...: the command line, shell-quoted, for the records.
eval_command_line() {
	local a out=
	for a in "$@"; do out+="${out:+ }$(printf '%q' "$a")"; done
	echo "$out"
}

# ---- tools -----------------------------------------------------------------

# eval_ensure_gnuplot: installs gnuplot-nox when gnuplot is missing (root).
eval_ensure_gnuplot() {
	command -v gnuplot >/dev/null && return 0
	[ "$(id -u)" = 0 ] || { echo "eval: gnuplot is missing: apt-get install gnuplot-nox" >&2; return 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null ||
		{ echo "eval: cannot install gnuplot-nox" >&2; return 1; }
}

# eval_png_terminal: the best PNG terminal this gnuplot has.
eval_png_terminal() {
	if gnuplot -e 'set terminal' 2>&1 | grep -qw pngcairo; then echo pngcairo; else echo png; fi
}

# eval_stamp VAR: sets VAR to the microseconds since the epoch, without a
# fork (bash's EPOCHREALTIME), so that it can be taken right before and
# after what is timed.
eval_stamp() {
	local t=${EPOCHREALTIME/./}
	printf -v "$1" '%s' "${t/,/}"
}

# eval_ms T0 T1: milliseconds from stamp T0 to stamp T1, 3 decimals.
eval_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) / 1000 }'; }

# ---- a colocd --standalone of the experiment's own (reclaim.sh, sebs.sh) ------

# eval_colocd_start DIR PORT ROOT GRACE_MS EXECUTOR: writes DIR/coloc.conf
# (this machine the only node, controller on 127.0.0.1:PORT, CgroupRoot
# ROOT, no authentication, everything lendable, tcp;ofi_rxm), starts
# BUILD's colocd --standalone in the background (COLOCD_PID; its log
# DIR/colocd.log) and waits (30 s) for its socket. The caller's EXIT trap
# must call eval_colocd_stop ROOT.
eval_colocd_start() {
	local dir=$1 port=$2 root=$3 grace=$4 executor=$5
	printf '%s\n' ControllerHost=127.0.0.1 "ControllerPort=$port" "SocketPath=$dir/colocd.sock" \
		"StateDir=$dir/state" "CgroupRoot=$root" AuthType=none MaxLendFraction=1 \
		"EvictGrace=${grace}ms" MemoryMargin=256M "Provider=tcp;ofi_rxm" >"$dir/coloc.conf"
	FAAS_ADDR=127.0.0.1 "$BUILD/colocd/colocd" --standalone --foreground -f "$dir/coloc.conf" \
		--executor "$executor" >"$dir/colocd.log" 2>&1 &
	COLOCD_PID=$!
	for _ in $(seq 600); do [ -S "$dir/colocd.sock" ] && break; sleep 0.05; done
	[ -S "$dir/colocd.sock" ] || { say "colocd did not start: $(tail -5 "$dir/colocd.log")"; return 1; }
}

# eval_colocd_stop ROOT: stops the colocd of eval_colocd_start (which evicts
# its executors), then kills whatever is left in its CgroupRoot ROOT and
# removes its cgroups.
eval_colocd_stop() {
	local m c
	[ -n "${COLOCD_PID:-}" ] && kill "$COLOCD_PID" 2>/dev/null && wait "$COLOCD_PID" 2>/dev/null
	COLOCD_PID=''
	for m in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
		[ -d "$m" ] || continue
		for c in "$m"/*/; do
			[ -f "$c/cgroup.procs" ] && xargs -r kill -9 <"$c/cgroup.procs" 2>/dev/null
			rmdir "$c" 2>/dev/null
		done
		rmdir "$m" 2>/dev/null
	done
	return 0
}

# ---- used by interference.sh and offload.sh ---------------------------------

# eval_mean_sd: "MEAN SD" of the numbers on stdin (sample standard deviation,
# 0 for one number); prints nothing for no input.
eval_mean_sd() {
	awk '{ s += $1; q += $1 * $1; n++ } END {
		if (n == 0) exit
		m = s / n; v = n > 1 ? (q - n * m * m) / (n - 1) : 0; if (v < 0) v = 0
		printf "%.6g %.6g\n", m, sqrt(v) }'
}

# eval_mean_sd_json: {"n":..,"mean":..,"sd":..,"values":[..]} of the numbers
# on stdin.
eval_mean_sd_json() {
	local v ms
	v=$(cat)
	ms=$(echo "$v" | grep . | eval_mean_sd)
	[ -n "$ms" ] || { echo '{"n":0}'; return; }
	printf '{"n":%d,"mean":%s,"sd":%s,"values":%s}\n' "$(echo "$v" | grep -c .)" \
		"${ms% *}" "${ms#* }" "$(echo "$v" | grep . | eval_json_array)"
}

# eval_tb_up DIR NODES LOG: brings up a scripts/testbed in DIR with
# TESTBED_PREFIX/PORT/SUBNET from the environment, sources its env file.
# The caller's EXIT trap must call eval_tb_down DIR.
eval_tb_up() {
	"$EVAL_TOP/scripts/testbed" up "$1" "$2" >"$3" 2>&1 || { cat "$3" >&2; return 1; }
	# shellcheck disable=SC1091 # written by scripts/testbed up
	. "$1/env"
}

# eval_tb_down DIR LOG: tears the testbed in DIR down if one is there.
eval_tb_down() {
	[ -f "$1/testbed.info" ] || return 0
	"$EVAL_TOP/scripts/testbed" down "$1" >"$2" 2>&1 || { cat "$2" >&2; return 1; }
}

# eval_nobody CMD...: runs CMD as user nobody with the testbed's environment
# (jobs run as a user, never as root).
eval_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups env SLURM_CONF="$SLURM_CONF" \
		COLOC_CONF="$COLOC_CONF" PATH="$PATH" HOME=/tmp "$@"
}

# eval_until SECONDS CMD: until the shell command CMD succeeds, polling every
# 0.1 s for at most SECONDS; fails after that.
eval_until() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -le "$end" ]; do
		eval "$2" && return 0
		sleep 0.1
	done
	return 1
}

# eval_lendable NODE: the PUs the testbed's controller says NODE lends now.
eval_lendable() {
	colocctl gaps --json 2>/dev/null | grep -o '{"node":"'"$1"'","lendable":"[^"]*"' | cut -d'"' -f8
}

# eval_node_pids NETNS COMM: the pids of the processes named COMM in the
# network namespace NETNS.
eval_node_pids() {
	local p
	for p in $(ip netns pids "$1" 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && echo "$p"
	done
	return 0
}

# eval_snapshot_build BUILD DIR: copies what a testbed and the Black-Scholes
# client need from the build tree BUILD into DIR (same layout for
# scripts/testbed's COLOC_BUILD: colocd/, executor/, spank-plugin/.libs/;
# plus examples/faas-bs-client, the real binary, examples/faas_examples.so
# and libfaas/libfaas.so.0 for LD_LIBRARY_PATH), so that a rebuild of BUILD
# during a run changes nothing under the run's feet.
eval_snapshot_build() {
	local b=$1 d=$2 f
	for f in colocd/colocd colocd/colocctl executor/faas-executor spank-plugin/.libs/spank_faas.so \
		examples/.libs/faas_examples.so examples/.libs/faas-bs-client libfaas/.libs/libfaas.so.0; do
		[ -f "$b/$f" ] || { echo "eval: no $b/$f; build coloc first (make -C $b)" >&2; return 1; }
	done
	mkdir -p "$d"/{colocd,executor,spank-plugin/.libs,examples,libfaas} &&
		cp "$b/colocd/colocd" "$b/colocd/colocctl" "$d/colocd/" &&
		cp "$b/executor/faas-executor" "$d/executor/" &&
		cp "$b/spank-plugin/.libs/spank_faas.so" "$d/spank-plugin/.libs/" &&
		cp "$b/examples/.libs/faas_examples.so" "$b/examples/.libs/faas-bs-client" "$d/examples/" &&
		cp -L "$b/libfaas/.libs/libfaas.so.0" "$d/libfaas/" &&
		chmod -R a+rX "$d"
}

# eval_md_tail NAME COMMAND: the end of an experiment's markdown fragment:
# its figure (NAME.png) and the command that made it, as a sh block.
eval_md_tail() {
	# shellcheck disable=SC2016 # the backquotes are markdown's, not a command substitution
	printf '\n![](%s.png)\n\n```sh\n%s\n```\n' "$1" "$2"
}
