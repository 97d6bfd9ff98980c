#!/bin/bash
# shellcheck disable=SC2016 # check's conditions are evaluated later, by eval
# Runs in the booted Debian 13 guest (coloc-guest-check.service, a unit
# with Delegate=yes, after munge, slurmctld, slurmd and colocd started), its
# output on the serial console: the sandbox's tests and colocd.sh against
# real cgroup v2, then Slurm 24.11 with cgroup/v2 and colocd from its unit:
# a host job lending a core, a lease on it, where both live in the
# hierarchy. Ends with the line cgroup2-qemu.sh looks for and powers off.
set -u
build=/opt/coloc/build
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1 # ${2:-}"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
until_ok() { # tries interval cmd
	local i
	for ((i = 0; i < $1; i++)); do eval "$3" && return 0; sleep "$2"; done
	return 1
}
finish() {
	local kv slurm
	kv=$(uname -r)
	slurm=$(sinfo -V 2>/dev/null | awk '{print $2}')
	if [ "$failed" = 0 ] && [ "$n" -gt 0 ]; then
		echo "cgroup2: ok slurm=$slurm kernel=$kv tests=$n"
	else
		echo "cgroup2: FAILED $failed of $n slurm=$slurm kernel=$kv"
	fi
	sync
	systemctl poweroff --force --force
}
trap finish EXIT

echo "guest: $(uname -r), systemd $(systemctl --version | awk 'NR==1 {print $2}'), $(sinfo -V), up $(cut -d' ' -f1 /proc/uptime) s"
check "the unified hierarchy is mounted at /sys/fs/cgroup (systemd as init)" \
	'[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && [ "$(cat /proc/1/comm)" = systemd ]'

# -- this unit's cgroup: the tests' processes move into a leaf, so that
# the unit's cgroup (delegated) can enable controllers for sandboxes
self=$(sed -n 's/^0:://p' /proc/self/cgroup)
mkdir -p "/sys/fs/cgroup$self/runner"
echo $$ >"/sys/fs/cgroup$self/runner/cgroup.procs"
echo "guest: the tests run in $self/runner"

# -- the sandbox's tests and colocd.sh, from coloc's build tree
# emulated (TCG) cores are ten or more times slower: calls get 10 s, not 1
export FAAS_TIMEOUT_MS=10000 COLOC_TEST_FAAS_TIMEOUT_MS=10000
for t in sandbox.sh colocd.sh; do
	make -C "$build/tests/integration" check TESTS="$t" >"/tmp/$t.make" 2>&1
	rc=$?
	grep -E "^(ok|not ok)" "$build/tests/integration/$t.log" | sed "s/^/# $t: /"
	if [ $rc = 0 ] && grep -q "^ok" "$build/tests/integration/$t.log" && ! grep -q "^not ok" "$build/tests/integration/$t.log"; then
		ok "$t against cgroup v2 ($(grep -c '^ok' "$build/tests/integration/$t.log") cases)"
	else
		log=$build/tests/integration/$t.log
		grep -E "^# colocd\| .*(warning|error)" "$log" | tail -40 | sed 's/^/#   /'
		# everything the daemon said about the leases of failed cases
		grep -E "^# colocd\| .* (released|evicted|expired)" "$log" | tail -8 | sed 's/^/#   /'
		grep "^not ok" "$log" | grep -o "lease-[0-9]*-[0-9a-f]*" | sort -u | while read -r id; do
			grep "^# colocd| .*$id" "$log" | sed 's/^/#   /'
		done
		not_ok "$t against cgroup v2" "see its log"
	fi
done

# -- Slurm with cgroup/v2 and colocd from its unit
for u in munge slurmctld slurmd colocd; do
	check "systemd started $u.service" "until_ok 60 1 'systemctl is-active -q $u.service'" \
		"$(journalctl -b -u "$u.service" --no-pager -o cat 2>&1 | tail -8)"
done
check "slurmd registered the node idle" "until_ok 60 1 'sinfo -h -o %T | grep -q idle'" "$(sinfo 2>&1)"
colocd_cg=$(systemctl show -P ControlGroup colocd.service)
check "colocd runs in a leaf below its own delegated cgroup $colocd_cg" \
	'grep -qx "0::$colocd_cg/[a-z]*" /proc/$(systemctl show -P MainPID colocd.service)/cgroup' \
	"$(cat /proc/"$(systemctl show -P MainPID colocd.service)"/cgroup)"

started=$(journalctl -b -u colocd.service --no-pager -o cat | grep -m1 'executors in cgroup')
check "colocd's log says it uses cgroup v2 below its unit's cgroup" \
	'echo "$started" | grep -q "below /sys/fs/cgroup$colocd_cg (cgroup v2)"' "$started"

# -- a host job lending a core, a lease on it, Slurm's cgroups beside coloc's
lib=$(find /usr/lib -path '*coloc/functions/faas_examples.so' | head -1)
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
mkdir -p /tmp/out && chmod 777 /tmp/out
job=$(cd /tmp/out && as_nobody sbatch --parsable --faas-host --faas-host-mem=128M -c2 --mem=512M -t 10 \
	-o /tmp/out/host.out --wrap 'echo "end=$SLURM_JOB_END_TIME"; sleep 600')
running() { [ "$(squeue -h -j "$job" -o %T)" = RUNNING ]; }
check "sbatch --faas-host: host job $job runs" 'until_ok 60 1 running' \
	"$(squeue 2>&1; tail -5 /var/log/slurm/slurmctld.log)"
check "the job's environment has SLURM_JOB_END_TIME (Slurm >= 23.02)" \
	"until_ok 20 0.5 'grep -q ^end=[0-9] /tmp/out/host.out'" "$(cat /tmp/out/host.out 2>&1)"
end=$(sed -n 's/^end=//p' /tmp/out/host.out)
# slurmstepd.scope, or NODE_slurmstepd.scope where Slurm is built with
# --enable-multiple-slurmd (Debian's is)
jobcg=$(find /sys/fs/cgroup/system.slice -maxdepth 2 -type d -path "*slurmstepd.scope/job_$job" | head -1)
check "Slurm's job cgroup is system.slice/[NODE_]slurmstepd.scope/job_$job (${jobcg#/sys/fs/cgroup/})" \
	'[ -n "$jobcg" ] && [ -d "$jobcg/step_batch" ]' \
	"$(ls /sys/fs/cgroup/system.slice/slurmstepd.scope 2>&1; grep -h . /proc/"$(pgrep -n -f 'sleep 600')"/cgroup;
	   grep -i cgroup /var/log/slurm/slurmd.log | tail -8)"
gap_until() { colocctl gaps --json | grep -q "\"until\":$end"; }
check "the gap of its idle core lasts until the job's end ($end)" 'until_ok 30 0.5 gap_until' \
	"$(colocctl gaps --json 2>&1)"
long=$(cd /tmp && as_nobody colocctl lease acquire --workers 1 --lib "$lib" --time 60 --json 2>&1)
check "a 60-minute lease is refused: the host job ends within 10 (the gap's end named)" \
	'! echo "$long" | grep -q "\"type\":\"lease\"" && echo "$long" | grep -q "until"' "$long"
doc=$(cd /tmp && as_nobody colocctl lease acquire --workers 1 --lib "$lib" --time 5 --json 2>&1)
lid=$(echo "$doc" | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
check "a 5-minute lease on the host job's idle core is granted" '[ -n "$lid" ]' "$doc"
exp=$(colocctl leases --json | grep -o "{\"id\":\"$lid\"[^}]*" | grep -o '"expires":[0-9]*' | cut -d: -f2)
check "the lease ends by the host job's end (expires $exp, job ends $end)" \
	'[ -n "$exp" ] && [ -n "$end" ] && [ "$exp" -le "$end" ]' "$(colocctl leases --json)"
lcg=$(find /sys/fs/cgroup/system.slice/colocd.service -maxdepth 3 -type d -name "lease-*" | head -1)
check "the lease's cgroup is below colocd.service's delegated cgroup, not Slurm's" \
	'[ -n "$lcg" ] && [ -n "$(cat "$lcg/cgroup.procs")" ]' "$(find /sys/fs/cgroup/system.slice -maxdepth 3 -type d 2>&1 | head -20)"
check "the lease's cgroup: cpuset, memory (no swap, OOM kills the group) and pids set" \
	'[ -n "$lcg" ] && [ -n "$(cat "$lcg/cpuset.cpus")" ] && [ "$(cat "$lcg/memory.swap.max")" = 0 ] &&
	 [ "$(cat "$lcg/memory.oom.group")" = 1 ] && [ "$(cat "$lcg/memory.max")" != max ]' \
	"$(grep . "$lcg"/cpuset.cpus "$lcg"/memory.max "$lcg"/memory.swap.max "$lcg"/memory.oom.group "$lcg"/pids.max 2>&1)"
bcpus=$(cat "$jobcg/step_batch/cpuset.cpus.effective" 2>/dev/null)
check "the executor's core is not the batch step's ($(cat "$lcg/cpuset.cpus" 2>/dev/null) vs $bcpus)" \
	'[ -n "$bcpus" ] && [ "$(cat "$lcg/cpuset.cpus")" != "$bcpus" ]'
bs_client=$(find /usr/lib -path '*coloc/examples/faas-bs-client' | head -1)
res=$(FAAS_LEASE=$doc FAAS_ADDR=127.0.0.1 timeout 120 "$bs_client" --options 2000 2>&1)
xpid=$(echo "$doc" | grep -o '"pid":[0-9]*' | head -1 | cut -d: -f2)
check "a client computes through the lease (Black-Scholes, no mismatch)" \
	'echo "$res" | grep -q "^mismatches  *0"' "$res
$(colocctl logs "$lid" 2>&1 | tail -15)
$(ps -Lo pid,tid,psr,stat,cls,pcpu,comm -p "$xpid" 2>&1)
$(grep -E "State|Cpus_allowed_list" /proc/"$xpid"/status 2>&1)
$(journalctl -b -u colocd.service --no-pager -o cat | tail -8)"
# a step needing both the job's cores takes the lent one back
(cd /tmp/out && as_nobody timeout 60 srun --jobid="$job" -c2 -n1 true >/tmp/out/step.out 2>&1)
evicted() { colocctl leases --json | grep -q "\"id\":\"$lid\",[^}]*\"state\":\"evicted\""; }
check "a host step needing both cores evicts the lease first" 'until_ok 20 0.5 evicted' \
	"$(colocctl leases --json; cat /tmp/out/step.out)"
scancel "$job"
no_lease_cg() { [ -z "$(find /sys/fs/cgroup/system.slice/colocd.service -type d -name 'lease-*')" ]; }
check "the job's end leaves no lease cgroup" 'until_ok 30 0.5 no_lease_cg'
