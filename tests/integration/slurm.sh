#!/bin/bash
# TAP test: spank_faas.so in a real Slurm (Debian's slurmctld and slurmd,
# munged, cgroups) with coloc's controller and node agents, on a 3-node
# scripts/testbed: srun's options refused with their messages; a host job's
# report reaching its node agent with its cores, memory and GPUs; a lease
# through srun (and through sbatch, for the sruns of the batch script)
# computing on the host job's idle core of another node; reclaim when a
# host step needs the lent core, and when a new job is allocated onto lent
# unallocated cores (checked from the cgroups the step's task sees); job end
# leaving no executor; fake GPUs lent and reclaimed; colocd down: host jobs
# run, client jobs fail fast. Needs root.
set -u
. "$(dirname "$0")/tap.sh"

[ "$(id -u)" = 0 ] || skip "a Slurm testbed needs root"
# configure --enable-sanitizers: spank_faas.so needs ASan's runtime loaded
# first in every process that loads it, and Slurm's are not built with it
# (slurmd, slurmstepd, srun, sbatch: preloading it there would reach every
# job's tasks too). The plugin's parsers run under ASan in test_faas_opts
# and fuzz_faas_opts; this test runs in the other builds.
[ "${COLOC_SANITIZERS:-}" != yes ] ||
	skip "spank_faas.so is built with ASan, which Slurm's daemons and srun are not (the normal build runs this test)"
for b in slurmctld slurmd srun munged; do
	command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] ||
		skip "$b is missing (apt-get install slurmctld slurmd slurm-client munge)"
done
# COLOC_INSTALLED=1 (scripts/check, on the packages): the installed
# programs and TESTBED_PLUGIN (see scripts/testbed), and the installed
# plugstack line through Slurm's own plugstack.conf
[ -f "${TESTBED_PLUGIN:-$COLOC_BUILD/spank-plugin/.libs/spank_faas.so}" ] ||
	skip "spank_faas.so was not built (configure found no slurm/spank.h)"
nobody=$(id -u nobody) || skip "no user nobody"

export TESTBED_PREFIX=st TESTBED_PORT=$((21000 + $$ % 500 * 2)) TESTBED_SUBNET=10.237.$(($$ % 200)) \
	TESTBED_GPUS=2 TESTBED_LEND_UNALLOCATED=no
dir=$(mktemp -d /tmp/coloc-slurm.XXXXXX)
tb=$dir/tb
out=$dir/out
mkdir -p "$out" && chmod 755 "$dir" && chmod 777 "$out"
LIB=$FAAS_EXAMPLES_LIB
bgpids=()
cleanup() {
	for p in "${bgpids[@]}"; do kill "$p" 2>/dev/null; done
	"$TESTBED" down "$tb" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT

if ! up=$("$TESTBED" up "$tb" 3 2>&1); then
	echo "not ok 1 - scripts/testbed up # $up"
	echo "1..1"
	exit 1
fi
ok "scripts/testbed up: 3 nodes, slurmctld, slurmd, munged, colocd controller and agents"
# shellcheck disable=SC1091 # written by scripts/testbed up
. "$tb/env"
# as the user: Slurm jobs and srun, never root
as_nobody() { as_user nobody env SLURM_CONF="$SLURM_CONF" COLOC_CONF="$COLOC_CONF" PATH="$PATH" "$@"; }
# wait CMD: until CMD succeeds, at most 60 s
wait_ok() { until_ok 600 0.1 "$1"; }
gap() { colocctl gaps --json | grep -o "{\"node\":\"$1\"[^}]*}"; }
lease_of() { colocctl leases --json | grep -o "{\"id\":\"$1\"[^}]*}"; }
cg() { ls -d /sys/fs/cgroup/cpuset/coloc_"$1"/lease-* /sys/fs/cgroup/coloc_"$1"/lease-* 2>/dev/null; }

# ---- installed: Slurm's plugstack.conf loads the plugin from its package's line ----
if [ "${COLOC_INSTALLED:-0}" = 1 ]; then
	sed "s|^PlugStackConfig=.*|PlugStackConfig=${COLOC_PLUGSTACK:-/etc/slurm/plugstack.conf}|" "$SLURM_CONF" >"$dir/slurm-pkg.conf"
	chmod 644 "$dir/slurm-pkg.conf"
	o=$(SLURM_CONF=$dir/slurm-pkg.conf srun --help 2>&1)
	check "installed: ${COLOC_PLUGSTACK:-/etc/slurm/plugstack.conf} loads the plugin (srun --help lists the 9 [faas] options)" \
		'[ "$(echo "$o" | grep -c "\[faas\]")" = 9 ]' "$o"
	o=$(as_user nobody env SLURM_CONF="$dir/slurm-pkg.conf" PATH="$PATH" srun -n1 --faas-workers=0 echo LAUNCHED 2>&1)
	check "installed: with the optional line, a refused --faas-workers=0 still stops srun" \
		'! echo "$o" | grep -q LAUNCHED && echo "$o" | grep -q "expected a whole number"' "$o"
fi

# ---- the options, on the submit side ----
check "srun --help lists the 9 [faas] options" '[ "$(srun --help 2>&1 | grep -c "\[faas\]")" = 9 ]' \
	"$(srun --help 2>&1 | grep faas)"
bad() { # args... ; expected message is the last argument
	local want=${*: -1} args=("${@:1:$#-1}") o
	o=$(as_nobody srun -n1 "${args[@]}" echo LAUNCHED 2>&1)
	check "srun ${args[*]} is refused: $want" \
		'! echo "$o" | grep -q LAUNCHED && echo "$o" | grep -q -- "$want"' "$o"
}
bad --faas-workers=0 "expected a whole number from 1 to 4096"
bad --faas-workers=2 "needs --faas-lib"
bad --faas-workers=1 --faas-lib=/nonexistent.so "No such file"
bad --faas-workers=1 --faas-lib="$LIB" --faas-mem=12Q "expected a size per worker"
bad --faas-workers=1 --faas-lib="$LIB" --faas-time=0 "expected minutes"
bad --faas-gpus=1 "has no use without --faas-workers"
bad --faas-host-mem=lots "expected a size like 4G"
bad --faas-remote-mem=1K "1K is too small: give a size"
bad --faas-remote-mem=16M --faas-workers=1 --faas-lib="$LIB" "a step has one"
o=$(as_nobody env FAAS_WORKERS=x srun -n1 echo LAUNCHED 2>&1)
check "FAAS_WORKERS=x in the environment is refused, naming the variable" \
	'! echo "$o" | grep -q LAUNCHED && echo "$o" | grep -q "FAAS_WORKERS=x"' "$o"
o=$(as_nobody sbatch --faas-workers=0 --wrap true 2>&1)
check "sbatch refuses --faas-workers=0 at submission" \
	'! echo "$o" | grep -q "Submitted" && echo "$o" | grep -q "expected a whole number"' "$o"
o=$(as_nobody srun -n1 --faas-workers=1 --faas-lib="$LIB" echo LAUNCHED 2>&1)
check "with no host job lending (LendUnallocated=no), --faas-workers fails before launch: ENOSPC" \
	'! echo "$o" | grep -q LAUNCHED && echo "$o" | grep -q "ENOSPC"' "$o"

# ---- a host job on st1 lends its idle core, memory and GPUs ----
hostjob=$(as_nobody sbatch --parsable -w st1 -n1 -c2 --mem=1000M --gres=gpu:2 --faas-host --faas-host-mem=400M \
	-o "$out/host.out" --wrap "
touch $out/host.started
for i in \$(seq 600); do [ -e $out/host.step ] && break; sleep 0.1; done
srun -n1 -c2 --mem=100M --gres=gpu:2 sh -c 'ls -d /sys/fs/cgroup/cpuset/coloc_st1/lease-* > $out/step.saw 2>&1; echo ran > $out/step.ran'
for i in \$(seq 600); do [ -e $out/host.end ] && break; sleep 0.1; done")
check "the host job starts on st1 and reports itself: st1 lends one core, 600 MiB, 2 GPUs" \
	'wait_ok "[ -e $out/host.started ] && gap st1 | grep -q \"\\\"lendable\\\":\\\"1\\\",.*\\\"mem\\\":629145600,\\\"gpus\\\":2\""' \
	"$(gap st1)"
check "no other node lends anything" '! gap st2 | grep -q "\"lendable\":\"[0-9]" && ! gap st3 | grep -q "\"lendable\":\"[0-9]"' \
	"$(colocctl gaps)"

# ---- a lease through srun, computed on st1's idle core ----
o=$(as_nobody srun -w st2 -n1 --faas-workers=1 --faas-lib="$LIB" --faas-mem=300M sh -c \
	'echo $SLURM_JOB_ID > '"$out"'/client.job; colocctl leases --json > '"$out"'/during.json; '"$BS_CLIENT"' --options 20000' 2>&1)
check "srun --faas-workers=1 on st2: its task computes Black-Scholes on the lease, no mismatch" \
	'echo "$o" | grep -q "^mismatches  *0"' "$o"
lid=$(grep -o '"id":"lease-[^"]*","uid":'"$nobody"',"state":"ready"' "$out/during.json" | field id)
check "meanwhile the lease was ready on st1's idle core 1, as nobody" \
	'[ -n "$lid" ] && grep -q "\"id\":\"$lid\",[^}]*\"node\":\"st1\",[^}]*\"cpus\":\"1\"" "$out/during.json"' \
	"$(cat "$out/during.json")"
check "srun's exit released it" 'lease_of "$lid" | grep -q "\"state\":\"released\""' "$(lease_of "$lid")"
rec() { colocctl usage --records --json | grep -o "{\"id\":\"$1\"[^}]*}"; }
cjob=$(cat "$out/client.job" 2>/dev/null)
check "its usage record names the client job $cjob, host job $hostjob (nobody's) on st1, released" \
	'wait_ok "rec $lid | grep -q released" && rec "$lid" | grep -q "\"uid\":$nobody,\"user\":\"nobody\",\"job\":$cjob,\"host_jobs\":\"$hostjob:$nobody:1\",\"node\":\"st1\",\"cores\":1,.*\"state\":\"released\""' \
	"$(rec "$lid")"
check "st1's agent keeps it too, in StateDir/usage.jsonl" \
	'grep -q "\"id\":\"$lid\"" "$tb"/state/colocd-st1/usage.jsonl' "$(ls "$tb"/state 2>&1)"
check "nobody, the host job's owner, sees it with colocctl usage --host-job $hostjob" \
	'as_nobody colocctl usage --host-job "$hostjob" --by lease --json | grep -q "\"group\":\"$lid\""' \
	"$(as_nobody colocctl usage --host-job "$hostjob" --by lease --json 2>&1)"
check "slurmd logged spank_faas.so's version when it loaded it" \
	'grep -q "spank_faas: spank_faas.so of coloc [0-9][0-9.]* loaded" "$tb"/log/slurmd-st1.log' \
	"$(grep -i spank "$tb"/log/slurmd-st1.log 2>&1 | head -3)"

# ---- a memory lease through srun, on st1's lent memory headroom ----
# (the client that fills the region is a test program, rmem_check: on the
# installed packages, where it is not, the task only lists the leases)
if [ -n "${RMEM_CHECK:-}" ] && [ -x "$RMEM_CHECK" ]; then
	o=$(as_nobody srun -w st2 -n1 --faas-remote-mem=16M sh -c \
		'colocctl leases --json > '"$out"'/mem.json; '"$RMEM_CHECK"' fill 3' 2>&1)
	check "srun --faas-remote-mem=16M on st2: its task writes and reads the region (FAAS_LEASE)" \
		'echo "$o" | grep -q "ok filled 16777216"' "$o"
else
	o=$(as_nobody srun -w st2 -n1 --faas-remote-mem=16M sh -c \
		'colocctl leases --json > '"$out"'/mem.json; test -n "$FAAS_LEASE"' 2>&1)
	rc=$?
	check "srun --faas-remote-mem=16M on st2: its task gets FAAS_LEASE (no rmem_check here to fill the region)" \
		'[ $rc = 0 ]' "$o"
fi
mid=$(grep -o '"id":"lease-[^"]*","uid":'"$nobody"',"state":"ready"' "$out/mem.json" | field id)
check "meanwhile the memory lease was ready on st1, holding no core" \
	'[ -n "$mid" ] && grep -q "\"id\":\"$mid\",[^}]*\"node\":\"st1\",[^}]*\"workers\":0" "$out/mem.json"' \
	"$(cat "$out/mem.json")"
check "srun's exit released it" 'lease_of "$mid" | grep -q "\"state\":\"released\""' "$(lease_of "$mid")"

# ---- sbatch: the options reach the sruns of the batch script ----
# (bounded by 60 s: a job that finds st3 still busy waits for Slurm's next
# scheduling pass)
sbid=$(as_nobody sbatch --parsable -w st3 -n1 --faas-workers=1 --faas-lib="$LIB" --faas-mem=300M \
	-o "$out/sb.out" --wrap "srun $BS_CLIENT --options 5000")
for _ in $(seq 600); do grep -qs "^mismatches  *0" "$out/sb.out" && break; sleep 0.1; done
check "sbatch --faas-workers: the batch script's srun gets a lease and computes" \
	'grep -qs "^mismatches  *0" $out/sb.out' \
	"$(cat "$out/sb.out" 2>&1; scontrol show job "$sbid" 2>&1 | grep -E "JobState|Reason|NodeList")"

# ---- a lent GPU, then the host step takes core and GPUs back ----
as_nobody srun -w st2 -n1 --faas-workers=1 --faas-lib="$LIB" --faas-mem=300M --faas-gpus=1 \
	sh -c 'echo "$FAAS_LEASE" > '"$out"'/held.json; sleep 60' >"$out/held.out" 2>&1 &
bgpids+=($!)
wait_ok "[ -s $out/held.json ]"
hid=$(field id <"$out/held.json")
hx=$(field pid <"$out/held.json")
cuda=$(tr '\0' '\n' <"/proc/$hx/environ" 2>/dev/null | sed -n 's/^CUDA_VISIBLE_DEVICES=//p')
devs=$(cat /sys/fs/cgroup/devices/coloc_st1/"$hid"/devices.list 2>/dev/null)
check "a lease with --faas-gpus=1 runs on st1 with one of the host job's GPUs (devices c 195:$cuda)" \
	'[ -n "$hx" ] && { [ "$cuda" = 0 ] || [ "$cuda" = 1 ]; } && echo "$devs" | grep -q "^c 195:$cuda "' \
	"pid=$hx cuda=$cuda devs=$devs"
touch "$out/host.step"
check "the host job's step that needs both cores and GPUs runs" 'wait_ok "[ -e $out/step.ran ]"'
check "its task saw no executor cgroup on st1: no core shared with an executor" \
	'[ -e "$out/step.saw" ] && ! grep -q "^/sys" "$out/step.saw"' "$(cat "$out/step.saw")"
check "the lease was evicted before, its executor gone, and the controller says why" \
	'gone $hx && wait_ok "lease_of $hid | grep -q \"\\\"state\\\":\\\"evicted\\\".*host job or step\""' \
	"$(lease_of "$hid")"

# ---- job end: no executor left ----
as_nobody srun -w st2 -n1 --faas-workers=1 --faas-lib="$LIB" --faas-mem=300M \
	sh -c 'echo "$FAAS_LEASE" > '"$out"'/last.json; sleep 60' >"$out/last.out" 2>&1 &
bgpids+=($!)
wait_ok "[ -s $out/last.json ]"
lx=$(field pid <"$out/last.json")
check "after the step, the host job lends its core again (a new lease on st1)" \
	'[ -n "$lx" ] && kill -0 $lx && [ -n "$(cg st1)" ]' "$(head -c 200 "$out/last.json" 2>&1)"
touch "$out/host.end"
check "the host job ends: its node agent evicts the lease, no executor cgroup is left on st1" \
	'gone $lx && wait_ok "[ -z \"\$(cg st1)\" ]"' "$(cg st1)"

# ---- a job allocated onto lent unallocated cores takes them back ----
sed -i 's/^LendUnallocated=.*/LendUnallocated=yes/' "$COLOC_CONF"
for f in "$tb"/run/colocd-st*.pid; do kill -HUP "$(cat "$f")"; done
colocctl drain st1 >/dev/null && colocctl drain st2 >/dev/null
wait_ok 'gap st3 | grep -q "\"lendable\":\"0-1\""'
o=$(as_nobody colocctl lease acquire --workers 2 --lib "$LIB" --json 2>&1)
check "LendUnallocated=yes (SIGHUP): a lease of 2 workers gets st3's unallocated cores" \
	'echo "$o" | grep -q "\"type\":\"lease\"" && [ "$(lease_of "$(echo "$o" | field id)" | field node)" = st3 ]' "$o"
ux=$(echo "$o" | field pid)
colocctl resume st1 >/dev/null && colocctl resume st2 >/dev/null
o=$(as_nobody srun -w st3 -n1 -c2 sh -c 'ls -d /sys/fs/cgroup/cpuset/coloc_st3/lease-* 2>&1; echo ran' 2>&1)
check "a job allocated onto them starts only after the executor is gone (its task sees no lease cgroup)" \
	'echo "$o" | grep -q "^ran" && ! echo "$o" | grep -q "^/sys" && gone $ux' "$o"
sed -i 's/^LendUnallocated=.*/LendUnallocated=no/' "$COLOC_CONF"
for f in "$tb"/run/colocd-st*.pid; do kill -HUP "$(cat "$f")"; done

# ---- colocd down: host jobs run, client jobs fail fast ----
for p in "${bgpids[@]}"; do kill "$p" 2>/dev/null; done
wait_ok '[ -z "$(squeue -h)" ] && [ "$(sinfo -h -t idle -o %D)" = 3 ]'
cpid=$(cat "$tb/run/colocd-controller.pid")
apid=$(cat "$tb/run/colocd-st1.pid")
kill "$cpid" "$apid"
gone "$cpid" && gone "$apid"
t0=$(date +%s%N)
o=$(as_nobody srun -w st3 -n1 --faas-workers=1 --faas-lib="$LIB" echo LAUNCHED 2>&1)
ms=$((($(date +%s%N) - t0) / 1000000))
check "controller down: srun --faas-workers fails in ${ms} ms before launch, saying colocd is not running" \
	'! echo "$o" | grep -q LAUNCHED && echo "$o" | grep -q "colocd is not running" && [ $ms -lt 10000 ]' "$o"
o=$(as_nobody srun -w st1 -n1 --faas-host echo host-ran 2>&1)
check "st1's node agent down: a host job on st1 runs normally" 'echo "$o" | grep -q "^host-ran"' "$o"
o=$(as_nobody sbatch -w st1 -n1 --faas-host -o "$out/down.out" --wrap 'echo batch-ran' 2>&1)
check "and a batch job too" 'wait_ok "grep -qs batch-ran $out/down.out"' "$o $(cat "$out/down.out" 2>&1)"

if [ $failed != 0 ]; then
	for f in "$tb"/log/colocd-*.log; do sed "s/^/# $(basename "$f"): /" "$f" | tail -40; done
fi
echo "1..$n"
[ $failed = 0 ]
