# shellcheck shell=bash
# Sourced by the integration tests that run colocd with real cgroups: TAP
# output, the skips, and the sweep of a test's cgroups. Not run by itself.

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1 # ${2:-}"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
# skip WHY: the whole script skips (TAP "1..0 # SKIP")
skip() { echo "1..0 # SKIP $1"; exit 0; }

# Skips the whole test (exit 0, "1..0 # SKIP") unless it runs as root with
# a cgroup file system and a user nobody, whose uid it puts in $nobody.
tap_need_root_cgroups() {
	[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP colocd places executors in cgroups: needs root"; exit 0; }
	[ -d /sys/fs/cgroup/cpuset ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
		{ echo "1..0 # SKIP no cgroup file system is mounted"; exit 0; }
	nobody=$(id -u nobody) || { echo "1..0 # SKIP no user nobody"; exit 0; }
}

# tap_setup NAME: tap_need_root_cgroups, then $dir, a fresh directory
# /tmp/coloc-NAME.XXXXXX that nobody may enter, and $root, the test's
# CgroupRoot coloc-NAME-PID.
tap_setup() {
	tap_need_root_cgroups
	dir=$(mktemp -d "/tmp/coloc-$1.XXXXXX") || exit 1
	chmod 755 "$dir"
	root=coloc-$1-$$
}

# tap_sweep_cgroups NAME...: kills what still runs in the cgroups at and
# below each CgroupRoot NAME (a find -path pattern: "coloc-x-*" works; cgroup
# v1 and v2), deepest first, thawed if frozen, and removes them.
tap_sweep_cgroups() {
	local name d
	for name in "$@"; do
		find /sys/fs/cgroup -maxdepth 6 -type d \( -path "*/$name" -o -path "*/$name/*" \) \
			2>/dev/null | sort -r | while read -r d; do
			[ -f "$d/freezer.state" ] && echo THAWED >"$d/freezer.state" 2>/dev/null
			xargs -r kill -9 <"$d/cgroup.procs" 2>/dev/null
			rmdir "$d" 2>/dev/null
		done
	done
}

# tap_ports SALT: $port, the first of 8 TCP ports on 127.0.0.1 that the
# test may listen on: below the kernel's ephemeral range (so no outgoing
# connection holds one), derived from the PID and SALT (tests running side by
# side get different ones), and none of them listening now (ss; a few tries).
tap_ports() {
	local low=20000 span=12000 try p used
	p=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || p=32768
	[ "$p" -gt $((low + 1000)) ] 2>/dev/null && span=$((p - low - 8))
	for try in 0 1 2 3 4 5 6 7 8 9; do
		port=$((low + ($$ + $1 + try * 977) % span))
		used=$(ss -Hltn 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}')
		for p in $(seq "$port" $((port + 7))); do
			printf '%s\n' "$used" | grep -qx "$p" && continue 2
		done
		return 0
	done
}

# tap_conf PORT DIR ROOT [KEY=VALUE...]: on stdout, the coloc.conf of a
# test's colocd: ControllerPort PORT on 127.0.0.1, SocketPath and StateDir
# in DIR, CgroupRoot ROOT, no authentication, everything lendable, then
# the extra keys.
tap_conf() {
	local port=$1 dir=$2 root=$3
	shift 3
	printf '%s\n' ControllerHost=127.0.0.1 "ControllerPort=$port" "SocketPath=$dir/colocd.sock" \
		"StateDir=$dir/state" "CgroupRoot=$root" AuthType=none MaxLendFraction=1 \
		MemoryMargin=256M "Provider=tcp;ofi_rxm" "$@"
}

# tap_end [LOG]: on failure, LOG as comments; the plan;
# the exit status.
tap_end() {
	[ $failed = 0 ] || { [ -n "${1:-}" ] && sed 's/^/# colocd| /' "$1"; }
	echo "1..$n"
	[ $failed = 0 ]
}

# ---- waiting, parsing, users ----------------------------------------------------
# A test waits for a condition, never for a fixed time, and its bounds are
# generous (tens of seconds): on a loaded machine (make check -j, other
# jobs, scripts/check --load) things are slow, not broken; a bound only
# turns a hang into a failure. A bound that is the product's promise (a
# latency, a timeout) is asserted as such, with the slack named.

# until_ok TRIES PAUSE CONDITION: eval's CONDITION until it holds, at most TRIES times
until_ok() {
	local tries=$1 pause=$2
	for _ in $(seq "$tries"); do
		if eval "$3"; then return 0; fi
		sleep "$pause"
	done
	return 1
}
# gone PID: waits up to 30 s for it to vanish
gone() {
	[ -n "${1:-}" ] || return 1
	until_ok 600 0.05 "! kill -0 $1 2>/dev/null"
}
# field NAME: the first value of "NAME" in the JSON on stdin
field() { grep -o "\"$1\":\"\?[^,\"}]*" | head -1 | sed 's/.*:"\?//'; }
# as_user USER CMD...: CMD as USER, without root's groups or capabilities
as_user() {
	local u=$1
	shift
	setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups --inh-caps=-all -- "$@"
}
# ms_since T0: milliseconds since T0 (date +%s%N)
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# ---- a colocd --standalone of the test's own ---------------------------------------
# (after tap_setup NAME and tap_conf ... >"$dir/coloc.conf"; $pid its pid)

# colocd_start: starts colocd in the background ($pid), waits for its socket;
# $colocd_wrap, if set, is a command colocd runs under (prlimit ... --).
colocd_start() {
	# shellcheck disable=SC2086 # colocd_wrap is a command line
	FAAS_ADDR=127.0.0.1 ${colocd_wrap:-} "$COLOCD" --standalone --foreground -f "$dir/coloc.conf" \
		--executor "$FAAS_EXECUTOR" >>"$dir/colocd.log" 2>&1 &
	pid=$!
	until_ok 600 0.05 "[ -S $dir/colocd.sock ]"
}
# colocd_reload: SIGHUP to colocd ($pid); waits (30 s) until it has
# reloaded coloc.conf, so that the next request meets the new settings
colocd_reload() {
	local before
	before=$(grep -c "reloaded coloc.conf" "$dir/colocd.log")
	kill -HUP "$pid" || return 1
	until_ok 600 0.05 '[ "$(grep -c "reloaded coloc.conf" "$dir/colocd.log")" -gt "$before" ]'
}
# tap_colocd_cleanup: at exit: stops the test's background peers (the
# array $bg, if set) and colocd ($pid), sweeps the test's cgroups ($root)
# and removes its directory ($dir)
tap_colocd_cleanup() {
	local p
	# shellcheck disable=SC2154 # bg: the test's own, when it has peers
	for p in ${bg[@]+"${bg[@]}"}; do kill "$p" 2>/dev/null; done
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	tap_sweep_cgroups "$root"
	rm -rf "$dir"
}
# colocctl_as USER ARGS...: colocctl with the test's coloc.conf, as USER
colocctl_as() {
	local u=$1
	shift
	as_user "$u" "$COLOCCTL" -f "$dir/coloc.conf" "$@"
}
# report JSON: a host job report on the unix socket, as root (the plugin)
report() { "$COLOCD_SEND" --unix "$dir/colocd.sock" "$@"; }
# cgdir CONTROLLER NAME: the sandbox NAME's cgroup directory, if it exists
cgdir() {
	for m in /sys/fs/cgroup/$1/"$root"/"$2" /sys/fs/cgroup/"$root"/"$2"; do
		[ -d "$m" ] && echo "$m" && return
	done
}
