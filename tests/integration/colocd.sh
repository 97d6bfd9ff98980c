#!/bin/bash
# TAP test: colocd --standalone with real faas-executors in real cgroups.
# A lease acquired over TCP runs its executor as the lease owner (nobody) in
# its own cgroup, whose cpuset, memory limit and uid are read back from the
# kernel; a client computes with it; bad requests get errors and the daemon
# goes on; a host job report takes the lent PUs back (executor gone, cgroup
# removed); release, expiry, a killed and restarted colocd, and a stop
# leave no executor and no cgroup behind. Needs root and cgroups.
set -u
. "$(dirname "$0")/tap.sh"
tap_setup colocd
tap_ports 0
pid=
trap tap_colocd_cleanup EXIT
# two fake GPUs: character devices with a major no driver uses
mknod "$dir/nvidia0" c 60 0 && mknod "$dir/nvidia1" c 60 1 && chmod 666 "$dir"/nvidia[01]
tap_conf "$port" "$dir" "$root" EvictGrace=200ms "Gpus=$dir/nvidia[0-1]" >"$dir/coloc.conf"
send() { "$COLOCD_SEND" --tcp "$port" "$@"; }
acquire() { # uid workers time [extra args to colocd_send]
	local uid=$1 w=$2 t=$3
	shift 3
	send "$@" "{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"none:$uid:$uid\",\"workers\":$w,\"lib\":\"$FAAS_EXAMPLES_LIB\",\"mem\":0,\"gpus\":0,\"time\":$t,\"mode\":\"spread\",\"job\":0}"
}
# a lease's cgroup: v1 in the controller's hierarchy; v2 below the root,
# or below the cgroup systemd delegated to colocd's unit
cgdir() {
	for m in /sys/fs/cgroup/$1/"$root"/"$2" /sys/fs/cgroup/"$root"/"$2"; do [ -d "$m" ] && echo "$m" && return; done
	[ -f /sys/fs/cgroup/cgroup.controllers ] && find /sys/fs/cgroup -maxdepth 6 -type d -path "*/$root/$2" 2>/dev/null | head -1
}
leases_left() { find /sys/fs/cgroup -maxdepth 7 -type d -path "*/$root/lease-*" 2>/dev/null; }

# spare [PID]: colocd's spare executor other than PID, waited for (60 s:
# colocd starts spares SCHED_IDLE, so on a busy machine one may take long)
spare() {
	local s
	for _ in $(seq 1200); do
		s=$(pgrep -P "$pid" -f 'faas-executor --spare$' | grep -vx "${1:-none}" | head -1)
		[ -n "$s" ] && echo "$s" && return 0
		sleep 0.05
	done
	return 1
}
# spare_ready PID: waits (60 s) until the spare has initialised libfabric
# and sleeps in read(0, ...) for its assignment from colocd: before, it is
# still starting (SCHED_IDLE: on a busy machine that may take long)
spare_ready() {
	[ -n "${1:-}" ] || return 1
	until_ok 1200 0.05 "[ \"\$(cut -d' ' -f1-2 /proc/$1/syscall 2>/dev/null)\" = '0 0x0' ]"
}

check "colocd --standalone starts and listens" colocd_start "see the log below"

# a spare executor waits for the first lease
sp=$(spare)
# until it waits for its lease, in read(0, ...), it is still starting
spare_ready "$sp"
# fds 1-2: a pipe of its own, not colocd's log (issue 11 defect 5: a
# function library must not write into or truncate colocd's log)
check "colocd starts a spare executor ahead of leases: nobody with root only in its saved uid, SCHED_IDLE, only fds 0-2 open, 0 a socket, 1-2 a pipe not colocd's" \
	'[ -n "$sp" ] && [ "$(awk "/^Uid:/ {print \$2,\$3,\$4,\$5}" /proc/$sp/status)" = "$nobody $nobody 0 $nobody" ] &&
	grep -q "^CapEff:[[:space:]]*0*$" /proc/$sp/status && chrt -p $sp | grep -q SCHED_IDLE &&
	[ "$(ls /proc/$sp/fd | tr "\n" " ")" = "0 1 2 " ] && readlink /proc/$sp/fd/0 | grep -q "^socket:" &&
	readlink /proc/$sp/fd/1 | grep -q "^pipe:" && [ "$(readlink /proc/$sp/fd/1)" != "$(readlink /proc/$pid/fd/2)" ]' \
	"spare ${sp:-none}: $(grep -E "^(Uid|CapEff)" /proc/"$sp"/status 2>&1 | tr "\n" " ")$(for f in /proc/"$sp"/fd/*; do printf '%s -> %s ' "${f##*/}" "$(readlink "$f")"; done 2>&1)"

# a lease, read back from the kernel
out=$(acquire "$nobody" 1 60 --lease-out "$dir/lease.json")
id=$(echo "$out" | field id)
xpid=$(field pid <"$dir/lease.json")
check "lease_acquire as nobody is granted with a lease document" \
	'[ -n "$id" ] && [ -s "$dir/lease.json" ] && [ -n "$xpid" ]' "$out"
check "its executor is the spare (started before the lease came), now SCHED_OTHER" \
	'[ -n "$sp" ] && [ "$xpid" = "$sp" ] && chrt -p $xpid | grep -q SCHED_OTHER' \
	"executor ${xpid:-none}, spare ${sp:-none}: $(chrt -p "$xpid" 2>&1)"
nogroup=$(id -g nobody)
check "it has the owner's gid and no supplementary groups, and cannot regain root" \
	'[ "$(awk "/^Gid:/ {print \$2 \$3 \$4 \$5}" /proc/$xpid/status)" = "$nogroup$nogroup$nogroup$nogroup" ] &&
	[ -z "$(awk "/^Groups:/ {print \$2}" /proc/$xpid/status)" ] &&
	[ "$(awk "/^Uid:/ {print \$3 \$4 \$5}" /proc/$xpid/status)" = "$nobody$nobody$nobody" ]' \
	"$(grep -E "^(Uid|Gid|Groups)" /proc/"$xpid"/status 2>&1 | tr '\n' ' ')"
check "ps and /proc show the lease's arguments and environment (FAAS_TOKEN), not the spare's" \
	'tr "\0" "\n" </proc/$xpid/environ | grep -q "^FAAS_TOKEN=" && ! tr "\0" "\n" </proc/$xpid/environ | grep -q "^FAAS_PROVIDER=" &&
	ps -o args= -p $xpid | grep -q -- "--lib $FAAS_EXAMPLES_LIB --cpus"' \
	"$(tr '\0' ' ' </proc/"$xpid"/environ 2>&1) / $(ps -o args= -p "$xpid")"
sp2=$(spare "$sp")
check "another spare replaces it" '[ -n "$sp2" ]'
out=$("$FAAS_EXECUTOR" --spare </dev/null 2>&1)
rc=$?
check "faas-executor --spare started by hand (no channel from colocd) is refused (exit 2), saying so" \
	'[ $rc = 2 ] && echo "$out" | grep -q "not started by hand"' "exit $rc: $out"
cpu=$(grep -o '"cpu":[0-9]*' "$dir/lease.json" | head -1 | cut -d: -f2)
check "the executor runs in cgroup $root/$id (cpuset and memory; v2: below a delegated cgroup)" \
	'{ grep -q "cpuset:/$root/$id\$" /proc/$xpid/cgroup && grep -q "memory:/$root/$id\$" /proc/$xpid/cgroup; } ||
	 grep -q "^0::\(/.*\)\?/$root/$id\$" /proc/$xpid/cgroup' \
	"$(tr '\n' ' ' </proc/"$xpid"/cgroup 2>&1)"
cpus=$(cat "$(cgdir cpuset "$id")/cpuset.cpus" 2>/dev/null)
check "its cpuset is the lent cpu ($cpus = worker cpu $cpu)" '[ -n "$cpu" ] && [ "$cpus" = "$cpu" ]'
mem=$(cat "$(cgdir memory "$id")/memory.limit_in_bytes" 2>/dev/null || cat "$(cgdir . "$id")/memory.max" 2>/dev/null)
check "its memory limit is the lease's (256 MiB for one worker)" '[ "$mem" = 268435456 ]' "$mem"
check "it runs as the lease owner (uid $nobody)" \
	'[ "$(awk "/^Uid:/ {print \$2}" /proc/$xpid/status)" = "$nobody" ]'
res=$(FAAS_LEASE=$dir/lease.json FAAS_ADDR=127.0.0.1 timeout 60 "$BS_CLIENT" --options 20000 2>&1)
check "a client prices Black-Scholes options on the lease, no mismatch" \
	'echo "$res" | grep -q "^mismatches  *0"' "$res"
out=$(send '{"v":1,"type":"query","cred":"none:0:0","what":"executors"}')
check "colocd lists the executor (pid, cgroup, cpus, memory limit)" \
	'echo "$out" | grep -q "\"pid\":$xpid" && echo "$out" | grep -q "\"cgroup\":\"$root/$id\""' "$out"

# who sees which leases (issue 11): a user their own leases and executors,
# root every one; nodes and gaps are public
other=$(id -u daemon 2>/dev/null)
if [ -n "$other" ] && [ "$other" != 0 ] && [ -x "${COLOCCTL:-}" ]; then
	out=$(acquire "$other" 1 60 --lease-out "$dir/ld.json")
	did=$(echo "$out" | field id)
	dx=$(field pid <"$dir/ld.json")
	check "a second lease, for user daemon (setup)" '[ -n "$did" ] && [ -n "$dx" ]' "$out"
	as_nobody() { setpriv --reuid="$nobody" --regid="$nobody" --clear-groups "$COLOCCTL" -f "$dir/coloc.conf" --json "$@" 2>&1; }
	tab=$(as_nobody leases)
	check "issue 11: colocctl leases as nobody lists nobody's lease, not daemon's" \
		'echo "$tab" | grep -q "\"id\":\"$id\"" && ! echo "$tab" | grep -q "\"id\":\"$did\"" && ! echo "$tab" | grep -q "\"uid\":$other,"' "$tab"
	tab=$(as_nobody executors)
	check "issue 11: colocctl executors as nobody lists nobody's executor, not daemon's pid or cgroup" \
		'echo "$tab" | grep -q "\"pid\":$xpid" && ! echo "$tab" | grep -q "\"pid\":$dx" && ! echo "$tab" | grep -q "$did"' "$tab"
	tab=$(send "{\"v\":1,\"type\":\"query\",\"cred\":\"none:$other:$other\",\"what\":\"leases\"}")
	check "issue 11: daemon's query lists daemon's lease, not nobody's" \
		'echo "$tab" | grep -q "\"id\":\"$did\"" && ! echo "$tab" | grep -q "\"id\":\"$id\""' "$tab"
	tab=$("$COLOCCTL" -f "$dir/coloc.conf" --json executors 2>&1)
	check "root lists every lease's executor" \
		'echo "$tab" | grep -q "\"pid\":$xpid" && echo "$tab" | grep -q "\"pid\":$dx"' "$tab"
	nodes=$(as_nobody nodes)
	gaps=$(as_nobody gaps)
	check "nodes and gaps stay public: nobody lists them" \
		'echo "$nodes" | grep -q "\"name\":" && echo "$gaps" | grep -q "\"lendable\":"' "$nodes / $gaps"
	send "{\"v\":1,\"type\":\"lease_release\",\"cred\":\"none:$other:$other\",\"id\":\"$did\"}" >/dev/null
	check "daemon's lease released (its executor gone)" 'gone $dx'
	tab=$(as_nobody leases)
	check "issue 11: nor does nobody see it among the ended leases" \
		'echo "$tab" | grep -q "\"id\":\"$id\"" && ! echo "$tab" | grep -q "\"id\":\"$did\""' "$tab"
else
	ok "who sees which leases # SKIP no user daemon or no colocctl"
fi

# colocctl, as the user, gives the lease document FAAS_LEASE takes
if [ -x "${COLOCCTL:-}" ]; then
	doc=$(setpriv --reuid="$nobody" --regid="$nobody" --clear-groups \
		"$COLOCCTL" -f "$dir/coloc.conf" lease acquire --workers 1 --lib "$FAAS_EXAMPLES_LIB" --time 5 --json 2>&1)
	cid=$(echo "$doc" | field id)
	check "colocctl lease acquire --json prints a lease document" \
		'echo "$doc" | grep -q "\"type\":\"lease\"" && [ -n "$cid" ]' "$doc"
	res=$(FAAS_LEASE=$doc FAAS_ADDR=127.0.0.1 timeout 60 "$BS_CLIENT" --options 5000 2>&1)
	check "FAAS_LEASE=\$(colocctl lease acquire --json) works for a client" \
		'echo "$res" | grep -q "^mismatches  *0"' "$res"
	tab=$("$COLOCCTL" -f "$dir/coloc.conf" leases 2>&1)
	check "colocctl leases shows it, expiring at a local date (--json: unix seconds)" \
		'echo "$tab" | grep "$cid" | grep -Eq " 2[0-9]{3}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} " &&
		"$COLOCCTL" -f "$dir/coloc.conf" leases --json | grep -Eq "\"id\":\"$cid\",[^}]*\"expires\":[0-9]{10}[,}]"' "$tab"
	out=$(setpriv --reuid="$nobody" --regid="$nobody" --clear-groups \
		"$COLOCCTL" -f "$dir/coloc.conf" lease release "$cid" 2>&1)
	rc=$?
	tab=$("$COLOCCTL" -f "$dir/coloc.conf" leases --json 2>&1)
	check "colocctl lease release ends it (colocctl leases shows it released)" \
		'[ $rc = 0 ] && echo "$tab" | grep -q "\"id\":\"$cid\",\"uid\":$nobody,\"state\":\"released\""' "$out / $tab"
fi

# a lease with a GPU: its device allowed, CUDA_VISIBLE_DEVICES set
out=$(send "{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"none:$nobody:$nobody\",\"workers\":1,\"lib\":\"$FAAS_EXAMPLES_LIB\",\"mem\":0,\"gpus\":1,\"time\":60,\"mode\":\"spread\",\"job\":0}" --lease-out "$dir/lg.json")
gid=$(echo "$out" | field id)
gx=$(field pid <"$dir/lg.json")
cuda=$(tr '\0' '\n' <"/proc/$gx/environ" 2>/dev/null | sed -n 's/^CUDA_VISIBLE_DEVICES=//p')
check "a lease with one GPU: its executor sees CUDA_VISIBLE_DEVICES=0 or 1" \
	'[ -n "$gx" ] && { [ "$cuda" = 0 ] || [ "$cuda" = 1 ]; }' "$out / CUDA_VISIBLE_DEVICES=$cuda"
devs=$(cat "$(cgdir devices "$gid")/devices.list" 2>/dev/null)
if [ -f "$(cgdir devices "$gid")/devices.list" ]; then # v1 (v2: sandbox_check tests the fence)
	check "its devices cgroup allows that GPU only (c 60:$cuda)" \
		'echo "$devs" | grep -q "^c 60:$cuda " && ! echo "$devs" | grep -q "^c 60:$((1 - cuda)) "' "$devs"
fi
send "{\"v\":1,\"type\":\"lease_release\",\"cred\":\"none:$nobody:$nobody\",\"id\":\"$gid\"}" >/dev/null

# an executor over its memory limit: it alone is killed, its lease is
# reported failed, the first lease's executor serves on
out=$(send "{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"none:$nobody:$nobody\",\"workers\":1,\"lib\":\"$FAAS_FAULTS_LIB\",\"mem\":167772160,\"gpus\":0,\"time\":60,\"mode\":\"spread\",\"job\":0}" --lease-out "$dir/lo.json")
oid=$(echo "$out" | field id)
ox=$(field pid <"$dir/lo.json")
res=$(FAAS_ADDR=127.0.0.1 timeout 30 "$FAAS_CALL" --lease "$dir/lo.json" --fn hog --u64 400000000 2>&1)
check "a call that needs more than the lease's 160 MiB fails" \
	'[ -n "$ox" ] && echo "$res" | grep -q "faas-call: error"' "$out / $res"
for _ in $(seq 600); do
	tab=$(send '{"v":1,"type":"query","cred":"none:0:0","what":"leases"}')
	echo "$tab" | grep -q "\"id\":\"$oid\",[^}]*\"state\":\"failed\"" && break
	sleep 0.05
done
check "its lease is reported failed, out of memory, and its cgroup removed" \
	'echo "$tab" | grep -q "\"id\":\"$oid\",[^}]*\"state\":\"failed\",[^}]*memory" && gone $ox && [ -z "$(cgdir memory "$oid")" ]' "$tab"
res=$(FAAS_LEASE="$dir/lease.json" FAAS_ADDR=127.0.0.1 timeout 60 "$BS_CLIENT" --options 2000 2>&1)
check "the other lease's executor still serves, colocd runs on" \
	'kill -0 $pid && echo "$res" | grep -q "^mismatches  *0"' "$res"

# a function that does not return: its executor ignores SIGTERM until the
# call ends, so the release kills it after EvictGrace (200 ms)
out=$(send "{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"none:$nobody:$nobody\",\"workers\":1,\"lib\":\"$FAAS_FAULTS_LIB\",\"mem\":0,\"gpus\":0,\"time\":60,\"mode\":\"spread\",\"job\":0}" --lease-out "$dir/lh.json")
hid=$(echo "$out" | field id)
hx=$(field pid <"$dir/lh.json")
FAAS_ADDR=127.0.0.1 timeout 60 "$FAAS_CALL" --lease "$dir/lh.json" --fn sleep_ms --u64 30000 \
	--timeout-ms 40000 >"$dir/hung.out" 2>&1 &
caller=$!
# until one of the executor's threads sleeps in the function (bounded: 60 s,
# for a loaded machine or an emulated guest, where faas-call takes seconds)
for _ in $(seq 1200); do
	grep -qs nanosleep /proc/"$hx"/task/*/wchan && break # hrtimer_ or do_nanosleep
	sleep 0.05
done
t0=$(date +%s%N)
out=$(send "{\"v\":1,\"type\":\"lease_release\",\"cred\":\"none:$nobody:$nobody\",\"id\":\"$hid\"}" 2>&1)
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "# releasing a lease whose function hangs took $ms ms (EvictGrace 200ms)"
check "a release while a function hangs ends its executor by SIGKILL after EvictGrace" \
	'[ -n "$hx" ] && echo "$out" | grep -q "\"ok\"" && gone $hx && [ $ms -ge 200 ] && grep -q "$hid released.*needed SIGKILL" "$dir/colocd.log"' "$out, $ms ms"
wait $caller
check "the hung call's client gets an error, not a hang" 'grep -q "faas-call: error" "$dir/hung.out"' "$(cat "$dir/hung.out")"

# bad input: errors, and the daemon goes on
out=$(send 'not json' 2>&1)
check "a malformed frame gets an EPROTO error" 'echo "$out" | grep -q "\"EPROTO\""' "$out"
out=$(acquire "$nobody" 4096 60 2>&1)
check "a lease larger than the node's gap gets ENOSPC naming the largest gap" \
	'echo "$out" | grep -q "ENOSPC" && echo "$out" | grep -q "largest gap"' "$out"
out=$(acquire 0 1 60 2>&1)
check "a lease for root is refused (EPERM): executors never run as root" 'echo "$out" | grep -q EPERM' "$out"
out=$(send '{"v":1,"type":"job_end","job":1}' 2>&1)
check "a host job report over TCP is refused (EPERM)" 'echo "$out" | grep -q EPERM' "$out"
out=$(setpriv --reuid="$nobody" --regid="$nobody" --clear-groups "$COLOCD_SEND" --unix "$dir/colocd.sock" '{"v":1,"type":"job_end","job":1}' 2>&1)
check "a non-root peer cannot report host jobs on the unix socket" \
	'echo "$out" | grep -qE "Permission denied|EPERM"' "$out"
out=$(send '{"v":1,"type":"bogus"}' 2>&1)
check "an unknown message type gets EPROTO" 'echo "$out" | grep -q EPROTO' "$out"
out=$(acquire "$nobody" 0 60 2>&1)
check "a lease of zero workers gets EPROTO naming workers" 'echo "$out" | grep -q "EPROTO.*workers"' "$out"
out=$(acquire 4242424 1 60 2>&1)
check "a lease for a uid with no account gets EINVAL naming the uid" \
	'echo "$out" | grep -q "EINVAL.*uid 4242424"' "$out"
# raw frames: a length above 64 KiB, and a frame cut short
raw() { # bytes (printf format): sends them to ControllerPort, then closes
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	# shellcheck disable=SC2059 # $1 is the bytes to send, escapes and all
	printf "$1" >&3
	exec 3>&-
	exec 3<&-
}
raw '\xff\xff\xff\xff'
raw '\x00\x00\x00\x40{"v":1,"type"'
out=$(send '{"v":1,"type":"query","cred":"none:0:0","what":"nodes"}' 2>&1)
check "oversized and truncated frames are dropped; colocd still answers" \
	'kill -0 $pid && echo "$out" | grep -q "\"result\""' "$out"
check "colocd still runs after the bad requests" 'kill -0 $pid'

# issue 11 defect 1: a credential authorises one message, once
out=$(send --repeat 2 '{"v":1,"type":"query","cred":"none:0:0","what":"nodes"}' 2>&1)
check "issue 11 defect 1: a request sent twice with one credential is refused the second time, and logged" \
	'echo "$out" | sed -n 1p | grep -q "\"result\"" && echo "$out" | sed -n 2p | grep -q "EACCES.*used before" &&
	grep -q "refused query from 127.0.0.1: the credential was used before" "$dir/colocd.log"' "$out"
out=$(send --raw "{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"none:$nobody:$nobody\",\"workers\":1,\"lib\":\"$FAAS_EXAMPLES_LIB\",\"mem\":0,\"gpus\":0,\"time\":60,\"mode\":\"spread\",\"job\":0}" 2>&1)
check "issue 11 defect 1: a credential bound to no message (none:UID:GID) is refused (EACCES)" \
	'echo "$out" | grep -q "EACCES.*bound to no message"' "$out"
out=$(send --to agent:node1 '{"v":1,"type":"query","cred":"none:0:0","what":"nodes"}' 2>&1)
check "issue 11 defect 1: a credential made for a node agent is refused by the controller" \
	'echo "$out" | grep -q "EACCES.*made for agent:node1, not controller"' "$out"

# the host wins: a job allocated onto the lent cpu takes it back
t0=$(date +%s%N)
out=$(report "{\"v\":1,\"type\":\"job_start\",\"job\":42,\"uid\":1000,\"pus\":\"0-$(($(nproc) - 1))\",\"mem\":1073741824,\"mem_need\":0,\"gpus\":0,\"consent\":false,\"end\":0}")
t1=$(date +%s%N)
echo "# reclaim took $(((t1 - t0) / 1000000)) ms (report to reply, EvictGrace 200ms)"
check "a host job report on the lent cpu is answered ok" 'echo "$out" | grep -q "\"ok\""' "$out"
check "by then the executor is gone and its cgroup removed" \
	'[ -n "$xpid" ] && [ -n "$id" ] && gone $xpid && [ -z "$(cgdir cpuset "$id")" ] && [ -z "$(cgdir memory "$id")" ]'
out=$(acquire "$nobody" 1 60 2>&1)
check "while the host job holds every cpu, a new lease gets ENOSPC" 'echo "$out" | grep -q ENOSPC' "$out"
report '{"v":1,"type":"job_end","job":42}' >/dev/null

# a report that does not fit is refused whole; a missed job end is mended
report '{"v":1,"type":"job_start","job":43,"uid":1000,"pus":"0","mem":1048576,"mem_need":0,"gpus":0,"consent":true,"end":0}' >/dev/null
out=$(report '{"v":1,"type":"step_start","job":43,"step":1,"pus":"1","mem":0,"gpus":0}' 2>&1)
check "a step on PUs outside its job is refused (EINVAL), the ledger unchanged" \
	'echo "$out" | grep -q "EINVAL.*does not fit" && send "{\"v\":1,\"type\":\"query\",\"cred\":\"none:0:0\",\"what\":\"gaps\"}" | grep -q "\"lendable\":\"[0-9]"' "$out"
out=$(report '{"v":1,"type":"job_start","job":44,"uid":1000,"pus":"0","mem":1048576,"mem_need":0,"gpus":0,"consent":false,"end":0}' 2>&1)
check "a job on the PUs of a job whose end was missed replaces it" \
	'echo "$out" | grep -q "\"ok\"" && send "{\"v\":1,\"type\":\"query\",\"cred\":\"none:0:0\",\"what\":\"nodes\"}" | grep -q "\"jobs\":1" && grep -q "job 44 holds PUs of job 43" "$dir/colocd.log"' "$out"
report '{"v":1,"type":"job_end","job":44}' >/dev/null
out=$(report '{"v":1,"type":"job_start","job":45,"uid":1000,"pus":"4095","mem":0,"mem_need":0,"gpus":0,"consent":true,"end":0}' 2>&1)
check "a job on a core the node lacks is refused, naming the node's cores" \
	'echo "$out" | grep -q "EINVAL.*not a list of this node.s cores (0-$(($(nproc) - 1)))"' "$out"

# release, by the owner only
out=$(acquire "$nobody" 1 60 --lease-out "$dir/l2.json")
id2=$(echo "$out" | field id)
x2=$(field pid <"$dir/l2.json")
out=$(send "{\"v\":1,\"type\":\"lease_release\",\"cred\":\"none:1000:1000\",\"id\":\"$id2\"}" 2>&1)
check "another user cannot release the lease (EPERM)" 'echo "$out" | grep -q EPERM' "$out"
out=$(send "{\"v\":1,\"type\":\"lease_release\",\"cred\":\"none:$nobody:$nobody\",\"id\":\"$id2\"}" 2>&1)
check "its owner releases it: executor gone, cgroup removed" \
	'[ -n "$x2" ] && echo "$out" | grep -q "\"ok\"" && gone $x2 && [ -z "$(cgdir cpuset "$id2")" ]' "$out"

# a lease runs out at its deadline
out=$(acquire "$nobody" 1 1 --lease-out "$dir/l3.json")
x3=$(field pid <"$dir/l3.json")
check "a 1 s lease ends by itself at its deadline" '[ -n "$x3" ] && gone $x3' "$out"

# spares: a killed one is replaced; SpareExecutors=0 starts executors afresh
sp=$(spare)
[ -n "$sp" ] && kill -9 "$sp"
sp2=$(spare "$sp")
check "a killed spare is replaced within seconds, and colocd says so" \
	'[ -n "$sp2" ] && grep -q "spare executor $sp was killed by signal 9" "$dir/colocd.log"' \
	"spare ${sp:-none} -> ${sp2:-none}"
echo "SpareExecutors=0" >>"$dir/coloc.conf"
colocd_reload
check "SpareExecutors=0 (SIGHUP): the spare exits" '[ -n "$sp2" ] && gone $sp2'
out=$(acquire "$nobody" 1 60 --lease-out "$dir/ls0.json")
x0=$(field pid <"$dir/ls0.json")
res=$(FAAS_LEASE=$dir/ls0.json FAAS_ADDR=127.0.0.1 timeout 60 "$BS_CLIENT" --options 2000 2>&1)
check "and a lease starts its executor afresh, which serves" \
	'[ -n "$x0" ] && ! pgrep -P "$pid" -f "faas-executor --spare\$" >/dev/null && echo "$res" | grep -q "^mismatches  *0"' \
	"$out $res"
send "{\"v\":1,\"type\":\"lease_release\",\"cred\":\"none:$nobody:$nobody\",\"id\":\"$(echo "$out" | field id)\"}" >/dev/null
sed -i '/^SpareExecutors=/d' "$dir/coloc.conf"
colocd_reload

# SIGHUP: a larger MemoryMargin leaves no memory to lend; leases go
out=$(acquire "$nobody" 1 60 --lease-out "$dir/lm.json")
mid=$(echo "$out" | field id)
mx=$(field pid <"$dir/lm.json")
sed -i 's/^MemoryMargin=.*/MemoryMargin=64T/' "$dir/coloc.conf"
colocd_reload
check "SIGHUP with MemoryMargin above the node's memory evicts the lease, saying why" \
	'[ -n "$mx" ] && gone $mx && send "{\"v\":1,\"type\":\"query\",\"cred\":\"none:0:0\",\"what\":\"leases\"}" | grep -q "\"id\":\"$mid\",[^}]*\"state\":\"evicted\",[^}]*memory"' "$out"
sed -i 's/^MemoryMargin=.*/MemoryMargin=256M/' "$dir/coloc.conf"
colocd_reload

# colocd killed with a lease active; the next colocd cleans up
acquire "$nobody" 1 60 --lease-out "$dir/l4.json" >/dev/null
x4=$(field pid <"$dir/l4.json")
sp=$(spare "$x4")
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
check "an executor outlives a killed colocd (no parent-death signal)" '[ -n "$x4" ] && kill -0 $x4 2>/dev/null'
check "its spare does not: it exits at the end of its channel" '[ -n "$sp" ] && gone $sp'
colocd_start
check "a restarted colocd removes what the killed one left (executor and cgroup)" \
	'[ -n "$x4" ] && gone $x4 && [ -z "$(leases_left)" ]'

# stop: nothing outlives it
acquire "$nobody" 1 60 --lease-out "$dir/l5.json" >/dev/null
x5=$(field pid <"$dir/l5.json")
sp5=$(spare "$x5")
kill "$pid"
wait "$pid"
rc=$?
pid=
check "SIGTERM stops colocd (exit 0) and its executors and spare with it" \
	'[ $rc = 0 ] && [ -n "$x5" ] && gone $x5 && [ -n "$sp5" ] && gone $sp5' "exit $rc"
check "no cgroup is left under $root" '[ -z "$(leases_left)" ]'
tap_end "$dir/colocd.log"
