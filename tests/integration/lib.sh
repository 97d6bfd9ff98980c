# Shared by the integration test scripts (sourced, not run): TAP output,
# bounded waits, and a colocd --standalone of the test's own (private
# directory, port, cgroup root), stopped by pid.

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1 # ${2:-}"; }
# check DESCRIPTION CONDITION [DIAGNOSIS]: CONDITION is eval'ed
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
# tap_end [LOG]: the plan; LOG is shown when something failed
tap_end() {
	[ $failed = 0 ] || [ -z "${1:-}" ] || sed 's/^/# log| /' "$1"
	echo "1..$n"
	[ $failed = 0 ]
}
# until_ok TRIES PAUSE CONDITION: eval's CONDITION until it holds, at most TRIES times
until_ok() {
	local tries=$1 pause=$2
	for _ in $(seq "$tries"); do eval "$3" && return 0 || sleep "$pause"; done
	return 1
}
# gone PID: waits up to 3 s for it to vanish
gone() {
	[ -n "${1:-}" ] || return 1
	until_ok 60 0.05 "! kill -0 $1 2>/dev/null"
}
# field NAME: the first value of "NAME" in the JSON on stdin
field() { grep -o "\"$1\":\"\\?[^,\"}]*" | head -1 | sed 's/.*:"\?//'; }
# as_user USER CMD...: CMD as USER, without root's groups or capabilities
as_user() {
	local u=$1
	shift
	setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups --inh-caps=-all -- "$@"
}

# ---- colocd --standalone --------------------------------------------------------

# colocd_require: skips the test (exit 0, TAP plan 0) where colocd cannot run.
colocd_require() {
	[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP colocd places executors in cgroups: needs root"; exit 0; }
	[ -d /sys/fs/cgroup/cpuset ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
		{ echo "1..0 # SKIP no cgroup file system is mounted"; exit 0; }
	id -u nobody >/dev/null 2>&1 || { echo "1..0 # SKIP no user nobody"; exit 0; }
}

# colocd_setup NAME: $dir (a private directory others may search), $root
# (the cgroup root), $port and $dir/coloc.conf for a standalone colocd with
# AuthType=none on loopback; the caller may append keys. Cleans up at exit.
colocd_setup() {
	dir=$(mktemp -d "/tmp/coloc-$1.XXXXXX")
	chmod 755 "$dir"
	root=coloc-$1-$$
	port=$((20000 + $$ % 20000))
	pid=
	trap colocd_cleanup EXIT
	cat >"$dir/coloc.conf" <<CONF
ControllerHost=127.0.0.1
ControllerPort=$port
SocketPath=$dir/colocd.sock
StateDir=$dir/state
CgroupRoot=$root
AuthType=none
MaxLendFraction=1
EvictGrace=200ms
MemoryMargin=256M
Provider=tcp;ofi_rxm
CONF
}

colocd_cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for m in /sys/fs/cgroup/*/"$root" /sys/fs/cgroup/"$root"; do
		[ -d "$m" ] || continue
		for c in "$m"/*/; do
			[ -f "$c/freezer.state" ] && echo THAWED >"$c/freezer.state" 2>/dev/null
			[ -f "$c/cgroup.procs" ] && xargs -r kill -9 <"$c/cgroup.procs" 2>/dev/null
			rmdir "$c" 2>/dev/null
		done
		rmdir "$m" 2>/dev/null
	done
	rm -rf "$dir"
}

# colocd_start: starts colocd in the background ($pid), waits for its socket;
# $colocd_wrap, if set, is a command colocd runs under (prlimit ... --).
colocd_start() {
	FAAS_ADDR=127.0.0.1 ${colocd_wrap:-} "$COLOCD" --standalone --foreground -f "$dir/coloc.conf" \
		--executor "$FAAS_EXECUTOR" >>"$dir/colocd.log" 2>&1 &
	pid=$!
	until_ok 200 0.05 "[ -S $dir/colocd.sock ]"
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
# ms_since T0: milliseconds since T0 (date +%s%N)
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
