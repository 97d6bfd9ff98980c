#!/bin/bash
# TAP test: colocd started without --foreground, as an init script starts
# it (issue 11: "colocd -f bad.conf exits 0 and prints nothing"). A bad
# configuration makes the starting process exit non-zero with the error
# on its standard error; a good one detaches only once it serves (socket
# there when the starter returns), logs to --log-file (reopened on SIGHUP
# for logrotate) or else to syslog, and keeps its relative -f working
# after it moved to "/". A second colocd on the same SocketPath refuses to
# start and leaves the first alone. Needs root and cgroups.
set -u
. "$(dirname "$0")/tap.sh"
tap_setup start
node=start$$
tap_ports 3571
cleanup() {
	local p
	for p in $(pgrep -f -- "-N $node ") $(pgrep -f -- "$dir/ctl.conf"); do
		kill "$p" 2>/dev/null
		for _ in $(seq 600); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	done
	[ -n "${sink:-}" ] && kill "$sink" 2>/dev/null
	tap_sweep_cgroups "$root"
	rm -rf "$dir"
}
trap cleanup EXIT
tap_conf "$port" "$dir" "$root" >"$dir/coloc.conf"
send() { "$COLOCD_SEND" --tcp "$port" "$@"; }
daemon_pid() { pgrep -f -- "-N $node " | head -1; }

# ---- a bad configuration ----
printf 'ControllerPort=%s\nEvictGrace=forever\n' "$port" >"$dir/bad.conf"
t0=$(date +%s)
out=$(timeout 30 "$COLOCD" --controller -f "$dir/bad.conf" 2>&1)
rc=$?
check "issue 11: colocd -f bad.conf, not in the foreground, exits non-zero at once" \
	'[ $rc != 0 ] && [ $rc != 124 ] && [ $(($(date +%s) - t0)) -lt 10 ]' "exit $rc: $out"
check "and prints the error, naming the file, line and key" \
	'echo "$out" | grep -q "bad.conf:2: EvictGrace=forever"' "$out"
check "and leaves no colocd behind" '! pgrep -f -- "$dir/bad.conf" >/dev/null'

# ---- a good one, relative paths, from its directory ----
out=$(cd "$dir" && FAAS_ADDR=127.0.0.1 timeout 60 "$COLOCD" --standalone -N "$node" -f coloc.conf \
	--log-file colocd.log --executor "$FAAS_EXECUTOR" 2>&1)
rc=$?
sock_then=no
[ -S "$dir/colocd.sock" ] && sock_then=yes
dpid=$(daemon_pid)
check "a good configuration: the starter exits 0, printing warnings at most (AuthType=none's)" \
	'[ $rc = 0 ] && ! echo "$out" | grep -qv "^colocd: warning: "' "exit $rc: $out"
check "by then colocd serves: its socket is there, a query is answered" \
	'[ $sock_then = yes ] && send "{\"v\":1,\"type\":\"query\",\"cred\":\"none:0:0\",\"what\":\"nodes\"}" | grep -q "\"name\":\"$node\""'
check "the daemon is detached: not our child, no session leader, no terminal, stdio on /dev/null" \
	'[ -n "$dpid" ] && [ "$(ps -o ppid= -p $dpid | tr -d " ")" != $$ ] && [ "$(ps -o sid= -p $dpid | tr -d " ")" != "$dpid" ] &&
	[ "$(ps -o tty= -p $dpid | tr -d " ")" = "?" ] &&
	[ "$(readlink /proc/$dpid/fd/0)$(readlink /proc/$dpid/fd/1)$(readlink /proc/$dpid/fd/2)" = /dev/null/dev/null/dev/null ]' \
	"pid ${dpid:-none}: $(ps -o pid,ppid,sid,tty,args -p "${dpid:-1}" 2>&1)"
check "its log lines reach --log-file, with a timestamp and its pid" \
	'grep -q "^20[0-9-]*T[0-9:.]*[-+][0-9]* colocd\[$dpid\]: info: standalone on $node" "$dir/colocd.log"' \
	"$(cat "$dir/colocd.log" 2>&1)"

# logrotate: the file moved, SIGHUP, a new file
mv "$dir/colocd.log" "$dir/colocd.log.1"
kill -HUP "$dpid"
for _ in $(seq 600); do grep -qs "reloaded coloc.conf" "$dir/colocd.log" && break; sleep 0.05; done
check "SIGHUP reopens the log file (logrotate) and rereads the relative -f coloc.conf from /" \
	'grep -q "reloaded coloc.conf" "$dir/colocd.log" && ! grep -q "reloaded" "$dir/colocd.log.1"' \
	"$(cat "$dir/colocd.log" 2>&1)"

# a second colocd for the same node: refused before it touches the first's executors
spare=$(pgrep -P "$dpid" -f 'faas-executor --spare$' | head -1)
out=$(FAAS_ADDR=127.0.0.1 timeout 60 "$COLOCD" --standalone -N "$node" -f "$dir/coloc.conf" \
	--executor "$FAAS_EXECUTOR" 2>&1)
rc=$?
check "a second colocd on the same SocketPath exits non-zero, saying another one serves it" \
	'[ $rc = 1 ] && echo "$out" | grep -q "another colocd serves $dir/colocd.sock"' "exit $rc: $out"
check "the first runs on: its socket, its spare executor and its answers are intact" \
	'[ -S "$dir/colocd.sock" ] && [ -n "$spare" ] && kill -0 $spare && kill -0 $dpid &&
	send "{\"v\":1,\"type\":\"query\",\"cred\":\"none:0:0\",\"what\":\"gaps\"}" | grep -q "\"result\""' \
	"spare ${spare:-none}"
kill "$dpid"
for _ in $(seq 600); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.05; done
check "SIGTERM stops the detached colocd, which removes its socket" \
	'! kill -0 $dpid 2>/dev/null && [ ! -e "$dir/colocd.sock" ]'

# ---- syslog: detached without --log-file, in a mount namespace whose
# /dev/log is a test's socket (no syslog daemon needed) ----
if command -v python3 >/dev/null && command -v unshare >/dev/null; then
	cport=$((port + 1))
	printf 'ControllerHost=127.0.0.1\nControllerPort=%s\nAuthType=none\n' "$cport" >"$dir/ctl.conf"
	dev=$dir/dev
	mkdir "$dev"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
f = open(sys.argv[2], "ab", 0)
while True:
    f.write(s.recv(8192) + b"\n")
' "$dev/log" "$dir/syslog.out" &
	sink=$!
	for _ in $(seq 600); do [ -S "$dev/log" ] && break; sleep 0.05; done
	for f in null zero full random urandom; do : >"$dev/$f"; done
	out=$(unshare -m --propagation private sh -c '
		for f in null zero full random urandom; do mount --bind /dev/$f "$1/$f" || exit 9; done
		mount --rbind "$1" /dev || exit 9
		exec "$2" --controller -f "$3"' _ "$dev" "$COLOCD" "$dir/ctl.conf" 2>&1)
	rc=$?
	for _ in $(seq 600); do grep -qs "controller on 127.0.0.1:$cport" "$dir/syslog.out" && break; sleep 0.05; done
	check "detached without --log-file, colocd logs to syslog (ident colocd, its pid, facility daemon)" \
		'[ $rc = 0 ] && grep -q "^<[0-9]*>.*colocd\[[0-9]*\]: info: controller on 127.0.0.1:$cport" "$dir/syslog.out"' \
		"exit $rc: $out / $(cat "$dir/syslog.out" 2>&1)"
	prio=$(sed -n "s/^<\([0-9]*\)>.*controller on.*/\1/p" "$dir/syslog.out" | head -1)
	check "at priority info of facility daemon (<30>)" '[ "$prio" = 30 ]' "<$prio>"
else
	ok "colocd logs to syslog # SKIP no python3 or unshare for a stand-in /dev/log"
fi

tap_end "$dir/colocd.log"
