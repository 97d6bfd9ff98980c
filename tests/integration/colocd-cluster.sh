#!/bin/bash
# TAP test: colocd split into its roles, all on this machine: one
# controller (colocd --controller) and two node agents (colocd -N node1,
# -N node2, each with its own NodeAgentPort, SocketPath, StateDir and
# CgroupRoot), real faas-executors in real cgroups. Checks registration,
# placement over both nodes, drain/resume, a host job report on one node
# evicting only that node's leases (reported to the controller with why),
# a controller killed and restarted with leases active (the agents
# re-register them, nothing is lost, release works through the new
# controller), a node agent killed (its node goes down, the restarted agent
# removes its executors and cgroups, the controller drops its leases),
# requests from non-root peers refused, and clean stops. Needs root.
set -u
. "$(dirname "$0")/tap.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP colocd places executors in cgroups: needs root"; exit 0; }
[ -d /sys/fs/cgroup/cpuset ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
	{ echo "1..0 # SKIP no cgroup file system is mounted"; exit 0; }
nobody=$(id -u nobody) || { echo "1..0 # SKIP no user nobody"; exit 0; }

dir=$(mktemp -d /tmp/coloc-cluster.XXXXXX)
chmod 755 "$dir"
root=coloc-ctest-$$
tap_ports 7919
cpid='' a1='' a2=''
cleanup() {
	for p in $cpid $a1 $a2; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	tap_sweep_cgroups "$root-*"
	rm -rf "$dir"
}
trap cleanup EXIT
for i in 0 1 2; do
	cat >"$dir/n$i.conf" <<CONF
ControllerHost=127.0.0.1
ControllerPort=$port
NodeAgentPort=$((port + i))
NodeAgentAddress=127.0.0.1
SocketPath=$dir/n$i.sock
StateDir=$dir/state$i
CgroupRoot=$root-$i
AuthType=none
MaxLendFraction=1
EvictGrace=200ms
MemoryMargin=256M
Provider=tcp;ofi_rxm
CONF
done
ctl() { "$COLOCCTL" -f "$dir/n0.conf" "$@"; }
start_controller() {
	"$COLOCD" --controller --foreground -f "$dir/n0.conf" >>"$dir/controller.log" 2>&1 &
	cpid=$!
}
start_agent() { # i: starts node$i's agent, sets a$i
	FAAS_ADDR=127.0.0.1 "$COLOCD" --foreground -f "$dir/n$1.conf" -N "node$1" \
		--executor "$FAAS_EXECUTOR" >>"$dir/agent$1.log" 2>&1 &
	eval "a$1=$!"
}
# until CMD succeeds, at most 30 s
until_ok() { for _ in $(seq 600); do eval "$1" && return 0; sleep 0.05; done; return 1; }
send() { "$COLOCD_SEND" --tcp "$port" "$@"; }
# has_executor PID NODE UID CGROUP: colocctl executors lists it so
has_executor() {
	ctl executors --json | grep -qF "\"pid\":$1,\"node\":\"$2\",\"uid\":$3,\"cgroup\":\"$4\""
}
# has_record FILE ID STATE: FILE (a usage.jsonl) has ID's record, ended STATE
has_record() { grep -F "\"id\":\"$2\"" "$1" 2>/dev/null | grep -q "\"state\":\"$3\""; }
acquire() { # uid lease-file [lib]
	send --lease-out "$2" "{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"none:$1:$1\",\"workers\":1,\"lib\":\"${3:-$FAAS_EXAMPLES_LIB}\",\"mem\":0,\"gpus\":0,\"time\":120,\"mode\":\"spread\",\"job\":0}"
}
release() { send "{\"v\":1,\"type\":\"lease_release\",\"cred\":\"none:$nobody:$nobody\",\"id\":\"$1\"}"; }
field() { grep -o "\"$1\":\"\\?[^,\"}]*" | head -1 | sed 's/.*:"\?//'; }
lease_of() { ctl leases --json | grep -o "{\"id\":\"$1\"[^}]*}"; }
cgdir() { for m in /sys/fs/cgroup/$1/"$2" /sys/fs/cgroup/"$2"; do [ -d "$m" ] && echo "$m" && return; done; }
gone() { for _ in $(seq 600); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done; return 1; }
npus=$(nproc)

start_controller
start_agent 1
start_agent 2
check "a controller and two node agents start; both nodes register, up" \
	'until_ok "ctl nodes | grep -q \"^node1  *up\" && ctl nodes | grep -q \"^node2  *up\""' \
	"$(ctl nodes 2>&1)"

# drain: node1 takes no lease; every PU of node2 is leased, then ENOSPC
out=$(ctl drain node1)
check "colocctl drain node1" '[ $? = 0 ] && ctl nodes | grep -q "^node1  *drained"' "$out"
ids=()
for i in $(seq "$npus"); do
	out=$(acquire "$nobody" "$dir/d$i.json")
	ids+=("$(echo "$out" | field id)")
done
nodes=$(for id in "${ids[@]}"; do lease_of "$id" | field node; done | sort -u | tr '\n' ' ')
check "with node1 drained, $npus leases all land on node2" '[ "$nodes" = "node2 " ]' "$nodes"
out=$(acquire "$nobody" "$dir/none.json" 2>&1)
check "one more gets ENOSPC: node2 is full and node1 drained" 'echo "$out" | grep -q ENOSPC' "$out"
out=$(send '{"v":1,"type":"drain","cred":"none:1000:1000","node":"node1","drain":false}' 2>&1)
check "a user who is not root cannot resume a node (EPERM)" 'echo "$out" | grep -q EPERM' "$out"
ctl resume node1 >/dev/null
out=$(acquire "$nobody" "$dir/l1.json")
id1=$(echo "$out" | field id)
x1=$(field pid <"$dir/l1.json")
check "after colocctl resume node1 a lease lands on node1" \
	'[ "$(lease_of "$id1" | field node)" = node1 ]' "$out / $(lease_of "$id1")"

# each executor in its own node agent's cgroup, as the lease says
cg=$(cgdir cpuset "$root-1/$id1")
cpus=$(lease_of "$id1" | field cpus)
check "its executor runs in node1's cgroup $root-1/$id1 with the lease's cpus ($cpus), as nobody" \
	'[ -n "$cg" ] && [ "$(cat "$cg/cpuset.cpus")" = "$cpus" ] && grep -qx "$x1" "$cg/cgroup.procs" && [ "$(stat -c %u /proc/$x1)" = "$nobody" ]' \
	"cg=$cg cpus=$cpus"
# the controller learns of executors from node1's next state report
check "colocctl executors names it, with node1's cgroup" \
	'until_ok "has_executor $x1 node1 $nobody $root-1/$id1"' \
	"$(ctl executors --json)"
res=$(FAAS_LEASE="$dir/d1.json" FAAS_ADDR=127.0.0.1 timeout 60 "$BS_CLIENT" --options 2000 2>&1)
check "a client computes on a lease of node2" 'echo "$res" | grep -q "^mismatches  *0"' "$res"

# the host wins on node2 only; the controller learns why
x2=$(field pid <"$dir/d1.json")
out=$("$COLOCD_SEND" --unix "$dir/n2.sock" "{\"v\":1,\"type\":\"job_start\",\"job\":7,\"uid\":1000,\"pus\":\"0-$((npus - 1))\",\"mem\":1073741824,\"mem_need\":0,\"gpus\":0,\"consent\":false,\"end\":0}")
check "a host job on node2 is answered once node2's executors are gone" \
	'echo "$out" | grep -q "\"ok\"" && gone $x2' "$out"
check "the controller shows node2's leases evicted, with why" \
	'until_ok "lease_of ${ids[0]} | grep -q \"\\\"state\\\":\\\"evicted\\\".*host job\""' "$(lease_of "${ids[0]}")"
check "node1's lease runs on" 'kill -0 $x1 && lease_of "$id1" | grep -q "\"state\":\"ready\""'
check "node2's agent recorded the evicted lease's usage, and the controller has it too (cluster-usage.jsonl)" \
	'until_ok "has_record $dir/state0/cluster-usage.jsonl ${ids[0]} evicted" &&
	has_record "$dir/state2/usage.jsonl" "${ids[0]}" evicted &&
	grep -F "\"id\":\"${ids[0]}\"" "$dir/state0/cluster-usage.jsonl" | grep -q "\"node\":\"node2\""' \
	"$(cat "$dir"/state2/usage.jsonl "$dir"/state0/cluster-usage.jsonl 2>&1)"
"$COLOCD_SEND" --unix "$dir/n2.sock" '{"v":1,"type":"job_end","job":7}' >/dev/null

# peers that are not root
out=$(send '{"v":1,"type":"node_state","cred":"none:1000:1000","node":"evil","port":1,"pus":"0","mem":1,"ngpus":0,"lendable":"0","unallocated":"","near_host":"","cgroup":"x","mem_lendable":1,"gpus_lendable":0,"until":0,"jobs":0,"leases":[],"ended":[]}' 2>&1)
check "the controller takes node state from root only (EPERM)" \
	'echo "$out" | grep -q EPERM && ! ctl nodes | grep -q evil' "$out"
out=$("$COLOCD_SEND" --tcp "$((port + 1))" --to agent:node1 "{\"v\":1,\"type\":\"exec_stop\",\"cred\":\"none:$nobody:$nobody\",\"id\":\"$id1\"}" 2>&1)
check "a node agent takes exec_stop from root only (EPERM)" \
	'echo "$out" | grep -q EPERM && kill -0 $x1' "$out"
out=$("$COLOCD_SEND" --tcp "$((port + 1))" --to agent:node2 "{\"v\":1,\"type\":\"exec_stop\",\"cred\":\"none:0:0\",\"id\":\"$id1\"}" 2>&1)
check "issue 11 defect 1: root's exec_stop for node2's agent is refused by node1's, and logged" \
	'echo "$out" | grep -q "EACCES.*made for agent:node2, not agent:node1" && kill -0 $x1 &&
	grep -q "refused exec_stop from 127.0.0.1: the credential was made for agent:node2" "$dir/agent1.log"' "$out"

# the controller killed with a lease active: nothing is lost
kill -9 "$cpid"
wait "$cpid" 2>/dev/null
check "node1's executor outlives the killed controller" 'kill -0 $x1'
start_controller
check "the restarted controller adopts the lease from node1's agent" \
	'until_ok "lease_of $id1 | grep -q \"\\\"state\\\":\\\"ready\\\",\\\"node\\\":\\\"node1\\\"\""' \
	"$(ctl leases 2>&1)"
res=$(FAAS_LEASE="$dir/l1.json" FAAS_ADDR=127.0.0.1 timeout 60 "$BS_CLIENT" --options 2000 2>&1)
check "its client still computes" 'echo "$res" | grep -q "^mismatches  *0"' "$res"
out=$(release "$id1")
check "its owner releases it through the new controller: executor gone, cgroup removed" \
	'echo "$out" | grep -q "\"ok\"" && gone $x1 && [ -z "$(cgdir cpuset "$root-1/$id1")" ]' "$out"
check "its usage record reaches the restarted controller once, as released" \
	'until_ok "has_record $dir/state0/cluster-usage.jsonl $id1 released" &&
	[ "$(grep -cF "\"id\":\"$id1\"" "$dir/state0/cluster-usage.jsonl")" = 1 ] &&
	[ "$(grep -cF "\"id\":\"$id1\"" "$dir/state1/usage.jsonl")" = 1 ] &&
	ctl usage --by node --json | grep -q "\"group\":\"node1\""' "$(cat "$dir"/state1/usage.jsonl "$dir"/state0/cluster-usage.jsonl 2>&1)"

# a node agent killed: its node goes down, its restart cleans up
until_ok "ctl nodes | grep -q \"^node2  *up\"" && ctl drain node2 >/dev/null
acquire "$nobody" "$dir/k.json" >/dev/null
ctl resume node2 >/dev/null
kid=$(field id <"$dir/k.json")
kx=$(field pid <"$dir/k.json")
kill -9 "$a1"
wait "$a1" 2>/dev/null
check "the controller marks node1 down when its agent falls silent" \
	'until_ok "ctl nodes | grep -q \"^node1  *down\""' "$(ctl nodes 2>&1)"
out=$(acquire "$nobody" "$dir/l3.json")
check "meanwhile new leases go to node2" '[ "$(lease_of "$(echo "$out" | field id)" | field node)" = node2 ]' "$out"
start_agent 1
check "the restarted agent removes the executor and cgroup the killed one left" \
	'[ -n "$kx" ] && gone $kx && [ -z "$(cgdir cpuset "$root-1/$kid")" ]'
check "node1 is up again and the controller drops its lost lease as failed" \
	'until_ok "ctl nodes | grep -q \"^node1  *up\" && lease_of $kid | grep -q \"\\\"state\\\":\\\"failed\\\"\""' \
	"$(lease_of "$kid")"

# stops: an agent's executors go with it and the controller hears of it
out=$(acquire "$nobody" "$dir/l4.json")
x4=$(field pid <"$dir/l4.json")
id4=$(echo "$out" | field id)
node4=$(lease_of "$id4" | field node)
ap=''
eval "ap=\$a${node4#node}"
kill "$ap"
wait "$ap"
rc=$?
check "SIGTERM stops $node4's agent (exit 0) with its executor" '[ $rc = 0 ] && gone $x4' "exit $rc"
check "the controller shows that lease evicted: colocd stopped" \
	'lease_of "$id4" | grep -q "\"state\":\"evicted\".*colocd stopped"' "$(lease_of "$id4")"
for p in $a1 $a2; do [ "$p" != "$ap" ] && kill "$p" && wait "$p"; done
a1='' a2=''
kill "$cpid"
wait "$cpid"
rc=$?
cpid=
check "SIGTERM stops the controller (exit 0)" '[ $rc = 0 ]' "exit $rc"
check "no cgroup is left under $root-1 and $root-2" \
	'[ -z "$(ls -d /sys/fs/cgroup/*/$root-* /sys/fs/cgroup/$root-* 2>/dev/null)" ]' \
	"$(ls -d /sys/fs/cgroup/*/$root-* 2>/dev/null)"
if [ $failed != 0 ]; then
	for f in controller agent1 agent2; do sed "s/^/# $f| /" "$dir/$f.log"; done
fi
echo "1..$n"
[ $failed = 0 ]
