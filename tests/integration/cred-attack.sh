#!/bin/bash
# TAP test: issue 11 defect 1, "credential replay by port squatting: code
# runs as any user", performed by an unprivileged user (nobody) against a
# real colocd using MUNGE (a private munged: munged.sh). The ports are
# unprivileged here so that nobody can bind them, which is the point of the
# simulation (the privileged defaults, 863 and 864, are a separate
# defence). With no controller running, nobody listens on the node agent's
# ControllerPort and:
#   - captures the agent's heartbeat, with root's credential, and replays
#     it to the agent as exec_start (its own uid, any library): refused;
#   - answers a user's lease_acquire with forged lease grants (unsigned,
#     signed by itself, signed with root's captured credential): each is
#     refused by the client;
#   - once the controller runs, replays the user's captured lease_acquire
#     with another library, and unchanged a second time: refused.
#   - once the agent dies, listens on its port and answers the
#     controller's exec_start with a forged grant: refused by the controller.
# Each refusal is logged with its reason. Then: a lease works end to end
# with MUNGE; nobody can bind the agent's port on any address while it
# runs; an agent whose port nobody holds on [::] does not start; an agent
# without ControllerHost, and AuthType=none off loopback, do not start.
# Needs root, cgroups, munged, setpriv and ss.
set -u
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/munged.sh"
[ "$(id -u)" = 0 ] || skip "colocd runs executors in cgroups and the attacker is another user: needs root"
[ -d /sys/fs/cgroup/cpuset ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || skip "no cgroup file system is mounted"
munged_missing && skip "munged is not installed (apt-get install munge)"
command -v setpriv >/dev/null || skip "setpriv is not installed (util-linux)"
command -v ss >/dev/null || skip "ss is not installed (iproute2)"
nobody=$(id -u nobody) || skip "no user nobody"
nogroup=$(id -g nobody)
victim=4242 # another user, who needs no account to be attacked

dir=$(mktemp -d /tmp/coloc-attack.XXXXXX)
root=coloc-atest-$$
tap_ports 4099 # ControllerPort; +1 node1's agent; +2 node2's
agent='' ctl='' sq=''
cleanup() {
	for p in $sq $agent $ctl; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	tap_sweep_cgroups "$root" "$root-2"
	munged_stop "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT
munged_start "$dir" || { echo "not ok 1 - munged starts"; echo "1..1"; exit 1; }
install -d -o "$nobody" -g "$nogroup" -m 700 "$dir/attacker"
cat >"$dir/coloc.conf" <<CONF
ControllerHost=127.0.0.1
ControllerPort=$port
NodeAgentPort=$((port + 1))
SocketPath=$dir/agent.sock
StateDir=$dir/state
CgroupRoot=$root
AuthType=munge
MungeSocket=$dir/munge.sock
MaxLendFraction=1
EvictGrace=200ms
MemoryMargin=256M
Provider=tcp;ofi_rxm
SpareExecutors=0
CONF
chmod 644 "$dir/coloc.conf"

as_nobody() { setpriv --reuid="$nobody" --regid="$nogroup" --clear-groups "$@"; }
as_victim() { setpriv --reuid="$victim" --regid="$victim" --clear-groups "$@"; }
attack() { as_nobody "$CRED_ATTACK" "$@"; }
ctl() { "$COLOCCTL" -f "$dir/coloc.conf" "$@"; }
until_ok() { for _ in $(seq 600); do eval "$1" && return 0; sleep 0.05; done; return 1; }
squat() { # out args...: nobody listens in the background (sq), until it is listening
	local out=$1
	shift
	attack listen "$@" >"$out" 2>&1 &
	sq=$!
	until_ok "grep -q '^listening' '$out' || ! kill -0 $sq 2>/dev/null"
}
reap() { wait "$sq" 2>/dev/null; sq=; }
evil=$dir/attacker/evil.so
log_has() { grep -qF "$2" "$dir/$1.log"; }

# 1. no controller: nobody holds ControllerPort and hears the agent
squat "$dir/squat1.out" --want node_state "$port" "$dir/attacker/heartbeat"
FAAS_ADDR=127.0.0.1 "$COLOCD" --foreground -f "$dir/coloc.conf" -N node1 \
	--executor "$FAAS_EXECUTOR" >>"$dir/agent.log" 2>&1 &
agent=$!
reap
check "a user on the agent's ControllerPort (no controller running) gets its heartbeat, with root's MUNGE credential" \
	'grep -q "\"type\":\"node_state\"" "$dir/attacker/heartbeat" && grep -q "\"cred\":\"MUNGE:" "$dir/attacker/heartbeat"' \
	"$(cat "$dir/squat1.out")"

expires=$(($(date +%s) + 600))
out=$(attack replay "$((port + 1))" "$dir/attacker/heartbeat" \
	"{\"v\":1,\"type\":\"exec_start\",\"cred\":\"x\",\"id\":\"evil-1\",\"uid\":$nobody,\"gid\":$nogroup,\"workers\":1,\"pus\":\"0\",\"mem\":268435456,\"gpus\":0,\"lib\":\"$evil\",\"expires\":$expires}" 2>&1)
check "issue 11 defect 1: root's heartbeat credential replayed to the agent as exec_start (nobody's uid, its library) is refused (EACCES)" \
	'echo "$out" | grep -q "\"EACCES\"" && echo "$out" | grep -q "made for controller, not agent:node1"' "$out"
check "issue 11 defect 1: the agent logs the refusal with its reason, and starts nothing" \
	'log_has agent "refused exec_start from 127.0.0.1: the credential was made for controller, not agent:node1" &&
	[ ! -e "$dir/state/leases/evil-1" ] && [ -z "$(ls -d /sys/fs/cgroup/*/"$root"/evil-1 2>/dev/null)" ] &&
	! grep -q "evil-1" "$dir/agent.log"' "$(tail -3 "$dir/agent.log" | tr '\n' ' ')"

# 2. nobody answers a user's lease_acquire with forged grants
i=0
for how in unsigned self "replay:$dir/attacker/heartbeat"; do
	i=$((i + 1))
	squat "$dir/squat2-$i.out" --want lease_acquire --munge "$dir/munge.sock" --grant "$how" \
		"$port" "$dir/attacker/acquire-$i"
	out=$(as_victim "$COLOCCTL" -f "$dir/coloc.conf" --timeout 10 lease acquire --workers 1 \
		--lib "$FAAS_EXAMPLES_LIB" --json 2>&1)
	rc=$?
	reap
	case $how in
	unsigned) why="it carries no credential" what="without a credential" ;;
	self) why="its credential is uid $nobody's, not root's" what="signed by the user itself, bound to the request" ;;
	# the heartbeat proposes a session key: munged decodes it for root only
	*) why="made for controller, not reply|Replayed credential|Unauthorized credential" what="with root's captured heartbeat credential" ;;
	esac
	check "issue 11 defect 1: the client refuses a lease grant forged on ControllerPort $what" \
		'[ $rc != 0 ] && echo "$out" | grep -q "refused the lease grant from 127.0.0.1:$port: it is not authenticated" &&
		echo "$out" | grep -qE "$why" && ! echo "$out" | grep -q "\"type\":\"lease\""' \
		"rc $rc: $out / $(cat "$dir/squat2-$i.out")"
done
check "the user's lease_acquire was captured on the way, with the user's credential" \
	'grep -q "\"type\":\"lease_acquire\"" "$dir/attacker/acquire-1" && grep -q "\"cred\":\"MUNGE:" "$dir/attacker/acquire-1"'

# 3. the controller runs: nobody replays what it captured
"$COLOCD" --controller --foreground -f "$dir/coloc.conf" >>"$dir/controller.log" 2>&1 &
ctl=$!
check "the controller starts and node1's agent registers, with MUNGE" \
	'until_ok "ctl nodes 2>/dev/null | grep -q \"^node1  *up\""' "$(ctl nodes 2>&1; tail -3 "$dir/controller.log")"
out=$(attack replay "$port" "$dir/attacker/acquire-1" \
	"{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"x\",\"workers\":1,\"lib\":\"$evil\",\"mem\":0,\"gpus\":0,\"time\":600,\"mode\":\"spread\",\"job\":0}" 2>&1)
check "issue 11 defect 1: a user's lease_acquire credential replayed with another library is refused (EACCES)" \
	'echo "$out" | grep -q "\"EACCES\"" && echo "$out" | grep -q "made for another message"' "$out"
check "issue 11 defect 1: the controller logs the refusal with its reason, and makes no lease for the user" \
	'log_has controller "refused lease_acquire from 127.0.0.1: the credential was made for another message" &&
	! ctl leases --json | grep -q "\"uid\":$victim"' "$(tail -3 "$dir/controller.log")"
out=$(attack replay "$port" "$dir/attacker/acquire-3" "$(cat "$dir/attacker/acquire-3")" 2>&1)
out=$(attack replay "$port" "$dir/attacker/acquire-3" "$(cat "$dir/attacker/acquire-3")" 2>&1)
check "issue 11 defect 1: a captured request replayed unchanged is taken once at most (EACCES, logged)" \
	'echo "$out" | grep -q "\"EACCES\"" && echo "$out" | grep -qE "Replayed credential|used before" &&
	grep -qE "refused lease_acquire from 127.0.0.1: .*(Replayed credential|used before)" "$dir/controller.log"' "$out"
check "colocd runs on after the attacks (agent and controller)" 'kill -0 $agent && kill -0 $ctl'

# 4. what a user may do still works: a lease end to end
doc=$(as_nobody "$COLOCCTL" -f "$dir/coloc.conf" lease acquire --workers 1 --lib "$FAAS_EXAMPLES_LIB" \
	--time 1 --json 2>&1)
lid=$(echo "$doc" | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
check "with MUNGE, a lease is granted end to end: client, controller and agent each check a bound credential" \
	'echo "$doc" | grep -q "\"type\":\"lease\"" && [ -n "$lid" ]' "$doc"
out=$(as_nobody "$COLOCCTL" -f "$dir/coloc.conf" lease release "$lid" 2>&1)
check "its owner releases it" '[ $? = 0 ]' "$out"

# 4b. the agent dies; nobody takes its port before the controller notices
kill -9 "$agent"
wait "$agent" 2>/dev/null
agent=
squat "$dir/squat4.out" --want exec_start --munge "$dir/munge.sock" --grant self \
	"$((port + 1))" "$dir/attacker/exec_start"
out=$(as_nobody "$COLOCCTL" -f "$dir/coloc.conf" --timeout 20 lease acquire --workers 1 \
	--lib "$FAAS_EXAMPLES_LIB" --json 2>&1)
rc=$?
reap
check "issue 11 defect 1: the controller refuses a grant forged by a user on a dead agent's port, and the client gets no lease" \
	'[ $rc != 0 ] && echo "$out" | grep -q "EACCES" && echo "$out" | grep -q "its credential is uid $nobody.s, not root.s" &&
	log_has controller "sent a grant that is not authenticated"' "rc $rc: $out / $(cat "$dir/squat4.out")"
FAAS_ADDR=127.0.0.1 "$COLOCD" --foreground -f "$dir/coloc.conf" -N node1 \
	--executor "$FAAS_EXECUTOR" >>"$dir/agent.log" 2>&1 &
agent=$!
until_ok "ctl nodes 2>/dev/null | grep -q \"^node1  *up\"" && until_ok "ss -Hltn sport = :$((port + 1)) | grep -q ."

# 5. every address is held: no user can stand in for the agent on one
bad=
for a in 127.0.0.1 0.0.0.0 ::1 ::; do
	attack listen --addr "$a" --wait 0 "$((port + 1))" /dev/null >"$dir/bind.out" 2>&1
	rc=$?
	[ $rc = 2 ] || bad="$bad $a:$rc"
done
check "issue 11 defect 1: while the agent runs, a user can bind its port on no address, IPv4 or IPv6" \
	'[ -z "$bad" ]' "bound:$bad"
sed -e "s/^NodeAgentPort=.*/NodeAgentPort=$((port + 2))/" -e "s|$dir/agent.sock|$dir/n2.sock|" \
	-e "s|^StateDir=.*|StateDir=$dir/state2|" -e "s/^CgroupRoot=.*/CgroupRoot=$root-2/" \
	"$dir/coloc.conf" >"$dir/n2.conf"
squat "$dir/squat3.out" --addr :: --wait 20 "$((port + 2))" /dev/null
out=$(timeout 20 "$COLOCD" --foreground -f "$dir/n2.conf" -N node2 --executor "$FAAS_EXECUTOR" 2>&1)
rc=$?
kill "$sq" 2>/dev/null
reap
check "issue 11 defect 1: a node agent whose port a user holds on [::] refuses to start, naming the address" \
	'[ $rc = 1 ] && echo "$out" | grep -q "cannot listen on \[::\]:$((port + 2)): Address already in use"' "rc $rc: $out"

# 6. startup refusals: no ControllerHost, AuthType=none off loopback
grep -v '^ControllerHost=' "$dir/n2.conf" >"$dir/noctl.conf"
out=$("$COLOCD" --foreground -f "$dir/noctl.conf" -N node3 --executor "$FAAS_EXECUTOR" 2>&1)
rc=$?
check "issue 11 defect 1: a node agent whose coloc.conf does not name ControllerHost refuses to start, naming the file and the fix" \
	'[ $rc = 1 ] && echo "$out" | grep -q "$dir/noctl.conf does not name the controller: add ControllerHost=HOST"' "rc $rc: $out"
defconf=$("$COLOCD" --help | sed -n 's/.*else \(.*coloc\.conf\)).*/\1/p')
if [ -n "$defconf" ] && [ ! -e "$defconf" ]; then
	out=$(env -u COLOC_CONF "$COLOCD" --foreground -N node3 --executor "$FAAS_EXECUTOR" 2>&1)
	rc=$?
	check "issue 11 defect 1: a node agent without a coloc.conf refuses to start, naming $defconf and the fix" \
		'[ $rc = 1 ] && echo "$out" | grep -q "there is none at $defconf: create it with ControllerHost=HOST"' "rc $rc: $out"
else
	ok "# SKIP $defconf exists: a node agent without a coloc.conf is not tried"
fi
sed 's/^AuthType=.*/AuthType=none/' "$dir/n2.conf" >"$dir/none-agent.conf"
out=$("$COLOCD" --foreground -f "$dir/none-agent.conf" -N node3 --executor "$FAAS_EXECUTOR" 2>&1)
rc=$?
check "issue 11 defect 1: AuthType=none is refused for a node agent listening on every address, naming NodeAgentAddress" \
	'[ $rc = 1 ] && echo "$out" | grep -q "AuthType=none .* NodeAgentAddress is not set .* set AuthType=munge, or NodeAgentAddress=127.0.0.1"' \
	"rc $rc: $out"
sed -e 's/^AuthType=.*/AuthType=none/' -e 's/^ControllerHost=.*/ControllerHost=0.0.0.0/' \
	"$dir/n2.conf" >"$dir/none-ctl.conf"
out=$("$COLOCD" --controller --foreground -f "$dir/none-ctl.conf" 2>&1)
rc=$?
check "issue 11 defect 1: AuthType=none is refused for a controller whose ControllerHost is not loopback" \
	'[ $rc = 1 ] && echo "$out" | grep -q "ControllerHost resolves to 0.0.0.0: set AuthType=munge, or ControllerHost=127.0.0.1"' \
	"rc $rc: $out"

if [ $failed != 0 ]; then
	for f in agent controller; do [ -f "$dir/$f.log" ] && sed "s/^/# $f| /" "$dir/$f.log"; done
fi
echo "1..$n"
[ $failed = 0 ]
