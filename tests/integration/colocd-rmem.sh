#!/bin/bash
# TAP test: memory leases placed by colocd --standalone on lent memory
# headroom (issue 14 part 1). colocctl lease acquire --remote-mem and
# faas_rmem_acquire (rmem_check acquire), as nobody, get a memory lease
# whose executor runs as nobody in a cgroup of the region plus its margin
# (read back from the kernel); the owner writes and reads the region with
# libfaas; sizes that are not sizes, too small or too large are refused
# with a clear error, a lease larger than the headroom gets ENOSPC naming
# the headroom; a host job report that takes the memory back evicts the
# lease with notice: the client reads the region back within EvictGrace,
# then gets FAAS_EEVICTED, and the cgroup is gone. Needs root and cgroups.
set -u
. "$(dirname "$0")/tap.sh"
tap_setup rmem-lease
RMEM_CHECK=${RMEM_CHECK:-./rmem_check}
port=$((20000 + ($$ + 7) % 20000))
pid=
client=
trap 'kill $client 2>/dev/null; tap_colocd_cleanup' EXIT
tap_conf "$port" "$dir" "$root" EvictGrace=10s >"$dir/coloc.conf"
send() { "$COLOCD_SEND" --tcp "$port" "$@"; }
region=$((16 << 20))
margin=$((64 << 20)) # lease_rules.h's LEASE_REMOTE_MEM_MARGIN

check "colocd --standalone starts and listens" colocd_start "see the log below"
# the controller answers once its node agent registered (60 s)
until_ok 1200 0.05 '"$COLOCCTL" -f "$dir/coloc.conf" --json nodes 2>/dev/null | grep -q "\"name\""'

# a memory lease through colocctl, as nobody
doc=$(colocctl_as nobody lease acquire --remote-mem 16M --time 5 --json 2>&1)
id=$(echo "$doc" | field id)
check "colocctl lease acquire --remote-mem 16M as nobody is granted a memory lease" \
	'[ -n "$id" ] && echo "$doc" | grep -q "\"remote_mem\":$region"' "$doc"
xpid=$(pgrep -f "faas-executor --publish fd:0 --id $id " | head -1)
check "its executor runs as nobody with --remote-mem and --evict-grace (EvictGrace)" \
	'[ -n "$xpid" ] && [ "$(awk "/^Uid:/ {print \$2 \$3 \$4 \$5}" /proc/$xpid/status)" = "$nobody$nobody$nobody$nobody" ] &&
	tr "\0" " " </proc/$xpid/cmdline | grep -q -- "--remote-mem $region --evict-grace 10000"' \
	"executor ${xpid:-none}: $(tr '\0' ' ' </proc/"$xpid"/cmdline 2>&1)"
mcg=$(cgdir memory "$id")
limit=$(cat "$mcg/memory.max" 2>/dev/null || cat "$mcg/memory.limit_in_bytes" 2>/dev/null)
check "its cgroup's memory limit is the region plus the executor's margin (64 MiB)" \
	'[ "$limit" = $((region + margin)) ] && grep -qx "$xpid" "$mcg/cgroup.procs"' \
	"cgroup ${mcg:-none}: limit ${limit:-none}"
out=$(FAAS_LEASE=$doc as_user nobody "$RMEM_CHECK" fill 7 2>&1)
check "the owner writes the whole region and reads it back with libfaas" \
	'echo "$out" | grep -q "ok filled $region"' "$out"
total=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 1024))
check "the controller shows the lease as taking no PU" \
	'"$COLOCCTL" -f "$dir/coloc.conf" leases --json | grep -Eq "\"id\":\"$id\",[^}]*\"workers\":0"' \
	"$("$COLOCCTL" -f "$dir/coloc.conf" leases --json 2>&1)"

# another user: cannot see, release or read the memory lease
other=$(id -un daemon 2>/dev/null)
if [ -n "$other" ] && [ "$(id -u daemon)" != 0 ]; then
	tab=$(colocctl_as "$other" --json leases 2>&1)
	check "another user (daemon) does not see the memory lease in colocctl leases" \
		'! echo "$tab" | grep -q "$id"' "$tab"
	tab=$(colocctl_as "$other" --json executors 2>&1)
	check "nor its executor in colocctl executors" '! echo "$tab" | grep -q "$id"' "$tab"
	out=$(colocctl_as "$other" lease release "$id" 2>&1)
	check "another user cannot release it (EPERM)" 'echo "$out" | grep -q EPERM' "$out"
	tok=$(echo "$doc" | grep -o '"token":"[0-9a-f]*"')
	stolen=${doc/$tok/\"token\":\"00000000000000000000000000000000\"}
	out=$(FAAS_LEASE=$stolen as_user "$other" "$RMEM_CHECK" forge 2>&1)
	check "another user with the document but not its token learns no key (FAAS_EUNAVAIL)" \
		'echo "$out" | grep -q "ok with a forged token"' "$out"
	out=$(FAAS_LEASE=$doc as_user nobody "$RMEM_CHECK" verify 7 2>&1)
	check "the region still holds the owner's bytes" 'echo "$out" | grep -q "ok verified"' "$out"
else
	ok "another user's attacks # SKIP no user daemon"
fi

# sizes, checked before anything is sent
out=$(colocctl_as nobody lease acquire --remote-mem lots 2>&1)
rc=$?
check "--remote-mem lots: not a size (exit 2, says what is accepted)" \
	'[ $rc = 2 ] && echo "$out" | grep -q "\"lots\" is not a size: give a size like 512M"' "$out"
out=$(colocctl_as nobody lease acquire --remote-mem 1K 2>&1)
check "--remote-mem 1K: too small (at least 4K)" \
	'echo "$out" | grep -q "1K is too small: .*at least 4K"' "$out"
out=$(colocctl_as nobody lease acquire --remote-mem 2048T 2>&1)
check "--remote-mem 2048T: too large (at most 1024T)" \
	'echo "$out" | grep -q "2048T is too large: .*at most 1024T"' "$out"
out=$(colocctl_as nobody lease acquire --remote-mem 16M --workers 1 2>&1)
check "--remote-mem with --workers is refused: memory alone" \
	'echo "$out" | grep -q "asks for memory alone"' "$out"
out=$(colocctl_as nobody lease acquire --remote-mem 1000T 2>&1)
check "a memory lease larger than the node's headroom gets ENOSPC naming the headroom" \
	'echo "$out" | grep -q "ENOSPC.*the most memory headroom lent: .* on .*asked a memory lease of 1000"' \
	"$out"
out=$(send "{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"none:$nobody:$nobody\",\"workers\":1,\"lib\":\"\",\"mem\":0,\"gpus\":0,\"time\":60,\"mode\":\"spread\",\"job\":0,\"remote_mem\":4096}" 2>&1)
check "a lease_acquire with remote_mem and workers is refused (EPROTO), colocd goes on" \
	'echo "$out" | grep -q "memory lease" && kill -0 $pid' "$out"

# faas_rmem_acquire, as nobody
out=$(COLOC_CONF=$dir/coloc.conf as_user nobody "$RMEM_CHECK" acquire $((8 << 20)) 2>&1)
check "faas_rmem_acquire as nobody: an 8 MiB lease, written, read back and released" \
	'echo "$out" | grep -q "acquired lease-.*, 8388608 bytes" && echo "$out" | grep -q "ok filled 8388608" &&
	! echo "$out" | grep -q faas_lease_release' "$out"
out=$(COLOC_CONF=$dir/coloc.conf as_user nobody "$RMEM_CHECK" acquire 100 2>&1)
check "faas_rmem_acquire of 100 bytes: FAAS_EINVAL, too small" \
	'echo "$out" | grep -q "faas_rmem_acquire: .*remote_mem 100 bytes.*ask for more"' "$out"

# a host step on a PU: the memory executor (which holds none) moves off it
last=$(($(nproc) - 1))
if [ "$last" -ge 1 ]; then
	ccg=$(cgdir cpuset "$id")
	report "{\"v\":1,\"type\":\"job_start\",\"job\":41,\"uid\":1000,\"pus\":\"0-$last\",\"mem\":1048576,\"mem_need\":0,\"gpus\":0,\"consent\":true,\"end\":0}" >/dev/null
	out=$(report '{"v":1,"type":"step_start","job":41,"step":0,"pus":"0","mem":0,"gpus":0}' 2>&1)
	cpus=$(cat "$ccg/cpuset.cpus" 2>/dev/null)
	check "a host step on PU 0 moves the memory executor off it (cpuset $cpus), without evicting it" \
		'echo "$out" | grep -q "\"ok\"" && [ -n "$cpus" ] && [ "${cpus%%[-,]*}" != 0 ] && kill -0 "$xpid" &&
		grep -q "Cpus_allowed_list:[[:space:]]*$cpus$" /proc/$xpid/status' \
		"$out; cgroup ${ccg:-none}: $cpus; $(grep Cpus_allowed_list /proc/"$xpid"/status 2>&1)"
	report '{"v":1,"type":"step_end","job":41,"step":0}' >/dev/null
	report '{"v":1,"type":"job_end","job":41}' >/dev/null
	cpus=$(cat "$ccg/cpuset.cpus" 2>/dev/null)
	check "the job's end gives it the lendable PUs back (cpuset $cpus)" '[ "$cpus" = "0-$last" ]' "$cpus"
else
	ok "a host step moves the memory executor # SKIP one PU"
	ok "the job's end gives it its PUs back # SKIP one PU"
fi

# the host takes its memory back: eviction with notice
FAAS_LEASE=$doc as_user nobody "$RMEM_CHECK" evict 9 >"$dir/evict.out" 2>&1 </dev/null &
client=$!
until_ok 1200 0.05 'grep -q filled "$dir/evict.out"'
out=$(report "{\"v\":1,\"type\":\"job_start\",\"job\":42,\"uid\":1000,\"pus\":\"0\",\"mem\":$total,\"mem_need\":0,\"gpus\":0,\"consent\":false,\"end\":0}" 2>&1)
check "a host job that takes the node's memory is answered ok once the lease is gone" \
	'echo "$out" | grep -q "\"ok\"" && gone "$xpid" && [ -z "$(cgdir memory "$id")" ]' "$out"
until_ok 1200 0.05 '! kill -0 $client 2>/dev/null'
wait "$client"
crc=$?
client=
out=$(cat "$dir/evict.out")
check "after the eviction notice the owner read the whole region back" \
	'echo "$out" | grep -q "read back $region bytes after the notice"' "$out"
check "then every access failed with FAAS_EEVICTED (no stale data)" \
	'[ $crc = 0 ] && echo "$out" | grep -q "ok evicted"' "$out"
check "colocd logs the eviction: the node's lendable memory shrank" \
	'grep -q "$id evicted (the node.s lendable memory shrank" "$dir/colocd.log"' \
	"$(grep "$id" "$dir/colocd.log")"
out=$(colocctl_as nobody lease acquire --remote-mem 16M 2>&1)
check "while the host job holds the memory, a memory lease gets ENOSPC" \
	'echo "$out" | grep -q ENOSPC' "$out"
report '{"v":1,"type":"job_end","job":42}' >/dev/null
check "colocd still runs" 'kill -0 $pid'
tap_end "$dir/colocd.log"
